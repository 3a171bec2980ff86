/*
 * runner_lab.c - the `lab` runner: a trial becomes a sample on a PASCAL-style line.
 *
 *   trial parameters --axl_recipe_instantiate--> recipe  (lab.recipe, a template)
 *   recipe --axl_labware_reserve--> tips, tray slot, volumes (lab.labware)  or FAILED
 *   recipe --axl_chain_from_recipe--> task chain --axl_tl_place--> planned times
 *   chain task k --task message--> its worker (hw/worker/axl_link.h), when task k-1 finished,
 *                                  to start at max(planned start, now)
 *   characterize finished --result (PL fit done by the worker)--> metrics, COMPLETED
 *
 * Workers: either given ("lab.workers": {"spincoater": "ipc://...", ...}) or spawned by
 * this runner ("lab.simulate": {...}): five `axle worker` processes on ipc:// sockets
 * under the store directory, adopted again by a resumed engine when they outlived a
 * killed one, restarted when they crash, killed when they hang, stopped on close.
 * hw/README.md documents the lab section and the policies; in short:
 *
 *  - A worker silent for heartbeat_timeout_ms is lost (its link's heartbeat timer - a
 *    deadline, no polling). A sample whose current task had *started* on it fails (its
 *    state is unknown: the task is never run twice). A task sent but not started is
 *    re-sent with the same id when the worker is up again (workers dedupe ids).
 *  - At every hello the runner asks `status` and reconciles by task id: finished or
 *    failed tasks are re-sent (the worker answers with the outcome again, never running
 *    them twice), unknown ones are sent (the worker never got them), the others run on.
 *  - After an engine restart (reconcile) each STAGED/RUNNING trial's chain is rebuilt
 *    from its parameters, the workers' status replies say which of its task ids are
 *    done, and the sample continues from the first unfinished task; a characterization
 *    that finished while the engine was away is asked for again to get its result.
 *
 * Every report goes through a 0 ms timer (never from inside deploy, cancel, reconcile).
 * Events: task.started / task.finished / task.failed per task, and labware.updated
 * (rec labware, body {"v": 1, "labware": {...}, "inflight": [trial, ...]}) after each
 * change; restore() reads the last one back on resume.
 */
#include "engine/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/json_msgpack.h"
#include "hw/line/axl_chain.h"
#include "hw/line/axl_film_model.h"
#include "hw/line/axl_labware.h"
#include "hw/worker/axl_link.h"
#include "hw/line/axl_recipe.h"
#include "hw/line/axl_task.h"
#include "hw/line/axl_timeline.h"
#include "hw/worker/axl_worker.h"
#include "proto/axl_log.h"

#define SRC "Lab"
#define NROLES AXL_ROLE_COUNT
#define EXIT_WHEN_ALONE_S 60.0 /* a spawned worker outlives a killed engine this long */

/* ---- state ------------------------------------------------------------------------- */

typedef enum { PH_RECONCILE, PH_ACTIVE } sample_phase;

typedef struct sample {
    struct sample *next, *prev;
    uint32_t trial;
    char name[32]; /* "sample12": the job id and the spectrum's file name */
    sample_phase ph;
    axl_recipe recipe;
    axl_chain chain;
    axl_lw_reservation res;
    bool has_slot; /* res describes this sample's reservation (not a restored one) */
    bool placed;   /* on the timeline; plan[] valid */
    bool unplaced; /* deployed this turn, waiting for the batch placement (place_cb) */
    axl_tl_slot plan[AXL_CHAIN_MAX];
    uint32_t cur;      /* the task in progress, or next to send; chain.n when all done */
    bool cur_sent;     /* cur was sent to its worker */
    bool cur_started;  /* its worker said `started` */
    bool dispatch_due; /* next task waits for the turn that records the last one's end */
    uint32_t char_index;
    bool final_reported; /* COMPLETED or FAILED queued */
    bool want_char;      /* the characterization's result must be asked for again */
    bool char_pending;   /* ... and was asked for; the sample waits for it */
    bool has_film;
    axl_film_inputs film;
} sample;

typedef struct status_entry {
    char id[AXL_WIRE_MAX_ID + 1];
    axl_task_state st;
} status_entry;

struct lab_runner;

/* A spawned (or adopted) `axle worker` process of the simulated line. */
typedef struct sim_proc {
    struct lab_runner *lr;
    axl_worker_role role;
    char *argv[40];
    int argc_base;  /* argv entries without the injection flags */
    char sig[2048]; /* the configuration, to adopt only an identical worker */
    char pidfile[700];
    uv_process_t proc; /* our child */
    bool child;        /* proc initialised and not yet closed */
    int pid;           /* running pid (child or adopted), 0 = none */
    int pidfd;         /* adopted: pidfd polled for its exit */
    uv_poll_t poll;
    bool polling;
    uv_timer_t timer; /* restart delay and kill fallback */
    bool inject;      /* next spawn carries the failure-injection flags */
    bool closing;
} sim_proc;

typedef struct role_link {
    struct lab_runner *lr;
    axl_worker_role role;
    bool needed; /* the recipe's chain has tasks for it */
    char addr[512];
    axl_link *link;
    bool synced; /* status_reply received since the last up */
    status_entry *map;
    uint32_t n_map;
    sim_proc *proc;
} role_link;

typedef struct pending_report {
    struct pending_report *next;
    uint32_t trial;
    axl_trial_status status;
    char reason[1400];
    char job[32];
    uint32_t n;
    axl_metric_value m[3];
} pending_report;

typedef struct sim_cfg {
    bool on;
    double speed;
    uint64_t seed;
    double fail_rate;
    long crash_after[NROLES], hang_after[NROLES];
    char bin[1024];
    char log_level[16];
} sim_cfg;

typedef struct lab_runner {
    axl_runner *r;
    uv_loop_t *loop;
    const axl_experiment *e;
    axl_recipe_template *tpl;
    axl_labware lw;
    axl_tl_config line;
    axl_timeline *tl;
    double speed; /* line seconds per wall second */
    double wall0; /* wall clock at line time 0 */
    int max_in_flight;
    unsigned heartbeat_ms, timeout_ms, connect_timeout_ms;
    axl_pl_opts pl;
    sim_cfg sim;
    char data_dir[600];
    role_link links[NROLES];
    sample *samples;
    int n_samples;
    uint32_t *restored; /* trials holding labware in the restored record */
    size_t n_restored;
    uv_timer_t notify;
    uv_timer_t place;      /* places the samples deployed in one loop turn together */
    double plan_budget_ms; /* wall ms a batch's order search may take (thread pool) */
    bool planning;         /* an order search is on the thread pool */
    pending_report *reports, *reports_tail;
    bool closing;
    bool links_closed;
    int pending; /* handles and links still closing */
    void (*close_cb)(axl_runner *r);
} lab_runner;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d != NULL ? memcpy(d, s, n) : NULL;
}

static double line_now(const lab_runner *lr)
{
    return (wall_now() - lr->wall0) * lr->speed;
}

/* ---- reports and events ----------------------------------------------------------------- */

static pending_report *queue_report(lab_runner *lr, uint32_t trial, axl_trial_status st,
                                    const char *reason)
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
    if (lr->reports_tail != NULL)
        lr->reports_tail->next = p;
    else
        lr->reports = p;
    lr->reports_tail = p;
    return p;
}

static void dispatch(lab_runner *lr, sample *s);

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
    for (sample *sm = lr->samples, *nx; sm != NULL && !lr->closing; sm = nx) {
        nx = sm->next;
        if (sm->dispatch_due) {
            sm->dispatch_due = false;
            dispatch(lr, sm);
        }
    }
}

static void arm_notify(lab_runner *lr)
{
    if (lr->reports != NULL && !lr->closing)
        uv_timer_start(&lr->notify, notify_cb, 0, 0);
}

/* The next task of a sample goes out from the notify timer, i.e. on the loop iteration
 * after the turn that committed its predecessor's task.finished: persist, then act. */
static void arm_dispatch(lab_runner *lr, sample *s)
{
    s->dispatch_due = true;
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
static void labware_event(lab_runner *lr)
{
    json_t *j = axl_labware_to_json(&lr->lw);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int bad = j == NULL || msgpack_pack_map(&pk, 3) || axl_pack_kv_uint(&pk, "v", 1) ||
              axl_pack_cstr(&pk, "labware") || axl_json_to_msgpack(j, &pk) ||
              axl_pack_cstr(&pk, "inflight") || msgpack_pack_array(&pk, (size_t)lr->n_samples);
    for (sample *s = lr->samples; s != NULL && !bad; s = s->next)
        bad = msgpack_pack_uint32(&pk, s->trial);
    if (bad)
        AXL_ERROR(SRC, "the labware state could not be encoded; not recorded");
    else
        emit(lr, "labware.updated", -1, AXL_REC_LABWARE, &sb);
    msgpack_sbuffer_destroy(&sb);
    json_decref(j);
}

/* ---- ids ------------------------------------------------------------------------------- */

static void task_id(const lab_runner *lr, uint32_t trial, uint32_t k, char *buf, size_t cap)
{
    if (axl_wire_task_id(buf, cap, axl_str_c(lr->e->name), trial, k, NULL) != 0)
        snprintf(buf, cap, "?");
}

/* "<experiment>/<trial>/<index>" of this experiment -> trial, index. */
static bool parse_task_id(const lab_runner *lr, axl_str id, uint32_t *trial, uint32_t *k)
{
    size_t n = strlen(lr->e->name);
    if (id.len < n + 4 || memcmp(id.ptr, lr->e->name, n) != 0 || id.ptr[n] != '/')
        return false;
    unsigned long long v[2] = {0, 0};
    size_t i = n + 1;
    for (int part = 0; part < 2; part++) {
        size_t start = i;
        while (i < id.len && id.ptr[i] >= '0' && id.ptr[i] <= '9' && i - start < 10)
            v[part] = v[part] * 10 + (unsigned)(id.ptr[i++] - '0');
        if (i == start || v[part] > UINT32_MAX)
            return false;
        if (part == 0 && (i >= id.len || id.ptr[i++] != '/'))
            return false;
    }
    if (i != id.len)
        return false;
    *trial = (uint32_t)v[0];
    *k = (uint32_t)v[1];
    return true;
}

static sample *find_sample(lab_runner *lr, uint32_t trial)
{
    for (sample *s = lr->samples; s != NULL; s = s->next)
        if (s->trial == trial)
            return s;
    return NULL;
}

static axl_worker_role role_of(const sample *s, uint32_t k)
{
    return axl_task_role(&s->chain.task[k]);
}

/* ---- samples --------------------------------------------------------------------------- */

/* The recipe and chain of trial at x; errors name the JSON path of the bound field. */
static int sample_build(lab_runner *lr, sample *s, const double *x, axl_errbuf *eb)
{
    const axl_experiment *e = lr->e;
    axl_recipe_arg args[AXL_PROTO_MAX_PARAMS];
    size_t n = 0;
    for (size_t i = 0; i < e->space.n_params && n < AXL_PROTO_MAX_PARAMS; i++) {
        axl_value v = axl_experiment_value_at(e, i, x[i]);
        if (v.kind == AXL_VALUE_NUM || v.kind == AXL_VALUE_INT)
            args[n++] =
                (axl_recipe_arg){e->info[i].name, v.kind == AXL_VALUE_INT ? (double)v.i : v.num};
    }
    int rv;
    if ((rv = axl_recipe_instantiate(lr->tpl, args, n, &s->recipe, eb)) != 0 ||
        (rv = axl_chain_from_recipe(&s->recipe, &s->chain, eb)) != 0)
        return rv;
    s->char_index = s->chain.n;
    for (uint32_t k = 0; k < s->chain.n; k++)
        if (s->chain.task[k].kind == AXL_TASK_CHARACTERIZE)
            s->char_index = k; /* the last one gives the metrics */
    s->has_film = axl_film_inputs_from_recipe(&s->recipe, &s->film, NULL) == 0;
    return 0;
}

static sample *sample_new(uint32_t trial)
{
    sample *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->trial = trial;
    snprintf(s->name, sizeof(s->name), "sample%u", trial);
    return s;
}

static void sample_link(lab_runner *lr, sample *s)
{
    s->next = lr->samples;
    if (lr->samples != NULL)
        lr->samples->prev = s;
    lr->samples = s;
    lr->n_samples++;
}

/* The sample leaves the line (done, failed or canceled). give_back: it never started,
 * so its tray slot and volumes are returned (tips are not: racks are used in order). */
static void sample_remove(lab_runner *lr, sample *s, bool give_back)
{
    if (s->placed)
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
    labware_event(lr);
}

static void fail_sample(lab_runner *lr, sample *s, const char *reason)
{
    AXL_WARN(SRC, "trial %u (%s) failed: %s", s->trial, s->name, reason);
    if (!s->final_reported) {
        s->final_reported = true;
        queue_report(lr, s->trial, AXL_TRIAL_FAILED, reason);
        arm_notify(lr);
    }
    sample_remove(lr, s, false);
}

/* ---- sending tasks ----------------------------------------------------------------------- */

static bool role_ready(const lab_runner *lr, axl_worker_role role)
{
    const role_link *rl = &lr->links[role];
    return rl->link != NULL && axl_link_up(rl->link) && rl->synced;
}

/* Sends task k of s (again, when it was sent before: the worker dedupes by id). */
static int send_task(lab_runner *lr, sample *s, uint32_t k)
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
    if (ct->kind == AXL_TASK_CHARACTERIZE) {
        spec.has_film = s->has_film;
        spec.film = s->film;
        spec.has_pl = true;
        spec.pl_wl_min = lr->pl.wl_min;
        spec.pl_wl_max = lr->pl.wl_max;
        spec.pl_wl_guess = lr->pl.wl_guess;
    }
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    int rv = axl_task_spec_encode(&spec, &params, &eb);
    if (rv == 0) {
        task_id(lr, s->trial, k, id, sizeof(id));
        axl_wire_msg m = {.type = AXL_WIRE_TASK};
        m.task.id = axl_str_c(id);
        m.task.experiment = axl_str_c(lr->e->name);
        m.task.trial = s->trial;
        m.task.index = k;
        m.task.kind = axl_str_c(axl_task_kind_name(ct->kind));
        m.task.params = (axl_raw){params.data, params.size};
        if (s->placed && k == s->cur) {
            double at = lr->wall0 + s->plan[k].start / lr->speed;
            /* At max(planned start, now): a late predecessor starts it at once. */
            if (at > wall_now() + 0.001) {
                m.task.has_start_at = true;
                m.task.start_at = at;
            }
        }
        rv = axl_link_send(lr->links[role_of(s, k)].link, &m, &eb);
    }
    msgpack_sbuffer_destroy(&params);
    if (rv != 0)
        AXL_WARN(SRC, "task %u of trial %u not sent: %s", k, s->trial, eb.msg);
    return rv;
}

/* Sends the current task when its worker is ready; otherwise it waits for the worker's
 * next status sync (kick_role). */
static void dispatch(lab_runner *lr, sample *s)
{
    if (s->unplaced || s->cur >= s->chain.n || s->cur_sent || !role_ready(lr, role_of(s, s->cur)))
        return;
    if (send_task(lr, s, s->cur) == 0) {
        s->cur_sent = true;
        s->cur_started = false;
    }
}

static void kick_role(lab_runner *lr, axl_worker_role role)
{
    for (sample *s = lr->samples, *next; s != NULL; s = next) {
        next = s->next;
        if (s->ph != PH_ACTIVE)
            continue;
        if (s->cur < s->chain.n && role_of(s, s->cur) == role)
            dispatch(lr, s);
        if (s->want_char && role == AXL_ROLE_CHARACTERIZATION && role_ready(lr, role) &&
            send_task(lr, s, s->char_index) == 0) {
            s->want_char = false;
            s->char_pending = true;
        }
    }
}

/* ---- results -------------------------------------------------------------------------- */

/* The characterization result -> metrics; FAILED with the reason when there are none. */
static void take_char_result(lab_runner *lr, sample *s, axl_raw result)
{
    axl_msg m;
    axl_errbuf eb = {{0}};
    char reason[600];
    double in = NAN, ev = NAN, fwhm = NAN;
    const char *err = NULL, *path = NULL;
    size_t err_len = 0, path_len = 0;
    if (s->final_reported)
        return;
    if (result.ptr == NULL || axl_msg_parse(&m, result.ptr, result.len, &eb) != 0) {
        snprintf(reason, sizeof(reason), "characterization result unreadable: %s", eb.msg);
        s->final_reported = true;
        queue_report(lr, s->trial, AXL_TRIAL_FAILED, reason);
        arm_notify(lr);
        return;
    }
    axl_obj_str(&m.root, "result", "pl_error", false, AXL_WIRE_MAX_TEXT, &err, &err_len, NULL);
    axl_obj_str(&m.root, "result", "spectrum", false, 4096, &path, &path_len, NULL);
    /* Untrusted numbers: only physically sensible values become metrics. */
    int bad = axl_obj_num(&m.root, "result", "pl_intensity", true, 0, 1e12, &in, &eb) ||
              axl_obj_num(&m.root, "result", "pl_peak_ev", true, 0.1, 10, &ev, &eb) ||
              axl_obj_num(&m.root, "result", "pl_fwhm_ev", true, 1e-6, 10, &fwhm, &eb);
    if (err != NULL)
        snprintf(reason, sizeof(reason), "PL fit of %.*s failed: %.*s", (int)path_len,
                 path ? path : "", (int)err_len, err);
    else if (bad)
        snprintf(reason, sizeof(reason), "characterization result without PL metrics: %s", eb.msg);
    axl_msg_free(&m);
    s->final_reported = true;
    if (err != NULL || bad) {
        queue_report(lr, s->trial, AXL_TRIAL_FAILED, reason);
        arm_notify(lr);
        return;
    }
    pending_report *p = queue_report(lr, s->trial, AXL_TRIAL_COMPLETED, NULL);
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
    arm_notify(lr);
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
              axl_pack_kv_str(&pk, "worker", axl_worker_role_name(role_of(s, k))) ||
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

static void on_started(lab_runner *lr, const axl_wire_msg *m)
{
    uint32_t trial, k;
    if (!parse_task_id(lr, m->started.id, &trial, &k))
        return;
    sample *s = find_sample(lr, trial);
    if (s == NULL || k >= s->chain.n || s->ph != PH_ACTIVE || k != s->cur || s->cur_started)
        return;
    s->cur_started = true;
    task_event(lr, s, k, "task.started", m);
}

static void on_finished(lab_runner *lr, const axl_wire_msg *m)
{
    uint32_t trial, k;
    if (!parse_task_id(lr, m->finished.id, &trial, &k))
        return;
    sample *s = find_sample(lr, trial);
    if (s == NULL || k >= s->chain.n)
        return;
    if (s->ph == PH_RECONCILE)
        return; /* the status sync that resolves it asks again */
    if (k < s->cur) {
        /* An outcome sent again: only a characterization result we still need counts. */
        if (k == s->char_index && !s->final_reported) {
            s->char_pending = false;
            take_char_result(lr, s, m->finished.result);
            if (s->cur >= s->chain.n)
                sample_remove(lr, s, false);
        }
        return;
    }
    if (k > s->cur)
        return;
    task_event(lr, s, k, "task.finished", m);
    if (k == s->char_index)
        take_char_result(lr, s, m->finished.result);
    s->cur++;
    s->cur_sent = s->cur_started = false;
    if (s->cur >= s->chain.n) {
        if (!s->final_reported) {
            /* No characterization gave a result (a recipe without one is refused at
             * init, so this is a characterization already reported, or lost). */
            if (s->want_char || s->char_pending)
                return; /* still waiting for the result asked again */
            s->final_reported = true;
            queue_report(lr, s->trial, AXL_TRIAL_FAILED, "the chain ended without a PL result");
            arm_notify(lr);
        }
        sample_remove(lr, s, false);
        return;
    }
    arm_dispatch(lr, s);
}

static void on_failed(lab_runner *lr, const axl_wire_msg *m)
{
    uint32_t trial, k;
    char reason[AXL_WIRE_MAX_TEXT + 200], name[64];
    if (!parse_task_id(lr, m->failed.id, &trial, &k))
        return;
    sample *s = find_sample(lr, trial);
    if (s == NULL || k >= s->chain.n || s->ph != PH_ACTIVE || k != s->cur)
        return;
    task_event(lr, s, k, "task.failed", m);
    axl_chain_task_name(&s->chain.task[k], name, sizeof(name));
    snprintf(reason, sizeof(reason), "task %.*s (%s) failed on the %s worker: %.*s",
             (int)m->failed.id.len, m->failed.id.ptr, name, axl_worker_role_name(role_of(s, k)),
             (int)m->failed.reason.len, m->failed.reason.ptr != NULL ? m->failed.reason.ptr : "");
    if (s->final_reported) {
        /* The metrics are in; only the trip back to the tray failed. */
        AXL_WARN(SRC, "after trial %u completed: %s", trial, reason);
        sample_remove(lr, s, false);
        return;
    }
    fail_sample(lr, s, reason);
}

/* ---- reconciliation ----------------------------------------------------------------------- */

static axl_task_state known_state(const lab_runner *lr, const sample *s, uint32_t k)
{
    char id[AXL_WIRE_MAX_ID + 1];
    const role_link *rl = &lr->links[role_of(s, k)];
    task_id(lr, s->trial, k, id, sizeof(id));
    for (uint32_t i = 0; i < rl->n_map; i++)
        if (strcmp(rl->map[i].id, id) == 0)
            return rl->map[i].st;
    return AXL_TASK_UNKNOWN;
}

/* A sample after an engine restart: continue from the first unfinished task. */
static void resolve(lab_runner *lr, sample *s)
{
    uint32_t p = 0;
    while (p < s->chain.n && known_state(lr, s, p) == AXL_TASK_FINISHED)
        p++;
    s->ph = PH_ACTIVE;
    queue_report(lr, s->trial, AXL_TRIAL_RUNNING, NULL);
    arm_notify(lr);
    AXL_INFO(SRC, "trial %u (%s) reconciled: %u of %u tasks done%s", s->trial, s->name, p,
             s->chain.n, p == 0 ? ", starting it" : "");
    if (p == 0 && known_state(lr, s, 0) == AXL_TASK_UNKNOWN) {
        /* Never reached a worker: a fresh start on the timeline. */
        axl_errbuf eb = {{0}};
        if (axl_tl_place(lr->tl, s->trial, &s->chain, line_now(lr), s->plan, &eb) == 0)
            s->placed = true;
        else
            AXL_WARN(SRC, "trial %u not placed on the timeline (%s); run as soon as possible",
                     s->trial, eb.msg);
    }
    s->cur = p;
    s->cur_sent = s->cur_started = false;
    if (s->char_index < p) {
        s->want_char = true; /* measured while we were away: ask for the result again */
        kick_role(lr, AXL_ROLE_CHARACTERIZATION);
    }
    if (p >= s->chain.n)
        return; /* removed when the result comes */
    axl_task_state st = known_state(lr, s, p);
    if (st == AXL_TASK_ACCEPTED || st == AXL_TASK_RUNNING) {
        s->cur_sent = true; /* it runs: its outcome will come */
        s->cur_started = st == AXL_TASK_RUNNING;
        return;
    }
    /* unknown: send it; failed: send again, the worker answers with the failure. */
    dispatch(lr, s);
}

static void try_resolve(lab_runner *lr)
{
    for (int r = 0; r < NROLES; r++)
        if (lr->links[r].needed && !role_ready(lr, (axl_worker_role)r))
            return;
    for (sample *s = lr->samples, *next; s != NULL; s = next) {
        next = s->next;
        if (s->ph == PH_RECONCILE)
            resolve(lr, s);
    }
}

static void on_status_reply(lab_runner *lr, role_link *rl, const axl_wire_status_reply *m)
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
    AXL_INFO(SRC, "the %s worker knows %u tasks", axl_worker_role_name(rl->role), m->n_tasks);
    /* Tasks sent before the break: ask again for what ended, send what never arrived. */
    for (sample *s = lr->samples; s != NULL; s = s->next) {
        if (s->ph != PH_ACTIVE || s->cur >= s->chain.n || !s->cur_sent ||
            role_of(s, s->cur) != rl->role)
            continue;
        axl_task_state st = known_state(lr, s, s->cur);
        if (st == AXL_TASK_RUNNING)
            s->cur_started = true;
        else if (st != AXL_TASK_ACCEPTED)
            send_task(lr, s, s->cur);
    }
    kick_role(lr, rl->role);
    try_resolve(lr);
}

/* ---- worker links -------------------------------------------------------------------------- */

static void sim_kill(sim_proc *p, int sig);

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
    switch (m->type) {
    case AXL_WIRE_STARTED:
        on_started(lr, m);
        break;
    case AXL_WIRE_FINISHED:
        on_finished(lr, m);
        break;
    case AXL_WIRE_FAILED:
        on_failed(lr, m);
        break;
    case AXL_WIRE_STATUS_REPLY:
        on_status_reply(lr, rl, &m->status_reply);
        break;
    case AXL_WIRE_ERROR:
        AXL_WARN(SRC, "the %s worker reports %s: %.*s", axl_worker_role_name(rl->role),
                 axl_err_name(m->error.code), (int)m->error.msg.len, m->error.msg.ptr);
        break;
    default:
        break; /* ack, progress, heartbeat: the link's timer already counted them */
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
        if (s->ph != PH_ACTIVE || s->cur >= s->chain.n || role_of(s, s->cur) != rl->role ||
            !s->cur_sent)
            continue;
        if (!s->cur_started) {
            s->cur_sent = false; /* re-queued: sent again (same id) when the worker is back */
            continue;
        }
        task_id(lr, s->trial, s->cur, id, sizeof(id));
        axl_chain_task_name(&s->chain.task[s->cur], name, sizeof(name));
        snprintf(reason, sizeof(reason),
                 "the %s worker (%.300s) was lost (no message for %.0f ms) while it ran task "
                 "%s (%s); the sample's state is unknown",
                 axl_worker_role_name(rl->role), rl->addr, silent_ms, id, name);
        fail_sample(lr, s, reason);
    }
    /* The simulated line's supervisor: a silent worker is killed and started again. */
    if (rl->proc != NULL && rl->proc->pid > 0)
        sim_kill(rl->proc, SIGKILL);
}

static void finish_if_closed(lab_runner *lr)
{
    if (lr->pending > 0 || !lr->closing)
        return;
    void (*cb)(axl_runner *) = lr->close_cb;
    axl_runner *r = lr->r;
    for (int i = 0; i < NROLES; i++) {
        sim_proc *p = lr->links[i].proc;
        if (p == NULL)
            continue;
        for (int k = 0; k < p->argc_base; k++)
            free(p->argv[k]);
        free(p);
    }
    free(lr);
    if (cb != NULL)
        cb(r);
}

static void link_closed(void *data)
{
    lab_runner *lr = data;
    lr->pending--;
    finish_if_closed(lr);
}

/*
 * The runner's sockets are closed last, once the simulated line's processes are gone:
 * closing a socket whose peer is still talking can deadlock inside libnng 1.5.2 (see
 * hw/worker/nng_bridge.c); a peer that has exited left no pipe to race with.
 */
static void close_links(lab_runner *lr)
{
    if (lr->links_closed)
        return;
    lr->links_closed = true;
    for (int i = 0; i < NROLES; i++) {
        role_link *rl = &lr->links[i];
        if (rl->link != NULL)
            axl_link_close(rl->link, link_closed, lr);
        rl->link = NULL;
        free(rl->map);
        rl->map = NULL;
    }
}

static bool line_gone(const lab_runner *lr)
{
    for (int i = 0; i < NROLES; i++)
        if (lr->links[i].proc != NULL && lr->links[i].proc->pid > 0)
            return false;
    return true;
}

/* ---- the simulated line's processes -----------------------------------------------------------
 */

static void one_closed(uv_handle_t *h)
{
    lab_runner *lr = h->data;
    lr->pending--;
    finish_if_closed(lr);
}

static void proc_one_closed(uv_handle_t *h)
{
    sim_proc *p = h->data;
    lab_runner *lr = p->lr;
    lr->pending--;
    finish_if_closed(lr);
}

static int sim_spawn(sim_proc *p);

static void write_pidfile(sim_proc *p)
{
    FILE *f = fopen(p->pidfile, "w");
    if (f == NULL)
        return;
    fprintf(f, "%d\n%s\n", p->pid, p->sig);
    fclose(f);
}

static void sim_kill(sim_proc *p, int sig)
{
    if (p->pid <= 0)
        return;
    if (p->child)
        uv_process_kill(&p->proc, sig);
    else
        kill(p->pid, sig);
}

/* The timer: the restart delay, or (closing, or a kill not taking) SIGKILL. */
static void proc_timer_cb(uv_timer_t *h)
{
    sim_proc *p = h->data;
    if (p->pid > 0) {
        sim_kill(p, SIGKILL);
        return;
    }
    if (p->closing)
        return;
    if (sim_spawn(p) != 0)
        uv_timer_start(&p->timer, proc_timer_cb, 500, 0);
}

/* The process is gone (child exit or adopted pidfd readable). */
static void proc_gone(sim_proc *p, const char *how)
{
    p->pid = 0;
    if (p->closing) {
        unlink(p->pidfile);
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, proc_one_closed);
        if (line_gone(p->lr))
            close_links(p->lr);
        return;
    }
    AXL_WARN(SRC, "the simulated %s worker %s; starting it again", axl_worker_role_name(p->role),
             how);
    /* A short pause: the dead process's socket must be gone before the new one binds. */
    uv_timer_start(&p->timer, proc_timer_cb, 20, 0);
}

static void child_exit(uv_process_t *h, int64_t status, int sig)
{
    sim_proc *p = h->data;
    char how[64];
    if (sig != 0)
        snprintf(how, sizeof(how), "was killed by signal %d", sig);
    else
        snprintf(how, sizeof(how), "exited with status %lld", (long long)status);
    p->child = false;
    uv_close((uv_handle_t *)&p->proc, proc_one_closed);
    proc_gone(p, how);
}

static void pidfd_cb(uv_poll_t *h, int status, int events)
{
    sim_proc *p = h->data;
    (void)status;
    (void)events;
    uv_poll_stop(&p->poll);
    p->polling = false;
    uv_close((uv_handle_t *)&p->poll, proc_one_closed);
    close(p->pidfd);
    p->pidfd = -1;
    proc_gone(p, "(adopted from an earlier engine) ended");
}

static int sim_spawn(sim_proc *p)
{
    lab_runner *lr = p->lr;
    char *argv[48], crash[32], hang[32];
    int n = 0;
    for (int i = 0; i < p->argc_base; i++)
        argv[n++] = p->argv[i];
    if (p->inject && lr->sim.crash_after[p->role] >= 0) {
        snprintf(crash, sizeof(crash), "%ld", lr->sim.crash_after[p->role]);
        argv[n++] = "--crash-after";
        argv[n++] = crash;
    }
    if (p->inject && lr->sim.hang_after[p->role] >= 0) {
        snprintf(hang, sizeof(hang), "%ld", lr->sim.hang_after[p->role]);
        argv[n++] = "--hang-after";
        argv[n++] = hang;
    }
    argv[n] = NULL;
    p->inject = false; /* injected failures happen once: a restarted worker runs clean */
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = UV_INHERIT_FD, .data.fd = 1},
                                     {.flags = UV_INHERIT_FD, .data.fd = 2}};
    /* Its own session: a Ctrl-C meant for the engine does not take the line down under
     * it; the engine stops its workers itself (SIGTERM on close). */
    uv_process_options_t o = {.exit_cb = child_exit,
                              .file = argv[0],
                              .args = argv,
                              .stdio_count = 3,
                              .stdio = stdio,
                              .flags = UV_PROCESS_DETACHED};
    p->proc.data = p;
    int err = uv_spawn(lr->loop, &p->proc, &o);
    lr->pending++; /* the process handle must be closed, spawned or not */
    if (err != 0) {
        AXL_ERROR(SRC, "cannot start the %s worker (%s): %s", axl_worker_role_name(p->role),
                  argv[0], uv_strerror(err));
        uv_close((uv_handle_t *)&p->proc, proc_one_closed);
        return AXL_EIO;
    }
    p->child = true;
    p->pid = p->proc.pid;
    write_pidfile(p);
    return 0;
}

/*
 * A worker left running by an engine that was killed: adopted when it runs the same
 * configuration (its task table is what a resume reconciles with), else stopped.
 */
static bool sim_adopt(sim_proc *p)
{
    lab_runner *lr = p->lr;
    FILE *f = fopen(p->pidfile, "r");
    char line[64], sig[sizeof(p->sig) + 2] = "";
    int pid = 0;
    if (f == NULL)
        return false;
    if (fgets(line, sizeof(line), f) != NULL)
        pid = atoi(line);
    if (fgets(sig, sizeof(sig), f) != NULL)
        sig[strcspn(sig, "\n")] = '\0';
    fclose(f);
    if (pid <= 1 || kill(pid, 0) != 0)
        return false;
    /* The pid may have been reused: its command line must be this worker's. */
    char path[64], cmd[4096];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (len <= 0)
        return false;
    cmd[len] = '\0';
    for (ssize_t i = 0; i < len; i++)
        if (cmd[i] == '\0')
            cmd[i] = ' ';
    if (strstr(cmd, " worker ") == NULL || strstr(cmd, p->argv[7]) == NULL)
        return false;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (strcmp(sig, p->sig) != 0 || pidfd < 0) {
        AXL_INFO(SRC, "stopping the %s worker (pid %d) an earlier engine left running",
                 axl_worker_role_name(p->role), pid);
        kill(pid, SIGKILL);
        /* Start-up only: wait, bounded, until its socket is released. */
        for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (pidfd >= 0)
            close(pidfd);
        return false;
    }
    p->pid = pid;
    p->pidfd = pidfd;
    uv_poll_init(lr->loop, &p->poll, pidfd);
    p->poll.data = p;
    p->polling = true;
    lr->pending++;
    uv_poll_start(&p->poll, UV_READABLE, pidfd_cb);
    p->inject = false;
    AXL_INFO(SRC, "adopting the %s worker (pid %d) an earlier engine left running",
             axl_worker_role_name(p->role), pid);
    return true;
}

static int sim_start(lab_runner *lr, role_link *rl, const char *dir, axl_errbuf *eb)
{
    sim_proc *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    p->lr = lr;
    p->role = rl->role;
    p->pidfd = -1;
    p->inject = true;
    rl->proc = p;
    uv_timer_init(lr->loop, &p->timer);
    p->timer.data = p;
    lr->pending++;
    char cap[16], speed[32], seed[32], fail[32], hb[16], alone[16];
    uint32_t capacity = axl_worker_default_capacity(rl->role);
    if (rl->role == AXL_ROLE_HOTPLATE)
        capacity = lr->line.n_plates * lr->line.plate_slots;
    else if (rl->role == AXL_ROLE_STORAGE)
        capacity = lr->line.tray_slots;
    if (capacity > AXL_WIRE_MAX_CAPACITY)
        capacity = AXL_WIRE_MAX_CAPACITY;
    snprintf(cap, sizeof(cap), "%u", capacity);
    snprintf(speed, sizeof(speed), "%.17g", lr->sim.speed);
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)lr->sim.seed);
    snprintf(fail, sizeof(fail), "%.17g", lr->sim.fail_rate);
    snprintf(hb, sizeof(hb), "%u", lr->heartbeat_ms);
    snprintf(alone, sizeof(alone), "%g", EXIT_WHEN_ALONE_S);
    /* argv[7] is the address (sim_adopt looks for it in an old process's command line). */
    const char *args[] = {lr->sim.bin,
                          "worker",
                          "--role",
                          axl_worker_role_name(rl->role),
                          "--id",
                          axl_worker_role_name(rl->role),
                          "--listen",
                          rl->addr,
                          "--capacity",
                          cap,
                          "--speed",
                          speed,
                          "--seed",
                          seed,
                          "--fail-rate",
                          fail,
                          "--data-dir",
                          lr->data_dir,
                          "--heartbeat-ms",
                          hb,
                          "--exit-when-alone",
                          alone,
                          "--log-level",
                          lr->sim.log_level};
    size_t len = 0;
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
        if ((p->argv[i] = xstrdup(args[i])) == NULL)
            return axl_fail(eb, AXL_ENOMEM, "out of memory");
        p->argc_base = (int)i + 1;
        if (i > 0 && len < sizeof(p->sig))
            len += (size_t)snprintf(p->sig + len, sizeof(p->sig) - len, "%s ", args[i]);
    }
    snprintf(p->pidfile, sizeof(p->pidfile), "%s/%s.pid", dir, axl_worker_role_name(rl->role));
    if (sim_adopt(p))
        return 0;
    return sim_spawn(p) == 0 ? 0
                             : axl_fail(eb, AXL_EIO, "cannot start the simulated %s worker (%s)",
                                        axl_worker_role_name(rl->role), lr->sim.bin);
}

/* ---- configuration ------------------------------------------------------------------------------
 */

static int check_keys(json_t *j, const char *path, const char *const *keys, axl_errbuf *eb)
{
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        bool known = false;
        for (const char *const *k = keys; *k != NULL; k++)
            known = known || strcmp(*k, key) == 0;
        if (!known) {
            char list[256] = "";
            size_t len = 0;
            for (const char *const *k = keys; *k != NULL && len < sizeof(list); k++)
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
                                        k == keys ? "" : ", ", *k);
            return axl_fail(eb, AXL_ECONFIG, "%s.%s: unknown key (known: %s)", path, key, list);
        }
    }
    return 0;
}

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

static int parse_simulate(lab_runner *lr, json_t *j, axl_errbuf *eb)
{
    static const char *const keys[] = {"speed",      "seed",       "fail_rate", "crash_after",
                                       "hang_after", "worker_bin", "log_level", NULL};
    const char *P = "lab.simulate";
    int rv;
    sim_cfg *s = &lr->sim;
    if (!json_is_object(j))
        return axl_fail(eb, AXL_ECONFIG, "%s: must be an object", P);
    if ((rv = check_keys(j, P, keys, eb)) != 0)
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

static int parse_lab(lab_runner *lr, axl_errbuf *eb)
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
    const axl_experiment *e = lr->e;
    json_t *lab = e->lab;
    int rv;
    if (!json_is_object(lab))
        return axl_fail(eb, AXL_ECONFIG, "lab: required by the lab runner, an object");
    if ((rv = check_keys(lab, "lab", keys, eb)) != 0)
        return rv;
    if ((rv = check_keys(e->runner, "runner", (const char *const[]){"type", NULL}, eb)) != 0)
        return rv;
    json_t *recipe = json_object_get(lab, "recipe"), *labware = json_object_get(lab, "labware");
    if (recipe == NULL)
        return axl_fail(eb, AXL_ECONFIG, "lab.recipe: required");
    if (labware == NULL)
        return axl_fail(eb, AXL_ECONFIG, "lab.labware: required");
    if ((lr->tpl = malloc(sizeof(*lr->tpl))) == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    if ((rv = axl_recipe_template_parse(recipe, "lab.recipe", lr->tpl, eb)) != 0 ||
        (rv = axl_labware_parse(labware, "lab.labware", &lr->lw, eb)) != 0 ||
        (rv = axl_tl_config_parse(json_object_get(lab, "line"), "lab.line", &lr->line, eb)) != 0)
        return AXL_ECONFIG;
    /* Every bound field must name a numeric parameter of the search space. */
    for (uint32_t i = 0; i < lr->tpl->nbindings; i++) {
        const axl_binding *b = &lr->tpl->binding[i];
        int p = axl_experiment_param_index(e, b->param);
        if (p < 0 || (e->params[p].type != AXL_PARAM_FLOAT && e->params[p].type != AXL_PARAM_INT))
            return axl_fail(eb, AXL_ECONFIG,
                            "lab.%s: bound to '%s', which is not a range parameter of the "
                            "search space",
                            b->path, b->param);
    }
    bool has_char = false;
    for (uint32_t i = 0; i < lr->tpl->base.ntasks; i++)
        has_char = has_char || lr->tpl->base.task[i].kind == AXL_RTASK_CHARACTERIZE;
    if (!has_char)
        return axl_fail(eb, AXL_ECONFIG,
                        "lab.recipe.worklist: needs a characterize task (its "
                        "PL fit gives the metric)");
    /* Which workers the recipe needs: its chain at any parameter values. */
    const axl_recipe *base = &lr->tpl->base; /* bound fields are NaN: only kinds are read */
    axl_station at = AXL_STATION_STORAGE;
    lr->links[AXL_ROLE_GRIPPER].needed = true;
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
        lr->links[axl_task_role(&t)].needed = true;
    }

    lr->speed = 1;
    lr->heartbeat_ms = 250;
    double hb = 250, to = -1, cto = 10000, mif = lr->line.tray_slots;
    json_t *workers = json_object_get(lab, "workers"), *sim = json_object_get(lab, "simulate");
    if ((workers == NULL) == (sim == NULL))
        return axl_fail(eb, AXL_ECONFIG,
                        "lab: give either \"workers\" (addresses of running "
                        "workers) or \"simulate\" (spawn the simulated line)");
    if (sim != NULL && (rv = parse_simulate(lr, sim, eb)) != 0)
        return rv;
    if (sim != NULL && json_object_get(lab, "speed") != NULL)
        return axl_fail(eb, AXL_ECONFIG, "lab.speed: with simulate, give simulate.speed");
    lr->speed = lr->sim.on ? lr->sim.speed : 1;
    if ((rv = get_num(lab, "lab", "speed", 1e-3, 1e6, &lr->speed, eb)) ||
        (rv = get_num(lab, "lab", "heartbeat_ms", 1, 60000, &hb, eb)) ||
        (rv = get_num(lab, "lab", "heartbeat_timeout_ms", 1, 3600000, &to, eb)) ||
        (rv = get_num(lab, "lab", "connect_timeout_ms", 1, 3600000, &cto, eb)) ||
        (rv = get_num(lab, "lab", "max_in_flight", 1, 100000, &mif, eb)))
        return rv;
    lr->plan_budget_ms = 1000;
    if ((rv = get_num(lab, "lab", "plan_budget_ms", 0, 60000, &lr->plan_budget_ms, eb)) != 0)
        return rv;
    lr->heartbeat_ms = (unsigned)hb;
    lr->timeout_ms = to > 0 ? (unsigned)to : (unsigned)fmax(1000, 8 * hb);
    lr->connect_timeout_ms = (unsigned)cto;
    lr->max_in_flight = (int)mif;
    if (lr->timeout_ms <= lr->heartbeat_ms)
        return axl_fail(eb, AXL_ECONFIG, "lab.heartbeat_timeout_ms: must exceed heartbeat_ms");

    axl_pl_opts_default(&lr->pl);
    json_t *pl = json_object_get(lab, "pl");
    if (pl != NULL) {
        if (!json_is_object(pl))
            return axl_fail(eb, AXL_ECONFIG, "lab.pl: must be an object");
        if ((rv = check_keys(pl, "lab.pl",
                             (const char *const[]){"wl_min", "wl_max", "wl_guess", NULL}, eb)) ||
            (rv = get_num(pl, "lab.pl", "wl_min", 100, 3000, &lr->pl.wl_min, eb)) ||
            (rv = get_num(pl, "lab.pl", "wl_max", 100, 3000, &lr->pl.wl_max, eb)) ||
            (rv = get_num(pl, "lab.pl", "wl_guess", 0, 3000, &lr->pl.wl_guess, eb)))
            return rv;
        if (!(lr->pl.wl_max > lr->pl.wl_min))
            return axl_fail(eb, AXL_ECONFIG, "lab.pl.wl_max: must be above wl_min");
    }

    if (workers != NULL) {
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
            if (!json_is_string(v) || json_string_length(v) >= sizeof(lr->links[role].addr) ||
                (strncmp(json_string_value(v), "ipc://", 6) != 0 &&
                 strncmp(json_string_value(v), "tcp://", 6) != 0))
                return axl_fail(eb, AXL_ECONFIG,
                                "lab.workers.%s: must be an ipc:// or tcp:// address", key);
            snprintf(lr->links[role].addr, sizeof(lr->links[role].addr), "%s",
                     json_string_value(v));
        }
        for (int r = 0; r < NROLES; r++)
            if (lr->links[r].needed && lr->links[r].addr[0] == '\0')
                return axl_fail(eb, AXL_ECONFIG,
                                "lab.workers.%s: required (the recipe has %s "
                                "tasks)",
                                axl_worker_role_name((axl_worker_role)r),
                                axl_worker_role_name((axl_worker_role)r));
    }
    return 0;
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
    for (int i = 0; i < NROLES; i++) {
        lr->links[i].lr = lr;
        lr->links[i].role = (axl_worker_role)i;
    }
    if ((rv = parse_lab(lr, eb)) != 0 || (rv = axl_tl_new(&lr->line, &lr->tl, eb)) != 0) {
        free(lr->tpl);
        free(lr);
        return rv == AXL_ECONFIG ? rv : AXL_ECONFIG;
    }
    const char *store = r->store_dir != NULL ? r->store_dir : ".";
    snprintf(lr->data_dir, sizeof(lr->data_dir), "%s/data", store);
    char labdir[600];
    snprintf(labdir, sizeof(labdir), "%s/lab", store);
    if (lr->sim.on) {
        if (mkdir(labdir, 0755) != 0 && errno != EEXIST) {
            rv = axl_fail(eb, AXL_EIO, "%s: %s", labdir, strerror(errno));
            axl_tl_free(lr->tl);
            free(lr->tpl);
            free(lr);
            return rv;
        }
        for (int i = 0; i < NROLES; i++) {
            role_link *rl = &lr->links[i];
            int n = snprintf(rl->addr, sizeof(rl->addr), "ipc://%s/%s.ipc", labdir,
                             axl_worker_role_name(rl->role));
            /* sun_path holds 107 bytes; "ipc://" is not part of it. */
            if (n < 0 || (size_t)n - 6 > 107) {
                rv = axl_fail(eb, AXL_ETOOBIG,
                              "the store path %s is too long for ipc:// "
                              "sockets of the simulated line",
                              store);
                axl_tl_free(lr->tl);
                free(lr->tpl);
                free(lr);
                return rv;
            }
        }
    }
    lr->wall0 = wall_now();
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
        if (lr->sim.on && (rv = sim_start(lr, rl, labdir, eb)) != 0)
            break;
        cbs.data = rl;
        axl_link_opts lo = {rl->addr, rl->role, lr->timeout_ms, lr->connect_timeout_ms};
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
             lr->sim.on ? "simulated" : "attached", lr->speed, lr->max_in_flight, lr->timeout_ms);
    return 0;
}

static int lab_capacity(axl_runner *r)
{
    lab_runner *lr = r->impl;
    return lr->max_in_flight > lr->n_samples ? lr->max_in_flight - lr->n_samples : 0;
}

static bool restored_holds(const lab_runner *lr, uint32_t trial)
{
    for (size_t i = 0; i < lr->n_restored; i++)
        if (lr->restored[i] == trial)
            return true;
    return false;
}

/* ---- batch placement ------------------------------------------------------------------- */

/*
 * Samples deployed in the same loop turn (a Sobol batch of the seed campaign, 36 samples
 * of a throughput run) are placed together, in an order chosen for the line: on the seed
 * recipe the characterization line is the bottleneck, and placed in arrival order the
 * samples with long anneals hold it up (36 Halton-spread samples: 0.85 of the makespan
 * bound). The order is built greedily (next: the sample whose characterization would end
 * first), then improved by adjacent swaps and by moving single samples, until no move
 * helps or the budget (lab.plan_budget_ms) is spent; every candidate order is scored by
 * placing it on a timeline and removing it again (tens of microseconds a sample).
 *
 * The search runs on libuv's thread pool on its own scratch timeline (copies of the
 * samples in flight and of the batch's chains), so the loop thread never waits for it;
 * the batch is placed on the real timeline, in the chosen order, when it returns.
 */
typedef struct batch_score {
    double last, sum; /* the batch's last task end, and the sum of its samples' ends */
} batch_score;

typedef struct plan_work {
    uv_work_t req;
    struct lab_runner *lr;
    axl_timeline *tl; /* scratch: owned by the work */
    int n;
    uint32_t *ids;     /* n trial ids */
    axl_chain *chains; /* n copies */
    uint32_t *chars;   /* index of each chain's characterization */
    double release;
    double budget_s;
    int *ord; /* the result: order of the batch */
    int evals;
    double ms;
    batch_score base, best;
} plan_work;

static bool better(batch_score a, batch_score b)
{
    return a.last < b.last - 1e-6 || (fabs(a.last - b.last) <= 1e-6 && a.sum < b.sum - 1e-6);
}

/* Places the batch in order ord at the release; scores it; removes it again. */
static batch_score try_order(plan_work *w, const int *ord)
{
    batch_score sc = {0, 0};
    axl_tl_slot sl[AXL_CHAIN_MAX];
    int placed = 0;
    for (; placed < w->n; placed++) {
        int k = ord[placed];
        if (axl_tl_place(w->tl, w->ids[k], &w->chains[k], w->release, sl, NULL) != 0) {
            sc.last = INFINITY;
            break;
        }
        double end = sl[w->chains[k].n - 1].end;
        sc.last = fmax(sc.last, end);
        sc.sum += end;
    }
    for (int i = 0; i < placed; i++)
        axl_tl_remove(w->tl, w->ids[ord[i]]);
    w->evals++;
    return sc;
}

static void plan_run(uv_work_t *req)
{
    plan_work *w = req->data;
    int n = w->n;
    double t0 = wall_now();
    bool *used = calloc((size_t)n, sizeof(bool));
    int *t = malloc((size_t)n * sizeof(int)), *arrival = malloc((size_t)n * sizeof(int));
    axl_tl_slot sl[AXL_CHAIN_MAX];
    if (used == NULL || t == NULL || arrival == NULL) {
        for (int i = 0; i < n; i++)
            w->ord[i] = i;
        goto out;
    }
    /* Greedy: next, the sample whose characterization would end first. */
    int step = 0;
    for (; step < n; step++) {
        int best = -1;
        double best_end = INFINITY;
        for (int c = 0; c < n; c++) {
            if (used[c] || axl_tl_place(w->tl, w->ids[c], &w->chains[c], w->release, sl, NULL) != 0)
                continue;
            double e = sl[w->chars[c]].end;
            axl_tl_remove(w->tl, w->ids[c]);
            if (e < best_end) {
                best = c;
                best_end = e;
            }
        }
        if (best < 0)
            break;
        used[best] = true;
        w->ord[step] = best;
        axl_tl_place(w->tl, w->ids[best], &w->chains[best], w->release, NULL, NULL);
    }
    for (int i = 0; i < step; i++)
        axl_tl_remove(w->tl, w->ids[w->ord[i]]);
    for (int c = 0; c < n && step < n; c++)
        if (!used[c])
            w->ord[step++] = c; /* what does not place keeps its arrival rank */
    for (int i = 0; i < n; i++)
        arrival[i] = i;
    w->base = try_order(w, arrival);
    w->best = try_order(w, w->ord);
    if (better(w->base, w->best)) {
        memcpy(w->ord, arrival, (size_t)n * sizeof(int));
        w->best = w->base;
    }
    /* Adjacent swaps, then single moves, while they help and the budget lasts. */
    for (int kind = 0; kind < 2; kind++) {
        bool improved = true;
        while (improved && wall_now() - t0 < w->budget_s) {
            improved = false;
            for (int i = 0; i < n && wall_now() - t0 < w->budget_s; i++) {
                int j0 = kind == 0 ? i + 1 : 0, j1 = kind == 0 ? i + 2 : n;
                for (int j = j0; j < j1 && j < n; j++) {
                    if (i == j)
                        continue;
                    memcpy(t, w->ord, (size_t)n * sizeof(int));
                    int x = t[i];
                    if (kind == 0) {
                        t[i] = t[j];
                        t[j] = x;
                    } else if (i < j) {
                        memmove(&t[i], &t[i + 1], (size_t)(j - i) * sizeof(int));
                        t[j] = x;
                    } else {
                        memmove(&t[j + 1], &t[j], (size_t)(i - j) * sizeof(int));
                        t[j] = x;
                    }
                    batch_score sc = try_order(w, t);
                    if (better(sc, w->best)) {
                        w->best = sc;
                        memcpy(w->ord, t, (size_t)n * sizeof(int));
                        improved = true;
                    }
                }
            }
        }
    }
out:
    free(used);
    free(t);
    free(arrival);
    w->ms = (wall_now() - t0) * 1e3;
}

static void plan_free(plan_work *w)
{
    axl_tl_free(w->tl);
    free(w->ids);
    free(w->chains);
    free(w->chars);
    free(w->ord);
    free(w);
}

static void place_cb(uv_timer_t *h);

/* Places the batch's samples (those still waiting) on the real timeline in w's order. */
static void place_in_order(lab_runner *lr, const uint32_t *ids, const int *ord, int n)
{
    double release = line_now(lr);
    for (int i = 0; i < n; i++) {
        sample *s = find_sample(lr, ids[ord[i]]);
        axl_errbuf why = {{0}};
        if (s == NULL || !s->unplaced)
            continue; /* canceled meanwhile */
        s->unplaced = false;
        if (axl_tl_place(lr->tl, s->trial, &s->chain, release, s->plan, &why) != 0) {
            AXL_WARN(SRC, "trial %u not placed: %s", s->trial, why.msg);
            s->final_reported = true;
            queue_report(lr, s->trial, AXL_TRIAL_FAILED, why.msg);
            sample_remove(lr, s, true);
            continue;
        }
        s->placed = true;
        AXL_INFO(SRC, "trial %u -> %s in tray slot %s, %u tasks planned %.0f-%.0f s (line time)",
                 s->trial, s->name, s->res.slot_name, s->chain.n, s->plan[0].start,
                 s->plan[s->chain.n - 1].end);
        dispatch(lr, s);
    }
    arm_notify(lr);
}

static void plan_done(uv_work_t *req, int status)
{
    plan_work *w = req->data;
    lab_runner *lr = w->lr;
    lr->planning = false;
    lr->pending--;
    if (lr->closing || status != 0) {
        plan_free(w);
        finish_if_closed(lr);
        return;
    }
    AXL_INFO(SRC,
             "a batch of %d samples placed in the order that ends it at %.0f s (arrival "
             "order: %.0f s); %d orders tried in %.0f ms",
             w->n, w->best.last - w->release, w->base.last - w->release, w->evals, w->ms);
    place_in_order(lr, w->ids, w->ord, w->n);
    plan_free(w);
    uv_timer_start(&lr->place, place_cb, 0, 0); /* samples deployed meanwhile */
}

static int cmp_trial(const void *a, const void *b)
{
    const sample *x = *(sample *const *)a, *y = *(sample *const *)b;
    return (x->trial > y->trial) - (x->trial < y->trial);
}

/* A scratch copy of the real timeline (the samples in flight, at their planned times). */
static axl_timeline *scratch_timeline(lab_runner *lr)
{
    axl_timeline *tl;
    if (axl_tl_new(&lr->line, &tl, NULL) != 0)
        return NULL;
    for (size_t i = 0; i < axl_tl_count(lr->tl); i++) {
        uint64_t id = axl_tl_id(lr->tl, i);
        const axl_chain *c;
        const axl_tl_slot *sl;
        double start[AXL_CHAIN_MAX];
        if (axl_tl_get(lr->tl, id, &c, &sl) != 0)
            continue;
        for (uint32_t k = 0; k < c->n; k++)
            start[k] = sl[k].start;
        if (axl_tl_insert(tl, id, c, start, NULL, NULL) != 0) {
            axl_tl_free(tl);
            return NULL;
        }
    }
    return tl;
}

static void place_cb(uv_timer_t *h)
{
    lab_runner *lr = h->data;
    sample *b[AXL_WIRE_MAX_IDS];
    uint32_t ids[AXL_WIRE_MAX_IDS];
    int ord[AXL_WIRE_MAX_IDS], n = 0;
    if (lr->closing || lr->planning)
        return; /* a search is running: its completion comes back here */
    for (sample *s = lr->samples; s != NULL && n < AXL_WIRE_MAX_IDS; s = s->next)
        if (s->unplaced)
            b[n++] = s;
    if (n == 0)
        return;
    qsort(b, (size_t)n, sizeof(b[0]), cmp_trial);
    for (int i = 0; i < n; i++) {
        ids[i] = b[i]->trial;
        ord[i] = i;
    }
    plan_work *w = n > 1 ? calloc(1, sizeof(*w)) : NULL;
    if (w != NULL) {
        w->lr = lr;
        w->n = n;
        w->ids = malloc((size_t)n * sizeof(uint32_t));
        w->chains = malloc((size_t)n * sizeof(axl_chain));
        w->chars = malloc((size_t)n * sizeof(uint32_t));
        w->ord = malloc((size_t)n * sizeof(int));
        w->tl = scratch_timeline(lr);
        w->release = line_now(lr);
        w->budget_s = lr->plan_budget_ms / 1e3;
        w->req.data = w;
        if (w->ids == NULL || w->chains == NULL || w->chars == NULL || w->ord == NULL ||
            w->tl == NULL) {
            plan_free(w);
            w = NULL;
        }
    }
    if (w == NULL) { /* one sample, or no memory for a search: arrival order */
        place_in_order(lr, ids, ord, n);
        return;
    }
    for (int i = 0; i < n; i++) {
        w->ids[i] = b[i]->trial;
        w->chains[i] = b[i]->chain;
        w->chars[i] = b[i]->char_index < b[i]->chain.n ? b[i]->char_index : b[i]->chain.n - 1;
    }
    if (uv_queue_work(lr->loop, &w->req, plan_run, plan_done) != 0) {
        place_in_order(lr, ids, ord, n);
        plan_free(w);
        return;
    }
    lr->planning = true;
    lr->pending++; /* close waits for the search */
}

static int lab_deploy(axl_runner *r, const axl_runner_job *jobs, int n, axl_errbuf *eb)
{
    lab_runner *lr = r->impl;
    if (lr->closing)
        return axl_fail(eb, AXL_ECLOSED, "lab runner is closing");
    for (int i = 0; i < n; i++) {
        axl_errbuf why = {{0}};
        sample *s = sample_new(jobs[i].trial);
        if (s == NULL)
            return axl_fail(eb, AXL_ENOMEM, "out of memory");
        s->ph = PH_ACTIVE;
        /* Everything that can refuse the sample is checked before anything starts. */
        char label[16];
        snprintf(label, sizeof(label), "%u", s->trial); /* "sample 2 needs a slot" */
        if (sample_build(lr, s, jobs[i].x, &why) != 0 ||
            axl_labware_reserve(&lr->lw, &s->recipe, label, &s->res, &why) != 0) {
            AXL_WARN(SRC, "trial %u not started: %s", s->trial, why.msg);
            queue_report(lr, s->trial, AXL_TRIAL_FAILED, why.msg);
            free(s);
            continue;
        }
        s->has_slot = true;
        s->unplaced = true;
        sample_link(lr, s);
        labware_event(lr);
        queue_report(lr, s->trial, AXL_TRIAL_RUNNING, NULL);
    }
    /* Placed on the next loop iteration, together with every sample deployed now. */
    uv_timer_start(&lr->place, place_cb, 0, 0);
    arm_notify(lr);
    return 0;
}

static int lab_cancel(axl_runner *r, uint32_t trial, const char *reason)
{
    lab_runner *lr = r->impl;
    sample *s = find_sample(lr, trial);
    if (s == NULL)
        return AXL_ENOENT;
    bool started = s->cur > 0 || s->cur_started;
    if (s->cur < s->chain.n && s->cur_sent) {
        char id[AXL_WIRE_MAX_ID + 1];
        task_id(lr, trial, s->cur, id, sizeof(id));
        axl_wire_msg m = {.type = AXL_WIRE_CANCEL};
        m.cancel.id = axl_str_c(id);
        m.cancel.reason = axl_str_c(reason != NULL ? reason : "");
        axl_link_send(lr->links[role_of(s, s->cur)].link, &m, NULL);
    }
    s->final_reported = true; /* the engine decided; no report follows */
    sample_remove(lr, s, !started);
    return 0;
}

static int lab_reconcile(axl_runner *r, const axl_runner_job *jobs, int n)
{
    lab_runner *lr = r->impl;
    for (int i = 0; i < n; i++) {
        axl_errbuf why = {{0}};
        sample *s = sample_new(jobs[i].trial);
        if (s == NULL)
            return AXL_ENOMEM;
        s->ph = PH_RECONCILE;
        if (sample_build(lr, s, jobs[i].x, &why) != 0) {
            queue_report(lr, s->trial, AXL_TRIAL_FAILED, why.msg);
            free(s);
            continue;
        }
        /* Its consumption is in the restored record unless that was not committed. */
        if (!restored_holds(lr, s->trial)) {
            char label[16];
            snprintf(label, sizeof(label), "%u", s->trial);
            if (axl_labware_reserve(&lr->lw, &s->recipe, label, &s->res, &why) != 0) {
                queue_report(lr, s->trial, AXL_TRIAL_FAILED, why.msg);
                free(s);
                continue;
            }
            s->has_slot = true;
        }
        sample_link(lr, s);
    }
    labware_event(lr);
    AXL_INFO(SRC, "reconciling %d trials with the workers' task tables", n);
    try_resolve(lr); /* reports are queued, never made from here */
    arm_notify(lr);
    return 0;
}

static int lab_restore(axl_runner *r, axl_rec_kind rec, const void *body, size_t len)
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
    axl_msg_free(&m);
    if (rv != 0) {
        AXL_ERROR(SRC, "the stored labware state does not read: %s", eb.msg);
        return rv;
    }
    lr->lw = restored;
    AXL_INFO(SRC, "labware restored: %u tips and %u tray slots left",
             axl_labware_tips_left(&lr->lw), axl_labware_slots_free(&lr->lw));
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
    for (int i = 0; i < NROLES; i++) {
        sim_proc *p = lr->links[i].proc;
        if (p == NULL)
            continue;
        p->closing = true;
        unlink(p->pidfile);
        if (p->pid > 0) {
            /* SIGTERM: the worker closes its socket and journal. Its exit closes the
             * timer (proc_gone); a worker that does not go gets SIGKILL in 2 s. */
            sim_kill(p, SIGTERM);
            uv_timer_start(&p->timer, proc_timer_cb, 2000, 0);
        } else {
            uv_timer_stop(&p->timer);
            uv_close((uv_handle_t *)&p->timer, proc_one_closed);
        }
    }
    if (line_gone(lr))
        close_links(lr); /* attached workers, or no process left: close now */
    while (lr->samples != NULL) {
        sample *s = lr->samples;
        lr->samples = s->next;
        free(s);
    }
    lr->n_samples = 0;
    axl_tl_free(lr->tl);
    lr->tl = NULL;
    free(lr->tpl);
    lr->tpl = NULL;
    free(lr->restored);
    lr->restored = NULL;
}

const axl_runner_ops axl_runner_lab_ops = {
    .name = "lab",
    .init = lab_init,
    .capacity = lab_capacity,
    .deploy = lab_deploy,
    .cancel = lab_cancel,
    .reconcile = lab_reconcile,
    .restore = lab_restore,
    .close = lab_close,
};
