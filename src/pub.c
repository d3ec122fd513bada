/* pub: the publisher role.
 *
 * Shutdown order (SIGINT/SIGTERM): stop accepting and let connections finish the request in
 * progress (bounded by PUB_GRACE_MS); then stop watching the PUB socket and close it, its
 * ZMQ_LINGER bounding how long queued messages may still take to leave; close the signal
 * handles; the loop then runs out of handles and uv_run returns; uv_loop_close proves nothing is
 * left open; zmq_ctx_term comes last because it waits for every socket of the context. A second
 * signal closes the remaining connections at once. */
#include "pub.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "diag.h"
#include "http_server.h"
#include "metrics.h"
#include "publisher.h"
#include "router.h"
#include "zap.h"
#include "zcontext.h"

#define PUB_GRACE_MS 1000

struct pub {
    uv_loop_t loop;
    void *zctx;
    struct publisher publisher;
    struct router router;
    struct http_server http;
    struct zap zap; /* --curve-secret only */
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup; /* nothing to reopen: said, not fatal (logrotate may send it to all) */
    bool started;
    bool stopping;
};

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_signals(struct pub *pub)
{
    uv_close((uv_handle_t *)&pub->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&pub->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&pub->sighup, on_signal_closed);
}

static void on_publisher_closed(struct publisher *p)
{
    close_signals(p->data);
}

static void on_http_stopped(struct http_server *s)
{
    struct pub *pub = s->data;
    if (pub->started) {
        diag("pub", "stopped: %llu requests answered, %llu messages published, %llu not queued",
             (unsigned long long)s->counters.requests, (unsigned long long)pub->publisher.published,
             (unsigned long long)pub->publisher.dropped);
    }
    zap_close(&pub->zap);
    if (pub->publisher.sock) {
        publisher_close(&pub->publisher, on_publisher_closed);
    } else {
        close_signals(pub);
    }
}

/* The pub keeps no file to reopen; SIGHUP's default action would kill it, and a stray one
 * (a logrotate postrotate aimed at every downcase) must not. */
static void on_sighup(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    diag("pub", "SIGHUP: nothing to reopen (the pub writes no log); ignored");
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct pub *pub = h->data;
    if (pub->stopping) {
        diag("pub", "%s again: closing every connection now", strsignal(signum));
        http_server_stop(&pub->http, 0, NULL);
        return;
    }
    pub->stopping = true;
    diag("pub", "%s: stopping", strsignal(signum));
    http_server_stop(&pub->http, PUB_GRACE_MS, on_http_stopped);
}

static const char *unhealthy(void *owner)
{
    const struct pub *pub = owner;
    if (pub->stopping) {
        return "stopping";
    }
    return pub->publisher.sock ? NULL : "the ZeroMQ socket is not open";
}

static int render_metrics(void *owner, struct buf *out)
{
    const struct pub *pub = owner;
    struct metrics m = {.out = out};
    metrics_build_info(&m);
    metrics_http(&m, &pub->http);
    metrics_single(&m, "downcase_published_messages_total", "counter",
                   "Messages ZeroMQ accepted for publishing (one per 200 on GET /downcase/).",
                   pub->publisher.published);
    metrics_single(&m, "downcase_dropped_messages_total", "counter",
                   "Messages ZeroMQ could not queue (a subscriber's high-water mark was reached); "
                   "each shows as a sequence gap at framed subscribers.",
                   pub->publisher.dropped);
    metrics_single(&m, "downcase_curve_clients_admitted_total", "counter",
                   "CURVE clients the ZAP handler admitted (0 without --curve-secret).",
                   pub->zap.allowed);
    metrics_single(&m, "downcase_curve_clients_denied_total", "counter",
                   "CURVE clients the ZAP handler refused: key not in --curve-allow.",
                   pub->zap.denied);
    metrics_single(&m, "downcase_curve_handshakes_failed_total", "counter",
                   "Handshakes that failed before ZAP: no CURVE, or the wrong server key.",
                   pub->zap.failed);
    return m.rc;
}

static int start(struct pub *pub, const struct cli_options *o)
{
    /* Signals first: once "http listening" is announced, a signal must find its handler (one
     * that arrives earlier waits for the loop to run). */
    uv_signal_start(&pub->sigint, on_signal, SIGINT);
    uv_signal_start(&pub->sigterm, on_signal, SIGTERM);
    uv_signal_start(&pub->sighup, on_sighup, SIGHUP);
    int rc;
    /* The ZAP handler must be bound before the first CURVE server socket exists (zap.h). */
    if (o->curve_secret && (rc = zap_init(&pub->zap, &pub->loop, pub->zctx, o->curve_allow)) < 0) {
        return rc;
    }
    rc = publisher_init(&pub->publisher, &pub->loop, pub->zctx, o);
    if (rc < 0) {
        return rc;
    }
    pub->publisher.data = pub;
    if (o->curve_secret && (rc = zap_watch(&pub->zap, pub->zctx, pub->publisher.sock)) < 0) {
        return rc;
    }
    rc = http_server_listen(&pub->http, o->listen_host, o->listen_port);
    if (rc < 0) {
        return rc;
    }
    pub->started = true;
    return 0;
}

int pub_run(const struct cli_options *o)
{
    /* Large (it holds the shared read buffer): on the heap, not the stack. */
    struct pub *pub = calloc(1, sizeof *pub);
    if (pub == NULL) {
        diag("pub", "out of memory");
        return 1;
    }
    int status = 0;
    int rc = uv_loop_init(&pub->loop);
    if (rc < 0) {
        diag("pub", "uv_loop_init: %s", uv_strerror(rc));
        free(pub);
        return 1;
    }
    pub->zctx = zcontext_new("pub");
    if (pub->zctx == NULL) {
        uv_loop_close(&pub->loop);
        free(pub);
        return 1;
    }
    router_init(
        &pub->router, &pub->publisher,
        (struct router_status){.unhealthy = unhealthy, .render = render_metrics, .owner = pub});
    http_server_init(&pub->http, &pub->loop, "pub", router_handle, &pub->router);
    http_server_set_limits(&pub->http, o);
    pub->http.data = pub;
    uv_signal_init(&pub->loop, &pub->sigint);
    uv_signal_init(&pub->loop, &pub->sigterm);
    uv_signal_init(&pub->loop, &pub->sighup);
    pub->sigint.data = pub->sigterm.data = pub->sighup.data = pub;

    if (start(pub, o) < 0) {
        /* Unwind through the same path as a stop, so every handle is closed exactly once. */
        status = 1;
        pub->stopping = true;
        http_server_stop(&pub->http, 0, on_http_stopped);
    }
    uv_run(&pub->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&pub->loop);
    if (rc < 0) {
        diag("pub", "uv_loop_close: %s (a handle was left open)", uv_strerror(rc));
        status = 1;
    }
    /* Linger (PUBLISHER_LINGER_MS) bounds the normal case; the deadline bounds the rest. */
    zcontext_term(pub->zctx, 2 * PUBLISHER_LINGER_MS, "pub");
    router_finish(&pub->router);
    free(pub);
    return status;
}
