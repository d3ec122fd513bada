/* publisher: the ZeroMQ PUB socket of the pub role: bound once, never blocking the loop long.
 *
 * The socket is created and bound (or connected) once at start-up, unlike the tutorial's
 * bind-sleep-send-unbind per request. It is a PUB with ZMQ_XPUB_NODROP set: when a subscriber's
 * queue is full, zmq_send(ZMQ_DONTWAIT) fails with EAGAIN instead of dropping silently, so every
 * message ZeroMQ could not queue is counted (the HTTP client is answered 503; its sequence
 * number is not used, so a gap at a subscriber always means a queued message that was lost).
 * Before the first refusal of a run the loop waits for room, at most PUBLISHER_ROOM_WAIT_MS,
 * since on a shared core the I/O thread only empties the queue while the loop lets it; the
 * refusals that follow in that run are answered at once. */
#ifndef DOWNCASE_PUBLISHER_H
#define DOWNCASE_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "closer.h"
#include "curve.h"
#include "wire.h"
#include "zendpoint.h"
#include "zsock.h"

/* How long a stopping publisher may spend handing queued messages to subscribers. */
#define PUBLISHER_LINGER_MS 500
/* How long a publish may wait for room in a full queue before it is refused (publisher.c). */
#define PUBLISHER_ROOM_WAIT_MS 10

/* What the command line decides about the publisher. Strings are borrowed. */
struct publisher_config {
    enum wire_kind wire;
    const char *topic; /* framed only */
    const struct zendpoints *endpoints;
    struct zsock_tuning tuning;
    struct curve_config security; /* ZAP domain and CURVE role (curve.h) */
};

struct publisher {
    struct zsock sock;
    enum wire_kind wire;
    const char *topic;
    size_t topic_len;
    uint8_t id[WIRE_ID_LEN];
    uint64_t seq;       /* of the last message ZeroMQ accepted */
    uint64_t published; /* messages ZeroMQ accepted */
    uint64_t dropped;   /* messages ZeroMQ could not queue */
    bool wait_futile;   /* the last refusal stood after waiting for room */
    bool open;          /* attached and watched: it can publish */
};

/* Creates the socket in zctx, sets its options and attaches it to its endpoints. 0 or a
 * negative errno (reported on stderr); close it either way. */
int publisher_open(struct publisher *p, uv_loop_t *loop, void *zctx,
                   const struct publisher_config *cfg);
/* Publishes one message; waits only as said above. 0, or -EAGAIN when ZeroMQ could not queue it
 * (counted in p->dropped), or another negative errno. */
int publisher_send(struct publisher *p, const char *text, size_t len);
/* Stops watching, then closes the socket with a bounded linger; `closed` runs afterwards
 * (closer.h: zero-safe, idempotent). */
void publisher_close(struct publisher *p, struct closer closed);

#endif
