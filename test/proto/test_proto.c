/* test_proto: the one cmocka binary of proto/ (wire, envelope, robustness, errors, log). */
#include "test/proto/tp.h"

#include <stdlib.h>

/*
 * Under ASan any single allocation over 64 MiB fails the run: a decoder that believed an
 * announced length would be caught here even when the allocation would succeed.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TP_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TP_ASAN 1
#endif
#ifdef TP_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "max_allocation_size_mb=64:allocator_may_return_null=0";
}
#endif

void wire_expect_at(const char *file, int line, int code, const char *substr, msgpack_sbuffer *sb)
{
    axl_wire_msg m;
    axl_errbuf eb = {{0}};
    int rv = axl_wire_decode(sb->data, sb->size, &m, &eb);
    if (rv == 0)
        axl_wire_free(&m);
    mpj_free(sb);
    if (rv != code)
        fail_msg("%s:%d: expected %s, got %s (%s)", file, line, axl_err_name(code),
                 axl_err_name(rv), eb.msg);
    if (substr != NULL && strstr(eb.msg, substr) == NULL)
        fail_msg("%s:%d: error message '%s' does not contain '%s'", file, line, eb.msg, substr);
}

static int setup(void **state)
{
    (void)state;
    samples_init();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    samples_fini();
    return 0;
}

int main(void)
{
    int failed = 0;
    failed += _cmocka_run_group_tests("proto_wire", wire_tests, n_wire_tests, setup, teardown);
    failed += _cmocka_run_group_tests("proto_envelope", envelope_tests, n_envelope_tests, setup,
                                      teardown);
    failed +=
        _cmocka_run_group_tests("proto_robust", robust_tests, n_robust_tests, setup, teardown);
    failed += _cmocka_run_group_tests("proto_errlog", errlog_tests, n_errlog_tests, NULL, NULL);
    failed += _cmocka_run_group_tests("proto_util", util_tests, n_util_tests, NULL, NULL);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
