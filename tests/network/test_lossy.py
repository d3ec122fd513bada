"""Lossy, slow links: every packet crossing the bridge is delayed ~50 ms and 5% are dropped
(NFQUEUE + nfq_delay.py: this kernel has no netem). TCP recovers, so nothing is lost: every
message answered 200 is logged, in sequence order, with no gap. Prints the end-to-end latency
(request sent by the client -> line written by the aggregator) on clean and on degraded links.
"""

import sys
import time
import unittest

import netlab
import testmain
from netlab import check_complete, log_time, param_of, read_json_log

COUNT = 300  # per publisher and phase
DELAY_MS = 50
LOSS = 0.05


def latencies(entries, answered):
    """Seconds from the client's send time (carried in the param) to the log line's time."""
    sent = {}
    for rows in answered.values():
        for param, t0, *_ in rows:
            sent[param] = t0
    out = []
    for e in entries:
        p = param_of(e)
        if p in sent:
            out.append(log_time(e["time"]) - sent[p])
    return out


class Lossy(unittest.TestCase):
    def phase(self, lab, pubs, ids, log, tag, conns):
        t0 = time.monotonic()
        report = lab.load("client", ["%s:5000" % lab.addr[h] for h in pubs], COUNT, tag,
                          conns=conns, timeout=150)
        took = time.monotonic() - t0
        rows = {h: report["%s:5000" % lab.addr[h]]["ok"] for h in pubs}
        for h in pubs:
            self.assertEqual(report["%s:5000" % lab.addr[h]]["failed"], {}, h)
            self.assertEqual(len(rows[h]), COUNT, h)
        want = {r[0] for h in pubs for r in rows[h]}
        netlab.harness.wait_for(lambda: want <= {param_of(e) for e in read_json_log(log)}, 60,
                                "every answered message in the log")
        entries = read_json_log(log)
        for h in pubs:
            check_complete(self, entries, ids[h], [r[0] for r in rows[h]], h)
        lat = latencies(entries, rows)
        http = [r[2] - r[1] for h in pubs for r in rows[h]]
        return took, lat, http

    def test_lossy_slow_links(self):
        lab = netlab.Lab(3, ["pub1", "pub2", "pub3", "agg", "client"])
        pubs = ["pub1", "pub2", "pub3"]
        tmp = netlab.harness.TempDir()
        self.addCleanup(tmp.cleanup)
        log = tmp.file("aggregate.log")
        for h in pubs:
            lab.pub(h)
        lab.downcase("agg", "--role=sub", "--log=" + log, "--log-format=json", "--wire=framed",
                     "--heartbeat=1s", *["--connect=tcp://%s:4444" % lab.addr[h] for h in pubs])
        ids = netlab.warm_up(lab, "client", pubs, log)

        took, lat, http = self.phase(lab, pubs, ids, log, "clean", conns=4)
        print("clean links: %d messages in %.1f s, 0 lost; HTTP answer %s; end-to-end %s"
              % (3 * COUNT, took, netlab.percentiles(http), netlab.percentiles(lat)),
              flush=True)

        lab.degrade(DELAY_MS, LOSS)
        took, lat, http = self.phase(lab, pubs, ids, log, "lossy", conns=8)
        stats = lab.undegrade()
        print("%d ms delay + %.0f%% loss per packet: %d messages in %.1f s, 0 lost, 0 gaps; "
              "HTTP answer %s; end-to-end %s; %s"
              % (DELAY_MS, LOSS * 100, 3 * COUNT, took, netlab.percentiles(http),
                 netlab.percentiles(lat), stats), flush=True)
        # The links really were degraded: packets were seen and some dropped.
        self.assertRegex(stats, r"'dropped': [1-9]")
        # Each message crossed two delayed hops (client -> pub, pub -> aggregator).
        self.assertGreaterEqual(sorted(lat)[len(lat) // 2], 2 * DELAY_MS / 1000 - 0.002)
        netlab.exit_clean(self, lab)


if __name__ == "__main__":
    netlab.require()
    testmain.main()
