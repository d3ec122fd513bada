/* Unit tests for utf8: the table follows the cases Python's strict decoder rejects. */
#include "utf8.h"
#include "check.h"

static const struct {
    const char *bytes;
    bool valid;
} cases[] = {
    {"", true},
    {"plain ascii", true},
    {"\xC3\xA9", true},          /* é */
    {"\xE2\x82\xAC", true},      /* € */
    {"\xF0\x9F\x98\x80", true},  /* U+1F600 */
    {"\xF4\x8F\xBF\xBF", true},  /* U+10FFFF, the last scalar value */
    {"\xEF\xBF\xBF", true},      /* U+FFFF, a noncharacter but valid */
    {"\x80", false},             /* lone continuation byte */
    {"\xC0\xAF", false},         /* overlong '/' */
    {"\xC1\xBF", false},         /* overlong */
    {"\xE0\x80\xAF", false},     /* overlong 3-byte */
    {"\xF0\x80\x80\xAF", false}, /* overlong 4-byte */
    {"\xED\xA0\x80", false},     /* surrogate U+D800 */
    {"\xED\xBF\xBF", false},     /* surrogate U+DFFF */
    {"\xF4\x90\x80\x80", false}, /* U+110000 */
    {"\xF5\x80\x80\x80", false},
    {"\xFF", false},
    {"\xC3", false},     /* truncated */
    {"\xE2\x82", false}, /* truncated */
    {"a\xC3(", false},   /* bad continuation */
    {"\xE2\x28\xA1", false},
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = utf8_valid(cases[i].bytes, strlen(cases[i].bytes));
        if (got != cases[i].valid) {
            fprintf(stderr, "case %zu: utf8_valid = %d\n", i, got);
        }
        CHECK(got == cases[i].valid);
    }
    /* Round trip every scalar value through encode and decode. */
    int bad = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            continue;
        }
        char out[4];
        size_t n = utf8_encode(cp, out);
        uint32_t back = 0;
        if (utf8_decode((const unsigned char *)out, n, &back) != n || back != cp) {
            bad++;
        }
    }
    CHECK(bad == 0);
    /* NUL is a valid code point inside a counted string. */
    CHECK(utf8_valid("a\0b", 3));
    return CHECK_DONE();
}
