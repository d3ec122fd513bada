/* runtime: what every role shares, so that a role is a short recipe over its parts.
 *
 * The runtime owns the event loop, the ZeroMQ context, the INT/TERM/HUP handlers, the HTTP
 * server (the pub's front, or the sub's and relay's optional status server) with its router and
 * the /healthz and /metrics routes, and the close barrier. A role gives a recipe: how to open
 * its parts in order, what to finish on the first stop signal, how to close its parts, what
 * SIGHUP means, and what to add to /healthz and /metrics.
 *
 * Start: signals are handled first (one that arrives while the parts open waits for the loop),
 * then recipe.open runs. If it fails, the same stop path as a signal's runs, minus drain: every
 * part is closed whether it opened or not, which closing parts make safe (closer.h), and the
 * process exits 1.
 *
 * Stop, on the first SIGINT or SIGTERM:
 *   1. recipe.drain: the role finishes what it owes (the sub writes what its socket holds);
 *   2. the HTTP server stops accepting; with a grace period (the pub's requests in progress
 *      still publish, so its parts wait for them), recipe.close runs once the last connection
 *      is gone; without one (sub, relay), at once;
 *   3. recipe.close closes every part, each with a closer taken from the barrier;
 *   4. when the barrier completes the signal handles close, the loop has nothing left and
 *      uv_run returns; uv_loop_close proves nothing was left open;
 *   5. recipe.finish (after the loop: the sub fsyncs its log), then the ZeroMQ context ends
 *      within recipe.term_ms (zcontext.h): last, because it waits for every socket.
 * A second signal closes the remaining HTTP connections at once when there is a grace period.
 * SIGHUP runs recipe.hup, or is reported and ignored: its default action would kill the
 * process, and a stray one (a logrotate postrotate aimed at every downcase) must not. */
#ifndef DOWNCASE_RUNTIME_H
#define DOWNCASE_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "closer.h"
#include "http_server.h"
#include "metrics.h"
#include "router.h"
#include "status_routes.h"

struct runtime;

/* The 404 body of a server that answers only the status routes. */
#define RUNTIME_STATUS_NOT_FOUND "404 Not Found: this server answers /healthz and /metrics\n"

struct runtime_recipe {
    const char *who;       /* the role, for diagnostics */
    const char *not_found; /* the HTTP server's 404 body */
    uint64_t grace_ms;     /* > 0: HTTP requests in progress finish before the parts close */
    unsigned term_ms;      /* how long the ZeroMQ context may take to end */
    /* Opens the parts in order (runtime_listen where the HTTP server should start). 0 or a
     * negative errno, reported where it failed; close runs either way. */
    int (*open)(struct runtime *rt);
    /* Optional: the first stop signal; the role finishes its work and says it is stopping
     * (without it the runtime says "SIGNAL: stopping"). */
    void (*drain)(struct runtime *rt, int signum);
    /* Closes every part, each with runtime_closer(rt). */
    void (*close)(struct runtime *rt);
    /* Optional: after the loop, before the context ends. 0, or < 0 to exit 1. */
    int (*finish)(struct runtime *rt);
    /* Optional: SIGHUP. */
    void (*hup)(struct runtime *rt);
    /* Optional: a reason the role is unhealthy, for /healthz; NULL when healthy. */
    const char *(*unhealthy)(struct runtime *rt);
    /* Optional: the role's families for /metrics, after the build info and HTTP families. */
    void (*metrics)(struct runtime *rt, struct metrics *m);
};

/* Where the HTTP server listens (port < 0: no server) and its limits. */
struct runtime_config {
    const char *host;
    int port;
    struct http_limits limits;
};

struct runtime {
    uv_loop_t loop;
    void *zctx;
    const struct runtime_recipe *recipe;
    const struct runtime_config *cfg;
    void *role; /* the role's state, for its recipe */
    struct router router;
    struct status_routes status;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup;
    struct barrier closing;
    bool stopping;
    bool failed;
    /* Last: it holds the connections' shared read buffer. */
    struct http_server http;
};

/* Runs a role to its end: the process's exit status (0, or 1 when it could not start, left a
 * handle open, or its finish failed). */
int runtime_run(const struct runtime_recipe *recipe, void *role, const struct runtime_config *cfg);

/* Starts the HTTP server when the configuration asks for one. 0 or a negative errno (reported). */
int runtime_listen(struct runtime *rt);
/* A closer for one part's close (recipe.close). */
struct closer runtime_closer(struct runtime *rt);

#endif
