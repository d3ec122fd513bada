"""The version is kept in one place, meson.build: debian/changelog's newest entry must carry the
same one (the package is native, so that is the whole Debian version), and scripts/package
refuses to build when they differ, naming both."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import syslib
from syslib import check, say


def meson_version(srcdir):
    with open(os.path.join(srcdir, "meson.build")) as f:
        m = re.search(r"^project\('downcase', 'c',\n  version: '([^']+)',$", f.read(), re.M)
    return m.group(1) if m else None


def changelog_version(srcdir):
    with open(os.path.join(srcdir, "debian", "changelog")) as f:
        m = re.match(r"downcase \(([^)]+)\) [a-z-]+; urgency=\w+\n", f.readline())
    return m.group(1) if m else None


def main():
    version = meson_version(syslib.SRCDIR)
    check(version is not None, "meson.build's project version: %s" % version)
    check(changelog_version(syslib.SRCDIR) == version,
          "debian/changelog's newest entry is version %s too" % version)

    syslib.setup_package(under_wrapper=True)  # a few seconds, and no daemon to wrap
    with tempfile.TemporaryDirectory(prefix="downcase-version-") as tmp:
        for rel in syslib.source_files():
            src, dst = os.path.join(syslib.SRCDIR, rel), os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            else:
                shutil.copy2(src, dst)
        path = os.path.join(tmp, "debian", "changelog")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("downcase (%s)" % version, "downcase (%s.1)" % version, 1))
        p = subprocess.run([os.path.join(tmp, "scripts", "package"), os.path.join(tmp, "out")],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        say("scripts/package with a changelog of %s.1: exit %d, %s" % (version, p.returncode,
                                                                       p.stderr.strip()))
        check(p.returncode == 1 and "debian/changelog says %s.1 but meson.build says %s"
              % (version, version) in p.stderr and not os.path.exists(os.path.join(tmp, "out")),
              "scripts/package refuses to build when debian/changelog and meson.build disagree")
    say("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
