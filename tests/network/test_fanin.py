"""Fan-in across hosts: three publisher hosts, one aggregator, one client host driving HTTP load
at the three pubs. Every message answered 200 by every publisher is in the aggregate log, each
publisher's in sequence order with no gap.

  test_fanin.py           the sub connects to the three pubs (each pub binds)
  test_fanin.py reverse   the sub binds and the pubs connect into it (publishers behind NAT,
                          or started on demand)
"""

import sys
import time
import unittest

import netlab
import testmain
from netlab import check_complete, read_json_log

REVERSE = len(sys.argv) > 1 and sys.argv[1] == "reverse"
COUNT = 5000  # per publisher


class FanIn(unittest.TestCase):
    def test_fan_in(self):
        lab = netlab.Lab(2 if REVERSE else 1, ["pub1", "pub2", "pub3", "agg", "client"])
        pubs = ["pub1", "pub2", "pub3"]
        tmp = netlab.harness.TempDir()
        self.addCleanup(tmp.cleanup)
        log = tmp.file("aggregate.log")
        agg = lab.addr["agg"]
        if REVERSE:
            sub = lab.downcase("agg", "--role=sub", "--log=" + log, "--log-format=json",
                               "--wire=framed", "--bind=tcp://%s:4444" % agg)
            for h in pubs:
                lab.pub(h, "--connect=tcp://%s:4444" % agg, bind=False)
        else:
            for h in pubs:
                lab.pub(h)
            sub = lab.downcase("agg", "--role=sub", "--log=" + log, "--log-format=json",
                               "--wire=framed",
                               *["--connect=tcp://%s:4444" % lab.addr[h] for h in pubs])
        ids = netlab.warm_up(lab, "client", pubs, log)
        self.assertEqual(len(set(ids.values())), 3, ids)

        t0 = time.monotonic()
        report = lab.load("client", ["%s:5000" % lab.addr[h] for h in pubs], COUNT, "fan",
                          conns=4)
        took = time.monotonic() - t0
        answered = {h: [r[0] for r in report["%s:5000" % lab.addr[h]]["ok"]] for h in pubs}
        for h in pubs:
            self.assertEqual(report["%s:5000" % lab.addr[h]]["failed"], {}, h)
            self.assertEqual(len(answered[h]), COUNT, h)
        want = set().union(*answered.values())
        netlab.harness.wait_for(
            lambda: want <= {netlab.param_of(e) for e in read_json_log(log)}, 20,
            "every answered message in the log")
        entries = read_json_log(log)
        total = 0
        for h in pubs:
            total += check_complete(self, entries, ids[h], answered[h], h)
        self.assertEqual(total, 3 * COUNT)
        # No message of one publisher is attributed to another.
        for h in pubs:
            other = [netlab.param_of(e) for e in entries
                     if e.get("publisher") == ids[h] and netlab.param_of(e)
                     and netlab.param_of(e).startswith("fan-")
                     and lab.addr[h].replace(".", "_") not in netlab.param_of(e)]
            self.assertEqual(other, [], h)
        netlab.exit_clean(self, lab)
        print("%s: %d publishers x %d messages = %d logged in %.1f s, 0 gaps, every "
              "publisher in sequence order; %s" % (
                  "reverse fan-in" if REVERSE else "fan-in", len(pubs), COUNT, total, took,
                  sub.stderr_text().splitlines()[-1] if sub.stderr_text() else ""), flush=True)


if __name__ == "__main__":
    netlab.require()
    testmain.main()
