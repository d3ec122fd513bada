/* router: sends each HTTP request to the route registered for its path.
 *
 * The request target is split once here: the absolute form ("http://host/path", which HTTP/1.1
 * servers must accept) is reduced to its path, a '#fragment' is ignored, and the query is handed
 * to the route. A path no route claims gets the owner's 404 text. Routes: the pub's use case
 * (downcase_route.h) and the status routes every role serves (status_routes.h). */
#ifndef DOWNCASE_ROUTER_H
#define DOWNCASE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "http_conn.h"

#define ROUTER_MAX_ROUTES 8

/* What a route is given besides the request: the path and the query (NULL when none). */
struct router_target {
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
};

typedef void (*route_fn)(void *ctx, const struct http_request *req, const struct router_target *t,
                         struct http_response *res);

struct router {
    struct {
        const char *path;
        route_fn fn;
        void *ctx;
    } routes[ROUTER_MAX_ROUTES];
    size_t n;
    const char *not_found; /* the 404 body */
};

/* not_found: the 404 body, saying what this server does answer. */
void router_init(struct router *r, const char *not_found);
/* Routes requests for exactly `path` to fn. 0, or -ENOSPC past ROUTER_MAX_ROUTES. */
int router_add(struct router *r, const char *path, route_fn fn, void *ctx);
/* The http_handler: ctx is the router. */
void router_handle(void *ctx, const struct http_request *req, struct http_response *res);

/* For routes that only read: true for GET and HEAD, else answers 405 (Allow: GET, HEAD). */
bool router_read_only(const struct http_request *req, struct http_response *res);

#endif
