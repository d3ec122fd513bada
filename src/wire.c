/* wire: encoding and decoding of downcase's ZeroMQ message layouts. */
#include "wire.h"

#include <errno.h>
#include <string.h>

void wire_header_encode(uint8_t out[WIRE_HEADER_LEN], const uint8_t id[WIRE_ID_LEN], uint64_t seq)
{
    memcpy(out, id, WIRE_ID_LEN);
    for (int i = 0; i < 8; i++) {
        out[WIRE_ID_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
    }
}

int wire_decode(const void *const *frames, const size_t *lens, size_t n, struct wire_msg *m)
{
    memset(m, 0, sizeof *m);
    if (n == 1) {
        m->kind = WIRE_PLAIN;
        m->text = frames[0];
        m->text_len = lens[0];
        return 0;
    }
    if (n != 3 || lens[1] != WIRE_HEADER_LEN) {
        return -EPROTO;
    }
    const uint8_t *h = frames[1];
    m->kind = WIRE_FRAMED;
    m->topic = frames[0];
    m->topic_len = lens[0];
    memcpy(m->publisher, h, WIRE_ID_LEN);
    for (int i = 0; i < 8; i++) {
        m->seq = m->seq << 8 | h[WIRE_ID_LEN + i];
    }
    m->text = frames[2];
    m->text_len = lens[2];
    return 0;
}

void wire_id_hex(const uint8_t id[WIRE_ID_LEN], char out[2 * WIRE_ID_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < WIRE_ID_LEN; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * WIRE_ID_LEN] = '\0';
}
