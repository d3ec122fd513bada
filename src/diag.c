/* diag: one-line diagnostics on stderr. */
#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void diag(const char *who, const char *fmt, ...)
{
    char line[1024];
    int saved = errno;
    int n = who ? snprintf(line, sizeof line, "downcase[%s]: ", who)
                : snprintf(line, sizeof line, "downcase: ");
    if (n < 0) {
        n = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    /* Long messages are cut, never split over two lines. */
    if (len > sizeof line - 2) {
        len = sizeof line - 2;
    }
    /* Paths and peer data may hold control characters: a diagnostic stays one line. */
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F) {
            line[i] = '?';
        }
    }
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
