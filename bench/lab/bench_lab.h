/* bench_lab.h - what bench_lab.c and bench_devices.c share. */
#ifndef AXL_BENCH_LAB_H
#define AXL_BENCH_LAB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/axl_engine.h"

typedef struct line_run {
    axl_campaign_result res;
    double wall_s;
    double first_start, last_end; /* wall clock of task events */
    size_t n_trials;
    double params[64][4]; /* antisolvent volume, rate, timing, anneal per trial */
    uint32_t status[64];
    uint32_t onto_occupied; /* moves onto the spin coater or characterization stage that
                               started before the film there had been moved off */
} line_run;

/* The seed campaign's experiment (examples/antisolvent_pl.json) with its simulate
 * section (speed, seed), strategy `steps` (owned by the result) and in-flight cap. */
json_t *seed_experiment(const char *name, int trials, json_t *steps, double speed,
                        uint64_t sim_seed, int max_in_flight);

/* Runs one campaign in a fresh store (axl_engine_run); reads back trials and the span of
 * the task events. */
void run_line(json_t *exp, const char *name, line_run *out);

/* bench_devices.c */
double bench_driver_roundtrip(double *p99);
double bench_emulated_vs_sim(void);

#endif
