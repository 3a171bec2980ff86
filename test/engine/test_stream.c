/*
 * test_stream.c - the replay service's request rules (proto/README.md §14): a version
 * check, AXL_ENOTSUP for another type, from > to refused, an oversize request answered
 * with AXL_ETOOBIG — through the decoder and through a live service on ipc://.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "engine/stream.h"
#include "engine_testlib.h"

/* Packs {v, type, from, to} (v < 0: absent) into sb. */
static void req(msgpack_sbuffer *sb, int v, const char *type, uint64_t from, uint64_t to)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (v >= 0) + 3);
    if (v >= 0) {
        msgpack_pack_str_with_body(&pk, "v", 1);
        msgpack_pack_int(&pk, v);
    }
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, type, strlen(type));
    msgpack_pack_str_with_body(&pk, "from", 4);
    msgpack_pack_uint64(&pk, from);
    msgpack_pack_str_with_body(&pk, "to", 2);
    msgpack_pack_uint64(&pk, to);
}

static void test_decode_rules(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    uint64_t from, to, max;
    axl_errbuf eb;
    msgpack_sbuffer_init(&sb);
    req(&sb, 1, "replay", 3, 9);
    assert_int_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb), 0);
    assert_int_equal(from, 3);
    assert_int_equal(to, 9);
    req(&sb, 2, "replay", 1, 0);
    assert_int_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb),
                     AXL_EVERSION);
    req(&sb, -1, "replay", 1, 0);
    assert_int_not_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb), 0);
    req(&sb, 1, "snapshot", 1, 0);
    assert_int_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb),
                     AXL_ENOTSUP);
    req(&sb, 1, "replay", 9, 3);
    assert_int_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb),
                     AXL_ERANGE);
    char *big = calloc(1, 2u << 20);
    assert_int_equal(axl_replay_request_decode(big, 2u << 20, &from, &to, &max, &eb), AXL_ETOOBIG);
    free(big);
    msgpack_sbuffer_destroy(&sb);
}

/* Sends buf to the live service; returns the reply's "code" (or "" for a non-error). */
static void ask(const char *url, const void *buf, size_t len, char *code, size_t cap)
{
    nng_socket s;
    void *rb;
    size_t rn;
    assert_int_equal(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
    assert_int_equal(nng_dial(s, url, NULL, 0), 0);
    assert_int_equal(nng_send(s, (void *)buf, len, 0), 0);
    assert_int_equal(nng_recv(s, &rb, &rn, NNG_FLAG_ALLOC), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, rb, rn, NULL), MSGPACK_UNPACK_SUCCESS);
    code[0] = '\0';
    msgpack_object_map *m = &u.data.via.map;
    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.via.str.size == 4 && memcmp(m->ptr[i].key.via.str.ptr, "code", 4) == 0)
            snprintf(code, cap, "%.*s", (int)m->ptr[i].val.via.str.size, m->ptr[i].val.via.str.ptr);
    msgpack_unpacked_destroy(&u);
    nng_free(rb, rn);
    nng_close(s);
}

static void test_live_service_errors(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    axl_store *st = NULL;
    assert_int_equal(axl_store_open(dir, NULL, &st, NULL), 0);
    char pub[600], rep[600], code[64];
    snprintf(pub, sizeof(pub), "ipc://%s/e.pub", dir);
    snprintf(rep, sizeof(rep), "ipc://%s/r.rep", dir);
    axl_stream *s = NULL;
    assert_int_equal(axl_stream_open(pub, rep, st, &s, NULL), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    req(&sb, 1, "replay", 1, 0);
    ask(rep, sb.data, sb.size, code, sizeof(code));
    assert_string_equal(code, "");
    req(&sb, 7, "replay", 1, 0);
    ask(rep, sb.data, sb.size, code, sizeof(code));
    assert_string_equal(code, "AXL_EVERSION");
    req(&sb, 1, "nonsense", 1, 0);
    ask(rep, sb.data, sb.size, code, sizeof(code));
    assert_string_equal(code, "AXL_ENOTSUP");
    req(&sb, 1, "replay", 5, 2);
    ask(rep, sb.data, sb.size, code, sizeof(code));
    assert_string_equal(code, "AXL_ERANGE");
    char *big = calloc(1, 2u << 20);
    ask(rep, big, 2u << 20, code, sizeof(code));
    assert_string_equal(code, "AXL_ETOOBIG");
    free(big);
    msgpack_sbuffer_destroy(&sb);
    axl_stream_close(s);
    axl_store_close(st);
    et_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_rules),
        cmocka_unit_test(test_live_service_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
