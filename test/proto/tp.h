/* Shared helpers of the test_proto binary. */
#ifndef AXL_TEST_TP_H
#define AXL_TEST_TP_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/axl_proto.h"
#include "proto/axl_wire.h"
#include "test/proto/mpj.h"
#include "test/proto/samples.h"

/* The groups, one per file. */
extern const struct CMUnitTest wire_tests[];
extern const size_t n_wire_tests;
extern const struct CMUnitTest envelope_tests[];
extern const size_t n_envelope_tests;
extern const struct CMUnitTest robust_tests[];
extern const size_t n_robust_tests;
extern const struct CMUnitTest errlog_tests[];
extern const size_t n_errlog_tests;
extern const struct CMUnitTest util_tests[];
extern const size_t n_util_tests;

/*
 * Decodes sb as a wire message and checks the code and, when substr is not NULL, that the
 * error message contains it. Frees sb. Reports the caller's line.
 */
void wire_expect_at(const char *file, int line, int code, const char *substr, msgpack_sbuffer *sb);
#define WIRE_EXPECT(code, substr, ...)                                                             \
    wire_expect_at(__FILE__, __LINE__, code, substr, J(__VA_ARGS__))

/* Deterministic PRNG (xorshift64*). */
static inline uint64_t tp_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

#endif
