/* curve: CurveZMQ from the command line: --keygen, start-up checks of the key files, and the
 * CURVE options of the pub's sockets (servers) and of the sub's (clients).
 *
 * Roles: the pub is the CURVE server whatever it does with its endpoints (bind or connect), the
 * sub the client (ZeroMQ's CURVE roles are independent of bind/connect, doc/zmq_curve.adoc).
 * Every server socket also gets ZMQ_ZAP_DOMAIN and ZMQ_ZAP_ENFORCE_DOMAIN: without the latter,
 * libzmq admits every client when no ZAP handler is bound (src/curve_server.cpp, "Stonehouse"),
 * so a handler that failed to start would silently leave the stream open to anyone. With it, a
 * missing handler fails closed. The handler itself is zap.h. */
#ifndef DOWNCASE_CURVE_H
#define DOWNCASE_CURVE_H

#include "zsock.h"

/* Hidden behind ZMQ_BUILD_DRAFT_API in libzmq 4.3's zmq.h, yet handled by the library as a
 * stable option since 4.3.0 (src/options.cpp); setting it is checked, so a libzmq without it
 * makes the pub refuse to start rather than run open. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif
/* The ZAP domain of every server socket; any non-empty value makes libzmq consult ZAP. */
#define CURVE_ZAP_DOMAIN "downcase"

/* --keygen=NAME: writes NAME and NAME_secret (see zcert.h), reports on stderr. Returns the
 * process exit status (0, or 1 with the reason reported). */
int curve_keygen(const char *name);

/* Reads the key files given (--curve-secret, --curve-server; NULL: not given) and reports the
 * first that is missing, unreadable or malformed, naming the flag, the file and the reason. Run
 * before a role starts, so nothing is served or created with a broken key. 0 or -errno. */
int curve_check(const char *who, const char *secret_path, const char *server_path);

/* Makes z a CURVE server with the key pair in secret_path, consulting ZAP (enforced). Call
 * before bind/connect. 0 or a negative errno (reported). */
int curve_server(struct zsock *z, const char *secret_path);

/* Makes z a CURVE client with its own key pair in secret_path and the server's public key in
 * server_path. Call before bind/connect. 0 or a negative errno (reported). */
int curve_client(struct zsock *z, const char *secret_path, const char *server_path);

#endif
