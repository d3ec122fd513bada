/* diag: one-line diagnostics on stderr. */
#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void diag_printable(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) {
            s[i] = '?';
        }
    }
}

static void vdiag(const char *who, const char *suffix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vdiag(const char *who, const char *suffix, const char *fmt, va_list ap)
{
    char line[1024];
    int saved = errno;
    int n = who ? snprintf(line, sizeof line, "downcase[%s]: ", who)
                : snprintf(line, sizeof line, "downcase: ");
    if (n < 0) {
        n = 0;
    }
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (suffix && len < sizeof line) {
        int k = snprintf(line + len, sizeof line - len, "%s", suffix);
        len += k < 0 ? 0 : (size_t)k;
    }
    /* Long messages are cut, never split over two lines. */
    if (len > sizeof line - 2) {
        len = sizeof line - 2;
    }
    /* Paths and peer data may hold control characters: a diagnostic stays one line. */
    diag_printable(line, len);
    line[len++] = '\n';
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    errno = saved;
}

void diag(const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(who, NULL, fmt, ap);
    va_end(ap);
}

void diag_limited(struct diag_limit *l, uint64_t now_ms, uint64_t interval_ms, const char *who,
                  const char *fmt, ...)
{
    if (now_ms < l->next_ms) {
        l->suppressed++;
        return;
    }
    char suffix[64] = "";
    if (l->suppressed) {
        snprintf(suffix, sizeof suffix, " (and %lu more since the last report)", l->suppressed);
    }
    va_list ap;
    va_start(ap, fmt);
    vdiag(who, suffix, fmt, ap);
    va_end(ap);
    l->suppressed = 0;
    l->next_ms = now_ms + interval_ms;
}
