/* pascal_plan.c - PASCAL's maestro netlist -> axle task chains (axl_pascal_plan.h). */
#include "hw/line/axl_pascal_plan.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A JSON path for messages; long sample names are cut, never overflow. */
typedef struct jpath {
    char s[160];
} jpath;

static void jp(jpath *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jp(jpath *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->s, sizeof(p->s), fmt, ap);
    va_end(ap);
}

static int get_number(const json_t *obj, const char *key, const jpath *at, double *out,
                      axl_errbuf *eb)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return axl_fail(eb, AXL_EMISSING, "%s.%s: required", at->s, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return axl_fail(eb, AXL_ETYPE, "%s.%s: must be a finite number", at->s, key);
    *out = json_number_value(v);
    return 0;
}

static int get_bool(const json_t *obj, const char *key, const jpath *at, bool *out, axl_errbuf *eb)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0; /* keep PASCAL's default */
    if (!json_is_boolean(v))
        return axl_fail(eb, AXL_ETYPE, "%s.%s: must be true or false", at->s, key);
    *out = json_is_true(v);
    return 0;
}

static int parse_drop(const json_t *d, const jpath *at, axl_drop *out, axl_errbuf *eb)
{
    int rc;
    if (!json_is_object(d))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", at->s);
    axl_drop_defaults(out, false);
    const json_t *sol = json_object_get(d, "solution");
    const json_t *solvent = json_is_object(sol) ? json_object_get(sol, "solvent") : NULL;
    snprintf(out->solution, sizeof(out->solution), "%s",
             json_is_string(solvent) ? json_string_value(solvent)
             : json_is_string(sol)   ? json_string_value(sol)
                                     : "unknown");
    if ((rc = get_number(d, "volume", at, &out->volume, eb)) ||
        (rc = get_number(d, "time", at, &out->time, eb)))
        return rc;
    if (json_object_get(d, "rate") && (rc = get_number(d, "rate", at, &out->rate, eb)))
        return rc;
    if (json_object_get(d, "height") && (rc = get_number(d, "height", at, &out->height, eb)))
        return rc;
    if ((rc = get_bool(d, "air_gap", at, &out->air_gap, eb)) ||
        (rc = get_bool(d, "blow_out", at, &out->blow_out, eb)) ||
        (rc = get_bool(d, "reuse_tip", at, &out->reuse_tip, eb)) ||
        (rc = get_bool(d, "slow_retract", at, &out->slow_retract, eb)) ||
        (rc = get_bool(d, "slow_travel", at, &out->slow_travel, eb)) ||
        (rc = get_bool(d, "touch_tip", at, &out->touch_tip, eb)))
        return rc;
    const json_t *pm = json_object_get(d, "pre_mix");
    if (pm != NULL) {
        if (!json_is_array(pm) || json_array_size(pm) != 2 ||
            !json_is_number(json_array_get(pm, 0)) || !json_is_number(json_array_get(pm, 1)))
            return axl_fail(eb, AXL_ETYPE, "%s.pre_mix: must be [cycles, volume]", at->s);
        double n = json_number_value(json_array_get(pm, 0));
        if (!(n >= 0 && n <= AXL_PREMIX_MAX_CYCLES))
            return axl_fail(eb, AXL_ERANGE, "%s.pre_mix[0]: %g cycles", at->s, n);
        out->premix_cycles = (unsigned)n;
        out->premix_volume = json_number_value(json_array_get(pm, 1));
    }
    return 0;
}

static int parse_spincoat(const json_t *det, const jpath *at, axl_spincoat *s, axl_errbuf *eb)
{
    int rc;
    jpath p;
    const json_t *steps = json_object_get(det, "steps"), *drops = json_object_get(det, "drops");
    if (!json_is_array(steps) || json_array_size(steps) < 1 ||
        json_array_size(steps) > AXL_SPIN_MAX_STEPS)
        return axl_fail(eb, AXL_ETYPE, "%s.steps: must be an array of 1-%d steps", at->s,
                        AXL_SPIN_MAX_STEPS);
    if (!json_is_array(drops) || json_array_size(drops) < 1 ||
        json_array_size(drops) > AXL_SPIN_MAX_DROPS)
        return axl_fail(eb, AXL_ETYPE, "%s.drops: must be an array of 1-%d drops", at->s,
                        AXL_SPIN_MAX_DROPS);
    memset(s, 0, sizeof(*s));
    s->nsteps = (uint32_t)json_array_size(steps);
    for (size_t i = 0; i < s->nsteps; i++) {
        const json_t *st = json_array_get(steps, i);
        jp(&p, "%s.steps[%zu]", at->s, i);
        if (!json_is_object(st))
            return axl_fail(eb, AXL_ETYPE, "%s: must be an object", p.s);
        if ((rc = get_number(st, "rpm", &p, &s->step[i].rpm, eb)) ||
            (rc = get_number(st, "acceleration", &p, &s->step[i].accel, eb)) ||
            (rc = get_number(st, "duration", &p, &s->step[i].duration, eb)))
            return rc;
    }
    s->ndrops = (uint32_t)json_array_size(drops);
    for (size_t i = 0; i < s->ndrops; i++) {
        jp(&p, "%s.drops[%zu]", at->s, i);
        if ((rc = parse_drop(json_array_get(drops, i), &p, &s->drop[i], eb)))
            return rc;
    }
    return 0;
}

static int parse_characterize(const json_t *det, const jpath *at, axl_characterize *c,
                              axl_errbuf *eb)
{
    int rc;
    jpath p;
    const json_t *ts = json_object_get(det, "characterization_tasks");
    memset(c, 0, sizeof(*c));
    if (ts == NULL)
        return 0;
    if (!json_is_array(ts) || json_array_size(ts) > AXL_CHAR_MAX_MEAS)
        return axl_fail(eb, AXL_ETYPE, "%s.characterization_tasks: must be an array of 0-%d", at->s,
                        AXL_CHAR_MAX_MEAS);
    c->n = (uint32_t)json_array_size(ts);
    for (size_t i = 0; i < c->n; i++) {
        const json_t *m = json_array_get(ts, i);
        jp(&p, "%s.characterization_tasks[%zu]", at->s, i);
        if (!json_is_object(m))
            return axl_fail(eb, AXL_ETYPE, "%s: must be an object", p.s);
        const json_t *name = json_object_get(m, "name");
        snprintf(c->m[i].name, sizeof(c->m[i].name), "%s",
                 json_is_string(name) ? json_string_value(name) : "");
        if ((rc = get_number(m, "duration", &p, &c->m[i].duration, eb)) ||
            (rc = get_number(m, "position", &p, &c->m[i].position, eb)))
            return rc;
    }
    return 0;
}

/* "storage_to_spincoater" -> (storage, spincoater). */
static bool parse_move_name(const char *name, axl_station *from, axl_station *to)
{
    const char *sep = strstr(name, "_to_");
    char a[32];
    size_t la = sep != NULL ? (size_t)(sep - name) : 0;
    if (sep == NULL || la == 0 || la >= sizeof(a))
        return false;
    memcpy(a, name, la);
    a[la] = '\0';
    return axl_station_parse(a, from) == 0 && axl_station_parse(sep + 4, to) == 0 && *from != *to;
}

static double model_duration(double d, unsigned flags)
{
    return (flags & AXL_PASCAL_TRUNCATE) ? trunc(d) : d;
}

static int parse_task(const json_t *t, const jpath *at, unsigned flags, axl_station *loc,
                      axl_chain_task *out, double *start, double *file_dur, axl_errbuf *eb)
{
    int rc;
    jpath p;
    if (!json_is_object(t))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", at->s);
    const json_t *jn = json_object_get(t, "name");
    if (!json_is_string(jn))
        return axl_fail(eb, AXL_ETYPE, "%s.name: must be a string", at->s);
    const char *name = json_string_value(jn);
    if ((rc = get_number(t, "start", at, start, eb)))
        return rc;
    const json_t *det = json_object_get(t, "details");
    jp(&p, "%s.details", at->s);
    if (det != NULL && !json_is_object(det))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", p.s);
    *file_dur = NAN;
    memset(out, 0, sizeof(*out));
    out->from = out->to = *loc;
    out->temperature = NAN;
    out->recipe_task = -1;
    axl_station from, to;
    if (parse_move_name(name, &from, &to)) {
        out->kind = AXL_TASK_MOVE;
        out->from = from;
        out->to = to;
        out->duration = axl_station_move_s(from, to);
        *loc = to;
        return 0;
    }
    if (det == NULL)
        return axl_fail(eb, AXL_EMISSING, "%s: required for a %s task", p.s, name);
    if (strcmp(name, "spincoat") == 0) {
        axl_spincoat sc;
        if ((rc = parse_spincoat(det, &p, &sc, eb)))
            return rc;
        out->kind = AXL_TASK_SPINCOAT;
        out->duration = model_duration(axl_spincoat_duration_s(&sc), flags);
        const json_t *fd = json_object_get(det, "duration");
        if (json_is_number(fd))
            *file_dur = json_number_value(fd);
        return 0;
    }
    if (strcmp(name, "anneal") == 0) {
        out->kind = AXL_TASK_ANNEAL;
        if ((rc = get_number(det, "duration", &p, &out->duration, eb)) ||
            (rc = get_number(det, "temperature", &p, &out->temperature, eb)))
            return rc;
        *file_dur = out->duration;
        return 0;
    }
    if (strcmp(name, "rest") == 0) {
        out->kind = AXL_TASK_REST;
        if ((rc = get_number(det, "duration", &p, &out->duration, eb)))
            return rc;
        *file_dur = out->duration;
        return 0;
    }
    if (strcmp(name, "characterize") == 0) {
        axl_characterize c;
        if ((rc = parse_characterize(det, &p, &c, eb)))
            return rc;
        out->kind = AXL_TASK_CHARACTERIZE;
        out->duration = model_duration(axl_characterize_duration_s(&c), flags);
        const json_t *fd = json_object_get(t, "duration");
        if (json_is_number(fd))
            *file_dur = json_number_value(fd);
        return 0;
    }
    return axl_fail(eb, AXL_EINVAL, "%s.name: unknown task '%s'", at->s, name);
}

static int parse_sample(const json_t *s, const char *key, unsigned flags, axl_pascal_sample *out,
                        axl_errbuf *eb)
{
    int rc;
    jpath at, p;
    jp(&at, "samples.%s", key);
    if (!json_is_object(s))
        return axl_fail(eb, AXL_ETYPE, "%s: must be an object", at.s);
    memset(out, 0, sizeof(*out));
    const json_t *name = json_object_get(s, "name");
    snprintf(out->name, sizeof(out->name), "%s",
             json_is_string(name) ? json_string_value(name) : key);
    const json_t *slot = json_object_get(s, "storage_slot");
    if (json_is_object(slot)) {
        const json_t *tr = json_object_get(slot, "tray"), *sl = json_object_get(slot, "slot");
        snprintf(out->tray, sizeof(out->tray), "%s",
                 json_is_string(tr) ? json_string_value(tr) : "");
        snprintf(out->slot, sizeof(out->slot), "%s",
                 json_is_string(sl) ? json_string_value(sl) : "");
    }
    const json_t *wl = json_object_get(s, "worklist");
    if (!json_is_array(wl))
        return axl_fail(eb, AXL_ETYPE, "%s.worklist: must be an array", at.s);
    size_t n = json_array_size(wl);
    if (n < 1 || n > AXL_CHAIN_MAX)
        return axl_fail(eb, AXL_ETOOBIG, "%s.worklist: %zu tasks, need 1-%d", at.s, n,
                        AXL_CHAIN_MAX);
    axl_station loc = AXL_STATION_STORAGE;
    const char *prev_id = NULL;
    for (size_t k = 0; k < n; k++) {
        const json_t *t = json_array_get(wl, k);
        jp(&p, "%s.worklist[%zu]", at.s, k);
        if ((rc = parse_task(t, &p, flags, &loc, &out->chain.task[k], &out->start[k],
                             &out->file_duration[k], eb)))
            return rc;
        /* The worklist must be the precedence chain, in order. */
        const json_t *prec = json_object_get(t, "precedent"), *id = json_object_get(t, "id");
        bool ok = prev_id == NULL
                      ? (prec == NULL || json_is_null(prec))
                      : (json_is_string(prec) && strcmp(json_string_value(prec), prev_id) == 0);
        if (!ok)
            return axl_fail(eb, AXL_EINVAL, "%s.precedent: not the previous task's id", p.s);
        prev_id = json_is_string(id) ? json_string_value(id) : "";
    }
    out->chain.n = (uint32_t)n;
    axl_errbuf ceb;
    if ((rc = axl_chain_validate(&out->chain, &ceb)))
        return axl_fail(eb, rc, "%s: %s", at.s, ceb.msg);
    return 0;
}

int axl_pascal_plan_parse(const json_t *root, unsigned flags, axl_pascal_plan *out, axl_errbuf *eb)
{
    int rc;
    if (out == NULL)
        return axl_fail(eb, AXL_EINVAL, "netlist: NULL output");
    memset(out, 0, sizeof(*out));
    if (!json_is_object(root))
        return axl_fail(eb, AXL_ETYPE, "netlist: must be an object");
    const json_t *hp = json_object_get(root, "hotplate_setpoints");
    if (hp != NULL) {
        if (!json_is_object(hp))
            return axl_fail(eb, AXL_ETYPE, "hotplate_setpoints: must be an object");
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)hp, key, v)
        {
            if (out->nplates >= AXL_TL_MAX_PLATES)
                return axl_fail(eb, AXL_ETOOBIG, "hotplate_setpoints: more than %d plates",
                                AXL_TL_MAX_PLATES);
            if (!json_is_number(v) || !isfinite(json_number_value(v)))
                return axl_fail(eb, AXL_ETYPE, "hotplate_setpoints.%s: must be a number", key);
            out->plate_setpoint[out->nplates++] = json_number_value(v);
        }
    }
    const json_t *samples = json_object_get(root, "samples");
    if (samples == NULL)
        return axl_fail(eb, AXL_EMISSING, "samples: required");
    size_t n = json_is_object(samples)  ? json_object_size(samples)
               : json_is_array(samples) ? json_array_size(samples)
                                        : 0;
    if (!json_is_object(samples) && !json_is_array(samples))
        return axl_fail(eb, AXL_ETYPE, "samples: must be an object or an array");
    if (n > AXL_PASCAL_MAX_SAMPLES)
        return axl_fail(eb, AXL_ETOOBIG, "samples: %zu, at most %d", n, AXL_PASCAL_MAX_SAMPLES);
    if (n == 0)
        return 0;
    out->sample = calloc(n, sizeof(*out->sample));
    if (out->sample == NULL)
        return axl_fail(eb, AXL_ENOMEM, "netlist: out of memory for %zu samples", n);
    if (json_is_object(samples)) {
        /* jansson keeps insertion order: this is the file's order. */
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)samples, key, v)
        {
            if ((rc = parse_sample(v, key, flags, &out->sample[out->nsamples], eb)))
                return rc;
            out->nsamples++;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            char key[32];
            snprintf(key, sizeof(key), "[%zu]", i);
            if ((rc = parse_sample(json_array_get(samples, i), key, flags,
                                   &out->sample[out->nsamples], eb)))
                return rc;
            out->nsamples++;
        }
    }
    return 0;
}

int axl_pascal_plan_load(const char *path, unsigned flags, axl_pascal_plan *out, axl_errbuf *eb)
{
    int rc;
    char *buf = NULL;
    json_t *root = NULL;
    FILE *f = NULL;
    if (out == NULL || path == NULL)
        return axl_fail(eb, AXL_EINVAL, "netlist: NULL argument");
    memset(out, 0, sizeof(*out));
    f = fopen(path, "rb");
    if (f == NULL)
        return axl_fail(eb, AXL_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = axl_fail(eb, AXL_EIO, "%s: not a regular file", path);
        goto fail;
    }
    if ((unsigned long long)st.st_size > AXL_PASCAL_MAX_FILE) {
        rc = axl_fail(eb, AXL_ETOOBIG, "%s: %lld bytes, at most %u", path, (long long)st.st_size,
                      AXL_PASCAL_MAX_FILE);
        goto fail;
    }
    size_t len = (size_t)st.st_size;
    buf = malloc(len + 1);
    if (buf == NULL) {
        rc = axl_fail(eb, AXL_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (fread(buf, 1, len, f) != len) {
        rc = axl_fail(eb, AXL_EIO, "%s: short read", path);
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rc = axl_fail(eb, AXL_EPROTO, "%s: JSON error at line %d column %d: %s", path, jerr.line,
                      jerr.column, jerr.text);
        goto fail;
    }
    rc = axl_pascal_plan_parse(root, flags, out, eb);
fail:
    json_decref(root);
    free(buf);
    if (f != NULL)
        fclose(f);
    return rc;
}

void axl_pascal_plan_free(axl_pascal_plan *p)
{
    if (p == NULL)
        return;
    free(p->sample);
    memset(p, 0, sizeof(*p));
}

void axl_pascal_plan_stats(const axl_pascal_plan *p, axl_pascal_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (p == NULL || p->nsamples == 0)
        return;
    out->first_start = INFINITY;
    out->last_end = -INFINITY;
    for (size_t i = 0; i < p->nsamples; i++) {
        const axl_pascal_sample *s = &p->sample[i];
        for (uint32_t k = 0; k < s->chain.n; k++) {
            const axl_chain_task *t = &s->chain.task[k];
            out->ntasks[t->kind]++;
            out->first_start = fmin(out->first_start, s->start[k]);
            out->last_end = fmax(out->last_end, s->start[k] + t->duration);
            bool spin = t->from == AXL_STATION_SPINCOATER || t->to == AXL_STATION_SPINCOATER;
            bool chr =
                t->from == AXL_STATION_CHARACTERIZATION || t->to == AXL_STATION_CHARACTERIZATION;
            if (spin)
                out->spincoater_held += t->duration;
            if (chr)
                out->characterization_held += t->duration;
            if (t->kind == AXL_TASK_MOVE)
                out->gripper_busy += t->duration;
        }
    }
    out->makespan = out->last_end - out->first_start;
}

void axl_pascal_plan_tl_config(const axl_pascal_plan *p, axl_tl_config *cfg)
{
    axl_tl_config_default(cfg);
    if (p == NULL || p->nplates == 0)
        return;
    cfg->n_plates = p->nplates;
    for (unsigned i = 0; i < AXL_TL_MAX_PLATES; i++)
        cfg->plate_setpoint[i] = i < p->nplates ? p->plate_setpoint[i] : NAN;
}

int axl_pascal_plan_place(const axl_pascal_plan *p, axl_timeline *tl, uint64_t first_id,
                          double release, axl_errbuf *eb)
{
    if (p == NULL || tl == NULL)
        return axl_fail(eb, AXL_EINVAL, "netlist: NULL argument");
    for (size_t i = 0; i < p->nsamples; i++) {
        int rc = axl_tl_place(tl, first_id + i, &p->sample[i].chain, release, NULL, eb);
        if (rc)
            return rc;
    }
    return 0;
}
