/* hostport: "HOST:PORT" and "[IPV6]:PORT" split into their parts: the one parser of every
 * address downcase reads (--listen, --metrics, the host of a tcp:// endpoint, a --probe URL's
 * authority). libuv and libc convert addresses (uv_ip4_addr, getaddrinfo) but do not split
 * them; each caller then checks what it needs (a port required or optional, its range). */
#ifndef DOWNCASE_HOSTPORT_H
#define DOWNCASE_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

struct hostport {
    const char *host; /* inside the brackets for an IPv6 literal; not NUL-terminated */
    size_t host_len;
    bool has_port; /* a ':' followed the host */
    const char *port;
    size_t port_len;
};

/* Splits s[0..len). A bare IPv6 address (more than one ':' without brackets), an empty host, or
 * anything but ":PORT" after a bracketed host is -EINVAL; otherwise 0. */
int hostport_split(const char *s, size_t len, struct hostport *out);
/* The port as a number: 1 to 5 digits, at most 65535. 0 or -EINVAL. */
int hostport_port(const struct hostport *hp, int *port);

#endif
