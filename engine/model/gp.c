/*
 * gp.c - Gaussian process with a Matern-5/2 ARD kernel, outputscale, constant mean and
 * Gaussian noise; MAP hyper-parameters by GSL's BFGS with analytic gradients.
 *
 * All matrices are row-major n x n. The Cholesky factor lives in the lower triangle
 * of L; the noise-free kernel values are also kept packed (row by row, sequential
 * access) so that a failed factorization can be retried with more jitter without
 * recomputing kernels, and so that the gradient pass streams through memory.
 */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_erf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/gp_internal.h"

#define SQRT5 2.23606797749979
#define LOG_2PI 1.8378770664093453
#define SQRT2 1.4142135623730951
#define SQRT3 1.7320508075688772

size_t axl__gp_n(const axl_gp *gp)
{
    return gp->n;
}
size_t axl__gp_d(const axl_gp *gp)
{
    return gp->d;
}

/* ------------------------------------------------------------- kernel */

double axl_gp_kernel(size_t d, const double *ls, double s2, const double *a, const double *b,
                     double *grad_a)
{
    double r2 = 0, r, e, k;
    size_t j;
    for (j = 0; j < d; j++) {
        double t = (a[j] - b[j]) / ls[j];
        r2 += t * t;
    }
    r = sqrt(r2);
    e = exp(-SQRT5 * r);
    k = s2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
    if (grad_a != NULL) {
        /* dk/dr * dr/da_j, with the 1/r of dr/da cancelled analytically so that the
         * gradient is exact (zero) at r = 0 */
        double g = -s2 * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e;
        for (j = 0; j < d; j++)
            grad_a[j] = g * (a[j] - b[j]) / (ls[j] * ls[j]);
    }
    return k;
}

/* --------------------------------------------------------------- Cholesky */

#ifdef AXL_MODEL_LAPACK
/* LAPACK (OpenBLAS ships it): column-major, so our row-major lower triangle is its
 * upper one. dpotrf reports a non-positive-definite matrix through info, never
 * through an error handler. */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

static int chol_lower(double *A, size_t n)
{
    int nn = (int)n, info = 0;
    if (n == 0)
        return 0;
    dpotrf_("U", &nn, A, &nn, &info);
    return info == 0 ? 0 : info > 0 ? info : 1;
}
#else
static int chol_unblocked(double *A, size_t lda, size_t n)
{
    size_t i, j, k;
    for (j = 0; j < n; j++) {
        double s = A[j * lda + j];
        for (k = 0; k < j; k++)
            s -= A[j * lda + k] * A[j * lda + k];
        if (!(s > 0) || !isfinite(s))
            return (int)j + 1;
        s = sqrt(s);
        A[j * lda + j] = s;
        for (i = j + 1; i < n; i++) {
            double t = A[i * lda + j];
            for (k = 0; k < j; k++)
                t -= A[i * lda + k] * A[j * lda + k];
            A[i * lda + j] = t / s;
        }
    }
    return 0;
}

/*
 * Blocked right-looking Cholesky of the lower triangle (BLAS-3 for the trailing
 * update). Ours rather than gsl_linalg_cholesky_decomp1 because GSL reports a
 * non-positive-definite matrix through gsl_error(), whose default handler aborts
 * the process, and we must retry with jitter instead. Returns 0 or 1+failed row.
 */
static int chol_lower(double *A, size_t n)
{
    const size_t NB = 64;
    size_t k;
    for (k = 0; k < n; k += NB) {
        size_t kb = n - k < NB ? n - k : NB, m = n - k - kb;
        int rc = chol_unblocked(&A[k * n + k], n, kb);
        if (rc)
            return (int)k + rc;
        if (m > 0) {
            cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)m,
                        (int)kb, 1.0, &A[k * n + k], (int)n, &A[(k + kb) * n + k], (int)n);
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)m, (int)kb, -1.0,
                        &A[(k + kb) * n + k], (int)n, 1.0, &A[(k + kb) * n + k + kb], (int)n);
        }
    }
    return 0;
}
#endif

/* ------------------------------------------------------------ priors */

/* log density (up to a constant) of the prior and its derivative with respect to the
 * log of the parameter, for a lengthscale, the outputscale and the noise. */
static double prior_ls(const axl_gp_config *c, size_t D, double logl, double *dlog)
{
    if (c->prior == AXL_PRIOR_LOGNORMAL) {
        double mu = SQRT2 + 0.5 * log((double)D), s2 = 3.0;
        /* LogNormal density in l: -log l - (log l - mu)^2 / (2 s^2) */
        *dlog = -1.0 - (logl - mu) / s2;
        return -logl - (logl - mu) * (logl - mu) / (2.0 * s2);
    }
    /* Gamma(3, 6): 2 log l - 6 l */
    *dlog = 2.0 - 6.0 * exp(logl);
    return 2.0 * logl - 6.0 * exp(logl);
}

static double prior_os(double logs2, double *dlog)
{
    /* Gamma(2, 0.15) on the outputscale (kernel variance) */
    *dlog = 1.0 - 0.15 * exp(logs2);
    return logs2 - 0.15 * exp(logs2);
}

/* noise = min + exp(t); returns log p(noise) and d/dt */
static double prior_noise(const axl_gp_config *c, double noise, double et, double *dt)
{
    double ln = log(noise);
    if (c->prior == AXL_PRIOR_LOGNORMAL) {
        /* LogNormal(-4, 1): -log n - (log n + 4)^2 / 2 */
        *dt = (-1.0 - (ln + 4.0)) / noise * et;
        return -ln - 0.5 * (ln + 4.0) * (ln + 4.0);
    }
    /* Gamma(1.1, 0.05): 0.1 log n - 0.05 n */
    *dt = (0.1 / noise - 0.05) * et;
    return 0.1 * ln - 0.05 * noise;
}

/* Soft box on theta: zero inside, quadratic outside. Keeps BFGS away from regions
 * where the Gram matrix is numerically meaningless (ls -> 0 or infinity). */
static double soft_box(double v, double lo, double hi, double *d)
{
    if (v < lo) {
        *d = 2.0 * (v - lo);
        return (v - lo) * (v - lo);
    }
    if (v > hi) {
        *d = 2.0 * (v - hi);
        return (v - hi) * (v - hi);
    }
    *d = 0;
    return 0;
}

/* --------------------------------------------------- likelihood core */

void axl__gp_set_theta(axl_gp *gp, const double *theta)
{
    size_t j, d = gp->d;
    memcpy(gp->theta, theta, AXL_GP_N_HYPER(d) * sizeof(double));
    for (j = 0; j < d; j++)
        gp->ls[j] = exp(theta[j]);
    gp->s2 = exp(theta[d]);
    gp->noise = gp->infer_noise ? gp->cfg.min_noise + exp(theta[d + 1]) : 0.0;
    gp->mean = theta[d + 2];
}

/*
 * Kinv (full, symmetric) from the factor in L. Small matrices: W = L^-1 by one
 * triangular solve against the identity, then Kinv = W^T W by a rank-n update (two
 * BLAS-3 calls; more flops than LAPACK's dpotri, but its unblocked level-2 loops cost
 * more below ~100 points). Larger ones: dpotri.
 */
#define KINV_BLAS3_MAX 128
static int kinv(axl_gp *gp)
{
    size_t n = gp->n, i, j;
    double *Ki = gp->Kinv;

    if (n == 0) {
        gp->fact_inv = 1;
        return 0;
    }
    if (gp->tbuf != NULL) {
        double *W = gp->tbuf;
        memset(W, 0, n * n * sizeof(double));
        for (i = 0; i < n; i++)
            W[i * n + i] = 1.0;
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)n,
                    (int)n, 1.0, gp->L, (int)n, W, (int)n);
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)n, (int)n, 1.0, W, (int)n, 0.0, Ki,
                    (int)n);
    } else {
        for (i = 0; i < n; i++)
            memcpy(Ki + i * n, gp->L + i * n, (i + 1) * sizeof(double));
#ifdef AXL_MODEL_LAPACK
        {
            int nn = (int)n, info = 0;
            dpotri_("U", &nn, Ki, &nn, &info); /* lower triangle (row-major) */
        }
#else
        {
            gsl_matrix_view v = gsl_matrix_view_array(Ki, n, n);
            /* lower triangle holds a valid factor with a positive diagonal, so GSL's
             * triangular inverse cannot hit its singular-matrix error path */
            gsl_linalg_cholesky_invert(&v.matrix);
        }
#endif
    }
    for (i = 0; i < n; i++)
        for (j = 0; j < i; j++)
            Ki[j * n + i] = Ki[i * n + j];
    gp->fact_inv = 1;
    return 0;
}

/*
 * The noise-free kernel at the current theta into kf (packed strict lower triangle,
 * row by row) and, when dfac is allocated, the gradient factors
 * s2*(5/3)(1+sqrt5 r)exp(-sqrt5 r) into dfac. Squared distances row by row, summed
 * dimension by dimension, then the Matern values over the whole packed triangle, in
 * loops without calls so that they vectorize.
 */
AXL_HOT static void gram_packed(axl_gp *gp)
{
    size_t n = gp->n, d = gp->d, i, j, k, pk, np = n > 1 ? n * (n - 1) / 2 : 0;
    double il[AXL_MODEL_MAX_DIMS], *kf = gp->kf, *dr = gp->dfac, s2 = gp->s2;

    for (k = 0; k < d; k++)
        il[k] = 1.0 / gp->ls[k];
    for (i = 0; i < n; i++)
        for (k = 0; k < d; k++)
            gp->Z[k * n + i] = gp->X[i * d + k] * il[k];
    for (i = 0, pk = 0; i < n; pk += i, i++) {
        double *kr = kf + pk;
        for (j = 0; j < i; j++)
            kr[j] = 0;
        for (k = 0; k < d; k++) {
            const double *zk = gp->Z + k * n;
            double zik = zk[i];
            for (j = 0; j < i; j++) {
                double t = zk[j] - zik;
                kr[j] += t * t;
            }
        }
    }
    if (dr != NULL) {
        for (j = 0; j < np; j++) {
            double r2 = kf[j], r = sqrt(r2), e = axl__exp_nonpos(-SQRT5 * r);
            kf[j] = s2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
            dr[j] = s2 * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e;
        }
    } else {
        for (j = 0; j < np; j++) {
            double r2 = kf[j], r = sqrt(r2), e = axl__exp_nonpos(-SQRT5 * r);
            kf[j] = s2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
        }
    }
}

/*
 * Builds the Gram matrix at the current theta, factorizes it (escalating jitter on
 * failure) and solves for alpha. With want_inv also the full inverse. Fills dfac
 * (when allocated) with s2*(5/3)(1+sqrt5 r)exp(-sqrt5 r) for the gradient.
 */
int axl__gp_factorize(axl_gp *gp, int want_inv)
{
    size_t n = gp->n, i, pk;
    double *L = gp->L, jit = 0;
    int tries;

    gp->fact_inv = 0;
    gp->fact_ok = 0;
    gram_packed(gp);
    for (tries = 0;; tries++) {
        for (i = 0, pk = 0; i < n; i++) {
            memcpy(L + i * n, gp->kf + pk, i * sizeof(double));
            pk += i;
            L[i * n + i] = gp->s2 + gp->noise + gp->nfix[i] + jit;
        }
        if (chol_lower(L, n) == 0)
            break;
        /* Not positive definite (duplicate points, tiny noise): add jitter, starting
         * at 1e-9 of the signal variance and growing tenfold; recorded in the diag. */
        if (tries >= 10)
            return AXL_ENUMERIC;
        jit = jit == 0 ? 1e-9 * gp->s2 : jit * 10.0;
    }
    gp->jitter = jit;
    if (jit > 0) {
        gp->n_jitter++;
        if (jit > gp->max_jitter)
            gp->max_jitter = jit;
    }
    for (i = 0; i < n; i++)
        gp->alpha[i] = gp->y[i] - gp->mean;
    if (n > 0) {
        cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)n, L, (int)n,
                    gp->alpha, 1);
        cblas_dtrsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit, (int)n, L, (int)n,
                    gp->alpha, 1);
    }
    gp->fact_ok = 1;
    return want_inv ? kinv(gp) : 0;
}

/* Log prior (minus the soft box) at theta and its gradient in theta (pg, H values). */
static double map_prior(const axl_gp *gp, const double *theta, double *pg)
{
    size_t d = gp->d, k;
    double lp = 0, dd;

    /* priors (densities in the natural parameters, optimized over their logs, like
     * GPyTorch's MAP: no Jacobian term) and the soft box */
    for (k = 0; k < d; k++) {
        double g, gb;
        lp += prior_ls(&gp->cfg, d, theta[k], &g);
        lp -= soft_box(theta[k], -6.0, 7.0, &gb);
        pg[k] = g - gb;
    }
    {
        double g, gb;
        lp += prior_os(theta[d], &g);
        lp -= soft_box(theta[d], -9.0, 9.0, &gb);
        pg[d] = g - gb;
    }
    pg[d + 1] = 0;
    if (gp->infer_noise) {
        double g, gb;
        lp += prior_noise(&gp->cfg, gp->noise, exp(theta[d + 1]), &g);
        lp -= soft_box(theta[d + 1], -30.0, 3.0, &gb);
        pg[d + 1] = g - gb;
    }
    lp -= soft_box(theta[d + 2], -20.0, 20.0, &dd);
    pg[d + 2] = -dd;
    return lp;
}

/* The sums of lml_grad over the Gram matrix's lower triangle (gl: d zeroed values). */
AXL_HOT static void grad_trace(axl_gp *gp, double *gl, double *trW_out, double *gs_out,
                               double *ga_out)
{
    size_t n = gp->n, d = gp->d, i, j, k, pk = 0;
    const double *Ki = gp->Kinv, *a = gp->alpha;
    double trW = 0, gs = 0, ga = 0, *wd = gp->wbuf;

    /* dL/dtheta = 1/2 tr((alpha alpha^T - K^-1) dK/dtheta); K symmetric, so
     * sum over i > j twice. d k_ij / d log l_k = dfac_ij (z_ik - z_jk)^2. */
    for (i = 0; i < n; pk += i, i++) {
        const double *ki = Ki + i * n, *kf = gp->kf + pk, *df = gp->dfac + pk;
        double ai = a[i], gsi = 0;
        trW += ai * ai - ki[i];
        ga += ai;
        for (j = 0; j < i; j++) {
            double W = ai * a[j] - ki[j];
            wd[j] = W * df[j];
            gsi += W * kf[j];
        }
        gs += gsi;
        for (k = 0; k < d; k++) {
            const double *zk = gp->Z + k * n;
            double zik = zk[i], acc = 0;
            for (j = 0; j < i; j++) {
                double t = zk[j] - zik;
                acc += wd[j] * t * t;
            }
            gl[k] += acc;
        }
    }
    *trW_out = trW;
    *gs_out = gs;
    *ga_out = ga;
}

/*
 * Gradient of the log marginal likelihood at the current factorization (gp->theta,
 * from axl__gp_factorize with dfac): computes Kinv first. grad: H values.
 */
static int lml_grad(axl_gp *gp, double *grad)
{
    size_t n = gp->n, d = gp->d, k, H = AXL_GP_N_HYPER(d);
    double trW, gs, ga;
    double gl[AXL_MODEL_MAX_DIMS] = {0};
    int rv;

    memset(grad, 0, H * sizeof(double));
    if (n == 0)
        return 0;
    if (!gp->fact_inv && (rv = kinv(gp)) != 0)
        return rv;
    grad_trace(gp, gl, &trW, &gs, &ga);
    for (k = 0; k < d; k++)
        grad[k] = gl[k];
    grad[d] = gs + 0.5 * trW * gp->s2;
    grad[d + 1] = gp->infer_noise ? 0.5 * trW * exp(gp->theta[d + 1]) : 0.0;
    grad[d + 2] = ga;
    return 0;
}

/* Log marginal likelihood at the current factorization. */
static double lml_value(const axl_gp *gp)
{
    size_t n = gp->n, i;
    double lml = -0.5 * (double)n * LOG_2PI;
    for (i = 0; i < n; i++)
        lml -= 0.5 * (gp->y[i] - gp->mean) * gp->alpha[i] + log(gp->L[i * n + i]);
    return lml;
}

/*
 * MAP objective (log likelihood + log prior - soft box) at theta and, when grad is not
 * NULL, its gradient in theta. Without grad only the factor is computed (no Kinv):
 * axl__gp_map_grad_here can add the gradient later at the same theta.
 */
int axl__gp_map_eval(axl_gp *gp, const double *theta, double *value, double *grad)
{
    size_t H = AXL_GP_N_HYPER(gp->d), k;
    double pg[AXL_MODEL_MAX_HYPER];
    int rv;

    axl__gp_set_theta(gp, theta);
    gp->n_evals++;
    if ((rv = axl__gp_factorize(gp, 0)) != 0)
        return rv;
    *value = lml_value(gp) + map_prior(gp, theta, pg);
    if (grad != NULL) {
        if ((rv = lml_grad(gp, grad)) != 0)
            return rv;
        for (k = 0; k < H; k++)
            grad[k] += pg[k];
    }
    if (!isfinite(*value))
        return AXL_ENUMERIC;
    return 0;
}

/* The gradient of the MAP objective at the theta of the last (successful) axl__gp_map_eval. */
int axl__gp_map_grad_here(axl_gp *gp, double *grad)
{
    size_t H = AXL_GP_N_HYPER(gp->d), k;
    double pg[AXL_MODEL_MAX_HYPER];
    int rv;

    (void)map_prior(gp, gp->theta, pg);
    if ((rv = lml_grad(gp, grad)) != 0)
        return rv;
    for (k = 0; k < H; k++)
        grad[k] += pg[k];
    return 0;
}

/* ------------------------------------------------------------ alloc */

void axl__gp_release(axl_gp *gp)
{
    if (gp == NULL)
        return;
    free(gp->X);
    free(gp->y);
    free(gp->nfix);
    free(gp->L);
    free(gp->kf);
    free(gp->Z);
    free(gp->Kinv);
    free(gp->alpha);
    free(gp->dfac);
    free(gp->wbuf);
    free(gp->tbuf);
    free(gp);
}

void axl_gp_free(axl_gp *gp)
{
    axl__gp_release(gp);
}

axl_gp *axl__gp_alloc(size_t n, size_t d, int with_dfac)
{
    axl_gp *gp = calloc(1, sizeof(*gp));
    size_t nn = n > 0 ? n * n : 1;
    if (gp == NULL)
        return NULL;
    gp->n = n;
    gp->d = d;
    gp->X = malloc((n > 0 ? n * d : 1) * sizeof(double));
    gp->y = malloc((n ? n : 1) * sizeof(double));
    gp->nfix = calloc(n ? n : 1, sizeof(double));
    gp->L = malloc(nn * sizeof(double));
    gp->Kinv = with_dfac ? malloc(nn * sizeof(double)) : NULL; /* the fit's gradient only */
    gp->alpha = malloc((n ? n : 1) * sizeof(double));
    gp->kf = malloc((n > 1 ? n * (n - 1) / 2 : 1) * sizeof(double));
    gp->Z = malloc((n > 0 ? n * d : 1) * sizeof(double));
    gp->dfac = with_dfac ? malloc((n > 1 ? n * (n - 1) / 2 : 1) * sizeof(double)) : NULL;
    gp->wbuf = malloc((n ? n : 1) * sizeof(double));
    /* the fit inverts the Gram matrix at every gradient: small ones by BLAS-3 (kinv) */
    gp->tbuf = with_dfac && n > 0 && n <= KINV_BLAS3_MAX ? malloc(nn * sizeof(double)) : NULL;
    if ((with_dfac && n > 0 && n <= KINV_BLAS3_MAX && !gp->tbuf) || !gp->X || !gp->y || !gp->nfix ||
        !gp->L || (with_dfac && !gp->Kinv) || !gp->alpha || !gp->kf || !gp->Z || !gp->wbuf ||
        (with_dfac && !gp->dfac)) {
        axl__gp_release(gp);
        return NULL;
    }
    return gp;
}

int axl__gp_load(axl_gp *gp, const double *X, const double *y, const double *noise_var,
                 const axl_gp_config *cfg)
{
    size_t i, n = gp->n;
    int unknown = noise_var == NULL;
    gp->cfg = *cfg;
    if (n > 0)
        memcpy(gp->X, X, n * gp->d * sizeof(double));
    for (i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return AXL_EINVAL;
        gp->y[i] = y[i];
        if (noise_var != NULL) {
            if (isnan(noise_var[i]))
                unknown = 1;
            else if (noise_var[i] < 0 || !isfinite(noise_var[i]))
                return AXL_EINVAL;
            else
                gp->nfix[i] = noise_var[i];
        }
    }
    gp->infer_noise = unknown;
    return 0;
}

void axl_gp_theta(const axl_gp *gp, double *out)
{
    memcpy(out, gp->theta, AXL_GP_N_HYPER(gp->d) * sizeof(double));
}

int axl_gp_map_objective(size_t n, size_t d, const double *X, const double *y,
                         const double *noise_var, const axl_gp_config *cfg, const double *theta,
                         double *value, double *grad)
{
    axl_gp *gp;
    int rv;
    if (d == 0 || d > AXL_MODEL_MAX_DIMS || cfg == NULL || theta == NULL || value == NULL)
        return AXL_EINVAL;
    if ((gp = axl__gp_alloc(n, d, grad != NULL)) == NULL)
        return AXL_ENOMEM;
    if ((rv = axl__gp_load(gp, X, y, noise_var, cfg)) == 0)
        rv = axl__gp_map_eval(gp, theta, value, grad);
    axl__gp_release(gp);
    return rv;
}

int axl_gp_condition_believer(const axl_gp *gp, size_t m, const double *Xp, axl_gp **out)
{
    size_t n = gp->n, d = gp->d, N = n + m, i;
    axl_gp *g;
    double *mu = NULL;
    int rv;

    *out = NULL;
    if ((g = axl__gp_alloc(N, d, 0)) == NULL)
        return AXL_ENOMEM;
    if ((mu = malloc((m ? m : 1) * sizeof(double))) == NULL) {
        rv = AXL_ENOMEM;
        goto fail;
    }
    if ((rv = axl_gp_predict(gp, m, Xp, mu, NULL)) != 0)
        goto fail;
    g->cfg = gp->cfg;
    g->infer_noise = gp->infer_noise;
    memcpy(g->X, gp->X, n * d * sizeof(double));
    memcpy(g->X + n * d, Xp, m * d * sizeof(double));
    memcpy(g->y, gp->y, n * sizeof(double));
    memcpy(g->y + n, mu, m * sizeof(double));
    memcpy(g->nfix, gp->nfix, n * sizeof(double));
    for (i = n; i < N; i++) {
        /* a believed outcome is as noisy as a real one would be */
        double fx = 0;
        size_t j;
        if (!gp->infer_noise)
            for (j = 0, fx = INFINITY; j < n; j++)
                fx = gp->nfix[j] < fx ? gp->nfix[j] : fx;
        g->nfix[i] = isfinite(fx) ? fx : 0.0;
    }
    axl__gp_set_theta(g, gp->theta);
    g->max_jitter = gp->max_jitter;
    g->n_jitter = gp->n_jitter;
    if ((rv = axl__gp_factorize(g, 0)) != 0)
        goto fail;
    free(mu);
    *out = g;
    return 0;
fail:
    free(mu);
    axl__gp_release(g);
    return rv;
}

/* Cross-kernel rows Ks (m*n) and, when G is not NULL, the radial derivative factor
 * G[p,i] = -s2 (5/3)(1 + sqrt5 r) exp(-sqrt5 r) (so dk/dx_j = G (x_j - x_ij)/l_j^2). */
AXL_HOT void axl__gp_cross_kernel(const axl_gp *gp, size_t m, const double *Xs, double *Ks,
                                  double *G)
{
    size_t n = gp->n, d = gp->d, p, i, k;
    double s2 = gp->s2;
    for (p = 0; p < m; p++) {
        const double *x = Xs + p * d;
        double *kr = Ks + p * n;
        for (i = 0; i < n; i++)
            kr[i] = 0;
        for (k = 0; k < d; k++) {
            const double *zk = gp->Z + k * n;
            double xk = x[k] / gp->ls[k];
            for (i = 0; i < n; i++) {
                double t = xk - zk[i];
                kr[i] += t * t;
            }
        }
        if (G != NULL) {
            double *gr = G + p * n;
            for (i = 0; i < n; i++) {
                double r2 = kr[i], r = sqrt(r2), e = axl__exp_nonpos(-SQRT5 * r);
                kr[i] = s2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
                gr[i] = -s2 * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e;
            }
        } else {
            for (i = 0; i < n; i++) {
                double r2 = kr[i], r = sqrt(r2), e = axl__exp_nonpos(-SQRT5 * r);
                kr[i] = s2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
            }
        }
    }
}

int axl_gp_predict(const axl_gp *gp, size_t m, const double *Xs, double *mean, double *var)
{
    size_t n = gp->n, p, i;
    double *Ks = NULL, *W = NULL;

    if (m == 0)
        return 0;
    if (n == 0) {
        for (p = 0; p < m; p++) {
            if (mean)
                mean[p] = gp->mean;
            if (var)
                var[p] = gp->s2;
        }
        return 0;
    }
    Ks = malloc(m * n * sizeof(double));
    W = var ? malloc(m * n * sizeof(double)) : NULL;
    if (Ks == NULL || (var && W == NULL)) {
        free(Ks);
        free(W);
        return AXL_ENOMEM;
    }
    axl__gp_cross_kernel(gp, m, Xs, Ks, NULL);
    if (mean) {
        for (p = 0; p < m; p++)
            mean[p] = gp->mean;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)n, 1.0, Ks, (int)n, gp->alpha, 1, 1.0,
                    mean, 1);
    }
    if (var) {
        /* q = k^T K^-1 k = |L^-1 k|^2: one triangular solve for all m points */
        memcpy(W, Ks, m * n * sizeof(double));
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)m, (int)n,
                    1.0, gp->L, (int)n, W, (int)n);
        for (p = 0; p < m; p++) {
            double q = 0;
            for (i = 0; i < n; i++)
                q += W[p * n + i] * W[p * n + i];
            var[p] = gp->s2 - q;
            if (var[p] < 0)
                var[p] = 0;
        }
    }
    free(Ks);
    free(W);
    return 0;
}
