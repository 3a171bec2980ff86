/* testfunctions.c - standard BO test functions (minimization), shared with the
 * engine's `function` runner and the benches. */
#include <math.h>

#include "engine/model/axl_model.h"

const double axl_testfn_branin_min = 0.397887357729738;
const double axl_testfn_branin_bounds[2][2] = {{-5.0, 10.0}, {0.0, 15.0}};

double axl_testfn_branin(const double *x)
{
    const double a = 1.0, b = 5.1 / (4.0 * M_PI * M_PI), c = 5.0 / M_PI, r = 6.0, s = 10.0,
                 t = 1.0 / (8.0 * M_PI);
    double u = x[1] - b * x[0] * x[0] + c * x[0] - r;
    return a * u * u + s * (1.0 - t) * cos(x[0]) + s;
}

const double axl_testfn_hartmann6_min = -3.32236801141551;
const double axl_testfn_hartmann6_argmin[6] = {0.20168952, 0.15001069, 0.47687398,
                                               0.27533243, 0.31165162, 0.65730054};

double axl_testfn_hartmann6(const double *x)
{
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                   {2329, 4135, 8307, 3736, 1004, 9991},
                                   {2348, 1451, 3522, 2883, 3047, 6650},
                                   {4047, 8828, 8732, 5743, 1091, 381}};
    double f = 0;
    int i, j;
    for (i = 0; i < 4; i++) {
        double s = 0;
        for (j = 0; j < 6; j++) {
            double d = x[j] - P[i][j] * 1e-4;
            s += A[i][j] * d * d;
        }
        f -= alpha[i] * exp(-s);
    }
    return f;
}
