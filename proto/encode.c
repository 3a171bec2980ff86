/* Small packing helpers so that encoders read like the format they write. */
#include "proto/axl_proto.h"

#include <string.h>

int axl_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0)
        return AXL_ENOMEM;
    return 0;
}

int axl_pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    if (axl_pack_cstr(pk, key) != 0)
        return AXL_ENOMEM;
    if (val == NULL)
        return msgpack_pack_nil(pk) != 0 ? AXL_ENOMEM : 0;
    return axl_pack_cstr(pk, val);
}

int axl_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t val)
{
    if (axl_pack_cstr(pk, key) != 0 || msgpack_pack_uint64(pk, val) != 0)
        return AXL_ENOMEM;
    return 0;
}

int axl_pack_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
    if (axl_pack_cstr(pk, key) != 0 || msgpack_pack_int64(pk, val) != 0)
        return AXL_ENOMEM;
    return 0;
}

int axl_pack_kv_num(msgpack_packer *pk, const char *key, double val)
{
    if (axl_pack_cstr(pk, key) != 0 || msgpack_pack_double(pk, val) != 0)
        return AXL_ENOMEM;
    return 0;
}

int axl_pack_kv_bool(msgpack_packer *pk, const char *key, bool val)
{
    if (axl_pack_cstr(pk, key) != 0)
        return AXL_ENOMEM;
    return (val ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) != 0 ? AXL_ENOMEM : 0;
}
