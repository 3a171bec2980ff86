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
 * Details go to stderr.
 */
#include "bench/axl_bench.h"
#include "hw/axl_film_model.h"

#include <gsl/gsl_errno.h>
#include "hw/axl_pascal_plan.h"
#include "hw/axl_recipe.h"
#include "hw/axl_timeline.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
    free(s.tpl);
    return 0;
}
