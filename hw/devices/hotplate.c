/*
 * hotplate.c - PASCAL's hotplate PID controllers: Modbus ASCII over RS-485, 9600 7E1,
 * slave address 1 (HARDWARE.md §6). Frames `:` AA FF RRRR DDDD LRC CR LF with the
 * standard LRC - PASCAL's gives three characters ("100") when the byte sum is a multiple
 * of 256; that bug is not copied.
 */
#include "hw/devices/axl_devices.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define REG_TEMP 0x1000
#define REG_SETPOINT 0x1001
#define REG_PID_MODE 0x101C
#define PID_AUTO 4

unsigned axl_modbus_lrc(const unsigned char *bytes, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += bytes[i];
    return (unsigned)(-sum) & 0xFF;
}

size_t axl_modbus_frame(char *out, size_t cap, int addr, int fn, unsigned reg, unsigned data)
{
    unsigned char b[6] = {(unsigned char)addr,        (unsigned char)fn,
                          (unsigned char)(reg >> 8),  (unsigned char)reg,
                          (unsigned char)(data >> 8), (unsigned char)data};
    int n = snprintf(out, cap, ":%02X%02X%04X%04X%02X\r\n", addr & 0xFF, fn & 0xFF, reg & 0xFFFF,
                     data & 0xFFFF, axl_modbus_lrc(b, 6));
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int axl_modbus_parse(const char *line, size_t len, unsigned char *bytes, size_t cap, char *why,
                     size_t why_len)
{
    /* A receiver resynchronises on the last ':' (a cut frame before it is noise). */
    const char *start = NULL;
    for (size_t i = 0; i < len; i++)
        if (line[i] == ':')
            start = line + i;
    if (start == NULL) {
        snprintf(why, why_len, "not a Modbus ASCII frame: `%.60s`", line);
        return AXL_EPROTO;
    }
    size_t hex = len - (size_t)(start + 1 - line);
    if (hex < 6 || hex % 2 != 0 || hex / 2 > cap) {
        snprintf(why, why_len, "Modbus frame of bad length: `%.60s`", start);
        return AXL_EPROTO;
    }
    size_t n = hex / 2;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(start[1 + 2 * i]), lo = hexval(start[2 + 2 * i]);
        if (hi < 0 || lo < 0) {
            snprintf(why, why_len, "Modbus frame with a non-hex digit: `%.60s`", start);
            return AXL_EPROTO;
        }
        bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    if (axl_modbus_lrc(bytes, n - 1) != bytes[n - 1]) {
        snprintf(why, why_len, "Modbus LRC mismatch in `%.60s` (expected %02X)", start,
                 axl_modbus_lrc(bytes, n - 1));
        return AXL_ECORRUPT;
    }
    return (int)(n - 1);
}

void axl_hotplate_serial(axl_serial_opts *o, const char *path)
{
    memset(o, 0, sizeof(*o));
    o->path = path;
    o->baud = 9600;
    o->data_bits = 7;
    o->parity = 'E';
    o->stop_bits = 1;
    o->name = "hotplate";
}

int axl_hotplate_init(axl_hotplate *h, uv_loop_t *loop, const axl_serial_opts *port, axl_errbuf *eb)
{
    memset(h, 0, sizeof(*h));
    h->address = 1;
    h->speed = 1;
    h->temperature = h->setpoint = NAN;
    return axl_sdev_new(&h->s, loop, port, eb);
}

void axl_hotplate_close(axl_hotplate *h)
{
    axl_sdev_close(h->s);
    h->s = NULL;
}

static const char *exception_name(int code)
{
    switch (code) {
    case 1:
        return "illegal function";
    case 2:
        return "illegal data address";
    case 3:
        return "illegal data value";
    case 4:
        return "slave device failure";
    case 6:
        return "slave device busy";
    default:
        return "exception";
    }
}

/* The reply to x's request: num[0] = function, num[1] = register, num[2] = data. */
static axl_xch_verdict mb_reply(axl_xch *x, const char *line, size_t len, char *why)
{
    unsigned char b[32];
    int n = axl_modbus_parse(line, len, b, sizeof(b), why, AXL_XCH_WHY_MAX);
    if (n < 0)
        return AXL_XCH_RETRY; /* garbled or bad checksum: the request is idempotent */
    int fn = (int)x->num[0];
    if (n >= 3 && b[1] == (fn | 0x80)) {
        snprintf(why, AXL_XCH_WHY_MAX, "hotplate Modbus exception %d (%s) to function %d", b[2],
                 exception_name(b[2]), fn);
        return b[2] == 6 ? AXL_XCH_RETRY : AXL_XCH_FAIL;
    }
    if (n < 2 || b[1] != fn) {
        snprintf(why, AXL_XCH_WHY_MAX, "hotplate reply `%.60s` is not to function %d", line, fn);
        return AXL_XCH_RETRY;
    }
    if (fn == 3) {
        if (n != 5 || b[2] != 2) {
            snprintf(why, AXL_XCH_WHY_MAX, "hotplate FC03 reply of bad size: `%.60s`", line);
            return AXL_XCH_RETRY;
        }
        x->num[3] = (double)(b[3] << 8 | b[4]);
        return AXL_XCH_DONE;
    }
    /* FC06: the byte-identical echo */
    char expect[32];
    axl_modbus_frame(expect, sizeof(expect), 1, fn, (unsigned)x->num[1], (unsigned)x->num[2]);
    if (len + 2 != strlen(expect) || memcmp(line, expect, len) != 0) {
        snprintf(why, AXL_XCH_WHY_MAX, "hotplate echo `%.40s` differs from the request", line);
        return AXL_XCH_FAIL;
    }
    return AXL_XCH_DONE;
}

static void on_read(axl_sop *op, axl_xch *x)
{
    axl_hotplate *h = op->user;
    if ((int)x->num[0] != 3)
        return;
    /* the controller's register is a signed 16-bit count of 0.1 deg C */
    double raw = x->num[3] >= 32768 ? x->num[3] - 65536 : x->num[3];
    op->v[0] = raw * 0.1;
    if ((unsigned)x->num[1] == REG_TEMP)
        h->temperature = op->v[0];
    else
        h->setpoint = op->v[0];
}

static axl_sop *request(axl_hotplate *h, int fn, unsigned reg, unsigned data, axl_dev_cb cb,
                        void *arg)
{
    axl_sop *op = axl_sop_new(h->s, cb, arg);
    if (op == NULL)
        return NULL;
    op->user = h;
    op->on_xch = on_read;
    char f[32];
    axl_modbus_frame(f, sizeof(f), h->address, fn, reg, data);
    axl_xch *x = axl_sop_send(op, mb_reply, axl_dev_ms(2000, h->speed, 1000), 2, "%s",
                              f); /* PASCAL's 2 s timeout */
    if (x != NULL) {
        x->num[0] = fn;
        x->num[1] = reg;
        x->num[2] = data;
    }
    axl_sop_seal(op);
    return op;
}

axl_sop *axl_hotplate_read_temp(axl_hotplate *h, axl_dev_cb cb, void *arg)
{
    return request(h, 3, REG_TEMP, 1, cb, arg);
}

axl_sop *axl_hotplate_read_setpoint(axl_hotplate *h, axl_dev_cb cb, void *arg)
{
    return request(h, 3, REG_SETPOINT, 1, cb, arg);
}

axl_sop *axl_hotplate_write_setpoint(axl_hotplate *h, double celsius, axl_dev_cb cb, void *arg)
{
    if (!(celsius >= 0 && celsius <= 400)) {
        axl_sop *op = axl_sop_new(h->s, cb, arg);
        if (op != NULL) {
            axl_sop_fail(op, AXL_ERANGE, "setpoint %g deg C is outside 0-400", celsius);
            axl_sop_seal(op);
        }
        return op;
    }
    return request(h, 6, REG_SETPOINT, (unsigned)lround(celsius * 10), cb, arg);
}

axl_sop *axl_hotplate_pid_auto(axl_hotplate *h, axl_dev_cb cb, void *arg)
{
    return request(h, 6, REG_PID_MODE, PID_AUTO, cb, arg);
}
