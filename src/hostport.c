/* hostport: address splitting (hostport.h). */
#include "hostport.h"

#include <errno.h>
#include <string.h>

int hostport_split(const char *s, size_t len, struct hostport *out)
{
    memset(out, 0, sizeof *out);
    const char *end = s + len;
    const char *after;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL) {
            return -EINVAL;
        }
        out->host = s + 1;
        out->host_len = (size_t)(close - s - 1);
        after = close + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL) {
            return -EINVAL; /* an IPv6 address needs brackets */
        }
        out->host = s;
        out->host_len = colon ? (size_t)(colon - s) : len;
        after = colon ? colon : end;
    }
    if (after < end) {
        if (*after != ':') {
            return -EINVAL;
        }
        out->has_port = true;
        out->port = after + 1;
        out->port_len = (size_t)(end - after - 1);
    }
    return out->host_len == 0 ? -EINVAL : 0;
}

int hostport_port(const struct hostport *hp, int *port)
{
    if (!hp->has_port || hp->port_len == 0 || hp->port_len > 5) {
        return -EINVAL;
    }
    int v = 0;
    for (size_t i = 0; i < hp->port_len; i++) {
        if (hp->port[i] < '0' || hp->port[i] > '9') {
            return -EINVAL;
        }
        v = v * 10 + (hp->port[i] - '0');
    }
    if (v > 65535) {
        return -EINVAL;
    }
    *port = v;
    return 0;
}
