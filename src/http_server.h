/* http_server: the HTTP/1.1 listener: binds, accepts, stops gracefully. Each connection is an
 * http_conn; requests reach the handler given here, which answers them synchronously (nothing
 * here blocks and nothing waits). */
#ifndef DOWNCASE_HTTP_SERVER_H
#define DOWNCASE_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "closer.h"
#include "diag.h"
#include "http_conn.h"

struct http_server {
    uv_tcp_t listener;
    uv_timer_t stop_timer;
    struct http_conns conns; /* the connections, their limits and counters */
    bool listening;
    bool stopping;
    int open_handles;
    struct diag_limit accept_limit;
    struct diag_limit refuse_limit;
    struct closer stopped;
};

/* Prepares the server (no socket yet) with these limits. Cannot fail. */
void http_server_init(struct http_server *s, uv_loop_t *loop, const char *who,
                      const struct http_limits *limits, http_handler h, void *ctx);
/* Resolves host, binds host:port and listens. Port 0 picks a free port. Announces the address
 * on stderr; on failure reports the address and reason and returns a negative errno. */
int http_server_listen(struct http_server *s, const char *host, int port);
/* Stops accepting; connections finish the request in progress and close; after grace_ms the
 * rest are closed. `stopped` runs once everything is closed (closer.h). Calling it again while
 * stopping closes every connection at once and completes the new closer at once. */
void http_server_stop(struct http_server *s, uint64_t grace_ms, struct closer stopped);

#endif
