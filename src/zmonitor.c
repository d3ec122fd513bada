/* zmonitor: connection events of a ZeroMQ socket (why and what: zmonitor.h). */
#include "zmonitor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

/* Events read per loop turn: a reconnect storm must not starve the rest of the loop. */
#define ZMONITOR_BUDGET 64
/* Failures and refusals are a peer's to cause at will: one line per interval at most. */
#define ZMONITOR_REFUSAL_LOG_MS 10000

uint64_t zmonitor_connected(const struct zmonitor *m)
{
    return m->up > m->down ? m->up - m->down : 0;
}

/* Receives one event: 6 bytes (u16 event, u32 value, host order) then the endpoint. */
static int receive(struct zmonitor *m, uint16_t *event, uint32_t *value, char *endpoint,
                   size_t size)
{
    uint8_t head[6];
    int n = zmq_recv(m->pair.sock, head, sizeof head, ZMQ_DONTWAIT);
    if (n < 0) {
        return -zmq_errno();
    }
    *event = 0;
    *value = 0;
    if (n >= (int)sizeof head) {
        memcpy(event, head, sizeof *event);
        memcpy(value, head + sizeof *event, sizeof *value);
    }
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(m->pair.sock, ZMQ_RCVMORE, &more, &len);
    endpoint[0] = '\0';
    if (more) {
        n = zmq_recv(m->pair.sock, endpoint, size - 1, 0);
        if (n < 0) {
            return -zmq_errno();
        }
        endpoint[(size_t)n < size - 1 ? (size_t)n : size - 1] = '\0';
    }
    return 0;
}

/* libzmq's reason for a failed handshake, in words (zmq_socket_monitor(3)). */
static const char *failure(uint16_t event, uint32_t value, char *other, size_t size)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        return strerror((int)value);
    }
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "the peer does not use the same security mechanism (CURVE on one side only)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "cryptographic error (does the client have the wrong server key?)";
    default:
        snprintf(other, size, "protocol error 0x%08x", (unsigned)value);
        return other;
    }
}

/* Peers up and down, failures and refusals (zmonitor.h, zhandshake.h). */
static void count_peers(struct zmonitor *m, uint16_t event, uint32_t value, const char *endpoint)
{
    char other[64];
    switch (zhandshake_event(&m->handshakes, event, value)) {
    case ZHANDSHAKE_UP:
        m->up++;
        diag_limited(&m->up_limit, uv_now(m->loop), 100, m->who, "peer %s up (%llu connected)",
                     endpoint, (unsigned long long)zmonitor_connected(m));
        if (m->on_up) {
            m->on_up(m);
        }
        break;
    case ZHANDSHAKE_DOWN:
        m->down++;
        diag_limited(&m->down_limit, uv_now(m->loop), 100, m->who, "peer %s down (%llu connected)",
                     endpoint, (unsigned long long)zmonitor_connected(m));
        break;
    case ZHANDSHAKE_FAILED:
        /* A ZAP refusal is counted and reported by the handler, with the reason it gave. */
        if (event != ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            m->failed++;
            diag_limited(&m->fail_limit, uv_now(m->loop), ZMONITOR_REFUSAL_LOG_MS, m->who,
                         "a peer's handshake failed on %s: %s", endpoint,
                         failure(event, value, other, sizeof other));
        }
        break;
    case ZHANDSHAKE_REFUSED:
        m->refused++;
        diag_limited(&m->refuse_limit, uv_now(m->loop), ZMONITOR_REFUSAL_LOG_MS, m->who,
                     "refused a connection on %s: not a ZeroMQ 3 peer (raw bytes, an HTTP "
                     "request, ZMTP 1.0 or 2.0); nothing it sent was used",
                     endpoint);
        break;
    case ZHANDSHAKE_NONE:
        break;
    }
}

static void on_event(struct zsock *z)
{
    struct zmonitor *m = z->data;
    for (int i = 0; i < ZMONITOR_BUDGET; i++) {
        uint16_t event = 0;
        uint32_t value = 0;
        char endpoint[256];
        if (receive(m, &event, &value, endpoint, sizeof endpoint) < 0) {
            return; /* EAGAIN: drained; ETERM: stopping */
        }
        /* The endpoint came from libzmq, but a peer's address is text we print: keep it one
         * line whatever it holds. */
        diag_printable(endpoint, strlen(endpoint));
        m->cb(m, event, value, endpoint);
    }
}

int zmonitor_open(struct zmonitor *m, uv_loop_t *loop, void *zctx, void *target, const char *name,
                  const char *who)
{
    return zmonitor_open_events(
        m, loop, zctx, target, name,
        ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
            ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
        count_peers, who);
}

int zmonitor_open_events(struct zmonitor *m, uv_loop_t *loop, void *zctx, void *target,
                         const char *name, int events, zmonitor_cb cb, const char *who)
{
    memset(m, 0, sizeof *m);
    m->loop = loop;
    m->who = who;
    m->cb = cb;
    if (zmq_socket_monitor(target, name, events) != 0) {
        int err = zmq_errno();
        diag(who, "zmq_socket_monitor(%s): %s", name, zmq_strerror(err));
        return -err;
    }
    m->target = target;
    int rc = zsock_open(&m->pair, zctx, ZMQ_PAIR, "monitor PAIR", who, 0, m);
    if (rc == 0 && zmq_connect(m->pair.sock, name) != 0) {
        rc = -zmq_errno();
        diag(who, "monitor socket %s: %s", name, zmq_strerror(-rc));
    }
    if (rc == 0) {
        rc = zsock_watch(&m->pair, loop, ZMQ_POLLIN, on_event);
    }
    return rc;
}

void zmonitor_close(struct zmonitor *m, struct closer closed)
{
    if (m->target) {
        zmq_socket_monitor(m->target, NULL, 0);
        m->target = NULL;
    }
    zhandshake_finish(&m->handshakes);
    zsock_close(&m->pair, closed);
}
