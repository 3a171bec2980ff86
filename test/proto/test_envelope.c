/* The event envelope and the trial record: round trips and validation rules. */
#include "test/proto/tp.h"

#include <math.h>
#include <stdlib.h>

static void event_expect_at(int line, int code, const char *substr, msgpack_sbuffer *sb)
{
    axl_event ev;
    axl_errbuf eb = {{0}};
    int rv = axl_event_decode(sb->data, sb->size, &ev, &eb);
    mpj_free(sb);
    if (rv != code)
        fail_msg("line %d: expected %s, got %s (%s)", line, axl_err_name(code), axl_err_name(rv),
                 eb.msg);
    if (substr != NULL && strstr(eb.msg, substr) == NULL)
        fail_msg("line %d: '%s' does not contain '%s'", line, eb.msg, substr);
}
#define EVENT_EXPECT(code, substr, ...) event_expect_at(__LINE__, code, substr, J(__VA_ARGS__))

static void trial_expect_at(int line, int code, const char *substr, msgpack_sbuffer *sb)
{
    axl_trial_rec t;
    axl_errbuf eb = {{0}};
    int rv = axl_trial_rec_decode(sb->data, sb->size, &t, &eb);
    if (rv == 0)
        axl_trial_rec_free(&t);
    mpj_free(sb);
    if (rv != code)
        fail_msg("line %d: expected %s, got %s (%s)", line, axl_err_name(code), axl_err_name(rv),
                 eb.msg);
    if (substr != NULL && strstr(eb.msg, substr) == NULL)
        fail_msg("line %d: '%s' does not contain '%s'", line, eb.msg, substr);
}
#define TRIAL_EXPECT(code, substr, ...) trial_expect_at(__LINE__, code, substr, J(__VA_ARGS__))

/* ---- events --------------------------------------------------------------------------- */

static void event_roundtrip(const axl_event *ev)
{
    axl_errbuf eb = {{0}};
    axl_event d, d2;
    char why[64];
    msgpack_sbuffer *sb = msgpack_sbuffer_new(), *sb2 = msgpack_sbuffer_new();
    if (axl_event_encode(ev, sb, &eb) != 0)
        fail_msg("encode: %s", eb.msg);
    if (axl_event_decode(sb->data, sb->size, &d, &eb) != 0)
        fail_msg("decode: %s", eb.msg);
    if (!event_eq(ev, &d, why, sizeof(why)))
        fail_msg("%s differs", why);
    /* body is carried byte for byte */
    if (ev->body != NULL) {
        assert_int_equal(d.body_len, ev->body_len);
        assert_memory_equal(d.body, ev->body, ev->body_len);
    }
    assert_int_equal(axl_event_encode(&d, sb2, &eb), 0);
    assert_int_equal(sb->size, sb2->size);
    assert_memory_equal(sb->data, sb2->data, sb->size);
    assert_int_equal(axl_event_decode(sb2->data, sb2->size, &d2, &eb), 0);
    msgpack_sbuffer_free(sb);
    msgpack_sbuffer_free(sb2);
}

static void t_event_roundtrip(void **state)
{
    (void)state;
    for (int i = 0; i < N_SAMPLE_EVENTS; i++) {
        axl_event ev = sample_event(i);
        event_roundtrip(&ev);
    }
    /* with a trial but no rec, with an empty body, with an empty experiment */
    axl_event ev = sample_event(1);
    ev.trial = 3;
    ev.type = "task.finished";
    ev.type_len = strlen(ev.type);
    event_roundtrip(&ev);
    ev.body = NULL;
    ev.body_len = 0;
    event_roundtrip(&ev);
    ev.experiment = "";
    ev.experiment_len = 0;
    ev.trial = -1;
    ev.seq = UINT64_MAX;
    ev.time = 0;
    event_roundtrip(&ev);
    ev.trial = UINT32_MAX;
    event_roundtrip(&ev);
    for (int k = AXL_REC_EXPERIMENT; k < AXL_REC_COUNT; k++) {
        ev = sample_event(1);
        ev.rec = (axl_rec_kind)k;
        event_roundtrip(&ev);
    }
}

/* The event types DESIGN section 4 names are all valid type strings. */
static void t_event_design_types(void **state)
{
    (void)state;
    static const char *const types[] = {
        "experiment.started", "trial.created",       "trial.running",
        "task.started",       "task.finished",       "trial.completed",
        "trial.failed",       "generation.finished", "experiment.stopped"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        axl_event ev = sample_event(1);
        ev.type = types[i];
        ev.type_len = strlen(types[i]);
        event_roundtrip(&ev);
    }
    /* experiment.stopped {exit_status, reason} as the body */
    axl_event ev = sample_event(2);
    axl_event d;
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    assert_int_equal(axl_event_encode(&ev, sb, NULL), 0);
    assert_int_equal(axl_event_decode(sb->data, sb->size, &d, NULL), 0);
    axl_msg body;
    assert_int_equal(axl_msg_parse(&body, d.body, d.body_len, NULL), 0);
    const char *reason, *status;
    size_t rlen, slen;
    assert_int_equal(axl_obj_str(&body.root, "body", "exit_status", true, 64, &status, &slen, NULL),
                     0);
    assert_int_equal(slen, strlen("completed"));
    assert_memory_equal(status, "completed", slen);
    assert_int_equal(axl_obj_str(&body.root, "body", "reason", true, 1024, &reason, &rlen, NULL),
                     0);
    assert_int_equal(rlen, strlen("total_trials reached"));
    axl_msg_free(&body);
    msgpack_sbuffer_free(sb);
}

/* An event with rec carries the entity's full record: the body decodes as one. */
static void t_event_rec_body_is_record(void **state)
{
    (void)state;
    axl_event ev = sample_event(0), d;
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    assert_int_equal(axl_event_encode(&ev, sb, NULL), 0);
    assert_int_equal(axl_event_decode(sb->data, sb->size, &d, NULL), 0);
    assert_int_equal(d.rec, AXL_REC_TRIAL);
    axl_trial_rec t, want = sample_trial();
    char why[64];
    assert_int_equal(axl_trial_rec_decode(d.body, d.body_len, &t, NULL), 0);
    if (!trial_eq(&want, &t, why, sizeof(why)))
        fail_msg("%s differs", why);
    assert_int_equal(t.index, d.trial);
    axl_trial_rec_free(&t);
    msgpack_sbuffer_free(sb);
}

static void t_event_rules(void **state)
{
    (void)state;
#define EV(extra) "{v:1, seq:5, time:1700000000.5, type:'trial.running', experiment:'e'" extra "}"
    EVENT_EXPECT(0, NULL, EV(", body:{}"));
    EVENT_EXPECT(0, NULL, EV(", trial:3, rec:'trial', body:{}, future:[1]"));
    EVENT_EXPECT(AXL_EMISSING, "event.body", EV(""));
    EVENT_EXPECT(AXL_EMISSING, "event.body", EV(", body:nil"));
    EVENT_EXPECT(AXL_ETYPE, "event.body", EV(", body:[1]"));
    EVENT_EXPECT(AXL_EPROTO, "event.body", EV(", body:{}, body:{}"));
    EVENT_EXPECT(AXL_EMISSING, "event.trial", EV(", rec:'trial', body:{}"));
    EVENT_EXPECT(AXL_ERANGE, "event.rec", EV(", rec:'sample', body:{}"));
    EVENT_EXPECT(AXL_ETYPE, "event.rec", EV(", rec:1, body:{}"));
    EVENT_EXPECT(AXL_ERANGE, "event.trial", EV(", trial:4294967296, body:{}"));
    EVENT_EXPECT(AXL_ERANGE, "event.trial", EV(", trial:-1, body:{}"));
    EVENT_EXPECT(AXL_ETYPE, "event.trial", EV(", trial:'3', body:{}"));
    EVENT_EXPECT(AXL_EPROTO, "event.seq", EV(", seq:6, body:{}"));
    EVENT_EXPECT(AXL_EVERSION, "event.v",
                 "{v:2, seq:1, time:1, type:'x', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_EMISSING, "event.v", "{seq:1, time:1, type:'x', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_EMISSING, "event.seq", "{v:1, time:1, type:'x', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_ERANGE, "event.seq",
                 "{v:1, seq:0, time:1, type:'x', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_ERANGE, "event.time",
                 "{v:1, seq:1, time:-1, type:'x', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_ERANGE, "event.time",
                 "{v:1, seq:1, time:nan, type:'x', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_EMISSING, "event.time", "{v:1, seq:1, type:'x', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_EINVAL, "event.type",
                 "{v:1, seq:1, time:1, type:'Trial.Done', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_EINVAL, "event.type",
                 "{v:1, seq:1, time:1, type:'', experiment:'e', body:{}}");
    EVENT_EXPECT(AXL_ETOOBIG, "event.type",
                 "{v:1, seq:1, time:1, type:'%s', experiment:'e', body:{}}",
                 "a.very.long.event.type.name.that.goes.past.sixty.four.bytes.of.text");
    EVENT_EXPECT(AXL_EMISSING, "event.experiment", "{v:1, seq:1, time:1, type:'x', body:{}}");
    EVENT_EXPECT(0, NULL, "{v:1, seq:1, time:1, type:'x', experiment:'', body:{}}");
    EVENT_EXPECT(AXL_ETYPE, "expected a map", "[1]");
#undef EV
}

static void t_event_encode_refuses(void **state)
{
    (void)state;
    axl_errbuf eb;
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    axl_event ev = sample_event(1);
    ev.seq = 0;
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_EINVAL);
    ev = sample_event(1);
    ev.time = -1;
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_EINVAL);
    ev.time = NAN;
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_EINVAL);
    ev = sample_event(1);
    ev.trial = (int64_t)UINT32_MAX + 1;
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_EINVAL);
    ev = sample_event(1);
    ev.rec = AXL_REC_TRIAL; /* without a trial */
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_EINVAL);
    ev = sample_event(1);
    ev.type = "Bad Type";
    ev.type_len = 8;
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_EINVAL);
    ev = sample_event(1);
    static const char arr[] = {(char)0x90};
    ev.body = arr;
    ev.body_len = 1;
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_EINVAL);
    ev = sample_event(1);
    ev.experiment = "bad \xff";
    ev.experiment_len = 5;
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_EPROTO);
    assert_int_equal(sb->size, 0); /* nothing written by any refusal */
    /* A body that makes the event bigger than the limit is refused, nothing written. */
    msgpack_sbuffer *big = msgpack_sbuffer_new();
    msgpack_packer pk;
    msgpack_packer_init(&pk, big, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    axl_pack_cstr(&pk, "blobs");
    msgpack_pack_array(&pk, 260);
    char *blob = calloc(1, AXL_PROTO_MAX_STR);
    for (int i = 0; i < 260; i++) {
        msgpack_pack_bin(&pk, AXL_PROTO_MAX_STR);
        msgpack_pack_bin_body(&pk, blob, AXL_PROTO_MAX_STR);
    }
    free(blob);
    ev = sample_event(1);
    ev.body = big->data;
    ev.body_len = big->size;
    assert_int_equal(axl_event_encode(&ev, sb, &eb), AXL_ETOOBIG);
    assert_int_equal(sb->size, 0);
    msgpack_sbuffer_free(big);
    msgpack_sbuffer_free(sb);
}

/* ---- trial records ----------------------------------------------------------------------- */

static void trial_roundtrip(const axl_trial_rec *t)
{
    axl_errbuf eb = {{0}};
    axl_trial_rec d;
    char why[64];
    msgpack_sbuffer *sb = msgpack_sbuffer_new(), *sb2 = msgpack_sbuffer_new();
    if (axl_trial_rec_encode(t, sb, &eb) != 0)
        fail_msg("encode: %s", eb.msg);
    if (axl_trial_rec_decode(sb->data, sb->size, &d, &eb) != 0)
        fail_msg("decode: %s", eb.msg);
    if (!trial_eq(t, &d, why, sizeof(why)))
        fail_msg("%s differs", why);
    assert_int_equal(axl_trial_rec_encode(&d, sb2, &eb), 0);
    assert_int_equal(sb->size, sb2->size);
    assert_memory_equal(sb->data, sb2->data, sb->size);
    axl_trial_rec_free(&d);
    msgpack_sbuffer_free(sb);
    msgpack_sbuffer_free(sb2);
}

static void t_trial_roundtrip(void **state)
{
    (void)state;
    axl_trial_rec t = sample_trial();
    trial_roundtrip(&t);
    for (int s = 0; s < AXL_TRIAL_STATUS_COUNT; s++) {
        t.status = (axl_trial_status)s;
        trial_roundtrip(&t);
    }
    /* minimal: no job, a reason, no metrics, no params, no generation method */
    t = sample_trial();
    t.job_id = NULL;
    t.reason = "spincoater jammed";
    t.gen_method = NULL;
    t.n_metrics = 0;
    t.metrics = NULL;
    t.n_params = 0;
    t.params = NULL;
    t.deployed = 0;
    trial_roundtrip(&t);
}

/* Regression: the decode arena was sized too small for many short string parameters. */
static void t_trial_many_string_params(void **state)
{
    (void)state;
    axl_param_value ps[AXL_PROTO_MAX_PARAMS];
    char names[AXL_PROTO_MAX_PARAMS][8];
    for (int i = 0; i < AXL_PROTO_MAX_PARAMS; i++) {
        snprintf(names[i], sizeof(names[i]), "p%d", i);
        ps[i].name = names[i];
        ps[i].value = (axl_value){.kind = AXL_VALUE_STR, .str = "s"};
    }
    axl_trial_rec t = sample_trial();
    t.n_params = AXL_PROTO_MAX_PARAMS;
    t.params = ps;
    trial_roundtrip(&t);
    /* one-byte names and values, the densest input */
    for (int i = 0; i < AXL_PROTO_MAX_PARAMS; i++)
        ps[i].value.str = "";
    trial_roundtrip(&t);
}

static void t_trial_rules(void **state)
{
    (void)state;
#define TR(extra) "{v:1, experiment:'e', index:1, status:'RUNNING', created:1700000000" extra "}"
    TRIAL_EXPECT(AXL_EMISSING, "trial.params", TR(""));
    TRIAL_EXPECT(0, NULL, TR(", params:{}"));
    TRIAL_EXPECT(0, NULL, TR(", params:{}, metrics:nil, job:nil, future:{x:1}"));
    TRIAL_EXPECT(AXL_ETYPE, "trial.params", TR(", params:[]"));
    TRIAL_EXPECT(AXL_ETYPE, "trial.metrics", TR(", params:{}, metrics:[]"));
    TRIAL_EXPECT(AXL_ERANGE, "trial.status",
                 "{v:1, experiment:'e', index:1, status:'DONE', created:1, params:{}}");
    TRIAL_EXPECT(AXL_EMISSING, "trial.experiment",
                 "{v:1, index:1, status:'RUNNING', created:1, params:{}}");
    TRIAL_EXPECT(AXL_EINVAL, "trial.experiment",
                 "{v:1, experiment:'', index:1, status:'RUNNING', created:1, params:{}}");
    TRIAL_EXPECT(AXL_EMISSING, "trial.created",
                 "{v:1, experiment:'e', index:1, status:'RUNNING', params:{}}");
    TRIAL_EXPECT(AXL_EVERSION, "trial.v",
                 "{v:3, experiment:'e', index:1, status:'RUNNING', created:1, params:{}}");
    TRIAL_EXPECT(AXL_ERANGE, "trial.index",
                 "{v:1, experiment:'e', index:-1, status:'RUNNING', created:1, params:{}}");
    TRIAL_EXPECT(AXL_ETYPE, "trial.params.x", TR(", params:{x:[1]}"));
    TRIAL_EXPECT(AXL_ETYPE, "trial.params.x", TR(", params:{x:nil}"));
    TRIAL_EXPECT(AXL_ERANGE, "trial.params.x", TR(", params:{x:nan}"));
    TRIAL_EXPECT(AXL_ERANGE, "trial.params.x", TR(", params:{x:18446744073709551615}"));
    TRIAL_EXPECT(AXL_EINVAL, "trial.params", TR(", params:{'':1}"));
    TRIAL_EXPECT(AXL_EINVAL, "trial.params.x", TR(", params:{x:'a\\0b'}"));
    TRIAL_EXPECT(AXL_EPROTO, "trial.params.x", TR(", params:{x:1, y:2, x:1}"));
    TRIAL_EXPECT(AXL_EPROTO, "trial.params", TR(", params:{}, params:{}"));
    TRIAL_EXPECT(AXL_ETYPE, "trial.metrics.m", TR(", params:{}, metrics:{m:1}"));
    TRIAL_EXPECT(AXL_ETYPE, "trial.metrics.m", TR(", params:{}, metrics:{m:[1]}"));
    TRIAL_EXPECT(AXL_ETYPE, "trial.metrics.m", TR(", params:{}, metrics:{m:['a', nil]}"));
    TRIAL_EXPECT(AXL_ERANGE, "trial.metrics.m", TR(", params:{}, metrics:{m:[nan, nil]}"));
    TRIAL_EXPECT(AXL_ERANGE, "trial.metrics.m", TR(", params:{}, metrics:{m:[1, -0.5]}"));
    TRIAL_EXPECT(AXL_ERANGE, "trial.metrics.m", TR(", params:{}, metrics:{m:[1, inf]}"));
    TRIAL_EXPECT(AXL_EPROTO, "trial.metrics.m",
                 TR(", params:{}, metrics:{m:[1, nil], m:[2, nil]}"));
    TRIAL_EXPECT(0, NULL, TR(", params:{}, metrics:{m:[1, nil], n:[2.5f, 0]}"));
    char *k = malloc(200);
    memset(k, 'k', 129);
    k[129] = '\0';
    TRIAL_EXPECT(AXL_ETOOBIG, "trial.params", TR(", params:{%s:1}"), k);
    free(k);
    /* AXL_PROTO_MAX_PARAMS + 1 parameters */
    size_t cap = 16 * (AXL_PROTO_MAX_PARAMS + 2), n = 0;
    char *p = malloc(cap);
    n += (size_t)snprintf(p + n, cap - n, "{");
    for (int i = 0; i <= AXL_PROTO_MAX_PARAMS; i++)
        n += (size_t)snprintf(p + n, cap - n, "%sp%d:1", i ? "," : "", i);
    snprintf(p + n, cap - n, "}");
    TRIAL_EXPECT(AXL_ETOOBIG, "trial", TR(", params:%s"), p);
    free(p);
#undef TR
}

static void t_trial_encode_refuses(void **state)
{
    (void)state;
    axl_errbuf eb;
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    axl_trial_rec t = sample_trial();
    t.experiment = "";
    assert_int_equal(axl_trial_rec_encode(&t, sb, &eb), AXL_EINVAL);
    t = sample_trial();
    t.status = AXL_TRIAL_STATUS_COUNT;
    assert_int_equal(axl_trial_rec_encode(&t, sb, &eb), AXL_EINVAL);
    t = sample_trial();
    axl_param_value bad[] = {{"x", {.kind = AXL_VALUE_NUM, .num = NAN}}};
    t.params = bad;
    t.n_params = 1;
    assert_int_equal(axl_trial_rec_encode(&t, sb, &eb), AXL_ERANGE);
    bad[0].value = (axl_value){.kind = AXL_VALUE_STR, .str = NULL};
    assert_int_equal(axl_trial_rec_encode(&t, sb, &eb), AXL_EINVAL);
    axl_param_value dup[] = {{"x", {.kind = AXL_VALUE_INT, .i = 1}},
                             {"x", {.kind = AXL_VALUE_INT, .i = 2}}};
    t.params = dup;
    t.n_params = 2;
    assert_int_equal(axl_trial_rec_encode(&t, sb, &eb), AXL_EPROTO);
    t = sample_trial();
    t.created = -5;
    assert_int_equal(axl_trial_rec_encode(&t, sb, &eb), AXL_ERANGE);
    t = sample_trial();
    axl_metric_value m[] = {{"m", INFINITY, NAN}};
    t.metrics = m;
    t.n_metrics = 1;
    assert_int_equal(axl_trial_rec_encode(&t, sb, &eb), AXL_ERANGE);
    t = sample_trial();
    t.job_id = "bad \xc3";
    assert_int_equal(axl_trial_rec_encode(&t, sb, &eb), AXL_EPROTO);
    assert_int_equal(sb->size, 0);
    msgpack_sbuffer_free(sb);
}

static void t_trial_status_rules(void **state)
{
    (void)state;
    for (int s = 0; s < AXL_TRIAL_STATUS_COUNT; s++) {
        axl_trial_status back;
        const char *n = axl_trial_status_name((axl_trial_status)s);
        assert_int_equal(axl_trial_status_parse(n, strlen(n), &back), 0);
        assert_int_equal(back, s);
    }
    assert_true(axl_trial_transition_ok(AXL_TRIAL_CANDIDATE, AXL_TRIAL_RUNNING));
    assert_true(axl_trial_transition_ok(AXL_TRIAL_RUNNING, AXL_TRIAL_COMPLETED));
    assert_true(axl_trial_transition_ok(AXL_TRIAL_STAGED, AXL_TRIAL_ABANDONED));
    assert_true(axl_trial_transition_ok(AXL_TRIAL_CANDIDATE, AXL_TRIAL_FAILED));
    assert_false(axl_trial_transition_ok(AXL_TRIAL_COMPLETED, AXL_TRIAL_RUNNING));
    assert_false(axl_trial_transition_ok(AXL_TRIAL_CANDIDATE, AXL_TRIAL_COMPLETED));
    assert_false(axl_trial_transition_ok(AXL_TRIAL_FAILED, AXL_TRIAL_ABANDONED));
}

const struct CMUnitTest envelope_tests[] = {
    cmocka_unit_test(t_event_roundtrip),          cmocka_unit_test(t_event_design_types),
    cmocka_unit_test(t_event_rec_body_is_record), cmocka_unit_test(t_event_rules),
    cmocka_unit_test(t_event_encode_refuses),     cmocka_unit_test(t_trial_roundtrip),
    cmocka_unit_test(t_trial_many_string_params), cmocka_unit_test(t_trial_rules),
    cmocka_unit_test(t_trial_encode_refuses),     cmocka_unit_test(t_trial_status_rules),
};
const size_t n_envelope_tests = sizeof(envelope_tests) / sizeof(envelope_tests[0]);
