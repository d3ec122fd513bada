/* metrics: Prometheus text exposition format 0.0.4, the format /metrics serves.
 *
 * A family is announced once (# HELP, # TYPE) and followed by its samples; label values are
 * escaped as the format requires (backslash, double quote, newline). Every function appends to
 * a buf and remembers the first allocation failure, so a renderer can write everything and
 * check once at the end. */
#ifndef DOWNCASE_METRICS_H
#define DOWNCASE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_conn.h"

/* The Content-Type of the exposition format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
    struct buf *out;
    int rc; /* 0, or the first -ENOMEM */
};

/* Starts a family: type is "counter" or "gauge". */
void metrics_family(struct metrics *m, const char *name, const char *type, const char *help);
/* One sample; label may be NULL, else the sample carries {label="value"} with value escaped. */
void metrics_sample(struct metrics *m, const char *name, const char *label, const char *value,
                    size_t value_len, uint64_t v);
/* downcase_build_info{version="..."} 1, the family every /metrics starts with. */
void metrics_build_info(struct metrics *m);
/* A family with one unlabelled sample. */
void metrics_single(struct metrics *m, const char *name, const char *type, const char *help,
                    uint64_t v);
/* One unlabelled family, for tables of them. */
struct metrics_row {
    const char *name;
    const char *type; /* "counter" or "gauge" */
    const char *help;
    uint64_t value;
};
/* metrics_single for each of rows[0..n). */
void metrics_rows(struct metrics *m, const struct metrics_row *rows, size_t n);

/* The HTTP server's families: requests by status, connections, timeouts, bytes. */
void metrics_http(struct metrics *m, const struct http_conns *s);

#endif
