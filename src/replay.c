/* replay: answering replay requests (replay.h). */
#include "replay.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

static int send3(void *sock, const void *topic, size_t tl, const uint8_t *header, const void *body,
                 size_t bl)
{
    if (zmq_send(sock, topic, tl, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, header, WIRE_HEADER_LEN, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, body, bl, ZMQ_DONTWAIT) < 0) {
        return -zmq_errno();
    }
    return 0;
}

static int send_status(void *sock, const struct wire_request *rq, uint64_t next, uint64_t oldest,
                       uint64_t head)
{
    uint8_t topic[WIRE_INBOX_TOPIC_LEN];
    uint8_t header[WIRE_HEADER_LEN];
    uint8_t body[WIRE_STATUS_LEN];
    wire_inbox_topic(topic, rq->subscriber, 'E');
    wire_header_encode(header, rq->publisher, next);
    wire_status_encode(body, &(struct wire_status){
                                 .next = next, .oldest = oldest, .head = head, .nonce = rq->nonce});
    return send3(sock, topic, sizeof topic, header, body, sizeof body);
}

int replay_answer_none(void *sock, const struct wire_request *rq, uint64_t head)
{
    /* Nothing held: oldest past newest. */
    return send_status(sock, rq, head + 1, head + 1, head);
}

int replay_answer(void *sock, const struct replay_source *src, const struct wire_request *rq,
                  struct buf *scratch, struct replay_stats *st)
{
    uint64_t oldest, newest;
    if (!src->range(src->ctx, rq->publisher, &oldest, &newest)) {
        return -ENOENT;
    }
    uint64_t from = rq->from;
    if (!src->origin && (from < oldest || from > newest)) {
        return -ENOENT; /* older than what this relay saw, or newer: ask upstream */
    }
    uint64_t left = rq->count < REPLAY_MAX_COUNT ? rq->count : REPLAY_MAX_COUNT;
    uint8_t topic[WIRE_INBOX_TOPIC_LEN];
    wire_inbox_topic(topic, rq->subscriber, 'B');
    int rc = 0;
    if (from >= oldest && from <= newest) {
        while (left > 0 && from <= newest) {
            scratch->len = 0;
            size_t n =
                src->copy(src->ctx, rq->publisher, from, (size_t)left, REPLAY_BATCH_BYTES, scratch);
            if (n == 0) {
                if (from != rq->from) {
                    break;
                }
                if (!src->origin || src->next_held == NULL) {
                    return -ENOENT; /* a hole here: someone upstream may hold it */
                }
                /* A hole (damage): what follows it is the oldest this subscriber can have. */
                uint64_t held = src->next_held(src->ctx, from);
                uint64_t after = held ? held : newest + 1;
                st->requests++;
                return send_status(sock, rq, after, after, newest);
            }
            uint8_t header[WIRE_HEADER_LEN];
            wire_header_encode(header, rq->publisher, from);
            rc = send3(sock, topic, sizeof topic, header, scratch->data, scratch->len);
            if (rc < 0) {
                st->send_errors++;
                break; /* the subscriber sees the hole and asks again */
            }
            st->batches++;
            st->messages += n;
            from += n;
            left -= n;
        }
    }
    /* From before the oldest held: the subscriber learns what is gone (oldest) and asks again
     * from there; past the newest: it is caught up. */
    uint64_t next = from < oldest ? oldest : from;
    st->requests++;
    int src2 = send_status(sock, rq, next, oldest, newest);
    return rc < 0 ? rc : src2;
}
