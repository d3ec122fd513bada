/* pub: the publisher role, as a recipe over its parts (runtime.h).
 *
 * Parts, opened in this order: the ZAP handler (--curve-secret only: it must be bound before
 * the first CURVE server socket exists, zap.h), the PUB socket (publisher.h), the handshake
 * monitor of ZAP, and last the HTTP server, so that once "http listening" is announced every
 * request can publish. On stop the HTTP requests in progress finish first (PUB_GRACE_MS), since
 * they publish; then ZAP and the socket close, the socket's linger (PUBLISHER_LINGER_MS) letting
 * queued messages leave while the context ends. */
#include "pub.h"

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
    struct zap zap; /* --curve-secret only */
    bool started;
};

static int open_parts(struct runtime *rt)
{
    struct pub *pub = rt->role;
    const struct cli_options *o = pub->o;
    int rc = 0;
    if (o->curve_secret) {
        rc = zap_open(&pub->zap, &rt->loop, rt->zctx, o->curve_allow, "pub");
    }
    const struct publisher_config cfg = {
        .wire = o->wire,
        .topic = o->topics[0],
        .endpoints = &o->endpoints,
        .tuning = {.hwm = o->hwm, .heartbeat_ms = o->heartbeat_ms},
        .curve_secret = o->curve_secret,
        .retain_bytes = o->retain_bytes,
        .journal = {.dir = o->journal_dir,
                    .max_bytes = o->journal_bytes,
                    .sync_ms = o->journal_sync_ms},
    };
    if (rc == 0) {
        rc = publisher_open(&pub->publisher, &rt->loop, rt->zctx, &cfg);
    }
    if (rc == 0 && o->curve_secret) {
        rc = zap_watch(&pub->zap, rt->zctx, pub->publisher.sock.sock);
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
    /* ZAP first: its monitor watches the publisher's socket. */
    zap_close(&pub->zap, runtime_closer(rt));
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
    const struct metrics_row rows[] = {
        {"downcase_published_messages_total", "counter",
         "Messages ZeroMQ accepted for publishing (one per 200 on GET /downcase/).",
         pub->publisher.published},
        {"downcase_dropped_messages_total", "counter",
         "Messages ZeroMQ could not queue (a subscriber's high-water mark was reached); each shows "
         "as a sequence gap at framed subscribers.",
         pub->publisher.dropped},
        {"downcase_curve_clients_admitted_total", "counter",
         "CURVE clients the ZAP handler admitted (0 without --curve-secret).", pub->zap.allowed},
        {"downcase_curve_clients_denied_total", "counter",
         "CURVE clients the ZAP handler refused: key not in --curve-allow.", pub->zap.denied},
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
         "Handshakes that failed before ZAP: no CURVE, or the wrong server key.", pub->zap.failed},
    };
    metrics_rows(m, rows, sizeof rows / sizeof rows[0]);
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
