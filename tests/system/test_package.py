"""The Debian package as built by scripts/package: its name and version are meson.build's, it
holds exactly the expected files (the binary, the man page, both units, the logrotate file, the
flags files, the sysusers.d and tmpfiles.d entries, the docs) with the conffiles in /etc, its
units run as the package's static user with their flags from /etc/default, and lintian reports
no error and no warning (an override in debian/ gives the reason for each accepted tag). A copy
of the package without its copyright file shows that the same lintian call does fail.

Needs no root (dpkg-buildpackage uses fakeroot), only the packaging tools; see syslib for when it
is skipped."""

import os
import re
import shlex
import sys
import tempfile

import syslib
from syslib import check, say

EXPECTED_FILES = {
    "/etc/default/downcase-pub",
    "/etc/default/downcase-sub",
    "/etc/logrotate.d/downcase",
    "/lib/systemd/system/downcase-pub.service",
    "/lib/systemd/system/downcase-sub.service",
    "/usr/bin/downcase",
    "/usr/lib/sysusers.d/downcase.conf",
    "/usr/lib/tmpfiles.d/downcase.conf",
    "/usr/share/doc/downcase/README.md.gz",
    "/usr/share/doc/downcase/changelog.gz",
    "/usr/share/doc/downcase/copyright",
    # meson's examples for installs without the package; downcase(1) names the logrotate one.
    "/usr/share/doc/downcase/downcase-pub.service",
    "/usr/share/doc/downcase/downcase-sub.service",
    "/usr/share/doc/downcase/downcase.logrotate",
    "/usr/share/lintian/overrides/downcase",
    "/usr/share/man/man1/downcase.1.gz",
}


def meson_version():
    with open(os.path.join(syslib.SRCDIR, "meson.build")) as f:
        m = re.search(r"^  version: '([^']+)',$", f.read(), re.M)
    return m.group(1)


def lintian(deb):
    return syslib.run(["lintian", "--fail-on", "error,warning", "--tag-display-limit", "0",
                       deb], timeout=600, check_rc=False)


def unit_settings(text):
    out = {}
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def main():
    syslib.setup_package()
    deb = syslib.package()
    version = meson_version()
    arch = syslib.run(["dpkg", "--print-architecture"], quiet=True).stdout.strip()
    check(os.path.basename(deb) == "downcase_%s_%s.deb" % (version, arch) and os.path.isfile(deb),
          "scripts/package printed the path of downcase_%s_%s.deb last" % (version, arch))
    fields = {f: syslib.deb_field(deb, f) for f in ["Package", "Version", "Architecture"]}
    check(fields == {"Package": "downcase", "Version": version, "Architecture": arch},
          "the package is downcase %s for %s, meson.build's version" % (version, arch))
    depends = syslib.deb_dependencies(deb)
    check({"libzmq5", "libuv1", "libutf8proc2"} <= set(depends) and
          any(d.startswith("libnats") for d in depends),
          "it depends on the run-time libraries: " + ", ".join(depends))

    with tempfile.TemporaryDirectory(prefix="downcase-deb-") as tmp:
        root = os.path.join(tmp, "root")
        syslib.run(["dpkg-deb", "-R", deb, root], quiet=True)
        files = set()
        for dirpath, _, names in os.walk(root):
            for name in names:
                rel = "/" + os.path.relpath(os.path.join(dirpath, name), root)
                if not rel.startswith("/DEBIAN/"):
                    files.add(rel)
        check(files == EXPECTED_FILES, "the package holds exactly the expected %d files%s" % (
            len(EXPECTED_FILES), "" if files == EXPECTED_FILES else ": extra %s, missing %s" % (
                sorted(files - EXPECTED_FILES), sorted(EXPECTED_FILES - files))))
        with open(os.path.join(root, "DEBIAN", "conffiles")) as f:
            conffiles = sorted(f.read().split())
        check(conffiles == sorted(f for f in EXPECTED_FILES if f.startswith("/etc/")),
              "its conffiles are the files in /etc: " + " ".join(conffiles))

        for role in ["pub", "sub"]:
            var = "DOWNCASE_%s_OPTS" % role.upper()
            with open(os.path.join(root, "lib/systemd/system/downcase-%s.service" % role)) as f:
                unit = unit_settings(f.read())
            check(unit.get("User") == ["downcase"] and unit.get("Group") == ["downcase"] and
                  "DynamicUser" not in unit,
                  "downcase-%s.service runs as the package's user downcase" % role)
            check(unit["ExecStart"] == ["/usr/bin/downcase --role=%s $%s" % (role, var)] and
                  unit["EnvironmentFile"] == ["-/etc/default/downcase-" + role],
                  "downcase-%s.service takes its flags from /etc/default/downcase-%s" % (role,
                                                                                       role))
            default = dict(w.split("=", 1) for w in shlex.split(unit["Environment"][0]))
            with open(os.path.join(root, "etc/default/downcase-" + role)) as f:
                assigned = [shlex.split(line)[0] for line in f
                            if line.strip() and not line.startswith("#")]
            check(assigned == ["%s=%s" % (var, default[var])],
                  "/etc/default/downcase-%s sets the unit's own default: %s" % (role,
                                                                              assigned[0]))
        with open(os.path.join(root, "usr/lib/sysusers.d/downcase.conf")) as f:
            users = [line.split()[:2] for line in f if line.strip() and line[0] != "#"]
        check(users == [["u", "downcase"]], "sysusers.d makes the system user downcase")

        p = lintian(deb)
        tags = [line for line in p.stdout.splitlines() if re.match(r"^[EW]: ", line)]
        check(p.returncode == 0 and tags == [],
              "lintian: no error and no warning%s" % ("" if not p.stdout.strip() else
                                                      " (reported: %s)" % p.stdout.strip()))
        # The same call fails on a package that lacks its copyright file.
        os.remove(os.path.join(root, "usr/share/doc/downcase/copyright"))
        broken = os.path.join(tmp, os.path.basename(deb))
        syslib.run(["dpkg-deb", "--root-owner-group", "-b", root, broken], quiet=True)
        p = lintian(broken)
        check(p.returncode != 0 and "E: downcase: no-copyright-file" in p.stdout,
              "lintian fails a copy of the package without its copyright file")
    say("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
