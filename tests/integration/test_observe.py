"""Observability: /healthz and /metrics on the pub and on the sub's --metrics server, validated
by promtool (Prometheus' own checker), and the sub's gap accounting: forced loss is reported
exactly."""

import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness
import testmain
from harness import http_get, read_lines, wait_for, warm_up

PROMTOOL = shutil.which("promtool")


def closed_by_peer(port):
    """True when no TCP connection accepted on 127.0.0.1:port is ESTABLISHED any more
    (/proc/net/tcp): the process listening there has closed its end. (The FIN may not reach a
    frozen peer whose receive window is full, so the other end cannot tell yet.)"""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == "0100007F:%04X" % port and fields[3] == "01":
                return False
    return True


class ObserveTest(harness.ProcessTest):
    def promtool(self, text):
        if PROMTOOL is None:
            self.fail("promtool is missing (Debian package prometheus; scripts/test installs it)")
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
        # promtool exits 0 and prints nothing for a clean exposition; lint findings are errors.
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout + p.stderr, b"", "promtool findings")

    def test_pub_healthz(self):
        pub = self.start(harness.Pub)
        status, headers, body = http_get(pub.host, pub.port, "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        status, _, _ = harness.http_raw(pub.host, pub.port,
                                        b"POST /healthz HTTP/1.1\r\nHost: t\r\n"
                                        b"Content-Length: 0\r\n\r\n")[0]
        self.assertEqual(status, 405)

    def test_pub_metrics_count_traffic_and_pass_promtool(self):
        pub = self.start(harness.Pub)
        for i in range(3):
            self.assertEqual(pub.get("x%d" % i)[0], 200)
        self.assertEqual(http_get(pub.host, pub.port, "/nope")[0], 404)
        self.assertEqual(http_get(pub.host, pub.port, "/downcase/")[0], 400)
        text = harness.metrics_text(pub.host, pub.port)
        self.promtool(text)
        s = harness.parse_metrics(text)
        self.assertEqual(s['downcase_http_requests_total{code="200"}'], 3)
        self.assertEqual(s['downcase_http_requests_total{code="404"}'], 1)
        self.assertEqual(s['downcase_http_requests_total{code="400"}'], 1)
        # Nobody subscribes: ZeroMQ accepts and discards, so every 200 counts as published.
        self.assertEqual(s["downcase_published_messages_total"], 3)
        self.assertEqual(s["downcase_dropped_messages_total"], 0)
        self.assertEqual(s["downcase_http_connections_open"], 1)  # the scrape itself
        self.assertGreaterEqual(s["downcase_http_connections_accepted_total"], 6)
        self.assertGreater(s["downcase_http_received_bytes_total"], 0)
        self.assertGreater(s["downcase_http_sent_bytes_total"], 0)
        self.assertIn('downcase_build_info{version="', text)
        # HEAD answers the same headers without a body.
        res = harness.http_raw(pub.host, pub.port, b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n",
                               methods=["HEAD"])
        self.assertEqual(res[0][0], 200)
        self.assertEqual(res[0][2], b"")

    def test_sub_metrics_and_healthz(self):
        pub = self.start(harness.Pub, "--wire=framed")
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--metrics=127.0.0.1:0", log=log, connect=pub.endpoint)
        host, port = harness.http_address(sub)
        n = warm_up(pub, log)
        # What the warm-up took is its own (a probe may come live and again from a replay);
        # the five that follow are counted from here.
        before = harness.parse_metrics(harness.metrics_text(host, port))
        self.assertEqual(before["downcase_log_lines_written_total"], n)
        for i in range(5):
            pub.get("m%d" % i)
        wait_for(lambda: len(read_lines(log)) == n + 5, 5, "five lines")
        status, _, body = http_get(host, port, "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        self.assertEqual(http_get(host, port, "/downcase/?param=x")[0], 404)
        text = harness.metrics_text(host, port)
        self.promtool(text)
        s = harness.parse_metrics(text)
        self.assertEqual(s["downcase_received_messages_total"],
                         before["downcase_received_messages_total"] + 5)
        self.assertEqual(s["downcase_log_lines_written_total"], n + 5)
        self.assertEqual(s["downcase_lost_messages_total"], 0)
        self.assertEqual(s["downcase_log_write_errors_total"], 0)
        per_pub = [k for k in s if k.startswith("downcase_publisher_received_messages_total{")]
        self.assertEqual(len(per_pub), 1, per_pub)

    def test_metrics_address_in_use_is_a_startup_error(self):
        pub = self.start(harness.Pub)
        p = harness.Proc(["--role=sub", "--metrics=127.0.0.1:%d" % pub.port, "--log=-"])
        self.addCleanup(p.kill)
        rc = p.wait(10)
        self.assertEqual(rc, 1, p.stderr_text())
        self.assertRegex(p.stderr_text(), r"listen on 127\.0\.0\.1:%d.*address already in use"
                         % pub.port)

    # ---- loss is seen, never silent ---------------------------------------------------------

    def send_batches(self, pub, tag, total, batch=100, pad=0):
        """GETs pipelined in batches on one connection; returns {status: [params]}. pad: as
        many 'p's added to each param (after a '-')."""
        by_status = {}
        suffix = "-" + "p" * pad if pad else ""
        with harness.connect(pub.host, pub.port) as s:
            for i in range(0, total, batch):
                params = ["%s-%05d%s" % (tag, j, suffix) for j in range(i, min(total, i + batch))]
                s.sendall(b"".join(b"GET /downcase/?param=%s HTTP/1.1\r\nHost: t\r\n\r\n"
                                   % p.encode() for p in params))
                res = harness.read_responses(s, len(params))
                self.assertEqual(len(res), len(params))
                for p, (status, headers, body) in zip(params, res):
                    by_status.setdefault(status, []).append(p)
                    if status == 503:
                        self.assertEqual(headers.get("retry-after"), "1")
        return by_status

    def test_failed_handshakes_are_not_peers_going_down(self):
        """A sub with two publishers up also connects to something that is not ZeroMQ (it
        accepts and hangs up, again at every reconnect): those connections fail their
        handshake and end, and none of that is a peer going down."""
        pubs = [self.start(harness.Pub) for _ in range(2)]
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self.addCleanup(listener.close)
        accepted = []

        def hang_up():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                accepted.append(1)
                conn.close()
        threading.Thread(target=hang_up, daemon=True).start()
        sub = self.start(harness.Sub, "--metrics=127.0.0.1:0", log=self.tmp.file("sub.log"),
                         connect=[p.endpoint for p in pubs]
                         + ["tcp://127.0.0.1:%d" % listener.getsockname()[1]])
        host, port = harness.http_address(sub)
        wait_for(lambda: len(accepted) >= 5, 10, "five failed handshakes")
        wait_for(lambda: harness.metrics(host, port)["downcase_zmq_peers_connected"] == 2, 10,
                 "both publishers up")
        n = len(accepted)
        wait_for(lambda: len(accepted) >= n + 3, 10, "three more failed handshakes")
        m = harness.metrics(host, port)
        self.assertEqual(m["downcase_zmq_peers_connected"], 2)
        self.assertEqual(m["downcase_zmq_peer_disconnects_total"], 0)

    def test_refused_messages_are_503_and_counted(self):
        """A stalled subscriber with tiny high-water marks: once the kernel's socket buffers
        are full too (hence large messages), the publisher refuses messages (NODROP), counts
        them and answers 503; every 200 is logged, and nothing is a gap (a refused message
        takes no sequence number). This is the behaviour without retention (--retain=0);
        test_replay.py has the one with it."""
        pub = self.start(harness.Pub, "--wire=framed", "--retain=0", "--hwm=10")
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--hwm=10", log=log, connect=pub.endpoint)
        n0 = warm_up(pub, log)
        before = harness.metrics(pub.host, pub.port)
        sub.popen.send_signal(signal.SIGSTOP)
        try:
            total = 3000
            by_status = self.send_batches(pub, "loss", total, pad=2000)
        finally:
            sub.popen.send_signal(signal.SIGCONT)
        self.assertEqual(set(by_status) - {200, 503}, set(), by_status.keys())
        ok, refused = by_status.get(200, []), by_status.get(503, [])
        after = harness.metrics(pub.host, pub.port)
        dropped = after["downcase_dropped_messages_total"] - before["downcase_dropped_messages_total"]
        self.assertGreater(len(refused), 0, "nothing was refused: the test forced no refusal")
        self.assertEqual(dropped, len(refused))
        self.assertEqual(after['downcase_http_requests_total{code="503"}'], len(refused))
        # Refused (503) while the subscriber still works through its backlog: asked again.
        wait_for(lambda: pub.get("after-the-stall")[0] == 200, 10, "room after the stall")
        wait_for(lambda: any(b"after-the-stall" in l for l in read_lines(log)), 10,
                 "the message after the stall")
        lines = read_lines(log)[n0:]
        logged = [re.search(rb" lower case of (loss-\d+-p+) ", l).group(1).decode() for l in lines
                  if b" lower case of loss-" in l]
        print("\n  refusal: %d sent, %d answered 200 and logged %d, %d answered 503"
              % (total, len(ok), len(logged), len(refused)), end=" ")
        self.assertEqual(logged, ok)  # every 200, in order, and nothing else
        self.assertEqual([l for l in lines if b"!gap" in l], [])

    def test_messages_lost_in_transit_are_reported_exactly(self):
        """A subscriber frozen until heartbeats make the publisher drop it: what was queued for
        it and what was published while it was away are answered 200 and lost; its gap lines,
        once it is back, add up to exactly the 200s it did not log. Without retention
        (--retain=0): with it, they are fetched instead (test_replay.py)."""
        pub = self.start(harness.Pub, "--wire=framed", "--retain=0", "--heartbeat=200ms")
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--heartbeat=200ms", "--metrics=127.0.0.1:0", log=log,
                         connect=pub.endpoint)
        host, port = harness.http_address(sub)
        n0 = warm_up(pub, log)
        answered = []
        sub.popen.send_signal(signal.SIGSTOP)
        try:
            # Requests keep coming until the publisher's heartbeat timeout (3 x 200 ms) has
            # ended the connection (its end is no longer ESTABLISHED), and a few more are
            # published while the sub is away.
            zport = int(pub.endpoint.rpartition(":")[2])
            deadline = time.monotonic() + 10 * harness.SLOW
            i = after = 0
            while after < 3:
                self.assertLess(time.monotonic(), deadline, "the pub never dropped the sub")
                by_status = self.send_batches(pub, "transit%03d" % i, 50)
                self.assertEqual(set(by_status), {200}, by_status.keys())
                answered += by_status[200]
                i += 1
                after += closed_by_peer(zport)
        finally:
            sub.popen.send_signal(signal.SIGCONT)
        # Back: probes until one arrives (the subscription must reach the publisher again).
        k = 0
        while True:
            self.assertEqual(pub.get("back-%d" % k)[0], 200)
            answered.append("back-%d" % k)
            if any(b"back-" in l for l in read_lines(log)[n0:]):
                break
            k += 1
            self.assertLess(k, 200 * harness.SLOW, "the sub never came back")
            time.sleep(0.05)
        # Probes still in flight would be neither logged nor a gap yet: one last marker, and
        # once it is in, everything before it is either logged or counted in a gap line.
        self.assertEqual(pub.get("back-final")[0], 200)
        answered.append("back-final")
        wait_for(lambda: any(b"back-final" in l for l in read_lines(log)[n0:]), 10,
                 "the final marker")
        lines = read_lines(log)[n0:]
        logged = [l for l in lines if b" lower case of " in l]
        gaps = [re.search(rb" !gap publisher=([0-9a-f]{16}) lost=(\d+)$", l) for l in lines]
        reported = sum(int(g.group(2)) for g in gaps if g)
        print("\n  transit: %d answered 200, %d logged, %d reported lost in %d gap lines"
              % (len(answered), len(logged), reported, len([g for g in gaps if g])), end=" ")
        self.assertGreater(reported, 0, "nothing was lost: the test forced no loss")
        self.assertEqual(len(logged) + reported, len(answered))
        s = harness.metrics(host, port)
        self.assertEqual(s["downcase_lost_messages_total"], reported)
        # The same by value in the per-gap and per-publisher counters.
        gap_lines = [g for g in gaps if g]
        self.assertEqual(s["downcase_sequence_gaps_total"], len(gap_lines))
        publishers = {g.group(1).decode() for g in gap_lines}
        self.assertEqual(len(publishers), 1)
        per = {k: v for k, v in s.items() if k.startswith("downcase_publisher_lost_messages_total")}
        self.assertEqual(per, {'downcase_publisher_lost_messages_total{publisher="%s"}'
                               % publishers.pop(): reported}, per)

    def test_message_cannot_forge_a_gap_line(self):
        # The tutorial's plain wire sends the text as is; a raw PUB could send anything.
        import zmq
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PUB)
        self.addCleanup(ctx.term)
        self.addCleanup(sock.close, 0)
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        sub2_log = self.tmp.file("sub2.log")
        self.start(harness.Sub, log=sub2_log, connect="tcp://127.0.0.1:%d" % port)
        forged = b"!gap publisher=0000000000000000 lost=5"
        deadline = time.monotonic() + 10 * harness.SLOW
        while not read_lines(sub2_log) and time.monotonic() < deadline:
            sock.send(forged)
            time.sleep(0.05)
        lines = read_lines(sub2_log)
        self.assertTrue(lines)
        for line in lines:
            self.assertNotRegex(line, rb"^\S+ !gap ")
            self.assertRegex(line, rb"^\S+ \\x21gap publisher=0{16} lost=5$")


if __name__ == "__main__":
    testmain.main()
