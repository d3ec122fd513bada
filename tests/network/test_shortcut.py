"""A short link cut: under steady load on two publishers, pub1's link to the aggregator is cut
for 1 s, shorter than three heartbeats (1 s each: a 3 s timeout) and healed. The README says the
connection survives and what was queued meanwhile arrives after the heal: no peer goes down,
nothing is lost, no gap is reported, every message answered 200 is logged in sequence order.
"""

import re
import time
import unittest

import netlab
import testmain
from netlab import check_complete, read_json_log

RATE = 100  # requests per second per publisher
SECONDS = 6
CUT_FOR = 1.0


class ShortCut(unittest.TestCase):
    def test_short_cut_loses_nothing(self):
        lab = netlab.Lab(8, ["pub1", "pub2", "agg", "client"])
        pubs = ["pub1", "pub2"]
        tmp = netlab.harness.TempDir()
        self.addCleanup(tmp.cleanup)
        log = tmp.file("aggregate.log")
        for h in pubs:
            lab.pub(h)
        magg = "%s:9100" % lab.addr["agg"]
        sub = lab.downcase("agg", "--role=sub", "--log=" + log, "--log-format=json",
                           "--wire=framed", "--heartbeat=1s", "--metrics=" + magg,
                           *["--connect=tcp://%s:4444" % lab.addr[h] for h in pubs])
        ids = netlab.warm_up(lab, "client", pubs, log)
        load = lab.load_async("client", ["%s:5000" % lab.addr[h] for h in pubs],
                              RATE * SECONDS, "short", conns=2, rate=RATE)
        netlab.wait_flowing(lab, log, pubs, "short", RATE)
        lab.partition("pub1", "agg")
        t_cut = time.monotonic()
        time.sleep(CUT_FOR)  # the fault's duration, not a wait for an event
        lab.heal()
        cut = time.monotonic() - t_cut
        out, err = load.communicate(timeout=SECONDS + 60)
        self.assertEqual(load.returncode, 0, err)
        report = netlab.json.loads(out)
        answered = {}
        for h in pubs:
            rows = report["%s:5000" % lab.addr[h]]
            self.assertEqual(rows["failed"], {}, h)
            answered[h] = [r[0] for r in rows["ok"]]
            self.assertEqual(len(answered[h]), RATE * SECONDS, h)
        want = set().union(*answered.values())
        netlab.harness.wait_for(lambda: want <= {netlab.param_of(e) for e in read_json_log(log)},
                                20, "every answered message in the log")
        entries = read_json_log(log)
        for h in pubs:
            check_complete(self, entries, ids[h], answered[h], h)  # no gap, in order, complete
        m = netlab.metrics(lab, "agg", magg)
        self.assertEqual(m["downcase_zmq_peer_disconnects_total"], 0)
        self.assertEqual(m["downcase_zmq_peers_connected"], 2)
        self.assertEqual(m["downcase_lost_messages_total"], 0)
        ep1 = "tcp://%s:4444" % lab.addr["pub1"]
        self.assertFalse(re.search(r"peer %s down" % re.escape(ep1), sub.stderr_text()),
                         sub.stderr_text())
        netlab.exit_clean(self, lab)
        print("pub1 cut from the aggregator for %.1f s (heartbeat 1 s) under %d req/s per "
              "publisher: the connection survived, %d + %d answered, all logged, 0 gaps"
              % (cut, RATE, len(answered["pub1"]), len(answered["pub2"])), flush=True)


if __name__ == "__main__":
    netlab.require()
    testmain.main()
