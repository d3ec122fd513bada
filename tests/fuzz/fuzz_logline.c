/* fuzz_logline: the sub's message-to-log-line formatter (logline.h), in its three formats, fed
 * through wire_decode as the sub feeds it.
 *
 * Input layout (short inputs are padded with zero bytes):
 *   byte 0       format: text, json, python (mod 3)
 *   byte 1       frames: mod 4 = 0: one frame (plain); 1: three (framed); 2: two; 3: four
 *                (the last two must be refused); bit 2: the header frame is 15 bytes, not 16
 *   bytes 2-6    receive time, seconds (40 bits, kept below year 9999)
 *   bytes 7-10   nanoseconds (mod 10^9)
 *   byte 11      topic length (framed)
 *   then         the 16-byte header (framed), the topic, and the rest is the text.
 *
 * Invariants:
 *  - wire_decode accepts exactly one or three frames with a 16-byte header;
 *  - every line is appended whole, ends with its only '\n', and the buffer before it is intact;
 *  - the line's time is the receive time (the formatter caches the text of the last second: a
 *    second message, 0 to 2 s later as bits 3-4 of byte 1 say, must show its own time);
 *  - text and python lines are valid UTF-8 without any control character (C0, DEL, C1) or
 *    U+2028/U+2029, have the format's fixed parts, and unescaping the message part gives back the
 *    exact message bytes;
 *  - json lines parse, with a strict parser written here, as one object whose keys are time,
 *    message, [message_base64], [topic, publisher, seq]: "message" is the text when it is valid
 *    UTF-8, else the text with each bad byte replaced by U+FFFD and "message_base64" decodes to
 *    the exact bytes; "topic", "publisher" and "seq" are the frames' values; no raw C0, C1 or
 *    U+2028/U+2029 anywhere in the line (DEL may be raw, as JSON allows). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fuzz_util.h"
#include "logline.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX_LEN 12
/* 9999-12-31T23:59:59Z minus a day, so that local time also stays within four-digit years. */
#define MAX_SECONDS 253402214399LL

static void append_or_die(struct buf *b, const void *p, size_t n)
{
    if (buf_append(b, p, n) < 0) {
        fuzz_fail("buf_append", NULL, 0, "out of memory");
    }
}

static bool breaks_a_line(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

static int hexdigit(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* n hex digits at p; -1 if any is not one. */
static long hexval(const uint8_t *p, size_t n)
{
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = hexdigit(p[i]);
        if (d < 0) {
            return -1;
        }
        v = v << 4 | d;
    }
    return v;
}

/* The message with each byte that does not start a valid sequence replaced by U+FFFD, as the
 * json format promises. */
static void replace_invalid(struct buf *out, const uint8_t *s, size_t len)
{
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t n = fuzz_utf8_next(s + i, len - i, &cp);
        if (n == 0) {
            append_or_die(out, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            append_or_die(out, s + i, n);
            i += n;
        }
    }
}

/* The time a line must carry: UTC with milliseconds for text and json, local time to the minute
 * for python. Computed here for every line, without the formatter's cache. */
static void expected_time(char *out, size_t outsz, enum logline_format f, const struct timespec *t)
{
    struct tm tm;
    if (f == LOGLINE_PYTHON) {
        localtime_r(&t->tv_sec, &tm);
        strftime(out, outsz, "%Y-%m-%d %H:%M", &tm);
        return;
    }
    gmtime_r(&t->tv_sec, &tm);
    size_t n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, outsz - n, ".%03ldZ", t->tv_nsec / 1000000L);
}

/* ---- text and python ------------------------------------------------------------------------- */

/* Undoes the text escaping of s[0..len) into out; checks that only the documented escapes occur
 * and that everything else is printable. */
static void unescape_text(struct buf *out, const uint8_t *s, size_t len, const uint8_t *line,
                          size_t line_len)
{
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        if (s[i] != '\\') {
            size_t n = fuzz_utf8_next(s + i, len - i, &cp);
            FUZZ_CHECK(n > 0 && !breaks_a_line(cp), line, line_len);
            append_or_die(out, s + i, n);
            i += n;
            continue;
        }
        FUZZ_CHECK(i + 1 < len, line, line_len);
        uint8_t e = s[i + 1];
        uint8_t c;
        if (e == '\\' || e == 'n' || e == 'r' || e == 't') {
            c = e == '\\' ? '\\' : e == 'n' ? '\n' : e == 'r' ? '\r' : '\t';
            append_or_die(out, &c, 1);
            i += 2;
        } else if (e == 'x') {
            long v = i + 4 <= len ? hexval(s + i + 2, 2) : -1;
            FUZZ_CHECK(v >= 0, line, line_len);
            c = (uint8_t)v;
            append_or_die(out, &c, 1);
            i += 4;
        } else if (e == 'u') {
            long v = i + 6 <= len ? hexval(s + i + 2, 4) : -1;
            /* Only what the format escapes this way: C1 controls and the separators. */
            FUZZ_CHECK(v >= 0x80 && breaks_a_line((uint32_t)v), line, line_len);
            uint8_t enc[4];
            append_or_die(out, enc, fuzz_utf8_put((uint32_t)v, enc));
            i += 6;
        } else {
            fuzz_fail("a known escape", line, line_len, "\\%c", e);
        }
    }
}

static bool digits(const uint8_t *p, const char *shape)
{
    /* shape: 'd' a digit, anything else itself */
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !(p[i] >= '0' && p[i] <= '9') : p[i] != (uint8_t)shape[i]) {
            return false;
        }
    }
    return true;
}

static void check_text(const uint8_t *line, size_t len, const struct wire_msg *m,
                       enum logline_format f, const char *when)
{
    static const char text_time[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
    static const char python_head[] = "INFO:root:";
    static const char python_tail[] = " - dddd-dd-dd dd:dd\n";
    size_t head;
    size_t tail;
    if (f == LOGLINE_TEXT) {
        head = sizeof text_time - 1;
        tail = 1;
        FUZZ_CHECK(len >= head + tail && digits(line, text_time), line, len);
        FUZZ_CHECK(memcmp(line, when, head - 1) == 0, line, len);
    } else {
        head = sizeof python_head - 1;
        tail = sizeof python_tail - 1;
        FUZZ_CHECK(len >= head + tail && memcmp(line, python_head, head) == 0 &&
                       digits(line + len - tail, python_tail),
                   line, len);
        FUZZ_CHECK(memcmp(line + len - tail + 3, when, tail - 4) == 0, line, len);
    }
    struct buf back = {0};
    unescape_text(&back, line + head, len - head - tail, line, len);
    FUZZ_CHECK(back.len == m->text_len &&
                   (m->text_len == 0 || memcmp(back.data, m->text, m->text_len) == 0),
               line, len);
    buf_finish(&back);
}

/* ---- json -------------------------------------------------------------------------------------- */

struct json {
    const uint8_t *p;
    size_t len;
    size_t i;
};

static void json_ws(struct json *j)
{
    while (j->i < j->len &&
           (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\r' || j->p[j->i] == '\n')) {
        j->i++;
    }
}

static bool json_lit(struct json *j, char c)
{
    json_ws(j);
    if (j->i < j->len && j->p[j->i] == (uint8_t)c) {
        j->i++;
        return true;
    }
    return false;
}

/* A string as RFC 8259 defines it, decoded into out (lone surrogate escapes are refused: the
 * formatter never writes them). */
static void json_string(struct json *j, struct buf *out)
{
    FUZZ_CHECK(json_lit(j, '"'), j->p, j->len);
    for (;;) {
        FUZZ_CHECK(j->i < j->len, j->p, j->len);
        uint8_t c = j->p[j->i];
        if (c == '"') {
            j->i++;
            return;
        }
        if (c != '\\') {
            uint32_t cp;
            size_t n = fuzz_utf8_next(j->p + j->i, j->len - j->i, &cp);
            /* RFC 8259 forbids raw C0 controls; DEL may stay raw (logline.h says it does). */
            FUZZ_CHECK(n > 0 && (cp == 0x7F || !breaks_a_line(cp)), j->p, j->len);
            append_or_die(out, j->p + j->i, n);
            j->i += n;
            continue;
        }
        FUZZ_CHECK(j->i + 1 < j->len, j->p, j->len);
        uint8_t e = j->p[j->i + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e != '\0' && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            append_or_die(out, &decoded[simple - "\"\\/bfnrt"], 1);
            j->i += 2;
            continue;
        }
        FUZZ_CHECK(e == 'u' && j->i + 6 <= j->len, j->p, j->len);
        long v = hexval(j->p + j->i + 2, 4);
        FUZZ_CHECK(v >= 0 && !(v >= 0xD800 && v <= 0xDFFF), j->p, j->len);
        uint8_t enc[4];
        append_or_die(out, enc, fuzz_utf8_put((uint32_t)v, enc));
        j->i += 6;
    }
}

/* A non-negative integer (all the formatter writes); its value into *v. */
static void json_uint(struct json *j, uint64_t *v)
{
    json_ws(j);
    size_t start = j->i;
    *v = 0;
    while (j->i < j->len && j->p[j->i] >= '0' && j->p[j->i] <= '9') {
        *v = *v * 10 + (uint64_t)(j->p[j->i] - '0');
        j->i++;
    }
    size_t n = j->i - start;
    FUZZ_CHECK(n > 0 && n <= 20 && (n == 1 || j->p[start] != '0'), j->p, j->len);
}

static void decode_base64(struct buf *out, const struct buf *in, const uint8_t *line, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FUZZ_CHECK(in->len % 4 == 0, line, len);
    for (size_t i = 0; i < in->len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = in->data[i + (size_t)k];
            const char *at = c ? strchr(b64, c) : NULL;
            if (c == '=' && i + 4 == in->len && k >= 2) {
                pad++;
                at = b64;
            } else {
                FUZZ_CHECK(at != NULL && pad == 0, line, len);
            }
            v = v << 6 | (uint32_t)(at - b64);
        }
        uint8_t bytes[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        append_or_die(out, bytes, (size_t)(3 - pad));
    }
}

static void check_json(const uint8_t *line, size_t len, const struct wire_msg *m, const char *when)
{
    struct json j = {.p = line, .len = len - 1}; /* without the '\n' */
    struct buf key = {0};
    struct buf val = {0};
    struct buf want = {0};
    bool have_time = false;
    bool have_message = false;
    bool have_b64 = false;
    bool have_topic = false;
    bool have_publisher = false;
    bool have_seq = false;
    FUZZ_CHECK(json_lit(&j, '{'), line, len);
    bool first = true;
    while (!json_lit(&j, '}')) {
        FUZZ_CHECK(first || json_lit(&j, ','), line, len);
        first = false;
        key.len = 0;
        val.len = 0;
        json_string(&j, &key);
        FUZZ_CHECK(json_lit(&j, ':'), line, len);
#define KEY(s) (key.len == sizeof(s) - 1 && memcmp(key.data, s, key.len) == 0)
        if (KEY("seq")) {
            uint64_t seq;
            json_uint(&j, &seq);
            FUZZ_CHECK(!have_seq && m->kind == WIRE_FRAMED && seq == m->seq, line, len);
            have_seq = true;
            continue;
        }
        json_string(&j, &val);
        want.len = 0;
        if (KEY("time")) {
            FUZZ_CHECK(!have_time && val.len == 24 &&
                           digits((const uint8_t *)val.data, "dddd-dd-ddTdd:dd:dd.dddZ") &&
                           memcmp(val.data, when, 24) == 0,
                       line, len);
            have_time = true;
        } else if (KEY("message")) {
            replace_invalid(&want, (const uint8_t *)m->text, m->text_len);
            FUZZ_CHECK(!have_message && val.len == want.len &&
                           (val.len == 0 || memcmp(val.data, want.data, val.len) == 0),
                       line, len);
            have_message = true;
        } else if (KEY("message_base64")) {
            decode_base64(&want, &val, line, len);
            FUZZ_CHECK(!have_b64 && want.len == m->text_len &&
                           (want.len == 0 || memcmp(want.data, m->text, want.len) == 0),
                       line, len);
            have_b64 = true;
        } else if (KEY("topic")) {
            FUZZ_CHECK(!have_topic && m->kind == WIRE_FRAMED, line, len);
            replace_invalid(&want, (const uint8_t *)m->topic, m->topic_len);
            FUZZ_CHECK(val.len == want.len &&
                           (val.len == 0 || memcmp(val.data, want.data, val.len) == 0),
                       line, len);
            have_topic = true;
        } else if (KEY("publisher")) {
            char hex[2 * WIRE_ID_LEN + 1];
            for (int k = 0; k < WIRE_ID_LEN; k++) {
                static const char d[] = "0123456789abcdef";
                hex[2 * k] = d[m->publisher[k] >> 4];
                hex[2 * k + 1] = d[m->publisher[k] & 15];
            }
            FUZZ_CHECK(!have_publisher && m->kind == WIRE_FRAMED && val.len == 2 * WIRE_ID_LEN &&
                           memcmp(val.data, hex, val.len) == 0,
                       line, len);
            have_publisher = true;
        } else {
            fuzz_fail("a known key", line, len, "%.*s", (int)key.len, key.data);
        }
#undef KEY
    }
    json_ws(&j);
    FUZZ_CHECK(j.i == j.len, line, len); /* nothing after the object */
    FUZZ_CHECK(have_time && have_message, line, len);
    FUZZ_CHECK(have_b64 == !fuzz_utf8_valid(m->text, m->text_len), line, len);
    bool framed = m->kind == WIRE_FRAMED;
    FUZZ_CHECK(have_topic == framed && have_publisher == framed && have_seq == framed, line, len);
    buf_finish(&key);
    buf_finish(&val);
    buf_finish(&want);
}

/* Checks the line at out->data[start..out->len) for message m received at t. */
static void check_line(const struct buf *out, size_t start, const struct wire_msg *m,
                       enum logline_format f, const struct timespec *t)
{
    const uint8_t *line = (const uint8_t *)out->data + start;
    size_t len = out->len - start;
    FUZZ_CHECK(len > 0 && line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL, line, len);
    char when[64];
    expected_time(when, sizeof when, f, t);
    if (f == LOGLINE_JSON) {
        check_json(line, len, m, when);
    } else {
        check_text(line, len, m, f, when);
    }
}

/* ---- the target ------------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t fixed[PREFIX_LEN + WIRE_HEADER_LEN] = {0};
    memcpy(fixed, data, size < sizeof fixed ? size : sizeof fixed);
    const uint8_t *rest = size > sizeof fixed ? data + sizeof fixed : NULL;
    size_t rest_len = size > sizeof fixed ? size - sizeof fixed : 0;

    enum logline_format format = (enum logline_format)(fixed[0] % 3);
    static const size_t frame_counts[] = {1, 3, 2, 4};
    size_t nframes = frame_counts[fixed[1] % 4];
    size_t header_len = fixed[1] & 4 ? WIRE_HEADER_LEN - 1 : WIRE_HEADER_LEN;
    uint64_t sec = 0;
    for (int i = 0; i < 5; i++) {
        sec = sec << 8 | fixed[2 + i];
    }
    uint32_t nsec = 0;
    for (int i = 0; i < 4; i++) {
        nsec = nsec << 8 | fixed[7 + i];
    }
    struct timespec now = {.tv_sec = (time_t)(sec % (uint64_t)MAX_SECONDS),
                           .tv_nsec = (long)(nsec % 1000000000u)};
    size_t topic_len = nframes == 1 ? 0 : fixed[11];
    if (topic_len > rest_len) {
        topic_len = rest_len;
    }

    /* Frames live in heap copies of their own, so ASan sees any read past one. */
    const uint8_t *src[4] = {rest, fixed + PREFIX_LEN, rest ? rest + topic_len : NULL, NULL};
    size_t lens[4] = {topic_len, header_len, rest_len - topic_len, 0};
    if (nframes == 1) {
        src[0] = rest;
        lens[0] = rest_len;
    }
    void *frames[4] = {NULL, NULL, NULL, NULL};
    for (size_t i = 0; i < nframes; i++) {
        frames[i] = malloc(lens[i] ? lens[i] : 1);
        if (frames[i] == NULL) {
            fuzz_fail("malloc", NULL, 0, "frame");
        }
        if (lens[i]) {
            memcpy(frames[i], src[i], lens[i]);
        }
    }

    struct wire_msg m;
    int rc = wire_decode((const void *const *)frames, lens, nframes, &m);
    /* The model, from the wire format as documented: a topic that begins with a 0 byte is the
     * protocol's own: "\0H" (a head), or "\0R", an 8-byte subscriber id and 'B' or 'E' (a
     * replay answer); any other topic there is malformed, so no data message can pose as one. */
    const uint8_t *topic = frames[0];
    bool control = nframes == 3 && topic_len > 0 && topic[0] == 0;
    bool head = control && topic_len == 2 && topic[1] == 'H';
    bool answer =
        control && topic_len == 11 && topic[1] == 'R' && (topic[10] == 'B' || topic[10] == 'E');
    bool decodable = nframes == 1 || (nframes == 3 && header_len == WIRE_HEADER_LEN &&
                                      (!control || head || answer));
    FUZZ_CHECK(decodable ? rc == 0 : rc == -EPROTO, data, size);
    if (rc == 0) {
        enum wire_kind want = nframes == 1 ? WIRE_PLAIN
                              : head       ? WIRE_HEAD
                              : answer     ? (topic[10] == 'B' ? WIRE_BATCH : WIRE_STATUS)
                                           : WIRE_FRAMED;
        FUZZ_CHECK(m.kind == want, data, size);
    }
    if (rc == 0 && !control) {
        struct logline l;
        logline_init(&l, format);
        /* Something before the line, which the append must leave alone. */
        struct buf out = {0};
        append_or_die(&out, "previous line\n", 14);
        rc = logline_append(&l, &out, &m, &now);
        FUZZ_CHECK(rc == 0, data, size);
        FUZZ_CHECK(out.len > 14 && memcmp(out.data, "previous line\n", 14) == 0, out.data, out.len);
        check_line(&out, 14, &m, format, &now);
        /* The same message a little later (0 to 2 s: the formatter caches the text of the last
         * second) lands on a line of its own with its own time. */
        struct timespec later = {.tv_sec = now.tv_sec + (fixed[1] >> 3) % 3,
                                 .tv_nsec = (now.tv_nsec + 999000000L) % 1000000000L};
        size_t second = out.len;
        FUZZ_CHECK(logline_append(&l, &out, &m, &later) == 0, data, size);
        check_line(&out, second, &m, format, &later);
        buf_finish(&out);
    }
    for (size_t i = 0; i < nframes; i++) {
        free(frames[i]);
    }
    return 0;
}
