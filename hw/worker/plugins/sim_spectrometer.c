/*
 * sim_spectrometer.c - the first instrument plugin (axl_instrument.h): a simulated
 * spectrometer for an emulated line. It measures the film under it with axle's film
 * model: the film is the sample's process record that the line's devices wrote
 * (<data_dir>/<experiment>/sim/<sample>.film: antisolvent volume, rate, timing, anneal
 * duration - what the spin coater and the hotplate did to it), and the noise is seeded by
 * the run seed, experiment and sample exactly as the simulated line does, so a film
 * measured here gives the spectrum the simulated line would have written.
 *
 * Exposures equal to the model's (1, 5, 20 s) are those columns of the model's spectrum;
 * any other exposure is drawn alone. It does not sleep for the exposure: the
 * characterization role holds each measurement for its duration. Saturated pixels are
 * reported at 65535 counts, as a 16-bit detector does.
 *
 * Only AXL_INSTR_ENTRY is exported (built with hidden visibility); the film model is
 * linked in statically.
 */
#include "hw/worker/axl_instrument.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/line/axl_film_model.h"
#include "hw/line/axl_pl.h"

#define SATURATION 65535.0

typedef struct sim_spec {
    char data_dir[512];
    uint64_t seed;
    axl_film_model model;
    double *wl, *counts; /* the last result, valid until the next call */
    size_t npix;
} sim_spec;

static int sim_open(const axl_instr_host *host, void **inst, char *err, size_t err_len)
{
    if (host->abi_version != AXL_INSTR_ABI_VERSION) {
        snprintf(err, err_len, "host ABI %u, plugin %u", host->abi_version, AXL_INSTR_ABI_VERSION);
        return -1;
    }
    sim_spec *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    snprintf(s->data_dir, sizeof(s->data_dir), "%s",
             host->data_dir != NULL && host->data_dir[0] ? host->data_dir : ".");
    s->seed = host->seed;
    axl_film_model_default(&s->model);
    if (host->config != NULL && host->config[0] != '\0') {
        /* "seed=N" overrides the host's seed; nothing else is understood. */
        unsigned long long v;
        if (sscanf(host->config, "seed=%llu", &v) != 1) {
            snprintf(err, err_len, "config '%.100s' not understood (expected seed=N or \"\")",
                     host->config);
            free(s);
            return -1;
        }
        s->seed = v;
    }
    *inst = s;
    return 0;
}

static bool safe(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '.' || strlen(s) > 128)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
           strlen(s);
}

static int sim_spectrum(void *inst, const axl_instr_spectrum_req *req, axl_instr_spectrum *out,
                        char *err, size_t err_len)
{
    sim_spec *s = inst;
    if (!safe(req->experiment) || !safe(req->sample)) {
        snprintf(err, err_len, "experiment and sample must be safe file names");
        return -1;
    }
    if (!(req->exposure_ms >= 1 && req->exposure_ms <= 60000)) {
        snprintf(err, err_len, "exposure %g ms is outside 1-60000", req->exposure_ms);
        return -1;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/sim/%s.film", s->data_dir, req->experiment, req->sample);
    FILE *f = fopen(path, "re");
    axl_film_inputs x;
    int n = f != NULL ? fscanf(f, "%lf %lf %lf %lf", &x.antisolvent_volume, &x.antisolvent_rate,
                               &x.antisolvent_timing, &x.anneal_duration)
                      : 0;
    if (f != NULL)
        fclose(f);
    if (n != 4 || !isfinite(x.antisolvent_volume) || !isfinite(x.anneal_duration)) {
        snprintf(err, err_len,
                 "no film under the spectrometer: %.40s has no process record with an "
                 "antisolvent drop and an anneal (%.300s)",
                 req->sample, path);
        return -1;
    }
    axl_film_model m = s->model;
    int col = -1;
    for (unsigned d = 0; d < m.ndwell; d++)
        if (m.dwell_ms[d] == req->exposure_ms)
            col = (int)d;
    if (col < 0) {
        m.ndwell = 1;
        m.dwell_ms[0] = req->exposure_ms;
        col = 0;
    }
    axl_spectrum sp = {0};
    axl_errbuf eb = {{0}};
    uint64_t seed = axl_sim_sample_seed(s->seed, req->experiment, req->sample);
    if (axl_film_spectrum(&m, &x, seed, &sp, &eb) != 0) {
        snprintf(err, err_len, "film model: %.200s", eb.msg);
        return -1;
    }
    free(s->wl);
    free(s->counts);
    s->wl = malloc(sp.npix * sizeof(double));
    s->counts = malloc(sp.npix * sizeof(double));
    if (s->wl == NULL || s->counts == NULL) {
        axl_spectrum_free(&sp);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    s->npix = sp.npix;
    for (size_t i = 0; i < sp.npix; i++) {
        double c = sp.counts[i * sp.ndwell + (size_t)col];
        s->wl[i] = sp.wl[i];
        s->counts[i] = isnan(c) ? SATURATION : c;
    }
    axl_spectrum_free(&sp);
    out->npix = s->npix;
    out->wl_nm = s->wl;
    out->counts = s->counts;
    out->saturation = SATURATION;
    return 0;
}

static void sim_close(void *inst)
{
    sim_spec *s = inst;
    if (s == NULL)
        return;
    free(s->wl);
    free(s->counts);
    free(s);
}

static const axl_instr_ops OPS = {
    .abi_version = AXL_INSTR_ABI_VERSION,
    .name = "sim-spectrometer",
    .caps = AXL_INSTR_CAP_SPECTRUM,
    .open = sim_open,
    .spectrum = sim_spectrum,
    .capture = NULL,
    .close = sim_close,
};

__attribute__((visibility("default"))) const axl_instr_ops *axl_instrument_entry(void)
{
    return &OPS;
}
