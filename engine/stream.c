/*
 * stream.c - live PUB of committed events and the replay service that lets a late or
 * lossy subscriber catch up from the store.
 *
 * The replay service runs on its own thread with a blocking REP socket: it only reads
 * the store (LMDB readers are thread-safe and never block the writer), so it cannot
 * disturb the loop thread, which stays the single writer.
 */
#include "engine/stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "hw/worker/axl_net.h"
#include "hw/worker/nng_bridge.h"
#include "proto/axl_log.h"

/* One subscriber connection: its nng pipe and how many events had been published when
 * it joined (every later one is due to it). */
typedef struct sub_pipe {
    uint32_t id;
    uint64_t joined;
} sub_pipe;

struct axl_stream {
    nng_socket pub;
    nng_socket rep;
    bool rep_open;
    pthread_t replay_thread;
    bool thread_started;
    axl_store *store;
    /* mu guards what follows: publish runs on the loop thread, the pipe callbacks on
     * nng's threads. */
    pthread_mutex_t mu;
    uint64_t published;
    uint64_t dropped;     /* counted so far: send failures, subscribers gone or drained */
    uint64_t subscribers; /* connections over the stream's life */
    sub_pipe *subs;       /* connected now */
    size_t n_subs, cap_subs;
};

/*
 * Counting dropped live events. nng's PUB never fails a send: each subscriber pipe has a
 * queue of AXL_STREAM_SENDBUF messages, and when it is full (the subscriber reads slower
 * than events come) the oldest is dropped without a trace. What nng does keep is each
 * pipe's count of messages handed to the transport (its statistic tx_msgs; Debian's
 * libnng is built with statistics). So a subscriber that joined when `joined` events had
 * been published has been *due* published - joined; of those, tx_msgs were sent, up to
 * AXL_STREAM_SENDBUF + 1 may still wait in its queue, and the rest were dropped. At the
 * end (close) nothing waits any more: whatever was not sent is lost. The count is a lower
 * bound by at most the events published in the instant a pipe joined (before its
 * callback ran), never a false alarm.
 */

/* Fills tx[i] with the tx_msgs of pipe ids[i] (UINT64_MAX when not found). */
static void pipes_tx(const uint32_t *ids, uint64_t *tx, size_t n)
{
    nng_stat *root = NULL;
    for (size_t i = 0; i < n; i++)
        tx[i] = UINT64_MAX;
    if (n == 0 || nng_stats_get(&root) != 0)
        return;
    for (nng_stat *c = nng_stat_child(root); c != NULL; c = nng_stat_next(c)) {
        if (strcmp(nng_stat_name(c), "pipe") != 0)
            continue;
        nng_stat *id = nng_stat_find(c, "id");
        nng_stat *sent = nng_stat_find(c, "tx_msgs");
        if (id == NULL || sent == NULL)
            continue;
        for (size_t i = 0; i < n; i++)
            if (nng_stat_value(id) == ids[i])
                tx[i] = nng_stat_value(sent);
    }
    nng_stats_free(root);
}

/* Events due to a subscriber and not sent to it, less those that may still be queued. */
static uint64_t lost(uint64_t due, uint64_t tx, uint64_t queued)
{
    if (tx == UINT64_MAX || tx >= due)
        return 0;
    return due - tx > queued ? due - tx - queued : 0;
}

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    axl_stream *s = arg;
    uint32_t id = (uint32_t)nng_pipe_id(p);
    uint64_t tx = UINT64_MAX;
    if (ev == NNG_PIPE_EV_REM_POST)
        pipes_tx(&id, &tx, 1); /* its statistics outlive the pipe until this returns */
    pthread_mutex_lock(&s->mu);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        if (s->n_subs == s->cap_subs) {
            size_t cap = s->cap_subs ? 2 * s->cap_subs : 8;
            sub_pipe *grown = realloc(s->subs, cap * sizeof(*grown));
            if (grown == NULL) { /* not counted: its drops are not known */
                pthread_mutex_unlock(&s->mu);
                return;
            }
            s->subs = grown;
            s->cap_subs = cap;
        }
        s->subs[s->n_subs++] = (sub_pipe){.id = id, .joined = s->published};
        s->subscribers++;
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        for (size_t i = 0; i < s->n_subs; i++) {
            if (s->subs[i].id != id)
                continue;
            /* A subscriber that leaves takes its queue with it: only what overflowed. */
            s->dropped += lost(s->published - s->subs[i].joined, tx, AXL_STREAM_SENDBUF + 1);
            s->subs[i] = s->subs[--s->n_subs];
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* With mu held: the drops so far (queue = AXL_STREAM_SENDBUF + 1: so many may still be
 * sent) or, at the end (queue = 0), everything not sent. *behind (may be NULL): whether a
 * connected subscriber has not been sent everything yet; *sent: the events sent to all. */
static uint64_t tally(axl_stream *s, uint64_t queue, bool *behind, uint64_t *sent)
{
    uint64_t n = s->dropped, total = 0;
    uint32_t ids[64];
    uint64_t tx[64];
    bool late = false;
    for (size_t i = 0; i < s->n_subs; i += 64) {
        size_t k = s->n_subs - i < 64 ? s->n_subs - i : 64;
        for (size_t j = 0; j < k; j++)
            ids[j] = s->subs[i + j].id;
        pipes_tx(ids, tx, k);
        for (size_t j = 0; j < k; j++) {
            uint64_t due = s->published - s->subs[i + j].joined;
            n += lost(due, tx[j], queue);
            if (tx[j] != UINT64_MAX) {
                late = late || tx[j] < due;
                total += tx[j];
            }
        }
    }
    if (behind != NULL)
        *behind = late;
    if (sent != NULL)
        *sent = total;
    return n;
}

/* Waits until every subscriber has been sent every event, or none has been sent anything
 * for AXL_STREAM_STALL_MS (a stalled subscriber, or one whose queue has emptied while
 * events it was due were dropped long ago), or max_ms have passed. nng tells no one when a
 * pipe's queue empties, so this looks at the statistics every 5 ms; it runs once, when the
 * stream closes, and returns at once when nobody is subscribed or all are served. */
static void drain(axl_stream *s, int max_ms)
{
    uint64_t before = UINT64_MAX;
    int still = 0;
    for (int waited = 0; waited < max_ms; waited += 5) {
        bool behind;
        uint64_t sent;
        pthread_mutex_lock(&s->mu);
        tally(s, 0, &behind, &sent);
        pthread_mutex_unlock(&s->mu);
        if (!behind)
            return;
        still = sent == before ? still + 5 : 0;
        if (still >= AXL_STREAM_STALL_MS)
            return;
        before = sent;
        nng_msleep(5);
    }
}

int axl_stream_default_addrs(const char *store_dir, char *pub, char *replay, size_t size)
{
    int a = snprintf(pub, size, "ipc://%s/events.pub", store_dir);
    int b = snprintf(replay, size, "ipc://%s/replay.rep", store_dir);
    /* sun_path holds 107 bytes; "ipc://" is not part of it. */
    if (a < 0 || b < 0 || (size_t)a >= size || (size_t)b >= size || (size_t)b - 6 > 107)
        return AXL_ETOOBIG;
    return 0;
}

static int reply_error(nng_socket sock, const char *code, const char *msg)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(&pk, 4) || axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) ||
              axl_pack_kv_str(&pk, "type", "error") || axl_pack_kv_str(&pk, "code", code) ||
              axl_pack_kv_str(&pk, "msg", msg);
    int rv = bad ? NNG_ENOMEM : nng_send(sock, sb.data, sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
    return rv;
}

/* Builds one replay reply into sb: events [from, to], bounded by count and bytes. */
static int build_reply(axl_store *store, uint64_t from, uint64_t to, uint64_t max,
                       msgpack_sbuffer *sb, axl_errbuf *eb)
{
    axl_store_iter *it = NULL;
    uint64_t last = 0;
    int rv;
    if ((rv = axl_store_last_seq(store, &last, eb)) != 0)
        return rv;
    if (to == 0 || to > last)
        to = last;
    if (max == 0 || max > AXL_REPLAY_MAX_EVENTS)
        max = AXL_REPLAY_MAX_EVENTS;

    /* The events are gathered raw first; an array32 header of fixed width with their
     * count is written before them once the count is known. */
    msgpack_sbuffer events;
    msgpack_sbuffer_init(&events);
    uint64_t n = 0;
    bool more = false;
    if (from <= to) {
        if ((rv = axl_store_iter_open(store, from, to, &it, eb)) != 0)
            goto out;
        for (;;) {
            uint64_t seq;
            const void *data;
            size_t len;
            rv = axl_store_iter_next(it, &seq, &data, &len, eb);
            if (rv == AXL_ENOENT) {
                rv = 0;
                break;
            }
            if (rv != 0)
                goto out;
            if (n == max || events.size + len > AXL_REPLAY_MAX_BYTES) {
                more = true;
                break;
            }
            if (msgpack_sbuffer_write(&events, data, len) != 0) {
                rv = AXL_ENOMEM;
                goto out;
            }
            n++;
        }
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    unsigned char hdr[5] = {0xdd, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    if (msgpack_pack_map(&pk, 5) || axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) ||
        axl_pack_kv_str(&pk, "type", "replay_reply") || axl_pack_kv_uint(&pk, "last_seq", last) ||
        axl_pack_kv_bool(&pk, "more", more) || axl_pack_cstr(&pk, "events") ||
        msgpack_sbuffer_write(sb, (const char *)hdr, sizeof(hdr)) ||
        (events.size > 0 && msgpack_sbuffer_write(sb, events.data, events.size)))
        rv = AXL_ENOMEM;
out:
    axl_store_iter_close(it);
    msgpack_sbuffer_destroy(&events);
    return rv;
}

int axl_replay_request_decode(const void *buf, size_t len, uint64_t *from, uint64_t *to,
                              uint64_t *max, axl_errbuf *eb)
{
    const char *type = NULL;
    size_t type_len = 0;
    uint64_t v = 0;
    axl_msg m;
    int rv;

    *from = 1;
    *to = 0;
    *max = 0;
    if (len > AXL_REPLAY_MAX_REQUEST)
        return axl_fail(eb, AXL_ETOOBIG, "replay: a request of %zu bytes (at most %d)", len,
                        AXL_REPLAY_MAX_REQUEST);
    if ((rv = axl_msg_parse(&m, buf, len, eb)) != 0)
        return rv;
    if (m.root.type != MSGPACK_OBJECT_MAP)
        rv = axl_fail(eb, AXL_ETYPE, "replay: expected a map");
    else if ((rv = axl_obj_uint(&m.root, "replay", "v", true, 0, UINT64_MAX, &v, eb)) == 0 &&
             v != AXL_PROTO_VERSION)
        rv = axl_fail(eb, AXL_EVERSION, "replay.v: version %llu (this engine speaks %d)",
                      (unsigned long long)v, AXL_PROTO_VERSION);
    if (rv == 0 &&
        (rv = axl_obj_str(&m.root, "replay", "type", true, 32, &type, &type_len, eb)) == 0 &&
        (type_len != 6 || memcmp(type, "replay", 6) != 0))
        rv = axl_fail(eb, AXL_ENOTSUP, "replay.type: '%.*s' is not served here (only \"replay\")",
                      (int)type_len, type);
    if (rv == 0 &&
        ((rv = axl_obj_uint(&m.root, "replay", "from", false, 0, UINT64_MAX, from, eb)) != 0 ||
         (rv = axl_obj_uint(&m.root, "replay", "to", false, 0, UINT64_MAX, to, eb)) != 0 ||
         (rv = axl_obj_uint(&m.root, "replay", "max", false, 0, UINT64_MAX, max, eb)) != 0)) {
    }
    if (rv == 0 && *to != 0 && *from > *to)
        rv = axl_fail(eb, AXL_ERANGE, "replay: from %llu is after to %llu",
                      (unsigned long long)*from, (unsigned long long)*to);
    axl_msg_free(&m);
    return rv;
}

static void *replay_main(void *arg)
{
    axl_stream *s = arg;
    for (;;) {
        void *buf = NULL;
        size_t len = 0;
        int nrv = nng_recv(s->rep, &buf, &len, NNG_FLAG_ALLOC);
        if (nrv == NNG_ECLOSED)
            break;
        if (nrv != 0)
            continue;
        axl_errbuf eb = {{0}};
        uint64_t from = 1, to = 0, max = 0;
        int rv = axl_replay_request_decode(buf, len, &from, &to, &max, &eb);
        nng_free(buf, len);
        if (rv != 0) {
            reply_error(s->rep, axl_err_name(rv), eb.msg);
            continue;
        }
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        rv = build_reply(s->store, from == 0 ? 1 : from, to, max, &sb, &eb);
        if (rv == 0)
            nng_send(s->rep, sb.data, sb.size, 0);
        else
            reply_error(s->rep, axl_err_name(rv), eb.msg);
        msgpack_sbuffer_destroy(&sb);
    }
    return NULL;
}

int axl_stream_open(const char *pub_addr, const char *replay_addr, axl_store *store,
                    axl_stream **out, axl_errbuf *eb)
{
    axl_stream *s = calloc(1, sizeof(*s));
    int nrv, rv;
    *out = NULL;
    if (s == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    s->store = store;
    pthread_mutex_init(&s->mu, NULL);
    if ((nrv = nng_pub0_open(&s->pub)) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return axl_fail(eb, AXL_EIO, "event stream: %s", nng_strerror(nrv));
    }
    nng_socket_set_int(s->pub, NNG_OPT_SENDBUF, AXL_STREAM_SENDBUF);
    if ((nrv = nng_pipe_notify(s->pub, NNG_PIPE_EV_ADD_POST, on_pipe, s)) != 0 ||
        (nrv = nng_pipe_notify(s->pub, NNG_PIPE_EV_REM_POST, on_pipe, s)) != 0) {
        rv = axl_fail(eb, AXL_EIO, "event stream: %s", nng_strerror(nrv));
        goto fail;
    }
    if ((rv = axl_net_listen(s->pub, pub_addr, NULL, "event stream", eb)) != 0)
        goto fail;
    if ((nrv = nng_rep0_open(&s->rep)) != 0) {
        rv = axl_fail(eb, AXL_EIO, "replay service: %s", nng_strerror(nrv));
        goto fail;
    }
    s->rep_open = true;
    /* Requests are tiny (AXL_REPLAY_MAX_REQUEST); larger ones up to 4 MiB are read so that
     * they get an AXL_ETOOBIG reply instead of silence. */
    nng_socket_set_size(s->rep, NNG_OPT_RECVMAXSZ, (size_t)4 << 20);
    if ((rv = axl_net_listen(s->rep, replay_addr, NULL, "replay service", eb)) != 0)
        goto fail;
    if (pthread_create(&s->replay_thread, NULL, replay_main, s) != 0) {
        rv = axl_fail(eb, AXL_ENOMEM, "replay service: cannot start its thread");
        goto fail;
    }
    s->thread_started = true;
    *out = s;
    return 0;
fail:
    nng_close(s->pub);
    if (s->rep_open)
        nng_close(s->rep);
    pthread_mutex_destroy(&s->mu);
    free(s->subs);
    free(s);
    return rv;
}

void axl_stream_publish(axl_stream *s, const void *data, size_t len)
{
    if (s == NULL)
        return;
    /* nng copies the buffer; PUB never blocks, a full subscriber queue drops (counted
     * from the pipes' statistics, above). Under mu so that a joining subscriber's mark
     * and the count agree. */
    pthread_mutex_lock(&s->mu);
    s->published++;
    if (nng_send(s->pub, (void *)data, len, NNG_FLAG_NONBLOCK) != 0)
        s->dropped += s->n_subs; /* lost for every subscriber */
    pthread_mutex_unlock(&s->mu);
}

void axl_stream_stats_get(axl_stream *s, axl_stream_stats *st)
{
    pthread_mutex_lock(&s->mu);
    st->published = s->published;
    st->subscribers = s->subscribers;
    st->dropped = tally(s, AXL_STREAM_SENDBUF + 1, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
}

void axl_stream_finish(axl_stream *s, axl_stream_stats *st)
{
    drain(s, AXL_STREAM_DRAIN_MS);
    pthread_mutex_lock(&s->mu);
    s->dropped = tally(s, 0, NULL, NULL);
    s->n_subs = 0; /* counted now; their removal later must not count them again */
    if (st != NULL)
        *st = (axl_stream_stats){
            .published = s->published, .subscribers = s->subscribers, .dropped = s->dropped};
    pthread_mutex_unlock(&s->mu);
}

void axl_stream_close(axl_stream *s)
{
    if (s == NULL)
        return;
    /* Every subscriber still connected gets the end of the log (experiment.stopped)
     * before the socket goes, unless it is stalled. */
    axl_stream_stats st;
    axl_stream_finish(s, &st);
    if (st.dropped > 0)
        AXL_WARN("Stream",
                 "event stream: %llu live events (of %llu published, to %llu subscriber "
                 "connections) were dropped for slow subscribers; they recover them by "
                 "replay or from the store",
                 (unsigned long long)st.dropped, (unsigned long long)st.published,
                 (unsigned long long)st.subscribers);
    /* No callback from here on (one already running has passed the lock or waits on it
     * and then finds no subscriber). */
    nng_pipe_notify(s->pub, NNG_PIPE_EV_ADD_POST, NULL, NULL);
    nng_pipe_notify(s->pub, NNG_PIPE_EV_REM_POST, NULL, NULL);
    /* Closed where every axle socket is closed (hw/worker/nng_bridge.h: off this thread,
     * the libnng 1.5.2 close deadlock workaround in one place). */
    axl_bridge_close_socket(s->pub);
    axl_bridge_close_socket(s->rep); /* the replay thread's nng_recv returns NNG_ECLOSED */
    if (s->thread_started)
        pthread_join(s->replay_thread, NULL);
    /* The listeners unlink their ipc paths when closed: done before the process moves on,
     * unless a close hangs in libnng (then bounded). */
    axl_bridge_drain(2.0);
    pthread_mutex_destroy(&s->mu);
    free(s->subs);
    free(s);
}

int axl_replay_fetch(const char *replay_addr, uint64_t from, uint64_t to, int timeout_ms,
                     axl_replay_fn fn, void *ud, uint64_t *next_seq, axl_errbuf *eb)
{
    nng_socket req;
    int nrv, rv = 0;
    if ((nrv = nng_req0_open(&req)) != 0)
        return axl_fail(eb, AXL_EIO, "replay: %s", nng_strerror(nrv));
    nng_socket_set_ms(req, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_socket_set_ms(req, NNG_OPT_SENDTIMEO, timeout_ms);
    nng_socket_set_size(req, NNG_OPT_RECVMAXSZ, AXL_PROTO_MAX_MSG);
    if ((rv = axl_net_dial(req, replay_addr, NULL, 0, "replay", eb)) != 0) {
        nng_close(req);
        return rv == AXL_ECLOSED ? AXL_ENOENT : rv;
    }
    *next_seq = from == 0 ? 1 : from;
    for (;;) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (msgpack_pack_map(&pk, 4) || axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) ||
            axl_pack_kv_str(&pk, "type", "replay") || axl_pack_kv_uint(&pk, "from", *next_seq) ||
            axl_pack_kv_uint(&pk, "to", to)) {
            msgpack_sbuffer_destroy(&sb);
            rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
            break;
        }
        nrv = nng_send(req, sb.data, sb.size, 0);
        msgpack_sbuffer_destroy(&sb);
        void *buf = NULL;
        size_t len = 0;
        if (nrv == 0)
            nrv = nng_recv(req, &buf, &len, NNG_FLAG_ALLOC);
        if (nrv != 0) {
            rv = axl_fail(eb, nrv == NNG_ETIMEDOUT ? AXL_ETIMEDOUT : AXL_EIO, "replay %s: %s",
                          replay_addr, nng_strerror(nrv));
            break;
        }
        axl_msg m;
        if ((rv = axl_msg_parse(&m, buf, len, eb)) != 0) {
            nng_free(buf, len);
            break;
        }
        const msgpack_object *events = axl_obj_get(&m.root, "events");
        const msgpack_object *more = axl_obj_get(&m.root, "more");
        if (events == NULL || events->type != MSGPACK_OBJECT_ARRAY) {
            const char *msg = "";
            size_t msg_len = 0;
            axl_obj_str(&m.root, "reply", "msg", false, 1024, &msg, &msg_len, NULL);
            rv = axl_fail(eb, AXL_EPROTO, "replay: the service answered an error: %.*s",
                          (int)msg_len, msg);
            axl_msg_free(&m);
            nng_free(buf, len);
            break;
        }
        /* Re-find each event's raw bytes: walk the array with the validated scanner. */
        const void *raw;
        size_t raw_len;
        axl_mp_find_raw(buf, len, "events", &raw, &raw_len);
        const uint8_t *p = raw;
        size_t skip = p[0] == 0xdc ? 3 : p[0] == 0xdd ? 5 : 1;
        p += skip;
        uint32_t count = events->via.array.size;
        bool stop = false;
        for (uint32_t i = 0; i < count && !stop; i++) {
            const uint8_t *end = (const uint8_t *)raw + raw_len;
            size_t elen = 0;
            if (axl_mp_next(p, (size_t)(end - p), &elen, NULL) != 0)
                elen = 0;
            axl_event ev;
            if (elen == 0 || axl_event_decode(p, elen, &ev, eb) != 0) {
                rv = axl_fail(eb, AXL_EPROTO, "replay: a malformed event in the reply");
                stop = true;
                break;
            }
            if (ev.seq >= *next_seq) {
                *next_seq = ev.seq + 1;
                if (fn(ud, ev.seq, p, elen) != 0)
                    stop = true;
            }
            p += elen;
        }
        bool has_more = more != NULL && more->type == MSGPACK_OBJECT_BOOLEAN && more->via.boolean;
        axl_msg_free(&m);
        nng_free(buf, len);
        if (stop || !has_more || count == 0 || (to != 0 && *next_seq > to))
            break;
    }
    axl_bridge_close_socket(req); /* never waits on libnng 1.5.2's close deadlock */
    return rv;
}
