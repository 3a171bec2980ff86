/*
 * axl_moo.h - several objectives and outcome constraints: Pareto fronts, exact
 * hypervolume, box decompositions, log-space expected hypervolume improvement,
 * log probability of feasibility, and a generator that models every outcome with its
 * own GP (axl_moo_generate).
 *
 * Same conventions as axl_model.h (pure math, no globals, no I/O; "borrowed" pointers
 * are read during the call only; returned objects are caller-owned and released with
 * the matching _free()). Every vector here is in MAXIMIZATION convention: a point y
 * dominates z when y >= z in every coordinate and y != z; the reference point r is a
 * lower corner, and the hypervolume of a set is the volume of the union of the boxes
 * [r, y] over its points y > r.
 */
#ifndef AXL_MOO_H
#define AXL_MOO_H

#include <stddef.h>
#include <stdint.h>

#include "engine/model/axl_model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXL_MOO_MAX_OBJECTIVES 4 /* objectives of one experiment */
#define AXL_MOO_MAX_OUTCOMES 8   /* modelled outcomes: objectives + constraints */

/* ------------------------------------------------------------- Pareto */

/*
 * mask[i] = 1 when row i of Y (n rows of m, borrowed) is not dominated by another row
 * and is not a duplicate of an earlier row; else 0. Rows with a NaN are never on the
 * front. Returns the number of rows kept. O(n^2 m).
 */
size_t axl_pareto_mask(size_t n, size_t m, const double *Y, unsigned char *mask);

/*
 * Exact hypervolume of the rows of Y (n x m, borrowed, m = 1..AXL_MOO_MAX_OBJECTIVES)
 * that are > ref in every coordinate; rows at or below ref in some coordinate add
 * nothing. Slicing along the last objective (HSO); O(n log n) for m = 2, O(n^2 log n)
 * for m = 3. Returns -1 on bad arguments or out of memory.
 */
double axl_hypervolume(size_t n, size_t m, const double *Y, const double *ref);

/*
 * Box decomposition of the region {y >= ref} that no row of Y dominates: disjoint
 * boxes [lo, hi] whose union is that region (hi may be +INFINITY). The hypervolume
 * improvement of a new point y is then sum_k prod_j (min(y_j, hi_kj) - lo_kj)_+.
 * *lo and *hi (caller-owned, free()) receive nb*m doubles each; *nb the box count.
 * AXL_EINVAL (m out of range), AXL_ENOMEM.
 */
int axl_box_decomp(size_t n, size_t m, const double *Y, const double *ref, size_t *nb, double **lo,
                   double **hi);

/*
 * The reference point Ax infers when no objective thresholds are given (BoTorch's
 * infer_reference_point with scale 0.1): on the Pareto front of Y (n x m, maximized),
 * nadir = the per-coordinate minimum, ideal = the maximum; ref = nadir - 0.1 (ideal -
 * nadir), and where that range is 0, nadir - 0.1 |nadir| (or -0.1 at 0). n = 0 gives
 * 0. ref: caller-owned, m doubles.
 */
void axl_infer_ref_point(size_t n, size_t m, const double *Y, double *ref);

/* ------------------------------------------------ acquisition pieces */

/*
 * log EHVI for m independent Gaussian outcomes N(mu_j, sd_j^2) (sd_j > 0) over the nb
 * boxes of a decomposition (lo, hi: nb*m, borrowed):
 *   EHVI = sum_k prod_j (psi_j(lo_kj) - psi_j(hi_kj)),  psi(a) = E[(Y - a)_+] = sd h(z),
 * computed as a log-sum-exp of per-box log products, so it stays finite where EHVI
 * underflows. dmu, dsd (m each, NULL to skip) receive its derivatives. nb = 0 gives
 * -INFINITY.
 */
double axl_log_ehvi(size_t nb, size_t m, const double *lo, const double *hi, const double *mu,
                    const double *sd, double *dmu, double *dsd);

/*
 * log P(Y <= bound) for Y ~ N(mu, sd^2), stable deep in both tails; *dmu, *dsd (NULL to
 * skip) its derivatives. A constraint "y >= b" is log_pof(b', -mu, sd) with b' = -b.
 */
double axl_log_pof(double bound, double mu, double sd, double *dmu, double *dsd);

/* ---------------------------------------------------- generation */

typedef enum {
    AXL_OUTCOME_OBJECTIVE = 0,  /* maximized (after `minimize` is applied) */
    AXL_OUTCOME_CONSTRAINT = 1, /* value <= bound (after `minimize` flips a >=) */
} axl_outcome_role;

/*
 * One modelled outcome: a metric that is an objective or a constraint. A constraint
 * "y >= b" is written {CONSTRAINT, geq = 1, bound = b}.
 */
typedef struct axl_outcome {
    axl_outcome_role role;
    int minimize;     /* OBJECTIVE: 1 minimize, 0 maximize */
    double threshold; /* OBJECTIVE: worst acceptable value (reference point); NaN = infer */
    int geq;          /* CONSTRAINT: 1 for y >= bound, 0 for y <= bound */
    double bound;     /* CONSTRAINT */
} axl_outcome;

/* Hyper-parameters kept between generations, one set per outcome (warm starts). */
typedef struct axl_moo_state {
    uint32_t n_outcomes;
    uint32_t hyper_dims; /* D the sets belong to; 0 = none yet */
    double hyper[AXL_MOO_MAX_OUTCOMES][AXL_MODEL_MAX_HYPER];
} axl_moo_state;

typedef struct axl_moo_input {
    const axl_space *space;        /* borrowed */
    size_t n_outcomes;             /* 1..AXL_MOO_MAX_OUTCOMES, >= 1 objective */
    const axl_outcome *outcomes;   /* borrowed, n_outcomes */
    size_t n_obs;                  /* observed trials */
    const double *X;               /* borrowed, n_obs*n_params */
    const double *Y;               /* borrowed, n_obs*n_outcomes; all finite */
    size_t n_pending;              /* CANDIDATE, STAGED and RUNNING trials */
    const double *X_pending;       /* borrowed, n_pending*n_params */
    size_t k;                      /* candidates wanted */
    const axl_gen_step *step;      /* borrowed: the current step */
    const axl_model_state *state;  /* borrowed: Sobol index, seeds, generation count */
    const axl_moo_state *mstate;   /* borrowed, NULL = no warm starts */
    const axl_model_options *opts; /* borrowed, NULL = defaults */
} axl_moo_input;

typedef struct axl_moo_output {
    double *X;             /* caller-owned, k*n_params; n rows filled */
    size_t n;              /* candidates produced */
    const char *method;    /* static: "Sobol", "GP-LogEHVI", "GP-LogCEI", "GP-LogPoF" */
    axl_model_state state; /* to store after this generation */
    axl_moo_state mstate;  /* to store after this generation */
    double ref[AXL_MOO_MAX_OBJECTIVES]; /* reference point used (objective units) */
    int ref_inferred;                   /* 1 when some threshold was inferred */
    double fit_ms, acq_ms, best_acq;    /* timings; acquisition value of candidate 0 */
} axl_moo_output;

/*
 * Like axl_model_generate, for several outcomes: one GP per outcome (Matern-5/2 ARD,
 * standardized, MAP, warm-started from mstate), then
 *  - 2+ objectives: log EHVI (exact box decomposition of the feasible observed front
 *    plus the pending points' posterior means) + the constraints' log PoF;
 *  - 1 objective with constraints: LogEI over the best feasible observation + log PoF;
 *  - no feasible observation yet: the log PoF alone (feasibility first).
 * Pending points and earlier candidates of the batch enter as Kriging believers
 * (sequential greedy batch). AXL_EINVAL, AXL_ENOMEM, AXL_EEXHAUSTED.
 */
int axl_moo_generate(const axl_moo_input *in, axl_moo_output *out, axl_errbuf *eb);

/* ---------------------------------------------------- test problems */

/* BraninCurrin on [0,1]^2 (both minimized; BoTorch's reference point (18, 6)). */
void axl_testfn_branincurrin(const double *x, double *f2);
/* DTLZ2 with 2 objectives on [0,1]^d (minimized; reference point (1.1, 1.1); true
 * hypervolume 1.21 - pi/4). */
void axl_testfn_dtlz2(size_t d, const double *x, double *f2);

#ifdef __cplusplus
}
#endif

#endif
