/*
 * relay.c - the Numato 16-channel USB relay box (HARDWARE.md §5): `relay on|off <c>\n\r`,
 * then `relay read <c>\r`, whose answer (`on` / `off`, between the echoed command and the
 * `>` prompt) confirms the switch.
 */
#include "hw/devices/axl_devices.h"

#include <stdio.h>
#include <string.h>

int axl_relay_init(axl_relay *r, uv_loop_t *loop, const char *path, axl_errbuf *eb)
{
    memset(r, 0, sizeof(*r));
    r->speed = 1;
    axl_serial_opts o = {.path = path,
                         .baud = 9600,
                         .data_bits = 8,
                         .parity = 'N',
                         .stop_bits = 1,
                         .name = "relay box"};
    return axl_sdev_new(&r->s, loop, &o, eb);
}

void axl_relay_close(axl_relay *r)
{
    axl_sdev_close(r->s);
    r->s = NULL;
}

char axl_relay_channel(int index)
{
    /* HARDWARE.md §5: 1->1 .. 4->C .. 8->0, 9->4 .. 14->B, vacuum (15 here) -> 8 */
    static const char real[16] = {0,   '1', '2', '3', 'C', 'D', 'E', 'F',
                                  '0', '4', '5', '6', '9', 'A', 'B', '8'};
    return index >= 1 && index <= 15 ? real[index] : 0;
}

static axl_xch_verdict r_read(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)len;
    bool want_on = x->num[0] == 1;
    if (strcmp(line, "on") == 0 || strcmp(line, "off") == 0) {
        if ((strcmp(line, "on") == 0) == want_on)
            return AXL_XCH_DONE; /* the `>` prompt that follows has no terminator */
        snprintf(why, AXL_XCH_WHY_MAX, "relay %c reads `%s` after `relay %s`", (int)x->num[2], line,
                 want_on ? "on" : "off");
        return AXL_XCH_FAIL;
    }
    if (strcmp(line, ">") == 0 || strncmp(line, ">relay", 6) == 0 || strncmp(line, "relay", 5) == 0)
        return AXL_XCH_IGNORE; /* prompts and the echo of our commands */
    snprintf(why, AXL_XCH_WHY_MAX, "relay box answered `%.100s`", line);
    return AXL_XCH_RETRY; /* a read: ask again */
}

axl_sop *axl_relay_set(axl_relay *r, int index, bool on, axl_dev_cb cb, void *arg)
{
    axl_sop *op = axl_sop_new(r->s, cb, arg);
    if (op == NULL)
        return NULL;
    char c = axl_relay_channel(index);
    if (c == 0) {
        axl_sop_fail(op, AXL_ERANGE, "relay index %d is outside 1-15", index);
    } else {
        axl_sop_send(op, NULL, 0, 0, "relay %s %c\n\r", on ? "on" : "off", c);
        axl_xch *x =
            axl_sop_send(op, r_read, axl_dev_ms(1000, r->speed, 1000), 1, "relay read %c\r", c);
        if (x != NULL) {
            x->num[0] = on;
            x->num[2] = c;
        }
    }
    axl_sop_seal(op);
    return op;
}
