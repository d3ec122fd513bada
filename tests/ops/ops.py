"""ops: small helpers shared by the 'ops' suite (install, man page, units, logrotate, version).

meson passes every path through the environment (tests/ops/meson.build); a test whose tool is
not installed exits 77, which meson reports as skipped (scripts/test installs them all, so CI
runs everything)."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import testmain  # noqa: E402

SKIP = 77


def skip(reason):
    """Skips the test (testmain.skip: exit 77 outside unittest, SkipTest inside)."""
    testmain.skip(reason)


def env(name):
    """An environment variable meson sets; its absence means the test is not run by meson."""
    value = os.environ.get(name)
    if value is None:
        skip("%s is not set (run through meson test)" % name)
    return value


def tool(name):
    """The path of a program, also looking in the sbin directories a non-root PATH lacks."""
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    found = shutil.which(name, path=path)
    if found is None:
        skip(name + " is not installed")
    return found


def run(args, timeout=30.0, **kw):
    """Runs a command to completion; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=timeout, **kw)


WRAPPER = os.environ.get("DOWNCASE_WRAPPER", "").split()


def run_binary(args, timeout=30.0, **kw):
    """Runs the built downcase (under DOWNCASE_WRAPPER, e.g. valgrind, when the setup sets it)."""
    slow = 10.0 if WRAPPER else float(os.environ.get("DOWNCASE_SLOW") or 1)
    return run(WRAPPER + [env("DOWNCASE")] + list(args), timeout=timeout * slow, **kw)
