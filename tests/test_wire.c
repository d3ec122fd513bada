/* Unit tests for wire: the header layout, frame-count dispatch, and the publisher id in hex. */
#include "wire.h"
#include "check.h"

#include <errno.h>

static const uint8_t id[WIRE_ID_LEN] = {0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x7F, 0x80};

/* The header is the id, then the sequence number big-endian, whatever the host's order. */
static void test_header_layout(void)
{
    static const struct {
        uint64_t seq;
        uint8_t bytes[8];
    } cases[] = {
        {0, {0, 0, 0, 0, 0, 0, 0, 0}},
        {1, {0, 0, 0, 0, 0, 0, 0, 1}},
        {255, {0, 0, 0, 0, 0, 0, 0, 0xFF}},
        {256, {0, 0, 0, 0, 0, 0, 1, 0}},
        {UINT64_C(1) << 32, {0, 0, 0, 1, 0, 0, 0, 0}},
        {UINT64_C(0x0102030405060708), {1, 2, 3, 4, 5, 6, 7, 8}},
        {UINT64_C(0x8000000000000000), {0x80, 0, 0, 0, 0, 0, 0, 0}},
        {UINT64_MAX, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t h[WIRE_HEADER_LEN + 1];
        memset(h, 0xAA, sizeof h);
        wire_header_encode(h, id, cases[i].seq);
        CHECK(memcmp(h, id, WIRE_ID_LEN) == 0);
        CHECK(memcmp(h + WIRE_ID_LEN, cases[i].bytes, 8) == 0);
        CHECK(h[WIRE_HEADER_LEN] == 0xAA); /* nothing written past the 16 bytes */

        /* And back: a framed message carrying this header gives the same id and number. */
        const void *frames[3] = {"topic", h, "text"};
        size_t lens[3] = {5, WIRE_HEADER_LEN, 4};
        struct wire_msg m;
        CHECK(wire_decode(frames, lens, 3, &m) == 0);
        CHECK(m.kind == WIRE_FRAMED);
        CHECK(m.seq == cases[i].seq);
        CHECK(memcmp(m.publisher, id, WIRE_ID_LEN) == 0);
    }
}

/* Round trip over many sequence numbers and ids, each byte of both in play. */
static void test_round_trip(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    int bad = 0;
    for (int n = 0; n < 10000; n++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t seq = n < 64 ? UINT64_C(1) << n : x;
        uint8_t pid[WIRE_ID_LEN];
        for (int k = 0; k < WIRE_ID_LEN; k++) {
            pid[k] = (uint8_t)((x >> (8 * k)) ^ (uint64_t)n);
        }
        uint8_t h[WIRE_HEADER_LEN];
        wire_header_encode(h, pid, seq);
        const void *frames[3] = {"", h, ""};
        size_t lens[3] = {0, WIRE_HEADER_LEN, 0};
        struct wire_msg m;
        if (wire_decode(frames, lens, 3, &m) != 0 || m.seq != seq ||
            memcmp(m.publisher, pid, WIRE_ID_LEN) != 0 || h[8] != (uint8_t)(seq >> 56) ||
            h[15] != (uint8_t)seq) {
            bad++;
        }
    }
    CHECK(bad == 0);
}

static void test_decode(void)
{
    static const char topic[] = "downcase";
    static const char text[] = "hello";
    uint8_t h[WIRE_HEADER_LEN + 1];
    wire_header_encode(h, id, 42);
    h[WIRE_HEADER_LEN] = 0;

    /* One frame: plain, the frame is the text (even an empty one). */
    struct wire_msg m;
    const void *one[1] = {text};
    size_t one_len[1] = {5};
    CHECK(wire_decode(one, one_len, 1, &m) == 0);
    CHECK(m.kind == WIRE_PLAIN);
    CHECK(m.text == text && m.text_len == 5);
    CHECK(m.topic == NULL && m.topic_len == 0 && m.seq == 0);
    one_len[0] = 0;
    CHECK(wire_decode(one, one_len, 1, &m) == 0);
    CHECK(m.kind == WIRE_PLAIN && m.text == text && m.text_len == 0);
    /* A plain text of exactly 16 bytes is still plain: only the frame count decides. */
    const void *sixteen[1] = {h};
    size_t sixteen_len[1] = {WIRE_HEADER_LEN};
    CHECK(wire_decode(sixteen, sixteen_len, 1, &m) == 0);
    CHECK(m.kind == WIRE_PLAIN && m.text_len == WIRE_HEADER_LEN);

    /* Three frames with a 16-byte header: framed; pointers are the caller's frames. */
    const void *three[3] = {topic, h, text};
    size_t three_len[3] = {8, WIRE_HEADER_LEN, 5};
    CHECK(wire_decode(three, three_len, 3, &m) == 0);
    CHECK(m.kind == WIRE_FRAMED);
    CHECK(m.topic == topic && m.topic_len == 8);
    CHECK(m.text == text && m.text_len == 5);
    CHECK(m.seq == 42);
    CHECK(memcmp(m.publisher, id, WIRE_ID_LEN) == 0);
    three_len[0] = 0;
    three_len[2] = 0;
    CHECK(wire_decode(three, three_len, 3, &m) == 0);
    CHECK(m.kind == WIRE_FRAMED && m.topic_len == 0 && m.text_len == 0 && m.seq == 42);

    /* Anything else is neither layout. */
    static const struct {
        size_t n;
        size_t header_len;
    } bad[] = {
        {0, WIRE_HEADER_LEN},
        {2, WIRE_HEADER_LEN},
        {4, WIRE_HEADER_LEN},
        {5, WIRE_HEADER_LEN},
        {3, 0},
        {3, 8},
        {3, WIRE_HEADER_LEN - 1},
        {3, WIRE_HEADER_LEN + 1},
    };
    const void *frames[5] = {topic, h, text, text, text};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t lens[5] = {8, bad[i].header_len, 5, 5, 5};
        CHECK(wire_decode(frames, lens, bad[i].n, &m) == -EPROTO);
    }
}

static void test_id_hex(void)
{
    static const struct {
        uint8_t id[WIRE_ID_LEN];
        const char *hex;
    } cases[] = {
        {{0, 0, 0, 0, 0, 0, 0, 0}, "0000000000000000"},
        {{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF}, "0123456789abcdef"},
        {{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, "ffffffffffffffff"},
        {{0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x7F, 0x80}, "deadbeef00017f80"},
        {{0x0A, 0xB0, 0x09, 0x90, 0x10, 0x01, 0xF0, 0x0F}, "0ab009901001f00f"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[2 * WIRE_ID_LEN + 2];
        memset(out, 'Z', sizeof out);
        wire_id_hex(cases[i].id, out);
        CHECK(out[2 * WIRE_ID_LEN] == '\0');
        CHECK(strcmp(out, cases[i].hex) == 0);
        CHECK(out[2 * WIRE_ID_LEN + 1] == 'Z');
        uint8_t back[WIRE_ID_LEN];
        CHECK(wire_id_parse(cases[i].hex, back) && memcmp(back, cases[i].id, WIRE_ID_LEN) == 0);
    }
}

/* The parser reads exactly 16 digits from a buffer that need not end in NUL, and anything that is
 * not a digit (a sign, a space, a 0x, a short id) leaves the id as it was. */
static void test_id_parse(void)
{
    uint8_t got[WIRE_ID_LEN];
    const char raw[16] = {'D', 'E', 'A', 'D', 'b', 'e', 'e', 'f',
                          '0', '0', '0', '1', '7', 'F', '8', '0'};
    CHECK(wire_id_parse(raw, got));
    CHECK(got[0] == 0xDE && got[3] == 0xEF && got[6] == 0x7F && got[7] == 0x80);
    static const char *bad[] = {
        "deadbeef0001 f80", "+eadbeef00017f80", "0xadbeef00017f80", "deadbeef00017f8",
        "deadbeef00017fg0", " deadbeef00017f8", "deadbeef-0017f80", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(got, 0x5A, sizeof got);
        CHECK(!wire_id_parse(bad[i], got));
        CHECK(got[0] == 0x5A && got[7] == 0x5A);
    }
}

/* Replay's control messages: requests round-trip, inbox messages decode by kind, and anything
 * else in the 0-byte topic space is malformed (so no data message can pose as control). */
static void test_control(void)
{
    struct wire_request rq = {.from = 0x0102030405060708ull, .count = 65536, .nonce = 7};
    memcpy(rq.subscriber, "SUBSCRIB", WIRE_ID_LEN);
    memcpy(rq.publisher, id, WIRE_ID_LEN);
    uint8_t t[WIRE_REQUEST_LEN];
    wire_request_encode(t, &rq);
    CHECK(t[0] == 0 && t[1] == 'Q');
    struct wire_request back;
    CHECK(wire_request_decode(t, sizeof t, &back) == 0);
    CHECK(memcmp(&back, &rq, sizeof rq) == 0);
    CHECK(wire_request_decode(t, sizeof t - 1, &back) == -EPROTO);
    t[1] = 'R';
    CHECK(wire_request_decode(t, sizeof t, &back) == -EPROTO);

    uint8_t topic[WIRE_INBOX_TOPIC_LEN], header[WIRE_HEADER_LEN], body[WIRE_STATUS_LEN];
    wire_inbox_topic(topic, rq.subscriber, 'E');
    wire_header_encode(header, id, 42);
    wire_status_encode(body, &(struct wire_status){.oldest = 5, .head = 41, .nonce = 7});
    const void *frames[3] = {topic, header, body};
    size_t lens[3] = {sizeof topic, sizeof header, sizeof body};
    struct wire_msg m;
    CHECK(wire_decode(frames, lens, 3, &m) == 0 && m.kind == WIRE_STATUS && m.seq == 42);
    CHECK(wire_is_for(&m, rq.subscriber) && !wire_is_for(&m, id));
    struct wire_status st;
    CHECK(wire_status_decode(&m, &st) == 0 && st.next == 42 && st.oldest == 5 && st.head == 41 &&
          st.nonce == 7);
    topic[WIRE_INBOX_LEN] = 'B';
    CHECK(wire_decode(frames, lens, 3, &m) == 0 && m.kind == WIRE_BATCH);
    CHECK(wire_status_decode(&m, &st) == -EPROTO);
    topic[WIRE_INBOX_LEN] = 'X';
    CHECK(wire_decode(frames, lens, 3, &m) == -EPROTO);
    lens[0] = 1; /* a lone 0 byte */
    CHECK(wire_decode(frames, lens, 3, &m) == -EPROTO);
    const void *head[3] = {WIRE_HEAD_TOPIC, header, ""};
    size_t head_lens[3] = {WIRE_HEAD_TOPIC_LEN, sizeof header, 0};
    CHECK(wire_decode(head, head_lens, 3, &m) == 0 && m.kind == WIRE_HEAD && m.seq == 42);

    /* Records: what is put comes back; a truncated payload is malformed, never overread. */
    uint8_t payload[64];
    size_t len = wire_record_put(payload, "tp", 2, "hello", 5);
    len += wire_record_put(payload + len, "", 0, "", 0);
    struct wire_msg b = {.kind = WIRE_BATCH, .text = (const char *)payload, .text_len = len};
    size_t pos = 0;
    const char *tp, *tx;
    size_t tl, xl;
    CHECK(wire_record_next(&b, &pos, &tp, &tl, &tx, &xl) == 1);
    CHECK_MEM_STR(tp, tl, "tp");
    CHECK_MEM_STR(tx, xl, "hello");
    CHECK(wire_record_next(&b, &pos, &tp, &tl, &tx, &xl) == 1 && tl == 0 && xl == 0);
    CHECK(wire_record_next(&b, &pos, &tp, &tl, &tx, &xl) == 0);
    for (size_t cut = 1; cut < len; cut++) {
        struct wire_msg c = {.kind = WIRE_BATCH, .text = (const char *)payload, .text_len = cut};
        size_t at = 0;
        int rc;
        while ((rc = wire_record_next(&c, &at, &tp, &tl, &tx, &xl)) == 1) {
        }
        CHECK(rc == -EPROTO || (rc == 0 && at == cut));
    }
}

int main(void)
{
    test_control();
    test_header_layout();
    test_round_trip();
    test_decode();
    test_id_hex();
    test_id_parse();
    return CHECK_DONE();
}
