/*
 * ot2.c - the OT-2 liquid handler's client (HARDWARE.md §7): JSON over a WebSocket
 * (nng's ws:// stream dialer, text frames), each task `acknowledged` then `completed`.
 * nng's callbacks run on nng's threads: they only queue what happened under a mutex and
 * wake the loop with uv_async_send; every decision is taken on the loop thread.
 */
#include "hw/devices/axl_ot2.h"

#include <jansson.h>
#include <math.h>
#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define RX_MAX (1 << 20)
#define RX_CHUNK (256 << 10)
#define OT2_ACK_MS 2000  /* an acknowledgement is due this long after a task is sent */
#define OT2_DIAL_MS 5000 /* a (re)connection's own bound */

typedef struct ot2_task {
    char id[40];
    char name[48];
    double expect_s; /* device seconds until `completed` at most (a generous bound) */
    bool acked;
    uv_timer_t timer;
    axl_dev_cb cb;
    void *arg;
    axl_ot2 *o;
    struct ot2_task *next;
} ot2_task;

enum { EV_NONE, EV_DIALED, EV_SENT, EV_RECV };

struct axl_ot2 {
    uv_loop_t *loop;
    char url[256];
    double speed;
    nng_stream_dialer *dialer;
    nng_stream *stream; /* NULL when not connected */
    nng_aio *dial_aio, *send_aio, *recv_aio;
    uv_async_t async;
    uv_mutex_t mu; /* guards the fields below, written by nng's threads */
    int dial_result, send_result, recv_result;
    bool dial_done, send_done, recv_done;
    /* One receive takes one whole WebSocket message: nng's ws stream drops what does not
     * fit the buffer, and the OT-2's `completed` map grows with every task of the run
     * (~40 bytes each: 4 KiB was lost after ~100 tasks). 256 KiB holds ~6,000. */
    char rx_chunk[RX_CHUNK];
    /* loop thread only */
    bool dialing, sending, closing;
    bool dead; /* the stream is closed: freed once no aio uses it */
    char *rx;
    size_t rx_len;
    char *out; /* JSON messages waiting to be sent, back to back */
    size_t out_len, out_sent;
    ot2_task *tasks;
    uint64_t seq;
    void (*close_cb)(axl_ot2 *); /* unused: close frees on the loop's next turn */
};

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void dial_cb(void *arg)
{
    axl_ot2 *o = arg;
    uv_mutex_lock(&o->mu);
    o->dial_result = nng_aio_result(o->dial_aio);
    o->dial_done = true;
    uv_mutex_unlock(&o->mu);
    uv_async_send(&o->async);
}

static void send_cb(void *arg)
{
    axl_ot2 *o = arg;
    uv_mutex_lock(&o->mu);
    o->send_result = nng_aio_result(o->send_aio);
    o->send_done = true;
    uv_mutex_unlock(&o->mu);
    uv_async_send(&o->async);
}

static void recv_cb(void *arg)
{
    axl_ot2 *o = arg;
    uv_mutex_lock(&o->mu);
    o->recv_result = nng_aio_result(o->recv_aio);
    o->recv_done = true;
    uv_mutex_unlock(&o->mu);
    uv_async_send(&o->async);
}

static void task_closed(uv_handle_t *h)
{
    free(h->data);
}

static void task_timeout(uv_timer_t *h);

static void task_end(axl_ot2 *o, ot2_task *t, int status, const char *why)
{
    for (ot2_task **pp = &o->tasks; *pp != NULL; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    axl_dev_cb cb = t->cb;
    void *arg = t->arg;
    uv_close((uv_handle_t *)&t->timer, task_closed);
    if (cb != NULL)
        cb(arg, status, why);
}

static void fail_all(axl_ot2 *o, int status, const char *why)
{
    while (o->tasks != NULL)
        task_end(o, o->tasks, status, why);
}

static void disconnect(axl_ot2 *o, const char *why)
{
    if (o->stream != NULL) {
        nng_aio_cancel(o->send_aio);
        nng_aio_cancel(o->recv_aio);
        nng_stream_close(o->stream);
        o->dead = true; /* the aios finish with an error; freed when both are idle */
    }
    o->out_len = o->out_sent = 0;
    o->rx_len = 0;
    char msg[AXL_XCH_WHY_MAX];
    snprintf(msg, sizeof(msg), "OT-2 (%.80s) disconnected: %.100s", o->url, why);
    fail_all(o, AXL_EIO, msg);
}

static void start_recv(axl_ot2 *o)
{
    nng_iov iov = {o->rx_chunk, sizeof(o->rx_chunk)};
    nng_aio_set_iov(o->recv_aio, 1, &iov);
    nng_stream_recv(o->stream, o->recv_aio);
}

static void pump_send(axl_ot2 *o)
{
    if (o->stream == NULL || o->sending || o->out_sent == o->out_len)
        return;
    o->sending = true;
    nng_iov iov = {o->out + o->out_sent, o->out_len - o->out_sent};
    nng_aio_set_iov(o->send_aio, 1, &iov);
    nng_stream_send(o->stream, o->send_aio);
}

static void handle_msg(axl_ot2 *o, json_t *m)
{
    const char *ack = json_string_value(json_object_get(m, "acknowledged"));
    if (ack != NULL) {
        for (ot2_task *t = o->tasks; t != NULL; t = t->next)
            if (strcmp(t->id, ack) == 0 && !t->acked) {
                t->acked = true;
                /* now the completion: the task's own time (and its start) / speed, x3 */
                uv_timer_start(&t->timer, task_timeout,
                               axl_dev_ms(3000 * t->expect_s, o->speed, 2000), 0);
                break;
            }
    }
    json_t *done = json_object_get(m, "completed");
    if (json_is_object(done)) { /* cumulative: every task this OT-2 finished */
        ot2_task *t = o->tasks;
        while (t != NULL) {
            ot2_task *n = t->next;
            if (json_object_get(done, t->id) != NULL)
                task_end(o, t, 0, "");
            t = n;
        }
    }
    const char *err = json_string_value(json_object_get(m, "error"));
    if (err != NULL && o->tasks != NULL) {
        /* the listener's error is about the last message it got: our newest task */
        ot2_task *last = o->tasks;
        while (last->next != NULL)
            last = last->next;
        char why[AXL_XCH_WHY_MAX];
        snprintf(why, sizeof(why), "OT-2 answered error `%.100s` to %.40s", err, last->name);
        task_end(o, last, AXL_EPROTO, why);
    }
}

static void parse_rx(axl_ot2 *o)
{
    for (;;) {
        size_t skip = 0;
        while (skip < o->rx_len && o->rx[skip] != '{')
            skip++;
        if (skip == o->rx_len) {
            o->rx_len = 0;
            return;
        }
        json_error_t err;
        json_t *m = json_loadb(o->rx + skip, o->rx_len - skip, JSON_DISABLE_EOF_CHECK, &err);
        size_t used;
        if (m == NULL) {
            /* incomplete, or not JSON: wait for more unless a later '{' starts over */
            const char *next = memchr(o->rx + skip + 1, '{', o->rx_len - skip - 1);
            if (next == NULL || err.position == 0) {
                memmove(o->rx, o->rx + skip, o->rx_len - skip);
                o->rx_len -= skip;
                if (o->rx_len == RX_MAX)
                    o->rx_len = 0;
                return;
            }
            used = (size_t)(next - o->rx); /* garbage up to the next object */
        } else {
            used = skip + (size_t)err.position;
        }
        memmove(o->rx, o->rx + used, o->rx_len - used);
        o->rx_len -= used;
        if (m != NULL) {
            handle_msg(o, m);
            json_decref(m);
        }
    }
}

static void on_async(uv_async_t *h)
{
    axl_ot2 *o = h->data;
    uv_mutex_lock(&o->mu);
    bool dialed = o->dial_done, sent = o->send_done, recvd = o->recv_done;
    int dr = o->dial_result, sr = o->send_result, rr = o->recv_result;
    o->dial_done = o->send_done = o->recv_done = false;
    uv_mutex_unlock(&o->mu);
    if (o->closing)
        return;
    if (dialed) {
        o->dialing = false;
        if (dr != 0) {
            char why[200];
            snprintf(why, sizeof(why), "cannot connect: %s", nng_strerror(dr));
            disconnect(o, why);
        } else {
            o->stream = nng_aio_get_output(o->dial_aio, 0);
            start_recv(o);
            pump_send(o);
        }
    }
    if (sent) {
        o->sending = false;
        if (sr != 0) {
            disconnect(o, nng_strerror(sr));
        } else {
            o->out_sent += nng_aio_count(o->send_aio);
            if (o->out_sent == o->out_len)
                o->out_len = o->out_sent = 0;
            pump_send(o);
        }
    }
    if (recvd && o->stream != NULL && !o->dead) {
        if (rr != 0) {
            disconnect(o, nng_strerror(rr));
        } else {
            size_t n = nng_aio_count(o->recv_aio);
            if (o->rx_len + n > RX_MAX)
                o->rx_len = 0;
            memcpy(o->rx + o->rx_len, o->rx_chunk, n);
            o->rx_len += n;
            parse_rx(o);
            if (o->stream != NULL)
                start_recv(o);
        }
    }
    /* a closed stream is freed once no aio uses it */
    if (o->stream != NULL && o->dead && !o->sending) {
        nng_aio_wait(o->recv_aio);
        nng_aio_wait(o->send_aio);
        nng_stream_free(o->stream);
        o->stream = NULL;
        o->dead = false;
    }
}

int axl_ot2_new(axl_ot2 **out, uv_loop_t *loop, const char *url, double speed, axl_errbuf *eb)
{
    if (url == NULL || strncmp(url, "ws://", 5) != 0 || strlen(url) >= 256)
        return axl_fail(eb, AXL_EINVAL, "the OT-2's address must be ws://HOST:PORT");
    axl_ot2 *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->rx = malloc(RX_MAX)) == NULL) {
        free(o);
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    }
    snprintf(o->url, sizeof(o->url), "%s", url);
    o->loop = loop;
    o->speed = speed >= 1 ? speed : 1;
    int rv;
    if ((rv = nng_stream_dialer_alloc(&o->dialer, url)) != 0 ||
        (rv = nng_aio_alloc(&o->dial_aio, dial_cb, o)) != 0 ||
        (rv = nng_aio_alloc(&o->send_aio, send_cb, o)) != 0 ||
        (rv = nng_aio_alloc(&o->recv_aio, recv_cb, o)) != 0) {
        nng_aio_free(o->dial_aio);
        nng_aio_free(o->send_aio);
        nng_stream_dialer_free(o->dialer);
        free(o->rx);
        free(o);
        return axl_fail(eb, AXL_EIO, "OT-2 client: %s", nng_strerror(rv));
    }
    nng_aio_set_timeout(o->dial_aio, OT2_DIAL_MS); /* an unreachable OT-2 fails, never hangs */
    nng_stream_dialer_set_bool(o->dialer, NNG_OPT_WS_SEND_TEXT, true);
    nng_stream_dialer_set_bool(o->dialer, NNG_OPT_WS_RECV_TEXT, true);
    uv_mutex_init(&o->mu);
    uv_async_init(loop, &o->async, on_async);
    o->async.data = o;
    *out = o;
    return 0;
}

static void task_timeout(uv_timer_t *h)
{
    ot2_task *t = h->data;
    char why[AXL_XCH_WHY_MAX];
    snprintf(why, sizeof(why), "OT-2: no %s for %.40s (task %.36s)",
             t->acked ? "completion" : "acknowledgement", t->name, t->id);
    task_end(t->o, t, AXL_ETIMEDOUT, why);
}

/* The acknowledgement is due 2 s after a task is sent; a task that must wait for a
 * (re)connection first gets the connection's own bound on top (the dial fails on its own
 * after OT2_DIAL_MS, failing every waiting task with the reason). */
static void ack_timer(axl_ot2 *o, ot2_task *t)
{
    unsigned ms = OT2_ACK_MS + (o->stream == NULL ? OT2_DIAL_MS : 0);
    uv_timer_start(&t->timer, task_timeout, axl_dev_ms(ms, 1, ms), 0);
}

int axl_ot2_submit(axl_ot2 *o, const char *task, json_t *kwargs, double start_in_s, double expect_s,
                   axl_dev_cb cb, void *arg, axl_errbuf *eb)
{
    if (o->closing)
        return axl_fail(eb, AXL_ECLOSED, "OT-2 client is closing");
    ot2_task *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    snprintf(t->id, sizeof(t->id), "axle-%08llx-%llu",
             (unsigned long long)uv_hrtime() & 0xffffffffull, (unsigned long long)++o->seq);
    snprintf(t->name, sizeof(t->name), "%s", task);
    t->expect_s = expect_s + (start_in_s > 0 ? start_in_s : 0);
    t->cb = cb;
    t->arg = arg;
    t->o = o;
    double nist = unix_now() + (start_in_s > 0 ? start_in_s / o->speed : 0);
    json_t *kw = kwargs != NULL ? json_incref(kwargs) : json_object();
    json_t *msg = json_pack("{s:{s:s,s:s,s:f,s:[],s:o}}", "task", "task", task, "taskid", t->id,
                            "nist_time", nist, "args", "kwargs", kw); /* kw stolen */
    char *text = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    size_t n = text != NULL ? strlen(text) : 0;
    char *grown = text != NULL ? realloc(o->out, o->out_len + n) : NULL;
    if (grown == NULL) {
        free(text);
        free(t);
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    }
    o->out = grown;
    memcpy(o->out + o->out_len, text, n);
    o->out_len += n;
    free(text);
    uv_timer_init(o->loop, &t->timer);
    t->timer.data = t;
    t->next = o->tasks;
    o->tasks = t;
    ack_timer(o, t);
    if (o->stream == NULL && !o->dialing) { /* connect (again) on demand */
        o->dialing = true;
        nng_stream_dialer_dial(o->dialer, o->dial_aio);
    } else {
        pump_send(o);
    }
    return 0;
}

static void async_closed(uv_handle_t *h)
{
    axl_ot2 *o = h->data;
    void (*cb)(axl_ot2 *) = o->close_cb;
    uv_mutex_destroy(&o->mu);
    free(o->rx);
    free(o->out);
    free(o);
    (void)cb;
}

void axl_ot2_close(axl_ot2 *o)
{
    if (o == NULL)
        return;
    o->closing = true;
    while (o->tasks != NULL) { /* no callback after close */
        o->tasks->cb = NULL;
        task_end(o, o->tasks, AXL_ECANCELED, "closed");
    }
    /* nng's callbacks may still be running: stop them before the memory goes */
    nng_aio_stop(o->dial_aio);
    nng_aio_stop(o->send_aio);
    nng_aio_stop(o->recv_aio);
    if (o->stream != NULL) {
        nng_stream_close(o->stream);
        nng_stream_free(o->stream);
    }
    nng_stream_dialer_close(o->dialer);
    nng_stream_dialer_free(o->dialer);
    nng_aio_free(o->dial_aio);
    nng_aio_free(o->send_aio);
    nng_aio_free(o->recv_aio);
    uv_close((uv_handle_t *)&o->async, async_closed);
}

bool axl_ot2_connected(const axl_ot2 *o)
{
    return o->stream != NULL;
}
