"""Install, remove and purge the Debian package twice in one booted Debian 12 (syslib says how
the guest is made), and compare the file system with what it was before the first install.

Each cycle installs the .deb with apt, starts both services and has a message logged, then
`apt remove` (services stopped, the program gone, the configuration and the log kept) and
`apt purge`. After each purge the file system must equal the one from before the first
install but for NOISE (apt's, dpkg's, journald's and systemd's own records) and the user
database, which keeps the downcase user: Debian's helpers never remove a system user
(systemd-sysusers has no removal), and the second install must find and reuse it. The log goes
with the purge (Debian Policy 10.8: logs are removed on purge, not on remove)."""

import hashlib
import os
import re
import stat
import sys
import time

import syslib
from syslib import check, fail, say

UNITS = ["downcase-pub", "downcase-sub"]
LOG = "/var/log/downcase/subscriber.log"
CONFFILES = ["/etc/default/downcase-pub", "/etc/default/downcase-sub", "/etc/logrotate.d/downcase"]
# Not looked at: mount points of the running guest (their contents are not on disk), and the
# .deb the test brought in.
SKIP_TREES = ["proc", "sys", "dev", "run", "tmp", "srv/downcase-test"]
# What changes on any Debian system as packages come and go and time passes, whatever the
# package: apt's and dpkg's records and logs, the dynamic linker's cache (apt runs ldconfig),
# journald's files, and systemd's own state (timers' stamps, its random seed). The package's own
# traces in them (dpkg's info files, deb-systemd-helper's state) are checked separately.
NOISE = re.compile(r"^(var/lib/dpkg/|var/lib/apt/|var/cache/apt/|var/cache/debconf/|"
                   r"var/log/apt/|var/log/dpkg\.log|var/log/alternatives\.log|"
                   r"var/cache/ldconfig/|etc/ld\.so\.cache$|var/log/journal/|var/lib/systemd/"
                   r"(timers|random-seed|catalog)|var/tmp/systemd-private-)")
# The user database: the downcase user and group stay after a purge.
USERDB = {"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/passwd-", "etc/group-",
          "etc/shadow-", "etc/gshadow-"}


def snapshot(g):
    """{path: (type and mode, owner, group, content digest or link target)} of the guest's file
    system as it is on disk."""
    out = {}
    root = g.root
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = [d for d in dirs if (rel_dir + d) not in SKIP_TREES]
        for name in dirs + files:
            rel = rel_dir + name
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(path)
            else:
                what = ""
            out[rel] = (st.st_mode, st.st_uid, st.st_gid, what)
    return out


def differences(before, after):
    """Paths added, removed or changed, but NOISE and the user database."""
    diff = []
    for path in sorted(set(before) | set(after)):
        if NOISE.match(path) or path in USERDB:
            continue
        if path not in before:
            diff.append("+ /" + path)
        elif path not in after:
            diff.append("- /" + path)
        elif before[path] != after[path]:
            diff.append("~ /" + path)
    return diff


def status(g):
    p = g.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "downcase"], check_rc=False,
              quiet=True)
    return p.stdout.strip() if p.returncode == 0 else "unknown"


def cycle(g, n, before, uid_before):
    t = time.monotonic()
    g.apt("install", "-y", g.deb_rel)
    say("cycle %d: apt install took %.1f s" % (n, time.monotonic() - t))
    user = g.run(["getent", "passwd", "downcase"], quiet=True).stdout.split(":")
    uid = int(user[2])
    if uid_before is not None:
        check(uid == uid_before, "cycle %d: the install reused the downcase user (uid %d)"
              % (n, uid))
    files = g.run(["dpkg-query", "-L", "downcase"], quiet=True).stdout.split()
    check("/usr/bin/downcase" in files and len(files) > 20,
          "cycle %d: installed, %d paths" % (n, len(files)))
    g.run(["systemctl", "enable", "--now"] + UNITS)
    out = g.run(["curl", "-sS", "--max-time", "5", "--retry", "20", "--retry-connrefused",
                 "--retry-delay", "1", "http://127.0.0.1:5000/downcase/?param=Cycle"]).stdout
    check(out == "lower case of Cycle is cycle", "cycle %d: the pub answers" % n)
    deadline = time.monotonic() + 30
    i = 0
    while not (os.path.exists(g.host(LOG)) and b"lower case of probe-" in open(
            g.host(LOG), "rb").read()):
        if time.monotonic() > deadline:
            fail("cycle %d: the sub never logged" % n)
        i += 1
        g.run(["curl", "-sS", "--max-time", "5",
               "http://127.0.0.1:5000/downcase/?param=probe-%d" % i], quiet=True)
        time.sleep(0.1)
    say("ok: cycle %d: the sub logs" % n)
    # The comparison sees the package: every file it installed, the log directory and the
    # enabled units' links are differences now.
    installed = set(differences(before, snapshot(g)))
    # dpkg names /lib/..., which merged /usr makes /usr/lib/... on disk.
    real_root = os.path.realpath(g.root)
    on_disk = {"/" + os.path.relpath(os.path.realpath(g.host(f)), real_root) for f in files
               if not os.path.isdir(g.host(f))}
    expected = {"+ " + f for f in on_disk} | {
        "+ /var/log/downcase", "+ " + LOG} | {
        "+ /etc/systemd/system/multi-user.target.wants/%s.service" % u for u in UNITS}
    check(expected <= installed, "cycle %d: installed, the comparison finds the package's %d "
          "files, the log directory, the log and the units' 2 links (%d differences in all)%s"
          % (n, len(on_disk), len(installed), "" if expected <= installed else
             "; not found: " + " ".join(sorted(expected - installed))))

    g.apt("remove", "-y", "downcase")
    procs = g.run(["pgrep", "-u", "downcase"], check_rc=False, quiet=True).stdout.split()
    active = [g.run(["systemctl", "is-active", u], check_rc=False, quiet=True).stdout.strip()
              for u in UNITS]
    check(status(g) == "rc" and active == ["inactive", "inactive"] and procs == [],
          "cycle %d: apt remove stopped both services (no process left) and left the "
          "configuration (dpkg status rc)" % n)
    check(not os.path.lexists(g.host("/usr/bin/downcase")) and
          all(os.path.exists(g.host(f)) for f in CONFFILES) and os.path.exists(g.host(LOG)),
          "cycle %d: the program is gone; the conffiles and the log stay" % n)

    g.apt("purge", "-y", "downcase")
    check(status(g) == "unknown", "cycle %d: apt purge: dpkg knows no downcase" % n)
    after = snapshot(g)
    diff = differences(before, after)
    if diff:
        fail("cycle %d: the purge left the file system different from before the first "
             "install:\n%s" % (n, "\n".join(diff[:200])))
    say("ok: cycle %d: after the purge the file system is as before the first install (%d "
        "paths compared), but apt's, dpkg's, journald's and systemd's own records" %
        (n, len(after)))
    leftovers = [p for p in after if "downcase" in p and NOISE.match(p) and
                 not p.startswith("var/log/journal/")]
    check(leftovers == [], "cycle %d: no trace of downcase in those records either (%s)"
          % (n, " ".join(leftovers) or "dpkg's info files and deb-systemd-helper's state gone"))
    check(int(g.run(["getent", "passwd", "downcase"], quiet=True).stdout.split(":")[2]) == uid,
          "cycle %d: the downcase user stays after the purge, as Debian's helpers do" % n)
    for db in ["passwd", "group", "shadow", "gshadow"]:
        added = userdb(g, db) - g.userdb_before[db]
        removed = g.userdb_before[db] - userdb(g, db)
        check(removed == set() and [e.split(":")[0] for e in added] == ["downcase"],
              "cycle %d: /etc/%s differs from before the first install by the downcase entry "
              "alone" % (n, db))
    return uid


def userdb(g, name):
    with open(g.host("/etc/" + name)) as f:
        return set(f.read().splitlines())


def main():
    syslib.setup()
    deb = syslib.package()
    root = syslib.rootfs(deb)
    with syslib.Guest(root, deb) as g:
        check(g.run(["getent", "passwd", "downcase"], check_rc=False, quiet=True).returncode == 2,
              "no downcase user before the first install")
        before = snapshot(g)
        g.userdb_before = {db: userdb(g, db) for db in ["passwd", "group", "shadow", "gshadow"]}
        say("file system before the first install: %d paths" % len(before))
        uid = cycle(g, 1, before, None)
        cycle(g, 2, before, uid)
    say("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
