"""lib: what the container tests share: a podman of their own (test-owned containers.conf and
image store, never /etc), the Debian base images made with debootstrap, and small helpers.

The store lives in $DOWNCASE_CONTAINER_CACHE (default /var/tmp/downcase-container-test), so the
base images and build layers survive between runs and the user's own images are never touched.
Every podman object the tests make has a fixed name starting with "downcase-test", removed at
start (a killed earlier run leaves them behind) and at the end.

A test that cannot run here exits 77 (meson: skipped) with the reason on stdout; a test that
runs and finds a fault exits 1. Nothing is ever reported as passed without having run."""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import testmain  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.normpath(os.path.join(HERE, "..", ".."))
CACHE = os.environ.get("DOWNCASE_CONTAINER_CACHE", "/var/tmp/downcase-container-test")
# Run-time state (locks, mounts) belongs on tmpfs; one directory per store.
RUNROOT = "/run/downcase-container-test" + (
    "" if "DOWNCASE_CONTAINER_CACHE" not in os.environ
    else "-" + hashlib.sha1(CACHE.encode()).hexdigest()[:8])
IMAGE = "localhost/downcase-test:latest"
# Bumped when the recipe below changes, so cached base images are remade.
BASE_RECIPE = "downcase-base-1"
SKIP = 77
T0 = time.monotonic()


def say(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def skip(reason):
    """Skips the test (testmain.skip: exit 77 outside unittest, SkipTest inside)."""
    testmain.skip(reason)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    say("ok: " + msg)


def run(args, timeout=120, check_rc=True, env=None, input=None, quiet=False):
    """Runs a command; returns CompletedProcess with text output. A non-zero status (when
    check_rc) or a timeout fails the test, showing the command and its output."""
    if not quiet:
        say("$ " + " ".join(args))
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                           env=env, input=input, stdin=None if input else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        fail("timed out after %ss: %s\n%s%s" % (timeout, " ".join(args), e.stdout or "",
                                                e.stderr or ""))
    if check_rc and p.returncode != 0:
        fail("exit %d: %s\nstdout:\n%s\nstderr:\n%s" % (p.returncode, " ".join(args),
                                                        p.stdout[-4000:], p.stderr[-4000:]))
    return p


def podman(*args, timeout=120, check_rc=True, quiet=False):
    return run(["podman"] + list(args), timeout=timeout, check_rc=check_rc, quiet=quiet)


def setup_podman():
    """Checks that this machine can have containers at all (else exits 77) and points podman
    at the suite's configuration and store through the environment."""
    if sys.platform != "linux":
        skip("containers need Linux")
    for tool in ["podman", "debootstrap"]:
        if shutil.which(tool) is None:
            skip("%s is not installed (scripts/test installs podman, buildah, runc and "
                 "debootstrap when run as root)" % tool)
    if os.geteuid() != 0:
        skip("needs root: the suite does not set up rootless podman (subuids, user namespaces)")
    os.makedirs(CACHE, exist_ok=True)
    storage_conf = os.path.join(CACHE, "storage.conf")
    with open(storage_conf, "w") as f:
        f.write('[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n'
                % (os.path.join(CACHE, "storage"), RUNROOT))
    # tests/container/containers.conf plus the paths of this store: libpod's run-time files
    # and network definitions would otherwise go to /run/libpod and /etc/containers/networks.
    with open(os.path.join(HERE, "containers.conf")) as f:
        conf = f.read()
    conf = conf.replace("[engine]\n", '[engine]\ntmp_dir = "%s"\n'
                        % os.path.join(RUNROOT, "libpod"))
    conf += '\n[network]\nnetwork_config_dir = "%s"\n' % os.path.join(CACHE, "networks")
    os.makedirs(os.path.join(CACHE, "networks"), exist_ok=True)
    containers_conf = os.path.join(CACHE, "containers.conf")
    with open(containers_conf, "w") as f:
        f.write(conf)
    os.environ["CONTAINERS_CONF"] = containers_conf
    os.environ["CONTAINERS_STORAGE_CONF"] = storage_conf
    p = podman("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Store.GraphRoot}}",
               check_rc=False, timeout=60)
    if p.returncode != 0:
        skip("podman cannot run here: " + (p.stderr.strip().splitlines() or ["?"])[-1])
    say("podman: " + p.stdout.strip())


def apt_sources():
    """The Debian mirror and security archive apt already uses here: (mirror, security or
    None). Read from /etc/apt/sources.list and sources.list.d (one-line and deb822)."""
    entries = []  # (uri, [suites])
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*")):
        try:
            text = open(path).read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in text.split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.startswith((" ", "#")):
                        k, _, v = line.partition(":")
                        fields[k.strip().lower()] = v.split()
                if "deb" in fields.get("types", []):
                    for uri in fields.get("uris", []):
                        entries.append((uri, fields.get("suites", [])))
        else:
            for line in text.splitlines():
                words = line.split()
                if words and words[0] == "deb":
                    words = [w for w in words[1:] if not w.startswith("[")]
                    if len(words) >= 2:
                        entries.append((words[0], [words[1]]))
    mirror = next((u for u, s in entries if "bookworm" in s), None)
    security = next((u for u, s in entries if "bookworm-security" in s), None)
    return mirror or "http://deb.debian.org/debian", security


def base_images():
    """Makes localhost/debian:bookworm and :bookworm-slim with debootstrap unless images of this
    recipe exist (their label says which recipe made them)."""
    want = {"bookworm": False, "bookworm-slim": True}
    todo = []
    for tag in want:
        p = podman("image", "inspect", "--format", '{{index .Labels "org.downcase.base"}}',
                   "localhost/debian:" + tag, check_rc=False, quiet=True)
        if p.returncode != 0 or p.stdout.strip() != BASE_RECIPE:
            todo.append(tag)
    if not todo:
        say("base images cached (%s)" % BASE_RECIPE)
        return
    mirror, security = apt_sources()
    rootfs = os.path.join(CACHE, "rootfs")
    shutil.rmtree(rootfs, ignore_errors=True)
    say("debootstrap bookworm from %s" % mirror)
    log = os.path.join(CACHE, "debootstrap.log")
    with open(log, "w") as f:
        try:
            rc = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", rootfs, mirror],
                                stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                timeout=900).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    if rc != 0:
        fail("debootstrap failed (%s); its log: %s" % (rc, log))
    # apt inside the images uses the same archives as the host, as deb822 like Debian's images.
    sources = ("Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n"
               "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" % mirror)
    if security:
        sources += ("\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n"
                    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" % security)
    os.remove(os.path.join(rootfs, "etc/apt/sources.list"))
    with open(os.path.join(rootfs, "etc/apt/sources.list.d/debian.sources"), "w") as f:
        f.write(sources)
    for pattern in ["var/cache/apt/archives/*.deb", "var/cache/apt/*.bin",
                    "var/lib/apt/lists/*"]:
        for path in glob.glob(os.path.join(rootfs, pattern)):
            os.remove(path) if os.path.isfile(path) else shutil.rmtree(path)
    for tag in ["bookworm", "bookworm-slim"]:
        if want[tag]:
            slim(rootfs)
        if tag in todo:
            say("podman import localhost/debian:" + tag)
            tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
            p = subprocess.run(["podman", "import", "--change", "LABEL org.downcase.base=" +
                                BASE_RECIPE, "--change", 'CMD ["bash"]', "-",
                                "localhost/debian:" + tag], stdin=tar.stdout,
                               capture_output=True, text=True, timeout=300)
            tar.stdout.close()
            if tar.wait() != 0 or p.returncode != 0:
                fail("podman import localhost/debian:%s failed: %s" % (tag, p.stderr))
    shutil.rmtree(rootfs, ignore_errors=True)


def slim(rootfs):
    """What Debian's -slim images leave out (docs but their copyright files, man pages,
    translations), and the dpkg configuration that keeps it out of later installs."""
    excludes = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/groff/*",
                "/usr/share/info/*", "/usr/share/lintian/*", "/usr/share/linda/*",
                "/usr/share/locale/*"]
    with open(os.path.join(rootfs, "etc/dpkg/dpkg.cfg.d/docker-slim"), "w") as f:
        for e in excludes:
            f.write("path-exclude %s\n" % e)
            if e == "/usr/share/doc/*":
                f.write("path-include /usr/share/doc/*/copyright\n")
    for e in excludes:
        for path in glob.glob(rootfs + e):
            if e == "/usr/share/doc/*" and os.path.isdir(path):
                for name in os.listdir(path):
                    if name != "copyright":
                        sub = os.path.join(path, name)
                        shutil.rmtree(sub) if os.path.isdir(sub) and not os.path.islink(
                            sub) else os.remove(sub)
                continue
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) \
                else os.remove(path)


def build_image(tag=IMAGE):
    """Builds the Containerfile into tag (docker format: OCI images cannot carry HEALTHCHECK);
    --pull=never, so no registry is ever asked."""
    t = time.monotonic()
    podman("build", "--pull=never", "--format", "docker", "-f",
           os.path.join(SRCDIR, "Containerfile"), "-t", tag, SRCDIR, timeout=1500)
    say("image built in %.1f s" % (time.monotonic() - t))
    # Dangling layers of older builds; today's stay as the build cache.
    podman("image", "prune", "-f", "--filter", "until=24h", check_rc=False, quiet=True)


def published_port(container, port):
    """The host port podman chose for container's `port` (published with an empty or 0 host
    port, so the kernel picks a free one: never a port found free and bound later)."""
    out = podman("port", container, "%d/tcp" % port, quiet=True).stdout.strip()
    host, _, num = out.splitlines()[0].rpartition(":")
    check(host == "127.0.0.1" and num.isdigit(), "podman port %s %d: %r" % (container, port, out))
    return int(num)


def http_get(url, timeout=5):
    """(status, body text), or (None, reason) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.2)


def inspect(name, fmt):
    return podman("inspect", "--format", fmt, name, quiet=True).stdout.strip()


def inspect_json(name, fmt):
    return json.loads(inspect(name, "{{json %s}}" % fmt))
