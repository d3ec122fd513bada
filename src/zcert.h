/* zcert: CurveZMQ key files in czmq's zcert format, read and written.
 *
 * A certificate is two text files (czmq src/zcert.c): NAME, the public certificate, and
 * NAME_secret, which holds the public and the secret key. Both are ZPL (ZeroMQ RFC 4): '#'
 * comments, a `metadata` section and a `curve` section whose children, indented four spaces,
 * are `public-key = "Z85"` and, in the secret file, `secret-key = "Z85"`. Z85 may contain '#'
 * and '=', so values are written quoted and a quoted value is read verbatim. pyzmq's
 * zmq.auth.load_certificate/create_certificates and czmq read and write the same files.
 *
 * Every failure comes with a reason that names no key material, for the caller to print after
 * the file's name; secret keys are wiped from every buffer they passed through. */
#ifndef DOWNCASE_ZCERT_H
#define DOWNCASE_ZCERT_H

#include <stddef.h>
#include <stdint.h>

/* A Z85 key is 40 characters for 32 bytes. */
#define ZCERT_Z85_LEN 40
#define ZCERT_KEY_LEN 32
/* Bigger files are not certificates (czmq's are ~300 bytes). */
#define ZCERT_MAX_FILE 65536

enum zcert_kind {
    ZCERT_PUBLIC, /* needs public-key; a secret-key, if present, is ignored and never kept */
    ZCERT_SECRET, /* needs both keys, matching; the file must not be accessible to others */
};

struct zcert {
    char public_z85[ZCERT_Z85_LEN + 1];
    char secret_z85[ZCERT_Z85_LEN + 1]; /* empty for ZCERT_PUBLIC */
    uint8_t public_key[ZCERT_KEY_LEN];
};

/* Parses certificate text. 0, or -EINVAL with the reason in why (one line, no newline). */
int zcert_parse(const char *text, size_t len, enum zcert_kind kind, struct zcert *c, char *why,
                size_t whysz);

/* Reads and parses the file at path (a regular file of at most ZCERT_MAX_FILE bytes; for
 * ZCERT_SECRET also mode & 077 == 0). 0, or a negative errno with the reason in why. */
int zcert_load(const char *path, enum zcert_kind kind, struct zcert *c, char *why, size_t whysz);

/* Writes a new key pair as `name` (public, mode 0644 before umask) and `name`_secret (mode
 * 0600), both created exclusively: an existing file is never overwritten. On failure nothing is
 * left behind. 0, or a negative errno with the reason (naming the file) in why. */
int zcert_generate(const char *name, char *why, size_t whysz);

/* Overwrites the keys held by c. */
void zcert_wipe(struct zcert *c);

#endif
