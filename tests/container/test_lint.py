"""The Containerfile passes dockerfilelint (npm, pinned) with zero findings. hadolint is not
used: Debian has no package for it and its npm wrapper downloads a binary when run, from a
host other than the registries. Needs npm and the npm registry (the first time: the package is
kept in the suite's cache), neither root nor podman."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

LINTER = "dockerfilelint@1.8.0"


def main():
    if shutil.which("npm") is None:
        lib.skip("npm is not installed (scripts/test installs it when run as root)")
    cache = lib.CACHE if os.access(os.path.dirname(lib.CACHE), os.W_OK) else \
        os.path.join(tempfile.gettempdir(), "downcase-lint-%d" % os.getuid())
    prefix = os.path.join(cache, "npm")
    tool = os.path.join(prefix, "node_modules", ".bin", "dockerfilelint")
    stamp = os.path.join(prefix, "installed")
    installed = os.path.exists(tool) and os.path.exists(stamp) and open(stamp).read() == LINTER
    if not installed:
        os.makedirs(prefix, exist_ok=True)
        p = lib.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, LINTER],
                    timeout=300, check_rc=False)
        if p.returncode != 0:
            lib.skip("cannot install %s from the npm registry: %s"
                     % (LINTER, (p.stderr.strip().splitlines() or ["?"])[-1]))
        with open(stamp, "w") as f:
            f.write(LINTER)
    containerfile = os.path.join(lib.SRCDIR, "Containerfile")
    p = subprocess.run([tool, containerfile], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    print(p.stdout + p.stderr)
    # dockerfilelint's exit status is the number of findings.
    lib.check(p.returncode == 0 and "Issues: None found" in p.stdout,
              "%s finds nothing in the Containerfile" % LINTER)
    return 0


if __name__ == "__main__":
    sys.exit(main())
