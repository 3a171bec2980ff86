/*
 * marlin.c - Marlin 2.0 over USB serial: the gantry (X Y Z) and the characterization
 * axis (X). G-code lines, `ok` per line, M400 + `M118 E1 FinishedMoving` as the motion
 * handshake, M114 as the check (HARDWARE.md §1-2).
 *
 * No retry after a timeout: PASCAL's G-code lines carry no line numbers, so a late reply
 * cannot be told from the reply to a re-send. Only M114 (a read) is asked again when its
 * report is garbled or missing before its `ok`.
 */
#include "hw/devices/axl_devices.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double HOME_GANTRY[3] = {567, 282, 166};

void axl_marlin_cfg_gantry(axl_marlin_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->axes = 3;
    c->max[0] = 567;
    c->max[1] = 282;
    c->max[2] = 166;
    c->tol_mm = 0.05;
    c->feed_mm_min = 20000;
    c->max_speed_mm_s = 500;
    c->accel_mm_s2 = 100;
    c->speed = 1;
    c->reply_ms = 2000;
}

void axl_marlin_cfg_axis(axl_marlin_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->axes = 1;
    c->max[0] = 400;
    c->tol_mm = 0.05;
    c->max_speed_mm_s = 200;
    c->accel_mm_s2 = 35;
    c->speed = 1;
    c->reply_ms = 2000;
}

void axl_marlin_serial(axl_serial_opts *o, const char *path, const char *name)
{
    memset(o, 0, sizeof(*o));
    o->path = path;
    o->baud = 115200;
    o->data_bits = 8;
    o->parity = 'N';
    o->stop_bits = 1;
    o->name = name;
}

int axl_marlin_init(axl_marlin *m, uv_loop_t *loop, const axl_serial_opts *port,
                    const axl_marlin_cfg *c, axl_errbuf *eb)
{
    memset(m, 0, sizeof(*m));
    if (c->axes != 1 && c->axes != 3)
        return axl_fail(eb, AXL_EINVAL, "a Marlin device has 1 or 3 axes");
    m->c = *c;
    if (!(m->c.speed >= 1))
        m->c.speed = 1;
    if (m->c.reply_ms == 0)
        m->c.reply_ms = 2000;
    return axl_sdev_new(&m->s, loop, port, eb);
}

void axl_marlin_close(axl_marlin *m)
{
    axl_sdev_close(m->s);
    m->s = NULL;
}

/* Marlin's "Error:..." (and "echo:Unknown command") is followed by `ok`: the error is
 * kept and reported when the `ok` ends the exchange. */
static bool error_line(axl_xch *x, const char *line)
{
    if (strncmp(line, "Error:", 6) == 0 || strncmp(line, "!!", 2) == 0 ||
        strncmp(line, "echo:Unknown command", 20) == 0) {
        if (x->note[0] == '\0')
            snprintf(x->note, sizeof(x->note), "%s", line);
        return true;
    }
    return false;
}

static void quote_cmd(const axl_xch *x, char *out, size_t n)
{
    size_t k = x->tx_len;
    while (k > 0 && (x->tx[k - 1] == '\n' || x->tx[k - 1] == '\r'))
        k--;
    snprintf(out, n, "%.*s", (int)(k > 60 ? 60 : k), x->tx);
}

static axl_xch_verdict refused(axl_xch *x, char *why)
{
    char cmd[64];
    quote_cmd(x, cmd, sizeof(cmd));
    snprintf(why, AXL_XCH_WHY_MAX, "Marlin refused `%s`: %.150s", cmd, x->note);
    return AXL_XCH_FAIL;
}

static axl_xch_verdict m_ok(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)len;
    if (strcmp(line, "ok") == 0)
        return x->note[0] ? refused(x, why) : AXL_XCH_DONE;
    if (error_line(x, line))
        return AXL_XCH_MORE;
    return AXL_XCH_IGNORE; /* echo:busy: processing, start-up banners, ... */
}

static axl_xch_verdict m_echo(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)len;
    if (strcmp(line, "echo:FinishedMoving") == 0) {
        x->num[0] = 1;
        return AXL_XCH_MORE;
    }
    if (strcmp(line, "ok") == 0) {
        if (x->note[0])
            return refused(x, why);
        if (x->num[0] == 1)
            return AXL_XCH_DONE;
        snprintf(why, AXL_XCH_WHY_MAX, "Marlin sent `ok` to M118 without echo:FinishedMoving");
        return AXL_XCH_FAIL;
    }
    if (error_line(x, line))
        return AXL_XCH_MORE;
    return AXL_XCH_IGNORE;
}

/* "X:%.2f Y:%.2f Z:%.2f E:%.2f Count X:n Y:n Z:n": the first X:, Y:, Z:. */
static int parse_m114(const char *line, double pos[3])
{
    const char *keys[3] = {"X:", "Y:", "Z:"};
    for (int i = 0; i < 3; i++) {
        const char *p = strstr(line, keys[i]);
        if (p == NULL)
            return i; /* the axes found */
        char *end;
        pos[i] = strtod(p + 2, &end);
        if (end == p + 2 || !isfinite(pos[i]) || (*end != ' ' && *end != '\0'))
            return i;
    }
    return 3;
}

static axl_xch_verdict m_m114(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)len;
    axl_marlin *m = ((axl_sop *)x->ctx)->user;
    if (strncmp(line, "X:", 2) == 0) {
        double p[3] = {0, 0, 0};
        if (x->num[3] == 0 && parse_m114(line, p) >= m->c.axes) {
            memcpy(x->num, p, sizeof(p));
            x->num[3] = 1;
        } else if (x->num[3] == 0) {
            x->num[3] = -1; /* garbled: ask again after the `ok` */
            snprintf(x->note + 80, 80, "%.60s", line);
        }
        return AXL_XCH_MORE;
    }
    if (strcmp(line, "ok") == 0) {
        if (x->note[0])
            return refused(x, why);
        if (x->num[3] == 1)
            return AXL_XCH_DONE;
        snprintf(why, AXL_XCH_WHY_MAX, "Marlin's M114 report is garbled or missing (`%s`)",
                 x->note + 80);
        x->num[3] = 0;
        return AXL_XCH_RETRY;
    }
    if (error_line(x, line))
        return AXL_XCH_MORE;
    /* A line cut short and joined to the next report: garbled. */
    if (strstr(line, "X:") != NULL && x->num[3] == 0) {
        x->num[3] = -1;
        snprintf(x->note + 80, 80, "%.60s", line);
        return AXL_XCH_MORE;
    }
    return AXL_XCH_IGNORE;
}

/* Python's repr of PASCAL's numbers: 214.4, 77, (F) 20000.0 */
static void fmt_num(char *out, size_t n, double v)
{
    snprintf(out, n, "%.3f", v);
    char *dot = strchr(out, '.');
    if (dot == NULL)
        return;
    char *e = out + strlen(out) - 1;
    while (e > dot && *e == '0')
        *e-- = '\0';
    if (e == dot)
        *e = '\0';
}

static void on_pos(axl_sop *op, axl_xch *x)
{
    axl_marlin *m = op->user;
    if (x->match != m_m114)
        return;
    memcpy(m->pos, x->num, sizeof(m->pos));
    m->known = true;
    /* v[0..2]: the target, v[3]: 1 = check against it, 2 = report "at home" in v[0] */
    if (op->v[3] == 1) {
        for (int i = 0; i < m->c.axes; i++)
            if (!(fabs(m->pos[i] - op->v[i]) < m->c.tol_mm)) {
                axl_sop_fail(op, AXL_EPROTO,
                             "%s at X%.2f Y%.2f Z%.2f after the move, not at X%.2f Y%.2f Z%.2f",
                             m->c.axes == 3 ? "gantry" : "axis", m->pos[0], m->pos[1], m->pos[2],
                             op->v[0], op->v[1], op->v[2]);
                return;
            }
    } else if (op->v[3] == 2) {
        bool home = m->c.axes == 3 ? memcmp(m->pos, HOME_GANTRY, sizeof(HOME_GANTRY)) == 0
                                   : m->pos[0] == 400;
        op->v[0] = home;
    }
}

static axl_sop *new_op(axl_marlin *m, axl_dev_cb cb, void *arg)
{
    axl_sop *op = axl_sop_new(m->s, cb, arg);
    if (op != NULL) {
        op->user = m;
        op->on_xch = on_pos;
    }
    return op;
}

axl_sop *axl_marlin_setup(axl_marlin *m, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(m, cb, arg);
    if (op == NULL)
        return NULL;
    unsigned r = m->c.reply_ms;
    op->v[3] = 2;
    axl_sop_send(op, m_m114, r, 2, "M114\n");
    axl_sop_send(op, m_ok, r, 0, "M501\n");
    axl_sop_send(op, m_ok, r, 0, "G90\n");
    if (m->c.axes == 3) {
        char f[32];
        fmt_num(f, sizeof(f), m->c.feed_mm_min);
        axl_sop_send(op, m_ok, r, 0, "M906 X800 Y800 Z800 E1\n");
        axl_sop_send(op, m_ok, r, 0, "M84 S0\n");
        axl_sop_send(op, m_ok, r, 0, "M203 X20000 Y20000 Z20.00\n");
        axl_sop_send(op, m_ok, r, 0, "G0 F%s%s\n", f, strchr(f, '.') ? "" : ".0");
    }
    axl_sop_seal(op);
    return op;
}

/* Device seconds of a move of d mm: trapezoid at v mm/s, a mm/s^2. */
static double move_s(double d, double v, double a)
{
    if (!(v > 0) || !(a > 0))
        return 0;
    return d < v * v / a ? 2 * sqrt(d / a) : d / v + v / a;
}

static unsigned motion_deadline(const axl_marlin *m, double d)
{
    double v = m->c.max_speed_mm_s;
    if (m->c.feed_mm_min > 0 && m->c.feed_mm_min / 60 < v)
        v = m->c.feed_mm_min / 60;
    double t = move_s(d, v, m->c.accel_mm_s2);
    return axl_dev_ms(2000 * t + 2000, m->c.speed, 3000);
}

axl_sop *axl_marlin_home(axl_marlin *m, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(m, cb, arg);
    if (op == NULL)
        return NULL;
    double far = 0;
    for (int i = 0; i < m->c.axes; i++)
        far += m->c.max[i] - m->c.min[i];
    op->v[3] = 1;
    if (m->c.axes == 3) {
        memcpy(op->v, HOME_GANTRY, sizeof(HOME_GANTRY));
        axl_sop_send(op, m_ok, motion_deadline(m, far), 0, "G28 X Y Z\n");
    } else {
        op->v[0] = 0; /* the axis homes to X min */
        axl_sop_send(op, m_ok, motion_deadline(m, far), 0, "G28 X\n");
    }
    axl_sop_send(op, m_m114, m->c.reply_ms, 2, "M114\n");
    axl_sop_seal(op);
    return op;
}

axl_sop *axl_marlin_move(axl_marlin *m, const double target[3], bool m400, axl_dev_cb cb, void *arg)
{
    axl_sop *op = new_op(m, cb, arg);
    if (op == NULL)
        return NULL;
    for (int i = 0; i < m->c.axes; i++)
        if (!(target[i] >= m->c.min[i] && target[i] <= m->c.max[i])) {
            axl_sop_fail(op, AXL_ERANGE, "%c%g is outside the frame %g-%g mm", "XYZ"[i], target[i],
                         m -> c.min[i], m->c.max[i]);
            axl_sop_seal(op); /* reported through the loop */
            return op;
        }
    double d2 = 0;
    for (int i = 0; i < m->c.axes; i++) {
        double d = target[i] - (m->known ? m->pos[i] : 0);
        d2 += d * d;
        op->v[i] = target[i];
    }
    unsigned deadline = motion_deadline(m, m->known ? sqrt(d2) : 1000);
    char x[32], y[32], z[32], f[32];
    fmt_num(x, sizeof(x), target[0]);
    if (m->c.axes == 3) {
        fmt_num(y, sizeof(y), target[1]);
        fmt_num(z, sizeof(z), target[2]);
        fmt_num(f, sizeof(f), m->c.feed_mm_min);
        axl_sop_send(op, m_ok, m->c.reply_ms, 0, "G0 X%s Y%s Z%s F%s%s\n", x, y, z, f,
                     strchr(f, '.') ? "" : ".0");
    } else {
        axl_sop_send(op, m_ok, m->c.reply_ms, 0, "G0 X%s\n", x);
    }
    if (m400)
        axl_sop_send(op, m_ok, deadline, 0, "M400\n");
    axl_sop_send(op, m_echo, deadline, 0, "M118 E1 FinishedMoving\n");
    op->v[3] = 1;
    axl_sop_send(op, m_m114, m->c.reply_ms, 2, "M114\n");
    axl_sop_seal(op);
    return op;
}
