/* natsloop: a libnats connection's socket driven by our libuv loop, through libnats' event-loop
 * hooks (natsOptions_SetEventLoop), so the NATS client's reads and writes happen in the one loop
 * of the process.
 *
 * Why not libnats' own adapter (nats/adapters/libuv.h): it frees its handles from close
 * callbacks nobody can wait for, so a part using it cannot say when it has closed (closer.h),
 * and uv_loop_close() would find handles still open; and it is a header of non-static
 * functions, which can be included once per program. This one follows the same contract and
 * reports its end through a closer.
 *
 * The contract, from libnats 3.4.1 (src/conn.c): `attach` is called with the socket when a
 * connection is made, from the thread that called natsConnection_Connect (the loop's, at start)
 * or from libnats' reconnect thread; `read` and `write` ask to start or stop polling for
 * readability and writability, with the connection's lock held, from any thread (a publish in
 * the loop, a write flush, the ping timer's thread, the reconnect thread); `detach` once, when
 * the connection is closed. Before a disconnected socket is closed libnats asks to stop polling
 * it, so the handle never outlives its descriptor unseen.
 *
 * So every hook records what is wanted (the socket, a generation that changes with each
 * attach, the events) under a mutex. Called on the loop's thread, the hook applies it at once;
 * from another thread it wakes the loop with a uv_async_t, which applies it there: libuv is
 * only ever touched by the loop's thread. Applying never calls back into libnats while holding
 * the mutex (the hooks are called with the connection's lock held: that order would deadlock).
 * A new generation closes the previous poll handle (freed in its close callback) before a new
 * one is made for the new socket, which may reuse the descriptor number. The poll callback
 * hands readiness to natsConnection_ProcessReadEvent / ProcessWriteEvent.
 *
 * natsloop_close runs after natsConnection_Close returned (libnats has then joined its
 * reconnect thread and will not call the hooks again): it closes the poll handle and the
 * async, and completes its closer once libuv has closed both. */
#ifndef DOWNCASE_NATSLOOP_H
#define DOWNCASE_NATSLOOP_H

#include <nats/nats.h>
#include <stdbool.h>
#include <uv.h>

#include "closer.h"

struct natsloop {
    uv_loop_t *loop;
    uv_thread_t thread; /* the loop's */
    uv_async_t wake;
    uv_mutex_t mu;
    bool ready; /* wake and mu initialised */
    /* What libnats asked for, under mu. */
    natsConnection *nc;
    int fd;
    unsigned gen;
    int events; /* UV_READABLE | UV_WRITABLE */
    /* What is applied; the loop's thread only. */
    uv_poll_t *poll;
    unsigned applied_gen;
    int applied_events;
    int open_handles;
    bool closing;
    struct closer closed;
};

/* Prepares l for loop; call from the loop's thread. 0 or a negative errno (reported). */
int natsloop_init(struct natsloop *l, uv_loop_t *loop, const char *who);
/* Points opts' event-loop hooks at l. */
natsStatus natsloop_options(struct natsloop *l, natsOptions *opts);
/* Closes the handles; `closed` runs once libuv has closed them (closer.h: at once when l was
 * never initialised). Call after natsConnection_Close has returned. */
void natsloop_close(struct natsloop *l, struct closer closed);

#endif
