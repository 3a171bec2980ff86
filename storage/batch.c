/* Batches: events collected in memory, validated on add, encoded with their seqs at commit. */
#include "storage/store_int.h"

#include <stdlib.h>
#include <time.h>

int axl_store_batch_new(axl_store_batch **out)
{
    axl_store_batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        *out = NULL;
        return AXL_ENOMEM;
    }
    msgpack_sbuffer_init(&b->enc);
    msgpack_sbuffer_init(&b->scratch);
    *out = b;
    return 0;
}

void axl_store_batch_free(axl_store_batch *b)
{
    if (b == NULL)
        return;
    msgpack_sbuffer_destroy(&b->enc);
    msgpack_sbuffer_destroy(&b->scratch);
    free(b->items);
    free(b->arena);
    free(b);
}

void axl_store_batch_clear(axl_store_batch *b)
{
    b->n = 0;
    b->arena_len = 0;
    msgpack_sbuffer_clear(&b->enc);
    b->committed = false;
    b->first_seq = 0;
}

size_t axl_store_batch_count(const axl_store_batch *b)
{
    return b->n;
}

/* Copies n bytes into the arena; returns the offset or (size_t)-1 when out of memory. */
static size_t arena_put(axl_store_batch *b, const void *p, size_t n)
{
    if (b->arena_len + n > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap : 4096;
        while (cap < b->arena_len + n)
            cap *= 2;
        char *a = realloc(b->arena, cap);
        if (a == NULL)
            return (size_t)-1;
        b->arena = a;
        b->arena_cap = cap;
    }
    size_t off = b->arena_len;
    if (n > 0)
        memcpy(b->arena + off, p, n);
    b->arena_len += n;
    return off;
}

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A msgpack str at p (fixstr, str8, str16, str32): its bytes, or false. */
static bool raw_str(const uint8_t *p, size_t len, const char **s, size_t *n)
{
    if (len < 1)
        return false;
    size_t hdr, sz;
    if (p[0] >= 0xa0 && p[0] <= 0xbf) {
        hdr = 1;
        sz = p[0] & 0x1f;
    } else if (p[0] == 0xd9 && len >= 2) {
        hdr = 2;
        sz = p[1];
    } else if (p[0] == 0xda && len >= 3) {
        hdr = 3;
        sz = (size_t)p[1] << 8 | p[2];
    } else if (p[0] == 0xdb && len >= 5) {
        hdr = 5;
        sz = axl_store__get_be32(p + 1);
    } else {
        return false;
    }
    if (hdr + sz > len)
        return false;
    *s = (const char *)p + hdr;
    *n = sz;
    return true;
}

int axl_store__trial_status(const void *rec, size_t len, axl_trial_status *out)
{
    const void *v;
    size_t vlen, n;
    const char *s;
    if (axl_mp_find_raw(rec, len, "status", &v, &vlen) != 0 || !raw_str(v, vlen, &s, &n) ||
        axl_trial_status_parse(s, n, out) != 0)
        return AXL_ECORRUPT;
    return 0;
}

int axl_store_batch_add(axl_store_batch *b, const axl_event *ev, axl_errbuf *eb)
{
    axl_event e = *ev;
    axl_trial_status status = AXL_TRIAL_CANDIDATE;
    int rv;

    if (b->committed)
        return axl_fail(eb, AXL_ESTATE, "batch: already committed; clear it before reuse");
    e.seq = UINT64_MAX; /* the widest seq: the size check below holds for any real one */
    if (e.time == 0)
        e.time = now_unix();
    if (e.rec != AXL_REC_NONE && !axl_store__name_ok(e.experiment, e.experiment_len))
        return axl_fail(eb, AXL_EINVAL,
                        "event.experiment: a %s record needs a name of 1-%d bytes without NUL",
                        axl_rec_kind_name(e.rec), STORE_MAX_NAME);
    if (e.trial > (int64_t)UINT32_MAX)
        return axl_fail(eb, AXL_ERANGE, "event.trial: %lld is above %u", (long long)e.trial,
                        UINT32_MAX);
    if (e.trial < -1)
        e.trial = -1;
    if (!(e.time >= 0 && e.time <= 1e12))
        return axl_fail(eb, AXL_EINVAL, "event.time: %g is not a Unix time in seconds", e.time);
    msgpack_sbuffer_clear(&b->scratch);
    if ((rv = axl_event_encode(&e, &b->scratch, eb)) != 0)
        return rv;
    if (b->scratch.size > AXL_PROTO_MAX_MSG)
        return axl_fail(eb, AXL_ETOOBIG, "event '%.*s' encodes to %zu bytes, above the %u limit",
                        (int)e.type_len, e.type, b->scratch.size, AXL_PROTO_MAX_MSG);
    /* What the log holds must decode for every reader: check the round trip now. */
    axl_event back;
    if ((rv = axl_event_decode(b->scratch.data, b->scratch.size, &back, eb)) != 0)
        return rv;
    if (e.rec == AXL_REC_TRIAL) {
        axl_trial_rec t;
        if ((rv = axl_trial_rec_decode(e.body, e.body_len, &t, eb)) != 0)
            return rv;
        bool same = strlen(t.experiment) == e.experiment_len &&
                    memcmp(t.experiment, e.experiment, e.experiment_len) == 0 &&
                    (int64_t)t.index == e.trial;
        status = t.status;
        axl_trial_rec_free(&t);
        if (!same)
            return axl_fail(eb, AXL_EINVAL,
                            "event %.*s: the trial record's experiment and index differ from "
                            "the event's (%.*s, %lld)",
                            (int)e.type_len, e.type, (int)e.experiment_len, e.experiment,
                            (long long)e.trial);
    }

    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        store_item *it = realloc(b->items, cap * sizeof(*it));
        if (it == NULL)
            return axl_fail(eb, AXL_ENOMEM, "out of memory growing a batch");
        b->items = it;
        b->cap = cap;
    }
    size_t mark = b->arena_len;
    store_item *it = &b->items[b->n];
    memset(it, 0, sizeof(*it));
    it->rec = e.rec;
    it->trial = e.trial;
    it->status = status;
    it->time = e.time;
    it->type_len = e.type_len;
    it->exp_len = e.experiment_len;
    it->body_len = e.body != NULL ? e.body_len : 0;
    if ((it->type_off = arena_put(b, e.type, e.type_len)) == (size_t)-1 ||
        (it->exp_off = arena_put(b, e.experiment, e.experiment_len)) == (size_t)-1 ||
        (it->body_off = arena_put(b, e.body, it->body_len)) == (size_t)-1) {
        b->arena_len = mark;
        return axl_fail(eb, AXL_ENOMEM, "out of memory growing a batch");
    }
    b->n++;
    return 0;
}

int axl_store__batch_encode(axl_store_batch *b, uint64_t first_seq, axl_errbuf *eb)
{
    int rv;

    msgpack_sbuffer_clear(&b->enc);
    for (size_t i = 0; i < b->n; i++) {
        store_item *it = &b->items[i];
        axl_event e = {
            .seq = first_seq + i,
            .time = it->time,
            .type = b->arena + it->type_off,
            .type_len = it->type_len,
            .experiment = b->arena + it->exp_off,
            .experiment_len = it->exp_len,
            .trial = it->trial,
            .rec = it->rec,
            .body = it->body_len ? b->arena + it->body_off : NULL,
            .body_len = it->body_len,
        };
        it->enc_off = b->enc.size;
        if ((rv = axl_event_encode(&e, &b->enc, eb)) != 0)
            return rv;
        it->enc_len = b->enc.size - it->enc_off;
    }
    return 0;
}

int axl_store_batch_event(const axl_store_batch *b, size_t i, uint64_t *seq,
                          const void **data, size_t *len)
{
    if (!b->committed)
        return AXL_ESTATE;
    if (i >= b->n)
        return AXL_ERANGE;
    if (seq != NULL)
        *seq = b->first_seq + i;
    *data = b->enc.data + b->items[i].enc_off;
    *len = b->items[i].enc_len;
    return 0;
}
