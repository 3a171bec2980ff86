/* The trial record: the materialized state of one trial and the body of trial.* events. */
#include "proto/axl_proto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
#define AXL_TS_STR(name, str) str,
    AXL_TRIAL_STATUS_MAP(AXL_TS_STR)
#undef AXL_TS_STR
};

const char *axl_trial_status_name(axl_trial_status s)
{
    return (unsigned)s < AXL_TRIAL_STATUS_COUNT ? status_names[s] : "UNKNOWN";
}

int axl_trial_status_parse(const char *s, size_t len, axl_trial_status *out)
{
    for (int i = 0; i < AXL_TRIAL_STATUS_COUNT; i++) {
        if (strlen(status_names[i]) == len && memcmp(status_names[i], s, len) == 0) {
            *out = (axl_trial_status)i;
            return 0;
        }
    }
    return AXL_EINVAL;
}

bool axl_trial_status_is_terminal(axl_trial_status s)
{
    return s == AXL_TRIAL_COMPLETED || s == AXL_TRIAL_FAILED || s == AXL_TRIAL_EARLY_STOPPED ||
           s == AXL_TRIAL_ABANDONED;
}

bool axl_trial_transition_ok(axl_trial_status from, axl_trial_status to)
{
    if (axl_trial_status_is_terminal(from))
        return false;
    switch (to) {
    case AXL_TRIAL_ABANDONED:
        return true;
    case AXL_TRIAL_STAGED:
        return from == AXL_TRIAL_CANDIDATE;
    case AXL_TRIAL_RUNNING:
        return from == AXL_TRIAL_CANDIDATE || from == AXL_TRIAL_STAGED;
    case AXL_TRIAL_COMPLETED:
    case AXL_TRIAL_FAILED:
    case AXL_TRIAL_EARLY_STOPPED:
        /* A runner may fail a trial it could not even start. */
        return from == AXL_TRIAL_RUNNING || to == AXL_TRIAL_FAILED;
    default:
        return false;
    }
}

static int pack_value(msgpack_packer *pk, const axl_value *v)
{
    switch (v->kind) {
    case AXL_VALUE_NUM:
        return msgpack_pack_double(pk, v->num);
    case AXL_VALUE_INT:
        return msgpack_pack_int64(pk, v->i);
    case AXL_VALUE_STR:
        return axl_pack_cstr(pk, v->str);
    case AXL_VALUE_BOOL:
        return v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    return AXL_EINVAL;
}

static bool name_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= AXL_PROTO_MAX_NAME;
}

int axl_trial_rec_encode(const axl_trial_rec *t, msgpack_sbuffer *out, axl_errbuf *eb)
{
    size_t start = out->size;
    int rv;

    if (!name_ok(t->experiment))
        return axl_fail(eb, AXL_EINVAL, "trial.experiment: must be 1-%d bytes", AXL_PROTO_MAX_NAME);
    if ((unsigned)t->status >= AXL_TRIAL_STATUS_COUNT)
        return axl_fail(eb, AXL_EINVAL, "trial.status: unknown status %d", (int)t->status);
    if (t->n_params > AXL_PROTO_MAX_PARAMS || t->n_metrics > AXL_PROTO_MAX_METRICS)
        return axl_fail(eb, AXL_ETOOBIG, "trial: %u parameters and %u metrics exceed %d and %d",
                        t->n_params, t->n_metrics, AXL_PROTO_MAX_PARAMS, AXL_PROTO_MAX_METRICS);
    if ((t->n_params > 0 && t->params == NULL) || (t->n_metrics > 0 && t->metrics == NULL))
        return axl_fail(eb, AXL_EINVAL, "trial: parameter or metric array is NULL");
    for (uint32_t i = 0; i < t->n_params; i++) {
        const axl_value *v = &t->params[i].value;
        if (!name_ok(t->params[i].name))
            return axl_fail(eb, AXL_EINVAL, "trial.params[%u]: bad name", i);
        if ((unsigned)v->kind > AXL_VALUE_BOOL || (v->kind == AXL_VALUE_STR && v->str == NULL))
            return axl_fail(eb, AXL_EINVAL, "trial.params.%s: bad value", t->params[i].name);
    }
    for (uint32_t i = 0; i < t->n_metrics; i++)
        if (!name_ok(t->metrics[i].name))
            return axl_fail(eb, AXL_EINVAL, "trial.metrics[%u]: bad name", i);

    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(&pk, 14) || axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) ||
              axl_pack_kv_str(&pk, "experiment", t->experiment) ||
              axl_pack_kv_uint(&pk, "index", t->index) ||
              axl_pack_kv_str(&pk, "status", axl_trial_status_name(t->status)) ||
              axl_pack_kv_str(&pk, "gen", t->gen_method != NULL ? t->gen_method : "") ||
              axl_pack_kv_uint(&pk, "step", t->step) ||
              axl_pack_kv_num(&pk, "created", t->created) ||
              axl_pack_kv_num(&pk, "updated", t->updated) ||
              axl_pack_kv_num(&pk, "deployed", t->deployed) ||
              axl_pack_kv_uint(&pk, "deploys", t->deploy_count) ||
              axl_pack_kv_str(&pk, "job", t->job_id) || axl_pack_kv_str(&pk, "reason", t->reason);
    bad = bad || axl_pack_cstr(&pk, "params") || msgpack_pack_map(&pk, t->n_params);
    for (uint32_t i = 0; !bad && i < t->n_params; i++)
        bad = axl_pack_cstr(&pk, t->params[i].name) || pack_value(&pk, &t->params[i].value);
    bad = bad || axl_pack_cstr(&pk, "metrics") || msgpack_pack_map(&pk, t->n_metrics);
    for (uint32_t i = 0; !bad && i < t->n_metrics; i++) {
        bad = axl_pack_cstr(&pk, t->metrics[i].name) || msgpack_pack_array(&pk, 2) ||
              msgpack_pack_double(&pk, t->metrics[i].mean) ||
              (isnan(t->metrics[i].sem) ? msgpack_pack_nil(&pk)
                                        : msgpack_pack_double(&pk, t->metrics[i].sem));
    }
    if (bad) {
        out->size = start;
        return axl_fail(eb, AXL_ENOMEM, "out of memory encoding a trial");
    }
    /* Never write what the decoder refuses: every limit and range is checked once, there. */
    axl_trial_rec check;
    if ((rv = axl_trial_rec_decode(out->data + start, out->size - start, &check, eb)) != 0) {
        out->size = start;
        return rv;
    }
    axl_trial_rec_free(&check);
    return 0;
}

/*
 * A bump allocator over one malloc'd block sized from the input: arrays are aligned,
 * strings are not, so every string costs its length plus one NUL -- no more than the
 * bytes it occupies in the input (at least one header byte each).
 */
typedef struct arena {
    char *base;
    size_t used, cap;
} arena;

static void *arena_alloc(arena *a, size_t n, size_t align)
{
    size_t at = (a->used + align - 1) & ~(align - 1);
    if (at > a->cap || n > a->cap - at)
        return NULL; /* cannot happen: the block is sized from the validated input */
    a->used = at + n;
    return a->base + at;
}

static const char *arena_str(arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1, 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Names the value in errors: "trial.params.rpm" (the key cut to 64 bytes). */
#define KEY_ARGS(kv)                                                                               \
    (int)((kv)->key.via.str.size > 64 ? 64 : (kv)->key.via.str.size), (kv)->key.via.str.ptr

static int decode_value(const msgpack_object_kv *kv, arena *a, axl_value *v, axl_errbuf *eb)
{
    const msgpack_object *o = &kv->val;
    memset(v, 0, sizeof(*v));
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return axl_fail(eb, AXL_ERANGE, "trial.params.%.*s: not a finite number", KEY_ARGS(kv));
        v->kind = AXL_VALUE_NUM;
        v->num = o->via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return axl_fail(eb, AXL_ERANGE, "trial.params.%.*s: integer above 2^63-1",
                            KEY_ARGS(kv));
        v->kind = AXL_VALUE_INT;
        v->i = (int64_t)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v->kind = AXL_VALUE_INT;
        v->i = o->via.i64;
        return 0;
    case MSGPACK_OBJECT_BOOLEAN:
        v->kind = AXL_VALUE_BOOL;
        v->b = o->via.boolean;
        return 0;
    case MSGPACK_OBJECT_STR:
        if (memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
            return axl_fail(eb, AXL_EINVAL, "trial.params.%.*s: string contains a NUL byte",
                            KEY_ARGS(kv));
        v->kind = AXL_VALUE_STR;
        v->str = arena_str(a, o->via.str.ptr, o->via.str.size);
        return 0;
    default:
        return axl_fail(eb, AXL_ETYPE, "trial.params.%.*s: expected a number, string or boolean",
                        KEY_ARGS(kv));
    }
}

/* A map key as a validated name copied into the arena; `what` is "params" or "metrics". */
static int decode_name(const msgpack_object *map, uint32_t i, const char *what, arena *a,
                       const char **out, axl_errbuf *eb)
{
    const msgpack_object_kv *kv = &map->via.map.ptr[i];
    const msgpack_object *k = &kv->key;
    if (k->via.str.size == 0)
        return axl_fail(eb, AXL_EINVAL, "trial.%s: empty name", what);
    if (k->via.str.size > AXL_PROTO_MAX_NAME)
        return axl_fail(eb, AXL_ETOOBIG, "trial.%s.%.*s: name longer than %d bytes", what,
                        KEY_ARGS(kv), AXL_PROTO_MAX_NAME);
    if (memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL)
        return axl_fail(eb, AXL_EINVAL, "trial.%s: name contains a NUL byte", what);
    for (uint32_t j = 0; j < i; j++) {
        const msgpack_object *p = &map->via.map.ptr[j].key;
        if (p->via.str.size == k->via.str.size &&
            memcmp(p->via.str.ptr, k->via.str.ptr, k->via.str.size) == 0)
            return axl_fail(eb, AXL_EPROTO, "trial.%s.%.*s: name appears more than once", what,
                            KEY_ARGS(kv));
    }
    *out = arena_str(a, k->via.str.ptr, k->via.str.size);
    return 0;
}

static int decode_metric(const msgpack_object_kv *kv, axl_metric_value *mv, axl_errbuf *eb)
{
    const msgpack_object *pair = &kv->val;
    if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2 ||
        !axl_obj_as_double(&pair->via.array.ptr[0], &mv->mean) ||
        (pair->via.array.ptr[1].type != MSGPACK_OBJECT_NIL &&
         !axl_obj_as_double(&pair->via.array.ptr[1], &mv->sem)))
        return axl_fail(eb, AXL_ETYPE, "trial.metrics.%.*s: expected [mean, sem or nil]",
                        KEY_ARGS(kv));
    if (pair->via.array.ptr[1].type == MSGPACK_OBJECT_NIL)
        mv->sem = NAN;
    if (!isfinite(mv->mean))
        return axl_fail(eb, AXL_ERANGE, "trial.metrics.%.*s: mean is not finite", KEY_ARGS(kv));
    if (!isnan(mv->sem) && !(mv->sem >= 0 && isfinite(mv->sem)))
        return axl_fail(eb, AXL_ERANGE, "trial.metrics.%.*s: sem must be finite and >= 0",
                        KEY_ARGS(kv));
    return 0;
}

int axl_trial_rec_decode(const void *buf, size_t len, axl_trial_rec *t, axl_errbuf *eb)
{
    axl_msg m;
    arena a = {0};
    uint64_t v = 0, index = 0, step = 0, deploys = 0;
    const msgpack_object *params, *metrics;
    const char *s;
    size_t n;
    int rv;

    memset(t, 0, sizeof(*t));
    if ((rv = axl_msg_parse(&m, buf, len, eb)) != 0)
        return rv;
    const msgpack_object *root = &m.root;
    if (root->type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "trial: expected a map");
        goto fail;
    }
    if ((rv = axl_obj_uint(root, "trial", "v", true, 0, UINT64_MAX, &v, eb)) != 0)
        goto fail;
    if (v != AXL_PROTO_VERSION) {
        rv = axl_fail(eb, AXL_EVERSION, "trial.v: version %llu is not supported (this is %d)",
                      (unsigned long long)v, AXL_PROTO_VERSION);
        goto fail;
    }
    if ((rv = axl_obj_get_once(root, "trial", "params", &params, eb)) != 0 ||
        (rv = axl_obj_get_once(root, "trial", "metrics", &metrics, eb)) != 0)
        goto fail;
    if (metrics != NULL && metrics->type == MSGPACK_OBJECT_NIL)
        metrics = NULL;
    if (params == NULL || params->type == MSGPACK_OBJECT_NIL) {
        rv = axl_fail(eb, AXL_EMISSING, "trial.params: required field missing");
        goto fail;
    }
    if (params->type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "trial.params: expected a map");
        goto fail;
    }
    if (metrics != NULL && metrics->type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "trial.metrics: expected a map");
        goto fail;
    }
    uint32_t np = params->via.map.size;
    uint32_t nm = metrics != NULL ? metrics->via.map.size : 0;
    if (np > AXL_PROTO_MAX_PARAMS || nm > AXL_PROTO_MAX_METRICS) {
        rv = axl_fail(eb, AXL_ETOOBIG, "trial: %u parameters and %u metrics exceed %d and %d", np,
                      nm, AXL_PROTO_MAX_PARAMS, AXL_PROTO_MAX_METRICS);
        goto fail;
    }
    /*
     * Every string is copied from a distinct input string that takes at least its length
     * plus one header byte, so `len` bounds them all (plus one for the default ""); the
     * two arrays need their size and at most 7 bytes of alignment each.
     */
    a.cap =
        (size_t)np * sizeof(axl_param_value) + (size_t)nm * sizeof(axl_metric_value) + 16 + len + 1;
    if ((a.base = malloc(a.cap)) == NULL) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory decoding a trial");
        goto fail;
    }
    t->arena_ = a.base;

    if ((rv = axl_obj_str(root, "trial", "experiment", true, AXL_PROTO_MAX_NAME, &s, &n, eb)))
        goto fail;
    if (n == 0) {
        rv = axl_fail(eb, AXL_EINVAL, "trial.experiment: must not be empty");
        goto fail;
    }
    t->experiment = arena_str(&a, s, n);
    if ((rv = axl_obj_uint(root, "trial", "index", true, 0, UINT32_MAX, &index, eb)) ||
        (rv = axl_obj_str(root, "trial", "status", true, 32, &s, &n, eb)))
        goto fail;
    t->index = (uint32_t)index;
    if (axl_trial_status_parse(s, n, &t->status) != 0) {
        rv = axl_fail(eb, AXL_ERANGE, "trial.status: unknown status '%.*s'", (int)n, s);
        goto fail;
    }
    s = "";
    n = 0;
    if ((rv = axl_obj_str(root, "trial", "gen", false, AXL_PROTO_MAX_NAME, &s, &n, eb)))
        goto fail;
    t->gen_method = arena_str(&a, s, n);
    if ((rv = axl_obj_uint(root, "trial", "step", false, 0, UINT32_MAX, &step, eb)) ||
        (rv = axl_obj_num(root, "trial", "created", true, 0, 1e12, &t->created, eb)) ||
        (rv = axl_obj_num(root, "trial", "updated", false, 0, 1e12, &t->updated, eb)) ||
        (rv = axl_obj_num(root, "trial", "deployed", false, 0, 1e12, &t->deployed, eb)) ||
        (rv = axl_obj_uint(root, "trial", "deploys", false, 0, UINT32_MAX, &deploys, eb)))
        goto fail;
    t->step = (uint32_t)step;
    t->deploy_count = (uint32_t)deploys;
    s = NULL;
    if ((rv = axl_obj_str(root, "trial", "job", false, AXL_PROTO_MAX_STR, &s, &n, eb)))
        goto fail;
    t->job_id = s != NULL ? arena_str(&a, s, n) : NULL;
    s = NULL;
    if ((rv = axl_obj_str(root, "trial", "reason", false, AXL_PROTO_MAX_STR, &s, &n, eb)))
        goto fail;
    t->reason = s != NULL ? arena_str(&a, s, n) : NULL;

    t->params = arena_alloc(&a, np * sizeof(axl_param_value), 8);
    t->n_params = np;
    for (uint32_t i = 0; i < np; i++) {
        if ((rv = decode_name(params, i, "params", &a, &t->params[i].name, eb)) != 0 ||
            (rv = decode_value(&params->via.map.ptr[i], &a, &t->params[i].value, eb)) != 0)
            goto fail;
    }
    t->metrics = arena_alloc(&a, nm * sizeof(axl_metric_value), 8);
    t->n_metrics = nm;
    for (uint32_t i = 0; i < nm; i++) {
        if ((rv = decode_name(metrics, i, "metrics", &a, &t->metrics[i].name, eb)) != 0 ||
            (rv = decode_metric(&metrics->via.map.ptr[i], &t->metrics[i], eb)) != 0)
            goto fail;
    }
    axl_msg_free(&m);
    return 0;

fail:
    axl_msg_free(&m);
    axl_trial_rec_free(t);
    return rv;
}

void axl_trial_rec_free(axl_trial_rec *t)
{
    free(t->arena_);
    memset(t, 0, sizeof(*t));
}
