/* Unit tests for cidr: ranges as --allow-from takes them, peer addresses as libzmq's ZAP
 * requests carry them, and matching across IPv4, IPv6 and IPv4-mapped IPv6. */
#include "cidr.h"
#include "check.h"

#include <errno.h>

static bool in(const char *range, const char *addr)
{
    struct cidr c;
    const char *why = NULL;
    char hint[64];
    uint8_t a[CIDR_ADDR_LEN];
    if (cidr_parse(range, &c, &why, hint, sizeof hint) != 0) {
        fprintf(stderr, "range %s: %s\n", range, why);
        return false;
    }
    if (cidr_address(addr, strlen(addr), a) != 0) {
        fprintf(stderr, "address %s: not parsed\n", addr);
        return false;
    }
    return cidr_contains(&c, a);
}

static void test_matching(void)
{
    static const struct {
        const char *range;
        const char *addr;
        bool inside;
    } cases[] = {
        {"127.0.0.0/8", "127.0.0.1", true},
        {"127.0.0.0/8", "127.255.255.255", true},
        {"127.0.0.0/8", "128.0.0.1", false},
        {"127.0.0.0/8", "126.255.255.255", false},
        /* A dual-stack socket reports IPv4 peers in their mapped form. */
        {"127.0.0.0/8", "::ffff:127.0.0.1", true},
        {"127.0.0.0/8", "::ffff:10.0.0.1", false},
        {"10.1.2.3", "10.1.2.3", true},
        {"10.1.2.3", "10.1.2.4", false},
        {"10.1.2.3/32", "10.1.2.3", true},
        {"192.168.4.0/22", "192.168.7.255", true},
        {"192.168.4.0/22", "192.168.8.0", false},
        {"192.168.4.0/22", "192.168.3.255", false},
        {"0.0.0.0/0", "203.0.113.9", true},
        {"0.0.0.0/0", "::ffff:203.0.113.9", true},
        /* An IPv4 range never admits a native IPv6 peer, and back. */
        {"0.0.0.0/0", "::1", false},
        {"::1/128", "::1", true},
        {"::1", "::1", true},
        {"::1", "::2", false},
        {"::1", "127.0.0.1", false},
        {"fd00::/8", "fd12:3456::1", true},
        {"fd00::/8", "fe80::1", false},
        {"2001:db8::/32", "2001:db8:ffff::1", true},
        {"2001:db8::/32", "2001:db9::1", false},
        {"2001:db8::/33", "2001:db8:8000::1", false},
        {"2001:db8::/33", "2001:db8:7fff::1", true},
        {"fe80::/10", "fe80::1%eth0", true},
        /* The mapped form of a range is the same range. */
        {"::ffff:10.0.0.0/104", "10.200.0.1", true},
        {"::ffff:10.0.0.0/104", "11.0.0.1", false},
        {"::/0", "10.0.0.1", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = in(cases[i].range, cases[i].addr);
        if (got != cases[i].inside) {
            fprintf(stderr, "case %zu: %s in %s: got %d\n", i, cases[i].addr, cases[i].range, got);
        }
        CHECK(got == cases[i].inside);
    }
}

static void test_bad_ranges(void)
{
    static const struct {
        const char *range;
        const char *why;
        const char *hint;
    } cases[] = {
        {"", "not an IPv4 or IPv6 address", ""},
        {"/8", "not an IPv4 or IPv6 address", ""},
        {"10.0.0/8", "not an IPv4 or IPv6 address", ""},
        {"10.0.0.256/32", "not an IPv4 or IPv6 address", ""},
        {"localhost", "not an IPv4 or IPv6 address", ""},
        {"[::1]/128", "not an IPv4 or IPv6 address", ""},
        {"fe80::1%eth0/64", "not an IPv4 or IPv6 address", ""},
        {" 10.0.0.0/8", "not an IPv4 or IPv6 address", ""},
        {"10.0.0.0/", "the prefix length must be a number from 0 to 32", ""},
        {"10.0.0.0/33", "the prefix length must be a number from 0 to 32", ""},
        {"10.0.0.0/+8", "the prefix length must be a number from 0 to 32", ""},
        {"10.0.0.0/8 ", "the prefix length must be a number from 0 to 32", ""},
        {"10.0.0.0/0008", "the prefix length must be a number from 0 to 32", ""},
        {"10.0.0.0/8/8", "the prefix length must be a number from 0 to 32", ""},
        {"::/129", "the prefix length must be a number from 0 to 128", ""},
        {"::/-1", "the prefix length must be a number from 0 to 128", ""},
        {"10.0.0.1/8", "it has bits set past the prefix length", "10.0.0.0/8"},
        {"192.168.1.1/24", "it has bits set past the prefix length", "192.168.1.0/24"},
        {"2001:db8::1/32", "it has bits set past the prefix length", "2001:db8::/32"},
        {"1.2.3.4/0", "it has bits set past the prefix length", "0.0.0.0/0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cidr c;
        const char *why = NULL;
        char hint[64] = "unset";
        CHECK(cidr_parse(cases[i].range, &c, &why, hint, sizeof hint) == -EINVAL);
        CHECK(why != NULL && strcmp(why, cases[i].why) == 0);
        CHECK(strcmp(hint, cases[i].hint) == 0);
        if (why == NULL || strcmp(why, cases[i].why) != 0 || strcmp(hint, cases[i].hint) != 0) {
            fprintf(stderr, "case %zu (%s): why %s, hint %s\n", i, cases[i].range,
                    why ? why : "(null)", hint);
        }
    }
}

static void test_peer_addresses(void)
{
    uint8_t a[CIDR_ADDR_LEN];
    /* What libzmq puts in a ZAP request for an ipc:// peer, and other non-addresses. */
    const char *bad[] = {"localhost:0:0:23696", "", "%eth0", "127.0.0.1:4444", "::1 ", "host"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(cidr_address(bad[i], strlen(bad[i]), a) == -EINVAL);
    }
    /* The frame is not NUL-terminated: only len bytes count, and a NUL inside is refused. */
    CHECK(cidr_address("10.0.0.1junk", 8, a) == 0);
    CHECK(cidr_address("10.0.\0.1", 8, a) == -EINVAL);
    char long_text[200];
    memset(long_text, '1', sizeof long_text);
    CHECK(cidr_address(long_text, sizeof long_text, a) == -EINVAL);
    CHECK(cidr_address("10.0.0.1", 8, a) == 0);
    static const uint8_t want[CIDR_ADDR_LEN] = {0, 0, 0,    0,    0,  0, 0, 0,
                                                0, 0, 0xff, 0xff, 10, 0, 0, 1};
    CHECK(memcmp(a, want, sizeof want) == 0);
}

static void test_lists(void)
{
    struct cidr list[2];
    const char *why;
    char hint[64];
    CHECK(cidr_parse("10.0.0.0/8", &list[0], &why, hint, sizeof hint) == 0);
    CHECK(cidr_parse("::1", &list[1], &why, hint, sizeof hint) == 0);
    uint8_t a[CIDR_ADDR_LEN];
    CHECK(cidr_address("::1", 3, a) == 0);
    CHECK(cidr_any(list, 2, a));
    CHECK(!cidr_any(list, 1, a));
    CHECK(!cidr_any(list, 0, a));
    CHECK(cidr_address("10.9.9.9", 8, a) == 0);
    CHECK(cidr_any(list, 2, a));
    CHECK(cidr_address("127.0.0.1", 9, a) == 0);
    CHECK(!cidr_any(list, 2, a));
}

int main(void)
{
    test_matching();
    test_bad_ranges();
    test_peer_addresses();
    test_lists();
    return CHECK_DONE();
}
