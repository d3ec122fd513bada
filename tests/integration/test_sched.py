"""Scheduling of each role's threads, read from /proc: libzmq's I/O threads run SCHED_BATCH so
that they never preempt the event loop on a shared core, while the event loop itself (the
thread answering HTTP) keeps the policy it was started with. A process started under another
policy (chrt) keeps that policy on every thread."""

import os
import sys
import time
import unittest

import harness
import testmain

SCHED_OTHER, SCHED_BATCH, SCHED_IDLE = 0, 3, 5


def thread_policies(pid):
    """{tid: (name, policy)} from /proc/PID/task/*/stat (field 41, 'policy')."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = (name, int(fields[41 - 3]))
    return out


class SchedTest(harness.ProcessTest):
    def threads(self, proc):
        """(policies of the ZeroMQ I/O threads, policy of the main thread, all threads), once
        libzmq's threads have named themselves, which they do after applying their policy."""
        pid = proc.popen.pid
        found = {}

        def named():
            found.clear()
            found.update(thread_policies(pid))
            names = [n for n, _ in found.values()]
            return "ZMQbg/Reaper" in names and any(n.startswith("ZMQbg/IO/") for n in names)
        harness.wait_for(named, timeout=5 * harness.SLOW, what="libzmq's named threads")
        io = [pol for n, pol in found.values() if n.startswith("ZMQbg/IO/")]
        return io, found[pid][1], found

    def check_role(self, proc):
        io, main, found = self.threads(proc)
        self.assertEqual(set(io), {SCHED_BATCH}, found)
        # The main thread answers HTTP; it must not be left SCHED_BATCH by the probe that
        # precedes the context's policy.
        self.assertEqual(main, SCHED_OTHER, found)

    def test_pub_io_threads_are_batch_and_loop_is_not(self):
        self.check_role(self.start(harness.Pub))

    def test_sub_io_threads_are_batch(self):
        pub = self.start(harness.Pub)
        self.check_role(self.start(harness.Sub, log=self.tmp.file("log"),
                                   connect=pub.endpoint))

    def test_relay_io_threads_are_batch(self):
        relay = self.start(harness.Proc, ["--role=relay", "--upstream=tcp://127.0.0.1:9",
                                          "--downstream=@tcp://127.0.0.1:*"])
        relay.wait_line(r"relaying ")  # its last start-up line: signals are handled
        self.check_role(relay)

    def test_policy_chosen_by_the_operator_is_kept(self):
        # chrt --idle: the process asked for SCHED_IDLE; no thread is moved to SCHED_BATCH.
        pub = self.start(harness.Proc, ["--role=pub", "--listen=127.0.0.1:0",
                                        "--bind=tcp://127.0.0.1:*"],
                         prefix=["chrt", "--idle", "0"])
        harness.http_address(pub)  # announced last, once signals are handled
        io, main, found = self.threads(pub)
        self.assertEqual({pol for _, pol in found.values()}, {SCHED_IDLE}, found)

class OneCoreTest(harness.ProcessTest):
    """Pub and sub on one core, where the I/O threads run only when the loops let them. A loop
    that never waits (pipelined requests) must still not refuse messages while the subscriber
    keeps up: when a queue fills, the pub gives ZeroMQ's I/O thread the CPU before it refuses."""

    def test_pipelined_burst_on_one_core_is_not_refused(self):
        if 0 not in os.sched_getaffinity(0):
            testmain.skip("core 0 is not available to this test")
        count, hwm = 20000, 100
        mine = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {0})  # inherited by the processes started below
        try:
            pub = self.start(harness.Pub, "--wire=framed", "--hwm=%d" % hwm)
            log = self.tmp.file("log")
            self.start(harness.Sub, "--hwm=%d" % hwm, log=log, connect=pub.endpoint)
        finally:
            os.sched_setaffinity(0, mine)
        warm = harness.warm_up(pub, log)
        request = b"GET /downcase/?param=Burst HTTP/1.1\r\nHost: x\r\n\r\n"
        with harness.connect(pub.host, pub.port) as s:
            s.sendall(request * count + b"GET /downcase/?param=End HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            s.settimeout(30 * harness.SLOW)
            data = bytearray()
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        ok = data.count(b"HTTP/1.1 200 ")
        refused = data.count(b"HTTP/1.1 503 ")
        self.assertEqual((ok, refused), (count + 1, 0))
        self.assertEqual(harness.metrics(pub.host, pub.port)
                         .get("downcase_dropped_messages_total"), 0)
        harness.wait_for(lambda: len(harness.read_lines(log)) >= warm + count + 1,
                         timeout=10 * harness.SLOW, what="every message logged")
        time.sleep(0.2)
        self.assertEqual(len(harness.read_lines(log)), warm + count + 1)


if __name__ == "__main__":
    if not sys.platform.startswith("linux"):
        testmain.skip("scheduling policies and affinity are Linux's")
    testmain.main()
