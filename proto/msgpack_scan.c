/*
 * One pass over untrusted msgpack bytes that proves them safe to unpack: every length
 * fits in what remains, nesting and sizes are within limits, map keys are strings.
 * msgpack-c allocates from the counts it reads, so nothing reaches it unchecked.
 */
#include "proto/axl_proto.h"

#include <string.h>

typedef struct cursor {
    const uint8_t *p;
    const uint8_t *end;
    bool trusted; /* already validated: skip the UTF-8 check when walking again */
} cursor;

typedef enum { HEAD_SCALAR, HEAD_STR, HEAD_BIN, HEAD_ARRAY, HEAD_MAP } head_kind;

typedef struct head {
    head_kind kind;
    uint32_t n;          /* items (array, map pairs) or bytes (str, bin) */
    const uint8_t *data; /* str/bin payload */
} head;

bool axl_utf8_valid(const void *s, size_t n)
{
    const uint8_t *p = s, *end = p + n;
    while (p < end) {
        uint8_t b = *p;
        if (b < 0x80) {
            p++;
            continue;
        }
        size_t more;
        uint32_t cp, min;
        if (b >= 0xc2 && b <= 0xdf) {
            more = 1, cp = b & 0x1f, min = 0x80;
        } else if (b >= 0xe0 && b <= 0xef) {
            more = 2, cp = b & 0x0f, min = 0x800;
        } else if (b >= 0xf0 && b <= 0xf4) {
            more = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return false; /* continuation byte, overlong lead (0xc0, 0xc1) or > 0xf4 */
        }
        if ((size_t)(end - p) <= more)
            return false;
        for (size_t i = 1; i <= more; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid. */
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += more + 1;
    }
    return true;
}

static uint32_t be16(const uint8_t *p)
{
    return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static size_t left(const cursor *c)
{
    return (size_t)(c->end - c->p);
}

/* Reads a length of `width` bytes that follows the type byte. */
static int read_len(cursor *c, unsigned width, uint32_t *n)
{
    if (left(c) < width)
        return AXL_EPROTO;
    *n = width == 1 ? c->p[0] : width == 2 ? be16(c->p) : be32(c->p);
    c->p += width;
    return 0;
}

/* Consumes one head (and the payload of scalars, strings and binaries). */
static int read_head(cursor *c, head *h, axl_errbuf *eb)
{
    if (left(c) < 1)
        return axl_fail(eb, AXL_EPROTO, "truncated: expected a value");
    uint8_t b = *c->p++;
    unsigned fixed = 0; /* payload bytes of a fixed-size scalar */
    int rv;

    h->kind = HEAD_SCALAR;
    h->n = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;
    if (b >= 0x80 && b <= 0x8f) {
        h->kind = HEAD_MAP;
        h->n = b & 0x0f;
        return 0;
    }
    if (b >= 0x90 && b <= 0x9f) {
        h->kind = HEAD_ARRAY;
        h->n = b & 0x0f;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        h->kind = HEAD_STR;
        h->n = b & 0x1f;
        goto payload;
    }
    switch (b) {
    case 0xcc:
    case 0xd0:
        fixed = 1;
        break;
    case 0xcd:
    case 0xd1:
        fixed = 2;
        break;
    case 0xca:
    case 0xce:
    case 0xd2:
        fixed = 4;
        break;
    case 0xcb:
    case 0xcf:
    case 0xd3:
        fixed = 8;
        break;
    case 0xc4:
        h->kind = HEAD_BIN;
        rv = read_len(c, 1, &h->n);
        goto sized;
    case 0xc5:
        h->kind = HEAD_BIN;
        rv = read_len(c, 2, &h->n);
        goto sized;
    case 0xc6:
        h->kind = HEAD_BIN;
        rv = read_len(c, 4, &h->n);
        goto sized;
    case 0xd9:
        h->kind = HEAD_STR;
        rv = read_len(c, 1, &h->n);
        goto sized;
    case 0xda:
        h->kind = HEAD_STR;
        rv = read_len(c, 2, &h->n);
        goto sized;
    case 0xdb:
        h->kind = HEAD_STR;
        rv = read_len(c, 4, &h->n);
        goto sized;
    case 0xdc:
        h->kind = HEAD_ARRAY;
        rv = read_len(c, 2, &h->n);
        goto container;
    case 0xdd:
        h->kind = HEAD_ARRAY;
        rv = read_len(c, 4, &h->n);
        goto container;
    case 0xde:
        h->kind = HEAD_MAP;
        rv = read_len(c, 2, &h->n);
        goto container;
    case 0xdf:
        h->kind = HEAD_MAP;
        rv = read_len(c, 4, &h->n);
        goto container;
    default:
        /* 0xc1 is never used; extension types (0xc7-0xc9, 0xd4-0xd8) are not axle's. */
        return axl_fail(eb, AXL_EPROTO, "unsupported msgpack type byte 0x%02x", b);
    }
    if (left(c) < fixed)
        return axl_fail(eb, AXL_EPROTO, "truncated number");
    c->p += fixed;
    return 0;

sized:
    if (rv != 0)
        return axl_fail(eb, AXL_EPROTO, "truncated length");
payload:
    if (h->n > AXL_PROTO_MAX_STR)
        return axl_fail(eb, AXL_ETOOBIG, "string or binary of %u bytes exceeds %u", h->n,
                        AXL_PROTO_MAX_STR);
    if (left(c) < h->n)
        return axl_fail(eb, AXL_EPROTO, "truncated: string of %u bytes, %zu left", h->n, left(c));
    if (h->kind == HEAD_STR && !c->trusted && !axl_utf8_valid(c->p, h->n))
        return axl_fail(eb, AXL_EPROTO, "string of %u bytes is not valid UTF-8", h->n);
    h->data = c->p;
    c->p += h->n;
    return 0;

container:
    if (rv != 0)
        return axl_fail(eb, AXL_EPROTO, "truncated length");
    return 0;
}

/* Consumes exactly one object, containers included. */
static int scan_one(cursor *c, axl_errbuf *eb)
{
    struct {
        uint64_t left;
        bool map;
    } stack[AXL_PROTO_MAX_DEPTH];
    int depth = 0;
    int rv;

    do {
        bool want_key = depth > 0 && stack[depth - 1].map && stack[depth - 1].left % 2 == 0;
        head h;
        if ((rv = read_head(c, &h, eb)) != 0)
            return rv;
        if (want_key && h.kind != HEAD_STR)
            return axl_fail(eb, AXL_EPROTO, "map key is not a string");
        if (depth > 0)
            stack[depth - 1].left--;
        if (h.kind == HEAD_ARRAY || h.kind == HEAD_MAP) {
            uint64_t items = h.kind == HEAD_MAP ? 2 * (uint64_t)h.n : h.n;
            if (h.n > AXL_PROTO_MAX_ITEMS)
                return axl_fail(eb, AXL_ETOOBIG, "container of %u entries exceeds %u", h.n,
                                AXL_PROTO_MAX_ITEMS);
            /* Each item takes at least one byte: a count above what is left is a lie. */
            if (items > left(c))
                return axl_fail(eb, AXL_EPROTO, "truncated: %llu items announced, %zu bytes left",
                                (unsigned long long)items, left(c));
            if (depth == AXL_PROTO_MAX_DEPTH)
                return axl_fail(eb, AXL_EDEPTH, "nesting deeper than %d", AXL_PROTO_MAX_DEPTH);
            if (items > 0) {
                stack[depth].left = items;
                stack[depth].map = h.kind == HEAD_MAP;
                depth++;
            }
        }
        while (depth > 0 && stack[depth - 1].left == 0)
            depth--;
    } while (depth > 0);
    return 0;
}

int axl_mp_validate(const void *buf, size_t len, axl_errbuf *eb)
{
    if (buf == NULL && len > 0)
        return axl_fail(eb, AXL_EINVAL, "no buffer");
    if (len > AXL_PROTO_MAX_MSG)
        return axl_fail(eb, AXL_ETOOBIG, "message of %zu bytes exceeds %u", len, AXL_PROTO_MAX_MSG);
    if (len == 0)
        return axl_fail(eb, AXL_EPROTO, "empty message");
    cursor c = {buf, (const uint8_t *)buf + len, false};
    int rv = scan_one(&c, eb);
    if (rv != 0)
        return rv;
    if (c.p != c.end)
        return axl_fail(eb, AXL_EPROTO, "%zu trailing bytes after the message", left(&c));
    return 0;
}

int axl_mp_find_raw(const void *buf, size_t len, const char *key, const void **val, size_t *val_len)
{
    cursor c = {buf, (const uint8_t *)buf + len, true};
    head h;
    size_t klen = strlen(key);

    if (read_head(&c, &h, NULL) != 0 || h.kind != HEAD_MAP)
        return AXL_ETYPE;
    for (uint32_t i = 0; i < h.n; i++) {
        head k;
        if (read_head(&c, &k, NULL) != 0 || k.kind != HEAD_STR)
            return AXL_EPROTO;
        const uint8_t *start = c.p;
        if (scan_one(&c, NULL) != 0)
            return AXL_EPROTO;
        if (k.n == klen && memcmp(k.data, key, klen) == 0) {
            *val = start;
            *val_len = (size_t)(c.p - start);
            return 0;
        }
    }
    return AXL_ENOENT;
}

int axl_mp_next(const void *buf, size_t len, size_t *obj_len, axl_errbuf *eb)
{
    cursor c = {buf, (const uint8_t *)buf + len, false};
    int rv = scan_one(&c, eb);
    if (rv != 0)
        return rv;
    *obj_len = (size_t)(c.p - (const uint8_t *)buf);
    return 0;
}

bool axl_mp_raw_str(const void *buf, size_t len, const char **s, size_t *n)
{
    const uint8_t *p = buf;
    size_t hdr, sz;
    if (len < 1)
        return false;
    if (p[0] >= 0xa0 && p[0] <= 0xbf) {
        hdr = 1;
        sz = p[0] & 0x1f;
    } else if (p[0] == 0xd9 && len >= 2) {
        hdr = 2;
        sz = p[1];
    } else if (p[0] == 0xda && len >= 3) {
        hdr = 3;
        sz = be16(p + 1);
    } else if (p[0] == 0xdb && len >= 5) {
        hdr = 5;
        sz = be32(p + 1);
    } else {
        return false;
    }
    if (sz > len - hdr)
        return false;
    *s = (const char *)p + hdr;
    *n = sz;
    return true;
}

bool axl_mp_raw_uint(const void *buf, size_t len, uint64_t *v)
{
    const uint8_t *p = buf;
    if (len >= 1 && p[0] <= 0x7f) {
        *v = p[0];
        return true;
    }
    size_t n = len < 1        ? 0
               : p[0] == 0xcc ? 1
               : p[0] == 0xcd ? 2
               : p[0] == 0xce ? 4
               : p[0] == 0xcf ? 8
                              : 0;
    if (n == 0 || len < 1 + n)
        return false;
    *v = 0;
    for (size_t i = 1; i <= n; i++)
        *v = *v << 8 | p[i];
    return true;
}
