/* Unit tests for resync: each message once and in order, duplicates and implausible jumps
 * dropped and counted, gaps fetched, what is not held reported exactly, probes after a new
 * connection, and retries given up on. The "publisher" here is a table of the requests resync
 * makes and of hand-built answers; the real one is tested in tests/integration/test_replay.py. */
#include "resync.h"
#include "check.h"

#include <stdlib.h>

#define MAX_EVENTS 4096

/* What resync asked for, in order. */
struct log {
    char kind[MAX_EVENTS];  /* 'd'eliver, 'g'ap, 'r'equest, 'e'rror */
    uint64_t a[MAX_EVENTS]; /* seq, lost, from */
    uint64_t b[MAX_EVENTS]; /* -, -, nonce */
    size_t n;
};

static void note(struct log *l, char kind, uint64_t a, uint64_t b)
{
    if (l->n < MAX_EVENTS) {
        l->kind[l->n] = kind;
        l->a[l->n] = a;
        l->b[l->n] = b;
        l->n++;
    }
}

static void on_deliver(void *ctx, const struct wire_msg *m, const struct timespec *t)
{
    (void)t;
    note(ctx, 'd', m->seq, 0);
}

static void on_gap(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                   const struct timespec *t)
{
    (void)id;
    (void)t;
    note(ctx, 'g', lost, 0);
}

static void on_request(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, uint32_t count,
                       uint32_t nonce)
{
    (void)id;
    (void)count;
    note(ctx, 'r', from, nonce);
}

static void on_error(void *ctx, const uint8_t id[WIRE_ID_LEN], const char *what, uint64_t seq,
                     uint64_t last)
{
    (void)id;
    (void)what;
    (void)last;
    note(ctx, 'e', seq, 0);
}

static const uint8_t A[WIRE_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t B[WIRE_ID_LEN] = {9, 9, 9, 9, 9, 9, 9, 9};
static const struct timespec T0 = {0, 0};

static void live(struct resync *rs, const uint8_t *id, uint64_t seq, uint64_t now_ms)
{
    struct wire_msg m = {.kind = WIRE_FRAMED, .topic = "t", .topic_len = 1, .seq = seq,
                         .text = "x", .text_len = 1};
    memcpy(m.publisher, id, WIRE_ID_LEN);
    resync_message(rs, &m, now_ms, &T0);
}

/* A BATCH of `count` records starting at first. */
static void batch(struct resync *rs, const uint8_t *id, uint64_t first, size_t count)
{
    static uint8_t payload[65536];
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        len += wire_record_put(payload + len, "t", 1, "r", 1);
    }
    struct wire_msg m = {.kind = WIRE_BATCH, .seq = first, .text = (const char *)payload,
                         .text_len = len};
    memcpy(m.publisher, id, WIRE_ID_LEN);
    resync_batch(rs, &m, 0, &T0);
}

static void status(struct resync *rs, const uint8_t *id, uint64_t next, uint64_t oldest,
                   uint64_t head, uint32_t nonce, uint64_t now_ms)
{
    uint8_t body[WIRE_STATUS_LEN];
    wire_status_encode(body, &(struct wire_status){next, oldest, head, nonce});
    struct wire_msg m = {.kind = WIRE_STATUS, .seq = next, .text = (const char *)body,
                         .text_len = sizeof body};
    memcpy(m.publisher, id, WIRE_ID_LEN);
    resync_status(rs, &m, now_ms, &T0);
}

static size_t count(const struct log *l, char kind)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        n += l->kind[i] == kind;
    }
    return n;
}

/* The delivered sequences must be exactly first..last, in order. */
static bool delivered_run(const struct log *l, uint64_t first, uint64_t last)
{
    uint64_t want = first;
    for (size_t i = 0; i < l->n; i++) {
        if (l->kind[i] == 'd' && l->a[i] != want++) {
            return false;
        }
    }
    return want == last + 1;
}

static struct resync fresh(struct log *l)
{
    memset(l, 0, sizeof *l);
    struct resync rs;
    resync_init(&rs, (struct resync_ops){on_deliver, on_gap, on_request, on_error, l});
    return rs;
}

static void test_in_order_and_duplicates(void)
{
    struct log l;
    struct resync rs = fresh(&l);
    /* A publisher never seen starts where it is: no gap for what came before. */
    live(&rs, A, 500, 0);
    live(&rs, A, 501, 0);
    live(&rs, A, 501, 0); /* repeated */
    live(&rs, A, 10, 0);  /* backwards */
    live(&rs, A, 502, 0);
    CHECK(delivered_run(&l, 500, 502));
    CHECK(rs.duplicates == 2 && rs.gaps == 0 && count(&l, 'r') == 0);
    /* An implausible jump is a protocol error, not 2^64 lost messages, and changes nothing. */
    live(&rs, A, UINT64_MAX, 0);
    live(&rs, A, 502 + RESYNC_MAX_JUMP + 1, 0);
    CHECK(rs.rejected == 2 && count(&l, 'e') == 2 && rs.lost == 0 && rs.gaps == 0);
    live(&rs, A, 503, 0);
    CHECK(delivered_run(&l, 500, 503));
    resync_finish(&rs);
}

static void test_gap_fetched_in_order(void)
{
    struct log l;
    struct resync rs = fresh(&l);
    live(&rs, A, 1, 0);
    live(&rs, A, 5, 0); /* 2..4 missing: asked for, 5 kept */
    CHECK(count(&l, 'r') == 1 && l.a[l.n - 1] == 2);
    uint32_t nonce = (uint32_t)l.b[l.n - 1];
    live(&rs, A, 6, 0); /* kept too */
    CHECK(resync_waiting(&rs));
    batch(&rs, A, 2, 3); /* 2, 3, 4 */
    status(&rs, A, 5, 1, 6, nonce, 0);
    CHECK(delivered_run(&l, 1, 6));
    CHECK(!resync_waiting(&rs) && rs.gaps == 0 && rs.replayed == 3);
    /* Another publisher is unaffected throughout. */
    live(&rs, B, 7, 0);
    live(&rs, A, 7, 0);
    CHECK(rs.n == 2);
    resync_finish(&rs);
}

static void test_not_held_is_an_exact_gap(void)
{
    struct log l;
    struct resync rs = fresh(&l);
    live(&rs, A, 10, 0);
    live(&rs, A, 100, 0); /* 11..99 missing */
    uint32_t nonce = (uint32_t)l.b[l.n - 1];
    /* The publisher holds 60..120: 11..59 are gone (49), 60..99 come in a batch. */
    status(&rs, A, 60, 60, 120, nonce, 0);
    CHECK(count(&l, 'g') == 1 && rs.lost == 49);
    CHECK(count(&l, 'r') == 2 && l.a[l.n - 1] == 60);
    nonce = (uint32_t)l.b[l.n - 1];
    batch(&rs, A, 60, 61); /* 60..120, 100 among them already kept */
    status(&rs, A, 121, 60, 120, nonce, 0);
    CHECK(!resync_waiting(&rs) && rs.lost == 49);
    /* Delivered: 10, then 60..120 each once, in order. */
    size_t d = 0;
    uint64_t want = 10;
    bool ordered = true;
    for (size_t i = 0; i < l.n; i++) {
        if (l.kind[i] == 'd') {
            ordered = ordered && l.a[i] == want;
            want = want == 10 ? 60 : want + 1;
            d++;
        }
    }
    CHECK(ordered && d == 62);
    /* Retention off: nothing held, everything up to the publisher's newest is gone. */
    live(&rs, A, 130, 0);
    nonce = (uint32_t)l.b[l.n - 1];
    status(&rs, A, 131, 131, 130, nonce, 0);
    CHECK(rs.lost == 49 + 9 && !resync_waiting(&rs));
    resync_finish(&rs);
}

static void test_probe_after_a_new_connection(void)
{
    struct log l;
    struct resync rs = fresh(&l);
    CHECK(resync_restore(&rs, A, 41) == 0); /* a saved state */
    resync_connected(&rs, 0);
    CHECK(count(&l, 'r') == 1 && l.a[0] == 42);
    uint32_t nonce = (uint32_t)l.b[0];
    batch(&rs, A, 42, 3);
    status(&rs, A, 45, 1, 44, nonce, 0);
    CHECK(delivered_run(&l, 42, 44) && !resync_waiting(&rs));
    /* A probe nobody answers ends quietly: no gap is invented. */
    CHECK(resync_restore(&rs, B, 7) == 0);
    resync_connected(&rs, 1000);
    for (uint64_t t = 1000; t < 1000 + RESYNC_RETRY_MS * (RESYNC_TRIES + 2); t += 100) {
        resync_tick(&rs, t, &T0);
    }
    CHECK(!resync_waiting(&rs) && rs.gaps == 0);
    resync_finish(&rs);
}

static void test_unanswered_fill_gives_up_with_a_gap(void)
{
    struct log l;
    struct resync rs = fresh(&l);
    live(&rs, A, 1, 0);
    live(&rs, A, 4, 0); /* 2, 3 missing; the publisher never answers (an older downcase) */
    for (uint64_t t = 0; t < RESYNC_RETRY_MS * (RESYNC_TRIES + 2); t += 100) {
        resync_tick(&rs, t, &T0);
    }
    CHECK(count(&l, 'r') == RESYNC_TRIES);
    CHECK(count(&l, 'g') == 1 && rs.lost == 2 && !resync_waiting(&rs));
    CHECK(l.kind[l.n - 1] == 'd' && l.a[l.n - 1] == 4);
    resync_finish(&rs);
}

static void test_stale_and_foreign_answers_are_ignored(void)
{
    struct log l;
    struct resync rs = fresh(&l);
    live(&rs, A, 1, 0);
    batch(&rs, A, 2, 5);             /* not asked for */
    status(&rs, A, 7, 1, 6, 12345, 0); /* not asked for */
    CHECK(delivered_run(&l, 1, 1));
    live(&rs, A, 3, 0);
    uint32_t nonce = (uint32_t)l.b[l.n - 1];
    status(&rs, A, 2, 1, 3, nonce + 1, 0); /* a stale nonce */
    CHECK(resync_waiting(&rs));
    /* A malformed batch is a protocol error; the status then asks again (no progress). */
    struct wire_msg bad = {.kind = WIRE_BATCH, .seq = 2, .text = "\0\5", .text_len = 2};
    memcpy(bad.publisher, A, WIRE_ID_LEN);
    resync_batch(&rs, &bad, 0, &T0);
    CHECK(count(&l, 'e') == 1);
    resync_finish(&rs);
}

/* A head announcement above what was delivered means the tail was dropped: it is asked for.
 * One from an unknown publisher, or not above, changes nothing. */
static void test_head_announcement(void)
{
    struct log l;
    struct resync rs = fresh(&l);
    resync_head(&rs, A, 50, 0); /* unknown: a late joiner has lost nothing */
    CHECK(rs.n == 0 && count(&l, 'r') == 0);
    live(&rs, A, 10, 0);
    resync_head(&rs, A, 10, 0);
    CHECK(count(&l, 'r') == 0);
    resync_head(&rs, A, 13, 0);
    CHECK(count(&l, 'r') == 1 && l.a[l.n - 1] == 11 && resync_waiting(&rs));
    uint32_t nonce = (uint32_t)l.b[l.n - 1];
    batch(&rs, A, 11, 3);
    status(&rs, A, 14, 1, 13, nonce, 0);
    CHECK(delivered_run(&l, 10, 13) && !resync_waiting(&rs));
    resync_finish(&rs);
}

int main(void)
{
    test_head_announcement();
    test_in_order_and_duplicates();
    test_gap_fetched_in_order();
    test_not_held_is_an_exact_gap();
    test_probe_after_a_new_connection();
    test_unanswered_fill_gives_up_with_a_gap();
    test_stale_and_foreign_answers_are_ignored();
    return CHECK_DONE();
}
