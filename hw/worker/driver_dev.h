/*
 * driver_dev.h (internal) - the driver of real devices behind axl_driver.h: a task
 * framework shared by the roles (driver_spincoater.c, driver_hotplate.c,
 * driver_gripper.c, driver_char.c).
 *
 * A role runs each task as a state machine: its `step` function looks at dt->step, sets
 * dt->step to what comes next and starts ONE device operation (dev_op), a wait
 * (dev_wait) or ends the task (dev_finish / dev_fail). The operation's success calls
 * `step` again; its failure fails the task with the device's words. Everything happens on
 * the worker's loop; the first step runs from a timer, never inside start_task.
 *
 * Callbacks a role cannot cancel (the OT-2's completions, thread-pool jobs) hold a
 * reference on the task (dev_ref / dev_unref): its memory outlives its end until they
 * have come back, and they check dev_alive first.
 */
#ifndef AXL_DRIVER_DEV_H
#define AXL_DRIVER_DEV_H

#include "hw/devices/axl_devices.h"
#include "hw/worker/axl_devcfg.h"
#include "hw/worker/axl_driver.h"

typedef struct dev_driver dev_driver;
typedef struct dev_task dev_task;

typedef struct dev_role {
    const char *name;
    size_t task_size; /* bytes of per-task state (dt->rs, zeroed) */
    /* Creates the role's devices (ports open on their first exchange). */
    int (*open)(dev_driver *dd, axl_errbuf *eb);
    /* Advances a task of the role's own kinds (rests are the framework's). */
    void (*step)(dev_task *dt);
    /* Optional: a task stopped half way (failed or canceled): leave the devices safe. */
    void (*safe)(dev_task *dt);
    /* Closes the devices: no callback after it returns. Drops device references
     * (dev_drop_refs) the devices will no longer call back for. */
    void (*close)(dev_driver *dd);
    /* Optional: frees what close left (once no task and no pool job is left). */
    void (*release)(dev_driver *dd);
} dev_role;

struct dev_driver {
    axl_driver *d;
    uv_loop_t *loop;
    axl_driver_opts o;
    axl_line_devices cfg;
    const dev_role *role;
    void *rs; /* the role's state */
    char data_dir[512];
    dev_task *tasks; /* every task still in memory (running or waiting for references) */
    int work;        /* thread-pool jobs in flight (dd outlives them) */
    bool closing;
    void (*close_cb)(axl_driver *d);
};

struct dev_task {
    dev_driver *dd;
    axl_drv_task *t; /* NULL once over */
    uv_timer_t timer;
    bool timer_open;
    int step;
    axl_sop *op;        /* the device operation in flight */
    axl_odrive *op_odr; /* its ODrive (its poll timer is stopped on cancel) */
    int refs;           /* callbacks still to come (OT-2 completions, pool jobs) */
    uint64_t t0;        /* uv_now at start, ms */
    void *rs;           /* the role's per-task state */
    dev_task *next, *prev;
};

extern const dev_role dev_role_spincoater, dev_role_hotplate, dev_role_gripper, dev_role_char;

/* Waits on op (NULL: out of memory, the task fails); on success `step` runs again. */
void dev_op(dev_task *dt, axl_sop *op);
void dev_op_odrive(dev_task *dt, axl_odrive *o, axl_sop *op);
/* The callback to give device operations started with dev_op. */
void dev_cb(void *arg, int status, const char *why);
/* Waits device_s device seconds (divided by the line's speed), then `step`. */
void dev_wait(dev_task *dt, double device_s);
/* Runs `step` again on the loop's next turn (no recursion). */
void dev_yield(dev_task *dt);
bool dev_alive(const dev_task *dt);
void dev_ref(dev_task *dt);
void dev_unref(dev_task *dt);
/* Device seconds since the task started. */
double dev_elapsed_s(const dev_task *dt);
void dev_progress(dev_task *dt, double fraction, const char *note);
/* Ends the task: finished with result (msgpack map, borrowed), or with {"duration_s"}. */
void dev_finish(dev_task *dt, const void *result, size_t len);
void dev_finish_duration(dev_task *dt);
/* Ends the task failed; the role's `safe` runs. */
void dev_fail(dev_task *dt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A background operation's callback (preheat, safe stop): logs a failure. */
void dev_bg_cb(void *arg, int status, const char *why);
/* Thread-pool jobs of the driver (the characterization's plugin calls). */
void dev_work_begin(dev_driver *dd);
void dev_work_end(dev_driver *dd);

#endif
