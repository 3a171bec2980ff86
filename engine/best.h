/*
 * best.h - the best point of a campaign: the model's best (GP posterior mean at the
 * observed points) and the raw best observation (engine/best.c).
 */
#ifndef AXL_BEST_H
#define AXL_BEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/experiment.h"
#include "storage/axl_store.h"

/* Above this many observations the model's best is not computed (a fit costs O(n^3));
 * experiment.stopped, computed on the loop thread, stops at AXL_BEST_MAX_OBS_STOP. */
#define AXL_BEST_MAX_OBS 1000
#define AXL_BEST_MAX_OBS_STOP 300

typedef struct axl_best {
    bool has_raw;
    size_t raw_index; /* among the observations given */
    uint32_t raw_trial;
    double raw_value;
    bool has_model;
    size_t model_index;
    uint32_t model_trial;
    double model_mean, model_sd; /* the GP's posterior at the trial's point */
    double model_observed;       /* what was measured there */
    double *raw_x, *model_x;     /* parameter points (axl_best_of_records); owned */
} axl_best;

/*
 * From n observations: X (n*n_params, parameter space), y, sem (NULL or n, NaN =
 * unknown) and the trial index of each, all borrowed. The model is fitted when n >= 2
 * and the y differ; a failed fit leaves has_model false and returns its error (the raw
 * best is still filled).
 */
int axl_best_compute(const axl_space *space, bool minimize, size_t n, const double *X,
                     const double *y, const double *sem, const uint32_t *trials, axl_best *out,
                     axl_errbuf *eb);

/* From stored trial records (COMPLETED ones with the objective); fills raw_x/model_x. */
int axl_best_of_records(const axl_experiment *e, const axl_store_experiment *se, axl_best *out,
                        axl_errbuf *eb);

void axl_best_free(axl_best *b);

#endif
