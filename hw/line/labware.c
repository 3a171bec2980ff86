/* labware.c - tip racks, sample trays and solutions; reservation per sample. */
#include "hw/line/axl_labware.h"
#include "proto/json/axl_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RACK_ROWS 8
#define RACK_COLS 12
#define LABWARE_JSON_MAX (1u << 20)

/* --- names ------------------------------------------------------------------------------- */

int axl_tip_parse(const char *name, unsigned *index)
{
    if (name == NULL || index == NULL)
        return AXL_EINVAL;
    char row = name[0];
    if (row >= 'a' && row <= 'h')
        row = (char)(row - 'a' + 'A');
    if (row < 'A' || row > 'H')
        return AXL_EINVAL;
    unsigned col = 0;
    size_t i = 1;
    for (; name[i] >= '0' && name[i] <= '9' && i < 4; i++)
        col = col * 10 + (unsigned)(name[i] - '0');
    if (i == 1 || name[i] != '\0' || col < 1 || col > RACK_COLS)
        return AXL_EINVAL;
    *index = (col - 1) * RACK_ROWS + (unsigned)(row - 'A');
    return 0;
}

void axl_tip_name(unsigned index, char buf[4])
{
    if (index >= AXL_LW_TIPS_PER_RACK) {
        snprintf(buf, 4, "?");
        return;
    }
    snprintf(buf, 4, "%c%u", 'A' + (int)(index % RACK_ROWS), index / RACK_ROWS + 1);
}

int axl_tray_slot_parse(const axl_tray *t, const char *name, unsigned *index)
{
    if (t == NULL || name == NULL || index == NULL || t->columns == 0)
        return AXL_EINVAL;
    char row = name[0];
    if (row >= 'a' && row <= 'z')
        row = (char)(row - 'a' + 'A');
    if (row < 'A' || row > 'Z')
        return AXL_EINVAL;
    unsigned col = 0;
    size_t i = 1;
    for (; name[i] >= '0' && name[i] <= '9' && i < 4; i++)
        col = col * 10 + (unsigned)(name[i] - '0');
    if (i == 1 || name[i] != '\0' || col < 1 || col > t->columns)
        return AXL_EINVAL;
    unsigned idx = (unsigned)(row - 'A') * t->columns + (col - 1);
    if (idx >= t->slots)
        return AXL_EINVAL;
    *index = idx;
    return 0;
}

void axl_tray_slot_name(const axl_tray *t, unsigned index, char buf[8])
{
    if (t == NULL || t->columns == 0 || index >= t->slots || index >= AXL_LW_MAX_TRAY_SLOTS) {
        snprintf(buf, 8, "?");
        return;
    }
    unsigned col = index % t->columns + 1, row = index / t->columns;
    snprintf(buf, 8, "%c%u", 'A' + (int)(row % 26), col % 100);
}

/* --- queries ------------------------------------------------------------------------------ */

static unsigned rack_left(const axl_tiprack *r)
{
    unsigned taken = r->first + r->used;
    return taken >= AXL_LW_TIPS_PER_RACK ? 0 : AXL_LW_TIPS_PER_RACK - taken;
}

unsigned axl_labware_tips_left(const axl_labware *lw)
{
    unsigned n = 0;
    for (unsigned i = 0; i < lw->nracks && i < AXL_LW_MAX_RACKS; i++)
        n += rack_left(&lw->rack[i]);
    return n;
}

static unsigned tray_free(const axl_tray *t)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->slots && i < AXL_LW_MAX_TRAY_SLOTS; i++)
        n += !(t->loaded >> i & 1);
    return n;
}

unsigned axl_labware_slots_free(const axl_labware *lw)
{
    unsigned n = 0;
    for (unsigned i = 0; i < lw->ntrays && i < AXL_LW_MAX_TRAYS; i++)
        n += tray_free(&lw->tray[i]);
    return n;
}

static unsigned slots_total(const axl_labware *lw)
{
    unsigned n = 0;
    for (unsigned i = 0; i < lw->ntrays && i < AXL_LW_MAX_TRAYS; i++)
        n += lw->tray[i].slots;
    return n;
}

int axl_labware_solution(const axl_labware *lw, const char *name)
{
    for (unsigned i = 0; name != NULL && i < lw->nsolutions && i < AXL_LW_MAX_SOLUTIONS; i++)
        if (strcmp(lw->solution[i].name, name) == 0)
            return (int)i;
    return -1;
}

unsigned axl_recipe_tips_needed(const axl_recipe *r)
{
    unsigned tips = 0, drops = 0;
    for (uint32_t i = 0; i < r->ntasks && i < AXL_RECIPE_MAX_TASKS; i++) {
        if (r->task[i].kind != AXL_RTASK_SPINCOAT)
            continue;
        const axl_spincoat *s = &r->task[i].u.spincoat;
        for (uint32_t d = 0; d < s->ndrops && d < AXL_SPIN_MAX_DROPS; d++, drops++)
            if (!(s->drop[d].reuse_tip && drops > 0))
                tips++;
    }
    return tips;
}

/* --- reservation -------------------------------------------------------------------------- */

/* Works out a reservation without changing lw. */
static int plan_reservation(const axl_labware *lw, const axl_recipe *r, const char *sample,
                            axl_lw_reservation *res, axl_errbuf *eb)
{
    if (lw == NULL || r == NULL)
        return axl_fail(eb, AXL_EINVAL, "labware: NULL argument");
    const char *who = sample != NULL ? sample : "?";
    memset(res, 0, sizeof(*res));

    /* Solutions: every drop's solution must exist; sum the volumes. */
    for (uint32_t i = 0; i < r->ntasks && i < AXL_RECIPE_MAX_TASKS; i++) {
        if (r->task[i].kind != AXL_RTASK_SPINCOAT)
            continue;
        const axl_spincoat *s = &r->task[i].u.spincoat;
        for (uint32_t d = 0; d < s->ndrops && d < AXL_SPIN_MAX_DROPS; d++) {
            int k = axl_labware_solution(lw, s->drop[d].solution);
            if (k < 0)
                return axl_fail(eb, AXL_ENOENT, "sample %s: solution '%s' is not in the labware",
                                who, s->drop[d].solution);
            if (!(s->drop[d].volume > 0))
                return axl_fail(eb, AXL_EINVAL, "sample %s: drop volume %g uL", who,
                                s->drop[d].volume);
            res->volume_ul[k] += s->drop[d].volume;
        }
    }
    for (unsigned k = 0; k < lw->nsolutions && k < AXL_LW_MAX_SOLUTIONS; k++) {
        if (res->volume_ul[k] > lw->solution[k].volume_ul)
            return axl_fail(
                eb, AXL_EEXHAUSTED, "solution '%s' exhausted: sample %s needs %g uL, %g uL left",
                lw->solution[k].name, who, res->volume_ul[k], lw->solution[k].volume_ul);
    }

    /* Tips, in rack order. */
    unsigned need = axl_recipe_tips_needed(r), left = axl_labware_tips_left(lw);
    if (need > AXL_LW_MAX_TIPS_PER_SAMPLE)
        return axl_fail(eb, AXL_EINVAL, "sample %s: %u tips, at most %d", who, need,
                        AXL_LW_MAX_TIPS_PER_SAMPLE);
    if (need > left)
        return axl_fail(eb, AXL_EEXHAUSTED,
                        "tip racks exhausted: sample %s needs %u tip%s, %u left", who, need,
                        need == 1 ? "" : "s", left);
    unsigned rack = 0, used = lw->nracks ? lw->rack[0].used : 0;
    for (unsigned t = 0; t < need; t++) {
        while (rack < lw->nracks && lw->rack[rack].first + used >= AXL_LW_TIPS_PER_RACK) {
            rack++;
            used = rack < lw->nracks ? lw->rack[rack].used : 0;
        }
        res->tip[t].rack = (uint8_t)rack;
        res->tip[t].tip = (uint8_t)(lw->rack[rack].first + used);
        used++;
    }
    res->ntips = need;

    /* One tray slot: the first free one. */
    for (unsigned t = 0; t < lw->ntrays && t < AXL_LW_MAX_TRAYS; t++) {
        for (unsigned s = 0; s < lw->tray[t].slots && s < AXL_LW_MAX_TRAY_SLOTS; s++) {
            if (lw->tray[t].loaded >> s & 1)
                continue;
            res->tray = t;
            res->slot = s;
            axl_tray_slot_name(&lw->tray[t], s, res->slot_name);
            return 0;
        }
    }
    return axl_fail(eb, AXL_EEXHAUSTED, "sample trays full: sample %s needs a slot, 0 of %u free",
                    who, slots_total(lw));
}

int axl_labware_check(const axl_labware *lw, const axl_recipe *r, const char *sample,
                      axl_errbuf *eb)
{
    axl_lw_reservation res;
    return plan_reservation(lw, r, sample, &res, eb);
}

int axl_labware_reserve(axl_labware *lw, const axl_recipe *r, const char *sample,
                        axl_lw_reservation *out, axl_errbuf *eb)
{
    axl_lw_reservation res;
    int rc = plan_reservation(lw, r, sample, &res, eb);
    if (rc)
        return rc;
    for (unsigned t = 0; t < res.ntips; t++)
        lw->rack[res.tip[t].rack].used = res.tip[t].tip + 1u - lw->rack[res.tip[t].rack].first;
    for (unsigned k = 0; k < lw->nsolutions && k < AXL_LW_MAX_SOLUTIONS; k++)
        lw->solution[k].volume_ul -= res.volume_ul[k];
    lw->tray[res.tray].loaded |= UINT64_C(1) << res.slot;
    if (out != NULL)
        *out = res;
    return 0;
}

void axl_labware_release(axl_labware *lw, const axl_lw_reservation *res)
{
    if (lw == NULL || res == NULL)
        return;
    for (unsigned k = 0; k < lw->nsolutions && k < AXL_LW_MAX_SOLUTIONS; k++)
        lw->solution[k].volume_ul += res->volume_ul[k];
    if (res->tray < lw->ntrays && res->slot < lw->tray[res->tray].slots)
        lw->tray[res->tray].loaded &= ~(UINT64_C(1) << res->slot);
}

int axl_labware_unload(axl_labware *lw, unsigned tray, const char *slot)
{
    unsigned s;
    if (lw == NULL || tray >= lw->ntrays || axl_tray_slot_parse(&lw->tray[tray], slot, &s))
        return AXL_EINVAL;
    lw->tray[tray].loaded &= ~(UINT64_C(1) << s);
    return 0;
}

int axl_labware_replace_rack(axl_labware *lw, unsigned rack, const char *starting_tip)
{
    unsigned first;
    if (lw == NULL || rack >= lw->nracks || axl_tip_parse(starting_tip, &first))
        return AXL_EINVAL;
    lw->rack[rack].first = first;
    lw->rack[rack].used = 0;
    return 0;
}

int axl_labware_refill(axl_labware *lw, const char *solution, double volume_ul)
{
    if (lw == NULL || !(volume_ul >= 0))
        return AXL_EINVAL;
    int k = axl_labware_solution(lw, solution);
    if (k < 0)
        return AXL_ENOENT;
    lw->solution[k].volume_ul = volume_ul;
    return 0;
}

/* --- JSON ----------------------------------------------------------------------------------- */

static int check_keys(const json_t *obj, const char *path, const char *const *allowed,
                      axl_errbuf *eb)
{
    return axl_json_check_keys(obj, path, allowed, AXL_EINVAL, eb);
}

static int str_field(const json_t *o, const char *path, const char *key, bool required, char *dst,
                     size_t cap, axl_errbuf *eb)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return required ? axl_fail(eb, AXL_EMISSING, "%s.%s: required", path, key) : 0;
    if (!json_is_string(v))
        return axl_fail(eb, AXL_ETYPE, "%s.%s: must be a string", path, key);
    if (strlen(json_string_value(v)) >= cap)
        return axl_fail(eb, AXL_ERANGE, "%s.%s: longer than %zu characters", path, key, cap - 1);
    snprintf(dst, cap, "%s", json_string_value(v));
    return 0;
}

/* A whole number in [lo, hi]. */
static int uint_field(const json_t *o, const char *path, const char *key, bool required,
                      unsigned lo, unsigned hi, unsigned *dst, axl_errbuf *eb)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return required ? axl_fail(eb, AXL_EMISSING, "%s.%s: required", path, key) : 0;
    if (!json_is_integer(v))
        return axl_fail(eb, AXL_ETYPE, "%s.%s: must be a whole number", path, key);
    json_int_t x = json_integer_value(v);
    if (x < (json_int_t)lo || x > (json_int_t)hi)
        return axl_fail(eb, AXL_ERANGE, "%s.%s: %lld is outside %u-%u", path, key, (long long)x, lo,
                        hi);
    *dst = (unsigned)x;
    return 0;
}

static void pathf(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static int parse_rack(const json_t *v, const char *path, axl_tiprack *r, axl_errbuf *eb)
{
    static const char *const keys[] = {"version", "deck_slot", "starting_tip", "tips_used", NULL};
    int rc;
    if (!json_is_object(v))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", path);
    if ((rc = check_keys(v, path, keys, eb)) ||
        (rc = str_field(v, path, "version", false, r->version, sizeof(r->version), eb)))
        return rc;
    unsigned slot = 0;
    if ((rc = uint_field(v, path, "deck_slot", true, 1, 12, &slot, eb)))
        return rc;
    r->deck_slot = (int)slot;
    char tip[8] = "A1";
    if ((rc = str_field(v, path, "starting_tip", false, tip, sizeof(tip), eb)))
        return rc;
    if (axl_tip_parse(tip, &r->first))
        return axl_fail(eb, AXL_ERANGE, "%s.starting_tip: '%s' is not a tip A1-H12", path, tip);
    if ((rc = uint_field(v, path, "tips_used", false, 0, AXL_LW_TIPS_PER_RACK - r->first, &r->used,
                         eb)))
        return rc;
    return 0;
}

static int parse_tray(const json_t *v, const char *path, axl_tray *t, axl_errbuf *eb)
{
    static const char *const keys[] = {"name", "version", "slots", "columns", "loaded", NULL};
    int rc;
    if (!json_is_object(v))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", path);
    t->slots = 45;
    t->columns = 5;
    if ((rc = check_keys(v, path, keys, eb)) ||
        (rc = str_field(v, path, "name", true, t->name, sizeof(t->name), eb)) ||
        (rc = str_field(v, path, "version", false, t->version, sizeof(t->version), eb)) ||
        (rc = uint_field(v, path, "slots", false, 1, AXL_LW_MAX_TRAY_SLOTS, &t->slots, eb)) ||
        (rc = uint_field(v, path, "columns", false, 1, AXL_LW_MAX_TRAY_SLOTS, &t->columns, eb)))
        return rc;
    if ((t->slots + t->columns - 1) / t->columns > 26)
        return axl_fail(eb, AXL_ERANGE, "%s: more than 26 rows", path);
    const json_t *ld = json_object_get(v, "loaded");
    if (ld == NULL)
        return 0;
    if (!json_is_array(ld))
        return axl_fail(eb, AXL_ETYPE, "%s.loaded: must be an array of slot names", path);
    for (size_t i = 0; i < json_array_size(ld); i++) {
        const json_t *s = json_array_get(ld, i);
        unsigned idx;
        if (!json_is_string(s) || axl_tray_slot_parse(t, json_string_value(s), &idx))
            return axl_fail(eb, AXL_ERANGE, "%s.loaded[%zu]: not a slot of this tray", path, i);
        t->loaded |= UINT64_C(1) << idx;
    }
    return 0;
}

static int parse_solution(const json_t *v, const char *path, const char *name, axl_solution *s,
                          axl_errbuf *eb)
{
    static const char *const keys[] = {"solvent", "solutes",   "molarity", "labware",
                                       "well",    "volume_ul", "volatile", NULL};
    int rc;
    if (!json_is_object(v))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", path);
    if (name[0] == '\0' || strlen(name) >= sizeof(s->name))
        return axl_fail(eb, AXL_ERANGE, "%s: name must have 1-%zu characters", path,
                        sizeof(s->name) - 1);
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->volume_ul = INFINITY;
    if ((rc = check_keys(v, path, keys, eb)) ||
        (rc = str_field(v, path, "solvent", false, s->solvent, sizeof(s->solvent), eb)) ||
        (rc = str_field(v, path, "solutes", false, s->solutes, sizeof(s->solutes), eb)) ||
        (rc = str_field(v, path, "labware", false, s->labware, sizeof(s->labware), eb)) ||
        (rc = str_field(v, path, "well", false, s->well, sizeof(s->well), eb)))
        return rc;
    const json_t *m = json_object_get(v, "molarity"), *vol = json_object_get(v, "volume_ul"),
                 *vo = json_object_get(v, "volatile");
    if (m != NULL) {
        if (!json_is_number(m) || !(json_number_value(m) >= 0) || !isfinite(json_number_value(m)))
            return axl_fail(eb, AXL_ERANGE, "%s.molarity: must be a number >= 0", path);
        s->molarity = json_number_value(m);
    }
    if (vol != NULL) {
        if (!json_is_number(vol) || !(json_number_value(vol) >= 0) ||
            !isfinite(json_number_value(vol)))
            return axl_fail(eb, AXL_ERANGE, "%s.volume_ul: must be a number >= 0", path);
        s->volume_ul = json_number_value(vol);
    }
    if (vo != NULL) {
        if (!json_is_boolean(vo))
            return axl_fail(eb, AXL_ETYPE, "%s.volatile: must be true or false", path);
        s->is_volatile = json_is_true(vo);
    }
    return 0;
}

int axl_labware_parse(const json_t *j, const char *path, axl_labware *out, axl_errbuf *eb)
{
    static const char *const keys[] = {"tipracks", "trays", "solutions", NULL};
    const char *root = path != NULL ? path : "labware";
    char p[160];
    int rc;
    if (out == NULL)
        return axl_fail(eb, AXL_EINVAL, "%s: NULL output", root);
    memset(out, 0, sizeof(*out));
    if (!json_is_object(j))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", root);
    if ((rc = check_keys(j, root, keys, eb)))
        return rc;

    const json_t *racks = json_object_get(j, "tipracks");
    if (racks == NULL)
        return axl_fail(eb, AXL_EMISSING, "%s.tipracks: required", root);
    if (!json_is_array(racks))
        return axl_fail(eb, AXL_ETYPE, "%s.tipracks: must be an array", root);
    if (json_array_size(racks) > AXL_LW_MAX_RACKS)
        return axl_fail(eb, AXL_ETOOBIG, "%s.tipracks: %zu racks, at most %d", root,
                        json_array_size(racks), AXL_LW_MAX_RACKS);
    for (size_t i = 0; i < json_array_size(racks); i++) {
        pathf(p, sizeof(p), "%s.tipracks[%zu]", root, i);
        if ((rc = parse_rack(json_array_get(racks, i), p, &out->rack[i], eb)))
            return rc;
        out->nracks++;
    }

    const json_t *trays = json_object_get(j, "trays");
    if (trays == NULL)
        return axl_fail(eb, AXL_EMISSING, "%s.trays: required", root);
    if (!json_is_array(trays))
        return axl_fail(eb, AXL_ETYPE, "%s.trays: must be an array", root);
    if (json_array_size(trays) > AXL_LW_MAX_TRAYS)
        return axl_fail(eb, AXL_ETOOBIG, "%s.trays: %zu trays, at most %d", root,
                        json_array_size(trays), AXL_LW_MAX_TRAYS);
    for (size_t i = 0; i < json_array_size(trays); i++) {
        pathf(p, sizeof(p), "%s.trays[%zu]", root, i);
        if ((rc = parse_tray(json_array_get(trays, i), p, &out->tray[i], eb)))
            return rc;
        out->ntrays++;
    }

    const json_t *sols = json_object_get(j, "solutions");
    if (sols == NULL)
        return axl_fail(eb, AXL_EMISSING, "%s.solutions: required", root);
    if (!json_is_object(sols))
        return axl_fail(eb, AXL_ETYPE, "%s.solutions: must be an object", root);
    if (json_object_size(sols) > AXL_LW_MAX_SOLUTIONS)
        return axl_fail(eb, AXL_ETOOBIG, "%s.solutions: %zu, at most %d", root,
                        json_object_size(sols), AXL_LW_MAX_SOLUTIONS);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)sols, key, v)
    {
        pathf(p, sizeof(p), "%s.solutions.%s", root, key);
        if ((rc = parse_solution(v, p, key, &out->solution[out->nsolutions], eb)))
            return rc;
        out->nsolutions++;
    }
    return 0;
}

int axl_labware_parse_str(const char *text, size_t len, const char *path, axl_labware *out,
                          axl_errbuf *eb)
{
    const char *root = path != NULL ? path : "labware";
    if (text == NULL)
        return axl_fail(eb, AXL_EINVAL, "%s: no JSON text", root);
    if (len > LABWARE_JSON_MAX)
        return axl_fail(eb, AXL_ETOOBIG, "%s: %zu bytes of JSON, at most %u", root, len,
                        LABWARE_JSON_MAX);
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return axl_fail(eb, AXL_EPROTO, "%s: JSON error at line %d column %d: %s", root, jerr.line,
                        jerr.column, jerr.text);
    int rc = axl_labware_parse(j, root, out, eb);
    json_decref(j);
    return rc;
}

/* json_object_set_new that remembers a failure instead of checking every call. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

json_t *axl_labware_to_json(const axl_labware *lw)
{
    bool ok = true;
    json_t *root = json_object(), *racks = json_array(), *trays = json_array(),
           *sols = json_object();
    if (root == NULL || racks == NULL || trays == NULL || sols == NULL) {
        ok = false;
        goto done;
    }
    for (unsigned i = 0; i < lw->nracks && i < AXL_LW_MAX_RACKS; i++) {
        const axl_tiprack *r = &lw->rack[i];
        json_t *o = json_object();
        char tip[4];
        axl_tip_name(r->first, tip);
        if (o == NULL || json_array_append_new(racks, o) != 0) {
            ok = false;
            break;
        }
        if (r->version[0])
            put(o, "version", json_string(r->version), &ok);
        put(o, "deck_slot", json_integer(r->deck_slot), &ok);
        put(o, "starting_tip", json_string(tip), &ok);
        put(o, "tips_used", json_integer(r->used), &ok);
    }
    for (unsigned i = 0; i < lw->ntrays && i < AXL_LW_MAX_TRAYS; i++) {
        const axl_tray *t = &lw->tray[i];
        json_t *o = json_object(), *ld = json_array();
        if (o == NULL || ld == NULL || json_array_append_new(trays, o) != 0) {
            json_decref(ld);
            ok = false;
            break;
        }
        put(o, "name", json_string(t->name), &ok);
        if (t->version[0])
            put(o, "version", json_string(t->version), &ok);
        put(o, "slots", json_integer(t->slots), &ok);
        put(o, "columns", json_integer(t->columns), &ok);
        for (unsigned s = 0; s < t->slots && s < AXL_LW_MAX_TRAY_SLOTS; s++) {
            char name[8];
            if (!(t->loaded >> s & 1))
                continue;
            axl_tray_slot_name(t, s, name);
            if (json_array_append_new(ld, json_string(name)) != 0)
                ok = false;
        }
        put(o, "loaded", ld, &ok);
    }
    for (unsigned i = 0; i < lw->nsolutions && i < AXL_LW_MAX_SOLUTIONS; i++) {
        const axl_solution *s = &lw->solution[i];
        json_t *o = json_object();
        if (o == NULL || json_object_set_new(sols, s->name, o) != 0) {
            ok = false;
            break;
        }
        if (s->solvent[0])
            put(o, "solvent", json_string(s->solvent), &ok);
        if (s->solutes[0])
            put(o, "solutes", json_string(s->solutes), &ok);
        put(o, "molarity", json_real(s->molarity), &ok);
        if (s->labware[0])
            put(o, "labware", json_string(s->labware), &ok);
        if (s->well[0])
            put(o, "well", json_string(s->well), &ok);
        if (isfinite(s->volume_ul))
            put(o, "volume_ul", json_real(s->volume_ul), &ok);
        put(o, "volatile", json_boolean(s->is_volatile), &ok);
    }
done:
    if (ok) {
        /* set_new takes the reference even when it fails */
        bool set = json_object_set_new(root, "tipracks", racks) == 0;
        set = json_object_set_new(root, "trays", trays) == 0 && set;
        set = json_object_set_new(root, "solutions", sols) == 0 && set;
        if (set)
            return root;
        json_decref(root);
        return NULL;
    }
    json_decref(racks);
    json_decref(trays);
    json_decref(sols);
    json_decref(root);
    return NULL;
}
