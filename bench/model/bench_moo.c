/*
 * bench_moo.c - several objectives and outcome constraints against BoTorch.
 *
 * The four problems of bench/model/peers/peer_moo.py (same budgets, Sobol start of
 * max(5, 2d) points, reference points and optima), one axl_moo_generate() per
 * evaluation, seeds 0..N-1 (campaign seed 1000 + s). Scores:
 *   model.moo.<p>.hv_regret_median     log10(true front's hypervolume - the hypervolume of
 *                                      the observations) after the budget, median
 *   model.constrained.<p>.regret_median best feasible value - optimum, median
 * BoTorch's medians are read from the committed peer results
 * (bench/model/peers/results/moo_botorch_<p>.json); model.moo.wins_vs_botorch counts
 * the problems where axle's median is <= BoTorch's. model.moo.gen_ms.d6.n100: one warm
 * 2-objective generation (DTLZ2, n = 100), median of 7.
 *
 * usage: bench_moo [--seeds N] [--peers DIR] [--only quality|speed] [--problem NAME]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bench/axl_bench.h"
#include "engine/model/axl_moo.h"

#ifndef AXL_SOURCE_DIR
#define AXL_SOURCE_DIR "."
#endif

#define MAXN 64

typedef struct prob {
    const char *name, *row;
    int moo;
    size_t d, budget, n_out;
    axl_outcome oc[3];
    double true_hv, optimum, f_max;
    void (*f)(size_t d, const double *x, double *y);
} prob;

static void f_bc(size_t d, const double *x, double *y)
{
    (void)d;
    axl_testfn_branincurrin(x, y);
}
static void f_dtlz2(size_t d, const double *x, double *y)
{
    axl_testfn_dtlz2(d, x, y);
}
static void f_gramacy(size_t d, const double *x, double *y)
{
    double x1 = x[0], x2 = x[1];
    (void)d;
    y[0] = x1 + x2;
    y[1] = 1.5 - x1 - 2 * x2 - 0.5 * sin(2 * M_PI * (x1 * x1 - 2 * x2));
    y[2] = x1 * x1 + x2 * x2 - 1.5;
}
static void f_h6c(size_t d, const double *x, double *y)
{
    double s = 0;
    size_t i;
    (void)d;
    y[0] = axl_testfn_hartmann6(x);
    for (i = 0; i < 6; i++)
        s += x[i] * x[i];
    y[1] = sqrt(s) - 1.0;
}

static double median(double *v, size_t n)
{
    return axl_bench_quantile(v, n, 0.5);
}

/* BoTorch's median final score from the committed peer file; NaN when absent. */
static double botorch_median(const char *dir, const char *name, int moo, size_t *nseeds)
{
    char path[1024];
    json_error_t err;
    json_t *root, *runs, *run;
    double v[256];
    size_t i, n = 0;
    snprintf(path, sizeof path, "%s/moo_botorch_%s.json", dir, name);
    *nseeds = 0;
    if ((root = json_load_file(path, 0, &err)) == NULL)
        return NAN;
    runs = json_object_get(root, "runs");
    json_array_foreach(runs, i, run)
    {
        json_t *a = json_object_get(run, moo ? "hv_regret" : "regret");
        size_t len = json_array_size(a);
        if (len > 0 && n < 256)
            v[n++] = json_number_value(json_array_get(a, len - 1));
    }
    json_decref(root);
    *nseeds = n;
    return n ? median(v, n) : NAN;
}

/* One campaign; returns the final score (hv regret or simple regret). */
static const axl_model_options *g_opts; /* NULL: the defaults */

static double run_one(const prob *p, uint64_t seed, double *gen_ms_sum, size_t *n_gen)
{
    axl_param par[8];
    axl_space sp;
    axl_gen_step sob, gp;
    axl_model_state ms;
    axl_moo_state mst;
    static double X[MAXN * 8], Y[MAXN * 3];
    size_t n = 0, i, j, n_init = 2 * p->d > 5 ? 2 * p->d : 5;
    double score;

    for (i = 0; i < p->d; i++) {
        memset(&par[i], 0, sizeof(par[i]));
        par[i].type = AXL_PARAM_FLOAT;
        par[i].lower = 0;
        par[i].upper = 1;
    }
    sp.n_params = p->d;
    sp.params = par;
    sp.n_constraints = 0;
    sp.constraints = NULL;
    memset(&sob, 0, sizeof(sob));
    sob.model = AXL_GEN_SOBOL;
    sob.num_trials = (int)n_init;
    sob.max_parallelism = -1;
    gp = sob;
    gp.model = AXL_GEN_GP_LOGEI;
    gp.num_trials = -1;
    axl_model_state_init(&ms, 1000 + seed);
    memset(&mst, 0, sizeof(mst));
    while (n < p->budget) {
        axl_moo_input in;
        axl_moo_output out;
        axl_errbuf eb;
        double t0 = axl_bench_now();
        memset(&in, 0, sizeof(in));
        memset(&out, 0, sizeof(out));
        in.space = &sp;
        in.n_outcomes = p->n_out;
        in.outcomes = p->oc;
        in.n_obs = n;
        in.X = X;
        in.Y = Y;
        in.k = n == 0 ? n_init : 1;
        in.step = n == 0 ? &sob : &gp;
        in.state = &ms;
        in.mstate = &mst;
        in.opts = g_opts;
        out.X = X + n * p->d;
        if (axl_moo_generate(&in, &out, &eb) != 0) {
            fprintf(stderr, "bench_moo: %s seed %llu: %s\n", p->name, (unsigned long long)seed,
                    eb.msg);
            exit(1);
        }
        if (n > 0) {
            *gen_ms_sum += (axl_bench_now() - t0) * 1e3;
            (*n_gen)++;
        }
        for (i = n; i < n + out.n; i++)
            p->f(p->d, X + i * p->d, Y + i * p->n_out);
        n += out.n;
        ms = out.state;
        mst = out.mstate;
    }
    if (p->moo) {
        double Ym[MAXN * 2], ref[2];
        for (i = 0; i < n * 2; i++)
            Ym[i] = -Y[i];
        ref[0] = -p->oc[0].threshold;
        ref[1] = -p->oc[1].threshold;
        score = p->true_hv - axl_hypervolume(n, 2, Ym, ref);
    } else {
        double best = p->f_max;
        for (i = 0; i < n; i++) {
            int ok = 1;
            for (j = 1; j < p->n_out; j++)
                ok &= Y[i * p->n_out + j] <= 0;
            if (ok)
                best = fmin(best, Y[i * p->n_out]);
        }
        score = best - p->optimum;
    }
    return score;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One warm generation at d 6, n 100: median wall ms (returned) and CPU ms (*cpu_ms),
 * of 7. The CPU time is what the generation costs; the wall time adds the machine's
 * other load. */
static double time_gen_d6_n100(double *cpu_ms)
{
    axl_param par[6];
    axl_space sp = {6, par, 0, NULL};
    axl_outcome oc[2] = {{AXL_OUTCOME_OBJECTIVE, 1, 1.1, 0, 0},
                         {AXL_OUTCOME_OBJECTIVE, 1, 1.1, 0, 0}};
    axl_gen_step gp;
    axl_model_state ms;
    axl_moo_state mst;
    static double X[101 * 6], Y[101 * 2], Xo[6];
    double t[7], tc[7];
    size_t i;
    int r;
    uint64_t s = 6100;

    for (i = 0; i < 6; i++) {
        memset(&par[i], 0, sizeof(par[i]));
        par[i].type = AXL_PARAM_FLOAT;
        par[i].upper = 1;
    }
    memset(&gp, 0, sizeof(gp));
    gp.model = AXL_GEN_GP_LOGEI;
    gp.num_trials = -1;
    gp.max_parallelism = -1;
    for (i = 0; i < 600; i++) {
        /* uniform points from splitmix64 (like the peer's numpy default_rng data) */
        uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        X[i] = (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
    }
    for (i = 0; i < 100; i++)
        axl_testfn_dtlz2(6, X + 6 * i, Y + 2 * i);
    axl_model_state_init(&ms, 1);
    memset(&mst, 0, sizeof(mst));
    /* AXL_BENCH_PROFILE=N: N more warm generations after the timed ones (for perf) */
    int extra = getenv("AXL_BENCH_PROFILE") ? atoi(getenv("AXL_BENCH_PROFILE")) : 0;
    for (r = -1; r < 7 + extra; r++) {
        axl_moo_input in;
        axl_moo_output out;
        axl_errbuf eb;
        double t0, c0;
        memset(&in, 0, sizeof(in));
        memset(&out, 0, sizeof(out));
        in.space = &sp;
        in.n_outcomes = 2;
        in.outcomes = oc;
        in.n_obs = 100;
        in.X = X;
        in.Y = Y;
        in.k = 1;
        in.step = &gp;
        in.state = &ms;
        in.mstate = &mst;
        out.X = Xo;
        t0 = axl_bench_now();
        c0 = cpu_now();
        if (axl_moo_generate(&in, &out, &eb) != 0) {
            fprintf(stderr, "bench_moo: timing: %s\n", eb.msg);
            exit(1);
        }
        if (r >= 0 && r < 7) {
            t[r] = (axl_bench_now() - t0) * 1e3;
            tc[r] = (cpu_now() - c0) * 1e3;
        }
        if (getenv("AXL_BENCH_VERBOSE"))
            fprintf(stderr, "bench_moo: d6 n100 fit %.1f ms, acquisition %.1f ms\n", out.fit_ms,
                    out.acq_ms);
        mst = out.mstate; /* warm: the previous generation's hyper-parameters */
        ms = out.state;
    }
    *cpu_ms = median(tc, 7);
    return median(t, 7);
}

int main(int argc, char **argv)
{
    int seeds = 20, i, do_q = 1, do_s = 1;
    const char *peers = AXL_SOURCE_DIR "/bench/model/peers/results", *only_p = NULL;
    prob P[4];
    int wins = 0, compared = 0;
    size_t q;

    if (getenv("OPENBLAS_NUM_THREADS") == NULL) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execv("/proc/self/exe", argv);
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
            seeds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--restarts") == 0 && i + 1 < argc) {
            static axl_model_options o;
            axl_model_options_default(&o);
            o.n_restarts = atoi(argv[++i]);
            g_opts = &o;
        } else if (strcmp(argv[i], "--problem") == 0 && i + 1 < argc)
            only_p = argv[++i];
        else if (strcmp(argv[i], "--peers") == 0 && i + 1 < argc)
            peers = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            do_q = strcmp(argv[i + 1], "quality") == 0;
            do_s = strcmp(argv[++i], "speed") == 0;
        }
    }
    memset(P, 0, sizeof(P));
    P[0] = (prob){"branincurrin",
                  "model.moo.branincurrin30.hv_regret_median",
                  1,
                  2,
                  30,
                  2,
                  {{AXL_OUTCOME_OBJECTIVE, 1, 18.0, 0, 0}, {AXL_OUTCOME_OBJECTIVE, 1, 6.0, 0, 0}},
                  59.36011874867746,
                  0,
                  0,
                  f_bc};
    P[1] = (prob){"dtlz2",
                  "model.moo.dtlz2_d6_60.hv_regret_median",
                  1,
                  6,
                  60,
                  2,
                  {{AXL_OUTCOME_OBJECTIVE, 1, 1.1, 0, 0}, {AXL_OUTCOME_OBJECTIVE, 1, 1.1, 0, 0}},
                  1.21 - M_PI / 4,
                  0,
                  0,
                  f_dtlz2};
    P[2] = (prob){"gramacy",
                  "model.constrained.gramacy40.regret_median",
                  0,
                  2,
                  40,
                  3,
                  {{AXL_OUTCOME_OBJECTIVE, 1, NAN, 0, 0},
                   {AXL_OUTCOME_CONSTRAINT, 0, NAN, 0, 0.0},
                   {AXL_OUTCOME_CONSTRAINT, 0, NAN, 0, 0.0}},
                  0,
                  0.5997880520099887,
                  2.0,
                  f_gramacy};
    P[3] = (prob){"hartmann6c",
                  "model.constrained.hartmann6c50.regret_median",
                  0,
                  6,
                  50,
                  2,
                  {{AXL_OUTCOME_OBJECTIVE, 1, NAN, 0, 0}, {AXL_OUTCOME_CONSTRAINT, 0, NAN, 0, 0.0}},
                  0,
                  -3.32236801141551,
                  0.0,
                  f_h6c};
    for (q = 0; do_q && q < 4; q++) {
        double v[256], gsum = 0, med, bt;
        size_t ng = 0, nb;
        int s;
        if (only_p != NULL && strcmp(only_p, P[q].name) != 0)
            continue;
        for (s = 0; s < seeds && s < 256; s++)
            v[s] = run_one(&P[q], (uint64_t)s, &gsum, &ng);
        med = median(v, (size_t)s);
        bt = botorch_median(peers, P[q].name, P[q].moo, &nb);
        if (P[q].moo) {
            axl_bench_row(P[q].row, log10(med), "log10_hv_regret");
            fprintf(stderr,
                    "bench_moo: %s: axle median hv regret %.4g (%d seeds), BoTorch %.4g (%zu "
                    "seeds); gen %.1f ms\n",
                    P[q].name, med, s, bt, nb, gsum / (double)ng);
        } else {
            axl_bench_row(P[q].row, med, "regret");
            fprintf(stderr,
                    "bench_moo: %s: axle median regret %.4g (%d seeds), BoTorch %.4g (%zu seeds); "
                    "gen %.1f ms\n",
                    P[q].name, med, s, bt, nb, gsum / (double)ng);
        }
        if (!isnan(bt)) {
            compared++;
            wins += med <= bt;
            axl_bench_row(P[q].moo
                              ? (q == 0 ? "model.moo.branincurrin30.botorch_log10_hv_regret_median"
                                        : "model.moo.dtlz2_d6_60.botorch_log10_hv_regret_median")
                              : (q == 2 ? "model.constrained.gramacy40.botorch_regret_median"
                                        : "model.constrained.hartmann6c50.botorch_regret_median"),
                          P[q].moo ? log10(bt) : bt, P[q].moo ? "log10_hv_regret" : "regret");
            /* how many BoTorch runs that median is of (they take minutes to an hour) */
            axl_bench_row(P[q].moo ? (q == 0 ? "model.moo.branincurrin30.botorch_seeds"
                                             : "model.moo.dtlz2_d6_60.botorch_seeds")
                                   : (q == 2 ? "model.constrained.gramacy40.botorch_seeds"
                                             : "model.constrained.hartmann6c50.botorch_seeds"),
                          (double)nb, "seeds");
        }
    }
    if (do_q) {
        axl_bench_row("model.moo.wins_vs_botorch", wins, "problems");
        axl_bench_row("model.moo.compared_with_botorch", compared, "problems");
    }
    if (do_s) {
        double cpu, wall = time_gen_d6_n100(&cpu);
        axl_bench_row("model.moo.gen_ms.d6.n100", wall, "ms");
        axl_bench_row("model.moo.gen_cpu_ms.d6.n100", cpu, "ms");
    }
    return 0;
}
