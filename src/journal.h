/* journal: the pub's retention on disk (--journal=DIR), written before a message is answered.
 *
 * Layout of DIR: `id` (the publisher id, 16 hex digits: a restarted pub continues the same id and
 * sequence, so subscribers see no gap), `checkpoint` (the newest sequence known synced to disk)
 * and segment files `SEQ.seg` (SEQ: the first sequence in it, 20 digits). A segment is a header
 * (magic, publisher id, first sequence) and records, each: magic, payload length, CRC-32C over
 * the sequence and payload, sequence, then topic length, topic, text.
 *
 * Appending is a memcpy into a segment mapped MAP_SHARED: once it returns, the bytes are in the
 * kernel's page cache, so a SIGKILLed process loses nothing it answered, and the hot path makes
 * no system call. Segments are preallocated with posix_fallocate when created, so a full disk is
 * found at that moment (the append fails, the client gets 503, and creating the segment is tried
 * again at most every JOURNAL_RETRY_MS until space returns) and never as a SIGBUS when a page of
 * a sparse file is first touched. fdatasync runs every --journal-sync (a machine crash loses at
 * most that much), or, with 0, before the answers of each read are sent (journal_commit, from the
 * HTTP server's before-write hook: a group commit, one fdatasync per batch of pipelined answers).
 * When the segments pass --journal-size, the oldest whole segments are deleted.
 *
 * Recovery (every start): each segment is mapped and its records checked in sequence. The ways a
 * journal is damaged in practice are each detected, reported once with the file and the offset,
 * counted (downcase_journal_damage_total), and never stop the start-up:
 *   - a torn last record (killed mid-copy): never acknowledged, dropped;
 *   - bytes changed inside a segment (a CRC mismatch): the records from there to the next good
 *     one are unreadable; a replay reports them as a gap of the exact size;
 *   - a zero-filled tail (the file system lost blocks it had acknowledged): records the
 *     checkpoint says were synced are missing, reported as such;
 *   - a missing segment: the sequences between its neighbours are unreadable, likewise.
 * Appends go on in the newest segment after its last good record (a torn record there is
 * zeroed first); older segments are never written again. */
#ifndef DOWNCASE_JOURNAL_H
#define DOWNCASE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "closer.h"
#include "diag.h"
#include "replay.h"
#include "wire.h"

/* Defaults of --journal-size and --journal-sync. */
#define JOURNAL_DEFAULT_BYTES (1024ull * 1024 * 1024)
#define JOURNAL_DEFAULT_SYNC_MS 1000
/* The largest segment; smaller when --journal-size is small (a quarter of it, at least 64k). */
#define JOURNAL_SEGMENT_MAX (64u * 1024 * 1024)
/* How often a failed segment creation (a full disk) is tried again. */
#define JOURNAL_RETRY_MS 100
/* Every how many records a segment keeps an offset in memory, for replays to seek. */
#define JOURNAL_INDEX_EVERY 64

struct journal_config {
    const char *dir;
    uint64_t max_bytes;
    uint64_t sync_ms; /* 0: journal_commit syncs before answers go out */
    /* The publisher whose messages it holds. NULL: the pub's own, read from DIR/id (made at
     * random when absent); a relay gives each upstream publisher's (journals.h). */
    const uint8_t *id;
};

struct journal_segment {
    char path[4096];
    int fd;
    char *map;
    size_t size; /* mapped bytes (the file's size) */
    size_t used; /* end of the last good record */
    uint64_t first;
    uint64_t last;   /* last < first: empty */
    bool sealed;     /* recovered or full: never appended to */
    uint32_t *index; /* offset of record first + k * JOURNAL_INDEX_EVERY */
    size_t nindex;
    size_t index_cap;
};

struct journal {
    struct journal_config cfg;
    const char *who;
    int dirfd;
    uint8_t id[WIRE_ID_LEN];
    struct journal_segment *segs; /* ordered by first sequence */
    size_t nsegs;
    uint64_t head;       /* the newest sequence appended (0: none) */
    uint64_t synced;     /* the newest known on disk */
    uint64_t checkpoint; /* what the checkpoint file says */
    uint64_t total_bytes;
    bool dirty;           /* appended since the last sync */
    bool failing;         /* a segment could not be created */
    uint64_t retry_at_ms; /* not before: try creating it again */
    int last_error;
    uv_loop_t *loop;
    uv_timer_t timer;
    bool timer_open;
    struct closer closed;
    struct diag_limit error_limit;
    /* Counters, for /metrics. */
    uint64_t appended;
    uint64_t append_errors;
    uint64_t syncs;
    uint64_t damage; /* damaged places found at recovery */
    uint64_t segments_removed;
};

/* Opens DIR (creating it and the id), recovers what is there (reporting damage) and arms the
 * sync timer. 0 or a negative errno (reported) when DIR cannot be used at all. */
int journal_open(struct journal *j, uv_loop_t *loop, const struct journal_config *cfg,
                 const char *who);
/* Appends message seq (j->head + 1). 0; or a negative errno (-ENOSPC, -EIO...) when it could
 * not be written: the caller answers 503. Reported once per failure streak. */
int journal_append(struct journal *j, uint64_t seq, const char *topic, size_t topic_len,
                   const char *text, size_t text_len);
/* With --journal-sync=0: fdatasync what was appended since the last call. */
void journal_commit(struct journal *j);
/* The journal as the source of a publisher's replay answers (replay.h). */
struct replay_source journal_source(struct journal *j);
/* replay_source.range and .copy (replay.h); ctx is the journal. */
bool journal_range(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest, uint64_t *newest);
size_t journal_copy(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, size_t max,
                    size_t max_bytes, struct buf *out);
/* The first sequence at or after `from` that the journal holds (for an answer to a request that
 * falls into a hole), or 0 when none. */
uint64_t journal_next_held(void *ctx, uint64_t from);
/* Syncs, stops the timer; `closed` runs once it is closed (closer.h). */
void journal_close(struct journal *j, struct closer closed);
/* Unmaps and closes the files, once closed. NULL-safe, zero-safe. */
void journal_finish(struct journal *j);

#endif
