/* logsink: what the sub does with each message: one line in its log, written once per batch,
 * retried while the log cannot be written.
 *
 * Lines are formatted (logline.h) into the log's pending buffer and written with one write(2)
 * per batch (logfile.h). While writes fail (a full disk), a timer keeps trying every
 * LOGSINK_RETRY_MS even when no message comes, and the pending bytes are bounded by
 * --log-backlog (past it the oldest whole lines are dropped and counted). */
#ifndef DOWNCASE_LOGSINK_H
#define DOWNCASE_LOGSINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "closer.h"
#include "logfile.h"
#include "logline.h"
#include "wire.h"

/* While the log cannot be written, how often to try again even if no message arrives. */
#define LOGSINK_RETRY_MS 1000

/* What the command line decides about the log. */
struct logsink_config {
    const char *path; /* "-": standard output */
    enum logline_format format;
    size_t backlog; /* unwritten bytes held while writes fail */
};

struct logsink {
    struct logfile file;
    struct logline line;
    uv_timer_t retry;
    int open_handles;
    struct closer closed;
    const char *format_name;
    bool opened; /* the file is open: logsink_finish closes it */
};

/* Opens the log (reported, naming the path, when it cannot be) and announces it. 0 or a
 * negative errno; close it either way. */
int logsink_open(struct logsink *ls, uv_loop_t *loop, const struct logsink_config *cfg);
/* Formats one message, or a gap line, into the pending batch. */
void logsink_message(struct logsink *ls, const struct wire_msg *m, const struct timespec *now);
void logsink_gap(struct logsink *ls, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                 const struct timespec *now);
/* Writes the batch; on failure the retry timer keeps trying. */
void logsink_flush(struct logsink *ls);
/* SIGHUP: writes what the old file is owed, then opens the path again. */
void logsink_reopen(struct logsink *ls);
/* Stops retrying; `closed` runs once the timer is closed (closer.h). The file stays open for
 * logsink_finish. */
void logsink_close(struct logsink *ls, struct closer closed);
/* Writes what is left, fsyncs and closes the file. 0 or a negative errno (reported). */
int logsink_finish(struct logsink *ls);

#endif
