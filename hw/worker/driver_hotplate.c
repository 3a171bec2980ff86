/*
 * driver_hotplate.c - the hotplate role on real devices: one Modbus ASCII PID controller
 * per plate (hw/devices/hotplate.c). At start each configured plate is put in PID auto and,
 * when the configuration gives one, preheated to its setpoint (in the background).
 *
 * An anneal on plate p (the task's "plate", else 0): PID auto once per plate; read the
 * setpoint and write the anneal's temperature when it differs (the write is checked by
 * its echo); read the temperature every poll_s device seconds until it is within
 * tolerance_c of the setpoint (settle_timeout_s: then the task fails with the reading);
 * hold for the anneal's duration; read the temperature back - a plate that drifted out of
 * tolerance fails the anneal with the reading. The sample's process record gets the
 * anneal (axl_sim_film_record). Rests are waits.
 */
#include "hw/worker/driver_dev.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct plate_rs {
    axl_hotplate hp[AXL_DEVCFG_PLATES];
    bool pid_auto[AXL_DEVCFG_PLATES];
    int n;
} plate_rs;

typedef struct plate_task {
    int p;
    double settle_start;
} plate_task;

enum { H_START = 0, H_PID, H_READ_SP, H_SET_SP, H_READ_T, H_CHECK, H_HELD, H_FINAL };

static int plate_open(dev_driver *dd, axl_errbuf *eb)
{
    const axl_devcfg_hotplate *c = &dd->cfg.hotplate;
    plate_rs *rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    for (int i = 0; i < c->nplates; i++) {
        axl_serial_opts so;
        char name[32];
        snprintf(name, sizeof(name), "hotplate %d", i + 1);
        axl_hotplate_serial(&so, c->plate[i].port.path);
        so.name = name;
        int rv = axl_hotplate_init(&rs->hp[i], dd->loop, &so, eb);
        if (rv != 0) {
            while (i-- > 0)
                axl_hotplate_close(&rs->hp[i]);
            free(rs);
            return rv;
        }
        rs->hp[i].speed = dd->o.speed >= 1 ? dd->o.speed : 1;
        rs->n = i + 1;
    }
    dd->rs = rs;
    /* Preheat: PID auto and the configured setpoint, queued before any task's exchange. */
    for (int i = 0; i < rs->n; i++) {
        if (axl_hotplate_pid_auto(&rs->hp[i], dev_bg_cb, dd) != NULL)
            rs->pid_auto[i] = true;
        if (isfinite(c->plate[i].setpoint))
            (void)axl_hotplate_write_setpoint(&rs->hp[i], c->plate[i].setpoint, dev_bg_cb, dd);
    }
    return 0;
}

static void plate_step(dev_task *dt)
{
    plate_rs *rs = dt->dd->rs;
    plate_task *pt = dt->rs;
    const axl_devcfg_hotplate *c = &dt->dd->cfg.hotplate;
    const axl_task_spec *s = &dt->t->spec;
    if (s->ct.kind != AXL_TASK_ANNEAL) {
        dev_fail(dt, "the hotplate runs anneal and rest tasks");
        return;
    }
    double target = s->rt.u.anneal.temperature;
    axl_hotplate *hp = &rs->hp[pt->p];
    switch (dt->step) {
    case H_START:
        pt->p = s->plate >= 0 ? s->plate : 0;
        if (pt->p >= rs->n) {
            dev_fail(dt, "no hotplate %d on this line (%d configured)", pt->p + 1, rs->n);
            return;
        }
        hp = &rs->hp[pt->p];
        if (!rs->pid_auto[pt->p]) {
            dt->step = H_PID;
            dev_op(dt, axl_hotplate_pid_auto(hp, dev_cb, dt));
            return;
        }
        /* fall through */
    case H_PID:
        rs->pid_auto[pt->p] = true;
        dt->step = H_READ_SP;
        dev_op(dt, axl_hotplate_read_setpoint(hp, dev_cb, dt));
        return;
    case H_READ_SP:
        pt->settle_start = dev_elapsed_s(dt);
        if (fabs(hp->setpoint - target) > 0.05) {
            dt->step = H_SET_SP;
            dev_op(dt, axl_hotplate_write_setpoint(hp, target, dev_cb, dt));
            return;
        }
        /* fall through */
    case H_SET_SP:
    case H_READ_T:
        dt->step = H_CHECK;
        dev_op(dt, axl_hotplate_read_temp(hp, dev_cb, dt));
        return;
    case H_CHECK:
        if (fabs(hp->temperature - target) <= c->tolerance_c) {
            dev_progress(dt, 0.5, "at temperature");
            dt->step = H_HELD;
            dev_wait(dt, s->rt.u.anneal.duration);
            return;
        }
        if (dev_elapsed_s(dt) - pt->settle_start > c->settle_timeout_s) {
            dev_fail(dt, "hotplate %d reads %.1f C after %.0f s, setpoint %.1f C (tolerance %.1f)",
                     pt->p + 1, hp->temperature, dev_elapsed_s(dt) - pt->settle_start, target,
                     c->tolerance_c);
            return;
        }
        dt->step = H_READ_T;
        dev_wait(dt, c->poll_s);
        return;
    case H_HELD:
        dt->step = H_FINAL;
        dev_op(dt, axl_hotplate_read_temp(hp, dev_cb, dt));
        return;
    default:
        if (fabs(hp->temperature - target) > c->tolerance_c) {
            dev_fail(dt, "hotplate %d drifted to %.1f C during the anneal (setpoint %.1f C)",
                     pt->p + 1, hp->temperature, target);
            return;
        }
        if (axl_sim_film_record(dt->dd->data_dir, dt->t) != 0) {
            dev_fail(dt, "the sample's process record could not be written in %s",
                     dt->dd->data_dir);
            return;
        }
        dev_finish_duration(dt);
    }
}

static void plate_close(dev_driver *dd)
{
    plate_rs *rs = dd->rs;
    for (int i = 0; i < rs->n; i++)
        axl_hotplate_close(&rs->hp[i]);
}

static void plate_release(dev_driver *dd)
{
    free(dd->rs);
    dd->rs = NULL;
}

const dev_role dev_role_hotplate = {
    .name = "hotplate",
    .task_size = sizeof(plate_task),
    .open = plate_open,
    .step = plate_step,
    .close = plate_close,
    .release = plate_release,
};
