/* fuzz_query: form decoding (query.h) and Unicode lowercasing (lower.h), the two steps between
 * a request's target and its answer, checked against what they promise.
 *
 * The whole input is the query string; byte 0 (mod 4) also picks the name looked up: "param"
 * (the router's), "", "a b" or "\xC3\xA4" (a decoded space and a two-byte name).
 *
 * Invariants:
 *  - query_get and query_decode agree with a plain re-implementation of their documentation
 *    (pairs split on '&', empty pairs skipped, name and value split at the first '=', '+' is a
 *    space, %XX a byte, malformed escapes literal); decoding never grows the text; a lookup
 *    that finds nothing leaves the output untouched;
 *  - lower_utf8 succeeds exactly on valid UTF-8 (checked by a decoder of our own), leaving the
 *    output untouched otherwise; what it appends is valid UTF-8; lowercasing is idempotent
 *    (lower(lower(x)) == lower(x): true of Python's str.lower for every code point and for the
 *    Final_Sigma rule, as /usr/bin/python3 confirms); pure ASCII lowercases byte by byte. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "fuzz_util.h"
#include "lower.h"
#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void append_or_die(struct buf *b, const void *p, size_t n)
{
    if (buf_append(b, p, n) < 0) {
        fuzz_fail("buf_append", NULL, 0, "out of memory");
    }
}

static int hexdigit(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (uint8_t)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void ref_decode(struct buf *out, const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < len && hexdigit(s[i + 1]) >= 0 && hexdigit(s[i + 2]) >= 0) {
            c = (uint8_t)(hexdigit(s[i + 1]) << 4 | hexdigit(s[i + 2]));
            i += 2;
        }
        append_or_die(out, &c, 1);
    }
}

/* 1 and the decoded value in out when a pair is named `name`, else 0. */
static int ref_get(struct buf *out, const uint8_t *q, size_t len, const char *name)
{
    struct buf decoded = {0};
    int found = 0;
    size_t start = 0;
    while (start <= len && !found) {
        size_t end = start;
        while (end < len && q[end] != '&') {
            end++;
        }
        if (end > start) {
            size_t eq = start;
            while (eq < end && q[eq] != '=') {
                eq++;
            }
            decoded.len = 0;
            ref_decode(&decoded, q + start, eq - start);
            if (decoded.len == strlen(name) &&
                (decoded.len == 0 || memcmp(decoded.data, name, decoded.len) == 0)) {
                ref_decode(out, q + (eq < end ? eq + 1 : end), end - (eq < end ? eq + 1 : end));
                found = 1;
            }
        }
        start = end + 1;
    }
    buf_finish(&decoded);
    return found;
}

static bool same(const struct buf *a, const struct buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check_lower(const uint8_t *s, size_t len)
{
    /* A prefix already in the buffer must survive, whatever happens. */
    struct buf out = {0};
    append_or_die(&out, "pre:", 4);
    int rc = lower_utf8((const char *)s, len, &out);
    bool valid = fuzz_utf8_valid(s, len);
    FUZZ_CHECK(rc == (valid ? 0 : -EINVAL), s, len);
    FUZZ_CHECK(out.len >= 4 && memcmp(out.data, "pre:", 4) == 0, out.data, out.len);
    if (!valid) {
        FUZZ_CHECK(out.len == 4, out.data, out.len);
        buf_finish(&out);
        return;
    }
    const char *low = out.data + 4;
    size_t low_len = out.len - 4;
    FUZZ_CHECK(fuzz_utf8_valid(low, low_len), out.data, out.len);
    bool ascii = true;
    for (size_t i = 0; i < len && ascii; i++) {
        ascii = s[i] < 0x80;
    }
    if (ascii) {
        FUZZ_CHECK(low_len == len, out.data, out.len);
        for (size_t i = 0; i < len; i++) {
            uint8_t want = s[i] >= 'A' && s[i] <= 'Z' ? (uint8_t)(s[i] | 0x20) : s[i];
            FUZZ_CHECK((uint8_t)low[i] == want, out.data, out.len);
        }
    }
    struct buf again = {0};
    FUZZ_CHECK(lower_utf8(low, low_len, &again) == 0, out.data, out.len);
    FUZZ_CHECK(again.len == low_len && (low_len == 0 || memcmp(again.data, low, low_len) == 0),
               again.data, again.len);
    buf_finish(&again);
    buf_finish(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"param", "", "a b", "\xC3\xA4"};
    const char *name = names[size > 0 ? data[0] % 4 : 0];
    /* libFuzzer passes a heap copy of exactly `size` bytes: ASan sees any read past its end. */
    const char *q = (const char *)data;

    struct buf got = {0};
    struct buf want = {0};
    append_or_die(&got, "x", 1);
    append_or_die(&want, "x", 1);
    int rc = query_get(q, size, name, &got);
    int ref = ref_get(&want, data, size, name);
    FUZZ_CHECK(rc == ref && same(&got, &want), data, size);
    if (rc == 1) {
        /* What the router does next with the value. */
        check_lower((const uint8_t *)got.data + 1, got.len - 1);
    }

    got.len = 0;
    want.len = 0;
    FUZZ_CHECK(query_decode(q, size, &got) == 0, data, size);
    ref_decode(&want, data, size);
    FUZZ_CHECK(same(&got, &want) && got.len <= size, data, size);

    check_lower(data, size);
    buf_finish(&got);
    buf_finish(&want);
    return 0;
}
