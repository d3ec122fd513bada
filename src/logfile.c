/* logfile: batched, append-only log writing. */
#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"

/* Records which file fd is and how long it is. */
static void identify(struct logfile *lf)
{
    struct stat st;
    if (fstat(lf->fd, &st) == 0) {
        lf->dev = (uint64_t)st.st_dev;
        lf->ino = (uint64_t)st.st_ino;
        lf->size = (uint64_t)st.st_size;
    }
}

static int open_append(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int logfile_open(struct logfile *lf, const char *path)
{
    memset(lf, 0, sizeof *lf);
    lf->path = path;
    lf->max_pending = LOGFILE_MAX_PENDING;
    if (strcmp(path, "-") == 0) {
        lf->fd = STDOUT_FILENO;
        lf->is_stdout = true;
        return 0;
    }
    int fd = open_append(path);
    if (fd < 0) {
        lf->fd = -1;
        return fd;
    }
    lf->fd = fd;
    identify(lf);
    return 0;
}

int logfile_truncate(struct logfile *lf, uint64_t size)
{
    if (lf->is_stdout || lf->fd < 0) {
        return -EINVAL;
    }
    if (ftruncate(lf->fd, (off_t)size) < 0) {
        return -errno;
    }
    lf->size = size;
    return 0;
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    if (n == 0) {
        return 0; /* p may be NULL: an empty buffer */
    }
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

int logfile_flush(struct logfile *lf, const char *who)
{
    size_t off = 0;
    int rc = 0;
    while (off < lf->pending.len) {
        ssize_t n = write(lf->fd, lf->pending.data + off, lf->pending.len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            lf->write_errors++;
            break;
        }
        off += (size_t)n;
        lf->size += (uint64_t)n;
    }
    /* A line counts once its newline is written; a partly written line completes later. */
    lf->lines_written += count_lines(lf->pending.data, off);
    if (off > 0) {
        lf->mid_line = lf->pending.data[off - 1] != '\n';
    }
    buf_consume(&lf->pending, off);
    if (rc == 0) {
        if (lf->failing) {
            diag(who, "writing %s works again", lf->is_stdout ? "standard output" : lf->path);
        }
        lf->failing = false;
        return 0;
    }
    if (!lf->failing) {
        diag(who, "write(%s): %s; keeping up to %zu bytes of lines until it works again",
             lf->is_stdout ? "standard output" : lf->path, strerror(-rc), lf->max_pending);
        lf->failing = true;
    }
    if (lf->pending.len > lf->max_pending) {
        /* Drop whole lines from the front so what is finally written still starts a line. The
         * first pending line may be partly written already: it is kept whole, never cut. */
        size_t from = lf->pending.len - lf->max_pending;
        const char *first_end = memchr(lf->pending.data, '\n', lf->pending.len);
        size_t skip = lf->mid_line && first_end ? (size_t)(first_end + 1 - lf->pending.data) : 0;
        if (from < skip) {
            from = skip;
        }
        const char *keep = from < lf->pending.len
                               ? memchr(lf->pending.data + from, '\n', lf->pending.len - from)
                               : NULL;
        size_t end = keep ? (size_t)(keep + 1 - lf->pending.data) : lf->pending.len;
        if (end > skip) {
            uint64_t lines = count_lines(lf->pending.data + skip, end - skip);
            lf->lines_dropped += lines;
            lf->bytes_dropped += end - skip;
            buf_erase(&lf->pending, skip, end - skip);
            diag(who, "dropped %llu log lines (%zu bytes) that could not be written",
                 (unsigned long long)lines, end - skip);
        }
    }
    return rc;
}

int logfile_reopen(struct logfile *lf, const char *who)
{
    int rc = logfile_flush(lf, who);
    if (lf->is_stdout) {
        return rc;
    }
    if (rc < 0 && lf->mid_line) {
        /* Switching now would leave half a line in each file. */
        diag(who, "reopen %s: postponed, the old file ends in a line not yet complete", lf->path);
        return rc;
    }
    int fd = open_append(lf->path);
    if (fd < 0) {
        diag(who, "reopen %s: %s; still writing to the old file", lf->path, strerror(-fd));
        return fd;
    }
    close(lf->fd);
    lf->fd = fd;
    identify(lf);
    return rc;
}

int logfile_close(struct logfile *lf, const char *who)
{
    if (lf == NULL || lf->fd < 0) {
        return 0;
    }
    int rc = logfile_flush(lf, who);
    if (!lf->is_stdout) {
        if (fsync(lf->fd) < 0 && rc == 0) {
            rc = -errno;
            diag(who, "fsync(%s): %s", lf->path, strerror(errno));
        }
        if (close(lf->fd) < 0 && rc == 0) {
            rc = -errno;
            diag(who, "close(%s): %s", lf->path, strerror(errno));
        }
    }
    lf->fd = -1;
    buf_finish(&lf->pending);
    return rc;
}
