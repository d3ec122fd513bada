"""The manual page downcase(1) and the binary agree on the flags.

The binary's flags are whatever the built binary's --help lists (every --name token, and the
-x short forms), so flags added later are checked without editing this test. Each must have an
entry in the page's OPTIONS section (a line that scdoc turns into an indented entry). Each --name
the page mentions anywhere must be accepted by the binary: it is run as `downcase --name --help`,
which a known flag answers with a usage error about its value or with the help, and an unknown
one with "unknown flag". The page must also have the sections the operators look for."""

import os
import re
import shutil
import unittest

import ops
import testmain

LONG_RX = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT_RX = re.compile(r"^\s+(-[A-Za-z]),", re.M)

SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "WIRE FORMATS", "LOG FORMATS",
            "SIGNALS", "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"]


def plain(roff_line):
    """A roff line as text: font changes and zero-width escapes dropped, \\- as -."""
    s = re.sub(r"\\f[BIRP]|\\f\(..|\\&", "", roff_line)
    return s.replace("\\-", "-").replace("\\(hy", "-").replace("\\e", "\\")


class ManPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        path = ops.env("DOWNCASE_MAN")
        if not path:
            ops.skip("the man page is not built (scdoc is not installed)")
        with open(path, encoding="utf-8") as f:
            cls.roff = f.read().splitlines()
        cls.text = "\n".join(plain(line) for line in cls.roff)
        p = ops.run_binary(["--help"])
        assert p.returncode == 0, "--help failed: " + p.stderr
        cls.help = p.stdout

    def sections(self):
        """{section name: [roff lines]}."""
        out, name = {}, None
        for line in self.roff:
            if line.startswith(".SH "):
                name = line[4:].strip().strip('"')
                out[name] = []
            elif name is not None:
                out[name].append(line)
        return out

    def documented_flags(self):
        """Flags named on the heading line of an OPTIONS entry (the line before ".RS")."""
        lines = self.sections().get("OPTIONS", [])
        flags = set()
        for i, line in enumerate(lines[:-1]):
            if lines[i + 1].startswith(".RS"):
                heading = plain(line)
                flags.update(LONG_RX.findall(heading))
                flags.update(re.findall(r"(?<![\w-])-[A-Za-z](?![\w-])", heading))
        return flags

    def test_every_help_flag_has_an_entry(self):
        help_flags = set(LONG_RX.findall(self.help)) | set(SHORT_RX.findall(self.help))
        self.assertIn("--role", help_flags, "could not read flags from --help:\n" + self.help)
        missing = sorted(help_flags - self.documented_flags())
        self.assertEqual(missing, [], "flags in --help with no entry under OPTIONS in downcase(1)")

    def test_every_flag_in_the_page_is_accepted(self):
        named = set(LONG_RX.findall(self.text))
        self.assertIn("--role", named)
        rejected = []
        for flag in sorted(named):
            # A value flag complains that "--help" is not its value; a plain flag goes on to
            # --help. Neither does any work, so this is safe for every flag.
            p = ops.run_binary([flag, "--help"])
            if "unknown flag" in p.stderr:
                rejected.append(flag)
            elif p.returncode not in (0, 2):
                self.fail("%s --help exited %d: %s" % (flag, p.returncode, p.stderr))
        self.assertEqual(rejected, [], "downcase(1) names flags the binary rejects")

    def test_check_can_fail(self):
        # The probe above must tell a made-up flag from a real one.
        p = ops.run_binary(["--no-such-flag-in-downcase", "--help"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown flag", p.stderr)

    def test_sections(self):
        have = self.sections()
        for name in SECTIONS:
            self.assertIn(name, have, "downcase(1) has no %s section" % name)
        signals = plain("\n".join(have["SIGNALS"]))
        for sig in ["SIGTERM", "SIGINT", "SIGHUP"]:
            self.assertIn(sig, signals)
        status = plain("\n".join(have["EXIT STATUS"]))
        for code in ["0", "1", "2"]:
            self.assertRegex(status, r"(?m)^%s$" % code, "exit status %s not described" % code)
        th = [line for line in self.roff if line.startswith(".TH ")]
        self.assertEqual(len(th), 1)
        self.assertTrue(th[0].startswith('.TH "downcase" "1"'), th[0])
        self.assertIn('"downcase %s"' % ops.env("DOWNCASE_VERSION"), th[0])

    def test_renders_without_warnings(self):
        groff = shutil.which("groff")
        if groff is None:
            testmain.skip("groff is not installed")
        p = ops.run([groff, "-man", "-Tutf8", "-ww", "-z", os.environ["DOWNCASE_MAN"]])
        self.assertEqual((p.returncode, p.stderr), (0, ""))


if __name__ == "__main__":
    testmain.main()
