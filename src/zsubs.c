/* zsubs: manual XPUB subscriptions (zsubs.h). */
#include "zsubs.h"

#include <zmq.h>

static int apply(void *xpub, int option, const void *topic, size_t len)
{
    return zmq_setsockopt(xpub, option, topic, len) == 0 ? 0 : -zmq_errno();
}

int zsubs_handle(void *xpub, const uint8_t *msg, size_t len, struct wire_request *rq)
{
    if (len == 0 || msg[0] > 1) {
        return ZSUBS_IGNORED;
    }
    int option = msg[0] == 1 ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE;
    const uint8_t *topic = msg + 1;
    size_t tlen = len - 1;
    if (tlen >= 2 && topic[0] == WIRE_CONTROL && topic[1] == 'Q') {
        if (option == ZMQ_UNSUBSCRIBE || wire_request_decode(topic, tlen, rq) < 0) {
            return ZSUBS_IGNORED;
        }
        return ZSUBS_REQUEST;
    }
    if (tlen == 0) {
        for (int b = 1; b < 256; b++) {
            uint8_t prefix = (uint8_t)b;
            int rc = apply(xpub, option, &prefix, 1);
            if (rc < 0) {
                return rc;
            }
        }
        return ZSUBS_APPLIED;
    }
    int rc = apply(xpub, option, topic, tlen);
    return rc < 0 ? rc : ZSUBS_APPLIED;
}
