/* seqtrack: per-publisher sequence tracking for framed messages, so loss is seen, not silent.
 *
 * Each framed message carries its publisher's random id and a sequence number that grows by one
 * per message the publisher offered to ZeroMQ (wire.h). A jump from n to n+k+1 means k messages
 * of that publisher never arrived: dropped by the publisher at a high-water mark, or lost while
 * the connection was down. The first message seen from a publisher sets its baseline (a
 * subscriber that joins late has not lost what came before it); a publisher that restarts has a
 * new id and starts a new sequence.
 *
 * The table is bounded (SEQTRACK_MAX_PUBLISHERS): a publisher silent for longest is forgotten
 * first, and if it ever returns it starts a new baseline. */
#ifndef DOWNCASE_SEQTRACK_H
#define DOWNCASE_SEQTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define SEQTRACK_MAX_PUBLISHERS 1024

struct seqtrack_peer {
    uint8_t id[WIRE_ID_LEN];
    uint64_t last_seq;
    uint64_t last_used; /* the tracker's clock when last seen, for eviction */
    uint64_t received;
    uint64_t gaps; /* jumps seen */
    uint64_t lost; /* messages missing in them */
};

struct seqtrack {
    struct seqtrack_peer *peers;
    size_t n;
    size_t cap;
    size_t last; /* index of the peer matched last: consecutive messages share it */
    uint64_t clock;
    uint64_t gaps;
    uint64_t lost;
    uint64_t backwards; /* a sequence number not above the last one (reported, not a loss) */
};

void seqtrack_init(struct seqtrack *t);
void seqtrack_finish(struct seqtrack *t);
/* Records message seq of publisher id. Returns how many messages of that publisher are missing
 * just before it (0: none), or -ENOMEM when a new publisher cannot be recorded. */
int64_t seqtrack_see(struct seqtrack *t, const uint8_t id[WIRE_ID_LEN], uint64_t seq);

#endif
