/*
 * lab.h - the lab runner's internals, shared by the files of engine/lab/ (not a public
 * header: the engine sees the runner only through axl_runner_lab_ops, engine/runner.h).
 *
 *   runner_lab.c   the ops table, the worker links, sending tasks, taking their outcomes,
 *                  the report queue and the events (task.*, labware.updated)
 *   sample.c       THE ONLY PLACE A SAMPLE'S STATE CHANGES: the sample state machine
 *   clearing.c     an ended sample's film off a shared station: the clearing move, the
 *                  block of a station whose film's place is not known
 *   reconcile.c    after an engine restart, or a worker's new hello: the workers' task
 *                  tables against the samples; the restored labware record
 *   placement.c    samples deployed in one loop turn placed together (the order search
 *                  on the thread pool, batch_order.c)
 *   batch_order.c  the order search itself: a pure function (batch_order.h)
 *   lab_config.c   the experiment file's `lab` section -> lab_config
 *   line_procs.c   the simulated line's `axle worker` processes, on hw/worker's
 *                  process supervisor (axl_supervisor.h)
 *
 * Everything runs on the engine's loop thread (the order search on a copy, on the pool).
 */
#ifndef AXL_ENGINE_LAB_H
#define AXL_ENGINE_LAB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "engine/runner.h"
#include "hw/line/axl_chain.h"
#include "hw/line/axl_labware.h"
#include "hw/line/axl_pl.h"
#include "hw/line/axl_recipe.h"
#include "hw/line/axl_task.h"
#include "hw/line/axl_timeline.h"
#include "hw/worker/axl_link.h"
#include "hw/worker/axl_supervisor.h"
#include "proto/axl_proto.h"
#include "proto/axl_wire.h"

#define LAB_SRC "Lab"
#define NROLES AXL_ROLE_COUNT

/* ---- the `lab` section (lab_config.c) -------------------------------------------------- */

typedef struct lab_sim_config {
    bool on;
    double speed;
    uint64_t seed;
    double fail_rate;
    long crash_after[NROLES], hang_after[NROLES];
    char bin[1024];
    char log_level[16];
} lab_sim_config;

typedef struct lab_config {
    axl_recipe_template *tpl; /* owned (malloc) */
    axl_labware lw;
    axl_tl_config line;
    double speed; /* line seconds per wall second */
    int max_in_flight;
    unsigned heartbeat_ms, timeout_ms, connect_timeout_ms;
    double plan_budget_ms; /* wall ms a batch's order search may take (thread pool) */
    axl_pl_opts pl;
    lab_sim_config sim;
    bool needed[NROLES];    /* the recipe's chain has tasks for the role */
    char addr[NROLES][512]; /* lab.workers (attached line); "" with simulate */
    char *devices;          /* lab.line.devices as compact JSON (malloc), for the spawned
                               workers' --devices file; NULL: every role simulated */
} lab_config;

/* Reads e->lab (and checks e->runner has no keys but "type") into *c; errors name the
 * JSON path. Returns 0 or AXL_ECONFIG / AXL_ENOMEM; on error nothing is owned. */
int lab_config_parse(const axl_experiment *e, lab_config *c, axl_errbuf *eb);
void lab_config_free(lab_config *c);

/* ---- samples (sample.c) ------------------------------------------------------------------ */

/* Where a sample is on its chain. Changed only by the sample_ev_* functions. */
typedef enum sample_state {
    SAMPLE_RECONCILING, /* restored after a restart: waits for every worker's task table */
    SAMPLE_UNPLACED,    /* deployed: waits for its batch's placement on the timeline */
    SAMPLE_WAITING,     /* task cur is not out: its worker is not ready (or was lost) */
    SAMPLE_DUE,         /* task cur goes out on the turn after its predecessor's end commits */
    SAMPLE_SENT,        /* task cur sent to its worker, not started */
    SAMPLE_RUNNING,     /* task cur started on its worker */
    SAMPLE_ENDED,       /* every task done; waits for the characterization result asked again */
} sample_state;

/* What the engine has been told about the sample's trial. */
typedef enum sample_outcome {
    OUTCOME_OPEN,     /* nothing yet */
    OUTCOME_WANTED,   /* measured while the engine was away: the result must be asked again */
    OUTCOME_ASKED,    /* ... and was asked for */
    OUTCOME_REPORTED, /* COMPLETED or FAILED queued, or the engine decided (cancel) */
} sample_outcome;

typedef struct sample {
    struct sample *next, *prev;
    uint32_t trial;
    char name[32]; /* "sample12": the job id and the spectrum's file name */
    sample_state state;
    sample_outcome outcome;
    uint32_t cur; /* the task in progress, or next to send; chain.n when all done */
    axl_recipe recipe;
    axl_chain chain;
    uint32_t char_index; /* the characterization that gives the metrics */
    bool canceled;       /* the trial was ended by the engine while task cur ran: that task
                          * finishes, nothing after it goes out (sample_ev_canceled) */
    bool clearing;       /* canceled, and the chain's last task (cur) is the move of its film
                          * from a shared station back to storage (clearing.c) */
    bool stand_in;       /* a restored clearing: a stand-in holds its station on the timeline */
    int clear_plate;     /* clearing: the hotplate the film is on, or -1 */
    double clear_temp;   /* clearing: the temperature of its hotplate visit (NaN: none) */
    /* What it holds (not where it is): */
    axl_lw_reservation res;
    bool has_slot; /* res describes this sample's reservation (not a restored one) */
    bool placed;   /* on the timeline; plan[] valid */
    axl_tl_slot plan[AXL_CHAIN_MAX];
} sample;

/* The state machine's events. Each one checks that it is legal in the current state;
 * an illegal one is logged and ignored (returns false). */
void sample_ev_deployed(sample *s); /* new -> UNPLACED */
void sample_ev_restored(sample *s); /* new -> RECONCILING */
bool sample_ev_placed(sample *s);   /* UNPLACED -> WAITING */
/* RECONCILING -> the first unfinished task p: WAITING (unknown / failed: to send), SENT
 * (accepted), RUNNING (running) or ENDED (p == chain.n); char_done: the characterization
 * finished while the engine was away (its result is WANTED). */
bool sample_ev_resolved(sample *s, uint32_t p, axl_task_state st_p, bool char_done);
bool sample_ev_sent(sample *s);     /* WAITING -> SENT */
bool sample_ev_started(sample *s);  /* SENT / WAITING (a re-queued task) -> RUNNING */
bool sample_ev_requeued(sample *s); /* SENT -> WAITING: its worker was lost before it started */
/* SENT / RUNNING / WAITING -> task cur done: DUE (more tasks) or ENDED. */
bool sample_ev_finished(sample *s);
bool sample_ev_turn(sample *s);         /* DUE -> WAITING: the turn that committed passed */
bool sample_ev_result_asked(sample *s); /* outcome WANTED -> ASKED */
bool sample_ev_result_taken(sample *s); /* outcome ASKED -> OPEN (the answer came) */
void sample_ev_reported(sample *s);     /* outcome -> REPORTED */
/* RUNNING (or SENT: a move the worker holds) -> the same, canceled: the engine ended the
 * trial while task cur ran on its worker (outcome REPORTED). The task is not cut short;
 * when it ends the sample leaves the line (after its clearing move, clearing.c). */
bool sample_ev_canceled(sample *s);
/* DUE or WAITING, canceled (its step is done) -> DUE, clearing: the chain becomes *cut (the steps
 * that ran, then the move of the film back to storage, task cur). */
bool sample_ev_clearing(sample *s, const axl_chain *cut, int plate, double temp);

const char *sample_state_name(sample_state st);

/* Queries. */
static inline bool sample_active(const sample *s)
{
    return s->state != SAMPLE_RECONCILING && s->state != SAMPLE_UNPLACED;
}
static inline bool sample_out(const sample *s) /* task cur is out on its worker */
{
    return s->state == SAMPLE_SENT || s->state == SAMPLE_RUNNING;
}
static inline bool sample_reported(const sample *s)
{
    return s->outcome == OUTCOME_REPORTED;
}

/* ---- the runner -------------------------------------------------------------------------- */

typedef struct status_entry {
    char id[AXL_WIRE_MAX_ID + 1];
    axl_task_state st;
} status_entry;

struct lab_runner;

/* A station blocked for good: trial's film may be on it (clearing.c). */
typedef struct lab_block {
    uint32_t trial;
    axl_station station;
    double temp; /* a hotplate: the film's anneal temperature, or NaN */
} lab_block;

typedef struct role_link {
    struct lab_runner *lr;
    axl_worker_role role;
    bool needed;
    char addr[512];
    axl_link *link;
    bool synced; /* status_reply received since the last up */
    status_entry *map;
    uint32_t n_map;
    struct line_proc *proc; /* the simulated line's process for the role, or NULL */
} role_link;

typedef struct pending_report {
    struct pending_report *next;
    uint32_t trial;
    axl_trial_status status;
    char reason[1400];
    char job[32];
    uint32_t n;
    axl_metric_value m[3];
} pending_report;

typedef struct lab_runner {
    axl_runner *r;
    uv_loop_t *loop;
    const axl_experiment *e;
    lab_config cfg;
    axl_labware lw; /* the live state (cfg.lw is the file's) */
    axl_timeline *tl;
    double wall0; /* wall clock at line time 0 */
    char data_dir[600];
    role_link links[NROLES];
    sample *samples;
    int n_samples;
    uint32_t *restored; /* trials holding labware in the restored record */
    size_t n_restored;
    uv_timer_t notify;
    uv_timer_t place;  /* places the samples deployed in one loop turn together */
    bool planning;     /* an order search is on the thread pool */
    lab_block *blocks; /* stations blocked for good (malloc), n_blocks of them */
    uint32_t n_blocks;
    pending_report *reports, *reports_tail;
    uint64_t foreign_ids;        /* worker messages about task ids not sent in this campaign */
    uint64_t unstarted_finished; /* `finished` for a task not seen started: refused */
    bool closing;
    bool links_closed;
    int pending; /* handles and links still closing */
    void (*close_cb)(axl_runner *r);
} lab_runner;

/* runner_lab.c */
double lab_line_now(const lab_runner *lr);
pending_report *lab_queue_report(lab_runner *lr, uint32_t trial, axl_trial_status st,
                                 const char *reason);
/* A report made now and queued later (lab_push_report), or freed. */
pending_report *lab_new_report(uint32_t trial, axl_trial_status st, const char *reason);
void lab_push_report(lab_runner *lr, pending_report *p);
void lab_arm_notify(lab_runner *lr);
/* The DUE samples' tasks go out on the next loop turn (after this one's events commit). */
void lab_arm_dispatch(lab_runner *lr);
void lab_labware_event(lab_runner *lr);
void lab_task_id(const lab_runner *lr, uint32_t trial, uint32_t k, char *buf, size_t cap);
sample *lab_find_sample(lab_runner *lr, uint32_t trial);
int lab_sample_build(lab_runner *lr, sample *s, const double *x, axl_errbuf *eb);
void lab_sample_link(lab_runner *lr, sample *s);
void lab_sample_remove(lab_runner *lr, sample *s, bool give_back);
bool lab_role_ready(const lab_runner *lr, axl_worker_role role);
int lab_send_task(lab_runner *lr, sample *s, uint32_t k);
void lab_dispatch(lab_runner *lr, sample *s);
void lab_kick_role(lab_runner *lr, axl_worker_role role);
void lab_finish_if_closed(lab_runner *lr);
void lab_close_links(lab_runner *lr);
static inline axl_worker_role lab_role_of(const sample *s, uint32_t k)
{
    return axl_task_role(&s->chain.task[k]);
}

/* reconcile.c */
void lab_try_resolve(lab_runner *lr);
void lab_on_status_reply(lab_runner *lr, role_link *rl, const axl_wire_status_reply *m);
int lab_reconcile(axl_runner *r, const axl_runner_job *jobs, int n);
int lab_restore(axl_runner *r, axl_rec_kind rec, const void *body, size_t len);

/* clearing.c */
/* Task k of canceled sample s finished (state DUE): true when its film is on a shared
 * station and the clearing move is now its next task (the caller records and dispatches it);
 * false when nothing more is to be done (the caller removes the sample). */
bool lab_clearing_start(lab_runner *lr, sample *s, uint32_t k);
/* The film of s, last at task k, is at a place not known: the shared stations of that task
 * are blocked on the timeline for good, with an ERROR each. The caller removes s. */
void lab_clearing_block(lab_runner *lr, sample *s, uint32_t k, const char *why);
/* The trial of s ended with task cur not started and its film on a shared station (left
 * there by task cur-1): true when that is taken care of here - a move already sent runs
 * (it is canceled like a running step and cleared after); a task not sent gives way to the
 * clearing move (task cur of the cut chain); a process step sent is canceled on its worker
 * and the station blocked. False: the film is in storage, the caller cancels as before. */
bool lab_clearing_on_cancel(lab_runner *lr, sample *s);
/* After the restart: a restored clearing sample (RECONCILING) against its worker's table. */
void lab_clearing_resolve(lab_runner *lr, sample *s, axl_task_state st);
/* labware.updated's "clearing", "ending" and "blocked" (pack: nonzero on error); unpack re-creates
 * them (restored clearing samples, blocks on the timeline): 0, AXL_ECORRUPT, AXL_ENOMEM. */
#define LAB_CLEARING_KEYS 3 /* the map entries lab_clearing_pack writes */
int lab_clearing_pack(const lab_runner *lr, msgpack_packer *pk);
int lab_clearing_unpack(lab_runner *lr, const msgpack_object *root);
int lab_clearing_restored(lab_runner *lr, uint32_t trial, uint32_t index, axl_station from,
                          int plate, double temp);
void lab_clearing_restore_blocks(lab_runner *lr);
/* The interlock: true when task cur of s moves a film onto the spin coater or the
 * characterization stage while another film is there, on its way there, or the station is
 * blocked. The timeline plans that never happens, but it is not re-planned when a step
 * runs late (or a film is cleared): the move waits (lab_dispatch) and goes out on a later
 * turn once the station is free. */
bool lab_station_taken(const lab_runner *lr, const sample *s);

/* placement.c */
void lab_place_cb(uv_timer_t *h);

/* line_procs.c: the simulated line's processes */
int lab_procs_start(lab_runner *lr, role_link *rl, const char *dir, axl_errbuf *eb);
void lab_procs_lost(role_link *rl);        /* a silent worker: killed, started again */
bool lab_procs_gone(const lab_runner *lr); /* no process of the line left */
void lab_procs_close(lab_runner *lr);      /* stop them (SIGTERM, SIGKILL after 2 s) */
void lab_procs_release(lab_runner *lr);    /* close the supervisors (the processes run on) */
void lab_procs_free(lab_runner *lr);

#endif
