/* router: the pub's HTTP routes. */
#include "router.h"

#include <errno.h>
#include <llhttp.h>
#include <string.h>

#include "lower.h"
#include "metrics.h"
#include "query.h"

#define PATH "/downcase/"

void router_init(struct router *r, struct publisher *publisher, struct router_status status)
{
    memset(r, 0, sizeof *r);
    r->publisher = publisher;
    r->status = status;
}

void router_finish(struct router *r)
{
    buf_finish(&r->param);
    buf_finish(&r->body);
    buf_finish(&r->headers);
}

static void text(struct http_response *res, int status, const char *body)
{
    res->status = status;
    res->body = body;
    res->body_len = strlen(body);
}

/* Splits a request target into path and query. The absolute form ("http://host/path", which
 * HTTP/1.1 servers must accept) is reduced to its path; a '#fragment' is ignored. */
static void split_target(const char *t, size_t len, const char **path, size_t *path_len,
                         const char **query, size_t *query_len)
{
    const char *end = t + len;
    const char *hash = memchr(t, '#', len);
    if (hash) {
        end = hash;
    }
    if (len > 0 && t[0] != '/') {
        const char *scheme = memchr(t, ':', (size_t)(end - t));
        if (scheme && end - scheme > 3 && memcmp(scheme, "://", 3) == 0) {
            const char *slash = memchr(scheme + 3, '/', (size_t)(end - scheme - 3));
            t = slash ? slash : end;
        }
    }
    const char *q = memchr(t, '?', (size_t)(end - t));
    *path = t;
    *path_len = (size_t)((q ? q : end) - t);
    *query = q ? q + 1 : NULL;
    *query_len = q ? (size_t)(end - q - 1) : 0;
}

static void downcase(struct router *r, const struct http_request *req, const char *query,
                     size_t query_len, struct http_response *res)
{
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        text(res, 405, "405 Method Not Allowed: use GET or HEAD\n");
        res->extra_headers = "Allow: GET, HEAD\r\n";
        return;
    }
    r->param.len = 0;
    int found = query ? query_get(query, query_len, "param", &r->param) : 0;
    if (found < 0) {
        text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    if (found == 0) {
        text(res, 400,
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
        text(res, 400, "400 Bad Request: query parameter 'param' is not valid UTF-8\n");
        return;
    }
    if (rc < 0) {
        text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    /* HEAD is a safe method (RFC 9110 9.2.1): it answers like GET but publishes nothing, so a
     * health check or link checker cannot flood the log. A GET is answered 200 only once ZeroMQ
     * has queued its message: when a subscriber's queue is full (--hwm) the message is refused
     * at once, never waited for, counted by the publisher, and the client is told to retry. So
     * every 200 is a message on its way to every subscriber. */
    if (req->method == HTTP_GET && publisher_send(r->publisher, b->data, b->len) < 0) {
        text(res, 503,
             "503 Service Unavailable: the message could not be queued for the subscribers "
             "(they are behind); retry\n");
        res->extra_headers = "Retry-After: 1\r\n";
        return;
    }
    res->status = 200;
    res->body = b->data;
    res->body_len = b->len;
}

static bool read_only(const struct http_request *req, struct http_response *res)
{
    if (req->method == HTTP_GET || req->method == HTTP_HEAD) {
        return true;
    }
    text(res, 405, "405 Method Not Allowed: use GET or HEAD\n");
    res->extra_headers = "Allow: GET, HEAD\r\n";
    return false;
}

static void healthz(struct router *r, const struct http_request *req, struct http_response *res)
{
    if (!read_only(req, res)) {
        return;
    }
    const char *why = r->status.unhealthy ? r->status.unhealthy(r->status.owner) : NULL;
    if (why == NULL) {
        text(res, 200, "ok\n");
        return;
    }
    r->body.len = 0;
    if (buf_append_str(&r->body, "503 Service Unavailable: ") < 0 ||
        buf_append_str(&r->body, why) < 0 || buf_append_byte(&r->body, '\n') < 0) {
        text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    res->status = 503;
    res->body = r->body.data;
    res->body_len = r->body.len;
}

static void metrics(struct router *r, const struct http_request *req, struct http_response *res)
{
    if (!read_only(req, res)) {
        return;
    }
    r->body.len = 0;
    if (r->status.render == NULL || r->status.render(r->status.owner, &r->body) < 0) {
        text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    res->status = 200;
    res->content_type = METRICS_CONTENT_TYPE;
    res->body = r->body.data;
    res->body_len = r->body.len;
}

static bool is(const char *path, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
}

void router_handle(void *ctx, const struct http_request *req, struct http_response *res)
{
    struct router *r = ctx;
    const char *path;
    const char *query;
    size_t path_len;
    size_t query_len;
    split_target(req->target, req->target_len, &path, &path_len, &query, &query_len);
    if (is(path, path_len, "/healthz")) {
        healthz(r, req, res);
        return;
    }
    if (is(path, path_len, "/metrics")) {
        metrics(r, req, res);
        return;
    }
    if (r->publisher == NULL) {
        text(res, 404, "404 Not Found: this server answers /healthz and /metrics\n");
        return;
    }
    if (path_len == strlen(PATH) && memcmp(path, PATH, path_len) == 0) {
        downcase(r, req, query, query_len, res);
        return;
    }
    if (path_len == strlen(PATH) - 1 && memcmp(path, PATH, path_len) == 0) {
        /* Flask's answer for a route declared with a trailing slash. */
        r->headers.len = 0;
        int rc = buf_append_str(&r->headers, "Location: " PATH);
        if (rc == 0 && query) {
            rc = buf_append_byte(&r->headers, '?');
            if (rc == 0) {
                rc = buf_append(&r->headers, query, query_len);
            }
        }
        if (rc == 0) {
            rc = buf_append(&r->headers, "\r\n", 3); /* with the NUL: used as a C string */
        }
        if (rc < 0) {
            text(res, 500, "500 Internal Server Error: out of memory\n");
            return;
        }
        text(res, 308, "308 Permanent Redirect: the resource is " PATH "\n");
        res->extra_headers = r->headers.data;
        return;
    }
    text(res, 404, "404 Not Found: try /downcase/?param=HeLLo\n");
}
