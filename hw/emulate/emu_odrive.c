/*
 * emu_odrive.c - an ODrive v3.6 (firmware 0.5.x) on its ASCII protocol (HARDWARE.md §4):
 * a property table; `r <prop>` answers one line, `w <prop> <val>` answers nothing (or
 * `invalid property`), `sc` clears errors. Full calibration (state 3) takes 12 s and ends
 * in IDLE; in closed loop, velocity control ramps vel_estimate toward input_vel at
 * vel_ramp_rate and position control moves pos_circular toward input_pos with a
 * trapezoid of trap_traj's limits. Time is device time (scaled by --speed).
 */
#include "hw/emulate/axl_emulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALIBRATION_MS 12000

typedef struct odrive {
    double t; /* device ms of the last update */
    int state, requested;
    double calib_end;
    int control_mode, input_mode;
    double input_vel, ramp, vel;
    double input_pos, pos, pos_vel;
    double vel_limit, accel_limit, decel_limit, current_lim;
    int circular, error;
} odrive;

static int o_init(axl_emu *e, const char *opt)
{
    (void)opt;
    odrive *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return -2;
    o->state = 1; /* IDLE at power-up */
    o->control_mode = 3;
    o->input_mode = 1;
    o->pos = 0.13;
    o->vel_limit = 2, o->accel_limit = 0.5, o->decel_limit = 0.5;
    o->current_lim = 10;
    axl_emu_set_state(e, o);
    return 0;
}

static void o_fini(axl_emu *e)
{
    free(axl_emu_state(e));
}

/* Advances the physics to now. */
static void update(axl_emu *e, odrive *o)
{
    double now = axl_emu_now(e);
    double dt = (now - o->t) / 1000;
    o->t = now;
    if (o->state == 3 && now >= o->calib_end)
        o->state = 1;
    if (o->state != 8 || dt <= 0) {
        if (o->state == 1 && dt > 0) { /* idle: the rotor coasts down */
            double dv = 20 * dt;
            o->vel = fabs(o->vel) <= dv ? 0 : o->vel - copysign(dv, o->vel);
        }
        return;
    }
    if (o->control_mode == 2) {
        double dv = o->ramp * dt;
        double d = o->input_vel - o->vel;
        o->vel = fabs(d) <= dv ? o->input_vel : o->vel + copysign(dv, d);
        o->pos = fmod(o->pos + o->vel * dt, 1.0);
        if (o->pos < 0)
            o->pos += 1;
    } else if (o->control_mode == 3) {
        /* trapezoid toward input_pos on the circle (shortest way), 0.5 turn/s, 0.5 turn/s^2 */
        double d = o->input_pos - o->pos;
        d -= round(d);
        double stop = o->pos_vel * o->pos_vel / (2 * o->decel_limit);
        double want = fabs(d) <= stop ? 0 : copysign(o->vel_limit > 0.5 ? 0.5 : o->vel_limit, d);
        double dv = o->accel_limit * dt;
        o->pos_vel =
            fabs(want - o->pos_vel) <= dv ? want : o->pos_vel + copysign(dv, want - o->pos_vel);
        double step = o->pos_vel * dt;
        if (fabs(step) >= fabs(d) || (fabs(d) < 1e-3 && fabs(o->pos_vel) < 1e-2)) {
            o->pos = o->input_pos - floor(o->input_pos);
            o->pos_vel = 0;
        } else {
            o->pos = fmod(o->pos + step + 1, 1.0);
        }
        o->vel = o->pos_vel;
    }
}

typedef struct prop {
    const char *name;
    size_t off;
    bool integer, writable;
} prop;

#define P(n, f, i, w)                                                                              \
    {                                                                                              \
        n, offsetof(odrive, f), i, w                                                               \
    }
static const prop PROPS[] = {
    P("axis0.current_state", state, true, false),
    P("axis0.requested_state", requested, true, true),
    P("axis0.error", error, true, true),
    P("axis0.controller.config.control_mode", control_mode, true, true),
    P("axis0.controller.config.input_mode", input_mode, true, true),
    P("axis0.controller.config.vel_ramp_rate", ramp, false, true),
    P("axis0.controller.config.circular_setpoints", circular, true, true),
    P("axis0.controller.input_vel", input_vel, false, true),
    P("axis0.controller.input_pos", input_pos, false, true),
    P("axis0.encoder.pos_circular", pos, false, false),
    P("axis0.encoder.vel_estimate", vel, false, false),
    P("axis0.motor.config.current_lim", current_lim, false, true),
    P("axis0.trap_traj.config.vel_limit", vel_limit, false, true),
    P("axis0.trap_traj.config.accel_limit", accel_limit, false, true),
    P("axis0.trap_traj.config.decel_limit", decel_limit, false, true),
};

static const prop *find(const char *name)
{
    for (size_t i = 0; i < sizeof(PROPS) / sizeof(PROPS[0]); i++)
        if (strcmp(PROPS[i].name, name) == 0)
            return &PROPS[i];
    return NULL;
}

static size_t frame_nl(axl_emu *e, const char *buf, size_t len)
{
    (void)e;
    const char *nl = memchr(buf, '\n', len);
    return nl != NULL ? (size_t)(nl - buf) + 1 : 0;
}

static void o_command(axl_emu *e, const char *cmd, size_t len)
{
    odrive *o = axl_emu_state(e);
    update(e, o);
    char line[256], name[128], val[64];
    size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    memcpy(line, cmd, n);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    line[n] = '\0';
    if (axl_emu_fault(e, "busy")) {
        axl_emu_reply(e, 0, "invalid property\r\n");
        return;
    }
    if (strcmp(line, "sc") == 0) {
        o->error = 0;
        return;
    }
    if (sscanf(line, "r %127s", name) == 1 && line[0] == 'r') {
        const prop *p = find(name);
        if (p == NULL) {
            axl_emu_reply(e, 0, "invalid property\r\n");
            return;
        }
        char *f = (char *)o + p->off;
        if (p->integer)
            axl_emu_reply(e, 0, "%d\r\n", *(int *)f);
        else
            axl_emu_reply(e, 0, "%.6f\r\n", *(double *)f); /* the firmware's float format */
        return;
    }
    if (sscanf(line, "w %127s %63s", name, val) == 2 && line[0] == 'w') {
        const prop *p = find(name);
        char *end;
        double v = strtod(val, &end);
        if (p == NULL || !p->writable) {
            axl_emu_reply(e, 0, "invalid property\r\n");
            return;
        }
        if (*end != '\0') {
            axl_emu_reply(e, 0, "invalid value\r\n");
            return;
        }
        char *f = (char *)o + p->off;
        if (p->integer)
            *(int *)f = (int)v;
        else
            *(double *)f = v;
        if (strcmp(name, "axis0.requested_state") == 0) {
            int s = (int)v;
            if (s == 3) {
                o->state = 3;
                o->calib_end = axl_emu_now(e) + CALIBRATION_MS;
            } else if ((s == 8 || s == 1) && o->state != 3) {
                o->state = s;
            }
            o->requested = 0; /* consumed, as the firmware does */
        }
        return; /* writes answer nothing */
    }
    axl_emu_reply(e, 0, "invalid command format\r\n");
}

const axl_emu_model axl_emu_odrive = {"odrive", frame_nl, o_command, o_init, o_fini};
