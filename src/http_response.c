/* http_response: HTTP/1.1 response formatting. */
#include "http_response.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

const char *http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 303:
        return "See Other";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

const char *http_date_now(struct http_date *d)
{
    time_t now = time(NULL);
    if (now != d->sec || d->text[0] == '\0') {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(d->text, sizeof d->text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        d->sec = now;
    }
    return d->text;
}

/* Appends a C string; the caller checks the buffer once at the end (see below). */
static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* The response head is assembled with memcpy and one integer conversion rather than snprintf:
 * formatting was a quarter of the instructions spent per request (callgrind, scripts/bench). */
int http_response_format(struct buf *out, const struct http_response *res, const char *date,
                         enum http_connection_header conn, bool head)
{
    static const struct {
        const char *text;
        size_t len;
    } conn_lines[] = {
        [HTTP_CONN_NONE] = {"", 0},
        [HTTP_CONN_KEEP_ALIVE] = {"Connection: keep-alive\r\n", 24},
        [HTTP_CONN_CLOSE] = {"Connection: close\r\n", 19},
    };
    const char *reason = http_status_text(res->status);
    const char *type = res->content_type ? res->content_type : "text/plain; charset=utf-8";
    const char *extra = res->extra_headers ? res->extra_headers : "";
    size_t reason_len = strlen(reason);
    size_t date_len = strlen(date);
    size_t type_len = strlen(type);
    size_t extra_len = strlen(extra);
    char status[4];
    int code = res->status >= 100 && res->status <= 999 ? res->status : 500;
    status[0] = (char)('0' + code / 100);
    status[1] = (char)('0' + code / 10 % 10);
    status[2] = (char)('0' + code % 10);
    status[3] = ' ';
    char length[24];
    size_t length_len = 0;
    size_t v = res->body_len;
    do {
        length[sizeof length - 1 - length_len++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    size_t need = 9 + 4 + reason_len + 2 +
                  (sizeof "Server: downcase/" DOWNCASE_VERSION "\r\n" - 1) + 6 + date_len + 2 + 14 +
                  type_len + 2 + 16 + length_len + 2 +
                  (sizeof "X-Content-Type-Options: nosniff\r\n" - 1) + conn_lines[conn].len +
                  extra_len + 2 + (head ? 0 : res->body_len);
    size_t start = out->len;
    int rc = buf_reserve(out, need);
    if (rc < 0) {
        return rc;
    }
    char *p = out->data + start;
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = put(p, status, 4);
    p = put(p, reason, reason_len);
    p = PUT_LIT(p, "\r\nServer: downcase/" DOWNCASE_VERSION "\r\nDate: ");
    p = put(p, date, date_len);
    p = PUT_LIT(p, "\r\nContent-Type: ");
    p = put(p, type, type_len);
    if (res->stream == NULL) {
        p = PUT_LIT(p, "\r\nContent-Length: ");
        p = put(p, length + sizeof length - length_len, length_len);
    }
    p = PUT_LIT(p, "\r\nX-Content-Type-Options: nosniff\r\n");
    p = put(p, conn_lines[conn].text, conn_lines[conn].len);
    p = put(p, extra, extra_len);
    p = PUT_LIT(p, "\r\n");
    if (!head && res->stream == NULL && res->body_len > 0) {
        p = put(p, res->body, res->body_len);
    }
    out->len = (size_t)(p - out->data);
    return 0;
}

void http_response_text(struct http_response *res, int status, const char *body)
{
    res->status = status;
    res->body = body;
    res->body_len = strlen(body);
}
