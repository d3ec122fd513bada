/* http_conn: one HTTP/1.1 connection: reads, parses with llhttp, answers in order, writes.
 *
 * Pipelining and backpressure: every request completed by a read is answered into `out`, and
 * all of a read's answers leave in one write. While more than limits.max_output_bytes of answers
 * are unsent, the parser is paused (on_message_complete returns HPE_PAUSED), reading stops, and
 * the unparsed input is kept; when the writes drain, parsing resumes where it stopped. A client
 * that pipelines without reading therefore holds a bounded amount of memory.
 *
 * Closing: after a response that ends the connection (Connection: close, HTTP/1.0, an error)
 * the write side is shut down and the input is read and discarded for a short while before the
 * socket closes ("lingering close", as nginx does): closing with unread input makes the kernel
 * send RST, which can destroy the response before the client has read it.
 *
 * Ownership: the connections of one listener share a `struct http_conns` that their server
 * embeds: the limits, the counters, the handler and the list of open connections, which each
 * connection joins when accepted and leaves when its handles are closed, telling the owner
 * through on_gone. The server only accepts, drains and closes through this header. */
#ifndef DOWNCASE_HTTP_CONN_H
#define DOWNCASE_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http_response.h"

/* How long a closing connection keeps discarding input before it closes. */
#define HTTP_CONN_LINGER_MS 2000

/* One parsed request, valid during the handler call. */
struct http_request {
    int method; /* llhttp_method_t: HTTP_GET, HTTP_HEAD, ... */
    const char *target;
    size_t target_len;
    unsigned http_major;
    unsigned http_minor;
    /* The header lines as received, each "name:value\n" (for http_request_header). */
    const char *headers;
    size_t headers_len;
};

/* The value of the first header called `name` (any case), without surrounding blanks; *len is
 * its length. NULL when the request has none. */
const char *http_request_header(const struct http_request *req, const char *name, size_t *len);

/* Answers req by filling res (status, body...). Called once per request, in request order. */
typedef void (*http_handler)(void *ctx, const struct http_request *req, struct http_response *res);

struct http_limits {
    size_t max_header_bytes;    /* request target + header names and values; 414 / 431 past it */
    size_t max_body_bytes;      /* request body (read and discarded); 413 past it */
    size_t max_output_bytes;    /* unsent responses per connection before it stops reading */
    uint64_t header_timeout_ms; /* from a request's first byte to its last header; then 408 */
    uint64_t idle_timeout_ms;   /* without progress (idle keep-alive, a stalled body or a
                                   client not reading its answers); then closed */
    size_t max_connections;     /* past it a new connection is closed at once */
};

/* The defaults (--max-header-bytes and the rest): nginx's header size, Node's timeouts. */
#define HTTP_LIMITS_DEFAULT                                                                        \
    ((struct http_limits){                                                                         \
        .max_header_bytes = 8 * 1024,                                                              \
        .max_body_bytes = 64 * 1024,                                                               \
        .max_output_bytes = 64 * 1024,                                                             \
        .header_timeout_ms = 10 * 1000,                                                            \
        .idle_timeout_ms = 60 * 1000,                                                              \
        .max_connections = 10000,                                                                  \
    })

/* The statuses counted one by one; anything else is counted as HTTP_STATUS_OTHER. */
#define HTTP_STATUS_CODES 200, 308, 400, 404, 405, 408, 413, 414, 431, 500, 501, 503, 505
enum { HTTP_STATUS_COUNTED = 13, HTTP_STATUS_OTHER = HTTP_STATUS_COUNTED };
extern const int http_status_codes[HTTP_STATUS_COUNTED];

struct http_counters {
    uint64_t accepted;
    uint64_t rejected; /* closed at once: past max_connections */
    uint64_t requests;
    uint64_t responses[HTTP_STATUS_COUNTED + 1]; /* by http_status_codes[], then others */
    uint64_t header_timeouts;                    /* answered 408 */
    uint64_t idle_closed;                        /* closed by the idle timeout */
    uint64_t bytes_in;
    uint64_t bytes_out;
};

struct http_conn;

/* Streaming answers (Server-Sent Events). A handler that sets res->stream answers with a head
 * that has no Content-Length (the body ends when the connection closes), and from then on the
 * connection belongs to the stream's owner: it is no longer parsed (input is read and thrown
 * away, so the client's close is seen), the request timeouts no longer apply, and the owner
 * writes with http_stream_write/http_stream_flush and ends it with http_stream_end. The owner
 * sees its backpressure in http_stream_unsent (bytes taken but not yet accepted by the socket)
 * and hears through `drained` when a write that had to wait has completed. A connection whose
 * writes make no progress for --idle-timeout is closed. `closed` runs exactly once, when the
 * connection is gone, whatever ended it: after it, the owner must forget the connection.
 * Ownership: res->stream_ctx (the owner's per-connection state) is handed over with the answer,
 * and given back through `closed`. */
struct http_stream_handler {
    void (*opened)(void *stream_ctx, struct http_conn *c);
    void (*drained)(void *stream_ctx);
    void (*closed)(void *stream_ctx);
};

/* Queues bytes of a stream's body (nothing is sent before http_stream_flush). 0, -EPIPE when the
 * connection is ending, or -ENOMEM. */
int http_stream_write(struct http_conn *c, const void *p, size_t n);
/* Hands what is queued to the socket. */
void http_stream_flush(struct http_conn *c);
/* Bytes queued or in a write the socket has not accepted yet. */
size_t http_stream_unsent(const struct http_conn *c);
/* Ends the stream: what is queued is sent, then the connection closes. */
void http_stream_end(struct http_conn *c);

/* What the connections of one server share; the server embeds and fills it. */
struct http_conns {
    uv_loop_t *loop;
    const char *who;
    http_handler handler;
    void *handler_ctx;
    struct http_limits limits;
    struct http_counters counters;
    struct http_date date;
    bool stopping;           /* answers carry Connection: close */
    struct http_conn *first; /* every open connection */
    size_t n;
    void (*on_gone)(struct http_conns *cs); /* a connection was freed (n is already lower) */
    /* Optional: runs before answers are written (the pub's journal group commit). */
    void (*before_write)(void *ctx);
    void *before_write_ctx;
    /* One read buffer for all connections: libuv hands it to one read callback at a time, and
     * a connection copies out whatever it must keep, so idle connections cost no buffer. */
    char readbuf[64 * 1024];
};

/* Accepts one connection from listener and starts reading it. 0 or a negative errno (the
 * caller counts and reports). */
int http_conn_accept(struct http_conns *cs, uv_stream_t *listener);
/* The server is stopping: each connection closes now if idle, otherwise after the request in
 * progress. */
void http_conns_drain(struct http_conns *cs);
/* Closes every connection at once. */
void http_conns_close(struct http_conns *cs);
/* Counts a response by status. */
void http_conns_count_status(struct http_conns *cs, int status);

#endif
