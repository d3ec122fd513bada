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
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
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

int http_response_format(struct buf *out, const struct http_response *res, const char *date,
                         enum http_connection_header conn, bool head)
{
    static const char *const conn_lines[] = {
        [HTTP_CONN_NONE] = "",
        [HTTP_CONN_KEEP_ALIVE] = "Connection: keep-alive\r\n",
        [HTTP_CONN_CLOSE] = "Connection: close\r\n",
    };
    size_t start = out->len;
    int rc =
        buf_appendf(out,
                    "HTTP/1.1 %d %s\r\n"
                    "Server: downcase/" DOWNCASE_VERSION "\r\n"
                    "Date: %s\r\n"
                    "Content-Type: %s\r\n"
                    "Content-Length: %zu\r\n"
                    "X-Content-Type-Options: nosniff\r\n"
                    "%s%s\r\n",
                    res->status, http_status_text(res->status), date,
                    res->content_type ? res->content_type : "text/plain; charset=utf-8",
                    res->body_len, conn_lines[conn], res->extra_headers ? res->extra_headers : "");
    if (rc == 0 && !head) {
        rc = buf_append(out, res->body, res->body_len);
    }
    if (rc < 0) {
        out->len = start;
    }
    return rc;
}
