/* Tests zwatch: a PUB and a SUB in one libuv loop, messages in bursts and trickles, none lost,
 * none left unseen, no busy loop while idle, every handle closed at the end. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <zmq.h>

#include "check.h"
#include "zwatch.h"

#define BURST 20000
#define BURSTS 3
#define TRICKLE 200
#define ECHOES 10
/* Receives per callback: small, so most of a burst is left pending after each callback and the
 * loop must come back for it without any new edge on ZMQ_FD. */
#define BUDGET 16
#define DEADLINE_MS 30000

struct t {
    uv_loop_t loop;
    void *ctx;
    void *pub;
    void *sub;
    struct zwatch pub_watch;
    struct zwatch sub_watch;
    uv_timer_t timer;
    uv_prepare_t iterations;
    uint64_t iteration_count;
    int phase;
    uint32_t next_seq;   /* sequence of the next message to send */
    uint32_t expect_seq; /* sequence the next received message must carry */
    uint32_t received;
    uint32_t out_of_order;
    uint32_t sub_callbacks;
    uint32_t max_per_callback;
    uint32_t echoes_sent;
    uint32_t trickled;
    uint64_t idle_start_iterations;
    uint64_t idle_iterations;
    int closed;
    bool handshake_done;
    uint64_t started;
};

static void send_seq(struct t *t)
{
    uint32_t seq = t->next_seq++;
    CHECK(zmq_send(t->pub, &seq, sizeof seq, ZMQ_DONTWAIT) == (int)sizeof seq);
}

/* Handshake probes are sequence 0 and do not count: a SUB misses what is sent before its
 * subscription reaches the PUB. */
static void on_sub_readable(struct zwatch *w)
{
    struct t *t = w->data;
    t->sub_callbacks++;
    uint32_t n = 0;
    for (; n < BUDGET; n++) {
        uint32_t seq;
        int rc = zmq_recv(t->sub, &seq, sizeof seq, ZMQ_DONTWAIT);
        if (rc < 0) {
            CHECK(zmq_errno() == EAGAIN);
            break;
        }
        CHECK(rc == (int)sizeof seq);
        if (seq == UINT32_MAX) {
            t->handshake_done = true;
            continue;
        }
        if (seq != t->expect_seq) {
            t->out_of_order++;
        }
        t->expect_seq = seq + 1;
        t->received++;
        /* A send from inside another socket's callback: the prepare phase must notice the
         * SUB has input again even though the callback consumed the edge. */
        if (t->phase == 3 && t->echoes_sent < ECHOES) {
            t->echoes_sent++;
            send_seq(t);
        }
    }
    if (n > t->max_per_callback) {
        t->max_per_callback = n;
    }
}

static void on_iteration(uv_prepare_t *h)
{
    struct t *t = h->data;
    t->iteration_count++;
}

static void on_closed(void *arg)
{
    struct t *t = arg;
    t->closed++;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct t *t = h->data;
    t->closed++;
}

static void finish(struct t *t)
{
    zwatch_close(&t->pub_watch, (struct closer){on_closed, t});
    zwatch_close(&t->sub_watch, (struct closer){on_closed, t});
    uv_close((uv_handle_t *)&t->timer, on_handle_closed);
    uv_close((uv_handle_t *)&t->iterations, on_handle_closed);
}

static void on_timer(uv_timer_t *h)
{
    struct t *t = h->data;
    /* A watcher that leaves messages unseen would stall a phase forever: fail instead. */
    if (t->phase < 4 && uv_now(&t->loop) - t->started > DEADLINE_MS) {
        fprintf(stderr, "stuck in phase %d after %d ms\n", t->phase, DEADLINE_MS);
        CHECK(t->phase == 4);
        finish(t);
        return;
    }
    switch (t->phase) {
    case 0: /* handshake: probe until the SUB hears one */
        if (!t->handshake_done) {
            uint32_t probe = UINT32_MAX;
            zmq_send(t->pub, &probe, sizeof probe, ZMQ_DONTWAIT);
            return;
        }
        t->phase = 1;
        return;
    case 1: /* bursts, one per tick, far more than one callback's budget */
        for (int i = 0; i < BURST; i++) {
            send_seq(t);
        }
        if (t->next_seq == BURST * BURSTS) {
            t->phase = 2;
        }
        return;
    case 2: /* trickle: one message per tick */
        if (t->received < t->next_seq) {
            return; /* let the last message land first, so the trickle arrives one by one */
        }
        if (t->trickled == TRICKLE) {
            t->phase = 3;
            return;
        }
        send_seq(t);
        t->trickled++;
        return;
    case 3: /* one message whose receipt triggers ECHOES sends from the SUB's callback */
        if (t->echoes_sent == 0 && t->received == t->next_seq) {
            send_seq(t);
        } else if (t->echoes_sent == ECHOES && t->received == t->next_seq) {
            t->phase = 4;
            t->idle_start_iterations = t->iteration_count;
            uv_timer_start(&t->timer, on_timer, 300, 0);
        }
        return;
    case 4: /* 300 ms with nothing to do: the loop must have slept, not spun */
        t->idle_iterations = t->iteration_count - t->idle_start_iterations;
        finish(t);
        return;
    }
}

int main(void)
{
    struct t *t = calloc(1, sizeof *t);
    CHECK(uv_loop_init(&t->loop) == 0);
    t->ctx = zmq_ctx_new();
    t->pub = zmq_socket(t->ctx, ZMQ_PUB);
    t->sub = zmq_socket(t->ctx, ZMQ_SUB);
    int zero = 0;
    /* No high-water marks: this test is about the loop seeing every message, not about HWM. */
    CHECK(zmq_setsockopt(t->pub, ZMQ_SNDHWM, &zero, sizeof zero) == 0);
    CHECK(zmq_setsockopt(t->sub, ZMQ_RCVHWM, &zero, sizeof zero) == 0);
    CHECK(zmq_setsockopt(t->pub, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK(zmq_setsockopt(t->sub, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK(zmq_setsockopt(t->sub, ZMQ_SUBSCRIBE, "", 0) == 0);
    CHECK(zmq_bind(t->pub, "tcp://127.0.0.1:*") == 0);
    char endpoint[256];
    size_t len = sizeof endpoint;
    CHECK(zmq_getsockopt(t->pub, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0);
    CHECK(zmq_connect(t->sub, endpoint) == 0);

    CHECK(zwatch_init(&t->pub_watch, &t->loop, t->pub, 0, NULL, "test") == 0);
    CHECK(zwatch_init(&t->sub_watch, &t->loop, t->sub, ZMQ_POLLIN, on_sub_readable, "test") == 0);
    t->pub_watch.data = t->sub_watch.data = t;
    uv_prepare_init(&t->loop, &t->iterations);
    t->iterations.data = t;
    uv_prepare_start(&t->iterations, on_iteration);
    uv_timer_init(&t->loop, &t->timer);
    t->timer.data = t;
    t->started = uv_now(&t->loop);
    uv_timer_start(&t->timer, on_timer, 5, 2);

    CHECK(uv_run(&t->loop, UV_RUN_DEFAULT) == 0);

    uint32_t sent = BURST * BURSTS + TRICKLE + 1 + ECHOES;
    fprintf(stderr,
            "sent %u, received %u in %u callbacks (at most %u each), out of order %u, "
            "%llu loop iterations in 300 ms idle\n",
            t->next_seq, t->received, t->sub_callbacks, t->max_per_callback, t->out_of_order,
            (unsigned long long)t->idle_iterations);
    CHECK(t->next_seq == sent);
    CHECK(t->received == sent);
    CHECK(t->out_of_order == 0);
    CHECK(t->max_per_callback <= BUDGET);
    /* Far more callbacks than edges: the bursts were drained across many iterations. */
    CHECK(t->sub_callbacks >= BURST * BURSTS / BUDGET);
    CHECK(t->echoes_sent == ECHOES);
    /* An idle loop wakes for the timer and little else (two or three iterations are normal). */
    CHECK(t->idle_iterations < 20);
    CHECK(t->closed == 4);
    CHECK(uv_loop_close(&t->loop) == 0);
    CHECK(zmq_close(t->pub) == 0);
    CHECK(zmq_close(t->sub) == 0);
    CHECK(zmq_ctx_term(t->ctx) == 0);
    free(t);
    return CHECK_DONE();
}
