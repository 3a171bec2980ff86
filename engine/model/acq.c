/*
 * acq.c - LogEI maximization: score many scrambled Sobol points in one batch, then a
 * batched projected quasi-Newton (BFGS) search from the best of them.
 *
 * All local searches advance in lock-step, so that every iteration evaluates LogEI
 * and its gradient for all of them with one BLAS-3 product instead of one
 * matrix-vector product per start.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/model_internal.h"

enum { QN_DIR, QN_LS, QN_DONE };

typedef struct qn {
    double *x, *g, *H, *dir, *xt, *gt;
    double f, ft, t;
    int state, iter, stall, fresh_h;
} qn;

static void h_identity(double *H, size_t D, double scale)
{
    size_t i;
    memset(H, 0, D * D * sizeof(double));
    for (i = 0; i < D; i++)
        H[i * D + i] = scale;
}

/* -LogEI and its gradient at m points (we minimize). */
static int eval_neg(const axl_gp *gp, double best_f, size_t m, const double *U, double *f,
                    double *g, size_t D, double *ws)
{
    size_t i;
    int rv = axl__gp_logei_ws(gp, best_f, m, U, f, g, ws);
    if (rv != 0)
        return rv;
    for (i = 0; i < m; i++)
        f[i] = isfinite(f[i]) ? -f[i] : 1e300;
    if (g != NULL)
        for (i = 0; i < m * D; i++)
            g[i] = isfinite(g[i]) ? -g[i] : 0.0;
    return 0;
}

static int feasible_unit(size_t D, size_t nc, const double *A, const double *b, const double *u)
{
    size_t j, i;
    for (j = 0; j < nc; j++) {
        double s = 0;
        for (i = 0; i < D; i++)
            s += A[j * D + i] * u[i];
        if (s > b[j] + 1e-9 * (1.0 + fabs(b[j])))
            return 0;
    }
    return 1;
}

/* Next direction for one search: projected quasi-Newton on the free variables. */
static void qn_direction(qn *q, size_t D, int *fixed)
{
    size_t i, j;
    double gd = 0, pg = 0, mx = 0;

    for (i = 0; i < D; i++) {
        fixed[i] = (q->x[i] <= 1e-12 && q->g[i] > 0) || (q->x[i] >= 1 - 1e-12 && q->g[i] < 0);
        if (!fixed[i] && fabs(q->g[i]) > pg)
            pg = fabs(q->g[i]);
    }
    if (pg < 1e-9) {
        q->state = QN_DONE;
        return;
    }
    for (i = 0; i < D; i++) {
        double s = 0;
        if (!fixed[i])
            for (j = 0; j < D; j++)
                if (!fixed[j])
                    s -= q->H[i * D + j] * q->g[j];
        q->dir[i] = s;
        gd += s * q->g[i];
    }
    if (!(gd < 0)) {
        /* not a descent direction: restart from steepest descent */
        h_identity(q->H, D, 1.0);
        q->fresh_h = 1;
        for (i = 0; i < D; i++)
            q->dir[i] = fixed[i] ? 0.0 : -q->g[i];
    }
    for (i = 0; i < D; i++)
        if (fabs(q->dir[i]) > mx)
            mx = fabs(q->dir[i]);
    /* never jump more than a quarter of the cube in one step */
    q->t = mx > 0.25 ? 0.25 / mx : 1.0;
    q->state = QN_LS;
}

static void bfgs_update(qn *q, size_t D, double *tmp)
{
    size_t i, j;
    double sy = 0, yy = 0, ss = 0, yHy = 0, rho;
    double *s = tmp, *y = tmp + D, *Hy = tmp + 2 * D;

    for (i = 0; i < D; i++) {
        s[i] = q->xt[i] - q->x[i];
        y[i] = q->gt[i] - q->g[i];
        sy += s[i] * y[i];
        yy += y[i] * y[i];
        ss += s[i] * s[i];
    }
    if (!(sy > 1e-10 * sqrt(ss * yy)) || yy == 0)
        return; /* curvature condition fails: keep H */
    if (q->fresh_h) {
        h_identity(q->H, D, sy / yy);
        q->fresh_h = 0;
    }
    rho = 1.0 / sy;
    for (i = 0; i < D; i++) {
        double t = 0;
        for (j = 0; j < D; j++)
            t += q->H[i * D + j] * y[j];
        Hy[i] = t;
        yHy += y[i] * t;
    }
    /* H+ = H - rho (Hy s^T + s y^T H) + (rho^2 yHy + rho) s s^T */
    for (i = 0; i < D; i++)
        for (j = 0; j < D; j++)
            q->H[i * D + j] +=
                -rho * (Hy[i] * s[j] + s[i] * Hy[j]) + (rho * rho * yHy + rho) * s[i] * s[j];
}

typedef struct scored {
    double v;
    size_t i;
} scored;

static int cmp_scored_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->v, y = ((const scored *)b)->v;
    return (x < y) - (x > y);
}

/*
 * LogEI of the nr raw points where it can matter: only the best R start local
 * searches. An upper bound from the first PRUNE_NB training points (axl__gp_logei_ub,
 * O(PRUNE_NB^2) per point instead of O(n^2)) orders the points; they are scored
 * exactly in that order, in batches, until the next bound is below the R-th best exact
 * value so far: every point left has a smaller value, so the best R are the ones a
 * full scoring finds. The others get -inf. Late in a campaign most raw points are far
 * below the incumbents (measured at n = 500: ~85% prunable after 64 rows at d = 6,
 * ~99% at d = 4). sc: nr scratch entries; ws: as for a chunk of CH without gradient.
 */
#define PRUNE_MIN_N 96
#define PRUNE_NB 64
#define PRUNE_BATCH 32
static int score_pruned(const axl_gp *gp, double best_f, size_t D, size_t nr, const double *raw,
                        size_t R, size_t CH, double *val, scored *sc, double *ws)
{
    double *ub = malloc(nr * sizeof(double)), *xb = malloc(PRUNE_BATCH * D * sizeof(double));
    double *top = malloc(R * sizeof(double)), vb[PRUNE_BATCH];
    size_t i, j, ntop = 0;
    int rv = AXL_ENOMEM;

    if (ub == NULL || xb == NULL || top == NULL)
        goto done;
    for (i = 0; i < nr; i += CH) {
        size_t m = nr - i < CH ? nr - i : CH;
        if ((rv = axl__gp_logei_ub(gp, best_f, m, raw + i * D, PRUNE_NB, ub + i, ws)) != 0)
            goto done;
    }
    for (i = 0; i < nr; i++) {
        val[i] = -INFINITY;
        sc[i].v = isfinite(ub[i]) ? ub[i] : (ub[i] > 0 ? 1e300 : -1e300);
        sc[i].i = i;
    }
    qsort(sc, nr, sizeof(scored), cmp_scored_desc);
    for (i = 0; i < nr;) {
        size_t m = 0;
        /* top[0] is the smallest of the best ntop exact values (R of them once full) */
        if (ntop == R && sc[i].v < top[0] - 1e-9 * (1.0 + fabs(top[0])))
            break;
        for (j = i; j < nr && m < PRUNE_BATCH; j++, m++)
            memcpy(xb + m * D, raw + sc[j].i * D, D * sizeof(double));
        if ((rv = axl__gp_logei_ws(gp, best_f, m, xb, vb, NULL, ws)) != 0)
            goto done;
        for (j = 0; j < m; j++) {
            double v = isfinite(vb[j]) ? vb[j] : -1e300;
            size_t k;
            val[sc[i + j].i] = vb[j];
            if (ntop == R && v <= top[0])
                continue;
            /* insert into the ascending array of the best R (dropping its smallest
             * when full) */
            if (ntop < R) {
                k = ntop++;
                while (k > 0 && top[k - 1] > v) {
                    top[k] = top[k - 1];
                    k--;
                }
            } else {
                k = 0;
                while (k + 1 < R && top[k + 1] < v) {
                    top[k] = top[k + 1];
                    k++;
                }
            }
            top[k] = v;
        }
        i += m;
    }
    rv = 0;
done:
    free(ub);
    free(xb);
    free(top);
    return rv;
}

int axl__acq_optimize(const axl_gp *gp, double best_f, const axl_space *s, const axl__layout *lay,
                      size_t nc, const double *A, const double *b, const double *U_extra,
                      size_t n_extra, const axl__acq_cfg *cfg, size_t n_out, double *U,
                      double *vals, size_t *n_found)
{
    const size_t D = lay->D, CH = 256;
    size_t n_raw = cfg->n_raw > 0 ? (size_t)cfg->n_raw : 1024;
    size_t R = cfg->n_restarts > 0 ? (size_t)cfg->n_restarts : 12;
    size_t cap = n_raw + n_extra, nr = 0, i, j, r, drawn = 0;
    double *raw = NULL, *rv_ = NULL, *bx = NULL, *bf = NULL, *bg = NULL, *work = NULL;
    double *mem = NULL, *tmp = NULL, *ws = NULL;
    scored *sc = NULL;
    qn *qs = NULL;
    int *fixed = NULL, rv = AXL_ENOMEM;
    size_t nq, rounds, max_rounds = cfg->max_iter > 0 ? (size_t)cfg->max_iter + 20 : 80;

    *n_found = 0;
    raw = malloc(cap * D * sizeof(double));
    rv_ = malloc(cap * sizeof(double));
    sc = malloc(cap * sizeof(scored));
    work = malloc(2 * (nc + 2) * D * sizeof(double));
    tmp = malloc(3 * D * sizeof(double));
    fixed = malloc(D * sizeof(int));
    /* one scratch for every LogEI batch: raw chunks without gradient, the local
     * searches (at most R points) with */
    {
        size_t a = axl__gp_logei_ws_size(gp, CH, 0), b2 = axl__gp_logei_ws_size(gp, R, 1);
        ws = malloc(((a > b2 ? a : b2) + 1) * sizeof(double));
    }
    if (!raw || !rv_ || !sc || !work || !tmp || !fixed || !ws)
        goto done;

    /* 1. raw candidates: a fresh scrambled Sobol set per generation (seeded), one-hot
     * blocks snapped, constraints enforced by rejection (at most 8x over-drawing) */
    {
        double *buf = malloc(CH * D * sizeof(double));
        if (buf == NULL)
            goto done;
        while (nr < n_raw && drawn < 8 * n_raw) {
            if ((rv = axl_sobol_fill((unsigned)D, cfg->seed, drawn, CH, buf)) != 0) {
                free(buf);
                goto done;
            }
            drawn += CH;
            for (i = 0; i < CH && nr < n_raw; i++) {
                double *u = raw + nr * D;
                memcpy(u, buf + i * D, D * sizeof(double));
                axl__snap_onehot(s, lay, u);
                if (feasible_unit(D, nc, A, b, u))
                    nr++;
            }
        }
        free(buf);
        rv = AXL_ENOMEM;
    }
    for (i = 0; i < n_extra; i++) {
        double *u = raw + nr * D;
        memcpy(u, U_extra + i * D, D * sizeof(double));
        axl__project(D, nc, A, b, u, work);
        axl__snap_onehot(s, lay, u);
        if (feasible_unit(D, nc, A, b, u))
            nr++;
    }
    if (nr == 0) {
        rv = 0;
        goto done;
    }

    /* 2. score them in chunks (bounded memory at large n); only the best R matter */
    if (axl__gp_n(gp) >= PRUNE_MIN_N && nr > R) {
        if ((rv = score_pruned(gp, best_f, D, nr, raw, R, CH, rv_, sc, ws)) != 0)
            goto done;
    } else {
        for (i = 0; i < nr; i += CH) {
            size_t m = nr - i < CH ? nr - i : CH;
            if ((rv = axl__gp_logei_ws(gp, best_f, m, raw + i * D, rv_ + i, NULL, ws)) != 0)
                goto done;
        }
    }
    for (i = 0; i < nr; i++) {
        sc[i].v = isfinite(rv_[i]) ? rv_[i] : -1e300;
        sc[i].i = i;
    }
    qsort(sc, nr, sizeof(scored), cmp_scored_desc);

    /* 3. the best R distinct raw points start the local searches */
    nq = R < nr ? R : nr;
    qs = calloc(nq, sizeof(qn));
    mem = malloc(nq * (5 * D + D * D) * sizeof(double));
    bx = malloc(nq * D * sizeof(double));
    bf = malloc(nq * sizeof(double));
    bg = malloc(nq * D * sizeof(double));
    if (!qs || !mem || !bx || !bf || !bg) {
        rv = AXL_ENOMEM;
        goto done;
    }
    for (r = 0; r < nq; r++) {
        double *base = mem + r * (5 * D + D * D);
        qs[r].x = base;
        qs[r].g = base + D;
        qs[r].dir = base + 2 * D;
        qs[r].xt = base + 3 * D;
        qs[r].gt = base + 4 * D;
        qs[r].H = base + 5 * D;
        memcpy(qs[r].x, raw + sc[r].i * D, D * sizeof(double));
        memcpy(bx + r * D, qs[r].x, D * sizeof(double));
        h_identity(qs[r].H, D, 1.0);
        qs[r].fresh_h = 1;
    }
    if ((rv = eval_neg(gp, best_f, nq, bx, bf, bg, D, ws)) != 0)
        goto done;
    for (r = 0; r < nq; r++) {
        qs[r].f = bf[r];
        memcpy(qs[r].g, bg + r * D, D * sizeof(double));
        qs[r].state = QN_DIR;
    }

    /* 4. lock-step projected BFGS */
    for (rounds = 0; rounds < max_rounds; rounds++) {
        size_t m = 0;
        for (r = 0; r < nq; r++) {
            qn *q = &qs[r];
            if (q->state == QN_DIR) {
                if ((int)q->iter >= cfg->max_iter)
                    q->state = QN_DONE;
                else
                    qn_direction(q, D, fixed);
            }
            if (q->state == QN_LS) {
                for (i = 0; i < D; i++)
                    q->xt[i] = q->x[i] + q->t * q->dir[i];
                axl__project(D, nc, A, b, q->xt, work);
                memcpy(bx + m * D, q->xt, D * sizeof(double));
                m++;
            }
        }
        if (m == 0)
            break;
        if ((rv = eval_neg(gp, best_f, m, bx, bf, bg, D, ws)) != 0)
            goto done;
        for (r = 0, j = 0; r < nq; r++) {
            qn *q = &qs[r];
            double decr = 0, step = 0;
            if (q->state != QN_LS)
                continue;
            q->ft = bf[j];
            memcpy(q->gt, bg + j * D, D * sizeof(double));
            j++;
            for (i = 0; i < D; i++) {
                decr += q->g[i] * (q->xt[i] - q->x[i]);
                step = fmax(step, fabs(q->xt[i] - q->x[i]));
            }
            if (q->ft <= q->f + 1e-4 * decr && step > 0) {
                double old = q->f;
                bfgs_update(q, D, tmp);
                memcpy(q->x, q->xt, D * sizeof(double));
                memcpy(q->g, q->gt, D * sizeof(double));
                q->f = q->ft;
                q->iter++;
                if (old - q->f < 1e-9 * (1.0 + fabs(q->f)))
                    q->stall++;
                else
                    q->stall = 0;
                q->state = q->stall >= 3 ? QN_DONE : QN_DIR;
            } else if (step < 1e-10) {
                /* the line search collapsed: a last try along the gradient, then stop */
                if (!q->fresh_h) {
                    h_identity(q->H, D, 1.0);
                    q->fresh_h = 1;
                    q->state = QN_DIR;
                } else {
                    q->state = QN_DONE;
                }
            } else {
                q->t *= 0.3;
            }
        }
    }

    /* 5. distinct local optima, best first */
    for (r = 0; r < nq; r++) {
        sc[r].v = -qs[r].f;
        sc[r].i = r;
    }
    qsort(sc, nq, sizeof(scored), cmp_scored_desc);
    for (r = 0; r < nq && *n_found < n_out; r++) {
        const double *x = qs[sc[r].i].x;
        size_t k2;
        int dup = 0;
        for (k2 = 0; k2 < *n_found && !dup; k2++) {
            double mx = 0;
            for (i = 0; i < D; i++)
                mx = fmax(mx, fabs(U[k2 * D + i] - x[i]));
            dup = mx < 1e-6;
        }
        if (dup)
            continue;
        memcpy(U + *n_found * D, x, D * sizeof(double));
        vals[*n_found] = sc[r].v;
        (*n_found)++;
    }
    rv = 0;
done:
    free(raw);
    free(rv_);
    free(sc);
    free(work);
    free(tmp);
    free(fixed);
    free(qs);
    free(mem);
    free(bx);
    free(bf);
    free(bg);
    free(ws);
    return rv;
}
