#!/usr/bin/python3
"""testsummary: the table scripts/test ends with, and its verdict on skips.

Reads what each pass of scripts/test left behind (meson's test log, one JSON object per test,
e.g. build/meson-logs/testlog.json; scripts/fuzz's fuzz-results.tsv) and prints one row per pass
and suite: tests ran, passed, skipped (with the reason each gave), failed, and the time they
took. Suites and tests are whatever the logs hold: nothing here names them.

A skip is expected only when tests/expected-skips.txt lists it (pass, test and a part of the
reason it printed, see that file). With --ci (scripts/test passes it when CI=true) an unexpected
skip fails the run; otherwise it is flagged in the table. The last line is
"tests: N passed, N failed, N skipped" over every pass.

usage: testsummary.py [--ci] --expected FILE PASS=KIND:PATH:WALL_SECONDS:STATUS ...
  KIND is meson (a testlog.json) or fuzz (a fuzz-results.tsv); STATUS is the exit status of the
  pass's command (a failed build leaves no log, and must show).
"""

import fnmatch
import json
import os
import re
import sys

SKIP_LINE = re.compile(r"^SKIP: (.*)$", re.M)


def load_expected(path):
    """[(pass glob, test glob, reason part, line)] from the expected-skips file."""
    out = []
    with open(path) as f:
        for no, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) != 3:
                sys.exit("%s:%d: want 'PASS TEST REASON', got %r" % (path, no, line))
            out.append((parts[0], parts[1], parts[2], "%s:%d" % (path, no)))
    return out


def meson_tests(path):
    """[(suite, name, result, seconds, skip reasons)] from a meson testlog.json."""
    tests = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            # "project:suite / name"
            full = t["name"]
            suite, _, name = full.partition(" / ")
            suite = suite.split(":", 1)[-1]
            text = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
            reasons = [r.strip() for r in SKIP_LINE.findall(text)]
            if t["result"] == "SKIP" and not reasons:
                reasons = ["(no reason printed)"]
            tests.append((suite, name, t["result"], float(t.get("duration") or 0), reasons))
    return tests


def fuzz_tests(path):
    tests = []
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 5:
                continue
            target, result, runs, seconds, rate = fields[:5]
            tests.append(("fuzzing", target, "OK" if result == "ok" else "FAIL", float(seconds),
                          ["%s: %s runs, %s exec/s" % (target, runs, rate)]))
    return tests


def expected(expect, pass_name, suite, name, reason):
    for pglob, tglob, part, _ in expect:
        if (fnmatch.fnmatch(pass_name, pglob) and fnmatch.fnmatch(suite + "/" + name, tglob)
                and part in reason):
            return True
    return False


def main(argv):
    ci = "--ci" in argv
    argv = [a for a in argv if a != "--ci"]
    if len(argv) < 2 or argv[0] != "--expected":
        sys.exit(__doc__)
    expect = load_expected(argv[1])
    rows = []
    unexpected = []
    bad_passes = []
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for spec in argv[2:]:
        pass_name, _, rest = spec.partition("=")
        kind, path, wall, status = rest.split(":")
        status = int(status)
        tests = []
        if os.path.exists(path) and os.path.getsize(path) > 0:
            tests = meson_tests(path) if kind == "meson" else fuzz_tests(path)
        if not tests:
            rows.append((pass_name, "(no test log)", 0, 0, 0, 0, float(wall), []))
            bad_passes.append("%s: no test ran (exit status %d)" % (pass_name, status))
            continue
        if status != 0 and not any(t[2] not in ("OK", "SKIP") for t in tests):
            bad_passes.append("%s: exited %d with no failed test in its log" % (pass_name, status))
        suites = {}
        for suite, name, result, secs, reasons in tests:
            s = suites.setdefault(suite, {"ran": 0, "ok": 0, "skip": 0, "fail": 0, "time": 0.0,
                                          "why": []})
            s["ran"] += 1
            s["time"] += secs
            if result == "OK":
                s["ok"] += 1
                totals["passed"] += 1
                if kind == "fuzz":
                    s["why"].extend(reasons)
            elif result == "SKIP":
                s["skip"] += 1
                totals["skipped"] += 1
                for reason in reasons:
                    ok = expected(expect, pass_name, suite, name, reason)
                    s["why"].append("%s%s: %s" % ("" if ok else "UNEXPECTED ", name, reason))
                    if not ok:
                        unexpected.append("%s %s/%s: %s" % (pass_name, suite, name, reason))
            else:
                s["fail"] += 1
                totals["failed"] += 1
                s["why"].append("FAILED %s (%s)" % (name, result))
        for suite in sorted(suites):
            s = suites[suite]
            rows.append((pass_name, suite, s["ran"], s["ok"], s["skip"], s["fail"], s["time"],
                         s["why"]))
        rows.append((pass_name, "(wall clock)", "", "", "", "", float(wall), []))

    head = ("pass", "suite", "ran", "passed", "skipped", "failed", "time")
    print("\n== summary")
    print("%-9s %-14s %5s %7s %8s %7s %9s" % head)
    for pass_name, suite, ran, ok, skip, fail, secs, why in rows:
        print("%-9s %-14s %5s %7s %8s %7s %8.1fs" % (pass_name, suite, ran, ok, skip, fail, secs))
        for w in why:
            print("%33s- %s" % ("", w))
    print("(a suite's time adds up its tests' durations, which overlap when they run in parallel)")
    for b in bad_passes:
        print("FAILED PASS: " + b)
    verdict = 0
    if totals["failed"] or bad_passes:
        verdict = 1
    if unexpected:
        where = "fails the run (CI=true)" if ci else "would fail a CI run"
        print("%d unexpected skip(s) %s; tests/expected-skips.txt lists the expected ones:"
              % (len(unexpected), where))
        for u in unexpected:
            print("  " + u)
        if ci:
            verdict = 1
    print("tests: %(passed)d passed, %(failed)d failed, %(skipped)d skipped" % totals)
    return verdict


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
