/*
 * test_engine.c - the Scheduler's semantics on the real loop, a real store and real
 * runners (function and command), in process.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engine/campaign.h"
#include "engine/experiment.h"
#include "engine_testlib.h"
#include "proto/axl_log.h"
#include "storage/axl_store.h"

/* A Branin experiment; the caller supplies the scheduler and runner objects. */
#define BRANIN_SPACE                                                                               \
    "\"search_space\": {\"parameters\": ["                                                         \
    "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"                               \
    "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"                              \
    "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"

static void load_trials(const char *dir, const char *name, axl_store_experiment **out)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    assert_int_equal(axl_store_open(dir, &so, &s, NULL), 0);
    assert_int_equal(axl_store_load(s, name, out, NULL), 0);
    axl_store_fold_report rep;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_store_verify_fold(s, &rep, &eb), 0);
    assert_true(rep.events > 0);
    axl_store_close(s);
}

static void test_one_at_a_time(void **state)
{
    (void)state;
    et_trace tr;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, &tr, false);
    assert_int_equal(et_run(&opt, &res, &dir,
                            "{\"name\": \"seq\", " BRANIN_SPACE
                            "\"scheduler\": {\"max_pending_trials\": 1, \"total_trials\": 6},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\", "
                            "\"duration_s\": 0.002}}"),
                     0);
    assert_int_equal(res.exit_status, AXL_EXIT_COMPLETED);
    assert_int_equal(res.n_trials, 6);
    assert_int_equal(res.n_completed, 6);
    assert_int_equal(tr.deploys, 6);
    assert_int_equal(tr.max_in_flight, 1);
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(tr.deploy_order[i], i);
    axl_store_experiment *e;
    load_trials(dir, "seq", &e);
    assert_int_equal(e->n_trials, 6);
    for (size_t i = 0; i < e->n_trials; i++) {
        assert_int_equal(e->trials[i].status, AXL_TRIAL_COMPLETED);
        assert_int_equal(e->trials[i].deploy_count, 1);
        assert_int_equal(e->trials[i].n_metrics, 1);
        assert_string_equal(e->trials[i].metrics[0].name, "branin");
    }
    axl_store_experiment_free(e);
    et_rmtree(dir);
    free(dir);
}

static void test_failure_rate_fcf(void **state)
{
    (void)state;
    et_trace tr;
    axl_campaign_options opt;
    axl_campaign_result res;
    et_options(&opt, &tr, false);
    assert_int_equal(et_run(&opt, &res, NULL,
                            "{\"name\": \"fcf\", " BRANIN_SPACE
                            "\"scheduler\": {\"max_pending_trials\": 1, \"total_trials\": 10,"
                            "\"tolerated_trial_failure_rate\": 0.5,"
                            "\"min_failed_trials_for_failure_rate_check\": 2},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\", "
                            "\"outcomes\": \"FCFCCCCCCC\"}}"),
                     0);
    assert_int_equal(res.exit_status, AXL_EXIT_FAILURE_RATE);
    assert_int_equal(axl_exit_status_code(res.exit_status), 3);
    assert_int_equal(res.n_trials, 3);
    assert_int_equal(res.n_failed, 2);
    assert_int_equal(res.n_completed, 1);
    assert_non_null(strstr(res.reason, "tolerated trial failure rate of 0.5"));
}

static void test_all_failing_stops_after_two(void **state)
{
    (void)state;
    axl_campaign_options opt;
    axl_campaign_result res;
    et_options(&opt, NULL, false);
    assert_int_equal(et_run(&opt, &res, NULL,
                            "{\"name\": \"allfail\", " BRANIN_SPACE
                            "\"scheduler\": {\"max_pending_trials\": 1, \"total_trials\": 10,"
                            "\"min_failed_trials_for_failure_rate_check\": 2},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\", "
                            "\"failure_probability\": 1}}"),
                     0);
    assert_int_equal(res.exit_status, AXL_EXIT_FAILURE_RATE);
    assert_int_equal(res.n_trials, 2);
    assert_int_equal(res.n_failed, 2);
}

static void test_ttl_fails_hung_trial(void **state)
{
    (void)state;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, NULL, false);
    assert_int_equal(et_run(&opt, &res, &dir,
                            "{\"name\": \"ttl\", " BRANIN_SPACE
                            "\"scheduler\": {\"max_pending_trials\": 2, \"total_trials\": 2,"
                            "\"ttl_seconds_for_trials\": 0.05},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\", "
                            "\"outcomes\": \"HC\"}}"),
                     0);
    assert_int_equal(res.exit_status, AXL_EXIT_COMPLETED);
    assert_int_equal(res.n_failed, 1);
    assert_int_equal(res.n_completed, 1);
    axl_store_experiment *e;
    load_trials(dir, "ttl", &e);
    assert_int_equal(e->trials[0].status, AXL_TRIAL_FAILED);
    assert_non_null(strstr(e->trials[0].reason, "ttl_seconds_for_trials"));
    /* The TTL counts from when the trial started running. */
    assert_true(e->trials[0].updated - e->trials[0].deployed >= 0.045);
    assert_int_equal(e->trials[1].status, AXL_TRIAL_COMPLETED);
    axl_store_experiment_free(e);
    et_rmtree(dir);
    free(dir);
}

static void test_timeout_zero_runs_nothing(void **state)
{
    (void)state;
    et_trace tr;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, &tr, false);
    opt.timeout_hours = 0;
    assert_int_equal(et_run(&opt, &res, &dir,
                            "{\"name\": \"t0\", " BRANIN_SPACE
                            "\"scheduler\": {\"total_trials\": 5},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}"),
                     0);
    assert_int_equal(res.exit_status, AXL_EXIT_TIMEOUT);
    assert_int_equal(res.n_trials, 0);
    assert_int_equal(tr.deploys, 0);
    axl_store_experiment *e;
    load_trials(dir, "t0", &e);
    assert_int_equal(e->n_trials, 0);
    axl_store_experiment_free(e);
    et_rmtree(dir);
    free(dir);
}

static void test_batches_capacity_two(void **state)
{
    (void)state;
    et_trace tr;
    axl_campaign_options opt;
    axl_campaign_result res;
    et_options(&opt, &tr, false);
    assert_int_equal(et_run(&opt, &res, NULL,
                            "{\"name\": \"batch\", " BRANIN_SPACE
                            "\"scheduler\": {\"total_trials\": 3, \"run_trials_in_batches\": true},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\", "
                            "\"capacity\": 2, \"duration_s\": 0.005}}"),
                     0);
    assert_int_equal(res.exit_status, AXL_EXIT_COMPLETED);
    assert_int_equal(res.n_completed, 3);
    assert_int_equal(res.deploy_calls, 2);
    assert_int_equal(tr.max_in_flight, 2);
}

static void test_no_batches_one_call_per_trial(void **state)
{
    (void)state;
    axl_campaign_options opt;
    axl_campaign_result res;
    et_options(&opt, NULL, false);
    assert_int_equal(et_run(&opt, &res, NULL,
                            "{\"name\": \"nobatch\", " BRANIN_SPACE
                            "\"scheduler\": {\"total_trials\": 3},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\", "
                            "\"capacity\": 2, \"duration_s\": 0.005}}"),
                     0);
    assert_int_equal(res.deploy_calls, 3);
}

/* Writes a CANDIDATE trial into the store of a campaign that ran nothing. */
static void add_candidate(const char *dir, const char *name, double x1, double x2)
{
    axl_store *s = NULL;
    axl_store_batch *b = NULL;
    assert_int_equal(axl_store_open(dir, NULL, &s, NULL), 0);
    assert_int_equal(axl_store_batch_new(&b), 0);
    axl_param_value pv[2] = {{"x1", {.kind = AXL_VALUE_NUM, .num = x1}},
                             {"x2", {.kind = AXL_VALUE_NUM, .num = x2}}};
    axl_trial_rec rec = {.experiment = name,
                         .index = 0,
                         .status = AXL_TRIAL_CANDIDATE,
                         .gen_method = "Manual",
                         .created = 1.7e9,
                         .updated = 1.7e9,
                         .n_params = 2,
                         .params = pv};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_trial_rec_encode(&rec, &sb, NULL), 0);
    axl_event ev = {.type = "trial.created",
                    .type_len = 13,
                    .experiment = name,
                    .experiment_len = strlen(name),
                    .trial = 0,
                    .rec = AXL_REC_TRIAL,
                    .body = sb.data,
                    .body_len = sb.size};
    assert_int_equal(axl_store_batch_add(b, &ev, NULL), 0);
    assert_int_equal(axl_store_commit(s, b, NULL, NULL), 0);
    msgpack_sbuffer_destroy(&sb);
    axl_store_batch_free(b);
    axl_store_close(s);
}

static void test_candidate_deployed_first(void **state)
{
    (void)state;
    et_trace tr;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, &tr, false);
    opt.timeout_hours = 0; /* records the experiment, runs nothing */
    assert_int_equal(et_run(&opt, &res, &dir,
                            "{\"name\": \"cand\", " BRANIN_SPACE
                            "\"scheduler\": {\"total_trials\": 4, \"max_pending_trials\": 1},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}"),
                     0);
    add_candidate(dir, "cand", 3.14159, 2.275);

    et_options(&opt, &tr, false);
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_engine_run(NULL, "cand", dir, true, &opt, &res, &eb), 0);
    assert_int_equal(res.exit_status, AXL_EXIT_COMPLETED);
    assert_int_equal(res.n_trials, 4);
    assert_int_equal(tr.deploy_order[0], 0);
    axl_store_experiment *e;
    load_trials(dir, "cand", &e);
    assert_int_equal(e->trials[0].status, AXL_TRIAL_COMPLETED);
    assert_string_equal(e->trials[0].gen_method, "Manual");
    assert_true(fabs(e->trials[0].metrics[0].mean - 0.397887) < 1e-3);
    for (size_t i = 0; i < e->n_trials; i++)
        assert_int_equal(e->trials[i].deploy_count, 1);
    axl_store_experiment_free(e);
    et_rmtree(dir);
    free(dir);
}

static void test_command_runner(void **state)
{
    (void)state;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, NULL, false);
    /* Trial 0 exits non-zero, 1 prints no JSON, 2 hangs past the timeout, 3 hangs with a
     * grandchild in its own session holding stdout, 4 succeeds leaving such a grandchild,
     * 5+ succeed. Neither grandchild may keep its trial waiting: stdout is a file. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(
        et_run(
            &opt, &res, &dir,
            "{\"name\": \"cmd\", " BRANIN_SPACE
            "\"scheduler\": {\"total_trials\": 7, \"max_pending_trials\": 7,"
            "\"min_failed_trials_for_failure_rate_check\": 10},"
            "\"runner\": {\"type\": \"command\", \"timeout_s\": 3, \"argv\": [\"/bin/sh\", "
            "\"-c\", \"case $0 in 0) echo broken >&2; exit 3;; 1) echo hello;; 2) sleep 30;; "
            "3) setsid sleep 40 & sleep 60;; 4) setsid sleep 40 & echo '{{\\\"branin\\\": '$1'}';; "
            "*) echo log line; echo '{{\\\"branin\\\": '$1', \\\"note\\\": \\\"x\\\"}';; esac\", "
            "\"{trial}\", \"{x1}\"]}}"),
        0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* The 3 s timeout, far below the grandchildren's 40 s, whatever the machine's load. */
    assert_true((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec) < 30);
    assert_int_equal(res.n_trials, 7);
    axl_store_experiment *e;
    load_trials(dir, "cmd", &e);
    assert_int_equal(e->trials[0].status, AXL_TRIAL_FAILED);
    assert_non_null(strstr(e->trials[0].reason, "exit code 3: broken"));
    assert_int_equal(e->trials[1].status, AXL_TRIAL_FAILED);
    if (strstr(e->trials[1].reason, "no JSON object") == NULL)
        fail_msg("trial 1: %s", e->trials[1].reason);
    assert_int_equal(e->trials[2].status, AXL_TRIAL_FAILED);
    assert_non_null(strstr(e->trials[2].reason, "timed out"));
    assert_int_equal(e->trials[3].status, AXL_TRIAL_FAILED);
    assert_non_null(strstr(e->trials[3].reason, "timed out"));
    for (int i = 4; i < 7; i++) {
        assert_int_equal(e->trials[i].status, AXL_TRIAL_COMPLETED);
        /* The metric is x1, passed through argv: the template round-trips exactly. */
        assert_int_equal(e->trials[i].n_metrics, 1);
        assert_true(e->trials[i].metrics[0].mean == e->trials[i].params[0].value.num);
        assert_non_null(e->trials[i].job_id);
        assert_memory_equal(e->trials[i].job_id, "pid:", 4);
    }
    axl_store_experiment_free(e);
    et_rmtree(dir);
    free(dir);
}

/* A command's output that is not a metric says what is wrong with it: NaN (not JSON), the
 * objective as a string, a negative SEM. */
static void test_command_output_messages(void **state)
{
    (void)state;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, NULL, false);
    assert_int_equal(et_run(&opt, &res, &dir,
                            "{\"name\": \"msgs\", " BRANIN_SPACE
                            "\"scheduler\": {\"total_trials\": 4, \"max_pending_trials\": 4,"
                            "\"min_failed_trials_for_failure_rate_check\": 10},"
                            "\"runner\": {\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", "
                            "\"case $0 in 0) echo '{{\\\"branin\\\": NaN}';; "
                            "1) echo '{{\\\"branin\\\": \\\"1.5\\\"}';; "
                            "2) echo '{{\\\"branin\\\": [1, -1]}';; "
                            "*) echo '{{\\\"branin\\\": '$1'}';; esac\", \"{trial}\", \"{x1}\"]}}"),
                     0);
    assert_int_equal(res.n_trials, 4);
    axl_store_experiment *e;
    load_trials(dir, "msgs", &e);
    static const char *const want[] = {
        "NaN is not valid JSON",
        "metric 'branin' is a string, expected a number",
        "sem of 'branin' is negative (-1)",
    };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e->trials[i].status, AXL_TRIAL_FAILED);
        if (e->trials[i].reason == NULL || strstr(e->trials[i].reason, want[i]) == NULL)
            fail_msg("trial %d: %s", i, e->trials[i].reason ? e->trials[i].reason : "(none)");
    }
    assert_int_equal(e->trials[3].status, AXL_TRIAL_COMPLETED);
    axl_store_experiment_free(e);
    et_rmtree(dir);
    free(dir);
}

/* Branin on bounds of +-1e200 overflows to inf (x1 squared): a FAILED trial, in memory and in the
 * store alike (the store check of every turn compares the two). */
static void test_non_finite_objective_is_failed(void **state)
{
    (void)state;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, NULL, false);
    assert_int_equal(
        et_run(&opt, &res, &dir,
               "{\"name\": \"inf\", \"search_space\": {\"parameters\": ["
               "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-1e200, 1e200]},"
               "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [-1e200, 1e200]}]},"
               "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
               "\"scheduler\": {\"total_trials\": 4, "
               "\"min_failed_trials_for_failure_rate_check\": 10},"
               "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}"),
        0);
    assert_int_equal(res.n_trials, 4);
    axl_store_experiment *e;
    load_trials(dir, "inf", &e);
    uint32_t failed = 0;
    for (size_t i = 0; i < e->n_trials; i++) {
        assert_true(axl_trial_status_is_terminal(e->trials[i].status));
        if (e->trials[i].status == AXL_TRIAL_FAILED) {
            failed++;
            assert_non_null(strstr(e->trials[i].reason, "is not finite"));
        }
    }
    assert_true(failed >= 3); /* on that box nearly every |x1| is above 1e154 */
    assert_int_equal(res.n_failed, failed);
    assert_int_equal(res.n_completed + res.n_failed, 4);
    axl_store_experiment_free(e);
    et_rmtree(dir);
    free(dir);
}

static void test_resume_continues_sobol_and_strategy(void **state)
{
    (void)state;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, NULL, false);
    opt.max_trials = 3;
    assert_int_equal(et_run(&opt, &res, &dir,
                            "{\"name\": \"res\", " BRANIN_SPACE
                            "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", "
                            "\"num_trials\": 6, \"seed\": 7}, {\"model\": \"gp_logei\"}]},"
                            "\"scheduler\": {\"total_trials\": 8},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}"),
                     0);
    assert_int_equal(res.n_trials, 3);
    et_options(&opt, NULL, false);
    axl_errbuf eb = {{0}};
    int rv = axl_engine_run(NULL, "res", dir, true, &opt, &res, &eb);
    if (rv != 0)
        fprintf(stderr, "resume: %s\n", eb.msg);
    assert_int_equal(rv, 0);
    assert_int_equal(res.n_trials, 8);
    assert_int_equal(res.n_completed, 8);
    axl_store_experiment *e;
    load_trials(dir, "res", &e);
    /* Resume continued the same scrambled sequence: the same as one run with seed 7. */
    double first_run[6][2];
    for (int i = 0; i < 6; i++) {
        first_run[i][0] = e->trials[i].params[0].value.num;
        first_run[i][1] = e->trials[i].params[1].value.num;
        assert_string_equal(e->trials[i].gen_method, "Sobol");
    }
    assert_string_equal(e->trials[6].gen_method, "GP-LogEI");
    axl_store_experiment_free(e);
    char *dir2 = NULL;
    et_options(&opt, NULL, false);
    assert_int_equal(et_run(&opt, &res, &dir2,
                            "{\"name\": \"res\", " BRANIN_SPACE
                            "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", "
                            "\"num_trials\": 6, \"seed\": 7}, {\"model\": \"gp_logei\"}]},"
                            "\"scheduler\": {\"total_trials\": 6},"
                            "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}"),
                     0);
    load_trials(dir2, "res", &e);
    for (int i = 0; i < 6; i++) {
        assert_true(e->trials[i].params[0].value.num == first_run[i][0]);
        assert_true(e->trials[i].params[1].value.num == first_run[i][1]);
    }
    axl_store_experiment_free(e);
    et_rmtree(dir);
    et_rmtree(dir2);
    free(dir);
    free(dir2);
}

static void test_run_refuses_existing_experiment(void **state)
{
    (void)state;
    axl_campaign_options opt;
    axl_campaign_result res;
    char *dir = NULL;
    et_options(&opt, NULL, false);
    const char *json = "{\"name\": \"twice\", " BRANIN_SPACE "\"scheduler\": {\"total_trials\": 1},"
                       "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}";
    assert_int_equal(et_run(&opt, &res, &dir, "%s", json), 0);
    char *path = et_write_file(dir, "again.json", json);
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_engine_run(path, NULL, dir, true, &opt, &res, &eb), AXL_EEXIST);
    assert_non_null(strstr(eb.msg, "axle resume twice"));
    free(path);
    et_rmtree(dir);
    free(dir);
}

/* ---- experiment files: every kind of mistake names its JSON path ------------------- */

static void expect_config_error(const char *json, const char *message)
{
    axl_experiment *e = NULL;
    axl_errbuf eb = {{0}};
    int rv = axl_experiment_parse(json, strlen(json), &e, &eb);
    if (rv != AXL_ECONFIG || strstr(eb.msg, message) == NULL)
        fail_msg("for %s\n  expected '%s'\n  got %d '%s'", json, message, rv, eb.msg);
    assert_null(e);
}

#define RUNNER "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}"
#define OBJ "\"objective\": {\"metric\": \"m\", \"minimize\": false},"
#define P2 "{\"name\": \"a\", \"type\": \"range\", \"bounds\": [0, 1]}"

static void test_bad_experiment_files(void **state)
{
    (void)state;
    expect_config_error("{\"name\": ", "line 1");
    expect_config_error("[]", "(top level): must be an object");
    expect_config_error("{\"nmae\": 1}", "nmae: unknown key");
    expect_config_error("{\"name\": \"a b\"}", "name: required, 1-128 letters");
    expect_config_error("{\"name\": \".hidden\"}", "starting with a letter");
    expect_config_error("{\"name\": \"-rf\"}", "starting with a letter");
    expect_config_error("{\"name\": \"a/b\"}", "name: required");
    expect_config_error("{\"name\": \"x\", " OBJ RUNNER "}", "search_space: required");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": []}, " OBJ RUNNER "}",
                        "search_space.parameters: must be an array of 1 to");
    expect_config_error(
        "{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 ", " P2
        ", {\"name\": \"c\", \"type\": \"range\", \"bounds\": [30, 5]}]}, " OBJ RUNNER "}",
        "search_space.parameters[1].name: 'a' is already");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2
                        ", {\"name\": \"b\", \"type\": \"range\", \"bounds\": [0, 1]}, "
                        "{\"name\": \"c\", \"type\": \"range\", \"bounds\": [30, 5]}]}, " OBJ RUNNER
                        "}",
                        "search_space.parameters[2].bounds: lower 30 must be below upper 5");
    expect_config_error(
        "{\"name\": \"x\", \"search_space\": {\"parameters\": [{\"name\": \"a\", "
        "\"type\": \"range\", \"bounds\": [0, 1], \"log_scale\": true}]}, " OBJ RUNNER "}",
        "log_scale needs a lower bound above 0");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [{\"name\": \"a\", "
                        "\"type\": \"choice\", \"values\": [1]}]}, " OBJ RUNNER "}",
                        "search_space.parameters[0].values: must be an array of 2 to");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [{\"name\": \"a\", "
                        "\"type\": \"cube\"}]}, " OBJ RUNNER "}",
                        "parameters[0].type: 'cube' is not range, choice or fixed");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2
                        "], \"parameter_constraints\": [\"a + q <= 1\"]}, " OBJ RUNNER "}",
                        "parameter_constraints[0]: unknown parameter 'q'");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2
                        "], \"parameter_constraints\": [\"2*a < 1\"]}, " OBJ RUNNER "}",
                        "expected '<=' or '>='");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 "]}, "
                        "\"objective\": {\"metric\": \"m\"}, " RUNNER "}",
                        "objective.minimize: required");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 "]}, " OBJ
                        "\"scheduler\": {\"tolerated_trial_failure_rate\": 1.5}, " RUNNER "}",
                        "scheduler.tolerated_trial_failure_rate: must be in [0, 1)");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 "]}, " OBJ
                        "\"scheduler\": {\"max_pending_trial\": 3}, " RUNNER "}",
                        "scheduler.max_pending_trial: unknown key");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 "]}, " OBJ
                        "\"scheduler\": {\"max_pending_trials\": 0}, " RUNNER "}",
                        "scheduler.max_pending_trials: 0 is outside [1, 100000]");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 "]}, " OBJ
                        "\"generation_strategy\": {\"steps\": [{\"model\": \"random\"}]}, " RUNNER
                        "}",
                        "generation_strategy.steps[0].model: 'random' is not sobol or gp_logei");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 "]}, " OBJ
                        "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\"}, "
                        "{\"model\": \"gp_logei\"}]}, " RUNNER "}",
                        "steps[0].num_trials: only the last step may be unlimited");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 "]}, " OBJ
                        "\"runner\": {\"type\": \"robot\"}}",
                        "runner.type: 'robot' is not function, command or lab");
    expect_config_error("{\"name\": \"x\", \"search_space\": {\"parameters\": [" P2 "]}, " OBJ
                        "\"runner\": {\"type\": \"lab\"}}",
                        "lab: required by runner type lab");
    expect_config_error("{\"name\": \"x\", \"name\": \"y\"}", "duplicate");
}

static void test_runner_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *runner;
        const char *message;
    } cases[] = {
        {"{\"type\": \"function\", \"function\": \"rosenbrock\"}",
         "runner.function: 'rosenbrock' is not branin or hartmann6"},
        {"{\"type\": \"function\", \"function\": \"hartmann6\"}",
         "hartmann6 takes 6 range parameters, the search space has 2"},
        {"{\"type\": \"function\", \"function\": \"branin\", \"speed\": 1}",
         "runner.speed: unknown key"},
        {"{\"type\": \"function\", \"function\": \"branin\", \"outcomes\": \"CX\"}",
         "runner.outcomes: must be a string of C"},
        {"{\"type\": \"command\"}", "runner.argv: required"},
        {"{\"type\": \"command\", \"argv\": [\"echo\", \"{x3}\"]}",
         "runner.argv[1]: {x3} is not a parameter"},
        {"{\"type\": \"command\", \"argv\": [\"echo\"], \"timeout_s\": -1}",
         "runner.timeout_s: must be a number above 0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[2048];
        snprintf(json, sizeof(json), "{\"name\": \"r\", " BRANIN_SPACE "\"runner\": %s}",
                 cases[i].runner);
        axl_experiment *e = NULL;
        axl_errbuf eb = {{0}};
        assert_int_equal(axl_experiment_parse(json, strlen(json), &e, &eb), 0);
        const axl_runner_ops *ops = axl_runner_ops_for(e->runner_kind);
        axl_runner r = {.ops = ops};
        uv_loop_t loop;
        uv_loop_init(&loop);
        int rv = ops->init(&r, &loop, e, &eb);
        if (rv != AXL_ECONFIG || strstr(eb.msg, cases[i].message) == NULL)
            fail_msg("runner %s: expected '%s', got %d '%s'", cases[i].runner, cases[i].message, rv,
                     eb.msg);
        uv_loop_close(&loop);
        axl_experiment_free(e);
    }
}

static void test_auto_strategy_like_ax(void **state)
{
    (void)state;
    const char *json = "{\"name\": \"auto\", \"search_space\": {\"parameters\": ["
                       "{\"name\": \"a\", \"type\": \"range\", \"bounds\": [0, 1]},"
                       "{\"name\": \"b\", \"type\": \"range\", \"bounds\": [1, 100], "
                       "\"log_scale\": true},"
                       "{\"name\": \"c\", \"type\": \"range\", \"value_type\": \"int\", "
                       "\"bounds\": [1, 9]},"
                       "{\"name\": \"d\", \"type\": \"choice\", \"values\": [\"x\", \"y\"]},"
                       "{\"name\": \"e\", \"type\": \"fixed\", \"value\": 3.5}]},"
                       "\"objective\": {\"metric\": \"m\", \"minimize\": true},"
                       "\"runner\": {\"type\": \"command\", \"argv\": [\"true\"]}}";
    axl_experiment *e = NULL;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_experiment_parse(json, strlen(json), &e, &eb), 0);
    assert_true(e->strategy_auto);
    assert_int_equal(e->strategy.n_steps, 2);
    assert_int_equal(e->strategy.steps[0].model, AXL_GEN_SOBOL);
    assert_int_equal(e->strategy.steps[0].num_trials, 8); /* max(5, 2 * 4 free params) */
    assert_int_equal(e->strategy.steps[0].min_trials_observed, 4);
    assert_int_equal(e->strategy.steps[1].model, AXL_GEN_GP_LOGEI);
    assert_int_equal(e->strategy.steps[1].max_parallelism, 3);
    /* Ax's defaults for SchedulerOptions. */
    assert_int_equal(e->options.max_pending_trials, 10);
    assert_true(e->options.tolerated_trial_failure_rate == 0.5);
    assert_int_equal(e->options.min_failed_trials_for_failure_rate_check, 5);
    assert_true(e->options.wait_for_running_trials);
    assert_false(e->options.run_trials_in_batches);
    /* Values round-trip through coordinates. */
    axl_value v = axl_experiment_value_at(e, 3, 1);
    assert_int_equal(v.kind, AXL_VALUE_STR);
    assert_string_equal(v.str, "y");
    double x;
    assert_int_equal(axl_experiment_coord_of(e, 3, &v, &x), 0);
    assert_true(x == 1);
    v = axl_experiment_value_at(e, 2, 4.4);
    assert_int_equal(v.kind, AXL_VALUE_INT);
    assert_int_equal(v.i, 4);
    axl_experiment_free(e);
}

static void test_trial_list_format(void **state)
{
    (void)state;
    char buf[64];
    uint32_t one[] = {3}, run[] = {6, 7, 8}, two[] = {1, 4}, pair[] = {4, 5};
    axl_format_trial_list(one, 1, buf, sizeof(buf));
    assert_string_equal(buf, "[3]");
    axl_format_trial_list(run, 3, buf, sizeof(buf));
    assert_string_equal(buf, "6 - 8");
    axl_format_trial_list(two, 2, buf, sizeof(buf));
    assert_string_equal(buf, "[1, 4]");
    axl_format_trial_list(pair, 2, buf, sizeof(buf));
    assert_string_equal(buf, "[4, 5]");
}

int main(void)
{
    axl_log_set_level(AXL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_at_a_time),
        cmocka_unit_test(test_failure_rate_fcf),
        cmocka_unit_test(test_all_failing_stops_after_two),
        cmocka_unit_test(test_ttl_fails_hung_trial),
        cmocka_unit_test(test_timeout_zero_runs_nothing),
        cmocka_unit_test(test_batches_capacity_two),
        cmocka_unit_test(test_no_batches_one_call_per_trial),
        cmocka_unit_test(test_candidate_deployed_first),
        cmocka_unit_test(test_command_runner),
        cmocka_unit_test(test_command_output_messages),
        cmocka_unit_test(test_non_finite_objective_is_failed),
        cmocka_unit_test(test_resume_continues_sobol_and_strategy),
        cmocka_unit_test(test_run_refuses_existing_experiment),
        cmocka_unit_test(test_bad_experiment_files),
        cmocka_unit_test(test_runner_config_errors),
        cmocka_unit_test(test_auto_strategy_like_ax),
        cmocka_unit_test(test_trial_list_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
