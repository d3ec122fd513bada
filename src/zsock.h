/* zsock: one ZeroMQ socket of a role, from creation to close, inside the loop.
 *
 * Every socket downcase opens goes through the same steps, written once here: create it in the
 * context; set its options, each failure reported once naming the option and value; attach it
 * to its endpoints (zendpoint.h); watch it through ZMQ_FD (zwatch.h); receive whole multipart
 * messages; and close it. The close is the subtle part: the ZMQ_FD belongs to the socket, and
 * libuv holds it in its poll set until the watch's handles have closed, so zmq_close must wait
 * for that (closing the socket first would let libzmq reuse or close an fd libuv still polls).
 * zsock_close therefore unwatches first and closes the socket from the watch's completion; on a
 * socket that was never watched it closes at once. It is zero-safe and idempotent (closer.h), so
 * a role whose start failed half-way closes every socket the same way as one that ran. */
#ifndef DOWNCASE_ZSOCK_H
#define DOWNCASE_ZSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <zmq.h>

#include "closer.h"
#include "zwatch.h"

/* How long a reconnecting socket waits at most between attempts (it starts at 100 ms and
 * doubles): a dead publisher is retried every 2 s, not hammered ten times a second. */
#define ZSOCK_RECONNECT_MAX_MS 2000
/* The defaults of --hwm and --heartbeat. */
#define ZSOCK_DEFAULT_HWM 10000
#define ZSOCK_DEFAULT_HEARTBEAT_MS 2000
/* What a peer can make a receiving socket hold for one message; a bigger message makes libzmq
 * drop the connection (ZMQ_MAXMSGSIZE). */
#define ZSOCK_MAX_MESSAGE (1024 * 1024)

/* What every connection of a socket gets: messages queued per peer, and ZeroMQ heartbeats every
 * heartbeat_ms (0: none) with a peer dropped after three silent intervals. */
struct zsock_tuning {
    int hwm;
    uint64_t heartbeat_ms;
};

struct zsock;
typedef void (*zsock_cb)(struct zsock *z);

struct zsock {
    void *sock;       /* NULL until zsock_open succeeds, and again once closed */
    const char *name; /* "ZMQ_SUB", for diagnostics */
    const char *who;  /* role, for diagnostics */
    struct zwatch watch;
    zsock_cb on_readable;
    struct closer closed;
    bool closing;
    void *data; /* the owner's */
};

/* Creates a socket of `type` in zctx with ZMQ_LINGER linger_ms (how long zmq_ctx_term waits
 * for what it still has to send); data is the owner's. 0 or a negative errno (reported). */
int zsock_open(struct zsock *z, void *zctx, int type, const char *name, const char *who,
               int linger_ms, void *data);
/* zmq_setsockopt, a failure reported as "zmq_setsockopt(OPTION): reason". 0 or -errno. */
int zsock_set(struct zsock *z, int option, const char *option_name, const void *value, size_t len);
/* The same for an int option; the value is part of the report. */
int zsock_set_int(struct zsock *z, int option, const char *option_name, int value);
/* The high-water mark `hwm_option` (ZMQ_SNDHWM or ZMQ_RCVHWM), the heartbeats and the
 * reconnect back-off of t. Call before attaching: options apply to connections made later. */
int zsock_tune(struct zsock *z, int hwm_option, const struct zsock_tuning *t);
/* For a socket that receives from peers: a message over ZSOCK_MAX_MESSAGE drops the peer. */
int zsock_limit_messages(struct zsock *z);
/* Initialises, or closes, the n frames a receiver reuses with zsock_recv. */
void zsock_frames_init(zmq_msg_t *frames, size_t n);
void zsock_frames_close(zmq_msg_t *frames, size_t n);
/* Starts watching on loop: cb runs from the loop while a message waits (want ZMQ_POLLIN), or
 * never (want 0, a send-only socket whose commands must still be processed). 0 or -errno. */
int zsock_watch(struct zsock *z, uv_loop_t *loop, int want, zsock_cb cb);
/* ZMQ_EVENTS (zwatch_events). */
int zsock_events(struct zsock *z);
/* Receives one whole message without waiting: its first `max` frames into frames[] (each an
 * initialised zmq_msg_t, reused from call to call), later frames received and dropped. Returns
 * how many frames the message had, 0 when none was queued, or a negative errno. */
int zsock_recv(struct zsock *z, zmq_msg_t *frames, size_t max);
/* Unwatches, then closes the socket with its linger; `closed` runs afterwards (closer.h). */
void zsock_close(struct zsock *z, struct closer closed);

#endif
