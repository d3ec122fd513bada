/* pub: the publisher role: the HTTP server and the PUB socket, in one loop, until a signal. */
#ifndef DOWNCASE_PUB_H
#define DOWNCASE_PUB_H

#include "cli.h"

/* Runs the role; returns the process exit status (0 after a graceful stop, 1 when start-up
 * failed, reported on stderr). */
int pub_run(const struct cli_options *o);

#endif
