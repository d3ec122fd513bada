/* lower: Unicode default lowercasing (full mappings + Final_Sigma), identical to Python 3.11. */
#include "lower.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#include "utf8.h"

/* The reference is /usr/bin/python3 on Debian 12: Python 3.11.2, whose tables are Unicode 14.0.
 * utf8proc 2.8.0 supplies the simple lowercase mappings and the general categories, from
 * Unicode 15.0. It has neither the Cased and Case_Ignorable properties that Final_Sigma needs
 * nor SpecialCasing's full mappings, so the small tables below fill those gaps with Unicode 14
 * data. tests/test_lower.c compares every code point with Python, so a new utf8proc that
 * changes anything shows up there. */

struct range {
    uint32_t first;
    uint32_t last;
};

/* Cased = Lowercase or Uppercase or gc=Lt (DerivedCoreProperties), where Lowercase = Ll plus
 * Other_Lowercase and Uppercase = Lu plus Other_Uppercase (PropList-14.0.0). These are the
 * Other_Lowercase and Other_Uppercase entries whose category is not Lm or Mn. The Lm and Mn
 * ones (U+02B0..02B8, U+0345, U+1D2C..1D6A, ...) are also Case_Ignorable, and Final_Sigma asks
 * Case_Ignorable first, so whether they are Cased never changes a result. */
static const struct range other_cased[] = {
    {0x00AA, 0x00AA},   /* Other_Lowercase, Lo: feminine ordinal indicator */
    {0x00BA, 0x00BA},   /* Other_Lowercase, Lo: masculine ordinal indicator */
    {0x2160, 0x217F},   /* Other_Uppercase 2160..216F and Other_Lowercase 2170..217F, Nl */
    {0x24B6, 0x24E9},   /* Other_Uppercase 24B6..24CF and Other_Lowercase 24D0..24E9, So */
    {0x1F130, 0x1F149}, /* Other_Uppercase, So: squared Latin capitals */
    {0x1F150, 0x1F169}, /* Other_Uppercase, So: negative circled Latin capitals */
    {0x1F170, 0x1F189}, /* Other_Uppercase, So: negative squared Latin capitals */
};

/* Case_Ignorable = gc in {Mn, Me, Cf, Lm, Sk} or Word_Break in {MidLetter, MidNumLet,
 * Single_Quote} (DerivedCoreProperties). utf8proc gives the categories; these are the non-ASCII
 * code points with those Word_Break values (WordBreakProperty-14.0.0). The ASCII ones, ' . :,
 * are tested directly. */
static const struct range word_break_mid[] = {
    {0x00B7, 0x00B7}, /* MidLetter: middle dot */
    {0x0387, 0x0387}, /* MidLetter: Greek ano teleia */
    {0x055F, 0x055F}, /* MidLetter: Armenian abbreviation mark */
    {0x05F4, 0x05F4}, /* MidLetter: Hebrew punctuation gershayim */
    {0x2018, 0x2019}, /* MidNumLet: single quotation marks */
    {0x2024, 0x2024}, /* MidNumLet: one dot leader */
    {0x2027, 0x2027}, /* MidLetter: hyphenation point */
    {0xFE13, 0xFE13}, /* MidLetter: presentation form for vertical colon */
    {0xFE52, 0xFE52}, /* MidNumLet: small full stop */
    {0xFE55, 0xFE55}, /* MidLetter: small colon */
    {0xFF07, 0xFF07}, /* MidNumLet: fullwidth apostrophe */
    {0xFF0E, 0xFF0E}, /* MidNumLet: fullwidth full stop */
    {0xFF1A, 0xFF1A}, /* MidLetter: fullwidth colon */
};

/* Code points that Unicode 15.0 assigned and Unicode 14.0 did not, limited to those where it
 * matters here: utf8proc puts them in a Cased or Case_Ignorable category, while for Python 3.11
 * they are unassigned (gc=Cn), so neither. Found by comparing utf8proc_category() with
 * unicodedata.category() over all code points; no code point assigned in both versions changed
 * category, and no simple lowercase mapping differs, so lowercase mappings need no table. */
static const struct range new_in_unicode15[] = {
    {0x0ECE, 0x0ECE},   /* Mn: Lao yamakkan */
    {0x10EFD, 0x10EFF}, /* Mn: Arabic small low word marks */
    {0x11241, 0x11241}, /* Mn: Khojki vowel sign vocalic r */
    {0x11F00, 0x11F01}, /* Mn: Kawi signs */
    {0x11F36, 0x11F3A}, /* Mn: Kawi vowel signs */
    {0x11F40, 0x11F40}, /* Mn: Kawi vowel sign eu */
    {0x11F42, 0x11F42}, /* Mn: Kawi conjoiner */
    {0x13439, 0x13440}, /* Cf 13439..1343F, Mn 13440: Egyptian hieroglyph format controls */
    {0x13447, 0x13455}, /* Mn: Egyptian hieroglyph modifier damaged */
    {0x1DF25, 0x1DF2A}, /* Ll: Latin small letters with retroflex hook etc. */
    {0x1E030, 0x1E06D}, /* Lm: Cyrillic modifier letters */
    {0x1E08F, 0x1E08F}, /* Mn: combining Cyrillic small letter byelorussian-ukrainian i */
    {0x1E4EB, 0x1E4EF}, /* Lm 1E4EB, Mn 1E4EC..1E4EF: Nag Mundari */
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool in_ranges(const struct range *r, size_t n, uint32_t cp)
{
    size_t lo = 0;
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].first) {
            hi = mid;
        } else if (cp > r[mid].last) {
            lo = mid + 1;
        } else {
            return true;
        }
    }
    return false;
}

static bool case_ignorable(uint32_t cp)
{
    if (cp < 0x80) {
        return cp == '\'' || cp == '.' || cp == ':' || cp == '^' || cp == '`';
    }
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
        return !in_ranges(new_in_unicode15, COUNT(new_in_unicode15), cp);
    default:
        return in_ranges(word_break_mid, COUNT(word_break_mid), cp);
    }
}

/* Only meaningful for code points that are not case-ignorable (see other_cased). */
static bool cased(uint32_t cp)
{
    if (cp < 0x80) {
        return (uint32_t)((cp | 0x20) - 'a') < 26;
    }
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
        return !in_ranges(new_in_unicode15, COUNT(new_in_unicode15), cp);
    default:
        return in_ranges(other_cased, COUNT(other_cased), cp);
    }
}

/* Python's handle_capital_sigma: the U+03A3 at p[at..at+n) lowercases to final U+03C2 when,
 * skipping case-ignorable code points, the one before it is cased and the one after it (if any)
 * is not. Like Python, case-ignorable is tested before cased. p[0..len) is valid UTF-8. Each
 * scan stops at the first code point that is not case-ignorable, and a U+03A3 is such a code
 * point, so the scans of all the sigmas in a string touch each byte at most twice. */
static bool final_sigma(const unsigned char *p, size_t len, size_t at, size_t n)
{
    uint32_t cp = 0;
    size_t j = at;
    bool found = false;
    while (j > 0) {
        do {
            j--;
        } while (j > 0 && (p[j] & 0xC0) == 0x80);
        utf8_decode(p + j, len - j, &cp);
        if (!case_ignorable(cp)) {
            found = true;
            break;
        }
    }
    if (!found || !cased(cp)) {
        return false;
    }
    for (j = at + n; j < len;) {
        j += utf8_decode(p + j, len - j, &cp);
        if (!case_ignorable(cp)) {
            return !cased(cp);
        }
    }
    return true;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGH_BITS (ONES * 0x80)

/* Length of the all-ASCII start of p[0..len), eight bytes at a time while it can. */
static size_t ascii_prefix(const unsigned char *p, size_t len)
{
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & HIGH_BITS) {
            break;
        }
    }
    while (i < len && p[i] < 0x80) {
        i++;
    }
    return i;
}

/* Lowercases eight ASCII bytes at once. Every byte is below 0x80, so adding a constant below
 * 0x80 cannot carry into the next byte: the high bit of b + (0x80 - 'A') says b >= 'A', that of
 * b + (0x80 - 'Z' - 1) says b > 'Z', and 0x80 >> 2 is the 0x20 that lowercases A-Z. */
static uint64_t lower_ascii8(uint64_t w)
{
    uint64_t ge_a = w + ONES * (0x80 - 'A');
    uint64_t gt_z = w + ONES * (0x80 - 'Z' - 1);
    return w | ((ge_a & ~gt_z & HIGH_BITS) >> 2);
}

int lower_utf8(const char *s, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0) {
        return 0;
    }
    /* Validate before touching out, so that on -EINVAL it is exactly as it was. The ASCII
     * start, all of most inputs, needs no decoding. */
    size_t start = ascii_prefix(p, len);
    if (start < len && !utf8_valid(s + start, len - start)) {
        return -EINVAL;
    }
    /* Lowercase output is usually as long as the input, so one reservation normally suffices.
     * Invariant of the loop: out has room for at least len - i more bytes past o. */
    int rc = buf_reserve(out, len);
    if (rc < 0) {
        return rc;
    }
    size_t orig_len = out->len;
    size_t o = out->len;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & HIGH_BITS) {
                    break;
                }
                w = lower_ascii8(w);
                memcpy(out->data + o, &w, 8);
                i += 8;
                o += 8;
            }
            while (i < len && (c = p[i]) < 0x80) {
                out->data[o++] = (char)((uint32_t)(c - 'A') < 26 ? c + 0x20 : c);
                i++;
            }
            continue;
        }
        uint32_t cp = 0;
        size_t n = utf8_decode(p + i, len - i, &cp);
        char enc[4];
        const char *src;
        size_t m;
        if (cp == 0x0130) {
            /* SpecialCasing's only unconditional full lowercase mapping that differs from the
             * simple one: U+0130 -> U+0069 U+0307 (the Turkish rule is language-specific). */
            src = "i\xCC\x87";
            m = 3;
        } else {
            uint32_t lc;
            if (cp == 0x03A3) {
                lc = final_sigma(p, len, i, n) ? 0x03C2 : 0x03C3;
            } else {
                lc = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
            }
            if (lc == cp) {
                src = s + i;
                m = n;
            } else {
                m = utf8_encode(lc, enc);
                src = enc;
            }
        }
        if (m > n && out->cap - o < len - i - n + m) {
            /* A longer lowercase (U+0130, U+023A...) used up the slack: restore the invariant. */
            out->len = o;
            rc = buf_reserve(out, len - i - n + m);
            if (rc < 0) {
                out->len = orig_len;
                return rc;
            }
        }
        /* At most four bytes: a loop beats a call to memcpy with a variable length. */
        for (size_t k = 0; k < m; k++) {
            out->data[o++] = src[k];
        }
        i += n;
    }
    out->len = o;
    return 0;
}
