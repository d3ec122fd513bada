"""bench.py: the measurements behind scripts/bench (run it through scripts/bench, which installs
the tools, builds the release binary and the helpers, and installs the Node peer's packages).

Everything talks over 127.0.0.1 on ports picked free at run time. Servers run pinned to core 0,
load generators (wrk, zflood, hclient) to core 1. In the HTTP runs the subscriber that logs
what downcase and the Node peer publish runs on core 0 too, and its CPU time counts as the
server's: nginx logs nothing, so everything downcase does for a request shares nginx's one
core, and the load generator has a core of its own for every peer alike (--sub-cpu=1 puts the
sub beside wrk instead, where it takes CPU from the load generator). Each figure is the
median of the rounds (3; 1 with --quick), and in every round all peers are measured one after
the other, so their ratios come from the same minutes of a shared, noisy machine.

Sections:
  http     wrk keep-alive at 50 and 500 connections and pipelined (depth 16) against
           downcase pub (framed, with a downcase sub logging; with its default memory
           retention, with --journal, and with --retain=0), nginx (return 200, one worker)
           and the Node.js peer (benchmarks/node-peer), then the nothing-lost counts; and,
           as a control, the same pub with no subscriber (HTTP alone)
  catchup  a sub stopped while 1,000,000 messages are published, then started: the rate at
           which it fetches and logs them from the pub's retention, next to its live rate
  journal  the journal's append throughput (benchmarks/jbench) next to dd on the same disk
  flood    lines/s the downcase sub writes while zflood floods it, next to zsink
  memory   RSS of an idle pub and with many idle keep-alive connections
  cost     callgrind instructions per request and the top functions
  startup  exec to first answered request
  viewers  the sub's lines/s under zflood with 100 /stream viewers (and one that stalls) vs
           none, and what each viewer got (events + dropped = every line)
  forward  messages/s a sub forwards into NATS JetStream (--forward) while zflood floods it,
           next to jspub (the plainest libnats JetStream async publisher), same nats-server
           and body; and wrk's req/s at a pub whose sub forwards, next to one whose sub logs
           to a file
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

SERVER_CPU = "0"
CLIENT_CPU = "1"
PARAM = "HeLLo"
BODY = "lower case of HeLLo is hello"
PATH = "/downcase/?param=" + PARAM
WARM_PATH = "/downcase/?param=WarmUp"  # logged as "... is warmup"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, argv):
    return ["taskset", "-c", cpu] + argv


class Procs:
    """Every process the benchmark starts, so none outlives it."""

    def __init__(self):
        self.live = []

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        """Signals p and waits for it; returns its exit status (killed after timeout)."""
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log("%s did not stop in %d s: killed" % (p.args[0], timeout))
                p.kill()
                p.wait()
        if p in self.live:
            self.live.remove(p)
        return p.returncode

    def stop_all(self):
        for p in list(self.live):
            self.stop(p, timeout=3)


def wait_http(port, timeout=10.0, path=PATH):
    """Waits until GET path answers 200 (the server is up): one request answered."""
    deadline = time.monotonic() + timeout
    url = "http://127.0.0.1:%d%s" % (port, path)
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("no answer from 127.0.0.1:%d within %.0f s" % (port, timeout))
        time.sleep(0.05)


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
        r.read()
        return r.status


def count_lines(path, needle):
    with open(path, "rb") as f:
        return sum(1 for line in f if needle in line)


def wait_stable_lines(path, timeout=10.0):
    """Waits until the log stops growing (the sub has written what it received)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        size = os.path.getsize(path)
        if size == last:
            return
        last = size
        time.sleep(0.2)


# --- wrk ----------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if m is None:
        raise ValueError("unexpected wrk time: " + text)
    return float(m.group(1)) * UNITS[m.group(2)]


def run_wrk(port, conns, secs, pipeline=0):
    argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--latency", "--timeout", "5s"]
    if pipeline:
        argv += ["-s", os.path.join(ROOT, "benchmarks", "pipeline.lua")]
    argv.append("http://127.0.0.1:%d%s" % (port, PATH))
    if pipeline:
        argv += ["--", str(pipeline)]
    out = subprocess.run(pinned(CLIENT_CPU, argv), capture_output=True, text=True,
                         timeout=secs + 30)
    if out.returncode != 0:
        raise RuntimeError("wrk failed: " + out.stderr.strip())
    text = out.stdout
    res = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": parse_ms(re.search(r"\s50%\s+(\S+)", text).group(1)),
        "p99": parse_ms(re.search(r"\s99%\s+(\S+)", text).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
    }
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    res["errors"] = sum(int(x) for x in m.groups()) if m else 0
    return res


def cpu_ns(pid):
    """CPU time used so far by every thread of pid and of its children (nginx's worker), in ns,
    from /proc/PID/task/TID/schedstat. Dividing requests by it gives a figure that does not
    depend on how much of its core a server got: on a shared machine the scheduler gives a
    process with more threads a larger share of a contended core."""
    total = 0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (p, t)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
    return total


def ratio(a, b):
    return "%.2fx" % (a / b) if b > 0 else "n/a"


# --- the three peers ----------------------------------------------------------------------


def wait_subscribed(port, log_path):
    """Waits until the server answers and its sub logs. A PUB drops what it publishes before
    a subscription arrives, so this sends marked requests one at a time until one reaches the
    log; returns how many it sent, so that those lost before it are left out of the counts."""
    wait_http(port, path=WARM_PATH)
    sent = 1
    deadline = time.monotonic() + 10
    while True:
        time.sleep(0.05)
        if os.path.exists(log_path) and count_lines(log_path, b" warmup") > 0:
            return sent
        if time.monotonic() > deadline:
            raise RuntimeError("the sub of 127.0.0.1:%d logged nothing in 10 s" % port)
        get(port, WARM_PATH)
        sent += 1


def sub_pids(ctx, sub):
    """The logging sub counts as part of the server when it runs on the server's core."""
    return [sub.pid] if sub is not None and ctx.sub_cpu == SERVER_CPU else []


class Peer:
    """A server under test. start() returns once it answers; stop() returns its counts."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.procs = ctx.procs

    def start_sub(self, ep):
        """The downcase sub that logs what a peer publishes on ep to self.log_path."""
        return self.procs.start(
            pinned(self.ctx.sub_cpu, [self.ctx.downcase, "--role=sub", "--wire=framed",
                                      "--connect=" + ep, "--log=" + self.log_path]),
            stderr=subprocess.DEVNULL)

    extra = ()  # more pub flags (the variants below)

    def pub_argv(self, ep):
        """downcase --role=pub as measured: framed, on self.port, binding ep."""
        return pinned(SERVER_CPU, [self.ctx.downcase, "--role=pub", "--wire=framed",
                                   "--listen=127.0.0.1:%d" % self.port, "--bind=" + ep] +
                      list(self.extra))


class DowncasePeer(Peer):
    name = "downcase"

    def pids(self):
        return [self.pub.pid] + sub_pids(self.ctx, self.sub)

    def start(self, tmp):
        self.port = free_port()
        zport = free_port()
        self.log_path = os.path.join(tmp, "downcase-sub.log")
        self.pub_err = os.path.join(tmp, "downcase-pub.err")
        ep = "tcp://127.0.0.1:%d" % zport
        self.pub = self.procs.start(self.pub_argv(ep), stderr=open(self.pub_err, "w"))
        self.sub = self.start_sub(ep)
        self.warm_sent = wait_subscribed(self.port, self.log_path)
        return self.port

    def stop(self):
        st = self.procs.stop(self.pub)
        wait_stable_lines(self.log_path)
        sub_st = self.procs.stop(self.sub)
        if st != 0 or sub_st != 0:
            raise RuntimeError("downcase exit status: pub %s, sub %s" % (st, sub_st))
        with open(self.pub_err) as f:
            err = f.read()
        m = re.search(r"stopped: (\d+) requests answered, (\d+) messages published, "
                      r"(\d+) not queued", err)
        if m is None:
            raise RuntimeError("no stop summary from the pub: " + err)
        answered, published, not_queued = (int(x) for x in m.groups())
        warm_logged = count_lines(self.log_path, b" warmup")
        gaps = 0
        lost_in_gaps = 0
        with open(self.log_path, "rb") as f:
            for line in f:
                g = re.search(rb"\bgap publisher=\S+ lost=(\d+)", line)
                if g:
                    gaps += 1
                    lost_in_gaps += int(g.group(1))
        logged = count_lines(self.log_path, b" " + BODY.encode())
        # Warm-up probes answered and published before the sub's subscription reached the
        # pub (a PUB drops what no subscriber has asked for yet) are left out of both counts.
        before_subscribed = self.warm_sent - warm_logged
        return {
            "answered": answered - before_subscribed,
            "published": published - before_subscribed,
            "not_queued": not_queued,
            "logged": logged + warm_logged,
            "gap_lines": gaps,
            "gap_lost": lost_in_gaps,
        }


class DowncaseJournalPeer(DowncasePeer):
    """The pub keeping its retention on disk (--journal, default sync every second)."""
    name = "downcase --journal"

    def start(self, tmp):
        self.extra = ["--journal=" + os.path.join(tmp, "journal")]
        return super().start(tmp)


class DowncaseNoRetainPeer(DowncasePeer):
    """The pub without retention (--retain=0): the behaviour before it, for comparison."""
    name = "downcase --retain=0"
    extra = ["--retain=0"]


class DowncaseAlonePeer(Peer):
    """The same pub with no subscriber: what HTTP alone costs (a PUB with no subscriber
    discards each message at once). A control for the table, not a way to run downcase."""
    name = "downcase, no sub"

    def pids(self):
        return [self.pub.pid]

    def start(self, tmp):
        self.port = free_port()
        self.pub = self.procs.start(self.pub_argv("tcp://127.0.0.1:%d" % free_port()),
                                    stderr=subprocess.DEVNULL)
        wait_http(self.port)
        return self.port

    def stop(self):
        st = self.procs.stop(self.pub)
        if st != 0:
            raise RuntimeError("downcase exit status %s" % st)
        return {}


class NginxPeer(Peer):
    name = "nginx"

    def pids(self):
        return [self.proc.pid]

    def start(self, tmp):
        self.port = free_port()
        prefix = os.path.join(tmp, "nginx")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        user = ""
        if os.geteuid() == 0:  # as root nginx would switch its worker to nobody
            user = "user root root;"
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""%s
worker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    server {
        listen 127.0.0.1:%d;
        location / {
            default_type "text/plain; charset=utf-8";
            add_header X-Content-Type-Options nosniff;
            return 200 "%s";
        }
    }
}
""" % (user, prefix, prefix, self.port, BODY))
        self.argv = ["nginx", "-p", prefix, "-c", conf, "-e", prefix + "/logs/error.log"]
        self.proc = self.procs.start(pinned(SERVER_CPU, self.argv), stderr=subprocess.DEVNULL)
        wait_http(self.port)
        return self.port

    def stop(self):
        st = self.procs.stop(self.proc, signal.SIGQUIT)
        if st != 0:
            raise RuntimeError("nginx exit status %s" % st)
        return {}


class NodePeer(Peer):
    name = "node"

    def pids(self):
        return [self.proc.pid] + sub_pids(self.ctx, self.sub)

    def start(self, tmp):
        self.port = free_port()
        zport = free_port()
        ep = "tcp://127.0.0.1:%d" % zport
        self.log_path = os.path.join(tmp, "node-sub.log")
        self.err = os.path.join(tmp, "node.err")
        argv = ["node", os.path.join(self.ctx.node_dir, "server.js"),
                "--listen=127.0.0.1:%d" % self.port, "--bind=" + ep]
        if not self.ctx.node_zmq:
            argv.append("--no-zmq")
        self.proc = self.procs.start(pinned(SERVER_CPU, argv), stderr=open(self.err, "w"),
                                     cwd=self.ctx.node_dir)
        self.sub = None
        if self.ctx.node_zmq:
            self.sub = self.start_sub(ep)
        if self.sub is not None:
            self.warm_sent = wait_subscribed(self.port, self.log_path)
        else:
            wait_http(self.port)
        return self.port

    def stop(self):
        st = self.procs.stop(self.proc)
        res = {}
        if self.sub is not None:
            wait_stable_lines(self.log_path)
            self.procs.stop(self.sub)
            warm_logged = count_lines(self.log_path, b" warmup")
            res["logged"] = count_lines(self.log_path, b" " + BODY.encode()) + warm_logged
        with open(self.err) as f:
            m = re.search(r"stopped: (\d+) requests answered, (\d+) messages published", f.read())
        if st != 0 or m is None:
            raise RuntimeError("node peer exit status %s, no stop summary" % st)
        res["answered"] = int(m.group(1))
        if self.sub is not None:
            res["answered"] -= self.warm_sent - warm_logged
        return res


# --- sections -----------------------------------------------------------------------------

SCENARIOS = [("keep-alive, 50 conns", 50, 0), ("keep-alive, 500 conns", 500, 0),
             ("pipelined x16, 50 conns", 50, 16)]


def section_http(ctx):
    peers = [DowncasePeer(ctx), NginxPeer(ctx), NodePeer(ctx), DowncaseAlonePeer(ctx),
             DowncaseJournalPeer(ctx), DowncaseNoRetainPeer(ctx)]
    results = {(p.name, s[0]): [] for p in peers for s in SCENARIOS}
    counts = []
    # Each run gets freshly started processes (and its own sub and log), so the counts of item 2
    # belong to one scenario.
    for rnd in range(ctx.rounds):
        for label, conns, depth in SCENARIOS:
            # The order rotates each round, so no server is always the one measured right after
            # another's run, or always first when other load comes and goes.
            for peer in peers[rnd % len(peers):] + peers[:rnd % len(peers)]:
                with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
                    port = peer.start(tmp)
                    try:
                        run_wrk(port, 50, 1)  # warm-up: Node's JIT, caches, TCP state
                        cpu0 = sum(cpu_ns(p) for p in peer.pids())
                        r = run_wrk(port, conns, ctx.secs, depth)
                        r["cpu_s"] = (sum(cpu_ns(p) for p in peer.pids()) - cpu0) / 1e9
                        r["per_cpu_s"] = r["requests"] / r["cpu_s"] if r["cpu_s"] else 0
                    finally:
                        c = peer.stop()
                results[(peer.name, label)].append(r)
                log("round %d %-16s %-24s %9.0f req/s p50 %.3f ms p99 %.3f ms, %.2f CPU s, "
                    "%.0f req/CPU-s%s" % (
                    rnd + 1, peer.name, label, r["rps"], r["p50"], r["p99"], r["cpu_s"],
                    r["per_cpu_s"],
                    " non-2xx %d errors %d" % (r["non2xx"], r["errors"])
                    if r["non2xx"] or r["errors"] else ""))
                c.update(peer=peer.name, round=rnd + 1, scenario=label)
                counts.append(c)

    # wrk sometimes prints 0.00us percentiles for pipelined runs: a missing figure, left out
    # of the median (0 when every round lacks it, printed n/a).
    def median_of(runs, k):
        vals = [r[k] for r in runs if r[k] > 0 or k not in ("p50", "p99")]
        return statistics.median(vals) if vals else 0

    def ms(v, fmt):
        return fmt % v if v > 0 else "n/a"

    med = {}
    for key, runs in results.items():
        med[key] = {k: median_of(runs, k) for k in ("rps", "p50", "p99", "cpu_s", "per_cpu_s")}
        med[key]["non2xx"] = sum(r["non2xx"] for r in runs)
        med[key]["errors"] = sum(r["errors"] for r in runs)
    node_label = "node" if ctx.node_zmq else "node (http only)"
    print("\n## HTTP: wrk -t1, %d s per run, median of %d rounds (server on core %s, wrk on "
          "core %s, the logging sub on core %s)\n" % (ctx.secs, ctx.rounds, SERVER_CPU,
                                                      CLIENT_CPU, ctx.sub_cpu))
    print("| scenario | server | req/s | p50 ms | p99 ms | req/s vs nginx | req/s vs node "
          "| p99 vs nginx | server CPU s | req per CPU-s | per CPU-s vs nginx |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, _, _ in SCENARIOS:
        ng = med[("nginx", label)]
        nd = med[("node", label)]
        for peer in peers:
            m = med[(peer.name, label)]
            print("| %s | %s | %.0f | %s | %s | %s | %s | %s | %.2f | %.0f | %s |" % (
                label, node_label if peer.name == "node" else peer.name, m["rps"],
                ms(m["p50"], "%.3f"), ms(m["p99"], "%.2f"), ratio(m["rps"], ng["rps"]),
                ratio(m["rps"], nd["rps"]),
                ratio(m["p99"], ng["p99"]) if m["p99"] > 0 else "n/a", m["cpu_s"],
                m["per_cpu_s"], ratio(m["per_cpu_s"], ng["per_cpu_s"])))
    bad = [(k, m) for k, m in med.items() if m["non2xx"] or m["errors"]]
    for (name, label), m in bad:
        print("\nwarning: %s, %s: %d non-2xx answers, %d socket errors" % (
            name, label, m["non2xx"], m["errors"]))

    print("\n## Nothing lost: each downcase run's 2xx answers (warm-up included) vs its sub's "
          "log\n")
    print("| server | round | scenario | 2xx answered | published | not queued | lines logged "
          "| gap lines (lost) | lost |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for c in counts:
        if "answered" not in c or c["peer"] == "node":
            continue
        print("| %s | %d | %s | %d | %d | %d | %d | %d (%d) | %d |" % (
            c["peer"], c["round"], c["scenario"], c["answered"], c["published"], c["not_queued"],
            c["logged"], c["gap_lines"], c["gap_lost"], c["answered"] - c["logged"]))
    if ctx.node_zmq:
        print("\nThe Node peer (PUB drops silently past its high-water mark):\n")
        print("| round | scenario | answered | lines logged | lost |")
        print("|---|---|---:|---:|---:|")
        for c in counts:
            if c["peer"] == "node":
                print("| %d | %s | %d | %d | %d |" % (c["round"], c["scenario"], c["answered"],
                                                      c["logged"], c["answered"] - c["logged"]))
    ctx.results["http"] = {"%s / %s" % k: v for k, v in med.items()}
    ctx.results["lost"] = counts


def log_span_secs(path):
    """Seconds between the first and last line's millisecond timestamps."""
    with open(path, "rb") as f:
        first = f.readline()
        f.seek(max(0, os.path.getsize(path) - 4096))
        last = f.read().splitlines()[-1]

    def stamp(line):
        t = time.strptime(line[:19].decode(), "%Y-%m-%dT%H:%M:%S")
        return time.mktime(t) + int(line[20:23]) / 1000

    return stamp(last) - stamp(first)


def section_flood(ctx):
    n = ctx.flood_count
    rows = {"downcase sub -> file": [], "zsink fwrite -> file": [], "zsink discard": []}
    lines_ok = []
    for rnd in range(ctx.rounds):
        for kind in rows:
            with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp:
                ep = "tcp://127.0.0.1:%d" % free_port()
                out = os.path.join(tmp, "out.log")
                if kind.startswith("downcase"):
                    recv = ctx.procs.start(pinned(SERVER_CPU, [
                        ctx.downcase, "--role=sub", "--wire=framed", "--connect=" + ep,
                        "--log=" + out]), stderr=subprocess.DEVNULL)
                else:
                    argv = [ctx.zsink, ep, str(n)] + ([out] if "fwrite" in kind else [])
                    recv = ctx.procs.start(pinned(SERVER_CPU, argv), stdout=subprocess.PIPE,
                                           text=True)
                fl = subprocess.run(pinned(CLIENT_CPU, [ctx.zflood, ep, str(n)]),
                                    capture_output=True, text=True, timeout=120)
                if fl.returncode != 0:
                    ctx.procs.stop(recv)
                    raise RuntimeError("zflood: " + fl.stderr.strip())
                if kind.startswith("downcase"):
                    deadline = time.monotonic() + 30
                    while count_lines(out, b"lower case") < n and time.monotonic() < deadline:
                        time.sleep(0.1)
                    if ctx.procs.stop(recv) != 0:
                        raise RuntimeError("downcase sub failed")
                    written = count_lines(out, b" " + BODY.encode())
                    lines_ok.append(written)
                    if written != n:
                        raise RuntimeError("the sub wrote %d lines of %d" % (written, n))
                    rate = (n - 1) / log_span_secs(out)
                else:
                    stdout, _ = recv.communicate(timeout=60)
                    ctx.procs.live.remove(recv)
                    if recv.returncode != 0:
                        raise RuntimeError("zsink failed")
                    if "fwrite" in kind:
                        written = count_lines(out, BODY.encode())
                        if written != n:
                            raise RuntimeError("zsink wrote %d lines of %d" % (written, n))
                    rate = float(re.search(r"([\d.]+) msg/s", stdout).group(1))
                rows[kind].append(rate)
                log("round %d %-22s %9.0f lines/s" % (rnd + 1, kind, rate))
    med = {k: statistics.median(v) for k, v in rows.items()}
    # Ratios within each round (its receivers ran within seconds of each other), then their
    # median: steadier than the ratio of medians when other load comes and goes.
    sub = rows["downcase sub -> file"]
    r_fwrite = statistics.median(a / b for a, b in zip(sub, rows["zsink fwrite -> file"]))
    r_discard = statistics.median(a / b for a, b in zip(sub, rows["zsink discard"]))
    print("\n## Subscriber throughput: zflood (core %s) -> %d framed messages -> receiver "
          "(core %s), median of %d\n" % (CLIENT_CPU, n, SERVER_CPU, ctx.rounds))
    print("| receiver | lines/s | vs zsink fwrite | vs zsink discard |")
    print("|---|---:|---:|---:|")
    for k, v in med.items():
        print("| %s | %.0f | %.0f %% | %.0f %% |" % (
            k, v, 100 * v / med["zsink fwrite -> file"], 100 * v / med["zsink discard"]))
    print("\nMedian of the per-round ratios: the downcase sub at %.0f %% of zsink fwrite, "
          "%.0f %% of zsink discard." % (100 * r_fwrite, 100 * r_discard))
    print("\nThe downcase sub wrote exactly %d lines in each run (%s)." % (
        n, ", ".join(str(x) for x in lines_ok)))
    ctx.results["flood"] = dict(med, sub_vs_fwrite=r_fwrite, sub_vs_discard=r_discard)


def section_catchup(ctx):
    """A sub that was away while n messages were published fetches them all from the pub's
    memory retention when it comes back: the rate at which it logs them (first to last line's
    timestamps), next to the rate at which it logs a live flood (the flood section's zflood)."""
    n = ctx.flood_count
    rates = []
    for rnd in range(ctx.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-catchup-") as tmp:
            port = free_port()
            ep = "tcp://127.0.0.1:%d" % free_port()
            log_path = os.path.join(tmp, "sub.log")
            pub = ctx.procs.start(pinned(SERVER_CPU, [
                ctx.downcase, "--role=pub", "--wire=framed", "--retain=512m",
                "--listen=127.0.0.1:%d" % port, "--bind=" + ep]), stderr=subprocess.DEVNULL)
            sub_argv = pinned(SERVER_CPU, [ctx.downcase, "--role=sub", "--wire=framed",
                                           "--connect=" + ep, "--log=" + log_path])
            try:
                sub = ctx.procs.start(sub_argv, stderr=subprocess.DEVNULL)
                wait_subscribed(port, log_path)
                wait_stable_lines(log_path)
                if ctx.procs.stop(sub) != 0:
                    raise RuntimeError("downcase sub failed")
                before = count_lines(log_path, b"lower case")
                subprocess.run(pinned(CLIENT_CPU, [ctx.hclient, "requests", "127.0.0.1",
                                                   str(port), str(n), "50"]),
                               check=True, capture_output=True, timeout=600)
                t0 = time.monotonic()
                sub = ctx.procs.start(sub_argv, stderr=subprocess.DEVNULL)
                deadline = time.monotonic() + 120
                while count_lines(log_path, b" " + BODY.encode()) < n:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the sub fetched %d of %d" % (
                            count_lines(log_path, b" " + BODY.encode()), n))
                    time.sleep(0.05)
                wall = time.monotonic() - t0
                if ctx.procs.stop(sub) != 0:
                    raise RuntimeError("downcase sub failed")
                logged = count_lines(log_path, b" " + BODY.encode())
                if logged != n or count_lines(log_path, b"!gap") != 0:
                    raise RuntimeError("catch-up logged %d of %d, or a gap" % (logged, n))
                # The fetched lines' own span: from the first fetched line to the last.
                with open(log_path, "rb") as f:
                    lines = f.read().splitlines()[before:]
                span = log_span_of(lines)
            finally:
                ctx.procs.stop(pub)
        rate = (n - 1) / span if span > 0 else 0
        rates.append((rate, wall))
        log("round %d catch-up: %d messages logged in %.3f s (%.0f msg/s), %.2f s from the "
            "sub's start" % (rnd + 1, n, span, rate, wall))
    rate = statistics.median(r for r, _ in rates)
    wall = statistics.median(w for _, w in rates)
    live = ctx.results.get("flood", {}).get("downcase sub -> file")
    print("\n## Catch-up: a sub away while %d messages were published, then started again, "
          "median of %d\n" % (n, ctx.rounds))
    print("| | messages/s |")
    print("|---|---:|")
    print("| fetched from the pub's retention and logged | %.0f |" % rate)
    if live:
        print("| logged live, flooded by zflood (flood section, same run) | %.0f |" % live)
    print("\nEvery fetched message was logged exactly once (%d lines, no gap line); %.2f s from "
          "the sub's start to the last line." % (n, wall))
    ctx.results["catchup"] = {"messages": n, "msg_per_s": rate, "seconds_from_start": wall,
                              "live_msg_per_s": live}


def log_span_of(lines):
    """Seconds between the first and last of these text lines' timestamps."""
    def stamp(line):
        t = time.strptime(line[:19].decode(), "%Y-%m-%dT%H:%M:%S")
        return time.mktime(t) + int(line[20:23]) / 1000.0
    return stamp(lines[-1]) - stamp(lines[0])


def section_journal(ctx):
    """The journal's appends (benchmarks/jbench: the code the pub runs per message, with one
    fdatasync at the end) next to dd writing the same bytes to the same directory."""
    n = ctx.flood_count
    size = 60
    rows = []
    for rnd in range(ctx.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-journal-", dir=ctx.journal_dir) as tmp:
            jb = subprocess.run(pinned(SERVER_CPU, [ctx.jbench, os.path.join(tmp, "j"), str(n),
                                                    str(size)]),
                                capture_output=True, text=True, timeout=300)
            if jb.returncode != 0:
                raise RuntimeError("jbench: " + jb.stderr.strip())
            m = re.search(r"bytes (\d+) append_seconds ([\d.]+) synced_seconds ([\d.]+)",
                          jb.stdout)
            nbytes, app, syn = int(m.group(1)), float(m.group(2)), float(m.group(3))
            mib = max(1, nbytes // (1024 * 1024))
            dd = {}
            for label, conv in (("dd", []), ("dd conv=fdatasync", ["conv=fdatasync"])):
                t0 = time.monotonic()
                subprocess.run(pinned(SERVER_CPU, ["dd", "if=/dev/zero",
                                                   "of=" + os.path.join(tmp, "dd"), "bs=1M",
                                                   "count=%d" % mib] + conv),
                               check=True, capture_output=True, timeout=300)
                dd[label] = mib * 1024 * 1024 / (time.monotonic() - t0) / 1e6
            rows.append({"append": nbytes / app / 1e6, "synced": nbytes / syn / 1e6,
                         "records_per_s": n / app, **dd})
            log("round %d journal: %.0f MB/s appending, %.0f MB/s with the sync; dd %.0f MB/s, "
                "%.0f MB/s with fdatasync" % (rnd + 1, rows[-1]["append"], rows[-1]["synced"],
                                             dd["dd"], dd["dd conv=fdatasync"]))
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print("\n## Journal: %d records of %d bytes of text (%s), median of %d\n" % (
        n, size, ctx.journal_dir or tempfile.gettempdir(), ctx.rounds))
    print("| writer | MB/s | vs dd | vs dd conv=fdatasync |")
    print("|---|---:|---:|---:|")
    for label, key in (("journal appends (%.0f records/s)" % med["records_per_s"], "append"),
                       ("journal appends, then fdatasync", "synced"), ("dd bs=1M", "dd"),
                       ("dd bs=1M conv=fdatasync", "dd conv=fdatasync")):
        print("| %s | %.0f | %s | %s |" % (label, med[key], ratio(med[key], med["dd"]),
                                          ratio(med[key], med["dd conv=fdatasync"])))
    ctx.results["journal"] = med


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def section_memory(ctx):
    n = ctx.conns
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        peer = DowncasePeer(ctx)
        port = peer.start(tmp)
        try:
            # taskset execs downcase in place, so the pid is downcase's
            pid = peer.pub.pid
            idle = rss_kib(pid)
            holder = ctx.procs.start(pinned(CLIENT_CPU, [ctx.hclient, "hold", "127.0.0.1",
                                                         str(port), str(n)]),
                                     stdout=subprocess.PIPE, text=True)
            line = holder.stdout.readline()
            if not line.startswith("ready"):
                raise RuntimeError("hclient hold failed")
            time.sleep(0.5)
            loaded = rss_kib(pid)
            ctx.procs.stop(holder)
        finally:
            peer.stop()
    per = (loaded - idle) * 1024 / n
    print("\n## Memory: downcase pub (framed, one sub connected), VmRSS\n")
    print("| state | RSS |")
    print("|---|---:|")
    print("| idle (after a few requests) | %.1f MiB |" % (idle / 1024))
    print("| %d idle keep-alive connections | %.1f MiB |" % (n, loaded / 1024))
    print("| per connection | %.0f bytes |" % per)
    ctx.results["memory"] = {"idle_kib": idle, "loaded_kib": loaded, "conns": n,
                             "bytes_per_conn": per}


def callgrind_pub(ctx, extra):
    """callgrind over ctx.cost_requests requests to a pub with these extra flags: (total
    instructions, the callgrind_annotate text)."""
    n = ctx.cost_requests
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        port = free_port()
        ep = "tcp://127.0.0.1:%d" % free_port()
        out = os.path.join(tmp, "callgrind.out")
        sub_log = os.path.join(tmp, "sub.log")
        # Instrumentation starts off and is switched on only around the requests, so start-up
        # and shutdown are not in the count.
        pub = ctx.procs.start(pinned(SERVER_CPU, [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out,
            ctx.downcase, "--role=pub", "--wire=framed", "--listen=127.0.0.1:%d" % port,
            "--bind=" + ep] + list(extra)), stderr=subprocess.DEVNULL)
        sub = ctx.procs.start(pinned(CLIENT_CPU, [
            ctx.downcase, "--role=sub", "--wire=framed", "--connect=" + ep,
            "--log=" + sub_log]), stderr=subprocess.DEVNULL)
        try:
            wait_http(port, timeout=60)
            time.sleep(0.5)
            subprocess.run(["callgrind_control", "-i", "on", str(pub.pid)], check=True,
                           capture_output=True, timeout=30)
            subprocess.run(pinned(CLIENT_CPU, [ctx.hclient, "requests", "127.0.0.1", str(port),
                                               str(n)]),
                           check=True, capture_output=True, timeout=600)
            subprocess.run(["callgrind_control", "-i", "off", str(pub.pid)], check=True,
                           capture_output=True, timeout=30)
        finally:
            ctx.procs.stop(pub, timeout=60)
            wait_stable_lines(sub_log)
            ctx.procs.stop(sub)
        ann = subprocess.run(["callgrind_annotate", "--threshold=100", out],
                             capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"([\d,]+) +\(100\.0%\) +PROGRAM TOTALS", ann).group(1)
                .replace(",", ""))
    return total, ann


def section_cost(ctx):
    n = ctx.cost_requests
    total, ann = callgrind_pub(ctx, [])
    total_old, _ = callgrind_pub(ctx, ["--retain=0"])
    # "Ir (pct)  file:function [object]": one function can appear under several files
    # (inlined code), so the rows are summed per function name.
    costs = {}
    by_obj = {}  # rows without an object are libc's inlined files
    for m in re.finditer(r"^ *([\d,]+) \( *[\d.]+%\) +(\S.*?)(?: \[(.*)\])?$", ann, re.M):
        where = m.group(2)
        if where == "PROGRAM TOTALS":
            continue
        fn = where.rsplit(":", 1)[-1]
        obj = os.path.basename(m.group(3) or "")
        ir, known = costs.get(fn, (0, ""))
        costs[fn] = (ir + int(m.group(1).replace(",", "")), known or obj)
        by_obj[obj or "libc.so.6"] = by_obj.get(obj or "libc.so.6", 0) + int(
            m.group(1).replace(",", ""))
    top = sorted(((ir, 100.0 * ir / total, "%s (%s)" % (fn, obj) if obj else fn)
                  for fn, (ir, obj) in costs.items()), reverse=True)
    print("\n## Cost per request: callgrind over %d requests, one keep-alive connection, "
          "sub connected\n" % n)
    print("%.0f instructions per request with the default retention (%d in all; start-up and "
          "shutdown excluded); %.0f with --retain=0 in the same run (%+.0f).\n" % (
              total / n, total, total_old / n, (total - total_old) / n))
    print("| function (self cost) | instructions per request | share |")
    print("|---|---:|---:|")
    for ir, pct, fn in top[:ctx.top]:
        print("| `%s` | %.0f | %.1f %% |" % (fn, ir / n, pct))
    print("\nBy object: " + ", ".join("%s %.0f %%" % (o, 100.0 * ir / total) for o, ir in
                                       sorted(by_obj.items(), key=lambda x: -x[1])[:5]) + ".")
    ctx.results["cost"] = {"ir_per_request": total / n, "ir_per_request_retain0": total_old / n,
                           "top": [(fn, ir / n, pct) for ir, pct, fn in top[:ctx.top]]}


def section_startup(ctx):
    rows = {}
    warnings = []
    for name in ("downcase", "nginx", "node"):
        rows[name] = []
    for i in range(ctx.startup_runs):
        for name in rows:
            with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
                port = free_port()
                if name == "downcase":
                    argv = [ctx.downcase, "--role=pub", "--wire=framed",
                            "--listen=127.0.0.1:%d" % port,
                            "--bind=tcp://127.0.0.1:%d" % free_port()]
                elif name == "nginx":
                    peer = NginxPeer(ctx)
                    peer.start(tmp)  # writes the config; measured below on a new port
                    peer.stop()
                    conf = os.path.join(tmp, "nginx", "nginx.conf")
                    with open(conf) as f:
                        text = f.read().replace("127.0.0.1:%d;" % peer.port,
                                                "127.0.0.1:%d;" % port)
                    with open(conf, "w") as f:
                        f.write(text)
                    argv = peer.argv
                else:
                    argv = ["node", os.path.join(ctx.node_dir, "server.js"),
                            "--listen=127.0.0.1:%d" % port,
                            "--bind=tcp://127.0.0.1:%d" % free_port()]
                    if not ctx.node_zmq:
                        argv.append("--no-zmq")
                r = subprocess.run(pinned(CLIENT_CPU, [ctx.hclient, "start", "127.0.0.1",
                                                       str(port), "--", "taskset", "-c",
                                                       SERVER_CPU] + argv),
                                   capture_output=True, text=True, timeout=60)
                # downcase must stop cleanly; a peer that answered but stopped uncleanly still
                # gives a valid time, with a warning.
                if r.returncode == 3 and name != "downcase":
                    log("start-up of %s: %s" % (name, r.stderr.strip()))
                    warnings.append("%s: %s" % (name, r.stderr.strip()))
                elif r.returncode != 0:
                    raise RuntimeError("start-up of %s: %s" % (name, r.stderr.strip()))
                rows[name].append(int(r.stdout.strip()) / 1000)
    print("\n## Start-up: fork+exec to the first answered request, median of %d\n" %
          ctx.startup_runs)
    print("| server | ms |")
    print("|---|---:|")
    for name, v in rows.items():
        print("| %s | %.1f |" % (name, statistics.median(v)))
    for w in warnings:
        print("\nwarning: %s" % w)
    ctx.results["startup_ms"] = {k: statistics.median(v) for k, v in rows.items()}


# --- live view: /stream viewers while the sub logs at full speed ----------------------------

# The viewers' side, run as its own process on the client core: VIEWERS connections to
# /stream that read as fast as they can, plus one that never reads (tiny receive buffer) until
# the flood is over. Each viewer counts the events it got and the `dropped` counts it was sent,
# with byte-string searches (so the counting is exact and cheap); it is done when the two add
# up to COUNT. Prints "ready" once every stream has answered 200, then one JSON line.
VIEWER_READER = r"""
import json, re, selectors, socket, sys, time
host, port, viewers, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
DROP = re.compile(rb'event: dropped\ndata: \{"dropped":(\d+)')
class V:
    def __init__(self, stalled):
        self.s = socket.socket()
        if stalled:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.s.connect((host, port))
        self.s.sendall(b"GET /stream HTTP/1.1\r\nHost: bench\r\n\r\n")
        self.rest = b""
        self.head = False
        self.events = self.dropped = 0
        self.stalled = stalled
    def feed(self, data):
        buf = self.rest + data
        if not self.head:
            if b"\r\n\r\n" not in buf:
                self.rest = buf
                return
            head, buf = buf.split(b"\r\n\r\n", 1)
            if not head.startswith(b"HTTP/1.1 200"):
                sys.exit("viewer: " + head.decode(errors="replace"))
            self.head = True
        cut = buf.rfind(b"\n\n") + 2
        whole, self.rest = buf[:cut], buf[cut:]
        self.events += whole.count(b'\ndata: {"time"')
        self.dropped += sum(int(n) for n in DROP.findall(whole))
    def done(self):
        return self.events + self.dropped >= count
vs = [V(False) for _ in range(viewers)]
stalled = V(True)
sel = selectors.DefaultSelector()
for v in vs:
    v.s.setblocking(False)
    sel.register(v.s, selectors.EVENT_READ, v)
sel.register(sys.stdin, selectors.EVENT_READ, None)
printed = False
deadline = None
while True:
    if not printed and all(v.head for v in vs):
        print("ready", flush=True)
        printed = True
    if all(v.done() for v in vs) and stalled.done():
        break
    if deadline and time.monotonic() > deadline:
        break
    for key, _ in sel.select(1.0):
        v = key.data
        if v is None:
            sys.stdin.readline()  # the flood is over: the stalled viewer reads now
            stalled.s.setblocking(False)
            sel.register(stalled.s, selectors.EVENT_READ, stalled)
            sel.unregister(sys.stdin)
            deadline = time.monotonic() + 60
            continue
        try:
            data = v.s.recv(1 << 20)
        except BlockingIOError:
            continue
        if not data:
            sel.unregister(v.s)
            continue
        v.feed(data)
print(json.dumps({"events": [v.events for v in vs], "dropped": [v.dropped for v in vs],
                  "stalled_events": stalled.events, "stalled_dropped": stalled.dropped}),
      flush=True)
"""

VIEWERS = 100


def flood_sub(ctx, n, http, viewers):
    """One flood of n framed messages into a sub (http: with --http; viewers: that many /stream
    readers and one stalled one). Returns (lines/s from the log's timestamps, lines per CPU
    second of the sub (all its threads), reader result)."""
    with tempfile.TemporaryDirectory(prefix="bench-viewers-") as tmp:
        ep = "tcp://127.0.0.1:%d" % free_port()
        out = os.path.join(tmp, "out.log")
        # --heartbeat=0: zflood keeps nothing to replay, and a sub saturated on one pinned core
        # can miss its peer's heartbeats (the flood's own bytes are queued ahead of them); the
        # connection then drops and what zflood still holds is lost, in any configuration.
        argv = [ctx.downcase, "--role=sub", "--wire=framed", "--connect=" + ep, "--log=" + out,
                "--heartbeat=0"]
        if http:
            argv.append("--http=127.0.0.1:0")
        sub = ctx.procs.start(pinned(SERVER_CPU, argv), stderr=subprocess.PIPE, text=True)
        reader = None
        result = None
        try:
            port = None
            while http and port is None:
                line = sub.stderr.readline()
                if not line:
                    raise RuntimeError("the sub exited before listening")
                m = re.search(r"http listening on 127\.0\.0\.1:(\d+)", line)
                port = int(m.group(1)) if m else None
            if viewers:
                reader = ctx.procs.start(pinned(CLIENT_CPU, [
                    sys.executable, "-c", VIEWER_READER, "127.0.0.1", str(port), str(viewers),
                    str(n)]), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                if reader.stdout.readline().strip() != "ready":
                    raise RuntimeError("the /stream viewers did not connect")
            cpu0 = cpu_ns(sub.pid)
            fl = subprocess.run(pinned(CLIENT_CPU, [ctx.zflood, ep, str(n)]),
                                capture_output=True, text=True, timeout=300)
            if fl.returncode != 0:
                raise RuntimeError("zflood: " + fl.stderr.strip())
            deadline = time.monotonic() + 60
            while count_lines(out, b"lower case") < n and time.monotonic() < deadline:
                time.sleep(0.1)
            cpu_s = (cpu_ns(sub.pid) - cpu0) / 1e9
            written = count_lines(out, b" " + BODY.encode())
            if written != n:
                raise RuntimeError("the sub wrote %d lines of %d" % (written, n))
            if reader:
                reader.stdin.write("go\n")
                reader.stdin.flush()
                result = json.loads(reader.stdout.readline())
                ctx.procs.stop(reader)
        finally:
            if reader is not None and reader.poll() is None:
                ctx.procs.stop(reader)
            st = ctx.procs.stop(sub)
            sub.stderr.close()
        if st != 0:
            raise RuntimeError("downcase sub exit status %s" % st)
        return (n - 1) / log_span_secs(out), n / cpu_s if cpu_s > 0 else 0, result


def section_viewers(ctx):
    """Two figures per run: lines/s from the log's first and last timestamps (what a user
    sees, but zflood backs off with a sleep whenever the sub's queue is full, so a slower sub
    also gets a slower flood), and lines per CPU second of the sub, all threads (what logging
    costs; steady on a shared machine)."""
    n = ctx.flood_count
    kinds = ["no --http", "--http, no viewer", "--http, %d viewers + 1 stalled" % VIEWERS]
    rows = {k: [] for k in kinds}
    cpu_rows = {k: [] for k in kinds}
    ratios = []
    cpu_ratios = []
    details = []
    for rnd in range(ctx.rounds):
        for kind in kinds:
            rate, per_cpu, res = flood_sub(ctx, n, kind != kinds[0],
                                           VIEWERS if kind == kinds[2] else 0)
            rows[kind].append(rate)
            cpu_rows[kind].append(per_cpu)
            log("round %d %-34s %9.0f lines/s %9.0f lines per CPU-s" % (rnd + 1, kind, rate,
                                                                       per_cpu))
            if res:
                details.append(res)
        ratios.append(rows[kinds[2]][-1] / rows[kinds[1]][-1])
        cpu_ratios.append(cpu_rows[kinds[2]][-1] / cpu_rows[kinds[1]][-1])
    med = {k: statistics.median(v) for k, v in rows.items()}
    cmed = {k: statistics.median(v) for k, v in cpu_rows.items()}
    print("\n## Live view: the sub with /stream viewers, zflood -> %d framed messages (sub on "
          "core %s; zflood and the viewers on core %s), median of %d\n"
          % (n, SERVER_CPU, CLIENT_CPU, ctx.rounds))
    print("| sub | lines/s | vs --http, no viewer | lines per CPU-s | vs --http, no viewer |")
    print("|---|---:|---:|---:|---:|")
    for k in kinds:
        print("| %s | %.0f | %.2fx | %.0f | %.2fx |" % (k, med[k], med[k] / med[kinds[1]],
                                                     cmed[k], cmed[k] / cmed[kinds[1]]))
    print("\nMedian of the per-round ratios, %d viewers vs none: %.2fx lines/s, %.2fx lines per "
          "CPU-s." % (VIEWERS, statistics.median(ratios), statistics.median(cpu_ratios)))
    print("\n| round | events per viewer: min / median / max | dropped per viewer: min / median "
          "/ max | every viewer: events + dropped = %d | stalled viewer: events, dropped |" % n)
    print("|---|---|---|---|---|")
    for i, d in enumerate(details):
        ev, dr = sorted(d["events"]), sorted(d["dropped"])
        exact = all(e + x == n for e, x in zip(d["events"], d["dropped"]))
        print("| %d | %d / %d / %d | %d / %d / %d | %s | %d, %d |" % (
            i + 1, ev[0], ev[len(ev) // 2], ev[-1], dr[0], dr[len(dr) // 2], dr[-1],
            "yes" if exact else "NO",
            d["stalled_events"], d["stalled_dropped"]))
    ctx.results["viewers"] = dict(lines_per_s=med, lines_per_cpu_s=cmed,
                                  ratio=statistics.median(ratios),
                                  cpu_ratio=statistics.median(cpu_ratios), details=details)


# --- the comparison as a chart (--svg) ------------------------------------------------------

def write_svg(results, path):
    """Draws the http section's medians as grouped bars of req/s per scenario, one bar per
    server, with each server's p99 latency as a marker on a second axis. Plain SVG, no
    library: the figures come from the same run as the tables."""
    http = results.get("http")
    if not http:
        raise RuntimeError("--svg needs the http section")
    scenarios = [s[0] for s in SCENARIOS]
    servers = []
    for key in http:
        name = key.split(" / ")[0]
        if name not in servers:
            servers.append(name)
    colors = {"downcase": "#2660a4", "nginx": "#3a9b5c", "node": "#d08a1e",
              "downcase-alone": "#9bb8dc"}
    W, H, left, right, top, bottom = 860, 420, 70, 70, 50, 90
    plot_w, plot_h = W - left - right, H - top - bottom
    rps_max = max(v["rps"] for v in http.values()) * 1.1 or 1
    p99_max = max(v["p99"] for v in http.values()) * 1.2 or 1
    group_w = plot_w / len(scenarios)
    bar_w = group_w * 0.8 / len(servers)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="#ffffff"/>',
           '<text x="%d" y="24" font-size="15" font-weight="bold">HTTP: requests per second '
           '(bars) and p99 latency (markers), median of the rounds</text>' % left]
    for i in range(6):
        y = top + plot_h - plot_h * i / 5
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e4e4e0"/>'
                   % (left, left + plot_w, y, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.0fk</text>'
                   % (left - 6, y + 4, rps_max * i / 5 / 1000))
        out.append('<text x="%d" y="%.1f">%.1f ms</text>' % (left + plot_w + 6, y + 4,
                                                            p99_max * i / 5))
    out.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">'
               'req/s</text>' % (top + plot_h / 2, top + plot_h / 2))
    out.append('<text x="%d" y="%d" transform="rotate(90 %d %d)" text-anchor="middle">'
               'p99 ms</text>' % (W - 14, top + plot_h / 2, W - 14, top + plot_h / 2))
    for gi, sc in enumerate(scenarios):
        gx = left + gi * group_w + group_w * 0.1
        for si, name in enumerate(servers):
            v = http.get("%s / %s" % (name, sc))
            if not v:
                continue
            x = gx + si * bar_w
            h = plot_h * v["rps"] / rps_max
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                       '<title>%s, %s: %.0f req/s, p99 %.2f ms</title></rect>' % (
                           x, top + plot_h - h, bar_w - 2, h, colors.get(name, "#888"), name,
                           sc, v["rps"], v["p99"]))
            if v["p99"] > 0:
                y = top + plot_h - plot_h * v["p99"] / p99_max
                cx = x + (bar_w - 2) / 2
                out.append('<path d="M %.1f %.1f l 6 6 l -6 6 l -6 -6 z" fill="#1d1f21" '
                           'stroke="#ffffff"/>' % (cx, y - 6))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (left + gi * group_w + group_w / 2, top + plot_h + 18, sc))
    lx = left
    for name in servers:
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>'
                   % (lx, H - 34, colors.get(name, "#888")))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 16, H - 24, name))
        lx += 30 + 8 * len(name)
    out.append('<path d="M %d %d l 6 6 l -6 6 l -6 -6 z" fill="#1d1f21"/>' % (lx + 6, H - 34))
    out.append('<text x="%d" y="%d">p99 latency</text>' % (lx + 16, H - 24))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


SECTIONS = {"http": section_http, "flood": section_flood, "catchup": section_catchup,
            "memory": section_memory, "cost": section_cost, "startup": section_startup,
            "journal": section_journal, "viewers": section_viewers}


# --- forward: into NATS JetStream ------------------------------------------------------------
# Added for --forward (src/forward.h); section_forward and its helpers only.

def start_nats(ctx, tmp):
    """nats-server -js on 127.0.0.1 (a port of its choosing, read from its ports file), pinned
    to the load generator's core, with a stream LOGS on subject logs.bench; returns (proc,
    url)."""
    p = ctx.procs.start(pinned(CLIENT_CPU, [
        ctx.nats_server, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", os.path.join(tmp, "js"),
        "--ports_file_dir", tmp]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not [f for f in os.listdir(tmp) if f.endswith(".ports")]:
        if time.monotonic() > deadline or p.poll() is not None:
            raise RuntimeError("nats-server did not start")
        time.sleep(0.05)
    ports = [f for f in os.listdir(tmp) if f.endswith(".ports")][0]
    with open(os.path.join(tmp, ports)) as f:
        url = json.load(f)["nats"][0]
    r = subprocess.run([ctx.jsctl, url, "add", "LOGS", "logs.bench", "1"], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("jsctl add: " + r.stderr.strip())
    return p, url


def stream_messages(ctx, url):
    r = subprocess.run([ctx.jsctl, url, "info", "LOGS"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError("jsctl info: " + r.stderr.strip())
    return int(r.stdout.split()[0].partition("=")[2])


def sub_metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def forward_flood(ctx, n, tmp):
    """zflood -> downcase sub --forward -> nats-server: messages acknowledged per second, from
    zflood's start to the n-th acknowledgment (polled from /metrics every 20 ms)."""
    nats, url = start_nats(ctx, tmp)
    ep = "tcp://127.0.0.1:%d" % free_port()
    mport = free_port()
    # zflood has no retention: the sub's receive queue must hold every message while the sub
    # waits for acknowledgments (--hwm), or what zflood flushed before exiting is lost; and
    # without --wire=framed the sub holds (leaves them queued) instead of deferring (dropping
    # them to fetch them again from a retention zflood does not have).
    sub = ctx.procs.start(pinned(SERVER_CPU, [
        ctx.downcase, "--role=sub", "--connect=" + ep, "--hwm=%d" % (n + 1000),
        "--forward=%s/logs.bench" % url, "--state=" + os.path.join(tmp, "st"),
        "--metrics=127.0.0.1:%d" % mport]), stderr=subprocess.DEVNULL)
    wait_http(mport, path="/healthz")
    t0 = time.monotonic()
    fl = subprocess.run(pinned(CLIENT_CPU, [ctx.zflood, ep, str(n)]), capture_output=True,
                        text=True, timeout=300)
    if fl.returncode != 0:
        raise RuntimeError("zflood: " + fl.stderr.strip())
    deadline = time.monotonic() + 300
    while sub_metric(mport, "downcase_forward_acked_total") < n:
        if time.monotonic() > deadline:
            raise RuntimeError("the sub forwarded %d of %d" % (
                sub_metric(mport, "downcase_forward_acked_total"), n))
        time.sleep(0.02)
    took = time.monotonic() - t0
    stored = stream_messages(ctx, url)
    if ctx.procs.stop(sub) != 0:
        raise RuntimeError("the forwarding sub did not exit 0")
    ctx.procs.stop(nats)
    if stored != n:
        raise RuntimeError("the stream holds %d messages of %d" % (stored, n))
    return n / took


def forward_jspub(ctx, n, tmp):
    nats, url = start_nats(ctx, tmp)
    r = subprocess.run(pinned(SERVER_CPU, [ctx.jspub, url, "logs.bench", str(n), "4096"]),
                       capture_output=True, text=True, timeout=300)
    stored = stream_messages(ctx, url)
    ctx.procs.stop(nats)
    if r.returncode != 0:
        raise RuntimeError("jspub: " + r.stderr.strip())
    if stored != n:
        raise RuntimeError("jspub: the stream holds %d messages of %d" % (stored, n))
    return float(re.search(r"([\d.]+) msg/s", r.stdout).group(1))


def forward_http(ctx, kind, tmp):
    """wrk (50 connections) at a framed pub whose sub (same core) logs to a file or forwards to
    nats-server (on wrk's core in both runs, idle in the file run); returns wrk's figures."""
    nats, url = start_nats(ctx, tmp)
    port, ep = free_port(), "tcp://127.0.0.1:%d" % free_port()
    mport = free_port()
    pub = ctx.procs.start(pinned(SERVER_CPU, [
        ctx.downcase, "--role=pub", "--wire=framed", "--listen=127.0.0.1:%d" % port,
        "--bind=" + ep]), stderr=subprocess.DEVNULL)
    out = ["--log=" + os.path.join(tmp, "sub.log")] if kind == "file" else [
        "--forward=%s/logs.bench" % url, "--state=" + os.path.join(tmp, "st")]
    sub = ctx.procs.start(pinned(SERVER_CPU, [
        ctx.downcase, "--role=sub", "--wire=framed", "--connect=" + ep,
        "--metrics=127.0.0.1:%d" % mport] + out), stderr=subprocess.DEVNULL)
    wait_http(port)
    wait_http(mport, path="/healthz")
    deadline = time.monotonic() + 10
    while sub_metric(mport, "downcase_received_messages_total") == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the sub received nothing in 10 s")
        get(port, WARM_PATH)
        time.sleep(0.05)
    res = run_wrk(port, 50, ctx.secs)
    ctx.procs.stop(pub)
    ctx.procs.stop(sub)
    ctx.procs.stop(nats)
    return res


def section_forward(ctx):
    for path in (ctx.jspub, ctx.jsctl, ctx.nats_server):
        if not os.path.exists(path):
            print("\n## Forwarding into NATS JetStream: not measured (%s missing: libnats-dev "
                  "and nats-server are needed)" % path)
            return
    n = ctx.flood_count // 5
    rows = {"downcase sub --forward": [], "jspub": []}
    http = {"file": [], "forward": []}
    for rnd in range(ctx.rounds):
        for kind in rows:
            with tempfile.TemporaryDirectory(prefix="bench-forward-") as tmp:
                rate = (forward_flood if kind.startswith("downcase") else forward_jspub)(
                    ctx, n, tmp)
            rows[kind].append(rate)
            log("round %d %-24s %9.0f msg/s" % (rnd + 1, kind, rate))
        for kind in http:
            with tempfile.TemporaryDirectory(prefix="bench-forward-") as tmp:
                res = forward_http(ctx, kind, tmp)
            http[kind].append(res["rps"])
            log("round %d pub req/s, sub %-8s %9.0f (non-2xx %d)" % (
                rnd + 1, kind, res["rps"], res["non2xx"]))
    ratio_js = statistics.median(a / b for a, b in zip(rows["downcase sub --forward"],
                                                         rows["jspub"]))
    ratio_http = statistics.median(a / b for a, b in zip(http["forward"], http["file"]))
    med = {k: statistics.median(v) for k, v in rows.items()}
    print("\n## Forwarding into NATS JetStream: %d messages, nats-server %s on core %s, "
          "publisher on core %s, median of %d\n" % (n, "2.9.10 (file storage, R1)", CLIENT_CPU,
                                                   SERVER_CPU, ctx.rounds))
    print("| publisher | messages/s acknowledged | vs jspub |")
    print("|---|---:|---:|")
    for k, v in med.items():
        print("| %s | %.0f | %.0f %% |" % (k, v, 100 * v / med["jspub"]))
    print("\nMedian of the per-round ratios: the forwarding sub at %.0f %% of jspub "
          "(zflood feeding it on core %s)." % (100 * ratio_js, CLIENT_CPU))
    print("\n| pub's sub | req/s (wrk, 50 connections) |")
    print("|---|---:|")
    for k, v in http.items():
        print("| %s | %.0f |" % ("logs to a file" if k == "file" else "forwards to JetStream",
                                 statistics.median(v)))
    print("\nMedian of the per-round ratios: req/s with a forwarding sub at %.0f %% of that "
          "with a file-logging one." % (100 * ratio_http))
    ctx.results["forward"] = dict(med, forward_vs_jspub=ratio_js, http_file=http["file"],
                                  http_forward=http["forward"], http_ratio=ratio_http)


SECTIONS["forward"] = section_forward


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="one round, short runs (under 2 minutes)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="comma-separated sections: " + ", ".join(SECTIONS))
    ap.add_argument("--build", required=True, help="meson build directory (release)")
    ap.add_argument("--node-dir", required=True, help="server.js with node_modules installed")
    ap.add_argument("--node-zmq", choices=("yes", "no"), default="yes")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--svg", help="also draw the http section as a chart (SVG) here")
    ap.add_argument("--journal-dir", default=None,
                    help="where the journal section writes (default: the temporary directory)")
    ap.add_argument("--sub-cpu", choices=(SERVER_CPU, CLIENT_CPU), default=SERVER_CPU,
                    help="core of the logging subscriber in the HTTP runs (default: the "
                         "server's, and its CPU time counts as the server's; %s: wrk's)"
                         % CLIENT_CPU)
    args = ap.parse_args()

    class Ctx:
        pass

    ctx = Ctx()
    ctx.procs = Procs()
    ctx.downcase = os.path.join(args.build, "src", "downcase")
    ctx.zflood = os.path.join(args.build, "benchmarks", "zflood")
    ctx.zsink = os.path.join(args.build, "benchmarks", "zsink")
    ctx.jbench = os.path.join(args.build, "benchmarks", "jbench")
    ctx.journal_dir = args.journal_dir
    ctx.hclient = os.path.join(args.build, "benchmarks", "hclient")
    ctx.jspub = os.path.join(args.build, "benchmarks", "jspub")
    ctx.jsctl = os.path.join(args.build, "tests", "jsctl")
    ctx.nats_server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    ctx.node_dir = args.node_dir
    ctx.node_zmq = args.node_zmq == "yes"
    ctx.sub_cpu = args.sub_cpu
    ctx.top = 5
    ctx.results = {}
    if args.quick:
        ctx.rounds, ctx.secs, ctx.flood_count = 1, 2, 200000
        ctx.conns, ctx.cost_requests, ctx.startup_runs = 10000, 2000, 3
    else:
        ctx.rounds, ctx.secs, ctx.flood_count = 3, 5, 1000000
        ctx.conns, ctx.cost_requests, ctx.startup_runs = 10000, 20000, 11

    only = [s.strip() for s in args.only.split(",") if s.strip()]
    for s in only:
        if s not in SECTIONS:
            print("bench: --only: unknown section %r (known: %s)" % (s, ", ".join(SECTIONS)),
                  file=sys.stderr)
            return 2
    for tool in ("wrk", "nginx", "node", "taskset", "valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            print("bench: %s not found (scripts/bench installs it)" % tool, file=sys.stderr)
            return 1

    started = time.monotonic()
    uname = os.uname()
    print("# downcase benchmark, %s, %s %s, %d cores, %s%s" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), uname.sysname, uname.release,
        os.cpu_count(), "quick" if args.quick else "full",
        ", load average %.2f at start" % os.getloadavg()[0]))
    try:
        for s in only:
            SECTIONS[s](ctx)
            sys.stdout.flush()
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    finally:
        ctx.procs.stop_all()
    print("\nTook %.0f s; load average %.2f at the end." % (time.monotonic() - started,
                                                           os.getloadavg()[0]))
    if args.svg:
        write_svg(ctx.results, args.svg)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(ctx.results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
