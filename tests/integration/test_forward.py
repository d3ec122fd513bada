"""--forward: the sub publishes every message to NATS JetStream, counted as delivered only once
JetStream acknowledged it, so the stream holds each message answered 200 exactly once.

Real parts only: a real nats-server with JetStream (Debian's 2.9.10), started here on
127.0.0.1 with a port it picks itself (-p -1, read back from its ports file), a stream created
and read back by tests/jsctl (libnats, independent of downcase's forwarder), real pubs and
subs. Every check builds its expectation from what the HTTP clients were answered.

Without nats-server or a downcase built with libnats the test says so and is skipped
(testmain.skip, exit 77); CI fails on it, as on any skip not in tests/expected-skips.txt:
scripts/test installs both."""

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import unittest

import harness
import testmain
from harness import SLOW, read_lines, wait_for
from test_replay import Load, publish

NATS_SERVER = os.environ.get("NATS_SERVER", "")
JSCTL = os.environ.get("JSCTL", "")
SUBJECT = "logs.downcase"
STREAM = "LOGS"


def missing_parts():
    if not NATS_SERVER or not os.access(NATS_SERVER, os.X_OK):
        return "nats-server is not installed (Debian: nats-server)"
    if not JSCTL:
        return "downcase was built without libnats (Debian: libnats-dev)"
    return None


class NatsServer:
    """One nats-server -js on 127.0.0.1: a port of its own choosing the first time, the same
    port when started again (the sub was configured with it)."""

    def __init__(self, tmp, name="nats", port=-1, extra=(), js=True):
        self.js = js
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.extra = list(extra)
        self.port = port
        self.proc = None
        self.start()

    def start(self):
        for f in glob.glob(os.path.join(self.dir, "*.ports")):
            os.unlink(f)
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "--ports_file_dir", self.dir]
            + (["-js", "-sd", os.path.join(self.dir, "store")] if self.js else []) + self.extra,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        ports = wait_for(lambda: glob.glob(os.path.join(self.dir, "*.ports")), 10,
                         "nats-server's ports file")
        with open(ports[0]) as f:
            url = json.load(f)["nats"][0]
        self.port = int(url.rpartition(":")[2])
        self.url = "nats://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None


def jsctl(url, *args, token=None, check=True):
    env = dict(os.environ)
    if token:
        env["NATS_TOKEN"] = token
    r = subprocess.run([JSCTL, url] + list(args), capture_output=True, text=True, env=env,
                       timeout=120)
    if check and r.returncode != 0:
        raise AssertionError("jsctl %s: %s" % (" ".join(args), r.stderr))
    return r


def stream_messages(url, token=None):
    out = jsctl(url, "dump", STREAM, token=token).stdout
    return [json.loads(line) for line in out.splitlines()]


def stream_count(url):
    out = jsctl(url, "info", STREAM).stdout
    return int(out.split()[0].partition("=")[2])


def after_text(msgs):
    """The first 'after-gap-N' probe in the stream."""
    return next(text_of(m["data"]) for m in msgs if m["data"].startswith("lower case of after"))


def text_of(message):
    """The text a client sent, from 'lower case of TEXT is text'."""
    return message.rpartition(" is ")[0][len("lower case of "):]


class ForwardingSub(harness.Proc):
    def __init__(self, url, *args, connect=None, env=None):
        flags = ["--role=sub", "--forward=" + url + "/" + SUBJECT]
        for ep in [connect] if isinstance(connect, str) else (connect or []):
            flags.append("--connect=" + ep)
        super().__init__(flags + list(args), env=env)
        self.wait_line(r"forwarding to NATS JetStream")
        self.wait_line(r"zmq connect")


class ForwardTest(harness.ProcessTest):
    def nats(self, *extra, name="nats", stream=True, max_msgs=None):
        n = NatsServer(self.tmp.path, name=name, extra=extra)
        self.addCleanup(n.stop)
        if stream:
            args = ["add", STREAM, SUBJECT, "1"]
            if max_msgs is not None:
                args.append(str(max_msgs))
            jsctl(n.url, *args)
        return n

    def sub(self, nats, *args, connect=None, expect_exit=0):
        return self.start(ForwardingSub, nats.url, *args, connect=connect,
                          expect_exit=expect_exit)

    def warm_up(self, pubs, url, tag="warm-up"):
        """PUB/SUB has no beginning: probe each pub until one of its probes is in the stream,
        so what the test sends afterwards is sent to a subscriber that is there."""
        for k, pub in enumerate(pubs):
            deadline = time.monotonic() + 20 * SLOW
            i = 0
            while True:
                i += 1
                probe = "%s-%d-%d" % (tag, k, i)
                self.assertEqual(pub.get(probe)[0], 200)
                time.sleep(0.05)
                texts = {text_of(m["data"]) for m in stream_messages(url)}
                if probe in texts or any(t.startswith("%s-%d-" % (tag, k)) for t in texts):
                    break
                self.assertLess(time.monotonic(), deadline, "the stream never got a probe")

    def final_marker(self, pub, url, name):
        """A marker published last: once it is in the stream, so is everything answered before
        it (the sub forwards each publisher's messages in order, fetching missed ones first).
        The stream is read whole each time: twice a second is enough."""
        self.assertEqual(pub.get(name)[0], 200)
        deadline = time.monotonic() + 60 * SLOW
        while not any(text_of(m["data"]) == name for m in stream_messages(url)):
            self.assertLess(time.monotonic(), deadline, "no final marker in the stream")
            time.sleep(0.5)

    def assert_exactly_once(self, messages, answered):
        """Every answered text exactly once in the stream; each publisher's messages in strictly
        increasing sequence order; headers as the README documents. Returns the messages of
        the answered texts."""
        wanted = set(answered)
        counts = {}
        for m in messages:
            t = text_of(m["data"])
            counts[t] = counts.get(t, 0) + 1
        twice = sorted(t for t, c in counts.items() if c > 1)
        missing = sorted(t for t in answered if t not in counts)
        self.assertEqual(twice, [], "in the stream more than once")
        self.assertEqual(missing, [], "answered 200 but not in the stream")
        by_pub = {}
        for m in messages:
            h = m["headers"]
            pub, seq = h["Downcase-Publisher"], int(h["Downcase-Sequence"])
            self.assertEqual(h["Nats-Msg-Id"], "%s-%d" % (pub, seq))
            self.assertEqual(h["Downcase-Topic"], "downcase")
            self.assertRegex(h["Downcase-Received"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
            self.assertEqual(m["subject"], SUBJECT)
            by_pub.setdefault(pub, []).append(seq)
        for pub, seqs in by_pub.items():
            self.assertEqual(seqs, sorted(set(seqs)), "publisher %s out of order" % pub)
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                             "publisher %s has holes" % pub)
        return [m for m in messages if text_of(m["data"]) in wanted]

    # ---- the contract -------------------------------------------------------------------------

    def test_two_pubs_exactly_once_with_headers_and_the_log_agrees(self):
        nats = self.nats()
        pub1 = self.start(harness.Pub, "--wire=framed")
        pub2 = self.start(harness.Pub, "--wire=framed")
        log = self.tmp.file("sub.log")
        sub = self.sub(nats, "--log=" + log, "--log-format=json", "--metrics=127.0.0.1:0",
                       connect=[pub1.endpoint, pub2.endpoint])
        mhost, mport = harness.http_address(sub)
        self.warm_up([pub1, pub2], nats.url)
        answered = publish(pub1, "one", 1500) + publish(pub2, "two", 1500)
        self.final_marker(pub1, nats.url, "end-1")
        self.final_marker(pub2, nats.url, "end-2")
        messages = stream_messages(nats.url)
        ours = self.assert_exactly_once(messages, answered)
        self.assertEqual(len(ours), 3000)
        self.assertEqual(len({m["headers"]["Downcase-Publisher"] for m in ours}), 2)
        # The log is written on acknowledgment: the same messages, in the stream's order.
        logged = [json.loads(l) for l in read_lines(log)]
        self.assertEqual([e["message"] for e in logged], [m["data"] for m in messages])
        self.assertEqual([(e["publisher"], e["seq"]) for e in logged],
                         [(m["headers"]["Downcase-Publisher"],
                           int(m["headers"]["Downcase-Sequence"])) for m in messages])
        text = harness.metrics_text(mhost, mport)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing (Debian package prometheus)")
        p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, b""), "promtool findings")
        m = harness.parse_metrics(text)
        self.assertEqual(m["downcase_forward_acked_total"], len(messages))
        self.assertEqual(m["downcase_forward_pending"], 0)
        self.assertEqual(m["downcase_forward_connected"], 1)
        self.assertEqual(m['downcase_forward_errors_total{reason="disconnected"}'], 0)
        print("\n  %d answered 200 by two pubs, %d in the stream" % (len(answered), len(ours)),
              end=" ")

    def test_live_view_shows_a_line_once_jetstream_acknowledged_it(self):
        """With --forward and --http, a line reaches /stream when it reaches the log: once
        JetStream acknowledged its message. While nats-server is down nothing is shown; once it
        is back every message is, once, in the log's order."""
        from test_stream import SSE
        nats = self.nats()
        pub = self.start(harness.Pub, "--wire=framed")
        log = self.tmp.file("sub.log")
        sub = self.sub(nats, "--log=" + log, "--log-format=json", "--http=127.0.0.1:0",
                       connect=pub.endpoint)
        host, port = harness.http_address(sub)
        viewer = SSE(host, port)
        self.addCleanup(viewer.close)
        self.assertEqual(viewer.head()[0], 200)
        self.warm_up([pub], nats.url)
        before = publish(pub, "acked", 20)
        self.final_marker(pub, nats.url, "acked-end")
        nats.stop()
        sub.wait_line(r"forward: nats://127\.0\.0\.1:%d: connection lost" % nats.port, 10)
        lines_then = len(read_lines(log))
        during = publish(pub, "held", 5)
        # Nothing acknowledged: neither the log nor the viewer gets these (events already
        # on their way are read first).
        shown = viewer.events(lines_then, timeout=20)
        quiet_until = time.monotonic() + 2 * SLOW
        while time.monotonic() < quiet_until:
            ev = viewer.next(timeout=0.2)
            # A ": keepalive" comment may come (every 15 s); an event may not.
            self.assertTrue(ev is None or "data" not in ev,
                            "an event while nats-server was down: %r" % ev)
        self.assertEqual(len(read_lines(log)), lines_then)
        nats.start()
        sub.wait_line(r"forward: connected to NATS", 30)
        self.final_marker(pub, nats.url, "held-end")
        # The log line is written when the acknowledgment reaches the sub, just after the
        # stream has the message.
        wait_for(lambda: any(b"held-end" in l for l in read_lines(log)), 10 * SLOW,
                 "the marker in the log")
        logged = [json.loads(l) for l in read_lines(log)]
        shown += viewer.events(len(logged) - len(shown), timeout=30)
        self.assertEqual([json.loads(e["data"]) for e in shown], logged,
                         "the viewer saw the log's lines, in its order")
        self.assertEqual([e["id"] for e in shown],
                         ["%s:%d" % (l["publisher"], l["seq"]) for l in logged])
        texts = [text_of(l["message"]) for l in logged]
        for t in before + during:
            self.assertEqual(texts.count(t), 1, t)

    def test_plain_messages_get_time_based_ids(self):
        nats = self.nats()
        pub = self.start(harness.Pub)  # --wire=plain
        sub = self.sub(nats, "--state=" + self.tmp.file("st"), connect=pub.endpoint)
        # No log to reopen: SIGHUP is said to be ignored, and the sub goes on.
        sub.send_signal(signal.SIGHUP)
        sub.wait_line(r"SIGHUP: ignored, there is no log to reopen \(--forward without --log\)")
        self.warm_up([pub], nats.url)
        answered = publish(pub, "plain", 200)
        self.final_marker(pub, nats.url, "plain-end")
        messages = stream_messages(nats.url)
        texts = [text_of(m["data"]) for m in messages]
        for t in answered:
            self.assertEqual(texts.count(t), 1, t)
        for m in messages:
            self.assertRegex(m["headers"]["Nats-Msg-Id"], r"^plain-\d+-[0-9a-f]{8}-\d+$")
            self.assertNotIn("Downcase-Publisher", m["headers"])
        self.assertEqual(len({m["headers"]["Nats-Msg-Id"] for m in messages}), len(messages))

    def test_a_gap_is_forwarded_as_a_record_of_its_size(self):
        nats = self.nats()
        pub = self.start(harness.Pub, "--wire=framed", "--retain=0")
        st = self.tmp.file("st")
        sub = self.sub(nats, "--state=" + st, connect=pub.endpoint)
        self.warm_up([pub], nats.url)
        self.assertEqual(sub.stop(), 0)
        publish(pub, "unseen", 50)  # no retention: these cannot be fetched
        self.sub(nats, "--state=" + st, connect=pub.endpoint)
        deadline = time.monotonic() + 20 * SLOW
        i = 0
        while True:
            i += 1
            self.assertEqual(pub.get("after-gap-%d" % i)[0], 200)
            msgs = stream_messages(nats.url)
            if any(m["data"].startswith("lower case of after-gap") for m in msgs):
                break
            self.assertLess(time.monotonic(), deadline, "nothing after the gap")
            time.sleep(0.1)
        gaps = [m for m in msgs if "Downcase-Lost" in m["headers"]]
        self.assertEqual(len(gaps), 1, msgs)
        h = gaps[0]["headers"]
        self.assertEqual(gaps[0]["data"], "")
        # The 50, and the probes published before the restarted sub's subscription arrived.
        first = int(after_text(msgs).rpartition("-")[2])
        self.assertEqual(int(h["Downcase-Lost"]), 50 + first - 1)
        self.assertEqual(h["Nats-Msg-Id"],
                         "%s-gap-%s" % (h["Downcase-Publisher"], h["Downcase-Sequence"]))
        before = [m for m in msgs if m["seq"] < gaps[0]["seq"] and "Downcase-Sequence" in
                  m["headers"] and m is not gaps[0]]
        after = [m for m in msgs if m["data"].startswith("lower case of after-gap")]
        # The gap ends where the next message begins, and starts after the last one before it.
        self.assertEqual(int(h["Downcase-Sequence"]) + 1,
                         int(after[0]["headers"]["Downcase-Sequence"]))
        self.assertEqual(int(before[-1]["headers"]["Downcase-Sequence"]) + 50 + first - 1,
                         int(h["Downcase-Sequence"]))

    # ---- crashes and outages ----------------------------------------------------------------

    def test_server_unreachable_at_start_is_reported_and_tried_again(self):
        nats = self.nats()
        nats.stop()  # the stream is kept in its store; the port is the one it had
        pub = self.start(harness.Pub, "--wire=framed")
        sub = self.sub(nats, "--state=" + self.tmp.file("st"), connect=pub.endpoint)
        sub.wait_line(r"forward: nats://127\.0\.0\.1:%d: cannot connect now \(.*\); starting "
                      r"anyway, messages wait" % nats.port)
        self.assertIn("(not connected yet)", sub.stderr_text())
        nats.start()
        sub.wait_line(r"forward: connected to NATS", 20)
        self.warm_up([pub], nats.url)
        answered = publish(pub, "late", 100)
        self.final_marker(pub, nats.url, "late-end")
        self.assert_exactly_once(stream_messages(nats.url), answered)

    def test_sub_killed_at_random_moments_under_load_still_exactly_once(self):
        seed = int(os.environ.get("DOWNCASE_TEST_SEED", random.randrange(1 << 30)))
        rnd = random.Random(seed)
        print("\n  seed %d" % seed, end=" ")
        nats = self.nats()
        pub = self.start(harness.Pub, "--wire=framed")
        log = self.tmp.file("sub.log")
        args = ("--log=" + log, "--log-format=json")
        sub = self.sub(nats, *args, connect=pub.endpoint, expect_exit=None)
        self.warm_up([pub], nats.url)
        load = Load(pub, "chaos")
        kills = 0
        try:
            # Under valgrind (20x slower) three kills check the same paths for memory errors.
            for _ in range(3 if harness.WRAPPER else 8):
                time.sleep(rnd.uniform(0.05, 0.5) * SLOW)
                sub.popen.send_signal(signal.SIGKILL)
                sub.wait()
                kills += 1
                time.sleep(rnd.uniform(0.0, 0.2) * SLOW)
                sub = self.sub(nats, *args, connect=pub.endpoint, expect_exit=None)
        finally:
            answered = load.stop()
        self.assertEqual(load.other, {}, "every request was answered 200")
        self.final_marker(pub, nats.url, "final-chaos")
        messages = stream_messages(nats.url)
        ours = self.assert_exactly_once(messages, answered)
        # The log, cut back to the state at each restart, holds each message once as well.
        logged = [text_of(json.loads(l)["message"]) for l in read_lines(log)]
        self.assertEqual(sorted(t for t in logged if t.startswith("chaos")), sorted(answered))
        print("%d answered 200, %d kills, %d in the stream" % (len(answered), kills, len(ours)),
              end=" ")
        self.assertGreater(len(answered), 300)

    def outage(self, down_s, *sub_args):
        """nats-server stopped for down_s seconds under load, then started again: every
        message answered 200 ends up in the stream once, and no 503. Returns the sub's
        metrics and the figures."""
        nats = self.nats()
        pub = self.start(harness.Pub, "--wire=framed", "--hwm=200")
        sub = self.sub(nats, "--state=" + self.tmp.file("st"), "--forward-pending=300",
                       "--hwm=200", "--metrics=127.0.0.1:0", *sub_args, connect=pub.endpoint)
        mhost, mport = harness.http_address(sub)
        self.warm_up([pub], nats.url)
        load = Load(pub, "outage", clients=2, pause=0.02)
        try:
            time.sleep(1.5 * SLOW)
            nats.stop()
            sub.wait_line(r"forward: nats://127\.0\.0\.1:%d: connection lost" % nats.port, 10)
            down_at = time.monotonic()
            time.sleep(down_s)
            during = harness.metrics(mhost, mport)
            nats.start()
            sub.wait_line(r"forward: connected to NATS", 30)
            sub.wait_line(r"forward: nats://\S+: delivering again", 30)
            down = time.monotonic() - down_at
            time.sleep(1.5 * SLOW)
        finally:
            answered = load.stop()
        self.assertEqual(load.other, {}, "no 503 at the pub while retention lasts")
        self.final_marker(pub, nats.url, "outage-end")
        ours = self.assert_exactly_once(stream_messages(nats.url), answered)
        m = harness.metrics(mhost, mport)
        self.assertGreaterEqual(m['downcase_forward_errors_total{reason="disconnected"}'], 1)
        self.assertLessEqual(during["downcase_forward_pending"], 300 + 512 + 1,
                             "the sub took no more than it could hold")
        print("\n  down %.1f s, %d answered 200, %d in the stream, %d fetched again from "
              "retention" % (down, len(answered), len(ours),
                             m["downcase_replayed_messages_total"]), end=" ")
        return during, m

    def test_nats_down_for_10_s_under_load(self):
        # --wire=framed: while full, the sub keeps reading and drops live messages to fetch
        # them again (its connections stay alive past the heartbeats: subscriber.c).
        during, m = self.outage(10, "--wire=framed")
        self.assertGreater(during["downcase_forward_deferred_total"], 0)
        self.assertGreater(m["downcase_replayed_messages_total"], 0,
                           "what the sub did not take was fetched from the pub's retention")
        self.assertEqual(m["downcase_forward_holds_total"], 0)
        print("%d deferred" % m["downcase_forward_deferred_total"], end=" ")

    def test_nats_down_for_3_s_holding(self):
        # Without --wire the sub holds: it stops receiving and messages wait in ZeroMQ (and in
        # the kernel's socket buffers; past them and --hwm the pub would drop them for it, to
        # be fetched again). 3 s stays under three heartbeats (6 s).
        during, m = self.outage(3)
        self.assertGreaterEqual(during["downcase_forward_holds_total"], 1)
        self.assertEqual(m["downcase_forward_deferred_total"], 0)

    # ---- refusals -----------------------------------------------------------------------------

    def refused_start(self, nats, *args, expect=None):
        p = harness.Proc(["--role=sub", "--forward=" + nats.url + "/" + SUBJECT,
                          "--state=" + self.tmp.file("st"),
                          "--connect=tcp://127.0.0.1:1"] + list(args))
        rc = p.wait(30)
        err = p.stderr_text()
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, expect)
        self.assertNotIn("zmq connect", err, "refused before taking any message")
        return err

    def test_no_stream_for_the_subject_refuses_to_start(self):
        nats = self.nats(stream=False)
        err = self.refused_start(nats, expect=(
            r"downcase\[sub\]: forward: nats://127\.0\.0\.1:\d+: no JetStream stream takes "
            r"subject logs\.downcase; create one first"))
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_server_without_jetstream_refuses_to_start(self):
        n = NatsServer(self.tmp.path, name="nojs", js=False)
        self.addCleanup(n.stop)
        self.refused_start(n, expect=r"forward: nats://\S+: JetStream is not enabled")

    def test_wrong_credentials_refuse_to_start_and_right_ones_work(self):
        nats = self.nats("--auth", "s3cret-token", stream=False)
        jsctl(nats.url, "add", STREAM, SUBJECT, "1", token="s3cret-token")
        wrong = self.tmp.file("wrong.token")
        with open(wrong, "w") as f:
            f.write("not-the-token\n")
        os.chmod(wrong, 0o600)
        self.refused_start(nats, "--forward-token=" + wrong,
                           expect=r"forward: nats://\S+: authorization refused by the server")
        self.refused_start(nats, expect=r"forward: nats://\S+: authorization refused")
        right = self.tmp.file("right.token")
        with open(right, "w") as f:
            f.write("s3cret-token\n")
        os.chmod(right, 0o644)
        self.refused_start(nats, "--forward-token=" + right, expect=(
            r"--forward-token \S+: a secret file accessible to group or others \(mode 0644\); "
            r"chmod 600 it"))
        os.chmod(right, 0o600)
        creds = self.tmp.file("user.creds")
        with open(creds, "w") as f:
            f.write("-----BEGIN NATS USER JWT-----\n")
        os.chmod(creds, 0o640)
        self.refused_start(nats, "--forward-creds=" + creds, expect=(
            r"--forward-creds \S+: a secret file accessible to group or others \(mode 0640\); "
            r"chmod 600 it"))
        pub = self.start(harness.Pub, "--wire=framed")
        self.sub(nats, "--state=" + self.tmp.file("st2"), "--forward-token=" + right,
                 connect=pub.endpoint)
        deadline = time.monotonic() + 20 * SLOW
        while not jsctl(nats.url, "dump", STREAM, token="s3cret-token").stdout:
            self.assertEqual(pub.get("with-token")[0], 200)
            self.assertLess(time.monotonic(), deadline, "nothing forwarded with the token")
            time.sleep(0.1)

    def test_tls_with_a_trusted_certificate_and_refused_without(self):
        d = self.tmp.file("tls")
        os.makedirs(d)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                            cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                            "subjectAltName=IP:127.0.0.1"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        nats = self.nats("--tls", "--tlscert", cert, "--tlskey", key, stream=False)
        nats.url = nats.url.replace("nats://", "tls://")
        trusted = {"SSL_CERT_FILE": cert}
        env = dict(os.environ, **trusted)
        r = subprocess.run([JSCTL, nats.url, "add", STREAM, SUBJECT, "1"], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.refused_start(nats, expect=(r"forward: tls://127\.0\.0\.1:\d+: TLS handshake "
                                         r"failed \(SSL handshake error: .*self-signed"))
        pub = self.start(harness.Pub, "--wire=framed")
        self.start(ForwardingSub, nats.url, "--state=" + self.tmp.file("st2"),
                   connect=pub.endpoint, env=trusted)
        deadline = time.monotonic() + 20 * SLOW
        while True:
            self.assertEqual(pub.get("over-tls")[0], 200)
            r = subprocess.run([JSCTL, nats.url, "dump", STREAM], env=env, capture_output=True,
                               text=True, timeout=60)
            if "lower case of over-tls is over-tls" in r.stdout:
                break
            self.assertLess(time.monotonic(), deadline, "nothing forwarded over TLS")
            time.sleep(0.1)

    def test_stream_at_its_limits_is_reported_counted_and_nothing_is_dropped(self):
        nats = self.nats(max_msgs=20)
        pub = self.start(harness.Pub, "--wire=framed")
        sub = self.sub(nats, "--state=" + self.tmp.file("st"), "--metrics=127.0.0.1:0",
                       connect=pub.endpoint)
        mhost, mport = harness.http_address(sub)
        self.warm_up([pub], nats.url)
        publish(pub, "full", 60)
        sub.wait_line(r"forward: nats://127\.0\.0\.1:\d+: the stream refused to store: it is at "
                      r"its limits \(maximum messages exceeded\); messages wait and are sent "
                      r"again", 20)
        m = wait_for(lambda: (lambda m: m if m["downcase_forward_pending"] > 0 else None)(
            harness.metrics(mhost, mport)), 10, "pending messages")
        self.assertGreater(m['downcase_forward_errors_total{reason="stream_full"}'], 0)
        self.assertEqual(stream_count(nats.url), 20)
        time.sleep(1.5)  # retries happen, each failure counted, no second line
        self.assertEqual(len([l for l in sub.stderr_text().splitlines()
                              if "the stream refused to store" in l]), 1)
        m2 = harness.metrics(mhost, mport)
        self.assertGreater(m2['downcase_forward_errors_total{reason="stream_full"}'],
                           m['downcase_forward_errors_total{reason="stream_full"}'])
        handed = m2["downcase_replayed_messages_total"] + sum(
            v for k, v in m2.items()
            if k.startswith("downcase_publisher_received_messages_total{"))
        self.assertEqual(m2["downcase_forward_pending"] + stream_count(nats.url), handed,
                         "every message received is in the stream or waiting")

    def test_bad_flags_exit_2_with_one_line(self):
        cases = [
            (["--forward=nats://127.0.0.1:4222", "--state=x"], r"no /SUBJECT"),
            (["--forward=nats://127.0.0.1:4222/a.*", "--state=x"], r"wildcards"),
            (["--forward=http://h/x", "--state=x"], r"expected nats://"),
            (["--forward=nats://127.0.0.1:4222/x"], r"--forward needs --state=PATH"),
            (["--forward-pending=10"], r"need --forward"),
            (["--forward=nats://h/x", "--state=x", "--forward-pending=0"],
             r"invalid value '0' for --forward-pending"),
            (["--forward=nats://h/x", "--state=x", "--forward-creds=a", "--forward-token=b"],
             r"give one or the other"),
        ]
        for args, expect in cases:
            p = harness.Proc(["--role=sub"] + args)
            rc = p.wait()
            self.assertEqual(rc, 2, (args, p.stderr_text()))
            self.assertRegex(p.stderr_text().splitlines()[0], expect)
        p = harness.Proc(["--role=pub", "--forward=nats://h/x"])
        self.assertEqual(p.wait(), 2)
        self.assertIn("--forward does not apply to --role=pub", p.stderr_text())


if __name__ == "__main__":
    why = missing_parts()
    if why:
        testmain.skip(why)
    testmain.main()
