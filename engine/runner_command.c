/*
 * runner_command.c - one process per trial (the seed's "subprocess as external
 * system"): argv from a template, metrics as JSON on the command's stdout.
 *
 * "runner": {"type": "command", "argv": ["python3", "eval.py", "--x1", "{x1}"],
 *            "timeout_s": 600, "capacity": 4, "cwd": "."}
 * Placeholders: {<parameter>}, {trial}, {experiment}; "{{" is a literal "{".
 * The last line of stdout that is a JSON object holds the metrics:
 *   {"branin": 1.23} or {"branin": [1.23, 0.1]} or {"branin": {"mean": 1.23, "sem": 0.1}}
 * Non-zero exit, death by signal, no JSON, a missing objective metric or the timeout
 * make the trial FAILED with the reason recorded.
 *
 * Detach and re-attach. Each trial runs in its own session, with stdout and stderr in
 * files of its run folder (command_run.h), and outlives the engine: a stop, a crash or
 * `wait_for_running_trials: false` leaves it running, and the next resume collects it.
 * The spawn/commit window is closed by the run folder, persist then act:
 *   1. the trial is STAGED in the store (the intent; its run folder follows from the
 *      store, the experiment, the trial and the attempt number);
 *   2. the wrapper is spawned (setsid) and blocks on a pipe;
 *   3. the engine writes the pid file (pid, /proc starttime, start, deadline) durably;
 *   4. the engine writes "go": only now may the command run;
 *   5. the RUNNING report carries pid, start and deadline into the store (job id).
 * A crash before 4 leaves a wrapper that reads EOF, writes "norun" and never runs the
 * command; resume then starts a new attempt. A crash after 4 leaves a pid file: resume
 * watches that process again (a pidfd on uv_poll; where pidfds are missing, a uv_fs_event
 * on the run folder waits for the exit file) with its deadline counting from its start,
 * or, when it has finished, reads its exit file and output: COMPLETED or FAILED, never
 * ABANDONED. The exit status of a process that is not the engine's child is the one the
 * wrapper wrote. Nothing runs twice: a new attempt is made only when the last one
 * provably never ran its command.
 *
 * The timeout kills the whole process group and decides at once (stdout is a file, so a
 * grandchild holding it open delays nothing). cancel() kills (TTL, explicit requests);
 * close() detaches.
 */
#include "engine/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/command_run.h"
#include "proto/axl_log.h"
#include "proto/axl_util.h"
#include "proto/json/axl_json.h"

#define SRC "CommandRunner"
#define MAX_ARGS 256
#define MAX_STDOUT (1u << 20)
#define MAX_STDERR_TAIL 512

typedef struct cmd_job {
    struct cmd_runner *owner;
    uint32_t trial;
    unsigned attempt;
    char dir[AXL_RUN_PATH_MAX];
    double *x;       /* the trial's point (a new attempt may be needed) */
    axl_run_pid pid; /* pid.pid 0: no process (finished before it was looked at) */
    bool child;      /* spawned by this engine: proc is open */
    bool has_poll;   /* adopted, watched through a pidfd */
    bool has_fsev;   /* adopted without pidfds: watching the folder for the exit file */
    int pidfd;       /* -1 when none */
    uv_process_t proc;
    uv_poll_t poll;
    uv_fs_event_t fsev;
    uv_timer_t deadline;
    bool running_reported;
    bool verdict_due; /* ended before it was looked at: report on the next turn */
    bool decided;     /* its end was reported, or it was cancelled or detached */
    bool exited;      /* the process is gone */
    bool linked;
    int term_signal;  /* child only */
    int open_handles; /* freed when the last one is closed */
    struct cmd_job *next, *prev;
} cmd_job;

typedef struct cmd_runner {
    uv_loop_t *loop;
    const axl_experiment *exp;
    char **argv_template;
    int argc;
    char *cwd;
    char base[PATH_MAX]; /* the store directory, absolute */
    double timeout_s;
    int capacity;
    cmd_job *jobs;
    int n_jobs;        /* allocated, until their handles are closed */
    int n_active;      /* undecided: what capacity counts */
    uv_timer_t notify; /* delivers reports from deploy and reconcile on the next turn */
    bool notify_open;
    struct cmd_lost {
        uint32_t trial;
        char reason[256];
    } * lost; /* reconciled trials that could not be restarted: FAILED on the next turn */
    int n_lost;
    bool closing;
    void (*close_cb)(axl_runner *r);
    axl_runner *runner;
} cmd_runner;

static void runner_free(cmd_runner *c)
{
    free(c->lost);
    for (int i = 0; i < c->argc; i++)
        free(c->argv_template[i]);
    free(c->argv_template);
    free(c->cwd);
    free(c);
}

/* Checks that every {name} in s is a parameter, trial or experiment. */
static int check_template(const axl_experiment *e, const char *s, int i, axl_errbuf *eb)
{
    for (const char *p = s; *p; p++) {
        if (p[0] == '{' && p[1] == '{') {
            p++;
            continue;
        }
        if (*p != '{')
            continue;
        const char *end = strchr(p, '}');
        if (end == NULL)
            return axl_fail(eb, AXL_ECONFIG, "runner.argv[%d]: unclosed '{' in '%s'", i, s);
        char name[AXL_PROTO_MAX_NAME + 1];
        size_t n = (size_t)(end - p - 1);
        if (n > AXL_PROTO_MAX_NAME)
            return axl_fail(eb, AXL_ECONFIG, "runner.argv[%d]: placeholder too long", i);
        memcpy(name, p + 1, n);
        name[n] = '\0';
        if (strcmp(name, "trial") != 0 && strcmp(name, "experiment") != 0 &&
            axl_experiment_param_index(e, name) < 0)
            return axl_fail(eb, AXL_ECONFIG,
                            "runner.argv[%d]: {%s} is not a parameter, {trial} or {experiment}", i,
                            name);
        p = end;
    }
    return 0;
}

static int cmd_init(axl_runner *r, uv_loop_t *loop, const axl_experiment *e, axl_errbuf *eb)
{
    json_t *j = e->runner;
    static const char *const keys[] = {"type", "argv", "timeout_s", "capacity", "cwd", NULL};
    int rv = axl_json_check_keys(j, "runner", keys, AXL_ECONFIG, eb);
    if (rv != 0)
        return rv;
    json_t *argv = json_object_get(j, "argv");
    if (!json_is_array(argv) || json_array_size(argv) == 0 || json_array_size(argv) > MAX_ARGS)
        return axl_fail(eb, AXL_ECONFIG, "runner.argv: required, an array of 1 to %d strings",
                        MAX_ARGS);
    cmd_runner *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->argv_template = calloc(json_array_size(argv), sizeof(char *))) == NULL) {
        free(c);
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < json_array_size(argv); i++) {
        const char *s = json_string_value(json_array_get(argv, i));
        if (s == NULL) {
            rv = axl_fail(eb, AXL_ECONFIG, "runner.argv[%zu]: must be a string", i);
            goto fail;
        }
        if ((rv = check_template(e, s, (int)i, eb)) != 0)
            goto fail;
        if ((c->argv_template[i] = strdup(s)) == NULL) {
            rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
            goto fail;
        }
        c->argc = (int)i + 1;
    }
    json_t *t = json_object_get(j, "timeout_s");
    json_t *cap = json_object_get(j, "capacity");
    json_t *cwd = json_object_get(j, "cwd");
    if (t != NULL && !json_is_null(t) && (!json_is_number(t) || !(json_number_value(t) > 0))) {
        rv = axl_fail(eb, AXL_ECONFIG, "runner.timeout_s: must be a number above 0");
        goto fail;
    }
    if (cap != NULL && (!json_is_integer(cap) || json_integer_value(cap) < -1 ||
                        json_integer_value(cap) == 0 || json_integer_value(cap) > 100000)) {
        rv = axl_fail(eb, AXL_ECONFIG, "runner.capacity: must be 1 to 100000, or -1");
        goto fail;
    }
    if (cwd != NULL && !json_is_string(cwd)) {
        rv = axl_fail(eb, AXL_ECONFIG, "runner.cwd: must be a string");
        goto fail;
    }
    c->timeout_s = t != NULL && json_is_number(t) ? json_number_value(t) : 0;
    c->capacity = cap != NULL ? (int)json_integer_value(cap) : -1;
    if (cwd != NULL && (c->cwd = strdup(json_string_value(cwd))) == NULL) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
        goto fail;
    }
    /* Absolute: the wrapper runs in cwd, and resume may start elsewhere. */
    if (r->store_dir == NULL || realpath(r->store_dir, c->base) == NULL) {
        rv = axl_fail(eb, AXL_EIO, "command runner: the store directory '%s' cannot be resolved",
                      r->store_dir != NULL ? r->store_dir : "(none)");
        goto fail;
    }
    c->loop = loop;
    c->exp = e;
    c->runner = r;
    uv_timer_init(loop, &c->notify);
    c->notify.data = c;
    c->notify_open = true;
    r->impl = c;
    return 0;
fail:
    runner_free(c);
    return rv;
}

static int cmd_capacity(axl_runner *r)
{
    cmd_runner *c = r->impl;
    return c->capacity < 0 ? -1 : (c->capacity > c->n_active ? c->capacity - c->n_active : 0);
}

/* Expands one argv template for a trial; the result is malloc'd. */
static char *expand(const cmd_runner *c, const char *tpl, const axl_runner_job *job)
{
    size_t cap = strlen(tpl) + 64, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (const char *p = tpl; *p;) {
        char piece[512];
        const char *add = piece;
        size_t n;
        if (p[0] == '{' && p[1] == '{') {
            add = "{";
            n = 1;
            p += 2;
        } else if (*p == '{') {
            const char *end = strchr(p, '}');
            char name[AXL_PROTO_MAX_NAME + 1];
            size_t k = (size_t)(end - p - 1);
            memcpy(name, p + 1, k);
            name[k] = '\0';
            if (strcmp(name, "trial") == 0)
                snprintf(piece, sizeof(piece), "%u", job->trial);
            else if (strcmp(name, "experiment") == 0)
                snprintf(piece, sizeof(piece), "%s", c->exp->name);
            else {
                int i = axl_experiment_param_index(c->exp, name);
                axl_value v = axl_experiment_value_at(c->exp, (size_t)i, job->x[i]);
                if (v.kind == AXL_VALUE_NUM)
                    snprintf(piece, sizeof(piece), "%.17g", v.num); /* exact round trip */
                else
                    axl_experiment_format_value(c->exp, (size_t)i, job->x[i], piece, sizeof(piece));
            }
            n = strlen(piece);
            p = end + 1;
        } else {
            piece[0] = *p++;
            n = 1;
        }
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *grown = realloc(out, cap);
            if (grown == NULL) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, add, n);
        len += n;
    }
    out[len] = '\0';
    return out;
}

/* Parses {"metric": number | [mean, sem] | {"mean", "sem"}} from the last JSON line. */
static int parse_metrics(char *buf, size_t len, axl_metric_value *m, int max, int *n, char *why,
                         size_t why_len, json_t **keep)
{
    *n = 0;
    if (buf == NULL) {
        snprintf(why, why_len, "no output on stdout");
        return -1;
    }
    json_t *obj = NULL;
    json_error_t jerr;
    bool bad_line = false, bad_nan = false; /* the last line starting with '{' */
    /* Walk lines from the end: the last JSON object wins, logs before it are allowed. */
    size_t end = len;
    while (end > 0 && obj == NULL) {
        size_t start = end;
        while (start > 0 && buf[start - 1] != '\n')
            start--;
        size_t s = start;
        while (s < end && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r'))
            s++;
        if (s < end && buf[s] == '{') {
            obj = json_loadb(buf + s, end - s, 0, &jerr);
            if (obj == NULL && !bad_line) {
                bad_line = true;
                char line[256];
                snprintf(line, sizeof(line), "%.*s", (int)(end - s), buf + s);
                bad_nan = strstr(line, "NaN") != NULL || strstr(line, "Infinity") != NULL;
                if (bad_nan)
                    snprintf(why, why_len,
                             "the metrics line on stdout is not JSON: NaN is not valid JSON; "
                             "leave out a metric that has no value (or exit non-zero)");
                else
                    snprintf(why, why_len, "the metrics line on stdout is not JSON: %s", jerr.text);
            }
        }
        end = start > 0 ? start - 1 : 0;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        if (!bad_line)
            snprintf(why, why_len, "no JSON object with metrics on stdout");
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        double mean = NAN, sem = NAN;
        if (json_is_number(val)) {
            mean = json_number_value(val);
        } else if (json_is_array(val) && json_array_size(val) == 2 &&
                   json_is_number(json_array_get(val, 0))) {
            mean = json_number_value(json_array_get(val, 0));
            if (json_is_number(json_array_get(val, 1)))
                sem = json_number_value(json_array_get(val, 1));
        } else if (json_is_object(val) && json_is_number(json_object_get(val, "mean"))) {
            mean = json_number_value(json_object_get(val, "mean"));
            if (json_is_number(json_object_get(val, "sem")))
                sem = json_number_value(json_object_get(val, "sem"));
        } else {
            continue; /* other fields (notes, paths) are not metrics */
        }
        if (!isfinite(mean) || strlen(key) == 0 || strlen(key) > AXL_PROTO_MAX_NAME)
            continue;
        if (sem < 0) {
            snprintf(why, why_len, "sem of '%.64s' is negative (%g)", key, sem);
            json_decref(obj);
            *n = 0;
            return -1;
        }
        if (*n < max) {
            m[*n].name = key;
            m[*n].mean = mean;
            m[*n].sem = isfinite(sem) && sem >= 0 ? sem : NAN;
            (*n)++;
        }
    }
    *keep = obj;
    return 0;
}

/* ---- a job's life ------------------------------------------------------------------- */

static void maybe_finish_close(cmd_runner *c)
{
    if (!c->closing || c->n_jobs > 0 || c->notify_open)
        return;
    axl_runner *r = c->runner;
    void (*cb)(axl_runner *) = c->close_cb;
    runner_free(c);
    if (cb != NULL)
        cb(r);
}

static void notify_closed(uv_handle_t *h)
{
    cmd_runner *c = h->data;
    c->notify_open = false;
    maybe_finish_close(c);
}

static void job_handle_closed(uv_handle_t *h)
{
    cmd_job *job = h->data;
    cmd_runner *c = job->owner;
    if (--job->open_handles > 0)
        return;
    if (job->pidfd >= 0)
        close(job->pidfd);
    free(job->x);
    free(job);
    c->n_jobs--;
    maybe_finish_close(c);
}

/* A new job for trial at x (copied), linked, with its deadline timer. NULL: no memory. */
static cmd_job *job_new(cmd_runner *c, uint32_t trial, const double *x)
{
    size_t np = c->exp->space.n_params;
    cmd_job *job = calloc(1, sizeof(*job));
    if (job == NULL || (job->x = malloc((np ? np : 1) * sizeof(double))) == NULL) {
        free(job);
        return NULL;
    }
    memcpy(job->x, x, np * sizeof(double));
    job->owner = c;
    job->trial = trial;
    job->pidfd = -1;
    uv_timer_init(c->loop, &job->deadline);
    job->deadline.data = job;
    job->open_handles = 1;
    job->next = c->jobs;
    if (c->jobs != NULL)
        c->jobs->prev = job;
    c->jobs = job;
    job->linked = true;
    c->n_jobs++;
    c->n_active++;
    return job;
}

/* No report follows for this job any more (reported, cancelled or detached). */
static void job_decide(cmd_job *job)
{
    if (!job->decided) {
        job->decided = true;
        job->owner->n_active--;
    }
}

/* Unlinks the job and closes its handles; a child process is left running (detach). */
static void job_release(cmd_job *job)
{
    cmd_runner *c = job->owner;
    job_decide(job);
    if (job->linked) {
        if (job->prev != NULL)
            job->prev->next = job->next;
        else
            c->jobs = job->next;
        if (job->next != NULL)
            job->next->prev = job->prev;
        job->next = job->prev = NULL;
        job->linked = false;
    }
    uv_handle_t *hs[] = {(uv_handle_t *)&job->deadline,
                         job->child ? (uv_handle_t *)&job->proc : NULL,
                         job->has_poll ? (uv_handle_t *)&job->poll : NULL,
                         job->has_fsev ? (uv_handle_t *)&job->fsev : NULL};
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
        if (hs[i] != NULL && !uv_is_closing(hs[i]))
            uv_close(hs[i], job_handle_closed);
}

/* Kills the job's whole process group (the wrapper is its session leader). */
static void job_kill(cmd_job *job)
{
    if (job->pid.pid > 1)
        kill(-job->pid.pid, SIGKILL);
}

static void job_id_of(const cmd_job *job, char *buf, size_t size)
{
    if (job->pid.deadline > 0)
        snprintf(buf, size, "pid:%d start:%.3f deadline:%.3f attempt:%u", job->pid.pid,
                 job->pid.start, job->pid.deadline, job->attempt);
    else
        snprintf(buf, size, "pid:%d start:%.3f attempt:%u", job->pid.pid, job->pid.start,
                 job->attempt);
}

/* Reports the trial's end from its run folder (exit file, stdout, stderr), then releases. */
static void job_verdict(cmd_job *job)
{
    cmd_runner *c = job->owner;
    axl_runner *r = c->runner;
    char tail[MAX_STDERR_TAIL + 1];
    char reason[MAX_STDERR_TAIL + 160];
    char job_id[160];
    axl_metric_value metrics[AXL_PROTO_MAX_METRICS];
    json_t *keep = NULL;
    char *out = NULL;
    size_t out_len = 0;
    bool too_big = false;
    int n = 0, status = -1;
    axl_run_pid pid;
    axl_run_state st = axl_run_inspect(job->dir, &pid, &status);
    axl_runner_report rep = {
        .trial = job->trial, .status = AXL_TRIAL_FAILED, .reason = reason, .job_id = job_id};
    job_id_of(job, job_id, sizeof(job_id));
    axl_run_read_output(job->dir, MAX_STDOUT, &out, &out_len, &too_big, tail, sizeof(tail));
    const char *sep = tail[0] ? ": " : "";
    if (st != AXL_RUN_FINISHED) {
        if (job->pid.deadline > 0 && axl_now() >= job->pid.deadline)
            snprintf(reason, sizeof(reason), "timed out after %g s", c->timeout_s);
        else if (job->term_signal != 0)
            snprintf(reason, sizeof(reason), "killed by signal %d%s%s", job->term_signal, sep,
                     tail);
        else
            snprintf(reason, sizeof(reason),
                     "the command ended without recording an exit status (killed?)%s%s", sep, tail);
    } else if (status > 128) {
        snprintf(reason, sizeof(reason), "killed by signal %d%s%s", status - 128, sep, tail);
    } else if (status != 0) {
        snprintf(reason, sizeof(reason), "exit code %d%s%s", status, sep, tail);
    } else if (too_big) {
        snprintf(reason, sizeof(reason), "more than %u bytes on stdout", MAX_STDOUT);
    } else if (parse_metrics(out, out_len, metrics, AXL_PROTO_MAX_METRICS, &n, reason,
                             sizeof(reason), &keep) == 0) {
        bool has_objective = false;
        for (int i = 0; i < n; i++)
            has_objective = has_objective || strcmp(metrics[i].name, c->exp->metric) == 0;
        if (has_objective) {
            rep.status = AXL_TRIAL_COMPLETED;
            rep.reason = NULL;
            rep.n_metrics = (uint32_t)n;
            rep.metrics = metrics;
        } else {
            json_t *v = json_object_get(keep, c->exp->metric);
            const char *kind = json_is_string(v)    ? "a string"
                               : json_is_null(v)    ? "null"
                               : json_is_boolean(v) ? "a boolean"
                               : v != NULL          ? "not a number, [mean, sem] or {mean, sem}"
                                                    : NULL;
            if (kind != NULL)
                snprintf(reason, sizeof(reason), "metric '%s' is %s, expected a number",
                         c->exp->metric, kind);
            else
                snprintf(reason, sizeof(reason), "output has no value for metric '%s'",
                         c->exp->metric);
        }
    }
    job_release(job);
    r->report(r, &rep);
    json_decref(keep);
    free(out);
}

static int spawn_attempt(cmd_runner *c, uint32_t trial, const double *x, unsigned attempt,
                         axl_errbuf *eb);
static void notify_soon(cmd_runner *c);

/* The job's process is gone: its verdict, or (a wrapper that never got the go) a new attempt. */
static void job_ended(cmd_job *job)
{
    cmd_runner *c = job->owner;
    job->exited = true;
    uv_timer_stop(&job->deadline);
    if (job->decided) {
        job_release(job);
        return;
    }
    job_kill(job); /* what the command left behind in its group */
    axl_run_pid pid;
    int status;
    if (axl_run_inspect(job->dir, &pid, &status) == AXL_RUN_NORUN) {
        /* Adopted at its pid file, but its engine died before the go: it never ran. */
        axl_errbuf eb = {{0}};
        uint32_t trial = job->trial;
        unsigned attempt = job->attempt + 1;
        double *x = job->x;
        job->x = NULL;
        job_release(job);
        int rv = spawn_attempt(c, trial, x, attempt, &eb);
        free(x);
        if (rv != 0) {
            axl_runner_report rep = {.trial = trial, .status = AXL_TRIAL_FAILED, .reason = eb.msg};
            c->runner->report(c->runner, &rep);
        } else {
            notify_soon(c);
        }
        return;
    }
    job_verdict(job);
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    cmd_job *job = p->data;
    (void)status;
    job->term_signal = sig;
    job_ended(job);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
    cmd_job *job = h->data;
    (void)status;
    (void)events;
    uv_poll_stop(h);
    job_ended(job);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    cmd_job *job = h->data;
    axl_run_pid pid;
    int st;
    (void)events;
    (void)status;
    if (name != NULL && strcmp(name, "exit") != 0)
        return;
    axl_run_state s = axl_run_inspect(job->dir, &pid, &st);
    if (s == AXL_RUN_FINISHED || s == AXL_RUN_NORUN) {
        uv_fs_event_stop(h);
        job_ended(job);
    }
}

static void on_deadline(uv_timer_t *t)
{
    cmd_job *job = t->data;
    cmd_runner *c = job->owner;
    char reason[64];
    if (job->decided)
        return;
    job_kill(job);
    snprintf(reason, sizeof(reason), "timed out after %g s", c->timeout_s);
    char job_id[160];
    job_id_of(job, job_id, sizeof(job_id));
    axl_runner_report rep = {
        .trial = job->trial, .status = AXL_TRIAL_FAILED, .reason = reason, .job_id = job_id};
    job_decide(job);
    if (!job->child || job->exited)
        job_release(job); /* a child is released by its exit callback (reaped) */
    c->runner->report(c->runner, &rep);
}

static void arm_deadline(cmd_job *job)
{
    if (job->pid.deadline <= 0)
        return;
    double left = job->pid.deadline - axl_now();
    uv_timer_start(&job->deadline, on_deadline, left > 0 ? (uint64_t)(left * 1000.0) + 1 : 0, 0);
}

/*
 * Starts attempt number `attempt` of trial: run folder, wrapper in its own session,
 * pid file, go (see the top of this file). The job reports RUNNING on the next turn.
 */
static int spawn_attempt(cmd_runner *c, uint32_t trial, const double *x, unsigned attempt,
                         axl_errbuf *eb)
{
    char *argv[MAX_ARGS + 6];
    int rv = 0, argc = 0, fd_out = -1, fd_err = -1, go[2] = {-1, -1};
    char path[AXL_RUN_PATH_MAX + 16];
    cmd_job *job = job_new(c, trial, x);
    if (job == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    job->attempt = attempt;
    axl_runner_job jb = {.trial = trial, .x = x};
    argv[argc++] = "/bin/sh";
    argv[argc++] = "-c";
    argv[argc++] = (char *)axl_run_wrapper_script;
    argv[argc++] = "axle-run";
    argv[argc++] = job->dir;
    int first = argc;
    for (int i = 0; i < c->argc; i++, argc++) {
        if ((argv[argc] = expand(c, c->argv_template[i], &jb)) == NULL) {
            rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    argv[argc] = NULL;
    if (axl_run_dir(c->base, c->exp->name, trial, attempt, job->dir, sizeof(job->dir)) != 0) {
        rv = axl_fail(eb, AXL_ETOOBIG, "command runner: the run folder path is too long");
        goto fail;
    }
    int err = axl_mkdir_p(job->dir, 0700);
    if (err != 0) {
        rv = axl_fail(eb, AXL_EIO, "command runner: %s: %s", job->dir, strerror(err));
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/stdout", job->dir);
    fd_out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    snprintf(path, sizeof(path), "%s/stderr", job->dir);
    fd_err = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_out < 0 || fd_err < 0 || pipe2(go, O_CLOEXEC) != 0) {
        rv = axl_fail(eb, AXL_EIO, "command runner: %s: %s", job->dir, strerror(errno));
        goto fail;
    }
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_INHERIT_FD, .data.fd = go[0]},
        {.flags = UV_INHERIT_FD, .data.fd = fd_out},
        {.flags = UV_INHERIT_FD, .data.fd = fd_err},
    };
    /* Its own session (setsid): a timeout or a cancel kills what it started too, and a
     * signal to the engine's terminal or group does not reach it. */
    uv_process_options_t opts = {.exit_cb = on_child_exit,
                                 .file = argv[0],
                                 .args = argv,
                                 .cwd = c->cwd,
                                 .stdio_count = 3,
                                 .stdio = stdio,
                                 .flags = UV_PROCESS_DETACHED};
    if ((err = uv_spawn(c->loop, &job->proc, &opts)) != 0) {
        /* A process handle that failed to spawn must still be closed. */
        job->child = true;
        job->exited = true;
        rv = axl_fail(eb, AXL_EIO, "cannot start '%s': %s", argv[first], uv_strerror(err));
        goto fail;
    }
    job->child = true;
    job->proc.data = job;
    job->open_handles++;
    close(go[0]);
    go[0] = -1;
    job->pid.pid = job->proc.pid;
    job->pid.starttime = axl_run_proc_starttime(job->pid.pid);
    job->pid.start = axl_now();
    job->pid.deadline = c->timeout_s > 0 ? job->pid.start + c->timeout_s : 0;
    if ((err = axl_run_write_pid(job->dir, &job->pid)) != 0) {
        /* No go: the wrapper reads EOF and never runs the command. */
        rv = axl_fail(eb, AXL_EIO, "command runner: %s/pid: %s", job->dir, strerror(err));
        goto fail;
    }
    if (write(go[1], "go\n", 3) != 3) {
        rv = axl_fail(eb, AXL_EIO, "command runner: cannot release trial %u: %s", trial,
                      strerror(errno));
        goto fail;
    }
    arm_deadline(job);
    rv = 0;
    goto done;
fail:
    job_decide(job);
    if (!job->child || job->exited)
        job_release(job);
done:
    for (int i = first; i < argc; i++)
        free(argv[i]);
    if (fd_out >= 0)
        close(fd_out);
    if (fd_err >= 0)
        close(fd_err);
    if (go[0] >= 0)
        close(go[0]);
    if (go[1] >= 0)
        close(go[1]);
    return rv;
}

/* ---- the ops ------------------------------------------------------------------------ */

/* Reports RUNNING for new and adopted jobs and the verdicts found on resume. */
static void notify_fire(uv_timer_t *t)
{
    cmd_runner *c = t->data;
    axl_runner *r = c->runner;
    struct cmd_lost *lost = c->lost;
    int n_lost = c->n_lost;
    c->lost = NULL;
    c->n_lost = 0;
    for (int i = 0; i < n_lost; i++) {
        axl_runner_report rep = {
            .trial = lost[i].trial, .status = AXL_TRIAL_FAILED, .reason = lost[i].reason};
        r->report(r, &rep);
    }
    free(lost);
    for (cmd_job *job = c->jobs, *next; job != NULL; job = next) {
        next = job->next;
        if (job->decided)
            continue;
        if (job->verdict_due) {
            job_verdict(job);
            continue;
        }
        if (job->running_reported)
            continue;
        job->running_reported = true;
        char job_id[160];
        job_id_of(job, job_id, sizeof(job_id));
        axl_runner_report rep = {
            .trial = job->trial, .status = AXL_TRIAL_RUNNING, .job_id = job_id};
        r->report(r, &rep);
    }
}

static void notify_soon(cmd_runner *c)
{
    uv_timer_start(&c->notify, notify_fire, 0, 0);
}

static int cmd_cancel(axl_runner *r, uint32_t trial, const char *reason);

static int cmd_deploy(axl_runner *r, const axl_runner_job *jobs, int n, axl_errbuf *eb)
{
    cmd_runner *c = r->impl;
    int rv;
    if (c->closing)
        return axl_fail(eb, AXL_ECLOSED, "command runner is closing");
    int cap = cmd_capacity(r);
    if (cap >= 0 && n > cap)
        return axl_fail(eb, AXL_EBUSY, "command runner: %d trials exceed capacity %d", n, cap);
    for (int i = 0; i < n; i++) {
        unsigned attempt = axl_run_latest_attempt(c->base, c->exp->name, jobs[i].trial) + 1;
        if ((rv = spawn_attempt(c, jobs[i].trial, jobs[i].x, attempt, eb)) != 0) {
            /* All or nothing: an error return means no report for any trial given. */
            for (int k = 0; k < i; k++)
                cmd_cancel(r, jobs[k].trial, "batch failed");
            return rv;
        }
    }
    notify_soon(c);
    return 0;
}

static int cmd_cancel(axl_runner *r, uint32_t trial, const char *reason)
{
    cmd_runner *c = r->impl;
    (void)reason;
    for (cmd_job *job = c->jobs; job != NULL; job = job->next) {
        if (job->trial != trial || job->decided)
            continue;
        job_decide(job);
        if (!job->exited)
            job_kill(job);
        if (!job->child || job->exited)
            job_release(job); /* a child is released by its exit callback (reaped) */
        return 0;
    }
    return AXL_ENOENT;
}

/* A job for a trial found in its run folder on resume: watch it, or report its end. */
static int adopt(cmd_runner *c, const axl_runner_job *jb, unsigned attempt, axl_errbuf *eb)
{
    char dir[AXL_RUN_PATH_MAX];
    axl_run_pid pid;
    int status;
    if (axl_run_dir(c->base, c->exp->name, jb->trial, attempt, dir, sizeof(dir)) != 0)
        return axl_fail(eb, AXL_ETOOBIG, "command runner: the run folder path is too long");
    axl_run_state st = attempt > 0 ? axl_run_inspect(dir, &pid, &status) : AXL_RUN_NONE;
    if (st == AXL_RUN_NONE || st == AXL_RUN_NORUN)
        return spawn_attempt(c, jb->trial, jb->x, attempt + 1, eb); /* it never ran */
    cmd_job *job = job_new(c, jb->trial, jb->x);
    if (job == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    job->attempt = attempt;
    memcpy(job->dir, dir, sizeof(dir));
    if (st == AXL_RUN_FINISHED) {
        job->exited = true;
        job->verdict_due = true;
        return 0;
    }
    job->pid = pid;
    bool gone;
    int fd = axl_run_open_pidfd(&pid, &gone);
    if (gone) {
        /* Dead: finished just now, or killed before it could write its status. */
        job->exited = true;
        if (axl_run_inspect(dir, &pid, &status) == AXL_RUN_NORUN) {
            job_release(job);
            return spawn_attempt(c, jb->trial, jb->x, attempt + 1, eb);
        }
        job->verdict_due = true;
        return 0;
    }
    if (fd >= 0) {
        job->pidfd = fd;
        uv_poll_init(c->loop, &job->poll, fd);
        job->poll.data = job;
        job->has_poll = true;
        job->open_handles++;
        uv_poll_start(&job->poll, UV_READABLE, on_pidfd);
    } else {
        /* No pidfds (kernel < 5.3): wait for the exit file. A wrapper killed before it
         * writes one is then noticed at its deadline only (or never without timeout_s). */
        uv_fs_event_init(c->loop, &job->fsev);
        job->fsev.data = job;
        job->has_fsev = true;
        job->open_handles++;
        uv_fs_event_start(&job->fsev, on_fs_event, dir, 0);
        axl_run_state again = axl_run_inspect(dir, &pid, &status);
        if (again == AXL_RUN_FINISHED || again == AXL_RUN_NORUN) {
            uv_fs_event_stop(&job->fsev);
            job_ended(job);
            return 0;
        }
    }
    arm_deadline(job); /* its timeout still counts from its start */
    return 0;
}

static int cmd_reconcile(axl_runner *r, const axl_runner_job *jobs, int n)
{
    cmd_runner *c = r->impl;
    int rv = 0;
    for (int i = 0; i < n; i++) {
        axl_errbuf eb = {{0}};
        unsigned attempt = axl_run_latest_attempt(c->base, c->exp->name, jobs[i].trial);
        if (adopt(c, &jobs[i], attempt, &eb) != 0) {
            /* Reported FAILED on the next turn: one trial must not block the resume. */
            AXL_ERROR(SRC, "trial %u: %s", jobs[i].trial, eb.msg);
            struct cmd_lost *grown = realloc(c->lost, (size_t)(c->n_lost + 1) * sizeof(*grown));
            if (grown == NULL) {
                rv = AXL_ENOMEM;
                continue;
            }
            c->lost = grown;
            c->lost[c->n_lost].trial = jobs[i].trial;
            snprintf(c->lost[c->n_lost].reason, sizeof(c->lost[0].reason), "%s", eb.msg);
            c->n_lost++;
        }
    }
    notify_soon(c);
    return rv;
}

static void cmd_close(axl_runner *r, void (*close_cb)(axl_runner *r))
{
    cmd_runner *c = r->impl;
    c->closing = true;
    c->close_cb = close_cb;
    /* Detach: every command keeps running; the next resume collects it. */
    while (c->jobs != NULL)
        job_release(c->jobs);
    uv_close((uv_handle_t *)&c->notify, notify_closed);
}

const axl_runner_ops axl_runner_command_ops = {
    .name = "command",
    .init = cmd_init,
    .capacity = cmd_capacity,
    .deploy = cmd_deploy,
    .cancel = cmd_cancel,
    .reconcile = cmd_reconcile,
    .close = cmd_close,
};
