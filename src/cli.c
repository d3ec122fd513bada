/* cli: command-line parsing. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In sections: ISO C only promises string literals of 4095 bytes. */
const char *const cli_usage[] = {
    "Usage: downcase --role=pub [--listen=HOST:PORT] [ENDPOINTS] [--wire=plain|framed]\n"
    "                [--topic=NAME] [--curve-secret=FILE [--curve-allow=DIR]]\n"
    "       downcase --role=sub [--log=PATH] [--log-format=text|json|python] [ENDPOINTS]\n"
    "                [--wire=plain|framed] [--topic=PREFIX]...\n"
    "                [--curve-secret=FILE --curve-server=FILE]\n"
    "       downcase --role=relay --upstream=ENDPOINT... --downstream=ENDPOINT...\n"
    "                [--metrics=HOST:PORT]\n"
    "       downcase --keygen=NAME\n"
    "       downcase --probe=URL\n"
    "       downcase --help | --version\n"
    "\n"
    "pub serves GET /downcase/?param=TEXT over HTTP and publishes each answer on ZeroMQ;\n"
    "sub receives those messages and appends each, timestamped, to a log.\n"
    "relay forwards publishers' messages, frames intact, to subscribers (a ZeroMQ\n"
    "XSUB/XPUB proxy: one level of an aggregation tree).\n"
    "\n",

    "  --role=pub|sub|relay     which side to run (required)\n"
    "  --listen=HOST:PORT       pub: HTTP address (default 0.0.0.0:5000; IPv6: [::]:5000)\n"
    "  --bind=ENDPOINT          ZeroMQ endpoint to bind, repeatable\n"
    "                           (pub default tcp://*:4444)\n"
    "  --connect=ENDPOINT       ZeroMQ endpoint to connect to, repeatable\n"
    "                           (sub default tcp://127.0.0.1:4444)\n"
    "  --wire=plain|framed      pub: message layout (default plain: one frame, the text;\n"
    "                           framed: topic, publisher id + sequence, text)\n"
    "                           sub: layout expected; both are always accepted\n"
    "  --topic=NAME             pub, framed only: topic to publish under (default downcase)\n"
    "                           sub: subscribe to this prefix only, repeatable\n"
    "  --log=PATH               sub: file to append to, '-' for standard output (default)\n"
    "  --log-format=FORMAT      sub: text (default), json or python (the tutorial's format)\n"
    "  --log-backlog=SIZE       sub: log bytes held while the log cannot be written\n"
    "                           (default 64m); past it the oldest lines are dropped, counted\n"
    "  --metrics=HOST:PORT      sub, relay: serve /healthz and /metrics over HTTP here\n"
    "  --upstream=ENDPOINT      relay: publishers' side, repeatable; connects, or binds\n"
    "                           when written @ENDPOINT\n"
    "  --downstream=ENDPOINT    relay: subscribers' side, repeatable; binds, or connects\n"
    "                           when written >ENDPOINT\n"
    "\n",

    "HTTP limits (the pub's server and the sub's or relay's --metrics server):\n"
    "  --max-header-bytes=SIZE  request line + headers (default 8k); past it 431 (414 for\n"
    "                           a long target)\n"
    "  --max-body-bytes=SIZE    request body, read and discarded (default 64k); past it 413\n"
    "  --header-timeout=TIME    to receive a request's headers (default 10s); then 408\n"
    "  --idle-timeout=TIME      an idle keep-alive connection is closed (default 60s)\n"
    "  --max-connections=N      open connections (default 10000); past it new ones are\n"
    "                           closed at once\n"
    "ZeroMQ (every role):\n"
    "  --hwm=N                  messages queued per peer (pub: send, sub: receive,\n"
    "                           relay: both; default 10000); pub and relay count what\n"
    "                           does not fit\n"
    "  --heartbeat=TIME         ZeroMQ heartbeat interval (default 2s, 0 = off); a peer\n"
    "                           silent for three intervals is dropped and reconnected\n"
    "SIZE is bytes or with k/m (KiB/MiB); TIME is seconds or with ms/s/m.\n"
    "\n",

    "CurveZMQ (pub and sub):\n"
    "  --keygen=NAME            write a CurveZMQ key pair: NAME (public certificate) and\n"
    "                           NAME_secret (mode 0600), czmq's format; never overwrites\n"
    "  --curve-secret=FILE      encrypt with CurveZMQ using this side's NAME_secret file\n"
    "                           (pub: every endpoint becomes a CURVE server)\n"
    "  --curve-allow=DIR        pub: admit only clients whose public certificate is in DIR\n"
    "                           (re-read at each handshake; default: any CURVE client)\n"
    "  --curve-server=FILE      sub: the publisher's public certificate (with --curve-secret)\n"
    "Other:\n"
    "  --probe=URL              GET http://HOST[:PORT]/PATH and exit 0 on a 200 answer,\n"
    "                           1 otherwise (a health check; 3 s at most)\n"
    "  -h, --help               show this help\n"
    "  -V, --version            show the version and the library versions\n"
    "\n"
    "Signals: SIGINT/SIGTERM stop gracefully; SIGHUP makes the sub reopen its log.\n",
    NULL,
};

enum flag_id {
    F_ROLE,
    F_HELP,
    F_VERSION,
    F_LISTEN,
    F_BIND,
    F_CONNECT,
    F_WIRE,
    F_TOPIC,
    F_LOG,
    F_LOG_FORMAT,
    F_METRICS,
    F_LOG_BACKLOG,
    F_MAX_HEADER_BYTES,
    F_MAX_BODY_BYTES,
    F_HEADER_TIMEOUT,
    F_IDLE_TIMEOUT,
    F_MAX_CONNECTIONS,
    F_HWM,
    F_HEARTBEAT,
    F_KEYGEN,
    F_CURVE_SECRET,
    F_CURVE_SERVER,
    F_CURVE_ALLOW,
    F_PROBE,
    F_UPSTREAM,
    F_DOWNSTREAM,
};

#define ROLE_PUB (1u << CLI_ROLE_PUB)
#define ROLE_SUB (1u << CLI_ROLE_SUB)
#define ROLE_RELAY (1u << CLI_ROLE_RELAY)
#define ROLE_ANY (ROLE_PUB | ROLE_SUB | ROLE_RELAY)
#define ROLE_NET (ROLE_PUB | ROLE_SUB) /* --bind, --connect, --wire, --topic, --curve-secret */

static const struct flag {
    const char *name;
    char short_name;
    enum flag_id id;
    bool takes_value;
    unsigned roles; /* the roles the flag means something for */
} flags[] = {
    {"role", 0, F_ROLE, true, ROLE_ANY},
    {"help", 'h', F_HELP, false, ROLE_ANY},
    {"version", 'V', F_VERSION, false, ROLE_ANY},
    {"listen", 0, F_LISTEN, true, ROLE_PUB},
    {"bind", 0, F_BIND, true, ROLE_NET},
    {"connect", 0, F_CONNECT, true, ROLE_NET},
    {"wire", 0, F_WIRE, true, ROLE_NET},
    {"topic", 0, F_TOPIC, true, ROLE_NET},
    {"log", 0, F_LOG, true, ROLE_SUB},
    {"log-format", 0, F_LOG_FORMAT, true, ROLE_SUB},
    {"metrics", 0, F_METRICS, true, ROLE_SUB | ROLE_RELAY},
    {"log-backlog", 0, F_LOG_BACKLOG, true, ROLE_SUB},
    {"max-header-bytes", 0, F_MAX_HEADER_BYTES, true, ROLE_ANY},
    {"max-body-bytes", 0, F_MAX_BODY_BYTES, true, ROLE_ANY},
    {"header-timeout", 0, F_HEADER_TIMEOUT, true, ROLE_ANY},
    {"idle-timeout", 0, F_IDLE_TIMEOUT, true, ROLE_ANY},
    {"max-connections", 0, F_MAX_CONNECTIONS, true, ROLE_ANY},
    {"hwm", 0, F_HWM, true, ROLE_ANY},
    {"heartbeat", 0, F_HEARTBEAT, true, ROLE_ANY},
    {"keygen", 0, F_KEYGEN, true, ROLE_ANY},
    {"curve-secret", 0, F_CURVE_SECRET, true, ROLE_NET},
    {"curve-server", 0, F_CURVE_SERVER, true, ROLE_SUB},
    {"curve-allow", 0, F_CURVE_ALLOW, true, ROLE_PUB},
    {"probe", 0, F_PROBE, true, ROLE_ANY},
    {"upstream", 0, F_UPSTREAM, true, ROLE_RELAY},
    {"downstream", 0, F_DOWNSTREAM, true, ROLE_RELAY},
};
#define NFLAGS (sizeof flags / sizeof flags[0])
/* Which flags were seen is a bit mask in an unsigned, one bit per flag id. */
_Static_assert(NFLAGS <= 32, "too many flags for the 'seen' mask");

static int fail(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Puts one line of explanation in err and returns -EINVAL. */
static int fail(struct buf *err, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : ((size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    /* Values are quoted as given; a control character in one must not break the line. */
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F) {
            line[i] = '?';
        }
    }
    err->len = 0;
    buf_append(err, line, len);
    return -EINVAL;
}

int cli_split_hostport(const char *s, char *host, size_t hostsz, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            return -EINVAL;
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL) {
            /* No port, or a bare IPv6 address that needs brackets. */
            return -EINVAL;
        }
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostsz) {
        return -EINVAL;
    }
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p)) {
        return -EINVAL;
    }
    long v = strtol(p, NULL, 10);
    if (v > 65535) {
        return -EINVAL;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return 0;
}

/* The digits a size or a duration starts with; *end is what follows them. strtoull alone
 * would also take a sign or leading blanks. 0 or -EINVAL. */
static int leading_number(const char *s, unsigned long long *v, char **end)
{
    if (*s < '0' || *s > '9') {
        return -EINVAL;
    }
    errno = 0;
    *v = strtoull(s, end, 10);
    return errno != 0 ? -EINVAL : 0;
}

int cli_parse_size(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (leading_number(s, &v, &end) < 0) {
        return -EINVAL;
    }
    uint64_t unit = 1;
    if ((*end == 'k' || *end == 'K') && end[1] == '\0') {
        unit = 1024;
    } else if ((*end == 'm' || *end == 'M') && end[1] == '\0') {
        unit = 1024 * 1024;
    } else if (*end != '\0') {
        return -EINVAL;
    }
    if (v > max / unit) {
        return -EINVAL;
    }
    *out = v * unit;
    return 0;
}

int cli_parse_duration(const char *s, uint64_t max_ms, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (leading_number(s, &v, &end) < 0) {
        return -EINVAL;
    }
    uint64_t unit;
    if (strcmp(end, "ms") == 0) {
        unit = 1;
    } else if (strcmp(end, "s") == 0 || *end == '\0') {
        unit = 1000;
    } else if (strcmp(end, "m") == 0) {
        unit = 60 * 1000;
    } else {
        return -EINVAL;
    }
    if (v > max_ms / unit) {
        return -EINVAL;
    }
    *out = v * unit;
    return 0;
}

/* Limits past which a setting is surely a typo; they also keep every value in range of the
 * types the libraries take (int for ZeroMQ options, size_t for buffers). */
#define MAX_HEADER_LIMIT (1024u * 1024)
#define MAX_BODY_LIMIT (1ull << 40)
#define MAX_TIMEOUT_MS (24ull * 3600 * 1000)
#define MAX_CONNECTIONS_LIMIT 1000000u
#define MAX_HWM 10000000u
#define MAX_BACKLOG (16ull << 30)

static const struct flag *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        if (strlen(flags[i].name) == len && memcmp(flags[i].name, name, len) == 0) {
            return &flags[i];
        }
    }
    return NULL;
}

static const struct flag *find_short(char c)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        if (flags[i].short_name == c) {
            return &flags[i];
        }
    }
    return NULL;
}

/* Records a flag's value. `shown` is the flag as the user wrote it, for messages. */
static int apply(struct cli_options *o, const struct flag *f, const char *v, const char *shown,
                 unsigned *seen, struct buf *err)
{
    bool once = f->id != F_BIND && f->id != F_CONNECT && f->id != F_TOPIC && f->id != F_HELP &&
                f->id != F_VERSION && f->id != F_UPSTREAM && f->id != F_DOWNSTREAM;
    if (once && (*seen & (1u << f->id))) {
        return fail(err, "%s given more than once", shown);
    }
    *seen |= 1u << f->id;
    switch (f->id) {
    case F_ROLE:
        if (strcmp(v, "pub") == 0) {
            o->role = CLI_ROLE_PUB;
        } else if (strcmp(v, "sub") == 0) {
            o->role = CLI_ROLE_SUB;
        } else if (strcmp(v, "relay") == 0) {
            o->role = CLI_ROLE_RELAY;
        } else {
            return fail(err, "invalid value '%s' for --role (expected pub, sub or relay)", v);
        }
        break;
    case F_HELP:
        o->help = true;
        break;
    case F_VERSION:
        o->version = true;
        break;
    case F_LISTEN:
        if (cli_split_hostport(v, o->listen_host, sizeof o->listen_host, &o->listen_port) < 0) {
            return fail(err, "invalid value '%s' for --listen (expected HOST:PORT or [IPV6]:PORT)",
                        v);
        }
        break;
    case F_BIND:
    case F_CONNECT:
    case F_UPSTREAM:
    case F_DOWNSTREAM: {
        const char **list = f->id == F_BIND       ? o->binds
                            : f->id == F_CONNECT  ? o->connects
                            : f->id == F_UPSTREAM ? o->upstreams
                                                  : o->downstreams;
        size_t *n = f->id == F_BIND       ? &o->nbinds
                    : f->id == F_CONNECT  ? &o->nconnects
                    : f->id == F_UPSTREAM ? &o->nupstreams
                                          : &o->ndownstreams;
        /* The relay's endpoints may say how to attach: '@' binds, '>' connects. */
        const char *e = v;
        if ((f->id == F_UPSTREAM || f->id == F_DOWNSTREAM) && (*e == '@' || *e == '>')) {
            e++;
        }
        if (strstr(e, "://") == NULL || strstr(e, "://")[3] == '\0') {
            return fail(err,
                        "invalid endpoint '%s' for %s (expected TRANSPORT://ADDRESS, "
                        "e.g. tcp://127.0.0.1:4444)",
                        v, shown);
        }
        if (*n == CLI_MAX_ENDPOINTS) {
            return fail(err, "too many %s endpoints (at most %d)", shown, CLI_MAX_ENDPOINTS);
        }
        list[(*n)++] = v;
        break;
    }
    case F_WIRE:
        if (strcmp(v, "plain") == 0) {
            o->wire = WIRE_PLAIN;
            o->expect = CLI_EXPECT_PLAIN;
        } else if (strcmp(v, "framed") == 0) {
            o->wire = WIRE_FRAMED;
            o->expect = CLI_EXPECT_FRAMED;
        } else {
            return fail(err, "invalid value '%s' for --wire (expected plain or framed)", v);
        }
        break;
    case F_TOPIC:
        if (o->ntopics == CLI_MAX_TOPICS) {
            return fail(err, "too many --topic flags (at most %d)", CLI_MAX_TOPICS);
        }
        o->topics[o->ntopics++] = v;
        break;
    case F_LOG:
        if (*v == '\0') {
            return fail(err, "empty path for --log (use - for standard output)");
        }
        o->log_path = v;
        break;
    case F_METRICS:
        if (cli_split_hostport(v, o->metrics_host, sizeof o->metrics_host, &o->metrics_port) < 0) {
            return fail(err, "invalid value '%s' for --metrics (expected HOST:PORT or [IPV6]:PORT)",
                        v);
        }
        break;
    case F_MAX_HEADER_BYTES:
    case F_MAX_BODY_BYTES:
    case F_LOG_BACKLOG: {
        uint64_t n;
        uint64_t max = f->id == F_MAX_HEADER_BYTES ? MAX_HEADER_LIMIT
                       : f->id == F_MAX_BODY_BYTES ? MAX_BODY_LIMIT
                                                   : MAX_BACKLOG;
        uint64_t min = f->id == F_MAX_HEADER_BYTES ? 256 : f->id == F_LOG_BACKLOG ? 1024 : 0;
        if (cli_parse_size(v, max, &n) < 0 || n < min) {
            return fail(err,
                        "invalid value '%s' for %s (expected a size from %llu to %llu bytes, "
                        "e.g. 8k)",
                        v, shown, (unsigned long long)min, (unsigned long long)max);
        }
        *(f->id == F_MAX_HEADER_BYTES ? &o->max_header_bytes
          : f->id == F_MAX_BODY_BYTES ? &o->max_body_bytes
                                      : &o->log_backlog) = (size_t)n;
        break;
    }
    case F_HEADER_TIMEOUT:
    case F_IDLE_TIMEOUT:
    case F_HEARTBEAT: {
        uint64_t ms;
        /* Heartbeats may be off (0); a zero HTTP timeout would close every connection. */
        uint64_t min = f->id == F_HEARTBEAT ? 0 : 1;
        if (cli_parse_duration(v, MAX_TIMEOUT_MS, &ms) < 0 || ms < min ||
            (f->id == F_HEARTBEAT && ms > 0 && ms < 100)) {
            return fail(err,
                        "invalid value '%s' for %s (expected a duration up to 24 hours, "
                        "e.g. 10s or 500ms%s)",
                        v, shown, f->id == F_HEARTBEAT ? "; at least 100ms, or 0 for off" : "");
        }
        *(f->id == F_HEADER_TIMEOUT ? &o->header_timeout_ms
          : f->id == F_IDLE_TIMEOUT ? &o->idle_timeout_ms
                                    : &o->heartbeat_ms) = ms;
        break;
    }
    case F_MAX_CONNECTIONS:
    case F_HWM: {
        uint64_t n;
        uint64_t max = f->id == F_HWM ? MAX_HWM : MAX_CONNECTIONS_LIMIT;
        if (cli_parse_size(v, max, &n) < 0 || n < 1 || strpbrk(v, "kKmM") != NULL) {
            return fail(err, "invalid value '%s' for %s (expected a number from 1 to %llu)", v,
                        shown, (unsigned long long)max);
        }
        if (f->id == F_HWM) {
            o->hwm = (int)n;
        } else {
            o->max_connections = (size_t)n;
        }
        break;
    }
    case F_LOG_FORMAT:
        if (strcmp(v, "text") == 0) {
            o->log_format = LOGLINE_TEXT;
        } else if (strcmp(v, "json") == 0) {
            o->log_format = LOGLINE_JSON;
        } else if (strcmp(v, "python") == 0) {
            o->log_format = LOGLINE_PYTHON;
        } else {
            return fail(err, "invalid value '%s' for --log-format (expected text, json or python)",
                        v);
        }
        break;
    case F_KEYGEN:
    case F_CURVE_SECRET:
    case F_CURVE_SERVER:
    case F_CURVE_ALLOW:
        if (*v == '\0') {
            return fail(err, "empty value for %s", shown);
        }
        *(f->id == F_KEYGEN         ? &o->keygen
          : f->id == F_CURVE_SECRET ? &o->curve_secret
          : f->id == F_CURVE_SERVER ? &o->curve_server
                                    : &o->curve_allow) = v;
        break;
    case F_PROBE:
        if (probe_parse_url(v, &o->probe_target) < 0) {
            return fail(err, "invalid value '%s' for --probe (expected http://HOST[:PORT]/PATH)",
                        v);
        }
        o->probe = v;
        break;
    }
    return 0;
}

/* Checks what only makes sense once the role is known, and fills the role's defaults. */
static int finish(struct cli_options *o, unsigned seen, struct buf *err)
{
    if (o->role == CLI_ROLE_NONE) {
        return fail(err, "--role=pub, --role=sub or --role=relay is required");
    }
    unsigned role = 1u << o->role;
    for (size_t i = 0; i < NFLAGS; i++) {
        if ((seen & (1u << flags[i].id)) && !(flags[i].roles & role)) {
            return fail(err, "--%s does not apply to --role=%s", flags[i].name,
                        o->role == CLI_ROLE_PUB   ? "pub"
                        : o->role == CLI_ROLE_SUB ? "sub"
                                                  : "relay");
        }
    }
    if (o->role == CLI_ROLE_PUB) {
        if (o->ntopics > 1) {
            return fail(err, "the publisher takes one --topic");
        }
        if (o->ntopics == 1 && o->wire != WIRE_FRAMED) {
            return fail(err, "--topic needs --wire=framed on the publisher "
                             "(plain messages carry no topic)");
        }
        if (o->ntopics == 0) {
            o->topics[o->ntopics++] = "downcase";
        }
        if (!(seen & (1u << F_LISTEN))) {
            strcpy(o->listen_host, "0.0.0.0");
            o->listen_port = 5000;
        }
        if (o->nbinds == 0 && o->nconnects == 0) {
            o->binds[o->nbinds++] = "tcp://*:4444";
        }
        if (o->curve_allow && !o->curve_secret) {
            return fail(err, "--curve-allow needs --curve-secret (the publisher's own key pair)");
        }
    } else if (o->role == CLI_ROLE_RELAY) {
        /* No default: a relay sits between two tiers the operator names. */
        if (o->nupstreams == 0 || o->ndownstreams == 0) {
            return fail(err, "--role=relay needs at least one --upstream and one --downstream");
        }
    } else {
        if ((o->curve_secret == NULL) != (o->curve_server == NULL)) {
            return fail(err, "the subscriber needs both --curve-secret and --curve-server "
                             "(its own key pair and the publisher's public key), or neither");
        }
        if (!(seen & (1u << F_WIRE))) {
            o->expect = CLI_EXPECT_ANY;
        }
        if (o->nbinds == 0 && o->nconnects == 0) {
            o->connects[o->nconnects++] = "tcp://127.0.0.1:4444";
        }
        if (o->log_path == NULL) {
            o->log_path = "-";
        }
    }
    return 0;
}

int cli_parse(int argc, char **argv, struct cli_options *o, struct buf *err)
{
    memset(o, 0, sizeof *o);
    o->wire = WIRE_PLAIN;
    o->log_format = LOGLINE_TEXT;
    o->metrics_port = -1;
    o->max_header_bytes = CLI_DEFAULT_MAX_HEADER_BYTES;
    o->max_body_bytes = CLI_DEFAULT_MAX_BODY_BYTES;
    o->header_timeout_ms = CLI_DEFAULT_HEADER_TIMEOUT_MS;
    o->idle_timeout_ms = CLI_DEFAULT_IDLE_TIMEOUT_MS;
    o->max_connections = CLI_DEFAULT_MAX_CONNECTIONS;
    o->hwm = CLI_DEFAULT_HWM;
    o->heartbeat_ms = CLI_DEFAULT_HEARTBEAT_MS;
    o->log_backlog = CLI_DEFAULT_LOG_BACKLOG;
    unsigned seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const struct flag *f = NULL;
        const char *value = NULL;
        if (arg[0] == '-' && arg[1] == '-' && arg[2] != '\0') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            f = find_long(name, eq ? (size_t)(eq - name) : strlen(name));
            if (f == NULL) {
                return fail(err, "unknown flag '%s'", arg);
            }
            if (eq != NULL) {
                if (!f->takes_value) {
                    return fail(err, "--%s takes no value (got '%s')", f->name, arg);
                }
                value = eq + 1;
            }
        } else if (arg[0] == '-' && arg[1] != '\0' && arg[1] != '-' && arg[2] == '\0') {
            f = find_short(arg[1]);
            if (f == NULL) {
                return fail(err, "unknown flag '%s'", arg);
            }
        } else {
            return fail(err, "unexpected argument '%s' (flags start with --)", arg);
        }
        if (f->takes_value && value == NULL) {
            /* "--log --role=sub" is a forgotten value, not a log file named "--role=sub";
             * such a value can still be given as --log=--role=sub. */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                return fail(err, "--%s needs a value", f->name);
            }
            value = argv[++i];
        }
        char shown[64];
        snprintf(shown, sizeof shown, "--%s", f->name);
        int rc = apply(o, f, value, shown, &seen, err);
        if (rc < 0) {
            return rc;
        }
    }
    if (o->help || o->version || o->keygen || o->probe) {
        return 0;
    }
    return finish(o, seen, err);
}
