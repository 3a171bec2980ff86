/*
 * test_lab_link.c - the engine's end of a worker connection (hw/worker/axl_link.h) against real
 * `axle worker` processes: up on hello, kept alive by heartbeats, lost by the heartbeat
 * timer (not before) when the worker is SIGKILLed or hangs, up again when it restarts;
 * and against a fake worker: refusals answered with `error`, a wrong role never up.
 */
#include "lab_proc.h"

#include <gsl/gsl_errno.h>
#include <uv.h>

#include "hw/worker/axl_link.h"

#define TIMEOUT_MS 300

typedef struct rec {
    int ups, hellos, losts, msgs, beats, started;
    double lost_at, last_msg_at;
    double silent_ms;
    axl_worker_role hello_role;
    bool stop_on_up, stop_on_lost, stop_on_started;
    uv_loop_t *loop;
} rec;

static void on_up(axl_link *l, const axl_wire_hello *h)
{
    rec *r = axl_link_data(l);
    r->ups++;
    if (h != NULL) {
        r->hellos++;
        r->hello_role = h->role;
    }
    if (r->stop_on_up)
        uv_stop(r->loop);
}

static void on_msg(axl_link *l, const axl_wire_msg *m)
{
    rec *r = axl_link_data(l);
    r->msgs++;
    r->last_msg_at = lp_now();
    r->beats += m->type == AXL_WIRE_HEARTBEAT;
    if (m->type == AXL_WIRE_STARTED) {
        r->started++;
        if (r->stop_on_started)
            uv_stop(r->loop);
    }
}

static void on_lost(axl_link *l, double silent_ms)
{
    rec *r = axl_link_data(l);
    r->losts++;
    r->lost_at = lp_now();
    r->silent_ms = silent_ms;
    if (r->stop_on_lost)
        uv_stop(r->loop);
}

static void deadline_cb(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop until a callback stops it or ms pass; returns true when stopped early. */
static bool run_for(uv_loop_t *loop, double ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, deadline_cb, (uint64_t)ms, 0);
    double t0 = lp_now();
    uv_run(loop, UV_RUN_DEFAULT);
    bool early = (lp_now() - t0) * 1e3 < ms - 1;
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return early;
}

static void open_link(uv_loop_t *loop, const char *addr, axl_worker_role role, rec *r, axl_link **l)
{
    axl_link_cbs cbs = {.data = r, .on_up = on_up, .on_msg = on_msg, .on_lost = on_lost};
    axl_link_opts o = {addr, role, TIMEOUT_MS, 5000};
    r->loop = loop;
    axl_errbuf eb = {{0}};
    if (axl_link_open(loop, &o, &cbs, l, &eb) != 0)
        fail_msg("%s", eb.msg);
}

static void close_link(uv_loop_t *loop, axl_link *l)
{
    axl_link_close(l, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_heartbeat_timer_detects_a_killed_worker(void **state)
{
    (void)state;
    char dir[256], addr[320];
    uv_loop_t loop;
    rec r = {0};
    axl_link *l;
    lab_tmpdir(dir, sizeof(dir));
    snprintf(addr, sizeof(addr), "ipc://%s/sc.ipc", dir);
    uv_loop_init(&loop);
    open_link(&loop, addr, AXL_ROLE_SPINCOATER, &r, &l); /* dials before the worker exists */
    pid_t pid = lp_spawn_worker("spincoater", addr, dir, NULL);

    r.stop_on_up = true;
    assert_true(run_for(&loop, 5000));
    assert_int_equal(r.hellos, 1);
    assert_int_equal(r.hello_role, AXL_ROLE_SPINCOATER);
    assert_true(axl_link_up(l));
    assert_string_equal(axl_link_worker(l), "spincoater");

    /* Heartbeats every 50 ms keep a 300 ms deadline from firing. */
    r.stop_on_up = false;
    assert_false(run_for(&loop, 4 * TIMEOUT_MS));
    assert_int_equal(r.losts, 0);
    assert_true(r.beats >= 10);

    /* Killed: nothing arrives any more; the timer says so once the deadline passes. */
    kill(pid, SIGKILL);
    assert_true(lp_wait(pid, 5) != -1);
    double killed = lp_now();
    r.stop_on_lost = true;
    assert_true(run_for(&loop, 5000));
    assert_int_equal(r.losts, 1);
    assert_false(axl_link_up(l));
    /* The deadline is counted from the last message the loop took (silent_ms), not from
     * the kill: under load the loop may take the last beats late, so a wall-clock lower
     * bound against the kill would test the machine's load, not the timer. */
    assert_true((r.lost_at - killed) * 1e3 < TIMEOUT_MS + 1500);
    assert_true(r.silent_ms >= TIMEOUT_MS - 5);

    /* Restarted: the link re-dials by itself and is up again on its hello. */
    pid = lp_spawn_worker("spincoater", addr, dir, NULL);
    r.stop_on_lost = false;
    r.stop_on_up = true;
    assert_true(run_for(&loop, 5000));
    assert_int_equal(r.hellos, 2);
    assert_true(axl_link_up(l));

    lp_stop(pid); /* peer first: see hw/README.md, "nng notes" */
    close_link(&loop, l);
    lp_rmtree(dir);
}

static void test_heartbeat_timer_detects_a_hung_worker(void **state)
{
    (void)state;
    char dir[256], addr[320];
    uv_loop_t loop;
    rec r = {0};
    axl_link *l;
    lab_tmpdir(dir, sizeof(dir));
    snprintf(addr, sizeof(addr), "ipc://%s/g.ipc", dir);
    static const char *const opts[] = {"--hang-after", "0", "--speed", "100", NULL};
    pid_t pid = lp_spawn_worker("gripper", addr, dir, opts);
    uv_loop_init(&loop);
    open_link(&loop, addr, AXL_ROLE_GRIPPER, &r, &l);
    r.stop_on_up = true;
    assert_true(run_for(&loop, 5000));

    /* A move: the worker reports started, then hangs with the connection still up. */
    axl_recipe rc;
    axl_chain ch;
    axl_task_spec spec;
    axl_recipe_seed(96, 66, -13.75, 1980, &rc);
    assert_int_equal(axl_chain_from_recipe(&rc, &ch, NULL), 0);
    axl_task_spec_from_chain(&ch, 0, &rc, "sample1", &spec);
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    assert_int_equal(axl_task_spec_encode(&spec, &params, NULL), 0);
    axl_wire_msg m = {.type = AXL_WIRE_TASK};
    m.task.id = axl_str_c("hang/1/0");
    m.task.experiment = axl_str_c("hang");
    m.task.trial = 1;
    m.task.kind = axl_str_c("move");
    m.task.params = (axl_raw){params.data, params.size};
    assert_int_equal(axl_link_send(l, &m, NULL), 0);
    msgpack_sbuffer_destroy(&params);
    r.stop_on_up = false;
    r.stop_on_started = true;
    assert_true(run_for(&loop, 5000));
    assert_int_equal(r.started, 1);

    r.stop_on_started = false;
    r.stop_on_lost = true;
    assert_true(run_for(&loop, 5000));
    assert_int_equal(r.losts, 1);
    assert_true((r.lost_at - r.last_msg_at) * 1e3 >= TIMEOUT_MS - 5);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* hung, not dead */

    lp_stop(pid);
    close_link(&loop, l);
    lp_rmtree(dir);
}

/* The fake worker's next message, waited for while the link's loop runs (the link
 * answers from its loop: a blocking receive with the loop stopped would wait on it). */
static void recv_running(uv_loop_t *loop, nng_socket s, void **buf, size_t *len)
{
    double until = lp_now() + 20.0;
    int rv;
    while ((rv = nng_recv(s, buf, len, NNG_FLAG_ALLOC | NNG_FLAG_NONBLOCK)) == NNG_EAGAIN &&
           lp_now() < until)
        run_for(loop, 5);
    assert_int_equal(rv, 0);
}

/* Runs the loop until *counter reaches want (20 s at most). */
static void run_until(uv_loop_t *loop, const int *counter, int want)
{
    double until = lp_now() + 20.0;
    while (*counter < want && lp_now() < until)
        run_for(loop, 5);
    assert_int_equal(*counter, want);
}

/* The next message the fake worker gets is an error with code (and msg containing what). */
static void expect_error(uv_loop_t *loop, nng_socket s, int code, const char *what)
{
    void *buf;
    size_t len;
    axl_wire_msg m;
    recv_running(loop, s, &buf, &len);
    assert_int_equal(axl_wire_decode(buf, len, &m, NULL), 0);
    assert_int_equal(m.type, AXL_WIRE_ERROR);
    assert_int_equal(m.error.code, code);
    if (what != NULL && memmem(m.error.msg.ptr, m.error.msg.len, what, strlen(what)) == NULL)
        fail_msg("error '%.*s' does not say '%s'", (int)m.error.msg.len, m.error.msg.ptr, what);
    axl_wire_free(&m);
    nng_free(buf, len);
}

/* A fake worker: the test listens, the link dials; raw bytes both ways. */
static void test_fake_worker_refusals_and_roles(void **state)
{
    (void)state;
    char dir[256], addr[320];
    uv_loop_t loop;
    rec r = {0};
    axl_link *l;
    nng_socket s;
    lab_tmpdir(dir, sizeof(dir));
    snprintf(addr, sizeof(addr), "ipc://%s/fake.ipc", dir);
    assert_int_equal(nng_pair1_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000);
    assert_int_equal(nng_listen(s, addr, NULL, 0), 0);
    uv_loop_init(&loop);
    open_link(&loop, addr, AXL_ROLE_HOTPLATE, &r, &l);
    run_for(&loop, 100); /* connects */

    /* Garbage: answered with an error naming the problem; the link carries on. */
    assert_int_equal(nng_send(s, "\x93\x01", 2, 0), 0);
    expect_error(&loop, s, AXL_EPROTO, NULL);

    /* A hello of another role: never up. */
    axl_wire_msg h = {.type = AXL_WIRE_HELLO};
    h.hello.worker = axl_str_c("impostor");
    h.hello.role = AXL_ROLE_STORAGE;
    h.hello.capacity = 1;
    h.hello.time = lp_wall();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_wire_encode(&h, &sb, NULL), 0);
    assert_int_equal(nng_send(s, sb.data, sb.size, 0), 0);
    expect_error(&loop, s, AXL_EINVAL, "role storage"); /* the hello has been handled */
    assert_int_equal(r.ups, 0);
    assert_false(axl_link_up(l));

    /* The right role: up. A status from the "worker" is refused (wrong direction). */
    h.hello.role = AXL_ROLE_HOTPLATE;
    sb.size = 0;
    assert_int_equal(axl_wire_encode(&h, &sb, NULL), 0);
    assert_int_equal(nng_send(s, sb.data, sb.size, 0), 0);
    axl_wire_msg st = {.type = AXL_WIRE_STATUS};
    sb.size = 0;
    assert_int_equal(axl_wire_encode(&st, &sb, NULL), 0);
    assert_int_equal(nng_send(s, sb.data, sb.size, 0), 0);
    msgpack_sbuffer_destroy(&sb);
    expect_error(&loop, s, AXL_ENOTSUP, NULL); /* the status, handled after the hello */
    run_until(&loop, &r.hellos, 1);
    assert_true(axl_link_up(l));

    /* A heartbeat of another role: answered, counted, not taken. */
    axl_wire_msg hb = {.type = AXL_WIRE_HEARTBEAT};
    hb.heartbeat.worker = axl_str_c("impostor");
    hb.heartbeat.role = AXL_ROLE_GRIPPER;
    hb.heartbeat.time = lp_wall();
    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_wire_encode(&hb, &sb, NULL), 0);
    assert_int_equal(nng_send(s, sb.data, sb.size, 0), 0);
    expect_error(&loop, s, AXL_EINVAL, "heartbeat: role gripper");
    assert_int_equal(r.beats, 0);

    /* Over the message limit (and under the transport's cap): AXL_ETOOBIG, the link goes on. */
    size_t big = AXL_PROTO_MAX_MSG + 1000;
    char *junk = calloc(1, big);
    assert_non_null(junk);
    assert_int_equal(nng_send(s, junk, big, 0), 0);
    free(junk);
    expect_error(&loop, s, AXL_ETOOBIG, NULL);
    assert_true(axl_link_up(l));
    assert_int_equal(r.losts, 0);

    /* A second hello of another role on the connection that is up: refused, and the
     * worker is lost at once (the owner's lost-worker policy), not after a timeout. */
    h.hello.role = AXL_ROLE_GRIPPER;
    sb.size = 0;
    assert_int_equal(axl_wire_encode(&h, &sb, NULL), 0);
    assert_int_equal(nng_send(s, sb.data, sb.size, 0), 0);
    msgpack_sbuffer_destroy(&sb);
    expect_error(&loop, s, AXL_EINVAL, "a second hello");
    run_until(&loop, &r.losts, 1);
    assert_false(axl_link_up(l));
    axl_link_counts c;
    axl_link_get_counts(l, &c);
    assert_int_equal(c.wrong_role, 3);
    assert_int_equal(c.oversize, 1);
    assert_int_equal(c.undecodable, 1);

    nng_close(s);
    close_link(&loop, l);
    lp_rmtree(dir);
}

int main(void)
{
    gsl_set_error_handler_off();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_heartbeat_timer_detects_a_killed_worker, lp_kill_all),
        cmocka_unit_test_teardown(test_heartbeat_timer_detects_a_hung_worker, lp_kill_all),
        cmocka_unit_test_teardown(test_fake_worker_refusals_and_roles, lp_kill_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
