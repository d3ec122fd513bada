/* forward: messages into NATS JetStream, exactly once (forward.h). */
#include "forward.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"

const char *const forward_reason_names[FORWARD_NREASONS] = {
    [FORWARD_DISCONNECTED] = "disconnected",
    [FORWARD_NO_STREAM] = "no_stream",
    [FORWARD_STREAM_FULL] = "stream_full",
    [FORWARD_TIMEOUT] = "timeout",
    [FORWARD_AUTH] = "auth",
    [FORWARD_REFUSED] = "refused",
};

/* Without libnats (or compiled with DOWNCASE_FORWARD_STUB, as tests/test_forward_none.c is, to
 * check that build's behaviour in this one): --forward is refused. */
#if !defined(DOWNCASE_HAVE_NATS) || defined(DOWNCASE_FORWARD_STUB)

bool forward_built(void)
{
    return false;
}

int forward_open(struct forward *f, uv_loop_t *loop, const struct forward_config *cfg,
                 struct forward_sink sink)
{
    (void)f, (void)loop, (void)cfg, (void)sink;
    diag("sub", "--forward: this downcase was built without NATS support (libnats)");
    return -ENOTSUP;
}

void forward_message(struct forward *f, const struct wire_msg *m, const struct timespec *received)
{
    (void)f, (void)m, (void)received;
}

void forward_gap(struct forward *f, const uint8_t id[WIRE_ID_LEN], uint64_t lost, uint64_t upto,
                 const struct timespec *now)
{
    (void)f, (void)id, (void)lost, (void)upto, (void)now;
}

size_t forward_queued(const struct forward *f)
{
    (void)f;
    return 0;
}

bool forward_full(const struct forward *f)
{
    (void)f;
    return false;
}

void forward_close(struct forward *f, struct closer closed)
{
    (void)f;
    closer_done(&closed);
}

void forward_finish(struct forward *f)
{
    (void)f;
}

#else

#include <nats/nats.h>

#include "natsloop.h"

/* One queued message or gap. */
struct entry {
    struct forward_item item; /* msg's topic and text point into data */
    char *data;
    natsMsg *attempt; /* the current attempt, owned by libnats until its result comes */
    bool acked;
    bool tried; /* sent at least once */
    char id[80];
};

/* What a libnats thread hands to the loop. */
struct result {
    natsMsg *msg; /* ours: destroyed once matched */
    bool ok;
    bool duplicate;
    natsStatus err;
    int code;
    char text[120];
};

enum {
    EV_DISCONNECTED = 1,
    EV_CONNECTED = 2,
    EV_CLOSED = 4,
    EV_AUTH = 8,
};

struct forward_impl {
    struct forward *f;
    uv_loop_t *loop;
    struct natsurl url;
    char servers[512];
    size_t limit;
    uint8_t nonce[4]; /* random per process, in plain messages' ids */
    time_t time_sec;  /* format_time's cache */
    char time_text[32];
    uint64_t plain_count;
    struct forward_sink sink;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    struct natsloop nl;
    uv_async_t wake;
    uv_timer_t timer; /* retries, and the close wait */
    int open_handles;
    /* Shared with libnats' threads, under mu. */
    uv_mutex_t mu;
    bool mu_ready;
    struct result *results;
    size_t nresults;
    size_t capresults;
    unsigned events;
    char event_text[160];
    bool gone; /* closed: nothing is handed over any more */
    /* The queue, the loop's. */
    struct entry *ring;
    size_t cap; /* a power of two */
    size_t head;
    size_t n;
    size_t next;     /* entries [head, head+next) were sent in this round */
    size_t inflight; /* current attempts without a result */
    size_t hint;     /* where the last result matched, to start the next search */
    bool probing;    /* one at a time until an acknowledgment */
    bool retry_pending;
    bool was_full;
    unsigned reported; /* reasons already reported in this episode (bits) */
    uint64_t episode_errors;
    /* Stopping. */
    bool closing;
    bool conn_closed;
    struct closer closed;
    struct barrier barrier;
};

static struct entry *at(struct forward_impl *x, size_t i)
{
    return &x->ring[(x->head + i) & (x->cap - 1)];
}

/* ---- what libnats' threads hand over ------------------------------------------------------- */

static void post_result(struct forward_impl *x, const struct result *r)
{
    uv_mutex_lock(&x->mu);
    if (x->gone) {
        uv_mutex_unlock(&x->mu);
        natsMsg_Destroy(r->msg);
        return;
    }
    if (x->nresults == x->capresults) {
        size_t cap = x->capresults ? 2 * x->capresults : 256;
        struct result *p = realloc(x->results, cap * sizeof *p);
        if (p == NULL) {
            /* The entry stays unacknowledged and is sent again after its timeout. */
            uv_mutex_unlock(&x->mu);
            natsMsg_Destroy(r->msg);
            return;
        }
        x->results = p;
        x->capresults = cap;
    }
    x->results[x->nresults++] = *r;
    uv_mutex_unlock(&x->mu);
    uv_async_send(&x->wake);
}

/* The acknowledgment handler: libnats' delivery thread of the reply subscription. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    struct result r = {.msg = msg, .ok = pa != NULL};
    if (pa != NULL) {
        r.duplicate = pa->Duplicate;
    } else if (pae != NULL) {
        r.err = pae->Err;
        r.code = (int)pae->ErrCode;
        snprintf(r.text, sizeof r.text, "%s",
                 pae->ErrText && *pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
    }
    post_result(closure, &r);
}

static void post_event(struct forward_impl *x, unsigned ev, natsConnection *nc, natsStatus err)
{
    uv_mutex_lock(&x->mu);
    if (!x->gone) {
        x->events |= ev;
        const char *t = NULL;
        if (err != NATS_OK) {
            t = natsStatus_GetText(err);
        } else if (nc != NULL && natsConnection_GetLastError(nc, &t) == NATS_OK) {
            t = NULL;
        }
        if (t != NULL && *t) {
            snprintf(x->event_text, sizeof x->event_text, "%s", t);
        }
        uv_mutex_unlock(&x->mu);
        uv_async_send(&x->wake);
        return;
    }
    uv_mutex_unlock(&x->mu);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    post_event(closure, EV_DISCONNECTED, nc, NATS_OK);
}

static void on_connected(natsConnection *nc, void *closure)
{
    (void)nc;
    post_event(closure, EV_CONNECTED, NULL, NATS_OK);
}

static void on_closed(natsConnection *nc, void *closure)
{
    post_event(closure, EV_CLOSED, nc, NATS_OK);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    (void)nc, (void)sub;
    if (err == NATS_CONNECTION_AUTH_FAILED || err == NATS_NOT_PERMITTED) {
        post_event(closure, EV_AUTH, NULL, err);
    }
}

/* ---- reporting ----------------------------------------------------------------------------- */

/* One line per reason per episode; every failure counted. */
static void failure(struct forward_impl *x, enum forward_reason why, const char *detail)
{
    x->f->errors[why]++;
    x->episode_errors++;
    if (x->reported & (1u << why)) {
        return;
    }
    x->reported |= 1u << why;
    static const char *const what[FORWARD_NREASONS] = {
        [FORWARD_DISCONNECTED] = "connection lost",
        [FORWARD_NO_STREAM] = "no stream takes the subject, or JetStream is unavailable",
        [FORWARD_STREAM_FULL] = "the stream refused to store: it is at its limits",
        [FORWARD_TIMEOUT] = "no acknowledgment in time",
        [FORWARD_AUTH] = "authorization refused",
        [FORWARD_REFUSED] = "refused",
    };
    diag("sub", "forward: %s: %s%s%s%s; messages wait and are sent again", x->servers, what[why],
         detail && *detail ? " (" : "", detail ? detail : "", detail && *detail ? ")" : "");
}

static void recovered(struct forward_impl *x)
{
    if (x->reported != 0) {
        diag("sub", "forward: %s: delivering again (%" PRIu64 " failures in that episode)",
             x->servers, x->episode_errors);
    }
    x->reported = 0;
    x->episode_errors = 0;
}

static enum forward_reason classify(const struct result *r)
{
    if (r->err == NATS_TIMEOUT) {
        return FORWARD_TIMEOUT;
    }
    if (r->err == NATS_NO_RESPONDERS) {
        return FORWARD_NO_STREAM;
    }
    if (r->err == NATS_CONNECTION_AUTH_FAILED || r->err == NATS_NOT_PERMITTED) {
        return FORWARD_AUTH;
    }
    if (r->code == JSStreamStoreFailedErr || strstr(r->text, "maximum") != NULL ||
        strstr(r->text, "exceeded") != NULL || strstr(r->text, "resources") != NULL) {
        return FORWARD_STREAM_FULL;
    }
    if (r->code == JSNotEnabledErr || r->code == JSNotEnabledForAccountErr) {
        return FORWARD_NO_STREAM;
    }
    return FORWARD_REFUSED;
}

/* ---- sending ------------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void schedule_retry(struct forward_impl *x)
{
    if (!x->retry_pending && !x->closing) {
        x->retry_pending = true;
        uv_timer_start(&x->timer, on_timer, FORWARD_RETRY_MS, 0);
    }
}

/* RFC 3339 in UTC to the nanosecond; the date and time of day are made once per second. */
static void format_time(struct forward_impl *x, const struct timespec *t, char *out, size_t outsz)
{
    if (t->tv_sec != x->time_sec || x->time_text[0] == '\0') {
        struct tm tm;
        time_t s = t->tv_sec;
        gmtime_r(&s, &tm);
        strftime(x->time_text, sizeof x->time_text, "%Y-%m-%dT%H:%M:%S", &tm);
        x->time_sec = t->tv_sec;
    }
    snprintf(out, outsz, "%s.%09ldZ", x->time_text, (long)t->tv_nsec);
}

/* Builds the NATS message of an entry: body = the text, headers as the README documents. */
static natsStatus build(struct forward_impl *x, struct entry *e, natsMsg **out)
{
    const struct forward_item *it = &e->item;
    const char *body = it->kind == FORWARD_MESSAGE ? it->msg.text : "";
    int len = it->kind == FORWARD_MESSAGE ? (int)it->msg.text_len : 0;
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, x->url.subject, NULL, body, len);
    char v[64];
    char hex[2 * WIRE_ID_LEN + 1];
    format_time(x, &it->received, v, sizeof v);
    if (s == NATS_OK) {
        s = natsMsgHeader_Set(m, "Downcase-Received", v);
    }
    if (it->kind == FORWARD_GAP) {
        wire_id_hex(it->publisher, hex);
        snprintf(v, sizeof v, "%" PRIu64, it->lost);
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Publisher", hex);
        }
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Lost", v);
        }
        snprintf(v, sizeof v, "%" PRIu64, it->upto);
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Sequence", v);
        }
    } else if (it->msg.kind == WIRE_FRAMED) {
        wire_id_hex(it->msg.publisher, hex);
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Publisher", hex);
        }
        snprintf(v, sizeof v, "%" PRIu64, it->msg.seq);
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Sequence", v);
        }
        /* The topic is bytes; a header value must not break the header block. */
        char topic[256];
        size_t tl = it->msg.topic_len < sizeof topic - 1 ? it->msg.topic_len : sizeof topic - 1;
        memcpy(topic, it->msg.topic, tl);
        topic[tl] = '\0';
        diag_printable(topic, tl);
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Topic", topic);
        }
    }
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return s;
    }
    *out = m;
    return NATS_OK;
}

static natsStatus send_entry(struct forward_impl *x, struct entry *e)
{
    natsMsg *m = NULL;
    natsStatus s = build(x, e, &m);
    if (s != NATS_OK) {
        return s;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = e->id;
    po.MaxWait = FORWARD_ACK_WAIT_MS;
    /* Set before publishing: the result can reach the inbox before this call returns. */
    e->attempt = m;
    s = js_PublishMsgAsync(x->js, &m, &po);
    if (s != NATS_OK) {
        e->attempt = NULL;
        natsMsg_Destroy(m); /* not taken: still ours */
        return s;
    }
    x->f->sent++;
    if (e->tried) {
        x->f->resent++;
    }
    e->tried = true;
    return NATS_OK;
}

/* Sends what this round has not sent yet: all of it, or one while probing. */
static void pump(struct forward_impl *x)
{
    if (!x->f->connected || x->retry_pending || x->closing) {
        return;
    }
    /* libnats sees a lost connection in our loop (a read or write fails) before its callback
     * tells us: from then on a publish would wait in its reconnect buffer and be sent after
     * the reconnection, ahead of what the lost connection dropped. Wait for the reconnection
     * and the resend instead. */
    if (natsConnection_Status(x->nc) != NATS_CONN_STATUS_CONNECTED) {
        return;
    }
    while (x->next < x->n) {
        if (x->probing && x->inflight > 0) {
            return;
        }
        struct entry *e = at(x, x->next);
        if (e->acked) {
            x->next++;
            continue;
        }
        natsStatus s = send_entry(x, e);
        if (s != NATS_OK) {
            enum forward_reason why =
                s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED
                    ? FORWARD_DISCONNECTED
                    : FORWARD_REFUSED;
            failure(x, why, natsStatus_GetText(s));
            schedule_retry(x);
            return;
        }
        x->next++;
        x->inflight++;
    }
}

/* A new round: every unacknowledged entry again, from the oldest, one at a time first. The
 * attempts still out are forgotten (their acknowledgments still count). */
static void rewind_round(struct forward_impl *x)
{
    for (size_t i = 0; i < x->n; i++) {
        at(x, i)->attempt = NULL;
    }
    x->inflight = 0;
    x->next = 0;
    x->probing = true;
}

/* Hands back the acknowledged entries at the head, in order. */
static void commit(struct forward_impl *x)
{
    size_t done = 0;
    while (x->n > 0 && at(x, 0)->acked) {
        struct entry *e = at(x, 0);
        x->sink.committed(x->sink.ctx, &e->item);
        free(e->data);
        memset(e, 0, sizeof *e);
        x->head = (x->head + 1) & (x->cap - 1);
        x->n--;
        x->next = x->next ? x->next - 1 : 0;
        x->hint = x->hint ? x->hint - 1 : 0;
        done++;
    }
    if (done > 0) {
        x->sink.batch_end(x->sink.ctx);
    }
    if (x->was_full && x->n < x->limit) {
        x->was_full = false;
        x->sink.room(x->sink.ctx);
    }
}

/* The entry with this id, searched from where the last one was found. */
static struct entry *find(struct forward_impl *x, const char *id)
{
    for (size_t k = 0; k < x->n; k++) {
        size_t i = (x->hint + k) % x->n;
        struct entry *e = at(x, i);
        if (strcmp(e->id, id) == 0) {
            x->hint = i + 1 < x->n ? i + 1 : 0;
            return e;
        }
    }
    return NULL;
}

/* The entry whose current attempt is msg: a pointer compare, searched from where the last one
 * was found (acknowledgments come in order, so that is nearly always the next). */
static struct entry *find_attempt(struct forward_impl *x, const natsMsg *msg)
{
    for (size_t k = 0; k < x->n; k++) {
        size_t i = (x->hint + k) % x->n;
        struct entry *e = at(x, i);
        if (e->attempt == msg) {
            x->hint = i + 1 < x->n ? i + 1 : 0;
            return e;
        }
    }
    return NULL;
}

static void take_result(struct forward_impl *x, struct result *r)
{
    /* A live message is never at the address of another: a current attempt is found by its
     * pointer; only an attempt a retry overtook needs its id read (headers parsed). */
    struct entry *e = find_attempt(x, r->msg);
    const char *id = NULL;
    if (e == NULL && natsMsgHeader_Get(r->msg, "Nats-Msg-Id", &id) == NATS_OK && id != NULL) {
        e = find(x, id);
    }
    if (e == NULL) {
        natsMsg_Destroy(r->msg); /* already handed back */
        return;
    }
    bool current = e->attempt == r->msg;
    if (current) {
        e->attempt = NULL;
        x->inflight--;
    }
    if (r->ok) {
        if (!e->acked) {
            e->acked = true;
            x->f->acked++;
            x->f->duplicates += r->duplicate;
        }
        if (current) {
            x->probing = false;
            recovered(x);
        }
    } else if (current && !e->acked) {
        failure(x, classify(r), r->text);
        schedule_retry(x);
    }
    natsMsg_Destroy(r->msg);
}

static void finish_close(struct forward_impl *x);

static void take_events(struct forward_impl *x, unsigned ev, const char *text)
{
    if (ev & EV_AUTH) {
        failure(x, FORWARD_AUTH, text);
    }
    if (ev & EV_DISCONNECTED) {
        x->f->connected = false;
        failure(x, FORWARD_DISCONNECTED, text);
    }
    if (ev & EV_CLOSED) {
        x->f->connected = false;
        if (!x->closing) {
            diag("sub",
                 "forward: %s: the connection was closed for good (%s); messages wait, restart "
                 "the sub once the cause is fixed",
                 x->servers, *text ? text : "no reason given");
        }
    }
    if ((ev & EV_CONNECTED) && !(ev & EV_CLOSED)) {
        x->f->connected = true;
        diag("sub", "forward: connected to NATS (%s)", x->servers);
        if (!x->closing) {
            rewind_round(x);
        }
    }
}

static void on_wake(uv_async_t *a)
{
    struct forward_impl *x = a->data;
    uv_mutex_lock(&x->mu);
    struct result *rs = x->results;
    size_t nrs = x->nresults;
    unsigned ev = x->events;
    char text[sizeof x->event_text];
    memcpy(text, x->event_text, sizeof text);
    x->results = NULL;
    x->nresults = x->capresults = 0;
    x->events = 0;
    x->event_text[0] = '\0';
    uv_mutex_unlock(&x->mu);
    if (ev) {
        take_events(x, ev, text);
    }
    for (size_t i = 0; i < nrs; i++) {
        take_result(x, &rs[i]);
    }
    free(rs);
    commit(x);
    if (x->closing) {
        if (x->inflight == 0 || !x->f->connected) {
            finish_close(x);
        }
        return;
    }
    pump(x);
}

static void on_timer(uv_timer_t *t)
{
    struct forward_impl *x = t->data;
    if (x->closing) {
        finish_close(x); /* waited long enough for acknowledgments */
        return;
    }
    x->retry_pending = false;
    rewind_round(x);
    pump(x);
}

/* ---- queueing ------------------------------------------------------------------------------ */

static struct entry *push(struct forward_impl *x)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 1024;
        struct entry *ring = calloc(cap, sizeof *ring);
        if (ring == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < x->n; i++) {
            ring[i] = *at(x, i);
        }
        free(x->ring);
        x->ring = ring;
        x->cap = cap;
        x->head = 0;
    }
    struct entry *e = at(x, x->n);
    memset(e, 0, sizeof *e);
    x->n++;
    if (x->n >= x->limit) {
        x->was_full = true;
    }
    return e;
}

void forward_message(struct forward *f, const struct wire_msg *m, const struct timespec *received)
{
    struct forward_impl *x = f->impl;
    if (x == NULL || x->closing) {
        return; /* not counted as delivered: fetched again by the next run */
    }
    char *data = malloc(m->topic_len + m->text_len + 1);
    struct entry *e = data ? push(x) : NULL;
    if (e == NULL) {
        free(data);
        diag("sub", "forward: out of memory queueing a message");
        return;
    }
    if (m->topic_len > 0) {
        memcpy(data, m->topic, m->topic_len);
    }
    if (m->text_len > 0) {
        memcpy(data + m->topic_len, m->text, m->text_len);
    }
    e->data = data;
    e->item.kind = FORWARD_MESSAGE;
    e->item.msg = *m;
    e->item.msg.topic = m->topic_len ? data : "";
    e->item.msg.text = data + m->topic_len;
    e->item.received = *received;
    if (m->kind == WIRE_FRAMED) {
        char hex[2 * WIRE_ID_LEN + 1];
        wire_id_hex(m->publisher, hex);
        e->item.upto = m->seq;
        snprintf(e->id, sizeof e->id, "%s-%" PRIu64, hex, m->seq);
    } else {
        /* No publisher sequence: a time-based id, unique per process (at-least-once). */
        snprintf(e->id, sizeof e->id, "plain-%lld%09ld-%02x%02x%02x%02x-%" PRIu64,
                 (long long)received->tv_sec, (long)received->tv_nsec, x->nonce[0], x->nonce[1],
                 x->nonce[2], x->nonce[3], ++x->plain_count);
    }
    pump(x);
}

void forward_gap(struct forward *f, const uint8_t id[WIRE_ID_LEN], uint64_t lost, uint64_t upto,
                 const struct timespec *now)
{
    struct forward_impl *x = f->impl;
    if (x == NULL || x->closing) {
        return;
    }
    struct entry *e = push(x);
    if (e == NULL) {
        diag("sub", "forward: out of memory queueing a gap");
        return;
    }
    char hex[2 * WIRE_ID_LEN + 1];
    wire_id_hex(id, hex);
    e->item.kind = FORWARD_GAP;
    memcpy(e->item.publisher, id, WIRE_ID_LEN);
    e->item.lost = lost;
    e->item.upto = upto;
    e->item.received = *now;
    snprintf(e->id, sizeof e->id, "%s-gap-%" PRIu64, hex, upto);
    pump(x);
}

size_t forward_queued(const struct forward *f)
{
    return f->impl ? f->impl->n : 0;
}

bool forward_full(const struct forward *f)
{
    const struct forward_impl *x = f->impl;
    return x != NULL && x->n >= x->limit;
}

/* ---- opening ------------------------------------------------------------------------------- */

bool forward_built(void)
{
    return true;
}

/* Reads a secret file (mode checked as the CurveZMQ secret keys are) into a NUL-terminated
 * buffer, or only checks it (out NULL). 0 or a negative errno; why says what was wrong. */
static int read_secret(const char *path, char **out, char *why, size_t whysz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        snprintf(why, whysz, "cannot open: %s", strerror(err));
        return -err;
    }
    int rc = 0;
    char *text = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(why, whysz, "cannot stat: %s", strerror(-rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        snprintf(why, whysz, "not a regular file");
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        rc = -EACCES;
        snprintf(why, whysz,
                 "a secret file accessible to group or others (mode %04o); chmod 600 it",
                 (unsigned)(st.st_mode & 07777));
        goto out;
    }
    if (st.st_size > FORWARD_MAX_SECRET_FILE) {
        rc = -EFBIG;
        snprintf(why, whysz, "larger than %d bytes", FORWARD_MAX_SECRET_FILE);
        goto out;
    }
    if (out == NULL) {
        goto out;
    }
    text = calloc(1, FORWARD_MAX_SECRET_FILE + 1);
    if (text == NULL) {
        rc = -ENOMEM;
        snprintf(why, whysz, "out of memory");
        goto out;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, text + len, FORWARD_MAX_SECRET_FILE - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            snprintf(why, whysz, "cannot read: %s", strerror(-rc));
            goto out;
        }
        if (n == 0 || (len += (size_t)n) == FORWARD_MAX_SECRET_FILE) {
            break;
        }
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) {
        text[--len] = '\0';
    }
    if (len == 0 || memchr(text, '\n', len) != NULL) {
        rc = -EINVAL;
        snprintf(why, whysz, "expected one line holding the token");
        goto out;
    }
    *out = text;
    text = NULL;
out:
    if (text != NULL) {
        explicit_bzero(text, FORWARD_MAX_SECRET_FILE);
        free(text);
    }
    close(fd);
    return rc;
}

/* libnats' last error without the "(file.c:123): " it starts with. */
static const char *last_error(void)
{
    const char *e = nats_GetLastError(NULL);
    if (e == NULL) {
        return "no detail";
    }
    if (e[0] == '(') {
        const char *end = strstr(e, "): ");
        if (end != NULL) {
            return end + 3;
        }
    }
    return e;
}

/* The options both connections share: servers, credentials, TLS. */
static natsStatus common_options(struct forward_impl *x, const struct forward_config *cfg,
                                 natsOptions **out, const char *token)
{
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    const char *servers[NATSURL_MAX_SERVERS];
    for (size_t i = 0; i < x->url.nservers; i++) {
        servers[i] = x->url.servers[i];
    }
    if (s == NATS_OK) {
        s = natsOptions_SetServers(o, servers, (int)x->url.nservers);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetName(o, "downcase-sub");
    }
    if (s == NATS_OK && x->url.tls) {
        s = natsOptions_SetSecure(o, true);
    }
    if (s == NATS_OK && cfg->creds) {
        s = natsOptions_SetUserCredentialsFromFiles(o, cfg->creds, NULL);
    }
    if (s == NATS_OK && token) {
        s = natsOptions_SetToken(o, token);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetTimeout(o, 2000);
    }
    if (s != NATS_OK) {
        natsOptions_Destroy(o);
        return s;
    }
    *out = o;
    return NATS_OK;
}

/* What is certain at start, asked over a short-lived connection of libnats' own (its requests
 * wait for an answer, which our loop could not read while it waits): the server refuses us, or
 * no stream takes the subject. A server that cannot be reached now is not certain: the sub
 * starts, and libnats keeps trying. */
static int check_at_start(struct forward_impl *x, const struct forward_config *cfg,
                          const char *token)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    natsMsg *reply = NULL;
    int rc = 0;
    natsStatus s = common_options(x, cfg, &o, token);
    if (s == NATS_OK) {
        s = natsOptions_SetAllowReconnect(o, false);
    }
    if (s != NATS_OK) {
        diag("sub", "forward: %s: cannot set up the connection: %s", x->servers, last_error());
        rc = -EINVAL;
        goto out;
    }
    s = natsConnection_Connect(&nc, o);
    if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED) {
        diag("sub", "forward: %s: authorization refused by the server (%s)", x->servers,
             last_error());
        rc = -EACCES;
        goto out;
    }
    if (s == NATS_SSL_ERROR) {
        diag("sub", "forward: %s: TLS handshake failed (%s)", x->servers, last_error());
        rc = -EPROTO;
        goto out;
    }
    if (s != NATS_OK) {
        diag("sub", "forward: %s: cannot connect now (%s); starting anyway, messages wait",
             x->servers, last_error());
        goto out;
    }
    char q[NATSURL_SUBJECT_LEN + 32];
    snprintf(q, sizeof q, "{\"subject\":\"%s\"}", x->url.subject);
    s = natsConnection_RequestString(&reply, nc, "$JS.API.STREAM.NAMES", q, 3000);
    if (s == NATS_NO_RESPONDERS) {
        diag("sub", "forward: %s: JetStream is not enabled on the server", x->servers);
        rc = -ENOENT;
        goto out;
    }
    if (s != NATS_OK) {
        diag("sub", "forward: %s: could not ask which stream takes %s (%s); starting anyway",
             x->servers, x->url.subject, natsStatus_GetText(s));
        goto out;
    }
    const char *data = natsMsg_GetData(reply);
    if (data == NULL) {
        data = "";
    }
    if (strstr(data, "\"error\"") != NULL) {
        diag("sub", "forward: %s: JetStream refused to list streams: %.200s", x->servers, data);
        rc = -EACCES;
    } else if (strstr(data, "\"streams\":null") != NULL || strstr(data, "\"streams\":[]") != NULL) {
        diag("sub",
             "forward: %s: no JetStream stream takes subject %s; create one first (nats "
             "stream add, or $JS.API.STREAM.CREATE)",
             x->servers, x->url.subject);
        rc = -ENOENT;
    }
out:
    natsMsg_Destroy(reply);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return rc;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct forward_impl *x = h->data;
    x->open_handles--;
    barrier_release(&x->barrier);
}

int forward_open(struct forward *f, uv_loop_t *loop, const struct forward_config *cfg,
                 struct forward_sink sink)
{
    memset(f, 0, sizeof *f);
    struct forward_impl *x = calloc(1, sizeof *x);
    if (x == NULL) {
        diag("sub", "forward: out of memory");
        return -ENOMEM;
    }
    f->impl = x;
    x->f = f;
    x->loop = loop;
    x->url = *cfg->url;
    x->limit = cfg->pending ? cfg->pending : FORWARD_DEFAULT_PENDING;
    x->sink = sink;
    if (getrandom(x->nonce, sizeof x->nonce, 0) != (ssize_t)sizeof x->nonce) {
        memset(x->nonce, 0, sizeof x->nonce); /* ids still differ by time and count */
    }
    natsurl_servers(&x->url, x->servers, sizeof x->servers);
    char why[160];
    char *token = NULL;
    int rc = 0;
    if (cfg->creds && (rc = read_secret(cfg->creds, NULL, why, sizeof why)) < 0) {
        diag("sub", "--forward-creds %s: %s", cfg->creds, why);
        return rc;
    }
    if (cfg->token && (rc = read_secret(cfg->token, &token, why, sizeof why)) < 0) {
        diag("sub", "--forward-token %s: %s", cfg->token, why);
        return rc;
    }
    rc = uv_mutex_init(&x->mu);
    if (rc < 0) {
        diag("sub", "forward: uv_mutex_init: %s", uv_strerror(rc));
        goto out;
    }
    x->mu_ready = true;
    uv_async_init(loop, &x->wake, on_wake);
    uv_timer_init(loop, &x->timer);
    x->wake.data = x->timer.data = x;
    x->open_handles = 2;
    rc = check_at_start(x, cfg, token);
    if (rc < 0) {
        goto out;
    }
    rc = natsloop_init(&x->nl, loop, "sub");
    if (rc < 0) {
        goto out;
    }
    natsStatus s = common_options(x, cfg, &x->opts, token);
    /* Reconnect for ever, every second; hold nothing while disconnected: a publish made while
     * libnats reconnects (another of its threads can find the connection dead) fails at once
     * instead of waiting in its reconnect buffer, to be sent after the reconnection ahead of
     * what the lost connection dropped. forward resends what was not acknowledged, in order. */
    if (s == NATS_OK) {
        s = natsOptions_SetMaxReconnect(x->opts, -1);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectBufSize(x->opts, 0);
    }
    /* Writes go out from the loop: a publish only asks natsloop to watch for writability,
     * and the loop writes what a batch published in one go. Without it libnats wakes its
     * flusher thread, which waits a millisecond and asks from there: each batch took that
     * detour, and the forwarder ran at two thirds of the plain publisher (scripts/bench). */
    if (s == NATS_OK) {
        s = natsOptions_SetSendAsap(x->opts, true);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectWait(x->opts, 1000);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetRetryOnFailedConnect(x->opts, true, on_connected, x);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetDisconnectedCB(x->opts, on_disconnected, x);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectedCB(x->opts, on_connected, x);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetClosedCB(x->opts, on_closed, x);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetErrorHandler(x->opts, on_error, x);
    }
    if (s == NATS_OK) {
        s = natsloop_options(&x->nl, x->opts);
    }
    if (s != NATS_OK) {
        diag("sub", "forward: cannot set up the NATS connection: %s", last_error());
        rc = -EINVAL;
        goto out;
    }
    s = natsConnection_Connect(&x->nc, x->opts);
    if (s == NATS_OK) {
        f->connected = true;
    } else if (s != NATS_NOT_YET_CONNECTED) {
        diag("sub", "forward: %s: %s", x->servers, last_error());
        rc = -ECONNREFUSED;
        goto out;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = x;
    /* Never stall: our own queue bounds what is outstanding. */
    jo.PublishAsync.MaxPending = 0;
    s = natsConnection_JetStream(&x->js, x->nc, &jo);
    if (s != NATS_OK) {
        diag("sub", "forward: natsConnection_JetStream: %s", natsStatus_GetText(s));
        rc = -EINVAL;
        goto out;
    }
    diag("sub", "forwarding to NATS JetStream %s, subject %s%s", x->servers, x->url.subject,
         f->connected ? "" : " (not connected yet)");
out:
    if (token != NULL) {
        explicit_bzero(token, FORWARD_MAX_SECRET_FILE);
        free(token);
    }
    return rc;
}

/* ---- closing ------------------------------------------------------------------------------- */

static void on_closed_all(void *arg)
{
    struct forward_impl *x = arg;
    closer_done(&x->closed);
}

static void finish_close(struct forward_impl *x)
{
    if (x->conn_closed) {
        return;
    }
    x->conn_closed = true;
    uv_timer_stop(&x->timer);
    if (x->inflight > 0) {
        diag("sub",
             "forward: stopping with %zu messages not acknowledged: the next start sends "
             "them again",
             x->inflight);
    }
    uv_mutex_lock(&x->mu);
    x->gone = true;
    uv_mutex_unlock(&x->mu);
    /* libnats joins its reconnect thread here and calls no hook afterwards (natsloop.h). */
    if (x->nc != NULL) {
        natsConnection_Close(x->nc);
    }
    barrier_init(&x->barrier, (struct closer){on_closed_all, x});
    natsloop_close(&x->nl, barrier_take(&x->barrier));
    if (x->open_handles > 0) {
        barrier_hold(&x->barrier);
        uv_close((uv_handle_t *)&x->wake, on_handle_closed);
        barrier_hold(&x->barrier);
        uv_close((uv_handle_t *)&x->timer, on_handle_closed);
    }
    barrier_release(&x->barrier);
}

void forward_close(struct forward *f, struct closer closed)
{
    struct forward_impl *x = f->impl;
    if (x == NULL || x->closing) {
        closer_done(&closed);
        return;
    }
    x->closing = true;
    x->closed = closed;
    if (x->open_handles == 0) {
        /* opened no handle: nothing to wait for */
        x->conn_closed = true;
        natsConnection_Close(x->nc);
        closer_done(&x->closed);
        return;
    }
    if (x->inflight > 0 && f->connected) {
        uv_timer_start(&x->timer, on_timer, FORWARD_CLOSE_WAIT_MS, 0);
        return;
    }
    finish_close(x);
}

void forward_finish(struct forward *f)
{
    struct forward_impl *x = f->impl;
    if (x == NULL) {
        return;
    }
    jsCtx_Destroy(x->js);
    natsConnection_Destroy(x->nc);
    natsOptions_Destroy(x->opts);
    for (size_t i = 0; i < x->n; i++) {
        free(at(x, i)->data);
    }
    free(x->ring);
    /* What libnats' threads handed over and the loop did not take (they add nothing once
     * `gone` is set, under mu). */
    if (x->mu_ready) {
        uv_mutex_lock(&x->mu);
    }
    for (size_t i = 0; i < x->nresults; i++) {
        natsMsg_Destroy(x->results[i].msg);
    }
    free(x->results);
    x->results = NULL;
    x->nresults = 0;
    if (x->mu_ready) {
        uv_mutex_unlock(&x->mu);
    }
    /* libnats' threads hold references until they end: wait for them (bounded), so nothing of
     * theirs runs once x is gone. */
    nats_CloseAndWait(2000);
    if (x->mu_ready) {
        uv_mutex_destroy(&x->mu);
    }
    free(x);
    f->impl = NULL;
}

#endif
