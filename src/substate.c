/* substate: the subscriber's crash-safe state file (substate.h). */
#include "substate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "diag.h"

/* Slot layout: magic "DCS1", CRC-32C (over the slot with this field zero), generation, log
 * device, inode, size, publisher count, then (id, last sequence) per publisher. */
#define MAGIC "DCS1"
#define HEADER 48
#define ENTRY (WIRE_ID_LEN + 8)
#define SLOT (HEADER + RESYNC_MAX_PUBLISHERS * ENTRY)

static uint32_t slot_crc(unsigned char *s, size_t len)
{
    unsigned char saved[4];
    memcpy(saved, s + 4, 4);
    memset(s + 4, 0, 4);
    uint32_t crc = crc32c(0, s, len);
    memcpy(s + 4, saved, 4);
    return crc;
}

/* Checks slot i as read into s (n bytes of it read); true when whole. */
static bool valid(unsigned char *s, size_t n, uint64_t *gen, uint32_t *count)
{
    if (n < HEADER || memcmp(s, MAGIC, 4) != 0) {
        return false;
    }
    *count = wire_get32(s + 40);
    size_t len = HEADER + (size_t)*count * ENTRY;
    if (*count > RESYNC_MAX_PUBLISHERS || len > n) {
        return false;
    }
    *gen = wire_get64(s + 8);
    return wire_get32(s + 4) == slot_crc(s, len);
}

int substate_open(struct substate *st, const char *path, struct resync *rs, const char *who)
{
    memset(st, 0, sizeof *st);
    st->fd = -1;
    st->path = path;
    if (path == NULL) {
        return 0;
    }
    st->slot = calloc(2, SLOT); /* zeroed: the header's reserved bytes 44-47 are checksummed */
    if (st->slot == NULL) {
        diag(who, "--state %s: out of memory", path);
        return -ENOMEM;
    }
    st->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (st->fd < 0) {
        int err = errno;
        diag(who, "cannot open --state %s: %s", path, strerror(err));
        return -err;
    }
    ssize_t n = pread(st->fd, st->slot, 2 * SLOT, 0);
    if (n <= 0) {
        if (n < 0) {
            diag(who, "--state %s: %s; starting without state", path, strerror(errno));
        }
        return 0; /* new, or empty */
    }
    uint64_t gen[2] = {0, 0};
    uint32_t count[2] = {0, 0};
    bool ok[2];
    for (int i = 0; i < 2; i++) {
        size_t have = (size_t)n > (size_t)i * SLOT ? (size_t)n - (size_t)i * SLOT : 0;
        ok[i] = valid(st->slot + i * SLOT, have < SLOT ? have : SLOT, &gen[i], &count[i]);
    }
    if (!ok[0] && !ok[1]) {
        diag(who,
             "--state %s: no valid record in its %zd bytes (damaged); starting without "
             "state: publishers start at their next message",
             path, n);
        return 0;
    }
    int use = ok[0] && (!ok[1] || gen[0] > gen[1]) ? 0 : 1;
    if (!ok[1 - use] && (size_t)n > SLOT) {
        diag(who,
             "--state %s: one of its two copies is damaged (a write cut short); using the "
             "other",
             path);
    }
    const unsigned char *s = st->slot + use * SLOT;
    st->generation = gen[use];
    st->loaded = true;
    st->log_dev = wire_get64(s + 16);
    st->log_ino = wire_get64(s + 24);
    st->log_size = wire_get64(s + 32);
    for (uint32_t i = 0; i < count[use]; i++) {
        const unsigned char *e = s + HEADER + (size_t)i * ENTRY;
        if (resync_restore(rs, e, wire_get64(e + WIRE_ID_LEN)) < 0) {
            diag(who, "--state %s: out of memory restoring publishers", path);
            return -ENOMEM;
        }
    }
    return 0;
}

int substate_save(struct substate *st, const struct resync *rs, uint64_t log_dev, uint64_t log_ino,
                  uint64_t log_size, const char *who)
{
    if (st->fd < 0) {
        return 0;
    }
    unsigned char *s = st->slot;
    uint32_t count = 0;
    for (size_t i = 0; i < rs->n; i++) {
        unsigned char *e = s + HEADER + (size_t)count * ENTRY;
        memcpy(e, rs->peers[i].id, WIRE_ID_LEN);
        wire_put64(e + WIRE_ID_LEN, rs->peers[i].committed);
        count++;
    }
    st->generation++;
    memcpy(s, MAGIC, 4);
    wire_put64(s + 8, st->generation);
    wire_put64(s + 16, log_dev);
    wire_put64(s + 24, log_ino);
    wire_put64(s + 32, log_size);
    wire_put32(s + 40, count);
    size_t len = HEADER + (size_t)count * ENTRY;
    wire_put32(s + 4, slot_crc(s, len));
    off_t where = (off_t)(st->generation % 2) * SLOT;
    ssize_t n;
    do {
        n = pwrite(st->fd, s, len, where);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len) {
        int err = n < 0 ? errno : EIO;
        st->save_errors++;
        st->generation--; /* the other slot still holds the last good one */
        if (!st->failing) {
            diag(who, "--state %s: %s; the state stays at its last save", st->path, strerror(err));
            st->failing = true;
        }
        return -err;
    }
    if (st->failing) {
        diag(who, "--state %s: saving works again", st->path);
        st->failing = false;
    }
    st->saves++;
    return 0;
}

void substate_close(struct substate *st)
{
    if (st->fd >= 0) {
        close(st->fd);
    }
    st->fd = -1;
    free(st->slot);
    st->slot = NULL;
}
