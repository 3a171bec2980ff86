/*
 * config_objectives.h - several objectives, a scalarized objective, outcome
 * constraints and tracking metrics in the experiment file (Ax's vocabulary):
 *
 *   "objectives": [{"metric": "pl", "minimize": false, "threshold": 0.4}, ...]   (1-4)
 *   "scalarized_objective": {"metrics": ["a", "b"], "weights": [1, -0.5], "minimize": false}
 *   "outcome_constraints": ["fwhm <= 0.12", "peak_ev >= 1.58", "2*a - b <= 3",
 *                           {"metric": "fwhm", "op": "<=", "bound": 0.12},
 *                           "fwhm <= 5%", "fwhm <= 1.05*status_quo",
 *                           {"metric": "fwhm", "op": "<=", "bound": 5, "relative": true}]
 *   "tracking_metrics": ["thickness"]
 *
 * The single "objective" form of config.c stays; with it, outcome constraints and
 * tracking metrics may be given too. Every modelled outcome is a linear combination of
 * metrics (a plain metric is one term with weight 1): each objective, the scalarized
 * objective, and the left side of each constraint. Tracking metrics are recorded and
 * exported, never modelled. Errors name the JSON path.
 *
 * Relative constraints (Ax's OutcomeConstraint relative=True) need a "status_quo" in the
 * file. "fwhm <= 5%" and {"bound": 5, "relative": true} follow Ax's derelativize_bound:
 * the bound is sq + |sq| * 5 / 100 (sq: the constraint's left side at the status quo),
 * so +5 % always loosens a <= bound; "fwhm <= 1.05*status_quo" is 1.05 * sq as written.
 * The bound is taken from the status quo trial's observed metrics (Ax's
 * use_raw_status_quo; Ax's default plugs in the model's prediction there) and is unknown
 * until they arrive: see axl_objectives_set_status_quo().
 *
 * Ownership: an axl_objectives owns its strings; axl_experiment_free() frees it.
 */
#ifndef AXL_CONFIG_OBJECTIVES_H
#define AXL_CONFIG_OBJECTIVES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "proto/axl_error.h"
#include "proto/axl_proto.h"
#include "engine/model/axl_moo.h"

#define AXL_OUTCOME_MAX_TERMS 8
#define AXL_MAX_TRACKING 16

typedef struct axl_outcome_expr {
    size_t n;
    char *metric[AXL_OUTCOME_MAX_TERMS];
    double w[AXL_OUTCOME_MAX_TERMS];
} axl_outcome_expr;

typedef struct axl_objectives {
    size_t n_outcomes; /* modelled outcomes: the objectives first, then the constraints */
    size_t n_objectives;
    bool scalarized;
    axl_outcome outcome[AXL_MOO_MAX_OUTCOMES];   /* role, direction, threshold, bound */
    axl_outcome_expr expr[AXL_MOO_MAX_OUTCOMES]; /* value = sum of w * metric */
    char *label[AXL_MOO_MAX_OUTCOMES];           /* "pl" or "fwhm <= 0.12", for reports */
    size_t n_tracking;
    char *tracking[AXL_MAX_TRACKING];
    /* relative constraint j: bound = rel_a[j] * sq + rel_b[j] * |sq|; outcome[j].bound is
     * NaN until the status quo's metrics are set (sq_known) */
    bool relative[AXL_MOO_MAX_OUTCOMES];
    double rel_a[AXL_MOO_MAX_OUTCOMES], rel_b[AXL_MOO_MAX_OUTCOMES];
    size_t n_relative;
    bool sq_known;
    double sq_value[AXL_MOO_MAX_OUTCOMES]; /* each relative constraint's value at the status
                                              quo, once known */
} axl_objectives;

struct axl_experiment;

/* True when root uses "objectives" or "scalarized_objective" (config.c then skips its
 * single-objective parser). */
bool axl_config_has_objectives(json_t *root);

/*
 * Parses the keys above from root into e->moo (left NULL for a single objective
 * without constraints or tracking metrics) and sets e->metric / e->minimize to the
 * first objective (first metric of a scalarized one). AXL_ECONFIG with
 * "json.path: reason", AXL_ENOMEM.
 */
int axl_config_objectives(json_t *root, struct axl_experiment *e, axl_errbuf *eb);

void axl_objectives_free(axl_objectives *o);

/* Outcome j's value from a trial's metrics; NaN when one of its metrics is missing. */
double axl_objectives_value(const axl_objectives *o, size_t j, const axl_metric_value *m,
                            uint32_t n);

/*
 * What a trial's "best" is judged by: y (its objective metric) without o; with o, the
 * first objective's value (a scalarized objective's weighted sum), or NaN when the
 * trial misses a modelled metric or violates an outcome constraint, so that an
 * infeasible trial is never reported as the best.
 */
double axl_objectives_score(const axl_objectives *o, double y, const axl_metric_value *m,
                            uint32_t n);

/*
 * 1 when the values (n_outcomes) satisfy every outcome constraint. A relative constraint
 * whose bound is not known yet (the status quo not observed) is not applied.
 */
int axl_objectives_feasible(const axl_objectives *o, const double *values);

/* True when o has relative constraints whose bounds are still unknown. */
bool axl_objectives_needs_status_quo(const axl_objectives *o);

/*
 * Resolves the relative constraints' bounds from the status quo's metrics (m, n;
 * borrowed): returns 1 when they are known (now or already), 0 when a metric they need
 * is missing or not finite (nothing changes then). o may be NULL (returns 1).
 */
int axl_objectives_set_status_quo(axl_objectives *o, const axl_metric_value *m, uint32_t n);

#endif
