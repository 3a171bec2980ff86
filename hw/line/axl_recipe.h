/*
 * axl_recipe.h - a sample's worklist as data: PASCAL's spincoat / anneal / rest /
 * characterize tasks, their defaults, PASCAL's duration model, range validation, and
 * recipe *templates* whose numeric fields are bound to optimization parameters.
 *
 * Every type here is flat (fixed-size arrays, no pointers): a recipe can be copied with
 * `=` or memcpy, kept in an arena, or sent to a worker without deep-copy code. The cost
 * is size (an axl_recipe is ~7 KB, a template ~19 KB): allocate them once per trial,
 * not per event.
 *
 * Life of a recipe:
 *   experiment file  --axl_recipe_template_parse-->  axl_recipe_template   (once)
 *   template + {parameter name -> value}  --axl_recipe_instantiate-->  axl_recipe (per trial)
 *   axl_recipe  --axl_chain_from_recipe (axl_chain.h)-->  task chain for the timeline
 * The JSON shape is documented in hw/README.md.
 *
 * Units everywhere: seconds, µL, µL/s, rpm, rpm/s, °C, mm.
 */
#ifndef AXL_RECIPE_H
#define AXL_RECIPE_H

#include "proto/axl_error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AXL_RECIPE_MAX_TASKS 16 /* worklist entries per sample */
#define AXL_SPIN_MAX_STEPS 8
#define AXL_SPIN_MAX_DROPS 2 /* PASCAL's liquid handler: one or two drops per spin coat */
#define AXL_CHAR_MAX_MEAS 8
#define AXL_RECIPE_NAME_MAX 64 /* names incl. the terminating NUL */
#define AXL_RECIPE_MAX_BINDINGS 64
#define AXL_RECIPE_PATH_MAX 96 /* JSON path of a bound field, for messages */

/* PASCAL's ranges (validation) */
#define AXL_SPIN_RPM_MIN 200.0
#define AXL_SPIN_RPM_MAX 9000.0
#define AXL_SPIN_ACCEL_MIN 50.0
#define AXL_SPIN_ACCEL_MAX 5000.0
#define AXL_DROP_RATE_MIN 10.0
#define AXL_DROP_RATE_MAX 2000.0
#define AXL_DROP_HEIGHT_MAX 10.0
#define AXL_DROP_VOLUME_MAX 1000.0 /* sanity cap, not PASCAL's: no vial holds more per drop */
#define AXL_ANNEAL_TEMP_MIN 30.0
#define AXL_ANNEAL_TEMP_MAX 200.0
#define AXL_CHAR_AXIS_MAX 400.0 /* characterization axis, mm */
#define AXL_PREMIX_MAX_CYCLES 20

/* One spin step: [rpm, rpm/s, s]. */
typedef struct axl_spin_step {
    double rpm;
    double accel;
    double duration;
} axl_spin_step;

typedef struct axl_drop {
    char solution[AXL_RECIPE_NAME_MAX]; /* key into the labware's solutions */
    double volume;                      /* µL, > 0 */
    double time;            /* s from spin start; negative = static drop before spinning */
    double rate;            /* µL/s dispense rate */
    double height;          /* mm above the substrate */
    unsigned premix_cycles; /* pre_mix = (cycles, volume) */
    double premix_volume;   /* µL */
    bool reuse_tip;         /* use the tip of the sample's previous drop */
    bool touch_tip;
    bool slow_travel;
    bool blow_out;
    bool air_gap;
    bool slow_retract;
    bool is_volatile; /* antisolvent: only changes the defaults (axl_drop_defaults) */
} axl_drop;

typedef struct axl_spincoat {
    uint32_t nsteps;
    axl_spin_step step[AXL_SPIN_MAX_STEPS];
    uint32_t ndrops;
    axl_drop drop[AXL_SPIN_MAX_DROPS]; /* in time order */
} axl_spincoat;

typedef struct axl_anneal {
    double temperature; /* °C */
    double duration;    /* s */
} axl_anneal;

typedef struct axl_rest {
    double duration; /* s; PASCAL's default 300, the seed uses 180 */
} axl_rest;

/* One sub-measurement of the characterization line (PL, transmission, imaging, ...). */
typedef struct axl_measurement {
    char name[32];   /* e.g. "PL_635nm" */
    double duration; /* s, acquisition time */
    double position; /* mm along the characterization axis, 0..400 */
} axl_measurement;

typedef struct axl_characterize {
    uint32_t n;
    axl_measurement m[AXL_CHAR_MAX_MEAS];
} axl_characterize;

typedef enum {
    AXL_RTASK_SPINCOAT = 0,
    AXL_RTASK_ANNEAL = 1,
    AXL_RTASK_REST = 2,
    AXL_RTASK_CHARACTERIZE = 3,
} axl_rtask_kind;

typedef struct axl_rtask {
    axl_rtask_kind kind;
    union {
        axl_spincoat spincoat;
        axl_anneal anneal;
        axl_rest rest;
        axl_characterize characterize;
    } u;
} axl_rtask;

typedef struct axl_recipe {
    uint32_t ntasks;
    axl_rtask task[AXL_RECIPE_MAX_TASKS];
} axl_recipe;

/*
 * The numeric fields a binding can target. `index` in axl_binding says which step,
 * drop or measurement.
 */
typedef enum {
    AXL_FIELD_STEP_RPM = 0,
    AXL_FIELD_STEP_ACCEL,
    AXL_FIELD_STEP_DURATION,
    AXL_FIELD_DROP_VOLUME,
    AXL_FIELD_DROP_TIME,
    AXL_FIELD_DROP_RATE,
    AXL_FIELD_DROP_HEIGHT,
    AXL_FIELD_DROP_PREMIX_CYCLES, /* rounded to the nearest integer when bound */
    AXL_FIELD_DROP_PREMIX_VOLUME,
    AXL_FIELD_ANNEAL_TEMPERATURE,
    AXL_FIELD_ANNEAL_DURATION,
    AXL_FIELD_REST_DURATION,
    AXL_FIELD_MEAS_DURATION,
    AXL_FIELD_MEAS_POSITION,
    AXL_FIELD_COUNT
} axl_field_id;

/* field = offset + scale * parameters[param] */
typedef struct axl_binding {
    char param[AXL_RECIPE_NAME_MAX];
    double scale;
    double offset;
    uint16_t task;  /* worklist index */
    uint16_t index; /* step / drop / measurement index within the task */
    axl_field_id field;
    char path[AXL_RECIPE_PATH_MAX]; /* e.g. "recipe.worklist[0].drops[1].time" */
} axl_binding;

/* A recipe whose bound fields are NaN until instantiated. */
typedef struct axl_recipe_template {
    axl_recipe base;
    uint32_t nbindings;
    axl_binding binding[AXL_RECIPE_MAX_BINDINGS];
    char path[AXL_RECIPE_PATH_MAX]; /* JSON path of the recipe object, for messages */
} axl_recipe_template;

/* One entry of the caller's parameter map; name is borrowed for the call. */
typedef struct axl_recipe_arg {
    const char *name;
    double value;
} axl_recipe_arg;

/* --- defaults ------------------------------------------------------------------------ */

/*
 * PASCAL's drop defaults: rate 80 µL/s, height 2 mm, slow_retract, touch_tip, air_gap,
 * pre_mix (3, 50), no tip reuse, no slow travel, blow_out. A volatile (antisolvent) drop
 * defaults to touch_tip false, pre_mix (5, 100), slow_travel true. Solution, volume and
 * time are zeroed (they have no default).
 */
void axl_drop_defaults(axl_drop *d, bool is_volatile);

/* PASCAL's default characterization: the five measurements of its example netlist
 * (Brightfield, PL_635nm, Transmission, Darkfield, PLImaging; 181 s in all). */
void axl_characterize_defaults(axl_characterize *c);

/* The seed's recipe with the given parameter values (the notebook's build_sample):
 * spincoat [3000, 2000, 50] with 20 µL absorber at -1 s and the methyl-acetate drop,
 * anneal 100 °C, rest 180 s, characterize (defaults). Writes *out; never fails. */
void axl_recipe_seed(double antisolvent_volume, double antisolvent_rate, double antisolvent_timing,
                     double anneal_duration, axl_recipe *out);

/* --- PASCAL's duration model (seconds; exact, not rounded) ---------------------------- */

/* 10 + volume/100 + 2 + n_mix*(0.0209*v_mix + 0.5132) + 1.5*touch_tip + 3*slow_retract
 * + 2.5*air_gap */
double axl_drop_aspirate_s(const axl_drop *d);
/* 2 s, 4 s with slow_travel */
double axl_drop_stage_s(const axl_drop *d);
/* 0.8 s, 1 s with slow_travel */
double axl_drop_dispense_s(const axl_drop *d);
/* Σ steps + max(0, -t0) + liquid handling before the first drop lands */
double axl_spincoat_duration_s(const axl_spincoat *s);
/* Σ sub-durations + 10 s + Σ legs 0 -> each position -> 0 of |Δx|*0.0461 + 1.161 s */
double axl_characterize_duration_s(const axl_characterize *c);
/* Duration of any worklist entry by the model above (anneal and rest: their duration). */
double axl_rtask_duration_s(const axl_rtask *t);

const char *axl_rtask_kind_name(axl_rtask_kind k); /* "spincoat", ...; never NULL */

/* --- validation ------------------------------------------------------------------------ */

/*
 * Checks every field against PASCAL's ranges (rpm 200-9000, accel 50-5000 rpm/s, rate
 * 10-2000 µL/s, height 0-10 mm, volume > 0, temperature 30-200 °C, durations > 0,
 * 1-2 drops in time order, drops before the spin ends, positions 0-400 mm).
 * path prefixes the messages ("recipe" when NULL):
 *   "recipe.worklist[0].drops[1].rate: 5 µL/s is outside 10-2000"
 * Returns 0, AXL_ERANGE (a value out of range) or AXL_EINVAL (a structural problem).
 */
int axl_recipe_validate(const axl_recipe *r, const char *path, axl_errbuf *eb);

/* --- templates and parameter binding ----------------------------------------------------- */

/*
 * Parses a recipe object (the value of "recipe" in the experiment file's "lab" section)
 * into *out. path names that object in messages ("recipe" when NULL), e.g.
 * "lab.recipe.worklist[0].drops[1].volume: must be > 0 (got -3)".
 * A numeric field is a number or a binding {"param": name, "scale": 1, "offset": 0}.
 * Unknown keys are errors (they are almost always typos). Fields that are not bound are
 * range-checked here; bound fields are checked by axl_recipe_instantiate.
 * j is borrowed. Returns 0, AXL_ETYPE, AXL_EMISSING, AXL_ERANGE, AXL_EINVAL or
 * AXL_ETOOBIG (more tasks, steps, drops or bindings than the fixed limits).
 */
int axl_recipe_template_parse(const json_t *j, const char *path, axl_recipe_template *out,
                              axl_errbuf *eb);

/* Same from JSON text (len bytes, need not be NUL-terminated). */
int axl_recipe_template_parse_str(const char *text, size_t len, const char *path,
                                  axl_recipe_template *out, axl_errbuf *eb);

/*
 * Fills *out from the template with every binding applied, then validates it.
 * Every bound parameter must be in params (extra parameters are ignored); messages name
 * the bound field and its parameter:
 *   "recipe.worklist[0].drops[1].rate: 5 µL/s is outside 10-2000 (= 0 + 1 x antisolvent_rate)"
 * params is borrowed. Returns 0, AXL_EMISSING (a parameter is absent), AXL_ERANGE.
 */
int axl_recipe_instantiate(const axl_recipe_template *t, const axl_recipe_arg *params,
                           size_t nparams, axl_recipe *out, axl_errbuf *eb);

/*
 * Checks the template's unbound fields as axl_recipe_validate does (bound fields, and
 * the order checks they take part in, wait for axl_recipe_instantiate). The parser
 * calls it; call it yourself after building or editing a template in code.
 */
int axl_recipe_template_validate(const axl_recipe_template *t, axl_errbuf *eb);

/* The JSON path of a recipe field for messages: "worklist[2].drops[0].volume". */
void axl_recipe_field_path(uint16_t task, axl_field_id field, uint16_t index, char *buf,
                           size_t len);

#endif
