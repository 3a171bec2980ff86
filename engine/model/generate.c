/* generate.c - one generation: Sobol or GP-LogEI candidates from an immutable snapshot. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/gp_internal.h"

void axl_model_options_default(axl_model_options *o)
{
    memset(o, 0, sizeof(*o));
    o->gp.prior = AXL_PRIOR_GAMMA;
    o->gp.min_noise = 1e-6;
    o->gp.n_starts = 3;
    o->gp.max_iter = 100;
    o->gp.screen_iter = 10;
    o->gp.short_warm_n = AXL__SHORT_WARM_N;
    o->n_raw = 1024;
    o->n_restarts = 12;
    o->max_qn_iter = 60;
    o->outcome_transform = AXL_OUTCOME_AUTO;
    o->log_shift = 1e-6;
    o->auto_full_max_n = 64;
    o->gap_shift = 0.1;
    o->preq_min = -1;
    o->preq_decay = 0.8;
    o->preq_eps = 0.01;
    o->log_shift_adapt = 0.1;
}

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t s = a ^ 0x6a09e667f3bcc909ULL;
    uint64_t h = axl__mix64(&s);
    s ^= b * 0xbb67ae8584caa73bULL;
    h ^= axl__mix64(&s);
    s ^= c * 0x3c6ef372fe94f82bULL;
    return h ^ axl__mix64(&s);
}

/* The points a new candidate must differ from: observed, pending, and the ones this
 * call has produced so far. The observed and pending ones are asked of the caller's
 * `seen` when given; else, above SCAN_MAX of them, a hash index is built over them on
 * the first query (O(n) once, then O(1) per query instead of O(n)). */
#define SCAN_MAX 64
typedef struct seen {
    const axl_space *s;
    const double *X, *P, *C;
    size_t nx, np, *nc;
    int (*fn)(void *ctx, const double *x);
    void *ctx;
    axl_point_index *ix;
    int ix_failed;
} seen;

static int in_index(seen *z, const double *x)
{
    size_t i, n = z->s->n_params;
    if (z->ix == NULL && !z->ix_failed) {
        int rv = axl_point_index_new(z->s, &z->ix);
        for (i = 0; rv == 0 && i < z->nx; i++)
            rv = axl_point_index_add(z->ix, z->X + i * n, 0);
        for (i = 0; rv == 0 && i < z->np; i++)
            rv = axl_point_index_add(z->ix, z->P + i * n, 0);
        if (rv != 0) { /* out of memory: scan instead */
            axl_point_index_free(z->ix);
            z->ix = NULL;
            z->ix_failed = 1;
        }
    }
    if (z->ix != NULL)
        return axl_point_index_find(z->ix, x, NULL, NULL);
    for (i = 0; i < z->nx; i++)
        if (axl_space_same_point(z->s, x, z->X + i * n))
            return 1;
    for (i = 0; i < z->np; i++)
        if (axl_space_same_point(z->s, x, z->P + i * n))
            return 1;
    return 0;
}

static int is_seen(seen *z, const double *x)
{
    size_t i, n = z->s->n_params;
    if (z->fn != NULL) {
        if (z->fn(z->ctx, x))
            return 1;
    } else if (z->nx + z->np > SCAN_MAX) {
        if (in_index(z, x))
            return 1;
    } else {
        for (i = 0; i < z->nx; i++)
            if (axl_space_same_point(z->s, x, z->X + i * n))
                return 1;
        for (i = 0; i < z->np; i++)
            if (axl_space_same_point(z->s, x, z->P + i * n))
                return 1;
    }
    for (i = 0; i < *z->nc; i++)
        if (axl_space_same_point(z->s, x, z->C + i * n))
            return 1;
    return 0;
}

/* Draws from the scrambled Sobol sequence until want more new feasible points are
 * found, advancing st->sobol_index past every point looked at. */
static int gen_sobol(const axl_model_input *in, const axl__layout *lay, seen *z, size_t want,
                     axl_model_output *out)
{
    const size_t CH = 64, LIMIT = 100000;
    size_t D = lay->D, np = in->space->n_params, looked = 0, i;
    uint64_t seed = hash3(in->state->seed, in->step->seed, 0x50b01);
    double *buf = malloc(CH * D * sizeof(double));
    size_t target = out->n + want;
    int rv = 0;

    if (buf == NULL)
        return AXL_ENOMEM;
    while (out->n < target && looked < LIMIT) {
        uint64_t first = out->state.sobol_index;
        if ((rv = axl_sobol_fill((unsigned)D, seed, first, CH, buf)) != 0)
            break;
        for (i = 0; i < CH && out->n < target; i++) {
            double *x = out->X + out->n * np;
            out->state.sobol_index++;
            looked++;
            axl_space_from_unit(in->space, buf + i * D, x);
            if (!axl_space_feasible(in->space, x))
                continue;
            if (is_seen(z, x)) {
                out->diag.n_duplicates_skipped++;
                continue;
            }
            out->n++;
        }
    }
    free(buf);
    return rv;
}

typedef struct {
    double v;
    size_t i;
} vi;
static int cmp_vi_desc(const void *a, const void *b)
{
    double x = ((const vi *)a)->v, y = ((const vi *)b)->v;
    return (x < y) - (x > y);
}

/*
 * Outcome transform tf of the observations into ys (standardized, to maximize) and
 * the known noise variances into nv (NaN = unknown); *jac = log|d ys / d y| summed,
 * which makes the MAP objectives of different transforms comparable.
 *  0: standardize.  1: log of the height above the worst observation plus a shift
 *  (shift * observed range, at least log_shift_adapt times the gap between the worst
 *  observation and the next), then standardize. The log makes functions that are
 *  flat far from a few peaks (sums of bumps, like Hartmann6) look like smooth bowls
 *  to the GP, so that far observations still say where the peaks are.
 *  3 (gap-log): minus the log of the gap below the best observation plus a shift,
 *  then standardize. The mirror image of 1, for functions with a broad good region
 *  and a few very bad ones (Branin's corners reach 300 where the optimum is 0.4):
 *  it spreads out the values near the best, so that the GP resolves the optimum
 *  instead of spending its variance on the bad corners.
 */
static double tf_shift(const axl_model_options *o, int tf);

void axl__prep_outcomes(int tf, const axl_model_options *o, const axl_model_input *in, size_t n,
                        double *ys, double *nv, double *jac, axl__otf *t)
{
    double shift = tf_shift(o, tf);
    double mean = 0, sd = 0, hi = -INFINITY, lo = INFINITY, dl = 1.0, J = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        ys[i] = in->maximize ? in->y[i] : -in->y[i];
        hi = fmax(hi, ys[i]);
        lo = fmin(lo, ys[i]);
        mean += ys[i];
        if (in->sem != NULL)
            nv[i] = isnan(in->sem[i]) ? NAN : in->sem[i] * in->sem[i];
    }
    if (t != NULL) {
        t->tf = tf;
        t->hi = hi;
        t->lo = lo;
        t->ref_mean = mean / (double)n;
        t->ref_sd = hi - lo > 0 ? hi - lo : 1.0;
    }
    mean = 0;
    if (tf == AXL_OUTCOME_GAPLOG) {
        dl = shift * (hi - lo);
        if (!(dl > 0))
            dl = 1.0;
        for (i = 0; i < n; i++) {
            double g = hi - ys[i] + dl;
            if (in->sem != NULL && !isnan(nv[i]))
                nv[i] /= g * g; /* delta method */
            ys[i] = -log(g);
            J += ys[i];
        }
    }
    if (tf == AXL_OUTCOME_LOG) {
        dl = shift * (hi - lo);
        if (!(dl > 0))
            dl = 1.0;
        if (o->log_shift_adapt > 0) {
            /* the worst point sits at log(dl), its nearest neighbour in y at log(g2 +
             * dl): with dl far below g2 the worst point is an outlier of the
             * transformed data (on Ackley-3, whose 12 Sobol values lie within a few
             * units of each other, about 11 nats below everything else), which the GP
             * spends itself on and the log-Jacobian rewards (the ~10-nat anchor bonus
             * that made AUTO pick the log transform whatever its fit). dl >= 0.1 g2
             * keeps it within log(11) of its neighbour. Where the data resolve small
             * differences near the worst (sums of bumps: many values just above it, as
             * on Hartmann6) g2 is small and the shift stays at shift * range. */
            double g2 = INFINITY;
            for (i = 0; i < n; i++)
                if (ys[i] > lo)
                    g2 = fmin(g2, ys[i] - lo);
            if (isfinite(g2) && o->log_shift_adapt * g2 > dl)
                dl = o->log_shift_adapt * g2;
        }
        for (i = 0; i < n; i++) {
            double g = ys[i] - lo + dl;
            if (in->sem != NULL && !isnan(nv[i]))
                nv[i] /= g * g; /* delta method */
            ys[i] = log(g);
            J -= ys[i];
        }
    }
    for (i = 0; i < n; i++)
        mean += ys[i];
    mean /= (double)n;
    for (i = 0; i < n; i++)
        sd += (ys[i] - mean) * (ys[i] - mean);
    sd = sqrt(sd / (double)(n - 1)); /* unbiased, as BoTorch's Standardize */
    if (!(sd > 1e-12 * (1.0 + fabs(mean))))
        sd = 1.0; /* all outcomes equal: nothing to scale */
    for (i = 0; i < n; i++) {
        ys[i] = (ys[i] - mean) / sd;
        if (in->sem != NULL && !isnan(nv[i]))
            nv[i] /= sd * sd;
    }
    *jac = J - (double)n * log(sd);
    if (t != NULL) {
        t->dl = dl;
        t->mean = mean;
        t->sd = sd;
    }
}

int axl__otf_apply(const axl__otf *t, double y, double *z, double *logjac)
{
    double v = y, lj = 0;
    if (t->tf == AXL_OUTCOME_LOG || t->tf == AXL_OUTCOME_GAPLOG) {
        double g = t->tf == AXL_OUTCOME_LOG ? y - t->lo + t->dl : t->hi - y + t->dl;
        if (!(g > 0))
            return -1;
        v = t->tf == AXL_OUTCOME_LOG ? log(g) : -log(g);
        lj = -log(g);
    }
    *z = (v - t->mean) / t->sd;
    *logjac = lj - log(t->sd);
    return 0;
}

double axl__preq_logpdf(const axl__otf *t, double y, double mu, double s2, double eps)
{
    const double LOG_SQRT_2PI = 0.91893853320467274178;
    double z, lj, r = (y - t->ref_mean) / t->ref_sd;
    double lref = -0.5 * r * r - log(t->ref_sd) - LOG_SQRT_2PI, lm = -INFINITY, a, b;
    if (axl__otf_apply(t, y, &z, &lj) == 0 && s2 > 0)
        lm = -0.5 * (z - mu) * (z - mu) / s2 - 0.5 * log(s2) - LOG_SQRT_2PI + lj;
    /* log((1 - eps) e^lm + eps e^lref), by the larger term */
    a = eps < 1 ? log1p(-eps) + lm : -INFINITY;
    b = eps > 0 ? log(eps) + lref : -INFINITY;
    if (a < b) {
        double c = a;
        a = b;
        b = c;
    }
    return a == -INFINITY ? -INFINITY : a + log1p(exp(b - a));
}

/* The stored hyper-parameters of transform tf: NULL when there are none of length H. */
static const double *tf_hyper_in(const axl_model_state *st, int tf, size_t H)
{
    if (tf == AXL_OUTCOME_LOG)
        return st->n_hyper_log == H ? st->hyper_log : NULL;
    if (tf == AXL_OUTCOME_GAPLOG)
        return st->n_hyper_gap == H ? st->hyper_gap : NULL;
    return st->n_hyper == H ? st->hyper : NULL;
}

static double *tf_hyper_out(axl_model_state *st, int tf, uint32_t **nh)
{
    if (tf == AXL_OUTCOME_LOG) {
        *nh = &st->n_hyper_log;
        return st->hyper_log;
    }
    if (tf == AXL_OUTCOME_GAPLOG) {
        *nh = &st->n_hyper_gap;
        return st->hyper_gap;
    }
    *nh = &st->n_hyper;
    return st->hyper;
}

static double tf_shift(const axl_model_options *o, int tf)
{
    /* a shift <= 0 (options not from axl_model_options_default) falls back to the
     * whole range in prep_outcomes */
    return tf == AXL_OUTCOME_GAPLOG ? o->gap_shift : o->log_shift;
}

/*
 * Transform tf of the outcomes into ys (nv: known noise, NULL when none) and a MAP
 * fit from warm (NULL = cold) into *g; its theta goes into out->state, its counts
 * into out->diag; *objective = the MAP objective, *score = that + log-Jacobian.
 */
static int fit_tf(const axl_model_input *in, const axl_model_options *o, size_t D, const double *U,
                  int tf, const double *warm, double *ys, double *nv, axl_model_output *out,
                  axl_gp **g, double *score, double *objective, axl_errbuf *eb)
{
    size_t n = in->n_obs, H = AXL_GP_N_HYPER(D);
    axl_gp_info info;
    uint32_t *nh;
    double jac, *hy = tf_hyper_out(&out->state, tf, &nh);
    int rv;

    axl__prep_outcomes(tf, o, in, n, ys, nv, &jac, NULL);
    if ((rv = axl_gp_fit(n, D, U, ys, nv, &o->gp, warm, 0, g, &info, eb)) != 0)
        return rv;
    axl_gp_theta(*g, hy);
    *nh = (uint32_t)H;
    out->diag.fit_evals += info.n_evals;
    out->diag.fit_starts += info.n_starts;
    if (info.jitter > out->diag.jitter)
        out->diag.jitter = info.jitter;
    out->diag.n_jitter += info.n_jitter;
    *objective = info.objective;
    *score = info.objective + jac;
    return 0;
}

static int preq_slot(int tf)
{
    return tf == AXL_OUTCOME_LOG ? 1 : tf == AXL_OUTCOME_GAPLOG ? 2 : 0;
}

/*
 * Prequential (one-step-ahead) scores: the observations that arrived since the last
 * GP generation (the ones after its n_obs_prev, in the caller's order), each scored
 * by every transform's GP as it stood then: the transform fitted on the first
 * n_obs_prev observations, their stored hyper-parameters as they are (one
 * factorization each, no optimization). The log predictive densities (in y's units,
 * axl__preq_logpdf) are added to out->state.preq. A score measures how well a model
 * predicted data it had not seen, which the MAP objective of the same data cannot:
 * there the log transform's anchor (the worst point, mapped to log(shift * range))
 * earns a Jacobian term whatever the fit. Scores nothing when the state has no
 * previous fit of every transform on this dimension, or nothing new arrived; ys, nv
 * (n doubles) are scratch.
 */
static int preq_update(const axl_model_input *in, const axl_model_options *o, size_t D,
                       const double *U, double *ys, double *nv, axl_model_state *st)
{
    static const int tfs[3] = {AXL_OUTCOME_STANDARDIZE, AXL_OUTCOME_LOG, AXL_OUTCOME_GAPLOG};
    size_t n = in->n_obs, n0 = in->state->n_obs_prev, H = AXL_GP_N_HYPER(D), m, j;
    double *mu = NULL, *var = NULL, add[3] = {0, 0, 0};
    int q, rv = 0;

    if (n0 < 2 || n0 >= n || in->state->hyper_dims != D)
        return 0;
    for (q = 0; q < 3; q++)
        if (tf_hyper_in(in->state, tfs[q], H) == NULL)
            return 0;
    m = n - n0;
    mu = malloc(m * sizeof(double));
    var = malloc(m * sizeof(double));
    if (mu == NULL || var == NULL) {
        rv = AXL_ENOMEM;
        goto done;
    }
    for (q = 0; q < 3; q++) {
        axl__otf t;
        axl_gp *g = NULL;
        double jac, noise;
        axl__prep_outcomes(tfs[q], o, in, n0, ys, nv, &jac, &t);
        rv = axl_gp_fit(n0, D, U, ys, nv, &o->gp, tf_hyper_in(in->state, tfs[q], H), 1, &g, NULL,
                        NULL);
        if (rv == 0)
            rv = axl_gp_predict(g, m, U + n0 * D, mu, var);
        noise = g != NULL ? g->noise : 0.0;
        axl_gp_free(g);
        if (rv == AXL_ENOMEM)
            goto done;
        if (rv != 0) {
            rv = 0; /* a numerical failure scores nothing this time */
            goto done;
        }
        for (j = 0; j < m; j++) {
            size_t i = n0 + j;
            double y = in->maximize ? in->y[i] : -in->y[i], s2 = var[j] + noise, z, lj;
            if (in->sem != NULL && !isnan(in->sem[i]) && axl__otf_apply(&t, y, &z, &lj) == 0)
                s2 += in->sem[i] * in->sem[i] * exp(2.0 * lj); /* delta method */
            add[q] = o->preq_decay * add[q] + axl__preq_logpdf(&t, y, mu[j], s2, o->preq_eps);
        }
    }
    for (q = 0; q < 3; q++)
        st->preq[q] = pow(o->preq_decay, (double)m) * st->preq[q] + add[q];
    st->n_preq += (uint32_t)m;
done:
    free(mu);
    free(var);
    return rv;
}

static int gen_gp(const axl_model_input *in, const axl_model_options *o, const axl__layout *lay,
                  seen *z, axl_model_output *out, axl_errbuf *eb)
{
    const axl_space *s = in->space;
    size_t n = in->n_obs, np = s->n_params, D = lay->D, H = AXL_GP_N_HYPER(D), i, j, c;
    size_t nc = s->n_constraints, n_extra, k = in->k;
    double *U = NULL, *ys = NULL, *nv = NULL, *Up = NULL, *A = NULL, *b = NULL;
    double *ys2 = NULL, *nv2 = NULL;
    double *Uopt = NULL, *vopt = NULL, *extra = NULL, *xr = NULL, *ur = NULL;
    double best_f = -INFINITY, t0;
    axl_gp *gp = NULL, *cur = NULL;
    const double *warm = NULL;
    int rv = AXL_ENOMEM;
    uint64_t rng;
    vi *order = NULL;

    U = malloc(n * D * sizeof(double));
    ys = malloc(n * sizeof(double));
    nv = in->sem ? malloc(n * sizeof(double)) : NULL;
    ys2 = malloc(n * sizeof(double));
    nv2 = malloc(n * sizeof(double));
    Up = malloc((in->n_pending + k) * D * sizeof(double));
    Uopt = malloc((size_t)o->n_restarts * D * sizeof(double));
    vopt = malloc((size_t)o->n_restarts * sizeof(double));
    xr = malloc(np * sizeof(double));
    ur = malloc(D * sizeof(double));
    order = malloc(n * sizeof(vi));
    if (!U || !ys || !ys2 || !nv2 || (in->sem && !nv) || !Up || !Uopt || !vopt || !xr || !ur ||
        !order)
        goto fail;
    if ((rv = axl__constraints_unit(s, &A, &b)) != 0)
        goto fail;

    /* parameters -> unit cube */
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

    /* outcomes: one transform, or under AUTO all three, each fitted (warm-started
     * from its own previous hyper-parameters); AUTO keeps the one under which the
     * observed y are most probable: MAP objective plus the log-Jacobian of the
     * transform, which makes the scores densities of the same y */
    t0 = axl__now_ms();
    /* prequential scores: AUTO with preq_min >= 0, where all three transforms are fitted */
    int preq_on = o->outcome_transform == AXL_OUTCOME_AUTO && o->preq_min >= 0 &&
                  n <= (size_t)o->auto_full_max_n;
    if (preq_on && (rv = preq_update(in, o, D, U, ys2, nv ? nv2 : NULL, &out->state)) != 0)
        goto fail;
    {
        int tfs[3], ntf = 0, q;
        /* AUTO by the prequential scores once enough observations were scored */
        int by_preq = preq_on && out->state.n_preq >= (uint32_t)(o->preq_min > 0 ? o->preq_min : 1);
        double best_score = -INFINITY, score, obj;
        if (o->outcome_transform == AXL_OUTCOME_AUTO) {
            tfs[ntf++] = AXL_OUTCOME_STANDARDIZE;
            tfs[ntf++] = AXL_OUTCOME_LOG;
            tfs[ntf++] = AXL_OUTCOME_GAPLOG;
        } else {
            tfs[ntf++] = (int)o->outcome_transform;
        }
        /* Large n: score the transforms at their previous hyper-parameters (one
         * Cholesky each) and optimize only the winner; the hyper-parameters move
         * little when one point is added, and a full fit costs O(n^3) per step. The
         * other sets stay as they were (out->state starts as a copy of in->state),
         * for the next comparison. A transform without previous hyper-parameters
         * (a campaign whose first GP generation is already large) borrows the ones
         * of standardization, fitted first. */
        /* Large n, between refits: the stored hyper-parameters of the stored transform
         * as they are (one factorization, no optimization). One point more moves the
         * MAP optimum little; every `every`-th generation (every = n / 50, so the
         * refit's O(n^3) steps cost about the same per generation at any n) scores
         * the transforms and continues the optimization as below. */
        size_t every = n / 50;
        const double *kept = in->state->hyper_dims == D
                                 ? tf_hyper_in(in->state, (int)in->state->outcome_tf, H)
                                 : NULL;
        if (n > (size_t)o->auto_full_max_n && every > 1 && kept != NULL &&
            in->state->n_gen % every != 0 &&
            (o->outcome_transform == AXL_OUTCOME_AUTO ||
             (int)o->outcome_transform == (int)in->state->outcome_tf)) {
            int tf = (int)in->state->outcome_tf;
            double jac;
            axl__prep_outcomes(tf, o, in, n, ys, nv, &jac, NULL);
            /* no info: its objective would cost another factorization */
            if ((rv = axl_gp_fit(n, D, U, ys, nv, &o->gp, kept, 1, &gp, NULL, eb)) != 0)
                goto fail;
            out->diag.fit_objective = NAN;
            ntf = 0;
        }
        if (ntf > 1 && n > (size_t)o->auto_full_max_n) {
            const double *h[3];
            int win = tfs[0], missing = 0;
            double sc_best = -INFINITY;
            for (q = 0; q < ntf; q++) {
                h[q] = in->state->hyper_dims == D ? tf_hyper_in(in->state, tfs[q], H) : NULL;
                missing |= h[q] == NULL;
            }
            if (missing) {
                if ((rv = fit_tf(in, o, D, U, AXL_OUTCOME_STANDARDIZE, h[0], ys2, nv ? nv2 : NULL,
                                 out, &gp, &best_score, &out->diag.fit_objective, eb)) != 0)
                    goto fail;
                out->state.outcome_tf = AXL_OUTCOME_STANDARDIZE;
                memcpy(ys, ys2, n * sizeof(double));
                out->state.hyper_dims = (uint32_t)D;
                for (q = 0; q < ntf; q++)
                    if (h[q] == NULL || tfs[q] == AXL_OUTCOME_STANDARDIZE) {
                        uint32_t *nh;
                        double *ho = tf_hyper_out(&out->state, tfs[q], &nh);
                        if (ho != out->state.hyper)
                            memcpy(ho, out->state.hyper, H * sizeof(double));
                        *nh = (uint32_t)H;
                        h[q] = ho;
                    }
            }
            for (q = 0; q < ntf; q++) {
                double jac, v;
                axl__prep_outcomes(tfs[q], o, in, n, ys2, nv2, &jac, NULL);
                if (axl_gp_map_objective(n, D, U, ys2, nv ? nv2 : NULL, &o->gp, h[q], &v, NULL) !=
                    0)
                    v = -INFINITY;
                if (v + jac > sc_best) {
                    sc_best = v + jac;
                    win = tfs[q];
                }
            }
            ntf = 0; /* nothing more to fit when the standardization fit won */
            if (!(missing && win == AXL_OUTCOME_STANDARDIZE)) {
                axl_gp_free(gp);
                gp = NULL;
                best_score = -INFINITY;
                tfs[0] = win;
                ntf = 1;
            }
        }
        for (q = 0; q < ntf; q++) {
            int tf = tfs[q];
            axl_gp *g = NULL;
            warm = NULL;
            if (out->state.hyper_dims == D &&
                !(o->cold_fit_every > 0 && in->state->n_gen % (uint64_t)o->cold_fit_every == 0))
                warm = tf_hyper_in(&out->state, tf, H);
            if ((rv = fit_tf(in, o, D, U, tf, warm, ys2, nv ? nv2 : NULL, out, &g, &score, &obj,
                             eb)) != 0)
                goto fail;
            if (by_preq)
                score = out->state.preq[preq_slot(tf)];
            if (gp == NULL || score > best_score) {
                axl_gp_free(gp);
                gp = g;
                best_score = score;
                out->diag.fit_objective = obj;
                out->state.outcome_tf = (uint32_t)tf;
                memcpy(ys, ys2, n * sizeof(double));
            } else {
                axl_gp_free(g);
            }
        }
    }
    out->diag.fit_ms = axl__now_ms() - t0;
    out->state.hyper_dims = (uint32_t)D;
    out->diag.outcome_tf = (int)out->state.outcome_tf;
    out->diag.n_hyper = H;
    axl_gp_theta(gp, out->diag.hyper);
    for (i = 0; i <= D; i++)
        out->diag.hyper[i] = exp(out->diag.hyper[i]);
    /* inferred noise variance (the known SEMs are not part of theta) */
    out->diag.hyper[D + 1] = o->gp.min_noise + exp(out->diag.hyper[D + 1]);
    for (i = 0; i < n; i++)
        best_f = fmax(best_f, ys[i]);

    t0 = axl__now_ms();
    /* pending trials enter as Kriging-believer fantasies: same hyper-parameters,
     * outcome = posterior mean, so LogEI collapses around them */
    if (in->n_pending > 0) {
        if ((rv = axl_gp_condition_believer(gp, in->n_pending, Up, &cur)) != 0)
            goto fail;
    }

    /* extra raw points around the incumbents (like BoTorch's sample_around_best):
     * late in a campaign EI's mass is in tiny regions near the best points that a
     * 1024-point Sobol set no longer hits */
    for (i = 0; i < n; i++) {
        order[i].v = ys[i];
        order[i].i = i;
    }
    qsort(order, n, sizeof(vi), cmp_vi_desc);
    n_extra = (size_t)o->n_raw / 4;
    extra = malloc((n_extra ? n_extra : 1) * D * sizeof(double));
    if (extra == NULL)
        goto fail;
    rng = hash3(in->state->seed, in->step->seed, out->state.n_gen + 0x1000);
    {
        static const double scales[3] = {0.1, 0.02, 0.004};
        size_t top = n < 3 ? n : 3;
        for (j = 0; j < n_extra; j++) {
            const double *base = U + order[j % top].i * D;
            double sc = scales[(j / top) % 3];
            for (i = 0; i < D; i++)
                extra[j * D + i] = base[i] + sc * axl__normal(&rng);
        }
    }

    for (c = 0; c < k; c++) {
        axl__acq_cfg ac;
        size_t nf = 0, best = (size_t)-1;
        double bestv = -INFINITY;
        const axl_gp *g = cur ? cur : gp;
        double *x = out->X + out->n * np;

        ac.n_raw = o->n_raw;
        ac.n_restarts = o->n_restarts;
        ac.max_iter = o->max_qn_iter;
        ac.seed = hash3(in->state->seed, in->step->seed, out->state.n_gen * 64 + c + 1);
        if ((rv = axl__acq_optimize(g, best_f, s, lay, nc, A, b, extra, n_extra, &ac,
                                    (size_t)o->n_restarts, Uopt, vopt, &nf)) != 0)
            goto fail;
        /* round each local optimum to a valid arm (ints, choices), re-score it there
         * and keep the best one that is feasible and new */
        for (j = 0; j < nf; j++) {
            double v;
            memcpy(ur, Uopt + j * D, D * sizeof(double));
            axl__round_unit(s, ur, xr);
            if (!axl_space_feasible(s, xr))
                continue;
            if (is_seen(z, xr)) {
                out->diag.n_duplicates_skipped++;
                continue;
            }
            if ((rv = axl_gp_logei(g, best_f, 1, ur, &v, NULL)) != 0)
                goto fail;
            if (!isfinite(v))
                v = -1e300;
            if (best == (size_t)-1 || v > bestv) {
                best = j;
                bestv = v;
                memcpy(x, xr, np * sizeof(double));
            }
        }
        if (best == (size_t)-1) {
            /* every local optimum is an arm we already have (small discrete space):
             * fall back to the next new Sobol point */
            if ((rv = gen_sobol(in, lay, z, 1, out)) != 0)
                goto fail;
            if (out->n <= c)
                break; /* the space has no new feasible point left */
            x = out->X + (out->n - 1) * np;
        } else {
            out->n++;
        }
        if (c == 0)
            out->diag.best_logei = bestv;
        if (c + 1 < k) {
            axl_gp *next = NULL;
            (void)axl_space_to_unit(s, x, ur);
            if ((rv = axl_gp_condition_believer(g, 1, ur, &next)) != 0)
                goto fail;
            axl_gp_free(cur);
            cur = next;
        }
    }
    out->diag.acq_ms = axl__now_ms() - t0;
    out->state.n_gen++;
    out->state.n_obs_prev = (uint32_t)n;
    rv = 0;
fail:
    axl_gp_free(gp);
    axl_gp_free(cur);
    free(U);
    free(ys);
    free(ys2);
    free(nv2);
    free(nv);
    free(Up);
    free(A);
    free(b);
    free(Uopt);
    free(vopt);
    free(extra);
    free(xr);
    free(ur);
    free(order);
    return rv;
}

int axl_model_generate(const axl_model_input *in, axl_model_output *out, axl_errbuf *eb)
{
    axl_model_options o;
    axl__layout lay;
    seen z;
    size_t i;
    int rv;

    if (in == NULL || out == NULL || out->X == NULL || in->space == NULL || in->step == NULL ||
        in->state == NULL)
        return axl__fail(eb, AXL_EINVAL, "generate: missing argument");
    if ((rv = axl_space_check(in->space, eb)) != 0)
        return rv;
    if (in->k == 0 || (in->n_obs > 0 && (in->X == NULL || in->y == NULL)) ||
        (in->n_pending > 0 && in->X_pending == NULL))
        return axl__fail(eb, AXL_EINVAL, "generate: k = 0 or missing data arrays");
    if (in->state->version != AXL_MODEL_STATE_VERSION)
        return axl__fail(eb, AXL_EVERSION, "generate: model state version %u", in->state->version);
    for (i = 0; i < in->n_obs; i++) {
        if (!isfinite(in->y[i]))
            return axl__fail(eb, AXL_EINVAL, "generate: y[%zu] is not finite", i);
        if (in->sem && !isnan(in->sem[i]) && !(in->sem[i] >= 0 && isfinite(in->sem[i])))
            return axl__fail(eb, AXL_EINVAL, "generate: sem[%zu] is negative or infinite", i);
    }
    if (in->opts)
        o = *in->opts;
    else
        axl_model_options_default(&o);
    if (o.n_raw < 1 || o.n_restarts < 1 || o.max_qn_iter < 1 || o.gp.min_noise < 0 ||
        (unsigned)o.outcome_transform > AXL_OUTCOME_GAPLOG ||
        (o.preq_min >= 0 &&
         !(o.preq_decay > 0 && o.preq_decay <= 1 && o.preq_eps >= 0 && o.preq_eps < 1)))
        return axl__fail(eb, AXL_EINVAL, "generate: bad options");

    axl__layout_init(in->space, &lay);
    memset(&out->diag, 0, sizeof(out->diag));
    out->state = *in->state;
    out->n = 0;
    z.s = in->space;
    z.X = in->X;
    z.nx = in->n_obs;
    z.P = in->X_pending;
    z.np = in->n_pending;
    z.C = out->X;
    z.nc = &out->n;
    z.fn = in->seen;
    z.ctx = in->seen_ctx;
    z.ix = NULL;
    z.ix_failed = 0;

    if (in->step->model == AXL_GEN_GP_LOGEI && in->n_obs >= 2) {
        out->method = "GP-LogEI";
        rv = gen_gp(in, &o, &lay, &z, out, eb);
    } else if (in->step->model == AXL_GEN_GP_LOGEI || in->step->model == AXL_GEN_SOBOL) {
        double t0 = axl__now_ms();
        out->method = "Sobol"; /* also GP steps without two observations to fit on */
        rv = gen_sobol(in, &lay, &z, in->k, out);
        out->diag.acq_ms = axl__now_ms() - t0;
    } else {
        return axl__fail(eb, AXL_EINVAL, "generate: unknown model %d", (int)in->step->model);
    }
    axl_point_index_free(z.ix);
    if (rv != 0) {
        out->n = 0;
        out->state = *in->state;
        return rv;
    }
    if (out->n == 0)
        return axl__fail(eb, AXL_EEXHAUSTED, "generate: no new feasible point in the space");
    return 0;
}
