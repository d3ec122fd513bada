/* cidr: address ranges and peer addresses (cidr.h). */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The first 12 bytes of an IPv4-mapped IPv6 address. */
static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* An address without prefix into 16 bytes; *v4 tells the family it was written in. */
static int parse_address(const char *s, uint8_t out[CIDR_ADDR_LEN], bool *v4)
{
    uint8_t a4[4];
    if (inet_pton(AF_INET, s, a4) == 1) {
        memcpy(out, v4_mapped, sizeof v4_mapped);
        memcpy(out + sizeof v4_mapped, a4, sizeof a4);
        *v4 = true;
        return 0;
    }
    *v4 = false;
    return inet_pton(AF_INET6, s, out) == 1 ? 0 : -EINVAL;
}

/* Zeroes every bit of a past the first `bits`; true when one of them was set. */
static bool clear_host_bits(uint8_t a[CIDR_ADDR_LEN], unsigned bits)
{
    bool set = false;
    for (unsigned i = 0; i < CIDR_ADDR_LEN; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : (bits > 8 * i ? bits - 8 * i : 0);
        uint8_t mask = (uint8_t)(keep == 8 ? 0xff : ~(0xffu >> keep) & 0xff);
        if (a[i] & ~mask) {
            set = true;
        }
        a[i] &= mask;
    }
    return set;
}

int cidr_parse(const char *s, struct cidr *out, const char **why, char *hint, size_t hint_size)
{
    char text[INET6_ADDRSTRLEN + 8];
    if (hint_size > 0) {
        hint[0] = '\0';
    }
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof text) {
        *why = "not an IPv4 or IPv6 address";
        return -EINVAL;
    }
    memcpy(text, s, alen);
    text[alen] = '\0';
    bool v4;
    if (parse_address(text, out->net, &v4) < 0) {
        *why = "not an IPv4 or IPv6 address";
        return -EINVAL;
    }
    unsigned max = v4 ? 32 : 128;
    unsigned bits = max;
    if (slash) {
        /* Digits only: strtoul would also take a sign, blanks or "0x". */
        const char *p = slash + 1;
        size_t n = strspn(p, "0123456789");
        if (n == 0 || p[n] != '\0' || n > 3) {
            *why = v4 ? "the prefix length must be a number from 0 to 32"
                      : "the prefix length must be a number from 0 to 128";
            return -EINVAL;
        }
        bits = 0;
        for (size_t i = 0; i < n; i++) {
            bits = bits * 10 + (unsigned)(p[i] - '0');
        }
        if (bits > max) {
            *why = v4 ? "the prefix length must be a number from 0 to 32"
                      : "the prefix length must be a number from 0 to 128";
            return -EINVAL;
        }
    }
    out->bits = v4 ? bits + 96 : bits;
    if (clear_host_bits(out->net, out->bits)) {
        *why = "it has bits set past the prefix length";
        char net[INET6_ADDRSTRLEN];
        const void *src = v4 ? (const void *)(out->net + 12) : (const void *)out->net;
        if (hint_size > 0 && inet_ntop(v4 ? AF_INET : AF_INET6, src, net, sizeof net)) {
            snprintf(hint, hint_size, "%s/%u", net, bits);
        }
        return -EINVAL;
    }
    return 0;
}

int cidr_address(const char *text, size_t len, uint8_t out[CIDR_ADDR_LEN])
{
    char buf[INET6_ADDRSTRLEN + 1];
    /* A zone ("%eth0") names the interface, not the host: matching ignores it. */
    const char *zone = memchr(text, '%', len);
    if (zone) {
        len = (size_t)(zone - text);
    }
    if (len == 0 || len >= sizeof buf || memchr(text, '\0', len) != NULL) {
        return -EINVAL;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    bool v4;
    return parse_address(buf, out, &v4);
}

bool cidr_contains(const struct cidr *c, const uint8_t addr[CIDR_ADDR_LEN])
{
    uint8_t a[CIDR_ADDR_LEN];
    memcpy(a, addr, sizeof a);
    clear_host_bits(a, c->bits);
    return memcmp(a, c->net, sizeof a) == 0;
}

bool cidr_any(const struct cidr *list, size_t n, const uint8_t addr[CIDR_ADDR_LEN])
{
    for (size_t i = 0; i < n; i++) {
        if (cidr_contains(&list[i], addr)) {
            return true;
        }
    }
    return false;
}
