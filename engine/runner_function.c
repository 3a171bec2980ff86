/*
 * runner_function.c - evaluates built-in test functions on uv timers: the runner for
 * demos, tests and benchmarks, with simulated duration, noise and failures.
 *
 * "runner": {"type": "function", "function": "branin" | "hartmann6" | "branincurrin" |
 *            "gramacy", "duration_s": 0.05, "noise_sd": 0, "failure_probability": 0,
 *            "outcomes": "FCF", "seed": 1, "capacity": -1}
 * branin and hartmann6 report one metric, named as the experiment's objective;
 * branincurrin reports "branin" and "currin" (Belakaria et al. 2019, both minimized, on
 * [0, 1]^2), gramacy reports "f", "c1" and "c2" (Gramacy et al. 2016's toy problem:
 * minimize f = x1 + x2 subject to c1 <= 0 and c2 <= 0 on [0, 1]^2), for campaigns with
 * several objectives or outcome constraints.
 * "outcomes" scripts the fate of the n-th deployed trial (C complete, F fail, H hang
 * until cancelled); past its end, failure_probability decides.
 */
#include "engine/rand.h"
#include "engine/runner.h"
#include "proto/json/axl_json.h"

#include "engine/model/axl_moo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fn_job {
    uv_timer_t timer;
    struct fn_runner *owner;
    uint32_t trial;
    char outcome; /* 'C', 'F', 'H', or 'A' (abandoned: reconciled after a restart) */
    bool started; /* RUNNING reported */
    double value[3];
    struct fn_job *next, *prev;
} fn_job;

typedef struct fn_runner {
    uv_loop_t *loop;
    double (*fn)(const double *x);                /* one output, or */
    void (*fn_multi)(const double *x, double *y); /* n_out outputs */
    size_t n_out;
    size_t dims;
    size_t arg_index[6]; /* which parameters are the function's arguments */
    char metric[3][AXL_PROTO_MAX_NAME + 1];
    double duration_ms;
    double noise_sd;
    double failure_probability;
    char *outcomes;
    size_t n_deployed;
    int capacity;
    uint64_t rng;
    fn_job *jobs; /* in flight */
    int n_jobs;   /* allocated, until their timer handle is closed */
    int n_active; /* in flight: what capacity counts, freed the moment a job ends */
    bool closing;
    void (*close_cb)(axl_runner *r);
    axl_runner *runner;
} fn_runner;

static void gramacy(const double *x, double *y)
{
    double a = x[0], b = x[1];
    y[0] = a + b;
    y[1] = 1.5 - a - 2.0 * b - 0.5 * sin(2.0 * M_PI * (a * a - 2.0 * b));
    y[2] = a * a + b * b - 1.5;
}

static int fn_init(axl_runner *r, uv_loop_t *loop, const axl_experiment *e, axl_errbuf *eb)
{
    json_t *j = e->runner;
    static const char *const keys[] = {
        "type",     "function", "duration_s", "noise_sd", "failure_probability",
        "outcomes", "seed",     "capacity",   NULL};
    int rv = axl_json_check_keys(j, "runner", keys, AXL_ECONFIG, eb);
    if (rv != 0)
        return rv;
    fn_runner *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    const char *name = json_string_value(json_object_get(j, "function"));
    rv = AXL_ECONFIG;
    if (name == NULL) {
        axl_fail(eb, rv,
                 "runner.function: required, one of branin, hartmann6, branincurrin, gramacy");
        goto fail;
    }
    f->n_out = 1;
    f->dims = 2;
    snprintf(f->metric[0], sizeof(f->metric[0]), "%s", e->metric);
    if (strcmp(name, "branin") == 0) {
        f->fn = axl_testfn_branin;
    } else if (strcmp(name, "hartmann6") == 0) {
        f->fn = axl_testfn_hartmann6;
        f->dims = 6;
    } else if (strcmp(name, "branincurrin") == 0) {
        f->fn_multi = axl_testfn_branincurrin;
        f->n_out = 2;
        snprintf(f->metric[0], sizeof(f->metric[0]), "branin");
        snprintf(f->metric[1], sizeof(f->metric[1]), "currin");
    } else if (strcmp(name, "gramacy") == 0) {
        f->fn_multi = gramacy;
        f->n_out = 3;
        snprintf(f->metric[0], sizeof(f->metric[0]), "f");
        snprintf(f->metric[1], sizeof(f->metric[1]), "c1");
        snprintf(f->metric[2], sizeof(f->metric[2]), "c2");
    } else {
        axl_fail(eb, rv,
                 "runner.function: '%s' is not branin or hartmann6 (one metric), branincurrin or "
                 "gramacy (several)",
                 name);
        goto fail;
    }
    size_t numeric = 0;
    for (size_t i = 0; i < e->space.n_params; i++)
        if (e->params[i].type == AXL_PARAM_FLOAT || e->params[i].type == AXL_PARAM_INT) {
            if (numeric < f->dims)
                f->arg_index[numeric] = i;
            numeric++;
        }
    if (numeric != f->dims) {
        axl_fail(eb, rv, "runner.function: %s takes %zu range parameters, the search space has %zu",
                 name, f->dims, numeric);
        goto fail;
    }
    json_t *d = json_object_get(j, "duration_s");
    json_t *n = json_object_get(j, "noise_sd");
    json_t *p = json_object_get(j, "failure_probability");
    json_t *o = json_object_get(j, "outcomes");
    json_t *s = json_object_get(j, "seed");
    json_t *c = json_object_get(j, "capacity");
    if ((d && (!json_is_number(d) || !(json_number_value(d) >= 0))) ||
        (n && (!json_is_number(n) || !(json_number_value(n) >= 0))) ||
        (p && (!json_is_number(p) || !(json_number_value(p) >= 0 && json_number_value(p) <= 1)))) {
        axl_fail(eb, rv,
                 "runner: duration_s and noise_sd must be numbers >= 0, "
                 "failure_probability a number in [0, 1]");
        goto fail;
    }
    if ((s && !json_is_integer(s)) ||
        (c && (!json_is_integer(c) || json_integer_value(c) == 0 || json_integer_value(c) < -1))) {
        axl_fail(eb, rv, "runner: seed must be an integer, capacity a positive integer or -1");
        goto fail;
    }
    if (o && (!json_is_string(o) ||
              strspn(json_string_value(o), "CFH") != strlen(json_string_value(o)))) {
        axl_fail(eb, rv, "runner.outcomes: must be a string of C (complete), F (fail), H (hang)");
        goto fail;
    }
    f->duration_ms = d ? json_number_value(d) * 1000.0 : 0;
    f->noise_sd = n ? json_number_value(n) : 0;
    f->failure_probability = p ? json_number_value(p) : 0;
    f->rng = s ? (uint64_t)json_integer_value(s) : 0;
    f->capacity = c ? (int)json_integer_value(c) : -1;
    if (o && (f->outcomes = strdup(json_string_value(o))) == NULL) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
        goto fail;
    }
    f->loop = loop;
    f->runner = r;
    r->impl = f;
    return 0;
fail:
    free(f);
    return rv;
}

static int fn_capacity(axl_runner *r)
{
    fn_runner *f = r->impl;
    return f->capacity < 0 ? -1 : (f->capacity > f->n_active ? f->capacity - f->n_active : 0);
}

static void job_closed(uv_handle_t *h)
{
    fn_job *job = h->data;
    fn_runner *f = job->owner;
    free(job);
    if (--f->n_jobs == 0 && f->closing) {
        axl_runner *r = f->runner;
        void (*cb)(axl_runner *) = f->close_cb;
        free(f->outcomes);
        free(f);
        if (cb != NULL)
            cb(r);
    }
}

static void job_remove(fn_job *job)
{
    fn_runner *f = job->owner;
    f->n_active--;
    if (job->prev != NULL)
        job->prev->next = job->next;
    else
        f->jobs = job->next;
    if (job->next != NULL)
        job->next->prev = job->prev;
    uv_close((uv_handle_t *)&job->timer, job_closed);
}

static void job_fire(uv_timer_t *t)
{
    fn_job *job = t->data;
    fn_runner *f = job->owner;
    axl_runner *r = f->runner;
    char job_id[32];
    snprintf(job_id, sizeof(job_id), "fn-%u", job->trial);

    if (job->outcome == 'A') {
        axl_runner_report rep = {.trial = job->trial,
                                 .status = AXL_TRIAL_ABANDONED,
                                 .reason = "the function runner keeps nothing across a restart"};
        job_remove(job);
        r->report(r, &rep);
        return;
    }
    if (!job->started) {
        job->started = true;
        axl_runner_report rep = {
            .trial = job->trial, .status = AXL_TRIAL_RUNNING, .job_id = job_id};
        /* Arm the end first: the report may cancel this very job. */
        if (job->outcome != 'H')
            uv_timer_start(&job->timer, job_fire, (uint64_t)f->duration_ms, 0);
        r->report(r, &rep);
        return;
    }
    axl_runner_report rep = {.trial = job->trial, .job_id = job_id};
    axl_metric_value m[3];
    for (size_t q = 0; q < f->n_out; q++)
        m[q] = (axl_metric_value){f->metric[q], job->value[q], f->noise_sd > 0 ? f->noise_sd : 0.0};
    if (job->outcome == 'F') {
        rep.status = AXL_TRIAL_FAILED;
        rep.reason = "simulated failure";
    } else {
        rep.status = AXL_TRIAL_COMPLETED;
        rep.n_metrics = (uint32_t)f->n_out;
        rep.metrics = m;
    }
    job_remove(job);
    r->report(r, &rep);
}

static int start_job(fn_runner *f, uint32_t trial, char outcome, const double *value)
{
    fn_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return AXL_ENOMEM;
    job->owner = f;
    job->trial = trial;
    job->outcome = outcome;
    if (value != NULL)
        memcpy(job->value, value, f->n_out * sizeof(double));
    uv_timer_init(f->loop, &job->timer);
    job->timer.data = job;
    job->next = f->jobs;
    if (f->jobs != NULL)
        f->jobs->prev = job;
    f->jobs = job;
    f->n_jobs++;
    f->n_active++;
    /* RUNNING is reported from the next loop turn, never from inside deploy. */
    uv_timer_start(&job->timer, job_fire, 0, 0);
    return 0;
}

static int fn_deploy(axl_runner *r, const axl_runner_job *jobs, int n, axl_errbuf *eb)
{
    fn_runner *f = r->impl;
    if (f->closing)
        return axl_fail(eb, AXL_ECLOSED, "function runner is closing");
    int cap = fn_capacity(r);
    if (cap >= 0 && n > cap)
        return axl_fail(eb, AXL_EBUSY, "function runner: %d trials exceed capacity %d", n, cap);
    for (int i = 0; i < n; i++) {
        /* The function's arguments are the range parameters, in order. */
        double x[6];
        const axl_runner_job *jb = &jobs[i];
        for (size_t k = 0; k < f->dims; k++)
            x[k] = jb->x[f->arg_index[k]];
        double value[3];
        if (f->fn_multi != NULL)
            f->fn_multi(x, value);
        else
            value[0] = f->fn(x);
        for (size_t q = 0; q < f->n_out && f->noise_sd > 0; q++)
            value[q] += f->noise_sd * axl_rand_normal(&f->rng);
        char outcome = 'C';
        size_t nth = f->n_deployed++;
        if (f->outcomes != NULL && nth < strlen(f->outcomes))
            outcome = f->outcomes[nth];
        else if (f->failure_probability > 0 && axl_rand_uniform(&f->rng) < f->failure_probability)
            outcome = 'F';
        if (start_job(f, jb->trial, outcome, value) != 0)
            return axl_fail(eb, AXL_ENOMEM, "out of memory");
    }
    return 0;
}

static int fn_cancel(axl_runner *r, uint32_t trial, const char *reason)
{
    fn_runner *f = r->impl;
    (void)reason;
    for (fn_job *job = f->jobs; job != NULL; job = job->next) {
        if (job->trial == trial) {
            uv_timer_stop(&job->timer);
            job_remove(job);
            return 0;
        }
    }
    return AXL_ENOENT;
}

static int fn_reconcile(axl_runner *r, const axl_runner_job *jobs, int n)
{
    fn_runner *f = r->impl;
    for (int i = 0; i < n; i++)
        if (start_job(f, jobs[i].trial, 'A', NULL) != 0)
            return AXL_ENOMEM;
    return 0;
}

static void fn_close(axl_runner *r, void (*close_cb)(axl_runner *r))
{
    fn_runner *f = r->impl;
    f->closing = true;
    f->close_cb = close_cb;
    if (f->n_jobs == 0) {
        free(f->outcomes);
        free(f);
        if (close_cb != NULL)
            close_cb(r);
        return;
    }
    for (fn_job *job = f->jobs; job != NULL;) {
        fn_job *next = job->next;
        uv_timer_stop(&job->timer);
        job_remove(job);
        job = next;
    }
}

const axl_runner_ops axl_runner_function_ops = {
    .name = "function",
    .init = fn_init,
    .capacity = fn_capacity,
    .deploy = fn_deploy,
    .cancel = fn_cancel,
    .reconcile = fn_reconcile,
    .close = fn_close,
};
