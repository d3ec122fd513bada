"""The units' SystemCallFilter= and RestrictAddressFamilies= do not break the daemon.

PID 1 on a build machine is rarely systemd, so the units cannot simply be started here. Instead
a pub and a sub run under strace through a real exchange (start-up, HTTP requests, messages,
SIGHUP with a moved log, SIGTERM), and every system call they made must be allowed by the
filter the unit file declares (its SystemCallFilter= lines, with the groups expanded as
`systemd-analyze syscall-filter` lists them), and every socket family they opened must be in
its RestrictAddressFamilies=. Skipped (77) without strace or systemd-analyze, and under
valgrind or sanitizers, whose own system calls are not the daemon's, and where ptrace is not
allowed."""

import os
import re
import unittest

import harness
import ops
import testmain
from test_units import parse_unit

SYSCALL_RX = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]")
SOCKET_RX = re.compile(r"\bsocket\((AF_[A-Z0-9]+)")


def syscall_groups():
    """{"@group": set of members (names and "@groups")} from systemd-analyze."""
    p = ops.run([ops.tool("systemd-analyze"), "syscall-filter", "--no-pager"])
    assert p.returncode == 0, p.stderr
    groups, current = {}, None
    for line in p.stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), set())
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.add(line.strip())
    return groups


def expand(items, groups):
    out = set()
    for item in items:
        if item.startswith("@"):
            out |= expand(groups[item], groups)
        else:
            out.add(item)
    return out


def allowed_syscalls(unit, groups):
    """The allow-list the unit's SystemCallFilter= lines make, in order ("~" removes)."""
    filters = unit["SystemCallFilter"]
    assert not filters[0].startswith("~"), "expected an allow-list first"
    allowed = set()
    for value in filters:
        if value.startswith("~"):
            allowed -= expand(value[1:].split(), groups)
        else:
            allowed |= expand(value.split(), groups)
    return allowed


class SyscallsTest(harness.ProcessTest):
    @classmethod
    def setUpClass(cls):
        if ops.WRAPPER or ops.env("DOWNCASE_SANITIZE") not in ("", "none"):
            ops.skip("valgrind or a sanitizer would trace its own system calls")
        cls.strace = ops.tool("strace")
        # Containers may forbid ptrace; then there is nothing this test can learn.
        probe = ops.run([cls.strace, "-f", "-qq", "-o", os.devnull, "true"])
        if probe.returncode != 0:
            ops.skip("strace cannot trace here: " + probe.stderr.strip())
        cls.groups = syscall_groups()
        units = {os.path.basename(p): p for p in ops.env("DOWNCASE_UNITS").split(os.pathsep)}
        cls.units = {role: parse_unit(units["downcase-%s.service" % role])
                     for role in ["pub", "sub"]}

    def traced(self, cls, role, *args, **kw):
        """Starts a harness process under strace; returns (process, tracee pid, trace path).
        Signals must go to the tracee: strace would take them for itself."""
        trace = self.tmp.file(role + ".strace")
        saved = harness.WRAPPER
        harness.WRAPPER = [self.strace, "-f", "-qq", "-o", trace]
        try:
            p = self.start(cls, *args, **kw)
        finally:
            harness.WRAPPER = saved
        with open(trace, encoding="utf-8", errors="replace") as f:
            pid = int(f.readline().split()[0])  # the execve line
        self.addCleanup(self.terminate, pid)  # runs before the harness's own stop
        return p, pid, trace

    @staticmethod
    def terminate(pid):
        try:
            os.kill(pid, harness.signal.SIGTERM)
        except ProcessLookupError:
            pass

    def test_exchange_stays_inside_the_units_filters(self):
        pub, pub_pid, pub_trace = self.traced(harness.Pub, "pub")
        log = self.tmp.file("subscriber.log")
        sub, sub_pid, sub_trace = self.traced(harness.Sub, "sub", log=log, connect=pub.endpoint)
        harness.warm_up(pub, log)
        self.assertEqual(pub.get("HeLLo")[0], 200)
        self.assertEqual(pub.get("x", path="/nowhere")[0], 404)
        os.rename(log, log + ".1")
        os.kill(sub_pid, harness.signal.SIGHUP)
        harness.wait_for(lambda: os.path.exists(log), 5, "the reopened log")
        self.assertEqual(pub.get("after-hup")[0], 200)
        harness.wait_for(lambda: any(b"after-hup" in line for line in harness.read_lines(log)),
                         5, "a message in the reopened log")
        for p, pid in [(sub, sub_pid), (pub, pub_pid)]:
            self.terminate(pid)
            self.assertEqual(p.wait(), 0, p.stderr_text())  # strace exits as its tracee did

        for role, trace in [("pub", pub_trace), ("sub", sub_trace)]:
            with self.subTest(role=role):
                used, families = set(), set()
                with open(trace, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        m = SYSCALL_RX.match(line)
                        if m:
                            used.add(m.group(1))
                        families.update(SOCKET_RX.findall(line))
                self.assertIn("epoll_wait", used, "the trace looks empty")
                unit = self.units[role]
                allowed = allowed_syscalls(unit, self.groups)
                self.assertEqual(sorted(used - allowed), [],
                                 "system calls the unit's SystemCallFilter= would refuse")
                self.assertTrue(families, "no socket() in the trace")
                self.assertEqual(sorted(families - set(unit["RestrictAddressFamilies"][0].split())),
                                 [], "socket families RestrictAddressFamilies= would refuse")
                print("%s: %d distinct system calls, families %s: all allowed"
                      % (role, len(used), sorted(families)))


if __name__ == "__main__":
    testmain.main()
