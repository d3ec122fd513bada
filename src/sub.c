/* sub: the subscriber role, as a recipe over its parts (runtime.h).
 *
 * Parts, opened in this order: the log (logsink.h), the HTTP server (--http, alias --metrics)
 * with the live view (token.h, page.h, stream.h), the ZAP handler (zap.h: before the socket it
 * guards attaches), the SUB socket (subscriber.h), whose messages go to the log and, line for
 * line, to the live view's viewers. Data flow: ZMQ_FD ready -> subscriber
 * drains up to a budget of messages -> one log line each into the pending batch -> one write
 * per batch, before the loop sleeps.
 *
 * Stopping (SIGINT/SIGTERM): everything the socket already holds is received and written
 * (bounded by SUB_FINAL_DRAIN_NS), the socket and the status server close, and after the loop
 * the log is fsynced and closed. SIGHUP reopens the log by path, after writing what the old
 * file is owed.
 *
 * With --forward (forward.h) messages go to NATS JetStream first, and only what JetStream
 * acknowledged is delivered: its log line is written then (with --log), and the saved state
 * moves to it (resync's `committed`), so the log, the stream and the state agree after a crash.
 * The forwarder opens after the log and before the SUB socket: a refusal that is certain at
 * start (no stream, credentials refused) stops the sub before it takes any message. */
#include "sub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "forward.h"
#include "logsink.h"
#include "page.h"
#include "runtime.h"
#include "stream.h"
#include "subscriber.h"
#include "substate.h"
#include "token.h"
#include "zap.h"

/* How long a stopping sub keeps receiving what is already queued. */
#define SUB_FINAL_DRAIN_NS (500 * 1000 * 1000ull)
/* How long the ZeroMQ context may take to close once the log is written (zcontext.h). */
#define SUB_TERM_MS 500

struct sub {
    const struct cli_options *o;
    struct logsink log;
    struct zap zap;
    struct subscriber subscriber;
    struct substate state;
    char state_path[4096];
    bool logging;    /* --log (always, without --forward) */
    bool forwarding; /* --forward */
    struct forward fwd;
    /* The live view, when the HTTP server runs: every log line also goes to the stream. */
    bool live;
    struct token token;
    struct page page;
    struct stream stream;
};

/* The log took every line written so far: the state may say so. */
static void save_state(struct sub *s)
{
    const struct logfile *f = &s->log.file;
    if (!s->logging) {
        substate_save(&s->state, &s->subscriber.resync, 0, 0, 0, "sub");
    } else if (f->pending.len == 0 && !f->failing) {
        substate_save(&s->state, &s->subscriber.resync, f->dev, f->ino, f->size, "sub");
    }
}

/* The last sequence resync delivered for publisher id: where a gap just reported ends. */
static uint64_t last_of(const struct resync *rs, const uint8_t id[WIRE_ID_LEN])
{
    for (size_t i = 0; i < rs->n; i++) {
        if (memcmp(rs->peers[i].id, id, WIRE_ID_LEN) == 0) {
            return rs->peers[i].last;
        }
    }
    return 0;
}

/* A message or gap is delivered: its log line (with --log) and its live-view event, the same
 * line for both. Without --forward that is as it arrives; with it, once JetStream acknowledged
 * it (on_committed). */
static void deliver_gap(struct sub *s, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                        const struct timespec *when)
{
    if (s->logging) {
        logsink_gap(&s->log, id, lost, when);
    }
    if (s->live) {
        stream_gap(&s->stream, id, lost, when);
    }
}

static void deliver_message(struct sub *s, const struct wire_msg *m, const struct timespec *when)
{
    if (s->logging) {
        logsink_message(&s->log, m, when);
    }
    if (s->live) {
        stream_message(&s->stream, m, when);
    }
}

static void on_gap(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                   const struct timespec *now)
{
    struct sub *s = ctx;
    if (s->forwarding) {
        forward_gap(&s->fwd, id, lost, last_of(&s->subscriber.resync, id), now);
    } else {
        deliver_gap(s, id, lost, now);
    }
}

static void on_message(void *ctx, const struct wire_msg *m, const struct timespec *now)
{
    struct sub *s = ctx;
    if (s->forwarding) {
        forward_message(&s->fwd, m, now);
    } else {
        deliver_message(s, m, now);
    }
}

/* Once the batch is in the log whole, the state says so (substate.h): never before. A
 * forwarding sub does this when acknowledgments come (on_forward_batch_end). */
static void on_batch_end(void *ctx)
{
    struct sub *s = ctx;
    if (!s->forwarding) {
        logsink_flush(&s->log);
        save_state(s);
        if (s->live) {
            stream_flush(&s->stream);
        }
    }
}

static bool is_full(void *ctx)
{
    struct sub *s = ctx;
    return s->forwarding && forward_full(&s->fwd);
}

/* JetStream acknowledged it (in order): now it is delivered. */
static void on_committed(void *ctx, const struct forward_item *it)
{
    struct sub *s = ctx;
    if (it->kind == FORWARD_GAP) {
        deliver_gap(s, it->publisher, it->lost, &it->received);
        resync_commit(&s->subscriber.resync, it->publisher, it->upto);
        return;
    }
    deliver_message(s, &it->msg, &it->received);
    if (it->msg.kind == WIRE_FRAMED) {
        resync_commit(&s->subscriber.resync, it->msg.publisher, it->upto);
    }
}

static void on_forward_batch_end(void *ctx)
{
    struct sub *s = ctx;
    if (s->logging) {
        logsink_flush(&s->log);
    }
    save_state(s);
    if (s->live) {
        stream_flush(&s->stream);
    }
}

static void on_room(void *ctx)
{
    struct sub *s = ctx;
    subscriber_resume(&s->subscriber);
}

/* The state to keep: --state, else LOG.state beside a file log, else none. */
static const char *state_path(struct sub *s)
{
    const struct cli_options *o = s->o;
    if (o->state_path) {
        return o->state_path;
    }
    if (o->log_path == NULL || strcmp(o->log_path, "-") == 0) {
        return NULL;
    }
    int n = snprintf(s->state_path, sizeof s->state_path, "%s.state", o->log_path);
    return n > 0 && (size_t)n < sizeof s->state_path ? s->state_path : NULL;
}

/* After a crash the log may hold lines written after the state's last save: they are cut off
 * and their messages fetched again, so each is logged once (substate.h). */
static int reconcile(struct sub *s)
{
    const struct substate *st = &s->state;
    struct logfile *f = &s->log.file;
    if (!s->logging || !st->loaded || f->is_stdout || st->log_dev != f->dev ||
        st->log_ino != f->ino) {
        return 0;
    }
    if (f->size > st->log_size) {
        uint64_t extra = f->size - st->log_size;
        int rc = logfile_truncate(f, st->log_size);
        if (rc < 0) {
            diag("sub", "cannot cut %s back to its saved state (%llu bytes): %s", f->path,
                 (unsigned long long)st->log_size, strerror(-rc));
            return rc;
        }
        diag("sub",
             "%s: cut %llu bytes written after the last saved state (a crash); their messages "
             "are fetched again",
             f->path, (unsigned long long)extra);
    } else if (f->size < st->log_size) {
        diag("sub",
             "%s is shorter than its saved state says (%llu < %llu bytes): truncated by "
             "someone else? Continuing",
             f->path, (unsigned long long)f->size, (unsigned long long)st->log_size);
    }
    return 0;
}

/* Whether the HTTP server's own address is loopback: only there is the view open to all. */
static bool listening_on_loopback(struct runtime *rt)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&rt->http.listener, (struct sockaddr *)&ss, &len) < 0) {
        return false;
    }
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
    return false;
}

/* The live view: /, /app.js, /app.css and /stream beside /healthz and /metrics. */
static int open_live(struct runtime *rt)
{
    struct sub *s = rt->role;
    const struct cli_options *o = s->o;
    /* A test-only knob: the 15 s keepalive comment, sooner (tests/integration/test_stream.py). */
    uint64_t keepalive_ms = STREAM_DEFAULT_KEEPALIVE_MS;
    const char *env = getenv("DOWNCASE_STREAM_KEEPALIVE_MS");
    if (env && *env) {
        keepalive_ms = strtoull(env, NULL, 10);
        if (keepalive_ms == 0) {
            keepalive_ms = STREAM_DEFAULT_KEEPALIVE_MS;
        }
    }
    const struct stream_config cfg = {
        .buffer_bytes = o->stream_buffer,
        .lag_bytes = o->stream_lag,
        .keepalive_ms = keepalive_ms,
    };
    s->token.loopback = listening_on_loopback(rt);
    stream_init(&s->stream, &rt->loop, &cfg, &s->token);
    int rc = page_add(&s->page, &rt->router, &s->token);
    if (rc == 0) {
        rc = stream_start(&s->stream, &rt->router);
    }
    if (rc == 0) {
        s->live = true;
        if (!s->token.set && !s->token.loopback) {
            diag("sub", "live view (/ and /stream) refused on this address: it needs "
                        "--http-token=FILE off loopback");
        }
    }
    return rc;
}

static int open_parts(struct runtime *rt)
{
    struct sub *s = rt->role;
    const struct cli_options *o = s->o;
    const struct logsink_config log = {
        .path = o->log_path,
        .format = o->log_format,
        .backlog = o->log_backlog,
    };
    const struct subscriber_config cfg = {
        .topics = o->topics,
        .ntopics = o->ntopics,
        .expect_any = o->expect == CLI_EXPECT_ANY,
        .expect = o->expect == CLI_EXPECT_FRAMED ? WIRE_FRAMED : WIRE_PLAIN,
        .endpoints = &o->endpoints,
        .tuning = {.hwm = o->hwm, .heartbeat_ms = o->heartbeat_ms},
        .security = {.zap_domain = "sub", .secret = o->curve_secret, .server = o->curve_server},
        .defer_when_full = o->forward != NULL && o->expect == CLI_EXPECT_FRAMED,
    };
    /* A CURVE server of the publishers when it has no server key of its own to present: a
     * subscriber that binds (curve.h, reverse fan-in). */
    const struct zap_policy_config policy = {
        .side = "sub",
        .curve = o->curve_secret && !o->curve_server,
        .allow_dir = o->curve_allow,
        .allow_flag = "--curve-allow",
    };
    struct zap_policy *p = NULL;
    const struct subscriber_sink sink = {
        .gap = on_gap,
        .message = on_message,
        .batch_end = on_batch_end,
        .full = is_full,
        .ctx = s,
    };
    const struct forward_config fwd = {
        .url = &o->forward_url,
        .pending = o->forward_pending,
        .creds = o->forward_creds,
        .token = o->forward_token,
    };
    const struct forward_sink fsink = {
        .committed = on_committed,
        .batch_end = on_forward_batch_end,
        .room = on_room,
        .ctx = s,
    };
    s->logging = o->log_path != NULL;
    s->forwarding = o->forward != NULL;
    subscriber_init(&s->subscriber, &rt->loop, sink);
    s->subscriber.resync.explicit_commit = s->forwarding;
    int rc = s->logging ? logsink_open(&s->log, &rt->loop, &log) : 0;
    if (rc == 0) {
        rc = substate_open(&s->state, state_path(s), &s->subscriber.resync, "sub");
    }
    if (rc == 0) {
        rc = reconcile(s);
    }
    if (rc == 0 && s->forwarding) {
        rc = forward_open(&s->fwd, &rt->loop, &fwd, fsink);
    }
    if (rc == 0 && o->http_token) {
        rc = token_load(&s->token, o->http_token);
    }
    if (rc == 0) {
        rc = runtime_listen(rt);
    }
    if (rc == 0 && o->metrics_port >= 0) {
        rc = open_live(rt);
    }
    if (rc == 0) {
        rc = zap_open(&s->zap, &rt->loop, rt->zctx, o->allow_from, o->nallow_from, "sub");
    }
    if (rc == 0 && (p = zap_policy_add(&s->zap, &policy)) == NULL) {
        rc = -EINVAL;
    }
    if (rc == 0) {
        rc = subscriber_open(&s->subscriber, rt->zctx, &cfg);
        p->monitor = &s->subscriber.monitor;
    }
    if (rc == 0 && s->logging) {
        diag("sub", "logging to %s (%s)", s->log.file.is_stdout ? "standard output" : o->log_path,
             s->log.format_name);
    }
    return rc;
}

/* Whatever the socket already holds is written before stopping; bounded in time so a publisher
 * flooding us cannot keep the process alive past its stop budget. */
static void drain(struct runtime *rt, int signum)
{
    struct sub *s = rt->role;
    if (s->forwarding) {
        /* What waits in the socket would not be acknowledged before the stop: the next run
         * fetches it. forward_close waits for the acknowledgments of what was sent. */
        diag("sub",
             "%s: stopping after %llu messages, %llu acknowledged by JetStream, %zu waiting for "
             "an acknowledgment",
             strsignal(signum), (unsigned long long)s->subscriber.received,
             (unsigned long long)s->fwd.acked, forward_queued(&s->fwd));
        return;
    }
    unsigned total = 0;
    uint64_t deadline = uv_hrtime() + SUB_FINAL_DRAIN_NS;
    for (;;) {
        unsigned got = subscriber_drain(&s->subscriber, SUBSCRIBER_BUDGET);
        total += got;
        if (got < SUBSCRIBER_BUDGET || uv_hrtime() > deadline) {
            break;
        }
    }
    on_batch_end(s);
    const struct resync *rs = &s->subscriber.resync;
    diag("sub",
         "%s: stopping after %llu messages (%u in the final drain), %llu lines written, "
         "%llu messages missing in %llu gaps, %llu lines lost to write errors",
         strsignal(signum), (unsigned long long)s->subscriber.received, total,
         (unsigned long long)s->log.file.lines_written, (unsigned long long)rs->lost,
         (unsigned long long)rs->gaps, (unsigned long long)s->log.file.lines_dropped);
}

/* Receiving stops first, so nothing is logged after the final count. */
static void close_parts(struct runtime *rt)
{
    struct sub *s = rt->role;
    /* ZAP first: it serves the subscriber's socket and reads its monitor's counts. */
    zap_close(&s->zap, runtime_closer(rt));
    subscriber_close(&s->subscriber, runtime_closer(rt));
    forward_close(&s->fwd, runtime_closer(rt));
    stream_close(&s->stream, runtime_closer(rt));
    logsink_close(&s->log, runtime_closer(rt));
}

static int finish(struct runtime *rt)
{
    struct sub *s = rt->role;
    int rc = logsink_finish(&s->log);
    forward_finish(&s->fwd);
    substate_close(&s->state);
    stream_finish(&s->stream);
    page_finish(&s->page);
    token_finish(&s->token);
    return rc;
}

static void hup(struct runtime *rt)
{
    struct sub *s = rt->role;
    if (!s->logging) {
        diag("sub", "SIGHUP: ignored, there is no log to reopen (--forward without --log)");
        return;
    }
    logsink_reopen(&s->log);
}

static const char *unhealthy(struct runtime *rt)
{
    const struct sub *s = rt->role;
    return s->log.file.failing ? "the log cannot be written" : NULL;
}

/* One counter family with a sample per tracked publisher: the uint64_t at `field` of each. */
static void per_publisher(struct metrics *m, const struct resync *rs, const char *name,
                          const char *help, size_t field)
{
    metrics_family(m, name, "counter", help);
    for (size_t i = 0; i < rs->n; i++) {
        char id[2 * WIRE_ID_LEN + 1];
        uint64_t v;
        wire_id_hex(rs->peers[i].id, id);
        memcpy(&v, (const char *)&rs->peers[i] + field, sizeof v);
        metrics_sample(m, name, "publisher", id, 2 * WIRE_ID_LEN, v);
    }
}

static void render_forward(const struct sub *s, struct metrics *m)
{
    const struct forward *f = &s->fwd;
    const struct metrics_row rows[] = {
        {"downcase_forward_acked_total", "counter",
         "Messages (and gap records) JetStream acknowledged: delivered.", f->acked},
        {"downcase_forward_pending", "gauge",
         "Messages handed to the forwarder and not yet acknowledged by JetStream.",
         forward_queued(f)},
        {"downcase_forward_sent_total", "counter",
         "Publish attempts to JetStream, first sends and resends.", f->sent},
        {"downcase_forward_resent_total", "counter",
         "Publish attempts after the first for their message (after a failure or reconnection).",
         f->resent},
        {"downcase_forward_duplicates_total", "counter",
         "Acknowledgments that said JetStream already had the message (its Nats-Msg-Id).",
         f->duplicates},
        {"downcase_forward_connected", "gauge", "1 while connected to a NATS server.",
         f->connected},
        {"downcase_forward_holds_total", "counter",
         "Times the sub stopped receiving because --forward-pending messages awaited "
         "acknowledgment.",
         s->subscriber.holds},
        {"downcase_forward_deferred_total", "counter",
         "Live framed messages dropped while --forward-pending messages awaited acknowledgment "
         "(--wire=framed), fetched again from the publishers' retention.",
         s->subscriber.deferred},
    };
    metrics_rows(m, rows, sizeof rows / sizeof rows[0]);
    metrics_family(m, "downcase_forward_errors_total", "counter",
                   "Failed deliveries to JetStream by reason; each message is sent again.");
    for (int i = 0; i < FORWARD_NREASONS; i++) {
        const char *r = forward_reason_names[i];
        metrics_sample(m, "downcase_forward_errors_total", "reason", r, strlen(r), f->errors[i]);
    }
}

static void render_metrics(struct runtime *rt, struct metrics *m)
{
    const struct sub *s = rt->role;
    const struct subscriber *sub = &s->subscriber;
    const struct resync *rs = &sub->resync;
    const struct logfile *log = &s->log.file;
    const struct metrics_row rows[] = {
        {"downcase_received_messages_total", "counter",
         "Messages received live from publishers (replayed ones: "
         "downcase_replayed_messages_total).",
         sub->received},
        {"downcase_zmq_peers_connected", "gauge",
         "ZeroMQ peers (publishers) connected now, handshake done.",
         zmonitor_connected(&sub->monitor)},
        {"downcase_zmq_peer_disconnects_total", "counter",
         "ZeroMQ peer connections that ended (closed, or found dead by heartbeats).",
         sub->monitor.down},
        {"downcase_malformed_messages_total", "counter",
         "Messages ignored: neither the plain nor the framed layout.", sub->malformed},
        {"downcase_log_lines_written_total", "counter",
         "Log lines written to the log file (messages and gap lines).", log->lines_written},
        {"downcase_log_write_errors_total", "counter", "Failed writes to the log file.",
         log->write_errors},
        {"downcase_log_lines_dropped_total", "counter",
         "Log lines dropped because the log could not be written for too long (past "
         "--log-backlog).",
         log->lines_dropped},
        {"downcase_log_pending_bytes", "gauge", "Log bytes waiting to be written.",
         log->pending.len},
        {"downcase_sequence_gaps_total", "counter",
         "Gap lines written: framed messages that could not be had (not retained).", rs->gaps},
        {"downcase_lost_messages_total", "counter", "Framed messages in those gap lines.",
         rs->lost},
        {"downcase_duplicate_messages_total", "counter",
         "Framed messages not logged because their sequence number was not above the last one "
         "logged for their publisher.",
         rs->duplicates},
        {"downcase_rejected_messages_total", "counter",
         "Framed messages dropped as a protocol error: an implausible sequence jump.",
         rs->rejected},
        {"downcase_replayed_messages_total", "counter",
         "Framed messages logged from replays (missed live, fetched from retention).",
         rs->replayed},
        {"downcase_replay_requests_total", "counter", "Replay requests sent to publishers.",
         sub->requests},
        {"downcase_state_saves_total", "counter", "Saves of the --state file.", s->state.saves},
        {"downcase_state_save_errors_total", "counter", "Failed saves of the --state file.",
         s->state.save_errors},
    };
    metrics_rows(m, rows, sizeof rows / sizeof rows[0]);
    if (s->forwarding) {
        render_forward(s, m);
    }
    if (s->live) {
        stream_metrics(&s->stream, m);
    }
    per_publisher(m, rs, "downcase_publisher_lost_messages_total",
                  "Framed messages in gap lines, by publisher id.",
                  offsetof(struct resync_peer, lost));
    per_publisher(m, rs, "downcase_publisher_received_messages_total",
                  "Framed messages received live, by publisher id.",
                  offsetof(struct resync_peer, received));
    per_publisher(m, rs, "downcase_publisher_replayed_messages_total",
                  "Framed messages logged from replays, by publisher id.",
                  offsetof(struct resync_peer, replayed));
    zap_metrics(m, &s->zap);
}

static const struct runtime_recipe recipe = {
    .who = "sub",
    .not_found = "404 Not Found: this server answers / (the live view), /stream, /healthz and "
                 "/metrics\n",
    .term_ms = SUB_TERM_MS,
    .open = open_parts,
    .drain = drain,
    .close = close_parts,
    .finish = finish,
    .hup = hup,
    .unhealthy = unhealthy,
    .metrics = render_metrics,
};

int sub_run(const struct cli_options *o)
{
    struct sub *s = calloc(1, sizeof *s);
    if (s == NULL) {
        diag("sub", "out of memory");
        return 1;
    }
    s->o = o;
    const struct runtime_config cfg = {
        .host = o->metrics_host,
        .port = o->metrics_port,
        .limits = o->limits,
    };
    int status = runtime_run(&recipe, s, &cfg);
    subscriber_finish(&s->subscriber);
    free(s);
    return status;
}
