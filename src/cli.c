/* cli: command-line parsing. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_usage[] =
    "Usage: downcase --role=pub [--listen=HOST:PORT] [ENDPOINTS] [--wire=plain|framed]\n"
    "                [--topic=NAME]\n"
    "       downcase --role=sub [--log=PATH] [--log-format=text|json|python] [ENDPOINTS]\n"
    "                [--wire=plain|framed] [--topic=PREFIX]...\n"
    "       downcase --probe=URL\n"
    "       downcase --help | --version\n"
    "\n"
    "pub serves GET /downcase/?param=TEXT over HTTP and publishes each answer on ZeroMQ;\n"
    "sub receives those messages and appends each, timestamped, to a log.\n"
    "\n"
    "  --role=pub|sub           which side to run (required)\n"
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
    "  --probe=URL              GET http://HOST[:PORT]/PATH and exit 0 on a 200 answer,\n"
    "                           1 otherwise (a health check; 3 s at most)\n"
    "  -h, --help               show this help\n"
    "  -V, --version            show the version and the library versions\n"
    "\n"
    "Signals: SIGINT/SIGTERM stop gracefully; SIGHUP makes the sub reopen its log.\n";

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
    F_PROBE,
};

#define ROLE_PUB (1u << CLI_ROLE_PUB)
#define ROLE_SUB (1u << CLI_ROLE_SUB)
#define ROLE_ANY (ROLE_PUB | ROLE_SUB)

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
    {"bind", 0, F_BIND, true, ROLE_ANY},
    {"connect", 0, F_CONNECT, true, ROLE_ANY},
    {"wire", 0, F_WIRE, true, ROLE_ANY},
    {"topic", 0, F_TOPIC, true, ROLE_ANY},
    {"log", 0, F_LOG, true, ROLE_SUB},
    {"log-format", 0, F_LOG_FORMAT, true, ROLE_SUB},
    {"probe", 0, F_PROBE, true, ROLE_ANY},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

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
                f->id != F_VERSION;
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
        } else {
            return fail(err, "invalid value '%s' for --role (expected pub or sub)", v);
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
    case F_CONNECT: {
        const char **list = f->id == F_BIND ? o->binds : o->connects;
        size_t *n = f->id == F_BIND ? &o->nbinds : &o->nconnects;
        if (strstr(v, "://") == NULL || strstr(v, "://")[3] == '\0') {
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
        return fail(err, "--role=pub or --role=sub is required");
    }
    unsigned role = 1u << o->role;
    for (size_t i = 0; i < NFLAGS; i++) {
        if ((seen & (1u << flags[i].id)) && !(flags[i].roles & role)) {
            return fail(err, "--%s does not apply to --role=%s", flags[i].name,
                        o->role == CLI_ROLE_PUB ? "pub" : "sub");
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
    } else {
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
    if (o->help || o->version || o->probe) {
        return 0;
    }
    return finish(o, seen, err);
}
