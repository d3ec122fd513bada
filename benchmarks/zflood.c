/* zflood: floods a subscriber with framed messages as fast as ZeroMQ takes them, for scripts/bench.
 *
 *   zflood ENDPOINT COUNT [TEXT]
 *
 * Binds an XPUB socket on ENDPOINT and waits (10 s at most) for the first subscription, so no
 * message is lost to a slow joiner. Then offers COUNT messages in downcase's framed layout
 * (src/wire.h: topic "downcase", 16-byte header of an 8-byte id and a big-endian sequence from
 * 1, the text) into an unlimited send queue (no SNDHWM), with ZMQ_XPUB_NODROP so that, should a
 * queue ever be full, a message is retried after a short sleep, never dropped: the receiver sees
 * exactly COUNT messages, as fast as it can take them. Prints what it offered and how often it
 * had to wait. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define TOPIC "downcase"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set_int(void *sock, int opt, int value, const char *name)
{
    if (zmq_setsockopt(sock, opt, &value, sizeof value) != 0) {
        fprintf(stderr, "zflood: zmq_setsockopt(%s): %s\n", name, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* Sends one frame, retrying while the subscriber's queue is full (EAGAIN under NODROP). */
static int send_frame(void *sock, const void *data, size_t len, int more, unsigned long *waits)
{
    const struct timespec pause = {0, 20000};
    for (;;) {
        if (zmq_send(sock, data, len, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) >= 0) {
            return 0;
        }
        if (zmq_errno() != EAGAIN) {
            fprintf(stderr, "zflood: zmq_send: %s\n", zmq_strerror(zmq_errno()));
            return -1;
        }
        ++*waits;
        nanosleep(&pause, NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: zflood ENDPOINT COUNT [TEXT]\n");
        return 2;
    }
    const char *endpoint = argv[1];
    char *end;
    errno = 0;
    unsigned long long count = strtoull(argv[2], &end, 10);
    if (errno != 0 || *end != '\0' || count == 0) {
        fprintf(stderr, "zflood: COUNT: not a positive number: %s\n", argv[2]);
        return 2;
    }
    const char *text = argc == 4 ? argv[3] : "lower case of HeLLo is hello";
    size_t text_len = strlen(text);

    int status = 1;
    void *ctx = zmq_ctx_new();
    if (ctx == NULL) {
        fprintf(stderr, "zflood: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    void *pub = zmq_socket(ctx, ZMQ_XPUB);
    if (pub == NULL) {
        fprintf(stderr, "zflood: zmq_socket(ZMQ_XPUB): %s\n", zmq_strerror(zmq_errno()));
        goto out_ctx;
    }
    /* LINGER bounds the final flush: a receiver that died must not hang the benchmark. */
    /* No send high-water mark: zmq_send queues everything at once, so the receiver, not this
     * thread, sets the pace, and what is measured is how fast the receiver drains the stream. */
    if (set_int(pub, ZMQ_XPUB_NODROP, 1, "ZMQ_XPUB_NODROP") != 0 ||
        set_int(pub, ZMQ_SNDHWM, 0, "ZMQ_SNDHWM") != 0 ||
        set_int(pub, ZMQ_LINGER, 30000, "ZMQ_LINGER") != 0 ||
        set_int(pub, ZMQ_RCVTIMEO, 10000, "ZMQ_RCVTIMEO") != 0) {
        goto out_sock;
    }
    if (zmq_bind(pub, endpoint) != 0) {
        fprintf(stderr, "zflood: zmq_bind(%s): %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto out_sock;
    }
    char sub_msg[256];
    if (zmq_recv(pub, sub_msg, sizeof sub_msg, 0) < 0) {
        fprintf(stderr, "zflood: no subscriber on %s within 10 s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        goto out_sock;
    }

    uint8_t header[16];
    for (int i = 0; i < 8; i++) {
        header[i] = (uint8_t)(0xb0 + i); /* a fixed publisher id: one flood, one publisher */
    }
    unsigned long waits = 0;
    double t0 = now_s();
    for (unsigned long long seq = 1; seq <= count; seq++) {
        for (int i = 0; i < 8; i++) {
            header[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
        }
        /* Only the first frame can be refused: once it is queued, ZeroMQ takes the rest. */
        if (send_frame(pub, TOPIC, strlen(TOPIC), 1, &waits) != 0 ||
            send_frame(pub, header, sizeof header, 1, &waits) != 0 ||
            send_frame(pub, text, text_len, 0, &waits) != 0) {
            goto out_sock;
        }
    }
    double secs = now_s() - t0;
    printf("zflood: offered %llu messages in %.3f s (%.0f msg/s), waited %lu times for a full "
           "queue\n",
           count, secs, (double)count / secs, waits);
    status = 0;
out_sock:
    zmq_close(pub);
out_ctx:
    zmq_ctx_term(ctx);
    return status;
}
