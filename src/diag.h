/* diag: the one way downcase reports to stderr: one line, prefixed with the program and role. */
#ifndef DOWNCASE_DIAG_H
#define DOWNCASE_DIAG_H

#include <stddef.h>
#include <stdint.h>

/* Writes "downcase[WHO]: MESSAGE\n" to stderr in a single write(2), so lines from concurrent
 * processes sharing a terminal or a container log never interleave mid-line. WHO is the role
 * ("pub", "sub") or NULL for "downcase: MESSAGE". */
void diag(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replaces every ASCII control byte of s[0..len) with '?': text from peers, paths and flags
 * stays on one line wherever it is printed. */
void diag_printable(char *s, size_t len);

/* Rate limiting for reports a peer can trigger at will (malformed messages, denied clients):
 * at most one line per interval, the next one saying how many were held back. */
struct diag_limit {
    uint64_t next_ms;
    unsigned long suppressed;
};

/* Reports like diag() unless one was reported less than interval_ms before now_ms (any
 * monotonic clock in milliseconds, e.g. uv_now()). */
void diag_limited(struct diag_limit *l, uint64_t now_ms, uint64_t interval_ms, const char *who,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
