/*
 * logei.c - LogEI of a fitted GP (value and gradient), stable where EI underflows.
 */
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_erf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/gp_internal.h"

#define SQRT2 1.4142135623730951

/* ----------------------------------------------------------------- LogEI */

#define INV_SQRT2PI 0.3989422804014327
#define LOG_SQRT2PI 0.9189385332046728

static double norm_cdf(double z)
{
    return 0.5 * erfc(-z / SQRT2);
}

double axl_logei_h(double z, double *dz)
{
    /* h(z) = phi(z) + z Phi(z). For z > -1 the direct form is accurate. Below, with
     * t = -z > 0 and hazard(t) = phi(t)/Q(t) (GSL, stable in the tail):
     *   h(z) = phi(t) (1 - t/hazard(t)),  log h = log phi(t) + log1p(-t/hazard(t))
     * which is Ament et al.'s erfcx/log1mexp form, since t/hazard(t) =
     * t erfcx(t/sqrt2) sqrt(pi/2). Past t = 1e6, 1 - t/hazard = 1/t^2 (1 + O(t^-2)). */
    if (z > -1.0) {
        double phi = INV_SQRT2PI * exp(-0.5 * z * z), Phi = norm_cdf(z);
        double h = phi + z * Phi;
        if (dz)
            *dz = Phi / h;
        return log(h);
    } else {
        double t = -z, logphi = -0.5 * t * t - LOG_SQRT2PI, r, om;
        gsl_sf_result hz;
        if (t < 1e6 && gsl_sf_hazard_e(t, &hz) == GSL_SUCCESS && hz.val > 0) {
            r = t / hz.val; /* = t Q(t)/phi(t), in (0, 1) */
            om = 1.0 - r;
            if (!(om > 0))
                om = 1.0 / (t * t);
        } else {
            r = 1.0;
            om = 1.0 / (t * t);
        }
        if (dz)
            *dz = (r / t) / om; /* Phi(z)/h(z) = (Q(t)/phi(t)) / (1 - r) */
        return logphi + log(om);
    }
}

size_t axl__gp_logei_ws_size(const axl_gp *gp, size_t m, int with_grad)
{
    return with_grad ? m * (4 * gp->n + gp->d) : 2 * m * gp->n;
}

int axl__gp_logei_ws(const axl_gp *gp, double best_f, size_t m, const double *Xs, double *val,
                     double *grad, double *ws)
{
    size_t n = gp->n, d = gp->d, p, i, k;
    double *Ks, *W, *G = NULL, *C = NULL, *CX = NULL;
    double il2[AXL_MODEL_MAX_DIMS];

    if (m == 0)
        return 0;
    for (k = 0; k < d; k++)
        il2[k] = 1.0 / (gp->ls[k] * gp->ls[k]);
    if (n == 0) {
        /* prior GP: constant mean and variance, zero gradient */
        double s = sqrt(gp->s2);
        for (p = 0; p < m; p++) {
            val[p] = log(s) + axl_logei_h((gp->mean - best_f) / s, NULL);
            if (grad)
                memset(grad + p * d, 0, d * sizeof(double));
        }
        return 0;
    }
    Ks = ws;
    W = ws + m * n;
    if (grad) {
        G = ws + 2 * m * n;
        C = ws + 3 * m * n;
        CX = ws + 4 * m * n;
    }
    axl__gp_cross_kernel(gp, m, Xs, Ks, G);
    /* the posterior means of all m points in one product */
    for (p = 0; p < m; p++)
        val[p] = gp->mean;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)n, 1.0, Ks, (int)n, gp->alpha, 1, 1.0,
                val, 1);
    /* one triangular solve serves all m points: W = Ks L^-T, q = |row|^2. With the
     * gradient the rows K^-1 k = L^-T (L^-1 k) are needed: a second solve (the qs are
     * kept in CX meanwhile, which is free until after the loop) */
    memcpy(W, Ks, m * n * sizeof(double));
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)m, (int)n,
                1.0, gp->L, (int)n, W, (int)n);
    if (grad) {
        for (p = 0; p < m; p++)
            CX[p] = cblas_ddot((int)n, W + p * n, 1, W + p * n, 1);
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, (int)m,
                    (int)n, 1.0, gp->L, (int)n, W, (int)n);
    }
    for (p = 0; p < m; p++) {
        const double *w = W + p * n;
        double mu = val[p], q, var, sd, z, rho, lh;
        int clamped = 0;
        q = grad ? CX[p] : cblas_ddot((int)n, w, 1, w, 1);
        var = gp->s2 - q;
        /* BoTorch clamps the variance at 1e-12 too; below that the posterior is
         * numerically a point mass and the gradient of sigma is dropped */
        if (var < 1e-12) {
            var = 1e-12;
            clamped = 1;
        }
        sd = sqrt(var);
        z = (mu - best_f) / sd;
        lh = axl_logei_h(z, &rho);
        val[p] = log(sd) + lh;
        if (grad) {
            /* dval = rho/sd dmu + (1 - rho z)/sd dsd, dsd = dvar/(2 sd),
             * dmu_j = sum_i alpha_i G_i dx_ij / l_j^2, dvar_j = -2 sum_i w_i G_i dx_ij / l_j^2 */
            double cm = rho / sd, cv = clamped ? 0.0 : -(1.0 - rho * z) / var;
            double *c = C + p * n, sc = 0;
            const double *g = G + p * n;
            for (i = 0; i < n; i++)
                c[i] = g[i] * (cm * gp->alpha[i] + cv * w[i]);
            for (i = 0; i < n; i++)
                sc += c[i];
            for (k = 0; k < d; k++)
                grad[p * d + k] = sc * Xs[p * d + k];
        }
    }
    if (grad) {
        /* sum_i c_pi (x_pj - x_ij) = x_pj sum_i c_pi - (C X)_pj */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)d, (int)n, 1.0, C,
                    (int)n, gp->X, (int)d, 0.0, CX, (int)d);
        for (p = 0; p < m; p++)
            for (k = 0; k < d; k++)
                grad[p * d + k] = (grad[p * d + k] - CX[p * d + k]) * il2[k];
    }
    return 0;
}

int axl__gp_logei_ub(const axl_gp *gp, double best_f, size_t m, const double *Xs, size_t nb,
                     double *ub, double *ws)
{
    size_t n = gp->n, p;
    double *Ks = ws, *W = ws + m * n;

    if (m == 0)
        return 0;
    if (nb > n)
        nb = n;
    if (n == 0 || nb == 0)
        return axl__gp_logei_ws(gp, best_f, m, Xs, ub, NULL, ws);
    axl__gp_cross_kernel(gp, m, Xs, Ks, NULL);
    for (p = 0; p < m; p++)
        ub[p] = gp->mean;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)n, 1.0, Ks, (int)n, gp->alpha, 1, 1.0, ub,
                1);
    /* the first nb coordinates of L^-1 k need only the leading nb x nb block of L */
    for (p = 0; p < m; p++)
        memcpy(W + p * nb, Ks + p * n, nb * sizeof(double));
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)m, (int)nb,
                1.0, gp->L, (int)n, W, (int)nb);
    for (p = 0; p < m; p++) {
        const double *w = W + p * nb;
        double var = gp->s2 - cblas_ddot((int)nb, w, 1, w, 1), sd;
        if (var < 1e-12)
            var = 1e-12;
        sd = sqrt(var);
        ub[p] = log(sd) + axl_logei_h((ub[p] - best_f) / sd, NULL);
    }
    return 0;
}

int axl_gp_logei(const axl_gp *gp, double best_f, size_t m, const double *Xs, double *val,
                 double *grad)
{
    double *ws;
    int rv;
    if (m == 0)
        return 0;
    ws = malloc((axl__gp_logei_ws_size(gp, m, grad != NULL) + 1) * sizeof(double));
    if (ws == NULL)
        return AXL_ENOMEM;
    rv = axl__gp_logei_ws(gp, best_f, m, Xs, val, grad, ws);
    free(ws);
    return rv;
}
