/*
 * cmd_export.c - `axle export NAME [--csv|--json] [--sem]`: the trials as Ax's exp_to_df
 * table, read-only (safe while a campaign writes to the store).
 *
 * Columns, in exp_to_df's order: trial_index, arm_name, trial_status, reason,
 * generation_method, then each parameter (search-space order), then each metric (the
 * objective first, then others as first seen); with --sem a METRIC_sem column after each
 * metric. Floats print with %.17g (they read back to the same double), booleans as
 * true/false (as the experiment file and the command runner write them), a missing value
 * as an empty field (null in JSON). `axle attach NAME FILE.csv` reads this layout back.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/axl_engine.h"
#include "engine/cli.h"
#include "engine/pareto_report.h"

static const char export_usage[] =
    "usage: axle export NAME [--csv | --json] [--sem] [--pareto] [--store DIR]\n"
    "\n"
    "Prints the trials as Ax's exp_to_df table: trial_index, arm_name, trial_status,\n"
    "reason, generation_method, each parameter, each metric. --csv (the default) writes\n"
    "CSV, --json one JSON array of records with the same keys in the same order. --sem adds\n"
    "a METRIC_sem column after each metric. Floats are written in full (%.17g).\n"
    "--pareto (several objectives) writes the Pareto set instead: trial_index, each\n"
    "parameter, each objective, one row per feasible trial on the front.\n";

/* CSV field: quoted when it holds a comma, quote or newline. */
static void csv_str(const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static json_t *value_json(const axl_value *v)
{
    switch (v->kind) {
    case AXL_VALUE_NUM:
        return isfinite(v->num) ? json_real(v->num) : json_null();
    case AXL_VALUE_INT:
        return json_integer((json_int_t)v->i);
    case AXL_VALUE_STR:
        return json_string(v->str);
    case AXL_VALUE_BOOL:
        return json_boolean(v->b);
    }
    return json_null();
}

static void value_csv(const axl_value *v)
{
    switch (v->kind) {
    case AXL_VALUE_NUM:
        if (isfinite(v->num))
            printf("%.17g", v->num);
        break;
    case AXL_VALUE_INT:
        printf("%lld", (long long)v->i);
        break;
    case AXL_VALUE_STR:
        csv_str(v->str);
        break;
    case AXL_VALUE_BOOL:
        fputs(v->b ? "true" : "false", stdout);
        break;
    }
}

typedef struct column {
    const char *name; /* borrowed from the records */
    int kind;         /* 0 parameter, 1 metric mean, 2 metric sem */
} column;

int axl_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"csv", no_argument, NULL, 'c'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"sem", no_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"pareto", no_argument, NULL, 'P'},
                                             {NULL, 0, NULL, 0}};
    const char *store = AXL_DEFAULT_STORE, *name = NULL;
    bool json = false, sem = false, pareto = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            store = optarg;
            break;
        case 'c':
            json = false;
            break;
        case 'j':
            json = true;
            break;
        case 'S':
            sem = true;
            break;
        case 'P':
            pareto = true;
            break;
        case 'h':
            fputs(export_usage, stdout);
            return AXL_EXIT_CODE_OK;
        default:
            fputs(export_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(export_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    name = argv[optind];
    axl_store_experiment *e;
    axl_experiment *exp;
    int rv = axl_cli_load_experiment("export", store, name, &e, &exp);
    if (rv != 0)
        return rv;
    if (pareto) {
        rv = axl_pareto_csv(stdout, exp, e);
        if (rv == AXL_EINVAL)
            fprintf(stderr, "axle export: --pareto: %s has fewer than 2 objectives\n", name);
        axl_experiment_free(exp);
        axl_store_experiment_free(e);
        return rv == 0            ? AXL_EXIT_CODE_OK
               : rv == AXL_EINVAL ? AXL_EXIT_CODE_USAGE
                                  : AXL_EXIT_CODE_ERROR;
    }

    /* Parameters in search-space order, then the objective, then other metrics. */
    size_t max_cols = exp->space.n_params + 2 * (AXL_PROTO_MAX_METRICS + 1);
    column *cols = calloc(max_cols, sizeof(*cols));
    size_t n_cols = 0;
    for (size_t p = 0; p < exp->space.n_params; p++)
        cols[n_cols++] = (column){exp->info[p].name, 0};
    size_t first_metric = n_cols;
    cols[n_cols++] = (column){exp->metric, 1};
    for (size_t k = 0; k < e->n_trials; k++)
        for (uint32_t m = 0; m < e->trials[k].n_metrics; m++) {
            bool seen = false;
            for (size_t q = first_metric; q < n_cols; q++)
                seen = seen || strcmp(cols[q].name, e->trials[k].metrics[m].name) == 0;
            if (!seen && n_cols < max_cols)
                cols[n_cols++] = (column){e->trials[k].metrics[m].name, 1};
        }
    if (sem) {
        size_t n_metrics = n_cols - first_metric;
        for (size_t q = n_cols; q-- > first_metric;) {
            /* spread: metric q goes to first_metric + 2 * (q - first_metric) */
            size_t to = first_metric + 2 * (q - first_metric);
            cols[to] = cols[q];
            cols[to + 1] = (column){cols[q].name, 2};
        }
        n_cols = first_metric + 2 * n_metrics;
    }

    static const char *const fixed[] = {"trial_index", "arm_name", "trial_status", "reason",
                                        "generation_method"};
    json_t *records = json ? json_array() : NULL;
    if (!json) {
        for (size_t c = 0; c < 5; c++)
            printf("%s%s", c ? "," : "", fixed[c]);
        for (size_t c = 0; c < n_cols; c++) {
            putchar(',');
            csv_str(cols[c].name);
            if (cols[c].kind == 2)
                fputs("_sem", stdout);
        }
        putchar('\n');
    }
    for (size_t k = 0; k < e->n_trials; k++) {
        const axl_trial_rec *t = &e->trials[k];
        char arm[32];
        snprintf(arm, sizeof(arm), "%u_0", t->index);
        json_t *r = json ? json_object() : NULL;
        if (json) {
            json_object_set_new(r, "trial_index", json_integer(t->index));
            json_object_set_new(r, "arm_name", json_string(arm));
            json_object_set_new(r, "trial_status", json_string(axl_trial_status_name(t->status)));
            json_object_set_new(r, "reason", t->reason ? json_string(t->reason) : json_null());
            json_object_set_new(r, "generation_method", json_string(t->gen_method));
        } else {
            printf("%u,%s,%s,", t->index, arm, axl_trial_status_name(t->status));
            if (t->reason != NULL)
                csv_str(t->reason);
            putchar(',');
            csv_str(t->gen_method);
        }
        for (size_t c = 0; c < n_cols; c++) {
            const axl_value *pv = NULL;
            const axl_metric_value *mv = NULL;
            if (cols[c].kind == 0) {
                for (uint32_t q = 0; q < t->n_params; q++)
                    if (strcmp(t->params[q].name, cols[c].name) == 0)
                        pv = &t->params[q].value;
            } else {
                for (uint32_t q = 0; q < t->n_metrics; q++)
                    if (strcmp(t->metrics[q].name, cols[c].name) == 0)
                        mv = &t->metrics[q];
            }
            axl_value v = {.kind = AXL_VALUE_NUM, .num = NAN};
            if (pv != NULL)
                v = *pv;
            else if (mv != NULL)
                v.num = cols[c].kind == 1 ? mv->mean : mv->sem;
            if (json) {
                char key[AXL_PROTO_MAX_NAME + 8];
                snprintf(key, sizeof(key), "%s%s", cols[c].name, cols[c].kind == 2 ? "_sem" : "");
                json_object_set_new(r, key, value_json(&v));
            } else {
                putchar(',');
                value_csv(&v);
            }
        }
        if (json)
            json_array_append_new(records, r);
        else
            putchar('\n');
    }
    if (json) {
        char *text =
            json_dumps(records, JSON_PRESERVE_ORDER | JSON_INDENT(1) | JSON_REAL_PRECISION(17));
        if (text != NULL)
            puts(text);
        free(text);
        json_decref(records);
    }
    free(cols);
    axl_experiment_free(exp);
    axl_store_experiment_free(e);
    return fflush(stdout) == 0 ? AXL_EXIT_CODE_OK : AXL_EXIT_CODE_ERROR;
}
