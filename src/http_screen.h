/* http_screen: a raw-byte check of each request head before llhttp parses it.
 *
 * Debian 12's llhttp 8.1.0 predates two request-smuggling fixes: it takes a CR not followed by
 * LF as a line end (CVE-2023-30589) and folds a header line that starts with a space or tab
 * into the previous value (obsolete line folding, CVE-2024-27982). Its callbacks cannot see
 * either (a value span is simply empty or continued), so the bytes themselves are screened:
 * in a request head every line must end in CRLF, and no header line may start with SP or HTAB.
 * A bare LF is refused too (RFC 9112 section 2.2 allows a recipient to accept it; strict
 * servers do not, and two parsers that disagree on line ends are what smuggling needs).
 *
 * The state survives read boundaries: a head may arrive one byte at a time. The screen only
 * finds where the head ends (the empty line); the caller stops screening there, lets llhttp
 * parse the body, and resets the screen when llhttp reports the message complete. */
#ifndef DOWNCASE_HTTP_SCREEN_H
#define DOWNCASE_HTTP_SCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_screen {
    uint32_t line_len; /* bytes of the current line so far, without its CR */
    uint32_t lines;    /* complete non-empty lines: the request line, then headers */
    bool cr;           /* the previous byte was a CR */
};

/* Prepares for the next request head. */
void http_screen_reset(struct http_screen *s);

/* Screens up to n bytes of a request head. Returns how many bytes belong to the head (all n
 * while it goes on; fewer, and *done set, when its final empty line ends inside them), or -1
 * with *reason set (a short phrase for a 400 answer) when a byte breaks the rules. */
long http_screen_scan(struct http_screen *s, const char *p, size_t n, bool *done,
                      const char **reason);

#endif
