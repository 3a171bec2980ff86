/* film_model.c - PL intensity and spectra of simulated films (axl_film_model.h). */
#include "hw/line/axl_film_model.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

/* FNV-1a over the bytes, then splitmix64's finalizer: a stable per-key seed. */
static uint64_t mix(uint64_t h, const char *s)
{
    for (; s != NULL && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    h ^= 0xff; /* separator, so ("ab","c") != ("a","bc") */
    h *= 0x100000001b3ull;
    return h;
}

static uint64_t finalize(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t axl_sim_sample_seed(uint64_t seed, const char *experiment, const char *sample)
{
    return finalize(mix(mix(0xcbf29ce484222325ull ^ seed, experiment), sample));
}

void axl_film_model_default(axl_film_model *m)
{
    memset(m, 0, sizeof(*m));
    /* The seed notebook's search space. */
    static const double lo[AXL_FILM_DIM] = {30, 30, -30, 900};
    static const double hi[AXL_FILM_DIM] = {150, 150, -5, 3600};
    /* Best film: ~96 uL at ~66 uL/s, dropped ~13.75 s before the spin ends, annealed
     * ~33 min - inside the box, away from every face, so a campaign has to find it. */
    static const double u_opt[AXL_FILM_DIM] = {0.55, 0.30, 0.65, 0.40};
    static const double width[AXL_FILM_DIM] = {0.30, 0.35, 0.25, 0.40};
    /*
     * Interactions (off-diagonal of M; a positive entry makes the ridge of good films run
     * with the two parameters moving in opposite directions):
     *  volume/rate   +0.45  more antisolvent wants a slower dispense
     *  volume/timing -0.35  a later drop wants more antisolvent
     *  rate/timing   +0.25  a later drop wants a slower dispense
     *  rate/anneal   -0.15
     *  timing/anneal +0.30  a later drop wants a shorter anneal
     * Every row's off-diagonal sum is below 1, so M is positive definite (Gershgorin).
     */
    static const double M[AXL_FILM_DIM][AXL_FILM_DIM] = {
        {1.00, 0.45, -0.35, 0.00},
        {0.45, 1.00, 0.25, -0.15},
        {-0.35, 0.25, 1.00, 0.30},
        {0.00, -0.15, 0.30, 1.00},
    };
    memcpy(m->lo, lo, sizeof(lo));
    memcpy(m->hi, hi, sizeof(hi));
    memcpy(m->u_opt, u_opt, sizeof(u_opt));
    memcpy(m->width, width, sizeof(width));
    memcpy(m->interaction, M, sizeof(M));
    m->peak_cps = 10000;
    m->floor = 0.03;
    /* A mixed-cation lead-halide absorber: PL near 1.63 eV (~760 nm). */
    m->e0_ev = 1.63;
    m->e0_per_anneal = 0.03; /* longer anneals shift the peak up a little */
    m->e0_per_volume = -0.02;
    m->sigma_ev = 0.045;
    m->broadening = 0.6;
    m->anneal_broadening = 0.8; /* the longest anneal: 80 % broader (conflicts with I) */
    m->film_noise = 0.05;       /* 5 % film-to-film */
    /* A 1024-pixel spectrometer over 600-1100 nm and PASCAL's PL exposures (1, 5, 20 s):
     * bright films saturate the 20 s column, which the analysis must skip. */
    m->wl_min = 600;
    m->wl_max = 1100;
    m->npix = 1024;
    m->ndwell = 3;
    m->dwell_ms[0] = 1000;
    m->dwell_ms[1] = 5000;
    m->dwell_ms[2] = 20000;
    m->dark_offset = 1000;
    m->dark_cps = 20;
    m->read_noise = 8;
    m->saturation = AXL_SPECTRUM_SATURATION;
}

int axl_film_model_check(const axl_film_model *m, axl_errbuf *eb)
{
    if (m == NULL)
        return axl_fail(eb, AXL_EINVAL, "film model: NULL");
    for (int k = 0; k < AXL_FILM_DIM; k++) {
        if (!(m->hi[k] > m->lo[k]) || !isfinite(m->hi[k] - m->lo[k]))
            return axl_fail(eb, AXL_EINVAL, "film model: box %d is empty", k);
        if (!(m->u_opt[k] > 0 && m->u_opt[k] < 1))
            return axl_fail(eb, AXL_EINVAL, "film model: optimum %d (u = %g) is not inside the box",
                            k, m->u_opt[k]);
        if (!(m->width[k] > 0) || !isfinite(m->width[k]))
            return axl_fail(eb, AXL_EINVAL, "film model: width %d must be > 0", k);
        for (int j = 0; j < AXL_FILM_DIM; j++)
            if (m->interaction[k][j] != m->interaction[j][k] || !isfinite(m->interaction[k][j]))
                return axl_fail(eb, AXL_EINVAL, "film model: interaction matrix not symmetric");
    }
    double a[AXL_FILM_DIM * AXL_FILM_DIM];
    memcpy(a, m->interaction, sizeof(a));
    gsl_matrix_view v = gsl_matrix_view_array(a, AXL_FILM_DIM, AXL_FILM_DIM);
    int st = gsl_linalg_cholesky_decomp1(&v.matrix); /* needs GSL's handler off (axl_pl.h) */
    if (st != 0)
        return axl_fail(eb, AXL_EINVAL, "film model: interaction matrix not positive definite");
    if (!(m->peak_cps > 0) || !(m->floor >= 0 && m->floor < 1) || !(m->sigma_ev > 0) ||
        !(m->broadening >= 0) || !(m->anneal_broadening >= 0) || !(m->film_noise >= 0) ||
        !(m->e0_ev > 0))
        return axl_fail(eb, AXL_EINVAL, "film model: peak, floor, sigma or noise out of range");
    if (!(m->wl_min > 0 && m->wl_max > m->wl_min) || m->npix < 2 ||
        m->npix > AXL_SPECTRUM_MAX_PIXELS)
        return axl_fail(eb, AXL_EINVAL, "film model: wavelength grid");
    if (m->ndwell < 1 || m->ndwell > AXL_FILM_MAX_DWELLS)
        return axl_fail(eb, AXL_EINVAL, "film model: %u dwell times, need 1-%d", m->ndwell,
                        AXL_FILM_MAX_DWELLS);
    for (unsigned d = 0; d < m->ndwell; d++)
        if (!(m->dwell_ms[d] > 0) || !isfinite(m->dwell_ms[d]))
            return axl_fail(eb, AXL_EINVAL, "film model: dwell %u must be > 0", d);
    if (!(m->dark_offset >= 0) || !(m->dark_cps >= 0) || !(m->read_noise >= 0) ||
        !(m->saturation > 0))
        return axl_fail(eb, AXL_EINVAL, "film model: detector constants out of range");
    return 0;
}

static void to_unit(const axl_film_model *m, const axl_film_inputs *x, double u[AXL_FILM_DIM])
{
    const double v[AXL_FILM_DIM] = {x->antisolvent_volume, x->antisolvent_rate,
                                    x->antisolvent_timing, x->anneal_duration};
    for (int k = 0; k < AXL_FILM_DIM; k++)
        u[k] = (v[k] - m->lo[k]) / (m->hi[k] - m->lo[k]);
}

/* exp(-q/2): 1 at the optimum, falling off with the interactions. */
static double closeness(const axl_film_model *m, const double u[AXL_FILM_DIM])
{
    double d[AXL_FILM_DIM], q = 0;
    for (int k = 0; k < AXL_FILM_DIM; k++)
        d[k] = (u[k] - m->u_opt[k]) / m->width[k];
    for (int i = 0; i < AXL_FILM_DIM; i++)
        for (int j = 0; j < AXL_FILM_DIM; j++)
            q += d[i] * m->interaction[i][j] * d[j];
    return exp(-0.5 * fmax(q, 0));
}

double axl_film_intensity(const axl_film_model *m, const axl_film_inputs *x)
{
    double u[AXL_FILM_DIM];
    to_unit(m, x, u);
    return m->peak_cps * (m->floor + (1 - m->floor) * closeness(m, u));
}

double axl_film_optimum(const axl_film_model *m, axl_film_inputs *x)
{
    double v[AXL_FILM_DIM];
    for (int k = 0; k < AXL_FILM_DIM; k++)
        v[k] = m->lo[k] + m->u_opt[k] * (m->hi[k] - m->lo[k]);
    axl_film_inputs o = {v[0], v[1], v[2], v[3]};
    if (x != NULL)
        *x = o;
    /* q >= 0 everywhere (M positive definite) and q = 0 only at u_opt. */
    return axl_film_intensity(m, &o);
}

void axl_film_peak(const axl_film_model *m, const axl_film_inputs *x, double *e0_ev,
                   double *sigma_ev)
{
    double u[AXL_FILM_DIM];
    to_unit(m, x, u);
    double c = closeness(m, u);
    double e0 = m->e0_ev + m->e0_per_anneal * (u[3] - 0.5) + m->e0_per_volume * (u[0] - 0.5);
    if (e0_ev != NULL)
        *e0_ev = e0;
    if (sigma_ev != NULL)
        *sigma_ev = m->sigma_ev * (1 + m->broadening * (1 - c) + m->anneal_broadening * u[3]);
}

int axl_film_spectrum(const axl_film_model *m, const axl_film_inputs *x, uint64_t seed,
                      axl_spectrum *out, axl_errbuf *eb)
{
    int rc = axl_film_model_check(m, eb);
    if (rc)
        return rc;
    if (x == NULL || out == NULL)
        return axl_fail(eb, AXL_EINVAL, "film spectrum: NULL argument");
    const double v[AXL_FILM_DIM] = {x->antisolvent_volume, x->antisolvent_rate,
                                    x->antisolvent_timing, x->anneal_duration};
    for (int k = 0; k < AXL_FILM_DIM; k++)
        if (!isfinite(v[k]))
            return axl_fail(eb, AXL_EINVAL, "film spectrum: input %d is not finite", k);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng == NULL)
        return axl_fail(eb, AXL_ENOMEM, "film spectrum: out of memory");
    /* mt19937 takes an unsigned long seed; fold the high half in on 32-bit longs. */
    gsl_rng_set(rng, (unsigned long)(seed ^ (seed >> 32)));
    if ((rc = axl_spectrum_alloc(out, m->npix, m->ndwell))) {
        gsl_rng_free(rng);
        return axl_fail(eb, rc, "film spectrum: cannot allocate");
    }
    double e0, sigma;
    axl_film_peak(m, x, &e0, &sigma);
    /* Mean-preserving lognormal film-to-film variation. */
    double film =
        axl_film_intensity(m, x) * exp(m->film_noise * gsl_ran_gaussian_ziggurat(rng, 1.0) -
                                       0.5 * m->film_noise * m->film_noise);
    for (unsigned d = 0; d < m->ndwell; d++)
        out->dwell_ms[d] = m->dwell_ms[d];
    for (unsigned i = 0; i < m->npix; i++) {
        double wl = m->wl_min + (m->wl_max - m->wl_min) * i / (m->npix - 1);
        double e = 1240.0 / wl, z = (e - e0) / sigma;
        double signal = film * exp(-0.5 * z * z);
        out->wl[i] = wl;
        for (unsigned d = 0; d < m->ndwell; d++) {
            double t = m->dwell_ms[d] / 1000.0;
            double photo = t * (m->dark_cps + signal); /* Poisson mean, counts */
            double sd = sqrt(photo + m->read_noise * m->read_noise);
            double c = nearbyint(m->dark_offset + photo + sd * gsl_ran_gaussian_ziggurat(rng, 1.0));
            c = fmax(c, 0);
            out->counts[(size_t)i * m->ndwell + d] = c >= m->saturation ? NAN : c;
        }
    }
    gsl_rng_free(rng);
    return 0;
}

int axl_film_inputs_from_recipe(const axl_recipe *r, axl_film_inputs *x, axl_errbuf *eb)
{
    if (r == NULL || x == NULL)
        return axl_fail(eb, AXL_EINVAL, "film inputs: NULL argument");
    for (uint32_t i = 0; i < r->ntasks && i < AXL_RECIPE_MAX_TASKS; i++) {
        if (r->task[i].kind != AXL_RTASK_SPINCOAT)
            continue;
        const axl_spincoat *s = &r->task[i].u.spincoat;
        const axl_drop *drop = NULL;
        for (uint32_t d = 0; d < s->ndrops && d < AXL_SPIN_MAX_DROPS; d++)
            if (s->drop[d].is_volatile)
                drop = &s->drop[d];
        if (drop == NULL && s->ndrops == 2)
            drop = &s->drop[1];
        if (drop == NULL)
            continue;
        double spin = 0;
        for (uint32_t k = 0; k < s->nsteps && k < AXL_SPIN_MAX_STEPS; k++)
            spin += s->step[k].duration;
        for (uint32_t j = i + 1; j < r->ntasks && j < AXL_RECIPE_MAX_TASKS; j++) {
            if (r->task[j].kind != AXL_RTASK_ANNEAL)
                continue;
            x->antisolvent_volume = drop->volume;
            x->antisolvent_rate = drop->rate;
            x->antisolvent_timing = drop->time - spin;
            x->anneal_duration = r->task[j].u.anneal.duration;
            return 0;
        }
        return axl_fail(eb, AXL_EINVAL, "film inputs: no anneal after the antisolvent spin coat");
    }
    return axl_fail(eb, AXL_EINVAL, "film inputs: no spin coat with an antisolvent drop");
}
