"""Scale-out, the documented deployment: clients talk to one nginx (Debian's, as an HTTP load
balancer) in front of three publisher hosts; two aggregator hosts each subscribe to all three
publishers, so each log receives everything. Checks that every message answered 200 through
nginx is in both aggregate logs, each publisher's in sequence order, and prints how nginx
spread the load.
"""

import os
import shutil
import sys
import time
import unittest

import netlab
import testmain
from netlab import check_complete, param_of, read_json_log

COUNT = 3000

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/body;
    proxy_temp_path %(tmp)s/proxy;
    fastcgi_temp_path %(tmp)s/fastcgi;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    upstream downcase {
%(servers)s
        keepalive 32;
    }
    server {
        listen %(listen)s;
        location / {
            proxy_pass http://downcase;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # A GET here publishes: never send one request to a second publisher.
            proxy_next_upstream off;
            # Which publisher answered (the test's own addition): what each one was answered
            # is then known from the clients, not from the logs being checked.
            add_header X-Upstream $upstream_addr always;
        }
    }
}
"""


class ScaleOut(unittest.TestCase):
    def test_nginx_in_front_two_aggregators_behind(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            netlab.skip("nginx is missing (Debian package nginx-light)")
        lab = netlab.Lab(6, ["pub1", "pub2", "pub3", "lb", "agg1", "agg2", "client"])
        pubs = ["pub1", "pub2", "pub3"]
        tmp = netlab.harness.TempDir()
        self.addCleanup(tmp.cleanup)
        for h in pubs:
            lab.pub(h)
        logs = {a: tmp.file("%s.log" % a) for a in ("agg1", "agg2")}
        for a, log in logs.items():
            lab.downcase(a, "--role=sub", "--log=" + log, "--log-format=json", "--wire=framed",
                         *["--connect=tcp://%s:4444" % lab.addr[h] for h in pubs])
        conf = tmp.file("nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {
                "tmp": tmp.path, "listen": "%s:8080" % lab.addr["lb"],
                "servers": "\n".join("        server %s:5000;" % lab.addr[h] for h in pubs)})
        check = lab.run("lb", nginx, "-t", "-c", conf, "-p", tmp.path, "-e",
                        tmp.file("error.log"), check=False)
        self.assertEqual(check.returncode, 0, check.stderr)
        proc = lab.spawn("lb", nginx, "-c", conf, "-p", tmp.path, "-e", tmp.file("error.log"))
        lb = "http://%s:8080" % lab.addr["lb"]
        netlab.harness.wait_for(lambda: lab.run("client", "curl", "-s", "-o", "/dev/null",
                                                lb + "/healthz", check=False).returncode == 0,
                                10, "nginx to answer")
        ids = {}
        for a, log in logs.items():
            ids[a] = netlab.warm_up(lab, "client", pubs, log, tag="warm" + a)
        self.assertEqual(ids["agg1"], ids["agg2"])

        t0 = time.monotonic()
        report = lab.load("client", ["%s:8080" % lab.addr["lb"]], COUNT, "lb", conns=8)
        took = time.monotonic() - t0
        rows = report["%s:8080" % lab.addr["lb"]]
        self.assertEqual(rows["failed"], {})
        answered = {r[0] for r in rows["ok"]}
        self.assertEqual(len(answered), COUNT)
        # Per publisher, what the clients were answered through it (nginx's X-Upstream).
        by_pub = {lab.addr[h] + ":5000": h for h in pubs}
        answered_by = {h: [] for h in pubs}
        for r in rows["ok"]:
            self.assertIn(r[3], by_pub, "X-Upstream of %s" % r[0])
            answered_by[by_pub[r[3]]].append(r[0])
        for log in logs.values():
            netlab.harness.wait_for(
                lambda: answered <= {param_of(e) for e in read_json_log(log)}, 20,
                "every answered message in " + log)
        spread = {}
        for a, log in logs.items():
            entries = read_json_log(log)
            total = 0
            for h in pubs:
                # check_complete fails on anything answered through h but not logged as h's.
                total += check_complete(self, entries, ids[a][h], answered_by[h],
                                        "%s/%s" % (a, h))
                spread[h] = len(answered_by[h])
            self.assertEqual(total, COUNT, a)
        proc.terminate()
        proc.wait(10)
        netlab.exit_clean(self, lab)
        print("nginx round-robin over %d publishers: %d requests in %.1f s (%s); both "
              "aggregators logged all %d, 0 gaps" % (
                  len(pubs), COUNT, took, ", ".join("%s %d" % kv for kv in spread.items()),
                  COUNT), flush=True)
        self.assertTrue(all(spread.values()), "nginx sent nothing to a publisher")


if __name__ == "__main__":
    netlab.require()
    testmain.main()
