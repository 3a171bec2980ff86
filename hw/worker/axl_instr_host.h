/*
 * axl_instr_host.h - the host's side of the instrument plugin ABI (axl_instrument.h):
 * loading a plugin with dlopen, checking its ABI version, opening it, and reading
 * spectra through it into an axl_spectrum (copied and checked: a plugin's numbers are
 * untrusted like any other input).
 */
#ifndef AXL_INSTR_HOST_H
#define AXL_INSTR_HOST_H

#include "hw/line/axl_pl.h"
#include "hw/worker/axl_instrument.h"
#include "proto/axl_error.h"

typedef struct axl_instr axl_instr;

/*
 * dlopens path (RTLD_NOW | RTLD_LOCAL), finds AXL_INSTR_ENTRY, refuses a table whose
 * abi_version is not AXL_INSTR_ABI_VERSION or whose caps promise a NULL function, then
 * calls its open with host (borrowed for the call). Returns 0 (*out owned by the caller:
 * axl_instr_unload), AXL_ENOENT (no such file / symbol), AXL_EPROTO (wrong ABI version,
 * bad table) or AXL_EIO (the plugin's open failed; its reason in eb).
 */
int axl_instr_load(const char *path, const axl_instr_host *host, axl_instr **out, axl_errbuf *eb);

/* The plugin's ops (owned by the plugin, valid until axl_instr_unload). */
const axl_instr_ops *axl_instr_ops_of(const axl_instr *in);

/*
 * Reads one spectrum per exposure (blocking: call it off the loop thread) into *out
 * (allocated: axl_spectrum_free), one dwell column per exposure; saturated pixels become
 * NaN (PASCAL's file convention). The wavelength grid must be the same for every
 * exposure, finite and increasing. req's exposure_ms is replaced by each exposure.
 * Returns 0, AXL_EIO (the plugin failed: its reason in eb), AXL_EPROTO (it returned
 * something malformed), AXL_ENOTSUP (no spectrum capability), AXL_ENOMEM.
 */
int axl_instr_spectra(axl_instr *in, const axl_instr_spectrum_req *req, const double *exposures_ms,
                      int n, axl_spectrum *out, axl_errbuf *eb);

/* Closes the instance and dlcloses the object. NULL-safe. */
void axl_instr_unload(axl_instr *in);

#endif
