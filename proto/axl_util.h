/*
 * axl_util.h - small helpers every module needs once: a wall clock, a NULL-safe strdup,
 * mkdir -p and the splitmix64 generator. No dependencies beyond libc.
 */
#ifndef AXL_UTIL_H
#define AXL_UTIL_H

#include <stdint.h>
#include <sys/types.h>

/* Wall-clock time, Unix seconds with sub-microsecond resolution (CLOCK_REALTIME). */
double axl_now(void);

/* A malloc'd copy of s (caller frees); NULL when s is NULL or out of memory. */
char *axl_xstrdup(const char *s);

/*
 * Creates path and every missing parent with mode (like `mkdir -p`); an existing
 * directory is fine. Returns 0 or an errno value (ENAMETOOLONG above 4095 bytes).
 */
int axl_mkdir_p(const char *path, mode_t mode);

/*
 * splitmix64: one 64-bit state, good statistical quality, trivially reproducible; the
 * generator behind every seeded stream in axle (simulated noise, the model's draws).
 */
static inline uint64_t axl_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
