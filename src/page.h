/* page: the live view's page, GET / (with /app.js and /app.css), embedded in the binary: no
 * external script, font or CDN, so it works with no network. It follows /stream (stream.h).
 *
 *   GET|HEAD /            the HTML page; with ?token=TOKEN (and --http-token) a 303 to /
 *                         that sets the cookie the page then uses (token.h); the token thus
 *                         leaves the address bar and the history
 *   GET|HEAD /app.js      the script; /app.css the style (no secret in either: served to all)
 * Every answer carries the view's Content-Security-Policy (token.h): no inline script, no
 * script from another origin. */
#ifndef DOWNCASE_PAGE_H
#define DOWNCASE_PAGE_H

#include "buf.h"
#include "router.h"
#include "token.h"

struct page {
    const struct token *access;
    struct buf headers; /* scratch: the Set-Cookie answer */
    struct buf given;   /* scratch: the ?token= value */
};

/* Registers /, /app.js and /app.css on r. 0 or -ENOSPC (reported). */
int page_add(struct page *p, struct router *r, const struct token *access);
void page_finish(struct page *p);

#endif
