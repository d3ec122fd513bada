/* Unit tests for http_screen: every shape, whole and split at every byte boundary. */
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "http_screen.h"

static const struct {
    const char *head;
    long head_len; /* bytes of the head (the rest follows it), or -1: refused */
} cases[] = {
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27},
    {"GET / HTTP/1.0\r\n\r\n", 18},
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next", 27},
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n", 27},
    {"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 29}, /* an empty line before: llhttp's call */
    {"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\rb", 38},
    {"GET / HTTP/1.1\r\nX-A: \rTransfer-Encoding: chunked\r\n\r\n", -1},
    {"GET / HTTP/1.1\r\nX-A: a\r\n Content-Length: 5\r\n\r\n", -1},
    {"GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", -1},
    {"GET / HTTP/1.1\nHost: a\r\n\r\n", -1},
    {"GET / HTTP/1.1\r\nHost: a\n\r\n", -1},
    {"GET / HTTP/1.1\r\nHost: a\r\n\n", -1},
    {"GET / HTTP/1.1\r\r\n", -1},
    {"GET / HTTP/1.1\r\nHost: a\r\n\r", 0}, /* incomplete: all of it is head so far */
};

/* Feeds s in pieces of `step` bytes; returns the head length found (-1 refused, 0 none). */
static long feed(const char *s, size_t len, size_t step)
{
    struct http_screen sc;
    http_screen_reset(&sc);
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        bool done = false;
        const char *why = NULL;
        long r = http_screen_scan(&sc, s + off, n, &done, &why);
        if (r < 0) {
            return why != NULL && *why ? -1 : -2;
        }
        if (done) {
            return (long)off + r;
        }
        if ((size_t)r != n) {
            return -3; /* must consume everything while the head goes on */
        }
        off += n;
    }
    return 0;
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].head);
        for (size_t step = 1; step <= len; step++) {
            long got = feed(cases[i].head, len, step);
            if (got != cases[i].head_len) {
                fprintf(stderr, "case %zu step %zu: got %ld want %ld\n", i, step, got,
                        cases[i].head_len);
            }
            CHECK(got == cases[i].head_len);
        }
    }
    return CHECK_DONE();
}
