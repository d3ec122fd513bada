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
#define ZAP_MONITOR_ENDPOINT "inproc://downcase.curve-monitor"
/* A peer can make these happen at will: one line per interval at most. */
#define ZAP_DENY_LOG_MS 10000
#define ZAP_ALLOW_LOG_MS 1000

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
            diag(z->who, "--curve-allow %s: %s", z->allow_dir, strerror(err));
        } else {
            diag_limited(&z->dir_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, z->who,
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
                diag(z->who,
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
                diag(z->who, "--curve-allow %s: %s", path, why);
                rc = -EINVAL;
            } else {
                diag_limited(&z->dir_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, z->who,
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
        diag(z->who, "--curve-allow %s: readdir: %s", z->allow_dir, strerror(-rc));
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
    zmq_msg_t *f = z->frames;
    int total = zsock_recv(&z->rep, f, ZAP_FRAMES);
    if (total <= 0) {
        if (total < 0 && total != -ETERM) {
            diag(z->who, "zap: zmq_msg_recv: %s", zmq_strerror(-total));
        }
        return total;
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
        diag_limited(&z->allow_limit, uv_now(z->loop), ZAP_ALLOW_LOG_MS, z->who,
                     "zap: admitted a CURVE client from %s", addr);
    } else {
        z->denied++;
        /* No key material: the address and the reason identify the client well enough. */
        diag_limited(&z->deny_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, z->who,
                     "zap: denied a client from %s: %s", addr, reason);
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
        diag_limited(&z->fail_limit, uv_now(z->loop), ZAP_DENY_LOG_MS, z->who,
                     "curve: a client's handshake failed on %s: %s", endpoint, what);
    }
}

int zap_open(struct zap *z, uv_loop_t *loop, void *zctx, const char *allow_dir, const char *who)
{
    memset(z, 0, sizeof *z);
    z->loop = loop;
    z->who = who;
    z->allow_dir = allow_dir;
    zsock_frames_init(z->frames, ZAP_FRAMES);
    z->frames_ready = true;
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
    z->serving = rc == 0;
    return rc;
}

int zap_watch(struct zap *z, void *zctx, void *server_sock)
{
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    int rc = zmonitor_open_events(&z->monitor, z->loop, zctx, server_sock, ZAP_MONITOR_ENDPOINT,
                                  events, on_handshake_event, z->who);
    z->monitor.data = z;
    return rc;
}

void zap_close(struct zap *z, struct closer closed)
{
    if (z->serving) {
        z->serving = false;
        diag(z->who, "curve: stopped: %llu clients admitted, %llu denied, %llu failed handshakes",
             (unsigned long long)z->allowed, (unsigned long long)z->denied,
             (unsigned long long)z->failed);
    }
    if (z->frames_ready) {
        /* No request is served once the socket's watch is asked to close. */
        zsock_frames_close(z->frames, ZAP_FRAMES);
        z->frames_ready = false;
    }
    barrier_init(&z->closing, closed);
    zmonitor_close(&z->monitor, barrier_take(&z->closing));
    zsock_close(&z->rep, barrier_take(&z->closing));
    barrier_release(&z->closing);
}
