/*
 * runner_command.c - one child process per trial (the seed's "subprocess as external
 * system"): argv from a template, metrics as JSON on the child's stdout.
 *
 * "runner": {"type": "command", "argv": ["python3", "eval.py", "--x1", "{x1}"],
 *            "timeout_s": 600, "capacity": 4, "cwd": "."}
 * Placeholders: {<parameter>}, {trial}, {experiment}; "{{" is a literal "{".
 * The last line of stdout that is a JSON object holds the metrics:
 *   {"branin": 1.23} or {"branin": [1.23, 0.1]} or {"branin": {"mean": 1.23, "sem": 0.1}}
 * Non-zero exit, death by signal, no JSON, a missing objective metric or the timeout
 * make the trial FAILED with the reason recorded.
 */
#include "engine/runner.h"
#include "proto/json/axl_json.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 256
#define MAX_STDOUT (1u << 20)
#define MAX_STDERR_TAIL 512

typedef struct cmd_job {
    struct cmd_runner *owner;
    uint32_t trial;
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timeout;
    char *stdout_buf;
    size_t stdout_len;
    char stderr_tail[MAX_STDERR_TAIL + 1];
    size_t stderr_len;
    bool too_much_output;
    bool timed_out;
    bool cancelled;
    bool running_reported;
    bool exited;
    int64_t exit_status;
    int term_signal;
    int open_handles; /* closed when 0 */
    int pending;      /* exit + two EOFs before the verdict */
    struct cmd_job *next, *prev;
} cmd_job;

typedef struct cmd_runner {
    uv_loop_t *loop;
    const axl_experiment *exp;
    char **argv_template;
    int argc;
    char *cwd;
    double timeout_s;
    int capacity;
    cmd_job *jobs;
    int n_jobs;        /* allocated, until their handles are closed */
    int n_active;      /* running: what capacity counts */
    uv_timer_t notify; /* delivers RUNNING and reconcile reports on the next turn */
    bool notify_open;
    uint32_t *lost; /* trials reconciled as unknown, reported by notify */
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

/* Frees the runner once it is closing and its last handle is closed. */
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
    free(job->stdout_buf);
    free(job);
    c->n_jobs--;
    maybe_finish_close(c);
}

static void job_close(cmd_job *job)
{
    cmd_runner *c = job->owner;
    c->n_active--;
    if (job->prev != NULL)
        job->prev->next = job->next;
    else
        c->jobs = job->next;
    if (job->next != NULL)
        job->next->prev = job->prev;
    job->next = job->prev = NULL;
    uv_handle_t *hs[] = {(uv_handle_t *)&job->proc, (uv_handle_t *)&job->out,
                         (uv_handle_t *)&job->err, (uv_handle_t *)&job->timeout};
    for (int i = 0; i < 4; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], job_handle_closed);
}

/* Parses {"metric": number | [mean, sem] | {"mean", "sem"}} from the last JSON line. */
static int parse_metrics(cmd_job *job, axl_metric_value *m, int max, int *n, char *why,
                         size_t why_len, json_t **keep)
{
    *n = 0;
    char *buf = job->stdout_buf;
    if (buf == NULL) {
        snprintf(why, why_len, "no output on stdout");
        return -1;
    }
    json_t *obj = NULL;
    /* Walk lines from the end: the last JSON object wins, logs before it are allowed. */
    size_t end = job->stdout_len;
    while (end > 0 && obj == NULL) {
        size_t start = end;
        while (start > 0 && buf[start - 1] != '\n')
            start--;
        size_t s = start;
        while (s < end && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r'))
            s++;
        if (s < end && buf[s] == '{')
            obj = json_loadb(buf + s, end - s, 0, NULL);
        end = start > 0 ? start - 1 : 0;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
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

static void job_verdict(cmd_job *job)
{
    cmd_runner *c = job->owner;
    axl_runner *r = c->runner;
    char reason[MAX_STDERR_TAIL + 128];
    char job_id[32];
    axl_metric_value metrics[AXL_PROTO_MAX_METRICS];
    json_t *keep = NULL;
    int n = 0;
    axl_runner_report rep = {
        .trial = job->trial, .status = AXL_TRIAL_FAILED, .reason = reason, .job_id = job_id};
    snprintf(job_id, sizeof(job_id), "pid:%d", job->proc.pid);

    if (job->cancelled) {
        job_close(job);
        return;
    }
    job->stderr_tail[job->stderr_len] = '\0';
    const char *tail = job->stderr_tail;
    if (job->timed_out)
        snprintf(reason, sizeof(reason), "timed out after %g s", c->timeout_s);
    else if (job->term_signal != 0)
        snprintf(reason, sizeof(reason), "killed by signal %d%s%s", job->term_signal,
                 *tail ? ": " : "", tail);
    else if (job->exit_status != 0)
        snprintf(reason, sizeof(reason), "exit code %lld%s%s", (long long)job->exit_status,
                 *tail ? ": " : "", tail);
    else if (job->too_much_output)
        snprintf(reason, sizeof(reason), "more than %u bytes on stdout", MAX_STDOUT);
    else if (parse_metrics(job, metrics, AXL_PROTO_MAX_METRICS, &n, reason, sizeof(reason),
                           &keep) == 0) {
        bool has_objective = false;
        for (int i = 0; i < n; i++)
            has_objective = has_objective || strcmp(metrics[i].name, c->exp->metric) == 0;
        if (has_objective) {
            rep.status = AXL_TRIAL_COMPLETED;
            rep.reason = NULL;
            rep.n_metrics = (uint32_t)n;
            rep.metrics = metrics;
        } else {
            snprintf(reason, sizeof(reason), "output has no value for metric '%s'", c->exp->metric);
        }
    }
    job_close(job);
    r->report(r, &rep);
    json_decref(keep);
}

static void job_step(cmd_job *job)
{
    if (--job->pending == 0)
        job_verdict(job);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    cmd_job *job = p->data;
    job->exited = true;
    job->exit_status = status;
    job->term_signal = sig;
    uv_timer_stop(&job->timeout);
    /* Grandchildren holding stdout open would keep the verdict waiting forever. */
    uv_kill(-p->pid, SIGKILL);
    job_step(job);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char scratch[65536]; /* loop thread only: reads are consumed at once */
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_stdout(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cmd_job *job = s->data;
    if (nread < 0) {
        uv_read_stop(s);
        job_step(job);
        return;
    }
    if (job->stdout_len + (size_t)nread > MAX_STDOUT) {
        job->too_much_output = true;
        return;
    }
    char *grown = realloc(job->stdout_buf, job->stdout_len + (size_t)nread + 1);
    if (grown == NULL) {
        job->too_much_output = true;
        return;
    }
    job->stdout_buf = grown;
    memcpy(job->stdout_buf + job->stdout_len, buf->base, (size_t)nread);
    job->stdout_len += (size_t)nread;
    job->stdout_buf[job->stdout_len] = '\0';
}

static void on_stderr(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cmd_job *job = s->data;
    if (nread < 0) {
        uv_read_stop(s);
        job_step(job);
        return;
    }
    /* Keep the last bytes: the end of stderr usually says what went wrong. */
    size_t n = (size_t)nread;
    if (n >= MAX_STDERR_TAIL) {
        memcpy(job->stderr_tail, buf->base + n - MAX_STDERR_TAIL, MAX_STDERR_TAIL);
        job->stderr_len = MAX_STDERR_TAIL;
    } else {
        if (job->stderr_len + n > MAX_STDERR_TAIL) {
            size_t drop = job->stderr_len + n - MAX_STDERR_TAIL;
            memmove(job->stderr_tail, job->stderr_tail + drop, job->stderr_len - drop);
            job->stderr_len -= drop;
        }
        memcpy(job->stderr_tail + job->stderr_len, buf->base, n);
        job->stderr_len += n;
    }
    for (size_t i = 0; i < job->stderr_len; i++)
        if (job->stderr_tail[i] == '\n' && i + 1 == job->stderr_len)
            job->stderr_len = i; /* drop a trailing newline */
}

static void on_timeout(uv_timer_t *t)
{
    cmd_job *job = t->data;
    job->timed_out = true;
    uv_kill(-job->proc.pid, SIGKILL);
}

static int spawn_one(cmd_runner *c, const axl_runner_job *jb, axl_errbuf *eb)
{
    char *argv[MAX_ARGS + 1];
    int rv = 0, argc = 0;
    cmd_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    for (argc = 0; argc < c->argc; argc++) {
        if ((argv[argc] = expand(c, c->argv_template[argc], jb)) == NULL) {
            rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    argv[argc] = NULL;
    job->owner = c;
    job->trial = jb->trial;
    uv_pipe_init(c->loop, &job->out, 0);
    uv_pipe_init(c->loop, &job->err, 0);
    uv_timer_init(c->loop, &job->timeout);
    job->out.data = job->err.data = job->timeout.data = job->proc.data = job;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&job->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&job->err},
    };
    /* Its own process group, so that a timeout or a cancel kills what it started too. */
    uv_process_options_t opts = {.exit_cb = on_exit_cb,
                                 .file = argv[0],
                                 .args = argv,
                                 .cwd = c->cwd,
                                 .stdio_count = 3,
                                 .stdio = stdio,
                                 .flags = UV_PROCESS_DETACHED};
    int err = uv_spawn(c->loop, &job->proc, &opts);
    if (err != 0) {
        /* A handle that failed to spawn must still be closed. */
        job->open_handles = 4;
        job->next = job->prev = NULL;
        c->n_jobs++;
        job->cancelled = true;
        uv_close((uv_handle_t *)&job->proc, job_handle_closed);
        uv_close((uv_handle_t *)&job->out, job_handle_closed);
        uv_close((uv_handle_t *)&job->err, job_handle_closed);
        uv_close((uv_handle_t *)&job->timeout, job_handle_closed);
        rv = axl_fail(eb, AXL_EIO, "cannot start '%s': %s", argv[0], uv_strerror(err));
        job = NULL; /* freed by its close callbacks */
        goto fail;
    }
    job->open_handles = 4;
    job->pending = 3;
    uv_read_start((uv_stream_t *)&job->out, on_alloc, on_stdout);
    uv_read_start((uv_stream_t *)&job->err, on_alloc, on_stderr);
    if (c->timeout_s > 0)
        uv_timer_start(&job->timeout, on_timeout, (uint64_t)(c->timeout_s * 1000.0), 0);
    job->next = c->jobs;
    if (c->jobs != NULL)
        c->jobs->prev = job;
    c->jobs = job;
    c->n_jobs++;
    c->n_active++;
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
fail:
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(job);
    return rv;
}

static int cmd_cancel(axl_runner *r, uint32_t trial, const char *reason);

/* Reports RUNNING for new jobs and ABANDONED for lost trials, one turn after the call. */
static void notify_fire(uv_timer_t *t)
{
    cmd_runner *c = t->data;
    axl_runner *r = c->runner;
    for (cmd_job *job = c->jobs; job != NULL; job = job->next) {
        if (job->running_reported || job->cancelled)
            continue;
        job->running_reported = true;
        char job_id[32];
        snprintf(job_id, sizeof(job_id), "pid:%d", job->proc.pid);
        axl_runner_report rep = {
            .trial = job->trial, .status = AXL_TRIAL_RUNNING, .job_id = job_id};
        r->report(r, &rep);
    }
    int n_lost = c->n_lost;
    uint32_t *lost = c->lost;
    c->lost = NULL;
    c->n_lost = 0;
    for (int i = 0; i < n_lost; i++) {
        axl_runner_report rep = {.trial = lost[i],
                                 .status = AXL_TRIAL_ABANDONED,
                                 .reason = "its process belonged to the previous engine run and "
                                           "cannot be reattached"};
        r->report(r, &rep);
    }
    free(lost);
}

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
        if ((rv = spawn_one(c, &jobs[i], eb)) != 0) {
            /* All or nothing: an error return means no report for any trial given. */
            for (int k = 0; k < i; k++)
                cmd_cancel(r, jobs[k].trial, "batch failed");
            return rv;
        }
    }
    uv_timer_start(&c->notify, notify_fire, 0, 0);
    return 0;
}

static int cmd_cancel(axl_runner *r, uint32_t trial, const char *reason)
{
    cmd_runner *c = r->impl;
    (void)reason;
    for (cmd_job *job = c->jobs; job != NULL; job = job->next) {
        if (job->trial == trial && !job->cancelled) {
            job->cancelled = true;
            if (!job->exited)
                uv_kill(-job->proc.pid, SIGKILL);
            return 0;
        }
    }
    return AXL_ENOENT;
}

static int cmd_reconcile(axl_runner *r, const axl_runner_job *jobs, int n)
{
    cmd_runner *c = r->impl;
    uint32_t *lost = realloc(c->lost, (size_t)(c->n_lost + n) * sizeof(uint32_t));
    if (lost == NULL)
        return AXL_ENOMEM;
    c->lost = lost;
    for (int i = 0; i < n; i++)
        c->lost[c->n_lost++] = jobs[i].trial;
    uv_timer_start(&c->notify, notify_fire, 0, 0);
    return 0;
}

static void cmd_close(axl_runner *r, void (*close_cb)(axl_runner *r))
{
    cmd_runner *c = r->impl;
    (void)r;
    c->closing = true;
    c->close_cb = close_cb;
    for (cmd_job *job = c->jobs; job != NULL;) {
        cmd_job *next = job->next;
        job->cancelled = true;
        if (!job->exited)
            uv_kill(-job->proc.pid, SIGKILL);
        job_close(job);
        job = next;
    }
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
