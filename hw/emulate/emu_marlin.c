/*
 * emu_marlin.c - Marlin 2.0.7 as PASCAL's gantry (SKR Mini E3 v1.2: X Y Z, frame 567 x
 * 282 x 166, homes to max) and characterization axis (X 0-400, homes to min) answer
 * (HARDWARE.md §1-2): `ok` per line; G0/G1 set the planner position at once and the
 * motion runs for its trapezoid time; M400 holds its `ok` until the motion ends (with
 * `echo:busy: processing` every 2 s meanwhile); `M118 E1 s` sends `echo:s`; M114 reports
 * the planner position; G28 homes and reports. Moves outside the frame are refused with
 * an `Error:` line (a real Marlin clamps to its soft endstops; refusing makes a host's
 * frame error visible). Device option `--opt X,Y,Z`: a smaller frame.
 */
#include "hw/emulate/axl_emulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct marlin {
    int axes;
    double max[3];
    double pos[3];     /* planner (commanded) position */
    double busy_until; /* device ms when the planned motion ends */
    double feed;       /* mm/min, last F */
    double vmax, accel;
    double steps[3];
    bool homes_to_max;
} marlin;

static int init_common(axl_emu *e, const char *opt, int axes)
{
    marlin *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -2;
    m->axes = axes;
    if (axes == 3) {
        m->max[0] = 567, m->max[1] = 282, m->max[2] = 166;
        m->vmax = 500; /* Z's 500 mm/s bound; F20000 = 333 mm/s caps X and Y */
        m->accel = 100;
        m->steps[0] = m->steps[1] = 53.33, m->steps[2] = 400;
        m->homes_to_max = true;
        m->feed = 20000;
    } else {
        m->max[0] = 400;
        m->vmax = 200;
        m->accel = 35;
        m->steps[0] = 80;
        m->feed = 0;
    }
    /* Power-up: the position the firmware assumes unhomed is its home corner. */
    for (int i = 0; i < axes; i++)
        m->pos[i] = m->max[i];
    if (opt != NULL && opt[0] != '\0') {
        double f[3] = {0, 0, 0};
        int n = sscanf(opt, "%lf,%lf,%lf", &f[0], &f[1], &f[2]);
        if (n != axes) {
            free(m);
            return -1;
        }
        for (int i = 0; i < axes; i++)
            m->max[i] = f[i];
    }
    axl_emu_set_state(e, m);
    return 0;
}

static int gantry_init(axl_emu *e, const char *opt)
{
    return init_common(e, opt, 3);
}
static int axis_init(axl_emu *e, const char *opt)
{
    return init_common(e, opt, 1);
}

static void fini(axl_emu *e)
{
    free(axl_emu_state(e));
}

static size_t frame_line(axl_emu *e, const char *buf, size_t len)
{
    (void)e;
    const char *nl = memchr(buf, '\n', len);
    return nl != NULL ? (size_t)(nl - buf) + 1 : 0;
}

static double move_ms(const marlin *m, double d)
{
    double v = m->vmax;
    if (m->feed > 0 && m->feed / 60 < v)
        v = m->feed / 60;
    double a = m->accel;
    double t = d < v * v / a ? 2 * sqrt(d / a) : d / v + v / a;
    return t * 1000;
}

static void report(axl_emu *e, marlin *m, double delay)
{
    axl_emu_reply(e, delay, "X:%.2f Y:%.2f Z:%.2f E:0.00 Count X:%ld Y:%ld Z:%ld\nok\n", m->pos[0],
                  m->axes == 3 ? m->pos[1] : 0.0, m->axes == 3 ? m->pos[2] : 0.0,
                  lround(m->pos[0] * m->steps[0]),
                  m->axes == 3 ? lround(m->pos[1] * m->steps[1]) : 0L,
                  m->axes == 3 ? lround(m->pos[2] * m->steps[2]) : 0L);
}

/* Device ms until the planned motion ends. */
static double remaining(axl_emu *e, marlin *m)
{
    double r = m->busy_until - axl_emu_now(e);
    return r > 0 ? r : 0;
}

static void plan(axl_emu *e, marlin *m, double d)
{
    double now = axl_emu_now(e);
    double start = m->busy_until > now ? m->busy_until : now;
    m->busy_until = start + move_ms(m, d);
}

static void command(axl_emu *e, const char *cmd, size_t len)
{
    marlin *m = axl_emu_state(e);
    char line[256];
    size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    memcpy(line, cmd, n);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    line[n] = '\0';
    if (axl_emu_fault(e, "busy")) {
        axl_emu_reply(e, 0, "Error:Printer halted. kill() called!\nok\n");
        return;
    }
    if (strncmp(line, "G0", 2) == 0 || strncmp(line, "G1", 2) == 0) {
        double t[3];
        memcpy(t, m->pos, sizeof(t));
        double f = m->feed;
        for (char *p = line + 2; *p; p++) {
            if (p[-1] != ' ')
                continue;
            int ax = *p == 'X' ? 0 : *p == 'Y' ? 1 : *p == 'Z' ? 2 : *p == 'F' ? 3 : -1;
            if (ax < 0)
                continue;
            char *end;
            double v = strtod(p + 1, &end);
            if (end == p + 1) {
                axl_emu_reply(e, 0, "echo:Unknown command: \"%s\"\nok\n", line);
                return;
            }
            if (ax == 3)
                f = v;
            else if (ax < m->axes)
                t[ax] = v;
        }
        for (int i = 0; i < m->axes; i++)
            if (t[i] < 0 || t[i] > m->max[i]) {
                axl_emu_reply(e, 0, "Error:Move out of frame: %c%.2f (0-%.2f)\nok\n", "XYZ"[i],
                              t[i], m -> max[i]);
                return;
            }
        m->feed = f;
        double d2 = 0;
        for (int i = 0; i < m->axes; i++)
            d2 += (t[i] - m->pos[i]) * (t[i] - m->pos[i]);
        memcpy(m->pos, t, sizeof(t));
        if (d2 > 0)
            plan(e, m, sqrt(d2));
        axl_emu_reply(e, 0, "ok\n");
        return;
    }
    if (strncmp(line, "G28", 3) == 0) {
        double d2 = 0;
        for (int i = 0; i < m->axes; i++) {
            double h = m->homes_to_max ? m->max[i] : 0;
            d2 += (h - m->pos[i]) * (h - m->pos[i]);
            m->pos[i] = h;
        }
        plan(e, m, sqrt(d2) + 10); /* the approach and the bump */
        report(e, m, remaining(e, m));
        return;
    }
    if (strcmp(line, "M400") == 0) {
        double r = remaining(e, m);
        for (double b = 2000; b < r; b += 2000)
            axl_emu_reply(e, 2000, "echo:busy: processing\n");
        axl_emu_reply(e, r, "ok\n");
        return;
    }
    if (strncmp(line, "M118 E1 ", 8) == 0) {
        axl_emu_reply(e, 0, "echo:%s\nok\n", line + 8);
        return;
    }
    if (strcmp(line, "M114") == 0) {
        report(e, m, 0);
        return;
    }
    if (strcmp(line, "M501") == 0 || strcmp(line, "G90") == 0 || strncmp(line, "M906", 4) == 0 ||
        strncmp(line, "M84", 3) == 0 || strncmp(line, "M203", 4) == 0 || strcmp(line, "M17") == 0 ||
        strcmp(line, "M18") == 0) {
        axl_emu_reply(e, 0, "ok\n");
        return;
    }
    axl_emu_reply(e, 0, "echo:Unknown command: \"%s\"\nok\n", line);
}

const axl_emu_model axl_emu_gantry = {"gantry", frame_line, command, gantry_init, fini};
const axl_emu_model axl_emu_axis = {"axis", frame_line, command, axis_init, fini};
