/* The worker messages: round trips, every validation rule, the encoder's refusals. */
#include "test/proto/tp.h"

#include <math.h>
#include <stdlib.h>

/* ---- helpers -------------------------------------------------------------------------- */

static msgpack_sbuffer *enc(const axl_wire_msg *m)
{
    axl_errbuf eb = {{0}};
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    int rv = axl_wire_encode(m, sb, &eb);
    if (rv != 0)
        fail_msg("encode %s: %s (%s)", axl_wire_type_name(m->type), axl_err_name(rv), eb.msg);
    return sb;
}

static void dec_ok(const void *buf, size_t len, axl_wire_msg *m)
{
    axl_errbuf eb = {{0}};
    int rv = axl_wire_decode(buf, len, m, &eb);
    if (rv != 0)
        fail_msg("decode: %s (%s)", axl_err_name(rv), eb.msg);
}

static void expect_eq(const axl_wire_msg *a, const axl_wire_msg *b)
{
    char why[64];
    if (!wire_msg_eq(a, b, why, sizeof(why)))
        fail_msg("%s: field %s differs", axl_wire_type_name(a->type), why);
}

/* Decodes the text sample of t with key replaced; checks code (and substring). */
static void field_expect(axl_wire_type t, const char *key, const char *text, int code,
                         const char *substr, int line)
{
    char *s = sample_text(t, key, text);
    msgpack_sbuffer *sb = J("%s", s);
    free(s);
    wire_expect_at(__FILE__, line, code, substr, sb);
}
#define FIELD_EXPECT(t, key, text, code, substr)                                                   \
    field_expect(AXL_WIRE_##t, key, text, code, substr, __LINE__)

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- round trips ---------------------------------------------------------------------- */

static void t_roundtrip_every_type(void **state)
{
    (void)state;
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++) {
        axl_wire_msg m = sample_msg((axl_wire_type)t), d, d2;
        msgpack_sbuffer *sb = enc(&m);
        dec_ok(sb->data, sb->size, &d);
        expect_eq(&m, &d);
        /* Re-encoding the decoded message gives the same bytes. */
        msgpack_sbuffer *sb2 = enc(&d);
        assert_int_equal(sb->size, sb2->size);
        assert_memory_equal(sb->data, sb2->data, sb->size);
        /* The independent text form of the sample decodes to the same message. */
        char *text = sample_text((axl_wire_type)t, NULL, NULL);
        msgpack_sbuffer *tj = J("%s", text);
        dec_ok(tj->data, tj->size, &d2);
        expect_eq(&m, &d2);
        axl_wire_free(&d2);
        axl_wire_free(&d);
        free(text);
        mpj_free(tj);
        msgpack_sbuffer_free(sb);
        msgpack_sbuffer_free(sb2);
    }
}

static void roundtrip(const axl_wire_msg *m)
{
    axl_wire_msg d;
    msgpack_sbuffer *sb = enc(m);
    dec_ok(sb->data, sb->size, &d);
    expect_eq(m, &d);
    axl_wire_free(&d);
    msgpack_sbuffer_free(sb);
}

static void t_roundtrip_optional_and_empty(void **state)
{
    (void)state;
    axl_wire_msg m = sample_msg(AXL_WIRE_TASK);
    m.task.has_start_at = false;
    roundtrip(&m);
    m.task.params = (axl_raw){NULL, 0}; /* encodes {} */
    roundtrip(&m);

    m = sample_msg(AXL_WIRE_PROGRESS);
    m.progress.note = (axl_str){NULL, 0};
    roundtrip(&m);
    m.progress.note = AXL_STR_LIT(""); /* present but empty: not the same as absent */
    roundtrip(&m);
    m.progress.fraction = 0;
    roundtrip(&m);
    m.progress.fraction = 1;
    roundtrip(&m);

    m = sample_msg(AXL_WIRE_HELLO);
    m.hello.n_inflight = 0;
    m.hello.inflight = NULL;
    roundtrip(&m);

    m = sample_msg(AXL_WIRE_STATUS);
    m.status.has_ids = false;
    m.status.n_ids = 0;
    m.status.ids = NULL;
    roundtrip(&m);
    m.status.has_ids = true; /* ids: [] asks about no task at all */
    roundtrip(&m);

    m = sample_msg(AXL_WIRE_STATUS_REPLY);
    m.status_reply.n_tasks = 0;
    m.status_reply.tasks = NULL;
    roundtrip(&m);

    m = sample_msg(AXL_WIRE_FAILED);
    m.failed.retryable = false;
    m.failed.reason = AXL_STR_LIT("");
    roundtrip(&m);

    m = sample_msg(AXL_WIRE_HEARTBEAT);
    m.heartbeat.seq = UINT64_MAX;
    m.heartbeat.inflight = 0;
    m.heartbeat.time = 0;
    roundtrip(&m);

    for (int r = 0; r < AXL_ROLE_COUNT; r++) {
        m = sample_msg(AXL_WIRE_HELLO);
        m.hello.role = (axl_worker_role)r;
        m.hello.capacity = AXL_WIRE_MAX_CAPACITY;
        roundtrip(&m);
    }
    for (int s = 0; s < AXL_TASK_STATE_COUNT; s++) {
        m = sample_msg(AXL_WIRE_ACK);
        m.ack.state = (axl_task_state)s;
        roundtrip(&m);
    }
    m = sample_msg(AXL_WIRE_ERROR);
    for (int code = -1; code >= AXL_ECANCELED; code--) {
        m.error.code = code;
        roundtrip(&m);
    }
}

static void t_key_order_and_header(void **state)
{
    (void)state;
    axl_wire_msg m = sample_msg(AXL_WIRE_ACK);
    msgpack_sbuffer *sb = enc(&m);
    /* {v:1, type:"ack", id:..., state:"running"}: fixmap of 4, then "v" 1, "type". */
    static const uint8_t head[] = {0x84, 0xa1, 'v',  0x01, 0xa4, 't', 'y',
                                   'p',  'e',  0xa3, 'a',  'c',  'k'};
    assert_true(sb->size > sizeof(head));
    assert_memory_equal(sb->data, head, sizeof(head));
    msgpack_sbuffer_free(sb);
}

/* The byte-level example of proto/README.md, so that the page cannot drift. */
static void t_readme_example(void **state)
{
    (void)state;
    axl_wire_msg m = {.type = AXL_WIRE_ACK};
    m.ack.id = AXL_STR_LIT("e/1/0");
    m.ack.state = AXL_TASK_RUNNING;
    msgpack_sbuffer *sb = enc(&m);
    static const uint8_t want[] = {0x84, 0xa1, 0x76, 0x01, 0xa4, 0x74, 0x79, 0x70, 0x65,
                                   0xa3, 0x61, 0x63, 0x6b, 0xa2, 0x69, 0x64, 0xa5, 0x65,
                                   0x2f, 0x31, 0x2f, 0x30, 0xa5, 0x73, 0x74, 0x61, 0x74,
                                   0x65, 0xa7, 0x72, 0x75, 0x6e, 0x6e, 0x69, 0x6e, 0x67};
    assert_int_equal(sb->size, sizeof(want));
    assert_memory_equal(sb->data, want, sizeof(want));
    msgpack_sbuffer_free(sb);

    axl_wire_msg p = {.type = AXL_WIRE_PROGRESS};
    p.progress.id = AXL_STR_LIT("e/1/0");
    p.progress.fraction = 0.5;
    sb = enc(&p);
    static const uint8_t want2[] = {
        0x84, 0xa1, 0x76, 0x01, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa8, 0x70, 0x72, 0x6f, 0x67, 0x72,
        0x65, 0x73, 0x73, 0xa2, 0x69, 0x64, 0xa5, 0x65, 0x2f, 0x31, 0x2f, 0x30, 0xa8, 0x66, 0x72,
        0x61, 0x63, 0x74, 0x69, 0x6f, 0x6e, 0xcb, 0x3f, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(sb->size, sizeof(want2));
    assert_memory_equal(sb->data, want2, sizeof(want2));
    msgpack_sbuffer_free(sb);
}

/* ---- generic rules over every field of every type -------------------------------------- */

static void t_missing_and_nil_fields(void **state)
{
    (void)state;
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++) {
        size_t n;
        const sample_field *f = sample_fields((axl_wire_type)t, &n);
        for (size_t i = 0; i < n; i++) {
            char path[64];
            snprintf(path, sizeof(path), "%s.%s", axl_wire_type_name((axl_wire_type)t), f[i].key);
            int want = f[i].required ? AXL_EMISSING : 0;
            field_expect((axl_wire_type)t, f[i].key, NULL, want, want ? path : NULL, __LINE__);
            field_expect((axl_wire_type)t, f[i].key, "nil", want, want ? path : NULL, __LINE__);
        }
    }
}

static bool compatible(char cls, int alt)
{
    /* alternatives: 0 uint, 1 negative int, 2 float, 3 string, 4 bool, 5 array, 6 map, 7 bin */
    switch (cls) {
    case 'u':
        return alt <= 1; /* a negative integer is out of range, not of the wrong type */
    case 'n':
        return alt <= 2;
    case 's':
        return alt == 3;
    case 'b':
        return alt == 4;
    case 'a':
        return alt == 5;
    case 'm':
        return alt == 6;
    }
    return false;
}

static void t_wrong_types(void **state)
{
    (void)state;
    static const char *const alts[] = {"7", "-7", "2.5", "'x'", "true", "[1]", "{a:1}", "b'x'"};
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++) {
        size_t n;
        const sample_field *f = sample_fields((axl_wire_type)t, &n);
        for (size_t i = 0; i < n; i++) {
            char path[64];
            snprintf(path, sizeof(path), "%s.%s", axl_wire_type_name((axl_wire_type)t), f[i].key);
            for (int a = 0; a < 8; a++) {
                char *s = sample_text((axl_wire_type)t, f[i].key, alts[a]);
                msgpack_sbuffer *sb = J("%s", s);
                axl_wire_msg m;
                axl_errbuf eb = {{0}};
                int rv = axl_wire_decode(sb->data, sb->size, &m, &eb);
                if (rv == 0)
                    axl_wire_free(&m);
                if (!compatible(f[i].cls, a) && (rv != AXL_ETYPE || !strstr(eb.msg, path)))
                    fail_msg("%s = %s: expected AXL_ETYPE naming %s, got %s (%s)", path, alts[a],
                             path, axl_err_name(rv), eb.msg);
                if (f[i].cls == 'u' && a == 1 && rv != AXL_ERANGE)
                    fail_msg("%s = -7: expected AXL_ERANGE, got %s", path, axl_err_name(rv));
                free(s);
                mpj_free(sb);
            }
        }
    }
}

/* ---- version, type, top level ------------------------------------------------------------ */

static void t_version_and_type(void **state)
{
    (void)state;
    WIRE_EXPECT(AXL_EMISSING, "message.v", "{type:'started', id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_EMISSING, "message.v", "{v:nil, type:'started', id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_EVERSION, "message.v", "{v:2, type:'started', id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_EVERSION, "message.v", "{v:0, type:'started', id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_ETYPE, "message.v", "{v:'1', type:'started', id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_ETYPE, "message.v", "{v:1.0, type:'started', id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_ERANGE, "message.v", "{v:-1, type:'started', id:'e/1/0', time:1}");
    /* The version is checked before the type: a v2 message of a new type is EVERSION. */
    WIRE_EXPECT(AXL_EVERSION, NULL, "{v:2, type:'teleport'}");
    WIRE_EXPECT(AXL_EMISSING, "message.type", "{v:1, id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_ETYPE, "message.type", "{v:1, type:5, id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_ENOTSUP, "teleport", "{v:1, type:'teleport', id:'e/1/0'}");
    WIRE_EXPECT(AXL_ENOTSUP, NULL, "{v:1, type:'Started', id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_ENOTSUP, NULL, "{v:1, type:'', id:'e/1/0', time:1}");
    WIRE_EXPECT(AXL_ETOOBIG, "message.type", "{v:1, type:'%s'}",
                "a_type_name_longer_than_thirty_two_bytes");
    WIRE_EXPECT(AXL_ETYPE, "expected a map", "[1, 'started']");
    WIRE_EXPECT(AXL_ETYPE, "expected a map", "'hello'");
    WIRE_EXPECT(AXL_ETYPE, "expected a map", "nil");
    WIRE_EXPECT(AXL_EMISSING, NULL, "{}");
}

/* ---- numeric ranges ------------------------------------------------------------------------- */

static void t_ranges(void **state)
{
    (void)state;
    FIELD_EXPECT(HELLO, "capacity", "0", AXL_ERANGE, "hello.capacity");
    FIELD_EXPECT(HELLO, "capacity", "1024", 0, NULL);
    FIELD_EXPECT(HELLO, "capacity", "1025", AXL_ERANGE, "hello.capacity");
    FIELD_EXPECT(HELLO, "capacity", "18446744073709551615", AXL_ERANGE, "hello.capacity");
    FIELD_EXPECT(HELLO, "time", "-0.5", AXL_ERANGE, "hello.time");
    FIELD_EXPECT(HELLO, "time", "nan", AXL_ERANGE, "hello.time");
    FIELD_EXPECT(HELLO, "time", "inf", AXL_ERANGE, "hello.time");
    FIELD_EXPECT(HELLO, "time", "-inf", AXL_ERANGE, "hello.time");
    FIELD_EXPECT(HELLO, "time", "1e12", 0, NULL);
    FIELD_EXPECT(HELLO, "time", "1.0000001e12", AXL_ERANGE, "hello.time");
    FIELD_EXPECT(HELLO, "time", "0", 0, NULL);
    FIELD_EXPECT(HELLO, "role", "'oven'", AXL_ERANGE, "hello.role");
    FIELD_EXPECT(HELLO, "role", "'Spincoater'", AXL_ERANGE, "spincoater|hotplate");
    FIELD_EXPECT(HEARTBEAT, "role", "''", AXL_ERANGE, "heartbeat.role");
    FIELD_EXPECT(HEARTBEAT, "inflight", "1024", 0, NULL);
    FIELD_EXPECT(HEARTBEAT, "inflight", "1025", AXL_ERANGE, "heartbeat.inflight");
    FIELD_EXPECT(HEARTBEAT, "seq", "18446744073709551615", 0, NULL);
    FIELD_EXPECT(HEARTBEAT, "seq", "-1", AXL_ERANGE, "heartbeat.seq");
    FIELD_EXPECT(HEARTBEAT, "time", "1e300", AXL_ERANGE, "heartbeat.time");
    FIELD_EXPECT(TASK, "start_at", "-1", AXL_ERANGE, "task.start_at");
    FIELD_EXPECT(TASK, "start_at", "nan", AXL_ERANGE, "task.start_at");
    FIELD_EXPECT(TASK, "trial", "4294967296", AXL_ERANGE, "task.trial");
    FIELD_EXPECT(TASK, "index", "-3", AXL_ERANGE, "task.index");
    FIELD_EXPECT(PROGRESS, "fraction", "-0.001", AXL_ERANGE, "progress.fraction");
    FIELD_EXPECT(PROGRESS, "fraction", "1.0001", AXL_ERANGE, "progress.fraction");
    FIELD_EXPECT(PROGRESS, "fraction", "nan", AXL_ERANGE, "progress.fraction");
    FIELD_EXPECT(PROGRESS, "fraction", "2", AXL_ERANGE, "progress.fraction");
    FIELD_EXPECT(PROGRESS, "fraction", "0", 0, NULL);
    FIELD_EXPECT(PROGRESS, "fraction", "1", 0, NULL);
    FIELD_EXPECT(PROGRESS, "fraction", "0.25f", 0, NULL);
    FIELD_EXPECT(ACK, "state", "'done'", AXL_ERANGE, "ack.state");
    FIELD_EXPECT(ACK, "state", "'RUNNING'", AXL_ERANGE, "ack.state");
    FIELD_EXPECT(STARTED, "time", "-1e-9", AXL_ERANGE, "started.time");
    FIELD_EXPECT(FINISHED, "time", "nan", AXL_ERANGE, "finished.time");
    FIELD_EXPECT(FAILED, "time", "inf", AXL_ERANGE, "failed.time");
    FIELD_EXPECT(STATUS_REPLY, "tasks", "[{id:'e/1/0', state:'lost'}]", AXL_ERANGE,
                 "status_reply.tasks[0].state");
}

/* Integer and float encodings Python or other clients may choose are all accepted. */
static void t_number_encodings(void **state)
{
    (void)state;
    axl_wire_msg m;
    msgpack_sbuffer *sb;
    /* time as an integer (Python's int(time.time())) and as float32 */
    sb = J("{v:1, type:'started', id:'e/1/0', time:1700000000}");
    dec_ok(sb->data, sb->size, &m);
    assert_true(m.started.time == 1700000000.0);
    axl_wire_free(&m);
    mpj_free(sb);
    sb = J("{v:1, type:'started', id:'e/1/0', time:0.5f}");
    dec_ok(sb->data, sb->size, &m);
    assert_true(m.started.time == 0.5);
    axl_wire_free(&m);
    mpj_free(sb);
    /* v and capacity as uint64 / uint16 / int8 wide encodings */
    sb = J("{v:hex'cf 00 00 00 00 00 00 00 01', type:'hello', worker:'w', role:'gripper',"
           " capacity:hex'cd 00 02', time:hex'd0 05', inflight:[]}");
    dec_ok(sb->data, sb->size, &m);
    assert_int_equal(m.hello.capacity, 2);
    assert_true(m.hello.time == 5.0);
    assert_int_equal(m.hello.role, AXL_ROLE_GRIPPER);
    axl_wire_free(&m);
    mpj_free(sb);
    /* a positive number in a signed encoding is still a valid unsigned */
    sb = J("{v:hex'd3 00 00 00 00 00 00 00 01', type:'heartbeat', worker:'w', role:'storage',"
           " seq:hex'd2 00 00 00 07', time:1, inflight:hex'd0 00'}");
    dec_ok(sb->data, sb->size, &m);
    assert_int_equal(m.heartbeat.seq, 7);
    axl_wire_free(&m);
    mpj_free(sb);
}

/* ---- lengths ------------------------------------------------------------------------------- */

static void t_lengths(void **state)
{
    (void)state;
    char *s128 = repeat('a', 128), *s129 = repeat('a', 129), *s64 = repeat('k', 64),
         *s65 = repeat('k', 65), *t1024 = repeat('r', 1024), *t1025 = repeat('r', 1025),
         *s4097 = repeat('z', 4097);
    WIRE_EXPECT(0, NULL, "{v:1, type:'cancel', id:'%s', reason:''}", s128);
    WIRE_EXPECT(AXL_ETOOBIG, "cancel.id", "{v:1, type:'cancel', id:'%s', reason:''}", s129);
    WIRE_EXPECT(AXL_ETOOBIG, "hello.worker",
                "{v:1, type:'hello', worker:'%s', role:'storage', capacity:1, time:1, "
                "inflight:[]}",
                s129);
    WIRE_EXPECT(AXL_ETOOBIG, "hello.inflight[0]",
                "{v:1, type:'hello', worker:'w', role:'storage', capacity:1, time:1, "
                "inflight:['%s']}",
                s129);
    WIRE_EXPECT(AXL_ETOOBIG, "task.experiment",
                "{v:1, type:'task', id:'x', experiment:'%s', trial:1, index:0, kind:'rest', "
                "params:{}}",
                s129);
    /* experiment of 128 bytes: the derived id is longer than 128 */
    WIRE_EXPECT(AXL_ETOOBIG, "task.id",
                "{v:1, type:'task', id:'x', experiment:'%s', trial:1, index:0, kind:'rest', "
                "params:{}}",
                s128);
    FIELD_EXPECT(TASK, "kind", "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk'",
                 0, NULL);
    (void)s64;
    char v65[80];
    snprintf(v65, sizeof(v65), "'%s'", s65);
    FIELD_EXPECT(TASK, "kind", v65, AXL_ETOOBIG, "task.kind");
    char *q1024 = malloc(1100), *q1025 = malloc(1100), *q4097 = malloc(4200);
    snprintf(q1024, 1100, "'%s'", t1024);
    snprintf(q1025, 1100, "'%s'", t1025);
    snprintf(q4097, 4200, "'%s'", s4097);
    FIELD_EXPECT(CANCEL, "reason", q1024, 0, NULL);
    FIELD_EXPECT(CANCEL, "reason", q1025, AXL_ETOOBIG, "cancel.reason");
    FIELD_EXPECT(FAILED, "reason", q1025, AXL_ETOOBIG, "failed.reason");
    FIELD_EXPECT(PROGRESS, "note", q1024, 0, NULL);
    FIELD_EXPECT(PROGRESS, "note", q1025, AXL_ETOOBIG, "progress.note");
    FIELD_EXPECT(ERROR, "msg", q1025, AXL_ETOOBIG, "error.msg");
    /* Any string over AXL_PROTO_MAX_STR, even under an unknown key, fails validation. */
    FIELD_EXPECT(ACK, "comment", q4097, AXL_ETOOBIG, NULL);
    free(q1024);
    free(q1025);
    free(q4097);
    free(s128);
    free(s129);
    free(s64);
    free(s65);
    free(t1024);
    free(t1025);
    free(s4097);
}

/* Arrays of ids: 1024 entries pass, 1025 do not, in hello, status and status_reply. */
static void t_id_array_lengths(void **state)
{
    (void)state;
    for (int n = 1024; n <= 1025; n++) {
        size_t cap = (size_t)n * 48 + 64;
        char *ids = malloc(cap), *tasks = malloc(cap);
        size_t a = 0, b = 0;
        a += (size_t)snprintf(ids + a, cap - a, "[");
        b += (size_t)snprintf(tasks + b, cap - b, "[");
        for (int i = 0; i < n; i++) {
            a += (size_t)snprintf(ids + a, cap - a, "%s'e/%d/0'", i ? "," : "", i);
            b += (size_t)snprintf(tasks + b, cap - b, "%s{id:'e/%d/0',state:'running'}",
                                  i ? "," : "", i);
        }
        snprintf(ids + a, cap - a, "]");
        snprintf(tasks + b, cap - b, "]");
        int want = n <= AXL_WIRE_MAX_IDS ? 0 : AXL_ETOOBIG;
        FIELD_EXPECT(HELLO, "inflight", ids, want, want ? "hello.inflight" : NULL);
        FIELD_EXPECT(STATUS, "ids", ids, want, want ? "status.ids" : NULL);
        FIELD_EXPECT(STATUS_REPLY, "tasks", tasks, want, want ? "status_reply.tasks" : NULL);
        free(ids);
        free(tasks);
    }
}

/* ---- string rules -------------------------------------------------------------------------- */

static void t_string_rules(void **state)
{
    (void)state;
    FIELD_EXPECT(CANCEL, "id", "''", AXL_EINVAL, "cancel.id: must not be empty");
    FIELD_EXPECT(CANCEL, "id", "'e/1/0\\n'", AXL_EINVAL, "control byte 0x0a");
    FIELD_EXPECT(CANCEL, "id", "'e/1\\x7f/0'", AXL_EINVAL, "control byte 0x7f");
    FIELD_EXPECT(CANCEL, "id", "'e/1\\0/0'", AXL_EINVAL, "cancel.id");
    FIELD_EXPECT(CANCEL, "id", "'exp/ü/0'", 0, NULL); /* UTF-8 is fine */
    FIELD_EXPECT(HELLO, "worker", "''", AXL_EINVAL, "hello.worker");
    FIELD_EXPECT(HEARTBEAT, "worker", "'a\\tb'", AXL_EINVAL, "heartbeat.worker");
    FIELD_EXPECT(TASK, "kind", "''", AXL_EINVAL, "task.kind");
    FIELD_EXPECT(TASK, "kind", "'Spin Coat'", AXL_EINVAL, "task.kind");
    FIELD_EXPECT(TASK, "kind", "'storage_to_spincoater'", 0, NULL);
    FIELD_EXPECT(TASK, "kind", "'pl.v2-fast'", 0, NULL);
    /* The task id must be derived from experiment, trial and index. */
    FIELD_EXPECT(TASK, "id", "'pvk-screen/12/4'", AXL_EINVAL, "pvk-screen/12/3");
    FIELD_EXPECT(TASK, "id", "'pvk-screen/012/3'", AXL_EINVAL, "task.id");
    /* ... with the campaign id between: 32 lowercase hex digits, nothing else. */
    FIELD_EXPECT(TASK, "id", "'pvk-screen/0123456789abcdef0123456789abcdef/12/3'", 0, NULL);
    FIELD_EXPECT(TASK, "id", "'pvk-screen/0123456789ABCDEF0123456789abcdef/12/3'", AXL_EINVAL,
                 "task.id");
    FIELD_EXPECT(TASK, "id", "'pvk-screen/0123456789abcdef0123456789abcde/12/3'", AXL_EINVAL,
                 "task.id");
    FIELD_EXPECT(TASK, "id", "'pvk-screen/0123456789abcdef0123456789abcdef/12/4'", AXL_EINVAL,
                 "task.id");
    /* The parser is the builder's inverse. */
    {
        const char *cid = "0123456789abcdef0123456789abcdef";
        char id[AXL_WIRE_MAX_ID + 1];
        axl_wire_task_ref ref;
        axl_str exp = axl_str_c("a/b");
        assert_int_equal(axl_wire_campaign_task_id(id, sizeof(id), exp, cid, 4000000000u, 7, NULL),
                         0);
        assert_string_equal(id, "a/b/0123456789abcdef0123456789abcdef/4000000000/7");
        assert_int_equal(axl_wire_task_id_parse(axl_str_c(id), exp, &ref), 0);
        assert_true(ref.campaign.len == 32 && memcmp(ref.campaign.ptr, cid, 32) == 0);
        assert_true(ref.trial == 4000000000u && ref.index == 7);
        assert_int_equal(axl_wire_task_id(id, sizeof(id), exp, 0, 0, NULL), 0);
        assert_int_equal(axl_wire_task_id_parse(axl_str_c(id), exp, &ref), 0);
        assert_true(ref.campaign.len == 0 && ref.trial == 0 && ref.index == 0);
        assert_int_equal(axl_wire_task_id_parse(axl_str_c(id), axl_str_c("a"), &ref), AXL_EINVAL);
        assert_int_equal(axl_wire_task_id_parse(axl_str_c("a/b/5000000000/1"), exp, &ref),
                         AXL_EINVAL);
        assert_int_equal(axl_wire_campaign_task_id(id, sizeof(id), exp, "xyz", 1, 1, NULL),
                         AXL_EINVAL);
    }
    FIELD_EXPECT(TASK, "trial", "13", AXL_EINVAL, "task.id");
    FIELD_EXPECT(TASK, "experiment", "'pvk'", AXL_EINVAL, "task.id");
    FIELD_EXPECT(TASK, "experiment", "''", AXL_EINVAL, "task.experiment");
    FIELD_EXPECT(TASK, "experiment", "'a\\nb'", AXL_EINVAL, "task.experiment");
    /* Texts may hold newlines and be empty, not NUL or invalid UTF-8. */
    FIELD_EXPECT(FAILED, "reason", "'line 1\\nline 2'", 0, NULL);
    FIELD_EXPECT(FAILED, "reason", "''", 0, NULL);
    FIELD_EXPECT(FAILED, "reason", "'a\\0b'", AXL_EINVAL, "failed.reason");
    FIELD_EXPECT(FAILED, "reason", "'bad \\xff byte'", AXL_EPROTO, "UTF-8");
    FIELD_EXPECT(FAILED, "reason", "'overlong \\xc0\\xaf'", AXL_EPROTO, "UTF-8");
    FIELD_EXPECT(FAILED, "reason", "'surrogate \\xed\\xa0\\x80'", AXL_EPROTO, "UTF-8");
    FIELD_EXPECT(FAILED, "reason", "'cut \\xe2\\x82'", AXL_EPROTO, "UTF-8");
    FIELD_EXPECT(FAILED, "reason", "'too high \\xf4\\x90\\x80\\x80'", AXL_EPROTO, "UTF-8");
    FIELD_EXPECT(FAILED, "reason", "'euro \\xe2\\x82\\xac, emoji \\xf0\\x9f\\x98\\x80'", 0, NULL);
    /* Unknown keys are validated as msgpack too: invalid UTF-8 anywhere is refused. */
    FIELD_EXPECT(ACK, "x", "'\\xff'", AXL_EPROTO, NULL);
    FIELD_EXPECT(ACK, "\\xff", "1", AXL_EPROTO, NULL);
    /* error.code */
    FIELD_EXPECT(ERROR, "code", "'EMISSING'", AXL_EINVAL, "error.code");
    FIELD_EXPECT(ERROR, "code", "'AXL_E'", AXL_EINVAL, "error.code");
    FIELD_EXPECT(ERROR, "code", "'AXL_emissing'", AXL_EINVAL, "error.code");
    FIELD_EXPECT(ERROR, "code", "'AXL_EFROM_THE_FUTURE'", 0, NULL);
}

static void t_error_codes_by_name(void **state)
{
    (void)state;
    axl_wire_msg m;
    msgpack_sbuffer *sb = J("{v:1, type:'error', code:'AXL_EFROM_THE_FUTURE', msg:'?'}");
    dec_ok(sb->data, sb->size, &m);
    assert_int_equal(m.error.code, AXL_EPROTO);
    assert_true(axl_str_eq(m.error.code_name, "AXL_EFROM_THE_FUTURE"));
    axl_wire_free(&m);
    mpj_free(sb);
    sb = J("{v:1, type:'error', code:'AXL_EVERSION', msg:''}");
    dec_ok(sb->data, sb->size, &m);
    assert_int_equal(m.error.code, AXL_EVERSION);
    assert_true(axl_str_eq(m.error.code_name, "AXL_EVERSION"));
    axl_wire_free(&m);
    mpj_free(sb);
}

/* ---- id arrays ------------------------------------------------------------------------------ */

static void t_id_arrays(void **state)
{
    (void)state;
    axl_wire_msg m;
    FIELD_EXPECT(HELLO, "inflight", "['e/1/0', 'e/1/0']", AXL_EINVAL, "hello.inflight[1]");
    FIELD_EXPECT(HELLO, "inflight", "['e/1/0', 7]", AXL_ETYPE, "hello.inflight[1]");
    FIELD_EXPECT(HELLO, "inflight", "['e/1/0', '']", AXL_EINVAL, "hello.inflight[1]");
    FIELD_EXPECT(HELLO, "inflight", "[nil]", AXL_ETYPE, "hello.inflight[0]");
    FIELD_EXPECT(STATUS, "ids", "['a', 'b', 'a']", AXL_EINVAL, "repeats [0]");
    FIELD_EXPECT(STATUS, "ids", "[['a']]", AXL_ETYPE, "status.ids[0]");
    FIELD_EXPECT(STATUS_REPLY, "tasks", "['e/1/0']", AXL_ETYPE, "status_reply.tasks[0]");
    FIELD_EXPECT(STATUS_REPLY, "tasks", "[{id:'e/1/0'}]", AXL_EMISSING,
                 "status_reply.tasks[0].state");
    FIELD_EXPECT(STATUS_REPLY, "tasks", "[{state:'failed'}]", AXL_EMISSING,
                 "status_reply.tasks[0].id");
    FIELD_EXPECT(STATUS_REPLY, "tasks", "[{id:'a', state:'failed'}, {id:'a', state:'running'}]",
                 AXL_EINVAL, "status_reply.tasks[1]");
    FIELD_EXPECT(STATUS_REPLY, "tasks", "[{id:'a', state:'failed', id:'b'}]", AXL_EPROTO,
                 "status_reply.tasks[0].id");

    /* status: absent ids = all tasks; [] = none. */
    msgpack_sbuffer *sb = J("{v:1, type:'status'}");
    dec_ok(sb->data, sb->size, &m);
    assert_false(m.status.has_ids);
    assert_int_equal(m.status.n_ids, 0);
    axl_wire_free(&m);
    mpj_free(sb);
    sb = J("{v:1, type:'status', ids:[]}");
    dec_ok(sb->data, sb->size, &m);
    assert_true(m.status.has_ids);
    assert_int_equal(m.status.n_ids, 0);
    axl_wire_free(&m);
    mpj_free(sb);
    /* Unknown keys inside status_reply entries are ignored. */
    sb = J("{v:1, type:'status_reply', tasks:[{id:'a', x:{y:[1]}, state:'running', z:nil}]}");
    dec_ok(sb->data, sb->size, &m);
    assert_int_equal(m.status_reply.n_tasks, 1);
    assert_true(axl_str_eq(m.status_reply.tasks[0].id, "a"));
    assert_int_equal(m.status_reply.tasks[0].state, AXL_TASK_RUNNING);
    axl_wire_free(&m);
    mpj_free(sb);
}

/* ---- raw maps: params and result ----------------------------------------------------------- */

/* Text of a chain of `depth` nested maps {a:{a:...{a:leaf}}}. */
static char *nest_maps(int depth, const char *leaf)
{
    size_t cap = (size_t)depth * 8 + strlen(leaf) + 8, n = 0;
    char *s = malloc(cap);
    for (int i = 0; i < depth; i++)
        n += (size_t)snprintf(s + n, cap - n, "{a:");
    n += (size_t)snprintf(s + n, cap - n, "%s", leaf);
    for (int i = 0; i < depth; i++)
        n += (size_t)snprintf(s + n, cap - n, "}");
    return s;
}

static void t_params_rules(void **state)
{
    (void)state;
    FIELD_EXPECT(TASK, "params", "{}", 0, NULL);
    FIELD_EXPECT(TASK, "params", "[1]", AXL_ETYPE, "task.params");
    FIELD_EXPECT(TASK, "params", "{x:nil}", AXL_ETYPE, "task.params.x");
    FIELD_EXPECT(TASK, "params", "{x:b'raw'}", AXL_ETYPE, "task.params.x");
    FIELD_EXPECT(TASK, "params", "{x:nan}", AXL_ERANGE, "task.params.x");
    FIELD_EXPECT(TASK, "params", "{x:-inf}", AXL_ERANGE, "task.params.x");
    FIELD_EXPECT(TASK, "params", "{x:1, y:-5, z:1.5, f:2.5f, s:'t', b:false}", 0, NULL);
    FIELD_EXPECT(TASK, "params", "{x:18446744073709551615, y:-9223372036854775808}", 0, NULL);
    FIELD_EXPECT(TASK, "params", "{steps:[1, 2.5, -3, 4.5f]}", 0, NULL);
    FIELD_EXPECT(TASK, "params", "{steps:[]}", 0, NULL);
    /* PASCAL's recipes are lists of steps and drops: arrays may hold any value. */
    FIELD_EXPECT(TASK, "params", "{steps:[1, 'x']}", 0, NULL);
    FIELD_EXPECT(TASK, "params", "{steps:[[3000, 2000, 50], [6000, 3000, 10]]}", 0, NULL);
    FIELD_EXPECT(TASK, "params", "{drops:[{v:20, t:-1}, {v:96.5, t:36.2}]}", 0, NULL);
    FIELD_EXPECT(TASK, "params", "{steps:[1, [2, nil]]}", AXL_ETYPE, "task.params.steps[1][1]");
    FIELD_EXPECT(TASK, "params", "{steps:[{a:nil}]}", AXL_ETYPE, "task.params.steps[0].a");
    FIELD_EXPECT(TASK, "params", "{a:[[[[[[[[1]]]]]]]]}", AXL_EDEPTH, "task.params.a");
    FIELD_EXPECT(TASK, "params", "{steps:[1, nan]}", AXL_ERANGE, "task.params.steps[1]");
    FIELD_EXPECT(TASK, "params", "{drop:{temp:nil}}", AXL_ETYPE, "task.params.drop.temp");
    FIELD_EXPECT(TASK, "params", "{drop:{v:[1, b'raw']}}", AXL_ETYPE, "task.params.drop.v[1]");
    FIELD_EXPECT(TASK, "params", "{'':1}", AXL_EINVAL, "empty key");
    FIELD_EXPECT(TASK, "params", "{'a\\0b':1}", AXL_EINVAL, "NUL");
    FIELD_EXPECT(TASK, "params", "{s:'a\\0b'}", AXL_EINVAL, "task.params.s");
    FIELD_EXPECT(TASK, "params", "{x:1, y:2, x:3}", AXL_EPROTO, "'x' appears more than once");
    FIELD_EXPECT(TASK, "params", "{d:{x:1, x:1}}", AXL_EPROTO, "task.params.d");
    FIELD_EXPECT(TASK, "params", "{x:1, d:{x:1}}", 0, NULL); /* same key, other map */
    char *k129 = repeat('k', 129), *k128 = repeat('k', 128);
    char t[300];
    snprintf(t, sizeof(t), "{%s:1}", k128);
    FIELD_EXPECT(TASK, "params", t, 0, NULL);
    snprintf(t, sizeof(t), "{%s:1}", k129);
    FIELD_EXPECT(TASK, "params", t, AXL_ETOOBIG, "task.params");
    free(k128);
    free(k129);
    FIELD_EXPECT(FINISHED, "result", "{x:nil}", AXL_ETYPE, "finished.result.x");
    FIELD_EXPECT(FINISHED, "result", "'spectrum.csv'", AXL_ETYPE, "finished.result");
    FIELD_EXPECT(FINISHED, "result", "{}", 0, NULL);
}

static void t_params_limits(void **state)
{
    (void)state;
    /* Depth: the params map is level 1; AXL_WIRE_MAX_RAW_DEPTH levels pass. */
    char *ok = nest_maps(AXL_WIRE_MAX_RAW_DEPTH - 1, "1");
    char *okarr = nest_maps(AXL_WIRE_MAX_RAW_DEPTH - 2, "[1, 2]");
    char *deep = nest_maps(AXL_WIRE_MAX_RAW_DEPTH, "1");
    char *deeparr = nest_maps(AXL_WIRE_MAX_RAW_DEPTH - 1, "[1]");
    char *t = malloc(1024);
    snprintf(t, 1024, "{x:%s}", ok);
    FIELD_EXPECT(TASK, "params", t, 0, NULL);
    snprintf(t, 1024, "{x:%s}", okarr);
    FIELD_EXPECT(TASK, "params", t, 0, NULL);
    snprintf(t, 1024, "{x:%s}", deep);
    FIELD_EXPECT(TASK, "params", t, AXL_EDEPTH, "task.params.x.a");
    snprintf(t, 1024, "{x:%s}", deeparr);
    FIELD_EXPECT(TASK, "params", t, AXL_EDEPTH, "task.params.x.a");
    free(ok);
    free(okarr);
    free(deep);
    free(deeparr);
    free(t);

    /* Keys: AXL_WIRE_MAX_RAW_KEYS in all, nested maps counted. */
    for (int extra = 0; extra <= 1; extra++) {
        size_t cap = 32 * 1100, n = 0;
        char *p = malloc(cap);
        n += (size_t)snprintf(p + n, cap - n, "{sub:{");
        for (int i = 0; i < AXL_WIRE_MAX_RAW_KEYS - 2 + extra; i++)
            n += (size_t)snprintf(p + n, cap - n, "%sk%d:%d", i ? "," : "", i, i);
        snprintf(p + n, cap - n, "}, last:1}");
        FIELD_EXPECT(TASK, "params", p, extra ? AXL_ETOOBIG : 0, extra ? "task.params" : NULL);
        free(p);
    }
    /* Arrays: AXL_WIRE_MAX_RAW_ARRAY numbers. */
    for (int extra = 0; extra <= 1; extra++) {
        size_t cap = 3 * (AXL_WIRE_MAX_RAW_ARRAY + 1) + 32, n = 0;
        char *p = malloc(cap);
        n += (size_t)snprintf(p + n, cap - n, "{spectrum:[");
        for (int i = 0; i < AXL_WIRE_MAX_RAW_ARRAY + extra; i++)
            n += (size_t)snprintf(p + n, cap - n, "%s1", i ? "," : "");
        snprintf(p + n, cap - n, "]}");
        FIELD_EXPECT(FINISHED, "result", p, extra ? AXL_ETOOBIG : 0,
                     extra ? "finished.result.spectrum" : NULL);
        free(p);
    }
}

/* params and result borrow the exact bytes of the input, to be forwarded unchanged. */
static void t_raw_is_byte_exact(void **state)
{
    (void)state;
    axl_wire_msg m = sample_msg(AXL_WIRE_TASK), d;
    msgpack_sbuffer *sb = enc(&m);
    dec_ok(sb->data, sb->size, &d);
    assert_int_equal(d.task.params.len, m.task.params.len);
    assert_memory_equal(d.task.params.ptr, m.task.params.ptr, m.task.params.len);
    assert_true((const char *)d.task.params.ptr >= sb->data &&
                (const char *)d.task.params.ptr + d.task.params.len <= sb->data + sb->size);
    /* A non-canonical encoding inside params survives too (float32 stays float32). */
    axl_wire_free(&d);
    msgpack_sbuffer_free(sb);
    msgpack_sbuffer *raw = J("{a:1.5f, b:hex'cd 00 01'}");
    sb = J("{v:1, type:'finished', id:'e/1/0', time:1, result:{a:1.5f, b:hex'cd 00 01'}}");
    dec_ok(sb->data, sb->size, &d);
    assert_int_equal(d.finished.result.len, raw->size);
    assert_memory_equal(d.finished.result.ptr, raw->data, raw->size);
    axl_wire_free(&d);
    mpj_free(sb);
    mpj_free(raw);
}

static void t_strings_are_borrowed(void **state)
{
    (void)state;
    axl_wire_msg m = sample_msg(AXL_WIRE_HELLO), d;
    msgpack_sbuffer *sb = enc(&m);
    dec_ok(sb->data, sb->size, &d);
    assert_true(d.hello.worker.ptr > sb->data && d.hello.worker.ptr < sb->data + sb->size);
    assert_true(d.hello.inflight[1].ptr > sb->data &&
                d.hello.inflight[1].ptr < sb->data + sb->size);
    assert_non_null(d.owned_);
    axl_wire_free(&d);
    assert_null(d.owned_);
    axl_wire_free(&d); /* twice is fine */
    msgpack_sbuffer_free(sb);
}

/* ---- forward compatibility ----------------------------------------------------------------- */

static void t_unknown_keys_ignored(void **state)
{
    (void)state;
    static const char *const extras[] = {
        "'x_future':1",
        "'nested':{v:2, type:'other', deep:[[[[1]]]]}",
        "'blob':b'\\x00\\x01'",
        "'nothing':nil",
        "'list':['a', 1, true, nil, {}]",
        "'f':nan",
    };
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++) {
        axl_wire_msg want = sample_msg((axl_wire_type)t), d;
        for (size_t e = 0; e < sizeof(extras) / sizeof(extras[0]); e++) {
            char *s = sample_text((axl_wire_type)t, NULL, NULL);
            /* insert the extra key right after "{" so it also precedes known keys */
            msgpack_sbuffer *sb = J("{%s, %s", extras[e], s + 1);
            dec_ok(sb->data, sb->size, &d);
            expect_eq(&want, &d);
            axl_wire_free(&d);
            mpj_free(sb);
            free(s);
        }
    }
}

static void t_duplicate_keys(void **state)
{
    (void)state;
    WIRE_EXPECT(AXL_EPROTO, "started.id", "{v:1, type:'started', id:'a', time:1, id:'b'}");
    WIRE_EXPECT(AXL_EPROTO, "message.v", "{v:1, type:'started', v:1, id:'a', time:1}");
    WIRE_EXPECT(AXL_EPROTO, "message.type",
                "{v:1, type:'started', type:'ack', id:'a', time:1, state:'running'}");
    WIRE_EXPECT(AXL_EPROTO, "started.time", "{v:1, type:'started', id:'a', time:1, time:nil}");
    WIRE_EXPECT(AXL_EPROTO, "task.params",
                "{v:1, type:'task', id:'e/1/0', experiment:'e', trial:1, index:0, kind:'rest',"
                " params:{}, params:{}}");
    /* Repeated unknown keys are ignored like any unknown key. */
    WIRE_EXPECT(0, NULL, "{v:1, type:'started', x:1, id:'a', x:2, time:1}");
}

/* ---- the encoder refuses what the decoder would ------------------------------------------- */

static void enc_expect(const axl_wire_msg *m, int code, const char *substr, int line)
{
    axl_errbuf eb = {{0}};
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    msgpack_sbuffer_write(sb, "prefix", 6);
    int rv = axl_wire_encode(m, sb, &eb);
    if (rv != code)
        fail_msg("line %d: encode expected %s, got %s (%s)", line, axl_err_name(code),
                 axl_err_name(rv), eb.msg);
    if (substr != NULL && strstr(eb.msg, substr) == NULL)
        fail_msg("line %d: '%s' does not contain '%s'", line, eb.msg, substr);
    if (code != 0) {
        assert_int_equal(sb->size, 6); /* left as it was */
        assert_memory_equal(sb->data, "prefix", 6);
    }
    msgpack_sbuffer_free(sb);
}
#define ENC_EXPECT(m, code, substr) enc_expect(m, code, substr, __LINE__)

static void t_encode_refuses(void **state)
{
    (void)state;
    axl_wire_msg m = sample_msg(AXL_WIRE_HELLO);
    m.hello.capacity = 0;
    ENC_EXPECT(&m, AXL_ERANGE, "hello.capacity");
    m = sample_msg(AXL_WIRE_HELLO);
    m.hello.role = AXL_ROLE_COUNT;
    ENC_EXPECT(&m, AXL_EINVAL, "hello");
    m = sample_msg(AXL_WIRE_HELLO);
    m.hello.worker = (axl_str){NULL, 3};
    ENC_EXPECT(&m, AXL_EINVAL, NULL);
    m = sample_msg(AXL_WIRE_HELLO);
    m.hello.n_inflight = 2;
    m.hello.inflight = NULL;
    ENC_EXPECT(&m, AXL_EINVAL, NULL);
    m = sample_msg(AXL_WIRE_HELLO);
    m.hello.worker = (axl_str){NULL, 0}; /* written as "", refused as empty */
    ENC_EXPECT(&m, AXL_EINVAL, "hello.worker");
    m = sample_msg(AXL_WIRE_HELLO);
    m.hello.time = NAN;
    ENC_EXPECT(&m, AXL_ERANGE, "hello.time");

    m = sample_msg(AXL_WIRE_TASK);
    m.task.index = 4;
    ENC_EXPECT(&m, AXL_EINVAL, "task.id");
    m = sample_msg(AXL_WIRE_TASK);
    m.task.kind = AXL_STR_LIT("Spin");
    ENC_EXPECT(&m, AXL_EINVAL, "task.kind");
    m = sample_msg(AXL_WIRE_TASK);
    m.task.start_at = -1;
    ENC_EXPECT(&m, AXL_ERANGE, "task.start_at");
    m.task.has_start_at = false; /* ignored when absent */
    ENC_EXPECT(&m, 0, NULL);
    m = sample_msg(AXL_WIRE_TASK);
    static const char junk[] = {(char)0x82, (char)0xa1, 'a'}; /* truncated map */
    m.task.params = (axl_raw){junk, sizeof(junk)};
    ENC_EXPECT(&m, AXL_EPROTO, NULL);
    static const char arr[] = {(char)0x91, 0x01};
    m.task.params = (axl_raw){arr, sizeof(arr)};
    ENC_EXPECT(&m, AXL_ETYPE, "task.params");
    msgpack_sbuffer *p = J("{x:nan}");
    m.task.params = (axl_raw){p->data, p->size};
    ENC_EXPECT(&m, AXL_ERANGE, "task.params.x");
    mpj_free(p);
    /* two maps back to back: not one map */
    static const char two[] = {(char)0x80, (char)0x80};
    m.task.params = (axl_raw){two, sizeof(two)};
    ENC_EXPECT(&m, AXL_EPROTO, "trailing");

    m = sample_msg(AXL_WIRE_PROGRESS);
    m.progress.fraction = 1.5;
    ENC_EXPECT(&m, AXL_ERANGE, "progress.fraction");
    m = sample_msg(AXL_WIRE_FAILED);
    m.failed.reason = AXL_STR_LIT("bad \xff");
    ENC_EXPECT(&m, AXL_EPROTO, "UTF-8");
    m = sample_msg(AXL_WIRE_ACK);
    m.ack.state = (axl_task_state)-1;
    ENC_EXPECT(&m, AXL_EINVAL, NULL);
    m = sample_msg(AXL_WIRE_STATUS_REPLY);
    axl_wire_task_state dup[] = {{AXL_STR_LIT("a"), AXL_TASK_RUNNING},
                                 {AXL_STR_LIT("a"), AXL_TASK_FAILED}};
    m.status_reply.tasks = dup;
    ENC_EXPECT(&m, AXL_EINVAL, "status_reply.tasks[1]");
    m = sample_msg(AXL_WIRE_STATUS);
    m.status.n_ids = AXL_WIRE_MAX_IDS + 1;
    ENC_EXPECT(&m, AXL_ETOOBIG, NULL);
    m = sample_msg(AXL_WIRE_ERROR);
    m.error.code = 0;
    ENC_EXPECT(&m, AXL_EINVAL, "error.code");
    m.error.code = -999;
    ENC_EXPECT(&m, AXL_EINVAL, "error.code");
    m.error.code = 5;
    ENC_EXPECT(&m, AXL_EINVAL, "error.code");
    m = (axl_wire_msg){.type = AXL_WIRE_TYPE_COUNT};
    ENC_EXPECT(&m, AXL_EINVAL, "message.type");
}

static void t_encode_error_reply(void **state)
{
    (void)state;
    axl_wire_msg d;
    axl_errbuf eb = {{0}};
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    assert_int_equal(
        axl_wire_encode_error(AXL_EMISSING, "task.id: required field missing", sb, &eb), 0);
    dec_ok(sb->data, sb->size, &d);
    assert_int_equal(d.type, AXL_WIRE_ERROR);
    assert_int_equal(d.error.code, AXL_EMISSING);
    assert_true(axl_str_eq(d.error.code_name, "AXL_EMISSING"));
    assert_true(axl_str_eq(d.error.msg, "task.id: required field missing"));
    axl_wire_free(&d);
    msgpack_sbuffer_clear(sb);

    assert_int_equal(axl_wire_encode_error(AXL_EVERSION, NULL, sb, &eb), 0);
    dec_ok(sb->data, sb->size, &d);
    assert_true(axl_str_eq(d.error.msg, axl_strerror(AXL_EVERSION)));
    axl_wire_free(&d);
    msgpack_sbuffer_clear(sb);

    /* Long messages are cut at a UTF-8 boundary; stray bytes become '?'. */
    char *lng = malloc(3000);
    memset(lng, 'a', 1023);
    strcpy(lng + 1023, "\xe2\x82\xac and more"); /* a 3-byte euro sign across the cut */
    assert_int_equal(axl_wire_encode_error(AXL_EPROTO, lng, sb, &eb), 0);
    dec_ok(sb->data, sb->size, &d);
    assert_int_equal(d.error.msg.len, 1023);
    axl_wire_free(&d);
    msgpack_sbuffer_clear(sb);
    assert_int_equal(axl_wire_encode_error(AXL_EPROTO, "bad \xff byte \xe2\x82", sb, &eb), 0);
    dec_ok(sb->data, sb->size, &d);
    assert_true(axl_str_eq(d.error.msg, "bad ? byte ??"));
    axl_wire_free(&d);
    msgpack_sbuffer_clear(sb);
    free(lng);

    assert_int_equal(axl_wire_encode_error(0, "fine", sb, &eb), AXL_EINVAL);
    assert_int_equal(axl_wire_encode_error(-1000, "what", sb, &eb), AXL_EINVAL);
    assert_int_equal(sb->size, 0);
    msgpack_sbuffer_free(sb);

    /* The intended use: a decode failure answered with its own code and message. */
    msgpack_sbuffer *bad = J("{v:1, type:'ack', id:'e/1/0'}");
    sb = msgpack_sbuffer_new();
    int rv = axl_wire_decode(bad->data, bad->size, &d, &eb);
    assert_int_equal(rv, AXL_EMISSING);
    assert_int_equal(axl_wire_encode_error(rv, eb.msg, sb, NULL), 0);
    dec_ok(sb->data, sb->size, &d);
    assert_true(axl_str_eq(d.error.code_name, "AXL_EMISSING"));
    assert_true(axl_str_eq(d.error.msg, "ack.state: required field missing"));
    axl_wire_free(&d);
    msgpack_sbuffer_free(sb);
    mpj_free(bad);
}

static void t_task_id_helper(void **state)
{
    (void)state;
    char id[AXL_WIRE_MAX_ID + 1];
    axl_errbuf eb;
    assert_int_equal(axl_wire_task_id(id, sizeof(id), AXL_STR_LIT("exp"), 12, 3, &eb), 0);
    assert_string_equal(id, "exp/12/3");
    assert_int_equal(axl_wire_task_id(id, sizeof(id), axl_str_c("x"), UINT32_MAX, UINT32_MAX, &eb),
                     0);
    assert_string_equal(id, "x/4294967295/4294967295");
    assert_int_equal(axl_wire_task_id(id, 5, AXL_STR_LIT("exp"), 12, 3, &eb), AXL_ETOOBIG);
    assert_int_equal(axl_wire_task_id(id, sizeof(id), AXL_STR_LIT(""), 1, 2, &eb), AXL_EINVAL);
    assert_int_equal(axl_wire_task_id(id, sizeof(id), AXL_STR_LIT("a\nb"), 1, 2, &eb), AXL_EINVAL);
    char *e120 = repeat('e', 120);
    assert_int_equal(axl_wire_task_id(id, sizeof(id), axl_str_c(e120), 100, 1000, &eb),
                     AXL_ETOOBIG);
    assert_int_equal(axl_wire_task_id(id, sizeof(id), axl_str_c(e120), 10, 10, &eb), 0);
    assert_int_equal(strlen(id), 126);
    free(e120);
}

static void t_names(void **state)
{
    (void)state;
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++) {
        axl_wire_type back;
        const char *n = axl_wire_type_name((axl_wire_type)t);
        assert_int_equal(axl_wire_type_parse(n, strlen(n), &back), 0);
        assert_int_equal(back, t);
    }
    for (int r = 0; r < AXL_ROLE_COUNT; r++) {
        axl_worker_role back;
        const char *n = axl_worker_role_name((axl_worker_role)r);
        assert_int_equal(axl_worker_role_parse(n, strlen(n), &back), 0);
        assert_int_equal(back, r);
    }
    for (int s = 0; s < AXL_TASK_STATE_COUNT; s++) {
        axl_task_state back;
        const char *n = axl_task_state_name((axl_task_state)s);
        assert_int_equal(axl_task_state_parse(n, strlen(n), &back), 0);
        assert_int_equal(back, s);
    }
    axl_wire_type t;
    assert_int_equal(axl_wire_type_parse("hell", 4, &t), AXL_ERANGE);
    assert_int_equal(axl_wire_type_parse("hello!", 6, &t), AXL_ERANGE);
    assert_int_equal(axl_wire_type_parse(NULL, 0, &t), AXL_ERANGE);
    assert_string_equal(axl_wire_type_name(AXL_WIRE_TYPE_COUNT), "?");
    assert_string_equal(axl_worker_role_name((axl_worker_role)-1), "?");
    assert_string_equal(axl_task_state_name(AXL_TASK_STATE_COUNT), "?");
    assert_string_equal(axl_wire_type_name(AXL_WIRE_STATUS_REPLY), "status_reply");
    assert_string_equal(axl_worker_role_name(AXL_ROLE_CHARACTERIZATION), "characterization");
    assert_string_equal(axl_task_state_name(AXL_TASK_UNKNOWN), "unknown");
}

static void t_raw_check_api(void **state)
{
    (void)state;
    axl_errbuf eb;
    msgpack_sbuffer *p =
        J("{spin:{rpm:[3000, 6000], accel:[1500, 3000], s:[10, 30]}, antisolvent:'chlorobenzene'}");
    assert_int_equal(axl_wire_raw_check(p->data, p->size, "recipe", &eb), 0);
    mpj_free(p);
    p = J("{spin:{rpm:'fast', x:nil}}");
    assert_int_equal(axl_wire_raw_check(p->data, p->size, "recipe", &eb), AXL_ETYPE);
    assert_string_equal(eb.msg, "recipe.spin.x: expected a number, string, boolean, array or map");
    mpj_free(p);
    assert_int_equal(axl_wire_raw_check("", 0, NULL, &eb), AXL_EPROTO);
    assert_int_equal(axl_wire_raw_check("\xc0", 1, NULL, &eb), AXL_ETYPE);
}

const struct CMUnitTest wire_tests[] = {
    cmocka_unit_test(t_roundtrip_every_type),   cmocka_unit_test(t_roundtrip_optional_and_empty),
    cmocka_unit_test(t_key_order_and_header),   cmocka_unit_test(t_readme_example),
    cmocka_unit_test(t_missing_and_nil_fields), cmocka_unit_test(t_wrong_types),
    cmocka_unit_test(t_version_and_type),       cmocka_unit_test(t_ranges),
    cmocka_unit_test(t_number_encodings),       cmocka_unit_test(t_lengths),
    cmocka_unit_test(t_id_array_lengths),       cmocka_unit_test(t_string_rules),
    cmocka_unit_test(t_error_codes_by_name),    cmocka_unit_test(t_id_arrays),
    cmocka_unit_test(t_params_rules),           cmocka_unit_test(t_params_limits),
    cmocka_unit_test(t_raw_is_byte_exact),      cmocka_unit_test(t_strings_are_borrowed),
    cmocka_unit_test(t_unknown_keys_ignored),   cmocka_unit_test(t_duplicate_keys),
    cmocka_unit_test(t_encode_refuses),         cmocka_unit_test(t_encode_error_reply),
    cmocka_unit_test(t_task_id_helper),         cmocka_unit_test(t_names),
    cmocka_unit_test(t_raw_check_api),
};
const size_t n_wire_tests = sizeof(wire_tests) / sizeof(wire_tests[0]);
