/*
 * clearing.c - the film of an ended sample off a shared station.
 *
 * A trial ended while its sample's step ran (abandoned, failed or completed by hand; its
 * TTL) lets that step finish (runner_lab.c, lab_cancel). The film is then where the step
 * left it; on the spin coater's chuck, a hotplate slot or the characterization stage it
 * would be in the way of the next sample's gripper. So the runner sends it back to its
 * tray slot with one gripper move - the *clearing move* - and nothing else:
 *
 *  - the sample's chain is cut after the step that ran (task k) and the move from its
 *    station to storage becomes task k+1 (the same task-id scheme; the original task k+1
 *    was never sent). On the timeline the rest of the old chain is given back and the
 *    station stays held until the clearing move ends (axl_tl_reroute);
 *  - the move goes out like any next task: on the turn after the one that committed the
 *    step's task.finished and a labware.updated record that lists the clearing (persist,
 *    then act); after an engine restart restore() brings the sample back from that record
 *    and the workers' task tables say whether the move ran (never twice: the worker
 *    dedupes by id);
 *  - when the film's place is not known (the step or the clearing move failed, or its
 *    worker was lost while it ran), nothing is guessed: the station is blocked on the
 *    timeline for good (a stand-in that holds it for AXL_BLOCK_S) and an ERROR names it
 *    and says the operator must clear it. The block is in labware.updated too, so a
 *    restart keeps it. axle has no command yet to be told the station is clear.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lab/lab.h"
#include "proto/axl_log.h"

#define SRC LAB_SRC
#define BLOCK_S 1e7 /* the longest task a chain may hold (axl_chain_validate) */

static bool shared(axl_station st)
{
    return st == AXL_STATION_SPINCOATER || st == AXL_STATION_HOTPLATE ||
           st == AXL_STATION_CHARACTERIZATION;
}

/* The temperature of the hotplate visit task k is part of (NaN: none, or not on a plate). */
static double visit_temp(const axl_chain *c, uint32_t k)
{
    uint32_t a = k, b = k;
    while (a > 0 && !(c->task[a].kind == AXL_TASK_MOVE && c->task[a].to == AXL_STATION_HOTPLATE))
        a--;
    while (b + 1 < c->n &&
           !(c->task[b].kind == AXL_TASK_MOVE && c->task[b].from == AXL_STATION_HOTPLATE))
        b++;
    for (uint32_t j = a; j <= b && j < c->n; j++)
        if (c->task[j].kind == AXL_TASK_ANNEAL)
            return c->task[j].temperature;
    return NAN;
}

/* A chain that takes station st for hold seconds and gives it back: the stand-in of a
 * film whose past is not on this timeline (a restart, a block). */
static void stand_in(axl_chain *c, axl_station st, double temp, double hold)
{
    memset(c, 0, sizeof(*c));
    c->n = 3;
    c->task[0] = (axl_chain_task){AXL_TASK_MOVE, AXL_STATION_STORAGE, st, 0, NAN, -1};
    c->task[1] = (axl_chain_task){
        st == AXL_STATION_HOTPLATE ? AXL_TASK_ANNEAL : AXL_TASK_REST,    st, st, hold,
        st == AXL_STATION_HOTPLATE ? (isfinite(temp) ? temp : 25) : NAN, -1};
    c->task[2] = (axl_chain_task){
        AXL_TASK_MOVE, st, AXL_STATION_STORAGE, axl_station_move_s(st, AXL_STATION_STORAGE),
        NAN,           -1};
}

/* Timeline id of the block of station st for trial: never a trial's own id. */
static uint64_t block_id(uint32_t trial, axl_station st)
{
    return (1ull << 40) | ((uint64_t)st << 32) | trial;
}

static int add_block(lab_runner *lr, uint32_t trial, axl_station st, double temp)
{
    for (uint32_t i = 0; i < lr->n_blocks; i++)
        if (lr->blocks[i].trial == trial && lr->blocks[i].station == st)
            return 0;
    lab_block *b = realloc(lr->blocks, (lr->n_blocks + 1) * sizeof(*b));
    if (b == NULL)
        return AXL_ENOMEM;
    lr->blocks = b;
    b[lr->n_blocks++] = (lab_block){trial, st, temp};
    axl_chain c;
    axl_errbuf eb = {{0}};
    stand_in(&c, st, temp, BLOCK_S);
    int rv = axl_tl_place(lr->tl, block_id(trial, st), &c, lab_line_now(lr), NULL, &eb);
    if (rv != 0 && rv != AXL_EEXIST)
        AXL_ERROR(SRC, "the block of the %s for trial %u is not on the timeline: %s",
                  axl_station_name(st), trial, eb.msg);
    return 0;
}

void lab_clearing_block(lab_runner *lr, sample *s, uint32_t k, const char *why)
{
    const axl_chain_task *t = &s->chain.task[k < s->chain.n ? k : s->chain.n - 1];
    double temp = visit_temp(&s->chain, k < s->chain.n ? k : s->chain.n - 1);
    if (!isfinite(temp))
        temp = s->clear_temp;
    axl_station at[2] = {t->from, t->to};
    for (int i = 0; i < (t->from == t->to ? 1 : 2); i++) {
        if (!shared(at[i]))
            continue;
        if (add_block(lr, s->trial, at[i], temp) != 0)
            AXL_ERROR(SRC, "out of memory recording the block of the %s", axl_station_name(at[i]));
        AXL_ERROR(SRC,
                  "trial %u (%s): %s; the film may be on the %s, which stays blocked: the "
                  "operator must clear it (no sample is placed there for the rest of the "
                  "campaign)",
                  s->trial, s->name, why, axl_station_name(at[i]));
    }
}

void lab_clearing_restore_blocks(lab_runner *lr)
{
    for (uint32_t i = 0; i < lr->n_blocks; i++) {
        axl_chain c;
        axl_errbuf eb = {{0}};
        const lab_block *b = &lr->blocks[i];
        stand_in(&c, b->station, b->temp, BLOCK_S);
        if (axl_tl_place(lr->tl, block_id(b->trial, b->station), &c, lab_line_now(lr), NULL, &eb) !=
            0)
            AXL_ERROR(SRC, "the block of the %s for trial %u is not on the timeline: %s",
                      axl_station_name(b->station), b->trial, eb.msg);
        AXL_ERROR(SRC,
                  "the %s is blocked since trial %u's film was lost there: the operator must "
                  "clear it (no sample is placed there for the rest of the campaign)",
                  axl_station_name(b->station), b->trial);
    }
}

bool lab_clearing_on_cancel(lab_runner *lr, sample *s)
{
    if (s->cur == 0 || s->cur >= s->chain.n || !shared(s->chain.task[s->cur - 1].to))
        return false;
    uint32_t k = s->cur;
    const axl_chain_task *t = &s->chain.task[k];
    if (s->state == SAMPLE_SENT && t->kind == AXL_TASK_MOVE) {
        /* The worker holds it for its start time; a cancel could cross its start. It runs
         * (a move, no process step), and the film is cleared from where it lands. */
        if (sample_ev_canceled(s))
            AXL_INFO(SRC,
                     "trial %u (%s) ended: its move (task %u) already sent runs; its film "
                     "is taken back to its tray after it",
                     s->trial, s->name, k);
        lab_labware_event(lr); /* recorded (ending): a restart clears its film too */
        return true;
    }
    if (s->state == SAMPLE_SENT) {
        char id[AXL_WIRE_MAX_ID + 1];
        lab_task_id(lr, s->trial, k, id, sizeof(id));
        axl_wire_msg m = {.type = AXL_WIRE_CANCEL};
        m.cancel.id = axl_str_c(id);
        m.cancel.reason = axl_str_c("the trial ended");
        axl_link_send(lr->links[lab_role_of(s, k)].link, &m, NULL);
        sample_ev_reported(s);
        lab_clearing_block(lr, s, k - 1, "the trial ended with a step sent but not started");
        lab_sample_remove(lr, s, false);
        return true;
    }
    if (s->state != SAMPLE_DUE && s->state != SAMPLE_WAITING)
        return false;
    s->canceled = true;
    sample_ev_reported(s);
    if (!lab_clearing_start(lr, s, k - 1)) {
        lab_sample_remove(lr, s, false);
        return true;
    }
    lab_labware_event(lr); /* the clearing is recorded before its move goes out */
    lab_arm_dispatch(lr);
    return true;
}

bool lab_clearing_start(lab_runner *lr, sample *s, uint32_t k)
{
    axl_station st = s->chain.task[k].to;
    char name[64];
    axl_chain_task_name(&s->chain.task[k], name, sizeof(name));
    if (!shared(st) || k + 1 >= s->chain.n) {
        AXL_WARN(SRC,
                 "trial %u (%s) was ended while its step %s ran; the step is done and nothing "
                 "else of the sample runs: its film is in the %s",
                 s->trial, s->name, name, axl_station_name(st));
        return false;
    }
    axl_chain cut = s->chain;
    cut.n = k + 2;
    cut.task[k + 1] = (axl_chain_task){
        AXL_TASK_MOVE, st, AXL_STATION_STORAGE, axl_station_move_s(st, AXL_STATION_STORAGE),
        NAN,           -1};
    double temp = visit_temp(&s->chain, k);
    if (s->placed) {
        axl_errbuf eb = {{0}};
        axl_tl_slot act[AXL_CHAIN_MAX];
        double now = lab_line_now(lr);
        memcpy(act, s->plan, (k + 1) * sizeof(*act));
        act[k].end = fmax(now, act[k].start);
        int rv = axl_tl_reroute(lr->tl, s->trial, &cut, k + 1, act, act[k].end, s->plan, &eb);
        if (rv != 0) {
            /* The old plan stays: it holds the station until the move off it that was
             * planned; the clearing move goes out as soon as the gripper takes it. */
            AXL_WARN(SRC, "trial %u: the clearing move is not on the timeline (%s)", s->trial,
                     eb.msg);
            s->plan[k + 1] = s->plan[k];
            s->plan[k + 1].start = s->plan[k + 1].end = act[k].end;
        }
    }
    int plate = s->placed ? s->plan[k].plate : s->stand_in ? s->clear_plate : -1;
    if (!sample_ev_clearing(s, &cut, plate, temp))
        return false;
    AXL_WARN(SRC,
             "trial %u (%s) was ended while its step %s ran; the step is done, nothing else of "
             "the sample runs but the move of its film from the %s back to its tray slot "
             "(task %u)",
             s->trial, s->name, name, axl_station_name(st), k + 1);
    return true;
}

/* A sample of an ended trial brought back from the labware record with chain (its film's
 * plate and temperature), linked, and the station hold kept on the timeline by a stand-in
 * (none when hold is not a shared station). */
static int restore_ended(lab_runner *lr, uint32_t trial, const axl_chain *chain, int plate,
                         double temp, bool clearing, axl_station hold, sample **out)
{
    if (lab_find_sample(lr, trial) != NULL)
        return AXL_EINVAL;
    sample *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return AXL_ENOMEM;
    s->trial = trial;
    snprintf(s->name, sizeof(s->name), "sample%u", trial);
    sample_ev_restored(s);
    s->chain = *chain;
    s->char_index = chain->n;
    s->clear_plate = plate;
    s->clear_temp = temp;
    s->canceled = true;
    s->clearing = clearing;
    sample_ev_reported(s);
    lab_sample_link(lr, s);
    if (shared(hold)) { /* the station stays held on the timeline until the film is off */
        axl_chain c;
        axl_errbuf eb = {{0}};
        stand_in(&c, hold, temp, 0);
        if (axl_tl_place(lr->tl, trial, &c, lab_line_now(lr), NULL, &eb) == 0)
            s->stand_in = true;
        else
            AXL_ERROR(SRC, "trial %u: the hold of the %s is not on the timeline: %s", trial,
                      axl_station_name(hold), eb.msg);
    }
    *out = s;
    return 0;
}

int lab_clearing_restored(lab_runner *lr, uint32_t trial, uint32_t index, axl_station from,
                          int plate, double temp)
{
    if (!shared(from) || index + 1 > AXL_CHAIN_MAX)
        return AXL_EINVAL;
    /* Only task `index` is real; the ones before it ran and are not looked at again. */
    axl_chain chain;
    memset(&chain, 0, sizeof(chain));
    chain.n = index + 1;
    chain.task[index] = (axl_chain_task){
        AXL_TASK_MOVE, from, AXL_STATION_STORAGE, axl_station_move_s(from, AXL_STATION_STORAGE),
        NAN,           -1};
    sample *s;
    int rv = restore_ended(lr, trial, &chain, plate, temp, true, from, &s);
    if (rv != 0)
        return rv;
    AXL_INFO(SRC, "trial %u (%s): its film is taken from the %s back to its tray (task %u)", trial,
             s->name, axl_station_name(from), index);
    return 0;
}

void lab_clearing_resolve(lab_runner *lr, sample *s, axl_task_state st)
{
    uint32_t k = s->clearing ? s->chain.n - 1 : s->chain.n - 2;
    if (!s->clearing && st == AXL_TASK_UNKNOWN) {
        /* The step it ran is not in its worker's table: where the film is is not known. */
        lab_clearing_block(lr, s, k, "its step is not in its worker's table after the restart");
        lab_sample_remove(lr, s, false);
        return;
    }
    if (!s->clearing && (st == AXL_TASK_FINISHED || st == AXL_TASK_FAILED)) {
        /* The step ended while the engine was away (its params are not restored, so it is
         * not sent again): finished, the film is cleared; failed, its place is not known. */
        sample_ev_resolved(s, k, AXL_TASK_RUNNING, false);
        if (st == AXL_TASK_FINISHED && sample_ev_finished(s) && lab_clearing_start(lr, s, k)) {
            lab_labware_event(lr);
            lab_arm_dispatch(lr);
            return;
        }
        if (st == AXL_TASK_FAILED)
            lab_clearing_block(lr, s, k, "its step failed while the engine was away");
        lab_sample_remove(lr, s, false);
        return;
    }
    bool ran = st == AXL_TASK_RUNNING || st == AXL_TASK_FINISHED || st == AXL_TASK_FAILED;
    sample_ev_resolved(s, k, ran ? AXL_TASK_RUNNING : st, false);
    /* Ended while the engine was away: sent again, the worker answers with its outcome
     * (never running it twice), taken as it comes (task.finished, or the block). Never
     * reached the worker: sent now. */
    if (st == AXL_TASK_FINISHED || st == AXL_TASK_FAILED)
        lab_send_task(lr, s, k);
    else if (s->state == SAMPLE_WAITING)
        lab_dispatch(lr, s);
}

/* After a restart: a trial ended while its step (task index, t) ran. The workers' tables
 * say how the step went (lab_clearing_resolve); when it ends the film is cleared as in the
 * same run. Only task index is real in the restored chain (index + 1 is a placeholder the
 * clearing move replaces). */
static int restored_step(lab_runner *lr, uint32_t trial, uint32_t index, const axl_chain_task *t,
                         int plate)
{
    axl_chain chain;
    memset(&chain, 0, sizeof(chain));
    chain.n = index + 2;
    chain.task[index] = *t;
    chain.task[index + 1] = (axl_chain_task){AXL_TASK_MOVE, t->to, AXL_STATION_STORAGE, 0, NAN, -1};
    sample *s;
    int rv = restore_ended(lr, trial, &chain, plate, t->temperature, false,
                           shared(t->to) ? t->to : t->from, &s);
    if (rv != 0)
        return rv;
    AXL_INFO(SRC, "trial %u (%s) was ended while its task %u ran: its film is cleared when it ends",
             trial, s->name, index);
    return 0;
}

/* ---- the interlock -------------------------------------------------------------------- */

/*
 * A move onto the spin coater or the characterization stage goes out (ahead, with its
 * planned start) only when the station will be free when it runs, whatever ran late:
 *  - no other film is there or coming, unless that film's move off the station is already
 *    out and planned first. One gripper runs moves one at a time in the order of their
 *    start times (hw/worker/worker.c), so that film is gone before this one arrives;
 *  - no film planned onto the station before it has yet to come: the station is visited
 *    in the plan's order, so that a film sent early (planned late) never takes it from
 *    the ones before it.
 * Holding a move until the move off the station has *finished* instead costs a round trip
 * per sample on the busiest station, and films sent out of plan order serialize the line
 * (-38% samples/h on the simulated line).
 */
static bool leaves_first(const sample *o, const sample *s, axl_station st)
{
    const axl_chain_task *c = &o->chain.task[o->cur];
    return o->cur < o->chain.n && c->kind == AXL_TASK_MOVE && c->from == st && c->to != st &&
           sample_out(o) && o->placed && s->placed &&
           o->plan[o->cur].start <= s->plan[s->cur].start;
}

/* o is planned onto st before s and its move there is not out yet. */
static bool comes_first(const sample *o, const sample *s, axl_station st)
{
    if (!o->placed || !s->placed)
        return false;
    for (uint32_t j = o->cur; j < o->chain.n; j++) {
        const axl_chain_task *c = &o->chain.task[j];
        if (c->kind != AXL_TASK_MOVE || c->to != st || c->from == st)
            continue;
        if (j == o->cur && sample_out(o))
            return false; /* coming: the occupancy rule's */
        double a = o->plan[j].start, b = s->plan[s->cur].start;
        return a < b || (a == b && o->trial < s->trial);
    }
    return false;
}

bool lab_station_taken(const lab_runner *lr, const sample *s)
{
    const axl_chain_task *t = &s->chain.task[s->cur];
    if (s->cur >= s->chain.n || t->kind != AXL_TASK_MOVE ||
        (t->to != AXL_STATION_SPINCOATER && t->to != AXL_STATION_CHARACTERIZATION))
        return false;
    axl_station st = t->to;
    for (uint32_t i = 0; i < lr->n_blocks; i++)
        if (lr->blocks[i].station == st)
            return true;
    for (const sample *o = lr->samples; o != NULL; o = o->next) {
        if (o == s || !sample_active(o))
            continue;
        const axl_chain_task *c = o->cur < o->chain.n ? &o->chain.task[o->cur] : NULL;
        bool there = o->cur > 0 && o->cur <= o->chain.n && o->chain.task[o->cur - 1].to == st;
        bool leaving = c != NULL && c->from == st;
        bool coming = c != NULL && c->to == st && sample_out(o);
        if (((there || leaving || coming) && !leaves_first(o, s, st)) || comes_first(o, s, st))
            return true;
    }
    return false;
}

/* ---- the record: labware.updated's "clearing" and "blocked" -------------------------- */

int lab_clearing_pack(const lab_runner *lr, msgpack_packer *pk)
{
    size_t n = 0;
    for (const sample *s = lr->samples; s != NULL; s = s->next)
        n += s->clearing;
    int bad = axl_pack_cstr(pk, "clearing") || msgpack_pack_array(pk, n);
    for (const sample *s = lr->samples; s != NULL && !bad; s = s->next) {
        if (!s->clearing)
            continue;
        const axl_chain_task *t = &s->chain.task[s->chain.n - 1];
        bool temp = isfinite(s->clear_temp);
        bad = msgpack_pack_map(pk, temp ? 5 : 4) || axl_pack_kv_uint(pk, "trial", s->trial) ||
              axl_pack_kv_uint(pk, "index", s->chain.n - 1) ||
              axl_pack_kv_str(pk, "from", axl_station_name(t->from)) ||
              axl_pack_kv_int(pk, "plate", s->clear_plate) ||
              (temp && axl_pack_kv_num(pk, "temp", s->clear_temp));
    }
    n = 0;
    for (const sample *s = lr->samples; s != NULL; s = s->next)
        n += s->canceled && !s->clearing && sample_out(s);
    bad = bad || axl_pack_cstr(pk, "ending") || msgpack_pack_array(pk, n);
    for (const sample *s = lr->samples; s != NULL && !bad; s = s->next) {
        if (!s->canceled || s->clearing || !sample_out(s))
            continue;
        const axl_chain_task *t = &s->chain.task[s->cur];
        double tv = visit_temp(&s->chain, s->cur);
        bool temp = isfinite(tv);
        bad = msgpack_pack_map(pk, temp ? 7 : 6) || axl_pack_kv_uint(pk, "trial", s->trial) ||
              axl_pack_kv_uint(pk, "index", s->cur) ||
              axl_pack_kv_str(pk, "kind", axl_task_kind_name(t->kind)) ||
              axl_pack_kv_str(pk, "from", axl_station_name(t->from)) ||
              axl_pack_kv_str(pk, "to", axl_station_name(t->to)) ||
              axl_pack_kv_int(pk, "plate", s->placed ? s->plan[s->cur].plate : -1) ||
              (temp && axl_pack_kv_num(pk, "temp", tv));
    }
    bad = bad || axl_pack_cstr(pk, "blocked") || msgpack_pack_array(pk, lr->n_blocks);
    for (uint32_t i = 0; i < lr->n_blocks && !bad; i++) {
        const lab_block *b = &lr->blocks[i];
        bool temp = isfinite(b->temp);
        bad = msgpack_pack_map(pk, temp ? 3 : 2) || axl_pack_kv_uint(pk, "trial", b->trial) ||
              axl_pack_kv_str(pk, "station", axl_station_name(b->station)) ||
              (temp && axl_pack_kv_num(pk, "temp", b->temp));
    }
    return bad;
}

static int read_any_station(const msgpack_object *m, const char *key, axl_station *st)
{
    const char *p;
    size_t len;
    char name[32];
    int rv = axl_obj_str(m, "labware record", key, true, sizeof(name) - 1, &p, &len, NULL);
    if (rv != 0)
        return rv;
    memcpy(name, p, len);
    name[len] = '\0';
    return axl_station_parse(name, st) != 0 ? AXL_ECORRUPT : 0;
}

static int read_kind(const msgpack_object *m, axl_task_kind *kind)
{
    const char *p;
    size_t len;
    if (axl_obj_str(m, "ending", "kind", true, 31, &p, &len, NULL) != 0)
        return AXL_ECORRUPT;
    for (int k = 0; k < AXL_TASK_KIND_COUNT; k++)
        if (strlen(axl_task_kind_name((axl_task_kind)k)) == len &&
            memcmp(axl_task_kind_name((axl_task_kind)k), p, len) == 0) {
            *kind = (axl_task_kind)k;
            return 0;
        }
    return AXL_ECORRUPT;
}

/* A station a film can be left on (spin coater, hotplate, characterization). */
static int read_station(const msgpack_object *m, const char *key, axl_station *st)
{
    int rv = read_any_station(m, key, st);
    return rv != 0 ? rv : !shared(*st) ? AXL_ECORRUPT : 0;
}

int lab_clearing_unpack(lab_runner *lr, const msgpack_object *root)
{
    const msgpack_object *cl = axl_obj_get(root, "clearing");
    const msgpack_object *bl = axl_obj_get(root, "blocked");
    for (uint32_t i = 0; bl != NULL && bl->type == MSGPACK_OBJECT_ARRAY && i < bl->via.array.size;
         i++) {
        const msgpack_object *m = &bl->via.array.ptr[i];
        uint64_t trial;
        axl_station st;
        double temp = NAN;
        if (axl_obj_uint(m, "blocked", "trial", true, 0, UINT32_MAX, &trial, NULL) ||
            read_station(m, "station", &st) ||
            axl_obj_num(m, "blocked", "temp", false, -300, 1000, &temp, NULL))
            return AXL_ECORRUPT;
        lab_block *b = realloc(lr->blocks, (lr->n_blocks + 1) * sizeof(*b));
        if (b == NULL)
            return AXL_ENOMEM;
        lr->blocks = b;
        b[lr->n_blocks++] = (lab_block){(uint32_t)trial, st, temp};
    }
    lab_clearing_restore_blocks(lr);
    const msgpack_object *en = axl_obj_get(root, "ending");
    for (uint32_t i = 0; en != NULL && en->type == MSGPACK_OBJECT_ARRAY && i < en->via.array.size;
         i++) {
        const msgpack_object *m = &en->via.array.ptr[i];
        uint64_t trial, index;
        int64_t plate = -1;
        axl_chain_task t = {AXL_TASK_MOVE, AXL_STATION_STORAGE, AXL_STATION_STORAGE, 0, NAN, -1};
        if (axl_obj_uint(m, "ending", "trial", true, 0, UINT32_MAX, &trial, NULL) ||
            axl_obj_uint(m, "ending", "index", true, 0, AXL_CHAIN_MAX - 2, &index, NULL) ||
            read_kind(m, &t.kind) || read_any_station(m, "from", &t.from) ||
            read_any_station(m, "to", &t.to) ||
            axl_obj_int(m, "ending", "plate", true, -1, AXL_TL_MAX_PLATES - 1, &plate, NULL) ||
            axl_obj_num(m, "ending", "temp", false, -300, 1000, &t.temperature, NULL))
            return AXL_ECORRUPT;
        int rv = restored_step(lr, (uint32_t)trial, (uint32_t)index, &t, (int)plate);
        if (rv == AXL_ENOMEM)
            return rv;
    }
    for (uint32_t i = 0; cl != NULL && cl->type == MSGPACK_OBJECT_ARRAY && i < cl->via.array.size;
         i++) {
        const msgpack_object *m = &cl->via.array.ptr[i];
        uint64_t trial, index;
        int64_t plate = -1;
        axl_station from;
        double temp = NAN;
        if (axl_obj_uint(m, "clearing", "trial", true, 0, UINT32_MAX, &trial, NULL) ||
            axl_obj_uint(m, "clearing", "index", true, 1, AXL_CHAIN_MAX - 1, &index, NULL) ||
            read_station(m, "from", &from) ||
            axl_obj_int(m, "clearing", "plate", true, -1, AXL_TL_MAX_PLATES - 1, &plate, NULL) ||
            axl_obj_num(m, "clearing", "temp", false, -300, 1000, &temp, NULL))
            return AXL_ECORRUPT;
        int rv =
            lab_clearing_restored(lr, (uint32_t)trial, (uint32_t)index, from, (int)plate, temp);
        if (rv == AXL_ENOMEM)
            return rv;
    }
    return 0;
}
