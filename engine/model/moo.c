/*
 * moo.c - one generation for several outcomes: a GP per outcome, then LogEHVI /
 * constrained LogEI / probability of feasibility (moo_acq.c), sequentially greedy
 * over a batch with Kriging believers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/moo_acq.h"

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t s = a ^ 0x243f6a8885a308d3ULL;
    uint64_t h = axl__mix64(&s);
    s ^= b * 0x13198a2e03707344ULL;
    h ^= axl__mix64(&s);
    s ^= c * 0xa4093822299f31d0ULL;
    return h ^ axl__mix64(&s);
}

/* Sobol candidates through axl_model_generate (y is not read by a Sobol step). */
static int moo_sobol(const axl_moo_input *in, size_t k, const double *X_extra, size_t n_extra,
                     axl_moo_output *out, axl_errbuf *eb)
{
    axl_model_input mi;
    axl_model_output mo;
    axl_gen_step st = *in->step;
    size_t np = in->space->n_params, n_pend = in->n_pending + n_extra;
    double *y = calloc(in->n_obs ? in->n_obs : 1, sizeof(double));
    double *P = malloc((n_pend ? n_pend : 1) * np * sizeof(double));
    int rv = AXL_ENOMEM;

    if (y == NULL || P == NULL)
        goto fail;
    if (in->n_pending)
        memcpy(P, in->X_pending, in->n_pending * np * sizeof(double));
    if (n_extra)
        memcpy(P + in->n_pending * np, X_extra, n_extra * np * sizeof(double));
    memset(&mi, 0, sizeof(mi));
    memset(&mo, 0, sizeof(mo));
    st.model = AXL_GEN_SOBOL;
    mi.space = in->space;
    mi.maximize = 1;
    mi.n_obs = in->n_obs;
    mi.X = in->X;
    mi.y = y;
    mi.n_pending = n_pend;
    mi.X_pending = P;
    mi.k = k;
    mi.step = &st;
    mi.state = &out->state;
    mi.opts = in->opts;
    mo.X = out->X + out->n * np;
    if ((rv = axl_model_generate(&mi, &mo, eb)) != 0)
        goto fail;
    out->n += mo.n;
    out->state = mo.state;
fail:
    free(y);
    free(P);
    return rv;
}

/* Standardized, maximized values of outcome j ("<= bound" for constraints). */
static void outcome_values(const axl_moo_input *in, size_t j, double *ys, double *mean, double *sd)
{
    const axl_outcome *o = &in->outcomes[j];
    size_t i, n = in->n_obs, m = in->n_outcomes;
    double sg = o->role == AXL_OUTCOME_OBJECTIVE ? (o->minimize ? -1 : 1) : (o->geq ? -1 : 1);
    double mu = 0, s = 0;
    for (i = 0; i < n; i++)
        mu += (ys[i] = sg * in->Y[i * m + j]);
    mu /= (double)n;
    for (i = 0; i < n; i++)
        s += (ys[i] - mu) * (ys[i] - mu);
    s = sqrt(s / (double)(n - 1));
    if (!(s > 1e-12 * (1.0 + fabs(mu))))
        s = 1.0;
    for (i = 0; i < n; i++)
        ys[i] = (ys[i] - mu) / s;
    *mean = mu;
    *sd = s;
}

static int obs_feasible(const axl_moo_input *in, size_t i)
{
    size_t j, m = in->n_outcomes;
    for (j = 0; j < m; j++) {
        const axl_outcome *o = &in->outcomes[j];
        double v = in->Y[i * m + j];
        if (o->role == AXL_OUTCOME_CONSTRAINT && (o->geq ? v < o->bound : v > o->bound))
            return 0;
    }
    return 1;
}

static int seen_point(const axl_space *s, const double *x, const double *A, size_t na,
                      const double *B, size_t nb, const double *C, size_t ncand)
{
    size_t i, n = s->n_params;
    for (i = 0; i < na; i++)
        if (axl_space_same_point(s, x, A + i * n))
            return 1;
    for (i = 0; i < nb; i++)
        if (axl_space_same_point(s, x, B + i * n))
            return 1;
    for (i = 0; i < ncand; i++)
        if (axl_space_same_point(s, x, C + i * n))
            return 1;
    return 0;
}

typedef struct gen_ctx {
    size_t D, n_out, n_obj;
    axl__post *post[AXL_MOO_MAX_OUTCOMES];
    int is_obj[AXL_MOO_MAX_OUTCOMES];
    double mean[AXL_MOO_MAX_OUTCOMES], sd[AXL_MOO_MAX_OUTCOMES], bound[AXL_MOO_MAX_OUTCOMES];
    double ref_s[AXL_MOO_MAX_OBJECTIVES]; /* standardized reference point */
    double *F;                            /* front points (standardized objectives) */
    size_t nF, capF;
} gen_ctx;

/* Adds the posterior means at u as a front point when they are predicted feasible. */
static int add_believed(gen_ctx *c, const double *u)
{
    double v[AXL_MOO_MAX_OBJECTIVES];
    size_t j, o = 0;
    for (j = 0; j < c->n_out; j++) {
        double mu;
        int rv = axl__post_predict(c->post[j], 1, u, &mu, NULL, NULL, NULL);
        if (rv != 0)
            return rv;
        if (c->is_obj[j])
            v[o++] = mu;
        else if (mu > c->bound[j])
            return 0;
    }
    if (c->nF == c->capF) {
        size_t cap = c->capF ? 2 * c->capF : 64;
        double *F = realloc(c->F, cap * c->n_obj * sizeof(double));
        if (F == NULL)
            return AXL_ENOMEM;
        c->F = F;
        c->capF = cap;
    }
    memcpy(c->F + c->nF++ * c->n_obj, v, c->n_obj * sizeof(double));
    return 0;
}

static int gen_gp(const axl_moo_input *in, const axl_model_options *o, axl_moo_output *out,
                  axl_errbuf *eb)
{
    const axl_space *s = in->space;
    size_t n = in->n_obs, np = s->n_params, D = axl_space_dims(s), H = AXL_GP_N_HYPER(D);
    size_t nc = s->n_constraints, i, j, c, n_feas = 0, nraw, n_extra;
    gen_ctx g;
    axl__macq a;
    double *U = NULL, *Up = NULL, *ys = NULL, *A = NULL, *b = NULL, *Uraw = NULL, *lo = NULL,
           *hi = NULL, *Uopt = NULL, *vopt = NULL, *xr = NULL, *ur = NULL, t0;
    double best_f = -INFINITY;
    size_t *bases = NULL, n_bases = 0;
    unsigned char *fmask = NULL;
    int rv = AXL_ENOMEM;
    uint64_t rng;

    memset(&g, 0, sizeof(g));
    g.D = D;
    g.n_out = in->n_outcomes;
    U = malloc(n * D * sizeof(double));
    Up = malloc((in->n_pending + 1) * D * sizeof(double));
    ys = malloc(n * sizeof(double));
    Uopt = malloc((size_t)o->n_restarts * D * sizeof(double));
    vopt = malloc((size_t)o->n_restarts * sizeof(double));
    xr = malloc(np * sizeof(double));
    ur = malloc(D * sizeof(double));
    bases = malloc((n ? n : 1) * sizeof(size_t));
    fmask = malloc(n ? n : 1);
    nraw = (size_t)o->n_raw;
    n_extra = nraw / 4;
    Uraw = malloc((nraw + n_extra) * D * sizeof(double));
    if (!U || !Up || !ys || !Uopt || !vopt || !xr || !ur || !Uraw || !bases || !fmask)
        goto fail;
    if ((rv = axl__constraints_unit(s, &A, &b)) != 0)
        goto fail;
    for (i = 0; i < n; i++)
        if ((rv = axl_space_to_unit(s, in->X + i * np, U + i * D)) != 0) {
            axl__fail(eb, rv, "observation %zu: invalid parameter value", i);
            goto fail;
        }
    for (i = 0; i < in->n_pending; i++)
        if ((rv = axl_space_to_unit(s, in->X_pending + i * np, Up + i * D)) != 0) {
            axl__fail(eb, rv, "pending point %zu: invalid parameter value", i);
            goto fail;
        }

    /* one GP per outcome, each warm-started from its own previous theta */
    t0 = axl__now_ms();
    out->mstate.n_outcomes = (uint32_t)in->n_outcomes;
    for (j = 0; j < in->n_outcomes; j++) {
        const axl_outcome *oc = &in->outcomes[j];
        const double *warm = NULL;
        axl_gp *gp = NULL;
        double theta[AXL_MODEL_MAX_HYPER];
        if (in->mstate && in->mstate->hyper_dims == D && in->mstate->n_outcomes == in->n_outcomes)
            warm = in->mstate->hyper[j];
        outcome_values(in, j, ys, &g.mean[j], &g.sd[j]);
        g.is_obj[j] = oc->role == AXL_OUTCOME_OBJECTIVE;
        g.n_obj += (size_t)g.is_obj[j];
        if (!g.is_obj[j])
            g.bound[j] = ((oc->geq ? -oc->bound : oc->bound) - g.mean[j]) / g.sd[j];
        if ((rv = axl_gp_fit(n, D, U, ys, NULL, &o->gp, warm, 0, &gp, NULL, eb)) != 0)
            goto fail;
        axl_gp_theta(gp, theta);
        axl_gp_free(gp);
        memcpy(out->mstate.hyper[j], theta, H * sizeof(double));
        if ((rv = axl__post_new(n, D, U, ys, theta, o->gp.min_noise, &g.post[j])) != 0)
            goto fail;
        if (g.is_obj[j] && g.n_obj == 1 && in->n_outcomes > 0) {
            /* best feasible observation of the first objective (standardized), for EI */
            for (i = 0; i < n; i++)
                if (obs_feasible(in, i))
                    best_f = fmax(best_f, ys[i]);
        }
    }
    out->mstate.hyper_dims = (uint32_t)D;
    out->fit_ms = axl__now_ms() - t0;

    t0 = axl__now_ms();
    /* the observed feasible front (standardized objectives) and the reference point */
    {
        double *Yo = malloc((n ? n : 1) * g.n_obj * sizeof(double)), ref[AXL_MOO_MAX_OBJECTIVES];
        size_t o2, nfe = 0;
        int need_infer = 0;
        if (Yo == NULL)
            goto fail;
        for (i = 0; i < n; i++) {
            if (!obs_feasible(in, i))
                continue;
            bases[n_feas] = i;
            n_feas++;
            for (j = 0, o2 = 0; j < in->n_outcomes; j++) {
                const axl_outcome *oc = &in->outcomes[j];
                if (oc->role == AXL_OUTCOME_OBJECTIVE)
                    Yo[nfe * g.n_obj + o2++] =
                        (oc->minimize ? -1 : 1) * in->Y[i * in->n_outcomes + j];
            }
            nfe++;
        }
        axl_infer_ref_point(nfe, g.n_obj, Yo, ref);
        for (j = 0, o2 = 0; j < in->n_outcomes; j++) {
            const axl_outcome *oc = &in->outcomes[j];
            double r;
            if (oc->role != AXL_OUTCOME_OBJECTIVE)
                continue;
            if (isnan(oc->threshold)) {
                r = ref[o2];
                need_infer = 1;
            } else {
                r = (oc->minimize ? -1 : 1) * oc->threshold;
            }
            out->ref[o2] = (oc->minimize ? -1 : 1) * r;
            g.ref_s[o2] = (r - g.mean[j]) / g.sd[j];
            for (i = 0; i < nfe; i++)
                Yo[i * g.n_obj + o2] = (Yo[i * g.n_obj + o2] - g.mean[j]) / g.sd[j];
            o2++;
        }
        out->ref_inferred = need_infer;
        g.F = Yo;
        g.nF = nfe;
        g.capF = n ? n : 1;
    }

    /* bases of the raw points' perturbations (like BoTorch's sample_around_best): the
     * feasible observations on the front; with one objective its 3 best; with nothing
     * feasible yet, every observation */
    if (n_feas > 0) {
        size_t q;
        axl_pareto_mask(n_feas, g.n_obj, g.F, fmask);
        if (g.n_obj == 1) {
            /* keep the 3 best values: clear all but the top 3 */
            for (q = 0; q < n_feas; q++) {
                size_t better = 0, t;
                for (t = 0; t < n_feas; t++)
                    better += g.F[t] > g.F[q];
                fmask[q] = better < 3;
            }
        }
        for (q = 0; q < n_feas; q++)
            if (fmask[q])
                bases[n_bases++] = bases[q];
    } else {
        for (i = 0; i < n; i++)
            bases[n_bases++] = i;
    }

    /* pending points: Kriging believers in every GP, their means on the front */
    if (in->n_pending > 0)
        for (j = 0; j < in->n_outcomes; j++) {
            axl__post *p2 = NULL;
            if ((rv = axl__post_believer(g.post[j], in->n_pending, Up, &p2)) != 0)
                goto fail;
            axl__post_free(g.post[j]);
            g.post[j] = p2;
        }
    if (n_feas > 0)
        for (i = 0; i < in->n_pending; i++)
            if ((rv = add_believed(&g, Up + i * D)) != 0)
                goto fail;

    memset(&a, 0, sizeof(a));
    a.D = D;
    a.n_out = in->n_outcomes;
    a.n_obj = g.n_obj;
    a.post = g.post;
    a.is_obj = g.is_obj;
    a.bound = g.bound;
    a.best_f = best_f;
    if (n_feas == 0 && g.n_obj < in->n_outcomes) {
        a.mode = AXL__MACQ_POF;
        out->method = "GP-LogPoF";
    } else if (g.n_obj >= 2) {
        a.mode = AXL__MACQ_EHVI;
        out->method = "GP-LogEHVI";
    } else {
        a.mode = AXL__MACQ_EI;
        out->method = g.n_obj < in->n_outcomes ? "GP-LogCEI" : "GP-LogEI";
    }

    rng = hash3(in->state->seed, in->step->seed, out->state.n_gen + 0x2000);
    for (c = 0; c < in->k; c++) {
        size_t nf = 0, best = (size_t)-1, r;
        double bestv = -INFINITY, *x = out->X + out->n * np;
        if (a.mode == AXL__MACQ_EHVI) {
            free(lo);
            free(hi);
            lo = hi = NULL;
            if ((rv = axl_box_decomp(g.nF, g.n_obj, g.F, g.ref_s, &a.nb, &lo, &hi)) != 0)
                goto fail;
            a.lo = lo;
            a.hi = hi;
        }
        /* raw points: fresh scrambled Sobol + perturbations of the front's points */
        if ((rv = axl_sobol_fill((unsigned)D, hash3(in->state->seed, out->state.n_gen, c + 7), 0,
                                 nraw, Uraw)) != 0)
            goto fail;
        for (i = 0; i < n_extra; i++) {
            static const double sc[3] = {0.1, 0.02, 0.004};
            size_t src = bases[(size_t)(axl__unif(&rng) * (double)n_bases) % n_bases];
            for (j = 0; j < D; j++) {
                double v = U[src * D + j] + sc[i % 3] * axl__normal(&rng);
                Uraw[(nraw + i) * D + j] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
        }
        if ((rv = axl__macq_optimize(&a, nc, A, b, Uraw, nraw + n_extra, o->n_restarts,
                                     o->max_qn_iter, Uopt, vopt, &nf)) != 0)
            goto fail;
        for (r = 0; r < nf; r++) {
            double v;
            memcpy(ur, Uopt + r * D, D * sizeof(double));
            axl__round_unit(s, ur, xr);
            if (!axl_space_feasible(s, xr) ||
                seen_point(s, xr, in->X, n, in->X_pending, in->n_pending, out->X, out->n))
                continue;
            {
                double ws[8 + 6 * AXL_MODEL_MAX_DIMS];
                if ((rv = axl__macq_eval(&a, 1, ur, &v, NULL, ws)) != 0)
                    goto fail;
            }
            if (best == (size_t)-1 || v > bestv) {
                best = r;
                bestv = v;
                memcpy(x, xr, np * sizeof(double));
            }
        }
        if (best == (size_t)-1) {
            if ((rv = moo_sobol(in, 1, NULL, 0, out, eb)) != 0)
                goto fail;
            if (out->n <= c)
                break;
            x = out->X + (out->n - 1) * np;
        } else {
            out->n++;
        }
        if (c == 0)
            out->best_acq = bestv;
        if (c + 1 < in->k) {
            (void)axl_space_to_unit(s, x, ur);
            for (j = 0; j < in->n_outcomes; j++) {
                axl__post *p2 = NULL;
                if ((rv = axl__post_believer(g.post[j], 1, ur, &p2)) != 0)
                    goto fail;
                axl__post_free(g.post[j]);
                g.post[j] = p2;
            }
            if (a.mode == AXL__MACQ_EHVI && (rv = add_believed(&g, ur)) != 0)
                goto fail;
        }
    }
    out->acq_ms = axl__now_ms() - t0;
    out->state.n_gen++;
    rv = 0;
fail:
    for (j = 0; j < AXL_MOO_MAX_OUTCOMES; j++)
        axl__post_free(g.post[j]);
    free(g.F);
    free(U);
    free(Up);
    free(ys);
    free(A);
    free(b);
    free(Uraw);
    free(lo);
    free(hi);
    free(Uopt);
    free(vopt);
    free(xr);
    free(ur);
    free(bases);
    free(fmask);
    return rv;
}

int axl_moo_generate(const axl_moo_input *in, axl_moo_output *out, axl_errbuf *eb)
{
    axl_model_options o;
    size_t j, i, n_obj = 0;
    int rv;

    if (in == NULL || out == NULL || out->X == NULL || in->space == NULL || in->step == NULL ||
        in->state == NULL || in->outcomes == NULL)
        return axl__fail(eb, AXL_EINVAL, "moo_generate: missing argument");
    if ((rv = axl_space_check(in->space, eb)) != 0)
        return rv;
    if (in->n_outcomes < 1 || in->n_outcomes > AXL_MOO_MAX_OUTCOMES)
        return axl__fail(eb, AXL_EINVAL, "moo_generate: 1..%d outcomes", AXL_MOO_MAX_OUTCOMES);
    for (j = 0; j < in->n_outcomes; j++)
        n_obj += in->outcomes[j].role == AXL_OUTCOME_OBJECTIVE;
    if (n_obj < 1 || n_obj > AXL_MOO_MAX_OBJECTIVES)
        return axl__fail(eb, AXL_EINVAL, "moo_generate: 1..%d objectives", AXL_MOO_MAX_OBJECTIVES);
    if (in->k == 0 || (in->n_obs > 0 && (in->X == NULL || in->Y == NULL)) ||
        (in->n_pending > 0 && in->X_pending == NULL))
        return axl__fail(eb, AXL_EINVAL, "moo_generate: k = 0 or missing data arrays");
    for (i = 0; i < in->n_obs * in->n_outcomes; i++)
        if (!isfinite(in->Y[i]))
            return axl__fail(eb, AXL_EINVAL, "moo_generate: Y[%zu][%zu] is not finite",
                             i / in->n_outcomes, i % in->n_outcomes);
    if (in->opts)
        o = *in->opts;
    else
        axl_model_options_default(&o);
    if (o.n_raw < 1 || o.n_restarts < 1 || o.max_qn_iter < 1)
        return axl__fail(eb, AXL_EINVAL, "moo_generate: bad options");
    out->state = *in->state;
    if (in->mstate)
        out->mstate = *in->mstate;
    else
        memset(&out->mstate, 0, sizeof(out->mstate));
    out->n = 0;
    out->fit_ms = out->acq_ms = 0;
    out->best_acq = NAN;
    out->ref_inferred = 0;
    for (j = 0; j < AXL_MOO_MAX_OBJECTIVES; j++)
        out->ref[j] = NAN;
    if (in->step->model == AXL_GEN_GP_LOGEI && in->n_obs >= 2) {
        rv = gen_gp(in, &o, out, eb);
    } else {
        out->method = "Sobol";
        rv = moo_sobol(in, in->k, NULL, 0, out, eb);
    }
    if (rv != 0) {
        out->n = 0;
        out->state = *in->state;
        return rv;
    }
    if (out->n == 0)
        return axl__fail(eb, AXL_EEXHAUSTED, "moo_generate: no new feasible point in the space");
    return 0;
}

void axl_testfn_branincurrin(const double *x, double *f)
{
    double x0 = 15.0 * x[0] - 5.0, x1 = 15.0 * x[1], pi = M_PI;
    double bb = 5.1 / (4.0 * pi * pi), cc = 5.0 / pi, t = 1.0 / (8.0 * pi);
    double u = x[0], v = x[1] > 1e-300 ? x[1] : 1e-300;
    double num = 2300 * u * u * u + 1900 * u * u + 2092 * u + 60;
    double den = 100 * u * u * u + 500 * u * u + 4 * u + 20;
    f[0] = (x1 - bb * x0 * x0 + cc * x0 - 6.0) * (x1 - bb * x0 * x0 + cc * x0 - 6.0) +
           10.0 * (1.0 - t) * cos(x0) + 10.0;
    f[1] = (1.0 - exp(-1.0 / (2.0 * v))) * num / den;
}

void axl_testfn_dtlz2(size_t d, const double *x, double *f)
{
    double g = 0;
    size_t i;
    for (i = 1; i < d; i++)
        g += (x[i] - 0.5) * (x[i] - 0.5);
    f[0] = (1 + g) * cos(x[0] * M_PI / 2);
    f[1] = (1 + g) * sin(x[0] * M_PI / 2);
}
