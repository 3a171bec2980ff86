/*
 * experiment.h - what a campaign is: search space, objective, generation strategy,
 * scheduler options and runner, as read from the experiment file (engine/config.c).
 *
 * A point in parameter space is a double[n_params] in the order of the search space
 * (the model's convention, engine/model/axl_model.h): range parameters hold their
 * value, choice parameters the index of their value, fixed parameters their numeric
 * value (0 for a string).
 *
 * Ownership: an axl_experiment owns every string and array it points to; free it with
 * axl_experiment_free().
 */
#ifndef AXL_EXPERIMENT_H
#define AXL_EXPERIMENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/axl_error.h"
#include "proto/axl_proto.h"
#include "engine/model/axl_model.h"

/*
 * What the model does not need to know about a parameter: its name and, for choice
 * and fixed parameters, the values as the user wrote them. The numeric side
 * (bounds, log scale, choice count, ordering) lives in the model's axl_param.
 */
typedef struct axl_param_info {
    char *name;
    int n_values;      /* choice */
    axl_value *values; /* choice: NUM, INT, STR or BOOL; strings owned */
    axl_value fixed;   /* fixed; string owned */
} axl_param_info;

/* A linear constraint as written, for messages. */
typedef struct axl_constraint_text {
    char *text;
} axl_constraint_text;

/* Ax SchedulerOptions; the Ax defaults are the defaults. */
typedef struct axl_sched_options {
    int max_pending_trials;                       /* 10 */
    int total_trials;                             /* -1: until stopped */
    double tolerated_trial_failure_rate;          /* 0.5 */
    int min_failed_trials_for_failure_rate_check; /* 5 */
    double ttl_seconds_for_trials;                /* 0: none */
    double timeout_hours;                         /* < 0: none */
    bool run_trials_in_batches;                   /* false */
    bool wait_for_running_trials;                 /* true */
} axl_sched_options;

/*
 * Ax's ImprovementGlobalStoppingStrategy ("global_stopping", engine/global_stopping.c):
 * stop when the best objective improved by less than improvement_bar times the
 * interquartile range of the objectives over the last window completed trials.
 */
typedef struct axl_gss_options {
    bool enabled;
    int min_trials;                    /* required, as in Ax */
    int window;                        /* window_size: 5 */
    double improvement_bar;            /* 0.1 */
    bool inactive_when_pending_trials; /* true */
} axl_gss_options;

/* The step of a trial no generation step made (attached, status quo). */
#define AXL_STEP_MANUAL UINT32_MAX

typedef enum { AXL_RUNNER_FUNCTION, AXL_RUNNER_COMMAND, AXL_RUNNER_LAB } axl_runner_kind;

typedef struct axl_experiment {
    char *name;
    char *source; /* the experiment file as given (stored with the campaign) */
    /* 128 random bits as 32 lowercase hex digits, made when the experiment is created and
     * kept in its record (engine/campaign.c); "" for a store made before campaign ids.
     * Runners put it in the ids of what they send out (task ids of the lab runner). */
    char campaign_id[33];
    /* The search space: the model's numeric view plus names and values. */
    axl_space space;                    /* points into params / constraints below */
    axl_param *params;                  /* n_params */
    axl_param_info *info;               /* n_params */
    axl_linear_constraint *constraints; /* n_constraints; weights owned */
    char **constraint_text;             /* n_constraints */
    char *metric;                       /* objective metric name (the first objective) */
    bool minimize;
    /* several objectives, a scalarized objective, outcome constraints or tracking
     * metrics (engine/config_objectives.h); NULL for one plain objective. Owned. */
    struct axl_objectives *moo;
    bool strategy_auto; /* steps chosen like Ax's choose_generation_strategy */
    axl_gen_strategy strategy;
    axl_sched_options options;
    axl_runner_kind runner_kind;
    json_t *runner;     /* the "runner" object, parsed further by the runner; owned ref */
    json_t *lab;        /* the optional "lab" object, for the lab runner; owned ref */
    double *status_quo; /* NULL, or the baseline point (n_params) deployed first; owned */
    axl_gss_options global_stopping;
    /* The "tls" section (engine/config_tls.h): PEM paths, absolute once the file was read
     * from disk; NULL when absent. Owned. */
    char *tls_cert, *tls_key, *tls_ca;
} axl_experiment;

/*
 * Parses an experiment from JSON text. On error returns AXL_ECONFIG and writes
 * "json.path: reason" into eb; nothing needs freeing. source is copied.
 */
int axl_experiment_parse(const char *source, size_t len, axl_experiment **out, axl_errbuf *eb);

/* Reads and parses a file; errors name the file or the JSON path. */
int axl_experiment_load(const char *path, axl_experiment **out, axl_errbuf *eb);

void axl_experiment_free(axl_experiment *e);

/*
 * The optional parts of the experiment file that config_ops.c reads: "status_quo" and
 * "global_stopping" (root is the whole file; called once the search space is parsed).
 */
int axl_config_ops_parse(json_t *root, axl_experiment *e, axl_errbuf *eb);

/*
 * A point from named values (params borrowed, n of them): every range and choice
 * parameter must be given, fixed ones may be (with their value), names must be known,
 * ranges inside their bounds (integers for int), constraints satisfied. x: n_params.
 * Errors name `where` and the parameter: AXL_EINVAL, AXL_ERANGE, AXL_EMISSING.
 */
int axl_experiment_point(const axl_experiment *e, const axl_param_value *params, size_t n,
                         const char *where, double *x, axl_errbuf *eb);

/* Index of the parameter called name, or -1. */
int axl_experiment_param_index(const axl_experiment *e, const char *name);

/* The value of parameter i at point x (choice index resolved; strings borrowed). */
axl_value axl_experiment_value_at(const axl_experiment *e, size_t i, double x);

/*
 * Converts a named value back to a coordinate (for trials read from the store).
 * Returns 0 or AXL_EINVAL when the value is not one the parameter can take.
 */
int axl_experiment_coord_of(const axl_experiment *e, size_t i, const axl_value *v, double *x);

/* Writes the value of parameter p at x as text ("12.5", "red"). */
void axl_experiment_format_value(const axl_experiment *e, size_t i, double x, char *buf,
                                 size_t size);

#endif
