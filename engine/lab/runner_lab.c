/*
 * runner_lab.c - the `lab` runner: a trial becomes a sample on a PASCAL-style line.
 *
 *   trial parameters --axl_recipe_instantiate--> recipe  (lab.recipe, a template)
 *   recipe --axl_labware_reserve--> tips, tray slot, volumes (lab.labware)  or FAILED
 *   recipe --axl_chain_from_recipe--> task chain --axl_tl_place--> planned times
 *   chain task k --task message--> its worker (hw/worker/axl_link.h), when task k-1
 *                                  finished, to start at max(planned start, now)
 *   characterize finished --result (PL fit done by the worker)--> metrics, COMPLETED
 *
 * This file: the ops table, the worker links, sending tasks and taking their outcomes,
 * the report queue, the events. The sample's state changes in sample.c only; the other
 * jobs are in the files lab.h lists.
 *
 * Workers: either given ("lab.workers": {"spincoater": "ipc://...", ...}) or spawned by
 * this runner ("lab.simulate": {...}, line_procs.c). hw/README.md documents the lab
 * section and the policies; in short:
 *
 *  - A worker silent for heartbeat_timeout_ms is lost (its link's heartbeat timer - a
 *    deadline, no polling). A sample whose current task had *started* on it fails (its
 *    state is unknown: the task is never run twice). A task sent but not started is
 *    re-sent with the same id when the worker is up again (workers dedupe ids).
 *  - Reconciliation with the workers' task tables: reconcile.c.
 *
 * Every report goes through a 0 ms timer (never from inside deploy, cancel, reconcile).
 * Events: task.started / task.finished / task.failed per task, and labware.updated
 * (rec labware, body {"v": 1, "labware": {...}, "inflight": [trial, ...], "clearing":
 * [...], "ending": [...], "blocked": [...]}) after each change; restore() (reconcile.c) reads the
 * last one back on resume.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json_msgpack.h"
#include "engine/lab/lab.h"
#include "hw/worker/axl_worker.h"
#include "proto/axl_log.h"
#include "proto/axl_util.h"

#define SRC LAB_SRC

double lab_line_now(const lab_runner *lr)
{
    return (axl_now() - lr->wall0) * lr->cfg.speed;
}

/* ---- reports and events ----------------------------------------------------------------- */

pending_report *lab_new_report(uint32_t trial, axl_trial_status st, const char *reason)
{
    pending_report *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        AXL_ERROR(SRC, "out of memory: the report for trial %u is lost", trial);
        return NULL;
    }
    p->trial = trial;
    p->status = st;
    snprintf(p->job, sizeof(p->job), "sample%u", trial);
    if (reason != NULL)
        snprintf(p->reason, sizeof(p->reason), "%s", reason);
    return p;
}

void lab_push_report(lab_runner *lr, pending_report *p)
{
    if (p == NULL)
        return;
    p->next = NULL;
    if (lr->reports_tail != NULL)
        lr->reports_tail->next = p;
    else
        lr->reports = p;
    lr->reports_tail = p;
}

pending_report *lab_queue_report(lab_runner *lr, uint32_t trial, axl_trial_status st,
                                 const char *reason)
{
    pending_report *p = lab_new_report(trial, st, reason);
    lab_push_report(lr, p);
    return p;
}

static void notify_cb(uv_timer_t *h)
{
    lab_runner *lr = h->data;
    pending_report *p = lr->reports;
    lr->reports = lr->reports_tail = NULL;
    while (p != NULL) {
        pending_report *next = p->next;
        if (!lr->closing) {
            axl_runner_report rep = {.trial = p->trial, .status = p->status, .job_id = p->job};
            if (p->status == AXL_TRIAL_COMPLETED) {
                rep.n_metrics = p->n;
                rep.metrics = p->m;
            } else if (p->status != AXL_TRIAL_RUNNING) {
                rep.reason = p->reason;
            }
            lr->r->report(lr->r, &rep);
        }
        free(p);
        p = next;
    }
    /* The turn that committed the predecessors' task.finished is over: persist, then act. */
    for (sample *sm = lr->samples, *nx; sm != NULL && !lr->closing; sm = nx) {
        nx = sm->next;
        if (sm->state == SAMPLE_DUE && sample_ev_turn(sm))
            lab_dispatch(lr, sm);
    }
    if (!lr->closing) /* moves held back while their station was taken (clearing.c) */
        lab_kick_role(lr, AXL_ROLE_GRIPPER);
}

void lab_arm_notify(lab_runner *lr)
{
    if (lr->reports != NULL && !lr->closing)
        uv_timer_start(&lr->notify, notify_cb, 0, 0);
}

/* The next task of a sample goes out from the notify timer, i.e. on the loop iteration
 * after the turn that committed its predecessor's task.finished: persist, then act. */
void lab_arm_dispatch(lab_runner *lr)
{
    if (!lr->closing)
        uv_timer_start(&lr->notify, notify_cb, 0, 0);
}

static void emit(lab_runner *lr, const char *type, int64_t trial, axl_rec_kind rec,
                 const msgpack_sbuffer *sb)
{
    if (lr->r->event != NULL && !lr->closing)
        lr->r->event(lr->r, type, trial, rec, sb->data, sb->size);
}

/* labware.updated: the complete state, and which trials hold what it lists as taken. */
void lab_labware_event(lab_runner *lr)
{
    json_t *j = axl_labware_to_json(&lr->lw);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int bad = j == NULL || msgpack_pack_map(&pk, 3 + LAB_CLEARING_KEYS) ||
              axl_pack_kv_uint(&pk, "v", 1) || axl_pack_cstr(&pk, "labware") ||
              axl_json_to_msgpack(j, &pk) || axl_pack_cstr(&pk, "inflight") ||
              msgpack_pack_array(&pk, (size_t)lr->n_samples);
    for (sample *s = lr->samples; s != NULL && !bad; s = s->next)
        bad = msgpack_pack_uint32(&pk, s->trial);
    bad = bad || lab_clearing_pack(lr, &pk);
    if (bad)
        AXL_ERROR(SRC, "the labware state could not be encoded; not recorded");
    else
        emit(lr, "labware.updated", -1, AXL_REC_LABWARE, &sb);
    msgpack_sbuffer_destroy(&sb);
    json_decref(j);
}

/* ---- ids ------------------------------------------------------------------------------- */

/* "<experiment>/<campaign>/<trial>/<index>" (proto/axl_wire.h; the short form for a store
 * made before campaign ids). */
void lab_task_id(const lab_runner *lr, uint32_t trial, uint32_t k, char *buf, size_t cap)
{
    if (axl_wire_campaign_task_id(buf, cap, axl_str_c(lr->e->name), lr->e->campaign_id, trial, k,
                                  NULL) != 0)
        snprintf(buf, cap, "?");
}

/* A task id of this campaign -> trial, index; false for anything else (another
 * campaign's, another experiment's, not a task id). */
static bool parse_task_id(const lab_runner *lr, axl_str id, uint32_t *trial, uint32_t *k)
{
    axl_wire_task_ref ref;
    size_t clen = strlen(lr->e->campaign_id);
    if (axl_wire_task_id_parse(id, axl_str_c(lr->e->name), &ref) != 0 || ref.campaign.len != clen ||
        memcmp(ref.campaign.ptr, lr->e->campaign_id, clen) != 0)
        return false;
    *trial = ref.trial;
    *k = ref.index;
    return true;
}

/* A worker message the runner does not take: logged, counted by the caller, answered. */
static void refuse(role_link *rl, int code, const char *what, axl_str id)
{
    char text[AXL_WIRE_MAX_TEXT];
    snprintf(text, sizeof(text), "%s: task %.*s %s", what, (int)(id.len > 200 ? 200 : id.len),
             id.ptr != NULL ? id.ptr : "",
             code == AXL_ENOENT ? "was not sent in this campaign" : "was not seen started");
    AXL_WARN(SRC, "the %s worker: %s; refused", axl_worker_role_name(rl->role), text);
    axl_wire_msg m = {.type = AXL_WIRE_ERROR};
    m.error.code = code;
    m.error.msg = axl_str_c(text);
    if (rl->link != NULL)
        axl_link_send(rl->link, &m, NULL);
}

/*
 * An outcome for a sample still reconciling after an engine restart: the worker's status
 * reply that the reconciliation reads may predate it (it said "running"), and the
 * outcome, once dropped, is never sent by itself again. Ask for the table again: the new
 * reply shows the task ended, and the reconciliation asks for its outcome.
 */
static void ask_status_again(role_link *rl)
{
    axl_wire_msg st = {.type = AXL_WIRE_STATUS};
    if (rl->link != NULL)
        axl_link_send(rl->link, &st, NULL);
}

/* The task id of a worker message: this campaign's, or refused (ENOENT) and counted. */
static bool own_task(lab_runner *lr, role_link *rl, const char *what, axl_str id, uint32_t *trial,
                     uint32_t *k)
{
    if (parse_task_id(lr, id, trial, k))
        return true;
    lr->foreign_ids++;
    refuse(rl, AXL_ENOENT, what, id);
    return false;
}

sample *lab_find_sample(lab_runner *lr, uint32_t trial)
{
    for (sample *s = lr->samples; s != NULL; s = s->next)
        if (s->trial == trial)
            return s;
    return NULL;
}

/* ---- samples --------------------------------------------------------------------------- */

/* The recipe and chain of trial at x; errors name the JSON path of the bound field. */
int lab_sample_build(lab_runner *lr, sample *s, const double *x, axl_errbuf *eb)
{
    const axl_experiment *e = lr->e;
    axl_recipe_arg args[AXL_PROTO_MAX_PARAMS];
    size_t n = 0;
    snprintf(s->name, sizeof(s->name), "sample%u", s->trial);
    for (size_t i = 0; i < e->space.n_params && n < AXL_PROTO_MAX_PARAMS; i++) {
        axl_value v = axl_experiment_value_at(e, i, x[i]);
        if (v.kind == AXL_VALUE_NUM || v.kind == AXL_VALUE_INT)
            args[n++] =
                (axl_recipe_arg){e->info[i].name, v.kind == AXL_VALUE_INT ? (double)v.i : v.num};
    }
    int rv;
    if ((rv = axl_recipe_instantiate(lr->cfg.tpl, args, n, &s->recipe, eb)) != 0 ||
        (rv = axl_chain_from_recipe(&s->recipe, &s->chain, eb)) != 0)
        return rv;
    s->char_index = s->chain.n;
    for (uint32_t k = 0; k < s->chain.n; k++)
        if (s->chain.task[k].kind == AXL_TASK_CHARACTERIZE)
            s->char_index = k; /* the last one gives the metrics */
    return 0;
}

void lab_sample_link(lab_runner *lr, sample *s)
{
    s->next = lr->samples;
    if (lr->samples != NULL)
        lr->samples->prev = s;
    lr->samples = s;
    lr->n_samples++;
}

/* The sample leaves the line (done, failed or canceled). give_back: it never started,
 * so its tray slot and volumes are returned (tips are not: racks are used in order). */
void lab_sample_remove(lab_runner *lr, sample *s, bool give_back)
{
    if (s->placed || s->stand_in)
        axl_tl_remove(lr->tl, s->trial);
    if (give_back && s->has_slot)
        axl_labware_release(&lr->lw, &s->res);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        lr->samples = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    lr->n_samples--;
    free(s);
    lab_labware_event(lr);
    lab_arm_dispatch(lr); /* a station it held may be free */
}

static void fail_sample(lab_runner *lr, sample *s, const char *reason)
{
    AXL_WARN(SRC, "trial %u (%s) failed: %s", s->trial, s->name, reason);
    if (!sample_reported(s)) {
        sample_ev_reported(s);
        lab_queue_report(lr, s->trial, AXL_TRIAL_FAILED, reason);
        lab_arm_notify(lr);
    }
    lab_sample_remove(lr, s, false);
}

/* ---- sending tasks ----------------------------------------------------------------------- */

bool lab_role_ready(const lab_runner *lr, axl_worker_role role)
{
    const role_link *rl = &lr->links[role];
    return rl->link != NULL && axl_link_up(rl->link) && rl->synced;
}

/* Sends task k of s (again, when it was sent before: the worker dedupes by id). */
int lab_send_task(lab_runner *lr, sample *s, uint32_t k)
{
    axl_errbuf eb = {{0}};
    axl_task_spec spec;
    char id[AXL_WIRE_MAX_ID + 1];
    const axl_chain_task *ct = &s->chain.task[k];
    axl_task_spec_from_chain(&s->chain, k, &s->recipe, s->name, &spec);
    if (s->has_slot)
        snprintf(spec.slot, sizeof(spec.slot), "%s", s->res.slot_name);
    if (s->placed)
        spec.plate = s->plan[k].plate;
    else if (s->clearing)
        spec.plate = s->clear_plate;
    if (ct->kind == AXL_TASK_CHARACTERIZE) {
        spec.has_pl = true;
        spec.pl_wl_min = lr->cfg.pl.wl_min;
        spec.pl_wl_max = lr->cfg.pl.wl_max;
        spec.pl_wl_guess = lr->cfg.pl.wl_guess;
    }
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    int rv = axl_task_spec_encode(&spec, &params, &eb);
    if (rv == 0) {
        lab_task_id(lr, s->trial, k, id, sizeof(id));
        axl_wire_msg m = {.type = AXL_WIRE_TASK};
        m.task.id = axl_str_c(id);
        m.task.experiment = axl_str_c(lr->e->name);
        m.task.trial = s->trial;
        m.task.index = k;
        m.task.kind = axl_str_c(axl_task_kind_name(ct->kind));
        m.task.params = (axl_raw){params.data, params.size};
        if (s->placed && k == s->cur) {
            /* At max(planned start, now): a late predecessor starts it at once, and a
             * worker with several tasks ready starts them in planned order. */
            m.task.has_start_at = true;
            m.task.start_at = lr->wall0 + s->plan[k].start / lr->cfg.speed;
        }
        rv = axl_link_send(lr->links[lab_role_of(s, k)].link, &m, &eb);
    }
    msgpack_sbuffer_destroy(&params);
    if (rv != 0)
        AXL_WARN(SRC, "task %u of trial %u not sent: %s", k, s->trial, eb.msg);
    return rv;
}

/* Sends the current task when its worker is ready; otherwise it waits for the worker's
 * next status sync (lab_kick_role). */
void lab_dispatch(lab_runner *lr, sample *s)
{
    if (s->state != SAMPLE_WAITING || !lab_role_ready(lr, lab_role_of(s, s->cur)) ||
        lab_station_taken(lr, s))
        return;
    if (lab_send_task(lr, s, s->cur) == 0)
        sample_ev_sent(s);
}

void lab_kick_role(lab_runner *lr, axl_worker_role role)
{
    for (sample *s = lr->samples, *next; s != NULL; s = next) {
        next = s->next;
        if (!sample_active(s))
            continue;
        if (s->state == SAMPLE_WAITING && lab_role_of(s, s->cur) == role)
            lab_dispatch(lr, s);
        if (s->outcome == OUTCOME_WANTED && role == AXL_ROLE_CHARACTERIZATION &&
            lab_role_ready(lr, role) && lab_send_task(lr, s, s->char_index) == 0)
            sample_ev_result_asked(s);
    }
}

/* ---- results -------------------------------------------------------------------------- */

/* The characterization result -> metrics; FAILED with the reason when there are none. */
static void take_char_result(lab_runner *lr, sample *s, axl_raw result)
{
    axl_pl_outcome o;
    axl_errbuf eb = {{0}};
    char reason[1300];
    if (sample_reported(s))
        return;
    int rv = axl_pl_result_decode(result.ptr, result.len, &o, &eb);
    if (rv != 0 || !o.fitted) {
        if (rv != 0)
            snprintf(reason, sizeof(reason), "characterization result without PL metrics: %s",
                     eb.msg);
        else
            snprintf(reason, sizeof(reason), "PL fit of %.300s failed: %.900s", o.spectrum,
                     o.error);
        sample_ev_reported(s);
        lab_queue_report(lr, s->trial, AXL_TRIAL_FAILED, reason);
        lab_arm_notify(lr);
        return;
    }
    double in = o.intensity, ev = o.peak_ev, fwhm = o.fwhm_ev;
    pending_report *p = lab_queue_report(lr, s->trial, AXL_TRIAL_COMPLETED, NULL);
    sample_ev_reported(s);
    if (p != NULL) {
        const char *extra[2] = {"pl_peak_ev", "pl_fwhm_ev"};
        double val[2] = {ev, fwhm};
        p->m[p->n++] = (axl_metric_value){lr->e->metric, in, NAN};
        for (int i = 0; i < 2; i++)
            if (strcmp(extra[i], lr->e->metric) != 0)
                p->m[p->n++] = (axl_metric_value){extra[i], val[i], NAN};
    }
    AXL_INFO(SRC, "trial %u (%s): PL intensity %.1f counts/s at %.4f eV, FWHM %.4f eV", s->trial,
             s->name, in, ev, fwhm);
    lab_arm_notify(lr);
}

static void task_event(lab_runner *lr, const sample *s, uint32_t k, const char *type,
                       const axl_wire_msg *m)
{
    char name[64];
    axl_chain_task_name(&s->chain.task[k], name, sizeof(name));
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    size_t n = m->type == AXL_WIRE_STARTED ? 5 : m->type == AXL_WIRE_FINISHED ? 6 : 7;
    axl_str id = m->type == AXL_WIRE_STARTED    ? m->started.id
                 : m->type == AXL_WIRE_FINISHED ? m->finished.id
                                                : m->failed.id;
    double t = m->type == AXL_WIRE_STARTED    ? m->started.time
               : m->type == AXL_WIRE_FINISHED ? m->finished.time
                                              : m->failed.time;
    int bad = msgpack_pack_map(&pk, n) || axl_pack_cstr(&pk, "id") ||
              msgpack_pack_str(&pk, id.len) || msgpack_pack_str_body(&pk, id.ptr, id.len) ||
              axl_pack_kv_uint(&pk, "index", k) || axl_pack_kv_str(&pk, "task", name) ||
              axl_pack_kv_str(&pk, "worker", axl_worker_role_name(lab_role_of(s, k))) ||
              axl_pack_kv_num(&pk, "time", t);
    if (!bad && m->type == AXL_WIRE_FINISHED) {
        bad = axl_pack_cstr(&pk, "result");
        if (!bad && m->finished.result.ptr != NULL)
            bad = msgpack_sbuffer_write(&sb, m->finished.result.ptr, m->finished.result.len);
        else if (!bad)
            bad = msgpack_pack_map(&pk, 0);
    } else if (!bad && m->type == AXL_WIRE_FAILED) {
        bad = axl_pack_cstr(&pk, "reason") || msgpack_pack_str(&pk, m->failed.reason.len) ||
              msgpack_pack_str_body(&pk, m->failed.reason.ptr, m->failed.reason.len) ||
              axl_pack_kv_bool(&pk, "retryable", m->failed.retryable);
    }
    if (!bad)
        emit(lr, type, s->trial, AXL_REC_NONE, &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void on_started(lab_runner *lr, role_link *rl, const axl_wire_msg *m)
{
    uint32_t trial, k;
    if (!own_task(lr, rl, "started", m->started.id, &trial, &k))
        return;
    sample *s = lab_find_sample(lr, trial);
    if (s == NULL || k >= s->chain.n || k != s->cur ||
        (s->state != SAMPLE_SENT && s->state != SAMPLE_WAITING))
        return;
    sample_ev_started(s);
    task_event(lr, s, k, "task.started", m);
}

/* The chain is done: the sample leaves the line once its outcome is reported. */
static void chain_ended(lab_runner *lr, sample *s)
{
    if (s->outcome == OUTCOME_WANTED || s->outcome == OUTCOME_ASKED)
        return; /* still waiting for the result asked again */
    if (!sample_reported(s)) {
        /* No characterization gave a result (a recipe without one is refused at init,
         * so this is a characterization already reported, or lost). */
        sample_ev_reported(s);
        lab_queue_report(lr, s->trial, AXL_TRIAL_FAILED, "the chain ended without a PL result");
        lab_arm_notify(lr);
    }
    lab_sample_remove(lr, s, false);
}

static void on_finished(lab_runner *lr, role_link *rl, const axl_wire_msg *m)
{
    uint32_t trial, k;
    if (!own_task(lr, rl, "finished", m->finished.id, &trial, &k))
        return;
    sample *s = lab_find_sample(lr, trial);
    if (s != NULL && s->state == SAMPLE_RECONCILING) {
        ask_status_again(rl);
        return;
    }
    if (s == NULL || k >= s->chain.n || !sample_active(s))
        return;
    if (k < s->cur) {
        /* An outcome sent again: only a characterization result we still need counts. */
        if (k == s->char_index && (s->outcome == OUTCOME_OPEN || s->outcome == OUTCOME_WANTED ||
                                   s->outcome == OUTCOME_ASKED)) {
            if (s->outcome != OUTCOME_OPEN)
                sample_ev_result_taken(s);
            take_char_result(lr, s, m->finished.result);
            if (s->state == SAMPLE_ENDED)
                lab_sample_remove(lr, s, false);
        }
        return;
    }
    if (k > s->cur)
        return;
    if (s->state != SAMPLE_RUNNING) {
        /* Never an outcome for a task not seen started (a started message, or the worker's
         * table saying it ran): ask the worker's table; the status sync takes it from
         * there (lab_on_status_reply). */
        lr->unstarted_finished++;
        refuse(rl, AXL_ESTATE, "finished", m->finished.id);
        axl_wire_msg st = {.type = AXL_WIRE_STATUS};
        if (rl->link != NULL)
            axl_link_send(rl->link, &st, NULL);
        return;
    }
    if (!sample_ev_finished(s))
        return;
    task_event(lr, s, k, "task.finished", m);
    if (s->canceled) {
        /* The trial was ended while this step ran: its film goes back to its tray slot
         * when it is on a shared station (clearing.c), and nothing else runs. */
        if (s->clearing)
            AXL_INFO(SRC, "trial %u (%s): its film is back in its tray", trial, s->name);
        else if (lab_clearing_start(lr, s, k)) {
            lab_labware_event(lr); /* the clearing is recorded before its move goes out */
            lab_arm_dispatch(lr);
            return;
        }
        lab_sample_remove(lr, s, false);
        return;
    }
    if (k == s->char_index)
        take_char_result(lr, s, m->finished.result);
    if (s->state == SAMPLE_ENDED)
        chain_ended(lr, s);
    else
        lab_arm_dispatch(lr);
}

static void on_failed(lab_runner *lr, role_link *rl, const axl_wire_msg *m)
{
    uint32_t trial, k;
    char reason[AXL_WIRE_MAX_TEXT + 200], name[64];
    if (!own_task(lr, rl, "failed", m->failed.id, &trial, &k))
        return;
    sample *s = lab_find_sample(lr, trial);
    if (s != NULL && s->state == SAMPLE_RECONCILING) {
        ask_status_again(rl);
        return;
    }
    if (s == NULL || k >= s->chain.n || !sample_active(s) || k != s->cur ||
        s->state == SAMPLE_ENDED)
        return;
    task_event(lr, s, k, "task.failed", m);
    axl_chain_task_name(&s->chain.task[k], name, sizeof(name));
    snprintf(reason, sizeof(reason), "task %.*s (%s) failed on the %s worker: %.*s",
             (int)m->failed.id.len, m->failed.id.ptr, name, axl_worker_role_name(lab_role_of(s, k)),
             (int)m->failed.reason.len, m->failed.reason.ptr != NULL ? m->failed.reason.ptr : "");
    if (sample_reported(s)) {
        /* The metrics are in and only the trip back to the tray failed, or the trial was
         * ended while this step ran (canceled). */
        AXL_WARN(SRC, "after trial %u was %s: %s", trial, s->canceled ? "ended" : "reported",
                 reason);
        if (s->canceled)
            lab_clearing_block(lr, s, k,
                               s->clearing ? "the move of its film back to its tray failed"
                                           : "a step failed after the trial ended");
        lab_sample_remove(lr, s, false);
        return;
    }
    fail_sample(lr, s, reason);
}

/* ---- worker links -------------------------------------------------------------------------- */

static void link_up(axl_link *l, const axl_wire_hello *h)
{
    role_link *rl = axl_link_data(l);
    if (rl->lr->closing)
        return;
    if (h != NULL)
        AXL_INFO(SRC, "worker %s (%s) up at %s: capacity %u, %u tasks in flight",
                 axl_link_worker(l), axl_worker_role_name(rl->role), rl->addr, h->capacity,
                 h->n_inflight);
    rl->synced = false;
    axl_wire_msg m = {.type = AXL_WIRE_STATUS};
    axl_errbuf eb = {{0}};
    if (axl_link_send(l, &m, &eb) != 0)
        AXL_WARN(SRC, "status to the %s worker not sent: %s", axl_worker_role_name(rl->role),
                 eb.msg);
}

static void link_msg(axl_link *l, const axl_wire_msg *m)
{
    role_link *rl = axl_link_data(l);
    lab_runner *lr = rl->lr;
    if (lr->closing)
        return;
    uint32_t trial, k;
    switch (m->type) {
    case AXL_WIRE_STARTED:
        on_started(lr, rl, m);
        break;
    case AXL_WIRE_FINISHED:
        on_finished(lr, rl, m);
        break;
    case AXL_WIRE_FAILED:
        on_failed(lr, rl, m);
        break;
    case AXL_WIRE_ACK:
        own_task(lr, rl, "ack", m->ack.id, &trial, &k); /* the outcome, if any, follows */
        break;
    case AXL_WIRE_PROGRESS:
        own_task(lr, rl, "progress", m->progress.id, &trial, &k);
        break;
    case AXL_WIRE_STATUS_REPLY:
        lab_on_status_reply(lr, rl, &m->status_reply);
        break;
    case AXL_WIRE_ERROR:
        AXL_WARN(SRC, "the %s worker reports %s: %.*s", axl_worker_role_name(rl->role),
                 axl_err_name(m->error.code), (int)m->error.msg.len, m->error.msg.ptr);
        break;
    default:
        break; /* heartbeat: the link's timer already counted it */
    }
}

static void link_lost(axl_link *l, double silent_ms)
{
    role_link *rl = axl_link_data(l);
    lab_runner *lr = rl->lr;
    char reason[1000], name[64], id[AXL_WIRE_MAX_ID + 1];
    if (lr->closing)
        return;
    rl->synced = false;
    AXL_WARN(SRC, "the %s worker at %s is lost: no message for %.0f ms",
             axl_worker_role_name(rl->role), rl->addr, silent_ms);
    for (sample *s = lr->samples, *next; s != NULL; s = next) {
        next = s->next;
        if (!sample_out(s) || lab_role_of(s, s->cur) != rl->role)
            continue;
        if (s->state == SAMPLE_SENT) {
            sample_ev_requeued(s); /* sent again (same id) when the worker is back */
            continue;
        }
        lab_task_id(lr, s->trial, s->cur, id, sizeof(id));
        axl_chain_task_name(&s->chain.task[s->cur], name, sizeof(name));
        snprintf(reason, sizeof(reason),
                 "the %s worker (%.300s) was lost (no message for %.0f ms) while it ran task "
                 "%s (%s); the sample's state is unknown",
                 axl_worker_role_name(rl->role), rl->addr, silent_ms, id, name);
        if (s->canceled)
            lab_clearing_block(lr, s, s->cur, reason);
        fail_sample(lr, s, reason);
    }
    /* The simulated line's supervisor: a silent worker is killed and started again. */
    lab_procs_lost(rl);
}

void lab_finish_if_closed(lab_runner *lr)
{
    if (lr->pending > 0 || !lr->closing)
        return;
    void (*cb)(axl_runner *) = lr->close_cb;
    axl_runner *r = lr->r;
    lab_procs_free(lr);
    free(lr);
    if (cb != NULL)
        cb(r);
}

static void link_closed(void *data)
{
    lab_runner *lr = data;
    lr->pending--;
    lab_finish_if_closed(lr);
}

/*
 * The runner's sockets are closed last, once the simulated line's processes are gone:
 * closing a socket whose peer is still talking can deadlock inside libnng 1.5.2 (see
 * hw/worker/nng_bridge.c); a peer that has exited left no pipe to race with.
 */
void lab_close_links(lab_runner *lr)
{
    if (lr->links_closed)
        return;
    lr->links_closed = true;
    lab_procs_release(lr);
    for (int i = 0; i < NROLES; i++) {
        role_link *rl = &lr->links[i];
        if (rl->link != NULL)
            axl_link_close(rl->link, link_closed, lr);
        rl->link = NULL;
        free(rl->map);
        rl->map = NULL;
    }
}

static void one_closed(uv_handle_t *h)
{
    lab_runner *lr = h->data;
    lr->pending--;
    lab_finish_if_closed(lr);
}

/* ---- the ops table --------------------------------------------------------------------------- */

static void lab_close(axl_runner *r, void (*close_cb)(axl_runner *r));

static int lab_init(axl_runner *r, uv_loop_t *loop, const axl_experiment *e, axl_errbuf *eb)
{
    lab_runner *lr = calloc(1, sizeof(*lr));
    int rv;
    if (lr == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    lr->r = r;
    lr->loop = loop;
    lr->e = e;
    if ((rv = lab_config_parse(e, &lr->cfg, eb)) != 0) {
        free(lr);
        return rv;
    }
    if ((rv = axl_tl_new(&lr->cfg.line, &lr->tl, eb)) != 0) {
        lab_config_free(&lr->cfg);
        free(lr);
        return AXL_ECONFIG;
    }
    lr->lw = lr->cfg.lw;
    for (int i = 0; i < NROLES; i++) {
        role_link *rl = &lr->links[i];
        rl->lr = lr;
        rl->role = (axl_worker_role)i;
        rl->needed = lr->cfg.needed[i];
        snprintf(rl->addr, sizeof(rl->addr), "%s", lr->cfg.addr[i]);
    }
    const char *store = r->store_dir != NULL ? r->store_dir : ".";
    snprintf(lr->data_dir, sizeof(lr->data_dir), "%s/data", store);
    char labdir[600];
    snprintf(labdir, sizeof(labdir), "%s/lab", store);
    if (lr->cfg.sim.on) {
        int err = axl_mkdir_p(labdir, 0755);
        if (err != 0)
            rv = axl_fail(eb, AXL_EIO, "%s: %s", labdir, strerror(err));
        for (int i = 0; i < NROLES && rv == 0; i++) {
            role_link *rl = &lr->links[i];
            int n = snprintf(rl->addr, sizeof(rl->addr), "ipc://%s/%s.ipc", labdir,
                             axl_worker_role_name(rl->role));
            /* sun_path holds 107 bytes; "ipc://" is not part of it. */
            if (n < 0 || (size_t)n - 6 > 107)
                rv = axl_fail(eb, AXL_ETOOBIG,
                              "the store path %s is too long for ipc:// "
                              "sockets of the simulated line",
                              store);
        }
        if (rv != 0) {
            axl_tl_free(lr->tl);
            lab_config_free(&lr->cfg);
            free(lr);
            return rv;
        }
    }
    lr->wall0 = axl_now();
    r->impl = lr;
    uv_timer_init(loop, &lr->notify);
    lr->notify.data = lr;
    lr->pending++;
    uv_timer_init(loop, &lr->place);
    lr->place.data = lr;
    lr->pending++;
    axl_link_cbs cbs = {.on_up = link_up, .on_msg = link_msg, .on_lost = link_lost};
    for (int i = 0; i < NROLES && rv == 0; i++) {
        role_link *rl = &lr->links[i];
        if (!rl->needed)
            continue;
        if (lr->cfg.sim.on && (rv = lab_procs_start(lr, rl, labdir, eb)) != 0)
            break;
        cbs.data = rl;
        axl_link_opts lo = {rl->addr, rl->role, lr->cfg.timeout_ms, lr->cfg.connect_timeout_ms};
        if ((rv = axl_link_open(loop, &lo, &cbs, &rl->link, eb)) != 0)
            break;
        lr->pending++;
    }
    if (rv != 0) {
        lab_close(r, NULL); /* handles close on the loop; nothing is reported */
        return rv;
    }
    AXL_INFO(SRC,
             "lab runner: %s line at %gx, %d samples in flight at most, heartbeat "
             "timeout %u ms",
             lr->cfg.sim.on ? "simulated" : "attached", lr->cfg.speed, lr->cfg.max_in_flight,
             lr->cfg.timeout_ms);
    return 0;
}

/* Samples on the line: the campaign's end waits for the last ones' final moves. */
static int lab_busy(axl_runner *r)
{
    lab_runner *lr = r->impl;
    return lr->n_samples;
}

static int lab_capacity(axl_runner *r)
{
    lab_runner *lr = r->impl;
    return lr->cfg.max_in_flight > lr->n_samples ? lr->cfg.max_in_flight - lr->n_samples : 0;
}

static int lab_deploy(axl_runner *r, const axl_runner_job *jobs, int n, axl_errbuf *eb)
{
    lab_runner *lr = r->impl;
    if (lr->closing)
        return axl_fail(eb, AXL_ECLOSED, "lab runner is closing");
    for (int i = 0; i < n; i++) {
        axl_errbuf why = {{0}};
        sample *s = calloc(1, sizeof(*s));
        if (s == NULL)
            return axl_fail(eb, AXL_ENOMEM, "out of memory");
        s->trial = jobs[i].trial;
        sample_ev_deployed(s);
        /* Everything that can refuse the sample is checked before anything starts. */
        char label[16];
        snprintf(label, sizeof(label), "%u", s->trial); /* "sample 2 needs a slot" */
        if (lab_sample_build(lr, s, jobs[i].x, &why) != 0 ||
            axl_labware_reserve(&lr->lw, &s->recipe, label, &s->res, &why) != 0) {
            AXL_WARN(SRC, "trial %u not started: %s", s->trial, why.msg);
            lab_queue_report(lr, s->trial, AXL_TRIAL_FAILED, why.msg);
            free(s);
            continue;
        }
        s->has_slot = true;
        lab_sample_link(lr, s);
        lab_labware_event(lr);
        lab_queue_report(lr, s->trial, AXL_TRIAL_RUNNING, NULL);
    }
    /* Placed on the next loop iteration, together with every sample deployed now. */
    uv_timer_start(&lr->place, lab_place_cb, 0, 0);
    lab_arm_notify(lr);
    return 0;
}

/*
 * The engine ended the trial (abandoned, failed or completed by hand; its TTL). What is
 * not yet started is canceled; a step under way is never cut short (a film half spun, a
 * sample in the gripper's jaws): it finishes, the sample stays on the line (and on the
 * timeline, holding its places) until then, and nothing after it is sent. The film stays
 * where that step leaves it (logged); its tray slot and volumes are not given back. A
 * sample that never started gives them back.
 */
static int lab_cancel(axl_runner *r, uint32_t trial, const char *reason)
{
    lab_runner *lr = r->impl;
    sample *s = lab_find_sample(lr, trial);
    if (s == NULL)
        return AXL_ENOENT;
    if (s->state == SAMPLE_RUNNING) {
        if (sample_ev_canceled(s))
            AXL_INFO(SRC,
                     "trial %u (%s) ended: its running step (task %u) finishes, nothing "
                     "after it is sent",
                     trial, s->name, s->cur);
        lab_labware_event(lr); /* recorded (ending): a restart clears its film too */
        return 0;
    }
    if (lab_clearing_on_cancel(lr, s))
        return 0; /* its film is on a shared station: cleared (clearing.c) */
    /* Task cur is not started: SENT (the worker holds it, waiting for its start time) is
     * canceled there; WAITING and DUE never went out; UNPLACED never had a task. What a
     * sample still RECONCILING after a restart has run is not known: it gives nothing back. */
    bool started = s->cur > 0 || s->state == SAMPLE_RECONCILING;
    if (s->state == SAMPLE_SENT) {
        char id[AXL_WIRE_MAX_ID + 1];
        lab_task_id(lr, trial, s->cur, id, sizeof(id));
        axl_wire_msg m = {.type = AXL_WIRE_CANCEL};
        m.cancel.id = axl_str_c(id);
        m.cancel.reason = axl_str_c(reason != NULL ? reason : "");
        axl_link_send(lr->links[lab_role_of(s, s->cur)].link, &m, NULL);
        AXL_INFO(SRC, "trial %u (%s) ended before task %u started: canceled on the %s worker",
                 trial, s->name, s->cur, axl_worker_role_name(lab_role_of(s, s->cur)));
    } else {
        AXL_INFO(SRC, "trial %u (%s) ended; task %u was not sent: nothing more is", trial, s->name,
                 s->cur);
    }
    sample_ev_reported(s); /* the engine decided; no report follows */
    lab_sample_remove(lr, s, !started);
    return 0;
}

static void lab_close(axl_runner *r, void (*close_cb)(axl_runner *r))
{
    lab_runner *lr = r->impl;
    if (lr == NULL || lr->closing)
        return;
    lr->closing = true;
    lr->close_cb = close_cb;
    for (pending_report *p = lr->reports, *next; p != NULL; p = next) {
        next = p->next;
        free(p);
    }
    lr->reports = lr->reports_tail = NULL;
    uv_timer_stop(&lr->notify);
    uv_close((uv_handle_t *)&lr->notify, one_closed);
    uv_timer_stop(&lr->place);
    uv_close((uv_handle_t *)&lr->place, one_closed);
    if (r->stop_workers) {
        lab_procs_close(lr); /* the links close once the processes are gone */
    } else if (lr->n_samples > 0 || lr->cfg.sim.on) {
        /* Detach: every started task runs on; the workers keep their outcomes in their
         * journals and a spawned worker exits once idle and alone; `axle resume` adopts
         * what is still running and continues each sample from its first unfinished task. */
        AXL_INFO(SRC,
                 "detaching from the line: %d samples in flight continue; `axle resume` "
                 "takes them up",
                 lr->n_samples);
    }
    if (!r->stop_workers || lab_procs_gone(lr))
        lab_close_links(lr); /* detached, attached workers, or no process left: close now */
    while (lr->samples != NULL) {
        sample *s = lr->samples;
        lr->samples = s->next;
        free(s);
    }
    lr->n_samples = 0;
    axl_tl_free(lr->tl);
    lr->tl = NULL;
    lab_config_free(&lr->cfg);
    free(lr->restored);
    free(lr->blocks);
    lr->restored = NULL;
}

/* experiment.stopped's "runner": the worker messages refused, each with a log line and an
 * `error` reply (proto/README.md 6.12). */
static int lab_stop_stats(axl_runner *r, msgpack_packer *pk)
{
    lab_runner *lr = r->impl;
    axl_link_counts sum = {0}, c;
    for (int i = 0; i < NROLES; i++) {
        if (lr->links[i].link == NULL)
            continue;
        axl_link_get_counts(lr->links[i].link, &c);
        sum.wrong_role += c.wrong_role;
        sum.oversize += c.oversize;
        sum.undecodable += c.undecodable;
        sum.refused_msgs += c.refused_msgs;
    }
    return msgpack_pack_map(pk, 6) || axl_pack_kv_uint(pk, "foreign_task_ids", lr->foreign_ids) ||
                   axl_pack_kv_uint(pk, "unstarted_finished", lr->unstarted_finished) ||
                   axl_pack_kv_uint(pk, "wrong_role", sum.wrong_role) ||
                   axl_pack_kv_uint(pk, "oversize", sum.oversize) ||
                   axl_pack_kv_uint(pk, "undecodable", sum.undecodable) ||
                   axl_pack_kv_uint(pk, "refused_connection_msgs", sum.refused_msgs)
               ? AXL_ENOMEM
               : 0;
}

const axl_runner_ops axl_runner_lab_ops = {
    .stop_stats = lab_stop_stats,
    .busy = lab_busy,
    .name = "lab",
    .init = lab_init,
    .capacity = lab_capacity,
    .deploy = lab_deploy,
    .cancel = lab_cancel,
    .reconcile = lab_reconcile,
    .restore = lab_restore,
    .close = lab_close,
};
