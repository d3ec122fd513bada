/* metrics: the Prometheus text format writer. */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static void put(struct metrics *m, const char *s, size_t n)
{
    if (m->rc == 0) {
        m->rc = buf_append(m->out, s, n);
    }
}

static void puts_(struct metrics *m, const char *s)
{
    put(m, s, strlen(s));
}

void metrics_family(struct metrics *m, const char *name, const char *type, const char *help)
{
    puts_(m, "# HELP ");
    puts_(m, name);
    put(m, " ", 1);
    puts_(m, help);
    puts_(m, "\n# TYPE ");
    puts_(m, name);
    put(m, " ", 1);
    puts_(m, type);
    put(m, "\n", 1);
}

void metrics_sample(struct metrics *m, const char *name, const char *label, const char *value,
                    size_t value_len, uint64_t v)
{
    puts_(m, name);
    if (label) {
        put(m, "{", 1);
        puts_(m, label);
        put(m, "=\"", 2);
        for (size_t i = 0; i < value_len; i++) {
            char c = value[i];
            if (c == '\\' || c == '"') {
                put(m, "\\", 1);
                put(m, &c, 1);
            } else if (c == '\n') {
                put(m, "\\n", 2);
            } else {
                put(m, &c, 1);
            }
        }
        put(m, "\"}", 2);
    }
    char num[32];
    int n = snprintf(num, sizeof num, " %" PRIu64 "\n", v);
    put(m, num, (size_t)n);
}

void metrics_build_info(struct metrics *m)
{
    metrics_family(m, "downcase_build_info", "gauge", "The running version; always 1.");
    metrics_sample(m, "downcase_build_info", "version", DOWNCASE_VERSION, strlen(DOWNCASE_VERSION),
                   1);
}

void metrics_single(struct metrics *m, const char *name, const char *type, const char *help,
                    uint64_t v)
{
    metrics_family(m, name, type, help);
    metrics_sample(m, name, NULL, NULL, 0, v);
}

void metrics_rows(struct metrics *m, const struct metrics_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        metrics_single(m, rows[i].name, rows[i].type, rows[i].help, rows[i].value);
    }
}

void metrics_http(struct metrics *m, const struct http_conns *s)
{
    const struct http_counters *c = &s->counters;
    metrics_family(m, "downcase_http_requests_total", "counter",
                   "HTTP requests answered, by the status code of the answer.");
    for (size_t i = 0; i <= HTTP_STATUS_COUNTED; i++) {
        char code[16];
        int n = i < HTTP_STATUS_COUNTED ? snprintf(code, sizeof code, "%d", http_status_codes[i])
                                        : snprintf(code, sizeof code, "other");
        metrics_sample(m, "downcase_http_requests_total", "code", code, (size_t)n, c->responses[i]);
    }
    const struct metrics_row rows[] = {
        {"downcase_http_connections_open", "gauge", "HTTP connections open now.", s->n},
        {"downcase_http_connections_accepted_total", "counter", "HTTP connections accepted.",
         c->accepted},
        {"downcase_http_connections_rejected_total", "counter",
         "HTTP connections closed at once because --max-connections were open.", c->rejected},
        {"downcase_http_request_timeouts_total", "counter",
         "Requests answered 408 because their headers or body did not arrive in time.",
         c->header_timeouts},
        {"downcase_http_idle_closed_total", "counter",
         "HTTP connections closed by the idle timeout.", c->idle_closed},
        {"downcase_http_received_bytes_total", "counter", "Bytes received from HTTP clients.",
         c->bytes_in},
        {"downcase_http_sent_bytes_total", "counter", "Bytes sent to HTTP clients.", c->bytes_out},
    };
    metrics_rows(m, rows, sizeof rows / sizeof rows[0]);
}
