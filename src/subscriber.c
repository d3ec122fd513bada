/* subscriber: the SUB socket, layouts and sequence numbers (subscriber.h). */
#include "subscriber.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "curve.h"

static void check_layout(struct subscriber *s, const struct wire_msg *m)
{
    if (s->warned_layout || s->expect_any || m->kind == s->expect) {
        return;
    }
    bool framed = m->kind == WIRE_FRAMED;
    diag("sub", "received a %s message while --wire=%s: logged anyway (said once)",
         framed ? "framed" : "plain", framed ? "plain" : "framed");
    s->warned_layout = true;
}

/* Hands on a gap before a framed message whose predecessors from its publisher are missing. */
static void note_gap(struct subscriber *s, const struct wire_msg *m, const struct timespec *now)
{
    int64_t lost = seqtrack_see(&s->seq, m->publisher, m->seq);
    if (lost < 0) {
        diag_limited(&s->gap_limit, uv_now(s->loop), 10000, "sub",
                     "out of memory tracking publishers: gaps are not counted");
        return;
    }
    if (lost == 0) {
        return;
    }
    char id[2 * WIRE_ID_LEN + 1];
    wire_id_hex(m->publisher, id);
    diag_limited(&s->gap_limit, uv_now(s->loop), 10000, "sub",
                 "gap: %lld message(s) of publisher %s missing before seq %llu", (long long)lost,
                 id, (unsigned long long)m->seq);
    s->sink.gap(s->sink.ctx, m->publisher, (uint64_t)lost, now);
}

unsigned subscriber_drain(struct subscriber *s, unsigned budget)
{
    unsigned done = 0;
    while (done < budget && s->frames_ready) {
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
        s->received++;
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
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (m.kind == WIRE_FRAMED) {
            note_gap(s, &m, &now);
        }
        s->sink.message(s->sink.ctx, &m, &now);
    }
    return done;
}

static void on_readable(struct zsock *z)
{
    struct subscriber *s = z->data;
    subscriber_drain(s, SUBSCRIBER_BUDGET);
    s->sink.batch_end(s->sink.ctx);
}

int subscriber_open(struct subscriber *s, uv_loop_t *loop, void *zctx,
                    const struct subscriber_config *cfg, struct subscriber_sink sink)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->sink = sink;
    s->expect_any = cfg->expect_any;
    s->expect = cfg->expect;
    seqtrack_init(&s->seq);
    zsock_frames_init(s->frames, SUBSCRIBER_MAX_FRAMES);
    s->frames_ready = true;
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
        rc = curve_secure(&s->sock, &cfg->security);
    }
    if (rc == 0) {
        rc = zsock_tune(&s->sock, ZMQ_RCVHWM, &cfg->tuning);
    }
    if (rc == 0) {
        /* Before attaching, so the first connections are reported too. */
        rc = zmonitor_open(&s->monitor, loop, zctx, s->sock.sock, "inproc://downcase-sub-monitor",
                           "sub");
        s->monitor.data = s;
    }
    if (rc == 0) {
        rc = zendpoint_attach(&s->sock, cfg->endpoints);
    }
    if (rc == 0) {
        rc = zsock_watch(&s->sock, loop, ZMQ_POLLIN, on_readable);
    }
    return rc;
}

void subscriber_close(struct subscriber *s, struct closer closed)
{
    if (s->frames_ready) {
        /* Nothing is received once the socket's watch is asked to close. */
        zsock_frames_close(s->frames, SUBSCRIBER_MAX_FRAMES);
        s->frames_ready = false;
    }
    barrier_init(&s->closing, closed);
    zmonitor_close(&s->monitor, barrier_take(&s->closing));
    zsock_close(&s->sock, barrier_take(&s->closing));
    barrier_release(&s->closing);
}

void subscriber_finish(struct subscriber *s)
{
    seqtrack_finish(&s->seq);
}
