/* status_routes: /healthz and /metrics, which every role's HTTP server answers.
 *
 *   GET|HEAD /healthz   200 "ok" while the owner says it is healthy, else 503 with the reason
 *   GET|HEAD /metrics   200, the owner's counters in Prometheus text format
 *   other methods       405, Allow: GET, HEAD */
#ifndef DOWNCASE_STATUS_ROUTES_H
#define DOWNCASE_STATUS_ROUTES_H

#include "buf.h"
#include "metrics.h"
#include "router.h"

struct status_routes {
    /* NULL when healthy, else the reason. */
    const char *(*unhealthy)(void *owner);
    /* Appends the metrics; errors are kept in m->rc. */
    void (*render)(void *owner, struct metrics *m);
    void *owner;
    struct buf body; /* scratch, reused by every request */
};

/* Registers both routes on r. 0 or -ENOSPC. */
int status_routes_add(struct status_routes *s, struct router *r);
void status_routes_finish(struct status_routes *s);

#endif
