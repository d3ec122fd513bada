/* replay: a publisher's or a relay's side of replays: answers each request (wire.h) from the
 * messages it retained.
 *
 * Why subscriptions carry the requests, after the ZeroMQ Guide's Last Value Cache: a
 * subscription travels from a SUB to every peer it is connected to, whichever side bound, and
 * through every XSUB/XPUB relay, on the connection the messages already use. So a replay works
 * in every topology the README documents (subscribers connecting to publishers, publishers
 * connecting into a binding subscriber, relay trees) with no second socket or endpoint to
 * configure, which the Guide's Clone pattern (a ROUTER side channel) would need. The answer
 * goes to the requester's inbox topic, which only it subscribed to.
 *
 * An answer is bounded (the request's count, REPLAY_MAX_COUNT, REPLAY_BATCH_BYTES per message)
 * and sent at once from the loop: the subscriber asks for the next window when the STATUS that
 * ends one arrives, so what is in flight to one subscriber stays within its queues. Replayed
 * messages are packed into BATCH messages, many records each, so a catch-up costs a few ZeroMQ
 * operations per thousand messages. A send the queue had no room for is lost for that
 * subscriber only; it sees the hole and asks again. */
#ifndef DOWNCASE_REPLAY_H
#define DOWNCASE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wire.h"

/* The most messages one request is answered with, and the most payload bytes per BATCH. */
#define REPLAY_MAX_COUNT 65536
#define REPLAY_BATCH_BYTES (256 * 1024)

/* Where answers come from: the memory retention (retain.h) or the journal (journal.h). */
struct replay_source {
    /* The sequences held for id, oldest..newest; false when nothing is held for it. */
    bool (*range)(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest, uint64_t *newest);
    /* Appends the records of id from `from` on to out (wire_record_put), stopping before a
     * sequence it does not hold, after `max` records, or before out would pass max_bytes.
     * Returns how many it appended. */
    size_t (*copy)(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, size_t max,
                   size_t max_bytes, struct buf *out);
    /* Optional: the first sequence at or after `from` it holds (0: none). With it, a request
     * that falls into a hole is answered (the hole is a gap); without it (a relay), -ENOENT. */
    uint64_t (*next_held)(void *ctx, uint64_t from);
    /* The publisher itself (its answer is the last word), not a relay (which passes on what it
     * cannot answer: -ENOENT for a request older or newer than what it holds, or a hole). */
    bool origin;
    void *ctx;
};

struct replay_stats {
    uint64_t requests; /* answered */
    uint64_t messages; /* replayed */
    uint64_t batches;
    uint64_t send_errors;
};

/* Answers rq on the (X)PUB sock: BATCHes from rq->from on, then a STATUS. Returns 0; -ENOENT
 * when src holds nothing for rq->publisher, or not rq->from though it is not older than what
 * it holds (a relay then passes the request on upstream); or a negative errno of zmq_send. */
int replay_answer(void *sock, const struct replay_source *src, const struct wire_request *rq,
                  struct buf *scratch, struct replay_stats *st);
/* Answers rq with a STATUS only: `none` held (retention off). 0 or a negative errno. */
int replay_answer_none(void *sock, const struct wire_request *rq, uint64_t head);

#endif
