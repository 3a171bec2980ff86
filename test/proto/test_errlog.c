/* The error table and the logger. */
#include "test/proto/tp.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "proto/axl_log.h"

/* ---- errors ----------------------------------------------------------------------------- */

static const int all_codes[] = {
#define CODE(name, value, msg) AXL_##name,
    AXL_ERRNO_MAP(CODE)
#undef CODE
};
#define N_CODES (sizeof(all_codes) / sizeof(all_codes[0]))

static void t_strerror_every_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        int c = all_codes[i];
        assert_true(c < 0);
        const char *s = axl_strerror(c), *n = axl_err_name(c);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
        assert_true(strncmp(n, "AXL_E", 5) == 0);
        assert_int_equal(axl_err_from_name(n, strlen(n)), c);
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(all_codes[j], c);
            assert_string_not_equal(axl_strerror(all_codes[j]), s);
            assert_string_not_equal(axl_err_name(all_codes[j]), n);
        }
    }
    assert_string_equal(axl_strerror(AXL_OK), "success");
    assert_string_equal(axl_err_name(AXL_OK), "AXL_OK");
    assert_string_equal(axl_strerror(1), "unknown error");
    assert_string_equal(axl_strerror(-9999), "unknown error");
    assert_string_equal(axl_err_name(-9999), "AXL_EUNKNOWN");
    assert_string_equal(axl_err_name(AXL_EMISSING), "AXL_EMISSING");
    assert_string_equal(axl_strerror(AXL_EMISSING), "required field missing");
    assert_int_equal(axl_err_from_name("AXL_EINVA", 9), 0);
    assert_int_equal(axl_err_from_name("AXL_EINVALX", 11), 0);
    assert_int_equal(axl_err_from_name("AXL_EINVALX", 10), AXL_EINVAL); /* length-delimited */
    assert_int_equal(axl_err_from_name(NULL, 0), 0);
}

static void t_fail_formats(void **state)
{
    (void)state;
    axl_errbuf eb;
    assert_int_equal(axl_fail(&eb, AXL_ERANGE, "%s.%s: %d", "hello", "capacity", 0), AXL_ERANGE);
    assert_string_equal(eb.msg, "hello.capacity: 0");
    assert_int_equal(axl_fail(NULL, AXL_EIO, "nobody reads %s", "this"), AXL_EIO);
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(axl_fail(&eb, AXL_EINVAL, "%s", big), AXL_EINVAL);
    assert_int_equal(strlen(eb.msg), sizeof(eb.msg) - 1);
}

/* ---- logger ----------------------------------------------------------------------------- */

static FILE *log_f;

static int log_setup(void **state)
{
    (void)state;
    log_f = tmpfile();
    if (log_f == NULL)
        return -1;
    axl_log_set_stream(log_f);
    axl_log_set_level(AXL_LOG_DEBUG);
    axl_log_set_format(AXL_LOG_HUMAN);
    return 0;
}

static int log_teardown(void **state)
{
    (void)state;
    axl_log_set_stream(NULL);
    axl_log_set_level(AXL_LOG_INFO);
    axl_log_set_format(AXL_LOG_HUMAN);
    fclose(log_f);
    return 0;
}

/* Everything written since the last call, as one malloc'd string. */
static char *log_read(void)
{
    fflush(log_f);
    long end = ftell(log_f);
    char *s = calloc(1, (size_t)end + 1);
    rewind(log_f);
    size_t n = fread(s, 1, (size_t)end, log_f);
    s[n] = '\0';
    rewind(log_f);
    assert_int_equal(ftruncate(fileno(log_f), 0), 0);
    return s;
}

/* '9' in pattern matches a digit, anything else itself. */
static bool matches(const char *s, const char *pattern)
{
    for (; *pattern; s++, pattern++) {
        if (*pattern == '9' ? !(*s >= '0' && *s <= '9') : *s != *pattern)
            return false;
    }
    return *s == '\0';
}

static void t_log_human(void **state)
{
    (void)state;
    AXL_INFO("Scheduler", "Running trials [%d]...", 0);
    AXL_WARN("Scheduler", "slow");
    AXL_ERROR(NULL, "no source");
    AXL_DEBUG("x", "debug %s", "on");
    char *s = log_read();
    char *l1 = strtok(s, "\n"), *l2 = strtok(NULL, "\n"), *l3 = strtok(NULL, "\n"),
         *l4 = strtok(NULL, "\n");
    assert_non_null(l4);
    assert_null(strtok(NULL, "\n"));
    if (!matches(l1, "[INFO 99-99 99:99:99] Scheduler: Running trials [0]..."))
        fail_msg("human line: '%s'", l1);
    assert_true(matches(l2, "[WARNING 99-99 99:99:99] Scheduler: slow"));
    assert_true(matches(l3, "[ERROR 99-99 99:99:99] no source"));
    assert_true(matches(l4, "[DEBUG 99-99 99:99:99] x: debug on"));
    free(s);
}

static void t_log_levels(void **state)
{
    (void)state;
    axl_log_set_level(AXL_LOG_WARN);
    assert_int_equal(axl_log_get_level(), AXL_LOG_WARN);
    AXL_DEBUG("x", "hidden");
    AXL_INFO("x", "hidden");
    AXL_WARN("x", "shown");
    AXL_ERROR("x", "shown");
    char *s = log_read();
    assert_null(strstr(s, "hidden"));
    assert_true(matches(s, "[WARNING 99-99 99:99:99] x: shown\n[ERROR 99-99 99:99:99] x: shown\n"));
    free(s);
    axl_log_set_level(AXL_LOG_OFF);
    AXL_ERROR("x", "nothing at all");
    axl_log((axl_log_level)7, "x", "bogus level");
    s = log_read();
    assert_string_equal(s, "");
    free(s);
    axl_log_set_level(AXL_LOG_DEBUG);
    axl_log_level l;
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(axl_log_parse_level(names[i], &l), 0);
        assert_int_equal(l, i);
    }
    assert_int_equal(axl_log_parse_level("warning", &l), AXL_EINVAL);
    assert_int_equal(axl_log_parse_level("INFO", &l), AXL_EINVAL);
    assert_int_equal(axl_log_parse_level("", &l), AXL_EINVAL);
    assert_int_equal(axl_log_parse_level(NULL, &l), AXL_EINVAL);
}

static void t_log_json(void **state)
{
    (void)state;
    axl_log_set_format(AXL_LOG_JSON);
    AXL_INFO("Scheduler", "Running trials [%d]...", 3);
    AXL_WARN("hw \"lab\"", "quote \" backslash \\ newline \n tab \t ctl \x01 deg ° bad \xff end");
    AXL_ERROR(NULL, "no source");
    char *s = log_read();
    char *save = NULL;
    char *line[3];
    line[0] = strtok_r(s, "\n", &save);
    line[1] = strtok_r(NULL, "\n", &save);
    line[2] = strtok_r(NULL, "\n", &save);
    assert_non_null(line[2]);
    assert_null(strtok_r(NULL, "\n", &save)); /* the newline in the message was escaped */
    static const char *const want_level[] = {"info", "warn", "error"};
    static const char *const want_src[] = {"Scheduler", "hw \"lab\"", ""};
    static const char *const want_msg[] = {
        "Running trials [3]...",
        "quote \" backslash \\ newline \n tab \t ctl \x01 deg ° bad \xef\xbf\xbd end", "no source"};
    for (int i = 0; i < 3; i++) {
        json_error_t err;
        json_t *o = json_loads(line[i], 0, &err);
        if (o == NULL)
            fail_msg("not JSON: %s (%s)", line[i], err.text);
        assert_int_equal(json_object_size(o), 4);
        const char *t = json_string_value(json_object_get(o, "time"));
        assert_non_null(t);
        if (!matches(t, "9999-99-99T99:99:99.999Z"))
            fail_msg("time '%s'", t);
        assert_string_equal(json_string_value(json_object_get(o, "level")), want_level[i]);
        assert_string_equal(json_string_value(json_object_get(o, "src")), want_src[i]);
        assert_string_equal(json_string_value(json_object_get(o, "msg")), want_msg[i]);
        json_decref(o);
    }
    free(s);
}

static void t_log_long_message(void **state)
{
    (void)state;
    char *big = malloc(5000);
    memset(big, 'y', 4999);
    big[4999] = '\0';
    axl_log_set_format(AXL_LOG_JSON);
    AXL_INFO("x", "%s", big);
    char *s = log_read();
    json_t *o = json_loads(s, 0, NULL);
    assert_non_null(o);
    assert_int_equal(strlen(json_string_value(json_object_get(o, "msg"))), 1023);
    json_decref(o);
    free(s);
    free(big);
}

const struct CMUnitTest errlog_tests[] = {
    cmocka_unit_test(t_strerror_every_code),
    cmocka_unit_test(t_fail_formats),
    cmocka_unit_test_setup_teardown(t_log_human, log_setup, log_teardown),
    cmocka_unit_test_setup_teardown(t_log_levels, log_setup, log_teardown),
    cmocka_unit_test_setup_teardown(t_log_json, log_setup, log_teardown),
    cmocka_unit_test_setup_teardown(t_log_long_message, log_setup, log_teardown),
};
const size_t n_errlog_tests = sizeof(errlog_tests) / sizeof(errlog_tests[0]);
