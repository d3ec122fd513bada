/* natsloop: libnats' event-loop hooks over libuv (natsloop.h). */
#include "natsloop.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"

static bool on_loop_thread(struct natsloop *l)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &l->thread) != 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct natsloop *l = h->data;
    if (h != (uv_handle_t *)&l->wake) {
        free(h); /* a poll handle: heap, one per connection made */
    }
    if (--l->open_handles == 0 && l->closing) {
        closer_done(&l->closed);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct natsloop *l = h->data;
    natsConnection *nc = l->nc;
    /* An error on the socket is handed over as a read: libnats then finds the failure and
     * reconnects. */
    if (status < 0 || (events & UV_READABLE)) {
        natsConnection_ProcessReadEvent(nc);
    }
    if (status == 0 && (events & UV_WRITABLE)) {
        natsConnection_ProcessWriteEvent(nc);
    }
}

static void drop_poll(struct natsloop *l)
{
    if (l->poll != NULL) {
        uv_close((uv_handle_t *)l->poll, on_handle_closed);
        l->poll = NULL;
        l->applied_events = 0;
    }
}

/* Makes the handles match what libnats asked for. The loop's thread only. */
static void apply(struct natsloop *l)
{
    uv_mutex_lock(&l->mu);
    int fd = l->fd;
    unsigned gen = l->gen;
    int events = l->events;
    uv_mutex_unlock(&l->mu);
    if (l->closing) {
        return;
    }
    if (gen != l->applied_gen) {
        drop_poll(l);
        l->applied_gen = gen;
        if (fd >= 0) {
            uv_poll_t *p = malloc(sizeof *p);
            if (p == NULL || uv_poll_init_socket(l->loop, p, fd) < 0) {
                /* libnats' ping finds the connection dead and reconnects: reported there */
                diag("sub", "forward: cannot watch the NATS socket %d", fd);
                free(p);
                return;
            }
            p->data = l;
            l->poll = p;
            l->open_handles++;
        }
    }
    if (l->poll != NULL && events != l->applied_events) {
        int rc = events ? uv_poll_start(l->poll, events, on_poll) : uv_poll_stop(l->poll);
        if (rc == 0) {
            l->applied_events = events;
        }
    }
}

static void on_wake(uv_async_t *a)
{
    apply(a->data);
}

static natsStatus changed(struct natsloop *l)
{
    if (on_loop_thread(l)) {
        apply(l);
        return NATS_OK;
    }
    return uv_async_send(&l->wake) == 0 ? NATS_OK : NATS_ERR;
}

static natsStatus hook_attach(void **user, void *loop, natsConnection *nc, natsSock fd)
{
    struct natsloop *l = loop;
    *user = l;
    uv_mutex_lock(&l->mu);
    l->nc = nc;
    l->fd = fd;
    l->gen++;
    l->events = UV_READABLE;
    uv_mutex_unlock(&l->mu);
    return changed(l);
}

static natsStatus set_event(void *user, int event, bool add)
{
    struct natsloop *l = user;
    uv_mutex_lock(&l->mu);
    l->events = add ? (l->events | event) : (l->events & ~event);
    uv_mutex_unlock(&l->mu);
    return changed(l);
}

static natsStatus hook_read(void *user, bool add)
{
    return set_event(user, UV_READABLE, add);
}

static natsStatus hook_write(void *user, bool add)
{
    return set_event(user, UV_WRITABLE, add);
}

static natsStatus hook_detach(void *user)
{
    struct natsloop *l = user;
    uv_mutex_lock(&l->mu);
    l->fd = -1;
    l->gen++;
    l->events = 0;
    uv_mutex_unlock(&l->mu);
    return changed(l);
}

int natsloop_init(struct natsloop *l, uv_loop_t *loop, const char *who)
{
    memset(l, 0, sizeof *l);
    l->loop = loop;
    l->fd = -1;
    l->thread = uv_thread_self();
    int rc = uv_mutex_init(&l->mu);
    if (rc < 0) {
        diag(who, "uv_mutex_init: %s", uv_strerror(rc));
        return rc;
    }
    rc = uv_async_init(loop, &l->wake, on_wake);
    if (rc < 0) {
        diag(who, "uv_async_init: %s", uv_strerror(rc));
        uv_mutex_destroy(&l->mu);
        return rc;
    }
    l->wake.data = l;
    l->open_handles = 1;
    l->ready = true;
    return 0;
}

natsStatus natsloop_options(struct natsloop *l, natsOptions *opts)
{
    return natsOptions_SetEventLoop(opts, l, hook_attach, hook_read, hook_write, hook_detach);
}

void natsloop_close(struct natsloop *l, struct closer closed)
{
    if (!l->ready || l->closing) {
        closer_done(&closed);
        return;
    }
    l->closing = true;
    l->closed = closed;
    drop_poll(l);
    uv_close((uv_handle_t *)&l->wake, on_handle_closed);
    uv_mutex_destroy(&l->mu);
    l->ready = false;
}
