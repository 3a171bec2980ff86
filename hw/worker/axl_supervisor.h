/*
 * axl_supervisor.h - one supervised process (a worker of the simulated line): spawned in
 * its own session, recorded in a pid file, adopted again by a later supervisor when it
 * outlived an earlier one, watched until it is gone. It knows nothing of what the process
 * is for: the owner hears of its end through on_gone and decides (restart, or not).
 *
 * The pid file records what identifies the process without reading anyone's command line:
 *     <pid> <start time>\n<signature>\n
 * where the start time is field 22 of /proc/<pid>/stat (clock ticks since boot: a reused
 * pid has another) and the signature is the owner's description of the configuration
 * (only an identical one is adopted; another is stopped).
 *
 * Threads: the loop thread only. on_gone runs on it, never from inside a call of this API.
 * After axl_sup_close returns no callback is made.
 */
#ifndef AXL_SUPERVISOR_H
#define AXL_SUPERVISOR_H

#include <stdbool.h>

#include <uv.h>

#include "proto/axl_error.h"

typedef struct axl_sup_proc axl_sup_proc;

/* The process ended: how ("exited with status 1", "was killed by signal 9", ...). */
typedef void (*axl_sup_gone_cb)(axl_sup_proc *p, const char *how);

typedef struct axl_sup_opts {
    const char *const *argv; /* NULL-terminated, argv[0] a path; copied */
    const char *pidfile;     /* copied */
    const char *signature;   /* copied; one line, no '\n' */
    axl_sup_gone_cb on_gone;
    void *data;
} axl_sup_opts;

/* A supervisor for one process (none running yet). Returns 0, AXL_EINVAL or AXL_ENOMEM.
 * *out is freed by axl_sup_close. */
int axl_sup_new(uv_loop_t *loop, const axl_sup_opts *o, axl_sup_proc **out, axl_errbuf *eb);

/*
 * Adopts the process the pid file names when it is alive, is the process that was recorded
 * (same start time) and runs the same signature; returns true. One that is alive but runs
 * another signature is stopped (SIGKILL, waited for, bounded: start-up only); false.
 */
bool axl_sup_adopt(axl_sup_proc *p);

/* Spawns argv + extra (NULL-terminated, may be NULL; borrowed for the call) and records it.
 * Returns 0 or AXL_EIO (with the reason in eb); on error no callback follows. */
int axl_sup_spawn(axl_sup_proc *p, const char *const *extra, axl_errbuf *eb);

/* Spawns argv again after delay_ms (retrying every 500 ms while that fails). */
void axl_sup_restart(axl_sup_proc *p, unsigned delay_ms);

/* The running pid, 0 when none. */
int axl_sup_pid(const axl_sup_proc *p);

/* Signals the process (no-op when none). */
void axl_sup_kill(axl_sup_proc *p, int sig);

/* SIGTERM, then SIGKILL after grace_ms; on_gone follows and the pid file is removed. */
void axl_sup_stop(axl_sup_proc *p, unsigned grace_ms);

/*
 * Lets go: handles close, close_cb(data) fires once they are; the process (if any) runs
 * on and its pid file stays, for a later supervisor to adopt. With no process running the
 * pid file is removed.
 */
void axl_sup_close(axl_sup_proc *p, void (*close_cb)(void *data), void *data);

void *axl_sup_data(const axl_sup_proc *p);

/* Field 22 of /proc/<pid>/stat (start time, clock ticks since boot); 0 when unreadable. */
unsigned long long axl_sup_start_time(int pid);

#endif
