/* wire: the two ZeroMQ message layouts downcase speaks, plain and framed.
 *
 * plain  - one frame: the text. This is what the tutorial's publisher sent, so its Python
 *          subscriber (SUB, subscribe "", recv()) works against downcase unchanged.
 * framed - three frames:
 *            1. topic   the publisher's --topic, for SUB prefix filtering (any length)
 *            2. header  exactly 16 bytes: publisher id (8 bytes) then sequence number
 *                       (unsigned 64-bit, big-endian); the id is random per publisher process,
 *                       the sequence starts at 1 and grows by one per message published
 *            3. text    the text
 *
 * A subscriber tells them apart by the frame count, so one SUB can listen to both kinds. */
#ifndef DOWNCASE_WIRE_H
#define DOWNCASE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_HEADER_LEN 16
#define WIRE_ID_LEN 8

enum wire_kind {
    WIRE_PLAIN,
    WIRE_FRAMED,
};

/* One received message; pointers refer to the caller's frames and live as long as they do. */
struct wire_msg {
    enum wire_kind kind;
    const char *topic; /* framed only */
    size_t topic_len;
    uint8_t publisher[WIRE_ID_LEN]; /* framed only */
    uint64_t seq;                   /* framed only */
    const char *text;
    size_t text_len;
};

/* Writes the 16-byte header frame for a publisher id and sequence number. */
void wire_header_encode(uint8_t out[WIRE_HEADER_LEN], const uint8_t id[WIRE_ID_LEN], uint64_t seq);

/* Interprets the frames of one message. frames[i] / lens[i] for i < n. Returns 0, or -EPROTO
 * when the layout is neither plain nor framed (wrong frame count or header length). */
int wire_decode(const void *const *frames, const size_t *lens, size_t n, struct wire_msg *m);

/* Writes the id as 16 lowercase hex digits and a NUL. */
void wire_id_hex(const uint8_t id[WIRE_ID_LEN], char out[2 * WIRE_ID_LEN + 1]);

#endif
