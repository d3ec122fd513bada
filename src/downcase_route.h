/* downcase_route: the service's use case, GET /downcase/?param=TEXT: decode the query,
 * lowercase the text, publish the answer, and say so.
 *
 *   GET|HEAD /downcase/?param=TEXT  200 "lower case of TEXT is LOWER" (GET also publishes it)
 *   ... when ZeroMQ cannot queue it 503, Retry-After: 1; nothing published
 *   no param / not UTF-8            400, a plain-text reason
 *   other methods on /downcase/     405, Allow: GET, HEAD
 *   /downcase (no slash)            308 to /downcase/ with the same query, as Flask does */
#ifndef DOWNCASE_DOWNCASE_ROUTE_H
#define DOWNCASE_DOWNCASE_ROUTE_H

#include "buf.h"
#include "publisher.h"
#include "router.h"

/* The 404 body of a server that has this route. */
#define DOWNCASE_ROUTE_NOT_FOUND "404 Not Found: try /downcase/?param=HeLLo\n"

struct downcase_route {
    struct publisher *publisher;
    /* Scratch space reused by every request, so answering allocates nothing once warm. */
    struct buf param;
    struct buf body;
    struct buf headers;
};

/* Registers /downcase/ and /downcase on r, publishing through p. 0 or -ENOSPC. */
int downcase_route_add(struct downcase_route *d, struct router *r, struct publisher *p);
void downcase_route_finish(struct downcase_route *d);

#endif
