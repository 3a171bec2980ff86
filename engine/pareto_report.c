/*
 * pareto_report.c - the Pareto set of a multi-objective campaign and its hypervolume,
 * for `axle status`, `axle export --pareto` and experiment.stopped.
 */
#include "engine/pareto_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/campaign.h"
#include "engine/config_objectives.h"
#include "proto/axl_proto.h"

void axl_pareto_report_free(axl_pareto_report *r)
{
    free(r->trials);
    free(r->values);
    memset(r, 0, sizeof(*r));
}

bool axl_pareto_wanted(const axl_experiment *e)
{
    return e->moo != NULL && e->moo->n_objectives >= 2;
}

/* From n feasible rows of outcome values V (n x n_outcomes, objective units) of trials
 * idx: the front, its hypervolume and the reference point. */
static int report_of(const axl_objectives *o, size_t n, const double *V, const uint32_t *idx,
                     axl_pareto_report *r)
{
    size_t m = o->n_objectives, M = o->n_outcomes, i, j, q = 0;
    double *Ym = calloc((n ? n : 1) * m, sizeof(double)), ref[AXL_MOO_MAX_OBJECTIVES];
    unsigned char *mask = malloc(n ? n : 1);
    int rv = AXL_ENOMEM;

    memset(r, 0, sizeof(*r));
    r->n_objectives = m;
    if (Ym == NULL || mask == NULL)
        goto out;
    for (i = 0; i < n; i++)
        for (j = 0; j < m; j++)
            Ym[i * m + j] = (o->outcome[j].minimize ? -1 : 1) * V[i * M + j];
    axl_infer_ref_point(n, m, Ym, ref);
    for (j = 0; j < m; j++) {
        if (!isnan(o->outcome[j].threshold))
            ref[j] = (o->outcome[j].minimize ? -1 : 1) * o->outcome[j].threshold;
        else
            r->ref_inferred = true;
        r->ref[j] = (o->outcome[j].minimize ? -1 : 1) * ref[j];
    }
    r->hypervolume = n ? axl_hypervolume(n, m, Ym, ref) : 0.0;
    axl_pareto_mask(n, m, Ym, mask);
    r->trials = malloc((n ? n : 1) * sizeof(uint32_t));
    r->values = malloc((n ? n : 1) * m * sizeof(double));
    if (r->trials == NULL || r->values == NULL)
        goto out;
    for (i = 0; i < n; i++)
        if (mask[i]) {
            r->trials[q] = idx[i];
            for (j = 0; j < m; j++)
                r->values[q * m + j] = V[i * M + j];
            q++;
        }
    r->n = q;
    rv = 0;
out:
    if (rv != 0)
        axl_pareto_report_free(r);
    free(Ym);
    free(mask);
    return rv;
}

int axl_pareto_of_records(const axl_experiment *e, const axl_store_experiment *se,
                          axl_pareto_report *r)
{
    const axl_objectives *o = e->moo;
    size_t n = 0, M = o->n_outcomes;
    double *V = malloc((se->n_trials + 1) * M * sizeof(double));
    uint32_t *idx = malloc((se->n_trials + 1) * sizeof(uint32_t));
    int rv;
    if (V == NULL || idx == NULL) {
        free(V);
        free(idx);
        return AXL_ENOMEM;
    }
    for (size_t k = 0; k < se->n_trials; k++) {
        const axl_trial_rec *t = &se->trials[k];
        bool ok = t->status == AXL_TRIAL_COMPLETED;
        for (size_t j = 0; j < M && ok; j++)
            ok = isfinite(V[n * M + j] = axl_objectives_value(o, j, t->metrics, t->n_metrics));
        if (ok && axl_objectives_feasible(o, V + n * M))
            idx[n++] = t->index;
    }
    rv = report_of(o, n, V, idx, r);
    free(V);
    free(idx);
    return rv;
}

int axl_pareto_of_campaign(const axl_campaign *c, axl_pareto_report *r)
{
    const axl_objectives *o = c->exp->moo;
    size_t n = 0, M = o->n_outcomes;
    double *V = malloc((c->n_trials + 1) * M * sizeof(double));
    uint32_t *idx = malloc((c->n_trials + 1) * sizeof(uint32_t));
    int rv;
    if (V == NULL || idx == NULL) {
        free(V);
        free(idx);
        return AXL_ENOMEM;
    }
    for (uint32_t k = 0; k < c->n_trials; k++) {
        const axl_trial *t = &c->trials[k];
        bool ok = t->status == AXL_TRIAL_COMPLETED;
        for (size_t j = 0; j < M && ok; j++)
            ok = isfinite(V[n * M + j] = axl_objectives_value(o, j, t->metrics, t->n_metrics));
        if (ok && axl_objectives_feasible(o, V + n * M))
            idx[n++] = t->index;
    }
    rv = report_of(o, n, V, idx, r);
    free(V);
    free(idx);
    return rv;
}

static const axl_trial_rec *rec_of(const axl_store_experiment *se, uint32_t index)
{
    for (size_t k = 0; k < se->n_trials; k++)
        if (se->trials[k].index == index)
            return &se->trials[k];
    return NULL;
}

void axl_pareto_print(FILE *f, const axl_experiment *e, const axl_store_experiment *se)
{
    axl_pareto_report r;
    const axl_objectives *o = e->moo;
    if (!axl_pareto_wanted(e) || axl_pareto_of_records(e, se, &r) != 0)
        return;
    fprintf(f, "Pareto set: %zu trial(s), hypervolume %.6g against (", r.n, r.hypervolume);
    for (size_t j = 0; j < r.n_objectives; j++)
        fprintf(f, "%s%s %.6g", j ? ", " : "", o->label[j], r.ref[j]);
    fprintf(f, ")%s\n", r.ref_inferred ? " (reference inferred as Ax does)" : "");
    for (size_t i = 0; i < r.n; i++) {
        const axl_trial_rec *t = rec_of(se, r.trials[i]);
        fprintf(f, "  trial %-4u", r.trials[i]);
        for (size_t j = 0; j < r.n_objectives; j++)
            fprintf(f, " %s=%.6g", o->label[j], r.values[i * r.n_objectives + j]);
        if (t != NULL) {
            fputs(" at", f);
            for (uint32_t p = 0; p < t->n_params; p++) {
                const axl_value *v = &t->params[p].value;
                if (v->kind == AXL_VALUE_STR)
                    fprintf(f, " %s=%s", t->params[p].name, v->str);
                else if (v->kind == AXL_VALUE_INT)
                    fprintf(f, " %s=%lld", t->params[p].name, (long long)v->i);
                else if (v->kind == AXL_VALUE_BOOL)
                    fprintf(f, " %s=%s", t->params[p].name, v->b ? "true" : "false");
                else
                    fprintf(f, " %s=%.6g", t->params[p].name, v->num);
            }
        }
        fputc('\n', f);
    }
    axl_pareto_report_free(&r);
}

static void csv_field(FILE *f, const char *s)
{
    bool quote = strpbrk(s, ",\"\n") != NULL;
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int axl_pareto_csv(FILE *f, const axl_experiment *e, const axl_store_experiment *se)
{
    axl_pareto_report r;
    const axl_objectives *o = e->moo;
    int rv;
    if (!axl_pareto_wanted(e))
        return AXL_EINVAL;
    if ((rv = axl_pareto_of_records(e, se, &r)) != 0)
        return rv;
    fputs("trial_index", f);
    for (size_t p = 0; p < e->space.n_params; p++) {
        fputc(',', f);
        csv_field(f, e->info[p].name);
    }
    for (size_t j = 0; j < r.n_objectives; j++) {
        fputc(',', f);
        csv_field(f, o->label[j]);
    }
    fputc('\n', f);
    for (size_t i = 0; i < r.n; i++) {
        const axl_trial_rec *t = rec_of(se, r.trials[i]);
        fprintf(f, "%u", r.trials[i]);
        for (size_t p = 0; p < e->space.n_params; p++) {
            const axl_value *v = NULL;
            fputc(',', f);
            for (uint32_t q = 0; t != NULL && q < t->n_params; q++)
                if (strcmp(t->params[q].name, e->info[p].name) == 0)
                    v = &t->params[q].value;
            if (v == NULL)
                continue;
            if (v->kind == AXL_VALUE_STR)
                csv_field(f, v->str);
            else if (v->kind == AXL_VALUE_INT)
                fprintf(f, "%lld", (long long)v->i);
            else if (v->kind == AXL_VALUE_BOOL)
                fputs(v->b ? "true" : "false", f);
            else
                fprintf(f, "%.17g", v->num);
        }
        for (size_t j = 0; j < r.n_objectives; j++)
            fprintf(f, ",%.17g", r.values[i * r.n_objectives + j]);
        fputc('\n', f);
    }
    axl_pareto_report_free(&r);
    return 0;
}

int axl_pareto_pack(msgpack_packer *pk, const axl_campaign *c)
{
    axl_pareto_report r;
    int rv = axl_pareto_of_campaign(c, &r);
    if (rv != 0)
        return rv;
    msgpack_pack_map(pk, 4);
    axl_pack_kv_num(pk, "hypervolume", r.hypervolume);
    axl_pack_cstr(pk, "reference");
    msgpack_pack_array(pk, r.n_objectives);
    for (size_t j = 0; j < r.n_objectives; j++)
        msgpack_pack_double(pk, r.ref[j]);
    axl_pack_kv_bool(pk, "reference_inferred", r.ref_inferred);
    axl_pack_cstr(pk, "trials");
    msgpack_pack_array(pk, r.n);
    for (size_t i = 0; i < r.n; i++)
        msgpack_pack_uint32(pk, r.trials[i]);
    axl_pareto_report_free(&r);
    return 0;
}
