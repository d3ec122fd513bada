"""logrotate against a live subscriber: nothing lost, nothing written twice.

A real pub and sub run; a thread keeps publishing numbered messages through HTTP while the real
logrotate rotates the sub's log several times with the directives of the shipped example
(dist/logrotate/downcase.logrotate), only the path, and the postrotate command (`kill -HUP` of
this test's sub instead of systemctl), changed. Then every message must be in exactly one of
subscriber.log, subscriber.log.1 and the compressed older files, once. Each rotation waits until
the sub has written to the new file, which proves it reopened it after the previous SIGHUP (with
`notifempty` an empty file would not be rotated). Exits 77 where logrotate is not installed."""

import gzip
import os
import re
import threading
import time
import unittest

import harness
import ops
import testmain

ROTATIONS = 5
EXAMPLE_PATH = "/var/log/downcase/subscriber.log"
PER_FILE = 100  # messages the live file must hold before it is rotated
AFTER_LAST = 300  # messages published after the last rotation


class LogrotateTest(harness.ProcessTest):
    def setUp(self):
        super().setUp()
        self.logrotate = ops.tool("logrotate")
        with open(ops.env("DOWNCASE_LOGROTATE"), encoding="utf-8") as f:
            self.example = f.read()

    def config(self, log, pid):
        """The shipped example with this test's log path and postrotate command."""
        self.assertEqual(self.example.count(EXAMPLE_PATH + " {"), 1)
        text = self.example.replace(EXAMPLE_PATH + " {", log + " {")
        lines = text.split("\n")
        hup = [i for i, line in enumerate(lines) if "systemctl kill --signal=HUP" in line]
        self.assertEqual(len(hup), 1, "the example's postrotate command changed")
        lines[hup[0]] = "        kill -HUP %d" % pid
        conf = self.tmp.file("downcase.logrotate")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.chmod(conf, 0o644)  # logrotate refuses a config others can write
        return conf

    def rotate(self, conf):
        p = ops.run([self.logrotate, "-f", "-s", self.tmp.file("state"), conf], timeout=30)
        self.assertEqual((p.returncode, p.stderr), (0, ""), p.stdout)

    def test_rotate_under_stream(self):
        pub = self.start(harness.Pub)
        log = self.tmp.file("subscriber.log")
        sub = self.start(harness.Sub, log=log, connect=pub.endpoint)
        harness.warm_up(pub, log)
        conf = self.config(log, sub.popen.pid)

        sent, errors = [], []
        stop = threading.Event()

        def stream():
            deadline = time.monotonic() + 120 * harness.SLOW
            try:
                i = 0
                while not stop.is_set() and time.monotonic() < deadline:
                    text = "msg-%06d" % i
                    status, _, _ = pub.get(text)
                    if status != 200:
                        raise AssertionError("GET %s answered %d" % (text, status))
                    sent.append(text)
                    i += 1
            except Exception as e:  # reported by the main thread
                errors.append(e)

        writer = threading.Thread(target=stream, daemon=True)
        writer.start()
        try:
            for k in range(ROTATIONS):
                # The live file has streamed messages: the sub (re)opened it and writes to it.
                harness.wait_for(lambda: sum(b"msg-" in line for line in harness.read_lines(log))
                                 >= PER_FILE or errors, 30,
                                 "messages in the live log before rotation %d" % k)
                self.assertEqual(errors, [])
                self.rotate(conf)
            mark = len(sent)
            harness.wait_for(lambda: len(sent) >= mark + AFTER_LAST or errors, 60,
                             "messages after the last rotation")
        finally:
            stop.set()
            writer.join(30 * harness.SLOW)
        self.assertFalse(writer.is_alive())
        self.assertEqual(errors, [])

        files = [log, log + ".1"] + ["%s.%d.gz" % (log, n) for n in range(2, ROTATIONS + 1)]
        # The sub's --state beside its log (subscriber.log.state) is not rotated: it follows the
        # log by inode and size, and logrotate's pattern does not match it.
        self.assertEqual(sorted(os.listdir(self.tmp.path)),
                         sorted([os.path.basename(f) for f in files] +
                                ["downcase.logrotate", "state", os.path.basename(log) + ".state"]))

        def logged():
            out = []
            for path in files:
                opener = gzip.open if path.endswith(".gz") else open
                with opener(path, "rb") as f:
                    out.append(re.findall(rb"lower case of (msg-\d+) is", f.read()))
            return out

        # The last messages may still be on their way to the sub.
        harness.wait_for(lambda: sum(map(len, logged())) >= len(sent), 20, "every message logged")
        per_file = logged()
        for path, found in zip(files, per_file):
            self.assertTrue(found, "no streamed message in " + os.path.basename(path))
        every = [m.decode() for found in per_file for m in found]
        self.assertEqual(len(every), len(set(every)), "a message was logged twice")
        self.assertEqual(sorted(every), sorted(sent), "messages lost or unexpected")
        print("%d messages, %d rotations, per file (newest first): %s"
              % (len(sent), ROTATIONS, [len(f) for f in per_file]))


if __name__ == "__main__":
    testmain.main()
