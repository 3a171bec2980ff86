/* nng_bridge.c - nng callbacks handed to a libuv loop (nng_bridge.h). */
#include "hw/worker/nng_bridge.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bridge_item {
    struct bridge_item *next;
    axl_bridge_event ev;
    uint32_t pipe;
    nng_msg *msg; /* AXL_BRIDGE_MSG only */
} bridge_item;

struct axl_bridge {
    uv_async_t async;
    nng_socket sock;
    nng_aio *aio;
    axl_bridge_cb cb;
    void *data;
    void (*close_cb)(void *);
    void *close_data;
    bool closed_loop; /* loop side: axl_bridge_close was called */
    int refs;         /* after close: the async handle and the closer thread */

    pthread_mutex_t mu; /* guards everything below */
    bool closing;       /* no uv_async_send once set */
    bridge_item *head, *tail;
};

/* Any thread. Takes msg (freed when the bridge is closing or out of memory). */
static void push(axl_bridge *b, axl_bridge_event ev, uint32_t pipe, nng_msg *msg)
{
    bridge_item *it = malloc(sizeof(*it));
    pthread_mutex_lock(&b->mu);
    if (b->closing || it == NULL) {
        pthread_mutex_unlock(&b->mu);
        free(it);
        if (msg != NULL)
            nng_msg_free(msg);
        return;
    }
    it->next = NULL;
    it->ev = ev;
    it->pipe = pipe;
    it->msg = msg;
    if (b->tail != NULL)
        b->tail->next = it;
    else
        b->head = it;
    b->tail = it;
    /* Sent under the lock: closing cannot be set (and the handle closed) in between. */
    uv_async_send(&b->async);
    pthread_mutex_unlock(&b->mu);
}

/* nng thread: one message received (or the socket is closing). */
static void recv_cb(void *arg)
{
    axl_bridge *b = arg;
    int rv = nng_aio_result(b->aio);
    if (rv == 0) {
        nng_msg *m = nng_aio_get_msg(b->aio);
        push(b, AXL_BRIDGE_MSG, (uint32_t)nng_pipe_id(nng_msg_get_pipe(m)), m);
    }
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    pthread_mutex_lock(&b->mu);
    bool closing = b->closing;
    pthread_mutex_unlock(&b->mu);
    if (!closing)
        nng_recv_aio(b->sock, b->aio); /* other errors (a dropped pipe) are transient */
}

/* nng thread: a peer came or went. */
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    push(arg, ev == NNG_PIPE_EV_ADD_POST ? AXL_BRIDGE_CONNECTED : AXL_BRIDGE_DISCONNECTED,
         (uint32_t)nng_pipe_id(p), NULL);
}

/* Loop thread: deliver what the nng threads queued, in order. */
static void async_cb(uv_async_t *h)
{
    axl_bridge *b = h->data;
    pthread_mutex_lock(&b->mu);
    bridge_item *it = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&b->mu);
    while (it != NULL) {
        bridge_item *next = it->next;
        /* The callback may close the bridge: nothing is delivered after that. */
        if (!b->closed_loop) {
            const void *buf = it->msg != NULL ? nng_msg_body(it->msg) : NULL;
            size_t len = it->msg != NULL ? nng_msg_len(it->msg) : 0;
            b->cb(b->data, it->ev, it->pipe, buf, len);
        }
        if (it->msg != NULL)
            nng_msg_free(it->msg);
        free(it);
        it = next;
    }
}

int axl_bridge_open(uv_loop_t *loop, nng_socket sock, axl_bridge_cb cb, void *data,
                    axl_bridge **out, axl_errbuf *eb)
{
    axl_bridge *b = calloc(1, sizeof(*b));
    int nrv;
    *out = NULL;
    if (b == NULL) {
        nng_close(sock);
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    }
    b->sock = sock;
    b->cb = cb;
    b->data = data;
    pthread_mutex_init(&b->mu, NULL);
    if ((nrv = nng_aio_alloc(&b->aio, recv_cb, b)) != 0) {
        nng_close(sock);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return axl_fail(eb, AXL_ENOMEM, "nng aio: %s", nng_strerror(nrv));
    }
    uv_async_init(loop, &b->async, async_cb);
    b->async.data = b;
    nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, pipe_cb, b);
    nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, pipe_cb, b);
    nng_recv_aio(sock, b->aio);
    *out = b;
    return 0;
}

nng_socket axl_bridge_socket(const axl_bridge *b)
{
    return b->sock;
}

int axl_bridge_send(axl_bridge *b, const void *buf, size_t len)
{
    nng_msg *m;
    if (b->closed_loop)
        return AXL_ECLOSED;
    if (nng_msg_alloc(&m, len) != 0)
        return AXL_ENOMEM;
    memcpy(nng_msg_body(m), buf, len);
    int nrv = nng_sendmsg(b->sock, m, NNG_FLAG_NONBLOCK);
    if (nrv != 0) {
        nng_msg_free(m);
        return nrv == NNG_EAGAIN ? AXL_EAGAIN : nrv == NNG_ECLOSED ? AXL_ECLOSED : AXL_EIO;
    }
    return 0;
}

/* ---- closing ----------------------------------------------------------------------------- */

/*
 * nng_close runs on a detached thread. libnng 1.5.2 can deadlock in nng_close when a
 * pipe is torn down while its receive is being re-armed (upstream issues #1543 / #1813,
 * fixed in nng 1.8): the loop thread must never wait on it. The bridge block is freed by
 * whichever finishes last - libuv closing the async handle, or the closer returning from
 * nng_close (if it never returns, the block is left behind and the loop goes on).
 */
static pthread_mutex_t closers_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t closers_cv = PTHREAD_COND_INITIALIZER;
static int closers;

static void release(axl_bridge *b)
{
    pthread_mutex_lock(&b->mu);
    bool last = --b->refs == 0;
    pthread_mutex_unlock(&b->mu);
    if (!last)
        return;
    for (bridge_item *it = b->head; it != NULL;) {
        bridge_item *next = it->next;
        if (it->msg != NULL)
            nng_msg_free(it->msg);
        free(it);
        it = next;
    }
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static void *closer_main(void *arg)
{
    axl_bridge *b = arg;
    nng_aio_stop(b->aio); /* waits for a callback in progress */
    nng_close(b->sock);   /* runs the last pipe callbacks, which see `closing` */
    nng_aio_free(b->aio);
    release(b);
    pthread_mutex_lock(&closers_mu);
    closers--;
    pthread_cond_broadcast(&closers_cv);
    pthread_mutex_unlock(&closers_mu);
    return NULL;
}

static void async_closed(uv_handle_t *h)
{
    axl_bridge *b = h->data;
    void (*cb)(void *) = b->close_cb;
    void *cd = b->close_data;
    release(b);
    if (cb != NULL)
        cb(cd);
}

void axl_bridge_close(axl_bridge *b, void (*close_cb)(void *close_data), void *close_data)
{
    if (b == NULL || b->closed_loop)
        return;
    b->closed_loop = true;
    b->close_cb = close_cb;
    b->close_data = close_data;
    pthread_mutex_lock(&b->mu);
    b->closing = true; /* from here no nng thread touches the async handle */
    b->refs = 2;       /* the async handle's close, and the closer */
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_lock(&closers_mu);
    closers++;
    pthread_mutex_unlock(&closers_mu);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, closer_main, b) != 0)
        closer_main(b); /* no thread: close inline */
    pthread_attr_destroy(&attr);
    uv_close((uv_handle_t *)&b->async, async_closed);
}

/* A socket that was never bridged (the engine's event stream): closed the same way. */
static void *socket_closer_main(void *arg)
{
    nng_socket *sock = arg;
    nng_close(*sock);
    free(sock);
    pthread_mutex_lock(&closers_mu);
    closers--;
    pthread_cond_broadcast(&closers_cv);
    pthread_mutex_unlock(&closers_mu);
    return NULL;
}

void axl_bridge_close_socket(nng_socket sock)
{
    nng_socket *arg = malloc(sizeof(*arg));
    if (arg == NULL) {
        nng_close(sock); /* no memory for the thread's argument: close inline */
        return;
    }
    *arg = sock;
    pthread_mutex_lock(&closers_mu);
    closers++;
    pthread_mutex_unlock(&closers_mu);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, socket_closer_main, arg) != 0)
        socket_closer_main(arg); /* no thread: close inline */
    pthread_attr_destroy(&attr);
}

bool axl_bridge_drain(double timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    until.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&closers_mu);
    while (closers > 0 && pthread_cond_timedwait(&closers_cv, &closers_mu, &until) == 0)
        ;
    bool done = closers == 0;
    pthread_mutex_unlock(&closers_mu);
    return done;
}
