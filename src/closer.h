/* closer: how a part says it has finished closing, and a barrier that waits for several.
 *
 * Every part of a role (a ZeroMQ socket, a monitor, the HTTP server, the log) closes the same
 * way: part_close(part, closer) may be called on a part that never opened, or that is already
 * closing, and the closer then runs exactly once, when the part has let go of everything: from
 * the loop once libuv has closed its handles, or at once when nothing was open. libuv's uv_close
 * is the model, with one difference: a part with nothing open completes synchronously. A role's
 * stop hands each part a closer taken from one barrier, and the barrier holds itself until every
 * close has been asked for, so a synchronous completion can never end it early. */
#ifndef DOWNCASE_CLOSER_H
#define DOWNCASE_CLOSER_H

struct closer {
    void (*fn)(void *arg); /* NULL: nobody waits */
    void *arg;
};

/* Runs c's function once, if it has one, and empties c (so a second call does nothing). */
void closer_done(struct closer *c);

struct barrier {
    unsigned pending;
    struct closer then;
};

/* Starts a barrier that runs `then` once its owner has released it and every closer taken from
 * it is done. The owner holds it until barrier_release. */
void barrier_init(struct barrier *b, struct closer then);
/* One more hold on b, released by barrier_release. */
void barrier_hold(struct barrier *b);
/* A closer that releases one hold of b when done. */
struct closer barrier_take(struct barrier *b);
/* Releases one hold (the owner's, or a taken closer's). */
void barrier_release(struct barrier *b);

#endif
