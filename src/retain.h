/* retain: recent framed messages kept in memory (--retain=SIZE), to answer replays.
 *
 * Each message is one heap record, chained in arrival order for eviction: when the records and
 * their index pass the byte budget, the oldest go first, whichever publisher they belong to.
 * Each publisher (the pub holds one, a relay several) has a ring of record pointers indexed by
 * sequence number, so a replay finds sequence s in O(1); a hole (messages a relay never got)
 * is a NULL entry. A publisher's records arrive in increasing sequence order, so the oldest
 * record overall is always the front of its own publisher's ring. */
#ifndef DOWNCASE_RETAIN_H
#define DOWNCASE_RETAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "replay.h"
#include "wire.h"

/* The default of --retain. */
#define RETAIN_DEFAULT_BYTES (64u * 1024 * 1024)
/* A jump larger than this starts a publisher's ring afresh instead of holding a hole. */
#define RETAIN_MAX_HOLE 65536
/* Publishers held at once (a relay's); past it the one added longest ago is dropped. */
#define RETAIN_MAX_PUBLISHERS 1024

struct retain_record {
    struct retain_record *next; /* the next in arrival order */
    uint32_t publisher;         /* index in retain.pubs */
    uint64_t seq;
    uint16_t topic_len;
    uint32_t text_len;
    char data[]; /* topic, then text */
};

struct retain_pub {
    uint8_t id[WIRE_ID_LEN];
    uint64_t first;              /* the sequence of ring[head] */
    struct retain_record **ring; /* cap entries, a power of two */
    size_t cap;
    size_t head;  /* index of `first` in ring */
    size_t count; /* entries from first (holes included) */
    bool used;
};

struct retain {
    size_t max_bytes;
    size_t bytes; /* records and rings */
    struct retain_record *oldest;
    struct retain_record *newest;
    struct retain_pub *pubs;
    size_t npubs;
    size_t last;      /* the publisher matched last */
    uint64_t evicted; /* records dropped for room */
};

void retain_init(struct retain *r, size_t max_bytes);
void retain_finish(struct retain *r);
/* Keeps message seq of publisher id. 0; -EALREADY when seq is not above the newest held for
 * id (nothing kept); -ENOMEM. A message larger than the whole budget is not kept (-E2BIG). */
int retain_add(struct retain *r, const uint8_t id[WIRE_ID_LEN], uint64_t seq, const char *topic,
               size_t topic_len, const char *text, size_t text_len);
/* The sequences held for id, oldest..newest; false when nothing is held for it. */
bool retain_range(const struct retain *r, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest,
                  uint64_t *newest);
/* The retention as the source of replay answers (replay.h); origin: the publisher's own. */
struct replay_source retain_source(struct retain *r, bool origin);
/* replay_source.copy over the records held (replay.h): ctx is the retain. */
size_t retain_copy(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, size_t max,
                   size_t max_bytes, struct buf *out);
/* replay_source.range: retain_range with ctx the retain. */
bool retain_range_cb(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest, uint64_t *newest);

/* The record (id, seq), or NULL (never held, evicted, a hole). */
const struct retain_record *retain_get(const struct retain *r, const uint8_t id[WIRE_ID_LEN],
                                       uint64_t seq);

#endif
