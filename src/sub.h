/* sub: the subscriber role: a SUB socket whose messages become lines of a log, until a signal. */
#ifndef DOWNCASE_SUB_H
#define DOWNCASE_SUB_H

#include "cli.h"

/* Runs the role; returns the process exit status (0 after a graceful stop with everything
 * written, 1 when start-up failed or the log could not be written, reported on stderr). */
int sub_run(const struct cli_options *o);

#endif
