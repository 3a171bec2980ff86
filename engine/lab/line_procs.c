/*
 * line_procs.c - the simulated line's `axle worker` processes (lab.simulate): one per
 * role, on ipc:// sockets under the store directory, each on hw/worker's process
 * supervisor. Adopted again by a resumed engine when they outlived an earlier one (the
 * supervisor's pid file: pid + start time + this configuration), restarted when they
 * crash, killed when they hang (the link's heartbeat timer says so), stopped on close.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/lab/lab.h"
#include "hw/worker/axl_worker.h"
#include "proto/axl_log.h"

/* A spawned worker whose engine is gone (killed, or detached on a stop) exits this long
 * after the connection dropped, once its running tasks have ended (their outcomes are in
 * its journal for the next engine); a resumed engine adopts it if it is still there. */
#define EXIT_WHEN_ALONE_S 5.0

typedef struct line_proc {
    lab_runner *lr;
    axl_worker_role role;
    axl_sup_proc *sup;
} line_proc;

static void proc_gone(axl_sup_proc *sp, const char *how)
{
    line_proc *p = axl_sup_data(sp);
    lab_runner *lr = p->lr;
    if (lr->closing) {
        if (lab_procs_gone(lr))
            lab_close_links(lr); /* no live peer left: the sockets close safely */
        return;
    }
    AXL_WARN(LAB_SRC, "the simulated %s worker %s; starting it again",
             axl_worker_role_name(p->role), how);
    /* A short pause: the dead process's socket must be gone before the new one binds. */
    axl_sup_restart(sp, 20);
}

/* The line's devices for the workers (lab.line.devices), written atomically. */
static int write_devices(const char *path, const char *text, axl_errbuf *eb)
{
    char tmp[800];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return axl_fail(eb, AXL_EIO, "%s: %s", tmp, strerror(errno));
    bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return axl_fail(eb, AXL_EIO, "cannot write %s", path);
    }
    return 0;
}

int lab_procs_start(lab_runner *lr, role_link *rl, const char *dir, axl_errbuf *eb)
{
    const lab_config *c = &lr->cfg;
    line_proc *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    p->lr = lr;
    p->role = rl->role;
    rl->proc = p;
    char cap[16], speed[32], seed[32], fail[32], hb[16], alone[16], sig[2048], pidfile[700];
    uint32_t capacity = axl_worker_default_capacity(rl->role);
    if (rl->role == AXL_ROLE_HOTPLATE)
        capacity = c->line.n_plates * c->line.plate_slots;
    else if (rl->role == AXL_ROLE_STORAGE)
        capacity = c->line.tray_slots;
    if (capacity > AXL_WIRE_MAX_CAPACITY)
        capacity = AXL_WIRE_MAX_CAPACITY;
    snprintf(cap, sizeof(cap), "%u", capacity);
    snprintf(speed, sizeof(speed), "%.17g", c->sim.speed);
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)c->sim.seed);
    snprintf(fail, sizeof(fail), "%.17g", c->sim.fail_rate);
    snprintf(hb, sizeof(hb), "%u", c->heartbeat_ms);
    snprintf(alone, sizeof(alone), "%g", EXIT_WHEN_ALONE_S);
    const char *role = axl_worker_role_name(rl->role);
    snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", dir, role);
    char devfile[700];
    snprintf(devfile, sizeof(devfile), "%s/devices.json", dir);
    if (c->devices != NULL) {
        int rv = write_devices(devfile, c->devices, eb);
        if (rv != 0)
            return rv;
    }
    const char *argv[] = {c->sim.bin,
                          "worker",
                          "--role",
                          role,
                          "--id",
                          role,
                          "--listen",
                          rl->addr,
                          "--capacity",
                          cap,
                          "--speed",
                          speed,
                          "--seed",
                          seed,
                          "--fail-rate",
                          fail,
                          "--data-dir",
                          lr->data_dir,
                          "--heartbeat-ms",
                          hb,
                          "--exit-when-alone",
                          alone,
                          "--log-level",
                          c->sim.log_level,
                          "--pid-file",
                          pidfile,
                          c->devices != NULL ? "--devices" : NULL,
                          devfile,
                          NULL};
    /* The signature: the configuration (everything but the binary's path). */
    size_t len = 0;
    sig[0] = '\0';
    for (size_t i = 1; argv[i] != NULL && len < sizeof(sig); i++)
        len += (size_t)snprintf(sig + len, sizeof(sig) - len, "%s ", argv[i]);
    axl_sup_opts so = {
        .argv = argv, .pidfile = pidfile, .signature = sig, .on_gone = proc_gone, .data = p};
    int rv = axl_sup_new(lr->loop, &so, &p->sup, eb);
    if (rv != 0)
        return rv;
    if (axl_sup_adopt(p->sup)) {
        AXL_INFO(LAB_SRC, "adopting the %s worker (pid %d) an earlier engine left running", role,
                 axl_sup_pid(p->sup));
        return 0;
    }
    /* Injected failures happen once: only the first spawn carries them. */
    char crash[32], hang[32];
    const char *extra[5];
    int n = 0;
    if (c->sim.crash_after[rl->role] >= 0) {
        snprintf(crash, sizeof(crash), "%ld", c->sim.crash_after[rl->role]);
        extra[n++] = "--crash-after";
        extra[n++] = crash;
    }
    if (c->sim.hang_after[rl->role] >= 0) {
        snprintf(hang, sizeof(hang), "%ld", c->sim.hang_after[rl->role]);
        extra[n++] = "--hang-after";
        extra[n++] = hang;
    }
    extra[n] = NULL;
    axl_errbuf why = {{0}};
    if (axl_sup_spawn(p->sup, extra, &why) != 0) {
        AXL_ERROR(LAB_SRC, "cannot start the %s worker: %s", role, why.msg);
        return axl_fail(eb, AXL_EIO, "cannot start the simulated %s worker (%s)", role, c->sim.bin);
    }
    return 0;
}

void lab_procs_lost(role_link *rl)
{
    if (rl->proc != NULL && axl_sup_pid(rl->proc->sup) > 0)
        axl_sup_kill(rl->proc->sup, SIGKILL); /* its exit restarts it */
}

bool lab_procs_gone(const lab_runner *lr)
{
    for (int i = 0; i < NROLES; i++)
        if (lr->links[i].proc != NULL && lr->links[i].proc->sup != NULL &&
            axl_sup_pid(lr->links[i].proc->sup) > 0)
            return false;
    return true;
}

void lab_procs_close(lab_runner *lr)
{
    for (int i = 0; i < NROLES; i++) {
        line_proc *p = lr->links[i].proc;
        /* SIGTERM: the worker closes its socket and journal; SIGKILL if it stays 2 s. */
        if (p != NULL && p->sup != NULL)
            axl_sup_stop(p->sup, 2000);
    }
}

static void sup_closed(void *data)
{
    lab_runner *lr = data;
    lr->pending--;
    lab_finish_if_closed(lr);
}

/* Once the line is gone (or let go): the supervisors' handles close. */
void lab_procs_release(lab_runner *lr)
{
    for (int i = 0; i < NROLES; i++) {
        line_proc *p = lr->links[i].proc;
        if (p == NULL || p->sup == NULL)
            continue;
        lr->pending++;
        axl_sup_close(p->sup, sup_closed, lr);
        p->sup = NULL;
    }
}

void lab_procs_free(lab_runner *lr)
{
    for (int i = 0; i < NROLES; i++) {
        free(lr->links[i].proc);
        lr->links[i].proc = NULL;
    }
}
