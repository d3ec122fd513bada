"""The image, built and run as the README says: the Containerfile builds (its builder stage runs
the unit tests), the runtime image is small and configured as promised, a pub and a sub in two
containers carry a request from a published 127.0.0.1 port into the sub's `podman logs`, both run
as a non-root user with downcase itself as PID 1, the health check reports, and `podman stop`
ends each one at once through its own SIGTERM handling (exit 0, not a SIGKILL after 10 s)."""

import json
import os
import re
import secrets
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

PUB, SUB, HEALTH = "downcase-test-pub", "downcase-test-sub", "downcase-test-health"
NET = "downcase-test-net"
SIZE_LIMIT = 100 * 1000 * 1000
UID = "10001"


def cleanup():
    # -i: one missing name must not make podman skip the others.
    lib.podman("rm", "-f", "-i", "-t", "0", PUB, SUB, HEALTH, check_rc=False, quiet=True)
    lib.podman("network", "rm", "-f", NET, check_rc=False, quiet=True)


def check_image_config():
    size = int(lib.podman("image", "inspect", "--format", "{{.Size}}", lib.IMAGE).stdout)
    lib.say("runtime image size: %d bytes (%.1f MB)" % (size, size / 1e6))
    lib.check(size < SIZE_LIMIT, "image is under 100 MB (%.1f MB)" % (size / 1e6))
    image = json.loads(lib.podman("image", "inspect", lib.IMAGE, quiet=True).stdout)[0]
    cfg = image["Config"]
    lib.check(cfg.get("User") == "downcase", "image runs as user downcase")
    lib.check(set(cfg.get("ExposedPorts") or {}) == {"5000/tcp", "4444/tcp"},
              "image exposes 5000 and 4444")
    lib.check(cfg.get("StopSignal") == "SIGTERM", "stop signal is SIGTERM")
    lib.check(cfg.get("Entrypoint") == ["downcase"] and cfg.get("Cmd") == ["--role=pub"],
              "entrypoint downcase, default command --role=pub")
    # podman shows a docker-format image's health check beside .Config, not in it.
    hc = (image.get("Healthcheck") or {}).get("Test") or []
    lib.check(hc == ["CMD", "downcase", "--probe=http://127.0.0.1:5000/healthz"],
              "health check probes /healthz without curl: %s" % hc)
    p = lib.podman("run", "--rm", "--network=none", "--no-healthcheck", lib.IMAGE, "--version")
    lib.check(p.stdout.startswith("downcase "), "the binary finds its libraries in the image")
    p = lib.podman("run", "--rm", "--network=none", "--no-healthcheck", "--entrypoint", "sh",
                   lib.IMAGE, "-c", "command -v curl wget gcc || true")
    lib.check(p.stdout.strip() == "", "no curl, wget or compiler in the runtime image")


def process_status(name):
    """The host's view of the container's main process: (uid, comm)."""
    pid = lib.inspect(name, "{{.State.Pid}}")
    with open("/proc/%s/status" % pid) as f:
        status = f.read()
    uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
    comm = re.search(r"^Name:\s+(\S+)", status, re.M).group(1)
    return uid, comm


def check_not_root(name):
    uid, comm = process_status(name)
    lib.check(uid == UID and comm == "downcase",
              "%s: main process is downcase running as uid %s (got %s, uid %s)"
              % (name, UID, comm, uid))
    top = lib.podman("top", name, "pid", "user", "comm").stdout
    lib.check(re.search(r"^\s*1\s+downcase\s+downcase\s*$", top, re.M) is not None,
              "%s: PID 1 in the container is downcase, user downcase:\n%s" % (name, top))


def logs(name):
    p = lib.podman("logs", name, quiet=True)
    return p.stdout + p.stderr


def stop_quickly(name):
    t = time.monotonic()
    lib.podman("stop", "-t", "10", name, timeout=60)
    took = time.monotonic() - t
    code = lib.inspect(name, "{{.State.ExitCode}}")
    lib.check(took < 3.0, "podman stop %s returned in %.2f s (< 3 s: SIGTERM was handled, "
              "no SIGKILL after 10 s)" % (name, took))
    lib.check(code == "0", "%s exited 0 after SIGTERM (got %s)" % (name, code))


def health(name):
    """Runs the container's health check once: (exit status, the state podman records).
    podman 4.3 prints "unhealthy" on failure and nothing on success."""
    p = lib.podman("healthcheck", "run", name, check_rc=False, timeout=60)
    lib.say("healthcheck run: exit %d %r" % (p.returncode, (p.stdout + p.stderr).strip()))
    return p.returncode, lib.inspect(name, "{{.State.Health.Status}}")


def main():
    lib.setup_podman()
    cleanup()
    try:
        lib.base_images()
        lib.build_image()
        check_image_config()

        lib.podman("network", "create", NET)
        # --health-interval=disable: no timer (they need systemd); checks are run by hand below.
        lib.podman("run", "-d", "--name", PUB, "--network", NET, "--health-interval=disable",
                   "-p", "127.0.0.1::5000", lib.IMAGE)
        http_port = lib.published_port(PUB, 5000)
        lib.podman("run", "-d", "--name", SUB, "--network", NET, "--no-healthcheck", lib.IMAGE,
                   "--role=sub", "--connect=tcp://%s:4444" % PUB)
        base = "http://127.0.0.1:%d" % http_port
        lib.wait_for(lambda: lib.http_get(base + "/downcase/?param=up")[0] == 200, 30,
                     "the pub to answer on " + base)
        lib.wait_for(lambda: "logging to standard output" in logs(SUB), 30,
                     "the sub to start logging to standard output")

        # PUB/SUB has no beginning (a subscriber misses what is published before its
        # subscription arrives): publish probes until one shows up, then the real marker.
        def probe_logged():
            lib.http_get(base + "/downcase/?param=warm-up")
            return "lower case of warm-up is warm-up" in logs(SUB)
        lib.wait_for(probe_logged, 30, "the sub to log a warm-up message")
        word = "HeLLo-Container-" + secrets.token_hex(4).upper()
        status, body = lib.http_get(base + "/downcase/?param=" + urllib.parse.quote(word))
        want = "lower case of %s is %s" % (word, word.lower())
        lib.check((status, body) == (200, want), "curl answer: %s %r" % (status, body))
        lib.wait_for(lambda: want in logs(SUB), 15, "the message in the sub's podman logs")
        line = next(ln for ln in logs(SUB).splitlines() if want in ln)
        lib.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z " + re.escape(want),
                               line) is not None, "sub logged the line to stdout: " + line)

        check_not_root(PUB)
        check_not_root(SUB)

        # The image's own check: /healthz through --probe, no curl in the image.
        healthz = lib.http_get(base + "/healthz")[0]
        lib.check(healthz == 200, "/healthz answers %s" % healthz)
        rc, out = health(PUB)
        lib.check(rc == 0 and out == "healthy", "image health check: %s" % out)
        # And the probe can fail: a path that answers 404 is not healthy.
        p = lib.podman("exec", PUB, "downcase", "--probe=http://127.0.0.1:5000/nope",
                       check_rc=False)
        lib.check(p.returncode == 1, "probe of a 404 path exits 1 (got %s)" % p.returncode)

        # The pub first, then the sub: the sub keeps reconnecting to "pub" by name, and a stop
        # must not wait for a DNS lookup that nobody answers (src/zcontext.h).
        stop_quickly(PUB)
        stop_quickly(SUB)
        lib.check("Terminated: stopping" in logs(PUB), "pub logged its graceful stop")
        lib.check(want in logs(SUB), "nothing lost: the line is still in the sub's log")
    finally:
        cleanup()
    lib.say("container test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
