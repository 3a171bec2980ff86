/* space.c - search space validation and the parameter <-> model-space transforms. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/model_internal.h"

int axl__fail(axl_errbuf *eb, int code, const char *fmt, ...)
{
    va_list ap;
    if (eb != NULL) {
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

double axl__normal(uint64_t *s)
{
    /* Box-Muller; one value per call keeps the stream a pure function of the seed. */
    double u1 = axl__unif(s), u2 = axl__unif(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int axl_space_check(const axl_space *s, axl_errbuf *eb)
{
    size_t i, j, D = 0;

    if (s == NULL || (s->n_params > 0 && s->params == NULL))
        return axl__fail(eb, AXL_EINVAL, "search space: no parameters array");
    if (s->n_params == 0 || s->n_params > AXL_MODEL_MAX_PARAMS)
        return axl__fail(eb, AXL_EINVAL, "search space: %zu parameters (1..%d allowed)",
                         s->n_params, AXL_MODEL_MAX_PARAMS);
    for (i = 0; i < s->n_params; i++) {
        const axl_param *p = &s->params[i];
        switch (p->type) {
        case AXL_PARAM_FLOAT:
        case AXL_PARAM_INT:
            if (!isfinite(p->lower) || !isfinite(p->upper))
                return axl__fail(eb, AXL_EINVAL, "parameters[%zu].bounds: not finite", i);
            if (!(p->lower < p->upper))
                return axl__fail(eb, AXL_EINVAL,
                                 "parameters[%zu].bounds: lower %g must be below upper %g", i,
                                 p->lower, p->upper);
            if (p->type == AXL_PARAM_INT &&
                (p->lower != floor(p->lower) || p->upper != floor(p->upper)))
                return axl__fail(eb, AXL_EINVAL,
                                 "parameters[%zu].bounds: int bounds must be integers", i);
            if (p->log_scale && !(p->lower > 0))
                return axl__fail(eb, AXL_EINVAL,
                                 "parameters[%zu].log_scale: needs lower > 0 (got %g)", i,
                                 p->lower);
            D += 1;
            break;
        case AXL_PARAM_CHOICE:
            if (p->n_choices < 2 || p->n_choices > AXL_MODEL_MAX_CHOICES)
                return axl__fail(eb, AXL_EINVAL,
                                 "parameters[%zu].values: %d values (2..%d allowed)", i,
                                 p->n_choices, AXL_MODEL_MAX_CHOICES);
            D += p->ordered ? 1 : (size_t)p->n_choices;
            break;
        case AXL_PARAM_FIXED:
            if (!isfinite(p->value))
                return axl__fail(eb, AXL_EINVAL, "parameters[%zu].value: not finite", i);
            break;
        default:
            return axl__fail(eb, AXL_EINVAL, "parameters[%zu].type: unknown type %d", i,
                             (int)p->type);
        }
    }
    if (D == 0)
        return axl__fail(eb, AXL_EINVAL, "search space: every parameter is fixed");
    if (D > AXL_MODEL_MAX_DIMS)
        return axl__fail(eb, AXL_EINVAL, "search space: %zu model dimensions (max %d)", D,
                         AXL_MODEL_MAX_DIMS);
    if (s->n_constraints > 0 && s->constraints == NULL)
        return axl__fail(eb, AXL_EINVAL, "parameter_constraints: no array");
    for (j = 0; j < s->n_constraints; j++) {
        const axl_linear_constraint *c = &s->constraints[j];
        int any = 0;
        if (c->w == NULL || !isfinite(c->bound))
            return axl__fail(eb, AXL_EINVAL, "parameter_constraints[%zu]: no weights or bound", j);
        for (i = 0; i < s->n_params; i++) {
            const axl_param *p = &s->params[i];
            if (!isfinite(c->w[i]))
                return axl__fail(eb, AXL_EINVAL, "parameter_constraints[%zu].w[%zu]: not finite", j,
                                 i);
            if (c->w[i] == 0.0)
                continue;
            any = 1;
            if (p->type != AXL_PARAM_FLOAT && p->type != AXL_PARAM_INT)
                return axl__fail(eb, AXL_EINVAL,
                                 "parameter_constraints[%zu]: parameter %zu is not a range", j, i);
            if (p->log_scale)
                return axl__fail(eb, AXL_EINVAL,
                                 "parameter_constraints[%zu]: parameter %zu is on log scale", j, i);
        }
        if (!any)
            return axl__fail(eb, AXL_EINVAL, "parameter_constraints[%zu]: all weights are zero", j);
    }
    return 0;
}

void axl__layout_init(const axl_space *s, axl__layout *lay)
{
    size_t i;
    int off = 0;

    lay->n_params = s->n_params;
    for (i = 0; i < s->n_params; i++) {
        const axl_param *p = &s->params[i];
        int w = 0;
        if (p->type == AXL_PARAM_FLOAT || p->type == AXL_PARAM_INT)
            w = 1;
        else if (p->type == AXL_PARAM_CHOICE)
            w = p->ordered ? 1 : p->n_choices;
        lay->off[i] = w ? off : -1;
        lay->width[i] = w;
        off += w;
    }
    lay->D = (size_t)off;
}

size_t axl_space_dims(const axl_space *s)
{
    axl__layout lay;
    axl__layout_init(s, &lay);
    return lay.D;
}

static double range_to_unit(const axl_param *p, double x)
{
    if (p->log_scale)
        return (log(x) - log(p->lower)) / (log(p->upper) - log(p->lower));
    return (x - p->lower) / (p->upper - p->lower);
}

static double range_from_unit(const axl_param *p, double u)
{
    double x;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    if (p->log_scale)
        x = exp(log(p->lower) + u * (log(p->upper) - log(p->lower)));
    else
        x = p->lower + u * (p->upper - p->lower);
    if (p->type == AXL_PARAM_INT)
        x = round(x);
    /* exp/log round-off must not step outside the bounds */
    return x < p->lower ? p->lower : x > p->upper ? p->upper : x;
}

int axl_space_to_unit(const axl_space *s, const double *x, double *u)
{
    size_t i;
    int k, off = 0;

    for (i = 0; i < s->n_params; i++) {
        const axl_param *p = &s->params[i];
        switch (p->type) {
        case AXL_PARAM_FLOAT:
        case AXL_PARAM_INT:
            if (isnan(x[i]) || (p->log_scale && !(x[i] > 0)))
                return AXL_EINVAL;
            u[off++] = range_to_unit(p, x[i]);
            break;
        case AXL_PARAM_CHOICE:
            k = (int)lround(x[i]);
            if (isnan(x[i]) || k < 0 || k >= p->n_choices)
                return AXL_EINVAL;
            if (p->ordered) {
                u[off++] = (double)k / (double)(p->n_choices - 1);
            } else {
                int c;
                for (c = 0; c < p->n_choices; c++)
                    u[off + c] = c == k ? 1.0 : 0.0;
                off += p->n_choices;
            }
            break;
        case AXL_PARAM_FIXED:
            break;
        }
    }
    return 0;
}

void axl_space_from_unit(const axl_space *s, const double *u, double *x)
{
    size_t i;
    int off = 0;

    for (i = 0; i < s->n_params; i++) {
        const axl_param *p = &s->params[i];
        switch (p->type) {
        case AXL_PARAM_FLOAT:
        case AXL_PARAM_INT:
            x[i] = range_from_unit(p, u[off++]);
            break;
        case AXL_PARAM_CHOICE:
            if (p->ordered) {
                double v = u[off++];
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                x[i] = round(v * (double)(p->n_choices - 1));
            } else {
                int c, best = 0;
                for (c = 1; c < p->n_choices; c++)
                    if (u[off + c] > u[off + best])
                        best = c;
                x[i] = best;
                off += p->n_choices;
            }
            break;
        case AXL_PARAM_FIXED:
            x[i] = p->value;
            break;
        }
    }
}

int axl_space_feasible(const axl_space *s, const double *x)
{
    size_t i, j;

    for (i = 0; i < s->n_params; i++) {
        const axl_param *p = &s->params[i];
        double tol;
        switch (p->type) {
        case AXL_PARAM_FLOAT:
        case AXL_PARAM_INT:
            tol = 1e-9 * (p->upper - p->lower);
            if (!(x[i] >= p->lower - tol && x[i] <= p->upper + tol))
                return 0;
            if (p->type == AXL_PARAM_INT && fabs(x[i] - round(x[i])) > 1e-9)
                return 0;
            break;
        case AXL_PARAM_CHOICE:
            if (!(x[i] >= 0 && x[i] <= p->n_choices - 1) || x[i] != floor(x[i]))
                return 0;
            break;
        case AXL_PARAM_FIXED:
            if (x[i] != p->value)
                return 0;
            break;
        }
    }
    for (j = 0; j < s->n_constraints; j++) {
        const axl_linear_constraint *c = &s->constraints[j];
        double sum = 0, scale = fabs(c->bound);
        for (i = 0; i < s->n_params; i++) {
            sum += c->w[i] * x[i];
            scale += fabs(c->w[i] * x[i]);
        }
        if (sum > c->bound + 1e-9 * (1.0 + scale))
            return 0;
    }
    return 1;
}

int axl_space_same_point(const axl_space *s, const double *a, const double *b)
{
    size_t i;

    for (i = 0; i < s->n_params; i++) {
        const axl_param *p = &s->params[i];
        switch (p->type) {
        case AXL_PARAM_FLOAT:
            if (p->log_scale) {
                if (!(a[i] > 0 && b[i] > 0) ||
                    fabs(range_to_unit(p, a[i]) - range_to_unit(p, b[i])) > 1e-6)
                    return a[i] == b[i];
            } else if (fabs(a[i] - b[i]) > 1e-6 * (p->upper - p->lower)) {
                return 0;
            }
            break;
        case AXL_PARAM_INT:
        case AXL_PARAM_CHOICE:
            if (lround(a[i]) != lround(b[i]))
                return 0;
            break;
        case AXL_PARAM_FIXED:
            break;
        }
    }
    return 1;
}

int axl__constraints_unit(const axl_space *s, double **Aout, double **bout)
{
    axl__layout lay;
    size_t nc = s->n_constraints, i, j;
    double *A, *b;

    *Aout = *bout = NULL;
    if (nc == 0)
        return 0;
    axl__layout_init(s, &lay);
    A = calloc(nc * lay.D, sizeof(double));
    b = calloc(nc, sizeof(double));
    if (A == NULL || b == NULL) {
        free(A);
        free(b);
        return AXL_ENOMEM;
    }
    /* x_i = lo_i + (hi_i - lo_i) u_i is affine, so the constraint stays linear */
    for (j = 0; j < nc; j++) {
        const axl_linear_constraint *c = &s->constraints[j];
        b[j] = c->bound;
        for (i = 0; i < s->n_params; i++) {
            const axl_param *p = &s->params[i];
            if (c->w[i] == 0.0)
                continue;
            A[j * lay.D + (size_t)lay.off[i]] = c->w[i] * (p->upper - p->lower);
            b[j] -= c->w[i] * p->lower;
        }
    }
    *Aout = A;
    *bout = b;
    return 0;
}

static void clip01(size_t D, double *u)
{
    size_t i;
    for (i = 0; i < D; i++)
        u[i] = u[i] < 0 ? 0 : u[i] > 1 ? 1 : u[i];
}

void axl__project(size_t D, size_t nc, const double *A, const double *b, double *u, double *work)
{
    /* Dykstra's alternating projections onto the box and each half-space: converges
     * to the Euclidean projection onto their intersection (plain alternation would
     * only find some feasible point). */
    size_t it, j, i;
    double *p = work; /* (nc+1)*D correction terms */
    double *y = work + (nc + 1) * D;

    if (nc == 0) {
        clip01(D, u);
        return;
    }
    memset(p, 0, (nc + 1) * D * sizeof(double));
    for (it = 0; it < 200; it++) {
        double change = 0;
        for (j = 0; j <= nc; j++) {
            double *pj = p + j * D;
            for (i = 0; i < D; i++)
                y[i] = u[i] + pj[i];
            if (j == 0) {
                clip01(D, y);
            } else {
                const double *a = A + (j - 1) * D;
                double ay = 0, aa = 0;
                for (i = 0; i < D; i++) {
                    ay += a[i] * y[i];
                    aa += a[i] * a[i];
                }
                if (ay > b[j - 1] && aa > 0) {
                    double t = (ay - b[j - 1]) / aa;
                    for (i = 0; i < D; i++)
                        y[i] -= t * a[i];
                }
            }
            for (i = 0; i < D; i++) {
                double nu = y[i];
                pj[i] = u[i] + pj[i] - nu;
                change += fabs(nu - u[i]);
                u[i] = nu;
            }
        }
        if (change < 1e-12)
            break;
    }
    clip01(D, u);
}

void axl__round_unit(const axl_space *s, double *u, double *x)
{
    axl_space_from_unit(s, u, x);
    (void)axl_space_to_unit(s, x, u);
}

void axl__snap_onehot(const axl_space *s, const axl__layout *lay, double *u)
{
    size_t i;
    for (i = 0; i < s->n_params; i++) {
        const axl_param *p = &s->params[i];
        if (p->type == AXL_PARAM_CHOICE && !p->ordered) {
            double *v = u + lay->off[i];
            int c, best = 0;
            for (c = 1; c < p->n_choices; c++)
                if (v[c] > v[best])
                    best = c;
            for (c = 0; c < p->n_choices; c++)
                v[c] = c == best ? 1.0 : 0.0;
        }
    }
}
