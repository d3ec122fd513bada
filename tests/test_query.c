/* Unit tests for query: query_get and query_decode against Python's urllib.parse. */
#include "query.h"
#include "check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* A string literal and its length, for expected values that hold a NUL byte. */
#define V(s) s, sizeof(s) - 1

/* Every expected value below is what /usr/bin/python3 (Debian 12, Python 3.11.2) printed for
 *   next((v for k, v in parse_qsl(q, keep_blank_values=True, encoding='latin-1')
 *         if k == name), None)
 * with latin-1 making each byte one character, so the values compare byte for byte. */
static const struct {
    const char *query;
    const char *name;
    int found;
    const char *want;
    size_t want_len;
} cases[] = {
    {"param=HeLLo", "param", 1, V("HeLLo")},
    {"param=a&param=b", "param", 1, V("a")}, /* the first pair wins */
    {"param=", "param", 1, V("")},
    {"param", "param", 1, V("")}, /* no '=': found, empty */
    {"param&param=x", "param", 1, V("")},
    {"param=a+b", "param", 1, V("a b")},
    {"param=a%20b", "param", 1, V("a b")},
    {"param=a%2Bb", "param", 1, V("a+b")},
    {"param=++", "param", 1, V("  ")},
    {"param=%2B%2b+%20", "param", 1, V("++  ")},
    {"param=%zz", "param", 1, V("%zz")}, /* malformed escapes stay literal */
    {"param=%", "param", 1, V("%")},
    {"param=%4", "param", 1, V("%4")},
    {"param=%2", "param", 1, V("%2")},
    {"param=%g1", "param", 1, V("%g1")},
    {"param=%1g", "param", 1, V("%1g")},
    {"param=%%41", "param", 1, V("%A")},
    {"param=%25", "param", 1, V("%")},
    {"param=%252F", "param", 1, V("%2F")}, /* decoded once only */
    {"param=%4a%4A%e9%C9", "param", 1, V("JJ\xE9\xC9")},
    {"param=%26x", "param", 1, V("&x")},
    {"param=%C3%A9", "param", 1, V("\xC3\xA9")},
    {"param=\xE9", "param", 1, V("\xE9")}, /* raw bytes pass through */
    {"param=a%00b", "param", 1, V("a\0b")},
    {"param=%FF", "param", 1, V("\xFF")},
    {"param=%00", "param", 1, V("\0")},
    {"param==", "param", 1, V("=")},
    {"a=1&param=b=c", "param", 1, V("b=c")},
    {"param=x#y", "param", 1, V("x#y")},
    {"param=a;b", "param", 1, V("a;b")}, /* ';' is no separator since Python 3.10 */
    {"a;param=1", "param", 0, V("")},
    {"par%61m=x", "param", 1, V("x")}, /* names are decoded too */
    {"%70aram=1", "param", 1, V("1")},
    {"p%61r%61m=%41&param=no", "param", 1, V("A")},
    {"paramx=1&param=2", "param", 1, V("2")},
    {"para+m=1&param=2", "param", 1, V("2")},
    {"param%00=1&param=2", "param", 1, V("2")},
    {"=x&param=y", "param", 1, V("y")},
    {"&&param=a&", "param", 1, V("a")},
    {"xparam=1", "param", 0, V("")},
    {"q=1", "param", 0, V("")},
    {"", "param", 0, V("")},
    {"Param=1", "param", 0, V("")}, /* names are case-sensitive */
    {"param+=1", "param", 0, V("")},
    {"par+am=1", "param", 0, V("")},
    {"param%3D1=2", "param", 0, V("")},
    {"a+b=1", "a b", 1, V("1")},
    {"a%20b=1", "a b", 1, V("1")},
    {"a b=1", "a+b", 0, V("")},
    {"a%26b=1", "a&b", 1, V("1")},
    {"a%3Db=1&a=2", "a=b", 1, V("1")},
    {"%E9=1", "\xE9", 1, V("1")},
    {"%C3%A9=1", "\xE9", 0, V("")},
    {"%C3%A9=1", "\xC3\xA9", 1, V("1")},
    {"p=1", "p", 1, V("1")},
    {"param=1", "p", 0, V("")},
    {"p", "p", 1, V("")},
    {"x=1&P=2", "P", 1, V("2")},
    /* The empty name: parse_qsl drops empty pieces between '&'s, so only an explicit "=..."
     * names the empty string. */
    {"=x", "", 1, V("x")},
    {"a&=x", "", 1, V("x")},
    {"&=x", "", 1, V("x")},
    {"&", "", 0, V("")},
    {"", "", 0, V("")},
};

/* The query strings of the differential loop: tokens that make "param" pairs common. The loop,
 * PRNG and hashes are a transcription of this script; its output is hard-coded in `expected`:
 *
 *   from urllib.parse import parse_qsl, unquote_plus
 *   TOKENS = ['param', 'param=', '&param=', '&param', 'p', 'a', 'ram', 'par', '=', '&', '%', '+',
 *             '2', 'B', 'z', 'F', '0', '%61', '%70', '%2B', '%4', '%FF', '%00', 'x']
 *   M = (1 << 64) - 1
 *   state = 0x9E3779B97F4A7C15
 *   def rnd():
 *       global state
 *       state ^= (state << 13) & M
 *       state ^= state >> 7
 *       state ^= (state << 17) & M
 *       return state
 *   def fnv(h, data):
 *       for b in data:
 *           h = ((h ^ b) * 0x100000001B3) & M
 *       return h
 *   N, BLOCK = 4000, 500
 *   hget = hdec = 0xCBF29CE484222325
 *   for i in range(N):
 *       q = ''.join(TOKENS[rnd() % len(TOKENS)] for _ in range(rnd() % 9))
 *       v = next((v for k, v in parse_qsl(q, keep_blank_values=True, encoding='latin-1')
 *                 if k == 'param'), None)
 *       if v is None:
 *           hget = fnv(hget, b'\0')
 *       else:
 *           vb = v.encode('latin-1')
 *           hget = fnv(hget, b'\1' + len(vb).to_bytes(4, 'little') + vb)
 *       d = unquote_plus(q, encoding='latin-1').encode('latin-1')
 *       hdec = fnv(hdec, len(d).to_bytes(4, 'little') + d)
 *       if (i + 1) % BLOCK == 0:
 *           print('    {0x%016XULL, 0x%016XULL},' % (hget, hdec))
 *           hget = hdec = 0xCBF29CE484222325
 *
 * (run with /usr/bin/python3; a failing block narrows the search to 500 strings). */
static const char *const tokens[] = {
    "param", "param=", "&param=", "&param", "p", "a",   "ram", "par", "=",  "&",   "%",   "+",
    "2",     "B",      "z",       "F",      "0", "%61", "%70", "%2B", "%4", "%FF", "%00", "x",
};
#define NTOKENS (sizeof tokens / sizeof tokens[0])
#define DIFF_N 4000
#define DIFF_BLOCK 500

static const struct {
    uint64_t get;
    uint64_t decode;
} expected[DIFF_N / DIFF_BLOCK] = {
    {0xBEE96D2C8DB4964BULL, 0x98F1E7848E3A23F3ULL}, {0xE0D030A295FF68ABULL, 0x2ED2526DC5491577ULL},
    {0x449C6C5576EDB037ULL, 0xE2C3F6934BE6F508ULL}, {0xD5CF9F123A067149ULL, 0x7BEF09E44083C562ULL},
    {0x5BCBE1310F2AA00AULL, 0x161BAA08527305A0ULL}, {0xCF91985C7320089CULL, 0xB8E035641409F27BULL},
    {0xEFDE89CBF3805773ULL, 0x678F625C639B6D42ULL}, {0xA04D59B7CE0D7B98ULL, 0xDBC03AEFAF699BBDULL},
};

#define FNV_OFFSET 0xCBF29CE484222325ULL

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001B3ULL;
    }
    return h;
}

static uint64_t fnv_len(uint64_t h, size_t len)
{
    unsigned char le[4];
    for (int i = 0; i < 4; i++) {
        le[i] = (unsigned char)(len >> (8 * i));
    }
    return fnv(h, le, sizeof le);
}

/* A heap copy of exactly len bytes with no terminator, so valgrind sees any read past len. */
static char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    if (p != NULL) {
        memcpy(p, s, len);
    }
    return p;
}

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t qlen = strlen(cases[i].query);
        char *q = exact_copy(cases[i].query, qlen);
        CHECK(q != NULL);
        if (q == NULL) {
            continue;
        }
        /* Something already in out shows that the value is appended and that a miss leaves
         * out alone. */
        struct buf out = {0};
        CHECK(buf_append_str(&out, "pre") == 0);
        int rc = query_get(q, qlen, cases[i].name, &out);
        if (rc != cases[i].found) {
            fprintf(stderr, "case %zu [%s] name [%s]: query_get = %d\n", i, cases[i].query,
                    cases[i].name, rc);
        }
        CHECK(rc == cases[i].found);
        if (cases[i].found) {
            bool same = out.len == 3 + cases[i].want_len && memcmp(out.data, "pre", 3) == 0 &&
                        memcmp(out.data + 3, cases[i].want, cases[i].want_len) == 0;
            if (!same) {
                fprintf(stderr, "case %zu [%s] name [%s]: value [%.*s] (%zu bytes), want %zu\n", i,
                        cases[i].query, cases[i].name, (int)(out.len - 3), out.data + 3,
                        out.len - 3, cases[i].want_len);
            }
            CHECK(same);
        } else {
            CHECK_MEM_STR(out.data, out.len, "pre");
        }
        buf_finish(&out);
        free(q);
    }
}

/* The length bounds the query: nothing past it is read or decoded. */
static void test_length_bound(void)
{
    static const struct {
        const char *s;
        size_t len;
        int found;
        const char *want;
    } cut[] = {
        {"param=%41", 8, 1, "%4"}, /* an escape cut in half stays literal */
        {"param=%41", 7, 1, "%"},    {"param=%41", 6, 1, ""},
        {"param=%41", 5, 1, ""}, /* "param" alone: found, empty */
        {"param=%41", 4, 0, NULL},   {"param=a&param=b", 7, 1, "a"},
        {"x=1&param=b", 4, 0, NULL}, {"param=abc", 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        char *q = exact_copy(cut[i].s, cut[i].len);
        CHECK(q != NULL);
        if (q == NULL) {
            continue;
        }
        struct buf out = {0};
        CHECK(buf_append_byte(&out, '<') == 0);
        int rc = query_get(q, cut[i].len, "param", &out);
        CHECK(rc == cut[i].found);
        if (cut[i].found) {
            CHECK_MEM_STR(out.data + 1, out.len - 1, cut[i].want);
        } else {
            CHECK(out.len == 1);
        }
        buf_finish(&out);
        struct buf dec = {0};
        CHECK(query_decode(q, cut[i].len, &dec) == 0);
        CHECK(dec.len <= cut[i].len);
        buf_finish(&dec);
        free(q);
    }
    /* query_decode on its own, appending after what is there. */
    struct buf out = {0};
    CHECK(buf_append_str(&out, "<") == 0);
    CHECK(query_decode("a+%41%4", 7, &out) == 0);
    CHECK_MEM_STR(out.data, out.len, "<a A%4");
    CHECK(query_decode("", 0, &out) == 0);
    CHECK_MEM_STR(out.data, out.len, "<a A%4");
    buf_finish(&out);
}

static bool has_byte(const char *s, size_t len, char c)
{
    return memchr(s, c, len) != NULL;
}

/* Pseudo-random queries: invariants that hold for any input, and hashes of Python's answers. */
static void test_differential(void)
{
    int bad_len = 0, bad_identity = 0, bad_prefix = 0, identity_seen = 0, prefix_seen = 0;
    int found = 0;
    for (size_t block = 0; block < DIFF_N / DIFF_BLOCK; block++) {
        uint64_t hget = FNV_OFFSET;
        uint64_t hdec = FNV_OFFSET;
        for (size_t k = 0; k < DIFF_BLOCK; k++) {
            char q[64];
            size_t qlen = 0;
            uint64_t ntok = rnd() % 9;
            for (uint64_t t = 0; t < ntok; t++) {
                const char *tok = tokens[rnd() % NTOKENS];
                memcpy(q + qlen, tok, strlen(tok));
                qlen += strlen(tok);
            }

            struct buf v = {0};
            int rc = query_get(q, qlen, "param", &v);
            CHECK(rc == 0 || rc == 1);
            if (rc == 1) {
                found++;
                hget = fnv(hget, "\1", 1);
                hget = fnv_len(hget, v.len);
                hget = fnv(hget, v.data, v.len);
            } else {
                hget = fnv(hget, "\0", 1);
            }

            struct buf d = {0};
            CHECK(query_decode(q, qlen, &d) == 0);
            hdec = fnv_len(hdec, d.len);
            hdec = fnv(hdec, d.data, d.len);
            if (d.len > qlen) {
                bad_len++;
            }
            if (!has_byte(q, qlen, '%') && !has_byte(q, qlen, '+')) {
                identity_seen++;
                if (d.len != qlen || (qlen > 0 && memcmp(d.data, q, qlen) != 0)) {
                    bad_identity++;
                }
            }
            /* "param=" + q is found, and its value is the decoding of all of q. */
            if (!has_byte(q, qlen, '&')) {
                prefix_seen++;
                char pq[80];
                memcpy(pq, "param=", 6);
                memcpy(pq + 6, q, qlen);
                struct buf pv = {0};
                if (query_get(pq, 6 + qlen, "param", &pv) != 1 || pv.len != d.len ||
                    (d.len > 0 && memcmp(pv.data, d.data, d.len) != 0)) {
                    bad_prefix++;
                }
                buf_finish(&pv);
            }
            buf_finish(&v);
            buf_finish(&d);
        }
        if (hget != expected[block].get || hdec != expected[block].decode) {
            fprintf(stderr, "differential block %zu (strings %zu..%zu) differs from Python\n",
                    block, block * DIFF_BLOCK, (block + 1) * DIFF_BLOCK - 1);
        }
        CHECK(hget == expected[block].get);
        CHECK(hdec == expected[block].decode);
    }
    CHECK(bad_len == 0);
    CHECK(bad_identity == 0);
    CHECK(bad_prefix == 0);
    /* The generator really exercises each branch (Python found "param" in 961 strings). */
    CHECK(found == 961);
    CHECK(identity_seen > 100);
    CHECK(prefix_seen > 100);
}

int main(void)
{
    test_table();
    test_length_bound();
    test_differential();
    return CHECK_DONE();
}
