/*
 * driver_char.c - the characterization role on real devices (PASCAL's characterization
 * line, HARDWARE.md §2, §8): the Marlin axis carries the sample past the stations, a relay
 * box switches the lights and lasers, the shutter and the filter sliders set the optical
 * path, and the instruments that live behind vendor SDKs come in as a plugin
 * (axl_instrument.h) - the spectrometer takes the PL spectra.
 *
 * A characterization: (first task: M114 / M501 / G90, G28 X when the axis reports its
 * power-up 400) for each measurement in order: move the axis to its position (M400 +
 * echo + M114 check); set the station up by its name - PL_*: top slider forward, shutter
 * closed, red laser (relay 4) on; Transmission: top slider back, shutter open;
 * Brightfield: relay 8; Darkfield: relay 9; PLImaging: PL LED (relay 11) (the optional
 * devices that are absent are skipped); hold the measurement's duration while a PL
 * measurement's spectra (one per exposure, PASCAL's 1, 5, 20 s) are read through the
 * plugin on libuv's thread pool; switch the light off. Then the axis goes back to the
 * transfer position 0, the spectrum is written in PASCAL's CSV layout to
 * <data>/<experiment>/PL/<sample>_pl.csv and fitted, and the result is the simulated
 * line's: {spectrum, pl_intensity, pl_peak_ev, ...} or {spectrum, pl_error}.
 */
#include "hw/worker/driver_dev.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/worker/axl_instr_host.h"
#include "proto/axl_util.h"

enum { A_RELAY, A_SLIDER, A_SHUTTER };

typedef struct act {
    int kind, arg;
    bool on;
} act;

typedef struct char_rs {
    axl_marlin axis;
    axl_shutter shutter;
    axl_slider slider;
    axl_relay relay;
    axl_instr *instr;
    bool ready;
} char_rs;

typedef struct char_task {
    int m;                /* measurement */
    act acts[4], offs[4]; /* set-up and switch-off of the current measurement */
    int nacts, noffs, a;  /* a: next action */
    int after;            /* step after the actions */
    bool pl;              /* the current measurement takes spectra */
    int light;            /* the relay index it switches on, 0: none */
    bool dwell_done, work_busy;
    uv_work_t work;
    axl_spectrum sp; /* the last spectrum read */
    int werr;
    char why[AXL_WIRE_MAX_TEXT];
    char experiment[AXL_WIRE_MAX_ID], sample[AXL_TASK_SAMPLE_MAX]; /* for the pool thread */
} char_task;

enum {
    C_START = 0,
    C_SETUP,
    C_READY,
    C_MEASURE,
    C_AT_POSITION,
    C_ACTS,
    C_ACQUIRE,
    C_DWELLED,
    C_OFF,
    C_NEXT,
    C_HOME,
    C_WRITE,
};

static int char_open(dev_driver *dd, axl_errbuf *eb)
{
    const axl_devcfg_char *c = &dd->cfg.characterization;
    char_rs *rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    double speed = dd->o.speed >= 1 ? dd->o.speed : 1;
    axl_instr_host host = {AXL_INSTR_ABI_VERSION, c->plugin_config, dd->data_dir, dd->o.speed,
                           dd->o.seed};
    int rv = axl_instr_load(c->plugin, &host, &rs->instr, eb);
    if (rv != 0)
        goto fail;
    if (!(axl_instr_ops_of(rs->instr)->caps & AXL_INSTR_CAP_SPECTRUM)) {
        rv = axl_fail(eb, AXL_EINVAL, "instrument plugin %s takes no spectra", c->plugin);
        goto fail_instr;
    }
    axl_serial_opts so;
    axl_marlin_cfg mc;
    axl_marlin_serial(&so, c->axis.path, "characterization axis");
    axl_marlin_cfg_axis(&mc);
    mc.speed = speed;
    if ((rv = axl_marlin_init(&rs->axis, dd->loop, &so, &mc, eb)) != 0)
        goto fail_instr;
    if (c->has_shutter && (rv = axl_shutter_init(&rs->shutter, dd->loop, c->shutter.path, eb)))
        goto fail_axis;
    rs->shutter.speed = speed;
    if (c->has_slider &&
        (rv = axl_slider_init(&rs->slider, dd->loop, c->slider.path, dd->o.speed, eb)))
        goto fail_shutter;
    if (c->has_relay && (rv = axl_relay_init(&rs->relay, dd->loop, c->relay.path, eb)))
        goto fail_slider;
    rs->relay.speed = speed;
    dd->rs = rs;
    return 0;
fail_slider:
    if (c->has_slider)
        axl_slider_close(&rs->slider);
fail_shutter:
    if (c->has_shutter)
        axl_shutter_close(&rs->shutter);
fail_axis:
    axl_marlin_close(&rs->axis);
fail_instr:
    axl_instr_unload(rs->instr);
fail:
    free(rs);
    return rv;
}

/* The station's set-up and switch-off by the measurement's name (the file's comment). */
static void plan_station(dev_task *dt, const char *name)
{
    const axl_devcfg_char *c = &dt->dd->cfg.characterization;
    char_task *ct = dt->rs;
    ct->nacts = ct->noffs = 0;
    ct->pl = strncmp(name, "PL_", 3) == 0;
    int light = 0;
    if (ct->pl) {
        if (c->has_slider)
            ct->acts[ct->nacts++] = (act){A_SLIDER, 2, true};
        if (c->has_shutter)
            ct->acts[ct->nacts++] = (act){A_SHUTTER, 0, false};
        light = 4;
    } else if (strcmp(name, "Transmission") == 0) {
        if (c->has_slider)
            ct->acts[ct->nacts++] = (act){A_SLIDER, 2, false};
        if (c->has_shutter) {
            ct->acts[ct->nacts++] = (act){A_SHUTTER, 0, true};
            ct->offs[ct->noffs++] = (act){A_SHUTTER, 0, false};
        }
    } else if (strcmp(name, "Brightfield") == 0) {
        light = 8;
    } else if (strcmp(name, "Darkfield") == 0) {
        light = 9;
    } else if (strcmp(name, "PLImaging") == 0) {
        light = 11;
    }
    ct->light = c->has_relay ? light : 0;
    if (light > 0 && c->has_relay) {
        ct->acts[ct->nacts++] = (act){A_RELAY, light, true};
        ct->offs[ct->noffs++] = (act){A_RELAY, light, false};
    }
}

static void run_act(dev_task *dt, const act *a)
{
    char_rs *rs = dt->dd->rs;
    switch (a->kind) {
    case A_RELAY:
        dev_op(dt, axl_relay_set(&rs->relay, a->arg, a->on, dev_cb, dt));
        return;
    case A_SLIDER:
        dev_op(dt, axl_slider_move(&rs->slider, a->arg, a->on, dev_cb, dt));
        return;
    default:
        dev_op(dt, axl_shutter_set(&rs->shutter, a->on, dev_cb, dt));
    }
}

/* ---- the spectrometer, on the thread pool ------------------------------------------------ */

static void work_run(uv_work_t *w)
{
    dev_task *dt = w->data;
    char_task *ct = dt->rs;
    char_rs *rs = dt->dd->rs;
    const axl_devcfg_char *c = &dt->dd->cfg.characterization;
    axl_instr_spectrum_req req = {0, 1, 0, ct->experiment, ct->sample};
    axl_errbuf eb = {{0}};
    axl_spectrum_free(&ct->sp);
    ct->werr = axl_instr_spectra(rs->instr, &req, c->exposures_ms, c->nexposures, &ct->sp, &eb);
    snprintf(ct->why, sizeof(ct->why), "%s", eb.msg);
}

static void work_after(uv_work_t *w, int status)
{
    dev_task *dt = w->data;
    char_task *ct = dt->rs;
    dev_driver *dd = dt->dd;
    ct->work_busy = false;
    if (status != 0 && ct->werr == 0) {
        ct->werr = AXL_ECANCELED;
        snprintf(ct->why, sizeof(ct->why), "spectrum canceled");
    }
    if (dev_alive(dt) && ct->dwell_done)
        dev_yield(dt);
    if (!dev_alive(dt))
        axl_spectrum_free(&ct->sp);
    dev_unref(dt);
    dev_work_end(dd);
}

/* ---- the result ------------------------------------------------------------------------------ */

static void write_result(dev_task *dt)
{
    char_task *ct = dt->rs;
    const axl_drv_task *t = dt->t;
    char dir[1024], path[1200];
    axl_errbuf eb = {{0}};
    if (ct->sp.npix == 0) {
        dev_fail(dt, "no PL spectrum: the characterization has no PL_ measurement");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/%s/PL", dt->dd->data_dir, t->experiment);
    int err = axl_mkdir_p(dir, 0755);
    if (err != 0) {
        dev_fail(dt, "cannot create %.300s: %s", dir, strerror(err));
        return;
    }
    snprintf(path, sizeof(path), "%s/%s_pl.csv", dir, t->spec.sample);
    int rv = axl_spectrum_write_csv(path, &ct->sp, &eb);
    axl_spectrum_free(&ct->sp);
    if (rv != 0) {
        dev_fail(dt, "spectrum: %s", eb.msg);
        return;
    }
    axl_pl_opts po;
    axl_pl_opts_default(&po);
    if (t->spec.has_pl) {
        po.wl_min = t->spec.pl_wl_min;
        po.wl_max = t->spec.pl_wl_max;
        po.wl_guess = t->spec.pl_wl_guess;
    }
    axl_pl_result r;
    rv = axl_pl_analyze_file(path, &po, &r, &eb);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (axl_pl_result_encode(path, rv == 0 ? &r : NULL, eb.msg, &sb) != 0)
        dev_fail(dt, "out of memory");
    else
        dev_finish(dt, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void char_step(dev_task *dt)
{
    char_rs *rs = dt->dd->rs;
    char_task *ct = dt->rs;
    const axl_task_spec *s = &dt->t->spec;
    const axl_characterize *ch = &s->rt.u.characterize;
    if (s->ct.kind != AXL_TASK_CHARACTERIZE) {
        dev_fail(dt, "the characterization line runs characterize and rest tasks");
        return;
    }
    switch (dt->step) {
    case C_START:
        if (rs->ready) {
            dt->step = C_READY;
            dev_yield(dt);
            return;
        }
        dt->step = C_SETUP;
        dev_op(dt, axl_marlin_setup(&rs->axis, dev_cb, dt));
        return;
    case C_SETUP:
        dt->step = C_READY;
        if (rs->axis.pos[0] == 400) { /* PASCAL: 400 = not homed */
            dev_op(dt, axl_marlin_home(&rs->axis, dev_cb, dt));
            return;
        }
        dev_yield(dt);
        return;
    case C_READY:
        rs->ready = true;
        ct->m = 0;
        /* fall through */
    case C_MEASURE: {
        if (ct->m >= (int)ch->n || ct->m >= AXL_CHAR_MAX_MEAS) {
            double home[3] = {0, 0, 0};
            dt->step = C_WRITE;
            dev_op(dt, axl_marlin_move(&rs->axis, home, true, dev_cb, dt));
            return;
        }
        double to[3] = {ch->m[ct->m].position, 0, 0};
        plan_station(dt, ch->m[ct->m].name);
        dt->step = C_AT_POSITION;
        dev_op(dt, axl_marlin_move(&rs->axis, to, true, dev_cb, dt));
        return;
    }
    case C_AT_POSITION:
        ct->a = 0;
        ct->after = C_ACQUIRE;
        dt->step = C_ACTS;
        /* fall through */
    case C_ACTS:
        if (ct->a < (ct->after == C_ACQUIRE ? ct->nacts : ct->noffs)) {
            const act *a = ct->after == C_ACQUIRE ? &ct->acts[ct->a] : &ct->offs[ct->a];
            ct->a++;
            run_act(dt, a);
            return;
        }
        dt->step = ct->after;
        dev_yield(dt);
        return;
    case C_ACQUIRE:
        ct->dwell_done = false;
        if (ct->pl) {
            ct->work.data = dt;
            ct->werr = 0;
            snprintf(ct->experiment, sizeof(ct->experiment), "%s", dt->t->experiment);
            snprintf(ct->sample, sizeof(ct->sample), "%s", s->sample);
            dev_ref(dt);
            dev_work_begin(dt->dd);
            ct->work_busy = true;
            uv_queue_work(dt->dd->loop, &ct->work, work_run, work_after);
        }
        dt->step = C_DWELLED;
        dev_wait(dt, ch->m[ct->m].duration);
        return;
    case C_DWELLED:
        ct->dwell_done = true;
        dt->step = C_OFF;
        if (ct->work_busy)
            return; /* work_after yields */
        /* fall through */
    case C_OFF:
        if (ct->pl && ct->werr != 0) {
            dev_fail(dt, "%s", ct->why[0] ? ct->why : axl_strerror(ct->werr));
            return;
        }
        ct->a = 0;
        ct->after = C_NEXT;
        dt->step = C_ACTS;
        dev_yield(dt);
        return;
    case C_NEXT:
        ct->m++;
        dev_progress(dt, (double)ct->m / (ch->n + 1), ch->m[ct->m - 1].name);
        dt->step = C_MEASURE;
        dev_yield(dt);
        return;
    default:
        write_result(dt);
    }
}

/* A characterization stopped half way: the light or laser it may have left on is
 * switched off in the background. */
static void char_safe(dev_task *dt)
{
    char_task *ct = dt->rs;
    char_rs *rs = dt->dd->rs;
    if (!ct->work_busy)
        axl_spectrum_free(&ct->sp);
    if (!dt->dd->closing && ct->light > 0)
        (void)axl_relay_set(&rs->relay, ct->light, false, dev_bg_cb, dt->dd);
}

static void char_close(dev_driver *dd)
{
    char_rs *rs = dd->rs;
    const axl_devcfg_char *c = &dd->cfg.characterization;
    for (dev_task *dt = dd->tasks; dt != NULL; dt = dt->next) {
        char_task *ct = dt->rs;
        if (ct->work_busy)
            uv_cancel((uv_req_t *)&ct->work);
        else
            axl_spectrum_free(&ct->sp);
    }
    axl_marlin_close(&rs->axis);
    if (c->has_shutter)
        axl_shutter_close(&rs->shutter);
    if (c->has_slider)
        axl_slider_close(&rs->slider);
    if (c->has_relay)
        axl_relay_close(&rs->relay);
}

static void char_release(dev_driver *dd)
{
    char_rs *rs = dd->rs;
    axl_instr_unload(rs->instr); /* no job uses it any more */
    free(rs);
    dd->rs = NULL;
}

const dev_role dev_role_char = {
    .name = "characterization",
    .task_size = sizeof(char_task),
    .open = char_open,
    .step = char_step,
    .safe = char_safe,
    .close = char_close,
    .release = char_release,
};
