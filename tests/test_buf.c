/* Unit tests for buf. */
#include "buf.h"
#include "check.h"

int main(void)
{
    struct buf b = {0};
    CHECK(buf_append_str(&b, "hello") == 0);
    CHECK_MEM_STR(b.data, b.len, "hello");
    CHECK(buf_appendf(&b, " %d %s", 42, "x") == 0);
    CHECK_MEM_STR(b.data, b.len, "hello 42 x");
    /* Long formatted text forces the second vsnprintf path. */
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(buf_appendf(&b, "%s", big) == 0);
    CHECK(b.len == 10 + 299);
    CHECK(b.data[b.len - 1] == 'a');
    buf_consume(&b, 6);
    CHECK(b.len == 4 + 299);
    CHECK(memcmp(b.data, "42 x", 4) == 0);
    buf_consume(&b, 10000);
    CHECK(b.len == 0);
    CHECK(buf_append_byte(&b, 'z') == 0);
    CHECK_MEM_STR(b.data, b.len, "z");
    CHECK(buf_append(&b, NULL, 0) == 0);
    buf_finish(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    buf_finish(NULL);
    /* Absurd sizes fail cleanly instead of wrapping around. */
    CHECK(buf_reserve(&b, (size_t)-1) < 0);
    CHECK(b.data == NULL);
    return CHECK_DONE();
}
