/* zcert: czmq-compatible CurveZMQ certificate files. */
#include "zcert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static int fail(char *why, size_t whysz, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t whysz, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
    return -err;
}

/* Checks one Z85 key value and decodes it into out (which may be NULL). */
static int check_key(const char *name, const char *v, size_t len, uint8_t *out, char *why,
                     size_t whysz)
{
    /* zmq_z85_decode writes len * 4 / 5 bytes whatever the buffer: check the length first. */
    if (len != ZCERT_Z85_LEN) {
        return fail(why, whysz, EINVAL, "%s is %zu characters long; a Z85 key has %d", name, len,
                    ZCERT_Z85_LEN);
    }
    char z85[ZCERT_Z85_LEN + 1];
    uint8_t key[ZCERT_KEY_LEN];
    memcpy(z85, v, len);
    z85[len] = '\0';
    int ok = zmq_z85_decode(key, z85) != NULL;
    if (ok && out) {
        memcpy(out, key, sizeof key);
    }
    explicit_bzero(z85, sizeof z85);
    explicit_bzero(key, sizeof key);
    return ok ? 0 : fail(why, whysz, EINVAL, "%s is not valid Z85", name);
}

/* One property line inside a section: `name = value`, the value quoted ("..." or '...') or a
 * bare word, optionally followed by a comment. Sets value and vlen; -1 when malformed. */
static int split_property(const char *s, const char *end, const char **name, size_t *nlen,
                          const char **value, size_t *vlen)
{
    const char *p = s;
    while (p < end && *p != '=' && *p != ' ' && *p != '\t') {
        p++;
    }
    *name = s;
    *nlen = (size_t)(p - s);
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (*nlen == 0 || p == end || *p != '=') {
        return -1;
    }
    p++;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p < end && (*p == '"' || *p == '\'')) {
        const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
        if (close == NULL) {
            return -1;
        }
        *value = p + 1;
        *vlen = (size_t)(close - p - 1);
        p = close + 1;
    } else {
        *value = p;
        while (p < end && *p != ' ' && *p != '\t') {
            p++;
        }
        *vlen = (size_t)(p - *value);
    }
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    return p == end || *p == '#' ? 0 : -1;
}

int zcert_parse(const char *text, size_t len, enum zcert_kind kind, struct zcert *c, char *why,
                size_t whysz)
{
    memset(c, 0, sizeof *c);
    if (memchr(text, '\0', len) != NULL) {
        return fail(why, whysz, EINVAL, "holds a NUL byte: not a text certificate");
    }
    const char *pub = NULL, *sec = NULL;
    size_t publen = 0, seclen = 0;
    bool in_curve = false, saw_curve = false;
    unsigned lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        const char *le = eol ? eol : end;
        lineno++;
        if (le > p && le[-1] == '\r') {
            le--;
        }
        size_t indent = 0;
        while (p + indent < le && p[indent] == ' ') {
            indent++;
        }
        const char *s = p + indent;
        p = next;
        if (s == le || *s == '#') {
            continue;
        }
        if (*s == '\t') {
            return fail(why, whysz, EINVAL,
                        "line %u: indented with a tab (ZPL indents with spaces)", lineno);
        }
        if (indent % 4 != 0) {
            return fail(why, whysz, EINVAL, "line %u: indented by %zu spaces (ZPL uses steps of 4)",
                        lineno, indent);
        }
        if (indent == 0) {
            /* A section name, possibly with a value of its own: only `curve` matters. */
            size_t n = 0;
            while (s + n < le && s[n] != ' ' && s[n] != '\t' && s[n] != '=') {
                n++;
            }
            in_curve = n == 5 && memcmp(s, "curve", 5) == 0;
            saw_curve |= in_curve;
            continue;
        }
        if (!in_curve || indent != 4) {
            continue;
        }
        const char *name, *value;
        size_t nlen, vlen;
        if (split_property(s, le, &name, &nlen, &value, &vlen) < 0) {
            return fail(why, whysz, EINVAL,
                        "line %u: malformed property in the curve section (expected "
                        "name = \"value\")",
                        lineno);
        }
        bool is_pub = nlen == 10 && memcmp(name, "public-key", 10) == 0;
        bool is_sec = nlen == 10 && memcmp(name, "secret-key", 10) == 0;
        if ((is_pub && pub) || (is_sec && sec)) {
            return fail(why, whysz, EINVAL, "line %u: %.10s given twice", lineno, name);
        }
        if (is_pub) {
            pub = value;
            publen = vlen;
        } else if (is_sec) {
            sec = value;
            seclen = vlen;
        }
    }
    if (!saw_curve) {
        return fail(why, whysz, EINVAL, "no curve section: not a ZeroMQ certificate");
    }
    if (pub == NULL) {
        return fail(why, whysz, EINVAL, "no public-key in the curve section");
    }
    int rc = check_key("public-key", pub, publen, c->public_key, why, whysz);
    if (rc < 0) {
        return rc;
    }
    memcpy(c->public_z85, pub, publen);
    c->public_z85[publen] = '\0';
    if (kind == ZCERT_PUBLIC) {
        return 0;
    }
    if (sec == NULL) {
        zcert_wipe(c);
        return fail(why, whysz, EINVAL,
                    "no secret-key in the curve section (a public certificate? the secret one "
                    "is the NAME_secret file)");
    }
    rc = check_key("secret-key", sec, seclen, NULL, why, whysz);
    if (rc < 0) {
        zcert_wipe(c);
        return rc;
    }
    memcpy(c->secret_z85, sec, seclen);
    c->secret_z85[seclen] = '\0';
    /* A hand-edited file can pair keys that do not belong together; CURVE would then fail at
     * every handshake with nothing to say why. */
    char derived[ZCERT_Z85_LEN + 1];
    if (zmq_curve_public(derived, c->secret_z85) != 0 || strcmp(derived, c->public_z85) != 0) {
        zcert_wipe(c);
        return fail(why, whysz, EINVAL, "public-key is not the public key of secret-key");
    }
    return 0;
}

int zcert_load(const char *path, enum zcert_kind kind, struct zcert *c, char *why, size_t whysz)
{
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return fail(why, whysz, errno, "cannot open: %s", strerror(errno));
    }
    char *text = NULL;
    size_t len = 0;
    int rc;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = fail(why, whysz, errno, "cannot stat: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fail(why, whysz, EINVAL, "not a regular file");
        goto out;
    }
    if (kind == ZCERT_SECRET && (st.st_mode & 077) != 0) {
        rc = fail(why, whysz, EACCES,
                  "a secret key file accessible to group or others (mode %04o); "
                  "chmod 600 it",
                  (unsigned)(st.st_mode & 07777));
        goto out;
    }
    if (st.st_size > ZCERT_MAX_FILE) {
        rc = fail(why, whysz, EFBIG, "%lld bytes: too large for a certificate (at most %d)",
                  (long long)st.st_size, ZCERT_MAX_FILE);
        goto out;
    }
    /* One byte more than allowed, to notice a file that grew since fstat. */
    text = malloc(ZCERT_MAX_FILE + 1);
    if (text == NULL) {
        rc = fail(why, whysz, ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, text + len, ZCERT_MAX_FILE + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = fail(why, whysz, errno, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len > ZCERT_MAX_FILE) {
            rc = fail(why, whysz, EFBIG, "too large for a certificate (at most %d bytes)",
                      ZCERT_MAX_FILE);
            goto out;
        }
    }
    rc = zcert_parse(text, len, kind, c, why, whysz);
out:
    if (text) {
        /* The secret key passed through this buffer (only the bytes read were written). */
        explicit_bzero(text, len);
        free(text);
    }
    close(fd);
    return rc;
}

/* Writes all of s to fd. 0 or a negative errno. */
static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The layout czmq's zcert_save_public/zcert_save_secret produce (and pyzmq copies). */
static const char public_banner[] =
    "#   ZeroMQ CURVE Public Certificate\n"
    "#   Exchange securely, or use a secure mechanism to verify the contents\n"
    "#   of this file after exchange. Store public certificates in your home\n"
    "#   directory, in the .curve subdirectory.\n";
static const char secret_banner[] =
    "#   ZeroMQ CURVE **Secret** Certificate\n"
    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n";

static int format_cert(char *out, size_t outsz, const char *stamp, const char *pub, const char *sec)
{
    int n = snprintf(out, outsz,
                     "#   ****  Generated on %s by downcase  ****\n"
                     "%s\n"
                     "metadata\n"
                     "curve\n"
                     "    public-key = \"%s\"\n"
                     "%s%s%s",
                     stamp, sec ? secret_banner : public_banner, pub,
                     sec ? "    secret-key = \"" : "", sec ? sec : "", sec ? "\"\n" : "");
    return n < 0 || (size_t)n >= outsz ? -1 : n;
}

/* Creates path for writing, never over an existing file (O_EXCL: a key pair is never
 * overwritten, not even by a race with another keygen). The fd, or a negative errno with why. */
static int create_new(const char *path, mode_t mode, char *why, size_t whysz)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0) {
        return fail(why, whysz, errno, "cannot create %s: %s%s", path, strerror(errno),
                    errno == EEXIST ? " (refusing to overwrite a key; remove it or pick a new name)"
                                    : "");
    }
    return fd;
}

int zcert_generate(const char *name, char *why, size_t whysz)
{
    size_t nlen = strlen(name);
    char *secret_path = malloc(nlen + sizeof "_secret");
    if (secret_path == NULL) {
        return fail(why, whysz, ENOMEM, "out of memory");
    }
    memcpy(secret_path, name, nlen);
    memcpy(secret_path + nlen, "_secret", sizeof "_secret");

    char pub[ZCERT_Z85_LEN + 1], sec[ZCERT_Z85_LEN + 1];
    char text[1024];
    int pfd = -1, sfd = -1, rc = 0;
    if (zmq_curve_keypair(pub, sec) != 0) {
        rc = fail(why, whysz, zmq_errno(), "zmq_curve_keypair: %s (libzmq built without CURVE?)",
                  zmq_strerror(zmq_errno()));
        goto out;
    }
    sfd = create_new(secret_path, 0600, why, whysz);
    if (sfd < 0) {
        rc = sfd;
        goto out;
    }
    pfd = create_new(name, 0644, why, whysz);
    if (pfd < 0) {
        rc = pfd;
        goto out;
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL ||
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        strcpy(stamp, "(unknown time)");
    }
    int n = format_cert(text, sizeof text, stamp, pub, sec);
    int err = n < 0 ? -EOVERFLOW : write_all(sfd, text, (size_t)n);
    if (err == 0 && fsync(sfd) != 0) {
        err = -errno;
    }
    if (err < 0) {
        rc = fail(why, whysz, -err, "cannot write %s: %s", secret_path, strerror(-err));
        goto out;
    }
    n = format_cert(text, sizeof text, stamp, pub, NULL);
    err = n < 0 ? -EOVERFLOW : write_all(pfd, text, (size_t)n);
    if (err == 0 && fsync(pfd) != 0) {
        err = -errno;
    }
    if (err < 0) {
        rc = fail(why, whysz, -err, "cannot write %s: %s", name, strerror(-err));
        goto out;
    }
out:
    if (pfd >= 0 && close(pfd) != 0 && rc == 0) {
        rc = fail(why, whysz, errno, "cannot write %s: %s", name, strerror(errno));
    }
    if (sfd >= 0 && close(sfd) != 0 && rc == 0) {
        rc = fail(why, whysz, errno, "cannot write %s: %s", secret_path, strerror(errno));
    }
    if (rc < 0) {
        /* Only what this call created is removed. */
        if (pfd >= 0) {
            unlink(name);
        }
        if (sfd >= 0) {
            unlink(secret_path);
        }
    }
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(text, sizeof text);
    free(secret_path);
    return rc;
}

void zcert_wipe(struct zcert *c)
{
    explicit_bzero(c, sizeof *c);
}
