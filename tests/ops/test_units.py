"""The systemd units meson generates (dist/systemd/*.service.in): ExecStart names the configured
bindir, the flags (the unit's Environment= default, which /etc/default/downcase-ROLE overrides)
are ones the binary accepts, the sandbox the README promises is there,
`systemd-analyze verify` has nothing to say about them, and `systemd-analyze security` rates
them at most MAX_EXPOSURE. verify checks that ExecStart's program exists, so it runs on copies
pointed at the built binary. Exits 77 where systemd-analyze is not installed."""

import os
import re
import shlex
import shutil
import tempfile
import unittest

import ops
import testmain

# systemd-analyze security's scale: 0 (locked down) to 10 (unprotected); "OK" is below 2.
# The units score 1.1 and 1.2 with systemd 252 (README); this catches a lost directive.
MAX_EXPOSURE = 1.5

COMMON = {
    "Type": "exec",
    "Restart": "on-failure",
    "DynamicUser": "yes",
    "ProtectSystem": "strict",
    "ReadOnlyPaths": "-/dev/shm -/run/lock",
    "ProtectHome": "yes",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    "SystemCallArchitectures": "native",
    "MemoryDenyWriteExecute": "yes",
}


def environment(unit):
    """{name: value} of the unit's Environment= lines (each a shell-quoted NAME=VALUE)."""
    out = {}
    for line in unit.get("Environment", []):
        for word in shlex.split(line):
            name, _, value = word.partition("=")
            out[name] = value
    return out


def exec_argv(unit):
    """ExecStart= as systemd runs it with the unit's own Environment=: a word $NAME becomes the
    variable's value split at whitespace."""
    env = environment(unit)
    argv = []
    for word in shlex.split(unit["ExecStart"][0]):
        if word.startswith("$"):
            argv += env.get(word.strip("${}"), "").split()
        else:
            argv.append(word)
    return argv


def parse_unit(path):
    """{key: [values]} of a unit file (sections are not told apart: keys do not repeat).
    A line ending in a backslash continues on the next, as systemd reads it."""
    out = {}
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"\\\n[ \t]*", " ", f.read())
        for line in text.split("\n"):
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


class UnitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.units = {os.path.basename(p): p for p in ops.env("DOWNCASE_UNITS").split(os.pathsep)}
        cls.bindir = ops.env("DOWNCASE_BINDIR")
        cls.binary = ops.env("DOWNCASE")

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="downcase-units-")
        self.addCleanup(self.tmp.cleanup)

    def test_units_exist(self):
        self.assertEqual(sorted(self.units), ["downcase-pub.service", "downcase-sub.service"])

    def test_exec_start_and_sandbox(self):
        for name, path in self.units.items():
            with self.subTest(unit=name):
                unit = parse_unit(path)
                for key, value in COMMON.items():
                    self.assertEqual(unit.get(key), [value], "%s: %s" % (name, key))
                argv = exec_argv(unit)
                self.assertEqual(argv[0], os.path.join(self.bindir, "downcase"))
                role = "pub" if "pub" in name else "sub"
                self.assertIn("--role=" + role, argv)
                # The flags must be ones the binary accepts (--help stops before anything runs).
                p = ops.run_binary(argv[1:] + ["--help"])
                self.assertEqual(p.returncode, 0, "%s: %s" % (argv, p.stderr))

    def test_sub_log_and_reload(self):
        unit = parse_unit(self.units["downcase-sub.service"])
        self.assertEqual(unit.get("LogsDirectory"), ["downcase"])
        self.assertIn("--log=/var/log/downcase/subscriber.log", exec_argv(unit))
        self.assertEqual(unit.get("ExecReload"), ["/bin/kill -HUP $MAINPID"])

    def test_flags_from_etc_default(self):
        # The flags come from /etc/default/downcase-ROLE when it sets them; meson writes that
        # file (the Debian package ships it) beside the unit with the unit's own default.
        for name, path in self.units.items():
            with self.subTest(unit=name):
                role = "pub" if "pub" in name else "sub"
                var = "DOWNCASE_%s_OPTS" % role.upper()
                unit = parse_unit(path)
                self.assertEqual(unit.get("EnvironmentFile"), ["-/etc/default/downcase-" + role])
                self.assertEqual(shlex.split(unit["ExecStart"][0])[1:], ["--role=" + role,
                                                                         "$" + var])
                default = os.path.join(os.path.dirname(path), "downcase-%s.default" % role)
                with open(default, encoding="utf-8") as f:
                    assigned = [shlex.split(line)[0] for line in f
                                if line.strip() and not line.startswith("#")]
                self.assertEqual(assigned, ["%s=%s" % (var, environment(unit)[var])])
                self.assertTrue(environment(unit)[var].startswith("--"))

    def copies(self):
        """Copies of the units whose ExecStart runs the built binary; returns their paths."""
        out = []
        for name, path in sorted(self.units.items()):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            exec_path = os.path.join(self.bindir, "downcase")
            self.assertIn("ExecStart=" + exec_path + " ", text)
            copy = os.path.join(self.tmp.name, name)
            with open(copy, "w", encoding="utf-8") as f:
                f.write(text.replace("ExecStart=" + exec_path + " ",
                                     "ExecStart=" + self.binary + " "))
            out.append(copy)
        return out

    def analyze(self, *args):
        return ops.run([ops.tool("systemd-analyze")] + list(args), timeout=60)

    def ours(self, stderr):
        """verify also loads the targets the units name; only lines about ours count."""
        return [line for line in stderr.splitlines() if "downcase" in line]

    def test_verify(self):
        p = self.analyze("verify", "--man=no", *self.copies())
        self.assertEqual((p.returncode, self.ours(p.stderr)), (0, []), p.stderr)

    def test_verify_can_fail(self):
        # A unit whose program is missing, and a directive with a bad value, are both reported.
        bad = self.copies()[0]
        with open(bad, encoding="utf-8") as f:
            text = f.read()
        with open(bad, "w", encoding="utf-8") as f:
            f.write(text.replace("ProtectHome=yes", "ProtectHome=bogus"))
        p = self.analyze("verify", "--man=no", bad)
        self.assertIn("bogus", "\n".join(self.ours(p.stderr)))
        missing = os.path.join(self.tmp.name, "downcase-missing.service")
        shutil.copy(self.copies()[0], missing)
        with open(missing, encoding="utf-8") as f:
            text = f.read()
        with open(missing, "w", encoding="utf-8") as f:
            f.write(text.replace("ExecStart=" + self.binary, "ExecStart=/nonexistent/downcase"))
        p = self.analyze("verify", "--man=no", missing)
        self.assertNotEqual(p.returncode, 0)

    def test_security_exposure(self):
        for path in self.copies():
            name = os.path.basename(path)
            with self.subTest(unit=name):
                p = self.analyze("security", "--offline=yes", "--no-pager", path)
                self.assertEqual(p.returncode, 0, p.stderr)
                m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(name),
                              p.stdout)
                self.assertIsNotNone(m, p.stdout)
                score = float(m.group(1))
                print("%s: systemd-analyze security exposure %.1f" % (name, score))
                self.assertLessEqual(score, MAX_EXPOSURE, p.stdout)


if __name__ == "__main__":
    testmain.main()
