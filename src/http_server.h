/* http_server: the HTTP/1.1 listener: binds, accepts, owns the connections, stops gracefully.
 * Each connection is an http_conn; requests reach the handler given here, which answers them
 * synchronously (nothing here blocks and nothing waits). */
#ifndef DOWNCASE_HTTP_SERVER_H
#define DOWNCASE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

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
    size_t max_header_bytes; /* request target + header names and values; 414 / 431 past it */
    size_t max_output_bytes; /* unsent responses per connection before it stops reading */
};

struct http_counters {
    uint64_t accepted;
    uint64_t requests;
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
    void (*stopped_cb)(struct http_server *s);
    void *data; /* the owner's */
    /* One read buffer for all connections: libuv hands it to one read callback at a time, and
     * a connection copies out whatever it must keep, so idle connections cost no buffer. */
    char readbuf[64 * 1024];
};

/* Prepares the server (no socket yet). Cannot fail. */
void http_server_init(struct http_server *s, uv_loop_t *loop, const char *who, http_handler h,
                      void *ctx);
/* Resolves host, binds host:port and listens. Port 0 picks a free port. Announces the address
 * on stderr; on failure reports the address and reason and returns a negative errno. */
int http_server_listen(struct http_server *s, const char *host, int port);
/* Stops accepting; connections finish the request in progress and close; after grace_ms the
 * rest are closed. stopped_cb runs once everything is closed. Calling it again while stopping
 * closes every connection at once. */
void http_server_stop(struct http_server *s, uint64_t grace_ms,
                      void (*stopped_cb)(struct http_server *s));

/* For http_conn: a connection has been freed and unlinked. */
void http_server_conn_gone(struct http_server *s);

#endif
