/* status_routes: health and metrics (status_routes.h). */
#include "status_routes.h"

static void healthz(void *ctx, const struct http_request *req, const struct router_target *t,
                    struct http_response *res)
{
    (void)t;
    struct status_routes *s = ctx;
    if (!router_read_only(req, res)) {
        return;
    }
    const char *why = s->unhealthy ? s->unhealthy(s->owner) : NULL;
    if (why == NULL) {
        http_response_text(res, 200, "ok\n");
        return;
    }
    s->body.len = 0;
    if (buf_append_str(&s->body, "503 Service Unavailable: ") < 0 ||
        buf_append_str(&s->body, why) < 0 || buf_append_byte(&s->body, '\n') < 0) {
        http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    res->status = 503;
    res->body = s->body.data;
    res->body_len = s->body.len;
}

static void metrics(void *ctx, const struct http_request *req, const struct router_target *t,
                    struct http_response *res)
{
    (void)t;
    struct status_routes *s = ctx;
    if (!router_read_only(req, res)) {
        return;
    }
    s->body.len = 0;
    struct metrics m = {.out = &s->body};
    if (s->render) {
        s->render(s->owner, &m);
    }
    if (s->render == NULL || m.rc < 0) {
        http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    res->status = 200;
    res->content_type = METRICS_CONTENT_TYPE;
    res->body = s->body.data;
    res->body_len = s->body.len;
}

int status_routes_add(struct status_routes *s, struct router *r)
{
    int rc = router_add(r, "/healthz", healthz, s);
    if (rc == 0) {
        rc = router_add(r, "/metrics", metrics, s);
    }
    return rc;
}

void status_routes_finish(struct status_routes *s)
{
    buf_finish(&s->body);
}
