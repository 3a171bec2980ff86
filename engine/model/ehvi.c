/*
 * ehvi.c - expected hypervolume improvement and probability of feasibility, in log
 * space, for independent Gaussian outcomes.
 *
 * With the non-dominated region split into disjoint boxes [lo_k, hi_k], the
 * hypervolume improvement of y is sum_k prod_j (min(y_j, hi_kj) - lo_kj)_+; with
 * independent coordinates its expectation is exact and closed form:
 *   E[(min(Y, hi) - lo)_+] = psi(lo) - psi(hi),   psi(a) = E[(Y - a)_+] = sd h((mu-a)/sd),
 * h(z) = phi(z) + z Phi(z) (Yang et al. 2019's EHVI via box decomposition). Every term
 * is kept as a logarithm (log h from axl_logei_h, log1mexp for the difference) and the
 * boxes are combined with a log-sum-exp, so that LogEHVI has useful values and
 * gradients far from the front, where EHVI itself underflows (Ament et al. 2023).
 */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_erf.h>

#include "engine/model/axl_moo.h"

#define INV_SQRT2PI 0.3989422804014327
#define LOG_2 0.6931471805599453

/* log(1 - exp(x)) for x < 0 (Maechler 2012). */
static double log1mexp(double x)
{
    return x > -LOG_2 ? log(-expm1(x)) : log1p(-exp(x));
}

/* log Phi(z) and d/dz log Phi(z) = phi(z)/Phi(z), stable for very negative z. */
static double log_ndtr(double z, double *dz)
{
    if (z > -5.0) {
        double Phi = 0.5 * erfc(-z / M_SQRT2);
        if (dz)
            *dz = INV_SQRT2PI * exp(-0.5 * z * z) / Phi;
        return log(Phi);
    } else {
        gsl_sf_result r;
        /* Phi(z) = Q(-z); hazard(t) = phi(t)/Q(t) */
        if (dz) {
            if (gsl_sf_hazard_e(-z, &r) == GSL_SUCCESS)
                *dz = r.val;
            else
                *dz = -z;
        }
        if (gsl_sf_log_erfc_e(-z / M_SQRT2, &r) == GSL_SUCCESS)
            return r.val - LOG_2;
        return -0.5 * z * z - log(-z) - 0.5 * log(2 * M_PI);
    }
}

double axl_log_pof(double bound, double mu, double sd, double *dmu, double *dsd)
{
    double z = (bound - mu) / sd, r, v = log_ndtr(z, &r);
    if (dmu)
        *dmu = -r / sd;
    if (dsd)
        *dsd = -r * z / sd;
    return v;
}

/*
 * log(psi(lo) - psi(hi)) for one coordinate and its derivatives in mu and sd.
 * psi'(a)/d mu = Phi(z_a), d psi(a)/d sd = phi(z_a); with rho = Phi/h (axl_logei_h)
 * these are psi rho / sd and psi (1 - z rho) / sd.
 */
static double log_term(double lo, double hi, double mu, double sd, double *dmu, double *dsd)
{
    double zl = (mu - lo) / sd, rl, ll = log(sd) + axl_logei_h(zl, &rl);
    if (isinf(hi)) {
        *dmu = rl / sd;
        *dsd = (1.0 - zl * rl) / sd;
        return ll;
    }
    if ((hi - lo) < 1e-6 * sd) {
        /* a thin slab: psi(lo) - psi(hi) = (hi - lo) Phi(z_mid) to O(width^2) */
        double zm = (mu - 0.5 * (lo + hi)) / sd, r, v = log(hi - lo) + log_ndtr(zm, &r);
        *dmu = r / sd;
        *dsd = -r * zm / sd;
        return v;
    } else {
        double zh = (mu - hi) / sd, rh, lh = log(sd) + axl_logei_h(zh, &rh);
        double dlt = lh - ll, e = exp(dlt), den = 1.0 - e;
        if (!(dlt < 0)) /* rounding: psi(hi) >= psi(lo) only when the slab is ~empty */
            dlt = -1e-300, e = 1.0, den = 1e-300;
        *dmu = (rl - e * rh) / (sd * den);
        *dsd = ((1.0 - zl * rl) - e * (1.0 - zh * rh)) / (sd * den);
        return ll + log1mexp(dlt);
    }
}

double axl_log_ehvi(size_t nb, size_t m, const double *lo, const double *hi, const double *mu,
                    const double *sd, double *dmu, double *dsd)
{
    size_t k, j;
    double mx = -INFINITY, sum = 0;
    double *lv, *gm = NULL, *gs = NULL;
    int want = dmu != NULL || dsd != NULL;

    if (nb == 0) {
        for (j = 0; j < m && want; j++) {
            if (dmu)
                dmu[j] = 0;
            if (dsd)
                dsd[j] = 0;
        }
        return -INFINITY;
    }
    lv = malloc(nb * sizeof(double));
    if (want) {
        gm = malloc(nb * m * sizeof(double));
        gs = malloc(nb * m * sizeof(double));
    }
    if (lv == NULL || (want && (gm == NULL || gs == NULL))) {
        free(lv);
        free(gm);
        free(gs);
        return NAN;
    }
    for (k = 0; k < nb; k++) {
        double v = 0, a, b;
        for (j = 0; j < m; j++) {
            v += log_term(lo[k * m + j], hi[k * m + j], mu[j], sd[j], &a, &b);
            if (want) {
                gm[k * m + j] = a;
                gs[k * m + j] = b;
            }
        }
        lv[k] = v;
        mx = fmax(mx, v);
    }
    if (!isfinite(mx)) {
        free(lv);
        free(gm);
        free(gs);
        for (j = 0; j < m && want; j++) {
            if (dmu)
                dmu[j] = 0;
            if (dsd)
                dsd[j] = 0;
        }
        return mx;
    }
    for (k = 0; k < nb; k++)
        sum += exp(lv[k] - mx);
    if (want) {
        /* d log sum_k exp(l_k) = sum_k w_k d l_k, w_k = exp(l_k - lse) */
        for (j = 0; j < m; j++) {
            double sm = 0, ss = 0;
            for (k = 0; k < nb; k++) {
                double w = exp(lv[k] - mx) / sum;
                sm += w * gm[k * m + j];
                ss += w * gs[k * m + j];
            }
            if (dmu)
                dmu[j] = sm;
            if (dsd)
                dsd[j] = ss;
        }
    }
    free(lv);
    free(gm);
    free(gs);
    return mx + log(sum);
}
