"""The live view in a real browser: Debian's headless Chromium driven by chromium-driver through
python3-selenium (no browser download). The page opens and shows each message published over
HTTP within a second; markup in a message is shown as text and runs nothing; the filter box
hides and shows lines; autoscroll pauses when scrolled up; gap lines are highlighted; each
publisher gets a live rate; after the sub is restarted the page reconnects by itself and shows
no line twice and none missing. A screenshot is saved as a test artifact
($DOWNCASE_ARTIFACTS/live-view.png).

In CI (CI=true) a missing browser, driver or selenium fails the test; elsewhere it is skipped,
saying why (exit 77). Under the valgrind setup (DOWNCASE_WRAPPER) it is skipped too: it
measures latency, which valgrind's slowdown would falsify (scripts/test runs it in the normal
and sanitizer builds)."""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import warm_up  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def cannot_run(why):
    if os.environ.get("CI") == "true":
        print("FAIL: the browser test cannot run: " + why, file=sys.stderr)
        sys.exit(1)
    print("SKIP: " + why, file=sys.stderr)
    sys.exit(77)


try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    cannot_run("python3-selenium is missing (scripts/test installs it)")


def lowered(text):
    return "lower case of %s is %s" % (text, text.lower())


class BrowserTest(harness.ProcessTest):
    @classmethod
    def setUpClass(cls):
        if harness.WRAPPER:
            print("SKIP: not under valgrind (the test measures latency)", file=sys.stderr)
            sys.exit(77)
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.path.exists(path):
                cannot_run("%s is missing (Debian packages chromium, chromium-driver)" % path)

    def setUp(self):
        super().setUp()
        self.artifacts = os.environ.get("DOWNCASE_ARTIFACTS") or self.tmp.file("artifacts")
        os.makedirs(self.artifacts, exist_ok=True)
        profile = tempfile.mkdtemp(prefix="downcase-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,760",
                    "--user-data-dir=" + profile):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.addCleanup(self.driver.quit)

    # ---- what the page shows ------------------------------------------------------------------

    def rows(self):
        """Every line of the page: kind, publisher, seq, message text, hidden."""
        return self.driver.execute_script("""
            return Array.from(document.querySelectorAll('#log .line')).map(r => ({
                kind: r.classList.contains('gap') ? 'gap'
                    : r.classList.contains('dropped') ? 'dropped' : 'message',
                publisher: r.dataset.publisher || null,
                seq: r.dataset.seq ? Number(r.dataset.seq) : null,
                text: (r.querySelector('.msg') || {}).textContent,
                hidden: r.hidden,
            }));""")

    def wait_text(self, text, timeout, since=None):
        """Waits until a line shows text; returns the time it was seen. Fails past timeout
        from `since` (default: now)."""
        deadline = (since or time.monotonic()) + timeout
        while True:
            if self.driver.execute_script(
                    "return Array.from(document.querySelectorAll('#log .msg'))"
                    ".some(m => m.textContent === arguments[0])", text):
                seen = time.monotonic()
                if seen > deadline:
                    break
                return seen
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        raise AssertionError("the page did not show %r within %.1f s" % (text, timeout))

    def state(self):
        return self.driver.find_element(By.ID, "state").text

    def wait_state(self, want, timeout=10):
        harness.wait_for(lambda: self.state() == want, timeout, "state " + want)

    def no_alert(self):
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return
        text = alert.text
        alert.dismiss()
        raise AssertionError("a dialog opened: %r" % text)

    # ---- the test -------------------------------------------------------------------------------

    def test_live_view(self):
        pub = self.start(harness.Pub, "--wire=framed")
        pub2 = self.start(harness.Pub, "--wire=framed", "--topic=audit", "--retain=0")
        log = self.tmp.file("sub.log")
        sub = harness.Sub("--log-format=json", "--http=127.0.0.1:0", log=log,
                          connect=[pub.endpoint, pub2.endpoint])
        self.addCleanup(sub.kill)
        host, port = harness.http_address(sub)
        warm_up(pub, log)
        warm_up(pub2, log, "warm-b")
        self.driver.get("http://127.0.0.1:%d/" % port)
        self.wait_state("live")

        # Each message published over HTTP is on the page within a second.
        latencies = []
        sent = []
        for i in range(12):
            text = "Browser-%02d" % i
            status = pub.get(text)[0]
            t0 = time.monotonic()
            self.assertEqual(status, 200)
            sent.append(lowered(text))
            latencies.append(self.wait_text(lowered(text), 1.0, since=t0) - t0)
        for i in range(4):
            self.assertEqual(pub2.get("Audit-%d" % i)[0], 200)
            self.wait_text(lowered("Audit-%d" % i), 1.0)
        print("HTTP 200 -> line on the page, ms: " + " ".join("%.0f" % (x * 1000)
                                                           for x in latencies), file=sys.stderr)

        # Markup arrives as text: no element is made of it and no script runs.
        self.assertEqual(pub.get(XSS)[0], 200)
        self.wait_text(lowered(XSS), 1.0)
        self.assertEqual(self.driver.execute_script(
            "return document.querySelectorAll('#log img, #log script').length"), 0)
        self.assertEqual(self.driver.execute_script(
            "return document.querySelectorAll('img').length"), 0)
        self.assertEqual(self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#log .msg'))"
            ".filter(m => m.children.length > 0).length"), 0)
        time.sleep(0.3)
        self.no_alert()

        # The filter box hides and shows lines.
        filter_box = self.driver.find_element(By.ID, "filter")
        filter_box.send_keys("browser-07")
        harness.wait_for(lambda: [r["text"] for r in self.rows() if not r["hidden"]]
                         == [lowered("Browser-07")], 2, "the filter to leave one line")
        filter_box.clear()
        filter_box.send_keys(" ")
        filter_box.send_keys("\b")
        harness.wait_for(lambda: not any(r["hidden"] for r in self.rows()), 2,
                         "every line to show again")

        # Autoscroll: on at the bottom; scrolling up pauses it; the button resumes it.
        for i in range(60):
            pub.get("Scroll-%02d" % i)
        self.wait_text(lowered("Scroll-59"), 2.0)
        at_bottom = "const l = document.getElementById('log');" \
                    "return l.scrollTop + l.clientHeight >= l.scrollHeight - 4;"
        self.assertTrue(self.driver.execute_script(at_bottom))
        self.driver.execute_script("const l = document.getElementById('log'); l.scrollTop = 0;"
                                   "l.dispatchEvent(new Event('scroll'));")
        pub.get("While-scrolled-up")
        self.wait_text(lowered("While-scrolled-up"), 1.0)
        self.assertEqual(self.driver.execute_script(
            "return document.getElementById('log').scrollTop"), 0)
        resume = self.driver.find_element(By.ID, "resume")
        self.assertTrue(resume.is_displayed())
        resume.click()
        harness.wait_for(lambda: self.driver.execute_script(at_bottom), 2, "the jump to the end")
        self.assertFalse(resume.is_displayed())

        # The sub restarts on the same address: published meanwhile, pub's messages are kept
        # (retention) and come after the restart; pub2 keeps nothing, so its are a gap line.
        self.assertEqual(sub.stop(), 0, sub.stderr_text())
        self.wait_state("reconnecting")
        for i in range(5):
            self.assertEqual(pub.get("During-%d" % i)[0], 200)
        for i in range(3):
            self.assertEqual(pub2.get("Lost-%d" % i)[0], 200)
        sub2 = self.start(harness.Sub, "--log-format=json", "--http=127.0.0.1:%d" % port,
                          log=log, connect=[pub.endpoint, pub2.endpoint])
        self.wait_state("live")
        for i in range(5):
            self.wait_text(lowered("During-%d" % i), 10)
        deadline = time.monotonic() + 10
        i = 0
        while not any(r["kind"] == "gap" for r in self.rows()):
            self.assertLess(time.monotonic(), deadline, "no gap line on the page")
            pub2.get("After-%d" % i)
            i += 1
            time.sleep(0.1)
        for i in range(5):
            self.assertEqual(pub.get("After-restart-%d" % i)[0], 200)
            self.wait_text(lowered("After-restart-%d" % i), 1.0)

        rows = self.rows()
        by_pub = {}
        for r in rows:
            if r["kind"] == "message" and r["publisher"]:
                by_pub.setdefault(r["publisher"], []).append(r)
        self.assertEqual(len(by_pub), 2)
        self.assertFalse(any(r["kind"] == "dropped" for r in rows), rows)
        # pub: every message once, in order, none missing, across the restart.
        main = [r for r in by_pub.values() if any(x["text"] == lowered("Browser-00") for x in r)][0]
        seqs = [r["seq"] for r in main]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        texts = [r["text"] for r in main]
        want = (sent + [lowered(XSS)] + [lowered("Scroll-%02d" % i) for i in range(60)]
                + [lowered("While-scrolled-up")] + [lowered("During-%d" % i) for i in range(5)]
                + [lowered("After-restart-%d" % i) for i in range(5)])
        self.assertEqual(texts, want)
        # pub2: the gap line says exactly how many were lost, and is highlighted.
        gaps = [r for r in rows if r["kind"] == "gap"]
        self.assertEqual(len(gaps), 1)
        self.assertIn("gap: 3 messages of publisher", gaps[0]["text"])
        colors = self.driver.execute_script("""
            const gap = document.querySelector('#log .line.gap');
            const msg = document.querySelector('#log .line.message');
            return [getComputedStyle(gap).backgroundColor, getComputedStyle(msg).backgroundColor];
        """)
        self.assertNotEqual(colors[0], colors[1])
        # A live rate per publisher (a sparkline each).
        harness.wait_for(lambda: self.driver.execute_script(
            "return document.querySelectorAll('#rates .rate canvas').length") == 2, 3,
            "two sparklines")

        # Nothing the page did was refused by its Content-Security-Policy or failed, besides
        # the favicon the browser asks for by itself.
        problems = [e for e in self.driver.get_log("browser")
                    if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]
                    and "/stream" not in e["message"]]
        self.assertEqual(problems, [])
        self.no_alert()
        shot = os.path.join(self.artifacts, "live-view.png")
        self.assertTrue(self.driver.save_screenshot(shot))
        self.assertGreater(os.path.getsize(shot), 10000)
        print("screenshot: " + shot, file=sys.stderr)
        self.assertEqual(sub2.stop(), 0, sub2.stderr_text())


if __name__ == "__main__":
    unittest.main()
