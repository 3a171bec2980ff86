/*
 * trial_state.c - the one place where a trial's status changes.
 *
 * Every change adds a trial.* event carrying the full new record to this turn's journal
 * batch, and only once the event is in the batch does the in-memory trial change: a
 * change is recorded or not made (the new state is built in a copy, logged, then
 * swapped in). Nothing is acted on here: deploys wait for the commit (scheduler.c), so
 * that a crash at any instant loses nothing and runs nothing twice. Timers are the
 * scheduler's business (it arms and disarms TTLs around the changes it causes).
 */
#include "engine/campaign.h"
#include "engine/config_objectives.h"
#include "engine/status_quo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/axl_log.h"

static char *dup_or_null(const char *s)
{
    return axl_xstrdup(s);
}

uint32_t axl_trials_count(const axl_campaign *c, unsigned status_mask)
{
    uint32_t n = 0;
    for (int st = 0; st < AXL_TRIAL_STATUS_COUNT; st++)
        if (status_mask & AXL_MASK(st))
            n += c->n_status[st];
    return n;
}

static void count_step(axl_campaign *c, const axl_trial *t, int delta)
{
    if (t->step < AXL_GS_MAX_STEPS)
        c->n_step_status[t->step][t->status] += (uint32_t)delta;
}

/* A new trial's point joins the de-duplication index (on failure generation.c falls
 * back to scanning the trials: nothing is lost but speed). */
static void index_point(axl_campaign *c, const axl_trial *t)
{
    if (c->points_failed)
        return;
    if ((c->points == NULL && axl_point_index_new(&c->exp->space, &c->points) != 0) ||
        axl_point_index_add(c->points, t->x, t->index) != 0) {
        axl_point_index_free(c->points);
        c->points = NULL;
        c->points_failed = true;
    }
}

/*
 * Every change goes through here: next (a copy of *t with the change applied) is logged;
 * only then does it replace *t and the counts follow. On error *t is untouched and the
 * caller frees what it allocated for next.
 */
static int apply(axl_campaign *c, axl_trial *t, axl_trial *next, const char *type)
{
    int rv = axl_trial_log(c, next, type);
    if (rv != 0)
        return rv;
    c->n_status[t->status]--;
    count_step(c, t, -1);
    c->n_status[next->status]++;
    count_step(c, next, 1);
    *t = *next;
    return 0;
}

int axl_trial_log(axl_campaign *c, axl_trial *t, const char *type)
{
    const axl_experiment *e = c->exp;
    axl_param_value params[AXL_MODEL_MAX_PARAMS];
    for (size_t i = 0; i < e->space.n_params; i++) {
        params[i].name = e->info[i].name;
        params[i].value = axl_experiment_value_at(e, i, t->x[i]);
    }
    axl_trial_rec rec = {
        .experiment = e->name,
        .index = t->index,
        .status = t->status,
        .gen_method = t->gen_method,
        .step = t->step,
        .created = t->created,
        .updated = t->updated,
        .deployed = t->deployed,
        .deploy_count = t->deploy_count,
        .job_id = t->job_id,
        .reason = t->reason,
        .n_params = (uint32_t)e->space.n_params,
        .params = params,
        .n_metrics = t->n_metrics,
        .metrics = t->metrics,
    };
    axl_errbuf eb = {{0}};
    msgpack_sbuffer *sb = &c->journal.scratch;
    msgpack_sbuffer_clear(sb);
    int rv = axl_trial_rec_encode(&rec, sb, &eb);
    if (rv == 0)
        rv = axl_journal_add(&c->journal, type, e->name, t->index, AXL_REC_TRIAL, sb->data,
                             sb->size, &eb);
    if (rv != 0)
        AXL_ERROR("Scheduler", "cannot record trial %u (%s): %s", t->index, type, eb.msg);
    return rv;
}

static int grow_trials(axl_campaign *c)
{
    if (c->n_trials < c->cap_trials)
        return 0;
    uint32_t cap = c->cap_trials ? c->cap_trials * 2 : 64;
    axl_trial *t = realloc(c->trials, cap * sizeof(*t));
    if (t == NULL)
        return AXL_ENOMEM;
    /* TTL timers point back at their trial by index, not address, so moving is safe. */
    c->trials = t;
    c->cap_trials = cap;
    return 0;
}

int axl_trial_create(axl_campaign *c, const double *x, uint32_t step, const char *method,
                     uint32_t *out)
{
    size_t np = c->exp->space.n_params;
    if (grow_trials(c) != 0)
        return AXL_ENOMEM;
    axl_trial t = {0};
    if ((t.x = malloc(np * sizeof(double))) == NULL)
        return AXL_ENOMEM;
    memcpy(t.x, x, np * sizeof(double));
    t.index = c->n_trials;
    t.status = AXL_TRIAL_CANDIDATE;
    t.step = step;
    t.gen_method = method;
    t.created = t.updated = axl_now();
    t.y = t.sem = NAN;
    t.by_this_run = true;
    int rv = axl_trial_log(c, &t, "trial.created");
    if (rv != 0) {
        free(t.x);
        return rv;
    }
    c->trials[c->n_trials++] = t;
    c->n_status[AXL_TRIAL_CANDIDATE]++;
    count_step(c, &t, 1);
    index_point(c, &t);
    *out = t.index;
    return 0;
}

/* Makes room for one more trial to deploy after the commit. */
static int reserve_deploy(axl_campaign *c)
{
    if (c->n_to_deploy == c->cap_to_deploy) {
        uint32_t cap = c->cap_to_deploy ? c->cap_to_deploy * 2 : 16;
        uint32_t *d = realloc(c->to_deploy, cap * sizeof(*d));
        if (d == NULL)
            return AXL_ENOMEM;
        c->to_deploy = d;
        c->cap_to_deploy = cap;
    }
    return 0;
}

int axl_trial_stage(axl_campaign *c, uint32_t index)
{
    axl_trial *t = &c->trials[index];
    if (!axl_trial_transition_ok(t->status, AXL_TRIAL_STAGED))
        return AXL_ESTATE;
    if (reserve_deploy(c) != 0)
        return AXL_ENOMEM;
    axl_trial next = *t;
    next.status = AXL_TRIAL_STAGED;
    next.updated = axl_now();
    next.deploy_count++;
    next.by_this_run = true;
    int rv = apply(c, t, &next, "trial.staged");
    if (rv != 0)
        return rv;
    c->ran_this_run++;
    c->to_deploy[c->n_to_deploy++] = index;
    return 0;
}

int axl_trial_mark_running(axl_campaign *c, uint32_t index, const char *job_id)
{
    axl_trial *t = &c->trials[index];
    if (t->status == AXL_TRIAL_RUNNING)
        return 0;
    if (!axl_trial_transition_ok(t->status, AXL_TRIAL_RUNNING))
        return AXL_ESTATE;
    axl_trial next = *t;
    char *old_job = NULL;
    if (job_id != NULL && (t->job_id == NULL || strcmp(t->job_id, job_id) != 0)) {
        if ((next.job_id = dup_or_null(job_id)) == NULL)
            return AXL_ENOMEM;
        old_job = t->job_id;
    }
    next.status = AXL_TRIAL_RUNNING;
    next.updated = next.deployed = axl_now();
    int rv = apply(c, t, &next, "trial.running");
    if (rv != 0) {
        if (old_job != NULL)
            free(next.job_id);
        return rv;
    }
    free(old_job);
    return 0;
}

/* Remembers a finished trial for this turn's "Retrieved ... trials" log line. */
static void note_done(uint32_t **list, uint32_t *n, uint32_t *cap, uint32_t index)
{
    if (*n == *cap) {
        uint32_t grown = *cap ? *cap * 2 : 16;
        uint32_t *a = realloc(*list, grown * sizeof(uint32_t));
        if (a == NULL)
            return; /* only a log line is lost */
        *list = a;
        *cap = grown;
    }
    (*list)[(*n)++] = index;
}

/* Why m cannot be stored (a non-finite mean, an SEM that is not unknown, finite and >= 0),
 * into why; false when it can. */
static bool metric_unusable(const axl_metric_value *m, char *why, size_t size)
{
    if (!isfinite(m->mean))
        snprintf(why, size, "metric '%s' is not finite (%g)", m->name, m->mean);
    else if (!isnan(m->sem) && !(isfinite(m->sem) && m->sem >= 0))
        snprintf(why, size, "the SEM of metric '%s' is not finite and >= 0 (%g)", m->name, m->sem);
    else
        return false;
    return true;
}

static void free_metrics(axl_metric_value *m, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        free((char *)m[k].name);
    free(m);
}

int axl_trial_complete(axl_campaign *c, uint32_t index, const axl_metric_value *m, uint32_t n)
{
    axl_trial *t = &c->trials[index];
    if (!axl_trial_transition_ok(t->status, AXL_TRIAL_COMPLETED))
        return AXL_ESTATE;
    /* A value the store cannot hold is a FAILED trial with the reason, in memory and in
     * the store alike -- never a COMPLETED trial in memory that the store lacks. */
    char why[AXL_PROTO_MAX_NAME + 96];
    for (uint32_t i = 0; i < n; i++)
        if (metric_unusable(&m[i], why, sizeof(why)))
            return axl_trial_fail(c, index, AXL_TRIAL_FAILED, why);
    axl_metric_value *copy = calloc(n ? n : 1, sizeof(*copy));
    if (copy == NULL)
        return AXL_ENOMEM;
    axl_trial next = *t;
    for (uint32_t i = 0; i < n; i++) {
        copy[i] = m[i];
        if ((copy[i].name = strdup(m[i].name)) == NULL) {
            free_metrics(copy, i);
            return AXL_ENOMEM;
        }
        if (strcmp(m[i].name, c->exp->metric) == 0) {
            next.has_objective = true;
            next.y = m[i].mean;
            next.sem = m[i].sem;
        }
    }
    axl_metric_value *old = t->metrics;
    uint32_t n_old = t->n_metrics;
    next.metrics = copy;
    next.n_metrics = n;
    next.status = AXL_TRIAL_COMPLETED;
    next.updated = axl_now();
    int rv = apply(c, t, &next, "trial.completed");
    if (rv != 0) {
        free_metrics(copy, n);
        return rv;
    }
    free_metrics(old, n_old);
    double yb = axl_objectives_score(c->exp->moo, t->y, t->metrics, t->n_metrics);
    if (t->has_objective && isfinite(yb)) {
        bool better = !c->has_best || (c->exp->minimize ? yb < c->best_value : yb > c->best_value);
        if (better) {
            c->has_best = true;
            c->best_value = yb;
            c->best_trial = index;
        }
    }
    axl_sq_observe(c, t); /* relative constraints: their bounds, once the status quo is in */
    note_done(&c->done_completed, &c->n_done_completed, &c->cap_done_completed, index);
    return 0;
}

int axl_trial_fail(axl_campaign *c, uint32_t index, axl_trial_status to, const char *reason)
{
    axl_trial *t = &c->trials[index];
    if (!axl_trial_transition_ok(t->status, to))
        return AXL_ESTATE;
    axl_trial next = *t;
    if (reason != NULL && (next.reason = dup_or_null(reason)) == NULL)
        return AXL_ENOMEM;
    if (reason == NULL)
        next.reason = NULL;
    next.status = to;
    next.updated = axl_now();
    const char *type = to == AXL_TRIAL_ABANDONED       ? "trial.abandoned"
                       : to == AXL_TRIAL_EARLY_STOPPED ? "trial.early_stopped"
                                                       : "trial.failed";
    char *old = t->reason;
    int rv = apply(c, t, &next, type);
    if (rv != 0) {
        free(next.reason);
        return rv;
    }
    free(old);
    if (t->by_this_run && t->deploy_count > 0)
        c->bad_this_run++;
    note_done(&c->done_failed, &c->n_done_failed, &c->cap_done_failed, index);
    return 0;
}

int axl_trial_adopt(axl_campaign *c, const axl_trial_rec *rec)
{
    const axl_experiment *e = c->exp;
    size_t np = e->space.n_params;
    if (rec->index != c->n_trials)
        return AXL_ECORRUPT; /* trials are stored densely from 0 */
    if (grow_trials(c) != 0)
        return AXL_ENOMEM;
    axl_trial *t = &c->trials[c->n_trials];
    memset(t, 0, sizeof(*t));
    if ((t->x = calloc(np, sizeof(double))) == NULL)
        return AXL_ENOMEM;
    for (size_t i = 0; i < np; i++) {
        const axl_param_value *pv = NULL;
        for (uint32_t k = 0; k < rec->n_params; k++)
            if (strcmp(rec->params[k].name, e->info[i].name) == 0)
                pv = &rec->params[k];
        if (pv == NULL || axl_experiment_coord_of(e, i, &pv->value, &t->x[i]) != 0) {
            free(t->x);
            return AXL_ECORRUPT;
        }
    }
    t->index = rec->index;
    t->status = rec->status;
    c->n_status[rec->status]++;
    t->step = rec->step;
    count_step(c, t, 1);
    t->gen_method = strcmp(rec->gen_method, "Sobol") == 0      ? "Sobol"
                    : strcmp(rec->gen_method, "GP-LogEI") == 0 ? "GP-LogEI"
                                                               : "Manual";
    t->created = rec->created;
    t->updated = rec->updated;
    t->deployed = rec->deployed;
    t->deploy_count = rec->deploy_count;
    t->job_id = dup_or_null(rec->job_id);
    t->reason = dup_or_null(rec->reason);
    t->y = t->sem = NAN;
    if (rec->n_metrics > 0) {
        if ((t->metrics = calloc(rec->n_metrics, sizeof(axl_metric_value))) == NULL)
            return AXL_ENOMEM;
        for (uint32_t k = 0; k < rec->n_metrics; k++) {
            t->metrics[k] = rec->metrics[k];
            t->metrics[k].name = strdup(rec->metrics[k].name);
            t->n_metrics = k + 1;
            if (strcmp(rec->metrics[k].name, e->metric) == 0) {
                t->has_objective = true;
                t->y = rec->metrics[k].mean;
                t->sem = rec->metrics[k].sem;
            }
        }
    }
    c->n_trials++;
    index_point(c, t);
    double yb = axl_objectives_score(e->moo, t->y, t->metrics, t->n_metrics);
    if (t->status == AXL_TRIAL_COMPLETED && t->has_objective && isfinite(yb)) {
        bool better = !c->has_best || (e->minimize ? yb < c->best_value : yb > c->best_value);
        if (better) {
            c->has_best = true;
            c->best_value = yb;
            c->best_trial = t->index;
        }
    }
    axl_sq_observe(c, t);
    return 0;
}

void axl_trial_free_all(axl_campaign *c)
{
    for (uint32_t i = 0; i < c->n_trials; i++) {
        axl_trial *t = &c->trials[i];
        free(t->x);
        free(t->job_id);
        free(t->reason);
        for (uint32_t k = 0; k < t->n_metrics; k++)
            free((char *)t->metrics[k].name);
        free(t->metrics);
    }
    free(c->trials);
    c->trials = NULL;
    c->n_trials = c->cap_trials = 0;
    memset(c->n_status, 0, sizeof(c->n_status));
    memset(c->n_step_status, 0, sizeof(c->n_step_status));
    axl_point_index_free(c->points);
    c->points = NULL;
    c->points_failed = false;
}
