/* curve: CurveZMQ from the command line: --keygen, start-up checks of the key files, and how
 * each socket authenticates its peers: its ZAP domain, and its CURVE options as a server or a
 * client.
 *
 * Roles: ZeroMQ's CURVE roles are independent of bind/connect (doc/zmq_curve.adoc). A side
 * given --curve-secret alone is a CURVE server (the pub as it always was; a sub or a relay's
 * upstream that publishers connect into, reverse fan-in; a relay's downstream); a side given
 * --curve-server too is a client of that server (the sub as it always was; a pub connecting
 * into a binding sub; a relay's upstream connecting to publishers). A server admits clients
 * through the ZAP handler (zap.h), by its allow directory.
 *
 * Every socket that has a ZAP domain also gets ZMQ_ZAP_ENFORCE_DOMAIN: without it libzmq
 * admits every peer when no ZAP handler is bound (src/curve_server.cpp, "Stonehouse"; the same
 * for NULL in src/null_mechanism.cpp), so a handler that failed to start would silently leave
 * the socket open to anyone. With it, a missing handler fails closed. A plain socket gets the
 * domain too: that is what makes libzmq refuse ZMTP 1.0 peers (zap.h) and lets --allow-from
 * see its peers. */
#ifndef DOWNCASE_CURVE_H
#define DOWNCASE_CURVE_H

#include "zsock.h"

/* Hidden behind ZMQ_BUILD_DRAFT_API in libzmq 4.3's zmq.h, yet handled by the library as a
 * stable option since 4.3.0 (src/options.cpp); setting it is checked, so a libzmq without it
 * makes the pub refuse to start rather than run open. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

/* How one socket authenticates its peers. Strings are borrowed. */
struct curve_config {
    const char *zap_domain; /* the socket's policy at the ZAP handler (zap.h); NULL: no ZAP */
    const char *secret;     /* this side's NAME_secret file; NULL: plain (the NULL mechanism) */
    const char *server;     /* with secret: a CURVE client of this public certificate; NULL: a
                             * CURVE server */
};

/* --keygen=NAME: writes NAME and NAME_secret (see zcert.h), reports on stderr. Returns the
 * process exit status (0, or 1 with the reason reported). */
int curve_keygen(const char *name);

/* Reads the key files given (--curve-secret, --curve-server; NULL: not given) and reports the
 * first that is missing, unreadable or malformed, naming the flag, the file and the reason. Run
 * before a role starts, so nothing is served or created with a broken key. 0 or -errno. */
int curve_check(const char *who, const char *secret_path, const char *server_path);

/* Gives z its ZAP domain (enforced) and, with c->secret, its CURVE role and keys. Call
 * before bind/connect: options apply to connections made afterwards. 0 or a negative errno
 * (reported). */
int curve_secure(struct zsock *z, const struct curve_config *c);

#endif
