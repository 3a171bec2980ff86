/*
 * gp_fit.c - MAP hyper-parameters of the GP (gp.c) by GSL's BFGS with analytic
 * gradients: warm starts, cold multi-starts with screening.
 */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/gp_internal.h"

#define SQRT2 1.4142135623730951
#define SCREEN_MIN_N 24

/* ---------------------------------------------------------- optimizer */

typedef struct fit_ctx {
    axl_gp *gp;
    size_t np;                    /* optimized coordinates */
    int map[AXL_MODEL_MAX_HYPER]; /* optimizer coordinate -> theta index */
    double base[AXL_MODEL_MAX_HYPER];
    double last_x[AXL_MODEL_MAX_HYPER], last_f, last_g[AXL_MODEL_MAX_HYPER];
    int have_last, have_grad, failed;
} fit_ctx;

static void ctx_theta(const fit_ctx *c, const gsl_vector *x, double *theta)
{
    size_t i;
    memcpy(theta, c->base, AXL_GP_N_HYPER(c->gp->d) * sizeof(double));
    for (i = 0; i < c->np; i++)
        theta[c->map[i]] = gsl_vector_get(x, i);
}

/* Pulls back toward the base: the gradient reported at an unusable point. */
static void ctx_pullback(fit_ctx *c, const double *theta, double *g)
{
    size_t i;
    for (i = 0; i < AXL_GP_N_HYPER(c->gp->d); i++)
        g[i] = -(theta[i] - c->base[i]);
}

/*
 * GSL calls f, df and fdf at the same point in turn; one evaluation serves all. The
 * line search asks for the value alone at points it may reject, so the gradient
 * (K^-1 and the trace pass, the larger half of the cost) is computed only when asked
 * for, from the factorization the value left behind.
 */
static void ctx_eval(fit_ctx *c, const gsl_vector *x, int want_grad)
{
    double theta[AXL_MODEL_MAX_HYPER], g[AXL_MODEL_MAX_HYPER], v;
    size_t i;
    if (c->have_last) {
        for (i = 0; i < c->np; i++)
            if (gsl_vector_get(x, i) != c->last_x[i])
                break;
        if (i == c->np) {
            if (c->have_grad || !want_grad)
                return;
            /* the value was computed here, the last factorization is this point's */
            if (axl__gp_map_grad_here(c->gp, g) != 0) {
                c->failed++;
                c->last_f = 1e10;
                ctx_pullback(c, c->gp->theta, g);
            }
            for (i = 0; i < c->np; i++)
                c->last_g[i] = -g[c->map[i]];
            c->have_grad = 1;
            return;
        }
    }
    ctx_theta(c, x, theta);
    c->have_grad = want_grad;
    if (axl__gp_map_eval(c->gp, theta, &v, want_grad ? g : NULL) != 0) {
        /* unusable point: a large value and a gradient pulling back toward the
         * base keeps the line search away without aborting the fit */
        c->failed++;
        v = -1e10;
        ctx_pullback(c, theta, g);
        c->have_grad = 1;
    }
    for (i = 0; i < c->np; i++) {
        c->last_x[i] = gsl_vector_get(x, i);
        if (c->have_grad)
            c->last_g[i] = -g[c->map[i]];
    }
    c->last_f = -v;
    c->have_last = 1;
}

static double f_cb(const gsl_vector *x, void *p)
{
    fit_ctx *c = p;
    ctx_eval(c, x, 0);
    return c->last_f;
}

static void df_cb(const gsl_vector *x, void *p, gsl_vector *g)
{
    fit_ctx *c = p;
    size_t i;
    ctx_eval(c, x, 1);
    for (i = 0; i < c->np; i++)
        gsl_vector_set(g, i, c->last_g[i]);
}

static void fdf_cb(const gsl_vector *x, void *p, double *f, gsl_vector *g)
{
    fit_ctx *c = p;
    size_t i;
    ctx_eval(c, x, 1);
    *f = c->last_f;
    for (i = 0; i < c->np; i++)
        gsl_vector_set(g, i, c->last_g[i]);
}

/* One BFGS run that can pause between iterations (cold multi-start screening). */
typedef struct bfgs_st {
    gsl_multimin_function_fdf fn; /* the minimizer keeps a pointer to it */
    gsl_multimin_fdfminimizer *m;
    gsl_vector *x;
    double base[AXL_MODEL_MAX_HYPER]; /* its start: the coordinates not optimized */
    double prev;
    int it, stall, done;
} bfgs_st;

static void bfgs_close(bfgs_st *b)
{
    gsl_multimin_fdfminimizer_free(b->m);
    gsl_vector_free(b->x);
    b->m = NULL;
    b->x = NULL;
}

/* Starts a run from theta; the context then belongs to it. */
static int bfgs_open(fit_ctx *c, const double *theta, bfgs_st *b)
{
    size_t i;

    memset(b, 0, sizeof(*b));
    b->fn.n = c->np;
    b->fn.f = f_cb;
    b->fn.df = df_cb;
    b->fn.fdf = fdf_cb;
    b->fn.params = c;
    memcpy(b->base, theta, AXL_GP_N_HYPER(c->gp->d) * sizeof(double));
    memcpy(c->base, theta, AXL_GP_N_HYPER(c->gp->d) * sizeof(double));
    c->have_last = 0;
    c->failed = 0;
    b->x = gsl_vector_alloc(c->np);
    b->m = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, c->np);
    if (b->x == NULL || b->m == NULL) {
        bfgs_close(b);
        return AXL_ENOMEM;
    }
    for (i = 0; i < c->np; i++)
        gsl_vector_set(b->x, i, theta[c->map[i]]);
    gsl_multimin_fdfminimizer_set(b->m, &b->fn, b->x, 0.1, 0.1);
    b->prev = b->m->f;
    return 0;
}

/* Continues run b (which may have paused while others used the context) up to
 * max_iter iterations in all, or until it converges. */
static void bfgs_iterate(fit_ctx *c, bfgs_st *b, int max_iter)
{
    int status;

    /* the context's cached point and factorization may be another run's */
    memcpy(c->base, b->base, AXL_GP_N_HYPER(c->gp->d) * sizeof(double));
    c->have_last = 0;
    for (; !b->done && b->it < max_iter; b->it++) {
        status = gsl_multimin_fdfminimizer_iterate(b->m);
        if (status != GSL_SUCCESS) {
            b->done = 1; /* GSL_ENOPROG: the line search cannot improve; m->x is the best */
            break;
        }
        /* the objective is O(n); stop on a tiny gradient or when the objective no
         * longer moves (its curvature is flat in some lengthscales) */
        if (gsl_multimin_test_gradient(b->m->gradient, 1e-3) == GSL_SUCCESS) {
            b->done = 1;
            break;
        }
        if (fabs(b->prev - b->m->f) < 1e-5 + 1e-8 * fabs(b->m->f)) {
            if (++b->stall >= 2) {
                b->done = 1;
                break;
            }
        } else {
            b->stall = 0;
        }
        b->prev = b->m->f;
    }
}

/* Where run b stands: theta and the objective (higher is better). */
static double bfgs_result(fit_ctx *c, const bfgs_st *b, double *theta)
{
    memcpy(c->base, b->base, AXL_GP_N_HYPER(c->gp->d) * sizeof(double));
    ctx_theta(c, b->m->x, theta);
    return -b->m->f;
}

/* One BFGS run from theta (in/out); *best = objective reached (higher is better). */
static int bfgs_run(fit_ctx *c, double *theta, int max_iter, double *best)
{
    bfgs_st b;
    int rv;

    if ((rv = bfgs_open(c, theta, &b)) != 0)
        return rv;
    bfgs_iterate(c, &b, max_iter);
    *best = bfgs_result(c, &b, theta);
    bfgs_close(&b);
    return 0;
}

/*
 * Cold multi-start with screening: every start runs `screen` iterations, then only
 * the one with the best objective continues up to max_iter. The starts converge to
 * the same optimum in most fits and BFGS spends most of its iterations creeping
 * along flat directions near it, so finishing one of them costs a third of
 * finishing all three. theta: ns starts (H each) in, *best_theta out.
 */
static int bfgs_screened(fit_ctx *c, size_t ns, const double *thetas, int screen, int max_iter,
                         double *best_theta, double *bestv)
{
    bfgs_st b[8];
    double th[AXL_MODEL_MAX_HYPER], v;
    size_t H = AXL_GP_N_HYPER(c->gp->d), s, win = 0;
    double winv = -INFINITY;
    int rv = 0;

    memset(b, 0, sizeof(b));
    for (s = 0; s < ns; s++) {
        if ((rv = bfgs_open(c, thetas + s * H, &b[s])) != 0)
            goto done;
        bfgs_iterate(c, &b[s], screen);
        v = bfgs_result(c, &b[s], th);
        if (isfinite(v) && v > -1e9 && v > winv) {
            winv = v;
            win = s;
        }
    }
    bfgs_iterate(c, &b[win], max_iter);
    for (s = 0; s < ns; s++) {
        v = bfgs_result(c, &b[s], th);
        if (isfinite(v) && v > *bestv && v > -1e9) {
            *bestv = v;
            memcpy(best_theta, th, H * sizeof(double));
        }
    }
done:
    for (s = 0; s < ns; s++)
        bfgs_close(&b[s]);
    return rv;
}

static void default_theta(const axl_gp *gp, double *theta)
{
    size_t k, d = gp->d;
    double l0;
    if (gp->cfg.prior == AXL_PRIOR_LOGNORMAL)
        l0 = SQRT2 + 0.5 * log((double)d) - 3.0; /* log of the LogNormal mode */
    else
        l0 = log(2.0 / 6.0); /* Gamma(3,6) mode */
    for (k = 0; k < d; k++)
        theta[k] = l0;
    theta[d] = 0.0;
    theta[d + 1] = log(1e-3);
    theta[d + 2] = 0.0;
}

int axl_gp_fit(size_t n, size_t d, const double *X, const double *y, const double *noise_var,
               const axl_gp_config *cfg, const double *warm, int fixed_theta, axl_gp **out,
               axl_gp_info *info, axl_errbuf *eb)
{
    axl_gp *gp = NULL;
    fit_ctx ctx;
    double theta[AXL_MODEL_MAX_HYPER], best_theta[AXL_MODEL_MAX_HYPER], bestv = -INFINITY, v;
    size_t H = AXL_GP_N_HYPER(d), i;
    int rv, s, n_starts, used = 0;
    uint64_t rng = 0x243f6a8885a308d3ULL ^ (uint64_t)n;

    *out = NULL;
    if (d == 0 || d > AXL_MODEL_MAX_DIMS || cfg == NULL || (n > 0 && (X == NULL || y == NULL)))
        return axl__fail(eb, AXL_EINVAL, "gp_fit: bad arguments (n=%zu, d=%zu)", n, d);
    if (fixed_theta && warm == NULL)
        return axl__fail(eb, AXL_EINVAL, "gp_fit: fixed_theta needs theta");
    if ((gp = axl__gp_alloc(n, d, !fixed_theta)) == NULL)
        return axl__fail(eb, AXL_ENOMEM, "gp_fit: out of memory (n=%zu)", n);
    if ((rv = axl__gp_load(gp, X, y, noise_var, cfg)) != 0) {
        axl__fail(eb, rv, "gp_fit: non-finite outcome or negative noise");
        goto fail;
    }
    if (warm != NULL)
        for (i = 0; i < H; i++)
            if (!isfinite(warm[i])) {
                rv = axl__fail(eb, AXL_EINVAL, "gp_fit: non-finite warm theta[%zu]", i);
                goto fail;
            }

    if (!fixed_theta && n > 0) {
        memset(&ctx, 0, sizeof(ctx));
        ctx.gp = gp;
        for (i = 0; i < H; i++)
            if (i != d + 1 || gp->infer_noise)
                ctx.map[ctx.np++] = (int)i;
        /* Starts: the warm start alone when we have one (the optimum moves little
         * when one observation is added), else the prior's mode plus perturbed
         * copies; the best MAP value wins. */
        n_starts = warm != NULL ? 1 : (cfg->n_starts > 0 ? cfg->n_starts : 1);
        /* a cold fit on many points costs seconds per start; in a campaign it
         * happens once (then warm starts follow), so keep it to one start */
        if (warm == NULL && n > 150)
            n_starts = 1;
        /* Screening from SCREEN_MIN_N points: below, a cold fit costs a few ms with
         * every start run to the end, and few points leave the MAP landscape most
         * multimodal. (A campaign's cold fit is at n_init = max(5, 2d) points; larger
         * cold fits come with imported data or a resume without the model state.) */
        if (warm == NULL && n_starts > 1 && n_starts <= 8 && cfg->screen_iter > 0 &&
            n >= SCREEN_MIN_N) {
            double starts[8 * AXL_MODEL_MAX_HYPER];
            for (s = 0; s < n_starts; s++) {
                double *t = starts + (size_t)s * H;
                default_theta(gp, t);
                if (s > 0) {
                    for (i = 0; i < d; i++)
                        t[i] += 0.7 * axl__normal(&rng);
                    t[d] += 0.5 * axl__normal(&rng);
                    t[d + 1] = log(1e-5) + 4.0 * axl__unif(&rng) - 2.0;
                }
            }
            if ((rv = bfgs_screened(&ctx, (size_t)n_starts, starts, cfg->screen_iter,
                                    cfg->max_iter > 0 ? cfg->max_iter : 100, best_theta, &bestv)) !=
                0)
                goto fail;
            used = n_starts;
            n_starts = 0; /* done: the loop below runs no start */
        }
        for (s = 0; s < n_starts + 1 && n_starts > 0; s++) {
            if (s == 0 && warm != NULL) {
                memcpy(theta, warm, H * sizeof(double));
            } else if (s == n_starts && (warm == NULL || bestv > -INFINITY)) {
                break; /* the extra start only backs up a failed warm start */
            } else {
                default_theta(gp, theta);
                if (s > 0 && warm == NULL) {
                    for (i = 0; i < d; i++)
                        theta[i] += 0.7 * axl__normal(&rng);
                    theta[d] += 0.5 * axl__normal(&rng);
                    theta[d + 1] = log(1e-5) + 4.0 * axl__unif(&rng) - 2.0;
                }
            }
            int mi = cfg->max_iter > 0 ? cfg->max_iter : 100;
            /* A warm start is near its optimum already. At large n each step costs
             * O(n^3), so only a few BFGS iterations are spent per generation: the
             * optimization continues across generations from where it stopped.
             * Measured over a campaign from n = 95 to 220 (d = 6): 4 iterations per
             * generation stay within 0.08 nats of the MAP objective that 30 reach;
             * from n = 65 instead of 101, the suite's d >= 4 problems at twice their
             * budgets (40 seeds) end with the same quartiles within 2%. */
            size_t short_n = cfg->short_warm_n > 0 ? (size_t)cfg->short_warm_n : AXL__SHORT_WARM_N;
            if (s == 0 && warm != NULL && mi > (n >= short_n ? 4 : 30))
                mi = n >= short_n ? 4 : 30;
            if ((rv = bfgs_run(&ctx, theta, mi, &v)) != 0)
                goto fail;
            used++;
            if (isfinite(v) && v > bestv && v > -1e9) {
                bestv = v;
                memcpy(best_theta, theta, H * sizeof(double));
            }
        }
        if (bestv == -INFINITY)
            default_theta(gp, best_theta);
    } else if (warm != NULL) {
        memcpy(best_theta, warm, H * sizeof(double));
    } else {
        default_theta(gp, best_theta);
    }

    /* the gradient's buffers are not needed after the fit (predictions and LogEI work
     * from the factor) */
    free(gp->dfac);
    free(gp->Kinv);
    free(gp->tbuf);
    gp->dfac = gp->Kinv = gp->tbuf = NULL;
    gp->fact_inv = 0;
    /* the optimizer's last evaluation is usually at its best point: then the factor is
     * already there */
    if (!(gp->fact_ok && memcmp(gp->theta, best_theta, H * sizeof(double)) == 0)) {
        axl__gp_set_theta(gp, best_theta);
        rv = axl__gp_factorize(gp, 0);
    } else {
        rv = 0;
    }
    if (rv != 0) {
        axl__fail(eb, rv, "gp_fit: Gram matrix not positive definite even with jitter");
        goto fail;
    }
    if (info != NULL) {
        double val = bestv;
        if (!isfinite(val) && axl__gp_map_eval(gp, best_theta, &val, NULL) != 0)
            val = NAN;
        if (!fixed_theta && n > 0 && isfinite(bestv))
            val = bestv;
        info->objective = val;
        info->n_evals = gp->n_evals;
        info->n_starts = used;
        info->jitter = gp->max_jitter;
        info->n_jitter = gp->n_jitter;
    }
    *out = gp;
    return 0;
fail:
    axl__gp_release(gp);
    return rv;
}
