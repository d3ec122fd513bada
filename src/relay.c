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
 * A recipe over its parts (runtime.h): the status server (--metrics), the ZAP handler (zap.h:
 * one policy per side, bound before either socket attaches), then both sockets with their
 * monitors. Security per side (curve.h): downstream, with --curve-secret, a CURVE server of the
 * subscribers (--curve-allow); upstream a CURVE client of the publishers (--curve-server) or
 * their CURVE server (--curve-allow-upstream), so an encrypted stream stays encrypted across
 * the relay. Both sides refuse non-ZMTP-3 peers and apply --allow-from. Stopping (SIGINT/SIGTERM): what the XSUB already holds is forwarded (for up
 * to 0.5 s), then the sockets, monitors and status server close, and the XPUB gets
 * RELAY_LINGER_MS for its queued messages to leave when the context ends. */
#include "relay.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "curve.h"
#include "diag.h"
#include "runtime.h"
#include "zap.h"
#include "zendpoint.h"
#include "zmonitor.h"
#include "zsock.h"
#include "zsubs.h"
#include "replay.h"
#include "journals.h"
#include "retain.h"
#include "wire.h"

/* Messages forwarded per loop iteration before the other socket, HTTP and signals get a turn. */
#define RELAY_BUDGET 512
#define RELAY_FINAL_DRAIN_NS (500 * 1000 * 1000ull)
/* How long queued messages may take to leave the XPUB once the relay stops. */
#define RELAY_LINGER_MS 500

struct relay {
    const struct cli_options *o;
    uv_loop_t *loop;
    struct zap zap;
    struct zsock up;   /* XSUB: publishers */
    struct zsock down; /* XPUB: subscribers */
    struct zmonitor up_monitor;
    struct zmonitor down_monitor;
    zmq_msg_t frame;
    uint64_t forwarded;     /* whole messages sent downstream */
    uint64_t dropped;       /* whole messages refused downstream (a peer at its HWM) */
    uint64_t subscriptions; /* messages from downstream passed upstream */
    uint64_t errors;        /* sends failing for another reason (reported, rate-limited) */
    struct diag_limit error_limit;
    /* --retain: what passed down, to answer replays (replay.h). */
    bool retaining;
    bool journaling; /* --journal: on disk, one journal per publisher (journals.h) */
    struct retain retain;
    struct journals journals;
    struct replay_stats replay;
    uint64_t requests_passed; /* replay requests for what this relay does not hold: passed up */
    uint64_t control_dropped; /* replay answers refused downstream (the subscriber asks again) */
    struct buf scratch;
    uint8_t topic[256];
    size_t topic_len;
    uint8_t header[WIRE_HEADER_LEN];
    bool header_ok;
};

static void send_failed(struct relay *r, const char *what, int err)
{
    r->errors++;
    diag_limited(&r->error_limit, uv_now(r->loop), 1000, "relay", "zmq_msg_send(%s): %s", what,
                 zmq_strerror(err));
}

/* A framed data message going down is retained (--retain) as its frames pass: the topic and
 * header are copied as they go, and the message is kept before its last frame is sent, so a
 * subscriber can never have it before the relay could answer for it. */
static void keep_frame(struct relay *r, int k, bool more)
{
    if (!r->retaining) {
        return;
    }
    size_t len = zmq_msg_size(&r->frame);
    const uint8_t *data = zmq_msg_data(&r->frame);
    if (k == 0) {
        r->topic_len = len <= sizeof r->topic && more ? len : SIZE_MAX;
        if (r->topic_len != SIZE_MAX) {
            memcpy(r->topic, data, len);
        }
    } else if (k == 1) {
        r->header_ok = len == WIRE_HEADER_LEN && more;
        if (r->header_ok) {
            memcpy(r->header, data, WIRE_HEADER_LEN);
        }
    } else if (k == 2 && !more && r->header_ok && r->topic_len != SIZE_MAX && r->topic_len > 0 &&
               r->topic[0] != WIRE_CONTROL) {
        /* A sequence not above the newest held (a replay passing down) is not kept twice. */
        uint64_t seq = wire_get64(r->header + WIRE_ID_LEN);
        if (r->journaling) {
            journals_append(&r->journals, r->header, seq, (const char *)r->topic, r->topic_len,
                            (const char *)data, len);
        } else {
            retain_add(&r->retain, r->header, seq, (const char *)r->topic, r->topic_len,
                       (const char *)data, len);
        }
    }
}

/* A subscription from downstream: applied here as the pub applies it (zsubs.h). A replay
 * request for messages this relay holds is answered here; anything else goes up unchanged, to
 * whoever holds what is asked for. True when the message was answered and goes no further. */
static bool subscription(struct relay *r)
{
    struct wire_request rq;
    int kind = zsubs_handle(r->down.sock, zmq_msg_data(&r->frame), zmq_msg_size(&r->frame), &rq);
    if (kind < 0) {
        send_failed(r, "downstream subscription", -kind);
        return false;
    }
    if (kind != ZSUBS_REQUEST || !r->retaining) {
        return false;
    }
    const struct replay_source src =
        r->journaling ? journals_source(&r->journals) : retain_source(&r->retain, false);
    if (replay_answer(r->down.sock, &src, &rq, &r->scratch, &r->replay) == -ENOENT) {
        r->requests_passed++;
        return false;
    }
    return true;
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
        if (!downwards && subscription(r)) {
            continue; /* a replay request this relay answered itself */
        }
        /* With NODROP the high-water mark is checked on the first frame only: once it is
         * accepted, the rest of the message is too, so a message is never cut in half. */
        bool more = zmq_msg_more(&r->frame);
        if (downwards) {
            keep_frame(r, 0, more);
        }
        if (zmq_msg_send(&r->frame, to, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0) {
            int err = zmq_errno();
            if (downwards && err == EAGAIN) {
                /* A replay answer to a subscriber that is not reading is no message lost: it
                 * asks again. Only data messages count as dropped. */
                bool control = zmq_msg_size(&r->frame) > 0 &&
                               *(const uint8_t *)zmq_msg_data(&r->frame) == WIRE_CONTROL;
                if (control) {
                    r->control_dropped++;
                } else {
                    r->dropped++;
                }
            } else {
                send_failed(r, downwards ? "downstream" : "upstream", err);
            }
            discard_rest(r, from);
            continue;
        }
        for (int k = 1; more; k++) {
            if (zmq_msg_recv(&r->frame, from, ZMQ_DONTWAIT) < 0) {
                break;
            }
            more = zmq_msg_more(&r->frame);
            if (downwards) {
                keep_frame(r, k, more);
            }
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

static void on_upstream(struct zsock *z)
{
    struct relay *r = z->data;
    pump(r, r->up.sock, r->down.sock, true, RELAY_BUDGET);
    if (r->journaling && r->o->journal_sync_ms == 0) {
        journals_commit(&r->journals); /* --journal-sync=0: after each batch */
    }
}

static void on_downstream(struct zsock *z)
{
    struct relay *r = z->data;
    pump(r, r->down.sock, r->up.sock, false, RELAY_BUDGET);
}

/* Options, monitors, endpoints, watchers, in that order: options apply to connections made
 * afterwards, and a monitor attached first reports the first connections too. */
static int open_parts(struct runtime *rt)
{
    struct relay *r = rt->role;
    const struct cli_options *o = r->o;
    const struct zsock_tuning tuning = {.hwm = o->hwm, .heartbeat_ms = o->heartbeat_ms};
    struct zendpoints up, down;
    zendpoint_split(o->upstreams, o->nupstreams, false, &up);
    zendpoint_split(o->downstreams, o->ndownstreams, true, &down);
    r->loop = &rt->loop;
    const struct zap_policy_config up_policy = {
        .side = "upstream",
        .curve = o->curve_allow_upstream != NULL,
        .allow_dir = o->curve_allow_upstream,
        .allow_flag = "--curve-allow-upstream",
    };
    const struct zap_policy_config down_policy = {
        .side = "downstream",
        .curve = o->curve_secret != NULL,
        .allow_dir = o->curve_allow,
        .allow_flag = "--curve-allow",
    };
    /* Upstream: a client of the publishers' server key, their server, or plain. */
    const struct curve_config up_security = {
        .zap_domain = up_policy.side,
        .secret = o->curve_server || o->curve_allow_upstream ? o->curve_secret : NULL,
        .server = o->curve_server,
    };
    const struct curve_config down_security = {
        .zap_domain = down_policy.side,
        .secret = o->curve_secret,
    };
    struct zap_policy *up_p = NULL, *down_p = NULL;
    int rc = runtime_listen(rt);
    if (rc == 0 && r->journaling) {
        const struct journal_config jc = {
            .dir = o->journal_dir,
            .max_bytes = o->journal_bytes,
            .sync_ms = o->journal_sync_ms,
        };
        rc = journals_open(&r->journals, r->loop, &jc, "relay");
    }
    if (rc == 0) {
        rc = zap_open(&r->zap, r->loop, rt->zctx, o->allow_from, o->nallow_from, "relay");
    }
    if (rc == 0 && ((up_p = zap_policy_add(&r->zap, &up_policy)) == NULL ||
                    (down_p = zap_policy_add(&r->zap, &down_policy)) == NULL)) {
        rc = -EINVAL;
    }
    if (rc == 0) {
        up_p->monitor = &r->up_monitor;
        down_p->monitor = &r->down_monitor;
        rc = zsock_open(&r->up, rt->zctx, ZMQ_XSUB, "ZMQ_XSUB", "relay", 0, r);
    }
    if (rc == 0) {
        rc = zsock_open(&r->down, rt->zctx, ZMQ_XPUB, "ZMQ_XPUB", "relay", RELAY_LINGER_MS, r);
    }
    if (rc == 0) {
        rc = zsock_limit_messages(&r->up);
    }
    /* With retention a full downstream queue drops a message for that subscriber alone, which
     * fetches it from here; without, NODROP refuses it for all and counts it (see above). */
    if (rc == 0 && !r->retaining) {
        rc = zsock_set_int(&r->down, ZMQ_XPUB_NODROP, "ZMQ_XPUB_NODROP", 1);
    }
    if (rc == 0) {
        rc = zsock_set_int(&r->down, ZMQ_XPUB_MANUAL, "ZMQ_XPUB_MANUAL", 1);
    }
    if (rc == 0) {
        rc = zsock_tune(&r->up, ZMQ_RCVHWM, &tuning);
    }
    if (rc == 0) {
        rc = zsock_tune(&r->down, ZMQ_SNDHWM, &tuning);
    }
    if (rc == 0) {
        rc = curve_secure(&r->up, &up_security);
    }
    if (rc == 0) {
        rc = curve_secure(&r->down, &down_security);
    }
    if (rc == 0) {
        rc = zmonitor_open(&r->up_monitor, r->loop, rt->zctx, r->up.sock,
                           "inproc://downcase-relay-upstream", "relay");
    }
    if (rc == 0) {
        rc = zmonitor_open(&r->down_monitor, r->loop, rt->zctx, r->down.sock,
                           "inproc://downcase-relay-downstream", "relay");
    }
    if (rc == 0 && r->retaining) {
        /* A relay that retains subscribes to everything itself, so it goes on receiving (and
         * retaining) while its subscribers are away: they come back to it for what they missed. */
        const uint8_t all = 1;
        if (zmq_send(r->up.sock, &all, 1, 0) < 0) {
            rc = -zmq_errno();
            diag("relay", "subscribing upstream: %s", zmq_strerror(-rc));
        }
    }
    /* Downstream first: subscribers can be there before the first message comes up. */
    if (rc == 0) {
        rc = zendpoint_attach(&r->down, &down);
    }
    if (rc == 0) {
        rc = zendpoint_attach(&r->up, &up);
    }
    if (rc == 0) {
        rc = zsock_watch(&r->up, r->loop, ZMQ_POLLIN, on_upstream);
    }
    if (rc == 0) {
        rc = zsock_watch(&r->down, r->loop, ZMQ_POLLIN, on_downstream);
    }
    if (rc == 0) {
        diag("relay", "relaying %zu upstream endpoint(s) to %zu downstream endpoint(s)",
             o->nupstreams, o->ndownstreams);
    }
    return rc;
}

/* What already arrived is passed on before stopping; bounded in time so a flood upstream
 * cannot keep the process alive. */
static void drain(struct runtime *rt, int signum)
{
    struct relay *r = rt->role;
    uint64_t deadline = uv_hrtime() + RELAY_FINAL_DRAIN_NS;
    unsigned total = 0;
    for (;;) {
        unsigned got = pump(r, r->up.sock, r->down.sock, true, RELAY_BUDGET);
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
}

static void close_parts(struct runtime *rt)
{
    struct relay *r = rt->role;
    if (rt->failed && r->down.sock) {
        /* Nothing was relayed: nothing is worth the linger. */
        zsock_set_int(&r->down, ZMQ_LINGER, "ZMQ_LINGER", 0);
    }
    /* ZAP and the monitors first: they serve and watch the sockets. */
    zap_close(&r->zap, runtime_closer(rt));
    zmonitor_close(&r->up_monitor, runtime_closer(rt));
    zmonitor_close(&r->down_monitor, runtime_closer(rt));
    zsock_close(&r->up, runtime_closer(rt));
    zsock_close(&r->down, runtime_closer(rt));
    journals_close(&r->journals, runtime_closer(rt));
}

static void render_metrics(struct runtime *rt, struct metrics *m)
{
    const struct relay *r = rt->role;
    const struct metrics_row rows[] = {
        {"downcase_relay_forwarded_messages_total", "counter",
         "Messages passed from upstream publishers to downstream subscribers.", r->forwarded},
        {"downcase_relay_dropped_messages_total", "counter",
         "Messages not queued downstream: a subscriber was at its high-water mark.", r->dropped},
        {"downcase_relay_subscriptions_forwarded_total", "counter",
         "Subscription messages passed from downstream to upstream.", r->subscriptions},
        {"downcase_replay_requests_answered_total", "counter",
         "Replay requests this relay answered from its retention.", r->replay.requests},
        {"downcase_replay_messages_sent_total", "counter", "Messages sent in those answers.",
         r->replay.messages},
        {"downcase_replay_requests_passed_total", "counter",
         "Replay requests for messages this relay does not hold, passed upstream.",
         r->requests_passed},
        {"downcase_retained_bytes", "gauge", "Bytes held by the relay's memory retention.",
         r->retain.bytes},
        {"downcase_journal_publishers", "gauge",
         "Publishers the relay keeps a journal for (--journal).", r->journals.n},
        {"downcase_journal_append_errors_total", "counter",
         "Messages the relay's journals could not take.", r->journals.append_errors},
        {"downcase_journal_damage_total", "counter",
         "Damaged places found in the relay's journals at start-up.", r->journals.damage},
        {"downcase_relay_send_errors_total", "counter",
         "Sends that failed for another reason than a full queue.", r->errors},
        {"downcase_zmq_upstream_peers_connected", "gauge",
         "Upstream peers (publishers, relays) connected now, handshake done.",
         zmonitor_connected(&r->up_monitor)},
        {"downcase_zmq_upstream_peer_disconnects_total", "counter",
         "Upstream peer connections that ended (closed, or found dead by heartbeats).",
         r->up_monitor.down},
        {"downcase_zmq_downstream_peers_connected", "gauge",
         "Downstream peers (subscribers, relays) connected now, handshake done.",
         zmonitor_connected(&r->down_monitor)},
        {"downcase_zmq_downstream_peer_disconnects_total", "counter",
         "Downstream peer connections that ended.", r->down_monitor.down},
    };
    metrics_rows(m, rows, sizeof rows / sizeof rows[0]);
    zap_metrics(m, &r->zap);
}

static const struct runtime_recipe recipe = {
    .who = "relay",
    .not_found = RUNTIME_STATUS_NOT_FOUND,
    /* Linger bounds what the XPUB still sends; the deadline bounds the I/O threads. */
    .term_ms = 2 * RELAY_LINGER_MS,
    .open = open_parts,
    .drain = drain,
    .close = close_parts,
    .metrics = render_metrics,
};

int relay_run(const struct cli_options *o)
{
    struct relay *r = calloc(1, sizeof *r);
    if (r == NULL) {
        diag("relay", "out of memory");
        return 1;
    }
    r->o = o;
    r->journaling = o->journal_dir != NULL;
    r->retaining = r->journaling || o->retain_bytes > 0;
    retain_init(&r->retain, r->journaling ? 0 : o->retain_bytes);
    zmq_msg_init(&r->frame);
    const struct runtime_config cfg = {
        .host = o->metrics_host,
        .port = o->metrics_port,
        .limits = o->limits,
    };
    int status = runtime_run(&recipe, r, &cfg);
    zmq_msg_close(&r->frame);
    retain_finish(&r->retain);
    journals_finish(&r->journals);
    buf_finish(&r->scratch);
    free(r);
    return status;
}
