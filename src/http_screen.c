/* http_screen: the raw-byte request head check (why: http_screen.h). */
#include "http_screen.h"

#include <string.h>

void http_screen_reset(struct http_screen *s)
{
    memset(s, 0, sizeof *s);
}

static void grow_line(struct http_screen *s, size_t n)
{
    /* Saturates: the header size limit ends absurdly long lines long before this. */
    s->line_len = n >= UINT32_MAX - s->line_len ? UINT32_MAX : s->line_len + (uint32_t)n;
}

/* Line by line with memchr rather than byte by byte: it was the costliest function of a request
 * (callgrind, scripts/bench). */
long http_screen_scan(struct http_screen *s, const char *p, size_t n, bool *done,
                      const char **reason)
{
    *done = false;
    size_t i = 0;
    while (i < n) {
        if (s->cr) {
            s->cr = false;
            if (p[i] != '\n') {
                *reason = "CR not followed by LF in the request head";
                return -1;
            }
            i++;
            if (s->line_len == 0 && s->lines > 0) {
                *done = true;
                return (long)i;
            }
            /* Empty lines before the request line are llhttp's to accept or refuse. */
            if (s->line_len > 0) {
                s->lines++;
            }
            s->line_len = 0;
            continue;
        }
        if (s->line_len == 0 && s->lines > 0 && (p[i] == ' ' || p[i] == '\t')) {
            *reason = "obsolete line folding in the request head";
            return -1;
        }
        /* The rest of this line: up to its CR, which must come before any LF. */
        const char *lf = memchr(p + i, '\n', n - i);
        size_t stop = lf ? (size_t)(lf - p) : n;
        const char *cr = memchr(p + i, '\r', stop - i);
        if (cr) {
            size_t k = (size_t)(cr - p);
            grow_line(s, k - i);
            s->cr = true;
            i = k + 1;
            continue;
        }
        if (lf) {
            *reason = "bare LF in the request head (lines must end in CRLF)";
            return -1;
        }
        grow_line(s, n - i);
        i = n;
    }
    return (long)n;
}
