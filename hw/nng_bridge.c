/* nng_bridge.c - nng callbacks handed to a libuv loop (nng_bridge.h). */
#include "hw/nng_bridge.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct bridge_item {
    struct bridge_item *next;
    axl_bridge_event ev;
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

    pthread_mutex_t mu; /* guards everything below */
    bool closing;       /* no uv_async_send once set */
    bridge_item *head, *tail;
};

/* Any thread. Takes msg (freed when the bridge is closing or out of memory). */
static void push(axl_bridge *b, axl_bridge_event ev, nng_msg *msg)
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
    if (rv == 0)
        push(b, AXL_BRIDGE_MSG, nng_aio_get_msg(b->aio));
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
    (void)p;
    push(arg, ev == NNG_PIPE_EV_ADD_POST ? AXL_BRIDGE_CONNECTED : AXL_BRIDGE_DISCONNECTED, NULL);
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
            b->cb(b->data, it->ev, buf, len);
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

static void async_closed(uv_handle_t *h)
{
    axl_bridge *b = h->data;
    for (bridge_item *it = b->head; it != NULL;) {
        bridge_item *next = it->next;
        if (it->msg != NULL)
            nng_msg_free(it->msg);
        free(it);
        it = next;
    }
    void (*cb)(void *) = b->close_cb;
    void *cd = b->close_data;
    pthread_mutex_destroy(&b->mu);
    free(b);
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
    b->closing = true;
    pthread_mutex_unlock(&b->mu);
    nng_aio_stop(b->aio); /* waits for a callback in progress */
    nng_close(b->sock);   /* runs the last pipe callbacks, which see `closing` */
    nng_aio_free(b->aio);
    uv_close((uv_handle_t *)&b->async, async_closed);
}
