/* Unit tests for stream: the PUBLISHER:SEQ ids (a table), and the window: bounded in bytes,
 * oldest events out first, every event numbered. Viewers are tested on real connections in
 * tests/integration/test_stream.py. */
#include "stream.h"
#include "check.h"

#include <string.h>

static void test_ids(void)
{
    static const struct {
        const char *text;
        int ok;
        uint64_t seq;
    } cases[] = {
        {"0123456789abcdef:42", 1, 42},
        {"0123456789abcdef:0", 1, 0},
        {"ffffffffffffffff:18446744073709551615", 1, UINT64_MAX},
        {"ffffffffffffffff:18446744073709551616", 0, 0}, /* past 64 bits */
        {"0123456789ABCDEF:1", 0, 0},                    /* ids are lowercase hex */
        {"0123456789abcde:1", 0, 0},
        {"0123456789abcdef0:1", 0, 0},
        {"0123456789abcdef:", 0, 0},
        {"0123456789abcdef:-1", 0, 0},
        {"0123456789abcdef:1 ", 0, 0},
        {"0123456789abcdef;1", 0, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t id[WIRE_ID_LEN];
        uint64_t seq = 7;
        int rc = stream_parse_id(cases[i].text, strlen(cases[i].text), id, &seq);
        CHECK((rc == 0) == cases[i].ok);
        if (cases[i].ok) {
            CHECK(seq == cases[i].seq);
        }
    }
    uint8_t id[WIRE_ID_LEN];
    uint64_t seq;
    CHECK(stream_parse_id("0123456789abcdef:5", 18, id, &seq) == 0);
    static const uint8_t want[WIRE_ID_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    CHECK(memcmp(id, want, WIRE_ID_LEN) == 0);
}

static void test_window(void)
{
    struct stream s;
    const struct stream_config cfg = {
        .buffer_bytes = 4096, .lag_bytes = 1024, .keepalive_ms = 1000};
    struct token access = {.loopback = true};
    stream_init(&s, NULL, &cfg, &access);
    struct timespec now = {.tv_sec = 1700000000, .tv_nsec = 5000000};
    char text[200];
    memset(text, 'x', sizeof text);
    struct wire_msg m = {
        .kind = WIRE_FRAMED,
        .topic = "t",
        .topic_len = 1,
        .publisher = {1, 2, 3, 4, 5, 6, 7, 8},
        .text = text,
        .text_len = sizeof text,
    };
    for (uint64_t i = 1; i <= 100; i++) {
        m.seq = i;
        stream_message(&s, &m, &now);
        CHECK(s.bytes <= cfg.buffer_bytes);
        CHECK(s.next == i);
        CHECK(s.first + s.count == s.next);
    }
    CHECK(s.count > 3 && s.count < 20);
    CHECK(s.first == 100 - s.count);
    stream_gap(&s, m.publisher, 9, &now);
    CHECK(s.next == 101 && s.bytes <= cfg.buffer_bytes);
    /* One event larger than the whole window still stays, alone. */
    char big[8000];
    memset(big, 'y', sizeof big);
    m.text = big;
    m.text_len = sizeof big;
    m.seq = 101;
    stream_message(&s, &m, &now);
    CHECK(s.count == 1 && s.first == 101 && s.next == 102);
    struct buf out = {0};
    struct metrics mt = {.out = &out};
    stream_metrics(&s, &mt);
    CHECK(mt.rc == 0);
    CHECK(strstr(out.data, "downcase_stream_window_events 1\n") != NULL);
    CHECK(strstr(out.data, "downcase_stream_clients 0\n") != NULL);
    buf_finish(&out);
    stream_finish(&s);
    CHECK(s.count == 0 && s.ring == NULL);
}

int main(void)
{
    test_ids();
    test_window();
    return CHECK_DONE();
}
