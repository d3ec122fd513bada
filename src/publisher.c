/* publisher: the pub role's ZeroMQ PUB socket. */
#include "publisher.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

#include "curve.h"
#include "diag.h"
#include "zendpoint.h"

int publisher_init(struct publisher *p, uv_loop_t *loop, void *zctx, const struct cli_options *o)
{
    memset(p, 0, sizeof *p);
    p->wire = o->wire;
    p->topic = o->topics[0];
    p->topic_len = strlen(p->topic);
    /* A random id per process: a restarted publisher is a new sequence, never a gap. */
    if (getrandom(p->id, sizeof p->id, 0) != (ssize_t)sizeof p->id) {
        diag("pub", "getrandom: %s", strerror(errno));
        return -errno;
    }
    p->sock = zmq_socket(zctx, ZMQ_PUB);
    if (p->sock == NULL) {
        int err = zmq_errno();
        diag("pub", "zmq_socket(ZMQ_PUB): %s", zmq_strerror(err));
        return -err;
    }
    /* Options must precede bind/connect: they apply to connections made afterwards. */
    int rc = zendpoint_set_int(p->sock, "pub", ZMQ_XPUB_NODROP, "ZMQ_XPUB_NODROP", 1);
    if (rc == 0) {
        rc = zendpoint_set_int(p->sock, "pub", ZMQ_LINGER, "ZMQ_LINGER", PUBLISHER_LINGER_MS);
    }
    if (rc == 0 && o->curve_secret) {
        rc = curve_server(p->sock, "pub", o->curve_secret);
    }
    if (rc == 0) {
        rc = zendpoint_tune(p->sock, "pub", ZMQ_SNDHWM, o->hwm, o->heartbeat_ms);
    }
    if (rc == 0) {
        rc = zendpoint_attach(p->sock, "pub", o->binds, o->nbinds, o->connects, o->nconnects);
    }
    if (rc == 0) {
        rc = zwatch_init(&p->watch, loop, p->sock, 0, NULL, "pub");
    }
    if (rc < 0) {
        int zero = 0;
        zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(p->sock);
        p->sock = NULL;
        return rc;
    }
    p->watching = true;
    p->watch.data = p;
    return 0;
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
        rc = zmq_send(p->sock, p->topic, p->topic_len, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        if (rc >= 0) {
            rc = zmq_send(p->sock, header, sizeof header, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        }
        if (rc >= 0) {
            rc = zmq_send(p->sock, text, len, ZMQ_DONTWAIT);
        }
    } else {
        rc = zmq_send(p->sock, text, len, ZMQ_DONTWAIT);
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
        struct pollfd fd = {.fd = zwatch_fd(&p->watch), .events = POLLIN};
        if (poll(&fd, 1, (int)((deadline - now + 999999u) / 1000000u)) < 0 && errno != EINTR) {
            break;
        }
        (void)zwatch_events(p->sock);
        err = send_once(p, text, len);
    }
    return err;
}

int publisher_send(struct publisher *p, const char *text, size_t len)
{
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

static void on_unwatched(struct zwatch *w)
{
    struct publisher *p = w->data;
    /* ZMQ_LINGER (set at creation) bounds how long zmq_ctx_term waits for queued messages. */
    zmq_close(p->sock);
    p->sock = NULL;
    if (p->closed_cb) {
        p->closed_cb(p);
    }
}

void publisher_close(struct publisher *p, void (*closed_cb)(struct publisher *p))
{
    p->closed_cb = closed_cb;
    if (p->watching) {
        p->watching = false;
        zwatch_close(&p->watch, on_unwatched);
    }
}
