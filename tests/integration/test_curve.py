"""CurveZMQ: --keygen, an encrypted stream with a subscriber allow-list, clients refused (and
counted by the pub), no plaintext on the wire (a TCP relay of the test's own records the bytes),
every malformed key file, key rotation without a restart, and interoperability with pyzmq's
zmq.auth certificates and CURVE sockets. Also the commands of README's "Securing the stream".

The pub's counters are read from its stop line ("curve: stopped: N clients admitted, N denied,
N failed handshakes") and its rate-limited diagnostics."""

import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import threading
import time
import unittest

import zmq
import zmq.auth

import harness
from test_relay import Relay as DowncaseRelay
import testmain
from harness import SLOW, read_lines, wait_for, warm_up

SUMMARY_RX = r"curve: stopped: (\d+) clients admitted, (\d+) denied, (\d+) failed handshakes"


def run(args, cwd=None, timeout=10.0, wrapped=True, prefix=()):
    """Runs the binary to completion (under DOWNCASE_WRAPPER unless wrapped is False); returns
    (status, stdout, stderr) as text. prefix: a command it runs under (harness.unprivileged())."""
    if not harness.BINARY:
        testmain.skip("DOWNCASE is not set (run through meson test)")
    wrapper = harness.WRAPPER if wrapped else []
    p = subprocess.run(list(prefix) + wrapper + [harness.BINARY] + list(args),
                       stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout * SLOW, cwd=cwd)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def counters(pub):
    """Stops the pub (which must exit 0) and returns (admitted, denied, failed)."""
    rc = pub.stop()
    assert rc == 0, "pub exited %r:\n%s" % (rc, pub.stderr_text())
    m = re.search(SUMMARY_RX, pub.stderr_text())
    assert m, "no curve summary line:\n" + pub.stderr_text()
    return tuple(int(x) for x in m.groups())


def slurp(path):
    with open(path) as f:
        return f.read()


def port_of(endpoint):
    return int(endpoint.rpartition(":")[2])


class Relay:
    """A TCP relay on 127.0.0.1 to (host, port) that records every byte going either way."""

    def __init__(self, test, port):
        self.port = port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.1)
        self.endpoint = "tcp://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.recorded = bytearray()
        self.lock = threading.Lock()
        self.sockets = []
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()
        test.addCleanup(self.close)

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in [(client, upstream), (upstream, client)]:
                t = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:
                self.recorded += data
            try:
                dst.sendall(data)
            except OSError:
                return

    def data(self):
        with self.lock:
            return bytes(self.recorded)

    def close(self):
        self.stopping = True
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        for t in self.threads:
            t.join(5)


def readme_blocks():
    """The sh blocks of README's "Securing the stream", in order: the first two are the
    stream and the key rotation, then reverse fan-in, the two relay setups, --allow-from."""
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    section = slurp(readme).split("\n## Securing the stream\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 6, "README section changed shape: %d blocks" % len(blocks)
    return blocks


class CurveTest(harness.ProcessTest):

    def keygen(self, name, wrapped=False):
        """downcase --keygen=NAME in the test's directory; returns (public, secret) paths. Keys
        for other tests are made without DOWNCASE_WRAPPER (valgrind): --keygen itself is
        checked under it by the keygen tests and the README's commands."""
        status, out, err = run(["--keygen=" + name], cwd=self.tmp.path, wrapped=wrapped)
        self.assertEqual(status, 0, err)
        return self.tmp.file(name), self.tmp.file(name + "_secret")

    def allow_dir(self, *certs):
        d = self.tmp.file("allow")
        os.makedirs(d, exist_ok=True)
        for c in certs:
            shutil.copy(c, d)
        return d

    def secure_pub(self, secret, allow=None, expect_exit=0):
        args = ["--curve-secret=" + secret] + (["--curve-allow=" + allow] if allow else [])
        return self.start(harness.Pub, *args, expect_exit=expect_exit)

    def sub(self, pub_endpoint, log, secret=None, server=None):
        args = []
        if secret:
            args += ["--curve-secret=" + secret, "--curve-server=" + server]
        return self.start(harness.Sub, *args, log=self.tmp.file(log), connect=pub_endpoint)

    def publish(self, pub, texts):
        for t in texts:
            status, _, _ = pub.get(t)
            self.assertEqual(status, 200)

    # ---- README ----------------------------------------------------------------------------

    def test_readme_commands(self):
        """Runs the sh blocks of README's "Securing the stream" in order, in a temporary
        directory: the binary's path for build/src/downcase, a free port for 4444 and loopback
        HTTP on port 0 are the only changes. Each subscriber must then log the stream; at the
        end the rotated-out key is refused."""
        blocks = readme_blocks()[:2]
        d = self.tmp.path
        pub = None
        subs = []
        for block in blocks:
            for line in block.splitlines():
                line = line.split(" #", 1)[0].strip()
                if not line:
                    continue
                args = shlex.split(line)
                self.assertIn(args[0], ["build/src/downcase", "mkdir", "cp", "rm"], line)
                if args[0] != "build/src/downcase":
                    subprocess.run(args, cwd=d, check=True, timeout=10)
                    continue
                args = [a.replace("keys/", d + "/keys/").replace("=alice.log", "=" + d + "/alice.log")
                        for a in args[1:]]
                if "--role=pub" in args:
                    args.remove("--role=pub")
                    args = [a.replace("tcp://*:4444", "tcp://127.0.0.1:*") for a in args]
                    pub = self.start(harness.Pub, *args, bind=None)
                elif "--role=sub" in args:
                    args.remove("--role=sub")
                    args = [a.replace("tcp://127.0.0.1:4444", pub.endpoint) for a in args]
                    subs.append(self.start(harness.Sub, *args))
                    warm_up(pub, d + "/alice.log", marker="sub-%d" % len(subs))
                else:
                    status, _, err = run(args, cwd=d)
                    self.assertEqual(status, 0, err)
        self.assertEqual(len(subs), 2)
        self.assertEqual(subs[0].stop(), 0)
        self.sub(pub.endpoint, "old.log", d + "/keys/alice_secret", d + "/keys/server")
        pub.wait_line(r"zap: denied a client from 127\.0\.0\.1: its key is not in")
        self.assertEqual(read_lines(self.tmp.file("old.log")), [])
        admitted, denied, _ = counters(pub)
        self.assertEqual((admitted, min(denied, 1)), (2, 1))

    def test_readme_reverse_fanin_relay_and_allow_from_commands(self):
        """Runs the other sh blocks of "Securing the stream" in order, in one temporary
        directory: loopback with ports chosen by the processes instead of 4444-5556 (every
        tcp://*:N bound becomes tcp://127.0.0.1:*, and the port announced replaces N where
        the commands connect to it), loopback HTTP on port 0. After each block every sub it
        started must log what the block's last pub publishes."""
        d = self.tmp.path
        real = {}  # the README's port -> the port the process announced
        for block in readme_blocks()[2:]:
            pubs, logs = [], []
            for line in block.splitlines():
                line = line.split(" #", 1)[0].strip()
                if not line:
                    continue
                args = shlex.split(line)
                self.assertIn(args[0], ["build/src/downcase", "mkdir", "cp"], line)
                if args[0] != "build/src/downcase":
                    subprocess.run(args, cwd=d, check=True, timeout=10)
                    continue
                args = [re.sub(r"^(--[a-z-]+=)(keys/|[\w-]+\.log$)", r"\g<1>%s/\2" % d, a)
                        for a in args[1:]]
                # Bound ports in the order the process announces them (a relay: downstream
                # first).
                binds = []
                for a in sorted(args, key=lambda a: not a.startswith("--downstream")):
                    binds += re.findall(r"tcp://\*:(\d+)", a)
                args = [re.sub(r"tcp://\*:\d+", "tcp://127.0.0.1:*", a) for a in args]
                args = [re.sub(r"tcp://127\.0\.0\.1:(\d+)",
                               lambda m: "tcp://127.0.0.1:%d" % real[m.group(1)], a)
                        for a in args]
                if "--role=pub" in args:
                    args.remove("--role=pub")
                    proc = self.start(harness.Pub, *args, bind=None)
                    pubs.append(proc)
                elif "--role=sub" in args:
                    proc = self.start(harness.Sub, *args[1:])
                    logs.append(re.search(r"--log=(\S+)", line).group(1))
                elif "--role=relay" in args:
                    proc = self.start(harness.Proc, args)
                    proc.wait_line(r"relaying ")
                else:
                    status, _, err = run(args, cwd=d)
                    self.assertEqual(status, 0, err)
                    continue
                announced = re.findall(r"zmq bind tcp://127\.0\.0\.1:(\d+)", proc.stderr_text())
                self.assertEqual(len(announced), len(binds), proc.stderr_text())
                real.update(zip(binds, (int(p) for p in announced)))
            self.assertTrue(pubs and logs, block)
            for i, log in enumerate(logs):
                warm_up(pubs[-1], os.path.join(d, log), marker="readme-%d" % i)

    # ---- keygen ----------------------------------------------------------------------------

    def test_keygen_files(self):
        pub, sec = self.keygen("server", wrapped=True)
        self.assertEqual(stat.S_IMODE(os.stat(sec).st_mode), 0o600)
        text = slurp(pub)
        stext = slurp(sec)
        # czmq's layout: comment header, metadata section, curve section, quoted Z85 values.
        self.assertRegex(text, r"^#   \*\*\*\*  Generated on .* by downcase  \*\*\*\*\n")
        self.assertIn("ZeroMQ CURVE Public Certificate", text)
        self.assertRegex(text, r'\nmetadata\ncurve\n    public-key = "[^"]{40}"\n$')
        self.assertNotIn("secret-key", text)
        self.assertRegex(stext, r'\ncurve\n    public-key = "[^"]{40}"\n    secret-key = "[^"]{40}"'
                                r'\n$')
        # pyzmq reads them, and the pair belongs together.
        p1, s1 = zmq.auth.load_certificate(pub)
        p2, s2 = zmq.auth.load_certificate(sec)
        self.assertIsNone(s1)
        self.assertEqual(p1, p2)
        self.assertEqual(zmq.curve_public(s2), p2)
        # Two runs make two different keys.
        p3, _ = zmq.auth.load_certificate(self.keygen("other", wrapped=True)[0])
        self.assertNotEqual(p1, p3)

    def test_keygen_never_overwrites(self):
        pub, sec = self.keygen("server", wrapped=True)
        before = (slurp(pub), slurp(sec))
        status, _, err = run(["--keygen=server"], cwd=self.tmp.path)
        self.assertEqual(status, 1)
        self.assertIn("server_secret", err)
        self.assertIn("refusing to overwrite", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual((slurp(pub), slurp(sec)), before)
        # Only the public file there: still refused, and no secret file is left behind.
        os.unlink(sec)
        status, _, err = run(["--keygen=server"], cwd=self.tmp.path)
        self.assertEqual(status, 1)
        self.assertIn("refusing to overwrite", err)
        self.assertFalse(os.path.exists(sec))
        status, _, err = run(["--keygen=" + self.tmp.file("no/such/dir/k")])
        self.assertEqual(status, 1)
        self.assertIn("cannot create", err)

    # ---- the stream ------------------------------------------------------------------------

    def test_allowed_sub_gets_everything_others_nothing(self):
        server, server_secret = self.keygen("server")
        client, client_secret = self.keygen("client")
        _, stranger_secret = self.keygen("stranger")
        wrong_server, _ = self.keygen("wrong")
        pub = self.secure_pub(server_secret, self.allow_dir(client))
        self.assertIsNotNone(pub.wait_line(r"curve: 1 client certificate in "))
        self.sub(pub.endpoint, "good.log", client_secret, server)
        cases = {
            "unlisted": (stranger_secret, server),
            "nokey": (None, None),
            "wrongserver": (client_secret, wrong_server),
        }
        for name, (secret, srv) in cases.items():
            self.sub(pub.endpoint, name + ".log", secret, srv)
        base = warm_up(pub, self.tmp.file("good.log"))
        texts = ["Secret Message %d ÄÖÜ" % i for i in range(50)]
        self.publish(pub, texts)
        lines = wait_for(lambda: (lambda ls: ls if len(ls) >= base + 50 else None)(
            read_lines(self.tmp.file("good.log"))), 10, "50 lines")
        got = [l.split(b" ", 1)[1].decode() for l in lines[base:]]
        self.assertEqual(got, ["lower case of %s is %s" % (t, t.lower()) for t in texts])
        # Reports are rate-limited (one line per 10 s for each kind): the first of each kind.
        pub.wait_line(r"zap: denied a client from 127\.0\.0\.1: its key is not in --curve-allow")
        pub.wait_line(r"handshake failed on tcp://127\.0\.0\.1:\d+: ")
        for name in cases:
            self.assertEqual(read_lines(self.tmp.file(name + ".log")), [], name)
        # The same counts are in /metrics while the pub runs. The two refused handshakes are
        # not ordered with the log line waited for above: the count is waited for.
        metrics = wait_for(lambda: (lambda m: m if m["downcase_curve_handshakes_failed_total"]
                                    >= 2 else None)(harness.metrics(pub.host, pub.port)),
                           10, "two failed handshakes")
        self.assertEqual(metrics["downcase_curve_clients_admitted_total"], 1)
        self.assertGreaterEqual(metrics["downcase_curve_clients_denied_total"], 1)
        self.assertGreaterEqual(metrics["downcase_curve_handshakes_failed_total"], 2)
        admitted, denied, failed = counters(pub)
        self.assertEqual(admitted, 1)
        self.assertGreaterEqual(denied, 1)
        self.assertGreaterEqual(failed, 2)

    def test_each_refusal_is_counted(self):
        """One refused client per pub, so each kind of refusal is seen in the counters alone."""
        server, server_secret = self.keygen("server")
        client, client_secret = self.keygen("client")
        _, stranger_secret = self.keygen("stranger")
        wrong_server, _ = self.keygen("wrong")
        for name, secret, srv, rx, want in [
                ("unlisted", stranger_secret, server, r"zap: denied a client from 127\.0\.0\.1: "
                 r"its key is not in --curve-allow", (0, 1, 0)),
                # Usually "the client does not use CURVE"; when the client hangs up first,
                # libzmq reports the socket error instead (e.g. "Broken pipe").
                ("nokey", None, None, r"handshake failed on tcp://\S+: ", (0, 0, 1)),
                ("wrongserver", client_secret, wrong_server,
                 r"handshake failed on .*: cryptographic error \(does the client have the wrong "
                 r"server key\?\)", (0, 0, 1))]:
            with self.subTest(name):
                pub = self.secure_pub(server_secret, self.allow_dir(client))
                self.sub(pub.endpoint, name + ".log", secret, srv)
                pub.wait_line(rx)
                admitted, denied, failed = counters(pub)
                self.assertEqual(admitted, 0)
                # A refused client may retry, so at least one of its kind and none of another.
                self.assertEqual((admitted, min(denied, 1), min(failed, 1)), want)

    def test_pub_connecting_to_a_binding_sub(self):
        """CURVE roles do not follow bind/connect: a pub that connects is still the server."""
        server, server_secret = self.keygen("server")
        client, client_secret = self.keygen("client")
        log = self.tmp.file("bound.log")
        sub = self.start(harness.Sub, "--bind=tcp://127.0.0.1:*", "--curve-secret=" + client_secret,
                         "--curve-server=" + server, log=log)
        endpoint = sub.wait_line(r"zmq bind (\S+)").group(1)
        pub = self.start(harness.Pub, "--connect=" + endpoint, "--curve-secret=" + server_secret,
                         "--curve-allow=" + self.allow_dir(client), bind=None)
        warm_up(pub, log)
        admitted, denied, failed = counters(pub)
        self.assertEqual((admitted, denied, failed), (1, 0, 0))

    def test_without_allow_dir_any_curve_client(self):
        server, server_secret = self.keygen("server")
        _, anyone_secret = self.keygen("anyone")
        pub = self.secure_pub(server_secret)
        pub.wait_line(r"no --curve-allow: every client with a valid CURVE handshake is admitted")
        self.sub(pub.endpoint, "any.log", anyone_secret, server)
        self.sub(pub.endpoint, "nokey.log")
        warm_up(pub, self.tmp.file("any.log"))
        pub.wait_line(r"handshake failed on tcp://\S+: ")
        self.assertEqual(read_lines(self.tmp.file("nokey.log")), [])
        admitted, denied, failed = counters(pub)
        self.assertEqual((admitted, denied), (1, 0))
        self.assertGreaterEqual(failed, 1)

    def test_rotate_client_key(self):
        """README: add the new public certificate to the allow directory; the next handshake
        sees it, no restart. Removing the old certificate refuses the old key's next handshake
        (connections already admitted stay until they close)."""
        server, server_secret = self.keygen("server")
        old, old_secret = self.keygen("client-2025")
        allow = self.allow_dir(old)
        pub = self.secure_pub(server_secret, allow)
        first = self.sub(pub.endpoint, "old.log", old_secret, server)
        warm_up(pub, self.tmp.file("old.log"))
        new, new_secret = self.keygen("client-2026")
        shutil.copy(new, allow)
        self.sub(pub.endpoint, "new.log", new_secret, server)
        warm_up(pub, self.tmp.file("new.log"), marker="rotated")
        os.unlink(os.path.join(allow, "client-2025"))
        self.assertEqual(first.stop(), 0)
        self.sub(pub.endpoint, "old-again.log", old_secret, server)
        pub.wait_line(r"zap: denied a client from 127\.0\.0\.1: its key is not in")
        self.publish(pub, ["after revocation"])
        wait_for(lambda: any(b"after revocation" in l for l in read_lines(self.tmp.file("new.log"))),
                 10, "the new key's sub to log")
        self.assertEqual(read_lines(self.tmp.file("old-again.log")), [])
        admitted, denied, _ = counters(pub)
        self.assertEqual(admitted, 2)
        self.assertGreaterEqual(denied, 1)

    def test_no_plaintext_on_the_wire(self):
        for curve in [True, False]:
            with self.subTest(curve=curve):
                server, server_secret = self.keygen("server-%d" % curve)
                client, client_secret = self.keygen("client-%d" % curve)
                if curve:
                    pub = self.secure_pub(server_secret, self.allow_dir(client))
                else:
                    pub = self.start(harness.Pub)
                relay = Relay(self, port_of(pub.endpoint))
                log = "wire-%d.log" % curve
                self.sub(relay.endpoint, log, client_secret if curve else None, server)
                warm_up(pub, self.tmp.file(log))
                secret_text = "TopSecretPayload-%d" % curve
                self.publish(pub, [secret_text] * 5)
                wait_for(lambda: sum(secret_text.lower().encode() in l
                                     for l in read_lines(self.tmp.file(log))) == 5,
                         10, "5 messages through the relay")
                wire = relay.data()
                self.assertGreater(len(wire), 0)
                for needle in [secret_text, secret_text.lower(), "lower case of", "warm-up"]:
                    if curve:
                        self.assertNotIn(needle.encode(), wire)
                    else:
                        # The check can fail: without CURVE the text is right there.
                        self.assertIn(needle.encode(), wire)
                self.assertEqual(b"CURVE" in wire, curve)

    # ---- reverse fan-in: the binding sub is the CURVE server ----------------------------------

    def test_reverse_fanin(self):
        """A sub that binds with --curve-secret is a CURVE server admitting the publishers in
        --curve-allow; a pub presents its key with --curve-secret and --curve-server. The
        allowed publisher is logged; an unlisted key, no key and the wrong server key get
        nothing into the log; no plaintext crosses the wire (the allowed publisher goes through
        a recording TCP relay, as above)."""
        server, server_secret = self.keygen("aggregator")
        pub_cert, pub_secret = self.keygen("pub-allowed")
        _, stranger_secret = self.keygen("pub-stranger")
        wrong_server, _ = self.keygen("wrong")
        log = self.tmp.file("aggregate.log")
        sub = self.start(harness.Sub, "--bind=tcp://127.0.0.1:*", "--metrics=127.0.0.1:0",
                         "--curve-secret=" + server_secret,
                         "--curve-allow=" + self.allow_dir(pub_cert), log=log)
        sub.wait_line(r"curve: 1 client certificate in ")
        endpoint = sub.wait_line(r"zmq bind (\S+)").group(1)
        mhost, mport = harness.http_address(sub)
        wire = Relay(self, port_of(endpoint))

        def pub(*args, via=endpoint):
            return self.start(harness.Pub, "--connect=" + via, *args, bind=None)

        good = pub("--curve-secret=" + pub_secret, "--curve-server=" + server, via=wire.endpoint)
        bad = {
            "unlisted": pub("--curve-secret=" + stranger_secret, "--curve-server=" + server),
            "nokey": pub(),
            "wrongserver": pub("--curve-secret=" + pub_secret, "--curve-server=" + wrong_server),
        }
        start = warm_up(good, log)
        sub.wait_line(r"zap: denied a client from 127\.0\.0\.1: its key is not in --curve-allow "
                      r"\(sub side\)")
        sub.wait_line(r"handshake failed on tcp://127\.0\.0\.1:\d+: ")
        for name, p in bad.items():
            self.publish(p, ["Intruder %s %d" % (name, i) for i in range(5)])
        texts = ["Reverse Secret %d" % i for i in range(20)]
        self.publish(good, texts)
        lines = wait_for(lambda: (lambda ls: ls if len(ls) >= start + 20 else None)(
            read_lines(log)), 10, "20 lines")
        time.sleep(0.3)
        got = [l.split(b" ", 1)[1].decode() for l in read_lines(log)[start:]]
        self.assertEqual(got, ["lower case of %s is %s" % (t, t.lower()) for t in texts])
        self.assertNotIn(b"ntruder", b"\n".join(lines))
        data = wire.data()
        self.assertIn(b"CURVE", data)
        for needle in [b"Reverse Secret", b"reverse secret", b"lower case of", b"warm-up"]:
            self.assertNotIn(needle, data)
        # Counted by the sub, per side, while it runs; summed up when it stops.
        m = wait_for(lambda: (lambda m: m if m['downcase_zmq_handshakes_failed_total{side="sub"}']
                              >= 2 else None)(harness.metrics(mhost, mport)),
                     10, "two failed handshakes")
        self.assertEqual(m['downcase_zap_admitted_total{side="sub"}'], 1)
        self.assertGreaterEqual(m['downcase_zap_denied_total{side="sub"}'], 1)
        self.assertEqual(m["downcase_zmq_peers_connected"], 1)
        self.assertEqual(sub.stop(), 0)
        summary = re.search(SUMMARY_RX + r" \(sub side\)", sub.stderr_text())
        self.assertTrue(summary, sub.stderr_text())
        admitted, denied, failed = (int(x) for x in summary.groups())
        self.assertEqual(admitted, 1)
        self.assertGreaterEqual(denied, 1)
        self.assertGreaterEqual(failed, 2)

    # ---- through a relay: encrypted on both sides ---------------------------------------------

    def relay_case(self, publishers_connect):
        """pub -> (recorded) -> relay -> (recorded) -> subs, CURVE on both hops. The relay's
        upstream is a CURVE client of the pub (publishers_connect False: the relay connects,
        --curve-server) or the publishers' CURVE server (True: the pub connects into its
        upstream, --curve-allow-upstream). Downstream the relay is a CURVE server admitting
        the subscribers in its --curve-allow. Returns nothing; asserts as it goes."""
        pub_cert, pub_secret = self.keygen("pub")
        relay_cert, relay_secret = self.keygen("relay")
        alice, alice_secret = self.keygen("alice")
        _, mallory_secret = self.keygen("mallory")
        _, rogue_secret = self.keygen("rogue-pub")
        subs_dir = self.tmp.file("subs")
        os.makedirs(subs_dir)
        shutil.copy(alice, subs_dir)
        if publishers_connect:
            pubs_dir = self.tmp.file("pubs")
            os.makedirs(pubs_dir)
            shutil.copy(pub_cert, pubs_dir)
            relay = self.start(DowncaseRelay, "--curve-secret=" + relay_secret,
                               "--curve-allow-upstream=" + pubs_dir,
                               "--curve-allow=" + subs_dir, upstream=["@tcp://127.0.0.1:*"])
            up_wire = Relay(self, port_of(relay.upstream_endpoint))
            pub = self.start(harness.Pub, "--connect=" + up_wire.endpoint,
                             "--curve-secret=" + pub_secret, "--curve-server=" + relay_cert,
                             bind=None)
            # A publisher whose key is not listed gets nothing to the subscribers.
            rogue = self.start(harness.Pub, "--connect=" + relay.upstream_endpoint,
                               "--curve-secret=" + rogue_secret, "--curve-server=" + relay_cert,
                               bind=None)
            relay.wait_line(r"zap: denied a client from 127\.0\.0\.1: its key is not in "
                            r"--curve-allow-upstream \(upstream side\)")
        else:
            relays_dir = self.tmp.file("relays")
            os.makedirs(relays_dir)
            shutil.copy(relay_cert, relays_dir)
            pub = self.secure_pub(pub_secret, relays_dir)
            up_wire = Relay(self, port_of(pub.endpoint))
            relay = self.start(DowncaseRelay, "--curve-secret=" + relay_secret,
                               "--curve-server=" + pub_cert, "--curve-allow=" + subs_dir,
                               upstream=[up_wire.endpoint])
            rogue = None
        down_wire = Relay(self, port_of(relay.endpoint))
        log = self.tmp.file("alice.log")
        self.sub(down_wire.endpoint, "alice.log", alice_secret, relay_cert)
        self.sub(relay.endpoint, "mallory.log", mallory_secret, relay_cert)
        self.sub(relay.endpoint, "plain.log")
        start = warm_up(pub, log)
        relay.wait_line(r"zap: denied a client from 127\.0\.0\.1: its key is not in "
                        r"--curve-allow \(downstream side\)")
        relay.wait_line(r"handshake failed on tcp://127\.0\.0\.1:\d+: ")
        if rogue:
            self.publish(rogue, ["Rogue %d" % i for i in range(5)])
        texts = ["Relayed Secret %d" % i for i in range(30)]
        self.publish(pub, texts)
        wait_for(lambda: len(read_lines(log)) >= start + 30, 10, "30 lines through the relay")
        time.sleep(0.3)
        got = [l.split(b" ", 1)[1].decode() for l in read_lines(log)[start:]]
        self.assertEqual(got, ["lower case of %s is %s" % (t, t.lower()) for t in texts])
        self.assertEqual(read_lines(self.tmp.file("mallory.log")), [])
        self.assertEqual(read_lines(self.tmp.file("plain.log")), [])
        for name, wire in [("upstream", up_wire), ("downstream", down_wire)]:
            data = wire.data()
            self.assertIn(b"CURVE", data, name)
            for needle in [b"Relayed Secret", b"relayed secret", b"lower case of", b"warm-up"]:
                self.assertNotIn(needle, data, name)
        m = relay.samples()
        self.assertGreaterEqual(m['downcase_zap_denied_total{side="downstream"}'], 1)
        self.assertEqual(m['downcase_zap_admitted_total{side="downstream"}'], 1)
        self.assertGreaterEqual(m['downcase_zmq_handshakes_failed_total{side="downstream"}'], 1)
        self.assertEqual(m["downcase_zmq_upstream_peers_connected"], 1)
        self.assertEqual(relay.stop(), 0)
        self.assertRegex(relay.stderr_text(), SUMMARY_RX + r" \(downstream side\)")

    def test_relay_connects_to_a_curve_pub(self):
        self.relay_case(publishers_connect=False)

    def test_publishers_connect_into_a_curve_relay(self):
        self.relay_case(publishers_connect=True)

    # ---- bad key files ---------------------------------------------------------------------

    def write(self, name, text, mode=0o600):
        path = self.tmp.file(name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_malformed_key_files(self):
        server, server_secret = self.keygen("server")
        client, client_secret = self.keygen("client")
        pub_key, sec_key = zmq.auth.load_certificate(server_secret)
        pub_key, sec_key = pub_key.decode(), sec_key.decode()
        _, other_secret = zmq.auth.load_certificate(self.keygen("other")[1])
        good = 'curve\n    public-key = "%s"\n    secret-key = "%s"\n'
        cases = [
            ("missing", self.tmp.file("nope_secret"), "No such file or directory"),
            ("directory", self.tmp.path, "not a regular file"),
            ("empty", self.write("empty", ""), "no curve section"),
            ("not a certificate", self.write("text", "hello\n"), "no curve section"),
            ("public only", self.write("pubonly", slurp(server)), "no secret-key"),
            ("short key", self.write("short", good % (pub_key[:39], sec_key)),
             "39 characters"),
            ("long key", self.write("long", good % (pub_key, sec_key + "A")), "41 characters"),
            ("bad Z85", self.write("badz85", good % (pub_key, sec_key[:39] + "~")),
             "not valid Z85"),
            ("unquoted junk", self.write("junk", 'curve\n    public-key = "%s" x\n' % pub_key),
             "malformed property"),
            ("mismatched pair", self.write("mismatch", good % (pub_key, other_secret.decode())),
             "not the public key of secret-key"),
            ("group-readable", self.write("loose_secret", slurp(server_secret), 0o640),
             "accessible to group or others (mode 0640)"),
            ("world-readable", self.write("world_secret", slurp(server_secret), 0o644),
             "chmod 600"),
            ("binary", self.write("bin", "curve\0\n"), "NUL byte"),
            ("huge", self.write("huge", "#" * 70000), "too large"),
        ]
        # Unreadable: root reads anything, so as root this case runs as a throwaway user who
        # owns the file (mode 0200: not group/other accessible, so only open() can refuse it).
        unreadable = self.write("unreadable", slurp(server_secret), 0o200)
        prefix = harness.unprivileged(self.tmp.path, unreadable)
        cases = [case + ((),) for case in cases]
        cases.append(("unreadable", unreadable, "Permission denied", prefix))
        for name, path, reason, prefix in cases:
            for role in ["pub", "sub"]:
                with self.subTest(name, role=role):
                    args = ["--role=" + role, "--curve-secret=" + path]
                    if role == "pub":
                        args += ["--listen=127.0.0.1:0", "--bind=tcp://127.0.0.1:*"]
                    else:
                        args += ["--curve-server=" + server, "--log=" + self.tmp.file("x.log")]
                    status, out, err = run(args, prefix=prefix)
                    self.assertEqual(status, 1, err)
                    lines = err.strip().splitlines()
                    self.assertEqual(len(lines), 1, err)
                    self.assertIn("--curve-secret " + path + ": ", lines[0])
                    self.assertIn(reason, lines[0])
                    # Nothing bound, served or created; no key material in the message.
                    self.assertFalse(os.path.exists(self.tmp.file("x.log")))
                    self.assertNotIn(sec_key, err)
                    self.assertNotIn(sec_key[:20], err)
        # The sub's --curve-server file.
        for name, path, reason in [("missing", self.tmp.file("nope"), "No such file"),
                                   ("bad Z85", self.write("srvbad", 'curve\n    public-key = "%s"\n'
                                                          % ("~" * 40)), "not valid Z85")]:
            with self.subTest("--curve-server " + name):
                status, _, err = run(["--role=sub", "--curve-secret=" + client_secret,
                                      "--curve-server=" + path])
                self.assertEqual(status, 1, err)
                self.assertIn("--curve-server " + path + ": " , err)
                self.assertIn(reason, err)

    def test_bad_allow_dir(self):
        server, server_secret = self.keygen("server")
        client, _ = self.keygen("client")
        bad = self.tmp.file("bad-allow")
        os.makedirs(bad)
        shutil.copy(client, bad)
        with open(os.path.join(bad, "broken"), "w") as f:
            f.write('curve\n    public-key = "tooshort"\n')
        for name, d, reason in [("missing", self.tmp.file("nodir"), "No such file or directory"),
                                ("a file", client, "Not a directory"),
                                ("malformed cert", bad, "broken: public-key is 8 characters")]:
            with self.subTest(name):
                status, _, err = run(["--role=pub", "--listen=127.0.0.1:0",
                                      "--bind=tcp://127.0.0.1:*", "--curve-secret=" + server_secret,
                                      "--curve-allow=" + d])
                self.assertEqual(status, 1, err)
                self.assertIn("--curve-allow " + d, err)
                self.assertIn(reason, err)
                self.assertNotIn("http listening", err)
                self.assertNotIn("zmq bind", err)
        # The same checks for the other CURVE servers: a binding sub, the relay's two sides.
        missing = self.tmp.file("nodir")
        for name, args, flag in [
                ("sub", ["--role=sub", "--bind=tcp://127.0.0.1:*", "--curve-allow=" + missing],
                 "--curve-allow"),
                ("relay downstream", ["--role=relay", "--upstream=tcp://127.0.0.1:1",
                                      "--downstream=tcp://127.0.0.1:*",
                                      "--curve-server=" + server, "--curve-allow=" + missing],
                 "--curve-allow"),
                ("relay upstream", ["--role=relay", "--upstream=@tcp://127.0.0.1:*",
                                    "--downstream=tcp://127.0.0.1:*",
                                    "--curve-allow-upstream=" + bad],
                 "--curve-allow-upstream")]:
            with self.subTest(name):
                status, _, err = run(args + ["--curve-secret=" + server_secret])
                self.assertEqual(status, 1, err)
                self.assertRegex(err, re.escape(flag) + " " + re.escape(
                    missing if flag == "--curve-allow" else bad))
                self.assertNotIn("zmq bind", err)

    def test_secret_file_in_allow_dir_is_skipped(self):
        server, server_secret = self.keygen("server")
        client, client_secret = self.keygen("client")
        allow = self.allow_dir(client, client_secret)
        pub = self.secure_pub(server_secret, allow)
        pub.wait_line(r"skipping client_secret: a secret certificate")
        pub.wait_line(r"curve: 1 client certificate in ")
        self.sub(pub.endpoint, "good.log", client_secret, server)
        warm_up(pub, self.tmp.file("good.log"))

    def test_usage_errors(self):
        for args, says in [
            (["--role=sub", "--curve-secret=x"], "both --curve-secret and --curve-server"),
            (["--role=pub", "--curve-allow=d"], "--curve-allow needs --curve-secret"),
            (["--role=pub", "--curve-server=s"], "--curve-server needs --curve-secret"),
        ]:
            with self.subTest(args=args):
                status, _, err = run(args)
                self.assertEqual(status, 2, err)
                self.assertIn(says, err)

    # ---- interoperability with pyzmq -------------------------------------------------------

    def test_pyzmq_certificates_accepted(self):
        d = self.tmp.file("pyzmq")
        os.makedirs(d)
        server, server_secret = zmq.auth.create_certificates(d, "server")
        client, client_secret = zmq.auth.create_certificates(d, "client")
        # pyzmq writes the secret file with the default mode; downcase wants it private.
        os.chmod(server_secret, 0o644)
        status, _, err = run(["--role=pub", "--listen=127.0.0.1:0", "--bind=tcp://127.0.0.1:*",
                              "--curve-secret=" + server_secret])
        self.assertEqual(status, 1)
        self.assertIn("chmod 600", err)
        os.chmod(server_secret, 0o600)
        os.chmod(client_secret, 0o600)
        allow = self.allow_dir(client)
        pub = self.secure_pub(server_secret, allow)
        self.sub(pub.endpoint, "py.log", client_secret, server)
        warm_up(pub, self.tmp.file("py.log"))

    def test_pyzmq_curve_client_with_keygen_keys(self):
        """A pyzmq SUB, configured from --keygen's files by zmq.auth.load_certificate, gets
        the stream; the same SUB with a key not in the allow dir gets nothing."""
        server, server_secret = self.keygen("server")
        client, client_secret = self.keygen("client")
        _, stranger_secret = self.keygen("stranger")
        pub = self.secure_pub(server_secret, self.allow_dir(client))
        ctx = zmq.Context()
        self.addCleanup(ctx.term)
        socks = {}
        for name, secret in [("client", client_secret), ("stranger", stranger_secret)]:
            s = ctx.socket(zmq.SUB)
            self.addCleanup(s.close, 0)
            s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(secret)
            s.curve_serverkey, _ = zmq.auth.load_certificate(server)
            s.setsockopt(zmq.SUBSCRIBE, b"")
            s.connect(pub.endpoint)
            socks[name] = s
        deadline = time.monotonic() + 10 * SLOW
        got = None
        while got is None and time.monotonic() < deadline:
            self.publish(pub, ["From pyzmq"])
            if socks["client"].poll(100):
                got = socks["client"].recv()
        self.assertEqual(got, b"lower case of From pyzmq is from pyzmq")
        self.assertEqual(socks["stranger"].poll(200), 0)
        pub.wait_line(r"zap: denied a client")


if __name__ == "__main__":
    testmain.main()
