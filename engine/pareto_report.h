/*
 * pareto_report.h - the Pareto set (feasible, completed trials not dominated on the
 * objectives) and its hypervolume against the reference point: the objectives'
 * thresholds, or where one is missing the point Ax infers (nadir minus 10 % of the
 * front's range, engine/model/axl_moo.h). For experiments with 2+ objectives.
 */
#ifndef AXL_PARETO_REPORT_H
#define AXL_PARETO_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "engine/experiment.h"
#include "engine/model/axl_moo.h"
#include "storage/axl_store.h"

struct axl_campaign;

typedef struct axl_pareto_report {
    size_t n;                           /* trials on the front */
    size_t n_objectives;                /* columns of values */
    uint32_t *trials;                   /* n trial indices (owned) */
    double *values;                     /* n * n_objectives objective values, as measured (owned) */
    double hypervolume;                 /* of the feasible completed trials */
    double ref[AXL_MOO_MAX_OBJECTIVES]; /* reference point, objective units */
    bool ref_inferred;
} axl_pareto_report;

/* True when the experiment has 2+ objectives. */
bool axl_pareto_wanted(const axl_experiment *e);

/* From stored trials / from a live campaign. r is caller-owned (axl_pareto_report_free). */
int axl_pareto_of_records(const axl_experiment *e, const axl_store_experiment *se,
                          axl_pareto_report *r);
int axl_pareto_of_campaign(const struct axl_campaign *c, axl_pareto_report *r);
void axl_pareto_report_free(axl_pareto_report *r);

/* `axl status`: the set with parameters and metrics (nothing without 2+ objectives). */
void axl_pareto_print(FILE *f, const axl_experiment *e, const axl_store_experiment *se);

/* `axle export --pareto`: trial_index, each parameter, each objective, one row per
 * trial of the front. AXL_EINVAL without 2+ objectives. */
int axl_pareto_csv(FILE *f, const axl_experiment *e, const axl_store_experiment *se);

/* experiment.stopped's "pareto" value: {hypervolume, reference, reference_inferred,
 * trials}. */
int axl_pareto_pack(msgpack_packer *pk, const struct axl_campaign *c);

#endif
