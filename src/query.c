/* query: form-urlencoded query decoding. */
#include "query.h"

#include <string.h>

#include "hex.h"

/* Decodes the form-encoded character at s[*i] and advances *i past it. */
static char decode_next(const char *s, size_t len, size_t *i)
{
    char c = s[(*i)++];
    if (c == '+') {
        return ' ';
    }
    if (c == '%' && *i + 1 < len) {
        int hi = hex_digit(s[*i]);
        int lo = hex_digit(s[*i + 1]);
        if (hi >= 0 && lo >= 0) {
            *i += 2;
            return (char)(hi << 4 | lo);
        }
    }
    return c;
}

int query_decode(const char *s, size_t len, struct buf *out)
{
    if (len == 0) {
        return 0; /* out->data may be NULL: no pointer arithmetic on it */
    }
    /* Decoding never grows the text, so one reservation covers every byte. */
    int rc = buf_reserve(out, len);
    if (rc < 0) {
        return rc;
    }
    char *w = out->data + out->len;
    for (size_t i = 0; i < len;) {
        *w++ = decode_next(s, len, &i);
    }
    out->len = (size_t)(w - out->data);
    return 0;
}

/* True when the form-decoding of s[0..len) equals the NUL-terminated `name`, compared without
 * building the decoded copy (names are short; this runs for every pair of every request). */
static int name_matches(const char *s, size_t len, const char *name)
{
    size_t j = 0;
    for (size_t i = 0; i < len; j++) {
        char c = decode_next(s, len, &i);
        if (name[j] == '\0' || name[j] != c) {
            return 0;
        }
    }
    return name[j] == '\0';
}

int query_get(const char *query, size_t len, const char *name, struct buf *out)
{
    const char *p = query;
    const char *end = query + len;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp ? amp : end;
        /* An empty pair ("a=1&&b=2", a trailing '&') is no pair at all, as in parse_qsl. */
        if (pair_end > p) {
            const char *eq = memchr(p, '=', (size_t)(pair_end - p));
            const char *name_end = eq ? eq : pair_end;
            if (name_matches(p, (size_t)(name_end - p), name)) {
                const char *v = eq ? eq + 1 : pair_end;
                int rc = query_decode(v, (size_t)(pair_end - v), out);
                return rc < 0 ? rc : 1;
            }
        }
        if (amp == NULL) {
            return 0;
        }
        p = amp + 1;
    }
}
