/* fuzz_model: what the pub must answer, computed without the code under test. Query decoding
 * is written again from the README's rules (those of Python's urllib.parse.parse_qsl with blank
 * values kept), and lowercasing comes from tests/unicode/lower_reference.txt, the table Debian's
 * Python 3.11 made of str.lower() for every code point (mappings and the Final_Sigma classes), so
 * a fuzz target never checks src/query.c or src/lower.c against themselves. */
#ifndef DOWNCASE_FUZZ_MODEL_H
#define DOWNCASE_FUZZ_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Reads the reference table at `path`; aborts with a message when it cannot (a target without
 * its model must not run unchecked). Idempotent. */
void fuzz_model_load(const char *path);

/* The decoded value of the first `name` pair of the query q[0..len) into out (replaced).
 * Returns true when the pair is there. */
bool fuzz_model_param(const char *q, size_t len, const char *name, struct buf *out);

/* Appends Python's str.lower() of the UTF-8 text s[0..len) to out. Returns false (out then
 * undefined) when s is not valid UTF-8 or memory runs out. */
bool fuzz_model_lower(const char *s, size_t len, struct buf *out);

#endif
