/*
 * driver_gripper.c - the gripper role on real devices (PASCAL's GantryGripper): the Marlin
 * gantry carries the servo gripper between stations (HARDWARE.md §1, §3, §9).
 *
 * Stations: the tray slot ("A3") on the tray grid, the spin coater's chuck, a hotplate
 * slot on its plate's grid, the characterization line's transfer point. Hotplate slots
 * are handed out here (first free slot of the plate when a sample is put down, the same
 * slot when it is picked up: the gripper is the only one that moves samples).
 *
 * A move: (first task: PASCAL's init, G28 when the gantry reports its power-up corner,
 * gripper closed) open the gripper (catch-open width); travel to the pick point; grip
 * (grip width) and read the load - above 2000 the springs are loaded, nothing was
 * caught: open and grip again, up to catch_tries, then fail; travel to the place point;
 * release at the slow rate; rise to the travel height; close. A travel: up to the travel
 * height (PASCAL's z ceiling 77), across the OT-2 frame's edge through PASCAL's
 * transition point (workspace_x +- 0.2, transition_y) when the frame changes, over the
 * target at the travel height, then down - every leg with M400 and the FinishedMoving
 * echo, every target checked against the frame before anything is sent.
 */
#include "hw/worker/driver_dev.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/line/axl_stations.h"
#include "proto/axl_log.h"

#define MAX_LEGS 6
#define MAX_HELD 128

typedef struct held {
    char sample[AXL_TASK_SAMPLE_MAX];
    int plate, slot;
} held;

typedef struct grip_rs {
    axl_marlin gantry;
    axl_gripper grip;
    bool ready;
    held held[MAX_HELD]; /* samples on hotplates */
} grip_rs;

typedef struct grip_task {
    double legs[MAX_LEGS][3];
    int nlegs, leg, after; /* after: the step once the legs are done */
    double pick[3], place[3];
    int tries;
    int put_plate, put_slot; /* the hotplate slot a put takes (-1: none) */
} grip_task;

enum {
    G_START = 0,
    G_SETUP,
    G_HOMED,
    G_READY,
    G_LEGS,
    G_GRIP,
    G_LOAD,
    G_CHECK,
    G_REOPENED,
    G_AT_PLACE,
    G_RELEASED,
    G_RISEN,
    G_CLOSED,
};

static int grip_open(dev_driver *dd, axl_errbuf *eb)
{
    const axl_devcfg_gripper *c = &dd->cfg.gripper;
    grip_rs *rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    axl_serial_opts so;
    axl_marlin_cfg mc;
    axl_marlin_serial(&so, c->gantry.path, "gantry");
    axl_marlin_cfg_gantry(&mc);
    memcpy(mc.min, c->frame_min, sizeof(mc.min));
    memcpy(mc.max, c->frame_max, sizeof(mc.max));
    mc.feed_mm_min = c->feed_mm_min;
    mc.speed = dd->o.speed >= 1 ? dd->o.speed : 1;
    int rv = axl_marlin_init(&rs->gantry, dd->loop, &so, &mc, eb);
    if (rv == 0 && (rv = axl_gripper_init(&rs->grip, dd->loop, c->gripper.path, dd->o.speed, eb)))
        axl_marlin_close(&rs->gantry);
    if (rv != 0) {
        free(rs);
        return rv;
    }
    for (int i = 0; i < MAX_HELD; i++)
        rs->held[i].plate = -1;
    dd->rs = rs;
    return 0;
}

static held *held_find(grip_rs *rs, const char *sample)
{
    for (int i = 0; i < MAX_HELD; i++)
        if (rs->held[i].plate >= 0 && strcmp(rs->held[i].sample, sample) == 0)
            return &rs->held[i];
    return NULL;
}

/* The point of station st for this task; false (and the task failed) if there is none. */
static bool station_point(dev_task *dt, axl_station st, bool put, double out[3])
{
    grip_rs *rs = dt->dd->rs;
    const axl_devcfg_gripper *c = &dt->dd->cfg.gripper;
    const axl_task_spec *s = &dt->t->spec;
    switch (st) {
    case AXL_STATION_STORAGE:
        if (axl_slot_grid_pos(&c->tray, s->slot, out) != 0) {
            dev_fail(dt, "tray slot '%s' of %s is not on the tray grid (%d rows x %d columns)",
                     s->slot, s->sample, c->tray.rows, c->tray.columns);
            return false;
        }
        return true;
    case AXL_STATION_SPINCOATER:
        memcpy(out, c->spincoater, 3 * sizeof(double));
        return true;
    case AXL_STATION_CHARACTERIZATION:
        memcpy(out, c->characterization, 3 * sizeof(double));
        return true;
    case AXL_STATION_HOTPLATE:
        break;
    }
    int p = s->plate >= 0 ? s->plate : 0;
    if (p >= c->nplates) {
        dev_fail(dt, "no hotplate %d in the gripper's station grids (%d)", p + 1, c->nplates);
        return false;
    }
    int cap = c->plate[p].rows * c->plate[p].columns;
    held *h = held_find(rs, s->sample);
    if (h != NULL && h->plate == p) {
        axl_slot_grid_pos_i(&c->plate[p], h->slot, out);
        return true;
    }
    if (!put) {
        /* Not put there by this process (it restarted): the slot its tray slot maps to. */
        int i = s->slot[0] ? (s->slot[0] - 'A') * c->tray.columns + atoi(s->slot + 1) - 1 : 0;
        axl_slot_grid_pos_i(&c->plate[p], (i > 0 ? i : 0) % cap, out);
        return true;
    }
    bool used[256] = {false};
    held *free_entry = NULL;
    for (int i = 0; i < MAX_HELD; i++) {
        if (rs->held[i].plate == p && rs->held[i].slot < 256)
            used[rs->held[i].slot] = true;
        if (rs->held[i].plate < 0 && free_entry == NULL)
            free_entry = &rs->held[i];
    }
    grip_task *gt = dt->rs;
    for (int k = 0; k < cap && k < 256; k++)
        if (!used[k] && free_entry != NULL) {
            axl_slot_grid_pos_i(&c->plate[p], k, out);
            gt->put_plate = p;
            gt->put_slot = k;
            return true;
        }
    dev_fail(dt, "hotplate %d is full (%d slots)", p + 1, cap);
    return false;
}

static void held_update(dev_task *dt, axl_station from)
{
    grip_rs *rs = dt->dd->rs;
    grip_task *gt = dt->rs;
    held *h = held_find(rs, dt->t->spec.sample);
    if (from == AXL_STATION_HOTPLATE && h != NULL)
        h->plate = -1;
    if (gt->put_plate < 0)
        return;
    for (int i = 0; i < MAX_HELD; i++)
        if (rs->held[i].plate < 0) {
            snprintf(rs->held[i].sample, sizeof(rs->held[i].sample), "%s", dt->t->spec.sample);
            rs->held[i].plate = gt->put_plate;
            rs->held[i].slot = gt->put_slot;
            return;
        }
}

/* The legs from where the gantry is to target (see the file's comment). */
static void plan_travel(dev_task *dt, const double target[3], int after)
{
    grip_rs *rs = dt->dd->rs;
    grip_task *gt = dt->rs;
    const axl_devcfg_gripper *c = &dt->dd->cfg.gripper;
    const double *cur = rs->gantry.pos;
    double zt = c->z_travel;
    gt->nlegs = gt->leg = 0;
    gt->after = after;
#define LEG(X, Y, Z)                                                                               \
    do {                                                                                           \
        gt->legs[gt->nlegs][0] = (X);                                                              \
        gt->legs[gt->nlegs][1] = (Y);                                                              \
        gt->legs[gt->nlegs][2] = (Z);                                                              \
        gt->nlegs++;                                                                               \
    } while (0)
    bool same_xy = fabs(cur[0] - target[0]) < 0.01 && fabs(cur[1] - target[1]) < 0.01;
    if (!same_xy) {
        if (fabs(cur[2] - zt) >= 0.01)
            LEG(cur[0], cur[1], zt);
        bool in_ot2_now = cur[0] < c->workspace_x, in_ot2_then = target[0] < c->workspace_x;
        if (in_ot2_now != in_ot2_then)
            LEG(c->workspace_x + (in_ot2_then ? -0.2 : 0.2), c->transition_y, zt);
        LEG(target[0], target[1], zt);
    }
    if (fabs(target[2] - (same_xy ? cur[2] : zt)) >= 0.01)
        LEG(target[0], target[1], target[2]);
#undef LEG
}

static void grip_step(dev_task *dt)
{
    grip_rs *rs = dt->dd->rs;
    grip_task *gt = dt->rs;
    const axl_devcfg_gripper *c = &dt->dd->cfg.gripper;
    const axl_chain_task *ct = &dt->t->spec.ct;
    if (ct->kind != AXL_TASK_MOVE) {
        dev_fail(dt, "the gripper runs move tasks");
        return;
    }
    switch (dt->step) {
    case G_START:
        if (rs->ready) {
            dt->step = G_READY;
            dev_yield(dt);
            return;
        }
        dt->step = G_SETUP;
        dev_op(dt, axl_marlin_setup(&rs->gantry, dev_cb, dt));
        return;
    case G_SETUP:
        dt->step = G_HOMED;
        if (fabs(rs->gantry.pos[0] - c->frame_max[0]) < 0.01 &&
            fabs(rs->gantry.pos[1] - c->frame_max[1]) < 0.01 &&
            fabs(rs->gantry.pos[2] - c->frame_max[2]) < 0.01) {
            /* PASCAL: the power-up corner means "not homed" */
            dev_op(dt, axl_marlin_home(&rs->gantry, dev_cb, dt));
            return;
        }
        dev_yield(dt);
        return;
    case G_HOMED:
        dt->step = G_READY;
        dev_op(dt, axl_gripper_set(&rs->grip, 0, AXL_GRIPPER_RATE_FAST, dev_cb, dt));
        return;
    case G_READY:
        rs->ready = true;
        gt->put_plate = -1;
        if (!station_point(dt, ct->from, false, gt->pick) ||
            !station_point(dt, ct->to, true, gt->place))
            return;
        plan_travel(dt, gt->pick, G_GRIP);
        dt->step = G_LEGS;
        dev_op(dt, axl_gripper_set(&rs->grip, axl_gripper_pwm(c->open_mm), AXL_GRIPPER_RATE_FAST,
                                   dev_cb, dt));
        return;
    case G_LEGS:
        if (gt->leg < gt->nlegs) {
            dev_op(dt, axl_marlin_move(&rs->gantry, gt->legs[gt->leg++], true, dev_cb, dt));
            return;
        }
        dt->step = gt->after;
        dev_yield(dt);
        return;
    case G_GRIP:
    case G_REOPENED:
        dt->step = G_LOAD;
        dev_op(dt, axl_gripper_set(&rs->grip, axl_gripper_pwm(c->grip_mm), AXL_GRIPPER_RATE_FAST,
                                   dev_cb, dt));
        return;
    case G_LOAD:
        dt->step = G_CHECK;
        dev_op(dt, axl_gripper_read_load(&rs->grip, dev_cb, dt));
        return;
    case G_CHECK:
        if (rs->grip.load > AXL_GRIPPER_LOADED) {
            if (++gt->tries >= c->catch_tries) {
                dev_fail(dt, "the gripper caught nothing at the %s (load %.1f > %d after %d tries)",
                         axl_station_name(ct->from), rs->grip.load, AXL_GRIPPER_LOADED, gt->tries);
                return;
            }
            dt->step = G_REOPENED;
            dev_op(dt, axl_gripper_set(&rs->grip, axl_gripper_pwm(c->open_mm),
                                       AXL_GRIPPER_RATE_FAST, dev_cb, dt));
            return;
        }
        dev_progress(dt, 0.5, "sample caught");
        plan_travel(dt, gt->place, G_AT_PLACE);
        dt->step = G_LEGS;
        dev_yield(dt);
        return;
    case G_AT_PLACE:
        dt->step = G_RELEASED;
        dev_op(dt, axl_gripper_set(&rs->grip, axl_gripper_pwm(c->open_mm), AXL_GRIPPER_RATE_SLOW,
                                   dev_cb, dt));
        return;
    case G_RELEASED: {
        double up[3] = {gt->place[0], gt->place[1], c->z_travel};
        dt->step = G_RISEN;
        dev_op(dt, axl_marlin_move(&rs->gantry, up, true, dev_cb, dt));
        return;
    }
    case G_RISEN:
        dt->step = G_CLOSED;
        dev_op(dt, axl_gripper_set(&rs->grip, 0, AXL_GRIPPER_RATE_FAST, dev_cb, dt));
        return;
    default:
        held_update(dt, ct->from);
        dev_finish_duration(dt);
    }
}

static void grip_close(dev_driver *dd)
{
    grip_rs *rs = dd->rs;
    axl_marlin_close(&rs->gantry);
    axl_gripper_close(&rs->grip);
}

static void grip_release(dev_driver *dd)
{
    free(dd->rs);
    dd->rs = NULL;
}

const dev_role dev_role_gripper = {
    .name = "gripper",
    .task_size = sizeof(grip_task),
    .open = grip_open,
    .step = grip_step,
    .close = grip_close,
    .release = grip_release,
};
