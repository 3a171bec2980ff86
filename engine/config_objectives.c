/*
 * config_objectives.c - "objectives", "scalarized_objective", "outcome_constraints"
 * and "tracking_metrics" of the experiment file (see config_objectives.h).
 */
#include "engine/config_objectives.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/experiment.h"
#include "proto/axl_util.h"
#include "proto/json/axl_json.h"

#define CFG_FAIL(eb, ...) axl_fail((eb), AXL_ECONFIG, __VA_ARGS__)

static bool metric_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > AXL_PROTO_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return false;
    return true;
}

bool axl_config_has_objectives(json_t *root)
{
    return json_object_get(root, "objectives") != NULL ||
           json_object_get(root, "scalarized_objective") != NULL;
}

void axl_objectives_free(axl_objectives *o)
{
    if (o == NULL)
        return;
    for (size_t j = 0; j < AXL_MOO_MAX_OUTCOMES; j++) {
        for (size_t t = 0; t < o->expr[j].n; t++)
            free(o->expr[j].metric[t]);
        free(o->label[j]);
    }
    for (size_t t = 0; t < o->n_tracking; t++)
        free(o->tracking[t]);
    free(o);
}

static int add_term(axl_outcome_expr *x, const char *name, size_t len, double w, const char *path,
                    axl_errbuf *eb)
{
    if (!metric_name_ok(name, len))
        return CFG_FAIL(eb, "%s: '%.*s' is not a metric name", path, (int)len, name);
    for (size_t t = 0; t < x->n; t++)
        if (strlen(x->metric[t]) == len && strncmp(x->metric[t], name, len) == 0) {
            x->w[t] += w;
            return 0;
        }
    if (x->n == AXL_OUTCOME_MAX_TERMS)
        return CFG_FAIL(eb, "%s: more than %d metrics", path, AXL_OUTCOME_MAX_TERMS);
    if ((x->metric[x->n] = malloc(len + 1)) == NULL)
        return AXL_ENOMEM;
    memcpy(x->metric[x->n], name, len);
    x->metric[x->n][len] = '\0';
    x->w[x->n++] = w;
    return 0;
}

static const char *skip_ws(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* A relative bound needs the status quo: "outcome_constraints[i]: ..." otherwise. */
static int relative_ok(const char *path, const char *what, bool have_sq, axl_errbuf *eb)
{
    if (have_sq)
        return 0;
    return CFG_FAIL(eb,
                    "%s: %s is relative to the status quo, and the experiment has no "
                    "\"status_quo\": give the baseline arm (\"status_quo\": {parameter: "
                    "value, ...}) or write the bound in the metric's units",
                    path, what);
}

/*
 * Ax's string form: "fwhm <= 0.12", "2*a - b >= 3"; relative to the status quo (Ax's
 * relative=True): "x >= -5%" (bound sq + |sq| * (-5) / 100), and "x <= 1.05*status_quo".
 * rel_a / rel_b receive the relative bound's coefficients (0 / 0: an absolute bound).
 */
static int parse_constraint_text(const char *text, const char *path, axl_outcome_expr *x,
                                 axl_outcome *oc, bool have_sq, double *rel_a, double *rel_b,
                                 axl_errbuf *eb)
{
    char what[200];
    snprintf(what, sizeof(what), "'%s'", text);
    const char *p = skip_ws(text);
    int terms = 0, rv;
    for (;;) {
        double sign = 1, coef = 1;
        if (terms > 0) {
            if (*p != '+' && *p != '-')
                break;
            sign = *p == '-' ? -1 : 1;
            p = skip_ws(p + 1);
        } else if (*p == '-') {
            sign = -1;
            p = skip_ws(p + 1);
        }
        if (isdigit((unsigned char)*p) || *p == '.') {
            char *end;
            errno = 0;
            coef = strtod(p, &end);
            if (end == p || errno != 0 || !isfinite(coef))
                return CFG_FAIL(eb, "%s: bad coefficient in '%s'", path, text);
            p = skip_ws(end);
            if (*p != '*')
                return CFG_FAIL(eb, "%s: expected '*' after %g in '%s'", path, coef, text);
            p = skip_ws(p + 1);
        }
        const char *start = p;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
            p++;
        if (p == start)
            return CFG_FAIL(eb, "%s: expected a metric name at '%s'", path, start);
        if ((rv = add_term(x, start, (size_t)(p - start), sign * coef, path, eb)) != 0)
            return rv;
        terms++;
        p = skip_ws(p);
    }
    if (strncmp(p, "<=", 2) == 0)
        oc->geq = 0;
    else if (strncmp(p, ">=", 2) == 0)
        oc->geq = 1;
    else
        return CFG_FAIL(eb, "%s: expected '<=' or '>=' in '%s'", path, text);
    p = skip_ws(p + 2);
    char *end;
    errno = 0;
    double bound = strtod(p, &end);
    if (end == p || errno != 0 || !isfinite(bound))
        return CFG_FAIL(eb, "%s: expected a number after the comparison in '%s'", path, text);
    p = skip_ws(end);
    *rel_a = *rel_b = 0;
    if (*p == '%') {
        if ((rv = relative_ok(path, what, have_sq, eb)) != 0)
            return rv;
        *rel_a = 1;
        *rel_b = bound / 100.0;
        bound = NAN;
        p = skip_ws(p + 1);
    } else if (*p == '*') {
        p = skip_ws(p + 1);
        if (strncmp(p, "status_quo", 10) != 0 || (isalnum((unsigned char)p[10]) || p[10] == '_'))
            return CFG_FAIL(eb, "%s: expected 'status_quo' after '*' in '%s'", path, text);
        if ((rv = relative_ok(path, what, have_sq, eb)) != 0)
            return rv;
        *rel_a = bound;
        bound = NAN;
        p = skip_ws(p + 10);
    }
    if (*p != '\0')
        return CFG_FAIL(eb, "%s: unexpected '%s' after the bound", path, p);
    oc->bound = bound;
    return 0;
}

/* Ax's object form: {"metric", "op": "<=" | ">=" | "LEQ" | "GEQ", "bound", "relative"}. */
static int parse_constraint_obj(json_t *j, const char *path, axl_outcome_expr *x, axl_outcome *oc,
                                bool have_sq, double *rel_a, double *rel_b, axl_errbuf *eb)
{
    char p2[96];
    static const char *const keys[] = {"metric", "op", "bound", "relative", NULL};
    int rv;
    if ((rv = axl_json_check_keys(j, path, keys, AXL_ECONFIG, eb)) != 0)
        return rv;
    const char *m = json_string_value(json_object_get(j, "metric"));
    const char *op = json_string_value(json_object_get(j, "op"));
    json_t *b = json_object_get(j, "bound"), *rel = json_object_get(j, "relative");
    if (m == NULL)
        return CFG_FAIL(eb, "%s.metric: required, a metric name", path);
    if (op == NULL || !(strcmp(op, "<=") == 0 || strcmp(op, ">=") == 0 || strcmp(op, "LEQ") == 0 ||
                        strcmp(op, "GEQ") == 0))
        return CFG_FAIL(eb, "%s.op: required, \"<=\" or \">=\"", path);
    if (!json_is_number(b) || !isfinite(json_number_value(b)))
        return CFG_FAIL(eb, "%s.bound: required, a number", path);
    if (rel != NULL && !json_is_boolean(rel))
        return CFG_FAIL(eb, "%s.relative: must be true or false", path);
    oc->geq = op[0] == '>' || op[0] == 'G';
    oc->bound = json_number_value(b);
    *rel_a = *rel_b = 0;
    if (json_is_true(rel)) {
        snprintf(p2, sizeof(p2), "%s.relative", path);
        if ((rv = relative_ok(p2, "the bound", have_sq, eb)) != 0)
            return rv;
        *rel_a = 1;
        *rel_b = oc->bound / 100.0;
        oc->bound = NAN;
    }
    return add_term(x, m, strlen(m), 1.0, path, eb);
}

static int set_label(axl_objectives *o, size_t j, const char *s)
{
    return (o->label[j] = axl_xstrdup(s)) == NULL ? AXL_ENOMEM : 0;
}

static int parse_objectives_list(json_t *arr, axl_objectives *o, axl_errbuf *eb)
{
    static const char *const keys[] = {"metric", "minimize", "threshold", NULL};
    char path[64];
    int rv;
    if (!json_is_array(arr) || json_array_size(arr) < 1 ||
        json_array_size(arr) > AXL_MOO_MAX_OBJECTIVES)
        return CFG_FAIL(eb, "objectives: must be an array of 1 to %d objectives",
                        AXL_MOO_MAX_OBJECTIVES);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *j = json_array_get(arr, i);
        axl_outcome *oc = &o->outcome[o->n_outcomes];
        snprintf(path, sizeof(path), "objectives[%zu]", i);
        if (!json_is_object(j))
            return CFG_FAIL(eb, "%s: must be an object {metric, minimize, threshold}", path);
        if ((rv = axl_json_check_keys(j, path, keys, AXL_ECONFIG, eb)) != 0)
            return rv;
        const char *m = json_string_value(json_object_get(j, "metric"));
        json_t *mn = json_object_get(j, "minimize"), *th = json_object_get(j, "threshold");
        if (m == NULL || !metric_name_ok(m, strlen(m)))
            return CFG_FAIL(eb, "%s.metric: required, a metric name", path);
        for (size_t q = 0; q < o->n_outcomes; q++)
            if (strcmp(o->expr[q].metric[0], m) == 0)
                return CFG_FAIL(eb, "%s.metric: '%s' is already an objective", path, m);
        if (!json_is_boolean(mn))
            return CFG_FAIL(eb, "%s.minimize: required, true or false", path);
        if (th != NULL && !json_is_null(th) &&
            !(json_is_number(th) && isfinite(json_number_value(th))))
            return CFG_FAIL(eb, "%s.threshold: must be a number", path);
        oc->role = AXL_OUTCOME_OBJECTIVE;
        oc->minimize = json_is_true(mn);
        oc->threshold = json_is_number(th) ? json_number_value(th) : NAN;
        if ((rv = add_term(&o->expr[o->n_outcomes], m, strlen(m), 1.0, path, eb)) != 0 ||
            (rv = set_label(o, o->n_outcomes, m)) != 0)
            return rv;
        o->n_outcomes++;
        o->n_objectives++;
    }
    return 0;
}

static int parse_scalarized(json_t *j, axl_objectives *o, axl_errbuf *eb)
{
    static const char *const keys[] = {"metrics", "weights", "minimize", NULL};
    const char *path = "scalarized_objective";
    char p2[80];
    int rv;
    if (!json_is_object(j))
        return CFG_FAIL(eb, "%s: must be an object {metrics, weights, minimize}", path);
    if ((rv = axl_json_check_keys(j, path, keys, AXL_ECONFIG, eb)) != 0)
        return rv;
    json_t *ms = json_object_get(j, "metrics"), *ws = json_object_get(j, "weights");
    json_t *mn = json_object_get(j, "minimize");
    size_t n = json_array_size(ms);
    if (!json_is_array(ms) || n < 1 || n > AXL_OUTCOME_MAX_TERMS)
        return CFG_FAIL(eb, "%s.metrics: must be an array of 1 to %d metric names", path,
                        AXL_OUTCOME_MAX_TERMS);
    if (ws != NULL && (!json_is_array(ws) || json_array_size(ws) != n))
        return CFG_FAIL(eb, "%s.weights: must be an array of %zu numbers (one per metric)", path,
                        n);
    if (mn != NULL && !json_is_boolean(mn))
        return CFG_FAIL(eb, "%s.minimize: must be true or false", path);
    for (size_t i = 0; i < n; i++) {
        const char *m = json_string_value(json_array_get(ms, i));
        json_t *w = ws ? json_array_get(ws, i) : NULL;
        snprintf(p2, sizeof(p2), "%s.metrics[%zu]", path, i);
        if (m == NULL)
            return CFG_FAIL(eb, "%s: must be a metric name", p2);
        if (w != NULL && !(json_is_number(w) && isfinite(json_number_value(w)))) {
            snprintf(p2, sizeof(p2), "%s.weights[%zu]", path, i);
            return CFG_FAIL(eb, "%s: must be a number", p2);
        }
        if ((rv = add_term(&o->expr[0], m, strlen(m), w ? json_number_value(w) : 1.0, p2, eb)) != 0)
            return rv;
    }
    o->outcome[0].role = AXL_OUTCOME_OBJECTIVE;
    o->outcome[0].minimize = json_is_true(mn);
    o->outcome[0].threshold = NAN;
    o->scalarized = true;
    o->n_outcomes = o->n_objectives = 1;
    return set_label(o, 0, "scalarized_objective");
}

static int parse_constraints(json_t *arr, axl_objectives *o, bool have_sq, axl_errbuf *eb)
{
    char path[64];
    int rv;
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return CFG_FAIL(eb, "outcome_constraints: must be an array");
    if (o->n_outcomes + json_array_size(arr) > AXL_MOO_MAX_OUTCOMES)
        return CFG_FAIL(eb, "outcome_constraints: at most %zu with %zu objective(s)",
                        AXL_MOO_MAX_OUTCOMES - o->n_outcomes, o->n_objectives);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *j = json_array_get(arr, i);
        size_t q = o->n_outcomes;
        axl_outcome *oc = &o->outcome[q];
        char label[160];
        snprintf(path, sizeof(path), "outcome_constraints[%zu]", i);
        oc->role = AXL_OUTCOME_CONSTRAINT;
        oc->threshold = NAN;
        if (json_is_string(j)) {
            if ((rv = parse_constraint_text(json_string_value(j), path, &o->expr[q], oc, have_sq,
                                            &o->rel_a[q], &o->rel_b[q], eb)) != 0)
                return rv;
            snprintf(label, sizeof(label), "%s", json_string_value(j));
        } else if (json_is_object(j)) {
            if ((rv = parse_constraint_obj(j, path, &o->expr[q], oc, have_sq, &o->rel_a[q],
                                           &o->rel_b[q], eb)) != 0)
                return rv;
            if (o->rel_a[q] != 0)
                snprintf(label, sizeof(label), "%s %s %g%%", o->expr[q].metric[0],
                         oc->geq ? ">=" : "<=", 100.0 * o->rel_b[q]);
            else
                snprintf(label, sizeof(label), "%s %s %g", o->expr[q].metric[0],
                         oc->geq ? ">=" : "<=", oc->bound);
        } else {
            return CFG_FAIL(eb, "%s: must be a string such as \"fwhm <= 0.12\" or an object", path);
        }
        if (o->rel_a[q] != 0) {
            o->relative[q] = true;
            o->n_relative++;
        }
        o->n_outcomes++;
        if ((rv = set_label(o, q, label)) != 0)
            return rv;
    }
    return 0;
}

static int parse_tracking(json_t *arr, axl_objectives *o, axl_errbuf *eb)
{
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > AXL_MAX_TRACKING)
        return CFG_FAIL(eb, "tracking_metrics: must be an array of at most %d metric names",
                        AXL_MAX_TRACKING);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *m = json_string_value(json_array_get(arr, i));
        if (m == NULL || !metric_name_ok(m, strlen(m)))
            return CFG_FAIL(eb, "tracking_metrics[%zu]: must be a metric name", i);
        if ((o->tracking[o->n_tracking] = axl_xstrdup(m)) == NULL)
            return AXL_ENOMEM;
        o->n_tracking++;
    }
    return 0;
}

int axl_config_objectives(json_t *root, axl_experiment *e, axl_errbuf *eb)
{
    json_t *objs = json_object_get(root, "objectives");
    json_t *sc = json_object_get(root, "scalarized_objective");
    json_t *cons = json_object_get(root, "outcome_constraints");
    json_t *tr = json_object_get(root, "tracking_metrics");
    json_t *sq = json_object_get(root, "status_quo");
    bool have_sq = sq != NULL && !json_is_null(sq); /* checked by config_ops.c */
    axl_objectives *o;
    int rv;

    if (objs == NULL && sc == NULL &&
        (cons == NULL || (json_is_array(cons) && !json_array_size(cons))) &&
        (tr == NULL || (json_is_array(tr) && !json_array_size(tr))))
        return 0; /* the single objective of config.c, nothing else */
    if ((objs != NULL) + (sc != NULL) + (json_object_get(root, "objective") != NULL) > 1)
        return CFG_FAIL(eb, "objectives: give one of objective, objectives and "
                            "scalarized_objective");
    if ((o = calloc(1, sizeof(*o))) == NULL)
        return AXL_ENOMEM;
    if (objs != NULL) {
        rv = parse_objectives_list(objs, o, eb);
    } else if (sc != NULL) {
        rv = parse_scalarized(sc, o, eb);
    } else {
        /* the single objective, already parsed by config.c */
        o->outcome[0].role = AXL_OUTCOME_OBJECTIVE;
        o->outcome[0].minimize = e->minimize;
        o->outcome[0].threshold = NAN;
        o->n_outcomes = o->n_objectives = 1;
        rv = add_term(&o->expr[0], e->metric, strlen(e->metric), 1.0, "objective.metric", eb);
        if (rv == 0)
            rv = set_label(o, 0, e->metric);
    }
    if (rv == 0)
        rv = parse_constraints(cons, o, have_sq, eb);
    if (rv == 0)
        rv = parse_tracking(tr, o, eb);
    if (rv == 0 && e->metric == NULL) {
        e->minimize = o->outcome[0].minimize;
        if ((e->metric = axl_xstrdup(o->expr[0].metric[0])) == NULL)
            rv = AXL_ENOMEM;
    }
    if (rv != 0) {
        axl_objectives_free(o);
        return rv;
    }
    e->moo = o;
    return 0;
}

double axl_objectives_value(const axl_objectives *o, size_t j, const axl_metric_value *m,
                            uint32_t n)
{
    const axl_outcome_expr *x = &o->expr[j];
    double v = 0;
    for (size_t t = 0; t < x->n; t++) {
        uint32_t q;
        for (q = 0; q < n; q++)
            if (strcmp(m[q].name, x->metric[t]) == 0)
                break;
        if (q == n || !isfinite(m[q].mean))
            return NAN;
        v += x->w[t] * m[q].mean;
    }
    return v;
}

int axl_objectives_feasible(const axl_objectives *o, const double *values)
{
    for (size_t j = 0; j < o->n_outcomes; j++) {
        const axl_outcome *oc = &o->outcome[j];
        if (oc->role != AXL_OUTCOME_CONSTRAINT || (o->relative[j] && !o->sq_known))
            continue;
        if (!isfinite(values[j]) || (oc->geq ? values[j] < oc->bound : values[j] > oc->bound))
            return 0;
    }
    return 1;
}

double axl_objectives_score(const axl_objectives *o, double y, const axl_metric_value *m,
                            uint32_t n)
{
    double v[AXL_MOO_MAX_OUTCOMES];
    if (o == NULL)
        return y;
    for (size_t j = 0; j < o->n_outcomes; j++)
        if (!isfinite(v[j] = axl_objectives_value(o, j, m, n)))
            return NAN;
    return axl_objectives_feasible(o, v) ? v[0] : NAN;
}

bool axl_objectives_needs_status_quo(const axl_objectives *o)
{
    return o != NULL && o->n_relative > 0 && !o->sq_known;
}

int axl_objectives_set_status_quo(axl_objectives *o, const axl_metric_value *m, uint32_t n)
{
    double v[AXL_MOO_MAX_OUTCOMES];
    if (!axl_objectives_needs_status_quo(o))
        return 1;
    for (size_t j = 0; j < o->n_outcomes; j++)
        if (o->relative[j] && !isfinite(v[j] = axl_objectives_value(o, j, m, n)))
            return 0;
    for (size_t j = 0; j < o->n_outcomes; j++) {
        if (!o->relative[j])
            continue;
        o->sq_value[j] = v[j];
        o->outcome[j].bound = o->rel_a[j] * v[j] + o->rel_b[j] * fabs(v[j]);
    }
    o->sq_known = true;
    return 1;
}
