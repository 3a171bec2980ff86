/* Typed, path-naming field readers over msgpack-c objects of validated messages. */
#include "proto/axl_proto.h"

#include <math.h>
#include <string.h>

int axl_msg_parse(axl_msg *m, const void *buf, size_t len, axl_errbuf *eb)
{
    int rv;
    if ((rv = axl_mp_validate(buf, len, eb)) != 0)
        return rv;
    msgpack_unpacked_init(&m->up);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&m->up, buf, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(&m->up);
        if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
            return axl_fail(eb, AXL_ENOMEM, "out of memory unpacking %zu bytes", len);
        return axl_fail(eb, AXL_EPROTO, "msgpack unpack failed (%d)", (int)ur);
    }
    m->root = m->up.data;
    return 0;
}

void axl_msg_free(axl_msg *m)
{
    msgpack_unpacked_destroy(&m->up);
}

const msgpack_object *axl_obj_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0)
            return &kv->val;
    }
    return NULL;
}

int axl_obj_get_once(const msgpack_object *map, const char *where, const char *key,
                     const msgpack_object **out, axl_errbuf *eb)
{
    *out = NULL;
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return 0;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0) {
            if (*out != NULL) {
                *out = NULL;
                return axl_fail(eb, AXL_EPROTO, "%s.%s: key appears more than once", where, key);
            }
            *out = &kv->val;
        }
    }
    return 0;
}

/* Common prologue: 1 = found (*o set), 0 = absent and optional, <0 = error. */
static int lookup(const msgpack_object *map, const char *where, const char *key, bool required,
                  const msgpack_object **o, axl_errbuf *eb)
{
    int rv = axl_obj_get_once(map, where, key, o, eb);
    if (rv != 0)
        return rv;
    if (*o == NULL || (*o)->type == MSGPACK_OBJECT_NIL) {
        if (required)
            return axl_fail(eb, AXL_EMISSING, "%s.%s: required field missing", where, key);
        return 0;
    }
    return 1;
}

int axl_obj_uint(const msgpack_object *map, const char *where, const char *key, bool required,
                 uint64_t lo, uint64_t hi, uint64_t *out, axl_errbuf *eb)
{
    const msgpack_object *o;
    int rv = lookup(map, where, key, required, &o, eb);
    if (rv <= 0)
        return rv;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return axl_fail(eb, AXL_ERANGE, "%s.%s: %lld is negative", where, key,
                        (long long)o->via.i64);
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return axl_fail(eb, AXL_ETYPE, "%s.%s: expected an unsigned integer", where, key);
    if (o->via.u64 < lo || o->via.u64 > hi)
        return axl_fail(eb, AXL_ERANGE, "%s.%s: %llu is outside [%llu, %llu]", where, key,
                        (unsigned long long)o->via.u64, (unsigned long long)lo,
                        (unsigned long long)hi);
    *out = o->via.u64;
    return 0;
}

int axl_obj_int(const msgpack_object *map, const char *where, const char *key, bool required,
                int64_t lo, int64_t hi, int64_t *out, axl_errbuf *eb)
{
    const msgpack_object *o;
    int rv = lookup(map, where, key, required, &o, eb);
    if (rv <= 0)
        return rv;
    int64_t v;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = o->via.i64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX)
        v = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return axl_fail(eb, AXL_ERANGE, "%s.%s: %llu is outside [%lld, %lld]", where, key,
                        (unsigned long long)o->via.u64, (long long)lo, (long long)hi);
    else
        return axl_fail(eb, AXL_ETYPE, "%s.%s: expected an integer", where, key);
    if (v < lo || v > hi)
        return axl_fail(eb, AXL_ERANGE, "%s.%s: %lld is outside [%lld, %lld]", where, key,
                        (long long)v, (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

bool axl_obj_as_double(const msgpack_object *o, double *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = o->via.f64;
        return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)o->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)o->via.i64;
        return true;
    default:
        return false;
    }
}

int axl_obj_num(const msgpack_object *map, const char *where, const char *key, bool required,
                double lo, double hi, double *out, axl_errbuf *eb)
{
    const msgpack_object *o;
    int rv = lookup(map, where, key, required, &o, eb);
    if (rv <= 0)
        return rv;
    double v;
    if (!axl_obj_as_double(o, &v))
        return axl_fail(eb, AXL_ETYPE, "%s.%s: expected a number", where, key);
    /* NaN fails both comparisons, so it is let through only where the range is open. */
    if (!(v >= lo && v <= hi) && !(isnan(v) && isinf(lo) && isinf(hi)))
        return axl_fail(eb, AXL_ERANGE, "%s.%s: %g is outside [%g, %g]", where, key, v, lo, hi);
    *out = v;
    return 0;
}

int axl_obj_bool(const msgpack_object *map, const char *where, const char *key, bool required,
                 bool *out, axl_errbuf *eb)
{
    const msgpack_object *o;
    int rv = lookup(map, where, key, required, &o, eb);
    if (rv <= 0)
        return rv;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return axl_fail(eb, AXL_ETYPE, "%s.%s: expected a boolean", where, key);
    *out = o->via.boolean;
    return 0;
}

int axl_obj_str(const msgpack_object *map, const char *where, const char *key, bool required,
                size_t max_len, const char **out, size_t *out_len, axl_errbuf *eb)
{
    const msgpack_object *o;
    int rv = lookup(map, where, key, required, &o, eb);
    if (rv <= 0)
        return rv;
    if (o->type != MSGPACK_OBJECT_STR)
        return axl_fail(eb, AXL_ETYPE, "%s.%s: expected a string", where, key);
    if (o->via.str.size > max_len)
        return axl_fail(eb, AXL_ETOOBIG, "%s.%s: string of %u bytes exceeds %zu", where, key,
                        o->via.str.size, max_len);
    if (memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return axl_fail(eb, AXL_EINVAL, "%s.%s: string contains a NUL byte", where, key);
    *out = o->via.str.ptr;
    *out_len = o->via.str.size;
    return 0;
}
