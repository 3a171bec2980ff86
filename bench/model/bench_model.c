/*
 * bench_model - quality and speed of engine/model.
 *
 *   bench_model [quality] [speed] [suite] [--seeds N] [--suite-seeds N] [--quick] ...
 *
 * Quality: closed-loop BO with the `auto` strategy (decided by axl_gs_decide, as the
 * engine does) on Branin (30 evaluations, 5 Sobol) and Hartmann6 (50, 12 Sobol),
 * noise-free, over N seeds 1000.. (default 100; --seed0 moves the first): quartiles
 * of the simple regret at 10, 20, 30 (and 50) evaluations, the share of runs whose
 * final regret is over 0.05, and the final quartiles over the first 20 and 40 seeds,
 * for GP-LogEI, Sobol alone, and GP-LogEI with 3 trials pending at all times
 * (asynchronous parallelism 3).
 * Speed: one generation (fit + acquisition, k = 1) at d in {4, 6} and n in
 * {20, 50, 100, 200, 500}, warm-started from the fit at n-1 as in a campaign, and
 * cold (no previous hyper-parameters).
 * `speed-data FILE`: the same measurements on a data file (bench/model/peers/
 * side_by_side.py times BoTorch and axle on the same data, interleaved).
 * Suite: every problem of bench/model/suite.py (bench/model/suite_fn.c) over 20 seeds
 * beside BoTorch's quartiles (bench/model/peers/botorch_suite.tsv).
 * JSON rows on stdout, progress on stderr.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/axl_bench.h"
#include "bench/model/suite_fn.h"
#include "engine/model/axl_model.h"

#ifndef AXL_BENCH_BLAS_NAME
#define AXL_BENCH_BLAS_NAME "openblas"
#endif

static axl_model_options g_opts;
static long g_tf_count[4]; /* GP generations per chosen outcome transform (stderr) */
static const char *g_only;
static uint64_t g_seed0 = 1000;
static uint64_t g_suite_seed0 = 0; /* the suite's first seed (BoTorch's runs: 0) */
static FILE *g_runs_out;        /* --runs FILE: every run's final regret, "problem seed regret" */
static double g_budget_x = 1.0; /* --budget-x: the suite's budgets times this (experiments) */

typedef struct problem {
    const char *name;
    size_t d;
    int budget;
    double fmin;
    double (*f)(const double *x);
    axl_param params[AXL_SUITE_MAX_D];
    double noise_sd; /* Gaussian noise on what the optimizer sees */
} problem;

/* splitmix64 + Box-Muller: the suite's observation noise, a pure function of the seed */
static uint64_t g_noise_state;
static double noise_normal(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        uint64_t z = (g_noise_state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        u[i] = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(2.0 * M_PI * u[1]);
}

static double branin_f(const double *x)
{
    return axl_testfn_branin(x);
}
static double hartmann6_f(const double *x)
{
    return axl_testfn_hartmann6(x);
}

static void make_problems(problem *br, problem *h6)
{
    memset(br, 0, sizeof *br);
    br->name = "branin30";
    br->d = 2;
    br->budget = 30;
    br->fmin = axl_testfn_branin_min;
    br->f = branin_f;
    br->params[0] = (axl_param){.type = AXL_PARAM_FLOAT,
                                .lower = axl_testfn_branin_bounds[0][0],
                                .upper = axl_testfn_branin_bounds[0][1]};
    br->params[1] = (axl_param){.type = AXL_PARAM_FLOAT,
                                .lower = axl_testfn_branin_bounds[1][0],
                                .upper = axl_testfn_branin_bounds[1][1]};
    memset(h6, 0, sizeof *h6);
    h6->name = "hartmann6_50";
    h6->d = 6;
    h6->budget = 50;
    h6->fmin = axl_testfn_hartmann6_min;
    h6->f = hartmann6_f;
    for (int i = 0; i < 6; i++)
        h6->params[i] = (axl_param){.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 1};
}

/*
 * One campaign. mode 0: auto strategy, sequential; 1: Sobol only; 2: auto strategy
 * with `par` trials in flight at all times (the oldest completes first).
 * best[i] = best exact value after i+1 completed evaluations (the optimizer sees the
 * value plus the problem's noise).
 */
static int run_campaign(const problem *p, int mode, int par, uint64_t seed, double *best,
                        double *gen_ms_sum, int *n_gen)
{
    axl_space s = {.n_params = p->d, .params = p->params};
    axl_gen_strategy gs;
    axl_model_state st;
    axl_gs_counts cnt[AXL_GS_MAX_STEPS];
    int n_total = p->budget, n_done = 0, n_made = 0, run_head = 0;
    double *X = calloc((size_t)n_total * p->d, sizeof(double));
    double *y = calloc((size_t)n_total, sizeof(double));
    double *Xd = calloc((size_t)n_total * p->d, sizeof(double)); /* completed, in order */
    double *yd = calloc((size_t)n_total, sizeof(double));
    int *step_of = calloc((size_t)n_total, sizeof(int));
    double cur = INFINITY;
    axl_errbuf eb = {{0}};
    int rv = 0;

    g_noise_state = seed * 7919 + 17;
    axl_gs_auto(&s, seed, &gs);
    if (mode == 1) {
        gs.n_steps = 1;
        gs.steps[0].num_trials = -1;
        gs.steps[0].min_trials_observed = 0;
    }
    axl_model_state_init(&st, seed);
    memset(cnt, 0, sizeof cnt);
    if (par < 1)
        par = 1;
    while (n_done < n_total) {
        /* fill the line up to `par` trials in flight */
        while (n_made < n_total && n_made - n_done < par) {
            axl_gs_verdict v;
            size_t k;
            axl_model_input in;
            axl_model_output out;
            axl_gen_step step;
            axl_gs_decide(&gs, cnt, 1, &st, &v, &k);
            if (v != AXL_GS_READY)
                break;
            step = gs.steps[st.step];
            memset(&in, 0, sizeof in);
            in.space = &s;
            in.maximize = 0;
            in.n_obs = (size_t)n_done;
            in.X = Xd;
            in.y = yd;
            in.n_pending = (size_t)(n_made - n_done);
            in.X_pending = X + (size_t)n_done * p->d;
            in.k = 1;
            in.step = &step;
            in.state = &st;
            in.opts = &g_opts;
            memset(&out, 0, sizeof out);
            out.X = X + (size_t)n_made * p->d;
            double t0 = axl_bench_now();
            if ((rv = axl_model_generate(&in, &out, &eb)) != 0) {
                fprintf(stderr, "generate failed: %d %s\n", rv, eb.msg);
                goto done;
            }
            if (strcmp(out.method, "GP-LogEI") == 0) {
                g_tf_count[out.diag.outcome_tf & 3]++;
                *gen_ms_sum += (axl_bench_now() - t0) * 1e3;
                (*n_gen)++;
            }
            st = out.state;
            step_of[n_made] = (int)st.step;
            cnt[st.step].generated++;
            cnt[st.step].running++;
            n_made++;
        }
        /* the oldest trial in flight completes (trials run in order, as on a line) */
        {
            int i = run_head++;
            y[i] = p->f(X + (size_t)i * p->d);
            memcpy(Xd + (size_t)n_done * p->d, X + (size_t)i * p->d, p->d * sizeof(double));
            yd[n_done] = y[i] + (p->noise_sd > 0 ? p->noise_sd * noise_normal() : 0.0);
            cnt[step_of[i]].running--;
            cnt[step_of[i]].completed++;
            cur = fmin(cur, y[i]);
            best[n_done] = cur;
            n_done++;
        }
    }
done:
    free(X);
    free(y);
    free(Xd);
    free(yd);
    free(step_of);
    return rv;
}

static void quality(const problem *p, const char *label, int mode, int par, int seeds)
{
    int checkpoints[4] = {10, 20, 30, 50}, c, s, n_gen = 0;
    if (g_only != NULL && strstr(g_only, label) == NULL && strstr(g_only, p->name) == NULL)
        return;
    double *reg = calloc((size_t)seeds * 4, sizeof(double));
    double *fin = calloc((size_t)seeds, sizeof(double)); /* final regret, seed order */
    double *best = calloc((size_t)p->budget, sizeof(double));
    double gen_ms = 0, t0 = axl_bench_now();
    char name[128];

    memset(g_tf_count, 0, sizeof g_tf_count);
    for (s = 0; s < seeds; s++) {
        if (run_campaign(p, mode, par, g_seed0 + (uint64_t)s, best, &gen_ms, &n_gen) != 0)
            exit(1);
        for (c = 0; c < 4; c++)
            if (checkpoints[c] <= p->budget)
                reg[c * seeds + s] = best[checkpoints[c] - 1] - p->fmin;
        fin[s] = best[p->budget - 1] - p->fmin;
        fprintf(stderr, "  %s %s seed %d: regret@%d %.3g\n", p->name, label, s, p->budget, fin[s]);
    }
    for (c = 0; c < 4; c++) {
        double *v = reg + c * seeds;
        char at[32] = "";
        if (checkpoints[c] > p->budget)
            continue;
        if (checkpoints[c] != p->budget)
            snprintf(at, sizeof at, "_at%d", checkpoints[c]);
        snprintf(name, sizeof name, "model.%s.%s.regret_q1%s", p->name, label, at);
        double q1 = axl_bench_quantile(v, (size_t)seeds, 0.25);
        double med = axl_bench_quantile(v, (size_t)seeds, 0.5);
        double q3 = axl_bench_quantile(v, (size_t)seeds, 0.75);
        axl_bench_row(name, q1, "");
        snprintf(name, sizeof name, "model.%s.%s.regret_median%s", p->name, label, at);
        axl_bench_row(name, med, "");
        snprintf(name, sizeof name, "model.%s.%s.regret_q3%s", p->name, label, at);
        axl_bench_row(name, q3, "");
        if (checkpoints[c] == p->budget) {
            /* the share of runs left in a local optimum (Hartmann6: regret 0.119) */
            int over = 0;
            for (s = 0; s < seeds; s++)
                over += v[s] > 0.05;
            snprintf(name, sizeof name, "model.%s.%s.frac_regret_over_0.05", p->name, label);
            axl_bench_row(name, (double)over / seeds, "");
        }
    }
    /* the same quartiles over the first 20 and 40 seeds (earlier reports used those);
     * fin holds the final regrets in seed order, quantile sorts its argument */
    for (c = 20; c <= 40 && c < seeds; c += 20) {
        static const double qs[3] = {0.25, 0.5, 0.75};
        static const char *qn[3] = {"q1", "median", "q3"};
        for (int j = 0; j < 3; j++) {
            memcpy(reg, fin, (size_t)c * sizeof(double));
            snprintf(name, sizeof name, "model.%s.%s.regret_%s.first%d", p->name, label, qn[j], c);
            axl_bench_row(name, axl_bench_quantile(reg, (size_t)c, qs[j]), "");
        }
    }
    if (n_gen > 0) {
        snprintf(name, sizeof name, "model.%s.%s.gen_ms_mean", p->name, label);
        axl_bench_row(name, gen_ms / n_gen, "ms");
    }
    fprintf(stderr, "  %s %s: %.1f s\n", p->name, label, axl_bench_now() - t0);
    free(reg);
    free(fin);
    free(best);
}

/* ------------------------------------------------------------------ the suite */

#ifndef AXL_SUITE_PEER_TSV
#define AXL_SUITE_PEER_TSV "bench/model/peers/botorch_suite.tsv"
#endif

typedef struct peer_row {
    char name[64];
    int seeds;
    double q1, med, q3;
} peer_row;

/* BoTorch's final-regret quartiles per problem (bench/model/peers/summarize.py writes
 * the file from the runs' JSON); returns the rows read */
static int read_peer(peer_row *rows, int max)
{
    FILE *f = fopen(AXL_SUITE_PEER_TSV, "r");
    char line[512];
    int n = 0;
    if (f == NULL) {
        fprintf(stderr, "bench_model: no BoTorch data at %s\n", AXL_SUITE_PEER_TSV);
        return 0;
    }
    while (n < max && fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%63s %d %lf %lf %lf", rows[n].name, &rows[n].seeds, &rows[n].q1,
                   &rows[n].med, &rows[n].q3) == 5)
            n++;
    }
    fclose(f);
    return n;
}

static double floor_regret(double r)
{
    return r < 1e-9 ? 1e-9 : r;
}

/*
 * Every problem of bench/model/suite.py, `seeds` seeds (0..), the auto strategy,
 * sequential, as BoTorch's runs: final simple regret quartiles beside BoTorch's, and
 * the suite rows (wins count when axle's median <= BoTorch's, regrets floored at 1e-9).
 */
static void suite(int seeds)
{
    size_t np;
    const axl_suite_problem *all = axl_suite_problems(&np);
    peer_row peer[64];
    int n_peer = read_peer(peer, 64), n_cmp = 0, med_wins = 0, q3_wins = 0;
    double worst = 0, log_sum = 0, t_all = axl_bench_now();
    char name[160];

    fprintf(stderr, "%-18s %-32s %-32s %s\n", "problem", "axle q1 / median / q3",
            "BoTorch q1 / median / q3", "median ratio");
    for (size_t i = 0; i < np; i++) {
        const axl_suite_problem *sp = &all[i];
        problem p;
        double *fin = calloc((size_t)seeds, sizeof(double));
        int budget = (int)lround(sp->budget * g_budget_x);
        double *best = calloc((size_t)budget, sizeof(double)), gen_ms = 0;
        int n_gen = 0;
        if (g_only != NULL && strstr(g_only, sp->name) == NULL) {
            free(fin);
            free(best);
            continue;
        }
        memset(&p, 0, sizeof p);
        p.name = sp->name;
        p.d = sp->d;
        p.budget = budget;
        p.fmin = sp->fmin;
        p.f = sp->f;
        p.noise_sd = sp->noise_sd;
        memcpy(p.params, sp->params, sizeof p.params);
        memset(g_tf_count, 0, sizeof g_tf_count);
        for (int s = 0; s < seeds; s++) {
            if (run_campaign(&p, 0, 1, g_suite_seed0 + (uint64_t)s, best, &gen_ms, &n_gen) != 0)
                exit(1);
            fin[s] = floor_regret(best[p.budget - 1] - p.fmin);
            if (g_runs_out != NULL)
                fprintf(g_runs_out, "%s\t%llu\t%.17g\n", p.name,
                        (unsigned long long)(g_suite_seed0 + (uint64_t)s), fin[s]);
        }
        double q1 = axl_bench_quantile(fin, (size_t)seeds, 0.25);
        double med = axl_bench_quantile(fin, (size_t)seeds, 0.5);
        double q3 = axl_bench_quantile(fin, (size_t)seeds, 0.75);
        fprintf(stderr,
                "  %s: GP generations by transform: standardize %ld, log %ld, gap-log %ld\n",
                p.name, g_tf_count[0], g_tf_count[1], g_tf_count[3]);
        snprintf(name, sizeof name, "model.suite.%s.regret_q1", p.name);
        axl_bench_row(name, q1, "");
        snprintf(name, sizeof name, "model.suite.%s.regret_median", p.name);
        axl_bench_row(name, med, "");
        snprintf(name, sizeof name, "model.suite.%s.regret_q3", p.name);
        axl_bench_row(name, q3, "");
        const peer_row *pr = NULL;
        for (int j = 0; j < n_peer; j++)
            if (strcmp(peer[j].name, p.name) == 0)
                pr = &peer[j];
        if (pr != NULL) {
            double ratio = floor_regret(med) / floor_regret(pr->med);
            snprintf(name, sizeof name, "model.suite.%s.botorch.regret_q1", p.name);
            axl_bench_row(name, pr->q1, "");
            snprintf(name, sizeof name, "model.suite.%s.botorch.regret_median", p.name);
            axl_bench_row(name, pr->med, "");
            snprintf(name, sizeof name, "model.suite.%s.botorch.regret_q3", p.name);
            axl_bench_row(name, pr->q3, "");
            snprintf(name, sizeof name, "model.suite.%s.botorch.seeds", p.name);
            axl_bench_row(name, pr->seeds, "");
            n_cmp++;
            med_wins += ratio <= 1.0;
            q3_wins += floor_regret(q3) <= floor_regret(pr->q3);
            worst = fmax(worst, ratio);
            log_sum += log(ratio);
            fprintf(stderr, "%-18s %9.3g / %9.3g / %9.3g   %9.3g / %9.3g / %9.3g   %.3g\n", p.name,
                    q1, med, q3, pr->q1, pr->med, pr->q3, ratio);
        } else {
            fprintf(stderr, "%-18s %9.3g / %9.3g / %9.3g   (no BoTorch data)\n", p.name, q1, med,
                    q3);
        }
        free(fin);
        free(best);
    }
    axl_bench_row("model.suite.problems", n_cmp, "");
    axl_bench_row("model.suite.median_wins", med_wins, "");
    axl_bench_row("model.suite.worst_median_ratio", worst, "");
    axl_bench_row("model.suite.q3_wins_fraction", n_cmp ? (double)q3_wins / n_cmp : 0.0, "");
    axl_bench_row("model.suite.geomean_median_ratio", n_cmp ? exp(log_sum / n_cmp) : 0.0, "");
    fprintf(stderr, "  suite: %.1f s\n", axl_bench_now() - t_all);
}

/* y for the speed problems: Hartmann6 with the missing coordinates at its optimum */
static double speed_f(const double *x, size_t d)
{
    double z[6];
    for (size_t j = 0; j < 6; j++)
        z[j] = j < d ? x[j] : axl_testfn_hartmann6_argmin[j];
    return axl_testfn_hartmann6(z);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU seconds of the calling thread: on a loaded machine the wall time of a
 * single-threaded generation says more about the load than about the code */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One (d, n) cell of the speed table, medians over the repetitions (ms). */
typedef struct speed_cell {
    double warm, cold, warm_cpu, cold_cpu, cycle, cycle_cpu, fit, acq;
    int evals;    /* likelihood evaluations of the warm fit (0: between refits) */
    size_t every; /* generations per refit cycle */
} speed_cell;

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return v[n / 2];
}

/*
 * Times generations on the data X (n x d, unit cube), y (minimized): cold (no previous
 * hyper-parameters: the first GP generation of a campaign) on the first n-1 points,
 * then warm (one more observation, the cold fit's state), then one refit cycle from
 * the same state. `data_of_rep` (may be NULL) refills X, y before each repetition.
 */
static void measure_generations(size_t d, size_t n, double *X, double *y, int reps,
                                void (*data_of_rep)(size_t, size_t, int, double *, double *),
                                speed_cell *c)
{
    axl_param prm[AXL_MODEL_MAX_PARAMS];
    axl_space s = {.n_params = d, .params = prm};
    axl_gen_step step = {.model = AXL_GEN_GP_LOGEI, .num_trials = -1, .seed = 3};
    double out[AXL_MODEL_MAX_PARAMS], warm[16], cold[16], fit[16], acq[16], warm_cpu[16],
        cold_cpu[16], cycle[16], cycle_cpu[16];
    /* above auto_full_max_n the hyper-parameters are refitted every n/50-th generation
     * only: the cycle row is the mean over one such cycle (the campaign's cost per
     * generation), the warm row one generation between refits */
    size_t every = n > (size_t)g_opts.auto_full_max_n && n / 50 > 1 ? n / 50 : 1;
    int r;

    if (reps > 16)
        reps = 16;
    for (size_t j = 0; j < d; j++)
        prm[j] = (axl_param){.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 1};
    for (r = 0; r < reps; r++) {
        axl_model_state st;
        axl_model_input in;
        axl_model_output o;
        axl_errbuf eb = {{0}};
        double t0, c0;
        if (data_of_rep != NULL)
            data_of_rep(d, n, r, X, y);
        axl_model_state_init(&st, 5 + (uint64_t)r);
        memset(&in, 0, sizeof in);
        in.space = &s;
        in.n_obs = n - 1;
        in.X = X;
        in.y = y;
        in.k = 1;
        in.step = &step;
        in.state = &st;
        in.opts = &g_opts;
        memset(&o, 0, sizeof o);
        o.X = out;
        t0 = axl_bench_now();
        c0 = cpu_now();
        if (axl_model_generate(&in, &o, &eb) != 0)
            goto fail;
        cold[r] = (axl_bench_now() - t0) * 1e3;
        cold_cpu[r] = (cpu_now() - c0) * 1e3;
        st = o.state;
        in.n_obs = n;
        t0 = axl_bench_now();
        c0 = cpu_now();
        if (axl_model_generate(&in, &o, &eb) != 0)
            goto fail;
        warm[r] = (axl_bench_now() - t0) * 1e3;
        warm_cpu[r] = (cpu_now() - c0) * 1e3;
        fit[r] = o.diag.fit_ms;
        acq[r] = o.diag.acq_ms;
        c->evals = o.diag.fit_evals;
        /* one refit cycle from the same warm state: generation numbers 0 .. every-1 */
        t0 = axl_bench_now();
        c0 = cpu_now();
        for (size_t g = 0; g < every; g++) {
            axl_model_state sg = st;
            sg.n_gen = g;
            in.state = &sg;
            if (axl_model_generate(&in, &o, &eb) != 0)
                goto fail;
        }
        cycle[r] = (axl_bench_now() - t0) * 1e3 / (double)every;
        cycle_cpu[r] = (cpu_now() - c0) * 1e3 / (double)every;
        continue;
    fail:
        fprintf(stderr, "speed: %s\n", eb.msg);
        exit(1);
    }
    c->warm = median_of(warm, reps);
    c->cold = median_of(cold, reps);
    c->warm_cpu = median_of(warm_cpu, reps);
    c->cold_cpu = median_of(cold_cpu, reps);
    c->cycle = median_of(cycle, reps);
    c->cycle_cpu = median_of(cycle_cpu, reps);
    c->fit = median_of(fit, reps);
    c->acq = median_of(acq, reps);
    c->every = every;
}

/* the speed table's data: a scrambled Sobol design, a smooth multimodal response */
static void speed_data(size_t d, size_t n, int r, double *X, double *y)
{
    axl_sobol_fill((unsigned)d, 77 + (uint64_t)r, 0, n, X);
    for (size_t i = 0; i < n; i++)
        y[i] = speed_f(X + i * d, d);
}

static void speed(size_t d, size_t n, int reps)
{
    double *X = malloc((n + 1) * d * sizeof(double)), *y = malloc((n + 1) * sizeof(double));
    const char *blas = strcmp(AXL_BENCH_BLAS_NAME, "openblas") == 0 ? "" : "_" AXL_BENCH_BLAS_NAME;
    static const char *const kinds[8] = {"gen_ms",          "gen_ms_cold",  "gen_cpu_ms",
                                         "gen_cpu_ms_cold", "gen_ms_cycle", "gen_cpu_ms_cycle",
                                         "fit_ms",          "acq_ms"};
    speed_cell c;
    char name[128];

    if (X == NULL || y == NULL) {
        fprintf(stderr, "speed: out of memory\n");
        exit(1);
    }
    measure_generations(d, n, X, y, reps, speed_data, &c);
    const double v[8] = {c.warm,  c.cold,      c.warm_cpu, c.cold_cpu,
                         c.cycle, c.cycle_cpu, c.fit,      c.acq};
    for (int k = 0; k < 8; k++) {
        snprintf(name, sizeof name, "model.%s%s.d%zu.n%zu", kinds[k], blas, d, n);
        axl_bench_row(name, v[k], "ms");
    }
    fprintf(stderr,
            "  speed d=%zu n=%zu: warm %.2f ms (fit %.2f, acq %.2f, evals %d), cold %.2f ms; "
            "CPU warm %.2f cold %.2f ms; mean over a refit cycle of %zu: %.2f ms (CPU %.2f)\n",
            d, n, c.warm, c.fit, c.acq, c.evals, c.cold, c.warm_cpu, c.cold_cpu, c.every, c.cycle,
            c.cycle_cpu);
    free(X);
    free(y);
}

/*
 * `bench_model speed-data FILE [--reps N]`: the speed measurements on data from a file
 * (what bench/model/peers/side_by_side.py hands BoTorch too): a first line "d n", then
 * n lines of d unit-cube coordinates and y (minimized). One JSON object on stdout.
 */
static int speed_from_file(const char *path, int reps)
{
    FILE *f = fopen(path, "r");
    size_t d = 0, n = 0;
    double *X = NULL, *y = NULL;
    speed_cell c;

    if (f == NULL) {
        fprintf(stderr, "speed-data: cannot open %s\n", path);
        return 2;
    }
    if (fscanf(f, "%zu %zu", &d, &n) != 2 || d < 1 || d > AXL_MODEL_MAX_PARAMS || n < 3 ||
        n > 100000) {
        fprintf(stderr, "speed-data: %s: first line must be \"d n\" (1 <= d <= %d, 3 <= n)\n", path,
                AXL_MODEL_MAX_PARAMS);
        goto fail;
    }
    X = malloc(n * d * sizeof(double));
    y = malloc(n * sizeof(double));
    if (X == NULL || y == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            if (fscanf(f, "%lf", &X[i * d + j]) != 1 || !(X[i * d + j] >= 0 && X[i * d + j] <= 1))
                goto bad;
        if (fscanf(f, "%lf", &y[i]) != 1 || !isfinite(y[i]))
            goto bad;
    }
    fclose(f);
    measure_generations(d, n, X, y, reps, NULL, &c);
    printf("{\"d\":%zu,\"n\":%zu,\"warm_ms\":%.4f,\"cold_ms\":%.4f,\"warm_cpu_ms\":%.4f,"
           "\"cold_cpu_ms\":%.4f,\"cycle_ms\":%.4f,\"cycle_cpu_ms\":%.4f,\"every\":%zu,"
           "\"warm_evals\":%d}\n",
           d, n, c.warm, c.cold, c.warm_cpu, c.cold_cpu, c.cycle, c.cycle_cpu, c.every, c.evals);
    free(X);
    free(y);
    return 0;
bad:
    fprintf(stderr, "speed-data: %s: row values must be numbers (x in [0, 1], finite y)\n", path);
fail:
    fclose(f);
    free(X);
    free(y);
    return 2;
}

int main(int argc, char **argv)
{
    int do_q = 0, do_s = 0, do_suite = 0, seeds = 100, suite_seeds = 20, quick = 0, i;
    int speed_reps = 5;
    const char *speed_file = NULL;
    problem br, h6;

    /* The engine runs generations on libuv's thread pool, one per thread, so the BLAS
     * must not start threads of its own (it also measures faster here: the BLAS calls
     * are small). OpenBLAS reads this before main, hence the re-exec. */
    if (getenv("OPENBLAS_NUM_THREADS") == NULL) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execv("/proc/self/exe", argv);
    }
    axl_model_options_default(&g_opts);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "quality") == 0)
            do_q = 1;
        else if (strcmp(argv[i], "speed") == 0)
            do_s = 1;
        else if (strcmp(argv[i], "suite") == 0)
            do_suite = 1;
        else if (strcmp(argv[i], "--suite-seed0") == 0 && i + 1 < argc)
            g_suite_seed0 = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--suite-seeds") == 0 && i + 1 < argc)
            suite_seeds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
            seeds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed0") == 0 && i + 1 < argc)
            g_seed0 = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--tf") == 0 && i + 1 < argc)
            g_opts.outcome_transform = (axl_outcome_tf)atoi(argv[++i]);
        else if (strcmp(argv[i], "--gap") == 0 && i + 1 < argc)
            g_opts.gap_shift = atof(argv[++i]);
        else if (strcmp(argv[i], "--gap") == 0 && i + 1 < argc)
            g_opts.gap_shift = atof(argv[++i]);
        else if (strcmp(argv[i], "--shift") == 0 && i + 1 < argc)
            g_opts.log_shift = atof(argv[++i]);
        else if (strcmp(argv[i], "--cold") == 0 && i + 1 < argc)
            g_opts.cold_fit_every = atoi(argv[++i]);
        else if (strcmp(argv[i], "--screen") == 0 && i + 1 < argc)
            g_opts.gp.screen_iter = atoi(argv[++i]);
        else if (strcmp(argv[i], "--starts") == 0 && i + 1 < argc)
            g_opts.gp.n_starts = atoi(argv[++i]);
        else if (strcmp(argv[i], "--raw") == 0 && i + 1 < argc)
            g_opts.n_raw = atoi(argv[++i]);
        else if (strcmp(argv[i], "--restarts") == 0 && i + 1 < argc)
            g_opts.n_restarts = atoi(argv[++i]);
        else if (strcmp(argv[i], "--noise") == 0 && i + 1 < argc)
            g_opts.gp.min_noise = atof(argv[++i]);
        else if (strcmp(argv[i], "speed-data") == 0 && i + 1 < argc)
            speed_file = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            speed_reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            if ((g_runs_out = fopen(argv[++i], "w")) == NULL) {
                fprintf(stderr, "bench_model: cannot write %s\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--short-warm") == 0 && i + 1 < argc)
            g_opts.gp.short_warm_n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--full-max") == 0 && i + 1 < argc)
            g_opts.auto_full_max_n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--budget-x") == 0 && i + 1 < argc)
            g_budget_x = atof(argv[++i]);
        else if (strcmp(argv[i], "--preq-min") == 0 && i + 1 < argc)
            g_opts.preq_min = atoi(argv[++i]);
        else if (strcmp(argv[i], "--preq-decay") == 0 && i + 1 < argc)
            g_opts.preq_decay = atof(argv[++i]);
        else if (strcmp(argv[i], "--shift-adapt") == 0 && i + 1 < argc)
            g_opts.log_shift_adapt = atof(argv[++i]);
        else if (strcmp(argv[i], "--preq-eps") == 0 && i + 1 < argc)
            g_opts.preq_eps = atof(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            g_only = argv[++i];
        else if (strcmp(argv[i], "--prior") == 0 && i + 1 < argc)
            g_opts.gp.prior =
                strcmp(argv[++i], "lognormal") == 0 ? AXL_PRIOR_LOGNORMAL : AXL_PRIOR_GAMMA;
        else {
            fprintf(stderr, "usage: bench_model [quality] [speed] [suite] [--seeds N] [--seed0 S] "
                            "[--suite-seeds N] [--suite-seed0 S] "
                            "[--prior gamma|lognormal] [--quick] [--only NAME] [--tf 0-3] "
                            "[--shift F] [--gap F] [--cold N] [--starts N] [--screen N] [--raw N] "
                            "[--restarts N] [--noise F] [--full-max N] [--short-warm N] "
                            "[--budget-x F] [--runs FILE] [--preq-min N] [--preq-decay F] "
                            "[--preq-eps F] [--shift-adapt F]\n"
                            "       bench_model speed-data FILE [--reps N]\n");
            return 2;
        }
    }
    if (speed_file != NULL)
        return speed_from_file(speed_file, speed_reps);
    if (!do_q && !do_s && !do_suite)
        do_q = do_s = do_suite = 1;
    if (strcmp(AXL_BENCH_BLAS_NAME, "openblas") != 0)
        do_q = do_suite = 0; /* the reference-BLAS build only measures speed */
    make_problems(&br, &h6);

    if (do_s) {
        static const size_t ns[5] = {20, 50, 100, 200, 500};
        fprintf(stderr, "bench_model: speed (%s)\n", AXL_BENCH_BLAS_NAME);
        for (size_t d = 4; d <= 6; d += 2)
            for (int j = 0; j < 5; j++)
                speed(d, ns[j], ns[j] >= 500 ? (quick ? 1 : 3) : quick ? 3 : 7);
    }
    if (do_q) {
        fprintf(stderr, "bench_model: quality, %d seeds\n", seeds);
        quality(&br, "gp", 0, 1, seeds);
        quality(&br, "sobol", 1, 1, seeds);
        quality(&h6, "gp", 0, 1, seeds);
        quality(&h6, "sobol", 1, 1, seeds);
        quality(&h6, "gp_pending3", 2, 3, seeds);
    }
    if (do_suite) {
        fprintf(stderr, "bench_model: suite, %d seeds\n", suite_seeds);
        suite(suite_seeds);
    }
    /* the gslcblas twin, when built, adds its speed rows */
    if (do_s && strcmp(AXL_BENCH_BLAS_NAME, "openblas") == 0 && !quick) {
        char path[4096];
        snprintf(path, sizeof path, "%s_gslcblas", argv[0]);
        if (access(path, X_OK) == 0) {
            char cmd[4200];
            FILE *f;
            char line[512];
            snprintf(cmd, sizeof cmd, "'%s' speed --quick", path);
            if ((f = popen(cmd, "r")) != NULL) {
                while (fgets(line, sizeof line, f) != NULL)
                    fputs(line, stdout);
                pclose(f);
            }
        }
    }
    if (g_runs_out != NULL)
        fclose(g_runs_out);
    return 0;
}
