/*
 * lab_config.c - the experiment file's `lab` section (hw/README.md documents it) into a
 * lab_config: the recipe template, labware, line, workers or the simulated line, timing.
 * Every error names its JSON path; unknown keys are errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lab/lab.h"
#include "hw/worker/axl_devcfg.h"
#include "proto/json/axl_json.h"

static int get_num(json_t *j, const char *path, const char *key, double lo, double hi, double *out,
                   axl_errbuf *eb)
{
    json_t *v = json_object_get(j, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return axl_fail(eb, AXL_ECONFIG, "%s.%s: must be a number in [%g, %g]", path, key, lo, hi);
    *out = json_number_value(v);
    return 0;
}

static int get_role_counts(json_t *j, const char *path, long *out, axl_errbuf *eb)
{
    const char *key;
    json_t *v;
    if (j == NULL)
        return 0;
    if (!json_is_object(j))
        return axl_fail(eb, AXL_ECONFIG, "%s: must be an object {role: tasks}", path);
    json_object_foreach(j, key, v)
    {
        axl_worker_role role;
        if (axl_worker_role_parse(key, strlen(key), &role) != 0)
            return axl_fail(eb, AXL_ECONFIG,
                            "%s.%s: not a role (spincoater, hotplate, gripper, "
                            "characterization, storage)",
                            path, key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
            return axl_fail(eb, AXL_ECONFIG, "%s.%s: must be a task count >= 0", path, key);
        out[role] = (long)json_integer_value(v);
    }
    return 0;
}

static int parse_simulate(lab_sim_config *s, json_t *j, axl_errbuf *eb)
{
    static const char *const keys[] = {"speed",      "seed",       "fail_rate", "crash_after",
                                       "hang_after", "worker_bin", "log_level", NULL};
    const char *P = "lab.simulate";
    int rv;
    if (!json_is_object(j))
        return axl_fail(eb, AXL_ECONFIG, "%s: must be an object", P);
    if ((rv = axl_json_check_keys(j, P, keys, AXL_ECONFIG, eb)) != 0)
        return rv;
    s->on = true;
    s->speed = 1000;
    double seed = 0;
    for (int r = 0; r < NROLES; r++)
        s->crash_after[r] = s->hang_after[r] = -1;
    if ((rv = get_num(j, P, "speed", 1e-3, 1e6, &s->speed, eb)) ||
        (rv = get_num(j, P, "seed", 0, 9007199254740992.0, &seed, eb)) ||
        (rv = get_num(j, P, "fail_rate", 0, 1, &s->fail_rate, eb)) ||
        (rv = get_role_counts(json_object_get(j, "crash_after"), "lab.simulate.crash_after",
                              s->crash_after, eb)) ||
        (rv = get_role_counts(json_object_get(j, "hang_after"), "lab.simulate.hang_after",
                              s->hang_after, eb)))
        return rv;
    s->seed = (uint64_t)seed;
    json_t *bin = json_object_get(j, "worker_bin");
    json_t *lvl = json_object_get(j, "log_level");
    if (bin != NULL && (!json_is_string(bin) || json_string_length(bin) >= sizeof(s->bin)))
        return axl_fail(eb, AXL_ECONFIG, "%s.worker_bin: must be the path of the axle binary", P);
    if (lvl != NULL &&
        (!json_is_string(lvl) ||
         strspn(json_string_value(lvl), "abcdefghijklmnopqrstuvwxyz") != json_string_length(lvl) ||
         json_string_length(lvl) >= sizeof(s->log_level)))
        return axl_fail(eb, AXL_ECONFIG, "%s.log_level: debug, info, warn or error", P);
    snprintf(s->log_level, sizeof(s->log_level), "%s", lvl ? json_string_value(lvl) : "warn");
    if (bin != NULL) {
        snprintf(s->bin, sizeof(s->bin), "%s", json_string_value(bin));
    } else {
        size_t size = sizeof(s->bin);
        if (uv_exepath(s->bin, &size) != 0)
            return axl_fail(eb, AXL_ECONFIG, "%s.worker_bin: the axle binary's path is unknown", P);
    }
    return 0;
}

/* lab.line.devices: checked here (every error with its path), handed to the spawned
 * workers as a file. */
static int parse_devices(lab_config *c, json_t *devices, axl_errbuf *eb)
{
    axl_line_devices *d = malloc(sizeof(*d));
    if (d == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    int rv = axl_devcfg_parse(devices, "lab.line.devices", d, eb);
    free(d);
    if (rv != 0)
        return rv;
    if ((c->devices = json_dumps(devices, JSON_COMPACT)) == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    return 0;
}

/* Which workers the recipe needs: its chain at any parameter values. */
static void needed_roles(const axl_recipe *base, bool *needed)
{
    axl_station at = AXL_STATION_STORAGE;
    needed[AXL_ROLE_GRIPPER] = true;
    for (uint32_t i = 0; i < base->ntasks; i++) {
        axl_chain_task t = {AXL_TASK_REST, at, at, 0, NAN, (int16_t)i};
        switch (base->task[i].kind) {
        case AXL_RTASK_SPINCOAT:
            t.kind = AXL_TASK_SPINCOAT;
            t.from = AXL_STATION_SPINCOATER;
            break;
        case AXL_RTASK_ANNEAL:
            t.kind = AXL_TASK_ANNEAL;
            t.from = AXL_STATION_HOTPLATE;
            break;
        case AXL_RTASK_REST:
            t.from = AXL_STATION_STORAGE;
            break;
        case AXL_RTASK_CHARACTERIZE:
            t.kind = AXL_TASK_CHARACTERIZE;
            t.from = AXL_STATION_CHARACTERIZATION;
            break;
        }
        needed[axl_task_role(&t)] = true;
    }
}

static int parse_workers(lab_config *c, json_t *workers, axl_errbuf *eb)
{
    const char *key;
    json_t *v;
    if (!json_is_object(workers))
        return axl_fail(eb, AXL_ECONFIG, "lab.workers: must be an object {role: address}");
    json_object_foreach(workers, key, v)
    {
        axl_worker_role role;
        if (axl_worker_role_parse(key, strlen(key), &role) != 0)
            return axl_fail(eb, AXL_ECONFIG,
                            "lab.workers.%s: not a role (spincoater, "
                            "hotplate, gripper, characterization, storage)",
                            key);
        if (!json_is_string(v) || json_string_length(v) >= sizeof(c->addr[role]) ||
            (strncmp(json_string_value(v), "ipc://", 6) != 0 &&
             strncmp(json_string_value(v), "tcp://", 6) != 0))
            return axl_fail(eb, AXL_ECONFIG, "lab.workers.%s: must be an ipc:// or tcp:// address",
                            key);
        snprintf(c->addr[role], sizeof(c->addr[role]), "%s", json_string_value(v));
    }
    for (int r = 0; r < NROLES; r++)
        if (c->needed[r] && c->addr[r][0] == '\0')
            return axl_fail(eb, AXL_ECONFIG, "lab.workers.%s: required (the recipe has %s tasks)",
                            axl_worker_role_name((axl_worker_role)r),
                            axl_worker_role_name((axl_worker_role)r));
    return 0;
}

static int parse(const axl_experiment *e, lab_config *c, axl_errbuf *eb)
{
    static const char *const keys[] = {"recipe",
                                       "labware",
                                       "line",
                                       "workers",
                                       "simulate",
                                       "speed",
                                       "max_in_flight",
                                       "heartbeat_ms",
                                       "heartbeat_timeout_ms",
                                       "connect_timeout_ms",
                                       "pl",
                                       "plan_budget_ms",
                                       NULL};
    json_t *lab = e->lab;
    int rv;
    if (!json_is_object(lab))
        return axl_fail(eb, AXL_ECONFIG, "lab: required by the lab runner, an object");
    /* Task ids carry the name: "<name>/<campaign: 32>/<trial>/<index>" in 128 bytes. */
    if (strlen(e->name) > AXL_WIRE_MAX_ID - AXL_WIRE_CAMPAIGN_LEN - 24)
        return axl_fail(eb, AXL_ECONFIG,
                        "name: at most %d bytes for an experiment on the lab runner (its task ids "
                        "carry it)",
                        AXL_WIRE_MAX_ID - AXL_WIRE_CAMPAIGN_LEN - 24);
    if ((rv = axl_json_check_keys(lab, "lab", keys, AXL_ECONFIG, eb)) != 0)
        return rv;
    if ((rv = axl_json_check_keys(e->runner, "runner", (const char *const[]){"type", NULL},
                                  AXL_ECONFIG, eb)) != 0)
        return rv;
    json_t *recipe = json_object_get(lab, "recipe"), *labware = json_object_get(lab, "labware");
    if (recipe == NULL)
        return axl_fail(eb, AXL_ECONFIG, "lab.recipe: required");
    if (labware == NULL)
        return axl_fail(eb, AXL_ECONFIG, "lab.labware: required");
    if ((c->tpl = malloc(sizeof(*c->tpl))) == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    /* lab.line.devices is the workers' (axl_devcfg.h); the rest of lab.line the timeline's */
    json_t *line = json_object_get(lab, "line"), *devices = NULL;
    if (json_is_object(line) && (devices = json_object_get(line, "devices")) != NULL) {
        if ((rv = parse_devices(c, devices, eb)) != 0)
            return rv;
        if ((line = json_copy(line)) == NULL)
            return axl_fail(eb, AXL_ENOMEM, "out of memory");
        json_object_del(line, "devices");
    } else {
        json_incref(line);
    }
    if ((rv = axl_recipe_template_parse(recipe, "lab.recipe", c->tpl, eb)) != 0 ||
        (rv = axl_labware_parse(labware, "lab.labware", &c->lw, eb)) != 0 ||
        (rv = axl_tl_config_parse(line, "lab.line", &c->line, eb)) != 0) {
        json_decref(line);
        return AXL_ECONFIG;
    }
    json_decref(line);
    /* Every bound field must name a numeric parameter of the search space. */
    for (uint32_t i = 0; i < c->tpl->nbindings; i++) {
        const axl_binding *b = &c->tpl->binding[i];
        int p = axl_experiment_param_index(e, b->param);
        if (p < 0 || (e->params[p].type != AXL_PARAM_FLOAT && e->params[p].type != AXL_PARAM_INT))
            return axl_fail(eb, AXL_ECONFIG,
                            "lab.%s: bound to '%s', which is not a range parameter of the "
                            "search space",
                            b->path, b->param);
    }
    bool has_char = false;
    for (uint32_t i = 0; i < c->tpl->base.ntasks; i++)
        has_char = has_char || c->tpl->base.task[i].kind == AXL_RTASK_CHARACTERIZE;
    if (!has_char)
        return axl_fail(eb, AXL_ECONFIG,
                        "lab.recipe.worklist: needs a characterize task (its "
                        "PL fit gives the metric)");
    needed_roles(&c->tpl->base, c->needed); /* bound fields are NaN: only kinds are read */

    c->heartbeat_ms = 250;
    double hb = 250, to = -1, cto = 10000, mif = c->line.tray_slots;
    json_t *workers = json_object_get(lab, "workers"), *sim = json_object_get(lab, "simulate");
    if ((workers == NULL) == (sim == NULL))
        return axl_fail(eb, AXL_ECONFIG,
                        "lab: give either \"workers\" (addresses of running "
                        "workers) or \"simulate\" (spawn the simulated line)");
    if (sim != NULL && (rv = parse_simulate(&c->sim, sim, eb)) != 0)
        return rv;
    if (workers != NULL && c->devices != NULL)
        return axl_fail(eb, AXL_ECONFIG,
                        "lab.line.devices: only with \"simulate\" (spawned workers); attached "
                        "workers get theirs with `axle worker --devices FILE`");
    if (sim != NULL && json_object_get(lab, "speed") != NULL)
        return axl_fail(eb, AXL_ECONFIG, "lab.speed: with simulate, give simulate.speed");
    c->speed = c->sim.on ? c->sim.speed : 1;
    c->plan_budget_ms = 1000;
    if ((rv = get_num(lab, "lab", "speed", 1e-3, 1e6, &c->speed, eb)) ||
        (rv = get_num(lab, "lab", "heartbeat_ms", 1, 60000, &hb, eb)) ||
        (rv = get_num(lab, "lab", "heartbeat_timeout_ms", 1, 3600000, &to, eb)) ||
        (rv = get_num(lab, "lab", "connect_timeout_ms", 1, 3600000, &cto, eb)) ||
        (rv = get_num(lab, "lab", "max_in_flight", 1, 100000, &mif, eb)) ||
        (rv = get_num(lab, "lab", "plan_budget_ms", 0, 60000, &c->plan_budget_ms, eb)))
        return rv;
    c->heartbeat_ms = (unsigned)hb;
    c->timeout_ms = to > 0 ? (unsigned)to : (unsigned)fmax(1000, 8 * hb);
    c->connect_timeout_ms = (unsigned)cto;
    c->max_in_flight = (int)mif;
    if (c->timeout_ms <= c->heartbeat_ms)
        return axl_fail(eb, AXL_ECONFIG, "lab.heartbeat_timeout_ms: must exceed heartbeat_ms");

    axl_pl_opts_default(&c->pl);
    json_t *pl = json_object_get(lab, "pl");
    if (pl != NULL) {
        if (!json_is_object(pl))
            return axl_fail(eb, AXL_ECONFIG, "lab.pl: must be an object");
        if ((rv = axl_json_check_keys(pl, "lab.pl",
                                      (const char *const[]){"wl_min", "wl_max", "wl_guess", NULL},
                                      AXL_ECONFIG, eb)) ||
            (rv = get_num(pl, "lab.pl", "wl_min", 100, 3000, &c->pl.wl_min, eb)) ||
            (rv = get_num(pl, "lab.pl", "wl_max", 100, 3000, &c->pl.wl_max, eb)) ||
            (rv = get_num(pl, "lab.pl", "wl_guess", 0, 3000, &c->pl.wl_guess, eb)))
            return rv;
        if (!(c->pl.wl_max > c->pl.wl_min))
            return axl_fail(eb, AXL_ECONFIG, "lab.pl.wl_max: must be above wl_min");
    }
    return workers != NULL ? parse_workers(c, workers, eb) : 0;
}

int lab_config_parse(const axl_experiment *e, lab_config *c, axl_errbuf *eb)
{
    memset(c, 0, sizeof(*c));
    int rv = parse(e, c, eb);
    if (rv != 0) {
        lab_config_free(c);
        return rv == AXL_ENOMEM ? rv : AXL_ECONFIG;
    }
    return 0;
}

void lab_config_free(lab_config *c)
{
    free(c->tpl);
    c->tpl = NULL;
    free(c->devices);
    c->devices = NULL;
}
