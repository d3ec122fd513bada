/* Unit tests for token: the comparison (a table of near misses), the file checks of
 * token_load, and token_allow's answers for bearer tokens, cookies and loopback. */
#include "token.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "0123456789abcdef-XYZ"

static struct token make(const char *value)
{
    struct token t = {.set = true, .len = strlen(value)};
    memcpy(t.value, value, t.len);
    return t;
}

static void test_equal(void)
{
    struct token t = make(SECRET);
    static const struct {
        const char *given;
        int equal;
    } cases[] = {
        {SECRET, 1},
        {"0123456789abcdef-XY", 0},  /* a prefix */
        {SECRET "Z", 0},             /* longer */
        {"1123456789abcdef-XYZ", 0}, /* first byte */
        {"01234567890bcdef-XYZ", 0}, /* middle */
        {"0123456789abcdef-XYz", 0}, /* last byte, case */
        {"", 0},                     /* nothing */
        {SECRET SECRET, 0},          /* the secret twice: modulo reading must not match */
        {"0123456789", 0},           /* a prefix that tiles */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(token_equal(&t, cases[i].given, strlen(cases[i].given)) == cases[i].equal);
    }
    /* A secret that repeats its own prefix: a given value that tiles it is still refused by
     * its length. */
    struct token r = make("abababababababab");
    CHECK(!token_equal(&r, "ab", 2));
    CHECK(!token_equal(&r, "abab", 4));
    CHECK(token_equal(&r, "abababababababab", 16));
    struct token none = {0};
    CHECK(!token_equal(&none, "", 0));
}

static const char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static void test_load(void)
{
    char dir[] = "/tmp/downcase-token-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct token t;
    CHECK(token_load(&t, write_file(dir, "ok", SECRET "\n", 0600)) == 0);
    CHECK(t.set && t.len == strlen(SECRET) && memcmp(t.value, SECRET, t.len) == 0);
    token_finish(&t);
    CHECK(!t.set && t.len == 0 && t.value[0] == 0);
    CHECK(token_load(&t, write_file(dir, "nonl", SECRET, 0400)) == 0);
    CHECK(t.len == strlen(SECRET));
    CHECK(token_load(&t, write_file(dir, "group", SECRET, 0640)) < 0);
    CHECK(token_load(&t, write_file(dir, "other", SECRET, 0604)) < 0);
    CHECK(token_load(&t, write_file(dir, "short", "0123456789abcde\n", 0600)) < 0);
    CHECK(token_load(&t, write_file(dir, "min", "0123456789abcdef\n", 0600)) == 0);
    CHECK(token_load(&t, write_file(dir, "space", "0123456789 abcdef\n", 0600)) < 0);
    CHECK(token_load(&t, write_file(dir, "two", SECRET "\n\n", 0600)) < 0);
    CHECK(token_load(&t, write_file(dir, "crlf", SECRET "\r\n", 0600)) < 0);
    CHECK(token_load(&t, write_file(dir, "quote", SECRET "\"\n", 0600)) < 0);
    char big[TOKEN_MAX_LEN + 3];
    memset(big, 'a', sizeof big);
    big[TOKEN_MAX_LEN] = '\n';
    big[TOKEN_MAX_LEN + 1] = '\0';
    CHECK(token_load(&t, write_file(dir, "max", big, 0600)) == 0);
    CHECK(t.len == TOKEN_MAX_LEN);
    big[TOKEN_MAX_LEN] = 'a';
    big[TOKEN_MAX_LEN + 1] = '\n';
    big[TOKEN_MAX_LEN + 2] = '\0';
    CHECK(token_load(&t, write_file(dir, "long", big, 0600)) < 0);
    CHECK(token_load(&t, dir) < 0); /* a directory */
    char absent[4200];
    snprintf(absent, sizeof absent, "%s/absent", dir);
    CHECK(token_load(&t, absent) < 0);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -r '%s'", dir);
    CHECK(system(cmd) == 0);
}

static int allowed(const struct token *t, const char *headers, int *status)
{
    struct http_request req = {.headers = headers, .headers_len = strlen(headers)};
    struct http_response res = {0};
    int ok = token_allow(t, &req, &res);
    *status = ok ? 0 : res.status;
    if (!ok) {
        CHECK(res.extra_headers != NULL && strstr(res.extra_headers, "Content-Security-Policy"));
    }
    return ok;
}

static void test_allow(void)
{
    int status;
    struct token open_loop = {.loopback = true};
    CHECK(allowed(&open_loop, "host:x\n", &status));
    struct token open_wide = {.loopback = false};
    CHECK(!allowed(&open_wide, "host:x\n", &status) && status == 403);
    struct token t = make(SECRET);
    CHECK(!allowed(&t, "host:x\n", &status) && status == 401);
    CHECK(allowed(&t, "host:x\nauthorization:Bearer " SECRET "\n", &status));
    CHECK(!allowed(&t, "Authorization: bearer  " SECRET " \n", &status) && status == 401);
    CHECK(allowed(&t, "AUTHORIZATION:Bearer " SECRET "\n", &status));
    CHECK(!allowed(&t, "authorization:Bearer " SECRET "x\n", &status) && status == 401);
    CHECK(!allowed(&t, "authorization:Basic " SECRET "\n", &status) && status == 401);
    CHECK(allowed(&t, "cookie:a=1; downcase_token=" SECRET "; b=2\n", &status));
    CHECK(allowed(&t, "cookie:downcase_token=" SECRET "\n", &status));
    CHECK(!allowed(&t, "cookie:xdowncase_token=" SECRET "\n", &status));
    CHECK(!allowed(&t, "cookie:downcase_token=" SECRET "0\n", &status));
    CHECK(!allowed(&t, "cookie:downcase_token\n", &status));
    /* A token still needs to be given off loopback and on it. */
    t.loopback = true;
    CHECK(!allowed(&t, "host:x\n", &status) && status == 401);
}

int main(void)
{
    test_equal();
    test_load();
    test_allow();
    return CHECK_DONE();
}
