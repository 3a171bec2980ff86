/*
 * gp_internal.h - the GP's layout, shared by gp.c (fit, predict) and logei.c (LogEI over
 * the fitted GP). Private to engine/model.
 */
#ifndef AXL_MODEL_GP_INTERNAL_H
#define AXL_MODEL_GP_INTERNAL_H

#include "engine/model/model_internal.h"

struct axl_gp {
    size_t n, d;
    double *X;       /* n*d training inputs (owned copy) */
    double *y;       /* n standardized outcomes (owned copy) */
    double *nfix;    /* n known noise variances, 0 where unknown */
    int infer_noise; /* 1: a homoscedastic noise is part of theta */
    axl_gp_config cfg;
    double theta[AXL_MODEL_MAX_HYPER];
    double ls[AXL_MODEL_MAX_DIMS], s2, noise, mean;
    double *L;     /* n*n: lower = Cholesky factor (upper unused) */
    double *kf;    /* n(n-1)/2 packed strict lower noise-free kernel, row by row */
    double *Z;     /* d*n inputs divided by the lengthscales, dimension-major (Z[k*n+i])
                    * so that the kernel loops run over contiguous points and vectorize */
    double *Kinv;  /* n*n, full symmetric inverse of the Gram matrix, during a fit only
                    * (its gradient); NULL afterwards and in other GPs */
    double *alpha; /* K^-1 (y - mean) */
    double *dfac;  /* n(n-1)/2 packed gradient factors (fit only), else NULL */
    double *wbuf;  /* n scratch doubles */
    double *tbuf;  /* n*n scratch for Kinv of a small fitted GP, else NULL (dpotri) */
    double jitter; /* jitter of the last factorization */
    int fact_ok;   /* L, alpha and Z belong to theta */
    int fact_inv;  /* and so does Kinv (computed since that factorization) */
    double max_jitter;
    int n_jitter;
    int n_evals;
};

/* ---- gp.c for gp_fit.c */

/* Allocates a GP for n points in d dims (with_dfac: the gradient's buffers, for a fit);
 * NULL when out of memory. Free with axl__gp_release. */
axl_gp *axl__gp_alloc(size_t n, size_t d, int with_dfac);
void axl__gp_release(axl_gp *gp);
/* Copies the data in (AXL_EINVAL on a non-finite y or a bad noise variance). */
int axl__gp_load(axl_gp *gp, const double *X, const double *y, const double *noise_var,
                 const axl_gp_config *cfg);
void axl__gp_set_theta(axl_gp *gp, const double *theta);
/* Gram matrix, Cholesky (escalating jitter), alpha; with want_inv also K^-1. */
int axl__gp_factorize(axl_gp *gp, int want_inv);
/* MAP objective at theta (and its gradient when grad is not NULL); a value-only call
 * leaves the factorization for axl__gp_map_grad_here at the same theta. */
int axl__gp_map_eval(axl_gp *gp, const double *theta, double *value, double *grad);
int axl__gp_map_grad_here(axl_gp *gp, double *grad);

/*
 * Cross-kernel of m points Xs (m*d) against the training inputs: Ks (m*n) and, when G is
 * not NULL, the per-pair factors the gradients need (m*n). Caller owns both buffers.
 */
void axl__gp_cross_kernel(const axl_gp *gp, size_t m, const double *Xs, double *Ks, double *G);

#endif
