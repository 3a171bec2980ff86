/* chain.c - a recipe's task chain: moves inserted, durations, immediacy rules. */
#include "hw/line/axl_chain.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *axl_task_kind_name(axl_task_kind k)
{
    switch (k) {
    case AXL_TASK_MOVE:
        return "move";
    case AXL_TASK_SPINCOAT:
        return "spincoat";
    case AXL_TASK_ANNEAL:
        return "anneal";
    case AXL_TASK_REST:
        return "rest";
    case AXL_TASK_CHARACTERIZE:
        return "characterize";
    }
    return "unknown";
}

void axl_chain_task_name(const axl_chain_task *t, char *buf, size_t len)
{
    if (len == 0)
        return;
    if (t->kind == AXL_TASK_MOVE) {
        /* PASCAL says "spincoater", "hotplate", "storage", "characterization" too. */
        snprintf(buf, len, "%s_to_%s", axl_station_name(t->from), axl_station_name(t->to));
        return;
    }
    snprintf(buf, len, "%s", axl_task_kind_name(t->kind));
}

static int push(axl_chain *c, axl_chain_task t, axl_errbuf *eb)
{
    if (c->n >= AXL_CHAIN_MAX)
        return axl_fail(eb, AXL_ETOOBIG, "chain: more than %d tasks", AXL_CHAIN_MAX);
    c->task[c->n++] = t;
    return 0;
}

/* Appends a move to `to` when the sample is elsewhere; updates *at. */
static int move_to(axl_chain *c, axl_station *at, axl_station to, axl_errbuf *eb)
{
    if (*at == to)
        return 0;
    axl_chain_task m = {AXL_TASK_MOVE, *at, to, axl_station_move_s(*at, to), NAN, -1};
    *at = to;
    return push(c, m, eb);
}

int axl_chain_from_recipe(const axl_recipe *r, axl_chain *out, axl_errbuf *eb)
{
    int rc;
    if (r == NULL || out == NULL)
        return axl_fail(eb, AXL_EINVAL, "chain: NULL argument");
    if ((rc = axl_recipe_validate(r, "recipe", eb)))
        return rc == AXL_ERANGE ? AXL_EINVAL : rc;
    memset(out, 0, sizeof(*out));
    axl_station at = AXL_STATION_STORAGE;
    for (uint32_t i = 0; i < r->ntasks; i++) {
        const axl_rtask *rt = &r->task[i];
        axl_chain_task t = {AXL_TASK_REST, at, at, axl_rtask_duration_s(rt), NAN, (int16_t)i};
        axl_station need = AXL_STATION_STORAGE;
        switch (rt->kind) {
        case AXL_RTASK_SPINCOAT:
            t.kind = AXL_TASK_SPINCOAT;
            need = AXL_STATION_SPINCOATER;
            break;
        case AXL_RTASK_ANNEAL:
            t.kind = AXL_TASK_ANNEAL;
            t.temperature = rt->u.anneal.temperature;
            need = AXL_STATION_HOTPLATE;
            break;
        case AXL_RTASK_REST:
            t.kind = AXL_TASK_REST;
            need = AXL_STATION_STORAGE;
            break;
        case AXL_RTASK_CHARACTERIZE:
            t.kind = AXL_TASK_CHARACTERIZE;
            need = AXL_STATION_CHARACTERIZATION;
            break;
        }
        if ((rc = move_to(out, &at, need, eb)))
            return rc;
        t.from = t.to = need;
        if ((rc = push(out, t, eb)))
            return rc;
    }
    return move_to(out, &at, AXL_STATION_STORAGE, eb);
}

bool axl_chain_immediate(const axl_chain *c, uint32_t k)
{
    if (c == NULL || k == 0 || k >= c->n)
        return false;
    const axl_chain_task *t = &c->task[k], *prev = &c->task[k - 1];
    if (t->kind == AXL_TASK_MOVE)
        return t->from == AXL_STATION_SPINCOATER || t->from == AXL_STATION_HOTPLATE ||
               t->to == AXL_STATION_HOTPLATE;
    if (t->kind == AXL_TASK_ANNEAL || t->kind == AXL_TASK_REST)
        return prev->kind == AXL_TASK_MOVE;
    return false;
}

int axl_chain_validate(const axl_chain *c, axl_errbuf *eb)
{
    if (c == NULL)
        return axl_fail(eb, AXL_EINVAL, "chain: NULL");
    if (c->n < 1 || c->n > AXL_CHAIN_MAX)
        return axl_fail(eb, AXL_EINVAL, "chain: %u tasks, need 1-%d", c->n, AXL_CHAIN_MAX);
    axl_station at = AXL_STATION_STORAGE;
    double visit_temp = NAN; /* temperature of the current hotplate visit */
    for (uint32_t k = 0; k < c->n; k++) {
        const axl_chain_task *t = &c->task[k];
        if ((unsigned)t->kind >= AXL_TASK_KIND_COUNT)
            return axl_fail(eb, AXL_EINVAL, "chain.task[%u]: unknown kind %d", k, (int)t->kind);
        if (!axl_station_valid((int)t->from) || !axl_station_valid((int)t->to))
            return axl_fail(eb, AXL_EINVAL, "chain.task[%u]: unknown station", k);
        if (!isfinite(t->duration) || t->duration < 0 || t->duration > 1e7)
            return axl_fail(eb, AXL_EINVAL, "chain.task[%u]: duration %g s", k, t->duration);
        if (t->from != at)
            return axl_fail(
                eb, AXL_EINVAL, "chain.task[%u] (%s): starts at %s but the sample is at %s", k,
                axl_task_kind_name(t->kind), axl_station_name(t->from), axl_station_name(at));
        switch (t->kind) {
        case AXL_TASK_MOVE:
            if (t->to == t->from)
                return axl_fail(eb, AXL_EINVAL, "chain.task[%u]: move from %s to itself", k,
                                axl_station_name(t->from));
            at = t->to;
            if (at == AXL_STATION_HOTPLATE)
                visit_temp = NAN;
            continue;
        case AXL_TASK_SPINCOAT:
            if (at != AXL_STATION_SPINCOATER)
                goto wrong_station;
            break;
        case AXL_TASK_ANNEAL:
            if (at != AXL_STATION_HOTPLATE)
                goto wrong_station;
            if (!isfinite(t->temperature))
                return axl_fail(eb, AXL_EINVAL, "chain.task[%u]: anneal without a temperature", k);
            /* A plate holds one temperature: the sample cannot change it while on it. */
            if (!isnan(visit_temp) && visit_temp != t->temperature)
                return axl_fail(eb, AXL_EINVAL,
                                "chain.task[%u]: anneal at %g C on a plate already at %g C", k,
                                t->temperature, visit_temp);
            visit_temp = t->temperature;
            break;
        case AXL_TASK_CHARACTERIZE:
            if (at != AXL_STATION_CHARACTERIZATION)
                goto wrong_station;
            break;
        case AXL_TASK_REST:
            break; /* a film may rest wherever it is */
        }
        if (t->to != t->from)
            return axl_fail(eb, AXL_EINVAL, "chain.task[%u] (%s): only moves change station", k,
                            axl_task_kind_name(t->kind));
        continue;
    wrong_station:
        return axl_fail(eb, AXL_EINVAL, "chain.task[%u] (%s): cannot run at %s", k,
                        axl_task_kind_name(t->kind), axl_station_name(at));
    }
    if (at != AXL_STATION_STORAGE)
        return axl_fail(eb, AXL_EINVAL, "chain: ends at %s, not in storage", axl_station_name(at));
    /* Every hotplate visit needs a temperature for the plate it occupies. */
    for (uint32_t k = 0; k < c->n; k++) {
        const axl_chain_task *t = &c->task[k];
        if (t->kind != AXL_TASK_MOVE || t->to != AXL_STATION_HOTPLATE)
            continue;
        bool annealed = false;
        for (uint32_t j = k + 1; j < c->n && c->task[j].from == AXL_STATION_HOTPLATE; j++) {
            if (c->task[j].kind == AXL_TASK_ANNEAL)
                annealed = true;
            if (c->task[j].kind == AXL_TASK_MOVE)
                break;
        }
        if (!annealed)
            return axl_fail(eb, AXL_EINVAL, "chain.task[%u]: hotplate visit without an anneal", k);
    }
    return 0;
}

double axl_sim_task_seconds(const axl_chain_task *t, double time_compression)
{
    if (t == NULL || !isfinite(time_compression) || time_compression <= 0)
        return NAN;
    return t->duration / time_compression;
}
