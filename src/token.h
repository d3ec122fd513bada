/* token: who may see the live view (/ and /stream): log lines can be sensitive.
 *
 * With --http-token=FILE the view needs the token the file holds, either as
 * "Authorization: Bearer TOKEN" or as the cookie downcase_token=TOKEN that the page sets after
 * one visit to /?token=TOKEN. The file is checked as the key files are (zcert.h): a regular
 * file, not readable or writable by group or others; it holds one token of 16 to 256
 * characters from [A-Za-z0-9._~+/=-] (what a header and a cookie carry unquoted), optionally
 * followed by one newline (`head -c 32 /dev/urandom | base64 > FILE`).
 *
 * Comparisons take the same time whatever the presented value is: every byte of the secret is
 * compared, with differences OR-ed together, and a length difference only adds to them; the
 * presented value is read at positions modulo its own length, so nothing ends early.
 *
 * Without a token the view is served only on a loopback address (the listening socket's own
 * address: 127.0.0.0/8 or ::1): on any other address it answers 403 saying how to enable it.
 * /healthz and /metrics never need the token (probes and scrapers). */
#ifndef DOWNCASE_TOKEN_H
#define DOWNCASE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "http_conn.h"

#define TOKEN_MIN_LEN 16
#define TOKEN_MAX_LEN 256
#define TOKEN_COOKIE "downcase_token"

/* The headers every answer of the live view carries besides nosniff: scripts and styles only
 * from the page's own origin (no inline code, no other host), nothing embeds the page. */
#define TOKEN_CSP_HEADER                                                                           \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "                    \
    "frame-ancestors 'none'\r\n"                                                                   \
    "Referrer-Policy: no-referrer\r\n"

struct token {
    bool set;      /* --http-token was given */
    bool loopback; /* the server listens on a loopback address */
    size_t len;
    char value[TOKEN_MAX_LEN + 1];
};

/* Reads the token file (reported, naming the path and what is wrong). 0 or a negative errno. */
int token_load(struct token *t, const char *path);
/* Wipes the secret. */
void token_finish(struct token *t);
/* Whether a presented value equals the secret, in time that depends only on the secret's
 * length. */
bool token_equal(const struct token *t, const char *given, size_t given_len);
/* Whether req may see the view; if not, res is the answer (401 with WWW-Authenticate, or 403)
 * and false is returned. */
bool token_allow(const struct token *t, const struct http_request *req, struct http_response *res);

#endif
