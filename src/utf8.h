/* utf8: strict UTF-8 decoding and encoding (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
#ifndef DOWNCASE_UTF8_H
#define DOWNCASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one code point from s[0..len). Returns its length in bytes (1-4) and stores the code
 * point in *cp, or returns 0 if the bytes at s do not start a valid sequence (len must be > 0).
 * Validity is exactly what Python's bytes.decode('utf-8') accepts. */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
/* True when all of s[0..len) is valid UTF-8. */
bool utf8_valid(const char *s, size_t len);
/* Writes the UTF-8 encoding of a scalar value cp (not a surrogate, <= U+10FFFF) into out[0..4).
 * Returns its length. */
size_t utf8_encode(uint32_t cp, char out[4]);

#endif
