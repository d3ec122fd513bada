"""The live view's Server-Sent Events (GET /stream) with a raw socket client: framing, ids,
filters, resume inside and outside the window, a stalled viewer beside a healthy one, the
keepalive comment, the token, loopback-only without one, and the page's headers.

Expectations come from what the pub answered 200 (the texts sent and the sequence numbers a
framed pub gives: 1, 2, 3, ...) and from the sub's own json log, never from the stream itself."""

import json
import os
import re
import socket
import threading
import time
import unittest
import urllib.parse

import harness
from harness import SLOW, wait_for, warm_up


class SSE:
    """A Server-Sent Events client on a raw socket: sends the request, checks the head, then
    splits the body into events (dicts of id/event/data, or {'comment': text})."""

    def __init__(self, host, port, target="/stream", headers=(), rcvbuf=None):
        """host None: port is the path of a Unix socket."""
        self.sock = socket.socket(socket.AF_UNIX if host is None else socket.AF_INET,
                                  socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10 * SLOW)
        self.sock.connect(port if host is None else (host, port))
        req = "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (target, "".join(h + "\r\n" for h in headers))
        self.sock.sendall(req.encode())
        self.buf = bytearray()
        self.pos = 0  # what is before it was parsed already
        self.closed = False
        self.chunked = None  # a proxy may re-frame the body: then raw holds undecoded bytes
        self.raw = bytearray()

    def head(self):
        """(status, {lowercase name: value}) of the answer."""
        while b"\r\n\r\n" not in self.buf:
            self._recv()
            if self.closed:
                raise AssertionError("closed before the head: %r" % self.buf)
        raw, rest = bytes(self.buf).split(b"\r\n\r\n", 1)
        self.buf = bytearray(rest)
        lines = raw.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            self.chunked = True
            self.raw, self.buf = self.buf, bytearray()
            self._dechunk()
        return status, headers

    def _dechunk(self):
        """Moves the complete chunks of raw into buf."""
        while True:
            eol = self.raw.find(b"\r\n")
            if eol < 0:
                return
            size = int(bytes(self.raw[:eol]).split(b";")[0], 16)
            if size == 0:
                self.closed = True
                return
            if len(self.raw) < eol + 2 + size + 2:
                return
            self.buf += self.raw[eol + 2:eol + 2 + size]
            del self.raw[:eol + 2 + size + 2]

    def read_until(self, marker, timeout=60.0):
        """Reads as fast as the socket gives (no parsing) until marker has arrived: what a
        viewer that keeps up does. Run it in a thread while the load runs; next() then parses."""
        deadline = time.monotonic() + timeout * SLOW
        tail = b""
        while time.monotonic() < deadline and not self.closed:
            data = self.sock.recv(1 << 20)
            if not data:
                self.closed = True
            self.buf += data
            if marker in tail + data:
                return True
            tail = data[-len(marker):]
        return False

    def body_until_close(self):
        while not self.closed:
            self._recv()
        return bytes(self.buf[self.pos:])

    def _recv(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        finally:
            self.sock.settimeout(10 * SLOW)
        if not data:
            self.closed = True
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        if self.chunked:
            self.raw += data
            self._dechunk()
        else:
            self.buf += data

    def next(self, timeout=5.0):
        """The next event or comment; None when nothing came within timeout."""
        deadline = time.monotonic() + timeout * SLOW
        end = self.buf.find(b"\n\n", self.pos)
        while end < 0:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            try:
                self._recv(left)
            except socket.timeout:
                return None
            end = self.buf.find(b"\n\n", self.pos)
        block = bytes(self.buf[self.pos:end])
        self.pos = end + 2
        ev = {}
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                ev.setdefault("comment", line[1:].strip())
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                ev["data"] = ev["data"] + "\n" + value if "data" in ev else value
            else:
                ev[name] = value
        return ev

    def events(self, count, timeout=10.0, kinds=("message", "gap", "dropped")):
        """The next `count` events (comments and retry lines skipped)."""
        out = []
        deadline = time.monotonic() + timeout * SLOW
        while len(out) < count:
            ev = self.next(max(0.0, deadline - time.monotonic()))
            if ev is None:
                raise AssertionError("%d of %d events; the last: %.300r" % (len(out), count,
                                                                          out[-1:]))
            if "data" in ev and ev.get("event", "message") in kinds:
                out.append(ev)
        return out

    def close(self):
        self.sock.close()


def publish(pub, texts):
    """GETs pipelined on one connection; every one must be answered 200."""
    with harness.connect(pub.host, pub.port) as s:
        for i in range(0, len(texts), 50):
            chunk = texts[i:i + 50]
            s.sendall(b"".join(b"GET /downcase/?param=%s HTTP/1.1\r\nHost: t\r\n\r\n"
                               % urllib.parse.quote(t).encode() for t in chunk))
            res = harness.read_responses(s, len(chunk))
            assert [r[0] for r in res] == [200] * len(chunk), res[:3]


def lowered(text):
    return "lower case of %s is %s" % (text, text.lower())


class StreamTest(harness.ProcessTest):
    def start_pair(self, *sub_args, pub_args=("--wire=framed",), http="127.0.0.1:0", env=None):
        pub = self.start(harness.Pub, *pub_args)
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--log-format=json", "--http=" + http, *sub_args, log=log,
                         connect=pub.endpoint, env=env)
        host, port = harness.http_address(sub)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        warm_up(pub, log)
        return pub, sub, log, host, port

    def log_entries(self, log):
        return [json.loads(line) for line in harness.read_lines(log)]

    def pub_id(self, log):
        return self.log_entries(log)[-1]["publisher"]

    def last_seq(self, log):
        return self.log_entries(log)[-1]["seq"]

    def viewer(self, host, port, target="/stream", headers=(), rcvbuf=None):
        v = SSE(host, port, target, headers, rcvbuf)
        self.addCleanup(v.close)
        status, head = v.head()
        self.assertEqual(status, 200, (head, v.buf))
        return v

    # ---- framing and ids --------------------------------------------------------------------

    def test_framing_ids_and_data_match_the_log(self):
        pub, sub, log, host, port = self.start_pair()
        v = SSE(host, port)
        self.addCleanup(v.close)
        status, head = v.head()
        self.assertEqual(status, 200)
        self.assertEqual(head["content-type"], "text/event-stream; charset=utf-8")
        self.assertEqual(head["cache-control"], "no-cache")
        self.assertEqual(head["x-accel-buffering"], "no")
        self.assertEqual(head["x-content-type-options"], "nosniff")
        self.assertNotIn("content-length", head)
        self.assertIn("script-src 'self'", head["content-security-policy"])
        self.assertNotIn("unsafe-inline", head["content-security-policy"])
        first = v.next()
        self.assertEqual(first, {"retry": "1000"})
        before = len(harness.read_lines(log))
        texts = ["Frame-%d" % i for i in range(20)] + ["Line\nbreak \u2028 \"quoted\" <b>"]
        publish(pub, texts)
        events = v.events(len(texts))
        entries = wait_for(lambda: (lambda e: e if len(e) == before + len(texts) else None)(
            self.log_entries(log)), 10, "the log")[before:]
        pid = entries[0]["publisher"]
        for text, ev, entry in zip(texts, events, entries):
            self.assertEqual(ev.get("event", "message"), "message")
            data = json.loads(ev["data"])
            # The data is the json log line's object, field for field.
            self.assertEqual(data, entry)
            self.assertEqual(data["message"], lowered(text))
            self.assertEqual(ev["id"], "%s:%d" % (pid, data["seq"]))
            self.assertRegex(ev["id"], r"^[0-9a-f]{16}:[0-9]+$")
        seqs = [json.loads(e["data"])["seq"] for e in events]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(texts))))
        # A message cannot add a line to the stream: the newline and U+2028 arrive escaped.
        raw_last = events[-1]["data"]
        self.assertNotIn("\n", raw_last)
        self.assertIn("\\n", raw_last)
        self.assertIn("\\u2028", raw_last)

    def test_plain_messages_have_no_id(self):
        pub, sub, log, host, port = self.start_pair(pub_args=())
        v = self.viewer(host, port)
        publish(pub, ["Plain-1", "Plain-2"])
        events = v.events(2)
        for ev, text in zip(events, ["Plain-1", "Plain-2"]):
            self.assertNotIn("id", ev)
            self.assertEqual(json.loads(ev["data"])["message"], lowered(text))
            self.assertNotIn("publisher", json.loads(ev["data"]))

    def test_gap_lines_are_gap_events(self):
        # The pub keeps nothing (--retain=0): what the sub misses while it is down is a gap.
        pub = self.start(harness.Pub, "--wire=framed", "--retain=0")
        log = self.tmp.file("sub.log")
        sub = harness.Sub("--log-format=json", log=log, connect=pub.endpoint)
        self.addCleanup(sub.kill)
        warm_up(pub, log)
        self.assertEqual(sub.stop(), 0, sub.stderr_text())
        last = "%s:%d" % (self.pub_id(log), self.last_seq(log))
        publish(pub, ["Missed-%d" % i for i in range(7)])
        sub2 = self.start(harness.Sub, "--log-format=json", "--http=127.0.0.1:0", log=log,
                          connect=pub.endpoint)
        host, port = harness.http_address(sub2)
        # The gap is seen when the sub asks the pub what it missed, or when the next message
        # arrives; messages published before the sub's subscription reaches the pub are lost
        # too, and belong to the same gap.
        i = 0
        while not any(e.get("event") == "gap" for e in self.log_entries(log)):
            self.assertLess(i, 200, "no gap line")
            publish(pub, ["After-%d" % i])
            i += 1
            time.sleep(0.05)
        publish(pub, ["Final"])
        harness.wait_for(lambda: any(e.get("message") == lowered("Final")
                                     for e in self.log_entries(log)), 10, "the last message")
        logged_after = [e["message"] for e in self.log_entries(log)
                        if e.get("message", "").startswith("lower case of After-")]
        # Resuming from the last message the first sub logged: the gap line says what is lost
        # (no `dropped` repeats it), then the messages that followed.
        v = self.viewer(host, port, headers=["Last-Event-ID: " + last])
        got = v.events(2 + len(logged_after))
        gap = got[0]
        self.assertEqual(gap.get("event"), "gap")
        self.assertNotIn("id", gap)
        data = json.loads(gap["data"])
        gap_lines = [e for e in self.log_entries(log) if e.get("event") == "gap"]
        self.assertEqual(data, gap_lines[-1])
        self.assertEqual(data["lost"], 7 + i - len(logged_after))
        self.assertEqual([json.loads(e["data"])["message"] for e in got[1:]],
                         logged_after + [lowered("Final")])
        self.assertEqual(got[-1]["id"], "%s:%d" % (data["publisher"],
                                                   int(last.split(":")[1]) + 7 + i + 1))
        ev = v.next(0.3)
        self.assertTrue(ev is None or "comment" in ev, ev)

    # ---- filters ----------------------------------------------------------------------------

    def test_filters_topic_publisher_and_text(self):
        pub_a = self.start(harness.Pub, "--wire=framed", "--topic=orders.eu")
        pub_b = self.start(harness.Pub, "--wire=framed", "--topic=audit")
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--log-format=json", "--http=127.0.0.1:0", log=log,
                         connect=[pub_a.endpoint, pub_b.endpoint])
        host, port = harness.http_address(sub)
        warm_up(pub_a, log, "warm-a")
        warm_up(pub_b, log, "warm-b")
        id_a = [e for e in self.log_entries(log) if e["topic"] == "orders.eu"][-1]["publisher"]
        id_b = [e for e in self.log_entries(log) if e["topic"] == "audit"][-1]["publisher"]
        views = {
            "topic": self.viewer(host, port, "/stream?topic=orders"),
            "publisher": self.viewer(host, port, "/stream?publisher=" + id_b),
            "q": self.viewer(host, port, "/stream?q=needle"),
            "both": self.viewer(host, port, "/stream?topic=orders&q=needle"),
            "all": self.viewer(host, port),
        }
        for v in views.values():
            self.assertEqual(v.next(), {"retry": "1000"})
        publish(pub_a, ["A-1", "A-needle-2", "A-3"])
        publish(pub_b, ["B-1", "B-needle-2"])
        publish(pub_a, ["A-end"])
        publish(pub_b, ["B-end"])

        def texts(v, n):
            return [json.loads(e["data"])["message"] for e in v.events(n)]

        self.assertEqual(len(texts(views["all"], 7)), 7)
        self.assertEqual(texts(views["topic"], 4),
                         [lowered(t) for t in ["A-1", "A-needle-2", "A-3", "A-end"]])
        got = views["publisher"].events(3)
        self.assertEqual([json.loads(e["data"])["message"] for e in got],
                         [lowered(t) for t in ["B-1", "B-needle-2", "B-end"]])
        self.assertTrue(all(e["id"].startswith(id_b + ":") for e in got))
        self.assertEqual(texts(views["q"], 2), [lowered("A-needle-2"), lowered("B-needle-2")])
        self.assertEqual(texts(views["both"], 1), [lowered("A-needle-2")])
        # Nothing else arrives at the filtered viewers.
        for name in ("topic", "publisher", "q", "both"):
            ev = views[name].next(0.5)
            self.assertTrue(ev is None or "comment" in ev, (name, ev))
        self.assertNotEqual(id_a, id_b)

    def test_bad_filter_and_id_are_400(self):
        pub, sub, log, host, port = self.start_pair()
        for target, why in [("/stream?publisher=xyz", "publisher must be 16 hex digits"),
                            ("/stream?last_event_id=12:3", "Last-Event-ID must be PUBLISHER:SEQ")]:
            status, headers, body = harness.http_get(host, port, target)
            self.assertEqual(status, 400, body)
            self.assertIn(why, body.decode())
        status, headers, body = harness.http_get(host, port, "/stream",
                                                 b"Last-Event-ID: 00112233445566zz:1\r\n")
        self.assertEqual(status, 400, body)
        # HEAD answers the head only; other methods are refused.
        res = harness.http_raw(host, port, b"HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n",
                               methods=["HEAD"])
        self.assertEqual(res[0][0], 200)
        self.assertEqual(res[0][1]["content-type"], "text/event-stream; charset=utf-8")
        res = harness.http_raw(host, port, b"POST /stream HTTP/1.1\r\nHost: t\r\n"
                               b"Content-Length: 0\r\n\r\n")
        self.assertEqual(res[0][0], 405)

    # ---- resume -----------------------------------------------------------------------------

    def test_resume_inside_the_window(self):
        pub, sub, log, host, port = self.start_pair()
        v = self.viewer(host, port)
        publish(pub, ["R-%d" % i for i in range(10)])
        events = v.events(10)
        v.close()
        stop_at = events[4]["id"]
        publish(pub, ["R-%d" % i for i in range(10, 15)])
        want = [lowered("R-%d" % i) for i in range(5, 15)]
        for how in ("header", "query"):
            if how == "header":
                w = self.viewer(host, port, headers=["Last-Event-ID: " + stop_at])
            else:
                w = self.viewer(host, port, "/stream?last_event_id=" + stop_at)
            got = w.events(10)
            self.assertEqual([json.loads(e["data"])["message"] for e in got], want, how)
            self.assertEqual(got[0]["id"].split(":")[0], stop_at.split(":")[0])
            self.assertEqual(int(got[0]["id"].split(":")[1]), int(stop_at.split(":")[1]) + 1)
            ev = w.next(0.5)
            self.assertTrue(ev is None or "comment" in ev, ev)
        # Without an id a viewer starts with what comes next.
        fresh = self.viewer(host, port)
        self.assertEqual(fresh.next(), {"retry": "1000"})
        ev = fresh.next(0.5)
        self.assertTrue(ev is None or "comment" in ev, ev)

    def test_resume_outside_the_window_says_how_many_are_dropped(self):
        # A window of 16 KiB holds about 40 events of ~400 bytes.
        pub, sub, log, host, port = self.start_pair("--stream-buffer=16k", "--stream-lag=8k")
        pid = self.pub_id(log)
        first = self.last_seq(log) + 1
        texts = ["W-%03d-%s" % (i, "x" * 100) for i in range(200)]
        publish(pub, texts)
        wait_for(lambda: self.last_seq(log) == first + 199, 10, "the log")
        w = self.viewer(host, port, headers=["Last-Event-ID: %s:%d" % (pid, first)])
        dropped = w.events(1)[0]
        self.assertEqual(dropped.get("event"), "dropped")
        d = json.loads(dropped["data"])
        self.assertEqual(d["publisher"], pid)
        rest = []
        while True:
            ev = w.next(1.0)
            if ev is None or "comment" in ev:
                break
            rest.append(ev)
        seqs = [json.loads(e["data"])["seq"] for e in rest]
        self.assertTrue(5 < len(seqs) < 200, len(seqs))
        # Exact: the dropped ones are those between the id and the oldest held, then all held.
        self.assertEqual(d["dropped"], seqs[0] - first - 1)
        self.assertEqual(seqs, list(range(seqs[0], first + 200)))
        self.assertEqual([json.loads(e["data"])["message"] for e in rest],
                         [lowered(t) for t in texts[200 - len(rest):]])
        m = harness.metrics(host, port)
        self.assertEqual(m["downcase_stream_events_dropped_total"], d["dropped"])
        self.assertLessEqual(m["downcase_stream_window_bytes"], 16 * 1024)

    def test_resume_across_a_sub_restart(self):
        pub = self.start(harness.Pub, "--wire=framed")
        log = self.tmp.file("sub.log")
        sub = harness.Sub("--log-format=json", "--http=127.0.0.1:0", log=log,
                          connect=pub.endpoint)
        self.addCleanup(sub.kill)
        host, port = harness.http_address(sub)
        warm_up(pub, log)
        v = SSE(host, port)
        self.assertEqual(v.head()[0], 200)
        publish(pub, ["S-%d" % i for i in range(5)])
        seen = v.events(5)
        self.assertEqual(sub.stop(), 0, sub.stderr_text())
        self.assertTrue(v.body_until_close() is not None)
        v.close()
        # Published while no sub runs: the restarted sub fetches them (retention) and the
        # viewer that resumes gets them, once each, none missing.
        publish(pub, ["S-%d" % i for i in range(5, 9)])
        sub2 = self.start(harness.Sub, "--log-format=json", "--http=127.0.0.1:0", log=log,
                          connect=pub.endpoint)
        host2, port2 = harness.http_address(sub2)
        wait_for(lambda: any(e.get("message") == lowered("S-8") for e in self.log_entries(log)),
                 10, "the replayed messages")
        w = self.viewer(host2, port2, headers=["Last-Event-ID: " + seen[-1]["id"]])
        got = w.events(4)
        self.assertEqual([json.loads(e["data"])["message"] for e in got],
                         [lowered("S-%d" % i) for i in range(5, 9)])
        self.assertTrue(all(e.get("event", "message") == "message" for e in got))

    # ---- a stalled viewer -------------------------------------------------------------------

    def test_stalled_viewer_is_dropped_and_the_healthy_one_gets_everything(self):
        # About 6 MB of events: far more than the stalled viewer's socket buffers and its
        # --stream-lag hold, while the healthy viewer reads them as they come.
        pub, sub, log, host, port = self.start_pair("--stream-buffer=32m", "--stream-lag=512k")
        healthy = self.viewer(host, port)
        stalled = self.viewer(host, port, rcvbuf=4096)
        count = 20000
        texts = ["L-%05d-%s" % (i, "y" * 100) for i in range(count)]
        want = [lowered(t) for t in texts]
        reader = threading.Thread(target=healthy.read_until, args=(texts[-1].encode(),))
        reader.start()
        publish(pub, texts)
        reader.join(60 * SLOW)
        got = [json.loads(ev["data"]).get("message") for ev in healthy.events(count, timeout=10)]
        self.assertTrue(got == want, "the healthy viewer missed events")
        # Now the stalled viewer reads: some events, then `dropped` with the exact count of
        # those it skipped (possibly several times), and every event it gets is in order.
        received = []
        dropped = 0
        after = lowered("L-after")
        publish(pub, ["L-after"])
        while True:
            ev = stalled.next(10)
            self.assertIsNotNone(ev, "the stalled viewer got nothing more")
            if "comment" in ev or "data" not in ev:
                continue
            if ev.get("event") == "dropped":
                dropped += json.loads(ev["data"])["dropped"]
                continue
            msg = json.loads(ev["data"])["message"]
            if msg == after:
                break
            received.append(msg)
        self.assertGreater(dropped, 0)
        self.assertGreater(len(received), 0)
        self.assertEqual(len(received) + dropped, count)
        where = {m: i for i, m in enumerate(want)}
        positions = [where[m] for m in received]
        self.assertTrue(positions == sorted(set(positions)), "out of order or repeated")
        m = harness.metrics(host, port)
        self.assertEqual(m["downcase_stream_events_dropped_total"], dropped)
        self.assertEqual(m["downcase_stream_clients"], 2)

    # ---- keepalive --------------------------------------------------------------------------

    def test_keepalive_comment_test_interval(self):
        pub, sub, log, host, port = self.start_pair(env={"DOWNCASE_STREAM_KEEPALIVE_MS": "200"})
        v = self.viewer(host, port)
        self.assertEqual(v.next(), {"retry": "1000"})
        comments = 0
        deadline = time.monotonic() + 1.5 * SLOW
        while time.monotonic() < deadline:
            ev = v.next(0.5)
            if ev and ev.get("comment") == "keepalive":
                comments += 1
        self.assertGreaterEqual(comments, 3)

    def test_keepalive_comment_every_15_seconds(self):
        pub, sub, log, host, port = self.start_pair()
        v = self.viewer(host, port)
        self.assertEqual(v.next(), {"retry": "1000"})
        t0 = time.monotonic()
        ev = v.next(20)
        elapsed = time.monotonic() - t0
        self.assertEqual(ev, {"comment": "keepalive"})
        # The timer runs from the sub's start, so the first comes within 15 s of connecting.
        self.assertLess(elapsed, 15.5 * SLOW)
        ev = v.next(20)
        t1 = time.monotonic() - t0 - elapsed
        self.assertEqual(ev, {"comment": "keepalive"})
        self.assertGreater(t1, 14.0)
        self.assertLess(t1, 16.0 * SLOW)

    # ---- access -----------------------------------------------------------------------------

    def token_file(self, token, mode=0o600, name="token"):
        path = self.tmp.file(name)
        with open(path, "w") as f:
            f.write(token + "\n")
        os.chmod(path, mode)
        return path

    def test_token_missing_wrong_right(self):
        token = "s3cret-Token_0123456789abcdef"
        pub, sub, log, host, port = self.start_pair("--http-token=" + self.token_file(token))
        for target in ("/", "/stream"):
            status, headers, body = harness.http_get(host, port, target)
            self.assertEqual(status, 401, (target, body))
            self.assertIn("Authorization: Bearer TOKEN", body.decode())
            self.assertEqual(headers["www-authenticate"], 'Bearer realm="downcase"')
            self.assertIn("content-security-policy", headers)
            for wrong in ("Authorization: Bearer " + token[:-1] + "X",
                          "Authorization: Bearer " + token + "x",
                          "Authorization: Bearer " + token[:-1],
                          "Authorization: Bearer x",
                          "Cookie: downcase_token=" + token.upper()):
                status, headers, body = harness.http_get(host, port, target,
                                                         wrong.encode() + b"\r\n")
                self.assertEqual(status, 401, (target, wrong, body))
                self.assertEqual(body, b"401 Unauthorized: wrong token\n")
        # Right, as a bearer token and as the cookie.
        status, headers, body = harness.http_get(host, port, "/",
                                                 b"Authorization: Bearer " + token.encode() +
                                                 b"\r\n")
        self.assertEqual(status, 200)
        self.viewer(host, port, headers=["Authorization: Bearer " + token])
        self.viewer(host, port, headers=["Cookie: a=1; downcase_token=%s; b=2" % token])
        # /?token= sets the cookie and sends the browser to / without the token in the address.
        status, headers, body = harness.http_get(host, port, "/?token=" + token)
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], "/")
        self.assertEqual(headers["set-cookie"],
                         "downcase_token=%s; Path=/; HttpOnly; SameSite=Strict" % token)
        status, headers, body = harness.http_get(host, port, "/?token=wrong" + token)
        self.assertEqual(status, 401)
        self.assertNotIn("set-cookie", headers)
        # Probes need no token.
        self.assertEqual(harness.http_get(host, port, "/healthz")[0], 200)
        self.assertEqual(harness.http_get(host, port, "/metrics")[0], 200)

    def test_token_file_checks(self):
        pub = self.start(harness.Pub, "--wire=framed")
        cases = [
            (self.token_file("a" * 20, 0o640, "t1"), r"accessible to group or others \(mode 0640\)"),
            (self.token_file("short", name="t2"), r"shorter than 16 characters"),
            (self.token_file("has space in it 0123456789", name="t3"), r"a character outside"),
            (self.tmp.file("absent"), r"cannot open: No such file"),
        ]
        for path, why in cases:
            p = harness.Proc(["--role=sub", "--http=127.0.0.1:0", "--http-token=" + path,
                              "--connect=" + pub.endpoint])
            self.assertEqual(p.wait(10), 1, p.stderr_text())
            self.assertRegex(p.stderr_text(), r"--http-token \S+: .*" + why)
            self.assertNotIn("http listening", p.stderr_text())

    def test_off_loopback_403_without_token(self):
        pub, sub, log, host, port = self.start_pair(http="0.0.0.0:0")
        self.assertIn("needs --http-token=FILE off loopback", sub.stderr_text())
        for target in ("/", "/stream"):
            status, headers, body = harness.http_get("127.0.0.1", port, target)
            self.assertEqual(status, 403, body)
            self.assertIn("--http-token=FILE", body.decode())
        self.assertEqual(harness.http_get("127.0.0.1", port, "/healthz")[0], 200)
        self.assertEqual(harness.http_get("127.0.0.1", port, "/metrics")[0], 200)

    def test_off_loopback_with_token(self):
        token = "0123456789abcdefXYZ"
        pub, sub, log, host, port = self.start_pair(
            "--http-token=" + self.token_file(token), http="0.0.0.0:0")
        self.assertEqual(harness.http_get("127.0.0.1", port, "/")[0], 401)
        self.viewer("127.0.0.1", port, headers=["Authorization: Bearer " + token])

    # ---- the page ---------------------------------------------------------------------------

    def test_page_is_self_contained_with_csp(self):
        pub, sub, log, host, port = self.start_pair()
        status, headers, body = harness.http_get(host, port, "/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        html = body.decode()
        # Scripts and styles only from the page's own origin, none inline.
        self.assertEqual(re.findall(r"<script[^>]*>", html), ['<script src="app.js" defer>'])
        self.assertNotIn("<style", html)
        self.assertNotRegex(html, r"https?://")
        csp = headers["content-security-policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe", csp)
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        for target, ctype in (("/app.js", "text/javascript; charset=utf-8"),
                              ("/app.css", "text/css; charset=utf-8")):
            status, headers, body = harness.http_get(host, port, target)
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], ctype)
            self.assertIn("content-security-policy", headers)
            self.assertNotRegex(body.decode(), r"https?://")
        status, headers, body = harness.http_get(host, port, "/nothing-here")
        self.assertEqual(status, 404)
        self.assertIn("/stream", body.decode())
        js = harness.http_get(host, port, "/app.js")[2].decode()
        self.assertNotIn("innerHTML", js)
        self.assertNotIn("insertAdjacentHTML", js)

    # ---- the command line and stopping ------------------------------------------------------

    def test_flags(self):
        cases = [
            (["--http=127.0.0.1:0", "--metrics=127.0.0.1:0"], "--http and --metrics are the same"),
            (["--stream-buffer=1m"], "need --http=HOST:PORT"),
            (["--http=127.0.0.1:0", "--stream-buffer=64k", "--stream-lag=128k"],
             "must not exceed --stream-buffer"),
            (["--http=127.0.0.1:0", "--stream-lag=1"], "invalid value '1' for --stream-lag"),
        ]
        for args, why in cases:
            p = harness.Proc(["--role=sub"] + args)
            self.assertEqual(p.wait(10), 2, p.stderr_text())
            self.assertIn(why, p.stderr_text())
        p = harness.Proc(["--role=pub", "--stream-lag=1m"])
        self.assertEqual(p.wait(10), 2)
        self.assertIn("--stream-lag does not apply to --role=pub", p.stderr_text())

    def test_stop_with_viewers_connected(self):
        pub, sub, log, host, port = self.start_pair()
        views = [self.viewer(host, port) for _ in range(3)]
        stalled = self.viewer(host, port, rcvbuf=4096)
        publish(pub, ["Q-%d-%s" % (i, "z" * 2000) for i in range(300)])
        views[0].events(300, timeout=30)
        self.assertEqual(harness.metrics(host, port)["downcase_stream_clients"], 4)
        self.assertEqual(sub.stop(), 0, sub.stderr_text())
        for v in views + [stalled]:
            v.body_until_close()
            self.assertTrue(v.closed)


if __name__ == "__main__":
    unittest.main()
