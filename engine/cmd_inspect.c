/* cmd_inspect.c - `axle status` and `axle export`: read-only views of a store, safe to
 * run while a campaign writes to it. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli.h"
#include "engine/experiment.h"
#include "storage/axl_store.h"

static const char status_usage[] =
    "usage: axle status [NAME] [--store DIR]\n"
    "\n"
    "Without NAME: the experiments in the store. With NAME: its trials by status, the\n"
    "best one so far, and the last event. Read-only; works while a campaign runs.\n";

static const char export_usage[] =
    "usage: axle export NAME [--csv] [--store DIR]\n"
    "\n"
    "Prints the trials as Ax's exp_to_df table: trial_index, arm_name, each parameter,\n"
    "each metric, trial_status, generation_method. --csv (the default) is the only format.\n";

static int open_ro(const char *cmd, const char *dir, axl_store **s)
{
    axl_errbuf eb = {{0}};
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    int rv = axl_store_open(dir, &so, s, &eb);
    if (rv != 0) {
        fprintf(stderr, "%s: %s\n", cmd, eb.msg);
        return rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    return 0;
}

static int parse_store_args(int argc, char **argv, const char *usage, const char **store,
                            const char **name, bool *csv)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"csv", no_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            *store = optarg;
            break;
        case 'c':
            if (csv == NULL)
                goto bad;
            *csv = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            goto bad;
        }
    }
    if (optind < argc)
        *name = argv[optind++];
    if (optind < argc)
        goto bad;
    return 0;
bad:
    fputs(usage, stderr);
    return AXL_EXIT_CODE_USAGE;
}

static void print_value(FILE *f, const axl_value *v)
{
    switch (v->kind) {
    case AXL_VALUE_NUM:
        fprintf(f, "%.10g", v->num);
        break;
    case AXL_VALUE_INT:
        fprintf(f, "%lld", (long long)v->i);
        break;
    case AXL_VALUE_STR:
        fputs(v->str, f);
        break;
    case AXL_VALUE_BOOL:
        fputs(v->b ? "True" : "False", f);
        break;
    }
}

int axl_cmd_status(int argc, char **argv)
{
    const char *store = AXL_DEFAULT_STORE, *name = NULL;
    int rv = parse_store_args(argc, argv, status_usage, &store, &name, NULL);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    axl_store *s;
    if ((rv = open_ro("axle status", store, &s)) != 0)
        return rv;
    axl_errbuf eb = {{0}};
    if (name == NULL) {
        char **names = NULL;
        size_t n = 0;
        if ((rv = axl_store_experiments(s, &names, &n, &eb)) != 0) {
            fprintf(stderr, "axle status: %s\n", eb.msg);
            axl_store_close(s);
            return AXL_EXIT_CODE_ERROR;
        }
        if (n == 0)
            printf("no experiments in %s\n", store);
        for (size_t i = 0; i < n; i++) {
            axl_store_experiment *e = NULL;
            if (axl_store_load(s, names[i], &e, NULL) == 0) {
                size_t done = 0, running = 0, failed = 0;
                for (size_t k = 0; k < e->n_trials; k++) {
                    axl_trial_status st = e->trials[k].status;
                    done += st == AXL_TRIAL_COMPLETED;
                    failed += st == AXL_TRIAL_FAILED || st == AXL_TRIAL_ABANDONED;
                    running += !axl_trial_status_is_terminal(st);
                }
                printf("%-32s %5zu trials  %5zu completed  %4zu pending  %4zu failed\n", names[i],
                       e->n_trials, done, running, failed);
            }
            axl_store_experiment_free(e);
        }
        free(names);
        axl_store_close(s);
        return 0;
    }
    axl_store_experiment *e = NULL;
    if ((rv = axl_store_load(s, name, &e, &eb)) != 0) {
        fprintf(stderr, "axle status: %s\n", eb.msg);
        axl_store_close(s);
        return rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    size_t by_status[AXL_TRIAL_STATUS_COUNT] = {0};
    for (size_t k = 0; k < e->n_trials; k++)
        by_status[e->trials[k].status]++;
    printf("experiment %s: %zu trials (last event seq %llu)\n", name, e->n_trials,
           (unsigned long long)e->last_seq);
    for (int st = 0; st < AXL_TRIAL_STATUS_COUNT; st++)
        if (by_status[st] > 0)
            printf("  %-14s %zu\n", axl_trial_status_name((axl_trial_status)st), by_status[st]);
    for (size_t k = 0; k < e->n_trials; k++) {
        const axl_trial_rec *t = &e->trials[k];
        printf("  trial %-4u %-10s %-9s", t->index, axl_trial_status_name(t->status),
               t->gen_method);
        for (uint32_t m = 0; m < t->n_metrics; m++)
            printf(" %s=%.6g", t->metrics[m].name, t->metrics[m].mean);
        if (t->reason != NULL)
            printf(" (%s)", t->reason);
        putchar('\n');
    }
    axl_store_experiment_free(e);
    axl_store_close(s);
    return 0;
}

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

int axl_cmd_export(int argc, char **argv)
{
    const char *store = AXL_DEFAULT_STORE, *name = NULL;
    bool csv = true;
    int rv = parse_store_args(argc, argv, export_usage, &store, &name, &csv);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (name == NULL) {
        fputs(export_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    axl_store *s;
    if ((rv = open_ro("axle export", store, &s)) != 0)
        return rv;
    axl_errbuf eb = {{0}};
    axl_store_experiment *e = NULL;
    if ((rv = axl_store_load(s, name, &e, &eb)) != 0) {
        fprintf(stderr, "axle export: %s\n", eb.msg);
        axl_store_close(s);
        return rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    /* Columns: the parameters of the first trial, then every metric name seen. */
    const axl_trial_rec *first = e->n_trials > 0 ? &e->trials[0] : NULL;
    const char *metrics[AXL_PROTO_MAX_METRICS];
    size_t n_metrics = 0;
    for (size_t k = 0; k < e->n_trials; k++)
        for (uint32_t m = 0; m < e->trials[k].n_metrics; m++) {
            bool seen = false;
            for (size_t q = 0; q < n_metrics; q++)
                seen = seen || strcmp(metrics[q], e->trials[k].metrics[m].name) == 0;
            if (!seen && n_metrics < AXL_PROTO_MAX_METRICS)
                metrics[n_metrics++] = e->trials[k].metrics[m].name;
        }
    fputs("trial_index,arm_name", stdout);
    for (uint32_t p = 0; first != NULL && p < first->n_params; p++) {
        putchar(',');
        csv_str(first->params[p].name);
    }
    for (size_t m = 0; m < n_metrics; m++) {
        putchar(',');
        csv_str(metrics[m]);
    }
    puts(",trial_status,generation_method");
    for (size_t k = 0; k < e->n_trials; k++) {
        const axl_trial_rec *t = &e->trials[k];
        printf("%u,%u_0", t->index, t->index);
        for (uint32_t p = 0; first != NULL && p < first->n_params; p++) {
            putchar(',');
            for (uint32_t q = 0; q < t->n_params; q++)
                if (strcmp(t->params[q].name, first->params[p].name) == 0) {
                    if (t->params[q].value.kind == AXL_VALUE_STR)
                        csv_str(t->params[q].value.str);
                    else
                        print_value(stdout, &t->params[q].value);
                }
        }
        for (size_t m = 0; m < n_metrics; m++) {
            putchar(',');
            for (uint32_t q = 0; q < t->n_metrics; q++)
                if (strcmp(t->metrics[q].name, metrics[m]) == 0)
                    printf("%.10g", t->metrics[q].mean);
        }
        printf(",%s,", axl_trial_status_name(t->status));
        csv_str(t->gen_method);
        putchar('\n');
    }
    axl_store_experiment_free(e);
    axl_store_close(s);
    return 0;
}
