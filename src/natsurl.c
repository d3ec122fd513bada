/* natsurl: the --forward value (natsurl.h). */
#include "natsurl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostport.h"

static int bad(const char **why, const char *reason)
{
    *why = reason;
    return -EINVAL;
}

/* A subject to publish on: tokens of printable, non-space bytes other than the wildcards. */
static bool valid_subject(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[len - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || c == '*' || c == '>' || (c == '.' && s[i + 1] == '.')) {
            return false;
        }
    }
    return true;
}

static int add_server(struct natsurl *u, const char *scheme, const char *s, size_t len,
                      const char **why)
{
    struct hostport hp;
    int port = NATSURL_DEFAULT_PORT;
    if (len == 0 || hostport_split(s, len, &hp) < 0) {
        return bad(why, "expected HOST[:PORT] for each server");
    }
    if (hp.has_port && hostport_port(&hp, &port) < 0) {
        return bad(why, "a server's port is not a number from 1 to 65535");
    }
    if (port == 0) {
        return bad(why, "a server's port is not a number from 1 to 65535");
    }
    if (u->nservers == NATSURL_MAX_SERVERS) {
        return bad(why, "too many servers (at most 16)");
    }
    bool v6 = memchr(hp.host, ':', hp.host_len) != NULL;
    int n = snprintf(u->servers[u->nservers], NATSURL_SERVER_LEN, "%s://%s%.*s%s:%d", scheme,
                     v6 ? "[" : "", (int)hp.host_len, hp.host, v6 ? "]" : "", port);
    if (n < 0 || n >= NATSURL_SERVER_LEN) {
        return bad(why, "a server's host is too long");
    }
    u->nservers++;
    return 0;
}

int natsurl_parse(const char *s, struct natsurl *u, const char **why)
{
    memset(u, 0, sizeof *u);
    const char *scheme;
    if (strncmp(s, "nats://", 7) == 0) {
        scheme = "nats";
        s += 7;
    } else if (strncmp(s, "tls://", 6) == 0) {
        scheme = "tls";
        u->tls = true;
        s += 6;
    } else {
        return bad(why, "expected nats://HOST:PORT/SUBJECT or tls://HOST:PORT/SUBJECT");
    }
    const char *slash = strchr(s, '/');
    if (slash == NULL) {
        return bad(why, "no /SUBJECT after the servers");
    }
    if (memchr(s, '@', (size_t)(slash - s)) != NULL) {
        return bad(why, "credentials do not go in the URL: use --forward-creds or "
                        "--forward-token");
    }
    const char *p = s;
    while (p < slash) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *end = comma ? comma : slash;
        int rc = add_server(u, scheme, p, (size_t)(end - p), why);
        if (rc < 0) {
            return rc;
        }
        p = comma ? comma + 1 : slash;
        if (comma && p == slash) {
            return bad(why, "expected HOST[:PORT] for each server");
        }
    }
    if (u->nservers == 0) {
        return bad(why, "no server before /SUBJECT");
    }
    const char *subj = slash + 1;
    size_t len = strlen(subj);
    if (!valid_subject(subj, len)) {
        return bad(why, "the subject must be dot-separated tokens without spaces, empty tokens "
                        "or wildcards (* >)");
    }
    if (len >= NATSURL_SUBJECT_LEN) {
        return bad(why, "the subject is too long (at most 255 bytes)");
    }
    memcpy(u->subject, subj, len + 1);
    return 0;
}

void natsurl_servers(const struct natsurl *u, char *out, size_t outsz)
{
    size_t at = 0;
    if (outsz == 0) {
        return;
    }
    out[0] = '\0';
    for (size_t i = 0; i < u->nservers && at < outsz; i++) {
        int n = snprintf(out + at, outsz - at, "%s%s", i ? "," : "", u->servers[i]);
        if (n < 0) {
            break;
        }
        at += (size_t)n;
    }
}
