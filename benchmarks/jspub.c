/* jspub: the plainest libnats JetStream publisher, the ceiling the sub's --forward is measured
 * against in scripts/bench (as zsink is for the log).
 *
 *   jspub SERVER SUBJECT COUNT [PENDING]
 *
 * Publishes COUNT messages of downcase's body ("lower case of HeLLo is hello") with
 * js_PublishMsgAsync, each with the headers the forwarder sends, of the same sizes (a
 * Nats-Msg-Id, so the server does the same duplicate bookkeeping, and Downcase-Topic,
 * -Publisher, -Sequence, -Received), at most PENDING (default 4096, --forward-pending's
 * default) unacknowledged, then waits for every acknowledgment. Prints the messages acknowledged per
 * second, from the first publish to the last acknowledgment, and exits 1 if any failed. */
#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int64_t failed;

static void on_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js, (void)pae, (void)closure;
    __atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: jspub SERVER SUBJECT COUNT [PENDING]\n");
        return 2;
    }
    long count = atol(argv[3]);
    int64_t pending = argc > 4 ? atoll(argv[4]) : 4096;
    static const char body[] = "lower case of HeLLo is hello";
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsStatus s = natsConnection_ConnectTo(&nc, argv[1]);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = pending;
    jo.PublishAsync.ErrHandler = on_error;
    jo.PublishAsync.StallWait = 10000;
    if (s == NATS_OK) {
        s = natsConnection_JetStream(&js, nc, &jo);
    }
    double t0 = now_s();
    for (long i = 0; s == NATS_OK && i < count; i++) {
        char id[48], seq[24];
        snprintf(id, sizeof id, "0123456789abcdef-%ld", i + 1);
        snprintf(seq, sizeof seq, "%ld", i + 1);
        natsMsg *m = NULL;
        s = natsMsg_Create(&m, argv[2], NULL, body, (int)sizeof body - 1);
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Received", "2026-12-01T22:26:21.860780100Z");
        }
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Publisher", "0123456789abcdef");
        }
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Sequence", seq);
        }
        if (s == NATS_OK) {
            s = natsMsgHeader_Set(m, "Downcase-Topic", "downcase");
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = id;
        if (s == NATS_OK) {
            s = js_PublishMsgAsync(js, &m, &po);
        }
        natsMsg_Destroy(m); /* NULL once the library took it */
    }
    if (s == NATS_OK) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 60000;
        s = js_PublishAsyncComplete(js, &po);
    }
    double t1 = now_s();
    int rc = 0;
    if (s != NATS_OK || failed > 0) {
        fprintf(stderr, "jspub: %s, %" PRId64 " failed (%s)\n", natsStatus_GetText(s), failed,
                nats_GetLastError(NULL));
        rc = 1;
    } else {
        printf("jspub: %ld messages acknowledged in %.3f s: %.0f msg/s\n", count, t1 - t0,
               (double)count / (t1 - t0));
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return rc;
}
