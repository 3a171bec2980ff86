/*
 * moo_acq.c - the acquisition of axl_moo_generate and its maximization: log EHVI,
 * LogEI or nothing for the objectives, plus the log probability of feasibility of
 * every constraint, with input gradients; raw scoring, then a projected quasi-Newton
 * ascent from the best raw points.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/moo_acq.h"

/* Doubles of a->pws that m points need: the posteriors' products, then the
 * objectives' means, sds and their gradients. */
static size_t pws_need(const axl__macq *a, size_t m)
{
    size_t nmax = 0, j;
    for (j = 0; j < a->n_out; j++)
        nmax = a->post[j]->n > nmax ? a->post[j]->n : nmax;
    return 3 * m * nmax + 2 * m * a->n_obj * (1 + a->D);
}

int axl__macq_eval(const axl__macq *a, size_t m, const double *U, double *val, double *g,
                   double *ws)
{
    size_t D = a->D, q, k, j;
    double *mu = ws, *var = ws + m, *dmu = ws + 2 * m, *dvar = ws + 2 * m + m * D;
    int rv;

    for (q = 0; q < m; q++)
        val[q] = 0;
    if (g)
        memset(g, 0, m * D * sizeof(double));
    /* per outcome: value terms for objectives are combined after the loop */
    {
        size_t need = pws_need(a, m), no = m * a->n_obj;
        int own = a->pws == NULL || a->pws_len < need;
        double *buf = own ? malloc(need * sizeof(double) + 8) : a->pws;
        double *omu, *osd, *odmu, *odsd, *pred;
        size_t oi = 0;
        if (buf == NULL)
            return AXL_ENOMEM;
        omu = buf;
        osd = omu + no;
        odmu = g ? osd + no : NULL;
        odsd = g ? osd + no + no * D : NULL;
        pred = osd + no + 2 * no * D;
        for (j = 0; j < a->n_out; j++) {
            if ((rv = axl__post_predict_ws(a->post[j], m, U, mu, var, g ? dmu : NULL,
                                           g ? dvar : NULL, pred)) != 0) {
                if (own)
                    free(buf);
                return rv;
            }
            for (q = 0; q < m; q++) {
                double v = var[q] < 1e-12 ? 1e-12 : var[q], sd = sqrt(v);
                int clamped = var[q] < 1e-12;
                if (a->is_obj[j]) {
                    omu[q * a->n_obj + oi] = mu[q];
                    osd[q * a->n_obj + oi] = sd;
                    if (g)
                        for (k = 0; k < D; k++) {
                            odmu[(q * a->n_obj + oi) * D + k] = dmu[q * D + k];
                            odsd[(q * a->n_obj + oi) * D + k] =
                                clamped ? 0 : dvar[q * D + k] / (2 * sd);
                        }
                } else {
                    double gm, gs, lp = axl_log_pof(a->bound[j], mu[q], sd, &gm, &gs);
                    val[q] += lp;
                    if (g)
                        for (k = 0; k < D; k++)
                            g[q * D + k] += gm * dmu[q * D + k] +
                                            (clamped ? 0 : gs * dvar[q * D + k] / (2 * sd));
                }
            }
            if (a->is_obj[j])
                oi++;
        }
        if (a->mode != AXL__MACQ_POF) {
            for (q = 0; q < m; q++) {
                double v, gm[AXL_MOO_MAX_OBJECTIVES], gs[AXL_MOO_MAX_OBJECTIVES];
                const double *qm = omu + q * a->n_obj, *qs = osd + q * a->n_obj;
                if (a->mode == AXL__MACQ_EHVI) {
                    v = axl_log_ehvi(a->nb, a->n_obj, a->lo, a->hi, qm, qs, gm, gs);
                } else {
                    double z = (qm[0] - a->best_f) / qs[0], rho;
                    v = log(qs[0]) + axl_logei_h(z, &rho);
                    gm[0] = rho / qs[0];
                    gs[0] = (1.0 - rho * z) / qs[0];
                }
                val[q] += v;
                if (g)
                    for (oi = 0; oi < a->n_obj; oi++)
                        for (k = 0; k < D; k++)
                            g[q * D + k] += gm[oi] * odmu[(q * a->n_obj + oi) * D + k] +
                                            gs[oi] * odsd[(q * a->n_obj + oi) * D + k];
            }
        }
        if (own)
            free(buf);
    }
    for (q = 0; q < m; q++)
        if (!isfinite(val[q]))
            val[q] = -1e300;
    if (g)
        for (q = 0; q < m * D; q++)
            if (!isfinite(g[q]))
                g[q] = 0;
    return 0;
}

/* One projected BFGS ascent from u (in place); *f its value at the end. */
static int ascend(const axl__macq *a, size_t nc, const double *A, const double *b, int max_iter,
                  double *u, double *f, double *ws)
{
    size_t D = a->D, i, j;
    double *g = ws, *H = g + D, *un = H + D * D, *gn = un + D, *dir = gn + D, *pw = dir + D;
    double *ews = pw + 2 * (nc + 1) * D, fn;
    int it, rv, fixed[AXL_MODEL_MAX_DIMS], nfixed_prev = -1;

    if ((rv = axl__macq_eval(a, 1, u, f, g, ews)) != 0)
        return rv;
    for (it = 0; it < max_iter; it++) {
        int nfixed = 0, ls;
        double t = 1.0, pg = 0, slope = 0;
        for (i = 0; i < D; i++) {
            fixed[i] = (u[i] <= 1e-12 && g[i] < 0) || (u[i] >= 1 - 1e-12 && g[i] > 0);
            nfixed += fixed[i];
            if (!fixed[i])
                pg = fmax(pg, fabs(g[i]));
        }
        if (pg < 1e-9)
            break;
        if (nfixed != nfixed_prev) {
            memset(H, 0, D * D * sizeof(double));
            for (i = 0; i < D; i++)
                H[i * D + i] = 0.1 / pg; /* first step moves at most 0.1 */
            nfixed_prev = nfixed;
        }
        for (i = 0; i < D; i++) {
            double s = 0;
            if (!fixed[i])
                for (j = 0; j < D; j++)
                    if (!fixed[j])
                        s += H[i * D + j] * g[j];
            dir[i] = s;
        }
        for (ls = 0; ls < 20; ls++, t *= 0.5) {
            for (i = 0; i < D; i++)
                un[i] = u[i] + t * dir[i];
            axl__project(D, nc, A, b, un, pw);
            slope = 0;
            for (i = 0; i < D; i++)
                slope += g[i] * (un[i] - u[i]);
            if ((rv = axl__macq_eval(a, 1, un, &fn, gn, ews)) != 0)
                return rv;
            if (fn >= *f + 1e-4 * slope && fn > *f)
                break;
        }
        if (ls == 20)
            break;
        {
            /* BFGS on the maximization: s = step, y = -(gn - g) (gradient of -f) */
            double s[AXL_MODEL_MAX_DIMS], y[AXL_MODEL_MAX_DIMS], sy = 0, Hy[AXL_MODEL_MAX_DIMS],
                                                                 yHy = 0;
            for (i = 0; i < D; i++) {
                s[i] = un[i] - u[i];
                y[i] = -(gn[i] - g[i]);
                sy += s[i] * y[i];
            }
            if (sy > 1e-12) {
                for (i = 0; i < D; i++) {
                    double acc = 0;
                    for (j = 0; j < D; j++)
                        acc += H[i * D + j] * y[j];
                    Hy[i] = acc;
                    yHy += y[i] * acc;
                }
                for (i = 0; i < D; i++)
                    for (j = 0; j < D; j++)
                        H[i * D + j] += ((sy + yHy) * s[i] * s[j]) / (sy * sy) -
                                        (Hy[i] * s[j] + s[i] * Hy[j]) / sy;
            }
        }
        {
            double df = fn - *f;
            memcpy(u, un, D * sizeof(double));
            memcpy(g, gn, D * sizeof(double));
            *f = fn;
            if (df < 1e-9 * (1.0 + fabs(fn)))
                break;
        }
    }
    return 0;
}

typedef struct {
    double v;
    size_t i;
} vi;
static int cmp_vi_desc(const void *x, const void *y)
{
    double a = ((const vi *)x)->v, b = ((const vi *)y)->v;
    return (a < b) - (a > b);
}

int axl__macq_optimize(const axl__macq *a0, size_t nc, const double *A, const double *b,
                       const double *Uraw, size_t nraw, int n_restarts, int max_iter, double *Uout,
                       double *vout, size_t *nout)
{
    size_t D = a0->D, i, r, chunk = 256, nr;
    axl__macq acq = *a0, *a = &acq;
    double *vals = malloc(nraw * sizeof(double)), *ws;
    double *proj = malloc((2 * (nc + 1) * D + 1) * sizeof(double));
    vi *ord = malloc(nraw * sizeof(vi));
    size_t wsz = 4 * chunk * D + 2 * chunk + D * D + 8 * D + 2 * (nc + 1) * D + 16;
    int rv = AXL_ENOMEM;

    ws = malloc(wsz * sizeof(double));
    /* one scratch for every evaluation (a fresh block per call would be mapped and
     * faulted in again and again) */
    acq.pws_len = pws_need(a, chunk);
    acq.pws = malloc(acq.pws_len * sizeof(double) + 8);
    *nout = 0;
    if (!vals || !ws || !ord || !proj || !acq.pws)
        goto fail;
    for (i = 0; i < nraw; i += chunk) {
        size_t m = nraw - i < chunk ? nraw - i : chunk;
        if ((rv = axl__macq_eval(a, m, Uraw + i * D, vals + i, NULL, ws)) != 0)
            goto fail;
    }
    for (i = 0; i < nraw; i++) {
        ord[i].v = vals[i];
        ord[i].i = i;
    }
    qsort(ord, nraw, sizeof(vi), cmp_vi_desc);
    nr = (size_t)n_restarts < nraw ? (size_t)n_restarts : nraw;
    for (r = 0; r < nr; r++) {
        double *u = Uout + r * D;
        memcpy(u, Uraw + ord[r].i * D, D * sizeof(double));
        axl__project(D, nc, A, b, u, proj);
        if ((rv = ascend(a, nc, A, b, max_iter, u, vout + r, ws)) != 0)
            goto fail;
    }
    *nout = nr;
    rv = 0;
fail:
    free(vals);
    free(ws);
    free(ord);
    free(proj);
    free(acq.pws);
    return rv;
}
