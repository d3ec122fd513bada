/* zap: the process's ZeroMQ authentication handler (ZAP, RFC 27), served from the libuv loop,
 * answering for every socket that accepts peers, each by its own policy.
 *
 * libzmq asks the handler about a connection when the socket has a ZAP domain
 * (ZMQ_ZAP_DOMAIN, set by curve_secure in curve.h): for a CURVE server once the client proved
 * its key, for the NULL mechanism (plain ZeroMQ) once the greetings are exchanged, on both
 * ends of the connection. It sends a request to a REP bound at inproc://zeromq.zap.01 in the
 * same context, and the handshake waits for the answer. There is one such endpoint per context,
 * so one handler per process; the request's domain frame says which socket asks, and the
 * handler picks that socket's policy (zap_policy_add): its side's name is the domain.
 *
 * What the code relies on in libzmq 4.3.4, checked against its source (zmtp_engine.cpp,
 * session_base.cpp) and measured with python3-zmq on Debian 12's libzmq5:
 *   - a socket with a ZAP domain has "ZAP enabled" (session_base_t::zap_enabled: a mechanism
 *     other than NULL, or a domain), and such a socket refuses unversioned ZMTP 1.0 peers and
 *     ZMTP 1.0 and 2.0 greetings outright (handshake_v1_0_unversioned, handshake_v1_0,
 *     handshake_v2_0). Without a domain, bytes from a peer whose first byte is not 0xff are
 *     taken as ZMTP 1.0 frames and delivered: measured, a SUB bound without ZAP received
 *     "hello" from the 9 raw bytes "\x01\x00\x06\x00hello" sent over plain TCP; with
 *     a domain and this handler it received nothing. Raw bytes and HTTP requests are refused
 *     the same way, as their first byte is not 0xff. The refusal raises no monitor event but
 *     the connection's ACCEPTED and DISCONNECTED: zmonitor.h counts it (zhandshake.h);
 *   - a NULL-mechanism handshake on such a socket sends a ZAP request with 6 frames (version,
 *     request id, domain, address, identity, mechanism "NULL"), so peers can be admitted by
 *     address (--allow-from). The address frame is the peer's IP as text: "127.0.0.1", "::1",
 *     "::ffff:127.0.0.1" for an IPv4 peer of a dual-stack socket; for ipc:// it is
 *     "localhost:UID:GID:PID", no IP, which --allow-from never admits;
 *   - with ZMQ_ZAP_ENFORCE_DOMAIN (curve.h) a socket whose handler is missing refuses every
 *     peer; without it libzmq would admit them all.
 *
 * Served on the loop, which is safe because the handler never blocks: every request is read
 * whole (even a malformed one), answered with exactly one reply (a REP that skipped one would
 * be stuck), and ZMQ_EVENTS is re-read after each reply, since a zmq_send may consume the edge
 * of the next pending request. The handler must be bound before any socket with a domain
 * attaches (RFC 27: "The handler SHALL start before any server starts").
 *
 * Policies, checked in this order, the first failing check refusing the peer:
 *   1. the mechanism: a CURVE server admits only CURVE clients, a plain socket only NULL peers;
 *   2. --allow-from (every policy of the process): the peer's address in one of the ranges;
 *   3. a CURVE server's allow directory (--curve-allow, --curve-allow-upstream): the client's
 *      public key in one of the certificates there, re-read at every request, so adding or
 *      removing a certificate takes effect at the next handshake with no signal or restart.
 *      Without a directory every client that completed the CURVE handshake is admitted (czmq's
 *      CURVE_ALLOW_ANY): encrypted, and the client must know the server's key, but any key.
 * Connections already admitted stay until they close. */
#ifndef DOWNCASE_ZAP_H
#define DOWNCASE_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cidr.h"
#include "closer.h"
#include "diag.h"
#include "metrics.h"
#include "zmonitor.h"
#include "zsock.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

/* ZAP's frames kept per request: a CURVE request has 7 (RFC 27); more are read and dropped. */
#define ZAP_FRAMES 8
/* Sockets one process guards: the relay's two sides at most, today. */
#define ZAP_MAX_POLICIES 4

/* What one socket admits. Strings are borrowed. */
struct zap_policy_config {
    const char *side;       /* the socket's ZAP domain, and its name in reports and metrics */
    bool curve;             /* a CURVE server: CURVE clients only; else plain peers only */
    const char *allow_dir;  /* curve: the admitted clients' certificates; NULL: any client */
    const char *allow_flag; /* the flag that gave allow_dir, for messages */
};

struct zap_policy {
    struct zap_policy_config cfg;
    /* The socket's monitor, for its failed and refused connections in the metrics and the
     * stop summary; set by the socket's owner once it is open (NULL: none). */
    const struct zmonitor *monitor;
    char key_unknown[64]; /* the refusal's text: "its key is not in --curve-allow" */
    uint64_t admitted;    /* requests admitted */
    uint64_t denied;      /* requests refused: mechanism, address, key, malformed */
    struct diag_limit allow_limit;
    struct diag_limit deny_limit;
    struct diag_limit dir_limit;
};

struct zap {
    uv_loop_t *loop;
    const char *who;
    const struct cidr *allow_from; /* --allow-from; none: every address */
    size_t nallow_from;
    struct zsock rep; /* the handler */
    zmq_msg_t frames[ZAP_FRAMES];
    bool frames_ready;
    bool serving; /* opened in full: its counters are worth a summary at close */
    struct zap_policy policies[ZAP_MAX_POLICIES];
    size_t npolicies;
    uint64_t malformed; /* requests with no policy or no valid layout: refused */
    struct diag_limit malformed_limit;
};

/* Binds the handler in zctx and watches it on loop; allow_from[0..n) (borrowed) applies to
 * every policy. Call before any socket with a ZAP domain attaches. 0 or a negative errno
 * (reported); close it either way. */
int zap_open(struct zap *z, uv_loop_t *loop, void *zctx, const struct cidr *allow_from, size_t n,
             const char *who);

/* Adds the policy of the socket whose ZAP domain is cfg->side, after checking its allow
 * directory (every certificate in it must load; reported) and saying on stderr what it
 * admits. The policy, or NULL (reported). Call before that socket attaches. */
struct zap_policy *zap_policy_add(struct zap *z, const struct zap_policy_config *cfg);

/* The refusal families, one sample per policy, labelled side="...": requests admitted and
 * denied by the handler, and the socket's failed and refused connections (its monitor). */
void zap_metrics(struct metrics *m, const struct zap *z);

/* Reports each CURVE server's counters ("curve: stopped: ..."), stops watching and closes the
 * socket; `closed` runs afterwards (closer.h: zero-safe, idempotent). Call before closing the
 * sockets it serves and their monitors. */
void zap_close(struct zap *z, struct closer closed);

#endif
