/*
 * test_engine_process.c - axle as users run it: real child processes, SIGKILL in the
 * middle of a campaign, `axle resume`, and a subscriber that joins mid-campaign.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine_testlib.h"
#include "storage/axl_store.h"
#include "test/common/spawn.h"

#ifndef AXLE_BIN
#error "AXLE_BIN must name the axle binary"
#endif

static pid_t spawn(const char *out_path, const char *const argv[])
{
    pid_t pid = axl_test_spawn(AXLE_BIN, argv, out_path, NULL, false);
    assert_true(pid >= 0);
    return pid;
}

static char *slurp(const char *path);

/* Like spawn, with stdout and stderr both in log_path (what the engine said, for a failure). */
static pid_t spawn_logged(const char *log_path, const char *const argv[])
{
    pid_t pid = axl_test_spawn(AXLE_BIN, argv, log_path, AXL_TEST_SAME_AS_OUT, true);
    assert_true(pid >= 0);
    return pid;
}

/* Waits for a child for at most seconds; kills it and fails the test on overrun. */
static int wait_exit(pid_t pid, double seconds)
{
    for (int i = 0; i < (int)(seconds * 100); i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("child %d did not finish within %g s", pid, seconds);
    return -1;
}

/* Counts, read-only while the writer runs, the trials in a status set and the events. */
static void store_counts(const char *dir, const char *name, unsigned mask, size_t *n_match,
                         uint64_t *last_seq)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    *n_match = 0;
    *last_seq = 0;
    if (axl_store_open(dir, &so, &s, NULL) != 0)
        return;
    axl_store_last_seq(s, last_seq, NULL);
    uint32_t *idx = NULL;
    size_t n = 0;
    if (axl_store_trials_by_status(s, name, mask, &idx, &n, NULL) == 0)
        *n_match = n;
    free(idx);
    axl_store_close(s);
}

static void wait_for(const char *dir, const char *name, unsigned mask, size_t at_least,
                     uint64_t min_seq, pid_t child)
{
    for (int i = 0; i < 2000; i++) {
        size_t n;
        uint64_t seq;
        store_counts(dir, name, mask, &n, &seq);
        if (n >= at_least && seq >= min_seq)
            return;
        int status;
        if (waitpid(child, &status, WNOHANG) == child)
            fail_msg("the campaign ended before it reached %zu trials", at_least);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("timed out waiting for %zu trials", at_least);
}

static void test_kill9_then_resume(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    char log[600], json[2048];
    snprintf(log, sizeof(log), "%s/evaluations.log", dir);
    /* Each evaluation appends its trial index to a log: a trial run twice shows twice. */
    snprintf(json, sizeof(json),
             "{\"name\": \"crashy\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
             "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
             "\"objective\": {\"metric\": \"y\", \"minimize\": true},"
             "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1}]},"
             "\"scheduler\": {\"total_trials\": 14, \"max_pending_trials\": 3},"
             "\"runner\": {\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", "
             "\"echo $0 >> %s; sleep 0.03; echo '{{\\\"y\\\": '$1'}'\", \"{trial}\", \"{x1}\"]}}",
             log);
    char *path = et_write_file(dir, "crashy.json", json);
    unsigned done = 1u << AXL_TRIAL_COMPLETED;

    const char *run_argv[] = {"axle", "run", path, "--store", dir, "--no-progress", NULL};
    pid_t pid = spawn(NULL, run_argv);
    wait_for(dir, "crashy", done, 3, 0, pid);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    const char *resume_argv[] = {"axle", "resume", "crashy", "--store", dir, "--no-progress", NULL};
    pid = spawn(NULL, resume_argv);
    wait_for(dir, "crashy", done, 7, 0, pid);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    char engine_log[700];
    snprintf(engine_log, sizeof(engine_log), "%s/final_resume.log", dir);
    pid = spawn_logged(engine_log, resume_argv);
    int rc = wait_exit(pid, 30);
    if (rc != 0)
        fail_msg("the last resume exited %d:\n%s", rc, slurp(engine_log));
    /* Children of killed engines may still be writing; let them finish. */
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);

    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_store_experiment *e = NULL;
    assert_int_equal(axl_store_open(dir, &so, &s, NULL), 0);
    assert_int_equal(axl_store_load(s, "crashy", &e, NULL), 0);
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_store_verify_fold(s, NULL, &eb), 0);
    axl_store_close(s);

    /* The campaign reached its total; every trial ended; none was deployed twice. */
    assert_int_equal(e->n_trials, 14);
    int runs[64] = {0};
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    int idx;
    while (fscanf(f, "%d", &idx) == 1) {
        assert_true(idx >= 0 && idx < 64);
        runs[idx]++;
    }
    fclose(f);
    size_t completed = 0;
    for (size_t i = 0; i < e->n_trials; i++) {
        const axl_trial_rec *t = &e->trials[i];
        assert_true(axl_trial_status_is_terminal(t->status));
        assert_true(t->deploy_count <= 1);
        assert_true(runs[i] <= 1);
        if (t->status == AXL_TRIAL_COMPLETED) {
            completed++;
            assert_int_equal(runs[i], 1);
        }
    }
    assert_true(completed >= 8);
    axl_store_experiment_free(e);
    free(path);
    et_rmtree(dir);
    free(dir);
}

/* Reads the evaluation log "start T" / "end T VALUE" lines into per-trial counts. */
static void read_evaluations(const char *log, int *starts, int *ends, double *value, int max)
{
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char what[8];
    int idx;
    while (fscanf(f, "%7s %d", what, &idx) == 2) {
        assert_true(idx >= 0 && idx < max);
        if (strcmp(what, "start") == 0) {
            starts[idx]++;
        } else {
            assert_string_equal(what, "end");
            assert_int_equal(fscanf(f, "%lf", &value[idx]), 1);
            ends[idx]++;
        }
    }
    fclose(f);
}

/* An experiment whose command logs the start and the end of every evaluation. */
static char *command_experiment(const char *dir, const char *name, const char *log, int total,
                                bool wait, const char *sleep_s)
{
    char json[4096];
    snprintf(json, sizeof(json),
             "{\"name\": \"%s\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
             "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
             "\"objective\": {\"metric\": \"y\", \"minimize\": true},"
             "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1}]},"
             "\"scheduler\": {\"total_trials\": %d, \"max_pending_trials\": 4, "
             "\"wait_for_running_trials\": %s},"
             "\"runner\": {\"type\": \"command\", \"timeout_s\": 60, \"argv\": [\"/bin/sh\", "
             "\"-c\", \"echo start $0 >> %s; sleep %s; echo end $0 $1 >> %s; "
             "echo '{{\\\"y\\\": '$1'}'\", \"{trial}\", \"{x1}\"]}}",
             name, total, wait ? "true" : "false", log, sleep_s, log);
    return et_write_file(dir, "cmd.json", json);
}

/*
 * Issue 9's repro: kill -9 the engine 20 times at random instants (a fixed seed) in a
 * 100-trial command campaign, resuming after each kill. The commands outlive the
 * engines; every resume collects what finished and watches what runs. Counted from the
 * command's own log and the store: 0 evaluations discarded (every evaluation that ended
 * is a COMPLETED trial with its value), 0 run twice, 0 trials ABANDONED (or FAILED).
 */
static void test_command_runner_kill9_x20(void **state)
{
    (void)state;
    enum { TOTAL = 100, KILLS = 20 };
    char *dir = et_mkdtemp();
    char log[600];
    snprintf(log, sizeof(log), "%s/evaluations.log", dir);
    char *path = command_experiment(dir, "detach", log, TOTAL, true, "0.02");
    uint64_t seed = 20261207;
    const char *run_argv[] = {"axle", "run", path, "--store", dir, "--no-progress", NULL};
    const char *resume_argv[] = {"axle", "resume", "detach", "--store", dir, "--no-progress", NULL};
    int kills = 0;
    for (int k = 0; k < KILLS; k++) {
        pid_t pid = spawn(NULL, k == 0 ? run_argv : resume_argv);
        /* The first kill once the experiment exists (else there is nothing to resume). */
        if (k == 0)
            wait_for(dir, "detach", 1u << AXL_TRIAL_RUNNING | 1u << AXL_TRIAL_COMPLETED, 1, 0, pid);
        /* A random instant in [5, 120) ms: before the store opens, mid-commit, mid-spawn. */
        uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        struct timespec ts = {0, (long)(5 + z % 115) * 1000 * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        kills += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    }
    assert_true(kills >= KILLS / 2); /* most kills hit a running engine */
    char engine_log[700];
    snprintf(engine_log, sizeof(engine_log), "%s/final_resume.log", dir);
    pid_t pid = spawn_logged(engine_log, resume_argv);
    int rc = wait_exit(pid, 60);
    if (rc != 0)
        fail_msg("the last resume exited %d:\n%s", rc, slurp(engine_log));

    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_store_experiment *e = NULL;
    assert_int_equal(axl_store_open(dir, &so, &s, NULL), 0);
    assert_int_equal(axl_store_load(s, "detach", &e, NULL), 0);
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_store_verify_fold(s, NULL, &eb), 0);
    axl_store_close(s);

    int starts[TOTAL] = {0}, ends[TOTAL] = {0};
    double value[TOTAL];
    read_evaluations(log, starts, ends, value, TOTAL);
    int discarded = 0, twice = 0, abandoned = 0, failed = 0, completed = 0;
    assert_int_equal(e->n_trials, TOTAL);
    for (size_t i = 0; i < e->n_trials; i++) {
        const axl_trial_rec *t = &e->trials[i];
        twice += starts[i] > 1 || ends[i] > 1;
        abandoned += t->status == AXL_TRIAL_ABANDONED;
        failed += t->status == AXL_TRIAL_FAILED;
        completed += t->status == AXL_TRIAL_COMPLETED;
        if (ends[i] == 1 && !(t->status == AXL_TRIAL_COMPLETED && t->n_metrics == 1 &&
                              t->metrics[0].mean == value[i]))
            discarded++;
        assert_true(t->deploy_count <= 1);
    }
    print_message("command runner, %d kill -9 of %d: %d trials, %d completed, %d evaluations "
                  "discarded, %d run twice, %d abandoned, %d failed\n",
                  kills, KILLS, TOTAL, completed, discarded, twice, abandoned, failed);
    assert_int_equal(discarded, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(abandoned, 0);
    assert_int_equal(failed, 0);
    assert_int_equal(completed, TOTAL);
    axl_store_experiment_free(e);
    free(path);
    et_rmtree(dir);
    free(dir);
}

/* Waits until trial's latest run folder holds an exit file (the command ended). */
static void wait_run_exit(const char *dir, const char *name, int trial)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/runs/%s/%d/1/exit", dir, name, trial);
    for (int i = 0; i < 2000; i++) {
        if (access(path, F_OK) == 0)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("%s never appeared", path);
}

/*
 * wait_for_running_trials false works as in Ax: the engine returns once every trial is
 * handed over, the trials keep running, and the next resume collects them.
 */
static void test_command_runner_no_wait_then_resume(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    char log[600];
    snprintf(log, sizeof(log), "%s/evaluations.log", dir);
    /* The commands end only once the test creates `go`: however slowly the engine hands
     * the four over, none can have ended when it returns. */
    char go[620], hold[700];
    snprintf(go, sizeof(go), "%s/go", dir);
    snprintf(hold, sizeof(hold), "0; while [ ! -e %s ]; do sleep 0.01; done", go);
    char *path = command_experiment(dir, "nowait", log, 4, false, hold);
    const char *run_argv[] = {"axle", "run", path, "--store", dir, "--no-progress", NULL};
    assert_int_equal(wait_exit(spawn(NULL, run_argv), 30), 0);
    size_t n;
    uint64_t seq;
    store_counts(dir, "nowait", 1u << AXL_TRIAL_RUNNING, &n, &seq);
    assert_int_equal(n, 4); /* returned while all four run: none left STAGED */
    FILE *g = fopen(go, "w");
    assert_non_null(g);
    fclose(g);
    for (int i = 0; i < 4; i++)
        wait_run_exit(dir, "nowait", i);
    const char *resume_argv[] = {"axle", "resume", "nowait", "--store", dir, "--no-progress", NULL};
    assert_int_equal(wait_exit(spawn(NULL, resume_argv), 30), 0);
    store_counts(dir, "nowait", 1u << AXL_TRIAL_COMPLETED, &n, &seq);
    assert_int_equal(n, 4);
    int starts[4] = {0}, ends[4] = {0};
    double value[4];
    read_evaluations(log, starts, ends, value, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(starts[i], 1);
        assert_int_equal(ends[i], 1);
    }
    free(path);
    et_rmtree(dir);
    free(dir);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_subscriber_joins_mid_campaign(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    char sub_out[600], replay_out[600];
    snprintf(sub_out, sizeof(sub_out), "%s/subscribe.jsonl", dir);
    snprintf(replay_out, sizeof(replay_out), "%s/replay.jsonl", dir);
    char *path = et_write_file(
        dir, "sub.json",
        "{\"name\": \"live\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1}]},"
        "\"scheduler\": {\"total_trials\": 40, \"max_pending_trials\": 2},"
        "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": 0.02}}");
    const char *run_argv[] = {"axle", "run", path, "--store", dir, "--no-progress", NULL};
    pid_t run = spawn(NULL, run_argv);
    wait_for(dir, "live", 1u << AXL_TRIAL_COMPLETED, 6, 20, run);
    const char *sub_argv[] = {"axle",   "subscribe",       "--store", dir,
                              "--json", "--until-stopped", NULL};
    pid_t sub = spawn(sub_out, sub_argv);
    assert_int_equal(wait_exit(run, 30), 0);
    assert_int_equal(wait_exit(sub, 30), 0);
    const char *replay_argv[] = {"axle", "replay", "--store", dir, "--json", NULL};
    pid_t rep = spawn(replay_out, replay_argv);
    assert_int_equal(wait_exit(rep, 30), 0);

    char *got = slurp(sub_out), *want = slurp(replay_out);
    /* Every event exactly once, in order, identical to the log. */
    size_t lines = 0;
    for (char *p = want; *p; p++)
        lines += *p == '\n';
    assert_true(lines > 100);
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(path);
    et_rmtree(dir);
    free(dir);
}

static void test_sigterm_stops_cleanly_and_resumes(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    char *path = et_write_file(
        dir, "term.json",
        "{\"name\": \"term\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"scheduler\": {\"total_trials\": 12, \"max_pending_trials\": 2},"
        "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": 0.05}}");
    const char *run_argv[] = {"axle", "run", path, "--store", dir, "--no-progress", NULL};
    pid_t pid = spawn(NULL, run_argv);
    wait_for(dir, "term", 1u << AXL_TRIAL_COMPLETED, 2, 0, pid);
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid, 10), 5); /* interrupted: resumable */

    char out[600];
    snprintf(out, sizeof(out), "%s/replay.jsonl", dir);
    const char *replay_argv[] = {"axle", "replay", "--store", dir, "--json", NULL};
    assert_int_equal(wait_exit(spawn(out, replay_argv), 10), 0);
    char *log = slurp(out);
    assert_non_null(strstr(log, "\"type\":\"experiment.stopped\""));
    assert_non_null(strstr(log, "\"exit_status\":\"interrupted\""));
    assert_non_null(strstr(log, "interrupted by SIGTERM"));
    free(log);

    const char *resume_argv[] = {"axle", "resume", "term", "--store", dir, "--no-progress", NULL};
    assert_int_equal(wait_exit(spawn(NULL, resume_argv), 30), 0);
    size_t n;
    uint64_t seq;
    store_counts(dir, "term", 1u << AXL_TRIAL_COMPLETED, &n, &seq);
    /* Trials running at the interrupt were abandoned by the function runner on resume;
     * everything else completed and the total was reached. */
    size_t all;
    store_counts(dir, "term", 0xffu, &all, &seq);
    assert_int_equal(all, 12);
    assert_true(n >= 10);
    free(path);
    et_rmtree(dir);
    free(dir);
}

static void test_cli_usage(void **state)
{
    (void)state;
    const char *help[] = {"axle", "--help", NULL};
    assert_int_equal(wait_exit(spawn("/dev/null", help), 10), 0);
    const char *bad[] = {"axle", "frobnicate", NULL};
    assert_int_equal(wait_exit(spawn("/dev/null", bad), 10), 2);
    const char *run_help[] = {"axle", "run", "--help", NULL};
    assert_int_equal(wait_exit(spawn("/dev/null", run_help), 10), 0);
    /* A store of its own: /tmp is shared with whatever else runs on the machine. */
    char *dir = et_mkdtemp();
    const char *missing[] = {"axle", "run", "/nonexistent/experiment.json", "--store", dir, NULL};
    assert_int_equal(wait_exit(spawn("/dev/null", missing), 10), 2);
    const char *unknown[] = {"axle", "resume", "no_such_experiment", "--store", dir, NULL};
    assert_int_equal(wait_exit(spawn("/dev/null", unknown), 10), 2);
    et_rmtree(dir);
    free(dir);
    const char *neg[] = {"axle", "run", "x.json", "--max-trials", "-3", NULL};
    assert_int_equal(wait_exit(spawn("/dev/null", neg), 10), 2);
    const char *status_missing[] = {"axle", "status", "--store", "/nonexistent-axle-store", NULL};
    assert_int_equal(wait_exit(spawn("/dev/null", status_missing), 10), 2);
}

/* Changes the first occurrence of needle in path (one byte); false when absent. */
static bool flip_first(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    static char buf[4 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f), m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(buf + i, needle, m) == 0) {
            buf[i] ^= 0x01;
            assert_int_equal(fseek(f, (long)i, SEEK_SET), 0);
            assert_int_equal(fwrite(buf + i, 1, 1, f), 1);
            fclose(f);
            return true;
        }
    }
    fclose(f);
    return false;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* `axle verify`, and no command but run creating a store (storage/README.md 5a). */
static void test_verify_and_no_create(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    char *path = et_write_file(dir, "integ.json",
                               "{\"name\": \"integ\", \"search_space\": {\"parameters\": ["
                               "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
                               "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
                               "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
                               "\"scheduler\": {\"total_trials\": 6},"
                               "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}");
    char store[600], data[700], empty[600], edata[700];
    snprintf(store, sizeof(store), "%s/store", dir);
    snprintf(data, sizeof(data), "%s/data.mdb", store);
    snprintf(empty, sizeof(empty), "%s/empty", dir);
    snprintf(edata, sizeof(edata), "%s/data.mdb", empty);
    assert_int_equal(mkdir(store, 0700), 0);
    assert_int_equal(mkdir(empty, 0700), 0);

    const char *run_argv[] = {"axle", "run", path, "--store", store, "--no-progress", NULL};
    assert_int_equal(wait_exit(spawn(NULL, run_argv), 30), 0);
    const char *verify_argv[] = {"axle", "verify", "--store", store, NULL};
    assert_int_equal(wait_exit(spawn(NULL, verify_argv), 30), 0);

    /* resume, replay, status, export, verify on a directory without a store: no store made */
    const char *cmds[][7] = {
        {"axle", "resume", "integ", "--store", empty, "--no-progress", NULL},
        {"axle", "replay", "--store", empty, NULL},
        {"axle", "status", "--store", empty, NULL},
        {"axle", "export", "integ", "--store", empty, NULL},
        {"axle", "verify", "--store", empty, NULL},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_not_equal(wait_exit(spawn(NULL, cmds[i]), 30), 0);
        assert_int_equal(file_size(edata), -1);
    }
    /* ... nor on an empty data.mdb, which stays empty */
    FILE *f = fopen(edata, "w");
    assert_non_null(f);
    fclose(f);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_not_equal(wait_exit(spawn(NULL, cmds[i]), 30), 0);
        assert_int_equal(file_size(edata), 0);
    }

    /* one byte of a stored value changed: verify and replay say so (exit 1) */
    assert_true(flip_first(data, "branin"));
    assert_int_equal(wait_exit(spawn(NULL, verify_argv), 30), 1);
    const char *replay_argv[] = {"axle", "replay", "--store", store, NULL};
    assert_int_equal(wait_exit(spawn(NULL, replay_argv), 30), 1);

    free(path);
    et_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_then_resume),
        cmocka_unit_test(test_command_runner_kill9_x20),
        cmocka_unit_test(test_command_runner_no_wait_then_resume),
        cmocka_unit_test(test_subscriber_joins_mid_campaign),
        cmocka_unit_test(test_sigterm_stops_cleanly_and_resumes),
        cmocka_unit_test(test_cli_usage),
        cmocka_unit_test(test_verify_and_no_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
