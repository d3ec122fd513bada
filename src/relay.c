/* relay: the relay role, an XSUB/XPUB proxy in the libuv loop.
 *
 * Two sockets, each watched through its ZMQ_FD (zwatch.h), forwarding in bounded batches:
 *   upstream XSUB readable   -> up to RELAY_BUDGET messages, every frame, to the XPUB;
 *   downstream XPUB readable -> subscription messages (and anything else a downstream peer
 *                               sends) to the XSUB, which passes them to every publisher.
 * This is what zmq_proxy(xsub, xpub, NULL) does, except that zmq_proxy blocks its thread; here
 * the relay also answers signals and --metrics between batches.
 *
 * Never block, and never lose a message silently: the XPUB has ZMQ_XPUB_NODROP, so when a
 * downstream peer's queue is at its high-water mark the send fails with EAGAIN instead of
 * ZeroMQ discarding the message for that peer unseen. The relay then drops that message (for
 * every downstream peer) and counts it, just as the pub counts what it could not queue. The
 * alternative, waiting for room, would let one slow subscriber stall the relay for everyone
 * and push the loss back to the publishers anyway once their own queues fill. Framed messages
 * keep their publisher id and sequence number, so a subscriber downstream still sees every
 * message lost at the relay as a gap of the exact size; `--metrics` shows the relay's count.
 *
 * Stopping (SIGINT/SIGTERM): what the XSUB already holds is forwarded (for up to 0.5 s), then
 * the watchers, monitors and metrics server close, and the XPUB gets RELAY_LINGER_MS for its
 * queued messages to leave when the context ends. */
#include "relay.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "diag.h"
#include "http_server.h"
#include "metrics.h"
#include "router.h"
#include "zcontext.h"
#include "zendpoint.h"
#include "zmonitor.h"
#include "zwatch.h"

/* Messages forwarded per loop iteration before the other socket, HTTP and signals get a turn. */
#define RELAY_BUDGET 512
/* As the sub: a bigger message makes libzmq drop the publisher's connection. */
#define RELAY_MAX_MESSAGE (1024 * 1024)
#define RELAY_FINAL_DRAIN_NS (500 * 1000 * 1000ull)
/* How long queued messages may take to leave the XPUB once the relay stops. */
#define RELAY_LINGER_MS 500

/* One side's endpoints, split by how to attach. */
struct relay_side {
    const char *binds[CLI_MAX_ENDPOINTS];
    size_t nbinds;
    const char *connects[CLI_MAX_ENDPOINTS];
    size_t nconnects;
};

struct relay {
    uv_loop_t loop;
    void *zctx;
    void *up;   /* XSUB: publishers */
    void *down; /* XPUB: subscribers */
    struct zwatch up_watch;
    struct zwatch down_watch;
    bool up_watching;
    bool down_watching;
    struct zmonitor up_monitor;
    struct zmonitor down_monitor;
    bool up_monitoring;
    bool down_monitoring;
    struct http_server http;
    struct router router;
    const struct cli_options *o;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    zmq_msg_t frame;
    int closing; /* handles still closing before the signals can go */
    bool stopping;
    uint64_t forwarded;     /* whole messages sent downstream */
    uint64_t dropped;       /* whole messages refused downstream (a peer at its HWM) */
    uint64_t subscriptions; /* messages from downstream passed upstream */
    uint64_t errors;        /* sends failing for another reason (reported, rate-limited) */
    struct diag_limit error_limit;
};

static void split(const char *const *given, size_t n, bool bind_default, struct relay_side *side)
{
    memset(side, 0, sizeof *side);
    for (size_t i = 0; i < n; i++) {
        const char *e = given[i];
        bool bind = bind_default;
        if (*e == '@' || *e == '>') {
            bind = *e == '@';
            e++;
        }
        if (bind) {
            side->binds[side->nbinds++] = e;
        } else {
            side->connects[side->nconnects++] = e;
        }
    }
}

static void send_failed(struct relay *r, const char *what, int err)
{
    r->errors++;
    diag_limited(&r->error_limit, uv_now(&r->loop), 1000, "relay", "zmq_msg_send(%s): %s", what,
                 zmq_strerror(err));
}

/* Receives the rest of a message whose first frame could not be forwarded, and drops it. */
static void discard_rest(struct relay *r, void *from)
{
    while (zmq_msg_more(&r->frame)) {
        if (zmq_msg_recv(&r->frame, from, ZMQ_DONTWAIT) < 0) {
            return; /* multipart messages arrive whole: only ETERM can end this early */
        }
    }
}

/* Moves up to `budget` whole messages from `from` to `to`, frames unchanged. Returns how many
 * were taken from `from`. Ownership: zmq_msg_send takes each frame's content on success (the
 * frame is then empty again); on failure r->frame still holds it, and the next zmq_msg_recv
 * releases it. */
static unsigned pump(struct relay *r, void *from, void *to, bool downwards, unsigned budget)
{
    unsigned n = 0;
    while (n < budget) {
        if (zmq_msg_recv(&r->frame, from, ZMQ_DONTWAIT) < 0) {
            int err = zmq_errno();
            if (err != EAGAIN && err != ETERM) {
                diag("relay", "zmq_msg_recv(%s): %s", downwards ? "upstream" : "downstream",
                     zmq_strerror(err));
            }
            break;
        }
        n++;
        /* With NODROP the high-water mark is checked on the first frame only: once it is
         * accepted, the rest of the message is too, so a message is never cut in half. */
        bool more = zmq_msg_more(&r->frame);
        if (zmq_msg_send(&r->frame, to, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0) {
            int err = zmq_errno();
            if (downwards && err == EAGAIN) {
                r->dropped++;
            } else {
                send_failed(r, downwards ? "downstream" : "upstream", err);
            }
            discard_rest(r, from);
            continue;
        }
        while (more) {
            if (zmq_msg_recv(&r->frame, from, ZMQ_DONTWAIT) < 0) {
                break;
            }
            more = zmq_msg_more(&r->frame);
            if (zmq_msg_send(&r->frame, to, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0) {
                send_failed(r, downwards ? "downstream" : "upstream", zmq_errno());
                discard_rest(r, from);
                break;
            }
        }
        if (downwards) {
            r->forwarded++;
        } else {
            r->subscriptions++;
        }
    }
    return n;
}

static void on_upstream(struct zwatch *w)
{
    struct relay *r = w->data;
    pump(r, r->up, r->down, true, RELAY_BUDGET);
}

static void on_downstream(struct zwatch *w)
{
    struct relay *r = w->data;
    pump(r, r->down, r->up, false, RELAY_BUDGET);
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

/* Each closing watcher, monitor and the metrics server ends here; the last closes the signal
 * handles, and the loop then has nothing left. */
static void closed_one(struct relay *r)
{
    if (--r->closing == 0) {
        uv_close((uv_handle_t *)&r->sigint, on_signal_closed);
        uv_close((uv_handle_t *)&r->sigterm, on_signal_closed);
    }
}

static void on_unwatched(struct zwatch *w)
{
    closed_one(w->data);
}

static void on_unmonitored(struct zmonitor *m)
{
    closed_one(m->data);
}

static void on_http_stopped(struct http_server *h)
{
    closed_one(h->data);
}

/* Closes every handle; also the unwinding of a failed start. */
static void stop(struct relay *r)
{
    r->stopping = true;
    r->closing = 1; /* held until everything below has been asked to close */
    if (r->up_watching) {
        r->up_watching = false;
        r->closing++;
        zwatch_close(&r->up_watch, on_unwatched);
    }
    if (r->down_watching) {
        r->down_watching = false;
        r->closing++;
        zwatch_close(&r->down_watch, on_unwatched);
    }
    if (r->up_monitoring) {
        r->up_monitoring = false;
        r->closing++;
        zmonitor_close(&r->up_monitor, on_unmonitored);
    }
    if (r->down_monitoring) {
        r->down_monitoring = false;
        r->closing++;
        zmonitor_close(&r->down_monitor, on_unmonitored);
    }
    r->closing++;
    http_server_stop(&r->http, 0, on_http_stopped);
    closed_one(r);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct relay *r = h->data;
    if (r->stopping) {
        return;
    }
    /* What already arrived is passed on before stopping; bounded in time so a flood upstream
     * cannot keep the process alive. */
    uint64_t deadline = uv_hrtime() + RELAY_FINAL_DRAIN_NS;
    unsigned total = 0;
    for (;;) {
        unsigned got = pump(r, r->up, r->down, true, RELAY_BUDGET);
        total += got;
        if (got < RELAY_BUDGET || uv_hrtime() > deadline) {
            break;
        }
    }
    diag("relay",
         "%s: stopping after %llu messages forwarded (%u in the final drain), %llu not queued "
         "downstream, %llu subscription messages passed upstream",
         strsignal(signum), (unsigned long long)r->forwarded, total, (unsigned long long)r->dropped,
         (unsigned long long)r->subscriptions);
    stop(r);
}

static void *open_socket(struct relay *r, int type, const char *name)
{
    void *sock = zmq_socket(r->zctx, type);
    if (sock == NULL) {
        diag("relay", "zmq_socket(%s): %s", name, zmq_strerror(zmq_errno()));
    }
    return sock;
}

/* Options, monitors, endpoints, watchers, in that order: options apply to connections made
 * afterwards, and a monitor attached first reports the first connections too. */
static int open_sockets(struct relay *r)
{
    const struct cli_options *o = r->o;
    struct relay_side up, down;
    split(o->upstreams, o->nupstreams, false, &up);
    split(o->downstreams, o->ndownstreams, true, &down);
    r->up = open_socket(r, ZMQ_XSUB, "ZMQ_XSUB");
    r->down = open_socket(r, ZMQ_XPUB, "ZMQ_XPUB");
    if (r->up == NULL || r->down == NULL) {
        return -ENOMEM;
    }
    int64_t maxmsg = RELAY_MAX_MESSAGE;
    int rc = zendpoint_set_int(r->up, "relay", ZMQ_LINGER, "ZMQ_LINGER", 0);
    if (rc == 0 && zmq_setsockopt(r->up, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        rc = -zmq_errno();
        diag("relay", "zmq_setsockopt(ZMQ_MAXMSGSIZE): %s", zmq_strerror(-rc));
    }
    if (rc == 0) {
        rc = zendpoint_set_int(r->down, "relay", ZMQ_XPUB_NODROP, "ZMQ_XPUB_NODROP", 1);
    }
    if (rc == 0) {
        rc = zendpoint_set_int(r->down, "relay", ZMQ_LINGER, "ZMQ_LINGER", RELAY_LINGER_MS);
    }
    if (rc == 0) {
        rc = zendpoint_tune(r->up, "relay", ZMQ_RCVHWM, o->hwm, o->heartbeat_ms);
    }
    if (rc == 0) {
        rc = zendpoint_tune(r->down, "relay", ZMQ_SNDHWM, o->hwm, o->heartbeat_ms);
    }
    if (rc == 0) {
        rc = zmonitor_init(&r->up_monitor, &r->loop, r->zctx, r->up,
                           "inproc://downcase-relay-upstream", "relay");
        r->up_monitoring = rc == 0;
        r->up_monitor.data = r;
    }
    if (rc == 0) {
        rc = zmonitor_init(&r->down_monitor, &r->loop, r->zctx, r->down,
                           "inproc://downcase-relay-downstream", "relay");
        r->down_monitoring = rc == 0;
        r->down_monitor.data = r;
    }
    /* Downstream first: subscribers can be there before the first message comes up. */
    if (rc == 0) {
        rc = zendpoint_attach(r->down, "relay", down.binds, down.nbinds, down.connects,
                              down.nconnects);
    }
    if (rc == 0) {
        rc = zendpoint_attach(r->up, "relay", up.binds, up.nbinds, up.connects, up.nconnects);
    }
    if (rc == 0) {
        rc = zwatch_init(&r->up_watch, &r->loop, r->up, ZMQ_POLLIN, on_upstream, "relay");
        r->up_watching = rc == 0;
        r->up_watch.data = r;
    }
    if (rc == 0) {
        rc = zwatch_init(&r->down_watch, &r->loop, r->down, ZMQ_POLLIN, on_downstream, "relay");
        r->down_watching = rc == 0;
        r->down_watch.data = r;
    }
    return rc;
}

static int start(struct relay *r)
{
    const struct cli_options *o = r->o;
    if (o->metrics_port >= 0) {
        int rc = http_server_listen(&r->http, o->metrics_host, o->metrics_port);
        if (rc < 0) {
            return rc;
        }
    }
    int rc = open_sockets(r);
    if (rc < 0) {
        return rc;
    }
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    diag("relay", "relaying %zu upstream endpoint(s) to %zu downstream endpoint(s)", o->nupstreams,
         o->ndownstreams);
    return 0;
}

static const char *unhealthy(void *owner)
{
    const struct relay *r = owner;
    return r->stopping ? "stopping" : NULL;
}

static int render_metrics(void *owner, struct buf *out)
{
    const struct relay *r = owner;
    struct metrics m = {.out = out};
    metrics_build_info(&m);
    metrics_http(&m, &r->http);
    metrics_single(&m, "downcase_relay_forwarded_messages_total", "counter",
                   "Messages passed from upstream publishers to downstream subscribers.",
                   r->forwarded);
    metrics_single(&m, "downcase_relay_dropped_messages_total", "counter",
                   "Messages not queued downstream: a subscriber was at its high-water mark.",
                   r->dropped);
    metrics_single(&m, "downcase_relay_subscriptions_forwarded_total", "counter",
                   "Subscription messages passed from downstream to upstream.", r->subscriptions);
    metrics_single(&m, "downcase_relay_send_errors_total", "counter",
                   "Sends that failed for another reason than a full queue.", r->errors);
    metrics_single(&m, "downcase_zmq_upstream_peers_connected", "gauge",
                   "Upstream peers (publishers, relays) connected now, handshake done.",
                   zmonitor_connected(&r->up_monitor));
    metrics_single(&m, "downcase_zmq_upstream_peer_disconnects_total", "counter",
                   "Upstream peer connections that ended (closed, or found dead by heartbeats).",
                   r->up_monitor.down);
    metrics_single(&m, "downcase_zmq_downstream_peers_connected", "gauge",
                   "Downstream peers (subscribers, relays) connected now, handshake done.",
                   zmonitor_connected(&r->down_monitor));
    metrics_single(&m, "downcase_zmq_downstream_peer_disconnects_total", "counter",
                   "Downstream peer connections that ended.", r->down_monitor.down);
    return m.rc;
}

int relay_run(const struct cli_options *o)
{
    struct relay *r = calloc(1, sizeof *r);
    if (r == NULL) {
        diag("relay", "out of memory");
        return 1;
    }
    r->o = o;
    int status = 0;
    int rc = uv_loop_init(&r->loop);
    if (rc < 0) {
        diag("relay", "uv_loop_init: %s", uv_strerror(rc));
        free(r);
        return 1;
    }
    r->zctx = zcontext_new("relay");
    if (r->zctx == NULL) {
        uv_loop_close(&r->loop);
        free(r);
        return 1;
    }
    zmq_msg_init(&r->frame);
    uv_signal_init(&r->loop, &r->sigint);
    uv_signal_init(&r->loop, &r->sigterm);
    r->sigint.data = r->sigterm.data = r;
    router_init(
        &r->router, NULL,
        (struct router_status){.unhealthy = unhealthy, .render = render_metrics, .owner = r});
    http_server_init(&r->http, &r->loop, "relay", router_handle, &r->router);
    http_server_set_limits(&r->http, o);
    r->http.data = r;

    if (start(r) < 0) {
        status = 1;
        stop(r);
    }
    uv_run(&r->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&r->loop);
    if (rc < 0) {
        diag("relay", "uv_loop_close: %s (a handle was left open)", uv_strerror(rc));
        status = 1;
    }
    zmq_msg_close(&r->frame);
    if (r->up) {
        zmq_close(r->up);
    }
    if (r->down) {
        if (status != 0) {
            int zero = 0;
            zmq_setsockopt(r->down, ZMQ_LINGER, &zero, sizeof zero);
        }
        zmq_close(r->down);
    }
    /* Linger bounds what the XPUB still sends; the deadline bounds the I/O threads. */
    zcontext_term(r->zctx, 2 * RELAY_LINGER_MS, "relay");
    router_finish(&r->router);
    free(r);
    return status;
}
