/* zwatch: libzmq sockets in the libuv loop (design notes in zwatch.h). */
#include "zwatch.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "diag.h"

int zwatch_events(void *sock)
{
    int ev;
    size_t len = sizeof ev;
    while (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &len) != 0) {
        if (zmq_errno() != EINTR) {
            return -zmq_errno();
        }
    }
    return ev;
}

int zwatch_fd(const struct zwatch *w)
{
    uv_os_fd_t fd = -1;
    uv_fileno((const uv_handle_t *)&w->poll, &fd);
    return fd;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct zwatch *w = h->data;
    if (status < 0) {
        diag(w->who, "watching a ZeroMQ socket: %s", uv_strerror(status));
    }
    if (w->want == 0) {
        /* Send-only: process the commands that made the fd readable (new subscribers, freed
         * queues). That drains libzmq's mailbox and with it the fd, so the loop sleeps. */
        zwatch_events(w->sock);
    }
    /* Otherwise waking the loop is the point; the check callback does the work. */
}

static void on_idle(uv_idle_t *h)
{
    (void)h;
}

static void on_check(uv_check_t *h)
{
    struct zwatch *w = h->data;
    int ev = zwatch_events(w->sock);
    if (ev > 0 && (ev & w->want) && w->cb) {
        w->cb(w);
    }
}

static void on_prepare(uv_prepare_t *h)
{
    struct zwatch *w = h->data;
    int ev = zwatch_events(w->sock);
    if (ev > 0 && (ev & w->want)) {
        uv_idle_start(&w->idle, on_idle);
    } else {
        uv_idle_stop(&w->idle);
    }
}

int zwatch_init(struct zwatch *w, uv_loop_t *loop, void *sock, int want, zwatch_cb cb,
                const char *who)
{
    memset(w, 0, sizeof *w);
    w->sock = sock;
    w->want = want;
    w->cb = cb;
    w->who = who;
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0) {
        int err = zmq_errno();
        diag(who, "zmq_getsockopt(ZMQ_FD): %s", zmq_strerror(err));
        return -err;
    }
    int rc = uv_poll_init(loop, &w->poll, fd);
    if (rc < 0) {
        diag(who, "uv_poll_init(ZMQ_FD %d): %s", fd, uv_strerror(rc));
        return rc;
    }
    /* These cannot fail for a valid loop. */
    uv_prepare_init(loop, &w->prepare);
    uv_check_init(loop, &w->check);
    uv_idle_init(loop, &w->idle);
    w->open_handles = 4;
    w->poll.data = w->prepare.data = w->check.data = w->idle.data = w;
    rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
    if (rc < 0) {
        diag(who, "uv_poll_start(ZMQ_FD %d): %s", fd, uv_strerror(rc));
        return rc;
    }
    if (want != 0) {
        uv_prepare_start(&w->prepare, on_prepare);
        uv_check_start(&w->check, on_check);
    }
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct zwatch *w = h->data;
    if (--w->open_handles == 0) {
        closer_done(&w->closed);
    }
}

void zwatch_close(struct zwatch *w, struct closer closed)
{
    w->cb = NULL;
    if (w->closing) {
        /* A second close: the first one's completion still waits for the handles. */
        closer_done(&closed);
        return;
    }
    w->closing = true;
    w->closed = closed;
    if (w->open_handles == 0) {
        closer_done(&w->closed);
        return;
    }
    uv_close((uv_handle_t *)&w->poll, on_handle_closed);
    uv_close((uv_handle_t *)&w->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&w->check, on_handle_closed);
    uv_close((uv_handle_t *)&w->idle, on_handle_closed);
}
