/* zwatch: a libzmq socket inside the libuv loop, through its ZMQ_FD.
 *
 * ZMQ_FD is not the socket: it is libzmq's internal signalling descriptor, and it is
 * edge-triggered. It becomes readable when *something* changed (a message arrived, a peer
 * connected, a command is queued) and stays quiet afterwards even while messages remain queued;
 * the only truth is ZMQ_EVENTS, and reading ZMQ_EVENTS itself processes libzmq's command queue
 * and clears the descriptor. libuv's epoll backend is level-triggered, so watching the fd alone
 * is wrong both ways: an undrained descriptor makes the loop spin, and a drained descriptor with
 * messages still queued (because a zmq_send or zmq_recv elsewhere consumed the edge) never
 * fires again and the messages sit unseen.
 *
 * The design is flux-core's ev_zmq watcher carried over to libuv (see also pijyoi/zmq_libev):
 *   - a uv_poll_t on ZMQ_FD (readable only; PUB sockets report POLLOUT forever) whose callback
 *     does nothing: it exists to wake the loop;
 *   - a uv_check_t, run after every poll phase, that reads ZMQ_EVENTS and calls the user's
 *     callback when a wanted event is really pending; the callback does a bounded amount of work
 *     (a budget of receives) so one busy socket cannot starve HTTP;
 *   - a uv_prepare_t, run before the loop would block, that reads ZMQ_EVENTS again and, if
 *     wanted events remain (budget exhausted, or a zmq_send elsewhere in this iteration changed
 *     the state), starts a no-op uv_idle_t so the loop polls without blocking and comes back to
 *     the check; otherwise it stops the idle handle and sleeps on the fd.
 * Cost: two ZMQ_EVENTS reads per loop iteration; an idle loop still sleeps.
 *
 * A socket with want == 0 (a PUB) is still watched: that keeps libzmq's commands (new
 * subscribers, disconnects, queues with room again) processed while no request comes in. It
 * needs no prepare/check pair: nothing is ever waiting to be received, the mailbox behind the
 * fd stays signalled until libzmq drains it (zmq_send drains it too, now and then), and epoll
 * is level-triggered, so reading ZMQ_EVENTS when the fd is readable is enough. That saves the
 * publisher two syscalls per loop iteration on the HTTP hot path. */
#ifndef DOWNCASE_ZWATCH_H
#define DOWNCASE_ZWATCH_H

#include <stdbool.h>
#include <uv.h>

#include "closer.h"

struct zwatch;
typedef void (*zwatch_cb)(struct zwatch *w);

struct zwatch {
    uv_poll_t poll;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_idle_t idle;
    void *sock;
    int want;     /* ZMQ_POLLIN or 0 */
    zwatch_cb cb; /* called from the check phase when a wanted event is pending */
    struct closer closed;
    void *data;      /* the owner's */
    const char *who; /* role, for diagnostics */
    int open_handles;
    bool closing;
};

/* Starts watching `sock`. 0 or a negative errno (reported). On failure the handles already made
 * stay until zwatch_close, which must be called as always: libuv may hold the fd until then. */
int zwatch_init(struct zwatch *w, uv_loop_t *loop, void *sock, int want, zwatch_cb cb,
                const char *who);
/* Stops watching and closes the handles; `closed` runs once all are closed (closer.h: at once
 * on a zeroed watch or one whose init made no handle). A second close completes its own
 * closer at once, the first still waits for the handles. The zmq socket is not
 * touched: close it from `closed`, once libuv has let go of its fd. */
void zwatch_close(struct zwatch *w, struct closer closed);
/* ZMQ_EVENTS of sock, retried on EINTR: the event mask, or a negative errno (ETERM...). */
int zwatch_events(void *sock);
/* The ZMQ_FD being watched (for a caller that must sleep on it outside the loop). */
int zwatch_fd(const struct zwatch *w);

#endif
