/* zcontext: a ZeroMQ context's life: its I/O threads' scheduling, and ending it within a
 * deadline.
 *
 * Each role's event loop and libzmq's I/O thread hand messages to each other through a pipe
 * and an eventfd. When both share one core (a pinned service, a busy machine), an I/O thread
 * of the default policy preempts the loop on every wake-up: per published message, the loop
 * is switched out, the thread sends one message, and the loop is switched back in. Run as
 * SCHED_BATCH, the thread keeps a fair share of the CPU but never preempts on wake-up, so it
 * runs when the loop waits for its next events and sends everything queued in one go.
 * Measured with the pub pinned to one core (11 runs after, 3 before, medians): 35 context
 * switches per 1,000 requests instead of 642, and 1.8x the requests per second (README,
 * Performance). With a second core idle nothing changes.
 *
 * zmq_ctx_term() waits for libzmq's I/O threads, and an I/O thread can be stuck where nothing
 * interrupts it: in getaddrinfo() while reconnecting to a host name whose DNS server does not
 * answer (5 s per try; measured in a container whose publisher had stopped). By the time a
 * role terminates its context it has written, fsynced and closed everything of its own and the
 * sockets' linger has bounded what ZeroMQ still sends, so waiting longer gains nothing: past
 * the deadline the process reports it and exits without the context. */
#ifndef DOWNCASE_ZCONTEXT_H
#define DOWNCASE_ZCONTEXT_H

/* A new context whose I/O threads run SCHED_BATCH when this process runs SCHED_OTHER and may
 * switch (else they keep the process's policy, as an operator's chrt or a seccomp filter
 * wants). NULL on failure, reported with who. */
void *zcontext_new(const char *who);

/* Terminates ctx, waiting at most timeout_ms. 0, or -ETIMEDOUT (reported; the context is left
 * to the process's exit), or another negative errno. */
int zcontext_term(void *ctx, unsigned timeout_ms, const char *who);

#endif
