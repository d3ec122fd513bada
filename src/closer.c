/* closer: close completions and barriers (closer.h). */
#include "closer.h"

#include <stddef.h>

void closer_done(struct closer *c)
{
    struct closer run = *c;
    c->fn = NULL;
    c->arg = NULL;
    if (run.fn) {
        run.fn(run.arg);
    }
}

void barrier_init(struct barrier *b, struct closer then)
{
    b->pending = 1;
    b->then = then;
}

static void release(void *arg)
{
    barrier_release(arg);
}

void barrier_hold(struct barrier *b)
{
    b->pending++;
}

struct closer barrier_take(struct barrier *b)
{
    barrier_hold(b);
    return (struct closer){release, b};
}

void barrier_release(struct barrier *b)
{
    if (b->pending > 0 && --b->pending == 0) {
        closer_done(&b->then);
    }
}
