/* model_internal.h - helpers shared by the files of engine/model (not installed). */
#ifndef AXL_MODEL_INTERNAL_H
#define AXL_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "engine/model/axl_model.h"
#include "proto/axl_util.h"

/* splitmix64: a tiny counter-based generator; all randomness is derived from seeds
 * so that results are reproducible and no state is shared between threads. */
static inline uint64_t axl__mix64(uint64_t *s)
{
    return axl_splitmix64(s);
}

/* Uniform in (0,1). */
static inline double axl__unif(uint64_t *s)
{
    return ((double)(axl__mix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double axl__normal(uint64_t *s);

/*
 * The kernel loops are compiled twice, for AVX2 and for the baseline x86-64 (SSE2),
 * and the loader picks one by CPU (GCC's target_clones, an ifunc). The two give the
 * same bits: ISO C mode does not contract a*b+c into an FMA (-ffp-contract=off) and
 * AVX2 does not imply FMA anyway; only the vector width differs.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define AXL_HOT __attribute__((target_clones("avx2", "default")))
#else
#define AXL_HOT
#endif

/*
 * exp(x) for x <= 0 (below -700 it returns exp(-700) instead of underflowing to 0),
 * within 2 ulp of libm's, branch-free and without a library call so that the
 * kernel loops that use it vectorize: k = round(x / ln2), r = x - k ln2 (|r| <=
 * ln2/2), exp(r) by its Taylor polynomial to degree 13 (remainder < 1e-17),
 * times 2^k built in the exponent bits.
 */
static inline double axl__exp_nonpos(double x)
{
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: rounds to an integer */
    double kd, r, p;
    uint64_t ki;
    x = x < -700.0 ? -700.0 : x;
    kd = x * 1.4426950408889634 + shifter;
    memcpy(&ki, &kd, sizeof ki); /* low bits: k + 2^51 */
    kd -= shifter;
    r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    ki = (ki + 1023u) << 52; /* 2^k: only the low 11 bits of k + 1023 survive */
    memcpy(&kd, &ki, sizeof kd);
    return p * kd;
}

/* Like proto's axl_fail, re-implemented here because axl_model links only GSL:
 * formats into eb (if not NULL) and returns code. */
int axl__fail(axl_errbuf *eb, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline double axl__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ---- space.c: model-space layout */

/* One model dimension per range/ordinal parameter; a block per one-hot choice. */
typedef struct axl__layout {
    size_t D;
    size_t n_params;
    int off[AXL_MODEL_MAX_PARAMS];   /* first model dim of each parameter, -1 fixed */
    int width[AXL_MODEL_MAX_PARAMS]; /* model dims of each parameter */
} axl__layout;

void axl__layout_init(const axl_space *s, axl__layout *lay);

/* Linear constraints in model space: A u <= b (rows n_constraints, D columns). */
int axl__constraints_unit(const axl_space *s, double **A, double **b);

/* Projects u onto the box [0,1]^D intersected with {A u <= b} (Dykstra). */
void axl__project(size_t D, size_t nc, const double *A, const double *b, double *u,
                  double *work /* 2*(nc+1)*D */);

/* Rounds a model point to the nearest feasible-by-type model point (through
 * parameter space). x is scratch of n_params. */
void axl__round_unit(const axl_space *s, double *u, double *x);

/* Snaps every one-hot block of u to its arg-max (leaves other dims alone). */
void axl__snap_onehot(const axl_space *s, const axl__layout *lay, double *u);

/* ---- gp.c internals used by acq.c / generate.c */

size_t axl__gp_n(const axl_gp *gp);
size_t axl__gp_d(const axl_gp *gp);

/* axl_gp_logei with caller scratch (no allocation): ws holds
 * axl__gp_logei_ws_size(gp, m, grad != NULL) doubles. */
size_t axl__gp_logei_ws_size(const axl_gp *gp, size_t m, int with_grad);
int axl__gp_logei_ws(const axl_gp *gp, double best_f, size_t m, const double *Xs, double *val,
                     double *grad, double *ws);
/*
 * An upper bound of LogEI at m points from the first nb training points' part of the
 * variance reduction: var = s2 - |L^-1 k|^2 and the first nb coordinates of L^-1 k
 * need only the leading block of L (O(nb^2) per point instead of O(n^2)); LogEI
 * grows with the variance. The mean is exact. ws: axl__gp_logei_ws_size(gp, m, 0).
 */
int axl__gp_logei_ub(const axl_gp *gp, double best_f, size_t m, const double *Xs, size_t nb,
                     double *ub, double *ws);

/* From this n a warm GP fit gets 4 BFGS iterations per generation instead of 30
 * (axl_gp_config.short_warm_n's default, and its value when left 0). */
#define AXL__SHORT_WARM_N 65

/* ---- generate.c: outcome transforms and their prequential scores */

/* An outcome transform as fitted on some observations, so that it can be applied to
 * another y: z = (t(y') - mean) / sd with y' = y to maximize and t the identity
 * (standardize), log(y' - lo + dl) (log) or -log(hi - y' + dl) (gap-log).
 * ref_mean / ref_sd: the broad reference density of the prequential score, a normal
 * on y' with the observed mean and the observed range as its sd. */
typedef struct axl__otf {
    int tf;
    double hi, lo, dl, mean, sd;
    double ref_mean, ref_sd;
} axl__otf;

/*
 * Outcome transform tf (axl_outcome_tf 0, 1 or 3; shifts from o) of the first n of
 * in's observations into ys (standardized, to maximize), their known noise variances
 * into nv (NULL when in->sem is NULL), *jac = the summed log-Jacobian, *t (may be NULL)
 * = the transform as fitted.
 */
void axl__prep_outcomes(int tf, const axl_model_options *o, const axl_model_input *in, size_t n,
                        double *ys, double *nv, double *jac, axl__otf *t);

/* z of y' (to maximize) and log |dz/dy'|; 0, or -1 when y' is outside the domain. */
int axl__otf_apply(const axl__otf *t, double y, double *z, double *logjac);

/*
 * Log predictive density of y' (to maximize) in the units of y, under the transform t
 * and a GP predictive normal N(mu, s2) of z (latent variance plus noise): the mixture
 * (1 - eps) N(z; mu, s2) |dz/dy'| + eps N(y'; ref_mean, ref_sd^2). The reference part
 * is the same for every transform; it gives a y outside a transform's domain (below
 * the log transform's old worst - dl, above the gap-log's old best + dl) a finite,
 * low density instead of -inf, and caps what one surprise can cost.
 */
double axl__preq_logpdf(const axl__otf *t, double y, double mu, double s2, double eps);

/* ---- acq.c */

typedef struct axl__acq_cfg {
    int n_raw, n_restarts, max_iter;
    uint64_t seed;
} axl__acq_cfg;

/*
 * Maximizes LogEI over the model cube (with constraints A u <= b). Writes the
 * n_out best distinct local optima (by LogEI, descending) into U (n_out*D) and
 * vals; *n_found may be smaller than n_out.
 */
int axl__acq_optimize(const axl_gp *gp, double best_f, const axl_space *s, const axl__layout *lay,
                      size_t nc, const double *A, const double *b, const double *U_extra,
                      size_t n_extra, const axl__acq_cfg *cfg, size_t n_out, double *U,
                      double *vals, size_t *n_found);

#endif
