/* token: access to the live view (token.h). */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"

static bool token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("._~+/=-", c) != NULL);
}

static int bad(const char *path, int err, const char *why)
{
    diag("sub", "--http-token %s: %s", path, why);
    return -err;
}

int token_load(struct token *t, const char *path)
{
    char text[TOKEN_MAX_LEN + 2];
    int rc = 0;
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        diag("sub", "--http-token %s: cannot open: %s", path, strerror(errno));
        return -errno;
    }
    struct stat st;
    size_t len = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        diag("sub", "--http-token %s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = bad(path, EINVAL, "not a regular file");
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        diag("sub",
             "--http-token %s: a secret file accessible to group or others (mode %04o); "
             "chmod 600 it",
             path, (unsigned)(st.st_mode & 07777));
        rc = -EACCES;
        goto out;
    }
    /* One byte more than a token and its newline, to notice a file that is too long. */
    while (len < sizeof text) {
        ssize_t n = read(fd, text + len, sizeof text - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            diag("sub", "--http-token %s: cannot read: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len > 0 && text[len - 1] == '\n') {
        len--;
    }
    if (len > TOKEN_MAX_LEN) {
        rc = bad(path, EINVAL, "longer than 256 characters (one token, one line)");
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        if (!token_char((unsigned char)text[i])) {
            rc = bad(path, EINVAL,
                     "a character outside A-Z a-z 0-9 . _ ~ + / = - (one token, one line)");
            goto out;
        }
    }
    if (len < TOKEN_MIN_LEN) {
        rc = bad(path, EINVAL,
                 "shorter than 16 characters (make one: head -c 32 /dev/urandom | base64)");
        goto out;
    }
    memcpy(t->value, text, len);
    t->len = len;
    t->set = true;
out:
    memset(text, 0, sizeof text);
    close(fd);
    return rc;
}

void token_finish(struct token *t)
{
    /* volatile: a memset of memory about to be dropped may be optimised away. */
    volatile char *p = t->value;
    for (size_t i = 0; i < sizeof t->value; i++) {
        p[i] = 0;
    }
    t->len = 0;
    t->set = false;
}

bool token_equal(const struct token *t, const char *given, size_t given_len)
{
    /* Every byte of the secret is looked at, whatever matches or not (token.h). */
    unsigned diff = (unsigned)(given_len != t->len);
    for (size_t i = 0; i < t->len; i++) {
        unsigned char g = given_len > 0 ? (unsigned char)given[i % given_len] : 0;
        diff |= (unsigned)(g ^ (unsigned char)t->value[i]);
    }
    return diff == 0 && t->len > 0;
}

/* The cookie's value in a Cookie header ("a=1; downcase_token=T; b=2"), or NULL. */
static const char *cookie_value(const char *h, size_t len, size_t *out_len)
{
    const char *end = h + len;
    const size_t name_len = sizeof TOKEN_COOKIE - 1;
    const char *p = h;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';')) {
            p++;
        }
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *item_end = semi ? semi : end;
        if ((size_t)(item_end - p) > name_len && memcmp(p, TOKEN_COOKIE, name_len) == 0 &&
            p[name_len] == '=') {
            *out_len = (size_t)(item_end - p - (ptrdiff_t)name_len - 1);
            return p + name_len + 1;
        }
        p = item_end;
    }
    return NULL;
}

bool token_allow(const struct token *t, const struct http_request *req, struct http_response *res)
{
    if (!t->set) {
        if (t->loopback) {
            return true;
        }
        http_response_text(res, 403,
                           "403 Forbidden: the live view (/ and /stream) is served without a token "
                           "only on a loopback address; start the sub with --http-token=FILE to "
                           "serve it here\n");
        res->extra_headers = TOKEN_CSP_HEADER;
        return false;
    }
    size_t len;
    const char *auth = http_request_header(req, "authorization", &len);
    const char *given = NULL;
    size_t given_len = 0;
    if (auth && len > 7 && strncasecmp(auth, "Bearer ", 7) == 0) {
        given = auth + 7;
        given_len = len - 7;
    } else {
        const char *cookie = http_request_header(req, "cookie", &len);
        given = cookie ? cookie_value(cookie, len, &given_len) : NULL;
    }
    if (given && token_equal(t, given, given_len)) {
        return true;
    }
    http_response_text(res, 401,
                       given ? "401 Unauthorized: wrong token\n"
                             : "401 Unauthorized: this view needs the --http-token token: send "
                               "Authorization: Bearer TOKEN, or open /?token=TOKEN once in a "
                               "browser\n");
    res->extra_headers = "WWW-Authenticate: Bearer realm=\"downcase\"\r\n" TOKEN_CSP_HEADER;
    return false;
}
