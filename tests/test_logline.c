/* Unit tests for logline: the escapers, the three line formats, and the time cache. */
#include "logline.h"
#include "utf8.h"
#include "check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* A string literal and its length, for inputs that hold a NUL byte. */
#define V(s) s, sizeof(s) - 1

#define FFFD "\xEF\xBF\xBD"

static const struct {
    const char *in;
    size_t len;
    const char *want;
} text_cases[] = {
    {V(""), ""},
    {V("lower case of HeLLo is hello"), "lower case of HeLLo is hello"},
    {V(" !~/\"'"), " !~/\"'"},
    {V("a\\b"), "a\\\\b"},
    {V("\\n"), "\\\\n"}, /* a literal backslash-n stays apart */
    {V("a\nb"), "a\\nb"},
    {V("\r\n"), "\\r\\n"},
    {V("\t"), "\\t"},
    {V("\0"), "\\x00"},
    {V("x\0y"), "x\\x00y"},
    {V("\x01"), "\\x01"},
    {V("\x08\x0b\x0c"), "\\x08\\x0b\\x0c"},
    {V("\x1b[31m"), "\\x1b[31m"}, /* no terminal escapes reach the log */
    {V("\x1f"), "\\x1f"},
    {V("\x7f"), "\\x7f"},
    {V("\xC3\xA9t\xC3\xA9"), "\xC3\xA9t\xC3\xA9"}, /* été */
    {V("\xE2\x82\xAC"), "\xE2\x82\xAC"},           /* € */
    {V("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80"},   /* U+1F600 */
    {V("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF"},   /* U+10FFFF */
    {V("\xC2\xA0"), "\xC2\xA0"},                   /* U+00A0, just past the C1 controls */
    {V("\xC2\x80"), "\\u0080"},
    {V("\xC2\x85"), "\\u0085"}, /* NEL */
    {V("\xC2\x9F"), "\\u009f"},
    {V("\xE2\x80\xA7"), "\xE2\x80\xA7"}, /* U+2027 */
    {V("\xE2\x80\xA8"), "\\u2028"},
    {V("\xE2\x80\xA9"), "\\u2029"},
    {V("\xE2\x80\xAA"), "\xE2\x80\xAA"}, /* U+202A */
    {V("\x80"), "\\x80"},                /* lone continuation byte */
    {V("a\xBFz"), "a\\xbfz"},
    {V("\xFF"), "\\xff"},
    {V("\xFE\xAB"), "\\xfe\\xab"},          /* hex digits are lowercase */
    {V("\xC0\xAF"), "\\xc0\\xaf"},          /* overlong '/' */
    {V("\xE0\x80\xAF"), "\\xe0\\x80\\xaf"}, /* overlong 3-byte */
    {V("\xF0\x80\x80\xAF"), "\\xf0\\x80\\x80\\xaf"},
    {V("\xED\xA0\x80"), "\\xed\\xa0\\x80"},          /* surrogate U+D800 */
    {V("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"}, /* U+110000 */
    {V("\xC3"), "\\xc3"},                            /* truncated */
    {V("\xE2\x82"), "\\xe2\\x82"},
    {V("\xF0\x9F\x98"), "\\xf0\\x9f\\x98"},
    {V("\xE2\x82x"), "\\xe2\\x82x"},
    {V("a\xC3("), "a\\xc3("},
    {V("\xC3\xA9\xC3"), "\xC3\xA9\\xc3"}, /* valid, then a truncated sequence */
    {V("\xC3\xC3\xA9"), "\\xc3\xC3\xA9"}, /* a bad lead byte does not eat the next */
};

static const struct {
    const char *in;
    size_t len;
    const char *want;
} json_cases[] = {
    {V(""), ""},
    {V("plain text"), "plain text"},
    {V("say \"hi\""), "say \\\"hi\\\""},
    {V("a\\b"), "a\\\\b"},
    {V("/"), "/"},
    {V("a\nb\r\t"), "a\\nb\\r\\t"},
    {V("\0"), "\\u0000"},
    {V("\x01"), "\\u0001"},
    {V("\x08\x0c"), "\\u0008\\u000c"},
    {V("\x1b\x1f"), "\\u001b\\u001f"},
    {V("\x7f"), "\x7f"}, /* DEL needs no escape in JSON */
    {V("\xC3\xA9"), "\xC3\xA9"},
    {V("\xC2\x85"), "\\u0085"}, /* C1 controls: escaped, as in text */
    {V("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80"},
    {V("\xE2\x80\xA8"), "\\u2028"}, /* JavaScript line terminators */
    {V("\xE2\x80\xA9"), "\\u2029"},
    {V("\xE2\x80\xA7"), "\xE2\x80\xA7"},
    {V("\xFF"), FFFD},
    {V("a\x80z"), "a" FFFD "z"},
    {V("\xE2\x82"), FFFD FFFD}, /* each bad byte, as the header says */
    {V("\xED\xA0\x80"), FFFD FFFD FFFD},
    {V("\xC0\xAF"), FFFD FFFD},
    {V("\xC3\""), FFFD "\\\""},
};

/* The inverse of logline_escape_text: the log must keep every byte recoverable. Returns false
 * on any escape the header does not describe (uppercase hex included). */
static int hexdigit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

static bool hex_run(const char *s, size_t len, size_t at, size_t n, uint32_t *v)
{
    if (at + n > len) {
        return false;
    }
    *v = 0;
    for (size_t k = 0; k < n; k++) {
        int d = hexdigit(s[at + k]);
        if (d < 0) {
            return false;
        }
        *v = *v << 4 | (uint32_t)d;
    }
    return true;
}

static bool unescape_text(const char *s, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len;) {
        if (s[i] != '\\') {
            buf_append_byte(out, s[i++]);
            continue;
        }
        if (i + 1 >= len) {
            return false;
        }
        char e = s[i + 1];
        uint32_t v;
        char enc[4];
        switch (e) {
        case '\\':
            buf_append_byte(out, '\\');
            i += 2;
            break;
        case 'n':
            buf_append_byte(out, '\n');
            i += 2;
            break;
        case 'r':
            buf_append_byte(out, '\r');
            i += 2;
            break;
        case 't':
            buf_append_byte(out, '\t');
            i += 2;
            break;
        case 'x':
            if (!hex_run(s, len, i + 2, 2, &v)) {
                return false;
            }
            buf_append_byte(out, (char)v);
            i += 4;
            break;
        case 'u':
            if (!hex_run(s, len, i + 2, 4, &v) || (v >= 0xD800 && v <= 0xDFFF)) {
                return false;
            }
            buf_append(out, enc, utf8_encode(v, enc));
            i += 6;
            break;
        default:
            return false;
        }
    }
    return true;
}

/* Parses s as the inside of a JSON string (RFC 8259), appending what it means. */
static bool unescape_json(const char *s, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"') {
            return false;
        }
        if (c != '\\') {
            buf_append_byte(out, s[i++]);
            continue;
        }
        if (i + 1 >= len) {
            return false;
        }
        static const char simple[] = "\"\\/bfnrt";
        static const char meaning[] = "\"\\/\b\f\n\r\t";
        const char *at = strchr(simple, s[i + 1]);
        if (s[i + 1] != '\0' && at != NULL) {
            buf_append_byte(out, meaning[at - simple]);
            i += 2;
            continue;
        }
        uint32_t v;
        char enc[4];
        if (s[i + 1] != 'u' || !hex_run(s, len, i + 2, 4, &v) || (v >= 0xD800 && v <= 0xDFFF)) {
            return false;
        }
        buf_append(out, enc, utf8_encode(v, enc));
        i += 6;
    }
    return true;
}

/* No raw control byte and no code point that some reader takes as a line break. */
static bool text_output_safe(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
            cp == 0x2029) {
            return false;
        }
        i += n;
    }
    return true;
}

static bool json_output_safe(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x2028 || cp == 0x2029) {
            return false;
        }
        i += n;
    }
    return true;
}

static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

static void test_escape_tables(void)
{
    for (size_t i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++) {
        struct buf out = {0};
        CHECK(buf_append_str(&out, "<") == 0);
        CHECK(logline_escape_text(&out, text_cases[i].in, text_cases[i].len) == 0);
        CHECK(out.len >= 1 && out.data[0] == '<');
        CHECK_MEM_STR(out.data + 1, out.len - 1, text_cases[i].want);
        buf_finish(&out);
    }
    for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
        struct buf out = {0};
        CHECK(buf_append_str(&out, "<") == 0);
        CHECK(logline_escape_json(&out, json_cases[i].in, json_cases[i].len) == 0);
        CHECK(out.len >= 1 && out.data[0] == '<');
        CHECK_MEM_STR(out.data + 1, out.len - 1, json_cases[i].want);
        buf_finish(&out);
    }
}

/* Escapes s both ways and checks the properties every output must have. Returns the number
 * of failed properties, so a loop over thousands of inputs reports a count. */
static int check_properties(const char *s, size_t len)
{
    int bad = 0;
    struct buf t = {0};
    struct buf back = {0};
    if (logline_escape_text(&t, s, len) != 0) {
        bad++;
    }
    if (!utf8_valid(t.data, t.len) || !text_output_safe(t.data, t.len)) {
        bad++;
    }
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.data[i];
        if (c < 0x20 || c == 0x7F) {
            bad++;
            break;
        }
    }
    if (!unescape_text(t.data, t.len, &back) || back.len != len ||
        (len > 0 && memcmp(back.data, s, len) != 0)) {
        bad++;
    }

    struct buf j = {0};
    back.len = 0;
    if (logline_escape_json(&j, s, len) != 0) {
        bad++;
    }
    if (!utf8_valid(j.data, j.len) || !json_output_safe(j.data, j.len) ||
        !unescape_json(j.data, j.len, &back)) {
        bad++;
    } else if (utf8_valid(s, len)) {
        /* Valid text survives exactly. */
        if (back.len != len || (len > 0 && memcmp(back.data, s, len) != 0)) {
            bad++;
        }
    } else if (!contains(back.data, back.len, FFFD)) {
        bad++;
    }
    if (bad > 0) {
        fprintf(stderr, "properties fail for %zu bytes:", len);
        for (size_t i = 0; i < len; i++) {
            fprintf(stderr, " %02x", (unsigned char)s[i]);
        }
        fputc('\n', stderr);
    }
    buf_finish(&t);
    buf_finish(&j);
    buf_finish(&back);
    return bad;
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Appends one random piece: mostly the awkward ones (controls, stray high bytes, encodings of
 * C1 controls and separators, broken sequences), sometimes plain text. */
static size_t random_piece(char *p)
{
    static const char *const broken[] = {
        "\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80", "\xE2\x82",
        "\xF0\x9F\x98", "\xC3",     "\xE0\x80\xAF",     "\xF5\x80\x80\x80",
    };
    static const uint32_t special[] = {0x80, 0x85, 0x9F, 0xA0, 0x2028, 0x2029, 0xFFFD, 0xFEFF};
    switch (rnd() % 7) {
    case 0:
        p[0] = (char)(rnd() % 0x80);
        return 1;
    case 1:
        p[0] = (char)(0x80 + rnd() % 0x80);
        return 1;
    case 2: {
        const char *b = broken[rnd() % (sizeof broken / sizeof broken[0])];
        memcpy(p, b, strlen(b));
        return strlen(b);
    }
    case 3:
        return utf8_encode(special[rnd() % (sizeof special / sizeof special[0])], p);
    case 4: {
        uint32_t cp = (uint32_t)(rnd() % 0x110000);
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0x2029;
        }
        return utf8_encode(cp, p);
    }
    case 5:
        p[0] = "\\\"\n\r\t\x7f"[rnd() % 6];
        return 1;
    default:
        p[0] = (char)('a' + rnd() % 26);
        return 1;
    }
}

static size_t random_string(char *s)
{
    size_t len = 0;
    uint64_t pieces = rnd() % 13;
    for (uint64_t k = 0; k < pieces; k++) {
        len += random_piece(s + len);
    }
    return len;
}

static void test_escape_properties(void)
{
    int bad = 0;
    for (int c = 0; c < 256; c++) {
        char s[1] = {(char)c};
        bad += check_properties(s, 1);
    }
    CHECK(bad == 0);
    /* Every two-byte string starting with a lead byte: the sequences cut short or completed. */
    bad = 0;
    for (int a = 0xC0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            char s[2] = {(char)a, (char)b};
            bad += check_properties(s, 2);
        }
    }
    CHECK(bad == 0);
    bad = 0;
    for (int n = 0; n < 20000; n++) {
        char s[64];
        bad += check_properties(s, random_string(s));
    }
    CHECK(bad == 0);
}

/* 2025-11-24T16:20:49 UTC (from /usr/bin/python3:
 * datetime.datetime.fromtimestamp(1764001249, datetime.timezone.utc)). */
#define T0 1764001249

static struct wire_msg plain_msg(const char *text, size_t len)
{
    struct wire_msg m;
    memset(&m, 0, sizeof m);
    m.kind = WIRE_PLAIN;
    m.text = text;
    m.text_len = len;
    return m;
}

/* Formats one message on a fresh buffer holding "<" and checks the line after it. */
static void check_line(struct logline *l, const struct wire_msg *m, time_t sec, long nsec,
                       const char *want)
{
    struct timespec ts = {.tv_sec = sec, .tv_nsec = nsec};
    struct buf out = {0};
    CHECK(buf_append_str(&out, "<") == 0);
    CHECK(logline_append(l, &out, m, &ts) == 0);
    CHECK(out.len >= 1 && out.data[0] == '<');
    CHECK_MEM_STR(out.data + 1, out.len - 1, want);
    buf_finish(&out);
}

static void test_text_format(void)
{
    struct logline l;
    logline_init(&l, LOGLINE_TEXT);
    struct wire_msg m = plain_msg(V("lower case of HeLLo is hello"));
    check_line(&l, &m, T0, 123456789, "2025-11-24T16:20:49.123Z lower case of HeLLo is hello\n");
    /* Same second: the cached text, new milliseconds. */
    check_line(&l, &m, T0, 456000000, "2025-11-24T16:20:49.456Z lower case of HeLLo is hello\n");
    check_line(&l, &m, T0, 0, "2025-11-24T16:20:49.000Z lower case of HeLLo is hello\n");
    check_line(&l, &m, T0, 999999, "2025-11-24T16:20:49.000Z lower case of HeLLo is hello\n");
    check_line(&l, &m, T0, 1000000, "2025-11-24T16:20:49.001Z lower case of HeLLo is hello\n");
    check_line(&l, &m, T0, 999999999, "2025-11-24T16:20:49.999Z lower case of HeLLo is hello\n");
    /* The next second, the next minute, and back: the cache follows. */
    check_line(&l, &m, T0 + 1, 0, "2025-11-24T16:20:50.000Z lower case of HeLLo is hello\n");
    check_line(&l, &m, T0 + 60, 5000000, "2025-11-24T16:21:49.005Z lower case of HeLLo is hello\n");
    check_line(&l, &m, T0, 7000000, "2025-11-24T16:20:49.007Z lower case of HeLLo is hello\n");

    struct wire_msg e = plain_msg(V("a\nb\\c\x01\xE2\x80\xA8\xFF"));
    check_line(&l, &e, T0, 0, "2025-11-24T16:20:49.000Z a\\nb\\\\c\\x01\\u2028\\xff\n");
    struct wire_msg empty = plain_msg(V(""));
    check_line(&l, &empty, T0, 0, "2025-11-24T16:20:49.000Z \n");

    /* Other dates (UTC strings from /usr/bin/python3's datetime). Each on a fresh logline,
     * so nothing comes from the cache. */
    static const struct {
        time_t sec;
        long nsec;
        const char *want;
    } dates[] = {
        {0, 0, "1970-01-01T00:00:00.000Z x\n"},
        {951782400, 250000000, "2000-02-29T00:00:00.250Z x\n"},
        {4102444799, 0, "2099-12-31T23:59:59.000Z x\n"},
        /* A clock before 1970: -1 is also what a fresh cache holds for "nothing cached". */
        {-1, 500000000, "1969-12-31T23:59:59.500Z x\n"},
    };
    struct wire_msg x = plain_msg(V("x"));
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        struct logline fresh;
        logline_init(&fresh, LOGLINE_TEXT);
        check_line(&fresh, &x, dates[i].sec, dates[i].nsec, dates[i].want);
    }
}

/* Gap lines, and messages that would look like one. */
static void test_gap_lines(void)
{
    const uint8_t id[WIRE_ID_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    struct timespec ts = {.tv_sec = T0, .tv_nsec = 5000000};
    static const struct {
        enum logline_format format;
        const char *want;
    } gaps[] = {
        {LOGLINE_TEXT, "2025-11-24T16:20:49.005Z !gap publisher=0123456789abcdef lost=5\n"},
        {LOGLINE_JSON, "{\"time\":\"2025-11-24T16:20:49.005Z\",\"event\":\"gap\","
                       "\"publisher\":\"0123456789abcdef\",\"lost\":5}\n"},
    };
    for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
        struct logline l;
        logline_init(&l, gaps[i].format);
        struct buf out = {0};
        CHECK(logline_append_gap(&l, &out, id, 5, &ts) == 0);
        CHECK_MEM_STR(out.data, out.len, gaps[i].want);
        buf_finish(&out);
    }
    struct logline py;
    logline_init(&py, LOGLINE_PYTHON);
    struct buf out = {0};
    CHECK(logline_append_gap(&py, &out, id, 7, &ts) == 0);
    CHECK(out.len > 0 &&
          strncmp(out.data, "WARNING:root:gap publisher=0123456789abcdef lost=7 - ", 53) == 0);
    CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
    buf_finish(&out);

    /* A message cannot start a text line with '!'. */
    struct logline l;
    logline_init(&l, LOGLINE_TEXT);
    struct wire_msg forged = plain_msg(V("!gap publisher=0123456789abcdef lost=5"));
    check_line(&l, &forged, T0, 0,
               "2025-11-24T16:20:49.000Z \\x21gap publisher=0123456789abcdef lost=5\n");
    struct wire_msg bang = plain_msg(V("!"));
    check_line(&l, &bang, T0, 0, "2025-11-24T16:20:49.000Z \\x21\n");
    struct wire_msg inner = plain_msg(V("a!b"));
    check_line(&l, &inner, T0, 0, "2025-11-24T16:20:49.000Z a!b\n");
}

static void test_python_format(void)
{
    struct wire_msg m = plain_msg(V("lower case of HeLLo is hello"));
    /* Local time: the expected strings are /usr/bin/python3's
     * time.strftime('%Y-%m-%d %H:%M', time.localtime(t)) under each TZ. POSIX TZ strings
     * need no tz database: "IST-5:30" is Asia/Kolkata (+05:30, no DST), "NST3:30" is
     * St. John's standard time (-03:30). */
    static const struct {
        const char *tz;
        const char *t0;    /* at T0 */
        const char *t0_60; /* at T0 + 60 */
    } zones[] = {
        {"UTC", "2025-11-24 16:20", "2025-11-24 16:21"},
        {"IST-5:30", "2025-11-24 21:50", "2025-11-24 21:51"},
        {"NST3:30", "2025-11-24 12:50", "2025-11-24 12:51"},
    };
    char want[128];
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        setenv("TZ", zones[i].tz, 1);
        tzset();
        struct logline l;
        logline_init(&l, LOGLINE_PYTHON);
        snprintf(want, sizeof want, "INFO:root:lower case of HeLLo is hello - %s\n", zones[i].t0);
        check_line(&l, &m, T0, 123456789, want);
        check_line(&l, &m, T0, 999000000, want);
        check_line(&l, &m, T0 + 1, 0, want);
        snprintf(want, sizeof want, "INFO:root:lower case of HeLLo is hello - %s\n",
                 zones[i].t0_60);
        check_line(&l, &m, T0 + 60, 0, want);
        snprintf(want, sizeof want, "INFO:root:lower case of HeLLo is hello - %s\n", zones[i].t0);
        check_line(&l, &m, T0, 0, want);
    }
    /* The whole tz database name too, where the system has it. */
    setenv("TZ", "Asia/Kolkata", 1);
    tzset();
    struct logline k;
    logline_init(&k, LOGLINE_PYTHON);
    check_line(&k, &m, T0, 0, "INFO:root:lower case of HeLLo is hello - 2025-11-24 21:50\n");
    check_line(&k, &m, 0, 0, "INFO:root:lower case of HeLLo is hello - 1970-01-01 05:30\n");

    setenv("TZ", "UTC", 1);
    tzset();
    struct logline l;
    logline_init(&l, LOGLINE_PYTHON);
    struct wire_msg e = plain_msg(V("a\tb\r\n\\\xC2\x85\xC3"));
    check_line(&l, &e, T0, 0, "INFO:root:a\\tb\\r\\n\\\\\\u0085\\xc3 - 2025-11-24 16:20\n");
}

static void test_json_format(void)
{
    struct logline l;
    logline_init(&l, LOGLINE_JSON);
    struct wire_msg m = plain_msg(V("lower case of HeLLo is hello"));
    check_line(&l, &m, T0, 123456789,
               "{\"time\":\"2025-11-24T16:20:49.123Z\",\"message\":\"lower case of HeLLo is "
               "hello\"}\n");
    check_line(&l, &m, T0 + 1, 5000000,
               "{\"time\":\"2025-11-24T16:20:50.005Z\",\"message\":\"lower case of HeLLo is "
               "hello\"}\n");
    struct wire_msg e = plain_msg(V("say \"hi\"\n\x01\xE2\x80\xA8"));
    check_line(&l, &e, T0, 0,
               "{\"time\":\"2025-11-24T16:20:49.000Z\",\"message\":\"say \\\"hi\\\"\\n\\u0001"
               "\\u2028\"}\n");

    /* Invalid UTF-8: U+FFFD per bad byte, and the exact bytes in base64 (values from
     * /usr/bin/python3's base64.b64encode), over the lengths that exercise the padding. */
    static const struct {
        const char *in;
        size_t len;
        const char *message;
        const char *b64;
    } lossy[] = {
        {V("\xFF"), FFFD, "/w=="},
        {V("\xFF\xFE"), FFFD FFFD, "//4="},
        {V("\xFF\xFE\xFD"), FFFD FFFD FFFD, "//79"},
        {V("\xFF\xFE\xFD\xFC"), FFFD FFFD FFFD FFFD, "//79/A=="},
        {V("a\x80"), "a" FFFD, "YYA="},
        {V("\xC3"), FFFD, "ww=="},
        {V("abc\xE2\x82"), "abc" FFFD FFFD, "YWJj4oI="},
    };
    char want[256];
    for (size_t i = 0; i < sizeof lossy / sizeof lossy[0]; i++) {
        struct wire_msg b = plain_msg(lossy[i].in, lossy[i].len);
        snprintf(want, sizeof want,
                 "{\"time\":\"2025-11-24T16:20:49.000Z\",\"message\":\"%s\","
                 "\"message_base64\":\"%s\"}\n",
                 lossy[i].message, lossy[i].b64);
        check_line(&l, &b, T0, 0, want);
    }

    /* Framed: topic, publisher and sequence number follow the message. */
    struct wire_msg f = plain_msg(V("hi"));
    f.kind = WIRE_FRAMED;
    f.topic = "downcase";
    f.topic_len = 8;
    static const uint8_t id[WIRE_ID_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF};
    memcpy(f.publisher, id, sizeof id);
    f.seq = 42;
    check_line(&l, &f, T0, 0,
               "{\"time\":\"2025-11-24T16:20:49.000Z\",\"message\":\"hi\",\"topic\":\"downcase\","
               "\"publisher\":\"0123456789abcdef\",\"seq\":42}\n");
    f.seq = UINT64_MAX;
    f.topic = "t\"\n";
    f.topic_len = 3;
    check_line(&l, &f, T0, 0,
               "{\"time\":\"2025-11-24T16:20:49.000Z\",\"message\":\"hi\",\"topic\":\"t\\\"\\n\","
               "\"publisher\":\"0123456789abcdef\",\"seq\":18446744073709551615}\n");
    f.text = "\xFF";
    f.text_len = 1;
    f.seq = 0;
    f.topic = "";
    f.topic_len = 0;
    check_line(&l, &f, T0, 0,
               "{\"time\":\"2025-11-24T16:20:49.000Z\",\"message\":\"" FFFD "\","
               "\"message_base64\":\"/w==\",\"topic\":\"\",\"publisher\":\"0123456789abcdef\","
               "\"seq\":0}\n");
    /* A topic that is not UTF-8 still makes a valid line. */
    f.text = "ok";
    f.text_len = 2;
    f.topic = "\xC3";
    f.topic_len = 1;
    check_line(&l, &f, T0, 0,
               "{\"time\":\"2025-11-24T16:20:49.000Z\",\"message\":\"ok\",\"topic\":\"" FFFD "\","
               "\"publisher\":\"0123456789abcdef\",\"seq\":0}\n");
}

/* Whatever the message, each format writes exactly one line, and the line is UTF-8. */
static void test_one_line_each(void)
{
    static const enum logline_format formats[] = {LOGLINE_TEXT, LOGLINE_JSON, LOGLINE_PYTHON};
    int bad = 0;
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        struct logline l;
        logline_init(&l, formats[f]);
        for (int n = 0; n < 3000; n++) {
            char s[64];
            struct wire_msg m = plain_msg(s, random_string(s));
            struct timespec ts = {.tv_sec = T0 + n / 100, .tv_nsec = n * 1000L};
            struct buf out = {0};
            if (logline_append(&l, &out, &m, &ts) != 0 || out.len == 0 ||
                out.data[out.len - 1] != '\n' || memchr(out.data, '\n', out.len - 1) != NULL ||
                memchr(out.data, '\r', out.len) != NULL || !utf8_valid(out.data, out.len)) {
                bad++;
            }
            buf_finish(&out);
        }
    }
    CHECK(bad == 0);
}

int main(void)
{
    test_escape_tables();
    test_escape_properties();
    test_text_format();
    test_python_format();
    test_json_format();
    test_one_line_each();
    test_gap_lines();
    return CHECK_DONE();
}
