/* zendpoint: binds and connects a ZeroMQ socket to the endpoints given on the command line. */
#ifndef DOWNCASE_ZENDPOINT_H
#define DOWNCASE_ZENDPOINT_H

#include <stddef.h>
#include <stdint.h>

/* How long a reconnecting socket waits at most between attempts (it starts at 100 ms and
 * doubles): a dead publisher is retried every 2 s, not hammered ten times a second. */
#define ZENDPOINT_RECONNECT_MAX_MS 2000

/* Binds `sock` to each of binds[] and connects it to each of connects[]. Every endpoint that
 * works is announced on stderr with its real address ("zmq bind tcp://0.0.0.0:4444", useful
 * when a port was given as '*'); the first that fails is reported with the call, the endpoint
 * and the reason, and the function returns its negative errno. A tcp:// host to connect to is
 * resolved first, so a misspelt name fails at start-up instead of being retried forever. */
/* Sets what every connection of `sock` made afterwards gets (so before zendpoint_attach): the
 * high-water mark `hwm_option` (ZMQ_SNDHWM or ZMQ_RCVHWM) of `hwm` messages, ZeroMQ heartbeats
 * every heartbeat_ms (0: none) with a peer dropped after three silent intervals (and told to do
 * the same), and the reconnect back-off. 0 or a negative errno (reported). */
/* zmq_setsockopt of an int option, reported as "zmq_setsockopt(NAME, VALUE): reason" under
 * who. 0 or a negative errno. */
int zendpoint_set_int(void *sock, const char *who, int option, const char *name, int value);

int zendpoint_tune(void *sock, const char *who, int hwm_option, int hwm, uint64_t heartbeat_ms);

int zendpoint_attach(void *sock, const char *who, const char *const *binds, size_t nbinds,
                     const char *const *connects, size_t nconnects);

#endif
