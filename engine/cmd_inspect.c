/* cmd_inspect.c - `axle status`: a read-only view of a store, safe to run while a
 * campaign writes to it. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/axl_engine.h"
#include "engine/cli.h"
#include "engine/experiment.h"
#include "engine/pareto_report.h"
#include "engine/status_quo.h"
#include "storage/axl_store.h"

static const char status_usage[] =
    "usage: axle status [NAME] [--store DIR]\n"
    "\n"
    "Without NAME: the experiments in the store. With NAME: its trials by status, the\n"
    "best one so far, and the last event. Read-only; works while a campaign runs.\n";

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

/* The last event of experiment name: its type, time and trial. */
static void print_last_event(axl_store *s, const char *name, uint64_t last_seq)
{
    axl_store_iter *it = NULL;
    uint64_t from = last_seq > 256 ? last_seq - 256 : 1;
    char line[256] = "";
    if (last_seq == 0 || axl_store_iter_open(s, from, last_seq, &it, NULL) != 0)
        return;
    for (;;) {
        uint64_t seq;
        const void *data;
        size_t len;
        axl_event ev;
        if (axl_store_iter_next(it, &seq, &data, &len, NULL) != 0)
            break;
        if (axl_event_decode(data, len, &ev, NULL) != 0 || ev.experiment_len != strlen(name) ||
            memcmp(ev.experiment, name, ev.experiment_len) != 0)
            continue;
        time_t t = (time_t)ev.time;
        struct tm tm;
        char when[32];
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        int n = snprintf(line, sizeof(line), "last event: #%llu %.*s at %s UTC",
                         (unsigned long long)seq, (int)ev.type_len, ev.type, when);
        if (ev.trial >= 0 && n > 0 && (size_t)n < sizeof(line))
            snprintf(line + n, sizeof(line) - (size_t)n, " (trial %lld)", (long long)ev.trial);
    }
    axl_store_iter_close(it);
    if (line[0] != '\0')
        printf("%s\n", line);
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
    bool paused = false;
    if (axl_control_load_paused(s, name, e->last_seq, &paused, NULL) == 0 && paused)
        printf("  paused: no new trial is deployed until `axle unpause %s`\n", name);
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
    axl_experiment *exp = NULL;
    if (axl_experiment_from_store(s, name, &exp, &eb) == 0) {
        axl_sq_of_records(exp, e); /* relative outcome constraints' bounds */
        axl_cli_print_best(stdout, exp, e);
    }
    if (exp != NULL)
        axl_pareto_print(stdout, exp, e);
    axl_experiment_free(exp);
    print_last_event(s, name, e->last_seq);
    axl_store_experiment_free(e);
    axl_store_close(s);
    return 0;
}
