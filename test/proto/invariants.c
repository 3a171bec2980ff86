#include "test/proto/invariants.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto/axl_proto.h"
#include "proto/axl_wire.h"
#include "test/proto/samples.h"

static char why_buf[512];

static const char *broken(const char *what, const char *field, const axl_errbuf *eb)
{
    snprintf(why_buf, sizeof(why_buf), "%s%s%s%s%s", what, field ? ": " : "", field ? field : "",
             eb ? " -- " : "", eb ? eb->msg : "");
    return why_buf;
}

static bool inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
    const uint8_t *q = p;
    return q != NULL && q >= buf && n <= len && q + n <= buf + len;
}

static bool str_inside(axl_str s, size_t max, const uint8_t *buf, size_t len)
{
    return s.len <= max && inside(s.ptr, s.len, buf, len);
}

/* Borrowed pointers within the input, counts and enums within their limits. */
static const char *wire_shape(const axl_wire_msg *m, const uint8_t *b, size_t n)
{
    switch (m->type) {
    case AXL_WIRE_HELLO:
        if (!str_inside(m->hello.worker, AXL_WIRE_MAX_ID, b, n) ||
            m->hello.role >= AXL_ROLE_COUNT || m->hello.capacity < 1 ||
            m->hello.capacity > AXL_WIRE_MAX_CAPACITY || m->hello.n_inflight > AXL_WIRE_MAX_IDS)
            return "hello";
        for (uint32_t i = 0; i < m->hello.n_inflight; i++)
            if (!str_inside(m->hello.inflight[i], AXL_WIRE_MAX_ID, b, n))
                return "hello.inflight";
        return NULL;
    case AXL_WIRE_TASK:
        if (!str_inside(m->task.id, AXL_WIRE_MAX_ID, b, n) ||
            !str_inside(m->task.experiment, AXL_PROTO_MAX_NAME, b, n) ||
            !str_inside(m->task.kind, AXL_WIRE_MAX_KIND, b, n) ||
            !inside(m->task.params.ptr, m->task.params.len, b, n) ||
            axl_wire_raw_check(m->task.params.ptr, m->task.params.len, "p", NULL) != 0)
            return "task";
        return NULL;
    case AXL_WIRE_PROGRESS:
        if (!(m->progress.fraction >= 0 && m->progress.fraction <= 1))
            return "progress.fraction";
        return NULL;
    case AXL_WIRE_FINISHED:
        if (!inside(m->finished.result.ptr, m->finished.result.len, b, n) ||
            axl_wire_raw_check(m->finished.result.ptr, m->finished.result.len, "r", NULL) != 0)
            return "finished.result";
        return NULL;
    case AXL_WIRE_STATUS:
        if (m->status.n_ids > AXL_WIRE_MAX_IDS || (!m->status.has_ids && m->status.n_ids))
            return "status";
        for (uint32_t i = 0; i < m->status.n_ids; i++)
            if (!str_inside(m->status.ids[i], AXL_WIRE_MAX_ID, b, n))
                return "status.ids";
        return NULL;
    case AXL_WIRE_STATUS_REPLY:
        if (m->status_reply.n_tasks > AXL_WIRE_MAX_IDS)
            return "status_reply";
        for (uint32_t i = 0; i < m->status_reply.n_tasks; i++)
            if (!str_inside(m->status_reply.tasks[i].id, AXL_WIRE_MAX_ID, b, n) ||
                m->status_reply.tasks[i].state >= AXL_TASK_STATE_COUNT)
                return "status_reply.tasks";
        return NULL;
    case AXL_WIRE_ERROR:
        if (m->error.code >= 0 || !str_inside(m->error.msg, AXL_WIRE_MAX_TEXT, b, n))
            return "error";
        return NULL;
    default:
        return (unsigned)m->type < AXL_WIRE_TYPE_COUNT ? NULL : "type";
    }
}

static const char *check_wire(const uint8_t *buf, size_t len, bool *ok)
{
    axl_wire_msg m, m2;
    axl_errbuf eb;
    char why[64] = "";
    const char *bad = NULL;
    msgpack_sbuffer e1, e2;
    *ok = false;
    if (axl_wire_decode(buf, len, &m, &eb) != 0)
        return NULL;
    *ok = true;
    msgpack_sbuffer_init(&e1);
    msgpack_sbuffer_init(&e2);
    if ((bad = wire_shape(&m, buf, len)) != NULL) {
        bad = broken("wire: decoded value out of shape", bad, NULL);
    } else if (axl_wire_encode(&m, &e1, &eb) != 0) {
        bad = broken("wire: accepted message does not re-encode", NULL, &eb);
    } else if (axl_wire_decode(e1.data, e1.size, &m2, &eb) != 0) {
        bad = broken("wire: re-encoded message does not decode", NULL, &eb);
    } else {
        axl_raw r1 = m.type == AXL_WIRE_TASK       ? m.task.params
                     : m.type == AXL_WIRE_FINISHED ? m.finished.result
                                                   : (axl_raw){NULL, 0};
        axl_raw r2 = m2.type == AXL_WIRE_TASK       ? m2.task.params
                     : m2.type == AXL_WIRE_FINISHED ? m2.finished.result
                                                    : (axl_raw){NULL, 0};
        if (!wire_msg_eq(&m, &m2, why, sizeof(why)))
            bad = broken("wire: round trip changed a field", why, NULL);
        else if (r1.len != r2.len || (r1.len > 0 && memcmp(r1.ptr, r2.ptr, r1.len) != 0))
            bad = broken("wire: raw map not carried byte for byte", NULL, NULL);
        else if (axl_wire_encode(&m2, &e2, &eb) != 0 || e1.size != e2.size ||
                 memcmp(e1.data, e2.data, e1.size) != 0)
            bad = broken("wire: encoding is not canonical", NULL, NULL);
        axl_wire_free(&m2);
    }
    axl_wire_free(&m);
    msgpack_sbuffer_destroy(&e1);
    msgpack_sbuffer_destroy(&e2);
    return bad;
}

static const char *check_event(const uint8_t *buf, size_t len, bool *ok)
{
    axl_event ev, ev2;
    axl_errbuf eb;
    char why[64] = "";
    const char *bad = NULL;
    msgpack_sbuffer e1, e2;
    *ok = false;
    if (axl_event_decode(buf, len, &ev, &eb) != 0)
        return NULL;
    *ok = true;
    if (!inside(ev.type, ev.type_len, buf, len) || !inside(ev.body, ev.body_len, buf, len) ||
        (ev.experiment_len > 0 && !inside(ev.experiment, ev.experiment_len, buf, len)) ||
        ev.seq == 0 || !(ev.time >= 0) || ev.trial < -1 || ev.trial > (int64_t)UINT32_MAX ||
        (unsigned)ev.rec >= AXL_REC_COUNT || (ev.rec == AXL_REC_TRIAL && ev.trial < 0))
        return broken("event: decoded value out of shape", NULL, NULL);
    msgpack_sbuffer_init(&e1);
    msgpack_sbuffer_init(&e2);
    if (axl_event_encode(&ev, &e1, &eb) != 0) {
        bad = broken("event: accepted event does not re-encode", NULL, &eb);
    } else if (axl_event_decode(e1.data, e1.size, &ev2, &eb) != 0) {
        bad = broken("event: re-encoded event does not decode", NULL, &eb);
    } else if (!event_eq(&ev, &ev2, why, sizeof(why))) {
        bad = broken("event: round trip changed a field", why, NULL);
    } else if (ev.body_len != ev2.body_len || memcmp(ev.body, ev2.body, ev.body_len) != 0) {
        bad = broken("event: body not carried byte for byte", NULL, NULL);
    } else if (axl_event_encode(&ev2, &e2, &eb) != 0 || e1.size != e2.size ||
               memcmp(e1.data, e2.data, e1.size) != 0) {
        bad = broken("event: encoding is not canonical", NULL, NULL);
    }
    msgpack_sbuffer_destroy(&e1);
    msgpack_sbuffer_destroy(&e2);
    return bad;
}

static const char *check_trial(const uint8_t *buf, size_t len, bool *ok)
{
    axl_trial_rec t, t2;
    axl_errbuf eb;
    char why[64] = "";
    const char *bad = NULL;
    msgpack_sbuffer e1, e2;
    *ok = false;
    if (axl_trial_rec_decode(buf, len, &t, &eb) != 0)
        return NULL;
    *ok = true;
    bool shape = t.experiment != NULL && t.gen_method != NULL &&
                 t.n_params <= AXL_PROTO_MAX_PARAMS && t.n_metrics <= AXL_PROTO_MAX_METRICS &&
                 (unsigned)t.status < AXL_TRIAL_STATUS_COUNT;
    for (uint32_t i = 0; shape && i < t.n_params; i++)
        shape = t.params[i].name != NULL &&
                (t.params[i].value.kind != AXL_VALUE_STR || t.params[i].value.str != NULL) &&
                (t.params[i].value.kind != AXL_VALUE_NUM || isfinite(t.params[i].value.num));
    for (uint32_t i = 0; shape && i < t.n_metrics; i++)
        shape = t.metrics[i].name != NULL && isfinite(t.metrics[i].mean);
    msgpack_sbuffer_init(&e1);
    msgpack_sbuffer_init(&e2);
    if (!shape) {
        bad = broken("trial: decoded value out of shape", NULL, NULL);
    } else if (axl_trial_rec_encode(&t, &e1, &eb) != 0) {
        bad = broken("trial: accepted record does not re-encode", NULL, &eb);
    } else if (axl_trial_rec_decode(e1.data, e1.size, &t2, &eb) != 0) {
        bad = broken("trial: re-encoded record does not decode", NULL, &eb);
    } else {
        if (!trial_eq(&t, &t2, why, sizeof(why)))
            bad = broken("trial: round trip changed a field", why, NULL);
        else if (axl_trial_rec_encode(&t2, &e2, &eb) != 0 || e1.size != e2.size ||
                 memcmp(e1.data, e2.data, e1.size) != 0)
            bad = broken("trial: encoding is not canonical", NULL, NULL);
        axl_trial_rec_free(&t2);
    }
    axl_trial_rec_free(&t);
    msgpack_sbuffer_destroy(&e1);
    msgpack_sbuffer_destroy(&e2);
    return bad;
}

const char *proto_check_all(const uint8_t *buf, size_t len, unsigned *accepted)
{
    axl_errbuf eb;
    const char *bad;
    bool ok;
    unsigned acc = 0;

    size_t first = 0;
    int next_rv = axl_mp_next(buf, len, &first, NULL);
    if (next_rv == 0 && (first == 0 || first > len ||
                         (first <= AXL_PROTO_MAX_MSG && axl_mp_validate(buf, first, NULL) != 0)))
        return broken("axl_mp_next: the first object it measured is not one valid object", NULL,
                      NULL);
    if (axl_mp_validate(buf, len, &eb) == 0) {
        acc |= 1;
        axl_msg m;
        if (next_rv != 0 || first != len)
            return broken("axl_mp_next disagrees with axl_mp_validate on a valid object", NULL,
                          NULL);
        if (axl_msg_parse(&m, buf, len, &eb) != 0)
            return broken("validate accepted what msgpack-c cannot unpack", NULL, &eb);
        axl_msg_free(&m);
    }
    if ((bad = check_wire(buf, len, &ok)) != NULL)
        return bad;
    acc |= ok ? 2 : 0;
    if ((bad = check_event(buf, len, &ok)) != NULL)
        return bad;
    acc |= ok ? 4 : 0;
    if ((bad = check_trial(buf, len, &ok)) != NULL)
        return bad;
    acc |= ok ? 8 : 0;
    /* Every decoder validates first: none may accept what the validator refuses. */
    if (acc > 1 && !(acc & 1))
        return broken("a decoder accepted what axl_mp_validate refuses", NULL, NULL);
    if (accepted != NULL)
        *accepted = acc;
    return NULL;
}
