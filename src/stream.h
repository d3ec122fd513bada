/* stream: the sub's live view over Server-Sent Events (GET /stream): one event per log line, a
 * recent window to resume from, and viewers that the log never waits for.
 *
 * Events. Each line the log gets (a message, or a gap line) also becomes one event whose data is
 * the json log format's object (logline.h, the same escaping: the data never holds a newline):
 *     id: 0123456789abcdef:42          framed messages only: PUBLISHER:SEQ
 *     event: gap                       gap lines only
 *     data: {"time":"...","message":"...","topic":"...","publisher":"...","seq":42}
 * A viewer that could not get some events is told how many with
 *     event: dropped
 *     data: {"dropped":N}              (plus "publisher":"..." when N counts that publisher's
 *                                       messages after a Last-Event-ID no longer held)
 * and the stream goes on. A comment line (": keepalive") goes to every viewer each
 * keepalive_ms, so that idle proxies keep the connection.
 *
 * The window. Every event is kept, formatted once, in a window bounded by --stream-buffer
 * bytes (oldest events leave first; a full window drops to 7/8 of it at once, so that the
 * viewers behind its start are looked at once per eighth, not once per event). Events are numbered in the order the log got them. A
 * viewer is only a cursor into the window (the number of the next event to consider) and its
 * filters; it owns no copy of the window.
 *
 * Backpressure. A viewer is fed from its cursor while its connection holds less than
 * STREAM_HIGH_WATER unsent bytes (http_stream_unsent), at the end of each batch of the log and
 * whenever a write of its connection that had to wait completes. A viewer that does not read
 * therefore costs the sub a look at its cursor per batch and nothing more. Its lag is the bytes
 * of stream between its cursor and the newest event; past --stream-lag it is sent
 * `event: dropped` with the exact number of events it skips (those its filters would have let
 * through) and continues from the newest. An event that leaves the window before a viewer got
 * to it is counted the same way.
 *
 * Nothing waits for a viewer. Viewers that read fast could take the sub's whole core (every
 * event copied to each of them), so feeding them is budgeted: credit accrues with the time the
 * loop waits for events and STREAM_SHARE_PERCENT of the time it is busy, and feeding spends
 * it; without credit, viewers
 * wait (a timer serves them again every STREAM_WAKE_MS, round robin). Passes over the viewers
 * come at most every STREAM_WAKE_MS: a sub that logs many small batches would otherwise write a
 * few events to every viewer per batch, a system call each; the timer serves what comes
 * meanwhile, so an event waits at most that long. A sub that is idle between messages has
 * credit to spare; one logging at full speed spends about a tenth of its time feeding, and
 * viewers that cannot keep up within it fall behind and are told what they skipped (counting
 * them is one subtraction for a viewer without filters). What libuv later writes of a queued
 * remainder, and the kernel's work for it, is not counted: measured, 100 fast viewers still
 * cost a saturated sub about a seventh of its rate (README: Performance).
 *
 * Resume. A request with Last-Event-ID (or ?last_event_id=) PUB:SEQ starts after that event when
 * the window still holds it. Otherwise, when the window holds later messages of PUB (the id is
 * older than the window, or the sub was restarted in between), it starts at the oldest event
 * held, and `event: dropped` first gives the number of PUB's messages after SEQ that are not
 * held and not already reported by a gap line it holds (none when the window starts right
 * after SEQ). An id whose publisher the window does not
 * hold starts at the oldest event held. Without an id a viewer starts with the next event.
 * Sequence numbers are per publisher, so with several publishers a resume from outside the
 * window can repeat other publishers' events: their seq says so, and the page skips them.
 *
 * Filters: ?topic=PREFIX (framed messages whose topic starts so), ?publisher=ID (messages and
 * gap lines of that publisher), ?q=TEXT (messages whose text contains it); combinable. Gap lines
 * pass unless ?q= is given or ?publisher= names another publisher. */
#ifndef DOWNCASE_STREAM_H
#define DOWNCASE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "buf.h"
#include "closer.h"
#include "http_conn.h"
#include "logline.h"
#include "metrics.h"
#include "router.h"
#include "token.h"
#include "wire.h"

/* A viewer's connection is fed while it holds less than this unsent. */
#define STREAM_HIGH_WATER (64 * 1024)
#define STREAM_DEFAULT_BUFFER (8u * 1024 * 1024)
#define STREAM_DEFAULT_LAG (1u * 1024 * 1024)
#define STREAM_DEFAULT_KEEPALIVE_MS 15000
/* How long a browser waits before reconnecting (the stream's first line, "retry:"). */
#define STREAM_RETRY_MS 1000
/* The share of the loop's time that feeding viewers may take, the most credit kept for later,
 * and how often viewers that ran out of it are served again. */
#define STREAM_SHARE_PERCENT 10
#define STREAM_MAX_CREDIT_NS (20 * 1000 * 1000)
#define STREAM_WAKE_MS 5

struct stream_config {
    size_t buffer_bytes;   /* --stream-buffer: the window */
    size_t lag_bytes;      /* --stream-lag: at most buffer_bytes */
    uint64_t keepalive_ms; /* the comment line's interval */
};

struct stream_event;
struct stream_viewer;

struct stream {
    uv_loop_t *loop;
    struct stream_config cfg;
    const struct token *access; /* who may watch (token.h) */
    uv_timer_t keepalive;
    uv_timer_t wake; /* serves viewers that waited for credit */
    int timers_open;
    bool closing;
    struct closer closed;
    int64_t credit_ns; /* time the viewers may still take (stream.h: backpressure) */
    uint64_t credit_at;
    uint64_t idle_at;           /* the loop's idle time (uv_metrics_idle_time) at credit_at */
    struct stream_viewer *turn; /* where the next pass starts */
    uint64_t round_at;          /* uv_now() of the last pass over the viewers */
    uint64_t min_cursor;        /* at most every viewer's cursor */
    struct logline line;        /* the json formatter */
    struct buf scratch;
    /* The window: ring[(start + i) % cap] is event number first + i, for i < count. */
    struct stream_event **ring;
    size_t cap;
    size_t start;
    size_t count;
    uint64_t first;       /* the number of the oldest event held */
    uint64_t next;        /* the number the next event gets */
    uint64_t next_offset; /* bytes of stream before the next event */
    size_t bytes;         /* memory the window holds */
    struct stream_viewer *viewers;
    uint64_t clients;
    uint64_t events_sent;
    uint64_t events_dropped;
};

/* Prepares the hub: nothing is allocated and no handle is opened until stream_start. */
void stream_init(struct stream *s, uv_loop_t *loop, const struct stream_config *cfg,
                 const struct token *access);
/* Starts the keepalive timer and registers GET /stream on r. 0 or a negative errno. */
int stream_start(struct stream *s, struct router *r);
/* One more log line: a message or a gap line. Viewers get it at stream_flush. */
void stream_message(struct stream *s, const struct wire_msg *m, const struct timespec *now);
void stream_gap(struct stream *s, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                const struct timespec *now);
/* The end of a batch: every viewer is fed what it can take. */
void stream_flush(struct stream *s);
/* Ends every viewer's connection and closes the timer; `closed` runs once it is closed. */
void stream_close(struct stream *s, struct closer closed);
/* After the loop: frees the window. */
void stream_finish(struct stream *s);
/* downcase_stream_clients, ..._events_sent_total, ..._events_dropped_total, window gauges. */
void stream_metrics(const struct stream *s, struct metrics *m);

/* Parses "PUBLISHER:SEQ" (16 hex digits, ':', a decimal number). 0 or -EINVAL. */
int stream_parse_id(const char *s, size_t len, uint8_t id[WIRE_ID_LEN], uint64_t *seq);

#endif
