"""A sub forwarding into a three-node NATS JetStream cluster (an R3 stream) on simulated hosts;
the stream's leader is killed (SIGKILL) mid-load. Afterwards the stream, read from the
surviving nodes, holds every message the pubs answered 200 exactly once.

Hosts: nats1..nats3 (nats-server -js, clustered on their lab addresses), pub1, pub2, agg (the
sub, --forward to all three servers), client (HTTP load, and jsctl, the tests' own libnats
client, to create and read the stream).
"""

import json
import os
import shutil
import sys
import time
import unittest

import netlab
import testmain

NATS_SERVER = os.environ.get("NATS_SERVER", "") or shutil.which("nats-server") or ""
JSCTL = os.environ.get("JSCTL", "")
COUNT = 1500  # per publisher
RATE = 150    # requests per second per publisher
NODES = ["nats1", "nats2", "nats3"]


class JetStreamCluster(unittest.TestCase):
    def jsctl(self, *args, check=True):
        servers = ",".join("nats://%s:4222" % self.lab.addr[h] for h in self.alive)
        p = self.lab.run("client", JSCTL, servers, *args, check=False, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("jsctl %s: %s" % (" ".join(args), p.stderr.strip()))
        return p

    def test_leader_killed_mid_load(self):
        self.lab = lab = netlab.Lab(12, NODES + ["pub1", "pub2", "agg", "client"])
        tmp = netlab.harness.TempDir()
        self.addCleanup(tmp.cleanup)
        routes = ",".join("nats://%s:6222" % lab.addr[h] for h in NODES)
        servers = {}
        for h in NODES:
            a = lab.addr[h]
            servers[h] = lab.spawn(h, NATS_SERVER, "-n", h, "-a", a, "-p", "4222", "-js", "-sd",
                                   tmp.file(h), "--cluster_name", "dc", "--cluster",
                                   "nats://%s:6222" % a, "--routes", routes)
        self.alive = list(NODES)
        # The cluster elects its JetStream meta leader first: until then creating fails.
        deadline = time.monotonic() + 60
        while self.jsctl("add", "LOGS", "logs.downcase", "3", check=False).returncode != 0:
            self.assertLess(time.monotonic(), deadline, "the cluster never took the R3 stream")
            time.sleep(0.5)
        for h in ["pub1", "pub2"]:
            lab.pub(h)
        log = tmp.file("agg.log")
        fwd = "nats://" + ",".join("%s:4222" % lab.addr[h] for h in NODES) + "/logs.downcase"
        sub = lab.downcase("agg", "--role=sub", "--log=" + log, "--log-format=json",
                           "--wire=framed", "--forward=" + fwd, "--metrics=%s:9100"
                           % lab.addr["agg"],
                           *["--connect=tcp://%s:4444" % lab.addr[h] for h in ["pub1", "pub2"]],
                           ready=r"logging to ")
        ids = netlab.warm_up(lab, "client", ["pub1", "pub2"], log, timeout=30)

        targets = ["%s:5000" % lab.addr[h] for h in ["pub1", "pub2"]]
        load = lab.load_async("client", targets, COUNT, "js", conns=2, rate=RATE)
        time.sleep(COUNT / RATE / 3)
        info = self.jsctl("info", "LOGS").stdout
        leader = info.strip().rpartition("leader=")[2]
        self.assertIn(leader, NODES, info)
        servers[leader].kill()
        servers[leader].wait(10)
        self.alive.remove(leader)
        killed_at = time.monotonic()
        out, err = load.communicate(timeout=COUNT / RATE * 4 + 60)
        report = json.loads(out)
        answered = set()
        for t in targets:
            self.assertEqual(report[t]["failed"], {}, t)
            answered |= {r[0] for r in report[t]["ok"]}
        self.assertEqual(len(answered), 2 * COUNT)

        def stream():
            # While the cluster elects a new leader its API can time out: asked again.
            p = self.jsctl("dump", "LOGS", check=False)
            if p.returncode != 0:
                return []
            msgs = [json.loads(l) for l in p.stdout.splitlines()]
            return [m for m in msgs if m["data"].startswith("lower case of js-")]

        def complete():
            msgs = stream()
            return msgs if len(msgs) >= len(answered) else None

        netlab.harness.wait_for(complete, 90, "every answered message in the stream")
        time.sleep(2)  # anything sent twice would show now
        msgs = netlab.harness.wait_for(complete, 30, "the stream read again")
        params = [m["data"].split(" ")[3] for m in msgs]
        counts = {}
        for p in params:
            counts[p] = counts.get(p, 0) + 1
        self.assertEqual(sorted(p for p, c in counts.items() if c > 1), [], "stored twice")
        self.assertEqual(sorted(answered - set(counts)), [], "answered 200, not in the stream")
        self.assertEqual(len(msgs), len(answered))
        new_leader = netlab.harness.wait_for(
            lambda: self.jsctl("info", "LOGS", check=False).stdout.strip().rpartition(
                "leader=")[2], 30, "the stream's new leader")
        self.assertIn(new_leader, self.alive)
        # Order per publisher: reported, not required (a failover can make an earlier message
        # wait for its resend while a later one is already stored; README).
        late = 0
        last = {}
        for m in msgs:
            p, s = m["headers"]["Downcase-Publisher"], int(m["headers"]["Downcase-Sequence"])
            late += s < last.get(p, 0)
            last[p] = max(s, last.get(p, 0))
        metrics = netlab.metrics(lab, "client", "%s:9100" % lab.addr["agg"])
        print("jetstream: R3 stream on 3 nodes, leader %s SIGKILLed mid-load; %d answered 200 "
              "by 2 pubs, %d in the stream (leader now %s), 0 twice, %d stored after a later "
              "one of their publisher; forward errors %s, resent %d, %.1f s from the kill to "
              "the end of the load" % (
                  leader, len(answered), len(msgs), new_leader, late,
                  {k.split('"')[1]: int(v) for k, v in metrics.items()
                   if k.startswith("downcase_forward_errors_total") and v},
                  metrics.get("downcase_forward_resent_total", 0),
                  time.monotonic() - killed_at), flush=True)
        netlab.exit_clean(self, lab)


if __name__ == "__main__":
    netlab.require()
    if not NATS_SERVER:
        netlab.skip("nats-server is not installed (Debian: nats-server)")
    if not JSCTL:
        netlab.skip("downcase was built without libnats (Debian: libnats-dev)")
    testmain.main()
