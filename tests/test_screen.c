/* Unit tests for http_screen: every shape, whole and split at every byte boundary, driven the
 * way http_conn drives it (feed the spans, tell it the body's framing at the head's end). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "http_screen.h"

#define TE "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
#define ONE_BYTE_CHUNKS                                                                            \
    "1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1"  \
    "\r\nx\r\n1\r\nx\r\n"                                                                          \
    "1\r\nx\r\n0\r\n\r\n"

/* A case: the input (NUL bytes included), what its head announces, the chunked body's limit,
 * the status it must be refused with (0: accepted) and, accepted, what the parser is given (NULL:
 * the input itself) and whether the input is one whole message. */
#define C(in, chunked, max, status, fed, complete)                                                 \
    {                                                                                              \
        in, sizeof in - 1, chunked, max, status, fed, complete                                     \
    }

static const struct {
    const char *in;
    size_t len;
    bool chunked;    /* what the head announced */
    uint64_t max;    /* the chunked body's limit */
    int status;      /* 0: accepted, else the refusal */
    const char *fed; /* accepted: what the parser is given (NULL: the input itself) */
    bool complete;   /* accepted: the input is one whole message */
} cases[] = {
    /* heads */
    C("GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.0\r\n\r\n", false, 0, 0, NULL, true),
    C("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", false, 0, 0, NULL, true),
    C("GET /downcase/?param=\xce\xa3\xce\x91\xce\xa3 HTTP/1.1\r\nHost: a\r\n\r\n", false, 0, 0,
      NULL, true),
    C("GET http://h\xc3\xa9/\xce\xa3?p=\xce\xa3"
      "a\xce\xa3#\xff HTTP/1.1\r\nHost: a\r\n\r\n",
      false, 0, 0, NULL, true),
    C("GET \xce\xa3 HTTP/1.1\r\nHost: a\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a\r\nX-U: \xce\xa3 \t x\r\nX-E:\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.2\r\nHost: a\r\n\r\n", false, 0, 0, NULL, true),
    C("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.1\r\nHost: a\r\n\r", false, 0, 0, NULL, false), /* incomplete */
    C("GET / HTTP/1.1\r\nX-A: \rTransfer-Encoding: chunked\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nX-A: a\r\n Content-Length: 5\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\nHost: a\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a\r\n\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\r\n", false, 0, 400, NULL, 0),
    C("\nGET / HTTP/1.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("\rGET / HTTP/1.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET  / HTTP/1.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1 \r\n\r\n", false, 0, 400, NULL, 0),
    C("GET /a\tb HTTP/1.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET /a\x7f HTTP/1.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET /a\x00 HTTP/1.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET /\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / http/1.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.x\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/10.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1x\r\n\r\n", false, 0, 400, NULL, 0),
    C("G(T / HTTP/1.1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nX Y: z\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost : a\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\n: x\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nNoColon\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nX@: y\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nX: a\x00z\r\n\r\n", false, 0, 400, NULL, 0),
    /* Host values: uri-host [":" port] */
    C("GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.1\r\nhOsT:a \t\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.1\r\nHost:\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.1\r\nHost: a:\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.1\r\nHost: %41b!$&'()*+;=-._~\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.1\r\nHostx: a b\r\nhos: u@a\r\n\r\n", false, 0, 0, NULL, true),
    C("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: []\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a\x80\r\n\r\n", false, 0, 400, NULL, 0),
    C("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", false, 0, 400, NULL, 0),
    /* a Content-Length body is not screened: anything goes, up to the next reset */
    C("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\rb", false, 0, 0, NULL, true),
    /* chunked bodies */
    C(TE "5\r\nhello\r\n0\r\n\r\n", true, 100, 0, NULL, true),
    C(TE "A\r\n0123456789\r\n000\r\n\r\n", true, 100, 0, NULL, true),
    C(TE "5\r\nhello\r\n0\r\nX-T: 1\r\nX-U:\xce\xa3\r\n\r\n", true, 100, 0, NULL, true),
    C(TE "5;a=b;c=d\r\nhello\r\n0;e\r\n\r\n", true, 100, 0, TE "5\r\nhello\r\n0\r\n\r\n", true),
    C(TE "5 ;a = b\t; c=\"q \\\" ;\"\r\nhello\r\n0\r\n\r\n", true, 100, 0,
      TE "5\r\nhello\r\n0\r\n\r\n", true),
    C(TE "5;a=\"\xce\xa3\"\r\nhello\r\n0\r\n\r\n", true, 100, 0, TE "5\r\nhello\r\n0\r\n\r\n",
      true),
    C(TE "5\r\nhe", true, 100, 0, NULL, false),
    /* the three shapes */
    C(TE "0\r\n\rXGET / HTTP/1.1\r\nHost: a\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\rXhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhelloXY0\r\n\r\n", true, 100, 400, NULL, 0),
    /* bare CR, bare LF, missing CRLF wherever CRLF is required */
    C(TE "5\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\r0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\r\n0\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\r\n0\r\n\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\r\n0\r\n\rX", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\r\n0\r\nX-T: 1\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\r\n0\r\nX-T: 1\rY\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\r\n0\r\nX-T: 1\r\n y\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5\r\nhello\r\n0\r\nX T: 1\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a\rb\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    /* malformed sizes and extensions */
    C(TE "\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "0x5\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "-5\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE " 5\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5 \r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a=\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a=b c\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a=b \r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a@b\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a=\"b\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    C(TE "5;;a\r\nhello\r\n0\r\n\r\n", true, 100, 400, NULL, 0),
    /* the body limit counts everything sent: sizes, extensions, data, CRLFs, trailers */
    C(TE "41\r\n", true, 64, 413, NULL, 0),
    C(TE "ffffffffffffffffffff\r\n", true, 64, 413, NULL, 0),
    C(TE "0000000000000000000000000000005\r\nhello\r\n0\r\n\r\n", true, 100, 0, NULL, true),
    C(TE "1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true,
      64, 413, NULL, 0),
    /* 20 bytes as sent: within 20, over 19; a size line whose data and CRLF cannot fit in what
     * is left is refused before its data */
    C(TE "a\r\n0123456789\r\n0\r\n\r\n", true, 20, 0, NULL, true),
    C(TE "a\r\n0123456789\r\n0\r\n\r\n", true, 19, 413, NULL, 0),
    C(TE "a\r\n", true, 14, 413, NULL, 0),
    C(TE "a\r\n", true, 15, 0, NULL, false),
    /* twelve one-byte chunks: 12 * 6 + 5 = 77 bytes sent for 12 bytes of data */
    C(TE ONE_BYTE_CHUNKS, true, 76, 413, NULL, 0),
    C(TE ONE_BYTE_CHUNKS, true, 77, 0, NULL, true),
    C(TE "0\r\nX-Trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
      true, 64, 413, NULL, 0),
};

struct result {
    int status;
    char fed[512]; /* what the parser is given */
    size_t fed_len;
    char rebuilt[512]; /* the same with the target's bytes >= 0x80 put back, as http_conn does */
    size_t rebuilt_len;
    size_t line_fed; /* bytes of the request line the parser is given */
    bool high_fed;   /* ... of which one or more >= 0x80 */
    bool done;       /* the screen saw the message end */
};

/* Where a head ends: after the first empty line that follows the request line (empty lines
 * before it are skipped), or len + 1 when it does not end within in[0..len). */
static size_t head_end(const char *in, size_t len)
{
    size_t i = 0;
    while (i + 1 < len && in[i] == '\r' && in[i + 1] == '\n') {
        i += 2;
    }
    for (; i + 4 <= len; i++) {
        if (memcmp(in + i, "\r\n\r\n", 4) == 0) {
            return i + 4;
        }
    }
    return len + 1;
}

/* Drives the screen over in[0..len) in pieces of `step` bytes, as http_conn does: the spans'
 * `feed` bytes are collected as the parser's input, and at the head's end the screen is told
 * the framing the case's head announces. */
static struct result drive(size_t k, const char *in, size_t len, size_t step)
{
    size_t head_len = head_end(in, len);
    struct result r = {0};
    struct http_screen s;
    http_screen_reset(&s);
    size_t off = 0;
    bool framed = false;
    while (off < len) {
        size_t end = len - off < step ? len : off + step;
        while (off < end) {
            struct http_screen_span span = {0, 0, false};
            const char *why = NULL;
            r.status = http_screen_scan(&s, in + off, end - off, &span, &why);
            if (r.status != 0) {
                CHECK(why != NULL && *why != '\0');
                return r;
            }
            CHECK(span.feed + span.skip >= 1 && span.feed + span.skip <= end - off);
            CHECK(r.fed_len + span.feed <= sizeof r.fed);
            CHECK(r.rebuilt_len + span.feed + span.skip <= sizeof r.rebuilt);
            memcpy(r.fed + r.fed_len, in + off, span.feed);
            r.fed_len += span.feed;
            memcpy(r.rebuilt + r.rebuilt_len, in + off, span.feed);
            r.rebuilt_len += span.feed;
            if (span.target) {
                memcpy(r.rebuilt + r.rebuilt_len, in + off + span.feed, span.skip);
                r.rebuilt_len += span.skip;
            }
            for (size_t i = 0; i < span.feed && r.line_fed == r.fed_len - span.feed + i; i++) {
                r.high_fed = r.high_fed || (unsigned char)in[off + i] >= 0x80;
                r.line_fed += in[off + i] != '\n';
            }
            off += span.feed + span.skip;
            if (off == head_len && !framed) {
                framed = true;
                if (cases[k].chunked) {
                    http_screen_chunked(&s, cases[k].max);
                } else {
                    http_screen_unframed(&s);
                }
            }
        }
    }
    /* A screen that saw the message end refuses whatever would follow until it is reset. */
    struct http_screen after = s;
    struct http_screen_span span;
    const char *why = NULL;
    r.done = !cases[k].chunked ? framed : http_screen_scan(&after, "G", 1, &span, &why) == 400;
    return r;
}

int main(void)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *in = cases[k].in;
        size_t len = cases[k].len;
        for (size_t step = 1; step <= len; step++) {
            struct result r = drive(k, in, len, step);
            bool ok = r.status == cases[k].status;
            if (ok && r.status == 0) {
                const char *want = cases[k].fed ? cases[k].fed : in;
                size_t want_len = cases[k].fed ? strlen(want) : len;
                ok = r.rebuilt_len == want_len && memcmp(r.rebuilt, want, want_len) == 0 &&
                     !r.high_fed && r.done == cases[k].complete;
            }
            if (!ok) {
                fprintf(stderr,
                        "case %zu (%.40s...) step %zu: status %d (want %d), fed %zu bytes,"
                        " done %d\n",
                        k, in, step, r.status, cases[k].status, r.fed_len, r.done);
            }
            CHECK(ok);
        }
    }
    /* The request line is known to be complete once its CRLF is in, whatever follows. */
    struct http_screen s;
    struct http_screen_span span;
    const char *why = NULL;
    http_screen_reset(&s);
    CHECK(http_screen_scan(&s, "FOO /x HTTP/1.1\r", 16, &span, &why) == 0);
    CHECK(!http_screen_request_line_done(&s));
    CHECK(http_screen_scan(&s, "\nX", 2, &span, &why) == 0);
    CHECK(http_screen_request_line_done(&s));
    return CHECK_DONE();
}
