/* zap: the pub's ZeroMQ authentication handler (ZAP, RFC 27), served from the libuv loop.
 *
 * libzmq asks the handler about every CURVE client that completed the key exchange: it sends a
 * request to a REP socket bound at inproc://zeromq.zap.01 in the same context, and the handshake
 * waits for the answer. czmq's zauth runs that REP in a thread of its own; here it is one more
 * zwatch (zwatch.h) on the loop, which is safe because the handler never blocks: every request
 * is read whole (even a malformed one), answered with exactly one reply (a REP that skipped one
 * would be stuck), and ZMQ_EVENTS is re-read after each reply, since a zmq_send may consume the
 * edge of the next pending request. The handler must be bound before any CURVE server socket
 * exists (RFC 27: "The handler SHALL start before any server starts"); curve.h makes a missing
 * handler fail closed.
 *
 * Policy: with an allow directory, a client is admitted when its public key is in one of the
 * public certificates there; the directory is re-read at every request, so adding a client's
 * certificate (or removing one) takes effect at its next handshake, with no signal or restart.
 * Connections already admitted stay until they close. Without a directory, every client that
 * completes a CURVE handshake is admitted (czmq's CURVE_ALLOW_ANY): the stream is encrypted and
 * the clients must know the server's public key, but any key pair is accepted.
 *
 * Handshakes that fail before reaching ZAP (a client without CURVE, or one with the wrong
 * server key) are seen through a socket monitor on the server socket, also on the loop. */
#ifndef DOWNCASE_ZAP_H
#define DOWNCASE_ZAP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "closer.h"
#include "diag.h"
#include "zmonitor.h"
#include "zsock.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

/* ZAP's frames kept per request: a CURVE request has 7 (RFC 27); more are read and dropped. */
#define ZAP_FRAMES 8

struct zap {
    uv_loop_t *loop;
    const char *who;
    const char *allow_dir; /* NULL: every client with a valid CURVE handshake is admitted */
    struct zsock rep;      /* the handler */
    zmq_msg_t frames[ZAP_FRAMES];
    bool frames_ready;
    bool serving;            /* opened in full: its counters are worth a summary at close */
    struct zmonitor monitor; /* the server socket's handshake failures */
    struct barrier closing;
    /* Counters, for the stop summary and /metrics. */
    uint64_t allowed; /* ZAP requests admitted */
    uint64_t denied;  /* ZAP requests refused: key not allowed, malformed request */
    uint64_t failed;  /* handshakes that failed before ZAP: no CURVE, wrong server key, ... */
    struct diag_limit allow_limit;
    struct diag_limit deny_limit;
    struct diag_limit fail_limit;
    struct diag_limit dir_limit;
};

/* Checks the allow directory (every certificate in it must load; reported), then binds the
 * handler in zctx and watches it on loop. Call before any CURVE server socket is created. 0 or
 * a negative errno (reported); close it either way. */
int zap_open(struct zap *z, uv_loop_t *loop, void *zctx, const char *allow_dir, const char *who);

/* Watches server_sock's handshake failures (counted in z->failed). Call right after the socket
 * is attached; failures before the call are not counted. 0 or a negative errno (reported). */
int zap_watch(struct zap *z, void *zctx, void *server_sock);

/* Reports the counters (when it served), stops watching and closes the sockets; `closed` runs
 * afterwards (closer.h: zero-safe, idempotent). Call before closing the server socket. */
void zap_close(struct zap *z, struct closer closed);

#endif
