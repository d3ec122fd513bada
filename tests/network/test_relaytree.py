"""An aggregation tree: four publisher hosts, two edge relays (`downcase --role=relay`), one
central aggregator.

    pub1 ─┐                       ┌─ pub3 (connects in)
    pub2 ─┴─> edge1 ──> central <──┴── edge2 <─ pub4 (connects in)

edge1 connects to its publishers; edge2 binds and its publishers connect into it; the central
sub connects to both edges. Frames pass the relays unchanged, so the central log has each
publisher's own id and sequence numbers:
  1. under load, every message of every publisher is logged, in sequence order, with no gap;
  2. with edge1's link to the center cut for 5 s under load, and healed: with retention (the
     default, on the pubs and the relays) the center fetches what it missed and every message
     answered 200 is logged exactly once, with no gap line; with --retain=0 everywhere the
     messages lost are reported at the center as gaps of the exact size, end to end through
     the relay (answered 200 = logged + reported lost, per publisher), and pub1 and pub2 did
     lose some. edge2's publishers lose nothing either way.
"""

import json
import re
import sys
import time
import unittest

import netlab
import testmain
from netlab import account, check_complete, param_of, read_json_log

COUNT = 1000  # per publisher, phase 1
RATE = 50  # per publisher per second, phase 2
SECONDS = 10


class RelayTree(unittest.TestCase):
    def test_edge_relays_into_a_central_aggregator_with_retention(self):
        self.relay_tree(retain=True)

    def test_edge_relays_into_a_central_aggregator_without_retention(self):
        self.relay_tree(retain=False)

    def relay_tree(self, retain):
        no = [] if retain else ["--retain=0"]
        hosts = ["pub1", "pub2", "pub3", "pub4", "edge1", "edge2", "central", "client"]
        lab = netlab.Lab(7, hosts)
        self.addCleanup(lab.cleanup)  # two labs in one process: the first goes first
        pubs = ["pub1", "pub2", "pub3", "pub4"]
        a = lab.addr
        tmp = netlab.harness.TempDir()
        self.addCleanup(tmp.cleanup)
        log = tmp.file("central.log")
        for h in ("pub1", "pub2"):
            lab.pub(h, *no)
        ready = r"relaying "
        lab.downcase("edge1", "--role=relay", "--heartbeat=1s", *no,
                             "--metrics=%s:9100" % a["edge1"],
                             "--upstream=tcp://%s:4444" % a["pub1"],
                             "--upstream=tcp://%s:4444" % a["pub2"],
                             "--downstream=@tcp://%s:4445" % a["edge1"], ready=ready)
        lab.downcase("edge2", "--role=relay", "--heartbeat=1s", *no,
                             "--metrics=%s:9100" % a["edge2"],
                             "--upstream=@tcp://%s:4444" % a["edge2"],
                             "--downstream=@tcp://%s:4445" % a["edge2"], ready=ready)
        for h in ("pub3", "pub4"):
            lab.pub(h, "--connect=tcp://%s:4444" % a["edge2"], *no, bind=False)
        sub = lab.downcase("central", "--role=sub", "--log=" + log, "--log-format=json",
                           "--wire=framed", "--heartbeat=1s", "--metrics=%s:9100" % a["central"],
                           "--connect=tcp://%s:4445" % a["edge1"],
                           "--connect=tcp://%s:4445" % a["edge2"])
        ids = netlab.warm_up(lab, "client", pubs, log, timeout=20)
        self.assertEqual(len(set(ids.values())), 4)

        # 1. Everything arrives, through either kind of edge.
        t0 = time.monotonic()
        report = lab.load("client", ["%s:5000" % a[h] for h in pubs], COUNT, "tree", conns=4)
        took = time.monotonic() - t0
        answered = {h: [r[0] for r in report["%s:5000" % a[h]]["ok"]] for h in pubs}
        for h in pubs:
            self.assertEqual(len(answered[h]), COUNT, h)
        want = set().union(*answered.values())
        netlab.harness.wait_for(lambda: want <= {param_of(e) for e in read_json_log(log)}, 20,
                                "every answered message at the center")
        entries = read_json_log(log)
        for h in pubs:
            check_complete(self, entries, ids[h], answered[h], h)
        print("relay tree: %d publishers x %d messages through 2 edge relays in %.1f s, all "
              "logged at the center in sequence order, 0 gaps" % (len(pubs), COUNT, took),
              flush=True)

        # 2. Edge1 cut off from the center under load, then healed.
        marks = netlab.warm_marks(entries)
        for h in pubs:
            marks[ids[h]] = max(e["seq"] for e in entries if e.get("publisher") == ids[h]
                                and "seq" in e)
        load = lab.load_async("client", ["%s:5000" % a[h] for h in pubs], RATE * SECONDS,
                              "cut", conns=2, rate=RATE)
        netlab.wait_flowing(lab, log, pubs, "cut", RATE)
        lab.partition("edge1", "central")
        ep = "tcp://%s:4445" % a["edge1"]
        t_cut = time.monotonic()
        sub.wait_line(r"peer %s down" % re.escape(ep), timeout=7)
        t_down = time.monotonic() - t_cut
        time.sleep(max(0, 5 - (time.monotonic() - t_cut)))
        lab.heal()
        t_heal = time.monotonic()
        magg = "%s:9100" % a["central"]
        netlab.harness.wait_for(
            lambda: netlab.metrics(lab, "central", magg)["downcase_zmq_peers_connected"] == 2,
            10, "the center to reconnect to edge1:\n" + sub.stderr_text())
        t_up = time.monotonic() - t_heal
        out, err = load.communicate(timeout=SECONDS + 60)
        self.assertEqual(load.returncode, 0, err)
        report = json.loads(out)
        tails = netlab.tail_probes(self, lab, "client", pubs, log)
        entries = read_json_log(log)
        em = {e: netlab.metrics(lab, e, "%s:9100" % a[e]) for e in ("edge1", "edge2")}
        figures = []
        for h in pubs:
            rows = report["%s:5000" % a[h]]
            self.assertEqual(rows["failed"], {}, h)
            sent = len(rows["ok"]) + tails[h]
            lines, gaps, lost = account(self, entries, ids[h], marks[ids[h]], h)
            self.assertEqual(len(lines) + lost, sent,
                             "%s: answered %d, logged %d + lost %d" % (h, sent, len(lines), lost))
            if h in ("pub3", "pub4") or retain:
                self.assertEqual(lost, 0, h)
                self.assertEqual(gaps, [], h)
            else:
                self.assertGreater(lost, 0, "the cut forced no loss: the test proves nothing")
                self.assertGreaterEqual(len(gaps), 1, h)
            figures.append("%s %d answered = %d logged + %d lost in %d gap(s)"
                           % (h, sent, len(lines), lost, len(gaps)))
        netlab.exit_clean(self, lab)
        print("%s: edge1 cut from the center for 5 s under %d req/s per publisher: down after %.1f s,"
              " back %.1f s after the heal; %s; edge1 forwarded %d, refused %d; edge2 forwarded "
              "%d, refused %d" % (
                  "with retention" if retain else "--retain=0", RATE, t_down, t_up,
                  "; ".join(figures),
                  em["edge1"]["downcase_relay_forwarded_messages_total"],
                  em["edge1"]["downcase_relay_dropped_messages_total"],
                  em["edge2"]["downcase_relay_forwarded_messages_total"],
                  em["edge2"]["downcase_relay_dropped_messages_total"]), flush=True)


if __name__ == "__main__":
    netlab.require()
    testmain.main()
