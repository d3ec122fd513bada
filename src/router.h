/* router: answers the pub's HTTP requests: /downcase/ lowercases `param` and publishes it.
 *
 *   GET|HEAD /downcase/?param=TEXT  200 "lower case of TEXT is LOWER" (GET also publishes it)
 *   no param / not UTF-8            400, a plain-text reason
 *   other methods on /downcase/     405, Allow: GET, HEAD
 *   /downcase (no slash)            308 to /downcase/ with the same query, as Flask does
 *   GET|HEAD /healthz               200 "ok" while the owner says it is healthy, else 503
 *   GET|HEAD /metrics               200, the owner's counters in Prometheus text format
 *   anything else                   404
 * The sub's --metrics server uses the same router without a publisher: only the last three. */
#ifndef DOWNCASE_ROUTER_H
#define DOWNCASE_ROUTER_H

#include "buf.h"
#include "http_server.h"
#include "publisher.h"

/* The owner's answers for /healthz and /metrics. healthy returns NULL when healthy, else the
 * reason; render appends the metrics and returns 0 or -ENOMEM. */
struct router_status {
    const char *(*unhealthy)(void *owner);
    int (*render)(void *owner, struct buf *out);
    void *owner;
};

struct router {
    struct publisher *publisher; /* NULL: no /downcase/ route */
    struct router_status status;
    /* Scratch space reused by every request, so answering allocates nothing once warm. */
    struct buf param;
    struct buf body;
    struct buf headers;
};

void router_init(struct router *r, struct publisher *publisher, struct router_status status);
void router_finish(struct router *r);
/* The http_handler: ctx is the router. */
void router_handle(void *ctx, const struct http_request *req, struct http_response *res);

#endif
