"""--role=relay on 127.0.0.1: an XSUB/XPUB proxy between publishers and subscribers. Frames pass
unchanged (a framed publisher's id and sequence numbers reach the subscribers as a direct
subscriber sees them), every subscriber gets everything, and what the relay cannot queue
downstream is counted and shows up at the subscribers as gaps of exactly that size."""

import json
import re
import signal
import time
import unittest

import harness
import testmain
from harness import read_lines, wait_for, warm_up


class Relay(harness.Proc):
    def __init__(self, *args, upstream=(), downstream=("@tcp://127.0.0.1:*",)):
        flags = ["--role=relay", "--metrics=127.0.0.1:0"]
        flags += ["--upstream=" + e for e in upstream]
        flags += ["--downstream=" + e for e in downstream]
        super().__init__(flags + list(args))
        self.wait_line(r"relaying ")
        binds = re.findall(r"zmq bind (\S+)", self.stderr_text())
        # Downstream is attached first, so its endpoints are announced first.
        self.endpoint = binds[0] if binds else None
        self.upstream_endpoint = binds[-1] if len(binds) > 1 else None
        m = re.search(r"http listening on (\S+):(\d+)", self.stderr_text())
        self.metrics = (m.group(1), int(m.group(2)))

    def samples(self):
        return harness.metrics(*self.metrics)


def json_lines(path, start=0):
    return [json.loads(line) for line in read_lines(path)[start:]]


def publish(pub, tag, count, refusals=False, pad=0):
    """count GETs pipelined in batches of 100 on one connection. Every answer must be 200, or
    with refusals also 503 (the pub could not queue it). Returns the number of 200s."""
    ok = 0
    allowed = {200, 503} if refusals else {200}
    with harness.connect(pub.host, pub.port) as s:
        for i in range(0, count, 100):
            n = min(100, count - i)
            s.sendall(b"".join(b"GET /downcase/?param=%s-%05d%s HTTP/1.1\r\nHost: t\r\n\r\n"
                               % (tag.encode(), j, b"x" * pad) for j in range(i, i + n)))
            res = harness.read_responses(s, n)
            assert len(res) == n and {r[0] for r in res} <= allowed, res[:3]
            ok += sum(1 for r in res if r[0] == 200)
    return ok


class RelayTest(harness.ProcessTest):
    def test_every_subscriber_gets_every_message_with_frames_intact(self):
        pub = self.start(harness.Pub, "--wire=framed")
        relay = self.start(Relay, upstream=[pub.endpoint])
        logs = [self.tmp.file("via-relay-%d.log" % i) for i in range(2)]
        direct = self.tmp.file("direct.log")
        for log in logs:
            self.start(harness.Sub, "--log-format=json", log=log, connect=relay.endpoint)
        self.start(harness.Sub, "--log-format=json", log=direct, connect=pub.endpoint)
        starts = {log: warm_up(pub, log, marker="warm-" + str(i))
                  for i, log in enumerate(logs + [direct])}
        count = 2000
        publish(pub, "relayed", count)
        last = "relayed-%05d" % (count - 1)
        for log in logs + [direct]:
            wait_for(lambda: any(last.encode() in line for line in read_lines(log)), 10,
                     "the last message in " + log)

        def seen(log):
            return [(e["publisher"], e["seq"], e["message"]) for e in json_lines(log, starts[log])
                    if "relayed-" in e.get("message", "")]
        reference = seen(direct)
        self.assertEqual(len(reference), count)
        seqs = [r[1] for r in reference]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + count)))
        for log in logs:
            self.assertEqual(seen(log), reference, "relayed copy differs from the direct one")
            self.assertFalse([e for e in json_lines(log) if e.get("event") == "gap"])
        s = relay.samples()
        self.assertGreaterEqual(s["downcase_relay_forwarded_messages_total"], count)
        self.assertEqual(s["downcase_relay_dropped_messages_total"], 0)
        self.assertEqual(s["downcase_zmq_upstream_peers_connected"], 1)
        self.assertEqual(s["downcase_zmq_downstream_peers_connected"], 2)
        self.assertGreaterEqual(s["downcase_relay_subscriptions_forwarded_total"], 1)

    def test_relays_stack(self):
        """README: a relay's upstream can be another relay; frames (publisher id, sequence
        numbers) arrive through two hops as a direct subscriber sees them."""
        pub = self.start(harness.Pub, "--wire=framed")
        edge = self.start(Relay, upstream=[pub.endpoint])
        center = self.start(Relay, upstream=[edge.endpoint])
        stacked, direct = self.tmp.file("stacked.log"), self.tmp.file("direct.log")
        self.start(harness.Sub, "--log-format=json", log=stacked, connect=center.endpoint)
        self.start(harness.Sub, "--log-format=json", log=direct, connect=pub.endpoint)
        starts = {log: warm_up(pub, log, marker="warm-" + str(i))
                  for i, log in enumerate([stacked, direct])}
        count = 1000
        publish(pub, "stacked", count)
        for log in (stacked, direct):
            wait_for(lambda: any(b"stacked-00999" in line for line in read_lines(log)), 10,
                     "the last message in " + log)

        def seen(log):
            return [(e["publisher"], e["seq"], e["message"]) for e in json_lines(log, starts[log])
                    if "stacked-" in e.get("message", "")]
        self.assertEqual(len(seen(direct)), count)
        self.assertEqual(seen(stacked), seen(direct))
        self.assertFalse([e for e in json_lines(stacked) if e.get("event") == "gap"])
        for r in (edge, center):
            s = r.samples()
            self.assertGreaterEqual(s["downcase_relay_forwarded_messages_total"], count)
            self.assertEqual(s["downcase_relay_dropped_messages_total"], 0)

    def test_relay_drains_on_sigterm(self):
        """README: on SIGTERM the relay forwards what it already holds and gives queued
        messages 0.5 s to leave. A frozen subscriber makes it hold megabytes; the subscriber
        resumes as the relay is told to stop, and must still get every message."""
        pub = self.start(harness.Pub, "--wire=framed")
        relay = self.start(Relay, upstream=[pub.endpoint], expect_exit=None)
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--log-format=json", log=log, connect=relay.endpoint)
        n0 = warm_up(pub, log)
        # The relay has 1 s in all to pass on what it holds: on a slow build (sanitizers,
        # valgrind) and a busy machine a smaller amount must do.
        total = int(1500 / harness.SLOW)
        sub.popen.send_signal(signal.SIGSTOP)
        try:
            # 1 KiB messages: 1.5 MB, more than the frozen subscriber's socket buffers take
            # (with SIGKILL in place of SIGTERM, messages are lost: the relay held them), and
            # fewer than --hwm (10000): the relay queues what the kernel does not.
            answered = publish(pub, "drain", total, pad=1000)
            self.assertEqual(answered, total)
            wait_for(lambda: relay.samples()["downcase_relay_forwarded_messages_total"]
                     >= total, 10, "the relay to take every message")
        finally:
            sub.popen.send_signal(signal.SIGCONT)
        relay.popen.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(5), 0, relay.stderr_text())
        wait_for(lambda: any(b"drain-%05d" % (total - 1) in l for l in read_lines(log)), 10,
                 "the last message the relay held")
        got = [e for e in json_lines(log, n0) if "drain-" in e.get("message", "")]
        self.assertEqual(len(got), total)
        self.assertFalse([e for e in json_lines(log, n0) if e.get("event") == "gap"])

    def test_publishers_connect_into_a_binding_relay(self):
        relay = self.start(Relay, upstream=["@tcp://127.0.0.1:*"])
        self.assertIsNotNone(relay.upstream_endpoint)
        pubs = [self.start(harness.Pub, "--wire=framed", "--connect=" + relay.upstream_endpoint,
                           bind=None) for _ in range(2)]
        log = self.tmp.file("sub.log")
        self.start(harness.Sub, "--log-format=json", log=log, connect=relay.endpoint)
        for i, pub in enumerate(pubs):
            warm_up(pub, log, marker="warm%d" % i)
        for i, pub in enumerate(pubs):
            publish(pub, "from%d" % i, 500)
        for i in range(2):
            wait_for(lambda: any(b"from%d-00499" % i in line for line in read_lines(log)), 10,
                     "pub %d's last message" % i)
        entries = json_lines(log)
        ids = {e["publisher"] for e in entries if "from0-" in e.get("message", "")}
        ids |= {e["publisher"] for e in entries if "from1-" in e.get("message", "")}
        self.assertEqual(len(ids), 2)
        for pid in ids:
            seqs = [e["seq"] for e in entries if e.get("publisher") == pid and "message" in e]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))

    def test_loss_at_the_relay_is_counted_and_reported_as_gaps(self):
        """One stalled subscriber with tiny high-water marks behind the relay: the relay refuses
        messages (NODROP), counts them, and the other subscriber's gap lines add up to exactly
        what the relay and the pub refused. Without retention (--retain=0 on the pub and the
        relay): with it, the gaps are fetched instead (test_replay.py)."""
        pub = self.start(harness.Pub, "--wire=framed", "--retain=0")
        relay = self.start(Relay, "--hwm=10", "--retain=0", upstream=[pub.endpoint])
        stalled_log = self.tmp.file("stalled.log")
        log = self.tmp.file("live.log")
        stalled = self.start(harness.Sub, "--hwm=10", log=stalled_log, connect=relay.endpoint)
        self.start(harness.Sub, "--hwm=10", log=log, connect=relay.endpoint)
        warm_up(pub, stalled_log, marker="warm-s")
        n0 = warm_up(pub, log, marker="warm-l")
        stalled.popen.send_signal(signal.SIGSTOP)
        try:
            total = 5000
            # 3 KiB messages: 15 MB, more than the stalled subscriber's socket buffers can hide.
            answered = publish(pub, "loss", total, refusals=True, pad=3000)
            # Let the relay pass on (or refuse) what it holds before the stall ends.
            wait_for(lambda: relay.samples()["downcase_relay_forwarded_messages_total"]
                     + relay.samples()["downcase_relay_dropped_messages_total"]
                     >= total, 10, "the relay to handle every message")
        finally:
            stalled.popen.send_signal(signal.SIGCONT)
        # The relay drops for everyone while the resumed subscriber still catches up: publish
        # after-the-stall markers, each waited for, until one arrives. Once the last one sent is
        # in, every message before it is either logged or counted in a gap line.
        deadline = time.monotonic() + 20 * harness.SLOW
        k = 0
        while True:
            marker = ("after-the-stall-%d" % k).encode()
            self.assertEqual(pub.get(marker.decode())[0], 200)
            k += 1
            limit = time.monotonic() + 0.5 * harness.SLOW
            while time.monotonic() < limit and not any(marker in l for l in read_lines(log)):
                time.sleep(0.02)
            if any(marker in line for line in read_lines(log)):
                break
            self.assertLess(time.monotonic(), deadline, "no message arrived after the stall")
        rs = relay.samples()
        status, _, body = harness.http_get(pub.host, pub.port, "/metrics")
        pub_dropped = float(re.search(rb"^downcase_dropped_messages_total (\S+)$", body,
                                      re.M).group(1))
        lines = read_lines(log)[n0:]
        logged = [line for line in lines
                  if b" lower case of loss-" in line or b" lower case of after-the-stall-" in line]
        gaps = [re.search(rb" !gap publisher=[0-9a-f]{16} lost=(\d+)$", line) for line in lines]
        reported = sum(int(g.group(1)) for g in gaps if g)
        print("\n  relay loss: %d sent, %d answered 200 (pub refused %d); relay refused %d; "
              "%d logged, %d reported as gaps"
              % (total, answered, pub_dropped, rs["downcase_relay_dropped_messages_total"],
                 len(logged), reported), end=" ")
        self.assertGreater(rs["downcase_relay_dropped_messages_total"], 0,
                           "the relay refused nothing: the test forced no loss")
        # What the pub refused was answered 503 and takes no sequence number; what the relay
        # refused had been answered 200 and shows as gaps downstream.
        self.assertEqual(answered + pub_dropped, total)
        self.assertEqual(reported, rs["downcase_relay_dropped_messages_total"])
        self.assertEqual(len(logged) + reported, answered + k)

    def test_relay_survives_sighup_and_keeps_relaying(self):
        """A stray SIGHUP (a logrotate postrotate aimed at every downcase) must not kill the
        relay, whose default action for it would be to die: it is reported and ignored."""
        pub = self.start(harness.Pub, "--wire=framed")
        relay = self.start(Relay, upstream=[pub.endpoint])
        log = self.tmp.file("after-hup.log")
        self.start(harness.Sub, "--log-format=json", log=log, connect=relay.endpoint)
        relay.send_signal(signal.SIGHUP)
        relay.wait_line(r"^downcase\[relay\]: SIGHUP: nothing to reopen \(the relay writes no "
                        r"log\); ignored$")
        warm_up(pub, log, marker="after-hup")
        self.assertIsNone(relay.popen.poll())

    def test_bad_setups_fail_clearly(self):
        p = harness.Proc(["--role=relay", "--upstream=tcp://127.0.0.1:1"])
        self.assertEqual(p.wait(), 2)
        self.assertIn("at least one --upstream and one --downstream", p.stderr_text())
        p = harness.Proc(["--role=relay", "--upstream=tcp://no-such-host.invalid:1",
                          "--downstream=@tcp://127.0.0.1:*"])
        self.assertEqual(p.wait(10), 1)
        self.assertIn("no-such-host.invalid", p.stderr_text())
        relay = self.start(Relay, upstream=["tcp://127.0.0.1:%d" % harness.refusing_port(self)])
        p = harness.Proc(["--role=relay", "--upstream=tcp://127.0.0.1:1",
                          "--downstream=" + relay.endpoint])
        self.assertEqual(p.wait(10), 1)
        self.assertRegex(p.stderr_text(), r"zmq_bind\(%s\): Address already in use"
                         % re.escape(relay.endpoint))


if __name__ == "__main__":
    testmain.main()
