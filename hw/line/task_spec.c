/* task_spec.c - a chain task's params raw map, both ways (axl_task.h). */
#include "hw/line/axl_task.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto/axl_proto.h"

axl_worker_role axl_task_role(const axl_chain_task *t)
{
    if (t->kind == AXL_TASK_MOVE)
        return AXL_ROLE_GRIPPER;
    switch (t->from) {
    case AXL_STATION_SPINCOATER:
        return AXL_ROLE_SPINCOATER;
    case AXL_STATION_HOTPLATE:
        return AXL_ROLE_HOTPLATE;
    case AXL_STATION_CHARACTERIZATION:
        return AXL_ROLE_CHARACTERIZATION;
    case AXL_STATION_STORAGE:
    default:
        return AXL_ROLE_STORAGE;
    }
}

int axl_task_kind_parse(const char *s, size_t len, axl_task_kind *out)
{
    for (int k = 0; k < AXL_TASK_KIND_COUNT; k++) {
        const char *name = axl_task_kind_name((axl_task_kind)k);
        if (strlen(name) == len && memcmp(name, s, len) == 0) {
            *out = (axl_task_kind)k;
            return 0;
        }
    }
    return AXL_EINVAL;
}

bool axl_role_runs(axl_worker_role role, axl_task_kind kind)
{
    switch (kind) {
    case AXL_TASK_MOVE:
        return role == AXL_ROLE_GRIPPER;
    case AXL_TASK_SPINCOAT:
        return role == AXL_ROLE_SPINCOATER;
    case AXL_TASK_ANNEAL:
        return role == AXL_ROLE_HOTPLATE;
    case AXL_TASK_CHARACTERIZE:
        return role == AXL_ROLE_CHARACTERIZATION;
    case AXL_TASK_REST:
        return role != AXL_ROLE_GRIPPER; /* a film rests where it is */
    }
    return false;
}

void axl_task_spec_from_chain(const axl_chain *c, uint32_t k, const axl_recipe *r,
                              const char *sample, axl_task_spec *out)
{
    memset(out, 0, sizeof(*out));
    out->ct = c->task[k];
    out->plate = -1;
    if (out->ct.kind != AXL_TASK_MOVE && r != NULL && out->ct.recipe_task >= 0 &&
        (uint32_t)out->ct.recipe_task < r->ntasks)
        out->rt = r->task[out->ct.recipe_task];
    snprintf(out->sample, sizeof(out->sample), "%s", sample != NULL ? sample : "");
}

/* ---- encoding ------------------------------------------------------------------------ */

static int pack_nums(msgpack_packer *pk, const char *key, const double *v, size_t n, size_t stride)
{
    int bad = axl_pack_cstr(pk, key) || msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n && !bad; i++)
        bad = msgpack_pack_double(pk, v[i * stride]);
    return bad;
}

static int pack_drop(msgpack_packer *pk, const axl_drop *d)
{
    double pre[2] = {(double)d->premix_cycles, d->premix_volume};
    return msgpack_pack_map(pk, 13) || axl_pack_kv_str(pk, "solution", d->solution) ||
           axl_pack_kv_num(pk, "volume", d->volume) || axl_pack_kv_num(pk, "time", d->time) ||
           axl_pack_kv_num(pk, "rate", d->rate) || axl_pack_kv_num(pk, "height", d->height) ||
           pack_nums(pk, "pre_mix", pre, 2, 1) || axl_pack_kv_bool(pk, "reuse_tip", d->reuse_tip) ||
           axl_pack_kv_bool(pk, "touch_tip", d->touch_tip) ||
           axl_pack_kv_bool(pk, "slow_travel", d->slow_travel) ||
           axl_pack_kv_bool(pk, "blow_out", d->blow_out) ||
           axl_pack_kv_bool(pk, "air_gap", d->air_gap) ||
           axl_pack_kv_bool(pk, "slow_retract", d->slow_retract) ||
           axl_pack_kv_bool(pk, "volatile", d->is_volatile);
}

int axl_task_spec_encode(const axl_task_spec *s, msgpack_sbuffer *out, axl_errbuf *eb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    char name[64];
    axl_chain_task_name(&s->ct, name, sizeof(name));
    if (s->sample[0] == '\0')
        return axl_fail(eb, AXL_EINVAL, "task spec: no sample name");
    size_t n = 2 + (s->slot[0] != '\0') + (s->plate >= 0);
    switch (s->ct.kind) {
    case AXL_TASK_MOVE:
        n += 2;
        break;
    case AXL_TASK_SPINCOAT:
        n += 4;
        break;
    case AXL_TASK_ANNEAL:
        n += 2;
        break;
    case AXL_TASK_REST:
        n += 2;
        break;
    case AXL_TASK_CHARACTERIZE:
        n += 1 + s->has_pl;
        break;
    }
    size_t before = out->size;
    int bad = msgpack_pack_map(&pk, n) || axl_pack_kv_str(&pk, "sample", s->sample) ||
              axl_pack_kv_str(&pk, "name", name);
    if (!bad && s->slot[0] != '\0')
        bad = axl_pack_kv_str(&pk, "slot", s->slot);
    if (!bad && s->plate >= 0)
        bad = axl_pack_kv_uint(&pk, "plate", (uint64_t)s->plate);
    const axl_rtask *rt = &s->rt;
    switch (s->ct.kind) {
    case AXL_TASK_MOVE:
        bad = bad || axl_pack_kv_str(&pk, "from", axl_station_name(s->ct.from)) ||
              axl_pack_kv_str(&pk, "to", axl_station_name(s->ct.to));
        break;
    case AXL_TASK_SPINCOAT: {
        const axl_spincoat *sc = &rt->u.spincoat;
        size_t stride = sizeof(axl_spin_step) / sizeof(double);
        bad = bad || pack_nums(&pk, "rpm", &sc->step[0].rpm, sc->nsteps, stride) ||
              pack_nums(&pk, "accel", &sc->step[0].accel, sc->nsteps, stride) ||
              pack_nums(&pk, "duration", &sc->step[0].duration, sc->nsteps, stride) ||
              axl_pack_cstr(&pk, "drops") || msgpack_pack_map(&pk, sc->ndrops);
        for (uint32_t i = 0; i < sc->ndrops && !bad; i++) {
            char key[4] = {(char)('0' + i), 0};
            bad = axl_pack_cstr(&pk, key) || pack_drop(&pk, &sc->drop[i]);
        }
        break;
    }
    case AXL_TASK_ANNEAL:
        bad = bad || axl_pack_kv_num(&pk, "temperature", rt->u.anneal.temperature) ||
              axl_pack_kv_num(&pk, "duration", rt->u.anneal.duration);
        break;
    case AXL_TASK_REST:
        bad = bad || axl_pack_kv_num(&pk, "duration", rt->u.rest.duration) ||
              axl_pack_kv_str(&pk, "at", axl_station_name(s->ct.from));
        break;
    case AXL_TASK_CHARACTERIZE: {
        const axl_characterize *ch = &rt->u.characterize;
        bad = bad || axl_pack_cstr(&pk, "measurements") || msgpack_pack_map(&pk, ch->n);
        for (uint32_t i = 0; i < ch->n && !bad; i++)
            bad = axl_pack_cstr(&pk, ch->m[i].name) || msgpack_pack_map(&pk, 2) ||
                  axl_pack_kv_num(&pk, "duration", ch->m[i].duration) ||
                  axl_pack_kv_num(&pk, "position", ch->m[i].position);
        if (!bad && s->has_pl)
            bad = axl_pack_cstr(&pk, "pl") || msgpack_pack_map(&pk, 3) ||
                  axl_pack_kv_num(&pk, "wl_min", s->pl_wl_min) ||
                  axl_pack_kv_num(&pk, "wl_max", s->pl_wl_max) ||
                  axl_pack_kv_num(&pk, "wl_guess", s->pl_wl_guess);
        break;
    }
    }
    if (bad)
        return axl_fail(eb, AXL_ENOMEM, "task spec: out of memory");
    /* What the worker's decoder will refuse must not leave: names with NUL, NaN values. */
    int rv = axl_wire_raw_check(out->data + before, out->size - before, "params", eb);
    if (rv != 0)
        out->size = before;
    return rv;
}

/* ---- decoding -------------------------------------------------------------------------- */

/* Copies a string field into buf (cap bytes incl. NUL); absent leaves buf as it is. */
static int get_str(const msgpack_object *map, const char *where, const char *key, bool required,
                   char *buf, size_t cap, axl_errbuf *eb)
{
    const char *s = NULL;
    size_t len = 0;
    int rv = axl_obj_str(map, where, key, required, cap - 1, &s, &len, eb);
    if (rv != 0 || s == NULL)
        return rv;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 0;
}

static int get_station(const msgpack_object *map, const char *where, const char *key, bool required,
                       axl_station *out, axl_errbuf *eb)
{
    char name[32] = "";
    int rv = get_str(map, where, key, required, name, sizeof(name), eb);
    if (rv != 0 || name[0] == '\0')
        return rv;
    if (axl_station_parse(name, out) != 0)
        return axl_fail(eb, AXL_ERANGE, "%s.%s: '%s' is not a station", where, key, name);
    return 0;
}

/* A number array of at most max entries into v[i * stride]. */
static int get_nums(const msgpack_object *map, const char *where, const char *key, double *v,
                    size_t stride, size_t max, uint32_t *n, axl_errbuf *eb)
{
    const msgpack_object *o;
    int rv = axl_obj_get_once(map, where, key, &o, eb);
    if (rv != 0)
        return rv;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return axl_fail(eb, AXL_EMISSING, "%s.%s: required field missing", where, key);
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return axl_fail(eb, AXL_ETYPE, "%s.%s: expected an array of numbers", where, key);
    if (o->via.array.size > max)
        return axl_fail(eb, AXL_ETOOBIG, "%s.%s: %u entries, at most %zu", where, key,
                        o->via.array.size, max);
    for (uint32_t i = 0; i < o->via.array.size; i++)
        if (!axl_obj_as_double(&o->via.array.ptr[i], &v[i * stride]) || !isfinite(v[i * stride]))
            return axl_fail(eb, AXL_ETYPE, "%s.%s[%u]: expected a finite number", where, key, i);
    *n = o->via.array.size;
    return 0;
}

static const msgpack_object *get_map(const msgpack_object *map, const char *where, const char *key,
                                     bool required, int *rv, axl_errbuf *eb)
{
    const msgpack_object *o;
    *rv = axl_obj_get_once(map, where, key, &o, eb);
    if (*rv != 0)
        return NULL;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
        if (required)
            *rv = axl_fail(eb, AXL_EMISSING, "%s.%s: required field missing", where, key);
        return NULL;
    }
    if (o->type != MSGPACK_OBJECT_MAP) {
        *rv = axl_fail(eb, AXL_ETYPE, "%s.%s: expected a map", where, key);
        return NULL;
    }
    return o;
}

static int decode_drop(const msgpack_object *o, const char *where, axl_drop *d, axl_errbuf *eb)
{
    bool vol = false;
    int rv;
    if ((rv = axl_obj_bool(o, where, "volatile", false, &vol, eb)) != 0)
        return rv;
    axl_drop_defaults(d, vol);
    uint32_t npre = 0;
    double pre[2] = {d->premix_cycles, d->premix_volume};
    const msgpack_object *p;
    if ((rv = axl_obj_get_once(o, where, "pre_mix", &p, eb)) != 0)
        return rv;
    if ((rv = get_str(o, where, "solution", true, d->solution, sizeof(d->solution), eb)) ||
        (rv = axl_obj_num(o, where, "volume", true, -INFINITY, INFINITY, &d->volume, eb)) ||
        (rv = axl_obj_num(o, where, "time", true, -INFINITY, INFINITY, &d->time, eb)) ||
        (rv = axl_obj_num(o, where, "rate", false, -INFINITY, INFINITY, &d->rate, eb)) ||
        (rv = axl_obj_num(o, where, "height", false, -INFINITY, INFINITY, &d->height, eb)) ||
        (p != NULL && (rv = get_nums(o, where, "pre_mix", pre, 1, 2, &npre, eb))) ||
        (rv = axl_obj_bool(o, where, "reuse_tip", false, &d->reuse_tip, eb)) ||
        (rv = axl_obj_bool(o, where, "touch_tip", false, &d->touch_tip, eb)) ||
        (rv = axl_obj_bool(o, where, "slow_travel", false, &d->slow_travel, eb)) ||
        (rv = axl_obj_bool(o, where, "blow_out", false, &d->blow_out, eb)) ||
        (rv = axl_obj_bool(o, where, "air_gap", false, &d->air_gap, eb)) ||
        (rv = axl_obj_bool(o, where, "slow_retract", false, &d->slow_retract, eb)))
        return rv;
    if (p != NULL) {
        if (npre != 2 || !(pre[0] >= 0 && pre[0] <= AXL_PREMIX_MAX_CYCLES) ||
            pre[0] != floor(pre[0]) || !(pre[1] >= 0 && pre[1] <= AXL_DROP_VOLUME_MAX))
            return axl_fail(eb, AXL_ERANGE, "%s.pre_mix: must be [cycles 0-%d, volume 0-%g uL]",
                            where, AXL_PREMIX_MAX_CYCLES, AXL_DROP_VOLUME_MAX);
        d->premix_cycles = (unsigned)pre[0];
        d->premix_volume = pre[1];
    }
    return 0;
}

static int decode_spincoat(const msgpack_object *root, axl_spincoat *sc, axl_errbuf *eb)
{
    uint32_t n1 = 0, n2 = 0, n3 = 0;
    size_t stride = sizeof(axl_spin_step) / sizeof(double);
    int rv;
    if ((rv = get_nums(root, "params", "rpm", &sc->step[0].rpm, stride, AXL_SPIN_MAX_STEPS, &n1,
                       eb)) ||
        (rv = get_nums(root, "params", "accel", &sc->step[0].accel, stride, AXL_SPIN_MAX_STEPS, &n2,
                       eb)) ||
        (rv = get_nums(root, "params", "duration", &sc->step[0].duration, stride,
                       AXL_SPIN_MAX_STEPS, &n3, eb)))
        return rv;
    if (n1 != n2 || n1 != n3 || n1 == 0)
        return axl_fail(eb, AXL_EINVAL, "params: rpm, accel and duration need 1-%d entries each",
                        AXL_SPIN_MAX_STEPS);
    sc->nsteps = n1;
    const msgpack_object *drops = get_map(root, "params", "drops", true, &rv, eb);
    if (drops == NULL)
        return rv;
    if (drops->via.map.size < 1 || drops->via.map.size > AXL_SPIN_MAX_DROPS)
        return axl_fail(eb, AXL_ERANGE, "params.drops: %u drops, need 1-%d", drops->via.map.size,
                        AXL_SPIN_MAX_DROPS);
    sc->ndrops = drops->via.map.size;
    for (uint32_t i = 0; i < sc->ndrops; i++) {
        const msgpack_object_kv *kv = &drops->via.map.ptr[i];
        char where[48];
        snprintf(where, sizeof(where), "params.drops.%.*s",
                 (int)(kv->key.via.str.size < 16 ? kv->key.via.str.size : 16), kv->key.via.str.ptr);
        if (kv->val.type != MSGPACK_OBJECT_MAP)
            return axl_fail(eb, AXL_ETYPE, "%s: expected a map", where);
        if ((rv = decode_drop(&kv->val, where, &sc->drop[i], eb)) != 0)
            return rv;
    }
    return 0;
}

static int decode_characterize(const msgpack_object *root, axl_task_spec *out, axl_errbuf *eb)
{
    axl_characterize *ch = &out->rt.u.characterize;
    int rv;
    const msgpack_object *m = get_map(root, "params", "measurements", true, &rv, eb);
    if (m == NULL)
        return rv;
    if (m->via.map.size > AXL_CHAR_MAX_MEAS)
        return axl_fail(eb, AXL_ETOOBIG, "params.measurements: %u, at most %d", m->via.map.size,
                        AXL_CHAR_MAX_MEAS);
    ch->n = m->via.map.size;
    for (uint32_t i = 0; i < ch->n; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        axl_measurement *x = &ch->m[i];
        if (kv->key.via.str.size >= sizeof(x->name))
            return axl_fail(eb, AXL_ETOOBIG, "params.measurements[%u]: name over %zu bytes", i,
                            sizeof(x->name) - 1);
        memcpy(x->name, kv->key.via.str.ptr, kv->key.via.str.size);
        x->name[kv->key.via.str.size] = '\0';
        char where[64];
        snprintf(where, sizeof(where), "params.measurements.%s", x->name);
        if (kv->val.type != MSGPACK_OBJECT_MAP)
            return axl_fail(eb, AXL_ETYPE, "%s: expected a map", where);
        if ((rv = axl_obj_num(&kv->val, where, "duration", true, 0, 1e6, &x->duration, eb)) ||
            (rv = axl_obj_num(&kv->val, where, "position", true, 0, AXL_CHAR_AXIS_MAX, &x->position,
                              eb)))
            return rv;
    }
    const msgpack_object *pl = get_map(root, "params", "pl", false, &rv, eb);
    if (rv != 0)
        return rv;
    if (pl != NULL) {
        out->pl_wl_guess = 0;
        if ((rv = axl_obj_num(pl, "params.pl", "wl_min", true, 100, 3000, &out->pl_wl_min, eb)) ||
            (rv = axl_obj_num(pl, "params.pl", "wl_max", true, 100, 3000, &out->pl_wl_max, eb)) ||
            (rv = axl_obj_num(pl, "params.pl", "wl_guess", false, 0, 3000, &out->pl_wl_guess, eb)))
            return rv;
        if (!(out->pl_wl_max > out->pl_wl_min))
            return axl_fail(eb, AXL_ERANGE, "params.pl: wl_max must be above wl_min");
        out->has_pl = true;
    }
    return 0;
}

int axl_task_spec_decode(axl_task_kind kind, const void *raw, size_t len, axl_task_spec *out,
                         axl_errbuf *eb)
{
    axl_msg m;
    int rv;
    memset(out, 0, sizeof(*out));
    out->plate = -1;
    out->ct.kind = kind;
    out->ct.temperature = NAN;
    out->ct.recipe_task = kind == AXL_TASK_MOVE ? -1 : 0;
    if ((rv = axl_msg_parse(&m, raw, len, eb)) != 0)
        return rv;
    const msgpack_object *root = &m.root;
    if (root->type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "params: expected a map");
        goto out;
    }
    uint64_t plate = 0;
    const msgpack_object *po;
    if ((rv = get_str(root, "params", "sample", true, out->sample, sizeof(out->sample), eb)) ||
        (rv = get_str(root, "params", "slot", false, out->slot, sizeof(out->slot), eb)) ||
        (rv = axl_obj_get_once(root, "params", "plate", &po, eb)) ||
        (rv = axl_obj_uint(root, "params", "plate", false, 0, 63, &plate, eb)))
        goto out;
    if (po != NULL && po->type != MSGPACK_OBJECT_NIL)
        out->plate = (int)plate;
    axl_recipe r;
    memset(&r, 0, sizeof(r));
    r.ntasks = 1;
    axl_rtask *rt = &r.task[0];
    switch (kind) {
    case AXL_TASK_MOVE:
        if ((rv = get_station(root, "params", "from", true, &out->ct.from, eb)) ||
            (rv = get_station(root, "params", "to", true, &out->ct.to, eb)))
            goto out;
        if (out->ct.from == out->ct.to) {
            rv = axl_fail(eb, AXL_EINVAL, "params: a move from %s to itself",
                          axl_station_name(out->ct.from));
            goto out;
        }
        out->ct.duration = axl_station_move_s(out->ct.from, out->ct.to);
        goto out;
    case AXL_TASK_SPINCOAT:
        rt->kind = AXL_RTASK_SPINCOAT;
        out->ct.from = AXL_STATION_SPINCOATER;
        rv = decode_spincoat(root, &rt->u.spincoat, eb);
        break;
    case AXL_TASK_ANNEAL:
        rt->kind = AXL_RTASK_ANNEAL;
        out->ct.from = AXL_STATION_HOTPLATE;
        if ((rv = axl_obj_num(root, "params", "temperature", true, -INFINITY, INFINITY,
                              &rt->u.anneal.temperature, eb)) == 0)
            rv = axl_obj_num(root, "params", "duration", true, -INFINITY, INFINITY,
                             &rt->u.anneal.duration, eb);
        out->ct.temperature = rt->u.anneal.temperature;
        break;
    case AXL_TASK_REST:
        rt->kind = AXL_RTASK_REST;
        out->ct.from = AXL_STATION_STORAGE;
        if ((rv = axl_obj_num(root, "params", "duration", true, -INFINITY, INFINITY,
                              &rt->u.rest.duration, eb)) == 0)
            rv = get_station(root, "params", "at", false, &out->ct.from, eb);
        break;
    case AXL_TASK_CHARACTERIZE:
        rt->kind = AXL_RTASK_CHARACTERIZE;
        out->ct.from = AXL_STATION_CHARACTERIZATION;
        out->rt.kind = AXL_RTASK_CHARACTERIZE;
        rv = decode_characterize(root, out, eb);
        rt->u.characterize = out->rt.u.characterize;
        break;
    default:
        rv = axl_fail(eb, AXL_EINVAL, "task kind %d unknown", (int)kind);
        break;
    }
    if (rv != 0)
        goto out;
    out->ct.to = out->ct.from;
    /* The same ranges a recipe is held to (rpm, rates, temperatures, drop order...). */
    if ((rv = axl_recipe_validate(&r, "params", eb)) != 0)
        goto out;
    out->rt = *rt;
    out->ct.duration = axl_rtask_duration_s(rt);
out:
    axl_msg_free(&m);
    return rv;
}
