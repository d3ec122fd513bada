/* Unit tests for seqtrack: baselines, gaps, restarts, eviction. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "seqtrack.h"

static void id_of(uint8_t id[WIRE_ID_LEN], unsigned n)
{
    memset(id, 0, WIRE_ID_LEN);
    memcpy(id, &n, sizeof n);
}

int main(void)
{
    struct seqtrack t;
    seqtrack_init(&t);
    uint8_t a[WIRE_ID_LEN];
    uint8_t b[WIRE_ID_LEN];
    id_of(a, 1);
    id_of(b, 2);
    /* The first message sets the baseline, whatever its number (a late joiner lost nothing). */
    CHECK(seqtrack_see(&t, a, 500) == 0);
    CHECK(seqtrack_see(&t, a, 501) == 0);
    CHECK(seqtrack_see(&t, a, 505) == 3);
    CHECK(seqtrack_see(&t, b, 1) == 0);
    CHECK(seqtrack_see(&t, a, 506) == 0);
    CHECK(seqtrack_see(&t, b, 3) == 1);
    CHECK(t.gaps == 2 && t.lost == 4);
    /* Going backwards is not a loss; it is counted apart and becomes the new baseline. */
    CHECK(seqtrack_see(&t, a, 10) == 0);
    CHECK(t.backwards == 1);
    CHECK(seqtrack_see(&t, a, 12) == 1);
    CHECK(t.lost == 5);
    CHECK(seqtrack_see(&t, a, UINT64_MAX) == INT64_MAX);
    seqtrack_finish(&t);

    /* Past the table's size, the publisher silent longest is forgotten first. */
    seqtrack_init(&t);
    uint8_t id[WIRE_ID_LEN];
    for (unsigned i = 0; i < SEQTRACK_MAX_PUBLISHERS; i++) {
        id_of(id, 1000 + i);
        CHECK(seqtrack_see(&t, id, 1) == 0);
    }
    CHECK(t.n == SEQTRACK_MAX_PUBLISHERS);
    id_of(id, 1000); /* the oldest: refreshed, so 1001 is now the oldest */
    CHECK(seqtrack_see(&t, id, 2) == 0);
    id_of(id, 99999);
    CHECK(seqtrack_see(&t, id, 7) == 0);
    CHECK(t.n == SEQTRACK_MAX_PUBLISHERS);
    id_of(id, 1000);
    CHECK(seqtrack_see(&t, id, 4) == 1); /* still known */
    id_of(id, 1001);
    CHECK(seqtrack_see(&t, id, 9) == 0); /* forgotten: a new baseline, no gap */
    seqtrack_finish(&t);
    return CHECK_DONE();
}
