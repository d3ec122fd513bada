/* Unit tests for retain: ranges, lookups, eviction by bytes, holes and jumps, several
 * publishers, and the records copied for a replay batch. */
#include "retain.h"
#include "check.h"

#include <errno.h>
#include <stdio.h>

static const uint8_t A[WIRE_ID_LEN] = {1, 1, 1, 1, 1, 1, 1, 1};
static const uint8_t B[WIRE_ID_LEN] = {2, 2, 2, 2, 2, 2, 2, 2};

static int add(struct retain *r, const uint8_t *id, uint64_t seq)
{
    char text[32];
    int n = snprintf(text, sizeof text, "m%llu", (unsigned long long)seq);
    return retain_add(r, id, seq, "topic", 5, text, (size_t)n);
}

static void test_range_and_get(void)
{
    struct retain r;
    retain_init(&r, 1 << 20);
    uint64_t lo, hi;
    CHECK(!retain_range(&r, A, &lo, &hi));
    for (uint64_t s = 1; s <= 1000; s++) {
        CHECK(add(&r, A, s) == 0);
    }
    CHECK(retain_range(&r, A, &lo, &hi) && lo == 1 && hi == 1000);
    const struct retain_record *c = retain_get(&r, A, 777);
    CHECK(c && c->seq == 777);
    CHECK_MEM_STR(c->data + c->topic_len, c->text_len, "m777");
    CHECK(retain_get(&r, A, 1001) == NULL && retain_get(&r, A, 0) == NULL);
    CHECK(retain_get(&r, B, 5) == NULL);
    CHECK(add(&r, A, 1000) == -EALREADY && add(&r, A, 3) == -EALREADY);
    retain_finish(&r);
}

static void test_eviction_keeps_the_newest(void)
{
    struct retain r;
    retain_init(&r, 16 * 1024);
    for (uint64_t s = 1; s <= 5000; s++) {
        CHECK(add(&r, A, s) == 0);
    }
    uint64_t lo, hi;
    CHECK(retain_range(&r, A, &lo, &hi) && hi == 5000 && lo > 1);
    CHECK(r.bytes <= r.max_bytes && r.evicted == lo - 1);
    for (uint64_t s = lo; s <= hi; s++) {
        const struct retain_record *c = retain_get(&r, A, s);
        if (c == NULL || c->seq != s) {
            CHECK(c && c->seq == s);
            break;
        }
    }
    /* A message bigger than the whole budget is not kept, and evicts nothing. */
    static char big[32 * 1024];
    CHECK(retain_add(&r, A, 5001, "t", 1, big, sizeof big) == -E2BIG);
    CHECK(retain_range(&r, A, &lo, &hi) && hi == 5000);
    retain_finish(&r);
}

static void test_holes_jumps_and_publishers(void)
{
    struct retain r;
    retain_init(&r, 1 << 20);
    CHECK(add(&r, A, 10) == 0 && add(&r, B, 1) == 0 && add(&r, A, 13) == 0);
    CHECK(retain_get(&r, A, 11) == NULL && retain_get(&r, A, 13) != NULL);
    struct buf out = {0};
    /* A copy stops before a hole. */
    CHECK(retain_copy(&r, A, 10, 100, 1 << 20, &out) == 1);
    out.len = 0;
    CHECK(retain_copy(&r, A, 13, 100, 1 << 20, &out) == 1);
    /* The record copied is what a batch carries: topic and text. */
    struct wire_msg m = {.kind = WIRE_BATCH, .text = out.data, .text_len = out.len};
    size_t pos = 0;
    const char *topic, *text;
    size_t tl, xl;
    CHECK(wire_record_next(&m, &pos, &topic, &tl, &text, &xl) == 1);
    CHECK_MEM_STR(topic, tl, "topic");
    CHECK_MEM_STR(text, xl, "m13");
    CHECK(wire_record_next(&m, &pos, &topic, &tl, &text, &xl) == 0);
    /* A jump no hole should span starts the publisher afresh. */
    CHECK(add(&r, A, 13 + RETAIN_MAX_HOLE + 10) == 0);
    uint64_t lo, hi;
    CHECK(retain_range(&r, A, &lo, &hi) && lo == hi && lo == 13 + RETAIN_MAX_HOLE + 10);
    CHECK(retain_range(&r, B, &lo, &hi) && lo == 1 && hi == 1);
    /* Copies stop at the count and at the byte budget (but always carry one record). */
    for (uint64_t s = 2; s <= 100; s++) {
        CHECK(add(&r, B, s) == 0);
    }
    out.len = 0;
    CHECK(retain_copy(&r, B, 1, 10, 1 << 20, &out) == 10);
    out.len = 0;
    CHECK(retain_copy(&r, B, 1, 100, 1, &out) == 1);
    buf_finish(&out);
    retain_finish(&r);
}

int main(void)
{
    test_range_and_get();
    test_eviction_keeps_the_newest();
    test_holes_jumps_and_publishers();
    return CHECK_DONE();
}
