/* cli: the command line: flags to a validated options struct, usage and errors. */
#ifndef DOWNCASE_CLI_H
#define DOWNCASE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "logline.h"
#include "probe.h"
#include "wire.h"

#define CLI_MAX_ENDPOINTS 64
#define CLI_MAX_TOPICS 64

enum cli_role {
    CLI_ROLE_NONE,
    CLI_ROLE_PUB,
    CLI_ROLE_SUB,
};

/* What the sub expects to receive; it always accepts both layouts (see wire.h). */
enum cli_expect {
    CLI_EXPECT_ANY,
    CLI_EXPECT_PLAIN,
    CLI_EXPECT_FRAMED,
};

/* Every string points into argv. */
struct cli_options {
    enum cli_role role;
    bool help;
    bool version;
    /* --probe=URL: a mode like --version, no role needed. NULL when not given. */
    const char *probe;
    struct probe_target probe_target;

    /* pub: HTTP listen address, split from HOST:PORT or [HOST]:PORT. */
    char listen_host[256];
    int listen_port;

    /* Both roles: ZeroMQ endpoints. When none is given the role's default applies. */
    const char *binds[CLI_MAX_ENDPOINTS];
    size_t nbinds;
    const char *connects[CLI_MAX_ENDPOINTS];
    size_t nconnects;

    /* pub: the layout published; sub: the layout expected (--wire unset: any). */
    enum wire_kind wire;
    enum cli_expect expect;
    /* pub: the one topic published under; sub: subscription prefixes (none: everything). */
    const char *topics[CLI_MAX_TOPICS];
    size_t ntopics;

    /* sub */
    const char *log_path;
    enum logline_format log_format;
};

/* Parses argv (argv[0] is the program). Both --flag=value and --flag value are accepted.
 * Returns 0, or -EINVAL with one line of explanation (no newline) in err. Fills the defaults
 * of the chosen role (pub: listen 0.0.0.0:5000, bind port 4444 on every interface, topic
 * downcase; sub: connect tcp://127.0.0.1:4444, log "-", format text). */
int cli_parse(int argc, char **argv, struct cli_options *o, struct buf *err);

/* Splits HOST:PORT or [IPV6]:PORT. 0 or -EINVAL. host is NUL-terminated. */
int cli_split_hostport(const char *s, char *host, size_t hostsz, int *port);

/* The --help text. */
extern const char cli_usage[];

#endif
