/* router: answers the pub's HTTP requests: /downcase/ lowercases `param` and publishes it.
 *
 *   GET|HEAD /downcase/?param=TEXT  200 "lower case of TEXT is LOWER" (GET also publishes it)
 *   no param / not UTF-8            400, a plain-text reason
 *   other methods on /downcase/     405, Allow: GET, HEAD
 *   /downcase (no slash)            308 to /downcase/ with the same query, as Flask does
 *   anything else                   404 */
#ifndef DOWNCASE_ROUTER_H
#define DOWNCASE_ROUTER_H

#include "buf.h"
#include "http_server.h"
#include "publisher.h"

struct router {
    struct publisher *publisher;
    /* Scratch space reused by every request, so answering allocates nothing once warm. */
    struct buf param;
    struct buf body;
    struct buf headers;
};

void router_init(struct router *r, struct publisher *publisher);
void router_finish(struct router *r);
/* The http_handler: ctx is the router. */
void router_handle(void *ctx, const struct http_request *req, struct http_response *res);

#endif
