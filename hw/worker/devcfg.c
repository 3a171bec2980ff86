/*
 * devcfg.c - the `line.devices` section (axl_devcfg.h) from JSON, every error naming its
 * path. The defaults are PASCAL's constants (HARDWARE.md §1, §9) and, where PASCAL reads
 * a calibration file (tray and hotplate grids), a layout inside its gantry frame that a
 * lab replaces with its own measurements.
 */
#include "hw/worker/axl_devcfg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/json/axl_json.h"

static void grid(axl_slot_grid *g, double x, double y, double z, int rows, int columns)
{
    g->origin[0] = x;
    g->origin[1] = y;
    g->origin[2] = z;
    g->pitch[0] = g->pitch[1] = 15;
    g->rows = rows;
    g->columns = columns;
}

void axl_devcfg_default(axl_line_devices *d)
{
    memset(d, 0, sizeof(*d));
    d->spincoater.vacuum = 15;
    d->hotplate.tolerance_c = 2;
    d->hotplate.settle_timeout_s = 1800;
    d->hotplate.poll_s = 5;
    for (int i = 0; i < AXL_DEVCFG_PLATES; i++)
        d->hotplate.plate[i].setpoint = NAN;
    axl_devcfg_gripper *g = &d->gripper;
    g->frame_max[0] = 567;
    g->frame_max[1] = 282;
    g->frame_max[2] = 166;
    g->z_travel = 77;
    g->workspace_x = 192.25;
    g->transition_y = 60;
    g->feed_mm_min = 20000;
    g->open_mm = 12.7;
    g->grip_mm = 8;
    g->catch_tries = 3;
    grid(&g->tray, 250, 200, 20, 9, 5);
    g->nplates = 3;
    grid(&g->plate[0], 330, 250, 30, 5, 6);
    grid(&g->plate[1], 440, 250, 30, 5, 6);
    grid(&g->plate[2], 330, 150, 30, 5, 6);
    const double spin[3] = {1.5, 7.4, 58.3}, chr[3] = {564.8, 243.1, 63.6};
    memcpy(g->spincoater, spin, sizeof(spin));
    memcpy(g->characterization, chr, sizeof(chr));
    d->characterization.nexposures = 3;
    d->characterization.exposures_ms[0] = 1000;
    d->characterization.exposures_ms[1] = 5000;
    d->characterization.exposures_ms[2] = 20000;
}

/* ---- small readers ------------------------------------------------------------------------ */

static int fail(axl_errbuf *eb, const char *path, const char *key, const char *what)
{
    return axl_fail(eb, AXL_ECONFIG, "%s.%s: %s", path, key, what);
}

static int num(const json_t *o, const char *path, const char *key, double lo, double hi,
               double *out, axl_errbuf *eb)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return axl_fail(eb, AXL_ECONFIG, "%s.%s: must be a number in [%g, %g]", path, key, lo, hi);
    *out = json_number_value(v);
    return 0;
}

static int integer(const json_t *o, const char *path, const char *key, int lo, int hi, int *out,
                   axl_errbuf *eb)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return axl_fail(eb, AXL_ECONFIG, "%s.%s: must be a whole number in [%d, %d]", path, key, lo,
                        hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int string(const json_t *o, const char *path, const char *key, char *out, size_t cap,
                  axl_errbuf *eb)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return axl_fail(eb, AXL_ECONFIG, "%s.%s: must be a non-empty string under %zu bytes", path,
                        key, cap);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

/* [x, y, z] (n = 3) or [x, y] (n = 2), each in [lo[i], hi[i]]. */
static int vec(const json_t *o, const char *path, const char *key, int n, const double *lo,
               const double *hi, double *out, axl_errbuf *eb)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) != (size_t)n)
        return axl_fail(eb, AXL_ECONFIG, "%s.%s: must be an array of %d numbers", path, key, n);
    for (int i = 0; i < n; i++) {
        const json_t *x = json_array_get(v, (size_t)i);
        if (!json_is_number(x) || !(json_number_value(x) >= lo[i] && json_number_value(x) <= hi[i]))
            return axl_fail(eb, AXL_ECONFIG, "%s.%s[%d]: must be a number in [%g, %g]", path, key,
                            i, lo[i], hi[i]);
        out[i] = json_number_value(x);
    }
    return 0;
}

static bool hex_id(const char *s, size_t n)
{
    if (n != 4)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

/* "port": "/dev/ttyACM0" or "usb:1eaf:0004[:SERIAL]" (required). */
static int port(const json_t *o, const char *path, const char *key, axl_devport *p, axl_errbuf *eb)
{
    const json_t *v = json_object_get(o, key);
    memset(p, 0, sizeof(*p));
    if (v == NULL)
        return fail(eb, path, key, "required (a tty path, or usb:VID:PID[:SERIAL])");
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    size_t n = strlen(s);
    if (s[0] == '/' && n < sizeof(p->path)) {
        memcpy(p->path, s, n + 1);
        return 0;
    }
    if (strncmp(s, "usb:", 4) == 0) {
        const char *vid = s + 4, *c1 = strchr(vid, ':');
        const char *pid = c1 != NULL ? c1 + 1 : NULL, *c2 = pid ? strchr(pid, ':') : NULL;
        size_t pid_len = pid == NULL ? 0 : c2 != NULL ? (size_t)(c2 - pid) : strlen(pid);
        if (c1 != NULL && hex_id(vid, (size_t)(c1 - vid)) && hex_id(pid, pid_len) &&
            (c2 == NULL || (strlen(c2 + 1) > 0 && strlen(c2 + 1) < sizeof(p->serial) &&
                            strcspn(c2 + 1, "/ ") == strlen(c2 + 1)))) {
            memcpy(p->vid, vid, 4);
            memcpy(p->pid, pid, 4);
            if (c2 != NULL)
                snprintf(p->serial, sizeof(p->serial), "%s", c2 + 1);
            snprintf(p->path, sizeof(p->path), "%s", s); /* axl_sdev_new reads it */
            return 0;
        }
    }
    return fail(eb, path, key,
                "must be an absolute tty path (/dev/ttyACM0) or usb:VID:PID[:SERIAL] with "
                "4-digit hex ids (usb:1eaf:0004)");
}

/* A device object {"port": ..., extra keys}; keys lists the allowed ones. */
static int device(const json_t *o, const char *path, const char *key, const char *const *keys,
                  axl_devport *p, char *sub, size_t sub_len, const json_t **dev, axl_errbuf *eb)
{
    snprintf(sub, sub_len, "%s.%s", path, key);
    *dev = json_object_get(o, key);
    if (*dev == NULL)
        return fail(eb, path, key, "required (an object with its \"port\")");
    if (!json_is_object(*dev))
        return axl_fail(eb, AXL_ECONFIG, "%s: must be an object", sub);
    int rv = axl_json_check_keys(*dev, sub, keys, AXL_ECONFIG, eb);
    return rv != 0 ? rv : port(*dev, sub, "port", p, eb);
}

static int object(const json_t *o, const char *path, const char *const *keys, axl_errbuf *eb)
{
    if (!json_is_object(o))
        return axl_fail(eb, AXL_ECONFIG, "%s: must be an object", path);
    return axl_json_check_keys(o, path, keys, AXL_ECONFIG, eb);
}

static const char *const PORT_ONLY[] = {"port", NULL};

/* ---- the roles ------------------------------------------------------------------------------ */

static int parse_spincoater(const json_t *j, const char *path, axl_devcfg_spincoater *s,
                            axl_errbuf *eb)
{
    static const char *const keys[] = {"odrive", "relay", "ot2", NULL};
    static const char *const relay_keys[] = {"port", "vacuum", NULL};
    static const char *const ot2_keys[] = {"url", NULL};
    char sub[200];
    const json_t *d;
    int rv;
    if ((rv = object(j, path, keys, eb)) ||
        (rv = device(j, path, "odrive", PORT_ONLY, &s->odrive, sub, sizeof(sub), &d, eb)) ||
        (rv = device(j, path, "relay", relay_keys, &s->relay, sub, sizeof(sub), &d, eb)) ||
        (rv = integer(d, sub, "vacuum", 1, 15, &s->vacuum, eb)))
        return rv;
    snprintf(sub, sizeof(sub), "%s.ot2", path);
    const json_t *o = json_object_get(j, "ot2");
    if (o == NULL)
        return fail(eb, path, "ot2", "required ({\"url\": \"ws://HOST:8764\"})");
    if ((rv = object(o, sub, ot2_keys, eb)) ||
        (rv = string(o, sub, "url", s->ot2_url, sizeof(s->ot2_url), eb)))
        return rv;
    if (strncmp(s->ot2_url, "ws://", 5) != 0)
        return fail(eb, sub, "url", "must be a ws://HOST:PORT address (PASCAL's port is 8764)");
    s->on = true;
    return 0;
}

static int parse_hotplate(const json_t *j, const char *path, axl_devcfg_hotplate *h, axl_errbuf *eb)
{
    static const char *const keys[] = {"plates", "tolerance_c", "settle_timeout_s", "poll_s", NULL};
    static const char *const plate_keys[] = {"port", "setpoint", NULL};
    int rv;
    if ((rv = object(j, path, keys, eb)) ||
        (rv = num(j, path, "tolerance_c", 0.1, 50, &h->tolerance_c, eb)) ||
        (rv = num(j, path, "settle_timeout_s", 1, 86400, &h->settle_timeout_s, eb)) ||
        (rv = num(j, path, "poll_s", 0.1, 600, &h->poll_s, eb)))
        return rv;
    const json_t *pl = json_object_get(j, "plates");
    if (!json_is_array(pl) || json_array_size(pl) < 1 || json_array_size(pl) > AXL_DEVCFG_PLATES)
        return fail(eb, path, "plates", "must be an array of 1 to 3 plates ({\"port\"})");
    h->nplates = (int)json_array_size(pl);
    for (int i = 0; i < h->nplates; i++) {
        char sub[200];
        const json_t *p = json_array_get(pl, (size_t)i);
        snprintf(sub, sizeof(sub), "%s.plates[%d]", path, i);
        if ((rv = object(p, sub, plate_keys, eb)) ||
            (rv = port(p, sub, "port", &h->plate[i].port, eb)))
            return rv;
        const json_t *sp = json_object_get(p, "setpoint");
        if (sp != NULL && !json_is_null(sp) &&
            (rv = num(p, sub, "setpoint", 30, 200, &h->plate[i].setpoint, eb)))
            return rv;
    }
    h->on = true;
    return 0;
}

static int parse_grid(const json_t *o, const char *path, axl_slot_grid *g, axl_errbuf *eb)
{
    static const char *const keys[] = {"origin", "pitch", "rows", "columns", NULL};
    static const double lo[3] = {0, 0, 0}, hi[3] = {2000, 2000, 1000};
    int rv;
    if ((rv = object(o, path, keys, eb)) ||
        (rv = vec(o, path, "origin", 3, lo, hi, g->origin, eb)) ||
        (rv = vec(o, path, "pitch", 2, lo, hi, g->pitch, eb)) ||
        (rv = integer(o, path, "rows", 1, 26, &g->rows, eb)) ||
        (rv = integer(o, path, "columns", 1, 64, &g->columns, eb)))
        return rv;
    return 0;
}

/* Every point the gripper may visit must be inside the frame. */
static int check_point(const axl_devcfg_gripper *g, const char *what, const double *p,
                       axl_errbuf *eb)
{
    for (int i = 0; i < 3; i++)
        if (p[i] < g->frame_min[i] || p[i] > g->frame_max[i])
            return axl_fail(eb, AXL_ECONFIG, "%s: (%g, %g, %g) is outside the gantry's frame", what,
                            p[0], p[1], p[2]);
    return 0;
}

static int check_grid(const axl_devcfg_gripper *g, const char *what, const axl_slot_grid *s,
                      axl_errbuf *eb)
{
    double a[3], b[3];
    axl_slot_grid_pos_i(s, 0, a);
    axl_slot_grid_pos_i(s, s->rows * s->columns - 1, b);
    int rv = check_point(g, what, a, eb);
    return rv != 0 ? rv : check_point(g, what, b, eb);
}

static int parse_gripper(const json_t *j, const char *path, axl_devcfg_gripper *g, axl_errbuf *eb)
{
    static const char *const keys[] = {"gantry",      "gripper",      "stations",    "z_travel",
                                       "workspace_x", "transition_y", "feed_mm_min", "open_mm",
                                       "grip_mm",     "catch_tries",  NULL};
    static const char *const gantry_keys[] = {"port", "frame_min", "frame_max", NULL};
    static const char *const st_keys[] = {"storage", "hotplates", "spincoater", "characterization",
                                          NULL};
    static const double lo[3] = {0, 0, 0}, hi[3] = {2000, 2000, 1000};
    char sub[200], what[240];
    const json_t *d;
    int rv;
    if ((rv = object(j, path, keys, eb)) ||
        (rv = device(j, path, "gantry", gantry_keys, &g->gantry, sub, sizeof(sub), &d, eb)) ||
        (rv = vec(d, sub, "frame_min", 3, lo, hi, g->frame_min, eb)) ||
        (rv = vec(d, sub, "frame_max", 3, lo, hi, g->frame_max, eb)) ||
        (rv = device(j, path, "gripper", PORT_ONLY, &g->gripper, sub, sizeof(sub), &d, eb)) ||
        (rv = num(j, path, "z_travel", 0, 1000, &g->z_travel, eb)) ||
        (rv = num(j, path, "workspace_x", 0, 2000, &g->workspace_x, eb)) ||
        (rv = num(j, path, "transition_y", 0, 2000, &g->transition_y, eb)) ||
        (rv = num(j, path, "feed_mm_min", 100, 60000, &g->feed_mm_min, eb)) ||
        (rv = num(j, path, "open_mm", 0, 13, &g->open_mm, eb)) ||
        (rv = num(j, path, "grip_mm", 0, 13, &g->grip_mm, eb)) ||
        (rv = integer(j, path, "catch_tries", 1, 10, &g->catch_tries, eb)))
        return rv;
    for (int i = 0; i < 3; i++)
        if (!(g->frame_max[i] > g->frame_min[i]))
            return axl_fail(eb, AXL_ECONFIG, "%s.gantry.frame_max[%d]: must exceed frame_min", path,
                            i);
    const json_t *st = json_object_get(j, "stations");
    snprintf(sub, sizeof(sub), "%s.stations", path);
    if (st != NULL) {
        if ((rv = object(st, sub, st_keys, eb)) ||
            (rv = vec(st, sub, "spincoater", 3, lo, hi, g->spincoater, eb)) ||
            (rv = vec(st, sub, "characterization", 3, lo, hi, g->characterization, eb)))
            return rv;
        const json_t *tray = json_object_get(st, "storage"), *pl = json_object_get(st, "hotplates");
        snprintf(what, sizeof(what), "%s.storage", sub);
        if (tray != NULL && (rv = parse_grid(tray, what, &g->tray, eb)) != 0)
            return rv;
        if (pl != NULL) {
            if (!json_is_array(pl) || json_array_size(pl) < 1 ||
                json_array_size(pl) > AXL_DEVCFG_PLATES)
                return fail(eb, sub, "hotplates", "must be an array of 1 to 3 slot grids");
            g->nplates = (int)json_array_size(pl);
            for (int i = 0; i < g->nplates; i++) {
                snprintf(what, sizeof(what), "%s.hotplates[%d]", sub, i);
                if ((rv = parse_grid(json_array_get(pl, (size_t)i), what, &g->plate[i], eb)) != 0)
                    return rv;
            }
        }
    }
    snprintf(what, sizeof(what), "%s.spincoater", sub);
    if ((rv = check_point(g, what, g->spincoater, eb)))
        return rv;
    snprintf(what, sizeof(what), "%s.characterization", sub);
    if ((rv = check_point(g, what, g->characterization, eb)))
        return rv;
    snprintf(what, sizeof(what), "%s.storage", sub);
    if ((rv = check_grid(g, what, &g->tray, eb)))
        return rv;
    for (int i = 0; i < g->nplates; i++) {
        snprintf(what, sizeof(what), "%s.hotplates[%d]", sub, i);
        if ((rv = check_grid(g, what, &g->plate[i], eb)))
            return rv;
    }
    if (g->z_travel < g->frame_min[2] || g->z_travel > g->frame_max[2])
        return fail(eb, path, "z_travel", "must be inside the gantry's frame");
    g->on = true;
    return 0;
}

static int parse_char(const json_t *j, const char *path, axl_devcfg_char *c, axl_errbuf *eb)
{
    static const char *const keys[] = {"axis", "shutter", "slider", "relay", "instrument", NULL};
    static const char *const inst_keys[] = {"plugin", "config", "exposures_ms", NULL};
    char sub[200];
    const json_t *d;
    int rv;
    if ((rv = object(j, path, keys, eb)) ||
        (rv = device(j, path, "axis", PORT_ONLY, &c->axis, sub, sizeof(sub), &d, eb)))
        return rv;
    struct {
        const char *key;
        axl_devport *p;
        bool *has;
    } opt[] = {{"shutter", &c->shutter, &c->has_shutter},
               {"slider", &c->slider, &c->has_slider},
               {"relay", &c->relay, &c->has_relay}};
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
        if (json_object_get(j, opt[i].key) == NULL)
            continue;
        if ((rv = device(j, path, opt[i].key, PORT_ONLY, opt[i].p, sub, sizeof(sub), &d, eb)))
            return rv;
        *opt[i].has = true;
    }
    const json_t *in = json_object_get(j, "instrument");
    snprintf(sub, sizeof(sub), "%s.instrument", path);
    if (in == NULL)
        return fail(eb, path, "instrument",
                    "required ({\"plugin\": \"/path/to/spectrometer.so\"}: the spectrometer)");
    if ((rv = object(in, sub, inst_keys, eb)) ||
        (rv = string(in, sub, "plugin", c->plugin, sizeof(c->plugin), eb)) ||
        (rv = string(in, sub, "config", c->plugin_config, sizeof(c->plugin_config), eb)))
        return rv;
    if (c->plugin[0] == '\0')
        return fail(eb, sub, "plugin", "required (the path of the instrument plugin)");
    const json_t *ex = json_object_get(in, "exposures_ms");
    if (ex != NULL) {
        if (!json_is_array(ex) || json_array_size(ex) < 1 || json_array_size(ex) > 4)
            return fail(eb, sub, "exposures_ms", "must be an array of 1 to 4 exposures");
        c->nexposures = (int)json_array_size(ex);
        for (int i = 0; i < c->nexposures; i++) {
            const json_t *x = json_array_get(ex, (size_t)i);
            if (!json_is_number(x) || !(json_number_value(x) >= 1 && json_number_value(x) <= 60000))
                return axl_fail(eb, AXL_ECONFIG,
                                "%s.exposures_ms[%d]: must be a number in [1, 60000] (ms)", sub, i);
            c->exposures_ms[i] = json_number_value(x);
        }
    }
    c->on = true;
    return 0;
}

int axl_devcfg_parse(const json_t *j, const char *path, axl_line_devices *out, axl_errbuf *eb)
{
    static const char *const keys[] = {"spincoater", "hotplate", "gripper", "characterization",
                                       NULL};
    char sub[160];
    int rv;
    axl_devcfg_default(out);
    if ((rv = object(j, path, keys, eb)) != 0)
        return AXL_ECONFIG;
    const json_t *v;
#define ROLE(key, fn, field)                                                                       \
    if ((v = json_object_get(j, key)) != NULL) {                                                   \
        snprintf(sub, sizeof(sub), "%s." key, path);                                               \
        if ((rv = fn(v, sub, &out->field, eb)) != 0)                                               \
            return AXL_ECONFIG;                                                                    \
    }
    ROLE("spincoater", parse_spincoater, spincoater)
    ROLE("hotplate", parse_hotplate, hotplate)
    ROLE("gripper", parse_gripper, gripper)
    ROLE("characterization", parse_char, characterization)
#undef ROLE
    return 0;
}

int axl_devcfg_load(const char *file, axl_line_devices *out, axl_errbuf *eb)
{
    json_error_t je;
    json_t *j = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return axl_fail(eb, AXL_EIO, "%s:%d: %s", file, je.line, je.text);
    json_t *d = json_object_get(j, "devices");
    int rv = axl_devcfg_parse(d != NULL ? d : j, "devices", out, eb);
    json_decref(j);
    return rv;
}

bool axl_devcfg_role_on(const axl_line_devices *d, axl_worker_role role)
{
    switch (role) {
    case AXL_ROLE_SPINCOATER:
        return d->spincoater.on;
    case AXL_ROLE_HOTPLATE:
        return d->hotplate.on;
    case AXL_ROLE_GRIPPER:
        return d->gripper.on;
    case AXL_ROLE_CHARACTERIZATION:
        return d->characterization.on;
    default:
        return false;
    }
}

void axl_devport_serial(const axl_devport *p, axl_serial_opts *o, const char *name, int baud,
                        int data_bits, char parity)
{
    memset(o, 0, sizeof(*o));
    o->path = p->path;
    o->baud = baud;
    o->data_bits = data_bits;
    o->parity = parity;
    o->stop_bits = 1;
    o->name = name;
}

void axl_slot_grid_pos_i(const axl_slot_grid *g, int i, double out[3])
{
    int cols = g->columns > 0 ? g->columns : 1;
    out[0] = g->origin[0] + (i % cols) * g->pitch[0];
    out[1] = g->origin[1] - (i / cols) * g->pitch[1];
    out[2] = g->origin[2];
}

int axl_slot_grid_pos(const axl_slot_grid *g, const char *slot, double out[3])
{
    if (slot == NULL || slot[0] < 'A' || slot[0] > 'Z')
        return AXL_EINVAL;
    char *end;
    long col = strtol(slot + 1, &end, 10);
    int row = slot[0] - 'A';
    if (end == slot + 1 || *end != '\0' || col < 1 || col > g->columns || row >= g->rows)
        return AXL_EINVAL;
    axl_slot_grid_pos_i(g, row * g->columns + (int)(col - 1), out);
    return 0;
}
