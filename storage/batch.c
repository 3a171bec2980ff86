/* Batches: events collected in memory, validated and encoded on add, seqs spliced at commit. */
#include "storage/store_int.h"

#include <stdlib.h>

#include "proto/axl_util.h"

#define SEQ_PLACEHOLDER UINT64_MAX
#define SEQ_PLACEHOLDER_LEN 9 /* 0xcf + 8 bytes */

int axl_store_batch_new(axl_store_batch **out)
{
    axl_store_batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        *out = NULL;
        return AXL_ENOMEM;
    }
    msgpack_sbuffer_init(&b->pre);
    msgpack_sbuffer_init(&b->enc);
    *out = b;
    return 0;
}

void axl_store_batch_free(axl_store_batch *b)
{
    if (b == NULL)
        return;
    msgpack_sbuffer_destroy(&b->pre);
    msgpack_sbuffer_destroy(&b->enc);
    free(b->items);
    free(b);
}

void axl_store_batch_clear(axl_store_batch *b)
{
    b->n = 0;
    msgpack_sbuffer_clear(&b->pre);
    msgpack_sbuffer_clear(&b->enc);
    b->enc_first = 0;
    b->committed = false;
    b->first_seq = 0;
}

size_t axl_store_batch_count(const axl_store_batch *b)
{
    return b->n;
}

int axl_store__trial_status(const void *rec, size_t len, axl_trial_status *out)
{
    const void *v;
    size_t vlen, n;
    const char *s;
    if (axl_mp_find_raw(rec, len, "status", &v, &vlen) != 0 || !axl_mp_raw_str(v, vlen, &s, &n) ||
        axl_trial_status_parse(s, n, out) != 0)
        return AXL_ECORRUPT;
    return 0;
}

/*
 * A trial event's body is a trial record (axl_trial_rec_encode) naming the event's
 * experiment and trial, with a known status: the fields the store keys and filters by.
 * They are read in place; the body's well-formedness was checked by axl_event_encode.
 * The rest of the record is the encoder's contract (a full decode here would double the
 * cost of a commit); axl_store_load reports a record that does not decode as corrupt.
 */
static int check_trial(const axl_event *e, axl_errbuf *eb)
{
    const void *v;
    size_t vlen, n;
    const char *name;
    uint64_t index;
    if (e->body == NULL)
        return axl_fail(eb, AXL_EINVAL, "event %.*s: a trial record needs a body", (int)e->type_len,
                        e->type);
    if (axl_mp_find_raw(e->body, e->body_len, "experiment", &v, &vlen) != 0 ||
        !axl_mp_raw_str(v, vlen, &name, &n) || n != e->experiment_len ||
        memcmp(name, e->experiment, n) != 0 ||
        axl_mp_find_raw(e->body, e->body_len, "index", &v, &vlen) != 0 ||
        !axl_mp_raw_uint(v, vlen, &index) || (int64_t)index != e->trial)
        return axl_fail(eb, AXL_EINVAL,
                        "event %.*s: the body is not a trial record of experiment %.*s, "
                        "trial %lld",
                        (int)e->type_len, e->type, (int)e->experiment_len, e->experiment,
                        (long long)e->trial);
    axl_trial_status status;
    if (axl_store__trial_status(e->body, e->body_len, &status) != 0)
        return axl_fail(eb, AXL_EINVAL, "event %.*s: the trial record has no known status",
                        (int)e->type_len, e->type);
    return 0;
}

int axl_store_batch_add(axl_store_batch *b, const axl_event *ev, axl_errbuf *eb)
{
    axl_event e = *ev;
    int rv;

    if (b->committed)
        return axl_fail(eb, AXL_ESTATE, "batch: already committed; clear it before reuse");
    e.seq = SEQ_PLACEHOLDER;
    if (e.time == 0)
        e.time = axl_now();
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

    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        store_item *items = realloc(b->items, cap * sizeof(*items));
        if (items == NULL)
            return axl_fail(eb, AXL_ENOMEM, "out of memory growing a batch");
        b->items = items;
        b->cap = cap;
    }
    /* Encode once (this validates the envelope and the body) straight into the batch. */
    size_t off = b->pre.size;
    if ((rv = axl_event_encode(&e, &b->pre, eb)) != 0) {
        b->pre.size = off;
        return rv;
    }
    const uint8_t *enc = (const uint8_t *)b->pre.data + off;
    size_t len = b->pre.size - off;
    const void *seqv, *body, *exp;
    size_t seqv_len, body_len, exp_len;
    const char *name;
    size_t name_len;
    if (len > AXL_PROTO_MAX_MSG) {
        b->pre.size = off;
        return axl_fail(eb, AXL_ETOOBIG, "event '%.*s' encodes to %zu bytes, above the %u limit",
                        (int)e.type_len, e.type, len, AXL_PROTO_MAX_MSG);
    }
    /*
     * The body is the encoding's last value (proto writes it last): find it without
     * walking it; fall back to a search if the layout ever changes.
     */
    static const char body_key[5] = {(char)0xa4, 'b', 'o', 'd', 'y'};
    body_len = e.body != NULL ? e.body_len : 1;
    body = enc + len - body_len;
    if (body_len + sizeof(body_key) > len ||
        memcmp((const char *)body - sizeof(body_key), body_key, sizeof(body_key)) != 0 ||
        (e.body != NULL ? memcmp(body, e.body, body_len) != 0 : *(const uint8_t *)body != 0x80))
        if (axl_mp_find_raw(enc, len, "body", &body, &body_len) != 0)
            body = NULL;
    if (body == NULL || axl_mp_find_raw(enc, len, "seq", &seqv, &seqv_len) != 0 ||
        seqv_len != SEQ_PLACEHOLDER_LEN ||
        axl_mp_find_raw(enc, len, "experiment", &exp, &exp_len) ||
        !axl_mp_raw_str(exp, exp_len, &name, &name_len) || name_len != e.experiment_len ||
        (const uint8_t *)body < (const uint8_t *)seqv ||
        (const uint8_t *)name < (const uint8_t *)seqv) {
        b->pre.size = off;
        return axl_fail(eb, AXL_EPROTO, "event '%.*s': unexpected encoding layout", (int)e.type_len,
                        e.type);
    }
    /* after encoding: the body is known to be well-formed msgpack now */
    if (e.rec == AXL_REC_TRIAL && (rv = check_trial(&e, eb)) != 0) {
        b->pre.size = off;
        return rv;
    }
    b->enc_first = 0; /* a failed commit's encoding no longer covers the batch */
    store_item *it = &b->items[b->n++];
    *it = (store_item){
        .rec = e.rec,
        .trial = e.trial,
        .pre_off = off,
        .pre_len = len,
        .seq_off = (size_t)((const uint8_t *)seqv - enc),
        .body_off = (size_t)((const uint8_t *)body - enc),
        .body_len = body_len,
        .exp_off = (size_t)((const uint8_t *)name - enc),
        .exp_len = name_len,
    };
    return 0;
}

int axl_store__batch_encode(axl_store_batch *b, uint64_t first_seq, axl_errbuf *eb)
{
    msgpack_packer pk;

    if (b->enc_first == first_seq && first_seq != 0)
        return 0;
    msgpack_sbuffer_clear(&b->enc);
    b->enc_first = 0;
    msgpack_packer_init(&pk, &b->enc, msgpack_sbuffer_write);
    for (size_t i = 0; i < b->n; i++) {
        store_item *it = &b->items[i];
        const char *pre = b->pre.data + it->pre_off;
        size_t tail = it->seq_off + SEQ_PLACEHOLDER_LEN;
        it->enc_off = b->enc.size;
        /* the bytes before the seq value, the seq as msgpack packs it, the rest */
        if (msgpack_sbuffer_write(&b->enc, pre, it->seq_off) != 0 ||
            msgpack_pack_uint64(&pk, first_seq + i) != 0 ||
            msgpack_sbuffer_write(&b->enc, pre + tail, it->pre_len - tail) != 0)
            return axl_fail(eb, AXL_ENOMEM, "out of memory encoding a batch");
        it->enc_len = b->enc.size - it->enc_off;
        it->shift = it->pre_len - it->enc_len;
    }
    b->enc_first = first_seq;
    return 0;
}

int axl_store_batch_event(const axl_store_batch *b, size_t i, uint64_t *seq, const void **data,
                          size_t *len)
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
