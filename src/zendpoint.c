/* zendpoint: ZeroMQ bind/connect with start-up checks and clear errors. */
#include "zendpoint.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "diag.h"

int zendpoint_set_int(void *sock, const char *who, int option, const char *name, int value)
{
    if (zmq_setsockopt(sock, option, &value, sizeof value) != 0) {
        int err = zmq_errno();
        diag(who, "zmq_setsockopt(%s, %d): %s", name, value, zmq_strerror(err));
        return -err;
    }
    return 0;
}

int zendpoint_tune(void *sock, const char *who, int hwm_option, int hwm, uint64_t heartbeat_ms)
{
    int rc = zendpoint_set_int(sock, who, hwm_option,
                               hwm_option == ZMQ_SNDHWM ? "ZMQ_SNDHWM" : "ZMQ_RCVHWM", hwm);
    if (rc == 0) {
        rc = zendpoint_set_int(sock, who, ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX",
                               ZENDPOINT_RECONNECT_MAX_MS);
    }
    if (rc == 0 && heartbeat_ms > 0) {
        /* The command line caps durations at a day, well inside int milliseconds. */
        int ivl = (int)heartbeat_ms;
        rc = zendpoint_set_int(sock, who, ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", ivl);
        if (rc == 0) {
            rc = zendpoint_set_int(sock, who, ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT",
                                   3 * ivl);
        }
        if (rc == 0) {
            /* The TTL travels in the PING in tenths of a second, at most 6553.5 s. */
            int ttl = 3 * ivl < 6553500 ? 3 * ivl : 6553500;
            rc = zendpoint_set_int(sock, who, ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", ttl);
        }
    }
    return rc;
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
    char host[256];
    const char *end;
    if (addr[0] == '[') {
        addr++;
        end = strchr(addr, ']');
    } else {
        end = strrchr(addr, ':');
    }
    if (end == NULL || (size_t)(end - addr) >= sizeof host || end == addr) {
        /* Leave malformed addresses to libzmq, which says what is wrong. */
        return 0;
    }
    memcpy(host, addr, (size_t)(end - addr));
    host[end - addr] = '\0';
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
static int set_ipv6_for(void *sock, const char *who, const char *endpoint)
{
    const char *addr = strstr(endpoint, "://");
    addr = addr ? addr + 3 : endpoint;
    const char *semi = strchr(addr, ';');
    if (semi) {
        addr = semi + 1;
    }
    int on = strncmp(endpoint, "tcp://", 6) == 0 && (addr[0] == '[' || addr[0] == '*');
    if (zmq_setsockopt(sock, ZMQ_IPV6, &on, sizeof on) != 0) {
        int err = zmq_errno();
        diag(who, "zmq_setsockopt(ZMQ_IPV6) for %s: %s", endpoint, zmq_strerror(err));
        return -err;
    }
    return 0;
}

static void announce(void *sock, const char *who, const char *verb, const char *endpoint)
{
    char last[1024];
    size_t len = sizeof last;
    /* For a bind, ZMQ_LAST_ENDPOINT has the real port when '*' or 0 was asked for. */
    if (strcmp(verb, "bind") == 0 && zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, last, &len) == 0) {
        diag(who, "zmq %s %s", verb, last);
    } else {
        diag(who, "zmq %s %s", verb, endpoint);
    }
}

int zendpoint_attach(void *sock, const char *who, const char *const *binds, size_t nbinds,
                     const char *const *connects, size_t nconnects)
{
    for (size_t i = 0; i < nbinds; i++) {
        int rc = set_ipv6_for(sock, who, binds[i]);
        if (rc < 0) {
            return rc;
        }
        if (zmq_bind(sock, binds[i]) != 0) {
            int err = zmq_errno();
            diag(who, "zmq_bind(%s): %s", binds[i], zmq_strerror(err));
            return -err;
        }
        announce(sock, who, "bind", binds[i]);
    }
    for (size_t i = 0; i < nconnects; i++) {
        int rc = check_tcp_host(who, connects[i]);
        if (rc == 0) {
            rc = set_ipv6_for(sock, who, connects[i]);
        }
        if (rc < 0) {
            return rc;
        }
        if (zmq_connect(sock, connects[i]) != 0) {
            int err = zmq_errno();
            diag(who, "zmq_connect(%s): %s", connects[i], zmq_strerror(err));
            return -err;
        }
        announce(sock, who, "connect", connects[i]);
    }
    return 0;
}
