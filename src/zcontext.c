/* zcontext: a ZeroMQ context's threads' policy and zmq_ctx_term with a deadline (why:
 * zcontext.h). */
#define _GNU_SOURCE 1 /* SCHED_BATCH */
#include "zcontext.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "diag.h"

/* libzmq applies ZMQ_THREAD_SCHED_POLICY inside each thread it starts and aborts the process
 * if that fails, so it is asked for only once this thread has shown that it may switch to
 * SCHED_BATCH and back (seccomp filters and container runtimes may forbid it). A process that
 * runs another policy already (chrt) keeps it for every thread. */
static bool may_batch(const char *who)
{
    if (sched_getscheduler(0) != SCHED_OTHER) {
        return false;
    }
    const struct sched_param zero = {.sched_priority = 0};
    if (sched_setscheduler(0, SCHED_BATCH, &zero) != 0) {
        return false;
    }
    if (sched_setscheduler(0, SCHED_OTHER, &zero) != 0) {
        diag(who, "sched_setscheduler(SCHED_OTHER): %s (the event loop stays SCHED_BATCH)",
             strerror(errno));
    }
    return true;
}

void *zcontext_new(const char *who)
{
    void *ctx = zmq_ctx_new();
    if (ctx == NULL) {
        diag(who, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    /* Before the first socket: libzmq starts its threads with it. */
    if (may_batch(who) && zmq_ctx_set(ctx, ZMQ_THREAD_SCHED_POLICY, SCHED_BATCH) != 0) {
        diag(who, "zmq_ctx_set(ZMQ_THREAD_SCHED_POLICY): %s (I/O threads keep the default)",
             zmq_strerror(zmq_errno()));
    }
    return ctx;
}

/* Shared with the terminating thread; freed by whichever side finishes last. */
struct term {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    void *ctx;
    bool done;
    bool abandoned;
};

static void *terminate(void *arg)
{
    struct term *t = arg;
    zmq_ctx_term(t->ctx);
    pthread_mutex_lock(&t->lock);
    t->done = true;
    bool abandoned = t->abandoned;
    pthread_cond_signal(&t->done_cond);
    pthread_mutex_unlock(&t->lock);
    if (abandoned) {
        free(t);
    }
    return NULL;
}

int zcontext_term(void *ctx, unsigned timeout_ms, const char *who)
{
    struct term *t = calloc(1, sizeof *t);
    if (t == NULL) {
        zmq_ctx_term(ctx); /* no memory for a thread either: wait, as plain libzmq would */
        return 0;
    }
    t->ctx = ctx;
    pthread_mutex_init(&t->lock, NULL);
    /* CLOCK_MONOTONIC: a clock step must not stretch or cut the deadline. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->done_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, terminate, t);
    if (rc != 0) {
        pthread_cond_destroy(&t->done_cond);
        pthread_mutex_destroy(&t->lock);
        free(t);
        zmq_ctx_term(ctx);
        return 0;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    while (!t->done) {
        if (pthread_cond_timedwait(&t->done_cond, &t->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    bool done = t->done;
    if (!done) {
        t->abandoned = true;
    }
    pthread_mutex_unlock(&t->lock);
    if (!done) {
        pthread_detach(thread);
        diag(who,
             "ZeroMQ did not finish closing within %u ms (a host name lookup in progress?); "
             "exiting without waiting",
             timeout_ms);
        return -ETIMEDOUT;
    }
    pthread_join(thread, NULL);
    pthread_cond_destroy(&t->done_cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return 0;
}
