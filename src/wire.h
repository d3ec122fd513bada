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
 * A subscriber tells them apart by the frame count, so one SUB can listen to both kinds.
 *
 * Replay (framed publishers with retention, replay.h) adds control traffic in the topic space
 * that starts with a 0 byte, which no data message uses (a plain text starts "lower case of",
 * and --topic refuses a leading 0 byte):
 *   subscription "\0R" SUB                 the subscriber's inbox: what is addressed to it alone;
 *                                          SUB is its random 8-byte id
 *   subscription "\0Q" SUB PUB FROM COUNT NONCE   a replay request: publisher PUB's messages
 *                                          from sequence FROM (8 bytes), at most COUNT (4), and
 *                                          a NONCE (4) echoed in the answer. The subscriber
 *                                          unsubscribes it at once, so no socket keeps it.
 *   message  ["\0R" SUB "B", PUB FIRST, RECORDS]   replayed messages FIRST, FIRST+1, ...:
 *                                          RECORDS are (topic length u16, text length u32,
 *                                          topic, text) each
 *   message  ["\0R" SUB "E", PUB NEXT, OLDEST HEAD NONCE]   the end of an answer: the next
 *                                          sequence the subscriber should ask for, the oldest
 *                                          and newest the publisher holds (OLDEST > HEAD:
 *                                          none), and the request's nonce
 *   message  ["\0H", PUB HEAD, ""]          the publisher's newest sequence, sent a few times
 *                                          after it changes (every subscriber subscribes to
 *                                          "\0H"): a subscriber whose last messages were
 *                                          dropped learns it is behind even when no message
 *                                          follows them
 * Every number is unsigned big-endian. The two message kinds use the framed layout (three
 * frames, a 16-byte header), so they cross relays unchanged; a SUB only receives an inbox it
 * subscribed to, because the publisher and the relays never match a subscription to "" against
 * the 0-byte space (publisher.h). */
#ifndef DOWNCASE_WIRE_H
#define DOWNCASE_WIRE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define WIRE_HEADER_LEN 16
#define WIRE_ID_LEN 8

enum wire_kind {
    WIRE_PLAIN,
    WIRE_FRAMED,
    WIRE_BATCH,  /* replayed messages, addressed to one subscriber */
    WIRE_STATUS, /* the end of a replay answer */
    WIRE_HEAD,   /* a publisher's newest sequence */
};

/* Control topics and their lengths. */
#define WIRE_CONTROL 0x00
#define WIRE_INBOX_LEN (2 + WIRE_ID_LEN)          /* "\0R" SUB: the inbox subscription */
#define WIRE_INBOX_TOPIC_LEN (WIRE_INBOX_LEN + 1) /* ... "B" or "E": a message's topic */
#define WIRE_REQUEST_LEN (2 + 2 * WIRE_ID_LEN + 8 + 4 + 4)
#define WIRE_STATUS_LEN (8 + 8 + 4)
#define WIRE_HEAD_TOPIC "\0H"
#define WIRE_HEAD_TOPIC_LEN 2
/* A batch's records: what one record adds besides its topic and text. */
#define WIRE_RECORD_OVERHEAD 6

struct wire_request {
    uint8_t subscriber[WIRE_ID_LEN];
    uint8_t publisher[WIRE_ID_LEN];
    uint64_t from;
    uint32_t count;
    uint32_t nonce;
};

struct wire_status {
    uint64_t next;
    uint64_t oldest;
    uint64_t head;
    uint32_t nonce;
};

/* One received message; pointers refer to the caller's frames and live as long as they do.
 * BATCH and STATUS: topic is the inbox topic, seq the header's (FIRST or NEXT), text the
 * payload. */
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

/* Big-endian numbers. */
void wire_put64(uint8_t *p, uint64_t v);
uint64_t wire_get64(const uint8_t *p);
void wire_put32(uint8_t *p, uint32_t v);
uint32_t wire_get32(const uint8_t *p);

/* The inbox subscription of subscriber id, and the topic of a message to it of kind 'B' or
 * 'E'. out must hold WIRE_INBOX_LEN, resp. WIRE_INBOX_TOPIC_LEN bytes. */
void wire_inbox(uint8_t *out, const uint8_t id[WIRE_ID_LEN]);
void wire_inbox_topic(uint8_t *out, const uint8_t id[WIRE_ID_LEN], char kind);
/* Whether a BATCH or STATUS message m is addressed to subscriber id. */
int wire_is_for(const struct wire_msg *m, const uint8_t id[WIRE_ID_LEN]);

/* A request as subscription bytes (WIRE_REQUEST_LEN), and back: 0, or -EPROTO when t[0..len)
 * is not one. */
void wire_request_encode(uint8_t out[WIRE_REQUEST_LEN], const struct wire_request *r);
int wire_request_decode(const uint8_t *t, size_t len, struct wire_request *r);
/* A STATUS message's payload (WIRE_STATUS_LEN), and back: 0 or -EPROTO. */
void wire_status_encode(uint8_t out[WIRE_STATUS_LEN], const struct wire_status *s);
int wire_status_decode(const struct wire_msg *m, struct wire_status *s);

/* A BATCH's records, one at a time: *pos starts at 0. Returns 1 with the next record's topic
 * and text, 0 at the end, -EPROTO when the payload is malformed. */
int wire_record_next(const struct wire_msg *m, size_t *pos, const char **topic, size_t *topic_len,
                     const char **text, size_t *text_len);
/* Appends one record to a BATCH payload being built at out (room for WIRE_RECORD_OVERHEAD +
 * topic_len + text_len bytes). Returns the bytes written. */
size_t wire_record_put(uint8_t *out, const char *topic, size_t topic_len, const char *text,
                       size_t text_len);

/* Writes the id as 16 lowercase hex digits and a NUL. */
void wire_id_hex(const uint8_t id[WIRE_ID_LEN], char out[2 * WIRE_ID_LEN + 1]);
/* Reads 16 hex digits (either case) at hex, which need not be NUL-terminated; nothing before,
 * between or inside them. Returns false, id untouched, unless all 16 are digits. */
bool wire_id_parse(const char *hex, uint8_t id[WIRE_ID_LEN]);

#endif
