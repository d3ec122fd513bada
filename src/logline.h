/* logline: turns one received message into one line of the subscriber's log.
 *
 * Formats (each line ends with '\n'; a message can never add or split a line):
 *   text    2026-11-24T16:20:49.123Z lower case of HeLLo is hello          (UTC, milliseconds)
 *   json    {"time":"2026-11-24T16:20:49.123Z","message":"...",...}         (one object a line)
 *   python  INFO:root:lower case of HeLLo is hello - 2026-11-24 16:20      (the tutorial's log,
 *           byte for byte: Python logging's default format, local time, minute precision)
 *
 * text and python escape: '\' as "\\", newline "\n", carriage return "\r", tab "\t", other
 * ASCII control bytes and every byte that is not part of valid UTF-8 as "\xHH", and the C1
 * controls and Unicode line/paragraph separators (U+0080-U+009F, U+2028, U+2029) as "\uHHHH".
 * json escapes as RFC 8259 requires, and U+0080-U+009F, U+2028, U+2029 as text does; when the
 * message is not valid UTF-8, "message" carries it with each bad byte replaced by U+FFFD and
 * "message_base64" carries the exact bytes, so the line is valid JSON and nothing is lost.
 * Framed messages add "topic", "publisher" (16 hex digits) and "seq".
 *
 * When framed messages of a publisher go missing (sequence numbers skipped), the sub writes a
 * gap line in their place, which no message can imitate:
 *   text    2026-11-24T16:20:49.123Z !gap publisher=0123456789abcdef lost=5
 *           (a message that starts with '!' has it written as "\x21")
 *   json    {"time":"...","event":"gap","publisher":"0123456789abcdef","lost":5}
 *           (message lines have "message", never "event")
 *   python  WARNING:root:gap publisher=0123456789abcdef lost=5 - 2026-11-24 16:20
 *           (message lines are INFO) */
#ifndef DOWNCASE_LOGLINE_H
#define DOWNCASE_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "wire.h"

enum logline_format {
    LOGLINE_TEXT,
    LOGLINE_JSON,
    LOGLINE_PYTHON,
};

/* Formatting state: the format and the text of the last second formatted, because consecutive
 * messages nearly always share it and strftime is the costly part of a line. */
struct logline {
    enum logline_format format;
    bool cached_valid;
    time_t cached_sec;
    size_t cached_len;
    char cached[40];
};

void logline_init(struct logline *l, enum logline_format format);
/* Appends the line for message m received at `now` (CLOCK_REALTIME) to out. 0 or -ENOMEM. */
int logline_append(struct logline *l, struct buf *out, const struct wire_msg *m,
                   const struct timespec *now);

/* Appends the line that reports `lost` messages of a publisher missing. 0 or -ENOMEM. */
int logline_append_gap(struct logline *l, struct buf *out, const uint8_t publisher[WIRE_ID_LEN],
                       uint64_t lost, const struct timespec *now);

/* The escapers on their own, for tests and other writers. 0 or -ENOMEM. */
int logline_escape_text(struct buf *out, const char *s, size_t len);
int logline_escape_json(struct buf *out, const char *s, size_t len);

#endif
