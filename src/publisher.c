/* publisher: the pub role's ZeroMQ PUB socket. */
#include "publisher.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

#include "curve.h"
#include "diag.h"

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
    int rc = zsock_open(&p->sock, zctx, ZMQ_PUB, "ZMQ_PUB", "pub", PUBLISHER_LINGER_MS, p);
    /* Options must precede bind/connect: they apply to connections made afterwards. */
    if (rc == 0) {
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
        rc = zsock_watch(&p->sock, loop, 0, NULL);
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

void publisher_close(struct publisher *p, struct closer closed)
{
    p->open = false;
    zsock_close(&p->sock, closed);
}
