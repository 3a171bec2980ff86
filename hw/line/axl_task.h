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
 *                "pl" {"wl_min", "wl_max", "wl_guess"} (the PL fit window). Only what an
 *                instrument needs: the simulated line knows its films from the steps its
 *                own devices ran (hw/worker/driver_sim.c), never from a message.
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

/*
 * The characterization's result (finished.result), written by a characterization driver
 * and read by the engine (pl_result.c): {"spectrum", "pl_intensity", "pl_peak_ev",
 * "pl_peak_nm", "pl_fwhm_ev", "pl_dwell_ms", "pl_noise"} for a fitted spectrum, or
 * {"spectrum", "pl_error"} when the fit gave no peak.
 */
typedef struct axl_pl_outcome {
    char spectrum[1024]; /* the spectrum file's path; "" when absent */
    bool fitted;         /* the metrics below are valid; else error says why */
    double intensity, peak_ev, fwhm_ev;
    char error[AXL_WIRE_MAX_TEXT + 1];
} axl_pl_outcome;

/* Appends the result map: fitted when r is not NULL and its numbers are finite, else
 * {spectrum, pl_error: error (or a default)}. Returns 0 or AXL_ENOMEM. */
int axl_pl_result_encode(const char *spectrum, const axl_pl_result *r, const char *error,
                         msgpack_sbuffer *out);

/*
 * Reads a result (untrusted): only physically sensible numbers are metrics (intensity
 * 0..1e12 counts/s, peak 0.1..10 eV, FWHM 1e-6..10 eV). Returns 0 (out->fitted, or
 * out->error with the worker's reason), or AXL_EPROTO / AXL_EMISSING / AXL_ETYPE /
 * AXL_ERANGE with eb naming the field.
 */
int axl_pl_result_decode(const void *raw, size_t len, axl_pl_outcome *out, axl_errbuf *eb);

#endif
