/* sub: the subscriber role.
 *
 * Data flow: ZMQ_FD ready -> zwatch check -> drain up to SUB_BUDGET messages -> one log line
 * each into the log's pending buffer -> one write per drained batch, before the loop sleeps.
 *
 * Stopping (SIGINT/SIGTERM): everything the socket already holds is received and written, the
 * log is fsynced and closed, then the socket (linger 0: a SUB has nothing to send) and the
 * context. SIGHUP reopens the log by path, after flushing what the old file is owed. */
#include "sub.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "curve.h"
#include "diag.h"
#include "http_server.h"
#include "logfile.h"
#include "logline.h"
#include "metrics.h"
#include "router.h"
#include "seqtrack.h"
#include "wire.h"
#include "zcontext.h"
#include "zendpoint.h"
#include "zmonitor.h"
#include "zwatch.h"

/* Messages handled per loop iteration before HTTP (later: metrics) and signals get a turn. */
#define SUB_BUDGET 512
/* What a publisher can make the subscriber hold for one message; a bigger message makes
 * libzmq drop the connection (ZMQ_MAXMSGSIZE). */
#define SUB_MAX_MESSAGE (1024 * 1024)
/* How long a stopping sub keeps receiving what is already queued. */
#define SUB_FINAL_DRAIN_NS (500 * 1000 * 1000ull)
/* The frames of the message being received; a layout has at most three. */
#define SUB_MAX_FRAMES 3
/* How long the ZeroMQ context may take to close once the log is written (zcontext.h). */
#define SUB_TERM_MS 500
/* While the log cannot be written, how often to try again even if no message arrives. */
#define SUB_RETRY_MS 1000

struct sub {
    uv_loop_t loop;
    void *zctx;
    void *sock;
    struct zwatch watch;
    bool watching;
    struct zmonitor monitor;
    bool monitoring;
    struct logfile log;
    struct logline line;
    uv_timer_t retry; /* flushes again while the log device fails */
    struct seqtrack seq;
    struct diag_limit gap_limit;
    /* --metrics: /healthz and /metrics through the pub's HTTP code. */
    struct http_server http;
    struct router router;
    bool http_started;
    const struct cli_options *o;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup;
    zmq_msg_t frames[SUB_MAX_FRAMES];
    uint64_t received;
    uint64_t malformed;
    bool warned_layout;
    struct diag_limit malformed_limit;
    bool stopping;
};

/* Receives one whole message into s->frames. Returns the number of frames (frames past
 * SUB_MAX_FRAMES are received and discarded but counted), 0 when nothing is queued, or a
 * negative errno. */
static int receive(struct sub *s)
{
    int count = 0;
    for (;;) {
        zmq_msg_t extra;
        zmq_msg_t *m = &extra;
        if (count < SUB_MAX_FRAMES) {
            m = &s->frames[count];
        } else {
            zmq_msg_init(&extra);
        }
        int rc = zmq_msg_recv(m, s->sock, ZMQ_DONTWAIT);
        int err = rc < 0 ? zmq_errno() : 0;
        bool more = rc >= 0 && zmq_msg_more(m);
        if (m == &extra) {
            zmq_msg_close(&extra);
        }
        if (rc < 0) {
            /* Multipart messages arrive whole, so EAGAIN only comes before the first frame. */
            return err == EAGAIN && count == 0 ? 0 : -err;
        }
        count++;
        if (!more) {
            return count;
        }
    }
}

static void check_layout(struct sub *s, const struct wire_msg *m)
{
    if (s->warned_layout || s->o->expect == CLI_EXPECT_ANY) {
        return;
    }
    bool framed = m->kind == WIRE_FRAMED;
    if (framed != (s->o->expect == CLI_EXPECT_FRAMED)) {
        diag("sub", "received a %s message while --wire=%s: logged anyway (said once)",
             framed ? "framed" : "plain", framed ? "plain" : "framed");
        s->warned_layout = true;
    }
}

/* Writes a gap line before a framed message whose predecessors from its publisher are missing. */
static void note_gap(struct sub *s, const struct wire_msg *m, const struct timespec *now)
{
    int64_t lost = seqtrack_see(&s->seq, m->publisher, m->seq);
    if (lost < 0) {
        diag_limited(&s->gap_limit, uv_now(&s->loop), 10000, "sub",
                     "out of memory tracking publishers: gaps are not counted");
        return;
    }
    if (lost == 0) {
        return;
    }
    char id[2 * WIRE_ID_LEN + 1];
    wire_id_hex(m->publisher, id);
    diag_limited(&s->gap_limit, uv_now(&s->loop), 10000, "sub",
                 "gap: %lld message(s) of publisher %s missing before seq %llu", (long long)lost,
                 id, (unsigned long long)m->seq);
    if (logline_append_gap(&s->line, &s->log.pending, m->publisher, (uint64_t)lost, now) < 0) {
        diag("sub", "out of memory formatting a gap line");
    }
}

/* Receives and formats up to `budget` messages. Returns how many were received. */
static unsigned drain(struct sub *s, unsigned budget)
{
    unsigned done = 0;
    while (done < budget) {
        int n = receive(s);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (n != -ETERM && n != -EINTR) {
                diag("sub", "zmq_msg_recv: %s", zmq_strerror(-n));
            }
            break;
        }
        done++;
        s->received++;
        const void *data[SUB_MAX_FRAMES];
        size_t lens[SUB_MAX_FRAMES];
        size_t nframes = (size_t)n < SUB_MAX_FRAMES ? (size_t)n : SUB_MAX_FRAMES;
        for (size_t i = 0; i < nframes; i++) {
            data[i] = zmq_msg_data(&s->frames[i]);
            lens[i] = zmq_msg_size(&s->frames[i]);
        }
        struct wire_msg m;
        if (n > SUB_MAX_FRAMES || wire_decode(data, lens, nframes, &m) < 0) {
            s->malformed++;
            diag_limited(&s->malformed_limit, uv_now(&s->loop), 10000, "sub",
                         "ignored a message of %d frames: neither plain (1 frame) nor framed "
                         "(3 frames, 16-byte header)",
                         n);
            continue;
        }
        check_layout(s, &m);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (m.kind == WIRE_FRAMED) {
            note_gap(s, &m, &now);
        }
        if (logline_append(&s->line, &s->log.pending, &m, &now) < 0) {
            diag("sub", "out of memory formatting a log line");
        }
    }
    return done;
}

static void on_retry(uv_timer_t *t);

/* Writes what is pending; while that fails, a timer keeps trying even if no message comes. */
static void flush_log(struct sub *s)
{
    int rc = logfile_flush(&s->log, "sub");
    if (rc < 0 && !uv_is_active((uv_handle_t *)&s->retry) && !s->stopping) {
        uv_timer_start(&s->retry, on_retry, SUB_RETRY_MS, SUB_RETRY_MS);
    } else if (rc == 0) {
        uv_timer_stop(&s->retry);
    }
}

static void on_retry(uv_timer_t *t)
{
    flush_log(t->data);
}

static void on_readable(struct zwatch *w)
{
    struct sub *s = w->data;
    drain(s, SUB_BUDGET);
    flush_log(s);
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_signals(struct sub *s)
{
    uv_close((uv_handle_t *)&s->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&s->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&s->sighup, on_signal_closed);
    uv_close((uv_handle_t *)&s->retry, on_signal_closed);
}

static void on_http_stopped(struct http_server *h)
{
    close_signals(h->data);
}

static void on_unmonitored(struct zmonitor *m)
{
    struct sub *s = m->data;
    http_server_stop(&s->http, 0, on_http_stopped);
}

static void stop_monitor(struct sub *s)
{
    if (s->monitoring) {
        s->monitoring = false;
        zmonitor_close(&s->monitor, on_unmonitored);
    } else {
        http_server_stop(&s->http, 0, on_http_stopped);
    }
}

static void on_unwatched(struct zwatch *w)
{
    stop_monitor(w->data);
}

/* Closes every handle; the loop then ends. Also the unwinding of a failed start, when the
 * socket may never have been watched. Receiving stops first, so nothing is logged after the
 * final count; the metrics server then closes at once (a scrape is not worth waiting for). */
static void stop(struct sub *s)
{
    s->stopping = true;
    uv_timer_stop(&s->retry);
    if (s->watching) {
        s->watching = false;
        zwatch_close(&s->watch, on_unwatched);
    } else {
        stop_monitor(s);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct sub *s = h->data;
    if (signum == SIGHUP) {
        if (logfile_reopen(&s->log, "sub") == 0 && !s->log.is_stdout) {
            diag("sub", "SIGHUP: reopened %s", s->log.path);
        }
        return;
    }
    if (s->stopping) {
        return;
    }
    /* Whatever the socket already holds is written before stopping; bounded in time so a
     * publisher flooding us cannot keep the process alive past its stop budget. */
    unsigned total = 0;
    uint64_t deadline = uv_hrtime() + SUB_FINAL_DRAIN_NS;
    for (;;) {
        unsigned got = drain(s, SUB_BUDGET);
        total += got;
        if (got < SUB_BUDGET || uv_hrtime() > deadline) {
            break;
        }
    }
    logfile_flush(&s->log, "sub");
    diag("sub",
         "%s: stopping after %llu messages (%u in the final drain), %llu lines written, "
         "%llu messages missing in %llu gaps, %llu lines lost to write errors",
         strsignal(signum), (unsigned long long)s->received, total,
         (unsigned long long)s->log.lines_written, (unsigned long long)s->seq.lost,
         (unsigned long long)s->seq.gaps, (unsigned long long)s->log.lines_dropped);
    stop(s);
}

static int open_socket(struct sub *s)
{
    const struct cli_options *o = s->o;
    s->sock = zmq_socket(s->zctx, ZMQ_SUB);
    if (s->sock == NULL) {
        int err = zmq_errno();
        diag("sub", "zmq_socket(ZMQ_SUB): %s", zmq_strerror(err));
        return -err;
    }
    int64_t maxmsg = SUB_MAX_MESSAGE;
    int rc = zendpoint_set_int(s->sock, "sub", ZMQ_LINGER, "ZMQ_LINGER", 0);
    if (rc == 0 && zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        rc = -zmq_errno();
        diag("sub", "zmq_setsockopt(ZMQ_MAXMSGSIZE): %s", zmq_strerror(-rc));
    }
    /* No topic: subscribe to everything (the empty prefix), as the tutorial's subscriber. */
    for (size_t i = 0; rc == 0 && i < (o->ntopics ? o->ntopics : 1); i++) {
        const char *t = o->ntopics ? o->topics[i] : "";
        if (zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, t, strlen(t)) != 0) {
            rc = -zmq_errno();
            diag("sub", "zmq_setsockopt(ZMQ_SUBSCRIBE, %s): %s", t, zmq_strerror(-rc));
        }
    }
    if (rc == 0 && o->curve_secret) {
        rc = curve_client(s->sock, "sub", o->curve_secret, o->curve_server);
    }
    if (rc == 0) {
        rc = zendpoint_tune(s->sock, "sub", ZMQ_RCVHWM, o->hwm, o->heartbeat_ms);
    }
    if (rc == 0) {
        /* Before attaching, so the first connections are reported too. */
        rc = zmonitor_init(&s->monitor, &s->loop, s->zctx, s->sock, "inproc://downcase-sub-monitor",
                           "sub");
        s->monitoring = rc == 0;
        s->monitor.data = s;
    }
    if (rc == 0) {
        rc = zendpoint_attach(s->sock, "sub", o->binds, o->nbinds, o->connects, o->nconnects);
    }
    if (rc == 0) {
        rc = zwatch_init(&s->watch, &s->loop, s->sock, ZMQ_POLLIN, on_readable, "sub");
    }
    if (rc == 0) {
        s->watching = true;
        s->watch.data = s;
    }
    return rc;
}

static int start(struct sub *s)
{
    const struct cli_options *o = s->o;
    static const char *const formats[] = {
        [LOGLINE_TEXT] = "text",
        [LOGLINE_JSON] = "json",
        [LOGLINE_PYTHON] = "python",
    };
    int rc = logfile_open(&s->log, o->log_path);
    if (rc < 0) {
        diag("sub", "cannot open log %s: %s", o->log_path, strerror(-rc));
        return rc;
    }
    s->log.max_pending = o->log_backlog;
    logline_init(&s->line, o->log_format);
    if (o->metrics_port >= 0) {
        rc = http_server_listen(&s->http, o->metrics_host, o->metrics_port);
        if (rc < 0) {
            return rc;
        }
    }
    rc = open_socket(s);
    if (rc < 0) {
        return rc;
    }
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sighup, on_signal, SIGHUP);
    diag("sub", "logging to %s (%s)", s->log.is_stdout ? "standard output" : o->log_path,
         formats[o->log_format]);
    return 0;
}

static const char *unhealthy(void *owner)
{
    const struct sub *s = owner;
    if (s->stopping) {
        return "stopping";
    }
    return s->log.failing ? "the log cannot be written" : NULL;
}

/* One counter family with a sample per tracked publisher: the uint64_t at `field` of each. */
static void per_publisher(struct metrics *m, const struct seqtrack *t, const char *name,
                          const char *help, size_t field)
{
    metrics_family(m, name, "counter", help);
    for (size_t i = 0; i < t->n; i++) {
        char id[2 * WIRE_ID_LEN + 1];
        uint64_t v;
        wire_id_hex(t->peers[i].id, id);
        memcpy(&v, (const char *)&t->peers[i] + field, sizeof v);
        metrics_sample(m, name, "publisher", id, 2 * WIRE_ID_LEN, v);
    }
}

static int render_metrics(void *owner, struct buf *out)
{
    const struct sub *s = owner;
    struct metrics m = {.out = out};
    metrics_build_info(&m);
    metrics_http(&m, &s->http);
    metrics_single(&m, "downcase_received_messages_total", "counter",
                   "Messages received from publishers.", s->received);
    metrics_single(&m, "downcase_zmq_peers_connected", "gauge",
                   "ZeroMQ peers (publishers) connected now, handshake done.",
                   zmonitor_connected(&s->monitor));
    metrics_single(&m, "downcase_zmq_peer_disconnects_total", "counter",
                   "ZeroMQ peer connections that ended (closed, or found dead by heartbeats).",
                   s->monitor.down);
    metrics_single(&m, "downcase_malformed_messages_total", "counter",
                   "Messages ignored: neither the plain nor the framed layout.", s->malformed);
    metrics_single(&m, "downcase_log_lines_written_total", "counter",
                   "Log lines written to the log file (messages and gap lines).",
                   s->log.lines_written);
    metrics_single(&m, "downcase_log_write_errors_total", "counter",
                   "Failed writes to the log file.", s->log.write_errors);
    metrics_single(&m, "downcase_log_lines_dropped_total", "counter",
                   "Log lines dropped because the log could not be written for too long "
                   "(past --log-backlog).",
                   s->log.lines_dropped);
    metrics_single(&m, "downcase_log_pending_bytes", "gauge", "Log bytes waiting to be written.",
                   s->log.pending.len);
    metrics_single(&m, "downcase_sequence_gaps_total", "counter",
                   "Jumps in framed publishers' sequence numbers.", s->seq.gaps);
    metrics_single(&m, "downcase_lost_messages_total", "counter",
                   "Framed messages missing in those jumps.", s->seq.lost);
    per_publisher(&m, &s->seq, "downcase_publisher_lost_messages_total",
                  "Framed messages missing, by publisher id.",
                  offsetof(struct seqtrack_peer, lost));
    per_publisher(&m, &s->seq, "downcase_publisher_received_messages_total",
                  "Framed messages received, by publisher id.",
                  offsetof(struct seqtrack_peer, received));
    return m.rc;
}

int sub_run(const struct cli_options *o)
{
    struct sub *s = calloc(1, sizeof *s);
    if (s == NULL) {
        diag("sub", "out of memory");
        return 1;
    }
    s->o = o;
    s->log.fd = -1;
    int status = 0;
    int rc = uv_loop_init(&s->loop);
    if (rc < 0) {
        diag("sub", "uv_loop_init: %s", uv_strerror(rc));
        free(s);
        return 1;
    }
    s->zctx = zcontext_new("sub");
    if (s->zctx == NULL) {
        uv_loop_close(&s->loop);
        free(s);
        return 1;
    }
    for (size_t i = 0; i < SUB_MAX_FRAMES; i++) {
        zmq_msg_init(&s->frames[i]);
    }
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    uv_signal_init(&s->loop, &s->sighup);
    uv_timer_init(&s->loop, &s->retry);
    s->sigint.data = s->sigterm.data = s->sighup.data = s->retry.data = s;
    seqtrack_init(&s->seq);
    router_init(
        &s->router, NULL,
        (struct router_status){.unhealthy = unhealthy, .render = render_metrics, .owner = s});
    http_server_init(&s->http, &s->loop, "sub", router_handle, &s->router);
    http_server_set_limits(&s->http, o);
    s->http.data = s;

    if (start(s) < 0) {
        status = 1;
        stop(s);
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&s->loop);
    if (rc < 0) {
        diag("sub", "uv_loop_close: %s (a handle was left open)", uv_strerror(rc));
        status = 1;
    }
    if (logfile_close(&s->log, "sub") < 0) {
        status = 1;
    }
    for (size_t i = 0; i < SUB_MAX_FRAMES; i++) {
        zmq_msg_close(&s->frames[i]);
    }
    if (s->sock) {
        zmq_close(s->sock);
    }
    zcontext_term(s->zctx, SUB_TERM_MS, "sub");
    router_finish(&s->router);
    seqtrack_finish(&s->seq);
    free(s);
    return status;
}
