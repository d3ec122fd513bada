/* pub: the publisher role, as a recipe over its parts (runtime.h).
 *
 * Parts, opened in this order: the ZAP handler (it must be bound before the socket it guards
 * attaches, zap.h), the PUB socket (publisher.h), its monitor (peers, failed and refused
 * connections), and last the HTTP server, so that once "http listening" is announced every
 * request can publish. On stop the HTTP requests in progress finish first (PUB_GRACE_MS), since
 * they publish; then ZAP and the socket close, the socket's linger (PUBLISHER_LINGER_MS) letting
 * queued messages leave while the context ends. */
#include "pub.h"

#include <errno.h>
#include <stdlib.h>

#include "diag.h"
#include "downcase_route.h"
#include "publisher.h"
#include "runtime.h"
#include "zap.h"

#define PUB_GRACE_MS 1000

struct pub {
    const struct cli_options *o;
    struct publisher publisher;
    struct downcase_route route;
    struct zap zap;
    struct zap_policy *policy; /* the PUB socket's, at zap */
    struct zmonitor monitor;   /* the PUB socket's */
    bool started;
};

static int open_parts(struct runtime *rt)
{
    struct pub *pub = rt->role;
    const struct cli_options *o = pub->o;
    /* A CURVE server unless it presents its key to a binding subscriber's (curve.h). */
    const struct zap_policy_config policy = {
        .side = "pub",
        .curve = o->curve_secret && !o->curve_server,
        .allow_dir = o->curve_allow,
        .allow_flag = "--curve-allow",
    };
    int rc = zap_open(&pub->zap, &rt->loop, rt->zctx, o->allow_from, o->nallow_from, "pub");
    if (rc == 0 && (pub->policy = zap_policy_add(&pub->zap, &policy)) == NULL) {
        rc = -EINVAL;
    }
    const struct publisher_config cfg = {
        .wire = o->wire,
        .topic = o->topics[0],
        .endpoints = &o->endpoints,
        .tuning = {.hwm = o->hwm, .heartbeat_ms = o->heartbeat_ms},
        .security = {.zap_domain = policy.side,
                     .secret = o->curve_secret,
                     .server = o->curve_server},
        .retain_bytes = o->retain_bytes,
        .journal = {.dir = o->journal_dir,
                    .max_bytes = o->journal_bytes,
                    .sync_ms = o->journal_sync_ms},
    };
    if (rc == 0) {
        rc = publisher_open(&pub->publisher, &rt->loop, rt->zctx, &cfg);
    }
    if (rc == 0) {
        rc = zmonitor_open(&pub->monitor, &rt->loop, rt->zctx, pub->publisher.sock.sock,
                           "inproc://downcase-pub-monitor", "pub");
        pub->policy->monitor = &pub->monitor;
    }
    if (rc == 0) {
        rc = downcase_route_add(&pub->route, &rt->router, &pub->publisher);
        rt->http.conns.before_write = publisher_commit;
        rt->http.conns.before_write_ctx = &pub->publisher;
    }
    if (rc == 0) {
        rc = runtime_listen(rt);
    }
    pub->started = rc == 0;
    return rc;
}

static void close_parts(struct runtime *rt)
{
    struct pub *pub = rt->role;
    if (pub->started) {
        diag("pub", "stopped: %llu requests answered, %llu messages published, %llu not queued",
             (unsigned long long)rt->http.conns.counters.requests,
             (unsigned long long)pub->publisher.published,
             (unsigned long long)pub->publisher.dropped);
    }
    /* ZAP and the monitor first: they serve and watch the publisher's socket. */
    zap_close(&pub->zap, runtime_closer(rt));
    zmonitor_close(&pub->monitor, runtime_closer(rt));
    publisher_close(&pub->publisher, runtime_closer(rt));
}

static const char *unhealthy(struct runtime *rt)
{
    const struct pub *pub = rt->role;
    return pub->publisher.open ? NULL : "the ZeroMQ socket is not open";
}

static void render_metrics(struct runtime *rt, struct metrics *m)
{
    const struct pub *pub = rt->role;
    /* The CURVE families count CURVE clients only: 0 unless the pub is a CURVE server. */
    const struct zap_policy none = {0};
    const struct zap_policy *curve = pub->policy && pub->policy->cfg.curve ? pub->policy : &none;
    const struct metrics_row rows[] = {
        {"downcase_published_messages_total", "counter",
         "Messages ZeroMQ accepted for publishing (one per 200 on GET /downcase/).",
         pub->publisher.published},
        {"downcase_dropped_messages_total", "counter",
         "Messages ZeroMQ could not queue (a subscriber's high-water mark was reached); each shows "
         "as a sequence gap at framed subscribers.",
         pub->publisher.dropped},
        {"downcase_curve_clients_admitted_total", "counter",
         "CURVE clients the ZAP handler admitted (0 unless the pub is a CURVE server).",
         curve->admitted},
        {"downcase_curve_clients_denied_total", "counter",
         "CURVE clients the ZAP handler refused: key not in --curve-allow, or address not in "
         "--allow-from.",
         curve->denied},
        {"downcase_replay_requests_answered_total", "counter",
         "Replay requests answered (subscribers fetching what they missed).",
         pub->publisher.replay.requests},
        {"downcase_replay_messages_sent_total", "counter", "Messages sent in replay answers.",
         pub->publisher.replay.messages},
        {"downcase_retained_messages_evicted_total", "counter",
         "Messages dropped from the memory retention to make room (--retain).",
         pub->publisher.retain.evicted},
        {"downcase_retained_bytes", "gauge", "Bytes held by the memory retention.",
         pub->publisher.retain.bytes},
        {"downcase_journal_appended_total", "counter", "Messages appended to the journal.",
         pub->publisher.journal.appended},
        {"downcase_journal_append_errors_total", "counter",
         "Messages the journal could not take (answered 503).",
         pub->publisher.journal.append_errors},
        {"downcase_journal_syncs_total", "counter", "fdatasync rounds of the journal.",
         pub->publisher.journal.syncs},
        {"downcase_journal_damage_total", "counter",
         "Damaged places found in the journal at start-up (torn, changed or missing records).",
         pub->publisher.journal.damage},
        {"downcase_journal_segments_removed_total", "counter",
         "Oldest journal segments removed to stay within --journal-size.",
         pub->publisher.journal.segments_removed},
        {"downcase_journal_bytes", "gauge", "Bytes of journal segments on disk.",
         pub->publisher.journal.total_bytes},
        {"downcase_curve_handshakes_failed_total", "counter",
         "Handshakes that failed before ZAP: no CURVE, or the wrong server key.",
         curve == &none ? 0 : pub->monitor.failed},
        {"downcase_zmq_peers_connected", "gauge",
         "ZeroMQ peers (subscribers) connected now, handshake done.",
         zmonitor_connected(&pub->monitor)},
    };
    metrics_rows(m, rows, sizeof rows / sizeof rows[0]);
    zap_metrics(m, &pub->zap);
}

static const struct runtime_recipe recipe = {
    .who = "pub",
    .not_found = DOWNCASE_ROUTE_NOT_FOUND,
    .grace_ms = PUB_GRACE_MS,
    /* Linger (PUBLISHER_LINGER_MS) bounds the normal case; the deadline bounds the rest. */
    .term_ms = 2 * PUBLISHER_LINGER_MS,
    .open = open_parts,
    .close = close_parts,
    .unhealthy = unhealthy,
    .metrics = render_metrics,
};

int pub_run(const struct cli_options *o)
{
    struct pub *pub = calloc(1, sizeof *pub);
    if (pub == NULL) {
        diag("pub", "out of memory");
        return 1;
    }
    pub->o = o;
    const struct runtime_config cfg = {
        .host = o->listen_host,
        .port = o->listen_port,
        .limits = o->limits,
    };
    int status = runtime_run(&recipe, pub, &cfg);
    downcase_route_finish(&pub->route);
    publisher_finish(&pub->publisher);
    free(pub);
    return status;
}
