/* zsink: the plainest C subscriber, the ceiling scripts/bench compares downcase's sub with.
 *
 *   zsink ENDPOINT COUNT [FILE]
 *
 * Connects a SUB socket to ENDPOINT (subscribed to everything) and receives COUNT messages. With
 * FILE it fwrite()s the last frame of each (the text of a framed message) and a newline to it
 * through stdio's buffer, fflush()ing at the end; without FILE it discards them, which measures
 * ZeroMQ alone. Prints the rate from the first message received to the last one written, and
 * fails if 10 s pass without a message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zmq.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: zsink ENDPOINT COUNT [FILE]\n");
        return 2;
    }
    const char *endpoint = argv[1];
    char *end;
    errno = 0;
    unsigned long long count = strtoull(argv[2], &end, 10);
    if (errno != 0 || *end != '\0' || count == 0) {
        fprintf(stderr, "zsink: COUNT: not a positive number: %s\n", argv[2]);
        return 2;
    }
    FILE *out = NULL;
    if (argc == 4 && (out = fopen(argv[3], "w")) == NULL) {
        perror(argv[3]);
        return 1;
    }

    int status = 1;
    unsigned long long got = 0;
    double t0 = 0;
    void *ctx = zmq_ctx_new();
    void *sub = ctx != NULL ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    if (sub == NULL) {
        fprintf(stderr, "zsink: zmq socket: %s\n", zmq_strerror(zmq_errno()));
        goto out;
    }
    int timeout = 10000, linger = 0;
    if (zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
        zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0) {
        fprintf(stderr, "zsink: zmq_setsockopt: %s\n", zmq_strerror(zmq_errno()));
        goto out;
    }
    if (zmq_connect(sub, endpoint) != 0) {
        fprintf(stderr, "zsink: zmq_connect(%s): %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto out;
    }

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (got < count) {
        int more = 1;
        while (more) { /* keeps the last frame: the text */
            if (zmq_msg_recv(&msg, sub, 0) < 0) {
                fprintf(stderr, "zsink: zmq_msg_recv after %llu messages: %s\n", got,
                        zmq_strerror(zmq_errno()));
                zmq_msg_close(&msg);
                goto out;
            }
            more = zmq_msg_more(&msg);
        }
        if (got == 0) {
            t0 = now_s();
        }
        if (out != NULL) {
            fwrite(zmq_msg_data(&msg), 1, zmq_msg_size(&msg), out);
            fputc('\n', out);
        }
        got++;
    }
    zmq_msg_close(&msg);
    if (out != NULL && fflush(out) != 0) {
        perror(argv[3]);
        goto out;
    }
    double secs = now_s() - t0;
    /* count - 1 intervals between the first message and the last */
    printf("zsink: %llu messages, %.0f msg/s\n", got, (double)(got - 1) / secs);
    status = 0;
out:
    if (sub != NULL) {
        zmq_close(sub);
    }
    if (ctx != NULL) {
        zmq_ctx_term(ctx);
    }
    if (out != NULL && fclose(out) != 0 && status == 0) {
        perror(argv[3]);
        status = 1;
    }
    return status;
}
