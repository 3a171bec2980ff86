/*
 * axl_devcfg.h - the line's devices (`line.devices` in the experiment's lab section, or the
 * file given to `axle worker --devices`): per role, which real devices it drives, where
 * each is plugged in (a tty path, or a USB vendor:product[:serial] found under
 * /sys/class/tty as PASCAL finds them; the OT-2 by URL) and its calibration constants
 * (station coordinates, hotplate slot grids, tray grid, frame, heights, speeds). A role
 * that is absent runs the simulated driver (the default). hw/devices/README.md documents
 * every key.
 *
 * Pure: no I/O. Every error names its JSON path ("lab.line.devices.gripper.gantry.port:
 * ..."); unknown keys are errors. The structs are flat (no pointers): copy them freely.
 */
#ifndef AXL_DEVCFG_H
#define AXL_DEVCFG_H

#include <jansson.h>
#include <stdbool.h>

#include "hw/devices/axl_serial.h"
#include "proto/axl_error.h"
#include "proto/axl_wire.h"

#define AXL_DEVCFG_PLATES 3
#define AXL_DEVCFG_STR 256

/* Where a serial device is plugged in: a path, or USB ids. */
typedef struct axl_devport {
    char path[AXL_DEVCFG_STR]; /* "" when found by USB ids */
    char vid[8], pid[8];       /* hex, "" with a path */
    char serial[64];           /* "" = any */
} axl_devport;

/* A grid of slots: slot A1 at origin, columns along +x, rows A, B, ... along -y (PASCAL's
 * geometry: row A has the highest y), all at origin's z. */
typedef struct axl_slot_grid {
    double origin[3];
    double pitch[2]; /* mm between columns (x), rows (y) */
    int rows, columns;
} axl_slot_grid;

typedef struct axl_devcfg_spincoater {
    bool on;
    axl_devport odrive, relay;
    int vacuum;                   /* relay index of the vacuum solenoid (PASCAL's 15: "8") */
    char ot2_url[AXL_DEVCFG_STR]; /* ws://HOST:PORT */
} axl_devcfg_spincoater;

typedef struct axl_devcfg_plate {
    axl_devport port;
    double setpoint; /* written before the plate's first anneal; NaN: none */
} axl_devcfg_plate;

typedef struct axl_devcfg_hotplate {
    bool on;
    int nplates;
    axl_devcfg_plate plate[AXL_DEVCFG_PLATES];
    double tolerance_c;      /* settled when |T - setpoint| <= this (2) */
    double settle_timeout_s; /* device seconds to settle before the anneal fails (1800) */
    double poll_s;           /* device seconds between temperature reads while settling (5) */
} axl_devcfg_hotplate;

typedef struct axl_devcfg_gripper {
    bool on;
    axl_devport gantry, gripper;
    double frame_min[3], frame_max[3]; /* the gantry's frame (0-567, 0-282, 0-166) */
    double z_travel;                   /* travel height: PASCAL's z ceiling 77 */
    double workspace_x;                /* the OT-2 frame ends here (192.25) */
    double transition_y;               /* frame transitions at y = 60 */
    double feed_mm_min;                /* G0 F (20000) */
    double open_mm, grip_mm;           /* catch-open 12.7, grip 8 */
    int catch_tries;                   /* grip attempts before failing (3) */
    axl_slot_grid tray;                /* the storage tray */
    int nplates;
    axl_slot_grid plate[AXL_DEVCFG_PLATES]; /* hotplate slots */
    double spincoater[3];                   /* the chuck (1.5, 7.4, 58.3) */
    double characterization[3];             /* the transfer point (564.8, 243.1, 63.6) */
} axl_devcfg_gripper;

typedef struct axl_devcfg_char {
    bool on;
    axl_devport axis, shutter, slider, relay;
    bool has_shutter, has_slider, has_relay; /* optional devices */
    char plugin[AXL_DEVCFG_STR];             /* instrument plugin (.so) path, required */
    char plugin_config[AXL_DEVCFG_STR];      /* handed to the plugin's open; "" */
    double exposures_ms[4];                  /* PL exposures (PASCAL's 1, 5, 20 s) */
    int nexposures;
} axl_devcfg_char;

typedef struct axl_line_devices {
    axl_devcfg_spincoater spincoater;
    axl_devcfg_hotplate hotplate;
    axl_devcfg_gripper gripper;
    axl_devcfg_char characterization;
} axl_line_devices;

/* Every role off, the constants at PASCAL's values. */
void axl_devcfg_default(axl_line_devices *d);

/*
 * Parses the `devices` object j (path names it in messages, e.g. "lab.line.devices") into
 * *out (defaults first). Returns 0 or AXL_ECONFIG with eb naming the path.
 */
int axl_devcfg_parse(const json_t *j, const char *path, axl_line_devices *out, axl_errbuf *eb);

/* Reads a JSON file holding the devices object (or {"devices": {...}}). 0, AXL_EIO or
 * AXL_ECONFIG. */
int axl_devcfg_load(const char *file, axl_line_devices *out, axl_errbuf *eb);

/* Whether the role has real devices. */
bool axl_devcfg_role_on(const axl_line_devices *d, axl_worker_role role);

/* Fills serial options for a port (strings borrowed from p). */
void axl_devport_serial(const axl_devport *p, axl_serial_opts *o, const char *name, int baud,
                        int data_bits, char parity);

/* Position of slot "B3" on grid g (AXL_EINVAL: not a slot of g). */
int axl_slot_grid_pos(const axl_slot_grid *g, const char *slot, double out[3]);
/* Position of slot index i (0-based, row-major: A1, A2, ...). */
void axl_slot_grid_pos_i(const axl_slot_grid *g, int i, double out[3]);

#endif
