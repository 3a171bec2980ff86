/*
 * axl_film_model.h - the physics half of the simulated line: how bright a film's PL is
 * as a function of the seed's four process parameters, and the spectrum a PASCAL-like
 * spectrometer records from it.
 *
 * This is a plausible shape for a benchmark, not a fitted physical model: one interior
 * optimum, interactions between the parameters, a floor (a bad film still glows a
 * little), film-to-film variation and detector noise. Its true optimum is known in
 * closed form, so a campaign's result can be scored against it.
 *
 *   u      = (x - lo) / (hi - lo)                       unit coordinates of the box
 *   d      = (u - u_opt) / width
 *   q      = d' M d                                     M: unit diagonal, interactions
 *   I(x)   = peak_cps * (floor + (1 - floor) * exp(-q / 2))      counts/s at the peak
 *   E0(x)  = e0_ev + e0_per_anneal * (u_anneal - 1/2) + e0_per_volume * (u_volume - 1/2)
 *            (too little antisolvent leaves the peak blue-shifted, a long anneal too)
 *   s(x)   = sigma_ev * (1 + broadening * (1 - exp(-q / 2)) + anneal_broadening * u_anneal)
 *            worse films are broader, and so are longer anneals (grain growth and halide
 *            segregation): the brightest anneal is not the narrowest, so intensity and
 *            FWHM conflict and the film has a Pareto front (engine/cmd_lab_pareto.c)
 *   film   = I(x) * lognormal(film_noise)                          this sample's film
 *   counts(lambda, dwell) = dark_offset + dwell * (dark_cps + film * exp(-(E-E0)^2/(2 s^2)))
 *                           + shot and read noise; >= saturation -> NaN
 * All constants live in axl_film_model (axl_film_model_default gives the values used).
 */
#ifndef AXL_FILM_MODEL_H
#define AXL_FILM_MODEL_H

#include "hw/line/axl_pl.h"
#include "hw/line/axl_recipe.h"
#include "proto/axl_error.h"

#include <stdint.h>

#define AXL_FILM_DIM 4
#define AXL_FILM_MAX_DWELLS 8

/* The seed's search space, in its units. */
typedef struct axl_film_inputs {
    double antisolvent_volume; /* µL */
    double antisolvent_rate;   /* µL/s */
    double antisolvent_timing; /* s relative to the end of the spin (drop time - spin length) */
    double anneal_duration;    /* s */
} axl_film_inputs;

typedef struct axl_film_model {
    /* shape, in the order volume, rate, timing, anneal */
    double lo[AXL_FILM_DIM], hi[AXL_FILM_DIM];      /* the box the shape is defined on */
    double u_opt[AXL_FILM_DIM];                     /* optimum, unit coordinates, inside (0, 1) */
    double width[AXL_FILM_DIM];                     /* unit coordinates */
    double interaction[AXL_FILM_DIM][AXL_FILM_DIM]; /* M: symmetric, positive definite */
    double peak_cps;                                /* I at the optimum */
    double floor;                                   /* I far from the optimum, fraction of peak */
    /* spectrum shape */
    double e0_ev, e0_per_anneal, e0_per_volume;
    double sigma_ev, broadening, anneal_broadening;
    double film_noise; /* sd of log film-to-film variation */
    /* spectrometer */
    double wl_min, wl_max; /* nm */
    unsigned npix;
    unsigned ndwell;
    double dwell_ms[AXL_FILM_MAX_DWELLS];
    double dark_offset; /* counts */
    double dark_cps;
    double read_noise; /* counts rms */
    double saturation; /* counts */
} axl_film_model;

/* The constants axle's simulated line uses (documented in film_model.c). */
void axl_film_model_default(axl_film_model *m);

/* Checks ranges, u_opt inside (0, 1), M symmetric positive definite.
 * Returns 0 or AXL_EINVAL. */
int axl_film_model_check(const axl_film_model *m, axl_errbuf *eb);

/* The noise-free PL intensity I(x) (counts/s at the peak), the quantity a campaign
 * maximizes; the PL fit of a spectrum estimates it. */
double axl_film_intensity(const axl_film_model *m, const axl_film_inputs *x);

/* The true optimum: *x gets the point (inside the box), the return value is I there. */
double axl_film_optimum(const axl_film_model *m, axl_film_inputs *x);

/* Peak energy (eV) and Gaussian width sigma (eV) of the film at x. */
void axl_film_peak(const axl_film_model *m, const axl_film_inputs *x, double *e0_ev,
                   double *sigma_ev);

/*
 * Simulates the measurement of one film made at x: film-to-film variation and detector
 * noise drawn from a generator seeded with `seed` (same seed, same spectrum). *out is
 * allocated (axl_spectrum_free). Returns 0, AXL_EINVAL, AXL_ENOMEM.
 */
int axl_film_spectrum(const axl_film_model *m, const axl_film_inputs *x, uint64_t seed,
                      axl_spectrum *out, axl_errbuf *eb);

/*
 * Reads the four inputs off a recipe: the first spin coat with an antisolvent drop (the
 * volatile one, else the second drop) gives volume, rate and timing (drop time - total
 * spin time); the first anneal after it gives the anneal duration.
 * Returns 0 or AXL_EINVAL (no such drop or anneal).
 */
int axl_film_inputs_from_recipe(const axl_recipe *r, axl_film_inputs *x, axl_errbuf *eb);

/* The seed of sample `sample` of `experiment` under run seed `seed` (FNV-1a mix): the
 * simulated line and the simulated spectrometer plugin draw a film's spectrum with it. */
uint64_t axl_sim_sample_seed(uint64_t seed, const char *experiment, const char *sample);

#endif
