/*
 * json_msgpack.c - the experiment file travels inside the experiment record as a msgpack
 * map, so that subscribers read it like any other event body, and comes back as JSON
 * text for resume.
 */
#include "engine/json_msgpack.h"

#include <math.h>
#include <string.h>

static int pack_json(msgpack_packer *pk, json_t *j, int depth)
{
    if (depth > AXL_PROTO_MAX_DEPTH - 2)
        return AXL_EDEPTH;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        if (msgpack_pack_map(pk, json_object_size(j)) != 0)
            return AXL_ENOMEM;
        json_object_foreach(j, key, val)
        {
            int rv;
            if (strlen(key) > AXL_PROTO_MAX_STR)
                return AXL_ETOOBIG;
            if (axl_pack_cstr(pk, key) != 0)
                return AXL_ENOMEM;
            if ((rv = pack_json(pk, val, depth + 1)) != 0)
                return rv;
        }
        return 0;
    }
    case JSON_ARRAY: {
        if (msgpack_pack_array(pk, json_array_size(j)) != 0)
            return AXL_ENOMEM;
        for (size_t i = 0; i < json_array_size(j); i++) {
            int rv = pack_json(pk, json_array_get(j, i), depth + 1);
            if (rv != 0)
                return rv;
        }
        return 0;
    }
    case JSON_STRING:
        if (json_string_length(j) > AXL_PROTO_MAX_STR)
            return AXL_ETOOBIG;
        return msgpack_pack_str(pk, json_string_length(j)) ||
                       msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j))
                   ? AXL_ENOMEM
                   : 0;
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(j)) ? AXL_ENOMEM : 0;
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(j)) ? AXL_ENOMEM : 0;
    case JSON_TRUE:
        return msgpack_pack_true(pk) ? AXL_ENOMEM : 0;
    case JSON_FALSE:
        return msgpack_pack_false(pk) ? AXL_ENOMEM : 0;
    case JSON_NULL:
        return msgpack_pack_nil(pk) ? AXL_ENOMEM : 0;
    }
    return AXL_EINVAL;
}

int axl_json_to_msgpack(json_t *j, msgpack_packer *pk)
{
    return pack_json(pk, j, 1);
}

json_t *axl_msgpack_to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 > (uint64_t)INT64_MAX ? json_real((double)o->via.u64)
                                                : json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    case MSGPACK_OBJECT_STR:
        return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a != NULL && i < o->via.array.size; i++) {
            json_t *v = axl_msgpack_to_json(&o->via.array.ptr[i]);
            if (v == NULL || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; m != NULL && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                json_decref(m);
                return NULL;
            }
            json_t *v = axl_msgpack_to_json(&kv->val);
            if (v == NULL ||
                json_object_setn_new(m, kv->key.via.str.ptr, kv->key.via.str.size, v) != 0) {
                json_decref(m);
                return NULL;
            }
        }
        return m;
    }
    case MSGPACK_OBJECT_BIN: {
        /* Not produced by axle; shown as hex so nothing is silently dropped. */
        static const char hex[] = "0123456789abcdef";
        size_t n = o->via.bin.size;
        char *s = malloc(2 * n + 1);
        if (s == NULL)
            return NULL;
        for (size_t i = 0; i < n; i++) {
            s[2 * i] = hex[(unsigned char)o->via.bin.ptr[i] >> 4];
            s[2 * i + 1] = hex[(unsigned char)o->via.bin.ptr[i] & 15];
        }
        json_t *r = json_stringn(s, 2 * n);
        free(s);
        return r;
    }
    default:
        return json_null();
    }
}
