/* test_lab_recipe.c - recipes: JSON parse errors with paths, parameter binding, PASCAL's
 * duration model on hand-derived cases, validation ranges, task chains and immediacy. */
#include "lab_test.h"

#include "hw/line/axl_chain.h"
#include "hw/line/axl_recipe.h"

#include <math.h>

static const axl_recipe_arg seed_params[] = {
    {"antisolvent_volume", 100},
    {"antisolvent_rate", 80},
    {"antisolvent_timing", -20},
    {"anneal_duration", 1800},
};

/* Parses `text` as a recipe and expects code rc with `msg` in the message. */
static void expect_parse_error(const char *text, int rc, const char *msg)
{
    axl_recipe_template *t = malloc(sizeof(*t));
    axl_errbuf eb = {{0}};
    assert_non_null(t);
    int got = axl_recipe_template_parse_str(text, strlen(text), "recipe", t, &eb);
    if (got != rc || strstr(eb.msg, msg) == NULL)
        fail_msg("parse of %s: got %d '%s', want %d containing '%s'", text, got, eb.msg, rc, msg);
    free(t);
}

static axl_recipe_template *seed_template(void)
{
    json_t *lab = lab_load_json(AXL_SEED_LAB_JSON);
    axl_recipe_template *t = malloc(sizeof(*t));
    axl_errbuf eb = {{0}};
    assert_non_null(t);
    int rc = axl_recipe_template_parse(json_object_get(lab, "recipe"), "lab.recipe", t, &eb);
    if (rc)
        fail_msg("seed recipe: %s", eb.msg);
    json_decref(lab);
    return t;
}

static void test_parse_errors_name_json_path(void **state)
{
    (void)state;
    expect_parse_error("[]", AXL_ETYPE, "recipe: must be an object");
    expect_parse_error("{}", AXL_EMISSING, "recipe.worklist: required");
    expect_parse_error("{\"worklist\": []}", AXL_EINVAL, "recipe.worklist: 0 tasks");
    expect_parse_error("{\"worklist\": [{\"task\": \"bake\"}]}", AXL_EINVAL,
                       "recipe.worklist[0].task: unknown task 'bake'");
    expect_parse_error("{\"worklist\": [{\"task\": \"rest\", \"duraton\": 5}]}", AXL_EINVAL,
                       "recipe.worklist[0].duraton: unknown key");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[3000, 2000, 50]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": -1},"
                       " {\"solution\": \"b\", \"volume\": -3, \"time\": 10}]}]}",
                       AXL_ERANGE, "recipe.worklist[0].drops[1].volume: must be > 0 (got -3)");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[30000, 2000, 50]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": -1}]}]}",
                       AXL_ERANGE,
                       "recipe.worklist[0].steps[0].rpm: 30000 rpm is outside 200-9000");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[3000, 10, 50]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": -1}]}]}",
                       AXL_ERANGE, "steps[0].acceleration: 10 rpm/s is outside 50-5000");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[3000, 2000, 50]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": -1,"
                       " \"rate\": 5}]}]}",
                       AXL_ERANGE, "recipe.worklist[0].drops[0].rate: 5 uL/s is outside 10-2000");
    expect_parse_error(
        "{\"worklist\": [{\"task\": \"anneal\", \"temperature\": 250, \"duration\": 60}]}",
        AXL_ERANGE, "recipe.worklist[0].temperature: 250 C is outside 30-200");
    expect_parse_error(
        "{\"worklist\": [{\"task\": \"anneal\", \"temperature\": \"hot\", \"duration\": 60}]}",
        AXL_ETYPE, "recipe.worklist[0].temperature: must be a number");
    expect_parse_error("{\"worklist\": [{\"task\": \"anneal\", \"duration\": 60}]}", AXL_EMISSING,
                       "recipe.worklist[0].temperature: required");
    expect_parse_error("{\"worklist\": [{\"task\": \"anneal\", \"temperature\": 100,"
                       " \"duration\": {\"parm\": \"x\"}}]}",
                       AXL_EINVAL, "recipe.worklist[0].duration.parm: unknown key");
    expect_parse_error("{\"worklist\": [{\"task\": \"anneal\", \"temperature\": 100,"
                       " \"duration\": {\"scale\": 2}}]}",
                       AXL_EMISSING, "recipe.worklist[0].duration.param: required");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[3000, 2000, 50]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": 60}]}]}",
                       AXL_ERANGE, "drops[0].time: 60 s is not before the spin ends at 50 s");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[3000, 2000, 50]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": 10},"
                       " {\"solution\": \"b\", \"volume\": 20, \"time\": 5}]}]}",
                       AXL_EINVAL, "drops[1].time: 5 s is before the previous drop at 10 s");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[3000, 2000, 50]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": 1},"
                       " {\"solution\": \"a\", \"volume\": 20, \"time\": 2},"
                       " {\"solution\": \"a\", \"volume\": 20, \"time\": 3}]}]}",
                       AXL_ETOOBIG, "recipe.worklist[0].drops: 3 drops, need 1-2");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[3000, 2000]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": 1}]}]}",
                       AXL_EINVAL, "recipe.worklist[0].steps[0]: must be [rpm, rpm/s, seconds]");
    expect_parse_error("{\"worklist\": [{\"task\": \"spincoat\", \"steps\": [[3000, 2000, 50]],"
                       " \"drops\": [{\"solution\": \"a\", \"volume\": 20, \"time\": 1,"
                       " \"pre_mix\": [2.5, 50]}]}]}",
                       AXL_ERANGE, "drops[0].pre_mix[0]: 2.5 is not a whole number");
    expect_parse_error("{\"worklist\": [{\"task\": \"characterize\", \"measurements\":"
                       " [{\"name\": \"PL\", \"duration\": 5, \"position\": 500}]}]}",
                       AXL_ERANGE, "recipe.worklist[0].measurements[0].position: 500 mm");
    expect_parse_error("{\"worklist\": [", AXL_EPROTO, "recipe: JSON error at line 1");
    expect_parse_error("{\"worklist\": [{\"task\": \"rest\"}], \"worklist\": []}", AXL_EPROTO,
                       "duplicate");
}

static void test_seed_template_binds_parameters(void **state)
{
    (void)state;
    axl_recipe_template *t = seed_template();
    axl_errbuf eb = {{0}};
    assert_int_equal(t->nbindings, 4);
    assert_string_equal(t->binding[0].param, "antisolvent_volume");
    assert_string_equal(t->binding[0].path, "lab.recipe.worklist[0].drops[1].volume");
    assert_string_equal(t->binding[1].path, "lab.recipe.worklist[0].drops[1].time");
    assert_true(t->binding[1].offset == 50 && t->binding[1].scale == 1);

    axl_recipe *r = malloc(sizeof(*r)), *want = malloc(sizeof(*want));
    assert_non_null(r);
    assert_non_null(want);
    assert_int_equal(axl_recipe_instantiate(t, seed_params, 4, r, &eb), 0);
    const axl_drop *ma = &r->task[0].u.spincoat.drop[1];
    assert_true(ma->volume == 100 && ma->rate == 80 && ma->time == 30);
    assert_true(r->task[1].u.anneal.duration == 1800);
    /* The JSON seed is the notebook's build_sample, field for field. */
    axl_recipe_seed(100, 80, -20, 1800, want);
    assert_memory_equal(r, want, sizeof(*r));

    /* scale and offset: field = offset + scale * value */
    const char *scaled =
        "{\"worklist\": [{\"task\": \"anneal\", \"temperature\": 100,"
        " \"duration\": {\"param\": \"minutes\", \"scale\": 60, \"offset\": 30}}]}";
    assert_int_equal(axl_recipe_template_parse_str(scaled, strlen(scaled), NULL, t, &eb), 0);
    axl_recipe_arg p = {"minutes", 20};
    assert_int_equal(axl_recipe_instantiate(t, &p, 1, r, &eb), 0);
    assert_true(r->task[0].u.anneal.duration == 30 + 60 * 20);
    free(r);
    free(want);
    free(t);
}

static void test_instantiate_errors(void **state)
{
    (void)state;
    axl_recipe_template *t = seed_template();
    axl_recipe *r = malloc(sizeof(*r));
    axl_errbuf eb = {{0}};
    assert_non_null(r);
    /* a missing parameter names the bound field */
    assert_int_equal(axl_recipe_instantiate(t, seed_params, 3, r, &eb), AXL_EMISSING);
    assert_non_null(strstr(eb.msg, "lab.recipe.worklist[1].duration: parameter 'anneal_duration'"));
    /* a bound value out of range names the field and the binding */
    axl_recipe_arg bad[4];
    memcpy(bad, seed_params, sizeof(bad));
    bad[1].value = 5; /* rate */
    assert_int_equal(axl_recipe_instantiate(t, bad, 4, r, &eb), AXL_ERANGE);
    assert_string_equal(eb.msg, "lab.recipe.worklist[0].drops[1].rate: 5 uL/s is outside 10-2000"
                                " (= 0 + 1 x antisolvent_rate)");
    bad[1].value = 80;
    bad[2].value = 5; /* time = 55 s, after the 50 s spin */
    assert_int_equal(axl_recipe_instantiate(t, bad, 4, r, &eb), AXL_ERANGE);
    assert_non_null(strstr(eb.msg, "drops[1].time: 55 s is not before the spin ends at 50 s"));
    bad[2].value = NAN;
    assert_int_equal(axl_recipe_instantiate(t, bad, 4, r, &eb), AXL_ERANGE);
    free(r);
    free(t);
}

static void test_duration_model(void **state)
{
    (void)state;
    axl_recipe r;
    axl_recipe_seed(100, 80, -20, 1800, &r);
    const axl_spincoat *s = &r.task[0].u.spincoat;
    /* absorber: 10 + 20/100 + 2 + 3(0.0209*50 + 0.5132) + 1.5 + 3 + 2.5 */
    double asp0 = 10 + 0.2 + 2 + 3 * (0.0209 * 50 + 0.5132) + 1.5 + 3 + 2.5;
    assert_near(axl_drop_aspirate_s(&s->drop[0]), asp0, 1e-12);
    assert_near(asp0, 23.8746, 1e-9);
    /* methyl acetate: no touch-off, slow travel */
    double asp1 = 10 + 1 + 2 + 3 * (0.0209 * 100 + 0.5132) + 3 + 2.5;
    assert_near(axl_drop_aspirate_s(&s->drop[1]), asp1, 1e-12);
    assert_near(axl_drop_stage_s(&s->drop[1]), 4, 0);
    assert_near(axl_drop_dispense_s(&s->drop[1]), 1, 0);
    /* two drops: steps + max(0, -t0) + asp0 + stage0 + disp0 + asp1 - t0 */
    double spin = 50 + 1 + (asp0 + 2 + 0.8 + asp1 + 1);
    assert_near(axl_spincoat_duration_s(s), spin, 1e-12);
    assert_near(spin, 104.9842, 1e-9);

    /* one drop landing late: the liquid handling hides inside the spin */
    axl_spincoat one = {0};
    one.nsteps = 1;
    one.step[0] = (axl_spin_step){3000, 2000, 60};
    one.ndrops = 1;
    axl_drop_defaults(&one.drop[0], false);
    one.drop[0].volume = 40;
    one.drop[0].time = 40;
    assert_near(axl_spincoat_duration_s(&one), 60, 0);
    /* ... and an early static one adds both its wait and the handling */
    one.drop[0].time = -5;
    double a = 10 + 0.4 + 2 + 3 * (0.0209 * 50 + 0.5132) + 1.5 + 3 + 2.5;
    assert_near(axl_spincoat_duration_s(&one), 60 + 5 + (a + 2 + 0.8 + 5), 1e-12);

    /* characterization: PASCAL's five measurements, 10 s, legs 0 -> 164.4 -> 287 -> 287
     * -> 74.2 -> 74.2 -> 0 at 0.0461 s/mm + 1.161 s each */
    double legs = (164.4 + 122.6 + 0 + 212.8 + 0 + 74.2) * 0.0461 + 6 * 1.161;
    double chr = 0.05 + 26.22 + 46.54 + 2.5 + 62.5 + 10 + legs;
    assert_near(axl_characterize_duration_s(&r.task[3].u.characterize), chr, 1e-9);
    assert_int_equal((int)chr, 181); /* PASCAL stores 181 s */
    assert_near(axl_rtask_duration_s(&r.task[1]), 1800, 0);
    assert_near(axl_rtask_duration_s(&r.task[2]), 180, 0);
}

static void test_drop_defaults(void **state)
{
    (void)state;
    axl_drop d;
    axl_drop_defaults(&d, false);
    assert_true(d.rate == 80 && d.height == 2 && d.slow_retract && d.touch_tip && d.air_gap);
    assert_true(d.premix_cycles == 3 && d.premix_volume == 50 && !d.reuse_tip && !d.slow_travel);
    assert_true(d.blow_out);
    axl_drop_defaults(&d, true);
    assert_true(!d.touch_tip && d.premix_cycles == 5 && d.premix_volume == 100 && d.slow_travel);
}

static void test_chain_from_recipe(void **state)
{
    (void)state;
    axl_recipe r;
    axl_chain c;
    axl_errbuf eb = {{0}};
    axl_recipe_seed(100, 80, -20, 1800, &r);
    assert_int_equal(axl_chain_from_recipe(&r, &c, &eb), 0);
    static const char *const want[] = {
        "storage_to_spincoater",      "spincoat", "spincoater_to_hotplate",      "anneal",
        "hotplate_to_storage",        "rest",     "storage_to_characterization", "characterize",
        "characterization_to_storage"};
    assert_int_equal(c.n, 9);
    for (uint32_t k = 0; k < c.n; k++) {
        char name[64];
        axl_chain_task_name(&c.task[k], name, sizeof(name));
        assert_string_equal(name, want[k]);
    }
    assert_near(c.task[0].duration, 16, 0);
    assert_near(c.task[2].duration, 22, 0);
    assert_near(c.task[4].duration, 8, 0);
    assert_near(c.task[1].duration, 104.9842, 1e-9);
    assert_near(c.task[3].temperature, 100, 0);
    assert_int_equal(c.task[3].recipe_task, 1);
    assert_int_equal(c.task[0].recipe_task, -1);
    /* PASCAL's immediacy: off the spin coater, on/off the hotplate, anneal/rest after a move */
    static const bool imm[] = {false, false, true, true, true, true, false, false, false};
    for (uint32_t k = 0; k < c.n; k++)
        assert_int_equal(axl_chain_immediate(&c, k), imm[k]);
    assert_int_equal(axl_chain_validate(&c, &eb), 0);
    assert_near(axl_sim_task_seconds(&c.task[3], 1000), 1.8, 1e-12);
    assert_true(isnan(axl_sim_task_seconds(&c.task[3], 0)));

    /* a broken chain: anneal while on the spin coater */
    c.task[1].kind = AXL_TASK_ANNEAL;
    c.task[1].temperature = 100;
    assert_int_equal(axl_chain_validate(&c, &eb), AXL_EINVAL);
    assert_non_null(strstr(eb.msg, "cannot run at spincoater"));
    /* an invalid recipe is refused */
    r.task[1].u.anneal.temperature = 500;
    assert_int_equal(axl_chain_from_recipe(&r, &c, &eb), AXL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors_name_json_path),
        cmocka_unit_test(test_seed_template_binds_parameters),
        cmocka_unit_test(test_instantiate_errors),
        cmocka_unit_test(test_duration_model),
        cmocka_unit_test(test_drop_defaults),
        cmocka_unit_test(test_chain_from_recipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
