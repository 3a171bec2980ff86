/*
 * gripper.c - PASCAL's servo gripper board (HARDWARE.md §3): `S<pwm> <rate>\n` answered
 * by `ok` within 2 s, `l\n` answered by one number (the spring load).
 */
#include "hw/devices/axl_devices.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serial_opts(axl_serial_opts *o, const char *path, const char *name, int baud)
{
    memset(o, 0, sizeof(*o));
    o->path = path;
    o->baud = baud;
    o->data_bits = 8;
    o->parity = 'N';
    o->stop_bits = 1;
    o->name = name;
}

int axl_gripper_init(axl_gripper *g, uv_loop_t *loop, const char *path, double speed,
                     axl_errbuf *eb)
{
    memset(g, 0, sizeof(*g));
    g->speed = speed >= 1 ? speed : 1;
    g->load = NAN;
    axl_serial_opts o;
    serial_opts(&o, path, "gripper", 115200);
    return axl_sdev_new(&g->s, loop, &o, eb);
}

void axl_gripper_close(axl_gripper *g)
{
    axl_sdev_close(g->s);
    g->s = NULL;
}

int axl_gripper_pwm(double width_mm)
{
    double p = round(width_mm / AXL_GRIPPER_WIDTH_MM * AXL_GRIPPER_PWM_MAX);
    if (!(p >= 0))
        return 0;
    return p > AXL_GRIPPER_PWM_MAX ? AXL_GRIPPER_PWM_MAX : (int)p;
}

static axl_xch_verdict g_ok(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)x;
    (void)len;
    if (strcmp(line, "ok") == 0)
        return AXL_XCH_DONE;
    if (strncmp(line, "err", 3) == 0 || strncmp(line, "busy", 4) == 0) {
        snprintf(why, AXL_XCH_WHY_MAX, "gripper answered `%.100s`", line);
        return AXL_XCH_FAIL;
    }
    return AXL_XCH_IGNORE;
}

static axl_xch_verdict g_load(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)len;
    char *end;
    double v = strtod(line, &end);
    if (end == line || *end != '\0' || !isfinite(v)) {
        snprintf(why, AXL_XCH_WHY_MAX, "gripper load reply `%.100s` is not a number", line);
        return AXL_XCH_RETRY; /* a read: ask again */
    }
    x->num[0] = v;
    return AXL_XCH_DONE;
}

static void on_load(axl_sop *op, axl_xch *x)
{
    axl_gripper *g = op->user;
    g->load = op->v[0] = x->num[0];
}

axl_sop *axl_gripper_set(axl_gripper *g, int pwm, int rate, axl_dev_cb cb, void *arg)
{
    axl_sop *op = axl_sop_new(g->s, cb, arg);
    if (op == NULL)
        return NULL;
    if (pwm < 0 || pwm > AXL_GRIPPER_PWM_MAX || rate < 1 || rate > 1000) {
        axl_sop_fail(op, AXL_ERANGE, "gripper pwm %d / rate %d outside 0-850 / 1-1000", pwm, rate);
    } else {
        /* PASCAL's board answers within 2 s of device time; absolute: one re-send. */
        axl_sop_send(op, g_ok, axl_dev_ms(2000, g->speed, 1000), 1, "S%d %d\n", pwm, rate);
    }
    axl_sop_seal(op);
    return op;
}

axl_sop *axl_gripper_read_load(axl_gripper *g, axl_dev_cb cb, void *arg)
{
    axl_sop *op = axl_sop_new(g->s, cb, arg);
    if (op == NULL)
        return NULL;
    op->user = g;
    op->on_xch = on_load;
    axl_xch *x = axl_sop_send(op, g_load, axl_dev_ms(2000, g->speed, 1000), 2, "l\n");
    if (x != NULL)
        x->flush_first = true; /* stray lines would be read as the load */
    axl_sop_seal(op);
    return op;
}
