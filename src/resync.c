/* resync: per-publisher ordering, duplicates, replays and gaps (resync.h). */
#include "resync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct resync_held {
    struct resync_held *next;
    struct timespec received;
    uint64_t seq;
    size_t topic_len;
    size_t text_len;
    char data[]; /* topic, then text */
};

void resync_init(struct resync *rs, struct resync_ops ops)
{
    memset(rs, 0, sizeof *rs);
    rs->ops = ops;
}

static void drop_held(struct resync *rs, struct resync_peer *p)
{
    for (struct resync_held *h = p->held, *next; h; h = next) {
        next = h->next;
        rs->held_bytes -= sizeof *h + h->topic_len + h->text_len;
        free(h);
    }
    p->held = p->held_tail = NULL;
}

void resync_finish(struct resync *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        drop_held(rs, &rs->peers[i]);
    }
    free(rs->peers);
    rs->peers = NULL;
    rs->n = rs->cap = 0;
}

static struct resync_peer *find(struct resync *rs, const uint8_t id[WIRE_ID_LEN])
{
    if (rs->last_hit < rs->n && memcmp(rs->peers[rs->last_hit].id, id, WIRE_ID_LEN) == 0) {
        return &rs->peers[rs->last_hit];
    }
    /* A linear scan: aggregators have tens of publishers, and the hit above covers runs. */
    for (size_t i = 0; i < rs->n; i++) {
        if (memcmp(rs->peers[i].id, id, WIRE_ID_LEN) == 0) {
            rs->last_hit = i;
            return &rs->peers[i];
        }
    }
    return NULL;
}

/* A new entry, or past RESYNC_MAX_PUBLISHERS the one used longest ago, reused (a publisher
 * forgotten that comes back starts afresh, as one never seen). */
static struct resync_peer *add(struct resync *rs, const uint8_t id[WIRE_ID_LEN], uint64_t last)
{
    size_t i;
    if (rs->n < rs->cap) {
        i = rs->n++;
    } else if (rs->cap < RESYNC_MAX_PUBLISHERS) {
        size_t cap = rs->cap ? rs->cap * 2 : 8;
        cap = cap < RESYNC_MAX_PUBLISHERS ? cap : RESYNC_MAX_PUBLISHERS;
        struct resync_peer *p = realloc(rs->peers, cap * sizeof *p);
        if (p == NULL) {
            return NULL;
        }
        rs->peers = p;
        rs->cap = cap;
        i = rs->n++;
    } else {
        i = 0;
        for (size_t j = 1; j < rs->n; j++) {
            if (rs->peers[j].last_used < rs->peers[i].last_used) {
                i = j;
            }
        }
        drop_held(rs, &rs->peers[i]);
    }
    struct resync_peer *p = &rs->peers[i];
    memset(p, 0, sizeof *p);
    memcpy(p->id, id, WIRE_ID_LEN);
    p->last = last;
    p->committed = last;
    p->last_used = ++rs->clock;
    rs->last_hit = i;
    return p;
}

int resync_restore(struct resync *rs, const uint8_t id[WIRE_ID_LEN], uint64_t last)
{
    struct resync_peer *p = find(rs, id);
    if (p == NULL) {
        p = add(rs, id, last);
    }
    if (p == NULL) {
        return -ENOMEM;
    }
    p->last = last;
    p->committed = last;
    return 0;
}

void resync_commit(struct resync *rs, const uint8_t id[WIRE_ID_LEN], uint64_t seq)
{
    struct resync_peer *p = find(rs, id);
    if (p != NULL && seq > p->committed) {
        p->committed = seq;
    }
}

static void deliver(struct resync *rs, struct resync_peer *p, uint64_t seq, const char *topic,
                    size_t topic_len, const char *text, size_t text_len,
                    const struct timespec *received)
{
    struct wire_msg m = {
        .kind = WIRE_FRAMED,
        .topic = topic,
        .topic_len = topic_len,
        .seq = seq,
        .text = text,
        .text_len = text_len,
    };
    memcpy(m.publisher, p->id, WIRE_ID_LEN);
    p->last = seq;
    if (!rs->explicit_commit) {
        p->committed = seq;
    }
    rs->ops.deliver(rs->ops.ctx, &m, received);
}

static void report_gap(struct resync *rs, struct resync_peer *p, uint64_t upto,
                       const struct timespec *now)
{
    uint64_t lost = upto - p->last;
    p->gaps++;
    p->lost += lost;
    rs->gaps++;
    rs->lost += lost;
    p->last = upto;
    if (!rs->explicit_commit) {
        p->committed = upto;
    }
    rs->ops.gap(rs->ops.ctx, p->id, lost, now);
}

static void ask(struct resync *rs, struct resync_peer *p, enum resync_mode mode, uint64_t now_ms)
{
    p->mode = mode;
    p->nonce = ++rs->next_nonce;
    p->asked_ms = now_ms;
    p->progress = p->last;
    rs->ops.request(rs->ops.ctx, p->id, p->last + 1, RESYNC_WINDOW, p->nonce);
}

/* Keeps a live message for later; false when there is no room (it will be asked for). */
static bool hold(struct resync *rs, struct resync_peer *p, const struct wire_msg *m,
                 const struct timespec *now)
{
    size_t size = sizeof(struct resync_held) + m->topic_len + m->text_len;
    if (rs->held_bytes + size > RESYNC_MAX_BUFFERED ||
        (p->held_tail && m->seq <= p->held_tail->seq)) {
        rs->held_dropped++;
        return false;
    }
    struct resync_held *h = malloc(size);
    if (h == NULL) {
        rs->held_dropped++;
        return false;
    }
    h->next = NULL;
    h->received = *now;
    h->seq = m->seq;
    h->topic_len = m->topic_len;
    h->text_len = m->text_len;
    memcpy(h->data, m->topic, m->topic_len);
    memcpy(h->data + m->topic_len, m->text, m->text_len);
    if (p->held_tail) {
        p->held_tail->next = h;
    } else {
        p->held = h;
    }
    p->held_tail = h;
    rs->held_bytes += size;
    return true;
}

/* Delivers the kept messages that now follow `last` (dropping those already had). */
static void release_held(struct resync *rs, struct resync_peer *p)
{
    while (p->held && p->held->seq <= p->last + 1) {
        struct resync_held *h = p->held;
        p->held = h->next;
        if (p->held == NULL) {
            p->held_tail = NULL;
        }
        if (h->seq == p->last + 1) {
            deliver(rs, p, h->seq, h->data, h->topic_len, h->data + h->topic_len, h->text_len,
                    &h->received);
        } else {
            p->duplicates++;
            rs->duplicates++;
        }
        rs->held_bytes -= sizeof *h + h->topic_len + h->text_len;
        free(h);
    }
}

void resync_message(struct resync *rs, const struct wire_msg *m, uint64_t now_ms,
                    const struct timespec *now)
{
    struct resync_peer *p = find(rs, m->publisher);
    if (p == NULL) {
        /* Never seen: it starts here. Without room to track it, it is still logged. */
        p = add(rs, m->publisher, m->seq == 0 ? 0 : m->seq - 1);
        if (p == NULL) {
            rs->ops.deliver(rs->ops.ctx, m, now);
            return;
        }
    }
    p->last_used = ++rs->clock;
    p->received++;
    if (m->seq <= p->last) {
        p->duplicates++;
        rs->duplicates++;
        return;
    }
    if (m->seq - p->last > RESYNC_MAX_JUMP) {
        p->rejected++;
        rs->rejected++;
        rs->ops.protocol_error(rs->ops.ctx, p->id, "implausible sequence jump", m->seq, p->last);
        return;
    }
    if (m->seq == p->last + 1) {
        /* While filling, the answer in flight says whether more is missing. */
        deliver(rs, p, m->seq, m->topic, m->topic_len, m->text, m->text_len, now);
        release_held(rs, p);
        return;
    }
    hold(rs, p, m, now);
    if (p->mode == RESYNC_LIVE) {
        p->tries = 0;
        ask(rs, p, RESYNC_FILLING, now_ms);
    } else {
        p->mode = RESYNC_FILLING; /* a probe that found a gap is a fill */
    }
}

void resync_batch(struct resync *rs, const struct wire_msg *m, uint64_t now_ms,
                  const struct timespec *now)
{
    (void)now_ms;
    struct resync_peer *p = find(rs, m->publisher);
    if (p == NULL || p->mode == RESYNC_LIVE) {
        return; /* not asked for (any more) */
    }
    size_t pos = 0;
    const char *topic, *text;
    size_t topic_len, text_len;
    for (uint64_t seq = m->seq;; seq++) {
        int rc = wire_record_next(m, &pos, &topic, &topic_len, &text, &text_len);
        if (rc <= 0) {
            if (rc < 0) {
                rs->ops.protocol_error(rs->ops.ctx, p->id, "malformed replay batch", seq, p->last);
            }
            break;
        }
        if (seq <= p->last) {
            continue; /* overlap with what was already delivered */
        }
        if (seq != p->last + 1) {
            break; /* a batch before this one was lost: the status asks again */
        }
        p->replayed++;
        rs->replayed++;
        deliver(rs, p, seq, topic, topic_len, text, text_len, now);
    }
}

void resync_status(struct resync *rs, const struct wire_msg *m, uint64_t now_ms,
                   const struct timespec *now)
{
    struct wire_status st;
    struct resync_peer *p = find(rs, m->publisher);
    if (p == NULL || p->mode == RESYNC_LIVE || wire_status_decode(m, &st) < 0 ||
        st.nonce != p->nonce) {
        return; /* not ours, stale, or malformed */
    }
    if (st.head > p->head) {
        p->head = st.head;
    }
    /* Everything up to st.head that did not arrive is not coming by itself: the answer came on
     * the connection the live messages use, after them. What the publisher no longer holds
     * (before st.oldest, or anything when it holds nothing) is lost, except what we kept. */
    uint64_t avail_from = st.oldest <= st.head ? st.oldest : st.head + 1;
    while (p->last + 1 < avail_from) {
        release_held(rs, p);
        if (p->last + 1 >= avail_from) {
            break;
        }
        uint64_t upto = avail_from - 1;
        if (p->held && p->held->seq - 1 < upto) {
            upto = p->held->seq - 1;
        }
        report_gap(rs, p, upto, now);
    }
    release_held(rs, p);
    bool behind = p->last < st.head || (p->held && p->held->seq > p->last + 1);
    if (!behind) {
        p->mode = RESYNC_LIVE;
        p->tries = 0;
        return;
    }
    /* More to fetch: the next window at once if this one made progress, else after a pause. */
    if (p->last > p->progress) {
        p->tries = 0;
        ask(rs, p, RESYNC_FILLING, now_ms);
    } else {
        p->mode = RESYNC_FILLING;
        p->tries++;
        p->asked_ms = now_ms; /* resync_tick asks again after RESYNC_RETRY_MS */
        p->nonce = 0;         /* no answer is awaited until then */
    }
}

void resync_head(struct resync *rs, const uint8_t id[WIRE_ID_LEN], uint64_t head, uint64_t now_ms)
{
    struct resync_peer *p = find(rs, id);
    if (p == NULL || head <= p->last || head - p->last > RESYNC_MAX_JUMP ||
        p->mode != RESYNC_LIVE) {
        return;
    }
    if (head > p->head) {
        p->head = head;
    }
    p->tries = 0;
    ask(rs, p, RESYNC_FILLING, now_ms);
}

void resync_connected(struct resync *rs, uint64_t now_ms)
{
    for (size_t i = 0; i < rs->n; i++) {
        struct resync_peer *p = &rs->peers[i];
        if (p->mode == RESYNC_LIVE) {
            p->tries = 0;
            ask(rs, p, RESYNC_PROBING, now_ms);
        } else {
            /* Already asking: ask again now, the link the last request took may be gone. */
            ask(rs, p, p->mode, now_ms);
        }
    }
}

void resync_tick(struct resync *rs, uint64_t now_ms, const struct timespec *now)
{
    for (size_t i = 0; i < rs->n; i++) {
        struct resync_peer *p = &rs->peers[i];
        if (p->mode == RESYNC_LIVE || now_ms - p->asked_ms < RESYNC_RETRY_MS) {
            continue;
        }
        if (++p->tries < RESYNC_TRIES) {
            ask(rs, p, p->mode, now_ms);
            continue;
        }
        /* No answer worth waiting for. A probe found nothing missing; a fill reports what is
         * missing before the messages kept, then delivers them. */
        if (p->mode == RESYNC_FILLING) {
            while (p->held) {
                release_held(rs, p);
                if (p->held) {
                    report_gap(rs, p, p->held->seq - 1, now);
                }
            }
            if (p->last < p->head) {
                report_gap(rs, p, p->head, now); /* published, answered, never delivered */
            }
        }
        p->mode = RESYNC_LIVE;
        p->tries = 0;
    }
}

bool resync_waiting(const struct resync *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        if (rs->peers[i].mode != RESYNC_LIVE) {
            return true;
        }
    }
    return false;
}
