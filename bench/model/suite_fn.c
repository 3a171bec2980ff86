/* suite_fn.c - the suite's functions (the same definitions as bench/model/suite.py;
 * test/model cross-checks values at a few points). */
#include "bench/model/suite_fn.h"

#include <math.h>
#include <string.h>

static double sixhump_camel(const double *x)
{
    double a = x[0], b = x[1];
    return (4 - 2.1 * a * a + a * a * a * a / 3) * a * a + a * b + (-4 + 4 * b * b) * b * b;
}

static double goldstein_price(const double *x)
{
    double a = x[0], b = x[1], u = a + b + 1, v = 2 * a - 3 * b;
    double t1 = 1 + u * u * (19 - 14 * a + 3 * a * a - 14 * b + 6 * a * b + 3 * b * b);
    double t2 = 30 + v * v * (18 - 32 * a + 12 * a * a + 48 * b - 36 * a * b + 27 * b * b);
    return t1 * t2;
}

static double beale(const double *x)
{
    double a = x[0], b = x[1];
    double t1 = 1.5 - a + a * b, t2 = 2.25 - a + a * b * b, t3 = 2.625 - a + a * b * b * b;
    return t1 * t1 + t2 * t2 + t3 * t3;
}

static double drop_wave(const double *x)
{
    double r2 = x[0] * x[0] + x[1] * x[1];
    return -(1 + cos(12 * sqrt(r2))) / (0.5 * r2 + 2);
}

static double easom(const double *x)
{
    double a = x[0] - M_PI, b = x[1] - M_PI;
    return -cos(x[0]) * cos(x[1]) * exp(-(a * a + b * b));
}

static double branin(const double *x)
{
    return axl_testfn_branin(x);
}

static double hartmann3(const double *x)
{
    static const double A[4][3] = {{3, 10, 30}, {0.1, 10, 35}, {3, 10, 30}, {0.1, 10, 35}};
    static const double P[4][3] = {{0.3689, 0.1170, 0.2673},
                                   {0.4699, 0.4387, 0.7470},
                                   {0.1091, 0.8732, 0.5547},
                                   {0.03815, 0.5743, 0.8828}};
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    double f = 0;
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++)
            s += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
        f -= alpha[i] * exp(-s);
    }
    return f;
}

static double hartmann6(const double *x)
{
    return axl_testfn_hartmann6(x);
}

static double rosenbrock_n(const double *x, size_t d)
{
    double f = 0;
    for (size_t i = 0; i + 1 < d; i++) {
        double u = x[i + 1] - x[i] * x[i], v = x[i] - 1;
        f += 100 * u * u + v * v;
    }
    return f;
}

static double rosenbrock3(const double *x)
{
    return rosenbrock_n(x, 3);
}

static double levy4(const double *x)
{
    double w[4], f;
    for (int i = 0; i < 4; i++)
        w[i] = 1 + (x[i] - 1) / 4;
    f = sin(M_PI * w[0]) * sin(M_PI * w[0]);
    for (int i = 0; i < 3; i++) {
        double s = sin(M_PI * w[i] + 1);
        f += (w[i] - 1) * (w[i] - 1) * (1 + 10 * s * s);
    }
    double s = sin(2 * M_PI * w[3]);
    return f + (w[3] - 1) * (w[3] - 1) * (1 + s * s);
}

static double ackley3(const double *x)
{
    double s1 = 0, s2 = 0;
    for (int i = 0; i < 3; i++) {
        s1 += x[i] * x[i];
        s2 += cos(2 * M_PI * x[i]);
    }
    return -20 * exp(-0.2 * sqrt(s1 / 3)) - exp(s2 / 3) + 20 + M_E;
}

static double schwefel3(const double *x)
{
    double f = 418.9828872724338 * 3;
    for (int i = 0; i < 3; i++)
        f -= x[i] * sin(sqrt(fabs(x[i])));
    return f;
}

static double styblinski_tang4(const double *x)
{
    double f = 0;
    for (int i = 0; i < 4; i++)
        f += x[i] * x[i] * x[i] * x[i] - 16 * x[i] * x[i] + 5 * x[i];
    return 0.5 * f;
}

static double shekel10(const double *x)
{
    static const double c[10] = {0.1, 0.2, 0.2, 0.4, 0.4, 0.6, 0.3, 0.7, 0.5, 0.5};
    static const double A[10][4] = {{4, 4, 4, 4}, {1, 1, 1, 1},    {8, 8, 8, 8}, {6, 6, 6, 6},
                                    {3, 7, 3, 7}, {2, 9, 2, 9},    {5, 5, 3, 3}, {8, 1, 8, 1},
                                    {6, 2, 6, 2}, {7, 3.6, 7, 3.6}};
    double f = 0;
    for (int i = 0; i < 10; i++) {
        double s = 0;
        for (int j = 0; j < 4; j++)
            s += (x[j] - A[i][j]) * (x[j] - A[i][j]);
        f -= 1.0 / (s + c[i]);
    }
    return f;
}

static const double mixed_h6_x6[4] = {0.1, 0.4, 0.65730054, 0.9};

/* Hartmann6 with x5 = 0.31165162 + 0.05 (k - 6), k an int in [0, 19], and x6 one of
 * mixed_h6_x6 (a choice index) */
static double mixed_h6(const double *x)
{
    double z[6] = {x[0], x[1], x[2], x[3], 0.31165162 + 0.05 * (x[4] - 6), 0};
    int c = (int)lround(x[5]);
    z[5] = mixed_h6_x6[c < 0 ? 0 : c > 3 ? 3 : c];
    return axl_testfn_hartmann6(z);
}

#define ST_MIN1 (-39.16616570377142)
#define F(lo, hi)                                                                                  \
    {                                                                                              \
        .type = AXL_PARAM_FLOAT, .lower = (lo), .upper = (hi)                                      \
    }
#define I(lo, hi)                                                                                  \
    {                                                                                              \
        .type = AXL_PARAM_INT, .lower = (lo), .upper = (hi)                                        \
    }
#define BOX2(lo, hi)                                                                               \
    {                                                                                              \
        F(lo, hi), F(lo, hi)                                                                       \
    }
#define BOX3(lo, hi)                                                                               \
    {                                                                                              \
        F(lo, hi), F(lo, hi), F(lo, hi)                                                            \
    }
#define BOX4(lo, hi)                                                                               \
    {                                                                                              \
        F(lo, hi), F(lo, hi), F(lo, hi), F(lo, hi)                                                 \
    }
#define BOX6(lo, hi)                                                                               \
    {                                                                                              \
        F(lo, hi), F(lo, hi), F(lo, hi), F(lo, hi), F(lo, hi), F(lo, hi)                           \
    }

static const axl_suite_problem g_suite[] = {
    {"sixhump_camel", 2, {F(-3, 3), F(-2, 2)}, -1.0316284534898774, 20, 0, sixhump_camel},
    {"goldstein_price", 2, BOX2(-2, 2), 3.0, 20, 0, goldstein_price},
    {"beale", 2, BOX2(-4.5, 4.5), 0.0, 20, 0, beale},
    {"drop_wave", 2, BOX2(-5.12, 5.12), -1.0, 20, 0, drop_wave},
    {"easom", 2, BOX2(-10, 10), -1.0, 20, 0, easom},
    {"branin_noisy", 2, {F(-5, 10), F(0, 15)}, 0.397887357729738, 20, 2.0, branin},
    {"hartmann3", 3, BOX3(0, 1), -3.8627821478207554, 30, 0, hartmann3},
    {"rosenbrock3", 3, BOX3(-5, 10), 0.0, 30, 0, rosenbrock3},
    {"ackley3", 3, BOX3(-32.768, 32.768), 0.0, 30, 0, ackley3},
    {"schwefel3", 3, BOX3(-500, 500), 0.0, 30, 0, schwefel3},
    {"levy4", 4, BOX4(-10, 10), 0.0, 40, 0, levy4},
    {"styblinski_tang4", 4, BOX4(-5, 5), 4 * ST_MIN1, 40, 0, styblinski_tang4},
    {"shekel10", 4, BOX4(0, 10), -10.536409816692046, 40, 0, shekel10},
    {"mixed_st4",
     4,
     {F(-5, 5), F(-5, 5), I(-5, 5), I(-5, 5)},
     2 * ST_MIN1 - 78.0,
     40,
     0,
     styblinski_tang4},
    {"hartmann6_noisy", 6, BOX6(0, 1), -3.32236801141551, 60, 0.05, hartmann6},
    {"mixed_h6",
     6,
     {F(0, 1), F(0, 1), F(0, 1), F(0, 1), I(0, 19), {.type = AXL_PARAM_CHOICE, .n_choices = 4}},
     -3.32236801141551,
     60,
     0,
     mixed_h6},
};

const axl_suite_problem *axl_suite_problems(size_t *n)
{
    *n = sizeof g_suite / sizeof g_suite[0];
    return g_suite;
}

const axl_suite_problem *axl_suite_find(const char *name)
{
    for (size_t i = 0; i < sizeof g_suite / sizeof g_suite[0]; i++)
        if (strcmp(g_suite[i].name, name) == 0)
            return &g_suite[i];
    return NULL;
}
