/* subscriber: the SUB socket, layouts and replays (subscriber.h). */
#include "subscriber.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

#include "curve.h"

static void check_layout(struct subscriber *s, const struct wire_msg *m)
{
    bool framed = m->kind != WIRE_PLAIN;
    if (m->kind == WIRE_HEAD || s->warned_layout || s->expect_any ||
        framed == (s->expect == WIRE_FRAMED)) {
        return;
    }
    diag("sub", "received a %s message while --wire=%s: logged anyway (said once)",
         framed ? "framed" : "plain", framed ? "plain" : "framed");
    s->warned_layout = true;
}

static void on_tick(uv_timer_t *t);

/* ---- what resync asks for ------------------------------------------------------------------ */

static void deliver(void *ctx, const struct wire_msg *m, const struct timespec *received)
{
    struct subscriber *s = ctx;
    s->sink.message(s->sink.ctx, m, received);
}

static void gap(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t lost, const struct timespec *now)
{
    struct subscriber *s = ctx;
    char hex[2 * WIRE_ID_LEN + 1];
    wire_id_hex(id, hex);
    diag_limited(&s->gap_limit, uv_now(s->loop), 10000, "sub",
                 "gap: %llu message(s) of publisher %s cannot be had (not retained)",
                 (unsigned long long)lost, hex);
    s->sink.gap(s->sink.ctx, id, lost, now);
}

/* A request is a subscription (wire.h), unsubscribed at once so that no socket keeps it and a
 * reconnection does not send it again. */
static void request(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, uint32_t count,
                    uint32_t nonce)
{
    struct subscriber *s = ctx;
    struct wire_request rq = {.from = from, .count = count, .nonce = nonce};
    memcpy(rq.subscriber, s->id, WIRE_ID_LEN);
    memcpy(rq.publisher, id, WIRE_ID_LEN);
    uint8_t t[WIRE_REQUEST_LEN];
    wire_request_encode(t, &rq);
    if (s->sock.sock == NULL || s->sock.closing) {
        return;
    }
    if (zmq_setsockopt(s->sock.sock, ZMQ_SUBSCRIBE, t, sizeof t) == 0) {
        zmq_setsockopt(s->sock.sock, ZMQ_UNSUBSCRIBE, t, sizeof t);
        s->requests++;
    }
    if (s->tick_open && !uv_is_active((uv_handle_t *)&s->tick)) {
        uv_timer_start(&s->tick, on_tick, RESYNC_RETRY_MS / 2, RESYNC_RETRY_MS / 2);
    }
}

static void protocol_error(void *ctx, const uint8_t id[WIRE_ID_LEN], const char *what, uint64_t seq,
                           uint64_t last)
{
    struct subscriber *s = ctx;
    char hex[2 * WIRE_ID_LEN + 1];
    wire_id_hex(id, hex);
    diag_limited(&s->protocol_limit, uv_now(s->loop), 10000, "sub",
                 "publisher %s: %s (sequence %llu after %llu): message dropped", hex, what,
                 (unsigned long long)seq, (unsigned long long)last);
}

/* ---- receiving ------------------------------------------------------------------------------ */

static bool sink_full(struct subscriber *s)
{
    return s->sink.full != NULL && s->sink.full(s->sink.ctx);
}

unsigned subscriber_drain(struct subscriber *s, unsigned budget)
{
    unsigned done = 0;
    while (done < budget && s->frames_ready && (s->defer || !sink_full(s))) {
        int n = zsock_recv(&s->sock, s->frames, SUBSCRIBER_MAX_FRAMES);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (n != -ETERM && n != -EINTR) {
                diag("sub", "zmq_msg_recv: %s", zmq_strerror(-n));
            }
            break;
        }
        done++;
        const void *data[SUBSCRIBER_MAX_FRAMES];
        size_t lens[SUBSCRIBER_MAX_FRAMES];
        size_t nframes = (size_t)n < SUBSCRIBER_MAX_FRAMES ? (size_t)n : SUBSCRIBER_MAX_FRAMES;
        for (size_t i = 0; i < nframes; i++) {
            data[i] = zmq_msg_data(&s->frames[i]);
            lens[i] = zmq_msg_size(&s->frames[i]);
        }
        struct wire_msg m;
        if (n > SUBSCRIBER_MAX_FRAMES || wire_decode(data, lens, nframes, &m) < 0) {
            s->malformed++;
            diag_limited(&s->malformed_limit, uv_now(s->loop), 10000, "sub",
                         "ignored a message of %d frames: neither plain (1 frame) nor framed "
                         "(3 frames, 16-byte header)",
                         n);
            continue;
        }
        check_layout(s, &m);
        /* Data only: heads and replay answers are the protocol's own, and counting them would
         * make the figure depend on timing (a head every half second while idle). */
        s->received += m.kind == WIRE_PLAIN || m.kind == WIRE_FRAMED;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (m.kind != WIRE_PLAIN && s->defer && sink_full(s)) {
            /* Deferring (on_readable says why): live messages, heads and replay answers alike
             * wait for the probe that follows the first room. */
            s->deferred += m.kind == WIRE_FRAMED;
            s->probe_due = true;
            continue;
        }
        switch (m.kind) {
        case WIRE_PLAIN:
            s->sink.message(s->sink.ctx, &m, &now);
            break;
        case WIRE_FRAMED:
            resync_message(&s->resync, &m, uv_now(s->loop), &now);
            break;
        case WIRE_HEAD:
            resync_head(&s->resync, m.publisher, m.seq, uv_now(s->loop));
            break;
        case WIRE_BATCH:
        case WIRE_STATUS:
            if (!wire_is_for(&m, s->id)) {
                s->not_for_us++; /* a relay of another vendor, or a misrouted answer */
            } else if (m.kind == WIRE_BATCH) {
                resync_batch(&s->resync, &m, uv_now(s->loop), &now);
            } else {
                resync_status(&s->resync, &m, uv_now(s->loop), &now);
            }
            break;
        }
    }
    return done;
}

/* When the sink is full (a forwarding sub waiting for JetStream's acknowledgments) there are
 * two ways to stop taking messages.
 *
 * Holding (the default): nothing is received; the watch stops wanting POLLIN, so the loop
 * sleeps instead of coming back to a socket whose messages it will not take (zwatch.h), and
 * the messages wait in ZeroMQ; past the high-water mark the publisher drops them for this
 * subscriber alone. But a SUB whose queue stays full stops reading its TCP connections, so it
 * no longer sees the publishers' heartbeats: after three intervals libzmq drops a healthy
 * connection, and libzmq 4.3.4 can then abort on `_input_stopped` in restart_input
 * (zeromq/libzmq#3937; a stale "pipe has room" reaches the new connection). Seen here when a
 * hold outlasted the heartbeats.
 *
 * Deferring (defer_when_full, --wire=framed): receiving goes on, so the connections stay read
 * and alive; live framed messages are dropped and counted, and so are the heads and replay
 * answers that would make resync hand over more (resync's retries wait meanwhile, on_tick).
 * Either way the messages are fetched again from the publishers' retention: resync sees the
 * jump when a later message arrives. The dropped ones may be the last a publisher sent for a
 * while, with nothing later to reveal them, so once the sink has room and the queue is
 * drained every publisher is asked what follows the last message had (a probe, resync.h); a
 * publisher that dropped nothing answers with its status alone. Asking before the queue is
 * drained would fetch again what still waits in it. */
static void on_readable(struct zsock *z)
{
    struct subscriber *s = z->data;
    if (sink_full(s) && !s->defer) {
        if (!s->held) {
            s->held = true;
            s->holds++;
            s->sock.watch.want = 0;
        }
        return;
    }
    unsigned got = subscriber_drain(s, SUBSCRIBER_BUDGET);
    if (s->probe_due && got < SUBSCRIBER_BUDGET && !sink_full(s)) {
        s->probe_due = false;
        resync_connected(&s->resync, uv_now(s->loop));
    }
    s->sink.batch_end(s->sink.ctx);
}

void subscriber_resume(struct subscriber *s)
{
    if ((!s->held && !s->probe_due) || !s->frames_ready || sink_full(s)) {
        return;
    }
    if (s->held) {
        s->held = false;
        s->probe_due = true;
        s->sock.watch.want = ZMQ_POLLIN;
    }
    /* The fd's edge may be gone: receive now, the watch's prepare phase sees what remains. */
    on_readable(&s->sock);
}

static void on_tick(uv_timer_t *t)
{
    struct subscriber *s = t->data;
    if (s->held || (s->defer && sink_full(s))) {
        /* Answers wait unread in the socket, or are dropped until there is room: a request is
         * not unanswered, and giving up on it would report as lost what the publisher still
         * holds. */
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    resync_tick(&s->resync, uv_now(s->loop), &now);
    s->sink.batch_end(s->sink.ctx); /* a gap given up on, and the messages kept behind it */
    if (!resync_waiting(&s->resync)) {
        uv_timer_stop(t);
    }
}

/* Every new connection: ask each known publisher what followed its last message here. */
static void on_peer_up(struct zmonitor *m)
{
    struct subscriber *s = m->data;
    resync_connected(&s->resync, uv_now(s->loop));
}

void subscriber_init(struct subscriber *s, uv_loop_t *loop, struct subscriber_sink sink)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->sink = sink;
    resync_init(&s->resync, (struct resync_ops){
                                .deliver = deliver,
                                .gap = gap,
                                .request = request,
                                .protocol_error = protocol_error,
                                .ctx = s,
                            });
}

int subscriber_open(struct subscriber *s, void *zctx, const struct subscriber_config *cfg)
{
    s->expect_any = cfg->expect_any;
    s->expect = cfg->expect;
    s->defer = cfg->defer_when_full;
    zsock_frames_init(s->frames, SUBSCRIBER_MAX_FRAMES);
    s->frames_ready = true;
    uv_timer_init(s->loop, &s->tick);
    s->tick.data = s;
    s->tick_open = true;
    if (getrandom(s->id, sizeof s->id, 0) != (ssize_t)sizeof s->id) {
        diag("sub", "getrandom: %s", strerror(errno));
        return -errno;
    }
    /* Linger 0: a SUB has nothing to send. */
    int rc = zsock_open(&s->sock, zctx, ZMQ_SUB, "ZMQ_SUB", "sub", 0, s);
    if (rc == 0) {
        rc = zsock_limit_messages(&s->sock);
    }
    /* No topic: subscribe to everything (the empty prefix), as the tutorial's subscriber. */
    for (size_t i = 0; rc == 0 && i < (cfg->ntopics ? cfg->ntopics : 1); i++) {
        const char *t = cfg->ntopics ? cfg->topics[i] : "";
        rc = zsock_set(&s->sock, ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", t, strlen(t));
    }
    if (rc == 0) {
        /* The inbox, where replays addressed to this subscriber arrive. */
        uint8_t inbox[WIRE_INBOX_LEN];
        wire_inbox(inbox, s->id);
        rc = zsock_set(&s->sock, ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", inbox, sizeof inbox);
    }
    if (rc == 0) {
        /* Publishers' head announcements: how a lost tail is noticed (wire.h). */
        rc = zsock_set(&s->sock, ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", WIRE_HEAD_TOPIC,
                       WIRE_HEAD_TOPIC_LEN);
    }
    if (rc == 0) {
        rc = curve_secure(&s->sock, &cfg->security);
    }
    if (rc == 0) {
        rc = zsock_tune(&s->sock, ZMQ_RCVHWM, &cfg->tuning);
    }
    if (rc == 0) {
        /* Before attaching, so the first connections are reported too. */
        rc = zmonitor_open(&s->monitor, s->loop, zctx, s->sock.sock,
                           "inproc://downcase-sub-monitor", "sub");
        s->monitor.data = s;
        s->monitor.on_up = on_peer_up;
    }
    if (rc == 0) {
        rc = zendpoint_attach(&s->sock, cfg->endpoints);
    }
    if (rc == 0) {
        rc = zsock_watch(&s->sock, s->loop, ZMQ_POLLIN, on_readable);
    }
    return rc;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct subscriber *s = h->data;
    barrier_release(&s->closing);
}

void subscriber_close(struct subscriber *s, struct closer closed)
{
    if (s->frames_ready) {
        /* Nothing is received once the socket's watch is asked to close. */
        zsock_frames_close(s->frames, SUBSCRIBER_MAX_FRAMES);
        s->frames_ready = false;
    }
    barrier_init(&s->closing, closed);
    if (s->tick_open) {
        s->tick_open = false;
        barrier_hold(&s->closing);
        uv_close((uv_handle_t *)&s->tick, on_tick_closed);
    }
    zmonitor_close(&s->monitor, barrier_take(&s->closing));
    zsock_close(&s->sock, barrier_take(&s->closing));
    barrier_release(&s->closing);
}

void subscriber_finish(struct subscriber *s)
{
    resync_finish(&s->resync);
}
