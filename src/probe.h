/* probe: `downcase --probe=URL`, a health check that needs no curl in the container image.
 *
 * One blocking HTTP/1.1 GET over TCP to http://HOST[:PORT]/PATH that only reads the status
 * line: a container's HEALTHCHECK runs it every few seconds, so it is small, has no loop and
 * gives up after a bounded time instead of hanging the check. No TLS, no redirects, no proxy:
 * it checks the server it is pointed at and nothing else. */
#ifndef DOWNCASE_PROBE_H
#define DOWNCASE_PROBE_H

/* How long one probe may take, from connect to status line (name resolution aside, see
 * probe_get_status). Below the 5 s a HEALTHCHECK --timeout usually allows. */
#define PROBE_TIMEOUT_MS 3000

/* A parsed http:// URL. */
struct probe_target {
    char host[256];  /* a name, an IPv4 literal, or an IPv6 literal without brackets */
    int port;        /* 1-65535; 80 when the URL gives none */
    char path[1024]; /* the request target: starts with '/', keeps the query, drops a fragment */
};

/* Parses "http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT]" (IPv6 hosts in brackets). Returns 0,
 * or -EINVAL (no userinfo, no https, no spaces or control bytes, nothing too long). */
int probe_parse_url(const char *url, struct probe_target *t);

/* Sends GET t->path to t->host:t->port and reads the answer's status line. Returns the HTTP
 * status (100-599), or a negative errno after reporting on stderr, once, what failed and where:
 * a refused connection, a timeout (-ETIMEDOUT after timeout_ms), a reply that is not HTTP
 * (-EPROTO). Host names are resolved with the system's resolver first; a numeric host needs no
 * lookup, so the URL a health check uses (127.0.0.1) is bounded by timeout_ms alone. */
int probe_get_status(const struct probe_target *t, int timeout_ms);

#endif
