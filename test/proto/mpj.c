#include "test/proto/mpj.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *p;
    const char *text;
} parser;

static void die(parser *ps, const char *what)
{
    fprintf(stderr, "mpj: %s at offset %ld of: %s\n", what, (long)(ps->p - ps->text), ps->text);
    abort();
}

static void ws(parser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Reads a quoted '...' body into a malloc'd buffer. */
static char *quoted(parser *ps, size_t *n)
{
    if (*ps->p != '\'')
        die(ps, "expected '");
    ps->p++;
    char *out = malloc(strlen(ps->p) + 1);
    size_t k = 0;
    while (*ps->p != '\'') {
        char c = *ps->p++;
        if (c == '\0')
            die(ps, "unterminated string");
        if (c == '\\') {
            c = *ps->p++;
            switch (c) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case '0':
                c = '\0';
                break;
            case 'x': {
                int h = hexval(ps->p[0]), l = h >= 0 ? hexval(ps->p[1]) : -1;
                if (l < 0)
                    die(ps, "bad \\x escape");
                c = (char)(h * 16 + l);
                ps->p += 2;
                break;
            }
            case '\\':
            case '\'':
                break;
            default:
                die(ps, "bad escape");
            }
        }
        out[k++] = c;
    }
    ps->p++;
    *n = k;
    return out;
}

static void value(parser *ps, msgpack_packer *pk, msgpack_sbuffer *sb);

/* Parses container items into a scratch buffer, then writes header + items. */
static void container(parser *ps, msgpack_packer *pk, msgpack_sbuffer *sb, bool map)
{
    char close = map ? '}' : ']';
    msgpack_sbuffer items;
    msgpack_packer ipk;
    msgpack_sbuffer_init(&items);
    msgpack_packer_init(&ipk, &items, msgpack_sbuffer_write);
    uint32_t n = 0;
    ps->p++;
    ws(ps);
    while (*ps->p != close) {
        if (n > 0) {
            if (*ps->p != ',')
                die(ps, "expected ,");
            ps->p++;
            ws(ps);
        }
        if (map) {
            if (*ps->p == '\'') {
                size_t kn;
                char *k = quoted(ps, &kn);
                msgpack_pack_str(&ipk, kn);
                msgpack_pack_str_body(&ipk, k, kn);
                free(k);
            } else {
                const char *s = ps->p;
                while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.')
                    ps->p++;
                if (ps->p == s)
                    die(ps, "expected a key");
                msgpack_pack_str(&ipk, (size_t)(ps->p - s));
                msgpack_pack_str_body(&ipk, s, (size_t)(ps->p - s));
            }
            ws(ps);
            if (*ps->p != ':')
                die(ps, "expected :");
            ps->p++;
            ws(ps);
        }
        value(ps, &ipk, &items);
        ws(ps);
        n++;
    }
    ps->p++;
    if (map)
        msgpack_pack_map(pk, n);
    else
        msgpack_pack_array(pk, n);
    msgpack_sbuffer_write(sb, items.data, items.size);
    msgpack_sbuffer_destroy(&items);
}

static void value(parser *ps, msgpack_packer *pk, msgpack_sbuffer *sb)
{
    ws(ps);
    const char *p = ps->p;
    size_t n;
    if (*p == '{' || *p == '[') {
        container(ps, pk, sb, *p == '{');
    } else if (*p == '\'') {
        char *s = quoted(ps, &n);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
        free(s);
    } else if (p[0] == 'b' && p[1] == '\'') {
        ps->p++;
        char *s = quoted(ps, &n);
        msgpack_pack_bin(pk, n);
        msgpack_pack_bin_body(pk, s, n);
        free(s);
    } else if (strncmp(p, "hex'", 4) == 0) {
        ps->p += 4;
        while (*ps->p != '\'') {
            if (isspace((unsigned char)*ps->p)) {
                ps->p++;
                continue;
            }
            int h = hexval(ps->p[0]), l = h >= 0 ? hexval(ps->p[1]) : -1;
            if (l < 0)
                die(ps, "bad hex");
            char b = (char)(h * 16 + l);
            msgpack_sbuffer_write(sb, &b, 1);
            ps->p += 2;
        }
        ps->p++;
    } else if (strncmp(p, "true", 4) == 0) {
        msgpack_pack_true(pk);
        ps->p += 4;
    } else if (strncmp(p, "false", 5) == 0) {
        msgpack_pack_false(pk);
        ps->p += 5;
    } else if (strncmp(p, "nil", 3) == 0) {
        msgpack_pack_nil(pk);
        ps->p += 3;
    } else if (strncmp(p, "nan", 3) == 0) {
        msgpack_pack_double(pk, NAN);
        ps->p += 3;
    } else if (strncmp(p, "inf", 3) == 0 || strncmp(p, "-inf", 4) == 0) {
        msgpack_pack_double(pk, *p == '-' ? -INFINITY : INFINITY);
        ps->p += *p == '-' ? 4 : 3;
    } else if (*p == '-' || isdigit((unsigned char)*p)) {
        const char *s = p;
        bool flt = false;
        ps->p++;
        while (isdigit((unsigned char)*ps->p) || *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' ||
               ((*ps->p == '-' || *ps->p == '+') && (ps->p[-1] == 'e' || ps->p[-1] == 'E'))) {
            flt = flt || *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E';
            ps->p++;
        }
        char num[64];
        snprintf(num, sizeof(num), "%.*s", (int)(ps->p - s), s);
        if (*ps->p == 'f') {
            msgpack_pack_float(pk, strtof(num, NULL));
            ps->p++;
        } else if (flt) {
            msgpack_pack_double(pk, strtod(num, NULL));
        } else if (*s == '-') {
            msgpack_pack_int64(pk, strtoll(num, NULL, 10));
        } else {
            msgpack_pack_uint64(pk, strtoull(num, NULL, 10));
        }
    } else {
        die(ps, "unexpected character");
    }
}

void mpj_append(msgpack_sbuffer *sb, const char *text)
{
    parser ps = {text, text};
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    value(&ps, &pk, sb);
    ws(&ps);
    if (*ps.p != '\0')
        die(&ps, "trailing text");
}

msgpack_sbuffer *J(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        abort();
    va_end(ap);
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    mpj_append(sb, text);
    free(text);
    return sb;
}

void mpj_free(msgpack_sbuffer *sb)
{
    msgpack_sbuffer_free(sb);
}
