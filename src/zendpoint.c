/* zendpoint: ZeroMQ bind/connect with start-up checks and clear errors. */
#include "zendpoint.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "diag.h"
#include "hostport.h"

void zendpoint_split(const char *const *given, size_t n, bool bind_default, struct zendpoints *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n && i < ZENDPOINT_MAX; i++) {
        const char *e = given[i];
        bool bind = bind_default;
        if (*e == '@' || *e == '>') {
            bind = *e == '@';
            e++;
        }
        if (bind) {
            out->binds[out->nbinds++] = e;
        } else {
            out->connects[out->nconnects++] = e;
        }
    }
}

/* Resolves the host of a tcp:// endpoint ("tcp://host:port", "tcp://[v6]:port", optionally
 * "tcp://source;host:port"). Only names are looked up; '*' and literals pass. */
static int check_tcp_host(const char *who, const char *endpoint)
{
    if (strncmp(endpoint, "tcp://", 6) != 0) {
        return 0;
    }
    const char *addr = endpoint + 6;
    const char *semi = strchr(addr, ';');
    if (semi) {
        addr = semi + 1;
    }
    struct hostport hp;
    char host[256];
    if (hostport_split(addr, strlen(addr), &hp) < 0 || hp.host_len >= sizeof host) {
        /* Leave malformed addresses to libzmq, which says what is wrong. */
        return 0;
    }
    memcpy(host, hp.host, hp.host_len);
    host[hp.host_len] = '\0';
    if (strcmp(host, "*") == 0) {
        return 0;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        diag(who, "zmq_connect(%s): cannot resolve host '%s': %s", endpoint, host,
             rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    freeaddrinfo(res);
    return 0;
}

/* ZMQ_IPV6 is read when bind/connect is called, so it can differ per endpoint: on for '*' (a
 * dual-stack wildcard) and for bracketed IPv6 literals, off otherwise, so that an IPv4 address
 * stays IPv4 (not ::ffff:127.0.0.1) and a name resolves as libzmq does by default. */
static int set_ipv6_for(struct zsock *z, const char *endpoint)
{
    const char *addr = strstr(endpoint, "://");
    addr = addr ? addr + 3 : endpoint;
    const char *semi = strchr(addr, ';');
    if (semi) {
        addr = semi + 1;
    }
    int on = strncmp(endpoint, "tcp://", 6) == 0 && (addr[0] == '[' || addr[0] == '*');
    return zsock_set_int(z, ZMQ_IPV6, "ZMQ_IPV6", on);
}

static void announce(struct zsock *z, const char *verb, const char *endpoint)
{
    char last[1024];
    size_t len = sizeof last;
    /* For a bind, ZMQ_LAST_ENDPOINT has the real port when '*' or 0 was asked for. */
    if (strcmp(verb, "bind") == 0 && zmq_getsockopt(z->sock, ZMQ_LAST_ENDPOINT, last, &len) == 0) {
        diag(z->who, "zmq %s %s", verb, last);
    } else {
        diag(z->who, "zmq %s %s", verb, endpoint);
    }
}

int zendpoint_attach(struct zsock *z, const struct zendpoints *e)
{
    for (size_t i = 0; i < e->nbinds; i++) {
        int rc = set_ipv6_for(z, e->binds[i]);
        if (rc < 0) {
            return rc;
        }
        if (zmq_bind(z->sock, e->binds[i]) != 0) {
            int err = zmq_errno();
            diag(z->who, "zmq_bind(%s): %s", e->binds[i], zmq_strerror(err));
            return -err;
        }
        announce(z, "bind", e->binds[i]);
    }
    for (size_t i = 0; i < e->nconnects; i++) {
        int rc = check_tcp_host(z->who, e->connects[i]);
        if (rc == 0) {
            rc = set_ipv6_for(z, e->connects[i]);
        }
        if (rc < 0) {
            return rc;
        }
        if (zmq_connect(z->sock, e->connects[i]) != 0) {
            int err = zmq_errno();
            diag(z->who, "zmq_connect(%s): %s", e->connects[i], zmq_strerror(err));
            return -err;
        }
        announce(z, "connect", e->connects[i]);
    }
    return 0;
}
