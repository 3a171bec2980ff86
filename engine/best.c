/*
 * best.c - the best point of a campaign, as Ax reports it: the model's best (the GP's
 * posterior mean at the observed points, the best of those means, with its standard
 * deviation and the raw observation beside it) and the raw best observation.
 *
 * On a noisy objective the raw best is biased (the luckiest draw wins); the model's best
 * is not. The GP is the one generation uses (Matern-5/2 ARD, MAP hyper-parameters) on
 * standardized outcomes, known SEMs as fixed noise. Trials that violate an outcome
 * constraint (engine/config_objectives.h) are left out: the best is always feasible.
 */
#include "engine/best.h"

#include "engine/campaign.h"
#include "engine/config_objectives.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int axl_best_compute(const axl_space *space, bool minimize, size_t n, const double *X,
                     const double *y, const double *sem, const uint32_t *trials, axl_best *out,
                     axl_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return 0;
    size_t raw = 0;
    for (size_t i = 1; i < n; i++)
        if (minimize ? y[i] < y[raw] : y[i] > y[raw])
            raw = i;
    out->has_raw = true;
    out->raw_index = raw;
    out->raw_trial = trials[raw];
    out->raw_value = y[raw];
    if (n < 2 || n > AXL_BEST_MAX_OBS)
        return 0;

    double mu = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        mu += y[i];
    mu /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (y[i] - mu) * (y[i] - mu);
    double sd = sqrt(var / (double)(n - 1));
    if (!(sd > 0))
        return 0; /* every observation the same: nothing for a model to say */

    size_t D = axl_space_dims(space), np = space->n_params;
    double *U = malloc(n * D * sizeof(double)), *ys = malloc(n * sizeof(double));
    double *nv = sem != NULL ? malloc(n * sizeof(double)) : NULL;
    double *mean = malloc(n * sizeof(double)), *pvar = malloc(n * sizeof(double));
    axl_gp *gp = NULL;
    int rv = AXL_ENOMEM;
    if (U == NULL || ys == NULL || (sem != NULL && nv == NULL) || mean == NULL || pvar == NULL) {
        axl_fail(eb, rv, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rv = axl_space_to_unit(space, X + i * np, U + i * D)) != 0) {
            axl_fail(eb, rv, "observation %zu is not a point of the search space", i);
            goto out;
        }
        ys[i] = (y[i] - mu) / sd;
        if (nv != NULL)
            nv[i] = isfinite(sem[i]) ? (sem[i] / sd) * (sem[i] / sd) : NAN;
    }
    axl_model_options o;
    axl_model_options_default(&o);
    if ((rv = axl_gp_fit(n, D, U, ys, nv, &o.gp, NULL, 0, &gp, NULL, eb)) != 0 ||
        (rv = axl_gp_predict(gp, n, U, mean, pvar)) != 0) {
        if (eb != NULL && eb->msg[0] == '\0')
            axl_fail(eb, rv, "the model of the best point could not be fitted");
        goto out;
    }
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (minimize ? mean[i] < mean[best] : mean[i] > mean[best])
            best = i;
    out->has_model = true;
    out->model_index = best;
    out->model_trial = trials[best];
    out->model_mean = mu + sd * mean[best];
    out->model_sd = sd * sqrt(pvar[best] > 0 ? pvar[best] : 0);
    out->model_observed = y[best];
    rv = 0;
out:
    axl_gp_free(gp);
    free(U);
    free(ys);
    free(nv);
    free(mean);
    free(pvar);
    return rv;
}

int axl_best_of_records(const axl_experiment *e, const axl_store_experiment *se, axl_best *out,
                        axl_errbuf *eb)
{
    size_t np = e->space.n_params, n = 0;
    double *X = malloc((se->n_trials + 1) * np * sizeof(double) + 1);
    double *y = malloc((se->n_trials + 1) * sizeof(double));
    double *sem = malloc((se->n_trials + 1) * sizeof(double));
    uint32_t *idx = malloc((se->n_trials + 1) * sizeof(uint32_t));
    bool any_sem = false;
    int rv = AXL_ENOMEM;
    memset(out, 0, sizeof(*out));
    if (X == NULL || y == NULL || sem == NULL || idx == NULL) {
        axl_fail(eb, rv, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < se->n_trials; k++) {
        const axl_trial_rec *t = &se->trials[k];
        const axl_metric_value *m = NULL;
        if (t->status != AXL_TRIAL_COMPLETED)
            continue;
        for (uint32_t q = 0; q < t->n_metrics; q++)
            if (strcmp(t->metrics[q].name, e->metric) == 0)
                m = &t->metrics[q];
        if (m == NULL || !isfinite(m->mean) ||
            !isfinite(axl_objectives_score(e->moo, m->mean, t->metrics, t->n_metrics)))
            continue; /* an infeasible trial is never the best */
        bool ok = true;
        for (size_t i = 0; i < np && ok; i++) {
            const axl_param_value *pv = NULL;
            for (uint32_t q = 0; q < t->n_params; q++)
                if (strcmp(t->params[q].name, e->info[i].name) == 0)
                    pv = &t->params[q];
            ok = pv != NULL && axl_experiment_coord_of(e, i, &pv->value, &X[n * np + i]) == 0;
        }
        if (!ok)
            continue;
        y[n] = m->mean;
        sem[n] = m->sem;
        any_sem = any_sem || isfinite(m->sem);
        idx[n++] = t->index;
    }
    rv = axl_best_compute(&e->space, e->minimize, n, X, y, any_sem ? sem : NULL, idx, out, eb);
    if (rv == 0 && out->has_raw) {
        out->raw_x = malloc((np ? np : 1) * sizeof(double));
        out->model_x = malloc((np ? np : 1) * sizeof(double));
        if (out->raw_x == NULL || out->model_x == NULL) {
            axl_best_free(out);
            rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(out->raw_x, X + out->raw_index * np, np * sizeof(double));
        memcpy(out->model_x, X + out->model_index * np, np * sizeof(double));
    }
out:
    free(X);
    free(y);
    free(sem);
    free(idx);
    return rv;
}

void axl_best_free(axl_best *b)
{
    free(b->raw_x);
    free(b->model_x);
    b->raw_x = b->model_x = NULL;
}

int axl_best_of_campaign(const axl_campaign *c, axl_best *out, axl_errbuf *eb)
{
    size_t np = c->exp->space.n_params, n = 0;
    double *X = malloc((c->n_trials + 1) * np * sizeof(double) + 1);
    double *y = malloc((c->n_trials + 1) * sizeof(double));
    double *sem = malloc((c->n_trials + 1) * sizeof(double));
    uint32_t *idx = malloc((c->n_trials + 1) * sizeof(uint32_t));
    bool any_sem = false;
    int rv;
    memset(out, 0, sizeof(*out));
    if (X == NULL || y == NULL || sem == NULL || idx == NULL) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < c->n_trials; i++) {
        const axl_trial *t = &c->trials[i];
        if (t->status != AXL_TRIAL_COMPLETED || !t->has_objective || !isfinite(t->y) ||
            !isfinite(axl_objectives_score(c->exp->moo, t->y, t->metrics, t->n_metrics)))
            continue;
        memcpy(X + n * np, t->x, np * sizeof(double));
        y[n] = t->y;
        sem[n] = t->sem;
        any_sem = any_sem || isfinite(t->sem);
        idx[n++] = t->index;
    }
    rv = axl_best_compute(&c->exp->space, c->exp->minimize, n > AXL_BEST_MAX_OBS_STOP ? 1 : n, X, y,
                          any_sem ? sem : NULL, idx, out, eb);
    if (n > AXL_BEST_MAX_OBS_STOP) /* the raw best only: c->best_* */
        memset(out, 0, sizeof(*out));
out:
    free(X);
    free(y);
    free(sem);
    free(idx);
    return rv;
}
