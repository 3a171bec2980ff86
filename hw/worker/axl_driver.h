/*
 * axl_driver.h - what a worker needs from the device it drives: one ops table per kind
 * of device, so that a real spin coater, hotplate, gantry or spectrometer plugs in
 * behind the same worker (hw/worker/worker.c) that runs the simulated line today.
 *
 * Contract (libuv style, like engine/runner.h):
 *  - Every call is made on the worker's loop thread, and the driver reports on that
 *    thread through the callbacks in axl_driver (finished / failed / progress). A driver
 *    whose device talks on other threads marshals with uv_async_send.
 *  - start_task either returns an error (no callback follows for that task) or later
 *    calls exactly one of finished / failed for it, never from inside start_task.
 *  - After cancel returns, no callback is made for that task.
 *  - After close returns, no callback is made at all; close_cb fires when the driver's
 *    handles are closed and its memory freed.
 */
#ifndef AXL_DRIVER_H
#define AXL_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "hw/line/axl_task.h"
#include "proto/axl_error.h"
#include "proto/axl_wire.h"

/* One task handed to a driver. Owned by the worker; valid until the driver's finished /
 * failed callback for it returns, or until cancel returns. */
typedef struct axl_drv_task {
    const char *id;         /* "<experiment>/<trial>/<index>" */
    const char *experiment; /* experiment name */
    uint32_t trial, index;
    axl_task_spec spec; /* decoded params, model duration in spec.ct.duration */
    void *drv;          /* the driver's per-task state */
    void *data;         /* the worker's */
} axl_drv_task;

/* What every driver is configured with. Strings borrowed for the driver's life. */
typedef struct axl_driver_opts {
    axl_worker_role role;
    double speed;         /* time compression: model seconds per wall second (sim) */
    uint64_t seed;        /* simulated noise and failures */
    double fail_rate;     /* probability that a task fails (sim) */
    const char *data_dir; /* where data files go: <data_dir>/<experiment>/PL/<sample>_pl.csv */
    const struct axl_line_devices *devices; /* real devices (axl_devcfg.h); NULL: none */
} axl_driver_opts;

typedef struct axl_driver axl_driver;

typedef struct axl_driver_ops {
    const char *name;
    int (*init)(axl_driver *d, uv_loop_t *loop, const axl_driver_opts *o, axl_errbuf *eb);
    int (*start_task)(axl_driver *d, axl_drv_task *t, axl_errbuf *eb);
    int (*cancel)(axl_driver *d, axl_drv_task *t);
    void (*close)(axl_driver *d, void (*close_cb)(axl_driver *d));
} axl_driver_ops;

struct axl_driver {
    const axl_driver_ops *ops;
    void *impl; /* the driver's */
    void *data; /* the worker's */
    /* Set by the worker before init. result: one msgpack map (axl_raw rules), borrowed
     * for the call. */
    void (*progress)(axl_driver *d, axl_drv_task *t, double fraction, const char *note);
    void (*finished)(axl_driver *d, axl_drv_task *t, const void *result, size_t result_len);
    void (*failed)(axl_driver *d, axl_drv_task *t, const char *reason, bool retryable);
};

/*
 * The simulated line: each task takes its model duration (axl_sim_task_seconds: PASCAL's
 * durations and move table) divided by `speed`, with a progress report half way; a task
 * fails with probability `fail_rate` (deterministic per seed and task id). The
 * characterization driver draws the film's PL spectrum from the film model (seeded per
 * seed, experiment and sample, so reruns give the same file), writes it in PASCAL's CSV
 * layout to <data_dir>/<experiment>/PL/<sample>_pl.csv and fits it (axl_pl_analyze_file,
 * the task's window; default 650-1100 nm, guess 730 nm). Its result:
 *   {"spectrum": path, "pl_intensity", "pl_peak_ev", "pl_peak_nm", "pl_fwhm_ev",
 *    "pl_dwell_ms", "pl_noise"}     or, when the fit fails,   {"spectrum", "pl_error"}
 */
extern const axl_driver_ops axl_driver_sim_ops;

/*
 * The sample's process record after a spin coat (its antisolvent drop) or an anneal:
 * <data_dir>/<experiment>/sim/<sample>.film (volume, rate, timing, anneal duration),
 * written atomically. The simulated line keeps its films there; on a line of real or
 * emulated devices the spin coater and hotplate roles write it too, for a simulated
 * instrument (the sim-spectrometer plugin) to measure. 0 (also when the task made no film
 * the model knows) or AXL_EINVAL / AXL_EIO.
 */
int axl_sim_film_record(const char *data_dir, const axl_drv_task *t);

/*
 * Real devices (driver_dev.c and one file per role): each role composed from the drivers
 * of hw/devices as PASCAL composes them, configured by opts.devices (axl_devcfg.h):
 *   spincoater        ODrive + vacuum relay + OT-2 (aspirate / stage / dispense timed to
 *                     the drops), spin steps, stop, vacuum off
 *   hotplate          a controller per plate: setpoint (echo-checked), settle, hold,
 *                     temperature read-back
 *   gripper           gantry + gripper: station coordinates, travel height and frame
 *                     transitions, catch with load check and retries, release
 *   characterization  axis + shutter + sliders + lights relay + an instrument plugin
 *                     (axl_instrument.h): spectra written and fitted like the simulated
 *                     line's
 * rests are waits in every role; storage has no devices (PASCAL's storage only waits).
 * Failures carry the device's words; nothing blocks the loop.
 */
extern const axl_driver_ops axl_driver_dev_ops;

#endif
