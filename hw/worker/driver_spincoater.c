/*
 * driver_spincoater.c - the spin coater role on real devices (PASCAL's
 * SpincoaterLiquidHandler): the ODrive spins the chuck, a relay holds the vacuum, the
 * OT-2 aspirates, stages and dispenses each drop on the drop's timing.
 *
 * A spin coat: (first task only: calibrate, lock, idle - PASCAL's connect) vacuum on; the
 * liquid handler's tasks are submitted at once with their start times (nist_time), laid
 * out by PASCAL's model (axl_spincoat_duration_s): the chuck starts spinning `lead`
 * seconds from now, drop k lands at lead + time_k (its dispense starts disp_k before);
 * with two drops the second is aspirated before the first is staged. Each spin step is
 * set_rpm then the step's duration; then stop (velocity polled to rest), idle, vacuum off.
 * The task finishes when the spin has ended AND the OT-2 has reported every task
 * completed; a failure of either fails it, and the motor is stopped and the vacuum let go.
 * The sample's process record (axl_sim_film_record) is written for a simulated
 * instrument.
 */
#include "hw/worker/driver_dev.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/devices/axl_ot2.h"
#include "proto/axl_log.h"

typedef struct spin_rs {
    axl_odrive odrive;
    axl_relay relay;
    axl_ot2 *ot2;
    bool ready; /* calibrated */
} spin_rs;

typedef struct spin_task {
    int k;           /* spin step */
    int ot2_pending; /* OT-2 tasks not yet completed */
    bool spin_done;  /* the chuck is stopped and the vacuum off */
    bool spinning;   /* the motor may be turning (safe stop needed) */
    char ot2_why[200];
} spin_task;

enum {
    S_START = 0,
    S_CALIBRATED,
    S_LOCKED,
    S_READY,
    S_VACUUM,
    S_SPIN,
    S_STEP_WAIT,
    S_STEP_NEXT,
    S_STOPPED,
    S_IDLE,
    S_DONE,
};

static spin_rs *RS(dev_task *dt)
{
    return dt->dd->rs;
}

static int spin_open(dev_driver *dd, axl_errbuf *eb)
{
    const axl_devcfg_spincoater *c = &dd->cfg.spincoater;
    spin_rs *rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    int rv = axl_odrive_init(&rs->odrive, dd->loop, c->odrive.path, dd->o.speed, eb);
    if (rv != 0)
        goto fail;
    if ((rv = axl_relay_init(&rs->relay, dd->loop, c->relay.path, eb)) != 0)
        goto fail_odrive;
    rs->relay.speed = dd->o.speed >= 1 ? dd->o.speed : 1;
    if ((rv = axl_ot2_new(&rs->ot2, dd->loop, c->ot2_url, dd->o.speed, eb)) != 0)
        goto fail_relay;
    dd->rs = rs;
    return 0;
fail_relay:
    axl_relay_close(&rs->relay);
fail_odrive:
    axl_odrive_close(&rs->odrive);
fail:
    free(rs);
    return rv;
}

/* After the spin and the liquid handler are both over. */
static void maybe_finish(dev_task *dt)
{
    spin_task *st = dt->rs;
    if (!st->spin_done || st->ot2_pending > 0 || !dev_alive(dt))
        return;
    if (axl_sim_film_record(dt->dd->data_dir, dt->t) != 0) {
        dev_fail(dt, "the sample's process record could not be written in %s", dt->dd->data_dir);
        return;
    }
    dev_finish_duration(dt);
}

static void ot2_done(void *arg, int status, const char *why)
{
    dev_task *dt = arg;
    spin_task *st = dt->rs;
    st->ot2_pending--;
    if (dev_alive(dt)) {
        if (status != 0)
            dev_fail(dt, "liquid handler: %s", why);
        else
            maybe_finish(dt);
    }
    dev_unref(dt);
}

static json_t *drop_kwargs(const axl_drop *d, const char *task)
{
    const char *pipette = d->is_volatile ? "antisolvent" : "perovskite";
    if (strcmp(task, "aspirate_for_spincoating") == 0)
        return json_pack("{s:s, s:s, s:f, s:b, s:b, s:b, s:[i, f], s:b}", "solution", d->solution,
                         "pipette", pipette, "volume", d->volume, "slow_retract", d->slow_retract,
                         "air_gap", d->air_gap, "touch_tip", d->touch_tip, "pre_mix",
                         (int)d->premix_cycles, d->premix_volume, "reuse_tip", d->reuse_tip);
    if (strcmp(task, "stage_for_dispense") == 0)
        return json_pack("{s:s, s:b}", "pipette", pipette, "slow_travel", d->slow_travel);
    return json_pack("{s:s, s:f, s:f, s:b, s:b}", "pipette", pipette, "rate", d->rate, "height",
                     d->height, "slow_travel", d->slow_travel, "blow_out", d->blow_out);
}

typedef struct lh_task {
    const char *task;
    const axl_drop *d;
    double at, dur; /* device s from now: not before; expected duration */
} lh_task;

/* Submits the liquid handling; returns the lead (device s from now to the spin's start)
 * or NaN after failing the task. */
static double submit_drops(dev_task *dt)
{
    spin_rs *rs = RS(dt);
    spin_task *st = dt->rs;
    const axl_spincoat *sc = &dt->t->spec.rt.u.spincoat;
    const axl_drop *d0 = &sc->drop[0];
    double asp0 = axl_drop_aspirate_s(d0), stage0 = axl_drop_stage_s(d0),
           disp0 = axl_drop_dispense_s(d0);
    double asp1 = sc->ndrops > 1 ? axl_drop_aspirate_s(&sc->drop[1]) : 0;
    double lead = asp0 + stage0 + disp0 + asp1 - d0->time;
    if (lead < 0)
        lead = 0;
    lh_task plan[6];
    int n = 0;
    plan[n++] = (lh_task){"aspirate_for_spincoating", d0, 0, asp0};
    if (sc->ndrops > 1)
        plan[n++] = (lh_task){"aspirate_for_spincoating", &sc->drop[1], 0, asp1};
    plan[n++] = (lh_task){"stage_for_dispense", d0, 0, stage0};
    plan[n++] = (lh_task){"dispense_onto_chuck", d0, lead + d0->time - disp0, disp0};
    if (sc->ndrops > 1) {
        const axl_drop *d1 = &sc->drop[1];
        plan[n++] = (lh_task){"stage_for_dispense", d1, 0, axl_drop_stage_s(d1)};
        plan[n++] = (lh_task){"dispense_onto_chuck", d1, lead + d1->time - axl_drop_dispense_s(d1),
                              axl_drop_dispense_s(d1)};
    }
    double end = 0; /* device s until each task is due to be over (FIFO) */
    for (int i = 0; i < n; i++) {
        end = fmax(end, plan[i].at) + plan[i].dur;
        json_t *kw = drop_kwargs(plan[i].d, plan[i].task);
        axl_errbuf eb = {{0}};
        int rv = kw == NULL ? AXL_ENOMEM
                            : axl_ot2_submit(rs->ot2, plan[i].task, kw, plan[i].at, end, ot2_done,
                                             dt, &eb);
        json_decref(kw);
        if (rv != 0) {
            dev_fail(dt, "liquid handler: %s", eb.msg[0] ? eb.msg : axl_strerror(rv));
            return NAN;
        }
        st->ot2_pending++;
        dev_ref(dt);
    }
    return lead;
}

static void spin_step(dev_task *dt)
{
    spin_rs *rs = RS(dt);
    spin_task *st = dt->rs;
    const axl_spincoat *sc = &dt->t->spec.rt.u.spincoat;
    int vacuum = dt->dd->cfg.spincoater.vacuum;
    if (dt->t->spec.ct.kind != AXL_TASK_SPINCOAT) {
        dev_fail(dt, "the spin coater runs spincoat and rest tasks");
        return;
    }
    switch (dt->step) {
    case S_START:
        if (rs->ready) {
            dt->step = S_READY;
            dev_yield(dt);
            return;
        }
        dt->step = S_CALIBRATED;
        dev_op_odrive(dt, &rs->odrive, axl_odrive_calibrate(&rs->odrive, dev_cb, dt));
        return;
    case S_CALIBRATED:
        dt->step = S_LOCKED;
        dev_op_odrive(dt, &rs->odrive, axl_odrive_lock(&rs->odrive, dev_cb, dt));
        return;
    case S_LOCKED:
        dt->step = S_READY;
        dev_op_odrive(dt, &rs->odrive, axl_odrive_idle(&rs->odrive, dev_cb, dt));
        return;
    case S_READY:
        rs->ready = true;
        dt->step = S_VACUUM;
        dev_op(dt, axl_relay_set(&rs->relay, vacuum, true, dev_cb, dt));
        return;
    case S_VACUUM: {
        double lead = submit_drops(dt);
        if (isnan(lead))
            return;
        st->k = 0;
        dt->step = S_SPIN;
        dev_wait(dt, lead);
        return;
    }
    case S_SPIN:
        st->spinning = true;
        dt->step = S_STEP_WAIT;
        dev_op_odrive(dt, &rs->odrive,
                      axl_odrive_set_rpm(&rs->odrive, sc->step[st->k].rpm, sc->step[st->k].accel,
                                         dev_cb, dt));
        return;
    case S_STEP_WAIT:
        if (st->k == 0)
            dev_progress(dt, 0.5, "spinning");
        dt->step = S_STEP_NEXT;
        dev_wait(dt, sc->step[st->k].duration);
        return;
    case S_STEP_NEXT:
        if (++st->k < (int)sc->nsteps) {
            dt->step = S_SPIN;
            dev_yield(dt);
            return;
        }
        dt->step = S_STOPPED;
        dev_op_odrive(dt, &rs->odrive, axl_odrive_stop(&rs->odrive, dev_cb, dt));
        return;
    case S_STOPPED:
        st->spinning = false;
        dt->step = S_IDLE;
        dev_op_odrive(dt, &rs->odrive, axl_odrive_idle(&rs->odrive, dev_cb, dt));
        return;
    case S_IDLE:
        dt->step = S_DONE;
        dev_op(dt, axl_relay_set(&rs->relay, vacuum, false, dev_cb, dt));
        return;
    default:
        st->spin_done = true;
        maybe_finish(dt);
        return;
    }
}

/* A spin coat stopped half way: the chuck stopped and the vacuum let go, in the
 * background (failures are logged). */
static void spin_safe(dev_task *dt)
{
    spin_rs *rs = RS(dt);
    spin_task *st = dt->rs;
    if (dt->dd->closing)
        return;
    if (st->spinning) {
        axl_sop *op = axl_odrive_stop(&rs->odrive, dev_bg_cb, dt->dd);
        (void)op;
    }
    axl_sop *op =
        axl_relay_set(&rs->relay, dt->dd->cfg.spincoater.vacuum, false, dev_bg_cb, dt->dd);
    (void)op;
}

static void spin_close(dev_driver *dd)
{
    spin_rs *rs = dd->rs;
    axl_odrive_close(&rs->odrive);
    axl_relay_close(&rs->relay);
    axl_ot2_close(rs->ot2); /* no completion after this: drop what the tasks wait for */
    for (dev_task *dt = dd->tasks, *next; dt != NULL; dt = next) {
        next = dt->next;
        spin_task *st = dt->rs;
        int n = st->ot2_pending;
        st->ot2_pending = 0;
        while (n-- > 0)
            dev_unref(dt);
    }
}

static void spin_release(dev_driver *dd)
{
    free(dd->rs);
    dd->rs = NULL;
}

const dev_role dev_role_spincoater = {
    .name = "spincoater",
    .task_size = sizeof(spin_task),
    .open = spin_open,
    .step = spin_step,
    .safe = spin_safe,
    .close = spin_close,
    .release = spin_release,
};
