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

int curve_check(const char *who, const char *secret_path, const char *server_path)
{
    struct zcert c;
    int rc = 0;
    if (secret_path) {
        rc = load(who, "--curve-secret", secret_path, ZCERT_SECRET, &c);
        zcert_wipe(&c);
    }
    if (rc == 0 && server_path) {
        rc = load(who, "--curve-server", server_path, ZCERT_PUBLIC, &c);
        zcert_wipe(&c);
    }
    return rc;
}

static int server(struct zsock *z, const char *secret_path)
{
    struct zcert c;
    int rc = load(z->who, "--curve-secret", secret_path, ZCERT_SECRET, &c);
    if (rc == 0) {
        rc = zsock_set_int(z, ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1);
    }
    if (rc == 0) {
        /* 41 bytes: a Z85 string with its NUL (the 40-byte form is deprecated). */
        rc = zsock_set(z, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", c.secret_z85,
                       sizeof c.secret_z85);
    }
    zcert_wipe(&c);
    return rc;
}

static int client(struct zsock *z, const char *secret_path, const char *server_path)
{
    struct zcert own, server;
    int rc = load(z->who, "--curve-secret", secret_path, ZCERT_SECRET, &own);
    if (rc == 0) {
        rc = load(z->who, "--curve-server", server_path, ZCERT_PUBLIC, &server);
    }
    if (rc == 0) {
        rc = zsock_set(z, ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", server.public_z85,
                       sizeof server.public_z85);
    }
    if (rc == 0) {
        rc = zsock_set(z, ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", own.public_z85,
                       sizeof own.public_z85);
    }
    if (rc == 0) {
        rc = zsock_set(z, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", own.secret_z85,
                       sizeof own.secret_z85);
    }
    zcert_wipe(&own);
    zcert_wipe(&server);
    return rc;
}

int curve_secure(struct zsock *z, const struct curve_config *c)
{
    int rc = 0;
    if (c->zap_domain) {
        rc = zsock_set(z, ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", c->zap_domain, strlen(c->zap_domain));
        if (rc == 0) {
            rc = zsock_set_int(z, ZMQ_ZAP_ENFORCE_DOMAIN, "ZMQ_ZAP_ENFORCE_DOMAIN", 1);
        }
    }
    if (rc == 0 && c->secret) {
        rc = c->server ? client(z, c->secret, c->server) : server(z, c->secret);
    }
    return rc;
}
