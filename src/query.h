/* query: reads one parameter out of an application/x-www-form-urlencoded query string. */
#ifndef DOWNCASE_QUERY_H
#define DOWNCASE_QUERY_H

#include <stddef.h>

#include "buf.h"

/* Looks for the first pair named `name` in query[0..len) (the part of a request target after
 * '?', without any '#fragment') and appends its decoded value to out.
 *
 * Decoding is what HTML forms and Python's urllib.parse.unquote_plus do: pairs are separated by
 * '&', '+' is a space, %XX is the byte 0xXX, and a malformed escape ("%zz", a lone "%") stays
 * literal. Names are decoded the same way before comparing. A pair without '=' has an empty
 * value, as in Werkzeug (Flask) and parse_qsl(keep_blank_values=True). The value is raw bytes:
 * checking that it is UTF-8 is the caller's job.
 *
 * Returns 1 if found, 0 if not (out unchanged), -ENOMEM. */
int query_get(const char *query, size_t len, const char *name, struct buf *out);

/* Appends the form-decoding of s[0..len) to out. 0 or -ENOMEM. */
int query_decode(const char *s, size_t len, struct buf *out);

#endif
