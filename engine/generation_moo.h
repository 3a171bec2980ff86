/*
 * generation_moo.h - the snapshot and run of a generation for several modelled
 * outcomes (objectives, a scalarized objective, outcome constraints): generation.c
 * calls these when axl_gen_moo_wanted() says so.
 */
#ifndef AXL_GENERATION_MOO_H
#define AXL_GENERATION_MOO_H

#include <stdbool.h>

#include "engine/experiment.h"
#include "engine/model/axl_moo.h"

struct axl_campaign;

typedef struct axl_gen_moo {
    axl_moo_input in;
    axl_moo_output out;
    axl_outcome outcomes[AXL_MOO_MAX_OUTCOMES];
    axl_moo_state mstate;
    double *X, *Y, *Xp; /* owned */
} axl_gen_moo;

/* True for several modelled outcomes or a scalarized objective. */
bool axl_gen_moo_wanted(const axl_experiment *e);

/*
 * Copies the observations (COMPLETED trials with every outcome's metrics), the pending
 * points and the warm-start state of campaign c. step and state are borrowed (the
 * job's copies); cand (k * n_params) receives the candidates. NULL on out of memory.
 */
axl_gen_moo *axl_gen_moo_snapshot(struct axl_campaign *c, const axl_gen_step *step,
                                  const axl_model_state *state, size_t k, double *cand);

/* Runs the model (thread pool) and copies n, method, state and timings into out. */
int axl_gen_moo_run(axl_gen_moo *g, axl_model_output *out, axl_errbuf *eb);

void axl_gen_moo_free(axl_gen_moo *g);

#endif
