/* Unit tests for zhandshake: sequences of monitor events as libzmq 4.3.4 emits them (fd in
 * ACCEPTED, CONNECTED and DISCONNECTED; none in the handshake events), and what each means. */
#include "check.h"
#include "zhandshake.h"

#include <zmq.h>

enum {
    N = ZHANDSHAKE_NONE,
    UP = ZHANDSHAKE_UP,
    DN = ZHANDSHAKE_DOWN,
    F = ZHANDSHAKE_FAILED,
    R = ZHANDSHAKE_REFUSED
};
enum {
    ACC = ZMQ_EVENT_ACCEPTED,
    CON = ZMQ_EVENT_CONNECTED,
    OK = ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
    FP = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
    FN = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL,
    FA = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
    DIS = ZMQ_EVENT_DISCONNECTED
};

struct step {
    uint16_t event;
    uint32_t value;
    int want;
};

/* Feeds steps in order; every outcome must be the one wanted. */
static void run(const char *name, const struct step *steps, size_t n)
{
    struct zhandshake h = {0};
    for (size_t i = 0; i < n; i++) {
        int got = (int)zhandshake_event(&h, steps[i].event, steps[i].value);
        if (got != steps[i].want) {
            fprintf(stderr, "%s: step %zu (event 0x%x, value %u): got %d, want %d\n", name, i,
                    steps[i].event, steps[i].value, got, steps[i].want);
        }
        CHECK(got == steps[i].want);
    }
    zhandshake_finish(&h);
}

#define RUN(name, ...)                                                                             \
    do {                                                                                           \
        const struct step s_[] = {__VA_ARGS__};                                                    \
        run(name, s_, sizeof s_ / sizeof s_[0]);                                                   \
    } while (0)

static void test_sequences(void)
{
    RUN("a peer up, then down", {ACC, 5, N}, {OK, 0, UP}, {DIS, 5, DN});
    RUN("an outgoing connection is the same", {CON, 7, N}, {OK, 0, UP}, {DIS, 7, DN});
    RUN("refused: closed with no event (ZMTP 1.0, HTTP, garbage)", {ACC, 6, N}, {DIS, 6, R});
    RUN("a failure with its reason, then its disconnect", {ACC, 7, N}, {FP, 0x11000001, F},
        {DIS, 7, N});
    RUN("a ZAP refusal and a peer hanging up half-way are failures too", {ACC, 7, N}, {FA, 400, F},
        {DIS, 7, N}, {ACC, 8, N}, {FN, 104, F}, {DIS, 8, N});
    RUN("refusals around a connected peer", {ACC, 5, N}, {OK, 0, UP}, {ACC, 6, N}, {DIS, 6, R},
        {ACC, 6, N}, {ACC, 8, N}, {DIS, 8, R}, {DIS, 6, R}, {DIS, 5, DN});
    RUN("overlapping: the refused one closes first", {ACC, 5, N}, {ACC, 6, N}, {OK, 0, UP},
        {DIS, 6, R}, {DIS, 5, DN});
    RUN("overlapping: two successes with a refusal between", {ACC, 5, N}, {ACC, 6, N}, {ACC, 9, N},
        {OK, 0, UP}, {DIS, 6, R}, {OK, 0, UP}, {DIS, 9, DN}, {DIS, 5, DN});
    RUN("a failure among pending connections", {ACC, 5, N}, {ACC, 6, N}, {FP, 1, F}, {DIS, 6, N},
        {OK, 0, UP}, {DIS, 5, DN});
    RUN("an fd reused after its close", {ACC, 5, N}, {DIS, 5, R}, {ACC, 5, N}, {OK, 0, UP},
        {DIS, 5, DN}, {ACC, 5, N}, {DIS, 5, R});
    RUN("a connection from before the monitor: its end is a peer down", {DIS, 9, DN});
    RUN("a success with nothing pending is still a peer up", {OK, 0, UP}, {DIS, 9, DN});
    RUN("other events mean nothing", {ZMQ_EVENT_LISTENING, 4, N}, {ZMQ_EVENT_CLOSED, 4, N},
        {ZMQ_EVENT_CONNECT_DELAYED, 0, N}, {ZMQ_EVENT_CONNECT_RETRIED, 100, N});
    RUN("an fd past the bound stays unknown", {ACC, 1u << 30, N}, {OK, 0, UP}, {DIS, 1u << 30, DN});
    /* The limit zhandshake.h owns up to: a peer up for a moment, closing while another is
     * still pending, is taken for refused, and the pending one for up. The peer count still
     * comes back to zero (one up, one down). */
    RUN("the documented miscount", {ACC, 5, N}, {ACC, 6, N}, {OK, 0, UP}, {DIS, 5, R}, {FN, 110, F},
        {DIS, 6, DN});
}

/* A flood of refused connections, interleaved, around a peer that stays up: every one is
 * counted as refused and the peer's end as down. */
static void test_flood(void)
{
    struct zhandshake h = {0};
    unsigned up = 0, down = 0, refused = 0, other = 0;
    uint16_t ev[] = {ACC, OK};
    uint32_t val[] = {3, 0};
    for (int i = 0; i < 2; i++) {
        up += zhandshake_event(&h, ev[i], val[i]) == ZHANDSHAKE_UP;
    }
    for (uint32_t round = 0; round < 50; round++) {
        for (uint32_t fd = 10; fd < 200; fd++) {
            other += zhandshake_event(&h, ZMQ_EVENT_ACCEPTED, fd) != ZHANDSHAKE_NONE;
        }
        for (uint32_t fd = 199; fd >= 10; fd--) {
            refused += zhandshake_event(&h, ZMQ_EVENT_DISCONNECTED, fd) == ZHANDSHAKE_REFUSED;
        }
    }
    down += zhandshake_event(&h, ZMQ_EVENT_DISCONNECTED, 3) == ZHANDSHAKE_DOWN;
    CHECK(up == 1 && down == 1 && other == 0);
    CHECK(refused == 50 * 190);
    CHECK(h.pending == 0 && h.unplaced == 0 && h.failing == 0);
    zhandshake_finish(&h);
    CHECK(h.state == NULL && h.cap == 0);
    zhandshake_finish(&h); /* twice is harmless */
}

int main(void)
{
    test_sequences();
    test_flood();
    return CHECK_DONE();
}
