/* http_screen: the raw bytes of every request checked against RFC 9112's grammar before llhttp
 * parses them, so that what downcase accepts has one reading only.
 *
 * Why a screen at all. Request smuggling needs two parsers that disagree about where a message
 * ends; downcase cannot choose the proxy in front of it, so it refuses every shape on which
 * parsers are known to disagree. Debian 12's llhttp 8.1.0 (node-llhttp) is compiled as Debian
 * ships it, without LLHTTP_STRICT_MODE, and that "loose" parser lets through a CR not followed
 * by LF as a line end in the head (CVE-2023-30589), obsolete line folding (CVE-2024-27982), a
 * space inside or after a header name, and in chunked bodies any byte where CRLF is required:
 * after a chunk size ("5\rX"), after chunk data (two bytes skipped unread), so that
 * "0\r\n\rXGET /..." hides a second request in the first one's body.
 *
 * Why not llhttp's strict mode instead. Compiled with LLHTTP_STRICT_MODE=1 the same sources
 * refuse those chunk shapes, but also refuse a raw byte >= 0x80 in the request target, which
 * is what curl sends for 'http://host/downcase/?param=ΣΑΣ' and what users rely on (llhttp 9,
 * whose strict mode is the only mode, refuses it too); and strict mode still misreads chunked
 * bodies the other way: it refuses valid chunk extensions ("5;a=b;c=d", "5 ;a=b") and accepts
 * a bare LF ending the trailer section and obsolete line folding inside it (measured on
 * Debian's sources compiled both ways). Strict mode would need a screen as well, so the build
 * keeps llhttp loose and this screen is the whole of downcase's syntax checking. It does not
 * depend on how llhttp was built: a pkg-config llhttp compiled strict, or a 9.x, sees only
 * what the screen passed, and the target's bytes >= 0x80 are kept from it (below). The rules:
 *
 *  - request line: method token, one SP, a target of visible ASCII or bytes >= 0x80 (raw
 *    UTF-8), one SP, "HTTP/" DIGIT "." DIGIT, CRLF. Empty lines before it are skipped (RFC 9112
 *    section 2.2), each a CRLF;
 *  - field lines, in the head and in a chunked body's trailer section: a token name, ':' right
 *    after it, a value of HTAB, SP, visible ASCII or bytes >= 0x80, CRLF; no line may start
 *    with SP or HTAB (obsolete folding);
 *  - the Host value: uri-host [ ":" port ] (RFC 9112 section 3.2): a reg-name of unreserved,
 *    %XX or sub-delims other than ',' (a comma makes it a list: two hosts), or an IP literal in
 *    brackets, then an optional run of digits; no userinfo, no '/', no space inside;
 *  - chunked bodies (RFC 9112 section 7.1): 1*HEXDIG, chunk extensions of valid syntax (BWS ';'
 *    BWS token [BWS '=' BWS (token / quoted-string)]), CRLF, exactly the declared data, CRLF;
 *    then the trailer section as above and its final CRLF.
 * A CR must always be followed by LF, and a LF always preceded by CR: every line ends in CRLF.
 *
 * Two things the screen accepts are left out of what llhttp sees (the `skip` bytes below).
 * Chunk extensions are valid but useless to downcase, and llhttp 8.1.0 refuses some valid ones,
 * so llhttp reads "5;a=b" as "5". A request target's runs of bytes >= 0x80 are refused by a
 * strict llhttp, so llhttp reads "/?p=ΣΑΣ" as "/?p=" and the caller puts the bytes back into
 * the target it gathers (no target starts with such a byte, so llhttp's view stays a valid
 * target of the same form). Every byte of a chunked body as sent, size lines, extensions,
 * data, CRLFs and trailers, counts against the body limit (the caller's max_bytes), so a
 * request cannot make the server read without bound through endless extensions or one-byte
 * chunks (the class of CVE-2024-22019); a size line declaring more than is left is refused at
 * once, before its data.
 *
 * How it is driven. The screen sees every byte before llhttp does and keeps its state across
 * reads (a request may arrive one byte at a time). The caller hands it the unparsed input; it
 * answers with a span: `feed` bytes for llhttp, then `skip` bytes llhttp must not see. It stops
 * early where the caller must act: at the end of a head (the caller tells it, from llhttp's
 * on_headers_complete, whether a chunked body follows: http_screen_chunked, or not:
 * http_screen_unframed, after which it passes bytes unchecked, a Content-Length body being
 * llhttp's to count), at the end of a chunked body, and after a run of skipped bytes. The
 * caller resets it when llhttp reports the message complete. A message the screen sees end
 * where llhttp does not is refused (the two never disagree on what the screen accepts; the
 * check makes sure). Refusals are 400, or 413 for a chunked body over its limit. */
#ifndef DOWNCASE_HTTP_SCREEN_H
#define DOWNCASE_HTTP_SCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_screen {
    uint8_t state;
    /* Where in "HTTP/d.d" or in a %XX escape; how much of a field name matches "host"; in an
     * IP literal, whether it holds a byte yet. */
    uint8_t pos;
    bool trailers;     /* the field lines being screened are a chunked body's trailer section */
    bool request_line; /* the request line has been screened whole */
    bool chunked;      /* a chunked body is being screened: its bytes count against budget */
    uint64_t size;     /* the chunk size being read, then the data bytes still to come */
    uint64_t budget;   /* bytes the rest of the chunked body may take */
};

/* What http_screen_scan found in the bytes it was given. */
struct http_screen_span {
    size_t feed; /* the first `feed` bytes go to the parser */
    size_t skip; /* then `skip` bytes it must not see: chunk extensions, or ... */
    bool target; /* ... bytes >= 0x80 of the request target, which the caller adds to it */
};

/* Prepares for the next request. */
void http_screen_reset(struct http_screen *s);
/* The head just screened announced a chunked body; the whole of it, as sent, may take at most
 * max_bytes. */
void http_screen_chunked(struct http_screen *s, uint64_t max_bytes);
/* The head just screened announced no body, or a Content-Length one: nothing more to screen
 * until the next reset. */
void http_screen_unframed(struct http_screen *s);
/* Whether the request line has been screened whole (and found well-formed). */
bool http_screen_request_line_done(const struct http_screen *s);

/* Screens up to n bytes (n > 0). Returns 0 with *span set: span->feed + span->skip bytes were
 * screened, at least one, all n unless the screen stopped where the caller must act (see
 * above). Or returns the status to refuse the request with (400, 413) and sets *reason to a
 * short phrase for the answer. */
int http_screen_scan(struct http_screen *s, const char *p, size_t n, struct http_screen_span *span,
                     const char **reason);

#endif
