/* publisher: the ZeroMQ socket of the pub role: bound once, never blocking the loop long.
 *
 * The socket is created and bound (or connected) once at start-up, unlike the tutorial's
 * bind-sleep-send-unbind per request. It is an XPUB in manual mode, so it sees and applies
 * each subscription itself (zsubs.h): replay requests arrive that way and are answered from
 * the retention (replay.h).
 *
 * What a 200 promises depends on retention:
 *   - With retention (--wire=framed and --retain above 0, or --journal): a 200 means the
 *     message is retained (in memory, or appended to the journal) under its sequence number,
 *     and was handed to ZeroMQ for every subscriber connected now. A subscriber whose queue is
 *     full simply does not get it live (ZeroMQ drops it for that subscriber alone): it sees the
 *     jump and fetches it from the retention, so one slow subscriber never holds the others
 *     back. 503 is left for a journal that cannot be written.
 *   - Without (plain wire, or --retain=0): ZMQ_XPUB_NODROP is set, so when a subscriber's queue
 *     is full zmq_send(ZMQ_DONTWAIT) fails with EAGAIN instead of dropping silently; the client
 *     is answered 503 and the message counted, and its sequence number is not used, so a gap
 *     at a subscriber always means a queued message that was lost. Before the first refusal of
 *     a run the loop waits for room, at most PUBLISHER_ROOM_WAIT_MS, since on a shared core the
 *     I/O thread only empties the queue while the loop lets it; the refusals that follow in that
 *     run are answered at once. */
#ifndef DOWNCASE_PUBLISHER_H
#define DOWNCASE_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <zmq.h>

#include "buf.h"
#include "closer.h"
#include "journal.h"
#include "replay.h"
#include "retain.h"
#include "curve.h"
#include "wire.h"
#include "zendpoint.h"
#include "zsock.h"

/* How long a stopping publisher may spend handing queued messages to subscribers. */
#define PUBLISHER_LINGER_MS 500
/* How often a framed publisher announces its newest sequence (wire.h, WIRE_HEAD), and how many
 * times after it last changed. */
#define PUBLISHER_HEAD_MS 500
#define PUBLISHER_HEAD_REPEAT 3
/* Subscription messages handled per loop turn. */
#define PUBLISHER_SUB_BUDGET 256
/* How long a publish may wait for room in a full queue before it is refused (publisher.c). */
#define PUBLISHER_ROOM_WAIT_MS 10

/* What the command line decides about the publisher. Strings are borrowed. */
struct publisher_config {
    enum wire_kind wire;
    const char *topic; /* framed only */
    const struct zendpoints *endpoints;
    struct zsock_tuning tuning;
    struct curve_config security;  /* ZAP domain and CURVE role (curve.h) */
    size_t retain_bytes;           /* --retain; 0: none (framed only: plain has no sequence) */
    struct journal_config journal; /* dir NULL: no journal; else it is the retention */
};

struct publisher {
    struct zsock sock;
    enum wire_kind wire;
    const char *topic;
    size_t topic_len;
    uint8_t id[WIRE_ID_LEN];
    uint64_t seq;       /* of the last message ZeroMQ accepted */
    uint64_t published; /* messages ZeroMQ accepted */
    uint64_t dropped;   /* messages ZeroMQ could not queue */
    bool wait_futile;   /* the last refusal stood after waiting for room */
    bool open;          /* attached and watched: it can publish */
    bool retaining;     /* a 200 means retained (see above) */
    struct retain retain;
    struct journal journal;
    bool journaling;
    struct barrier closing;
    struct replay_stats replay;
    struct buf scratch;     /* a replay batch being built */
    zmq_msg_t sub_msg;      /* the subscription message being handled */
    uint64_t subscriptions; /* subscription messages handled */
    uv_timer_t head_timer;  /* head announcements (framed only) */
    bool head_timer_open;
    uint64_t announced;     /* the sequence last announced */
    int announce_left;      /* announcements still to send for it */
    uint64_t retain_errors; /* messages that could not be retained: answered 503 */
};

/* Creates the socket in zctx, sets its options and attaches it to its endpoints. 0 or a
 * negative errno (reported on stderr); close it either way. */
int publisher_open(struct publisher *p, uv_loop_t *loop, void *zctx,
                   const struct publisher_config *cfg);
/* Publishes one message; waits only as said above. 0, or -EAGAIN when ZeroMQ could not queue it
 * (counted in p->dropped), -ENOMEM / -EIO when it could not be retained, or another negative
 * errno. */
int publisher_send(struct publisher *p, const char *text, size_t len);
/* Stops watching, then closes the socket with a bounded linger; `closed` runs afterwards
 * (closer.h: zero-safe, idempotent). */
void publisher_close(struct publisher *p, struct closer closed);
/* With --journal-sync=0: syncs what was journaled, before answers go out (http_conns'
 * before_write hook; ctx is the publisher). */
void publisher_commit(void *ctx);
/* Frees the retention, once closed. */
void publisher_finish(struct publisher *p);

#endif
