/* generation_moo.c - a generation for several modelled outcomes (generation_moo.h). */
#include "engine/generation_moo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/campaign.h"
#include "engine/config_objectives.h"

bool axl_gen_moo_wanted(const axl_experiment *e)
{
    return e->moo != NULL && (e->moo->n_outcomes > 1 || e->moo->scalarized);
}

void axl_gen_moo_free(axl_gen_moo *g)
{
    if (g == NULL)
        return;
    free(g->X);
    free(g->Y);
    free(g->Xp);
    free(g);
}

axl_gen_moo *axl_gen_moo_snapshot(axl_campaign *c, const axl_gen_step *step,
                                  const axl_model_state *state, size_t k, double *cand)
{
    const axl_objectives *mo = c->exp->moo;
    size_t np = c->exp->space.n_params, m = mo->n_outcomes, n_obs = 0, n_pend = 0;
    axl_gen_moo *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->X = malloc((c->n_trials ? c->n_trials : 1) * np * sizeof(double));
    g->Y = malloc((c->n_trials ? c->n_trials : 1) * m * sizeof(double));
    g->Xp = malloc((c->n_trials ? c->n_trials : 1) * np * sizeof(double));
    if (!g->X || !g->Y || !g->Xp) {
        axl_gen_moo_free(g);
        return NULL;
    }
    for (uint32_t i = 0; i < c->n_trials; i++) {
        const axl_trial *t = &c->trials[i];
        if (t->status == AXL_TRIAL_COMPLETED) {
            bool ok = true;
            for (size_t j = 0; j < m && ok; j++) {
                double v = axl_objectives_value(mo, j, t->metrics, t->n_metrics);
                g->Y[n_obs * m + j] = v;
                ok = isfinite(v);
            }
            if (ok)
                memcpy(g->X + np * n_obs++, t->x, np * sizeof(double));
        } else if (AXL_PENDING_MASK & AXL_MASK(t->status)) {
            memcpy(g->Xp + np * n_pend++, t->x, np * sizeof(double));
        }
    }
    memcpy(g->outcomes, mo->outcome, m * sizeof(axl_outcome));
    g->mstate = c->moo_state;
    g->in = (axl_moo_input){
        .space = &c->exp->space,
        .n_outcomes = m,
        .outcomes = g->outcomes,
        .n_obs = n_obs,
        .X = g->X,
        .Y = g->Y,
        .n_pending = n_pend,
        .X_pending = g->Xp,
        .k = k,
        .step = step,
        .state = state,
        .mstate = &g->mstate,
        .opts = NULL,
    };
    g->out.X = cand;
    return g;
}

int axl_gen_moo_run(axl_gen_moo *g, axl_model_output *out, axl_errbuf *eb)
{
    int rv = axl_moo_generate(&g->in, &g->out, eb);
    if (rv != 0)
        return rv;
    out->n = g->out.n;
    out->method = g->out.method;
    out->state = g->out.state;
    memset(&out->diag, 0, sizeof(out->diag));
    out->diag.fit_ms = g->out.fit_ms;
    out->diag.acq_ms = g->out.acq_ms;
    return 0;
}
