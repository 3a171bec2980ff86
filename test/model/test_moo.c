/* test_moo.c - hypervolume, box decomposition, LogEHVI, probability of feasibility and
 * the multi-outcome generator (engine/model/axl_moo.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/model/moo_acq.h"

static double urand(uint64_t *s)
{
    return axl__unif(s);
}

/* Random front-ish points: on a concave/convex surface plus noise, m coordinates. */
static void random_points(uint64_t *s, size_t n, size_t m, double *Y)
{
    size_t i, j;
    for (i = 0; i < n; i++) {
        double norm = 0;
        for (j = 0; j < m; j++) {
            Y[i * m + j] = urand(s);
            norm += Y[i * m + j] * Y[i * m + j];
        }
        norm = sqrt(norm);
        for (j = 0; j < m; j++)
            Y[i * m + j] = Y[i * m + j] / norm * (0.8 + 0.2 * urand(s));
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Brute force: the grid of every distinct coordinate; a cell counts when some point
 * dominates its upper corner. Exact. */
static double brute_hv(size_t n, size_t m, const double *Y, const double *ref)
{
    double *g[3];
    size_t ng[3], i, j, idx[3] = {0, 0, 0};
    double hv = 0;
    for (j = 0; j < m; j++) {
        g[j] = malloc((n + 1) * sizeof(double));
        ng[j] = 0;
        g[j][ng[j]++] = ref[j];
        for (i = 0; i < n; i++)
            if (Y[i * m + j] > ref[j])
                g[j][ng[j]++] = Y[i * m + j];
        qsort(g[j], ng[j], sizeof(double), cmp_d);
    }
    for (;;) {
        int ok = 1;
        for (j = 0; j < m; j++)
            ok &= idx[j] + 1 < ng[j];
        if (ok) {
            double vol = 1, up[3];
            int dom = 0;
            for (j = 0; j < m; j++) {
                up[j] = g[j][idx[j] + 1];
                vol *= g[j][idx[j] + 1] - g[j][idx[j]];
            }
            for (i = 0; i < n && !dom; i++) {
                int d = 1;
                for (j = 0; j < m; j++)
                    d &= Y[i * m + j] >= up[j];
                dom = d;
            }
            if (dom)
                hv += vol;
        }
        for (j = 0; j < m; j++) {
            if (++idx[j] + 1 < ng[j])
                break;
            idx[j] = 0;
        }
        if (j == m)
            break;
    }
    for (j = 0; j < m; j++)
        free(g[j]);
    return hv;
}

static double box_hvi(size_t nb, size_t m, const double *lo, const double *hi, const double *y)
{
    size_t k, j;
    double s = 0;
    for (k = 0; k < nb; k++) {
        double p = 1;
        for (j = 0; j < m; j++) {
            double w = fmin(y[j], hi[k * m + j]) - lo[k * m + j];
            p *= w > 0 ? w : 0;
        }
        s += p;
    }
    return s;
}

static void test_hv_brute(void **st)
{
    uint64_t s = 12345;
    size_t m, rep;
    double ref[3] = {0, 0, 0};
    (void)st;
    for (m = 2; m <= 3; m++)
        for (rep = 0; rep < 30; rep++) {
            size_t n = 1 + rep % 25;
            double Y[3 * 40];
            random_points(&s, n, m, Y);
            if (rep % 5 == 0) /* duplicates and points below the reference */
                memcpy(Y, Y + (n - 1) * m, m * sizeof(double));
            if (rep % 7 == 0)
                Y[0] = -0.5;
            assert_true(fabs(axl_hypervolume(n, m, Y, ref) - brute_hv(n, m, Y, ref)) < 1e-12);
        }
    /* closed form: one point */
    {
        double y[3] = {2, 3, 4}, r[3] = {1, 1, 1};
        assert_true(fabs(axl_hypervolume(1, 3, y, r) - 6.0) < 1e-15);
        assert_true(fabs(axl_hypervolume(1, 2, y, r) - 2.0) < 1e-15);
        assert_true(axl_hypervolume(0, 2, y, r) == 0.0);
    }
}

static void test_pareto_mask(void **st)
{
    double Y[] = {1, 2, 2, 1, 1, 1, 2, 1, 0.5, 3, NAN, 5};
    unsigned char mask[6];
    (void)st;
    assert_int_equal(axl_pareto_mask(6, 2, Y, mask), 3);
    assert_int_equal(mask[0], 1);
    assert_int_equal(mask[1], 1);
    assert_int_equal(mask[2], 0); /* dominated */
    assert_int_equal(mask[3], 0); /* duplicate of row 1 */
    assert_int_equal(mask[4], 1);
    assert_int_equal(mask[5], 0); /* NaN */
}

/* HVI through the boxes = HV(P + y) - HV(P) for random y; the boxes are disjoint. */
static void test_box_decomp(void **st)
{
    uint64_t s = 777;
    size_t m, rep, t;
    double ref[3] = {0.05, 0.05, 0.05};
    (void)st;
    for (m = 2; m <= 3; m++)
        for (rep = 0; rep < 20; rep++) {
            size_t n = 1 + rep * 2, nb;
            double Y[3 * 41], *lo, *hi, hv0;
            random_points(&s, n, m, Y);
            assert_int_equal(axl_box_decomp(n, m, Y, ref, &nb, &lo, &hi), 0);
            assert_true(nb >= 1);
            hv0 = axl_hypervolume(n, m, Y, ref);
            for (t = 0; t < 20; t++) {
                size_t j;
                double *y = Y + n * m;
                for (j = 0; j < m; j++)
                    y[j] = 1.2 * urand(&s);
                assert_true(fabs(box_hvi(nb, m, lo, hi, y) -
                                 (axl_hypervolume(n + 1, m, Y, ref) - hv0)) < 1e-12);
            }
            free(lo);
            free(hi);
        }
    assert_int_equal(
        axl_box_decomp(1, 5, ref, ref, &(size_t){0}, &(double *){NULL}, &(double *){NULL}),
        AXL_EINVAL);
}

static void test_infer_ref(void **st)
{
    double Y[] = {1, 4, 3, 2, 2, 1}, ref[2], one[] = {2, 0}, r1[2];
    (void)st;
    axl_infer_ref_point(3, 2, Y, ref);
    /* front (1,4),(3,2): nadir (1,2), ideal (3,4) */
    assert_true(fabs(ref[0] - 0.8) < 1e-15 && fabs(ref[1] - 1.8) < 1e-15);
    axl_infer_ref_point(1, 2, one, r1);
    assert_true(fabs(r1[0] - 1.8) < 1e-15 && fabs(r1[1] + 0.1) < 1e-15);
}

/* EHVI against a Monte-Carlo estimate (2 and 3 objectives). */
static void test_ehvi_mc(void **st)
{
    uint64_t s = 99;
    size_t m;
    (void)st;
    for (m = 2; m <= 3; m++) {
        double Y[3 * 12], ref[3] = {0, 0, 0}, mu[3], sd[3], *lo, *hi, sum = 0, sum2 = 0, est, se,
                          ehvi;
        size_t nb, i, j, N = 200000;
        random_points(&s, 12, m, Y);
        assert_int_equal(axl_box_decomp(12, m, Y, ref, &nb, &lo, &hi), 0);
        for (j = 0; j < m; j++) {
            mu[j] = 0.7 + 0.05 * (double)j;
            sd[j] = 0.15;
        }
        for (i = 0; i < N; i++) {
            double y[3], v;
            for (j = 0; j < m; j++)
                y[j] = mu[j] + sd[j] * axl__normal(&s);
            v = box_hvi(nb, m, lo, hi, y);
            sum += v;
            sum2 += v * v;
        }
        est = sum / (double)N;
        se = sqrt((sum2 / (double)N - est * est) / (double)N);
        ehvi = exp(axl_log_ehvi(nb, m, lo, hi, mu, sd, NULL, NULL));
        assert_true(fabs(ehvi - est) < 4 * se + 1e-12);
        assert_true(est > 0);
        free(lo);
        free(hi);
    }
}

/* Far below the front EHVI underflows; its log stays finite and decreasing. */
static void test_ehvi_tail(void **st)
{
    double Y[] = {1, 0.2, 0.2, 1}, ref[2] = {0, 0}, *lo, *hi, mu[2], sd[2] = {0.01, 0.01};
    size_t nb;
    double prev = INFINITY, v;
    int i;
    (void)st;
    assert_int_equal(axl_box_decomp(2, 2, Y, ref, &nb, &lo, &hi), 0);
    for (i = 0; i < 6; i++) {
        mu[0] = mu[1] = 0.3 - 0.5 * i;
        v = axl_log_ehvi(nb, 2, lo, hi, mu, sd, NULL, NULL);
        assert_true(isfinite(v));
        assert_true(v < prev);
        prev = v;
    }
    free(lo);
    free(hi);
}

static void test_ehvi_pof_gradients(void **st)
{
    uint64_t s = 5;
    size_t m = 3, nb, j;
    double Y[3 * 8], ref[3] = {0, 0, 0}, *lo, *hi, mu[3] = {0.6, 0.5, 0.7}, sd[3] = {0.2, 0.1, 0.3};
    double dmu[3], dsd[3], h = 1e-6;
    (void)st;
    random_points(&s, 8, m, Y);
    assert_int_equal(axl_box_decomp(8, m, Y, ref, &nb, &lo, &hi), 0);
    axl_log_ehvi(nb, m, lo, hi, mu, sd, dmu, dsd);
    for (j = 0; j < m; j++) {
        double a[3], b[3], fd;
        memcpy(a, mu, sizeof a);
        memcpy(b, mu, sizeof b);
        a[j] += h;
        b[j] -= h;
        fd = (axl_log_ehvi(nb, m, lo, hi, a, sd, NULL, NULL) -
              axl_log_ehvi(nb, m, lo, hi, b, sd, NULL, NULL)) /
             (2 * h);
        assert_true(fabs(fd - dmu[j]) < 1e-5 * (1 + fabs(fd)));
        memcpy(a, sd, sizeof a);
        memcpy(b, sd, sizeof b);
        a[j] += h;
        b[j] -= h;
        fd = (axl_log_ehvi(nb, m, lo, hi, mu, a, NULL, NULL) -
              axl_log_ehvi(nb, m, lo, hi, mu, b, NULL, NULL)) /
             (2 * h);
        assert_true(fabs(fd - dsd[j]) < 1e-5 * (1 + fabs(fd)));
    }
    free(lo);
    free(hi);
    /* log PoF: closed form and derivatives, including the deep tail */
    {
        double mus[] = {0.0, 1.0, -2.0, 12.0, 40.0}, gm, gs;
        for (j = 0; j < 5; j++) {
            double v = axl_log_pof(0.5, mus[j], 0.7, &gm, &gs), z = (0.5 - mus[j]) / 0.7;
            double fdm = (axl_log_pof(0.5, mus[j] + h, 0.7, NULL, NULL) -
                          axl_log_pof(0.5, mus[j] - h, 0.7, NULL, NULL)) /
                         (2 * h);
            double fds = (axl_log_pof(0.5, mus[j], 0.7 + h, NULL, NULL) -
                          axl_log_pof(0.5, mus[j], 0.7 - h, NULL, NULL)) /
                         (2 * h);
            assert_true(isfinite(v));
            if (z > -30)
                assert_true(fabs(v - log(0.5 * erfc(-z / sqrt(2.0)))) < 1e-9 * (1 + fabs(v)));
            assert_true(fabs(fdm - gm) < 1e-5 * (1 + fabs(gm)));
            assert_true(fabs(fds - gs) < 1e-5 * (1 + fabs(gs)));
        }
    }
}

/* Posteriors on a small data set; the acquisition against its closed form and its
 * input gradient against finite differences, in every mode. */
static void test_acq_closed_form_and_gradient(void **st)
{
    uint64_t s = 31;
    size_t n = 15, D = 3, i, j, k;
    double X[15 * 3], y0[15], y1[15], y2[15], th[6] = {-1.0, -0.8, -1.2, 0.2, log(1e-4), 0.1};
    axl__post *post[3];
    int is_obj[3] = {1, 1, 0};
    double bound[3] = {0, 0, 0.3};
    (void)st;
    for (i = 0; i < n; i++) {
        for (k = 0; k < D; k++)
            X[i * D + k] = urand(&s);
        y0[i] = sin(3 * X[i * D]) + X[i * D + 1];
        y1[i] = cos(2 * X[i * D + 1]) - X[i * D + 2];
        y2[i] = X[i * D] + X[i * D + 2] - 1;
    }
    assert_int_equal(axl__post_new(n, D, X, y0, th, 0, &post[0]), 0);
    assert_int_equal(axl__post_new(n, D, X, y1, th, 0, &post[1]), 0);
    assert_int_equal(axl__post_new(n, D, X, y2, th, 0, &post[2]), 0);
    {
        /* posterior mean interpolates nearly noise-free data */
        double mu, var;
        axl__post_predict(post[0], 1, X, &mu, &var, NULL, NULL);
        assert_true(fabs(mu - y0[0]) < 1e-2 && var < 1e-2);
    }
    for (int mode = 0; mode < 3; mode++) {
        axl__macq a;
        double F[4] = {1.0, 0.5, 0.4, 1.2}, ref[2] = {-1, -1}, *lo = NULL, *hi = NULL;
        double ws[64], u[3], v, g[3];
        memset(&a, 0, sizeof(a));
        a.mode = (axl__macq_mode)mode;
        a.D = D;
        a.post = post;
        a.bound = bound;
        if (mode == AXL__MACQ_EI) {
            static const int io[3] = {1, 0, 0};
            a.n_out = 2; /* objective 0, constraint = outcome 2 moved to slot 1 */
            axl__post *p2[2] = {post[0], post[2]};
            double b2[2] = {0, 0.3};
            a.post = p2;
            a.is_obj = io;
            a.bound = b2;
            a.n_obj = 1;
            a.best_f = 0.8;
            for (size_t t = 0; t < 5; t++) {
                double mu0, v0, mu2, v2, ei, pof, z;
                for (k = 0; k < D; k++)
                    u[k] = urand(&s);
                assert_int_equal(axl__macq_eval(&a, 1, u, &v, g, ws), 0);
                axl__post_predict(post[0], 1, u, &mu0, &v0, NULL, NULL);
                axl__post_predict(post[2], 1, u, &mu2, &v2, NULL, NULL);
                z = (mu0 - 0.8) / sqrt(v0);
                ei = sqrt(v0) *
                     (exp(-0.5 * z * z) / sqrt(2 * M_PI) + z * 0.5 * erfc(-z / sqrt(2.0)));
                pof = 0.5 * erfc(-((0.3 - mu2) / sqrt(v2)) / sqrt(2.0));
                assert_true(fabs(v - log(ei * pof)) < 1e-8 * (1 + fabs(v)));
            }
            continue;
        }
        a.n_out = 3;
        a.is_obj = is_obj;
        a.n_obj = 2;
        if (mode == AXL__MACQ_EHVI) {
            assert_int_equal(axl_box_decomp(2, 2, F, ref, &a.nb, &lo, &hi), 0);
            a.lo = lo;
            a.hi = hi;
        }
        for (size_t t = 0; t < 5; t++) {
            for (k = 0; k < D; k++)
                u[k] = 0.1 + 0.8 * urand(&s);
            assert_int_equal(axl__macq_eval(&a, 1, u, &v, g, ws), 0);
            assert_true(isfinite(v));
            for (j = 0; j < D; j++) {
                double up[3], dn[3], fu, fdn, h = 1e-6;
                memcpy(up, u, sizeof up);
                memcpy(dn, u, sizeof dn);
                up[j] += h;
                dn[j] -= h;
                axl__macq_eval(&a, 1, up, &fu, NULL, ws);
                axl__macq_eval(&a, 1, dn, &fdn, NULL, ws);
                assert_true(fabs((fu - fdn) / (2 * h) - g[j]) < 1e-4 * (1 + fabs(g[j])));
            }
        }
        free(lo);
        free(hi);
    }
    for (j = 0; j < 3; j++)
        axl__post_free(post[j]);
}

/* A 2-objective loop on BraninCurrin: the GP points add hypervolume the Sobol points
 * do not have, and their own front beats the Sobol front. */
static void test_generate_branincurrin(void **st)
{
    axl_param p[2] = {{AXL_PARAM_FLOAT, 0, 1, 0, 0, 0, 0}, {AXL_PARAM_FLOAT, 0, 1, 0, 0, 0, 0}};
    axl_space sp = {2, p, 0, NULL};
    axl_outcome oc[2] = {{AXL_OUTCOME_OBJECTIVE, 1, 18.0, 0, 0},
                         {AXL_OUTCOME_OBJECTIVE, 1, 6.0, 0, 0}};
    axl_gen_step sob = {AXL_GEN_SOBOL, 5, 0, -1, 1, 0}, gp = {AXL_GEN_GP_LOGEI, -1, 0, -1, 0, 0};
    axl_model_state ms;
    axl_moo_state mst;
    double X[2 * 20], Y[2 * 20], ref[2] = {-18, -6}, Ym[2 * 20], hv_sobol, hv_all;
    size_t n = 0, i;
    (void)st;
    memset(&mst, 0, sizeof(mst));
    axl_model_state_init(&ms, 7);
    while (n < 20) {
        axl_moo_input in;
        axl_moo_output out;
        axl_errbuf eb;
        memset(&in, 0, sizeof(in));
        memset(&out, 0, sizeof(out));
        in.space = &sp;
        in.n_outcomes = 2;
        in.outcomes = oc;
        in.n_obs = n;
        in.X = X;
        in.Y = Y;
        in.k = n == 0 ? 5 : 1;
        in.step = n == 0 ? &sob : &gp;
        in.state = &ms;
        in.mstate = &mst;
        out.X = X + n * 2;
        assert_int_equal(axl_moo_generate(&in, &out, &eb), 0);
        assert_string_equal(out.method, n == 0 ? "Sobol" : "GP-LogEHVI");
        if (n > 0) {
            assert_false(out.ref_inferred);
            assert_true(out.ref[0] == 18.0 && out.ref[1] == 6.0);
        }
        for (i = n; i < n + out.n; i++)
            axl_testfn_branincurrin(X + i * 2, Y + i * 2);
        n += out.n;
        ms = out.state;
        mst = out.mstate;
    }
    for (i = 0; i < 2 * n; i++)
        Ym[i] = -Y[i];
    hv_sobol = axl_hypervolume(5, 2, Ym, ref);
    hv_all = axl_hypervolume(n, 2, Ym, ref);
    assert_true(hv_all > hv_sobol + 1.0);
    assert_true(axl_hypervolume(n - 5, 2, Ym + 10, ref) > hv_sobol);
}

/* Gramacy's toy problem: nothing feasible at first -> PoF; later the candidates are
 * feasible and the best feasible value improves. */
static void test_generate_constrained(void **st)
{
    axl_param p[2] = {{AXL_PARAM_FLOAT, 0, 1, 0, 0, 0, 0}, {AXL_PARAM_FLOAT, 0, 1, 0, 0, 0, 0}};
    axl_space sp = {2, p, 0, NULL};
    axl_outcome oc[3] = {{AXL_OUTCOME_OBJECTIVE, 1, NAN, 0, 0},
                         {AXL_OUTCOME_CONSTRAINT, 0, NAN, 0, 0.0},
                         {AXL_OUTCOME_CONSTRAINT, 0, NAN, 1, -1.5}};
    axl_gen_step gp = {AXL_GEN_GP_LOGEI, -1, 0, -1, 0, 0};
    axl_model_state ms;
    double X[2 * 30] = {0.1, 0.1, 0.2, 0.05, 0.05, 0.2}, Y[3 * 30];
    size_t n = 3, i, nfeas = 0;
    double best = INFINITY;
    (void)st;
    axl_model_state_init(&ms, 3);
    for (;;) {
        for (i = n - (n == 3 ? 3 : 1); i < n; i++) {
            double x1 = X[2 * i], x2 = X[2 * i + 1];
            Y[3 * i] = x1 + x2;
            Y[3 * i + 1] = 1.5 - x1 - 2 * x2 - 0.5 * sin(2 * M_PI * (x1 * x1 - 2 * x2));
            Y[3 * i + 2] = -(x1 * x1 + x2 * x2); /* >= -1.5 */
        }
        if (n == 30)
            break;
        {
            axl_moo_input in;
            axl_moo_output out;
            axl_errbuf eb;
            int feas_before = 0;
            for (i = 0; i < n; i++)
                feas_before |= Y[3 * i + 1] <= 0 && Y[3 * i + 2] >= -1.5;
            memset(&in, 0, sizeof(in));
            memset(&out, 0, sizeof(out));
            in.space = &sp;
            in.n_outcomes = 3;
            in.outcomes = oc;
            in.n_obs = n;
            in.X = X;
            in.Y = Y;
            in.k = 1;
            in.step = &gp;
            in.state = &ms;
            out.X = X + 2 * n;
            assert_int_equal(axl_moo_generate(&in, &out, &eb), 0);
            assert_string_equal(out.method, feas_before ? "GP-LogCEI" : "GP-LogPoF");
            ms = out.state;
            n++;
        }
    }
    for (i = 3; i < n; i++)
        if (Y[3 * i + 1] <= 0 && Y[3 * i + 2] >= -1.5) {
            nfeas++;
            best = fmin(best, Y[3 * i]);
        }
    assert_true(nfeas >= 10);
    assert_true(best < 0.7); /* optimum 0.5998 */
}

static void test_generate_batch_and_errors(void **st)
{
    axl_param p[2] = {{AXL_PARAM_FLOAT, 0, 1, 0, 0, 0, 0}, {AXL_PARAM_FLOAT, 0, 1, 0, 0, 0, 0}};
    axl_space sp = {2, p, 0, NULL};
    axl_outcome oc[2] = {{AXL_OUTCOME_OBJECTIVE, 1, NAN, 0, 0},
                         {AXL_OUTCOME_OBJECTIVE, 1, NAN, 0, 0}};
    axl_gen_step gp = {AXL_GEN_GP_LOGEI, -1, 0, -1, 0, 0};
    axl_model_state ms;
    double X[2 * 16], Y[2 * 16], P[2] = {0.5, 0.5};
    axl_moo_input in;
    axl_moo_output out;
    axl_errbuf eb;
    size_t i, a, b;
    (void)st;
    axl_model_state_init(&ms, 1);
    axl_sobol_fill(2, 11, 0, 10, X);
    for (i = 0; i < 10; i++)
        axl_testfn_dtlz2(2, X + 2 * i, Y + 2 * i);
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    in.space = &sp;
    in.n_outcomes = 2;
    in.outcomes = oc;
    in.n_obs = 10;
    in.X = X;
    in.Y = Y;
    in.n_pending = 1;
    in.X_pending = P;
    in.k = 4;
    in.step = &gp;
    in.state = &ms;
    out.X = X + 20;
    assert_int_equal(axl_moo_generate(&in, &out, &eb), 0);
    assert_int_equal(out.n, 4);
    assert_true(out.ref_inferred);
    for (a = 10; a < 14; a++) {
        assert_false(axl_space_same_point(&sp, X + 2 * a, P));
        for (b = 0; b < a; b++)
            assert_false(axl_space_same_point(&sp, X + 2 * a, X + 2 * b));
    }
    /* errors */
    in.n_outcomes = 0;
    assert_int_equal(axl_moo_generate(&in, &out, &eb), AXL_EINVAL);
    in.n_outcomes = 2;
    Y[3] = NAN;
    assert_int_equal(axl_moo_generate(&in, &out, &eb), AXL_EINVAL);
    assert_non_null(strstr(eb.msg, "Y[1][1]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hv_brute),
        cmocka_unit_test(test_pareto_mask),
        cmocka_unit_test(test_box_decomp),
        cmocka_unit_test(test_infer_ref),
        cmocka_unit_test(test_ehvi_mc),
        cmocka_unit_test(test_ehvi_tail),
        cmocka_unit_test(test_ehvi_pof_gradients),
        cmocka_unit_test(test_acq_closed_form_and_gradient),
        cmocka_unit_test(test_generate_branincurrin),
        cmocka_unit_test(test_generate_constrained),
        cmocka_unit_test(test_generate_batch_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
