/*
 * config_ops.c - the parts of the experiment file that serve running a campaign by hand:
 * "status_quo" (a baseline trial deployed first) and "global_stopping" (Ax's
 * ImprovementGlobalStoppingStrategy), and turning named parameter values into a point
 * (the status quo, `axle trial NAME attach`, `axle attach NAME FILE.csv`).
 */
#include "engine/experiment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int axl_experiment_point(const axl_experiment *e, const axl_param_value *params, size_t n,
                         const char *where, double *x, axl_errbuf *eb)
{
    size_t np = e->space.n_params;
    for (size_t k = 0; k < n; k++) {
        if (axl_experiment_param_index(e, params[k].name) < 0)
            return axl_fail(eb, AXL_EINVAL, "%s: unknown parameter '%s'", where, params[k].name);
        for (size_t q = 0; q < k; q++)
            if (strcmp(params[q].name, params[k].name) == 0)
                return axl_fail(eb, AXL_EINVAL, "%s: parameter '%s' given twice", where,
                                params[k].name);
    }
    for (size_t i = 0; i < np; i++) {
        const axl_param *p = &e->params[i];
        const char *name = e->info[i].name;
        const axl_value *v = NULL;
        for (size_t k = 0; k < n; k++)
            if (strcmp(params[k].name, name) == 0)
                v = &params[k].value;
        if (v == NULL) {
            if (p->type == AXL_PARAM_FIXED) {
                x[i] = p->value;
                continue;
            }
            return axl_fail(eb, AXL_EMISSING, "%s: parameter '%s' is missing", where, name);
        }
        if (axl_experiment_coord_of(e, i, v, &x[i]) != 0) {
            char text[64];
            if (v->kind == AXL_VALUE_STR)
                snprintf(text, sizeof(text), "'%.40s'", v->str);
            else if (v->kind == AXL_VALUE_BOOL)
                snprintf(text, sizeof(text), "%s", v->b ? "true" : "false");
            else if (v->kind == AXL_VALUE_INT)
                snprintf(text, sizeof(text), "%lld", (long long)v->i);
            else
                snprintf(text, sizeof(text), "%.17g", v->num);
            return axl_fail(eb, AXL_EINVAL, "%s: %s is not a value of parameter '%s'", where, text,
                            name);
        }
        if (p->type == AXL_PARAM_FLOAT || p->type == AXL_PARAM_INT) {
            if (x[i] < p->lower || x[i] > p->upper)
                return axl_fail(eb, AXL_ERANGE, "%s: %s = %.17g is outside [%.17g, %.17g]", where,
                                name, x[i], p->lower, p->upper);
            if (p->type == AXL_PARAM_INT && x[i] != floor(x[i]))
                return axl_fail(eb, AXL_EINVAL, "%s: %s = %.17g is not an integer", where, name,
                                x[i]);
        }
        if (p->type == AXL_PARAM_FIXED) {
            const axl_value *f = &e->info[i].fixed;
            double num = v->kind == AXL_VALUE_INT    ? (double)v->i
                         : v->kind == AXL_VALUE_BOOL ? (double)v->b
                                                     : v->num;
            bool same = f->kind == AXL_VALUE_STR
                            ? v->kind == AXL_VALUE_STR && strcmp(f->str, v->str) == 0
                            : v->kind != AXL_VALUE_STR && num == p->value;
            if (!same)
                return axl_fail(eb, AXL_EINVAL, "%s: %s is fixed at another value", where, name);
        }
    }
    for (size_t c = 0; c < e->space.n_constraints; c++) {
        const axl_linear_constraint *lc = &e->constraints[c];
        double s = 0;
        for (size_t i = 0; i < np; i++)
            s += lc->w[i] * x[i];
        if (s > lc->bound + 1e-9 * (1 + fabs(lc->bound)))
            return axl_fail(eb, AXL_ERANGE, "%s: violates the constraint '%s'", where,
                            e->constraint_text[c]);
    }
    return 0;
}

static int status_quo(json_t *j, axl_experiment *e, axl_errbuf *eb)
{
    axl_param_value pv[AXL_MODEL_MAX_PARAMS];
    size_t n = 0;
    const char *key;
    json_t *val;
    if (!json_is_object(j))
        return axl_fail(eb, AXL_ECONFIG, "status_quo: must be an object of parameter values");
    json_object_foreach(j, key, val)
    {
        if (n == AXL_MODEL_MAX_PARAMS)
            return axl_fail(eb, AXL_ECONFIG, "status_quo: too many parameters");
        axl_value v = {0};
        if (json_is_string(val)) {
            v.kind = AXL_VALUE_STR;
            v.str = json_string_value(val);
        } else if (json_is_boolean(val)) {
            v.kind = AXL_VALUE_BOOL;
            v.b = json_is_true(val);
        } else if (json_is_integer(val)) {
            v.kind = AXL_VALUE_INT;
            v.i = json_integer_value(val);
        } else if (json_is_real(val)) {
            v.kind = AXL_VALUE_NUM;
            v.num = json_real_value(val);
        } else {
            return axl_fail(eb, AXL_ECONFIG, "status_quo.%s: must be a number, string or boolean",
                            key);
        }
        pv[n++] = (axl_param_value){key, v};
    }
    double *x = malloc((e->space.n_params ? e->space.n_params : 1) * sizeof(double));
    if (x == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    axl_errbuf inner = {{0}};
    if (axl_experiment_point(e, pv, n, "status_quo", x, &inner) != 0) {
        free(x);
        return axl_fail(eb, AXL_ECONFIG, "%s", inner.msg);
    }
    e->status_quo = x;
    return 0;
}

static int global_stopping(json_t *j, axl_gss_options *o, axl_errbuf *eb)
{
    static const char *const keys[] = {"min_trials", "window", "improvement_bar",
                                       "inactive_when_pending_trials", NULL};
    const char *key;
    json_t *val;
    *o = (axl_gss_options){true, 0, 5, 0.1, true};
    if (!json_is_object(j))
        return axl_fail(eb, AXL_ECONFIG, "global_stopping: must be an object");
    json_object_foreach(j, key, val)
    {
        bool known = false;
        for (const char *const *k = keys; *k != NULL; k++)
            known = known || strcmp(*k, key) == 0;
        if (!known)
            return axl_fail(eb, AXL_ECONFIG,
                            "global_stopping.%s: unknown key (known: min_trials, window, "
                            "improvement_bar, inactive_when_pending_trials)",
                            key);
    }
    json_t *v = json_object_get(j, "min_trials");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000000)
        return axl_fail(eb, AXL_ECONFIG,
                        "global_stopping.min_trials: required (Ax has no default), an integer "
                        "from 1");
    o->min_trials = (int)json_integer_value(v);
    if ((v = json_object_get(j, "window")) != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000000)
            return axl_fail(eb, AXL_ECONFIG, "global_stopping.window: an integer from 1");
        o->window = (int)json_integer_value(v);
    }
    if ((v = json_object_get(j, "improvement_bar")) != NULL && !json_is_null(v)) {
        if (!json_is_number(v) || !(json_number_value(v) >= 0) || !isfinite(json_number_value(v)))
            return axl_fail(eb, AXL_ECONFIG,
                            "global_stopping.improvement_bar: must be a number >= 0");
        o->improvement_bar = json_number_value(v);
    }
    if ((v = json_object_get(j, "inactive_when_pending_trials")) != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return axl_fail(eb, AXL_ECONFIG,
                            "global_stopping.inactive_when_pending_trials: must be true or false");
        o->inactive_when_pending_trials = json_is_true(v);
    }
    return 0;
}

int axl_config_ops_parse(json_t *root, axl_experiment *e, axl_errbuf *eb)
{
    json_t *j = json_object_get(root, "status_quo");
    int rv;
    if (j != NULL && !json_is_null(j) && (rv = status_quo(j, e, eb)) != 0)
        return rv;
    j = json_object_get(root, "global_stopping");
    if (j != NULL && !json_is_null(j) && (rv = global_stopping(j, &e->global_stopping, eb)) != 0)
        return rv;
    return 0;
}
