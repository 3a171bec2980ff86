/* moo_post.c - GP posterior means, variances and their input gradients from a MAP
 * theta (one per modelled outcome in axl_moo_generate). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>

#include "engine/model/moo_internal.h"

#define SQRT5 2.23606797749979

void axl__post_free(axl__post *p)
{
    if (p == NULL)
        return;
    free(p->X);
    free(p->Xt);
    free(p->y);
    free(p->alpha);
    free(p->Kinv);
    free(p->L);
    free(p);
}

static double matern(const axl__post *p, const double *a, const double *b)
{
    double r2 = 0, r;
    size_t k;
    for (k = 0; k < p->d; k++) {
        double t = (a[k] - b[k]) / p->ls[k];
        r2 += t * t;
    }
    r = sqrt(r2);
    return p->s2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * exp(-SQRT5 * r);
}

/* In-place lower Cholesky of the n x n matrix A; 0 or -1 (not positive definite). */
static int chol(double *A, size_t n)
{
    size_t i, j, k;
    for (j = 0; j < n; j++) {
        double s = A[j * n + j];
        for (k = 0; k < j; k++)
            s -= A[j * n + k] * A[j * n + k];
        if (!(s > 0))
            return -1;
        s = sqrt(s);
        A[j * n + j] = s;
        for (i = j + 1; i < n; i++) {
            double t = A[i * n + j];
            for (k = 0; k < j; k++)
                t -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = t / s;
        }
    }
    return 0;
}

int axl__post_new(size_t n, size_t d, const double *X, const double *y, const double *theta,
                  double min_noise, axl__post **out)
{
    axl__post *p = calloc(1, sizeof(*p));
    double *K = NULL, jit = 0;
    size_t i, j, k;
    int tries;

    *out = NULL;
    if (p == NULL)
        return AXL_ENOMEM;
    p->n = n;
    p->d = d;
    for (k = 0; k < d; k++)
        p->ls[k] = exp(theta[k]);
    p->s2 = exp(theta[d]);
    p->noise = min_noise + exp(theta[d + 1]);
    p->mean = theta[d + 2];
    p->X = malloc((n ? n : 1) * d * sizeof(double));
    p->Xt = malloc((n ? n : 1) * d * sizeof(double));
    p->y = malloc((n ? n : 1) * sizeof(double));
    p->alpha = malloc((n ? n : 1) * sizeof(double));
    p->Kinv = malloc((n ? n * n : 1) * sizeof(double));
    p->L = K = malloc((n ? n * n : 1) * sizeof(double));
    if (!p->X || !p->Xt || !p->y || !p->alpha || !p->Kinv || !K)
        goto nomem;
    memcpy(p->X, X, n * d * sizeof(double));
    memcpy(p->y, y, n * sizeof(double));
    for (k = 0; k < d; k++)
        for (i = 0; i < n; i++)
            p->Xt[k * n + i] = X[i * d + k] / p->ls[k];
    for (tries = 0; tries < 12; tries++) {
        for (i = 0; i < n; i++) {
            for (j = 0; j < i; j++)
                K[i * n + j] = matern(p, X + i * d, X + j * d);
            K[i * n + i] = p->s2 + p->noise + jit;
        }
        if (chol(K, n) == 0)
            break;
        jit = jit == 0 ? 1e-9 * p->s2 : jit * 10;
    }
    if (tries == 12) {
        axl__post_free(p);
        return AXL_EINVAL;
    }
    /* Kinv = L^-T L^-1 ; alpha = Kinv (y - mean) */
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            p->Kinv[i * n + j] = i == j ? 1.0 : 0.0;
    if (n > 0) {
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)n,
                    (int)n, 1.0, K, (int)n, p->Kinv, (int)n);
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (int)n, (int)n,
                    1.0, K, (int)n, p->Kinv, (int)n);
    }
    for (i = 0; i < n; i++) {
        double s = 0;
        for (j = 0; j < n; j++)
            s += p->Kinv[i * n + j] * (y[j] - p->mean);
        p->alpha[i] = s;
    }
    *out = p;
    return 0;
nomem:
    axl__post_free(p);
    return AXL_ENOMEM;
}

int axl__post_believer(const axl__post *p, size_t m, const double *Xp, axl__post **out)
{
    size_t n = p->n, d = p->d, k;
    double *X = malloc((n + m) * d * sizeof(double)), *y = malloc((n + m) * sizeof(double));
    double theta[AXL_MODEL_MAX_HYPER];
    int rv = AXL_ENOMEM;

    *out = NULL;
    if (X == NULL || y == NULL)
        goto fail;
    memcpy(X, p->X, n * d * sizeof(double));
    memcpy(X + n * d, Xp, m * d * sizeof(double));
    memcpy(y, p->y, n * sizeof(double));
    if ((rv = axl__post_predict(p, m, Xp, y + n, NULL, NULL, NULL)) != 0)
        goto fail;
    for (k = 0; k < d; k++)
        theta[k] = log(p->ls[k]);
    theta[d] = log(p->s2);
    theta[d + 1] = log(p->noise); /* min_noise 0 below: the same noise */
    theta[d + 2] = p->mean;
    rv = axl__post_new(n + m, d, X, y, theta, 0.0, out);
fail:
    free(X);
    free(y);
    return rv;
}

int axl__post_predict(const axl__post *p, size_t m, const double *Xs, double *mu, double *var,
                      double *dmu, double *dvar)
{
    return axl__post_predict_ws(p, m, Xs, mu, var, dmu, dvar, NULL);
}

int axl__post_predict_ws(const axl__post *p, size_t m, const double *Xs, double *mu, double *var,
                         double *dmu, double *dvar, double *ws)
{
    size_t n = p->n, d = p->d, q, i, k;
    int grad = dmu != NULL || dvar != NULL;
    double *Ks, *W = NULL, *G = NULL, xq[AXL_MODEL_MAX_DIMS];

    if (m == 0)
        return 0;
    if (ws != NULL) {
        Ks = ws;
        W = ws + m * n;
        G = ws + 2 * m * n;
    } else {
        Ks = malloc((n ? m * n : 1) * sizeof(double));
        if (var != NULL || grad)
            W = malloc((n ? m * n : 1) * sizeof(double));
        if (grad)
            G = malloc((n ? m * n : 1) * sizeof(double));
        if (!Ks || ((var != NULL || grad) && !W) || (grad && !G)) {
            free(Ks);
            free(W);
            free(G);
            return AXL_ENOMEM;
        }
    }
    /* kernel rows, dimension-major over the scaled inputs: the loops over i vectorize
     * (with the branch-free exp of model_internal.h) */
    for (q = 0; q < m; q++) {
        double *kr = Ks + q * n, *gr = grad ? G + q * n : NULL;
        for (i = 0; i < n; i++)
            kr[i] = 0;
        for (k = 0; k < d; k++) {
            const double *xt = p->Xt + k * n;
            double xk = Xs[q * d + k] / p->ls[k];
            for (i = 0; i < n; i++) {
                double t = xk - xt[i];
                kr[i] += t * t;
            }
        }
        if (gr != NULL) {
            /* dk/dx_k = G (x_k - x_ik) / l_k^2 */
            for (i = 0; i < n; i++) {
                double r2 = kr[i], r = sqrt(r2), e = axl__exp_nonpos(-SQRT5 * r);
                gr[i] = -p->s2 * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e;
                kr[i] = p->s2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
            }
        } else {
            for (i = 0; i < n; i++) {
                double r2 = kr[i], r = sqrt(r2), e = axl__exp_nonpos(-SQRT5 * r);
                kr[i] = p->s2 * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
            }
        }
    }
    if (n > 0 && grad)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0, Ks,
                    (int)n, p->Kinv, (int)n, 0.0, W, (int)n);
    else if (n > 0 && var != NULL) {
        /* rows of Ks L^-T: their squared norms are k K^-1 k' (half the flops of K^-1) */
        memcpy(W, Ks, m * n * sizeof(double));
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)m, (int)n,
                    1.0, p->L, (int)n, W, (int)n);
    }
    for (q = 0; q < m; q++) {
        const double *kr = Ks + q * n, *wr = (var != NULL || grad) ? W + q * n : NULL;
        double s = p->mean, v = p->s2;
        for (i = 0; i < n; i++)
            s += kr[i] * p->alpha[i];
        if (mu)
            mu[q] = s;
        if (var) {
            if (grad)
                for (i = 0; i < n; i++)
                    v -= kr[i] * wr[i];
            else
                for (i = 0; i < n; i++)
                    v -= wr[i] * wr[i];
            var[q] = v > 0 ? v : 0;
        }
        if (!grad)
            continue;
        for (k = 0; k < d; k++)
            xq[k] = Xs[q * d + k] / p->ls[k];
        for (k = 0; k < d; k++) {
            const double *xt = p->Xt + k * n, *gr = G + q * n;
            double gm = 0, gv = 0;
            for (i = 0; i < n; i++) {
                double dk = gr[i] * (xq[k] - xt[i]);
                gm += p->alpha[i] * dk;
                gv += wr[i] * dk;
            }
            if (dmu)
                dmu[q * d + k] = gm / p->ls[k];
            if (dvar)
                dvar[q * d + k] = -2.0 * gv / p->ls[k];
        }
    }
    if (ws == NULL) {
        free(Ks);
        free(W);
        free(G);
    }
    return 0;
}
