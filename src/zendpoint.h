/* zendpoint: attaches a ZeroMQ socket to the endpoints given on the command line. */
#ifndef DOWNCASE_ZENDPOINT_H
#define DOWNCASE_ZENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "zsock.h"

/* The most endpoints of one kind a socket takes from the command line. */
#define ZENDPOINT_MAX 64

/* Endpoints to bind and to connect to; the strings are borrowed (from argv). */
struct zendpoints {
    const char *binds[ZENDPOINT_MAX];
    size_t nbinds;
    const char *connects[ZENDPOINT_MAX];
    size_t nconnects;
};

/* Sorts endpoints written with czmq's prefixes ("@ENDPOINT" binds, ">ENDPOINT" connects) into
 * out; a bare endpoint binds when bind_default (the relay's downstream) and connects otherwise
 * (its upstream). */
void zendpoint_split(const char *const *given, size_t n, bool bind_default, struct zendpoints *out);

/* Binds z to each of e->binds and connects it to each of e->connects. Every endpoint that works
 * is announced on stderr with its real address ("zmq bind tcp://0.0.0.0:4444", useful when a
 * port was given as '*'); the first that fails is reported with the call, the endpoint and the
 * reason, and the function returns its negative errno. A tcp:// host to connect to is resolved
 * first, so a misspelt name fails at start-up instead of being retried forever. */
int zendpoint_attach(struct zsock *z, const struct zendpoints *e);

#endif
