/* journals: a relay's retention on disk (--journal=DIR on --role=relay): one journal
 * (journal.h) per upstream publisher, in DIR/ID (the publisher's id, 16 hex digits), each
 * holding that publisher's messages under their own sequence numbers, as the publisher's own
 * journal does. A relay may have missed messages (a cut link): those are holes, which it never
 * answers for; the request goes on upstream (replay.h). --journal-size and --journal-sync apply
 * to each publisher's journal. After a restart the relay recovers every journal in DIR, so it
 * answers for what passed through it before. */
#ifndef DOWNCASE_JOURNALS_H
#define DOWNCASE_JOURNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "closer.h"
#include "journal.h"
#include "wire.h"

/* Publishers with a journal at once; past it, messages of further ones are not kept. */
#define JOURNALS_MAX 256

struct journals {
    struct journal_config cfg; /* dir: the parent directory */
    uv_loop_t *loop;
    const char *who;
    struct journal *j[JOURNALS_MAX];
    size_t n;
    size_t last; /* the journal matched last */
    struct barrier closing;
    uint64_t append_errors;
    uint64_t damage; /* at recovery, over all journals */
};

/* Creates DIR if needed and recovers every publisher's journal in it. 0 or a negative errno
 * (reported) when DIR cannot be used. */
int journals_open(struct journals *js, uv_loop_t *loop, const struct journal_config *cfg,
                  const char *who);
/* Keeps message seq of publisher id (not above what is held: ignored). 0 or a negative errno
 * (reported by the journal, rate-limited). */
int journals_append(struct journals *js, const uint8_t id[WIRE_ID_LEN], uint64_t seq,
                    const char *topic, size_t topic_len, const char *text, size_t text_len);
/* journal_commit on every journal (--journal-sync=0). */
void journals_commit(struct journals *js);
/* The set as the source of a relay's replay answers (replay.h): never the origin. */
struct replay_source journals_source(struct journals *js);
/* replay_source.range and .copy (replay.h); ctx is the set. */
bool journals_range(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest, uint64_t *newest);
size_t journals_copy(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, size_t max,
                     size_t max_bytes, struct buf *out);
/* Syncs and closes every journal's timer; `closed` runs afterwards (closer.h). */
void journals_close(struct journals *js, struct closer closed);
/* Unmaps, closes and frees, once closed. Zero-safe. */
void journals_finish(struct journals *js);

#endif
