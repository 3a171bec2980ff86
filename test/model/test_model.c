/* test_model.c - engine/model: transforms, Sobol, GP, LogEI, strategy rules. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/model/axl_model.h"
#include "engine/model/model_internal.h"

/* deterministic test data */
static uint64_t rs = 12345;
static double urand(void)
{
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static axl_gp_config cfg_of(axl_gp_prior p)
{
    axl_gp_config c = {.prior = p, .min_noise = 1e-6, .n_starts = 2, .max_iter = 100};
    return c;
}

/* ----------------------------------------------------------- gradients */

static void test_exp_nonpos(void **st)
{
    /* the kernels' vectorizable exp: within 2 ulp of libm's down to -700, and never
     * 0, negative or NaN below (clamped) */
    double worst = 0;
    long i;
    (void)st;
    for (i = 0; i <= 2000000; i++) {
        double x = -700.0 * (double)i / 2000000.0, a = axl__exp_nonpos(x), b = exp(x);
        worst = fmax(worst, fabs(a - b) / b);
    }
    assert_true(worst < 4.5e-16);
    assert_true(axl__exp_nonpos(0.0) == 1.0);
    assert_true(axl__exp_nonpos(-1e6) > 0 && axl__exp_nonpos(-1e6) <= exp(-699.0));
}

static void test_kernel_gradient(void **st)
{
    double ls[3] = {0.3, 0.7, 1.5}, a[3] = {0.2, 0.5, 0.9}, b[3] = {0.4, 0.1, 0.8}, g[3];
    const double h = 1e-6;
    int j;
    (void)st;
    axl_gp_kernel(3, ls, 1.7, a, b, g);
    for (j = 0; j < 3; j++) {
        double ap[3], am[3], fd;
        memcpy(ap, a, sizeof a);
        memcpy(am, a, sizeof a);
        ap[j] += h;
        am[j] -= h;
        fd = (axl_gp_kernel(3, ls, 1.7, ap, b, NULL) - axl_gp_kernel(3, ls, 1.7, am, b, NULL)) /
             (2 * h);
        assert_true(fabs(fd - g[j]) < 1e-7 * (1 + fabs(fd)));
    }
    /* k(a,a) = outputscale, zero gradient */
    assert_true(fabs(axl_gp_kernel(3, ls, 1.7, a, a, g) - 1.7) < 1e-15);
    assert_true(g[0] == 0 && g[1] == 0 && g[2] == 0);
}

static void map_gradient_case(axl_gp_prior prior, int fixed_noise)
{
    enum { N = 14, D = 3, H = D + 3 };
    double X[N * D], y[N], nv[N], th[H], g[H], v;
    axl_gp_config c = cfg_of(prior);
    int i, j;
    for (i = 0; i < N * D; i++)
        X[i] = urand();
    for (i = 0; i < N; i++) {
        y[i] = sin(6 * X[i * D]) + X[i * D + 1] * X[i * D + 2] + 0.1 * urand();
        nv[i] = 0.01 + 0.02 * urand();
    }
    th[0] = log(0.4);
    th[1] = log(0.9);
    th[2] = log(2.5);
    th[3] = log(1.3);
    th[4] = log(0.02);
    th[5] = 0.1;
    assert_int_equal(axl_gp_map_objective(N, D, X, y, fixed_noise ? nv : NULL, &c, th, &v, g), 0);
    assert_true(isfinite(v));
    for (j = 0; j < H; j++) {
        double tp[H], tm[H], vp, vm, h = 1e-5, fd;
        memcpy(tp, th, sizeof th);
        memcpy(tm, th, sizeof th);
        tp[j] += h;
        tm[j] -= h;
        assert_int_equal(
            axl_gp_map_objective(N, D, X, y, fixed_noise ? nv : NULL, &c, tp, &vp, NULL), 0);
        assert_int_equal(
            axl_gp_map_objective(N, D, X, y, fixed_noise ? nv : NULL, &c, tm, &vm, NULL), 0);
        fd = (vp - vm) / (2 * h);
        if (fixed_noise && j == D + 1)
            assert_true(g[j] == 0.0 && fabs(fd) < 1e-9);
        else
            assert_true(fabs(fd - g[j]) < 1e-5 * (1 + fabs(fd)));
    }
}

static void test_map_gradient(void **st)
{
    (void)st;
    map_gradient_case(AXL_PRIOR_GAMMA, 0);
    map_gradient_case(AXL_PRIOR_LOGNORMAL, 0);
    map_gradient_case(AXL_PRIOR_GAMMA, 1);
    map_gradient_case(AXL_PRIOR_LOGNORMAL, 1);
}

static double ei_direct(double z)
{
    return exp(-0.5 * z * z) / sqrt(2 * M_PI) + z * 0.5 * erfc(-z / sqrt(2));
}

static void test_logei_h(void **st)
{
    double z, d, prev = -INFINITY;
    (void)st;
    /* equals log(EI) where EI is representable and accurate */
    for (z = -8; z <= 6; z += 0.173) {
        double l = axl_logei_h(z, &d), ref = log(ei_direct(z));
        double h = 1e-6, fd = (axl_logei_h(z + h, NULL) - axl_logei_h(z - h, NULL)) / (2 * h);
        assert_true(fabs(l - ref) < 1e-9 * (1 + fabs(ref)));
        assert_true(fabs(fd - d) < 1e-6 * (1 + fabs(d)));
        assert_true(l > prev); /* strictly increasing */
        prev = l;
    }
    /* finite where EI underflows to 0 in double precision */
    for (z = -40; z > -1e9; z *= 3.7) {
        double l = axl_logei_h(z, &d);
        double asym = -0.5 * z * z - 0.5 * log(2 * M_PI) - 2 * log(-z);
        double h = 1e-7 * fabs(z);
        double fd = (axl_logei_h(z + h, NULL) - axl_logei_h(z - h, NULL)) / (2 * h);
        assert_true(isfinite(l) && isfinite(d));
        assert_true(ei_direct(z) == 0.0 || z > -40);
        /* the next term of the asymptotic series is O(z^-2) */
        assert_true(fabs(l - asym) < 5.0 / (z * z) + 1e-12 * fabs(asym));
        assert_true(fabs(fd - d) < 1e-4 * fabs(d));
        assert_true(d > 0);
    }
    /* continuity at the branch point -1 */
    assert_true(fabs(axl_logei_h(-1.0 - 1e-12, NULL) - axl_logei_h(-1.0 + 1e-12, NULL)) < 1e-10);
}

/* a small GP on a smooth function */
static axl_gp *fit_small(size_t n, size_t d, double *X, double *y)
{
    axl_gp *gp = NULL;
    axl_gp_config c = cfg_of(AXL_PRIOR_GAMMA);
    size_t i, j;
    for (i = 0; i < n; i++) {
        double s = 0;
        for (j = 0; j < d; j++) {
            X[i * d + j] = urand();
            s += sin(3 * X[i * d + j] + j);
        }
        y[i] = s;
    }
    assert_int_equal(axl_gp_fit(n, d, X, y, NULL, &c, NULL, 0, &gp, NULL, NULL), 0);
    return gp;
}

/* LogEI's gradient g at x (d coordinates) against central differences, to rel. tol. */
static void assert_logei_gradient(const axl_gp *gp, double best, int d, const double *x,
                                  const double *g, double tol)
{
    for (int j = 0; j < d; j++) {
        double up[16], um[16], vp, vm, h = 1e-6, fd;
        assert_true(d <= 16);
        memcpy(up, x, (size_t)d * sizeof(*x));
        memcpy(um, x, (size_t)d * sizeof(*x));
        up[j] += h;
        um[j] -= h;
        axl_gp_logei(gp, best, 1, up, &vp, NULL);
        axl_gp_logei(gp, best, 1, um, &vm, NULL);
        fd = (vp - vm) / (2 * h);
        assert_true(fabs(fd - g[j]) < tol * (1 + fabs(fd)));
    }
}

static void test_logei_gradient_and_value(void **st)
{
    enum { N = 20, D = 3, M = 9 };
    double X[N * D], y[N], U[M * D], v[M], g[M * D], mu[M], var[M], best = -1e9;
    axl_gp *gp;
    int i, j;
    (void)st;
    gp = fit_small(N, D, X, y);
    for (i = 0; i < N; i++)
        best = fmax(best, y[i]);
    for (i = 0; i < M * D; i++)
        U[i] = urand();
    assert_int_equal(axl_gp_logei(gp, best, M, U, v, g), 0);
    assert_int_equal(axl_gp_predict(gp, M, U, mu, var), 0);
    for (i = 0; i < M; i++) {
        double sd = sqrt(var[i]), z = (mu[i] - best) / sd, ei = sd * ei_direct(z);
        if (ei > 1e-300 && z > -30)
            assert_true(fabs(v[i] - log(ei)) < 1e-6 * (1 + fabs(v[i])));
        assert_true(isfinite(v[i]));
        assert_logei_gradient(gp, best, D, U + i * D, g + i * D, 1e-4);
    }
    /* far below the incumbent: EI underflows, LogEI stays finite with a gradient */
    assert_int_equal(axl_gp_logei(gp, best + 200.0, M, U, v, g), 0);
    for (i = 0; i < M; i++) {
        double sd = sqrt(var[i]);
        assert_true(sd * ei_direct((mu[i] - best - 200.0) / sd) == 0.0);
        assert_true(isfinite(v[i]) && v[i] < -100);
        for (j = 0; j < D; j++)
            assert_true(isfinite(g[i * D + j]));
    }
    axl_gp_free(gp);
}

/* ------------------------------------------------------ GP closed form */

static void test_gp_closed_form(void **st)
{
    /* d = 1, two points, fixed hyper-parameters: compare with the 2x2 algebra */
    double X[2] = {0.2, 0.7}, y[2] = {1.0, -0.5}, th[4], xs = 0.45, m, v;
    double ls = 0.3, s2 = 1.5, noise = 0.01, c0 = 0.2;
    axl_gp_config c = cfg_of(AXL_PRIOR_GAMMA);
    axl_gp *gp = NULL;
    double k12, k1s, k2s, a, b, det, i11, i12, i22, r1, r2, em, ev;
    (void)st;
    c.min_noise = 0.0;
    th[0] = log(ls);
    th[1] = log(s2);
    th[2] = log(noise);
    th[3] = c0;
    assert_int_equal(axl_gp_fit(2, 1, X, y, NULL, &c, th, 1, &gp, NULL, NULL), 0);
    k12 = axl_gp_kernel(1, &ls, s2, &X[0], &X[1], NULL);
    k1s = axl_gp_kernel(1, &ls, s2, &X[0], &xs, NULL);
    k2s = axl_gp_kernel(1, &ls, s2, &X[1], &xs, NULL);
    /* Matern-5/2 by hand for one pair, to pin the kernel itself */
    {
        double r = 0.5 / ls, kk = s2 * (1 + sqrt(5) * r + 5.0 / 3 * r * r) * exp(-sqrt(5) * r);
        assert_true(fabs(kk - k12) < 1e-14);
    }
    a = s2 + noise;
    b = k12;
    det = a * a - b * b;
    i11 = a / det;
    i22 = a / det;
    i12 = -b / det;
    r1 = y[0] - c0;
    r2 = y[1] - c0;
    em = c0 + k1s * (i11 * r1 + i12 * r2) + k2s * (i12 * r1 + i22 * r2);
    ev = s2 - (k1s * (i11 * k1s + i12 * k2s) + k2s * (i12 * k1s + i22 * k2s));
    assert_int_equal(axl_gp_predict(gp, 1, &xs, &m, &v), 0);
    assert_true(fabs(m - em) < 1e-12);
    assert_true(fabs(v - ev) < 1e-12);
    /* at a training point with tiny noise the posterior nearly interpolates */
    assert_int_equal(axl_gp_predict(gp, 1, &X[0], &m, &v), 0);
    assert_true(fabs(m - y[0]) < 0.02 && v < 0.011);
    axl_gp_free(gp);
}

static void test_gp_fit_recovers(void **st)
{
    /* MAP fit on a smooth 2-d function predicts held-out points well and the
     * inferred noise is small (noise-free data) */
    enum { N = 30, D = 2 };
    double X[N * D], y[N], th[D + 3], xs[D] = {0.33, 0.61}, m, v;
    axl_gp *gp;
    axl_gp_info info;
    axl_gp_config c = cfg_of(AXL_PRIOR_GAMMA);
    int i;
    (void)st;
    for (i = 0; i < N; i++) {
        X[i * D] = urand();
        X[i * D + 1] = urand();
        y[i] = sin(3 * X[i * D]) * cos(2 * X[i * D + 1]);
    }
    assert_int_equal(axl_gp_fit(N, D, X, y, NULL, &c, NULL, 0, &gp, &info, NULL), 0);
    assert_true(info.n_evals > 0 && isfinite(info.objective));
    axl_gp_theta(gp, th);
    assert_true(exp(th[D + 1]) < 1e-3);
    assert_int_equal(axl_gp_predict(gp, 1, xs, &m, &v), 0);
    assert_true(fabs(m - sin(3 * xs[0]) * cos(2 * xs[1])) < 0.01);
    axl_gp_free(gp);
}

static void test_gp_fit_screened(void **st)
{
    /* a cold fit whose starts are screened (only the best continues after 10
     * iterations) reaches the MAP objective of running every start to the end, on
     * smooth and bumpy data, with fewer evaluations */
    enum { N = 40, D = 3 };
    double X[N * D], y[N];
    int rep, i, ev_full = 0, ev_scr = 0;
    (void)st;
    for (rep = 0; rep < 4; rep++) {
        axl_gp_config c = cfg_of(AXL_PRIOR_GAMMA);
        axl_gp *a = NULL, *b = NULL;
        axl_gp_info ia, ib;
        for (i = 0; i < N; i++) {
            double *x = X + i * D;
            x[0] = urand();
            x[1] = urand();
            x[2] = urand();
            y[i] = rep % 2 ? sin(9 * x[0]) * cos(7 * x[1]) + 0.1 * x[2]
                           : exp(-8 * ((x[0] - 0.3) * (x[0] - 0.3) + (x[1] - 0.6) * (x[1] - 0.6)));
        }
        c.n_starts = 3;
        c.screen_iter = 0;
        assert_int_equal(axl_gp_fit(N, D, X, y, NULL, &c, NULL, 0, &a, &ia, NULL), 0);
        c.screen_iter = 10;
        assert_int_equal(axl_gp_fit(N, D, X, y, NULL, &c, NULL, 0, &b, &ib, NULL), 0);
        assert_int_equal(ib.n_starts, 3);
        assert_true(isfinite(ib.objective));
        assert_true(ib.objective > ia.objective - 0.05);
        ev_full += ia.n_evals;
        ev_scr += ib.n_evals;
        axl_gp_free(a);
        axl_gp_free(b);
    }
    assert_true(ev_scr < ev_full);
}

static void test_logei_bound_large(void **st)
{
    /* above 128 points the acquisition scores raw points exactly only while their
     * bound (the variance from the first 64 rows of the factor) can still reach the
     * best few: the bound must never be below the exact LogEI. Also the LogEI
     * gradient (two triangular solves, no K^-1) against finite differences there. */
    enum { N = 200, D = 3, M = 64 };
    static double X[N * D], y[N];
    double th[D + 3] = {log(0.2), log(0.25), log(0.3), 0.0, log(1e-4), 0.0};
    double U[M * D], v[M], ub[M], g[M * D], best = -1e9, *ws;
    axl_gp_config c = cfg_of(AXL_PRIOR_GAMMA);
    axl_gp *gp = NULL;
    int i, j;
    (void)st;
    for (i = 0; i < N; i++) {
        for (j = 0; j < D; j++)
            X[i * D + j] = urand();
        y[i] = sin(5 * X[i * D]) + cos(4 * X[i * D + 1]) * X[i * D + 2];
        best = fmax(best, y[i]);
    }
    assert_int_equal(axl_gp_fit(N, D, X, y, NULL, &c, th, 1, &gp, NULL, NULL), 0);
    for (i = 0; i < M * D; i++)
        U[i] = urand();
    /* half of the points next to training points, where the variance is small */
    for (i = 0; i < M / 2; i++)
        for (j = 0; j < D; j++)
            U[i * D + j] = X[(i * 3) * D + j] + 1e-3 * (urand() - 0.5);
    ws = malloc((axl__gp_logei_ws_size(gp, M, 0) + 1) * sizeof(double));
    assert_non_null(ws);
    assert_int_equal(axl__gp_logei_ub(gp, best, M, U, 64, ub, ws), 0);
    assert_int_equal(axl_gp_logei(gp, best, M, U, v, g), 0);
    for (i = 0; i < M; i++) {
        assert_true(isfinite(v[i]) && isfinite(ub[i]));
        assert_true(ub[i] >= v[i] - 1e-9 * (1 + fabs(v[i])));
    }
    /* with all rows the bound is the value */
    assert_int_equal(axl__gp_logei_ub(gp, best, M, U, N, ub, ws), 0);
    for (i = 0; i < M; i++)
        assert_true(fabs(ub[i] - v[i]) < 1e-9 * (1 + fabs(v[i])));
    for (i = 0; i < M; i += 7)
        assert_logei_gradient(gp, best, D, U + i * D, g + i * D, 1e-3);
    free(ws);
    axl_gp_free(gp);
    /* a whole generation there (the pruned raw scoring, the believer for a batch of
     * two): valid, distinct, new candidates */
    {
        axl_param p[D];
        axl_space s = {.n_params = D, .params = p};
        axl_gen_step step = {.model = AXL_GEN_GP_LOGEI, .num_trials = -1, .seed = 3};
        axl_model_options o;
        axl_model_state ms;
        axl_model_input in;
        axl_model_output out;
        axl_errbuf eb = {{0}};
        double cand[2 * D];
        for (j = 0; j < D; j++)
            p[j] = (axl_param){.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 1};
        axl_model_options_default(&o);
        o.outcome_transform = AXL_OUTCOME_STANDARDIZE;
        axl_model_state_init(&ms, 5);
        memset(&in, 0, sizeof in);
        memset(&out, 0, sizeof out);
        in.space = &s;
        in.maximize = 1;
        in.n_obs = 140;
        in.X = X;
        in.y = y;
        in.k = 2;
        in.step = &step;
        in.state = &ms;
        in.opts = &o;
        out.X = cand;
        assert_int_equal(axl_model_generate(&in, &out, &eb), 0);
        assert_int_equal(out.n, 2);
        assert_true(isfinite(out.diag.best_logei));
        assert_false(axl_space_same_point(&s, cand, cand + D));
        for (i = 0; i < 140; i++) {
            assert_false(axl_space_same_point(&s, cand, X + i * D));
            assert_false(axl_space_same_point(&s, cand + D, X + i * D));
        }
    }
}

static void test_gp_duplicates(void **st)
{
    /* identical inputs with zero known noise: a singular Gram matrix; the fit must
     * succeed with jitter and report it */
    enum { N = 8, D = 2 };
    double X[N * D], y[N], nv[N], m, v;
    axl_gp *gp = NULL;
    axl_gp_info info;
    axl_gp_config c = cfg_of(AXL_PRIOR_GAMMA);
    int i;
    (void)st;
    for (i = 0; i < N; i++) {
        X[i * D] = (i % 3) * 0.3;
        X[i * D + 1] = 0.5;
        y[i] = (i % 3) * 0.3;
        nv[i] = 0.0;
    }
    assert_int_equal(axl_gp_fit(N, D, X, y, nv, &c, NULL, 0, &gp, &info, NULL), 0);
    assert_true(info.jitter > 0 && info.n_jitter > 0);
    assert_int_equal(axl_gp_predict(gp, 1, X, &m, &v), 0);
    assert_true(isfinite(m) && isfinite(v) && fabs(m - y[0]) < 0.05);
    axl_gp_free(gp);
}

/* --------------------------------------------------------------- Sobol */

static void test_sobol_reproducible(void **st)
{
    enum { D = 5, N = 64 };
    double a[N * D], b[32 * D], c[N * D];
    int i, j;
    (void)st;
    assert_int_equal(axl_sobol_fill(D, 42, 0, N, a), 0);
    assert_int_equal(axl_sobol_fill(D, 42, 32, 32, b), 0);
    assert_memory_equal(a + 32 * D, b, sizeof b);
    assert_int_equal(axl_sobol_fill(D, 43, 0, N, c), 0);
    assert_true(memcmp(a, c, sizeof a) != 0);
    /* scrambling keeps the net property: every 1-d projection of the first 64
     * points has exactly one point in each interval of width 1/64 */
    for (j = 0; j < D; j++) {
        int hit[N] = {0};
        for (i = 0; i < N; i++) {
            double u = a[i * D + j];
            assert_true(u > 0 && u < 1);
            hit[(int)(u * N)]++;
        }
        for (i = 0; i < N; i++)
            assert_int_equal(hit[i], 1);
    }
    /* far into the sequence point n is computed directly from GSL's direction numbers:
     * the same points as GSL's sequential generator, at 5 and at 40 dimensions */
    {
        enum { M = 3000 };
        static double all[M * 40], part[40 * 40];
        static const uint64_t firsts[5] = {65, 100, 1023, 2048, 2960};
        for (int dd = 5; dd <= 40; dd += 35) {
            assert_int_equal(axl_sobol_fill((unsigned)dd, 9, 0, M, all), 0);
            for (int f = 0; f < 5; f++) {
                assert_int_equal(axl_sobol_fill((unsigned)dd, 9, firsts[f], 40, part), 0);
                assert_memory_equal(all + firsts[f] * (uint64_t)dd, part,
                                    40 * (size_t)dd * sizeof(double));
            }
        }
    }
    /* beyond GSL's 40 Sobol dimensions: still reproducible and in (0,1) */
    {
        double h1[3 * 50], h2[50];
        assert_int_equal(axl_sobol_fill(50, 7, 0, 3, h1), 0);
        assert_int_equal(axl_sobol_fill(50, 7, 2, 1, h2), 0);
        assert_memory_equal(h1 + 100, h2, sizeof h2);
    }
    assert_int_equal(axl_sobol_fill(0, 1, 0, 1, a), AXL_EINVAL);
}

/* -------------------------------------------------------- transforms */

static void test_transforms(void **st)
{
    axl_param p[5] = {
        {.type = AXL_PARAM_FLOAT, .lower = 1e-3, .upper = 1e1, .log_scale = 1},
        {.type = AXL_PARAM_INT, .lower = 2, .upper = 9},
        {.type = AXL_PARAM_CHOICE, .n_choices = 4, .ordered = 1},
        {.type = AXL_PARAM_CHOICE, .n_choices = 3, .ordered = 0},
        {.type = AXL_PARAM_FIXED, .value = 7.5},
    };
    axl_space s = {.n_params = 5, .params = p};
    double x[5] = {0.1, 4, 2, 1, 7.5}, u[7], x2[5];
    (void)st;
    assert_int_equal(axl_space_check(&s, NULL), 0);
    assert_int_equal(axl_space_dims(&s), 1 + 1 + 1 + 3);
    assert_int_equal(axl_space_to_unit(&s, x, u), 0);
    assert_true(fabs(u[0] - 0.5) < 1e-12); /* log scale: 0.1 is the middle of 1e-3..1e1 */
    assert_true(fabs(u[1] - 2.0 / 7.0) < 1e-12);
    assert_true(fabs(u[2] - 2.0 / 3.0) < 1e-12);
    assert_true(u[3] == 0 && u[4] == 1 && u[5] == 0); /* one-hot */
    axl_space_from_unit(&s, u, x2);
    assert_true(fabs(x2[0] - 0.1) < 1e-12);
    assert_true(x2[1] == 4 && x2[2] == 2 && x2[3] == 1 && x2[4] == 7.5);
    /* relaxed values are rounded; one-hot takes the arg-max; out of range clips */
    u[0] = 1.3;
    u[1] = 0.52; /* 2 + 3.64 -> 6 */
    u[2] = 0.4;  /* 1.2 -> 1 */
    u[3] = 0.2;
    u[4] = 0.1;
    u[5] = 0.7;
    axl_space_from_unit(&s, u, x2);
    assert_true(x2[0] == 10.0 && x2[1] == 6 && x2[2] == 1 && x2[3] == 2 && x2[4] == 7.5);
    assert_true(axl_space_feasible(&s, x2));
    x2[1] = 6.5;
    assert_false(axl_space_feasible(&s, x2));
    /* same arm */
    x2[1] = 6;
    memcpy(x, x2, sizeof x);
    x[0] *= 1 + 1e-9;
    assert_true(axl_space_same_point(&s, x, x2));
    x[3] = 1;
    assert_false(axl_space_same_point(&s, x, x2));
    /* invalid spaces are reported */
    p[1].lower = 9.5;
    assert_int_equal(axl_space_check(&s, NULL), AXL_EINVAL);
    p[1].lower = 2;
    p[0].lower = 0;
    {
        axl_errbuf eb = {{0}};
        assert_int_equal(axl_space_check(&s, &eb), AXL_EINVAL);
        assert_non_null(strstr(eb.msg, "parameters[0]"));
    }
}

/* ---------------------------------------------------------- generate */

typedef struct run {
    axl_space s;
    axl_gen_step step;
    axl_model_state st;
    axl_model_options o;
} run;

static int gen(run *r, size_t n, const double *X, const double *y, size_t np, const double *P,
               size_t k, double *out, axl_model_output *o)
{
    axl_model_input in;
    memset(&in, 0, sizeof in);
    in.space = &r->s;
    in.maximize = 0;
    in.n_obs = n;
    in.X = X;
    in.y = y;
    in.n_pending = np;
    in.X_pending = P;
    in.k = k;
    in.step = &r->step;
    in.state = &r->st;
    in.opts = &r->o;
    memset(o, 0, sizeof *o);
    o->X = out;
    return axl_model_generate(&in, o, NULL);
}

static void test_sobol_generate_dedup(void **st)
{
    /* a small discrete space: 4 ints x 3 choices = 12 arms */
    axl_param p[2] = {{.type = AXL_PARAM_INT, .lower = 0, .upper = 3},
                      {.type = AXL_PARAM_CHOICE, .n_choices = 3}};
    run r = {.s = {.n_params = 2, .params = p},
             .step = {.model = AXL_GEN_SOBOL, .num_trials = -1, .seed = 5}};
    double X[24], out[24];
    axl_model_output o;
    size_t i, j, n = 0;
    (void)st;
    axl_model_state_init(&r.st, 99);
    axl_model_options_default(&r.o);
    /* two arms observed, one pending */
    X[0] = 1, X[1] = 2, X[2] = 3, X[3] = 0;
    n = 2;
    {
        double y[2] = {1, 2}, P[2] = {0, 0};
        assert_int_equal(gen(&r, n, X, y, 1, P, 9, out, &o), 0);
        assert_int_equal(o.n, 9);
        assert_string_equal(o.method, "Sobol");
        for (i = 0; i < o.n; i++) {
            assert_true(axl_space_feasible(&r.s, out + 2 * i));
            assert_false(axl_space_same_point(&r.s, out + 2 * i, P));
            for (j = 0; j < n; j++)
                assert_false(axl_space_same_point(&r.s, out + 2 * i, X + 2 * j));
            for (j = 0; j < i; j++)
                assert_false(axl_space_same_point(&r.s, out + 2 * i, out + 2 * j));
        }
        /* everything is taken now */
        memcpy(X + 4, out, 9 * 2 * sizeof(double));
        r.st = o.state;
        assert_int_equal(gen(&r, 11, X, (double[11]){0}, 1, P, 1, out, &o), AXL_EEXHAUSTED);
    }
}

static int accept_even(void *ctx, uint32_t id)
{
    (*(int *)ctx)++;
    return id % 2 == 0;
}

static void test_point_index(void **st)
{
    /* the index answers as a scan with axl_space_same_point would: stored points,
     * copies moved within the tolerance (also across cell edges), moved beyond it,
     * round values that sit on grid edges, log scale, ints and choices */
    axl_param p[5] = {{.type = AXL_PARAM_FLOAT, .lower = -3, .upper = 7},
                      {.type = AXL_PARAM_FLOAT, .lower = 1e-3, .upper = 10, .log_scale = 1},
                      {.type = AXL_PARAM_INT, .lower = -2, .upper = 9},
                      {.type = AXL_PARAM_CHOICE, .n_choices = 4},
                      {.type = AXL_PARAM_FIXED, .value = 2}};
    axl_space s = {.n_params = 5, .params = p};
    enum { N = 1500 };
    static double pts[N * 5];
    axl_point_index *ix;
    int calls = 0, hits = 0, agree = 0;
    (void)st;
    assert_int_equal(axl_point_index_new(&s, &ix), 0);
    for (int i = 0; i < N; i++) {
        double *x = pts + i * 5;
        int grid = i % 3 == 0; /* round values: 0.5-steps, on the old cell edges */
        x[0] = grid ? -3 + 0.5 * (i % 21) : -3 + 10 * urand();
        x[1] = grid ? pow(10, -3 + (i % 5)) : exp(log(1e-3) + urand() * log(1e4));
        x[2] = (double)(-2 + (int)(urand() * 12));
        x[3] = (double)(int)(urand() * 4);
        x[4] = 2;
        assert_int_equal(axl_point_index_add(ix, x, (uint32_t)i), 0);
    }
    assert_int_equal(axl_point_index_count(ix), N);
    for (int q = 0; q < 4 * N; q++) {
        double y[5];
        const double *x = pts + (q % N) * 5;
        memcpy(y, x, sizeof y);
        switch (q / N) {
        case 0: /* the point itself */
            break;
        case 1: /* within the tolerance: 0.9e-6 of the range (of the log range) */
            y[0] += (urand() < 0.5 ? -0.9e-6 : 0.9e-6) * 10;
            y[1] *= exp((urand() < 0.5 ? -0.9e-6 : 0.9e-6) * log(1e4));
            break;
        case 2: /* beyond it */
            y[0] += (urand() < 0.5 ? -3e-6 : 3e-6) * 10;
            break;
        default: /* another discrete value */
            y[2] = y[2] < 9 ? y[2] + 1 : y[2] - 1;
            break;
        }
        int scan = 0;
        for (int j = 0; j < N && !scan; j++)
            scan = axl_space_same_point(&s, y, pts + j * 5);
        int found = axl_point_index_find(ix, y, NULL, NULL);
        hits += found;
        agree += found == scan;
        if (found != scan)
            fail_msg("query %d (kind %d): index %d, scan %d", q, q / N, found, scan);
    }
    assert_int_equal(agree, 4 * N);
    assert_true(hits >= 2 * N); /* kinds 0 and 1 always match */
    /* accept filters matches by id */
    assert_int_equal(axl_point_index_find(ix, pts + 5 * 7, accept_even, &calls), 0);
    assert_true(calls >= 1);
    assert_int_equal(axl_point_index_find(ix, pts + 5 * 8, accept_even, &calls), 1);
    axl_point_index_free(ix);
}

static int seen_in_index(void *ctx, const double *x)
{
    return axl_point_index_find(ctx, x, NULL, NULL);
}

static void test_sobol_dedup_many(void **st)
{
    /* 100 arms, 96 of them known: above the scan limit the model indexes them, and a
     * caller's `seen` answers the same; the 4 new arms come out, then exhaustion */
    axl_param p[2] = {{.type = AXL_PARAM_INT, .lower = 0, .upper = 9},
                      {.type = AXL_PARAM_INT, .lower = 0, .upper = 9}};
    run r = {.s = {.n_params = 2, .params = p},
             .step = {.model = AXL_GEN_SOBOL, .num_trials = -1, .seed = 2}};
    double X[200], y[100] = {0}, out[8];
    axl_model_output o;
    axl_point_index *ix;
    size_t n = 0;
    (void)st;
    axl_model_options_default(&r.o);
    assert_int_equal(axl_point_index_new(&r.s, &ix), 0);
    for (int a = 0; a < 100; a++)
        if (a != 3 && a != 42 && a != 77 && a != 98) {
            X[2 * n] = a / 10, X[2 * n + 1] = a % 10;
            assert_int_equal(axl_point_index_add(ix, X + 2 * n, (uint32_t)n), 0);
            n++;
        }
    assert_int_equal(n, 96);
    for (int way = 0; way < 2; way++) {
        axl_model_input in;
        memset(&in, 0, sizeof in);
        axl_model_state_init(&r.st, 7);
        in.space = &r.s;
        in.n_obs = way == 0 ? n : 0; /* with `seen`, no arrays are needed */
        in.X = way == 0 ? X : NULL;
        in.y = way == 0 ? y : NULL;
        in.k = 4;
        in.step = &r.step;
        in.state = &r.st;
        in.opts = &r.o;
        in.seen = way == 1 ? seen_in_index : NULL;
        in.seen_ctx = ix;
        memset(&o, 0, sizeof o);
        o.X = out;
        assert_int_equal(axl_model_generate(&in, &o, NULL), 0);
        assert_int_equal(o.n, 4);
        int got = 0;
        for (int i = 0; i < 4; i++) {
            int a = (int)(out[2 * i] * 10 + out[2 * i + 1]);
            got |= (a == 3) << 0 | (a == 42) << 1 | (a == 77) << 2 | (a == 98) << 3;
        }
        assert_int_equal(got, 15);
        /* all taken now */
        for (int i = 0; i < 4; i++)
            if (way == 1)
                assert_int_equal(axl_point_index_add(ix, out + 2 * i, 100), 0);
        if (way == 0) {
            memcpy(X + 2 * n, out, 8 * sizeof(double));
            in.n_obs = n + 4;
        }
        in.state = &o.state;
        in.k = 1;
        assert_int_equal(axl_model_generate(&in, &o, NULL), AXL_EEXHAUSTED);
    }
    axl_point_index_free(ix);
}

static void test_sobol_resume(void **st)
{
    /* 3 then 2 points with the stored state == 5 at once: a resumed campaign
     * continues the same sequence */
    axl_param p[2] = {{.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 1},
                      {.type = AXL_PARAM_FLOAT, .lower = -1, .upper = 1}};
    run r = {.s = {.n_params = 2, .params = p},
             .step = {.model = AXL_GEN_SOBOL, .num_trials = 5, .seed = 1}};
    double a[10], b[10];
    axl_model_output o;
    uint8_t buf[AXL_MODEL_STATE_BYTES];
    size_t len;
    (void)st;
    axl_model_options_default(&r.o);
    axl_model_state_init(&r.st, 2024);
    assert_int_equal(gen(&r, 0, NULL, NULL, 0, NULL, 5, a, &o), 0);
    assert_int_equal(o.n, 5);
    axl_model_state_init(&r.st, 2024);
    assert_int_equal(gen(&r, 0, NULL, NULL, 0, NULL, 3, b, &o), 0);
    assert_int_equal(axl_model_state_encode(&o.state, buf, sizeof buf, &len), 0);
    assert_int_equal(len, AXL_MODEL_STATE_BYTES);
    assert_int_equal(axl_model_state_decode(&r.st, buf, len), 0);
    assert_int_equal(gen(&r, 3, b, (double[3]){0, 1, 2}, 0, NULL, 2, b + 6, &o), 0);
    assert_memory_equal(a, b, sizeof a);
}

static void test_state_codec(void **st)
{
    axl_model_state s, t;
    uint8_t buf[AXL_MODEL_STATE_BYTES];
    size_t len;
    (void)st;
    axl_model_state_init(&s, 77);
    s.step = 1;
    s.sobol_index = 123456789012ULL;
    s.n_gen = 9;
    s.hyper_dims = 2;
    s.n_hyper = 5;
    s.hyper[0] = -1.25;
    s.hyper[4] = 3e-7;
    assert_int_equal(axl_model_state_encode(&s, buf, sizeof buf, &len), 0);
    assert_int_equal(axl_model_state_decode(&t, buf, len), 0);
    assert_memory_equal(&s, &t, sizeof s);
    assert_int_equal(axl_model_state_decode(&t, buf, len - 1), AXL_ECORRUPT);
    /* a version-1 state (no gap-log set) still decodes, and continues as version 2 */
    s.outcome_tf = AXL_OUTCOME_LOG;
    s.n_hyper_log = 5;
    s.hyper_log[1] = 0.5;
    s.n_hyper_gap = 5;
    s.hyper_gap[2] = -2.0;
    assert_int_equal(axl_model_state_encode(&s, buf, sizeof buf, &len), 0);
    assert_int_equal(axl_model_state_decode(&t, buf, len), 0);
    assert_memory_equal(&s, &t, sizeof s);
    buf[0] = 1;
    assert_int_equal(axl_model_state_decode(&t, buf, len), AXL_ECORRUPT); /* v1 is shorter */
    assert_int_equal(axl_model_state_decode(&t, buf, AXL_MODEL_STATE_BYTES_V1), 0);
    assert_int_equal(t.version, AXL_MODEL_STATE_VERSION);
    assert_int_equal(t.n_hyper_gap, 0);
    assert_true(t.n_hyper_log == 5 && t.hyper_log[1] == 0.5 && t.outcome_tf == AXL_OUTCOME_LOG);
    buf[0] = 3;
    {
        size_t at = AXL_MODEL_STATE_BYTES_V2 - 8 * AXL_MODEL_MAX_HYPER - 4;
        buf[at] = 4; /* n_hyper_gap 4 with hyper_dims 2 */
        assert_int_equal(axl_model_state_decode(&t, buf, len), AXL_ECORRUPT);
        buf[at] = 5;
    }
    assert_int_equal(axl_model_state_decode(&t, buf, len), 0);
    buf[0] = 9;
    assert_int_equal(axl_model_state_decode(&t, buf, len), AXL_EVERSION);
    buf[0] = 0;
    assert_int_equal(axl_model_state_decode(&t, buf, len), AXL_EVERSION);
    buf[0] = 3;
    buf[32] = 60; /* hyper_dims 60 with n_hyper 5 */
    assert_int_equal(axl_model_state_decode(&t, buf, len), AXL_ECORRUPT);
    assert_int_equal(axl_model_state_encode(&s, buf, 10, &len), AXL_EINVAL);

    /* version 3: the prequential scores round-trip; a version-2 state (without them)
     * decodes with none, and continues as version 3 */
    s.n_obs_prev = 17;
    s.n_preq = 5;
    s.preq[0] = -3.5;
    s.preq[1] = 2.25;
    s.preq[2] = -1e-3;
    assert_int_equal(axl_model_state_encode(&s, buf, sizeof buf, &len), 0);
    assert_int_equal(len, AXL_MODEL_STATE_BYTES);
    assert_int_equal(axl_model_state_decode(&t, buf, len), 0);
    assert_memory_equal(&s, &t, sizeof s);
    assert_int_equal(axl_model_state_decode(&t, buf, AXL_MODEL_STATE_BYTES_V2), AXL_ECORRUPT);
    buf[0] = 2;
    assert_int_equal(axl_model_state_decode(&t, buf, len), AXL_ECORRUPT); /* v2 is shorter */
    assert_int_equal(axl_model_state_decode(&t, buf, AXL_MODEL_STATE_BYTES_V2), 0);
    assert_int_equal(t.version, AXL_MODEL_STATE_VERSION);
    assert_true(t.n_obs_prev == 0 && t.n_preq == 0 && t.preq[0] == 0 && t.preq[1] == 0 &&
                t.preq[2] == 0);
    assert_true(t.n_hyper_gap == 5 && t.hyper_gap[2] == -2.0);
    buf[0] = 3;
    {
        double inf = INFINITY;
        memcpy(buf + len - 8, &inf, 8); /* a non-finite score */
        assert_int_equal(axl_model_state_decode(&t, buf, len), AXL_ECORRUPT);
    }
}

/* Integral of exp(axl__preq_logpdf) over y' in (a, b), by the trapezoid rule on a grid
 * that is log-spaced away from a (the log transform's density piles up there). */
static double preq_mass(const axl__otf *t, double a, double b, double mu, double s2, double eps)
{
    const int N = 200000;
    double sum = 0, prev_y = a, prev_p = 0;
    int i;
    for (i = 1; i <= N; i++) {
        double y = a + (b - a) * pow(1e-12, 1.0 - (double)i / N);
        double p = exp(axl__preq_logpdf(t, y, mu, s2, eps));
        sum += 0.5 * (p + prev_p) * (y - prev_y);
        prev_y = y;
        prev_p = p;
    }
    return sum;
}

static void test_preq_logpdf(void **st)
{
    const double LOG_SQRT_2PI = 0.91893853320467274178;
    axl__otf t = {.tf = AXL_OUTCOME_STANDARDIZE,
                  .hi = 5,
                  .lo = -1,
                  .dl = 1,
                  .mean = 1,
                  .sd = 2,
                  .ref_mean = 2,
                  .ref_sd = 6};
    double z, lj, v;
    (void)st;
    /* standardize, no reference part: N(z; mu, s2) / sd */
    v = axl__preq_logpdf(&t, 3.0, 0.5, 0.25, 0.0);
    assert_true(fabs(v - (-0.5 * 0.25 / 0.25 - 0.5 * log(0.25) - LOG_SQRT_2PI - log(2.0))) < 1e-12);
    /* the mixture's reference part: log((1 - eps) p + eps q) */
    {
        double p = exp(v), q = exp(-0.5 * (1.0 / 6) * (1.0 / 6) - log(6.0) - LOG_SQRT_2PI);
        v = axl__preq_logpdf(&t, 3.0, 0.5, 0.25, 0.1);
        assert_true(fabs(v - log(0.9 * p + 0.1 * q)) < 1e-12);
    }
    /* log transform: z = (log(y - lo + dl) - mean) / sd; its domain ends at lo - dl */
    t.tf = AXL_OUTCOME_LOG;
    t.dl = 1e-3;
    t.mean = -1.0;
    t.sd = 1.5;
    assert_int_equal(axl__otf_apply(&t, 2.0, &z, &lj), 0);
    assert_true(fabs(z - (log(3.001) + 1.0) / 1.5) < 1e-12);
    assert_true(fabs(lj + log(3.001) + log(1.5)) < 1e-12);
    assert_int_equal(axl__otf_apply(&t, -1.0011, &z, &lj), -1);
    assert_true(axl__preq_logpdf(&t, -1.5, 0.0, 1.0, 0.0) == -INFINITY);
    v = axl__preq_logpdf(&t, -1.5, 0.0, 1.0, 0.01); /* outside: the reference part alone */
    assert_true(fabs(v - (log(0.01) - 0.5 * (3.5 / 6) * (3.5 / 6) - log(6.0) - LOG_SQRT_2PI)) <
                1e-12);
    /* each is a density of y: it integrates to 1 (the reference part over the real
     * line, the transform's over its domain) */
    assert_true(fabs(preq_mass(&t, -1.001, 2000.0, 0.3, 0.5, 0.0) - 1.0) < 1e-4);
    t.tf = AXL_OUTCOME_GAPLOG;
    t.dl = 0.6;
    {
        /* gap-log's domain ends at hi + dl = 5.6; integrate toward -inf by mirroring */
        axl__otf m = t;
        double sum = 0, prev_y = 0, prev_p = 0;
        int i, N = 200000;
        for (i = 1; i <= N; i++) {
            double g = 5e6 * pow(1e-15, 1.0 - (double)i / N); /* gap below 5.6 */
            double p = exp(axl__preq_logpdf(&m, 5.6 - g, -0.4, 2.0, 0.0));
            sum += 0.5 * (p + prev_p) * (g - prev_y);
            prev_y = g;
            prev_p = p;
        }
        assert_true(fabs(sum - 1.0) < 1e-4);
    }
    assert_true(axl__preq_logpdf(&t, 5.7, 0.0, 1.0, 0.0) == -INFINITY);
    assert_true(isfinite(axl__preq_logpdf(&t, 5.7, 0.0, 1.0, 0.01)));
    /* and so is the mixture */
    t.tf = AXL_OUTCOME_STANDARDIZE;
    assert_true(fabs(preq_mass(&t, -200.0, 200.0, 0.3, 0.5, 0.2) - 1.0) < 1e-4);
}

static void branin_space(axl_param p[2])
{
    p[0] = (axl_param){.type = AXL_PARAM_FLOAT, .lower = -5, .upper = 10};
    p[1] = (axl_param){.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 15};
}

/* a run on Branin's box: Sobol step (seed 3), default options, a fresh state */
static void branin_run(run *r, axl_param p[2], uint64_t state_seed)
{
    memset(r, 0, sizeof *r);
    branin_space(p);
    r->s = (axl_space){.n_params = 2, .params = p};
    r->step = (axl_gen_step){.model = AXL_GEN_SOBOL, .num_trials = -1, .seed = 3};
    axl_model_options_default(&r->o);
    axl_model_state_init(&r->st, state_seed);
}

static void test_log_shift_adapt(void **st)
{
    /* the log transform's shift: at least 0.1 times the gap between the worst value
     * and the next (minimized: the two largest), else 1e-6 of the range */
    axl_model_options o;
    axl_model_input in;
    axl__otf t;
    double y[5] = {1.0, 3.0, 2.5, 2.9, 0.0}, ys[5], jac, g;
    (void)st;
    axl_model_options_default(&o);
    memset(&in, 0, sizeof in);
    in.y = y;
    in.n_obs = 5;
    axl__prep_outcomes(AXL_OUTCOME_LOG, &o, &in, 5, ys, NULL, &jac, &t);
    assert_true(fabs(t.dl - 0.1 * 0.1) < 1e-12); /* worst 3.0, next 2.9 */
    assert_true(t.lo == -3.0 && t.hi == 0.0);
    /* the worst point stays within log(11) of its neighbour after the transform */
    g = (ys[3] - ys[1]) * t.sd;
    assert_true(fabs(g - log(11.0)) < 1e-9);
    /* a near tie at the worst: the data resolve small differences there, the shift
     * stays at log_shift * range */
    y[3] = 3.0 - 1e-9;
    axl__prep_outcomes(AXL_OUTCOME_LOG, &o, &in, 5, ys, NULL, &jac, &t);
    assert_true(fabs(t.dl - 1e-6 * 3.0) < 1e-15);
    /* off: always log_shift * range */
    y[3] = 2.9;
    o.log_shift_adapt = 0;
    axl__prep_outcomes(AXL_OUTCOME_LOG, &o, &in, 5, ys, NULL, &jac, &t);
    assert_true(fabs(t.dl - 1e-6 * 3.0) < 1e-15);
    /* the other transforms do not use it */
    o.log_shift_adapt = 0.1;
    axl__prep_outcomes(AXL_OUTCOME_GAPLOG, &o, &in, 5, ys, NULL, &jac, &t);
    assert_true(fabs(t.dl - 0.1 * 3.0) < 1e-12);
}

static void test_preq_generate(void **st)
{
    /* AUTO scores each transform on the observations that arrived since the last GP
     * generation, with the GPs as they were then */
    const double LOG_SQRT_2PI = 0.91893853320467274178;
    axl_param p[2];
    run r;
    double X[2 * 14], y[14], out[2], lo = INFINITY, hi = -INFINITY, mean = 0;
    axl_model_output o;
    size_t i;
    (void)st;
    branin_run(&r, p, 5);
    r.o.preq_min = 5; /* off by default */
    assert_int_equal(gen(&r, 0, NULL, NULL, 0, NULL, 12, X, &o), 0);
    for (i = 0; i < 12; i++)
        y[i] = axl_testfn_branin(X + 2 * i);
    r.st = o.state;
    r.step.model = AXL_GEN_GP_LOGEI;
    assert_int_equal(gen(&r, 12, X, y, 0, NULL, 1, X + 24, &o), 0);
    assert_true(o.state.n_obs_prev == 12 && o.state.n_preq == 0 && o.state.preq[0] == 0);
    r.st = o.state;
    /* the same data again: nothing new to score */
    assert_int_equal(gen(&r, 12, X, y, 0, NULL, 1, out, &o), 0);
    assert_true(o.state.n_obs_prev == 12 && o.state.n_preq == 0);
    /* one new observation far worse than every earlier one (minimized: larger): it is
     * below the log transform's domain, which gives it the reference part alone */
    for (i = 0; i < 12; i++) {
        lo = fmin(lo, -y[i]);
        hi = fmax(hi, -y[i]);
        mean += -y[i];
    }
    mean /= 12;
    y[12] = -lo + 10 * (hi - lo);
    assert_int_equal(gen(&r, 13, X, y, 0, NULL, 1, out, &o), 0);
    assert_true(o.state.n_obs_prev == 13 && o.state.n_preq == 1);
    {
        double zr = (-y[12] - mean) / (hi - lo);
        double want = log(r.o.preq_eps) - 0.5 * zr * zr - log(hi - lo) - LOG_SQRT_2PI;
        assert_true(fabs(o.state.preq[1] - want) < 1e-9);
    }
    /* standardization's own density of it is tiny too (z far out), but the shared
     * reference part bounds every score from below */
    assert_true(isfinite(o.state.preq[0]) && o.state.preq[0] >= o.state.preq[1] - 1e-9);
    assert_true(isfinite(o.state.preq[2]));
    /* a second point adds to the (decayed) sums; with preq_min 2 the transform is
     * chosen by them from now on */
    {
        axl_model_state s1 = o.state;
        int q, best = 0;
        double d = r.o.preq_decay;
        r.st = o.state;
        memcpy(X + 26, out, 2 * sizeof(double));
        y[13] = axl_testfn_branin(X + 26);
        r.o.preq_min = 2;
        assert_int_equal(gen(&r, 14, X, y, 0, NULL, 1, out, &o), 0);
        assert_true(o.state.n_obs_prev == 14 && o.state.n_preq == 2);
        for (q = 0; q < 3; q++) {
            double add = o.state.preq[q] - d * s1.preq[q]; /* the new point's density */
            assert_true(isfinite(add) && add < 10.0);
            if (o.state.preq[q] > o.state.preq[best])
                best = q;
        }
        assert_int_equal(o.diag.outcome_tf, best == 0   ? AXL_OUTCOME_STANDARDIZE
                                            : best == 1 ? AXL_OUTCOME_LOG
                                                        : AXL_OUTCOME_GAPLOG);
        /* preq_min < 0: MAP + log-Jacobian only, and no scores kept */
        r.o.preq_min = -1;
        assert_int_equal(gen(&r, 14, X, y, 0, NULL, 1, out, &o), 0);
        assert_true(o.state.n_preq == 1 && o.state.preq[1] == s1.preq[1]);
        /* a decay outside (0, 1] is refused */
        r.o.preq_min = 5;
        r.o.preq_decay = 0;
        assert_int_equal(gen(&r, 14, X, y, 0, NULL, 1, out, &o), AXL_EINVAL);
    }
}

static void test_gp_generate(void **st)
{
    axl_param p[2];
    run r;
    double X[2 * 40], y[40], out[2 * 3], P[2] = {2.5, 7.5};
    axl_model_output o;
    size_t i, j, n = 10;
    (void)st;
    branin_run(&r, p, 11);
    assert_int_equal(gen(&r, 0, NULL, NULL, 0, NULL, n, X, &o), 0);
    r.st = o.state;
    for (i = 0; i < n; i++)
        y[i] = axl_testfn_branin(X + 2 * i);
    r.step.model = AXL_GEN_GP_LOGEI;
    assert_int_equal(gen(&r, n, X, y, 1, P, 3, out, &o), 0);
    assert_string_equal(o.method, "GP-LogEI");
    assert_int_equal(o.n, 3);
    assert_int_equal(o.diag.n_hyper, 5);
    assert_int_equal(o.state.hyper_dims, 2);
    assert_true(o.state.n_gen == 1 && o.diag.fit_evals > 0 && isfinite(o.diag.best_logei));
    for (i = 0; i < 3; i++) {
        assert_true(axl_space_feasible(&r.s, out + 2 * i));
        assert_false(axl_space_same_point(&r.s, out + 2 * i, P));
        for (j = 0; j < i; j++) /* the believer makes parallel candidates differ */
            assert_true(fabs(out[2 * i] - out[2 * j]) + fabs(out[2 * i + 1] - out[2 * j + 1]) >
                        1e-3);
    }
    /* sequential steps from the first 5 Sobol points find a minimum */
    {
        double best0 = 1e9, best1 = 1e9;
        n = 5;
        for (i = 0; i < n; i++)
            best0 = fmin(best0, y[i]);
        for (j = 0; j < 20; j++) {
            r.st = o.state;
            assert_int_equal(gen(&r, n, X, y, 0, NULL, 1, X + 2 * n, &o), 0);
            y[n] = axl_testfn_branin(X + 2 * n);
            n++;
        }
        for (i = 5; i < n; i++)
            best1 = fmin(best1, y[i]);
        /* the GP's own points (not the Sobol ones) reach a minimum's basin */
        assert_true(best1 - axl_testfn_branin_min < 0.5);
        assert_true(fmin(best0, best1) - axl_testfn_branin_min < 0.005);
    }
}

static void test_outcome_transforms(void **st)
{
    /* each transform alone works and stores its own hyper-parameters; AUTO fits all
     * three and keeps every set for the next generation's warm starts */
    axl_param p[2];
    run r;
    double X[2 * 12], y[12], out[2];
    axl_model_output o;
    size_t i;
    int tf;
    (void)st;
    branin_run(&r, p, 5);
    assert_int_equal(gen(&r, 0, NULL, NULL, 0, NULL, 12, X, &o), 0);
    for (i = 0; i < 12; i++)
        y[i] = axl_testfn_branin(X + 2 * i);
    r.st = o.state;
    r.step.model = AXL_GEN_GP_LOGEI;
    for (tf = 0; tf <= 3; tf++) {
        axl_model_state s0 = r.st;
        r.o.outcome_transform = (axl_outcome_tf)tf;
        assert_int_equal(gen(&r, 12, X, y, 0, NULL, 1, out, &o), 0);
        assert_true(axl_space_feasible(&r.s, out));
        assert_true(isfinite(o.diag.best_logei));
        if (tf == AXL_OUTCOME_AUTO) {
            assert_true(o.state.n_hyper == 5 && o.state.n_hyper_log == 5 &&
                        o.state.n_hyper_gap == 5);
            assert_true(o.diag.outcome_tf == 0 || o.diag.outcome_tf == 1 || o.diag.outcome_tf == 3);
        } else {
            assert_int_equal(o.diag.outcome_tf, tf);
            assert_int_equal(tf == 0   ? o.state.n_hyper
                             : tf == 1 ? o.state.n_hyper_log
                                       : o.state.n_hyper_gap,
                             5);
        }
        r.st = s0;
    }
    /* on Branin (a broad basin, corners 300 above it) AUTO settles on a transform
     * that is not the log of the height above the worst point */
    r.o.outcome_transform = AXL_OUTCOME_AUTO;
    assert_int_equal(gen(&r, 12, X, y, 0, NULL, 1, out, &o), 0);
    assert_int_not_equal(o.diag.outcome_tf, AXL_OUTCOME_LOG);
    r.o.outcome_transform = (axl_outcome_tf)7;
    assert_int_equal(gen(&r, 12, X, y, 0, NULL, 1, out, &o), AXL_EINVAL);
    /* above auto_full_max_n without previous fits: standardization is fitted and its
     * hyper-parameters stand in for the others; the next generation scores all three
     * at their stored sets and refits only the winner */
    {
        double *Xb = malloc(2 * 61 * sizeof(double)), *yb = malloc(61 * sizeof(double));
        assert_non_null(Xb);
        assert_non_null(yb);
        r.o.outcome_transform = AXL_OUTCOME_AUTO;
        r.o.auto_full_max_n = 20;
        assert_int_equal(axl_sobol_fill(2, 8, 0, 61, Xb), 0);
        for (i = 0; i < 61; i++) {
            Xb[2 * i] = -5 + 15 * Xb[2 * i];
            Xb[2 * i + 1] = 15 * Xb[2 * i + 1];
            yb[i] = axl_testfn_branin(Xb + 2 * i);
        }
        axl_model_state_init(&r.st, 5);
        assert_int_equal(gen(&r, 60, Xb, yb, 0, NULL, 1, out, &o), 0);
        assert_true(o.state.n_hyper == 5 && o.state.n_hyper_log == 5 && o.state.n_hyper_gap == 5);
        assert_int_equal(o.state.hyper_dims, 2);
        r.st = o.state;
        assert_int_equal(gen(&r, 61, Xb, yb, 0, NULL, 1, out, &o), 0);
        assert_true(axl_space_feasible(&r.s, out));
        assert_int_equal(o.diag.fit_starts, 1); /* only the winner is optimized */
        assert_true(o.diag.outcome_tf == 0 || o.diag.outcome_tf == 3);
        free(Xb);
        free(yb);
    }
    /* n >= 100: between refits (every n/50-th generation) the stored transform and
     * its hyper-parameters are used as they are, without optimization */
    {
        enum { NB = 121 };
        double *Xb = malloc(2 * NB * sizeof(double)), *yb = malloc(NB * sizeof(double));
        assert_non_null(Xb);
        assert_non_null(yb);
        assert_int_equal(axl_sobol_fill(2, 8, 0, NB, Xb), 0);
        for (i = 0; i < NB; i++) {
            Xb[2 * i] = -5 + 15 * Xb[2 * i];
            Xb[2 * i + 1] = 15 * Xb[2 * i + 1];
            yb[i] = axl_testfn_branin(Xb + 2 * i);
        }
        axl_model_options_default(&r.o);
        axl_model_state_init(&r.st, 5);
        assert_int_equal(gen(&r, NB - 2, Xb, yb, 0, NULL, 1, out, &o), 0); /* n_gen 0: fit */
        assert_true(o.diag.fit_evals > 0);
        r.st = o.state; /* n_gen 1, every = 2: reuse */
        assert_int_equal(r.st.n_gen, 1);
        assert_int_equal(gen(&r, NB - 1, Xb, yb, 0, NULL, 1, out, &o), 0);
        assert_int_equal(o.diag.fit_evals, 0);
        assert_true(isnan(o.diag.fit_objective));
        assert_int_equal(o.diag.outcome_tf, (int)r.st.outcome_tf);
        assert_memory_equal(o.state.hyper, r.st.hyper, sizeof r.st.hyper);
        assert_memory_equal(o.state.hyper_log, r.st.hyper_log, sizeof r.st.hyper_log);
        assert_true(axl_space_feasible(&r.s, out));
        r.st = o.state; /* n_gen 2: refit */
        assert_int_equal(gen(&r, NB, Xb, yb, 0, NULL, 1, out, &o), 0);
        assert_true(o.diag.fit_evals > 0);
        assert_true(isfinite(o.diag.fit_objective));
        free(Xb);
        free(yb);
    }
}

static void test_gp_generate_mixed_constrained(void **st)
{
    /* int, ordinal, one-hot and a linear constraint x0 + x1 <= 1.2 */
    axl_param p[5] = {
        {.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 1},
        {.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 1},
        {.type = AXL_PARAM_INT, .lower = 1, .upper = 20, .log_scale = 1},
        {.type = AXL_PARAM_CHOICE, .n_choices = 3, .ordered = 0},
        {.type = AXL_PARAM_FIXED, .value = 3},
    };
    double w[5] = {1, 1, 0, 0, 0};
    axl_linear_constraint lc = {.w = w, .bound = 1.2};
    run r;
    double X[5 * 30], y[30], out[5 * 2];
    axl_model_output o;
    size_t i, j, n = 8;
    (void)st;
    memset(&r, 0, sizeof r);
    r.s = (axl_space){.n_params = 5, .params = p, .n_constraints = 1, .constraints = &lc};
    assert_int_equal(axl_space_check(&r.s, NULL), 0);
    r.step = (axl_gen_step){.model = AXL_GEN_SOBOL, .num_trials = -1, .seed = 3};
    axl_model_options_default(&r.o);
    r.o.n_raw = 256;
    axl_model_state_init(&r.st, 5);
    assert_int_equal(gen(&r, 0, NULL, NULL, 0, NULL, n, X, &o), 0);
    r.st = o.state;
    r.step.model = AXL_GEN_GP_LOGEI;
    for (j = 0; j < 6; j++) {
        for (i = 0; i < n; i++) {
            const double *x = X + 5 * i;
            y[i] = (x[0] - 0.7) * (x[0] - 0.7) + (x[1] - 0.6) * (x[1] - 0.6) +
                   0.01 * fabs(x[2] - 7) + (x[3] == 1 ? 0 : 0.3);
        }
        assert_int_equal(gen(&r, n, X, y, 0, NULL, 2, out, &o), 0);
        r.st = o.state;
        for (i = 0; i < o.n; i++) {
            const double *x = out + 5 * i;
            assert_true(axl_space_feasible(&r.s, x));
            assert_true(x[0] + x[1] <= 1.2 + 1e-9);
            assert_true(x[2] == round(x[2]) && x[3] == round(x[3]) && x[4] == 3);
        }
        memcpy(X + 5 * n, out, o.n * 5 * sizeof(double));
        n += o.n;
    }
}

/* ------------------------------------------------------ strategy rules */

static void test_strategy_rules(void **st)
{
    axl_param p[3] = {{.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 1},
                      {.type = AXL_PARAM_FLOAT, .lower = 0, .upper = 1},
                      {.type = AXL_PARAM_FIXED, .value = 1}};
    axl_space s = {.n_params = 3, .params = p};
    axl_gen_strategy gs;
    axl_gs_counts c[2];
    axl_model_state ms;
    axl_gs_verdict v;
    size_t k;
    (void)st;
    axl_model_state_init(&ms, 1);
    assert_int_equal(axl_gs_auto(&s, 7, &gs), 0);
    assert_int_equal(gs.n_steps, 2);
    assert_int_equal(gs.steps[0].num_trials, 5); /* max(5, 2*2) */
    assert_int_equal(gs.steps[0].min_trials_observed, 3);
    assert_int_equal(gs.steps[1].model, AXL_GEN_GP_LOGEI);
    assert_int_equal(gs.steps[1].max_parallelism, 3);
    memset(c, 0, sizeof c);
    /* fresh: Sobol, at most the 5 trials of the step */
    assert_int_equal(axl_gs_decide(&gs, c, 8, &ms, &v, &k), 0);
    assert_int_equal(v, AXL_GS_READY);
    assert_int_equal(k, 5);
    assert_int_equal(ms.step, 0);
    /* 4 generated (a failed one is not counted by the engine): 1 more */
    c[0].generated = 4;
    assert_int_equal(axl_gs_decide(&gs, c, 8, &ms, &v, &k), 0);
    assert_int_equal(k, 1);
    /* all 5 generated, 2 observed: needs more data */
    c[0].generated = 5;
    c[0].completed = 2;
    c[0].running = 3;
    assert_int_equal(axl_gs_decide(&gs, c, 1, &ms, &v, &k), 0);
    assert_int_equal(v, AXL_GS_NEEDS_DATA);
    assert_int_equal(ms.step, 0);
    /* without enforce_num_trials, Ax keeps generating from the step */
    gs.steps[0].enforce_num_trials = 0;
    assert_int_equal(axl_gs_decide(&gs, c, 2, &ms, &v, &k), 0);
    assert_int_equal(v, AXL_GS_READY);
    assert_int_equal(k, 2);
    assert_int_equal(ms.step, 0);
    gs.steps[0].enforce_num_trials = 1;
    /* 3 observed: the GP step, limited by max_parallelism 3 */
    c[0].completed = 3;
    assert_int_equal(axl_gs_decide(&gs, c, 5, &ms, &v, &k), 0);
    assert_int_equal(v, AXL_GS_READY);
    assert_int_equal(ms.step, 1);
    assert_int_equal(k, 3);
    c[1].generated = 2;
    c[1].running = 2;
    assert_int_equal(axl_gs_decide(&gs, c, 5, &ms, &v, &k), 0);
    assert_int_equal(k, 1);
    c[1].running = 3;
    assert_int_equal(axl_gs_decide(&gs, c, 1, &ms, &v, &k), 0);
    assert_int_equal(v, AXL_GS_MAX_PARALLELISM);
    assert_string_equal(axl_gs_verdict_name(v), "max parallelism reached");
    /* a finite last step is exhausted once its trials exist */
    gs.steps[1].num_trials = 4;
    c[1].generated = 4;
    c[1].running = 0;
    assert_int_equal(axl_gs_decide(&gs, c, 1, &ms, &v, &k), 0);
    assert_int_equal(v, AXL_GS_EXHAUSTED);
    assert_int_equal(k, 0);
    /* nonsense is an error, not a verdict */
    gs.steps[0].num_trials = -1;
    assert_int_equal(axl_gs_check(&gs, NULL), AXL_EINVAL);
    assert_int_equal(axl_gs_decide(&gs, c, 1, &ms, &v, &k), AXL_EINVAL);
}

static void test_testfunctions(void **st)
{
    double b1[2] = {-M_PI, 12.275}, b2[2] = {M_PI, 2.275}, b3[2] = {9.42478, 2.475};
    (void)st;
    assert_true(fabs(axl_testfn_branin(b1) - axl_testfn_branin_min) < 1e-9);
    assert_true(fabs(axl_testfn_branin(b2) - axl_testfn_branin_min) < 1e-9);
    assert_true(fabs(axl_testfn_branin(b3) - axl_testfn_branin_min) < 1e-6);
    assert_true(fabs(axl_testfn_hartmann6(axl_testfn_hartmann6_argmin) - axl_testfn_hartmann6_min) <
                1e-7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_nonpos),
        cmocka_unit_test(test_kernel_gradient),
        cmocka_unit_test(test_map_gradient),
        cmocka_unit_test(test_logei_h),
        cmocka_unit_test(test_logei_gradient_and_value),
        cmocka_unit_test(test_gp_closed_form),
        cmocka_unit_test(test_gp_fit_recovers),
        cmocka_unit_test(test_gp_fit_screened),
        cmocka_unit_test(test_logei_bound_large),
        cmocka_unit_test(test_gp_duplicates),
        cmocka_unit_test(test_sobol_reproducible),
        cmocka_unit_test(test_transforms),
        cmocka_unit_test(test_sobol_generate_dedup),
        cmocka_unit_test(test_point_index),
        cmocka_unit_test(test_sobol_dedup_many),
        cmocka_unit_test(test_sobol_resume),
        cmocka_unit_test(test_state_codec),
        cmocka_unit_test(test_preq_logpdf),
        cmocka_unit_test(test_gp_generate),
        cmocka_unit_test(test_outcome_transforms),
        cmocka_unit_test(test_preq_generate),
        cmocka_unit_test(test_log_shift_adapt),
        cmocka_unit_test(test_gp_generate_mixed_constrained),
        cmocka_unit_test(test_strategy_rules),
        cmocka_unit_test(test_testfunctions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
