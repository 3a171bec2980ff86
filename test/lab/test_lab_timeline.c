/*
 * test_lab_timeline.c - the task timeline. The property test places random sample sets
 * (random recipes, releases, removals, small capacities, several plate temperatures) and
 * then re-checks the whole plan with its own sweep over the placements: it trusts nothing
 * of the placer's bookkeeping, only the slots it reports.
 */
#include "lab_test.h"

#include "hw/line/axl_timeline.h"

#include <math.h>

static axl_chain seed_chain(double volume, double anneal)
{
    axl_recipe r;
    axl_chain c;
    axl_errbuf eb = {{0}};
    axl_recipe_seed(volume, 80, -20, anneal, &r);
    assert_int_equal(axl_chain_from_recipe(&r, &c, &eb), 0);
    return c;
}

static void test_first_samples_start_without_idle(void **state)
{
    (void)state;
    axl_timeline *tl;
    axl_errbuf eb = {{0}};
    axl_tl_slot a[AXL_CHAIN_MAX], b[AXL_CHAIN_MAX];
    assert_int_equal(axl_tl_new(NULL, &tl, &eb), 0);
    axl_chain c = seed_chain(100, 1800);
    assert_int_equal(axl_tl_place(tl, 1, &c, 100, a, &eb), 0);
    /* alone on the line: no waiting anywhere but the sample chain's own durations */
    assert_near(a[0].start, 100, 0);
    for (uint32_t k = 1; k < c.n; k++)
        assert_near(a[k].start, a[k - 1].end, 0);
    assert_int_equal(a[3].plate, 0);
    assert_int_equal(a[2].plate, 0);
    assert_int_equal(a[0].plate, -1);
    /* the second sample takes the spin coater as soon as the first leaves it */
    assert_int_equal(axl_tl_place(tl, 2, &c, 100, b, &eb), 0);
    assert_near(b[0].start, a[2].end, 0);
    assert_int_equal(axl_tl_place(tl, 2, &c, 100, b, &eb), AXL_EEXIST);

    /* its characterization waits for the first one's: the move in may wait, the line
     * is held from move-in to move-out */
    assert_true(b[6].start >= a[8].end);

    /* query, stats, removal */
    const axl_tl_slot *got;
    const axl_chain *gc;
    assert_int_equal(axl_tl_get(tl, 2, &gc, &got), 0);
    assert_memory_equal(got, b, c.n * sizeof(*b));
    assert_int_equal(gc->n, c.n);
    assert_int_equal(axl_tl_count(tl), 2);
    assert_true(axl_tl_id(tl, 1) == 2);
    assert_near(axl_tl_release(tl, 2), 100, 0);
    axl_tl_stats st;
    axl_tl_stats_get(tl, &st);
    assert_int_equal(st.samples, 2);
    assert_near(st.first_start, 100, 0);
    assert_near(st.busy[AXL_TL_SPINCOATER], 2 * (a[2].end - a[0].start), 1e-9);
    assert_true(st.busy_bound <= st.makespan_bound && st.makespan_bound <= st.makespan + 1e-9);
    assert_int_equal(axl_tl_remove(tl, 1), 0);
    assert_int_equal(axl_tl_remove(tl, 1), AXL_ENOENT);
    assert_int_equal(axl_tl_get(tl, 1, NULL, NULL), AXL_ENOENT);
    /* with sample 1 gone, a new sample starts at the release time again */
    assert_int_equal(axl_tl_place(tl, 3, &c, 0, a, &eb), 0);
    assert_near(a[0].start, 0, 0);
    axl_tl_free(tl);
}

static void test_insert_checks_the_plan(void **state)
{
    (void)state;
    axl_timeline *tl;
    axl_errbuf eb = {{0}};
    axl_tl_slot a[AXL_CHAIN_MAX];
    double start[AXL_CHAIN_MAX];
    assert_int_equal(axl_tl_new(NULL, &tl, &eb), 0);
    axl_chain c = seed_chain(100, 1800);
    assert_int_equal(axl_tl_place(tl, 1, &c, 0, a, &eb), 0);
    for (uint32_t k = 0; k < c.n; k++)
        start[k] = a[k].start;
    /* the same times again: the spin coater is taken */
    assert_int_equal(axl_tl_insert(tl, 2, &c, start, NULL, &eb), AXL_EBUSY);
    assert_non_null(strstr(eb.msg, "conflicts"));
    /* immediacy is enforced */
    for (uint32_t k = 0; k < c.n; k++)
        start[k] = a[k].start + 10000;
    start[3] += 5; /* the anneal starts 5 s after its move */
    for (uint32_t k = 4; k < c.n; k++)
        start[k] += 5;
    assert_int_equal(axl_tl_insert(tl, 2, &c, start, NULL, &eb), AXL_EINVAL);
    assert_non_null(strstr(eb.msg, "must start when task 2 ends"));
    /* shifted by 10000 s it fits */
    for (uint32_t k = 0; k < c.n; k++)
        start[k] = a[k].start + 10000;
    assert_int_equal(axl_tl_insert(tl, 2, &c, start, a, &eb), 0);
    assert_int_equal(axl_tl_remove(tl, 2), 0);
    axl_tl_free(tl);

    /* compaction shapes placements, never what a restore may insert: the same chain one
     * characterization visit + 20 s later leaves the spin coater idle ~74 s, a sliver
     * shorter than a visit, and is still a valid plan */
    axl_tl_config cfg;
    axl_tl_config_default(&cfg);
    cfg.compact = 1;
    assert_int_equal(axl_tl_new(&cfg, &tl, &eb), 0);
    assert_int_equal(axl_tl_place(tl, 1, &c, 0, a, &eb), 0);
    double shift = a[8].end - a[6].start + 20, spin_end = a[2].end;
    for (uint32_t k = 0; k < c.n; k++)
        start[k] = a[k].start + shift;
    assert_true(start[0] - spin_end > 0 && start[0] - spin_end < spin_end);
    assert_int_equal(axl_tl_insert(tl, 2, &c, start, NULL, &eb), 0);
    axl_tl_free(tl);
}

static void test_replan_after_a_delay(void **state)
{
    (void)state;
    axl_timeline *tl;
    axl_errbuf eb = {{0}};
    axl_tl_slot a[AXL_CHAIN_MAX], b[AXL_CHAIN_MAX], act[AXL_CHAIN_MAX], r[AXL_CHAIN_MAX];
    axl_tl_config cfg;
    axl_tl_config_default(&cfg);
    assert_int_equal(axl_tl_new(&cfg, &tl, &eb), 0);
    axl_chain c = seed_chain(100, 1800);
    assert_int_equal(axl_tl_place(tl, 1, &c, 0, a, &eb), 0);
    assert_int_equal(axl_tl_place(tl, 2, &c, 0, b, &eb), 0);

    /* on time: re-planning changes nothing */
    memcpy(act, a, sizeof(act));
    assert_int_equal(axl_tl_replan(tl, 1, 2, act, a[1].end, r, &eb), 0);
    for (uint32_t k = 0; k < c.n; k++)
        assert_near(r[k].start, a[k].start, 0);

    /* the spin coat ran 30 s over: sample 2 was to take the spin coater then */
    act[1].end += 30;
    assert_int_equal(axl_tl_replan(tl, 1, 2, act, act[1].end, r, &eb), AXL_EBUSY);
    const axl_tl_slot *still;
    assert_int_equal(axl_tl_get(tl, 1, NULL, &still), 0);
    assert_near(still[2].start, a[2].start, 0); /* the old plan stays */
    /* the runner's way out: take the not-yet-started sample off, re-plan, put it back */
    assert_int_equal(axl_tl_remove(tl, 2), 0);
    assert_int_equal(axl_tl_replan(tl, 1, 2, act, act[1].end, r, &eb), 0);
    assert_near(r[1].end, a[1].end + 30, 0);
    assert_near(r[2].start, r[1].end, 0); /* off the spin coater right away */
    assert_near(r[8].end, a[8].end + 30, 1e-9);
    assert_int_equal(axl_tl_place(tl, 2, &c, 0, b, &eb), 0);
    assert_near(b[0].start, r[2].end, 0);
    assert_int_equal(axl_tl_id(tl, 0), 1); /* re-planned sample 1 moved to the end ... */
    assert_int_equal(axl_tl_count(tl), 2);

    /* a film on a plate stays on it */
    const axl_tl_slot *cur;
    assert_int_equal(axl_tl_get(tl, 1, NULL, &cur), 0);
    memcpy(act, cur, sizeof(act));
    int plate = act[3].plate;
    act[3].end -= 100; /* the anneal was cut short (say, by an operator) */
    assert_int_equal(axl_tl_replan(tl, 1, 4, act, act[3].end, r, &eb), 0);
    assert_int_equal(r[4].plate, plate);
    assert_near(r[4].start, act[3].end, 0);
    /* nonsense history is refused */
    act[2].start = act[1].start - 50;
    assert_int_equal(axl_tl_replan(tl, 1, 4, act, 0, r, &eb), AXL_EINVAL);
    assert_int_equal(axl_tl_replan(tl, 99, 0, NULL, 0, r, &eb), AXL_ENOENT);
    axl_tl_free(tl);
}

/* An ended sample cut after its last step and sent back to storage (the lab runner's
 * clearing move): the station stays held until the move's end, what the old chain held
 * after it is given back, and nobody else is put on the station before then. */
static void test_reroute_to_storage(void **state)
{
    (void)state;
    axl_timeline *tl;
    axl_errbuf eb = {{0}};
    axl_tl_slot a[AXL_CHAIN_MAX], b[AXL_CHAIN_MAX], r[AXL_CHAIN_MAX];
    assert_int_equal(axl_tl_new(NULL, &tl, &eb), 0);
    axl_chain c = seed_chain(100, 1800);
    assert_int_equal(c.task[3].kind, AXL_TASK_ANNEAL);
    assert_int_equal(axl_tl_place(tl, 1, &c, 0, a, &eb), 0);

    /* ended during its anneal: tasks 0-3 ran as planned, then hotplate -> storage */
    axl_chain cut = c;
    cut.n = 5;
    cut.task[4] = (axl_chain_task){AXL_TASK_MOVE,
                                   AXL_STATION_HOTPLATE,
                                   AXL_STATION_STORAGE,
                                   axl_station_move_s(AXL_STATION_HOTPLATE, AXL_STATION_STORAGE),
                                   NAN,
                                   -1};
    assert_int_equal(axl_tl_reroute(tl, 1, &cut, 4, a, a[3].end, r, &eb), 0);
    assert_near(r[4].start, a[3].end, 0); /* off the hotplate right away */
    assert_near(r[4].end, a[3].end + cut.task[4].duration, 1e-9);
    assert_int_equal(r[4].plate, a[3].plate); /* from the plate the film is on */
    const axl_chain *gc;
    assert_int_equal(axl_tl_get(tl, 1, &gc, NULL), 0);
    assert_int_equal(gc->n, 5);
    /* the characterization it no longer visits is free: a new sample's does not wait for
     * sample 1's old visit to end (it did: test_first_samples_start_without_idle) */
    assert_int_equal(axl_tl_place(tl, 2, &c, 0, b, &eb), 0);
    assert_true(b[6].start < a[8].end);
    assert_int_equal(axl_tl_remove(tl, 2), 0);

    /* ended during its spin coat: the chuck is held until the film is back in the tray,
     * and the next sample's move onto it starts only then */
    assert_int_equal(axl_tl_remove(tl, 1), 0);
    assert_int_equal(axl_tl_place(tl, 1, &c, 0, a, &eb), 0);
    cut = c;
    cut.n = 3;
    cut.task[2] = (axl_chain_task){AXL_TASK_MOVE,
                                   AXL_STATION_SPINCOATER,
                                   AXL_STATION_STORAGE,
                                   axl_station_move_s(AXL_STATION_SPINCOATER, AXL_STATION_STORAGE),
                                   NAN,
                                   -1};
    assert_int_equal(axl_tl_reroute(tl, 1, &cut, 2, a, a[1].end, r, &eb), 0);
    assert_near(r[2].start, a[1].end, 0);
    assert_int_equal(axl_tl_place(tl, 2, &c, 0, b, &eb), 0);
    assert_true(b[0].start >= r[2].end);

    /* refused: a prefix that is not the placed one, nothing left, a visit without anneal */
    axl_chain other = cut;
    other.task[1].kind = AXL_TASK_REST;
    assert_int_equal(axl_tl_reroute(tl, 1, &other, 2, r, r[1].end, NULL, &eb), AXL_EINVAL);
    assert_int_equal(axl_tl_reroute(tl, 1, &cut, 3, r, r[2].end, NULL, &eb), AXL_EINVAL);
    assert_int_equal(axl_tl_reroute(tl, 99, &cut, 2, r, 0, NULL, &eb), AXL_ENOENT);
    assert_int_equal(axl_tl_remove(tl, 1), 0);
    assert_int_equal(axl_tl_place(tl, 1, &c, 1e6, a, &eb), 0);
    axl_chain no_anneal = c;
    no_anneal.n = 4;
    no_anneal.task[3] =
        (axl_chain_task){AXL_TASK_MOVE,
                         AXL_STATION_HOTPLATE,
                         AXL_STATION_STORAGE,
                         axl_station_move_s(AXL_STATION_HOTPLATE, AXL_STATION_STORAGE),
                         NAN,
                         -1};
    assert_int_equal(axl_tl_reroute(tl, 1, &no_anneal, 3, a, a[2].end, NULL, &eb), AXL_EINVAL);
    assert_non_null(strstr(eb.msg, "without an anneal"));
    const axl_tl_slot *still;
    assert_int_equal(axl_tl_get(tl, 1, &gc, &still), 0);
    assert_int_equal(gc->n, c.n); /* the old plan stays */
    assert_near(still[3].start, a[3].start, 0);
    axl_tl_free(tl);
}

static void test_config(void **state)
{
    (void)state;
    axl_tl_config cfg;
    axl_timeline *tl;
    axl_errbuf eb = {{0}};
    axl_tl_config_default(&cfg);
    cfg.n_plates = 4;
    assert_int_equal(axl_tl_new(&cfg, &tl, &eb), AXL_EINVAL);
    json_t *lab = lab_load_json(AXL_SEED_LAB_JSON);
    assert_int_equal(axl_tl_config_parse(json_object_get(lab, "line"), "lab.line", &cfg, &eb), 0);
    assert_int_equal(cfg.n_plates, 1);
    assert_near(cfg.plate_setpoint[0], 100, 0);
    assert_int_equal(cfg.tray_slots, 45);
    json_decref(lab);
    const char *bad = "{\"hotplates\": [{\"setpoint\": 20}]}";
    json_t *j = json_loads(bad, 0, NULL);
    assert_int_equal(axl_tl_config_parse(j, "lab.line", &cfg, &eb), AXL_ERANGE);
    assert_string_equal(eb.msg, "lab.line.hotplates[0].setpoint: 20 C is outside 30-200");
    json_decref(j);
    /* an anneal no plate can hold is refused, not looped on */
    axl_tl_config_default(&cfg);
    cfg.n_plates = 1;
    cfg.plate_setpoint[0] = 150;
    assert_int_equal(axl_tl_new(&cfg, &tl, &eb), 0);
    axl_chain c = seed_chain(100, 1800);
    assert_int_equal(axl_tl_place(tl, 1, &c, 0, NULL, &eb), AXL_ERANGE);
    assert_non_null(strstr(eb.msg, "no hotplate can hold 100 C"));
    axl_tl_free(tl);
}

/* --- the property test ------------------------------------------------------------------- */

/* A random recipe: 1-3 layers of spin coat (+ anneal at one of three temperatures), rests,
 * characterizations, in random order but always starting with a spin coat. */
static void random_chain(uint64_t *rng, axl_chain *c)
{
    static const double temps[] = {90, 100, 150};
    axl_recipe r;
    axl_errbuf eb = {{0}};
    memset(&r, 0, sizeof(r));
    unsigned layers = 1 + lab_rand(rng) % 3;
    for (unsigned l = 0; l < layers; l++) {
        axl_rtask *t = &r.task[r.ntasks++];
        axl_recipe_seed(lab_uniform(rng, 30, 150), lab_uniform(rng, 30, 150),
                        lab_uniform(rng, -30, -5), 0, &(axl_recipe){0});
        t->kind = AXL_RTASK_SPINCOAT;
        axl_spincoat *s = &t->u.spincoat;
        s->nsteps = 1 + lab_rand(rng) % 2;
        for (uint32_t k = 0; k < s->nsteps; k++)
            s->step[k] =
                (axl_spin_step){lab_uniform(rng, 1000, 6000), 1000, lab_uniform(rng, 10, 60)};
        s->ndrops = 1;
        axl_drop_defaults(&s->drop[0], false);
        snprintf(s->drop[0].solution, sizeof(s->drop[0].solution), "a");
        s->drop[0].volume = lab_uniform(rng, 10, 100);
        s->drop[0].time = lab_uniform(rng, -5, 5);
        if (lab_rand(rng) % 2) {
            t = &r.task[r.ntasks++];
            t->kind = AXL_RTASK_ANNEAL;
            t->u.anneal.temperature = temps[lab_rand(rng) % 3];
            t->u.anneal.duration = lab_uniform(rng, 60, 1500);
        }
        if (lab_rand(rng) % 2) {
            t = &r.task[r.ntasks++];
            t->kind = AXL_RTASK_REST;
            t->u.rest.duration = lab_uniform(rng, 10, 300);
        }
        if (lab_rand(rng) % 2) {
            t = &r.task[r.ntasks++];
            t->kind = AXL_RTASK_CHARACTERIZE;
            t->u.characterize.n = 1;
            t->u.characterize.m[0] =
                (axl_measurement){"PL", lab_uniform(rng, 1, 60), lab_uniform(rng, 0, 400)};
        }
    }
    if (axl_chain_from_recipe(&r, c, &eb) != 0)
        fail_msg("random recipe: %s", eb.msg);
}

typedef struct ivl {
    double a, b, temp;
    int plate;
} ivl;

/* Maximum number of intervals of v[0..n) overlapping at any instant (ends before starts
 * at equal times: [a, b) intervals). */
static int max_overlap(const ivl *v, size_t n)
{
    int best = 0;
    for (size_t i = 0; i < n; i++) {
        int c = 0; /* intervals containing v[i].a */
        for (size_t j = 0; j < n; j++)
            c += v[j].a <= v[i].a && v[i].a < v[j].b;
        best = c > best ? c : best;
    }
    return best;
}

/* The test's own reading of PASCAL's immediacy rules. */
static bool must_follow(const axl_chain *c, uint32_t k)
{
    const axl_chain_task *t = &c->task[k], *p = &c->task[k - 1];
    if (t->kind == AXL_TASK_MOVE)
        return t->from == AXL_STATION_SPINCOATER || t->from == AXL_STATION_HOTPLATE ||
               t->to == AXL_STATION_HOTPLATE;
    return (t->kind == AXL_TASK_ANNEAL || t->kind == AXL_TASK_REST) && p->kind == AXL_TASK_MOVE;
}

/* Tasks whose actual duration was changed by a re-plan (by sample id, task). */
static bool altered[64][AXL_CHAIN_MAX];

/* Re-checks every constraint of the plan from the reported slots alone. */
static void check_plan(const axl_timeline *tl, const axl_tl_config *cfg)
{
    size_t n = axl_tl_count(tl);
    ivl *grip = calloc(n * AXL_CHAIN_MAX, sizeof(ivl));
    ivl *spin = calloc(n * AXL_CHAIN_MAX, sizeof(ivl));
    ivl *chr = calloc(n * AXL_CHAIN_MAX, sizeof(ivl));
    ivl *hot = calloc(n * AXL_CHAIN_MAX, sizeof(ivl));
    ivl *tray = calloc(n, sizeof(ivl));
    size_t ng = 0, ns = 0, nc = 0, nh = 0;
    assert_true(grip && spin && chr && hot && tray);
    for (size_t i = 0; i < n; i++) {
        uint64_t id = axl_tl_id(tl, i);
        const axl_chain *c;
        const axl_tl_slot *s;
        assert_int_equal(axl_tl_get(tl, id, &c, &s), 0);
        double release = axl_tl_release(tl, id);
        assert_true(s[0].start >= release);
        tray[i] = (ivl){s[0].start, s[c->n - 1].end, NAN, -1};
        double enter[AXL_STATION_COUNT] = {0};
        int visit_plate = -1;
        double visit_temp = NAN;
        for (uint32_t k = 0; k < c->n; k++) {
            const axl_chain_task *t = &c->task[k];
            assert_true(s[k].end >= s[k].start);
            if (!altered[id][k] &&
                fabs(s[k].end - s[k].start - t->duration) > 1e-9 * fmax(1, fabs(s[k].end)))
                fail_msg("sample %llu task %u: %g-%g for a %g s task", (unsigned long long)id, k,
                         s[k].start, s[k].end, t->duration);
            if (k > 0) {
                assert_true(s[k].start >= s[k - 1].end);
                if (must_follow(c, k) && s[k].start != s[k - 1].end)
                    fail_msg("sample %llu task %u starts %g s after its predecessor",
                             (unsigned long long)id, k, s[k].start - s[k - 1].end);
            }
            if (t->kind == AXL_TASK_ANNEAL)
                visit_temp = t->temperature;
            if (t->from == AXL_STATION_HOTPLATE || t->to == AXL_STATION_HOTPLATE) {
                assert_true(s[k].plate >= 0 && s[k].plate < (int)cfg->n_plates);
                if (visit_plate < 0)
                    visit_plate = s[k].plate;
                assert_int_equal(s[k].plate, visit_plate); /* one plate per visit */
            }
            if (t->kind != AXL_TASK_MOVE)
                continue;
            grip[ng++] = (ivl){s[k].start, s[k].end, NAN, -1};
            enter[t->to] = s[k].start;
            double a = enter[t->from], b = s[k].end;
            if (t->from == AXL_STATION_SPINCOATER)
                spin[ns++] = (ivl){a, b, NAN, -1};
            if (t->from == AXL_STATION_CHARACTERIZATION)
                chr[nc++] = (ivl){a, b, NAN, -1};
            if (t->from == AXL_STATION_HOTPLATE) {
                hot[nh++] = (ivl){a, b, visit_temp, visit_plate};
                visit_plate = -1;
                visit_temp = NAN;
            }
        }
    }
    if (max_overlap(grip, ng) > 1)
        fail_msg("two gripper moves at once");
    if (max_overlap(spin, ns) > 1)
        fail_msg("two samples on the spin coater at once");
    if (max_overlap(chr, nc) > 1)
        fail_msg("two samples on the characterization line at once");
    if (max_overlap(tray, n) > (int)cfg->tray_slots)
        fail_msg("more samples in flight than tray slots");
    for (unsigned p = 0; p < cfg->n_plates; p++) {
        ivl *on = calloc(nh + 1, sizeof(ivl));
        size_t m = 0;
        assert_non_null(on);
        for (size_t i = 0; i < nh; i++)
            if (hot[i].plate == (int)p)
                on[m++] = hot[i];
        if (max_overlap(on, m) > (int)cfg->plate_slots)
            fail_msg("plate %u over capacity", p);
        for (size_t i = 0; i < m; i++) {
            if (!isnan(cfg->plate_setpoint[p]) && on[i].temp != cfg->plate_setpoint[p])
                fail_msg("plate %u fixed at %g C holds a film at %g C", p, cfg->plate_setpoint[p],
                         on[i].temp);
            for (size_t j = 0; j < m; j++) {
                if (on[i].temp == on[j].temp)
                    continue;
                /* two temperatures on one plate: apart by at least the settle time */
                /* (1e-9: a + r and b - r round differently; a nanosecond is no violation) */
                double r = cfg->retemper_s - 1e-9;
                if (on[i].a < on[j].b + r && on[j].a < on[i].b + r)
                    fail_msg("plate %u holds %g C at %.17g-%.17g and %g C at %.17g-%.17g, within "
                             "%.17g s",
                             p, on[i].temp, on[i].a, on[i].b, on[j].temp, on[j].a, on[j].b,
                             cfg->retemper_s);
            }
        }
        free(on);
    }
    free(grip);
    free(spin);
    free(chr);
    free(hot);
    free(tray);
}

static void test_random_sets_respect_every_constraint(void **state)
{
    (void)state;
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 150; round++) {
        axl_tl_config cfg;
        axl_timeline *tl;
        axl_errbuf eb = {{0}};
        axl_tl_config_default(&cfg);
        /* small capacities so that every constraint binds */
        cfg.tray_slots = 2 + lab_rand(&rng) % 10;
        cfg.n_plates = 1 + lab_rand(&rng) % 3;
        cfg.plate_slots = 1 + lab_rand(&rng) % 4;
        cfg.retemper_s = lab_uniform(&rng, 0, 400);
        cfg.compact = round % 3 == 0 ? 1 : 0;
        for (unsigned p = 0; p < cfg.n_plates; p++)
            cfg.plate_setpoint[p] = lab_rand(&rng) % 3 == 0 ? 100 : NAN;
        assert_int_equal(axl_tl_new(&cfg, &tl, &eb), 0);
        memset(altered, 0, sizeof(altered));
        int nsamples = 10 + (int)(lab_rand(&rng) % 30);
        double now = 0;
        for (int i = 0; i < nsamples; i++) {
            axl_chain c;
            random_chain(&rng, &c);
            now += lab_uniform(&rng, 0, 200);
            int rc = axl_tl_place(tl, (uint64_t)i, &c, now, NULL, &eb);
            if (rc == AXL_ERANGE) /* no plate for that temperature: refused up front */
                continue;
            if (rc != 0)
                fail_msg("round %d sample %d: %s", round, i, eb.msg);
            if (getenv("LAB_DEBUG")) {
                fprintf(stderr, "round %d placed %d\n", round, i);
                check_plan(tl, &cfg);
            }
            /* now and then a sample completes or is canceled */
            if (i > 3 && lab_rand(&rng) % 5 == 0)
                axl_tl_remove(tl, axl_tl_id(tl, lab_rand(&rng) % axl_tl_count(tl)));
            /* ... or one ran a task early or late and is re-planned (when it can be) */
            if (i > 3 && lab_rand(&rng) % 4 == 0) {
                uint64_t id = axl_tl_id(tl, lab_rand(&rng) % axl_tl_count(tl));
                const axl_chain *rc_chain;
                const axl_tl_slot *sl;
                axl_tl_slot act[AXL_CHAIN_MAX];
                assert_int_equal(axl_tl_get(tl, id, &rc_chain, &sl), 0);
                uint32_t done = 1 + (uint32_t)(lab_rand(&rng) % rc_chain->n);
                memcpy(act, sl, sizeof(act));
                act[done - 1].end =
                    fmax(act[done - 1].start, act[done - 1].end + lab_uniform(&rng, -20, 40));
                int rr = axl_tl_replan(tl, id, done, act, act[done - 1].end, NULL, &eb);
                if (rr != 0 && rr != AXL_EBUSY)
                    fail_msg("round %d re-plan: %s", round, eb.msg);
                if (rr == 0)
                    altered[id][done - 1] = true;
            }
        }
        check_plan(tl, &cfg);
        axl_tl_free(tl);
    }
}

/* Removing everything leaves an empty timeline: a new sample starts at its release. */
static void test_remove_gives_everything_back(void **state)
{
    (void)state;
    uint64_t rng = 7;
    axl_timeline *tl;
    axl_errbuf eb = {{0}};
    axl_tl_slot s[AXL_CHAIN_MAX];
    assert_int_equal(axl_tl_new(NULL, &tl, &eb), 0);
    for (uint64_t i = 0; i < 50; i++) {
        axl_chain c;
        random_chain(&rng, &c);
        assert_int_equal(axl_tl_place(tl, i, &c, 0, NULL, &eb), 0);
    }
    for (uint64_t i = 0; i < 50; i++)
        assert_int_equal(axl_tl_remove(tl, (i * 7) % 50), 0);
    assert_int_equal(axl_tl_count(tl), 0);
    axl_chain c = seed_chain(100, 1800);
    assert_int_equal(axl_tl_place(tl, 99, &c, 5, s, &eb), 0);
    for (uint32_t k = 1; k < c.n; k++)
        assert_near(s[k].start, s[k - 1].end, 0);
    assert_near(s[0].start, 5, 0);
    axl_tl_free(tl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_samples_start_without_idle),
        cmocka_unit_test(test_insert_checks_the_plan),
        cmocka_unit_test(test_replan_after_a_delay),
        cmocka_unit_test(test_reroute_to_storage),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_random_sets_respect_every_constraint),
        cmocka_unit_test(test_remove_gives_everything_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
