/*
 * axl_pl.h - photoluminescence spectra: PASCAL's CSV layout (read and write) and the
 * Gaussian-in-energy peak fit that turns a spectrum into the campaign's metric.
 *
 * File layout (PASCAL's, so its own tools read ours and vice versa):
 *   row 1:  <label>,<dwell ms>,<dwell ms>,...       e.g. "dwelltime_ms,1000,5000,20000"
 *   row 2:  header, ignored                         e.g. "wavelength_nm,counts,counts,counts"
 *   row 3+: <wavelength nm>,<counts>,<counts>,...   one column per dwell time
 * Saturated pixels (>= 65535 counts) are written as "nan".
 *
 * Analysis, as PASCAL does it: take the longest dwell whose column has no saturated
 * pixel, divide by the dwell (-> counts per second), subtract the dark level (median of
 * the pixels below `baseline_max_nm`, axle's addition: our simulated detector has an
 * offset), then fit A*exp(-(E-E0)^2 / (2 s^2)), E = 1240/lambda, over a wavelength window
 * with bounds A in [0, 1.2 max], E0 within +-0.2 eV of the guess, s in [0.02, 0.2] eV.
 * Outputs intensity A (counts/s), peak energy E0 (eV) and FWHM = 2.355 s.
 *
 * Every byte of a file is untrusted: sizes are capped, every number checked; a bad file
 * is an error code with a reason, never a crash.
 *
 * GSL: the fit (and axl_film_model_check) report GSL's errors as codes only when the
 * process has switched GSL's aborting error handler off - call
 * gsl_set_error_handler_off() once at start-up, before any thread exists (axle's main,
 * the test and bench mains do). The handler is process-wide, so it is not toggled here.
 */
#ifndef AXL_PL_H
#define AXL_PL_H

#include "proto/axl_error.h"

#include <stddef.h>

#define AXL_SPECTRUM_MAX_FILE (32u << 20) /* bytes */
#define AXL_SPECTRUM_MAX_PIXELS 65536
#define AXL_SPECTRUM_MAX_DWELLS 32
#define AXL_SPECTRUM_SATURATION 65535.0 /* 16-bit detector */

typedef struct axl_spectrum {
    size_t npix;
    size_t ndwell;
    double *wl;       /* [npix] nm */
    double *dwell_ms; /* [ndwell] */
    double *counts;   /* [npix * ndwell], pixel-major: counts[i * ndwell + d]; NaN = saturated */
} axl_spectrum;

/* Allocates the arrays of *s (zeroed counts). Release with axl_spectrum_free.
 * Returns 0, AXL_EINVAL (zero or over-limit sizes), AXL_ENOMEM. */
int axl_spectrum_alloc(axl_spectrum *s, size_t npix, size_t ndwell);
void axl_spectrum_free(axl_spectrum *s); /* frees the arrays, zeroes *s; NULL-safe */

/*
 * Parses a spectrum from CSV text (len bytes) / reads a file. *out is allocated on
 * success (caller frees with axl_spectrum_free), untouched on error. Messages name the
 * line: "spectrum.csv:17: column 3: 'abc' is not a number".
 * Returns 0, AXL_EIO, AXL_ETOOBIG, AXL_EPROTO (malformed), AXL_ENOMEM.
 */
int axl_spectrum_parse_csv(const char *text, size_t len, const char *name, axl_spectrum *out,
                           axl_errbuf *eb);
int axl_spectrum_read_csv(const char *path, axl_spectrum *out, axl_errbuf *eb);

/* Writes s to path atomically (temporary file + rename). Values >= 65535 and NaN are
 * written as "nan". Returns 0, AXL_EINVAL, AXL_EIO. */
int axl_spectrum_write_csv(const char *path, const axl_spectrum *s, axl_errbuf *eb);

/*
 * Counts per second from the longest dwell with no saturated pixel (values >= 65535 count
 * as saturated too). cps (caller-owned, s->npix entries) is filled; *dwell gets the dwell
 * column used (may be NULL). Returns 0, AXL_ERANGE (every dwell saturated),
 * AXL_EINVAL (empty spectrum, or a dwell column that is all non-finite).
 */
int axl_spectrum_cps(const axl_spectrum *s, double *cps, size_t *dwell, axl_errbuf *eb);

typedef struct axl_pl_opts {
    double wl_min;          /* fit window, nm (PASCAL 675, seed notebook 650) */
    double wl_max;          /* nm (1100) */
    double wl_guess;        /* peak guess, nm; 0 = the brightest pixel in the window */
    double baseline_max_nm; /* dark level from pixels below this; 0 = no subtraction */
    double min_snr;         /* fitted A must exceed min_snr x residual noise */
    unsigned max_iter;
} axl_pl_opts;

/* 650-1100 nm, guess 730 nm (the seed notebook), baseline below 640 nm, SNR 5, 200 iterations. */
void axl_pl_opts_default(axl_pl_opts *o);

typedef struct axl_pl_result {
    double intensity; /* A, counts/s; NaN when the fit failed */
    double peak_ev;   /* E0 */
    double peak_nm;   /* 1240 / E0 */
    double sigma_ev;
    double fwhm_ev;     /* 2.355 sigma */
    double baseline;    /* counts/s subtracted */
    double noise;       /* residual RMS, counts/s */
    size_t npoints;     /* pixels in the window */
    size_t dwell_index; /* column used (axl_pl_analyze only) */
    double dwell_ms;
    unsigned iterations;
} axl_pl_result;

/*
 * Fits counts-per-second cps[i] at wavelengths wl[i] (i < n; NaN/inf pixels skipped).
 * On any error out->intensity is NaN and the message says why:
 *   AXL_EINVAL    fewer than 8 usable pixels in the window (empty, all-NaN)
 *   AXL_ENUMERIC  the solver failed or produced non-finite values
 *   AXL_ENOENT    no peak: the fitted amplitude is below min_snr x the residual noise
 */
int axl_pl_fit(const double *wl, const double *cps, size_t n, const axl_pl_opts *o,
               axl_pl_result *out, axl_errbuf *eb);

/* axl_spectrum_cps + axl_pl_fit. o NULL = defaults. */
int axl_pl_analyze(const axl_spectrum *s, const axl_pl_opts *o, axl_pl_result *out, axl_errbuf *eb);

/* axl_spectrum_read_csv + axl_pl_analyze. */
int axl_pl_analyze_file(const char *path, const axl_pl_opts *o, axl_pl_result *out, axl_errbuf *eb);

#endif
