/*
 * worker.c - one lab worker process (axl_worker.h): PAIR1 listener, task table with
 * idempotent dispatch, journal, heartbeats, failure injection, a device driver.
 *
 * Threads: nng delivers on its threads, the bridge (nng_bridge.h) hands everything to
 * this loop; every field below is touched by the loop thread only.
 */
#include "hw/worker/axl_net.h"
#include "hw/worker/axl_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "hw/worker/axl_devcfg.h"
#include "hw/worker/nng_bridge.h"
#include "hw/worker/worker_internal.h"
#include "proto/axl_log.h"
#include "proto/axl_util.h"

#define SRC "Worker"

void axl_worker_config_default(axl_worker_config *c)
{
    memset(c, 0, sizeof(*c));
    c->role = AXL_ROLE_SPINCOATER;
    c->speed = 1;
    c->crash_after = -1;
    c->hang_after = -1;
    c->heartbeat_ms = 250;
}

uint32_t axl_worker_default_capacity(axl_worker_role role)
{
    switch (role) {
    case AXL_ROLE_HOTPLATE:
        return 90; /* 3 plates of 30 slots */
    case AXL_ROLE_STORAGE:
        return 45; /* one tray */
    default:
        return 1;
    }
}

/* ---- sending --------------------------------------------------------------------------- */

static void send_msg(worker *w, const axl_wire_msg *m)
{
    msgpack_sbuffer sb;
    axl_errbuf eb = {{0}};
    if (!w->connected)
        return; /* the engine reconciles by `status` when it is back */
    msgpack_sbuffer_init(&sb);
    int rv = axl_wire_encode(m, &sb, &eb);
    if (rv == 0)
        rv = axl_bridge_send(w->bridge, sb.data, sb.size);
    if (rv != 0)
        AXL_WARN(SRC, "%s: %s not sent: %s", w->id, axl_wire_type_name(m->type),
                 eb.msg[0] ? eb.msg : axl_strerror(rv));
    msgpack_sbuffer_destroy(&sb);
}

static void send_error(worker *w, int code, const char *msg)
{
    msgpack_sbuffer sb;
    if (!w->connected)
        return;
    msgpack_sbuffer_init(&sb);
    if (axl_wire_encode_error(code, msg, &sb, NULL) == 0)
        axl_bridge_send(w->bridge, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void send_ack(worker *w, const char *id, size_t id_len, axl_task_state st)
{
    axl_wire_msg m = {.type = AXL_WIRE_ACK};
    m.ack.id = (axl_str){id, id_len};
    m.ack.state = st;
    send_msg(w, &m);
}

/* The end of a task, again or for the first time: finished with its result, or failed. */
static void send_outcome(worker *w, const wtask *t)
{
    axl_wire_msg m = {0};
    if (t->state == AXL_TASK_FINISHED) {
        m.type = AXL_WIRE_FINISHED;
        m.finished.id = axl_str_c(t->id);
        m.finished.time = axl_now();
        m.finished.result = (axl_raw){t->result, t->result_len};
    } else if (t->state == AXL_TASK_FAILED) {
        m.type = AXL_WIRE_FAILED;
        m.failed.id = axl_str_c(t->id);
        m.failed.time = axl_now();
        m.failed.reason = axl_str_c(t->reason != NULL ? t->reason : "");
        m.failed.retryable = t->retryable;
    } else {
        return;
    }
    send_msg(w, &m);
}

static void send_hello(worker *w)
{
    axl_str ids[AXL_WORKER_MAX_TASKS];
    uint32_t n = 0;
    for (size_t i = 0; i < w->ntasks; i++) {
        const wtask *t = w->tasks[i];
        if (t->state == AXL_TASK_ACCEPTED || t->state == AXL_TASK_RUNNING)
            ids[n++] = axl_str_c(t->id);
    }
    axl_wire_msg m = {.type = AXL_WIRE_HELLO};
    m.hello.worker = axl_str_c(w->id);
    m.hello.role = w->cfg.role;
    m.hello.capacity = w->capacity;
    m.hello.time = axl_now();
    m.hello.n_inflight = n;
    m.hello.inflight = ids;
    send_msg(w, &m);
}

static uint32_t inflight_count(const worker *w)
{
    uint32_t n = 0;
    for (size_t i = 0; i < w->ntasks; i++)
        n += w->tasks[i]->state == AXL_TASK_ACCEPTED || w->tasks[i]->state == AXL_TASK_RUNNING;
    return n;
}

static void heartbeat_cb(uv_timer_t *h)
{
    worker *w = h->data;
    axl_wire_msg m = {.type = AXL_WIRE_HEARTBEAT};
    m.heartbeat.worker = axl_str_c(w->id);
    m.heartbeat.role = w->cfg.role;
    m.heartbeat.seq = w->hb_seq++;
    m.heartbeat.time = axl_now();
    m.heartbeat.inflight = inflight_count(w);
    send_msg(w, &m);
}

/* ---- the task table -------------------------------------------------------------------- */

wtask *axl_wk_find(worker *w, const char *id, size_t len)
{
    for (size_t i = 0; i < w->ntasks; i++)
        if (strlen(w->tasks[i]->id) == len && memcmp(w->tasks[i]->id, id, len) == 0)
            return w->tasks[i];
    return NULL;
}

static void timer_freed(uv_handle_t *h)
{
    free(h);
}

static void task_free(wtask *t)
{
    if (t->timer != NULL) {
        uv_timer_stop(t->timer);
        uv_close((uv_handle_t *)t->timer, timer_freed);
    }
    free(t->params);
    free(t->result);
    free(t->reason);
    free(t);
}

/*
 * A new table entry (copies of the strings). When the table is full the oldest finished
 * or failed task is forgotten; NULL when every entry is still in flight or on ENOMEM.
 */
wtask *axl_wk_task_new(worker *w, const char *id, size_t id_len)
{
    if (w->ntasks == AXL_WORKER_MAX_TASKS) {
        size_t victim = SIZE_MAX;
        for (size_t i = 0; i < w->ntasks; i++) {
            const wtask *t = w->tasks[i];
            if ((t->state == AXL_TASK_FINISHED || t->state == AXL_TASK_FAILED) &&
                (victim == SIZE_MAX || t->seq < w->tasks[victim]->seq))
                victim = i;
        }
        if (victim == SIZE_MAX)
            return NULL;
        task_free(w->tasks[victim]);
        w->tasks[victim] = w->tasks[--w->ntasks];
    }
    wtask *t = calloc(1, sizeof(*t));
    if (t == NULL || id_len > AXL_WIRE_MAX_ID) {
        free(t);
        return NULL;
    }
    memcpy(t->id, id, id_len);
    t->w = w;
    t->seq = w->next_seq++;
    t->state = AXL_TASK_ACCEPTED;
    w->tasks[w->ntasks++] = t;
    return t;
}

void axl_wk_set_reason(wtask *t, const char *reason, bool retryable)
{
    free(t->reason);
    size_t n = strnlen(reason, AXL_WIRE_MAX_TEXT);
    t->reason = malloc(n + 1);
    if (t->reason != NULL) {
        memcpy(t->reason, reason, n);
        t->reason[n] = '\0';
    }
    t->retryable = retryable;
}

/* ---- running tasks --------------------------------------------------------------------- */

static void pump(worker *w);

static void hang(worker *w)
{
    AXL_WARN(SRC, "%s: injected hang after %ld tasks: the loop stops here", w->id,
             w->cfg.hang_after);
    /* SIGTERM must still end a hung device process, as it would a real one. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    for (;;)
        pause();
}

static void crash_cb(uv_timer_t *h)
{
    worker *w = h->data;
    AXL_WARN(SRC, "%s: injected crash after %ld tasks: SIGKILL", w->id, w->cfg.crash_after);
    /* As the OOM killer or a kill -9 would: no cleanup, no last message. */
    kill(getpid(), SIGKILL);
    _exit(AXL_WORKER_CRASH_STATUS); /* not reached */
}

static void task_failed(worker *w, wtask *t, const char *reason, bool retryable)
{
    t->state = AXL_TASK_FAILED;
    axl_wk_set_reason(t, reason, retryable);
    axl_wk_journal(w, t);
    send_outcome(w, t);
}

static void start_task(worker *w, wtask *t)
{
    axl_errbuf eb = {{0}};
    w->started_count++;
    t->state = AXL_TASK_RUNNING;
    t->running = true;
    w->running++;
    axl_wk_journal(w, t);
    axl_wire_msg m = {.type = AXL_WIRE_STARTED};
    m.started.id = axl_str_c(t->id);
    m.started.time = axl_now();
    send_msg(w, &m);
    /* A device that hangs mid-task: it said `started` and then nothing more. */
    if (w->cfg.hang_after >= 0 && w->started_count > w->cfg.hang_after)
        hang(w);
    t->drv.data = t;
    int rv = w->driver.ops->start_task(&w->driver, &t->drv, &eb);
    if (rv != 0) {
        t->running = false;
        w->running--;
        task_failed(w, t, eb.msg, false);
        return;
    }
    if (w->cfg.crash_after >= 0 && w->started_count == w->cfg.crash_after + 1) {
        static uv_timer_t crash; /* the process ends with it: never closed */
        double half = axl_sim_task_seconds(&t->drv.spec.ct, w->cfg.speed) * 500;
        uv_timer_init(&w->loop, &crash);
        crash.data = w;
        uv_timer_start(&crash, crash_cb, half > 5 ? (uint64_t)half : 5, 0);
    }
}

/* Tasks start in the order of their start times (then of arrival), never only of when
 * their timers fired: the engine sends a gripper move onto a station ahead, behind the
 * move that clears it (engine/lab/clearing.c, the interlock), and millisecond timer
 * rounding must not let the later one start first. */
static bool starts_before(const wtask *a, const wtask *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Starts ready tasks in start order while places are free. */
static void alone_cb(uv_timer_t *h);
static void stop(worker *w);

static void pump(worker *w)
{
    if (w->alone_due && w->running == 0 && !w->stopping) {
        /* Alone, and the last running task has ended: stop on the next iteration (not
         * from inside the driver's callback that brought us here). */
        uv_timer_start(&w->alone, alone_cb, 0, 0);
        return;
    }
    while (w->running < w->capacity && !w->stopping && !w->alone_due) {
        wtask *next = NULL;
        for (size_t i = 0; i < w->ntasks; i++) {
            wtask *t = w->tasks[i];
            if (t->queued && (next == NULL || starts_before(t, next)))
                next = t;
        }
        if (next == NULL)
            return;
        for (size_t i = 0; i < w->ntasks; i++)
            if (w->tasks[i]->timer != NULL && starts_before(w->tasks[i], next))
                return; /* due first: its timer pumps */
        next->queued = false;
        start_task(w, next);
    }
}

static void make_ready(worker *w, wtask *t)
{
    t->queued = true;
    pump(w);
}

static void start_timer_cb(uv_timer_t *h)
{
    wtask *t = h->data;
    worker *w = t->w;
    uv_close((uv_handle_t *)t->timer, timer_freed);
    t->timer = NULL;
    make_ready(w, t);
}

/* Starts t at its start_at, or now. Decodes its params first: a bad one fails it. */
static void schedule(worker *w, wtask *t)
{
    axl_errbuf eb = {{0}};
    axl_task_kind kind;
    char reason[AXL_WIRE_MAX_TEXT];
    if (axl_task_kind_parse(t->kind, strlen(t->kind), &kind) != 0) {
        snprintf(reason, sizeof(reason), "unknown task kind '%s'", t->kind);
        task_failed(w, t, reason, false);
        return;
    }
    if (!axl_role_runs(w->cfg.role, kind)) {
        snprintf(reason, sizeof(reason), "a %s worker does not run '%s' tasks",
                 axl_worker_role_name(w->cfg.role), t->kind);
        task_failed(w, t, reason, false);
        return;
    }
    if (t->params == NULL ||
        axl_task_spec_decode(kind, t->params, t->params_len, &t->drv.spec, &eb) != 0) {
        snprintf(reason, sizeof(reason), "bad params: %s", t->params ? eb.msg : "none");
        task_failed(w, t, reason, false);
        return;
    }
    t->drv.id = t->id;
    t->drv.experiment = t->experiment;
    t->drv.trial = t->trial;
    t->drv.index = t->index;
    double now = axl_now();
    double wait = t->has_start_at ? t->start_at - now : 0;
    t->due = t->has_start_at ? t->start_at : now; /* a past start_at: at once, in its order */
    if (wait > 0.001) {
        if ((t->timer = malloc(sizeof(uv_timer_t))) == NULL) {
            make_ready(w, t);
            return;
        }
        uv_timer_init(&w->loop, t->timer);
        t->timer->data = t;
        uv_timer_start(t->timer, start_timer_cb, (uint64_t)(wait * 1000.0 + 0.5), 0);
        return;
    }
    make_ready(w, t);
}

/* ---- driver callbacks ---------------------------------------------------------------------- */

static void drv_progress(axl_driver *d, axl_drv_task *dt, double fraction, const char *note)
{
    worker *w = d->data;
    wtask *t = dt->data;
    axl_wire_msg m = {.type = AXL_WIRE_PROGRESS};
    m.progress.id = axl_str_c(t->id);
    m.progress.fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
    m.progress.note = axl_str_c(note);
    send_msg(w, &m);
}

static void drv_finished(axl_driver *d, axl_drv_task *dt, const void *result, size_t len)
{
    worker *w = d->data;
    wtask *t = dt->data;
    t->running = false;
    w->running--;
    if (axl_wire_raw_check(result, len, "finished.result", NULL) != 0 ||
        (t->result = malloc(len)) == NULL) {
        task_failed(w, t, "the driver's result is not a valid raw map", false);
        pump(w);
        return;
    }
    memcpy(t->result, result, len);
    t->result_len = len;
    t->state = AXL_TASK_FINISHED;
    axl_wk_journal(w, t);
    send_outcome(w, t);
    pump(w);
}

static void drv_failed(axl_driver *d, axl_drv_task *dt, const char *reason, bool retryable)
{
    worker *w = d->data;
    wtask *t = dt->data;
    t->running = false;
    w->running--;
    task_failed(w, t, reason, retryable);
    pump(w);
}

/* ---- messages from the engine ---------------------------------------------------------------- */

static void on_task(worker *w, const axl_wire_task *m)
{
    wtask *t = axl_wk_find(w, m->id.ptr, m->id.len);
    if (t != NULL) {
        /* Seen before: never run twice; say where it is, and its outcome again. */
        send_ack(w, m->id.ptr, m->id.len, t->state);
        send_outcome(w, t);
        return;
    }
    if ((t = axl_wk_task_new(w, m->id.ptr, m->id.len)) == NULL) {
        send_error(w, AXL_EBUSY, "task: the worker's task table is full of tasks in flight");
        return;
    }
    memcpy(t->experiment, m->experiment.ptr, m->experiment.len);
    t->trial = m->trial;
    t->index = m->index;
    memcpy(t->kind, m->kind.ptr, m->kind.len);
    t->has_start_at = m->has_start_at;
    t->start_at = m->start_at;
    if (m->params.ptr != NULL && (t->params = malloc(m->params.len)) != NULL) {
        memcpy(t->params, m->params.ptr, m->params.len);
        t->params_len = m->params.len;
    } else if (m->params.ptr == NULL && (t->params = malloc(1)) != NULL) {
        *(unsigned char *)t->params = 0x80; /* {} */
        t->params_len = 1;
    }
    axl_wk_journal(w, t);
    send_ack(w, t->id, strlen(t->id), AXL_TASK_ACCEPTED);
    schedule(w, t);
}

static void on_cancel(worker *w, const axl_wire_cancel *m)
{
    wtask *t = axl_wk_find(w, m->id.ptr, m->id.len);
    if (t == NULL) {
        send_ack(w, m->id.ptr, m->id.len, AXL_TASK_UNKNOWN);
        return;
    }
    if (t->state == AXL_TASK_ACCEPTED || t->state == AXL_TASK_RUNNING) {
        char reason[AXL_WIRE_MAX_TEXT];
        snprintf(reason, sizeof(reason), "canceled: %.*s",
                 (int)(m->reason.len < 900 ? m->reason.len : 900),
                 m->reason.ptr != NULL ? m->reason.ptr : "");
        if (t->timer != NULL) {
            uv_timer_stop(t->timer);
            uv_close((uv_handle_t *)t->timer, timer_freed);
            t->timer = NULL;
        }
        t->queued = false;
        if (t->running) {
            w->driver.ops->cancel(&w->driver, &t->drv);
            t->running = false;
            w->running--;
        }
        t->state = AXL_TASK_FAILED;
        axl_wk_set_reason(t, reason, false);
        axl_wk_journal(w, t);
        pump(w);
    }
    send_ack(w, t->id, strlen(t->id), t->state);
}

static void on_status(worker *w, const axl_wire_status *m)
{
    static axl_wire_task_state out[AXL_WIRE_MAX_IDS];
    uint32_t n = 0;
    if (m->has_ids) {
        for (uint32_t i = 0; i < m->n_ids && n < AXL_WIRE_MAX_IDS; i++) {
            const wtask *t = axl_wk_find(w, m->ids[i].ptr, m->ids[i].len);
            out[n++] = (axl_wire_task_state){m->ids[i], t != NULL ? t->state : AXL_TASK_UNKNOWN};
        }
    } else {
        for (size_t i = 0; i < w->ntasks && n < AXL_WIRE_MAX_IDS; i++)
            out[n++] = (axl_wire_task_state){axl_str_c(w->tasks[i]->id), w->tasks[i]->state};
    }
    axl_wire_msg r = {.type = AXL_WIRE_STATUS_REPLY};
    r.status_reply.n_tasks = n;
    r.status_reply.tasks = out;
    send_msg(w, &r);
}

static void on_message(worker *w, const void *buf, size_t len)
{
    axl_wire_msg m;
    axl_errbuf eb = {{0}};
    int rv = axl_wire_decode(buf, len, &m, &eb);
    if (rv != 0) {
        AXL_WARN(SRC, "%s: refused a message: %s", w->id, eb.msg);
        send_error(w, rv, eb.msg);
        return;
    }
    switch (m.type) {
    case AXL_WIRE_TASK:
        on_task(w, &m.task);
        break;
    case AXL_WIRE_CANCEL:
        on_cancel(w, &m.cancel);
        break;
    case AXL_WIRE_STATUS:
        on_status(w, &m.status);
        break;
    case AXL_WIRE_ERROR:
        AXL_WARN(SRC, "%s: the engine reports %s: %.*s", w->id, axl_err_name(m.error.code),
                 (int)m.error.msg.len, m.error.msg.ptr);
        break; /* never answered */
    default: {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s: a worker does not take this message",
                 axl_wire_type_name(m.type));
        send_error(w, AXL_ENOTSUP, msg);
        break;
    }
    }
    axl_wire_free(&m);
}

/* No engine for exit_when_alone_s: exit now, or once the tasks that run have ended (a
 * started task is never cut: its outcome goes to the journal for the next engine). */
static void alone_cb(uv_timer_t *h)
{
    worker *w = h->data;
    if (!w->alone_due)
        AXL_INFO(SRC, "%s: no engine for %g s; exiting%s", w->id, w->cfg.exit_when_alone_s,
                 w->running > 0 ? " once the running tasks end" : "");
    w->alone_due = true;
    if (w->running == 0)
        stop(w);
}

static void on_bridge(void *data, axl_bridge_event ev, uint32_t pipe, const void *buf, size_t len)
{
    worker *w = data;
    if (w->stopping)
        return;
    switch (ev) {
    case AXL_BRIDGE_CONNECTED:
        w->connected = true;
        w->pipe = pipe;
        w->hb_seq = 0;
        w->alone_due = false;
        uv_timer_stop(&w->alone);
        AXL_INFO(SRC, "%s: engine connected", w->id);
        send_hello(w);
        break;
    case AXL_BRIDGE_DISCONNECTED:
        /* A new engine connection may have come first (nng does not order the two). */
        if (pipe != w->pipe)
            break;
        w->connected = false;
        AXL_INFO(SRC, "%s: engine disconnected", w->id);
        if (w->cfg.exit_when_alone_s > 0)
            uv_timer_start(&w->alone, alone_cb, (uint64_t)(w->cfg.exit_when_alone_s * 1e3), 0);
        break;
    case AXL_BRIDGE_MSG:
        on_message(w, buf, len);
        break;
    }
}

/* ---- life -------------------------------------------------------------------------------------
 */

static void handle_closed(uv_handle_t *h)
{
    worker *w = h->data;
    w->pending_closes--;
}

static void bridge_closed(void *data)
{
    worker *w = data;
    w->pending_closes--;
}

static void driver_closed(axl_driver *d)
{
    worker *w = d->data;
    w->pending_closes--;
}

static void stop(worker *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    for (size_t i = 0; i < w->ntasks; i++) {
        wtask *t = w->tasks[i];
        if (t->timer != NULL) {
            uv_timer_stop(t->timer);
            uv_close((uv_handle_t *)t->timer, timer_freed);
            t->timer = NULL;
        }
    }
    if (w->driver_open) {
        w->driver_open = false;
        w->pending_closes++;
        w->driver.ops->close(&w->driver, driver_closed);
    }
    if (w->bridge != NULL) {
        w->pending_closes++;
        axl_bridge_close(w->bridge, bridge_closed, w);
        w->bridge = NULL;
    }
    uv_handle_t *hs[] = {(uv_handle_t *)&w->heartbeat, (uv_handle_t *)&w->alone,
                         (uv_handle_t *)&w->sigterm, (uv_handle_t *)&w->sigint};
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        w->pending_closes++;
        uv_close(hs[i], handle_closed);
    }
}

static void signal_cb(uv_signal_t *h, int signum)
{
    worker *w = h->data;
    AXL_INFO(SRC, "%s: %s, stopping", w->id, signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop(w);
}

/* The supervisor's record of this process ("<pid> <start time>"), removed when it is ours. */
static void remove_pid_file(const char *path)
{
    FILE *f = path != NULL ? fopen(path, "re") : NULL;
    int pid = 0;
    if (f == NULL)
        return;
    if (fscanf(f, "%d", &pid) == 1 && pid == (int)getpid())
        unlink(path);
    fclose(f);
}

static bool safe_id(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '.' || strlen(s) > 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

int axl_worker_run(const axl_worker_config *cfg, axl_errbuf *eb)
{
    worker *w = calloc(1, sizeof(*w));
    nng_socket sock;
    int rv, nrv;
    if (w == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    w->cfg = *cfg;
    w->journal_fd = -1;
    snprintf(w->id, sizeof(w->id), "%s",
             cfg->id != NULL ? cfg->id : axl_worker_role_name(cfg->role));
    snprintf(w->data_dir, sizeof(w->data_dir), "%s", cfg->data_dir != NULL ? cfg->data_dir : ".");
    w->capacity = cfg->capacity > 0 ? cfg->capacity : axl_worker_default_capacity(cfg->role);
    if ((unsigned)cfg->role >= AXL_ROLE_COUNT || cfg->listen == NULL || !safe_id(w->id) ||
        w->capacity > AXL_WIRE_MAX_CAPACITY || cfg->heartbeat_ms == 0 || !(cfg->speed > 0)) {
        free(w);
        return axl_fail(eb, AXL_EINVAL,
                        "worker: bad configuration (role, listen address, id "
                        "of [A-Za-z0-9._-], capacity 1-1024, heartbeat > 0, "
                        "speed > 0)");
    }
    if ((rv = uv_loop_init(&w->loop)) != 0) {
        free(w);
        return axl_fail(eb, AXL_EIO, "event loop: %s", uv_strerror(rv));
    }
    if ((rv = axl_wk_journal_open(w, eb)) != 0)
        goto fail_loop;

    w->driver.ops = cfg->driver != NULL ? cfg->driver : &axl_driver_sim_ops;
    if (cfg->driver == NULL && cfg->devices != NULL &&
        (axl_devcfg_role_on(cfg->devices, cfg->role) || cfg->role == AXL_ROLE_STORAGE))
        w->driver.ops = &axl_driver_dev_ops;
    w->driver.data = w;
    w->driver.progress = drv_progress;
    w->driver.finished = drv_finished;
    w->driver.failed = drv_failed;
    axl_driver_opts dopts = {cfg->role,      cfg->speed,  cfg->seed,
                             cfg->fail_rate, w->data_dir, cfg->devices};
    if ((rv = w->driver.ops->init(&w->driver, &w->loop, &dopts, eb)) != 0)
        goto fail_loop;
    w->driver_open = true;

    if ((nrv = nng_pair1_open(&sock)) != 0) {
        rv = axl_fail(eb, AXL_EIO, "nng: %s", nng_strerror(nrv));
        goto fail_driver;
    }
    /* Bursts (ack, started, progress) must not block the loop; 2 MiB caps what a peer
     * can make us allocate (proto's own limit, 1 MiB, is checked again on decode). */
    nng_socket_set_int(sock, NNG_OPT_SENDBUF, 1024);
    nng_socket_set_int(sock, NNG_OPT_RECVBUF, 1024);
    nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 2u << 20);
    if ((rv = axl_bridge_open(&w->loop, sock, on_bridge, w, &w->bridge, eb)) != 0)
        goto fail_driver;
    if ((rv = axl_net_listen(sock, cfg->listen, NULL, "worker", eb)) != 0) {
        axl_bridge_close(w->bridge, NULL, NULL);
        w->bridge = NULL;
        goto fail_driver;
    }

    uv_timer_init(&w->loop, &w->heartbeat);
    uv_timer_init(&w->loop, &w->alone);
    uv_signal_init(&w->loop, &w->sigterm);
    uv_signal_init(&w->loop, &w->sigint);
    w->heartbeat.data = w->alone.data = w->sigterm.data = w->sigint.data = w;
    uv_timer_start(&w->heartbeat, heartbeat_cb, cfg->heartbeat_ms, cfg->heartbeat_ms);
    uv_signal_start(&w->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&w->sigint, signal_cb, SIGINT);
    if (cfg->exit_when_alone_s > 0)
        uv_timer_start(&w->alone, alone_cb, (uint64_t)(cfg->exit_when_alone_s * 1e3), 0);
    AXL_INFO(SRC, "%s: %s worker listening on %s (capacity %u, speed %g, driver %s)", w->id,
             axl_worker_role_name(cfg->role), cfg->listen, w->capacity, cfg->speed,
             w->driver.ops->name);

    /* What the journal says: the interrupted fail, the accepted start. */
    for (size_t i = 0; i < w->ntasks; i++) {
        wtask *t = w->tasks[i];
        if (t->state == AXL_TASK_RUNNING)
            task_failed(w, t, "interrupted: the worker stopped while the task ran", false);
        else if (t->state == AXL_TASK_ACCEPTED)
            schedule(w, t);
    }

    uv_run(&w->loop, UV_RUN_DEFAULT);
    rv = 0;
    goto out;

fail_driver:
    w->pending_closes++;
    w->driver.ops->close(&w->driver, driver_closed);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    goto out;
fail_loop:
out:
    for (size_t i = 0; i < w->ntasks; i++)
        task_free(w->tasks[i]);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* The listener unlinks its ipc path when the socket is closed (on another thread). */
    if (!axl_bridge_drain(2.0))
        AXL_WARN(SRC, "%s: the socket did not close within 2 s", w->id);
    if (uv_loop_close(&w->loop) != 0)
        AXL_DEBUG(SRC, "%s: loop closed with handles open", w->id);
    if (w->journal_fd >= 0)
        close(w->journal_fd);
    remove_pid_file(cfg->pid_file);
    free(w);
    return rv;
}
