# packages.sh: shared by scripts/demo and scripts/test: installs the Debian packages a step
# needs, or says exactly how to. Source it; call need_packages PKG...

# What building downcase needs (Debian 12 / Ubuntu names); scdoc makes the man page (optional
# to meson: without it the page is not built). libnats-dev (3.4.1): the NATS C client behind the
# sub's --forward into JetStream, driven by our libuv loop (optional to meson: without it
# --forward says it was not built in).
BUILD_PACKAGES="gcc libc6-dev pkg-config meson ninja-build libzmq3-dev libuv1-dev node-llhttp libutf8proc-dev scdoc libnats-dev"
# What the test suites need on top: Debian's Python with pyzmq and h11 (the tests' ZeroMQ peer
# and strict HTTP client), valgrind, curl, tzdata (a local-time log test); prometheus for
# promtool, the standard validator of /metrics; the 'ops' suite's logrotate, systemd
# (systemd-analyze on the units), strace (the daemon's system calls against the units' filters)
# and groff-base (the man page renders without warnings).
# procps: /bin/kill, which the sub's unit runs to reload (systemd-analyze verify checks it
# exists), and sysctl for the network suite; minimal images lack it.
# nats-server (2.9.10, JetStream): the real server test_forward and the network suite's
# three-node cluster start, to forward into and read back from; openssl makes the certificate
# of its TLS test.
TEST_PACKAGES="python3 python3-zmq python3-h11 valgrind curl tzdata prometheus logrotate systemd strace groff-base procps nats-server openssl"
# The browser suite (tests/browser): the live view in Debian's headless Chromium, driven by its
# WebDriver (chromium-driver) from python3-selenium; no browser is downloaded. The live view's
# reverse-proxy test (tests/integration/test_stream_nginx.py) needs nginx (nginx-light).
BROWSER_PACKAGES="chromium chromium-driver python3-selenium nginx-light"
# The container suite (tests/container): podman with runc (crun fails on cgroup-hybrid hosts),
# netavark + aardvark-dns + iptables (container networks, names, published ports: only
# recommended, so --no-install-recommends would leave them out), buildah, debootstrap and the
# archive keyring (the Debian base images), podman-compose (compose.yaml). The Containerfile's
# linter also needs npm (any on PATH; scripts/test installs Debian's if there is none).
CONTAINER_PACKAGES="podman buildah runc netavark aardvark-dns iptables debootstrap debian-archive-keyring podman-compose"
# What scripts/fuzz needs: clang with libFuzzer's runtime (a mere recommendation of clang's, so
# --no-install-recommends leaves it out) and llvm-symbolizer for readable crash reports.
FUZZ_PACKAGES="clang libclang-rt-14-dev llvm"
# What scripts/coverage needs: gcovr (reads gcc's --coverage data; line and branch figures per
# file, and a JSON summary the script prints from).
COVERAGE_PACKAGES="gcovr"
# The network suite (root only): namespaces and links (iproute2), partitions and loss
# (nftables), delay through NFQUEUE (iptables), the HTTP load balancer of the scale-out test.
NETWORK_PACKAGES="iproute2 nftables iptables nginx-light"
# What scripts/package needs on top of BUILD_PACKAGES: dpkg-buildpackage (dpkg-dev) with
# debhelper (dh with meson, sysusers, tmpfiles and systemd helpers), fakeroot when not root,
# systemd (its pkg-config file names the unit directory) and lintian, which checks the result.
DEB_PACKAGES="dpkg-dev debhelper fakeroot systemd lintian"
# The system suite (root only) on top of DEB_PACKAGES: systemd-nspawn (systemd-container)
# boots a Debian 12 made by debootstrap with the archive keyring, with systemd as PID 1, and
# nsenter (util-linux) runs commands inside it.
SYSTEM_PACKAGES="systemd-container debootstrap debian-archive-keyring util-linux"
# What scripts/bench needs on top (not scripts/test): load generator, the nginx peer, CPU
# pinning (util-linux), callgrind, and the JetStream server the forward section measures
# against (nats-server). Node.js and npm are handled by scripts/bench itself.
BENCH_PACKAGES="python3 wrk nginx util-linux valgrind nats-server"

need_packages() {
    local missing=()
    local p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "downcase: missing packages: ${missing[*]} (no apt-get here: install them by hand)" >&2
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "downcase: missing packages; run:" >&2
        echo "    sudo apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    echo "downcase: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || return 1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || return 1
}
