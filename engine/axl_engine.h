/*
 * axl_engine.h - run, resume and watch a campaign: the Ax Scheduler as one libuv process.
 *
 * A campaign is an experiment (engine/experiment.h) bound to a store (storage/) and a
 * runner (engine/runner.h), driven by the loop thread. Everything that changes state
 * happens on that thread; model fits run on libuv's thread pool on a snapshot.
 */
#ifndef AXL_ENGINE_H
#define AXL_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "engine/experiment.h"
#include "engine/runner.h"
#include "proto/axl_error.h"
#include "storage/axl_store.h"

/* Why a campaign stopped; the string is the experiment.stopped event's exit_status. */
#define AXL_EXIT_MAP(XX)                                                                           \
    XX(COMPLETED, "completed", 0)                                                                  \
    XX(EXHAUSTED, "exhausted", 0)                                                                  \
    XX(FAILURE_RATE, "failure_rate_exceeded", 3)                                                   \
    XX(TIMEOUT, "timeout", 4)                                                                      \
    XX(INTERRUPTED, "interrupted", 5)                                                              \
    XX(ERROR, "error", 1)                                                                          \
    XX(STOPPED, "stopped", 0)                                                                      \
    XX(GLOBAL_STOPPING, "global_stopping", 0)

typedef enum {
#define AXL_EXIT_ENUM(name, str, code) AXL_EXIT_##name,
    AXL_EXIT_MAP(AXL_EXIT_ENUM)
#undef AXL_EXIT_ENUM
} axl_exit_status;

const char *axl_exit_status_name(axl_exit_status s);
/* The process exit code `axle run` uses for s. */
int axl_exit_status_code(axl_exit_status s);

typedef struct axl_campaign axl_campaign;

/* Optional observers, called on the loop thread (benchmarks, tests, the CLI). */
typedef struct axl_campaign_hooks {
    void *data;
    /* A trial was handed to the runner (after its STAGED state was committed). */
    void (*on_deploy)(void *data, uint32_t trial);
    /* A runner report arrived (before it is committed). */
    void (*on_report)(void *data, uint32_t trial, axl_trial_status status);
} axl_campaign_hooks;

typedef struct axl_campaign_options {
    int max_trials;           /* total trials in the experiment; -1: scheduler.total_trials */
    double timeout_hours;     /* -1: scheduler.timeout_hours */
    bool stream;              /* publish events and serve replay */
    const char *pub_addr;     /* NULL: ipc://STORE/events.pub */
    const char *replay_addr;  /* NULL: ipc://STORE/replay.rep */
    const char *group;        /* store files 0660 for this group; NULL: 0600 (storage) */
    bool progress;            /* one live progress line on stderr instead of log lines */
    bool handle_signals;      /* SIGINT/SIGTERM stop the campaign cleanly */
    bool control;             /* serve the control socket (engine/control.c) */
    const char *control_addr; /* NULL: ipc://STORE/control.rep */
    bool offline;             /* no runner, no stream: a change to a stopped store */
    bool stop_workers;        /* a stop also stops the processes the runner spawned (lab);
                                 default: they run on, detached, for resume to adopt */
    axl_campaign_hooks hooks;
} axl_campaign_options;

void axl_campaign_options_default(axl_campaign_options *o);

typedef struct axl_campaign_result {
    axl_exit_status exit_status;
    char reason[256];
    uint32_t n_trials, n_completed, n_failed, n_abandoned, n_running;
    bool has_best;
    uint32_t best_trial;
    double best_value;
    char metric[AXL_PROTO_MAX_NAME + 1];
    char best_params[1024]; /* "x1=3.14159, x2=2.275" */
    bool has_model_best;    /* the model's best: GP posterior mean at an observed point */
    uint32_t model_best_trial;
    double model_best_mean, model_best_sd, model_best_observed;
    char model_best_params[1024];
    uint64_t events, commits;
    uint32_t deploy_calls;
} axl_campaign_result;

/*
 * Creates a new campaign on loop for experiment e in store (borrowed, writer handle,
 * must outlive the campaign). Ownership of e passes to the call: to the campaign on
 * success, freed on error. AXL_EEXIST when the store already holds an experiment of
 * that name (axl_campaign_resume continues it; nothing is overwritten). *out owns the
 * campaign. Callbacks start only with axl_campaign_start().
 */
int axl_campaign_new(uv_loop_t *loop, axl_experiment *e, axl_store *store,
                     const axl_campaign_options *opt, axl_campaign **out, axl_errbuf *eb);

/*
 * Loads the experiment called name from the store (its stored config) and creates the
 * campaign that resumes it. AXL_ENOENT when the store has no such experiment.
 */
int axl_campaign_resume(uv_loop_t *loop, const char *name, axl_store *store,
                        const axl_campaign_options *opt, axl_campaign **out, axl_errbuf *eb);

/* Starts scheduling (records experiment.started, reconciles, deploys, generates). */
int axl_campaign_start(axl_campaign *c, axl_errbuf *eb);

void axl_campaign_get_result(const axl_campaign *c, axl_campaign_result *out);

/* Frees a campaign that is done (or was never started). */
void axl_campaign_free(axl_campaign *c);

/*
 * Reads and checks the whole experiment file - parameters, runner section, its size as
 * an event - creating nothing, so that `axle run` makes no store for a bad file.
 * AXL_ECONFIG (or AXL_ENOENT) with the detail in eb.
 */
int axl_engine_check_file(const char *experiment_path, axl_errbuf *eb);

/*
 * The whole `axle run`/`axle resume` in one call: opens the store, runs the loop until
 * the campaign stops, closes everything. experiment_path XOR resume_name.
 */
int axl_engine_run(const char *experiment_path, const char *resume_name, const char *store_dir,
                   bool nosync, const axl_campaign_options *opt, axl_campaign_result *result,
                   axl_errbuf *eb);

/* The experiment called name as stored (its file, parsed again). *out caller-owned. */
int axl_experiment_from_store(axl_store *s, const char *name, axl_experiment **out, axl_errbuf *eb);

/*
 * Whether experiment name is paused, folded from the log of s up to last_seq:
 * experiment.paused sets it, experiment.unpaused and experiment.created clear it, and
 * experiment.started carries the state its run began in ("paused"), so the fold reads the
 * log backwards from last_seq only as far as the last run's start. A campaign paused on a
 * stopped store, or paused and then killed, is resumed paused.
 */
int axl_control_load_paused(axl_store *s, const char *name, uint64_t last_seq, bool *paused,
                            axl_errbuf *eb);

/*
 * One control request (a msgpack map, proto/README.md §12; borrowed) to the campaign on
 * store_dir: through its control socket (addr, NULL = ipc://STORE/control.rep) when
 * an engine runs it, else applied to the stopped store under the writer lock by the
 * same code. *running says which. reply (caller-initialised) receives the reply map,
 * "ok" or "error". Returns 0 once a reply is in reply; otherwise no reply could be had
 * (eb says why; through the socket the change may then have been made or not).
 */
int axl_control_call(const char *store_dir, const char *addr, const void *req, size_t len,
                     int timeout_ms, msgpack_sbuffer *reply, bool *running, axl_errbuf *eb);

#endif
