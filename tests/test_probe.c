/* Unit tests for probe: probe_parse_url's accepted and refused URLs. (probe_get_status talks
 * to a real server: tests/integration/test_probe.py.) */
#include "probe.h"
#include "check.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *url;
    const char *host;
    int port;
    const char *path;
} good[] = {
    {"http://127.0.0.1:5000/healthz", "127.0.0.1", 5000, "/healthz"},
    {"http://127.0.0.1:5000/downcase/?param=x", "127.0.0.1", 5000, "/downcase/?param=x"},
    {"http://localhost/", "localhost", 80, "/"},
    {"http://localhost", "localhost", 80, "/"},
    {"http://pub:5000", "pub", 5000, "/"},
    {"HTTP://Host:1/A", "Host", 1, "/A"},
    {"http://h:65535/x", "h", 65535, "/x"},
    {"http://h:00080/x", "h", 80, "/x"},
    {"http://h?q=1", "h", 80, "/?q=1"},
    {"http://h/p#frag", "h", 80, "/p"},
    {"http://h#frag", "h", 80, "/"},
    {"http://[::1]:5000/healthz", "::1", 5000, "/healthz"},
    {"http://[::1]/", "::1", 80, "/"},
    {"http://h/%20x?a=%41", "h", 80, "/%20x?a=%41"},
};

static const char *const bad[] = {
    "",
    "http://",
    "http:///path",
    "http://:5000/",
    "https://h/",
    "ftp://h/",
    "h:5000/",
    "//h/",
    "http:/h/",
    "http://h:/",
    "http://h:0/",
    "http://h:65536/",
    "http://h:123456/",
    "http://h:-1/",
    "http://h:5x/",
    "http://h:5000:1/",
    "http://user@h/",
    "http://user:pw@h:5000/",
    "http://[::1/",
    "http://[::1]x/",
    "http://[::1]:/",
    "http://[]:80/",
    "http://::1:80/",
    "http://h/a b",
    "http://h/a\tb",
    "http://h/a\r\nX-Injected: 1",
    "http://h /",
    "http://h\n/",
};

int main(void)
{
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct probe_target t;
        int rc = probe_parse_url(good[i].url, &t);
        bool ok = rc == 0 && strcmp(t.host, good[i].host) == 0 && t.port == good[i].port &&
                  strcmp(t.path, good[i].path) == 0;
        if (!ok) {
            fprintf(stderr, "good[%zu] %s: rc %d host [%s] port %d path [%s]\n", i, good[i].url, rc,
                    rc == 0 ? t.host : "", rc == 0 ? t.port : 0, rc == 0 ? t.path : "");
        }
        CHECK(ok);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct probe_target t;
        int rc = probe_parse_url(bad[i], &t);
        if (rc != -EINVAL) {
            fprintf(stderr, "bad[%zu] [%s] accepted: host [%s] port %d path [%s]\n", i, bad[i],
                    t.host, t.port, t.path);
        }
        CHECK(rc == -EINVAL);
    }

    /* Lengths: a host of 255 bytes fits, 256 does not; the target is bounded likewise. */
    char url[2200];
    struct probe_target t;
    snprintf(url, sizeof url, "http://%.255s/", (const char *)memset((char[256]){0}, 'a', 255));
    CHECK(probe_parse_url(url, &t) == 0 && strlen(t.host) == 255);
    snprintf(url, sizeof url, "http://%.256s/", (const char *)memset((char[257]){0}, 'a', 256));
    CHECK(probe_parse_url(url, &t) == -EINVAL);
    char path[1100] = {0};
    memset(path, 'p', 1023);
    snprintf(url, sizeof url, "http://h/%s", path);
    CHECK(probe_parse_url(url, &t) == -EINVAL); /* "/" + 1023 + NUL > 1024 */
    path[1022] = '\0';
    snprintf(url, sizeof url, "http://h/%s", path);
    CHECK(probe_parse_url(url, &t) == 0 && strlen(t.path) == 1023);
    return CHECK_DONE();
}
