/*
 * axl_task.h - one chain task as it travels to a worker: the wire `kind`, the role that
 * runs it, and its `params` raw map (proto/README.md §6.2) with every detail a driver
 * needs. The engine encodes it from a chain task and its recipe entry; the worker
 * decodes it (untrusted bytes: every field is range-checked as the recipe validator
 * does) and its driver computes the duration from the details with PASCAL's model.
 *
 * params by kind (all keys optional unless marked; units as in axl_recipe.h):
 *   every kind   "sample" (str, req), "name" (PASCAL's task name, e.g.
 *                "storage_to_spincoater"), "slot" (tray slot, "A3"), "plate" (hotplate
 *                index, for anneals and moves on or off a plate)
 *   move         "from", "to" (station names, req)
 *   spincoat     "rpm", "accel", "duration" (arrays of one entry per step, req),
 *                "drops" {"0": drop, "1": drop} (req), drop = {"solution" (req),
 *                "volume" (req), "time" (req), "rate", "height", "pre_mix" [cycles, uL],
 *                "reuse_tip", "touch_tip", "slow_travel", "blow_out", "air_gap",
 *                "slow_retract", "volatile"}
 *   anneal       "temperature", "duration" (req)
 *   rest         "duration" (req), "at" (station, default storage)
 *   characterize "measurements" {"<name>": {"duration", "position"}} (req, in order),
 *                "film" {"volume", "rate", "timing", "anneal"} (the simulator's knowledge
 *                of the film; a real driver ignores it), "pl" {"wl_min", "wl_max",
 *                "wl_guess"} (the PL fit window)
 *
 * Everything here is pure (no I/O, no globals) and reentrant.
 */
#ifndef AXL_TASK_H
#define AXL_TASK_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include "hw/line/axl_chain.h"
#include "hw/line/axl_film_model.h"
#include "hw/line/axl_pl.h"
#include "hw/line/axl_recipe.h"
#include "proto/axl_error.h"
#include "proto/axl_wire.h"

#define AXL_TASK_SAMPLE_MAX 64 /* bytes of a sample name, NUL included */

typedef struct axl_task_spec {
    axl_chain_task ct; /* kind, stations, model duration (s), temperature */
    axl_rtask rt;      /* the recipe entry (not for moves) */
    char sample[AXL_TASK_SAMPLE_MAX];
    char slot[8]; /* "" when none */
    int plate;    /* -1 when none */
    bool has_film;
    axl_film_inputs film;
    bool has_pl;
    double pl_wl_min, pl_wl_max, pl_wl_guess;
} axl_task_spec;

/* The role whose worker runs a chain task: moves -> gripper, every other task -> the
 * station it runs at (a rest in storage -> storage). */
axl_worker_role axl_task_role(const axl_chain_task *t);

/* Parses a wire kind ("move", "spincoat", ...); 0 or AXL_EINVAL. */
int axl_task_kind_parse(const char *s, size_t len, axl_task_kind *out);

/* Whether a worker of `role` runs tasks of `kind` (a rest runs anywhere). */
bool axl_role_runs(axl_worker_role role, axl_task_kind kind);

/*
 * Fills the spec of chain task k of a sample: ct from the chain, rt from the recipe
 * entry it came from. sample is copied. Other fields zeroed (plate -1). Never fails.
 */
void axl_task_spec_from_chain(const axl_chain *c, uint32_t k, const axl_recipe *r,
                              const char *sample, axl_task_spec *out);

/*
 * Appends the params raw map of s to out (a map that passes axl_wire_raw_check).
 * Returns 0, AXL_EINVAL (a string that does not fit) or AXL_ENOMEM.
 */
int axl_task_spec_encode(const axl_task_spec *s, msgpack_sbuffer *out, axl_errbuf *eb);

/*
 * Reads params (raw[0..len), already checked by the wire decoder) of a task of `kind`
 * into *out and recomputes the model duration (out->ct.duration) from the details.
 * Messages name the field: "params.drops.1.rate: 5 is outside 10-2000".
 * Returns 0, AXL_EMISSING, AXL_ETYPE, AXL_ERANGE, AXL_EINVAL or AXL_ENOMEM.
 */
int axl_task_spec_decode(axl_task_kind kind, const void *raw, size_t len, axl_task_spec *out,
                         axl_errbuf *eb);

#endif
