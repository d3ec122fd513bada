/* A downcase built without libnats: --forward is refused at parse time with one line saying
 * so (main turns it into exit 2), and the part itself refuses to open. Links the real cli with
 * forward.c compiled as that build compiles it (DOWNCASE_FORWARD_STUB). */
#include "check.h"
#include "cli.h"
#include "forward.h"

#include <errno.h>

int main(void)
{
    CHECK(!forward_built());
    char a0[] = "downcase", a1[] = "--role=sub", a2[] = "--forward=nats://127.0.0.1:4222/logs",
         a3[] = "--state=s";
    char *argv[] = {a0, a1, a2, a3, NULL};
    struct cli_options o;
    struct buf err = {0};
    CHECK(cli_parse(4, argv, &o, &err) == -EINVAL);
    CHECK_MEM_STR(err.data, err.len,
                  "--forward: this downcase was built without NATS support (libnats was not "
                  "found when it was built)");
    /* Without --forward the sub parses as before. */
    char *plain[] = {a0, a1, NULL};
    CHECK(cli_parse(2, plain, &o, &err) == 0);
    struct forward f = {0};
    struct natsurl u;
    const char *why;
    CHECK(natsurl_parse("nats://h/x", &u, &why) == 0);
    const struct forward_config cfg = {.url = &u, .pending = 1};
    CHECK(forward_open(&f, NULL, &cfg, (struct forward_sink){0}) == -ENOTSUP);
    buf_finish(&err);
    return CHECK_DONE();
}
