/* zap: the process's ZAP handler on the loop, one policy per socket (zap.h). */
#include "zap.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "zcert.h"

/* Requests answered per loop iteration before the rest of the loop gets a turn. */
#define ZAP_BUDGET 32
/* A peer can make these happen at will: one line per interval at most. */
#define ZAP_DENY_LOG_MS 10000
#define ZAP_ALLOW_LOG_MS 1000

/* Reads the allow directory. With key NULL (start-up) every entry must be a loadable public
 * certificate, and the first that is not is reported and fails the call; otherwise a bad entry
 * is skipped with a rate-limited report (fail closed for that entry only) and the scan stops at
 * the first certificate holding key. Hidden entries, subdirectories and NAME_secret files are
 * skipped. Returns 1 when key was found, 0 when not (*count: certificates read), or a negative
 * errno (reported) when the directory cannot be read. */
static int scan_dir(struct zap *z, struct zap_policy *p, const uint8_t *key, unsigned *count)
{
    *count = 0;
    const char *dir = p->cfg.allow_dir;
    const char *flag = p->cfg.allow_flag;
    DIR *d = opendir(dir);
    if (d == NULL) {
        int err = errno;
        if (key == NULL) {
            diag(z->who, "%s %s: %s", flag, dir, strerror(err));
        } else {
            diag_limited(&p->dir_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, z->who,
                         "%s %s: %s: denying every client", flag, dir, strerror(err));
        }
        return -err;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        size_t nlen = strlen(e->d_name);
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            continue;
        }
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            continue;
        }
        if (nlen > 7 && strcmp(e->d_name + nlen - 7, "_secret") == 0) {
            if (key == NULL) {
                diag(z->who,
                     "%s %s: skipping %s: a secret certificate (only public ones belong here; "
                     "move it away)",
                     flag, dir, e->d_name);
            }
            continue;
        }
        struct zcert c;
        char why[512];
        if (zcert_load(path, ZCERT_PUBLIC, &c, why, sizeof why) < 0) {
            if (key == NULL) {
                diag(z->who, "%s %s: %s", flag, path, why);
                rc = -EINVAL;
            } else {
                diag_limited(&p->dir_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, z->who,
                             "%s %s: skipped: %s", flag, path, why);
            }
            continue;
        }
        (*count)++;
        if (key && memcmp(c.public_key, key, ZCERT_KEY_LEN) == 0) {
            rc = 1;
        }
    }
    if (rc == 0 && errno != 0) {
        rc = -errno;
        diag(z->who, "%s %s: readdir: %s", flag, dir, strerror(-rc));
    }
    closedir(d);
    return rc;
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* Sends one reply frame; the request id is echoed from the request. */
static int send_frame(struct zap *z, const void *data, size_t len, bool more)
{
    return zmq_send(z->rep.sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -zmq_errno() : 0;
}

static struct zap_policy *find_policy(struct zap *z, zmq_msg_t *domain)
{
    for (size_t i = 0; i < z->npolicies; i++) {
        if (frame_is(domain, z->policies[i].cfg.side)) {
            return &z->policies[i];
        }
    }
    return NULL;
}

/* Decides one request of policy p (zap.h, "Policies"): true to admit. *reason explains a
 * refusal. */
static bool decide(struct zap *z, struct zap_policy *p, zmq_msg_t *f, int total,
                   const char **reason)
{
    if (p->cfg.curve) {
        if (!frame_is(&f[5], "CURVE")) {
            *reason = "not a CURVE client";
            return false;
        }
        if (total != 7 || zmq_msg_size(&f[6]) != ZCERT_KEY_LEN) {
            *reason = "malformed CURVE credentials";
            return false;
        }
    } else if (!frame_is(&f[5], "NULL")) {
        *reason = "a security mechanism this socket does not use";
        return false;
    }
    if (z->nallow_from > 0) {
        uint8_t addr[CIDR_ADDR_LEN];
        if (cidr_address(zmq_msg_data(&f[3]), zmq_msg_size(&f[3]), addr) < 0) {
            *reason = "no IP address (ipc://?), and --allow-from admits addresses only";
            return false;
        }
        if (!cidr_any(z->allow_from, z->nallow_from, addr)) {
            *reason = "its address is not in --allow-from";
            return false;
        }
    }
    if (p->cfg.curve && p->cfg.allow_dir) {
        unsigned count;
        int rc = scan_dir(z, p, zmq_msg_data(&f[6]), &count);
        if (rc <= 0) {
            *reason = rc < 0 ? "the allow directory cannot be read" : p->key_unknown;
            return false;
        }
    }
    return true;
}

/* Answers one request. 1 when one was answered, 0 when none was queued, or a negative errno. */
static int serve_one(struct zap *z)
{
    zmq_msg_t *f = z->frames;
    int total = zsock_recv(&z->rep, f, ZAP_FRAMES);
    if (total <= 0) {
        if (total < 0 && total != -ETERM) {
            diag(z->who, "zap: zmq_msg_recv: %s", zmq_strerror(-total));
        }
        return total;
    }
    const char *status = "400", *reason = "";
    char addr[64] = "?";
    if (total >= 4) {
        size_t n = zmq_msg_size(&f[3]);
        n = n < sizeof addr - 1 ? n : sizeof addr - 1;
        memcpy(addr, zmq_msg_data(&f[3]), n);
        addr[n] = '\0';
        diag_printable(addr, n);
    }
    struct zap_policy *p = total >= 6 && frame_is(&f[0], "1.0") ? find_policy(z, &f[2]) : NULL;
    bool ok = false;
    if (p == NULL) {
        /* Not from one of our sockets, or not ZAP 1.0: libzmq never sends such a thing. */
        status = "500";
        reason = "malformed ZAP request, or a domain with no policy";
        z->malformed++;
        diag_limited(&z->malformed_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, z->who, "zap: %s",
                     reason);
    } else if ((ok = decide(z, p, f, total, &reason))) {
        status = "200";
        p->admitted++;
        if (p->cfg.curve) {
            diag_limited(&p->allow_limit, uv_now(z->loop), ZAP_ALLOW_LOG_MS, z->who,
                         "zap: admitted a CURVE client from %s (%s side)", addr, p->cfg.side);
        }
    } else {
        p->denied++;
        /* No key material: the address and the reason identify the client well enough. */
        diag_limited(&p->deny_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, z->who,
                     "zap: denied a client from %s: %s (%s side)", addr, reason, p->cfg.side);
    }
    /* Exactly one reply per request, whatever the request was: version, request id, status
     * code, status text, user id, metadata. */
    const void *id = total >= 2 ? zmq_msg_data(&f[1]) : "";
    size_t idlen = total >= 2 ? zmq_msg_size(&f[1]) : 0;
    int rc = send_frame(z, "1.0", 3, true);
    if (rc == 0) {
        rc = send_frame(z, id, idlen, true);
    }
    if (rc == 0) {
        rc = send_frame(z, status, 3, true);
    }
    if (rc == 0) {
        rc = send_frame(z, ok ? "OK" : reason, strlen(ok ? "OK" : reason), true);
    }
    if (rc == 0) {
        rc = send_frame(z, "", 0, true);
    }
    if (rc == 0) {
        rc = send_frame(z, "", 0, false);
    }
    if (rc < 0) {
        if (rc != -ETERM) {
            diag(z->who, "zap: zmq_send (reply): %s", zmq_strerror(-rc));
        }
        return rc;
    }
    return 1;
}

static void on_request(struct zsock *s)
{
    struct zap *z = s->data;
    for (int i = 0; i < ZAP_BUDGET; i++) {
        int ev = zsock_events(&z->rep);
        if (ev < 0 || !(ev & ZMQ_POLLIN) || serve_one(z) <= 0) {
            break;
        }
    }
}

int zap_open(struct zap *z, uv_loop_t *loop, void *zctx, const struct cidr *allow_from, size_t n,
             const char *who)
{
    memset(z, 0, sizeof *z);
    z->loop = loop;
    z->who = who;
    z->allow_from = allow_from;
    z->nallow_from = n;
    zsock_frames_init(z->frames, ZAP_FRAMES);
    z->frames_ready = true;
    /* Linger 0: a reply not yet taken is worth nothing once the process stops. */
    int rc = zsock_open(&z->rep, zctx, ZMQ_REP, "ZAP handler", who, 0, z);
    /* Fails with EADDRINUSE if another handler exists in this context: never ours to share. */
    if (rc == 0 && zmq_bind(z->rep.sock, ZAP_ENDPOINT) != 0) {
        rc = -zmq_errno();
        diag(who, "zmq_bind(%s): %s", ZAP_ENDPOINT, zmq_strerror(-rc));
    }
    if (rc == 0) {
        rc = zsock_watch(&z->rep, loop, ZMQ_POLLIN, on_request);
    }
    if (rc == 0 && n > 0) {
        diag(who, "zap: admitting peers from %zu address range%s (--allow-from) only", n,
             n == 1 ? "" : "s");
    }
    z->serving = rc == 0;
    return rc;
}

struct zap_policy *zap_policy_add(struct zap *z, const struct zap_policy_config *cfg)
{
    if (z->npolicies == ZAP_MAX_POLICIES) {
        diag(z->who, "zap: more than %d policies", ZAP_MAX_POLICIES);
        return NULL;
    }
    struct zap_policy *p = &z->policies[z->npolicies];
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    snprintf(p->key_unknown, sizeof p->key_unknown, "its key is not in %s",
             cfg->allow_flag ? cfg->allow_flag : "the allow directory");
    if (cfg->curve && cfg->allow_dir) {
        unsigned count;
        if (scan_dir(z, p, NULL, &count) < 0) {
            return NULL;
        }
        diag(z->who, "curve: %u client certificate%s in %s (re-read at every handshake)%s", count,
             count == 1 ? "" : "s", cfg->allow_dir,
             count ? "" : ": every client is denied until one is added");
    } else if (cfg->curve) {
        diag(z->who, "curve: no %s: every client with a valid CURVE handshake is admitted",
             cfg->allow_flag);
    }
    z->npolicies++;
    return p;
}

/* One family with a sample per policy: the uint64_t that get() reads. */
static void per_side(struct metrics *m, const struct zap *z, const char *name, const char *help,
                     uint64_t (*get)(const struct zap_policy *p))
{
    metrics_family(m, name, "counter", help);
    for (size_t i = 0; i < z->npolicies; i++) {
        const char *side = z->policies[i].cfg.side;
        metrics_sample(m, name, "side", side, strlen(side), get(&z->policies[i]));
    }
}

static uint64_t admitted(const struct zap_policy *p)
{
    return p->admitted;
}

static uint64_t denied(const struct zap_policy *p)
{
    return p->denied;
}

static uint64_t failed(const struct zap_policy *p)
{
    return p->monitor ? p->monitor->failed : 0;
}

static uint64_t refused(const struct zap_policy *p)
{
    return p->monitor ? p->monitor->refused : 0;
}

void zap_metrics(struct metrics *m, const struct zap *z)
{
    per_side(m, z, "downcase_zap_admitted_total", "Peers the ZAP handler admitted, by socket side.",
             admitted);
    per_side(m, z, "downcase_zap_denied_total",
             "Peers the ZAP handler refused (address not in --allow-from, key not allowed, "
             "wrong mechanism), by socket side.",
             denied);
    per_side(m, z, "downcase_zmq_handshakes_failed_total",
             "Handshakes that failed before ZAP (CURVE on one side only, a wrong server key, a "
             "peer hanging up half-way), by socket side.",
             failed);
    per_side(m, z, "downcase_zmq_connections_refused_total",
             "Connections refused before any handshake: not ZeroMQ 3 (raw bytes, HTTP, ZMTP 1.0 "
             "or 2.0); nothing they sent was used. By socket side.",
             refused);
}

void zap_close(struct zap *z, struct closer closed)
{
    if (z->serving) {
        z->serving = false;
        for (size_t i = 0; i < z->npolicies; i++) {
            const struct zap_policy *p = &z->policies[i];
            if (p->cfg.curve) {
                diag(z->who,
                     "curve: stopped: %llu clients admitted, %llu denied, %llu failed handshakes "
                     "(%s side)",
                     (unsigned long long)p->admitted, (unsigned long long)p->denied,
                     (unsigned long long)failed(p), p->cfg.side);
            }
        }
    }
    if (z->frames_ready) {
        /* No request is served once the socket's watch is asked to close. */
        zsock_frames_close(z->frames, ZAP_FRAMES);
        z->frames_ready = false;
    }
    zsock_close(&z->rep, closed);
}
