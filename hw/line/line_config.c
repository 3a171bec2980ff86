/* line_config.c - the "line" section of the experiment file -> axl_tl_config. */
#include "hw/line/axl_timeline.h"
#include "proto/json/axl_json.h"

#include <math.h>
#include <string.h>

/* A whole number in [lo, hi] at obj[key], when present. */
static int uint_key(const json_t *obj, const char *path, const char *key, unsigned lo, unsigned hi,
                    unsigned *dst, axl_errbuf *eb)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return axl_fail(eb, AXL_ETYPE, "%s.%s: must be a whole number", path, key);
    json_int_t x = json_integer_value(v);
    if (x < (json_int_t)lo || x > (json_int_t)hi)
        return axl_fail(eb, AXL_ERANGE, "%s.%s: %lld is outside %u-%u", path, key, (long long)x, lo,
                        hi);
    *dst = (unsigned)x;
    return 0;
}

static int num_key(const json_t *obj, const char *path, const char *key, double lo, double hi,
                   double *dst, axl_errbuf *eb)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return axl_fail(eb, AXL_ETYPE, "%s.%s: must be a number", path, key);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return axl_fail(eb, AXL_ERANGE, "%s.%s: %g is outside %g-%g", path, key, x, lo, hi);
    *dst = x;
    return 0;
}

int axl_tl_config_parse(const json_t *j, const char *path, axl_tl_config *cfg, axl_errbuf *eb)
{
    static const char *const keys[] = {"tray_slots", "plate_slots", "retemper_s",
                                       "compact",    "hotplates",   NULL};
    const char *p = path != NULL ? path : "line";
    int rc;
    if (cfg == NULL)
        return axl_fail(eb, AXL_EINVAL, "%s: NULL output", p);
    axl_tl_config_default(cfg);
    if (j == NULL)
        return 0;
    if (!json_is_object(j))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", p);
    if ((rc = axl_json_check_keys(j, p, keys, AXL_EINVAL, eb)) != 0)
        return rc;
    if ((rc = uint_key(j, p, "tray_slots", 1, 100000, &cfg->tray_slots, eb)) ||
        (rc = uint_key(j, p, "plate_slots", 1, 100000, &cfg->plate_slots, eb)) ||
        (rc = num_key(j, p, "retemper_s", 0, 86400, &cfg->retemper_s, eb)) ||
        (rc = num_key(j, p, "compact", 0, 10, &cfg->compact, eb)))
        return rc;
    const json_t *hp = json_object_get(j, "hotplates");
    if (hp != NULL) {
        if (!json_is_array(hp))
            return axl_fail(eb, AXL_ETYPE, "%s.hotplates: must be an array", p);
        size_t n = json_array_size(hp);
        if (n < 1 || n > AXL_TL_MAX_PLATES)
            return axl_fail(eb, AXL_ERANGE, "%s.hotplates: %zu plates, need 1-%d", p, n,
                            AXL_TL_MAX_PLATES);
        cfg->n_plates = (unsigned)n;
        for (size_t i = 0; i < n; i++) {
            const json_t *h = json_array_get(hp, i);
            if (!json_is_object(h))
                return axl_fail(eb, AXL_ETYPE, "%s.hotplates[%zu]: must be an object", p, i);
            char hpath[300];
            snprintf(hpath, sizeof(hpath), "%s.hotplates[%zu]", p, i);
            if ((rc = axl_json_check_keys(h, hpath, (const char *const[]){"setpoint", NULL},
                                          AXL_EINVAL, eb)) != 0)
                return rc;
            const json_t *sp = json_object_get(h, "setpoint");
            cfg->plate_setpoint[i] = NAN;
            if (sp == NULL || json_is_null(sp))
                continue;
            if (!json_is_number(sp))
                return axl_fail(eb, AXL_ETYPE,
                                "%s.hotplates[%zu].setpoint: must be a number or null", p, i);
            double t = json_number_value(sp);
            if (!(t >= AXL_ANNEAL_TEMP_MIN && t <= AXL_ANNEAL_TEMP_MAX))
                return axl_fail(eb, AXL_ERANGE, "%s.hotplates[%zu].setpoint: %g C is outside %g-%g",
                                p, i, t, AXL_ANNEAL_TEMP_MIN, AXL_ANNEAL_TEMP_MAX);
            cfg->plate_setpoint[i] = t;
        }
    }
    return 0;
}
