/*
 * store_check.c - a debug check that memory and store agree: after every committed turn,
 * the in-memory trials must equal the fold of the store's event log (for each trial,
 * the body of the last trial.* event that names it), field by field; and the paused
 * state must be the one the log folds to (axl_control_paused_fold).
 *
 * Enabled by AXL_CHECK_STORE=1 in the environment (the test suite sets it for the engine
 * tests), and by default in builds without NDEBUG unless AXL_CHECK_STORE=0. The fold is
 * incremental: each turn reads only the events committed since the last check, so the
 * cost is one decode per new event plus one comparison per trial. A difference is a bug
 * in the engine: it is logged, naming the trial and the field, and the process aborts.
 */
#include "engine/campaign.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/axl_log.h"

#define SRC "StoreCheck"

struct axl_store_check {
    uint64_t seq;        /* last event folded */
    bool paused;         /* the paused state the log folds to (control.c) */
    axl_trial_rec *recs; /* by trial index; index UINT32_MAX = none yet */
    uint32_t n, cap;
};

int axl_store_check_open(axl_campaign *c)
{
    const char *env = getenv("AXL_CHECK_STORE");
    bool on = env != NULL && strcmp(env, "1") == 0;
#ifndef NDEBUG
    on = env == NULL || strcmp(env, "0") != 0;
#endif
    if (!on)
        return 0;
    c->check = calloc(1, sizeof(*c->check));
    return c->check != NULL ? 0 : AXL_ENOMEM;
}

void axl_store_check_free(axl_campaign *c)
{
    if (c->check == NULL)
        return;
    for (uint32_t i = 0; i < c->check->n; i++)
        axl_trial_rec_free(&c->check->recs[i]);
    free(c->check->recs);
    free(c->check);
    c->check = NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static bool num_eq(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* The first field in which t and r differ, or NULL. */
static const char *diff(const axl_campaign *c, const axl_trial *t, const axl_trial_rec *r)
{
    const axl_experiment *e = c->exp;
    if (r->status != t->status)
        return "status";
    if (r->step != t->step || !str_eq(r->gen_method, t->gen_method))
        return "generation step or method";
    if (r->created != t->created || r->updated != t->updated || r->deployed != t->deployed)
        return "times";
    if (r->deploy_count != t->deploy_count)
        return "deploy_count";
    if (!str_eq(r->job_id, t->job_id))
        return "job_id";
    if (!str_eq(r->reason, t->reason))
        return "reason";
    if (r->n_params != e->space.n_params)
        return "params";
    for (size_t i = 0; i < e->space.n_params; i++) {
        axl_value v = axl_experiment_value_at(e, i, t->x[i]);
        const axl_param_value *p = &r->params[i];
        if (!str_eq(p->name, e->info[i].name) || p->value.kind != v.kind ||
            (v.kind == AXL_VALUE_NUM && !num_eq(p->value.num, v.num)) ||
            (v.kind == AXL_VALUE_INT && p->value.i != v.i) ||
            (v.kind == AXL_VALUE_STR && !str_eq(p->value.str, v.str)) ||
            (v.kind == AXL_VALUE_BOOL && p->value.b != v.b))
            return "params";
    }
    if (r->n_metrics != t->n_metrics)
        return "metrics";
    for (uint32_t i = 0; i < t->n_metrics; i++)
        if (!str_eq(r->metrics[i].name, t->metrics[i].name) ||
            !num_eq(r->metrics[i].mean, t->metrics[i].mean) ||
            !num_eq(r->metrics[i].sem, t->metrics[i].sem))
            return "metrics";
    return NULL;
}

/* Folds one trial record into the check's table (takes ownership of *rec). */
static int fold(struct axl_store_check *k, axl_trial_rec *rec)
{
    if (rec->index >= k->cap) {
        uint32_t cap = k->cap ? k->cap : 64;
        while (cap <= rec->index)
            cap *= 2;
        axl_trial_rec *grown = realloc(k->recs, cap * sizeof(*grown));
        if (grown == NULL)
            return AXL_ENOMEM;
        memset(grown + k->cap, 0, (cap - k->cap) * sizeof(*grown));
        k->recs = grown;
        k->cap = cap;
    }
    axl_trial_rec_free(&k->recs[rec->index]);
    k->recs[rec->index] = *rec;
    if (rec->index >= k->n)
        k->n = rec->index + 1;
    return 0;
}

void axl_store_check_turn(axl_campaign *c)
{
    struct axl_store_check *k = c->check;
    axl_errbuf eb = {{0}};
    axl_store_iter *it = NULL;
    const char *name = c->exp->name;
    size_t name_len = strlen(name);
    if (k == NULL)
        return;
    int rv = axl_store_iter_open(c->store, k->seq + 1, 0, &it, &eb);
    uint64_t seq;
    const void *data;
    size_t len;
    while (rv == 0 && (rv = axl_store_iter_next(it, &seq, &data, &len, &eb)) == 0) {
        axl_event ev;
        k->seq = seq;
        if ((rv = axl_event_decode(data, len, &ev, &eb)) != 0)
            break;
        int paused = axl_control_paused_fold(&ev, name, name_len);
        if (paused >= 0)
            k->paused = paused == 1;
        if (ev.rec != AXL_REC_TRIAL || ev.experiment_len != name_len ||
            memcmp(ev.experiment, name, name_len) != 0)
            continue;
        axl_trial_rec rec;
        if ((rv = axl_trial_rec_decode(ev.body, ev.body_len, &rec, &eb)) != 0)
            break;
        if ((rv = fold(k, &rec)) != 0) {
            axl_trial_rec_free(&rec);
            break;
        }
    }
    axl_store_iter_close(it);
    if (rv != AXL_ENOENT) {
        AXL_ERROR(SRC, "cannot fold the store's log: %s (%s)", eb.msg, axl_strerror(rv));
        abort();
    }
    if (k->paused != c->paused) {
        AXL_ERROR(SRC, "memory says %s, the store's log %s", c->paused ? "paused" : "not paused",
                  k->paused ? "paused" : "not paused");
        abort();
    }
    if (k->n != c->n_trials) {
        AXL_ERROR(SRC, "memory holds %u trials, the store's log %u", c->n_trials, k->n);
        abort();
    }
    for (uint32_t i = 0; i < c->n_trials; i++) {
        const char *field = diff(c, &c->trials[i], &k->recs[i]);
        if (field != NULL) {
            AXL_ERROR(SRC, "trial %u: memory (%s) and store (%s) differ in %s", i,
                      axl_trial_status_name(c->trials[i].status),
                      axl_trial_status_name(k->recs[i].status), field);
            abort();
        }
    }
}
