/*
 * emu_hotplate.c - an Omega CN-type / Delta DTB PID controller on Modbus ASCII, slave 1
 * (HARDWARE.md §6): FC03 of 0x1000 (process value) and 0x1001 (setpoint) in 0.1 deg C,
 * FC06 of 0x1001 and 0x101C (PID mode) answered by the byte-identical echo. A frame with
 * a bad LRC or for another slave gets no reply (as on a real bus); an unknown register or
 * function gets an exception. The plate heats toward its setpoint (first order, 90 s time
 * constant, at most 0.5 deg C/s) and cools toward 23 deg C when the setpoint is 0.
 */
#include "hw/emulate/axl_emulate.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AMBIENT 23.0
#define TAU_S 90.0
#define MAX_RATE 0.5

typedef struct plate {
    double t, temp, setpoint;
    int pid_mode;
} plate;

static int h_init(axl_emu *e, const char *opt)
{
    plate *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -2;
    p->temp = AMBIENT;
    if (opt != NULL && opt[0] != '\0' && sscanf(opt, "%lf", &p->temp) != 1) {
        free(p);
        return -1;
    }
    axl_emu_set_state(e, p);
    return 0;
}

static void h_fini(axl_emu *e)
{
    free(axl_emu_state(e));
}

static void update(axl_emu *e, plate *p)
{
    double now = axl_emu_now(e);
    double dt = (now - p->t) / 1000;
    p->t = now;
    double target = p->setpoint > AMBIENT ? p->setpoint : AMBIENT;
    for (; dt > 0; dt -= 1) { /* 1 s steps */
        double h = dt < 1 ? dt : 1;
        double d = (target - p->temp) * (1 - exp(-h / TAU_S));
        if (fabs(d) > MAX_RATE * h)
            d = copysign(MAX_RATE * h, d);
        p->temp += d;
    }
}

static size_t frame_crlf(axl_emu *e, const char *buf, size_t len)
{
    (void)e;
    const char *nl = memchr(buf, '\n', len);
    return nl != NULL ? (size_t)(nl - buf) + 1 : 0;
}

static unsigned lrc(const unsigned char *b, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    return (unsigned)(-s) & 0xFF;
}

static void send_frame(axl_emu *e, const unsigned char *b, size_t n)
{
    char out[128];
    size_t k = 0;
    out[k++] = ':';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(out + k, sizeof(out) - k, "%02X", b[i]);
    unsigned l = lrc(b, n);
    if (axl_emu_fault(e, "badsum"))
        l = (l + 0x11) & 0xFF;
    snprintf(out + k, sizeof(out) - k, "%02X\r\n", l);
    /* 9600 baud 7E1: ~1 ms a character, plus the controller's ~20 ms turnaround */
    axl_emu_reply(e, 20 + (double)strlen(out) * 10 * 1000 / 9600, "%s", out);
}

static void exception(axl_emu *e, int fn, int code)
{
    unsigned char b[3] = {1, (unsigned char)(fn | 0x80), (unsigned char)code};
    send_frame(e, b, 3);
}

static void h_command(axl_emu *e, const char *cmd, size_t len)
{
    plate *p = axl_emu_state(e);
    update(e, p);
    while (len > 0 && (cmd[len - 1] == '\n' || cmd[len - 1] == '\r'))
        len--;
    if (len < 1 || cmd[0] != ':' || (len - 1) % 2 != 0 || (len - 1) / 2 > 32)
        return; /* noise on the bus */
    unsigned char b[32];
    size_t n = (len - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(cmd + 1 + 2 * i, "%2X", &v) != 1)
            return;
        b[i] = (unsigned char)v;
    }
    if (n < 7 || lrc(b, n - 1) != b[n - 1] || b[0] != 1)
        return; /* a bad LRC (PASCAL's "100") or another slave: silence */
    int fn = b[1];
    unsigned reg = (unsigned)b[2] << 8 | b[3], data = (unsigned)b[4] << 8 | b[5];
    if (axl_emu_fault(e, "busy")) {
        exception(e, fn, 6);
        return;
    }
    if (fn == 3) {
        if (data != 1 || (reg != 0x1000 && reg != 0x1001)) {
            exception(e, fn, 2);
            return;
        }
        double v = reg == 0x1000 ? p->temp : p->setpoint;
        int raw = (int)lround(v * 10);
        unsigned u = (unsigned)(raw & 0xFFFF);
        unsigned char r[5] = {1, 3, 2, (unsigned char)(u >> 8), (unsigned char)u};
        send_frame(e, r, 5);
        return;
    }
    if (fn == 6) {
        if (reg == 0x1001)
            p->setpoint = (int16_t)data * 0.1;
        else if (reg == 0x101C)
            p->pid_mode = (int)data;
        else {
            exception(e, fn, 2);
            return;
        }
        send_frame(e, b, 6); /* the echo */
        return;
    }
    if (fn == 5 && reg == 0x0813) { /* autotune on/off: echo */
        send_frame(e, b, 6);
        return;
    }
    exception(e, fn, 1);
}

const axl_emu_model axl_emu_hotplate = {"hotplate", frame_crlf, h_command, h_init, h_fini};
