/*
 * timeline.c - online placement of task chains on PASCAL's stations (axl_timeline.h).
 *
 * Vocabulary:
 *  - a *span* is a stretch of a chain during which the sample holds a station: from the
 *    start of the move onto the spin coater / a hotplate / the characterization line to
 *    the end of the move off it, and the tray slot for the whole chain;
 *  - a *head* is a task that may start later than its predecessor ends (not immediate);
 *    a head and the immediate tasks after it form a rigid *block*.
 *
 * Placement walks the chain keeping a lower bound lb[] per head. A head starts at
 * max(lb, previous end) and slides later past its own conflicts (gripper busy, station it
 * is moving onto busy). An immediate task cannot slide: its block's head gets a larger
 * lower bound and the walk resumes from that head. A span that cannot be extended over
 * the current task (someone else holds the station later on) can only be fixed by taking
 * the station later: the head of the span's first task is pushed past the blocking run.
 * Every push raises a lower bound by a positive amount, so the walk terminates.
 */
#include "hw/line/axl_timeline.h"
#include "hw/line/profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Internal resource indices; plates are R_PLATE0 + p. */
enum { R_GRIP = 0, R_SPIN, R_CHAR, R_TRAY, R_PLATE0, R_COUNT = R_PLATE0 + AXL_TL_MAX_PLATES };

/* Generous: the PASCAL netlist needs a few hundred steps per sample at worst. */
#define PLACE_MAX_STEPS 200000

typedef struct span {
    int cls; /* R_SPIN, R_CHAR, R_TRAY or R_PLATE0 (= any plate) */
    uint32_t first, last;
    double temp; /* hotplate spans: the anneal temperature */
} span;

typedef struct tl_sample {
    uint64_t id;
    double release;
    axl_chain chain;
    axl_tl_slot slot[AXL_CHAIN_MAX];
    uint32_t nspan;
    span sp[AXL_CHAIN_MAX];
    int plate[AXL_CHAIN_MAX]; /* per span: chosen plate, -1 if not a hotplate span */
} tl_sample;

struct axl_timeline {
    axl_tl_config cfg;
    axl_profile res[R_COUNT];
    tl_sample **s; /* owned; placement order */
    size_t n, cap;
};

/* Working state of one placement. */
typedef struct plan {
    const axl_chain *c;
    uint32_t nspan;
    span sp[AXL_CHAIN_MAX];
    bool imm[AXL_CHAIN_MAX];
    uint32_t head[AXL_CHAIN_MAX];
    double start[AXL_CHAIN_MAX], end[AXL_CHAIN_MAX], lb[AXL_CHAIN_MAX];
    int plate[AXL_CHAIN_MAX];
    bool held[AXL_CHAIN_MAX]; /* per span: hotplate visit held tentatively (walk) */
    int pin[AXL_CHAIN_MAX];   /* per span: plate it must use (re-planning), or -1 */
    uint32_t from;            /* tasks before it are frozen (re-planning), else 0 */
    bool pinned;              /* axl_tl_insert: times are given, only feasibility counts */
    double release;
    double gmin[R_COUNT]; /* smallest idle gap worth leaving on a station (compaction) */
} plan;

const char *axl_tl_resource_name(axl_tl_resource r)
{
    switch (r) {
    case AXL_TL_GRIPPER:
        return "gripper";
    case AXL_TL_SPINCOATER:
        return "spincoater";
    case AXL_TL_CHARACTERIZATION:
        return "characterization";
    case AXL_TL_HOTPLATE:
        return "hotplate";
    case AXL_TL_TRAY:
        return "tray";
    }
    return "unknown";
}

void axl_tl_config_default(axl_tl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->tray_slots = 45;
    cfg->n_plates = 3;
    cfg->plate_slots = 30;
    for (int p = 0; p < AXL_TL_MAX_PLATES; p++)
        cfg->plate_setpoint[p] = NAN;
    cfg->retemper_s = 600;
    cfg->compact = 0;
}

int axl_tl_new(const axl_tl_config *cfg, axl_timeline **out, axl_errbuf *eb)
{
    axl_tl_config def;
    if (out == NULL)
        return axl_fail(eb, AXL_EINVAL, "timeline: NULL output");
    *out = NULL;
    if (cfg == NULL) {
        axl_tl_config_default(&def);
        cfg = &def;
    }
    if (cfg->tray_slots < 1 || cfg->tray_slots > 100000)
        return axl_fail(eb, AXL_EINVAL, "timeline: tray_slots %u, need 1-100000", cfg->tray_slots);
    if (cfg->n_plates < 1 || cfg->n_plates > AXL_TL_MAX_PLATES)
        return axl_fail(eb, AXL_EINVAL, "timeline: n_plates %u, need 1-%d", cfg->n_plates,
                        AXL_TL_MAX_PLATES);
    if (cfg->plate_slots < 1 || cfg->plate_slots > 100000)
        return axl_fail(eb, AXL_EINVAL, "timeline: plate_slots %u, need 1-100000",
                        cfg->plate_slots);
    if (!isfinite(cfg->retemper_s) || cfg->retemper_s < 0)
        return axl_fail(eb, AXL_EINVAL, "timeline: retemper_s %g must be >= 0", cfg->retemper_s);
    for (unsigned p = 0; p < cfg->n_plates; p++) {
        double sp = cfg->plate_setpoint[p];
        if (!isnan(sp) && !(sp >= AXL_ANNEAL_TEMP_MIN && sp <= AXL_ANNEAL_TEMP_MAX))
            return axl_fail(eb, AXL_EINVAL, "timeline: plate %u setpoint %g C is outside %g-%g", p,
                            sp, AXL_ANNEAL_TEMP_MIN, AXL_ANNEAL_TEMP_MAX);
    }
    axl_timeline *tl = calloc(1, sizeof(*tl));
    if (tl == NULL)
        return axl_fail(eb, AXL_ENOMEM, "timeline: out of memory");
    tl->cfg = *cfg;
    for (int r = 0; r < R_COUNT; r++)
        axl_profile_init(&tl->res[r]);
    *out = tl;
    return 0;
}

void axl_tl_free(axl_timeline *tl)
{
    if (tl == NULL)
        return;
    for (int r = 0; r < R_COUNT; r++)
        axl_profile_free(&tl->res[r]);
    for (size_t i = 0; i < tl->n; i++)
        free(tl->s[i]);
    free(tl->s);
    free(tl);
}

const axl_tl_config *axl_tl_config_of(const axl_timeline *tl)
{
    return &tl->cfg;
}

/* --- chain analysis ------------------------------------------------------------------- */

static int station_class(axl_station s)
{
    switch (s) {
    case AXL_STATION_SPINCOATER:
        return R_SPIN;
    case AXL_STATION_CHARACTERIZATION:
        return R_CHAR;
    case AXL_STATION_HOTPLATE:
        return R_PLATE0;
    default:
        return -1; /* storage: covered by the tray span */
    }
}

static bool plate_can_hold(const axl_tl_config *cfg, unsigned p, double temp)
{
    return isnan(cfg->plate_setpoint[p]) || cfg->plate_setpoint[p] == temp;
}

/* Validates the chain and derives immediacy, heads and spans. */
static int prepare(const axl_timeline *tl, const axl_chain *c, plan *pl, axl_errbuf *eb)
{
    int rc = axl_chain_validate(c, eb);
    if (rc)
        return rc;
    memset(pl, 0, sizeof(*pl));
    pl->c = c;
    uint32_t open[AXL_STATION_COUNT] = {0};
    for (uint32_t k = 0; k < c->n; k++) {
        pl->imm[k] = axl_chain_immediate(c, k);
        pl->head[k] = pl->imm[k] ? pl->head[k - 1] : k;
        const axl_chain_task *t = &c->task[k];
        if (t->kind != AXL_TASK_MOVE)
            continue;
        int from = station_class(t->from), to = station_class(t->to);
        if (from >= 0) {
            span *s = &pl->sp[pl->nspan++];
            *s = (span){from, open[t->from], k, NAN};
            if (from == R_PLATE0) {
                for (uint32_t j = s->first; j <= k; j++)
                    if (c->task[j].kind == AXL_TASK_ANNEAL)
                        s->temp = c->task[j].temperature;
            }
        }
        if (to >= 0)
            open[t->to] = k;
    }
    pl->sp[pl->nspan++] = (span){R_TRAY, 0, c->n - 1, NAN};
    for (uint32_t j = 0; j < pl->nspan; j++) {
        const span *sp = &pl->sp[j];
        if (sp->cls != R_SPIN && sp->cls != R_CHAR)
            continue;
        double hold = 0;
        for (uint32_t k = sp->first; k <= sp->last; k++)
            hold += c->task[k].duration;
        pl->gmin[sp->cls] = fmax(pl->gmin[sp->cls], hold * tl->cfg.compact);
    }
    for (uint32_t j = 0; j < pl->nspan; j++) {
        pl->plate[j] = -1;
        pl->pin[j] = -1;
        pl->held[j] = false;
        if (pl->sp[j].cls != R_PLATE0)
            continue;
        bool any = false;
        for (unsigned p = 0; p < tl->cfg.n_plates; p++)
            any = any || plate_can_hold(&tl->cfg, p, pl->sp[j].temp);
        if (!any)
            return axl_fail(eb, AXL_ERANGE, "timeline: no hotplate can hold %g C (setpoints fixed)",
                            pl->sp[j].temp);
    }
    return 0;
}

/* --- conflict checks --------------------------------------------------------------------- */

/*
 * Can span s hold its station over [a, b)? On a block *until is the earliest start that
 * could avoid it. For hotplate spans any plate will do (or only `pin` when >= 0: a film
 * already on a plate stays there); *plate gets the first that can.
 */
static bool span_blocked(const axl_timeline *tl, const span *s, double a, double b, int pin,
                         double *until, int *plate)
{
    double at;
    if (s->cls != R_PLATE0) {
        int32_t cap = s->cls == R_TRAY ? (int32_t)tl->cfg.tray_slots : 1;
        return axl_profile_blocked(&tl->res[s->cls], a, b, cap, NAN, 0, &at, until);
    }
    double best = INFINITY;
    for (unsigned p = 0; p < tl->cfg.n_plates; p++) {
        if (!plate_can_hold(&tl->cfg, p, s->temp) || (pin >= 0 && (int)p != pin))
            continue;
        /* A plate with a fixed setpoint only ever holds that temperature. */
        double temp = isnan(tl->cfg.plate_setpoint[p]) ? s->temp : NAN;
        double u;
        if (!axl_profile_blocked(&tl->res[R_PLATE0 + p], a, b, (int32_t)tl->cfg.plate_slots, temp,
                                 tl->cfg.retemper_s, &at, &u)) {
            if (plate != NULL)
                *plate = (int)p;
            return false;
        }
        best = fmin(best, u);
    }
    *until = best;
    return true;
}

typedef enum { OK = 0, SELF, SPAN } conflict_kind;

/*
 * Checks task k at [s, e) against the placed samples, given tasks < k at start[]/end[].
 * SELF: the task itself must start at or after *until (gripper or the station it moves
 * onto is busy). SPAN: span *j must start at or after *until.
 */
static conflict_kind check_task(const axl_timeline *tl, const plan *pl, uint32_t k, double s,
                                double e, double *until, uint32_t *jout)
{
    const axl_chain_task *t = &pl->c->task[k];
    double at;
    /* Spans already open: they must stretch over this task. Waiting never helps them. */
    for (uint32_t j = 0; j < pl->nspan; j++) {
        const span *sp = &pl->sp[j];
        if (!(sp->first < k && k <= sp->last))
            continue;
        /* [start(first), end(k-1)) was checked when task k-1 was placed; plates may
         * switch, and a frozen prefix was never checked, so those are re-checked whole. */
        double a = sp->cls == R_PLATE0 || k == pl->from ? pl->start[sp->first] : pl->end[k - 1];
        if (a < e && span_blocked(tl, sp, a, e, pl->pin[j], until, NULL)) {
            *jout = j;
            return SPAN;
        }
    }
    if (t->kind == AXL_TASK_MOVE && e > s &&
        axl_profile_blocked(&tl->res[R_GRIP], s, e, 1, NAN, 0, &at, until))
        return SELF;
    for (uint32_t j = 0; j < pl->nspan; j++) {
        const span *sp = &pl->sp[j];
        if (sp->first != k)
            continue;
        if (e > s && span_blocked(tl, sp, s, e, pl->pin[j], until, NULL))
            return SELF;
        /* Compaction: taking a single-capacity station a little after it falls idle
         * leaves a sliver no later sample can use; start right at the idle point (the
         * walk got here as early as it could) or leave a gap worth having. */
        double g = pl->gmin[sp->cls];
        if (g > 0 && !pl->pinned) {
            double from = fmax(axl_profile_idle_since(&tl->res[sp->cls], s), pl->release);
            if (s > from && s - from < g) {
                *until = from + g;
                return SELF;
            }
        }
    }
    return OK;
}

/*
 * A chain's own hotplate visits: a film annealed at 150 C after one at 90 C must not land
 * on the same free plate within the settle time. Each visit, once fully laid out, is
 * added to its plate's profile *tentatively*, so later visits of the same chain see it;
 * a push back to before its end takes it off again.
 */
static int hold_visit(axl_timeline *tl, plan *pl, uint32_t j, axl_errbuf *eb)
{
    const span *sp = &pl->sp[j];
    double until, a = pl->start[sp->first], b = pl->end[sp->last];
    int plate = -1;
    if (span_blocked(tl, sp, a, b, pl->pin[j], &until, &plate) || plate < 0)
        return axl_fail(eb, AXL_EBUSY, "timeline: no plate for the hotplate visit at %g s", a);
    axl_profile *prof = &tl->res[R_PLATE0 + plate];
    if (a < b && (axl_profile_reserve(prof, 2) || axl_profile_add(prof, a, b, +1, sp->temp)))
        return axl_fail(eb, AXL_ENOMEM, "timeline: out of memory");
    pl->plate[j] = plate;
    pl->held[j] = true;
    return 0;
}

/* Takes back tentative visits that end at or after task `from`. */
static void drop_visits(axl_timeline *tl, plan *pl, uint32_t from)
{
    for (uint32_t j = 0; j < pl->nspan; j++) {
        const span *sp = &pl->sp[j];
        if (!pl->held[j] || sp->last < from)
            continue;
        double a = pl->start[sp->first], b = pl->end[sp->last];
        if (a < b) /* giving back never needs memory: the breakpoints exist */
            axl_profile_add(&tl->res[R_PLATE0 + pl->plate[j]], a, b, -1, NAN);
        pl->held[j] = false;
        pl->plate[j] = -1;
    }
}

/*
 * The walk described at the top of the file, from task pl->from on (earlier tasks are
 * frozen at pl->start/end). Fills pl->start/end/plate; on success the chain's hotplate
 * visits are held on their plates (commit adds the rest).
 */
static int walk(axl_timeline *tl, plan *pl, double release, axl_errbuf *eb)
{
    const axl_chain *c = pl->c;
    int rc = 0;
    pl->release = release;
    for (uint32_t k = pl->from; k < c->n; k++)
        pl->lb[k] = release;
    /* Stays that ended in the frozen part must still fit around the others' plans (they
     * do when they ran as planned); hotplate visits among them keep their plate. */
    for (uint32_t v = 0; v < pl->nspan; v++) {
        const span *sp = &pl->sp[v];
        if (sp->last >= pl->from)
            continue;
        double a = pl->start[sp->first], b = pl->end[sp->last], u;
        if (a < b && span_blocked(tl, sp, a, b, pl->pin[v], &u, NULL)) {
            rc = axl_fail(eb, AXL_EBUSY,
                          "timeline: the stay at %s from %g to %g s overlaps another sample's plan",
                          axl_station_name(c->task[sp->last].from), a, b);
            goto fail;
        }
        if (sp->cls != R_PLATE0)
            continue;
        axl_profile *prof = &tl->res[R_PLATE0 + pl->pin[v]];
        if (a < b && (axl_profile_reserve(prof, 2) || axl_profile_add(prof, a, b, +1, sp->temp))) {
            rc = axl_fail(eb, AXL_ENOMEM, "timeline: out of memory");
            goto fail;
        }
        pl->plate[v] = pl->pin[v];
        pl->held[v] = true;
    }
    /* A frozen move that ran at other times than planned may now overlap another
     * sample's planned move: that is for the caller to sort out. */
    for (uint32_t f = 0; f < pl->from; f++) {
        double at, u;
        if (c->task[f].kind == AXL_TASK_MOVE && pl->end[f] > pl->start[f] &&
            axl_profile_blocked(&tl->res[R_GRIP], pl->start[f], pl->end[f], 1, NAN, 0, &at, &u)) {
            rc = axl_fail(eb, AXL_EBUSY,
                          "timeline: task %u ran at %g-%g, over another sample's move", f,
                          pl->start[f], pl->end[f]);
            goto fail;
        }
    }
    uint32_t k = pl->from;
    for (long step = 0; k < c->n; step++) {
        if (step > PLACE_MAX_STEPS) {
            rc = axl_fail(eb, AXL_EAGAIN, "timeline: no placement after %d steps", PLACE_MAX_STEPS);
            goto fail;
        }
        double d = c->task[k].duration;
        double s = k == 0       ? pl->lb[0]
                   : pl->imm[k] ? pl->end[k - 1]
                                : fmax(pl->lb[k], pl->end[k - 1]);
        double until = 0;
        uint32_t j = 0;
        conflict_kind ck;
        while ((ck = check_task(tl, pl, k, s, s + d, &until, &j)) == SELF && !pl->imm[k]) {
            if (!isfinite(until) || ++step > PLACE_MAX_STEPS)
                break;
            /* A head slides past its own conflict (strictly later, even if rounding
             * made `until` land on s). */
            s = until > s ? until : nextafter(s, INFINITY);
        }
        if (ck == OK) {
            pl->start[k] = s;
            pl->end[k] = s + d;
            for (uint32_t v = 0; v < pl->nspan; v++)
                if (pl->sp[v].cls == R_PLATE0 && pl->sp[v].last == k &&
                    (rc = hold_visit(tl, pl, v, eb)))
                    goto fail;
            k++;
            continue;
        }
        if (!isfinite(until)) {
            rc = axl_fail(eb, AXL_ERANGE, "timeline: task %u can never be placed", k);
            goto fail;
        }
        if (step > PLACE_MAX_STEPS)
            continue; /* reported at the top of the loop */
        /* Push a head: an immediate task moves with its block's head, a span with the
         * head of the task that takes the station. */
        uint32_t moved = ck == SELF ? k : pl->sp[j].first;
        double moved_start = ck == SELF ? s : pl->start[moved];
        uint32_t h = pl->head[moved];
        if (h < pl->from) {
            char name[64];
            axl_chain_task_name(&c->task[k], name, sizeof(name));
            rc = axl_fail(eb, AXL_EBUSY,
                          "timeline: task %u (%s) conflicts with the plan and only tasks before "
                          "%u could make room, which already ran",
                          k, name, pl->from);
            goto fail;
        }
        double h_start = h == k ? s : pl->start[h];
        double nlb = h_start + (until - moved_start);
        pl->lb[h] = nlb > h_start ? fmax(pl->lb[h], nlb) : nextafter(h_start, INFINITY);
        drop_visits(tl, pl, h);
        k = h;
    }
    return 0;
fail:
    drop_visits(tl, pl, 0);
    return rc;
}

/* --- committing and removing ---------------------------------------------------------------- */

static tl_sample *find(const axl_timeline *tl, uint64_t id, size_t *idx)
{
    for (size_t i = 0; i < tl->n; i++) {
        if (tl->s[i]->id == id) {
            if (idx != NULL)
                *idx = i;
            return tl->s[i];
        }
    }
    return NULL;
}

/*
 * Adds (delta = +1) or removes (-1) what sample x holds; with_visits = false leaves the
 * hotplate visits alone (the walk already holds them). Breakpoints are reserved first, so
 * either everything changes or nothing does.
 */
/* Makes room in every profile for adding all of x's intervals (2 breakpoints each). */
static int reserve_for(axl_timeline *tl, const tl_sample *x, bool with_visits)
{
    size_t need[R_COUNT] = {0};
    for (uint32_t k = 0; k < x->chain.n; k++)
        if (x->chain.task[k].kind == AXL_TASK_MOVE)
            need[R_GRIP] += 2;
    for (uint32_t j = 0; j < x->nspan; j++)
        if (x->sp[j].cls != R_PLATE0 || with_visits)
            need[x->sp[j].cls == R_PLATE0 ? R_PLATE0 + x->plate[j] : x->sp[j].cls] += 2;
    for (int r = 0; r < R_COUNT; r++)
        if (need[r] && axl_profile_reserve(&tl->res[r], need[r]))
            return AXL_ENOMEM;
    return 0;
}

static int apply(axl_timeline *tl, const tl_sample *x, int delta, bool with_visits)
{
    if (reserve_for(tl, x, with_visits))
        return AXL_ENOMEM;
    for (uint32_t k = 0; k < x->chain.n; k++) {
        const axl_tl_slot *sl = &x->slot[k];
        if (x->chain.task[k].kind == AXL_TASK_MOVE && sl->end > sl->start)
            axl_profile_add(&tl->res[R_GRIP], sl->start, sl->end, delta, NAN);
    }
    for (uint32_t j = 0; j < x->nspan; j++) {
        const span *sp = &x->sp[j];
        double a = x->slot[sp->first].start, b = x->slot[sp->last].end;
        if (!(a < b) || (sp->cls == R_PLATE0 && !with_visits))
            continue;
        int r = sp->cls == R_PLATE0 ? R_PLATE0 + x->plate[j] : sp->cls;
        axl_profile_add(&tl->res[r], a, b, delta, sp->temp);
    }
    return 0;
}

/* Records a laid-out plan (visits held by the walk) as sample `id` and takes the rest of
 * its resources. On failure the held visits are given back. */
static int commit(axl_timeline *tl, plan *pl, uint64_t id, double release, axl_tl_slot *slots,
                  axl_errbuf *eb)
{
    tl_sample *x = calloc(1, sizeof(*x));
    if (x == NULL)
        goto nomem;
    x->id = id;
    x->release = release;
    x->chain = *pl->c;
    x->nspan = pl->nspan;
    memcpy(x->sp, pl->sp, sizeof(x->sp));
    for (uint32_t k = 0; k < pl->c->n; k++)
        x->slot[k] = (axl_tl_slot){pl->start[k], pl->end[k], -1};
    for (uint32_t j = 0; j < pl->nspan; j++) {
        x->plate[j] = pl->sp[j].cls == R_PLATE0 ? pl->plate[j] : -1;
        for (uint32_t k = pl->sp[j].first; k <= pl->sp[j].last && x->plate[j] >= 0; k++)
            x->slot[k].plate = x->plate[j];
    }
    if (tl->n == tl->cap) {
        size_t cap = tl->cap ? 2 * tl->cap : 64;
        tl_sample **s = realloc(tl->s, cap * sizeof(*s));
        if (s == NULL)
            goto nomem;
        tl->s = s;
        tl->cap = cap;
    }
    if (apply(tl, x, +1, false))
        goto nomem;
    tl->s[tl->n++] = x;
    if (slots != NULL)
        memcpy(slots, x->slot, pl->c->n * sizeof(*slots));
    return 0;
nomem:
    free(x);
    drop_visits(tl, pl, 0);
    return axl_fail(eb, AXL_ENOMEM, "timeline: out of memory");
}

int axl_tl_place(axl_timeline *tl, uint64_t id, const axl_chain *chain, double release,
                 axl_tl_slot *slots, axl_errbuf *eb)
{
    plan pl;
    int rc;
    if (tl == NULL || chain == NULL)
        return axl_fail(eb, AXL_EINVAL, "timeline: NULL argument");
    if (!isfinite(release))
        return axl_fail(eb, AXL_EINVAL, "timeline: release time %g", release);
    if (find(tl, id, NULL) != NULL)
        return axl_fail(eb, AXL_EEXIST, "timeline: sample %llu is already placed",
                        (unsigned long long)id);
    if ((rc = prepare(tl, chain, &pl, eb)) || (rc = walk(tl, &pl, release, eb)))
        return rc;
    return commit(tl, &pl, id, release, slots, eb);
}

int axl_tl_insert(axl_timeline *tl, uint64_t id, const axl_chain *chain, const double *start,
                  axl_tl_slot *slots, axl_errbuf *eb)
{
    plan pl;
    int rc;
    if (tl == NULL || chain == NULL || start == NULL)
        return axl_fail(eb, AXL_EINVAL, "timeline: NULL argument");
    if (find(tl, id, NULL) != NULL)
        return axl_fail(eb, AXL_EEXIST, "timeline: sample %llu is already placed",
                        (unsigned long long)id);
    if ((rc = prepare(tl, chain, &pl, eb)))
        return rc;
    pl.release = start[0];
    pl.pinned = true;
    for (uint32_t k = 0; k < chain->n; k++) {
        double s = start[k], e;
        char name[64];
        axl_chain_task_name(&chain->task[k], name, sizeof(name));
        if (!isfinite(s)) {
            rc = axl_fail(eb, AXL_EINVAL, "timeline: task %u (%s) start %g", k, name, s);
            goto fail;
        }
        /* Times read back from storage may have lost the last bits: within a microsecond
         * of the predecessor's end counts as "right when it ends". */
        if (k > 0 && fabs(s - pl.end[k - 1]) <= 1e-6)
            s = pl.end[k - 1];
        if (k > 0 && s < pl.end[k - 1]) {
            rc = axl_fail(eb, AXL_EINVAL,
                          "timeline: task %u (%s) starts at %g before task %u ends at %g", k, name,
                          s, k - 1, pl.end[k - 1]);
            goto fail;
        }
        if (pl.imm[k] && s != pl.end[k - 1]) {
            rc = axl_fail(eb, AXL_EINVAL,
                          "timeline: task %u (%s) must start when task %u ends (%g), not at %g", k,
                          name, k - 1, pl.end[k - 1], s);
            goto fail;
        }
        e = s + chain->task[k].duration;
        double until;
        uint32_t j;
        pl.start[k] = s;
        pl.end[k] = e;
        if (check_task(tl, &pl, k, s, e, &until, &j) != OK) {
            rc = axl_fail(eb, AXL_EBUSY, "timeline: task %u (%s) at %g-%g conflicts with the plan",
                          k, name, s, e);
            goto fail;
        }
        for (uint32_t v = 0; v < pl.nspan; v++)
            if (pl.sp[v].cls == R_PLATE0 && pl.sp[v].last == k && (rc = hold_visit(tl, &pl, v, eb)))
                goto fail;
    }
    return commit(tl, &pl, id, start[0], slots, eb);
fail:
    drop_visits(tl, &pl, 0);
    return rc;
}

/* The re-plan of x (at idx) with `chain` (its first `done` tasks are x's, checked by the
 * callers) from task `done` on; see axl_tl_replan and axl_tl_reroute. */
static int replan(axl_timeline *tl, tl_sample *x, size_t idx, const axl_chain *chain, uint32_t done,
                  const axl_tl_slot *actual, double now, axl_tl_slot *slots, axl_errbuf *eb)
{
    plan pl;
    int rc;
    uint64_t id = x->id;
    for (uint32_t k = 0; k < done; k++) {
        double prev = k > 0 ? actual[k - 1].end : -INFINITY;
        if (!isfinite(actual[k].start) || !isfinite(actual[k].end) ||
            actual[k].end < actual[k].start || actual[k].start < prev - 1e-6)
            return axl_fail(eb, AXL_EINVAL, "timeline: re-plan: task %u ran %g-%g, out of order", k,
                            actual[k].start, actual[k].end);
    }
    if ((rc = prepare(tl, chain, &pl, eb)))
        return rc;
    pl.from = done;
    for (uint32_t k = 0; k < done; k++) {
        pl.start[k] = actual[k].start;
        pl.end[k] = actual[k].end;
    }
    /* The spans that began before `done` come in the same order in both chains (a film
     * holds one station at a time; the tray span is last in both). */
    for (uint32_t j = 0; j < pl.nspan; j++)
        if (pl.sp[j].cls == R_PLATE0 && pl.sp[j].first < done && j < x->nspan)
            pl.pin[j] = x->plate[j]; /* the film is on (or was on) that plate */
    /* Room to put the old plan back is reserved before it is taken out (capacity never
     * shrinks), so the restore below cannot fail. */
    if (reserve_for(tl, x, true) || apply(tl, x, -1, true))
        return axl_fail(eb, AXL_ENOMEM, "timeline: out of memory");
    if ((rc = walk(tl, &pl, now, eb)) || (rc = commit(tl, &pl, id, x->release, slots, eb))) {
        apply(tl, x, +1, true);
        return rc;
    }
    /* commit appended the new record; drop the old one (its resources are already gone). */
    memmove(tl->s + idx, tl->s + idx + 1, (tl->n - idx - 1) * sizeof(*tl->s));
    tl->n--;
    free(x);
    return 0;
}

int axl_tl_replan(axl_timeline *tl, uint64_t id, uint32_t done, const axl_tl_slot *actual,
                  double now, axl_tl_slot *slots, axl_errbuf *eb)
{
    size_t idx;
    tl_sample *x = tl != NULL ? find(tl, id, &idx) : NULL;
    if (x == NULL)
        return axl_fail(eb, AXL_ENOENT, "timeline: sample %llu is not placed",
                        (unsigned long long)id);
    if (done > x->chain.n || (done > 0 && actual == NULL) || !isfinite(now))
        return axl_fail(eb, AXL_EINVAL, "timeline: re-plan of sample %llu: bad arguments",
                        (unsigned long long)id);
    if (done == x->chain.n)
        return 0;               /* nothing left to plan */
    axl_chain chain = x->chain; /* x goes away on success */
    return replan(tl, x, idx, &chain, done, actual, now, slots, eb);
}

int axl_tl_reroute(axl_timeline *tl, uint64_t id, const axl_chain *chain, uint32_t done,
                   const axl_tl_slot *actual, double now, axl_tl_slot *slots, axl_errbuf *eb)
{
    size_t idx;
    tl_sample *x = tl != NULL ? find(tl, id, &idx) : NULL;
    if (x == NULL)
        return axl_fail(eb, AXL_ENOENT, "timeline: sample %llu is not placed",
                        (unsigned long long)id);
    if (chain == NULL || done == 0 || done > x->chain.n || done >= chain->n || actual == NULL ||
        !isfinite(now))
        return axl_fail(eb, AXL_EINVAL, "timeline: re-route of sample %llu: bad arguments",
                        (unsigned long long)id);
    for (uint32_t k = 0; k < done; k++) {
        const axl_chain_task *a = &x->chain.task[k], *b = &chain->task[k];
        if (a->kind != b->kind || a->from != b->from || a->to != b->to)
            return axl_fail(eb, AXL_EINVAL,
                            "timeline: re-route of sample %llu: task %u is not the one placed",
                            (unsigned long long)id, k);
    }
    return replan(tl, x, idx, chain, done, actual, now, slots, eb);
}

int axl_tl_remove(axl_timeline *tl, uint64_t id)
{
    size_t i;
    tl_sample *x = tl != NULL ? find(tl, id, &i) : NULL;
    if (x == NULL)
        return AXL_ENOENT;
    if (apply(tl, x, -1, true))
        return AXL_ENOMEM; /* nothing was given back; the sample stays */
    memmove(tl->s + i, tl->s + i + 1, (tl->n - i - 1) * sizeof(*tl->s));
    tl->n--;
    free(x);
    return 0;
}

int axl_tl_get(const axl_timeline *tl, uint64_t id, const axl_chain **chain,
               const axl_tl_slot **slots)
{
    const tl_sample *x = tl != NULL ? find(tl, id, NULL) : NULL;
    if (x == NULL)
        return AXL_ENOENT;
    if (chain != NULL)
        *chain = &x->chain;
    if (slots != NULL)
        *slots = x->slot;
    return 0;
}

size_t axl_tl_count(const axl_timeline *tl)
{
    return tl != NULL ? tl->n : 0;
}

uint64_t axl_tl_id(const axl_timeline *tl, size_t i)
{
    return tl != NULL && i < tl->n ? tl->s[i]->id : 0;
}

double axl_tl_release(const axl_timeline *tl, uint64_t id)
{
    const tl_sample *x = tl != NULL ? find(tl, id, NULL) : NULL;
    return x != NULL ? x->release : NAN;
}

/* --- statistics --------------------------------------------------------------------------- */

static axl_tl_resource public_res(int cls)
{
    switch (cls) {
    case R_SPIN:
        return AXL_TL_SPINCOATER;
    case R_CHAR:
        return AXL_TL_CHARACTERIZATION;
    case R_TRAY:
        return AXL_TL_TRAY;
    case R_GRIP:
        return AXL_TL_GRIPPER;
    default:
        return AXL_TL_HOTPLATE;
    }
}

/* One visit of a sample to a single-capacity resource, for the makespan bounds. */
typedef struct job {
    double r; /* earliest start: release + the chain's work before the visit */
    double p; /* holding time without waits */
    double q; /* the chain's work after the visit */
} job;

static int cmp_job(const void *a, const void *b)
{
    double x = ((const job *)a)->r, y = ((const job *)b)->r;
    return (x > y) - (x < y);
}

/* Does task k of sample x hold single-capacity resource r (0 gripper, 1 spin, 2 char)? */
static bool holds(const tl_sample *x, int r, uint32_t k)
{
    if (r == 0)
        return x->chain.task[k].kind == AXL_TASK_MOVE;
    int cls = r == 1 ? R_SPIN : R_CHAR;
    for (uint32_t j = 0; j < x->nspan; j++)
        if (x->sp[j].cls == cls && x->sp[j].first <= k && k <= x->sp[j].last)
            return true;
    return false;
}

void axl_tl_stats_get(const axl_timeline *tl, axl_tl_stats *out)
{
    static const axl_tl_resource single[3] = {AXL_TL_GRIPPER, AXL_TL_SPINCOATER,
                                              AXL_TL_CHARACTERIZATION};
    memset(out, 0, sizeof(*out));
    out->bottleneck = AXL_TL_SPINCOATER;
    if (tl == NULL || tl->n == 0)
        return;
    out->samples = tl->n;
    out->first_release = out->first_start = INFINITY;
    out->last_end = -INFINITY;
    for (size_t i = 0; i < tl->n; i++) {
        const tl_sample *x = tl->s[i];
        const axl_chain *c = &x->chain;
        out->first_release = fmin(out->first_release, x->release);
        out->first_start = fmin(out->first_start, x->slot[0].start);
        out->last_end = fmax(out->last_end, x->slot[c->n - 1].end);
        for (uint32_t k = 0; k < c->n; k++)
            if (c->task[k].kind == AXL_TASK_MOVE)
                out->busy[AXL_TL_GRIPPER] += x->slot[k].end - x->slot[k].start;
        for (uint32_t j = 0; j < x->nspan; j++)
            out->busy[public_res(x->sp[j].cls)] +=
                x->slot[x->sp[j].last].end - x->slot[x->sp[j].first].start;
    }
    out->makespan = out->last_end - out->first_release;

    /* The bounds, per single-capacity resource, over its visits (jobs). */
    job *jobs = malloc(tl->n * AXL_CHAIN_MAX * sizeof(*jobs));
    for (int r = 0; r < 3; r++) {
        size_t nj = 0;
        double head = INFINITY, work = 0, tail = INFINITY;
        for (size_t i = 0; i < tl->n; i++) {
            const tl_sample *x = tl->s[i];
            const axl_chain *c = &x->chain;
            double total = 0, before = 0;
            for (uint32_t k = 0; k < c->n; k++)
                total += c->task[k].duration;
            for (uint32_t k = 0; k < c->n;) {
                if (!holds(x, r, k)) {
                    before += c->task[k++].duration;
                    continue;
                }
                job jb = {x->release + before, 0, 0};
                for (; k < c->n && holds(x, r, k); k++)
                    jb.p += c->task[k].duration;
                before += jb.p;
                jb.q = total - before;
                head = fmin(head, jb.r);
                work += jb.p;
                tail = fmin(tail, jb.q);
                if (jobs != NULL)
                    jobs[nj++] = jb;
            }
        }
        if (!isfinite(head))
            continue;
        double simple = head + work + tail - out->first_release;
        double lb = simple;
        if (jobs != NULL && nj > 0) {
            /* Every visit released at or after r_k runs after r_k, one at a time, and the
             * last of them still has its chain's tail to go. */
            qsort(jobs, nj, sizeof(*jobs), cmp_job);
            double p = 0, q = INFINITY;
            for (size_t k = nj; k-- > 0;) {
                p += jobs[k].p;
                q = fmin(q, jobs[k].q);
                lb = fmax(lb, jobs[k].r + p + q - out->first_release);
            }
        }
        if (simple > out->busy_bound)
            out->busy_bound = simple;
        if (lb > out->makespan_bound) {
            out->makespan_bound = lb;
            out->bottleneck = single[r];
        }
    }
    free(jobs);
}
