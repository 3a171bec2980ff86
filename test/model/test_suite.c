/* test_suite.c - bench/model/suite_fn.c (the C suite) against bench/model/suite.py (the
 * definitions BoTorch's runs use): values at three points per problem (the table is
 * printed by bench/model/peers/suite_values.py), and each optimum attained. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "bench/model/suite_fn.h"

typedef struct {
    const char *name;
    double x[AXL_SUITE_MAX_D];
    double f;
} pyval;

/* python3 bench/model/peers/suite_values.py */
static const pyval g_py[] = {
    {"sixhump_camel", {-2.2199999999999998, -0.7959999999999998}, 9.447144278591988},
    {"sixhump_camel", {0.0, 0.6840000000000002}, -0.9958670530559999},
    {"sixhump_camel", {1.62, 1.7640000000000002}, 31.20056917459201},
    {"goldstein_price", {-1.48, -0.7959999999999998}, 4277.9647579950315},
    {"goldstein_price", {0.0, 0.6840000000000002}, 9423.758383306447},
    {"goldstein_price", {1.08, 1.7640000000000002}, 51278.50174290012},
    {"beale", {-3.33, -1.7909999999999995}, 771.8298101671171},
    {"beale", {0.0, 1.5390000000000006}, 14.203125},
    {"beale", {2.4299999999999997, 3.969000000000001}, 24670.189958705916},
    {"drop_wave", {-3.7888, -2.0377599999999996}, -0.10754861561997965},
    {"drop_wave", {0.0, 1.7510400000000006}, -0.12506747242028024},
    {"drop_wave", {2.7648, 4.51584}, -0.10985063328022898},
    {"easom", {-7.4, -3.9799999999999986}, 1.5136120082521522e-71},
    {"easom", {0.0, 3.4200000000000017}, 4.602243175690452e-05},
    {"easom", {5.4, 8.82}, 3.1561977137298423e-17},
    {"branin_noisy", {-3.05, 4.515000000000001}, 57.30428431030509},
    {"branin_noisy", {2.5, 10.065000000000001}, 54.67383254072897},
    {"branin_noisy", {6.550000000000001, 14.115}, 188.19242473615472},
    {"hartmann3", {0.13, 0.30100000000000005, 0.47200000000000003}, -0.3369094522264419},
    {"hartmann3", {0.5, 0.671, 0.8420000000000001}, -3.307342845037165},
    {"hartmann3", {0.77, 0.9410000000000001, 0.1120000000000001}, -0.0024978167932454866},
    {"rosenbrock3", {-3.05, -0.48499999999999943, 2.08}, 9938.442830062497},
    {"rosenbrock3", {2.5, 5.065000000000001, 7.630000000000001}, 32646.465410062556},
    {"rosenbrock3", {6.550000000000001, 9.115, -3.3199999999999985}, 860807.9003900625},
    {"ackley3", {-24.24832, -13.041663999999997, -1.8350079999999984}, 20.250973566498708},
    {"ackley3", {0.0, 11.206656000000002, 22.413312000000005}, 20.46283545047802},
    {"ackley3", {17.694720000000004, 28.901376000000006, -25.427967999999993}, 21.700449338408877},
    {"schwefel3", {-370.0, -198.99999999999994, -27.999999999999943}, 1571.6627966729288},
    {"schwefel3", {0.0, 171.0, 342.0000000000001}, 1292.7188139939617},
    {"schwefel3", {270.0, 441.0000000000001, -387.9999999999999}, 1357.794990229405},
    {"levy4",
     {-7.4, -3.9799999999999986, -0.5599999999999987, 2.8599999999999994},
     25.00619784410373},
    {"levy4", {0.0, 3.4200000000000017, 6.840000000000003, -9.740000000000002}, 25.35039692348674},
    {"levy4", {5.4, 8.82, -7.759999999999998, -4.340000000000002}, 53.625672342320044},
    {"styblinski_tang4",
     {-3.7, -1.9899999999999993, -0.27999999999999936, 1.4299999999999997},
     -65.89407270999997},
    {"styblinski_tang4",
     {0.0, 1.7100000000000009, 3.4200000000000017, -4.870000000000001},
     47.87453969000022},
    {"styblinski_tang4", {2.7, 4.41, -3.879999999999999, -2.170000000000001}, -29.270503910000034},
    {"shekel10", {1.3, 3.0100000000000007, 4.720000000000001, 6.43}, -0.28024955923338307},
    {"shekel10",
     {5.0, 6.710000000000001, 8.420000000000002, 0.129999999999999},
     -0.20329435424694245},
    {"shekel10", {7.7, 9.41, 1.120000000000001, 2.829999999999999}, -0.16238454851071035},
    {"mixed_st4", {-3.7, -1.9899999999999993, 0.0, 1.0}, -58.87655399499998},
    {"mixed_st4", {0.0, 1.7100000000000009, 3.0, -5.0}, 61.157380404999984},
    {"mixed_st4", {2.7, 4.41, -4.0, -2.0}, -19.443453194999964},
    {"hartmann6_noisy",
     {0.13, 0.30100000000000005, 0.47200000000000003, 0.643, 0.8140000000000001,
      0.9850000000000001},
     -0.06535509054148189},
    {"hartmann6_noisy",
     {0.5, 0.671, 0.8420000000000001, 0.0129999999999999, 0.18400000000000016, 0.355},
     -0.13557346721240982},
    {"hartmann6_noisy",
     {0.77, 0.9410000000000001, 0.1120000000000001, 0.2829999999999999, 0.4540000000000002, 0.625},
     -0.08588743496331508},
    {"mixed_h6",
     {0.13, 0.30100000000000005, 0.47200000000000003, 0.643, 15.0, 1.0},
     -0.17665543321192137},
    {"mixed_h6",
     {0.5, 0.671, 0.8420000000000001, 0.0129999999999999, 3.0, 2.0},
     -0.3318555329512111},
    {"mixed_h6",
     {0.77, 0.9410000000000001, 0.1120000000000001, 0.2829999999999999, 9.0, 3.0},
     -0.053073463079412554},
};

static void test_values_match_python(void **st)
{
    size_t n, checked = 0;
    const axl_suite_problem *all = axl_suite_problems(&n);
    (void)st;
    assert_int_equal(n, 16);
    assert_int_equal(sizeof g_py / sizeof g_py[0], 3 * n);
    for (size_t i = 0; i < sizeof g_py / sizeof g_py[0]; i++) {
        const axl_suite_problem *p = axl_suite_find(g_py[i].name);
        assert_non_null(p);
        double f = p->f(g_py[i].x);
        if (fabs(f - g_py[i].f) > 1e-11 * fmax(1.0, fabs(g_py[i].f)))
            fail_msg("%s point %zu: C %.17g, Python %.17g", p->name, i % 3, f, g_py[i].f);
        checked++;
    }
    assert_int_equal(checked, 3 * n);
    assert_ptr_equal(axl_suite_find(all[n - 1].name), &all[n - 1]);
    assert_null(axl_suite_find("no_such_problem"));
}

static void test_optima_attained(void **st)
{
    /* arg-mins from the literature (Shekel's, Michalewicz's-style refined numerically) */
    static const struct {
        const char *name;
        double x[AXL_SUITE_MAX_D];
    } am[] = {
        {"sixhump_camel", {0.08984201, -0.71265641}},
        {"goldstein_price", {0, -1}},
        {"beale", {3, 0.5}},
        {"drop_wave", {0, 0}},
        {"easom", {M_PI, M_PI}},
        {"branin_noisy", {M_PI, 2.275}},
        {"hartmann3", {0.11461434, 0.55564885, 0.85254695}},
        {"rosenbrock3", {1, 1, 1}},
        {"ackley3", {0, 0, 0}},
        {"schwefel3", {420.96874636, 420.96874636, 420.96874636}},
        {"levy4", {1, 1, 1, 1}},
        {"styblinski_tang4", {-2.90353402, -2.90353402, -2.90353402, -2.90353402}},
        {"shekel10", {4.00074653, 4.00059293, 3.9996634, 3.9995098}},
        {"mixed_st4", {-2.90353402, -2.90353402, -3, -3}},
        {"hartmann6_noisy",
         {0.20168952, 0.15001069, 0.47687398, 0.27533243, 0.31165162, 0.65730054}},
        {"mixed_h6", {0.20168952, 0.15001069, 0.47687398, 0.27533243, 6, 2}},
    };
    size_t n;
    axl_suite_problems(&n);
    (void)st;
    assert_int_equal(sizeof am / sizeof am[0], n);
    for (size_t i = 0; i < n; i++) {
        const axl_suite_problem *p = axl_suite_find(am[i].name);
        assert_non_null(p);
        double f = p->f(am[i].x);
        if (!(f - p->fmin < 1e-7 && f - p->fmin > -1e-12))
            fail_msg("%s: f(argmin) %.17g, optimum %.17g", p->name, f, p->fmin);
        for (size_t j = 0; j < p->d; j++) { /* the arg-min lies in the box */
            const axl_param *q = &p->params[j];
            if (q->type == AXL_PARAM_CHOICE)
                assert_true(am[i].x[j] >= 0 && am[i].x[j] < q->n_choices);
            else
                assert_true(am[i].x[j] >= q->lower && am[i].x[j] <= q->upper);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_match_python),
        cmocka_unit_test(test_optima_attained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
