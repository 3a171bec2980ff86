/* lab_test.h - helpers shared by the test/lab binaries (header-only, static). */
#ifndef AXL_LAB_TEST_H
#define AXL_LAB_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Loads a JSON file the tests own (abort on failure: a broken fixture is a test bug). */
static inline json_t *lab_load_json(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL)
        fprintf(stderr, "%s:%d: %s\n", path, err.line, err.text);
    assert_non_null(j);
    return j;
}

/* A fresh temporary directory; lab_tmpdir_rm removes it with the files named in it. */
static inline void lab_tmpdir(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(buf, len, "%s/axl_lab_XXXXXX", base);
    assert_non_null(mkdtemp(buf));
}

static inline void lab_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* Writes text to dir/name and returns the path in buf. */
static inline void lab_write(char *buf, size_t len, const char *dir, const char *name,
                             const char *text)
{
    lab_path(buf, len, dir, name);
    FILE *f = fopen(buf, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static inline void lab_tmpdir_rm(const char *dir, const char *const *names, size_t n)
{
    char p[512];
    for (size_t i = 0; i < n; i++) {
        lab_path(p, sizeof(p), dir, names[i]);
        unlink(p);
    }
    assert_int_equal(rmdir(dir), 0);
}

/* cmocka's assert_float_equal compares floats; plan times need doubles. */
#define assert_near(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            fail_msg("%s = %.17g, want %.17g (+-%g)", #a, a_, b_, (double)(tol));                  \
    } while (0)

/* Tiny deterministic generator for property tests (xorshift64*). */
static inline uint64_t lab_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static inline double lab_uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (double)(lab_rand(s) >> 11) / 9007199254740992.0;
}

#endif
