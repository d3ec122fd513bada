/* Unit tests for natsurl: the --forward URL, what it accepts and what it refuses, and why. */
#include "natsurl.h"
#include "check.h"

#include <errno.h>

static void test_accepts(void)
{
    static const struct {
        const char *in;
        bool tls;
        size_t n;
        const char *servers[3];
        const char *subject;
    } cases[] = {
        {"nats://127.0.0.1:4222/logs.downcase",
         false,
         1,
         {"nats://127.0.0.1:4222"},
         "logs.downcase"},
        {"nats://a/x", false, 1, {"nats://a:4222"}, "x"},
        {"nats://a:1,b:65535/x.y.z", false, 2, {"nats://a:1", "nats://b:65535"}, "x.y.z"},
        {"tls://nats.example:4443/logs", true, 1, {"tls://nats.example:4443"}, "logs"},
        {"nats://[::1]:4222/s", false, 1, {"nats://[::1]:4222"}, "s"},
        {"nats://[::1]/s", false, 1, {"nats://[::1]:4222"}, "s"},
        {"nats://a:4222,b,c:5/s-1_2",
         false,
         3,
         {"nats://a:4222", "nats://b:4222", "nats://c:5"},
         "s-1_2"},
        {"nats://h:4222/Ünïcode.ok", false, 1, {"nats://h:4222"}, "Ünïcode.ok"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct natsurl u;
        const char *why = NULL;
        int rc = natsurl_parse(cases[i].in, &u, &why);
        CHECK(rc == 0);
        if (rc != 0) {
            fprintf(stderr, "  %s: %s\n", cases[i].in, why);
            continue;
        }
        CHECK(u.tls == cases[i].tls);
        CHECK(u.nservers == cases[i].n);
        for (size_t j = 0; j < cases[i].n && j < u.nservers; j++) {
            CHECK_MEM_STR(u.servers[j], strlen(u.servers[j]), cases[i].servers[j]);
        }
        CHECK_MEM_STR(u.subject, strlen(u.subject), cases[i].subject);
    }
}

static void test_refuses(void)
{
    static const struct {
        const char *in;
        const char *why_has; /* a word the reason must contain */
    } cases[] = {
        {"", "nats://"},
        {"http://a:4222/x", "nats://"},
        {"nats://a:4222", "SUBJECT"},
        {"nats:///x", "server"},
        {"nats://a:4222/", "subject"},
        {"nats://a:4222/x.*", "wildcards"},
        {"nats://a:4222/x.>", "wildcards"},
        {"nats://a:4222/x..y", "empty"},
        {"nats://a:4222/.x", "empty"},
        {"nats://a:4222/x.", "empty"},
        {"nats://a:4222/x y", "spaces"},
        {"nats://a:4222/x\ty", "spaces"},
        {"nats://a:0/x", "port"},
        {"nats://a:65536/x", "port"},
        {"nats://a:12ab/x", "port"},
        {"nats://a:4222,/x", "HOST"},
        {"nats://,a/x", "HOST"},
        {"nats://user:pw@a:4222/x", "credentials"},
        {"nats://::1:4222/x", "HOST"},
        {"nats://a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q/x", "too many"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct natsurl u;
        const char *why = NULL;
        int rc = natsurl_parse(cases[i].in, &u, &why);
        CHECK(rc == -EINVAL);
        CHECK(why != NULL && strstr(why, cases[i].why_has) != NULL);
        if (rc != -EINVAL || why == NULL || strstr(why, cases[i].why_has) == NULL) {
            fprintf(stderr, "  [%s]: rc %d, why [%s]\n", cases[i].in, rc, why ? why : "(null)");
        }
    }
    /* A subject of 256 bytes is one too many. */
    char big[300] = "nats://a/";
    memset(big + 9, 's', 256);
    big[9 + 256] = '\0';
    struct natsurl u;
    const char *why = NULL;
    CHECK(natsurl_parse(big, &u, &why) == -EINVAL && strstr(why, "too long") != NULL);
    big[9 + 255] = '\0';
    CHECK(natsurl_parse(big, &u, &why) == 0 && strlen(u.subject) == 255);
}

static void test_servers_text(void)
{
    struct natsurl u;
    const char *why;
    CHECK(natsurl_parse("nats://a:1,b:2/x", &u, &why) == 0);
    char out[64];
    natsurl_servers(&u, out, sizeof out);
    CHECK_MEM_STR(out, strlen(out), "nats://a:1,nats://b:2");
    char tiny[10];
    natsurl_servers(&u, tiny, sizeof tiny);
    CHECK(strlen(tiny) == sizeof tiny - 1); /* cut, still terminated */
}

int main(void)
{
    test_accepts();
    test_refuses();
    test_servers_text();
    return CHECK_DONE();
}
