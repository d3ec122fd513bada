"""Hardening of the pub's HTTP server: every limit flag, the timeouts, the connection cap and
request-smuggling shapes. Every answer is parsed by h11; "closed" is checked by reading to EOF."""

import socket
import time
import unittest

import harness
import testmain
from harness import connect, read_responses, read_until_closed


def answer_and_close(host, port, raw, pieces=1, pause=0.0):
    """Sends raw (optionally in `pieces` writes), reads one answer, then checks the server
    closes. Returns (status, body)."""
    with connect(host, port) as s:
        step = max(1, len(raw) // pieces)
        for i in range(0, len(raw), step):
            try:
                s.sendall(raw[i:i + step])
            except (BrokenPipeError, ConnectionResetError):
                break  # answered and closed before everything was sent
            if pause:
                time.sleep(pause)
        res = read_responses(s, 1)
        if not res:
            raise AssertionError("no answer to %r" % raw[:80])
        status, headers, body = res[0]
        assert headers.get("connection") == "close", headers
        try:
            rest = read_until_closed(s, 10)
        except ConnectionResetError:
            rest = b""
        assert rest == b"", "data after an answer that closes: %r" % rest[:80]
        return status, body


class LimitsTest(harness.ProcessTest):
    def pub(self, *flags):
        return self.start(harness.Pub, *flags)

    # ---- sizes ------------------------------------------------------------------------------

    def test_header_limit_flag(self):
        pub = self.pub("--max-header-bytes=1k")
        ok = b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 700 + b"\r\n\r\n"
        res = harness.http_raw(pub.host, pub.port, ok)
        self.assertEqual(res[0][0], 200)
        big = b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 1100 + b"\r\n\r\n"
        status, body = answer_and_close(pub.host, pub.port, big)
        self.assertEqual(status, 431, body)
        long_target = b"GET /downcase/?param=" + b"a" * 1100 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
        status, body = answer_and_close(pub.host, pub.port, long_target)
        self.assertEqual(status, 414, body)

    def test_body_limit_declared_length(self):
        pub = self.pub("--max-body-bytes=100")
        ok = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"b" * 100
        self.assertEqual(harness.http_raw(pub.host, pub.port, ok)[0][0], 404)
        big = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n" + b"b" * 101
        status, body = answer_and_close(pub.host, pub.port, big)
        self.assertEqual(status, 413, body)
        self.assertIn(b"body", body)

    def test_body_limit_chunked(self):
        pub = self.pub("--max-body-bytes=100")
        chunks = b"".join(b"%x\r\n%s\r\n" % (40, b"c" * 40) for _ in range(3)) + b"0\r\n\r\n"
        big = b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
        status, body = answer_and_close(pub.host, pub.port, big)
        self.assertEqual(status, 413, body)
        small = (b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"28\r\n" + b"c" * 40 + b"\r\n0\r\n\r\n")
        self.assertEqual(harness.http_raw(pub.host, pub.port, small)[0][0], 404)

    def test_default_body_limit_is_64k(self):
        pub = self.pub()
        head = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
        self.assertEqual(
            harness.http_raw(pub.host, pub.port, head % 65536 + b"b" * 65536)[0][0], 404)
        status, _ = answer_and_close(pub.host, pub.port, head % 65537 + b"b" * 65537)
        self.assertEqual(status, 413)

    # ---- time -------------------------------------------------------------------------------

    def test_slowloris_gets_408_and_close(self):
        pub = self.pub("--header-timeout=1s")
        with connect(pub.host, pub.port) as s:
            start = time.monotonic()
            s.sendall(b"GET /downcase/?param=a HTTP/1.1\r\n")
            # Keep trickling, a byte every 0.2 s: progress must not extend the deadline.
            s.settimeout(0.2)
            answer = b""
            for c in b"X-Slow: " + b"z" * 60:
                try:
                    s.sendall(bytes([c]))
                    answer = s.recv(65536)
                    if answer:
                        break
                except socket.timeout:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
            elapsed = time.monotonic() - start
            self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer[:100])
            self.assertIn(b"Connection: close", answer)
            # Bounded: answered near the deadline, not after the whole trickle.
            self.assertLess(elapsed, 8 * harness.SLOW)
            self.assertGreater(elapsed, 0.9)
            self.assertEqual(read_until_closed(s, 10), b"")
        self.assertEqual(metric(pub, "downcase_http_request_timeouts_total"), 1)

    def test_request_with_stalled_body_gets_408(self):
        pub = self.pub("--idle-timeout=1s")
        with connect(pub.host, pub.port) as s:
            start = time.monotonic()
            s.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            # The whole answer, then the end of the connection (the README: "408, connection
            # closed"), after the idle timeout and not before.
            answer = read_until_closed(s, 10)
            elapsed = time.monotonic() - start
            self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer[:100])
            self.assertIn(b"\r\nConnection: close\r\n", answer)
            self.assertGreater(elapsed, 0.9)
            self.assertLess(elapsed, 5 * harness.SLOW)
        self.assertEqual(metric(pub, "downcase_http_request_timeouts_total"), 1)

    def test_idle_keep_alive_connection_is_closed(self):
        pub = self.pub("--idle-timeout=1s")
        with connect(pub.host, pub.port) as s:
            s.sendall(b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(read_responses(s, 1)[0][0], 200)
            self.assertEqual(read_until_closed(s, 10), b"")  # closed without a word
        self.assertEqual(metric(pub, "downcase_http_idle_closed_total"), 1)

    def test_silent_connection_is_closed_after_header_timeout(self):
        pub = self.pub("--header-timeout=1s")
        with connect(pub.host, pub.port) as s:
            start = time.monotonic()
            self.assertEqual(read_until_closed(s, 10), b"")
            elapsed = time.monotonic() - start
        # Closed at the timeout: not at once (which the check above alone would accept), and
        # not much later.
        self.assertGreater(elapsed, 0.9)
        self.assertLess(elapsed, 5 * harness.SLOW)

    def test_active_keep_alive_connection_survives_the_idle_timeout(self):
        pub = self.pub("--idle-timeout=1s")
        with connect(pub.host, pub.port) as s:
            for i in range(6):
                s.sendall(b"GET /downcase/?param=%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
                self.assertEqual(read_responses(s, 1)[0][0], 200)
                time.sleep(0.4)

    # ---- connections ------------------------------------------------------------------------

    def test_max_connections(self):
        pub = self.pub("--max-connections=5")
        held = [connect(pub.host, pub.port) for _ in range(5)]
        try:
            # Each held connection is accepted (one request answered on each).
            for s in held:
                s.sendall(b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(read_responses(s, 1)[0][0], 200)
            try:
                with connect(pub.host, pub.port) as extra:
                    extra.sendall(b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\n\r\n")
                    data = read_until_closed(extra, 5)
            except (ConnectionResetError, BrokenPipeError):
                data = b""  # reset at once, possibly before connect() returned
            self.assertEqual(data, b"", "a connection past the limit was served")
            # The ones we hold are still served.
            for s in held:
                s.sendall(b"GET /downcase/?param=b HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(read_responses(s, 1)[0][0], 200)
        finally:
            for s in held:
                s.close()
        # Once they are gone, new connections are served again, and the refusal was counted.
        def only_ours():
            try:
                return metric(pub, "downcase_http_connections_open") == 1
            except ConnectionResetError:
                return False  # refused: the held ones are not all closed yet
        harness.wait_for(only_ours, 5, "held connections to close")
        self.assertGreaterEqual(metric(pub, "downcase_http_connections_rejected_total"), 1)
        self.assertIn("--max-connections", pub.stderr_text())

    # ---- smuggling --------------------------------------------------------------------------

    SMUGGLING = {
        "content-length with transfer-encoding":
            b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "transfer-encoding with content-length":
            b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Length: 5\r\n\r\n0\r\n\r\n",
        "duplicate content-length":
            b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "conflicting content-length":
            b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
        "content-length list":
            b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc",
        "obs-fold":
            b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\nX-A: a\r\n Content-Length: 5\r\n\r\n",
        "obs-fold with tab":
            b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tmore\r\n\r\n",
        "bare CR in a header (CVE-2023-30589)":
            b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\nX-Abc: \rxTransfer-Encoding: chunked"
            b"\r\n\r\n1\r\nA\r\n0\r\n\r\n",
        "bare LF ending the request line":
            b"GET /downcase/?param=a HTTP/1.1\nHost: t\r\n\r\n",
        "bare LF ending a header":
            b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n",
        "bare LF ending the head":
            b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\n\n",
        "space before the colon":
            b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\n",
        "space inside a header name":
            b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\nX Y: z\r\n\r\n",
        "empty header name":
            b"GET /downcase/?param=a HTTP/1.1\r\nHost: t\r\n: x\r\n\r\n",
        "chunk size with junk":
            b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;\x00\r\nabcde"
            b"\r\n0\r\n\r\n",
        "transfer-encoding not ending in chunked":
            b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    }

    def test_smuggling_shapes_are_400_and_close(self):
        pub = self.pub()
        for name, raw in self.SMUGGLING.items():
            for pieces in (1, len(raw)):  # whole, and one byte per write (state across reads)
                with self.subTest(shape=name, pieces=pieces):
                    status, body = answer_and_close(pub.host, pub.port, raw, pieces)
                    self.assertEqual(status, 400, body)
        # None of them reached the router: only 400s were answered.
        self.assertEqual(metric(pub, 'downcase_http_requests_total{code="200"}'), 0)
        self.assertEqual(metric(pub, 'downcase_http_requests_total{code="404"}'), 0)

    def test_smuggled_request_after_a_good_one_is_refused(self):
        # A good request, then a smuggling shape on the same connection: the first is answered,
        # the second refused, and nothing after it is parsed.
        pub = self.pub()
        raw = (b"GET /downcase/?param=one HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /downcase/?param=two HTTP/1.1\r\nHost: t\r\nX: a\rTransfer-Encoding: chunked"
               b"\r\n\r\n0\r\n\r\nGET /downcase/?param=three HTTP/1.1\r\nHost: t\r\n\r\n")
        res = harness.http_raw(pub.host, pub.port, raw, count=3)
        self.assertEqual([r[0] for r in res], [200, 400])
        self.assertEqual(res[0][2], b"lower case of one is one")

    def test_upgrade_and_connect_get_one_answer_and_close(self):
        pub = self.pub()
        cases = [
            (b"GET /downcase/?param=U HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
             b"Upgrade: websocket\r\n\r\n\x81\x85junk-after-upgrade", 200),
            (b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"
             b"\x16\x03\x01tls-bytes", 404),
        ]
        for raw, want in cases:
            with self.subTest(raw=raw[:20]):
                status, body = answer_and_close(pub.host, pub.port, raw)
                self.assertEqual(status, want, body)

    def test_body_bytes_are_not_screened_as_a_head(self):
        # A body may hold anything, bare CR and LF included; the next request is screened again.
        pub = self.pub()
        body = b"a\rb\nc\r\n d"
        raw = (b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
               + b"GET /downcase/?param=Next HTTP/1.1\r\nHost: t\r\n\r\n")
        for pieces in (1, len(raw)):
            with self.subTest(pieces=pieces):
                with connect(pub.host, pub.port) as s:
                    for i in range(0, len(raw), max(1, len(raw) // pieces)):
                        s.sendall(raw[i:i + max(1, len(raw) // pieces)])
                    res = read_responses(s, 2)
                self.assertEqual([r[0] for r in res], [404, 200])
                self.assertEqual(res[1][2], b"lower case of Next is next")


def metric(pub, name):
    """The value of one sample of the pub's /metrics."""
    return harness.metrics(pub.host, pub.port)[name]


if __name__ == "__main__":
    testmain.main()
