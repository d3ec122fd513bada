/* http_screen: the raw-byte request check (why and what: http_screen.h). */
#include "http_screen.h"

#include <string.h>

/* Where the screen is. The head's states come first, then a chunked body's. */
enum state {
    START,    /* before the request line: empty lines (CRLF), or the method's first byte */
    START_LF, /* the CR of an empty line before the request line */
    METHOD,
    TARGET_FIRST,
    TARGET,
    VERSION, /* "HTTP/d.d" then CR, byte `pos` of it */
    LINE_LF, /* the CR ending the request line or a field line */
    FIELD_START,
    FIELD_NAME, /* pos: how much of "host" the name has matched so far (5: it is not Host) */
    FIELD_VALUE,
    END_LF, /* the CR of the empty line that ends the field lines */
    HOST_START,
    HOST_NAME,
    HOST_PCT, /* inside %XX, pos hex digits so far */
    HOST_LITERAL,
    HOST_LITERAL_END,
    HOST_PORT,
    HOST_TRAIL,
    HEAD_DONE, /* waiting for http_screen_chunked or http_screen_unframed */
    UNFRAMED,
    SIZE_FIRST,
    SIZE,
    SIZE_CR, /* the CR after an extension */
    SIZE_LF,
    EXT_BWS, /* the extension states: their bytes are skipped */
    EXT_SEMI,
    EXT_NAME,
    EXT_NAME_BWS,
    EXT_EQ,
    EXT_TOKEN,
    EXT_QUOTED,
    EXT_ESCAPE,
    EXT_QUOTED_END,
    DATA,
    DATA_CR,
    DATA_LF,
    DONE, /* the chunked body has ended; llhttp must have ended the message with it */
};

/* Character classes, straight from the ABNF of RFC 9110, 9112 and 3986, computed by the
 * compiler into one table. */
enum {
    TCHAR = 1,   /* token */
    VCHAR = 2,   /* VCHAR / obs-text: a target byte; with SP and HTAB, a field value byte */
    FIELD = 4,   /* field-vchar / SP / HTAB */
    HEX = 8,     /* HEXDIG */
    REG = 16,    /* a Host reg-name byte: unreserved / sub-delims, but not ',' */
    LIT = 32,    /* inside an IP literal: unreserved / sub-delims but ',' / ':' */
    QDTEXT = 64, /* quoted-string text */
    ASCII = 128  /* VCHAR: a target byte llhttp is shown */
};
#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_TCHAR(c)                                                                                \
    (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' ||         \
     (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' ||          \
     (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
#define IS_VCHAR(c) (((c) >= 0x21 && (c) <= 0x7e) || (c) >= 0x80)
#define IS_HEX(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define IS_UNRESERVED(c)                                                                           \
    (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~')
#define IS_SUB_DELIM_NO_COMMA(c)                                                                   \
    ((c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' ||          \
     (c) == '*' || (c) == '+' || (c) == ';' || (c) == '=')
#define IS_QDTEXT(c)                                                                               \
    ((c) == '\t' || (c) == ' ' || (c) == 0x21 || ((c) >= 0x23 && (c) <= 0x5b) ||                   \
     ((c) >= 0x5d && (c) <= 0x7e) || (c) >= 0x80)
#define CLASS(c)                                                                                   \
    ((IS_TCHAR(c) ? TCHAR : 0) | (IS_VCHAR(c) ? VCHAR : 0) |                                       \
     (IS_VCHAR(c) || (c) == ' ' || (c) == '\t' ? FIELD : 0) | (IS_HEX(c) ? HEX : 0) |              \
     (IS_UNRESERVED(c) || IS_SUB_DELIM_NO_COMMA(c) ? REG : 0) |                                    \
     (IS_UNRESERVED(c) || IS_SUB_DELIM_NO_COMMA(c) || (c) == ':' ? LIT : 0) |                      \
     (IS_QDTEXT(c) ? QDTEXT : 0) | ((c) >= 0x21 && (c) <= 0x7e ? ASCII : 0))
#define ROW(r)                                                                                     \
    CLASS((r) + 0), CLASS((r) + 1), CLASS((r) + 2), CLASS((r) + 3), CLASS((r) + 4),                \
        CLASS((r) + 5), CLASS((r) + 6), CLASS((r) + 7), CLASS((r) + 8), CLASS((r) + 9),            \
        CLASS((r) + 10), CLASS((r) + 11), CLASS((r) + 12), CLASS((r) + 13), CLASS((r) + 14),       \
        CLASS((r) + 15)
static const unsigned char cls[256] = {
    ROW(0x00), ROW(0x10), ROW(0x20), ROW(0x30), ROW(0x40), ROW(0x50), ROW(0x60), ROW(0x70),
    ROW(0x80), ROW(0x90), ROW(0xa0), ROW(0xb0), ROW(0xc0), ROW(0xd0), ROW(0xe0), ROW(0xf0),
};

static const char bare_cr[] = "CR not followed by LF (lines must end in CRLF)";
static const char bare_lf[] = "bare LF (lines must end in CRLF)";
static const char bad_host[] = "Host header is not host[:port]";
static const char bad_ext[] = "malformed chunk extension";
static const char too_large[] = "request body larger than the server accepts";

void http_screen_reset(struct http_screen *s)
{
    memset(s, 0, sizeof *s);
}

void http_screen_chunked(struct http_screen *s, uint64_t max_bytes)
{
    s->state = SIZE_FIRST;
    s->chunked = true;
    s->budget = max_bytes;
}

void http_screen_unframed(struct http_screen *s)
{
    s->state = UNFRAMED;
}

bool http_screen_request_line_done(const struct http_screen *s)
{
    return s->request_line;
}

static unsigned hex_value(unsigned char c)
{
    return IS_DIGIT(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* What a chunked body may still take once the first `used` bytes of this scan are counted (the
 * budget is charged at the end of each scan, so that checks within it stay exact). */
static uint64_t left_after(const struct http_screen *s, size_t used)
{
    return used < s->budget ? s->budget - used : 0;
}

static bool is_ext(int state)
{
    return state >= EXT_BWS && state <= EXT_QUOTED_END;
}

/* What a byte that breaks the rules is called in an answer: CR and LF have their own reason,
 * so a client learns that its line ends are the problem. */
static const char *why(unsigned char c, const char *otherwise)
{
    return c == '\n' ? bare_lf : otherwise;
}

/* The common shapes, whole in the buffer, at once: a request line with an ASCII target, and a
 * field line (a Host one only when its value is a plain name or address with an optional port).
 * Each returns the bytes it took, CRLF included, or 0 to leave the line to the state machine,
 * which takes anything else a byte at a time and says what is wrong. They accept a subset of
 * what it accepts (test_screen feeds every case whole and split at every byte, so both ways).
 * Why: the state machine's dispatch per byte cost more than llhttp itself (callgrind). */
static size_t fast_request_line(const unsigned char *u, size_t n)
{
    size_t i = 0;
    while (i < n && (cls[u[i]] & TCHAR)) {
        i++;
    }
    if (i == 0 || i == n || u[i] != ' ') {
        return 0;
    }
    size_t target = ++i;
    while (i < n && (cls[u[i]] & ASCII)) {
        i++;
    }
    if (i == target || n - i < 11 || u[i] != ' ' || memcmp(u + i + 1, "HTTP/", 5) != 0 ||
        !IS_DIGIT(u[i + 6]) || u[i + 7] != '.' || !IS_DIGIT(u[i + 8]) || u[i + 9] != '\r' ||
        u[i + 10] != '\n') {
        return 0;
    }
    return i + 11;
}

static size_t fast_field_line(const unsigned char *u, size_t n, bool trailers)
{
    size_t i = 0;
    while (i < n && (cls[u[i]] & TCHAR)) {
        i++;
    }
    if (i == 0 || i == n || u[i] != ':') {
        return 0;
    }
    if (i == 4 && !trailers && (u[0] | 0x20) == 'h' && (u[1] | 0x20) == 'o' &&
        (u[2] | 0x20) == 's' && (u[3] | 0x20) == 't') {
        for (i++; i < n && (u[i] == ' ' || u[i] == '\t'); i++) {
        }
        while (i < n && (cls[u[i]] & REG)) {
            i++;
        }
        if (i < n && u[i] == ':') {
            for (i++; i < n && IS_DIGIT(u[i]); i++) {
            }
        }
        while (i < n && (u[i] == ' ' || u[i] == '\t')) {
            i++;
        }
    } else {
        for (i++; i < n && (cls[u[i]] & FIELD); i++) {
        }
    }
    return n - i >= 2 && u[i] == '\r' && u[i + 1] == '\n' ? i + 2 : 0;
}

/* One byte at a time, except where a state can take a run of bytes of one class: there a tight
 * loop over the class table takes it (the target, names, values, chunk data), since this runs
 * over every byte of every request. */
int http_screen_scan(struct http_screen *s, const char *p, size_t n, struct http_screen_span *span,
                     const char **reason)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    /* Where the run of skipped bytes (an extension, or a target's bytes >= 0x80) began, or
     * n + 1: none yet. */
    size_t skip_from = is_ext(s->state) ? 0 : n + 1;
    const char *bad = NULL;
    int status = 400;
    bool stop = false;
    bool target_skip = false;
    size_t k;
    while (i < n && !stop && bad == NULL) {
        unsigned char c = u[i];
        switch ((enum state)s->state) {
        case START:
            if ((cls[c] & TCHAR) && (k = fast_request_line(u + i, n - i)) > 0) {
                s->request_line = true;
                s->state = FIELD_START;
                i += k;
                break;
            }
            if (c == '\r') {
                s->state = START_LF;
            } else if (cls[c] & TCHAR) {
                s->state = METHOD;
            } else {
                bad = why(c, "malformed request line");
                break;
            }
            i++;
            break;
        case START_LF:
            if (c != '\n') {
                bad = bare_cr;
                break;
            }
            s->state = START;
            i++;
            break;
        case METHOD:
            while (i < n && (cls[u[i]] & TCHAR)) {
                i++;
            }
            if (i < n) {
                if (u[i] != ' ') {
                    bad = why(u[i], "malformed request line (method)");
                    break;
                }
                s->state = TARGET_FIRST;
                i++;
            }
            break;
        case TARGET_FIRST:
            /* No form of request-target starts with a byte >= 0x80. */
            if (!(cls[c] & ASCII)) {
                bad = why(c, "malformed request line (target)");
                break;
            }
            s->state = TARGET;
            i++;
            break;
        case TARGET:
            while (i < n && (cls[u[i]] & ASCII)) {
                i++;
            }
            if (i < n && u[i] >= 0x80) {
                /* Raw bytes >= 0x80 (UTF-8 as curl sends it) belong to the target, but llhttp
                 * is not shown them: its URL parser refuses them when built strict, and in
                 * every llhttp 9. The caller adds them to the target itself (span.target). */
                skip_from = skip_from < i ? skip_from : i;
                while (i < n && u[i] >= 0x80) {
                    i++;
                }
                target_skip = true;
                stop = i < n;
                break;
            }
            if (i < n) {
                if (u[i] != ' ') {
                    bad = u[i] == '\r' ? "request line without an HTTP version"
                                       : why(u[i], "control character in the request target");
                    break;
                }
                s->state = VERSION;
                s->pos = 0;
                i++;
            }
            break;
        case VERSION: {
            static const char version[] = "HTTP/0.0\r";
            bool ok = version[s->pos] == '0' ? IS_DIGIT(c) : c == (unsigned char)version[s->pos];
            if (!ok) {
                bad = why(c, "malformed HTTP version (HTTP/d.d expected)");
                break;
            }
            if (++s->pos == sizeof version - 1) {
                s->state = LINE_LF;
            }
            i++;
            break;
        }
        case LINE_LF:
            if (c != '\n') {
                bad = bare_cr;
                break;
            }
            s->request_line = true;
            s->state = FIELD_START;
            i++;
            break;
        case FIELD_START:
            if ((cls[c] & TCHAR) && (k = fast_field_line(u + i, n - i, s->trailers)) > 0) {
                i += k;
                break;
            }
            if (c == '\r') {
                s->state = END_LF;
            } else if (cls[c] & TCHAR) {
                s->state = FIELD_NAME;
                s->pos = (c | 0x20) == 'h' ? 1 : 5;
            } else if (c == ' ' || c == '\t') {
                bad = "obsolete line folding (a header line starting with whitespace)";
                break;
            } else if (c == ':') {
                bad = "empty header name";
                break;
            } else {
                bad = why(c, "invalid character in a header name");
                break;
            }
            i++;
            break;
        case FIELD_NAME:
            for (; i < n && (cls[u[i]] & TCHAR); i++) {
                s->pos =
                    s->pos < 4 && (u[i] | 0x20) == (unsigned char)"host"[s->pos] ? s->pos + 1 : 5;
            }
            if (i < n) {
                if (u[i] == ':') {
                    s->state = s->pos == 4 && !s->trailers ? HOST_START : FIELD_VALUE;
                    s->pos = 0;
                    i++;
                } else if (u[i] == ' ' || u[i] == '\t') {
                    bad = "whitespace between a header name and its colon";
                } else if (u[i] == '\r') {
                    bad = "header line without a colon";
                } else {
                    bad = why(u[i], "invalid character in a header name");
                }
            }
            break;
        case FIELD_VALUE:
            while (i < n && (cls[u[i]] & FIELD)) {
                i++;
            }
            if (i < n) {
                if (u[i] != '\r') {
                    bad = why(u[i], "control character in a header value");
                    break;
                }
                s->state = LINE_LF;
                i++;
            }
            break;
        case END_LF:
            if (c != '\n') {
                bad = bare_cr;
                break;
            }
            s->state = s->trailers ? DONE : HEAD_DONE;
            stop = true;
            i++;
            break;
        /* Host = uri-host [ ":" port ], between optional whitespace (RFC 9112 section 3.2,
         * RFC 3986 section 3.2.2). An empty value is valid (a target without authority). */
        case HOST_START:
            if (c == ' ' || c == '\t') {
                i++;
                break;
            }
            s->state = HOST_NAME;
            if (c == '[') {
                s->state = HOST_LITERAL;
                s->pos = 0;
                i++;
            }
            break;
        case HOST_NAME:
            while (i < n && (cls[u[i]] & REG)) {
                i++;
            }
            if (i == n) {
                break;
            }
            c = u[i];
            if (c == '%') {
                s->state = HOST_PCT;
                s->pos = 0;
            } else if (c == ':') {
                s->state = HOST_PORT;
            } else if (c == ' ' || c == '\t') {
                s->state = HOST_TRAIL;
            } else if (c == '\r') {
                s->state = LINE_LF;
            } else {
                bad = why(c, bad_host);
                break;
            }
            i++;
            break;
        case HOST_PCT:
            if (!(cls[c] & HEX)) {
                bad = why(c, bad_host);
                break;
            }
            if (++s->pos == 2) {
                s->state = HOST_NAME;
            }
            i++;
            break;
        case HOST_LITERAL:
            while (i < n && (cls[u[i]] & LIT)) {
                s->pos = 1;
                i++;
            }
            if (i < n) {
                if (u[i] != ']' || s->pos == 0) {
                    bad = why(u[i], bad_host);
                    break;
                }
                s->state = HOST_LITERAL_END;
                i++;
            }
            break;
        case HOST_LITERAL_END:
            if (c == ':') {
                s->state = HOST_PORT;
            } else if (c == ' ' || c == '\t') {
                s->state = HOST_TRAIL;
            } else if (c == '\r') {
                s->state = LINE_LF;
            } else {
                bad = why(c, bad_host);
                break;
            }
            i++;
            break;
        case HOST_PORT:
            while (i < n && IS_DIGIT(u[i])) {
                i++;
            }
            if (i < n) {
                c = u[i];
                if (c == ' ' || c == '\t') {
                    s->state = HOST_TRAIL;
                } else if (c == '\r') {
                    s->state = LINE_LF;
                } else {
                    bad = why(c, bad_host);
                    break;
                }
                i++;
            }
            break;
        case HOST_TRAIL:
            if (c == '\r') {
                s->state = LINE_LF;
            } else if (c != ' ' && c != '\t') {
                bad = why(c, bad_host);
                break;
            }
            i++;
            break;
        case HEAD_DONE:
        case DONE:
            /* llhttp read on where the screen saw the message (or its head) end. */
            bad = "request framing not understood";
            break;
        case UNFRAMED:
            i = n;
            break;
        /* chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 section 7.1) */
        case SIZE_FIRST:
            if (!(cls[c] & HEX)) {
                bad = why(c, c == '\r' ? "empty chunk size" : "chunk size is not hexadecimal");
                break;
            }
            s->state = SIZE;
            s->size = hex_value(c);
            i++;
            break;
        case SIZE:
            for (; i < n && (cls[u[i]] & HEX); i++) {
                /* A size past what the body may still take is refused at once (which also
                 * keeps the arithmetic from overflowing). */
                uint64_t left = left_after(s, i + 1);
                if (s->size > (left >> 4) || (s->size << 4 | hex_value(u[i])) > left) {
                    bad = too_large;
                    status = 413;
                    break;
                }
                s->size = s->size << 4 | hex_value(u[i]);
            }
            if (bad || i == n) {
                break;
            }
            c = u[i];
            if (c == '\r') {
                s->state = SIZE_LF;
            } else if (c == ';' || c == ' ' || c == '\t') {
                s->state = c == ';' ? EXT_SEMI : EXT_BWS;
                skip_from = i;
            } else {
                bad = why(c, "invalid character in a chunk size");
                break;
            }
            i++;
            break;
        case SIZE_CR:
            if (c != '\r') {
                bad = bad_ext;
                break;
            }
            s->state = SIZE_LF;
            i++;
            break;
        case SIZE_LF:
            if (c != '\n') {
                bad = bare_cr;
                break;
            }
            /* The chunk's data and its CRLF must fit in what is left after this LF. */
            if (s->size > 0 && s->size + 2 > left_after(s, i + 1)) {
                bad = too_large;
                status = 413;
                break;
            }
            if (s->size == 0) {
                s->state = FIELD_START; /* the last chunk: the trailer section follows */
                s->trailers = true;
            } else {
                s->state = DATA;
            }
            i++;
            break;
        /* chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
         * (RFC 9112 section 7.1.1): checked, and kept from llhttp. The CR that ends them is
         * llhttp's again: the span ends before it. */
        case EXT_BWS:
            if (c == ';') {
                s->state = EXT_SEMI;
            } else if (c != ' ' && c != '\t') {
                bad = why(c, bad_ext);
                break;
            }
            i++;
            break;
        case EXT_SEMI:
        case EXT_EQ:
            if (c == ' ' || c == '\t') {
                i++;
            } else if (cls[c] & TCHAR) {
                s->state = s->state == EXT_SEMI ? EXT_NAME : EXT_TOKEN;
                i++;
            } else if (c == '"' && s->state == EXT_EQ) {
                s->state = EXT_QUOTED;
                i++;
            } else {
                bad = why(c, bad_ext);
            }
            break;
        case EXT_NAME:
        case EXT_TOKEN:
        case EXT_QUOTED_END:
            while (s->state != EXT_QUOTED_END && i < n && (cls[u[i]] & TCHAR)) {
                i++;
            }
            if (i == n) {
                break;
            }
            c = u[i];
            if (c == '\r') {
                s->state = SIZE_CR;
                stop = i > skip_from; /* else nothing was skipped here: go on feeding */
                skip_from = stop ? skip_from : n + 1;
                break;
            }
            if (c == ';') {
                s->state = EXT_SEMI;
            } else if (c == ' ' || c == '\t') {
                s->state = s->state == EXT_NAME ? EXT_NAME_BWS : EXT_BWS;
            } else if (c == '=' && s->state == EXT_NAME) {
                s->state = EXT_EQ;
            } else {
                bad = why(c, bad_ext);
                break;
            }
            i++;
            break;
        case EXT_NAME_BWS:
            if (c == '=') {
                s->state = EXT_EQ;
            } else if (c == ';') {
                s->state = EXT_SEMI;
            } else if (c != ' ' && c != '\t') {
                bad = why(c, bad_ext);
                break;
            }
            i++;
            break;
        case EXT_QUOTED:
            while (i < n && (cls[u[i]] & QDTEXT)) {
                i++;
            }
            if (i < n) {
                if (u[i] == '"') {
                    s->state = EXT_QUOTED_END;
                } else if (u[i] == '\\') {
                    s->state = EXT_ESCAPE;
                } else {
                    bad = why(u[i], bad_ext);
                    break;
                }
                i++;
            }
            break;
        case EXT_ESCAPE:
            if (!(cls[c] & FIELD)) {
                bad = why(c, bad_ext);
                break;
            }
            s->state = EXT_QUOTED;
            i++;
            break;
        case DATA:
            k = n - i < s->size ? n - i : (size_t)s->size;
            s->size -= k;
            i += k;
            if (s->size == 0) {
                s->state = DATA_CR;
            }
            break;
        case DATA_CR:
        case DATA_LF:
            if (c != (s->state == DATA_CR ? '\r' : '\n')) {
                bad = "chunk data not followed by CRLF";
                break;
            }
            s->state = s->state == DATA_CR ? DATA_LF : SIZE_FIRST;
            i++;
            break;
        }
    }
    /* The i bytes before the end, or before the byte that broke a rule, are the chunked body's:
     * past the limit, that comes first. */
    if (s->chunked && i > s->budget) {
        bad = too_large;
        status = 413;
    } else if (s->chunked) {
        s->budget -= i;
    }
    if (bad) {
        *reason = bad;
        return status;
    }
    span->feed = skip_from <= i ? skip_from : i;
    span->skip = i - span->feed;
    span->target = target_skip;
    return 0;
}
