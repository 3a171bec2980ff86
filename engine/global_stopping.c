/*
 * global_stopping.c - Ax's ImprovementGlobalStoppingStrategy for one objective: stop the
 * campaign once the best objective has improved by less than improvement_bar times the
 * interquartile range of the objectives seen so far over the last `window` completed
 * trials. Same rules as Ax (ax/global_stopping/strategies/improvement.py):
 *   - inactive while trials are pending, when inactive_when_pending_trials (default);
 *   - no decision before max(min_trials, window) trials are COMPLETED;
 *   - the running optimum over completed trials in index order; improvement
 *     |opt[-1] - opt[-window]| / IQR (numpy's linear percentiles); stop when it is
 *     below the bar (an IQR of 0 never stops, as NaN/inf comparisons never do in numpy).
 * Checked on the loop thread once per change in the completed or pending count.
 */
#include "engine/campaign.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/axl_log.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile(v, q) with linear interpolation; v sorted, n >= 1. */
static double percentile(const double *v, size_t n, double q)
{
    double pos = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (pos - (double)lo) * (v[hi] - v[lo]);
}

bool axl_gss_check(axl_campaign *c)
{
    const axl_gss_options *o = &c->exp->global_stopping;
    if (!o->enabled)
        return false;
    uint32_t completed = axl_trials_count(c, AXL_MASK(AXL_TRIAL_COMPLETED));
    uint32_t pending = axl_trials_count(c, AXL_PENDING_MASK);
    uint64_t key = ((uint64_t)completed << 32) | pending;
    if (c->gss_checked && key == c->gss_key)
        return false;
    c->gss_checked = true;
    c->gss_key = key;
    if (o->inactive_when_pending_trials && pending > 0)
        return false;
    uint32_t need = (uint32_t)(o->min_trials > o->window ? o->min_trials : o->window);
    if (completed < need)
        return false;

    double *obj = malloc(completed * sizeof(double));
    double *opt = malloc(completed * sizeof(double));
    size_t n = 0;
    bool stop = false;
    if (obj == NULL || opt == NULL)
        goto out;
    for (uint32_t i = 0; i < c->n_trials; i++) {
        const axl_trial *t = &c->trials[i];
        if (t->status != AXL_TRIAL_COMPLETED || !t->has_objective || !isfinite(t->y))
            continue;
        obj[n] = t->y;
        opt[n] =
            n == 0 ? t->y : (c->exp->minimize ? fmin(opt[n - 1], t->y) : fmax(opt[n - 1], t->y));
        n++;
    }
    if (n <= 1 || n < (size_t)o->window)
        goto out;
    double now = opt[n - 1], then = opt[n - (size_t)o->window];
    qsort(obj, n, sizeof(double), cmp_double);
    double iqr = percentile(obj, n, 75) - percentile(obj, n, 25);
    double rel = fabs((now - then) / iqr);
    if (rel < o->improvement_bar) {
        char reason[256];
        snprintf(reason, sizeof(reason),
                 "The improvement in best objective in the past %d trials (=%.3f) is less "
                 "than %g times the interquartile range (IQR) of objectives attained so far "
                 "(IQR=%.3f).",
                 o->window, rel, o->improvement_bar, iqr);
        AXL_INFO("Scheduler", "Global stopping: %s", reason);
        axl_sched_request_stop(c, AXL_EXIT_GLOBAL_STOPPING, reason);
        stop = true;
    }
out:
    free(obj);
    free(opt);
    return stop;
}
