/* logsink: the sub's log lines, batched and retried (logsink.h). */
#include "logsink.h"

#include <string.h>

#include "diag.h"

static void on_retry(uv_timer_t *t);

int logsink_open(struct logsink *ls, uv_loop_t *loop, const struct logsink_config *cfg)
{
    static const char *const formats[] = {
        [LOGLINE_TEXT] = "text",
        [LOGLINE_JSON] = "json",
        [LOGLINE_PYTHON] = "python",
    };
    memset(ls, 0, sizeof *ls);
    ls->file.fd = -1;
    uv_timer_init(loop, &ls->retry);
    ls->retry.data = ls;
    ls->open_handles = 1;
    int rc = logfile_open(&ls->file, cfg->path);
    if (rc < 0) {
        diag("sub", "cannot open log %s: %s", cfg->path, strerror(-rc));
        return rc;
    }
    ls->opened = true;
    ls->file.max_pending = cfg->backlog;
    logline_init(&ls->line, cfg->format);
    ls->format_name = formats[cfg->format];
    return 0;
}

void logsink_message(struct logsink *ls, const struct wire_msg *m, const struct timespec *now)
{
    if (logline_append(&ls->line, &ls->file.pending, m, now) < 0) {
        diag("sub", "out of memory formatting a log line");
    }
}

void logsink_gap(struct logsink *ls, const uint8_t id[WIRE_ID_LEN], uint64_t lost,
                 const struct timespec *now)
{
    if (logline_append_gap(&ls->line, &ls->file.pending, id, lost, now) < 0) {
        diag("sub", "out of memory formatting a gap line");
    }
}

void logsink_flush(struct logsink *ls)
{
    int rc = logfile_flush(&ls->file, "sub");
    if (rc < 0 && !uv_is_active((uv_handle_t *)&ls->retry) && ls->open_handles > 0 &&
        !uv_is_closing((uv_handle_t *)&ls->retry)) {
        uv_timer_start(&ls->retry, on_retry, LOGSINK_RETRY_MS, LOGSINK_RETRY_MS);
    } else if (rc == 0) {
        uv_timer_stop(&ls->retry);
    }
}

static void on_retry(uv_timer_t *t)
{
    logsink_flush(t->data);
}

void logsink_reopen(struct logsink *ls)
{
    if (logfile_reopen(&ls->file, "sub") == 0 && !ls->file.is_stdout) {
        diag("sub", "SIGHUP: reopened %s", ls->file.path);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct logsink *ls = h->data;
    ls->open_handles = 0;
    closer_done(&ls->closed);
}

void logsink_close(struct logsink *ls, struct closer closed)
{
    if (ls->open_handles == 0 || uv_is_closing((uv_handle_t *)&ls->retry)) {
        closer_done(&closed);
        return;
    }
    ls->closed = closed;
    uv_close((uv_handle_t *)&ls->retry, on_timer_closed);
}

int logsink_finish(struct logsink *ls)
{
    if (!ls->opened) {
        return 0;
    }
    ls->opened = false;
    return logfile_close(&ls->file, "sub");
}
