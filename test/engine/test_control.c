/*
 * test_control.c - humans in the loop, as users type it: the real `axle` binary against a
 * running campaign (its control socket) and against a stopped store (the writer lock):
 * trial attach/complete/fail/abandon, pause/unpause, stop [--wait], attach FILE.csv, the
 * status quo, global stopping; kill -9 right after a change, then resume.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine_testlib.h"
#include "storage/axl_store.h"
#include "test/common/spawn.h"

#ifndef AXLE_BIN
#error "AXLE_BIN must name the axle binary"
#endif

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static pid_t spawn_to(const char *out, const char *err, const char *const argv[])
{
    pid_t pid = axl_test_spawn(AXLE_BIN, argv, out, err, false);
    assert_true(pid >= 0);
    return pid;
}

static int wait_exit(pid_t pid, double seconds)
{
    for (int i = 0; i < (int)(seconds * 100); i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("child %d did not finish within %g s", pid, seconds);
    return -1;
}

/* Runs `axle ARGS... --store dir` to its end; out and err (may be NULL) get its output. */
static int axle(const char *dir, char **out, char **err, ...)
{
    const char *argv[32] = {"axle"};
    int n = 1;
    va_list ap;
    va_start(ap, err);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 28;)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = "--store";
    argv[n++] = dir;
    argv[n] = NULL;
    char o[600], e[600];
    snprintf(o, sizeof(o), "%s/cmd.out", dir);
    snprintf(e, sizeof(e), "%s/cmd.err", dir);
    int rc = wait_exit(spawn_to(o, e, argv), 60);
    char *so = slurp(o), *se = slurp(e);
    if (out != NULL)
        *out = so;
    else
        free(so);
    if (err != NULL)
        *err = se;
    else
        free(se);
    return rc;
}

static axl_store_experiment *load(const char *dir, const char *name)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_store_experiment *e = NULL;
    if (axl_store_open(dir, &so, &s, NULL) != 0)
        return NULL;
    if (axl_store_load(s, name, &e, NULL) != 0)
        e = NULL;
    axl_store_close(s);
    return e;
}

static size_t count_status(const char *dir, const char *name, axl_trial_status st)
{
    axl_store_experiment *e = load(dir, name);
    size_t n = 0;
    for (size_t i = 0; e != NULL && i < e->n_trials; i++)
        n += e->trials[i].status == st;
    axl_store_experiment_free(e);
    return n;
}

/* Waits (reading the store, as a user would with `axle status`) for a trial count. */
static void wait_status(const char *dir, const char *name, axl_trial_status st, size_t at_least,
                        pid_t engine)
{
    for (int i = 0; i < 3000; i++) {
        if (count_status(dir, name, st) >= at_least)
            return;
        int status;
        if (engine > 0 && waitpid(engine, &status, WNOHANG) == engine)
            fail_msg("the campaign ended before %zu trials were %s", at_least,
                     axl_trial_status_name(st));
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("timed out waiting for %zu %s trials", at_least, axl_trial_status_name(st));
}

/* Event types in seq order (one per line) with their trial: "trial.staged 4\n". */
static char *event_list(const char *dir)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    assert_int_equal(axl_store_open(dir, &so, &s, NULL), 0);
    axl_store_iter *it = NULL;
    assert_int_equal(axl_store_iter_open(s, 1, UINT64_MAX, &it, NULL), 0);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    buf[0] = '\0';
    for (;;) {
        uint64_t seq;
        const void *data;
        size_t n;
        if (axl_store_iter_next(it, &seq, &data, &n, NULL) != 0)
            break;
        axl_event ev;
        assert_int_equal(axl_event_decode(data, n, &ev, NULL), 0);
        if (len + 200 > cap)
            buf = realloc(buf, cap *= 2);
        len += (size_t)snprintf(buf + len, cap - len, "%.*s %lld\n", (int)ev.type_len, ev.type,
                                (long long)ev.trial);
    }
    axl_store_iter_close(it);
    axl_store_close(s);
    return buf;
}

static size_t count_lines(const char *text, const char *line)
{
    size_t n = 0, l = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += l)
        n += (p == text || p[-1] == '\n') && p[l] == '\n';
    return n;
}

/* Waits until the log holds n lines equal to line (e.g. "experiment.started -1"). */
static void wait_event(const char *dir, const char *line, size_t n)
{
    for (int i = 0; i < 3000; i++) {
        char *events = event_list(dir);
        size_t got = count_lines(events, line);
        free(events);
        if (got >= n)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("timed out waiting for %zu '%s' events", n, line);
}

static void verify_fold(const char *dir)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_store_open(dir, &so, &s, NULL), 0);
    int rv = axl_store_verify_fold(s, NULL, &eb);
    if (rv != 0)
        fail_msg("fold: %s", eb.msg);
    axl_store_close(s);
}

/* Every deployed trial hangs until it is ended by hand or the campaign stops. */
static const char hang_fmt[] =
    "{\"name\": \"%s\", \"search_space\": {\"parameters\": ["
    "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
    "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
    "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
    "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1}]},"
    "\"scheduler\": {\"total_trials\": 40, \"max_pending_trials\": 3},"
    "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": 0.01,"
    " \"outcomes\": \"HHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHH\"}}";

static pid_t start_hanging(const char *dir, const char *name, char **path)
{
    char json[2048];
    snprintf(json, sizeof(json), hang_fmt, name);
    *path = et_write_file(dir, "exp.json", json);
    char err[600];
    snprintf(err, sizeof(err), "%s/run.err", dir);
    const char *argv[] = {"axle", "run", *path, "--store", dir, "--no-progress", NULL};
    pid_t pid = spawn_to(NULL, err, argv);
    wait_status(dir, name, AXL_TRIAL_RUNNING, 3, pid);
    return pid;
}

static void test_running_campaign(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *path, *out, *err;
    pid_t run = start_hanging(dir, "live", &path);

    /* complete, fail, abandon: each changes its trial once, through the socket. */
    assert_int_equal(axle(dir, &out, NULL, "trial", "live", "complete", "0", "--result",
                          "branin=1.5±0.25", NULL),
                     0);
    assert_string_equal(out, "trial 0 COMPLETED (the running campaign)\n");
    free(out);
    assert_int_equal(
        axle(dir, &out, NULL, "trial", "live", "fail", "1", "--reason", "film cracked", NULL), 0);
    assert_string_equal(out, "trial 1 FAILED (the running campaign)\n");
    free(out);
    assert_int_equal(axle(dir, &out, NULL, "trial", "live", "abandon", "2", NULL), 0);
    assert_string_equal(out, "trial 2 ABANDONED (the running campaign)\n");
    free(out);
    /* A second change to an ended trial is refused and changes nothing. */
    assert_int_equal(axle(dir, NULL, &err, "trial", "live", "abandon", "2", NULL), 1);
    assert_non_null(strstr(err, "trial 2 is already ABANDONED"));
    free(err);
    assert_int_equal(
        axle(dir, NULL, &err, "trial", "live", "complete", "999", "--result", "branin=1", NULL), 2);
    assert_non_null(strstr(err, "has no trial 999"));
    free(err);
    assert_int_equal(
        axle(dir, NULL, &err, "trial", "live", "complete", "3", "--result", "other=1", NULL), 2);
    assert_non_null(strstr(err, "objective metric 'branin' is missing"));
    free(err);

    /* attach: RUNNING without a result, COMPLETED with one; bounds checked. */
    assert_int_equal(axle(dir, NULL, &err, "trial", "live", "attach", "--param", "x1=11", "--param",
                          "x2=1", NULL),
                     2);
    assert_non_null(strstr(err, "x1 = 11 is outside [-5, 10]"));
    free(err);
    assert_int_equal(axle(dir, NULL, &err, "trial", "live", "attach", "--param", "x1=1", NULL), 2);
    assert_non_null(strstr(err, "parameter 'x2' is missing"));
    free(err);
    assert_int_equal(axle(dir, &out, NULL, "trial", "live", "attach", "--param", "x1=1", "--param",
                          "x2=2", "--result", "branin=7+-0.5", NULL),
                     0);
    assert_non_null(strstr(out, "COMPLETED (the running campaign)"));
    long attached = strtol(out + 6, NULL, 10);
    free(out);
    /* Prior data from a file, into the running campaign. */
    char *csv = et_write_file(dir, "prior.csv", "x1,x2,branin,branin_sem\n1,2,3.5,0.5\n");
    assert_int_equal(axle(dir, &out, NULL, "attach", "live", csv, NULL), 0);
    assert_non_null(strstr(out, "attached 1 trials to live (the running campaign)"));
    free(out);
    free(csv);

    /* pause: once the reply is in, no trial is staged until unpause. */
    wait_status(dir, "live", AXL_TRIAL_RUNNING, 3, run);
    assert_int_equal(axle(dir, &out, NULL, "pause", "live", NULL), 0);
    assert_non_null(strstr(out, "paused"));
    free(out);
    axl_store_experiment *e = load(dir, "live");
    assert_non_null(e);
    uint32_t running = UINT32_MAX;
    for (size_t i = 0; i < e->n_trials; i++)
        if (e->trials[i].status == AXL_TRIAL_RUNNING && e->trials[i].gen_method[0] == 'S')
            running = e->trials[i].index;
    size_t trials_at_pause = e->n_trials;
    axl_store_experiment_free(e);
    char idx[16];
    snprintf(idx, sizeof(idx), "%u", running);
    assert_int_equal(axle(dir, NULL, NULL, "trial", "live", "abandon", idx, NULL), 0);
    /* A place is free, but the campaign is paused: the abandon's turn deployed nothing. */
    assert_int_equal(axle(dir, NULL, NULL, "pause", "live", NULL), 0); /* a no-op */
    char *events = event_list(dir);
    char *paused = strstr(events, "experiment.paused");
    assert_non_null(paused);
    assert_null(strstr(paused, "trial.staged"));
    assert_null(strstr(paused, "trial.created"));
    assert_int_equal(count_lines(events, "experiment.paused -1"), 1);
    free(events);
    e = load(dir, "live");
    assert_int_equal(e->n_trials, trials_at_pause);
    axl_store_experiment_free(e);
    assert_int_equal(axle(dir, &out, NULL, "unpause", "live", NULL), 0);
    free(out);
    wait_status(dir, "live", AXL_TRIAL_RUNNING, 3, run);

    /* stop: returns once the engine has exited; running trials are left running. */
    assert_int_equal(axle(dir, &out, NULL, "stop", "live", "--reason", "refill", NULL), 0);
    assert_non_null(strstr(out, "live: stopped"));
    free(out);
    assert_int_equal(wait_exit(run, 30), 0);

    /* Every change exactly once, in the log and in the records. */
    events = event_list(dir);
    assert_int_equal(count_lines(events, "trial.completed 0"), 1);
    assert_int_equal(count_lines(events, "trial.failed 1"), 1);
    assert_int_equal(count_lines(events, "trial.abandoned 2"), 1);
    assert_int_equal(count_lines(events, "experiment.stop_requested -1"), 1);
    assert_int_equal(count_lines(events, "experiment.unpaused -1"), 1);
    free(events);
    e = load(dir, "live");
    assert_int_equal(e->trials[0].status, AXL_TRIAL_COMPLETED);
    assert_true(e->trials[0].n_metrics == 1 && e->trials[0].metrics[0].mean == 1.5 &&
                e->trials[0].metrics[0].sem == 0.25);
    assert_int_equal(e->trials[1].status, AXL_TRIAL_FAILED);
    assert_string_equal(e->trials[1].reason, "film cracked");
    assert_int_equal(e->trials[2].status, AXL_TRIAL_ABANDONED);
    assert_string_equal(e->trials[attached].gen_method, "Manual");
    assert_int_equal(e->trials[attached].status, AXL_TRIAL_COMPLETED);
    assert_true(e->trials[attached].metrics[0].mean == 7);
    size_t from_csv = 0;
    for (size_t i = 0; i < e->n_trials; i++)
        from_csv += strcmp(e->trials[i].gen_method, "Manual") == 0 && e->trials[i].n_metrics == 1 &&
                    e->trials[i].metrics[0].mean == 3.5 && e->trials[i].metrics[0].sem == 0.5;
    assert_int_equal(from_csv, 1);
    axl_store_experiment_free(e);
    verify_fold(dir);

    /* On the stopped store the same commands work through the writer lock. */
    assert_int_equal(axle(dir, &out, NULL, "trial", "live", "attach", "--param", "x1=2", "--param",
                          "x2=3", NULL),
                     0);
    assert_non_null(strstr(out, "RUNNING (the stopped store)"));
    long manual = strtol(out + 6, NULL, 10);
    free(out);
    snprintf(idx, sizeof(idx), "%ld", manual);
    assert_int_equal(
        axle(dir, &out, NULL, "trial", "live", "complete", idx, "--result", "branin=4", NULL), 0);
    assert_non_null(strstr(out, "COMPLETED (the stopped store)"));
    free(out);
    e = load(dir, "live");
    uint32_t still_running = UINT32_MAX;
    for (size_t i = 0; i < e->n_trials; i++)
        if (e->trials[i].status == AXL_TRIAL_RUNNING)
            still_running = e->trials[i].index;
    axl_store_experiment_free(e);
    assert_true(still_running != UINT32_MAX);
    snprintf(idx, sizeof(idx), "%u", still_running);
    assert_int_equal(axle(dir, &out, NULL, "trial", "live", "fail", idx, NULL), 0);
    assert_non_null(strstr(out, "FAILED (the stopped store)"));
    free(out);
    assert_int_equal(axle(dir, NULL, &err, "trial", "live", "fail", idx, NULL), 1);
    assert_non_null(strstr(err, "already FAILED"));
    free(err);
    /* pause and unpause on the stopped store: one event each (test_pause_a_stopped_store
     * resumes such a store). */
    assert_int_equal(axle(dir, &out, NULL, "pause", "live", NULL), 0);
    assert_non_null(strstr(out, "live: paused; `axle resume` starts it paused"));
    free(out);
    assert_int_equal(axle(dir, &out, NULL, "unpause", "live", NULL), 0);
    assert_string_equal(out, "live: unpaused; `axle resume` deploys at once (the stopped store)\n");
    free(out);
    events = event_list(dir);
    assert_int_equal(count_lines(events, "experiment.paused -1"), 2);
    assert_int_equal(count_lines(events, "experiment.unpaused -1"), 2);
    free(events);
    assert_int_equal(axle(dir, &out, NULL, "stop", "live", NULL), 0);
    assert_string_equal(out, "live: not running\n");
    free(out);
    assert_int_equal(axle(dir, NULL, &err, "trial", "nosuch", "abandon", "0", NULL), 2);
    free(err);
    verify_fold(dir);

    free(path);
    et_rmtree(dir);
    free(dir);
}

/* The "paused" of the n-th experiment.started (1-based) of the log; -1 when absent. */
static int started_paused(const char *dir, int nth)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    assert_int_equal(axl_store_open(dir, &so, &s, NULL), 0);
    axl_store_iter *it = NULL;
    assert_int_equal(axl_store_iter_open(s, 1, 0, &it, NULL), 0);
    int seen = 0, paused = -1;
    uint64_t seq;
    const void *data;
    size_t n;
    while (paused < 0 && axl_store_iter_next(it, &seq, &data, &n, NULL) == 0) {
        axl_event ev;
        assert_int_equal(axl_event_decode(data, n, &ev, NULL), 0);
        if (ev.type_len != 18 || memcmp(ev.type, "experiment.started", 18) != 0 || ++seen != nth)
            continue;
        axl_msg m;
        assert_int_equal(axl_msg_parse(&m, ev.body, ev.body_len, NULL), 0);
        const msgpack_object *p = axl_obj_get(&m.root, "paused");
        paused = p != NULL && p->type == MSGPACK_OBJECT_BOOLEAN ? p->via.boolean : -2;
        axl_msg_free(&m);
    }
    axl_store_iter_close(it);
    axl_store_close(s);
    return paused;
}

/* The events after the n-th experiment.started (from its line on). */
static const char *after_start(const char *events, int nth)
{
    const char *p = events;
    for (int i = 0; i < nth; i++) {
        p = strstr(p, "experiment.started -1\n");
        assert_non_null(p);
        p += 1;
    }
    return p;
}

/*
 * A resumed campaign that is paused deploys nothing: the function runner reports the
 * three trials left RUNNING as ABANDONED (it keeps nothing across a restart), which frees
 * their places; unpaused, the turn that commits those reports would stage new trials. So
 * once the three are ABANDONED and a control request has made its round trip (a later
 * loop turn), the log holds no trial.created / trial.staged since the resume.
 */
static void expect_resumed_paused(const char *dir, const char *name, int nth_start, pid_t run)
{
    wait_event(dir, "experiment.started -1", (size_t)nth_start);
    assert_int_equal(started_paused(dir, nth_start), 1);
    wait_status(dir, name, AXL_TRIAL_ABANDONED, 3, run);
    char *out;
    assert_int_equal(axle(dir, &out, NULL, "pause", name, NULL), 0); /* a no-op round trip */
    assert_non_null(strstr(out, "paused (running trials go on"));
    free(out);
    char *events = event_list(dir);
    const char *since = after_start(events, nth_start);
    assert_null(strstr(since, "trial.created"));
    assert_null(strstr(since, "trial.staged"));
    assert_int_equal(count_lines(since, "experiment.paused -1"), 0);
    free(events);
    assert_int_equal(count_status(dir, name, AXL_TRIAL_RUNNING), 0);
    /* Unpaused through the socket, it deploys at once. */
    assert_int_equal(axle(dir, &out, NULL, "unpause", name, NULL), 0);
    assert_non_null(strstr(out, "deploying again"));
    free(out);
    wait_status(dir, name, AXL_TRIAL_RUNNING, 3, run);
}

static void test_pause_a_stopped_store(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *path, *out;
    pid_t run = start_hanging(dir, "held", &path);
    assert_int_equal(axle(dir, NULL, NULL, "stop", "held", NULL), 0);
    assert_int_equal(wait_exit(run, 30), 0);

    /* Paused on the stopped store: an event, once; status says so. */
    assert_int_equal(axle(dir, &out, NULL, "pause", "held", NULL), 0);
    assert_string_equal(out, "held: paused; `axle resume` starts it paused, `axle unpause` "
                             "deploys again (the stopped store)\n");
    free(out);
    assert_int_equal(axle(dir, NULL, NULL, "pause", "held", NULL), 0);
    char *events = event_list(dir);
    assert_int_equal(count_lines(events, "experiment.paused -1"), 1);
    free(events);
    assert_int_equal(axle(dir, &out, NULL, "status", "held", NULL), 0);
    assert_non_null(strstr(out, "  paused: no new trial is deployed until `axle unpause held`\n"));
    free(out);

    const char *resume[] = {"axle", "resume", "held", "--store", dir, "--no-progress", NULL};
    run = spawn_to(NULL, NULL, resume);
    expect_resumed_paused(dir, "held", 2, run);
    assert_int_equal(axle(dir, NULL, NULL, "stop", "held", NULL), 0);
    assert_int_equal(wait_exit(run, 30), 0);
    assert_int_equal(started_paused(dir, 1), 0);

    /* Paused and unpaused on the stopped store: the resume deploys at once. */
    assert_int_equal(axle(dir, NULL, NULL, "pause", "held", NULL), 0);
    assert_int_equal(axle(dir, &out, NULL, "unpause", "held", NULL), 0);
    assert_string_equal(out, "held: unpaused; `axle resume` deploys at once (the stopped store)\n");
    free(out);
    assert_int_equal(axle(dir, &out, NULL, "status", "held", NULL), 0);
    assert_null(strstr(out, "paused:"));
    free(out);
    run = spawn_to(NULL, NULL, resume);
    wait_event(dir, "experiment.started -1", 3);
    assert_int_equal(started_paused(dir, 3), 0);
    wait_status(dir, "held", AXL_TRIAL_ABANDONED, 6, run);
    wait_status(dir, "held", AXL_TRIAL_RUNNING, 3, run);
    assert_int_equal(axle(dir, NULL, NULL, "stop", "held", NULL), 0);
    assert_int_equal(wait_exit(run, 30), 0);
    verify_fold(dir);
    free(path);
    et_rmtree(dir);
    free(dir);
}

/* Paused, then killed -9: the resume is paused too (the log folds to it). */
static void test_paused_survives_kill9(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *path, *out;
    pid_t run = start_hanging(dir, "frozen", &path);
    assert_int_equal(axle(dir, &out, NULL, "pause", "frozen", NULL), 0);
    assert_non_null(strstr(out, "paused (running trials go on"));
    free(out);
    kill(run, SIGKILL);
    waitpid(run, NULL, 0);
    const char *resume[] = {"axle", "resume", "frozen", "--store", dir, "--no-progress", NULL};
    run = spawn_to(NULL, NULL, resume);
    expect_resumed_paused(dir, "frozen", 2, run);
    assert_int_equal(axle(dir, NULL, NULL, "stop", "frozen", NULL), 0);
    assert_int_equal(wait_exit(run, 30), 0);
    verify_fold(dir);
    free(path);
    et_rmtree(dir);
    free(dir);
}

/* A paused campaign whose last trials come in still ends: pause holds back new trials,
 * not the end of a campaign that has none left to deploy. */
static void test_paused_campaign_ends_when_its_trials_are_in(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *out;
    char json[2048];
    snprintf(json, sizeof(json), hang_fmt, "last");
    char *p = strstr(json, "\"total_trials\": 40");
    assert_non_null(p);
    memcpy(p, "\"total_trials\":  3", 18);
    char *path = et_write_file(dir, "exp.json", json);
    const char *argv[] = {"axle", "run", path, "--store", dir, "--no-progress", NULL};
    char o[600];
    snprintf(o, sizeof(o), "%s/run.out", dir);
    pid_t run = spawn_to(o, NULL, argv);
    wait_status(dir, "last", AXL_TRIAL_RUNNING, 3, run);
    assert_int_equal(axle(dir, NULL, NULL, "pause", "last", NULL), 0);
    for (int i = 0; i < 3; i++) {
        char idx[16];
        snprintf(idx, sizeof(idx), "%d", i);
        assert_int_equal(
            axle(dir, NULL, NULL, "trial", "last", "complete", idx, "--result", "branin=3", NULL),
            0);
    }
    assert_int_equal(wait_exit(run, 30), 0);
    out = slurp(o);
    assert_non_null(strstr(out, "reached the total of 3 trials"));
    free(out);
    assert_int_equal(count_status(dir, "last", AXL_TRIAL_COMPLETED), 3);
    verify_fold(dir);
    free(path);
    et_rmtree(dir);
    free(dir);
}

static void test_stop_wait_lets_trials_finish(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *path, *out;
    pid_t run = start_hanging(dir, "waiting", &path);
    pid_t stop =
        spawn_to(NULL, NULL,
                 (const char *const[]){"axle", "stop", "waiting", "--wait", "--store", dir, NULL});
    /* The stop waits for the three running trials; each is ended by hand. */
    wait_event(dir, "experiment.stop_requested -1", 1);
    axl_store_experiment *e = load(dir, "waiting");
    size_t n_trials = e->n_trials;
    for (size_t i = 0; i < e->n_trials; i++) {
        if (e->trials[i].status != AXL_TRIAL_RUNNING)
            continue;
        char idx[16];
        snprintf(idx, sizeof(idx), "%u", e->trials[i].index);
        assert_int_equal(axle(dir, NULL, NULL, "trial", "waiting", "complete", idx, "--result",
                              "branin=3", NULL),
                         0);
    }
    axl_store_experiment_free(e);
    assert_int_equal(wait_exit(stop, 30), 0);
    assert_int_equal(wait_exit(run, 30), 0);
    e = load(dir, "waiting");
    assert_int_equal(e->n_trials, n_trials); /* nothing new was deployed */
    for (size_t i = 0; i < e->n_trials; i++)
        assert_int_equal(e->trials[i].status, AXL_TRIAL_COMPLETED);
    axl_store_experiment_free(e);
    char *events = event_list(dir);
    assert_non_null(strstr(events, "experiment.stopped"));
    free(events);
    (void)out;
    free(path);
    et_rmtree(dir);
    free(dir);
}

static void test_change_survives_kill9(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *path;
    pid_t run = start_hanging(dir, "crash", &path);
    assert_int_equal(
        axle(dir, NULL, NULL, "trial", "crash", "complete", "1", "--result", "branin=2.5", NULL),
        0);
    assert_int_equal(axle(dir, NULL, NULL, "trial", "crash", "abandon", "0", NULL), 0);
    assert_int_equal(axle(dir, NULL, NULL, "trial", "crash", "attach", "--param", "x1=0", "--param",
                          "x2=0", "--result", "branin=55.6", NULL),
                     0);
    kill(run, SIGKILL);
    waitpid(run, NULL, 0);

    const char *resume[] = {"axle", "resume", "crash", "--store", dir, "--no-progress", NULL};
    run = spawn_to(NULL, NULL, resume);
    /* Its control socket listens before its first commit. */
    wait_event(dir, "experiment.started -1", 2);
    assert_int_equal(axle(dir, NULL, NULL, "stop", "crash", NULL), 0);
    assert_int_equal(wait_exit(run, 30), 0);

    char *events = event_list(dir);
    assert_int_equal(count_lines(events, "trial.completed 1"), 1);
    assert_int_equal(count_lines(events, "trial.abandoned 0"), 1);
    free(events);
    axl_store_experiment *e = load(dir, "crash");
    assert_int_equal(e->trials[0].status, AXL_TRIAL_ABANDONED);
    assert_int_equal(e->trials[1].status, AXL_TRIAL_COMPLETED);
    assert_true(e->trials[1].metrics[0].mean == 2.5);
    size_t manual = 0;
    for (size_t i = 0; i < e->n_trials; i++)
        if (strcmp(e->trials[i].gen_method, "Manual") == 0) {
            manual++;
            assert_int_equal(e->trials[i].status, AXL_TRIAL_COMPLETED);
            assert_true(e->trials[i].metrics[0].mean == 55.6);
        }
    assert_int_equal(manual, 1);
    axl_store_experiment_free(e);
    verify_fold(dir);
    free(path);
    et_rmtree(dir);
    free(dir);
}

static void test_attach_csv_round_trip(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *out, *err;
    const char *fmt =
        "{\"name\": \"%s\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]},"
        "{\"name\": \"flag\", \"type\": \"choice\", \"values\": [true, false]},"
        "{\"name\": \"solvent\", \"type\": \"choice\", \"values\": [\"DMF\", \"DMSO, dry\"]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"status_quo\": {\"x1\": 1.5, \"x2\": 2.5, \"flag\": true, \"solvent\": \"DMF\"},"
        "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1}]},"
        "\"scheduler\": {\"total_trials\": %d},"
        "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"outcomes\": \"CCF\"}}";
    char json[2048];
    snprintf(json, sizeof(json), fmt, "source", 8);
    char *src = et_write_file(dir, "source.json", json);
    snprintf(json, sizeof(json), fmt, "prior", 0);
    char *dst = et_write_file(dir, "prior.json", json);
    assert_int_equal(axle(dir, NULL, NULL, "run", src, "--no-progress", NULL), 0);
    assert_int_equal(axle(dir, NULL, NULL, "run", dst, "--no-progress", NULL), 0);

    /* The status quo is trial 0, made by hand, with its parameters. */
    axl_store_experiment *e = load(dir, "source");
    assert_string_equal(e->trials[0].gen_method, "Manual");
    assert_true(e->trials[0].params[0].value.num == 1.5);
    assert_int_equal(e->trials[0].params[3].value.kind, AXL_VALUE_STR);
    assert_string_equal(e->trials[0].params[3].value.str, "DMF");
    axl_store_experiment_free(e);

    char *exported;
    assert_int_equal(axle(dir, &exported, NULL, "export", "source", NULL), 0);
    char *csv = et_write_file(dir, "source.csv", exported);
    assert_int_equal(axle(dir, &out, NULL, "attach", "prior", csv, NULL), 0);
    assert_non_null(strstr(out, "attached 7 trials to prior (the stopped store); 1 rows skipped"));
    free(out);

    /* Same parameters and metrics, bit for bit, in the same order. */
    axl_store_experiment *a = load(dir, "source"), *b = load(dir, "prior");
    size_t k = 0;
    for (size_t i = 0; i < a->n_trials; i++) {
        if (a->trials[i].status != AXL_TRIAL_COMPLETED)
            continue;
        assert_true(k < b->n_trials);
        const axl_trial_rec *ta = &a->trials[i], *tb = &b->trials[k++];
        assert_int_equal(tb->status, AXL_TRIAL_COMPLETED);
        assert_string_equal(tb->gen_method, "Manual");
        for (uint32_t p = 0; p < ta->n_params; p++) {
            const axl_value *va = &ta->params[p].value, *vb = &tb->params[p].value;
            assert_int_equal(va->kind, vb->kind);
            if (va->kind == AXL_VALUE_NUM)
                assert_true(va->num == vb->num);
            else if (va->kind == AXL_VALUE_STR)
                assert_string_equal(va->str, vb->str);
            else if (va->kind == AXL_VALUE_BOOL)
                assert_int_equal(va->b, vb->b);
        }
        assert_true(ta->metrics[0].mean == tb->metrics[0].mean);
    }
    assert_int_equal(k, b->n_trials);
    axl_store_experiment_free(a);
    axl_store_experiment_free(b);

    /* A file with bad rows is refused whole, each bad row named by its line. */
    char *bad = et_write_file(dir, "bad.csv",
                              "x1,x2,flag,solvent,branin\n"
                              "1,2,true,DMF,3.5\n"
                              "11,2,true,DMF,3.5\n"
                              "1,2,maybe,DMF,3.5\n"
                              "1,2,false,\"DMSO, dry\",\n"
                              "1,2,false,\"DMSO, dry\",x\n");
    assert_int_equal(axle(dir, NULL, &err, "attach", "prior", bad, NULL), 2);
    assert_non_null(strstr(err, "bad.csv:3: x1 = 11 is outside [-5, 10]"));
    assert_non_null(strstr(err, "bad.csv:4: 'maybe' is not a value of parameter 'flag'"));
    assert_non_null(strstr(err, "bad.csv:5: no value for the objective metric"));
    assert_non_null(strstr(err, "bad.csv:6: branin: 'x' is not a number"));
    assert_non_null(strstr(err, "4 rows refused; nothing attached"));
    free(err);
    e = load(dir, "prior");
    assert_int_equal(e->n_trials, 7);
    axl_store_experiment_free(e);
    assert_int_equal(axle(dir, NULL, &err, "attach", "nosuch", bad, NULL), 2);
    free(err);

    free(exported);
    free(src);
    free(dst);
    free(csv);
    free(bad);
    et_rmtree(dir);
    free(dir);
}

static void test_global_stopping(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *out;
    char *path = et_write_file(
        dir, "gss.json",
        "{\"name\": \"gss\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1, "
        "\"seed\": 7}]},"
        "\"global_stopping\": {\"min_trials\": 10, \"window\": 5, \"improvement_bar\": 0.1},"
        "\"scheduler\": {\"total_trials\": 300, \"max_pending_trials\": 1},"
        "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}");
    assert_int_equal(axle(dir, &out, NULL, "run", path, "--no-progress", NULL), 0);
    assert_non_null(strstr(out, "global_stopping (The improvement in best objective in the "
                                "past 5 trials"));
    free(out);
    axl_store_experiment *e = load(dir, "gss");
    assert_true(e->n_trials >= 10 && e->n_trials < 300);
    axl_store_experiment_free(e);
    char *events = event_list(dir);
    assert_int_equal(count_lines(events, "experiment.stopped -1"), 1);
    free(events);

    /* The same rule, checked by hand on the stored trials (Ax's arithmetic). */
    e = load(dir, "gss");
    double y[300] = {0}, best[300] = {0};
    size_t n = 0;
    for (size_t i = 0; i < e->n_trials; i++) {
        y[n] = e->trials[i].metrics[0].mean;
        best[n] = n == 0 ? y[n] : fmin(best[n - 1], y[n]);
        n++;
    }
    axl_store_experiment_free(e);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && y[j - 1] > y[j]; j--) {
            double t = y[j];
            y[j] = y[j - 1];
            y[j - 1] = t;
        }
    double q = 0.75 * (double)(n - 1), r = 0.25 * (double)(n - 1);
    double q3 = y[(size_t)q] +
                (q - floor(q)) * (y[(size_t)q + 1 < n ? (size_t)q + 1 : n - 1] - y[(size_t)q]);
    double q1 = y[(size_t)r] + (r - floor(r)) * (y[(size_t)r + 1] - y[(size_t)r]);
    assert_true(fabs(best[n - 1] - best[n - 5]) / (q3 - q1) < 0.1);

    /* Bad settings are named. */
    char *bad = et_write_file(dir, "bad.json",
                              "{\"name\": \"b\", \"search_space\": {\"parameters\": ["
                              "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [0, 1]}]},"
                              "\"objective\": {\"metric\": \"m\", \"minimize\": true},"
                              "\"global_stopping\": {\"window\": 3},"
                              "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}");
    char *err;
    assert_int_equal(axle(dir, NULL, &err, "run", bad, "--no-progress", NULL), 2);
    assert_non_null(strstr(err, "global_stopping.min_trials: required"));
    free(err);
    free(bad);
    free(path);
    et_rmtree(dir);
    free(dir);
}

/* On a noisy function the model's best is within 2 sd of the truth at its point. */
static void test_best_on_a_noisy_function(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *out, *err;
    char *path = et_write_file(
        dir, "noisy.json",
        "{\"name\": \"noisy\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"a\", \"type\": \"range\", \"bounds\": [0, 1]},"
        "{\"name\": \"b\", \"type\": \"range\", \"bounds\": [0, 1]},"
        "{\"name\": \"c\", \"type\": \"range\", \"bounds\": [0, 1]},"
        "{\"name\": \"d\", \"type\": \"range\", \"bounds\": [0, 1]},"
        "{\"name\": \"e\", \"type\": \"range\", \"bounds\": [0, 1]},"
        "{\"name\": \"f\", \"type\": \"range\", \"bounds\": [0, 1]}]},"
        "\"objective\": {\"metric\": \"hartmann6\", \"minimize\": true},"
        "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": 12, "
        "\"seed\": 3}, {\"model\": \"gp_logei\", \"num_trials\": -1}]},"
        "\"scheduler\": {\"total_trials\": 30, \"max_pending_trials\": 3},"
        "\"runner\": {\"type\": \"function\", \"function\": \"hartmann6\", \"noise_sd\": 0.1, "
        "\"seed\": 5}}");
    assert_int_equal(axle(dir, &out, NULL, "run", path, "--no-progress", NULL), 0);
    assert_non_null(strstr(out, "model best: trial "));
    assert_non_null(strstr(out, "raw best: trial "));
    free(out);

    assert_int_equal(axle(dir, &out, NULL, "best", "noisy", "--json", NULL), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    json_t *m = json_object_get(j, "model"), *r = json_object_get(j, "raw");
    assert_true(json_is_object(m) && json_is_object(r));
    double mean = json_number_value(json_object_get(m, "mean"));
    double sd = json_number_value(json_object_get(m, "sd"));
    double x[6];
    const char *names[6] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++)
        x[i] = json_number_value(json_object_get(json_object_get(m, "params"), names[i]));
    double truth = axl_testfn_hartmann6(x);
    print_message("model best %.4f ± %.4f, truth %.4f; raw best %.4f\n", mean, sd, truth,
                  json_number_value(json_object_get(r, "value")));
    assert_true(sd > 0);
    assert_true(fabs(truth - mean) <= 2 * sd);
    /* The raw best is the lowest observation; the model's mean is no lower than it. */
    assert_true(json_number_value(json_object_get(r, "value")) <= mean);
    json_decref(j);
    free(out);

    assert_int_equal(axle(dir, &out, NULL, "best", "noisy", NULL), 0);
    assert_non_null(strstr(out, "best (model): trial "));
    assert_non_null(strstr(out, "best (raw):   trial "));
    free(out);
    assert_int_equal(axle(dir, &out, NULL, "status", "noisy", NULL), 0);
    assert_non_null(strstr(out, "best (model): trial "));
    assert_non_null(strstr(out, "last event: #"));
    assert_non_null(strstr(out, "experiment.stopped"));
    free(out);
    char *events = event_list(dir);
    assert_int_equal(count_lines(events, "experiment.stopped -1"), 1);
    free(events);
    assert_int_equal(axle(dir, NULL, &err, "best", "nosuch", NULL), 2);
    free(err);
    assert_int_equal(axle(dir, NULL, &err, "best", NULL), 2);
    free(err);
    free(path);
    et_rmtree(dir);
    free(dir);
}

/* axle run under a fake systemd: READY=1 once started, STOPPING=1 at the end. */
static void test_sd_notify(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *out;
    char *path = et_write_file(dir, "svc.json",
                               "{\"name\": \"svc\", \"search_space\": {\"parameters\": ["
                               "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
                               "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
                               "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
                               "\"scheduler\": {\"total_trials\": 4},"
                               "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify.sock", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setenv("NOTIFY_SOCKET", sa.sun_path, 1);
    assert_int_equal(axle(dir, &out, NULL, "run", path, "--no-progress", NULL), 0);
    unsetenv("NOTIFY_SOCKET");
    free(out);
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "READY=1\n"));
    assert_non_null(strstr(buf, "STATUS=running svc"));
    n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "STOPPING=1\n"));
    assert_non_null(strstr(buf, "STATUS=completed"));
    assert_true(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0); /* nothing else */
    close(fd);
    free(path);
    et_rmtree(dir);
    free(dir);
}

/* Log mode says what it waits for; progress mode shows the clock and the time left. */
static void test_feedback(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *err;
    const char *fmt = "{\"name\": \"%s\", \"search_space\": {\"parameters\": ["
                      "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
                      "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
                      "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
                      "\"scheduler\": {\"total_trials\": %d, \"max_pending_trials\": 2},"
                      "\"runner\": {\"type\": \"function\", \"function\": \"branin\", "
                      "\"duration_s\": %g}}";
    char json[1024];
    snprintf(json, sizeof(json), fmt, "slow", 2, 1.3);
    char *slow = et_write_file(dir, "slow.json", json);
    assert_int_equal(axle(dir, NULL, &err, "run", slow, "--no-progress", NULL), 0);
    assert_non_null(strstr(err, "Scheduler: Waiting for completed trials (for 1 sec, currently "
                                "running trials: [0, 1])."));
    free(err);
    snprintf(json, sizeof(json), fmt, "quick", 6, 0.01);
    char *quick = et_write_file(dir, "quick.json", json);
    assert_int_equal(axle(dir, NULL, &err, "run", quick, "--progress", NULL), 0);
    /* Not a terminal: one line per ended trial, no escape codes. */
    assert_null(strchr(err, '\033'));
    assert_non_null(strstr(err, "/6 done | "));
    assert_non_null(strstr(err, " elapsed, ~"));
    assert_non_null(strstr(err, " left\n"));
    assert_non_null(strstr(err, "quick: 6/6 done | 0 running | 0 failed | best branin "));
    free(err);
    free(slow);
    free(quick);
    et_rmtree(dir);
    free(dir);
}

/* The command runner is told: an abandoned trial's process is killed. */
static void test_abandon_kills_the_command(void **state)
{
    (void)state;
    char *dir = et_mkdtemp(), *out;
    char script[600], json[2048], pidfile[600];
    snprintf(pidfile, sizeof(pidfile), "%s/trial0.pid", dir);
    free(et_write_file(dir, "slow.sh", "#!/bin/sh\necho $$ > \"$1/trial$2.pid\"\nexec sleep 60\n"));
    snprintf(script, sizeof(script), "%s/slow.sh", dir);
    chmod(script, 0755);
    snprintf(json, sizeof(json),
             "{\"name\": \"cmd\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]}]},"
             "\"objective\": {\"metric\": \"y\", \"minimize\": true},"
             "\"scheduler\": {\"total_trials\": 1},"
             "\"runner\": {\"type\": \"command\", \"argv\": [\"%s\", \"%s\", \"{trial}\"]}}",
             script, dir);
    char *path = et_write_file(dir, "cmd.json", json);
    const char *argv[] = {"axle", "run", path, "--store", dir, "--no-progress", NULL};
    pid_t run = spawn_to(NULL, NULL, argv);
    long child = 0;
    for (int i = 0; i < 3000 && child <= 0; i++) { /* the trial's process has started */
        char *text = slurp(pidfile);
        child = strtol(text, NULL, 10);
        free(text);
        if (child <= 0) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(child > 0);
    assert_int_equal(kill((pid_t)child, 0), 0);
    assert_int_equal(
        axle(dir, &out, NULL, "trial", "cmd", "abandon", "0", "--reason", "cracked", NULL), 0);
    assert_string_equal(out, "trial 0 ABANDONED (the running campaign)\n");
    free(out);
    /* The only trial is over: the campaign ends, and the process is gone. */
    assert_int_equal(wait_exit(run, 30), 0);
    bool gone = false;
    for (int i = 0; i < 3000 && !gone; i++) {
        gone = kill((pid_t)child, 0) != 0;
        if (!gone) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(gone);
    axl_store_experiment *e = load(dir, "cmd");
    assert_int_equal(e->trials[0].status, AXL_TRIAL_ABANDONED);
    assert_string_equal(e->trials[0].reason, "cracked");
    axl_store_experiment_free(e);
    free(path);
    et_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running_campaign),
        cmocka_unit_test(test_pause_a_stopped_store),
        cmocka_unit_test(test_paused_survives_kill9),
        cmocka_unit_test(test_paused_campaign_ends_when_its_trials_are_in),
        cmocka_unit_test(test_stop_wait_lets_trials_finish),
        cmocka_unit_test(test_change_survives_kill9),
        cmocka_unit_test(test_attach_csv_round_trip),
        cmocka_unit_test(test_global_stopping),
        cmocka_unit_test(test_best_on_a_noisy_function),
        cmocka_unit_test(test_sd_notify),
        cmocka_unit_test(test_feedback),
        cmocka_unit_test(test_abandon_kills_the_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
