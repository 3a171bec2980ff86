/*
 * axl_model.h - axle's optimizer: scrambled Sobol, a Matern-5/2 ARD Gaussian process
 * with MAP hyper-parameters, LogEI, pending points and the generation strategy.
 *
 * Pure math. No globals, no I/O, no locks: every function works on the arguments it
 * is given, so the engine may call axl_model_generate() from libuv's thread pool on
 * an immutable snapshot while other threads run other generations. Two calls never
 * share mutable data unless the caller passes the same output object to both (don't).
 *
 * Conventions (as in the rest of axle):
 *  - Functions return 0 or a negative AXL_E... code (proto/axl_error.h). When an
 *    axl_errbuf is passed it receives one human-readable line on error.
 *  - "borrowed" pointers are read during the call only; the library keeps no
 *    reference after it returns. "caller-owned" output buffers are written by the
 *    library and must have the documented size. Objects returned through `**out`
 *    are owned by the caller and released with the matching _free().
 *  - A point in parameter space is a double[n_params]: a range parameter holds its
 *    value, a choice parameter the index of its value (0..n_choices-1), a fixed
 *    parameter its value.
 *  - The GP works in the "model space": the unit cube [0,1]^D, D = sum over
 *    parameters of 1 (range, ordered choice), n_choices (unordered choice, one-hot)
 *    or 0 (fixed). Outcomes are standardized and always maximized internally.
 *
 * Numerical failures (a Gram matrix that is not positive definite) are handled by
 * escalating jitter and reported in axl_model_diag; they are never fatal. The library
 * never makes GSL report an error through gsl_error() (which would abort with GSL's
 * default handler) except on out-of-memory inside GSL's own allocators.
 */
#ifndef AXL_MODEL_H
#define AXL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/axl_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ limits */

#define AXL_MODEL_MAX_PARAMS 64 /* parameters in a search space */
#define AXL_MODEL_MAX_DIMS 64   /* model-space dimensions (after one-hot) */
#define AXL_MODEL_MAX_HYPER (AXL_MODEL_MAX_DIMS + 3)
#define AXL_MODEL_MAX_CHOICES 64 /* values of one choice parameter */
#define AXL_GS_MAX_STEPS 8       /* steps of a generation strategy */

/* ------------------------------------------------------------ search space */

typedef enum {
    AXL_PARAM_FLOAT = 0,  /* range [lower, upper], continuous */
    AXL_PARAM_INT = 1,    /* range [lower, upper], integers (relaxed, then rounded) */
    AXL_PARAM_CHOICE = 2, /* one of n_choices values, represented by its index */
    AXL_PARAM_FIXED = 3   /* always `value`; not modelled */
} axl_param_type;

typedef struct axl_param {
    axl_param_type type;
    double lower, upper; /* FLOAT/INT: inclusive bounds, lower < upper (INT: integers) */
    int log_scale;       /* FLOAT/INT: model log(x); needs lower > 0 */
    int n_choices;       /* CHOICE: 2..AXL_MODEL_MAX_CHOICES */
    int ordered;         /* CHOICE: 1 = ordinal (one relaxed dimension), 0 = one-hot */
    double value;        /* FIXED: the value */
} axl_param;

/*
 * sum_i w[i] * x[i] <= bound. w is borrowed and has n_params entries; a non-zero
 * weight is allowed only on FLOAT/INT parameters without log scale (as in Ax).
 */
typedef struct axl_linear_constraint {
    const double *w;
    double bound;
} axl_linear_constraint;

/* All pointers borrowed; the arrays must stay valid while a call uses the space. */
typedef struct axl_space {
    size_t n_params;
    const axl_param *params;
    size_t n_constraints;
    const axl_linear_constraint *constraints;
} axl_space;

/* Validates the space. 0 or AXL_EINVAL (eb says which parameter and why). */
int axl_space_check(const axl_space *s, axl_errbuf *eb);

/* Model-space dimension D of a valid space. */
size_t axl_space_dims(const axl_space *s);

/*
 * Parameter point x (n_params) -> model point u (D). Values outside the bounds are
 * mapped outside [0,1] (not clipped). Returns AXL_EINVAL on a NaN or an invalid
 * choice index.
 */
int axl_space_to_unit(const axl_space *s, const double *x, double *u);

/*
 * Model point u (D) -> parameter point x (n_params): clips to the bounds, undoes the
 * log scale, rounds INT parameters and ordinal choices to the nearest integer,
 * picks the arg-max of a one-hot block, and sets fixed parameters.
 */
void axl_space_from_unit(const axl_space *s, const double *u, double *x);

/* 1 if x is inside the bounds (to 1e-9 relative) and satisfies every constraint. */
int axl_space_feasible(const axl_space *s, const double *x);

/* 1 if a and b denote the same arm (same discrete values, range values equal to
 * within 1e-6 of the range width). */
int axl_space_same_point(const axl_space *s, const double *a, const double *b);

/*
 * A hash index of arms (points in parameter space) for de-duplication: a query costs
 * O(1) instead of a scan over every known point, and its answer is the scan's
 * (axl_space_same_point). Points are appended with an id of the caller's; a query
 * may filter the matches by id (e.g. by the trial's current status).
 * Not thread-safe: one owner at a time.
 */
typedef struct axl_point_index axl_point_index;

/* *out caller-owned (axl_point_index_free); s borrowed, must outlive the index.
 * AXL_ENOMEM. */
int axl_point_index_new(const axl_space *s, axl_point_index **out);
void axl_point_index_free(axl_point_index *ix);

/* Appends a copy of x (n_params) with `id`. AXL_ENOMEM (the index is unchanged). */
int axl_point_index_add(axl_point_index *ix, const double *x, uint32_t id);

/*
 * 1 if a stored point is the same arm as x and accept(ctx, id) returns non-zero for it
 * (accept NULL: any), else 0. accept is called synchronously, for matches only.
 */
int axl_point_index_find(const axl_point_index *ix, const double *x,
                         int (*accept)(void *ctx, uint32_t id), void *ctx);

/* Points stored. */
size_t axl_point_index_count(const axl_point_index *ix);

/* --------------------------------------------------------------- Sobol */

/*
 * Points first .. first+count-1 of the scrambled Sobol sequence in [0,1)^dim,
 * row-major into out (caller-owned, count*dim doubles). The scramble (random
 * linear matrix scramble + digital shift, derived from seed) makes point n a pure
 * function of (seed, dim, n): a resumed campaign continues the same sequence.
 * dim 1..40 uses GSL's Sobol direction numbers; 41..AXL_MODEL_MAX_DIMS a
 * seeded-shift Halton sequence.
 */
int axl_sobol_fill(unsigned dim, uint64_t seed, uint64_t first, size_t count, double *out);

/* ------------------------------------------------------------------ GP */

typedef enum {
    /* lengthscale Gamma(3,6), outputscale Gamma(2,0.15), noise Gamma(1.1,0.05) */
    AXL_PRIOR_GAMMA = 0,
    /* lengthscale LogNormal(sqrt2 + log(D)/2, sqrt3) (Hvarfner et al. 2024),
     * outputscale Gamma(2,0.15), noise LogNormal(-4,1) */
    AXL_PRIOR_LOGNORMAL = 1
} axl_gp_prior;

/*
 * Hyper-parameter vector layout ("theta", length D+3), in the optimizer's space:
 *   theta[0..D)  log lengthscales
 *   theta[D]     log outputscale (kernel variance)
 *   theta[D+1]   log(noise variance - min_noise)   (ignored when noise is fixed)
 *   theta[D+2]   constant mean
 * All in standardized-outcome units.
 */
#define AXL_GP_N_HYPER(D) ((D) + 3)

typedef struct axl_gp_config {
    axl_gp_prior prior;
    double min_noise; /* lower bound of the inferred noise variance (standardized) */
    int n_starts;     /* optimizer starts without a warm start (>= 1) */
    int max_iter;     /* BFGS iterations per start */
    int screen_iter;  /* cold fits with several starts on >= 24 points: iterations each
                       * start gets before only the best one continues (0: every start
                       * runs to the end) */
    int short_warm_n; /* from this n on a warm start gets 4 BFGS iterations per
                       * generation instead of 30 (0: 65, the default) */
} axl_gp_config;

/* An immutable fitted GP (training data, hyper-parameters, Cholesky factor). */
typedef struct axl_gp axl_gp;

/* Fit diagnostics. */
typedef struct axl_gp_info {
    double objective; /* log marginal likelihood + log prior at the optimum */
    int n_evals;      /* likelihood evaluations (each with gradient) */
    int n_starts;     /* optimizer starts used */
    double jitter;    /* largest diagonal jitter added (0 = none) */
    int n_jitter;     /* how many factorizations needed jitter */
} axl_gp_info;

/*
 * Fits a GP by MAP on n points of dimension d in model space.
 *  X: borrowed, n*d row-major; y: borrowed, n outcomes (standardized, maximized);
 *  noise_var: borrowed, NULL (infer a homoscedastic noise) or n known noise
 *    variances (a NaN entry is unknown: then a homoscedastic noise is inferred and
 *    added to the known ones);
 *  warm: borrowed, NULL or a theta (D+3) to start from (one start, then a second
 *    from the prior mode only if the warm start fails);
 *  fixed_theta: when non-zero, warm is used as is, no optimization.
 *  *out: caller-owned, release with axl_gp_free(). info may be NULL.
 * n may be 0 (prior GP). AXL_EINVAL, AXL_ENOMEM.
 */
int axl_gp_fit(size_t n, size_t d, const double *X, const double *y, const double *noise_var,
               const axl_gp_config *cfg, const double *warm, int fixed_theta, axl_gp **out,
               axl_gp_info *info, axl_errbuf *eb);

void axl_gp_free(axl_gp *gp);

/* The fitted theta (D+3 doubles) into out. */
void axl_gp_theta(const axl_gp *gp, double *out);

/*
 * A new GP with the same hyper-parameters conditioned on m more points Xp (m*d,
 * borrowed) whose outcomes are the current posterior mean ("Kriging believer"):
 * the mean is unchanged, the variance shrinks around Xp. *out caller-owned.
 */
int axl_gp_condition_believer(const axl_gp *gp, size_t m, const double *Xp, axl_gp **out);

/* Posterior of the latent function at m points Xs (m*d): mean[m], var[m] (either may
 * be NULL). */
int axl_gp_predict(const axl_gp *gp, size_t m, const double *Xs, double *mean, double *var);

/*
 * The MAP objective (log marginal likelihood + log prior) and its gradient (D+3,
 * NULL to skip) at theta, for tests and diagnostics. Same data arguments as fit.
 */
int axl_gp_map_objective(size_t n, size_t d, const double *X, const double *y,
                         const double *noise_var, const axl_gp_config *cfg, const double *theta,
                         double *value, double *grad);

/*
 * Matern-5/2 ARD kernel k(a, b) with lengthscales ls[d] and variance s2; when
 * grad_a is not NULL it receives dk/da (d doubles).
 */
double axl_gp_kernel(size_t d, const double *ls, double s2, const double *a, const double *b,
                     double *grad_a);

/* ----------------------------------------------------------------- LogEI */

/*
 * log(phi(z) + z*Phi(z)), stable for all z where plain EI underflows (z << 0);
 * *dz (may be NULL) receives its derivative.
 */
double axl_logei_h(double z, double *dz);

/*
 * LogEI(x) = log E[max(f(x) - best_f, 0)] under the GP posterior, for m points Xs
 * (m*d, borrowed) at once: val[m], grad (m*d, NULL to skip). The posterior
 * variance is clamped at 1e-12 (as BoTorch does), so val is always finite.
 */
int axl_gp_logei(const axl_gp *gp, double best_f, size_t m, const double *Xs, double *val,
                 double *grad);

/* ------------------------------------------------- generation strategy */

typedef enum { AXL_GEN_SOBOL = 0, AXL_GEN_GP_LOGEI = 1 } axl_gen_model;

typedef struct axl_gen_step {
    axl_gen_model model;
    int num_trials;          /* trials this step generates; -1 = unlimited */
    int min_trials_observed; /* completed trials of this step before moving on */
    int max_parallelism;     /* RUNNING trials of this step at once; -1 = no limit */
    int enforce_num_trials;  /* 1: never exceed num_trials (wait for data instead) */
    uint64_t seed;           /* mixed into this step's random streams */
} axl_gen_step;

typedef struct axl_gen_strategy {
    size_t n_steps;
    axl_gen_step steps[AXL_GS_MAX_STEPS];
} axl_gen_strategy;

/*
 * Ax's default: Sobol for max(5, 2*D') trials (D' = number of non-fixed
 * parameters), min_trials_observed = ceil(that/2), enforced; then GP-LogEI,
 * unlimited, max_parallelism 3.
 */
int axl_gs_auto(const axl_space *s, uint64_t seed, axl_gen_strategy *out);

/* Checks step values (num_trials, counts, last step). AXL_EINVAL on nonsense. */
int axl_gs_check(const axl_gen_strategy *gs, axl_errbuf *eb);

/* What the engine counts per step (trials tagged with the step that made them). */
typedef struct axl_gs_counts {
    long generated; /* trials of the step, excluding FAILED and ABANDONED */
    long completed; /* trials of the step with data (COMPLETED, EARLY_STOPPED) */
    long running;   /* trials of the step in RUNNING */
} axl_gs_counts;

typedef enum {
    AXL_GS_READY = 0,           /* generate *k_now candidates with step *step */
    AXL_GS_NEEDS_DATA = 1,      /* wait for min_trials_observed of the current step */
    AXL_GS_MAX_PARALLELISM = 2, /* wait for a RUNNING trial of the step to finish */
    AXL_GS_EXHAUSTED = 3        /* the last step is done: no more trials */
} axl_gs_verdict;

/* ---------------------------------------------------------- model state */

#define AXL_MODEL_STATE_VERSION 3

/*
 * Everything a campaign must persist between generations. A plain struct of
 * fixed-size numbers; axl_model_state_encode() gives a portable little-endian byte
 * form (AXL_MODEL_STATE_BYTES long) for storage. Version 1 states (without
 * hyper_gap) and version 2 states (without the prequential scores) still decode.
 */
typedef struct axl_model_state {
    uint32_t version;                  /* AXL_MODEL_STATE_VERSION */
    uint32_t step;                     /* current step of the strategy */
    uint64_t seed;                     /* campaign seed */
    uint64_t sobol_index;              /* next index into the scrambled Sobol sequence */
    uint64_t n_gen;                    /* GP generations so far (acquisition random stream) */
    uint32_t hyper_dims;               /* D the hyper-parameters belong to; 0 = no previous fit */
    uint32_t n_hyper;                  /* valid entries of hyper (D+3 or 0) */
    double hyper[AXL_MODEL_MAX_HYPER]; /* last MAP theta (standardized outcomes) */
    uint32_t outcome_tf;               /* transform chosen last (axl_outcome_tf 0, 1 or 3) */
    uint32_t n_hyper_log;              /* valid entries of hyper_log (D+3 or 0) */
    double hyper_log[AXL_MODEL_MAX_HYPER]; /* last MAP theta (log outcomes) */
    uint32_t n_hyper_gap;                  /* valid entries of hyper_gap (D+3 or 0) */
    double hyper_gap[AXL_MODEL_MAX_HYPER]; /* last MAP theta (gap-log outcomes) */
    /* prequential scores (version 3): each transform's log predictive density of the
     * observations that arrived between GP generations, predicted by its GP as it was
     * fitted before they arrived (in the units of y, so the three are comparable) */
    uint32_t n_obs_prev; /* observations the last GP generation saw (0 = none yet) */
    uint32_t n_preq;     /* observations scored so far */
    double preq[3];      /* accumulated score: standardize, log, gap-log */
} axl_model_state;

#define AXL_MODEL_STATE_BYTES_V1 (4 + 4 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 16 * AXL_MODEL_MAX_HYPER)
#define AXL_MODEL_STATE_BYTES_V2 (AXL_MODEL_STATE_BYTES_V1 + 4 + 8 * AXL_MODEL_MAX_HYPER)
#define AXL_MODEL_STATE_BYTES (AXL_MODEL_STATE_BYTES_V2 + 4 + 4 + 3 * 8)

void axl_model_state_init(axl_model_state *st, uint64_t seed);

/* buf caller-owned, cap >= AXL_MODEL_STATE_BYTES; *len = bytes written. */
int axl_model_state_encode(const axl_model_state *st, uint8_t *buf, size_t cap, size_t *len);

/* AXL_EVERSION on another version, AXL_ECORRUPT on a bad length or content. */
int axl_model_state_decode(axl_model_state *st, const uint8_t *buf, size_t len);

/*
 * Decides what the generator may do now. counts: borrowed, gs->n_steps entries.
 * st->step is advanced past completed steps (the only field changed). On
 * AXL_GS_READY, *k_now (1..k_wanted) is how many candidates the current step may
 * produce now (capped by the step's remaining trials when enforced and by its
 * max_parallelism). The verdicts are results, not errors: the return value is 0,
 * or AXL_EINVAL on bad arguments.
 */
int axl_gs_decide(const axl_gen_strategy *gs, const axl_gs_counts *counts, size_t k_wanted,
                  axl_model_state *st, axl_gs_verdict *verdict, size_t *k_now);

const char *axl_gs_verdict_name(axl_gs_verdict v);

/* ------------------------------------------------------------- generate */

/* Outcome transforms before the GP (the GP always sees standardized values). */
typedef enum {
    AXL_OUTCOME_STANDARDIZE = 0, /* (y - mean) / sd, as BoTorch's Standardize */
    AXL_OUTCOME_LOG = 1,         /* log(y - worst + shift), then standardized (log_shift_adapt) */
    AXL_OUTCOME_AUTO = 2,        /* all three fitted; the most probable (MAP + log-Jacobian) wins */
    AXL_OUTCOME_GAPLOG = 3       /* -log(best - y + gap_shift * range), then standardized */
} axl_outcome_tf;

typedef struct axl_model_options {
    axl_gp_config gp;                 /* prior, noise floor, starts, iterations */
    int n_raw;                        /* Sobol points scored before the local search (1024) */
    int n_restarts;                   /* local searches, from the best raw points (12) */
    int max_qn_iter;                  /* quasi-Newton iterations per local search (60) */
    int cold_fit_every;               /* multi-start fit every this many generations (0 = warm) */
    axl_outcome_tf outcome_transform; /* AXL_OUTCOME_AUTO */
    double log_shift;                 /* log transform: shift as a fraction of the y range (1e-6) */
    int auto_full_max_n;              /* AUTO fits every transform up to this n (64); above,
                                       * all are scored at their warm starts, the winner fitted */
    double gap_shift; /* gap-log transform: shift as a fraction of the range (0.1) */
    /* AUTO's choice up to auto_full_max_n: by the prequential scores (state.preq) once
     * preq_min observations have been scored (5 measured best); before that, and
     * always with preq_min < 0 (the default, -1), by MAP objective + log-Jacobian.
     * Measured, not the default: engine/model/README.md */
    int preq_min;
    double preq_decay;      /* (0, 1]: every score is multiplied by this per newly scored
                             * observation (0.8), so that recent predictions count most */
    double preq_eps;        /* [0, 1): weight of the broad reference density mixed into every
                             * transform's predictive density (0.01); a y outside a
                             * transform's domain gets that part alone */
    double log_shift_adapt; /* log transform: the shift is at least this times the gap
                             * between the worst observation and the next (0.1; 0 = off) */
} axl_model_options;

void axl_model_options_default(axl_model_options *o);

typedef struct axl_model_input {
    const axl_space *space;        /* borrowed */
    int maximize;                  /* 1 maximize y, 0 minimize */
    size_t n_obs;                  /* observed trials */
    const double *X;               /* borrowed, n_obs*n_params, parameter space */
    const double *y;               /* borrowed, n_obs; NaN not allowed */
    const double *sem;             /* borrowed, NULL or n_obs; NaN = unknown (inferred noise) */
    size_t n_pending;              /* CANDIDATE, STAGED and RUNNING trials */
    const double *X_pending;       /* borrowed, n_pending*n_params */
    size_t k;                      /* candidates wanted (>= 1) */
    const axl_gen_step *step;      /* borrowed: the current step (from axl_gs_decide) */
    const axl_model_state *state;  /* borrowed: state before this generation */
    const axl_model_options *opts; /* borrowed, NULL = defaults */
    /*
     * Optional (NULL = scan X and X_pending): answers "is x an observed or pending
     * arm?" for de-duplication, e.g. from an axl_point_index the caller keeps across
     * generations, so that a Sobol step costs O(k) and not O(n_obs): with it, X and
     * X_pending are still used by GP steps but need not be given to Sobol steps.
     * Called synchronously from axl_model_generate, on its thread.
     */
    int (*seen)(void *seen_ctx, const double *x);
    void *seen_ctx;
} axl_model_input;

typedef struct axl_model_diag {
    double fit_ms; /* hyper-parameter fit */
    double acq_ms; /* acquisition optimization (all k candidates) */
    int fit_evals, fit_starts;
    double fit_objective; /* log marginal likelihood + log prior (chosen transform); NaN
                           * when the stored hyper-parameters were reused unchanged */
    int outcome_tf;       /* outcome transform used (axl_outcome_tf 0, 1 or 3) */
    size_t n_hyper;       /* D+3 when a GP was fitted, else 0 */
    /* natural units: lengthscales (model space), outputscale, noise variance,
     * constant mean; outcome units are standardized */
    double hyper[AXL_MODEL_MAX_HYPER];
    double jitter;            /* largest jitter added to a Gram diagonal (0 = none) */
    int n_jitter;             /* factorizations that needed jitter */
    double best_logei;        /* LogEI of the first candidate (standardized units) */
    int n_duplicates_skipped; /* candidates or Sobol points dropped as duplicates */
} axl_model_diag;

typedef struct axl_model_output {
    double *X;             /* caller-owned, k*n_params; n rows filled */
    size_t n;              /* candidates produced (< k only if the space ran out) */
    const char *method;    /* static: "Sobol" or "GP-LogEI" */
    axl_model_state state; /* the state to store after this generation */
    axl_model_diag diag;
} axl_model_output;

/*
 * Generates up to in->k candidates with in->step's model. The input is read only;
 * out->X must point to k*n_params doubles. With GP-LogEI and fewer than 2
 * observations, falls back to Sobol (method says so). Candidates never repeat an
 * observed, pending or earlier candidate point and satisfy the constraints.
 * AXL_EINVAL, AXL_ENOMEM, AXL_EEXHAUSTED (no new feasible point could be found).
 */
int axl_model_generate(const axl_model_input *in, axl_model_output *out, axl_errbuf *eb);

/* -------------------------------------------------------- test functions */

/* Branin on [-5,10]x[0,15]; minimum 0.397887357729738 at three points. */
double axl_testfn_branin(const double *x);
extern const double axl_testfn_branin_min;
extern const double axl_testfn_branin_bounds[2][2];

/* Hartmann6 on [0,1]^6; minimum -3.32236801141551 at
 * (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573). */
double axl_testfn_hartmann6(const double *x);
extern const double axl_testfn_hartmann6_min;
extern const double axl_testfn_hartmann6_argmin[6];

#ifdef __cplusplus
}
#endif

#endif
