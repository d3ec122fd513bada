"""Partition and heal: under steady load on three publishers, pub2's link to the aggregator is
cut for 5 s and restored. With 1 s heartbeats both ends drop the silent connection after 3 s;
the sub reconnects by itself after the heal.

With retention (the default) nothing is lost: after the heal the sub fetches from pub2 what it
published meanwhile, so every message answered 200 is logged exactly once and there is no gap
line. Without (--retain=0) the messages pub2 published meanwhile are lost (the queue of the
dropped connection, and what was published with no subscriber connected), and every one of
them is reported: for each publisher, the messages it answered 200 equal the lines logged plus
the gap counts, exactly, and pub2 did lose some. The other publishers lose nothing either way.
"""

import re
import sys
import time
import unittest

import netlab
import testmain
from netlab import read_json_log

RATE = 100  # requests per second per publisher
SECONDS = 12
CUT_AT = 1  # seconds of load logged from every publisher before the cut
CUT_FOR = 5


class Partition(unittest.TestCase):
    def test_partition_and_heal_with_retention(self):
        self.partition_and_heal(retain=True)

    def test_partition_and_heal_without_retention(self):
        self.partition_and_heal(retain=False)

    def partition_and_heal(self, retain):
        lab = netlab.Lab(4, ["pub1", "pub2", "pub3", "agg", "client"])
        self.addCleanup(lab.cleanup)  # two labs in one process: the first goes first
        pubs = ["pub1", "pub2", "pub3"]
        tmp = netlab.harness.TempDir()
        self.addCleanup(tmp.cleanup)
        log = tmp.file("aggregate.log")
        for h in pubs:
            lab.pub(h, *([] if retain else ["--retain=0"]))
        sub = lab.downcase("agg", "--role=sub", "--log=" + log, "--log-format=json",
                           "--wire=framed", "--heartbeat=1s", "--metrics=%s:9100" %
                           lab.addr["agg"], *["--connect=tcp://%s:4444" % lab.addr[h]
                                              for h in pubs])
        ids = netlab.warm_up(lab, "client", pubs, log)
        marks = netlab.warm_marks(read_json_log(log))

        load = lab.load_async("client", ["%s:5000" % lab.addr[h] for h in pubs],
                              RATE * SECONDS, "part", conns=2, rate=RATE)
        netlab.wait_flowing(lab, log, pubs, "part", RATE * CUT_AT)
        lab.partition("pub2", "agg")
        t_cut = time.monotonic()
        ep2 = "tcp://%s:4444" % lab.addr["pub2"]
        down = sub.wait_line(r"peer %s down" % re.escape(ep2), timeout=CUT_FOR + 2)
        t_down = time.monotonic() - t_cut
        time.sleep(max(0, CUT_FOR - (time.monotonic() - t_cut)))
        lab.heal()
        t_heal = time.monotonic()
        # peer up/down lines are rate-limited (100 ms) on stderr: the metric is the truth.
        magg = "%s:9100" % lab.addr["agg"]
        netlab.harness.wait_for(
            lambda: netlab.metrics(lab, "agg", magg)["downcase_zmq_peers_connected"] == 3,
            10, "the sub to reconnect to pub2 after the heal:\n" + sub.stderr_text())
        t_up = time.monotonic() - t_heal
        out, err = load.communicate(timeout=SECONDS + 60)
        self.assertEqual(load.returncode, 0, err)
        report = netlab.json.loads(out)
        answered = {h: len(report["%s:5000" % lab.addr[h]]["ok"]) for h in pubs}
        for h in pubs:
            self.assertEqual(report["%s:5000" % lab.addr[h]]["failed"], {}, h)
        tails = netlab.tail_probes(self, lab, "client", pubs, log)
        entries = read_json_log(log)
        pm = {h: netlab.metrics(lab, "client", "%s:5000" % lab.addr[h]) for h in pubs}
        figures = []
        total_lost = 0
        for h in pubs:
            sent = answered[h] + tails[h]
            lines, gaps, lost = netlab.account(self, entries, ids[h], marks[ids[h]], h)
            self.assertEqual(len(lines) + lost, sent,
                             "%s: answered %d, logged %d + lost %d" % (h, sent, len(lines), lost))
            if h != "pub2" or retain:
                self.assertEqual(lost, 0, h)
                self.assertEqual(gaps, [], h)
            else:
                self.assertGreater(lost, 0, "the cut forced no loss: the test proves nothing")
                self.assertGreaterEqual(len(gaps), 1, h)
            total_lost += lost
            figures.append("%s answered %d, logged %d, %d gap(s) reporting %d lost, pub "
                           "counted %d not queued" % (h, sent, len(lines), len(gaps), lost,
                                                      pm[h]["downcase_dropped_messages_total"]))
        m = netlab.metrics(lab, "agg", magg)
        self.assertGreaterEqual(m["downcase_zmq_peer_disconnects_total"], 1)
        self.assertEqual(m["downcase_zmq_peers_connected"], 3)
        self.assertEqual(m["downcase_lost_messages_total"], total_lost)
        netlab.exit_clean(self, lab)
        print("%s: partition of pub2 for %d s under %d req/s per publisher: sub saw it down after "
              "%.1f s (%s), reconnected %.1f s after the heal; %s; sub lost-messages metric %d"
              % ("with retention" if retain else "--retain=0", CUT_FOR, RATE, t_down, down.group(0), t_up, "; ".join(figures),
                 m["downcase_lost_messages_total"]), flush=True)


if __name__ == "__main__":
    netlab.require()
    testmain.main()
