/*
 * axl_timeline.h - the task timeline: PASCAL's stations as resources with capacities,
 * and samples' task chains placed on them one at a time, online, at the earliest
 * feasible times, without moving samples already placed.
 *
 * Resources and what holds them:
 *   gripper (1)            every move, for the move's duration
 *   spin coater (1)        a sample, from the start of the move onto it to the end of the
 *                          move off it (waiting on the chuck holds it too)
 *   characterization (1)   likewise
 *   hotplate slots         per plate (30 by default, up to 3 plates), from the move on to the
 *                          move off; a plate holds one temperature at a time, and a plate
 *                          without a fixed setpoint needs `retemper_s` between two
 *                          temperatures. Plates = temperature groups: at most n_plates
 *                          distinct temperatures at once.
 *   tray slots (45)        a sample from its first task's start to its last task's end
 * and PASCAL's immediacy rules (axl_chain_immediate): moves onto and off a hotplate and
 * off the spin coater start right when the task before ends; an anneal or a rest starts
 * right when its move ends; spin coats, characterizations and other moves may wait.
 *
 * Placement is greedy with repair: tasks are laid out in order at their earliest free
 * time; a conflict on a rigid (immediate) task pushes the start of its rigid block later,
 * a conflict on a station held across several tasks pushes the task that takes the
 * station later, and the layout resumes from there. Lower bounds only grow, so it ends;
 * each check is a binary search in a step profile per resource. No solver: a placement
 * with 100 samples in flight takes tens of microseconds.
 *
 * Times are seconds on the caller's clock (e.g. seconds since the campaign started).
 * Not thread-safe: one owner (the engine's loop thread) calls everything.
 */
#ifndef AXL_TIMELINE_H
#define AXL_TIMELINE_H

#include "hw/line/axl_chain.h"
#include "proto/axl_error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define AXL_TL_MAX_PLATES 3

typedef struct axl_tl_config {
    unsigned tray_slots;  /* samples in flight at once; PASCAL's tray: 45 */
    unsigned n_plates;    /* 1..AXL_TL_MAX_PLATES */
    unsigned plate_slots; /* per plate; PASCAL: 30 (6 x 5) */
    /* Fixed setpoint per plate in °C, or NaN for a plate that takes the temperature of
     * the films on it (then `retemper_s` separates two temperatures). */
    double plate_setpoint[AXL_TL_MAX_PLATES];
    double retemper_s; /* settle time of a free plate between temperatures */
    /*
     * Compaction of the single-capacity stations (spin coater, characterization): a
     * visit never starts so that the station idles for less than `compact` x the
     * chain's own visit there - such a sliver can never serve the next samples of the
     * same recipe. 0 = pure earliest-start placement.
     */
    double compact;
} axl_tl_config;

/* 45 tray slots, 3 free plates of 30 slots, 600 s to change a plate's temperature
 * (axle's assumption; PASCAL fixes its setpoints per experiment), compact = 1. */
void axl_tl_config_default(axl_tl_config *cfg);

/* Placement of one task. */
/*
 * Parses the experiment file's "line" object (path names it in messages, "line" when
 * NULL) over the defaults:
 *   {"tray_slots": 45, "plate_slots": 30, "retemper_s": 600, "compact": 0,
 *    "hotplates": [{"setpoint": 100}, {"setpoint": null}]}      (null = free plate)
 * Every key is optional; unknown keys are errors. j may be NULL (defaults). Validated as
 * axl_tl_new does. Returns 0, AXL_ETYPE, AXL_ERANGE, AXL_EINVAL.
 */
int axl_tl_config_parse(const json_t *j, const char *path, axl_tl_config *cfg, axl_errbuf *eb);

typedef struct axl_tl_slot {
    double start;
    double end;
    int plate; /* hotplate index for the moves on/off a plate and the tasks on it, else -1 */
} axl_tl_slot;

/* Resources as reported by axl_tl_stats. */
typedef enum {
    AXL_TL_GRIPPER = 0,
    AXL_TL_SPINCOATER = 1,
    AXL_TL_CHARACTERIZATION = 2,
    AXL_TL_HOTPLATE = 3, /* slot-seconds over all plates */
    AXL_TL_TRAY = 4,     /* slot-seconds */
} axl_tl_resource;

#define AXL_TL_RESOURCE_COUNT 5

const char *axl_tl_resource_name(axl_tl_resource r); /* never NULL */

typedef struct axl_tl_stats {
    size_t samples;
    double first_release; /* earliest release time of a placed sample */
    double first_start;   /* earliest task start */
    double last_end;      /* latest task end */
    double makespan;      /* last_end - first_release */
    /* Time each resource is held (capacity-1 resources: including waits on the station). */
    double busy[AXL_TL_RESOURCE_COUNT];
    /*
     * Lower bounds on the makespan (both measured from first_release), from the
     * single-capacity resources (gripper, spin coater, characterization) - "visits" are a
     * sample's stretches holding the resource, counted without waits:
     *  busy_bound      max over resources of: earliest possible first visit + Σ visits +
     *                  shortest chain tail after a visit. The busiest station's busy time,
     *                  corrected for the work that must come before and after it.
     *  makespan_bound  the same taken over every release-ordered suffix of the visits
     *                  (max over k of r_k + Σ_{r_j >= r_k} p_j + min q_j), i.e. the exact
     *                  optimum of the bottleneck alone with its visits' release dates.
     *                  >= busy_bound; still a valid bound for any schedule of these chains.
     * bound / makespan = throughput relative to the bound (1.0 = at the bound).
     */
    double busy_bound;
    double makespan_bound;
    axl_tl_resource bottleneck; /* the resource that sets makespan_bound */
} axl_tl_stats;

typedef struct axl_timeline axl_timeline;

/* Creates an empty timeline; *out is owned by the caller (axl_tl_free).
 * Returns 0, AXL_EINVAL (bad config), AXL_ENOMEM. cfg NULL = defaults. */
int axl_tl_new(const axl_tl_config *cfg, axl_timeline **out, axl_errbuf *eb);
void axl_tl_free(axl_timeline *tl);

/*
 * Places sample `id`'s chain at the earliest feasible times not before `release`,
 * leaving every placed sample where it is. The chain is copied. slots (caller-owned,
 * chain->n entries, may be NULL) receives each task's placement.
 * Returns 0, AXL_EEXIST (id already placed), AXL_EINVAL (chain not valid),
 * AXL_ERANGE (an anneal temperature no plate can hold), AXL_ENOMEM, AXL_EAGAIN (no
 * placement found within the iteration limit; never seen in practice).
 */
int axl_tl_place(axl_timeline *tl, uint64_t id, const axl_chain *chain, double release,
                 axl_tl_slot *slots, axl_errbuf *eb);

/*
 * Inserts sample `id` at given start times (e.g. restoring a persisted plan, or pinning
 * tasks that already ran). The order, immediacy and capacities are checked; plates are
 * chosen here. slots may be NULL. Returns 0, AXL_EEXIST, AXL_EINVAL, AXL_ERANGE,
 * AXL_EBUSY (the times conflict with the plan; the message says where), AXL_ENOMEM.
 */
int axl_tl_insert(axl_timeline *tl, uint64_t id, const axl_chain *chain, const double *start,
                  axl_tl_slot *slots, axl_errbuf *eb);

/*
 * Re-plans sample `id` after reality diverged from its plan: tasks [0, done) ran at
 * actual[0..done) (start and end as they happened; they stay where they were, a film
 * already on a plate stays on it) and the rest of the chain is placed again at the
 * earliest feasible times not before `now` (an immediate task still starts right when
 * its predecessor ended). Other samples are not moved: when the frozen part now
 * overlaps them, or only an already-run task could make room, the answer is AXL_EBUSY
 * and the old plan stays; the runner then removes the samples in the way that have
 * not started (axl_tl_remove), re-plans this one and places them again.
 * The sample moves to the end of the placement order. slots may be NULL.
 * Returns 0, AXL_ENOENT, AXL_EINVAL (actual times out of order), AXL_EBUSY, AXL_ENOMEM.
 */
int axl_tl_replan(axl_timeline *tl, uint64_t id, uint32_t done, const axl_tl_slot *actual,
                  double now, axl_tl_slot *slots, axl_errbuf *eb);

/*
 * Like axl_tl_replan, but the rest of the chain is replaced: tasks [0, done) of `chain`
 * are the ones placed (they ran at actual[0..done)) and its tasks from `done` on are
 * placed at the earliest feasible times not before `now`. The lab runner's clearing move
 * (engine/lab/clearing.c): a sample whose trial ended is cut after its last step and sent
 * back to storage; the station it is on stays held until that move's end. The chain is
 * copied; it must be valid (axl_chain_validate: a film taken off a hotplate before its
 * anneal makes a visit without an anneal, refused). 0 < done < chain->n. slots may be NULL.
 * Returns 0, AXL_ENOENT, AXL_EINVAL (bad chain, other tasks before `done`, times out of
 * order), AXL_EBUSY (as axl_tl_replan), AXL_ERANGE, AXL_ENOMEM; on error the old plan stays.
 */
int axl_tl_reroute(axl_timeline *tl, uint64_t id, const axl_chain *chain, uint32_t done,
                   const axl_tl_slot *actual, double now, axl_tl_slot *slots, axl_errbuf *eb);

/* Frees every resource sample `id` holds (completed, failed or canceled).
 * Returns 0 or AXL_ENOENT. */
int axl_tl_remove(axl_timeline *tl, uint64_t id);

/*
 * The plan of sample `id`: *chain and *slots point into the timeline (borrowed; valid
 * until that sample is removed or the timeline freed). Either may be NULL.
 * Returns 0 or AXL_ENOENT.
 */
int axl_tl_get(const axl_timeline *tl, uint64_t id, const axl_chain **chain,
               const axl_tl_slot **slots);

/* Placed samples, in placement order: axl_tl_id(tl, i) for i < axl_tl_count(tl). */
size_t axl_tl_count(const axl_timeline *tl);
uint64_t axl_tl_id(const axl_timeline *tl, size_t i);

/* Release time the sample was placed with (NaN for an unknown id). */
double axl_tl_release(const axl_timeline *tl, uint64_t id);

/* Totals over the placed samples (zeros when empty). */
void axl_tl_stats_get(const axl_timeline *tl, axl_tl_stats *out);

/* The configuration in use. */
const axl_tl_config *axl_tl_config_of(const axl_timeline *tl);

#endif
