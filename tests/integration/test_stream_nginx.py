"""/stream through Debian's nginx as a reverse proxy, configured as the scale-out test's (plain
proxy_pass, HTTP/1.1 upstream, default buffering on): events arrive one by one, unbuffered,
because the stream says X-Accel-Buffering: no.

nginx cannot announce a port it picked, so it listens on a Unix socket in the test's
directory (no port to guess) and proxies to the sub's port, which the sub announced.

Fails in CI (CI=true) when nginx is missing; elsewhere skips, saying why (exit 77)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

import harness
from harness import SLOW, warm_up
from test_stream import SSE, lowered, publish

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
%(user)s
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/body;
    proxy_temp_path %(tmp)s/proxy;
    fastcgi_temp_path %(tmp)s/fastcgi;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    server {
        listen unix:%(sock)s;
        location / {
            proxy_pass http://127.0.0.1:%(upstream)d;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 1h;
        }
    }
}
"""


def nginx_binary():
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if os.path.exists(path):
        return path
    why = "nginx is missing (Debian package nginx-light; scripts/test installs it)"
    if os.environ.get("CI") == "true":
        print("FAIL: " + why, file=sys.stderr)
        sys.exit(1)
    print("SKIP: " + why, file=sys.stderr)
    sys.exit(77)


class NginxTest(harness.ProcessTest):
    def start_nginx(self, upstream):
        nginx = nginx_binary()
        sock = self.tmp.file("nginx.sock")
        conf = self.tmp.file("nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {
                "tmp": self.tmp.path, "sock": sock, "upstream": upstream,
                "user": "user root root;" if os.geteuid() == 0 else ""})
        proc = subprocess.Popen([nginx, "-c", conf, "-p", self.tmp.path, "-e",
                                 self.tmp.file("error.log")],
                                stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(self.stop_nginx, proc)
        harness.wait_for(lambda: self.answers(sock), 10, "nginx to answer")
        return sock

    def answers(self, sock):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(sock)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                return harness.read_responses(s, 1)[0][0] == 200
        except OSError:
            return False

    def stop_nginx(self, proc):
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    def test_events_arrive_unbuffered_through_nginx(self):
        pub = self.start(harness.Pub, "--wire=framed")
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--log-format=json", "--http=127.0.0.1:0", log=log,
                         connect=pub.endpoint)
        host, upstream = harness.http_address(sub)
        warm_up(pub, log)
        sock = self.start_nginx(upstream)
        v = SSE(None, sock)
        self.addCleanup(v.close)
        status, head = v.head()
        self.assertEqual(status, 200)
        self.assertEqual(head["content-type"], "text/event-stream; charset=utf-8")
        self.assertEqual(v.next(), {"retry": "1000"})
        # One message at a time: each must come through before the next is sent. A buffering
        # proxy would hold these small events until its buffer (4 or 8 KiB) fills or the
        # upstream closes.
        delays = []
        for i in range(10):
            t0 = time.monotonic()
            publish(pub, ["Proxied-%d" % i])
            ev = v.next(2.0)
            self.assertIsNotNone(ev, "event %d did not come through nginx within 2 s" % i)
            delays.append(time.monotonic() - t0)
            self.assertEqual(json.loads(ev["data"])["message"], lowered("Proxied-%d" % i))
        delays.sort()
        print("through nginx: publish -> event p50 %.1f ms, max %.1f ms"
              % (delays[len(delays) // 2] * 1000, delays[-1] * 1000), file=sys.stderr)
        self.assertLess(delays[-1], 1.0 * SLOW)


if __name__ == "__main__":
    unittest.main()
