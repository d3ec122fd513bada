"""A start that fails half-way: each start-up step of each role is made to fail in turn (a port
in use, a bad endpoint, an unwritable log, a bad key file). Every time the process must exit 1
promptly with one line naming what failed, close what it had already opened through the same
path as a stop (no "handle left open", no context left to time out), and leak nothing: under
the valgrind setup a definite leak or memory error turns the exit status into 99, under the
ASan build into an abort, so `rc == 1` is the check for both."""

import os
import socket
import subprocess
import unittest

import harness
import testmain
from harness import SLOW


def held_port():
    """A loopback TCP port that stays bound and listening (so binding it fails with
    EADDRINUSE) for as long as the returned socket lives."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


class StartFailureTest(unittest.TestCase):
    def setUp(self):
        self.tmp = harness.TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.held, self.port = held_port()
        self.addCleanup(self.held.close)
        # A CurveZMQ key pair, and a --curve-allow directory holding one bad certificate.
        status = subprocess.run(harness.WRAPPER + [harness.BINARY, "--keygen=server"],
                                cwd=self.tmp.path, capture_output=True, timeout=30 * SLOW)
        self.assertEqual(status.returncode, 0, status.stderr)
        self.secret = self.tmp.file("server_secret")
        self.allow_bad = self.tmp.file("allow")
        os.mkdir(self.allow_bad)
        with open(os.path.join(self.allow_bad, "junk"), "w") as f:
            f.write("not a certificate\n")

    def fails(self, args, says):
        """Runs downcase with args; it must exit 1 within 10 s (x SLOW) and say `says`."""
        p = harness.Proc(args)
        try:
            rc = p.wait(10)
        finally:
            p.kill()
        err = p.stderr_text()
        self.assertEqual(rc, 1, "%s exited %r; stderr:\n%s" % (args, rc, err))
        self.assertIn(says, err, "%s: stderr:\n%s" % (args, err))
        for wrong in ("left open", "uv_loop_close", "zmq_ctx_term", "did not end"):
            self.assertNotIn(wrong, err, "%s: stderr:\n%s" % (args, err))
        for line in err.splitlines():
            self.assertRegex(line, r"^downcase(\[\w+\])?: ", "every line is prefixed")
        return err

    # ---- pub: key files, ZAP handler, PUB socket, HTTP listener, in start-up order ----------

    def test_pub_bad_key_file(self):
        self.fails(["--role=pub", "--listen=127.0.0.1:0", "--bind=tcp://127.0.0.1:*",
                    "--curve-secret=" + self.tmp.file("missing_secret")], "missing_secret")

    def test_pub_bad_allow_directory(self):
        self.fails(["--role=pub", "--listen=127.0.0.1:0", "--bind=tcp://127.0.0.1:*",
                    "--curve-secret=" + self.secret, "--curve-allow=" + self.allow_bad], "junk")

    def test_pub_zmq_port_in_use(self):
        self.fails(["--role=pub", "--listen=127.0.0.1:0",
                    "--bind=tcp://127.0.0.1:%d" % self.port],
                   "zmq_bind(tcp://127.0.0.1:%d): Address already in use" % self.port)

    def test_pub_bad_endpoint(self):
        self.fails(["--role=pub", "--listen=127.0.0.1:0", "--connect=tcp://no-such-host.invalid:1"],
                   "cannot resolve host 'no-such-host.invalid'")

    def test_pub_http_port_in_use_after_zmq_and_zap(self):
        # The socket, the ZAP handler and its monitor are open when the listener fails.
        err = self.fails(["--role=pub", "--listen=127.0.0.1:%d" % self.port,
                          "--bind=tcp://127.0.0.1:*", "--curve-secret=" + self.secret],
                         "listen on 127.0.0.1:%d" % self.port)
        self.assertIn("zmq bind tcp://127.0.0.1:", err)

    def test_pub_http_host_unresolvable(self):
        self.fails(["--role=pub", "--listen=no-such-host.invalid:0", "--bind=tcp://127.0.0.1:*"],
                   "cannot resolve host")

    # ---- sub: log, status server, SUB socket ------------------------------------------------

    def test_sub_unwritable_log(self):
        self.fails(["--role=sub", "--log=" + self.tmp.file("no/such/dir/x.log")],
                   "cannot open log")

    def test_sub_metrics_port_in_use(self):
        self.fails(["--role=sub", "--log=" + self.tmp.file("a.log"),
                    "--metrics=127.0.0.1:%d" % self.port], "listen on 127.0.0.1:%d" % self.port)

    def test_sub_bad_endpoint_after_metrics(self):
        err = self.fails(["--role=sub", "--log=" + self.tmp.file("a.log"),
                          "--metrics=127.0.0.1:0", "--connect=tcp://no-such-host.invalid:1"],
                         "cannot resolve host 'no-such-host.invalid'")
        self.assertIn("http listening on", err)

    def test_sub_bind_in_use(self):
        self.fails(["--role=sub", "--log=" + self.tmp.file("a.log"),
                    "--bind=tcp://127.0.0.1:%d" % self.port], "Address already in use")

    def test_sub_bad_key_file(self):
        self.fails(["--role=sub", "--log=" + self.tmp.file("a.log"),
                    "--curve-secret=" + self.secret,
                    "--curve-server=" + self.tmp.file("missing")], "missing")

    # ---- relay: status server, downstream, upstream -------------------------------------------

    def test_relay_metrics_port_in_use(self):
        self.fails(["--role=relay", "--upstream=tcp://127.0.0.1:1", "--downstream=tcp://127.0.0.1:*",
                    "--metrics=127.0.0.1:%d" % self.port], "listen on 127.0.0.1:%d" % self.port)

    def test_relay_downstream_in_use(self):
        self.fails(["--role=relay", "--upstream=tcp://127.0.0.1:1",
                    "--downstream=tcp://127.0.0.1:%d" % self.port, "--metrics=127.0.0.1:0"],
                   "Address already in use")

    def test_relay_upstream_bad_after_downstream(self):
        err = self.fails(["--role=relay", "--upstream=tcp://no-such-host.invalid:1",
                          "--downstream=tcp://127.0.0.1:*"],
                         "cannot resolve host 'no-such-host.invalid'")
        self.assertIn("zmq bind tcp://127.0.0.1:", err)


if __name__ == "__main__":
    testmain.main()
