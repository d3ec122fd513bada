# packages.sh: shared by scripts/demo and scripts/test: installs the Debian packages a step
# needs, or says exactly how to. Source it; call need_packages PKG...

# What building downcase needs (Debian 12 / Ubuntu names).
BUILD_PACKAGES="gcc libc6-dev pkg-config meson ninja-build libzmq3-dev libuv1-dev node-llhttp libutf8proc-dev"
# What the test suites need on top: Debian's Python with pyzmq and h11 (the tests' ZeroMQ peer
# and strict HTTP client), valgrind, curl, tzdata (a local-time log test).
TEST_PACKAGES="python3 python3-zmq python3-h11 valgrind curl tzdata"
# What scripts/bench needs on top (not scripts/test): load generator, the nginx peer, CPU
# pinning (util-linux), callgrind. Node.js and npm are handled by scripts/bench itself.
BENCH_PACKAGES="python3 wrk nginx util-linux valgrind"

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
