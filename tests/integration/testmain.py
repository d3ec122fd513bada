"""testmain: the one way a Python test of downcase skips, and how every test script ends.

meson counts a test as skipped only when its process exits 77. unittest gets this wrong both
ways: a skip raised inside a test (self.skipTest, unittest.SkipTest) ends the process with 0,
which meson shows as OK, and a sys.exit(77) inside a test method is turned into an ERROR. So:

- skip(reason) is the only way to skip. Inside a running test (or setUp, setUpClass) it raises
  unittest.SkipTest; anywhere else (module level, a plain script) it prints the reason and exits
  77 at once.
- main() runs the module's tests and maps the outcome to the exit status meson reads:
  1 when anything failed or errored or when no test ran at all, 77 when every test that ran
  passed but at least one was skipped, 0 when every test ran and passed. Each skip is printed
  as a line "SKIP: test_name: reason", which scripts/test collects for its table and compares
  with tests/expected-skips.txt when CI=true (a skip not listed there fails CI).

A test file that skips only some of its cases is therefore SKIP as a whole: a partly run file is
not a pass.
"""

import sys
import unittest

SKIP = 77

_running = False


def skip(reason):
    """Skips the current test (inside unittest) or the whole script (outside it)."""
    if _running:
        raise unittest.SkipTest(reason)
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)


def main(verbosity=2):
    """Runs the tests of __main__ and exits 0, 1 or 77 (see the module's docstring)."""
    global _running
    _running = True
    try:
        prog = unittest.main(argv=sys.argv[:1], verbosity=verbosity, exit=False)
    finally:
        _running = False
    result = prog.result
    sys.stdout.flush()
    if result.failures or result.errors or result.unexpectedSuccesses:
        sys.exit(1)
    if result.skipped:
        for test, reason in result.skipped:
            print("SKIP: %s: %s" % (test.id(), reason), flush=True)
        print("%d ran, %d skipped: the file counts as skipped" %
              (result.testsRun, len(result.skipped)), flush=True)
        sys.exit(SKIP)
    if result.testsRun == 0:
        print("FAIL: no test ran", flush=True)
        sys.exit(1)
    sys.exit(0)
