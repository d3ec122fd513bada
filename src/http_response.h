/* http_response: formats HTTP/1.1 responses: status line, the headers every answer carries,
 * the body. */
#ifndef DOWNCASE_HTTP_RESPONSE_H
#define DOWNCASE_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

struct http_stream_handler;

/* What a handler answers. Strings are borrowed until the response is formatted. */
struct http_response {
    int status;
    const char *content_type;  /* NULL: text/plain; charset=utf-8 */
    const char *extra_headers; /* NULL, or complete lines: "Allow: GET, HEAD\r\n" */
    const char *body;
    size_t body_len;
    /* Non-NULL: a streaming answer (http_conn.h): the head has no Content-Length, no body is
     * formatted, and the connection is handed to stream with stream_ctx. */
    const struct http_stream_handler *stream;
    void *stream_ctx;
};

/* The Date header's text, formatted at most once a second. */
struct http_date {
    time_t sec;
    char text[40];
};

/* Sets status and a static body (a C string). */
void http_response_text(struct http_response *res, int status, const char *body);

/* The reason phrase of a status code ("Not Found"); "Unknown" for codes we never send. */
const char *http_status_text(int status);
/* The current IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */
const char *http_date_now(struct http_date *d);

enum http_connection_header {
    HTTP_CONN_NONE,       /* HTTP/1.1 keep-alive: the default needs no header */
    HTTP_CONN_KEEP_ALIVE, /* HTTP/1.0 client that asked to keep the connection */
    HTTP_CONN_CLOSE,
};

/* Appends the response to out. For HEAD the headers are those of the GET (Content-Length
 * included) and no body follows. 0 or -ENOMEM. */
int http_response_format(struct buf *out, const struct http_response *res, const char *date,
                         enum http_connection_header conn, bool head);

#endif
