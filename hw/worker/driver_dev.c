/*
 * driver_dev.c - the driver of real devices (axl_driver_dev_ops): picks the role's
 * composition (driver_dev.h), runs each task's state machine on the worker's loop, and
 * runs rests (a wait in any role; the storage role has no devices).
 */
#include "hw/worker/driver_dev.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/axl_log.h"
#include "proto/axl_proto.h"

#define SRC "Devices"

static const dev_role dev_role_storage = {.name = "storage"};

static const dev_role *role_of(axl_worker_role r)
{
    switch (r) {
    case AXL_ROLE_SPINCOATER:
        return &dev_role_spincoater;
    case AXL_ROLE_HOTPLATE:
        return &dev_role_hotplate;
    case AXL_ROLE_GRIPPER:
        return &dev_role_gripper;
    case AXL_ROLE_CHARACTERIZATION:
        return &dev_role_char;
    default:
        return &dev_role_storage;
    }
}

static void maybe_done(dev_driver *dd)
{
    if (!dd->closing || dd->tasks != NULL || dd->work > 0)
        return;
    if (dd->role->release != NULL)
        dd->role->release(dd);
    axl_driver *d = dd->d;
    void (*cb)(axl_driver *) = dd->close_cb;
    free(dd);
    d->impl = NULL;
    if (cb != NULL)
        cb(d);
}

static void task_free_if_done(dev_task *dt)
{
    if (dt->t != NULL || dt->timer_open || dt->refs > 0)
        return;
    dev_driver *dd = dt->dd;
    if (dt->prev != NULL)
        dt->prev->next = dt->next;
    else
        dd->tasks = dt->next;
    if (dt->next != NULL)
        dt->next->prev = dt->prev;
    free(dt);
    maybe_done(dd);
}

static void timer_closed(uv_handle_t *h)
{
    dev_task *dt = h->data;
    dt->timer_open = false;
    task_free_if_done(dt);
}

/* The task is over for the worker: no more callbacks for it. */
static axl_drv_task *detach(dev_task *dt)
{
    axl_drv_task *t = dt->t;
    dt->t = NULL;
    if (t != NULL)
        t->drv = NULL;
    if (dt->op != NULL) {
        if (dt->op_odr != NULL)
            axl_odrive_cancel(dt->op_odr, dt->op);
        else
            axl_sop_cancel(dt->op);
        dt->op = NULL;
        dt->op_odr = NULL;
    }
    if (dt->timer_open) {
        uv_timer_stop(&dt->timer);
        if (!uv_is_closing((uv_handle_t *)&dt->timer))
            uv_close((uv_handle_t *)&dt->timer, timer_closed);
    }
    return t;
}

bool dev_alive(const dev_task *dt)
{
    return dt->t != NULL && !dt->dd->closing;
}

void dev_ref(dev_task *dt)
{
    dt->refs++;
}

void dev_unref(dev_task *dt)
{
    dt->refs--;
    task_free_if_done(dt);
}

double dev_elapsed_s(const dev_task *dt)
{
    return (double)(uv_now(dt->dd->loop) - dt->t0) / 1e3 * dt->dd->o.speed;
}

void dev_progress(dev_task *dt, double fraction, const char *note)
{
    if (dev_alive(dt))
        dt->dd->d->progress(dt->dd->d, dt->t, fraction, note);
}

void dev_finish(dev_task *dt, const void *result, size_t len)
{
    if (!dev_alive(dt))
        return;
    axl_driver *d = dt->dd->d;
    axl_drv_task *t = detach(dt);
    d->finished(d, t, result, len);
    task_free_if_done(dt);
}

void dev_finish_duration(dev_task *dt)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 1) || axl_pack_kv_num(&pk, "duration_s", dev_elapsed_s(dt)))
        dev_fail(dt, "out of memory");
    else
        dev_finish(dt, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

void dev_fail(dev_task *dt, const char *fmt, ...)
{
    if (!dev_alive(dt))
        return;
    char reason[AXL_WIRE_MAX_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    dev_driver *dd = dt->dd;
    axl_drv_task *t = detach(dt);
    if (dd->role->safe != NULL)
        dd->role->safe(dt);
    dd->d->failed(dd->d, t, reason, false);
    task_free_if_done(dt);
}

void dev_bg_cb(void *arg, int status, const char *why)
{
    dev_driver *dd = arg;
    if (status != 0)
        AXL_WARN(SRC, "%s: background operation failed: %s", dd->role->name, why);
}

void dev_work_begin(dev_driver *dd)
{
    dd->work++;
}

void dev_work_end(dev_driver *dd)
{
    dd->work--;
    maybe_done(dd);
}

/* ---- steps ------------------------------------------------------------------------------ */

static void run_step(dev_task *dt);

void dev_cb(void *arg, int status, const char *why)
{
    dev_task *dt = arg;
    dt->op = NULL;
    dt->op_odr = NULL;
    if (!dev_alive(dt))
        return;
    if (status != 0) {
        dev_fail(dt, "%s", why != NULL && why[0] ? why : axl_strerror(status));
        return;
    }
    run_step(dt);
}

void dev_op(dev_task *dt, axl_sop *op)
{
    if (op == NULL) {
        dev_fail(dt, "out of memory starting a device operation");
        return;
    }
    dt->op = op;
    dt->op_odr = NULL;
}

void dev_op_odrive(dev_task *dt, axl_odrive *o, axl_sop *op)
{
    dev_op(dt, op);
    if (op != NULL)
        dt->op_odr = o;
}

static void timer_fire(uv_timer_t *h)
{
    dev_task *dt = h->data;
    if (dev_alive(dt))
        run_step(dt);
}

void dev_wait(dev_task *dt, double device_s)
{
    double ms = device_s > 0 ? device_s * 1e3 / dt->dd->o.speed : 0;
    uv_timer_start(&dt->timer, timer_fire, (uint64_t)fmin(ms, 1e10), 0);
}

void dev_yield(dev_task *dt)
{
    uv_timer_start(&dt->timer, timer_fire, 0, 0);
}

/* A rest: the sample waits where it is, in any role. */
enum { REST_START = 0, REST_HALF, REST_END };

static void rest_step(dev_task *dt)
{
    double s = dt->t->spec.rt.u.rest.duration;
    if (!(s >= 0))
        s = dt->t->spec.ct.duration;
    switch (dt->step) {
    case REST_START:
        dt->step = REST_HALF;
        dev_wait(dt, s / 2);
        return;
    case REST_HALF:
        dev_progress(dt, 0.5, "half way");
        dt->step = REST_END;
        dev_wait(dt, s / 2);
        return;
    default:
        dev_finish_duration(dt);
    }
}

static void run_step(dev_task *dt)
{
    if (dt->t->spec.ct.kind == AXL_TASK_REST)
        rest_step(dt);
    else if (dt->dd->role->step != NULL)
        dt->dd->role->step(dt);
    else
        dev_fail(dt, "the %s role has no devices for this task", dt->dd->role->name);
}

/* ---- the ops table ---------------------------------------------------------------------- */

static int dev_init(axl_driver *d, uv_loop_t *loop, const axl_driver_opts *o, axl_errbuf *eb)
{
    if (!(o->speed > 0) || !isfinite(o->speed))
        return axl_fail(eb, AXL_EINVAL, "device driver: speed must be > 0");
    if (o->devices == NULL)
        return axl_fail(eb, AXL_EINVAL, "device driver: no devices configured");
    dev_driver *dd = calloc(1, sizeof(*dd));
    if (dd == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    dd->d = d;
    dd->loop = loop;
    dd->o = *o;
    dd->cfg = *o->devices;
    dd->o.devices = &dd->cfg;
    snprintf(dd->data_dir, sizeof(dd->data_dir), "%s", o->data_dir != NULL ? o->data_dir : ".");
    dd->o.data_dir = dd->data_dir;
    dd->role = role_of(o->role);
    if (dd->role->open != NULL && !axl_devcfg_role_on(&dd->cfg, o->role)) {
        free(dd);
        return axl_fail(eb, AXL_EINVAL, "device driver: no devices configured for the %s role",
                        axl_worker_role_name(o->role));
    }
    int rv = dd->role->open != NULL ? dd->role->open(dd, eb) : 0;
    if (rv != 0) {
        free(dd);
        return rv;
    }
    d->impl = dd;
    return 0;
}

static int dev_start(axl_driver *d, axl_drv_task *t, axl_errbuf *eb)
{
    dev_driver *dd = d->impl;
    if (dd->closing)
        return axl_fail(eb, AXL_ECLOSED, "driver is closing");
    if (t->spec.ct.kind != AXL_TASK_REST && dd->role->step == NULL)
        return axl_fail(eb, AXL_ENOTSUP, "the %s role runs only rests", dd->role->name);
    dev_task *dt = calloc(1, sizeof(*dt) + dd->role->task_size);
    if (dt == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    dt->dd = dd;
    dt->t = t;
    dt->rs = dd->role->task_size > 0 ? (void *)(dt + 1) : NULL;
    dt->t0 = uv_now(dd->loop);
    uv_timer_init(dd->loop, &dt->timer);
    dt->timer.data = dt;
    dt->timer_open = true;
    dt->next = dd->tasks;
    if (dd->tasks != NULL)
        dd->tasks->prev = dt;
    dd->tasks = dt;
    t->drv = dt;
    dev_yield(dt); /* the first step runs from the loop, never inside start_task */
    return 0;
}

static int dev_cancel(axl_driver *d, axl_drv_task *t)
{
    dev_driver *dd = d->impl;
    dev_task *dt = t->drv;
    if (dt == NULL)
        return AXL_ENOENT;
    detach(dt);
    if (dd->role->safe != NULL)
        dd->role->safe(dt);
    task_free_if_done(dt);
    return 0;
}

static void dev_close(axl_driver *d, void (*close_cb)(axl_driver *d))
{
    dev_driver *dd = d->impl;
    dd->closing = true;
    dd->close_cb = close_cb;
    dd->work++; /* dd stays until the end of this function */
    /* Collect first: detaching may free a task. */
    for (dev_task *dt = dd->tasks, *next; dt != NULL; dt = next) {
        next = dt->next;
        dt->refs++; /* held across the walk */
        detach(dt);
    }
    if (dd->role->close != NULL)
        dd->role->close(dd);
    for (dev_task *dt = dd->tasks, *next; dt != NULL; dt = next) {
        next = dt->next;
        dev_unref(dt);
    }
    dev_work_end(dd);
}

const axl_driver_ops axl_driver_dev_ops = {
    .name = "devices",
    .init = dev_init,
    .start_task = dev_start,
    .cancel = dev_cancel,
    .close = dev_close,
};
