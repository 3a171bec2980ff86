/*
 * cmd_lab_pareto.c - `axle lab pareto NAME`: the Pareto front a campaign on the
 * simulated line found, beside the film model's true front.
 *
 * The film model (hw/line/axl_film_model.h) gives every recipe's noise-free PL
 * intensity, peak position E0 and FWHM (2.355 s, as the PL analysis reports it). The
 * true front is found by dense sampling (a 32^4 grid of the box, the feasible points'
 * 2-D front by a sort and a sweep); the campaign's front is scored with the model's
 * noise-free values at its recipes, so measurement noise neither helps nor hurts it.
 * Both hypervolumes use the experiment's objective thresholds as the reference point.
 */
#include "engine/cmd_lab_pareto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/axl_engine.h"
#include "engine/cli.h"
#include "engine/config_objectives.h"
#include "engine/pareto_report.h"
#include "engine/status_quo.h"
#include "hw/line/axl_film_model.h"

#define GRID 32

static bool param_value(const axl_trial_rec *t, const char *name, double *v)
{
    for (uint32_t i = 0; i < t->n_params; i++)
        if (strcmp(t->params[i].name, name) == 0) {
            const axl_value *x = &t->params[i].value;
            *v = x->kind == AXL_VALUE_INT ? (double)x->i : x->num;
            return x->kind == AXL_VALUE_NUM || x->kind == AXL_VALUE_INT;
        }
    return false;
}

/* The outcome values (objectives in maximization convention in y[0..1]) of recipe x;
 * false when it violates a constraint. */
static bool truth_of(const axl_film_model *fm, const axl_experiment *e, const axl_film_inputs *x,
                     double *y)
{
    const axl_objectives *o = e->moo;
    double e0, s, v[AXL_MOO_MAX_OUTCOMES];
    axl_film_peak(fm, x, &e0, &s);
    axl_metric_value m[3] = {{e->metric, axl_film_intensity(fm, x), NAN},
                             {"pl_peak_ev", e0, NAN},
                             {"pl_fwhm_ev", 2.355 * s, NAN}};
    for (size_t j = 0; j < o->n_outcomes; j++)
        if (!isfinite(v[j] = axl_objectives_value(o, j, m, 3)))
            return false;
    for (size_t j = 0; j < 2; j++)
        y[j] = (o->outcome[j].minimize ? -1 : 1) * v[j];
    return axl_objectives_feasible(o, v) != 0;
}

static int cmp_first_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The true front's points (maximization convention) into *F (n_front rows of 2). */
static int true_front(const axl_film_model *fm, const axl_experiment *e, double **F,
                      size_t *n_front)
{
    size_t n = 0, cap = (size_t)GRID * GRID * GRID * GRID, q = 0;
    double *P = malloc(cap * 2 * sizeof(double));
    if (P == NULL)
        return AXL_ENOMEM;
    for (int a = 0; a < GRID; a++)
        for (int b = 0; b < GRID; b++)
            for (int c = 0; c < GRID; c++)
                for (int d = 0; d < GRID; d++) {
                    const int g[4] = {a, b, c, d};
                    double v[4];
                    for (int k = 0; k < 4; k++)
                        v[k] = fm->lo[k] + (fm->hi[k] - fm->lo[k]) * g[k] / (GRID - 1.0);
                    axl_film_inputs x = {v[0], v[1], v[2], v[3]};
                    if (truth_of(fm, e, &x, P + 2 * n))
                        n++;
                }
    /* sort by the first objective, descending; keep a point when it beats every point
     * before it on the second */
    qsort(P, n, 2 * sizeof(double), cmp_first_desc);
    double best2 = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (P[2 * i + 1] > best2) {
            best2 = P[2 * i + 1];
            P[2 * q] = P[2 * i];
            P[2 * q + 1] = P[2 * i + 1];
            q++;
        }
    *F = P;
    *n_front = q;
    return 0;
}

int axl_lab_pareto(const char *name, const char *store_dir)
{
    axl_store *s = NULL;
    axl_store_experiment *se = NULL;
    axl_experiment *e = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_errbuf eb = {{0}};
    double *F = NULL, *Y = NULL;
    size_t nF = 0, nY = 0;
    int code = AXL_EXIT_CODE_ERROR;

    if (axl_store_open(store_dir, &so, &s, &eb) != 0 || axl_store_load(s, name, &se, &eb) != 0 ||
        axl_experiment_from_store(s, name, &e, &eb) != 0) {
        fprintf(stderr, "axle lab pareto: %s\n", eb.msg);
        goto out;
    }
    axl_sq_of_records(e, se);
    if (e->moo == NULL || e->moo->n_objectives != 2 || isnan(e->moo->outcome[0].threshold) ||
        isnan(e->moo->outcome[1].threshold)) {
        fprintf(stderr, "axle lab pareto: %s needs 2 objectives with thresholds\n", name);
        code = AXL_EXIT_CODE_USAGE;
        goto out;
    }
    axl_film_model fm;
    axl_film_model_default(&fm);
    double ref[2];
    for (int j = 0; j < 2; j++)
        ref[j] = (e->moo->outcome[j].minimize ? -1 : 1) * e->moo->outcome[j].threshold;
    if (true_front(&fm, e, &F, &nF) != 0 || (Y = malloc((se->n_trials + 1) * 2 * 8)) == NULL) {
        fprintf(stderr, "axle lab pareto: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < se->n_trials; i++) {
        const axl_trial_rec *t = &se->trials[i];
        axl_film_inputs x;
        if (t->status == AXL_TRIAL_COMPLETED &&
            param_value(t, "antisolvent_volume", &x.antisolvent_volume) &&
            param_value(t, "antisolvent_rate", &x.antisolvent_rate) &&
            param_value(t, "antisolvent_timing", &x.antisolvent_timing) &&
            param_value(t, "anneal_duration", &x.anneal_duration) &&
            truth_of(&fm, e, &x, Y + 2 * nY))
            nY++;
    }
    double hv_true = axl_hypervolume(nF, 2, F, ref), hv_found = axl_hypervolume(nY, 2, Y, ref);
    axl_pareto_print(stdout, e, se);
    printf("true front (film model, %d^4 recipes, %zu points on the front), every %zuth:\n", GRID,
           nF, nF > 12 ? nF / 12 : 1);
    for (size_t i = 0; i<nF; i += nF> 12 ? nF / 12 : 1)
        printf("  %s=%.6g %s=%.6g\n", e->moo->label[0],
               (e->moo->outcome[0].minimize ? -1 : 1) * F[2 * i], e->moo->label[1],
               (e->moo->outcome[1].minimize ? -1 : 1) * F[2 * i + 1]);
    printf("hypervolume against (%s %g, %s %g): true front %.6g, front found %.6g "
           "(noise-free values at its recipes) = %.1f %%\n",
           e->moo->label[0], e->moo->outcome[0].threshold, e->moo->label[1],
           e->moo->outcome[1].threshold, hv_true, hv_found,
           hv_true > 0 ? 100.0 * hv_found / hv_true : 0.0);
    code = AXL_EXIT_CODE_OK;
out:
    free(F);
    free(Y);
    axl_experiment_free(e);
    axl_store_experiment_free(se);
    if (s != NULL)
        axl_store_close(s);
    return code;
}
