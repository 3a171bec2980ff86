/*
 * axl_devices.h - PASCAL's devices, one client per device, each on an axl_sdev (serial
 * port + exchange queue, axl_serial.h) on the worker's loop. The byte protocols are
 * /work/shared/HARDWARE.md's (PASCAL's code and vendored firmware, cited there); the
 * per-device pages (timing, faults, configuration) are hw/devices/README.md.
 *
 * Every operation takes a callback (axl_dev_cb: status 0 or a negative AXL_E code with
 * the reason, the device's own words in it) that fires exactly once, later, on the loop;
 * it returns an axl_sop* the caller may cancel (axl_sop_cancel: no callback then), or
 * NULL when out of memory (no callback then either). `speed` everywhere is the time
 * compression of an emulated line (1 on real hardware): it shortens the reply deadlines
 * that follow a device's physical motion, never below a floor.
 */
#ifndef AXL_DEVICES_H
#define AXL_DEVICES_H

#include "hw/devices/axl_serial.h"

/* ---- Marlin G-code: the gantry (X Y Z) and the characterization axis (X) ---------------- */

typedef struct axl_marlin_cfg {
    int axes;              /* 3: gantry, 1: characterization axis */
    double min[3], max[3]; /* frame, mm: a target outside is refused before sending */
    double tol_mm;         /* position check after a move (0.05) */
    double feed_mm_min;    /* G0 F for the gantry (PASCAL's 20000); 0: none (axis) */
    double max_speed_mm_s; /* the firmware's, for the move deadline (gantry 3000 /
                              Z 500; axis 200) */
    double accel_mm_s2;    /* for the move deadline (gantry 100, axis 35) */
    double speed;          /* time compression */
    unsigned reply_ms;     /* deadline of a reply that involves no motion (2000) */
} axl_marlin_cfg;

typedef struct axl_marlin {
    axl_sdev *s;
    axl_marlin_cfg c;
    double pos[3]; /* the last M114 */
    bool known;    /* pos is from an M114 */
} axl_marlin;

/* The gantry's and the axis's defaults (PASCAL's frames, speeds, tolerance). */
void axl_marlin_cfg_gantry(axl_marlin_cfg *c);
void axl_marlin_cfg_axis(axl_marlin_cfg *c);

/* The serial settings of a Marlin board (115200 8N1). */
void axl_marlin_serial(axl_serial_opts *o, const char *path, const char *name);

int axl_marlin_init(axl_marlin *m, uv_loop_t *loop, const axl_serial_opts *port,
                    const axl_marlin_cfg *c, axl_errbuf *eb);
void axl_marlin_close(axl_marlin *m);

/* PASCAL's init: M114 (a position at the home corner = not homed), then M501, G90 and,
 * for the gantry, M906 X800 Y800 Z800 E1, M84 S0, M203 X20000 Y20000 Z20.00,
 * G0 F<feed>. v[0] of the result: 1 when the machine reports its home position. */
axl_sop *axl_marlin_setup(axl_marlin *m, axl_dev_cb cb, void *arg);

/* G28 (X Y Z or X) then M114: the position must be the home corner. */
axl_sop *axl_marlin_home(axl_marlin *m, axl_dev_cb cb, void *arg);

/*
 * An absolute move: G0 X Y Z [F], then (m400) M400, then M118 E1 FinishedMoving and
 * its echo, then M114 and the position check (|pos - target| < tol on every axis). The
 * deadline for the echo follows the distance (trapezoid at the firmware's speed and
 * acceleration) / speed, floor 2 s - PASCAL's own timeout never fires; this one does.
 * AXL_ERANGE (callback) for a target outside the frame, nothing sent.
 */
axl_sop *axl_marlin_move(axl_marlin *m, const double target[3], bool m400, axl_dev_cb cb,
                         void *arg);

/* ---- gripper: servo board, `S<pwm> <rate>` and `l` ---------------------------------------- */

typedef struct axl_gripper {
    axl_sdev *s;
    double speed;
    double load; /* the last `l` */
} axl_gripper;

#define AXL_GRIPPER_PWM_MAX 850
#define AXL_GRIPPER_WIDTH_MM 13.0
#define AXL_GRIPPER_RATE_SLOW 7
#define AXL_GRIPPER_RATE_FAST 50
#define AXL_GRIPPER_LOADED 2000 /* `l` above this: springs loaded, nothing gripped */

int axl_gripper_init(axl_gripper *g, uv_loop_t *loop, const char *path, double speed,
                     axl_errbuf *eb);
void axl_gripper_close(axl_gripper *g);
/* width mm -> pwm, PASCAL's round(w / 13 * 850), clamped to 0..850 */
int axl_gripper_pwm(double width_mm);
/* `S<pwm> <rate>\n`, `ok` within 2 s (retried once: the command is absolute). */
axl_sop *axl_gripper_set(axl_gripper *g, int pwm, int rate, axl_dev_cb cb, void *arg);
/* `l\n` after flushing stray input; the reply (a number) in g->load and the op's v[0]. */
axl_sop *axl_gripper_read_load(axl_gripper *g, axl_dev_cb cb, void *arg);

/* ---- ODrive v3.6, ASCII protocol ----------------------------------------------------------- */

typedef struct axl_odrive {
    axl_sdev *s;
    double speed;
    uv_timer_t *timer; /* between property polls */
    axl_sop *polling;  /* the op waiting on the timer */
    double last;       /* the last value read */
} axl_odrive;

int axl_odrive_init(axl_odrive *o, uv_loop_t *loop, const char *path, double speed, axl_errbuf *eb);
void axl_odrive_close(axl_odrive *o);
/* `r <prop>`: one line, a number; `invalid property` fails. Result in op v[0]. */
axl_sop *axl_odrive_read(axl_odrive *o, const char *prop, axl_dev_cb cb, void *arg);
/* calibration (state 3, poll current_state until 1), closed loop, current limit, circular
 * setpoints, trap_traj limits 0.5, as PASCAL's connect() */
axl_sop *axl_odrive_calibrate(axl_odrive *o, axl_dev_cb cb, void *arg);
/* lock: position mode at 0.5 turn, poll pos_circular until |0.5 - p| <= 0.05 */
axl_sop *axl_odrive_lock(axl_odrive *o, axl_dev_cb cb, void *arg);
/* set_rpm: rpm 0 or 200-9000, accel 50-5000 rpm/s (AXL_ERANGE otherwise), PASCAL's
 * int(rpm/60), int(accel/60) and write order; then `r axis0.controller.input_vel` must
 * read the target back (the writes, which get no reply, landed). Does not wait for the
 * ramp: PASCAL times a spin step from this call. */
axl_sop *axl_odrive_set_rpm(axl_odrive *o, double rpm, double accel, axl_dev_cb cb, void *arg);
/* stop: input_vel 0 at PASCAL's 1000 rpm/s (16 rps/s), poll vel_estimate until |v| <= 0.05 */
axl_sop *axl_odrive_stop(axl_odrive *o, axl_dev_cb cb, void *arg);
/* idle: w axis0.requested_state 1, read back current_state 1 */
axl_sop *axl_odrive_idle(axl_odrive *o, axl_dev_cb cb, void *arg);
/* Cancels op (no callback), stopping its poll timer. */
void axl_odrive_cancel(axl_odrive *o, axl_sop *op);

/* ---- Numato relay box ------------------------------------------------------------------- */

typedef struct axl_relay {
    axl_sdev *s;
    double speed; /* 1 after init; deadlines scale with it */
} axl_relay;

#define AXL_RELAY_VACUUM 15 /* PASCAL's "vacuum" key: channel 8 */

int axl_relay_init(axl_relay *r, uv_loop_t *loop, const char *path, axl_errbuf *eb);
void axl_relay_close(axl_relay *r);
/* PASCAL's index -> channel character (1..14, vacuum = 15 -> '8'); 0 when out of range. */
char axl_relay_channel(int index);
/* `relay on|off <c>\n\r`, then `relay read <c>\r` must answer on|off (PASCAL never reads
 * back; the read-back is what turns a dead relay box into a failed task). */
axl_sop *axl_relay_set(axl_relay *r, int index, bool on, axl_dev_cb cb, void *arg);

/* ---- hotplate PID controllers, Modbus ASCII (9600 7E1, LRC) ------------------------------ */

typedef struct axl_hotplate {
    axl_sdev *s;
    int address;  /* always 1 on PASCAL's line */
    double speed; /* 1 after init; the 2 s reply deadline scales with it (floor 1 s) */
    double temperature, setpoint; /* the last read, deg C */
} axl_hotplate;

/* The standard LRC, (-sum) & 0xFF over the frame's bytes (PASCAL's gives "100" when the
 * sum is a multiple of 256: not copied). */
unsigned axl_modbus_lrc(const unsigned char *bytes, size_t n);
/* ":" AA FF RRRR DDDD LRC "\r\n" into out (>= 18 bytes); returns the length. */
size_t axl_modbus_frame(char *out, size_t cap, int addr, int fn, unsigned reg, unsigned data);
/* Checks a reply line (without CR LF): ':' hex pairs, LRC. bytes out (<= 32). Returns the
 * byte count or a negative AXL_E code with the reason in why. */
int axl_modbus_parse(const char *line, size_t len, unsigned char *bytes, size_t cap, char *why,
                     size_t why_len);

int axl_hotplate_init(axl_hotplate *h, uv_loop_t *loop, const axl_serial_opts *port,
                      axl_errbuf *eb);
void axl_hotplate_close(axl_hotplate *h);
/* The serial settings: 9600 7E1. */
void axl_hotplate_serial(axl_serial_opts *o, const char *path);
/* FC03 of 0x1000 / 0x1001 (0.1 deg C), result in v[0] and h->temperature / setpoint.
 * Retried twice on a timeout or a bad LRC (reads are idempotent). */
axl_sop *axl_hotplate_read_temp(axl_hotplate *h, axl_dev_cb cb, void *arg);
axl_sop *axl_hotplate_read_setpoint(axl_hotplate *h, axl_dev_cb cb, void *arg);
/* FC06 of 0x1001 = round(c*10), checked by its echo (retried twice: idempotent). */
axl_sop *axl_hotplate_write_setpoint(axl_hotplate *h, double celsius, axl_dev_cb cb, void *arg);
/* FC06 of 0x101C = 4 (PID auto), at init */
axl_sop *axl_hotplate_pid_auto(axl_hotplate *h, axl_dev_cb cb, void *arg);

/* ---- lamp shutter (Arduino) and filter sliders (Elliptec) -------------------------------- */

typedef struct axl_shutter {
    axl_sdev *s;
    double speed; /* 1 after init */
} axl_shutter;
int axl_shutter_init(axl_shutter *sh, uv_loop_t *loop, const char *path, axl_errbuf *eb);
void axl_shutter_close(axl_shutter *sh);
/* the byte `u` (open) or `d` (close), then a line containing `ok` within 5 s (retried
 * once: idempotent). PASCAL only warns without it; a missing `ok` fails here. */
axl_sop *axl_shutter_set(axl_shutter *sh, bool open, axl_dev_cb cb, void *arg);

typedef struct axl_slider {
    axl_sdev *s;
    double speed;
} axl_slider;
int axl_slider_init(axl_slider *sl, uv_loop_t *loop, const char *path, double speed,
                    axl_errbuf *eb);
void axl_slider_close(axl_slider *sl);
/* `<addr>fw` / `<addr>bw` (no terminator); the reply `<addr>PO<8 hex>` within 3 s, or
 * `<addr>GS<2 hex>` - a non-zero status fails with the device's code (no retry: a jog is
 * not idempotent). */
axl_sop *axl_slider_move(axl_slider *sl, int addr, bool forward, axl_dev_cb cb, void *arg);

#endif
