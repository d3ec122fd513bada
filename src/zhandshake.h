/* zhandshake: what became of each connection of a ZeroMQ socket, from its monitor's events.
 *
 * libzmq's socket monitor (zmq_socket_monitor, version 1: the only one without the DRAFT API
 * in 4.3.4) reports ACCEPTED or CONNECTED with the connection's fd, HANDSHAKE_SUCCEEDED and
 * HANDSHAKE_FAILED_* with no fd at all (their value is 0 or an error code), and DISCONNECTED
 * with the fd again. Three kinds of connection end in a DISCONNECTED:
 *   - a peer that was up (its handshake succeeded): "peer ... down";
 *   - a handshake that failed with an event of its own (a CURVE mismatch, a ZAP refusal, a
 *     peer hanging up half-way): the event comes right before its DISCONNECTED, from the same
 *     call in libzmq's I/O thread (stream_engine_base_t::error), so the next DISCONNECTED is it;
 *   - a peer refused with no event at all: with ZAP enabled on the socket, libzmq refuses
 *     unversioned (ZMTP 1.0) peers and ZMTP 1.0/2.0 greetings, which is also what raw bytes, an
 *     HTTP request or a port scanner look like, by error(protocol_error) alone
 *     (zmtp_engine.cpp, handshake_v1_0_unversioned; measured: ACCEPTED then DISCONNECTED).
 * Telling the first from the third needs to know whether that fd's handshake succeeded, which
 * the success event does not say. So connections are tracked by fd: each starts "pending";
 * successes not yet tied to an fd are counted; and when the pending connections are exactly as
 * many as those successes, all of them are up. A pending connection that closes without a
 * failure event while no success is unaccounted for is certainly refused. That is exact
 * whenever handshakes do not overlap, and under a flood of refused peers against a socket
 * whose publishers are already connected. When a handshake succeeds while another connection
 * is pending and one of them closes before the other's fate is known, the closed one is taken
 * for refused: a peer that was up for only that moment may then be counted as refused instead
 * of down, and the pending one promoted in its place (the counts can be off by one there).
 *
 * Pure bookkeeping, no libzmq calls: zmonitor.c feeds it. */
#ifndef DOWNCASE_ZHANDSHAKE_H
#define DOWNCASE_ZHANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

/* What an event means for the socket's peers. */
enum zhandshake_outcome {
    ZHANDSHAKE_NONE,    /* nothing to report (a connection opened, a failure's disconnect) */
    ZHANDSHAKE_UP,      /* a handshake succeeded: one more peer */
    ZHANDSHAKE_DOWN,    /* a peer that was up went away */
    ZHANDSHAKE_FAILED,  /* a handshake failed, with libzmq's reason in the event's value */
    ZHANDSHAKE_REFUSED, /* a connection closed before its handshake with no reason given:
                         * refused by libzmq as not ZMTP 3 (see above) */
};

struct zhandshake {
    uint8_t *state;   /* by fd: 0 unknown, 1 pending, 2 up */
    size_t cap;       /* entries in state */
    size_t pending;   /* fds pending */
    size_t unplaced;  /* successes not yet tied to an fd; never more than pending */
    uint64_t failing; /* failure events whose DISCONNECTED has not come yet */
};

/* Feeds one event (ZMQ_EVENT_*) and its value; returns what it means. Events of other kinds
 * give ZHANDSHAKE_NONE. Without memory for a new fd the connection stays unknown, and its end
 * counts as a peer down (what it was before this module). */
enum zhandshake_outcome zhandshake_event(struct zhandshake *h, uint16_t event, uint32_t value);

/* Frees the table; the struct can be fed again afterwards, from empty. */
void zhandshake_finish(struct zhandshake *h);

#endif
