/* downcase_route: GET /downcase/?param=TEXT (downcase_route.h). */
#include "downcase_route.h"

#include <errno.h>
#include <llhttp.h>
#include <string.h>

#include "lower.h"
#include "query.h"

#define PATH "/downcase/"

static void downcase(void *ctx, const struct http_request *req, const struct router_target *t,
                     struct http_response *res)
{
    struct downcase_route *r = ctx;
    const char *query = t->query;
    size_t query_len = t->query_len;
    if (!router_read_only(req, res)) {
        return;
    }
    r->param.len = 0;
    int found = query ? query_get(query, query_len, "param", &r->param) : 0;
    if (found < 0) {
        http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    if (found == 0) {
        http_response_text(res, 400,
                           "400 Bad Request: missing query parameter 'param' "
                           "(try /downcase/?param=HeLLo)\n");
        return;
    }
    struct buf *b = &r->body;
    b->len = 0;
    int rc = buf_append(b, "lower case of ", 14);
    if (rc == 0) {
        rc = buf_append(b, r->param.data, r->param.len);
    }
    if (rc == 0) {
        rc = buf_append(b, " is ", 4);
    }
    if (rc == 0) {
        /* lower_utf8 validates as it goes: -EINVAL is the client's bytes, not our memory. */
        rc = lower_utf8(r->param.data, r->param.len, b);
    }
    if (rc == -EINVAL) {
        http_response_text(res, 400,
                           "400 Bad Request: query parameter 'param' is not valid UTF-8\n");
        return;
    }
    if (rc < 0) {
        http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    /* HEAD is a safe method (RFC 9110 9.2.1): it answers like GET but publishes nothing, so a
     * health check or link checker cannot flood the log. A GET is answered 200 only once ZeroMQ
     * has queued its message: when a subscriber's queue is full (--hwm) the message is refused
     * at once, never waited for, counted by the publisher, and the client is told to retry. So
     * every 200 is a message on its way to every subscriber. */
    if (req->method == HTTP_GET && (rc = publisher_send(r->publisher, b->data, b->len)) < 0) {
        http_response_text(res, 503,
                           rc == -EAGAIN
                               ? "503 Service Unavailable: the message could not be queued for "
                                 "the subscribers (they are behind); retry\n"
                               : "503 Service Unavailable: the message could not be retained "
                                 "(the journal cannot be written); retry\n");
        res->extra_headers = "Retry-After: 1\r\n";
        return;
    }
    res->status = 200;
    res->body = b->data;
    res->body_len = b->len;
}

/* Flask's answer for a route declared with a trailing slash. */
static void redirect(void *ctx, const struct http_request *req, const struct router_target *t,
                     struct http_response *res)
{
    (void)req;
    struct downcase_route *r = ctx;
    r->headers.len = 0;
    int rc = buf_append_str(&r->headers, "Location: " PATH);
    if (rc == 0 && t->query) {
        rc = buf_append_byte(&r->headers, '?');
        if (rc == 0) {
            rc = buf_append(&r->headers, t->query, t->query_len);
        }
    }
    if (rc == 0) {
        rc = buf_append(&r->headers, "\r\n", 3); /* with the NUL: used as a C string */
    }
    if (rc < 0) {
        http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    http_response_text(res, 308, "308 Permanent Redirect: the resource is " PATH "\n");
    res->extra_headers = r->headers.data;
}

int downcase_route_add(struct downcase_route *d, struct router *r, struct publisher *p)
{
    memset(d, 0, sizeof *d);
    d->publisher = p;
    int rc = router_add(r, PATH, downcase, d);
    if (rc == 0) {
        rc = router_add(r, "/downcase", redirect, d);
    }
    return rc;
}

void downcase_route_finish(struct downcase_route *d)
{
    buf_finish(&d->param);
    buf_finish(&d->body);
    buf_finish(&d->headers);
}
