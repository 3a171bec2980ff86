/*
 * axl_labware.h - what a sample consumes: pipette tips from tip racks, a slot in a
 * sample tray, and solution volume. Checked and reserved *before* a sample starts, so
 * that running out is a clear early error (AXL_EEXHAUSTED), never a crash mid-sample:
 *   "tip racks exhausted: sample 37 needs 2 tips, 1 left"
 *
 * Geometry follows PASCAL / Opentrons: a rack holds 96 tips (A1..H12) used column by
 * column from its starting tip (A1, B1, ..., H1, A2, ...); a tray holds 45 slots named
 * row letter + column (A1..A5, B1.., I5) filled row by row.
 *
 * The state (tips used, slots loaded, volume left) is part of the struct, which is flat
 * (no pointers). For persistence use axl_labware_to_json: its output is the experiment
 * file's "labware" shape plus the state fields, and axl_labware_parse reads it back.
 */
#ifndef AXL_LABWARE_H
#define AXL_LABWARE_H

#include "hw/line/axl_recipe.h"
#include "proto/axl_error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define AXL_LW_MAX_RACKS 8
#define AXL_LW_MAX_TRAYS 4
#define AXL_LW_MAX_SOLUTIONS 16
#define AXL_LW_TIPS_PER_RACK 96
#define AXL_LW_MAX_TRAY_SLOTS 64
#define AXL_LW_NAME_MAX 64
#define AXL_LW_MAX_TIPS_PER_SAMPLE (AXL_RECIPE_MAX_TASKS * AXL_SPIN_MAX_DROPS)

typedef struct axl_tiprack {
    char version[AXL_LW_NAME_MAX]; /* e.g. "sartorius_safetyspace_tiprack_200ul" */
    int deck_slot;                 /* liquid-handler deck position */
    unsigned first;                /* index of the starting tip (0 = A1, 51 = D7) */
    unsigned used;                 /* tips taken since the starting tip */
} axl_tiprack;

typedef struct axl_tray {
    char name[32];    /* e.g. "Tray1" */
    char version[32]; /* e.g. "storage_v1" */
    unsigned slots;   /* 1..64; PASCAL: 45 */
    unsigned columns; /* slots per row; PASCAL: 5 */
    uint64_t loaded;  /* bit i: slot i holds a sample */
} axl_tray;

typedef struct axl_solution {
    char name[AXL_LW_NAME_MAX]; /* the key recipes use, e.g. "methylacetate" */
    char solvent[AXL_LW_NAME_MAX];
    char solutes[AXL_LW_NAME_MAX];
    double molarity;
    char labware[AXL_LW_NAME_MAX]; /* e.g. "4mL_b_AntisolventTray" */
    char well[8];                  /* e.g. "D1" */
    double volume_ul;              /* left; INFINITY when not tracked */
    bool is_volatile;
} axl_solution;

typedef struct axl_labware {
    unsigned nracks;
    axl_tiprack rack[AXL_LW_MAX_RACKS]; /* used in this order */
    unsigned ntrays;
    axl_tray tray[AXL_LW_MAX_TRAYS]; /* filled in this order */
    unsigned nsolutions;
    axl_solution solution[AXL_LW_MAX_SOLUTIONS];
} axl_labware;

/* What one sample holds: where its tips come from, its tray slot, its volumes. */
typedef struct axl_lw_reservation {
    unsigned ntips;
    struct {
        uint8_t rack; /* index into axl_labware.rack */
        uint8_t tip;  /* 0..95, column-major */
    } tip[AXL_LW_MAX_TIPS_PER_SAMPLE];
    unsigned tray; /* index into axl_labware.tray */
    unsigned slot; /* 0.. within the tray */
    char slot_name[8];
    double volume_ul[AXL_LW_MAX_SOLUTIONS]; /* per axl_labware.solution index */
} axl_lw_reservation;

/*
 * Parses the "labware" object (path names it in messages, "labware" when NULL):
 *   {"tipracks": [{"version", "deck_slot", "starting_tip": "D7", "tips_used"?}],
 *    "trays": [{"name", "version"?, "slots"?: 45, "columns"?: 5, "loaded"?: ["A1"]}],
 *    "solutions": {"<name>": {"solvent"?, "solutes"?, "molarity"?, "labware"?, "well"?,
 *                             "volume_ul"?, "volatile"?}}}
 * volume_ul absent = not tracked. Unknown keys are errors. j is borrowed.
 * Returns 0, AXL_ETYPE, AXL_EMISSING, AXL_ERANGE, AXL_EINVAL, AXL_ETOOBIG.
 */
int axl_labware_parse(const json_t *j, const char *path, axl_labware *out, axl_errbuf *eb);
int axl_labware_parse_str(const char *text, size_t len, const char *path, axl_labware *out,
                          axl_errbuf *eb);

/* The state as JSON in the parse shape (a new reference, NULL when out of memory). */
json_t *axl_labware_to_json(const axl_labware *lw);

/* Tips left over all racks; free tray slots over all trays. */
unsigned axl_labware_tips_left(const axl_labware *lw);
unsigned axl_labware_slots_free(const axl_labware *lw);

/* Index of solution `name`, or -1. */
int axl_labware_solution(const axl_labware *lw, const char *name);

/*
 * Tips a recipe takes: one per drop, except a drop with reuse_tip that follows another
 * drop of the same sample (it keeps that drop's tip). The first drop of a sample always
 * takes a fresh tip - samples never share a tip.
 */
unsigned axl_recipe_tips_needed(const axl_recipe *r);

/*
 * Checks that the labware can run recipe r for the sample named `sample` (used in
 * messages) - tips, one tray slot, every solution known with enough volume - and, if so,
 * takes them and describes them in *res (may be NULL). Nothing is taken on an error.
 * Returns 0, AXL_EEXHAUSTED ("tip racks exhausted: sample 37 needs 2 tips, 1 left"),
 * AXL_ENOENT (a solution the labware does not have), AXL_EINVAL.
 */
int axl_labware_reserve(axl_labware *lw, const axl_recipe *r, const char *sample,
                        axl_lw_reservation *res, axl_errbuf *eb);

/* The same check without taking anything. */
int axl_labware_check(const axl_labware *lw, const axl_recipe *r, const char *sample,
                      axl_errbuf *eb);

/*
 * Gives back what a sample that never started holds: its tray slot and solution volume.
 * Tips are not given back: racks are used in order and a skipped tip is cheaper than a
 * hole in the order.
 */
void axl_labware_release(axl_labware *lw, const axl_lw_reservation *res);

/* Operator actions: empty a tray slot (by name, e.g. "B3"); put a fresh rack in
 * (starting at tip `starting_tip`, e.g. "A1"); set a solution's volume. 0 or AXL_EINVAL /
 * AXL_ENOENT. */
int axl_labware_unload(axl_labware *lw, unsigned tray, const char *slot);
int axl_labware_replace_rack(axl_labware *lw, unsigned rack, const char *starting_tip);
int axl_labware_refill(axl_labware *lw, const char *solution, double volume_ul);

/* "D7" <-> 51 (column-major, 96 tips). Parse returns 0 or AXL_EINVAL. */
int axl_tip_parse(const char *name, unsigned *index);
void axl_tip_name(unsigned index, char buf[4]);

/* Tray slot names: row letter + column ("A1" = 0, "B1" = columns). */
int axl_tray_slot_parse(const axl_tray *t, const char *name, unsigned *index);
void axl_tray_slot_name(const axl_tray *t, unsigned index, char buf[8]);

#endif
