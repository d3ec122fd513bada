"""The journal (--journal=DIR): a pub killed or stopped and started again continues the same
publisher id and sequence, so subscribers log every message answered 200 exactly once and no
gap; and every kind of damage a journal meets in practice (a torn last record, changed bytes,
a zero-filled tail, a missing segment, a full disk) is detected, reported once with the file and
the offset, counted, never stops the start-up, and reaches the subscribers as a gap of exactly
the messages that cannot be read.

The segment format is read here with a parser of the test's own (journal.h describes it)."""

import glob
import json
import os
import random
import signal
import struct
import subprocess
import time
import unittest

import harness
import testmain
from harness import SLOW, read_lines, wait_for, warm_up
from test_replay import Load, entries, publish

SEG_HEADER = 64
REC_MAGIC = 0x44434A52


def records(path):
    """[(offset, seq, total length)] of the records of a segment file, in order, up to the
    first place that is not a record."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    off = SEG_HEADER
    while off + 20 <= len(data):
        magic, length, _crc, seq = struct.unpack(">IIIQ", data[off:off + 20])
        if magic != REC_MAGIC:
            break
        out.append((off, seq, 20 + length))
        off += 20 + length
    return out


def segments(d):
    return sorted(glob.glob(os.path.join(d, "*.seg")))


class JournalTest(harness.ProcessTest):
    def pub(self, jdir, *args, listen="127.0.0.1:0", bind="tcp://127.0.0.1:*", **kw):
        return self.start(harness.Pub, "--wire=framed", "--journal=" + jdir, *args,
                          listen=listen, bind=bind, **kw)

    def restart(self, old, jdir, *args, **kw):
        """The same pub again, on the same HTTP port and ZeroMQ endpoint (clients and the
        subscriber come back to it by themselves)."""
        return self.pub(jdir, *args, listen="%s:%d" % (old.host, old.port), bind=old.endpoint,
                        **kw)

    def sub(self, log, endpoint, *args):
        return self.start(harness.Sub, "--log-format=json", *args, log=log, connect=endpoint)

    def final_marker(self, pub, log, name="final-marker"):
        self.assertEqual(pub.get(name)[0], 200)
        wait_for(lambda: any(name.encode() in l for l in read_lines(log)), 20, "the marker")

    def logged(self, log):
        es = entries(log)
        msgs = [e for e in es if "message" in e]
        texts = [e["message"].rpartition(" is ")[0][len("lower case of "):] for e in msgs]
        return msgs, texts, [e for e in es if e.get("event") == "gap"]

    def assert_once(self, log, answered):
        msgs, texts, gaps = self.logged(log)
        counts = {}
        for t in texts:
            counts[t] = counts.get(t, 0) + 1
        self.assertEqual([t for t, c in counts.items() if c > 1], [], "logged twice")
        self.assertEqual([t for t in answered if t not in counts], [], "answered, not logged")
        by_pub = {}
        for m in msgs:
            by_pub.setdefault(m["publisher"], []).append(m["seq"])
        for p, seqs in by_pub.items():
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "order of " + p)
        return msgs, gaps

    # ---- restarts --------------------------------------------------------------------------

    def test_killed_pub_continues_its_id_and_sequence(self):
        jdir = self.tmp.file("journal")
        pub = self.pub(jdir, expect_exit=None)
        log = self.tmp.file("sub.log")
        self.sub(log, pub.endpoint)
        warm_up(pub, log)
        answered = publish(pub, "before-kill", 300)
        pub.popen.send_signal(signal.SIGKILL)
        pub.wait()
        pub = self.restart(pub, jdir)
        answered += publish(pub, "after-kill", 300)
        self.final_marker(pub, log)
        msgs, gaps = self.assert_once(log, answered)
        self.assertEqual(gaps, [])
        self.assertEqual(len({m["publisher"] for m in msgs}), 1, "one publisher id throughout")

    def test_chaos_sub_kills_stop_and_pub_restarts(self):
        """Steady load from several clients; the sub is SIGKILLed and restarted at random
        moments 10 times and SIGSTOPped past its heartbeats once; the pub is restarted once with
        SIGTERM and once with SIGKILL. Every 200 is logged exactly once, in order, no gap."""
        seed = int(os.environ.get("DOWNCASE_TEST_SEED", random.randrange(1 << 30)))
        rnd = random.Random(seed)
        print("\n  seed %d" % seed, end=" ")
        jdir = self.tmp.file("journal")
        pub = self.pub(jdir, "--heartbeat=200ms", expect_exit=None)
        log = self.tmp.file("sub.log")
        subargs = ["--log-format=json", "--heartbeat=200ms"]
        sub = self.start(harness.Sub, *subargs, log=log, connect=pub.endpoint, expect_exit=None)
        warm_up(pub, log)
        answered = []
        start = time.monotonic()
        # Under valgrind (20x slower) three sub kills check the same paths for memory errors.
        plan = ["kill"] * (3 if harness.WRAPPER else 10) + ["stop", "pub-term", "pub-kill"]
        rnd.shuffle(plan)
        for step in plan:
            load = Load(pub, "c%d" % len(answered), clients=3)
            time.sleep(rnd.uniform(0.1, 0.4) * SLOW)
            if step == "kill":
                sub.popen.send_signal(signal.SIGKILL)
                sub.wait()
                time.sleep(rnd.uniform(0, 0.2) * SLOW)
                sub = self.start(harness.Sub, *subargs, log=log, connect=pub.endpoint,
                                 expect_exit=None)
                answered += load.stop()
            elif step == "stop":
                sub.send_signal(signal.SIGSTOP)
                time.sleep(1.0 * SLOW)  # five heartbeats: the pub drops the connection
                sub.send_signal(signal.SIGCONT)
                answered += load.stop()
            else:
                # The load stops first: a client whose pub died mid-request is not answered,
                # and a request that was not answered 200 is not promised.
                answered += load.stop()
                if step == "pub-term":
                    self.assertEqual(pub.stop(), 0)
                else:
                    pub.popen.send_signal(signal.SIGKILL)
                    pub.wait()
                pub = self.restart(pub, jdir, "--heartbeat=200ms", expect_exit=None)
        self.final_marker(pub, log)
        msgs, gaps = self.assert_once(log, answered)
        self.assertEqual(gaps, [])
        print("%d answered 200 in %.1f s, %d logged, 1 publisher id"
              % (len(answered), time.monotonic() - start, len(msgs)), end=" ")
        self.assertEqual(len({m["publisher"] for m in msgs}), 1)
        self.assertLess(time.monotonic() - start, 90 * SLOW)

    # ---- damage ------------------------------------------------------------------------------

    def damaged_setup(self, extra=(), count=100, pad=""):
        """A pub with a journal and a subscriber that logs the first 10 messages, then stops;
        `count` more are published and the pub stops. Returns (journal dir, log, answered
        while the sub was down, the pub's HTTP/ZeroMQ addresses)."""
        jdir = self.tmp.file("journal")
        pub = self.pub(jdir, *extra, expect_exit=None)
        log = self.tmp.file("sub.log")
        sub = self.sub(log, pub.endpoint)
        warm_up(pub, log)
        publish(pub, "seen", 10)
        wait_for(lambda: any(b"seen-000009" in l for l in read_lines(log)), 10, "10 logged")
        self.assertEqual(sub.stop(), 0)
        down = publish(pub, "down" + pad, count)
        return jdir, log, down, pub

    def resume(self, jdir, log, old):
        """Stops the old pub, starts it again on the journal and the subscriber on its state;
        returns (pub, its stderr once started)."""
        old.stop()
        pub = self.restart(old, jdir)
        self.sub(log, pub.endpoint)
        self.final_marker(pub, log)
        return pub, pub.stderr_text()

    def test_torn_last_record_is_dropped_and_reported(self):
        jdir, log, down, pub = self.damaged_setup()
        pub.popen.send_signal(signal.SIGKILL)
        pub.wait()
        seg = segments(jdir)[-1]
        off, seq, length = records(seg)[-1]
        end = off + length
        with open(seg, "r+b") as f:  # half a record, as a kill in the middle of the copy leaves
            f.seek(end)
            f.write(struct.pack(">II", REC_MAGIC, 40) + b"\x01\x02\x03")
        pub2 = self.restart(pub, jdir)
        m = pub2.wait_line(r"journal (\S+): offset (\d+): a torn last record")
        self.assertEqual((m.group(1), int(m.group(2))), (seg, end))
        self.assertEqual(harness.metrics(pub2.host, pub2.port)["downcase_journal_damage_total"], 1)
        self.sub(log, pub2.endpoint)
        self.final_marker(pub2, log)
        _, gaps = self.assert_once(log, down)
        self.assertEqual(gaps, [], "a torn record was never answered: nothing is missing")

    def test_changed_bytes_are_an_exact_gap(self):
        jdir, log, down, pub = self.damaged_setup()
        pub.stop()
        seg = segments(jdir)[-1]
        recs = records(seg)
        off, seq, length = recs[60]  # one record in the middle: its text changed
        with open(seg, "r+b") as f:
            f.seek(off + length - 3)
            b = f.read(1)
            f.seek(off + length - 3)
            f.write(bytes([b[0] ^ 0x20]))
        pub2 = self.restart(pub, jdir)
        m = pub2.wait_line(r"journal (\S+): offset (\d+): (\d+) damaged bytes \(checksum\); "
                           r"sequences (\d+)-(\d+)")
        self.assertEqual((m.group(1), int(m.group(2))), (seg, off))
        self.assertEqual((int(m.group(4)), int(m.group(5))), (seq, seq))
        self.sub(log, pub2.endpoint)
        self.final_marker(pub2, log)
        msgs, _, gaps = self.logged(log)
        self.assertEqual([g["lost"] for g in gaps], [1])
        texts = [e["message"] for e in msgs]
        lost_text = [t for t in down if not any(t in x for x in texts)]
        self.assertEqual(len(lost_text), 1, "exactly the damaged record is missing")
        self.assertEqual(harness.metrics(pub2.host, pub2.port)["downcase_journal_damage_total"], 1)

    def test_zero_filled_tail_is_reported_and_a_gap(self):
        # --journal-sync=0: the checkpoint knows everything answered was synced.
        jdir, log, down, pub = self.damaged_setup(["--journal-sync=0"])
        pub.popen.send_signal(signal.SIGKILL)
        pub.wait()
        seg = segments(jdir)[-1]
        recs = records(seg)
        off = recs[-10][0]
        with open(seg, "r+b") as f:  # the last 10 records' blocks came back as zeros
            f.seek(off)
            f.write(b"\0" * (recs[-1][0] + recs[-1][2] - off))
        pub2 = self.restart(pub, jdir)
        m = pub2.wait_line(r"journal \S+: sequences (\d+)-(\d+) were synced to disk but are gone")
        self.assertEqual(int(m.group(2)) - int(m.group(1)) + 1, 10)
        self.sub(log, pub2.endpoint)
        self.final_marker(pub2, log)
        _, texts, gaps = self.logged(log)
        self.assertEqual([g["lost"] for g in gaps], [10])
        self.assertEqual([t for t in down if t not in texts], down[-10:])

    def test_missing_segment_is_an_exact_gap(self):
        # Small segments (512 KiB) so that the messages (1.3 MB: the text is there twice,
        # "lower case of X is x") span three, all within the
        # journal's size (2 MiB): no gap but the missing segment's.
        jdir, log, down, pub = self.damaged_setup(["--journal-size=2m"], count=1200,
                                                  pad="p" * 500)
        pub.stop()
        segs = segments(jdir)
        self.assertGreaterEqual(len(segs), 3, segs)
        victim = segs[-2]  # a middle one, wholly within what the sub missed
        recs = records(victim)
        first, last = recs[0][1], recs[-1][1]
        os.unlink(victim)
        pub2 = self.restart(pub, jdir)
        m = pub2.wait_line(r"journal \S+: sequences (\d+)-(\d+) are missing")
        self.assertEqual((int(m.group(1)), int(m.group(2))), (first, last))
        self.sub(log, pub2.endpoint)
        self.final_marker(pub2, log)
        _, texts, gaps = self.logged(log)
        self.assertEqual([g["lost"] for g in gaps], [last - first + 1])
        self.assertEqual(len([t for t in down if t not in texts]), last - first + 1)

    def test_full_disk_answers_503_and_recovers(self):
        if os.geteuid() != 0:
            testmain.skip("mounting a small tmpfs needs root")
        jdir = self.tmp.file("journal")
        os.mkdir(jdir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", jdir], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", jdir])
        # 256 KiB segments: the first fits, the second does not.
        pub = self.pub(jdir, "--journal-size=1m")
        log = self.tmp.file("sub.log")
        self.sub(log, pub.endpoint)
        warm_up(pub, log)
        answered, refused = [], 0
        text = None
        for i in range(4000):
            text = "fill-%05d-%s" % (i, "z" * 400)
            status, _, body = pub.get(text)
            if status == 200:
                answered.append(text)
            else:
                self.assertEqual(status, 503)
                self.assertIn(b"journal cannot be written", body)
                refused += 1
                break
        self.assertGreater(refused, 0, "the disk never filled")
        pub.wait_line(r"journal \S+: cannot create a segment: No space left on device")
        subprocess.run(["mount", "-o", "remount,size=16m", jdir], check=True)
        time.sleep(0.2)  # past JOURNAL_RETRY_MS
        ok = wait_for(lambda: pub.get("back-after-space")[0] == 200, 5, "a 200 again")
        self.assertTrue(ok)
        pub.wait_line(r"journal \S+: writing works again")
        self.final_marker(pub, log)
        _, gaps = self.assert_once(log, answered + ["back-after-space"])
        self.assertEqual(gaps, [])


if __name__ == "__main__":
    testmain.main()
