/* status_quo.c - relative outcome constraints resolved from the status quo's metrics
 * (status_quo.h). */
#include "engine/status_quo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config_objectives.h"
#include "proto/axl_log.h"

#define SRC "Scheduler"
#define SQ_WAIT_LOGGED 1000 /* c->blocked_logged while waiting for the status quo */

static bool at_status_quo(const axl_experiment *e, const double *x)
{
    return e->status_quo != NULL && axl_space_same_point(&e->space, x, e->status_quo);
}

/* The best trial again, now that constraints apply that did not before. */
static void rescore_best(axl_campaign *c)
{
    c->has_best = false;
    for (uint32_t i = 0; i < c->n_trials; i++) {
        const axl_trial *t = &c->trials[i];
        if (t->status != AXL_TRIAL_COMPLETED || !t->has_objective)
            continue;
        double yb = axl_objectives_score(c->exp->moo, t->y, t->metrics, t->n_metrics);
        if (!isfinite(yb))
            continue;
        if (!c->has_best || (c->exp->minimize ? yb < c->best_value : yb > c->best_value)) {
            c->has_best = true;
            c->best_value = yb;
            c->best_trial = t->index;
        }
    }
}

void axl_sq_observe(axl_campaign *c, const axl_trial *t)
{
    axl_objectives *o = c->exp->moo;
    if (!axl_objectives_needs_status_quo(o) || t->status != AXL_TRIAL_COMPLETED ||
        !at_status_quo(c->exp, t->x) || !axl_objectives_set_status_quo(o, t->metrics, t->n_metrics))
        return;
    for (size_t j = 0; j < o->n_outcomes; j++)
        if (o->relative[j])
            AXL_INFO(SRC,
                     "Relative outcome constraint '%s': the status quo (trial %u) has %.6g, "
                     "so the bound is %.6g.",
                     o->label[j], t->index, o->sq_value[j], o->outcome[j].bound);
    rescore_best(c);
}

int axl_sq_gen_check(axl_campaign *c, axl_errbuf *eb)
{
    const axl_objectives *o = c->exp->moo;
    if (!axl_objectives_needs_status_quo(o))
        return 0;
    long sq = -1;
    bool pending = false;
    for (uint32_t i = 0; i < c->n_trials && !pending; i++) {
        const axl_trial *t = &c->trials[i];
        if (!at_status_quo(c->exp, t->x))
            continue;
        if (sq < 0)
            sq = t->index;
        pending = (AXL_PENDING_MASK & AXL_MASK(t->status)) != 0;
    }
    size_t j = 0;
    while (j < o->n_outcomes && !o->relative[j])
        j++;
    if (pending) {
        if (c->blocked_logged != SQ_WAIT_LOGGED) {
            c->blocked_logged = SQ_WAIT_LOGGED;
            AXL_INFO(SRC,
                     "Waiting for the status quo's metrics (trial %ld): the relative outcome "
                     "constraint '%s' needs them before the model can generate.",
                     sq, o->label[j]);
        }
        return AXL_EAGAIN;
    }
    if (sq < 0)
        return axl_fail(eb, AXL_EMISSING,
                        "the relative outcome constraint '%s' needs the status quo's metrics, "
                        "and no trial is at the status quo",
                        o->label[j]);
    return axl_fail(eb, AXL_EMISSING,
                    "the relative outcome constraint '%s' needs the status quo's metrics, and "
                    "the status quo (trial %ld) ended without them; attach a measurement at "
                    "the status quo (axle attach) and resume",
                    o->label[j], sq);
}

void axl_sq_of_records(axl_experiment *e, const axl_store_experiment *se)
{
    size_t np = e->space.n_params;
    double *x;
    if (!axl_objectives_needs_status_quo(e->moo) || e->status_quo == NULL ||
        (x = malloc((np ? np : 1) * sizeof(double))) == NULL)
        return;
    for (size_t k = 0; k < se->n_trials && !e->moo->sq_known; k++) {
        const axl_trial_rec *t = &se->trials[k];
        bool ok = t->status == AXL_TRIAL_COMPLETED;
        for (size_t i = 0; i < np && ok; i++) {
            const axl_param_value *pv = NULL;
            for (uint32_t q = 0; q < t->n_params; q++)
                if (strcmp(t->params[q].name, e->info[i].name) == 0)
                    pv = &t->params[q];
            ok = pv != NULL && axl_experiment_coord_of(e, i, &pv->value, &x[i]) == 0;
        }
        if (ok && at_status_quo(e, x))
            axl_objectives_set_status_quo(e->moo, t->metrics, t->n_metrics);
    }
    free(x);
}
