/* test_lab_labware.c - tip racks, trays, solutions: parse, reserve, exhaustion, persist. */
#include "lab_test.h"

#include "hw/line/axl_labware.h"

#include <math.h>

static void seed_labware(axl_labware *lw)
{
    json_t *lab = lab_load_json(AXL_SEED_LAB_JSON);
    axl_errbuf eb = {{0}};
    int rc = axl_labware_parse(json_object_get(lab, "labware"), "lab.labware", lw, &eb);
    if (rc)
        fail_msg("seed labware: %s", eb.msg);
    json_decref(lab);
}

static void test_names(void **state)
{
    (void)state;
    unsigned i;
    char buf[8];
    assert_int_equal(axl_tip_parse("A1", &i), 0);
    assert_int_equal(i, 0);
    assert_int_equal(axl_tip_parse("D7", &i), 0);
    assert_int_equal(i, 51); /* column-major: 6 full columns of 8, then A..D */
    assert_int_equal(axl_tip_parse("H12", &i), 0);
    assert_int_equal(i, 95);
    axl_tip_name(51, buf);
    assert_string_equal(buf, "D7");
    assert_int_equal(axl_tip_parse("I1", &i), AXL_EINVAL);
    assert_int_equal(axl_tip_parse("A13", &i), AXL_EINVAL);
    assert_int_equal(axl_tip_parse("A", &i), AXL_EINVAL);
    assert_int_equal(axl_tip_parse("A1x", &i), AXL_EINVAL);
    axl_tray t = {.slots = 45, .columns = 5};
    assert_int_equal(axl_tray_slot_parse(&t, "B3", &i), 0);
    assert_int_equal(i, 7); /* row-major, as PASCAL's netlist fills A1..A5, B1.. */
    axl_tray_slot_name(&t, 44, buf);
    assert_string_equal(buf, "I5");
    assert_int_equal(axl_tray_slot_parse(&t, "A6", &i), AXL_EINVAL);
    assert_int_equal(axl_tray_slot_parse(&t, "J1", &i), AXL_EINVAL);
}

static void test_parse_seed_and_errors(void **state)
{
    (void)state;
    axl_labware lw;
    axl_errbuf eb = {{0}};
    seed_labware(&lw);
    assert_int_equal(lw.nracks, 2);
    assert_int_equal(lw.rack[0].deck_slot, 7);
    assert_int_equal(axl_labware_tips_left(&lw), (96 - 51) + (96 - 8));
    assert_int_equal(axl_labware_slots_free(&lw), 45);
    assert_int_equal(lw.nsolutions, 2);
    int ma = axl_labware_solution(&lw, "methylacetate");
    assert_true(ma >= 0);
    assert_true(lw.solution[ma].is_volatile && lw.solution[ma].volume_ul == 4000);

    struct {
        const char *json, *msg;
        int rc;
    } bad[] = {
        {"{\"trays\": [], \"solutions\": {}}", "labware.tipracks: required", AXL_EMISSING},
        {"{\"tipracks\": [{\"deck_slot\": 7, \"starting_tip\": \"Z9\"}], \"trays\": [],"
         " \"solutions\": {}}",
         "labware.tipracks[0].starting_tip: 'Z9' is not a tip", AXL_ERANGE},
        {"{\"tipracks\": [{\"deck_slot\": 70}], \"trays\": [], \"solutions\": {}}",
         "labware.tipracks[0].deck_slot: 70 is outside 1-12", AXL_ERANGE},
        {"{\"tipracks\": [], \"trays\": [{\"name\": \"T\", \"loaded\": [\"Q9\"]}],"
         " \"solutions\": {}}",
         "labware.trays[0].loaded[0]: not a slot", AXL_ERANGE},
        {"{\"tipracks\": [], \"trays\": [], \"solutions\": {\"x\": {\"volume_ul\": -1}}}",
         "labware.solutions.x.volume_ul: must be a number >= 0", AXL_ERANGE},
        {"{\"tipracks\": [], \"trays\": [], \"solutions\": {}, \"pipettes\": 1}",
         "labware.pipettes: unknown key", AXL_EINVAL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = axl_labware_parse_str(bad[i].json, strlen(bad[i].json), NULL, &lw, &eb);
        if (rc != bad[i].rc || strstr(eb.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: got %d '%s'", i, rc, eb.msg);
    }
}

static void test_tips_needed(void **state)
{
    (void)state;
    axl_recipe r;
    axl_recipe_seed(100, 80, -20, 1800, &r);
    /* absorber takes a tip, the antisolvent drop reuses it */
    assert_int_equal(axl_recipe_tips_needed(&r), 1);
    r.task[0].u.spincoat.drop[1].reuse_tip = false;
    assert_int_equal(axl_recipe_tips_needed(&r), 2);
    /* a first drop never reuses: samples do not share tips */
    r.task[0].u.spincoat.drop[0].reuse_tip = true;
    assert_int_equal(axl_recipe_tips_needed(&r), 2);
}

static void test_reserve_until_exhausted(void **state)
{
    (void)state;
    axl_labware lw;
    axl_recipe r;
    axl_lw_reservation res;
    axl_errbuf eb = {{0}};
    seed_labware(&lw);
    axl_recipe_seed(100, 80, -20, 1800, &r);
    r.task[0].u.spincoat.drop[1].reuse_tip = false; /* 2 tips per sample */
    lw.solution[axl_labware_solution(&lw, "methylacetate")].volume_ul = INFINITY;
    lw.solution[axl_labware_solution(&lw, "absorber")].volume_ul = INFINITY;
    lw.tray[0].slots = 64;
    lw.tray[0].columns = 8;

    /* first sample: tips D7 and E7 of rack 0, slot A1 */
    assert_int_equal(axl_labware_reserve(&lw, &r, "1", &res, &eb), 0);
    assert_int_equal(res.ntips, 2);
    assert_true(res.tip[0].rack == 0 && res.tip[0].tip == 51 && res.tip[1].tip == 52);
    assert_string_equal(res.slot_name, "A1");
    /* 133 tips = 66 samples of 2, then one tip is left */
    char name[16];
    for (int s = 2; s <= 66; s++) {
        snprintf(name, sizeof(name), "%d", s);
        if (s > 64) {
            lw.tray[0].loaded = 0; /* the operator emptied the tray */
        }
        if (axl_labware_reserve(&lw, &r, name, &res, &eb) != 0)
            fail_msg("sample %d: %s", s, eb.msg);
        if (s == 23) /* rack 0 had 45 tips: the 23rd sample straddles the racks */
            assert_true(res.tip[0].rack == 0 && res.tip[0].tip == 95 && res.tip[1].rack == 1 &&
                        res.tip[1].tip == 8);
    }
    assert_int_equal(axl_labware_tips_left(&lw), 1);
    axl_labware before = lw;
    assert_int_equal(axl_labware_reserve(&lw, &r, "37", &res, &eb), AXL_EEXHAUSTED);
    assert_string_equal(eb.msg, "tip racks exhausted: sample 37 needs 2 tips, 1 left");
    assert_memory_equal(&lw, &before, sizeof(lw)); /* nothing taken */
    assert_int_equal(axl_labware_check(&lw, &r, "37", &eb), AXL_EEXHAUSTED);

    /* a fresh rack fixes it */
    assert_int_equal(axl_labware_replace_rack(&lw, 0, "A1"), 0);
    assert_int_equal(axl_labware_reserve(&lw, &r, "37", &res, &eb), 0);
    assert_true(res.tip[0].rack == 0 && res.tip[0].tip == 0);
}

static void test_solution_and_tray_exhaustion(void **state)
{
    (void)state;
    axl_labware lw;
    axl_recipe r;
    axl_lw_reservation res;
    axl_errbuf eb = {{0}};
    seed_labware(&lw);
    axl_recipe_seed(150, 80, -20, 1800, &r);
    int ma = axl_labware_solution(&lw, "methylacetate");
    /* 4000 uL at 150 uL per sample: 26 samples */
    for (int s = 0; s < 26; s++)
        assert_int_equal(axl_labware_reserve(&lw, &r, "x", &res, &eb), 0);
    assert_near(lw.solution[ma].volume_ul, 4000 - 26 * 150, 1e-9);
    assert_int_equal(axl_labware_reserve(&lw, &r, "27", &res, &eb), AXL_EEXHAUSTED);
    assert_string_equal(eb.msg,
                        "solution 'methylacetate' exhausted: sample 27 needs 150 uL, 100 uL left");
    assert_int_equal(axl_labware_refill(&lw, "methylacetate", 4000), 0);
    assert_int_equal(axl_labware_refill(&lw, "water", 4000), AXL_ENOENT);

    /* a sample that never started gives back its slot and its volume, not its tips */
    unsigned tips = axl_labware_tips_left(&lw), slots = axl_labware_slots_free(&lw);
    assert_int_equal(axl_labware_reserve(&lw, &r, "28", &res, &eb), 0);
    axl_labware_release(&lw, &res);
    assert_int_equal(axl_labware_slots_free(&lw), slots);
    assert_int_equal(axl_labware_tips_left(&lw), tips - 1);
    assert_near(lw.solution[ma].volume_ul, 4000, 1e-9);

    /* tray: 45 slots */
    lw.solution[ma].volume_ul = INFINITY;
    lw.solution[axl_labware_solution(&lw, "absorber")].volume_ul = INFINITY;
    while (axl_labware_slots_free(&lw) > 0)
        assert_int_equal(axl_labware_reserve(&lw, &r, "y", &res, &eb), 0);
    assert_int_equal(axl_labware_reserve(&lw, &r, "46", &res, &eb), AXL_EEXHAUSTED);
    assert_string_equal(eb.msg, "sample trays full: sample 46 needs a slot, 0 of 45 free");
    assert_int_equal(axl_labware_unload(&lw, 0, "C2"), 0);
    assert_int_equal(axl_labware_reserve(&lw, &r, "46", &res, &eb), 0);
    assert_string_equal(res.slot_name, "C2");

    /* an unknown solution */
    snprintf(r.task[0].u.spincoat.drop[0].solution, AXL_RECIPE_NAME_MAX, "%s", "unobtainium");
    assert_int_equal(axl_labware_check(&lw, &r, "47", &eb), AXL_ENOENT);
    assert_string_equal(eb.msg, "sample 47: solution 'unobtainium' is not in the labware");
}

static void test_state_round_trips_through_json(void **state)
{
    (void)state;
    axl_labware lw, back;
    axl_recipe r;
    axl_errbuf eb = {{0}};
    seed_labware(&lw);
    axl_recipe_seed(90, 80, -20, 1800, &r);
    for (int s = 0; s < 7; s++)
        assert_int_equal(axl_labware_reserve(&lw, &r, "s", NULL, &eb), 0);
    json_t *j = axl_labware_to_json(&lw);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    assert_int_equal(axl_labware_parse_str(text, strlen(text), "state", &back, &eb), 0);
    assert_int_equal(back.rack[0].used, 7);
    assert_int_equal(axl_labware_slots_free(&back), 45 - 7);
    int ma = axl_labware_solution(&back, "methylacetate");
    assert_near(back.solution[ma].volume_ul, 4000 - 7 * 90, 1e-9);
    assert_memory_equal(&lw, &back, sizeof(lw));
    free(text);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_parse_seed_and_errors),
        cmocka_unit_test(test_tips_needed),
        cmocka_unit_test(test_reserve_until_exhausted),
        cmocka_unit_test(test_solution_and_tray_exhaustion),
        cmocka_unit_test(test_state_round_trips_through_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
