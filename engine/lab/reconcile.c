/*
 * reconcile.c - the workers' task tables against the samples.
 *
 *  - At every hello the runner asks `status` and reconciles by task id: finished or failed
 *    tasks are re-sent (the worker answers with the outcome again, never running them
 *    twice), unknown ones are sent (the worker never got them), the others run on.
 *  - After an engine restart each STAGED/RUNNING trial's chain is rebuilt from its
 *    parameters, the workers' status replies say which of its task ids are done, and the
 *    sample continues from the first unfinished task; a characterization that finished
 *    while the engine was away is asked for again to get its result.
 *  - restore(): the last labware.updated record (the labware state and which trials held
 *    what it lists as taken).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/json_msgpack.h"
#include "engine/lab/lab.h"
#include "proto/axl_log.h"

static axl_task_state known_state(const lab_runner *lr, const sample *s, uint32_t k)
{
    char id[AXL_WIRE_MAX_ID + 1];
    const role_link *rl = &lr->links[lab_role_of(s, k)];
    lab_task_id(lr, s->trial, k, id, sizeof(id));
    for (uint32_t i = 0; i < rl->n_map; i++)
        if (strcmp(rl->map[i].id, id) == 0)
            return rl->map[i].st;
    return AXL_TASK_UNKNOWN;
}

/* A sample after an engine restart: continue from the first unfinished task. */
static void resolve(lab_runner *lr, sample *s)
{
    if (s->canceled) { /* an ended trial: its last step, or its film on its way back */
        lab_clearing_resolve(lr, s, known_state(lr, s, s->chain.n - (s->clearing ? 1 : 2)));
        return;
    }
    uint32_t p = 0;
    while (p < s->chain.n && known_state(lr, s, p) == AXL_TASK_FINISHED)
        p++;
    lab_queue_report(lr, s->trial, AXL_TRIAL_RUNNING, NULL);
    lab_arm_notify(lr);
    AXL_INFO(LAB_SRC, "trial %u (%s) reconciled: %u of %u tasks done%s", s->trial, s->name, p,
             s->chain.n, p == 0 ? ", starting it" : "");
    if (p == 0 && known_state(lr, s, 0) == AXL_TASK_UNKNOWN) {
        /* Never reached a worker: a fresh start on the timeline. */
        axl_errbuf eb = {{0}};
        if (axl_tl_place(lr->tl, s->trial, &s->chain, lab_line_now(lr), s->plan, &eb) == 0)
            s->placed = true;
        else
            AXL_WARN(LAB_SRC, "trial %u not placed on the timeline (%s); run as soon as possible",
                     s->trial, eb.msg);
    }
    axl_task_state st = p < s->chain.n ? known_state(lr, s, p) : AXL_TASK_UNKNOWN;
    sample_ev_resolved(s, p, st, s->char_index < p);
    if (s->outcome == OUTCOME_WANTED)
        lab_kick_role(lr, AXL_ROLE_CHARACTERIZATION); /* measured meanwhile: ask again */
    /* unknown: send it; failed: send again, the worker answers with the failure. */
    if (s->state == SAMPLE_WAITING)
        lab_dispatch(lr, s);
    /* ENDED: removed when the result comes. */
}

void lab_try_resolve(lab_runner *lr)
{
    for (int r = 0; r < NROLES; r++)
        if (lr->links[r].needed && !lab_role_ready(lr, (axl_worker_role)r))
            return;
    for (sample *s = lr->samples, *next; s != NULL; s = next) {
        next = s->next;
        if (s->state == SAMPLE_RECONCILING)
            resolve(lr, s);
    }
}

void lab_on_status_reply(lab_runner *lr, role_link *rl, const axl_wire_status_reply *m)
{
    status_entry *map = calloc(m->n_tasks ? m->n_tasks : 1, sizeof(*map));
    if (map == NULL)
        return;
    for (uint32_t i = 0; i < m->n_tasks; i++) {
        size_t n = m->tasks[i].id.len <= AXL_WIRE_MAX_ID ? m->tasks[i].id.len : AXL_WIRE_MAX_ID;
        memcpy(map[i].id, m->tasks[i].id.ptr, n);
        map[i].st = m->tasks[i].state;
    }
    free(rl->map);
    rl->map = map;
    rl->n_map = m->n_tasks;
    rl->synced = true;
    AXL_INFO(LAB_SRC, "the %s worker knows %u tasks", axl_worker_role_name(rl->role), m->n_tasks);
    /* Tasks sent before the break: the worker's table is evidence of what started; ask
     * again for what ended, send what never arrived. */
    for (sample *s = lr->samples; s != NULL; s = s->next) {
        if ((!sample_out(s) && s->state != SAMPLE_WAITING) || lab_role_of(s, s->cur) != rl->role)
            continue;
        axl_task_state st = known_state(lr, s, s->cur);
        bool ran = st == AXL_TASK_RUNNING || st == AXL_TASK_FINISHED || st == AXL_TASK_FAILED;
        if (ran && s->state != SAMPLE_RUNNING)
            sample_ev_started(s);
        else if (st == AXL_TASK_ACCEPTED && s->state == SAMPLE_WAITING)
            sample_ev_sent(s); /* it is there: its outcome will come */
        if (st == AXL_TASK_FINISHED || st == AXL_TASK_FAILED ||
            (st == AXL_TASK_UNKNOWN && sample_out(s)))
            lab_send_task(lr, s, s->cur); /* the outcome again, or the task it never got */
    }
    lab_kick_role(lr, rl->role);
    lab_try_resolve(lr);
}

static bool restored_holds(const lab_runner *lr, uint32_t trial)
{
    for (size_t i = 0; i < lr->n_restored; i++)
        if (lr->restored[i] == trial)
            return true;
    return false;
}

int lab_reconcile(axl_runner *r, const axl_runner_job *jobs, int n)
{
    lab_runner *lr = r->impl;
    for (int i = 0; i < n; i++) {
        axl_errbuf why = {{0}};
        sample *s = calloc(1, sizeof(*s));
        if (s == NULL)
            return AXL_ENOMEM;
        s->trial = jobs[i].trial;
        sample_ev_restored(s);
        if (lab_sample_build(lr, s, jobs[i].x, &why) != 0) {
            lab_queue_report(lr, s->trial, AXL_TRIAL_FAILED, why.msg);
            free(s);
            continue;
        }
        /* Its consumption is in the restored record unless that was not committed. */
        if (!restored_holds(lr, s->trial)) {
            char label[16];
            snprintf(label, sizeof(label), "%u", s->trial);
            if (axl_labware_reserve(&lr->lw, &s->recipe, label, &s->res, &why) != 0) {
                lab_queue_report(lr, s->trial, AXL_TRIAL_FAILED, why.msg);
                free(s);
                continue;
            }
            s->has_slot = true;
        }
        lab_sample_link(lr, s);
    }
    lab_labware_event(lr);
    AXL_INFO(LAB_SRC, "reconciling %d trials with the workers' task tables", n);
    lab_try_resolve(lr); /* reports are queued, never made from here */
    lab_arm_notify(lr);
    return 0;
}

int lab_restore(axl_runner *r, axl_rec_kind rec, const void *body, size_t len)
{
    lab_runner *lr = r->impl;
    axl_msg m;
    axl_errbuf eb = {{0}};
    if (rec != AXL_REC_LABWARE)
        return 0;
    int rv = axl_msg_parse(&m, body, len, &eb);
    if (rv != 0)
        return rv;
    const msgpack_object *lw = axl_obj_get(&m.root, "labware");
    const msgpack_object *in = axl_obj_get(&m.root, "inflight");
    json_t *j = lw != NULL ? axl_msgpack_to_json(lw) : NULL;
    axl_labware restored;
    rv = j != NULL ? axl_labware_parse(j, "labware record", &restored, &eb) : AXL_ECORRUPT;
    json_decref(j);
    if (rv == 0 && in != NULL && in->type == MSGPACK_OBJECT_ARRAY) {
        free(lr->restored);
        lr->restored = calloc(in->via.array.size + 1, sizeof(uint32_t));
        lr->n_restored = 0;
        for (uint32_t i = 0; lr->restored != NULL && i < in->via.array.size; i++)
            if (in->via.array.ptr[i].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                in->via.array.ptr[i].via.u64 <= UINT32_MAX)
                lr->restored[lr->n_restored++] = (uint32_t)in->via.array.ptr[i].via.u64;
    }
    if (rv != 0) {
        axl_msg_free(&m);
        AXL_ERROR(LAB_SRC, "the stored labware state does not read: %s", eb.msg);
        return rv;
    }
    lr->lw = restored;
    if ((rv = lab_clearing_unpack(lr, &m.root)) != 0) {
        axl_msg_free(&m);
        AXL_ERROR(LAB_SRC, "the stored labware record's clearing moves do not read");
        return rv;
    }
    axl_msg_free(&m);
    AXL_INFO(LAB_SRC, "labware restored: %u tips and %u tray slots left",
             axl_labware_tips_left(&lr->lw), axl_labware_slots_free(&lr->lw));
    return 0;
}
