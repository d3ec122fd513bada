/* publisher: the pub role's ZeroMQ PUB socket. */
#include "publisher.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

#include "curve.h"
#include "diag.h"
#include "zsubs.h"

/* Subscription messages: applied, and replay requests answered (zsubs.h, replay.h). */
static void on_subscriptions(struct zsock *z)
{
    struct publisher *p = z->data;
    const struct replay_source src =
        p->journaling ? journal_source(&p->journal) : retain_source(&p->retain, true);
    for (int i = 0; i < PUBLISHER_SUB_BUDGET; i++) {
        if (zsock_recv(&p->sock, &p->sub_msg, 1) <= 0) {
            break;
        }
        p->subscriptions++;
        struct wire_request rq;
        int kind =
            zsubs_handle(p->sock.sock, zmq_msg_data(&p->sub_msg), zmq_msg_size(&p->sub_msg), &rq);
        if (kind != ZSUBS_REQUEST || p->wire != WIRE_FRAMED ||
            memcmp(rq.publisher, p->id, WIRE_ID_LEN) != 0) {
            continue; /* another publisher's, or nothing to answer on a plain stream */
        }
        if (!p->retaining ||
            replay_answer(p->sock.sock, &src, &rq, &p->scratch, &p->replay) == -ENOENT) {
            /* Nothing held (retention off, or nothing published yet): the subscriber learns
             * what is gone at once. */
            replay_answer_none(p->sock.sock, &rq, p->seq);
        }
    }
}

/* A subscriber whose last messages were dropped (its queue was full) and to which nothing
 * followed would not know it is behind: the newest sequence is announced a few times after it
 * changes (wire.h). An announcement that finds no room is simply not sent to that subscriber;
 * the next one is. */
static void on_head_timer(uv_timer_t *t)
{
    struct publisher *p = t->data;
    if (p->seq != p->announced) {
        p->announced = p->seq;
        p->announce_left = PUBLISHER_HEAD_REPEAT;
    }
    if (p->announce_left == 0 || p->seq == 0 || !p->open) {
        return;
    }
    p->announce_left--;
    uint8_t header[WIRE_HEADER_LEN];
    wire_header_encode(header, p->id, p->seq);
    if (zmq_send(p->sock.sock, WIRE_HEAD_TOPIC, WIRE_HEAD_TOPIC_LEN, ZMQ_DONTWAIT | ZMQ_SNDMORE) >=
            0 &&
        zmq_send(p->sock.sock, header, sizeof header, ZMQ_DONTWAIT | ZMQ_SNDMORE) >= 0) {
        zmq_send(p->sock.sock, "", 0, ZMQ_DONTWAIT);
    }
}

int publisher_open(struct publisher *p, uv_loop_t *loop, void *zctx,
                   const struct publisher_config *cfg)
{
    memset(p, 0, sizeof *p);
    p->wire = cfg->wire;
    p->topic = cfg->topic;
    p->topic_len = strlen(p->topic);
    /* A random id per process: a restarted publisher is a new sequence, never a gap. */
    if (getrandom(p->id, sizeof p->id, 0) != (ssize_t)sizeof p->id) {
        diag("pub", "getrandom: %s", strerror(errno));
        return -errno;
    }
    zmq_msg_init(&p->sub_msg);
    p->journaling = cfg->wire == WIRE_FRAMED && cfg->journal.dir != NULL;
    p->retaining = p->journaling || (cfg->wire == WIRE_FRAMED && cfg->retain_bytes > 0);
    retain_init(&p->retain, p->journaling ? 0 : cfg->retain_bytes);
    if (p->journaling) {
        /* The journal holds the id and the sequence: a restarted pub continues them. */
        int rc = journal_open(&p->journal, loop, &cfg->journal, "pub");
        if (rc < 0) {
            return rc;
        }
        memcpy(p->id, p->journal.id, WIRE_ID_LEN);
        p->seq = p->journal.head;
    }
    int rc = zsock_open(&p->sock, zctx, ZMQ_XPUB, "ZMQ_XPUB", "pub", PUBLISHER_LINGER_MS, p);
    /* Options must precede bind/connect: they apply to connections made afterwards. */
    if (rc == 0) {
        rc = zsock_set_int(&p->sock, ZMQ_XPUB_MANUAL, "ZMQ_XPUB_MANUAL", 1);
    }
    if (rc == 0 && !p->retaining) {
        rc = zsock_set_int(&p->sock, ZMQ_XPUB_NODROP, "ZMQ_XPUB_NODROP", 1);
    }
    if (rc == 0) {
        rc = curve_secure(&p->sock, &cfg->security);
    }
    if (rc == 0) {
        rc = zsock_tune(&p->sock, ZMQ_SNDHWM, &cfg->tuning);
    }
    if (rc == 0) {
        rc = zendpoint_attach(&p->sock, cfg->endpoints);
    }
    if (rc == 0) {
        rc = zsock_watch(&p->sock, loop, ZMQ_POLLIN, on_subscriptions);
    }
    if (rc == 0 && p->wire == WIRE_FRAMED) {
        uv_timer_init(loop, &p->head_timer);
        p->head_timer.data = p;
        p->head_timer_open = true;
        uv_timer_start(&p->head_timer, on_head_timer, PUBLISHER_HEAD_MS, PUBLISHER_HEAD_MS);
    }
    p->open = rc == 0;
    return rc;
}

/* One attempt: 0, or the errno of the first frame ZeroMQ refused. */
static int send_once(struct publisher *p, const char *text, size_t len)
{
    int rc;
    if (p->wire == WIRE_FRAMED) {
        uint8_t header[WIRE_HEADER_LEN];
        wire_header_encode(header, p->id, p->seq + 1);
        /* With NODROP the high-water mark is checked on the first frame; once it is accepted
         * the rest of the message is too, so a message is never cut in half. */
        rc = zmq_send(p->sock.sock, p->topic, p->topic_len, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        if (rc >= 0) {
            rc = zmq_send(p->sock.sock, header, sizeof header, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        }
        if (rc >= 0) {
            rc = zmq_send(p->sock.sock, text, len, ZMQ_DONTWAIT);
        }
    } else {
        rc = zmq_send(p->sock.sock, text, len, ZMQ_DONTWAIT);
    }
    return rc < 0 ? zmq_errno() : 0;
}

/* Waits, at most PUBLISHER_ROOM_WAIT_MS, until ZeroMQ takes the message: 0 or an errno. */
static int wait_for_room(struct publisher *p, const char *text, size_t len)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)PUBLISHER_ROOM_WAIT_MS * 1000000u;
    int err = EAGAIN;
    for (uint64_t now = uv_hrtime(); err == EAGAIN && now < deadline; now = uv_hrtime()) {
        /* ZMQ_FD turns readable when a command arrives, such as the I/O thread's "room
         * again"; reading ZMQ_EVENTS takes the commands in. */
        struct pollfd fd = {.fd = zwatch_fd(&p->sock.watch), .events = POLLIN};
        if (poll(&fd, 1, (int)((deadline - now + 999999u) / 1000000u)) < 0 && errno != EINTR) {
            break;
        }
        (void)zsock_events(&p->sock);
        err = send_once(p, text, len);
    }
    return err;
}

/* With retention: keep, then hand to ZeroMQ for whoever has room (publisher.h). */
static int send_retained(struct publisher *p, const char *text, size_t len)
{
    int rc = p->journaling
                 ? journal_append(&p->journal, p->seq + 1, p->topic, p->topic_len, text, len)
                 : retain_add(&p->retain, p->id, p->seq + 1, p->topic, p->topic_len, text, len);
    if (rc < 0 && rc != -E2BIG) {
        p->retain_errors++;
        p->dropped++;
        return rc;
    }
    /* No NODROP: a full queue drops the message for that subscriber alone, which fetches it. */
    send_once(p, text, len);
    p->seq++;
    p->published++;
    return 0;
}

int publisher_send(struct publisher *p, const char *text, size_t len)
{
    if (p->retaining) {
        return send_retained(p, text, len);
    }
    /* The sequence number counts messages ZeroMQ accepted: a refused one was answered 503 and
     * is no loss, so a gap at a subscriber is always a message that was promised and lost. */
    int err = send_once(p, text, len);
    if (err == EAGAIN && !p->wait_futile) {
        /* A subscriber's queue is full. When this loop shares its core with ZeroMQ's I/O
         * thread, which never preempts it (SCHED_BATCH, zcontext.h), a loop that never waits
         * (pipelined requests) leaves that thread too little time to empty the queue: sleep
         * until it has made room. If no room comes in time the subscriber itself is behind,
         * and refusals are answered at once until ZeroMQ accepts a message again: at most
         * one wait per run of refusals, so a stuck subscriber never stalls HTTP. */
        err = wait_for_room(p, text, len);
        p->wait_futile = err == EAGAIN;
    }
    if (err != 0) {
        p->dropped++;
        return -err;
    }
    p->wait_futile = false;
    p->seq++;
    p->published++;
    return 0;
}

static void on_head_timer_closed(uv_handle_t *h)
{
    struct publisher *p = h->data;
    barrier_release(&p->closing);
}

void publisher_close(struct publisher *p, struct closer closed)
{
    p->open = false;
    barrier_init(&p->closing, closed);
    if (p->head_timer_open) {
        p->head_timer_open = false;
        barrier_hold(&p->closing);
        uv_close((uv_handle_t *)&p->head_timer, on_head_timer_closed);
    }
    journal_close(&p->journal, barrier_take(&p->closing));
    zsock_close(&p->sock, barrier_take(&p->closing));
    barrier_release(&p->closing);
}

void publisher_commit(void *ctx)
{
    struct publisher *p = ctx;
    if (p->journaling && p->journal.cfg.sync_ms == 0) {
        journal_commit(&p->journal);
    }
}

void publisher_finish(struct publisher *p)
{
    zmq_msg_close(&p->sub_msg);
    retain_finish(&p->retain);
    journal_finish(&p->journal);
    buf_finish(&p->scratch);
}
