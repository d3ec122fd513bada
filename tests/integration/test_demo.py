"""The README's quick start, run for real: scripts/demo starts both processes, the printed curl
line answers, the answer is in ./subscriber.log, and Ctrl-C (SIGINT to the process group)
stops both cleanly."""

import os
import re
import signal
import subprocess
import tempfile
import threading
import unittest

import harness
import testmain

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))



def live_in_group(pgid):
    """Processes of the process group that are not zombies."""
    live = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(pid))
    return live


class DemoTest(unittest.TestCase):
    def test_demo_end_to_end(self):
        if not harness.BINARY:
            testmain.skip("DOWNCASE is not set (run through meson test)")
        workdir = tempfile.TemporaryDirectory(prefix="downcase-demo-")
        self.addCleanup(workdir.cleanup)
        if harness.WRAPPER:
            testmain.skip("the demo runs the plain binary")
        # The demo binds its default ports, 5000 and 4444, as the README's quick start says. In
        # a network namespace of its own (a user namespace too when not root) they cannot clash
        # with anything else running, tests in parallel included; loopback is brought up there.
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNCASE_DEMO_")}
        userns = [] if os.geteuid() == 0 else ["--map-root-user"]
        argv = (["unshare"] + userns + ["--net", "sh", "-c", 'ip link set lo up && exec "$0"',
                os.path.join(ROOT, "scripts", "demo")])
        proc = subprocess.Popen(argv, cwd=workdir.name, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        output = bytearray()

        def reader():
            for chunk in iter(lambda: proc.stdout.read1(4096), b""):
                output.extend(chunk)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        url = harness.wait_for(
            lambda: re.search(rb"curl '(http://[^']+)'", output), 10, "the curl line")
        url = url.group(1).decode()
        userns_enter = [] if os.geteuid() == 0 else ["--user", "--preserve-credentials"]
        harness.wait_for(lambda: b"http listening" in output, 10, "the publisher")
        log = os.path.join(workdir.name, "subscriber.log")

        self.assertEqual(url, "http://127.0.0.1:5000/downcase/?param=HeLLo")

        def answered_and_logged():
            # curl, as the demo says, from inside the demo's network namespace.
            r = subprocess.run(["nsenter", "--target", str(proc.pid), "--net"] + userns_enter
                               + ["curl", "-sS", "--max-time", "5", url], capture_output=True)
            if r.returncode != 0:
                return False  # not listening yet
            body = r.stdout
            self.assertEqual(body, b"lower case of HeLLo is hello")
            return any(line.endswith(b" " + body) for line in harness.read_lines(log))
        harness.wait_for(answered_and_logged, 10, "the answer in subscriber.log")
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        self.assertEqual(proc.wait(5), 0)
        t.join(5)
        text = output.decode("utf-8", "replace")
        self.assertIn("downcase[pub]: Interrupt: stopping", text)
        self.assertRegex(text, r"downcase\[sub\]: Interrupt: stopping after \d+ messages")
        # Nothing of the demo is left running. (An exited task may linger a moment as a zombie
        # until init reaps it: under AddressSanitizer, LeakSanitizer's exit-time tracer does.)
        harness.wait_for(lambda: not live_in_group(proc.pid), 2, "the demo's processes to end")


if __name__ == "__main__":
    testmain.main()
