/* Unit tests for lower: every code point, and three Final_Sigma probes of each, against Python. */
#include "lower.h"
#include "utf8.h"
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* The reference file (tests/unicode/lower_reference.txt, made by gen_lower_reference.py, whose
 * docstring describes the format) says what /usr/bin/python3's str.lower() does. */
struct mapping {
    uint32_t cp;
    uint32_t lc[3];
    size_t n;
};

struct probe_range {
    uint32_t first;
    uint32_t last;
    unsigned bits; /* b1 b2 b3 as a 3-bit number, b1 the highest */
};

/* The only bit patterns Python's rule can produce (see the generator). */
enum {
    CLASS_IGNORABLE = 3, /* 011 */
    CLASS_CASED = 6,     /* 110 */
    CLASS_NEITHER = 1,   /* 001 */
};

struct reference {
    struct mapping *maps;
    size_t nmaps;
    struct probe_range *probes;
    size_t nprobes;
    unsigned char *class_of; /* per code point, from the probe ranges */
};

#define SIGMA "\xCE\xA3"       /* U+03A3 */
#define SMALL_SIGMA "\xCF\x83" /* U+03C3 */
#define FINAL_SIGMA "\xCF\x82" /* U+03C2 */

static bool is_scalar(uint32_t cp)
{
    return cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
}

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) {
        return p;
    }
    *cap = *cap ? *cap * 2 : 256;
    void *q = realloc(p, *cap * size);
    if (q == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return q;
}

/* Reads and checks the reference; returns false (after saying why) if it is malformed. */
static bool load_reference(const char *path, struct reference *ref)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return false;
    }
    size_t map_cap = 0;
    size_t probe_cap = 0;
    char line[256];
    int lineno = 0;
    bool ok = true;
    uint32_t next = 0; /* the first code point the next P range must start at */
    while (ok && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        if (line[0] == 'M') {
            struct mapping m = {0};
            int n = sscanf(line, "M %x %x %x %x", &m.cp, &m.lc[0], &m.lc[1], &m.lc[2]);
            m.n = n > 1 ? (size_t)(n - 1) : 0;
            ok = n >= 2 && is_scalar(m.cp) &&
                 (ref->nmaps == 0 || ref->maps[ref->nmaps - 1].cp < m.cp);
            for (size_t k = 0; ok && k < m.n; k++) {
                ok = is_scalar(m.lc[k]);
            }
            ref->maps = grow(ref->maps, &map_cap, ref->nmaps, sizeof *ref->maps);
            ref->maps[ref->nmaps++] = m;
        } else if (line[0] == 'P') {
            struct probe_range r;
            char bits[4];
            ok = sscanf(line, "P %x %x %3[01]", &r.first, &r.last, bits) == 3 && strlen(bits) == 3;
            if (ok) {
                r.bits = (unsigned)strtoul(bits, NULL, 2);
                if (next == 0xD800) {
                    next = 0xE000;
                }
                ok =
                    r.first == next && r.first <= r.last && is_scalar(r.first) &&
                    is_scalar(r.last) && (r.first > 0xDFFF || r.last < 0xD800) &&
                    (r.bits == CLASS_IGNORABLE || r.bits == CLASS_CASED || r.bits == CLASS_NEITHER);
                next = r.last + 1;
            }
            ref->probes = grow(ref->probes, &probe_cap, ref->nprobes, sizeof *ref->probes);
            ref->probes[ref->nprobes++] = r;
        } else {
            ok = false;
        }
    }
    if (!ok) {
        fprintf(stderr, "%s:%d: malformed line: %s", path, lineno, line);
    } else if (next != 0x110000 || ref->nmaps == 0) {
        fprintf(stderr, "%s: the P ranges do not cover every code point\n", path);
        ok = false;
    }
    fclose(f);
    if (!ok) {
        return false;
    }
    ref->class_of = malloc(0x110000);
    if (ref->class_of == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(ref->class_of, 0, 0x110000);
    for (size_t k = 0; k < ref->nprobes; k++) {
        memset(ref->class_of + ref->probes[k].first, (int)ref->probes[k].bits,
               ref->probes[k].last - ref->probes[k].first + 1);
    }
    return true;
}

static const struct mapping *find_mapping(const struct reference *ref, uint32_t cp)
{
    size_t lo = 0;
    size_t hi = ref->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ref->maps[mid].cp == cp) {
            return &ref->maps[mid];
        }
        if (ref->maps[mid].cp < cp) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Appends Python's lowercase of the single code point cp (no sigma context) to b. */
static void append_lower(struct buf *b, const struct reference *ref, uint32_t cp)
{
    const struct mapping *m = find_mapping(ref, cp);
    char enc[4];
    int rc = 0;
    if (m == NULL) {
        rc = buf_append(b, enc, utf8_encode(cp, enc));
    }
    for (size_t k = 0; m != NULL && k < m->n; k++) {
        rc |= buf_append(b, enc, utf8_encode(m->lc[k], enc));
    }
    if (rc != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
}

static int failures_shown;

/* Lowercases in[0..inlen) after a few bytes already in the buffer (which must survive) and
 * compares with want. Reports the first few failures in full; the caller counts them. */
static bool lower_matches(const char *in, size_t inlen, const char *want, size_t wantlen,
                          const char *what, uint32_t cp)
{
    static const char before[] = "pre:";
    struct buf out = {0};
    bool ok = buf_append(&out, before, 4) == 0;
    int rc = lower_utf8(in, inlen, &out);
    ok = ok && rc == 0 && out.len == 4 + wantlen && memcmp(out.data, before, 4) == 0 &&
         memcmp(out.data + 4, want, wantlen) == 0;
    if (!ok && failures_shown++ < 20) {
        fprintf(stderr, "%s U+%04X: rc %d, got [%.*s], want [%.*s]\n", what, (unsigned)cp, rc,
                out.len > 4 ? (int)(out.len - 4) : 0, out.len > 4 ? out.data + 4 : "", (int)wantlen,
                want);
    }
    buf_finish(&out);
    return ok;
}

/* Every code point alone, then in the three probes: chr+Σ, A+chr+Σ, AΣ+chr. */
static void sweep(const struct reference *ref, size_t *checked, size_t *mapped)
{
    struct buf want = {0};
    struct buf in = {0};
    size_t bad_single = 0;
    size_t bad_probe = 0;
    size_t r = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (!is_scalar(cp)) {
            continue;
        }
        while (ref->probes[r].last < cp) {
            r++;
        }
        unsigned bits = ref->probes[r].bits;
        char enc[4];
        size_t n = utf8_encode(cp, enc);
        (*checked)++;
        *mapped += find_mapping(ref, cp) != NULL;

        want.len = 0;
        append_lower(&want, ref, cp);
        bad_single += !lower_matches(enc, n, want.data, want.len, "alone", cp);

        /* chr + Σ */
        in.len = 0;
        buf_append(&in, enc, n);
        buf_append_str(&in, SIGMA);
        want.len = 0;
        append_lower(&want, ref, cp);
        buf_append_str(&want, bits & 4 ? FINAL_SIGMA : SMALL_SIGMA);
        bad_probe += !lower_matches(in.data, in.len, want.data, want.len, "chr+Σ", cp);

        /* A + chr + Σ */
        in.len = 0;
        buf_append_byte(&in, 'A');
        buf_append(&in, enc, n);
        buf_append_str(&in, SIGMA);
        want.len = 0;
        buf_append_byte(&want, 'a');
        append_lower(&want, ref, cp);
        buf_append_str(&want, bits & 2 ? FINAL_SIGMA : SMALL_SIGMA);
        bad_probe += !lower_matches(in.data, in.len, want.data, want.len, "A+chr+Σ", cp);

        /* A + Σ + chr; a trailing Σ is itself final (see the generator). */
        in.len = 0;
        buf_append_str(&in, "A" SIGMA);
        buf_append(&in, enc, n);
        want.len = 0;
        buf_append_str(&want, bits & 1 ? "a" FINAL_SIGMA : "a" SMALL_SIGMA);
        if (cp == 0x03A3) {
            buf_append_str(&want, FINAL_SIGMA);
        } else {
            append_lower(&want, ref, cp);
        }
        bad_probe += !lower_matches(in.data, in.len, want.data, want.len, "AΣ+chr", cp);
    }
    if (bad_single || bad_probe) {
        fprintf(stderr, "sweep: %zu code points alone and %zu probes wrong\n", bad_single,
                bad_probe);
    }
    CHECK(bad_single == 0);
    CHECK(bad_probe == 0);
    buf_finish(&want);
    buf_finish(&in);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * UINT64_C(0x2545F4914F6CDD1D)) >> 32);
}

/* Code points worth mixing into random strings: sigma, its neighbours in every class, the
 * mappings that change the UTF-8 length, and ones the Unicode 14/15 difference touches. */
static const uint32_t interesting[] = {
    0x03A3, 0x03A3, 0x03A3, 0x03C3,  0x0391,  0x0301,  0x0345, 0x02B0,  0x00AD, 0x200D,
    '\'',   '.',    ':',    '^',     '`',     ' ',     'A',    'z',     '1',    0x2019,
    0x0387, 0x00AA, 0x2160, 0x24D0,  0x1F130, 0x0130,  0x023A, 0x023E,  0x2126, 0x212A,
    0x1E9E, 0x01C5, 0x1F88, 0x10400, 0x1E030, 0x1DF25, 0x0ECE, 0x13439, 0x00DF, 0x4E00,
};

static uint32_t random_cp(void)
{
    uint32_t r = rng();
    switch (r % 4) {
    case 0:
        return 0x20 + (r >> 8) % 0x5F;
    case 1:
        return interesting[(r >> 8) % (sizeof interesting / sizeof interesting[0])];
    case 2:
        return 0x80 + (r >> 8) % 0x2F80; /* the alphabetic scripts and their marks */
    default:
        for (;;) {
            uint32_t cp = rng() % 0x110000;
            if (is_scalar(cp)) {
                return cp;
            }
        }
    }
}

/* Python's handle_capital_sigma, over the reference's classes rather than lower.c's tables. */
static bool model_final_sigma(const struct reference *ref, const uint32_t *cps, size_t n, size_t at)
{
    size_t j = at;
    while (j > 0 && ref->class_of[cps[j - 1]] == CLASS_IGNORABLE) {
        j--;
    }
    if (j == 0 || ref->class_of[cps[j - 1]] != CLASS_CASED) {
        return false;
    }
    j = at + 1;
    while (j < n && ref->class_of[cps[j]] == CLASS_IGNORABLE) {
        j++;
    }
    return j == n || ref->class_of[cps[j]] != CLASS_CASED;
}

/* Random strings, long enough to cross the eight-byte ASCII path and to make the output
 * buffer grow mid-string, compared with a model built from the reference. */
static size_t random_strings(const struct reference *ref)
{
    enum { STRINGS = 20000, MAXLEN = 64 };
    struct buf in = {0};
    struct buf want = {0};
    size_t bad = 0;
    for (int t = 0; t < STRINGS; t++) {
        uint32_t cps[MAXLEN];
        size_t n = rng() % MAXLEN;
        in.len = 0;
        want.len = 0;
        for (size_t k = 0; k < n; k++) {
            cps[k] = random_cp();
            char enc[4];
            buf_append(&in, enc, utf8_encode(cps[k], enc));
        }
        for (size_t k = 0; k < n; k++) {
            if (cps[k] == 0x03A3) {
                buf_append_str(&want,
                               model_final_sigma(ref, cps, n, k) ? FINAL_SIGMA : SMALL_SIGMA);
            } else {
                append_lower(&want, ref, cps[k]);
            }
        }
        bad +=
            !lower_matches(in.data, in.len, want.data, want.len, "random, first", n ? cps[0] : 0);
    }
    if (bad) {
        fprintf(stderr, "random: %zu of %d strings wrong\n", bad, (int)STRINGS);
    }
    CHECK(bad == 0);
    buf_finish(&in);
    buf_finish(&want);
    return STRINGS;
}

/* Hand-written cases; the expected strings are what /usr/bin/python3 printed. */
static const struct {
    const char *in;
    const char *want;
} cases[] = {
    {"", ""},
    {"ΣΑΣ", "σας"},
    {"İ", "i\u0307"},
    {"ὈΔΥΣΣΕΎΣ", "ὀδυσσεύς"},
    {"Hello, WORLD! ÀÉÎ ΣΑΣ Ωmega", "hello, world! àéî σας ωmega"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZ @[`{ 0123456789 abcdefghijklmnopqrstuvwxyz",
     "abcdefghijklmnopqrstuvwxyz @[`{ 0123456789 abcdefghijklmnopqrstuvwxyz"},
    {"Σ", "σ"},     /* alone: nothing cased before it */
    {"ΣΑ", "σα"},   /* at the start */
    {"ΑΣ", "ας"},   /* at the end */
    {"ΑΣ1", "ας1"}, /* followed by a digit, neither cased nor ignorable */
    {"1Σ", "1σ"},
    {"ΣΣ", "σς"},
    {"ΣΣΣ", "σσς"},
    {"A'Σ'", "a'ς'"}, /* ignorables both sides */
    {"A'Σ'B", "a'σ'b"},
    {"Σ.", "σ."},
    {"A.Σ", "a.ς"},
    {"AΣ.", "aς."},
    {"AΣ.B", "aσ.b"},
    {"AΣ B", "aς b"},
    {"A\u0301Σ", "a\u0301ς"},   /* combining mark (Mn) before */
    {"ΑΣ\u0301Β", "ασ\u0301β"}, /* ... and after, then a cased letter */
    {"A\u2019Σ", "a\u2019ς"},   /* Word_Break MidNumLet */
    {"A\u0387Σ", "a\u0387ς"},   /* Word_Break MidLetter */
    {"A\u00ADΣ", "a\u00ADς"},   /* soft hyphen, Cf */
    {"A\u200DΣ\u200D", "a\u200Dς\u200D"},
    {"\u0345Σ", "\u0345σ"}, /* cased and case-ignorable: ignorable wins */
    {"A\u0345Σ", "a\u0345ς"},
    {"\u02B0Σ", "\u02B0σ"},
    {"AΣ\u02B0", "aς\u02B0"},
    {"\u00AAΣ", "\u00AAς"}, /* Other_Lowercase, Lo */
    {"AΣ\u00AA", "aσ\u00AA"},
    {"\u2160Σ", "\u2170ς"}, /* Other_Uppercase, Nl, with a mapping */
    {"ǅΣ", "ǆς"},           /* titlecase (Lt) is cased */
    {"İSTANBUL", "i\u0307stanbul"},
    {"\u023A\u023E", "\u2C65\u2C66"}, /* lowercase longer in UTF-8 */
    {"K Å ẞ Ω", "k å ß ω"},           /* Kelvin, Angstrom, capital sharp s, Ohm: shorter */
    {"ᾈ ß ŉ", "ᾀ ß ŉ"},               /* full mappings that only upper/titlecase expand */
    /* Assigned only in Unicode 15 (utf8proc), unassigned for Python 3.11: neither. */
    {"A\U0001E030Σ", "a\U0001E030σ"},
    {"A\u0ECEΣ", "a\u0ECEσ"},
    {"A\U0001DF25Σ", "a\U0001DF25σ"},
    {"A\U00013439Σ", "a\U00013439σ"},
};

static const char *const invalid[] = {
    "\xFF",
    "\x80",
    "A\xC3",
    "\xC0\xAF",                                     /* overlong */
    "ΣΑ\xED\xA0\x80",                               /* surrogate */
    "\xF4\x90\x80\x80",                             /* past U+10FFFF */
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ\xE2\x82", /* truncated after the ASCII fast path */
    "ABCDEFGHIJKLMNOP\xCE\xA3\x80",                 /* stray continuation after a sigma */
};

static void hand_written(void)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct buf out = {0};
        int rc = lower_utf8(cases[k].in, strlen(cases[k].in), &out);
        CHECK(rc == 0);
        CHECK_MEM_STR(out.data ? out.data : "", out.len, cases[k].want);
        buf_finish(&out);
    }
    /* NUL is an ordinary code point of a counted string. */
    struct buf out = {0};
    CHECK(lower_utf8("A\0\xCE\xA3", 4, &out) == 0);
    CHECK(out.len == 4 && memcmp(out.data, "a\0\xCF\x83", 4) == 0);
    buf_finish(&out);

    /* Invalid input: -EINVAL and the buffer exactly as it was, storage included. */
    for (size_t k = 0; k < sizeof invalid / sizeof invalid[0]; k++) {
        buf_append_str(&out, "keep");
        char *data = out.data;
        size_t cap = out.cap;
        CHECK(lower_utf8(invalid[k], strlen(invalid[k]), &out) == -EINVAL);
        CHECK(out.data == data && out.cap == cap);
        CHECK_MEM_STR(out.data, out.len, "keep");
        buf_finish(&out);
    }

    /* Appending to an empty buffer with no storage, and lowercase that outgrows the input
     * many times over in one call, so the buffer must grow mid-string. */
    struct buf want = {0};
    struct buf in = {0};
    for (int k = 0; k < 3000; k++) {
        buf_append_str(&in, k % 3 == 0 ? "\u0130" : k % 3 == 1 ? "\u023A" : "Q");
        buf_append_str(&want, k % 3 == 0 ? "i\u0307" : k % 3 == 1 ? "\u2C65" : "q");
    }
    CHECK(lower_utf8(in.data, in.len, &out) == 0);
    CHECK(out.len == want.len && memcmp(out.data, want.data, want.len) == 0);
    buf_finish(&out);

    /* A long run of case-ignorables between a cased letter and each sigma. */
    in.len = 0;
    want.len = 0;
    buf_append_str(&in, "A");
    buf_append_str(&want, "a");
    for (int k = 0; k < 500; k++) {
        buf_append_str(&in, "'\u0301");
        buf_append_str(&want, "'\u0301");
    }
    buf_append_str(&in, "ΣΣ'.'");
    buf_append_str(&want, "σς'.'");
    CHECK(lower_utf8(in.data, in.len, &out) == 0);
    CHECK(out.len == want.len && memcmp(out.data, want.data, want.len) == 0);
    buf_finish(&out);
    buf_finish(&in);
    buf_finish(&want);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/unicode/lower_reference.txt\n", argv[0]);
        return 2;
    }
    struct reference ref = {0};
    if (!load_reference(argv[1], &ref)) {
        return 1;
    }
    hand_written();
    size_t checked = 0;
    size_t mapped = 0;
    sweep(&ref, &checked, &mapped);
    size_t strings = random_strings(&ref);
    fprintf(stderr,
            "lower: %zu code points checked (%zu with a lowercase mapping), each alone and in "
            "3 sigma probes; %zu random strings; %zu hand-written cases\n",
            checked, mapped, strings, sizeof cases / sizeof cases[0]);
    free(ref.maps);
    free(ref.probes);
    free(ref.class_of);
    return CHECK_DONE();
}
