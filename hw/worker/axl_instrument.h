/*
 * axl_instrument.h - the instrument plugin ABI: instruments that only exist behind a
 * vendor SDK (PASCAL's StellarNet spectrometer, its Thorlabs TSI cameras) plug into the
 * characterization role as a shared object loaded with dlopen(3). A plugin is a small C
 * file around the vendor's library that exports ONE symbol, AXL_INSTR_ENTRY, returning
 * its ops table. hw/worker/plugins/sim_spectrometer.c is the first plugin (a simulated
 * spectrometer); `line.devices.characterization.instrument` names the file.
 *
 * This header is the whole contract; it includes nothing of axle's and a plugin links
 * nothing of axle's. Versioning: the table starts with abi_version; the host refuses a
 * plugin whose abi_version differs from its AXL_INSTR_ABI_VERSION (with a message naming
 * both), so a change of any struct below bumps the version.
 *
 * Threads: vendor SDK calls block (an exposure takes its time), so the host calls
 * `spectrum` and `capture` on a thread of libuv's pool, never on its loop thread, and
 * never two calls on one instance at once. `open` and `close` are called on the host's
 * loop thread. A plugin may start its own threads; it must stop them in `close`.
 *
 * Ownership and lifetime of every pointer (LMDB style):
 *  - axl_instr_host and every string in it are the host's, valid only during `open`: copy
 *    what you keep.
 *  - *inst (written by `open`) is the plugin's; the host passes it back unchanged and
 *    never frees it. It is valid until `close` returns.
 *  - A request (and its strings) is the host's, valid only during the call.
 *  - A result's arrays (wl_nm, counts, pixels) are the plugin's, valid until the next
 *    call on the same instance or `close`, whichever comes first: the host copies them
 *    before it calls again. The host never frees them.
 *  - err is the host's buffer of err_len bytes (>= 128): on failure write one line of
 *    reason into it, NUL-terminated.
 *  - The ops table itself is the plugin's static data, valid while the object is loaded
 *    (the host dlcloses after the last `close`).
 *
 * Return values: 0 on success; anything else is a failure described in err (the host turns
 * it into a failed task carrying that reason). A function the plugin does not provide is
 * NULL and its capability bit is clear.
 *
 * Units: wavelengths in nm, exposures in ms, counts as the detector reports them
 * (saturated pixels at `saturation`, e.g. 65535 for a 16-bit detector), pixels of an
 * image row-major, 16-bit.
 */
#ifndef AXL_INSTRUMENT_H
#define AXL_INSTRUMENT_H

#include <stddef.h>
#include <stdint.h>

#define AXL_INSTR_ABI_VERSION 1u
#define AXL_INSTR_ENTRY "axl_instrument_entry" /* const axl_instr_ops *(*)(void) */

#define AXL_INSTR_CAP_SPECTRUM 1u /* `spectrum` is provided */
#define AXL_INSTR_CAP_CAPTURE 2u  /* `capture` is provided */

/* What the host tells the plugin at open. */
typedef struct axl_instr_host {
    uint32_t abi_version; /* the host's AXL_INSTR_ABI_VERSION */
    const char *config;   /* instrument.config from the line's devices, "" if none */
    const char *data_dir; /* the worker's data directory (a plugin may keep raw files there) */
    double time_scale;    /* 1 on a real line; an emulated line's time compression */
    uint64_t seed;        /* for simulated instruments' noise; ignore on hardware */
} axl_instr_host;

/* One spectrum: what is measured and how. */
typedef struct axl_instr_spectrum_req {
    double exposure_ms;     /* integration time, ms (PASCAL: 1000, 5000, 20000) */
    uint32_t scans_to_avg;  /* >= 1 */
    uint32_t smooth;        /* boxcar smoothing level 0-4 (StellarNet x_smooth) */
    const char *experiment; /* the sample under the instrument, for file headers and */
    const char *sample;     /* for simulated instruments (their "physics") */
} axl_instr_spectrum_req;

typedef struct axl_instr_spectrum {
    size_t npix;          /* 1 - 65536 */
    const double *wl_nm;  /* [npix], increasing */
    const double *counts; /* [npix] */
    double saturation;    /* counts at or above this are saturated */
} axl_instr_spectrum;

/* One image: the average of `frames` frames at `exposure_ms`. */
typedef struct axl_instr_image_req {
    double exposure_ms;
    uint32_t frames; /* >= 1 */
    const char *experiment, *sample;
} axl_instr_image_req;

typedef struct axl_instr_image {
    uint32_t width, height; /* 1 - 16384 each */
    const uint16_t *pixels; /* [width * height], row-major */
} axl_instr_image;

typedef struct axl_instr_ops {
    uint32_t abi_version; /* must be AXL_INSTR_ABI_VERSION */
    const char *name;     /* "stellarnet", "sim-spectrometer" */
    uint32_t caps;        /* AXL_INSTR_CAP_* */
    int (*open)(const axl_instr_host *host, void **inst, char *err, size_t err_len);
    int (*spectrum)(void *inst, const axl_instr_spectrum_req *req, axl_instr_spectrum *out,
                    char *err, size_t err_len);
    int (*capture)(void *inst, const axl_instr_image_req *req, axl_instr_image *out, char *err,
                   size_t err_len);
    void (*close)(void *inst);
} axl_instr_ops;

/* The plugin's one exported function (AXL_INSTR_ENTRY). */
typedef const axl_instr_ops *(*axl_instr_entry_fn)(void);

#endif
