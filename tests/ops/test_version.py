"""--version prints the version meson.build declares (meson passes it as DOWNCASE_VERSION) and
the versions of the libraries the binary runs with."""

import unittest

import ops
import testmain


class VersionTest(unittest.TestCase):
    def test_version_is_meson_project_version(self):
        expected = ops.env("DOWNCASE_VERSION")
        self.assertRegex(expected, r"^\d+\.\d+\.\d+", "meson.build's version looks wrong")
        for flag in ["--version", "-V"]:
            with self.subTest(flag=flag):
                p = ops.run_binary([flag])
                self.assertEqual(p.returncode, 0, p.stderr)
                lines = p.stdout.splitlines()
                self.assertEqual(lines[0], "downcase " + expected)
                # Second line: each library with a dotted version.
                for lib in ["libzmq", "libuv", "llhttp", "utf8proc"]:
                    self.assertRegex(lines[1], r"\b%s \d+\.\d+\.\d+" % lib)


if __name__ == "__main__":
    testmain.main()
