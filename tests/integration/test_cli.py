"""The command line: --help, --version, usage errors (exit 2), start-up failures (exit 1) and
both flag spellings. Every run of the binary has a timeout; nothing here needs the network
beyond 127.0.0.1 (and ::1 when the host has it)."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness
import testmain

# A sanitizer, valgrind or a crash handler must never be what the user sees.
CRASH_RX = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:"
                      r"|Traceback|==\d+==|^\s*#\d+ 0x|Segmentation fault|core dumped", re.M)
DIAG_RX = re.compile(r"^downcase(\[(pub|sub)\])?: \S")


def run(args, timeout=10.0):
    """Runs the binary to completion; returns (status, stdout text, stderr text)."""
    if not harness.BINARY:
        testmain.skip("DOWNCASE is not set (run through meson test)")
    p = subprocess.run(harness.WRAPPER + [harness.BINARY] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout * harness.SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def listening_socket(host="127.0.0.1", family=socket.AF_INET):
    """A socket listening on a free port of host; returns (socket, port)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(1)
    return s, s.getsockname()[1]


class CliTest(harness.ProcessTest):


    def assertNoCrash(self, status, err):
        self.assertGreaterEqual(status, 0, "killed by signal %d; stderr:\n%s" % (-status, err))
        self.assertIsNone(CRASH_RX.search(err), "crash report on stderr:\n" + err)

    # ---- --help and --version ------------------------------------------------------------

    def test_help(self):
        for flag in ["--help", "-h"]:
            with self.subTest(flag=flag):
                status, out, err = run([flag])
                self.assertEqual(status, 0, err)
                self.assertEqual(err, "")
                self.assertTrue(out.startswith("Usage: downcase"), out)
                for name in ["--role", "--listen", "--bind", "--connect", "--wire", "--topic",
                             "--log", "--log-format", "--help", "--version"]:
                    self.assertRegex(out, r"(^|[\s\[|])%s([=\s\]|]|$)" % re.escape(name),
                                     "usage does not mention " + name)

    def test_version(self):
        for flag in ["--version", "-V"]:
            with self.subTest(flag=flag):
                status, out, err = run([flag])
                self.assertEqual(status, 0, err)
                self.assertEqual(err, "")
                lines = out.splitlines()
                self.assertRegex(lines[0], r"^downcase \d+\.\d+\.\d+$")
                rest = "\n".join(lines[1:])
                for lib in ["libzmq", "libuv", "llhttp"]:
                    self.assertRegex(rest, r"\b%s \d+\.\d+\.\d+" % lib)
                # Whether --forward is there is said either way (a package must not lose it
                # unnoticed; debian/rules requires libnats).
                self.assertRegex(lines[2], r"^(libnats \d+\.\d+\.\d+ \(--forward\)|"
                                 r"built without libnats: no --forward)$")

    # ---- usage errors: exit 2 -------------------------------------------------------------

    def test_usage_errors_exit_2(self):
        cases = [
            ([], [r"--role"]),
            (["--nope"], [r"--nope"]),
            (["--role=pub", "--nope"], [r"--nope"]),
            (["--role=xyz"], [r"xyz", r"--role"]),
            (["--role"], [r"--role", r"value"]),
            (["--role=pub", "--log=x"], [r"--log", r"pub"]),
            (["--role=pub", "--listen=nonsense"], [r"nonsense", r"--listen"]),
            (["--role=pub", "--wire=bogus"], [r"bogus", r"--wire"]),
            (["--role=sub", "--wire=bogus"], [r"bogus", r"--wire"]),
            (["--role=pub", "positional"], [r"positional"]),
            (["positional", "--role=pub"], [r"positional"]),
            (["--role=pub", "--topic=t"], [r"--topic"]),
        ]
        for args, patterns in cases:
            with self.subTest(args=args):
                status, out, err = run(args)
                self.assertEqual(status, 2, "stderr:\n" + err)
                self.assertEqual(out, "", "a usage error printed on stdout")
                self.assertNoCrash(status, err)
                lines = err.splitlines()
                self.assertTrue(lines, "no message on stderr")
                for line in lines:
                    self.assertRegex(line, DIAG_RX)
                # The first line names the problem; the rest may only point at --help.
                for pat in patterns:
                    self.assertRegex(lines[0], pat)
                self.assertNotIn("listening", err)

    def test_flag_value_spellings(self):
        """'--flag value' works like '--flag=value' for every flag that takes a value: a pub
        and a sub started with the spaced spelling serve, publish and log with the values
        given (the topic and the json format show in the logged line)."""
        pub = self.start(harness.Pub, "--listen", "127.0.0.1:0", "--bind", "tcp://127.0.0.1:*",
                         "--wire", "framed", "--topic", "spelled", listen=None, bind=None)
        self.assertEqual(pub.host, "127.0.0.1")
        self.assertRegex(pub.endpoint, r"^tcp://127\.0\.0\.1:\d+$")
        status, _, body = pub.get("Spaced")
        self.assertEqual((status, body), (200, b"lower case of Spaced is spaced"))
        log = self.tmp.file("spaced.log")
        sub = self.start(harness.Proc, ["--role", "sub", "--connect", pub.endpoint, "--log", log,
                                        "--log-format", "json", "--topic", "spell"])
        sub.wait_line(r"logging to ")
        n = harness.warm_up(pub, log)
        pub.get("Last")
        lines = harness.wait_for(lambda: harness.read_lines(log)[n:], what="the last line")
        rec = json.loads(lines[-1])
        self.assertEqual(rec["message"], "lower case of Last is last")
        self.assertEqual(rec["topic"], "spelled")
        self.assertEqual(sub.stop(), 0, sub.stderr_text())
        self.assertEqual(pub.stop(), 0, pub.stderr_text())

    # ---- start-up failures: exit 1 --------------------------------------------------------

    def assertStartFailure(self, args, subject, reason, not_started):
        """Runs args; expects exit 1, exactly one stderr line naming `subject` and matching
        `reason`, nothing matching `not_started` (proof nothing was served), no crash."""
        status, out, err = run(args)
        self.assertNoCrash(status, err)
        self.assertEqual(status, 1, "stderr:\n" + err)
        lines = err.splitlines()
        for line in lines:
            self.assertRegex(line, DIAG_RX)
        named = [line for line in lines if subject in line]
        self.assertEqual(len(named), 1, "expected one line naming %r:\n%s" % (subject, err))
        self.assertRegex(named[0], re.compile(reason, re.I))
        self.assertNotRegex(err, not_started)

    def test_diagnostics_stay_one_line(self):
        # A path can hold control characters and be any length: its diagnostic is still one
        # line (control characters shown as '?', a long message cut, not wrapped).
        tmp = tempfile.mkdtemp(prefix="downcase-cli-")
        self.addCleanup(shutil.rmtree, tmp)
        for name, shown in [("a\nb\rc\x7f", "a?b?c?"), ("x" * 2000, "x" * 900)]:
            with self.subTest(name=name[:10]):
                path = os.path.join(tmp, "missing", name)
                status, out, err = run(["--role=sub", "--connect=tcp://127.0.0.1:1",
                                        "--log=" + path])
                self.assertEqual(status, 1, err)
                lines = err.splitlines()
                self.assertEqual(len(lines), 1, err)
                self.assertRegex(lines[0], DIAG_RX)
                self.assertIn(shown, lines[0])
                self.assertLess(len(lines[0].encode()), 1024)

    def test_http_port_in_use(self):
        s, port = listening_socket()
        self.addCleanup(s.close)
        self.assertStartFailure(
            ["--role=pub", "--listen=127.0.0.1:%d" % port, "--bind=tcp://127.0.0.1:*"],
            "127.0.0.1:%d" % port, r"address already in use", r"http listening")

    def test_zmq_bind_in_use(self):
        s, port = listening_socket()
        self.addCleanup(s.close)
        ep = "tcp://127.0.0.1:%d" % port
        self.assertStartFailure(["--role=pub", "--listen=127.0.0.1:0", "--bind=" + ep],
                                ep, r"address already in use", r"listening|zmq bind " + ep)

    def test_zmq_bind_in_use_sub(self):
        s, port = listening_socket()
        self.addCleanup(s.close)
        ep = "tcp://127.0.0.1:%d" % port
        self.assertStartFailure(["--role=sub", "--bind=" + ep, "--log=" + self.tmp.file("x")],
                                ep, r"address already in use", r"logging to")

    def test_listen_host_unresolvable(self):
        self.assertStartFailure(
            ["--role=pub", "--listen=no-such-host.invalid:0", "--bind=tcp://127.0.0.1:*"],
            "no-such-host.invalid", r"resolve|unknown|not known", r"http listening")

    def test_connect_host_unresolvable(self):
        self.assertStartFailure(
            ["--role=sub", "--connect=tcp://no-such-host.invalid:4444",
             "--log=" + self.tmp.file("x.log")],
            "no-such-host.invalid", r"resolve|unknown|not known", r"logging to")

    def test_log_dir_missing(self):
        self.assertStartFailure(
            ["--role=sub", "--connect=tcp://127.0.0.1:1", "--log=/nonexistent-dir/x.log"],
            "/nonexistent-dir/x.log", r"no such file or directory", r"logging to|zmq connect")

    def test_log_unwritable(self):
        path = self.tmp.file("a-directory")
        os.mkdir(path)
        self.assertStartFailure(
            ["--role=sub", "--connect=tcp://127.0.0.1:1", "--log=" + path],
            path, r"is a directory", r"logging to|zmq connect")

    # ---- IPv6 -----------------------------------------------------------------------------

    def test_listen_ipv6_loopback(self):
        if not socket.has_ipv6:
            testmain.skip("Python has no IPv6 support")
        try:
            s, _ = listening_socket("::1", socket.AF_INET6)
            s.close()
        except OSError as e:
            testmain.skip("cannot bind ::1 on this host: %s" % e)
        pub = self.start(harness.Pub, listen="[::1]:0")
        pub.wait_line(r"http listening on \[::1\]:\d+$")
        self.assertEqual(pub.host, "::1")
        with harness.connect("::1", pub.port) as c:
            self.assertEqual(c.family, socket.AF_INET6)
            c.sendall(b"GET /downcase/?param=V6 HTTP/1.1\r\nHost: [::1]\r\n\r\n")
            (status, _, body), = harness.read_responses(c, 1)
        self.assertEqual((status, body), (200, b"lower case of V6 is v6"))
        self.assertEqual(pub.stop(), 0, pub.stderr_text())


if __name__ == "__main__":
    testmain.main()
