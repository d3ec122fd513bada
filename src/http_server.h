/* http_server: the HTTP/1.1 listener: binds, accepts, owns the connections, stops gracefully.
 * Each connection is an http_conn; requests reach the handler given here, which answers them
 * synchronously (nothing here blocks and nothing waits). */
#ifndef DOWNCASE_HTTP_SERVER_H
#define DOWNCASE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cli.h"
#include "diag.h"
#include "http_response.h"

/* One parsed request, valid during the handler call. */
struct http_request {
    int method; /* llhttp_method_t: HTTP_GET, HTTP_HEAD, ... */
    const char *target;
    size_t target_len;
    unsigned http_major;
    unsigned http_minor;
};

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

/* The statuses counted one by one; anything else is counted as HTTP_STATUS_OTHER. */
#define HTTP_STATUS_CODES 200, 308, 400, 404, 405, 408, 413, 414, 431, 500, 503, 505
enum { HTTP_STATUS_COUNTED = 12, HTTP_STATUS_OTHER = HTTP_STATUS_COUNTED };
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

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t stop_timer;
    const char *who;
    http_handler handler;
    void *handler_ctx;
    struct http_limits limits;
    struct http_counters counters;
    struct http_date date;
    struct http_conn *conns; /* every open connection, for a graceful stop */
    size_t nconns;
    bool listening;
    bool stopping;
    int open_handles;
    struct diag_limit accept_limit;
    struct diag_limit refuse_limit;
    void (*stopped_cb)(struct http_server *s);
    void *data; /* the owner's */
    /* One read buffer for all connections: libuv hands it to one read callback at a time, and
     * a connection copies out whatever it must keep, so idle connections cost no buffer. */
    char readbuf[64 * 1024];
};

/* Prepares the server (no socket yet) with default limits, which the owner may change before
 * listening. Cannot fail. */
void http_server_init(struct http_server *s, uv_loop_t *loop, const char *who, http_handler h,
                      void *ctx);
/* Takes the limits the command line set (--max-header-bytes and the rest). */
void http_server_set_limits(struct http_server *s, const struct cli_options *o);
/* Resolves host, binds host:port and listens. Port 0 picks a free port. Announces the address
 * on stderr; on failure reports the address and reason and returns a negative errno. */
int http_server_listen(struct http_server *s, const char *host, int port);
/* Stops accepting; connections finish the request in progress and close; after grace_ms the
 * rest are closed. stopped_cb runs once everything is closed. Calling it again while stopping
 * closes every connection at once. */
void http_server_stop(struct http_server *s, uint64_t grace_ms,
                      void (*stopped_cb)(struct http_server *s));

/* Counts a response by status. */
void http_server_count_status(struct http_server *s, int status);

/* For http_conn: a connection has been freed and unlinked. */
void http_server_conn_gone(struct http_server *s);

#endif
