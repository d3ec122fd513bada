"""Retention and replay: every message answered 200 reaches every subscriber's log exactly
once, in each publisher's sequence order, across subscriber restarts and crashes, a frozen
subscriber, and pubs that connect into a binding subscriber; what falls outside the retention
is one gap line of the exact size.

Every check builds its expectation from what the HTTP clients were answered (never from the
log itself), and reads the log as JSON lines (publisher id, sequence number, message)."""

import json
import os
import random
import signal
import threading
import time
import unittest

import harness
import testmain
from harness import SLOW, read_lines, wait_for, warm_up


def entries(path):
    out = []
    for line in read_lines(path):
        out.append(json.loads(line))
    return out


class Load:
    """Clients sending GET /downcase/?param=TAG-N on keep-alive connections, pipelined in small
    batches, until stopped; remembers every text answered 200 and counts the other answers."""

    def __init__(self, pub, tag, clients=3, batch=10, pause=0.002, limit=None):
        self.pub = pub
        self.tag = tag
        self.answered = []
        self.other = {}
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.limit = limit
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(c, batch, pause), daemon=True)
                        for c in range(clients)]
        for t in self.threads:
            t.start()

    def run(self, client, batch, pause):
        n = 0
        try:
            with harness.connect(self.pub.host, self.pub.port) as s:
                while not self.stop_event.is_set():
                    if self.limit is not None and n >= self.limit:
                        break
                    texts = ["%s-%d-%06d" % (self.tag, client, n + i) for i in range(batch)]
                    n += batch
                    s.sendall(b"".join(b"GET /downcase/?param=%s HTTP/1.1\r\nHost: t\r\n\r\n"
                                       % t.encode() for t in texts))
                    res = harness.read_responses(s, batch)
                    if len(res) != batch:
                        raise AssertionError("%d answers to %d requests" % (len(res), batch))
                    with self.lock:
                        for t, r in zip(texts, res):
                            if r[0] == 200:
                                self.answered.append(t)
                            else:
                                self.other[r[0]] = self.other.get(r[0], 0) + 1
                    time.sleep(pause)
        except Exception as e:  # reported by stop()
            self.errors.append(e)

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(30 * SLOW)
        if self.errors:
            raise self.errors[0]
        return list(self.answered)


def publish(pub, tag, count):
    """count GETs, pipelined in batches of 50 on one connection; returns the texts answered
    200 (every answer must be 200)."""
    texts = []
    with harness.connect(pub.host, pub.port) as s:
        for i in range(0, count, 50):
            batch = ["%s-%06d" % (tag, j) for j in range(i, min(count, i + 50))]
            s.sendall(b"".join(b"GET /downcase/?param=%s HTTP/1.1\r\nHost: t\r\n\r\n"
                               % t.encode() for t in batch))
            res = harness.read_responses(s, len(batch))
            statuses = {r[0] for r in res}
            assert statuses == {200} and len(res) == len(batch), statuses
            texts += batch
    return texts


class ReplayTest(harness.ProcessTest):
    def sub(self, log, *args, connect=None):
        return self.start(harness.Sub, "--log-format=json", *args, log=log, connect=connect)

    def final_marker(self, pub, log, name="final-marker"):
        """Publishes a marker and waits until it is logged: every message answered before it
        has then been logged or fetched (the sub fetches the missing ones first)."""
        self.assertEqual(pub.get(name)[0], 200)
        wait_for(lambda: any(name.encode() in line for line in read_lines(log)), 20,
                 "the final marker in the log")

    def assert_exactly_once(self, log, answered, allow_gaps=False):
        """Every text in answered is in the log exactly once; each publisher's sequence numbers
        are strictly increasing, and with no gap line, contiguous."""
        es = entries(log)
        gaps = [e for e in es if e.get("event") == "gap"]
        messages = [e for e in es if "message" in e]
        texts = [e["message"].rpartition(" is ")[0][len("lower case of "):] for e in messages]
        counts = {}
        for t in texts:
            counts[t] = counts.get(t, 0) + 1
        twice = [t for t, c in counts.items() if c > 1]
        missing = [t for t in answered if t not in counts]
        self.assertEqual(twice, [], "logged more than once")
        self.assertEqual(missing, [], "answered 200 but not logged")
        by_pub = {}
        for e in messages:
            by_pub.setdefault(e["publisher"], []).append(e["seq"])
        for pub, seqs in by_pub.items():
            self.assertEqual(seqs, sorted(set(seqs)), "publisher %s out of order" % pub)
            if not allow_gaps:
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                                 "publisher %s has holes" % pub)
        if not allow_gaps:
            self.assertEqual(gaps, [])
        return messages, gaps

    # ---- the new user's scenario ------------------------------------------------------------

    def test_restarted_sub_logs_what_was_published_while_it_was_down(self):
        pub = self.start(harness.Pub, "--wire=framed")
        log = self.tmp.file("sub.log")
        sub = self.sub(log, connect=pub.endpoint)
        warm_up(pub, log)
        answered = publish(pub, "before", 50)
        wait_for(lambda: any(b"before-000049" in l for l in read_lines(log)), 10, "first 50")
        self.assertEqual(sub.stop(), 0)
        answered += publish(pub, "while-down", 50)
        self.assertTrue(os.path.exists(log + ".state"), "the default state beside the log")
        self.sub(log, connect=pub.endpoint)
        answered += publish(pub, "after", 50)
        self.final_marker(pub, log)
        self.assert_exactly_once(log, answered)

    # ---- crashes ------------------------------------------------------------------------------

    def test_sub_killed_at_random_moments_under_load_logs_everything_once(self):
        seed = int(os.environ.get("DOWNCASE_TEST_SEED", random.randrange(1 << 30)))
        rnd = random.Random(seed)
        print("\n  seed %d" % seed, end=" ")
        pub = self.start(harness.Pub, "--wire=framed")
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--log-format=json", log=log, connect=pub.endpoint,
                         expect_exit=None)
        warm_up(pub, log)
        load = Load(pub, "chaos")
        kills = 0
        try:
            # Under valgrind (every process 20x slower) three kills check the same paths for
            # memory errors; the normal and sanitizer builds do the ten the chaos test is for.
            for _ in range(3 if harness.WRAPPER else 10):
                time.sleep(rnd.uniform(0.05, 0.4) * SLOW)
                sub.popen.send_signal(signal.SIGKILL)
                sub.wait()
                kills += 1
                time.sleep(rnd.uniform(0.0, 0.2) * SLOW)
                sub = self.start(harness.Sub, "--log-format=json", log=log,
                                 connect=pub.endpoint, expect_exit=None)
        finally:
            answered = load.stop()
        self.assertEqual(load.other, {}, "every request was answered 200")
        self.final_marker(pub, log)
        messages, _ = self.assert_exactly_once(log, answered)
        print("%d answered 200, %d kills, %d logged" % (len(answered), kills, len(messages)),
              end=" ")
        self.assertGreater(len(answered), 50 if harness.WRAPPER else 500)

    # ---- what the retention does not cover --------------------------------------------------

    def test_outside_the_retention_is_one_exact_gap(self):
        # 64 KiB of retention, messages of about 300 bytes: a few hundred are kept.
        pub = self.start(harness.Pub, "--wire=framed", "--retain=64k")
        log = self.tmp.file("sub.log")
        sub = self.sub(log, connect=pub.endpoint)
        warm_up(pub, log)
        self.assertEqual(sub.stop(), 0)
        pad = "x" * 250
        answered = publish(pub, "down" + pad, 2000)
        self.sub(log, connect=pub.endpoint)
        self.final_marker(pub, log)
        messages, gaps = self.assert_exactly_once(log, [], allow_gaps=True)
        down = [m for m in messages if "down" + pad in m["message"]]
        self.assertEqual(len(gaps), 1, gaps)
        lost = gaps[0]["lost"]
        self.assertGreater(len(down), 0, "the retained part is logged")
        self.assertGreater(lost, 0, "the retention was too small: the test forced a gap")
        # The retained part is the newest, contiguous, and with the gap adds up exactly.
        self.assertEqual(len(down) + lost, len(answered))
        logged = [m["message"].rpartition(" is ")[0][len("lower case of "):] for m in down]
        self.assertEqual(logged, answered[lost:])
        print("\n  %d answered while down: %d fell out of the retention, %d fetched"
              % (len(answered), lost, len(down)), end=" ")

    # ---- one slow subscriber does not hold the others back ------------------------------------

    def test_frozen_subscriber_does_not_stop_the_others_and_catches_up(self):
        pub = self.start(harness.Pub, "--wire=framed", "--hwm=100")
        frozen_log = self.tmp.file("frozen.log")
        healthy_log = self.tmp.file("healthy.log")
        frozen = self.sub(frozen_log, "--hwm=100", connect=pub.endpoint)
        self.sub(healthy_log, "--hwm=100", connect=pub.endpoint)
        warm_up(pub, frozen_log, marker="warm-f")
        warm_up(pub, healthy_log, marker="warm-h")
        frozen.send_signal(signal.SIGSTOP)
        try:
            # 3 KiB messages: 12 MB, more than the frozen subscriber's socket buffers hold.
            answered = publish(pub, "slow" + "y" * 3000, 4000)
            self.final_marker(pub, healthy_log, "healthy-marker")
            self.assert_exactly_once(healthy_log, answered + ["healthy-marker"])
        finally:
            frozen.send_signal(signal.SIGCONT)
        self.final_marker(pub, frozen_log)
        self.assert_exactly_once(frozen_log, answered)
        m = harness.metrics(pub.host, pub.port)
        self.assertEqual(m["downcase_dropped_messages_total"], 0, "no 503")

    # ---- through relays ------------------------------------------------------------------------

    def test_restarted_sub_behind_relays_is_answered_by_the_relay_or_the_pub(self):
        """Two relays in a row; the sub behind them stops while messages pass. With retention
        on the relays, the nearest relay answers; with --retain=0 there, the request goes up
        through both and the pub answers. Either way every 200 is logged once, no gap."""
        from test_relay import Relay
        for relay_retain in ("64m", "0"):
            with self.subTest(relay_retain=relay_retain):
                pub = self.start(harness.Pub, "--wire=framed")
                r1 = self.start(Relay, "--retain=" + relay_retain, upstream=[pub.endpoint])
                r2 = self.start(Relay, "--retain=" + relay_retain, upstream=[r1.endpoint])
                log = self.tmp.file("behind-%s.log" % relay_retain)
                sub = self.sub(log, connect=r2.endpoint)
                warm_up(pub, log)
                answered = publish(pub, "up", 100)
                wait_for(lambda: any(b"up-000099" in l for l in read_lines(log)), 10, "100")
                self.assertEqual(sub.stop(), 0)
                answered += publish(pub, "away", 500)
                self.sub(log, connect=r2.endpoint)
                self.final_marker(pub, log)
                self.assert_exactly_once(log, answered)
                answered_by_r2 = r2.samples()["downcase_replay_requests_answered_total"]
                answered_by_pub = harness.metrics(pub.host, pub.port)[
                    "downcase_replay_requests_answered_total"]
                if relay_retain == "0":
                    self.assertEqual(answered_by_r2, 0)
                    self.assertGreater(answered_by_pub, 0)
                else:
                    self.assertGreater(answered_by_r2, 0)

    def test_relay_journal_answers_after_the_relay_is_killed(self):
        """A relay with --journal keeps what passed through it across its own crash: the pub
        keeps nothing (--retain=0), the relay is SIGKILLed and started again on its journal,
        and a sub that was away meanwhile gets everything from the relay, once."""
        from test_relay import Relay
        pub = self.start(harness.Pub, "--wire=framed", "--retain=0")
        jdir = self.tmp.file("relay-journal")
        relay = self.start(Relay, "--journal=" + jdir, upstream=[pub.endpoint],
                           expect_exit=None)
        log = self.tmp.file("sub.log")
        sub = self.sub(log, connect=relay.endpoint)
        warm_up(pub, log)
        answered = publish(pub, "seen", 50)
        wait_for(lambda: any(b"seen-000049" in l for l in read_lines(log)), 10, "first 50")
        self.assertEqual(sub.stop(), 0)
        answered += publish(pub, "through-relay", 300)
        wait_for(lambda: relay.samples()["downcase_relay_forwarded_messages_total"] >= 300, 10,
                 "the relay to have them")
        relay.popen.send_signal(signal.SIGKILL)
        relay.wait()
        relay = self.start(Relay, "--journal=" + jdir, upstream=[pub.endpoint])
        relay.wait_line(r"journal \S+: 1 publisher\(s\) recovered")
        self.sub(log, connect=relay.endpoint)
        self.final_marker(pub, log)
        self.assert_exactly_once(log, answered)
        self.assertGreater(relay.samples()["downcase_replay_requests_answered_total"], 0)

    # ---- reverse fan-in: the pubs connect into a binding sub ----------------------------------

    def test_reverse_fan_in_sub_restart_and_pub_restart(self):
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--log-format=json", "--bind=tcp://127.0.0.1:*", log=log)
        endpoint = sub.wait_line(r"zmq bind (\S+)").group(1)
        pub = self.start(harness.Pub, "--wire=framed", "--connect=" + endpoint, bind=None)
        warm_up(pub, log)
        answered = publish(pub, "one", 100)
        wait_for(lambda: any(b"one-000099" in l for l in read_lines(log)), 10, "first 100")
        self.assertEqual(sub.stop(), 0)
        answered += publish(pub, "two", 100)
        # Restarted on the same port: the pub reconnects by itself.
        port = endpoint.rpartition(":")[2]
        sub = self.start(harness.Sub, "--log-format=json", "--bind=tcp://127.0.0.1:" + port,
                         log=log)
        answered += publish(pub, "three", 100)
        self.final_marker(pub, log)
        # A pub restart without a journal is a new publisher: nothing it answered is missing.
        self.assertEqual(pub.stop(), 0)
        pub2 = self.start(harness.Pub, "--wire=framed", "--connect=" + endpoint, bind=None)
        warm_up(pub2, log, marker="second-pub")
        answered += publish(pub2, "four", 100)
        self.final_marker(pub2, log, "final-2")
        messages, _ = self.assert_exactly_once(log, answered)
        self.assertEqual(len({m["publisher"] for m in messages}), 2)


if __name__ == "__main__":
    testmain.main()
