/*
 * bench_engine - the engine end to end, in process, real store with full fsync:
 *   engine.react_p50_ms / _p99_ms  completion received -> next trial deployed (Sobol)
 *   engine.trials_per_s            zero-duration evaluations, end to end
 *   engine.rss_mb_10k              resident memory after a 10,000-trial campaign
 *   engine.trials_per_s_100k_ratio trials/s over the last 10k of a 100,000-trial Sobol
 *                                  campaign (--nosync) / over its first 10k
 *
 *   bench_engine [100k]    (100k: only the 100,000-trial campaign)
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/axl_bench.h"
#include "engine/axl_engine.h"
#include "proto/axl_log.h"

#define REACT_TRIALS 400

typedef struct react {
    double t_report;
    bool waiting;
    double lat[REACT_TRIALS + 8];
    size_t n;
} react;

static void on_report(void *data, uint32_t trial, axl_trial_status st)
{
    react *r = data;
    (void)trial;
    if (st == AXL_TRIAL_COMPLETED) {
        r->t_report = axl_bench_now();
        r->waiting = true;
    }
}

static void on_deploy(void *data, uint32_t trial)
{
    react *r = data;
    (void)trial;
    if (r->waiting && r->n < REACT_TRIALS + 8)
        r->lat[r->n++] = (axl_bench_now() - r->t_report) * 1e3;
    r->waiting = false;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Completion times of a long campaign, every 10,000th. */
typedef struct marks {
    uint32_t n;
    double t[16], cpu[16]; /* wall and process CPU seconds */
} marks;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_report_mark(void *data, uint32_t trial, axl_trial_status st)
{
    marks *m = data;
    (void)trial;
    if (st == AXL_TRIAL_COMPLETED && ++m->n % 10000 == 0 && m->n / 10000 < 16) {
        m->t[m->n / 10000] = axl_bench_now();
        m->cpu[m->n / 10000] = cpu_now();
    }
}

static bool g_nosync;

/* Runs one campaign in a fresh store; returns wall seconds. */
static double run(const char *runner, int max_pending, int total, axl_campaign_options *opt,
                  axl_campaign_result *res)
{
    char dir[] = "/tmp/axl-bench-engine-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    char path[128], json[2048];
    snprintf(path, sizeof(path), "%s/exp.json", dir);
    snprintf(json, sizeof(json),
             "{\"name\": \"bench\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
             "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
             "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
             "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1}]},"
             "\"scheduler\": {\"total_trials\": %d, \"max_pending_trials\": %d},"
             "\"runner\": %s}",
             total, max_pending, runner);
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
    axl_errbuf eb = {{0}};
    double t0 = axl_bench_now();
    int rv = axl_engine_run(path, NULL, dir, g_nosync, opt, res, &eb);
    double wall = axl_bench_now() - t0;
    if (rv != 0 || res->n_completed != (uint32_t)total) {
        fprintf(stderr, "bench_engine: campaign failed: %s (%u of %d completed)\n", eb.msg,
                res->n_completed, total);
        exit(1);
    }
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return wall;
}

static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %lf kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb / 1024.0;
}

void axl_bench_view(void);

/* 100,000 zero-duration Sobol trials without fsync: does a trial cost the same at the
 * end as at the start? */
static void long_campaign(void)
{
    axl_campaign_options opt;
    axl_campaign_result res;
    marks m = {0};
    axl_campaign_options_default(&opt);
    opt.handle_signals = false;
    opt.hooks = (axl_campaign_hooks){.data = &m, .on_report = on_report_mark};
    fprintf(stderr, "bench_engine: 100,000-trial campaign (--nosync) ...\n");
    g_nosync = true;
    m.t[0] = axl_bench_now();
    m.cpu[0] = cpu_now();
    run("{\"type\": \"function\", \"function\": \"branin\"}", 10, 100000, &opt, &res);
    g_nosync = false;
    double first = 10000 / (m.t[1] - m.t[0]), last = 10000 / (m.t[10] - m.t[9]);
    fprintf(stderr, "  trials/s per 10k:");
    for (int i = 1; i <= 10; i++)
        fprintf(stderr, " %.0f", 10000 / (m.t[i] - m.t[i - 1]));
    fprintf(stderr, "\n  per CPU second:");
    for (int i = 1; i <= 10; i++)
        fprintf(stderr, " %.0f", 10000 / (m.cpu[i] - m.cpu[i - 1]));
    fprintf(stderr, "\n");
    axl_bench_row("engine.trials_per_s_100k_first10k", first, "trials/s");
    axl_bench_row("engine.trials_per_s_100k_last10k", last, "trials/s");
    axl_bench_row("engine.trials_per_s_100k_ratio", last / first, "");
    /* the same per CPU second of the process: what a shared machine's load leaves out */
    axl_bench_row("engine.trials_per_cpu_s_100k_ratio",
                  (m.cpu[1] - m.cpu[0]) / (m.cpu[10] - m.cpu[9]), "");
}

int main(int argc, char **argv)
{
    axl_log_set_level(AXL_LOG_ERROR);
    if (getenv("AXL_BENCH_VIEW_ONLY") != NULL) { /* iterating on the view */
        axl_bench_view();
        return 0;
    }
    axl_campaign_options opt;
    axl_campaign_result res;

    if (argc > 1 && strcmp(argv[1], "100k") == 0) {
        long_campaign();
        return 0;
    }

    /* Reaction: one trial at a time, 2 ms of simulated work, so every deploy follows a
     * completion that arrived while the loop was asleep. */
    react r = {0};
    axl_campaign_options_default(&opt);
    opt.handle_signals = false;
    opt.hooks = (axl_campaign_hooks){.data = &r, .on_report = on_report, .on_deploy = on_deploy};
    fprintf(stderr, "bench_engine: reaction latency, %d trials ...\n", REACT_TRIALS);
    run("{\"type\": \"function\", \"function\": \"branin\", \"duration_s\": 0.002}", 1,
        REACT_TRIALS, &opt, &res);
    axl_bench_row("engine.react_p50_ms", axl_bench_quantile(r.lat, r.n, 0.5), "ms");
    axl_bench_row("engine.react_p99_ms", axl_bench_quantile(r.lat, r.n, 0.99), "ms");

    /* Throughput: zero-duration evaluations, ten in flight, three runs, the median. */
    double tps[3];
    axl_campaign_options_default(&opt);
    opt.handle_signals = false;
    for (int i = 0; i < 3; i++) {
        fprintf(stderr, "bench_engine: throughput run %d of 3 ...\n", i + 1);
        double wall =
            run("{\"type\": \"function\", \"function\": \"branin\"}", 10, 3000, &opt, &res);
        tps[i] = 3000 / wall;
    }
    axl_bench_row("engine.trials_per_s", axl_bench_quantile(tps, 3, 0.5), "trials/s");
    axl_bench_row("engine.commits_per_trial", (double)res.commits / res.n_trials, "commits/trial");

    fprintf(stderr, "bench_engine: 10,000-trial campaign for memory ...\n");
    run("{\"type\": \"function\", \"function\": \"branin\"}", 10, 10000, &opt, &res);
    axl_bench_row("engine.rss_mb_10k", rss_mb(), "MB");
    long_campaign();

    axl_bench_view(); /* bench_view.c: the web view's rows */
    return 0;
}
