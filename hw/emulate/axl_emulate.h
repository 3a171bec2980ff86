/*
 * axl_emulate.h - emulators of PASCAL's devices (`axle emulate DEVICE`): each speaks its
 * device's protocol byte for byte (HARDWARE.md) on a pseudo-terminal - or, for the OT-2, a
 * local WebSocket - with the device's delays scaled by a time compression, and injects
 * faults on request. They exist so that every driver in hw/devices/ is proven against the
 * bytes it will meet, with no robot attached.
 *
 * One process, one device, one libuv loop. The pty's slave is symlinked at the path asked
 * for (`--pty PATH`), so a driver opens PATH as it would /dev/ttyACM0; after a
 * `disconnect` fault the emulator makes a new pty and moves the symlink to it (the device
 * plugged back in).
 *
 * Faults (`--fault KIND@N[:ARG]`, N = the 1-based index of the command the fault hits,
 * `N+` = that command and every later one; repeatable):
 *   noreply     the command is swallowed: no reply at all
 *   garble      the reply's first line has characters replaced (its terminator kept)
 *   truncate    the reply is cut in the middle of its first line; nothing more is sent
 *   badsum      the checksum is wrong (Modbus LRC; other devices: as garble)
 *   busy        the device's own busy / error answer (Marlin `Error:`, Modbus exception 6,
 *               ODrive `invalid property`, gripper `busy`, slider `GS09`, shutter `err`,
 *               OT-2 an `error` message)
 *   slow        the reply comes ARG wall ms late (default 3000)
 *   disconnect  the pty is closed on that command; a new one appears ARG wall ms later
 *               (default 200) at the same path
 */
#ifndef AXL_EMULATE_H
#define AXL_EMULATE_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "proto/axl_error.h"

typedef struct axl_emu axl_emu;

/* A device model: how commands are cut from the byte stream and what they do. */
typedef struct axl_emu_model {
    const char *name;
    /* Bytes of the next complete command at buf (0: not complete yet). */
    size_t (*frame)(axl_emu *e, const char *buf, size_t len);
    /* One command (its framing bytes included); replies with axl_emu_reply. */
    void (*command)(axl_emu *e, const char *cmd, size_t len);
    int (*init)(axl_emu *e, const char *opt); /* --opt string, may be NULL */
    void (*fini)(axl_emu *e);
} axl_emu_model;

/* The serial devices. */
extern const axl_emu_model axl_emu_gantry, axl_emu_axis, axl_emu_gripper, axl_emu_odrive,
    axl_emu_relay, axl_emu_hotplate, axl_emu_shutter, axl_emu_slider;

/* The model called name, NULL if none (the OT-2 is not a serial model: axl_emu_ot2_run). */
const axl_emu_model *axl_emu_model_find(const char *name);

/* Queues bytes to send `delay_ms` of device time from now, after everything queued
 * before (replies keep their order). The current command's faults apply. */
void axl_emu_reply(axl_emu *e, double delay_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether fault `kind` ("busy", "badsum") hits the command being handled. */
bool axl_emu_fault(axl_emu *e, const char *kind);

/* Device milliseconds since start (wall time x speed). */
double axl_emu_now(axl_emu *e);

/* The model's state. */
void *axl_emu_state(axl_emu *e);
void axl_emu_set_state(axl_emu *e, void *st);

typedef struct axl_emu_opts {
    const char *device;   /* gantry, axis, gripper, odrive, relay, hotplate, shutter,
                             slider, ot2 */
    const char *pty_path; /* where the pty's slave is symlinked */
    const char *listen;   /* the OT-2: ws://127.0.0.1:PORT */
    double speed;         /* time compression, >= 1 */
    const char *faults[16];
    int n_faults;
    const char *opt;      /* device options (e.g. the gantry's frame) */
    const char *log_path; /* every command received, C-escaped, one a line */
    bool quiet;
} axl_emu_opts;

/* Runs the emulator until SIGTERM / SIGINT. Prints `ready <path-or-url>` on stdout once
 * the device can be opened. Returns 0 or an AXL_E code with the reason in eb. */
int axl_emu_run(const axl_emu_opts *o, axl_errbuf *eb);

/* The OT-2's WebSocket server (emu_ot2.c), called by axl_emu_run. */
int axl_emu_ot2_run(const axl_emu_opts *o, axl_errbuf *eb);

/* Parses one --fault spec into kind, first command, every-later flag and argument. */
int axl_emu_fault_parse(const char *spec, char *kind, size_t kind_len, long *n, bool *onward,
                        double *arg, axl_errbuf *eb);

#endif
