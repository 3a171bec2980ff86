/*
 * pareto.c - Pareto fronts, exact hypervolume and box decompositions of the
 * non-dominated region (maximization convention, see axl_moo.h).
 *
 * Both the hypervolume and the decomposition slice along the last objective: between
 * two consecutive distinct values v_{t+1} < v_t of that objective, a point y of the
 * slab is dominated exactly by the points with last coordinate >= v_t, so the slab's
 * (non-)dominated region is a slab of height v_t - v_{t+1} times the (m-1)-dimensional
 * one of those points (Hypervolume by Slicing Objectives, While et al. 2006). For
 * 2-4 objectives and fronts of a few hundred points this is exact and fast enough.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/axl_moo.h"

static int row_nan(size_t m, const double *y)
{
    size_t j;
    for (j = 0; j < m; j++)
        if (isnan(y[j]))
            return 1;
    return 0;
}

/* 1 if a dominates b (a >= b everywhere, > somewhere). */
static int dominates(size_t m, const double *a, const double *b)
{
    size_t j;
    int strict = 0;
    for (j = 0; j < m; j++) {
        if (a[j] < b[j])
            return 0;
        if (a[j] > b[j])
            strict = 1;
    }
    return strict;
}

size_t axl_pareto_mask(size_t n, size_t m, const double *Y, unsigned char *mask)
{
    size_t i, q, kept = 0;
    for (i = 0; i < n; i++) {
        const double *y = Y + i * m;
        int keep = !row_nan(m, y);
        for (q = 0; q < n && keep; q++) {
            const double *z = Y + q * m;
            if (q == i || row_nan(m, z))
                continue;
            if (dominates(m, z, y) || (q < i && memcmp(z, y, m * sizeof(double)) == 0))
                keep = 0;
        }
        mask[i] = (unsigned char)keep;
        kept += (size_t)keep;
    }
    return kept;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Points strictly above ref, copied (n x m) into a fresh array; *np their count. */
static double *above_ref(size_t n, size_t m, const double *Y, const double *ref, size_t *np)
{
    size_t i, j, c = 0;
    double *P = malloc((n ? n : 1) * m * sizeof(double));
    if (P == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        const double *y = Y + i * m;
        int ok = !row_nan(m, y);
        for (j = 0; j < m && ok; j++)
            ok = y[j] > ref[j];
        if (ok)
            memcpy(P + c++ * m, y, m * sizeof(double));
    }
    *np = c;
    return P;
}

/* Hypervolume of the n points P (all > ref), first m coordinates of rows of stride
 * `stride`. scratch: n*stride doubles + n doubles. */
static double hso(size_t n, size_t m, size_t stride, const double *P, const double *ref,
                  double *scratch)
{
    size_t i, t, ns, nsel;
    double *vals, *sel, hv = 0;

    if (n == 0)
        return 0.0;
    if (m == 1) {
        double mx = -INFINITY;
        for (i = 0; i < n; i++)
            mx = fmax(mx, P[i * stride]);
        return mx - ref[0];
    }
    if (m == 2) {
        /* sort by the first coordinate descending, sweep the second */
        double *A = scratch, best1 = ref[1];
        for (i = 0; i < n; i++) {
            A[2 * i] = P[i * stride];
            A[2 * i + 1] = P[i * stride + 1];
        }
        qsort(A, n, 2 * sizeof(double), cmp_desc);
        for (i = 0; i < n; i++) {
            if (A[2 * i + 1] > best1) {
                hv += (A[2 * i] - ref[0]) * (A[2 * i + 1] - best1);
                best1 = A[2 * i + 1];
            }
        }
        return hv;
    }
    /* distinct values of the last coordinate, descending */
    vals = scratch;
    sel = scratch + n;
    for (i = 0; i < n; i++)
        vals[i] = P[i * stride + m - 1];
    qsort(vals, n, sizeof(double), cmp_desc);
    for (i = 1, ns = 1; i < n; i++)
        if (vals[i] != vals[ns - 1])
            vals[ns++] = vals[i];
    nsel = 0;
    for (t = 0; t < ns; t++) {
        double lo = t + 1 < ns ? vals[t + 1] : ref[m - 1];
        /* the points with last coordinate >= vals[t] (a growing set) */
        nsel = 0;
        for (i = 0; i < n; i++)
            if (P[i * stride + m - 1] >= vals[t])
                memcpy(sel + nsel++ * stride, P + i * stride, stride * sizeof(double));
        hv += (vals[t] - lo) * hso(nsel, m - 1, stride, sel, ref, sel + n * stride);
    }
    return hv;
}

/* scratch needed by hso for n points of m coordinates, stride s */
static size_t hso_scratch(size_t n, size_t m, size_t s)
{
    return (size_t)(m + 1) * (n * s + n + 2 * n) + 16;
}

double axl_hypervolume(size_t n, size_t m, const double *Y, const double *ref)
{
    size_t np = 0;
    double *P, *scratch, hv;
    if (m < 1 || m > AXL_MOO_MAX_OBJECTIVES || (n > 0 && Y == NULL) || ref == NULL)
        return -1;
    if ((P = above_ref(n, m, Y, ref, &np)) == NULL)
        return -1;
    scratch = malloc(hso_scratch(np, m, m) * sizeof(double));
    if (scratch == NULL) {
        free(P);
        return -1;
    }
    hv = hso(np, m, m, P, ref, scratch);
    free(P);
    free(scratch);
    return hv;
}

/* ------------------------------------------------------ box decomposition */

typedef struct boxes {
    size_t n, cap, m;
    double *lo, *hi;
} boxes;

static int box_push(boxes *b, const double *lo, const double *hi)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        double *l = realloc(b->lo, cap * b->m * sizeof(double));
        double *h;
        if (l == NULL)
            return AXL_ENOMEM;
        b->lo = l;
        if ((h = realloc(b->hi, cap * b->m * sizeof(double))) == NULL)
            return AXL_ENOMEM;
        b->hi = h;
        b->cap = cap;
    }
    memcpy(b->lo + b->n * b->m, lo, b->m * sizeof(double));
    memcpy(b->hi + b->n * b->m, hi, b->m * sizeof(double));
    b->n++;
    return 0;
}

/*
 * Non-dominated region of the n points P (rows of stride b->m, all > ref) in the
 * first m coordinates; coordinates m..M-1 of every box come from lo_t/hi_t (the
 * slabs chosen by the callers above).
 */
static int decomp(boxes *b, size_t n, size_t m, const double *P, const double *ref, double *lo_t,
                  double *hi_t, double *scratch)
{
    size_t M = b->m, i, t, ns, nsel;
    double *vals, *sel;
    int rv;

    if (m == 1) {
        double mx = ref[0];
        for (i = 0; i < n; i++)
            mx = fmax(mx, P[i * M]);
        lo_t[0] = mx;
        hi_t[0] = INFINITY;
        return box_push(b, lo_t, hi_t);
    }
    /* the slab above every point: nothing dominates there */
    vals = scratch;
    sel = scratch + n;
    for (i = 0; i < n; i++)
        vals[i] = P[i * M + m - 1];
    qsort(vals, n, sizeof(double), cmp_desc);
    for (i = 1, ns = n ? 1 : 0; i < n; i++)
        if (vals[i] != vals[ns - 1])
            vals[ns++] = vals[i];
    lo_t[m - 1] = ns ? vals[0] : ref[m - 1];
    hi_t[m - 1] = INFINITY;
    if ((rv = decomp(b, 0, m - 1, P, ref, lo_t, hi_t, sel + n * M)) != 0)
        return rv;
    for (t = 0; t < ns; t++) {
        nsel = 0;
        for (i = 0; i < n; i++)
            if (P[i * M + m - 1] >= vals[t])
                memcpy(sel + nsel++ * M, P + i * M, M * sizeof(double));
        lo_t[m - 1] = t + 1 < ns ? vals[t + 1] : ref[m - 1];
        hi_t[m - 1] = vals[t];
        if ((rv = decomp(b, nsel, m - 1, sel, ref, lo_t, hi_t, sel + n * M)) != 0)
            return rv;
    }
    return 0;
}

int axl_box_decomp(size_t n, size_t m, const double *Y, const double *ref, size_t *nb, double **lo,
                   double **hi)
{
    boxes b = {0, 0, m, NULL, NULL};
    size_t np = 0, i, q;
    double *P = NULL, *F = NULL, *scratch = NULL, lo_t[AXL_MOO_MAX_OBJECTIVES],
           hi_t[AXL_MOO_MAX_OBJECTIVES];
    unsigned char *mask = NULL;
    int rv = AXL_ENOMEM;

    *nb = 0;
    *lo = *hi = NULL;
    if (m < 1 || m > AXL_MOO_MAX_OBJECTIVES || (n > 0 && Y == NULL) || ref == NULL)
        return AXL_EINVAL;
    if ((P = above_ref(n, m, Y, ref, &np)) == NULL)
        goto fail;
    /* only the front matters; it keeps the number of slabs small */
    mask = malloc(np ? np : 1);
    F = malloc((np ? np : 1) * m * sizeof(double));
    if (mask == NULL || F == NULL)
        goto fail;
    axl_pareto_mask(np, m, P, mask);
    for (i = 0, q = 0; i < np; i++)
        if (mask[i])
            memcpy(F + q++ * m, P + i * m, m * sizeof(double));
    scratch = malloc(hso_scratch(q, m, m) * sizeof(double));
    if (scratch == NULL)
        goto fail;
    if ((rv = decomp(&b, q, m, F, ref, lo_t, hi_t, scratch)) != 0)
        goto fail;
    *nb = b.n;
    *lo = b.lo;
    *hi = b.hi;
    b.lo = b.hi = NULL;
    rv = 0;
fail:
    free(b.lo);
    free(b.hi);
    free(P);
    free(F);
    free(mask);
    free(scratch);
    return rv;
}

void axl_infer_ref_point(size_t n, size_t m, const double *Y, double *ref)
{
    double nadir[AXL_MOO_MAX_OBJECTIVES], ideal[AXL_MOO_MAX_OBJECTIVES];
    unsigned char *mask = n ? malloc(n) : NULL;
    size_t i, j, kept = 0;

    for (j = 0; j < m; j++) {
        nadir[j] = INFINITY;
        ideal[j] = -INFINITY;
    }
    if (mask != NULL) {
        axl_pareto_mask(n, m, Y, mask);
        for (i = 0; i < n; i++) {
            if (!mask[i])
                continue;
            kept++;
            for (j = 0; j < m; j++) {
                nadir[j] = fmin(nadir[j], Y[i * m + j]);
                ideal[j] = fmax(ideal[j], Y[i * m + j]);
            }
        }
    }
    free(mask);
    for (j = 0; j < m; j++) {
        double range;
        if (kept == 0) {
            ref[j] = 0;
            continue;
        }
        range = ideal[j] - nadir[j];
        if (range > 0)
            ref[j] = nadir[j] - 0.1 * range;
        else
            ref[j] = nadir[j] != 0 ? nadir[j] - 0.1 * fabs(nadir[j]) : -0.1;
    }
}
