/*
 * shutter_slider.c - the characterization line's lamp shutter (an Arduino: one byte `u` /
 * `d`, a line containing `ok`) and its Thorlabs Elliptec filter sliders (`<addr>fw` /
 * `<addr>bw`, one reply line) (HARDWARE.md §8).
 */
#include "hw/devices/axl_devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int axl_shutter_init(axl_shutter *sh, uv_loop_t *loop, const char *path, axl_errbuf *eb)
{
    memset(sh, 0, sizeof(*sh));
    sh->speed = 1;
    axl_serial_opts o = {.path = path,
                         .baud = 115200,
                         .data_bits = 8,
                         .parity = 'N',
                         .stop_bits = 1,
                         .name = "shutter"};
    return axl_sdev_new(&sh->s, loop, &o, eb);
}

void axl_shutter_close(axl_shutter *sh)
{
    axl_sdev_close(sh->s);
    sh->s = NULL;
}

static axl_xch_verdict sh_ok(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)x;
    (void)len;
    if (strstr(line, "ok") != NULL)
        return AXL_XCH_DONE;
    if (strncmp(line, "err", 3) == 0) {
        snprintf(why, AXL_XCH_WHY_MAX, "shutter answered `%.100s`", line);
        return AXL_XCH_FAIL;
    }
    return AXL_XCH_IGNORE;
}

axl_sop *axl_shutter_set(axl_shutter *sh, bool open, axl_dev_cb cb, void *arg)
{
    axl_sop *op = axl_sop_new(sh->s, cb, arg);
    if (op == NULL)
        return NULL;
    axl_sop_send(op, sh_ok, axl_dev_ms(5000, sh->speed, 1000), 1, "%c",
                 open ? 'u' : 'd'); /* PASCAL's 5 s */
    axl_sop_seal(op);
    return op;
}

int axl_slider_init(axl_slider *sl, uv_loop_t *loop, const char *path, double speed, axl_errbuf *eb)
{
    memset(sl, 0, sizeof(*sl));
    sl->speed = speed >= 1 ? speed : 1;
    axl_serial_opts o = {.path = path,
                         .baud = 9600,
                         .data_bits = 8,
                         .parity = 'N',
                         .stop_bits = 1,
                         .name = "filter slider"};
    return axl_sdev_new(&sl->s, loop, &o, eb);
}

void axl_slider_close(axl_slider *sl)
{
    axl_sdev_close(sl->s);
    sl->s = NULL;
}

static const char *elliptec_status(int code)
{
    switch (code) {
    case 1:
        return "communication time out";
    case 2:
        return "mechanical time out";
    case 3:
        return "command error or not supported";
    case 4:
        return "value out of range";
    case 5:
        return "module isolated";
    case 6:
        return "module out of isolation";
    case 7:
        return "initializing error";
    case 8:
        return "thermal error";
    case 9:
        return "busy";
    case 10:
        return "sensor error";
    case 11:
        return "motor error";
    case 12:
        return "out of range";
    case 13:
        return "over current error";
    default:
        return "error";
    }
}

static axl_xch_verdict sl_reply(axl_xch *x, const char *line, size_t len, char *why)
{
    char addr = (char)x->num[0];
    if (len >= 3 && line[0] == addr && strncmp(line + 1, "PO", 2) == 0) {
        x->num[1] = strtol(line + 3, NULL, 16);
        return AXL_XCH_DONE;
    }
    if (len >= 5 && line[0] == addr && strncmp(line + 1, "GS", 2) == 0) {
        int code = (int)strtol(line + 3, NULL, 16);
        if (code == 0)
            return AXL_XCH_DONE;
        snprintf(why, AXL_XCH_WHY_MAX, "filter slider %c answered `%.40s` (%s)", addr, line,
                 elliptec_status(code));
        return AXL_XCH_FAIL;
    }
    snprintf(why, AXL_XCH_WHY_MAX, "filter slider %c answered `%.60s`", addr, line);
    return AXL_XCH_FAIL; /* a jog is not idempotent: no re-send */
}

axl_sop *axl_slider_move(axl_slider *sl, int addr, bool forward, axl_dev_cb cb, void *arg)
{
    axl_sop *op = axl_sop_new(sl->s, cb, arg);
    if (op == NULL)
        return NULL;
    if (addr < 0 || addr > 15) {
        axl_sop_fail(op, AXL_ERANGE, "slider address %d is outside 0-F", addr);
    } else {
        char a = "0123456789ABCDEF"[addr];
        axl_xch *x = axl_sop_send(op, sl_reply, axl_dev_ms(3000, sl->speed, 1000), 0, "%c%s", a,
                                  forward ? "fw" : "bw");
        if (x != NULL)
            x->num[0] = a;
    }
    axl_sop_seal(op);
    return op;
}
