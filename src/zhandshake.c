/* zhandshake: connections of a socket by fd, from monitor events (zhandshake.h). */
#include "zhandshake.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { UNKNOWN = 0, PENDING = 1, UP = 2 };

/* A sane bound on fds: past it a connection stays unknown rather than costing memory. */
#define ZHANDSHAKE_MAX_FD (1u << 24)

static int grow(struct zhandshake *h, uint32_t fd)
{
    if (fd < h->cap) {
        return 0;
    }
    if (fd >= ZHANDSHAKE_MAX_FD) {
        return -1;
    }
    size_t cap = h->cap ? h->cap : 64;
    while (cap <= fd) {
        cap *= 2;
    }
    uint8_t *s = realloc(h->state, cap);
    if (s == NULL) {
        return -1;
    }
    memset(s + h->cap, UNKNOWN, cap - h->cap);
    h->state = s;
    h->cap = cap;
    return 0;
}

/* When every pending connection is one of the successes not yet placed, all of them are up. */
static void settle(struct zhandshake *h)
{
    if (h->unplaced == 0 || h->unplaced != h->pending) {
        return;
    }
    for (size_t fd = 0; fd < h->cap && h->pending > 0; fd++) {
        if (h->state[fd] == PENDING) {
            h->state[fd] = UP;
            h->pending--;
        }
    }
    h->unplaced = 0;
}

static enum zhandshake_outcome disconnected(struct zhandshake *h, uint32_t fd)
{
    uint8_t was = fd < h->cap ? h->state[fd] : UNKNOWN;
    if (fd < h->cap) {
        h->state[fd] = UNKNOWN;
    }
    if (was == PENDING) {
        h->pending--;
    }
    enum zhandshake_outcome out;
    if (h->failing > 0) {
        /* The failure just reported: its connection, whatever the table guessed. */
        h->failing--;
        out = was == UP ? ZHANDSHAKE_DOWN : ZHANDSHAKE_NONE;
        if (was == PENDING && h->unplaced > h->pending) {
            h->unplaced = h->pending;
        }
    } else if (was == PENDING) {
        out = ZHANDSHAKE_REFUSED;
        /* It may have been one of the unplaced successes (zhandshake.h): keep the count
         * within the connections still pending. */
        if (h->unplaced > h->pending) {
            h->unplaced = h->pending;
        }
    } else {
        out = ZHANDSHAKE_DOWN;
    }
    settle(h);
    return out;
}

enum zhandshake_outcome zhandshake_event(struct zhandshake *h, uint16_t event, uint32_t value)
{
    switch (event) {
    case ZMQ_EVENT_ACCEPTED:
    case ZMQ_EVENT_CONNECTED:
        if (grow(h, value) == 0) {
            if (h->state[value] == PENDING) {
                h->pending--; /* an fd reused without its DISCONNECTED: never seen, but safe */
            }
            h->state[value] = PENDING;
            h->pending++;
        }
        return ZHANDSHAKE_NONE;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        if (h->unplaced < h->pending) {
            h->unplaced++;
            settle(h);
        }
        return ZHANDSHAKE_UP;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        h->failing++;
        return ZHANDSHAKE_FAILED;
    case ZMQ_EVENT_DISCONNECTED:
        return disconnected(h, value);
    default:
        return ZHANDSHAKE_NONE;
    }
}

void zhandshake_finish(struct zhandshake *h)
{
    free(h->state);
    memset(h, 0, sizeof *h);
}
