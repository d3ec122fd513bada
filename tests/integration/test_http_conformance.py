"""HTTP/1.1 conformance of the pub's server, table-driven from RFC 9110 and RFC 9112.

Each case is raw bytes, the statuses allowed for each answer it must get, and whether the
connection must then be closed. Every case is sent twice, on fresh connections: whole, and one
byte per write (TCP_NODELAY, so the server meets every state at a read boundary). Every answer
is parsed by h11, a strict HTTP/1.1 client. A case that must close is read to its end: nothing
may follow the last answer (no smuggled request is answered). A case that keeps the connection
sends one more request on it, whose answer must come next and be the right one (so the server
and the client still agree where requests end). After each case a fresh connection must be
served. Where the RFC lets a recipient choose (a bare LF, duplicate Content-Length, ...) the
table says which reading downcase takes: strict framing, 400 and close, everywhere.

The pub runs with --max-body-bytes=1024 so that the limits of chunked bodies are cheap to pass.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import h11

import harness
import testmain
from harness import connect, read_responses, read_until_closed

MAX_BODY = 1024
KEEP, CLOSE = "keep", "close"
NEXT = b"GET /downcase/?param=NeXT HTTP/1.1\r\nHost: t\r\n\r\n"
NEXT_BODY = b"lower case of NeXT is next"


def head(first=b"GET /downcase/?param=A HTTP/1.1", *fields):
    """A request head: the request line, then field lines (Host: t unless fields are given)."""
    fields = fields or (b"Host: t",)
    return first + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"


CHUNKED = head(b"GET /downcase/?param=C HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked")
C200 = b"lower case of C is c"  # the answer to CHUNKED once its body is read
# The issue's reproducer: its first request's head, as sent.
ISSUE = b"GET /downcase/?param=A HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


def case(name, rfc, raw, want, conn, body=None):
    """want: for each answer expected, the set of statuses allowed (an int: that one);
    conn: KEEP or CLOSE after the last one; body: what the last answer's body must be."""
    want = [w if isinstance(w, set) else {w} for w in (want if isinstance(want, list) else
                                                       [want])]
    return {"name": name, "rfc": rfc, "raw": raw, "want": want, "conn": conn, "body": body}


CASES = [
    # ---- line endings in the head: RFC 9112 section 2.2 lets a recipient accept a bare LF and
    # requires a bare CR to be refused or read as SP; downcase refuses both (two parsers that
    # read line ends differently are what request smuggling needs).
    case("bare CR ending the request line", "9112 2.2",
         b"GET /downcase/?param=A HTTP/1.1\rX: y\r\nHost: t\r\n\r\n", 400, CLOSE),
    case("bare LF ending the request line", "9112 2.2",
         b"GET /downcase/?param=A HTTP/1.1\nHost: t\r\n\r\n", 400, CLOSE),
    case("bare CR in a header value (CVE-2023-30589)", "9112 2.2",
         b"GET /downcase/?param=A HTTP/1.1\r\nHost: t\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n"
         b"\r\n1\r\nA\r\n0\r\n\r\n", 400, CLOSE),
    case("bare LF ending a header line", "9112 2.2",
         b"GET /downcase/?param=A HTTP/1.1\r\nHost: t\nX: y\r\n\r\n", 400, CLOSE),
    case("bare LF ending the head", "9112 2.2",
         b"GET /downcase/?param=A HTTP/1.1\r\nHost: t\r\n\n", 400, CLOSE),
    case("bare CR ending the head", "9112 2.2",
         b"GET /downcase/?param=A HTTP/1.1\r\nHost: t\r\n\rX", 400, CLOSE),
    case("CR CR LF", "9112 2.2",
         b"GET /downcase/?param=A HTTP/1.1\r\r\nHost: t\r\n\r\n", 400, CLOSE),
    case("bare LF before the request line", "9112 2.2",
         b"\nGET /downcase/?param=A HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE),
    case("empty lines before the request line are skipped", "9112 2.2",
         b"\r\n\r\n" + head(), 200, KEEP, b"lower case of A is a"),
    # ---- field lines: RFC 9112 section 5
    case("obsolete line folding with SP (CVE-2024-27982)", "9112 5.2",
         b"GET /downcase/?param=A HTTP/1.1\r\nHost: t\r\nX-A: a\r\n Content-Length: 5\r\n\r\n",
         400, CLOSE),
    case("obsolete line folding with HTAB", "9112 5.2",
         b"GET /downcase/?param=A HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\n\r\n", 400, CLOSE),
    case("whitespace between a header name and its colon", "9112 5.1",
         head(b"GET /downcase/?param=A HTTP/1.1", b"Host: t", b"Content-Length : 5"), 400, CLOSE),
    case("space inside a header name", "9110 5.1", head(b"GET / HTTP/1.1", b"Host: t", b"X Y: z"),
         400, CLOSE),
    case("empty header name", "9110 5.1", head(b"GET / HTTP/1.1", b"Host: t", b": z"), 400, CLOSE),
    case("header line without a colon", "9112 5", head(b"GET / HTTP/1.1", b"Host: t", b"X-Y"), 400,
         CLOSE),
    case("NUL in a header value", "9110 5.5", head(b"GET / HTTP/1.1", b"Host: t", b"X: a\x00b"),
         400, CLOSE),
    case("control character in a header value", "9110 5.5",
         head(b"GET / HTTP/1.1", b"Host: t", b"X: a\x01b"), 400, CLOSE),
    case("DEL in a header value", "9110 5.5",
         head(b"GET / HTTP/1.1", b"Host: t", b"X: a\x7fb"), 400, CLOSE),
    case("raw UTF-8 (obs-text) and inner whitespace in a value", "9110 5.5",
         head(b"GET /downcase/?param=A HTTP/1.1", b"Host: t", "X-Name: Σ \t x \t".encode()), 200,
         KEEP, b"lower case of A is a"),
    # ---- the request line: RFC 9112 section 3
    case("two spaces after the method", "9112 3",
         b"GET  /downcase/?param=A HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE),
    case("HTAB in the target", "9112 3.2", head(b"GET /downcase/?param=A\tB HTTP/1.1"), 400,
         CLOSE),
    case("SP in the target", "9112 3.2", head(b"GET /downcase/?param=A B HTTP/1.1"), 400, CLOSE),
    case("control character in the target", "9112 3.2",
         head(b"GET /downcase/?param=A\x01 HTTP/1.1"), 400, CLOSE),
    case("no HTTP version (HTTP/0.9's request line)", "9112 3", b"GET /downcase/?param=A\r\n\r\n",
         {400, 505}, CLOSE),
    case("HTTP-name in lower case", "9112 2.3", head(b"GET /downcase/?param=A http/1.1"), 400,
         CLOSE),
    case("SP after the version", "9112 3", head(b"GET /downcase/?param=A HTTP/1.1 "), 400, CLOSE),
    case("raw UTF-8 in the query (what curl sends)", "9112 3.2",
         head("GET /downcase/?param=ΣΑΣ HTTP/1.1".encode()), 200, KEEP,
         "lower case of ΣΑΣ is σας".encode()),
    case("raw UTF-8 in the path", "9112 3.2", head("GET /Σ HTTP/1.1".encode()), 404, KEEP),
    case("a target starting with a byte >= 0x80", "9112 3.2", head("GET Σ HTTP/1.1".encode()),
         400, CLOSE),
    # ---- versions: RFC 9110 section 2.5 (a minor version is compatible; 505 is for majors)
    case("HTTP/1.2 is served as 1.1", "9110 2.5", head(b"GET /downcase/?param=V HTTP/1.2"), 200,
         KEEP, b"lower case of V is v"),
    case("HTTP/1.9 is served as 1.1", "9110 2.5", head(b"GET /downcase/?param=V HTTP/1.9"), 200,
         KEEP, b"lower case of V is v"),
    case("HTTP/2.0", "9110 15.6.6", head(b"GET /downcase/?param=A HTTP/2.0"), 505, CLOSE),
    case("HTTP/3.0", "9110 15.6.6", head(b"GET /downcase/?param=A HTTP/3.0"), 505, CLOSE),
    case("HTTP/0.9 with a version", "9110 15.6.6", head(b"GET /downcase/?param=A HTTP/0.9"), 505,
         CLOSE),
    case("HTTP/2 preface (prior knowledge)", "9113 3.4", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
         505, CLOSE),
    case("HTTP/2.0 is refused as soon as its request line ends", "9110 15.6.6",
         b"GET /downcase/?param=A HTTP/2.0\r\n", 505, CLOSE),
    case("version of two digits", "9112 2.3", head(b"GET /downcase/?param=A HTTP/10.1"), 400,
         CLOSE),
    case("version not a digit", "9112 2.3", head(b"GET /downcase/?param=A HTTP/1.x"), 400, CLOSE),
    case("HTTP/1.0 without Host closes by default", "9112 9.3",
         b"GET /downcase/?param=A HTTP/1.0\r\n\r\n", 200, CLOSE, b"lower case of A is a"),
    # ---- methods: RFC 9110 section 9.1 (unknown: 501; known but not allowed here: 405)
    case("unknown method on /downcase/", "9110 9.1", head(b"FOO /downcase/?param=A HTTP/1.1"),
         {501, 405}, CLOSE),
    case("unknown method elsewhere", "9110 9.1", head(b"FOO /elsewhere HTTP/1.1"), 501, CLOSE),
    case("methods are case-sensitive: get", "9110 9.1", head(b"get /downcase/?param=A HTTP/1.1"),
         501, CLOSE),
    case("an RTSP method over HTTP", "9110 9.1", head(b"PLAY /downcase/?param=A HTTP/1.1"), 501,
         CLOSE),
    case("a method that is not a token", "9110 9.1", head(b"G(T /downcase/?param=A HTTP/1.1"), 400,
         CLOSE),
    case("unknown method in a malformed request line", "9112 3",
         head(b"FOO /downcase/?param=A\x01 HTTP/1.1"), 400, CLOSE),
    case("PUT on /downcase/", "9110 15.5.6",
         head(b"PUT /downcase/?param=A HTTP/1.1", b"Host: t", b"Content-Length: 0"), 405, KEEP),
    case("GET *", "9112 3.2.4", head(b"GET * HTTP/1.1"), 400, CLOSE),
    case("HEAD *", "9112 3.2.4", head(b"HEAD * HTTP/1.1"), 400, CLOSE),
    case("OPTIONS * is a valid request", "9112 3.2.4", head(b"OPTIONS * HTTP/1.1"),
         {200, 204, 404}, KEEP),
    # ---- Host: RFC 9112 section 3.2 (exactly one, of the form uri-host [":" port])
    case("no Host in HTTP/1.1", "9112 3.2", head(b"GET /downcase/?param=A HTTP/1.1", b"X: y"), 400,
         CLOSE),
    case("two Host headers", "9112 3.2",
         head(b"GET /downcase/?param=A HTTP/1.1", b"Host: a", b"Host: a"), 400, CLOSE),
    *[case("Host: %s" % v.decode("utf-8", "replace"), "9112 3.2",
           head(b"GET /downcase/?param=A HTTP/1.1", b"Host: " + v), 400, CLOSE)
      for v in [b"a b", b"a/b", b"u@a", b"a:x", b"a:80:81", b"a, b", b"a,b", b"[::1", b"[]",
                b"a%4", "aΣ".encode()]],
    *[case("Host: %s" % v.decode(), "9112 3.2",
           head(b"GET /downcase/?param=H HTTP/1.1", b"Host:" + v), 200, KEEP,
           b"lower case of H is h")
      for v in [b" a.example:8080", b"127.0.0.1", b" [::1]:80 ", b"", b" xn--bcher-kva.example",
                b" a%41:"]],
    # ---- message framing: RFC 9112 section 6
    case("Content-Length and Transfer-Encoding", "9112 6.1",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Content-Length: 5", b"Transfer-Encoding: chunked")
         + b"0\r\n\r\n", 400, CLOSE),
    case("Transfer-Encoding and Content-Length", "9112 6.1",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked", b"Content-Length: 5")
         + b"0\r\n\r\n", 400, CLOSE),
    case("chunked not the final coding", "9112 6.3",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked, gzip") + b"0\r\n\r\n",
         400, CLOSE),
    case("Transfer-Encoding without chunked", "9112 6.3",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Transfer-Encoding: gzip") + b"abc", 400, CLOSE),
    case("chunked twice, in two fields", "9112 7",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked",
              b"Transfer-Encoding: chunked") + b"0\r\n\r\n", 400, CLOSE),
    case("chunked twice, in a list", "9112 7",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked, chunked")
         + b"0\r\n\r\n", 400, CLOSE),
    case("empty Transfer-Encoding", "9112 6.1",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Transfer-Encoding:") + b"0\r\n\r\n", 400, CLOSE),
    case("a Transfer-Encoding that is not a list of codings", "9112 6.1",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Transfer-Encoding: chu a, chunked")
         + b"0\r\n\r\n", 400, CLOSE),
    case("transfer-parameters (downcase takes bare codings only)", "9112 7",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Transfer-Encoding: gzip;q=1, chunked")
         + b"0\r\n\r\n", 400, CLOSE),
    case("another coding before chunked, empty list elements", "9110 5.6.1",
         head(b"GET /downcase/?param=C HTTP/1.1", b"Host: t", b"Transfer-Encoding: gzip,, chunked")
         + b"0\r\n\r\n", {200, 501}, KEEP, C200),
    case("transfer codings are case-insensitive", "9112 7",
         head(b"GET /downcase/?param=C HTTP/1.1", b"Host: t", b"Transfer-Encoding: Chunked")
         + b"0\r\n\r\n", 200, KEEP, C200),
    case("HTTP/1.0 with Transfer-Encoding", "9112 6.1",
         head(b"POST /x HTTP/1.0", b"Transfer-Encoding: chunked") + b"0\r\n\r\n", 400, CLOSE),
    case("HTTP/1.0 keep-alive with Transfer-Encoding, then a request", "9112 6.1",
         head(b"GET /downcase/?param=A HTTP/1.0", b"Connection: keep-alive",
              b"Transfer-Encoding: chunked") + b"0\r\n\r\n"
         + b"GET /downcase/?param=B HTTP/1.0\r\n\r\n", 400, CLOSE),
    case("HTTP/1.0 with Transfer-Encoding and Content-Length", "9112 6.1",
         head(b"POST /x HTTP/1.0", b"Transfer-Encoding: chunked", b"Content-Length: 5")
         + b"0\r\n\r\n", 400, CLOSE),
    case("duplicate Content-Length", "9110 8.6",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Content-Length: 3", b"Content-Length: 3") + b"abc",
         400, CLOSE),
    *[case("Content-Length: %s" % v.decode(), "9110 8.6",
           head(b"POST /x HTTP/1.1", b"Host: t", b"Content-Length: " + v) + b"abc", 400, CLOSE)
      for v in [b"3, 3", b"+3", b"-3", b"0x3", b"3 3", b""]],
    case("Content-Length with trailing whitespace", "9110 5.5",
         head(b"GET /downcase/?param=L HTTP/1.1", b"Host: t", b"Content-Length: 3 ") + b"abc", 200,
         KEEP, b"lower case of L is l"),
    case("a Content-Length body is not screened", "9112 6.2",
         head(b"GET /downcase/?param=L HTTP/1.1", b"Host: t", b"Content-Length: 9")
         + b"a\rb\nc\r\n d", 200, KEEP, b"lower case of L is l"),
    case("Content-Length over --max-body-bytes", "9110 15.5.14",
         head(b"POST /x HTTP/1.1", b"Host: t", b"Content-Length: %d" % (MAX_BODY + 1)), 413, CLOSE),
    # ---- chunked bodies: RFC 9112 section 7.1
    case("a chunked body", "9112 7.1", CHUNKED + b"5\r\nhello\r\n0\r\n\r\n", 200, KEEP, C200),
    case("issue: CR then X after the last chunk hides a request", "9112 7.1",
         ISSUE + b"0\r\n\rXGET /downcase/?param=B HTTP/1.1\r\nHost: a\r\n\r\n", 400, CLOSE),
    case("issue: CR then X ends a chunk size line", "9112 7.1",
         ISSUE + b"5\rXhello\r\n0\r\n\r\n", 400, CLOSE),
    case("issue: no CRLF after chunk data", "9112 7.1", ISSUE + b"5\r\nhelloXY0\r\n\r\n", 400,
         CLOSE),
    case("bare LF after a chunk size", "9112 7.1", CHUNKED + b"5\nhello\r\n0\r\n\r\n", 400, CLOSE),
    case("bare LF after chunk data", "9112 7.1", CHUNKED + b"5\r\nhello\n0\r\n\r\n", 400, CLOSE),
    case("bare CR after chunk data", "9112 7.1", CHUNKED + b"5\r\nhello\r0\r\n\r\n", 400, CLOSE),
    case("chunk data longer than its size", "9112 7.1", CHUNKED + b"5\r\nhelloo\r\n0\r\n\r\n", 400,
         CLOSE),
    case("chunk data shorter than its size", "9112 7.1", CHUNKED + b"5\r\nhell\r\n0\r\n\r\n", 400,
         CLOSE),
    case("bare LF after the last chunk", "9112 7.1", CHUNKED + b"0\n\r\n", 400, CLOSE),
    case("bare LF ending the trailer section", "9112 7.1.2", CHUNKED + b"0\r\n\n", 400, CLOSE),
    case("a trailer field", "9112 7.1.2", CHUNKED + b"0\r\nX-Sum: 1\r\nX-U:\r\n\r\n", 200, KEEP,
         C200),
    case("bare LF ending a trailer field", "9112 7.1.2", CHUNKED + b"0\r\nX-Sum: 1\n\r\n", 400,
         CLOSE),
    case("bare CR in a trailer field", "9112 7.1.2", CHUNKED + b"0\r\nX-Sum: 1\rX\r\n\r\n", 400,
         CLOSE),
    case("obsolete line folding in a trailer", "9112 7.1.2",
         CHUNKED + b"0\r\nX-Sum: 1\r\n 2\r\n\r\n", 400, CLOSE),
    case("trailer field without a colon", "9112 7.1.2", CHUNKED + b"0\r\nX-Sum 1\r\n\r\n", 400,
         CLOSE),
    case("whitespace before a trailer field's colon", "9112 7.1.2",
         CHUNKED + b"0\r\nX-Sum : 1\r\n\r\n", 400, CLOSE),
    case("chunk sizes with leading zeros, in upper case", "9112 7.1",
         CHUNKED + b"000A\r\n0123456789\r\n0000\r\n\r\n", 200, KEEP, C200),
    *[case("chunk size %r" % size, "9112 7.1", CHUNKED + size + b"\r\nhello\r\n0\r\n\r\n", 400,
           CLOSE)
      for size in [b"0x5", b"-5", b" 5", b"5 ", b"", b"5\t", b"g"]],
    *[case("chunk extension %r" % ext, "9112 7.1.1",
           CHUNKED + b"5" + ext + b"\r\nhello\r\n0" + ext + b"\r\n\r\n", 200, KEEP, C200)
      for ext in [b";a=b;c=d", b";a", b" ;a=b", b"\t; a = b", b';a="q \\" ;"', b';a="\xce\xa3"',
                  b";a=b ;c"]],
    *[case("chunk extension %r" % ext, "9112 7.1.1",
           CHUNKED + b"5" + ext + b"\r\nhello\r\n0\r\n\r\n", 400, CLOSE)
      for ext in [b";", b";a=", b";a@b", b';a="b', b";a=b c", b";a=b ", b";;a", b';a="b\x01"',
                  b";a\rb", b";a\nb"]],
    # ---- limits on chunked bodies: everything sent counts against --max-body-bytes
    case("a chunk larger than the limit is refused before its data", "9110 15.5.14",
         CHUNKED + b"%x\r\n" % (MAX_BODY + 1), 413, CLOSE),
    case("a chunk size of 80 bits", "9112 7.1", CHUNKED + b"ffffffffffffffffffff\r\n",
         {400, 413}, CLOSE),
    case("a chunked body of exactly the limit, as sent", "9110 15.5.14",
         CHUNKED + b"3f4\r\n" + b"x" * 0x3f4 + b"\r\n0\r\n\r\n", 200, KEEP, C200),
    case("a chunked body one byte over the limit, as sent", "9110 15.5.14",
         CHUNKED + b"3f5\r\n" + b"x" * 0x3f5 + b"\r\n0\r\n\r\n", 413, CLOSE),
    case("an endless chunk extension (CVE-2024-22019)", "9112 7.1.1",
         CHUNKED + b"1;" + b"a" * (MAX_BODY + 10), 413, CLOSE),
    case("one-byte chunks whose framing passes the limit", "9112 7.1",
         CHUNKED + b"1\r\nx\r\n" * 200 + b"0\r\n\r\n", 413, CLOSE),
    case("trailers past the limit", "9112 7.1.2",
         CHUNKED + b"0\r\n" + b"X-T: %s\r\n" % (b"t" * 100) * 11 + b"\r\n", {413, 431}, CLOSE),
    # ---- requests on one connection
    case("a good request, then a smuggling shape", "9112 7.1",
         head() + ISSUE + b"0\r\n\rXGET /downcase/?param=B HTTP/1.1\r\nHost: a\r\n\r\n",
         [200, 400], CLOSE),
    case("a chunked request, then another", "9112 9.3",
         CHUNKED + b"5;x=y\r\nhello\r\n0\r\n\r\n" + CHUNKED + b"0\r\n\r\n", [200, 200], KEEP,
         C200),
]


class ConformanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pub = harness.Pub("--max-body-bytes=%d" % MAX_BODY)

    @classmethod
    def tearDownClass(cls):
        rc = cls.pub.stop()
        assert rc == 0, "pub exited %r:\n%s" % (rc, cls.pub.stderr_text())

    def connect(self):
        s = connect(self.pub.host, self.pub.port)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def send(self, s, raw, bytewise):
        """Sends raw whole or a byte per write; stops early if the server has closed (allowed
        once it has answered a refusal)."""
        try:
            if not bytewise:
                s.sendall(raw)
                return
            for i in range(len(raw)):
                s.sendall(raw[i:i + 1])
                if len(raw) < 400:
                    time.sleep(0.0002)  # let the server read each byte on its own
        except (BrokenPipeError, ConnectionResetError):
            pass

    def run_case(self, c, bytewise):
        with self.connect() as s:
            self.send(s, c["raw"], bytewise)
            res = read_responses(s, len(c["want"]))
            got = [r[0] for r in res]
            self.assertEqual(len(res), len(c["want"]), "answers: %r" % got)
            for (status, _, _), allowed in zip(res, c["want"]):
                self.assertIn(status, allowed, "answers: %r" % got)
            status, headers, body = res[-1]
            if c["body"] is not None:
                self.assertEqual(body, c["body"])
            if c["conn"] == CLOSE:
                self.assertEqual(headers.get("connection"), "close", headers)
                try:
                    rest = read_until_closed(s)
                except ConnectionResetError:
                    rest = b""
                self.assertEqual(rest, b"", "bytes after an answer that closes")
            else:
                for _, h, _ in res:
                    self.assertNotEqual(h.get("connection"), "close", h)
                s.sendall(NEXT)
                [(status, _, body)] = read_responses(s, 1)
                self.assertEqual((status, body), (200, NEXT_BODY))
        # The server is still there for everyone else.
        status, _, body = harness.http_get(self.pub.host, self.pub.port, "/downcase/?param=Fresh")
        self.assertEqual((status, body), (200, b"lower case of Fresh is fresh"))

    def test_cases(self):
        names = [c["name"] for c in CASES]
        self.assertEqual(len(names), len(set(names)), "case names must be unique")
        for c in CASES:
            for bytewise in (False, True):
                with self.subTest(case=c["name"], rfc=c["rfc"], bytewise=bytewise):
                    self.run_case(c, bytewise)

    # ---- Expect: 100-continue (RFC 9110 section 10.1.1): a final status at once, or 100 ----

    def expect(self, raw, timeout=1.0):
        """Sends only a head carrying Expect: 100-continue, and waits for an answer before
        sending any body. Returns (status, headers, body, seconds)."""
        with self.connect() as s:
            start = time.monotonic()
            s.sendall(raw)
            # The answer came before the body, which is never sent: the server cannot know
            # whether it follows, so it closes; what came back is read whole.
            data = read_until_closed(s, timeout)
            elapsed = time.monotonic() - start
        self.assertRegex(data, rb"^HTTP/1\.1 [2-5]\d\d ", "a final status first, no 100")
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        client.receive_data(data)
        client.receive_data(b"")
        events = []
        while True:
            ev = client.next_event()
            if ev is h11.NEED_DATA or isinstance(ev, h11.ConnectionClosed):
                break
            events.append(ev)
        self.assertIsInstance(events[0], h11.Response)
        self.assertIsInstance(events[-1], h11.EndOfMessage)
        headers = {k.decode().lower(): v.decode() for k, v in events[0].headers}
        self.assertEqual(headers.get("connection"), "close", headers)
        body = b"".join(e.data for e in events if isinstance(e, h11.Data))
        return events[0].status_code, headers, body, elapsed

    def test_expect_is_answered_before_the_body(self):
        cases = [
            (b"POST /downcase/?param=A HTTP/1.1", b"Content-Length: 5", 405),
            (b"PUT /nowhere HTTP/1.1", b"Content-Length: 5", 404),
            (b"POST /x HTTP/1.1", b"Transfer-Encoding: chunked", 404),
            (b"GET /downcase/?param=E HTTP/1.1", b"Content-Length: 5", 200),
            (b"POST /x HTTP/1.1", b"Content-Length: %d" % (MAX_BODY + 1), 413),
        ]
        for line, framing, want in cases:
            with self.subTest(line=line, framing=framing):
                raw = head(line, b"Host: t", b"Expect: 100-Continue" + b" " * 40, framing)
                status, headers, body, elapsed = self.expect(raw)
                self.assertEqual(status, want, body)
                if want == 200:
                    self.assertEqual(body, b"lower case of E is e")
                self.assertLess(elapsed, 0.5 * harness.SLOW)

    def test_expect_without_a_body_is_an_ordinary_request(self):
        # RFC 9110 10.1.1: a client MUST NOT send 100-continue without content; a server that
        # gets one anyway has nothing to wait for.
        with self.connect() as s:
            s.sendall(head(b"GET /downcase/?param=X HTTP/1.1", b"Host: t",
                           b"Expect: 100-continue") + NEXT)
            res = read_responses(s, 2)
        self.assertEqual([(r[0], r[2]) for r in res],
                         [(200, b"lower case of X is x"), (200, NEXT_BODY)])

    def test_expect_in_http10_is_ignored(self):
        # RFC 9110 10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
        # request MUST ignore that expectation": the body is read, then the request answered.
        with self.connect() as s:
            s.sendall(head(b"GET /downcase/?param=Old HTTP/1.0", b"Expect: 100-continue",
                           b"Content-Length: 5"))
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                s.recv(1)
            s.settimeout(10 * harness.SLOW)
            s.sendall(b"hello")
            [(status, _, body)] = read_responses(s, 1)
        self.assertEqual((status, body), (200, b"lower case of Old is old"))

    def test_curl_does_not_wait_for_100_continue(self):
        # The issue's complaint: curl sent the head, heard nothing, and waited its full second
        # before sending the body anyway. curl sends Expect itself when it uploads (-T).
        # (A pub with the default body limit: curl asks only for uploads over 1 KiB.)
        curl = shutil.which("curl")
        self.assertIsNotNone(curl, "curl is a test dependency (scripts/lib/packages.sh)")
        pub = harness.Pub()
        self.addCleanup(lambda: self.assertEqual(pub.stop(), 0, pub.stderr_text()))
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"x" * 3000)
            f.flush()
            base = "http://%s:%d" % (pub.host, pub.port)
            # (-T appends the file's name to a URL path ending in '/': /healthz instead.)
            for args, want in [(["-T", f.name, base + "/healthz"], "405"),
                               (["-H", "Expect: 100-continue", "--data-binary", "@" + f.name,
                                 base + "/downcase/?param=x"], "405")]:
                with self.subTest(args=args[:2]):
                    out = subprocess.run(
                        [curl, "-sS", "-o", os.devnull, "-w", "%{http_code} %{time_total}"]
                        + args, capture_output=True, text=True, timeout=30 * harness.SLOW)
                    code, seconds = out.stdout.split()
                    self.assertEqual(code, want, out.stderr)
                    self.assertLess(float(seconds), 0.5 * harness.SLOW)

    def test_curl_sends_raw_utf8_and_is_answered(self):
        # curl puts the bytes of 'param=ΣΑΣ' on the wire as they are, unencoded.
        curl = shutil.which("curl")
        self.assertIsNotNone(curl, "curl is a test dependency (scripts/lib/packages.sh)")
        url = "http://%s:%d/downcase/?param=ΣΑΣ" % (self.pub.host, self.pub.port)
        out = subprocess.run([curl, "-sS", "-v", url], capture_output=True,
                             timeout=30 * harness.SLOW)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("> GET /downcase/?param=ΣΑΣ HTTP/1.1".encode(), out.stderr)
        self.assertEqual(out.stdout, "lower case of ΣΑΣ is σας".encode())


if __name__ == "__main__":
    testmain.main()
