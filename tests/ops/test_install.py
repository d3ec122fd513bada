"""`meson install --destdir` of this build installs exactly the expected files: the binary in
bindir, downcase(1) in mandir (when scdoc built it), the example units and logrotate file in
datadir/doc/downcase, and the units in systemd's unit directory when -Dsystemd found one. Then
the installed files are looked at: the binary runs, the units start the installed binary, the
page is the built one."""

import filecmp
import os
import tempfile
import unittest

import ops
import testmain


def rel(path):
    return path.lstrip("/")


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="downcase-install-")
        self.addCleanup(self.tmp.cleanup)
        self.dest = self.tmp.name
        meson = ops.env("MESON")
        if not meson:
            ops.skip("meson was not found at configure time")
        # --no-rebuild: meson test has built everything; a rebuild here would race other tests.
        p = ops.run([meson, "install", "-C", ops.env("DOWNCASE_BUILD_ROOT"), "--no-rebuild",
                     "--destdir", self.dest], timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def installed(self):
        out = set()
        for root, dirs, files in os.walk(self.dest):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                out.add(os.path.relpath(os.path.join(root, name), self.dest))
        return out

    def test_exact_file_list(self):
        bindir, docdir = ops.env("DOWNCASE_BINDIR"), ops.env("DOWNCASE_DOCDIR")
        expected = {
            rel(os.path.join(bindir, "downcase")),
            rel(os.path.join(docdir, "downcase-pub.service")),
            rel(os.path.join(docdir, "downcase-sub.service")),
            rel(os.path.join(docdir, "downcase.logrotate")),
        }
        if ops.env("DOWNCASE_MAN"):
            expected.add(rel(os.path.join(ops.env("DOWNCASE_MANDIR"), "man1", "downcase.1")))
        unitdir = ops.env("DOWNCASE_UNITDIR")
        if unitdir:
            expected.add(rel(os.path.join(unitdir, "downcase-pub.service")))
            expected.add(rel(os.path.join(unitdir, "downcase-sub.service")))
        self.assertEqual(sorted(self.installed()), sorted(expected))

    def test_installed_files_work(self):
        bindir, docdir = ops.env("DOWNCASE_BINDIR"), ops.env("DOWNCASE_DOCDIR")
        exe = os.path.join(self.dest, rel(bindir), "downcase")
        self.assertTrue(os.access(exe, os.X_OK), exe)
        p = ops.run([exe, "--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines()[0], "downcase " + ops.env("DOWNCASE_VERSION"))
        dirs = [docdir] + ([ops.env("DOWNCASE_UNITDIR")] if ops.env("DOWNCASE_UNITDIR") else [])
        for d in dirs:
            for role in ["pub", "sub"]:
                unit = os.path.join(self.dest, rel(d), "downcase-%s.service" % role)
                with open(unit, encoding="utf-8") as f:
                    text = f.read()
                self.assertIn("\nExecStart=%s --role=%s " % (os.path.join(bindir, "downcase"),
                                                             role), text)
        man = ops.env("DOWNCASE_MAN")
        if man:
            page = os.path.join(self.dest, rel(ops.env("DOWNCASE_MANDIR")), "man1", "downcase.1")
            self.assertTrue(filecmp.cmp(page, man, shallow=False))


if __name__ == "__main__":
    testmain.main()
