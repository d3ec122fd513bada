/* relay: the relay role: one level of an aggregation tree, a ZeroMQ XSUB/XPUB proxy.
 *
 * Publishers (or lower relays) on the upstream side, subscribers (or higher relays) on the
 * downstream side. Messages go down, whole and unchanged (every frame, so a framed publisher's
 * id and sequence number reach the final subscriber, whose gap accounting works end to end);
 * subscriptions go up, so an upstream publisher only sends what someone downstream wants.
 * This is zmq_proxy(XSUB, XPUB) done inside downcase's libuv loop instead of a blocking call,
 * so the relay also stops on a signal, serves --metrics and reports its peers. */
#ifndef DOWNCASE_RELAY_H
#define DOWNCASE_RELAY_H

#include "cli.h"

/* Runs the role; returns the process exit status (0 after a graceful stop, 1 when start-up
 * failed, reported on stderr). */
int relay_run(const struct cli_options *o);

#endif
