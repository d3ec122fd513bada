/* http_screen: the raw-byte request head check (why: http_screen.h). */
#include "http_screen.h"

#include <string.h>

void http_screen_reset(struct http_screen *s)
{
    memset(s, 0, sizeof *s);
}

long http_screen_scan(struct http_screen *s, const char *p, size_t n, bool *done,
                      const char **reason)
{
    *done = false;
    for (size_t i = 0; i < n; i++) {
        char b = p[i];
        if (s->cr) {
            s->cr = false;
            if (b != '\n') {
                *reason = "CR not followed by LF in the request head";
                return -1;
            }
            if (s->line_len == 0 && s->lines > 0) {
                *done = true;
                return (long)(i + 1);
            }
            /* Empty lines before the request line are llhttp's to accept or refuse. */
            if (s->line_len > 0) {
                s->lines++;
            }
            s->line_len = 0;
            continue;
        }
        if (b == '\r') {
            s->cr = true;
            continue;
        }
        if (b == '\n') {
            *reason = "bare LF in the request head (lines must end in CRLF)";
            return -1;
        }
        if (s->line_len == 0 && s->lines > 0 && (b == ' ' || b == '\t')) {
            *reason = "obsolete line folding in the request head";
            return -1;
        }
        /* Saturates: the header size limit ends absurdly long lines long before this. */
        if (s->line_len < UINT32_MAX) {
            s->line_len++;
        }
    }
    return (long)n;
}
