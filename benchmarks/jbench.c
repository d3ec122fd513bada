/* jbench: the journal's append throughput, for scripts/bench (not a test).
 *
 *   jbench DIR COUNT SIZE    appends COUNT records of SIZE bytes of text to a journal in DIR
 *                            (created; 4 GiB limit, sync only at the end), fdatasyncs once,
 *                            and prints "records R bytes B append_seconds A synced_seconds S"
 *                            (appending alone, and with the final fdatasync)
 *
 * It drives src/journal.c directly, as the pub does (one append per message, in a libuv loop
 * that never runs: the sync timer is not needed), so the figure is the journal's own cost, to
 * compare with dd's sequential write to the same disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "journal.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: jbench DIR COUNT SIZE\n");
        return 2;
    }
    long count = atol(argv[2]);
    size_t size = (size_t)atol(argv[3]);
    char *text = malloc(size);
    if (text == NULL || count <= 0) {
        return 2;
    }
    memset(text, 'x', size);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct journal j;
    const struct journal_config cfg = {
        .dir = argv[1],
        .max_bytes = 4ull << 30,
        .sync_ms = 0,
    };
    if (journal_open(&j, &loop, &cfg, "jbench") < 0) {
        return 1;
    }
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < count; i++) {
        if (journal_append(&j, j.head + 1, "downcase", 8, text, size) < 0) {
            fprintf(stderr, "jbench: append %ld failed\n", i);
            return 1;
        }
    }
    double appended = (double)(uv_hrtime() - t0) / 1e9;
    journal_commit(&j);
    double synced = (double)(uv_hrtime() - t0) / 1e9;
    /* Record bytes: the header, the topic length and topic, the text. */
    double bytes = (double)count * (double)(20 + 2 + 8 + size);
    printf("records %ld bytes %.0f append_seconds %.3f synced_seconds %.3f\n", count, bytes,
           appended, synced);
    journal_close(&j, (struct closer){0});
    uv_run(&loop, UV_RUN_DEFAULT);
    journal_finish(&j);
    uv_loop_close(&loop);
    free(text);
    return 0;
}
