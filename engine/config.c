/*
 * config.c - the experiment file (JSON) to an axl_experiment.
 *
 * Every error names the JSON path and the reason, e.g.
 *   search_space.parameters[2].bounds: lower 30 must be below upper 5
 * Unknown keys are errors: in a file that drives a week of robot time a typo such as
 * "max_pending_trial" must not silently fall back to a default.
 */
#include "engine/experiment.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config_objectives.h"
#include "engine/config_tls.h"
#include "proto/axl_util.h"
#include "proto/json/axl_json.h"

#define CFG_FAIL(eb, ...) axl_fail((eb), AXL_ECONFIG, __VA_ARGS__)

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AXL_PROTO_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return false;
    return true;
}

/* Rejects keys of obj not in allowed (NULL-terminated). */
static int check_keys(json_t *obj, const char *path, const char *const *allowed, axl_errbuf *eb)
{
    return axl_json_check_keys(obj, path, allowed, AXL_ECONFIG, eb);
}

/* Reads an optional number; null counts as absent. */
static int get_num(json_t *obj, const char *path, const char *key, double lo, double hi,
                   double *out, axl_errbuf *eb)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return CFG_FAIL(eb, "%s.%s: must be a number", path, key);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return CFG_FAIL(eb, "%s.%s: %g is outside [%g, %g]", path, key, d, lo, hi);
    *out = d;
    return 0;
}

static int get_int(json_t *obj, const char *path, const char *key, long lo, long hi, int *out,
                   axl_errbuf *eb)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return CFG_FAIL(eb, "%s.%s: must be an integer", path, key);
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi)
        return CFG_FAIL(eb, "%s.%s: %lld is outside [%ld, %ld]", path, key, (long long)i, lo, hi);
    *out = (int)i;
    return 0;
}

static int get_bool(json_t *obj, const char *path, const char *key, bool *out, axl_errbuf *eb)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return CFG_FAIL(eb, "%s.%s: must be true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

static int json_to_value(json_t *j, axl_value *v)
{
    memset(v, 0, sizeof(*v));
    if (json_is_integer(j)) {
        v->kind = AXL_VALUE_INT;
        v->i = json_integer_value(j);
        v->num = (double)v->i;
    } else if (json_is_real(j)) {
        v->kind = AXL_VALUE_NUM;
        v->num = json_real_value(j);
    } else if (json_is_string(j)) {
        v->kind = AXL_VALUE_STR;
        if ((v->str = axl_xstrdup(json_string_value(j))) == NULL)
            return AXL_ENOMEM;
    } else if (json_is_boolean(j)) {
        v->kind = AXL_VALUE_BOOL;
        v->b = json_is_true(j);
        v->num = v->b;
    } else {
        return AXL_ETYPE;
    }
    return 0;
}

static bool values_equal(const axl_value *a, const axl_value *b)
{
    if (a->kind == AXL_VALUE_STR || b->kind == AXL_VALUE_STR)
        return a->kind == b->kind && strcmp(a->str, b->str) == 0;
    return a->num == b->num;
}

static int parse_param(json_t *j, const char *path, axl_param *p, axl_param_info *info,
                       axl_errbuf *eb)
{
    static const char *const keys[] = {"name",       "type",      "value_type", "bounds", "values",
                                       "is_ordered", "log_scale", "value",      NULL};
    int rv;
    if (!json_is_object(j))
        return CFG_FAIL(eb, "%s: must be an object", path);
    if ((rv = check_keys(j, path, keys, eb)) != 0)
        return rv;
    json_t *name = json_object_get(j, "name");
    if (!json_is_string(name) || !name_ok(json_string_value(name)))
        return CFG_FAIL(eb, "%s.name: must be a name of 1-%d letters, digits, '_', '-', '.'", path,
                        AXL_PROTO_MAX_NAME);
    if ((info->name = axl_xstrdup(json_string_value(name))) == NULL)
        return AXL_ENOMEM;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type == NULL)
        return CFG_FAIL(eb, "%s.type: required, one of range, choice, fixed", path);
    const char *vt = json_string_value(json_object_get(j, "value_type"));
    if (json_object_get(j, "value_type") != NULL && vt == NULL)
        return CFG_FAIL(eb, "%s.value_type: must be a string", path);

    if (strcmp(type, "range") == 0) {
        p->type = AXL_PARAM_FLOAT;
        if (vt != NULL && strcmp(vt, "int") == 0)
            p->type = AXL_PARAM_INT;
        else if (vt != NULL && strcmp(vt, "float") != 0)
            return CFG_FAIL(eb, "%s.value_type: '%s' is not float or int", path, vt);
        json_t *b = json_object_get(j, "bounds");
        if (!json_is_array(b) || json_array_size(b) != 2 || !json_is_number(json_array_get(b, 0)) ||
            !json_is_number(json_array_get(b, 1)))
            return CFG_FAIL(eb, "%s.bounds: must be [lower, upper] numbers", path);
        p->lower = json_number_value(json_array_get(b, 0));
        p->upper = json_number_value(json_array_get(b, 1));
        if (!isfinite(p->lower) || !isfinite(p->upper) || !(p->lower < p->upper))
            return CFG_FAIL(eb, "%s.bounds: lower %g must be below upper %g", path, p->lower,
                            p->upper);
        if (p->type == AXL_PARAM_INT &&
            (p->lower != floor(p->lower) || p->upper != floor(p->upper)))
            return CFG_FAIL(eb, "%s.bounds: an int parameter needs integer bounds", path);
        bool log_scale = false;
        if ((rv = get_bool(j, path, "log_scale", &log_scale, eb)) != 0)
            return rv;
        p->log_scale = log_scale;
        if (p->log_scale && p->lower <= 0)
            return CFG_FAIL(eb, "%s.bounds: log_scale needs a lower bound above 0, not %g", path,
                            p->lower);
        if (json_object_get(j, "values") || json_object_get(j, "value"))
            return CFG_FAIL(eb, "%s: a range parameter takes bounds, not values", path);
        return 0;
    }
    if (strcmp(type, "choice") == 0) {
        p->type = AXL_PARAM_CHOICE;
        json_t *vals = json_object_get(j, "values");
        if (!json_is_array(vals) || json_array_size(vals) < 2 ||
            json_array_size(vals) > AXL_MODEL_MAX_CHOICES)
            return CFG_FAIL(eb, "%s.values: must be an array of 2 to %d values", path,
                            AXL_MODEL_MAX_CHOICES);
        p->n_choices = info->n_values = (int)json_array_size(vals);
        if ((info->values = calloc((size_t)info->n_values, sizeof(axl_value))) == NULL)
            return AXL_ENOMEM;
        axl_value *values = info->values;
        bool numeric = true;
        for (int i = 0; i < info->n_values; i++) {
            json_t *v = json_array_get(vals, (size_t)i);
            if ((rv = json_to_value(v, &values[i])) != 0)
                return rv == AXL_ENOMEM ? rv
                                        : CFG_FAIL(eb,
                                                   "%s.values[%d]: must be a number, "
                                                   "string or boolean",
                                                   path, i);
            if (values[i].kind == AXL_VALUE_STR || values[i].kind == AXL_VALUE_BOOL)
                numeric = false;
            if (i > 0 && (values[i].kind == AXL_VALUE_STR) != (values[0].kind == AXL_VALUE_STR))
                return CFG_FAIL(eb, "%s.values[%d]: all values must have one type", path, i);
            for (int k = 0; k < i; k++)
                if (values_equal(&values[k], &values[i]))
                    return CFG_FAIL(eb, "%s.values[%d]: duplicate of values[%d]", path, i, k);
        }
        bool ordered = numeric; /* Ax orders numeric choices unless told otherwise */
        if ((rv = get_bool(j, path, "is_ordered", &ordered, eb)) != 0)
            return rv;
        if (ordered && !numeric)
            return CFG_FAIL(eb, "%s.is_ordered: only numeric choices can be ordered", path);
        p->ordered = ordered;
        return 0;
    }
    if (strcmp(type, "fixed") == 0) {
        p->type = AXL_PARAM_FIXED;
        json_t *v = json_object_get(j, "value");
        if (v == NULL || (rv = json_to_value(v, &info->fixed)) != 0)
            return rv == AXL_ENOMEM ? rv
                                    : CFG_FAIL(eb,
                                               "%s.value: required, a number, string or "
                                               "boolean",
                                               path);
        p->value = info->fixed.kind == AXL_VALUE_STR ? 0 : info->fixed.num;
        return 0;
    }
    return CFG_FAIL(eb, "%s.type: '%s' is not range, choice or fixed", path, type);
}

/* Adds mult times the terms at *pp ("2*x1 + x2 - 0.5 * x3 + 4") to w, and mult times
 * its constants to *constant; *pp moves past them. */
static int parse_terms(const char **pp, const char *text, const char *path, const axl_experiment *e,
                       double *w, double mult, double *constant, axl_errbuf *eb)
{
    const char *p = *pp;
    int terms = 0;
    double sign = 1;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (terms > 0) {
            if (*p == '+')
                sign = 1;
            else if (*p == '-')
                sign = -1;
            else
                break;
            p++;
            while (isspace((unsigned char)*p))
                p++;
        } else if (*p == '-') {
            sign = -1;
            p++;
            while (isspace((unsigned char)*p))
                p++;
        }
        double coef = 1;
        if (isdigit((unsigned char)*p) || *p == '.') {
            char *end;
            errno = 0;
            coef = strtod(p, &end);
            if (end == p || errno != 0)
                return CFG_FAIL(eb, "%s: bad coefficient in '%s'", path, text);
            p = end;
            while (isspace((unsigned char)*p))
                p++;
            if (*p != '*' && !isalpha((unsigned char)*p) && *p != '_') {
                *constant += mult * sign * coef; /* a constant term */
                terms++;
                continue;
            }
            if (*p != '*')
                return CFG_FAIL(eb, "%s: expected '*' after %g in '%s'", path, coef, text);
            p++;
            while (isspace((unsigned char)*p))
                p++;
        }
        const char *start = p;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
            p++;
        if (p == start)
            return CFG_FAIL(eb, "%s: expected a parameter name at '%s'", path, start);
        int idx = -1;
        for (size_t i = 0; i < e->space.n_params; i++)
            if (strlen(e->info[i].name) == (size_t)(p - start) &&
                strncmp(e->info[i].name, start, (size_t)(p - start)) == 0)
                idx = (int)i;
        if (idx < 0)
            return CFG_FAIL(eb, "%s: unknown parameter '%.*s'", path, (int)(p - start), start);
        if (e->params[idx].type != AXL_PARAM_FLOAT && e->params[idx].type != AXL_PARAM_INT)
            return CFG_FAIL(eb, "%s: '%s' is not a range parameter", path, e->info[idx].name);
        if (e->params[idx].log_scale)
            return CFG_FAIL(eb,
                            "%s: '%s' is on a log scale; linear constraints need linear "
                            "parameters",
                            path, e->info[idx].name);
        w[idx] += mult * sign * coef;
        terms++;
    }
    *pp = p;
    return 0;
}

/* Parses "2*x1 + x2 - 0.5 * x3 <= 10" (or >=) over range parameters; the right side may
 * also be terms, as Ax's order constraint "x1 <= x2" (then the bound is 0). */
static int parse_constraint(const char *text, const char *path, const axl_experiment *e, double *w,
                            double *bound_out, axl_errbuf *eb)
{
    const char *p = text;
    double constant = 0, dir;
    int rv;
    if ((rv = parse_terms(&p, text, path, e, w, 1, &constant, eb)) != 0)
        return rv;
    if (strncmp(p, "<=", 2) == 0)
        dir = 1;
    else if (strncmp(p, ">=", 2) == 0)
        dir = -1;
    else
        return CFG_FAIL(eb, "%s: expected '<=' or '>=' in '%s'", path, text);
    p += 2;
    /* The right side's terms move to the left, the constants to the right. */
    if ((rv = parse_terms(&p, text, path, e, w, -1, &constant, eb)) != 0)
        return rv;
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        return CFG_FAIL(eb, "%s: unexpected '%s' in '%s'", path, p, text);
    bool any = false;
    for (size_t i = 0; i < e->space.n_params; i++) {
        any = any || w[i] != 0;
        w[i] *= dir;
    }
    if (!any)
        return CFG_FAIL(eb, "%s: '%s' constrains no parameter", path, text);
    *bound_out = -dir * constant;
    if (!isfinite(*bound_out))
        return CFG_FAIL(eb, "%s: the bound of '%s' is not finite", path, text);
    return 0;
}

/*
 * Infeasible constraints are an error before anything runs. 4096 scrambled Sobol points
 * in the box of the range parameters (ints relaxed, as the generators draw them): if one
 * satisfies every constraint (to 1e-9 relative) the space is accepted. If none does, the
 * file is refused; the message names a constraint that alone cannot hold - the minimum
 * of its left side over the bounds exceeds its bound, an exact check - when there is
 * one, else says the constraints together leave no room the samples could find (an
 * empty or a very thin region, e.g. an equality written as <= and >=).
 */
#define FEASIBLE_SAMPLES 4096
static int check_feasible(const axl_experiment *e, axl_errbuf *eb)
{
    const axl_space *s = &e->space;
    if (s->n_constraints == 0)
        return 0;
    size_t n = s->n_params;
    for (size_t k = 0; k < s->n_constraints; k++) {
        double lo = 0, scale = fabs(s->constraints[k].bound);
        for (size_t i = 0; i < n; i++) {
            double w = s->constraints[k].w[i];
            if (w == 0)
                continue;
            double v = w > 0 ? w * s->params[i].lower : w * s->params[i].upper;
            lo += v;
            scale += fabs(v);
        }
        if (lo > s->constraints[k].bound + 1e-9 * (1 + scale))
            return CFG_FAIL(
                eb,
                "search_space.parameter_constraints[%zu]: no point satisfies the "
                "parameter constraints: the left side of '%s' is at least %g within the bounds",
                k, e->constraint_text[k], lo);
    }
    double *u = malloc(FEASIBLE_SAMPLES * n * sizeof(double));
    if (u == NULL)
        return AXL_ENOMEM;
    if (axl_sobol_fill((unsigned)n, 1, 0, FEASIBLE_SAMPLES, u) != 0) {
        free(u);
        return 0; /* no sampler for this space: the generators decide */
    }
    bool found = false;
    for (size_t p = 0; p < FEASIBLE_SAMPLES && !found; p++) {
        bool ok = true;
        for (size_t k = 0; k < s->n_constraints && ok; k++) {
            double lhs = 0, scale = fabs(s->constraints[k].bound);
            for (size_t i = 0; i < n; i++) {
                double w = s->constraints[k].w[i];
                if (w == 0)
                    continue;
                double x =
                    s->params[i].lower + u[p * n + i] * (s->params[i].upper - s->params[i].lower);
                lhs += w * x;
                scale += fabs(w * x);
            }
            ok = lhs <= s->constraints[k].bound + 1e-9 * (1 + scale);
        }
        found = ok;
    }
    free(u);
    if (!found)
        return CFG_FAIL(eb,
                        "search_space.parameter_constraints: no point satisfies the parameter "
                        "constraints (none of %d points sampled within the bounds does; each "
                        "constraint alone can hold, together they leave no room)",
                        FEASIBLE_SAMPLES);
    return 0;
}

static int parse_space(json_t *j, axl_experiment *e, axl_errbuf *eb)
{
    static const char *const keys[] = {"parameters", "parameter_constraints", NULL};
    char path[96];
    int rv;
    if (!json_is_object(j))
        return CFG_FAIL(eb, "search_space: required, an object with parameters");
    if ((rv = check_keys(j, "search_space", keys, eb)) != 0)
        return rv;
    json_t *params = json_object_get(j, "parameters");
    if (!json_is_array(params) || json_array_size(params) == 0 ||
        json_array_size(params) > AXL_MODEL_MAX_PARAMS)
        return CFG_FAIL(eb, "search_space.parameters: must be an array of 1 to %d parameters",
                        AXL_MODEL_MAX_PARAMS);
    size_t n = json_array_size(params);
    if ((e->params = calloc(n, sizeof(axl_param))) == NULL ||
        (e->info = calloc(n, sizeof(axl_param_info))) == NULL)
        return AXL_ENOMEM;
    e->space.n_params = n;
    e->space.params = e->params;
    int free_params = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "search_space.parameters[%zu]", i);
        if ((rv = parse_param(json_array_get(params, i), path, &e->params[i], &e->info[i], eb)) !=
            0)
            return rv;
        for (size_t k = 0; k < i; k++)
            if (strcmp(e->info[k].name, e->info[i].name) == 0)
                return CFG_FAIL(eb, "%s.name: '%s' is already search_space.parameters[%zu]", path,
                                e->info[i].name, k);
        if (e->params[i].type != AXL_PARAM_FIXED)
            free_params++;
    }
    if (free_params == 0)
        return CFG_FAIL(eb, "search_space.parameters: nothing to optimize, every parameter is "
                            "fixed");
    json_t *cons = json_object_get(j, "parameter_constraints");
    if (cons != NULL && !json_is_null(cons)) {
        if (!json_is_array(cons) || json_array_size(cons) > 64)
            return CFG_FAIL(eb, "search_space.parameter_constraints: must be an array of at "
                                "most 64 strings like \"x1 + 2*x2 <= 10\"");
        size_t nc = json_array_size(cons);
        if ((e->constraints = calloc(nc + 1, sizeof(axl_linear_constraint))) == NULL ||
            (e->constraint_text = calloc(nc + 1, sizeof(char *))) == NULL)
            return AXL_ENOMEM;
        for (size_t i = 0; i < nc; i++) {
            snprintf(path, sizeof(path), "search_space.parameter_constraints[%zu]", i);
            const char *text = json_string_value(json_array_get(cons, i));
            if (text == NULL)
                return CFG_FAIL(eb, "%s: must be a string like \"x1 + 2*x2 <= 10\"", path);
            double *w = calloc(n, sizeof(double));
            if (w == NULL || (e->constraint_text[i] = axl_xstrdup(text)) == NULL) {
                free(w);
                return AXL_ENOMEM;
            }
            e->constraints[i].w = w;
            e->space.n_constraints = i + 1;
            if ((rv = parse_constraint(text, path, e, w, &e->constraints[i].bound, eb)) != 0)
                return rv;
        }
        e->space.constraints = e->constraints;
    }
    axl_errbuf space_eb = {{0}};
    if (axl_space_check(&e->space, &space_eb) != 0)
        return CFG_FAIL(eb, "search_space: %s", space_eb.msg);
    return check_feasible(e, eb);
}

static int parse_objective(json_t *j, axl_experiment *e, axl_errbuf *eb)
{
    static const char *const keys[] = {"metric", "minimize", NULL};
    int rv;
    if (!json_is_object(j))
        return CFG_FAIL(eb, "objective: required, an object {metric, minimize}");
    if ((rv = check_keys(j, "objective", keys, eb)) != 0)
        return rv;
    const char *m = json_string_value(json_object_get(j, "metric"));
    if (m == NULL || !name_ok(m))
        return CFG_FAIL(eb, "objective.metric: required, a metric name");
    if ((e->metric = axl_xstrdup(m)) == NULL)
        return AXL_ENOMEM;
    if (json_object_get(j, "minimize") == NULL)
        return CFG_FAIL(eb, "objective.minimize: required, true or false");
    return get_bool(j, "objective", "minimize", &e->minimize, eb);
}

static int parse_strategy(json_t *j, axl_experiment *e, axl_errbuf *eb)
{
    static const char *const keys[] = {"steps", NULL};
    static const char *const step_keys[] = {
        "model", "num_trials", "min_trials_observed", "max_parallelism", "enforce_num_trials",
        "seed",  NULL};
    char path[64];
    int rv;
    if (j == NULL || json_is_null(j) ||
        (json_is_string(j) && strcmp(json_string_value(j), "auto") == 0)) {
        e->strategy_auto = true;
        return axl_gs_auto(&e->space, 0, &e->strategy) != 0 ? AXL_ECONFIG : 0;
    }
    if (!json_is_object(j))
        return CFG_FAIL(eb, "generation_strategy: must be \"auto\" or {\"steps\": [...]}");
    if ((rv = check_keys(j, "generation_strategy", keys, eb)) != 0)
        return rv;
    json_t *steps = json_object_get(j, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0 ||
        json_array_size(steps) > AXL_GS_MAX_STEPS)
        return CFG_FAIL(eb, "generation_strategy.steps: must be an array of 1 to %d steps",
                        AXL_GS_MAX_STEPS);
    e->strategy.n_steps = json_array_size(steps);
    for (size_t i = 0; i < e->strategy.n_steps; i++) {
        json_t *s = json_array_get(steps, i);
        axl_gen_step *st = &e->strategy.steps[i];
        snprintf(path, sizeof(path), "generation_strategy.steps[%zu]", i);
        if (!json_is_object(s))
            return CFG_FAIL(eb, "%s: must be an object", path);
        if ((rv = check_keys(s, path, step_keys, eb)) != 0)
            return rv;
        const char *model = json_string_value(json_object_get(s, "model"));
        if (model == NULL)
            return CFG_FAIL(eb, "%s.model: required, sobol or gp_logei", path);
        if (strcmp(model, "sobol") == 0 || strcmp(model, "Sobol") == 0)
            st->model = AXL_GEN_SOBOL;
        else if (strcmp(model, "gp_logei") == 0 || strcmp(model, "GPEI") == 0 ||
                 strcmp(model, "BOTORCH_MODULAR") == 0)
            st->model = AXL_GEN_GP_LOGEI;
        else
            return CFG_FAIL(eb, "%s.model: '%s' is not sobol or gp_logei", path, model);
        st->num_trials = -1;
        st->max_parallelism = -1;
        bool enforce = true;
        int seed = 0;
        if ((rv = get_int(s, path, "num_trials", -1, 1000000, &st->num_trials, eb)) ||
            (rv = get_int(s, path, "min_trials_observed", 0, 1000000, &st->min_trials_observed,
                          eb)) ||
            (rv = get_int(s, path, "max_parallelism", -1, 100000, &st->max_parallelism, eb)) ||
            (rv = get_bool(s, path, "enforce_num_trials", &enforce, eb)) ||
            (rv = get_int(s, path, "seed", 0, 2147483647, &seed, eb)))
            return rv;
        st->enforce_num_trials = enforce;
        if (st->num_trials == 0 || st->max_parallelism == 0)
            return CFG_FAIL(eb, "%s: num_trials and max_parallelism must be positive or -1", path);
        if (st->num_trials > 0 && st->min_trials_observed > st->num_trials)
            return CFG_FAIL(eb, "%s.min_trials_observed: %d exceeds num_trials %d", path,
                            st->min_trials_observed, st->num_trials);
        if (st->num_trials < 0 && i != e->strategy.n_steps - 1)
            return CFG_FAIL(eb, "%s.num_trials: only the last step may be unlimited (-1)", path);
        st->seed = (uint64_t)seed;
    }
    axl_errbuf gs_eb;
    if (axl_gs_check(&e->strategy, &gs_eb) != 0)
        return CFG_FAIL(eb, "generation_strategy: %s", gs_eb.msg);
    return 0;
}

static int parse_scheduler(json_t *j, axl_sched_options *o, axl_errbuf *eb)
{
    static const char *const keys[] = {"max_pending_trials",
                                       "total_trials",
                                       "tolerated_trial_failure_rate",
                                       "min_failed_trials_for_failure_rate_check",
                                       "ttl_seconds_for_trials",
                                       "timeout_hours",
                                       "run_trials_in_batches",
                                       "wait_for_running_trials",
                                       NULL};
    const char *P = "scheduler";
    int rv;
    *o = (axl_sched_options){10, -1, 0.5, 5, 0, -1, false, true};
    if (j == NULL || json_is_null(j))
        return 0;
    if (!json_is_object(j))
        return CFG_FAIL(eb, "scheduler: must be an object");
    if ((rv = check_keys(j, P, keys, eb)) != 0)
        return rv;
    json_t *rate = json_object_get(j, "tolerated_trial_failure_rate");
    if (json_is_number(rate) && !(json_number_value(rate) >= 0 && json_number_value(rate) < 1))
        return CFG_FAIL(eb, "scheduler.tolerated_trial_failure_rate: must be in [0, 1)");
    json_t *ttl = json_object_get(j, "ttl_seconds_for_trials");
    if (json_is_number(ttl) && !(json_number_value(ttl) > 0))
        return CFG_FAIL(eb, "scheduler.ttl_seconds_for_trials: must be above 0 (or null)");
    if ((rv = get_int(j, P, "max_pending_trials", 1, 100000, &o->max_pending_trials, eb)) ||
        (rv = get_int(j, P, "total_trials", 0, 10000000, &o->total_trials, eb)) ||
        (rv = get_num(j, P, "tolerated_trial_failure_rate", 0, 1, &o->tolerated_trial_failure_rate,
                      eb)) ||
        (rv = get_int(j, P, "min_failed_trials_for_failure_rate_check", 1, 10000000,
                      &o->min_failed_trials_for_failure_rate_check, eb)) ||
        (rv = get_num(j, P, "ttl_seconds_for_trials", 0, 1e9, &o->ttl_seconds_for_trials, eb)) ||
        (rv = get_num(j, P, "timeout_hours", 0, 1e6, &o->timeout_hours, eb)) ||
        (rv = get_bool(j, P, "run_trials_in_batches", &o->run_trials_in_batches, eb)) ||
        (rv = get_bool(j, P, "wait_for_running_trials", &o->wait_for_running_trials, eb)))
        return rv;
    return 0;
}

static int parse_root(json_t *root, axl_experiment *e, axl_errbuf *eb)
{
    static const char *const keys[] = {"name",
                                       "description",
                                       "search_space",
                                       "objective",
                                       "generation_strategy",
                                       "scheduler",
                                       "runner",
                                       "lab",
                                       "status_quo",
                                       "global_stopping",
                                       "objectives",
                                       "scalarized_objective",
                                       "outcome_constraints",
                                       "tracking_metrics",
                                       "tls",
                                       NULL};
    int rv;
    if (!json_is_object(root))
        return CFG_FAIL(eb, "(top level): must be an object");
    if ((rv = check_keys(root, "", keys, eb)) != 0)
        return rv;
    const char *name = json_string_value(json_object_get(root, "name"));
    /* The name becomes a file name (the lab's data directory, exports): a safe subset, no
     * hidden file ('.' first) and nothing an option parser would take ('-' first). */
    if (name == NULL || !name_ok(name) || name[0] == '.' || name[0] == '-')
        return CFG_FAIL(eb,
                        "name: required, 1-%d letters, digits, '_', '-', '.', starting with a "
                        "letter, a digit or '_'",
                        AXL_PROTO_MAX_NAME);
    if ((e->name = axl_xstrdup(name)) == NULL)
        return AXL_ENOMEM;
    if ((rv = parse_space(json_object_get(root, "search_space"), e, eb)) != 0 ||
        (!axl_config_has_objectives(root) &&
         (rv = parse_objective(json_object_get(root, "objective"), e, eb)) != 0) ||
        (rv = axl_config_objectives(root, e, eb)) != 0 ||
        (rv = parse_strategy(json_object_get(root, "generation_strategy"), e, eb)) != 0 ||
        (rv = parse_scheduler(json_object_get(root, "scheduler"), &e->options, eb)) != 0)
        return rv;

    json_t *runner = json_object_get(root, "runner");
    if (!json_is_object(runner))
        return CFG_FAIL(eb, "runner: required, an object with a type");
    const char *type = json_string_value(json_object_get(runner, "type"));
    if (type == NULL)
        return CFG_FAIL(eb, "runner.type: required, one of function, command, lab");
    if (strcmp(type, "function") == 0)
        e->runner_kind = AXL_RUNNER_FUNCTION;
    else if (strcmp(type, "command") == 0)
        e->runner_kind = AXL_RUNNER_COMMAND;
    else if (strcmp(type, "lab") == 0)
        e->runner_kind = AXL_RUNNER_LAB;
    else
        return CFG_FAIL(eb, "runner.type: '%s' is not function, command or lab", type);
    e->runner = json_incref(runner);
    json_t *lab = json_object_get(root, "lab");
    if (lab != NULL && !json_is_object(lab))
        return CFG_FAIL(eb, "lab: must be an object");
    if (e->runner_kind == AXL_RUNNER_LAB && lab == NULL)
        return CFG_FAIL(eb, "lab: required by runner type lab");
    e->lab = lab != NULL ? json_incref(lab) : NULL;
    if ((rv = axl_config_tls_parse(root, e, eb)) != 0)
        return rv;
    return axl_config_ops_parse(root, e, eb);
}

int axl_experiment_parse(const char *source, size_t len, axl_experiment **out, axl_errbuf *eb)
{
    json_error_t jerr;
    axl_experiment *e = NULL;
    json_t *root = NULL;
    int rv;

    *out = NULL;
    if (len > (16u << 20))
        return CFG_FAIL(eb, "(file): %zu bytes is too large for an experiment file", len);
    root = json_loadb(source, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return CFG_FAIL(eb, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
    if ((e = calloc(1, sizeof(*e))) == NULL || (e->source = malloc(len + 1)) == NULL) {
        rv = AXL_ENOMEM;
        goto fail;
    }
    memcpy(e->source, source, len);
    e->source[len] = '\0';
    if ((rv = parse_root(root, e, eb)) != 0)
        goto fail;
    json_decref(root);
    *out = e;
    return 0;

fail:
    if (rv == AXL_ENOMEM)
        axl_fail(eb, rv, "out of memory reading the experiment");
    json_decref(root);
    axl_experiment_free(e);
    return rv;
}

int axl_experiment_load(const char *path, axl_experiment **out, axl_errbuf *eb)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    int rv;

    *out = NULL;
    if (f == NULL)
        return axl_fail(eb, AXL_ENOENT, "%s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rv = axl_fail(eb, AXL_EIO, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    if (size > (16 << 20)) {
        rv = axl_fail(eb, AXL_ECONFIG, "%s: %ld bytes is too large for an experiment file", path,
                      size);
        goto out;
    }
    if ((buf = malloc((size_t)size + 1)) == NULL) {
        rv = axl_fail(eb, AXL_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        rv = axl_fail(eb, AXL_EIO, "%s: short read", path);
        goto out;
    }
    rv = axl_experiment_parse(buf, (size_t)size, out, eb);
    if (rv == 0 && (rv = axl_config_tls_resolve(*out, path, eb)) != 0) {
        axl_experiment_free(*out);
        *out = NULL;
    }
    if (rv != 0 && eb != NULL) {
        /* Prefix the file name; the JSON path that follows says where in it. */
        char tmp[sizeof(eb->msg)];
        memcpy(tmp, eb->msg, sizeof(tmp));
        int n = snprintf(eb->msg, sizeof(eb->msg), "%s: ", path);
        if (n > 0 && (size_t)n < sizeof(eb->msg))
            snprintf(eb->msg + n, sizeof(eb->msg) - (size_t)n, "%.*s",
                     (int)(sizeof(eb->msg) - (size_t)n - 1), tmp);
    }
out:
    free(buf);
    fclose(f);
    return rv;
}

static void free_value(axl_value *v)
{
    if (v->kind == AXL_VALUE_STR)
        free((char *)v->str);
}

void axl_experiment_free(axl_experiment *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; e->info != NULL && i < e->space.n_params; i++) {
        axl_param_info *p = &e->info[i];
        free(p->name);
        for (int k = 0; k < p->n_values; k++)
            free_value(&p->values[k]);
        free(p->values);
        free_value(&p->fixed);
    }
    free(e->info);
    free(e->params);
    for (size_t i = 0; i < e->space.n_constraints; i++) {
        free((double *)e->constraints[i].w);
        free(e->constraint_text[i]);
    }
    free(e->constraints);
    free(e->constraint_text);
    free(e->name);
    free(e->source);
    free(e->metric);
    axl_objectives_free(e->moo);
    json_decref(e->runner);
    json_decref(e->lab);
    free(e->tls_cert);
    free(e->tls_key);
    free(e->tls_ca);
    free(e->status_quo);
    free(e);
}

int axl_experiment_param_index(const axl_experiment *e, const char *name)
{
    for (size_t i = 0; i < e->space.n_params; i++)
        if (strcmp(e->info[i].name, name) == 0)
            return (int)i;
    return -1;
}

axl_value axl_experiment_value_at(const axl_experiment *e, size_t i, double x)
{
    const axl_param *p = &e->params[i];
    const axl_param_info *info = &e->info[i];
    axl_value v = {0};
    switch (p->type) {
    case AXL_PARAM_FLOAT:
        v.kind = AXL_VALUE_NUM;
        v.num = x;
        return v;
    case AXL_PARAM_INT:
        v.kind = AXL_VALUE_INT;
        v.i = (int64_t)llround(x);
        v.num = (double)v.i;
        return v;
    case AXL_PARAM_CHOICE: {
        long k = lround(x);
        if (k < 0)
            k = 0;
        if (k >= info->n_values)
            k = info->n_values - 1;
        return info->values[k];
    }
    case AXL_PARAM_FIXED:
        return info->fixed;
    }
    return v;
}

int axl_experiment_coord_of(const axl_experiment *e, size_t i, const axl_value *v, double *x)
{
    const axl_param *p = &e->params[i];
    const axl_param_info *info = &e->info[i];
    double num = v->kind == AXL_VALUE_INT    ? (double)v->i
                 : v->kind == AXL_VALUE_BOOL ? (double)v->b
                                             : v->num;
    switch (p->type) {
    case AXL_PARAM_FLOAT:
    case AXL_PARAM_INT:
        if (v->kind == AXL_VALUE_STR || v->kind == AXL_VALUE_BOOL || !isfinite(num))
            return AXL_EINVAL;
        *x = num;
        return 0;
    case AXL_PARAM_CHOICE:
        for (int k = 0; k < info->n_values; k++) {
            const axl_value *c = &info->values[k];
            bool same = c->kind == AXL_VALUE_STR
                            ? (v->kind == AXL_VALUE_STR && strcmp(c->str, v->str) == 0)
                            : (v->kind != AXL_VALUE_STR && c->num == num);
            if (same) {
                *x = k;
                return 0;
            }
        }
        return AXL_EINVAL;
    case AXL_PARAM_FIXED:
        *x = p->value;
        return 0;
    }
    return AXL_EINVAL;
}

void axl_experiment_format_value(const axl_experiment *e, size_t i, double x, char *buf,
                                 size_t size)
{
    axl_value v = axl_experiment_value_at(e, i, x);
    switch (v.kind) {
    case AXL_VALUE_NUM:
        snprintf(buf, size, "%.6g", v.num);
        break;
    case AXL_VALUE_INT:
        snprintf(buf, size, "%lld", (long long)v.i);
        break;
    case AXL_VALUE_STR:
        snprintf(buf, size, "%s", v.str);
        break;
    case AXL_VALUE_BOOL:
        snprintf(buf, size, "%s", v.b ? "true" : "false");
        break;
    }
}
