/*
 * recipe.c - sample recipes: PASCAL's defaults, its duration model, range validation
 * and parameter binding. The JSON side lives in recipe_json.c.
 */
#include "hw/line/axl_recipe.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* --- defaults --------------------------------------------------------------------------- */

void axl_drop_defaults(axl_drop *d, bool is_volatile)
{
    memset(d, 0, sizeof(*d));
    d->rate = 80;
    d->height = 2;
    d->slow_retract = true;
    d->air_gap = true;
    d->blow_out = true;
    d->reuse_tip = false;
    d->is_volatile = is_volatile;
    if (is_volatile) {
        /* Antisolvents evaporate from the tip: no touch-off, more mixing to wet the
         * tip, and slow travel so the drop does not fall off on the way. */
        d->touch_tip = false;
        d->premix_cycles = 5;
        d->premix_volume = 100;
        d->slow_travel = true;
    } else {
        d->touch_tip = true;
        d->premix_cycles = 3;
        d->premix_volume = 50;
        d->slow_travel = false;
    }
}

void axl_characterize_defaults(axl_characterize *c)
{
    /* PASCAL's example netlist: every sample runs these five, in this order. */
    static const axl_measurement def[] = {
        {"Brightfield", 0.05, 164.4}, {"PL_635nm", 26.22, 287},  {"Transmission", 46.54, 287},
        {"Darkfield", 2.5, 74.2},     {"PLImaging", 62.5, 74.2},
    };
    memset(c, 0, sizeof(*c));
    c->n = sizeof(def) / sizeof(def[0]);
    memcpy(c->m, def, sizeof(def));
}

void axl_recipe_seed(double antisolvent_volume, double antisolvent_rate, double antisolvent_timing,
                     double anneal_duration, axl_recipe *out)
{
    memset(out, 0, sizeof(*out));
    out->ntasks = 4;

    axl_rtask *t = &out->task[0];
    t->kind = AXL_RTASK_SPINCOAT;
    axl_spincoat *s = &t->u.spincoat;
    s->nsteps = 1;
    s->step[0] = (axl_spin_step){3000, 2000, 50};
    s->ndrops = 2;
    axl_drop_defaults(&s->drop[0], false);
    snprintf(s->drop[0].solution, sizeof(s->drop[0].solution), "absorber");
    s->drop[0].volume = 20;
    s->drop[0].time = -1;
    s->drop[0].blow_out = true;
    axl_drop_defaults(&s->drop[1], true);
    snprintf(s->drop[1].solution, sizeof(s->drop[1].solution), "methylacetate");
    s->drop[1].volume = antisolvent_volume;
    s->drop[1].time = 50 + antisolvent_timing;
    s->drop[1].rate = antisolvent_rate;
    s->drop[1].reuse_tip = true;
    s->drop[1].touch_tip = false;
    s->drop[1].premix_cycles = 3;
    s->drop[1].premix_volume = 100;
    s->drop[1].slow_travel = true;

    out->task[1].kind = AXL_RTASK_ANNEAL;
    out->task[1].u.anneal = (axl_anneal){100, anneal_duration};
    out->task[2].kind = AXL_RTASK_REST;
    out->task[2].u.rest.duration = 180;
    out->task[3].kind = AXL_RTASK_CHARACTERIZE;
    axl_characterize_defaults(&out->task[3].u.characterize);
}

/* --- PASCAL's duration model ------------------------------------------------------------- */

double axl_drop_aspirate_s(const axl_drop *d)
{
    return 10 + d->volume / 100 + 2 +
           (double)d->premix_cycles * (0.0209 * d->premix_volume + 0.5132) + 1.5 * d->touch_tip +
           3 * d->slow_retract + 2.5 * d->air_gap;
}

double axl_drop_stage_s(const axl_drop *d)
{
    return d->slow_travel ? 4 : 2;
}

double axl_drop_dispense_s(const axl_drop *d)
{
    return d->slow_travel ? 1 : 0.8;
}

double axl_spincoat_duration_s(const axl_spincoat *s)
{
    double total = 0;
    for (uint32_t i = 0; i < s->nsteps && i < AXL_SPIN_MAX_STEPS; i++)
        total += s->step[i].duration;
    if (s->ndrops == 0)
        return total;
    const axl_drop *d0 = &s->drop[0];
    double t0 = d0->time;
    /* A static drop (t0 < 0) lands before the chuck starts: the spin waits for it. */
    total += fmax(0, -t0);
    /* The liquid handler must finish everything that precedes the first drop landing;
     * with two drops PASCAL aspirates the second one before the first is dispensed. */
    double lh = axl_drop_aspirate_s(d0) + axl_drop_stage_s(d0) + axl_drop_dispense_s(d0) - t0;
    if (s->ndrops == 1)
        total += fmax(lh, 0);
    else
        total += lh + axl_drop_aspirate_s(&s->drop[1]);
    return total;
}

double axl_characterize_duration_s(const axl_characterize *c)
{
    double total = 10, x = 0;
    uint32_t n = c->n < AXL_CHAR_MAX_MEAS ? c->n : AXL_CHAR_MAX_MEAS;
    for (uint32_t i = 0; i < n; i++) {
        total += c->m[i].duration + fabs(c->m[i].position - x) * 0.0461 + 1.161;
        x = c->m[i].position;
    }
    total += fabs(x) * 0.0461 + 1.161; /* back to the home position */
    return total;
}

double axl_rtask_duration_s(const axl_rtask *t)
{
    switch (t->kind) {
    case AXL_RTASK_SPINCOAT:
        return axl_spincoat_duration_s(&t->u.spincoat);
    case AXL_RTASK_ANNEAL:
        return t->u.anneal.duration;
    case AXL_RTASK_REST:
        return t->u.rest.duration;
    case AXL_RTASK_CHARACTERIZE:
        return axl_characterize_duration_s(&t->u.characterize);
    }
    return NAN;
}

const char *axl_rtask_kind_name(axl_rtask_kind k)
{
    switch (k) {
    case AXL_RTASK_SPINCOAT:
        return "spincoat";
    case AXL_RTASK_ANNEAL:
        return "anneal";
    case AXL_RTASK_REST:
        return "rest";
    case AXL_RTASK_CHARACTERIZE:
        return "characterize";
    }
    return "unknown";
}

/* --- field paths and addresses ------------------------------------------------------------ */

static const char *const field_names[AXL_FIELD_COUNT] = {
    [AXL_FIELD_STEP_RPM] = "rpm",
    [AXL_FIELD_STEP_ACCEL] = "acceleration",
    [AXL_FIELD_STEP_DURATION] = "duration",
    [AXL_FIELD_DROP_VOLUME] = "volume",
    [AXL_FIELD_DROP_TIME] = "time",
    [AXL_FIELD_DROP_RATE] = "rate",
    [AXL_FIELD_DROP_HEIGHT] = "height",
    [AXL_FIELD_DROP_PREMIX_CYCLES] = "pre_mix[0]",
    [AXL_FIELD_DROP_PREMIX_VOLUME] = "pre_mix[1]",
    [AXL_FIELD_ANNEAL_TEMPERATURE] = "temperature",
    [AXL_FIELD_ANNEAL_DURATION] = "duration",
    [AXL_FIELD_REST_DURATION] = "duration",
    [AXL_FIELD_MEAS_DURATION] = "duration",
    [AXL_FIELD_MEAS_POSITION] = "position",
};

void axl_recipe_field_path(uint16_t task, axl_field_id field, uint16_t index, char *buf, size_t len)
{
    if (len == 0)
        return;
    const char *name = (unsigned)field < AXL_FIELD_COUNT ? field_names[field] : "?";
    switch (field) {
    case AXL_FIELD_STEP_RPM:
    case AXL_FIELD_STEP_ACCEL:
    case AXL_FIELD_STEP_DURATION:
        snprintf(buf, len, "worklist[%u].steps[%u].%s", task, index, name);
        break;
    case AXL_FIELD_DROP_VOLUME:
    case AXL_FIELD_DROP_TIME:
    case AXL_FIELD_DROP_RATE:
    case AXL_FIELD_DROP_HEIGHT:
    case AXL_FIELD_DROP_PREMIX_CYCLES:
    case AXL_FIELD_DROP_PREMIX_VOLUME:
        snprintf(buf, len, "worklist[%u].drops[%u].%s", task, index, name);
        break;
    case AXL_FIELD_MEAS_DURATION:
    case AXL_FIELD_MEAS_POSITION:
        snprintf(buf, len, "worklist[%u].measurements[%u].%s", task, index, name);
        break;
    default:
        snprintf(buf, len, "worklist[%u].%s", task, name);
        break;
    }
}

/*
 * Where a field lives inside r, or NULL when (task, field, index) does not name a field
 * of that task's kind. Premix cycles is an unsigned and handled by the callers.
 */
static double *field_addr(axl_recipe *r, uint16_t task, axl_field_id field, uint16_t index)
{
    if (task >= r->ntasks || task >= AXL_RECIPE_MAX_TASKS)
        return NULL;
    axl_rtask *t = &r->task[task];
    switch (field) {
    case AXL_FIELD_STEP_RPM:
    case AXL_FIELD_STEP_ACCEL:
    case AXL_FIELD_STEP_DURATION:
        if (t->kind != AXL_RTASK_SPINCOAT || index >= t->u.spincoat.nsteps ||
            index >= AXL_SPIN_MAX_STEPS)
            return NULL;
        if (field == AXL_FIELD_STEP_RPM)
            return &t->u.spincoat.step[index].rpm;
        if (field == AXL_FIELD_STEP_ACCEL)
            return &t->u.spincoat.step[index].accel;
        return &t->u.spincoat.step[index].duration;
    case AXL_FIELD_DROP_VOLUME:
    case AXL_FIELD_DROP_TIME:
    case AXL_FIELD_DROP_RATE:
    case AXL_FIELD_DROP_HEIGHT:
    case AXL_FIELD_DROP_PREMIX_VOLUME: {
        if (t->kind != AXL_RTASK_SPINCOAT || index >= t->u.spincoat.ndrops ||
            index >= AXL_SPIN_MAX_DROPS)
            return NULL;
        axl_drop *d = &t->u.spincoat.drop[index];
        if (field == AXL_FIELD_DROP_VOLUME)
            return &d->volume;
        if (field == AXL_FIELD_DROP_TIME)
            return &d->time;
        if (field == AXL_FIELD_DROP_RATE)
            return &d->rate;
        if (field == AXL_FIELD_DROP_HEIGHT)
            return &d->height;
        return &d->premix_volume;
    }
    case AXL_FIELD_ANNEAL_TEMPERATURE:
        return t->kind == AXL_RTASK_ANNEAL ? &t->u.anneal.temperature : NULL;
    case AXL_FIELD_ANNEAL_DURATION:
        return t->kind == AXL_RTASK_ANNEAL ? &t->u.anneal.duration : NULL;
    case AXL_FIELD_REST_DURATION:
        return t->kind == AXL_RTASK_REST ? &t->u.rest.duration : NULL;
    case AXL_FIELD_MEAS_DURATION:
    case AXL_FIELD_MEAS_POSITION:
        if (t->kind != AXL_RTASK_CHARACTERIZE || index >= t->u.characterize.n ||
            index >= AXL_CHAR_MAX_MEAS)
            return NULL;
        return field == AXL_FIELD_MEAS_DURATION ? &t->u.characterize.m[index].duration
                                                : &t->u.characterize.m[index].position;
    default:
        return NULL;
    }
}

/* --- validation ------------------------------------------------------------------------- */

/* Context for messages: the prefix path and, when validating an instance, its template. */
typedef struct vctx {
    const char *path;
    const axl_recipe_template *tpl;
    bool skip_bound; /* template check: bound fields have no value yet */
    axl_errbuf *eb;
} vctx;

static const axl_binding *find_binding(const axl_recipe_template *tpl, uint16_t task,
                                       axl_field_id field, uint16_t index)
{
    for (uint32_t i = 0; tpl != NULL && i < tpl->nbindings && i < AXL_RECIPE_MAX_BINDINGS; i++) {
        const axl_binding *x = &tpl->binding[i];
        if (x->task == task && x->field == field && x->index == index)
            return x;
    }
    return NULL;
}

/* True when the check of this field must wait for instantiation. */
static bool skipped(const vctx *c, uint16_t task, axl_field_id field, uint16_t index)
{
    return c->skip_bound && find_binding(c->tpl, task, field, index) != NULL;
}

/* Formats "<path>.<field>: <what>" plus " (= offset + scale x param)" for bound fields. */
static int field_fail(const vctx *c, int code, uint16_t task, axl_field_id field, uint16_t index,
                      const char *what)
{
    char fpath[AXL_RECIPE_PATH_MAX];
    axl_recipe_field_path(task, field, index, fpath, sizeof(fpath));
    const axl_binding *b = find_binding(c->tpl, task, field, index);
    if (b != NULL)
        return axl_fail(c->eb, code, "%s.%s: %s (= %g + %g x %s)", c->path, fpath, what, b->offset,
                        b->scale, b->param);
    return axl_fail(c->eb, code, "%s.%s: %s", c->path, fpath, what);
}

/* Checks lo <= v <= hi (finite); unit is for the message. */
static int check_range(const vctx *c, double v, double lo, double hi, const char *unit,
                       uint16_t task, axl_field_id field, uint16_t index)
{
    if ((isfinite(v) && v >= lo && v <= hi) || skipped(c, task, field, index))
        return 0;
    char what[128];
    snprintf(what, sizeof(what), "%g %s is outside %g-%g", v, unit, lo, hi);
    return field_fail(c, AXL_ERANGE, task, field, index, what);
}

/* Checks v > 0 (finite). */
static int check_positive(const vctx *c, double v, uint16_t task, axl_field_id field,
                          uint16_t index)
{
    if ((isfinite(v) && v > 0) || skipped(c, task, field, index))
        return 0;
    char what[96];
    snprintf(what, sizeof(what), "must be > 0 (got %g)", v);
    return field_fail(c, AXL_ERANGE, task, field, index, what);
}

static int validate_spincoat(const vctx *c, uint16_t ti, const axl_spincoat *s)
{
    int rc;
    if (s->nsteps < 1 || s->nsteps > AXL_SPIN_MAX_STEPS)
        return axl_fail(c->eb, AXL_EINVAL, "%s.worklist[%u].steps: %u steps, need 1-%d", c->path,
                        ti, s->nsteps, AXL_SPIN_MAX_STEPS);
    if (s->ndrops < 1 || s->ndrops > AXL_SPIN_MAX_DROPS)
        return axl_fail(c->eb, AXL_EINVAL, "%s.worklist[%u].drops: %u drops, need 1-%d", c->path,
                        ti, s->ndrops, AXL_SPIN_MAX_DROPS);
    double spin_end = 0;
    for (uint16_t i = 0; i < s->nsteps; i++) {
        const axl_spin_step *st = &s->step[i];
        if ((rc = check_range(c, st->rpm, AXL_SPIN_RPM_MIN, AXL_SPIN_RPM_MAX, "rpm", ti,
                              AXL_FIELD_STEP_RPM, i)) ||
            (rc = check_range(c, st->accel, AXL_SPIN_ACCEL_MIN, AXL_SPIN_ACCEL_MAX, "rpm/s", ti,
                              AXL_FIELD_STEP_ACCEL, i)) ||
            (rc = check_positive(c, st->duration, ti, AXL_FIELD_STEP_DURATION, i)))
            return rc;
        spin_end += st->duration;
    }
    for (uint16_t i = 0; i < s->ndrops; i++) {
        const axl_drop *d = &s->drop[i];
        if (d->solution[0] == '\0')
            return axl_fail(c->eb, AXL_EINVAL, "%s.worklist[%u].drops[%u].solution: empty", c->path,
                            ti, i);
        if ((rc = check_positive(c, d->volume, ti, AXL_FIELD_DROP_VOLUME, i)) ||
            (rc = check_range(c, d->volume, 0, AXL_DROP_VOLUME_MAX, "uL", ti, AXL_FIELD_DROP_VOLUME,
                              i)) ||
            (rc = check_range(c, d->rate, AXL_DROP_RATE_MIN, AXL_DROP_RATE_MAX, "uL/s", ti,
                              AXL_FIELD_DROP_RATE, i)) ||
            (rc = check_range(c, d->height, 0, AXL_DROP_HEIGHT_MAX, "mm", ti, AXL_FIELD_DROP_HEIGHT,
                              i)) ||
            (rc = check_range(c, d->premix_volume, 0, AXL_DROP_VOLUME_MAX, "uL", ti,
                              AXL_FIELD_DROP_PREMIX_VOLUME, i)))
            return rc;
        if (d->premix_cycles > AXL_PREMIX_MAX_CYCLES &&
            !skipped(c, ti, AXL_FIELD_DROP_PREMIX_CYCLES, i)) {
            char what[64];
            snprintf(what, sizeof(what), "%u cycles, at most %d", d->premix_cycles,
                     AXL_PREMIX_MAX_CYCLES);
            return field_fail(c, AXL_ERANGE, ti, AXL_FIELD_DROP_PREMIX_CYCLES, i, what);
        }
        /* Order checks wait until every time involved has a value. */
        if (c->skip_bound &&
            (isnan(d->time) || isnan(spin_end) || (i > 0 && isnan(s->drop[i - 1].time))))
            continue;
        /* A drop must land while the substrate is still on the chuck. */
        if (!isfinite(d->time) || d->time >= spin_end) {
            char what[96];
            snprintf(what, sizeof(what), "%g s is not before the spin ends at %g s", d->time,
                     spin_end);
            return field_fail(c, AXL_ERANGE, ti, AXL_FIELD_DROP_TIME, i, what);
        }
        if (i > 0 && d->time < s->drop[i - 1].time) {
            char what[96];
            snprintf(what, sizeof(what), "%g s is before the previous drop at %g s", d->time,
                     s->drop[i - 1].time);
            return field_fail(c, AXL_EINVAL, ti, AXL_FIELD_DROP_TIME, i, what);
        }
    }
    return 0;
}

static int validate_task(const vctx *c, uint16_t ti, const axl_rtask *t)
{
    int rc = 0;
    switch (t->kind) {
    case AXL_RTASK_SPINCOAT:
        return validate_spincoat(c, ti, &t->u.spincoat);
    case AXL_RTASK_ANNEAL:
        if ((rc = check_range(c, t->u.anneal.temperature, AXL_ANNEAL_TEMP_MIN, AXL_ANNEAL_TEMP_MAX,
                              "C", ti, AXL_FIELD_ANNEAL_TEMPERATURE, 0)))
            return rc;
        return check_positive(c, t->u.anneal.duration, ti, AXL_FIELD_ANNEAL_DURATION, 0);
    case AXL_RTASK_REST:
        return check_positive(c, t->u.rest.duration, ti, AXL_FIELD_REST_DURATION, 0);
    case AXL_RTASK_CHARACTERIZE: {
        const axl_characterize *ch = &t->u.characterize;
        if (ch->n > AXL_CHAR_MAX_MEAS)
            return axl_fail(c->eb, AXL_EINVAL, "%s.worklist[%u].measurements: %u, at most %d",
                            c->path, ti, ch->n, AXL_CHAR_MAX_MEAS);
        for (uint16_t i = 0; i < ch->n; i++) {
            if ((rc = check_range(c, ch->m[i].duration, 0, 86400, "s", ti, AXL_FIELD_MEAS_DURATION,
                                  i)) ||
                (rc = check_range(c, ch->m[i].position, 0, AXL_CHAR_AXIS_MAX, "mm", ti,
                                  AXL_FIELD_MEAS_POSITION, i)))
                return rc;
        }
        return 0;
    }
    }
    return axl_fail(c->eb, AXL_EINVAL, "%s.worklist[%u]: unknown task kind %d", c->path, ti,
                    (int)t->kind);
}

static int validate(const axl_recipe *r, const char *path, const axl_recipe_template *tpl,
                    bool skip_bound, axl_errbuf *eb)
{
    vctx c = {path != NULL ? path : "recipe", tpl, skip_bound, eb};
    if (r == NULL)
        return axl_fail(eb, AXL_EINVAL, "%s: no recipe", c.path);
    if (r->ntasks < 1 || r->ntasks > AXL_RECIPE_MAX_TASKS)
        return axl_fail(eb, AXL_EINVAL, "%s.worklist: %u tasks, need 1-%d", c.path, r->ntasks,
                        AXL_RECIPE_MAX_TASKS);
    for (uint16_t i = 0; i < r->ntasks; i++) {
        int rc = validate_task(&c, i, &r->task[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int axl_recipe_validate(const axl_recipe *r, const char *path, axl_errbuf *eb)
{
    return validate(r, path, NULL, false, eb);
}

int axl_recipe_template_validate(const axl_recipe_template *t, axl_errbuf *eb)
{
    if (t == NULL)
        return axl_fail(eb, AXL_EINVAL, "axl_recipe_template_validate: NULL template");
    return validate(&t->base, t->path[0] ? t->path : "recipe", t, true, eb);
}

/* --- instantiation -------------------------------------------------------------------------- */

int axl_recipe_instantiate(const axl_recipe_template *t, const axl_recipe_arg *params,
                           size_t nparams, axl_recipe *out, axl_errbuf *eb)
{
    if (t == NULL || out == NULL || (nparams > 0 && params == NULL))
        return axl_fail(eb, AXL_EINVAL, "axl_recipe_instantiate: NULL argument");
    const char *path = t->path[0] ? t->path : "recipe";
    *out = t->base;
    for (uint32_t i = 0; i < t->nbindings && i < AXL_RECIPE_MAX_BINDINGS; i++) {
        const axl_binding *b = &t->binding[i];
        const axl_recipe_arg *p = NULL;
        for (size_t k = 0; k < nparams; k++) {
            if (params[k].name != NULL && strcmp(params[k].name, b->param) == 0) {
                p = &params[k];
                break;
            }
        }
        if (p == NULL)
            return axl_fail(eb, AXL_EMISSING, "%s: parameter '%s' is not in the trial", b->path,
                            b->param);
        double v = b->offset + b->scale * p->value;
        if (!isfinite(v))
            return axl_fail(eb, AXL_ERANGE, "%s: %g + %g x %s(%g) is not finite", b->path,
                            b->offset, b->scale, b->param, p->value);
        if (b->field == AXL_FIELD_DROP_PREMIX_CYCLES) {
            if (b->task >= out->ntasks || out->task[b->task].kind != AXL_RTASK_SPINCOAT ||
                b->index >= out->task[b->task].u.spincoat.ndrops)
                return axl_fail(eb, AXL_EINVAL, "%s: binding names no field", b->path);
            double r = nearbyint(v);
            if (r < 0 || r > AXL_PREMIX_MAX_CYCLES)
                return axl_fail(eb, AXL_ERANGE, "%s: %g cycles is outside 0-%d (= %g + %g x %s)",
                                b->path, v, AXL_PREMIX_MAX_CYCLES, b->offset, b->scale, b->param);
            out->task[b->task].u.spincoat.drop[b->index].premix_cycles = (unsigned)r;
            continue;
        }
        double *dst = field_addr(out, b->task, b->field, b->index);
        if (dst == NULL)
            return axl_fail(eb, AXL_EINVAL, "%s: binding names no field", b->path);
        *dst = v;
    }
    return validate(out, path, t, false, eb);
}
