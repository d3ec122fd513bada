/* curve: CurveZMQ keys onto sockets. */
#include "curve.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "diag.h"
#include "zcert.h"

int curve_keygen(const char *name)
{
    char why[512];
    if (zcert_generate(name, why, sizeof why) < 0) {
        diag(NULL, "--keygen: %s", why);
        return 1;
    }
    diag(NULL, "wrote %s (public certificate, to share) and %s_secret (secret, mode 0600)", name,
         name);
    return 0;
}

/* Loads one key file, reporting a failure as "FLAG FILE: reason". */
static int load(const char *who, const char *flag, const char *path, enum zcert_kind kind,
                struct zcert *c)
{
    char why[512];
    int rc = zcert_load(path, kind, c, why, sizeof why);
    if (rc < 0) {
        diag(who, "%s %s: %s", flag, path, why);
    }
    return rc;
}

int curve_check(const struct cli_options *o)
{
    const char *who = o->role == CLI_ROLE_PUB ? "pub" : "sub";
    struct zcert c;
    int rc = 0;
    if (o->curve_secret) {
        rc = load(who, "--curve-secret", o->curve_secret, ZCERT_SECRET, &c);
        zcert_wipe(&c);
    }
    if (rc == 0 && o->curve_server) {
        rc = load(who, "--curve-server", o->curve_server, ZCERT_PUBLIC, &c);
        zcert_wipe(&c);
    }
    return rc;
}

static int set(void *sock, const char *who, int option, const void *v, size_t len, const char *name)
{
    if (zmq_setsockopt(sock, option, v, len) != 0) {
        int err = zmq_errno();
        diag(who, "zmq_setsockopt(%s): %s", name, zmq_strerror(err));
        return -err;
    }
    return 0;
}

int curve_server(void *sock, const char *who, const char *secret_path)
{
    struct zcert c;
    int rc = load(who, "--curve-secret", secret_path, ZCERT_SECRET, &c);
    int one = 1;
    if (rc == 0) {
        rc = set(sock, who, ZMQ_CURVE_SERVER, &one, sizeof one, "ZMQ_CURVE_SERVER");
    }
    if (rc == 0) {
        /* 41 bytes: a Z85 string with its NUL (the 40-byte form is deprecated). */
        rc = set(sock, who, ZMQ_CURVE_SECRETKEY, c.secret_z85, sizeof c.secret_z85,
                 "ZMQ_CURVE_SECRETKEY");
    }
    if (rc == 0) {
        rc = set(sock, who, ZMQ_ZAP_DOMAIN, CURVE_ZAP_DOMAIN, strlen(CURVE_ZAP_DOMAIN),
                 "ZMQ_ZAP_DOMAIN");
    }
    if (rc == 0) {
        rc = set(sock, who, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one, "ZMQ_ZAP_ENFORCE_DOMAIN");
    }
    zcert_wipe(&c);
    return rc;
}

int curve_client(void *sock, const char *who, const char *secret_path, const char *server_path)
{
    struct zcert own, server;
    int rc = load(who, "--curve-secret", secret_path, ZCERT_SECRET, &own);
    if (rc == 0) {
        rc = load(who, "--curve-server", server_path, ZCERT_PUBLIC, &server);
    }
    if (rc == 0) {
        rc = set(sock, who, ZMQ_CURVE_SERVERKEY, server.public_z85, sizeof server.public_z85,
                 "ZMQ_CURVE_SERVERKEY");
    }
    if (rc == 0) {
        rc = set(sock, who, ZMQ_CURVE_PUBLICKEY, own.public_z85, sizeof own.public_z85,
                 "ZMQ_CURVE_PUBLICKEY");
    }
    if (rc == 0) {
        rc = set(sock, who, ZMQ_CURVE_SECRETKEY, own.secret_z85, sizeof own.secret_z85,
                 "ZMQ_CURVE_SECRETKEY");
    }
    zcert_wipe(&own);
    zcert_wipe(&server);
    return rc;
}
