/* profile.c - step profiles of resource use over time (see profile.h). */
#include "hw/line/profile.h"
#include "proto/axl_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void axl_profile_init(axl_profile *p)
{
    memset(p, 0, sizeof(*p));
}

void axl_profile_free(axl_profile *p)
{
    free(p->t);
    free(p->lvl);
    free(p->temp);
    memset(p, 0, sizeof(*p));
}

int axl_profile_reserve(axl_profile *p, size_t more)
{
    if (p->n + more <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < p->n + more)
        cap *= 2;
    double *t = realloc(p->t, cap * sizeof(*t));
    if (t == NULL)
        return AXL_ENOMEM;
    p->t = t;
    int32_t *l = realloc(p->lvl, cap * sizeof(*l));
    if (l == NULL)
        return AXL_ENOMEM;
    p->lvl = l;
    double *tp = realloc(p->temp, cap * sizeof(*tp));
    if (tp == NULL)
        return AXL_ENOMEM;
    p->temp = tp;
    p->cap = cap;
    return 0;
}

/* Index of the segment containing x (last i with t[i] <= x), or -1 before t[0]. */
static ptrdiff_t seg_at(const axl_profile *p, double x)
{
    size_t lo = 0, hi = p->n; /* first index with t > x */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->t[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

static double seg_end(const axl_profile *p, size_t i)
{
    return i + 1 < p->n ? p->t[i + 1] : INFINITY;
}

/* Ensures a breakpoint at x (capacity reserved by the caller); returns its index. */
static size_t split_at(axl_profile *p, double x)
{
    ptrdiff_t i = seg_at(p, x);
    if (i >= 0 && p->t[i] == x)
        return (size_t)i;
    size_t at = (size_t)(i + 1);
    memmove(p->t + at + 1, p->t + at, (p->n - at) * sizeof(*p->t));
    memmove(p->lvl + at + 1, p->lvl + at, (p->n - at) * sizeof(*p->lvl));
    memmove(p->temp + at + 1, p->temp + at, (p->n - at) * sizeof(*p->temp));
    p->t[at] = x;
    p->lvl[at] = i >= 0 ? p->lvl[i] : 0;
    p->temp[at] = i >= 0 ? p->temp[i] : NAN;
    p->n++;
    return at;
}

static bool same_temp(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* Drops breakpoints that do not change anything, in [from, to] (indices, clamped). */
static void compact(axl_profile *p, size_t from, size_t to)
{
    if (p->n == 0)
        return;
    if (to >= p->n)
        to = p->n - 1;
    size_t w = from;
    for (size_t r = from; r < p->n; r++) {
        bool redundant;
        if (r > to) {
            redundant = false;
        } else if (w == 0) {
            redundant = p->lvl[r] == 0; /* a leading zero segment equals "before t[0]" */
        } else {
            redundant = p->lvl[r] == p->lvl[w - 1] && same_temp(p->temp[r], p->temp[w - 1]);
        }
        if (redundant)
            continue;
        p->t[w] = p->t[r];
        p->lvl[w] = p->lvl[r];
        p->temp[w] = p->temp[r];
        w++;
    }
    p->n = w;
}

int axl_profile_add(axl_profile *p, double a, double b, int delta, double temp)
{
    if (!(a < b))
        return AXL_EINVAL;
    if (axl_profile_reserve(p, 2))
        return AXL_ENOMEM;
    size_t ia = split_at(p, a);
    size_t ib = split_at(p, b);
    for (size_t i = ia; i < ib; i++) {
        p->lvl[i] += delta;
        if (p->lvl[i] <= 0) {
            p->lvl[i] = 0;
            p->temp[i] = NAN;
        } else if (delta > 0 && !isnan(temp)) {
            p->temp[i] = temp;
        }
    }
    compact(p, ia > 0 ? ia - 1 : 0, ib + 1);
    return 0;
}

double axl_profile_idle_since(const axl_profile *p, double x)
{
    ptrdiff_t i = seg_at(p, x);
    if (i < 0)
        return -INFINITY;
    /* Segments are canonical: a level-0 segment follows a busy one, so t[i] is where
     * the resource fell idle. */
    return p->lvl[i] == 0 ? p->t[i] : x;
}

int32_t axl_profile_level(const axl_profile *p, double x)
{
    ptrdiff_t i = seg_at(p, x);
    return i < 0 ? 0 : p->lvl[i];
}

bool axl_profile_blocked(const axl_profile *p, double a, double b, int32_t cap, double temp,
                         double retemper, double *at, double *until)
{
    bool found = false;
    double best_at = INFINITY, best_until = INFINITY;

    /* Capacity: the first saturated segment overlapping [a, b). */
    ptrdiff_t i = seg_at(p, a);
    for (size_t j = i < 0 ? 0 : (size_t)i; j < p->n && p->t[j] < b; j++) {
        if (seg_end(p, j) <= a || p->lvl[j] < cap)
            continue;
        size_t k = j;
        while (k < p->n && p->lvl[k] >= cap)
            k++;
        best_at = fmax(p->t[j], a);
        best_until = k < p->n ? p->t[k] : INFINITY;
        found = true;
        break;
    }

    /* Temperature: a holder at another temperature within retemper of [a, b). */
    if (!isnan(temp)) {
        double lo = a - retemper, hi = b + retemper;
        i = seg_at(p, lo);
        for (size_t j = i < 0 ? 0 : (size_t)i; j < p->n && p->t[j] < hi; j++) {
            if (seg_end(p, j) <= lo || p->lvl[j] == 0 || same_temp(p->temp[j], temp))
                continue;
            size_t k = j;
            while (k < p->n && p->lvl[k] > 0 && !same_temp(p->temp[k], temp))
                k++;
            double t_at = fmax(p->t[j], a);
            if (!found || t_at < best_at) {
                best_at = t_at;
                best_until = (k < p->n ? p->t[k] : INFINITY) + retemper;
            }
            found = true;
            break;
        }
    }
    if (found) {
        if (at != NULL)
            *at = best_at;
        if (until != NULL)
            *until = best_until;
    }
    return found;
}
