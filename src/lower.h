/* lower: Unicode default lowercasing (full mappings + Final_Sigma), as Python 3's str.lower(). */
#ifndef DOWNCASE_LOWER_H
#define DOWNCASE_LOWER_H

#include <stddef.h>

#include "buf.h"

/* Appends the lowercase of s[0..len), which must be valid UTF-8 (check with utf8_valid first),
 * to out. Returns 0, -EINVAL if s is not valid UTF-8 (out is then unchanged), or -ENOMEM. */
int lower_utf8(const char *s, size_t len, struct buf *out);

#endif
