/* The shared helpers: proto/axl_util.h, the raw msgpack readers, proto/json/axl_json.h. */
#include "test/proto/tp.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/axl_util.h"
#include "proto/json/axl_json.h"

static void t_now_is_wall_clock(void **state)
{
    (void)state;
    double a = axl_now(), b = axl_now();
    assert_true(a > 1.6e9 && a < 1e11); /* Unix seconds, not a monotonic clock */
    assert_true(b >= a);
}

static void t_xstrdup(void **state)
{
    (void)state;
    assert_null(axl_xstrdup(NULL));
    char *s = axl_xstrdup("abc");
    assert_string_equal(s, "abc");
    free(s);
}

static void t_mkdir_p(void **state)
{
    (void)state;
    char root[] = "/tmp/axl_util_XXXXXX", path[256], file[256];
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof(path), "%s/a/b/c", root);
    assert_int_equal(axl_mkdir_p(path, 0700), 0);
    assert_int_equal(axl_mkdir_p(path, 0700), 0); /* existing: fine */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(file, sizeof(file), "%s/f", root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(axl_mkdir_p(file, 0700), ENOTDIR);
    assert_int_equal(axl_mkdir_p("", 0700), EINVAL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

static void t_splitmix64_known_values(void **state)
{
    (void)state;
    /* The reference sequence for seed 0 (Vigna's splitmix64.c). */
    uint64_t s = 0;
    assert_true(axl_splitmix64(&s) == 0xe220a8397b1dcdafull);
    assert_true(axl_splitmix64(&s) == 0x6e789e6aa1b965f4ull);
}

static void t_mp_raw_readers(void **state)
{
    (void)state;
    const uint8_t fix[] = {0xa3, 'a', 'b', 'c'};
    const uint8_t s8[] = {0xd9, 2, 'x', 'y'};
    const uint8_t s16[] = {0xda, 0, 1, 'z'};
    const uint8_t s32[] = {0xdb, 0, 0, 0, 1, 'w'};
    const uint8_t cut[] = {0xa3, 'a'};
    const char *s;
    size_t n;
    assert_true(axl_mp_raw_str(fix, sizeof(fix), &s, &n) && n == 3 && memcmp(s, "abc", 3) == 0);
    assert_true(axl_mp_raw_str(s8, sizeof(s8), &s, &n) && n == 2 && memcmp(s, "xy", 2) == 0);
    assert_true(axl_mp_raw_str(s16, sizeof(s16), &s, &n) && n == 1 && *s == 'z');
    assert_true(axl_mp_raw_str(s32, sizeof(s32), &s, &n) && n == 1 && *s == 'w');
    assert_false(axl_mp_raw_str(cut, sizeof(cut), &s, &n));
    assert_false(axl_mp_raw_str(fix, 0, &s, &n));
    const uint8_t u0[] = {0x7f}, u8[] = {0xcc, 200}, u64[] = {0xcf, 1, 0, 0, 0, 0, 0, 0, 2};
    const uint8_t neg[] = {0xff}, ucut[] = {0xcd, 1};
    uint64_t v;
    assert_true(axl_mp_raw_uint(u0, 1, &v) && v == 127);
    assert_true(axl_mp_raw_uint(u8, 2, &v) && v == 200);
    assert_true(axl_mp_raw_uint(u64, 9, &v) && v == ((1ull << 56) | 2));
    assert_false(axl_mp_raw_uint(neg, 1, &v));
    assert_false(axl_mp_raw_uint(ucut, 2, &v));
    assert_false(axl_mp_raw_uint(fix, sizeof(fix), &v));
}

static void t_json_check_keys(void **state)
{
    (void)state;
    static const char *const known[] = {"a", "b", NULL};
    json_t *ok = json_pack("{s:i, s:i}", "a", 1, "b", 2);
    json_t *bad = json_pack("{s:i, s:i}", "a", 1, "c", 2);
    axl_errbuf eb = {0};
    assert_int_equal(axl_json_check_keys(ok, "x", known, AXL_ECONFIG, &eb), 0);
    assert_int_equal(axl_json_check_keys(bad, "x.y", known, AXL_ECONFIG, &eb), AXL_ECONFIG);
    assert_string_equal(eb.msg, "x.y.c: unknown key (known: a, b)");
    assert_int_equal(axl_json_check_keys(bad, "", known, AXL_EINVAL, &eb), AXL_EINVAL);
    assert_string_equal(eb.msg, "c: unknown key (known: a, b)");
    json_t *arr = json_array();
    assert_int_equal(axl_json_check_keys(arr, "x", known, AXL_ECONFIG, &eb), 0);
    json_decref(ok);
    json_decref(bad);
    json_decref(arr);
}

const struct CMUnitTest util_tests[] = {
    cmocka_unit_test(t_now_is_wall_clock), cmocka_unit_test(t_xstrdup),
    cmocka_unit_test(t_mkdir_p),           cmocka_unit_test(t_splitmix64_known_values),
    cmocka_unit_test(t_mp_raw_readers),    cmocka_unit_test(t_json_check_keys),
};
const size_t n_util_tests = sizeof(util_tests) / sizeof(util_tests[0]);
