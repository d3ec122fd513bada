/* buf: a growable byte buffer, the one container every module appends into. */
#ifndef DOWNCASE_BUF_H
#define DOWNCASE_BUF_H

#include <stddef.h>

/* Owns `data` (heap, may be NULL while cap == 0). Zero-initialise to get an empty buffer. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Makes room for `extra` more bytes past len. 0, or -ENOMEM (the buffer is then unchanged). */
int buf_reserve(struct buf *b, size_t extra);
/* Appends n bytes / a NUL-terminated string / one byte. 0 or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, char c);
/* Appends printf-formatted text (no NUL is counted in len). 0 or -ENOMEM. */
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes, keeping the rest (for partially consumed input). */
void buf_consume(struct buf *b, size_t n);
/* Removes n bytes at offset off (off + n <= len). */
void buf_erase(struct buf *b, size_t off, size_t n);
/* Frees the storage; the buffer is empty and reusable afterwards. NULL-safe. */
void buf_finish(struct buf *b);

#endif
