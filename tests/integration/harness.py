"""harness: starts the real downcase binary as processes on 127.0.0.1 and talks to it.

Every test gets the binary's path from the DOWNCASE environment variable (set by meson).
DOWNCASE_WRAPPER, when set, is a command prefix such as "valgrind --error-exitcode=99 ...":
every process then runs under it, and stop() fails the test if the wrapper reports an error.

Ports are never guessed: the binary is started on port 0 / '*' and announces the addresses it
got on stderr ("http listening on 127.0.0.1:PORT", "zmq bind tcp://127.0.0.1:PORT"), which
the harness reads back.
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import h11

import testmain

BINARY = os.environ.get("DOWNCASE", "")
WRAPPER = shlex.split(os.environ.get("DOWNCASE_WRAPPER", ""))
# How much slower than a plain build the processes run, to scale every time bound: ~20x under
# valgrind (DOWNCASE_WRAPPER), a few times with sanitizers or coverage (meson sets DOWNCASE_SLOW).
SLOW = 10.0 if WRAPPER else float(os.environ.get("DOWNCASE_SLOW") or 1)


# A plain build, not under a wrapper: the only kind whose memory figures mean anything (ASan's
# quarantine and valgrind keep freed memory resident).
PLAIN = not WRAPPER and os.environ.get("DOWNCASE_SANITIZE", "none") in ("", "none")


def status_kb(proc, field):
    """A "kB" field of /proc/PID/status of a harness process (VmRSS, VmHWM...)."""
    with open("/proc/%d/status" % proc.popen.pid) as f:
        return int(re.search(field + r":\s+(\d+) kB", f.read()).group(1))


class Proc:
    """One running downcase process with its stderr collected line by line."""

    def __init__(self, args, env=None, cwd=None, prefix=()):
        """prefix: a command the binary runs under, e.g. ["ip", "netns", "exec", NS]."""
        if not BINARY:
            testmain.skip("DOWNCASE is not set (run through meson test)")
        self.args = list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.popen = subprocess.Popen(
            list(prefix) + WRAPPER + [BINARY] + self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
        )
        self.lines = []
        self.stdout = bytearray()
        self.cond = threading.Condition()
        self.threads = [
            threading.Thread(target=self._read_err, daemon=True),
            threading.Thread(target=self._read_out, daemon=True),
        ]
        for t in self.threads:
            t.start()

    def _read_err(self):
        for raw in self.popen.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()

    def _read_out(self):
        while True:
            chunk = self.popen.stdout.read1(65536)
            if not chunk:
                break
            with self.cond:
                self.stdout += chunk
                self.cond.notify_all()

    def stderr_text(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_line(self, pattern, timeout=5.0):
        """Waits for a stderr line matching pattern; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout * SLOW
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None and not self._pending():
                    raise AssertionError(
                        "no stderr line matching %r; stderr so far:\n%s"
                        % (pattern, "\n".join(self.lines)))
                self.cond.wait(min(left, 0.1))

    def _pending(self):
        return any(t.is_alive() for t in self.threads)

    def send_signal(self, sig):
        self.popen.send_signal(sig)

    def wait(self, timeout=5.0):
        """Waits for exit; returns the exit status (negative: killed by that signal)."""
        rc = self.popen.wait(timeout * SLOW)
        for t in self.threads:
            t.join(5)
        self.popen.stdout.close()
        self.popen.stderr.close()
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signals and waits; returns the exit status."""
        if self.popen.poll() is None:
            self.send_signal(sig)
        return self.wait(timeout)

    def kill(self):
        if self.popen.poll() is None:
            self.popen.kill()
        self.wait()


class Pub(Proc):
    def __init__(self, *args, env=None, listen="127.0.0.1:0", bind="tcp://127.0.0.1:*"):
        flags = ["--role=pub"]
        if listen is not None:
            flags.append("--listen=" + listen)
        if bind is not None:
            flags.append("--bind=" + bind)
        super().__init__(flags + list(args), env=env)
        self.host, self.port = http_address(self)
        self.endpoint = None
        for line in self.lines:
            zm = re.search(r"zmq bind (\S+)", line)
            if zm:
                self.endpoint = zm.group(1)
                break

    def get(self, param, path="/downcase/"):
        """One GET on a fresh connection; returns (status, headers dict, body bytes)."""
        target = path + "?param=" + urllib.parse.quote(param, safe="")
        return http_get(self.host, self.port, target)


class Sub(Proc):
    def __init__(self, *args, log=None, connect=None, env=None, cwd=None):
        flags = ["--role=sub"]
        if log is not None:
            flags.append("--log=" + log)
        if connect is not None:
            for ep in [connect] if isinstance(connect, str) else connect:
                flags.append("--connect=" + ep)
        super().__init__(flags + list(args), env=env, cwd=cwd)
        self.wait_line(r"logging to ")


def connect(host, port, timeout=10.0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout * SLOW)
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def read_responses(sock, count, methods=None):
    """Reads `count` responses from sock with h11 (a strict HTTP/1.1 client parser), so every
    response is also validated. methods[i] tells h11 which responses answer HEAD. Returns a
    list of (status, headers dict with lowercase names, body bytes); stops early at EOF."""
    conn = h11.Connection(h11.CLIENT)
    out = []
    for i in range(count):
        method = (methods[i] if methods else "GET")
        # h11 insists on pairing each response with a request it has seen.
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        status, headers, body = None, None, bytearray()
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                data = sock.recv(65536)
                conn.receive_data(data)
                if not data and conn.their_state is h11.SEND_RESPONSE:
                    return out
                continue
            if isinstance(ev, h11.Response):
                status = ev.status_code
                headers = {k.decode().lower(): v.decode() for k, v in ev.headers}
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                break
            elif isinstance(ev, h11.ConnectionClosed):
                return out
        out.append((status, headers, bytes(body)))
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            break
        conn.start_next_cycle()
    return out


def http_raw(host, port, raw, count=1, methods=None, shutdown=False):
    """Sends raw bytes on a new connection and reads `count` responses."""
    with connect(host, port) as s:
        s.sendall(raw)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        return read_responses(s, count, methods)


def http_get(host, port, target, extra=b""):
    raw = b"GET " + target.encode() + b" HTTP/1.1\r\nHost: test\r\n" + extra + b"\r\n"
    res = http_raw(host, port, raw)
    if not res:
        raise AssertionError("no response to GET " + target)
    return res[0]


def read_until_closed(sock, timeout=5.0):
    """Reads until the peer closes; returns the bytes."""
    sock.settimeout(timeout * SLOW)
    data = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk


def wait_for(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().split(b"\n")[:-1]
    except FileNotFoundError:
        return []


def warm_up(pub, log_path, marker="warm-up"):
    """PUB/SUB has no beginning: a subscriber misses what is published before its subscription
    reaches the publisher (the "slow joiner"). Publish probes until one is logged, then one last
    marker and wait for it (an earlier probe may still have been in flight); returns the number
    of log lines then, so tests can look at what follows."""
    deadline = time.monotonic() + 10 * SLOW
    i = 0
    while True:
        i += 1
        pub.get("%s-%d" % (marker, i))
        if any(marker.encode() in line for line in read_lines(log_path)):
            break
        if time.monotonic() > deadline:
            raise AssertionError("subscriber never logged a probe")
        time.sleep(0.05)
    last = ("%s-done" % marker).encode()
    pub.get(last.decode())
    lines = wait_for(lambda: (lambda ls: ls if ls and last in ls[-1] else None)(
        read_lines(log_path)), 10, "the warm-up marker")
    return len(lines)


def metrics_text(host, port):
    """GET /metrics: the Prometheus text, once status and Content-Type are checked."""
    status, headers, body = http_get(host, port, "/metrics")
    assert status == 200, (status, body)
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8", headers
    return body.decode()


def parse_metrics(text):
    """{sample with its labels: value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def metrics(host, port):
    return parse_metrics(metrics_text(host, port))


def http_address(proc):
    """(host, port) a process announced with "http listening on ADDRESS"."""
    m = proc.wait_line(r"http listening on (\S+)")
    host, _, port = m.group(1).rpartition(":")
    return host.strip("[]"), int(port)


def refusing_port(test):
    """A loopback port where connections are refused for the whole of `test`: a socket is
    bound there (port 0) and kept, never listening, so no other process can take the port
    while the test runs (a port found free and released could be bound by a test running in
    parallel)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    test.addCleanup(s.close)
    return s.getsockname()[1]


def received_bytes(pub):
    """The pub's downcase_http_received_bytes_total, less the /metrics request that read it."""
    probe = len(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
    return metrics(pub.host, pub.port)["downcase_http_received_bytes_total"] - probe


def send_and_wait_read(pub, sock, data, timeout=5.0):
    """Sends data on sock and waits until the pub has read it (its received-bytes counter),
    where a fixed sleep would only hope it had."""
    before = received_bytes(pub)
    sock.sendall(data)
    wait_for(lambda: received_bytes(pub) - before >= len(data), timeout,
             "the pub to read %d bytes" % len(data))


# A uid and gid no account uses, for what must run unprivileged when the tests run as root.
THROWAWAY_ID = 61234


def unprivileged(directory, *owned):
    """A command prefix that runs a program as a throwaway user when the tests run as root (who
    reads any file, so a "permission denied" case could not fail), else (). The files `owned`
    are given to that user and `directory` (which holds them) is opened for it to traverse."""
    if os.geteuid() != 0:
        return ()
    setpriv = "/usr/bin/setpriv"
    if not os.access(setpriv, os.X_OK):
        testmain.skip("setpriv (Debian package util-linux) is missing: cannot drop root")
    os.chmod(directory, 0o711)
    for path in owned:
        os.chown(path, THROWAWAY_ID, THROWAWAY_ID)
    # A coverage build writes its counters at exit into the build tree, which this user may
    # not write: they go to a directory of its own instead (and are not counted).
    gcov = os.path.join(directory, "gcov-unprivileged")
    os.makedirs(gcov, exist_ok=True)
    os.chown(gcov, THROWAWAY_ID, THROWAWAY_ID)
    return (setpriv, "--reuid=%d" % THROWAWAY_ID, "--regid=%d" % THROWAWAY_ID,
            "--clear-groups", "--inh-caps=-all", "--", "env", "GCOV_PREFIX=" + gcov)


class ProcessTest(unittest.TestCase):
    """A test case with a temporary directory and downcase processes that are cleaned up."""

    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)

    def start(self, cls, *args, expect_exit=0, **kw):
        """Starts a harness process. At cleanup it is stopped with SIGTERM and must exit with
        expect_exit (which also catches valgrind reports; None: any status), then killed if
        it is still there."""
        p = cls(*args, **kw)
        self.addCleanup(p.kill)
        if expect_exit is not None:
            self.addCleanup(self._stopped, p, expect_exit)
        return p

    def _stopped(self, p, expect_exit):
        rc = p.stop()
        self.assertEqual(rc, expect_exit,
                         "%s exited %r; stderr:\n%s" % (p.args, rc, p.stderr_text()))


class TempDir:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="downcase-test-")
        self.path = self.tmp.name

    def file(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        self.tmp.cleanup()
