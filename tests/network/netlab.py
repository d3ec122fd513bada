"""netlab: simulated hosts for the 'network' suite: network namespaces on one bridge.

Each test builds its own lab: a switch namespace PREFIX-sw holding a bridge, and one namespace
per host, joined to the bridge by a veth pair, on the subnet 10.207.N.0/24 (N is the test's own
number, so tests never share names or addresses). Nothing is created in the root namespace
except one route: before anything else, `unreachable 10.207.N.0/24`, so a test that by mistake
talks to a lab address from the root namespace fails at once instead of sending a packet to the
machine's real gateway.

Names are fixed, so a run killed with SIGKILL (which no trap survives) is cleaned up by the next
one: setup first removes every namespace with the prefix (killing what runs in it) and the
route. On exit (normal, exception, SIGTERM from meson's timeout, SIGINT) the same cleanup runs.

Link faults are made in the switch namespace, where the bridged traffic passes (br_netfilter is
built into this kernel and the switch enables bridge-nf-call-iptables):
  - loss and partitions with nftables (bridge family),
  - delay (and loss) with an iptables NFQUEUE rule and nfq_delay.py, since this kernel has no
    netem.

Tests that cannot run here exit 77 (meson's "skipped") with the reason on stdout.
"""

import atexit
import calendar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
import testmain  # noqa: E402

PY = "/usr/bin/python3"
SKIP = 77


def skip(reason):
    """Skips the test (testmain.skip: exit 77 outside unittest, SkipTest inside)."""
    testmain.skip(reason)


def require():
    """Exits 77 unless this process can build a lab: root, ip netns, a real binary."""
    if not harness.BINARY:
        skip("DOWNCASE is not set (run through meson test)")
    if harness.WRAPPER:
        # Under valgrind every process is ~20x slower: the heartbeat and partition timings
        # this suite is about would measure valgrind, not downcase.
        skip("the network suite does not run under a wrapper (valgrind)")
    if os.geteuid() != 0:
        skip("network namespaces need root")
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            skip("'%s' is missing (Debian packages iproute2, nftables)" % tool)
    probe = "dcnet-probe-%d" % os.getpid()
    p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if p.returncode != 0:
        skip("ip netns add fails here: " + p.stderr.strip())
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


def sh(*argv, check=True, timeout=20, input=None):
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                  (p.stderr or p.stdout).strip()))
    return p


class Lab:
    """Hosts on a bridge. hosts: names, given addresses .1, .2, ... in that order."""

    def __init__(self, number, hosts):
        self.prefix = "dcnet%d-" % number
        self.net = "10.207.%d" % number
        self.subnet = self.net + ".0/24"
        self.sw = self.prefix + "sw"
        self.addr = {h: "%s.%d" % (self.net, i + 1) for i, h in enumerate(hosts)}
        self.hosts = list(hosts)
        self.procs = []
        self.helpers = []
        self._up = False
        atexit.register(self.cleanup)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self._check_subnet_unused()
        self.cleanup()
        # The safety net first: from here on, a lab address used in the root namespace fails
        # locally with "No route to host".
        sh("ip", "route", "replace", "unreachable", self.subnet)
        self._up = True
        t0 = time.monotonic()
        sh("ip", "netns", "add", self.sw)
        self.ns_exec(self.sw, "ip", "link", "set", "lo", "up")
        self.ns_exec(self.sw, "ip", "link", "add", "br0", "type", "bridge")
        self.ns_exec(self.sw, "ip", "link", "set", "br0", "up")
        self.ns_exec(self.sw, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1",
                     check=False)
        for h in hosts:
            ns = self.ns(h)
            sh("ip", "netns", "add", ns)
            self.ns_exec(ns, "ip", "link", "set", "lo", "up")
            # Both ends are created directly in their namespaces: nothing in the root one.
            sh("ip", "link", "add", "v-" + h, "netns", self.sw, "type", "veth", "peer", "name",
               "eth0", "netns", ns)
            self.ns_exec(self.sw, "ip", "link", "set", "v-" + h, "master", "br0", "up")
            self.ns_exec(ns, "ip", "addr", "add", self.addr[h] + "/24", "dev", "eth0")
            self.ns_exec(ns, "ip", "link", "set", "eth0", "up")
        print("lab %s: %s on %s (%.2f s)" % (self.prefix, ", ".join(
            "%s=%s" % (h, self.addr[h]) for h in hosts), self.subnet, time.monotonic() - t0),
            flush=True)

    def _check_subnet_unused(self):
        routes = sh("ip", "-4", "route", "show", "table", "all").stdout
        addrs = sh("ip", "-4", "-o", "addr").stdout
        for line in (routes + addrs).splitlines():
            if self.net + "." in line and not line.startswith("unreachable " + self.subnet):
                skip("the subnet %s is in use on this machine: %s" % (self.subnet, line))

    def _on_signal(self, signum, frame):
        # SystemExit unwinds the test and runs the atexit cleanup.
        sys.exit(128 + signum)

    def ns(self, host):
        return self.prefix + host

    def ns_exec(self, ns, *argv, check=True, timeout=20):
        return sh("ip", "netns", "exec", ns, *argv, check=check, timeout=timeout)

    def run(self, host, *argv, check=True, timeout=20):
        return self.ns_exec(self.ns(host), *argv, check=check, timeout=timeout)

    def prefix_for(self, host):
        return ["ip", "netns", "exec", self.ns(host)]

    def downcase(self, host, *args, ready=r"http listening on|logging to "):
        """Starts downcase in host's namespace; waits for its ready line."""
        p = harness.Proc(list(args), prefix=self.prefix_for(host))
        p.host = host
        self.procs.append(p)
        p.wait_line(ready, timeout=10)
        return p

    def pub(self, host, *args, bind=True):
        a = self.addr[host]
        flags = ["--role=pub", "--listen=%s:5000" % a, "--wire=framed", "--heartbeat=1s"]
        if bind:
            flags.append("--bind=tcp://%s:4444" % a)
        return self.downcase(host, *(flags + list(args)), ready=r"http listening on")

    def spawn(self, host, *argv):
        """A helper process (not downcase) in host's namespace; killed at cleanup."""
        p = subprocess.Popen(self.prefix_for(host) + list(argv), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.helpers.append(p)
        return p

    def load(self, host, targets, count, tag, conns=4, rate=0, timeout=120):
        """Runs load.py in host's namespace: `count` GETs to each target (HOST:PORT); returns
        its JSON report (per target: params answered 200 with their send times, others)."""
        argv = [PY, os.path.join(HERE, "load.py"), "--count", str(count), "--conns", str(conns),
                "--tag", tag, "--rate", str(rate)] + list(targets)
        p = self.run(host, *argv, timeout=timeout)
        return json.loads(p.stdout)

    def load_async(self, host, targets, count, tag, conns=4, rate=0):
        argv = [PY, os.path.join(HERE, "load.py"), "--count", str(count), "--conns", str(conns),
                "--tag", tag, "--rate", str(rate)] + list(targets)
        p = subprocess.Popen(self.prefix_for(host) + argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.helpers.append(p)
        return p

    def curl(self, host, url, timeout=5):
        p = self.run(host, "curl", "-sS", "--max-time", str(timeout), url, check=False,
                     timeout=timeout + 5)
        if p.returncode != 0:
            raise RuntimeError("curl %s from %s: %s" % (url, host, p.stderr.strip()))
        return p.stdout

    # --- link faults, in the switch namespace -------------------------------------------

    def nft(self, script):
        p = subprocess.run(["ip", "netns", "exec", self.sw, "nft", "-f", "-"], input=script,
                           capture_output=True, text=True, timeout=20)
        if p.returncode != 0:
            raise RuntimeError("nft: " + p.stderr.strip() + "\n" + script)

    def partition(self, a, b):
        """Drops every frame between hosts a and b, both ways."""
        self.nft("""table bridge dcpart {
  chain cut { type filter hook forward priority 0; policy accept;
    ip saddr %s ip daddr %s drop
    ip saddr %s ip daddr %s drop
  }
}
""" % (self.addr[a], self.addr[b], self.addr[b], self.addr[a]))

    def heal(self):
        self.nft("delete table bridge dcpart\n")

    def degrade(self, delay_ms, loss):
        """Delay (ms, each way) and random loss on every packet crossing the bridge: an
        NFQUEUE rule hands them to nfq_delay.py, which holds and drops them. --queue-bypass:
        without the script running, traffic flows unshaped (never silently blackholed)."""
        if shutil.which("iptables") is None:
            skip("'iptables' is missing (Debian package iptables)")
        p = subprocess.Popen(["ip", "netns", "exec", self.sw, PY, os.path.join(HERE,
                              "nfq_delay.py"), "0", str(delay_ms), str(loss)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        self.helpers.append(p)
        line = p.stdout.readline()
        if not line.startswith("nfq_delay: queue"):
            raise RuntimeError("nfq_delay.py did not start: " + line + p.stdout.read())
        self.nfq = p
        self.ns_exec(self.sw, "iptables", "-A", "FORWARD", "-s", self.subnet, "-d", self.subnet,
                     "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass")

    def undegrade(self):
        """Removes the delay rule and stops nfq_delay.py; returns its statistics line."""
        self.ns_exec(self.sw, "iptables", "-F", "FORWARD", check=False)
        self.nfq.send_signal(signal.SIGTERM)
        out = self.nfq.communicate(timeout=10)[0]
        return out.strip().splitlines()[-1] if out.strip() else ""

    # --- cleanup -------------------------------------------------------------------------

    def stop_all(self):
        """Stops every downcase process with SIGTERM; returns {proc: exit status}."""
        out = {}
        for p in self.procs:
            if p.popen.poll() is None:
                try:
                    os.kill(p.popen.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            try:
                out[p] = p.stop(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out[p] = "hung"
        return out

    def cleanup(self):
        for p in self.helpers:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        for p in self.procs:
            if p.popen.poll() is None:
                p.popen.kill()
                p.popen.wait(5)
        names = sh("ip", "netns", "list", check=False).stdout.split("\n")
        for line in names:
            name = line.split(" ")[0]
            if not name.startswith(self.prefix):
                continue
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            # Deleting a namespace does not stop what runs in it: killed first, above.
            sh("ip", "netns", "del", name, check=False)
        sh("ip", "route", "del", "unreachable", self.subnet, check=False)
        self._up = False


# --- reading the aggregate log -------------------------------------------------------------

def log_time(s):
    """'2026-11-24T16:20:49.123Z' to seconds since the epoch."""
    main, _, frac = s.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + int(frac or 0) / 1000


def read_json_log(path):
    out = []
    for raw in harness.read_lines(path):
        out.append(json.loads(raw))
    return out


MSG = re.compile(r"^lower case of (\S+) is ")


def by_publisher(entries):
    """{publisher id: [entries in log order]}, gap events included."""
    out = {}
    for e in entries:
        if "publisher" in e:
            out.setdefault(e["publisher"], []).append(e)
    return out


def param_of(e):
    m = MSG.match(e.get("message", ""))
    return m.group(1) if m else None


def publisher_of_tag(entries, tag):
    """The publisher id whose messages carry params starting with tag."""
    for e in entries:
        p = param_of(e)
        if p and p.startswith(tag) and "publisher" in e:
            return e["publisher"]
    return None


def warm_up(lab, client, pubs, log, tag="warm", timeout=15):
    """PUB/SUB has no beginning (slow joiner): publish probes through every pub until the
    sub has logged one from each, then one marker each and wait for them. Returns
    {pub host: publisher id}."""
    deadline = time.monotonic() + timeout
    ids = {}
    i = 0
    while len(ids) < len(pubs):
        i += 1
        for h in pubs:
            if h not in ids:
                lab.curl(client, "http://%s:5000/downcase/?param=%s-%s-%d"
                         % (lab.addr[h], tag, h, i))
        entries = read_json_log(log)
        for h in pubs:
            pid = publisher_of_tag(entries, "%s-%s-" % (tag, h))
            if pid:
                ids[h] = pid
        if time.monotonic() > deadline:
            raise AssertionError("no warm-up probe logged from %s" %
                                 [h for h in pubs if h not in ids])
        time.sleep(0.1)
    for h in pubs:
        lab.curl(client, "http://%s:5000/downcase/?param=%s-%s-done" % (lab.addr[h], tag, h))
    want = {"%s-%s-done" % (tag, h) for h in pubs}
    harness.wait_for(lambda: want <= {param_of(e) for e in read_json_log(log)}, 10,
                     "the warm-up markers")
    return ids


def metrics(lab, host, addr):
    """The /metrics samples at addr, fetched from inside host's namespace."""
    return harness.parse_metrics(lab.curl(host, "http://%s/metrics" % addr))


def percentiles(values):
    if not values:
        return "n/a"
    v = sorted(values)

    def q(p):
        return v[min(len(v) - 1, int(p * len(v)))]
    return "p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)" % (
        q(0.5) * 1000, q(0.95) * 1000, q(0.99) * 1000, v[-1] * 1000, len(v))


def check_complete(tc, entries, pid, answered, what):
    """Asserts publisher pid's lines are exactly `answered` (params answered 200) in sequence
    order with no gap; returns the count."""
    lines = [e for e in by_publisher(entries).get(pid, [])]
    gaps = [e for e in lines if e.get("event") == "gap"]
    tc.assertEqual(gaps, [], "%s: gap lines" % what)
    seqs = [e["seq"] for e in lines]
    tc.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                   "%s: sequence numbers not consecutive in log order" % what)
    logged = [param_of(e) for e in lines]
    missing = set(answered) - set(logged)
    tc.assertEqual(missing, set(), "%s: answered 200 but not logged (%d)" % (what, len(missing)))
    return len([p for p in logged if p in set(answered)])


def exit_clean(tc, lab):
    for p, rc in lab.stop_all().items():
        tc.assertEqual(rc, 0, "%s in %s exited %r; stderr:\n%s" % (p.args, p.host, rc,
                                                                   p.stderr_text()))


def warm_marks(entries):
    """{publisher id: seq of its warm-up marker}: what follows is what a test counts."""
    marks = {}
    for e in entries:
        p = param_of(e)
        if p and p.endswith("-done"):
            marks[e["publisher"]] = e["seq"]
    return marks


def account(tc, entries, pid, mark, what):
    """Publisher pid's log after seq `mark`: (message lines, gap lines, messages reported
    lost). Asserts every gap line's count is exactly the jump in sequence numbers it stands
    for, and that the messages are in sequence order."""
    after = [e for e in by_publisher(entries).get(pid, [])
             if e.get("event") == "gap" or e["seq"] > mark]
    prev, pending = mark, 0
    for e in after:
        if "message" in e:
            tc.assertEqual(e["seq"] - prev - 1, pending, "%s: gap count before seq %d"
                           % (what, e["seq"]))
            prev, pending = e["seq"], 0
        else:
            pending += e["lost"]
    lines = [e for e in after if "message" in e]
    gaps = [e for e in after if e.get("event") == "gap"]
    return lines, gaps, sum(e["lost"] for e in gaps)


def wait_flowing(lab, log, hosts, tag, count, timeout=15):
    """Waits until the log holds `count` messages of load `tag` (load.py's params start with
    it) from each host: the load is then flowing end to end, which a fixed sleep only hoped."""
    prefixes = {h: "%s-%s-" % (tag, lab.addr[h].replace(".", "_")) for h in hosts}

    def flowing():
        seen = dict.fromkeys(hosts, 0)
        for e in read_json_log(log):
            p = param_of(e) or ""
            for h, pre in prefixes.items():
                if p.startswith(pre):
                    seen[h] += 1
        return all(n >= count for n in seen.values())
    harness.wait_for(flowing, timeout, "%d messages of '%s' from each of %s" % (count, tag, hosts))


def tail_probes(tc, lab, client, hosts, log, timeout=15):
    """A loss at the end of a stream only shows as a gap once a later message arrives: publish
    probes through each host until one of its probes is logged. Returns {host: probes sent}
    (each answered 200)."""
    tails = dict.fromkeys(hosts, 0)
    deadline = time.monotonic() + timeout
    while True:
        logged = {param_of(e) for e in read_json_log(log)}
        todo = [h for h in hosts if not any("tail-%s-%d" % (h, i) in logged
                                            for i in range(tails[h]))]
        if not todo:
            return tails
        tc.assertLess(time.monotonic(), deadline, "no tail probe logged from %s" % todo)
        for h in todo:
            lab.curl(client, "http://%s:5000/downcase/?param=tail-%s-%d"
                     % (lab.addr[h], h, tails[h]))
            tails[h] += 1
        time.sleep(0.2)
