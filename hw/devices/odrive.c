/*
 * odrive.c - the spin coater's ODrive v3.6 over its ASCII protocol (HARDWARE.md §4):
 * `w <prop> <val>\n` (no reply), `r <prop>\n` (one line). The host polls properties for
 * completion, as PASCAL does through the odrive library, on a uv timer between reads.
 */
#include "hw/devices/axl_devices.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { POLL_NONE, POLL_STATE_IDLE, POLL_POS, POLL_VEL_ZERO };

/* v[] of a polling op */
#define V_RESULT 0
#define V_TARGET 1
#define V_TOL 2
#define V_DEADLINE 3
#define V_KIND 4
#define V_INTERVAL 5
#define V_AFTER 6 /* what follows the poll: 1 = the closed-loop configuration */

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

int axl_odrive_init(axl_odrive *o, uv_loop_t *loop, const char *path, double speed, axl_errbuf *eb)
{
    memset(o, 0, sizeof(*o));
    o->speed = speed >= 1 ? speed : 1;
    o->timer = calloc(1, sizeof(uv_timer_t));
    if (o->timer == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    axl_serial_opts so = {.path = path,
                          .baud = 115200,
                          .data_bits = 8,
                          .parity = 'N',
                          .stop_bits = 1,
                          .name = "ODrive"};
    int rv = axl_sdev_new(&o->s, loop, &so, eb);
    if (rv != 0) {
        free(o->timer);
        o->timer = NULL;
        return rv;
    }
    uv_timer_init(loop, o->timer);
    o->timer->data = o;
    return 0;
}

void axl_odrive_close(axl_odrive *o)
{
    if (o->polling != NULL) {
        axl_sop_cancel(o->polling);
        o->polling = NULL;
    }
    if (o->timer != NULL)
        uv_close((uv_handle_t *)o->timer, timer_closed);
    o->timer = NULL;
    axl_sdev_close(o->s);
    o->s = NULL;
}

void axl_odrive_cancel(axl_odrive *o, axl_sop *op)
{
    if (o->polling == op) {
        uv_timer_stop(o->timer);
        o->polling = NULL;
    }
    axl_sop_cancel(op);
}

static axl_xch_verdict o_read(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)len;
    if (strncmp(line, "invalid", 7) == 0 || strncmp(line, "unknown", 7) == 0) {
        snprintf(why, AXL_XCH_WHY_MAX, "ODrive answered `%.80s` to `%.*s`", line,
                 (int)(x->tx_len > 1 ? x->tx_len - 1 : 0), x->tx);
        return AXL_XCH_FAIL;
    }
    char *end;
    double v = strtod(line, &end);
    if (end == line || *end != '\0' || !isfinite(v)) {
        snprintf(why, AXL_XCH_WHY_MAX, "ODrive reply `%.80s` is not a number", line);
        return AXL_XCH_RETRY; /* a read: ask again */
    }
    x->num[0] = v;
    return AXL_XCH_DONE;
}

static unsigned read_ms(const axl_odrive *o)
{
    return axl_dev_ms(1000, o->speed, 1000);
}

static axl_xch *rd(axl_sop *op, const char *prop, double poll_flag)
{
    axl_odrive *o = op->user;
    axl_xch *x = axl_sop_send(op, o_read, read_ms(o), 2, "r %s\n", prop);
    if (x != NULL) {
        x->flush_first = true;
        x->num[1] = poll_flag;
    }
    return x;
}

static void wr(axl_sop *op, const char *prop, const char *val)
{
    axl_sop_send(op, NULL, 0, 0, "w %s %s\n", prop, val);
}

static const char *poll_prop(int kind)
{
    switch (kind) {
    case POLL_STATE_IDLE:
        return "axis0.current_state";
    case POLL_POS:
        return "axis0.encoder.pos_circular";
    default:
        return "axis0.encoder.vel_estimate";
    }
}

static void poll_fire(uv_timer_t *t)
{
    axl_odrive *o = t->data;
    axl_sop *op = o->polling;
    if (op == NULL)
        return;
    o->polling = NULL;
    rd(op, poll_prop((int)op->v[V_KIND]), 1);
    axl_sop_hold(op, false);
}

static void closed_loop_config(axl_sop *op)
{
    wr(op, "axis0.requested_state", "8");
    wr(op, "axis0.motor.config.current_lim", "10");
    wr(op, "axis0.controller.config.circular_setpoints", "1");
    wr(op, "axis0.trap_traj.config.vel_limit", "0.5");
    wr(op, "axis0.trap_traj.config.accel_limit", "0.5");
    wr(op, "axis0.trap_traj.config.decel_limit", "0.5");
    axl_xch *x = rd(op, "axis0.current_state", 2); /* must read 8: closed loop */
    if (x != NULL)
        x->num[2] = 8;
}

static void on_read(axl_sop *op, axl_xch *x)
{
    axl_odrive *o = op->user;
    if (x->match != o_read)
        return;
    op->v[V_RESULT] = o->last = x->num[0];
    if (x->num[1] == 2) { /* a check */
        if (x->num[0] != x->num[2])
            axl_sop_fail(op, AXL_EPROTO, "ODrive `%.*s` reads %g, expected %g",
                         (int)(x->tx_len - 1), x->tx, x->num[0], x->num[2]);
        return;
    }
    if (x->num[1] != 1)
        return;
    int kind = (int)op->v[V_KIND];
    double v = x->num[0];
    bool met = kind == POLL_STATE_IDLE ? v == 1
               : kind == POLL_POS      ? fabs(op->v[V_TARGET] - v) <= op->v[V_TOL]
                                       : fabs(v) <= op->v[V_TOL];
    if (met) {
        if (op->v[V_AFTER] == 1)
            closed_loop_config(op);
        return;
    }
    if ((double)uv_now(o->timer->loop) > op->v[V_DEADLINE]) {
        axl_sop_fail(op, AXL_ETIMEDOUT, "ODrive %s still %g (waiting for %s %g)", poll_prop(kind),
                     v, kind == POLL_STATE_IDLE ? "==" : "within",
                     kind == POLL_POS          ? op->v[V_TARGET]
                     : kind == POLL_STATE_IDLE ? 1.0
                                               : op->v[V_TOL]);
        return;
    }
    axl_sop_hold(op, true);
    o->polling = op;
    uv_timer_start(o->timer, poll_fire, (uint64_t)op->v[V_INTERVAL], 0);
}

static axl_sop *new_op(axl_odrive *o, axl_dev_cb cb, void *arg)
{
    axl_sop *op = axl_sop_new(o->s, cb, arg);
    if (op != NULL) {
        op->user = o;
        op->on_xch = on_read;
    }
    return op;
}

static void start_poll(axl_odrive *o, axl_sop *op, int kind, double target, double tol,
                       double interval_ms, double deadline_ms)
{
    op->v[V_KIND] = kind;
    op->v[V_TARGET] = target;
    op->v[V_TOL] = tol;
    op->v[V_INTERVAL] = axl_dev_ms(interval_ms, o->speed, 5);
    op->v[V_DEADLINE] = (double)uv_now(o->timer->loop) + axl_dev_ms(deadline_ms, o->speed, 1000);
    rd(op, poll_prop(kind), 1);
}

axl_sop *axl_odrive_read(axl_odrive *o, const char *prop, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(o, cb, arg);
    if (op == NULL)
        return NULL;
    rd(op, prop, 0);
    axl_sop_seal(op);
    return op;
}

axl_sop *axl_odrive_calibrate(axl_odrive *o, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(o, cb, arg);
    if (op == NULL)
        return NULL;
    wr(op, "axis0.requested_state", "3");
    /* PASCAL: sleep 5 s, then poll every 1 s; the calibration takes 10-20 s */
    op->v[V_AFTER] = 1;
    start_poll(o, op, POLL_STATE_IDLE, 1, 0, 1000, 60000);
    axl_sop_seal(op);
    return op;
}

axl_sop *axl_odrive_lock(axl_odrive *o, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(o, cb, arg);
    if (op == NULL)
        return NULL;
    wr(op, "axis0.requested_state", "8");
    wr(op, "axis0.controller.config.input_mode", "5");
    wr(op, "axis0.controller.config.control_mode", "3");
    wr(op, "axis0.controller.input_pos", "0.5");
    start_poll(o, op, POLL_POS, 0.5, 0.05, 100, 30000);
    axl_sop_seal(op);
    return op;
}

axl_sop *axl_odrive_set_rpm(axl_odrive *o, double rpm, double accel, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(o, cb, arg);
    if (op == NULL)
        return NULL;
    if (!((rpm == 0 || (rpm >= 200 && rpm <= 9000)) && accel >= 50 && accel <= 5000)) {
        axl_sop_fail(op, AXL_ERANGE,
                     "spin %g rpm at %g rpm/s: rpm must be 0 or 200-9000, "
                     "acceleration 50-5000",
                     rpm, accel);
        axl_sop_seal(op);
        return op;
    }
    char rps[32], acc[32];
    snprintf(rps, sizeof(rps), "%d", (int)(rpm / 60)); /* PASCAL's int() truncation */
    snprintf(acc, sizeof(acc), "%d", (int)(accel / 60));
    wr(op, "axis0.controller.config.vel_ramp_rate", acc);
    wr(op, "axis0.controller.input_vel", rps);
    wr(op, "axis0.requested_state", "8");
    wr(op, "axis0.controller.config.control_mode", "2");
    wr(op, "axis0.controller.config.input_mode", "2");
    axl_xch *x = rd(op, "axis0.controller.input_vel", 2); /* the writes landed */
    if (x != NULL)
        x->num[2] = (int)(rpm / 60);
    axl_sop_seal(op);
    return op;
}

axl_sop *axl_odrive_stop(axl_odrive *o, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(o, cb, arg);
    if (op == NULL)
        return NULL;
    wr(op, "axis0.controller.config.vel_ramp_rate", "16");
    wr(op, "axis0.controller.input_vel", "0");
    wr(op, "axis0.controller.config.control_mode", "2");
    wr(op, "axis0.controller.config.input_mode", "2");
    /* 150 rps at 16 rps/s: under 10 s of ramp */
    start_poll(o, op, POLL_VEL_ZERO, 0, 0.05, 100, 20000);
    axl_sop_seal(op);
    return op;
}

axl_sop *axl_odrive_idle(axl_odrive *o, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(o, cb, arg);
    if (op == NULL)
        return NULL;
    wr(op, "axis0.requested_state", "1");
    axl_xch *x = rd(op, "axis0.current_state", 2);
    if (x != NULL)
        x->num[2] = 1;
    axl_sop_seal(op);
    return op;
}
