/* zmonitor: a ZeroMQ socket's connection events, reported and counted, in the same loop.
 *
 * libzmq publishes a socket's events (zmq_socket_monitor) on an inproc PAIR socket; that socket
 * is watched through its ZMQ_FD like any other (zwatch.h). downcase uses it so an operator sees
 * a publisher come and go: "peer tcp://10.0.0.2:4444 up" once the ZeroMQ handshake succeeded,
 * "peer ... down" when the connection ends, including when heartbeats found a silent peer dead
 * (--heartbeat). The lines are rate-limited, since a flapping peer could otherwise fill stderr.
 *
 * It also counts and reports the connections that never became peers: handshakes that failed
 * with a reason (a CURVE mismatch, a peer hanging up half-way; ZAP refusals are the ZAP
 * handler's to report, zap.h) and connections refused before any handshake (not ZMTP 3: raw
 * bytes, an HTTP request, an unversioned ZMTP 1.0 peer, once ZAP is enabled on the socket).
 * libzmq gives the latter no event of its own; zhandshake.h tells them apart from peers going
 * down. One monitor per socket: libzmq keeps only the last zmq_socket_monitor of a socket. */
#ifndef DOWNCASE_ZMONITOR_H
#define DOWNCASE_ZMONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "closer.h"
#include "diag.h"
#include "zhandshake.h"
#include "zsock.h"

struct zmonitor;
/* One event: its number, its value (zmq_socket_monitor(3)) and the endpoint, made printable. */
typedef void (*zmonitor_cb)(struct zmonitor *m, uint16_t event, uint32_t value,
                            const char *endpoint);

struct zmonitor {
    void *target;      /* the monitored socket; NULL until monitoring starts */
    struct zsock pair; /* the inproc PAIR that receives its events */
    uv_loop_t *loop;
    const char *who;
    zmonitor_cb cb;
    uint64_t up;      /* connections whose handshake succeeded */
    uint64_t down;    /* connections that ended */
    uint64_t failed;  /* handshakes that failed with a reason, ZAP refusals aside */
    uint64_t refused; /* connections closed before their handshake: not ZMTP 3 */
    struct zhandshake handshakes;
    struct diag_limit up_limit;
    struct diag_limit down_limit;
    struct diag_limit fail_limit;
    struct diag_limit refuse_limit;
    /* Optional (zmonitor_open): a peer's handshake succeeded; set after opening. */
    void (*on_up)(struct zmonitor *m);
    void *data; /* the owner's */
};

/* Starts monitoring `target` (a socket of zctx) under the inproc name `name` (unique in the
 * context) for peers up and down, failed handshakes and refused connections, each counted and
 * reported. 0 or a negative errno (reported); close it either way. */
int zmonitor_open(struct zmonitor *m, uv_loop_t *loop, void *zctx, void *target, const char *name,
                  const char *who);
/* The same for `events` (ZMQ_EVENT_* bits), each handed to cb from the loop; set m->data after
 * the call. */
int zmonitor_open_events(struct zmonitor *m, uv_loop_t *loop, void *zctx, void *target,
                         const char *name, int events, zmonitor_cb cb, const char *who);
/* Peers connected now (zmonitor_open). */
uint64_t zmonitor_connected(const struct zmonitor *m);
/* Stops monitoring and closes the PAIR; `closed` runs afterwards (closer.h: zero-safe,
 * idempotent). Call before closing the target socket: the target stops publishing events at
 * once. */
void zmonitor_close(struct zmonitor *m, struct closer closed);

#endif
