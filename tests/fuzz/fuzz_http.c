/* fuzz_http: the pub's whole request path, from the bytes a client sends to the bytes it gets
 * back: llhttp with http_conn's callbacks, the router, query decoding, lowercasing and the
 * response writer, all in this process and all instrumented.
 *
 * How it is driven: http_conn is bound to a uv_tcp_t, so the target runs a real server. On the
 * first input it creates a libuv loop and an http_server answering with router_handle, with a
 * router that has no publisher (router.c publishes only when it has one). The server listens
 * through http_server_listen (127.0.0.1, port 0), but its listening socket is then swapped for
 * a Unix stream socket (listen_unix says why and how; FUZZ_HTTP_TCP=1 keeps loopback TCP).
 * Each input is sent twice, on two connections: once whole, once in two or three pieces cut at
 * places derived from a hash of the input (so one input always replays the same way;
 * FUZZ_HTTP_SHOW=1 in the environment prints every response). An exchange connects an ordinary
 * non-blocking client socket and, before sending the next piece, turns the loop until the server
 * has read all that was sent (FIONREAD on the server's socket is 0), so each piece reaches the
 * parser in a read of its own and the state kept across reads is exercised. Then it shuts down
 * its side (at once, or after the server has read everything: the hash decides) and turns the
 * loop until it has read the server's end of stream and the server has freed the connection.
 *
 * Invariants:
 *  - the server closes by itself within 5 s (no hang) and never resets the connection;
 *  - what comes back, in both exchanges, is a sequence of whole responses: "HTTP/1.1 NNN
 *    Reason\r\n" with a reason we know, header lines "Name: value" (token names, no control byte
 *    but HTAB in values), exactly one Content-Length, a blank line, then exactly that many body
 *    bytes (none for HEAD), and a body that is valid UTF-8;
 *  - nothing follows a response that says "Connection: close";
 *  - the requests are parsed again here by a strict model of RFC 9112 written for this target
 *    (model_requests; neither http_screen nor llhttp), which says where each ends and whether
 *    a strict reading refuses it. No request the model refuses is ever answered 2xx, on its
 *    own or pipelined behind others (the request smuggling the screen is for);
 *  - no more responses than the valid requests plus one (the answer to a refused or incomplete
 *    one), and one for each valid request unless an answer ended the connection;
 *  - a 200 to GET or HEAD "/downcase/?QUERY" says exactly "lower case of P is L", P the 'param'
 *    of QUERY and L its lowercase (so answers come back whole and in request order), and HEAD
 *    announces that length without sending it;
 *  - the answers do not depend on how the input was cut into reads: both exchanges get the same
 *    bytes back (Date headers aside), except that when both end with a refusal, the refusals may
 *    differ (the comment in LLVMFuzzerTestOneInput says why). */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "buf.h"
#include "fuzz_model.h"
#include "fuzz_util.h"
#include "http_server.h"
#include "cli.h"
#include "downcase_route.h"
#include "metrics.h"
#include "publisher.h"
#include "router.h"
#include "status_routes.h"

#define EXCHANGE_TIMEOUT_NS (5 * 1000000000ull)
/* Requests paired with responses per input; an input with more pairs only the first ones. */
#define MAX_REQUESTS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The server outlives every input: libFuzzer's entry point has no context argument, so this
 * static is the target's one global, the loop context the style rules allow. */
struct fuzz_server {
    uv_loop_t loop;
    struct router router;
    struct sockaddr_storage addr; /* where clients connect */
    socklen_t addr_len;
    struct buf got;                  /* the bytes the client received, the input sent whole */
    struct buf split;                /* the same, the input sent in pieces */
    struct buf want;                 /* scratch for an expected body */
    struct buf norm_got, norm_split; /* got and split as compared (check_responses says how) */
    uint64_t connections;
    bool show; /* FUZZ_HTTP_SHOW set: print every response (to look at a few inputs) */
    struct cli_options options;
    void *zctx;
    struct publisher publisher;
    struct downcase_route route;
    struct status_routes status;
    struct http_server http;
};

/* Replaces the server's listening TCP socket by a Unix one, under the same descriptor.
 *
 * Why: each input costs two connections, thousands a second. Over loopback TCP every one of
 * them ends in TIME_WAIT, and where netfilter tracks connections (it does on these machines)
 * each also holds a conntrack entry for two minutes: a minute of fuzzing fills the table
 * (262144 entries), after which new connections are dropped, connect() waits for SYN
 * retransmits (1 s, 3 s, ... 35 s were seen), the fuzzer crawls and every other process on the
 * machine that opens a connection suffers too. A Unix stream socket has none of that, and the
 * server cannot tell: a uv_tcp_t reads, writes and shuts down any stream socket the same way
 * (only TCP_NODELAY fails, and http_conn ignores that it does), and closing with unread input
 * also makes the peer see ECONNRESET, as TCP's reset does.
 *
 * How: http_server_listen() has bound and registered 127.0.0.1:0, but epoll learns of the
 * descriptor only when the loop first runs, so dup2() puts the Unix socket (abstract address,
 * non-blocking as libuv wants) in its place before that. FUZZ_HTTP_TCP=1 keeps TCP. */
static void listen_unix(struct fuzz_server *fs)
{
    struct sockaddr_un *a = (struct sockaddr_un *)&fs->addr;
    memset(&fs->addr, 0, sizeof fs->addr);
    a->sun_family = AF_UNIX;
    /* sun_path[0] == '\0': an abstract address, gone with the process; no file to clean up. */
    int n =
        snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "downcase-fuzz-http-%ld", (long)getpid());
    fs->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (const struct sockaddr *)a, fs->addr_len) < 0 || listen(fd, 511) < 0) {
        fuzz_fail("a Unix listening socket", NULL, 0, "%s", strerror(errno));
    }
    uv_os_fd_t listener;
    int rc = uv_fileno((const uv_handle_t *)&fs->http.listener, &listener);
    if (rc < 0) {
        fuzz_fail("uv_fileno", NULL, 0, "%s", uv_strerror(rc));
    }
    if (dup2(fd, listener) < 0) {
        fuzz_fail("dup2", NULL, 0, "%s", strerror(errno));
    }
    close(fd);
}

static void render_metrics(void *owner, struct metrics *m)
{
    struct fuzz_server *fs = owner;
    metrics_http(m, &fs->http.conns);
    metrics_single(m, "downcase_published_messages_total", "counter", "Published.",
                   fs->publisher.published);
}

static struct fuzz_server *server_get(void)
{
    static struct fuzz_server *fs;
    if (fs) {
        return fs;
    }
    /* A client that goes away must not kill the process; downcase's main ignores it too. */
    signal(SIGPIPE, SIG_IGN);
    fs = calloc(1, sizeof *fs);
    if (fs == NULL) {
        fuzz_fail("calloc", NULL, 0, "server");
    }
    int rc = uv_loop_init(&fs->loop);
    if (rc < 0) {
        fuzz_fail("uv_loop_init", NULL, 0, "%s", uv_strerror(rc));
    }
    fs->show = getenv("FUZZ_HTTP_SHOW") != NULL;
    /* A real publisher on an inproc endpoint, so /downcase/ runs its whole path, publishing
     * included, and /metrics renders real counters. */
    static char arg0[] = "downcase", arg1[] = "--role=pub", arg2[] = "--wire=framed",
                arg3[] = "--bind=inproc://downcase-fuzz";
    static char *argv[] = {arg0, arg1, arg2, arg3, NULL};
    struct buf err = {0};
    if (cli_parse(4, argv, &fs->options, &err) < 0) {
        fuzz_fail("cli_parse", err.data, err.len, "options");
    }
    buf_finish(&err);
    fs->zctx = zmq_ctx_new();
    const struct publisher_config cfg = {
        .wire = fs->options.wire,
        .topic = fs->options.topics[0],
        .endpoints = &fs->options.endpoints,
        .tuning = {.hwm = fs->options.hwm, .heartbeat_ms = fs->options.heartbeat_ms},
        .retain_bytes = fs->options.retain_bytes,
    };
    if (fs->zctx == NULL || publisher_open(&fs->publisher, &fs->loop, fs->zctx, &cfg) < 0) {
        fuzz_fail("publisher_open", NULL, 0, "inproc publisher");
    }
    /* The pub's routes, as pub.c and runtime.c put them together. */
    router_init(&fs->router, DOWNCASE_ROUTE_NOT_FOUND);
    fs->status = (struct status_routes){.render = render_metrics, .owner = fs};
    if (status_routes_add(&fs->status, &fs->router) < 0 ||
        downcase_route_add(&fs->route, &fs->router, &fs->publisher) < 0) {
        fuzz_fail("router_add", NULL, 0, "routes");
    }
    http_server_init(&fs->http, &fs->loop, "fuzz", &fs->options.limits, router_handle,
                     &fs->router);
    rc = http_server_listen(&fs->http, "127.0.0.1", 0);
    if (rc < 0) {
        fuzz_fail("http_server_listen", NULL, 0, "%s", uv_strerror(rc));
    }
    if (getenv("FUZZ_HTTP_TCP")) {
        int len = sizeof fs->addr;
        rc = uv_tcp_getsockname(&fs->http.listener, (struct sockaddr *)&fs->addr, &len);
        if (rc < 0) {
            fuzz_fail("uv_tcp_getsockname", NULL, 0, "%s", uv_strerror(rc));
        }
        fs->addr_len = (socklen_t)len;
    } else {
        listen_unix(fs);
    }
    return fs;
}

/* ---- the server's side, seen through libuv's public handle list ---------------------------- */

struct probe {
    const uv_handle_t *listener;
    int conns;     /* TCP handles other than the listener, closing ones included */
    size_t unread; /* bytes waiting in the open ones' receive queues */
};

static void probe_handle(uv_handle_t *h, void *arg)
{
    struct probe *p = arg;
    if (h->type != UV_TCP || h == p->listener) {
        return;
    }
    p->conns++;
    uv_os_fd_t fd;
    int n = 0;
    if (!uv_is_closing(h) && uv_fileno(h, &fd) == 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0) {
        p->unread += (size_t)n;
    }
}

static struct probe probe(struct fuzz_server *fs)
{
    struct probe p = {.listener = (const uv_handle_t *)&fs->http.listener};
    uv_walk(&fs->loop, probe_handle, &p);
    return p;
}

/* ---- the client's side ---------------------------------------------------------------------- */

static uint64_t fnv1a(const uint8_t *d, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ d[i]) * 0x100000001b3ull;
    }
    return h;
}

/* Reads whatever the server has sent. Returns true at its end of stream. */
static bool drain(int fd, struct buf *got, const uint8_t *data, size_t size)
{
    for (;;) {
        char tmp[16384];
        ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n > 0) {
            if (buf_append(got, tmp, (size_t)n) < 0) {
                fuzz_fail("buf_append", NULL, 0, "out of memory");
            }
            continue;
        }
        if (n == 0) {
            return true;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return false;
        }
        /* A reset can destroy answers the client has not read yet: http_conn lingers so that
         * it never happens. */
        fuzz_fail("the server reset the connection", data, size, "recv: %s", strerror(errno));
    }
}

/* How one exchange sends the input: pieces data[cut[k-1]..cut[k]) for k = 1..3 (some may be
 * empty), and whether it shuts down its side at once after the last one. */
struct plan {
    size_t cut[4];
    bool shut_at_once;
};

/* The whole input in one send. */
static struct plan plan_whole(size_t size, uint64_t h)
{
    return (struct plan){.cut = {0, size, size, size}, .shut_at_once = (h >> 60) & 1};
}

/* Two or three pieces at places the hash picks. */
static struct plan plan_split(size_t size, uint64_t h)
{
    struct plan pl = {
        .cut = {0, (size_t)((h >> 8) % (size + 1)), (size_t)((h >> 32) % (size + 1)), size},
        .shut_at_once = (h >> 61) & 1};
    if (pl.cut[1] > pl.cut[2]) {
        size_t t = pl.cut[1];
        pl.cut[1] = pl.cut[2];
        pl.cut[2] = t;
    }
    if (h & 1) {
        pl.cut[2] = pl.cut[1]; /* two pieces */
    }
    return pl;
}

/* Sends data as planned and collects everything the server answers into got. */
static void exchange(struct fuzz_server *fs, const uint8_t *data, size_t size,
                     const struct plan *pl, struct buf *got)
{
    const size_t *cut = pl->cut;
    bool shut_at_once = pl->shut_at_once;

    int fd = socket(fs->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fuzz_fail("socket", NULL, 0, "%s", strerror(errno));
    }
    if (fs->addr.ss_family == AF_INET) {
        /* TCP: each connection ends in TIME_WAIT on the client's side (it shuts down first),
         * holding an ephemeral port of its source address for a minute unless the kernel
         * reuses it (tcp_tw_reuse); 250 source addresses in turn make ports last longer. */
        struct sockaddr_in from = {
            .sin_family = AF_INET,
            .sin_addr.s_addr = htonl(0x7F000002u + (uint32_t)(fs->connections++ % 250)),
        };
        int one = 1;
        if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) == 0) {
            (void)bind(fd, (const struct sockaddr *)&from, sizeof from);
        }
    }
    /* Blocking: the kernel completes a local connection before the server accepts it. */
    if (connect(fd, (const struct sockaddr *)&fs->addr, fs->addr_len) < 0) {
        fuzz_fail("connect", NULL, 0, "%s", strerror(errno));
    }
    got->len = 0;
    size_t sent = 0;
    int piece = 1;
    bool shut = false;
    bool eof = false;
    bool seen = false;
    uint64_t deadline = uv_hrtime() + EXCHANGE_TIMEOUT_NS;
    for (;;) {
        /* What the server has read is judged by a probe taken after the send and a turn of the
         * loop: a probe taken before the send would say it has read what it has not yet had. */
        struct probe p = probe(fs);
        size_t probed_sent = sent;
        seen = seen || p.conns > 0;
        bool gone = seen && p.conns == 0;
        if (!shut && gone) {
            shut = true; /* the server is done with us: nothing more can be sent */
        }
        if (!shut && sent < cut[piece]) {
            ssize_t n = send(fd, data + sent, cut[piece] - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                sent += (size_t)n;
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                shut = true; /* the server stopped reading and closed: allowed after an error */
            }
        }
        bool caught_up = seen && p.unread == 0 && probed_sent == sent;
        while (!shut && piece < 3 && sent == cut[piece] && cut[piece + 1] == sent) {
            piece++; /* an empty piece: nothing to wait for */
        }
        if (!shut && sent == cut[piece] && piece < 3 && caught_up) {
            piece++;
        } else if (!shut && sent == size && piece == 3 && (shut_at_once || caught_up)) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        eof = eof || drain(fd, got, data, size);
        if (eof && gone) {
            break;
        }
        if (uv_hrtime() > deadline) {
            fuzz_fail("the exchange ended within 5 s", data, size,
                      "sent %zu of %zu bytes, received %zu, server end of stream %s, %d server "
                      "connection(s)",
                      sent, size, got->len, eof ? "seen" : "not seen", p.conns);
        }
        uv_run(&fs->loop, UV_RUN_NOWAIT);
    }
    close(fd);
}

/* ---- the requests, parsed again by a strict model of RFC 9112 --------------------------------- *
 * Written here apart from src/ (no http_screen, no llhttp): a second reading of the same bytes,
 * line by line where the screen is a byte-wise state machine, that says where each request ends
 * and whether RFC 9112 read strictly refuses it. It pairs the answers with the requests and
 * judges them: a request it refuses must never be answered 2xx. Strict means: every line ends in
 * CRLF (no bare CR, no bare LF), no obsolete folding, the request line as "token SP target SP
 * HTTP/d.d", field lines as "token ':' value" with no control byte in the value, at most one
 * framing (Content-Length: 1*DIGIT once, or a Transfer-Encoding list ending in chunked, not in
 * HTTP/1.0), exactly one Host of the form uri-host [":" port] in HTTP/1.1, HTTP/1.x only, and
 * chunked bodies framed exactly (sizes, extensions by their grammar, CRLF after the data,
 * trailer field lines, the final CRLF). A request with "Expect: 100-continue" and a body may be
 * answered from its head (RFC 9110 section 10.1.1), so its body is not judged and the model
 * reads no further, as the server does not. */

enum verdict {
    REQ_VALID,
    REQ_INCOMPLETE, /* the input ends inside it */
    REQ_REFUSED,    /* the strict model refuses it: it must not be answered 2xx */
};

struct request {
    int method;        /* HTTP_GET, HTTP_HEAD, or -1 for any other */
    size_t target_off; /* into requests.targets */
    size_t target_len;
    enum verdict verdict;
};

struct requests {
    size_t n;     /* requests read: the valid ones, then at most one more that is not */
    size_t valid; /* of which valid */
    struct request r[MAX_REQUESTS];
    struct buf targets;
};

/* A cursor over the input. */
struct rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

static bool m_tchar(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool m_visible(uint8_t c) /* VCHAR / obs-text */
{
    return (c > 0x20 && c < 0x7f) || c >= 0x80;
}

static bool m_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool m_hex(uint8_t c)
{
    return m_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* unreserved / sub-delims but ',' (RFC 3986 section 2) */
static bool m_regname(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || m_digit(c) ||
           (c != '\0' && strchr("-._~!$&'()*+;=", c) != NULL);
}

static size_t m_ows(const uint8_t *l, size_t n, size_t i)
{
    while (i < n && (l[i] == ' ' || l[i] == '\t')) {
        i++;
    }
    return i;
}

/* The next line: sets *line and *n (without its CRLF) and moves past it. */
static enum verdict m_line(struct rd *r, const uint8_t **line, size_t *n)
{
    const uint8_t *s = r->p + r->pos;
    size_t left = r->len - r->pos;
    for (size_t i = 0; i < left; i++) {
        if (s[i] == '\n') {
            return REQ_REFUSED; /* LF without CR */
        }
        if (s[i] == '\r') {
            if (i + 1 == left) {
                return REQ_INCOMPLETE;
            }
            if (s[i + 1] != '\n') {
                return REQ_REFUSED; /* CR without LF */
            }
            *line = s;
            *n = i;
            r->pos += i + 2;
            return REQ_VALID;
        }
    }
    return REQ_INCOMPLETE;
}

/* RFC 9110 section 5.5, 9112 section 5: name, ':', OWS, value, OWS. */
static bool m_field(const uint8_t *l, size_t n, size_t *name_len, const uint8_t **v, size_t *vn)
{
    size_t i = 0;
    while (i < n && m_tchar(l[i])) {
        i++;
    }
    if (i == 0 || i == n || l[i] != ':') {
        return false;
    }
    *name_len = i;
    for (size_t k = i + 1; k < n; k++) {
        if (!m_visible(l[k]) && l[k] != ' ' && l[k] != '\t') {
            return false;
        }
    }
    size_t a = i + 1;
    size_t b = n;
    while (a < b && (l[a] == ' ' || l[a] == '\t')) {
        a++;
    }
    while (b > a && (l[b - 1] == ' ' || l[b - 1] == '\t')) {
        b--;
    }
    *v = l + a;
    *vn = b - a;
    return true;
}

static bool m_is(const uint8_t *s, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp((const char *)s, lit, n) == 0;
}

/* uri-host [ ":" port ] (RFC 9112 section 3.2, RFC 3986 section 3.2.2), without the comma a
 * reg-name may hold (a comma makes the field a list: two hosts). */
static bool m_host(const uint8_t *v, size_t n)
{
    size_t i = 0;
    if (n > 0 && v[0] == '[') {
        const uint8_t *close = memchr(v, ']', n);
        if (close == NULL || close == v + 1) {
            return false;
        }
        for (const uint8_t *c = v + 1; c < close; c++) {
            if (!m_regname(*c) && *c != ':') {
                return false;
            }
        }
        i = (size_t)(close - v) + 1;
    } else {
        for (; i < n && v[i] != ':'; i++) {
            if (v[i] == '%') {
                if (i + 2 >= n || !m_hex(v[i + 1]) || !m_hex(v[i + 2])) {
                    return false;
                }
                i += 2;
            } else if (!m_regname(v[i])) {
                return false;
            }
        }
    }
    if (i == n) {
        return true;
    }
    if (v[i] != ':') {
        return false;
    }
    for (i++; i < n; i++) {
        if (!m_digit(v[i])) {
            return false;
        }
    }
    return true;
}

/* chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), RFC 9112 7.1.1 */
static bool m_chunk_ext(const uint8_t *l, size_t n)
{
    size_t i = 0;
    while (i < n) {
        i = m_ows(l, n, i);
        if (i == n || l[i] != ';') {
            return false;
        }
        i = m_ows(l, n, i + 1);
        size_t name = i;
        while (i < n && m_tchar(l[i])) {
            i++;
        }
        if (i == name) {
            return false;
        }
        size_t eq = m_ows(l, n, i);
        if (eq == n || l[eq] != '=') {
            continue; /* no value: what follows must be BWS ";" */
        }
        i = m_ows(l, n, eq + 1);
        if (i < n && l[i] == '"') {
            for (i++; i < n && l[i] != '"'; i++) {
                if (l[i] == '\\') {
                    i++;
                }
                if (i == n || !(m_visible(l[i]) || l[i] == ' ' || l[i] == '\t')) {
                    return false;
                }
            }
            if (i == n) {
                return false;
            }
            i++;
        } else {
            size_t value = i;
            while (i < n && m_tchar(l[i])) {
                i++;
            }
            if (i == value) {
                return false;
            }
        }
    }
    return true;
}

/* A chunked body (RFC 9112 section 7.1), from r's position. */
static enum verdict m_chunked(struct rd *r)
{
    for (;;) {
        const uint8_t *l;
        size_t n;
        enum verdict v = m_line(r, &l, &n);
        if (v != REQ_VALID) {
            return v;
        }
        size_t i = 0;
        uint64_t size = 0;
        while (i < n && m_hex(l[i])) {
            if (size >> 40) {
                return REQ_REFUSED; /* larger than any body a server takes */
            }
            size = size * 16 + (uint64_t)(m_digit(l[i]) ? l[i] - '0' : (l[i] | 0x20) - 'a' + 10);
            i++;
        }
        if (i == 0 || !m_chunk_ext(l + i, n - i)) {
            return REQ_REFUSED;
        }
        if (size == 0) {
            break;
        }
        if (r->len - r->pos < size) {
            return REQ_INCOMPLETE;
        }
        r->pos += (size_t)size;
        const uint8_t *crlf = r->p + r->pos;
        size_t left = r->len - r->pos;
        if ((left >= 1 && crlf[0] != '\r') || (left >= 2 && crlf[1] != '\n')) {
            return REQ_REFUSED;
        }
        if (left < 2) {
            return REQ_INCOMPLETE;
        }
        r->pos += 2;
    }
    for (;;) { /* the trailer section */
        const uint8_t *l;
        size_t n;
        enum verdict v = m_line(r, &l, &n);
        if (v != REQ_VALID || n == 0) {
            return v;
        }
        size_t name_len;
        const uint8_t *value;
        size_t value_len;
        if (!m_field(l, n, &name_len, &value, &value_len)) {
            return REQ_REFUSED;
        }
    }
}

/* One request from r's position; *head_only when the server may answer it from its head. */
static enum verdict m_request(struct rd *r, struct requests *rq, struct request *q, bool *head_only)
{
    const uint8_t *l;
    size_t n;
    enum verdict v = m_line(r, &l, &n);
    if (v != REQ_VALID) {
        return v;
    }
    /* request-line = method SP request-target SP HTTP-version */
    const uint8_t *sp1 = memchr(l, ' ', n);
    if (sp1 == NULL || sp1 == l || n - (size_t)(sp1 - l) < 11) {
        return REQ_REFUSED;
    }
    for (const uint8_t *c = l; c < sp1; c++) {
        if (!m_tchar(*c)) {
            return REQ_REFUSED;
        }
    }
    const uint8_t *target = sp1 + 1;
    const uint8_t *version = l + n - 8;
    if (version[-1] != ' ' || version - 1 == target || memcmp(version, "HTTP/", 5) != 0 ||
        !m_digit(version[5]) || version[6] != '.' || !m_digit(version[7])) {
        return REQ_REFUSED;
    }
    for (const uint8_t *c = target; c < version - 1; c++) {
        if (!m_visible(*c)) {
            return REQ_REFUSED;
        }
    }
    size_t method_len = (size_t)(sp1 - l);
    q->method = method_len == 3 && memcmp(l, "GET", 3) == 0    ? HTTP_GET
                : method_len == 4 && memcmp(l, "HEAD", 4) == 0 ? HTTP_HEAD
                                                               : -1;
    q->target_off = rq->targets.len;
    q->target_len = (size_t)(version - 1 - target);
    if (buf_append(&rq->targets, target, q->target_len) < 0) {
        fuzz_fail("buf_append", NULL, 0, "out of memory");
    }
    bool http10 = version[7] == '0';
    if (version[5] != '1') {
        return REQ_REFUSED; /* only HTTP/1.x may be answered 2xx */
    }
    /* The field lines. */
    unsigned hosts = 0;
    unsigned lengths = 0;
    uint64_t length = 0;
    bool te = false;
    bool chunked = false; /* the last transfer coding so far is chunked */
    bool expect = false;
    for (;;) {
        v = m_line(r, &l, &n);
        if (v != REQ_VALID) {
            return v;
        }
        if (n == 0) {
            break;
        }
        size_t name_len;
        const uint8_t *value;
        size_t value_len;
        if (!m_field(l, n, &name_len, &value, &value_len)) {
            return REQ_REFUSED;
        }
        if (m_is(l, name_len, "host")) {
            hosts++;
            if (!m_host(value, value_len)) {
                return REQ_REFUSED;
            }
        } else if (m_is(l, name_len, "content-length")) {
            lengths++;
            length = 0;
            for (size_t k = 0; k < value_len; k++) {
                if (!m_digit(value[k]) || length > UINT64_MAX / 20) {
                    return REQ_REFUSED;
                }
                length = length * 10 + (uint64_t)(value[k] - '0');
            }
            if (value_len == 0) {
                return REQ_REFUSED;
            }
        } else if (m_is(l, name_len, "transfer-encoding")) {
            /* A list of codings, each a token (RFC 9110 section 5.6.1: empty elements are
             * ignored); chunked may only be the last. */
            te = true;
            for (size_t k = 0; k < value_len;) {
                size_t start = k;
                while (k < value_len && m_tchar(value[k])) {
                    k++;
                }
                if (k > start) {
                    if (chunked) {
                        return REQ_REFUSED; /* a coding after chunked */
                    }
                    chunked = m_is(value + start, k - start, "chunked");
                }
                k = m_ows(value, value_len, k);
                if (k < value_len && value[k] != ',') {
                    return REQ_REFUSED;
                }
                k = m_ows(value, value_len, k + 1);
            }
        } else if (m_is(l, name_len, "expect") && m_is(value, value_len, "100-continue")) {
            expect = true;
        }
    }
    if ((!http10 && hosts != 1) || lengths > 1 || (te && (lengths > 0 || http10 || !chunked))) {
        return REQ_REFUSED;
    }
    if (expect && !http10 && (te || length > 0)) {
        *head_only = true;
        return REQ_VALID;
    }
    if (te) {
        return m_chunked(r);
    }
    if (r->len - r->pos < length) {
        return REQ_INCOMPLETE;
    }
    r->pos += (size_t)length;
    return REQ_VALID;
}

static void model_requests(struct requests *rq, const uint8_t *data, size_t size)
{
    struct rd r = {data, size, 0};
    rq->n = 0;
    rq->valid = 0;
    rq->targets.len = 0;
    for (;;) {
        /* Empty lines before a request line are skipped (RFC 9112 section 2.2). */
        while (size - r.pos >= 2 && data[r.pos] == '\r' && data[r.pos + 1] == '\n') {
            r.pos += 2;
        }
        if (r.pos == size) {
            return;
        }
        struct request spare;
        struct request *q = rq->n < MAX_REQUESTS ? &rq->r[rq->n] : &spare;
        *q = (struct request){.method = -1, .verdict = REQ_INCOMPLETE};
        bool head_only = false;
        q->verdict = m_request(&r, rq, q, &head_only);
        rq->n++;
        if (q->verdict != REQ_VALID) {
            return;
        }
        rq->valid++;
        if (head_only) {
            return;
        }
    }
}

/* ---- the responses ---------------------------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The body a 200 to GET "/downcase/?QUERY#frag" must have, into fs->want, from fuzz_model (not
 * from query_get and lower_utf8, which are under test). NOT_DOWNCASE when the target is not of
 * that form (other forms reach the router too, but are not checked here); NO_200 when it has no
 * 'param' or one that is not UTF-8. */
enum expected { NOT_DOWNCASE, NO_200, WANT_200 };
static enum expected expected_downcase(struct fuzz_server *fs, const char *t, size_t len)
{
    static const char path[] = "/downcase/?";
    if (len < sizeof path - 1 || memcmp(t, path, sizeof path - 1) != 0) {
        return NOT_DOWNCASE;
    }
    const char *q = t + sizeof path - 1;
    const char *hash = memchr(q, '#', len - (sizeof path - 1));
    size_t qlen = hash ? (size_t)(hash - q) : len - (sizeof path - 1);
    struct buf param = {0};
    struct buf *w = &fs->want;
    w->len = 0;
    fuzz_model_load(FUZZ_LOWER_REFERENCE);
    bool ok = fuzz_model_param(q, qlen, "param", &param) &&
              buf_append_str(w, "lower case of ") == 0 &&
              buf_append(w, param.data, param.len) == 0 && buf_append_str(w, " is ") == 0 &&
              fuzz_model_lower(param.data, param.len, w);
    buf_finish(&param);
    return ok ? WANT_200 : NO_200; /* no 'param', or not UTF-8: a 400 is due */
}

/* What check_responses saw of the last answer, to compare two exchanges. */
struct last_answer {
    size_t start; /* offset of the last response in the copy to compare (0 when there is none) */
    bool refusal; /* it is an error (4xx/5xx) that ends the connection */
};

/* Checks the answers in got and copies them into norm, the form in which two exchanges are
 * compared: as they came, but a /metrics answer reduced to its status line, since its counters
 * (requests, bytes, connections) have moved on between the two exchanges. */
static struct last_answer check_responses(struct fuzz_server *fs, const struct requests *rq,
                                          const struct buf *got, struct buf *norm)
{
    static const char metrics_type[] = "\r\nContent-Type: text/plain; version=0.0.4";
    norm->len = 0;
    struct last_answer last = {0, false};
    const char *g = got->data;
    size_t glen = got->len;
    size_t pos = 0;
    size_t i = 0; /* response index */
    bool closed = false;
    while (pos < glen) {
        const char *r = g + pos;
        size_t left = glen - pos;
        const char *end = memmem(r, left, "\r\n\r\n", 4);
        FUZZ_CHECK(end != NULL, r, left); /* a whole header block */
        size_t head_len = (size_t)(end - r) + 4;
        FUZZ_CHECK(i <= rq->valid, g, glen); /* at most one answer more than requests */
        /* Status line. */
        FUZZ_CHECK(head_len > 13 && memcmp(r, "HTTP/1.1 ", 9) == 0, r, head_len);
        FUZZ_CHECK(r[9] >= '1' && r[9] <= '5' && r[10] >= '0' && r[10] <= '9' && r[11] >= '0' &&
                       r[11] <= '9' && r[12] == ' ',
                   r, head_len);
        int status = (r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0');
        const char *eol = memmem(r, head_len, "\r\n", 2);
        const char *reason = r + 13;
        const char *known = http_status_text(status);
        size_t known_len = strlen(known);
        FUZZ_CHECK(strcmp(known, "Unknown") != 0 && (size_t)(eol - reason) == known_len &&
                       memcmp(reason, known, known_len) == 0,
                   r, head_len);
        /* Header lines. */
        size_t content_lengths = 0;
        size_t cl = 0;
        bool conn_close = false;
        const char *line = eol + 2;
        while (line < end + 2) {
            const char *le = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
            const char *colon = memchr(line, ':', (size_t)(le - line));
            FUZZ_CHECK(colon != NULL && colon > line && colon + 1 < le && colon[1] == ' ', line,
                       (size_t)(le - line));
            for (const char *c = line; c < colon; c++) {
                FUZZ_CHECK(is_tchar((unsigned char)*c), line, (size_t)(le - line));
            }
            for (const char *c = colon + 2; c < le; c++) {
                unsigned char u = (unsigned char)*c;
                FUZZ_CHECK(u == '\t' || (u >= 0x20 && u != 0x7F), line, (size_t)(le - line));
            }
            size_t name_len = (size_t)(colon - line);
            const char *v = colon + 2;
            size_t vlen = (size_t)(le - v);
            if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                content_lengths++;
                FUZZ_CHECK(vlen > 0 && vlen < 10, line, (size_t)(le - line));
                cl = 0;
                for (size_t k = 0; k < vlen; k++) {
                    FUZZ_CHECK(v[k] >= '0' && v[k] <= '9', line, (size_t)(le - line));
                    cl = cl * 10 + (size_t)(v[k] - '0');
                }
            }
            if (name_len == 10 && strncasecmp(line, "Connection", 10) == 0 && vlen == 5 &&
                strncasecmp(v, "close", 5) == 0) {
                conn_close = true;
            }
            line = le + 2;
        }
        FUZZ_CHECK(content_lengths == 1, r, head_len);
        /* Body: none for HEAD, except an error answer (it ends the connection) which always
         * carries one. */
        const struct request *req = i < rq->n && i < MAX_REQUESTS ? &rq->r[i] : NULL;
        /* The invariant the screen is for: what a strict reading refuses is never served. */
        if (status >= 200 && status < 300 && i < MAX_REQUESTS) {
            FUZZ_CHECK(req != NULL && req->verdict != REQ_REFUSED, r, head_len);
        }
        size_t rest = left - head_len;
        bool head = req && req->method == HTTP_HEAD && !(conn_close && rest == cl && cl > 0);
        size_t body_len = head ? 0 : cl;
        FUZZ_CHECK(rest >= body_len, r, left); /* the whole body arrived */
        const char *body = r + head_len;
        FUZZ_CHECK(fuzz_utf8_valid(body, body_len), r, head_len + body_len);
        if (req && status == 200 && (req->method == HTTP_GET || req->method == HTTP_HEAD)) {
            enum expected e =
                expected_downcase(fs, rq->targets.data + req->target_off, req->target_len);
            FUZZ_CHECK(e != NO_200, r, head_len + body_len);
            if (e == WANT_200) {
                FUZZ_CHECK(cl == fs->want.len, r, head_len + body_len);
                FUZZ_CHECK(head || memcmp(body, fs->want.data, cl) == 0, r, head_len + body_len);
            }
        }
        last.start = norm->len;
        last.refusal = conn_close && status >= 400;
        bool metrics = memmem(r, head_len, metrics_type, sizeof metrics_type - 1) != NULL;
        if (buf_append(norm, r, metrics ? (size_t)(eol - r) : head_len + body_len) < 0 ||
            (metrics && buf_append_str(norm, " (metrics)\r\n\r\n") < 0)) {
            fuzz_fail("buf_append", NULL, 0, "out of memory");
        }
        pos += head_len + body_len;
        i++;
        closed = conn_close;
        if (conn_close) {
            FUZZ_CHECK(pos == glen, g, glen); /* nothing after Connection: close */
        }
    }
    /* Unless the connection was ended by an answer, every complete request was answered. */
    if (!closed) {
        FUZZ_CHECK(i == rq->valid, g, glen);
    }
    return last;
}

/* Overwrites the value of every Date header, the one part of an answer that may differ
 * between two exchanges of the same input (they can straddle a second). */
static void blank_dates(struct buf *b)
{
    static const char date[] = "\r\nDate: ";
    if (b->len == 0) {
        return; /* b->data may be NULL */
    }
    char *p = b->data;
    char *end = b->data + b->len;
    while ((p = memmem(p, (size_t)(end - p), date, sizeof date - 1)) != NULL) {
        p += sizeof date - 1;
        while (p < end && *p != '\r') {
            *p++ = '-';
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct requests rq;
    struct fuzz_server *fs = server_get();
    uint64_t h = fnv1a(data, size);
    struct plan whole = plan_whole(size, h);
    struct plan split = plan_split(size, h);
    exchange(fs, data, size, &whole, &fs->got);
    exchange(fs, data, size, &split, &fs->split);
    if (fs->show) {
        fprintf(stderr, "---- %zu bytes in, sent whole: %zu bytes out:\n%.*s\n", size, fs->got.len,
                (int)fs->got.len, fs->got.data ? fs->got.data : "");
        fprintf(stderr, "---- cut at %zu and %zu: %zu bytes out:\n%.*s\n", split.cut[1],
                split.cut[2], fs->split.len, (int)fs->split.len,
                fs->split.data ? fs->split.data : "");
    }
    model_requests(&rq, data, size);
    struct last_answer a = check_responses(fs, &rq, &fs->got, &fs->norm_got);
    struct last_answer b = check_responses(fs, &rq, &fs->split, &fs->norm_split);
    /* How the bytes were cut into reads must not change the answers, with one exception: when
     * both exchanges end with a refusal, which one may depend on the reads (a target too long
     * and, further on, malformed is refused as too long when a read ends inside it, as
     * malformed when it comes whole: llhttp hands over the target only at its end or a read's),
     * so then only the answers before it are compared. */
    blank_dates(&fs->norm_got);
    blank_dates(&fs->norm_split);
    size_t len_a = a.refusal && b.refusal ? a.start : fs->norm_got.len;
    size_t len_b = a.refusal && b.refusal ? b.start : fs->norm_split.len;
    if (len_a != len_b ||
        (len_a > 0 && memcmp(fs->norm_got.data, fs->norm_split.data, len_a) != 0)) {
        fprintf(stderr, "answers to the input sent whole:\n%.*s\n", (int)fs->got.len,
                fs->got.data ? fs->got.data : "");
        fuzz_fail("the same answers however the input is cut", fs->split.data, fs->split.len,
                  "answers to the input cut at %zu and %zu", split.cut[1], split.cut[2]);
    }
    return 0;
}
