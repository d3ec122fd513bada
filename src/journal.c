/* journal: segments on disk, appended through mmap, recovered at start-up (journal.h). */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"

#define SEG_MAGIC "DCJSEG01"
#define SEG_HEADER 64
#define REC_MAGIC 0x44434A52u /* "DCJR" */
#define REC_HEADER 20         /* magic, payload length, CRC, sequence */
#define WHO j->who
#define ZERO_RUN (64 * 1024) /* zero bytes that end what was ever written (recovery) */

/* ---- records ------------------------------------------------------------------------------ */

static uint32_t record_crc(uint64_t seq, const uint8_t *payload, size_t len)
{
    uint8_t s[8];
    wire_put64(s, seq);
    return crc32c(crc32c(0, s, sizeof s), payload, len);
}

/* Checks the record at off: its total length, or 0 when it is not a whole, valid record. */
static size_t record_at(const struct journal_segment *s, size_t off, uint64_t *seq)
{
    if (off + REC_HEADER > s->size) {
        return 0;
    }
    const uint8_t *p = (const uint8_t *)s->map + off;
    uint32_t len = wire_get32(p + 4);
    if (wire_get32(p) != REC_MAGIC || len < 2 || len > s->size - off - REC_HEADER) {
        return 0;
    }
    *seq = wire_get64(p + 12);
    if (record_crc(*seq, p + REC_HEADER, len) != wire_get32(p + 8)) {
        return 0;
    }
    size_t topic_len = (size_t)p[REC_HEADER] << 8 | p[REC_HEADER + 1];
    if (topic_len > len - 2) {
        return 0;
    }
    return REC_HEADER + len;
}

static bool all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* Remembers where record seq starts, every JOURNAL_INDEX_EVERY records and after a hole. The
 * index holds (sequence, offset) pairs, two uint32 words for the offset and the distance from
 * the segment's first sequence. */
static int index_record(struct journal_segment *s, uint64_t seq, size_t off, bool force)
{
    if (!force && (seq - s->first) % JOURNAL_INDEX_EVERY != 0) {
        return 0;
    }
    if (s->nindex + 2 > s->index_cap) {
        size_t cap = s->index_cap ? s->index_cap * 2 : 64;
        uint32_t *grown = realloc(s->index, cap * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        s->index = grown;
        s->index_cap = cap;
    }
    s->index[s->nindex++] = (uint32_t)(seq - s->first);
    s->index[s->nindex++] = (uint32_t)off;
    return 0;
}

/* The offset of record seq in s, or 0 when s does not hold it. */
static size_t find_record(const struct journal_segment *s, uint64_t seq)
{
    if (s->last < s->first || seq < s->first || seq > s->last || s->nindex == 0) {
        return 0;
    }
    /* The last index entry at or before seq. */
    size_t lo = 0, hi = s->nindex / 2;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->first + s->index[2 * mid] <= seq) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    size_t off = s->index[2 * lo + 1];
    while (off < s->used) {
        uint64_t at;
        size_t n = record_at(s, off, &at);
        if (n == 0 || at > seq) {
            return 0;
        }
        if (at == seq) {
            return off;
        }
        off += n;
    }
    return 0;
}

/* ---- segments ------------------------------------------------------------------------------ */

static void segment_close(struct journal_segment *s)
{
    if (s->map && s->map != MAP_FAILED) {
        munmap(s->map, s->size);
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    free(s->index);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

static size_t segment_size(const struct journal *j, size_t record)
{
    uint64_t size = j->cfg.max_bytes / 4;
    size = size < JOURNAL_SEGMENT_MAX ? size : JOURNAL_SEGMENT_MAX;
    size = size > 64 * 1024 ? size : 64 * 1024;
    if (size < SEG_HEADER + record) {
        size = SEG_HEADER + record;
    }
    return (size_t)size;
}

static void segment_name(const struct journal *j, uint64_t first, char *out, size_t size)
{
    snprintf(out, size, "%s/%020" PRIu64 ".seg", j->cfg.dir, first);
}

/* Scans a segment's records (recovery), reporting damage; sets used and last. */
static void recover_segment(struct journal *j, struct journal_segment *s, bool newest)
{
    size_t off = SEG_HEADER;
    uint64_t expect = s->first;
    bool hole = true; /* the first record is always indexed */
    s->last = s->first - 1;
    while (off < s->size) {
        uint64_t seq;
        size_t n = record_at(s, off, &seq);
        if (n > 0 && seq >= expect) {
            if (index_record(s, seq, off, hole || seq != expect) < 0) {
                break;
            }
            hole = false;
            s->last = seq;
            expect = seq + 1;
            off += n;
            s->used = off;
            continue;
        }
        if (all_zero(s->map + off, s->size - off < REC_HEADER ? s->size - off : REC_HEADER)) {
            break; /* the end of what was written */
        }
        /* Not a record here: a torn end, or damage. Look for the next good record. */
        size_t next = off + 1;
        uint64_t next_seq = 0;
        size_t zeros = 0;
        for (; next + REC_HEADER <= s->size; next++) {
            /* A long run of zeros is the preallocated space after the last write: nothing
             * follows it (a message with that many zero bytes in a row would need a request
             * target of more than 64 KiB of %00). */
            zeros = s->map[next] == 0 ? zeros + 1 : 0;
            if (zeros >= ZERO_RUN) {
                next = s->size;
                break;
            }
            size_t m = record_at(s, next, &next_seq);
            if (m > 0 && next_seq >= expect) {
                break;
            }
        }
        j->damage++;
        if (next + REC_HEADER > s->size) {
            diag(WHO,
                 "journal %s: offset %zu: %s after sequence %" PRIu64
                 " (dropped; it was never acknowledged)",
                 s->path, off, newest ? "a torn last record" : "a damaged end", expect - 1);
            break;
        }
        diag(WHO,
             "journal %s: offset %zu: %zu damaged bytes (checksum); sequences %" PRIu64 "-%" PRIu64
             " are unreadable and will be reported as a gap",
             s->path, off, next - off, expect, next_seq - 1);
        off = next;
        hole = true;
        expect = next_seq;
    }
    if (s->used == 0) {
        s->used = SEG_HEADER;
    }
    /* The newest segment takes appends again, after its last good record: what follows that
     * (a torn record) is zeroed first, so that it can never read as a record later. Older
     * segments are full or were left by a segment removal: never appended to. */
    s->sealed = !newest;
    if (newest) {
        size_t end = s->used;
        size_t zeros = 0;
        while (end < s->size && zeros < REC_HEADER) {
            zeros = s->map[end] == 0 ? zeros + 1 : 0;
            end++;
        }
        memset(s->map + s->used, 0, end - s->used);
    }
}

/* Maps an existing segment file; false (reported) when it is not one of ours. */
static bool open_segment(struct journal *j, struct journal_segment *s, const char *name,
                         uint64_t first)
{
    snprintf(s->path, sizeof s->path, "%s/%s", j->cfg.dir, name);
    s->first = first;
    s->fd = openat(j->dirfd, name, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (s->fd < 0 || fstat(s->fd, &st) < 0) {
        diag(WHO, "journal %s: %s; skipped", s->path, strerror(errno));
        return false;
    }
    s->size = (size_t)st.st_size;
    if (s->size < SEG_HEADER) {
        diag(WHO, "journal %s: %zu bytes, shorter than a header; skipped", s->path, s->size);
        j->damage++;
        return false;
    }
    s->map = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        diag(WHO, "journal %s: mmap: %s; skipped", s->path, strerror(errno));
        return false;
    }
    if (memcmp(s->map, SEG_MAGIC, 8) != 0 || memcmp(s->map + 8, j->id, WIRE_ID_LEN) != 0 ||
        wire_get64((const uint8_t *)s->map + 16) != first) {
        diag(WHO, "journal %s: offset 0: not a segment of this journal (header); skipped", s->path);
        j->damage++;
        return false;
    }
    return true;
}

/* Creates the segment appends go to from `first` on. 0 or a negative errno. */
static int new_segment(struct journal *j, uint64_t first, size_t record)
{
    struct journal_segment *grown = realloc(j->segs, (j->nsegs + 1) * sizeof *grown);
    if (grown == NULL) {
        return -ENOMEM;
    }
    j->segs = grown;
    struct journal_segment *s = &j->segs[j->nsegs];
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->first = first;
    s->last = first - 1;
    s->size = segment_size(j, record);
    segment_name(j, first, s->path, sizeof s->path);
    int rc = 0;
    s->fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (s->fd < 0) {
        rc = -errno;
    } else if ((rc = posix_fallocate(s->fd, 0, (off_t)s->size)) != 0) {
        rc = -rc; /* ENOSPC: found now, not as a SIGBUS later */
    } else {
        s->map = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
        if (s->map == MAP_FAILED) {
            s->map = NULL;
            rc = -errno;
        }
    }
    if (rc < 0) {
        if (s->fd >= 0) {
            unlink(s->path);
        }
        segment_close(s);
        return rc;
    }
    memcpy(s->map, SEG_MAGIC, 8);
    memcpy(s->map + 8, j->id, WIRE_ID_LEN);
    wire_put64((uint8_t *)s->map + 16, first);
    s->used = SEG_HEADER;
    fsync(j->dirfd); /* the new name, so a machine crash does not lose the whole file */
    j->nsegs++;
    j->total_bytes += s->size;
    /* Past --journal-size, the oldest whole segments go (never the one just made). */
    while (j->total_bytes > j->cfg.max_bytes && j->nsegs > 1) {
        struct journal_segment *old = &j->segs[0];
        unlinkat(j->dirfd, strrchr(old->path, '/') + 1, 0);
        j->total_bytes -= old->size;
        segment_close(old);
        memmove(&j->segs[0], &j->segs[1], (j->nsegs - 1) * sizeof *j->segs);
        j->nsegs--;
        j->segments_removed++;
    }
    return 0;
}

/* ---- the id and the checkpoint --------------------------------------------------------- */

static int write_file(struct journal *j, const char *name, const void *data, size_t len)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        return -errno;
    }
    int rc = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    if (rc == 0 && renameat(j->dirfd, tmp, j->dirfd, name) < 0) {
        rc = -errno;
    }
    if (rc == 0) {
        fsync(j->dirfd);
    }
    return rc;
}

static int load_id(struct journal *j)
{
    char hex[2 * WIRE_ID_LEN + 2];
    if (j->cfg.id) {
        /* A relay's journal of an upstream publisher: the id is given, and written once. */
        memcpy(j->id, j->cfg.id, WIRE_ID_LEN);
        if (faccessat(j->dirfd, "id", F_OK, 0) == 0) {
            return 0;
        }
        wire_id_hex(j->id, hex);
        hex[2 * WIRE_ID_LEN] = '\n';
        return write_file(j, "id", hex, 2 * WIRE_ID_LEN + 1);
    }
    int fd = openat(j->dirfd, "id", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, hex, sizeof hex) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (n >= 2 * WIRE_ID_LEN && wire_id_parse(hex, j->id)) {
        return 0;
    }
    if (fd >= 0) {
        diag(WHO, "journal %s/id: not a publisher id; starting a new one", j->cfg.dir);
        j->damage++;
    }
    if (getrandom(j->id, sizeof j->id, 0) != (ssize_t)sizeof j->id) {
        return -errno;
    }
    wire_id_hex(j->id, hex);
    hex[2 * WIRE_ID_LEN] = '\n';
    int rc = write_file(j, "id", hex, 2 * WIRE_ID_LEN + 1);
    if (rc < 0) {
        diag(WHO, "journal %s/id: %s", j->cfg.dir, strerror(-rc));
    }
    return rc;
}

static void load_checkpoint(struct journal *j)
{
    uint8_t b[12];
    int fd = openat(j->dirfd, "checkpoint", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    if (read(fd, b, sizeof b) == (ssize_t)sizeof b && crc32c(0, b, 8) == wire_get32(b + 8)) {
        j->checkpoint = wire_get64(b);
    }
    close(fd);
}

static void save_checkpoint(struct journal *j)
{
    uint8_t b[12];
    wire_put64(b, j->synced);
    wire_put32(b + 8, crc32c(0, b, 8));
    int fd = openat(j->dirfd, "checkpoint", O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd >= 0) {
        if (pwrite(fd, b, sizeof b, 0) == (ssize_t)sizeof b) {
            j->checkpoint = j->synced;
        }
        close(fd);
    }
}

/* ---- opening ------------------------------------------------------------------------------ */

static int compare_first(const void *a, const void *b)
{
    uint64_t x = ((const struct journal_segment *)a)->first;
    uint64_t y = ((const struct journal_segment *)b)->first;
    return x < y ? -1 : x > y;
}

static int recover(struct journal *j)
{
    DIR *d = fdopendir(dup(j->dirfd));
    if (d == NULL) {
        int err = errno;
        diag(WHO, "journal %s: %s", j->cfg.dir, strerror(err));
        return -err;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        uint64_t first = strtoull(e->d_name, &end, 10);
        if (strlen(e->d_name) != 24 || strcmp(end, ".seg") != 0 || first == 0) {
            continue;
        }
        struct journal_segment *grown = realloc(j->segs, (j->nsegs + 1) * sizeof *grown);
        if (grown == NULL) {
            closedir(d);
            return -ENOMEM;
        }
        j->segs = grown;
        struct journal_segment *s = &j->segs[j->nsegs];
        memset(s, 0, sizeof *s);
        s->fd = -1;
        if (!open_segment(j, s, e->d_name, first)) {
            segment_close(s);
            continue;
        }
        j->nsegs++;
        j->total_bytes += s->size;
    }
    closedir(d);
    if (j->nsegs > 1) {
        qsort(j->segs, j->nsegs, sizeof *j->segs, compare_first);
    }
    uint64_t newest = 0;
    for (size_t i = 0; i < j->nsegs; i++) {
        struct journal_segment *s = &j->segs[i];
        recover_segment(j, s, i + 1 == j->nsegs);
        if (i > 0 && newest + 1 < s->first && newest > 0) {
            j->damage++;
            diag(WHO,
                 "journal %s: sequences %" PRIu64 "-%" PRIu64
                 " are missing (a segment was removed?); they will be reported as a gap",
                 j->cfg.dir, newest + 1, s->first - 1);
        }
        if (s->last >= s->first) {
            newest = s->last;
        }
    }
    j->head = newest;
    if (j->checkpoint > newest) {
        j->damage++;
        diag(WHO,
             "journal %s: sequences %" PRIu64 "-%" PRIu64
             " were synced to disk but are gone (a zero-filled tail?); they will be reported "
             "as a gap",
             j->cfg.dir, newest + 1, j->checkpoint);
        j->head = j->checkpoint; /* never reuse a sequence number a subscriber may have */
    }
    j->synced = j->head;
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    journal_commit(t->data);
}

int journal_open(struct journal *j, uv_loop_t *loop, const struct journal_config *cfg,
                 const char *who)
{
    memset(j, 0, sizeof *j);
    j->who = who;
    j->cfg = *cfg;
    j->loop = loop;
    j->dirfd = -1;
    if (mkdir(cfg->dir, 0750) < 0 && errno != EEXIST) {
        int err = errno;
        diag(WHO, "--journal %s: %s", cfg->dir, strerror(err));
        return -err;
    }
    j->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dirfd < 0) {
        int err = errno;
        diag(WHO, "--journal %s: %s", cfg->dir, strerror(err));
        return -err;
    }
    int rc = load_id(j);
    if (rc < 0) {
        return rc;
    }
    load_checkpoint(j);
    rc = recover(j);
    if (rc < 0) {
        return rc;
    }
    uv_timer_init(loop, &j->timer);
    j->timer.data = j;
    j->timer_open = true;
    if (cfg->sync_ms > 0) {
        uv_timer_start(&j->timer, on_timer, cfg->sync_ms, cfg->sync_ms);
    }
    char hex[2 * WIRE_ID_LEN + 1];
    wire_id_hex(j->id, hex);
    diag(WHO,
         "journal %s: publisher %s, %zu segment(s), sequences %" PRIu64 "-%" PRIu64 ", %" PRIu64
         " damaged place(s)",
         cfg->dir, hex, j->nsegs, j->nsegs ? j->segs[0].first : 0, j->head, j->damage);
    return 0;
}

/* ---- appending and syncing ------------------------------------------------------------- */

int journal_append(struct journal *j, uint64_t seq, const char *topic, size_t topic_len,
                   const char *text, size_t text_len)
{
    size_t payload = 2 + topic_len + text_len;
    size_t rec = REC_HEADER + payload;
    struct journal_segment *s = j->nsegs ? &j->segs[j->nsegs - 1] : NULL;
    if (s == NULL || s->sealed || s->used + rec > s->size) {
        if (s) {
            s->sealed = true;
        }
        if (j->failing && uv_now(j->loop) < j->retry_at_ms) {
            j->append_errors++;
            return j->last_error;
        }
        int rc = new_segment(j, seq, rec);
        if (rc < 0) {
            j->failing = true;
            j->last_error = rc;
            j->retry_at_ms = uv_now(j->loop) + JOURNAL_RETRY_MS;
            j->append_errors++;
            diag_limited(&j->error_limit, uv_now(j->loop), 10000, WHO,
                         "journal %s: cannot create a segment: %s; answering 503 until it can",
                         j->cfg.dir, strerror(-rc));
            return rc;
        }
        if (j->failing) {
            diag(WHO, "journal %s: writing works again", j->cfg.dir);
            j->failing = false;
        }
        s = &j->segs[j->nsegs - 1];
    }
    uint8_t *p = (uint8_t *)s->map + s->used;
    uint8_t *body = p + REC_HEADER;
    body[0] = (uint8_t)(topic_len >> 8);
    body[1] = (uint8_t)topic_len;
    memcpy(body + 2, topic, topic_len);
    memcpy(body + 2 + topic_len, text, text_len);
    wire_put64(p + 12, seq);
    wire_put32(p + 8, record_crc(seq, body, payload));
    wire_put32(p + 4, (uint32_t)payload);
    wire_put32(p, REC_MAGIC); /* last: a record cut short has no magic */
    if (index_record(s, seq, s->used, s->last < s->first || seq != s->last + 1) < 0) {
        return -ENOMEM;
    }
    s->used += rec;
    s->last = seq;
    j->head = seq;
    j->dirty = true;
    j->appended++;
    return 0;
}

void journal_commit(struct journal *j)
{
    if (!j->dirty) {
        return;
    }
    /* Every segment appended to since the last sync: the newest, and the one before it when a
     * segment filled up in between. */
    for (size_t i = j->nsegs >= 2 ? j->nsegs - 2 : 0; i < j->nsegs; i++) {
        if (j->segs[i].fd >= 0 && j->segs[i].last >= j->synced &&
            j->segs[i].last >= j->segs[i].first) {
            fdatasync(j->segs[i].fd);
        }
    }
    j->synced = j->head;
    j->dirty = false;
    j->syncs++;
    save_checkpoint(j);
}

/* ---- replay -------------------------------------------------------------------------------- */

static struct journal_segment *segment_of(const struct journal *j, uint64_t seq)
{
    size_t lo = 0, hi = j->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (j->segs[mid].first <= seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo > 0 ? &j->segs[lo - 1] : NULL;
}

bool journal_range(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest, uint64_t *newest)
{
    const struct journal *j = ctx;
    if (memcmp(id, j->id, WIRE_ID_LEN) != 0 || j->head == 0) {
        return false;
    }
    *oldest = j->head + 1;
    for (size_t i = 0; i < j->nsegs; i++) {
        if (j->segs[i].last >= j->segs[i].first) {
            *oldest = j->segs[i].first;
            break;
        }
    }
    *newest = j->head;
    return true;
}

size_t journal_copy(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, size_t max,
                    size_t max_bytes, struct buf *out)
{
    const struct journal *j = ctx;
    if (memcmp(id, j->id, WIRE_ID_LEN) != 0) {
        return 0;
    }
    const struct journal_segment *s = segment_of(j, from);
    size_t off = s ? find_record(s, from) : 0;
    if (off == 0) {
        return 0;
    }
    size_t n = 0;
    uint64_t want = from;
    while (n < max) {
        if (off >= s->used) {
            /* On into the next segment, if it goes on without a hole. */
            size_t i = (size_t)(s - j->segs) + 1;
            if (i >= j->nsegs || j->segs[i].first != want) {
                break;
            }
            s = &j->segs[i];
            off = SEG_HEADER;
            continue;
        }
        /* Checked again, checksum included: what changed on disk since start-up is a hole
         * too, never sent as if it were the message. */
        uint64_t seq;
        if (record_at(s, off, &seq) == 0 || seq != want) {
            break;
        }
        const uint8_t *p = (const uint8_t *)s->map + off;
        uint32_t len = wire_get32(p + 4);
        size_t topic_len = (size_t)p[REC_HEADER] << 8 | p[REC_HEADER + 1];
        size_t need = WIRE_RECORD_OVERHEAD + len - 2;
        if ((n > 0 && out->len + need > max_bytes) || buf_reserve(out, need) < 0) {
            break;
        }
        out->len += wire_record_put(
            (uint8_t *)out->data + out->len, (const char *)p + REC_HEADER + 2, topic_len,
            (const char *)p + REC_HEADER + 2 + topic_len, len - 2 - topic_len);
        off += REC_HEADER + len;
        want++;
        n++;
    }
    return n;
}

uint64_t journal_next_held(void *ctx, uint64_t from)
{
    const struct journal *j = ctx;
    for (size_t i = 0; i < j->nsegs; i++) {
        const struct journal_segment *s = &j->segs[i];
        if (s->last < s->first || s->last < from || s->nindex == 0) {
            continue;
        }
        if (s->first >= from) {
            return s->first;
        }
        /* from falls inside s: scan each run of good records from its index entry; a run ends
         * at a hole, and the next entry starts the next run. */
        for (size_t k = 0; k < s->nindex / 2; k++) {
            uint64_t run_first = s->first + s->index[2 * k];
            if (run_first >= from) {
                return run_first;
            }
            uint64_t next_entry =
                k + 1 < s->nindex / 2 ? s->first + s->index[2 * k + 2] : UINT64_MAX;
            if (next_entry <= from) {
                continue;
            }
            size_t off = s->index[2 * k + 1];
            while (off < s->used) {
                uint64_t seq;
                size_t n = record_at(s, off, &seq);
                if (n == 0) {
                    break;
                }
                if (seq >= from) {
                    return seq;
                }
                off += n;
            }
        }
    }
    return 0;
}

/* ---- closing ------------------------------------------------------------------------------ */

static void on_timer_closed(uv_handle_t *h)
{
    struct journal *j = h->data;
    closer_done(&j->closed);
}

void journal_close(struct journal *j, struct closer closed)
{
    if (!j->timer_open) {
        closer_done(&closed);
        return;
    }
    journal_commit(j);
    j->timer_open = false;
    j->closed = closed;
    uv_close((uv_handle_t *)&j->timer, on_timer_closed);
}

void journal_finish(struct journal *j)
{
    for (size_t i = 0; i < j->nsegs; i++) {
        segment_close(&j->segs[i]);
    }
    free(j->segs);
    j->segs = NULL;
    j->nsegs = 0;
    if (j->cfg.dir != NULL && j->dirfd >= 0) {
        close(j->dirfd);
    }
    j->dirfd = -1;
}

struct replay_source journal_source(struct journal *j)
{
    return (struct replay_source){
        .range = journal_range,
        .copy = journal_copy,
        .next_held = journal_next_held,
        .origin = true,
        .ctx = j,
    };
}
