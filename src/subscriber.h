/* subscriber: the sub role's ZeroMQ SUB socket, the mirror of publisher.h.
 *
 * Data flow: ZMQ_FD ready -> zwatch check -> subscriber_drain receives up to a budget of whole
 * messages -> each is told apart by layout (wire.h; a message of neither layout is counted and
 * reported, rate-limited, and dropped) -> a plain message goes to the sink; a framed one, and
 * the replay answers addressed to this subscriber's inbox, go through resync (resync.h: every
 * message once, in order, missing ones asked for, what cannot be had reported as a gap) -> the
 * owner's sink gets each message and gap, then, once per batch, batch_end (the sub writes its
 * log there, once per batch rather than per message). The socket's peers are monitored
 * (zmonitor.h: "peer ... up/down"); each new connection makes resync ask every known publisher
 * what it missed. */
#ifndef DOWNCASE_SUBSCRIBER_H
#define DOWNCASE_SUBSCRIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "closer.h"
#include "curve.h"
#include "diag.h"
#include "resync.h"
#include "wire.h"
#include "zendpoint.h"
#include "zmonitor.h"
#include "zsock.h"

/* Messages handled per loop iteration before HTTP and signals get a turn. */
#define SUBSCRIBER_BUDGET 512
/* The frames of the message being received; a layout has at most three. */
#define SUBSCRIBER_MAX_FRAMES 3

/* What the command line decides about the subscriber. Strings are borrowed. */
struct subscriber_config {
    const char *const *topics; /* prefixes subscribed to; none: everything */
    size_t ntopics;
    bool expect_any;       /* --wire not given */
    enum wire_kind expect; /* else the layout expected: the other is logged, said once */
    const struct zendpoints *endpoints;
    struct zsock_tuning tuning;
    struct curve_config security; /* ZAP domain and CURVE role (curve.h) */
    /* While the sink is full (forward.h), keep receiving and drop live framed messages, to be
     * fetched again from retention, instead of leaving everything in ZeroMQ (on_readable in
     * subscriber.c says why). Only for --wire=framed: a plain message cannot be fetched. */
    bool defer_when_full;
};

/* Where received messages go; every call is from the loop. */
struct subscriber_sink {
    /* `lost` messages of publisher id are missing before the message that follows. */
    void (*gap)(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                const struct timespec *now);
    void (*message)(void *ctx, const struct wire_msg *m, const struct timespec *now);
    /* A batch of messages ended (the loop is about to do something else). */
    void (*batch_end)(void *ctx);
    /* NULL, or whether the sink can take no more now (a forwarding sub waiting for
     * acknowledgments, forward.h): then nothing is received until subscriber_resume. */
    bool (*full)(void *ctx);
    void *ctx;
};

struct subscriber {
    struct zsock sock;
    struct zmonitor monitor;
    struct resync resync;
    uint8_t id[WIRE_ID_LEN]; /* this subscriber's inbox, random per process */
    uv_timer_t tick;         /* resync's retries */
    bool tick_open;
    uv_loop_t *loop;
    struct subscriber_sink sink;
    bool expect_any;
    enum wire_kind expect;
    zmq_msg_t frames[SUBSCRIBER_MAX_FRAMES];
    bool frames_ready;
    uint64_t received; /* data messages received live (plain and framed); not heads or replays */
    uint64_t malformed;
    uint64_t requests;   /* replay requests sent */
    uint64_t not_for_us; /* replay answers addressed to another subscriber */
    bool warned_layout;
    bool held;         /* not receiving: the sink was full */
    bool defer;        /* defer_when_full */
    bool probe_due;    /* held or deferred since the last probe: ask once drained */
    uint64_t holds;    /* times receiving stopped for a full sink */
    uint64_t deferred; /* live messages dropped while the sink was full, fetched again */
    struct diag_limit malformed_limit;
    struct diag_limit gap_limit;
    struct diag_limit protocol_limit;
    struct barrier closing;
};

/* Prepares resync (so a saved state can be restored into s->resync before subscriber_open).
 * Cannot fail. */
void subscriber_init(struct subscriber *s, uv_loop_t *loop, struct subscriber_sink sink);
/* Creates the socket in zctx (options, subscriptions, monitor, endpoints, watch, in that
 * order). 0 or a negative errno (reported); close it either way. */
int subscriber_open(struct subscriber *s, void *zctx, const struct subscriber_config *cfg);
/* Receives and hands on up to `budget` messages (without batch_end). Returns how many were
 * received. */
unsigned subscriber_drain(struct subscriber *s, unsigned budget);
/* The sink has room again: receive what waits (after a hold), and ask the publishers for what
 * was dropped (after a hold or deferring). */
void subscriber_resume(struct subscriber *s);
/* Stops receiving, closes the monitor and the socket; `closed` runs afterwards (closer.h). */
void subscriber_close(struct subscriber *s, struct closer closed);
/* Frees what is left once closed (the publishers' table, kept for the final report). */
void subscriber_finish(struct subscriber *s);

#endif
