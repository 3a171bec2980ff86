/*
 * emu_simple.c - the small serial devices (HARDWARE.md §3, §5, §8): the servo gripper
 * (`S<pwm> <rate>` -> `ok` after the servo's travel, `l` -> the spring load), the Numato
 * relay box (echo, `on`/`off` for `relay read`, the `>` prompt), the lamp shutter (`u` /
 * `d` -> `ok`) and the Elliptec filter sliders (`<a>fw` / `<a>bw` -> `<a>PO<8 hex>`).
 */
#include "hw/emulate/axl_emulate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- gripper ---- */

typedef struct gripper {
    int pwm;
} gripper;

static int g_init(axl_emu *e, const char *opt)
{
    (void)opt;
    gripper *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return -2;
    axl_emu_set_state(e, g);
    return 0;
}

static void free_state(axl_emu *e)
{
    free(axl_emu_state(e));
}

static size_t frame_nl(axl_emu *e, const char *buf, size_t len)
{
    (void)e;
    const char *nl = memchr(buf, '\n', len);
    return nl != NULL ? (size_t)(nl - buf) + 1 : 0;
}

static void g_command(axl_emu *e, const char *cmd, size_t len)
{
    (void)len;
    gripper *g = axl_emu_state(e);
    int pwm, rate;
    if (axl_emu_fault(e, "busy")) {
        axl_emu_reply(e, 0, "busy\r\n");
        return;
    }
    if (sscanf(cmd, "S%d %d", &pwm, &rate) == 2 && pwm >= 0 && pwm <= 850 && rate > 0) {
        /* rate: us of pulse width per 10 ms */
        double ms = abs(pwm - g->pwm) * 10.0 / rate;
        g->pwm = pwm;
        axl_emu_reply(e, ms, "ok\r\n");
        return;
    }
    if (strcmp(cmd, "l\n") == 0) {
        /* closed on a film (8 mm: pwm ~523) the springs are not loaded */
        double load = g->pwm >= 400 && g->pwm <= 700 ? 1534.0 : 2612.0;
        axl_emu_reply(e, 5, "%.1f\r\n", load);
        return;
    }
    /* the board ignores what it does not understand (PASCAL's host would time out) */
}

const axl_emu_model axl_emu_gripper = {"gripper", frame_nl, g_command, g_init, free_state};

/* ---- Numato relay box ---- */

typedef struct relay {
    bool on[36];
} relay;

static int r_init(axl_emu *e, const char *opt)
{
    (void)opt;
    relay *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -2;
    axl_emu_set_state(e, r);
    return 0;
}

static size_t frame_cr(axl_emu *e, const char *buf, size_t len)
{
    (void)e;
    const char *cr = memchr(buf, '\r', len);
    return cr != NULL ? (size_t)(cr - buf) + 1 : 0;
}

static int chan(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)toupper((unsigned char)c);
    return c >= 'A' && c <= 'Z' ? c - 'A' + 10 : -1;
}

static void r_command(axl_emu *e, const char *cmd, size_t len)
{
    relay *r = axl_emu_state(e);
    char line[128];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof(line) - 1; i++)
        if (cmd[i] != '\n' && cmd[i] != '\r')
            line[n++] = cmd[i];
    line[n] = '\0';
    char verb[16];
    char c;
    /* The Numato echoes what it receives, then answers, then prompts. */
    if (sscanf(line, "relay %15s %c", verb, &c) == 2 && chan(c) >= 0 && chan(c) < 16) {
        int k = chan(c);
        if (strcmp(verb, "on") == 0 || strcmp(verb, "off") == 0) {
            r->on[k] = strcmp(verb, "on") == 0;
            axl_emu_reply(e, 1, "%s\n\r>", line);
            return;
        }
        if (strcmp(verb, "read") == 0) {
            axl_emu_reply(e, 1, "%s\n\r%s\n\r>", line, r->on[k] ? "on" : "off");
            return;
        }
    }
    axl_emu_reply(e, 1, "%s\n\r>", line); /* unknown: echo and prompt */
}

const axl_emu_model axl_emu_relay = {"relay", frame_cr, r_command, r_init, free_state};

/* ---- lamp shutter ---- */

static size_t frame_byte(axl_emu *e, const char *buf, size_t len)
{
    (void)e;
    (void)buf;
    return len > 0 ? 1 : 0;
}

static void s_command(axl_emu *e, const char *cmd, size_t len)
{
    (void)len;
    if (cmd[0] != 'u' && cmd[0] != 'd')
        return; /* newlines and noise */
    if (axl_emu_fault(e, "busy")) {
        axl_emu_reply(e, 0, "err\r\n");
        return;
    }
    axl_emu_reply(e, 150, "%s ok\r\n", cmd[0] == 'u' ? "up" : "down");
}

const axl_emu_model axl_emu_shutter = {"shutter", frame_byte, s_command, NULL, NULL};

/* ---- Elliptec filter sliders (several on one bus, addressed 0-F) ---- */

typedef struct sliders {
    int pos[16];
} sliders;

static int sl_init(axl_emu *e, const char *opt)
{
    (void)opt;
    sliders *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -2;
    axl_emu_set_state(e, s);
    return 0;
}

static size_t frame_elliptec(axl_emu *e, const char *buf, size_t len)
{
    (void)e;
    /* `<a>fw` / `<a>bw` are 3 bytes; stray CR / LF are commands of one byte (ignored) */
    if (buf[0] == '\r' || buf[0] == '\n')
        return 1;
    return len >= 3 ? 3 : 0;
}

static void sl_command(axl_emu *e, const char *cmd, size_t len)
{
    sliders *s = axl_emu_state(e);
    if (len != 3)
        return;
    int a = chan(cmd[0]);
    if (a < 0 || a > 15)
        return; /* not addressed to anyone on the bus: silence */
    if (axl_emu_fault(e, "busy")) {
        axl_emu_reply(e, 0, "%cGS09\r\n", cmd[0]);
        return;
    }
    if (strncmp(cmd + 1, "fw", 2) == 0 || strncmp(cmd + 1, "bw", 2) == 0) {
        s->pos[a] = cmd[1] == 'f' ? 31 : 0; /* two-position slider: 0x1F pulses apart */
        axl_emu_reply(e, 400, "%cPO%08X\r\n", cmd[0], (unsigned)s->pos[a]);
        return;
    }
    axl_emu_reply(e, 0, "%cGS03\r\n", cmd[0]); /* command not supported */
}

const axl_emu_model axl_emu_slider = {"slider", frame_elliptec, sl_command, sl_init, free_state};
