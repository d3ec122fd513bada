/* zsubs: the subscriptions a publishing socket receives, in ZMQ_XPUB_MANUAL mode.
 *
 * The pub's socket and the relay's downstream socket are XPUBs that apply each subscription
 * themselves, because two kinds must not be applied as they come (wire.h):
 *   - a replay request ("\0Q...") is a question, not an interest: it is handed to the caller
 *     and never applied (the subscriber unsubscribes it at once anyway);
 *   - the empty subscription, "everything", would also match every other subscriber's inbox
 *     ("\0R..."), so each would receive every replay. It is applied as the 255 one-byte
 *     prefixes 0x01..0xFF instead: every data message (a plain text, a framed topic; neither is
 *     empty nor starts with a 0 byte), and no control message.
 * Everything else (a topic prefix, an inbox) is applied as it is. libzmq applies a manual
 * subscription to the pipe the last message was read from, so each is applied right after it
 * is read. libzmq drops a pipe's subscriptions when the pipe ends. */
#ifndef DOWNCASE_ZSUBS_H
#define DOWNCASE_ZSUBS_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

enum zsubs_kind {
    ZSUBS_APPLIED, /* a subscription or unsubscription, applied */
    ZSUBS_REQUEST, /* a replay request, decoded into *rq */
    ZSUBS_IGNORED, /* a request withdrawn, or not a subscription message */
};

/* Handles one message msg[0..len) just received on the manual XPUB: 1 subscribes, 0
 * unsubscribes, then the topic. Returns its kind, or a negative errno when applying failed. */
int zsubs_handle(void *xpub, const uint8_t *msg, size_t len, struct wire_request *rq);

#endif
