/* test_lab_pascal.c - PASCAL's example netlist: parse, the duration model against PASCAL's
 * own stored durations and schedule figures, and axle's online re-placement. */
#include "lab_test.h"

#include "hw/line/axl_pascal_plan.h"

static void test_parse_and_reproduce_pascal_figures(void **state)
{
    (void)state;
    axl_pascal_plan p;
    axl_pascal_stats st;
    axl_errbuf eb = {{0}};
    if (axl_pascal_plan_load(AXL_PASCAL_NETLIST, AXL_PASCAL_TRUNCATE, &p, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(p.nsamples, 36);
    assert_string_equal(p.sample[0].name, "sample0");
    assert_string_equal(p.sample[2].name, "sample10"); /* file order, not numeric */
    assert_string_equal(p.sample[0].slot, "A1");
    assert_int_equal(p.nplates, 1);
    assert_near(p.plate_setpoint[0], 100, 0);

    /* our model gives exactly the durations PASCAL stored (it truncates to seconds) */
    size_t compared = 0;
    for (size_t i = 0; i < p.nsamples; i++) {
        const axl_pascal_sample *s = &p.sample[i];
        for (uint32_t k = 0; k < s->chain.n; k++) {
            if (isnan(s->file_duration[k]))
                continue;
            if (s->chain.task[k].duration != s->file_duration[k])
                fail_msg("%s task %u: model %g s, file %g s", s->name, k, s->chain.task[k].duration,
                         s->file_duration[k]);
            compared++;
        }
    }
    assert_int_equal(compared,
                     100 + 64 + 36 + 36); /* spin coats, anneals, rests, characterizations */

    axl_pascal_plan_stats(&p, &st);
    assert_int_equal(st.ntasks[AXL_TASK_SPINCOAT], 100);
    assert_int_equal(st.ntasks[AXL_TASK_ANNEAL], 64);
    assert_int_equal(st.ntasks[AXL_TASK_CHARACTERIZE], 36);
    assert_int_equal(st.ntasks[AXL_TASK_REST], 36);
    /* PASCAL.md: makespan 15,743 s, spin coater held 10,772 s */
    assert_near(st.makespan, 15743, 1e-9);
    assert_near(st.spincoater_held, 10772, 1e-9);
    assert_near(st.characterization_held, 7372, 1e-9);
    axl_pascal_plan_free(&p);

    /* with exact (untruncated) durations the makespan is the same and the
     * characterization line's 7,381 s of PASCAL.md appears */
    assert_int_equal(axl_pascal_plan_load(AXL_PASCAL_NETLIST, 0, &p, &eb), 0);
    axl_pascal_plan_stats(&p, &st);
    assert_near(st.makespan, 15743, 1e-9);
    assert_near(st.characterization_held, 7381, 0.5);
    axl_pascal_plan_free(&p);
}

static void test_online_replacement_beats_cp_sat(void **state)
{
    (void)state;
    axl_pascal_plan p;
    axl_tl_config cfg;
    axl_timeline *tl;
    axl_tl_stats st;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_pascal_plan_load(AXL_PASCAL_NETLIST, AXL_PASCAL_TRUNCATE, &p, &eb), 0);
    axl_pascal_plan_tl_config(&p, &cfg);
    assert_int_equal(cfg.n_plates, 1);
    assert_int_equal(axl_tl_new(&cfg, &tl, &eb), 0);
    if (axl_pascal_plan_place(&p, tl, 0, 0, &eb) != 0)
        fail_msg("%s", eb.msg);
    axl_tl_stats_get(tl, &st);
    assert_int_equal(st.samples, 36);
    /* at least the spin coater's own load, and no worse than PASCAL's CP-SAT plan */
    assert_true(st.makespan >= 10772);
    if (!(st.makespan <= 15743))
        fail_msg("online makespan %g s > PASCAL's 15743 s", st.makespan);
    assert_true(st.busy_bound <= st.makespan_bound && st.makespan_bound <= st.makespan);
    assert_int_equal(st.bottleneck, AXL_TL_SPINCOATER);
    axl_tl_free(tl);
    axl_pascal_plan_free(&p);
}

static void test_bad_files(void **state)
{
    (void)state;
    char dir[256], path[512];
    axl_pascal_plan p;
    axl_errbuf eb = {{0}};
    lab_tmpdir(dir, sizeof(dir));
    struct {
        const char *name, *text, *msg;
        int rc;
    } bad[] = {
        {"trunc.json", "{\"samples\": {", "JSON error", AXL_EPROTO},
        {"nosamples.json", "{}", "samples: required", AXL_EMISSING},
        {"badtask.json",
         "{\"samples\": {\"s\": {\"worklist\": [{\"name\": \"teleport\", \"start\": 0,"
         " \"details\": {}, \"precedent\": null}]}}}",
         "samples.s.worklist[0].name: unknown task 'teleport'", AXL_EINVAL},
        {"nostart.json",
         "{\"samples\": {\"s\": {\"worklist\": [{\"name\": \"storage_to_spincoater\","
         " \"precedent\": null}]}}}",
         "samples.s.worklist[0].start: required", AXL_EMISSING},
        {"order.json",
         "{\"samples\": {\"s\": {\"worklist\": ["
         "{\"name\": \"storage_to_spincoater\", \"id\": \"a\", \"precedent\": null, \"start\": 0},"
         "{\"name\": \"spincoater_to_storage\", \"id\": \"b\", \"precedent\": \"x\", \"start\": "
         "20}]}}}",
         "samples.s.worklist[1].precedent", AXL_EINVAL},
        {"station.json",
         "{\"samples\": {\"s\": {\"worklist\": ["
         "{\"name\": \"storage_to_spincoater\", \"id\": \"a\", \"precedent\": null, \"start\": "
         "0}]}}}",
         "ends at spincoater", AXL_EINVAL},
        {"spin.json",
         "{\"samples\": {\"s\": {\"worklist\": ["
         "{\"name\": \"storage_to_spincoater\", \"id\": \"a\", \"precedent\": null, \"start\": 0},"
         "{\"name\": \"spincoat\", \"id\": \"b\", \"precedent\": \"a\", \"start\": 20,"
         " \"details\": {\"steps\": [], \"drops\": []}}]}}}",
         "samples.s.worklist[1].details.steps", AXL_ETYPE},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lab_write(path, sizeof(path), dir, bad[i].name, bad[i].text);
        int rc = axl_pascal_plan_load(path, 0, &p, &eb);
        if (rc != bad[i].rc || strstr(eb.msg, bad[i].msg) == NULL)
            fail_msg("%s: got %d '%s'", bad[i].name, rc, eb.msg);
        axl_pascal_plan_free(&p);
    }
    lab_path(path, sizeof(path), dir, "missing.json");
    assert_int_equal(axl_pascal_plan_load(path, 0, &p, &eb), AXL_EIO);
    assert_int_equal(axl_pascal_plan_load(dir, 0, &p, &eb), AXL_EIO); /* a directory */
    static const char *const names[] = {"trunc.json",   "nosamples.json", "badtask.json",
                                        "nostart.json", "order.json",     "station.json",
                                        "spin.json"};
    lab_tmpdir_rm(dir, names, sizeof(names) / sizeof(names[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_reproduce_pascal_figures),
        cmocka_unit_test(test_online_replacement_beats_cp_sat),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
