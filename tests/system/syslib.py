"""syslib: what the system suite shares. The Debian package built from this checkout by
scripts/package; a Debian 12 root file system made by debootstrap and kept between runs; and
a guest booted from it under systemd-nspawn with systemd as PID 1, that commands enter with
nsenter.

The guest has a network of its own (`--private-network`: a loopback device and nothing else),
so every request a test makes goes to 127.0.0.1 inside it, and the package's services, which
listen on every interface by default, are reachable from nowhere else. It boots from an overlay
over the cached root file system, so each guest starts from the same state and nothing it
writes survives it. The recipe is the one measured in the project's notes on these machines:
nspawn in a cgroup of its own, `--register=no --keep-unit` (no systemd on the host), the unified
cgroup hierarchy and the bpf capability so that the units' eBPF directives apply.

The root file system is made once per recipe (debootstrap, about 90 s) in $DOWNCASE_SYSTEM_CACHE
(default /var/tmp/downcase-system-test); it holds the package's run-time dependencies too, read
from the .deb, so that apt inside the guest, which has no network, installs it from the file
alone. The package itself is rebuilt when a source file changed (a hash of them names it).

A test that cannot run here (not root, a tool missing, no cgroup layout the recipe knows) exits
77, skipped, with the reason; under CI=true it fails instead, since CI must run this suite.
Every object a test makes (mounts, cgroups, the nspawn process) carries this process's id and
is removed at the end, or at the next start when a killed run left it behind."""

import fcntl
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD_ROOT = os.environ.get("DOWNCASE_BUILD_ROOT", os.path.join(SRCDIR, "build"))
CACHE = os.environ.get("DOWNCASE_SYSTEM_CACHE", "/var/tmp/downcase-system-test")
# Bumped when the debootstrap recipe below changes, so a cached root file system is remade.
ROOTFS_RECIPE = "downcase-systemd-1"
# systemd as PID 1, and what the tests run inside: /bin/kill for the sub's ExecReload= (procps),
# curl for requests, logrotate for the shipped file. The package's own dependencies are added.
BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus", "procps", "curl", "logrotate"]
NAME_PREFIX = "downcase-systest-"
SKIP = 77
T0 = time.monotonic()
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def say(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    say("ok: " + msg)


def unavailable(reason):
    """This machine cannot run the suite: skipped, but a failure in CI."""
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        fail("CI=true and the system suite cannot run: " + reason)
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)


def run(args, timeout=120, check_rc=True, quiet=False, **kw):
    """Runs a command; returns CompletedProcess with text output. A non-zero status (when
    check_rc) or a timeout fails the test, showing the command and its output."""
    if not quiet:
        say("$ " + " ".join(args))
    try:
        p = subprocess.run(args, capture_output=True, text=True, errors="replace",
                           timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    except subprocess.TimeoutExpired as e:
        fail("timed out after %ss: %s\n%s%s" % (timeout, " ".join(args), e.stdout or "",
                                                e.stderr or ""))
    if check_rc and p.returncode != 0:
        fail("exit %d: %s\nstdout:\n%s\nstderr:\n%s" % (p.returncode, " ".join(args),
                                                        p.stdout[-4000:], p.stderr[-4000:]))
    return p


def wait_for(pred, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def tool(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        unavailable("%s is not installed (scripts/test installs SYSTEM_PACKAGES from "
                    "scripts/lib/packages.sh when run as root)" % name)
    return path


def cgroup_roots():
    """The cgroup directories a guest's cgroup is made in: the named systemd hierarchy and the
    unified one on a hybrid host (the layout measured here), or the unified root alone."""
    if os.path.isdir("/sys/fs/cgroup/unified") and os.path.isdir("/sys/fs/cgroup/systemd"):
        return ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return ["/sys/fs/cgroup"]
    return None


def setup_package(under_wrapper=False):
    """Checks that this machine can build the package, else exits (see unavailable)."""
    if sys.platform != "linux":
        unavailable("Debian packages are built on Linux")
    if os.environ.get("DOWNCASE_WRAPPER") and not under_wrapper:
        # The package is built by dpkg-buildpackage, not by this build, so a wrapper such as
        # valgrind would change nothing the suite tests; the plain run covers it.
        print("SKIP: the system suite tests the package, not this build's binary: it runs "
              "without the valgrind setup", flush=True)
        sys.exit(SKIP)
    for name in ["dpkg-buildpackage", "dh", "lintian", "dpkg-deb", "git"]:
        tool(name)


def setup():
    """Checks that this machine can build the package and boot a guest, else exits (see
    unavailable)."""
    setup_package()
    if os.geteuid() != 0:
        unavailable("needs root: it installs packages, mounts an overlay and boots a guest")
    for name in ["systemd-nspawn", "debootstrap", "nsenter", "mount"]:
        tool(name)
    if cgroup_roots() is None:
        unavailable("no cgroup layout the recipe knows (hybrid with a unified hierarchy, or "
                    "unified)")
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            unavailable("the kernel has no overlay file system")
    os.makedirs(CACHE, exist_ok=True)
    clean_leftovers()
    # meson's timeout sends SIGTERM: unwind, so that the guest is shut down and its mount and
    # cgroups removed (nspawn runs in a session of its own, out of reach of meson's kill).
    signal.signal(signal.SIGTERM, lambda signum, frame: fail("terminated (SIGTERM)"))


class Lock:
    """An exclusive lock on a file: one debootstrap or package build at a time."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.f = open(self.path, "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


# --- the package ------------------------------------------------------------------------------

def source_files():
    """The checkout's files as scripts/package copies them (tracked, plus new ones not ignored)."""
    p = run(["git", "-C", SRCDIR, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            quiet=True)
    return sorted(f for f in p.stdout.split("\0") if f and os.path.lexists(
        os.path.join(SRCDIR, f)))


def source_hash():
    """What names a build of the package: every source file but this suite's own, which the
    binary package does not contain or depend on (editing a test need not rebuild it)."""
    h = hashlib.sha256()
    for rel in source_files():
        if rel.startswith("tests/system/"):
            continue
        path = os.path.join(SRCDIR, rel)
        h.update(rel.encode() + b"\0")
        if os.path.islink(path):
            h.update(b"link:" + os.readlink(path).encode())
        else:
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def package():
    """The .deb of this checkout: built by scripts/package (which also runs lintian and checks
    the version) unless a build of the very same sources is there. Returns its path."""
    out = os.path.join(BUILD_ROOT, "system-deb")
    os.makedirs(out, exist_ok=True)
    with Lock(os.path.join(out, "lock")):
        digest = source_hash()
        stamp = os.path.join(out, "sources")
        debs = glob.glob(os.path.join(out, "downcase_*.deb"))
        if len(debs) == 1 and os.path.exists(stamp) and open(stamp).read() == digest:
            say("package of these sources already built: " + debs[0])
            return debs[0]
        if os.path.exists(stamp):
            os.remove(stamp)
        t = time.monotonic()
        p = run([os.path.join(SRCDIR, "scripts", "package"), out], timeout=1200, check_rc=False)
        if p.returncode != 0:
            fail("scripts/package failed (exit %d):\n%s" % (p.returncode, p.stderr[-6000:]))
        deb = p.stdout.strip().splitlines()[-1]
        say("scripts/package built %s in %.1f s" % (deb, time.monotonic() - t))
        with open(stamp, "w") as f:
            f.write(digest)
        return deb


def deb_field(deb, field):
    return run(["dpkg-deb", "-f", deb, field], quiet=True).stdout.strip()


def deb_dependencies(deb):
    """The packages apt would install with the .deb: Depends and Recommends, the first of each
    set of alternatives, without versions."""
    names = []
    for field in ["Depends", "Recommends"]:
        for item in deb_field(deb, field).split(","):
            first = item.split("|")[0].strip()
            if first:
                names.append(re.sub(r"[\s(:].*", "", first))
    return sorted(set(names))


# --- the root file system ---------------------------------------------------------------------

def apt_mirror():
    """The Debian mirror apt already uses here (deb822 or one-line sources)."""
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            for stanza in f.read().split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.startswith((" ", "#")):
                        k, _, v = line.partition(":")
                        fields[k.strip().lower()] = v.split()
                if "deb" in fields.get("types", []) and "bookworm" in fields.get("suites", []):
                    return fields["uris"][0]
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            lines = open(path).read().splitlines()
        except OSError:
            continue
        for line in lines:
            words = [w for w in line.split() if not w.startswith("[")]
            if len(words) >= 3 and words[0] == "deb" and words[2] == "bookworm":
                return words[1]
    return "http://deb.debian.org/debian"


def rootfs(deb):
    """The cached root file system for this recipe and the package's dependencies, made with
    debootstrap when absent. Returns its path."""
    packages = sorted(set(BASE_PACKAGES) | set(deb_dependencies(deb)))
    key = hashlib.sha256((ROOTFS_RECIPE + " " + " ".join(packages)).encode()).hexdigest()[:12]
    path = os.path.join(CACHE, "rootfs-" + key)
    with Lock(os.path.join(CACHE, "rootfs.lock")):
        if os.path.exists(os.path.join(path, ".downcase-recipe")):
            say("root file system cached: %s (%s)" % (path, " ".join(packages)))
            return path
        for old in glob.glob(os.path.join(CACHE, "rootfs-*")):  # other recipes: disk space
            shutil.rmtree(old, ignore_errors=True)
        mirror = apt_mirror()
        tmp = path + ".new"
        shutil.rmtree(tmp, ignore_errors=True)
        log = os.path.join(CACHE, "debootstrap.log")
        # The downloaded packages stay, so that a new recipe need not fetch them again.
        debs = os.path.join(CACHE, "debs")
        os.makedirs(debs, exist_ok=True)
        say("debootstrap bookworm from %s with %s (log: %s)" % (mirror, ",".join(packages), log))
        t = time.monotonic()
        with open(log, "w") as f:
            try:
                rc = subprocess.run(["debootstrap", "--variant=minbase", "--cache-dir=" + debs,
                                     "--include=" + ",".join(packages), "bookworm", tmp, mirror],
                                    stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    timeout=1200).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        if rc != 0:
            fail("debootstrap failed (%s); its log: %s" % (rc, log))
        # The guest has no network: apt's lists and downloads are of no use there.
        for pattern in ["var/cache/apt/archives/*.deb", "var/cache/apt/*.bin",
                        "var/lib/apt/lists/*"]:
            for p in glob.glob(os.path.join(tmp, pattern)):
                os.remove(p) if os.path.isfile(p) else shutil.rmtree(p)
        with open(os.path.join(tmp, ".downcase-recipe"), "w") as f:
            f.write("%s %s\n" % (ROOTFS_RECIPE, " ".join(packages)))
        os.rename(tmp, path)
        say("root file system made in %.1f s: %s" % (time.monotonic() - t, path))
        return path


# --- the guest --------------------------------------------------------------------------------

def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def remove_cgroup(path):
    """Kills what is left in a cgroup a guest of ours ran in, then removes it depth-first."""
    for root, dirs, _ in os.walk(path, topdown=False):
        try:
            with open(os.path.join(root, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(50):
            try:
                os.rmdir(root)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def clean_leftovers():
    """What a killed run left behind: its guest's cgroups (and what still runs in them), its
    overlay mount and directory. Only objects named after a process that is gone are touched."""
    for root in cgroup_roots() or []:
        for path in glob.glob(os.path.join(root, NAME_PREFIX + "*")):
            pid = int(path.rsplit("-", 1)[1])
            if not pid_alive(pid):
                say("removing the leftover cgroup " + path)
                remove_cgroup(path)
    # nspawn's own directory for a guest, which it removes unless it was killed.
    for path in glob.glob("/run/systemd/nspawn/propagate/" + NAME_PREFIX + "*"):
        if not pid_alive(int(path.rsplit("-", 1)[1])):
            shutil.rmtree(path, ignore_errors=True)
    for run_dir in glob.glob(os.path.join(CACHE, "run-*")):
        pid = int(run_dir.rsplit("-", 1)[1])
        if pid_alive(pid):
            continue
        merged = os.path.join(run_dir, "root")
        if mounted(merged):
            subprocess.run(["umount", "-l", merged], check=False)
        say("removing the leftover " + run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


class Guest:
    """A Debian 12 booted with systemd as PID 1 from an overlay over the cached root file
    system, with the .deb copied to /srv/downcase-test. Use as a context manager."""

    DEB_DIR = "/srv/downcase-test"

    def __init__(self, rootfs_path, deb):
        self.lower = rootfs_path
        self.deb_src = deb
        self.name = NAME_PREFIX + str(os.getpid())
        self.dir = os.path.join(CACHE, "run-%d" % os.getpid())
        self.root = os.path.join(self.dir, "root")
        self.cgroups = [os.path.join(r, self.name) for r in cgroup_roots()]
        self.nspawn = None
        self.pid = None
        self.console = os.path.join(self.dir, "console.log")

    def __enter__(self):
        try:
            self.boot()
        except BaseException:
            self.shutdown()
            raise
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def boot(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in ["upper", "work", "root"]:
            os.makedirs(os.path.join(self.dir, d))
        run(["mount", "-t", "overlay", "overlay", "-o",
             "lowerdir=%s,upperdir=%s,workdir=%s" % (self.lower, os.path.join(self.dir, "upper"),
                                                     os.path.join(self.dir, "work")),
             self.root], quiet=True)
        deb_dir = self.host(self.DEB_DIR)
        os.makedirs(deb_dir, mode=0o755)
        self.deb = os.path.join(self.DEB_DIR, os.path.basename(self.deb_src))
        self.deb_rel = "./" + os.path.basename(self.deb_src)
        shutil.copy(self.deb_src, self.host(self.deb))
        os.chmod(self.host(self.deb), 0o644)
        for cg in self.cgroups:
            os.makedirs(cg, exist_ok=True)
        # The shell moves itself into the guest's cgroups, then becomes systemd-nspawn.
        moves = "".join('echo $$ > "%s/cgroup.procs" && ' % cg for cg in self.cgroups)
        argv = ["systemd-nspawn", "--quiet", "-D", self.root, "--boot",
                "--machine=" + self.name, "--register=no", "--keep-unit",
                "--console=passive", "--private-network", "--system-call-filter=bpf",
                "--capability=CAP_BPF"]
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        say("boot: " + " ".join(argv))
        t = time.monotonic()
        with open(self.console, "w") as console:
            self.nspawn = subprocess.Popen(["sh", "-c", moves + 'exec "$@"', "sh"] + argv,
                                           stdin=subprocess.DEVNULL, stdout=console,
                                           stderr=subprocess.STDOUT, env=env,
                                           start_new_session=True)
        self.pid = wait_for(self.find_systemd, 30, "the guest's systemd to start")
        # Until the guest's systemd has set up its private socket, systemctl cannot ask it.
        deadline = time.monotonic() + 120
        while True:
            p = self.run(["systemctl", "is-system-running", "--wait"], timeout=120,
                         check_rc=False, quiet=True)
            state = p.stdout.strip()
            if state in ("running", "degraded") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if state not in ("running", "degraded"):
            fail("the guest did not boot: %s %s\n%s" % (state, p.stderr, self.console_tail()))
        if state == "degraded":
            failed = self.run(["systemctl", "--failed", "--no-legend"], quiet=True).stdout
            say("guest degraded (failed units: %s)" % " ".join(failed.split()))
        say("guest %s booted in %.1f s (%s; its systemd is pid %d here)"
            % (self.name, time.monotonic() - t, state, self.pid))

    def console_tail(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def find_systemd(self):
        """The guest's PID 1 as the host sees it: a descendant of nspawn named systemd."""
        if self.nspawn.poll() is not None:
            fail("systemd-nspawn exited %d:\n%s" % (self.nspawn.returncode, self.console_tail()))
        children = {}
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    text = f.read()
            except OSError:
                continue
            comm = text[text.index("(") + 1:text.rindex(")")]
            ppid = int(text[text.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append((int(stat.split("/")[2]), comm))
        todo = [self.nspawn.pid]
        while todo:
            for pid, comm in children.get(todo.pop(), []):
                if comm == "systemd":
                    return pid
                todo.append(pid)
        return None

    def host(self, guest_path):
        """The host's path of a file in the guest's persistent file system (not /run, /tmp)."""
        return os.path.join(self.root, guest_path.lstrip("/"))

    def run(self, argv, timeout=60, check_rc=True, quiet=False, env=None):
        """Runs argv inside the guest (every namespace, a clean environment)."""
        genv = ["PATH=" + GUEST_PATH, "LANG=C.UTF-8", "SYSTEMD_PAGER=cat", "SYSTEMD_COLORS=0",
                "DEBIAN_FRONTEND=noninteractive"] + ["%s=%s" % kv for kv in (env or {}).items()]
        if not quiet:
            say("guest$ " + " ".join(argv))
        return run(["nsenter", "-t", str(self.pid), "-a", "--", "env", "-i"] + genv + argv,
                   timeout=timeout, check_rc=check_rc, quiet=True)

    def apt(self, *args, timeout=300):
        """apt as the README tells operators to run it, from the .deb's directory (so that
        `apt install ./downcase_VERSION_ARCH.deb` is the very command)."""
        return self.run(["sh", "-c", 'cd "$0" && exec apt "$@"', self.DEB_DIR] + list(args),
                        timeout=timeout)

    def sh(self, script, **kw):
        return self.run(["sh", "-c", script], **kw)

    def net_argv(self, argv):
        """argv run by the host in the guest's network namespace only: host programs (the
        tests' Python) talking to the guest's 127.0.0.1."""
        return ["nsenter", "-t", str(self.pid), "-n", "--"] + argv

    def show(self, unit, *props):
        """{property: value} from systemctl show."""
        p = self.run(["systemctl", "show", unit] + ["-p" + p for p in props], quiet=True)
        return dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)

    def journal(self, unit):
        return self.run(["journalctl", "--no-pager", "-o", "cat", "-u", unit],
                        quiet=True).stdout

    def shutdown(self):
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.pid:
                self.run(["systemctl", "poweroff"], check_rc=False, quiet=True, timeout=20)
            try:
                self.nspawn.wait(30)
            except subprocess.TimeoutExpired:
                say("systemd-nspawn still running 30 s after poweroff: killing it")
                os.killpg(self.nspawn.pid, signal.SIGKILL)
                self.nspawn.wait(10)
        for cg in self.cgroups:
            remove_cgroup(cg)
        shutil.rmtree("/run/systemd/nspawn/propagate/" + self.name, ignore_errors=True)
        if mounted(self.root):
            subprocess.run(["umount", self.root], check=False)
            if mounted(self.root):
                subprocess.run(["umount", "-l", self.root], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
