/* forward: the sub's messages into NATS JetStream (--forward), each counted as delivered only
 * once JetStream acknowledged it.
 *
 * Flow: the sub hands each message (and each gap) to forward_message / forward_gap, which copies
 * it into a queue in arrival order and publishes it asynchronously (js_PublishMsgAsync) on
 * SUBJECT with the header Nats-Msg-Id: PUBLISHER-SEQ for a framed message (PUBLISHER-gap-UPTO
 * for a gap, plain-NANOSECONDS-NONCE for a plain message) and the topic, publisher, sequence and
 * receive time. JetStream drops a message whose id it saw within the stream's duplicate window,
 * so sending a message again is harmless: that is what makes at-least-once sending
 * exactly-once in the stream. When the oldest queued entries are acknowledged they are handed
 * back, in queue order, through sink.committed (the sub writes its log line and moves its
 * saved position there), then sink.batch_end once per run.
 *
 * Threads: libnats reads and writes its socket in our loop (natsloop.h), but it calls the
 * acknowledgment handler on its own delivery thread and the connection callbacks
 * (disconnected, reconnected, closed, errors) on another one. Those only append to a
 * mutex-protected inbox and wake the loop (uv_async_t); everything else happens in the loop.
 *
 * Failures. An entry is sent again, with the same id, after any failure of its current
 * attempt (an error answer, no acknowledgment within FORWARD_ACK_WAIT_MS, a publish refused
 * locally) and after every reconnection. A retry resends every unacknowledged entry from the
 * oldest, in order, one at a time until the first acknowledgment, then pipelined again: a
 * server that came back does not get a burst of messages it would refuse, and what a dead
 * connection lost is sent again before what follows it. Attempts overtaken by a retry are
 * forgotten: their acknowledgment still counts, their error does not. Each failure episode
 * (from the first failure to the next acknowledgment) prints one line per reason naming the
 * servers and the reason, and counts every failure by reason.
 *
 * Backpressure: forward_full is true once the queue holds --forward-pending entries; the sub
 * then stops receiving (subscriber.h), so messages wait in ZeroMQ, past its high-water mark
 * the publishers drop them for this subscriber alone, and retention gives them back once
 * forwarding resumes (resync sees the jump). sink.room says when the queue has room again.
 * Entries handed over while full (a replay batch already received) are still queued: the bound
 * is soft by at most one receive budget plus resync's buffer.
 *
 * Without libnats at build time (meson: dependency not found, or -Dnats=disabled) only
 * forward_built() is real: it returns false, and cli refuses --forward with one line. */
#ifndef DOWNCASE_FORWARD_H
#define DOWNCASE_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "closer.h"
#include "natsurl.h"
#include "wire.h"

#define FORWARD_DEFAULT_PENDING 4096
#define FORWARD_MAX_PENDING 1000000
/* An attempt not acknowledged within this is sent again. */
#define FORWARD_ACK_WAIT_MS 5000
/* After a failure, how long before the unacknowledged entries are sent again. */
#define FORWARD_RETRY_MS 500
/* On stop, how long acknowledgments of what was sent are waited for. */
#define FORWARD_CLOSE_WAIT_MS 1000
/* Bytes of a credentials or token file. */
#define FORWARD_MAX_SECRET_FILE (64 * 1024)

struct forward_config {
    const struct natsurl *url;
    size_t pending;    /* --forward-pending */
    const char *creds; /* --forward-creds: a NATS credentials file (JWT and seed) */
    const char *token; /* --forward-token: a file holding the token */
};

enum forward_kind {
    FORWARD_MESSAGE,
    FORWARD_GAP,
};

/* An entry as handed back once acknowledged. Pointers are valid during the callback only. */
struct forward_item {
    enum forward_kind kind;
    struct wire_msg msg;            /* FORWARD_MESSAGE */
    uint8_t publisher[WIRE_ID_LEN]; /* FORWARD_GAP */
    uint64_t lost;                  /* FORWARD_GAP */
    uint64_t upto; /* framed message or gap: the publisher's sequence delivered with it */
    struct timespec received;
};

struct forward_sink {
    void (*committed)(void *ctx, const struct forward_item *it);
    void (*batch_end)(void *ctx);
    void (*room)(void *ctx);
    void *ctx;
};

enum forward_reason {
    FORWARD_DISCONNECTED, /* the connection to the server was lost */
    FORWARD_NO_STREAM,    /* no responders: no stream takes the subject, or no JetStream */
    FORWARD_STREAM_FULL,  /* the stream refused to store (at its limits) */
    FORWARD_TIMEOUT,      /* no acknowledgment within FORWARD_ACK_WAIT_MS */
    FORWARD_AUTH,         /* authorization refused */
    FORWARD_REFUSED,      /* any other error answer */
    FORWARD_NREASONS,
};

/* The label values of downcase_forward_errors_total{reason}. */
extern const char *const forward_reason_names[FORWARD_NREASONS];

struct forward_impl;

struct forward {
    struct forward_impl *impl; /* NULL until opened */
    /* Counters, for /metrics. */
    uint64_t sent;       /* attempts published */
    uint64_t acked;      /* entries acknowledged */
    uint64_t duplicates; /* of those, acknowledged as duplicates (sent before) */
    uint64_t resent;     /* attempts after the first, per entry */
    uint64_t errors[FORWARD_NREASONS];
    bool connected;
};

/* Whether this downcase was built with libnats. */
bool forward_built(void);
/* Checks the credentials, connects (what is certain at start is refused here: a secret file
 * readable by others, authorization refused, JetStream absent or no stream for the subject;
 * a server that cannot be reached now is reported and tried again in the background), and
 * starts forwarding. 0 or a negative errno (reported); close it either way. */
int forward_open(struct forward *f, uv_loop_t *loop, const struct forward_config *cfg,
                 struct forward_sink sink);
/* Queues a copy of m (plain or framed) and publishes it when it can. */
void forward_message(struct forward *f, const struct wire_msg *m, const struct timespec *received);
/* Queues a gap: `lost` messages of publisher id are missing up to and including `upto`. */
void forward_gap(struct forward *f, const uint8_t id[WIRE_ID_LEN], uint64_t lost, uint64_t upto,
                 const struct timespec *now);
/* Entries queued and not yet handed back. */
size_t forward_queued(const struct forward *f);
/* The queue holds --forward-pending entries or more: stop taking messages. */
bool forward_full(const struct forward *f);
/* Waits up to FORWARD_CLOSE_WAIT_MS for the acknowledgments of what was sent (handing back
 * what they complete), closes the connection; `closed` runs afterwards (closer.h). */
void forward_close(struct forward *f, struct closer closed);
/* Frees the queue (what was never acknowledged is fetched again by the next run). */
void forward_finish(struct forward *f);

#endif
