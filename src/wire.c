/* wire: encoding and decoding of downcase's ZeroMQ message layouts. */
#include "wire.h"

#include <errno.h>
#include <string.h>

#include "hex.h"

void wire_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

uint64_t wire_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

void wire_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

uint32_t wire_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void wire_header_encode(uint8_t out[WIRE_HEADER_LEN], const uint8_t id[WIRE_ID_LEN], uint64_t seq)
{
    memcpy(out, id, WIRE_ID_LEN);
    wire_put64(out + WIRE_ID_LEN, seq);
}

void wire_inbox(uint8_t *out, const uint8_t id[WIRE_ID_LEN])
{
    out[0] = WIRE_CONTROL;
    out[1] = 'R';
    memcpy(out + 2, id, WIRE_ID_LEN);
}

void wire_inbox_topic(uint8_t *out, const uint8_t id[WIRE_ID_LEN], char kind)
{
    wire_inbox(out, id);
    out[WIRE_INBOX_LEN] = (uint8_t)kind;
}

int wire_is_for(const struct wire_msg *m, const uint8_t id[WIRE_ID_LEN])
{
    return m->topic_len == WIRE_INBOX_TOPIC_LEN && memcmp(m->topic + 2, id, WIRE_ID_LEN) == 0;
}

void wire_request_encode(uint8_t out[WIRE_REQUEST_LEN], const struct wire_request *r)
{
    out[0] = WIRE_CONTROL;
    out[1] = 'Q';
    memcpy(out + 2, r->subscriber, WIRE_ID_LEN);
    memcpy(out + 2 + WIRE_ID_LEN, r->publisher, WIRE_ID_LEN);
    wire_put64(out + 2 + 2 * WIRE_ID_LEN, r->from);
    wire_put32(out + 2 + 2 * WIRE_ID_LEN + 8, r->count);
    wire_put32(out + 2 + 2 * WIRE_ID_LEN + 12, r->nonce);
}

int wire_request_decode(const uint8_t *t, size_t len, struct wire_request *r)
{
    if (len != WIRE_REQUEST_LEN || t[0] != WIRE_CONTROL || t[1] != 'Q') {
        return -EPROTO;
    }
    memcpy(r->subscriber, t + 2, WIRE_ID_LEN);
    memcpy(r->publisher, t + 2 + WIRE_ID_LEN, WIRE_ID_LEN);
    r->from = wire_get64(t + 2 + 2 * WIRE_ID_LEN);
    r->count = wire_get32(t + 2 + 2 * WIRE_ID_LEN + 8);
    r->nonce = wire_get32(t + 2 + 2 * WIRE_ID_LEN + 12);
    return 0;
}

void wire_status_encode(uint8_t out[WIRE_STATUS_LEN], const struct wire_status *s)
{
    wire_put64(out, s->oldest);
    wire_put64(out + 8, s->head);
    wire_put32(out + 16, s->nonce);
}

int wire_status_decode(const struct wire_msg *m, struct wire_status *s)
{
    if (m->kind != WIRE_STATUS || m->text_len != WIRE_STATUS_LEN) {
        return -EPROTO;
    }
    const uint8_t *p = (const uint8_t *)m->text;
    s->next = m->seq;
    s->oldest = wire_get64(p);
    s->head = wire_get64(p + 8);
    s->nonce = wire_get32(p + 16);
    return 0;
}

int wire_record_next(const struct wire_msg *m, size_t *pos, const char **topic, size_t *topic_len,
                     const char **text, size_t *text_len)
{
    const uint8_t *p = (const uint8_t *)m->text;
    size_t left = m->text_len - *pos;
    if (left == 0) {
        return 0;
    }
    if (left < WIRE_RECORD_OVERHEAD) {
        return -EPROTO;
    }
    p += *pos;
    size_t tl = (size_t)p[0] << 8 | p[1];
    size_t xl = wire_get32(p + 2);
    if (tl > left - WIRE_RECORD_OVERHEAD || xl > left - WIRE_RECORD_OVERHEAD - tl) {
        return -EPROTO;
    }
    *topic = (const char *)p + WIRE_RECORD_OVERHEAD;
    *topic_len = tl;
    *text = (const char *)p + WIRE_RECORD_OVERHEAD + tl;
    *text_len = xl;
    *pos += WIRE_RECORD_OVERHEAD + tl + xl;
    return 1;
}

size_t wire_record_put(uint8_t *out, const char *topic, size_t topic_len, const char *text,
                       size_t text_len)
{
    out[0] = (uint8_t)(topic_len >> 8);
    out[1] = (uint8_t)topic_len;
    wire_put32(out + 2, (uint32_t)text_len);
    memcpy(out + WIRE_RECORD_OVERHEAD, topic, topic_len);
    memcpy(out + WIRE_RECORD_OVERHEAD + topic_len, text, text_len);
    return WIRE_RECORD_OVERHEAD + topic_len + text_len;
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
    const uint8_t *topic = frames[0];
    m->kind = WIRE_FRAMED;
    if (lens[0] > 0 && topic[0] == WIRE_CONTROL) {
        /* The control space: an inbox message or a head announcement; anything else there is
         * malformed. */
        if (lens[0] == WIRE_HEAD_TOPIC_LEN && topic[1] == 'H') {
            m->kind = WIRE_HEAD;
        } else if (lens[0] != WIRE_INBOX_TOPIC_LEN || topic[1] != 'R' ||
                   (topic[WIRE_INBOX_LEN] != 'B' && topic[WIRE_INBOX_LEN] != 'E')) {
            return -EPROTO;
        } else {
            m->kind = topic[WIRE_INBOX_LEN] == 'B' ? WIRE_BATCH : WIRE_STATUS;
        }
    }
    m->topic = frames[0];
    m->topic_len = lens[0];
    memcpy(m->publisher, h, WIRE_ID_LEN);
    m->seq = wire_get64(h + WIRE_ID_LEN);
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

bool wire_id_parse(const char *hex, uint8_t id[WIRE_ID_LEN])
{
    uint8_t out[WIRE_ID_LEN];
    for (int i = 0; i < WIRE_ID_LEN; i++) {
        int hi = hex_digit(hex[2 * i]);
        int lo = hi < 0 ? -1 : hex_digit(hex[2 * i + 1]);
        if (lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(id, out, WIRE_ID_LEN);
    return true;
}
