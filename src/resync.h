/* resync: a subscriber's view of each framed publisher: every message once, in sequence order,
 * and what cannot be had said exactly.
 *
 * Per publisher it keeps the last sequence number delivered (logged). A message with the next
 * number is delivered; one not above it is a duplicate (a replay's overlap, a repeat) and is
 * dropped and counted; one far beyond it (more than RESYNC_MAX_JUMP) cannot be a real gap and is
 * dropped as a protocol error, so a broken or hostile peer cannot make the counters say 10^19.
 * A plausible jump means messages are missing: the subscriber asks the publisher for them (a
 * replay request, wire.h and replay.h), keeps the live messages that go on arriving meanwhile
 * (bounded by RESYNC_MAX_BUFFERED; the rest it asks for again), delivers the replayed ones in
 * order, then the kept ones, and is caught up. What the publisher no longer holds (older than
 * its retention, or retention off) is reported as one gap of the exact size: the answer says the
 * oldest and newest sequence it holds, and because answers travel on the same connection as the
 * live messages, everything up to its newest has arrived by then. A publisher that does not
 * answer at all (an older downcase) is given RESYNC_TRIES requests RESYNC_RETRY_MS apart before
 * the missing messages are reported as a gap.
 *
 * On every new connection (a publisher restarted, a link healed, this subscriber restarted
 * with its state loaded) it asks every publisher it knows for what follows its last delivered
 * message ("probing"): a publisher that answers fills what was missed; one that does not (gone,
 * or another subscriber's) is dropped from probing without a gap. A publisher never seen
 * before starts at its first message: a subscriber that joins late has not lost what came
 * before it. */
#ifndef DOWNCASE_RESYNC_H
#define DOWNCASE_RESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "wire.h"

#define RESYNC_MAX_PUBLISHERS 1024
/* A jump past this many is a protocol error, not a loss. */
#define RESYNC_MAX_JUMP (1ull << 32)
/* Live messages kept per subscriber while replays fill what precedes them. */
#define RESYNC_MAX_BUFFERED (16u * 1024 * 1024)
/* Messages asked for per request. */
#define RESYNC_WINDOW 65536
/* An unanswered request is sent again after this, at most RESYNC_TRIES times in all. */
#define RESYNC_RETRY_MS 500
#define RESYNC_TRIES 6

/* What resync asks its owner to do; every call is synchronous. */
struct resync_ops {
    /* Log a message: m is FRAMED (a live one, or one taken from a batch or the buffer). */
    void (*deliver)(void *ctx, const struct wire_msg *m, const struct timespec *received);
    /* Log that `lost` messages of publisher id before the next delivered one cannot be had. */
    void (*gap)(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                const struct timespec *now);
    /* Send a replay request (the owner fills in its inbox id). */
    void (*request)(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, uint32_t count,
                    uint32_t nonce);
    /* Report, rate-limited by the owner: a protocol error of publisher id. */
    void (*protocol_error)(void *ctx, const uint8_t id[WIRE_ID_LEN], const char *what, uint64_t seq,
                           uint64_t last);
    void *ctx;
};

enum resync_mode {
    RESYNC_LIVE,    /* delivering as messages come */
    RESYNC_FILLING, /* messages are missing: asked for, later live ones kept */
    RESYNC_PROBING, /* after a new connection: asked what follows, nothing known missing */
};

struct resync_held; /* a live message kept while filling */

struct resync_peer {
    uint8_t id[WIRE_ID_LEN];
    uint64_t last; /* the last sequence delivered */
    /* The last sequence the owner made durable: what its saved state records. It follows
     * `last` unless the owner commits explicitly (a forwarding sub commits what JetStream
     * acknowledged: forward.h). */
    uint64_t committed;
    uint64_t last_used;
    enum resync_mode mode;
    uint32_t nonce;    /* of the request outstanding */
    uint64_t asked_ms; /* when it was sent */
    unsigned tries;    /* requests without progress */
    uint64_t progress; /* `last` when the request was sent */
    uint64_t head;     /* the newest sequence an answer said the publisher holds */
    struct resync_held *held;
    struct resync_held *held_tail;
    /* Counters, for /metrics. */
    uint64_t received;   /* live messages */
    uint64_t replayed;   /* delivered from replays */
    uint64_t gaps;       /* gap reports */
    uint64_t lost;       /* messages in them */
    uint64_t duplicates; /* dropped: not above last */
    uint64_t rejected;   /* dropped: implausible */
};

struct resync {
    struct resync_peer *peers;
    size_t n;
    size_t cap;
    size_t last_hit;
    uint64_t clock;
    size_t held_bytes;
    uint32_t next_nonce;
    struct resync_ops ops;
    bool explicit_commit; /* committed moves only through resync_commit */
    /* Totals over every publisher seen (a forgotten publisher's counts stay here). */
    uint64_t gaps;
    uint64_t lost;
    uint64_t duplicates;
    uint64_t rejected;
    uint64_t replayed;
    uint64_t held_dropped; /* live messages not kept (buffer full), asked for again */
};

void resync_init(struct resync *rs, struct resync_ops ops);
void resync_finish(struct resync *rs);
/* Restores a publisher's last delivered sequence (the subscriber's saved state). 0 or -ENOMEM. */
int resync_restore(struct resync *rs, const uint8_t id[WIRE_ID_LEN], uint64_t last);
/* The owner made publisher id's messages up to seq durable (explicit_commit). */
void resync_commit(struct resync *rs, const uint8_t id[WIRE_ID_LEN], uint64_t seq);
/* A live FRAMED message. */
void resync_message(struct resync *rs, const struct wire_msg *m, uint64_t now_ms,
                    const struct timespec *now);
/* A BATCH or STATUS addressed to this subscriber. */
void resync_batch(struct resync *rs, const struct wire_msg *m, uint64_t now_ms,
                  const struct timespec *now);
void resync_status(struct resync *rs, const struct wire_msg *m, uint64_t now_ms,
                   const struct timespec *now);
/* A publisher announced its newest sequence (WIRE_HEAD): if this subscriber has less, the rest
 * was dropped on the way and no message followed it; it is asked for. Unknown publishers are
 * ignored (a subscriber that joins late has not lost what came before it). */
void resync_head(struct resync *rs, const uint8_t id[WIRE_ID_LEN], uint64_t head, uint64_t now_ms);
/* A new connection came up: probe every known publisher. */
void resync_connected(struct resync *rs, uint64_t now_ms);
/* Time passes: unanswered requests are sent again or given up. */
void resync_tick(struct resync *rs, uint64_t now_ms, const struct timespec *now);
/* Whether any publisher waits for an answer (the owner keeps its timer running). */
bool resync_waiting(const struct resync *rs);

#endif
