/*
 * campaign.h - the loop thread's state of one campaign (internal to engine/).
 *
 * Who changes what:
 *   trial_state.c  every trial status change (the only place), each one an event
 *   journal.c      events → one LMDB transaction per loop turn → then published
 *   scheduler.c    decisions: capacity, limits, stop conditions, timers, the turn
 *   generation.c   the model, inline for Sobol, on the thread pool for the GP
 *   campaign.c     creation, resume, reconcile, shutdown
 */
#ifndef AXL_CAMPAIGN_H
#define AXL_CAMPAIGN_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "engine/axl_engine.h"
#include "engine/best.h"
#include "engine/model/axl_moo.h"
#include "engine/stream.h"
#include "hw/worker/axl_net.h"
#include "proto/axl_util.h"

typedef struct axl_trial {
    uint32_t index;
    axl_trial_status status;
    uint32_t step;
    const char *gen_method; /* static string */
    double created, updated, deployed;
    uint32_t deploy_count;
    char *job_id;
    char *reason;
    double *x; /* n_params */
    uint32_t n_metrics;
    axl_metric_value *metrics; /* names owned */
    bool has_objective;
    double y, sem;             /* objective mean and SEM (NaN = unknown) */
    bool by_this_run;          /* created by this scheduler run (failure rate) */
    struct axl_ttl_timer *ttl; /* armed while RUNNING with a TTL */
} axl_trial;

/* Events of one loop turn, committed together, then published. */
typedef struct axl_journal {
    axl_store *store;
    axl_store_batch *batch;
    axl_stream *stream; /* NULL: no live stream */
    msgpack_sbuffer scratch;
    uint64_t events, commits;
} axl_journal;

struct axl_campaign {
    uv_loop_t *loop;
    axl_experiment *exp;
    axl_store *store;
    axl_journal journal;
    /* The experiment's "tls" section made the process's TLS defaults (engine/config_tls.h);
     * restored from net_saved when the campaign is freed. */
    bool tls_applied;
    axl_net_opts net_saved;
    axl_campaign_options opt;
    char store_dir[512];

    axl_runner runner;
    bool runner_open;
    axl_model_state gen_state;
    axl_moo_state moo_state; /* several outcomes: per-outcome warm starts (memory only) */

    axl_trial *trials;
    uint32_t n_trials, cap_trials;
    uint32_t first_candidate;                  /* no CANDIDATE trial has a lower index */
    uint32_t n_status[AXL_TRIAL_STATUS_COUNT]; /* trials by status, kept by trial_state.c */
    /* the same by generation step (steps >= AXL_GS_MAX_STEPS not counted), and every
     * trial's point hashed for de-duplication (generation.c), kept by trial_state.c */
    uint32_t n_step_status[AXL_GS_MAX_STEPS][AXL_TRIAL_STATUS_COUNT];
    axl_point_index *points; /* NULL until the first trial, or when out of memory */
    bool points_failed;      /* out of memory once: generation.c scans instead */

    int max_trials;        /* total trials of the experiment; -1 none */
    uint32_t ran_this_run; /* deployed by this run */
    uint32_t bad_this_run; /* of those, FAILED or ABANDONED */
    bool resumed;

    /* Work for after the commit of this turn (persist, publish, then act). */
    uint32_t *to_deploy;
    uint32_t n_to_deploy, cap_to_deploy;

    /* Log lines aggregated per turn, as Ax prints them. */
    uint32_t *done_completed, *done_failed;
    uint32_t n_done_completed, n_done_failed, cap_done_completed, cap_done_failed;

    bool generating; /* a model generation is on the thread pool */
    int gen_error;   /* a failed generation (generation.c); decide() turns it into a stop */
    uv_work_t gen_work;
    int blocked_logged; /* verdict logged for the current blocked stretch, or -1 */
    bool done_submitting_due, done_submitting_logged;

    bool started, stopping, stop_committed, closed;
    axl_exit_status exit_status;
    char reason[256];
    int pending_closes;

    uv_check_t turn; /* the end of every loop turn: decide, commit, act */
    uv_idle_t wake;  /* keeps poll from sleeping while work is queued */
    bool wake_active;
    uv_timer_t timeout;
    bool timeout_armed;
    uv_timer_t settle; /* fires once after the runner's reconcile reports (resume) */
    bool settled;      /* those reports are in: wait_for_running_trials false may stop */
    uv_signal_t sigint, sigterm;

    struct axl_store_check *check; /* store_check.c; NULL when the check is off */

    bool has_best;
    uint32_t best_trial;
    double best_value;
    bool progress_shown;

    /* Humans in the loop (control.c) and global stopping (global_stopping.c). */
    struct axl_control *control; /* the control socket service, or NULL */
    bool offline;                /* a change to a stopped store: no runner, no stream */
    bool paused;                 /* no new deploys; running trials go on */
    bool stop_when_idle;         /* `axle stop --wait`: stop once nothing runs */
    char stop_reason[256];
    axl_best model_best;           /* computed when the stop is recorded */
    struct axl_feedback *feedback; /* progress line and waiting messages */
    bool gss_checked;
    uint64_t gss_key; /* completed and pending counts at the last check */
};

/* journal.c */
int axl_journal_init(axl_journal *j, axl_store *store, axl_stream *stream);
void axl_journal_free(axl_journal *j);
/* Adds an event with a raw msgpack body (NULL = empty map). */
int axl_journal_add(axl_journal *j, const char *type, const char *experiment, int64_t trial,
                    axl_rec_kind rec, const void *body, size_t body_len, axl_errbuf *eb);
size_t axl_journal_pending(const axl_journal *j);
/* Commits the turn's events (durable), then publishes them. */
int axl_journal_commit(axl_journal *j, axl_errbuf *eb);

/* A trial's TTL timer; it names its trial by index since the trial array moves. */
typedef struct axl_ttl_timer {
    uv_timer_t timer;
    axl_campaign *campaign;
    uint32_t index;
} axl_ttl_timer;

/* trial_state.c */
/* Creates a CANDIDATE trial at x (copied) from step/method; *out its index. */
int axl_trial_create(axl_campaign *c, const double *x, uint32_t step, const char *method,
                     uint32_t *out);
/* CANDIDATE → STAGED, queued for deploy after the commit. */
int axl_trial_stage(axl_campaign *c, uint32_t index);
int axl_trial_mark_running(axl_campaign *c, uint32_t index, const char *job_id);
int axl_trial_complete(axl_campaign *c, uint32_t index, const axl_metric_value *m, uint32_t n);
int axl_trial_fail(axl_campaign *c, uint32_t index, axl_trial_status to, const char *reason);
/* Loads a stored record into memory (resume); the record is not re-logged. */
int axl_trial_adopt(axl_campaign *c, const axl_trial_rec *rec);
/* Records the trial's current state as an event (rec = trial). */
int axl_trial_log(axl_campaign *c, axl_trial *t, const char *type);
void axl_trial_free_all(axl_campaign *c);
/* Counts over trials. */
uint32_t axl_trials_count(const axl_campaign *c, unsigned status_mask);
#define AXL_MASK(st) (1u << (unsigned)(st))
#define AXL_PENDING_MASK                                                                           \
    (AXL_MASK(AXL_TRIAL_CANDIDATE) | AXL_MASK(AXL_TRIAL_STAGED) | AXL_MASK(AXL_TRIAL_RUNNING))

/* scheduler.c */
void axl_sched_wake(axl_campaign *c);
void axl_sched_on_report(axl_runner *r, const axl_runner_report *rep);
void axl_sched_on_runner_event(axl_runner *r, const char *type, int64_t trial, axl_rec_kind rec,
                               const void *body, size_t body_len);
void axl_sched_turn(uv_check_t *h);
/* The TTL timer of a RUNNING trial; the scheduler arms and disarms it around the
 * transitions it causes (and campaign.c for trials resumed RUNNING). */
void axl_sched_arm_ttl(axl_campaign *c, axl_trial *t);
void axl_sched_disarm_ttl(axl_trial *t);
void axl_sched_request_stop(axl_campaign *c, axl_exit_status why, const char *reason);

/* generation.c */
/* Starts a generation of up to k candidates; 0 when started or done inline,
 * AXL_EAGAIN when the strategy says wait (logged), AXL_EEXHAUSTED when it is over. */
int axl_gen_start(axl_campaign *c, size_t k);
/* Encodes the generator record (body of generation.finished). */
int axl_gen_record(const axl_model_state *st, const char *method, double fit_ms, double acq_ms,
                   double acq_value, msgpack_sbuffer *out);
int axl_gen_record_decode(const void *data, size_t len, axl_model_state *st);
void axl_gen_cancel(axl_campaign *c);

/* store_check.c: the debug check that memory equals the fold of the store's log. */
/* Turns the check on when asked (AXL_CHECK_STORE=1, or a build without NDEBUG). */
int axl_store_check_open(axl_campaign *c);
/* Folds the events committed since the last call and compares; aborts on a difference. */
void axl_store_check_turn(axl_campaign *c);
void axl_store_check_free(axl_campaign *c);

/* control.c */
typedef struct axl_control axl_control;
/* What a change asks of the runner once it is committed (persist, then act). */
typedef struct axl_control_after {
    bool cancel;
    uint32_t trial;
    char reason[256];
} axl_control_after;
int axl_control_default_addr(const char *store_dir, char *out, size_t size);
/* Serves the control socket at addr for c until axl_control_close(). */
int axl_control_open(axl_campaign *c, const char *addr, axl_errbuf *eb);
void axl_control_close(axl_campaign *c);
/*
 * Applies one control request (msgpack, borrowed) to c: validated in full, then the
 * change goes into this turn's journal. reply receives the ok reply (caller-owned
 * buffer); on error nothing changed and eb says why. after (may be NULL) receives
 * what to tell the runner once the change is committed.
 */
int axl_control_apply(axl_campaign *c, const void *req, size_t len, msgpack_sbuffer *reply,
                      axl_control_after *after, axl_errbuf *eb);
int axl_control_error_reply(msgpack_sbuffer *sb, int code, const char *msg);
/* After a turn's commit (commit_rv, why on failure): replies, then acts. */
void axl_control_committed(axl_campaign *c, int commit_rv, const char *why);
/* What one event of experiment name decides about the paused state (1 paused, 0 not, -1
 * nothing); axl_control_load_paused (axl_engine.h) folds the log with it backwards,
 * store_check.c forwards. */
int axl_control_paused_fold(const axl_event *ev, const char *name, size_t name_len);
/* decide(): true when no trial may be deployed or generated (paused, stopping --wait). */
bool axl_control_hold(axl_campaign *c);
/* Frees a campaign that was created but never started (offline changes, start errors). */
void axl_campaign_close_unstarted(uv_loop_t *loop, axl_campaign *c);

/* best.c: the model's and the raw best of the campaign's completed trials (no points). */
int axl_best_of_campaign(const axl_campaign *c, axl_best *out, axl_errbuf *eb);

/* feedback.c: the progress line, or Ax's waiting messages in log mode. */
typedef struct axl_feedback axl_feedback;
int axl_feedback_open(axl_campaign *c);
/* After every turn that changed something (final: the stop is committed). */
void axl_feedback_turn(axl_campaign *c, bool final);
void axl_feedback_close(axl_campaign *c);

/* global_stopping.c: true when it requested the stop (Ax's improvement strategy). */
bool axl_gss_check(axl_campaign *c);

/* Formats a list of trial indices the way Ax logs them: "[3]", "6 - 8", "[1, 4]". */
void axl_format_trial_list(const uint32_t *idx, uint32_t n, char *buf, size_t size);

#endif
