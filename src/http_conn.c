/* http_conn: one HTTP/1.1 connection (design notes in http_conn.h). */
#include "http_conn.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diag.h"
#include "http_screen.h"

/* Where a connection is in its request cycle; decides which timeout applies. */
enum phase {
    PHASE_HEAD, /* waiting for a request's headers: --header-timeout from its first byte */
    PHASE_BODY, /* reading a body: --idle-timeout without progress */
    PHASE_IDLE, /* between requests: --idle-timeout without progress */
};

/* The request headers the callbacks look at. */
enum field_kind {
    FIELD_OTHER,
    FIELD_HOST,
    FIELD_EXPECT,
    FIELD_TRANSFER_ENCODING,
};

/* Where te_scan is in a Transfer-Encoding value. */
enum te_state {
    TE_ELEMENT, /* at the start of a list element: whitespace, a coding's name, or ',' */
    TE_NAME,    /* inside a coding's name */
    TE_AFTER,   /* after a name: whitespace, then ',' */
};

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* the request timeouts, then the lingering close */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    llhttp_t parser;
    struct http_conns *conns;
    struct http_conn *prev;
    struct http_conn *next;
    struct buf target;   /* the current request's target, gathered across reads */
    struct buf headers;  /* its header lines, "name:value\n" each (http_request_header) */
    struct buf out;      /* answers not yet handed to the socket */
    struct buf inflight; /* answers owned by the uv_write in progress, from inflight_off */
    size_t inflight_off;
    struct buf tail;   /* input left unparsed by a backpressure pause */
    size_t head_bytes; /* target + header names and values of the current request */
    struct http_screen screen;
    enum phase phase;
    uint64_t head_deadline; /* uv_now() ms by which the headers must be in (PHASE_HEAD) */
    uint64_t last_activity; /* uv_now() ms of the last byte read or written */
    char field[17]; /* the start of the current header name: enough to spot the ones below */
    size_t field_len;
    enum field_kind field_kind; /* of the header whose value is being parsed */
    char expect[16];            /* the start of an Expect value */
    size_t expect_len;          /* bytes of it so far */
    size_t expect_end;          /* ... up to the last one that is not whitespace */
    unsigned hosts;
    bool transfer_encoding; /* the request has a Transfer-Encoding header */
    enum te_state te_state; /* where te_scan is in a Transfer-Encoding value */
    bool expect_continue;   /* ... an "Expect: 100-continue" */
    bool version_done;      /* llhttp has read the request line's version */
    bool method_refused;    /* llhttp refused the method: screening on to the line's end */
    int reject_status;      /* set by a callback that refuses the request */
    const char *reject_reason;
    int open_handles;
    bool in_message; /* a request has started and is not complete */
    bool writing;
    bool paused;    /* parser paused by backpressure; the rest of the input is in tail */
    bool finishing; /* no more requests on this connection: write, then close */
    bool eof;       /* the client has closed its side */
    bool lingering;
    bool closing;
    /* A streaming answer owns the connection (http_conn.h): set once its head is queued. */
    const struct http_stream_handler *stream;
    void *stream_ctx;
};

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void flush(struct http_conn *c);

const int http_status_codes[HTTP_STATUS_COUNTED] = {HTTP_STATUS_CODES};

void http_conns_count_status(struct http_conns *cs, int status)
{
    size_t i = 0;
    while (i < HTTP_STATUS_COUNTED && http_status_codes[i] != status) {
        i++;
    }
    cs->counters.responses[i]++;
}

/* ---- closing ------------------------------------------------------------------------------ */

static void on_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->open_handles > 0) {
        return;
    }
    struct http_conns *s = c->conns;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        s->first = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    s->n--;
    if (c->stream) {
        c->stream->closed(c->stream_ctx);
    }
    buf_finish(&c->target);
    buf_finish(&c->headers);
    buf_finish(&c->out);
    buf_finish(&c->inflight);
    buf_finish(&c->tail);
    free(c);
    if (s->on_gone) {
        s->on_gone(s);
    }
}

static void close_conn(struct http_conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    /* Pending write and shutdown requests complete with UV_ECANCELED before on_closed runs,
     * so the connection outlives every callback that refers to it. */
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    uv_close((uv_handle_t *)&c->timer, on_closed);
}

static void answer_error(struct http_conn *c, int status, const char *reason);

/* ---- timeouts ----------------------------------------------------------------------------- *
 * One timer per connection, armed from the accept until the lingering close and never further
 * ahead than the shorter of the two timeouts. When it fires it works out the deadline of the
 * connection's current phase (deadline() below) and either acts or re-arms for it, again no
 * further than that step. So nothing on the request path touches the timer: a request that
 * begins is due no earlier than the timer already is, and progress only moves deadlines later
 * (the lazy re-arming nginx and libuv's docs recommend). An idle connection's timer fires a few
 * times per idle timeout instead of once. */

static void on_timer(uv_timer_t *t);

static void arm(struct http_conn *c, uint64_t due)
{
    if (c->closing || c->lingering) {
        return;
    }
    const struct http_limits *l = &c->conns->limits;
    uint64_t now = uv_now(c->conns->loop);
    uint64_t step =
        l->header_timeout_ms < l->idle_timeout_ms ? l->header_timeout_ms : l->idle_timeout_ms;
    if (due > now + step) {
        due = now + step;
    }
    uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
}

static uint64_t deadline(const struct http_conn *c)
{
    const struct http_limits *l = &c->conns->limits;
    return c->phase == PHASE_HEAD ? c->head_deadline : c->last_activity + l->idle_timeout_ms;
}

static void on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    if (c->lingering) {
        close_conn(c);
        return;
    }
    if (c->stream && !c->writing) {
        /* A stream with nothing waiting is healthy however quiet it is. */
        c->last_activity = uv_now(c->conns->loop);
    }
    uint64_t due = deadline(c);
    if (uv_now(c->conns->loop) < due) {
        arm(c, due);
        return;
    }
    struct http_conns *s = c->conns;
    bool request_started = c->phase == PHASE_BODY || (c->phase == PHASE_HEAD && c->in_message);
    if (c->finishing || c->writing || c->paused || !request_started) {
        /* Nothing to answer, or a client that does not read its answers: close. */
        s->counters.idle_closed++;
        close_conn(c);
        return;
    }
    /* A request that stalled half-way (slowloris): tell the client, as nginx and Node do. */
    s->counters.header_timeouts++;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->tail.len = 0;
    answer_error(c, 408,
                 c->phase == PHASE_HEAD ? "the request headers did not arrive in time"
                                        : "the request body stalled");
    flush(c);
    arm(c, c->last_activity + s->limits.idle_timeout_ms);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_conn *c = req->data;
    if (c->closing) {
        return;
    }
    /* Everything is sent. Now only the client's leftover input matters: read it away until the
     * client closes or the timer runs out; a stopping server does not wait for it. */
    if (status < 0 || c->eof || c->conns->stopping ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        close_conn(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct http_conn *c = h->data;
    b->base = c->conns->readbuf;
    b->len = sizeof c->conns->readbuf;
}

static void start_linger(struct http_conn *c)
{
    if (c->lingering || c->closing) {
        return;
    }
    c->lingering = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        close_conn(c);
        return;
    }
    uv_timer_start(&c->timer, on_timer, HTTP_CONN_LINGER_MS, 0);
}

/* ---- answering ---------------------------------------------------------------------------- */

static void append_response(struct http_conn *c, const struct http_response *res,
                            enum http_connection_header ch, bool head)
{
    struct http_conns *s = c->conns;
    http_conns_count_status(s, res->status);
    if (http_response_format(&c->out, res, http_date_now(&s->date), ch, head) < 0) {
        diag(s->who, "out of memory answering a request; closing the connection");
        c->finishing = true;
    }
}

/* Answers a request the parser or a callback refused, and ends the connection: after a framing
 * error nothing that follows on the connection can be trusted. */
static void answer_error(struct http_conn *c, int status, const char *reason)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%d %s: %s\n", status, http_status_text(status), reason);
    struct http_response res = {
        .status = status,
        .body = body,
        .body_len = n < 0 ? 0 : ((size_t)n < sizeof body ? (size_t)n : sizeof body - 1),
    };
    c->conns->counters.requests++;
    append_response(c, &res, HTTP_CONN_CLOSE, false);
    c->finishing = true;
}

static void answer(struct http_conn *c, bool keep_alive)
{
    struct http_conns *s = c->conns;
    struct http_request req = {
        .method = llhttp_get_method(&c->parser),
        .target = c->target.data,
        .target_len = c->target.len,
        .http_major = llhttp_get_http_major(&c->parser),
        .http_minor = llhttp_get_http_minor(&c->parser),
        .headers = c->headers.data,
        .headers_len = c->headers.len,
    };
    struct http_response res = {0};
    s->handler(s->handler_ctx, &req, &res);
    s->counters.requests++;
    enum http_connection_header ch = !keep_alive || res.stream ? HTTP_CONN_CLOSE
                                     : req.http_minor == 0     ? HTTP_CONN_KEEP_ALIVE
                                                               : HTTP_CONN_NONE;
    append_response(c, &res, ch, req.method == HTTP_HEAD);
    if (res.stream) {
        /* From here the stream owns the connection; closed() gives stream_ctx back. */
        c->stream = res.stream;
        c->stream_ctx = res.stream_ctx;
        c->stream->opened(c->stream_ctx, c);
    }
}

const char *http_request_header(const struct http_request *req, const char *name, size_t *len)
{
    size_t name_len = strlen(name);
    const char *p = req->headers;
    const char *end = p ? p + req->headers_len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            eol = end;
        }
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && (size_t)(colon - p) == name_len && strncasecmp(p, name, name_len) == 0) {
            const char *v = colon + 1;
            const char *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            *len = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

/* ---- llhttp callbacks --------------------------------------------------------------------- */

static int reject(struct http_conn *c, int status, const char *reason)
{
    c->reject_status = status;
    c->reject_reason = reason;
    return HPE_USER;
}

static int count_head(struct http_conn *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes > c->conns->limits.max_header_bytes) {
        return reject(c, 431, "request header fields too large");
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->in_message = true;
    c->target.len = 0;
    c->headers.len = 0;
    c->head_bytes = 0;
    if (c->phase == PHASE_IDLE) {
        c->phase = PHASE_HEAD;
        c->head_deadline = uv_now(c->conns->loop) + c->conns->limits.header_timeout_ms;
    }
    c->field_len = 0;
    c->field_kind = FIELD_OTHER;
    c->hosts = 0;
    c->transfer_encoding = false;
    c->expect_continue = false;
    c->version_done = false;
    return 0;
}

/* Gathers the request target: what llhttp hands on_url, and the bytes >= 0x80 the screen kept
 * from llhttp (parse()), in the order they came. */
static int add_target(struct http_conn *c, const char *at, size_t n)
{
    if (c->target.len + n > c->conns->limits.max_header_bytes) {
        return reject(c, 414, "request target too long");
    }
    if (buf_append(&c->target, at, n) < 0) {
        return reject(c, 500, "out of memory");
    }
    return count_head(c, n);
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    return add_target(p->data, at, n);
}

/* RFC 9110 section 2.5: HTTP/1.2 is served as 1.1 (minor versions are compatible); 505 is for
 * another major version, known as soon as the request line ends: nothing more is read. */
static int on_version_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->version_done = true;
    if (llhttp_get_http_major(p) != 1) {
        return reject(c, 505, "only HTTP/1.x is served");
    }
    return 0;
}

/* The syntax of names and values is the screen's (http_screen.h); the callbacks only look for
 * the few headers that change how a request is handled. */
static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    for (size_t i = 0; i < n && c->field_len + i < sizeof c->field; i++) {
        c->field[c->field_len + i] = at[i];
    }
    c->field_len += n;
    if (buf_append(&c->headers, at, n) < 0) {
        return reject(c, 500, "out of memory");
    }
    return count_head(c, n);
}

static bool field_is(const struct http_conn *c, const char *name)
{
    size_t len = strlen(name);
    return c->field_len == len && strncasecmp(c->field, name, len) == 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->field_kind = FIELD_OTHER;
    if (field_is(c, "host")) {
        c->field_kind = FIELD_HOST;
        c->hosts++;
    } else if (field_is(c, "expect")) {
        c->field_kind = FIELD_EXPECT;
        c->expect_len = 0;
        c->expect_end = 0;
    } else if (field_is(c, "transfer-encoding")) {
        c->field_kind = FIELD_TRANSFER_ENCODING;
        c->transfer_encoding = true;
        c->te_state = TE_ELEMENT;
    }
    c->field_len = 0;
    return buf_append_byte(&c->headers, ':') < 0 ? reject(c, 500, "out of memory") : 0;
}

static bool is_token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Transfer-Encoding = #transfer-coding (RFC 9112 section 6.1): llhttp looks for "chunked" at
 * the list's end and lets anything before it through ("chu a, chunked"), which another parser
 * may read otherwise. downcase takes a list of bare coding names (empty elements ignored, RFC
 * 9110 section 5.6.1) and refuses the rest, transfer-parameters included: nobody sends them,
 * and chunked has none. Returns false at a byte that breaks the list. */
static bool te_scan(struct http_conn *c, const char *at, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)at[i];
        bool ws = ch == ' ' || ch == '\t';
        if (ch == ',') {
            c->te_state = TE_ELEMENT;
        } else if (is_token_char(ch) && c->te_state != TE_AFTER) {
            c->te_state = TE_NAME;
        } else if (ws) {
            c->te_state = c->te_state == TE_NAME ? TE_AFTER : c->te_state;
        } else {
            return false;
        }
    }
    return true;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (c->field_kind == FIELD_TRANSFER_ENCODING && !te_scan(c, at, n)) {
        return reject(c, 400, "Transfer-Encoding is not a list of codings");
    }
    if (c->field_kind == FIELD_EXPECT) {
        /* llhttp leaves the whitespace that ends a value in it: however much there is, only
         * what comes before it is compared. */
        for (size_t i = 0; i < n; i++, c->expect_len++) {
            if (c->expect_len < sizeof c->expect) {
                c->expect[c->expect_len] = at[i];
            }
            if (at[i] != ' ' && at[i] != '\t') {
                c->expect_end = c->expect_len + 1;
            }
        }
    }
    if (buf_append(&c->headers, at, n) < 0) {
        return reject(c, 500, "out of memory");
    }
    return count_head(c, n);
}

static int on_header_value_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    if (c->field_kind == FIELD_EXPECT && c->expect_end == 12 &&
        strncasecmp(c->expect, "100-continue", 12) == 0) {
        c->expect_continue = true;
    }
    c->field_kind = FIELD_OTHER;
    return buf_append_byte(&c->headers, '\n') < 0 ? reject(c, 500, "out of memory") : 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    unsigned minor = llhttp_get_http_minor(p);
    /* RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding must be treated as if
     * its framing were faulty (a 1.0 recipient does not know chunked), and the connection
     * closed. */
    if (c->transfer_encoding && minor == 0) {
        reject(c, 400, "Transfer-Encoding in an HTTP/1.0 request");
        return -1;
    }
    /* llhttp refuses a Transfer-Encoding whose last coding is not chunked, but reads an empty
     * one as no header at all: a proxy may not. */
    if (c->transfer_encoding && !(p->flags & F_CHUNKED)) {
        reject(c, 400, "Transfer-Encoding without chunked");
        return -1;
    }
    /* RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request without exactly
     * one Host header (its value's form is the screen's to check). */
    if (minor >= 1 && c->hosts != 1) {
        reject(c, 400, c->hosts == 0 ? "missing Host header" : "more than one Host header");
        return -1;
    }
    /* RFC 9112 section 3.2.4: the asterisk form is for a server-wide OPTIONS only. */
    if (c->target.len == 1 && c->target.data[0] == '*' && llhttp_get_method(p) != HTTP_OPTIONS) {
        reject(c, 400, "request target '*' is only for OPTIONS");
        return -1;
    }
    /* A declared length past the limit is refused before its first byte is read. */
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->conns->limits.max_body_bytes) {
        reject(c, 413, "request body larger than the server accepts");
        return -1;
    }
    /* The screen checks a chunked body's framing and counts it against the body limit; a
     * Content-Length body has no framing inside, and its length is checked above. */
    bool chunked = (p->flags & F_CHUNKED) != 0;
    if (chunked) {
        http_screen_chunked(&c->screen, c->conns->limits.max_body_bytes);
    } else {
        http_screen_unframed(&c->screen);
    }
    c->phase = PHASE_BODY;
    /* RFC 9110 section 10.1.1: to "Expect: 100-continue" a server sends 100 (Continue) before
     * reading the body, or at once the final status when the head decides it. downcase never
     * uses a body (the handler sees none), so the head always decides: the answer goes out now,
     * without waiting for a body the client may never send. Whether the client then sends it or
     * not cannot be known, so nothing more is read: the answer carries Connection: close. An
     * HTTP/1.0 request's expectation is ignored, as the RFC requires. */
    if (c->expect_continue && minor >= 1 && (chunked || p->content_length > 0)) {
        c->in_message = false;
        c->phase = PHASE_IDLE;
        answer(c, false);
        c->finishing = true;
        return HPE_PAUSED; /* parse() stops there */
    }
    return 0;
}

/* Always pauses the parser: parse() then knows where the next request head starts, screens it,
 * and sees whether this answer ended the connection or filled the output. */
static int on_message_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->in_message = false;
    c->phase = PHASE_IDLE;
    http_screen_reset(&c->screen);
    /* Upgrade and CONNECT are not served: the answer is a normal one, and the connection ends
     * with it, since what the client sends next would not be HTTP. */
    bool keep_alive = llhttp_should_keep_alive(p) && !p->upgrade && !c->conns->stopping;
    answer(c, keep_alive);
    if (c->stream) {
        return HPE_PAUSED; /* parse() stops here: the connection is the stream's now */
    }
    if (!keep_alive) {
        /* Whatever follows on this connection is not read: stop here. */
        c->finishing = true;
    } else if (c->out.len + (c->inflight.len - c->inflight_off) >
               c->conns->limits.max_output_bytes) {
        c->paused = true;
    }
    return HPE_PAUSED;
}

/* No on_body: bodies are discarded unseen; their limits are checked from the head
 * (Content-Length) and by the screen (chunked). */
static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_version_complete = on_version_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

/* ---- reading and parsing ------------------------------------------------------------------ */

static int status_for(struct http_conn *c, enum llhttp_errno err)
{
    if (c->reject_status) {
        return c->reject_status;
    }
    return err == HPE_INVALID_VERSION ? 505 : 400;
}

/* Stops reading a connection whose input can no longer be trusted or is no longer wanted. */
static void stop_parsing(struct http_conn *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->tail.len = 0;
}

/* llhttp stops at the first byte of a method it does not know, and after the target of one it
 * knows only for RTSP ("PLAY"), in both cases before the request line's version. RFC 9110
 * section 9.1 makes an unknown method a 501, not a 400, provided the request line is
 * well-formed: that is the screen's to say, so parse() screens on to the line's end. */
static bool unknown_method(const struct http_conn *c, enum llhttp_errno err)
{
    return c->reject_status == 0 && !c->version_done &&
           (err == HPE_INVALID_METHOD || err == HPE_INVALID_CONSTANT);
}

/* After llhttp refused the method, n more bytes of the request line were screened: answers 501
 * once the line has ended well-formed, 414 if it runs past the head limit first. Returns whether
 * it answered. */
static bool refuse_method(struct http_conn *c, size_t n)
{
    c->head_bytes += n;
    if (http_screen_request_line_done(&c->screen)) {
        stop_parsing(c);
        answer_error(c, 501, "unknown request method");
        return true;
    }
    if (c->head_bytes > c->conns->limits.max_header_bytes) {
        stop_parsing(c);
        answer_error(c, 414, "request target too long");
        return true;
    }
    return false;
}

/* Feeds input to llhttp through the screen (http_screen.h): each span the screen passes goes to
 * llhttp, the bytes it says to skip do not (chunk extensions, dropped; a target's bytes >= 0x80,
 * added to the target here). `data` may be the connection's own tail (when resuming after a
 * backpressure pause). */
static void parse(struct http_conn *c, const char *data, size_t len)
{
    if (len == 0) {
        return; /* an empty tail has no storage: data may be NULL */
    }
    bool from_tail = data == c->tail.data;
    const char *p = data;
    const char *end = data + len;
    while (p < end) {
        struct http_screen_span span;
        const char *why = NULL;
        int status = http_screen_scan(&c->screen, p, (size_t)(end - p), &span, &why);
        if (status != 0) {
            stop_parsing(c);
            answer_error(c, status, why);
            return;
        }
        const char *next = p + span.feed + span.skip;
        if (c->method_refused) {
            if (refuse_method(c, span.feed + span.skip)) {
                return;
            }
            p = next;
            continue;
        }
        enum llhttp_errno err = span.feed > 0 ? llhttp_execute(&c->parser, p, span.feed) : HPE_OK;
        if (err == HPE_OK && span.target && add_target(c, p + span.feed, span.skip) != 0) {
            err = HPE_USER; /* too long, or out of memory: reject_status says which */
        }
        if (err == HPE_OK) {
            p = next;
            continue;
        }
        if (err == HPE_PAUSED_UPGRADE) {
            /* After an Upgrade or CONNECT request, already answered with Connection: close. */
            stop_parsing(c);
            c->finishing = true;
            return;
        }
        if (err != HPE_PAUSED) {
            if (unknown_method(c, err)) {
                c->method_refused = true;
                if (refuse_method(c, (size_t)(next - llhttp_get_error_pos(&c->parser)))) {
                    return;
                }
                p = next;
                continue;
            }
            stop_parsing(c);
            const char *reason =
                c->reject_reason ? c->reject_reason : llhttp_get_error_reason(&c->parser);
            answer_error(c, status_for(c, err), reason ? reason : llhttp_errno_name(err));
            return;
        }
        /* A request is complete (on_message_complete paused the parser just after it), or was
         * answered from its head (on_headers_complete, Expect: 100-continue). */
        p = llhttp_get_error_pos(&c->parser);
        llhttp_resume(&c->parser);
        if (c->finishing) {
            stop_parsing(c);
            return;
        }
        if (c->stream) {
            c->tail.len = 0; /* what follows a stream's request is never parsed */
            return;
        }
        if (c->paused) {
            /* Backpressure: keep what was not parsed; reading resumes when the answers drain. */
            if (from_tail) {
                buf_consume(&c->tail, (size_t)(p - data));
            } else {
                c->tail.len = 0;
                if (buf_append(&c->tail, p, (size_t)(end - p)) < 0) {
                    close_conn(c);
                    return;
                }
            }
            uv_read_stop((uv_stream_t *)&c->tcp);
            return;
        }
    }
    if (from_tail) {
        c->tail.len = 0;
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = st->data;
    if (nread == 0) {
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF || c->lingering || c->stream) {
            close_conn(c);
            return;
        }
        /* The client has sent everything: answer what is complete, then close. A request cut
         * short by the close gets no answer; nobody is left to read one. */
        c->eof = true;
        c->finishing = true;
        uv_read_stop(st);
        flush(c);
        return;
    }
    c->conns->counters.bytes_in += (uint64_t)nread;
    c->last_activity = uv_now(c->conns->loop);
    if (c->lingering || c->stream) {
        return; /* discarding what a finished connection or a stream's client sends */
    }
    parse(c, b->base, (size_t)nread);
    flush(c);
}

/* ---- writing ------------------------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status)
{
    struct http_conn *c = req->data;
    c->writing = false;
    if (status < 0) {
        close_conn(c);
        return;
    }
    c->conns->counters.bytes_out += c->inflight.len - c->inflight_off;
    c->last_activity = uv_now(c->conns->loop);
    c->inflight.len = 0;
    c->inflight_off = 0;
    flush(c);
    if (c->stream && !c->writing && !c->closing && !c->lingering && !c->finishing) {
        c->stream->drained(c->stream_ctx);
    }
}

/* Sends the queued answers: directly when the socket takes them (the common case, no request
 * object at all), else through one uv_write. Once everything is out, either resumes a paused
 * parser or, for a finishing connection, starts the close. */
static void flush(struct http_conn *c)
{
    uv_stream_t *st = (uv_stream_t *)&c->tcp;
    while (!c->closing && !c->writing && !c->lingering) {
        if (c->out.len > 0) {
            if (c->conns->before_write) {
                /* What these answers promise must be durable before they leave. */
                c->conns->before_write(c->conns->before_write_ctx);
            }
            uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
            int n = uv_try_write(st, &b, 1);
            if (n == UV_EAGAIN) {
                n = 0;
            }
            if (n < 0) {
                close_conn(c);
                return;
            }
            c->conns->counters.bytes_out += (uint64_t)n;
            if ((size_t)n < c->out.len) {
                /* The socket is full. The unsent rest becomes the write in progress and `out`
                 * (the old inflight storage, empty) collects the answers that come next. */
                struct buf t = c->inflight;
                c->inflight = c->out;
                c->inflight_off = (size_t)n;
                c->out = t;
                c->out.len = 0;
                b = uv_buf_init(c->inflight.data + n, (unsigned)(c->inflight.len - (size_t)n));
                if (uv_write(&c->wreq, st, &b, 1, on_write) < 0) {
                    close_conn(c);
                    return;
                }
                c->writing = true;
                return;
            }
            c->out.len = 0;
        }
        if (c->finishing) {
            start_linger(c);
            return;
        }
        if (!c->paused) {
            return;
        }
        /* Everything is out: parse the input kept at the pause; it may pause again. */
        c->paused = false;
        llhttp_resume(&c->parser);
        parse(c, c->tail.data, c->tail.len);
        if (!c->paused && !c->finishing && !c->closing &&
            uv_read_start(st, on_alloc, on_read) < 0) {
            close_conn(c);
            return;
        }
    }
}

/* ---- life ----------------------------------------------------------------------------------- */

int http_conn_accept(struct http_conns *s, uv_stream_t *listener)
{
    struct http_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return -ENOMEM;
    }
    c->conns = s;
    c->next = s->first;
    if (s->first) {
        s->first->prev = c;
    }
    s->first = c;
    s->n++;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->open_handles = 2;
    c->tcp.data = c->timer.data = c->wreq.data = c->sreq.data = c;
    int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc == 0) {
        llhttp_init(&c->parser, HTTP_REQUEST, &settings);
        /* Any HTTP/1.x version is 1.1 to us (on_headers_complete); llhttp 8.1.0 takes only 0.9,
         * 1.0, 1.1 and 2.0 without this flag. The screen still requires HTTP/DIGIT.DIGIT. */
        c->parser.lenient_flags |= LENIENT_VERSION;
        c->parser.data = c;
        http_screen_reset(&c->screen);
        /* The first request's headers are due header_timeout after the connection opens, as
         * nginx's client_header_timeout: a connection that sends nothing is not kept. */
        c->phase = PHASE_HEAD;
        c->last_activity = uv_now(s->loop);
        c->head_deadline = c->last_activity + s->limits.header_timeout_ms;
        arm(c, c->head_deadline);
        /* Answers leave whole, one write per batch: Nagle's delay would only add latency. */
        uv_tcp_nodelay(&c->tcp, 1);
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    if (rc < 0) {
        close_conn(c);
        return rc;
    }
    s->counters.accepted++;
    return 0;
}

static void drain(struct http_conn *c)
{
    if (c->closing || c->lingering) {
        return;
    }
    if (c->in_message) {
        /* Its answer will carry Connection: close (the server is stopping). */
        return;
    }
    c->finishing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->out.len == 0 && !c->writing) {
        close_conn(c);
    } else {
        flush(c);
    }
}

void http_conns_drain(struct http_conns *cs)
{
    /* Draining may close connections; they unlink themselves only in their close callbacks,
     * so walking the list here is safe. */
    for (struct http_conn *c = cs->first; c; c = c->next) {
        drain(c);
    }
}

void http_conns_close(struct http_conns *cs)
{
    for (struct http_conn *c = cs->first; c; c = c->next) {
        close_conn(c);
    }
}

/* ---- streams (http_conn.h) ---------------------------------------------------------------- */

int http_stream_write(struct http_conn *c, const void *p, size_t n)
{
    if (c->closing || c->lingering || c->finishing) {
        return -EPIPE;
    }
    return buf_append(&c->out, p, n);
}

void http_stream_flush(struct http_conn *c)
{
    uint64_t before = c->conns->counters.bytes_out;
    flush(c);
    if (c->conns->counters.bytes_out != before) {
        c->last_activity = uv_now(c->conns->loop);
    }
}

size_t http_stream_unsent(const struct http_conn *c)
{
    return c->out.len + (c->inflight.len - c->inflight_off);
}

void http_stream_end(struct http_conn *c)
{
    if (c->closing || c->lingering || c->finishing) {
        return;
    }
    c->finishing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    flush(c);
}
