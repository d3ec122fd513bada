/* logline: formatting and escaping of the subscriber's log lines. */
#include "logline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "utf8.h"

static int append_hex_escape(struct buf *out, const char *prefix, unsigned v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[8];
    size_t n = strlen(prefix);
    memcpy(tmp, prefix, n);
    for (int i = digits - 1; i >= 0; i--) {
        tmp[n++] = hex[(v >> (4 * i)) & 15];
    }
    return buf_append(out, tmp, n);
}

/* U+0080..U+009F and the separators that Unicode-aware readers (Python's str.splitlines,
 * JavaScript) treat as line breaks. */
static bool unicode_break_or_control(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

/* Bytes that go through unchanged: printable ASCII except the backslash, and in JSON also DEL
 * but not the double quote. */
static bool plain_byte(unsigned char c, bool json)
{
    if (json) {
        return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
    }
    return c >= 0x20 && c < 0x7F && c != '\\';
}

static int escape_ascii(struct buf *out, unsigned char c, bool json)
{
    switch (c) {
    case '\\':
        return buf_append(out, "\\\\", 2);
    case '\n':
        return buf_append(out, "\\n", 2);
    case '\r':
        return buf_append(out, "\\r", 2);
    case '\t':
        return buf_append(out, "\\t", 2);
    case '"':
        return buf_append(out, "\\\"", 2); /* only reached in JSON */
    default:
        return json ? append_hex_escape(out, "\\u", c, 4) : append_hex_escape(out, "\\x", c, 2);
    }
}

/* The one escaper of both text and JSON (see logline.h for the rules). Runs of plain bytes are
 * copied whole; everything else is looked at one code point at a time. A byte that is not part
 * of valid UTF-8 becomes "\xHH" in text, and U+FFFD in JSON with *lossy set. */
static int escape(struct buf *out, const char *s, size_t len, bool json, bool *lossy)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && plain_byte(p[run], json)) {
            run++;
        }
        int rc = buf_append(out, p + i, run - i);
        if (rc < 0 || run == len) {
            return rc;
        }
        i = run;
        if (p[i] < 0x80) {
            rc = escape_ascii(out, p[i], json);
            i++;
        } else {
            uint32_t cp;
            size_t n = utf8_decode(p + i, len - i, &cp);
            if (n == 0) {
                if (json) {
                    *lossy = true;
                    rc = buf_append(out, "\xEF\xBF\xBD", 3);
                } else {
                    rc = append_hex_escape(out, "\\x", p[i], 2);
                }
                i++;
            } else {
                rc = unicode_break_or_control(cp) ? append_hex_escape(out, "\\u", cp, 4)
                                                  : buf_append(out, p + i, n);
                i += n;
            }
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int logline_escape_text(struct buf *out, const char *s, size_t len)
{
    return escape(out, s, len, false, NULL);
}

int logline_escape_json(struct buf *out, const char *s, size_t len)
{
    bool lossy = false;
    return escape(out, s, len, true, &lossy);
}

static int append_base64(struct buf *out, const unsigned char *p, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = buf_reserve(out, (len + 2) / 3 * 4);
    if (rc < 0) {
        return rc;
    }
    char *w = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *w++ = b64[v >> 18];
        *w++ = b64[(v >> 12) & 63];
        *w++ = b64[(v >> 6) & 63];
        *w++ = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *w++ = b64[v >> 18];
        *w++ = b64[(v >> 12) & 63];
        *w++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    out->len = (size_t)(w - out->data);
    return 0;
}

void logline_init(struct logline *l, enum logline_format format)
{
    memset(l, 0, sizeof *l);
    l->format = format;
}

/* Refreshes the cached text of the current second: "YYYY-MM-DDTHH:MM:SS" in UTC for text and
 * json, "YYYY-MM-DD HH:MM" in local time for python. */
static void refresh_time(struct logline *l, time_t sec)
{
    if (l->cached_valid && sec == l->cached_sec) {
        return;
    }
    struct tm tm;
    size_t n;
    if (l->format == LOGLINE_PYTHON) {
        localtime_r(&sec, &tm);
        n = strftime(l->cached, sizeof l->cached, "%Y-%m-%d %H:%M", &tm);
    } else {
        gmtime_r(&sec, &tm);
        n = strftime(l->cached, sizeof l->cached, "%Y-%m-%dT%H:%M:%S", &tm);
    }
    l->cached_len = n;
    l->cached_sec = sec;
    l->cached_valid = true;
}

static int append_utc_millis(struct logline *l, struct buf *out, const struct timespec *now)
{
    /* By hand: snprintf was the costliest call per line (perf, sub at 100k lines/s). */
    unsigned millis = (unsigned)(now->tv_nsec / 1000000L) % 1000u;
    const char ms[5] = {'.', (char)('0' + millis / 100), (char)('0' + millis / 10 % 10),
                        (char)('0' + millis % 10), 'Z'};
    int rc = buf_append(out, l->cached, l->cached_len);
    return rc < 0 ? rc : buf_append(out, ms, sizeof ms);
}

/* What every line of a format starts with, up to its content: "TIME " (text), "LEVEL:root:"
 * (python, Python logging's level names), '{"time":"TIME",' (json). */
static int begin_line(struct logline *l, struct buf *out, const struct timespec *now,
                      const char *python_level)
{
    refresh_time(l, now->tv_sec);
    int rc;
    switch (l->format) {
    case LOGLINE_JSON:
        rc = buf_append_str(out, "{\"time\":\"");
        if (rc == 0) {
            rc = append_utc_millis(l, out, now);
        }
        return rc < 0 ? rc : buf_append(out, "\",", 2);
    case LOGLINE_PYTHON:
        rc = buf_append_str(out, python_level);
        return rc < 0 ? rc : buf_append(out, ":root:", 6);
    case LOGLINE_TEXT:
    default:
        rc = append_utc_millis(l, out, now);
        return rc < 0 ? rc : buf_append_byte(out, ' ');
    }
}

/* What every line ends with: "}\n" (json), " - DATE\n" (python), "\n" (text). */
static int end_line(struct logline *l, struct buf *out)
{
    int rc;
    switch (l->format) {
    case LOGLINE_JSON:
        return buf_append(out, "}\n", 2);
    case LOGLINE_PYTHON:
        rc = buf_append(out, " - ", 3);
        if (rc == 0) {
            rc = buf_append(out, l->cached, l->cached_len);
        }
        return rc < 0 ? rc : buf_append_byte(out, '\n');
    case LOGLINE_TEXT:
    default:
        return buf_append_byte(out, '\n');
    }
}

/* The json members of a message, after begin_line's. */
static int append_json_members(struct buf *out, const struct wire_msg *m)
{
    bool lossy = false;
    int rc = buf_append_str(out, "\"message\":\"");
    if (rc == 0) {
        rc = escape(out, m->text, m->text_len, true, &lossy);
    }
    if (rc == 0 && lossy) {
        rc = buf_append_str(out, "\",\"message_base64\":\"");
        if (rc == 0) {
            rc = append_base64(out, (const unsigned char *)m->text, m->text_len);
        }
    }
    if (rc == 0) {
        rc = buf_append_byte(out, '"');
    }
    if (rc == 0 && m->kind == WIRE_FRAMED) {
        bool topic_lossy = false;
        char id[2 * WIRE_ID_LEN + 1];
        wire_id_hex(m->publisher, id);
        rc = buf_append_str(out, ",\"topic\":\"");
        if (rc == 0) {
            rc = escape(out, m->topic, m->topic_len, true, &topic_lossy);
        }
        if (rc == 0) {
            rc = buf_appendf(out, "\",\"publisher\":\"%s\",\"seq\":%" PRIu64, id, m->seq);
        }
    }
    return rc;
}

/* A line is all there or not at all: on failure the buffer is cut back to where it began. */
static int finish(struct buf *out, size_t start, int rc)
{
    if (rc < 0) {
        out->len = start;
    }
    return rc;
}

int logline_append(struct logline *l, struct buf *out, const struct wire_msg *m,
                   const struct timespec *now)
{
    size_t start = out->len;
    int rc = begin_line(l, out, now, "INFO");
    if (rc == 0) {
        if (l->format == LOGLINE_JSON) {
            rc = append_json_members(out, m);
        } else if (l->format == LOGLINE_TEXT && m->text_len > 0 && m->text[0] == '!') {
            /* A leading '!' marks the sub's own text lines (gaps): a message cannot start one. */
            rc = buf_append(out, "\\x21", 4);
            if (rc == 0) {
                rc = logline_escape_text(out, m->text + 1, m->text_len - 1);
            }
        } else {
            rc = logline_escape_text(out, m->text, m->text_len);
        }
    }
    return finish(out, start, rc < 0 ? rc : end_line(l, out));
}

int logline_append_gap(struct logline *l, struct buf *out, const uint8_t publisher[WIRE_ID_LEN],
                       uint64_t lost, const struct timespec *now)
{
    size_t start = out->len;
    char id[2 * WIRE_ID_LEN + 1];
    wire_id_hex(publisher, id);
    /* Messages are INFO lines in python; Python logging's WARNING level marks this one. */
    int rc = begin_line(l, out, now, "WARNING");
    if (rc == 0) {
        rc = l->format == LOGLINE_JSON
                 ? buf_appendf(out, "\"event\":\"gap\",\"publisher\":\"%s\",\"lost\":%" PRIu64, id,
                               lost)
                 : buf_appendf(out, "%sgap publisher=%s lost=%" PRIu64,
                               l->format == LOGLINE_TEXT ? "!" : "", id, lost);
    }
    return finish(out, start, rc < 0 ? rc : end_line(l, out));
}
