/* main: reads the flags and runs the chosen role. */
#include <llhttp.h>
#include <signal.h>
#include <stdio.h>
#include <utf8proc.h>
#include <uv.h>
#include <zmq.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "curve.h"
#include "diag.h"
#include "probe.h"
#include "pub.h"
#include "relay.h"
#include "sub.h"

static void print_version(void)
{
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    printf("downcase %s\n", DOWNCASE_VERSION);
    printf("libzmq %d.%d.%d, libuv %s, llhttp %d.%d.%d, utf8proc %s\n", major, minor, patch,
           uv_version_string(), LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH,
           utf8proc_version());
#ifdef DOWNCASE_NATS_VERSION
    printf("libnats %s (--forward)\n", DOWNCASE_NATS_VERSION);
#else
    printf("built without libnats: no --forward\n");
#endif
}

int main(int argc, char **argv)
{
    struct cli_options o;
    struct buf err = {0};
    if (cli_parse(argc, argv, &o, &err) < 0) {
        diag(NULL, "%.*s", (int)err.len, err.data);
        diag(NULL, "try 'downcase --help'");
        buf_finish(&err);
        return 2;
    }
    buf_finish(&err);
    if (o.help) {
        for (const char *const *part = cli_usage; *part; part++) {
            fputs(*part, stdout);
        }
        return 0;
    }
    if (o.version) {
        print_version();
        return 0;
    }
    if (o.keygen) {
        return curve_keygen(o.keygen);
    }
    if (o.probe) {
        /* A health check's verdict: 0 healthy, 1 not (2 stays for bad flags, as above). */
        int status = probe_get_status(&o.probe_target, PROBE_TIMEOUT_MS);
        if (status > 0 && status != 200) {
            diag("probe", "%s answered %d, want 200", o.probe, status);
        }
        return status == 200 ? 0 : 1;
    }
    /* Key files are checked before a role starts, so a broken one stops it before anything is
     * bound, served or created. */
    static const char *const who[] = {
        [CLI_ROLE_PUB] = "pub", [CLI_ROLE_SUB] = "sub", [CLI_ROLE_RELAY] = "relay"};
    if (curve_check(who[o.role], o.curve_secret, o.curve_server) < 0) {
        return 1;
    }
    /* A peer that goes away mid-write must be an error code, not a fatal signal. */
    signal(SIGPIPE, SIG_IGN);
    if (o.role == CLI_ROLE_RELAY) {
        return relay_run(&o);
    }
    return o.role == CLI_ROLE_PUB ? pub_run(&o) : sub_run(&o);
}
