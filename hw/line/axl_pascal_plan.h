/*
 * axl_pascal_plan.h - reads a PASCAL "maestro netlist" (its scheduled plan: samples with
 * worklists whose tasks carry the start time PASCAL's CP-SAT scheduler gave them) into
 * axle task chains with PASCAL's duration model, so that the same samples can be
 * re-placed on axle's timeline and the two schedules compared.
 *
 * Task names understood: storage_to_spincoater, spincoat, spincoater_to_hotplate, anneal,
 * hotplate_to_storage, rest, storage_to_characterization, characterize,
 * characterization_to_spincoater, characterization_to_storage (and any other
 * "<station>_to_<station>" move).
 */
#ifndef AXL_PASCAL_PLAN_H
#define AXL_PASCAL_PLAN_H

#include "hw/line/axl_chain.h"
#include "hw/line/axl_timeline.h"
#include "proto/axl_error.h"

#include <jansson.h>
#include <stddef.h>

#define AXL_PASCAL_MAX_SAMPLES 10000
#define AXL_PASCAL_MAX_FILE (64u << 20) /* bytes */

/* Flags for axl_pascal_plan_load/_parse. */
#define AXL_PASCAL_TRUNCATE 1u /* durations truncated to whole seconds, as PASCAL does */

typedef struct axl_pascal_sample {
    char name[64];
    char tray[32]; /* storage slot, e.g. "Tray1" / "A1" */
    char slot[8];
    axl_chain chain;
    double start[AXL_CHAIN_MAX];         /* PASCAL's scheduled start, s */
    double file_duration[AXL_CHAIN_MAX]; /* duration PASCAL stored, NaN when none */
} axl_pascal_sample;

typedef struct axl_pascal_plan {
    size_t nsamples;
    axl_pascal_sample *sample; /* owned, nsamples entries, in file order */
    unsigned nplates;          /* hotplates with a setpoint in the file (0-3) */
    double plate_setpoint[AXL_TL_MAX_PLATES];
} axl_pascal_plan;

/* Makespan and station load of the plan at the file's own start times. */
typedef struct axl_pascal_stats {
    size_t ntasks[AXL_TASK_KIND_COUNT]; /* by kind */
    double first_start, last_end, makespan;
    double spincoater_held;       /* spin coats + moves onto and off the spin coater */
    double characterization_held; /* characterizations + moves on and off the line */
    double gripper_busy;          /* all moves */
} axl_pascal_stats;

/*
 * Reads the netlist at path (at most AXL_PASCAL_MAX_FILE bytes) into *out, which the
 * caller releases with axl_pascal_plan_free (also after an error). Messages name the
 * JSON path: "samples.sample3.worklist[4].details.duration: must be a number".
 * Returns 0, AXL_EIO, AXL_ETOOBIG, AXL_EPROTO (not JSON), AXL_ETYPE, AXL_EMISSING,
 * AXL_EINVAL, AXL_ENOMEM.
 */
int axl_pascal_plan_load(const char *path, unsigned flags, axl_pascal_plan *out, axl_errbuf *eb);

/* Same from a parsed document (borrowed). */
int axl_pascal_plan_parse(const json_t *root, unsigned flags, axl_pascal_plan *out, axl_errbuf *eb);

void axl_pascal_plan_free(axl_pascal_plan *p);

/* Statistics at the file's start times with the chains' (model) durations. */
void axl_pascal_plan_stats(const axl_pascal_plan *p, axl_pascal_stats *out);

/* A timeline configuration for the plan: the file's hotplate setpoints (one plate per
 * setpoint; 3 free plates when the file has none), 30 slots per plate, 45 tray slots. */
void axl_pascal_plan_tl_config(const axl_pascal_plan *p, axl_tl_config *cfg);

/*
 * Places every sample on tl, one at a time in file order, each released at `release`
 * (sample i gets id first_id + i). Returns 0 or the first axl_tl_place error.
 */
int axl_pascal_plan_place(const axl_pascal_plan *p, axl_timeline *tl, uint64_t first_id,
                          double release, axl_errbuf *eb);

#endif
