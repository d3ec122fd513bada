/* lower: placeholder until the real implementation lands. */
#include "lower.h"

#include <errno.h>

int lower_utf8(const char *s, size_t len, struct buf *out)
{
    (void)s;
    (void)len;
    (void)out;
    return -ENOSYS;
}
