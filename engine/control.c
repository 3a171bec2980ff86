/*
 * control.c - the control socket of a running campaign (nng REP, ipc://STORE/control.rep)
 * and the change each request makes, the same code for a running campaign and for a
 * stopped store (control_client.c).
 *
 * Threads: a service thread owns the REP socket and blocks in recv; it hands each
 * request to the loop thread with uv_async_send and waits for the reply. The loop
 * thread makes the change (trial_state.c, events into this turn's journal), lets the
 * turn commit it, and only then hands the reply back and acts (tells the runner):
 * persist, then act. One request at a time (REP is serial), so a client's change is
 * committed before the next request is even read.
 *
 * Requests and replies are msgpack maps, documented in proto/README.md §12.
 */
#include "engine/campaign.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "hw/worker/axl_net.h"
#include "hw/worker/nng_bridge.h"
#include "proto/axl_log.h"

#define CONTROL_WAKE_MS 200

#define SRC "Scheduler"
#define AXL_CONTROL_MAX_TEXT 1024 /* reason: text, as in proto/README.md §2 */

struct axl_control {
    axl_campaign *c;
    nng_socket rep;
    pthread_t thread;
    bool thread_started;
    uv_async_t async;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    nng_msg *req;          /* handed to the loop thread */
    msgpack_sbuffer reply; /* handed back to the service thread */
    bool reply_ready, sending, closing;
    /* loop thread only */
    msgpack_sbuffer out;
    axl_control_after after;
    bool awaiting_commit;
};

int axl_control_default_addr(const char *store_dir, char *out, size_t size)
{
    int n = snprintf(out, size, "ipc://%s/control.rep", store_dir);
    if (n < 0 || (size_t)n >= size || (size_t)n - 6 > 107)
        return AXL_ETOOBIG;
    return 0;
}

/* ---- Encoding replies ------------------------------------------------------------- */

int axl_control_error_reply(msgpack_sbuffer *sb, int code, const char *msg)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 4) || axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) ||
        axl_pack_kv_str(&pk, "type", "error") || axl_pack_kv_str(&pk, "code", axl_err_name(code)) ||
        axl_pack_kv_str(&pk, "msg", msg))
        return AXL_ENOMEM;
    return 0;
}

/* {v, type: "ok", op, paused, stopping[, trial, status]} */
static int ok_reply(axl_campaign *c, msgpack_sbuffer *sb, const char *op, const axl_trial *t)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, t != NULL ? 7 : 5) || axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) ||
        axl_pack_kv_str(&pk, "type", "ok") || axl_pack_kv_str(&pk, "op", op) ||
        axl_pack_kv_bool(&pk, "paused", c->paused) ||
        axl_pack_kv_bool(&pk, "stopping", c->stopping || c->stop_when_idle))
        return AXL_ENOMEM;
    if (t != NULL && (axl_pack_kv_uint(&pk, "trial", t->index) ||
                      axl_pack_kv_str(&pk, "status", axl_trial_status_name(t->status))))
        return AXL_ENOMEM;
    return 0;
}

/* ---- Reading requests ------------------------------------------------------------- */

/* Copies a msgpack str into a NUL-terminated string in arena; NULL when full. */
static const char *arena_str(char *arena, size_t *used, size_t cap, const char *s, size_t n)
{
    if (*used + n + 1 > cap)
        return NULL;
    char *d = arena + *used;
    memcpy(d, s, n);
    d[n] = '\0';
    *used += n + 1;
    return d;
}

#define ARENA_BYTES 65536

static int read_params(const msgpack_object *map, const char *where, axl_param_value *pv, size_t *n,
                       char *arena, size_t *used, axl_errbuf *eb)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return axl_fail(eb, AXL_ETYPE, "%s.params: expected a map of parameter values", where);
    if (map->via.map.size > AXL_MODEL_MAX_PARAMS)
        return axl_fail(eb, AXL_ETOOBIG, "%s.params: too many parameters", where);
    *n = 0;
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object *key = &map->via.map.ptr[k].key, *val = &map->via.map.ptr[k].val;
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0 ||
            key->via.str.size > AXL_PROTO_MAX_NAME)
            return axl_fail(eb, AXL_EINVAL, "%s.params: a key is not a parameter name", where);
        const char *name = arena_str(arena, used, ARENA_BYTES, key->via.str.ptr, key->via.str.size);
        axl_value v = {0};
        switch (val->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            v.kind = AXL_VALUE_INT;
            v.i = val->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)val->via.u64;
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            v.kind = AXL_VALUE_INT;
            v.i = val->via.i64;
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            v.kind = AXL_VALUE_NUM;
            v.num = val->via.f64;
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            v.kind = AXL_VALUE_BOOL;
            v.b = val->via.boolean;
            break;
        case MSGPACK_OBJECT_STR:
            v.kind = AXL_VALUE_STR;
            v.str = arena_str(arena, used, ARENA_BYTES, val->via.str.ptr, val->via.str.size);
            if (v.str == NULL)
                return axl_fail(eb, AXL_ETOOBIG, "%s.params: too long", where);
            break;
        default:
            return axl_fail(eb, AXL_ETYPE, "%s.params.%s: expected a number, string or boolean",
                            where, name != NULL ? name : "?");
        }
        if (name == NULL)
            return axl_fail(eb, AXL_ETOOBIG, "%s.params: too long", where);
        pv[(*n)++] = (axl_param_value){name, v};
    }
    return 0;
}

/* result: {metric: mean | [mean, sem] | {mean, sem}}; the objective is required. */
static int read_result(axl_campaign *c, const msgpack_object *map, const char *where,
                       axl_metric_value *mv, uint32_t *n, char *arena, size_t *used, axl_errbuf *eb)
{
    if (map->type != MSGPACK_OBJECT_MAP || map->via.map.size == 0)
        return axl_fail(eb, AXL_ETYPE, "%s.result: expected a map of metric values", where);
    if (map->via.map.size > AXL_PROTO_MAX_METRICS)
        return axl_fail(eb, AXL_ETOOBIG, "%s.result: too many metrics", where);
    bool objective = false;
    *n = 0;
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object *key = &map->via.map.ptr[k].key, *val = &map->via.map.ptr[k].val;
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0 ||
            key->via.str.size > AXL_PROTO_MAX_NAME)
            return axl_fail(eb, AXL_EINVAL, "%s.result: a key is not a metric name", where);
        const char *name = arena_str(arena, used, ARENA_BYTES, key->via.str.ptr, key->via.str.size);
        if (name == NULL)
            return axl_fail(eb, AXL_ETOOBIG, "%s.result: too long", where);
        double mean = NAN, sem = NAN;
        const msgpack_object *m = val, *s = NULL;
        if (val->type == MSGPACK_OBJECT_ARRAY && val->via.array.size == 2) {
            m = &val->via.array.ptr[0];
            s = &val->via.array.ptr[1];
        } else if (val->type == MSGPACK_OBJECT_MAP) {
            m = axl_obj_get(val, "mean");
            s = axl_obj_get(val, "sem");
        }
        if (m == NULL || !axl_obj_as_double(m, &mean) || !isfinite(mean))
            return axl_fail(eb, AXL_ERANGE, "%s.result.%s: the mean must be a finite number", where,
                            name);
        if (s != NULL && s->type != MSGPACK_OBJECT_NIL &&
            (!axl_obj_as_double(s, &sem) || !isfinite(sem) || sem < 0))
            return axl_fail(eb, AXL_ERANGE,
                            "%s.result.%s: the sem must be a finite number >= 0 (or nil)", where,
                            name);
        for (uint32_t q = 0; q < *n; q++)
            if (strcmp(mv[q].name, name) == 0)
                return axl_fail(eb, AXL_EPROTO, "%s.result.%s: given twice", where, name);
        objective = objective || strcmp(name, c->exp->metric) == 0;
        mv[(*n)++] = (axl_metric_value){name, mean, sem};
    }
    if (!objective)
        return axl_fail(eb, AXL_EMISSING, "%s.result: the objective metric '%s' is missing", where,
                        c->exp->metric);
    return 0;
}

static int get_trial(axl_campaign *c, const msgpack_object *root, const char *where,
                     axl_trial **out, axl_errbuf *eb)
{
    uint64_t idx = 0;
    int rv = axl_obj_uint(root, where, "trial", true, 0, UINT32_MAX, &idx, eb);
    if (rv != 0)
        return rv;
    if (idx >= c->n_trials)
        return axl_fail(eb, AXL_ENOENT, "%s.trial: experiment %s has no trial %llu (it has %u)",
                        where, c->exp->name, (unsigned long long)idx, c->n_trials);
    *out = &c->trials[idx];
    return 0;
}

static int get_reason(const msgpack_object *root, const char *where, char *buf, size_t size,
                      const char *dflt, axl_errbuf *eb)
{
    const char *s = NULL;
    size_t n = 0;
    int rv = axl_obj_str(root, where, "reason", false, AXL_CONTROL_MAX_TEXT, &s, &n, eb);
    if (rv != 0)
        return rv;
    if (s == NULL)
        snprintf(buf, size, "%s", dflt);
    else
        snprintf(buf, size, "%.*s", (int)n, s);
    return 0;
}

static int add_event(axl_campaign *c, const char *type, const char *key, bool flag,
                     const char *reason, axl_errbuf *eb)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rv = AXL_ENOMEM;
    if (msgpack_pack_map(&pk, (key != NULL) + (reason != NULL)) == 0 &&
        (key == NULL || axl_pack_kv_bool(&pk, key, flag) == 0) &&
        (reason == NULL || axl_pack_kv_str(&pk, "reason", reason) == 0))
        rv = axl_journal_add(&c->journal, type, c->exp->name, -1, AXL_REC_NONE, sb.data, sb.size,
                             eb);
    msgpack_sbuffer_destroy(&sb);
    return rv;
}

/* ---- The change itself (both paths) ------------------------------------------------ */

static int do_attach(axl_campaign *c, const msgpack_object *root, msgpack_sbuffer *reply,
                     char *arena, size_t *used, axl_errbuf *eb)
{
    const char *W = "trial.attach";
    const msgpack_object *params = NULL, *result = NULL;
    axl_param_value pv[AXL_MODEL_MAX_PARAMS];
    axl_metric_value mv[AXL_PROTO_MAX_METRICS];
    double x[AXL_MODEL_MAX_PARAMS];
    size_t np = 0;
    uint32_t nm = 0;
    uint32_t index;
    int rv;
    if ((rv = axl_obj_get_once(root, W, "params", &params, eb)) != 0 ||
        (rv = axl_obj_get_once(root, W, "result", &result, eb)) != 0)
        return rv;
    if (params == NULL || params->type == MSGPACK_OBJECT_NIL)
        return axl_fail(eb, AXL_EMISSING, "%s.params: required field missing", W);
    if ((rv = read_params(params, W, pv, &np, arena, used, eb)) != 0 ||
        (rv = axl_experiment_point(c->exp, pv, np, "trial.attach.params", x, eb)) != 0)
        return rv;
    if (result != NULL && result->type != MSGPACK_OBJECT_NIL &&
        (rv = read_result(c, result, W, mv, &nm, arena, used, eb)) != 0)
        return rv;
    /* Validated in full: from here on nothing is refused. */
    if ((rv = axl_trial_create(c, x, AXL_STEP_MANUAL, "Manual", &index)) != 0 ||
        (rv = axl_trial_mark_running(c, index, NULL)) != 0 ||
        (nm > 0 && (rv = axl_trial_complete(c, index, mv, nm)) != 0))
        return axl_fail(eb, rv, "trial.attach: %s", axl_strerror(rv));
    AXL_INFO(SRC, "Attached trial %u by hand (%s).", index,
             axl_trial_status_name(c->trials[index].status));
    return ok_reply(c, reply, W, &c->trials[index]);
}

static int do_finish(axl_campaign *c, const char *op, const msgpack_object *root,
                     msgpack_sbuffer *reply, axl_control_after *after, char *arena, size_t *used,
                     axl_errbuf *eb)
{
    axl_trial *t = NULL;
    int rv;
    if ((rv = get_trial(c, root, op, &t, eb)) != 0)
        return rv;
    axl_trial_status was = t->status;
    bool complete = strcmp(op, "trial.complete") == 0;
    axl_trial_status to = complete                        ? AXL_TRIAL_COMPLETED
                          : strcmp(op, "trial.fail") == 0 ? AXL_TRIAL_FAILED
                                                          : AXL_TRIAL_ABANDONED;
    if (axl_trial_status_is_terminal(was))
        return axl_fail(eb, AXL_ESTATE, "%s: trial %u is already %s", op, t->index,
                        axl_trial_status_name(was));
    if (complete && was == AXL_TRIAL_CANDIDATE)
        return axl_fail(eb, AXL_ESTATE,
                        "%s: trial %u is a CANDIDATE that never ran; abandon it instead", op,
                        t->index);
    char reason[AXL_CONTROL_MAX_TEXT + 1] = "";
    axl_metric_value mv[AXL_PROTO_MAX_METRICS];
    uint32_t nm = 0;
    if (complete) {
        const msgpack_object *result = NULL;
        if ((rv = axl_obj_get_once(root, op, "result", &result, eb)) != 0)
            return rv;
        if (result == NULL || result->type == MSGPACK_OBJECT_NIL)
            return axl_fail(eb, AXL_EMISSING, "%s.result: required field missing", op);
        if ((rv = read_result(c, result, op, mv, &nm, arena, used, eb)) != 0)
            return rv;
    } else if ((rv = get_reason(
                    root, op, reason, sizeof(reason),
                    to == AXL_TRIAL_FAILED ? "marked FAILED by hand" : "abandoned by hand", eb)) !=
               0) {
        return rv;
    }
    if (complete) {
        if (was == AXL_TRIAL_STAGED)
            rv = axl_trial_mark_running(c, t->index, NULL);
        if (rv == 0)
            rv = axl_trial_complete(c, t->index, mv, nm);
        snprintf(reason, sizeof(reason), "completed by hand");
    } else {
        rv = axl_trial_fail(c, t->index, to, reason);
    }
    if (rv != 0)
        return axl_fail(eb, rv, "%s: trial %u: %s", op, t->index, axl_strerror(rv));
    axl_sched_disarm_ttl(t);
    /* A trial the runner may hold is cancelled there, after the commit. */
    if (after != NULL && t->deploy_count > 0 &&
        (was == AXL_TRIAL_STAGED || was == AXL_TRIAL_RUNNING)) {
        after->cancel = true;
        after->trial = t->index;
        snprintf(after->reason, sizeof(after->reason), "%.255s", reason);
    }
    AXL_INFO(SRC, "Trial %u %s by hand (was %s).", t->index, axl_trial_status_name(to),
             axl_trial_status_name(was));
    return ok_reply(c, reply, op, t);
}

int axl_control_apply(axl_campaign *c, const void *req, size_t len, msgpack_sbuffer *reply,
                      axl_control_after *after, axl_errbuf *eb)
{
    axl_msg m;
    const char *type = NULL, *exp = NULL;
    size_t type_len = 0, exp_len = 0;
    char op[40];
    int rv;
    if (after != NULL)
        memset(after, 0, sizeof(*after));
    if ((rv = axl_msg_parse(&m, req, len, eb)) != 0)
        return rv;
    char *arena = malloc(ARENA_BYTES);
    size_t used = 0;
    if (arena == NULL) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
        goto out;
    }
    if (m.root.type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "control: expected a map");
        goto out;
    }
    uint64_t v = 0;
    if ((rv = axl_obj_uint(&m.root, "control", "v", true, 0, UINT64_MAX, &v, eb)) != 0)
        goto out;
    if (v != AXL_PROTO_VERSION) {
        rv = axl_fail(eb, AXL_EVERSION, "control.v: version %llu is not %d", (unsigned long long)v,
                      AXL_PROTO_VERSION);
        goto out;
    }
    if ((rv = axl_obj_str(&m.root, "control", "type", true, 32, &type, &type_len, eb)) != 0 ||
        (rv = axl_obj_str(&m.root, "control", "experiment", true, AXL_PROTO_MAX_NAME, &exp,
                          &exp_len, eb)) != 0)
        goto out;
    snprintf(op, sizeof(op), "%.*s", (int)type_len, type);
    if (exp_len != strlen(c->exp->name) || memcmp(exp, c->exp->name, exp_len) != 0) {
        rv = axl_fail(eb, AXL_ENOENT, "%s.experiment: '%.*s' is not the campaign here (%s)", op,
                      (int)exp_len, exp, c->exp->name);
        goto out;
    }
    if (strcmp(op, "trial.attach") == 0) {
        rv = do_attach(c, &m.root, reply, arena, &used, eb);
    } else if (strcmp(op, "trial.complete") == 0 || strcmp(op, "trial.fail") == 0 ||
               strcmp(op, "trial.abandon") == 0) {
        rv = do_finish(c, op, &m.root, reply, after, arena, &used, eb);
    } else if (strcmp(op, "pause") == 0 || strcmp(op, "unpause") == 0) {
        /* Running or stopped, the same event: a stopped store's campaign is resumed in
         * the state the log folds to (axl_control_load_paused). */
        bool pause = op[0] == 'p';
        if (pause != c->paused) {
            if ((rv = add_event(c, pause ? "experiment.paused" : "experiment.unpaused", NULL, false,
                                NULL, eb)) != 0)
                goto out;
            c->paused = pause;
            if (c->offline)
                AXL_INFO(SRC, "%s the stopped campaign: `axle resume %s` %s.",
                         pause ? "Paused" : "Unpaused", c->exp->name,
                         pause ? "starts paused" : "deploys at once");
            else
                AXL_INFO(SRC, "%s by request: %s.", pause ? "Paused" : "Unpaused",
                         pause ? "no new trials are deployed; running trials go on"
                               : "deploying again");
        }
        rv = ok_reply(c, reply, op, NULL);
    } else if (strcmp(op, "stop") == 0) {
        bool wait = false;
        char reason[AXL_CONTROL_MAX_TEXT + 1];
        if ((rv = axl_obj_bool(&m.root, op, "wait", false, &wait, eb)) != 0 ||
            (rv = get_reason(&m.root, op, reason, sizeof(reason), "stopped by request", eb)) != 0)
            goto out;
        if (c->offline) {
            rv = axl_fail(eb, AXL_ESTATE, "stop: campaign %s is not running", c->exp->name);
            goto out;
        }
        if (!c->stopping && !c->stop_when_idle) {
            if ((rv = add_event(c, "experiment.stop_requested", "wait", wait, reason, eb)) != 0)
                goto out;
            snprintf(c->stop_reason, sizeof(c->stop_reason), "%.255s", reason);
            if (wait) {
                c->stop_when_idle = true;
                AXL_INFO(
                    SRC, "Stop requested: waiting for %u running trials to finish.",
                    axl_trials_count(c, AXL_MASK(AXL_TRIAL_STAGED) | AXL_MASK(AXL_TRIAL_RUNNING)));
            } else {
                axl_sched_request_stop(c, AXL_EXIT_STOPPED, reason);
            }
        }
        rv = ok_reply(c, reply, op, NULL);
    } else {
        rv = axl_fail(eb, AXL_ENOTSUP, "control.type: unknown request '%s'", op);
    }
out:
    free(arena);
    axl_msg_free(&m);
    return rv;
}

/* ---- The paused state, folded from the log ------------------------------------------ */

int axl_control_paused_fold(const axl_event *ev, const char *name, size_t name_len)
{
    if (ev->experiment_len != name_len || memcmp(ev->experiment, name, name_len) != 0 ||
        ev->trial >= 0)
        return -1;
#define IS(lit) (ev->type_len == sizeof(lit) - 1 && memcmp(ev->type, lit, sizeof(lit) - 1) == 0)
    if (IS("experiment.paused"))
        return 1;
    if (IS("experiment.unpaused") || IS("experiment.created"))
        return 0;
    if (!IS("experiment.started"))
        return -1;
#undef IS
    /* The state the run started in; an engine older than the key never started paused. */
    axl_msg m;
    bool paused = false;
    if (ev->body != NULL && axl_msg_parse(&m, ev->body, ev->body_len, NULL) == 0) {
        const msgpack_object *p = axl_obj_get(&m.root, "paused");
        paused = p != NULL && p->type == MSGPACK_OBJECT_BOOLEAN && p->via.boolean;
        axl_msg_free(&m);
    }
    return paused;
}

#define FOLD_CHUNK 4096

int axl_control_load_paused(axl_store *s, const char *name, uint64_t last_seq, bool *paused,
                            axl_errbuf *eb)
{
    size_t name_len = strlen(name);
    *paused = false;
    /* Backwards, a chunk at a time (short read snapshots): the newest deciding event
     * wins, and every run's experiment.started decides, so only the last run is read. */
    for (uint64_t hi = last_seq; hi > 0;) {
        uint64_t lo = hi > FOLD_CHUNK ? hi - FOLD_CHUNK + 1 : 1;
        axl_store_iter *it = NULL;
        int rv = axl_store_iter_open(s, lo, hi, &it, eb), found = -1;
        uint64_t seq;
        const void *data;
        size_t len;
        while (rv == 0 && (rv = axl_store_iter_next(it, &seq, &data, &len, eb)) == 0) {
            axl_event ev;
            if ((rv = axl_event_decode(data, len, &ev, eb)) != 0)
                break;
            int f = axl_control_paused_fold(&ev, name, name_len);
            if (f >= 0)
                found = f;
        }
        axl_store_iter_close(it);
        if (rv != AXL_ENOENT)
            return rv;
        if (found >= 0) {
            *paused = found == 1;
            return 0;
        }
        hi = lo - 1;
    }
    return 0;
}

bool axl_control_hold(axl_campaign *c)
{
    if (c->stop_when_idle) {
        if (axl_trials_count(c, AXL_MASK(AXL_TRIAL_STAGED) | AXL_MASK(AXL_TRIAL_RUNNING)) == 0)
            axl_sched_request_stop(c, AXL_EXIT_STOPPED, c->stop_reason);
        return true;
    }
    return c->paused;
}

/* ---- The service: socket thread <-> loop thread ------------------------------------- */

static void hand_over(axl_control *ctl)
{
    pthread_mutex_lock(&ctl->mu);
    msgpack_sbuffer tmp = ctl->reply;
    ctl->reply = ctl->out;
    ctl->out = tmp;
    msgpack_sbuffer_clear(&ctl->out);
    ctl->reply_ready = true;
    pthread_cond_broadcast(&ctl->cv);
    pthread_mutex_unlock(&ctl->mu);
}

static void async_cb(uv_async_t *h)
{
    axl_control *ctl = h->data;
    axl_campaign *c = ctl->c;
    pthread_mutex_lock(&ctl->mu);
    nng_msg *m = ctl->req;
    ctl->req = NULL;
    pthread_mutex_unlock(&ctl->mu);
    if (m == NULL)
        return;
    axl_errbuf eb = {{0}};
    if (c->stop_committed || !c->started) {
        axl_control_error_reply(&ctl->out, AXL_ESTATE, "the campaign is stopping");
        nng_msg_free(m);
        hand_over(ctl);
        return;
    }
    size_t before = axl_journal_pending(&c->journal);
    int rv = axl_control_apply(c, nng_msg_body(m), nng_msg_len(m), &ctl->out, &ctl->after, &eb);
    nng_msg_free(m);
    if (rv != 0) {
        axl_control_error_reply(&ctl->out, rv, eb.msg);
        hand_over(ctl);
        return;
    }
    if (axl_journal_pending(&c->journal) == before) {
        hand_over(ctl); /* nothing changed: nothing to commit */
        return;
    }
    ctl->awaiting_commit = true;
    axl_sched_wake(c);
}

void axl_control_committed(axl_campaign *c, int commit_rv, const char *why)
{
    axl_control *ctl = c->control;
    if (ctl == NULL || !ctl->awaiting_commit)
        return;
    ctl->awaiting_commit = false;
    if (commit_rv != 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "the change could not be committed: %.250s", why);
        axl_control_error_reply(&ctl->out, commit_rv, msg);
    } else if (ctl->after.cancel && c->runner_open) {
        c->runner.ops->cancel(&c->runner, ctl->after.trial, ctl->after.reason);
    }
    ctl->after.cancel = false;
    hand_over(ctl);
}

static void *service_main(void *arg)
{
    axl_control *ctl = arg;
    for (;;) {
        nng_msg *m = NULL;
        int nrv = nng_recvmsg(ctl->rep, &m, 0);
        if (nrv == NNG_ECLOSED)
            break;
        if (nrv != 0) {
            pthread_mutex_lock(&ctl->mu);
            bool closing = ctl->closing;
            pthread_mutex_unlock(&ctl->mu);
            if (closing)
                break;
            continue;
        }
        pthread_mutex_lock(&ctl->mu);
        if (ctl->closing) {
            pthread_mutex_unlock(&ctl->mu);
            nng_msg_free(m);
            break;
        }
        ctl->req = m;
        pthread_mutex_unlock(&ctl->mu);
        uv_async_send(&ctl->async);
        pthread_mutex_lock(&ctl->mu);
        while (!ctl->reply_ready && !ctl->closing)
            pthread_cond_wait(&ctl->cv, &ctl->mu);
        if (!ctl->reply_ready) {
            pthread_mutex_unlock(&ctl->mu);
            break;
        }
        nng_msg *r = NULL;
        if (nng_msg_alloc(&r, 0) == 0 && nng_msg_append(r, ctl->reply.data, ctl->reply.size) != 0) {
            nng_msg_free(r);
            r = NULL;
        }
        ctl->reply_ready = false;
        ctl->sending = true;
        pthread_mutex_unlock(&ctl->mu);
        if (r != NULL && nng_sendmsg(ctl->rep, r, 0) != 0)
            nng_msg_free(r);
        pthread_mutex_lock(&ctl->mu);
        ctl->sending = false;
        pthread_cond_broadcast(&ctl->cv);
        pthread_mutex_unlock(&ctl->mu);
    }
    return NULL;
}

static void async_closed(uv_handle_t *h)
{
    axl_control *ctl = h->data;
    msgpack_sbuffer_destroy(&ctl->reply);
    msgpack_sbuffer_destroy(&ctl->out);
    pthread_mutex_destroy(&ctl->mu);
    pthread_cond_destroy(&ctl->cv);
    free(ctl);
}

int axl_control_open(axl_campaign *c, const char *addr, axl_errbuf *eb)
{
    axl_control *ctl = calloc(1, sizeof(*ctl));
    int nrv, rv;
    if (ctl == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    ctl->c = c;
    msgpack_sbuffer_init(&ctl->reply);
    msgpack_sbuffer_init(&ctl->out);
    pthread_mutex_init(&ctl->mu, NULL);
    pthread_cond_init(&ctl->cv, NULL);
    if ((nrv = nng_rep0_open(&ctl->rep)) != 0) {
        rv = axl_fail(eb, AXL_EIO, "control socket: %s", nng_strerror(nrv));
        goto fail;
    }
    nng_socket_set_size(ctl->rep, NNG_OPT_RECVMAXSZ, AXL_PROTO_MAX_MSG);
    /* The service thread wakes this often to see a close: it never waits on nng_close
     * (libnng 1.5.2 can deadlock there while peers talk; hw/worker/nng_bridge.h). */
    nng_socket_set_ms(ctl->rep, NNG_OPT_RECVTIMEO, CONTROL_WAKE_MS);
    nng_socket_set_ms(ctl->rep, NNG_OPT_SENDTIMEO, 1000);
    /* 0600 socket file whatever the umask; tcp only with TLS (hw/worker/axl_net.h) */
    if ((rv = axl_net_listen(ctl->rep, addr, NULL, "control socket", eb)) != 0) {
        nng_close(ctl->rep);
        goto fail;
    }
    uv_async_init(c->loop, &ctl->async, async_cb);
    ctl->async.data = ctl;
    uv_unref((uv_handle_t *)&ctl->async); /* never keeps the loop alive on its own */
    if (pthread_create(&ctl->thread, NULL, service_main, ctl) != 0) {
        nng_close(ctl->rep);
        uv_close((uv_handle_t *)&ctl->async, async_closed);
        return axl_fail(eb, AXL_EIO, "control socket: cannot start its thread");
    }
    ctl->thread_started = true;
    c->control = ctl;
    return 0;
fail:
    msgpack_sbuffer_destroy(&ctl->reply);
    msgpack_sbuffer_destroy(&ctl->out);
    pthread_mutex_destroy(&ctl->mu);
    pthread_cond_destroy(&ctl->cv);
    free(ctl);
    return rv;
}

void axl_control_close(axl_campaign *c)
{
    axl_control *ctl = c->control;
    if (ctl == NULL)
        return;
    c->control = NULL;
    pthread_mutex_lock(&ctl->mu);
    /* A reply already handed over (the stop's own) goes out before the socket closes. */
    while (ctl->reply_ready || ctl->sending)
        pthread_cond_wait(&ctl->cv, &ctl->mu);
    ctl->closing = true;
    pthread_cond_broadcast(&ctl->cv);
    pthread_mutex_unlock(&ctl->mu);
    pthread_join(ctl->thread, NULL); /* within CONTROL_WAKE_MS: it sees closing */
    axl_bridge_close_socket(ctl->rep);
    if (ctl->req != NULL)
        nng_msg_free(ctl->req);
    uv_close((uv_handle_t *)&ctl->async, async_closed);
}
