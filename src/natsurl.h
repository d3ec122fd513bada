/* natsurl: the --forward value, nats://HOST[:PORT][,HOST[:PORT]...]/SUBJECT (or tls://...), split
 * into the server URLs libnats takes and the subject published to.
 *
 * Checked here, at parse time, so a typo is a usage error (exit 2) rather than a failed start:
 * the scheme, each server's host and port (hostport.h; 4222 when none is given), and the subject
 * as NATS defines one to publish on: dot-separated tokens, none empty, no wildcard ('*' or '>')
 * and no space or control character. libnats would take a wildcard subject and the server would
 * then refuse every message; an empty token is a protocol error. */
#ifndef DOWNCASE_NATSURL_H
#define DOWNCASE_NATSURL_H

#include <stdbool.h>
#include <stddef.h>

#define NATSURL_MAX_SERVERS 16
#define NATSURL_DEFAULT_PORT 4222
/* Room for "tls://" + a host of 255 bytes in brackets + ":65535". */
#define NATSURL_SERVER_LEN 272
#define NATSURL_SUBJECT_LEN 256

struct natsurl {
    bool tls;
    char servers[NATSURL_MAX_SERVERS][NATSURL_SERVER_LEN]; /* "nats://HOST:PORT", NUL-ended */
    size_t nservers;
    char subject[NATSURL_SUBJECT_LEN];
};

/* Parses s into u. 0, or -EINVAL with a short reason (a static string) in *why. */
int natsurl_parse(const char *s, struct natsurl *u, const char **why);

/* The servers as one string for messages: "nats://a:4222,nats://b:4222" (truncated to fit). */
void natsurl_servers(const struct natsurl *u, char *out, size_t outsz);

#endif
