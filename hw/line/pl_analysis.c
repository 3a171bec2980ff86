/*
 * pl_analysis.c - the PL peak fit: a Gaussian in photon energy, bounded like PASCAL's
 * scipy curve_fit, solved with GSL's trust-region Levenberg-Marquardt.
 *
 * Bounds by reparametrisation: each parameter p = lo + (hi - lo) / (1 + exp(-z)) and the
 * solver works on z, unconstrained. Smooth, so the Jacobian stays analytic; a parameter
 * that wants to sit on its bound drives z far out and the step goes to zero, which the
 * driver reports as convergence or as too many iterations - both give a usable bounded
 * optimum, exactly what a box-constrained solver would return.
 */
#include "hw/line/axl_pl.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NPAR 3
#define MIN_POINTS 8

void axl_pl_opts_default(axl_pl_opts *o)
{
    o->wl_min = 650;
    o->wl_max = 1100;
    o->wl_guess = 730;
    o->baseline_max_nm = 640;
    o->min_snr = 5;
    o->max_iter = 200;
}

typedef struct fitdata {
    size_t n;
    const double *e; /* photon energies, eV */
    const double *y; /* counts/s divided by the window maximum: O(1) numbers */
    double lo[NPAR], hi[NPAR];
    /* The Gaussian at the last point f was evaluated at: the solver asks for the Jacobian
     * at accepted points, which it has just evaluated, so df reuses the exp() calls. */
    double *g;
    double gz[NPAR];
    bool g_valid;
} fitdata;

static double sigm(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

static double to_param(const fitdata *d, int k, double z)
{
    return d->lo[k] + (d->hi[k] - d->lo[k]) * sigm(z);
}

static double to_z(const fitdata *d, int k, double p)
{
    double f = (p - d->lo[k]) / (d->hi[k] - d->lo[k]);
    f = fmin(fmax(f, 1e-6), 1 - 1e-6);
    return log(f / (1 - f));
}

static int resid_f(const gsl_vector *z, void *vd, gsl_vector *r)
{
    fitdata *d = vd;
    double a = to_param(d, 0, gsl_vector_get(z, 0));
    double e0 = to_param(d, 1, gsl_vector_get(z, 1));
    double s = to_param(d, 2, gsl_vector_get(z, 2));
    for (size_t i = 0; i < d->n; i++) {
        double x = (d->e[i] - e0) / s;
        d->g[i] = exp(-0.5 * x * x);
        gsl_vector_set(r, i, a * d->g[i] - d->y[i]);
    }
    for (int k = 0; k < NPAR; k++)
        d->gz[k] = gsl_vector_get(z, (size_t)k);
    d->g_valid = true;
    return GSL_SUCCESS;
}

static int resid_df(const gsl_vector *z, void *vd, gsl_matrix *J)
{
    const fitdata *d = vd;
    double dp[NPAR], p[NPAR];
    bool cached = d->g_valid;
    for (int k = 0; k < NPAR; k++) {
        double zk = gsl_vector_get(z, (size_t)k);
        double sg = sigm(zk);
        p[k] = d->lo[k] + (d->hi[k] - d->lo[k]) * sg;
        dp[k] = (d->hi[k] - d->lo[k]) * sg * (1 - sg); /* dp/dz */
        cached = cached && zk == d->gz[k];
    }
    for (size_t i = 0; i < d->n; i++) {
        double x = (d->e[i] - p[1]) / p[2];
        double g = cached ? d->g[i] : exp(-0.5 * x * x);
        gsl_matrix_set(J, i, 0, g * dp[0]);
        gsl_matrix_set(J, i, 1, p[0] * g * x / p[2] * dp[1]);
        gsl_matrix_set(J, i, 2, p[0] * g * x * x / p[2] * dp[2]);
    }
    return GSL_SUCCESS;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the finite cps below max_nm; 0 when there are none. */
static double baseline(const double *wl, const double *cps, size_t n, double max_nm, double *tmp)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(wl[i]) && isfinite(cps[i]) && wl[i] < max_nm)
            tmp[m++] = cps[i];
    if (m == 0)
        return 0;
    qsort(tmp, m, sizeof(double), cmp_double);
    return m % 2 ? tmp[m / 2] : 0.5 * (tmp[m / 2 - 1] + tmp[m / 2]);
}

static void fail_result(axl_pl_result *out)
{
    out->intensity = out->peak_ev = out->peak_nm = out->sigma_ev = out->fwhm_ev = NAN;
}

int axl_pl_fit(const double *wl, const double *cps, size_t n, const axl_pl_opts *opts,
               axl_pl_result *out, axl_errbuf *eb)
{
    axl_pl_opts def;
    int rc = 0;
    double *buf = NULL;
    gsl_multifit_nlinear_workspace *w = NULL;
    if (out == NULL)
        return axl_fail(eb, AXL_EINVAL, "pl fit: NULL result");
    memset(out, 0, sizeof(*out));
    fail_result(out);
    if (opts == NULL) {
        axl_pl_opts_default(&def);
        opts = &def;
    }
    if (n == 0 || wl == NULL || cps == NULL)
        return axl_fail(eb, AXL_EINVAL, "pl fit: empty spectrum");
    if (!(opts->wl_min > 0 && opts->wl_max > opts->wl_min) || opts->max_iter == 0)
        return axl_fail(eb, AXL_EINVAL, "pl fit: window %g-%g nm", opts->wl_min, opts->wl_max);
    if (n > AXL_SPECTRUM_MAX_PIXELS)
        return axl_fail(eb, AXL_ETOOBIG, "pl fit: %zu pixels, at most %d", n,
                        AXL_SPECTRUM_MAX_PIXELS);

    buf = malloc(4 * n * sizeof(double));
    if (buf == NULL)
        return axl_fail(eb, AXL_ENOMEM, "pl fit: out of memory");
    /* GSL's errors are return codes here only if the process turned its aborting handler
     * off (gsl_set_error_handler_off, once at start-up: axl_pl.h). Not toggled here: the
     * handler is process-wide and the engine's model threads use GSL concurrently. */
    double *e = buf, *y = buf + n, *tmp = buf + 2 * n, *gbuf = buf + 3 * n;

    out->baseline =
        opts->baseline_max_nm > 0 ? baseline(wl, cps, n, opts->baseline_max_nm, tmp) : 0;
    size_t m = 0;
    double ymax = -INFINITY, e_at_max = NAN, emin = INFINITY, emax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(wl[i]) || !isfinite(cps[i]) || wl[i] <= 0 || wl[i] < opts->wl_min ||
            wl[i] > opts->wl_max)
            continue;
        e[m] = 1240.0 / wl[i];
        y[m] = cps[i] - out->baseline;
        if (y[m] > ymax) {
            ymax = y[m];
            e_at_max = e[m];
        }
        emin = fmin(emin, e[m]);
        emax = fmax(emax, e[m]);
        m++;
    }
    out->npoints = m;
    if (m < MIN_POINTS) {
        rc = axl_fail(eb, AXL_EINVAL, "pl fit: %zu usable pixels in %g-%g nm, need %d", m,
                      opts->wl_min, opts->wl_max, MIN_POINTS);
        goto done;
    }
    if (!(ymax > 0)) {
        rc = axl_fail(eb, AXL_ENOENT, "pl fit: no signal above the dark level in %g-%g nm",
                      opts->wl_min, opts->wl_max);
        goto done;
    }
    for (size_t i = 0; i < m; i++)
        y[i] /= ymax;

    fitdata d = {.n = m, .e = e, .y = y, .g = gbuf, .g_valid = false};
    double eguess = opts->wl_guess > 0 ? 1240.0 / opts->wl_guess : e_at_max;
    d.lo[0] = 0;
    d.hi[0] = 1.2;
    d.lo[1] = fmax(eguess - 0.2, emin);
    d.hi[1] = fmin(eguess + 0.2, emax);
    d.lo[2] = 0.02;
    d.hi[2] = 0.2;
    if (!(d.hi[1] > d.lo[1])) {
        rc = axl_fail(eb, AXL_EINVAL, "pl fit: guess %g eV is outside the window's energies",
                      eguess);
        goto done;
    }
    double p0[NPAR] = {1.0, fmin(fmax(eguess, d.lo[1]), d.hi[1]), 0.025};
    gsl_vector *z = gsl_vector_alloc(NPAR);
    if (z == NULL) {
        rc = axl_fail(eb, AXL_ENOMEM, "pl fit: out of memory");
        goto done;
    }
    for (int k = 0; k < NPAR; k++)
        gsl_vector_set(z, (size_t)k, to_z(&d, k, p0[k]));

    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    fp.trs = gsl_multifit_nlinear_trs_lm;
    /* Normal equations (3x3) instead of a QR of the n x 3 Jacobian: the QR solver forms an
     * n x n orthogonal factor, ~100x slower at a thousand pixels. */
    fp.solver = gsl_multifit_nlinear_solver_cholesky;
    w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, m, NPAR);
    if (w == NULL) {
        gsl_vector_free(z);
        rc = axl_fail(eb, AXL_ENOMEM, "pl fit: out of memory");
        goto done;
    }
    gsl_multifit_nlinear_fdf fdf = {
        .f = resid_f, .df = resid_df, .fvv = NULL, .n = m, .p = NPAR, .params = &d};
    int st = gsl_multifit_nlinear_init(z, &fdf, w);
    gsl_vector_free(z);
    int info = 0;
    if (st == GSL_SUCCESS)
        st = gsl_multifit_nlinear_driver(opts->max_iter, 1e-10, 1e-10, 0.0, NULL, NULL, &info, w);
    out->iterations = (unsigned)gsl_multifit_nlinear_niter(w);
    /* Hitting the iteration limit or making no more progress still leaves the best point
     * found; anything else is a failure. */
    if (st != GSL_SUCCESS && st != GSL_EMAXITER && st != GSL_ENOPROG) {
        rc = axl_fail(eb, AXL_ENUMERIC, "pl fit: solver failed: %s", gsl_strerror(st));
        goto done;
    }
    const gsl_vector *zs = gsl_multifit_nlinear_position(w);
    double a = to_param(&d, 0, gsl_vector_get(zs, 0)) * ymax;
    double e0 = to_param(&d, 1, gsl_vector_get(zs, 1));
    double s = to_param(&d, 2, gsl_vector_get(zs, 2));
    const gsl_vector *r = gsl_multifit_nlinear_residual(w);
    double ss = 0;
    for (size_t i = 0; i < m; i++)
        ss += gsl_vector_get(r, i) * gsl_vector_get(r, i);
    double noise = sqrt(ss / (double)(m - NPAR)) * ymax;
    if (!isfinite(a) || !isfinite(e0) || !isfinite(s) || !isfinite(noise)) {
        rc = axl_fail(eb, AXL_ENUMERIC, "pl fit: non-finite result");
        goto done;
    }
    out->noise = noise;
    if (!(a > opts->min_snr * noise)) {
        rc = axl_fail(eb, AXL_ENOENT,
                      "pl fit: no PL peak: amplitude %.3g counts/s is below %g x noise %.3g", a,
                      opts->min_snr, noise);
        goto done;
    }
    out->intensity = a;
    out->peak_ev = e0;
    out->peak_nm = 1240.0 / e0;
    out->sigma_ev = s;
    out->fwhm_ev = 2.355 * s;
done:
    gsl_multifit_nlinear_free(w);
    free(buf);
    return rc;
}

int axl_pl_analyze(const axl_spectrum *s, const axl_pl_opts *o, axl_pl_result *out, axl_errbuf *eb)
{
    if (out == NULL)
        return axl_fail(eb, AXL_EINVAL, "pl: NULL result");
    memset(out, 0, sizeof(*out));
    fail_result(out);
    if (s == NULL || s->npix == 0)
        return axl_fail(eb, AXL_EINVAL, "pl: empty spectrum");
    double *cps = malloc(s->npix * sizeof(double));
    if (cps == NULL)
        return axl_fail(eb, AXL_ENOMEM, "pl: out of memory");
    size_t dw = 0;
    int rc = axl_spectrum_cps(s, cps, &dw, eb);
    if (rc == 0)
        rc = axl_pl_fit(s->wl, cps, s->npix, o, out, eb);
    out->dwell_index = dw;
    out->dwell_ms = rc == 0 || rc == AXL_ENOENT ? s->dwell_ms[dw] : NAN;
    free(cps);
    return rc;
}

int axl_pl_analyze_file(const char *path, const axl_pl_opts *o, axl_pl_result *out, axl_errbuf *eb)
{
    axl_spectrum s;
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        fail_result(out);
    }
    int rc = axl_spectrum_read_csv(path, &s, eb);
    if (rc)
        return rc;
    rc = axl_pl_analyze(&s, o, out, eb);
    axl_spectrum_free(&s);
    return rc;
}
