/*
 * cmd_best.c - `axle best NAME [--json]`: the model's best point (the GP's posterior mean
 * at the observed points, with its standard deviation and the raw observation beside
 * it) and the raw best observation, with their parameters. Read-only.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/axl_engine.h"
#include "engine/best.h"
#include "engine/cli.h"

static const char best_usage[] =
    "usage: axle best NAME [--json] [--store DIR]\n"
    "\n"
    "The best point so far, as Ax reports it: the model's best (the GP's posterior mean at\n"
    "the observed points, its standard deviation and the raw observation there) and the\n"
    "raw best observation, each with its parameters. On a noisy objective the raw best is\n"
    "biased toward lucky draws; the model's best is not. Read-only.\n";

static void print_params(FILE *f, const axl_experiment *e, const double *x)
{
    for (size_t i = 0; i < e->space.n_params; i++) {
        char v[64];
        axl_experiment_format_value(e, i, x[i], v, sizeof(v));
        fprintf(f, "%s%s=%s", i ? ", " : "", e->info[i].name, v);
    }
}

static json_t *params_json(const axl_experiment *e, const double *x)
{
    json_t *o = json_object();
    for (size_t i = 0; i < e->space.n_params; i++) {
        axl_value v = axl_experiment_value_at(e, i, x[i]);
        json_t *j = v.kind == AXL_VALUE_STR    ? json_string(v.str)
                    : v.kind == AXL_VALUE_BOOL ? json_boolean(v.b)
                    : v.kind == AXL_VALUE_INT  ? json_integer((json_int_t)v.i)
                                               : json_real(v.num);
        json_object_set_new(o, e->info[i].name, j);
    }
    return o;
}

void axl_cli_print_best(FILE *f, const axl_experiment *e, const axl_store_experiment *se)
{
    axl_best b;
    axl_errbuf eb = {{0}};
    int rv = axl_best_of_records(e, se, &b, &eb);
    if (!b.has_raw) {
        fprintf(f, "best: no completed trial with %s yet\n", e->metric);
        return;
    }
    if (b.has_model) {
        fprintf(f, "best (model): trial %u, %s = %.6g ± %.3g (observed %.6g) at ", b.model_trial,
                e->metric, b.model_mean, b.model_sd, b.model_observed);
        print_params(f, e, b.model_x);
        fputc('\n', f);
    } else if (rv != 0) {
        fprintf(f, "best (model): not available (%s)\n", eb.msg);
    }
    fprintf(f, "best (raw):   trial %u, %s = %.6g at ", b.raw_trial, e->metric, b.raw_value);
    print_params(f, e, b.raw_x);
    fputc('\n', f);
    axl_best_free(&b);
}

int axl_cmd_best(int argc, char **argv)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *store = AXL_DEFAULT_STORE;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            store = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(best_usage, stdout);
            return AXL_EXIT_CODE_OK;
        default:
            fputs(best_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(best_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    const char *name = argv[optind];
    axl_store_experiment *se;
    axl_experiment *e;
    int rv = axl_cli_load_experiment("best", store, name, &se, &e);
    if (rv != 0)
        return rv;
    if (!json) {
        printf("experiment %s: %s %s\n", name, e->minimize ? "minimize" : "maximize", e->metric);
        axl_cli_print_best(stdout, e, se);
    } else {
        axl_best b;
        axl_best_of_records(e, se, &b, NULL);
        json_t *o = json_object();
        json_object_set_new(o, "experiment", json_string(name));
        json_object_set_new(o, "metric", json_string(e->metric));
        json_object_set_new(o, "minimize", json_boolean(e->minimize));
        json_t *m = json_null(), *r = json_null();
        if (b.has_model) {
            m = json_object();
            json_object_set_new(m, "trial", json_integer(b.model_trial));
            json_object_set_new(m, "mean", json_real(b.model_mean));
            json_object_set_new(m, "sd", json_real(b.model_sd));
            json_object_set_new(m, "observed", json_real(b.model_observed));
            json_object_set_new(m, "params", params_json(e, b.model_x));
        }
        if (b.has_raw) {
            r = json_object();
            json_object_set_new(r, "trial", json_integer(b.raw_trial));
            json_object_set_new(r, "value", json_real(b.raw_value));
            json_object_set_new(r, "params", params_json(e, b.raw_x));
        }
        json_object_set_new(o, "model", m);
        json_object_set_new(o, "raw", r);
        char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        if (text != NULL)
            puts(text);
        free(text);
        json_decref(o);
        axl_best_free(&b);
    }
    axl_experiment_free(e);
    axl_store_experiment_free(se);
    return AXL_EXIT_CODE_OK;
}
