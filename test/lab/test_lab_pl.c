/* test_lab_pl.c - PL spectra: the Gaussian-in-energy fit on synthetic spectra with known
 * answers, on saturated, empty, all-NaN and pure-noise spectra; the CSV layout. */
#include "lab_test.h"

#include "hw/line/axl_pl.h"
#include "hw/line/axl_task.h"

#include <gsl/gsl_errno.h>

#define NPIX 1001

static double gauss(double wl, double a, double e0, double s)
{
    double x = (1240.0 / wl - e0) / s;
    return a * exp(-0.5 * x * x);
}

/* Box-Muller on the test generator. */
static double normal(uint64_t *rng)
{
    double u = lab_uniform(rng, 1e-12, 1), v = lab_uniform(rng, 0, 1);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static void grid(double *wl)
{
    for (int i = 0; i < NPIX; i++)
        wl[i] = 600 + 0.5 * i;
}

static void test_recovers_known_peak(void **state)
{
    (void)state;
    double wl[NPIX], y[NPIX];
    axl_pl_result r;
    axl_errbuf eb = {{0}};
    grid(wl);
    /* noise-free: exact recovery */
    for (int i = 0; i < NPIX; i++)
        y[i] = gauss(wl[i], 5000, 1.65, 0.05);
    assert_int_equal(axl_pl_fit(wl, y, NPIX, NULL, &r, &eb), 0);
    assert_near(r.intensity, 5000, 5000 * 1e-6);
    assert_near(r.peak_ev, 1.65, 1e-7);
    assert_near(r.sigma_ev, 0.05, 1e-7);
    assert_near(r.fwhm_ev, 2.355 * 0.05, 1e-6);
    assert_near(r.peak_nm, 1240 / 1.65, 1e-4);

    /* dark level and noise: within a couple of percent */
    uint64_t rng = 42;
    for (int trial = 0; trial < 5; trial++) {
        double a = lab_uniform(&rng, 500, 20000), e0 = lab_uniform(&rng, 1.58, 1.72),
               s = lab_uniform(&rng, 0.03, 0.08);
        for (int i = 0; i < NPIX; i++)
            y[i] = 150 + gauss(wl[i], a, e0, s) + 0.01 * a * normal(&rng);
        if (axl_pl_fit(wl, y, NPIX, NULL, &r, &eb) != 0)
            fail_msg("trial %d: %s", trial, eb.msg);
        assert_near(r.intensity, a, 0.02 * a);
        assert_near(r.peak_ev, e0, 0.002);
        assert_near(r.sigma_ev, s, 0.03 * s);
        assert_near(r.baseline, 150, 0.01 * a);
        assert_true(r.noise > 0 && r.noise < 0.02 * a);
    }

    /* a peak wider than PASCAL's bound sits on the bound, no crash */
    for (int i = 0; i < NPIX; i++)
        y[i] = gauss(wl[i], 1000, 1.65, 0.35);
    axl_pl_opts o;
    axl_pl_opts_default(&o);
    o.baseline_max_nm = 0;
    assert_int_equal(axl_pl_fit(wl, y, NPIX, &o, &r, &eb), 0);
    assert_near(r.sigma_ev, 0.2, 1e-3);
}

static void test_failures_are_codes_with_reasons(void **state)
{
    (void)state;
    double wl[NPIX], y[NPIX];
    axl_pl_result r;
    axl_errbuf eb = {{0}};
    grid(wl);
    memset(y, 0, sizeof(y));
    /* empty */
    assert_int_equal(axl_pl_fit(wl, y, 0, NULL, &r, &eb), AXL_EINVAL);
    assert_true(isnan(r.intensity));
    /* all NaN */
    for (int i = 0; i < NPIX; i++)
        y[i] = NAN;
    assert_int_equal(axl_pl_fit(wl, y, NPIX, NULL, &r, &eb), AXL_EINVAL);
    assert_non_null(strstr(eb.msg, "0 usable pixels in 650-1100 nm"));
    assert_true(isnan(r.intensity));
    /* nothing in the window */
    axl_pl_opts o;
    axl_pl_opts_default(&o);
    o.wl_min = 1200;
    o.wl_max = 1300;
    for (int i = 0; i < NPIX; i++)
        y[i] = gauss(wl[i], 5000, 1.65, 0.05);
    assert_int_equal(axl_pl_fit(wl, y, NPIX, &o, &r, &eb), AXL_EINVAL);
    /* flat zero */
    for (int i = 0; i < NPIX; i++)
        y[i] = 0;
    assert_int_equal(axl_pl_fit(wl, y, NPIX, NULL, &r, &eb), AXL_ENOENT);
    assert_true(isnan(r.intensity));
    /* pure noise on a dark level: no peak */
    uint64_t rng = 9;
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < NPIX; i++)
            y[i] = 200 + 10 * normal(&rng);
        int rc = axl_pl_fit(wl, y, NPIX, NULL, &r, &eb);
        if (rc != AXL_ENOENT)
            fail_msg("noise trial %d: rc %d, intensity %g (%s)", trial, rc, r.intensity, eb.msg);
        assert_non_null(strstr(eb.msg, "no PL peak"));
        assert_true(isnan(r.intensity));
    }
    /* non-finite wavelengths and infinities are skipped, not trusted */
    for (int i = 0; i < NPIX; i++)
        y[i] = gauss(wl[i], 5000, 1.65, 0.05);
    y[300] = INFINITY;
    wl[301] = NAN;
    assert_int_equal(axl_pl_fit(wl, y, NPIX, NULL, &r, &eb), 0);
    assert_near(r.intensity, 5000, 5);
}

/* A three-dwell spectrum of a bright peak: the 20 s column saturates at the peak. */
static void bright_spectrum(axl_spectrum *s, double a)
{
    static const double dwell[3] = {1000, 5000, 20000};
    assert_int_equal(axl_spectrum_alloc(s, NPIX, 3), 0);
    grid(s->wl);
    memcpy(s->dwell_ms, dwell, sizeof(dwell));
    for (int i = 0; i < NPIX; i++)
        for (int d = 0; d < 3; d++) {
            double c = 1000 + dwell[d] / 1000 * gauss(s->wl[i], a, 1.63, 0.045);
            s->counts[i * 3 + d] = c >= AXL_SPECTRUM_SATURATION ? NAN : nearbyint(c);
        }
}

static void test_longest_unsaturated_dwell(void **state)
{
    (void)state;
    axl_spectrum s;
    axl_pl_result r;
    axl_errbuf eb = {{0}};
    bright_spectrum(&s, 8000); /* 20 s x 8000 = 160000: saturated; 5 s: 41000 */
    assert_int_equal(axl_pl_analyze(&s, NULL, &r, &eb), 0);
    assert_int_equal(r.dwell_index, 1);
    assert_near(r.dwell_ms, 5000, 0);
    assert_near(r.intensity, 8000, 8000 * 1e-3);
    assert_near(r.baseline, 1000.0 / 5, 1); /* the offset, per second at 5 s */
    axl_spectrum_free(&s);

    /* dwell columns in any order: the longest clean one wins */
    bright_spectrum(&s, 1000); /* nothing saturates */
    double *cps = malloc(NPIX * sizeof(double));
    size_t d;
    assert_non_null(cps);
    assert_int_equal(axl_spectrum_cps(&s, cps, &d, &eb), 0);
    assert_int_equal(d, 2);
    s.dwell_ms[0] = 50000;
    assert_int_equal(axl_spectrum_cps(&s, cps, &d, &eb), 0);
    assert_int_equal(d, 0);
    axl_spectrum_free(&s);

    /* everything saturated: a clear error, no crash */
    bright_spectrum(&s, 100000);
    assert_int_equal(axl_pl_analyze(&s, NULL, &r, &eb), AXL_ERANGE);
    assert_non_null(strstr(eb.msg, "every dwell time (3) has saturated"));
    assert_true(isnan(r.intensity));
    /* raw counts at the ceiling count as saturated too */
    for (int i = 0; i < NPIX * 3; i++)
        s.counts[i] = isnan(s.counts[i]) ? AXL_SPECTRUM_SATURATION : s.counts[i];
    assert_int_equal(axl_spectrum_cps(&s, cps, &d, &eb), AXL_ERANGE);
    /* all NaN */
    for (int i = 0; i < NPIX * 3; i++)
        s.counts[i] = NAN;
    assert_int_equal(axl_pl_analyze(&s, NULL, &r, &eb), AXL_ERANGE);
    axl_spectrum_free(&s);
    free(cps);
}

static void test_csv_round_trip_and_errors(void **state)
{
    (void)state;
    char dir[256], path[512];
    axl_spectrum s, back;
    axl_pl_result r1, r2;
    axl_errbuf eb = {{0}};
    lab_tmpdir(dir, sizeof(dir));
    lab_path(path, sizeof(path), dir, "sample7_pl.csv");
    bright_spectrum(&s, 8000);
    assert_int_equal(axl_spectrum_write_csv(path, &s, &eb), 0);
    assert_int_equal(axl_spectrum_read_csv(path, &back, &eb), 0);
    assert_int_equal(back.npix, NPIX);
    assert_int_equal(back.ndwell, 3);
    for (int i = 0; i < NPIX; i++) {
        assert_near(back.wl[i], s.wl[i], 1e-6);
        for (int d = 0; d < 3; d++) {
            double a = s.counts[i * 3 + d], b = back.counts[i * 3 + d];
            assert_true((isnan(a) && isnan(b)) || a == b);
        }
    }
    assert_int_equal(axl_pl_analyze(&s, NULL, &r1, &eb), 0);
    assert_int_equal(axl_pl_analyze_file(path, NULL, &r2, &eb), 0);
    assert_near(r1.intensity, r2.intensity, 1e-6 * r1.intensity);
    /* PASCAL's layout: dwell row, header row, data */
    FILE *f = fopen(path, "r");
    char line[256];
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "dwelltime_ms,1000,5000,20000\n");
    assert_non_null(fgets(line, sizeof(line), f));
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "600.000000,1000,1000,1000\n");
    fclose(f);
    axl_spectrum_free(&back);
    axl_spectrum_free(&s);

    struct {
        const char *text, *msg;
        int rc;
    } bad[] = {
        {"", "x:1: no dwell-time row", AXL_EPROTO},
        {"dwell\n", "x:1: no dwell times", AXL_EPROTO},
        {"dwell,-5\nh\n700,1\n", "x:1: column 2: dwell '-5' is not a positive number", AXL_EPROTO},
        {"dwell,100\n", "x:2: missing header row", AXL_EPROTO},
        {"dwell,100\nh\n", "x: no data rows", AXL_EPROTO},
        {"dwell,100\nh\n700,1\n701,abc\n", "x:4: column 2: 'abc' is not a number", AXL_EPROTO},
        {"dwell,100,200\nh\n700,1\n", "x:3: 1 values, expected 2", AXL_EPROTO},
        {"dwell,100\nh\n700,1,2\n", "x:3: more than 1 values", AXL_EPROTO},
        {"dwell,100\nh\n-700,1\n", "x:3: wavelength '-700'", AXL_EPROTO},
        {"dwell,100\nh\nnan,1\n", "x:3: wavelength 'nan'", AXL_EPROTO},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = axl_spectrum_parse_csv(bad[i].text, strlen(bad[i].text), "x", &back, &eb);
        if (rc != bad[i].rc || strstr(eb.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: got %d '%s'", i, rc, eb.msg);
    }
    /* CRLF, blank lines, "NaN" and empty fields are fine */
    const char *ok = "dwelltime_ms,100,200\r\nwavelength,c,c\r\n\r\n700,1,NaN\r\n701,,3\r\n";
    assert_int_equal(axl_spectrum_parse_csv(ok, strlen(ok), "x", &back, &eb), 0);
    assert_int_equal(back.npix, 2);
    assert_true(isnan(back.counts[1]) && isnan(back.counts[2]) && back.counts[3] == 3);
    axl_spectrum_free(&back);

    lab_path(path, sizeof(path), dir, "missing.csv");
    assert_int_equal(axl_spectrum_read_csv(path, &back, &eb), AXL_EIO);
    assert_int_equal(axl_pl_analyze_file(path, NULL, &r1, &eb), AXL_EIO);
    assert_true(isnan(r1.intensity));
    static const char *const names[] = {"sample7_pl.csv"};
    lab_tmpdir_rm(dir, names, 1);
}

/* Mangled files never crash the parser (run under ASan in `make asan-test`). */
static void test_mangled_csv_never_crashes(void **state)
{
    (void)state;
    const char *good = "dwelltime_ms,1000,5000\nwavelength_nm,counts,counts\n"
                       "600.5,1020,1100\n601.0,1030,nan\n601.5,1012,65535\n";
    size_t n = strlen(good);
    char *buf = malloc(n + 8);
    uint64_t rng = 1234;
    axl_spectrum s;
    axl_pl_result r;
    axl_errbuf eb;
    assert_non_null(buf);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, good, n);
        size_t len = n - lab_rand(&rng) % n; /* truncate */
        int flips = 1 + (int)(lab_rand(&rng) % 4);
        for (int f = 0; f < flips; f++)
            buf[lab_rand(&rng) % len] = (char)(lab_rand(&rng) & 0xff);
        if (axl_spectrum_parse_csv(buf, len, "fuzz", &s, &eb) == 0) {
            axl_pl_analyze(&s, NULL, &r, &eb);
            axl_spectrum_free(&s);
        }
    }
    free(buf);
}

/* The characterization result: the driver's writer and the engine's reader agree; the
 * reader takes only sensible numbers. */
static void test_pl_result_codec(void **state)
{
    (void)state;
    axl_pl_result r = {.intensity = 8397,
                       .peak_ev = 1.63,
                       .peak_nm = 760.7,
                       .fwhm_ev = 0.11,
                       .noise = 3,
                       .dwell_ms = 100};
    axl_pl_outcome o;
    axl_errbuf eb = {{0}};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_pl_result_encode("/d/x_pl.csv", &r, NULL, &sb), 0);
    assert_int_equal(axl_pl_result_decode(sb.data, sb.size, &o, &eb), 0);
    assert_true(o.fitted);
    assert_string_equal(o.spectrum, "/d/x_pl.csv");
    assert_near(o.intensity, 8397, 0);
    assert_near(o.peak_ev, 1.63, 0);
    assert_near(o.fwhm_ev, 0.11, 0);
    /* No peak: the reason travels. */
    sb.size = 0;
    r.intensity = NAN;
    assert_int_equal(axl_pl_result_encode("/d/x_pl.csv", &r, "no peak in the window", &sb), 0);
    assert_int_equal(axl_pl_result_decode(sb.data, sb.size, &o, &eb), 0);
    assert_false(o.fitted);
    assert_string_equal(o.error, "no peak in the window");
    /* A number outside physics: refused with the field named. */
    sb.size = 0;
    r.intensity = 1e13;
    assert_int_equal(axl_pl_result_encode("/d/x_pl.csv", &r, NULL, &sb), 0);
    assert_int_equal(axl_pl_result_decode(sb.data, sb.size, &o, &eb), AXL_ERANGE);
    assert_non_null(strstr(eb.msg, "pl_intensity"));
    assert_false(o.fitted);
    assert_int_not_equal(axl_pl_result_decode(NULL, 0, &o, &eb), 0);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    /* GSL's default handler aborts; the fits report its errors as codes (axl_pl.h). */
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovers_known_peak),
        cmocka_unit_test(test_pl_result_codec),
        cmocka_unit_test(test_failures_are_codes_with_reasons),
        cmocka_unit_test(test_longest_unsaturated_dwell),
        cmocka_unit_test(test_csv_round_trip_and_errors),
        cmocka_unit_test(test_mangled_csv_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
