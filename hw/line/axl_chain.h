/*
 * axl_chain.h - a sample's task chain: the recipe's tasks in order with the gripper
 * moves between stations inserted, each with its duration by PASCAL's model. This is
 * what the timeline places and what the workers execute.
 *
 * A chain starts and ends with the sample in its storage-tray slot. Every non-move task
 * happens at the station the sample is at:
 *   spincoat -> spin coater, anneal -> hotplate, characterize -> characterization,
 *   rest -> storage (PASCAL rests films in the tray).
 * The chain is flat (no pointers) and at most AXL_CHAIN_MAX tasks long.
 */
#ifndef AXL_CHAIN_H
#define AXL_CHAIN_H

#include "hw/line/axl_recipe.h"
#include "hw/line/axl_stations.h"
#include "proto/axl_error.h"

#include <stdbool.h>
#include <stdint.h>

#define AXL_CHAIN_MAX 48

typedef enum {
    AXL_TASK_MOVE = 0, /* gripper carries the sample from `from` to `to` */
    AXL_TASK_SPINCOAT = 1,
    AXL_TASK_ANNEAL = 2,
    AXL_TASK_REST = 3,
    AXL_TASK_CHARACTERIZE = 4,
} axl_task_kind;

#define AXL_TASK_KIND_COUNT 5

typedef struct axl_chain_task {
    axl_task_kind kind;
    axl_station from;    /* move: source; other tasks: the station they run at */
    axl_station to;      /* move: destination; other tasks: == from */
    double duration;     /* seconds, PASCAL's duration model */
    double temperature;  /* °C for an anneal, NaN otherwise */
    int16_t recipe_task; /* index of the recipe worklist entry, -1 for moves */
} axl_chain_task;

typedef struct axl_chain {
    uint32_t n;
    axl_chain_task task[AXL_CHAIN_MAX];
} axl_chain;

/*
 * Builds the chain of a (validated) recipe: a move to the station of each task when
 * the sample is elsewhere, and a final move back to storage. Durations: spin coats and
 * characterizations by PASCAL's model (exact seconds, not rounded), moves by the move
 * table, anneal and rest their own duration.
 * Returns 0, AXL_EINVAL (recipe not valid) or AXL_ETOOBIG (chain longer than
 * AXL_CHAIN_MAX).
 */
int axl_chain_from_recipe(const axl_recipe *r, axl_chain *out, axl_errbuf *eb);

/*
 * Checks a chain built by other means (e.g. read from a PASCAL netlist): known kinds,
 * every task at the sample's current station, moves between distinct stations, finite
 * non-negative durations, anneals with a temperature and one temperature per hotplate
 * visit, start and end in storage. Returns 0 or AXL_EINVAL.
 */
int axl_chain_validate(const axl_chain *c, axl_errbuf *eb);

/*
 * PASCAL's immediacy rules: true when task k must start exactly when task k-1 ends.
 *  - a move off the spin coater or off a hotplate, and a move onto a hotplate;
 *  - an anneal or a rest right after a move.
 * Spin coats, characterizations and the other moves may wait. Task 0 is never
 * immediate (it waits for its release time).
 */
bool axl_chain_immediate(const axl_chain *c, uint32_t k);

/* "move", "spincoat", "anneal", "rest", "characterize"; never NULL. */
const char *axl_task_kind_name(axl_task_kind k);

/*
 * PASCAL's task name for a chain task, as in its netlists: "storage_to_spincoater",
 * "spincoat", "anneal", ... Writes at most len bytes (NUL-terminated).
 */
void axl_chain_task_name(const axl_chain_task *t, char *buf, size_t len);

/*
 * Simulated-line duration of a task in wall-clock seconds: the model duration divided
 * by the time-compression factor (1 = real time; 1000 runs a 4-hour campaign in ~15 s).
 * Returns NaN when compression is not a positive finite number.
 */
double axl_sim_task_seconds(const axl_chain_task *t, double time_compression);

#endif
