/*
 * axl_worker.h - one lab worker (spin coater, hotplate, gripper, characterization line,
 * storage tray) as a process: an nng PAIR1 socket that *listens* (the engine dials in and
 * re-dials after any break), a libuv loop that owns every piece of state, a device driver
 * behind axl_driver_ops (the simulated line by default) and a task table that makes
 * dispatch idempotent. `axle worker` (engine/cmd_worker.c) is a thin wrapper around
 * axl_worker_run().
 *
 * Protocol (proto/README.md §6), worker side:
 *  - on every new connection: `hello` {worker, role, capacity, time, inflight}, then a
 *    `heartbeat` every heartbeat_ms while connected (seq restarts at 0 per connection);
 *  - `task`: a new id is acked `accepted`, started at `start_at` (or at once) when fewer
 *    than `capacity` tasks run, and reported `started`, `progress`, `finished` (with the
 *    driver's result) or `failed`. An id it has seen is NOT run again: the answer is `ack`
 *    with the task's current state, followed by the `finished` / `failed` message again
 *    when the task is over (that is how an engine that lost a result gets it back). A task
 *    of a kind the role does not run, or with params that do not decode, is acked
 *    `failed` and reported `failed` (retryable: false) with the reason;
 *  - `cancel`: a waiting or running task becomes `failed` ("canceled: <reason>") and the
 *    ack says so; an id never seen is acked `unknown`;
 *  - `status`: `status_reply` with the state of the ids asked (`unknown` for ids never
 *    seen), or of every task in the table when `ids` is absent;
 *  - a message that does not decode, or one a worker does not take (hello, ack, ...), is
 *    answered with `error` naming the problem; an `error` is never answered.
 *
 * The task table keeps the last AXL_WORKER_MAX_TASKS tasks (the oldest finished or
 * failed one is forgotten first). With a data directory it is journaled to
 * <data_dir>/workers/<id>.journal (one msgpack record per change, appended with one
 * write(2): it survives the worker process being killed, not a power loss). A restarted
 * worker reloads it (the history is kept until the file holds 8x the table, then it is
 * rewritten with one record per task): tasks that were running when it died become `failed`
 * ("interrupted: ...", retryable false) - the sample's state is unknown, so the task is
 * never run twice - and tasks it had accepted but not started are started.
 *
 * Failure injection (the simulated line): fail_rate (the driver fails a task half way),
 * crash_after N (the process SIGKILLs itself half way through its (N+1)-th task),
 * hang_after N (the loop thread stops for good right after it reports its (N+1)-th task
 * `started`: no more heartbeats or replies, the connection stays up; SIGTERM and SIGKILL still end
 * it).
 */
#ifndef AXL_WORKER_H
#define AXL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/worker/axl_driver.h"
#include "proto/axl_error.h"
#include "proto/axl_wire.h"

#define AXL_WORKER_MAX_TASKS 1024  /* = AXL_WIRE_MAX_IDS: a full status_reply always fits */
#define AXL_WORKER_CRASH_STATUS 70 /* exit status if the self-kill failed */

typedef struct axl_worker_config {
    axl_worker_role role;
    const char *id;               /* worker id (hello, journal name); NULL = the role's name */
    const char *listen;           /* nng address: ipc://PATH (default) or tcp://127.0.0.1:PORT */
    uint32_t capacity;            /* tasks at once; 0 = the role's default (spincoater,
                                     gripper, characterization 1; hotplate 90; storage 45) */
    double speed;                 /* time compression of the simulated line (1 = real time) */
    uint64_t seed;                /* simulated noise and failures */
    double fail_rate;             /* 0..1 */
    long crash_after;             /* < 0: never */
    long hang_after;              /* < 0: never */
    const char *data_dir;         /* journal and data files; NULL: no journal, data in "." */
    unsigned heartbeat_ms;        /* 250 by default */
    double exit_when_alone_s;     /* > 0: after this long with no engine connected, exit 0
                                     once no task runs (a started task is never cut) */
    const char *pid_file;         /* removed at exit when it names this process; or NULL */
    const axl_driver_ops *driver; /* NULL: the simulated line (axl_driver_sim_ops), or the
                                     real devices when `devices` configures this role */
    const struct axl_line_devices *devices; /* line.devices (axl_devcfg.h), borrowed; NULL */
} axl_worker_config;

void axl_worker_config_default(axl_worker_config *c);

/* Tasks at once for a role when the config says 0. */
uint32_t axl_worker_default_capacity(axl_worker_role role);

/*
 * Runs the worker until SIGTERM or SIGINT (or exit_when_alone_s): binds, reloads the
 * journal, serves. Returns 0 after a clean stop, or an error (the address cannot be
 * bound: AXL_EBUSY / AXL_EIO; a bad config: AXL_EINVAL; the journal cannot be opened:
 * AXL_EIO) with the reason in eb. Does not return on an injected crash or hang.
 * Everything runs on the calling thread's own uv loop.
 */
int axl_worker_run(const axl_worker_config *cfg, axl_errbuf *eb);

#endif
