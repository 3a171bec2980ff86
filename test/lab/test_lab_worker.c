/*
 * test_lab_worker.c - protocol conformance of `axle worker`, every role, as real child
 * processes on ipc:// sockets, with a raw PAIR1 client playing the engine: hello and
 * heartbeats, ack / started / finished with a result, a repeated task id answered with
 * its state and never run again, status / status_reply, refusals that never crash, a
 * restart with tasks in flight (journal), injected crash and hang.
 */
#include "lab_proc.h"

#include <gsl/gsl_errno.h>

#include "hw/worker/axl_worker.h"
#include "proto/axl_proto.h"

#define EXP "conf"

typedef struct fixture {
    char dir[256];
    char addr[320];
    pid_t pid;
    lp_client c;
} fixture;

static void start(fixture *f, const char *role, const char *const *extra)
{
    lab_tmpdir(f->dir, sizeof(f->dir));
    snprintf(f->addr, sizeof(f->addr), "ipc://%s/w.ipc", f->dir);
    f->pid = lp_spawn_worker(role, f->addr, f->dir, extra);
    lp_connect(&f->c, f->addr);
}

/* The worker goes first: closing a socket whose peer still talks can deadlock inside
 * libnng 1.5.2 (hw/README.md, "nng notes"). */
static void finish(fixture *f)
{
    lp_stop(f->pid);
    lp_close(&f->c);
    lp_rmtree(f->dir);
}

static void task_id(char *buf, uint32_t trial, uint32_t index)
{
    assert_int_equal(axl_wire_task_id(buf, AXL_WIRE_MAX_ID + 1, axl_str_c(EXP), trial, index, NULL),
                     0);
}

static void send_status(lp_client *c, const char *const *ids, uint32_t n, bool all)
{
    axl_str s[8];
    for (uint32_t i = 0; i < n; i++)
        s[i] = axl_str_c(ids[i]);
    axl_wire_msg m = {.type = AXL_WIRE_STATUS};
    m.status.has_ids = !all;
    m.status.n_ids = n;
    m.status.ids = s;
    lp_send(c, &m);
}

/* The state of id in a status_reply; AXL_TASK_STATE_COUNT when it is not listed. */
static axl_task_state state_in(const lp_msg *r, const char *id)
{
    for (uint32_t i = 0; i < r->m.status_reply.n_tasks; i++)
        if (axl_str_eq(r->m.status_reply.tasks[i].id, id))
            return r->m.status_reply.tasks[i].state;
    return AXL_TASK_STATE_COUNT;
}

static void test_every_role_conforms(void **state)
{
    (void)state;
    static const char *const speed[] = {"--speed", "100000", NULL};
    for (int role = 0; role < AXL_ROLE_COUNT; role++) {
        fixture f;
        const char *name = axl_worker_role_name((axl_worker_role)role);
        start(&f, name, speed);
        lp_msg m;

        /* hello: first on the connection, the role's identity and capacity, nothing held */
        lp_expect(&f.c, AXL_WIRE_HELLO, &m);
        assert_true(axl_str_eq(m.m.hello.worker, name));
        assert_int_equal(m.m.hello.role, role);
        assert_int_equal(m.m.hello.capacity, axl_worker_default_capacity((axl_worker_role)role));
        assert_int_equal(m.m.hello.n_inflight, 0);
        lp_msg_free(&m);

        /* heartbeats: the worker's id and role, seq from 0 on this connection */
        void *buf;
        size_t len;
        axl_wire_msg hb;
        assert_int_equal(nng_recv(f.c.s, &buf, &len, NNG_FLAG_ALLOC), 0);
        assert_int_equal(axl_wire_decode(buf, len, &hb, NULL), 0);
        assert_int_equal(hb.type, AXL_WIRE_HEARTBEAT);
        assert_true(axl_str_eq(hb.heartbeat.worker, name));
        assert_int_equal(hb.heartbeat.role, role);
        assert_int_equal(hb.heartbeat.seq, 0);
        axl_wire_free(&hb);
        nng_free(buf, len);

        /* a task: ack accepted, started, finished with the driver's result */
        uint32_t index = lp_seed_index((axl_worker_role)role);
        char id[AXL_WIRE_MAX_ID + 1];
        task_id(id, 1, index);
        if (role == AXL_ROLE_CHARACTERIZATION) /* the film its line's spin coat and anneal made */
            lp_sim_film(f.dir, EXP, "sample1", 96, 66, -13.75, 1980);
        lp_send_seed_task(&f.c, EXP, 1, index, 0);
        lp_expect(&f.c, AXL_WIRE_ACK, &m);
        assert_true(axl_str_eq(m.m.ack.id, id));
        assert_int_equal(m.m.ack.state, AXL_TASK_ACCEPTED);
        lp_msg_free(&m);
        lp_expect(&f.c, AXL_WIRE_STARTED, &m);
        assert_true(axl_str_eq(m.m.started.id, id));
        lp_msg_free(&m);
        lp_expect(&f.c, AXL_WIRE_FINISHED, &m);
        assert_true(axl_str_eq(m.m.finished.id, id));
        assert_non_null(m.m.finished.result.ptr);
        void *first_result = malloc(m.m.finished.result.len);
        size_t first_len = m.m.finished.result.len;
        memcpy(first_result, m.m.finished.result.ptr, first_len);
        if (role == AXL_ROLE_CHARACTERIZATION) {
            axl_msg r;
            const char *path;
            size_t plen;
            double in, ev;
            assert_int_equal(
                axl_msg_parse(&r, m.m.finished.result.ptr, m.m.finished.result.len, NULL), 0);
            assert_int_equal(axl_obj_str(&r.root, "r", "spectrum", true, 4096, &path, &plen, NULL),
                             0);
            assert_int_equal(axl_obj_num(&r.root, "r", "pl_intensity", true, 0, 1e9, &in, NULL), 0);
            assert_int_equal(axl_obj_num(&r.root, "r", "pl_peak_ev", true, 0, 10, &ev, NULL), 0);
            /* The film at the model's optimum: 10,000 counts/s, 5 % film-to-film. */
            assert_true(in > 8000 && in < 12000);
            assert_near(ev, 1.63, 0.05);
            char want[512], got[512];
            snprintf(want, sizeof(want), "%s/%s/PL/sample1_pl.csv", f.dir, EXP);
            snprintf(got, sizeof(got), "%.*s", (int)plen, path);
            assert_string_equal(got, want);
            assert_int_equal(access(want, R_OK), 0);
            axl_msg_free(&r);
        }
        lp_msg_free(&m);

        /* the same id again: its state and its outcome again, never run twice */
        lp_send_seed_task(&f.c, EXP, 1, index, 0);
        lp_expect(&f.c, AXL_WIRE_ACK, &m);
        assert_int_equal(m.m.ack.state, AXL_TASK_FINISHED);
        lp_msg_free(&m);
        lp_expect(&f.c, AXL_WIRE_FINISHED, &m);
        assert_int_equal(m.m.finished.result.len, first_len);
        assert_memory_equal(m.m.finished.result.ptr, first_result, first_len);
        lp_msg_free(&m);
        free(first_result);

        /* status: asked ids (unknown for one never seen), then all; no `started` between */
        const char *ids[2] = {id, EXP "/9/9"};
        send_status(&f.c, ids, 2, false);
        lp_expect(&f.c, AXL_WIRE_STATUS_REPLY, &m);
        assert_int_equal(m.m.status_reply.n_tasks, 2);
        assert_int_equal(state_in(&m, id), AXL_TASK_FINISHED);
        assert_int_equal(state_in(&m, EXP "/9/9"), AXL_TASK_UNKNOWN);
        lp_msg_free(&m);
        send_status(&f.c, NULL, 0, true);
        lp_expect(&f.c, AXL_WIRE_STATUS_REPLY, &m);
        assert_int_equal(m.m.status_reply.n_tasks, 1);
        assert_int_equal(state_in(&m, id), AXL_TASK_FINISHED);
        lp_msg_free(&m);

        kill(f.pid, SIGTERM);
        int st = lp_wait(f.pid, 5);
        assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        f.pid = 0;
        lp_close(&f.c);
        lp_rmtree(f.dir);
    }
}

static void expect_error(lp_client *c, int code)
{
    lp_msg m;
    lp_expect(c, AXL_WIRE_ERROR, &m);
    assert_int_equal(m.m.error.code, code);
    assert_true(m.m.error.msg.len > 0);
    lp_msg_free(&m);
}

static void test_refusals_never_crash(void **state)
{
    (void)state;
    static const char *const speed[] = {"--speed", "100000", NULL};
    fixture f;
    lp_msg m;
    start(&f, "spincoater", speed);
    lp_expect(&f.c, AXL_WIRE_HELLO, &m);
    lp_msg_free(&m);

    /* not msgpack, wrong version, wrong direction, unknown type, too big */
    lp_send_raw(&f.c, "\xc1garbage", 8);
    expect_error(&f.c, AXL_EPROTO);
    static const unsigned char v2[] = {0x82, 0xa1, 'v',  0x02, 0xa4, 't', 'y',
                                       'p',  'e',  0xa3, 'a',  'c',  'k'};
    lp_send_raw(&f.c, v2, sizeof(v2));
    expect_error(&f.c, AXL_EVERSION);
    axl_wire_msg ack = {.type = AXL_WIRE_ACK};
    ack.ack.id = axl_str_c(EXP "/1/1");
    ack.ack.state = AXL_TASK_RUNNING;
    lp_send(&f.c, &ack);
    expect_error(&f.c, AXL_ENOTSUP);
    static const unsigned char dance[] = {0x82, 0xa1, 'v', 0x01, 0xa4, 't', 'y', 'p',
                                          'e',  0xa5, 'd', 'a',  'n',  'c', 'e'};
    lp_send_raw(&f.c, dance, sizeof(dance));
    expect_error(&f.c, AXL_ENOTSUP);
    size_t big = (3u << 19); /* 1.5 MiB: over proto's limit, under the socket's */
    char *blob = calloc(1, big);
    lp_send_raw(&f.c, blob, big);
    free(blob);
    expect_error(&f.c, AXL_ETOOBIG);
    /* an error is never answered: the next reply is the status asked after it */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_wire_encode_error(AXL_EINVAL, "test", &sb, NULL), 0);
    lp_send_raw(&f.c, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    /* a task the role does not run: acked failed, reported failed, not retryable */
    lp_send_seed_task(&f.c, EXP, 2, 3, 0); /* an anneal */
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    assert_int_equal(m.m.ack.state, AXL_TASK_ACCEPTED);
    lp_msg_free(&m);
    lp_expect(&f.c, AXL_WIRE_FAILED, &m);
    assert_non_null(memmem(m.m.failed.reason.ptr, m.m.failed.reason.len, "does not run", 12));
    assert_false(m.m.failed.retryable);
    lp_msg_free(&m);

    /* params out of PASCAL's ranges: failed with the field named */
    axl_recipe r;
    axl_chain ch;
    axl_task_spec spec;
    axl_recipe_seed(96, 66, -13.75, 1980, &r);
    r.task[0].u.spincoat.step[0].rpm = 100;
    axl_recipe ok;
    axl_recipe_seed(96, 66, -13.75, 1980, &ok);
    assert_int_equal(axl_chain_from_recipe(&ok, &ch, NULL), 0);
    axl_task_spec_from_chain(&ch, 1, &r, "sample3", &spec);
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    assert_int_equal(axl_task_spec_encode(&spec, &params, NULL), 0);
    axl_wire_msg t = {.type = AXL_WIRE_TASK};
    t.task.id = axl_str_c(EXP "/3/1");
    t.task.experiment = axl_str_c(EXP);
    t.task.trial = 3;
    t.task.index = 1;
    t.task.kind = axl_str_c("spincoat");
    t.task.params = (axl_raw){params.data, params.size};
    lp_send(&f.c, &t);
    msgpack_sbuffer_destroy(&params);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    lp_msg_free(&m);
    lp_expect(&f.c, AXL_WIRE_FAILED, &m);
    assert_non_null(memmem(m.m.failed.reason.ptr, m.m.failed.reason.len, "rpm", 3));
    lp_msg_free(&m);

    /* cancel: unknown id -> unknown; a waiting task -> failed, and it never starts */
    axl_wire_msg cancel = {.type = AXL_WIRE_CANCEL};
    cancel.cancel.id = axl_str_c(EXP "/8/8");
    cancel.cancel.reason = axl_str_c("test");
    lp_send(&f.c, &cancel);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    assert_int_equal(m.m.ack.state, AXL_TASK_UNKNOWN);
    lp_msg_free(&m);
    lp_send_seed_task(&f.c, EXP, 4, 1, lp_wall() + 0.3);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    assert_int_equal(m.m.ack.state, AXL_TASK_ACCEPTED);
    lp_msg_free(&m);
    cancel.cancel.id = axl_str_c(EXP "/4/1");
    lp_send(&f.c, &cancel);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    assert_int_equal(m.m.ack.state, AXL_TASK_FAILED);
    lp_msg_free(&m);
    lp_sleep_ms(400); /* past its start time */
    const char *ids[1] = {EXP "/4/1"};
    send_status(&f.c, ids, 1, false);
    lp_expect(&f.c, AXL_WIRE_STATUS_REPLY, &m); /* fails if a `started` came first */
    assert_int_equal(state_in(&m, EXP "/4/1"), AXL_TASK_FAILED);
    lp_msg_free(&m);

    /* still alive and well */
    assert_int_equal(kill(f.pid, 0), 0);
    assert_int_equal(waitpid(f.pid, NULL, WNOHANG), 0);
    finish(&f);
}

/* Records with "st": "running" per task id in a worker journal. */
static int runs_in_journal(const char *path, const char *id)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    int runs = 0;
    for (size_t off = 0; off < len;) {
        size_t n;
        axl_msg m;
        if (axl_mp_next(buf + off, len - off, &n, NULL) != 0)
            break;
        assert_int_equal(axl_msg_parse(&m, buf + off, n, NULL), 0);
        const char *s, *st;
        size_t sl, stl;
        if (axl_obj_str(&m.root, "j", "id", true, 128, &s, &sl, NULL) == 0 &&
            axl_obj_str(&m.root, "j", "st", true, 16, &st, &stl, NULL) == 0 && sl == strlen(id) &&
            memcmp(s, id, sl) == 0 && stl == 7 && memcmp(st, "running", 7) == 0)
            runs++;
        axl_msg_free(&m);
        off += n;
    }
    return runs;
}

static void test_restart_with_tasks_in_flight_runs_nothing_twice(void **state)
{
    (void)state;
    /* Rests of 180 s at 100x: 1.8 s. A runs when the worker is killed; B waits for its
     * start time. */
    static const char *const speed[] = {"--speed", "100", NULL};
    fixture f;
    lp_msg m;
    char a[AXL_WIRE_MAX_ID + 1], b[AXL_WIRE_MAX_ID + 1];
    task_id(a, 1, 5);
    task_id(b, 2, 5);
    start(&f, "storage", speed);
    lp_expect(&f.c, AXL_WIRE_HELLO, &m);
    lp_msg_free(&m);
    lp_send_seed_task(&f.c, EXP, 1, 5, 0);
    lp_send_seed_task(&f.c, EXP, 2, 5, lp_wall() + 0.6);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    lp_msg_free(&m);
    lp_expect(&f.c, AXL_WIRE_STARTED, &m);
    assert_true(axl_str_eq(m.m.started.id, a));
    lp_msg_free(&m);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    assert_true(axl_str_eq(m.m.ack.id, b));
    lp_msg_free(&m);

    kill(f.pid, SIGKILL);
    assert_true(lp_wait(f.pid, 5) != -1);
    static const char *const again[] = {"--speed", "100", NULL};
    f.pid = lp_spawn_worker("storage", f.addr, f.dir, again);

    /* The client re-dials by itself. A was interrupted: failed, not held; B still held. */
    lp_expect(&f.c, AXL_WIRE_HELLO, &m);
    assert_int_equal(m.m.hello.n_inflight, 1);
    assert_true(axl_str_eq(m.m.hello.inflight[0], b));
    lp_msg_free(&m);
    const char *ids[2] = {a, b};
    send_status(&f.c, ids, 2, false);
    lp_expect(&f.c, AXL_WIRE_STATUS_REPLY, &m);
    assert_int_equal(state_in(&m, a), AXL_TASK_FAILED);
    axl_task_state sb = state_in(&m, b);
    assert_true(sb == AXL_TASK_ACCEPTED || sb == AXL_TASK_RUNNING);
    lp_msg_free(&m);

    /* A again: the failure again, not a second run. */
    lp_send_seed_task(&f.c, EXP, 1, 5, 0);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    assert_int_equal(m.m.ack.state, AXL_TASK_FAILED);
    lp_msg_free(&m);
    lp_expect(&f.c, AXL_WIRE_FAILED, &m);
    assert_non_null(memmem(m.m.failed.reason.ptr, m.m.failed.reason.len, "interrupted", 11));
    lp_msg_free(&m);

    /* B runs once, from the journal, at its time. */
    int started_b = 0;
    for (;;) {
        assert_int_equal(lp_recv(&f.c, &m, NULL), 0);
        axl_wire_type t = m.m.type;
        bool is_b = (t == AXL_WIRE_STARTED && axl_str_eq(m.m.started.id, b)) ||
                    (t == AXL_WIRE_FINISHED && axl_str_eq(m.m.finished.id, b));
        started_b += t == AXL_WIRE_STARTED && is_b;
        lp_msg_free(&m);
        if (t == AXL_WIRE_FINISHED && is_b)
            break;
    }
    assert_true(started_b <= 1); /* it may have started before the client was back */

    char journal[512];
    snprintf(journal, sizeof(journal), "%s/workers/storage.journal", f.dir);
    assert_int_equal(runs_in_journal(journal, a), 1);
    assert_int_equal(runs_in_journal(journal, b), 1);
    finish(&f);
}

static void test_crash_after_kills_the_worker_mid_task(void **state)
{
    (void)state;
    static const char *const opts[] = {"--speed", "100", "--crash-after", "0", NULL};
    fixture f;
    lp_msg m;
    start(&f, "spincoater", opts);
    lp_expect(&f.c, AXL_WIRE_HELLO, &m);
    lp_msg_free(&m);
    lp_send_seed_task(&f.c, EXP, 1, 1, 0);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    lp_msg_free(&m);
    lp_expect(&f.c, AXL_WIRE_STARTED, &m);
    lp_msg_free(&m);
    int st = lp_wait(f.pid, 5);
    assert_true(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    f.pid = 0;
    finish(&f);
}

static void test_hang_after_stops_everything_but_the_connection(void **state)
{
    (void)state;
    static const char *const opts[] = {"--speed", "100", "--hang-after", "0", NULL};
    fixture f;
    lp_msg m;
    start(&f, "gripper", opts);
    lp_expect(&f.c, AXL_WIRE_HELLO, &m);
    lp_msg_free(&m);
    lp_send_seed_task(&f.c, EXP, 1, 0, 0);
    lp_expect(&f.c, AXL_WIRE_ACK, &m);
    lp_msg_free(&m);
    lp_expect(&f.c, AXL_WIRE_STARTED, &m);
    lp_msg_free(&m);
    /* Ten heartbeat periods of silence, then a status that is never answered. */
    nng_socket_set_ms(f.c.s, NNG_OPT_RECVTIMEO, 500);
    int beats = 0;
    assert_int_equal(lp_recv(&f.c, &m, &beats), NNG_ETIMEDOUT);
    assert_true(beats <= 1); /* at most one already in flight */
    send_status(&f.c, NULL, 0, true);
    assert_int_equal(lp_recv(&f.c, &m, &beats), NNG_ETIMEDOUT);
    assert_int_equal(waitpid(f.pid, NULL, WNOHANG), 0); /* alive, just hung */
    kill(f.pid, SIGTERM);                               /* a hung worker still dies */
    int st = lp_wait(f.pid, 5);
    assert_true(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    f.pid = 0;
    finish(&f);
}

/* The id of the next STARTED message (other messages skipped). */
static void next_started(lp_client *c, char *id)
{
    lp_msg m;
    for (;;) {
        assert_int_equal(lp_recv(c, &m, NULL), 0);
        bool started = m.m.type == AXL_WIRE_STARTED;
        if (started)
            snprintf(id, AXL_WIRE_MAX_ID + 1, "%.*s", (int)m.m.started.id.len, m.m.started.id.ptr);
        lp_msg_free(&m);
        if (started)
            return;
    }
}

/* Tasks start in the order of their start times, then of arrival - never in the order
 * their millisecond timers happen to fire (the engine sends a move onto a station right
 * behind the move that clears it, engine/lab/clearing.c). */
static void test_tasks_start_in_start_time_order(void **state)
{
    (void)state;
    static const char *const speed[] = {"--speed", "100", NULL};
    fixture f;
    lp_msg m;
    char id[AXL_WIRE_MAX_ID + 1], first[AXL_WIRE_MAX_ID + 1], second[AXL_WIRE_MAX_ID + 1];
    start(&f, "gripper", speed);
    lp_expect(&f.c, AXL_WIRE_HELLO, &m);
    lp_msg_free(&m);
    for (uint32_t round = 0; round < 4; round++) {
        /* Even rounds: equal start times, so arrival order. Odd rounds: the later one to
         * arrive is due 0.4 ms earlier, so it starts first. */
        double at = lp_wall() + 0.15;
        uint32_t a = 10 + 2 * round, b = a + 1;
        lp_send_seed_task(&f.c, EXP, a, 0, at);
        lp_send_seed_task(&f.c, EXP, b, 0, round % 2 ? at - 0.0004 : at);
        task_id(first, round % 2 ? b : a, 0);
        task_id(second, round % 2 ? a : b, 0);
        next_started(&f.c, id);
        assert_string_equal(id, first);
        next_started(&f.c, id);
        assert_string_equal(id, second);
    }
    finish(&f);
}

int main(void)
{
    gsl_set_error_handler_off();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_every_role_conforms, lp_kill_all),
        cmocka_unit_test_teardown(test_refusals_never_crash, lp_kill_all),
        cmocka_unit_test_teardown(test_restart_with_tasks_in_flight_runs_nothing_twice,
                                  lp_kill_all),
        cmocka_unit_test_teardown(test_crash_after_kills_the_worker_mid_task, lp_kill_all),
        cmocka_unit_test_teardown(test_hang_after_stops_everything_but_the_connection, lp_kill_all),
        cmocka_unit_test_teardown(test_tasks_start_in_start_time_order, lp_kill_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
