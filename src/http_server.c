/* http_server: listening, accepting and stopping. */
#include "http_server.h"

#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

static void on_conn_gone(struct http_conns *cs);

void http_server_init(struct http_server *s, uv_loop_t *loop, const char *who,
                      const struct http_limits *limits, http_handler h, void *ctx)
{
    memset(s, 0, sizeof *s);
    s->conns.loop = loop;
    s->conns.who = who;
    s->conns.handler = h;
    s->conns.handler_ctx = ctx;
    s->conns.limits = *limits;
    s->conns.on_gone = on_conn_gone;
    uv_timer_init(loop, &s->stop_timer);
    s->stop_timer.data = s;
    s->open_handles = 1;
}

static void handle_gone(struct http_server *s)
{
    if (--s->open_handles == 0) {
        closer_done(&s->stopped);
    }
}

static void on_refused_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    free(h);
    handle_gone(s);
}

/* Past max_connections: accept and close at once, so the client learns right away (a backlog
 * left to fill would only make it wait for a timeout) and the ones we have keep being served. */
static void refuse(struct http_server *s)
{
    s->conns.counters.rejected++;
    diag_limited(&s->refuse_limit, uv_now(s->conns.loop), 10000, s->conns.who,
                 "refusing connections: %zu open, the --max-connections limit", s->conns.n);
    uv_tcp_t *t = malloc(sizeof *t);
    if (t == NULL) {
        return; /* it stays in the backlog; the next accept tries again */
    }
    uv_tcp_init(s->conns.loop, t);
    t->data = s;
    s->open_handles++;
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t) == 0) {
        /* An RST rather than a FIN: nothing was read, and the socket should not linger. */
        uv_tcp_close_reset(t, on_refused_closed);
    } else {
        uv_close((uv_handle_t *)t, on_refused_closed);
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct http_server *s = listener->data;
    if (status < 0) {
        diag(s->conns.who, "accept: %s", uv_strerror(status));
        return;
    }
    if (s->conns.n >= s->conns.limits.max_connections) {
        refuse(s);
        return;
    }
    int rc = http_conn_accept(&s->conns, listener);
    if (rc < 0) {
        diag_limited(&s->accept_limit, uv_now(s->conns.loop), 10000, s->conns.who, "accept: %s",
                     uv_strerror(rc));
    }
}

/* "127.0.0.1:5000" or "[::1]:5000". */
static void format_addr(const struct sockaddr *sa, char *out, size_t outsz)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(out, outsz, "[%s]:%d", ip, port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(out, outsz, "%s:%d", ip, port);
    }
}

int http_server_listen(struct http_server *s, const char *host, int port)
{
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
    };
    uv_getaddrinfo_t req;
    /* Without a callback uv_getaddrinfo runs synchronously: start-up may block on DNS. */
    int rc = uv_getaddrinfo(s->conns.loop, &req, NULL, host, portstr, &hints);
    if (rc < 0) {
        diag(s->conns.who, "listen on %s:%d: cannot resolve host: %s", host, port, uv_strerror(rc));
        return rc;
    }
    uv_tcp_init(s->conns.loop, &s->listener);
    s->listener.data = s;
    s->listening = true;
    s->open_handles++;
    rc = uv_tcp_bind(&s->listener, req.addrinfo->ai_addr, 0);
    if (rc == 0) {
        /* 511 is nginx's and Node's default backlog. */
        rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    }
    char shown[128];
    if (rc < 0) {
        format_addr(req.addrinfo->ai_addr, shown, sizeof shown);
        diag(s->conns.who, "listen on %s (%s:%d): %s", shown, host, port, uv_strerror(rc));
        uv_freeaddrinfo(req.addrinfo);
        return rc;
    }
    uv_freeaddrinfo(req.addrinfo);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) == 0) {
        format_addr((struct sockaddr *)&ss, shown, sizeof shown);
        diag(s->conns.who, "http listening on %s", shown);
    }
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    handle_gone(h->data);
}

/* The last connection of a stopping server is gone: the timer can go, and with it the server. */
static void on_conn_gone(struct http_conns *cs)
{
    struct http_server *s =
        (struct http_server *)(void *)((char *)cs - offsetof(struct http_server, conns));
    if (s->stopping && cs->n == 0 && !uv_is_closing((uv_handle_t *)&s->stop_timer)) {
        uv_close((uv_handle_t *)&s->stop_timer, on_handle_closed);
    }
}

static void on_grace_over(uv_timer_t *t)
{
    struct http_server *s = t->data;
    diag(s->conns.who, "closing %zu connection(s) still open after the grace period", s->conns.n);
    http_conns_close(&s->conns);
}

void http_server_stop(struct http_server *s, uint64_t grace_ms, struct closer stopped)
{
    if (s->stopping) {
        http_conns_close(&s->conns);
        closer_done(&stopped);
        return;
    }
    s->stopping = true;
    s->conns.stopping = true;
    s->stopped = stopped;
    if (s->listening) {
        s->listening = false;
        uv_close((uv_handle_t *)&s->listener, on_handle_closed);
    }
    http_conns_drain(&s->conns);
    uv_timer_start(&s->stop_timer, on_grace_over, grace_ms, 0);
    on_conn_gone(&s->conns);
}
