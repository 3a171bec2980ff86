/*
 * runner.h - how trials reach the outside world: one ops table, three runners.
 *
 *   function  built-in test functions (Branin, Hartmann6) on uv timers     runner_function.c
 *   command   one child process per trial, JSON metrics on its stdout      runner_command.c
 *   lab       the PASCAL-style line over nng, built on hw/                 lab/
 *
 * Contract (libuv style):
 *  - Every call is made on the loop thread, and every report reaches the engine on the
 *    loop thread through r->report. A runner whose work finishes on other threads
 *    marshals it with uv_async_send.
 *  - A function that returns an error never reports for what it was given.
 *  - Reports are never made from inside the call that caused them (deploy, cancel,
 *    reconcile): the engine may be in the middle of a state change.
 *  - After close() returns no report is made; close_cb (if any) fires when every
 *    handle the runner owns is closed.
 */
#ifndef AXL_RUNNER_H
#define AXL_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "engine/experiment.h"
#include "proto/axl_error.h"
#include "proto/axl_proto.h"

typedef struct axl_runner axl_runner;

/* One trial handed to a runner. All pointers borrowed for the duration of the call. */
typedef struct axl_runner_job {
    uint32_t trial;
    const double *x;    /* parameter point (engine/experiment.h convention) */
    const char *job_id; /* the runner's id from an earlier deploy (reconcile), or NULL */
} axl_runner_job;

/* What a runner says about a trial. All pointers borrowed for the callback. */
typedef struct axl_runner_report {
    uint32_t trial;
    axl_trial_status status; /* RUNNING, COMPLETED, FAILED, ABANDONED */
    const char *job_id;      /* with RUNNING: the id to keep as run metadata */
    const char *reason;      /* with FAILED/ABANDONED: why */
    uint32_t n_metrics;      /* with COMPLETED */
    const axl_metric_value *metrics;
} axl_runner_report;

typedef void (*axl_runner_report_cb)(axl_runner *r, const axl_runner_report *rep);

/*
 * Extra events a runner wants in the log, committed with the turn like every other
 * event: task.started, task.finished, ... (rec AXL_REC_NONE), or its own record, e.g.
 * labware.updated with rec AXL_REC_LABWARE and the complete labware state as body.
 * body is a msgpack map, borrowed for the call; trial is -1 when none.
 */
typedef void (*axl_runner_event_cb)(axl_runner *r, const char *type, int64_t trial,
                                    axl_rec_kind rec, const void *body, size_t body_len);

typedef struct axl_runner_ops {
    const char *name;
    /* Reads its part of the experiment (runner/lab objects); errors name the JSON path. */
    int (*init)(axl_runner *r, uv_loop_t *loop, const axl_experiment *e, axl_errbuf *eb);
    /* How many more trials it can take now; -1 = no limit. */
    int (*capacity)(axl_runner *r);
    /* Starts n trials (n > 1 only with run_trials_in_batches). */
    int (*deploy)(axl_runner *r, const axl_runner_job *jobs, int n, axl_errbuf *eb);
    /* Stops a trial whose status the engine has already decided (TTL, shutdown):
     * no report follows for it. */
    int (*cancel)(axl_runner *r, uint32_t trial, const char *reason);
    /*
     * After a restart: the trials the store holds as STAGED or RUNNING. The runner
     * reports each one's real status (RUNNING when it still runs, COMPLETED with
     * metrics, FAILED, or ABANDONED when it knows nothing of it).
     */
    int (*reconcile)(axl_runner *r, const axl_runner_job *jobs, int n);
    /*
     * Optional (may be NULL): the runner's own record as last committed (e.g. the lab's
     * labware state), handed over before reconcile on resume. Borrowed for the call.
     */
    int (*restore)(axl_runner *r, axl_rec_kind rec, const void *body, size_t body_len);
    /*
     * Optional (may be NULL): packs exactly one msgpack map of the runner's counters for
     * experiment.stopped ("runner": {...}), e.g. the worker messages the lab runner refused.
     */
    int (*stop_stats)(axl_runner *r, msgpack_packer *pk);
    /*
     * Optional (may be NULL): work still going on for trials already reported (the lab's
     * samples making their last moves back to the tray). The campaign's end (total trials
     * reached, nothing pending) waits until it is 0; the runner makes an event when it
     * changes, which wakes the scheduler.
     */
    int (*busy)(axl_runner *r);
    /* Stops everything; no report after it returns. Frees once handles are closed. */
    void (*close)(axl_runner *r, void (*close_cb)(axl_runner *r));
} axl_runner_ops;

struct axl_runner {
    const axl_runner_ops *ops;
    void *impl;                  /* the runner's own state */
    void *data;                  /* the engine's */
    axl_runner_report_cb report; /* set by the engine before init */
    axl_runner_event_cb event;   /* set by the engine before init; may be NULL */
    const char *store_dir;       /* the campaign's store directory (sockets, data files);
                                    set before init, valid until close */
    uint32_t deploy_calls;       /* counted by the engine (batch tests, metrics) */
    bool stop_workers;           /* set by the engine before close: stop the processes the
                                    runner spawned (the campaign is over, or the user asked);
                                    false: detach - started work runs on, resume adopts it */
};

extern const axl_runner_ops axl_runner_function_ops;
extern const axl_runner_ops axl_runner_command_ops;

extern const axl_runner_ops axl_runner_lab_ops;

/* The ops table for a runner kind; NULL when that runner is not built in. */
const axl_runner_ops *axl_runner_ops_for(axl_runner_kind kind);

#endif
