/* fuzz_util: what the fuzz targets share: a failed invariant stops the run (libFuzzer saves the
 * input), and a UTF-8 decoder of their own, written apart from src/utf8.c so that a target never
 * checks the code under test with the same code. */
#ifndef DOWNCASE_FUZZ_UTIL_H
#define DOWNCASE_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Prints "fuzz invariant broken: MESSAGE" and the offending bytes (escaped), then aborts, which
 * libFuzzer reports as a crash and saves the input that caused it. */
void fuzz_fail(const char *what, const void *bytes, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

#define FUZZ_CHECK(cond, bytes, len)                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fuzz_fail(#cond, (bytes), (len), "%s:%d", __FILE__, __LINE__);                         \
        }                                                                                          \
    } while (0)

/* Decodes one code point of s[0..len) (len > 0) as RFC 3629 defines UTF-8: no overlong forms,
 * no surrogates, nothing above U+10FFFF. Returns its length (1-4), or 0 when s does not start a
 * valid sequence. */
size_t fuzz_utf8_next(const uint8_t *s, size_t len, uint32_t *cp);
bool fuzz_utf8_valid(const void *s, size_t len);
/* Appends the UTF-8 encoding of cp to out; returns the number of bytes (1-4). */
size_t fuzz_utf8_put(uint32_t cp, uint8_t *out);

#endif
