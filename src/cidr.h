/* cidr: address ranges for --allow-from: parsing ADDRESS/PREFIX and matching a peer's address,
 * IPv4 and IPv6 alike.
 *
 * Every address is kept as 16 bytes: an IPv4 address as its IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d, RFC 4291 2.5.5.2) and an IPv4 prefix length plus 96. One comparison then
 * serves both families, and an IPv4 peer accepted by a dual-stack socket, which libzmq reports
 * as "::ffff:127.0.0.1", matches 127.0.0.0/8 as it should. Parsing is inet_pton's; what this
 * module adds is the prefix length and the refusal of ranges with bits set past it
 * ("10.0.0.1/8" is more likely a typo than a wish for 10.0.0.0/8, so it is an error that says
 * so, as Python's ipaddress does). */
#ifndef DOWNCASE_CIDR_H
#define DOWNCASE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIDR_ADDR_LEN 16

struct cidr {
    uint8_t net[CIDR_ADDR_LEN]; /* the network, bits past the prefix zero */
    unsigned bits;              /* prefix length over the 16 bytes: 96 + n for IPv4 */
};

/* Parses "ADDRESS/PREFIX" or a bare ADDRESS (a single host: /32 or /128). 0, or -EINVAL with
 * *why saying what is wrong (a static string; its detail for host bits goes to hint, which
 * receives the range meant, e.g. "10.0.0.0/8", or "" when there is none). */
int cidr_parse(const char *s, struct cidr *out, const char **why, char *hint, size_t hint_size);

/* Reads a peer address as libzmq gives it to ZAP ("127.0.0.1", "::1", "::ffff:10.0.0.1",
 * "fe80::1%eth0": the zone is ignored) into 16 bytes. 0, or -EINVAL for anything else (an
 * ipc:// peer's "localhost:UID:GID:PID", an empty frame). */
int cidr_address(const char *text, size_t len, uint8_t out[CIDR_ADDR_LEN]);

/* Whether addr is inside the range. */
bool cidr_contains(const struct cidr *c, const uint8_t addr[CIDR_ADDR_LEN]);
/* Whether addr is inside one of list[0..n). */
bool cidr_any(const struct cidr *list, size_t n, const uint8_t addr[CIDR_ADDR_LEN]);

#endif
