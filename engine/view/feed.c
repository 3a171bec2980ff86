/*
 * feed.c - the page's view of the log: each encoded event as one JSON object, read from
 * the store in short chunks (one iterator per chunk, as storage/README.md asks of a
 * replay service).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/json_msgpack.h"
#include "engine/view/view.h"
#include "proto/axl_proto.h"

int axl_view_buf_add(axl_view_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return AXL_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int axl_view_buf_str(axl_view_buf *b, const char *s)
{
    return axl_view_buf_add(b, s, strlen(s));
}

void axl_view_buf_free(axl_view_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return axl_view_buf_add(data, buffer, size) == 0 ? 0 : -1;
}

int axl_view_event_json(const void *data, size_t len, axl_view_buf *out)
{
    axl_event ev;
    if (axl_event_decode(data, len, &ev, NULL) != 0)
        return AXL_EPROTO;
    json_t *body = NULL;
    if (ev.body != NULL) {
        axl_msg m;
        if (axl_msg_parse(&m, ev.body, ev.body_len, NULL) != 0)
            return AXL_EPROTO;
        body = axl_msgpack_to_json(&m.root);
        axl_msg_free(&m);
        if (body == NULL)
            return AXL_ENOMEM;
    } else if ((body = json_object()) == NULL) {
        return AXL_ENOMEM;
    }
    if (ev.rec == AXL_REC_GENERATOR)
        json_object_del(body, "state"); /* the model's bytes: large, never drawn */
    json_t *o = json_object();
    int rv = AXL_ENOMEM;
    if (o == NULL)
        goto fail;
    if (json_object_set_new(o, "seq", json_integer((json_int_t)ev.seq)) != 0 ||
        json_object_set_new(o, "time", json_real(ev.time)) != 0 ||
        json_object_set_new(o, "type", json_stringn(ev.type, ev.type_len)) != 0 ||
        json_object_set_new(o, "experiment", json_stringn(ev.experiment, ev.experiment_len)) != 0)
        goto fail;
    if (ev.trial >= 0 && json_object_set_new(o, "trial", json_integer(ev.trial)) != 0)
        goto fail;
    if (json_object_set(o, "body", body) != 0)
        goto fail;
    rv = json_dump_callback(o, dump_cb, out, JSON_COMPACT) == 0 ? 0 : AXL_ENOMEM;
fail:
    json_decref(o);
    json_decref(body);
    return rv;
}

/* The last seq of each (experiment, trial) in a window of the log: a trial's events each
 * carry its whole record, so within one chunk only its last one needs to travel. */
typedef struct last_map {
    char names[8][AXL_VIEW_NAME_MAX + 1];
    uint64_t *seq[8]; /* by trial index; 0 = none */
    size_t len[8];
    size_t n;
} last_map;

static uint64_t *last_slot(last_map *m, const char *name, size_t nlen, int64_t trial)
{
    size_t i = 0;
    while (i < m->n && (strlen(m->names[i]) != nlen || memcmp(m->names[i], name, nlen) != 0))
        i++;
    if (i == m->n) {
        if (m->n == 8 || nlen > AXL_VIEW_NAME_MAX)
            return NULL; /* more experiments in one window: their events all travel */
        memcpy(m->names[i], name, nlen);
        m->names[i][nlen] = '\0';
        m->n++;
    }
    if (trial < 0 || trial > 10000000)
        return NULL;
    if ((size_t)trial >= m->len[i]) {
        size_t len = m->len[i] == 0 ? 1024 : m->len[i];
        while (len <= (size_t)trial)
            len *= 2;
        uint64_t *p = realloc(m->seq[i], len * sizeof(*p));
        if (p == NULL)
            return NULL;
        memset(p + m->len[i], 0, (len - m->len[i]) * sizeof(*p));
        m->seq[i] = p;
        m->len[i] = len;
    }
    return &m->seq[i][trial];
}

int axl_view_read_chunk(axl_store *s, uint64_t from, size_t max_events, size_t max_bytes,
                        axl_view_buf *out, uint64_t *next, axl_errbuf *eb)
{
    uint64_t last = 0, seq;
    axl_store_iter *it = NULL;
    last_map map = {.n = 0};
    const void *data;
    size_t len;
    axl_event ev;
    *next = from;
    int rv = axl_store_last_seq(s, &last, eb);
    if (rv != 0)
        return rv;
    uint64_t to = last;
    if (from <= last && last - from >= max_events)
        to = from + max_events - 1;
    /* Pass 1: which event is each trial's last in [from, to]. */
    if (from <= to && (rv = axl_store_iter_open(s, from, to, &it, eb)) != 0)
        return rv;
    while (it != NULL && (rv = axl_store_iter_next(it, &seq, &data, &len, eb)) == 0) {
        if (axl_event_decode(data, len, &ev, NULL) == 0 && ev.rec == AXL_REC_TRIAL) {
            uint64_t *slot = last_slot(&map, ev.experiment, ev.experiment_len, ev.trial);
            if (slot != NULL)
                *slot = seq;
        }
    }
    axl_store_iter_close(it);
    it = NULL;
    if (rv != 0 && rv != AXL_ENOENT)
        goto fail;
    rv = 0;
    char head[96];
    snprintf(head, sizeof(head), "{\"from\":%llu,\"events\":[", (unsigned long long)from);
    if ((rv = axl_view_buf_str(out, head)) != 0)
        goto fail;
    /* Pass 2: the events, superseded trial records left out. */
    size_t start = out->len, n = 0;
    if (from <= to && (rv = axl_store_iter_open(s, from, to, &it, eb)) != 0)
        goto fail;
    while (it != NULL && out->len - start < max_bytes) {
        rv = axl_store_iter_next(it, &seq, &data, &len, eb);
        if (rv == AXL_ENOENT) {
            rv = 0;
            break;
        }
        if (rv != 0)
            break;
        *next = seq + 1;
        if (axl_event_decode(data, len, &ev, NULL) == 0 && ev.rec == AXL_REC_TRIAL) {
            uint64_t *slot = last_slot(&map, ev.experiment, ev.experiment_len, ev.trial);
            if (slot != NULL && *slot != seq)
                continue; /* a later event of this chunk carries the trial's record */
        }
        if (n > 0 && (rv = axl_view_buf_add(out, ",", 1)) != 0)
            break;
        size_t before = out->len;
        rv = axl_view_event_json(data, len, out);
        if (rv == AXL_EPROTO) {
            /* Never a hole in the feed: the page is told which seq it cannot show. */
            out->len = before;
            char undecodable[96];
            snprintf(undecodable, sizeof(undecodable),
                     "{\"seq\":%llu,\"type\":\"undecodable\",\"body\":{}}",
                     (unsigned long long)seq);
            rv = axl_view_buf_str(out, undecodable);
        }
        if (rv != 0)
            break;
        n++;
    }
    axl_store_iter_close(it);
    if (rv != 0)
        goto fail;
    char tail[96];
    snprintf(tail, sizeof(tail), "],\"to\":%llu,\"last\":%llu}", (unsigned long long)(*next - 1),
             (unsigned long long)last);
    rv = axl_view_buf_str(out, tail);
fail:
    for (size_t i = 0; i < map.n; i++)
        free(map.seq[i]);
    if (rv == AXL_ENOMEM)
        axl_fail(eb, rv, "out of memory");
    return rv;
}
