/* zsock: a ZeroMQ socket's life in the loop (why: zsock.h). */
#include "zsock.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "diag.h"

int zsock_open(struct zsock *z, void *zctx, int type, const char *name, const char *who,
               int linger_ms, void *data)
{
    memset(z, 0, sizeof *z);
    z->name = name;
    z->who = who;
    z->data = data;
    z->sock = zmq_socket(zctx, type);
    if (z->sock == NULL) {
        int err = zmq_errno();
        diag(who, "zmq_socket(%s): %s", name, zmq_strerror(err));
        return -err;
    }
    return zsock_set_int(z, ZMQ_LINGER, "ZMQ_LINGER", linger_ms);
}

int zsock_limit_messages(struct zsock *z)
{
    int64_t max = ZSOCK_MAX_MESSAGE;
    return zsock_set(z, ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &max, sizeof max);
}

void zsock_frames_init(zmq_msg_t *frames, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        zmq_msg_init(&frames[i]);
    }
}

void zsock_frames_close(zmq_msg_t *frames, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        zmq_msg_close(&frames[i]);
    }
}

int zsock_set(struct zsock *z, int option, const char *option_name, const void *value, size_t len)
{
    if (zmq_setsockopt(z->sock, option, value, len) != 0) {
        int err = zmq_errno();
        diag(z->who, "zmq_setsockopt(%s) on %s: %s", option_name, z->name, zmq_strerror(err));
        return -err;
    }
    return 0;
}

int zsock_set_int(struct zsock *z, int option, const char *option_name, int value)
{
    if (zmq_setsockopt(z->sock, option, &value, sizeof value) != 0) {
        int err = zmq_errno();
        diag(z->who, "zmq_setsockopt(%s, %d) on %s: %s", option_name, value, z->name,
             zmq_strerror(err));
        return -err;
    }
    return 0;
}

int zsock_tune(struct zsock *z, int hwm_option, const struct zsock_tuning *t)
{
    int rc = zsock_set_int(z, hwm_option, hwm_option == ZMQ_SNDHWM ? "ZMQ_SNDHWM" : "ZMQ_RCVHWM",
                           t->hwm);
    if (rc == 0) {
        rc = zsock_set_int(z, ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX",
                           ZSOCK_RECONNECT_MAX_MS);
    }
    if (rc == 0 && t->heartbeat_ms > 0) {
        /* The command line caps durations at a day, well inside int milliseconds. */
        int ivl = (int)t->heartbeat_ms;
        rc = zsock_set_int(z, ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", ivl);
        if (rc == 0) {
            rc = zsock_set_int(z, ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT", 3 * ivl);
        }
        if (rc == 0) {
            /* The TTL travels in the PING in tenths of a second, at most 6553.5 s. */
            int ttl = 3 * ivl < 6553500 ? 3 * ivl : 6553500;
            rc = zsock_set_int(z, ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", ttl);
        }
    }
    return rc;
}

static void on_watch(struct zwatch *w)
{
    struct zsock *z = w->data;
    z->on_readable(z);
}

int zsock_watch(struct zsock *z, uv_loop_t *loop, int want, zsock_cb cb)
{
    z->on_readable = cb;
    int rc = zwatch_init(&z->watch, loop, z->sock, want, cb ? on_watch : NULL, z->who);
    z->watch.data = z;
    return rc;
}

int zsock_events(struct zsock *z)
{
    return zwatch_events(z->sock);
}

int zsock_recv(struct zsock *z, zmq_msg_t *frames, size_t max)
{
    int count = 0;
    for (;;) {
        zmq_msg_t extra;
        zmq_msg_t *m = &extra;
        if ((size_t)count < max) {
            m = &frames[count];
        } else {
            zmq_msg_init(&extra);
        }
        int rc = zmq_msg_recv(m, z->sock, ZMQ_DONTWAIT);
        int err = rc < 0 ? zmq_errno() : 0;
        bool more = rc >= 0 && zmq_msg_more(m);
        if (m == &extra) {
            zmq_msg_close(&extra);
        }
        if (rc < 0) {
            /* Multipart messages arrive whole, so EAGAIN only comes before the first frame. */
            return err == EAGAIN && count == 0 ? 0 : -err;
        }
        count++;
        if (!more) {
            return count;
        }
    }
}

/* libuv has let go of the fd: the socket can go. Its ZMQ_LINGER bounds what zmq_ctx_term
 * still waits for. */
static void on_unwatched(void *arg)
{
    struct zsock *z = arg;
    if (z->sock) {
        zmq_close(z->sock);
        z->sock = NULL;
    }
    closer_done(&z->closed);
}

void zsock_close(struct zsock *z, struct closer closed)
{
    if (z->closing) {
        closer_done(&closed);
        return;
    }
    z->closing = true;
    z->closed = closed;
    zwatch_close(&z->watch, (struct closer){on_unwatched, z});
}
