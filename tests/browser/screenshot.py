"""screenshot.py OUTPUT.png: makes the README's picture of the live view (doc/live-view.png).

Not a test (tests/browser/test_browser.py is): it starts two framed pubs and a sub with --http
on 127.0.0.1, opens the page in Debian's headless Chromium, publishes for about 30 s at
changing rates (so the sparklines have a shape), restarts the sub once near the end (the
second pub keeps nothing, so the page shows a gap line) and takes the screenshot.
Run it with the built binary: DOWNCASE=build/src/downcase /usr/bin/python3 %s OUT.png"""

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
import test_browser  # noqa: E402
from harness import warm_up  # noqa: E402

WORDS = ["Order 1042 SHIPPED to Lyon", "Payment OK for Invoice 7731", "User Alice LOGGED IN",
         "Cart Updated: 3 Items", "Refund Issued #5520", "Stock LOW: SKU-88 (4 left)"]
AUDIT = ["Admin Bob CHANGED quota", "Key ROTATED for service api", "Login FAILED for root"]


class Shot(test_browser.BrowserTest):
    def runTest(self):
        out = os.path.abspath(sys.argv[1])
        pub = self.start(harness.Pub, "--wire=framed", "--topic=shop")
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
        t0 = time.monotonic()
        i = 0
        restarted = False
        while time.monotonic() - t0 < 32:
            t = time.monotonic() - t0
            if t > 25 and not restarted:
                self.assertEqual(sub.stop(), 0)
                for k in range(4):
                    pub2.get(AUDIT[k % len(AUDIT)])
                sub = self.start(harness.Sub, "--log-format=json",
                                 "--http=127.0.0.1:%d" % port, log=log,
                                 connect=[pub.endpoint, pub2.endpoint])
                restarted = True
            rate = 6 + 5 * math.sin(t / 3)
            pub.get(WORDS[i % len(WORDS)])
            if i % 4 == 0:
                pub2.get(AUDIT[i % len(AUDIT)])
            i += 1
            time.sleep(1 / rate)
        self.assertTrue(self.driver.save_screenshot(out))
        print("wrote " + out)


if __name__ == "__main__":
    r = __import__("unittest").TextTestRunner().run(Shot())
    sys.exit(0 if r.wasSuccessful() else 1)
