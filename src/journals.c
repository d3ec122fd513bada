/* journals: one journal per upstream publisher, for a relay (journals.h). */
#include "journals.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"

static bool parse_id(const char *name, uint8_t id[WIRE_ID_LEN])
{
    return strlen(name) == 2 * WIRE_ID_LEN && wire_id_parse(name, id);
}

/* Opens the journal of publisher id (its directory made if absent). NULL when it cannot. */
static struct journal *open_one(struct journals *js, const uint8_t id[WIRE_ID_LEN])
{
    if (js->n == JOURNALS_MAX) {
        return NULL;
    }
    char hex[2 * WIRE_ID_LEN + 1];
    wire_id_hex(id, hex);
    size_t len = strlen(js->cfg.dir) + 1 + sizeof hex;
    char *dir = malloc(len);
    struct journal *j = calloc(1, sizeof *j);
    if (dir == NULL || j == NULL) {
        free(dir);
        free(j);
        return NULL;
    }
    snprintf(dir, len, "%s/%s", js->cfg.dir, hex);
    struct journal_config cfg = js->cfg;
    cfg.dir = dir;
    cfg.id = id;
    if (journal_open(j, js->loop, &cfg, js->who) < 0) {
        /* Its handles: the timer is made only by a journal_open that succeeded. */
        journal_finish(j);
        free(j);
        free(dir);
        return NULL;
    }
    j->cfg.id = NULL; /* the id lives in j->id; cfg.dir stays owned here (freed at finish) */
    js->damage += j->damage;
    js->j[js->n++] = j;
    return j;
}

int journals_open(struct journals *js, uv_loop_t *loop, const struct journal_config *cfg,
                  const char *who)
{
    memset(js, 0, sizeof *js);
    js->cfg = *cfg;
    js->loop = loop;
    js->who = who;
    if (mkdir(cfg->dir, 0750) < 0 && errno != EEXIST) {
        int err = errno;
        diag(who, "--journal %s: %s", cfg->dir, strerror(err));
        return -err;
    }
    DIR *d = opendir(cfg->dir);
    if (d == NULL) {
        int err = errno;
        diag(who, "--journal %s: %s", cfg->dir, strerror(err));
        return -err;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint8_t id[WIRE_ID_LEN];
        if (parse_id(e->d_name, id) && open_one(js, id) == NULL) {
            diag(who, "--journal %s/%s: not recovered; skipped", cfg->dir, e->d_name);
        }
    }
    closedir(d);
    diag(who, "journal %s: %zu publisher(s) recovered", cfg->dir, js->n);
    return 0;
}

static struct journal *find(const struct journals *js, const uint8_t id[WIRE_ID_LEN])
{
    if (js->last < js->n && memcmp(js->j[js->last]->id, id, WIRE_ID_LEN) == 0) {
        return js->j[js->last];
    }
    for (size_t i = 0; i < js->n; i++) {
        if (memcmp(js->j[i]->id, id, WIRE_ID_LEN) == 0) {
            ((struct journals *)js)->last = i;
            return js->j[i];
        }
    }
    return NULL;
}

int journals_append(struct journals *js, const uint8_t id[WIRE_ID_LEN], uint64_t seq,
                    const char *topic, size_t topic_len, const char *text, size_t text_len)
{
    struct journal *j = find(js, id);
    if (j == NULL && (j = open_one(js, id)) == NULL) {
        js->append_errors++;
        return -ENOSPC;
    }
    if (seq <= j->head) {
        return 0; /* held already (a replay passing down, a repeat) */
    }
    int rc = journal_append(j, seq, topic, topic_len, text, text_len);
    if (rc < 0) {
        js->append_errors++;
    }
    return rc;
}

bool journals_range(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t *oldest, uint64_t *newest)
{
    struct journal *j = find(ctx, id);
    return j != NULL && journal_range(j, id, oldest, newest);
}

size_t journals_copy(void *ctx, const uint8_t id[WIRE_ID_LEN], uint64_t from, size_t max,
                     size_t max_bytes, struct buf *out)
{
    struct journal *j = find(ctx, id);
    return j ? journal_copy(j, id, from, max, max_bytes, out) : 0;
}

void journals_commit(struct journals *js)
{
    for (size_t i = 0; i < js->n; i++) {
        journal_commit(js->j[i]);
    }
}

void journals_close(struct journals *js, struct closer closed)
{
    barrier_init(&js->closing, closed);
    for (size_t i = 0; i < js->n; i++) {
        journal_close(js->j[i], barrier_take(&js->closing));
    }
    barrier_release(&js->closing);
}

void journals_finish(struct journals *js)
{
    for (size_t i = 0; i < js->n; i++) {
        const char *dir = js->j[i]->cfg.dir;
        journal_finish(js->j[i]);
        free((char *)dir);
        free(js->j[i]);
    }
    js->n = 0;
}

struct replay_source journals_source(struct journals *js)
{
    return (struct replay_source){.range = journals_range, .copy = journals_copy, .ctx = js};
}
