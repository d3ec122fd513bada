/* zap: the ZAP handler and the handshake-failure monitor on the loop. */
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
/* A CURVE request has 7 frames (RFC 27); more are read and dropped. */
#define ZAP_FRAMES 8
#define ZAP_MONITOR_ENDPOINT "inproc://downcase.curve-monitor"
/* A peer can make these happen at will: one line per interval at most. */
#define ZAP_DENY_LOG_MS 10000
#define ZAP_ALLOW_LOG_MS 1000

static const char *const who = "pub";

/* Reads the allow directory. With key NULL (start-up) every entry must be a loadable public
 * certificate, and the first that is not is reported and fails the call; otherwise a bad entry
 * is skipped with a rate-limited report (fail closed for that entry only) and the scan stops at
 * the first certificate holding key. Hidden entries, subdirectories and NAME_secret files are
 * skipped. Returns 1 when key was found, 0 when not (*count: certificates read), or a negative
 * errno (reported) when the directory cannot be read. */
static int scan_dir(struct zap *z, const uint8_t *key, unsigned *count)
{
    *count = 0;
    DIR *d = opendir(z->allow_dir);
    if (d == NULL) {
        int err = errno;
        if (key == NULL) {
            diag(who, "--curve-allow %s: %s", z->allow_dir, strerror(err));
        } else {
            diag_limited(&z->dir_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, who,
                         "--curve-allow %s: %s: denying every client", z->allow_dir, strerror(err));
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
        if (snprintf(path, sizeof path, "%s/%s", z->allow_dir, e->d_name) >= (int)sizeof path) {
            continue;
        }
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            continue;
        }
        if (nlen > 7 && strcmp(e->d_name + nlen - 7, "_secret") == 0) {
            if (key == NULL) {
                diag(who,
                     "--curve-allow %s: skipping %s: a secret certificate (only public ones "
                     "belong here; move it away)",
                     z->allow_dir, e->d_name);
            }
            continue;
        }
        struct zcert c;
        char why[512];
        if (zcert_load(path, ZCERT_PUBLIC, &c, why, sizeof why) < 0) {
            if (key == NULL) {
                diag(who, "--curve-allow %s: %s", path, why);
                rc = -EINVAL;
            } else {
                diag_limited(&z->dir_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, who,
                             "--curve-allow %s: skipped: %s", path, why);
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
        diag(who, "--curve-allow %s: readdir: %s", z->allow_dir, strerror(-rc));
    }
    closedir(d);
    return rc;
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* Sends one reply frame; the request id is echoed from the request. */
static int send_frame(void *sock, const void *data, size_t len, bool more)
{
    return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -zmq_errno() : 0;
}

/* Decides one request: true to admit. *reason explains a refusal. */
static bool decide(struct zap *z, zmq_msg_t *f, int total, const char **status, const char **reason)
{
    *status = "400";
    if (total < 6 || !frame_is(&f[0], "1.0")) {
        *status = "500";
        *reason = "malformed ZAP request";
        return false;
    }
    if (!frame_is(&f[5], "CURVE")) {
        *reason = "not a CURVE client";
        return false;
    }
    if (total != 7 || zmq_msg_size(&f[6]) != ZCERT_KEY_LEN) {
        *reason = "malformed CURVE credentials";
        return false;
    }
    if (z->allow_dir == NULL) {
        *status = "200";
        return true;
    }
    unsigned count;
    int rc = scan_dir(z, zmq_msg_data(&f[6]), &count);
    if (rc > 0) {
        *status = "200";
        return true;
    }
    *reason = rc < 0 ? "the allow directory cannot be read" : "its key is not in --curve-allow";
    return false;
}

/* Answers one request. 1 when one was answered, 0 when none was queued, or a negative errno. */
static int serve_one(struct zap *z)
{
    zmq_msg_t f[ZAP_FRAMES];
    int kept = 0, total = 0, rc = 0;
    for (;;) {
        zmq_msg_t extra;
        zmq_msg_t *m = kept < ZAP_FRAMES ? &f[kept] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, z->rep, ZMQ_DONTWAIT) < 0) {
            int err = zmq_errno();
            zmq_msg_close(m);
            /* Multipart messages arrive whole: EAGAIN only comes before the first frame. */
            rc = err == EAGAIN && total == 0 ? 0 : -err;
            if (rc < 0 && err != ETERM) {
                diag(who, "zap: zmq_msg_recv: %s", zmq_strerror(err));
            }
            goto out;
        }
        total++;
        bool more = zmq_msg_more(m);
        if (m == &extra) {
            zmq_msg_close(m);
        } else {
            kept++;
        }
        if (!more) {
            break;
        }
    }
    const char *status, *reason = "";
    bool ok = decide(z, f, total, &status, &reason);
    char addr[64] = "?";
    if (total >= 4) {
        size_t n = zmq_msg_size(&f[3]);
        n = n < sizeof addr - 1 ? n : sizeof addr - 1;
        memcpy(addr, zmq_msg_data(&f[3]), n);
        addr[n] = '\0';
    }
    if (ok) {
        z->allowed++;
        diag_limited(&z->allow_limit, uv_now(z->loop), ZAP_ALLOW_LOG_MS, who,
                     "zap: admitted a CURVE client from %s", addr);
    } else {
        z->denied++;
        /* No key material: the address and the reason identify the client well enough. */
        diag_limited(&z->deny_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, who,
                     "zap: denied a client from %s: %s", addr, reason);
    }
    /* Exactly one reply per request, whatever the request was: version, request id, status
     * code, status text, user id, metadata. */
    const void *id = total >= 2 ? zmq_msg_data(&f[1]) : "";
    size_t idlen = total >= 2 ? zmq_msg_size(&f[1]) : 0;
    rc = send_frame(z->rep, "1.0", 3, true);
    if (rc == 0) {
        rc = send_frame(z->rep, id, idlen, true);
    }
    if (rc == 0) {
        rc = send_frame(z->rep, status, 3, true);
    }
    if (rc == 0) {
        rc = send_frame(z->rep, ok ? "OK" : reason, strlen(ok ? "OK" : reason), true);
    }
    if (rc == 0) {
        rc = send_frame(z->rep, "", 0, true);
    }
    if (rc == 0) {
        rc = send_frame(z->rep, "", 0, false);
    }
    if (rc < 0) {
        if (rc != -ETERM) {
            diag(who, "zap: zmq_send (reply): %s", zmq_strerror(-rc));
        }
    } else {
        rc = 1;
    }
out:
    for (int i = 0; i < kept; i++) {
        zmq_msg_close(&f[i]);
    }
    return rc;
}

static void on_request(struct zwatch *w)
{
    struct zap *z = w->data;
    for (int i = 0; i < ZAP_BUDGET; i++) {
        int ev = zwatch_events(z->rep);
        if (ev < 0 || !(ev & ZMQ_POLLIN) || serve_one(z) <= 0) {
            break;
        }
    }
}

static const char *protocol_error(uint32_t value)
{
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "the client does not use CURVE";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "cryptographic error (does the client have the wrong server key?)";
    default:
        return NULL;
    }
}

/* A handshake that failed before reaching ZAP. */
static void on_handshake_event(struct zmonitor *m, uint16_t event, uint32_t value,
                               const char *endpoint)
{
    struct zap *z = m->data;
    /* HANDSHAKE_FAILED_AUTH is a ZAP refusal, already counted by the handler. */
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
        event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        z->failed++;
        const char *what = event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? protocol_error(value)
                                                                        : strerror((int)value);
        char other[64];
        if (what == NULL) {
            snprintf(other, sizeof other, "protocol error 0x%08x", (unsigned)value);
            what = other;
        }
        diag_limited(&z->fail_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, who,
                     "curve: a client's handshake failed on %s: %s", endpoint, what);
    }
}

/* Linger 0: neither socket has anything worth delivering at exit. */
static void *open_socket(void *zctx, int type, const char *name)
{
    void *s = zmq_socket(zctx, type);
    if (s == NULL) {
        diag(who, "zmq_socket(%s): %s", name, zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0;
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0) {
        diag(who, "zmq_setsockopt(ZMQ_LINGER) on %s: %s", name, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

int zap_init(struct zap *z, uv_loop_t *loop, void *zctx, const char *allow_dir)
{
    memset(z, 0, sizeof *z);
    z->loop = loop;
    z->allow_dir = allow_dir;
    if (allow_dir) {
        unsigned count;
        int rc = scan_dir(z, NULL, &count);
        if (rc < 0) {
            return rc;
        }
        diag(who, "curve: %u client certificate%s in %s (re-read at every handshake)%s", count,
             count == 1 ? "" : "s", allow_dir,
             count ? "" : ": every client is denied until one is added");
    } else {
        diag(who, "curve: no --curve-allow: every client with a valid CURVE handshake is "
                  "admitted");
    }
    z->rep = open_socket(zctx, ZMQ_REP, "ZAP handler");
    if (z->rep == NULL) {
        return -EINVAL;
    }
    /* Fails with EADDRINUSE if another handler exists in this context: never ours to share. */
    int rc = 0;
    if (zmq_bind(z->rep, ZAP_ENDPOINT) != 0) {
        rc = -zmq_errno();
        diag(who, "zmq_bind(%s): %s", ZAP_ENDPOINT, zmq_strerror(-rc));
    }
    if (rc == 0) {
        rc = zwatch_init(&z->rep_watch, loop, z->rep, ZMQ_POLLIN, on_request, "pub");
    }
    if (rc < 0) {
        zmq_close(z->rep);
        z->rep = NULL;
        return rc;
    }
    z->rep_watch.data = z;
    z->rep_watching = true;
    return 0;
}

int zap_watch(struct zap *z, void *zctx, void *server_sock)
{
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    int rc = zmonitor_init_events(&z->monitor, z->loop, zctx, server_sock, ZAP_MONITOR_ENDPOINT,
                                  events, on_handshake_event, who);
    z->monitor.data = z;
    return rc;
}

/* The zmq socket is closed only once libuv let go of its fd (zwatch.h). */
static void on_rep_unwatched(struct zwatch *w)
{
    struct zap *z = w->data;
    zmq_close(z->rep);
    z->rep = NULL;
}

void zap_close(struct zap *z)
{
    if (z->rep_watching) {
        diag(who, "curve: stopped: %llu clients admitted, %llu denied, %llu failed handshakes",
             (unsigned long long)z->allowed, (unsigned long long)z->denied,
             (unsigned long long)z->failed);
        z->rep_watching = false;
        zwatch_close(&z->rep_watch, on_rep_unwatched);
    }
    zmonitor_close(&z->monitor, NULL);
}
