/* fuzz_resync: the sub's receive path for framed messages: frames -> wire_decode -> resync
 * (live messages, replay batches and statuses, new connections, time), as subscriber.c feeds it.
 * A hostile or broken peer controls every byte of it.
 *
 * Input: a sequence of operations, each starting with an op byte (op % 6):
 *   0 live message: publisher (1 byte, mod 4), sequence delta (signed 16-bit, or a huge jump
 *     when the delta is -32768), text length (1 byte) and text
 *   1 batch: publisher, first (delta as above), payload length (2 bytes) and raw payload bytes
 *   2 status: publisher, next/oldest/head deltas (3 x 2 bytes), nonce: the last request's for
 *     that publisher when the next byte is even, else the byte itself
 *   3 time passes: 0-2550 ms
 *   4 a new connection
 *   5 raw frames: 1-4 frames of the following bytes, through wire_decode (garbage in)
 *
 * Invariants:
 *  - per publisher, delivered sequence numbers strictly increase, and a gap of n reported
 *    before a delivery means it is more than n past the previous one (never a message twice,
 *    never out of order, a gap never overlapping what was delivered);
 *  - a delivered sequence was offered (live or in a batch) for that publisher;
 *  - the gap lines add up to resync's lost counter; duplicates and rejections are counted, not
 *    delivered;
 *  - the kept live messages stay within RESYNC_MAX_BUFFERED; everything is freed at the end
 *    (ASan's leak check). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "resync.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PUBS 4

struct model {
    uint64_t last[PUBS];       /* last delivered, 0: none */
    bool delivered_any[PUBS];
    uint64_t pending_gap[PUBS]; /* gap reported since the last delivery */
    uint64_t max_offered[PUBS];
    uint32_t nonce[PUBS];
    uint64_t lost_total;
    const uint8_t *data;
    size_t size;
};

static int which(const uint8_t id[WIRE_ID_LEN])
{
    return id[0] % PUBS;
}

static void on_deliver(void *ctx, const struct wire_msg *m, const struct timespec *t)
{
    (void)t;
    struct model *md = ctx;
    int p = which(m->publisher);
    FUZZ_CHECK(m->kind == WIRE_FRAMED, md->data, md->size);
    FUZZ_CHECK(m->seq <= md->max_offered[p], md->data, md->size);
    if (md->delivered_any[p]) {
        FUZZ_CHECK(m->seq > md->last[p], md->data, md->size);
        FUZZ_CHECK(m->seq - md->last[p] > md->pending_gap[p], md->data, md->size);
    }
    md->delivered_any[p] = true;
    md->last[p] = m->seq;
    md->pending_gap[p] = 0;
}

static void on_gap(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                   const struct timespec *t)
{
    (void)t;
    struct model *md = ctx;
    FUZZ_CHECK(lost > 0, md->data, md->size);
    md->pending_gap[which(id)] += lost;
    md->lost_total += lost;
}

static void on_request(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, uint32_t count,
                       uint32_t nonce)
{
    (void)from;
    (void)count;
    struct model *md = ctx;
    md->nonce[which(id)] = nonce;
}

static void on_error(void *ctx, const uint8_t id[WIRE_ID_LEN], const char *what, uint64_t seq,
                     uint64_t last)
{
    (void)ctx;
    (void)id;
    (void)what;
    (void)seq;
    (void)last;
}

struct input {
    const uint8_t *p;
    size_t left;
};

static unsigned take(struct input *in, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | (in->left ? (in->left--, *in->p++) : 0);
    }
    return v;
}

static uint64_t around(uint64_t base, struct input *in)
{
    int16_t d = (int16_t)take(in, 2);
    if (d == INT16_MIN) {
        return base + (1ull << 40);
    }
    return d < 0 && (uint64_t)-d > base ? 0 : base + (uint64_t)(int64_t)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model md = {.data = data, .size = size};
    struct resync rs;
    resync_init(&rs, (struct resync_ops){on_deliver, on_gap, on_request, on_error, &md});
    struct input in = {data, size};
    uint64_t now = 0;
    uint64_t base[PUBS] = {1000, 1000, 1000, 1000};
    const struct timespec ts = {0, 0};
    uint8_t payload[65536];
    for (int ops = 0; in.left > 0 && ops < 2000; ops++) {
        unsigned op = take(&in, 1) % 6;
        int p = (int)(take(&in, 1) % PUBS);
        uint8_t id[WIRE_ID_LEN] = {(uint8_t)p, 7, 7, 7, 7, 7, 7, 7};
        struct wire_msg m = {.topic = "t", .topic_len = 1};
        memcpy(m.publisher, id, WIRE_ID_LEN);
        if (op == 0) {
            m.kind = WIRE_FRAMED;
            m.seq = around(base[p], &in);
            size_t n = take(&in, 1);
            n = n < in.left ? n : in.left;
            m.text = (const char *)in.p;
            m.text_len = n;
            in.p += n;
            in.left -= n;
            if (m.seq > md.max_offered[p]) {
                md.max_offered[p] = m.seq;
            }
            base[p] = m.seq + 1;
            resync_message(&rs, &m, now, &ts);
        } else if (op == 1) {
            m.kind = WIRE_BATCH;
            m.seq = around(base[p], &in);
            size_t n = take(&in, 2);
            n = n < in.left ? n : in.left;
            memcpy(payload, in.p, n);
            in.p += n;
            in.left -= n;
            m.text = (const char *)payload;
            m.text_len = n;
            /* Whatever this payload holds, sequences up to first + records may be delivered. */
            uint64_t records = n / WIRE_RECORD_OVERHEAD + 1;
            if (m.seq + records > md.max_offered[p]) {
                md.max_offered[p] = m.seq + records;
            }
            resync_batch(&rs, &m, now, &ts);
        } else if (op == 2) {
            uint64_t next = around(base[p], &in), oldest = around(base[p], &in),
                     head = around(base[p], &in);
            unsigned b = take(&in, 1);
            uint8_t body[WIRE_STATUS_LEN];
            wire_status_encode(body, &(struct wire_status){next, oldest, head,
                                                           b % 2 ? b : md.nonce[p]});
            m.kind = WIRE_STATUS;
            m.seq = next;
            m.text = (const char *)body;
            m.text_len = sizeof body;
            resync_status(&rs, &m, now, &ts);
        } else if (op == 3) {
            now += take(&in, 1) * 10u;
            resync_tick(&rs, now, &ts);
        } else if (op == 4) {
            resync_connected(&rs, now);
        } else {
            const void *frames[4];
            size_t lens[4];
            size_t nf = 1 + take(&in, 1) % 4;
            for (size_t i = 0; i < nf; i++) {
                size_t n = take(&in, 1) % 40;
                n = n < in.left ? n : in.left;
                frames[i] = in.p;
                lens[i] = n;
                in.p += n;
                in.left -= n;
            }
            struct wire_msg w;
            if (wire_decode(frames, lens, nf, &w) == 0) {
                FUZZ_CHECK(nf == 1 || nf == 3, data, size);
                if (w.kind == WIRE_BATCH || w.kind == WIRE_STATUS) {
                    FUZZ_CHECK(lens[0] == WIRE_INBOX_TOPIC_LEN, data, size);
                }
            }
        }
        FUZZ_CHECK(rs.held_bytes <= RESYNC_MAX_BUFFERED, data, size);
        FUZZ_CHECK(rs.lost == md.lost_total, data, size);
    }
    resync_finish(&rs);
    return 0;
}
