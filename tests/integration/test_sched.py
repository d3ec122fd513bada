"""Scheduling of each role's threads, read from /proc: libzmq's I/O threads run SCHED_BATCH so
that they never preempt the event loop on a shared core, while the event loop itself (the
thread answering HTTP) keeps the policy it was started with. A process started under another
policy (chrt) keeps that policy on every thread."""

import os
import sys
import unittest

import harness

SCHED_OTHER, SCHED_BATCH, SCHED_IDLE = 0, 3, 5


def thread_policies(pid):
    """{thread name: [policy, ...]} from /proc/PID/task/*/stat (field 41, 'policy')."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out.setdefault(name, []).append(int(fields[41 - 3]))
    return out


class SchedTest(harness.ProcessTest):
    def io_threads(self, proc):
        """The policies of the process's ZeroMQ I/O threads once they exist, and the rest."""
        pid = proc.popen.pid
        found = {}

        def have_io():
            found.clear()
            found.update(thread_policies(pid))
            return any(n.startswith("ZMQbg/IO/") for n in found)
        harness.wait_for(have_io, timeout=5 * harness.SLOW, what="a ZeroMQ I/O thread")
        io = [p for n, ps in found.items() if n.startswith("ZMQbg/IO/") for p in ps]
        main = found.get("downcase", [])
        return io, main, found

    def check_role(self, proc):
        io, main, found = self.io_threads(proc)
        self.assertTrue(io, found)
        self.assertEqual(set(io), {SCHED_BATCH}, found)
        # The main thread answers HTTP; it must not be left SCHED_BATCH by the probe that
        # precedes the context's policy. (Under valgrind the main thread's name differs.)
        if not harness.WRAPPER:
            self.assertEqual(main, [SCHED_OTHER], found)

    def test_pub_io_threads_are_batch_and_loop_is_not(self):
        self.check_role(self.start(harness.Pub))

    def test_sub_io_threads_are_batch(self):
        pub = self.start(harness.Pub)
        self.check_role(self.start(harness.Sub, log=self.tmp.file("log"),
                                   connect=pub.endpoint))

    def test_relay_io_threads_are_batch(self):
        relay = self.start(harness.Proc, ["--role=relay", "--upstream=tcp://127.0.0.1:9",
                                          "--downstream=@tcp://127.0.0.1:*"])
        relay.wait_line(r"relay")
        self.check_role(relay)

    def test_policy_chosen_by_the_operator_is_kept(self):
        # chrt --idle: the process asked for SCHED_IDLE; no thread is moved to SCHED_BATCH.
        pub = self.start(harness.Proc, ["--role=pub", "--listen=127.0.0.1:0",
                                        "--bind=tcp://127.0.0.1:*"],
                         prefix=["chrt", "--idle", "0"])
        pub.wait_line(r"zmq bind")
        io, main, found = self.io_threads(pub)
        self.assertEqual(set(io), {SCHED_IDLE}, found)
        for name, policies in found.items():
            self.assertEqual(set(policies), {SCHED_IDLE}, (name, found))


if __name__ == "__main__":
    if not sys.platform.startswith("linux"):
        sys.exit(77)
    unittest.main()
