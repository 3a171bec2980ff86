/*
 * The engine <-> worker messages: one decoder that holds every rule, and an encoder that
 * packs and then proves its output with that decoder, so the two can never disagree.
 */
#include "proto/axl_wire.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Names ------------------------------------------------------------------------ */

static const char *const type_names[] = {
#define AXL_WT_STR(name, str) str,
    AXL_WIRE_TYPE_MAP(AXL_WT_STR)
#undef AXL_WT_STR
};
static const char *const role_names[] = {
#define AXL_WR_STR(name, str) str,
    AXL_WORKER_ROLE_MAP(AXL_WR_STR)
#undef AXL_WR_STR
};
static const char *const state_names[] = {
#define AXL_TSK_STR(name, str) str,
    AXL_TASK_STATE_MAP(AXL_TSK_STR)
#undef AXL_TSK_STR
};

static int parse_name(const char *const *names, int count, const char *s, size_t len)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return -1;
}

const char *axl_wire_type_name(axl_wire_type t)
{
    return (unsigned)t < AXL_WIRE_TYPE_COUNT ? type_names[t] : "?";
}

const char *axl_worker_role_name(axl_worker_role r)
{
    return (unsigned)r < AXL_ROLE_COUNT ? role_names[r] : "?";
}

const char *axl_task_state_name(axl_task_state s)
{
    return (unsigned)s < AXL_TASK_STATE_COUNT ? state_names[s] : "?";
}

int axl_wire_type_parse(const char *s, size_t len, axl_wire_type *out)
{
    int i = s != NULL ? parse_name(type_names, AXL_WIRE_TYPE_COUNT, s, len) : -1;
    if (i < 0)
        return AXL_ERANGE;
    *out = (axl_wire_type)i;
    return 0;
}

int axl_worker_role_parse(const char *s, size_t len, axl_worker_role *out)
{
    int i = s != NULL ? parse_name(role_names, AXL_ROLE_COUNT, s, len) : -1;
    if (i < 0)
        return AXL_ERANGE;
    *out = (axl_worker_role)i;
    return 0;
}

int axl_task_state_parse(const char *s, size_t len, axl_task_state *out)
{
    int i = s != NULL ? parse_name(state_names, AXL_TASK_STATE_COUNT, s, len) : -1;
    if (i < 0)
        return AXL_ERANGE;
    *out = (axl_task_state)i;
    return 0;
}

/* ---- String rules ----------------------------------------------------------------- */

/* Strings quoted in errors are cut so that the line stays readable. */
#define QUOTE_MAX 48
#define QUOTE(p, n) (int)((n) > QUOTE_MAX ? QUOTE_MAX : (n)), (p)

/* A field's name for errors, formatted only when there is an error: where.key[idx]. */
typedef struct fpath {
    const char *where;
    const char *key; /* NULL: none */
    long idx;        /* < 0: none */
} fpath;

static const char *fpath_str(fpath f, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%s%s", f.where, f.key ? "." : "", f.key ? f.key : "");
    if (f.idx >= 0 && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "[%ld]", f.idx);
    return buf;
}

/* An identifier: task id, worker id, experiment. 1..max bytes, no control bytes. */
static int ident_check(const char *p, size_t n, size_t max, fpath f, axl_errbuf *eb)
{
    char path[160];
    if (n == 0)
        return axl_fail(eb, AXL_EINVAL, "%s: must not be empty", fpath_str(f, path, sizeof(path)));
    if (n > max)
        return axl_fail(eb, AXL_ETOOBIG, "%s: %zu bytes exceed %zu",
                        fpath_str(f, path, sizeof(path)), n, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20 || ch == 0x7f)
            return axl_fail(eb, AXL_EINVAL, "%s: control byte 0x%02x at offset %zu",
                            fpath_str(f, path, sizeof(path)), ch, i);
    }
    return 0;
}

/* A task kind: 1..AXL_WIRE_MAX_KIND bytes of [a-z0-9_.-]. */
static int kind_check(const char *p, size_t n, const char *path, axl_errbuf *eb)
{
    if (n == 0)
        return axl_fail(eb, AXL_EINVAL, "%s: must not be empty", path);
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
              ch == '-'))
            return axl_fail(eb, AXL_EINVAL, "%s: '%.*s' is not made of [a-z0-9_.-]", path,
                            QUOTE(p, n));
    }
    return 0;
}

/* Writes v in decimal at p; returns the number of digits. */
static size_t put_u32(char *p, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

int axl_wire_campaign_task_id(char *buf, size_t cap, axl_str experiment, const char *campaign,
                              uint32_t trial, uint32_t index, axl_errbuf *eb)
{
    int rv;
    size_t clen = campaign != NULL ? strlen(campaign) : 0;
    if (experiment.ptr == NULL && experiment.len > 0)
        return axl_fail(eb, AXL_EINVAL, "task.experiment: NULL with a length");
    if ((rv = ident_check(experiment.ptr, experiment.len, AXL_PROTO_MAX_NAME,
                          (fpath){"task", "experiment", -1}, eb)) != 0)
        return rv;
    if (clen != 0 && !axl_wire_campaign_check(campaign, clen))
        return axl_fail(eb, AXL_EINVAL, "campaign id: not %d lowercase hex digits",
                        AXL_WIRE_CAMPAIGN_LEN);
    char id[AXL_PROTO_MAX_NAME + AXL_WIRE_CAMPAIGN_LEN + 32];
    size_t n = experiment.len;
    memcpy(id, experiment.ptr, n);
    id[n++] = '/';
    if (clen != 0) {
        memcpy(id + n, campaign, clen);
        n += clen;
        id[n++] = '/';
    }
    n += put_u32(id + n, trial);
    id[n++] = '/';
    n += put_u32(id + n, index);
    id[n] = '\0';
    if (n > AXL_WIRE_MAX_ID)
        return axl_fail(eb, AXL_ETOOBIG, "task.id: '%.*s...' (%zu bytes) exceeds %d bytes",
                        QUOTE(id, n), n, AXL_WIRE_MAX_ID);
    if (buf == NULL || n >= cap)
        return axl_fail(eb, AXL_ETOOBIG, "task.id: buffer of %zu bytes is too small", cap);
    memcpy(buf, id, n + 1);
    return 0;
}

int axl_wire_task_id(char *buf, size_t cap, axl_str experiment, uint32_t trial, uint32_t index,
                     axl_errbuf *eb)
{
    return axl_wire_campaign_task_id(buf, cap, experiment, NULL, trial, index, eb);
}

bool axl_wire_campaign_check(const char *p, size_t n)
{
    if (n != AXL_WIRE_CAMPAIGN_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* Reads the decimal u32 that ends at id[end) going left; returns its first byte's offset,
 * or SIZE_MAX. */
static size_t rd_u32_left(const char *p, size_t end, uint32_t *out)
{
    size_t i = end;
    while (i > 0 && end - i < 10 && p[i - 1] >= '0' && p[i - 1] <= '9')
        i--;
    if (i == end || (end - i > 1 && p[i] == '0'))
        return SIZE_MAX; /* no digits, or a leading zero the builder never writes */
    uint64_t v = 0;
    for (size_t k = i; k < end; k++)
        v = v * 10 + (uint64_t)(p[k] - '0');
    if (v > UINT32_MAX)
        return SIZE_MAX;
    *out = (uint32_t)v;
    return i;
}

int axl_wire_task_id_parse(axl_str id, axl_str experiment, axl_wire_task_ref *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = experiment.len;
    if (id.ptr == NULL || n == 0 || id.len < n + 4 || memcmp(id.ptr, experiment.ptr, n) != 0 ||
        id.ptr[n] != '/')
        return AXL_EINVAL;
    size_t i = rd_u32_left(id.ptr, id.len, &out->index);
    if (i == SIZE_MAX || i < n + 2 || id.ptr[i - 1] != '/')
        return AXL_EINVAL;
    size_t j = rd_u32_left(id.ptr, i - 1, &out->trial);
    if (j == SIZE_MAX || j < n + 1 || id.ptr[j - 1] != '/')
        return AXL_EINVAL;
    if (j - 1 == n) /* "<experiment>/<trial>/<index>" */
        return 0;
    size_t c = n + 1, clen = j - 1 - c;
    if (!axl_wire_campaign_check(id.ptr + c, clen))
        return AXL_EINVAL;
    out->campaign = (axl_str){id.ptr + c, clen};
    return 0;
}

/* ---- Raw maps (task.params, finished.result) --------------------------------------- */

typedef struct rawck {
    unsigned keys;
    int depth; /* entries in path[] */
    const char *where;
    axl_errbuf *eb;
    struct {
        const char *key; /* NULL: an array index */
        size_t len;
        uint32_t idx;
    } path[AXL_WIRE_MAX_RAW_DEPTH + 2];
} rawck;

/* Fails with "<where>.key.key[i]: <message>"; the path is built only here. */
static int raw_fail(rawck *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int raw_fail(rawck *c, int code, const char *fmt, ...)
{
    char path[256], msg[200];
    size_t n = (size_t)snprintf(path, sizeof(path), "%s", c->where);
    for (int i = 0; i < c->depth && n < sizeof(path); i++) {
        if (c->path[i].key != NULL)
            n += (size_t)snprintf(path + n, sizeof(path) - n, ".%.*s",
                                  QUOTE(c->path[i].key, c->path[i].len));
        else
            n += (size_t)snprintf(path + n, sizeof(path) - n, "[%u]", (unsigned)c->path[i].idx);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return axl_fail(c->eb, code, "%s: %s", path, msg);
}

static int raw_map(rawck *c, const msgpack_object *o, int depth);

/* A value inside a raw map; `depth` is the level of the map holding it. */
static int raw_value(rawck *c, const msgpack_object *v, int depth)
{
    double d;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    case MSGPACK_OBJECT_BOOLEAN:
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return isfinite(v->via.f64) ? 0 : raw_fail(c, AXL_ERANGE, "not a finite number");
    case MSGPACK_OBJECT_STR:
        if (memchr(v->via.str.ptr, '\0', v->via.str.size) != NULL)
            return raw_fail(c, AXL_EINVAL, "string contains a NUL byte");
        return 0;
    case MSGPACK_OBJECT_ARRAY:
        /* Lists of steps or drops are arrays of arrays or maps: any value may nest, as
         * long as the whole stays within the depth limit. */
        if (depth + 1 > AXL_WIRE_MAX_RAW_DEPTH)
            return raw_fail(c, AXL_EDEPTH, "nesting deeper than %d", AXL_WIRE_MAX_RAW_DEPTH);
        if (v->via.array.size > AXL_WIRE_MAX_RAW_ARRAY)
            return raw_fail(c, AXL_ETOOBIG, "array of %u values exceeds %d", v->via.array.size,
                            AXL_WIRE_MAX_RAW_ARRAY);
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            c->path[c->depth].key = NULL;
            c->path[c->depth++].idx = i;
            int rv = raw_value(c, &v->via.array.ptr[i], depth + 1);
            if (rv != 0)
                return rv;
            c->depth--;
        }
        (void)d;
        return 0;
    case MSGPACK_OBJECT_MAP:
        return raw_map(c, v, depth + 1);
    default:
        return raw_fail(c, AXL_ETYPE, "expected a number, string, boolean, array or map");
    }
}

/* A map of a validated message (keys are strings); `depth` is its level (top = 1). */
static int raw_map(rawck *c, const msgpack_object *o, int depth)
{
    if (depth > AXL_WIRE_MAX_RAW_DEPTH)
        return raw_fail(c, AXL_EDEPTH, "nesting deeper than %d", AXL_WIRE_MAX_RAW_DEPTH);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        const char *k = kv->key.via.str.ptr;
        size_t kn = kv->key.via.str.size;
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return raw_fail(c, AXL_EPROTO, "map key is not a string");
        if (++c->keys > AXL_WIRE_MAX_RAW_KEYS)
            return raw_fail(c, AXL_ETOOBIG, "more than %d keys in all", AXL_WIRE_MAX_RAW_KEYS);
        if (kn == 0)
            return raw_fail(c, AXL_EINVAL, "empty key");
        if (kn > AXL_PROTO_MAX_NAME)
            return raw_fail(c, AXL_ETOOBIG, "key '%.*s...' exceeds %d bytes", QUOTE(k, kn),
                            AXL_PROTO_MAX_NAME);
        if (memchr(k, '\0', kn) != NULL)
            return raw_fail(c, AXL_EINVAL, "key contains a NUL byte");
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *pk = &o->via.map.ptr[j].key;
            if (pk->via.str.size == kn && memcmp(pk->via.str.ptr, k, kn) == 0)
                return raw_fail(c, AXL_EPROTO, "key '%.*s' appears more than once", QUOTE(k, kn));
        }
        c->path[c->depth].key = k;
        c->path[c->depth++].len = kn;
        int rv = raw_value(c, &kv->val, depth);
        if (rv != 0)
            return rv;
        c->depth--;
    }
    return 0;
}

static int raw_check_obj(const msgpack_object *o, const char *where, axl_errbuf *eb)
{
    rawck c = {.keys = 0, .depth = 0, .where = where, .eb = eb};
    if (o->type != MSGPACK_OBJECT_MAP)
        return axl_fail(eb, AXL_ETYPE, "%s: expected a map", where);
    return raw_map(&c, o, 1);
}

int axl_wire_raw_check(const void *raw, size_t len, const char *where, axl_errbuf *eb)
{
    axl_msg m;
    int rv;
    if (where == NULL)
        where = "raw";
    if ((rv = axl_msg_parse(&m, raw, len, eb)) != 0)
        return rv;
    rv = raw_check_obj(&m.root, where, eb);
    axl_msg_free(&m);
    return rv;
}

/* ---- Decoding ----------------------------------------------------------------------- */

/* What every field reader needs: the map, its name for errors, the message and buffer. */
typedef struct rd {
    const msgpack_object *map;
    const char *where; /* "task", "status_reply.tasks[3]" */
    axl_wire_msg *msg;
    const void *buf;
    size_t len;
    axl_errbuf *eb;
} rd;

static int rd_str(rd *r, const char *key, bool required, size_t max, axl_str *out)
{
    const char *p = NULL;
    size_t n = 0;
    int rv = axl_obj_str(r->map, r->where, key, required, max, &p, &n, r->eb);
    out->ptr = p;
    out->len = p != NULL ? n : 0;
    return rv;
}

static int rd_ident(rd *r, const char *key, size_t max, axl_str *out)
{
    int rv = rd_str(r, key, true, max, out);
    if (rv != 0)
        return rv;
    return ident_check(out->ptr, out->len, max, (fpath){r->where, key, -1}, r->eb);
}

static int rd_time(rd *r, const char *key, double *out)
{
    return axl_obj_num(r->map, r->where, key, true, 0, AXL_WIRE_MAX_TIME, out, r->eb);
}

static int rd_u32(rd *r, const char *key, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v = 0;
    int rv = axl_obj_uint(r->map, r->where, key, true, lo, hi, &v, r->eb);
    *out = (uint32_t)v;
    return rv;
}

/* A string from a fixed set: "role", "state". Unknown names are AXL_ERANGE. */
static int rd_enum(rd *r, const char *key, const char *const *names, int count, int *out)
{
    axl_str s;
    int rv = rd_str(r, key, true, 32, &s);
    if (rv != 0)
        return rv;
    int i = parse_name(names, count, s.ptr, s.len);
    if (i < 0) {
        char set[160] = "";
        for (int k = 0; k < count; k++)
            snprintf(set + strlen(set), sizeof(set) - strlen(set), "%s%s", k ? "|" : "", names[k]);
        return axl_fail(r->eb, AXL_ERANGE, "%s.%s: '%.*s' is not one of %s", r->where, key,
                        QUOTE(s.ptr, s.len), set);
    }
    *out = i;
    return 0;
}

/* A required map-valued field, as the raw bytes it occupies in the buffer. */
static int rd_raw(rd *r, const char *key, axl_raw *out)
{
    const msgpack_object *o;
    int rv = axl_obj_get_once(r->map, r->where, key, &o, r->eb);
    if (rv != 0)
        return rv;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return axl_fail(r->eb, AXL_EMISSING, "%s.%s: required field missing", r->where, key);
    /* where is "task" or "finished": the two raw fields are task.params, finished.result */
    const char *path = r->msg->type == AXL_WIRE_TASK ? "task.params" : "finished.result";
    if ((rv = raw_check_obj(o, path, r->eb)) != 0)
        return rv;
    /* Top-level keys are unique (checked above), so the first match is this one. */
    if (axl_mp_find_raw(r->buf, r->len, key, &out->ptr, &out->len) != 0)
        return axl_fail(r->eb, AXL_EPROTO, "%s: cannot slice the raw map", path);
    return 0;
}

/* Shared by the arrays of task ids: each element a distinct identifier. */
static int id_elem(const msgpack_object *e, const char *where, const char *key, uint32_t i,
                   axl_str *out, axl_errbuf *eb)
{
    char path[160];
    fpath f = {where, key, (long)i};
    if (e->type != MSGPACK_OBJECT_STR)
        return axl_fail(eb, AXL_ETYPE, "%s: expected a string", fpath_str(f, path, sizeof(path)));
    if (memchr(e->via.str.ptr, '\0', e->via.str.size) != NULL)
        return axl_fail(eb, AXL_EINVAL, "%s: string contains a NUL byte",
                        fpath_str(f, path, sizeof(path)));
    out->ptr = e->via.str.ptr;
    out->len = e->via.str.size;
    return ident_check(out->ptr, out->len, AXL_WIRE_MAX_ID, f, eb);
}

static int dup_check(const axl_str *ids, size_t stride, uint32_t n, const char *where,
                     const char *key, axl_errbuf *eb)
{
    /* n <= AXL_WIRE_MAX_IDS, so the quadratic scan is at most half a million compares. */
    for (uint32_t i = 1; i < n; i++) {
        const axl_str *a = (const axl_str *)((const char *)ids + i * stride);
        for (uint32_t j = 0; j < i; j++) {
            const axl_str *b = (const axl_str *)((const char *)ids + j * stride);
            if (a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0)
                return axl_fail(eb, AXL_EINVAL, "%s.%s[%u]: task id '%.*s' repeats [%u]", where,
                                key, (unsigned)i, QUOTE(a->ptr, a->len), (unsigned)j);
        }
    }
    return 0;
}

/*
 * An array field of at most AXL_WIRE_MAX_IDS entries: *arr is the array object, NULL when
 * absent (an error when required). Returns 0 or a code.
 */
static int rd_array(rd *r, const char *key, bool required, const msgpack_object **arr)
{
    int rv = axl_obj_get_once(r->map, r->where, key, arr, r->eb);
    if (rv != 0)
        return rv;
    if (*arr == NULL || (*arr)->type == MSGPACK_OBJECT_NIL) {
        *arr = NULL;
        if (required)
            return axl_fail(r->eb, AXL_EMISSING, "%s.%s: required field missing", r->where, key);
        return 0;
    }
    if ((*arr)->type != MSGPACK_OBJECT_ARRAY)
        return axl_fail(r->eb, AXL_ETYPE, "%s.%s: expected an array", r->where, key);
    if ((*arr)->via.array.size > AXL_WIRE_MAX_IDS)
        return axl_fail(r->eb, AXL_ETOOBIG, "%s.%s: %u entries exceed %d", r->where, key,
                        (*arr)->via.array.size, AXL_WIRE_MAX_IDS);
    return 0;
}

/* Owned storage for n entries of size sz (none for n == 0). */
static void *rd_alloc(rd *r, uint32_t n, size_t sz)
{
    if (n == 0)
        return NULL;
    r->msg->owned_ = calloc(n, sz);
    return r->msg->owned_;
}

static int rd_ids(rd *r, const char *key, bool required, bool *present, uint32_t *n_out,
                  const axl_str **out)
{
    const msgpack_object *arr;
    int rv = rd_array(r, key, required, &arr);
    if (rv != 0 || arr == NULL)
        return rv;
    uint32_t n = arr->via.array.size;
    axl_str *ids = rd_alloc(r, n, sizeof(axl_str));
    if (n > 0 && ids == NULL)
        return axl_fail(r->eb, AXL_ENOMEM, "%s.%s: out of memory", r->where, key);
    for (uint32_t i = 0; i < n; i++)
        if ((rv = id_elem(&arr->via.array.ptr[i], r->where, key, i, &ids[i], r->eb)) != 0)
            return rv;
    if (n > 0 && (rv = dup_check(ids, sizeof(axl_str), n, r->where, key, r->eb)) != 0)
        return rv;
    if (present != NULL)
        *present = true;
    *n_out = n;
    *out = ids;
    return 0;
}

static int dec_hello(rd *r, axl_wire_hello *m)
{
    int role = 0, rv;
    if ((rv = rd_ident(r, "worker", AXL_WIRE_MAX_ID, &m->worker)) ||
        (rv = rd_enum(r, "role", role_names, AXL_ROLE_COUNT, &role)) ||
        (rv = rd_u32(r, "capacity", 1, AXL_WIRE_MAX_CAPACITY, &m->capacity)) ||
        (rv = rd_time(r, "time", &m->time)) ||
        (rv = rd_ids(r, "inflight", true, NULL, &m->n_inflight, &m->inflight)))
        return rv;
    m->role = (axl_worker_role)role;
    return 0;
}

static int dec_task(rd *r, axl_wire_task *m)
{
    double start_at = NAN;
    int rv;
    if ((rv = rd_ident(r, "id", AXL_WIRE_MAX_ID, &m->id)) ||
        (rv = rd_ident(r, "experiment", AXL_PROTO_MAX_NAME, &m->experiment)) ||
        (rv = rd_u32(r, "trial", 0, UINT32_MAX, &m->trial)) ||
        (rv = rd_u32(r, "index", 0, UINT32_MAX, &m->index)) ||
        (rv = rd_str(r, "kind", true, AXL_WIRE_MAX_KIND, &m->kind)) ||
        (rv = kind_check(m->kind.ptr, m->kind.len, "task.kind", r->eb)) ||
        (rv = axl_obj_num(r->map, "task", "start_at", false, 0, AXL_WIRE_MAX_TIME, &start_at,
                          r->eb)) ||
        (rv = rd_raw(r, "params", &m->params)))
        return rv;
    m->has_start_at = !isnan(start_at);
    m->start_at = m->has_start_at ? start_at : 0;
    /* Idempotent dispatch rests on the id being a function of what it names:
     * "<experiment>[/<campaign>]/<trial>/<index>". */
    char want[AXL_WIRE_MAX_ID + 1];
    axl_wire_task_ref ref;
    if ((rv = axl_wire_task_id(want, sizeof(want), m->experiment, m->trial, m->index, r->eb)))
        return rv;
    if (!axl_str_eq(m->id, want) &&
        (axl_wire_task_id_parse(m->id, m->experiment, &ref) != 0 || ref.campaign.len == 0 ||
         ref.trial != m->trial || ref.index != m->index))
        return axl_fail(r->eb, AXL_EINVAL,
                        "task.id: '%.*s' is not experiment[/campaign]/trial/index '%s'",
                        QUOTE(m->id.ptr, m->id.len), want);
    return 0;
}

static int dec_cancel(rd *r, axl_wire_cancel *m)
{
    int rv;
    if ((rv = rd_ident(r, "id", AXL_WIRE_MAX_ID, &m->id)) ||
        (rv = rd_str(r, "reason", true, AXL_WIRE_MAX_TEXT, &m->reason)))
        return rv;
    return 0;
}

static int dec_ack(rd *r, axl_wire_ack *m)
{
    int state = 0, rv;
    if ((rv = rd_ident(r, "id", AXL_WIRE_MAX_ID, &m->id)) ||
        (rv = rd_enum(r, "state", state_names, AXL_TASK_STATE_COUNT, &state)))
        return rv;
    m->state = (axl_task_state)state;
    return 0;
}

static int dec_started(rd *r, axl_wire_started *m)
{
    int rv;
    if ((rv = rd_ident(r, "id", AXL_WIRE_MAX_ID, &m->id)) || (rv = rd_time(r, "time", &m->time)))
        return rv;
    return 0;
}

static int dec_progress(rd *r, axl_wire_progress *m)
{
    int rv;
    if ((rv = rd_ident(r, "id", AXL_WIRE_MAX_ID, &m->id)) ||
        (rv = axl_obj_num(r->map, "progress", "fraction", true, 0, 1, &m->fraction, r->eb)) ||
        (rv = rd_str(r, "note", false, AXL_WIRE_MAX_TEXT, &m->note)))
        return rv;
    return 0;
}

static int dec_finished(rd *r, axl_wire_finished *m)
{
    int rv;
    if ((rv = rd_ident(r, "id", AXL_WIRE_MAX_ID, &m->id)) || (rv = rd_time(r, "time", &m->time)) ||
        (rv = rd_raw(r, "result", &m->result)))
        return rv;
    return 0;
}

static int dec_failed(rd *r, axl_wire_failed *m)
{
    int rv;
    if ((rv = rd_ident(r, "id", AXL_WIRE_MAX_ID, &m->id)) || (rv = rd_time(r, "time", &m->time)) ||
        (rv = rd_str(r, "reason", true, AXL_WIRE_MAX_TEXT, &m->reason)) ||
        (rv = axl_obj_bool(r->map, "failed", "retryable", true, &m->retryable, r->eb)))
        return rv;
    return 0;
}

static int dec_heartbeat(rd *r, axl_wire_heartbeat *m)
{
    int role = 0, rv;
    if ((rv = rd_ident(r, "worker", AXL_WIRE_MAX_ID, &m->worker)) ||
        (rv = rd_enum(r, "role", role_names, AXL_ROLE_COUNT, &role)) ||
        (rv = axl_obj_uint(r->map, "heartbeat", "seq", true, 0, UINT64_MAX, &m->seq, r->eb)) ||
        (rv = rd_time(r, "time", &m->time)) ||
        (rv = rd_u32(r, "inflight", 0, AXL_WIRE_MAX_IDS, &m->inflight)))
        return rv;
    m->role = (axl_worker_role)role;
    return 0;
}

static int dec_status(rd *r, axl_wire_status *m)
{
    return rd_ids(r, "ids", false, &m->has_ids, &m->n_ids, &m->ids);
}

static int dec_status_reply(rd *r, axl_wire_status_reply *m)
{
    const msgpack_object *arr;
    int rv = rd_array(r, "tasks", true, &arr);
    if (rv != 0)
        return rv;
    uint32_t n = arr->via.array.size;
    axl_wire_task_state *tasks = rd_alloc(r, n, sizeof(*tasks));
    if (n > 0 && tasks == NULL)
        return axl_fail(r->eb, AXL_ENOMEM, "status_reply.tasks: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        char where[48];
        int state = 0;
        snprintf(where, sizeof(where), "status_reply.tasks[%u]", (unsigned)i);
        rd e = *r;
        e.map = &arr->via.array.ptr[i];
        e.where = where;
        if (e.map->type != MSGPACK_OBJECT_MAP)
            return axl_fail(r->eb, AXL_ETYPE, "%s: expected a map {id, state}", where);
        if ((rv = rd_ident(&e, "id", AXL_WIRE_MAX_ID, &tasks[i].id)) ||
            (rv = rd_enum(&e, "state", state_names, AXL_TASK_STATE_COUNT, &state)))
            return rv;
        tasks[i].state = (axl_task_state)state;
    }
    if (n > 0 &&
        (rv = dup_check(&tasks[0].id, sizeof(*tasks), n, "status_reply", "tasks", r->eb)) != 0)
        return rv;
    m->n_tasks = n;
    m->tasks = tasks;
    return 0;
}

static int dec_error(rd *r, axl_wire_error *m)
{
    int rv;
    if ((rv = rd_str(r, "code", true, 32, &m->code_name)) ||
        (rv = rd_str(r, "msg", true, AXL_WIRE_MAX_TEXT, &m->msg)))
        return rv;
    const char *p = m->code_name.ptr;
    size_t n = m->code_name.len;
    bool ok = n > 5 && memcmp(p, "AXL_E", 5) == 0;
    for (size_t i = 5; ok && i < n; i++)
        ok = (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_';
    if (!ok)
        return axl_fail(r->eb, AXL_EINVAL, "error.code: '%.*s' is not an AXL_E... name",
                        QUOTE(p, n));
    m->code = axl_err_from_name(p, n);
    if (m->code == 0)
        m->code = AXL_EPROTO; /* a code from a newer peer; code_name keeps it */
    return 0;
}

int axl_wire_decode(const void *buf, size_t len, axl_wire_msg *msg, axl_errbuf *eb)
{
    axl_msg m;
    uint64_t v = 0;
    axl_str type;
    int rv;

    memset(msg, 0, sizeof(*msg));
    if ((rv = axl_msg_parse(&m, buf, len, eb)) != 0)
        return rv;
    rd r = {.map = &m.root, .where = "message", .msg = msg, .buf = buf, .len = len, .eb = eb};
    if (m.root.type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "message: expected a map");
        goto out;
    }
    if ((rv = axl_obj_uint(r.map, "message", "v", true, 0, UINT64_MAX, &v, eb)) != 0)
        goto out;
    if (v != AXL_PROTO_VERSION) {
        rv = axl_fail(eb, AXL_EVERSION, "message.v: version %llu is not supported (this is %d)",
                      (unsigned long long)v, AXL_PROTO_VERSION);
        goto out;
    }
    if ((rv = rd_str(&r, "type", true, 32, &type)) != 0)
        goto out;
    int t = parse_name(type_names, AXL_WIRE_TYPE_COUNT, type.ptr, type.len);
    if (t < 0) {
        rv = axl_fail(eb, AXL_ENOTSUP, "message.type: unknown message type '%.*s'",
                      QUOTE(type.ptr, type.len));
        goto out;
    }
    msg->type = (axl_wire_type)t;
    r.where = type_names[t];
    switch (msg->type) {
    case AXL_WIRE_HELLO:
        rv = dec_hello(&r, &msg->hello);
        break;
    case AXL_WIRE_TASK:
        rv = dec_task(&r, &msg->task);
        break;
    case AXL_WIRE_CANCEL:
        rv = dec_cancel(&r, &msg->cancel);
        break;
    case AXL_WIRE_ACK:
        rv = dec_ack(&r, &msg->ack);
        break;
    case AXL_WIRE_STARTED:
        rv = dec_started(&r, &msg->started);
        break;
    case AXL_WIRE_PROGRESS:
        rv = dec_progress(&r, &msg->progress);
        break;
    case AXL_WIRE_FINISHED:
        rv = dec_finished(&r, &msg->finished);
        break;
    case AXL_WIRE_FAILED:
        rv = dec_failed(&r, &msg->failed);
        break;
    case AXL_WIRE_HEARTBEAT:
        rv = dec_heartbeat(&r, &msg->heartbeat);
        break;
    case AXL_WIRE_STATUS:
        rv = dec_status(&r, &msg->status);
        break;
    case AXL_WIRE_STATUS_REPLY:
        rv = dec_status_reply(&r, &msg->status_reply);
        break;
    case AXL_WIRE_ERROR:
        rv = dec_error(&r, &msg->error);
        break;
    default:
        rv = axl_fail(eb, AXL_ENOTSUP, "message.type: not decodable");
    }
out:
    axl_msg_free(&m);
    if (rv != 0)
        axl_wire_free(msg);
    return rv;
}

void axl_wire_free(axl_wire_msg *msg)
{
    if (msg == NULL)
        return;
    free(msg->owned_);
    memset(msg, 0, sizeof(*msg));
}

/* ---- Encoding ----------------------------------------------------------------------- */

typedef struct wr {
    msgpack_packer pk;
    bool bad;
} wr;

static void w_key(wr *w, const char *key)
{
    w->bad = w->bad || axl_pack_cstr(&w->pk, key) != 0;
}

static void w_str(wr *w, axl_str s)
{
    w->bad = w->bad || msgpack_pack_str(&w->pk, s.len) != 0 ||
             msgpack_pack_str_body(&w->pk, s.ptr != NULL ? s.ptr : "", s.len) != 0;
}

static void kv_str(wr *w, const char *key, axl_str s)
{
    w_key(w, key);
    w_str(w, s);
}

static void kv_cstr(wr *w, const char *key, const char *s)
{
    w->bad = w->bad || axl_pack_kv_str(&w->pk, key, s) != 0;
}

static void kv_uint(wr *w, const char *key, uint64_t v)
{
    w->bad = w->bad || axl_pack_kv_uint(&w->pk, key, v) != 0;
}

static void kv_num(wr *w, const char *key, double v)
{
    w->bad = w->bad || axl_pack_kv_num(&w->pk, key, v) != 0;
}

static void kv_bool(wr *w, const char *key, bool v)
{
    w->bad = w->bad || axl_pack_kv_bool(&w->pk, key, v) != 0;
}

static void kv_raw(wr *w, msgpack_sbuffer *out, const char *key, axl_raw raw)
{
    w_key(w, key);
    if (raw.ptr == NULL)
        w->bad = w->bad || msgpack_pack_map(&w->pk, 0) != 0;
    else
        w->bad = w->bad || msgpack_sbuffer_write(out, raw.ptr, raw.len) != 0;
}

static void kv_ids(wr *w, const char *key, uint32_t n, const axl_str *ids)
{
    w_key(w, key);
    w->bad = w->bad || msgpack_pack_array(&w->pk, n) != 0;
    for (uint32_t i = 0; i < n; i++)
        w_str(w, ids[i]);
}

static bool str_ok(axl_str s)
{
    return s.ptr != NULL || s.len == 0;
}

static bool ids_ok(uint32_t n, const axl_str *ids)
{
    if (n > 0 && ids == NULL)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!str_ok(ids[i]))
            return false;
    return true;
}

/* What has no wire form at all; everything else is left to the decoder's verdict. */
static int enc_precheck(const axl_wire_msg *msg, axl_errbuf *eb)
{
    const char *t = axl_wire_type_name(msg->type);
    bool ok = true;
    uint32_t n = msg->type == AXL_WIRE_HELLO    ? msg->hello.n_inflight
                 : msg->type == AXL_WIRE_STATUS ? (msg->status.has_ids ? msg->status.n_ids : 0)
                 : msg->type == AXL_WIRE_STATUS_REPLY ? msg->status_reply.n_tasks
                                                      : 0;
    if (n > AXL_WIRE_MAX_IDS) /* before walking arrays of that length */
        return axl_fail(eb, AXL_ETOOBIG, "%s: %u ids exceed %d", t, (unsigned)n, AXL_WIRE_MAX_IDS);
    switch (msg->type) {
    case AXL_WIRE_HELLO:
        ok = str_ok(msg->hello.worker) && (unsigned)msg->hello.role < AXL_ROLE_COUNT &&
             ids_ok(msg->hello.n_inflight, msg->hello.inflight);
        break;
    case AXL_WIRE_TASK:
        ok = str_ok(msg->task.id) && str_ok(msg->task.experiment) && str_ok(msg->task.kind);
        break;
    case AXL_WIRE_CANCEL:
        ok = str_ok(msg->cancel.id) && str_ok(msg->cancel.reason);
        break;
    case AXL_WIRE_ACK:
        ok = str_ok(msg->ack.id) && (unsigned)msg->ack.state < AXL_TASK_STATE_COUNT;
        break;
    case AXL_WIRE_STARTED:
        ok = str_ok(msg->started.id);
        break;
    case AXL_WIRE_PROGRESS:
        ok = str_ok(msg->progress.id);
        break;
    case AXL_WIRE_FINISHED:
        ok = str_ok(msg->finished.id);
        break;
    case AXL_WIRE_FAILED:
        ok = str_ok(msg->failed.id) && str_ok(msg->failed.reason);
        break;
    case AXL_WIRE_HEARTBEAT:
        ok = str_ok(msg->heartbeat.worker) && (unsigned)msg->heartbeat.role < AXL_ROLE_COUNT;
        break;
    case AXL_WIRE_STATUS:
        ok = !msg->status.has_ids || ids_ok(msg->status.n_ids, msg->status.ids);
        break;
    case AXL_WIRE_STATUS_REPLY:
        ok = n == 0 || msg->status_reply.tasks != NULL;
        for (uint32_t i = 0; ok && i < n; i++)
            ok = str_ok(msg->status_reply.tasks[i].id) &&
                 (unsigned)msg->status_reply.tasks[i].state < AXL_TASK_STATE_COUNT;
        break;
    case AXL_WIRE_ERROR: {
        const char *name = axl_err_name(msg->error.code);
        ok = str_ok(msg->error.msg);
        if (msg->error.code >= 0 || axl_err_from_name(name, strlen(name)) != msg->error.code)
            return axl_fail(eb, AXL_EINVAL, "error.code: %d is not an AXL_E code", msg->error.code);
        break;
    }
    default:
        return axl_fail(eb, AXL_EINVAL, "message.type: unknown type %d", (int)msg->type);
    }
    if (!ok)
        return axl_fail(eb, AXL_EINVAL, "%s: NULL pointer with a length, or enum out of range", t);
    return 0;
}

int axl_wire_encode(const axl_wire_msg *msg, msgpack_sbuffer *out, axl_errbuf *eb)
{
    size_t start = out->size;
    int rv;

    if ((rv = enc_precheck(msg, eb)) != 0)
        return rv;
    /* A raw map is written as given, so it must be exactly one valid map. */
    if (msg->type == AXL_WIRE_TASK && msg->task.params.ptr != NULL &&
        (rv = axl_wire_raw_check(msg->task.params.ptr, msg->task.params.len, "task.params", eb)) !=
            0)
        return rv;
    if (msg->type == AXL_WIRE_FINISHED && msg->finished.result.ptr != NULL &&
        (rv = axl_wire_raw_check(msg->finished.result.ptr, msg->finished.result.len,
                                 "finished.result", eb)) != 0)
        return rv;

    wr w = {.bad = false};
    msgpack_packer_init(&w.pk, out, msgpack_sbuffer_write);
    const axl_wire_msg *m = msg;
    uint32_t nkeys;
    switch (m->type) {
    case AXL_WIRE_HELLO:
        nkeys = 5;
        break;
    case AXL_WIRE_TASK:
        nkeys = 6 + m->task.has_start_at;
        break;
    case AXL_WIRE_PROGRESS:
        nkeys = 2 + (m->progress.note.ptr != NULL);
        break;
    case AXL_WIRE_FINISHED:
    case AXL_WIRE_FAILED:
        nkeys = m->type == AXL_WIRE_FINISHED ? 3 : 4;
        break;
    case AXL_WIRE_HEARTBEAT:
        nkeys = 5;
        break;
    case AXL_WIRE_STATUS:
        nkeys = m->status.has_ids;
        break;
    case AXL_WIRE_STATUS_REPLY:
        nkeys = 1;
        break;
    default: /* cancel, ack, started, error */
        nkeys = 2;
    }
    w.bad = msgpack_pack_map(&w.pk, 2 + nkeys) != 0;
    kv_uint(&w, "v", AXL_PROTO_VERSION);
    kv_cstr(&w, "type", type_names[m->type]);
    switch (m->type) {
    case AXL_WIRE_HELLO:
        kv_str(&w, "worker", m->hello.worker);
        kv_cstr(&w, "role", role_names[m->hello.role]);
        kv_uint(&w, "capacity", m->hello.capacity);
        kv_num(&w, "time", m->hello.time);
        kv_ids(&w, "inflight", m->hello.n_inflight, m->hello.inflight);
        break;
    case AXL_WIRE_TASK:
        kv_str(&w, "id", m->task.id);
        kv_str(&w, "experiment", m->task.experiment);
        kv_uint(&w, "trial", m->task.trial);
        kv_uint(&w, "index", m->task.index);
        kv_str(&w, "kind", m->task.kind);
        if (m->task.has_start_at)
            kv_num(&w, "start_at", m->task.start_at);
        kv_raw(&w, out, "params", m->task.params);
        break;
    case AXL_WIRE_CANCEL:
        kv_str(&w, "id", m->cancel.id);
        kv_str(&w, "reason", m->cancel.reason);
        break;
    case AXL_WIRE_ACK:
        kv_str(&w, "id", m->ack.id);
        kv_cstr(&w, "state", state_names[m->ack.state]);
        break;
    case AXL_WIRE_STARTED:
        kv_str(&w, "id", m->started.id);
        kv_num(&w, "time", m->started.time);
        break;
    case AXL_WIRE_PROGRESS:
        kv_str(&w, "id", m->progress.id);
        kv_num(&w, "fraction", m->progress.fraction);
        if (m->progress.note.ptr != NULL)
            kv_str(&w, "note", m->progress.note);
        break;
    case AXL_WIRE_FINISHED:
        kv_str(&w, "id", m->finished.id);
        kv_num(&w, "time", m->finished.time);
        kv_raw(&w, out, "result", m->finished.result);
        break;
    case AXL_WIRE_FAILED:
        kv_str(&w, "id", m->failed.id);
        kv_num(&w, "time", m->failed.time);
        kv_str(&w, "reason", m->failed.reason);
        kv_bool(&w, "retryable", m->failed.retryable);
        break;
    case AXL_WIRE_HEARTBEAT:
        kv_str(&w, "worker", m->heartbeat.worker);
        kv_cstr(&w, "role", role_names[m->heartbeat.role]);
        kv_uint(&w, "seq", m->heartbeat.seq);
        kv_num(&w, "time", m->heartbeat.time);
        kv_uint(&w, "inflight", m->heartbeat.inflight);
        break;
    case AXL_WIRE_STATUS:
        if (m->status.has_ids)
            kv_ids(&w, "ids", m->status.n_ids, m->status.ids);
        break;
    case AXL_WIRE_STATUS_REPLY:
        w_key(&w, "tasks");
        w.bad = w.bad || msgpack_pack_array(&w.pk, m->status_reply.n_tasks) != 0;
        for (uint32_t i = 0; i < m->status_reply.n_tasks; i++) {
            w.bad = w.bad || msgpack_pack_map(&w.pk, 2) != 0;
            kv_str(&w, "id", m->status_reply.tasks[i].id);
            kv_cstr(&w, "state", state_names[m->status_reply.tasks[i].state]);
        }
        break;
    case AXL_WIRE_ERROR:
        kv_cstr(&w, "code", axl_err_name(m->error.code));
        kv_str(&w, "msg", m->error.msg);
        break;
    default:
        w.bad = true;
    }
    if (w.bad) {
        out->size = start;
        return axl_fail(eb, AXL_ENOMEM, "%s: out of memory encoding", type_names[m->type]);
    }
    /* The decoder holds every rule; what it refuses is never sent. */
    axl_wire_msg check;
    if ((rv = axl_wire_decode(out->data + start, out->size - start, &check, eb)) != 0) {
        out->size = start;
        return rv;
    }
    axl_wire_free(&check);
    return 0;
}

int axl_wire_encode_error(int code, const char *msg, msgpack_sbuffer *out, axl_errbuf *eb)
{
    char text[AXL_WIRE_MAX_TEXT + 1];
    size_t n = 0;
    if (msg == NULL)
        msg = axl_strerror(code);
    /* Copy whole UTF-8 sequences that fit; anything else becomes '?'. */
    for (const char *p = msg; *p != '\0' && n < AXL_WIRE_MAX_TEXT;) {
        size_t k = 1;
        unsigned char b = (unsigned char)*p;
        if (b >= 0x80) {
            k = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
            if (strnlen(p, k) < k || !axl_utf8_valid(p, k))
                k = 0;
        }
        if (k == 0) {
            text[n++] = '?';
            p++;
            continue;
        }
        if (n + k > AXL_WIRE_MAX_TEXT)
            break;
        memcpy(text + n, p, k);
        n += k;
        p += k;
    }
    text[n] = '\0';
    axl_wire_msg m = {.type = AXL_WIRE_ERROR};
    m.error.code = code;
    m.error.msg = (axl_str){text, n};
    return axl_wire_encode(&m, out, eb);
}
