/* seqtrack: sequence-gap accounting per publisher. */
#include "seqtrack.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void seqtrack_init(struct seqtrack *t)
{
    memset(t, 0, sizeof *t);
}

void seqtrack_finish(struct seqtrack *t)
{
    free(t->peers);
    memset(t, 0, sizeof *t);
}

static struct seqtrack_peer *find(struct seqtrack *t, const uint8_t id[WIRE_ID_LEN])
{
    if (t->last < t->n && memcmp(t->peers[t->last].id, id, WIRE_ID_LEN) == 0) {
        return &t->peers[t->last];
    }
    /* A linear scan: aggregators have tens of publishers, and the hit above covers runs. */
    for (size_t i = 0; i < t->n; i++) {
        if (memcmp(t->peers[i].id, id, WIRE_ID_LEN) == 0) {
            t->last = i;
            return &t->peers[i];
        }
    }
    return NULL;
}

static struct seqtrack_peer *add(struct seqtrack *t, const uint8_t id[WIRE_ID_LEN])
{
    size_t i;
    if (t->n < t->cap) {
        i = t->n++;
    } else if (t->cap < SEQTRACK_MAX_PUBLISHERS) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct seqtrack_peer *p = realloc(t->peers, cap * sizeof *p);
        if (p == NULL) {
            return NULL;
        }
        t->peers = p;
        t->cap = cap;
        i = t->n++;
    } else {
        i = 0;
        for (size_t j = 1; j < t->n; j++) {
            if (t->peers[j].last_used < t->peers[i].last_used) {
                i = j;
            }
        }
    }
    memset(&t->peers[i], 0, sizeof t->peers[i]);
    memcpy(t->peers[i].id, id, WIRE_ID_LEN);
    t->last = i;
    return &t->peers[i];
}

int64_t seqtrack_see(struct seqtrack *t, const uint8_t id[WIRE_ID_LEN], uint64_t seq)
{
    struct seqtrack_peer *p = find(t, id);
    bool first = p == NULL;
    if (first) {
        p = add(t, id);
        if (p == NULL) {
            return -ENOMEM;
        }
    }
    p->last_used = ++t->clock;
    p->received++;
    uint64_t missing = 0;
    if (!first) {
        if (seq > p->last_seq) {
            missing = seq - p->last_seq - 1;
        } else {
            t->backwards++;
        }
    }
    p->last_seq = seq;
    if (missing > 0) {
        p->gaps++;
        p->lost += missing;
        t->gaps++;
        t->lost += missing;
    }
    /* Losses beyond INT64_MAX would need 2^63 messages; clamp rather than wrap. */
    return missing > INT64_MAX ? INT64_MAX : (int64_t)missing;
}
