/* cli: the command line: flags to a validated options struct, usage and errors. */
#ifndef DOWNCASE_CLI_H
#define DOWNCASE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cidr.h"
#include "http_conn.h"
#include "logline.h"
#include "natsurl.h"
#include "probe.h"
#include "wire.h"
#include "zendpoint.h"

#define CLI_MAX_ENDPOINTS ZENDPOINT_MAX
#define CLI_MAX_TOPICS 64
#define CLI_MAX_ALLOW_FROM 64

enum cli_role {
    CLI_ROLE_NONE,
    CLI_ROLE_PUB,
    CLI_ROLE_SUB,
    CLI_ROLE_RELAY,
};

/* What the sub expects to receive; it always accepts both layouts (see wire.h). */
enum cli_expect {
    CLI_EXPECT_ANY,
    CLI_EXPECT_PLAIN,
    CLI_EXPECT_FRAMED,
};

/* Every string points into argv. The parts a module takes whole are its own config types
 * (struct zendpoints, struct http_limits), filled here; defaults come from those modules. */
struct cli_options {
    enum cli_role role;
    bool help;
    bool version;
    /* --keygen=NAME: write a CURVE key pair as NAME and NAME_secret, then exit (a mode, like
     * --version: no role needed). */
    const char *keygen;
    /* --probe=URL: a mode like --version, no role needed. NULL when not given. */
    const char *probe;
    struct probe_target probe_target;

    /* pub: HTTP listen address, split from HOST:PORT or [HOST]:PORT. */
    char listen_host[256];
    int listen_port;

    /* pub and sub: ZeroMQ endpoints. When none is given the role's default applies. */
    struct zendpoints endpoints;

    /* relay: --upstream (the publishers' side, an XSUB) and --downstream (the subscribers'
     * side, an XPUB) endpoints, as given: "@ENDPOINT" binds, ">ENDPOINT" connects, a bare
     * endpoint connects upstream and binds downstream (czmq's zsock_attach convention). */
    const char *upstreams[CLI_MAX_ENDPOINTS];
    size_t nupstreams;
    const char *downstreams[CLI_MAX_ENDPOINTS];
    size_t ndownstreams;

    /* pub: the layout published; sub: the layout expected (--wire unset: any). */
    enum wire_kind wire;
    enum cli_expect expect;
    /* pub: the one topic published under; sub: subscription prefixes (none: everything). */
    const char *topics[CLI_MAX_TOPICS];
    size_t ntopics;

    /* pub and relay: --retain, bytes of recent messages kept to answer replays (0: off). */
    size_t retain_bytes;
    /* pub: --journal=DIR keeps the retention on disk; its size and sync interval. */
    const char *journal_dir;
    uint64_t journal_bytes;
    uint64_t journal_sync_ms;
    /* sub: --state; NULL: LOG.state beside a file log, none with --log=- */
    const char *state_path;

    /* sub: --forward=nats://HOST:PORT[,...]/SUBJECT (forward.h), parsed into forward_url; the
     * messages awaiting acknowledgment at most; a credentials file or a token file. */
    const char *forward;
    struct natsurl forward_url;
    size_t forward_pending;
    const char *forward_creds;
    const char *forward_token;

    /* sub: NULL when --forward is given without --log (no log kept) */
    const char *log_path;
    enum logline_format log_format;
    size_t log_backlog; /* unwritten log bytes held while writes fail */
    /* sub and relay: --http=HOST:PORT (alias --metrics) serves /healthz and /metrics, and on the
     * sub the live view (/ and /stream); metrics_port < 0 means off. */
    char metrics_host[256];
    int metrics_port;
    /* sub: the live view (stream.h, token.h): --stream-buffer, --stream-lag, --http-token. */
    size_t stream_buffer;
    size_t stream_lag;
    const char *http_token;

    /* HTTP limits, for the pub's server and the sub's or relay's metrics server. */
    struct http_limits limits;

    /* ZeroMQ, both roles: the high-water mark (pub: ZMQ_SNDHWM, sub: ZMQ_RCVHWM) and the
     * heartbeat interval (0: off) after which, three times missed, a silent peer is dropped. */
    int hwm;
    uint64_t heartbeat_ms;

    /* CurveZMQ (curve.h). Every role: this side's secret certificate. With --curve-server
     * (the server's public certificate) a side is a CURVE client (the sub, a pub connecting
     * into a binding sub, the relay's upstream), without it a CURVE server (the pub, a sub
     * that binds, the relay's downstream), which --curve-allow restricts to the clients whose
     * public certificates are in a directory. The relay's upstream may instead be a CURVE
     * server for publishers that connect in, admitting those in --curve-allow-upstream. */
    const char *curve_secret;
    const char *curve_server;
    const char *curve_allow;
    const char *curve_allow_upstream;

    /* --allow-from, every role: the address ranges whose peers the ZAP handler admits on every
     * socket (zap.h); none: every address. */
    struct cidr allow_from[CLI_MAX_ALLOW_FROM];
    size_t nallow_from;
};

/* Parses argv (argv[0] is the program). Both --flag=value and --flag value are accepted.
 * Returns 0, or -EINVAL with one line of explanation (no newline) in err. Fills the defaults
 * of the chosen role (pub: listen 0.0.0.0:5000, bind port 4444 on every interface, topic
 * downcase; sub: connect tcp://127.0.0.1:4444, log "-", format text). */
int cli_parse(int argc, char **argv, struct cli_options *o, struct buf *err);

/* Splits HOST:PORT or [IPV6]:PORT (hostport.h) into a NUL-terminated host and a port from 0 to
 * 65535. 0 or -EINVAL; on failure host and port are left alone. */
int cli_split_hostport(const char *s, char *host, size_t hostsz, int *port);

/* "8192", "8k", "1m", "1g" (KiB, MiB, GiB) to bytes. 0 or -EINVAL (also past max). */
int cli_parse_size(const char *s, uint64_t max, uint64_t *out);
/* "10" or "10s", "500ms", "2m" to milliseconds. 0 or -EINVAL (also past max_ms). */
int cli_parse_duration(const char *s, uint64_t max_ms, uint64_t *out);

/* The --help text. */
extern const char *const cli_usage[]; /* sections to print in order; NULL-terminated */

#endif
