/* pl_result.c - the characterization's result map, both ways (axl_task.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hw/line/axl_task.h"
#include "proto/axl_proto.h"

int axl_pl_result_encode(const char *spectrum, const axl_pl_result *r, const char *error,
                         msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    const char *path = spectrum != NULL ? spectrum : "";
    int bad;
    if (r != NULL && isfinite(r->intensity) && isfinite(r->peak_ev) && isfinite(r->fwhm_ev) &&
        isfinite(r->noise))
        bad = msgpack_pack_map(&pk, 7) || axl_pack_kv_str(&pk, "spectrum", path) ||
              axl_pack_kv_num(&pk, "pl_intensity", r->intensity) ||
              axl_pack_kv_num(&pk, "pl_peak_ev", r->peak_ev) ||
              axl_pack_kv_num(&pk, "pl_peak_nm", r->peak_nm) ||
              axl_pack_kv_num(&pk, "pl_fwhm_ev", r->fwhm_ev) ||
              axl_pack_kv_num(&pk, "pl_dwell_ms", r->dwell_ms) ||
              axl_pack_kv_num(&pk, "pl_noise", r->noise);
    else
        bad = msgpack_pack_map(&pk, 2) || axl_pack_kv_str(&pk, "spectrum", path) ||
              axl_pack_kv_str(&pk, "pl_error",
                              error != NULL && error[0] ? error : "the fit gave no finite peak");
    return bad ? AXL_ENOMEM : 0;
}

int axl_pl_result_decode(const void *raw, size_t len, axl_pl_outcome *out, axl_errbuf *eb)
{
    axl_msg m;
    const char *err = NULL, *path = NULL;
    size_t err_len = 0, path_len = 0;
    int rv;
    memset(out, 0, sizeof(*out));
    out->intensity = out->peak_ev = out->fwhm_ev = NAN;
    if (raw == NULL)
        return axl_fail(eb, AXL_EMISSING, "result: absent");
    if ((rv = axl_msg_parse(&m, raw, len, eb)) != 0)
        return rv;
    if ((rv = axl_obj_str(&m.root, "result", "pl_error", false, AXL_WIRE_MAX_TEXT, &err, &err_len,
                          eb)) ||
        (rv = axl_obj_str(&m.root, "result", "spectrum", false, sizeof(out->spectrum) - 1, &path,
                          &path_len, eb)))
        goto out;
    if (path != NULL)
        snprintf(out->spectrum, sizeof(out->spectrum), "%.*s", (int)path_len, path);
    if (err != NULL) {
        snprintf(out->error, sizeof(out->error), "%.*s", (int)err_len, err);
        goto out;
    }
    if ((rv = axl_obj_num(&m.root, "result", "pl_intensity", true, 0, 1e12, &out->intensity, eb)) ||
        (rv = axl_obj_num(&m.root, "result", "pl_peak_ev", true, 0.1, 10, &out->peak_ev, eb)) ||
        (rv = axl_obj_num(&m.root, "result", "pl_fwhm_ev", true, 1e-6, 10, &out->fwhm_ev, eb)))
        goto out;
    out->fitted = true;
out:
    axl_msg_free(&m);
    return rv;
}
