/*
 * recipe_json.c - recipe templates from JSON (jansson). Every error names the JSON path
 * of the offending value, the way the experiment-file parser does:
 *   recipe.worklist[0].drops[1].volume: must be > 0 (got -3)
 * The shape is documented in hw/README.md.
 */
#include "hw/line/axl_recipe.h"
#include "proto/json/axl_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RECIPE_JSON_MAX (1u << 20) /* a recipe is a few KB; refuse megabytes */

/*
 * snprintf for JSON paths. Deep paths are cut short rather than overflow; going through
 * vsnprintf keeps GCC's truncation analysis (which cannot see our bounded nesting) quiet.
 */
static void pathf(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

typedef struct pctx {
    axl_recipe_template *t;
    const char *root; /* path of the recipe object */
    axl_errbuf *eb;
} pctx;

/* Fails with "<path>.<k>: unknown key (known: ...)" when obj has a key outside allowed. */
static int check_keys(pctx *c, const json_t *obj, const char *path, const char *const *allowed)
{
    return axl_json_check_keys(obj, path, allowed, AXL_EINVAL, c->eb);
}

static int add_binding(pctx *c, const json_t *v, const char *path, uint16_t task,
                       axl_field_id field, uint16_t index)
{
    static const char *const keys[] = {"param", "scale", "offset", NULL};
    int rc = check_keys(c, v, path, keys);
    if (rc)
        return rc;
    const json_t *p = json_object_get(v, "param");
    if (p == NULL)
        return axl_fail(c->eb, AXL_EMISSING, "%s.param: required in a binding", path);
    if (!json_is_string(p))
        return axl_fail(c->eb, AXL_ETYPE, "%s.param: must be a string", path);
    const char *name = json_string_value(p);
    if (name[0] == '\0' || strlen(name) >= AXL_RECIPE_NAME_MAX)
        return axl_fail(c->eb, AXL_ERANGE, "%s.param: name must have 1-%d characters", path,
                        AXL_RECIPE_NAME_MAX - 1);
    double scale = 1, offset = 0;
    const json_t *s = json_object_get(v, "scale"), *o = json_object_get(v, "offset");
    if (s != NULL) {
        if (!json_is_number(s) || !isfinite(json_number_value(s)))
            return axl_fail(c->eb, AXL_ETYPE, "%s.scale: must be a finite number", path);
        scale = json_number_value(s);
    }
    if (o != NULL) {
        if (!json_is_number(o) || !isfinite(json_number_value(o)))
            return axl_fail(c->eb, AXL_ETYPE, "%s.offset: must be a finite number", path);
        offset = json_number_value(o);
    }
    if (c->t->nbindings >= AXL_RECIPE_MAX_BINDINGS)
        return axl_fail(c->eb, AXL_ETOOBIG, "%s: more than %d bound fields", path,
                        AXL_RECIPE_MAX_BINDINGS);
    axl_binding *b = &c->t->binding[c->t->nbindings++];
    memset(b, 0, sizeof(*b));
    snprintf(b->param, sizeof(b->param), "%s", name);
    b->scale = scale;
    b->offset = offset;
    b->task = task;
    b->index = index;
    b->field = field;
    char fpath[AXL_RECIPE_PATH_MAX];
    axl_recipe_field_path(task, field, index, fpath, sizeof(fpath));
    pathf(b->path, sizeof(b->path), "%s.%s", c->root, fpath);
    return 0;
}

/* A numeric value: a number, or a binding object (then *dst = NaN until instantiated). */
static int num_value(pctx *c, const json_t *v, const char *path, double *dst, uint16_t task,
                     axl_field_id field, uint16_t index)
{
    if (json_is_number(v)) {
        double x = json_number_value(v);
        if (!isfinite(x))
            return axl_fail(c->eb, AXL_ERANGE, "%s: must be finite", path);
        *dst = x;
        return 0;
    }
    if (json_is_object(v)) {
        *dst = NAN;
        return add_binding(c, v, path, task, field, index);
    }
    return axl_fail(c->eb, AXL_ETYPE, "%s: must be a number or {\"param\": name}", path);
}

/* obj[key] as a numeric value; when absent, *dst = def or AXL_EMISSING if required. */
static int num_field(pctx *c, const json_t *obj, const char *objpath, const char *key,
                     bool required, double def, double *dst, uint16_t task, axl_field_id field,
                     uint16_t index)
{
    char path[192];
    pathf(path, sizeof(path), "%s.%s", objpath, key);
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            return axl_fail(c->eb, AXL_EMISSING, "%s: required", path);
        *dst = def;
        return 0;
    }
    return num_value(c, v, path, dst, task, field, index);
}

static int bool_field(pctx *c, const json_t *obj, const char *objpath, const char *key, bool *dst)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0; /* keep the default */
    if (!json_is_boolean(v))
        return axl_fail(c->eb, AXL_ETYPE, "%s.%s: must be true or false", objpath, key);
    *dst = json_is_true(v);
    return 0;
}

static int string_field(pctx *c, const json_t *obj, const char *objpath, const char *key,
                        bool required, char *dst, size_t cap)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            return axl_fail(c->eb, AXL_EMISSING, "%s.%s: required", objpath, key);
        return 0;
    }
    if (!json_is_string(v))
        return axl_fail(c->eb, AXL_ETYPE, "%s.%s: must be a string", objpath, key);
    const char *s = json_string_value(v);
    if (s[0] == '\0' || strlen(s) >= cap)
        return axl_fail(c->eb, AXL_ERANGE, "%s.%s: must have 1-%zu characters", objpath, key,
                        cap - 1);
    snprintf(dst, cap, "%s", s);
    return 0;
}

/* A spin step: [rpm, rpm/s, s] or {"rpm", "acceleration", "duration"}. */
static int parse_step(pctx *c, const json_t *v, const char *path, uint16_t ti, uint16_t si,
                      axl_spin_step *st)
{
    static const axl_field_id f[3] = {AXL_FIELD_STEP_RPM, AXL_FIELD_STEP_ACCEL,
                                      AXL_FIELD_STEP_DURATION};
    double *dst[3] = {&st->rpm, &st->accel, &st->duration};
    int rc;
    if (json_is_array(v)) {
        if (json_array_size(v) != 3)
            return axl_fail(c->eb, AXL_EINVAL, "%s: must be [rpm, rpm/s, seconds]", path);
        for (size_t k = 0; k < 3; k++) {
            char p[192];
            pathf(p, sizeof(p), "%s[%zu]", path, k);
            if ((rc = num_value(c, json_array_get(v, k), p, dst[k], ti, f[k], si)))
                return rc;
        }
        return 0;
    }
    if (json_is_object(v)) {
        static const char *const keys[] = {"rpm", "acceleration", "duration", NULL};
        if ((rc = check_keys(c, v, path, keys)))
            return rc;
        for (size_t k = 0; k < 3; k++)
            if ((rc = num_field(c, v, path, keys[k], true, 0, dst[k], ti, f[k], si)))
                return rc;
        return 0;
    }
    return axl_fail(c->eb, AXL_ETYPE, "%s: must be [rpm, rpm/s, seconds] or an object", path);
}

static int parse_drop(pctx *c, const json_t *v, const char *path, uint16_t ti, uint16_t di,
                      axl_drop *d)
{
    static const char *const keys[] = {
        "solution", "volume",      "time",     "rate",    "height",       "reuse_tip", "touch_tip",
        "pre_mix",  "slow_travel", "blow_out", "air_gap", "slow_retract", "volatile",  NULL};
    int rc;
    if (!json_is_object(v))
        return axl_fail(c->eb, AXL_ETYPE, "%s: must be an object", path);
    if ((rc = check_keys(c, v, path, keys)))
        return rc;
    /* "volatile" selects the defaults, so it is read first. */
    bool vol = false;
    if ((rc = bool_field(c, v, path, "volatile", &vol)))
        return rc;
    axl_drop_defaults(d, vol);
    if ((rc = string_field(c, v, path, "solution", true, d->solution, sizeof(d->solution))) ||
        (rc =
             num_field(c, v, path, "volume", true, 0, &d->volume, ti, AXL_FIELD_DROP_VOLUME, di)) ||
        (rc = num_field(c, v, path, "time", true, 0, &d->time, ti, AXL_FIELD_DROP_TIME, di)) ||
        (rc = num_field(c, v, path, "rate", false, d->rate, &d->rate, ti, AXL_FIELD_DROP_RATE,
                        di)) ||
        (rc = num_field(c, v, path, "height", false, d->height, &d->height, ti,
                        AXL_FIELD_DROP_HEIGHT, di)) ||
        (rc = bool_field(c, v, path, "reuse_tip", &d->reuse_tip)) ||
        (rc = bool_field(c, v, path, "touch_tip", &d->touch_tip)) ||
        (rc = bool_field(c, v, path, "slow_travel", &d->slow_travel)) ||
        (rc = bool_field(c, v, path, "blow_out", &d->blow_out)) ||
        (rc = bool_field(c, v, path, "air_gap", &d->air_gap)) ||
        (rc = bool_field(c, v, path, "slow_retract", &d->slow_retract)))
        return rc;
    const json_t *pm = json_object_get(v, "pre_mix");
    if (pm != NULL) {
        char p[192];
        pathf(p, sizeof(p), "%s.pre_mix", path);
        if (!json_is_array(pm) || json_array_size(pm) != 2)
            return axl_fail(c->eb, AXL_ETYPE, "%s: must be [cycles, volume uL]", p);
        double cycles;
        char pc[200];
        pathf(pc, sizeof(pc), "%s[0]", p);
        if ((rc = num_value(c, json_array_get(pm, 0), pc, &cycles, ti, AXL_FIELD_DROP_PREMIX_CYCLES,
                            di)))
            return rc;
        if (isnan(cycles)) {
            d->premix_cycles = 0; /* bound: set at instantiation */
        } else {
            if (cycles < 0 || cycles > AXL_PREMIX_MAX_CYCLES || cycles != floor(cycles))
                return axl_fail(c->eb, AXL_ERANGE, "%s: %g is not a whole number 0-%d", pc, cycles,
                                AXL_PREMIX_MAX_CYCLES);
            d->premix_cycles = (unsigned)cycles;
        }
        pathf(pc, sizeof(pc), "%s[1]", p);
        if ((rc = num_value(c, json_array_get(pm, 1), pc, &d->premix_volume, ti,
                            AXL_FIELD_DROP_PREMIX_VOLUME, di)))
            return rc;
    }
    return 0;
}

static int parse_spincoat(pctx *c, const json_t *v, const char *path, uint16_t ti, axl_spincoat *s)
{
    static const char *const keys[] = {"task", "steps", "drops", NULL};
    int rc;
    if ((rc = check_keys(c, v, path, keys)))
        return rc;
    const json_t *steps = json_object_get(v, "steps"), *drops = json_object_get(v, "drops");
    if (steps == NULL)
        return axl_fail(c->eb, AXL_EMISSING, "%s.steps: required", path);
    if (!json_is_array(steps))
        return axl_fail(c->eb, AXL_ETYPE, "%s.steps: must be an array", path);
    if (json_array_size(steps) < 1 || json_array_size(steps) > AXL_SPIN_MAX_STEPS)
        return axl_fail(c->eb, json_array_size(steps) ? AXL_ETOOBIG : AXL_EINVAL,
                        "%s.steps: %zu steps, need 1-%d", path, json_array_size(steps),
                        AXL_SPIN_MAX_STEPS);
    if (drops == NULL)
        return axl_fail(c->eb, AXL_EMISSING, "%s.drops: required", path);
    if (!json_is_array(drops))
        return axl_fail(c->eb, AXL_ETYPE, "%s.drops: must be an array", path);
    if (json_array_size(drops) < 1 || json_array_size(drops) > AXL_SPIN_MAX_DROPS)
        return axl_fail(c->eb, json_array_size(drops) ? AXL_ETOOBIG : AXL_EINVAL,
                        "%s.drops: %zu drops, need 1-%d", path, json_array_size(drops),
                        AXL_SPIN_MAX_DROPS);
    s->nsteps = (uint32_t)json_array_size(steps);
    for (uint16_t i = 0; i < s->nsteps; i++) {
        char p[192];
        pathf(p, sizeof(p), "%s.steps[%u]", path, i);
        if ((rc = parse_step(c, json_array_get(steps, i), p, ti, i, &s->step[i])))
            return rc;
    }
    s->ndrops = (uint32_t)json_array_size(drops);
    for (uint16_t i = 0; i < s->ndrops; i++) {
        char p[192];
        pathf(p, sizeof(p), "%s.drops[%u]", path, i);
        if ((rc = parse_drop(c, json_array_get(drops, i), p, ti, i, &s->drop[i])))
            return rc;
    }
    return 0;
}

static int parse_characterize(pctx *c, const json_t *v, const char *path, uint16_t ti,
                              axl_characterize *ch)
{
    static const char *const keys[] = {"task", "measurements", NULL};
    static const char *const mkeys[] = {"name", "duration", "position", NULL};
    int rc;
    if ((rc = check_keys(c, v, path, keys)))
        return rc;
    const json_t *ms = json_object_get(v, "measurements");
    if (ms == NULL) {
        axl_characterize_defaults(ch);
        return 0;
    }
    if (!json_is_array(ms))
        return axl_fail(c->eb, AXL_ETYPE, "%s.measurements: must be an array", path);
    if (json_array_size(ms) > AXL_CHAR_MAX_MEAS)
        return axl_fail(c->eb, AXL_ETOOBIG, "%s.measurements: %zu, at most %d", path,
                        json_array_size(ms), AXL_CHAR_MAX_MEAS);
    ch->n = (uint32_t)json_array_size(ms);
    for (uint16_t i = 0; i < ch->n; i++) {
        char p[192];
        pathf(p, sizeof(p), "%s.measurements[%u]", path, i);
        const json_t *m = json_array_get(ms, i);
        if (!json_is_object(m))
            return axl_fail(c->eb, AXL_ETYPE, "%s: must be an object", p);
        if ((rc = check_keys(c, m, p, mkeys)) ||
            (rc = string_field(c, m, p, "name", true, ch->m[i].name, sizeof(ch->m[i].name))) ||
            (rc = num_field(c, m, p, "duration", true, 0, &ch->m[i].duration, ti,
                            AXL_FIELD_MEAS_DURATION, i)) ||
            (rc = num_field(c, m, p, "position", true, 0, &ch->m[i].position, ti,
                            AXL_FIELD_MEAS_POSITION, i)))
            return rc;
    }
    return 0;
}

static int parse_task(pctx *c, const json_t *v, const char *path, uint16_t ti, axl_rtask *t)
{
    int rc;
    if (!json_is_object(v))
        return axl_fail(c->eb, AXL_ETYPE, "%s: must be an object", path);
    const json_t *k = json_object_get(v, "task");
    if (k == NULL)
        return axl_fail(c->eb, AXL_EMISSING,
                        "%s.task: required (spincoat, anneal, rest or characterize)", path);
    if (!json_is_string(k))
        return axl_fail(c->eb, AXL_ETYPE, "%s.task: must be a string", path);
    const char *kind = json_string_value(k);
    if (strcmp(kind, "spincoat") == 0) {
        t->kind = AXL_RTASK_SPINCOAT;
        return parse_spincoat(c, v, path, ti, &t->u.spincoat);
    }
    if (strcmp(kind, "anneal") == 0) {
        static const char *const keys[] = {"task", "temperature", "duration", NULL};
        t->kind = AXL_RTASK_ANNEAL;
        if ((rc = check_keys(c, v, path, keys)) ||
            (rc = num_field(c, v, path, "temperature", true, 0, &t->u.anneal.temperature, ti,
                            AXL_FIELD_ANNEAL_TEMPERATURE, 0)))
            return rc;
        return num_field(c, v, path, "duration", true, 0, &t->u.anneal.duration, ti,
                         AXL_FIELD_ANNEAL_DURATION, 0);
    }
    if (strcmp(kind, "rest") == 0) {
        static const char *const keys[] = {"task", "duration", NULL};
        t->kind = AXL_RTASK_REST;
        if ((rc = check_keys(c, v, path, keys)))
            return rc;
        /* PASCAL's Rest() default */
        return num_field(c, v, path, "duration", false, 300, &t->u.rest.duration, ti,
                         AXL_FIELD_REST_DURATION, 0);
    }
    if (strcmp(kind, "characterize") == 0) {
        t->kind = AXL_RTASK_CHARACTERIZE;
        return parse_characterize(c, v, path, ti, &t->u.characterize);
    }
    return axl_fail(c->eb, AXL_EINVAL,
                    "%s.task: unknown task '%s' (spincoat, anneal, rest or characterize)", path,
                    kind);
}

int axl_recipe_template_parse(const json_t *j, const char *path, axl_recipe_template *out,
                              axl_errbuf *eb)
{
    static const char *const keys[] = {"worklist", "name", "description", NULL};
    int rc;
    if (out == NULL)
        return axl_fail(eb, AXL_EINVAL, "axl_recipe_template_parse: NULL output");
    memset(out, 0, sizeof(*out));
    snprintf(out->path, sizeof(out->path), "%s", path != NULL ? path : "recipe");
    pctx c = {out, out->path, eb};
    if (j == NULL || !json_is_object(j))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", out->path);
    if ((rc = check_keys(&c, j, out->path, keys)))
        return rc;
    const json_t *wl = json_object_get(j, "worklist");
    if (wl == NULL)
        return axl_fail(eb, AXL_EMISSING, "%s.worklist: required", out->path);
    if (!json_is_array(wl))
        return axl_fail(eb, AXL_ETYPE, "%s.worklist: must be an array", out->path);
    size_t n = json_array_size(wl);
    if (n < 1 || n > AXL_RECIPE_MAX_TASKS)
        return axl_fail(eb, n ? AXL_ETOOBIG : AXL_EINVAL, "%s.worklist: %zu tasks, need 1-%d",
                        out->path, n, AXL_RECIPE_MAX_TASKS);
    out->base.ntasks = (uint32_t)n;
    for (uint16_t i = 0; i < n; i++) {
        char p[192];
        pathf(p, sizeof(p), "%s.worklist[%u]", out->path, i);
        if ((rc = parse_task(&c, json_array_get(wl, i), p, i, &out->base.task[i])))
            return rc;
    }
    return axl_recipe_template_validate(out, eb);
}

int axl_recipe_template_parse_str(const char *text, size_t len, const char *path,
                                  axl_recipe_template *out, axl_errbuf *eb)
{
    const char *p = path != NULL ? path : "recipe";
    if (text == NULL || out == NULL)
        return axl_fail(eb, AXL_EINVAL, "%s: no JSON text", p);
    if (len > RECIPE_JSON_MAX)
        return axl_fail(eb, AXL_ETOOBIG, "%s: %zu bytes of JSON, at most %u", p, len,
                        RECIPE_JSON_MAX);
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return axl_fail(eb, AXL_EPROTO, "%s: JSON error at line %d column %d: %s", p, jerr.line,
                        jerr.column, jerr.text);
    int rc = axl_recipe_template_parse(j, p, out, eb);
    json_decref(j);
    return rc;
}
