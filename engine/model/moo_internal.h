/* moo_internal.h - helpers shared by the multi-outcome files of engine/model. */
#ifndef AXL_MOO_INTERNAL_H
#define AXL_MOO_INTERNAL_H

#include "engine/model/axl_moo.h"
#include "engine/model/model_internal.h"

/*
 * A GP posterior in closed form with input gradients (moo_post.c): built from a MAP
 * theta (axl_gp_fit's layout) and the training data, so that the acquisition can ask
 * for means, variances and their gradients at many points in one product.
 */
typedef struct axl__post {
    size_t n, d;
    double *X;     /* n*d (owned) */
    double *Xt;    /* d*n (owned): X transposed, each dimension divided by its lengthscale */
    double *y;     /* n (owned), standardized */
    double *alpha; /* K^-1 (y - mean) */
    double *Kinv;  /* n*n */
    double *L;     /* n*n: the lower Cholesky factor of K (upper triangle unused) */
    double ls[AXL_MODEL_MAX_DIMS], s2, noise, mean;
} axl__post;

/* theta: D+3 (axl_gp_fit layout); min_noise as in the fit's config. *out caller-owned
 * (axl__post_free). Adds jitter when the Gram matrix is not positive definite. */
int axl__post_new(size_t n, size_t d, const double *X, const double *y, const double *theta,
                  double min_noise, axl__post **out);
void axl__post_free(axl__post *p);

/* A new posterior with m more points Xp whose outcomes are this one's means. */
int axl__post_believer(const axl__post *p, size_t m, const double *Xp, axl__post **out);

/* Means and variances at m points (m*d); dmu, dvar (m*d each) may be NULL. Without
 * gradients the variance comes from one triangular solve (|L^-1 k|^2), with them from
 * the product with K^-1 that the gradient needs anyway. */
int axl__post_predict(const axl__post *p, size_t m, const double *Xs, double *mu, double *var,
                      double *dmu, double *dvar);
/* The same with the caller's scratch ws of 3*m*n doubles (NULL: allocated here). */
int axl__post_predict_ws(const axl__post *p, size_t m, const double *Xs, double *mu, double *var,
                         double *dmu, double *dvar, double *ws);

#endif
