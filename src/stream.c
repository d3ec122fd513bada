/* stream: Server-Sent Events hub: window, viewers, filters, resume, lag (stream.h). */
#define _GNU_SOURCE 1 /* memmem */
#include "stream.h"

#include <errno.h>
#include <inttypes.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "query.h"

/* One event, allocated in one block: the struct, then sse, topic and text. */
struct stream_event {
    uint64_t offset; /* bytes of stream before it */
    size_t size;     /* the block's size, counted against --stream-buffer */
    uint64_t seq;    /* a framed message's sequence number; a gap line's count of lost messages */
    uint8_t publisher[WIRE_ID_LEN];
    bool framed; /* a framed message: publisher, seq and topic are set */
    bool gap;    /* a gap line: publisher is set */
    const char *sse;
    size_t sse_len;
    const char *topic;
    size_t topic_len;
    const char *text;
    size_t text_len;
};

struct stream_viewer {
    struct stream *hub;
    struct http_conn *conn; /* set by opened, cleared by closed */
    struct stream_viewer *prev;
    struct stream_viewer *next;
    uint64_t cursor;  /* the number of the next event to consider */
    uint64_t dropped; /* events to announce as dropped before the next ones */
    bool dropped_publisher;
    uint8_t resume_id[WIRE_ID_LEN]; /* with dropped_publisher: whose messages those are */
    bool has_publisher;
    uint8_t publisher[WIRE_ID_LEN];
    struct buf topic; /* empty: any */
    bool has_topic;
    struct buf q;
    bool has_q;
};

#define STREAM_HEADERS                                                                             \
    "Cache-Control: no-cache\r\n"                                                                  \
    "X-Accel-Buffering: no\r\n" TOKEN_CSP_HEADER

/* ---- the window --------------------------------------------------------------------------- */

static struct stream_event *event_at(const struct stream *s, uint64_t n)
{
    return s->ring[(s->start + (size_t)(n - s->first)) % s->cap];
}

/* Bytes of stream before event n (n may be s->next). */
static uint64_t offset_of(const struct stream *s, uint64_t n)
{
    return n >= s->next ? s->next_offset : event_at(s, n)->offset;
}

static bool matches(const struct stream_viewer *v, const struct stream_event *e);

/* Evicts the events before number upto (first < upto <= next). A viewer that had not got to
 * them yet will not: what its filters would have let through is counted, exactly, as dropped,
 * and its cursor moves to upto. min_cursor is a lower bound of every viewer's cursor (cursors
 * only grow), so the viewers are only looked at when one may be that far behind. */
/* The events in [from, upto) that v's filters let through. */
static uint64_t count_matching(const struct stream *s, const struct stream_viewer *v, uint64_t from,
                               uint64_t upto)
{
    if (!v->has_publisher && !v->has_topic && !v->has_q) {
        return upto - from; /* no filter: every event */
    }
    uint64_t n = 0;
    for (uint64_t i = from; i < upto; i++) {
        n += matches(v, event_at(s, i));
    }
    return n;
}

static void evict_before(struct stream *s, uint64_t upto)
{
    if (s->viewers && s->min_cursor < upto) {
        s->min_cursor = UINT64_MAX;
        for (struct stream_viewer *v = s->viewers; v; v = v->next) {
            if (v->cursor < upto) {
                v->dropped += count_matching(s, v, v->cursor, upto);
                v->cursor = upto;
            }
            if (v->cursor < s->min_cursor) {
                s->min_cursor = v->cursor;
            }
        }
    }
    while (s->first < upto) {
        struct stream_event *e = s->ring[s->start];
        s->bytes -= e->size;
        free(e);
        s->start = (s->start + 1) % s->cap;
        s->count--;
        s->first++;
    }
}

/* A full window is brought down to 7/8 of --stream-buffer at once (the newest event always
 * stays): evicting one event per event pushed would look at every viewer behind the window's
 * start once per event, which 100 viewers made the sub's largest cost under a flood. */
static void trim(struct stream *s)
{
    if (s->bytes <= s->cfg.buffer_bytes) {
        return;
    }
    size_t target = s->cfg.buffer_bytes - s->cfg.buffer_bytes / 8;
    size_t bytes = s->bytes;
    uint64_t upto = s->first;
    while (upto + 1 < s->next && bytes > target) {
        bytes -= event_at(s, upto)->size;
        upto++;
    }
    evict_before(s, upto);
}

static int grow(struct stream *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    struct stream_event **ring = malloc(cap * sizeof *ring);
    if (ring == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->count; i++) {
        ring[i] = s->ring[(s->start + i) % s->cap];
    }
    free(s->ring);
    s->ring = ring;
    s->cap = cap;
    s->start = 0;
    return 0;
}

/* Appends a formatted event (s->scratch holds its JSON line, newline included). */
static void push(struct stream *s, const struct wire_msg *m, const uint8_t *gap_id, uint64_t lost)
{
    struct buf *b = &s->scratch;
    size_t json_len = b->len - 1; /* without the newline */
    char head[96];
    int head_len = 0;
    if (m && m->kind == WIRE_FRAMED) {
        char id[2 * WIRE_ID_LEN + 1];
        wire_id_hex(m->publisher, id);
        head_len = snprintf(head, sizeof head, "id: %s:%" PRIu64 "\n", id, m->seq);
    } else if (gap_id) {
        head_len = snprintf(head, sizeof head, "event: gap\n");
    }
    size_t sse_len = (size_t)head_len + 6 + json_len + 2;
    size_t topic_len = m && m->kind == WIRE_FRAMED ? m->topic_len : 0;
    size_t text_len = m ? m->text_len : 0;
    size_t size = sizeof(struct stream_event) + sse_len + topic_len + text_len;
    if (s->count == s->cap && grow(s) < 0) {
        diag("sub", "out of memory keeping a stream event; viewers miss it");
        return;
    }
    struct stream_event *e = malloc(size);
    if (e == NULL) {
        diag("sub", "out of memory keeping a stream event; viewers miss it");
        return;
    }
    char *p = (char *)(e + 1);
    memset(e, 0, sizeof *e);
    e->offset = s->next_offset;
    e->size = size;
    e->sse = p;
    e->sse_len = sse_len;
    memcpy(p, head, (size_t)head_len);
    p += head_len;
    memcpy(p, "data: ", 6);
    memcpy(p + 6, b->data, json_len);
    memcpy(p + 6 + json_len, "\n\n", 2);
    p += 6 + json_len + 2;
    if (m) {
        e->framed = m->kind == WIRE_FRAMED;
        if (e->framed) {
            memcpy(e->publisher, m->publisher, WIRE_ID_LEN);
            e->seq = m->seq;
            memcpy(p, m->topic, topic_len);
            e->topic = p;
            e->topic_len = topic_len;
            p += topic_len;
        }
        memcpy(p, m->text, text_len);
        e->text = p;
        e->text_len = text_len;
    } else {
        e->gap = true;
        e->seq = lost;
        memcpy(e->publisher, gap_id, WIRE_ID_LEN);
    }
    s->ring[(s->start + s->count) % s->cap] = e;
    s->count++;
    s->next++;
    s->next_offset += sse_len;
    s->bytes += size;
    trim(s);
}

void stream_message(struct stream *s, const struct wire_msg *m, const struct timespec *now)
{
    s->scratch.len = 0;
    if (logline_append(&s->line, &s->scratch, m, now) < 0) {
        diag("sub", "out of memory formatting a stream event; viewers miss it");
        return;
    }
    push(s, m, NULL, 0);
}

void stream_gap(struct stream *s, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                const struct timespec *now)
{
    s->scratch.len = 0;
    if (logline_append_gap(&s->line, &s->scratch, id, lost, now) < 0) {
        diag("sub", "out of memory formatting a stream event; viewers miss it");
        return;
    }
    push(s, NULL, id, lost);
}

/* ---- viewers ------------------------------------------------------------------------------ */

static bool matches(const struct stream_viewer *v, const struct stream_event *e)
{
    if (v->has_publisher &&
        (!(e->framed || e->gap) || memcmp(v->publisher, e->publisher, WIRE_ID_LEN) != 0)) {
        return false;
    }
    if (e->gap) {
        return !v->has_q;
    }
    if (v->has_topic && (!e->framed || e->topic_len < v->topic.len ||
                         memcmp(e->topic, v->topic.data, v->topic.len) != 0)) {
        return false;
    }
    if (v->has_q && v->q.len > 0 &&
        (e->text_len < v->q.len || memmem(e->text, e->text_len, v->q.data, v->q.len) == NULL)) {
        return false;
    }
    return true;
}

static int announce_dropped(struct stream_viewer *v)
{
    char line[128];
    int n;
    if (v->dropped_publisher) {
        char id[2 * WIRE_ID_LEN + 1];
        wire_id_hex(v->resume_id, id);
        n = snprintf(line, sizeof line,
                     "event: dropped\ndata: {\"dropped\":%" PRIu64 ",\"publisher\":\"%s\"}\n\n",
                     v->dropped, id);
    } else {
        n = snprintf(line, sizeof line, "event: dropped\ndata: {\"dropped\":%" PRIu64 "}\n\n",
                     v->dropped);
    }
    int rc = http_stream_write(v->conn, line, (size_t)n);
    if (rc == 0) {
        v->hub->events_dropped += v->dropped;
        v->dropped = 0;
        v->dropped_publisher = false;
    }
    return rc;
}

/* One turn of a viewer: up to STREAM_HIGH_WATER of events from its cursor, handed to its
 * socket. Lag is looked at only once the socket is full: a viewer that reads is never behind,
 * however large the batch that just arrived. Returns true when the viewer has more to get and
 * its socket has room (it wants another turn); otherwise `drained` or new events bring it back. */
static bool feed(struct stream_viewer *v)
{
    struct stream *s = v->hub;
    if (v->conn == NULL) {
        return false;
    }
    if (v->cursor < s->first) {
        /* Not reached: evicting an event moves the cursors that point at it. */
        v->dropped += s->first - v->cursor;
        v->cursor = s->first;
    }
    if (v->dropped > 0 && announce_dropped(v) < 0) {
        return false;
    }
    while (v->cursor < s->next && http_stream_unsent(v->conn) < STREAM_HIGH_WATER) {
        const struct stream_event *e = event_at(s, v->cursor);
        if (matches(v, e)) {
            if (http_stream_write(v->conn, e->sse, e->sse_len) < 0) {
                return false;
            }
            s->events_sent++;
        }
        v->cursor++;
    }
    http_stream_flush(v->conn);
    if (v->cursor == s->next) {
        return false;
    }
    if (http_stream_unsent(v->conn) == 0) {
        return true;
    }
    /* The socket is full: the rest waits for `drained`, unless it is too far behind. */
    if (s->next_offset - offset_of(s, v->cursor) > s->cfg.lag_bytes) {
        v->dropped += count_matching(s, v, v->cursor, s->next);
        v->cursor = s->next;
        if (v->dropped > 0 && announce_dropped(v) == 0) {
            http_stream_flush(v->conn);
        }
    }
    return false;
}

/* The viewers' share of the loop (stream.h: nothing waits for a viewer). Credit accrues with
 * all the time the loop spent waiting for events (libuv's idle time: feeding viewers then
 * delays nothing) and STREAM_SHARE_PERCENT of the time it was busy, and is spent by the time
 * feeding takes; a viewer whose turn finds no credit waits for the wake timer, which serves the
 * viewers again. */
static void refresh_credit(struct stream *s)
{
    uint64_t now = uv_hrtime();
    uint64_t idle = uv_metrics_idle_time(s->loop);
    uint64_t passed = now - s->credit_at;
    uint64_t waited = idle - s->idle_at < passed ? idle - s->idle_at : passed;
    s->credit_ns += (int64_t)(waited + (passed - waited) * STREAM_SHARE_PERCENT / 100);
    if (s->credit_ns > STREAM_MAX_CREDIT_NS) {
        s->credit_ns = STREAM_MAX_CREDIT_NS;
    }
    s->credit_at = now;
    s->idle_at = idle;
}

static void on_wake(uv_timer_t *t);

static void wait_for_credit(struct stream *s)
{
    if (s->timers_open == 2 && !s->closing && !uv_is_active((uv_handle_t *)&s->wake)) {
        uv_timer_start(&s->wake, on_wake, STREAM_WAKE_MS, STREAM_WAKE_MS);
    }
}

/* Feeds v if the viewers have credit left (refreshed by the caller); true when it still
 * wants a turn. */
static bool serve(struct stream_viewer *v)
{
    struct stream *s = v->hub;
    if (s->credit_ns <= 0) {
        return true;
    }
    uint64_t t0 = uv_hrtime();
    bool more = feed(v);
    s->credit_ns -= (int64_t)(uv_hrtime() - t0);
    return more;
}

/* One pass over the viewers, round robin from where the last one ran out of credit. */
static void serve_all(struct stream *s)
{
    if (s->viewers == NULL) {
        return;
    }
    s->round_at = uv_now(s->loop);
    refresh_credit(s);
    /* Round robin from where the last pass ran out of credit, so every viewer gets turns. */
    struct stream_viewer *first = s->turn ? s->turn : s->viewers;
    struct stream_viewer *v = first;
    bool waiting = false;
    do {
        if (serve(v)) {
            if (!waiting) {
                s->turn = v;
            }
            waiting = true;
        }
        v = v->next ? v->next : s->viewers;
    } while (v != first);
    if (waiting) {
        wait_for_credit(s);
    } else {
        s->turn = NULL;
        if (s->timers_open == 2 && !s->closing) {
            uv_timer_stop(&s->wake);
        }
    }
}

void stream_flush(struct stream *s)
{
    if (s->viewers == NULL) {
        return;
    }
    if (uv_now(s->loop) - s->round_at < STREAM_WAKE_MS) {
        wait_for_credit(s); /* the wake timer makes the pass */
        return;
    }
    serve_all(s);
}

static void on_wake(uv_timer_t *t)
{
    serve_all(t->data);
}

static void viewer_free(struct stream_viewer *v)
{
    buf_finish(&v->topic);
    buf_finish(&v->q);
    free(v);
}

static void on_opened(void *ctx, struct http_conn *c)
{
    struct stream_viewer *v = ctx;
    struct stream *s = v->hub;
    v->conn = c;
    v->next = s->viewers;
    if (s->viewers) {
        s->viewers->prev = v;
    }
    s->viewers = v;
    s->clients++;
    /* How soon a browser comes back after the connection drops. */
    static const char retry[] = "retry: 1000\n\n";
    _Static_assert(STREAM_RETRY_MS == 1000, "the retry line says 1000");
    if (v->cursor < s->min_cursor) {
        s->min_cursor = v->cursor;
    }
    refresh_credit(s);
    if (http_stream_write(c, retry, sizeof retry - 1) == 0 && serve(v)) {
        wait_for_credit(s);
    }
}

static void on_drained(void *ctx)
{
    struct stream_viewer *v = ctx;
    refresh_credit(v->hub);
    if (serve(v)) {
        wait_for_credit(v->hub);
    }
}

static void on_closed(void *ctx)
{
    struct stream_viewer *v = ctx;
    struct stream *s = v->hub;
    if (v->conn) {
        if (s->turn == v) {
            s->turn = v->next;
        }
        if (v->prev) {
            v->prev->next = v->next;
        } else {
            s->viewers = v->next;
        }
        if (v->next) {
            v->next->prev = v->prev;
        }
        s->clients--;
    }
    viewer_free(v);
}

static const struct http_stream_handler handler = {
    .opened = on_opened,
    .drained = on_drained,
    .closed = on_closed,
};

int stream_parse_id(const char *p, size_t len, uint8_t id[WIRE_ID_LEN], uint64_t *seq)
{
    if (len < 2 * WIRE_ID_LEN + 2 || p[2 * WIRE_ID_LEN] != ':') {
        return -EINVAL;
    }
    /* The ids this stream sends are lowercase (wire_id_hex); an uppercase one was not ours. */
    for (size_t i = 0; i < 2 * WIRE_ID_LEN; i++) {
        if (p[i] >= 'A' && p[i] <= 'F') {
            return -EINVAL;
        }
    }
    if (!wire_id_parse(p, id)) {
        return -EINVAL;
    }
    uint64_t v = 0;
    for (size_t i = 2 * WIRE_ID_LEN + 1; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -EINVAL;
        }
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -EINVAL;
        }
        v = v * 10 + d;
    }
    *seq = v;
    return 0;
}

/* Where a viewer resuming after id:seq starts (stream.h: resume). */
static void resume(struct stream *s, struct stream_viewer *v, const uint8_t id[WIRE_ID_LEN],
                   uint64_t seq)
{
    uint64_t oldest_later = 0; /* the number of the oldest event of id after seq, if any */
    bool later = false;
    for (uint64_t n = s->next; n > s->first; n--) {
        const struct stream_event *e = event_at(s, n - 1);
        if (!e->framed || memcmp(e->publisher, id, WIRE_ID_LEN) != 0) {
            continue;
        }
        if (e->seq <= seq) {
            /* That event, or the last one before it when it was never logged here. */
            v->cursor = n;
            return;
        }
        oldest_later = n - 1;
        later = true;
    }
    v->cursor = s->first;
    if (!later) {
        return;
    }
    /* Between seq and that event: what gap lines in the window already report is not dropped
     * again (a gap line's "lost" is kept in its seq). */
    uint64_t missing = event_at(s, oldest_later)->seq - seq - 1;
    for (uint64_t n = s->first; n < oldest_later && missing > 0; n++) {
        const struct stream_event *e = event_at(s, n);
        if (e->gap && memcmp(e->publisher, id, WIRE_ID_LEN) == 0) {
            missing -= e->seq < missing ? e->seq : missing;
        }
    }
    if (missing > 0) {
        v->dropped = missing;
        v->dropped_publisher = true;
        memcpy(v->resume_id, id, WIRE_ID_LEN);
    }
}

static void bad_request(struct http_response *res, const char *body)
{
    http_response_text(res, 400, body);
    res->extra_headers = TOKEN_CSP_HEADER;
}

/* GET /stream: checks access, reads the filters and the resume point, hands the connection to
 * a new viewer. */
static void route(void *ctx, const struct http_request *req, const struct router_target *t,
                  struct http_response *res)
{
    struct stream *s = ctx;
    if (!router_read_only(req, res) || !token_allow(s->access, req, res)) {
        return;
    }
    if (req->method == HTTP_HEAD) {
        http_response_text(res, 200, "");
        res->content_type = "text/event-stream; charset=utf-8";
        res->extra_headers = STREAM_HEADERS;
        return;
    }
    struct stream_viewer *v = calloc(1, sizeof *v);
    if (v == NULL) {
        http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    v->hub = s;
    v->cursor = s->next;
    struct buf id = {0};
    const char *q = t->query ? t->query : "";
    size_t ql = t->query ? t->query_len : 0;
    int found_topic = query_get(q, ql, "topic", &v->topic);
    int found_q = query_get(q, ql, "q", &v->q);
    int found_pub = query_get(q, ql, "publisher", &id);
    const char *why = NULL;
    if (found_topic < 0 || found_q < 0 || found_pub < 0) {
        why = "500";
    }
    v->has_topic = found_topic > 0;
    v->has_q = found_q > 0;
    uint64_t ignored;
    if (why == NULL && found_pub > 0) {
        /* An id alone: the same 16 hex digits, checked by the id parser with a seq of 0. */
        char tmp[2 * WIRE_ID_LEN + 2];
        if (id.len != 2 * WIRE_ID_LEN) {
            why = "400 Bad Request: publisher must be 16 hex digits (as in the json log)\n";
        } else {
            memcpy(tmp, id.data, id.len);
            memcpy(tmp + id.len, ":0", 2);
            if (stream_parse_id(tmp, sizeof tmp, v->publisher, &ignored) < 0) {
                why = "400 Bad Request: publisher must be 16 hex digits (as in the json log)\n";
            }
            v->has_publisher = true;
        }
    }
    size_t last_len = 0;
    const char *last = http_request_header(req, "last-event-id", &last_len);
    id.len = 0;
    if (why == NULL && (last == NULL || last_len == 0)) {
        int found = query_get(q, ql, "last_event_id", &id);
        if (found < 0) {
            why = "500";
        } else if (found > 0) {
            last = id.data;
            last_len = id.len;
        }
    }
    if (why == NULL && last && last_len > 0) {
        uint8_t pub[WIRE_ID_LEN];
        uint64_t seq;
        if (stream_parse_id(last, last_len, pub, &seq) < 0) {
            why = "400 Bad Request: Last-Event-ID must be PUBLISHER:SEQ (16 hex digits, a colon, "
                  "a decimal number), as the stream's ids are\n";
        } else {
            resume(s, v, pub, seq);
        }
    }
    buf_finish(&id);
    if (why) {
        viewer_free(v);
        if (strcmp(why, "500") == 0) {
            http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        } else {
            bad_request(res, why);
        }
        return;
    }
    res->status = 200;
    res->content_type = "text/event-stream; charset=utf-8";
    res->extra_headers = STREAM_HEADERS;
    res->stream = &handler;
    res->stream_ctx = v; /* owned by the connection from here; given back through on_closed */
}

/* ---- life --------------------------------------------------------------------------------- */

static void on_keepalive(uv_timer_t *t)
{
    struct stream *s = t->data;
    static const char comment[] = ": keepalive\n\n";
    for (struct stream_viewer *v = s->viewers; v; v = v->next) {
        if (http_stream_unsent(v->conn) == 0 &&
            http_stream_write(v->conn, comment, sizeof comment - 1) == 0) {
            http_stream_flush(v->conn);
        }
    }
}

void stream_init(struct stream *s, uv_loop_t *loop, const struct stream_config *cfg,
                 const struct token *access)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->cfg = *cfg;
    s->access = access;
    logline_init(&s->line, LOGLINE_JSON);
}

int stream_start(struct stream *s, struct router *r)
{
    /* The loop's idle time is what viewers may take freely (refresh_credit). */
    int rc = uv_loop_configure(s->loop, UV_METRICS_IDLE_TIME);
    if (rc < 0) {
        diag("sub", "the live view cannot measure the loop's idle time: %s", uv_strerror(rc));
        return rc;
    }
    rc = router_add(r, "/stream", route, s);
    if (rc < 0) {
        diag("sub", "cannot add the /stream route: %s", strerror(-rc));
        return rc;
    }
    uv_timer_init(s->loop, &s->keepalive);
    uv_timer_init(s->loop, &s->wake);
    s->keepalive.data = s->wake.data = s;
    s->timers_open = 2;
    s->credit_at = uv_hrtime();
    s->idle_at = uv_metrics_idle_time(s->loop);
    uv_timer_start(&s->keepalive, on_keepalive, s->cfg.keepalive_ms, s->cfg.keepalive_ms);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct stream *s = h->data;
    if (--s->timers_open == 0) {
        closer_done(&s->closed);
    }
}

void stream_close(struct stream *s, struct closer closed)
{
    for (struct stream_viewer *v = s->viewers; v; v = v->next) {
        http_stream_end(v->conn);
    }
    if (s->timers_open != 2 || s->closing) {
        closer_done(&closed);
        return;
    }
    s->closing = true; /* wait_for_credit no longer starts the wake timer */
    s->closed = closed;
    uv_close((uv_handle_t *)&s->keepalive, on_timer_closed);
    uv_close((uv_handle_t *)&s->wake, on_timer_closed);
}

void stream_finish(struct stream *s)
{
    evict_before(s, s->next);
    free(s->ring);
    s->ring = NULL;
    s->cap = 0;
    buf_finish(&s->scratch);
}

void stream_metrics(const struct stream *s, struct metrics *m)
{
    const struct metrics_row rows[] = {
        {"downcase_stream_clients", "gauge", "Viewers connected to /stream now.", s->clients},
        {"downcase_stream_events_sent_total", "counter",
         "Events sent to /stream viewers (each viewer counts).", s->events_sent},
        {"downcase_stream_events_dropped_total", "counter",
         "Events viewers did not get, announced to them as event: dropped (too far behind, or "
         "resumed from an id older than the window).",
         s->events_dropped},
        {"downcase_stream_window_events", "gauge", "Events held in the resume window.", s->count},
        {"downcase_stream_window_bytes", "gauge",
         "Memory held by the resume window (at most --stream-buffer).", s->bytes},
    };
    metrics_rows(m, rows, sizeof rows / sizeof rows[0]);
}
