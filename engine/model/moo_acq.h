/* moo_acq.h - the acquisition of axl_moo_generate (moo_acq.c). */
#ifndef AXL_MOO_ACQ_H
#define AXL_MOO_ACQ_H

#include "engine/model/moo_internal.h"

typedef enum {
    AXL__MACQ_EHVI = 0, /* log EHVI of the objectives + log PoF */
    AXL__MACQ_EI = 1,   /* LogEI of the one objective over best_f + log PoF */
    AXL__MACQ_POF = 2   /* log PoF only (nothing feasible observed yet) */
} axl__macq_mode;

/* Everything borrowed; all outcome values standardized and maximized, constraints
 * as "value <= bound". */
typedef struct axl__macq {
    axl__macq_mode mode;
    size_t D, n_out, n_obj;
    axl__post *const *post; /* n_out posteriors */
    const int *is_obj;      /* n_out flags */
    const double *bound;    /* n_out: constraint bounds (standardized) */
    size_t nb;              /* EHVI boxes */
    const double *lo, *hi;  /* nb*n_obj */
    double best_f;          /* EI */
    /* scratch for the posteriors' products (NULL: allocated per call); set by
     * axl__macq_optimize for its own evaluations */
    double *pws;
    size_t pws_len; /* doubles */
} axl__macq;

/* Value (and gradient, when g is not NULL) at m points U (m*D); ws: scratch of
 * 4*m*D + 2*m doubles. */
int axl__macq_eval(const axl__macq *a, size_t m, const double *U, double *val, double *g,
                   double *ws);

/* Scores the nraw points Uraw, then ascends from the n_restarts best: the local optima
 * into Uout (n_restarts*D) and their values into vout; *nout how many. */
int axl__macq_optimize(const axl__macq *a, size_t nc, const double *A, const double *b,
                       const double *Uraw, size_t nraw, int n_restarts, int max_iter, double *Uout,
                       double *vout, size_t *nout);

#endif
