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
        return v->str != NULL ? axl_pack_cstr(pk, v->str) : AXL_EINVAL;
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
    if (!name_ok(t->experiment))
        return axl_fail(eb, AXL_EINVAL, "trial.experiment: must be 1-%d bytes",
                        AXL_PROTO_MAX_NAME);
    if ((unsigned)t->status >= AXL_TRIAL_STATUS_COUNT)
        return axl_fail(eb, AXL_EINVAL, "trial.status: unknown status %d", (int)t->status);
    if (t->n_params > AXL_PROTO_MAX_PARAMS || t->n_metrics > AXL_PROTO_MAX_METRICS)
        return axl_fail(eb, AXL_ETOOBIG, "trial: too many parameters or metrics");
    for (uint32_t i = 0; i < t->n_params; i++)
        if (!name_ok(t->params[i].name))
            return axl_fail(eb, AXL_EINVAL, "trial.params[%u]: bad name", i);
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
    return bad ? axl_fail(eb, AXL_ENOMEM, "out of memory encoding a trial") : 0;
}

/* A bump allocator over one malloc'd block sized from the input. */
typedef struct arena {
    char *base;
    size_t used, cap;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    size_t at = (a->used + 7) & ~(size_t)7;
    if (at + n > a->cap)
        return NULL; /* cannot happen: the block is sized from the validated input */
    a->used = at + n;
    return a->base + at;
}

static const char *arena_str(arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int decode_value(const msgpack_object *o, arena *a, axl_value *v)
{
    memset(v, 0, sizeof(*v));
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        v->kind = AXL_VALUE_NUM;
        v->num = o->via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return AXL_ERANGE;
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
            return AXL_EINVAL;
        v->kind = AXL_VALUE_STR;
        v->str = arena_str(a, o->via.str.ptr, o->via.str.size);
        return 0;
    default:
        return AXL_ETYPE;
    }
}

/* A map key as a validated name copied into the arena. */
static int decode_name(const msgpack_object *k, arena *a, const char **out)
{
    if (k->via.str.size == 0 || k->via.str.size > AXL_PROTO_MAX_NAME ||
        memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL)
        return AXL_EINVAL;
    *out = arena_str(a, k->via.str.ptr, k->via.str.size);
    return 0;
}

int axl_trial_rec_decode(const void *buf, size_t len, axl_trial_rec *t, axl_errbuf *eb)
{
    axl_msg m;
    arena a = {0};
    uint64_t v = 0, index = 0, step = 0, deploys = 0;
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
        rv = axl_fail(eb, AXL_EVERSION, "trial.v: version %llu is not supported",
                      (unsigned long long)v);
        goto fail;
    }
    const msgpack_object *params = axl_obj_get(root, "params");
    const msgpack_object *metrics = axl_obj_get(root, "metrics");
    if (params == NULL || params->type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, params == NULL ? AXL_EMISSING : AXL_ETYPE,
                      "trial.params: expected a map");
        goto fail;
    }
    if (metrics != NULL && metrics->type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "trial.metrics: expected a map");
        goto fail;
    }
    uint32_t np = params->via.map.size;
    uint32_t nm = metrics != NULL ? metrics->via.map.size : 0;
    if (np > AXL_PROTO_MAX_PARAMS || nm > AXL_PROTO_MAX_METRICS) {
        rv = axl_fail(eb, AXL_ETOOBIG, "trial: %u parameters and %u metrics exceed %d and %d",
                      np, nm, AXL_PROTO_MAX_PARAMS, AXL_PROTO_MAX_METRICS);
        goto fail;
    }
    /* Every string comes from the input, so its bytes plus one NUL each bound the block. */
    a.cap = np * sizeof(axl_param_value) + nm * sizeof(axl_metric_value) + len +
            2 * (np + nm) + 64 + 8 * (np + nm + 8);
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
        rv = axl_fail(eb, AXL_EINVAL, "trial.status: unknown status '%.*s'", (int)n, s);
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

    t->params = arena_alloc(&a, np * sizeof(axl_param_value));
    t->n_params = np;
    for (uint32_t i = 0; i < np; i++) {
        const msgpack_object_kv *kv = &params->via.map.ptr[i];
        if (decode_name(&kv->key, &a, &t->params[i].name) != 0 ||
            decode_value(&kv->val, &a, &t->params[i].value) != 0) {
            rv = axl_fail(eb, AXL_ETYPE,
                          "trial.params.%.*s: expected a name and a number, string or boolean",
                          (int)(kv->key.via.str.size > 64 ? 64 : kv->key.via.str.size),
                          kv->key.via.str.ptr);
            goto fail;
        }
    }
    t->metrics = arena_alloc(&a, nm * sizeof(axl_metric_value));
    t->n_metrics = nm;
    for (uint32_t i = 0; i < nm; i++) {
        const msgpack_object_kv *kv = &metrics->via.map.ptr[i];
        axl_metric_value *mv = &t->metrics[i];
        const msgpack_object *pair = &kv->val;
        if (decode_name(&kv->key, &a, &mv->name) != 0 || pair->type != MSGPACK_OBJECT_ARRAY ||
            pair->via.array.size != 2 || !axl_obj_as_double(&pair->via.array.ptr[0], &mv->mean) ||
            (pair->via.array.ptr[1].type != MSGPACK_OBJECT_NIL &&
             !axl_obj_as_double(&pair->via.array.ptr[1], &mv->sem))) {
            rv = axl_fail(eb, AXL_ETYPE, "trial.metrics.%.*s: expected [mean, sem or nil]",
                          (int)(kv->key.via.str.size > 64 ? 64 : kv->key.via.str.size),
                          kv->key.via.str.ptr);
            goto fail;
        }
        if (pair->via.array.ptr[1].type == MSGPACK_OBJECT_NIL)
            mv->sem = NAN;
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
