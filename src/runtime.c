/* runtime: the loop, the context, signals, the status server, and the stop order (runtime.h). */
#include "runtime.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "zcontext.h"

int runtime_listen(struct runtime *rt)
{
    if (rt->cfg->port < 0) {
        return 0;
    }
    return http_server_listen(&rt->http, rt->cfg->host, rt->cfg->port);
}

struct closer runtime_closer(struct runtime *rt)
{
    return barrier_take(&rt->closing);
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

/* Every part is closed: the signal handles are the last handles of the loop. */
static void on_parts_closed(void *arg)
{
    struct runtime *rt = arg;
    uv_close((uv_handle_t *)&rt->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&rt->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&rt->sighup, on_signal_closed);
}

/* The HTTP requests in progress are answered: the parts they used can close. */
static void on_http_stopped(void *arg)
{
    struct runtime *rt = arg;
    rt->recipe->close(rt);
    barrier_release(&rt->closing);
}

static void stop(struct runtime *rt)
{
    rt->stopping = true;
    barrier_init(&rt->closing, (struct closer){on_parts_closed, rt});
    if (rt->recipe->grace_ms > 0 && !rt->failed) {
        barrier_hold(&rt->closing); /* released by on_http_stopped */
        http_server_stop(&rt->http, rt->recipe->grace_ms, (struct closer){on_http_stopped, rt});
    } else {
        http_server_stop(&rt->http, 0, runtime_closer(rt));
        rt->recipe->close(rt);
    }
    barrier_release(&rt->closing);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct runtime *rt = h->data;
    if (signum == SIGHUP) {
        if (rt->recipe->hup) {
            rt->recipe->hup(rt);
        } else {
            diag(rt->recipe->who, "SIGHUP: nothing to reopen (the %s writes no log); ignored",
                 rt->recipe->who);
        }
        return;
    }
    if (rt->stopping) {
        if (rt->recipe->grace_ms > 0) {
            diag(rt->recipe->who, "%s again: closing every connection now", strsignal(signum));
            http_server_stop(&rt->http, 0, (struct closer){0});
        }
        return;
    }
    if (rt->recipe->drain) {
        rt->recipe->drain(rt, signum);
    } else {
        diag(rt->recipe->who, "%s: stopping", strsignal(signum));
    }
    stop(rt);
}

static const char *unhealthy(void *owner)
{
    struct runtime *rt = owner;
    if (rt->stopping) {
        return "stopping";
    }
    return rt->recipe->unhealthy ? rt->recipe->unhealthy(rt) : NULL;
}

static void render(void *owner, struct metrics *m)
{
    struct runtime *rt = owner;
    metrics_build_info(m);
    metrics_http(m, &rt->http.conns);
    if (rt->recipe->metrics) {
        rt->recipe->metrics(rt, m);
    }
}

int runtime_run(const struct runtime_recipe *recipe, void *role, const struct runtime_config *cfg)
{
    const char *who = recipe->who;
    /* Large (the HTTP server holds the shared read buffer): on the heap, not the stack. */
    struct runtime *rt = calloc(1, sizeof *rt);
    if (rt == NULL) {
        diag(who, "out of memory");
        return 1;
    }
    rt->recipe = recipe;
    rt->cfg = cfg;
    rt->role = role;
    int rc = uv_loop_init(&rt->loop);
    if (rc < 0) {
        diag(who, "uv_loop_init: %s", uv_strerror(rc));
        free(rt);
        return 1;
    }
    rt->zctx = zcontext_new(who);
    if (rt->zctx == NULL) {
        uv_loop_close(&rt->loop);
        free(rt);
        return 1;
    }
    router_init(&rt->router, recipe->not_found);
    rt->status = (struct status_routes){.unhealthy = unhealthy, .render = render, .owner = rt};
    status_routes_add(&rt->status, &rt->router);
    http_server_init(&rt->http, &rt->loop, who, &cfg->limits, router_handle, &rt->router);
    uv_signal_init(&rt->loop, &rt->sigint);
    uv_signal_init(&rt->loop, &rt->sigterm);
    uv_signal_init(&rt->loop, &rt->sighup);
    rt->sigint.data = rt->sigterm.data = rt->sighup.data = rt;
    uv_signal_start(&rt->sigint, on_signal, SIGINT);
    uv_signal_start(&rt->sigterm, on_signal, SIGTERM);
    uv_signal_start(&rt->sighup, on_signal, SIGHUP);

    if (recipe->open(rt) < 0) {
        rt->failed = true;
        stop(rt);
    }
    uv_run(&rt->loop, UV_RUN_DEFAULT);
    int status = rt->failed ? 1 : 0;
    rc = uv_loop_close(&rt->loop);
    if (rc < 0) {
        diag(who, "uv_loop_close: %s (a handle was left open)", uv_strerror(rc));
        status = 1;
    }
    if (recipe->finish && recipe->finish(rt) < 0) {
        status = 1;
    }
    zcontext_term(rt->zctx, recipe->term_ms, who);
    status_routes_finish(&rt->status);
    free(rt);
    return status;
}
