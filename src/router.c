/* router: path dispatch (router.h). */
#include "router.h"

#include <errno.h>
#include <llhttp.h>
#include <string.h>

void router_init(struct router *r, const char *not_found)
{
    memset(r, 0, sizeof *r);
    r->not_found = not_found;
}

int router_add(struct router *r, const char *path, route_fn fn, void *ctx)
{
    if (r->n == ROUTER_MAX_ROUTES) {
        return -ENOSPC;
    }
    r->routes[r->n].path = path;
    r->routes[r->n].fn = fn;
    r->routes[r->n].ctx = ctx;
    r->n++;
    return 0;
}

/* Splits a request target into path and query (router.h). */
static void split_target(const char *t, size_t len, struct router_target *out)
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
    out->path = t;
    out->path_len = (size_t)((q ? q : end) - t);
    out->query = q ? q + 1 : NULL;
    out->query_len = q ? (size_t)(end - q - 1) : 0;
}

bool router_read_only(const struct http_request *req, struct http_response *res)
{
    if (req->method == HTTP_GET || req->method == HTTP_HEAD) {
        return true;
    }
    http_response_text(res, 405, "405 Method Not Allowed: use GET or HEAD\n");
    res->extra_headers = "Allow: GET, HEAD\r\n";
    return false;
}

void router_handle(void *ctx, const struct http_request *req, struct http_response *res)
{
    struct router *r = ctx;
    struct router_target t;
    split_target(req->target, req->target_len, &t);
    for (size_t i = 0; i < r->n; i++) {
        if (t.path_len == strlen(r->routes[i].path) &&
            memcmp(t.path, r->routes[i].path, t.path_len) == 0) {
            r->routes[i].fn(r->routes[i].ctx, req, &t, res);
            return;
        }
    }
    http_response_text(res, 404, r->not_found);
}
