/* suite_fn.h - engine/model's public benchmark suite in C: the problems of
 * bench/model/suite.py (the definitions BoTorch's runs use), minimization. */
#ifndef AXL_BENCH_SUITE_FN_H
#define AXL_BENCH_SUITE_FN_H

#include <stddef.h>

#include "engine/model/axl_model.h"

#define AXL_SUITE_MAX_D 8

typedef struct axl_suite_problem {
    const char *name;
    size_t d;
    axl_param params[AXL_SUITE_MAX_D]; /* choices as unordered one-hot */
    double fmin;                       /* known optimum */
    int budget;                        /* evaluations */
    double noise_sd;                   /* Gaussian noise the optimizer sees; 0 = exact */
    double (*f)(const double *x);      /* x in parameter space, choices as the index */
} axl_suite_problem;

/* The suite, in suite.py's order; *n receives the count. Static storage. */
const axl_suite_problem *axl_suite_problems(size_t *n);

/* The problem named `name`, or NULL. */
const axl_suite_problem *axl_suite_find(const char *name);

#endif
