/* sobol.c - scrambled Sobol points that are a pure function of (seed, dim, index). */
#include <gsl/gsl_qrng.h>
#include <math.h>
#include <stdlib.h>

#include "engine/model/model_internal.h"

#define SOBOL_BITS 30 /* GSL's Sobol works on 30-bit numerators */
#define SOBOL_MAX_DIM 40

/*
 * Random linear matrix scramble + digital shift (Matousek; what SciPy's scrambled
 * Sobol does): per dimension, a random lower-triangular binary matrix with unit
 * diagonal mixes each bit with the more significant ones, then a random XOR. It
 * keeps the (t,m,s)-net property while making the points unbiased, and it removes
 * Sobol's corner and axis-aligned points that rounding would make coincide.
 */
typedef struct scramble {
    uint32_t col[SOBOL_BITS];
    uint32_t shift;
    /* the matrix applied a byte at a time: tab[k][b] = XOR of col[8k + i] over the set
     * bits i of b (4 lookups per coordinate instead of a 30-step loop) */
    uint32_t tab[4][256];
} scramble;

static void scramble_init(scramble *sc, uint64_t seed, unsigned dim)
{
    uint64_t s = seed ^ (0xd1b54a32d192ed03ULL * (uint64_t)(dim + 1));
    int p;
    for (p = 0; p < SOBOL_BITS; p++) {
        uint32_t below = p == 0 ? 0 : (uint32_t)axl__mix64(&s) & ((1u << p) - 1u);
        sc->col[p] = (1u << p) | below;
    }
    sc->shift = (uint32_t)axl__mix64(&s) & ((1u << SOBOL_BITS) - 1u);
    for (int k = 0; k < 4; k++) {
        sc->tab[k][0] = 0;
        for (unsigned b = 1; b < 256; b++) {
            /* b without its lowest set bit, plus that bit's column (0 past bit 29) */
            unsigned low = (unsigned)__builtin_ctz(b), bit = 8u * (unsigned)k + low;
            sc->tab[k][b] = sc->tab[k][b & (b - 1u)] ^ (bit < SOBOL_BITS ? sc->col[bit] : 0u);
        }
    }
}

static double scramble_apply(const scramble *sc, uint32_t x)
{
    uint32_t y = sc->tab[0][x & 0xffu] ^ sc->tab[1][(x >> 8) & 0xffu] ^
                 sc->tab[2][(x >> 16) & 0xffu] ^ sc->tab[3][(x >> 24) & 0xffu] ^ sc->shift;
    /* centre of the 2^-30 cell: never exactly 0 or 1 */
    return ((double)y + 0.5) / (double)(1u << SOBOL_BITS);
}

/*
 * GSL's Sobol state (qrng/sobol.c, unchanged since GSL 1.x). Reading its direction
 * numbers lets point n be computed directly, x_n = XOR of v[k] over the bits k of n's
 * Gray code (GSL's generator is the Antonov-Saleev recursion, whose n-th point that
 * is), instead of replaying the n points before it. The layout is checked by size and
 * by reproducing GSL's first points; if either check fails, the prefix is replayed.
 */
typedef struct gsl_sobol_state {
    unsigned int sequence_count;
    double last_denominator_inv;
    int last_numerator_vec[SOBOL_MAX_DIM];
    int v_direction[SOBOL_BITS][SOBOL_MAX_DIM];
} gsl_sobol_state;

#define SOBOL_CHECK 64 /* points compared with GSL's own */

static uint32_t sobol_numerator(const gsl_sobol_state *st, unsigned j, uint64_t n)
{
    uint64_t g = n ^ (n >> 1);
    uint32_t x = 0;
    for (int k = 0; g != 0; k++, g >>= 1)
        if (g & 1)
            x ^= (uint32_t)st->v_direction[k][j];
    return x;
}

/* 1 if q's state can be read as a gsl_sobol_state (q fresh: no point drawn yet);
 * draws SOBOL_CHECK points from q. */
static int sobol_direct_ok(gsl_qrng *q, unsigned dim)
{
    gsl_sobol_state st;
    double v[AXL_MODEL_MAX_DIMS];
    if (q->state_size != sizeof(gsl_sobol_state) || q->state == NULL)
        return 0;
    st = *(const gsl_sobol_state *)q->state;
    for (uint64_t n = 1; n <= SOBOL_CHECK; n++) {
        if (gsl_qrng_get(q, v) != 0)
            return 0;
        for (unsigned j = 0; j < dim; j++)
            if ((uint32_t)ldexp(v[j], SOBOL_BITS) != sobol_numerator(&st, j, n))
                return 0;
    }
    return 1;
}

int axl_sobol_fill(unsigned dim, uint64_t seed, uint64_t first, size_t count, double *out)
{
    gsl_qrng *q;
    double v[AXL_MODEL_MAX_DIMS];
    uint64_t i;
    size_t j, r;

    if (dim == 0 || dim > AXL_MODEL_MAX_DIMS || (count > 0 && out == NULL))
        return AXL_EINVAL;
    if (first + count > ((uint64_t)1 << SOBOL_BITS) - 2)
        return AXL_ERANGE;
    if (count == 0)
        return 0;

    if (dim <= SOBOL_MAX_DIM) {
        scramble *sc = malloc(dim * sizeof(*sc));
        if (sc == NULL)
            return AXL_ENOMEM;
        q = gsl_qrng_alloc(gsl_qrng_sobol, dim);
        if (q == NULL) {
            free(sc);
            return AXL_ENOMEM;
        }
        for (j = 0; j < dim; j++)
            scramble_init(&sc[j], seed, (unsigned)j);
        /* Far into the sequence: point n directly from the direction numbers, so that
         * the cost of a call does not grow with `first` */
        if (first > SOBOL_CHECK) {
            gsl_sobol_state st = *(const gsl_sobol_state *)q->state;
            if (sobol_direct_ok(q, dim)) {
                for (r = 0; r < count; r++)
                    for (j = 0; j < dim; j++)
                        out[r * dim + j] =
                            scramble_apply(&sc[j], sobol_numerator(&st, (unsigned)j, first + r));
                gsl_qrng_free(q);
                free(sc);
                return 0;
            }
            gsl_qrng_init(q);
        }
        /* GSL's qrng is sequential and starts after the all-zero point, which we
         * put back as index 0 (without it the first 2^m points are not a net).
         * Replaying the prefix costs O(first*dim) (only near the start, or if GSL's
         * state could not be read) and keeps point n reproducible. */
        for (i = 1; i < first; i++)
            gsl_qrng_get(q, v);
        for (r = 0; r < count; r++) {
            if (first + r == 0)
                for (j = 0; j < dim; j++)
                    v[j] = 0.0;
            else
                gsl_qrng_get(q, v);
            for (j = 0; j < dim; j++) {
                uint32_t num = (uint32_t)ldexp(v[j], SOBOL_BITS); /* exact: v = num/2^30 */
                out[r * dim + j] = scramble_apply(&sc[j], num);
            }
        }
        gsl_qrng_free(q);
        free(sc);
        return 0;
    }

    /* Beyond GSL's 40 Sobol dimensions: Halton with a seeded random shift mod 1. */
    q = gsl_qrng_alloc(gsl_qrng_halton, dim);
    if (q == NULL)
        return AXL_ENOMEM;
    {
        double shift[AXL_MODEL_MAX_DIMS];
        uint64_t s = seed ^ 0x5851f42d4c957f2dULL;
        for (j = 0; j < dim; j++)
            shift[j] = axl__unif(&s);
        for (i = 0; i < first; i++)
            gsl_qrng_get(q, v);
        for (r = 0; r < count; r++) {
            gsl_qrng_get(q, v);
            for (j = 0; j < dim; j++) {
                double t = v[j] + shift[j];
                out[r * dim + j] = t - floor(t);
            }
        }
    }
    gsl_qrng_free(q);
    return 0;
}
