/*
 * instr_host.c - loading instrument plugins (axl_instr_host.h) and reading spectra
 * through them.
 */
#include "hw/worker/axl_instr_host.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct axl_instr {
    void *so;
    const axl_instr_ops *ops;
    void *inst;
    char path[256];
};

int axl_instr_load(const char *path, const axl_instr_host *host, axl_instr **out, axl_errbuf *eb)
{
    *out = NULL;
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (so == NULL)
        return axl_fail(eb, AXL_ENOENT, "instrument plugin %s: cannot load: %s", path, dlerror());
    axl_instr_entry_fn entry;
    void *sym = dlsym(so, AXL_INSTR_ENTRY);
    memcpy(&entry, &sym, sizeof(entry));
    if (sym == NULL) {
        dlclose(so);
        return axl_fail(eb, AXL_ENOENT, "instrument plugin %s: no %s symbol (not a plugin)", path,
                        AXL_INSTR_ENTRY);
    }
    const axl_instr_ops *ops = entry();
    int rv = 0;
    if (ops == NULL)
        rv = axl_fail(eb, AXL_EPROTO, "instrument plugin %s: %s() returned NULL", path,
                      AXL_INSTR_ENTRY);
    else if (ops->abi_version != AXL_INSTR_ABI_VERSION)
        rv = axl_fail(eb, AXL_EPROTO,
                      "instrument plugin %s: ABI version %u, this axle speaks version %u "
                      "(rebuild the plugin against this axle's hw/worker/axl_instrument.h)",
                      path, ops->abi_version, AXL_INSTR_ABI_VERSION);
    else if (ops->open == NULL || ops->close == NULL ||
             ((ops->caps & AXL_INSTR_CAP_SPECTRUM) && ops->spectrum == NULL) ||
             ((ops->caps & AXL_INSTR_CAP_CAPTURE) && ops->capture == NULL))
        rv = axl_fail(eb, AXL_EPROTO,
                      "instrument plugin %s: its ops table lacks open, close or a function "
                      "its capabilities promise",
                      path);
    axl_instr *in = rv == 0 ? calloc(1, sizeof(*in)) : NULL;
    if (rv == 0 && in == NULL)
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
    if (rv != 0) {
        dlclose(so);
        return rv;
    }
    in->so = so;
    in->ops = ops;
    snprintf(in->path, sizeof(in->path), "%s", path);
    char err[256] = "";
    if (ops->open(host, &in->inst, err, sizeof(err)) != 0) {
        err[sizeof(err) - 1] = '\0';
        rv = axl_fail(eb, AXL_EIO, "instrument plugin %s (%s): open failed: %s", path,
                      ops->name ? ops->name : "?", err[0] ? err : "no reason given");
        dlclose(so);
        free(in);
        return rv;
    }
    *out = in;
    return 0;
}

const axl_instr_ops *axl_instr_ops_of(const axl_instr *in)
{
    return in->ops;
}

int axl_instr_spectra(axl_instr *in, const axl_instr_spectrum_req *req, const double *exposures_ms,
                      int n, axl_spectrum *out, axl_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    if (!(in->ops->caps & AXL_INSTR_CAP_SPECTRUM))
        return axl_fail(eb, AXL_ENOTSUP, "instrument %s takes no spectra", in->ops->name);
    if (n < 1 || n > AXL_SPECTRUM_MAX_DWELLS)
        return axl_fail(eb, AXL_EINVAL, "%d exposures (1-%d)", n, AXL_SPECTRUM_MAX_DWELLS);
    int rv = 0;
    for (int d = 0; d < n; d++) {
        axl_instr_spectrum_req r = *req;
        axl_instr_spectrum s = {0};
        char err[256] = "";
        r.exposure_ms = exposures_ms[d];
        if (in->ops->spectrum(in->inst, &r, &s, err, sizeof(err)) != 0) {
            err[sizeof(err) - 1] = '\0';
            rv = axl_fail(eb, AXL_EIO, "%s: spectrum at %g ms failed: %s", in->ops->name,
                          exposures_ms[d], err[0] ? err : "no reason given");
            goto fail;
        }
        if (s.npix < 1 || s.npix > AXL_SPECTRUM_MAX_PIXELS || s.wl_nm == NULL || s.counts == NULL ||
            !(s.saturation > 0)) {
            rv = axl_fail(eb, AXL_EPROTO, "%s: malformed spectrum (%zu pixels)", in->ops->name,
                          s.npix);
            goto fail;
        }
        if (d == 0 && (rv = axl_spectrum_alloc(out, s.npix, (size_t)n)) != 0) {
            rv = axl_fail(eb, rv, "spectrum of %zu pixels", s.npix);
            goto fail;
        }
        if (s.npix != out->npix) {
            rv = axl_fail(eb, AXL_EPROTO, "%s: %zu pixels at %g ms, %zu before", in->ops->name,
                          s.npix, exposures_ms[d], out->npix);
            goto fail;
        }
        out->dwell_ms[d] = exposures_ms[d];
        for (size_t i = 0; i < s.npix; i++) {
            double wl = s.wl_nm[i], c = s.counts[i];
            if (!isfinite(wl) || (i > 0 && !(wl > s.wl_nm[i - 1])) || (d > 0 && wl != out->wl[i]) ||
                isnan(c)) {
                rv = axl_fail(eb, AXL_EPROTO,
                              "%s: pixel %zu (%g nm, %g counts) at %g ms: wavelengths must be "
                              "finite, increasing and the same for every exposure, counts numbers",
                              in->ops->name, i, wl, c, exposures_ms[d]);
                goto fail;
            }
            out->wl[i] = wl;
            out->counts[i * (size_t)n + (size_t)d] = c >= s.saturation ? NAN : c;
        }
    }
    return 0;
fail:
    axl_spectrum_free(out);
    return rv;
}

void axl_instr_unload(axl_instr *in)
{
    if (in == NULL)
        return;
    in->ops->close(in->inst);
    dlclose(in->so);
    free(in);
}
