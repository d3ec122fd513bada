/* hclient: the small HTTP clients scripts/bench needs where wrk does not fit.
 *
 *   hclient hold HOST PORT COUNT         open COUNT keep-alive connections, each with one request
 *                                        answered, print "ready COUNT", then hold them until
 *                                        SIGTERM (or 300 s): the memory measurement
 *   hclient requests HOST PORT COUNT [CONNS]
 *                                        COUNT requests over CONNS keep-alive connections (one
 *                                        in flight each), a fixed amount of work for callgrind
 *   hclient start HOST PORT -- CMD ARG...
 *                                        run CMD, retry connecting until it answers a request,
 *                                        print the microseconds from fork to that answer, then
 *                                        SIGTERM CMD and wait for it (start-up time)
 *
 * Every request is GET /downcase/?param=HeLLo; an answer is complete when its Content-Length
 * bytes of body have arrived. Exits 1 on any error or on an answer other than 200; `start` exits
 * 3 when CMD answered but did not exit 0 on SIGTERM (the time it printed still holds). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char request[] = "GET /downcase/?param=HeLLo HTTP/1.1\r\nHost: bench\r\n\r\n";

struct conn {
    int fd;
    size_t len;
    char buf[2048];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long parse_count(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || n == 0) {
        fprintf(stderr, "hclient: %s: not a positive number: %s\n", what, s);
        exit(2);
    }
    return n;
}

/* Returns a connected socket, or -errno (ECONNREFUSED while the server is not up yet). */
static int dial(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "hclient: not an IPv4 address: %s\n", host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_request(struct conn *c)
{
    if (write(c->fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) {
        perror("hclient: write");
        return -1;
    }
    return 0;
}

/* Reads what has arrived. Returns the status of a complete answer (removed from the buffer), 0
 * when the answer is still incomplete, -1 on error or end of stream. */
static int read_answer(struct conn *c)
{
    ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
    if (n <= 0) {
        fprintf(stderr, "hclient: read: %s\n", n == 0 ? "connection closed" : strerror(errno));
        return -1;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *head_end = strstr(c->buf, "\r\n\r\n");
    if (head_end == NULL) {
        return 0;
    }
    size_t body = 0;
    for (char *h = strstr(c->buf, "\r\n"); h != NULL && h < head_end; h = strstr(h + 2, "\r\n")) {
        if (strncasecmp(h + 2, "Content-Length:", 15) == 0) {
            body = strtoul(h + 17, NULL, 10);
        }
    }
    size_t total = (size_t)(head_end + 4 - c->buf) + body;
    if (c->len < total) {
        return 0;
    }
    int status = c->len > 12 ? atoi(c->buf + 9) : -1;
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    return status;
}

/* One request on a blocking socket, waiting for its whole answer. */
static int request_once(struct conn *c)
{
    if (send_request(c) != 0) {
        return -1;
    }
    int st;
    while ((st = read_answer(c)) == 0) {
    }
    return st;
}

static void on_term(int sig)
{
    (void)sig;
}

static int cmd_hold(const char *host, int port, unsigned long count)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        perror("hclient: calloc");
        return 1;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    for (unsigned long i = 0; i < count; i++) {
        c->len = 0;
        c->fd = dial(host, port);
        if (c->fd < 0) {
            fprintf(stderr, "hclient: connect %s:%d (connection %lu): %s\n", host, port, i + 1,
                    strerror(-c->fd));
            return 1;
        }
        int st = request_once(c);
        if (st != 200) {
            fprintf(stderr, "hclient: connection %lu: answer %d\n", i + 1, st);
            return 1;
        }
        /* the descriptor stays open on purpose: the connection is held until we exit */
    }
    printf("ready %lu\n", count);
    fflush(stdout);
    alarm(300); /* never outlive a benchmark that forgot us */
    pause();
    free(c);
    return 0;
}

static int cmd_requests(const char *host, int port, unsigned long count, unsigned long nconns)
{
    struct conn *conns = calloc(nconns, sizeof *conns);
    struct pollfd *pfds = calloc(nconns, sizeof *pfds);
    int status = 1;
    if (conns == NULL || pfds == NULL) {
        perror("hclient: calloc");
        goto out;
    }
    unsigned long sent = 0, answered = 0;
    for (unsigned long i = 0; i < nconns; i++) {
        conns[i].fd = dial(host, port);
        if (conns[i].fd < 0) {
            fprintf(stderr, "hclient: connect %s:%d: %s\n", host, port, strerror(-conns[i].fd));
            goto out;
        }
        pfds[i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (sent < count) {
            if (send_request(&conns[i]) != 0) {
                goto out;
            }
            sent++;
        }
    }
    double t0 = now_s();
    while (answered < count) {
        int n = poll(pfds, nconns, 10000);
        if (n <= 0) {
            fprintf(stderr, "hclient: poll: %s\n", n == 0 ? "no answer in 10 s" : strerror(errno));
            goto out;
        }
        for (unsigned long i = 0; i < nconns; i++) {
            if (pfds[i].revents == 0) {
                continue;
            }
            int st = read_answer(&conns[i]);
            if (st == 0) {
                continue;
            }
            if (st != 200) {
                fprintf(stderr, "hclient: answer %d after %lu answers\n", st, answered);
                goto out;
            }
            answered++;
            if (sent < count) {
                if (send_request(&conns[i]) != 0) {
                    goto out;
                }
                sent++;
            }
        }
    }
    double secs = now_s() - t0;
    printf("hclient: %lu answers over %lu connections in %.3f s\n", answered, nconns, secs);
    status = 0;
out:
    if (conns != NULL) {
        for (unsigned long i = 0; i < nconns; i++) {
            if (conns[i].fd > 0) {
                close(conns[i].fd);
            }
        }
    }
    free(conns);
    free(pfds);
    return status;
}

static int cmd_start(const char *host, int port, char **argv)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        perror("hclient: fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "hclient: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status = 1;
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        perror("hclient: calloc");
        goto out;
    }
    /* Refused connections are answered at once on loopback, so this spins: it runs on the
     * other core than the server. Bounded by 5 s. */
    for (;;) {
        c->fd = dial(host, port);
        if (c->fd >= 0) {
            break;
        }
        if (c->fd != -ECONNREFUSED || now_s() - t0 > 5.0) {
            fprintf(stderr, "hclient: connect %s:%d: %s\n", host, port, strerror(-c->fd));
            goto out;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "hclient: %s exited before answering\n", argv[0]);
            pid = -1;
            goto out;
        }
    }
    int st = request_once(c);
    double secs = now_s() - t0;
    close(c->fd);
    if (st != 200) {
        fprintf(stderr, "hclient: first answer %d\n", st);
        goto out;
    }
    printf("%.0f\n", secs * 1e6);
    status = 0;
out:
    free(c);
    if (pid > 0) {
        int ws;
        kill(pid, SIGTERM);
        if (waitpid(pid, &ws, 0) == pid && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) {
            if (WIFSIGNALED(ws)) {
                fprintf(stderr, "hclient: %s killed by signal %d after SIGTERM\n", argv[0],
                        WTERMSIG(ws));
            } else {
                fprintf(stderr, "hclient: %s exited %d after SIGTERM\n", argv[0],
                        WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
            }
            status = 3; /* distinct: the time printed is valid, the stop was not clean */
        }
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "hold") == 0) {
        return cmd_hold(argv[2], atoi(argv[3]), parse_count(argv[4], "COUNT"));
    }
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "requests") == 0) {
        unsigned long conns = argc == 6 ? parse_count(argv[5], "CONNS") : 1;
        return cmd_requests(argv[2], atoi(argv[3]), parse_count(argv[4], "COUNT"), conns);
    }
    if (argc >= 6 && strcmp(argv[1], "start") == 0 && strcmp(argv[4], "--") == 0) {
        return cmd_start(argv[2], atoi(argv[3]), argv + 5);
    }
    fprintf(stderr, "usage: hclient hold HOST PORT COUNT\n"
                    "       hclient requests HOST PORT COUNT [CONNS]\n"
                    "       hclient start HOST PORT -- CMD ARG...\n");
    return 2;
}
