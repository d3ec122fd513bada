/* substate: what a subscriber must remember to resume exactly once (--state=PATH).
 *
 * The state is the last sequence number logged (resync's `committed`; with --forward, the last
 * acknowledged by JetStream) per framed publisher, and the log's identity
 * (device, inode) and size when that was true. It is saved after every batch the log took
 * whole, so the log never holds less than the state says. After a crash the log may hold more:
 * lines written after the last save. At start-up those bytes are cut off the log (only when the
 * log is the same file, and longer) and the messages are fetched again from the publishers'
 * retention (resync.h), so they end up in the log once. With --log=- nothing can be cut: a
 * crash between a write and its save can repeat that batch (at least once).
 *
 * Crash safety: the file holds two slots, written alternately with one pwrite(2) each; a slot
 * carries a generation and a CRC-32C over its bytes. A process killed mid-write (a write of
 * more than a page can be cut by SIGKILL) leaves the other slot whole; loading takes the valid
 * slot with the higher generation, and a file with neither is reported and treated as empty:
 * start-up never fails because of it. */
#ifndef DOWNCASE_SUBSTATE_H
#define DOWNCASE_SUBSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resync.h"
#include "wire.h"

struct substate {
    const char *path; /* NULL: no state kept */
    int fd;
    uint64_t generation;
    /* What was loaded. */
    bool loaded;
    uint64_t log_dev;
    uint64_t log_ino;
    uint64_t log_size;
    /* Scratch for one slot. */
    unsigned char *slot;
    uint64_t saves;
    uint64_t save_errors;
    bool failing;
};

/* Opens (creating) the state file and loads it into rs (resync_restore per publisher). 0 or a
 * negative errno (reported) when the file cannot be opened; damage is reported, not fatal. */
int substate_open(struct substate *st, const char *path, struct resync *rs, const char *who);
/* Saves rs's publishers and the log's identity and size. 0 or a negative errno (reported once
 * per failure streak). */
int substate_save(struct substate *st, const struct resync *rs, uint64_t log_dev, uint64_t log_ino,
                  uint64_t log_size, const char *who);
void substate_close(struct substate *st);

#endif
