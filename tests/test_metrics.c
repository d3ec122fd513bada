/* Unit tests for metrics: the exposition text, label escaping included. */
#include "check.h"
#include "metrics.h"

int main(void)
{
    struct buf out = {0};
    struct metrics m = {.out = &out};
    metrics_single(&m, "a_total", "counter", "Help text.", 42);
    CHECK(m.rc == 0);
    CHECK_MEM_STR(out.data, out.len,
                  "# HELP a_total Help text.\n# TYPE a_total counter\na_total 42\n");

    /* Label values escape backslash, double quote and newline, as the format requires. */
    out.len = 0;
    metrics_sample(&m, "b", "l", "x\\y\"z\nw", 7, 18446744073709551615ull);
    CHECK(m.rc == 0);
    CHECK_MEM_STR(out.data, out.len, "b{l=\"x\\\\y\\\"z\\nw\"} 18446744073709551615\n");

    /* The value is taken by length: a NUL inside is kept, text after the length is not. */
    out.len = 0;
    metrics_sample(&m, "c", "l", "ab\0cd", 3, 0);
    CHECK(out.len == sizeof "c{l=\"ab\0\"} 0\n" - 1);
    CHECK(memcmp(out.data, "c{l=\"ab\0\"} 0\n", out.len) == 0);

    out.len = 0;
    metrics_build_info(&m);
    CHECK(m.rc == 0);
    CHECK(strstr(out.data, "downcase_build_info{version=\"") != NULL);
    buf_finish(&out);
    return CHECK_DONE();
}
