/* logfile: the subscriber's append-only log: batched writes, reopen on SIGHUP, fsync at exit.
 *
 * Lines are appended to `pending` by the caller and written with one write(2) per batch by
 * logfile_flush(), which the subscriber calls after each drained batch, before the loop sleeps.
 * Writing to a regular file from the loop thread is what nginx does for its logs too: the page
 * cache makes it a memory copy. The file is opened O_APPEND, so several writers (and logrotate's
 * copytruncate) never overwrite each other. */
#ifndef DOWNCASE_LOGFILE_H
#define DOWNCASE_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Past this much unwritten data (the disk is full, say) the oldest pending lines are dropped
 * and counted rather than growing without bound (the default of --log-backlog). */
#define LOGFILE_MAX_PENDING (64u * 1024 * 1024)

struct logfile {
    int fd;
    bool is_stdout;
    bool failing;     /* the last write failed; reported once until one succeeds */
    bool mid_line;    /* the file ends inside a line whose rest is pending */
    const char *path; /* borrowed from the options; "-" is standard output */
    struct buf pending;
    size_t max_pending; /* LOGFILE_MAX_PENDING unless the owner sets another */
    uint64_t lines_written;
    uint64_t lines_dropped;
    uint64_t bytes_dropped;
    uint64_t write_errors; /* failed write(2) calls */
    /* The file written: its identity and its size as far as this process wrote it (the state
     * of a subscriber records them, substate.h). Zero for standard output. */
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
};

/* Opens path for appending (creating it 0644), or uses standard output for "-".
 * 0 or a negative errno; reports nothing (the caller names the path). */
int logfile_open(struct logfile *lf, const char *path);
/* Writes everything pending. 0, or a negative errno after reporting it (once per failure
 * streak) on stderr; the data stays pending for the next flush. */
int logfile_flush(struct logfile *lf, const char *who);
/* Flushes, then opens the path again and swaps the descriptor (after logrotate moved the
 * file). If the new open fails the old file is kept. 0 or a negative errno (reported). */
int logfile_reopen(struct logfile *lf, const char *who);
/* Cuts the file back to `size` bytes (lines written after a subscriber last saved its state,
 * substate.h). 0 or a negative errno; reports nothing. */
int logfile_truncate(struct logfile *lf, uint64_t size);
/* Flushes, fsyncs (regular files) and closes. 0 or a negative errno (reported). NULL-safe. */
int logfile_close(struct logfile *lf, const char *who);

#endif
