/* fuzz_util: invariant failures and an independent UTF-8 decoder for the fuzz targets. */
#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void fuzz_fail(const char *what, const void *bytes, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant broken: %s (", what);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ")\n");
    va_end(ap);
    if (bytes) {
        /* The first 4 KiB of what broke it, printable ASCII as is, the rest as \xHH. */
        const unsigned char *p = bytes;
        size_t n = len < 4096 ? len : 4096;
        fprintf(stderr, "  %zu bytes: \"", len);
        for (size_t i = 0; i < n; i++) {
            if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\' && p[i] != '"') {
                fputc(p[i], stderr);
            } else {
                fprintf(stderr, "\\x%02x", p[i]);
            }
        }
        fprintf(stderr, "\"%s\n", n < len ? "..." : "");
    }
    abort();
}

size_t fuzz_utf8_next(const uint8_t *s, size_t len, uint32_t *cp)
{
    /* Table-free, by the ranges of RFC 3629 section 4's ABNF. */
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t n;
    uint32_t min;
    uint32_t v;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
        min = 0x80;
        v = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        min = 0x800;
        v = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        min = 0x10000;
        v = b0 & 0x07;
    } else {
        return 0;
    }
    if (len < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return 0;
    }
    *cp = v;
    return n;
}

bool fuzz_utf8_valid(const void *s, size_t len)
{
    const uint8_t *p = s;
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t n = fuzz_utf8_next(p + i, len - i, &cp);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

size_t fuzz_utf8_put(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}
