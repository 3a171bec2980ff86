/* test_lab_film.c - the simulated films: the optimum is interior and truly the best, the
 * spectra are deterministic per seed, saturate like a real detector, and analyse back to
 * the film's intensity. */
#include "lab_test.h"

#include "hw/line/axl_film_model.h"

#include <gsl/gsl_errno.h>

static void test_model_is_valid(void **state)
{
    (void)state;
    axl_film_model m;
    axl_errbuf eb = {{0}};
    axl_film_model_default(&m);
    assert_int_equal(axl_film_model_check(&m, &eb), 0);
    m.interaction[0][1] = m.interaction[1][0] = 1.5; /* not positive definite */
    assert_int_equal(axl_film_model_check(&m, &eb), AXL_EINVAL);
    assert_non_null(strstr(eb.msg, "positive definite"));
    axl_film_model_default(&m);
    m.u_opt[2] = 1.0;
    assert_int_equal(axl_film_model_check(&m, &eb), AXL_EINVAL);
}

static void test_optimum_is_interior_and_best(void **state)
{
    (void)state;
    axl_film_model m;
    axl_film_inputs best, x;
    axl_film_model_default(&m);
    double vbest = axl_film_optimum(&m, &best);
    const double v[4] = {best.antisolvent_volume, best.antisolvent_rate, best.antisolvent_timing,
                         best.anneal_duration};
    for (int k = 0; k < 4; k++) {
        double margin = 0.1 * (m.hi[k] - m.lo[k]);
        assert_true(v[k] > m.lo[k] + margin && v[k] < m.hi[k] - margin);
    }
    assert_near(vbest, m.peak_cps, 1e-9);
    uint64_t rng = 2024;
    double worst = INFINITY;
    for (int i = 0; i < 20000; i++) {
        x.antisolvent_volume = lab_uniform(&rng, m.lo[0], m.hi[0]);
        x.antisolvent_rate = lab_uniform(&rng, m.lo[1], m.hi[1]);
        x.antisolvent_timing = lab_uniform(&rng, m.lo[2], m.hi[2]);
        x.anneal_duration = lab_uniform(&rng, m.lo[3], m.hi[3]);
        double y = axl_film_intensity(&m, &x);
        if (y > vbest)
            fail_msg("point %d beats the optimum: %g > %g", i, y, vbest);
        worst = fmin(worst, y);
    }
    /* the landscape is not flat: corners are much dimmer */
    assert_true(worst < 0.2 * vbest);
    /* a small step from the optimum in any direction loses */
    for (int k = 0; k < 4; k++) {
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            x = best;
            double *f = k == 0   ? &x.antisolvent_volume
                        : k == 1 ? &x.antisolvent_rate
                        : k == 2 ? &x.antisolvent_timing
                                 : &x.anneal_duration;
            *f += sgn * 0.01 * (m.hi[k] - m.lo[k]);
            assert_true(axl_film_intensity(&m, &x) < vbest);
        }
    }
    /* interactions: the best volume depends on the timing */
    double best_v[2] = {0, 0};
    for (int t = 0; t < 2; t++) {
        x = best;
        x.antisolvent_timing = t ? -8 : -25;
        double top = -1;
        for (double vol = 30; vol <= 150; vol += 0.5) {
            x.antisolvent_volume = vol;
            double y = axl_film_intensity(&m, &x);
            if (y > top) {
                top = y;
                best_v[t] = vol;
            }
        }
    }
    assert_true(fabs(best_v[1] - best_v[0]) > 5);
}

static void test_spectra(void **state)
{
    (void)state;
    axl_film_model m;
    axl_film_inputs best;
    axl_spectrum a, b;
    axl_pl_result r;
    axl_errbuf eb = {{0}};
    axl_film_model_default(&m);
    axl_film_optimum(&m, &best);
    assert_int_equal(axl_film_spectrum(&m, &best, 7, &a, &eb), 0);
    assert_int_equal(axl_film_spectrum(&m, &best, 7, &b, &eb), 0);
    assert_int_equal(a.npix, 1024);
    assert_int_equal(a.ndwell, 3);
    assert_near(a.wl[0], 600, 1e-9);
    assert_near(a.wl[1023], 1100, 1e-9);
    for (size_t i = 0; i < a.npix * a.ndwell; i++)
        assert_true((isnan(a.counts[i]) && isnan(b.counts[i])) || a.counts[i] == b.counts[i]);
    /* the brightest film saturates the 20 s column; the analysis falls back to 5 s */
    size_t nan20 = 0;
    for (size_t i = 0; i < a.npix; i++)
        nan20 += isnan(a.counts[i * 3 + 2]);
    assert_true(nan20 > 10);
    assert_int_equal(axl_pl_analyze(&a, NULL, &r, &eb), 0);
    assert_int_equal(r.dwell_index, 1);
    /* within film-to-film variation (5 %) of the true intensity */
    assert_near(r.intensity, m.peak_cps, 0.2 * m.peak_cps);
    double e0, s;
    axl_film_peak(&m, &best, &e0, &s);
    assert_true(e0 > 1.6 && e0 < 1.7);
    assert_near(r.peak_ev, e0, 0.002);
    assert_near(r.sigma_ev, s, 0.05 * s);
    axl_spectrum_free(&b);

    /* another seed, another film */
    assert_int_equal(axl_film_spectrum(&m, &best, 8, &b, &eb), 0);
    assert_true(memcmp(a.counts, b.counts, a.npix * 3 * sizeof(double)) != 0);
    axl_spectrum_free(&a);
    axl_spectrum_free(&b);

    /* the fit tracks the true intensity across the space (a dim corner uses 20 s) */
    uint64_t rng = 5;
    double err = 0;
    for (int i = 0; i < 12; i++) {
        axl_film_inputs x = {lab_uniform(&rng, 30, 150), lab_uniform(&rng, 30, 150),
                             lab_uniform(&rng, -30, -5), lab_uniform(&rng, 900, 3600)};
        assert_int_equal(axl_film_spectrum(&m, &x, (uint64_t)i, &a, &eb), 0);
        if (axl_pl_analyze(&a, NULL, &r, &eb) != 0)
            fail_msg("film %d: %s", i, eb.msg);
        double truth = axl_film_intensity(&m, &x);
        err = fmax(err, fabs(log(r.intensity / truth)));
        axl_spectrum_free(&a);
    }
    assert_true(err < 0.2); /* 5 % film noise: 4 sigma */
}

static void test_inputs_from_recipe(void **state)
{
    (void)state;
    axl_recipe r;
    axl_film_inputs x;
    axl_errbuf eb = {{0}};
    axl_recipe_seed(95, 60, -12.5, 2000, &r);
    assert_int_equal(axl_film_inputs_from_recipe(&r, &x, &eb), 0);
    assert_near(x.antisolvent_volume, 95, 0);
    assert_near(x.antisolvent_rate, 60, 0);
    assert_near(x.antisolvent_timing, -12.5, 1e-12);
    assert_near(x.anneal_duration, 2000, 0);
    r.task[1].kind = AXL_RTASK_REST;
    assert_int_equal(axl_film_inputs_from_recipe(&r, &x, &eb), AXL_EINVAL);
    assert_non_null(strstr(eb.msg, "no anneal"));
    r.ntasks = 0;
    assert_int_equal(axl_film_inputs_from_recipe(&r, &x, &eb), AXL_EINVAL);
}

int main(void)
{
    /* GSL's default handler aborts; the fits report its errors as codes (axl_pl.h). */
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_is_valid),
        cmocka_unit_test(test_optimum_is_interior_and_best),
        cmocka_unit_test(test_spectra),
        cmocka_unit_test(test_inputs_from_recipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
