/* page: the embedded live view (page.h). */
#include "page.h"

#include <errno.h>
#include <llhttp.h>
#include <string.h>

#include "diag.h"
#include "page_assets.h"
#include "query.h"

#define PAGE_HEADERS "Cache-Control: no-cache\r\n" TOKEN_CSP_HEADER

static void asset(struct http_response *res, const char *type, const unsigned char *data,
                  size_t len)
{
    res->status = 200;
    res->content_type = type;
    res->extra_headers = PAGE_HEADERS;
    res->body = (const char *)data;
    res->body_len = len;
}

/* /?token=TOKEN: the right token sets the cookie and sends the browser to / without it. */
static void login(struct page *p, struct http_response *res)
{
    if (!token_equal(p->access, p->given.data, p->given.len)) {
        http_response_text(res, 401, "401 Unauthorized: wrong token\n");
        res->extra_headers = "WWW-Authenticate: Bearer realm=\"downcase\"\r\n" TOKEN_CSP_HEADER;
        return;
    }
    p->headers.len = 0;
    /* HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it. */
    int rc = buf_appendf(&p->headers,
                         "Location: /\r\nSet-Cookie: " TOKEN_COOKIE
                         "=%.*s; Path=/; HttpOnly; SameSite=Strict\r\n" PAGE_HEADERS,
                         (int)p->access->len, p->access->value);
    if (rc < 0) {
        http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    http_response_text(res, 303, "303 See Other: /\n");
    res->extra_headers = p->headers.data;
}

static void index_route(void *ctx, const struct http_request *req, const struct router_target *t,
                        struct http_response *res)
{
    struct page *p = ctx;
    if (!router_read_only(req, res)) {
        return;
    }
    p->given.len = 0;
    int found = t->query ? query_get(t->query, t->query_len, "token", &p->given) : 0;
    if (found < 0) {
        http_response_text(res, 500, "500 Internal Server Error: out of memory\n");
        return;
    }
    if (found > 0 && p->access->set) {
        login(p, res);
        return;
    }
    if (!token_allow(p->access, req, res)) {
        return;
    }
    asset(res, "text/html; charset=utf-8", page_index_html, page_index_html_len);
}

static void js_route(void *ctx, const struct http_request *req, const struct router_target *t,
                     struct http_response *res)
{
    (void)ctx;
    (void)t;
    if (router_read_only(req, res)) {
        asset(res, "text/javascript; charset=utf-8", page_app_js, page_app_js_len);
    }
}

static void css_route(void *ctx, const struct http_request *req, const struct router_target *t,
                      struct http_response *res)
{
    (void)ctx;
    (void)t;
    if (router_read_only(req, res)) {
        asset(res, "text/css; charset=utf-8", page_app_css, page_app_css_len);
    }
}

int page_add(struct page *p, struct router *r, const struct token *access)
{
    memset(p, 0, sizeof *p);
    p->access = access;
    int rc = router_add(r, "/", index_route, p);
    if (rc == 0) {
        rc = router_add(r, "/app.js", js_route, p);
    }
    if (rc == 0) {
        rc = router_add(r, "/app.css", css_route, p);
    }
    if (rc < 0) {
        diag("sub", "cannot add the live view's routes: %s", strerror(-rc));
    }
    return rc;
}

/* The scratch buffers may hold a token: wiped before they are freed. */
static void wipe(struct buf *b)
{
    volatile char *d = b->data;
    for (size_t i = 0; d && i < b->cap; i++) {
        d[i] = 0;
    }
    buf_finish(b);
}

void page_finish(struct page *p)
{
    wipe(&p->headers);
    wipe(&p->given);
}
