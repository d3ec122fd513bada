/* zcontext: ending a ZeroMQ context within a deadline.
 *
 * zmq_ctx_term() waits for libzmq's I/O threads, and an I/O thread can be stuck where nothing
 * interrupts it: in getaddrinfo() while reconnecting to a host name whose DNS server does not
 * answer (5 s per try; measured in a container whose publisher had stopped). By the time a
 * role terminates its context it has written, fsynced and closed everything of its own and the
 * sockets' linger has bounded what ZeroMQ still sends, so waiting longer gains nothing: past
 * the deadline the process reports it and exits without the context. */
#ifndef DOWNCASE_ZCONTEXT_H
#define DOWNCASE_ZCONTEXT_H

/* Terminates ctx, waiting at most timeout_ms. 0, or -ETIMEDOUT (reported; the context is left
 * to the process's exit), or another negative errno. */
int zcontext_term(void *ctx, unsigned timeout_ms, const char *who);

#endif
