/* probe: a tiny blocking HTTP/1.1 GET client for health checks (see probe.h). */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "hostport.h"

#define WHO "probe"
/* A status line longer than this is not one a server of ours sends. */
#define STATUS_LINE_MAX 8192

int probe_parse_url(const char *url, struct probe_target *t)
{
    static const char scheme[] = "http://";
    if (strncasecmp(url, scheme, sizeof scheme - 1) != 0) {
        return -EINVAL;
    }
    const char *auth = url + sizeof scheme - 1;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    /* Userinfo is not something a health check should carry; refuse rather than leak it. */
    if (alen == 0 || memchr(auth, '@', alen) != NULL) {
        return -EINVAL;
    }
    struct hostport hp;
    if (hostport_split(auth, alen, &hp) < 0 || hp.host_len >= sizeof t->host) {
        return -EINVAL;
    }
    for (size_t i = 0; i < hp.host_len; i++) {
        unsigned char c = (unsigned char)hp.host[i];
        if (c <= 0x20 || c == 0x7F || c == '[' || c == ']') {
            return -EINVAL;
        }
    }
    int portnum = 80;
    if (hp.has_port && (hostport_port(&hp, &portnum) < 0 || portnum < 1)) {
        return -EINVAL;
    }
    /* The target is everything up to a fragment, which is never sent; "?q" alone gets "/". */
    size_t tlen = strcspn(rest, "#");
    bool slash = rest[0] != '/';
    if (tlen + slash >= sizeof t->path) {
        return -EINVAL;
    }
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)rest[i];
        if (c <= 0x20 || c == 0x7F) {
            return -EINVAL; /* would break the request line */
        }
    }
    memcpy(t->host, hp.host, hp.host_len);
    t->host[hp.host_len] = '\0';
    t->port = portnum;
    t->path[0] = '/';
    memcpy(t->path + slash, rest, tlen);
    t->path[tlen + slash] = '\0';
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0) {
            return 0;
        }
        if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

/* Formats an address as HOST:PORT or [HOST]:PORT for messages. */
static void addr_name(const struct addrinfo *ai, char *out, size_t outsz)
{
    char h[NI_MAXHOST], s[NI_MAXSERV];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, h, sizeof h, s, sizeof s,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, outsz, "?");
        return;
    }
    snprintf(out, outsz, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, s);
}

/* Connects a non-blocking socket to one address within the deadline: the fd, or -errno (not
 * reported: the caller tries the next address and reports the last failure). */
static int connect_one(const struct addrinfo *ai, long long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        return -errno;
    }
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
            goto fail;
        }
        rc = wait_fd(fd, POLLOUT, deadline);
        if (rc < 0) {
            goto fail;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
            rc = -errno;
            goto fail;
        }
        if (soerr != 0) {
            rc = -soerr;
            goto fail;
        }
    }
    return fd;
fail:
    close(fd);
    return rc;
}

/* Sends all of data within the deadline: 0 or -errno. */
static int send_all(int fd, const char *data, size_t len, long long deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n >= 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return -errno;
        }
        int rc = wait_fd(fd, POLLOUT, deadline);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* Reads until the first CRLF (the status line) within the deadline. Returns its length
 * (without CRLF); -ENODATA when the peer closed first, -EPROTO when it sent cap bytes without
 * a line end, -ETIMEDOUT, or -errno. */
static int read_status_line(int fd, char *line, size_t cap, long long deadline)
{
    size_t len = 0;
    for (;;) {
        const char *lf = memchr(line, '\n', len);
        if (lf != NULL) {
            /* A bare LF ends it too, as most clients tolerate. */
            return (int)(lf - line) - (lf > line && lf[-1] == '\r');
        }
        if (len == cap) {
            return -EPROTO;
        }
        ssize_t n = recv(fd, line + len, cap - len, 0);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0) {
            return -ENODATA;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return -errno;
        }
        int rc = wait_fd(fd, POLLIN, deadline);
        if (rc < 0) {
            return rc;
        }
    }
}

/* "HTTP/1.x NNN[ reason]": the status, or -EPROTO. */
static int parse_status_line(const char *line, size_t len)
{
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ' || (len > 12 && line[12] != ' ')) {
        return -EPROTO;
    }
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9') {
            return -EPROTO;
        }
        status = status * 10 + (line[i] - '0');
    }
    return status >= 100 && status <= 599 ? status : -EPROTO;
}

int probe_get_status(const struct probe_target *t, int timeout_ms)
{
    char port[8];
    snprintf(port, sizeof port, "%d", t->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0) {
        diag(WHO, "cannot resolve host '%s': %s", t->host,
             rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    long long deadline = now_ms() + timeout_ms;
    char where[NI_MAXHOST + 16] = "?";
    int fd = -ENOENT;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        addr_name(ai, where, sizeof where);
        fd = connect_one(ai, deadline);
        if (fd >= 0 || fd == -ETIMEDOUT) {
            break;
        }
    }
    freeaddrinfo(res);
    if (fd == -ETIMEDOUT) {
        diag(WHO, "connect %s: no answer within %d ms", where, timeout_ms);
        return fd;
    }
    if (fd < 0) {
        diag(WHO, "connect %s: %s", where, strerror(-fd));
        return fd;
    }

    /* HTTP/1.1 wants Host with brackets around an IPv6 literal; Connection: close so the
     * server does not keep the connection for a client that is about to exit. */
    char req[sizeof t->path + sizeof t->host + 128];
    int reqlen = snprintf(req, sizeof req,
                          "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUser-Agent: downcase-probe/%s\r\n"
                          "Connection: close\r\n\r\n",
                          t->path, strchr(t->host, ':') ? "[" : "", t->host,
                          strchr(t->host, ':') ? "]" : "", t->port, DOWNCASE_VERSION);
    char line[STATUS_LINE_MAX];
    rc = send_all(fd, req, (size_t)reqlen, deadline);
    if (rc < 0) {
        diag(WHO, "send to %s: %s", where, rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        goto out;
    }
    rc = read_status_line(fd, line, sizeof line, deadline);
    if (rc == -ETIMEDOUT) {
        diag(WHO, "%s: no status line within %d ms", where, timeout_ms);
        goto out;
    }
    if (rc == -ENODATA) {
        diag(WHO, "%s: connection closed before a status line", where);
        goto out;
    }
    if (rc == -EPROTO) {
        diag(WHO, "%s: reply is not HTTP/1.x (no line end in its first %d bytes)", where,
             STATUS_LINE_MAX);
        goto out;
    }
    if (rc < 0) {
        diag(WHO, "recv from %s: %s", where, strerror(-rc));
        goto out;
    }
    int status = parse_status_line(line, (size_t)rc);
    if (status < 0) {
        /* Quote the start of what came, made printable so it cannot break the line. */
        char shown[41];
        size_t n = (size_t)rc < sizeof shown - 1 ? (size_t)rc : sizeof shown - 1;
        memcpy(shown, line, n);
        diag_printable(shown, n);
        shown[n] = '\0';
        diag(WHO, "%s: reply is not HTTP/1.x (status line '%s')", where, shown);
    }
    rc = status;
out:
    close(fd);
    return rc;
}
