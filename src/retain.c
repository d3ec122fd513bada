/* retain: messages kept in memory for replays (retain.h). */
#include "retain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void retain_init(struct retain *r, size_t max_bytes)
{
    memset(r, 0, sizeof *r);
    r->max_bytes = max_bytes;
}

void retain_finish(struct retain *r)
{
    for (struct retain_record *c = r->oldest, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    for (size_t i = 0; i < r->npubs; i++) {
        free(r->pubs[i].ring);
    }
    free(r->pubs);
    memset(r, 0, sizeof *r);
}

static struct retain_pub *find(const struct retain *r, const uint8_t id[WIRE_ID_LEN])
{
    if (r->last < r->npubs && r->pubs[r->last].used &&
        memcmp(r->pubs[r->last].id, id, WIRE_ID_LEN) == 0) {
        return &r->pubs[r->last];
    }
    for (size_t i = 0; i < r->npubs; i++) {
        if (r->pubs[i].used && memcmp(r->pubs[i].id, id, WIRE_ID_LEN) == 0) {
            ((struct retain *)r)->last = i;
            return &r->pubs[i];
        }
    }
    return NULL;
}

static struct retain_record **slot(const struct retain_pub *p, uint64_t seq)
{
    return &p->ring[(p->head + (size_t)(seq - p->first)) & (p->cap - 1)];
}

/* Forgets a publisher's index (its records stay chained until evicted). */
static void reset_pub(struct retain *r, struct retain_pub *p)
{
    r->bytes -= p->cap * sizeof *p->ring;
    free(p->ring);
    p->ring = NULL;
    p->cap = p->count = p->head = 0;
}

/* Drops the oldest record overall, and from its publisher's ring the entries up to it. */
static void evict_one(struct retain *r)
{
    struct retain_record *c = r->oldest;
    r->oldest = c->next;
    if (r->oldest == NULL) {
        r->newest = NULL;
    }
    struct retain_pub *p = &r->pubs[c->publisher];
    while (p->count > 0 && p->used && p->first <= c->seq) {
        p->ring[p->head] = NULL;
        p->head = (p->head + 1) & (p->cap - 1);
        p->first++;
        p->count--;
    }
    r->bytes -= sizeof *c + c->topic_len + c->text_len;
    r->evicted++;
    free(c);
}

static struct retain_pub *add_pub(struct retain *r, const uint8_t id[WIRE_ID_LEN])
{
    size_t i = 0;
    while (i < r->npubs && r->pubs[i].used) {
        i++;
    }
    if (i == r->npubs) {
        if (r->npubs == RETAIN_MAX_PUBLISHERS) {
            return NULL;
        }
        struct retain_pub *grown = realloc(r->pubs, (r->npubs + 1) * sizeof *grown);
        if (grown == NULL) {
            return NULL;
        }
        r->pubs = grown;
        r->npubs++;
    }
    struct retain_pub *p = &r->pubs[i];
    memset(p, 0, sizeof *p);
    memcpy(p->id, id, WIRE_ID_LEN);
    p->used = true;
    r->last = i;
    return p;
}

/* Makes room in p's ring for sequences up to seq. 0 or -ENOMEM. */
static int grow(struct retain *r, struct retain_pub *p, uint64_t seq)
{
    size_t need = (size_t)(seq - p->first) + 1;
    if (need <= p->cap) {
        return 0;
    }
    size_t cap = p->cap ? p->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    struct retain_record **ring = calloc(cap, sizeof *ring);
    if (ring == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < p->count; i++) {
        ring[i] = p->ring[(p->head + i) & (p->cap - 1)];
    }
    r->bytes += (cap - p->cap) * sizeof *ring;
    free(p->ring);
    p->ring = ring;
    p->cap = cap;
    p->head = 0;
    return 0;
}

int retain_add(struct retain *r, const uint8_t id[WIRE_ID_LEN], uint64_t seq, const char *topic,
               size_t topic_len, const char *text, size_t text_len)
{
    size_t size = sizeof(struct retain_record) + topic_len + text_len;
    if (size > r->max_bytes || topic_len > UINT16_MAX || text_len > UINT32_MAX) {
        return -E2BIG;
    }
    struct retain_pub *p = find(r, id);
    if (p && p->count > 0 && seq <= p->first + p->count - 1) {
        return -EALREADY;
    }
    if (p == NULL && (p = add_pub(r, id)) == NULL) {
        return -ENOMEM;
    }
    if (p->count == 0 || seq - (p->first + p->count - 1) > RETAIN_MAX_HOLE) {
        /* The first message, or a jump no hole should span: this one starts the ring. */
        if (p->count > 0) {
            reset_pub(r, p);
        }
        p->first = seq;
        p->count = 0;
    }
    if (grow(r, p, seq) < 0) {
        return -ENOMEM;
    }
    struct retain_record *c = malloc(size);
    if (c == NULL) {
        return -ENOMEM;
    }
    c->next = NULL;
    c->publisher = (uint32_t)(p - r->pubs);
    c->seq = seq;
    c->topic_len = (uint16_t)topic_len;
    c->text_len = (uint32_t)text_len;
    memcpy(c->data, topic, topic_len);
    memcpy(c->data + topic_len, text, text_len);
    /* Holes between the newest held and seq stay NULL (calloc, and evicted entries reset). */
    for (uint64_t s = p->first + p->count; s < seq; s++) {
        *slot(p, s) = NULL;
    }
    *slot(p, seq) = c;
    p->count = (size_t)(seq - p->first) + 1;
    if (r->newest) {
        r->newest->next = c;
    } else {
        r->oldest = c;
    }
    r->newest = c;
    r->bytes += size;
    while (r->bytes > r->max_bytes && r->oldest && r->oldest != c) {
        evict_one(r);
    }
    return 0;
}

bool retain_range(const struct retain *r, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest,
                  uint64_t *newest)
{
    const struct retain_pub *p = find(r, id);
    if (p == NULL || p->count == 0) {
        return false;
    }
    *oldest = p->first;
    *newest = p->first + p->count - 1;
    return true;
}

const struct retain_record *retain_get(const struct retain *r, const uint8_t id[WIRE_ID_LEN],
                                       uint64_t seq)
{
    const struct retain_pub *p = find(r, id);
    if (p == NULL || p->count == 0 || seq < p->first || seq - p->first >= p->count) {
        return NULL;
    }
    return *slot(p, seq);
}

bool retain_range_cb(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest, uint64_t *newest)
{
    return retain_range(ctx, id, oldest, newest);
}

size_t retain_copy(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, size_t max,
                   size_t max_bytes, struct buf *out)
{
    const struct retain *r = ctx;
    const struct retain_pub *p = find(r, id);
    size_t n = 0;
    if (p == NULL) {
        return 0;
    }
    for (uint64_t s = from; n < max && s >= p->first && s - p->first < p->count; s++, n++) {
        const struct retain_record *c = *slot(p, s);
        if (c == NULL) {
            break; /* a hole */
        }
        size_t need = WIRE_RECORD_OVERHEAD + c->topic_len + c->text_len;
        if ((n > 0 && out->len + need > max_bytes) || buf_reserve(out, need) < 0) {
            break;
        }
        out->len += wire_record_put((uint8_t *)out->data + out->len, c->data, c->topic_len,
                                    c->data + c->topic_len, c->text_len);
    }
    return n;
}

struct replay_source retain_source(struct retain *r, bool origin)
{
    return (struct replay_source){
        .range = retain_range_cb,
        .copy = retain_copy,
        .origin = origin,
        .ctx = r,
    };
}
