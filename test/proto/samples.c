#include "test/proto/samples.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/proto/mpj.h"

/* ---- Raw maps ------------------------------------------------------------------------ */

#define PARAMS_TEXT                                                                                \
    "{rpm:3000, accel:1500, duration_s:30.5, solution:'MAPbI3 in DMF:DMSO (4:1)',"                 \
    " antisolvent:true, steps:[3000, 1500, 30.5, -1],"                                             \
    " drop:{volume_ul:50.0, time_s:12.25, temp:'25 °C'}}"
#define RESULT_TEXT                                                                                \
    "{spectrum:'/data/pl/pvk-screen_12_3.csv', pl_intensity:1234.5, peak_ev:1.61,"                 \
    " fwhm_ev:0.09, counts:[1, 2, 3], ok:true}"
#define BODY1_TEXT "{config:'examples/pvk.json', parameters:4}"
#define BODY2_TEXT                                                                                 \
    "{exit_status:'completed', reason:'total_trials reached', trials:20, completed:18,"            \
    " failed:2}"

static msgpack_sbuffer *params_sb, *result_sb, *body1_sb, *body2_sb, *trial_sb;

void samples_init(void)
{
    params_sb = J(PARAMS_TEXT);
    result_sb = J(RESULT_TEXT);
    body1_sb = J(BODY1_TEXT);
    body2_sb = J(BODY2_TEXT);
    trial_sb = msgpack_sbuffer_new();
    axl_trial_rec t = sample_trial();
    if (axl_trial_rec_encode(&t, trial_sb, NULL) != 0)
        abort();
}

void samples_fini(void)
{
    mpj_free(params_sb);
    mpj_free(result_sb);
    mpj_free(body1_sb);
    mpj_free(body2_sb);
    msgpack_sbuffer_free(trial_sb);
}

/* ---- Wire samples -------------------------------------------------------------------- */

#define ID "pvk-screen/12/3"
static const axl_str inflight[] = {AXL_STR_LIT("pvk-screen/1/0"), AXL_STR_LIT("pvk-screen/2/1")};
static const axl_str status_ids[] = {AXL_STR_LIT(ID), AXL_STR_LIT("pvk-screen/12/4")};
static const axl_wire_task_state reply_tasks[] = {
    {AXL_STR_LIT(ID), AXL_TASK_FINISHED},
    {AXL_STR_LIT("pvk-screen/12/4"), AXL_TASK_UNKNOWN},
};

axl_wire_msg sample_msg(axl_wire_type t)
{
    axl_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = t;
    switch (t) {
    case AXL_WIRE_HELLO:
        m.hello = (axl_wire_hello){
            AXL_STR_LIT("spincoater-1"), AXL_ROLE_SPINCOATER, 1, 1700000000.25, 2, inflight};
        break;
    case AXL_WIRE_TASK:
        m.task = (axl_wire_task){AXL_STR_LIT(ID),
                                 AXL_STR_LIT("pvk-screen"),
                                 12,
                                 3,
                                 AXL_STR_LIT("spincoat"),
                                 true,
                                 1700000100.5,
                                 {params_sb->data, params_sb->size}};
        break;
    case AXL_WIRE_CANCEL:
        m.cancel = (axl_wire_cancel){AXL_STR_LIT(ID), AXL_STR_LIT("trial abandoned")};
        break;
    case AXL_WIRE_ACK:
        m.ack = (axl_wire_ack){AXL_STR_LIT(ID), AXL_TASK_RUNNING};
        break;
    case AXL_WIRE_STARTED:
        m.started = (axl_wire_started){AXL_STR_LIT(ID), 1700000101.0};
        break;
    case AXL_WIRE_PROGRESS:
        m.progress = (axl_wire_progress){AXL_STR_LIT(ID), 0.5, AXL_STR_LIT("step 2 of 4")};
        break;
    case AXL_WIRE_FINISHED:
        m.finished =
            (axl_wire_finished){AXL_STR_LIT(ID), 1700000200.75, {result_sb->data, result_sb->size}};
        break;
    case AXL_WIRE_FAILED:
        m.failed = (axl_wire_failed){AXL_STR_LIT(ID), 1700000150.125,
                                     AXL_STR_LIT("spincoater jammed: rpm 0"), true};
        break;
    case AXL_WIRE_HEARTBEAT:
        m.heartbeat =
            (axl_wire_heartbeat){AXL_STR_LIT("hotplate-1"), AXL_ROLE_HOTPLATE, 42, 1700000050.5, 3};
        break;
    case AXL_WIRE_STATUS:
        m.status = (axl_wire_status){true, 2, status_ids};
        break;
    case AXL_WIRE_STATUS_REPLY:
        m.status_reply = (axl_wire_status_reply){2, reply_tasks};
        break;
    case AXL_WIRE_ERROR:
        m.error = (axl_wire_error){AXL_EMISSING, AXL_STR_LIT("AXL_EMISSING"),
                                   AXL_STR_LIT("task.params: required field missing")};
        break;
    default:
        abort();
    }
    return m;
}

/* ---- Equality ------------------------------------------------------------------------ */

static bool diff(char *why, size_t cap, const char *field)
{
    if (why != NULL)
        snprintf(why, cap, "%s", field);
    return false;
}

static bool str_eq(axl_str a, axl_str b)
{
    if ((a.ptr == NULL) != (b.ptr == NULL))
        return false;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* msgpack_object_equal, except that NaN equals NaN (a value carried through unchanged). */
static bool obj_eq(const msgpack_object *x, const msgpack_object *y)
{
    if (x->type != y->type)
        return false;
    switch (x->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return x->via.f64 == y->via.f64 || (isnan(x->via.f64) && isnan(y->via.f64));
    case MSGPACK_OBJECT_ARRAY:
        if (x->via.array.size != y->via.array.size)
            return false;
        for (uint32_t i = 0; i < x->via.array.size; i++)
            if (!obj_eq(&x->via.array.ptr[i], &y->via.array.ptr[i]))
                return false;
        return true;
    case MSGPACK_OBJECT_MAP:
        if (x->via.map.size != y->via.map.size)
            return false;
        for (uint32_t i = 0; i < x->via.map.size; i++)
            if (!obj_eq(&x->via.map.ptr[i].key, &y->via.map.ptr[i].key) ||
                !obj_eq(&x->via.map.ptr[i].val, &y->via.map.ptr[i].val))
                return false;
        return true;
    default:
        return msgpack_object_equal(*x, *y);
    }
}

bool raw_eq(axl_raw a, axl_raw b)
{
    static const char empty_map = (char)0x80;
    if (a.ptr == NULL)
        a = (axl_raw){&empty_map, 1};
    if (b.ptr == NULL)
        b = (axl_raw){&empty_map, 1};
    axl_msg x, y;
    if (axl_msg_parse(&x, a.ptr, a.len, NULL) != 0)
        return false;
    if (axl_msg_parse(&y, b.ptr, b.len, NULL) != 0) {
        axl_msg_free(&x);
        return false;
    }
    bool eq = obj_eq(&x.root, &y.root);
    axl_msg_free(&x);
    axl_msg_free(&y);
    return eq;
}

static bool ids_eq(uint32_t na, const axl_str *a, uint32_t nb, const axl_str *b)
{
    if (na != nb)
        return false;
    for (uint32_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

#define CHECK(cond, field)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return diff(why, cap, field);                                                          \
    } while (0)

bool wire_msg_eq(const axl_wire_msg *a, const axl_wire_msg *b, char *why, size_t cap)
{
    CHECK(a->type == b->type, "type");
    switch (a->type) {
    case AXL_WIRE_HELLO:
        CHECK(str_eq(a->hello.worker, b->hello.worker), "hello.worker");
        CHECK(a->hello.role == b->hello.role, "hello.role");
        CHECK(a->hello.capacity == b->hello.capacity, "hello.capacity");
        CHECK(a->hello.time == b->hello.time, "hello.time");
        CHECK(
            ids_eq(a->hello.n_inflight, a->hello.inflight, b->hello.n_inflight, b->hello.inflight),
            "hello.inflight");
        return true;
    case AXL_WIRE_TASK:
        CHECK(str_eq(a->task.id, b->task.id), "task.id");
        CHECK(str_eq(a->task.experiment, b->task.experiment), "task.experiment");
        CHECK(a->task.trial == b->task.trial, "task.trial");
        CHECK(a->task.index == b->task.index, "task.index");
        CHECK(str_eq(a->task.kind, b->task.kind), "task.kind");
        CHECK(a->task.has_start_at == b->task.has_start_at, "task.start_at (presence)");
        CHECK(!a->task.has_start_at || a->task.start_at == b->task.start_at, "task.start_at");
        CHECK(raw_eq(a->task.params, b->task.params), "task.params");
        return true;
    case AXL_WIRE_CANCEL:
        CHECK(str_eq(a->cancel.id, b->cancel.id), "cancel.id");
        CHECK(str_eq(a->cancel.reason, b->cancel.reason), "cancel.reason");
        return true;
    case AXL_WIRE_ACK:
        CHECK(str_eq(a->ack.id, b->ack.id), "ack.id");
        CHECK(a->ack.state == b->ack.state, "ack.state");
        return true;
    case AXL_WIRE_STARTED:
        CHECK(str_eq(a->started.id, b->started.id), "started.id");
        CHECK(a->started.time == b->started.time, "started.time");
        return true;
    case AXL_WIRE_PROGRESS:
        CHECK(str_eq(a->progress.id, b->progress.id), "progress.id");
        CHECK(a->progress.fraction == b->progress.fraction, "progress.fraction");
        CHECK(str_eq(a->progress.note, b->progress.note), "progress.note");
        return true;
    case AXL_WIRE_FINISHED:
        CHECK(str_eq(a->finished.id, b->finished.id), "finished.id");
        CHECK(a->finished.time == b->finished.time, "finished.time");
        CHECK(raw_eq(a->finished.result, b->finished.result), "finished.result");
        return true;
    case AXL_WIRE_FAILED:
        CHECK(str_eq(a->failed.id, b->failed.id), "failed.id");
        CHECK(a->failed.time == b->failed.time, "failed.time");
        CHECK(str_eq(a->failed.reason, b->failed.reason), "failed.reason");
        CHECK(a->failed.retryable == b->failed.retryable, "failed.retryable");
        return true;
    case AXL_WIRE_HEARTBEAT:
        CHECK(str_eq(a->heartbeat.worker, b->heartbeat.worker), "heartbeat.worker");
        CHECK(a->heartbeat.role == b->heartbeat.role, "heartbeat.role");
        CHECK(a->heartbeat.seq == b->heartbeat.seq, "heartbeat.seq");
        CHECK(a->heartbeat.time == b->heartbeat.time, "heartbeat.time");
        CHECK(a->heartbeat.inflight == b->heartbeat.inflight, "heartbeat.inflight");
        return true;
    case AXL_WIRE_STATUS:
        CHECK(a->status.has_ids == b->status.has_ids, "status.ids (presence)");
        CHECK(ids_eq(a->status.n_ids, a->status.ids, b->status.n_ids, b->status.ids), "status.ids");
        return true;
    case AXL_WIRE_STATUS_REPLY:
        CHECK(a->status_reply.n_tasks == b->status_reply.n_tasks, "status_reply.tasks (count)");
        for (uint32_t i = 0; i < a->status_reply.n_tasks; i++) {
            CHECK(str_eq(a->status_reply.tasks[i].id, b->status_reply.tasks[i].id),
                  "status_reply.tasks[].id");
            CHECK(a->status_reply.tasks[i].state == b->status_reply.tasks[i].state,
                  "status_reply.tasks[].state");
        }
        return true;
    case AXL_WIRE_ERROR:
        CHECK(a->error.code == b->error.code, "error.code");
        CHECK(str_eq(a->error.msg, b->error.msg), "error.msg");
        return true;
    default:
        return diff(why, cap, "type (unknown)");
    }
}

/* ---- Events and the trial record ------------------------------------------------------- */

axl_event sample_event(int i)
{
    axl_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.experiment = "pvk-screen";
    ev.experiment_len = strlen(ev.experiment);
    ev.trial = -1;
    switch (i) {
    case 0:
        ev.seq = 7;
        ev.time = 1700000300.5;
        ev.type = "trial.completed";
        ev.trial = 12;
        ev.rec = AXL_REC_TRIAL;
        ev.body = trial_sb->data;
        ev.body_len = trial_sb->size;
        break;
    case 1:
        ev.seq = 1;
        ev.time = 1700000000.0;
        ev.type = "experiment.started";
        ev.body = body1_sb->data;
        ev.body_len = body1_sb->size;
        break;
    default:
        ev.seq = 99;
        ev.time = 1700009999.75;
        ev.type = "experiment.stopped";
        ev.body = body2_sb->data;
        ev.body_len = body2_sb->size;
        break;
    }
    ev.type_len = strlen(ev.type);
    return ev;
}

bool event_eq(const axl_event *a, const axl_event *b, char *why, size_t cap)
{
    CHECK(a->seq == b->seq, "event.seq");
    CHECK(a->time == b->time, "event.time");
    CHECK(a->type_len == b->type_len && memcmp(a->type, b->type, a->type_len) == 0, "event.type");
    CHECK(a->experiment_len == b->experiment_len &&
              (a->experiment_len == 0 ||
               memcmp(a->experiment, b->experiment, a->experiment_len) == 0),
          "event.experiment");
    CHECK(a->trial == b->trial, "event.trial");
    CHECK(a->rec == b->rec, "event.rec");
    CHECK(raw_eq((axl_raw){a->body, a->body_len}, (axl_raw){b->body, b->body_len}), "event.body");
    return true;
}

static const axl_param_value trial_params[] = {
    {"antisolvent_timing", {.kind = AXL_VALUE_NUM, .num = 5.25}},
    {"spin_rpm", {.kind = AXL_VALUE_INT, .i = 3000}},
    {"solvent", {.kind = AXL_VALUE_STR, .str = "DMF:DMSO"}},
    {"anneal", {.kind = AXL_VALUE_BOOL, .b = true}},
    {"offset", {.kind = AXL_VALUE_INT, .i = -7}},
};
static axl_metric_value trial_metrics[] = {
    {"pl_intensity", 1234.5, 0}, /* sem NaN, set below: not a constant expression */
    {"fwhm_ev", 0.09, 0.005},
};

axl_trial_rec sample_trial(void)
{
    trial_metrics[0].sem = NAN;
    axl_trial_rec t;
    memset(&t, 0, sizeof(t));
    t.experiment = "pvk-screen";
    t.index = 12;
    t.status = AXL_TRIAL_COMPLETED;
    t.gen_method = "GP-LogEI";
    t.step = 1;
    t.created = 1700000000.0;
    t.updated = 1700000300.5;
    t.deployed = 1700000001.0;
    t.deploy_count = 1;
    t.job_id = "lab-12";
    t.reason = NULL;
    t.n_params = sizeof(trial_params) / sizeof(trial_params[0]);
    t.params = (axl_param_value *)trial_params;
    t.n_metrics = sizeof(trial_metrics) / sizeof(trial_metrics[0]);
    t.metrics = trial_metrics;
    return t;
}

static bool cstr_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool trial_eq(const axl_trial_rec *a, const axl_trial_rec *b, char *why, size_t cap)
{
    CHECK(cstr_eq(a->experiment, b->experiment), "trial.experiment");
    CHECK(a->index == b->index, "trial.index");
    CHECK(a->status == b->status, "trial.status");
    CHECK(cstr_eq(a->gen_method ? a->gen_method : "", b->gen_method ? b->gen_method : ""),
          "trial.gen");
    CHECK(a->step == b->step, "trial.step");
    CHECK(a->created == b->created, "trial.created");
    CHECK(a->updated == b->updated, "trial.updated");
    CHECK(a->deployed == b->deployed, "trial.deployed");
    CHECK(a->deploy_count == b->deploy_count, "trial.deploys");
    CHECK(cstr_eq(a->job_id, b->job_id), "trial.job");
    CHECK(cstr_eq(a->reason, b->reason), "trial.reason");
    CHECK(a->n_params == b->n_params, "trial.params (count)");
    for (uint32_t i = 0; i < a->n_params; i++) {
        const axl_value *x = &a->params[i].value, *y = &b->params[i].value;
        CHECK(cstr_eq(a->params[i].name, b->params[i].name), "trial.params[].name");
        CHECK(x->kind == y->kind, "trial.params[].kind");
        CHECK(x->kind != AXL_VALUE_NUM || x->num == y->num, "trial.params[] (num)");
        CHECK(x->kind != AXL_VALUE_INT || x->i == y->i, "trial.params[] (int)");
        CHECK(x->kind != AXL_VALUE_STR || cstr_eq(x->str, y->str), "trial.params[] (str)");
        CHECK(x->kind != AXL_VALUE_BOOL || x->b == y->b, "trial.params[] (bool)");
    }
    CHECK(a->n_metrics == b->n_metrics, "trial.metrics (count)");
    for (uint32_t i = 0; i < a->n_metrics; i++) {
        const axl_metric_value *x = &a->metrics[i], *y = &b->metrics[i];
        CHECK(cstr_eq(x->name, y->name), "trial.metrics[].name");
        CHECK(x->mean == y->mean, "trial.metrics[].mean");
        CHECK((isnan(x->sem) && isnan(y->sem)) || x->sem == y->sem, "trial.metrics[].sem");
    }
    return true;
}

/* ---- Text samples ---------------------------------------------------------------------- */

#define TID "'" ID "'"
static const sample_field f_hello[] = {
    {"worker", "'spincoater-1'", 's', true},
    {"role", "'spincoater'", 's', true},
    {"capacity", "1", 'u', true},
    {"time", "1700000000.25", 'n', true},
    {"inflight", "['pvk-screen/1/0', 'pvk-screen/2/1']", 'a', true},
};
static const sample_field f_task[] = {
    {"id", TID, 's', true},
    {"experiment", "'pvk-screen'", 's', true},
    {"trial", "12", 'u', true},
    {"index", "3", 'u', true},
    {"kind", "'spincoat'", 's', true},
    {"start_at", "1700000100.5", 'n', false},
    {"params", PARAMS_TEXT, 'm', true},
};
static const sample_field f_cancel[] = {
    {"id", TID, 's', true},
    {"reason", "'trial abandoned'", 's', true},
};
static const sample_field f_ack[] = {
    {"id", TID, 's', true},
    {"state", "'running'", 's', true},
};
static const sample_field f_started[] = {
    {"id", TID, 's', true},
    {"time", "1700000101.0", 'n', true},
};
static const sample_field f_progress[] = {
    {"id", TID, 's', true},
    {"fraction", "0.5", 'n', true},
    {"note", "'step 2 of 4'", 's', false},
};
static const sample_field f_finished[] = {
    {"id", TID, 's', true},
    {"time", "1700000200.75", 'n', true},
    {"result", RESULT_TEXT, 'm', true},
};
static const sample_field f_failed[] = {
    {"id", TID, 's', true},
    {"time", "1700000150.125", 'n', true},
    {"reason", "'spincoater jammed: rpm 0'", 's', true},
    {"retryable", "true", 'b', true},
};
static const sample_field f_heartbeat[] = {
    {"worker", "'hotplate-1'", 's', true},
    {"role", "'hotplate'", 's', true},
    {"seq", "42", 'u', true},
    {"time", "1700000050.5", 'n', true},
    {"inflight", "3", 'u', true},
};
static const sample_field f_status[] = {
    {"ids", "[" TID ", 'pvk-screen/12/4']", 'a', false},
};
static const sample_field f_status_reply[] = {
    {"tasks", "[{id:" TID ", state:'finished'}, {id:'pvk-screen/12/4', state:'unknown'}]", 'a',
     true},
};
static const sample_field f_error[] = {
    {"code", "'AXL_EMISSING'", 's', true},
    {"msg", "'task.params: required field missing'", 's', true},
};

#define FIELDS(a) a, sizeof(a) / sizeof(a[0])
const sample_field *sample_fields(axl_wire_type t, size_t *n)
{
    static const struct {
        const sample_field *f;
        size_t n;
    } all[AXL_WIRE_TYPE_COUNT] = {
        {FIELDS(f_hello)},     {FIELDS(f_task)},     {FIELDS(f_cancel)},       {FIELDS(f_ack)},
        {FIELDS(f_started)},   {FIELDS(f_progress)}, {FIELDS(f_finished)},     {FIELDS(f_failed)},
        {FIELDS(f_heartbeat)}, {FIELDS(f_status)},   {FIELDS(f_status_reply)}, {FIELDS(f_error)},
    };
    *n = all[t].n;
    return all[t].f;
}

char *sample_text(axl_wire_type t, const char *key, const char *text)
{
    size_t n, cap = 8192, len = 0;
    const sample_field *f = sample_fields(t, &n);
    char *out = malloc(cap);
    bool found = false;
    len += (size_t)snprintf(out + len, cap - len, "{v:1, type:'%s'", axl_wire_type_name(t));
    for (size_t i = 0; i < n; i++) {
        const char *val = f[i].text;
        if (key != NULL && strcmp(key, f[i].key) == 0) {
            found = true;
            val = text;
        }
        if (val == NULL)
            continue;
        size_t need = strlen(f[i].key) + strlen(val) + 8;
        if (len + need >= cap)
            out = realloc(out, cap = 2 * (cap + need));
        len += (size_t)snprintf(out + len, cap - len, ", '%s':%s", f[i].key, val);
    }
    if (key != NULL && !found && text != NULL) {
        size_t need = strlen(key) + strlen(text) + 8;
        if (len + need >= cap)
            out = realloc(out, cap = 2 * (cap + need));
        len += (size_t)snprintf(out + len, cap - len, ", '%s':%s", key, text);
    }
    snprintf(out + len, cap - len, "}");
    return out;
}
