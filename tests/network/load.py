#!/usr/bin/python3
"""load.py: HTTP load for the network suite, run inside the client host's namespace.

usage: load.py --count N --conns K --tag TAG [--rate R] HOST:PORT...

Sends N `GET /downcase/?param=...` to each target over K keep-alive connections per target
(each connection sends its requests one after another). With --rate, the requests to one
target are paced at R per second in total. Every param is unique and carries its send time:
TAG-HOST-INDEX-MICROSECONDS (lowercase, so the logged text repeats it). Prints one JSON object:
{target: {"ok": [[param, send_time, answer_time, x_upstream], ...], "failed": {reason: count}}},
x_upstream being the answer's X-Upstream header (which publisher a load balancer chose), or null.
"""

import argparse
import http.client
import json
import threading
import time


def worker(target, tag, indices, start, rate, out, lock):
    host, _, port = target.rpartition(":")
    conn = None
    ok, failed = [], {}
    for i in indices:
        if rate:
            due = start + i / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
        t0 = time.time()
        param = "%s-%s-%d-%d" % (tag, host.replace(".", "_"), i, int(t0 * 1e6))
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            conn.request("GET", "/downcase/?param=" + param)
            r = conn.getresponse()
            r.read()
            t1 = time.time()
            if r.status == 200:
                ok.append([param, t0, t1, r.getheader("X-Upstream")])
            else:
                failed[str(r.status)] = failed.get(str(r.status), 0) + 1
            if r.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            # The request may or may not have been served: counted apart, never retried.
            failed[type(e).__name__] = failed.get(type(e).__name__, 0) + 1
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()
    with lock:
        out[target]["ok"].extend(ok)
        for k, v in failed.items():
            out[target]["failed"][k] = out[target]["failed"].get(k, 0) + v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    out = {t: {"ok": [], "failed": {}} for t in a.targets}
    lock = threading.Lock()
    threads = []
    start = time.time() + 0.05
    for t in a.targets:
        for c in range(a.conns):
            idx = range(c, a.count, a.conns)
            threads.append(threading.Thread(target=worker, args=(t, a.tag, idx, start, a.rate,
                                                                 out, lock)))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
