/* cli: command-line parsing. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "forward.h"
#include "hostport.h"
#include "logfile.h"
#include "journal.h"
#include "retain.h"
#include "stream.h"
#include "zsock.h"

/* In sections: ISO C only promises string literals of 4095 bytes. */
const char *const cli_usage[] = {
    "Usage: downcase --role=pub [--listen=HOST:PORT] [ENDPOINTS] [--wire=plain|framed]\n"
    "                [--topic=NAME] [--retain=SIZE | --journal=DIR]\n"
    "                [--curve-secret=FILE [--curve-allow=DIR | --curve-server=FILE]]\n"
    "       downcase --role=sub [--log=PATH] [--log-format=text|json|python] [ENDPOINTS]\n"
    "                [--wire=plain|framed] [--topic=PREFIX]... [--state=PATH]\n"
    "                [--curve-secret=FILE [--curve-server=FILE | --curve-allow=DIR]]\n"
    "       downcase --role=relay --upstream=ENDPOINT... --downstream=ENDPOINT...\n"
    "                [--retain=SIZE | --journal=DIR] [--metrics=HOST:PORT]\n"
    "                [--curve-secret=FILE [--curve-allow=DIR]\n"
    "                (--curve-server=FILE | --curve-allow-upstream=DIR)]\n"
    "       (every role also takes [--allow-from=CIDR]...)\n"
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
    "  --http=HOST:PORT         sub, relay: serve /healthz and /metrics over HTTP here,\n"
    "                           and on the sub the live view: / and /stream (SSE)\n"
    "  --metrics=HOST:PORT      the same as --http\n"
    "  --http-token=FILE        sub: / and /stream need the token in FILE (mode 0600);\n"
    "                           without it they are served on loopback addresses only\n"
    "  --stream-buffer=SIZE     sub: recent events kept to resume /stream (default 8m)\n"
    "  --stream-lag=SIZE        sub: a viewer further behind skips to the newest events,\n"
    "                           told how many (default 1m; at most --stream-buffer)\n"
    "  --state=PATH             sub: where it remembers what it logged, to resume\n"
    "                           exactly once (default LOG.state; none with --log=-)\n"
    "  --forward=URL            sub: publish every message to NATS JetStream,\n"
    "                           nats://HOST:PORT[,HOST:PORT...]/SUBJECT (tls:// for TLS)\n"
    "  --forward-pending=N      sub: messages awaiting JetStream's ack at most (4096)\n"
    "  --forward-creds=FILE     sub: NATS credentials file (mode 0600)\n"
    "  --forward-token=FILE     sub: file holding a NATS token (mode 0600)\n"
    "  --upstream=ENDPOINT      relay: publishers' side, repeatable; connects, or binds\n"
    "                           when written @ENDPOINT\n"
    "  --downstream=ENDPOINT    relay: subscribers' side, repeatable; binds, or connects\n"
    "                           when written >ENDPOINT\n"
    "\n",

    "Retention (framed messages; subscribers fetch what they missed):\n"
    "  --retain=SIZE            pub, relay: recent messages kept in memory (default\n"
    "                           64m; 0: off, a full subscriber queue is answered 503)\n"
    "  --journal=DIR            pub, relay: keep them on disk instead (pub: appended\n"
    "                           before each 200; the id and sequence survive restarts)\n"
    "  --journal-size=SIZE      oldest segments removed past it (default 1g; a relay:\n"
    "                           per publisher)\n"
    "  --journal-sync=TIME      fdatasync interval (default 1s; 0: before answers)\n"
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
    "SIZE is bytes or with k/m/g (KiB/MiB/GiB); TIME is seconds or with ms/s/m.\n"
    "\n",

    "CurveZMQ (every role) and admission:\n"
    "  --keygen=NAME            write a CurveZMQ key pair: NAME (public certificate) and\n"
    "                           NAME_secret (mode 0600), czmq's format; never overwrites\n"
    "  --curve-secret=FILE      encrypt with CurveZMQ using this side's NAME_secret file;\n"
    "                           alone it makes the socket a CURVE server (pub, a sub that\n"
    "                           binds, the relay's downstream)\n"
    "  --curve-server=FILE      the server's public certificate: this side is its CURVE\n"
    "                           client (sub; a pub connecting into a binding sub; the\n"
    "                           relay's upstream connecting to publishers)\n"
    "  --curve-allow=DIR        a CURVE server admits only clients whose public certificate\n"
    "                           is in DIR (re-read at each handshake; default: any client);\n"
    "                           relay: its downstream\n"
    "  --curve-allow-upstream=DIR  relay: its upstream is a CURVE server admitting only the\n"
    "                           publishers whose public certificate is in DIR\n"
    "  --allow-from=CIDR        admit ZeroMQ peers from this address range only (IPv4 or\n"
    "                           IPv6, e.g. 10.0.0.0/8, ::1), repeatable; every socket\n"
    "Other:\n"
    "  --probe=URL              GET http://HOST[:PORT]/PATH and exit 0 on a 200 answer,\n"
    "                           1 otherwise (a health check; 3 s at most)\n"
    "  -h, --help               show this help\n"
    "  -V, --version            show the version and the library versions\n"
    "\n"
    "Signals: SIGINT/SIGTERM stop gracefully; SIGHUP makes the sub reopen its log.\n",
    NULL,
};

/* How a flag's value is read and where it goes. */
enum kind {
    K_SWITCH,   /* no value: sets a bool */
    K_CHOICE,   /* one of names[]: sets an int-sized enum */
    K_HOSTPORT, /* HOST:PORT: a char[256] host, then the int port at aux */
    K_ENDPOINT, /* TRANSPORT://ADDRESS appended to a list; its count at aux */
    K_LIST,     /* any string appended to a list of CLI_MAX_TOPICS; its count at aux */
    K_PATH,     /* a non-empty string */
    K_SIZE,     /* bytes, with k/m */
    K_DURATION, /* milliseconds, with ms/s/m */
    K_COUNT,    /* a plain number */
    K_PROBE,    /* an http:// URL, parsed into probe_target */
    K_CIDR,     /* ADDRESS/PREFIX appended to a list of CLI_MAX_ALLOW_FROM; its count at aux */
};

#define ROLE_PUB (1u << CLI_ROLE_PUB)
#define ROLE_SUB (1u << CLI_ROLE_SUB)
#define ROLE_RELAY (1u << CLI_ROLE_RELAY)
#define ROLE_ANY (ROLE_PUB | ROLE_SUB | ROLE_RELAY)
#define ROLE_NET (ROLE_PUB | ROLE_SUB) /* --bind, --connect, --wire, --topic */

/* Limits past which a setting is surely a typo; they also keep every value in range of the
 * types the libraries take (int for ZeroMQ options, size_t for buffers). */
#define MAX_HEADER_LIMIT (1024u * 1024)
#define MAX_BODY_LIMIT (1ull << 40)
#define MAX_TIMEOUT_MS (24ull * 3600 * 1000)
#define MAX_CONNECTIONS_LIMIT 1000000u
#define MAX_HWM 10000000u
#define MAX_BACKLOG (16ull << 30)
#define MAX_RETAIN (64ull << 30)
#define MAX_JOURNAL (1ull << 50)
#define MAX_STREAM (16ull << 30)

#define AT(field) offsetof(struct cli_options, field), sizeof(((struct cli_options *)0)->field)

static const struct flag {
    const char *name;
    char short_name;
    enum kind kind;
    unsigned roles; /* the roles the flag means something for */
    bool repeatable;
    size_t at;                /* where the value goes in struct cli_options */
    size_t width;             /* its size, for numbers and choices */
    size_t aux;               /* K_HOSTPORT: the port; K_ENDPOINT, K_LIST: the count */
    uint64_t min;             /* numbers: the smallest value */
    uint64_t max;             /* numbers: the largest value */
    uint64_t floor;           /* K_DURATION: the smallest value but 0 (0 allowed as "off") */
    const char *const *names; /* K_CHOICE: NULL-terminated, value = index + base */
    int base;
    const char *expected; /* K_CHOICE: the names, as a phrase */
} flags[] = {
    {"role", 0, K_CHOICE, ROLE_ANY, false, AT(role), 0, 0, 0, 0,
     (const char *const[]){"pub", "sub", "relay", NULL}, CLI_ROLE_PUB, "pub, sub or relay"},
    {"help", 'h', K_SWITCH, ROLE_ANY, true, AT(help), 0, 0, 0, 0, NULL, 0, NULL},
    {"version", 'V', K_SWITCH, ROLE_ANY, true, AT(version), 0, 0, 0, 0, NULL, 0, NULL},
    {"listen", 0, K_HOSTPORT, ROLE_PUB, false, AT(listen_host),
     offsetof(struct cli_options, listen_port), 0, 0, 0, NULL, 0, NULL},
    {"bind", 0, K_ENDPOINT, ROLE_NET, true, AT(endpoints.binds),
     offsetof(struct cli_options, endpoints.nbinds), 0, 0, 0, NULL, 0, NULL},
    {"connect", 0, K_ENDPOINT, ROLE_NET, true, AT(endpoints.connects),
     offsetof(struct cli_options, endpoints.nconnects), 0, 0, 0, NULL, 0, NULL},
    {"wire", 0, K_CHOICE, ROLE_NET, false, AT(wire), 0, 0, 0, 0,
     (const char *const[]){"plain", "framed", NULL}, WIRE_PLAIN, "plain or framed"},
    {"topic", 0, K_LIST, ROLE_NET, true, AT(topics), offsetof(struct cli_options, ntopics), 0, 0, 0,
     NULL, 0, NULL},
    {"log", 0, K_PATH, ROLE_SUB, false, AT(log_path), 0, 0, 0, 0, NULL, 0, NULL},
    {"log-format", 0, K_CHOICE, ROLE_SUB, false, AT(log_format), 0, 0, 0, 0,
     (const char *const[]){"text", "json", "python", NULL}, LOGLINE_TEXT, "text, json or python"},
    {"metrics", 0, K_HOSTPORT, ROLE_SUB | ROLE_RELAY, false, AT(metrics_host),
     offsetof(struct cli_options, metrics_port), 0, 0, 0, NULL, 0, NULL},
    {"http", 0, K_HOSTPORT, ROLE_SUB | ROLE_RELAY, false, AT(metrics_host),
     offsetof(struct cli_options, metrics_port), 0, 0, 0, NULL, 0, NULL},
    {"http-token", 0, K_PATH, ROLE_SUB, false, AT(http_token), 0, 0, 0, 0, NULL, 0, NULL},
    {"stream-buffer", 0, K_SIZE, ROLE_SUB, false, AT(stream_buffer), 0, 4096, MAX_STREAM, 0, NULL,
     0, NULL},
    {"stream-lag", 0, K_SIZE, ROLE_SUB, false, AT(stream_lag), 0, 1024, MAX_STREAM, 0, NULL, 0,
     NULL},
    {"log-backlog", 0, K_SIZE, ROLE_SUB, false, AT(log_backlog), 0, 1024, MAX_BACKLOG, 0, NULL, 0,
     NULL},
    {"max-header-bytes", 0, K_SIZE, ROLE_ANY, false, AT(limits.max_header_bytes), 0, 256,
     MAX_HEADER_LIMIT, 0, NULL, 0, NULL},
    {"max-body-bytes", 0, K_SIZE, ROLE_ANY, false, AT(limits.max_body_bytes), 0, 0, MAX_BODY_LIMIT,
     0, NULL, 0, NULL},
    {"header-timeout", 0, K_DURATION, ROLE_ANY, false, AT(limits.header_timeout_ms), 0, 1,
     MAX_TIMEOUT_MS, 0, NULL, 0, NULL},
    {"idle-timeout", 0, K_DURATION, ROLE_ANY, false, AT(limits.idle_timeout_ms), 0, 1,
     MAX_TIMEOUT_MS, 0, NULL, 0, NULL},
    {"max-connections", 0, K_COUNT, ROLE_ANY, false, AT(limits.max_connections), 0, 1,
     MAX_CONNECTIONS_LIMIT, 0, NULL, 0, NULL},
    {"hwm", 0, K_COUNT, ROLE_ANY, false, AT(hwm), 0, 1, MAX_HWM, 0, NULL, 0, NULL},
    /* Heartbeats may be off (0); a zero HTTP timeout would close every connection. */
    {"heartbeat", 0, K_DURATION, ROLE_ANY, false, AT(heartbeat_ms), 0, 0, MAX_TIMEOUT_MS, 100, NULL,
     0, NULL},
    {"keygen", 0, K_PATH, ROLE_ANY, false, AT(keygen), 0, 0, 0, 0, NULL, 0, NULL},
    {"curve-secret", 0, K_PATH, ROLE_ANY, false, AT(curve_secret), 0, 0, 0, 0, NULL, 0, NULL},
    {"curve-server", 0, K_PATH, ROLE_ANY, false, AT(curve_server), 0, 0, 0, 0, NULL, 0, NULL},
    {"curve-allow", 0, K_PATH, ROLE_ANY, false, AT(curve_allow), 0, 0, 0, 0, NULL, 0, NULL},
    {"curve-allow-upstream", 0, K_PATH, ROLE_RELAY, false, AT(curve_allow_upstream), 0, 0, 0, 0,
     NULL, 0, NULL},
    {"allow-from", 0, K_CIDR, ROLE_ANY, true, AT(allow_from),
     offsetof(struct cli_options, nallow_from), 0, 0, 0, NULL, 0, NULL},
    {"probe", 0, K_PROBE, ROLE_ANY, false, AT(probe), 0, 0, 0, 0, NULL, 0, NULL},
    {"retain", 0, K_SIZE, ROLE_PUB | ROLE_RELAY, false, AT(retain_bytes), 0, 0, MAX_RETAIN, 0, NULL,
     0, NULL},
    {"journal", 0, K_PATH, ROLE_PUB | ROLE_RELAY, false, AT(journal_dir), 0, 0, 0, 0, NULL, 0,
     NULL},
    {"journal-size", 0, K_SIZE, ROLE_PUB | ROLE_RELAY, false, AT(journal_bytes), 0, 64 * 1024,
     MAX_JOURNAL, 0, NULL, 0, NULL},
    {"journal-sync", 0, K_DURATION, ROLE_PUB | ROLE_RELAY, false, AT(journal_sync_ms), 0, 0,
     MAX_TIMEOUT_MS, 0, NULL, 0, NULL},
    {"state", 0, K_PATH, ROLE_SUB, false, AT(state_path), 0, 0, 0, 0, NULL, 0, NULL},
    {"forward", 0, K_PATH, ROLE_SUB, false, AT(forward), 0, 0, 0, 0, NULL, 0, NULL},
    {"forward-pending", 0, K_COUNT, ROLE_SUB, false, AT(forward_pending), 0, 1, FORWARD_MAX_PENDING,
     0, NULL, 0, NULL},
    {"forward-creds", 0, K_PATH, ROLE_SUB, false, AT(forward_creds), 0, 0, 0, 0, NULL, 0, NULL},
    {"forward-token", 0, K_PATH, ROLE_SUB, false, AT(forward_token), 0, 0, 0, 0, NULL, 0, NULL},
    {"upstream", 0, K_ENDPOINT, ROLE_RELAY, true, AT(upstreams),
     offsetof(struct cli_options, nupstreams), 0, 0, 0, NULL, 0, NULL},
    {"downstream", 0, K_ENDPOINT, ROLE_RELAY, true, AT(downstreams),
     offsetof(struct cli_options, ndownstreams), 0, 0, 0, NULL, 0, NULL},
};
#define NFLAGS (sizeof flags / sizeof flags[0])
/* Which flags were seen is a bit mask, one bit per entry of flags[]. */
_Static_assert(NFLAGS <= 64, "too many flags for the 'seen' mask");

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
    diag_printable(line, len);
    err->len = 0;
    buf_append(err, line, len);
    return -EINVAL;
}

int cli_split_hostport(const char *s, char *host, size_t hostsz, int *port)
{
    struct hostport hp;
    int p;
    if (hostport_split(s, strlen(s), &hp) < 0 || hostport_port(&hp, &p) < 0 ||
        hp.host_len >= hostsz) {
        return -EINVAL;
    }
    memcpy(host, hp.host, hp.host_len);
    host[hp.host_len] = '\0';
    *port = p;
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
    } else if ((*end == 'g' || *end == 'G') && end[1] == '\0') {
        unit = 1024 * 1024 * 1024;
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

static void *field(struct cli_options *o, size_t at)
{
    return (char *)o + at;
}

/* Stores an unsigned number in a field of `width` bytes (int, size_t, uint64_t or an enum). */
static void store(struct cli_options *o, const struct flag *f, uint64_t v)
{
    void *p = field(o, f->at);
    if (f->width == sizeof(uint64_t)) {
        memcpy(p, &v, sizeof v);
    } else {
        /* enums and int options: the ranges above keep v inside an int */
        int i = (int)v;
        memcpy(p, &i, sizeof i);
    }
}

/* Records a flag's value. `shown` is the flag as the user wrote it, for messages. */
static int apply(struct cli_options *o, const struct flag *f, const char *v, const char *shown,
                 uint64_t *seen, struct buf *err)
{
    uint64_t bit = 1ull << (f - flags);
    if (!f->repeatable && (*seen & bit)) {
        return fail(err, "%s given more than once", shown);
    }
    *seen |= bit;
    uint64_t n;
    switch (f->kind) {
    case K_SWITCH:
        *(bool *)field(o, f->at) = true;
        return 0;
    case K_CHOICE:
        for (int i = 0; f->names[i]; i++) {
            if (strcmp(v, f->names[i]) == 0) {
                store(o, f, (uint64_t)(i + f->base));
                return 0;
            }
        }
        return fail(err, "invalid value '%s' for %s (expected %s)", v, shown, f->expected);
    case K_HOSTPORT:
        if (cli_split_hostport(v, field(o, f->at), f->width, (int *)field(o, f->aux)) < 0) {
            return fail(err, "invalid value '%s' for %s (expected HOST:PORT or [IPV6]:PORT)", v,
                        shown);
        }
        return 0;
    case K_ENDPOINT: {
        /* The relay's endpoints may say how to attach: '@' binds, '>' connects. */
        const char *e = v;
        if ((f->roles & ROLE_RELAY) && (*e == '@' || *e == '>')) {
            e++;
        }
        if (strstr(e, "://") == NULL || strstr(e, "://")[3] == '\0') {
            return fail(err,
                        "invalid endpoint '%s' for %s (expected TRANSPORT://ADDRESS, "
                        "e.g. tcp://127.0.0.1:4444)",
                        v, shown);
        }
        size_t *count = field(o, f->aux);
        if (*count == CLI_MAX_ENDPOINTS) {
            return fail(err, "too many %s endpoints (at most %d)", shown, CLI_MAX_ENDPOINTS);
        }
        ((const char **)field(o, f->at))[(*count)++] = v;
        return 0;
    }
    case K_LIST: {
        size_t *count = field(o, f->aux);
        if (*count == CLI_MAX_TOPICS) {
            return fail(err, "too many %s flags (at most %d)", shown, CLI_MAX_TOPICS);
        }
        ((const char **)field(o, f->at))[(*count)++] = v;
        return 0;
    }
    case K_PATH:
        if (*v == '\0') {
            return strcmp(f->name, "log") == 0
                       ? fail(err, "empty path for --log (use - for standard output)")
                       : fail(err, "empty value for %s", shown);
        }
        *(const char **)field(o, f->at) = v;
        return 0;
    case K_SIZE:
        if (cli_parse_size(v, f->max, &n) < 0 || n < f->min) {
            return fail(err,
                        "invalid value '%s' for %s (expected a size from %llu to %llu bytes, "
                        "e.g. 8k)",
                        v, shown, (unsigned long long)f->min, (unsigned long long)f->max);
        }
        store(o, f, n);
        return 0;
    case K_DURATION:
        if (cli_parse_duration(v, f->max, &n) < 0 || n < f->min || (n > 0 && n < f->floor)) {
            return fail(err,
                        "invalid value '%s' for %s (expected a duration up to 24 hours, "
                        "e.g. 10s or 500ms%s)",
                        v, shown, f->floor ? "; at least 100ms, or 0 for off" : "");
        }
        store(o, f, n);
        return 0;
    case K_COUNT:
        if (cli_parse_size(v, f->max, &n) < 0 || n < f->min || strpbrk(v, "kKmMgG") != NULL) {
            return fail(err, "invalid value '%s' for %s (expected a number from %llu to %llu)", v,
                        shown, (unsigned long long)f->min, (unsigned long long)f->max);
        }
        store(o, f, n);
        return 0;
    case K_PROBE:
        if (probe_parse_url(v, &o->probe_target) < 0) {
            return fail(err, "invalid value '%s' for --probe (expected http://HOST[:PORT]/PATH)",
                        v);
        }
        o->probe = v;
        return 0;
    case K_CIDR: {
        size_t *count = field(o, f->aux);
        if (*count == CLI_MAX_ALLOW_FROM) {
            return fail(err, "too many %s ranges (at most %d)", shown, CLI_MAX_ALLOW_FROM);
        }
        const char *why = "";
        char hint[64];
        if (cidr_parse(v, &((struct cidr *)field(o, f->at))[*count], &why, hint, sizeof hint) < 0) {
            return fail(err,
                        "invalid value '%s' for %s (%s%s%s; expected ADDRESS/PREFIX, e.g. "
                        "10.0.0.0/8 or fd00::/8)",
                        v, shown, why, *hint ? ": did you mean " : "", hint);
        }
        (*count)++;
        return 0;
    }
    }
    return 0;
}

static bool was_seen(uint64_t seen, const char *name)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        if (strcmp(flags[i].name, name) == 0) {
            return (seen >> i) & 1;
        }
    }
    return false;
}

/* Checks what only makes sense once the role is known, and fills the role's defaults. */
/* --forward and its companions (forward.h). */
static int check_forward(struct cli_options *o, uint64_t seen, struct buf *err)
{
    if (o->forward == NULL) {
        if (was_seen(seen, "forward-pending") || o->forward_creds || o->forward_token) {
            return fail(err, "--forward-pending, --forward-creds and --forward-token need "
                             "--forward");
        }
        return 0;
    }
    if (!forward_built()) {
        return fail(err, "--forward: this downcase was built without NATS support (libnats was "
                         "not found when it was built)");
    }
    const char *why;
    if (natsurl_parse(o->forward, &o->forward_url, &why) < 0) {
        return fail(err, "invalid value '%s' for --forward (%s)", o->forward, why);
    }
    if (o->forward_creds && o->forward_token) {
        return fail(err, "--forward-creds and --forward-token: give one or the other");
    }
    if (o->forward_pending == 0) {
        o->forward_pending = FORWARD_DEFAULT_PENDING;
    }
    if (o->state_path == NULL && (o->log_path == NULL || strcmp(o->log_path, "-") == 0)) {
        return fail(err, "--forward needs --state=PATH (where the position JetStream "
                         "acknowledged is kept across restarts) unless --log is a file");
    }
    return 0;
}

static int finish(struct cli_options *o, uint64_t seen, struct buf *err)
{
    if (o->role == CLI_ROLE_NONE) {
        return fail(err, "--role=pub, --role=sub or --role=relay is required");
    }
    if (was_seen(seen, "http") && was_seen(seen, "metrics")) {
        return fail(err, "--http and --metrics are the same flag: give one");
    }
    unsigned role = 1u << o->role;
    for (size_t i = 0; i < NFLAGS; i++) {
        if (((seen >> i) & 1) && !(flags[i].roles & role)) {
            return fail(err, "--%s does not apply to --role=%s", flags[i].name,
                        o->role == CLI_ROLE_PUB   ? "pub"
                        : o->role == CLI_ROLE_SUB ? "sub"
                                                  : "relay");
        }
    }
    struct zendpoints *e = &o->endpoints;
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
        if (o->topics[0][0] == '\0') {
            return fail(err, "--topic must not be empty on the publisher (subscribers match "
                             "topics by prefix)");
        }
        if (!was_seen(seen, "listen")) {
            strcpy(o->listen_host, "0.0.0.0");
            o->listen_port = 5000;
        }
        if (e->nbinds == 0 && e->nconnects == 0) {
            e->binds[e->nbinds++] = "tcp://*:4444";
        }
        if ((was_seen(seen, "journal") || was_seen(seen, "journal-size") ||
             was_seen(seen, "journal-sync")) &&
            o->wire != WIRE_FRAMED) {
            return fail(err, "--journal needs --wire=framed (plain messages carry no sequence "
                             "number to replay)");
        }
        if ((was_seen(seen, "journal-size") || was_seen(seen, "journal-sync")) &&
            o->journal_dir == NULL) {
            return fail(err, "--journal-size and --journal-sync need --journal=DIR");
        }
        if (o->curve_allow && !o->curve_secret) {
            return fail(err, "--curve-allow needs --curve-secret (the publisher's own key pair)");
        }
        if (o->curve_server && !o->curve_secret) {
            return fail(err, "--curve-server needs --curve-secret (the publisher's own key pair, "
                             "which it presents as a CURVE client)");
        }
        if (o->curve_server && o->curve_allow) {
            return fail(err, "--curve-allow and --curve-server exclude each other: with "
                             "--curve-server the publisher is a CURVE client (of a subscriber "
                             "that binds), and --curve-allow is a server's list");
        }
    } else if (o->role == CLI_ROLE_RELAY) {
        /* No default: a relay sits between two tiers the operator names. */
        if (o->nupstreams == 0 || o->ndownstreams == 0) {
            return fail(err, "--role=relay needs at least one --upstream and one --downstream");
        }
        if ((was_seen(seen, "journal-size") || was_seen(seen, "journal-sync")) &&
            o->journal_dir == NULL) {
            return fail(err, "--journal-size and --journal-sync need --journal=DIR");
        }
        const char *needs_secret = o->curve_server           ? "--curve-server"
                                   : o->curve_allow          ? "--curve-allow"
                                   : o->curve_allow_upstream ? "--curve-allow-upstream"
                                                             : NULL;
        if (needs_secret && !o->curve_secret) {
            return fail(err, "%s needs --curve-secret (the relay's own key pair)", needs_secret);
        }
        if (o->curve_server && o->curve_allow_upstream) {
            return fail(err, "--curve-server and --curve-allow-upstream exclude each other: the "
                             "relay's upstream is either a CURVE client of the publishers or "
                             "their server");
        }
        if (o->curve_secret && !o->curve_server && !o->curve_allow_upstream) {
            return fail(err, "a relay with --curve-secret needs --curve-server (its upstream "
                             "connects to CURVE publishers) or --curve-allow-upstream=DIR "
                             "(publishers connect into its upstream with CURVE)");
        }
    } else {
        if (o->curve_server && !o->curve_secret) {
            return fail(err, "the subscriber needs both --curve-secret and --curve-server "
                             "(its own key pair and the publisher's public key), or neither");
        }
        if (o->curve_secret && !o->curve_server && e->nbinds == 0) {
            return fail(err, "the subscriber needs both --curve-secret and --curve-server "
                             "(its own key pair and the publisher's public key), or neither; "
                             "a subscriber that --binds may instead be a CURVE server with "
                             "--curve-secret alone");
        }
        if (o->curve_allow && (!o->curve_secret || o->curve_server)) {
            return fail(err, "--curve-allow needs --curve-secret without --curve-server (a "
                             "subscriber that binds, as the publishers' CURVE server)");
        }
        o->expect = !was_seen(seen, "wire")  ? CLI_EXPECT_ANY
                    : o->wire == WIRE_FRAMED ? CLI_EXPECT_FRAMED
                                             : CLI_EXPECT_PLAIN;
        if (e->nbinds == 0 && e->nconnects == 0) {
            e->connects[e->nconnects++] = "tcp://127.0.0.1:4444";
        }
        int rc = check_forward(o, seen, err);
        if (rc < 0) {
            return rc;
        }
        if (o->log_path == NULL && o->forward == NULL) {
            o->log_path = "-";
        }
        if ((was_seen(seen, "http-token") || was_seen(seen, "stream-buffer") ||
             was_seen(seen, "stream-lag")) &&
            o->metrics_port < 0) {
            return fail(err, "--http-token, --stream-buffer and --stream-lag need --http=HOST:PORT "
                             "(the server of the live view)");
        }
        if (!was_seen(seen, "stream-lag") && o->stream_lag > o->stream_buffer) {
            o->stream_lag = o->stream_buffer;
        }
        if (o->stream_lag > o->stream_buffer) {
            return fail(err,
                        "--stream-lag (%zu bytes) must not exceed --stream-buffer (%zu "
                        "bytes): a viewer's place must stay inside the window",
                        o->stream_lag, o->stream_buffer);
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
    o->limits = HTTP_LIMITS_DEFAULT;
    o->hwm = ZSOCK_DEFAULT_HWM;
    o->heartbeat_ms = ZSOCK_DEFAULT_HEARTBEAT_MS;
    o->log_backlog = LOGFILE_MAX_PENDING;
    o->stream_buffer = STREAM_DEFAULT_BUFFER;
    o->stream_lag = STREAM_DEFAULT_LAG;
    o->retain_bytes = RETAIN_DEFAULT_BYTES;
    o->journal_bytes = JOURNAL_DEFAULT_BYTES;
    o->journal_sync_ms = JOURNAL_DEFAULT_SYNC_MS;
    uint64_t seen = 0;
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
                if (f->kind == K_SWITCH) {
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
        if (f->kind != K_SWITCH && value == NULL) {
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
