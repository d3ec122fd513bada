"""compose.yaml with podman-compose (Debian's, 1.0.3): `up` builds and starts the pub and the
sub, a request to the published HTTP port (moved to a 127.0.0.1 port podman picks, through the
file's DOWNCASE_* variables) ends up in subscriber.log on the named volume, and `down` stops both
promptly. Shares the podman store and base images of test_container.py."""

import os
import secrets
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

PROJECT = "downcase-test-compose"
VOLUME = PROJECT + "_logs"


def compose(*args, timeout=120, check_rc=True):
    return lib.run(["podman-compose", "-p", PROJECT, "-f",
                    os.path.join(lib.SRCDIR, "compose.yaml")] + list(args),
                   timeout=timeout, check_rc=check_rc)


def cleanup():
    compose("down", "-v", "-t", "0", check_rc=False, timeout=120)
    # podman-compose 1.0.3's down leaves the project's network behind.
    lib.podman("network", "rm", "-f", PROJECT + "_default", check_rc=False, quiet=True)
    lib.podman("volume", "rm", "-f", VOLUME, check_rc=False, quiet=True)


def log_text():
    mount = lib.podman("volume", "inspect", "--format", "{{.Mountpoint}}", VOLUME,
                       quiet=True).stdout.strip()
    try:
        with open(os.path.join(mount, "subscriber.log")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def main():
    lib.setup_podman()
    if shutil.which("podman-compose") is None:
        lib.skip("podman-compose is not installed (scripts/test installs it when run as root)")
    os.chdir(lib.SRCDIR)
    os.environ["DOWNCASE_HOST"] = "127.0.0.1"
    # Empty host ports: podman has the kernel pick free ones, read back once the pub runs
    # (podman 4.3 refuses host port 0; podman-compose 1.0.3 substitutes a set but empty
    # variable as empty, default or not, so "127.0.0.1::5000" reaches podman).
    os.environ["DOWNCASE_HTTP_PORT"] = ""
    os.environ["DOWNCASE_ZMQ_PORT"] = ""
    cleanup()
    try:
        lib.base_images()
        # podman-compose builds through `podman build` with its defaults (OCI format, no
        # HEALTHCHECK); compose.yaml states the health check itself for that reason.
        compose("build", timeout=1500)
        compose("up", "-d", timeout=300)
        # podman-compose 1.0.3 names containers PROJECT_SERVICE_1.
        base = "http://127.0.0.1:%d" % lib.published_port(PROJECT + "_pub_1", 5000)
        lib.wait_for(lambda: lib.http_get(base + "/downcase/?param=up")[0] == 200, 30,
                     "the pub to answer on " + base)

        def probe_logged():
            lib.http_get(base + "/downcase/?param=warm-up")
            return "lower case of warm-up is warm-up" in log_text()
        lib.wait_for(probe_logged, 30, "the sub to log a warm-up message in the volume")
        word = "HeLLo-Compose-" + secrets.token_hex(4).upper()
        status, body = lib.http_get(base + "/downcase/?param=" + urllib.parse.quote(word))
        want = "lower case of %s is %s" % (word, word.lower())
        lib.check((status, body) == (200, want), "curl answer: %s %r" % (status, body))
        lib.wait_for(lambda: want in log_text(), 15, "the line in subscriber.log")
        lib.say("ok: subscriber.log on volume %s has the line" % VOLUME)

        t = time.monotonic()
        compose("down", "-t", "10", timeout=120)
        took = time.monotonic() - t
        # Two containers, stopped one after the other, plus podman-compose's own work.
        lib.check(took < 6.0, "podman-compose down took %.2f s (no 10 s SIGKILL wait)" % took)
        lib.check(want in log_text(), "the log survives down on the named volume")
    finally:
        cleanup()
    lib.say("compose test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
