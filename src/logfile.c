/* logfile: batched, append-only log writing. */
#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"

static int open_append(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int logfile_open(struct logfile *lf, const char *path)
{
    memset(lf, 0, sizeof *lf);
    lf->path = path;
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
    return 0;
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
            break;
        }
        off += (size_t)n;
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
        diag(who, "write(%s): %s; keeping up to %u MiB until it works again",
             lf->is_stdout ? "standard output" : lf->path, strerror(-rc),
             LOGFILE_MAX_PENDING >> 20);
        lf->failing = true;
    }
    if (lf->pending.len > LOGFILE_MAX_PENDING) {
        /* Drop whole lines from the front so what is finally written still starts a line. */
        const char *keep = memchr(lf->pending.data + (lf->pending.len - LOGFILE_MAX_PENDING), '\n',
                                  LOGFILE_MAX_PENDING);
        size_t drop = keep ? (size_t)(keep + 1 - lf->pending.data) : lf->pending.len;
        lf->dropped_bytes += drop;
        buf_consume(&lf->pending, drop);
        diag(who, "dropped %zu bytes of log lines that could not be written", drop);
    }
    return rc;
}

int logfile_reopen(struct logfile *lf, const char *who)
{
    int rc = logfile_flush(lf, who);
    if (lf->is_stdout) {
        return rc;
    }
    int fd = open_append(lf->path);
    if (fd < 0) {
        diag(who, "reopen %s: %s; still writing to the old file", lf->path, strerror(-fd));
        return fd;
    }
    close(lf->fd);
    lf->fd = fd;
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
