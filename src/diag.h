/* diag: the one way downcase reports to stderr: one line, prefixed with the program and role. */
#ifndef DOWNCASE_DIAG_H
#define DOWNCASE_DIAG_H

/* Writes "downcase[WHO]: MESSAGE\n" to stderr in a single write(2), so lines from concurrent
 * processes sharing a terminal or a container log never interleave mid-line. WHO is the role
 * ("pub", "sub") or NULL for "downcase: MESSAGE". */
void diag(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
