"""downcase --probe=URL, the container health check: exit 0 on a 200 from a real pub, 1 with one
line on stderr for anything else (another status, a refused or silent peer, a reply that is not
HTTP), 2 for a URL it cannot use. Every run has a timeout well above the probe's own 3 s."""

import re
import socket
import struct
import subprocess
import threading
import unittest

import harness
import testmain

DIAG_RX = re.compile(r"^downcase(\[probe\])?: \S[^\n]*\n\Z")


def probe(url, timeout=15.0):
    """Runs downcase --probe=URL; returns (status, stdout, stderr)."""
    if not harness.BINARY:
        testmain.skip("DOWNCASE is not set (run through meson test)")
    p = subprocess.run(harness.WRAPPER + [harness.BINARY, "--probe=" + url],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout * harness.SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class FakeServer:
    """A loopback TCP server whose every connection gets `reply` (None: nothing) and is then
    closed (close=True) or held open until the server stops."""

    def __init__(self, reply, close=True, reset=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reply, self.close, self.reset = reply, close, reset
        self.held = []
        self.requests = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                self.requests.append(conn.recv(65536))
            except OSError:
                pass
            if self.reply is not None:
                conn.sendall(self.reply)
            if self.reset:
                # SO_LINGER 0: close() sends a RST instead of a FIN.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif self.close:
                conn.close()
            else:
                self.held.append(conn)

    def stop(self):
        # shutdown() wakes the accept() in the thread; close() alone may not.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)
        for c in self.held:
            c.close()


class ProbeTest(harness.ProcessTest):

    def serve(self, reply, close=True, reset=False):
        s = FakeServer(reply, close, reset)
        self.addCleanup(s.stop)
        return s

    def assertOneLine(self, err, *words):
        self.assertRegex(err, DIAG_RX)
        for w in words:
            self.assertIn(w, err)

    def test_200_from_pub_is_healthy(self):
        pub = self.start(harness.Pub)
        status, out, err = probe("http://127.0.0.1:%d/downcase/?param=probe" % pub.port)
        self.assertEqual((status, out, err), (0, "", ""))

    def test_404_is_unhealthy(self):
        pub = self.start(harness.Pub)
        url = "http://127.0.0.1:%d/no-such-path" % pub.port
        status, out, err = probe(url)
        self.assertEqual(status, 1, err)
        self.assertEqual(out, "")
        self.assertOneLine(err, url, "404")

    def test_400_is_unhealthy(self):
        pub = self.start(harness.Pub)
        status, _, err = probe("http://127.0.0.1:%d/downcase/" % pub.port)
        self.assertEqual(status, 1, err)
        self.assertOneLine(err, "400")

    def test_localhost_name(self):
        pub = self.start(harness.Pub)
        status, _, err = probe("http://localhost:%d/downcase/?param=x" % pub.port)
        self.assertEqual(status, 0, err)

    def test_closed_port(self):
        port = harness.refusing_port(self)
        status, out, err = probe("http://127.0.0.1:%d/healthz" % port)
        self.assertEqual(status, 1, err)
        self.assertEqual(out, "")
        self.assertOneLine(err, "127.0.0.1:%d" % port, "refused")

    def test_malformed_urls_exit_2(self):
        for url in ["ftp://127.0.0.1/", "http://", "http://h:99999/", "127.0.0.1:5000",
                    "http://u@h/", "http://h/a b"]:
            with self.subTest(url=url):
                status, out, err = probe(url)
                self.assertEqual(status, 2, err)
                self.assertEqual(out, "")
                self.assertIn("--probe", err)

    def test_unknown_host(self):
        status, _, err = probe("http://no-such-host.invalid:5000/healthz")
        self.assertEqual(status, 1, err)
        self.assertOneLine(err, "no-such-host.invalid")

    def test_request_sent(self):
        """What the probe sends: a plain HTTP/1.1 GET of the path with Host and close."""
        srv = self.serve(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        status, _, err = probe("http://127.0.0.1:%d/healthz?x=1#frag" % srv.port)
        self.assertEqual(status, 0, err)
        harness.wait_for(lambda: srv.requests, what="the request")
        req = srv.requests[0]
        self.assertTrue(req.startswith(b"GET /healthz?x=1 HTTP/1.1\r\n"), req)
        self.assertIn(b"\r\nHost: 127.0.0.1:%d\r\n" % srv.port, req)
        self.assertIn(b"\r\nConnection: close\r\n", req)
        self.assertTrue(req.endswith(b"\r\n\r\n"), req)

    def test_http_1_0_200(self):
        srv = self.serve(b"HTTP/1.0 200 OK\r\n\r\nok")
        status, _, err = probe("http://127.0.0.1:%d/" % srv.port)
        self.assertEqual(status, 0, err)

    def test_not_http(self):
        for reply in [b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.1 2000 OK\r\n\r\n",
                      b"HTTP/2 200\r\n\r\n", b"HTTP/1.1 200OK\r\n\r\n", b"\x00\x01\x02\n",
                      b"HTTP/1.1 099 Low\r\n\r\n"]:
            with self.subTest(reply=reply):
                srv = self.serve(reply)
                status, _, err = probe("http://127.0.0.1:%d/" % srv.port)
                self.assertEqual(status, 1, err)
                self.assertOneLine(err, "not HTTP")

    def test_closed_without_reply(self):
        srv = self.serve(b"")
        status, _, err = probe("http://127.0.0.1:%d/" % srv.port)
        self.assertEqual(status, 1, err)
        self.assertOneLine(err, "closed")

    def test_reset_by_the_server(self):
        srv = self.serve(None, reset=True)
        status, out, err = probe("http://127.0.0.1:%d/healthz" % srv.port)
        self.assertEqual((status, out), (1, ""), err)
        self.assertOneLine(err, "recv from 127.0.0.1:%d" % srv.port, "Connection reset by peer")

    def test_silent_server_times_out(self):
        """A peer that accepts and never answers: the probe gives up by itself (the subprocess
        timeout is only a guard against a hang)."""
        srv = self.serve(None, close=False)
        status, _, err = probe("http://127.0.0.1:%d/healthz" % srv.port)
        self.assertEqual(status, 1, err)
        self.assertOneLine(err, "no status line within 3000 ms")

    def test_endless_status_line(self):
        """More than 8 KiB without a line end is not a status line worth waiting for."""
        srv = self.serve(b"HTTP/1.1 200 " + b"x" * 20000, close=False)
        status, _, err = probe("http://127.0.0.1:%d/" % srv.port)
        self.assertEqual(status, 1, err)
        self.assertOneLine(err, "not HTTP")


if __name__ == "__main__":
    testmain.main()
