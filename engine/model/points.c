/*
 * points.c - a hash index of arms for de-duplication in O(1) per query.
 *
 * Two points are the same arm when axl_space_same_point says so: equal discrete
 * values and range values within 1e-6 of the range width (of the log range on a log
 * scale). The index hashes a grid key: each range coordinate in unit space falls in a
 * cell of width 1e-4 (offset by an irrational fraction so that round values do not sit
 * on cell edges), discrete values are their integer. A point within the tolerance of a
 * cell edge may equal a point of the neighbouring cell, so a query also probes that
 * neighbour (for each such coordinate: 2% of coordinates, so about one probe per
 * query). Every candidate found in a bucket is confirmed with axl_space_same_point.
 * Points are appended with a caller's id; there is no removal (a caller filters by id).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/model_internal.h"

#define CELL 1e-4
#define CELL_OFFSET 0.3183098861837907 /* 1/pi */
#define EDGE 0.0101                    /* the tolerance in cells (1e-6 / CELL), rounded up */
#define MAX_AMBIGUOUS 12               /* beyond this many edge coordinates, scan */
#define NONE UINT32_MAX

struct axl_point_index {
    const axl_space *s;
    size_t np;
    double *pts;    /* n * np */
    uint32_t *ids;  /* caller's ids */
    uint64_t *keys; /* grid keys */
    uint32_t *next; /* bucket chains */
    size_t n, cap;
    uint32_t *heads; /* nb buckets */
    size_t nb;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    uint64_t s = h ^ (v * 0x9e3779b97f4a7c15ULL);
    return axl__mix64(&s);
}

/*
 * The cell of coordinate i of x in *cell; returns -1, 0 or 1: the neighbouring cell
 * that may hold an equal value (0 = none).
 */
static int coord_cell(const axl_param *p, double x, int64_t *cell)
{
    double u, c, f;
    switch (p->type) {
    case AXL_PARAM_INT:
    case AXL_PARAM_CHOICE:
        *cell = (int64_t)lround(x);
        return 0;
    case AXL_PARAM_FIXED:
        *cell = 0;
        return 0;
    case AXL_PARAM_FLOAT:
        break;
    }
    if (p->log_scale) {
        if (!(x > 0)) { /* not a valid log-scale value: only equal bits match */
            memcpy(cell, &x, sizeof(double));
            *cell ^= 0x5a5a5a5a5a5a5a5aLL;
            return 0;
        }
        u = (log(x) - log(p->lower)) / (log(p->upper) - log(p->lower));
    } else {
        u = (x - p->lower) / (p->upper - p->lower);
    }
    c = u / CELL + CELL_OFFSET;
    if (!isfinite(c) || fabs(c) > 9e15) {
        memcpy(cell, &x, sizeof(double));
        return 0;
    }
    f = floor(c);
    *cell = (int64_t)f;
    if (c - f < EDGE)
        return -1;
    if (f + 1.0 - c < EDGE)
        return 1;
    return 0;
}

static uint64_t key_of(const int64_t *cells, size_t np)
{
    uint64_t h = 0x243f6a8885a308d3ULL;
    for (size_t i = 0; i < np; i++)
        h = mix(h, (uint64_t)cells[i]);
    return h;
}

int axl_point_index_new(const axl_space *s, axl_point_index **out)
{
    axl_point_index *ix = calloc(1, sizeof(*ix));
    *out = NULL;
    if (ix == NULL)
        return AXL_ENOMEM;
    ix->s = s;
    ix->np = s->n_params;
    ix->nb = 64;
    if ((ix->heads = malloc(ix->nb * sizeof(uint32_t))) == NULL) {
        free(ix);
        return AXL_ENOMEM;
    }
    memset(ix->heads, 0xff, ix->nb * sizeof(uint32_t));
    *out = ix;
    return 0;
}

void axl_point_index_free(axl_point_index *ix)
{
    if (ix == NULL)
        return;
    free(ix->pts);
    free(ix->ids);
    free(ix->keys);
    free(ix->next);
    free(ix->heads);
    free(ix);
}

size_t axl_point_index_count(const axl_point_index *ix)
{
    return ix->n;
}

static int grow(axl_point_index *ix)
{
    size_t cap = ix->cap ? ix->cap * 2 : 64, i;
    double *pts = realloc(ix->pts, cap * (ix->np ? ix->np : 1) * sizeof(double));
    if (pts == NULL)
        return AXL_ENOMEM;
    ix->pts = pts;
    uint32_t *ids = realloc(ix->ids, cap * sizeof(uint32_t));
    if (ids == NULL)
        return AXL_ENOMEM;
    ix->ids = ids;
    uint64_t *keys = realloc(ix->keys, cap * sizeof(uint64_t));
    if (keys == NULL)
        return AXL_ENOMEM;
    ix->keys = keys;
    uint32_t *next = realloc(ix->next, cap * sizeof(uint32_t));
    if (next == NULL)
        return AXL_ENOMEM;
    ix->next = next;
    ix->cap = cap;
    if (cap > ix->nb) { /* load factor <= 1: rehash into cap buckets */
        uint32_t *heads = malloc(cap * sizeof(uint32_t));
        if (heads == NULL)
            return AXL_ENOMEM;
        memset(heads, 0xff, cap * sizeof(uint32_t));
        for (i = 0; i < ix->n; i++) {
            size_t b = (size_t)(ix->keys[i] & (cap - 1));
            ix->next[i] = heads[b];
            heads[b] = (uint32_t)i;
        }
        free(ix->heads);
        ix->heads = heads;
        ix->nb = cap;
    }
    return 0;
}

int axl_point_index_add(axl_point_index *ix, const double *x, uint32_t id)
{
    int64_t cells[AXL_MODEL_MAX_PARAMS];
    if (ix->n >= NONE - 1)
        return AXL_ENOMEM;
    if (ix->n == ix->cap && grow(ix) != 0)
        return AXL_ENOMEM;
    for (size_t i = 0; i < ix->np; i++)
        coord_cell(&ix->s->params[i], x[i], &cells[i]);
    uint64_t key = key_of(cells, ix->np);
    size_t b = (size_t)(key & (ix->nb - 1));
    memcpy(ix->pts + ix->n * ix->np, x, ix->np * sizeof(double));
    ix->ids[ix->n] = id;
    ix->keys[ix->n] = key;
    ix->next[ix->n] = ix->heads[b];
    ix->heads[b] = (uint32_t)ix->n;
    ix->n++;
    return 0;
}

static int accepted(const axl_point_index *ix, size_t i, const double *x,
                    int (*accept)(void *ctx, uint32_t id), void *ctx)
{
    if (!axl_space_same_point(ix->s, x, ix->pts + i * ix->np))
        return 0;
    return accept == NULL || accept(ctx, ix->ids[i]);
}

int axl_point_index_find(const axl_point_index *ix, const double *x,
                         int (*accept)(void *ctx, uint32_t id), void *ctx)
{
    int64_t cells[AXL_MODEL_MAX_PARAMS];
    size_t amb[MAX_AMBIGUOUS], n_amb = 0, i;
    int dir[MAX_AMBIGUOUS];

    for (i = 0; i < ix->np; i++) {
        int d = coord_cell(&ix->s->params[i], x[i], &cells[i]);
        if (d == 0)
            continue;
        if (n_amb == MAX_AMBIGUOUS) { /* pathological: every point is a candidate */
            for (size_t j = 0; j < ix->n; j++)
                if (accepted(ix, j, x, accept, ctx))
                    return 1;
            return 0;
        }
        amb[n_amb] = i;
        dir[n_amb++] = d;
    }
    /* every combination of the ambiguous coordinates in their own or the next cell */
    for (uint32_t m = 0; m < (1u << n_amb); m++) {
        int64_t c[AXL_MODEL_MAX_PARAMS];
        memcpy(c, cells, ix->np * sizeof(int64_t));
        for (size_t a = 0; a < n_amb; a++)
            if (m & (1u << a))
                c[amb[a]] += dir[a];
        uint64_t key = key_of(c, ix->np);
        for (uint32_t j = ix->heads[key & (ix->nb - 1)]; j != NONE; j = ix->next[j])
            if (ix->keys[j] == key && accepted(ix, j, x, accept, ctx))
                return 1;
    }
    return 0;
}
