"""The Debian package's services under a real systemd (syslib says how the guest is made).

In one booted Debian 12: the .deb installs with apt and leaves both services disabled and
stopped; `systemctl enable --now` starts them; curl on the pub answers and the sub's log has the
line; journalctl shows both daemons' start-up lines; `systemctl reload downcase-sub` reopens the
log; the shipped /etc/logrotate.d/downcase, run with `logrotate -f` five times under a steady
stream of requests, loses and duplicates nothing; the units' sandbox lets each service write
only to its own directories; `systemd-analyze security` rates both running units at most
MAX_EXPOSURE; SIGKILL brings a service back through Restart=; flags written to
/etc/default/downcase-pub apply at the next restart; `systemctl stop` returns within
STOP_SECONDS with exit status 0. Every request goes to 127.0.0.1 inside the guest."""

import gzip
import os
import re
import subprocess
import sys
import tempfile
import time

import syslib
from syslib import check, fail, say

MAX_EXPOSURE = 1.5
STOP_SECONDS = 2.0
ROTATIONS = 5
PER_FILE = 100  # streamed lines the live log must hold before each rotation
LOG = "/var/log/downcase/subscriber.log"
UNITS = ["downcase-pub", "downcase-sub"]
LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (.*)$")
# The unit settings a transient probe copies: all of [Service] but how to run and restart.
NOT_SANDBOX = {"Type", "ExecStart", "ExecReload", "Environment", "EnvironmentFile",
               "TimeoutStopSec", "Restart", "RestartSec", "RestartPreventExitStatus"}
PROBED = ["/srv/downcase-probe", "/etc", "/usr/local", "/var/lib", "/var/cache", "/var/log",
          "/var/log/downcase", "/var/spool", "/opt", "/tmp", "/var/tmp", "/dev/shm",
          "/dev/mqueue", "/dev/hugepages", "/run", "/run/lock", "/home", "/root"]
PROBE_FILE = ".downcase-write-probe"


def curl(g, text, check_rc=True):
    p = g.run(["curl", "-sS", "--max-time", "5", "http://127.0.0.1:5000/downcase/?param=" + text],
              check_rc=check_rc, quiet=True)
    return p.stdout


def log_messages(g, path=LOG):
    """The messages of a log file in the guest (None when it does not exist); every line must
    be a timestamped one."""
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(g.host(path), "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    out = []
    for line in lines:
        m = LINE.match(line)
        if not m:
            fail("%s: a line that is not a timestamped message: %r" % (path, line))
        out.append(m.group(1).decode())
    return out


def install(g):
    t = time.monotonic()
    g.apt("install", "-y", g.deb_rel)
    say("apt install took %.1f s" % (time.monotonic() - t))
    user = g.run(["getent", "passwd", "downcase"], quiet=True).stdout.strip().split(":")
    check(len(user) == 7 and 0 < int(user[2]) < 1000 and user[5] == "/nonexistent",
          "the package made a system user downcase (%s)" % ":".join(user))
    st = os.stat(g.host("/var/log/downcase"))
    check((st.st_uid, st.st_gid, st.st_mode & 0o7777) == (int(user[2]), int(user[3]), 0o750),
          "/var/log/downcase exists, owned by downcase, mode 0750")
    for unit in UNITS:
        state = g.run(["systemctl", "is-enabled", unit], check_rc=False, quiet=True).stdout
        active = g.run(["systemctl", "is-active", unit], check_rc=False, quiet=True).stdout
        check((state.strip(), active.strip()) == ("disabled", "inactive"),
              "%s is installed disabled and stopped" % unit)
    conffiles = g.run(["dpkg-query", "-W", "-f=${Conffiles}", "downcase"], quiet=True).stdout
    check(sorted(line.split()[0] for line in conffiles.strip().splitlines()) ==
          ["/etc/default/downcase-pub", "/etc/default/downcase-sub", "/etc/logrotate.d/downcase"],
          "the conffiles are the two flags files and the logrotate file")
    return int(user[2])


def start(g, uid):
    t = time.monotonic()
    g.run(["systemctl", "enable", "--now"] + UNITS)
    say("systemctl enable --now took %.1f s" % (time.monotonic() - t))
    for unit in UNITS:
        s = g.show(unit, "ActiveState", "UnitFileState", "MainPID")
        check((s["ActiveState"], s["UnitFileState"]) == ("active", "enabled"),
              "%s is enabled and active" % unit)
        owner = g.run(["stat", "-c", "%u", "/proc/" + s["MainPID"]], quiet=True).stdout.strip()
        check(owner == str(uid), "%s runs as the downcase user (uid %s)" % (unit, owner))
    # The pub may still be binding when enable returns (Type=exec): retry refused connections.
    p = g.run(["curl", "-sS", "--max-time", "5", "--retry", "20", "--retry-connrefused",
               "--retry-delay", "1", "http://127.0.0.1:5000/downcase/?param=HeLLo"])
    check(p.stdout == "lower case of HeLLo is hello", "curl on the pub answers: " + p.stdout)
    # PUB/SUB has no beginning: probe until the sub's subscription has reached the pub.
    deadline = time.monotonic() + 30
    i = 0
    while not any(m.startswith("lower case of warm-up") for m in log_messages(g) or []):
        if time.monotonic() > deadline:
            fail("the sub never logged a warm-up request")
        i += 1
        curl(g, "warm-up-%d" % i)
        time.sleep(0.1)
    curl(g, "HeLLo-Systemd")
    syslib.wait_for(lambda: "lower case of HeLLo-Systemd is hello-systemd" in log_messages(g),
                    10, "the line in the sub's log")
    st = os.stat(g.host(LOG))
    check((st.st_uid, st.st_mode & 0o777) == (uid, 0o640),
          "the sub's log has the line, timestamped; the file is downcase's, mode 0640")
    pub, sub = g.journal("downcase-pub"), g.journal("downcase-sub")
    for text, journal, unit in [("downcase[pub]: zmq bind tcp://[::]:4444", pub, "downcase-pub"),
                                ("downcase[pub]: http listening on 0.0.0.0:5000", pub,
                                 "downcase-pub"),
                                ("downcase[sub]: zmq connect tcp://127.0.0.1:4444", sub,
                                 "downcase-sub"),
                                ("downcase[sub]: logging to %s (text)" % LOG, sub, "downcase-sub"),
                                ("downcase[sub]: peer tcp://127.0.0.1:4444 up", sub,
                                 "downcase-sub")]:
        check(text in journal, "journalctl -u %s shows '%s'" % (unit, text))


def reload(g):
    os.rename(g.host(LOG), g.host(LOG + ".moved"))
    before = len(log_messages(g, LOG + ".moved"))
    t = time.monotonic()
    g.run(["systemctl", "reload", "downcase-sub"])
    say("systemctl reload took %.2f s" % (time.monotonic() - t))
    curl(g, "after-reload")
    syslib.wait_for(lambda: "lower case of after-reload is after-reload" in (log_messages(g) or []),
                    10, "the line after the reload in the new log")
    check(log_messages(g) == ["lower case of after-reload is after-reload"] and
          len(log_messages(g, LOG + ".moved")) == before,
          "systemctl reload downcase-sub reopened the log: the next line is in a new file")
    check("downcase[sub]: SIGHUP: reopened " + LOG in g.journal("downcase-sub"),
          "the journal says the sub reopened its log")
    os.remove(g.host(LOG + ".moved"))


def logrotate(g, tmp):
    """The shipped file, with `logrotate -f`, under a steady stream: every message in exactly
    one of subscriber.log, .1, .2.gz ... (the ops suite checks the same outside systemd)."""
    stop = os.path.join(tmp, "stop")
    stream = subprocess.Popen(g.net_argv(["/usr/bin/python3", os.path.join(syslib.HERE,
                                                                           "stream.py"),
                                          "5000", "stream", stop, "200000", "180"]),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def streamed(path=LOG):
        return sum(m.startswith("lower case of stream-") for m in log_messages(g, path) or [])

    try:
        for k in range(ROTATIONS):
            syslib.wait_for(lambda: streamed() >= PER_FILE or stream.poll() is not None, 60,
                            "streamed lines in the live log before rotation %d" % (k + 1))
            if stream.poll() is not None:
                fail("the stream stopped: " + stream.stdout.read())
            p = g.run(["logrotate", "-f", "/etc/logrotate.d/downcase"], check_rc=False,
                      quiet=True)
            if (p.returncode, p.stderr) != (0, ""):
                fail("logrotate -f exited %d: %s%s" % (p.returncode, p.stdout, p.stderr))
        syslib.wait_for(lambda: streamed() >= PER_FILE, 60, "lines after the last rotation")
    finally:
        open(stop, "w").close()
        try:
            out, _ = stream.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            stream.kill()
            out, _ = stream.communicate()
    m = re.fullmatch(r"sent (\d+)\n", out)
    if stream.returncode != 0 or not m:
        fail("the stream failed (exit %d): %s" % (stream.returncode, out))
    sent = int(m.group(1))
    files = [LOG, LOG + ".1"] + ["%s.%d.gz" % (LOG, n) for n in range(2, ROTATIONS + 1)]
    # The sub's state (subscriber.log.state) lives beside the log and is not rotated.
    check(sorted(os.listdir(g.host("/var/log/downcase"))) ==
          sorted([os.path.basename(f) for f in files] + [os.path.basename(LOG) + ".state"]),
          "%d rotations by the shipped logrotate file: %s" % (ROTATIONS, ", ".join(
              os.path.basename(f) for f in files)))
    syslib.wait_for(lambda: sum(streamed(f) for f in files) >= sent, 20, "every message logged")
    per_file = [[m for m in log_messages(g, f) if m.startswith("lower case of stream-")]
                for f in files]
    every = [m for found in per_file for m in found]
    expected = ["lower case of stream-%06d is stream-%06d" % (i, i) for i in range(sent)]
    check(all(per_file) and len(every) == len(set(every)) and sorted(every) == expected,
          "%d messages streamed, each in exactly one file (per file, newest first: %s)"
          % (sent, [len(f) for f in per_file]))


def unit_sandbox(g, unit):
    """The [Service] settings of the installed unit that are not about running or restarting."""
    props, section = [], None
    with open(g.host("/lib/systemd/system/%s.service" % unit)) as f:
        text = re.sub(r"\\\n\s*", " ", f.read())
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        key = line.split("=", 1)[0]
        if section == "[Service]" and key not in NOT_SANDBOX:
            props.append(line)
    return props


def probe(g, props, name):
    """Runs a shell as a transient service with props that tries to create a file in each of
    PROBED; returns ({dir: error or "written"}, [dirs where the file is visible afterwards to
    the rest of the system]), and removes those files."""
    script = ("for d in %s; do if err=$( (: > \"$d/%s\") 2>&1 ); then echo \"$d|written\"; "
              "else echo \"$d|${err##*: }\"; fi; done" % (" ".join(PROBED), PROBE_FILE))
    argv = ["systemd-run", "--wait", "--pipe", "--quiet", "--unit=" + name]
    for p in props:
        argv += ["-p", p]
    p = g.run(argv + ["/bin/sh", "-c", script], timeout=60)
    result = dict(line.split("|", 1) for line in p.stdout.splitlines())
    visible = g.sh("for d in %s; do [ -e \"$d/%s\" ] && echo \"$d\" && rm -f \"$d/%s\"; done; "
                   "true" % (" ".join(PROBED), PROBE_FILE, PROBE_FILE), quiet=True)
    return result, visible.stdout.split()


def sandbox(g):
    # A directory outside the services' own that their user may write: only the sandbox can
    # refuse it.
    g.run(["install", "-d", "-o", "downcase", "-g", "downcase", "/srv/downcase-probe"])
    written, visible = probe(g, ["User=downcase", "Group=downcase"], "probe-control")
    check(written["/srv/downcase-probe"] == "written" and
          {"/srv/downcase-probe", "/tmp", "/var/tmp", "/dev/shm", "/run/lock"} <= set(visible),
          "without the sandbox the downcase user writes to /srv/downcase-probe, /tmp, /var/tmp, "
          "/dev/shm, /run/lock (the probe can see a write)")
    own = {"downcase-pub": set(), "downcase-sub": {"/var/log/downcase"}}
    for unit in UNITS:
        written, visible = probe(g, unit_sandbox(g, unit), "probe-" + unit)
        say("%s's sandbox: %s" % (unit, ", ".join("%s %s" % kv for kv in written.items())))
        # /tmp and /var/tmp are the service's own (PrivateTmp=), /dev/mqueue its own IPC
        # namespace's (PrivateIPC=): what is written there is gone with the service.
        check({d for d, r in written.items() if r == "written"} ==
              own[unit] | {"/tmp", "/var/tmp", "/dev/mqueue"} and set(visible) == own[unit],
              "%s, sandboxed as its unit, writes only to %s" % (
                  unit, ", ".join(sorted(own[unit] | {"its private /tmp, /var/tmp, /dev/mqueue"}))))
        check(written["/srv/downcase-probe"] == "Read-only file system",
              "%s's sandbox refuses a directory its user owns: Read-only file system" % unit)
    g.run(["rmdir", "/srv/downcase-probe"], quiet=True)
    # The running services themselves: their mount namespaces have / read-only and only their
    # own directories writable.
    for unit in UNITS:
        pid = g.show(unit, "MainPID")["MainPID"]
        mounts = g.run(["cat", "/proc/%s/mountinfo" % pid], quiet=True).stdout.splitlines()
        rw = sorted(line.split()[4] for line in mounts if "rw" in line.split()[5].split(","))
        root_ro = any(line.split()[4] == "/" and "ro" in line.split()[5].split(",")
                      for line in mounts)
        say("%s (pid %s) read-write mounts: %s" % (unit, pid, " ".join(rw)))
        check(root_ro and ("/var/log/downcase" in rw) == (unit == "downcase-sub") and
              "/dev/shm" not in rw and "/run/lock" not in rw,
              "the running %s has / read-only%s, /dev/shm and /run/lock read-only" % (
                  unit, ", /var/log/downcase writable" if unit == "downcase-sub" else ""))


def security(g):
    for unit in UNITS:
        p = g.run(["systemd-analyze", "security", "--no-pager", unit + ".service"], quiet=True)
        m = re.search(r"Overall exposure level for %s\.service: (\d+\.\d+)" % unit, p.stdout)
        if not m:
            fail("no exposure level in: " + p.stdout[-2000:])
        check(float(m.group(1)) <= MAX_EXPOSURE,
              "systemd-analyze security %s.service on the running system: %s (at most %.1f)"
              % (unit, m.group(1), MAX_EXPOSURE))


def kill_and_restart(g):
    for unit in UNITS:
        before = g.show(unit, "MainPID", "NRestarts")
        g.run(["systemctl", "kill", "-s", "KILL", unit])
        t = time.monotonic()
        after = syslib.wait_for(
            lambda: (lambda s: s if s["ActiveState"] == "active" and s["MainPID"] not in (
                "0", before["MainPID"]) else None)(g.show(unit, "MainPID", "NRestarts",
                                                         "ActiveState")),
            20, "%s to come back after SIGKILL" % unit)
        check(int(after["NRestarts"]) == int(before["NRestarts"]) + 1,
              "systemctl kill -s KILL %s: Restart= brought it back after %.1f s (pid %s -> %s)"
              % (unit, time.monotonic() - t, before["MainPID"], after["MainPID"]))
    out = syslib.wait_for(lambda: curl(g, "after-kill-0", check_rc=False), 10,
                          "the restarted pub to answer")
    check(out == "lower case of after-kill-0 is after-kill-0", "the restarted pub answers")
    # The restarted sub subscribes anew: requests until one reaches its log.
    deadline = time.monotonic() + 20
    i = 0
    while not any(m.startswith("lower case of after-kill-") for m in log_messages(g)):
        if time.monotonic() > deadline:
            fail("the restarted sub never logged")
        i += 1
        curl(g, "after-kill-%d" % i)
        time.sleep(0.1)
    say("ok: the restarted sub logs again")


def flags(g):
    """The operator's way to change flags: /etc/default/downcase-pub, then a restart."""
    with open(g.host("/etc/default/downcase-pub"), "a") as f:
        f.write('DOWNCASE_PUB_OPTS="--listen=127.0.0.1:5000 --bind=tcp://127.0.0.1:4444"\n')
    g.run(["systemctl", "restart", "downcase-pub"])
    journal = syslib.wait_for(
        lambda: (lambda j: j if "downcase[pub]: http listening on 127.0.0.1:5000" in j else None)(
            g.journal("downcase-pub")), 20, "the pub to listen on 127.0.0.1")
    check("downcase[pub]: zmq bind tcp://127.0.0.1:4444" in journal,
          "flags from /etc/default/downcase-pub after systemctl restart: the pub listens and "
          "binds on 127.0.0.1")
    out = syslib.wait_for(lambda: curl(g, "Flags", check_rc=False), 10, "the pub to answer")
    check(out == "lower case of Flags is flags", "the pub with the new flags answers")


def stop(g):
    for unit in UNITS:
        t = time.monotonic()
        g.run(["systemctl", "stop", unit])
        took = time.monotonic() - t
        s = g.show(unit, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        check(took <= STOP_SECONDS, "systemctl stop %s returned in %.2f s (at most %.1f)"
              % (unit, took, STOP_SECONDS))
        # ExecMainCode 1 is CLD_EXITED: the daemon exited by itself, not by a signal.
        check((s["ActiveState"], s["Result"], s["ExecMainCode"], s["ExecMainStatus"]) ==
              ("inactive", "success", "1", "0"),
              "%s stopped with exit status 0 (ExecMainStatus=%s)" % (unit, s["ExecMainStatus"]))


def main():
    syslib.setup()
    deb = syslib.package()
    root = syslib.rootfs(deb)
    with tempfile.TemporaryDirectory(prefix="downcase-system-") as tmp, \
            syslib.Guest(root, deb) as g:
        uid = install(g)
        start(g, uid)
        reload(g)
        logrotate(g, tmp)
        sandbox(g)
        security(g)
        kill_and_restart(g)
        flags(g)
        stop(g)
    say("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
