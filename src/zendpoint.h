/* zendpoint: binds and connects a ZeroMQ socket to the endpoints given on the command line. */
#ifndef DOWNCASE_ZENDPOINT_H
#define DOWNCASE_ZENDPOINT_H

#include <stddef.h>

/* Binds `sock` to each of binds[] and connects it to each of connects[]. Every endpoint that
 * works is announced on stderr with its real address ("zmq bind tcp://0.0.0.0:4444", useful
 * when a port was given as '*'); the first that fails is reported with the call, the endpoint
 * and the reason, and the function returns its negative errno. A tcp:// host to connect to is
 * resolved first, so a misspelt name fails at start-up instead of being retried forever. */
int zendpoint_attach(void *sock, const char *who, const char *const *binds, size_t nbinds,
                     const char *const *connects, size_t nconnects);

#endif
