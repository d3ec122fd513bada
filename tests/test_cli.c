/* Unit tests for cli: cli_parse's errors, values and defaults, and cli_split_hostport. */
#include "cli.h"
#include "check.h"

#include <errno.h>
#include <stdlib.h>

#define MAX_ARGS 200

/* An argv built from string literals. cli_parse keeps pointers into argv, and literals live
 * for the whole program, so the options stay valid after the builder is gone. */
struct args {
    char *v[MAX_ARGS + 1];
    int n;
};

static void args_init(struct args *a)
{
    a->v[0] = (char *)"downcase";
    a->n = 1;
    a->v[1] = NULL;
}

static void args_add(struct args *a, const char *s)
{
    if (a->n < MAX_ARGS) {
        a->v[a->n++] = (char *)s;
        a->v[a->n] = NULL;
    }
}

/* Parses a NULL-terminated list of up to 8 arguments. */
static int parse(const char *const *list, struct cli_options *o, struct buf *err)
{
    struct args a;
    args_init(&a);
    for (size_t i = 0; i < 16 && list[i] != NULL; i++) {
        args_add(&a, list[i]);
    }
    return cli_parse(a.n, a.v, o, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static bool err_has(const struct buf *err, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= err->len; i++) {
        if (memcmp(err->data + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Every failure: -EINVAL and one line that names what was wrong. */
static const struct {
    const char *argv[8];
    const char *says[2]; /* substrings the message must hold */
} errors[] = {
    {{NULL}, {"--role=pub, --role=sub or --role=relay is required", NULL}},
    {{"--wire=plain", NULL}, {"--role", "required"}},
    {{"--bogus", NULL}, {"unknown flag '--bogus'", NULL}},
    {{"--bogus=1", NULL}, {"unknown flag '--bogus=1'", NULL}},
    {{"--Role=pub", NULL}, {"unknown flag '--Role=pub'", NULL}},
    {{"--rol=pub", NULL}, {"unknown flag '--rol=pub'", NULL}}, /* no prefix matching */
    {{"--role=pub", "-x", NULL}, {"unknown flag '-x'", NULL}},
    {{"--role=pub", "--listen", NULL}, {"--listen needs a value", NULL}},
    {{"--role", NULL}, {"--role needs a value", NULL}},
    {{"--log", "--role=sub", NULL}, {"--log needs a value", NULL}},
    {{"--role=sub", "--log", NULL}, {"--log needs a value", NULL}},
    {{"--role=pub", "--listen", "--bind=tcp://*:1", NULL}, {"--listen needs a value", NULL}},
    {{"--role=x", NULL}, {"'x'", "--role"}},
    {{"--role=PUB", NULL}, {"'PUB'", "--role"}},
    {{"--role=", NULL}, {"''", "--role"}},
    {{"--role=sub", "--wire=x", NULL}, {"'x'", "--wire"}},
    {{"--role=pub", "--wire", "Framed", NULL}, {"'Framed'", "--wire"}},
    {{"--role=sub", "--log-format=xml", NULL}, {"'xml'", "--log-format"}},
    {{"--role=sub", "--log-format", "", NULL}, {"''", "--log-format"}},
    {{"--role=pub", "--log=f.log", NULL}, {"--log does not apply to --role=pub", NULL}},
    {{"--log-format=json", "--role=pub", NULL}, {"--log-format", "--role=pub"}},
    {{"--role=sub", "--listen=1.2.3.4:5", NULL}, {"--listen does not apply to --role=sub", NULL}},
    {{"--role=pub", "--role=pub", NULL}, {"--role given more than once", NULL}},
    {{"--role=pub", "--role", "sub", NULL}, {"--role given more than once", NULL}},
    {{"--role=sub", "--wire=plain", "--wire=framed", NULL}, {"--wire given more than once", NULL}},
    {{"--role=sub", "--log=a", "--log=b", NULL}, {"--log given more than once", NULL}},
    {{"--role=pub", "--listen=h:1", "--listen=h:2", NULL}, {"--listen given more than once", NULL}},
    {{"--role=pub", "--topic=x", NULL}, {"--topic needs --wire=framed", NULL}},
    {{"--role=pub", "--wire=plain", "--topic=x", NULL}, {"--topic needs --wire=framed", NULL}},
    {{"--role=pub", "--wire=framed", "--topic=a", "--topic=b", NULL}, {"one --topic", NULL}},
    {{"--role=sub", "--bind=localhost:4444", NULL}, {"'localhost:4444'", "--bind"}},
    {{"--role=pub", "--connect", "127.0.0.1:4444", NULL}, {"'127.0.0.1:4444'", "--connect"}},
    {{"--role=sub", "--connect=tcp://", NULL}, {"'tcp://'", "--connect"}},
    {{"--role=sub", "--bind=", NULL}, {"''", "--bind"}},
    {{"--role=pub", "extra", NULL}, {"unexpected argument 'extra'", NULL}},
    {{"pub", NULL}, {"unexpected argument 'pub'", NULL}},
    {{"--role=pub", "-", NULL}, {"unexpected argument '-'", NULL}},
    {{"--role=pub", "--", NULL}, {"unexpected argument '--'", NULL}},
    {{"--role=pub", "-hV", NULL}, {"'-hV'", NULL}},
    {{"--help=x", NULL}, {"--help takes no value", "'--help=x'"}},
    {{"--version=1", NULL}, {"--version takes no value", NULL}},
    {{"--role=pub", "--listen=:80", NULL}, {"':80'", "--listen"}},
    {{"--role=pub", "--listen", "[::1]", NULL}, {"'[::1]'", "--listen"}},
    {{"--role=sub", "--log=", NULL}, {"empty path for --log", NULL}},
    /* A value with a newline must not make the message two lines (the header promises one
     * line; the message goes to a terminal or a log). */
    {{"--role=pu\nb", NULL}, {"--role", NULL}},
    {{"--bo\ngus", NULL}, {"unknown flag", NULL}},
    {{"--role=sub", "--connect=x\ny", NULL}, {"--connect", NULL}},
    /* Limits: sizes, durations, counts, each range-checked. */
    {{"--role=pub", "--max-header-bytes=100", NULL}, {"'100'", "--max-header-bytes"}},
    {{"--role=pub", "--max-header-bytes=2m", NULL}, {"'2m'", "--max-header-bytes"}},
    {{"--role=pub", "--max-header-bytes=8kb", NULL}, {"'8kb'", NULL}},
    {{"--role=pub", "--max-body-bytes=-1", NULL}, {"'-1'", "--max-body-bytes"}},
    {{"--role=pub", "--max-body-bytes= 1", NULL}, {"' 1'", NULL}},
    {{"--role=pub", "--max-body-bytes=99999999999999999999", NULL}, {"--max-body-bytes", NULL}},
    {{"--role=pub", "--header-timeout=0", NULL}, {"'0'", "--header-timeout"}},
    {{"--role=pub", "--header-timeout=10h", NULL}, {"'10h'", NULL}},
    {{"--role=pub", "--idle-timeout=25h", NULL}, {"'25h'", NULL}},
    {{"--role=pub", "--idle-timeout=1441m", NULL}, {"'1441m'", "--idle-timeout"}},
    {{"--role=pub", "--idle-timeout=", NULL}, {"''", "--idle-timeout"}},
    {{"--role=pub", "--heartbeat=50ms", NULL}, {"'50ms'", "at least 100ms"}},
    {{"--role=pub", "--max-connections=0", NULL}, {"'0'", "--max-connections"}},
    {{"--role=pub", "--max-connections=1k", NULL}, {"'1k'", "--max-connections"}},
    {{"--role=pub", "--max-connections=1000001", NULL}, {"--max-connections", NULL}},
    {{"--role=sub", "--hwm=0", NULL}, {"'0'", "--hwm"}},
    {{"--role=sub", "--log-backlog=10", NULL}, {"'10'", "--log-backlog"}},
    {{"--role=pub", "--log-backlog=1m", NULL}, {"--log-backlog does not apply", NULL}},
    {{"--role=pub", "--metrics=127.0.0.1:9", NULL}, {"--metrics does not apply", NULL}},
    {{"--role=sub", "--metrics=9100", NULL}, {"'9100'", "--metrics"}},
    {{"--role=pub", "--hwm=5", "--hwm=6", NULL}, {"--hwm given more than once", NULL}},
    /* CurveZMQ. */
    {{"--role=sub", "--curve-secret=c_secret", NULL},
     {"both --curve-secret and --curve-server", NULL}},
    {{"--role=sub", "--curve-server=s", NULL}, {"both --curve-secret and --curve-server", NULL}},
    {{"--role=pub", "--curve-allow=d", NULL}, {"--curve-allow needs --curve-secret", NULL}},
    /* A pub with --curve-server is a CURVE client (of a binding sub): no allow list, and its
     * own key is needed. A sub is a CURVE server only when it binds. */
    {{"--role=pub", "--curve-server=s", NULL}, {"--curve-server needs --curve-secret", NULL}},
    {{"--role=pub", "--curve-secret=s", "--curve-server=s", "--curve-allow=d", NULL},
     {"--curve-allow and --curve-server exclude each other", NULL}},
    {{"--role=sub", "--curve-allow=d", NULL}, {"--curve-allow needs --curve-secret", NULL}},
    {{"--role=sub", "--bind=tcp://*:1", "--curve-secret=s", "--curve-server=s", "--curve-allow=d",
      NULL},
     {"--curve-allow needs --curve-secret without --curve-server", NULL}},
    {{"--role=sub", "--curve-secret=c_secret", "--connect=tcp://a:1", NULL},
     {"a subscriber that --binds may instead be a CURVE server", NULL}},
    {{"--role=pub", "--curve-allow-upstream=d", NULL},
     {"--curve-allow-upstream does not apply to --role=pub", NULL}},
    /* --allow-from: ranges checked as they are read. */
    {{"--role=sub", "--allow-from=10.0.0.1/8", NULL},
     {"'10.0.0.1/8'", "bits set past the prefix length: did you mean 10.0.0.0/8"}},
    {{"--role=pub", "--allow-from=10.0.0.0/33", NULL}, {"--allow-from", "from 0 to 32"}},
    {{"--role=pub", "--allow-from=::/129", NULL}, {"--allow-from", "from 0 to 128"}},
    {{"--role=pub", "--allow-from=localhost", NULL}, {"not an IPv4 or IPv6 address", NULL}},
    {{"--role=pub", "--allow-from=", NULL}, {"not an IPv4 or IPv6 address", "--allow-from"}},
    {{"--role=pub", "--allow-from", NULL}, {"--allow-from needs a value", NULL}},
    {{"--role=pub", "--curve-secret=", NULL}, {"empty value for --curve-secret", NULL}},
    {{"--role=pub", "--curve-secret=a", "--curve-secret=b", NULL}, {"given more than once", NULL}},
    {{"--keygen=", NULL}, {"empty value for --keygen", NULL}},
    {{"--keygen", NULL}, {"--keygen needs a value", NULL}},
    /* --probe is a mode of its own; its URL is checked here, so a bad one exits 2. */
    {{"--probe", NULL}, {"--probe needs a value", NULL}},
    {{"--probe=ftp://h/", NULL}, {"'ftp://h/'", "--probe"}},
    {{"--probe=http://h:0/", NULL}, {"'http://h:0/'", "--probe"}},
    {{"--probe=http://a/", "--probe=http://b/", NULL}, {"--probe given more than once", NULL}},
    {{"--role=relay", NULL}, {"at least one --upstream and one --downstream", NULL}},
    {{"--role=relay", "--upstream=tcp://a:1", NULL}, {"one --downstream", NULL}},
    {{"--role=relay", "--upstream=@x", "--downstream=@tcp://*:2", NULL}, {"'@x'", "--upstream"}},
    {{"--role=relay", "--downstream=>", NULL}, {"'>'", "--downstream"}},
    {{"--role=relay", "--connect=tcp://a:1", NULL},
     {"--connect does not apply to --role=relay", NULL}},
    {{"--role=relay", "--log=x", NULL}, {"--log does not apply to --role=relay", NULL}},
    {{"--role=sub", "--upstream=tcp://a:1", NULL},
     {"--upstream does not apply to --role=sub", NULL}},
    {{"--role=pub", "--downstream=tcp://a:1", NULL}, {"--downstream does not apply", NULL}},
    {{"--role=proxy", NULL}, {"expected pub, sub or relay", NULL}},
    /* The relay: its own key pair for anything CURVE, and one upstream role. */
    {{"--role=relay", "--upstream=tcp://a:1", "--downstream=tcp://*:2", "--curve-secret=s", NULL},
     {"needs --curve-server (its upstream connects to CURVE publishers) or "
      "--curve-allow-upstream",
      NULL}},
    {{"--role=relay", "--upstream=tcp://a:1", "--downstream=tcp://*:2", "--curve-server=s", NULL},
     {"--curve-server needs --curve-secret (the relay's own key pair)", NULL}},
    {{"--role=relay", "--upstream=tcp://a:1", "--downstream=tcp://*:2", "--curve-allow=d", NULL},
     {"--curve-allow needs --curve-secret", NULL}},
    {{"--role=relay", "--upstream=@tcp://*:1", "--downstream=tcp://*:2", "--curve-allow-upstream=d",
      NULL},
     {"--curve-allow-upstream needs --curve-secret", NULL}},
    {{"--role=relay", "--upstream=tcp://a:1", "--downstream=tcp://*:2", "--curve-secret=s",
      "--curve-server=s", "--curve-allow-upstream=d", NULL},
     {"--curve-server and --curve-allow-upstream exclude each other", NULL}},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        struct cli_options o;
        struct buf err = {0};
        /* Something left in err from before must not survive into the message. */
        CHECK(buf_append_str(&err, "stale text") == 0);
        int rc = parse(errors[i].argv, &o, &err);
        bool ok = rc == -EINVAL && err.len > 0 && memchr(err.data, '\n', err.len) == NULL &&
                  !err_has(&err, "stale");
        for (size_t k = 0; k < 2; k++) {
            if (errors[i].says[k] != NULL && !err_has(&err, errors[i].says[k])) {
                ok = false;
            }
        }
        if (!ok) {
            fprintf(stderr, "error case %zu (%s ...): rc %d, err [%.*s]\n", i,
                    errors[i].argv[0] ? errors[i].argv[0] : "no arguments", rc, (int)err.len,
                    err.data ? err.data : "");
        }
        CHECK(ok);
        buf_finish(&err);
    }
}

static void test_pub_defaults(void)
{
    const char *const *const forms[] = {
        ARGS("--role=pub"),
        ARGS("--role", "pub"),
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct cli_options o;
        struct buf err = {0};
        CHECK(parse(forms[i], &o, &err) == 0);
        CHECK(err.len == 0);
        CHECK(o.role == CLI_ROLE_PUB);
        CHECK(!o.help && !o.version);
        CHECK(strcmp(o.listen_host, "0.0.0.0") == 0);
        CHECK(o.listen_port == 5000);
        CHECK(o.endpoints.nbinds == 1 && strcmp(o.endpoints.binds[0], "tcp://*:4444") == 0);
        CHECK(o.endpoints.nconnects == 0);
        CHECK(o.wire == WIRE_PLAIN);
        CHECK(o.ntopics == 1 && strcmp(o.topics[0], "downcase") == 0);
        buf_finish(&err);
    }
}

static void test_sub_defaults(void)
{
    struct cli_options o;
    struct buf err = {0};
    CHECK(parse(ARGS("--role=sub"), &o, &err) == 0);
    CHECK(o.role == CLI_ROLE_SUB);
    CHECK(o.endpoints.nconnects == 1 &&
          strcmp(o.endpoints.connects[0], "tcp://127.0.0.1:4444") == 0);
    CHECK(o.endpoints.nbinds == 0);
    CHECK(o.log_path != NULL && strcmp(o.log_path, "-") == 0);
    CHECK(o.log_format == LOGLINE_TEXT);
    CHECK(o.expect == CLI_EXPECT_ANY);
    CHECK(o.ntopics == 0);
    buf_finish(&err);
}

static void test_relay(void)
{
    struct cli_options o;
    struct buf err = {0};
    CHECK(parse(ARGS("--role=relay", "--upstream=tcp://10.0.0.1:4444", "--upstream",
                     "@tcp://*:4445", "--downstream=@tcp://*:4446", "--downstream=>ipc://x",
                     "--metrics=127.0.0.1:0", "--hwm=5"),
                &o, &err) == 0);
    CHECK(o.role == CLI_ROLE_RELAY);
    /* Kept as written: the relay splits them into binds and connects. */
    CHECK(o.nupstreams == 2 && strcmp(o.upstreams[0], "tcp://10.0.0.1:4444") == 0 &&
          strcmp(o.upstreams[1], "@tcp://*:4445") == 0);
    CHECK(o.ndownstreams == 2 && strcmp(o.downstreams[0], "@tcp://*:4446") == 0 &&
          strcmp(o.downstreams[1], ">ipc://x") == 0);
    CHECK(o.endpoints.nbinds == 0 && o.endpoints.nconnects == 0);
    CHECK(o.metrics_port == 0 && o.hwm == 5);
    buf_finish(&err);
}

static void test_limits(void)
{
    struct cli_options o;
    struct buf err = {0};
    CHECK(parse(ARGS("--role=pub"), &o, &err) == 0);
    CHECK(o.limits.max_header_bytes == 8192 && o.limits.max_body_bytes == 65536);
    CHECK(o.limits.header_timeout_ms == 10000 && o.limits.idle_timeout_ms == 60000);
    CHECK(o.limits.max_connections == 10000 && o.hwm == 10000 && o.heartbeat_ms == 2000);
    CHECK(o.metrics_port == -1);
    CHECK(parse(ARGS("--role=pub", "--max-header-bytes=16k", "--max-body-bytes", "1m",
                     "--header-timeout=500ms", "--idle-timeout=2m", "--max-connections=7",
                     "--hwm=3", "--heartbeat=0"),
                &o, &err) == 0);
    CHECK(o.limits.max_header_bytes == 16384 && o.limits.max_body_bytes == 1048576);
    CHECK(o.limits.header_timeout_ms == 500 && o.limits.idle_timeout_ms == 120000);
    CHECK(o.limits.max_connections == 7 && o.hwm == 3 && o.heartbeat_ms == 0);
    CHECK(parse(ARGS("--role=sub", "--metrics=[::1]:9100", "--log-backlog=4K", "--heartbeat=3s"),
                &o, &err) == 0);
    CHECK(strcmp(o.metrics_host, "::1") == 0 && o.metrics_port == 9100);
    CHECK(o.log_backlog == 4096 && o.heartbeat_ms == 3000);
    CHECK(o.log_backlog == 4096);

    uint64_t v;
    CHECK(cli_parse_size("0", 10, &v) == 0 && v == 0);
    CHECK(cli_parse_size("1k", 1024, &v) == 0 && v == 1024);
    CHECK(cli_parse_size("1k", 1023, &v) == -EINVAL);
    CHECK(cli_parse_size("18446744073709551615k", UINT64_MAX, &v) == -EINVAL);
    CHECK(cli_parse_size("", 10, &v) == -EINVAL);
    CHECK(cli_parse_size("+1", 10, &v) == -EINVAL);
    CHECK(cli_parse_duration("7", 10000, &v) == 0 && v == 7000);
    CHECK(cli_parse_duration("7ms", 10000, &v) == 0 && v == 7);
    CHECK(cli_parse_duration("1m", 60000, &v) == 0 && v == 60000);
    CHECK(cli_parse_duration("1m", 59999, &v) == -EINVAL);
    CHECK(cli_parse_duration("1.5s", 60000, &v) == -EINVAL);
    CHECK(cli_parse_duration("1S", 60000, &v) == -EINVAL);
    buf_finish(&err);
}

static void test_values(void)
{
    struct cli_options o;
    struct buf err = {0};

    CHECK(parse(ARGS("--role=pub", "--listen", "[::1]:8080"), &o, &err) == 0);
    CHECK(strcmp(o.listen_host, "::1") == 0 && o.listen_port == 8080);
    CHECK(parse(ARGS("--listen=127.0.0.1:80", "--role=pub"), &o, &err) == 0);
    CHECK(strcmp(o.listen_host, "127.0.0.1") == 0 && o.listen_port == 80);

    /* An endpoint of either kind replaces the role's default endpoint. */
    CHECK(parse(ARGS("--role=pub", "--connect=tcp://h:1"), &o, &err) == 0);
    CHECK(o.endpoints.nbinds == 0 && o.endpoints.nconnects == 1 &&
          strcmp(o.endpoints.connects[0], "tcp://h:1") == 0);
    CHECK(parse(ARGS("--role=sub", "--bind", "ipc:///tmp/x"), &o, &err) == 0);
    CHECK(o.endpoints.nconnects == 0 && o.endpoints.nbinds == 1 &&
          strcmp(o.endpoints.binds[0], "ipc:///tmp/x") == 0);

    CHECK(parse(ARGS("--role=pub", "--wire=framed", "--topic", "news"), &o, &err) == 0);
    CHECK(o.wire == WIRE_FRAMED && o.ntopics == 1 && strcmp(o.topics[0], "news") == 0);
    CHECK(parse(ARGS("--wire", "framed", "--role=pub"), &o, &err) == 0);
    CHECK(o.wire == WIRE_FRAMED && o.ntopics == 1 && strcmp(o.topics[0], "downcase") == 0);
    CHECK(parse(ARGS("--role=pub", "--wire=plain"), &o, &err) == 0);
    CHECK(o.wire == WIRE_PLAIN);

    CHECK(parse(ARGS("--role=sub", "--wire=framed"), &o, &err) == 0);
    CHECK(o.expect == CLI_EXPECT_FRAMED);
    CHECK(parse(ARGS("--role=sub", "--wire", "plain"), &o, &err) == 0);
    CHECK(o.expect == CLI_EXPECT_PLAIN);

    /* "-" is a value, not a flag; a value starting with "--" is possible in the = form. */
    CHECK(parse(ARGS("--role=sub", "--log", "-"), &o, &err) == 0);
    CHECK(strcmp(o.log_path, "-") == 0);
    CHECK(parse(ARGS("--role=sub", "--log=--role=pub"), &o, &err) == 0);
    CHECK(o.role == CLI_ROLE_SUB && strcmp(o.log_path, "--role=pub") == 0);
    CHECK(parse(ARGS("--role=sub", "--log", "/var/log/x.log"), &o, &err) == 0);
    CHECK(strcmp(o.log_path, "/var/log/x.log") == 0);
    CHECK(parse(ARGS("--role=sub", "--log=a=b"), &o, &err) == 0);
    CHECK(strcmp(o.log_path, "a=b") == 0);

    static const struct {
        const char *arg;
        enum logline_format format;
    } formats[] = {
        {"--log-format=text", LOGLINE_TEXT},
        {"--log-format=json", LOGLINE_JSON},
        {"--log-format=python", LOGLINE_PYTHON},
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        CHECK(parse(ARGS("--role=sub", formats[i].arg), &o, &err) == 0);
        CHECK(o.log_format == formats[i].format);
    }
    CHECK(parse(ARGS("--role=sub", "--log-format", "json"), &o, &err) == 0);
    CHECK(o.log_format == LOGLINE_JSON);

    /* Sub topics are prefixes, kept in order; the empty prefix is a real one. */
    CHECK(parse(ARGS("--role=sub", "--topic=a", "--topic", "b", "--topic="), &o, &err) == 0);
    CHECK(o.ntopics == 3 && strcmp(o.topics[0], "a") == 0 && strcmp(o.topics[1], "b") == 0 &&
          strcmp(o.topics[2], "") == 0);

    /* A failed parse followed by a good one: nothing of the first is left in the options. */
    CHECK(parse(ARGS("--role=sub", "--bind=tcp://*:9", "--wire=bad"), &o, &err) == -EINVAL);
    CHECK(parse(ARGS("--role=sub"), &o, &err) == 0);
    CHECK(o.endpoints.nbinds == 0 && o.endpoints.nconnects == 1 && o.expect == CLI_EXPECT_ANY);
    buf_finish(&err);
}

static void test_help_version(void)
{
    static const struct {
        const char *argv[8];
        bool help;
        bool version;
    } cases[] = {
        {{"--help", NULL}, true, false},
        {{"-h", NULL}, true, false},
        {{"--version", NULL}, false, true},
        {{"-V", NULL}, false, true},
        {{"-h", "-V", NULL}, true, true},
        {{"--role=pub", "--help", NULL}, true, false},
        /* Without a role nothing is role-checked: help is shown as asked. */
        {{"--log=x", "-h", NULL}, true, false},
        {{"--role=pub", "--log=x", "--version", NULL}, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cli_options o;
        struct buf err = {0};
        int rc = parse(cases[i].argv, &o, &err);
        if (rc != 0) {
            fprintf(stderr, "help case %zu: rc %d, err [%.*s]\n", i, rc, (int)err.len,
                    err.data ? err.data : "");
        }
        CHECK(rc == 0);
        CHECK(o.help == cases[i].help);
        CHECK(o.version == cases[i].version);
        buf_finish(&err);
    }
    struct cli_options o;
    struct buf err = {0};
    CHECK(parse(ARGS("--help"), &o, &err) == 0);
    CHECK(o.role == CLI_ROLE_NONE);
    CHECK(parse(ARGS("--help", "--role=x"), &o, &err) == -EINVAL);
    buf_finish(&err);
    const char *last = NULL;
    bool has_role = false;
    for (const char *const *part = cli_usage; *part; part++) {
        has_role = has_role || strstr(*part, "--role=pub|sub") != NULL;
        last = *part;
    }
    CHECK(has_role);
    CHECK(last != NULL && last[strlen(last) - 1] == '\n');
}

/* --probe=URL needs no role (a HEALTHCHECK runs it alone) and keeps the parsed target. */
static void test_probe_mode(void)
{
    struct cli_options o;
    struct buf err = {0};
    CHECK(parse(ARGS("--probe=http://127.0.0.1:5000/healthz"), &o, &err) == 0);
    CHECK(o.probe != NULL && strcmp(o.probe, "http://127.0.0.1:5000/healthz") == 0);
    CHECK(o.role == CLI_ROLE_NONE);
    CHECK(strcmp(o.probe_target.host, "127.0.0.1") == 0);
    CHECK(o.probe_target.port == 5000);
    CHECK(strcmp(o.probe_target.path, "/healthz") == 0);
    CHECK(parse(ARGS("--probe", "http://h/x"), &o, &err) == 0);
    CHECK(o.probe_target.port == 80);
    CHECK(parse(ARGS("--role=pub"), &o, &err) == 0);
    CHECK(o.probe == NULL);
    buf_finish(&err);
    CHECK(strstr(cli_usage[0], "--probe=URL") != NULL);
}

/* --bind, --connect and the sub's --topic collect up to 64 values, in order. */
static void test_repeatable(void)
{
    static const char *const names[] = {"--bind", "--connect", "--topic"};
    static const char *const values[] = {"tcp://a:1", "tcp://b:2", "ipc://c"};
    for (size_t f = 0; f < 3; f++) {
        for (int count = 1; count <= 65; count += (count == 1 ? 62 : 1)) {
            struct args a;
            args_init(&a);
            args_add(&a, "--role=sub");
            for (int k = 0; k < count; k++) {
                /* Alternate the two spellings and the values, so order is checkable. */
                if (k % 2 == 0) {
                    args_add(&a, names[f]);
                    args_add(&a, values[k % 3]);
                } else {
                    static char eq_form[3][3][32];
                    char *s = eq_form[f][k % 3];
                    snprintf(s, sizeof eq_form[f][k % 3], "%s=%s", names[f], values[k % 3]);
                    args_add(&a, s);
                }
            }
            struct cli_options o;
            struct buf err = {0};
            int rc = cli_parse(a.n, a.v, &o, &err);
            if (count <= 64) {
                CHECK(rc == 0);
                const char *const *list = f == 0   ? o.endpoints.binds
                                          : f == 1 ? o.endpoints.connects
                                                   : o.topics;
                size_t n = f == 0 ? o.endpoints.nbinds : f == 1 ? o.endpoints.nconnects : o.ntopics;
                CHECK(n == (size_t)count);
                int wrong = 0;
                for (size_t k = 0; k < n && k < (size_t)count; k++) {
                    if (strcmp(list[k], values[k % 3]) != 0) {
                        wrong++;
                    }
                }
                CHECK(wrong == 0);
            } else {
                CHECK(rc == -EINVAL);
                CHECK(err_has(&err, "64"));
                CHECK(err_has(&err, names[f]));
                CHECK(err.len > 0 && memchr(err.data, '\n', err.len) == NULL);
            }
            buf_finish(&err);
        }
    }
}

static const struct {
    const char *s;
    const char *host; /* NULL: rejected */
    int port;
} hostports[] = {
    {"127.0.0.1:80", "127.0.0.1", 80},
    {"0.0.0.0:5000", "0.0.0.0", 5000},
    {"[::1]:5000", "::1", 5000},
    {"[::]:0", "::", 0},
    {"localhost:65535", "localhost", 65535},
    {"example.com:443", "example.com", 443},
    {"h:1", "h", 1},
    {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
    {"[2001:db8::1]:65535", "2001:db8::1", 65535},
    {":80", NULL, 0},
    {"host:", NULL, 0},
    {"host", NULL, 0},
    {"host:65536", NULL, 0},
    {"host:99999", NULL, 0},
    {"host:123456", NULL, 0},
    {"host:-1", NULL, 0},
    {"host:+80", NULL, 0},
    {"host: 80", NULL, 0},
    {"host:80x", NULL, 0},
    {"host:0x50", NULL, 0},
    {"::1:80", NULL, 0}, /* IPv6 needs brackets */
    {"::1", NULL, 0},
    {"[::1]80", NULL, 0},
    {"[::1]", NULL, 0},
    {"[::1]:", NULL, 0},
    {"[::1:80", NULL, 0},
    {"[]:80", NULL, 0},
    {"", NULL, 0},
};

static void test_curve(void)
{
    struct cli_options o;
    struct buf err = {0};
    CHECK(parse(ARGS("--keygen=keys/server"), &o, &err) == 0);
    CHECK(o.keygen && strcmp(o.keygen, "keys/server") == 0 && o.role == CLI_ROLE_NONE);
    CHECK(parse(ARGS("--role=pub", "--curve-secret", "s_secret", "--curve-allow=dir"), &o, &err) ==
          0);
    CHECK(strcmp(o.curve_secret, "s_secret") == 0 && strcmp(o.curve_allow, "dir") == 0);
    CHECK(parse(ARGS("--role=pub", "--curve-secret=s_secret"), &o, &err) == 0);
    CHECK(o.curve_allow == NULL && o.curve_server == NULL);
    CHECK(parse(ARGS("--role=sub", "--curve-secret=c_secret", "--curve-server=s"), &o, &err) == 0);
    CHECK(strcmp(o.curve_secret, "c_secret") == 0 && strcmp(o.curve_server, "s") == 0);
    CHECK(parse(ARGS("--role=sub"), &o, &err) == 0);
    CHECK(o.curve_secret == NULL && o.curve_server == NULL && o.keygen == NULL);
    CHECK(o.nallow_from == 0);
    /* Reverse fan-in: the binding sub is the server, the connecting pub its client. */
    CHECK(parse(ARGS("--role=sub", "--bind=tcp://*:1", "--curve-secret=c", "--curve-allow=pubs"),
                &o, &err) == 0);
    CHECK(strcmp(o.curve_allow, "pubs") == 0 && o.curve_server == NULL);
    CHECK(parse(ARGS("--role=pub", "--connect=tcp://a:1", "--curve-secret=p", "--curve-server=c"),
                &o, &err) == 0);
    CHECK(strcmp(o.curve_server, "c") == 0 && o.curve_allow == NULL);
    /* The relay, both ways upstream. */
    CHECK(parse(ARGS("--role=relay", "--upstream=tcp://a:1", "--downstream=tcp://*:2",
                     "--curve-secret=r", "--curve-server=p", "--curve-allow=subs"),
                &o, &err) == 0);
    CHECK(strcmp(o.curve_server, "p") == 0 && strcmp(o.curve_allow, "subs") == 0 &&
          o.curve_allow_upstream == NULL);
    CHECK(parse(ARGS("--role=relay", "--upstream=@tcp://*:1", "--downstream=tcp://*:2",
                     "--curve-secret=r", "--curve-allow-upstream=pubs"),
                &o, &err) == 0);
    CHECK(strcmp(o.curve_allow_upstream, "pubs") == 0 && o.curve_server == NULL);
    /* --allow-from, repeatable, IPv4 and IPv6, parsed into ranges. */
    CHECK(parse(ARGS("--role=relay", "--upstream=tcp://a:1", "--downstream=tcp://*:2",
                     "--allow-from=10.0.0.0/8", "--allow-from", "::1"),
                &o, &err) == 0);
    CHECK(o.nallow_from == 2 && o.allow_from[0].bits == 96 + 8 && o.allow_from[1].bits == 128);
    buf_finish(&err);
}

static void test_split_hostport(void)
{
    for (size_t i = 0; i < sizeof hostports / sizeof hostports[0]; i++) {
        char host[64];
        strcpy(host, "untouched");
        int port = -7;
        int rc = cli_split_hostport(hostports[i].s, host, sizeof host, &port);
        if (hostports[i].host != NULL) {
            if (rc != 0) {
                fprintf(stderr, "hostport [%s] rejected\n", hostports[i].s);
            }
            CHECK(rc == 0);
            CHECK(strcmp(host, hostports[i].host) == 0);
            CHECK(port == hostports[i].port);
        } else {
            if (rc != -EINVAL) {
                fprintf(stderr, "hostport [%s]: rc %d, host [%s] port %d\n", hostports[i].s, rc,
                        host, port);
            }
            CHECK(rc == -EINVAL);
            /* A rejected string leaves the outputs alone. */
            CHECK(strcmp(host, "untouched") == 0 && port == -7);
        }
    }
    /* The host must fit with its NUL: hostsz - 1 characters fit, hostsz do not. */
    char s[300];
    char host[256];
    int port = 0;
    memset(s, 'h', 255);
    strcpy(s + 255, ":1");
    CHECK(cli_split_hostport(s, host, sizeof host, &port) == 0);
    CHECK(strlen(host) == 255 && port == 1);
    memset(s, 'h', 256);
    strcpy(s + 256, ":1");
    CHECK(cli_split_hostport(s, host, sizeof host, &port) == -EINVAL);
    s[0] = '[';
    memset(s + 1, 'a', 256);
    strcpy(s + 257, "]:2");
    CHECK(cli_split_hostport(s, host, sizeof host, &port) == -EINVAL);
    /* Through cli_parse, the listen host has room for 255 characters. */
    struct cli_options o;
    struct buf err = {0};
    memset(s, 'h', 255);
    strcpy(s + 255, ":1");
    CHECK(parse(ARGS("--role=pub", "--listen", s), &o, &err) == 0);
    CHECK(strlen(o.listen_host) == 255 && o.listen_port == 1);
    buf_finish(&err);
}

int main(void)
{
    test_errors();
    test_pub_defaults();
    test_sub_defaults();
    test_relay();
    test_values();
    test_limits();
    test_help_version();
    test_repeatable();
    test_split_hostport();
    test_curve();
    test_probe_mode();
    return CHECK_DONE();
}
