/*
 * bench_lab - hw/'s pure half:
 *   lab.place_ms_100                   median ms to place one sample, 100 in flight
 *   lab.pascal_netlist_makespan_ratio  PASCAL's 36-sample plan re-placed online in file
 *                                      order / its CP-SAT makespan 15,743 s
 *   lab.timeline_samples_per_h         36 seed samples (Halton-varied parameters) planned
 *   lab.timeline_throughput_vs_bound   makespan lower bound / planned makespan
 *   lab.timeline_samples_per_h_mid     the same with every parameter at mid-range
 *   lab.timeline_throughput_vs_bound_mid
 *   lab.pl_fit_ms                      median ms for one PL analysis (1024 px, 3 dwells)
 * and on the simulated line (the lab runner, five `axle worker` processes on ipc://
 * sockets, the real engine loop and store):
 *   lab.samples_per_h                  36 seed samples (Sobol-spread parameters, all
 *                                      deployed at once) through the workers at 1000x:
 *                                      samples per hour of line time, first task start to
 *                                      last task end
 *   lab.throughput_vs_bound            the makespan lower bound of those 36 chains (the
 *                                      busiest station's busy time with the work that must
 *                                      precede and follow it, axl_tl_stats) / the makespan
 *                                      the line took; 1.0 = at the bound
 *   lab.moves_onto_occupied_station    in that run, moves onto the spin coater or the
 *                                      characterization stage that started while another
 *                                      film was there (must be 0: the interlock)
 *   lab.demo_wall_s                    examples/antisolvent_pl.json (30 trials, Sobol 5 then
 *                                      GP-LogEI, 1000x): wall seconds, median of 5 seeds
 *   lab.demo_best_fraction             the film model's noise-free intensity at the best
 *                                      measured recipe / the true optimum, median of 5 seeds
 * and on real device drivers against `axle emulate` (bench_devices.c):
 *   lab.driver_roundtrip_ms_p50/_p99   one gantry command (M114 and its report) through
 *                                      the serial layer, a pty and the emulator
 *   lab.emulated_vs_sim_throughput     samples per hour of a 12-sample campaign with every
 *                                      worker on its real drivers talking to emulators /
 *                                      the same on the simulated line, same compression
 * Details go to stderr. AXL_BENCH_LAB_QUICK=1 skips the simulated line;
 * AXL_BENCH_LAB_PART=line, =demo or =devices runs only that part of it. Experiments only:
 * AXL_BENCH_SPEED runs the 36-sample line at another compression (default 1000),
 * AXL_BENCH_KEEP keeps its store.
 */
#include "bench/axl_bench.h"
#include "engine/axl_engine.h"
#include "proto/axl_log.h"
#include "storage/axl_store.h"
#include "hw/line/axl_film_model.h"

#include <gsl/gsl_errno.h>
#include "hw/line/axl_pascal_plan.h"
#include "hw/line/axl_recipe.h"
#include "hw/line/axl_timeline.h"

#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/lab/bench_lab.h"

#define PASCAL_CPSAT_MAKESPAN 15743.0

static void die(const char *what, const axl_errbuf *eb)
{
    fprintf(stderr, "bench_lab: %s: %s\n", what, eb->msg);
    exit(1);
}

/* Radical inverse in base b: the Halton sequence, a low-discrepancy design like Sobol. */
static double halton(unsigned i, unsigned b)
{
    double f = 1, r = 0;
    for (; i > 0; i /= b) {
        f /= b;
        r += f * (double)(i % b);
    }
    return r;
}

typedef struct seed_lab {
    axl_recipe_template *tpl;
    axl_tl_config line;
} seed_lab;

static void load_seed(seed_lab *s)
{
    axl_errbuf eb = {{0}};
    json_error_t jerr;
    json_t *lab = json_load_file(AXL_SEED_LAB_JSON, 0, &jerr);
    if (lab == NULL) {
        fprintf(stderr, "bench_lab: %s: %s\n", AXL_SEED_LAB_JSON, jerr.text);
        exit(1);
    }
    s->tpl = malloc(sizeof(*s->tpl));
    if (s->tpl == NULL)
        exit(1);
    if (axl_recipe_template_parse(json_object_get(lab, "recipe"), "lab.recipe", s->tpl, &eb))
        die("seed recipe", &eb);
    if (axl_tl_config_parse(json_object_get(lab, "line"), "lab.line", &s->line, &eb))
        die("seed line", &eb);
    json_decref(lab);
}

/* The seed chain for design point i (i >= 1) of the seed's search space. */
static void seed_chain(const seed_lab *s, unsigned i, bool mid, axl_chain *c)
{
    axl_errbuf eb = {{0}};
    axl_recipe r;
    double u[4] = {0.5, 0.5, 0.5, 0.5};
    if (!mid) {
        static const unsigned base[4] = {2, 3, 5, 7};
        for (int k = 0; k < 4; k++)
            u[k] = halton(i, base[k]);
    }
    axl_recipe_arg p[4] = {
        {"antisolvent_volume", 30 + 120 * u[0]},
        {"antisolvent_rate", 30 + 120 * u[1]},
        {"antisolvent_timing", -30 + 25 * u[2]},
        {"anneal_duration", 900 + 2700 * u[3]},
    };
    if (axl_recipe_instantiate(s->tpl, p, 4, &r, &eb) || axl_chain_from_recipe(&r, c, &eb))
        die("seed chain", &eb);
}

static double bench_place(const seed_lab *s)
{
    axl_errbuf eb = {{0}};
    axl_timeline *tl;
    axl_chain c;
    enum { INFLIGHT = 100, ROUNDS = 600 };
    static double ms[ROUNDS];
    if (axl_tl_new(&s->line, &tl, &eb))
        die("timeline", &eb);
    uint64_t next = 0;
    for (; next < INFLIGHT; next++) {
        seed_chain(s, (unsigned)next + 1, false, &c);
        if (axl_tl_place(tl, next, &c, 0, NULL, &eb))
            die("place", &eb);
    }
    /* Steady state: the oldest sample completes, a new one is placed from then on. */
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t oldest = axl_tl_id(tl, 0);
        const axl_tl_slot *sl;
        const axl_chain *oc;
        axl_tl_get(tl, oldest, &oc, &sl);
        double now = sl[oc->n - 1].end;
        axl_tl_remove(tl, oldest);
        seed_chain(s, (unsigned)next + 1, false, &c);
        double t0 = axl_bench_now();
        int rc = axl_tl_place(tl, next++, &c, now, NULL, &eb);
        ms[r] = (axl_bench_now() - t0) * 1e3;
        if (rc)
            die("place", &eb);
    }
    fprintf(stderr, "  place with %zu in flight: median %.4f ms, p99 %.4f ms\n", axl_tl_count(tl),
            axl_bench_quantile(ms, ROUNDS, 0.5), axl_bench_quantile(ms, ROUNDS, 0.99));
    axl_tl_free(tl);
    return axl_bench_quantile(ms, ROUNDS, 0.5);
}

static double bench_pascal(void)
{
    axl_errbuf eb = {{0}};
    axl_pascal_plan p;
    axl_pascal_stats ps;
    axl_tl_config cfg;
    axl_timeline *tl;
    axl_tl_stats st;
    double ratio[2] = {0, 0};
    /* PASCAL stores whole seconds; the exact model is reported alongside. */
    for (int exact = 0; exact < 2; exact++) {
        if (axl_pascal_plan_load(AXL_PASCAL_NETLIST, exact ? 0 : AXL_PASCAL_TRUNCATE, &p, &eb))
            die("netlist", &eb);
        axl_pascal_plan_stats(&p, &ps);
        axl_pascal_plan_tl_config(&p, &cfg);
        if (axl_tl_new(&cfg, &tl, &eb))
            die("timeline", &eb);
        double t0 = axl_bench_now();
        if (axl_pascal_plan_place(&p, tl, 0, 0, &eb))
            die("place netlist", &eb);
        double dt = axl_bench_now() - t0;
        axl_tl_stats_get(tl, &st);
        ratio[exact] = st.makespan / PASCAL_CPSAT_MAKESPAN;
        fprintf(stderr,
                "  PASCAL netlist (%s durations): file makespan %.0f s, spin coater %.0f s; "
                "axle online %.0f s (ratio %.4f), bound %.0f s (%s), placed in %.2f ms\n",
                exact ? "exact" : "whole-second", ps.makespan, ps.spincoater_held, st.makespan,
                ratio[exact], st.makespan_bound, axl_tl_resource_name(st.bottleneck), dt * 1e3);
        axl_tl_free(tl);
        axl_pascal_plan_free(&p);
    }
    return ratio[0];
}

static void bench_throughput(const seed_lab *s, double per_h[2], double vs_bound[2])
{
    axl_errbuf eb = {{0}};
    for (int mid = 1; mid >= 0; mid--) {
        axl_timeline *tl;
        axl_tl_stats st;
        axl_chain c;
        if (axl_tl_new(&s->line, &tl, &eb))
            die("timeline", &eb);
        for (unsigned i = 0; i < 36; i++) {
            seed_chain(s, i + 1, mid, &c);
            if (axl_tl_place(tl, i, &c, 0, NULL, &eb))
                die("place", &eb);
        }
        axl_tl_stats_get(tl, &st);
        double h = st.makespan / 3600;
        fprintf(stderr,
                "  36 seed samples (%s): makespan %.0f s = %.2f h, %.2f samples/h; bound %.0f s "
                "(busy bound %.0f s) set by the %s, busy %.0f s = %.1f%% of the makespan; "
                "spin coater busy %.0f s\n",
                mid ? "mid-range parameters" : "Halton-varied parameters", st.makespan, h, 36 / h,
                st.makespan_bound, st.busy_bound, axl_tl_resource_name(st.bottleneck),
                st.busy[st.bottleneck], 100 * st.busy[st.bottleneck] / st.makespan,
                st.busy[AXL_TL_SPINCOATER]);
        per_h[mid] = 36 / h;
        vs_bound[mid] = st.makespan_bound / st.makespan;
        axl_tl_free(tl);
    }
}

static double bench_pl(void)
{
    axl_errbuf eb = {{0}};
    axl_film_model m;
    axl_film_inputs x;
    axl_spectrum s;
    axl_pl_result r;
    enum { N = 200 };
    static double ms[N];
    axl_film_model_default(&m);
    axl_film_optimum(&m, &x);
    x.antisolvent_volume -= 20; /* off the optimum: a typical film */
    if (axl_film_spectrum(&m, &x, 1, &s, &eb))
        die("film spectrum", &eb);
    for (int i = 0; i < N; i++) {
        double t0 = axl_bench_now();
        if (axl_pl_analyze(&s, NULL, &r, &eb))
            die("pl fit", &eb);
        ms[i] = (axl_bench_now() - t0) * 1e3;
    }
    fprintf(stderr,
            "  PL fit: %zu pixels in the window, %u iterations, intensity %.0f (true %.0f)\n",
            r.npoints, r.iterations, r.intensity, axl_film_intensity(&m, &x));
    axl_spectrum_free(&s);
    return axl_bench_quantile(ms, N, 0.5);
}

/* ---- the simulated line ---------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/axl-bench-lab-XXXXXX", base);
    char *d = mkdtemp(tmpl);
    if (d == NULL) {
        perror("bench_lab: mkdtemp");
        exit(1);
    }
    return strdup(d);
}

/* The seed campaign's experiment with its simulate section (speed, seed) and strategy. */
json_t *seed_experiment(const char *name, int trials, json_t *steps, double speed,
                        uint64_t sim_seed, int max_in_flight)
{
    json_error_t jerr;
    json_t *e = json_load_file(AXL_DEMO_JSON, 0, &jerr);
    if (e == NULL) {
        fprintf(stderr, "bench_lab: %s: %s\n", AXL_DEMO_JSON, jerr.text);
        exit(1);
    }
    json_object_set_new(e, "name", json_string(name));
    json_object_set_new(e, "generation_strategy", json_pack("{s:o}", "steps", steps));
    json_t *sched = json_object_get(e, "scheduler");
    json_object_set_new(sched, "total_trials", json_integer(trials));
    json_object_set_new(sched, "max_pending_trials", json_integer(max_in_flight));
    json_t *lab = json_object_get(e, "lab");
    json_object_set_new(lab, "max_in_flight", json_integer(max_in_flight));
    json_t *sim = json_object_get(lab, "simulate");
    json_object_set_new(sim, "speed", json_real(speed));
    json_object_set_new(sim, "seed", json_integer((json_int_t)sim_seed));
    json_object_set_new(sim, "worker_bin", json_string(AXLE_BIN));
    /* 36 samples and their antisolvent: give the bottles what the set needs. */
    json_t *sol = json_object_get(json_object_get(lab, "labware"), "solutions");
    json_object_set_new(json_object_get(sol, "methylacetate"), "volume_ul", json_real(20000));
    return e;
}

static bool param_of(const axl_trial_rec *t, const char *name, double *out)
{
    for (uint32_t i = 0; i < t->n_params; i++)
        if (strcmp(t->params[i].name, name) == 0 && t->params[i].value.kind == AXL_VALUE_NUM) {
            *out = t->params[i].value.num;
            return true;
        }
    return false;
}

/* One task event against who holds the spin coater and the characterization stage (the
 * log's order is the gripper's: it runs one move at a time). */
static void count_onto_occupied(const axl_msg *m, bool started, bool finished, int64_t trial,
                                int64_t holder[2], line_run *out)
{
    static const char *const station[2] = {"spincoater", "characterization"};
    const char *p;
    size_t len;
    if (axl_obj_str(&m->root, "b", "task", true, 63, &p, &len, NULL) != 0)
        return;
    for (int k = 0; k < 2; k++) {
        size_t sl = strlen(station[k]);
        bool onto = len > sl + 4 && memcmp(p + len - sl, station[k], sl) == 0 &&
                    memcmp(p + len - sl - 4, "_to_", 4) == 0;
        bool off = len > sl + 4 && memcmp(p, station[k], sl) == 0 && memcmp(p + sl, "_to_", 4) == 0;
        if (started && onto) {
            out->onto_occupied += holder[k] != -1;
            holder[k] = trial;
        } else if (finished && off) {
            holder[k] = -1;
        }
    }
}

/* Runs one campaign in a fresh store; reads back trials and the task events' span. */
void run_line(json_t *exp, const char *name, line_run *out)
{
    axl_errbuf eb = {{0}};
    char *dir = make_tmpdir();
    char path[600];
    snprintf(path, sizeof(path), "%s/experiment.json", dir);
    if (json_dump_file(exp, path, JSON_INDENT(1)) != 0)
        exit(1);
    axl_campaign_options opt;
    axl_campaign_options_default(&opt);
    opt.stream = false;
    opt.handle_signals = false;
    memset(out, 0, sizeof(*out));
    double t0 = axl_bench_now();
    if (axl_engine_run(path, NULL, dir, true, &opt, &out->res, &eb) != 0)
        die("campaign", &eb);
    out->wall_s = axl_bench_now() - t0;

    axl_store *st = NULL;
    axl_store_experiment *se = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    if (axl_store_open(dir, &so, &st, &eb) != 0 || axl_store_load(st, name, &se, &eb) != 0)
        die("store", &eb);
    out->n_trials = se->n_trials < 64 ? se->n_trials : 64;
    for (size_t i = 0; i < out->n_trials; i++) {
        const axl_trial_rec *t = &se->trials[i];
        out->status[i] = t->status;
        param_of(t, "antisolvent_volume", &out->params[i][0]);
        param_of(t, "antisolvent_rate", &out->params[i][1]);
        param_of(t, "antisolvent_timing", &out->params[i][2]);
        param_of(t, "anneal_duration", &out->params[i][3]);
    }
    out->first_start = INFINITY;
    out->last_end = -INFINITY;
    int64_t holder[2] = {-1, -1};
    axl_store_iter *it;
    if (axl_store_iter_open(st, 1, 0, &it, &eb) != 0)
        die("events", &eb);
    uint64_t seq;
    const void *data;
    size_t len;
    while (axl_store_iter_next(it, &seq, &data, &len, &eb) == 0) {
        axl_event ev;
        axl_msg m;
        double t;
        if (axl_event_decode(data, len, &ev, &eb) != 0 || ev.type_len < 5 ||
            memcmp(ev.type, "task.", 5) != 0)
            continue;
        if (axl_msg_parse(&m, ev.body, ev.body_len, NULL) != 0)
            continue;
        bool started = ev.type_len == 12 && memcmp(ev.type, "task.started", 12) == 0;
        if (axl_obj_num(&m.root, "b", "time", true, 0, 1e12, &t, NULL) == 0) {
            if (started)
                out->first_start = fmin(out->first_start, t);
            else
                out->last_end = fmax(out->last_end, t);
        }
        bool finished = ev.type_len == 13 && memcmp(ev.type, "task.finished", 13) == 0;
        count_onto_occupied(&m, started, finished, ev.trial, holder, out);
        axl_msg_free(&m);
    }
    axl_store_iter_close(it);
    axl_store_experiment_free(se);
    axl_store_close(st);
    if (getenv("AXL_BENCH_KEEP") == NULL) /* experiments only: keep the store to look at */
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    else
        fprintf(stderr, "  kept the store %s\n", dir);
    free(dir);
}

static void bench_line_throughput(const seed_lab *s, double *per_h, double *vs_bound,
                                  uint32_t *onto_occupied)
{
    const double speed = getenv("AXL_BENCH_SPEED") ? atof(getenv("AXL_BENCH_SPEED")) : 1000;
    const int n = 36;
    json_t *steps = json_pack("[{s:s,s:i,s:i,s:i}]", "model", "sobol", "num_trials", -1,
                              "max_parallelism", 45, "seed", 4242);
    json_t *exp = seed_experiment("line36", n, steps, speed, 11, 45);
    if (getenv("AXL_BENCH_PLAN_BUDGET") != NULL) /* experiments only */
        json_object_set_new(json_object_get(exp, "lab"), "plan_budget_ms",
                            json_real(atof(getenv("AXL_BENCH_PLAN_BUDGET"))));
    line_run run;
    fprintf(stderr, "  simulated line: 36 seed samples at %gx ...\n", speed);
    run_line(exp, "line36", &run);
    json_decref(exp);
    if (run.res.n_completed != (uint32_t)n)
        fprintf(stderr, "  warning: %u of %d samples completed\n", run.res.n_completed, n);
    double makespan = (run.last_end - run.first_start) * speed;

    /* The bound of the same 36 chains (placement order = trial order, as deployed). */
    axl_errbuf eb = {{0}};
    axl_timeline *tl;
    axl_tl_stats st;
    if (axl_tl_new(&s->line, &tl, &eb))
        die("timeline", &eb);
    for (size_t i = 0; i < run.n_trials; i++) {
        axl_recipe r;
        axl_chain c;
        axl_recipe_arg p[4] = {{"antisolvent_volume", run.params[i][0]},
                               {"antisolvent_rate", run.params[i][1]},
                               {"antisolvent_timing", run.params[i][2]},
                               {"anneal_duration", run.params[i][3]}};
        if (axl_recipe_instantiate(s->tpl, p, 4, &r, &eb) || axl_chain_from_recipe(&r, &c, &eb) ||
            axl_tl_place(tl, i, &c, 0, NULL, &eb))
            die("bound", &eb);
    }
    axl_tl_stats_get(tl, &st);
    axl_tl_free(tl);
    *per_h = n / (makespan / 3600);
    *vs_bound = st.makespan_bound / makespan;
    *onto_occupied = run.onto_occupied;
    fprintf(stderr,
            "  line: %d samples in %.0f s of line time (%.1f s wall) = %.2f samples/h; "
            "bound %.0f s (busy bound %.0f s, %s busy %.0f s); placed in arrival order the "
            "plan is %.0f s (the line took %.3f of that)\n",
            n, makespan, run.wall_s, *per_h, st.makespan_bound, st.busy_bound,
            axl_tl_resource_name(st.bottleneck), st.busy[st.bottleneck], st.makespan,
            makespan / st.makespan);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_demo(double *wall_s, double *best_fraction)
{
    enum { SEEDS = 5 };
    double walls[SEEDS], fracs[SEEDS];
    axl_film_model fm;
    axl_film_inputs opt;
    axl_film_model_default(&fm);
    double top = axl_film_optimum(&fm, &opt);
    for (int k = 0; k < SEEDS; k++) {
        /* The example as shipped, with its seeds varied: Sobol 999+k, the line 1+k. */
        json_t *steps =
            json_pack("[{s:s,s:i,s:i,s:i,s:i},{s:s,s:i,s:i}]", "model", "sobol", "num_trials", 5,
                      "min_trials_observed", 3, "max_parallelism", 5, "seed", 999 + k, "model",
                      "gp_logei", "num_trials", -1, "max_parallelism", 3);
        char name[32];
        snprintf(name, sizeof(name), "demo%d", k);
        json_t *exp = seed_experiment(name, 30, steps, 1000, 1 + (uint64_t)k, 45);
        json_object_set_new(json_object_get(exp, "scheduler"), "max_pending_trials",
                            json_integer(10));
        line_run run;
        run_line(exp, name, &run);
        json_decref(exp);
        size_t b = run.n_trials;
        for (size_t i = 0; i < run.n_trials; i++)
            if (run.status[i] == AXL_TRIAL_COMPLETED && i == run.res.best_trial)
                b = i;
        double truth = NAN;
        if (b < run.n_trials) {
            axl_film_inputs x = {run.params[b][0], run.params[b][1], run.params[b][2],
                                 run.params[b][3]};
            truth = axl_film_intensity(&fm, &x);
        }
        walls[k] = run.wall_s;
        fracs[k] = truth / top;
        fprintf(stderr,
                "  demo seed %d: %.1f s wall, %u/%u completed, best measured %.0f (trial %u) "
                "-> noise-free %.0f = %.3f of the optimum %.0f\n",
                k, run.wall_s, run.res.n_completed, run.res.n_trials, run.res.best_value,
                run.res.best_trial, truth, fracs[k], top);
    }
    qsort(walls, SEEDS, sizeof(double), cmp_double);
    qsort(fracs, SEEDS, sizeof(double), cmp_double);
    *wall_s = walls[SEEDS / 2];
    *best_fraction = fracs[SEEDS / 2];
}

int main(void)
{
    /* GSL's default handler aborts; the fits report its errors as codes (axl_pl.h). */
    gsl_set_error_handler_off();
    seed_lab s;
    load_seed(&s);
    axl_bench_row("lab.place_ms_100", bench_place(&s), "ms");
    axl_bench_row("lab.pascal_netlist_makespan_ratio", bench_pascal(), "ratio");
    double per_h[2] = {0, 0}, vs[2] = {0, 0};
    bench_throughput(&s, per_h, vs);
    axl_bench_row("lab.timeline_samples_per_h", per_h[0], "samples/h");
    axl_bench_row("lab.timeline_throughput_vs_bound", vs[0], "ratio");
    axl_bench_row("lab.timeline_samples_per_h_mid", per_h[1], "samples/h");
    axl_bench_row("lab.timeline_throughput_vs_bound_mid", vs[1], "ratio");
    axl_bench_row("lab.pl_fit_ms", bench_pl(), "ms");
    if (getenv("AXL_BENCH_LAB_QUICK") == NULL) {
        axl_log_set_level(getenv("AXL_BENCH_LOG") ? AXL_LOG_INFO : AXL_LOG_WARN);
        double sph = 0, vsb = 0, wall = 0, frac = 0;
        const char *part = getenv("AXL_BENCH_LAB_PART"); /* "line" or "demo": one of them */
        if (part == NULL || strcmp(part, "line") == 0) {
            uint32_t occupied = 0;
            bench_line_throughput(&s, &sph, &vsb, &occupied);
            axl_bench_row("lab.samples_per_h", sph, "samples/h");
            axl_bench_row("lab.throughput_vs_bound", vsb, "ratio");
            axl_bench_row("lab.moves_onto_occupied_station", occupied, "moves");
        }
        if (part == NULL || strcmp(part, "demo") == 0) {
            bench_demo(&wall, &frac);
            axl_bench_row("lab.demo_wall_s", wall, "s");
            axl_bench_row("lab.demo_best_fraction", frac, "ratio");
        }
        if (part == NULL || strcmp(part, "devices") == 0) {
            double p99 = 0, p50 = bench_driver_roundtrip(&p99);
            axl_bench_row("lab.driver_roundtrip_ms_p50", p50, "ms");
            axl_bench_row("lab.driver_roundtrip_ms_p99", p99, "ms");
            axl_bench_row("lab.emulated_vs_sim_throughput", bench_emulated_vs_sim(), "ratio");
        }
    }
    free(s.tpl);
    return 0;
}
