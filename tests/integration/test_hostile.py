"""Hostile and broken ZeroMQ peers against every socket that accepts connections: the pub's PUB,
a binding sub (reverse fan-in), and both sides of a relay. Real processes on 127.0.0.1 (and ::1),
attacked over raw TCP with what a misdirected Prometheus scrape, a health check, a port scanner
and old ZeroMQ peers send. What must hold: nothing they send is logged or forwarded, each
connection is counted in /metrics by the socket's side (refused before any handshake, or a
failed handshake), the refusals are reported on stderr rate-limited, and a legitimate
publisher keeps flowing during the attack. Also --allow-from admitting and refusing peers by
address, IPv4 and IPv6.

A control checks the attack itself: the same ZMTP 1.0 bytes sent to a pyzmq SUB without ZAP
are delivered as a message, so a test that sees nothing logged is seeing the defence."""

import errno
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import unittest

import zmq

import harness
import testmain
from harness import SLOW, read_lines, wait_for, warm_up
from test_relay import Relay

# What a Prometheus server sends when a scrape job points at the wrong port (the case).
SCRAPE = (b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Prometheus/2.42.0\r\n"
          b"Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n"
          b"X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n")
HEALTH = b"GET / HTTP/1.0\r\n\r\n"
FORGED = b"lower case of FORGED is forged"


def zmtp10(*frames):
    """An unversioned ZMTP 1.0 peer: an empty identity, then one message of these frames (short
    form: length including the flags byte, flags 1 = more)."""
    out = b"\x01\x00"
    for i, f in enumerate(frames):
        out += bytes([len(f) + 1, 1 if i < len(frames) - 1 else 0]) + f
    return out


def zmtp20(body):
    """A ZMTP 2.0 peer: the versioned signature with revision 1, socket type PUB, an empty
    identity, then one frame."""
    return b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x01\x01" + b"\x00\x00" + bytes([0, len(body)]) + body


def zmtp3_evil():
    """A ZMTP 3.0 greeting naming a mechanism no one speaks: libzmq fails that handshake with a
    reason (mechanism mismatch), so it is a failed handshake rather than a refusal."""
    g = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"EVIL".ljust(20, b"\x00") + b"\x00" * 32
    return g + bytes([4, 5]) + b"HELLO"


def attack(host, port, payload):
    """One hostile connection: sends payload, half-closes, and reads until the server closes
    (so the server has handled the bytes before the next one). Returns what the server sent."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    got = bytearray()
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5 * SLOW)
        s.connect((host, port))
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server closed first: refused at the first bytes
        except OSError as e:
            if e.errno != errno.ENOTCONN:  # the same, seen by shutdown()
                raise
    return bytes(got)


def host_port(endpoint):
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    return host.strip("[]"), int(port)


def refusing_payloads(per_kind, seed=20):
    """(kind, payload) for connections libzmq must refuse before any handshake: nothing in
    them is a ZMTP 3 greeting. Random bytes start with anything but 0xff, the versioned
    signature's first byte."""
    rnd = random.Random(seed)
    out = []
    for i in range(per_kind):
        out.append(("scrape", SCRAPE))
        out.append(("health", HEALTH))
        out.append(("zmtp1.0", zmtp10(FORGED + b" %d" % i)))
        out.append(("zmtp1.0-framed", zmtp10(b"downcase", bytes(8) + struct.pack(">Q", 5 + i),
                                             FORGED)))
        out.append(("zmtp2.0", zmtp20(FORGED)))
        n = rnd.randint(1, 300)
        out.append(("random", bytes([rnd.randrange(0, 255)]) + rnd.randbytes(n)))
    return out


def metric(samples, name, side):
    return samples.get('%s{side="%s"}' % (name, side), None)


class Publisher(threading.Thread):
    """A legitimate client of the pub, publishing while the attack runs: every answer must be
    200."""

    def __init__(self, pub, tag, interval=0.01):
        super().__init__(daemon=True)
        self.pub, self.tag, self.interval = pub, tag, interval
        self.sent = []
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        i = 0
        while not self.stopping.is_set():
            text = "%s-%d" % (self.tag, i)
            try:
                status, _, _ = self.pub.get(text)
            except Exception as e:  # noqa: BLE001 - any failure is the test's finding
                self.errors.append(repr(e))
                return
            if status != 200:
                self.errors.append(status)
                return
            self.sent.append(text)
            i += 1
            time.sleep(self.interval)

    def finish(self):
        self.stopping.set()
        self.join(30 * SLOW)
        assert not self.errors, self.errors
        assert self.sent, "nothing was published during the attack"
        return self.sent


class HostileTest(harness.ProcessTest):

    def texts(self, log, start):
        return [l.split(b" ", 1)[1].decode() for l in read_lines(log)[start:]]

    def assert_flowed(self, log, start, sent):
        """Exactly the legitimate messages after the warm-up, in order: none lost, none
        forged."""
        want = ["lower case of %s is %s" % (t, t.lower()) for t in sent]
        wait_for(lambda: len(read_lines(log)) >= start + len(want), 10,
                 "%d legitimate lines" % len(want))
        time.sleep(0.2)
        self.assertEqual(self.texts(log, start), want)
        with open(log, "rb") as f:
            data = f.read()
        for needle in [b"FORGED", b"forged", b"Accept", b"HTTP/1", b"HELLO"]:
            self.assertNotIn(needle, data)

    def run_attack(self, host, port, payloads):
        for kind, payload in payloads:
            got = attack(host, port, payload)
            # The server said the start of its greeting at most (signature, version, and for a
            # ZMTP 2.0 peer its socket type: 12 bytes; the whole 64-byte greeting to a ZMTP 3
            # peer); never a message, never an answer.
            self.assertTrue(got == b"" or got.startswith(b"\xff"), (kind, got))
            self.assertLessEqual(len(got), 64 if kind == "zmtp3-evil" else 12, (kind, got))
            self.assertNotIn(b"lower case", got, kind)

    # ---- the control ------------------------------------------------------------------------

    def test_control_the_attack_works_against_a_socket_without_zap(self):
        """The ZMTP 1.0 bytes used below are a real attack: a pyzmq SUB bound without ZAP (what
        the sub was before) delivers them as a message."""
        ctx = zmq.Context()
        self.addCleanup(ctx.term)
        s = ctx.socket(zmq.SUB)
        self.addCleanup(s.close, 0)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.bind("tcp://127.0.0.1:*")
        host, port = host_port(s.last_endpoint.decode())
        attack(host, port, zmtp10(FORGED))
        self.assertTrue(s.poll(2000 * SLOW), "the unprotected SUB received nothing")
        self.assertEqual(s.recv_multipart(), [FORGED])

    # ---- every accepting socket --------------------------------------------------------------

    def test_binding_sub_logs_only_its_publisher(self):
        """Reverse fan-in: the sub binds, the pub connects in. 200 hostile connections (the
        issue's count) while the pub publishes: nothing of theirs is logged, each is counted
        by kind, the refusal is reported once (rate-limited), and the publisher flows."""
        log = self.tmp.file("sub.log")
        sub = self.start(harness.Sub, "--bind=tcp://127.0.0.1:*", "--metrics=127.0.0.1:0", log=log)
        endpoint = sub.wait_line(r"zmq bind (\S+)").group(1)
        mhost, mport = harness.http_address(sub)
        pub = self.start(harness.Pub, "--connect=" + endpoint, bind=None)
        start = warm_up(pub, log)
        host, port = host_port(endpoint)
        refusing = refusing_payloads(30)
        failing = [("zmtp3-evil", zmtp3_evil())] * 20
        self.assertEqual(len(refusing) + len(failing), 200)
        legit = Publisher(pub, "Legit")
        legit.start()
        mixed = refusing + failing
        random.Random(7).shuffle(mixed)
        self.run_attack(host, port, mixed)
        sent = legit.finish()
        self.assert_flowed(log, start, sent)
        m = wait_for(lambda: (lambda s: s if metric(s, "downcase_zmq_connections_refused_total",
                                                    "sub") == len(refusing) else None)(
            harness.metrics(mhost, mport)), 10, "the refusals counted")
        self.assertEqual(metric(m, "downcase_zmq_handshakes_failed_total", "sub"), len(failing))
        self.assertEqual(metric(m, "downcase_zap_denied_total", "sub"), 0)
        self.assertEqual(metric(m, "downcase_zap_admitted_total", "sub"), 1)
        # The publisher is the only peer, before and after: refusals are not peers going down.
        self.assertEqual(m["downcase_zmq_peers_connected"], 1)
        self.assertEqual(m["downcase_zmq_peer_disconnects_total"], 0)
        self.assertEqual(m["downcase_malformed_messages_total"], 0)
        self.assertEqual(m["downcase_received_messages_total"], start + len(sent))
        # Reported, rate-limited: one line for each kind in the 10 s interval, not 200.
        refusals = [l for l in sub.lines if "refused a connection on " + endpoint in l]
        self.assertGreaterEqual(len(refusals), 1)
        self.assertLessEqual(len(refusals), 2, refusals)
        self.assertIn("not a ZeroMQ 3 peer", refusals[0])
        fails = [l for l in sub.lines if "handshake failed on " + endpoint in l]
        self.assertTrue(1 <= len(fails) <= 2, fails)
        self.assertIn("the peer does not use the same security mechanism", fails[0])
        self.assertFalse([l for l in sub.lines if " down (" in l], sub.stderr_text())

    def test_pub_gives_nothing_to_hostile_subscribers(self):
        """An unversioned peer connecting to a PUB is a subscriber to libzmq (it even gets a
        phantom subscription to everything): refused, it receives nothing, while a real
        subscriber keeps getting every message."""
        pub = self.start(harness.Pub)
        log = self.tmp.file("sub.log")
        self.start(harness.Sub, log=log, connect=pub.endpoint)
        start = warm_up(pub, log)
        host, port = host_port(pub.endpoint)
        legit = Publisher(pub, "Legit")
        legit.start()
        # A ZMTP 1.0 subscriber that stays to listen: it is closed at once with nothing.
        payloads = refusing_payloads(5) + [("zmtp1.0-listener", b"\x01\x00")] * 10
        self.run_attack(host, port, payloads)
        sent = legit.finish()
        self.assert_flowed(log, start, sent)
        m = wait_for(lambda: (lambda s: s if metric(s, "downcase_zmq_connections_refused_total",
                                                    "pub") == len(payloads) else None)(
            harness.metrics(pub.host, pub.port)), 10, "the refusals counted")
        self.assertEqual(m["downcase_zmq_peers_connected"], 1)
        self.assertEqual(metric(m, "downcase_zap_admitted_total", "pub"), 1)
        pub.wait_line(r"refused a connection on tcp://127\.0\.0\.1:%d: not a ZeroMQ 3 peer" % port)

    def test_relay_both_sides(self):
        """Both sides of a relay bind: publishers connect into its upstream, subscribers into
        its downstream. Each side is attacked; the subscriber behind it logs only the
        publisher's messages, and each side counts its own refusals."""
        # --retain=0: a relay that retains subscribes to everything itself and so forwards the
        # warm-up probes sent before the subscriber was there; without, the forwarded count is
        # exactly what the subscriber logged.
        relay = self.start(Relay, "--retain=0", upstream=["@tcp://127.0.0.1:*"])
        pub = self.start(harness.Pub, "--connect=" + relay.upstream_endpoint, bind=None)
        log = self.tmp.file("sub.log")
        self.start(harness.Sub, log=log, connect=relay.endpoint)
        start = warm_up(pub, log)
        legit = Publisher(pub, "Legit")
        legit.start()
        up = refusing_payloads(5, seed=1)
        down = refusing_payloads(4, seed=2) + [("zmtp1.0-listener", b"\x01\x00")] * 5
        self.run_attack(*host_port(relay.upstream_endpoint),
                        up + [("zmtp3-evil", zmtp3_evil())] * 3)
        self.run_attack(*host_port(relay.endpoint), down)
        sent = legit.finish()
        self.assert_flowed(log, start, sent)
        m = wait_for(lambda: (lambda s: s if (
            metric(s, "downcase_zmq_connections_refused_total", "upstream") == len(up) and
            metric(s, "downcase_zmq_connections_refused_total", "downstream") == len(down))
            else None)(relay.samples()), 10, "both sides' refusals counted")
        self.assertEqual(metric(m, "downcase_zmq_handshakes_failed_total", "upstream"), 3)
        self.assertEqual(metric(m, "downcase_zmq_handshakes_failed_total", "downstream"), 0)
        self.assertEqual(m["downcase_zmq_upstream_peers_connected"], 1)
        self.assertEqual(m["downcase_zmq_downstream_peers_connected"], 1)
        self.assertEqual(m["downcase_relay_forwarded_messages_total"], start + len(sent))

    # ---- --allow-from ------------------------------------------------------------------------

    def test_allow_from_admits_and_refuses_by_address(self):
        """A dual-stack binding sub admitting 127.0.0.0/8 only: a publisher connecting over
        IPv4 (seen as ::ffff:127.0.0.1) is logged, one connecting over IPv6 (::1) is denied
        and counted, and says so. A second sub that also lists ::1 logs both."""
        log = self.tmp.file("v4only.log")
        sub = self.start(harness.Sub, "--bind=tcp://*:*", "--metrics=127.0.0.1:0",
                         "--allow-from=127.0.0.0/8", log=log)
        sub.wait_line(r"zap: admitting peers from 1 address range \(--allow-from\) only")
        port = int(sub.wait_line(r"zmq bind tcp://\S+:(\d+)").group(1))
        mhost, mport = harness.http_address(sub)
        v4 = self.start(harness.Pub, "--connect=tcp://127.0.0.1:%d" % port, bind=None)
        v6 = self.start(harness.Pub, "--connect=tcp://[::1]:%d" % port, bind=None)
        start = warm_up(v4, log)
        sub.wait_line(r"zap: denied a client from ::1: its address is not in --allow-from "
                      r"\(sub side\)")
        for i in range(20):
            self.assertEqual(v6.get("From IPv6 %d" % i)[0], 200)
            self.assertEqual(v4.get("From IPv4 %d" % i)[0], 200)
        wait_for(lambda: len(read_lines(log)) >= start + 20, 10, "the IPv4 publisher's lines")
        time.sleep(0.3)
        texts = self.texts(log, start)
        self.assertEqual(texts, ["lower case of From IPv4 %d is from ipv4 %d" % (i, i)
                                 for i in range(20)])
        m = harness.metrics(mhost, mport)
        self.assertEqual(metric(m, "downcase_zap_admitted_total", "sub"), 1)
        self.assertGreaterEqual(metric(m, "downcase_zap_denied_total", "sub"), 1)
        self.assertEqual(m["downcase_zmq_peers_connected"], 1)

        # Both families listed: both publishers are logged.
        log2 = self.tmp.file("both.log")
        both = self.start(harness.Sub, "--bind=tcp://*:*", "--allow-from=127.0.0.0/8",
                          "--allow-from", "::1", log=log2)
        port2 = int(both.wait_line(r"zmq bind tcp://\S+:(\d+)").group(1))
        for name, host in [("v4b", "127.0.0.1"), ("v6b", "[::1]")]:
            p = self.start(harness.Pub, "--connect=tcp://%s:%d" % (host, port2), bind=None)
            warm_up(p, log2, marker=name)
        self.assertFalse([l for l in both.lines if "denied" in l], both.stderr_text())

    def test_allow_from_on_the_pub_and_the_relay(self):
        """The same handler guards the pub's socket and the relay's sides."""
        pub = self.start(harness.Pub, "--allow-from=::1/128", bind="tcp://*:*")
        port = int(pub.wait_line(r"zmq bind tcp://\S+:(\d+)").group(1))
        ok_log, no_log = self.tmp.file("v6.log"), self.tmp.file("v4.log")
        self.start(harness.Sub, log=ok_log, connect="tcp://[::1]:%d" % port)
        self.start(harness.Sub, log=no_log, connect="tcp://127.0.0.1:%d" % port)
        warm_up(pub, ok_log)
        pub.wait_line(r"zap: denied a client from ::ffff:127\.0\.0\.1: its address is not in "
                      r"--allow-from \(pub side\)")
        self.assertEqual(read_lines(no_log), [])
        m = harness.metrics(pub.host, pub.port)
        self.assertEqual(metric(m, "downcase_zap_admitted_total", "pub"), 1)
        self.assertGreaterEqual(metric(m, "downcase_zap_denied_total", "pub"), 1)

        # A relay admitting 127.0.0.1 only, its upstream bound on both families: a publisher
        # connecting over IPv6 is denied on the upstream side, one over IPv4 is relayed.
        relay = self.start(Relay, "--allow-from=127.0.0.1", upstream=["@tcp://*:*"])
        up_port = host_port(relay.upstream_endpoint)[1]
        relayed = self.tmp.file("relayed.log")
        self.start(harness.Sub, log=relayed, connect=relay.endpoint)
        v4 = self.start(harness.Pub, "--connect=tcp://127.0.0.1:%d" % up_port, bind=None)
        v6 = self.start(harness.Pub, "--connect=tcp://[::1]:%d" % up_port, bind=None)
        start = warm_up(v4, relayed)
        relay.wait_line(r"zap: denied a client from ::1: its address is not in --allow-from "
                        r"\(upstream side\)")
        self.assertEqual(v6.get("From IPv6")[0], 200)
        self.assertEqual(v4.get("From IPv4")[0], 200)
        wait_for(lambda: len(read_lines(relayed)) > start, 10, "the IPv4 publisher's line")
        time.sleep(0.3)
        self.assertEqual(self.texts(relayed, start), ["lower case of From IPv4 is from ipv4"])
        m = relay.samples()
        self.assertGreaterEqual(metric(m, "downcase_zap_denied_total", "upstream"), 1)
        self.assertEqual(metric(m, "downcase_zap_denied_total", "downstream"), 0)
        self.assertEqual(m["downcase_zmq_upstream_peers_connected"], 1)

    def test_allow_from_applies_to_every_peer(self):
        """--allow-from also covers the peers a socket connects to, a peer over ipc:// (no IP
        address) is refused, and a CURVE client must pass the address check as well as the
        key check."""
        # A sub connecting to its pub over IPv4 while admitting ::1 only: its own publisher is
        # denied on the sub side, and nothing is logged.
        pub = self.start(harness.Pub)
        log = self.tmp.file("connecting.log")
        sub = self.start(harness.Sub, "--allow-from=::1", log=log, connect=pub.endpoint)
        sub.wait_line(r"zap: denied a client from 127\.0\.0\.1: its address is not in "
                      r"--allow-from \(sub side\)")
        for i in range(5):
            self.assertEqual(pub.get("Not admitted %d" % i)[0], 200)
        time.sleep(0.3)
        self.assertEqual(read_lines(log), [])

        # ipc://: no address to match.
        path = "ipc://" + self.tmp.file("ipc.sock")
        log = self.tmp.file("ipc.log")
        sub = self.start(harness.Sub, "--bind=" + path, "--allow-from=0.0.0.0/0",
                         "--allow-from=::/0", log=log)
        self.start(harness.Pub, "--connect=" + path, bind=None)
        sub.wait_line(r"zap: denied a client from localhost:\S*: no IP address \(ipc://\?\), "
                      r"and --allow-from admits addresses only \(sub side\)")
        self.assertEqual(read_lines(log), [])

        # CURVE: an allowed key from an address not allowed is denied.
        for name in ["server", "client"]:
            # Keys only: --keygen itself is test_curve's (and valgrind's there).
            p = subprocess.run([harness.BINARY, "--keygen=" + name],
                               cwd=self.tmp.path, capture_output=True, timeout=30 * SLOW)
            self.assertEqual(p.returncode, 0, p.stderr)
        allow = self.tmp.file("allow")
        os.makedirs(allow)
        shutil.copy(self.tmp.file("client"), allow)
        pub = self.start(harness.Pub, "--curve-secret=" + self.tmp.file("server_secret"),
                         "--curve-allow=" + allow, "--allow-from=::1", bind="tcp://*:*")
        port = int(pub.wait_line(r"zmq bind tcp://\S+:(\d+)").group(1))
        common = ["--curve-secret=" + self.tmp.file("client_secret"),
                  "--curve-server=" + self.tmp.file("server")]
        v4_log, v6_log = self.tmp.file("curve-v4.log"), self.tmp.file("curve-v6.log")
        self.start(harness.Sub, *common, log=v4_log, connect="tcp://127.0.0.1:%d" % port)
        self.start(harness.Sub, *common, log=v6_log, connect="tcp://[::1]:%d" % port)
        warm_up(pub, v6_log)
        pub.wait_line(r"zap: denied a client from ::ffff:127\.0\.0\.1: its address is not in "
                      r"--allow-from \(pub side\)")
        self.assertEqual(read_lines(v4_log), [])

    def test_bad_allow_from(self):
        for value, says in [("10.0.0.1/8", "did you mean 10.0.0.0/8"),
                            ("10.0.0.0/40", "from 0 to 32"),
                            ("example.com", "not an IPv4 or IPv6 address")]:
            with self.subTest(value):
                p = subprocess.run(harness.WRAPPER + [harness.BINARY, "--role=sub",
                                                      "--allow-from=" + value],
                                   capture_output=True, text=True, timeout=10 * SLOW,
                                   stdin=subprocess.DEVNULL)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("--allow-from", p.stderr)
                self.assertIn(says, p.stderr)


if __name__ == "__main__":
    testmain.main()
