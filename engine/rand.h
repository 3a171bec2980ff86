/* rand.h - a tiny seeded generator for simulated noise and failures (not for the model). */
#ifndef AXL_RAND_H
#define AXL_RAND_H

#include <math.h>
#include <stdint.h>

/* splitmix64: one 64-bit state, good statistical quality, trivially reproducible. */
static inline uint64_t axl_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
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
