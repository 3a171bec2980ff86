/* link.c - the engine's end of a worker connection (axl_link.h). */
#include "hw/worker/axl_net.h"
#include "hw/worker/axl_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "hw/worker/nng_bridge.h"
#include "proto/axl_log.h"

#define SRC "Lab"

struct axl_link {
    uv_loop_t *loop;
    axl_link_opts o;
    char addr[512];
    char worker[AXL_WIRE_MAX_ID + 1];
    axl_link_cbs cbs;
    axl_bridge *bridge;
    uv_timer_t timer;
    bool connected;      /* a pipe is up */
    bool hello;          /* hello seen on connection hello_pipe, and it is still there */
    uint32_t hello_pipe; /* the connection the last hello came on */
    bool lost;           /* the heartbeat deadline passed */
    bool closed;
    uint64_t last_seq, received, gaps;
    bool has_seq;
    uint64_t last_msg_ms;  /* uv_now of the last message */
    uint32_t refused_pipe; /* a connection refused (a second hello of another role) */
    axl_link_counts counts;
    int pending; /* handles (bridge, timer) still closing */
    void (*close_cb)(void *);
    void *close_data;
};

static void lost_cb(uv_timer_t *h)
{
    axl_link *l = h->data;
    if (l->closed || l->lost)
        return;
    l->lost = true;
    double silent = (double)(uv_now(l->loop) - l->last_msg_ms);
    l->cbs.on_lost(l, silent);
}

static void arm(axl_link *l)
{
    unsigned ms = l->hello || l->received > 0 ? l->o.timeout_ms : l->o.connect_timeout_ms;
    uv_timer_start(&l->timer, lost_cb, ms, 0);
}

static void reply_error(axl_link *l, int code, const char *msg)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (axl_wire_encode_error(code, msg, &sb, NULL) == 0)
        axl_bridge_send(l->bridge, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* The connection's worker is no longer the one this link serves: the lost-worker policy
 * applies now (the owner's on_lost), and the connection is not heard again. */
static void refuse_connection(axl_link *l, uint32_t pipe)
{
    l->refused_pipe = pipe;
    l->hello = false;
    uv_timer_stop(&l->timer);
    if (!l->lost) {
        l->lost = true;
        l->cbs.on_lost(l, (double)(uv_now(l->loop) - l->last_msg_ms));
    }
}

static void on_message(axl_link *l, uint32_t pipe, const void *buf, size_t len)
{
    axl_wire_msg m;
    axl_errbuf eb = {{0}};
    char msg[800];
    if (pipe != 0 && pipe == l->refused_pipe) {
        l->counts.refused_msgs++;
        return; /* a refused connection proves nothing */
    }
    int rv = axl_wire_decode(buf, len, &m, &eb);
    l->received++;
    l->last_msg_ms = uv_now(l->loop);
    arm(l); /* any message proves the worker alive */
    if (rv != 0) {
        if (rv == AXL_ETOOBIG)
            l->counts.oversize++;
        else
            l->counts.undecodable++;
        AXL_WARN(SRC, "worker at %s sent a message that does not decode: %s", l->addr, eb.msg);
        reply_error(l, rv, eb.msg);
        return;
    }
    switch (m.type) {
    case AXL_WIRE_HELLO: {
        const axl_wire_hello *h = &m.hello;
        if (h->role != l->o.role) {
            bool second = l->hello && pipe == l->hello_pipe;
            l->counts.wrong_role++;
            snprintf(msg, sizeof(msg), "hello: role %s, but %s serves the %s worker%s",
                     axl_worker_role_name(h->role), l->addr, axl_worker_role_name(l->o.role),
                     second ? " (a second hello on this connection)" : "");
            AXL_ERROR(SRC, "the worker %.*s at %s: %s; refused", (int)h->worker.len, h->worker.ptr,
                      l->addr, msg);
            reply_error(l, AXL_EINVAL, msg);
            if (second)
                refuse_connection(l, pipe);
            else
                l->hello = false;
            break;
        }
        snprintf(l->worker, sizeof(l->worker), "%.*s", (int)h->worker.len, h->worker.ptr);
        l->hello = true;
        l->hello_pipe = pipe;
        l->lost = false;
        l->has_seq = false;
        l->cbs.on_up(l, h);
        break;
    }
    case AXL_WIRE_TASK:
    case AXL_WIRE_CANCEL:
    case AXL_WIRE_STATUS: {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s: the engine does not take this message",
                 axl_wire_type_name(m.type));
        reply_error(l, AXL_ENOTSUP, msg);
        break;
    }
    default:
        if (m.type == AXL_WIRE_HEARTBEAT && m.heartbeat.role != l->o.role) {
            l->counts.wrong_role++;
            snprintf(msg, sizeof(msg), "heartbeat: role %s, but %s serves the %s worker",
                     axl_worker_role_name(m.heartbeat.role), l->addr,
                     axl_worker_role_name(l->o.role));
            AXL_WARN(SRC, "worker at %s: %s; ignored", l->addr, msg);
            reply_error(l, AXL_EINVAL, msg);
            break;
        }
        if (m.type == AXL_WIRE_HEARTBEAT) {
            if (l->has_seq && m.heartbeat.seq != l->last_seq + 1) {
                l->gaps++;
                AXL_DEBUG(SRC, "worker %s: heartbeat %llu after %llu", l->worker,
                          (unsigned long long)m.heartbeat.seq, (unsigned long long)l->last_seq);
            }
            l->has_seq = true;
            l->last_seq = m.heartbeat.seq;
        }
        if (l->lost && l->hello) {
            /* A stalled worker speaking again on the same connection. */
            l->lost = false;
            AXL_INFO(SRC, "worker %s at %s speaks again", l->worker, l->addr);
            l->cbs.on_up(l, NULL);
        }
        if (!l->closed)
            l->cbs.on_msg(l, &m);
        break;
    }
    axl_wire_free(&m);
}

static void on_bridge(void *data, axl_bridge_event ev, uint32_t pipe, const void *buf, size_t len)
{
    axl_link *l = data;
    if (l->closed)
        return;
    switch (ev) {
    case AXL_BRIDGE_CONNECTED:
        /* Its hello may already have been handled: events of one connection are not
         * ordered against its messages. */
        l->connected = true;
        AXL_DEBUG(SRC, "connected to %s", l->addr);
        break;
    case AXL_BRIDGE_DISCONNECTED:
        if (pipe != l->hello_pipe)
            break; /* an older connection, already replaced */
        l->connected = false;
        l->hello = false; /* up again on the next connection's hello */
        /* Not lost yet: the heartbeat deadline decides (a restart may be quick). */
        AXL_INFO(SRC, "worker %s at %s disconnected", l->worker[0] ? l->worker : "?", l->addr);
        break;
    case AXL_BRIDGE_MSG:
        on_message(l, pipe, buf, len);
        break;
    }
}

int axl_link_open(uv_loop_t *loop, const axl_link_opts *o, const axl_link_cbs *cbs, axl_link **out,
                  axl_errbuf *eb)
{
    nng_socket sock;
    int nrv, rv;
    *out = NULL;
    if (o->addr == NULL || strlen(o->addr) >= sizeof(((axl_link *)0)->addr) ||
        (unsigned)o->role >= AXL_ROLE_COUNT || o->timeout_ms == 0 || cbs->on_up == NULL ||
        cbs->on_msg == NULL || cbs->on_lost == NULL)
        return axl_fail(eb, AXL_EINVAL, "worker link: bad options");
    axl_link *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    l->loop = loop;
    l->o = *o;
    snprintf(l->addr, sizeof(l->addr), "%s", o->addr);
    l->o.addr = l->addr;
    if (l->o.connect_timeout_ms < l->o.timeout_ms)
        l->o.connect_timeout_ms = l->o.timeout_ms;
    l->cbs = *cbs;
    if ((nrv = nng_pair1_open(&sock)) != 0) {
        free(l);
        return axl_fail(eb, AXL_EIO, "nng: %s", nng_strerror(nrv));
    }
    nng_socket_set_int(sock, NNG_OPT_SENDBUF, 1024);
    nng_socket_set_int(sock, NNG_OPT_RECVBUF, 1024);
    nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 2u << 20);
    /* A restarted worker is back within tens of ms; find it at once. */
    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 10);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 200);
    if ((rv = axl_bridge_open(loop, sock, on_bridge, l, &l->bridge, eb)) != 0) {
        free(l);
        return rv;
    }
    /* Non-blocking: the worker may not be up yet; the dialer keeps trying. */
    if ((rv = axl_net_dial(sock, l->addr, NULL, NNG_FLAG_NONBLOCK, "worker address", eb)) != 0) {
        axl_bridge_close(l->bridge, NULL, NULL);
        free(l);
        return rv;
    }
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    l->last_msg_ms = uv_now(loop);
    arm(l);
    *out = l;
    return 0;
}

int axl_link_send(axl_link *l, const axl_wire_msg *m, axl_errbuf *eb)
{
    msgpack_sbuffer sb;
    if (l->closed)
        return axl_fail(eb, AXL_ECLOSED, "worker link closed");
    msgpack_sbuffer_init(&sb);
    int rv = axl_wire_encode(m, &sb, eb);
    if (rv == 0 && (rv = axl_bridge_send(l->bridge, sb.data, sb.size)) != 0)
        axl_fail(eb, rv, "send to %s: %s", l->addr, axl_strerror(rv));
    msgpack_sbuffer_destroy(&sb);
    return rv;
}

bool axl_link_up(const axl_link *l)
{
    return l->hello && !l->lost && !l->closed;
}

void axl_link_get_counts(const axl_link *l, axl_link_counts *out)
{
    *out = l->counts;
}

axl_worker_role axl_link_role(const axl_link *l)
{
    return l->o.role;
}

const char *axl_link_addr(const axl_link *l)
{
    return l->addr;
}

const char *axl_link_worker(const axl_link *l)
{
    return l->worker;
}

void *axl_link_data(const axl_link *l)
{
    return l->cbs.data;
}

uint64_t axl_link_received(const axl_link *l)
{
    return l->received;
}

static void one_closed(axl_link *l)
{
    if (--l->pending > 0)
        return;
    void (*cb)(void *) = l->close_cb;
    void *data = l->close_data;
    free(l);
    if (cb != NULL)
        cb(data);
}

static void bridge_closed(void *data)
{
    one_closed(data);
}

static void timer_closed(uv_handle_t *h)
{
    one_closed(h->data);
}

void axl_link_close(axl_link *l, void (*close_cb)(void *data), void *data)
{
    if (l == NULL || l->closed)
        return;
    l->closed = true;
    l->close_cb = close_cb;
    l->close_data = data;
    l->pending = 2;
    uv_timer_stop(&l->timer);
    axl_bridge_close(l->bridge, bridge_closed, l);
    uv_close((uv_handle_t *)&l->timer, timer_closed);
}
