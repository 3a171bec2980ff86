/*
 * driver_sim.c - the simulated line behind the device-driver ops table (axl_driver.h):
 * PASCAL's durations compressed in time, injected failures, and for the characterization
 * line a PL spectrum drawn from the film model, written and fitted.
 */
#include "hw/worker/axl_driver.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hw/line/axl_film_model.h"
#include "hw/line/axl_pl.h"
#include "proto/axl_util.h"

typedef struct sim_task {
    uv_timer_t timer;
    struct sim_driver *sd;
    axl_drv_task *t; /* NULL once finished, failed or canceled */
    double half_ms;  /* wall ms to the half-way point, and from there to the end */
    bool second_half;
    bool fail;                    /* decided at start: this run fails half way */
    struct sim_task *next, *prev; /* running tasks, for close */
} sim_task;

typedef struct sim_driver {
    axl_driver *d;
    uv_loop_t *loop;
    axl_driver_opts o;
    char data_dir[512];
    axl_film_model film;
    int open_timers;
    sim_task *running;
    bool closing;
    void (*close_cb)(axl_driver *d);
} sim_driver;

/* A name that is safe as one path component (the bytes come from the network). */
static bool safe_component(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '.' || strlen(s) > 128)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

/*
 * The simulated world: what the simulated spin coater and hotplate did to a sample, kept
 * as the sample's film (<data_dir>/<experiment>/sim/<sample>.film: antisolvent volume,
 * rate, timing, anneal duration), so the simulated characterization measures the film its
 * line made. Nothing of it travels in a message: each simulated device derives the film
 * from the recipe step it is sent, as a real film is made by the real steps.
 */
static int film_path(const char *data_dir, const axl_drv_task *t, char *buf, size_t cap,
                     bool make_dir)
{
    if (!safe_component(t->experiment) || !safe_component(t->spec.sample))
        return AXL_EINVAL;
    int n = snprintf(buf, cap, "%s/%s/sim", data_dir, t->experiment);
    if (n < 0 || (size_t)n >= cap || (make_dir && axl_mkdir_p(buf, 0755) != 0))
        return AXL_EIO;
    n = snprintf(buf, cap, "%s/%s/sim/%s.film", data_dir, t->experiment, t->spec.sample);
    return n < 0 || (size_t)n >= cap ? AXL_EIO : 0;
}

static bool film_read(const char *data_dir, const axl_drv_task *t, axl_film_inputs *x)
{
    char path[1200];
    if (film_path(data_dir, t, path, sizeof(path), false) != 0)
        return false;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    int n = fscanf(f, "%lf %lf %lf %lf", &x->antisolvent_volume, &x->antisolvent_rate,
                   &x->antisolvent_timing, &x->anneal_duration);
    fclose(f);
    return n == 4;
}

/* After a spin coat (the antisolvent drop) or an anneal: the sample's film so far. */
int axl_sim_film_record(const char *data_dir, const axl_drv_task *t)
{
    axl_film_inputs x = {NAN, NAN, NAN, NAN};
    char path[1200], tmp[1300];
    if (t->spec.ct.kind == AXL_TASK_SPINCOAT) {
        axl_recipe r = {.ntasks = 2};
        r.task[0] = t->spec.rt;
        r.task[1].kind = AXL_RTASK_ANNEAL;
        r.task[1].u.anneal.duration = NAN;
        if (axl_film_inputs_from_recipe(&r, &x, NULL) != 0)
            return 0; /* no antisolvent drop: no film the model knows */
    } else if (t->spec.ct.kind == AXL_TASK_ANNEAL) {
        if (!film_read(data_dir, t, &x))
            return 0; /* not spin coated on this line */
        x.anneal_duration = t->spec.rt.u.anneal.duration;
    } else {
        return 0;
    }
    if (film_path(data_dir, t, path, sizeof(path), true) != 0)
        return AXL_EIO;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return AXL_EIO;
    fprintf(f, "%.17g %.17g %.17g %.17g\n", x.antisolvent_volume, x.antisolvent_rate,
            x.antisolvent_timing, x.anneal_duration);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return AXL_EIO;
    }
    return 0;
}

static int sim_init(axl_driver *d, uv_loop_t *loop, const axl_driver_opts *o, axl_errbuf *eb)
{
    if (!(o->speed > 0) || !isfinite(o->speed))
        return axl_fail(eb, AXL_EINVAL, "simulated driver: speed must be > 0");
    if (!(o->fail_rate >= 0 && o->fail_rate <= 1))
        return axl_fail(eb, AXL_EINVAL, "simulated driver: fail rate must be in [0, 1]");
    sim_driver *sd = calloc(1, sizeof(*sd));
    if (sd == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    sd->d = d;
    sd->loop = loop;
    sd->o = *o;
    snprintf(sd->data_dir, sizeof(sd->data_dir), "%s", o->data_dir != NULL ? o->data_dir : ".");
    sd->o.data_dir = sd->data_dir;
    axl_film_model_default(&sd->film);
    d->impl = sd;
    return 0;
}

static void maybe_free(sim_driver *sd)
{
    if (!sd->closing || sd->open_timers > 0)
        return;
    axl_driver *d = sd->d;
    void (*cb)(axl_driver *) = sd->close_cb;
    free(sd);
    d->impl = NULL;
    if (cb != NULL)
        cb(d);
}

static void timer_closed(uv_handle_t *h)
{
    sim_task *st = h->data;
    sim_driver *sd = st->sd;
    free(st);
    sd->open_timers--;
    maybe_free(sd);
}

static void task_end(sim_task *st)
{
    sim_driver *sd = st->sd;
    if (st->t != NULL)
        st->t->drv = NULL;
    st->t = NULL;
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        sd->running = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    uv_timer_stop(&st->timer);
    uv_close((uv_handle_t *)&st->timer, timer_closed);
}

/* The characterization: a spectrum from the film model, on disk, fitted. */
static void characterize(sim_driver *sd, axl_drv_task *t)
{
    axl_driver *d = sd->d;
    const axl_task_spec *s = &t->spec;
    axl_errbuf eb = {{0}};
    char dir[1024], path[1100], reason[400];
    axl_film_inputs film;
    if (!safe_component(t->experiment) || !safe_component(s->sample)) {
        d->failed(d, t, "experiment or sample name is not a safe file name ([A-Za-z0-9._-])",
                  false);
        return;
    }
    if (!film_read(sd->data_dir, t, &film) || !isfinite(film.antisolvent_volume) ||
        !isfinite(film.anneal_duration)) {
        snprintf(reason, sizeof(reason),
                 "the simulated line has no film for %.64s (spin coated with an antisolvent drop "
                 "and annealed on this line)",
                 s->sample);
        d->failed(d, t, reason, false);
        return;
    }
    snprintf(dir, sizeof(dir), "%s/%s/PL", sd->data_dir, t->experiment);
    int err = axl_mkdir_p(dir, 0755);
    if (err != 0) {
        snprintf(reason, sizeof(reason), "cannot create %.300s: %s", dir, strerror(err));
        d->failed(d, t, reason, true);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s_pl.csv", dir, s->sample);
    axl_spectrum sp = {0};
    uint64_t seed = axl_sim_sample_seed(sd->o.seed, t->experiment, s->sample);
    int rv = axl_film_spectrum(&sd->film, &film, seed, &sp, &eb);
    if (rv == 0)
        rv = axl_spectrum_write_csv(path, &sp, &eb);
    axl_spectrum_free(&sp);
    if (rv != 0) {
        snprintf(reason, sizeof(reason), "spectrum: %s", eb.msg);
        d->failed(d, t, reason, true);
        return;
    }
    /* The fit reads the file back: what is analysed is exactly what is kept. */
    axl_pl_opts po;
    axl_pl_opts_default(&po);
    if (s->has_pl) {
        po.wl_min = s->pl_wl_min;
        po.wl_max = s->pl_wl_max;
        po.wl_guess = s->pl_wl_guess;
    }
    axl_pl_result r;
    rv = axl_pl_analyze_file(path, &po, &r, &eb);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int bad = axl_pl_result_encode(path, rv == 0 ? &r : NULL, eb.msg, &sb);
    if (bad)
        d->failed(d, t, "out of memory", true);
    else
        d->finished(d, t, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void timer_fire(uv_timer_t *h)
{
    sim_task *st = h->data;
    sim_driver *sd = st->sd;
    axl_driver *d = sd->d;
    axl_drv_task *t = st->t;
    if (t == NULL)
        return;
    if (!st->second_half) {
        st->second_half = true;
        if (st->fail) {
            char reason[160];
            char name[64];
            axl_chain_task_name(&t->spec.ct, name, sizeof(name));
            snprintf(reason, sizeof(reason), "simulated failure during %s (fail rate %g)", name,
                     sd->o.fail_rate);
            task_end(st);
            d->failed(d, t, reason, false);
            return;
        }
        uv_timer_start(&st->timer, timer_fire, (uint64_t)st->half_ms, 0);
        if (t->spec.ct.kind != AXL_TASK_MOVE)
            d->progress(d, t, 0.5, "half way");
        return;
    }
    task_end(st);
    if (t->spec.ct.kind == AXL_TASK_CHARACTERIZE) {
        characterize(sd, t);
        return;
    }
    if (axl_sim_film_record(sd->data_dir, t) != 0) {
        d->failed(d, t, "the simulated film could not be recorded in the data directory", true);
        return;
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 1) || axl_pack_kv_num(&pk, "duration_s", t->spec.ct.duration))
        d->failed(d, t, "out of memory", true);
    else
        d->finished(d, t, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static int sim_start(axl_driver *d, axl_drv_task *t, axl_errbuf *eb)
{
    sim_driver *sd = d->impl;
    if (sd->closing)
        return axl_fail(eb, AXL_ECLOSED, "driver is closing");
    double wall_s = axl_sim_task_seconds(&t->spec.ct, sd->o.speed);
    if (!isfinite(wall_s) || wall_s < 0 || wall_s > 1e7)
        return axl_fail(eb, AXL_ERANGE, "task duration %g s cannot be simulated", wall_s);
    sim_task *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    st->sd = sd;
    st->t = t;
    st->half_ms = wall_s * 1e3 / 2;
    uint64_t r = axl_sim_sample_seed(sd->o.seed ^ 0x5eedfa11u, t->experiment, t->id);
    st->fail = sd->o.fail_rate > 0 && (double)(r >> 11) * 0x1.0p-53 < sd->o.fail_rate;
    uv_timer_init(sd->loop, &st->timer);
    st->timer.data = st;
    sd->open_timers++;
    st->next = sd->running;
    if (sd->running != NULL)
        sd->running->prev = st;
    sd->running = st;
    t->drv = st;
    /* Never a callback from inside start_task: the first event is a timer. */
    uv_timer_start(&st->timer, timer_fire, (uint64_t)st->half_ms, 0);
    return 0;
}

static int sim_cancel(axl_driver *d, axl_drv_task *t)
{
    (void)d;
    sim_task *st = t->drv;
    if (st == NULL)
        return AXL_ENOENT;
    task_end(st);
    return 0;
}

static void sim_close(axl_driver *d, void (*close_cb)(axl_driver *d))
{
    sim_driver *sd = d->impl;
    sd->closing = true;
    sd->close_cb = close_cb;
    while (sd->running != NULL)
        task_end(sd->running); /* no callback after close */
    maybe_free(sd);
}

const axl_driver_ops axl_driver_sim_ops = {
    .name = "sim",
    .init = sim_init,
    .start_task = sim_start,
    .cancel = sim_cancel,
    .close = sim_close,
};
