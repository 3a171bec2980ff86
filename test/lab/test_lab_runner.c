/*
 * test_lab_runner.c - the lab runner through the real engine (axl_engine_run, its loop,
 * its store) with the line's workers as real `axle worker` processes on ipc:// sockets:
 * a small campaign to COMPLETED with PL metrics and spectrum files, labware exhaustion
 * as FAILED before anything starts, a SIGKILLed worker noticed by the heartbeat timer
 * (its running task's trial FAILED, the tasks waiting for it re-queued), a hung worker
 * killed and restarted by the simulated line with nothing run twice, configuration
 * errors that name the JSON path, and kill -9 of the engine mid-campaign then
 * `axle resume`, which reconciles the RUNNING trials with the workers that kept going.
 */
#include "lab_proc.h"

#include <gsl/gsl_errno.h>

#include "engine/axl_engine.h"
#include "storage/axl_store.h"

#define EXP "pl_test"

/* ---- experiment files ------------------------------------------------------------------- */

typedef struct exp_opts {
    json_t *lab_extra; /* merged into lab (stolen), or NULL */
    int trials;
    int sobol;       /* Sobol trials; the rest GP-LogEI (0 = Sobol only) */
    int parallelism; /* both steps */
    double speed;
    json_t *simulate_extra; /* merged into lab.simulate (stolen), or NULL */
    json_t *workers;        /* lab.workers instead of simulate (stolen), or NULL */
    json_t *labware_trays;  /* replaces lab.labware.trays (stolen), or NULL */
    double tolerated;       /* failure rate */
} exp_opts;

/* Writes the experiment: the seed's lab section, anneals kept short (900-1200 s) so a
 * sample takes about 2,200 s of line time. Returns the malloc'd path. */
static char *write_experiment(const char *dir, const exp_opts *o)
{
    json_t *lab = lab_load_json(AXL_SEED_LAB_JSON);
    json_t *params = json_pack("[{s:s,s:s,s:[i,i]},{s:s,s:s,s:[i,i]},{s:s,s:s,s:[i,i]},"
                               "{s:s,s:s,s:[i,i]}]",
                               "name", "antisolvent_volume", "type", "range", "bounds", 30, 150,
                               "name", "antisolvent_rate", "type", "range", "bounds", 30, 150,
                               "name", "antisolvent_timing", "type", "range", "bounds", -30, -5,
                               "name", "anneal_duration", "type", "range", "bounds", 900, 1200);
    json_t *steps = json_array();
    int sobol = o->sobol > 0 ? o->sobol : -1;
    json_array_append_new(steps, json_pack("{s:s,s:i,s:i,s:i,s:i}", "model", "sobol", "num_trials",
                                           sobol, "min_trials_observed", sobol > 0 ? 2 : 0,
                                           "max_parallelism", o->parallelism, "seed", 7));
    if (o->sobol > 0)
        json_array_append_new(steps, json_pack("{s:s,s:i,s:i}", "model", "gp_logei", "num_trials",
                                               -1, "max_parallelism", o->parallelism));
    if (o->workers != NULL) {
        json_object_set_new(lab, "workers", o->workers);
        json_object_set_new(lab, "speed", json_real(o->speed));
    } else {
        json_t *sim =
            json_pack("{s:f,s:i,s:s}", "speed", o->speed, "seed", 3, "worker_bin", AXLE_BIN);
        if (o->simulate_extra != NULL) {
            json_object_update(sim, o->simulate_extra);
            json_decref(o->simulate_extra);
        }
        json_object_set_new(lab, "simulate", sim);
    }
    json_object_set_new(lab, "heartbeat_ms", json_integer(50));
    json_object_set_new(lab, "heartbeat_timeout_ms", json_integer(600));
    if (o->labware_trays != NULL)
        json_object_set_new(json_object_get(lab, "labware"), "trays", o->labware_trays);
    if (o->lab_extra != NULL) {
        json_object_update(lab, o->lab_extra);
        json_decref(o->lab_extra);
    }
    json_t *e = json_pack("{s:s,s:{s:o},s:{s:s,s:b},s:{s:o},s:{s:i,s:i,s:f,s:i},s:{s:s},s:o}",
                          "name", EXP, "search_space", "parameters", params, "objective", "metric",
                          "redplspec_intensity", "minimize", 0, "generation_strategy", "steps",
                          steps, "scheduler", "total_trials", o->trials, "max_pending_trials", 10,
                          "tolerated_trial_failure_rate", o->tolerated > 0 ? o->tolerated : 0.5,
                          "min_failed_trials_for_failure_rate_check", 5, "runner", "type", "lab",
                          "lab", lab);
    assert_non_null(e);
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/exp.json", dir);
    assert_int_equal(json_dump_file(e, path, JSON_INDENT(1)), 0);
    json_decref(e);
    return path;
}

static void options(axl_campaign_options *o)
{
    axl_campaign_options_default(o);
    o->stream = false;
    o->handle_signals = false;
}

/* ---- reading the store back ---------------------------------------------------------------- */

typedef struct outcome {
    axl_store *s;
    axl_store_experiment *e;
    uint32_t completed, failed;
    uint64_t ev_started[64], ev_finished[64]; /* task events per trial */
    uint64_t labware_events;
} outcome;

static void read_store(const char *store, outcome *out)
{
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_errbuf eb = {{0}};
    memset(out, 0, sizeof(*out));
    assert_int_equal(axl_store_open(store, &so, &out->s, &eb), 0);
    assert_int_equal(axl_store_load(out->s, EXP, &out->e, &eb), 0);
    if (axl_store_verify_fold(out->s, NULL, &eb) != 0)
        fail_msg("fold: %s", eb.msg);
    for (size_t i = 0; i < out->e->n_trials; i++) {
        out->completed += out->e->trials[i].status == AXL_TRIAL_COMPLETED;
        out->failed += out->e->trials[i].status == AXL_TRIAL_FAILED;
    }
    axl_store_iter *it;
    assert_int_equal(axl_store_iter_open(out->s, 1, 0, &it, &eb), 0);
    uint64_t seq;
    const void *data;
    size_t len;
    while (axl_store_iter_next(it, &seq, &data, &len, &eb) == 0) {
        axl_event ev;
        assert_int_equal(axl_event_decode(data, len, &ev, &eb), 0);
        bool started = ev.type_len == 12 && memcmp(ev.type, "task.started", 12) == 0;
        bool finished = ev.type_len == 13 && memcmp(ev.type, "task.finished", 13) == 0;
        if ((started || finished) && ev.trial >= 0 && ev.trial < 64)
            (started ? out->ev_started : out->ev_finished)[ev.trial]++;
        if (ev.type_len == 15 && memcmp(ev.type, "labware.updated", 15) == 0) {
            assert_int_equal(ev.rec, AXL_REC_LABWARE);
            out->labware_events++;
        }
    }
    axl_store_iter_close(it);
}

static void outcome_free(outcome *o)
{
    axl_store_experiment_free(o->e);
    axl_store_close(o->s);
}

static double metric(const axl_trial_rec *t, const char *name)
{
    for (uint32_t k = 0; k < t->n_metrics; k++)
        if (strcmp(t->metrics[k].name, name) == 0)
            return t->metrics[k].mean;
    return NAN;
}

/* Records with "st": "running" per task id in a worker journal; max over ids. */
static int max_runs_in_journal(const char *path, int *ids_seen)
{
    static char buf[1 << 22];
    static char ids[4096][AXL_WIRE_MAX_ID + 1];
    int runs[4096] = {0}, n = 0, max = 0;
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    for (size_t off = 0; off < len;) {
        size_t l;
        axl_msg m;
        if (axl_mp_next(buf + off, len - off, &l, NULL) != 0)
            break;
        assert_int_equal(axl_msg_parse(&m, buf + off, l, NULL), 0);
        const char *s, *st;
        size_t sl, stl;
        if (axl_obj_str(&m.root, "j", "id", true, 128, &s, &sl, NULL) == 0 &&
            axl_obj_str(&m.root, "j", "st", true, 16, &st, &stl, NULL) == 0 && stl == 7 &&
            memcmp(st, "running", 7) == 0) {
            int k = 0;
            while (k < n && (strlen(ids[k]) != sl || memcmp(ids[k], s, sl) != 0))
                k++;
            if (k == n && n < 4096) {
                memcpy(ids[n], s, sl);
                ids[n][sl] = '\0';
                n++;
            }
            if (k < 4096 && ++runs[k] > max)
                max = runs[k];
        }
        axl_msg_free(&m);
        off += l;
    }
    *ids_seen = n;
    return max;
}

/* Every task in the worker's journal (DATA/workers/ROLE.journal) ran exactly once. */
static void assert_ran_once(const char *data_dir, const char *role)
{
    char path[600];
    int ids;
    snprintf(path, sizeof(path), "%s/workers/%s.journal", data_dir, role);
    assert_int_equal(max_runs_in_journal(path, &ids), 1);
    assert_true(ids > 0);
}

/* ---- the tests ---------------------------------------------------------------------------------
 */

typedef struct tev {
    uint64_t seq;
    char type[32];
    int64_t trial;
    int64_t index; /* task events: the task's index in the chain; -1 otherwise */
    char task[32]; /* task events: its name ("anneal", "storage_to_spincoater", ...) */
    char reason[64];
} tev;

/* The log's events (up to cap) into out; returns how many. */
static size_t read_events(const char *store, tev *out, size_t cap)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_store_iter *it = NULL;
    size_t n = 0;
    if (axl_store_open(store, &so, &s, NULL) != 0)
        return 0;
    assert_int_equal(axl_store_iter_open(s, 1, 0, &it, NULL), 0);
    uint64_t seq;
    const void *data;
    size_t len;
    while (n < cap && axl_store_iter_next(it, &seq, &data, &len, NULL) == 0) {
        axl_event ev;
        assert_int_equal(axl_event_decode(data, len, &ev, NULL), 0);
        tev *t = &out[n++];
        memset(t, 0, sizeof(*t));
        t->seq = seq;
        t->trial = ev.trial;
        t->index = -1;
        snprintf(t->type, sizeof(t->type), "%.*s", (int)ev.type_len, ev.type);
        if (strncmp(t->type, "task.", 5) != 0 || ev.body == NULL)
            continue;
        axl_msg m;
        const char *p = NULL;
        size_t pl = 0;
        uint64_t k = 0;
        assert_int_equal(axl_msg_parse(&m, ev.body, ev.body_len, NULL), 0);
        if (axl_obj_uint(&m.root, "e", "index", true, 0, 1000, &k, NULL) == 0)
            t->index = (int64_t)k;
        if (axl_obj_str(&m.root, "e", "task", true, 31, &p, &pl, NULL) == 0)
            snprintf(t->task, sizeof(t->task), "%.*s", (int)pl, p);
        axl_msg_free(&m);
    }
    axl_store_iter_close(it);
    axl_store_close(s);
    return n;
}

/* The first event of type for trial (and task index, >= 0) after seq; NULL when none. */
static const tev *find_event(const tev *ev, size_t n, const char *type, int64_t trial,
                             int64_t index, uint64_t after)
{
    for (size_t i = 0; i < n; i++)
        if (ev[i].seq > after && strcmp(ev[i].type, type) == 0 &&
            (trial < 0 || ev[i].trial == trial) && (index < 0 || ev[i].index == index))
            return &ev[i];
    return NULL;
}

/* A step named task under way (its task.started in ev[0..n), its task.finished not);
 * NULL when none. */
static const tev *step_under_way(const tev *ev, size_t n, const char *task)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ev[i].type, "task.started") == 0 && strcmp(ev[i].task, task) == 0 &&
            find_event(ev, n, "task.finished", ev[i].trial, ev[i].index, 0) == NULL)
            return &ev[i];
    return NULL;
}

/* Reads the log of the campaign that pid runs in dir into ev (4096 at most; *n events)
 * until a step named task is under way; fails after 30 s or if the campaign ends first. */
static const tev *wait_step_under_way(const char *dir, pid_t pid, const char *task, tev *ev,
                                      size_t *n)
{
    double end = lp_now() + 30;
    for (;;) {
        assert_true(lp_now() < end);
        assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
        *n = read_events(dir, ev, 4096);
        const tev *t = step_under_way(ev, *n, task);
        if (t != NULL)
            return t;
        lp_sleep_ms(5);
    }
}

static size_t count_events(const tev *ev, size_t n, const char *type, int64_t trial)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += strcmp(ev[i].type, type) == 0 && ev[i].trial == trial;
    return c;
}

/* The spin coater and the characterization stage hold one film at a time: a film's move
 * onto one starts only after the previous film's move off it finished (in the log, whose
 * order is the gripper's: it runs one move at a time). */
static void assert_one_film_per_station(const char *store)
{
    static tev ev[4096];
    size_t n = read_events(store, ev, 4096);
    assert_true(n < 4096);
    static const char *const stations[] = {"spincoater", "characterization"};
    for (int k = 0; k < 2; k++) {
        char onto[48], off[48];
        snprintf(onto, sizeof(onto), "_to_%s", stations[k]);
        snprintf(off, sizeof(off), "%s_to_", stations[k]);
        int64_t holder = -1;
        size_t visits = 0;
        for (size_t i = 0; i < n; i++) {
            const char *t = ev[i].task;
            size_t tl = strlen(t), ol = strlen(onto);
            if (strcmp(ev[i].type, "task.started") == 0 && tl > ol &&
                strcmp(t + tl - ol, onto) == 0) {
                if (holder != -1)
                    fail_msg("trial %lld's film moved onto the %s while trial %lld's was there",
                             (long long)ev[i].trial, stations[k], (long long)holder);
                holder = ev[i].trial;
                visits++;
            } else if (strcmp(ev[i].type, "task.finished") == 0 &&
                       strncmp(t, off, strlen(off)) == 0) {
                assert_int_equal(ev[i].trial, holder);
                holder = -1;
            }
        }
        assert_int_equal(holder, -1);
        assert_true(visits >= 6);
    }
}

static void test_small_campaign_completes_with_pl_metrics(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    exp_opts o = {.trials = 6, .sobol = 3, .parallelism = 3, .speed = 4000};
    char *path = write_experiment(dir, &o);
    axl_campaign_options opt;
    axl_campaign_result res;
    axl_errbuf eb = {{0}};
    options(&opt);
    int rv = axl_engine_run(path, NULL, dir, true, &opt, &res, &eb);
    if (rv != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(res.exit_status, AXL_EXIT_COMPLETED);
    assert_int_equal(res.n_completed, 6);
    assert_int_equal(res.n_failed, 0);
    assert_true(res.has_best && res.best_value > 300);

    outcome out;
    read_store(dir, &out);
    assert_int_equal(out.e->n_trials, 6);
    assert_int_equal(out.completed, 6);
    for (size_t i = 0; i < out.e->n_trials; i++) {
        const axl_trial_rec *t = &out.e->trials[i];
        double in = metric(t, "redplspec_intensity"), ev = metric(t, "pl_peak_ev"),
               fwhm = metric(t, "pl_fwhm_ev");
        /* The film model's floor is 300 counts/s, its peak 10,000 (+ 5 % film noise). */
        assert_true(in > 150 && in < 13000);
        assert_near(ev, 1.63, 0.08);
        assert_true(fwhm > 0.05 && fwhm < 0.4);
        char expect_job[32], spectrum[600];
        snprintf(expect_job, sizeof(expect_job), "sample%u", t->index);
        assert_string_equal(t->job_id, expect_job);
        snprintf(spectrum, sizeof(spectrum), "%s/data/%s/PL/sample%u_pl.csv", dir, EXP, t->index);
        assert_int_equal(access(spectrum, R_OK), 0);
        /* Nine tasks per seed sample; the characterization (index 7) gave the metric. A
         * trial is COMPLETED once its sample is back in the tray: the end of the campaign
         * never cuts the last sample's final move. */
        assert_int_equal(out.ev_started[t->index], 9);
        assert_int_equal(out.ev_finished[t->index], 9);
    }
    assert_true(out.labware_events >= 6);
    /* The labware record: six samples in the tray, six tips and 6 x 20 uL of absorber. */
    assert_non_null(out.e->labware);
    axl_msg lw;
    assert_int_equal(axl_msg_parse(&lw, out.e->labware, out.e->labware_len, NULL), 0);
    assert_non_null(axl_obj_get(&lw.root, "labware"));
    axl_msg_free(&lw);
    outcome_free(&out);
    assert_one_film_per_station(dir);

    /* The line is gone with the engine: no pid files, no sockets. */
    char p[600];
    for (int r = 0; r < AXL_ROLE_COUNT; r++) {
        snprintf(p, sizeof(p), "%s/lab/%s.pid", dir, axl_worker_role_name((axl_worker_role)r));
        assert_int_not_equal(access(p, F_OK), 0);
        snprintf(p, sizeof(p), "%s/lab/%s.ipc", dir, axl_worker_role_name((axl_worker_role)r));
        assert_int_not_equal(access(p, F_OK), 0);
    }
    free(path);
    lp_rmtree(dir);
}

static void test_labware_exhaustion_fails_before_anything_starts(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    exp_opts o = {.trials = 4, .parallelism = 1, .speed = 4000, .tolerated = 0.9};
    o.labware_trays = json_pack("[{s:s,s:i,s:i}]", "name", "Tray1", "slots", 2, "columns", 2);
    char *path = write_experiment(dir, &o);
    axl_campaign_options opt;
    axl_campaign_result res;
    axl_errbuf eb = {{0}};
    options(&opt);
    assert_int_equal(axl_engine_run(path, NULL, dir, true, &opt, &res, &eb), 0);
    assert_int_equal(res.n_completed, 2);
    assert_int_equal(res.n_failed, 2);

    outcome out;
    read_store(dir, &out);
    for (size_t i = 0; i < out.e->n_trials; i++) {
        const axl_trial_rec *t = &out.e->trials[i];
        if (t->status != AXL_TRIAL_FAILED)
            continue;
        char want[64];
        snprintf(want, sizeof(want), "sample trays full: sample %u needs a slot, 0 of 2 free",
                 t->index);
        assert_non_null(t->reason);
        assert_string_equal(t->reason, want);
        assert_int_equal(out.ev_started[t->index], 0); /* nothing started */
    }
    outcome_free(&out);
    free(path);
    lp_rmtree(dir);
}

static void test_failed_pl_fit_fails_the_trial_with_its_reason(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    /* A fit window far from the film's peak (~760 nm): nothing but noise in it. */
    exp_opts o = {.trials = 2, .parallelism = 2, .speed = 4000, .tolerated = 0.99};
    o.lab_extra =
        json_pack("{s:{s:i,s:i,s:i}}", "pl", "wl_min", 1000, "wl_max", 1100, "wl_guess", 1050);
    char *path = write_experiment(dir, &o);
    axl_campaign_options opt;
    axl_campaign_result res;
    axl_errbuf eb = {{0}};
    options(&opt);
    assert_int_equal(axl_engine_run(path, NULL, dir, true, &opt, &res, &eb), 0);
    assert_int_equal(res.n_failed, 2);
    outcome out;
    read_store(dir, &out);
    for (size_t i = 0; i < out.e->n_trials; i++) {
        const axl_trial_rec *t = &out.e->trials[i];
        char spectrum[600];
        snprintf(spectrum, sizeof(spectrum),
                 "PL fit of %s/data/%s/PL/sample%u_pl.csv failed: ", dir, EXP, t->index);
        assert_int_equal(t->status, AXL_TRIAL_FAILED);
        assert_non_null(strstr(t->reason, spectrum));
        assert_int_equal(t->n_metrics, 0);
        /* the measurement happened and is kept; only its analysis failed */
        assert_true(out.ev_started[t->index] >= 8);
        char file[600];
        snprintf(file, sizeof(file), "%s/data/%s/PL/sample%u_pl.csv", dir, EXP, t->index);
        assert_int_equal(access(file, R_OK), 0);
    }
    outcome_free(&out);
    free(path);
    lp_rmtree(dir);
}

/* The test's own line (lab.workers): it restarts the spincoater when its trial fails. */
typedef struct ext_line {
    char dir[256];
    char addr[AXL_ROLE_COUNT][320];
    pid_t pid[AXL_ROLE_COUNT];
    uint32_t failed_trial;
    int failures;
} ext_line;

static ext_line *g_line;

static void restart_on_failure(void *data, uint32_t trial, axl_trial_status status)
{
    ext_line *l = data;
    if (status != AXL_TRIAL_FAILED)
        return;
    l->failures++;
    l->failed_trial = trial;
    /* On the engine's loop thread: what an operator would do. Same data dir: the
     * restarted worker remembers the interrupted task and never runs it again. */
    static const char *const speed[] = {"--speed", "4000", NULL};
    assert_true(lp_wait(l->pid[AXL_ROLE_SPINCOATER], 5) != -1);
    l->pid[AXL_ROLE_SPINCOATER] =
        lp_spawn_worker("spincoater", l->addr[AXL_ROLE_SPINCOATER], l->dir, speed);
}

static void test_killed_worker_found_by_heartbeat_timer(void **state)
{
    (void)state;
    ext_line line;
    memset(&line, 0, sizeof(line));
    g_line = &line;
    lab_tmpdir(line.dir, sizeof(line.dir));
    json_t *workers = json_object();
    for (int r = 0; r < AXL_ROLE_COUNT; r++) {
        const char *name = axl_worker_role_name((axl_worker_role)r);
        snprintf(line.addr[r], sizeof(line.addr[r]), "ipc://%s/%s.ipc", line.dir, name);
        json_object_set_new(workers, name, json_string(line.addr[r]));
        /* The spincoater SIGKILLs itself half way through its first spin coat. It runs
         * at 400x (a 75 ms half spin coat instead of 7.5 ms) so that its `started` has
         * left the process before the kill even on a loaded machine: a kill before it
         * leaves is another case: the engine cannot know whether the task ran, so it
         * waits for the worker to come back and reads the answer from its journal. */
        static const char *const crash[] = {"--speed", "400", "--crash-after", "0", NULL};
        static const char *const plain[] = {"--speed", "4000", NULL};
        line.pid[r] =
            lp_spawn_worker(name, line.addr[r], line.dir, r == AXL_ROLE_SPINCOATER ? crash : plain);
    }
    char store[300];
    snprintf(store, sizeof(store), "%s/store", line.dir);
    mkdir(store, 0755);
    exp_opts o = {
        .trials = 3, .parallelism = 3, .speed = 4000, .workers = workers, .tolerated = 0.9};
    char *path = write_experiment(line.dir, &o);
    axl_campaign_options opt;
    axl_campaign_result res;
    axl_errbuf eb = {{0}};
    options(&opt);
    opt.hooks.data = &line;
    opt.hooks.on_report = restart_on_failure;
    int rv = axl_engine_run(path, NULL, store, true, &opt, &res, &eb);
    if (rv != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(line.failures, 1);
    assert_int_equal(res.n_failed, 1);
    assert_int_equal(res.n_completed, 2); /* their spin coats waited and were re-sent */

    outcome out;
    read_store(store, &out);
    const axl_trial_rec *t = &out.e->trials[line.failed_trial];
    assert_int_equal(t->status, AXL_TRIAL_FAILED);
    assert_non_null(strstr(t->reason, "the spincoater worker"));
    assert_non_null(strstr(t->reason, "was lost (no message for"));
    assert_non_null(strstr(t->reason, "/1 (spincoat)"));
    outcome_free(&out);
    assert_ran_once(line.dir, "spincoater");
    assert_ran_once(line.dir, "gripper");

    for (int r = 0; r < AXL_ROLE_COUNT; r++)
        lp_stop(line.pid[r]);
    free(path);
    lp_rmtree(line.dir);
}

static void test_hung_worker_is_restarted_and_nothing_runs_twice(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    exp_opts o = {.trials = 5, .parallelism = 3, .speed = 4000, .tolerated = 0.9};
    o.simulate_extra = json_pack("{s:{s:i}}", "hang_after", "gripper", 4);
    char *path = write_experiment(dir, &o);
    axl_campaign_options opt;
    axl_campaign_result res;
    axl_errbuf eb = {{0}};
    options(&opt);
    assert_int_equal(axl_engine_run(path, NULL, dir, true, &opt, &res, &eb), 0);
    assert_int_equal(res.n_trials, 5);
    assert_int_equal(res.n_failed, 1); /* the sample whose move hung */
    assert_int_equal(res.n_completed, 4);

    outcome out;
    read_store(dir, &out);
    for (size_t i = 0; i < out.e->n_trials; i++)
        if (out.e->trials[i].status == AXL_TRIAL_FAILED)
            assert_non_null(strstr(out.e->trials[i].reason, "the gripper worker"));
    outcome_free(&out);
    char data[300];
    snprintf(data, sizeof(data), "%s/data", dir);
    const char *roles[] = {"gripper", "spincoater", "hotplate", "storage", "characterization"};
    for (int r = 0; r < 5; r++)
        assert_ran_once(data, roles[r]);
    free(path);
    lp_rmtree(dir);
}

static void expect_config_error(const char *dir, const char *json, const char *want)
{
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
    axl_campaign_options opt;
    axl_campaign_result res;
    axl_errbuf eb = {{0}};
    options(&opt);
    static unsigned n_stores;
    char store[300];
    snprintf(store, sizeof(store), "%s/s%u", dir, n_stores++);
    mkdir(store, 0755);
    int rv = axl_engine_run(path, NULL, store, true, &opt, &res, &eb);
    assert_int_equal(rv, AXL_ECONFIG);
    if (strstr(eb.msg, want) == NULL)
        fail_msg("expected '%s' in '%s'", want, eb.msg);
    free(path);
}

static void test_config_errors_name_the_path(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    json_t *seed = lab_load_json(AXL_SEED_LAB_JSON);
    char *lab = json_dumps(seed, JSON_COMPACT);
    json_decref(seed);
    const char *head =
        "{\"name\": \"bad\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"antisolvent_volume\", \"type\": \"range\", \"bounds\": [30, 150]},"
        "{\"name\": \"antisolvent_rate\", \"type\": \"range\", \"bounds\": [30, 150]},"
        "{\"name\": \"antisolvent_timing\", \"type\": \"range\", \"bounds\": [-30, -5]},"
        "{\"name\": \"anneal_duration\", \"type\": \"range\", \"bounds\": [900, 3600]}]},"
        "\"objective\": {\"metric\": \"y\", \"minimize\": false},"
        "\"runner\": {\"type\": \"lab\"}, \"lab\": ";
    char json[16384];
    /* lab.<typo> */
    snprintf(json, sizeof(json), "%s%.*s, \"simulat\": {}}}", head, (int)strlen(lab) - 1, lab);
    expect_config_error(dir, json, "lab.simulat: unknown key");
    /* neither workers nor simulate */
    snprintf(json, sizeof(json), "%s%s}", head, lab);
    expect_config_error(dir, json, "give either \"workers\"");
    /* a role missing from workers */
    snprintf(json, sizeof(json), "%s%.*s, \"workers\": {\"spincoater\": \"ipc:///tmp/x\"}}}", head,
             (int)strlen(lab) - 1, lab);
    expect_config_error(dir, json, "lab.workers.hotplate: required");
    /* an unknown key in simulate */
    snprintf(json, sizeof(json), "%s%.*s, \"simulate\": {\"sped\": 5}}}", head,
             (int)strlen(lab) - 1, lab);
    expect_config_error(dir, json, "lab.simulate.sped: unknown key");
    /* a binding to a parameter the search space does not have */
    char *bad = strdup(lab);
    char *p = strstr(bad, "\"anneal_duration\"");
    assert_non_null(p);
    memcpy(p, "\"anneal_durat1on\"", 17);
    snprintf(json, sizeof(json), "%s%.*s, \"simulate\": {}}}", head, (int)strlen(bad) - 1, bad);
    expect_config_error(dir, json, "lab.recipe.worklist[1].duration: bound to 'anneal_durat1on'");
    free(bad);
    free(lab);
    lp_rmtree(dir);
}

/* ---- kill -9 of the engine, then axle resume
 * ------------------------------------------------------ */

static pid_t spawn_axle(const char *const argv[])
{
    return lp_spawn_quiet(AXLE_BIN, argv);
}

static uint32_t count_status(const char *store, unsigned mask)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    uint32_t *idx = NULL;
    size_t n = 0;
    if (axl_store_open(store, &so, &s, NULL) != 0)
        return 0;
    if (axl_store_trials_by_status(s, EXP, mask, &idx, &n, NULL) != 0)
        n = 0;
    free(idx);
    axl_store_close(s);
    return (uint32_t)n;
}

static int read_pid(const char *store, const char *role)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/lab/%s.pid", store, role);
    FILE *f = fopen(p, "r");
    int pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

static void test_engine_killed_then_resumed_reconciles_with_the_workers(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    exp_opts o = {.trials = 8, .parallelism = 4, .speed = 2500};
    char *path = write_experiment(dir, &o);
    const char *run[] = {"axle", "run", path, "--store", dir, "--no-progress", "--nosync", NULL};
    pid_t pid = spawn_axle(run);
    unsigned done = 1u << AXL_TRIAL_COMPLETED, running = 1u << AXL_TRIAL_RUNNING;
    /* Mid-campaign: some trials done, some on the line. */
    double end = lp_now() + 30;
    while (!(count_status(dir, done) >= 2 && count_status(dir, running) >= 2)) {
        assert_true(lp_now() < end);
        assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
        lp_sleep_ms(5);
    }
    int worker_pids[AXL_ROLE_COUNT];
    for (int r = 0; r < AXL_ROLE_COUNT; r++)
        worker_pids[r] = read_pid(dir, axl_worker_role_name((axl_worker_role)r));
    kill(pid, SIGKILL);
    assert_true(lp_wait(pid, 5) != -1);
    uint32_t running_at_kill = count_status(dir, running);
    /* The line keeps going without its engine. */
    for (int r = 0; r < AXL_ROLE_COUNT; r++)
        assert_true(worker_pids[r] > 0 && kill(worker_pids[r], 0) == 0);

    const char *resume[] = {"axle", "resume",        EXP,        "--store",
                            dir,    "--no-progress", "--nosync", NULL};
    pid = spawn_axle(resume);
    int st = lp_wait(pid, 40);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);

    outcome out;
    read_store(dir, &out);
    assert_int_equal(out.e->n_trials, 8);
    /* Every trial finished; none ran a task twice; the resumed engine adopted the line. */
    assert_int_equal(out.completed + out.failed, 8);
    assert_int_equal(out.failed, 0);
    assert_true(running_at_kill >= 1);
    outcome_free(&out);
    char data[300];
    snprintf(data, sizeof(data), "%s/data", dir);
    const char *roles[] = {"gripper", "spincoater", "hotplate", "storage", "characterization"};
    for (int r = 0; r < 5; r++)
        assert_ran_once(data, roles[r]);
    /* Adopted, then stopped by the resumed engine. */
    for (int r = 0; r < AXL_ROLE_COUNT; r++) {
        double t_end = lp_now() + 5;
        while (kill(worker_pids[r], 0) == 0 && lp_now() < t_end)
            lp_sleep_ms(5);
        assert_int_not_equal(kill(worker_pids[r], 0), 0);
    }
    free(path);
    lp_rmtree(dir);
}

static bool pid_file_gone(const char *store, const char *role)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/lab/%s.pid", store, role);
    return access(p, F_OK) != 0;
}

/* SIGINT mid-campaign detaches: every started task runs on and no spawned worker is
 * killed; the workers finish what they started, exit by themselves (no engine, nothing
 * running) and remove their pid files; `axle resume` then completes every sample from the
 * workers' journals: 0 FAILED, every task of every worker run exactly once. */
static void test_sigint_detaches_and_resume_completes_every_sample(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    exp_opts o = {.trials = 8,
                  .parallelism = 4,
                  .speed = 2500,
                  .simulate_extra =
                      getenv("AXL_TEST_VERBOSE") ? json_pack("{s:s}", "log_level", "info") : NULL};
    char *path = write_experiment(dir, &o);
    const char *run[] = {"axle", "run", path, "--store", dir, "--no-progress", "--nosync", NULL};
    pid_t pid = spawn_axle(run);
    unsigned done = 1u << AXL_TRIAL_COMPLETED, running = 1u << AXL_TRIAL_RUNNING;
    double end = lp_now() + 30;
    while (!(count_status(dir, done) >= 1 && count_status(dir, running) >= 2)) {
        assert_true(lp_now() < end);
        assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
        lp_sleep_ms(5);
    }
    const char *roles[] = {"gripper", "spincoater", "hotplate", "storage", "characterization"};
    int worker_pids[5];
    for (int r = 0; r < 5; r++)
        worker_pids[r] = read_pid(dir, roles[r]);
    kill(pid, SIGINT);
    int st = lp_wait(pid, 20);
    assert_true(st != -1 && WIFEXITED(st));
    uint32_t running_at_stop = count_status(dir, running);
    assert_true(running_at_stop >= 1);
    /* Detached, not killed: the line outlives the engine ... */
    for (int r = 0; r < 5; r++)
        assert_true(worker_pids[r] > 0 && kill(worker_pids[r], 0) == 0);
    /* ... and each worker exits by itself once alone and idle, removing its pid file. */
    for (int r = 0; r < 5; r++) {
        double t_end = lp_now() + 30;
        while ((kill(worker_pids[r], 0) == 0 || !pid_file_gone(dir, roles[r])) && lp_now() < t_end)
            lp_sleep_ms(10);
        assert_int_not_equal(kill(worker_pids[r], 0), 0);
        if (!pid_file_gone(dir, roles[r]))
            fail_msg("the %s worker (pid %d) is gone, its pid file (pid %d) stays", roles[r],
                     worker_pids[r], read_pid(dir, roles[r]));
    }

    const char *resume[] = {"axle", "resume",        EXP,        "--store",
                            dir,    "--no-progress", "--nosync", NULL};
    pid = spawn_axle(resume);
    st = lp_wait(pid, 40);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    outcome out;
    read_store(dir, &out);
    assert_int_equal(out.e->n_trials, 8);
    assert_int_equal(out.completed, 8);
    assert_int_equal(out.failed, 0);
    outcome_free(&out);
    char data[300];
    snprintf(data, sizeof(data), "%s/data", dir);
    for (int r = 0; r < 5; r++)
        assert_ran_once(data, roles[r]);
    free(path);
    lp_rmtree(dir);
}

/* ---- abandoning a sample mid-flight ------------------------------------------------------ */

/* The highest task index of trial in a worker journal (-1 when none of its tasks is in). */
static int64_t max_index_in_journal(const char *data_dir, const char *role, int64_t trial)
{
    static char buf[1 << 22];
    char path[600];
    snprintf(path, sizeof(path), "%s/workers/%s.journal", data_dir, role);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    int64_t max = -1;
    for (size_t off = 0, l; off < len && axl_mp_next(buf + off, len - off, &l, NULL) == 0;
         off += l) {
        axl_msg m;
        const char *id;
        size_t idl;
        axl_wire_task_ref ref;
        assert_int_equal(axl_msg_parse(&m, buf + off, l, NULL), 0);
        if (axl_obj_str(&m.root, "j", "id", true, 128, &id, &idl, NULL) == 0 &&
            axl_wire_task_id_parse((axl_str){id, idl}, axl_str_c(EXP), &ref) == 0 &&
            ref.trial == trial && (int64_t)ref.index > max)
            max = ref.index;
        axl_msg_free(&m);
    }
    return max;
}

/* Task (trial, index) in a worker journal: how often it ran, and its last state ("" when it
 * is not in the journal). */
static int journal_task(const char *data_dir, const char *role, int64_t trial, int64_t index,
                        char *last, size_t cap)
{
    static char buf[1 << 22];
    char path[600];
    snprintf(path, sizeof(path), "%s/workers/%s.journal", data_dir, role);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    int runs = 0;
    last[0] = '\0';
    for (size_t off = 0, l; off < len && axl_mp_next(buf + off, len - off, &l, NULL) == 0;
         off += l) {
        axl_msg m;
        const char *id, *st;
        size_t idl, stl;
        axl_wire_task_ref ref;
        assert_int_equal(axl_msg_parse(&m, buf + off, l, NULL), 0);
        if (axl_obj_str(&m.root, "j", "id", true, 128, &id, &idl, NULL) == 0 &&
            axl_obj_str(&m.root, "j", "st", true, 16, &st, &stl, NULL) == 0 &&
            axl_wire_task_id_parse((axl_str){id, idl}, axl_str_c(EXP), &ref) == 0 &&
            ref.trial == trial && ref.index == index) {
            snprintf(last, cap, "%.*s", (int)stl, st);
            runs += stl == 7 && memcmp(st, "running", 7) == 0;
        }
        axl_msg_free(&m);
    }
    return runs;
}

/* Runs `axle ARGS` to its end; its stdout into out (NUL-terminated). Returns the status. */
static int run_axle_out(const char *const argv[], char *out, size_t cap)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY); /* async-signal-safe only: see lab_proc.h */
        if (dup2(fd[1], 1) < 0 || null < 0 || dup2(null, 2) < 0)
            _exit(127);
        close(fd[0]);
        execv(AXLE_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(fd[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fd[0]);
    int st = lp_wait(pid, 30);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

/*
 * `axle trial NAME abandon N` while sample N anneals on the hotplate: the trial ends
 * ABANDONED once; the anneal is not cut short (its task.finished follows the abandon);
 * no process task of the sample starts after the abandon, only the move of its film from
 * the hotplate back to its tray (task k + 1); the campaign goes on. kill -9 of the engine
 * once that move started and `axle resume`: the campaign completes, the move ran once and
 * finished (its task.finished recorded), and nothing else of the sample ran (the
 * workers' journals).
 */
static void test_abandon_mid_flight_finishes_the_step_and_nothing_after(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    exp_opts o = {.trials = 5, .parallelism = 2, .speed = 1000};
    char *path = write_experiment(dir, &o);
    const char *run[] = {"axle", "run", path, "--store", dir, "--no-progress", "--nosync", NULL};
    pid_t pid = spawn_axle(run);
    static tev ev[4096];
    size_t n = 0;
    /* An anneal under way: its task.started is in, its task.finished not yet. */
    const tev *anneal = wait_step_under_way(dir, pid, "anneal", ev, &n);
    int64_t victim = anneal->trial, k = anneal->index;
    char idx[24], out[512];
    snprintf(idx, sizeof(idx), "%lld", (long long)victim);
    const char *abandon[] = {"axle",    "trial", EXP,        "abandon",      idx,
                             "--store", dir,     "--reason", "film cracked", NULL};
    assert_int_equal(run_axle_out(abandon, out, sizeof(out)), 0);
    char want[64];
    snprintf(want, sizeof(want), "trial %lld ABANDONED (the running campaign)\n",
             (long long)victim);
    assert_string_equal(out, want);

    /* The anneal runs to its end, recorded after the abandon; then the engine dies. */
    const tev *ab = NULL, *fin = NULL;
    double end = lp_now() + 30;
    for (;;) {
        n = read_events(dir, ev, 4096);
        ab = find_event(ev, n, "trial.abandoned", victim, -1, 0);
        assert_non_null(ab);
        fin = find_event(ev, n, "task.finished", victim, k, ab->seq);
        if (fin != NULL)
            break;
        assert_null(find_event(ev, n, "task.failed", victim, k, 0));
        assert_true(lp_now() < end);
        assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
        lp_sleep_ms(5);
    }
    assert_string_equal(fin->task, "anneal");
    /* Then its film's move from the hotplate back to the tray starts: the engine dies in
     * the middle of it (or just after it, on a loaded machine). */
    end = lp_now() + 30;
    while (find_event(ev, n, "task.started", victim, k + 1, fin->seq) == NULL) {
        assert_true(lp_now() < end);
        assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
        lp_sleep_ms(2);
        n = read_events(dir, ev, 4096);
    }
    kill(pid, SIGKILL);
    assert_true(lp_wait(pid, 5) != -1);

    const char *resume[] = {"axle", "resume",        EXP,        "--store",
                            dir,    "--no-progress", "--nosync", NULL};
    pid = spawn_axle(resume);
    int st = lp_wait(pid, 40);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);

    n = read_events(dir, ev, 4096);
    assert_true(n < 4096);
    ab = find_event(ev, n, "trial.abandoned", victim, -1, 0);
    assert_non_null(ab);
    assert_int_equal(count_events(ev, n, "trial.abandoned", victim), 1);
    assert_int_equal(count_events(ev, n, "trial.completed", victim), 0);
    assert_int_equal(count_events(ev, n, "trial.failed", victim), 0);
    /* No process task of the sample started after the abandon: only the clearing move
     * (task k + 1, hotplate -> tray), once, and it finished; the anneal finished, once. */
    const tev *clear = find_event(ev, n, "task.started", victim, -1, ab->seq);
    assert_non_null(clear);
    assert_int_equal(clear->index, k + 1);
    assert_string_equal(clear->task, "hotplate_to_storage");
    assert_null(find_event(ev, n, "task.started", victim, -1, clear->seq));
    assert_int_equal(count_events(ev, n, "task.started", victim), (size_t)k + 2);
    assert_int_equal(count_events(ev, n, "task.finished", victim), (size_t)k + 2);
    assert_non_null(find_event(ev, n, "task.finished", victim, k + 1, clear->seq));
    assert_null(find_event(ev, n, "task.failed", victim, -1, 0));

    outcome res;
    read_store(dir, &res);
    assert_int_equal(res.e->n_trials, 5);
    assert_int_equal(res.e->trials[victim].status, AXL_TRIAL_ABANDONED);
    assert_string_equal(res.e->trials[victim].reason, "film cracked");
    assert_int_equal(res.completed, 4);
    assert_int_equal(res.failed, 0);
    outcome_free(&res);
    /* Every task of every worker ran once (the clearing move too, across the kill -9);
     * the hotplate ran the sample's anneal, and the gripper only the clearing move after
     * it, to its end. */
    char data[300], last[32];
    snprintf(data, sizeof(data), "%s/data", dir);
    const char *roles[] = {"gripper", "spincoater", "hotplate", "storage", "characterization"};
    for (int r = 0; r < 5; r++) {
        assert_ran_once(data, roles[r]);
        assert_true(max_index_in_journal(data, roles[r], victim) <= (r == 0 ? k + 1 : k));
    }
    assert_int_equal(max_index_in_journal(data, "hotplate", victim), k);
    assert_int_equal(journal_task(data, "gripper", victim, k + 1, last, sizeof(last)), 1);
    assert_string_equal(last, "finished");
    free(path);
    lp_rmtree(dir);
}

/*
 * `axle trial NAME abandon N` while sample N's first task (the move from its tray slot)
 * waits on the gripper worker for its start time (a long spin coat of the sample before it
 * holds the spin coater): the worker is told to cancel it, so it never starts; the sample
 * never runs a task and the campaign completes the others. The sample spinning is abandoned
 * too: its spin coat ends, exactly one move (spin coater -> its tray) follows, and the next
 * film goes onto the chuck only after that move finished. The spin coat is long so that
 * the window is wide; should the move start all the same (a loaded machine), the test
 * still holds it to the rule for every abandon: nothing starts after it.
 */
static void test_abandon_before_start_cancels_the_waiting_task(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    json_t *lab = lab_load_json(AXL_SEED_LAB_JSON);
    json_t *recipe = json_deep_copy(json_object_get(lab, "recipe"));
    json_decref(lab);
    json_t *spin = json_array_get(json_object_get(recipe, "worklist"), 0);
    json_object_set_new(spin, "steps", json_pack("[[i,i,i]]", 3000, 2000, 1500));
    exp_opts o = {.trials = 3, .parallelism = 2, .speed = 1000};
    o.lab_extra = json_pack("{s:o}", "recipe", recipe);
    char *path = write_experiment(dir, &o);
    const char *run[] = {"axle", "run", path, "--store", dir, "--no-progress", "--nosync", NULL};
    pid_t pid = spawn_axle(run);
    static tev ev[4096];
    size_t n = 0;
    /* Sample Y is on the line (RUNNING) and has started nothing while the sample before it
     * spins. */
    int64_t y = -1, x = -1, xk = -1;
    double end = lp_now() + 30;
    while (y < 0) {
        assert_true(lp_now() < end);
        assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
        n = read_events(dir, ev, 4096);
        const tev *spinning = step_under_way(ev, n, "spincoat");
        for (size_t i = 0; spinning != NULL && i < n && y < 0; i++)
            if (strcmp(ev[i].type, "trial.running") == 0 && ev[i].trial != spinning->trial &&
                find_event(ev, n, "task.started", ev[i].trial, -1, 0) == NULL) {
                y = ev[i].trial;
                x = spinning->trial;
                xk = spinning->index;
            }
        if (y < 0)
            lp_sleep_ms(5);
    }
    char idx[24], out[512];
    snprintf(idx, sizeof(idx), "%lld", (long long)y);
    const char *abandon[] = {"axle", "trial", EXP, "abandon", idx, "--store", dir, NULL};
    assert_int_equal(run_axle_out(abandon, out, sizeof(out)), 0);
    /* The sample spinning is abandoned too: its spin coat ends, its film goes from the chuck
     * back to its tray, and only then does another sample's film go onto the chuck. */
    char xdx[24];
    snprintf(xdx, sizeof(xdx), "%lld", (long long)x);
    const char *abandon_x[] = {"axle", "trial", EXP, "abandon", xdx, "--store", dir, NULL};
    assert_int_equal(run_axle_out(abandon_x, out, sizeof(out)), 0);
    int st = lp_wait(pid, 40);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);

    n = read_events(dir, ev, 4096);
    const tev *ab = find_event(ev, n, "trial.abandoned", y, -1, 0);
    assert_non_null(ab);
    assert_int_equal(count_events(ev, n, "trial.abandoned", y), 1);
    assert_null(find_event(ev, n, "task.started", y, -1, ab->seq));
    const tev *first = find_event(ev, n, "task.started", y, -1, 0);
    /* x: no process step after the abandon; its spin coat (if still running then) ended and
     * exactly one move after it, spin coater -> tray, started and finished; the next film
     * onto the spin coater (the third sample's) went there after that move finished. */
    const tev *ab_x = find_event(ev, n, "trial.abandoned", x, -1, 0);
    assert_non_null(ab_x);
    const tev *spun = find_event(ev, n, "task.finished", x, xk, 0);
    assert_non_null(spun);
    bool spinning = spun->seq > ab_x->seq;
    const tev *clear = find_event(ev, n, "task.started", x, -1, ab_x->seq);
    if (spinning) {
        assert_non_null(clear);
        assert_int_equal(clear->index, xk + 1);
        assert_string_equal(clear->task, "spincoater_to_storage");
        assert_null(find_event(ev, n, "task.started", x, -1, clear->seq));
        const tev *cleared = find_event(ev, n, "task.finished", x, xk + 1, clear->seq);
        assert_non_null(cleared);
        int64_t z = 3 - x - y; /* trials 0, 1, 2 */
        const tev *onto = find_event(ev, n, "task.started", z, -1, 0);
        assert_non_null(onto);
        assert_string_equal(onto->task, "storage_to_spincoater");
        assert_true(onto->seq > cleared->seq);
    } else {
        /* A loaded machine: the spin coat was over before the abandon reached it. Still no
         * process step after it, only moves. */
        print_message("the spin coat of trial %lld ended before the abandon reached it\n",
                      (long long)x);
        for (; clear != NULL; clear = find_event(ev, n, "task.started", x, -1, clear->seq))
            assert_non_null(strstr(clear->task, "_to_"));
    }
    outcome res;
    read_store(dir, &res);
    assert_int_equal(res.e->n_trials, 3);
    assert_int_equal(res.e->trials[y].status, AXL_TRIAL_ABANDONED);
    assert_int_equal(res.e->trials[x].status, AXL_TRIAL_ABANDONED);
    assert_int_equal(res.completed, 1);
    outcome_free(&res);
    char data[300], last[32];
    snprintf(data, sizeof(data), "%s/data", dir);
    const char *roles[] = {"gripper", "spincoater", "hotplate", "storage", "characterization"};
    for (int r = 0; r < 5; r++)
        assert_ran_once(data, roles[r]);
    if (spinning) {
        assert_int_equal(journal_task(data, "gripper", x, xk + 1, last, sizeof(last)), 1);
        assert_string_equal(last, "finished");
        assert_true(max_index_in_journal(data, "gripper", x) == xk + 1);
    }
    if (first == NULL) {
        /* The move waited on the gripper: canceled there, never run; nothing else sent. */
        assert_int_equal(journal_task(data, "gripper", y, 0, last, sizeof(last)), 0);
        if (last[0] != '\0')
            assert_string_equal(last, "failed");
        for (int r = 0; r < 5; r++)
            assert_true(max_index_in_journal(data, roles[r], y) <= 0);
    } else {
        print_message("the move of trial %lld started before the abandon reached it\n",
                      (long long)y);
    }
    free(path);
    lp_rmtree(dir);
}

/* The last labware.updated record's `key` array ("blocked", "clearing"): its entries'
 * `trial` and `station` (or `from`) into trials/stations (up to cap); returns how many,
 * -1 when there is no such record. */
static int last_labware_list(const char *store, const char *key, int64_t *trials,
                             char (*stations)[32], int cap)
{
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_store_iter *it = NULL;
    static char body[1 << 16];
    size_t body_len = 0;
    bool found = false;
    assert_int_equal(axl_store_open(store, &so, &s, NULL), 0);
    assert_int_equal(axl_store_iter_open(s, 1, 0, &it, NULL), 0);
    uint64_t seq;
    const void *data;
    size_t len;
    while (axl_store_iter_next(it, &seq, &data, &len, NULL) == 0) {
        axl_event ev;
        assert_int_equal(axl_event_decode(data, len, &ev, NULL), 0);
        if (ev.type_len == 15 && memcmp(ev.type, "labware.updated", 15) == 0 &&
            ev.body_len <= sizeof(body)) {
            memcpy(body, ev.body, ev.body_len);
            body_len = ev.body_len;
            found = true;
        }
    }
    axl_store_iter_close(it);
    axl_store_close(s);
    if (!found)
        return -1;
    axl_msg m;
    assert_int_equal(axl_msg_parse(&m, body, body_len, NULL), 0);
    const msgpack_object *a = axl_obj_get(&m.root, key);
    assert_non_null(a);
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    int n = 0;
    for (uint32_t i = 0; i < a->via.array.size && n < cap; i++, n++) {
        uint64_t t;
        const char *p;
        size_t pl;
        assert_int_equal(
            axl_obj_uint(&a->via.array.ptr[i], key, "trial", true, 0, UINT32_MAX, &t, NULL), 0);
        trials[n] = (int64_t)t;
        assert_int_equal(axl_obj_str(&a->via.array.ptr[i], key,
                                     strcmp(key, "blocked") == 0 ? "station" : "from", true, 31, &p,
                                     &pl, NULL),
                         0);
        snprintf(stations[n], 32, "%.*s", (int)pl, p);
    }
    axl_msg_free(&m);
    return n;
}

/*
 * kill -9 of the engine while the abandoned sample's anneal still runs (just after the
 * abandon), then `axle resume`: the anneal is not run again, the film is still taken from
 * the hotplate back to its tray (task k + 1, once, finished), and no other task of the
 * sample starts after the abandon.
 */
static void test_abandon_then_killed_mid_step_still_clears(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    exp_opts o = {.trials = 3, .parallelism = 2, .speed = 1000};
    char *path = write_experiment(dir, &o);
    const char *run[] = {"axle", "run", path, "--store", dir, "--no-progress", "--nosync", NULL};
    pid_t pid = spawn_axle(run);
    static tev ev[4096];
    size_t n = 0;
    const tev *anneal = wait_step_under_way(dir, pid, "anneal", ev, &n);
    int64_t victim = anneal->trial, k = anneal->index;
    char idx[24], out[512];
    snprintf(idx, sizeof(idx), "%lld", (long long)victim);
    const char *abandon[] = {"axle", "trial", EXP, "abandon", idx, "--store", dir, NULL};
    assert_int_equal(run_axle_out(abandon, out, sizeof(out)), 0);
    kill(pid, SIGKILL);
    assert_true(lp_wait(pid, 5) != -1);
    n = read_events(dir, ev, 4096);
    const tev *ab = find_event(ev, n, "trial.abandoned", victim, -1, 0);
    assert_non_null(ab);
    if (find_event(ev, n, "task.finished", victim, k, 0) != NULL)
        print_message("the anneal of trial %lld ended before the engine was killed\n",
                      (long long)victim);

    const char *resume[] = {"axle", "resume",        EXP,        "--store",
                            dir,    "--no-progress", "--nosync", NULL};
    pid = spawn_axle(resume);
    int st = lp_wait(pid, 40);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    n = read_events(dir, ev, 4096);
    const tev *clear = find_event(ev, n, "task.started", victim, -1, ab->seq);
    assert_non_null(clear);
    assert_int_equal(clear->index, k + 1);
    assert_string_equal(clear->task, "hotplate_to_storage");
    assert_null(find_event(ev, n, "task.started", victim, -1, clear->seq));
    assert_non_null(find_event(ev, n, "task.finished", victim, k + 1, clear->seq));
    assert_int_equal(count_events(ev, n, "trial.abandoned", victim), 1);
    char data[300], last[32];
    snprintf(data, sizeof(data), "%s/data", dir);
    const char *roles[] = {"gripper", "spincoater", "hotplate", "storage", "characterization"};
    for (int r = 0; r < 5; r++)
        assert_ran_once(data, roles[r]);
    assert_int_equal(journal_task(data, "hotplate", victim, k, last, sizeof(last)), 1);
    assert_int_equal(journal_task(data, "gripper", victim, k + 1, last, sizeof(last)), 1);
    assert_string_equal(last, "finished");
    assert_true(max_index_in_journal(data, "gripper", victim) == k + 1);
    int64_t trials[4];
    char stations[4][32];
    assert_int_equal(last_labware_list(dir, "clearing", trials, stations, 4), 0);
    assert_int_equal(last_labware_list(dir, "blocked", trials, stations, 4), 0);
    free(path);
    lp_rmtree(dir);
}

/*
 * The film's place not known: a single sample abandoned mid-anneal, and the gripper worker
 * SIGKILLs itself half way through its third move (the clearing move, hotplate -> tray).
 * The move fails (the restarted worker reports it interrupted, or the heartbeat timer finds
 * the worker lost): nothing is guessed, the hotplate is blocked for the
 * rest of the campaign (the last labware.updated lists it under `blocked`, nothing under
 * `clearing`), the clearing move never finished, no process step of the sample started
 * after the abandon, and the campaign ends.
 */
static void test_abandon_film_lost_blocks_the_station(void **state)
{
    (void)state;
    char dir[256];
    lab_tmpdir(dir, sizeof(dir));
    exp_opts o = {.trials = 1, .parallelism = 1, .speed = 1000};
    o.simulate_extra = json_pack("{s:{s:i}}", "crash_after", "gripper", 2);
    char *path = write_experiment(dir, &o);
    const char *run[] = {"axle", "run", path, "--store", dir, "--no-progress", "--nosync", NULL};
    pid_t pid = spawn_axle(run);
    static tev ev[4096];
    size_t n = 0;
    const tev *anneal = wait_step_under_way(dir, pid, "anneal", ev, &n);
    int64_t victim = anneal->trial, k = anneal->index;
    char idx[24], out[512];
    snprintf(idx, sizeof(idx), "%lld", (long long)victim);
    const char *abandon[] = {"axle", "trial", EXP, "abandon", idx, "--store", dir, NULL};
    assert_int_equal(run_axle_out(abandon, out, sizeof(out)), 0);
    int st = lp_wait(pid, 40);
    assert_true(st != -1 && WIFEXITED(st));

    n = read_events(dir, ev, 4096);
    const tev *ab = find_event(ev, n, "trial.abandoned", victim, -1, 0);
    assert_non_null(ab);
    assert_non_null(find_event(ev, n, "task.finished", victim, k, ab->seq));
    const tev *clear = find_event(ev, n, "task.started", victim, -1, ab->seq);
    assert_non_null(clear);
    assert_string_equal(clear->task, "hotplate_to_storage");
    assert_int_equal(clear->index, k + 1);
    assert_null(find_event(ev, n, "task.started", victim, -1, clear->seq));
    assert_null(find_event(ev, n, "task.finished", victim, k + 1, 0));
    int64_t trials[4];
    char stations[4][32];
    assert_int_equal(last_labware_list(dir, "blocked", trials, stations, 4), 1);
    assert_int_equal(trials[0], victim);
    assert_string_equal(stations[0], "hotplate");
    assert_int_equal(last_labware_list(dir, "clearing", trials, stations, 4), 0);
    free(path);
    lp_rmtree(dir);
}

/* Distinct task ids in a worker journal, and whether each ran once. */
static int journal_ids(const char *data_dir, const char *role)
{
    char path[600];
    int ids;
    snprintf(path, sizeof(path), "%s/workers/%s.journal", data_dir, role);
    assert_int_equal(max_runs_in_journal(path, &ids), 1);
    return ids;
}

/* The same experiment file run into two stores on the same attached workers: each campaign
 * has its own campaign id in its task ids, so the second one's tasks are run for it (not
 * answered from the first one's results): every trial of each store records its own nine
 * task.started, and every worker journal holds each campaign's tasks once. */
static void test_two_stores_on_the_same_workers_keep_their_own_tasks(void **state)
{
    (void)state;
    char dir[256], addr[AXL_ROLE_COUNT][320];
    pid_t pids[AXL_ROLE_COUNT];
    lab_tmpdir(dir, sizeof(dir));
    json_t *workers = json_object();
    static const char *const speed[] = {"--speed", "4000", NULL};
    for (int r = 0; r < AXL_ROLE_COUNT; r++) {
        const char *name = axl_worker_role_name((axl_worker_role)r);
        snprintf(addr[r], sizeof(addr[r]), "ipc://%s/%s.ipc", dir, name);
        json_object_set_new(workers, name, json_string(addr[r]));
        pids[r] = lp_spawn_worker(name, addr[r], dir, speed);
    }
    exp_opts o = {.trials = 3, .parallelism = 3, .speed = 4000, .workers = workers};
    char *path = write_experiment(dir, &o);
    char store[2][300];
    for (int k = 0; k < 2; k++) {
        snprintf(store[k], sizeof(store[k]), "%s/store%d", dir, k);
        const char *run[] = {"axle",   "run",           path,       "--store",
                             store[k], "--no-progress", "--nosync", NULL};
        pid_t pid = spawn_axle(run);
        int st = lp_wait(pid, 40);
        assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char cid[2][40];
    for (int k = 0; k < 2; k++) {
        outcome out;
        read_store(store[k], &out);
        assert_int_equal(out.e->n_trials, 3);
        assert_int_equal(out.completed, 3);
        for (size_t i = 0; i < out.e->n_trials; i++) {
            assert_int_equal(out.ev_started[i], 9);
            assert_int_equal(out.ev_finished[i], 9);
        }
        /* The campaign id is in the experiment record. */
        axl_msg m;
        const char *p;
        size_t n;
        assert_int_equal(axl_msg_parse(&m, out.e->experiment, out.e->experiment_len, NULL), 0);
        assert_int_equal(axl_obj_str(&m.root, "e", "campaign", true, 32, &p, &n, NULL), 0);
        assert_int_equal(n, 32);
        snprintf(cid[k], sizeof(cid[k]), "%.*s", (int)n, p);
        axl_msg_free(&m);
        outcome_free(&out);
    }
    assert_string_not_equal(cid[0], cid[1]);
    /* 3 trials x 2 campaigns: each task id once per worker. The seed chain has one spin
     * coat, one anneal, one characterization and five moves per sample. */
    assert_int_equal(journal_ids(dir, "spincoater"), 2 * 3);
    assert_int_equal(journal_ids(dir, "hotplate"), 2 * 3);
    assert_int_equal(journal_ids(dir, "characterization"), 2 * 3);
    assert_int_equal(journal_ids(dir, "gripper") % (2 * 3), 0);
    for (int r = 0; r < AXL_ROLE_COUNT; r++)
        lp_stop(pids[r]);
    free(path);
    lp_rmtree(dir);
}

/* OpenBLAS (engine/model links it): one thread, as axle's main() sets. A threaded BLAS
 * call on a pool thread while a test hook forks a worker can spin forever (OpenBLAS's
 * fork handler stops its threads under the call; seen in test_moo_engine). */
void openblas_set_num_threads(int num_threads);

int main(void)
{
    gsl_set_error_handler_off();
    openblas_set_num_threads(1);
    signal(SIGPIPE, SIG_IGN);
    if (getenv("AXL_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("AXL_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_small_campaign_completes_with_pl_metrics, lp_kill_all),
        cmocka_unit_test_teardown(test_labware_exhaustion_fails_before_anything_starts,
                                  lp_kill_all),
        cmocka_unit_test_teardown(test_failed_pl_fit_fails_the_trial_with_its_reason, lp_kill_all),
        cmocka_unit_test_teardown(test_killed_worker_found_by_heartbeat_timer, lp_kill_all),
        cmocka_unit_test_teardown(test_hung_worker_is_restarted_and_nothing_runs_twice,
                                  lp_kill_all),
        cmocka_unit_test_teardown(test_config_errors_name_the_path, lp_kill_all),
        cmocka_unit_test_teardown(test_engine_killed_then_resumed_reconciles_with_the_workers,
                                  lp_kill_all),
        cmocka_unit_test_teardown(test_sigint_detaches_and_resume_completes_every_sample,
                                  lp_kill_all),
        cmocka_unit_test_teardown(test_two_stores_on_the_same_workers_keep_their_own_tasks,
                                  lp_kill_all),
        cmocka_unit_test_teardown(test_abandon_mid_flight_finishes_the_step_and_nothing_after,
                                  lp_kill_all),
        cmocka_unit_test_teardown(test_abandon_before_start_cancels_the_waiting_task, lp_kill_all),
        cmocka_unit_test_teardown(test_abandon_film_lost_blocks_the_station, lp_kill_all),
        cmocka_unit_test_teardown(test_abandon_then_killed_mid_step_still_clears, lp_kill_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
