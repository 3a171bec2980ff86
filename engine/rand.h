/* rand.h - a tiny seeded generator for simulated noise and failures (not for the model). */
#ifndef AXL_RAND_H
#define AXL_RAND_H

#include <math.h>
#include <stdint.h>

#include "proto/axl_util.h"

/* splitmix64 (proto/axl_util.h). */
static inline uint64_t axl_rand_next(uint64_t *state)
{
    return axl_splitmix64(state);
}

/* Uniform in [0, 1). */
static inline double axl_rand_uniform(uint64_t *state)
{
    return (double)(axl_rand_next(state) >> 11) * 0x1.0p-53;
}

/* Standard normal by Box-Muller. */
static inline double axl_rand_normal(uint64_t *state)
{
    double u1 = axl_rand_uniform(state), u2 = axl_rand_uniform(state);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
