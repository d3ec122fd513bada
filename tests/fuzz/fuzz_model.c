/* fuzz_model: the pub's expected answers from an independent model (fuzz_model.h says why). */
#include "fuzz_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

#define CODE_POINTS 0x110000u
#define MAX_MAPPED 3 /* the longest full lowercase mapping (U+0130: 2 code points) fits */

/* Final_Sigma classes, from the reference's P records (its generator explains the bits). */
enum sigma_class { NEITHER = 0, CASE_IGNORABLE, CASED };

struct mapping {
    uint32_t cp[MAX_MAPPED];
    uint8_t n;
};

/* Built once from the reference file and never freed: the targets run until the process ends. */
static struct model {
    bool loaded;
    uint32_t *slot;      /* per code point: 0 (maps to itself) or 1 + index into maps */
    struct mapping *map; /* the M records */
    size_t nmap;
    uint8_t *cls; /* per code point: enum sigma_class */
} model;

static void die(const char *path, const char *what, unsigned line)
{
    fprintf(stderr, "fuzz_model: %s:%u: %s\n", path, line, what);
    abort();
}

void fuzz_model_load(const char *path)
{
    if (model.loaded) {
        return;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        die(path, "cannot open the lowercase reference", 0);
    }
    model.slot = calloc(CODE_POINTS, sizeof *model.slot);
    model.cls = calloc(CODE_POINTS, 1);
    model.map = calloc(CODE_POINTS, sizeof *model.map); /* an upper bound; a few MB */
    if (!model.slot || !model.cls || !model.map) {
        die(path, "out of memory", 0);
    }
    char line[256];
    unsigned no = 0;
    size_t classified = 0;
    while (fgets(line, sizeof line, f)) {
        no++;
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        char *p = line + 1;
        char *end;
        unsigned long cp = strtoul(p, &end, 16);
        if (end == p || cp >= CODE_POINTS) {
            die(path, "bad code point", no);
        }
        p = end;
        if (line[0] == 'M') {
            struct mapping *m = &model.map[model.nmap];
            for (;;) {
                unsigned long to = strtoul(p, &end, 16);
                if (end == p) {
                    break;
                }
                if (m->n == MAX_MAPPED || to >= CODE_POINTS) {
                    die(path, "bad mapping", no);
                }
                m->cp[m->n++] = (uint32_t)to;
                p = end;
            }
            if (m->n == 0) {
                die(path, "empty mapping", no);
            }
            model.slot[cp] = (uint32_t)++model.nmap;
        } else if (line[0] == 'P') {
            unsigned long last = strtoul(p, &end, 16);
            char bits[4];
            if (end == p || last < cp || last >= CODE_POINTS || sscanf(end, " %3[01]", bits) != 1 ||
                strlen(bits) != 3) {
                die(path, "bad P record", no);
            }
            enum sigma_class c = 0;
            if (strcmp(bits, "011") == 0) {
                c = CASE_IGNORABLE;
            } else if (strcmp(bits, "110") == 0) {
                c = CASED;
            } else if (strcmp(bits, "001") == 0) {
                c = NEITHER;
            } else {
                die(path, "P bits of no known class", no);
            }
            memset(model.cls + cp, c, last - cp + 1);
            classified += last - cp + 1;
        } else {
            die(path, "unknown record", no);
        }
    }
    fclose(f);
    /* Every code point but the surrogates has a class: a truncated file is not a model. */
    if (model.nmap < 1000 || classified != CODE_POINTS - 0x800) {
        die(path, "incomplete reference", no);
    }
    model.loaded = true;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* parse_qsl's unquote_plus of one name or value: '+' is a space, "%XX" a byte, and any other
 * '%' stays as it is. */
static bool unquote(const char *s, size_t len, struct buf *out)
{
    out->len = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < len && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            c = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        }
        if (buf_append_byte(out, c) < 0) {
            return false;
        }
    }
    return true;
}

bool fuzz_model_param(const char *q, size_t len, const char *name, struct buf *out)
{
    struct buf key = {0};
    bool found = false;
    size_t start = 0;
    while (start <= len && !found) {
        const char *amp = memchr(q + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - q) : len;
        const char *pair = q + start;
        size_t plen = end - start;
        if (plen > 0) {
            const char *eq = memchr(pair, '=', plen);
            size_t klen = eq ? (size_t)(eq - pair) : plen;
            if (unquote(pair, klen, &key) && key.len == strlen(name) &&
                memcmp(key.data, name, key.len) == 0) {
                found = eq ? unquote(eq + 1, plen - klen - 1, out) : (out->len = 0, true);
            }
        }
        start = end + 1;
    }
    buf_finish(&key);
    return found;
}

static enum sigma_class class_of(uint32_t cp)
{
    return (enum sigma_class)model.cls[cp];
}

/* Python's handle_capital_sigma: U+03A3 at cps[i] is final when, skipping case-ignorable code
 * points, a cased one comes before it and none comes after it. */
static bool final_sigma(const uint32_t *cps, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && class_of(cps[j - 1]) == CASE_IGNORABLE) {
        j--;
    }
    if (j == 0 || class_of(cps[j - 1]) != CASED) {
        return false;
    }
    for (j = i + 1; j < n && class_of(cps[j]) == CASE_IGNORABLE; j++) {
    }
    return j == n || class_of(cps[j]) != CASED;
}

bool fuzz_model_lower(const char *s, size_t len, struct buf *out)
{
    if (!model.loaded) {
        abort();
    }
    uint32_t *cps = malloc((len + 1) * sizeof *cps);
    size_t n = 0;
    bool ok = cps != NULL;
    for (size_t i = 0; ok && i < len;) {
        size_t k = fuzz_utf8_next((const uint8_t *)s + i, len - i, &cps[n]);
        ok = k > 0;
        i += k;
        n++;
    }
    for (size_t i = 0; ok && i < n; i++) {
        const struct mapping *m = NULL;
        struct mapping sigma = {{0x3C2}, 1};
        if (cps[i] == 0x3A3 && final_sigma(cps, n, i)) {
            m = &sigma;
        } else if (model.slot[cps[i]]) {
            m = &model.map[model.slot[cps[i]] - 1];
        }
        uint8_t enc[4 * MAX_MAPPED];
        size_t elen = 0;
        if (m == NULL) {
            elen = fuzz_utf8_put(cps[i], enc);
        }
        for (size_t k = 0; m && k < m->n; k++) {
            elen += fuzz_utf8_put(m->cp[k], enc + elen);
        }
        ok = buf_append(out, enc, elen) == 0;
    }
    free(cps);
    return ok;
}
