/* check.h: the assertions of downcase's C unit tests (in the spirit of libuv's test/task.h).
 * A failed check prints where and what, counts, and lets the test go on so one run shows every
 * broken case of a table; CHECK_DONE() makes the exit status. */
#ifndef DOWNCASE_CHECK_H
#define DOWNCASE_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* Compares a byte range with an expected C string and shows both on failure. */
#define CHECK_MEM_STR(ptr, len, want)                                                              \
    do {                                                                                           \
        const char *check_w_ = (want);                                                             \
        size_t check_l_ = (len);                                                                   \
        check_count++;                                                                             \
        if (check_l_ != strlen(check_w_) || memcmp((ptr), check_w_, check_l_) != 0) {              \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: got [%.*s] (%zu bytes), want [%s] (%zu bytes)\n", __FILE__,    \
                    __LINE__, (int)check_l_, (const char *)(ptr), check_l_, check_w_,              \
                    strlen(check_w_));                                                             \
        }                                                                                          \
    } while (0)

#define CHECK_DONE()                                                                               \
    (fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures),                       \
     (check_failures == 0 && check_count > 0) ? 0 : 1)

#endif
