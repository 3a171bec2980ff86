/*
 * campaign.c - a campaign's life: create or resume it from the store, start it, and
 * close it; axl_engine_run() is the whole of `axle run` and `axle resume`.
 */
#include "engine/campaign.h"
#include "engine/config_tls.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine/json_msgpack.h"
#ifdef AXL_HAVE_LAB_RUNNER
#include "engine/lab/lab.h"
#endif
#include "engine/notify.h"
#include "hw/worker/nng_bridge.h"
#include "proto/axl_log.h"
#include "proto/axl_wire.h"

#define SRC "Scheduler"

static const struct {
    const char *name;
    int code;
} exit_table[] = {
#define AXL_EXIT_ROW(name, str, code) {str, code},
    AXL_EXIT_MAP(AXL_EXIT_ROW)
#undef AXL_EXIT_ROW
};

const char *axl_exit_status_name(axl_exit_status s)
{
    return (unsigned)s < sizeof(exit_table) / sizeof(exit_table[0]) ? exit_table[s].name
                                                                    : "unknown";
}

int axl_exit_status_code(axl_exit_status s)
{
    return (unsigned)s < sizeof(exit_table) / sizeof(exit_table[0]) ? exit_table[s].code : 1;
}

const axl_runner_ops *axl_runner_ops_for(axl_runner_kind kind)
{
    switch (kind) {
    case AXL_RUNNER_FUNCTION:
        return &axl_runner_function_ops;
    case AXL_RUNNER_COMMAND:
        return &axl_runner_command_ops;
    case AXL_RUNNER_LAB:
#ifdef AXL_HAVE_LAB_RUNNER
        return &axl_runner_lab_ops;
#else
        return NULL;
#endif
    }
    return NULL;
}

void axl_campaign_options_default(axl_campaign_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_trials = -1;
    o->timeout_hours = -1;
    o->stream = true;
    o->handle_signals = true;
    o->control = true;
}

/* A new campaign id: 128 bits from the kernel's random source, as 32 hex digits. */
static int new_campaign_id(char out[33], axl_errbuf *eb)
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return axl_fail(eb, AXL_EIO, "campaign id: getrandom: %s", strerror(errno));
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/*
 * The campaign id of a stored experiment record ("campaign"). A store made before campaign
 * ids has none: the campaign keeps "" and its task ids keep the short form, so that tasks
 * already on the line when such a store is resumed are still recognised by their ids
 * (giving it a new id would re-send them under new ids: run twice).
 */
static void stored_campaign_id(const void *rec, size_t len, char out[33])
{
    axl_msg m;
    const char *p;
    size_t n;
    out[0] = '\0';
    if (rec == NULL || axl_msg_parse(&m, rec, len, NULL) != 0)
        return;
    if (axl_obj_str(&m.root, "experiment", "campaign", false, 32, &p, &n, NULL) == 0 && p != NULL &&
        axl_wire_campaign_check(p, n)) {
        memcpy(out, p, n);
        out[n] = '\0';
    }
    axl_msg_free(&m);
}

/* The experiment record: the experiment file as a map, plus when it was created and its
 * campaign id. */
static int experiment_record(const axl_experiment *e, msgpack_sbuffer *sb, axl_errbuf *eb)
{
    json_error_t jerr;
    json_t *root = json_loads(e->source, 0, &jerr);
    if (root == NULL)
        return axl_fail(eb, AXL_ECONFIG, "experiment source: %s", jerr.text);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int rv = AXL_ENOMEM;
    if (msgpack_pack_map(&pk, 5) == 0 && axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) == 0 &&
        axl_pack_kv_str(&pk, "name", e->name) == 0 &&
        axl_pack_kv_str(&pk, "campaign", e->campaign_id) == 0 &&
        axl_pack_kv_num(&pk, "created", axl_now()) == 0 && axl_pack_cstr(&pk, "config") == 0)
        rv = axl_json_to_msgpack(root, &pk);
    json_decref(root);
    if (rv != 0)
        return axl_fail(eb, rv, "the experiment file does not fit an event (%s)", axl_strerror(rv));
    return 0;
}

/* The experiment file text back from an experiment record. */
static int experiment_source(const void *rec, size_t len, char **out, axl_errbuf *eb)
{
    axl_msg m;
    int rv;
    if ((rv = axl_msg_parse(&m, rec, len, eb)) != 0)
        return rv;
    const msgpack_object *config = axl_obj_get(&m.root, "config");
    json_t *j = config != NULL ? axl_msgpack_to_json(config) : NULL;
    axl_msg_free(&m);
    if (j == NULL)
        return axl_fail(eb, AXL_ECORRUPT, "the stored experiment record has no config");
    *out = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    return *out != NULL ? 0 : axl_fail(eb, AXL_ENOMEM, "out of memory");
}

static void signal_cb(uv_signal_t *h, int signum)
{
    axl_campaign *c = h->data;
    char reason[64];
    snprintf(reason, sizeof(reason), "interrupted by %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    if (c->opt.progress && c->progress_shown)
        fputc('\n', stderr);
    AXL_WARN(SRC, "%s: stopping; `axle resume %s` continues the campaign.", reason, c->exp->name);
    axl_sched_request_stop(c, AXL_EXIT_INTERRUPTED, reason);
}

static void timeout_cb(uv_timer_t *h)
{
    axl_campaign *c = h->data;
    char reason[96];
    snprintf(reason, sizeof(reason), "the campaign timeout of %g hours was reached",
             c->opt.timeout_hours);
    axl_sched_request_stop(c, AXL_EXIT_TIMEOUT, reason);
}

/* Runners deliver their reconcile reports from zero-delay timers started in reconcile;
 * this one, started after them, fires after them (libuv runs due timers in start order). */
static void settle_cb(uv_timer_t *h)
{
    axl_campaign *c = h->data;
    c->settled = true;
    axl_sched_wake(c);
}

static int create(uv_loop_t *loop, axl_experiment *e, axl_store *store,
                  const axl_campaign_options *opt, const axl_store_experiment *stored,
                  axl_campaign **out, axl_errbuf *eb)
{
    axl_campaign *c = calloc(1, sizeof(*c));
    axl_stream *stream = NULL;
    axl_store_info info;
    int rv;

    *out = NULL;
    if (c == NULL) {
        axl_experiment_free(e);
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    }
    c->loop = loop;
    c->exp = e;
    c->store = store;
    c->blocked_logged = -1;
    if (stored != NULL)
        stored_campaign_id(stored->experiment, stored->experiment_len, e->campaign_id);
    else if ((rv = new_campaign_id(e->campaign_id, eb)) != 0) {
        axl_experiment_free(e);
        free(c);
        return rv;
    }
    if (opt != NULL)
        c->opt = *opt;
    else
        axl_campaign_options_default(&c->opt);
    c->max_trials = c->opt.max_trials >= 0 ? c->opt.max_trials : e->options.total_trials;
    if (c->opt.timeout_hours < 0)
        c->opt.timeout_hours = e->options.timeout_hours;
    if (c->opt.offline) {
        c->offline = true;
        c->opt.stream = c->opt.control = c->opt.handle_signals = false;
    }

    if ((rv = axl_store_info_get(store, &info, eb)) != 0)
        goto fail;
    snprintf(c->store_dir, sizeof(c->store_dir), "%s", info.dir);
    /* Before any socket opens: the file's TLS files, unless the command line gave some. */
    c->tls_applied = axl_config_tls_apply(e, &c->net_saved);
    if (c->opt.stream) {
        char pub[AXL_STREAM_ADDR_MAX], rep[AXL_STREAM_ADDR_MAX];
        if (axl_stream_default_addrs(c->store_dir, pub, rep, sizeof(pub)) != 0 &&
            (c->opt.pub_addr == NULL || c->opt.replay_addr == NULL)) {
            rv = axl_fail(eb, AXL_ETOOBIG,
                          "the store path is too long for ipc:// sockets; give "
                          "--pub and --replay addresses");
            goto fail;
        }
        if ((rv = axl_stream_open(c->opt.pub_addr ? c->opt.pub_addr : pub,
                                  c->opt.replay_addr ? c->opt.replay_addr : rep, store, &stream,
                                  eb)) != 0)
            goto fail;
    }
    if ((rv = axl_journal_init(&c->journal, store, stream)) != 0) {
        axl_stream_close(stream);
        axl_fail(eb, rv, "out of memory");
        goto fail;
    }

    if ((rv = axl_store_check_open(c)) != 0) {
        axl_fail(eb, rv, "out of memory");
        goto fail;
    }

    /* Generator state: stored, or a fresh one seeded from the strategy or the system. */
    uint64_t seed = e->strategy.steps[0].seed;
    if (seed == 0 && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)getpid() ^ (uint64_t)(axl_now() * 1e6);
    axl_model_state_init(&c->gen_state, seed);
    if (stored != NULL) {
        c->resumed = true;
        if (stored->generator != NULL &&
            axl_gen_record_decode(stored->generator, stored->generator_len, &c->gen_state) != 0) {
            rv = axl_fail(eb, AXL_ECORRUPT, "the stored generator state of %s does not decode",
                          e->name);
            goto fail;
        }
        for (size_t i = 0; i < stored->n_trials; i++) {
            if ((rv = axl_trial_adopt(c, &stored->trials[i])) != 0) {
                axl_fail(eb, rv, "stored trial %u does not fit the experiment",
                         stored->trials[i].index);
                goto fail;
            }
        }
        /* Paused by hand (running, or on the stopped store): it stays paused. */
        if ((rv = axl_control_load_paused(store, e->name, stored->last_seq, &c->paused, eb)) != 0)
            goto fail;
    }

    const axl_runner_ops *ops = axl_runner_ops_for(e->runner_kind);
    if (c->offline)
        goto handles; /* a change to a stopped store never reaches a runner */
    if (ops == NULL) {
        rv = axl_fail(eb, AXL_ENOTSUP, "runner.type: this build has no %s runner",
                      e->runner_kind == AXL_RUNNER_LAB ? "lab" : "such");
        goto fail;
    }
    c->runner.ops = ops;
    c->runner.data = c;
    c->runner.report = axl_sched_on_report;
    c->runner.event = axl_sched_on_runner_event;
    c->runner.store_dir = c->store_dir;
    if ((rv = ops->init(&c->runner, loop, e, eb)) != 0)
        goto fail;
    c->runner_open = true;
    if (stored != NULL && stored->labware != NULL && ops->restore != NULL &&
        (rv = ops->restore(&c->runner, AXL_REC_LABWARE, stored->labware, stored->labware_len)) !=
            0) {
        axl_fail(eb, rv, "the stored labware state of %s cannot be restored", e->name);
        ops->close(&c->runner, NULL);
        c->runner_open = false;
        goto fail;
    }

handles:
    uv_check_init(loop, &c->turn);
    uv_idle_init(loop, &c->wake);
    uv_timer_init(loop, &c->timeout);
    uv_timer_init(loop, &c->settle);
    c->settle.data = c;
    c->turn.data = c->wake.data = c->timeout.data = c;
    if (c->opt.handle_signals) {
        uv_signal_init(loop, &c->sigint);
        uv_signal_init(loop, &c->sigterm);
        c->sigint.data = c->sigterm.data = c;
    }
    *out = c;
    return 0;

fail:
    if (c->journal.batch != NULL) {
        axl_stream_close(c->journal.stream);
        axl_journal_free(&c->journal);
    }
    if (c->tls_applied)
        axl_net_set_defaults(&c->net_saved);
    axl_store_check_free(c);
    axl_trial_free_all(c);
    axl_experiment_free(c->exp);
    free(c);
    return rv;
}

int axl_campaign_new(uv_loop_t *loop, axl_experiment *e, axl_store *store,
                     const axl_campaign_options *opt, axl_campaign **out, axl_errbuf *eb)
{
    void *rec = NULL;
    size_t len = 0;
    int rv = axl_store_get_record(store, AXL_REC_EXPERIMENT, e->name, 0, &rec, &len, NULL);
    free(rec);
    if (rv == 0) {
        axl_fail(eb, AXL_EEXIST,
                 "experiment '%s' already exists in this store; `axle resume %s` continues it",
                 e->name, e->name);
        axl_experiment_free(e);
        return AXL_EEXIST;
    }
    return create(loop, e, store, opt, NULL, out, eb);
}

int axl_campaign_resume(uv_loop_t *loop, const char *name, axl_store *store,
                        const axl_campaign_options *opt, axl_campaign **out, axl_errbuf *eb)
{
    axl_store_experiment *stored = NULL;
    axl_experiment *e = NULL;
    char *source = NULL;
    int rv;

    *out = NULL;
    if ((rv = axl_store_load(store, name, &stored, eb)) != 0)
        return rv;
    if ((rv = experiment_source(stored->experiment, stored->experiment_len, &source, eb)) != 0)
        goto out;
    if ((rv = axl_experiment_parse(source, strlen(source), &e, eb)) != 0)
        goto out;
    rv = create(loop, e, store, opt, stored, out, eb);
out:
    free(source);
    axl_store_experiment_free(stored);
    return rv;
}

int axl_campaign_start(axl_campaign *c, axl_errbuf *eb)
{
    int rv;
    if (c->started)
        return axl_fail(eb, AXL_ESTATE, "the campaign was started already");
    if (!c->resumed) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        rv = experiment_record(c->exp, &sb, eb);
        if (rv == 0)
            rv = axl_journal_add(&c->journal, "experiment.created", c->exp->name, -1,
                                 AXL_REC_EXPERIMENT, sb.data, sb.size, eb);
        msgpack_sbuffer_destroy(&sb);
        if (rv != 0)
            return rv;
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    axl_pack_kv_bool(&pk, "resumed", c->resumed);
    axl_pack_kv_bool(&pk, "paused", c->paused); /* the state this run starts in */
    axl_pack_kv_int(&pk, "max_trials", c->max_trials);
    axl_pack_kv_num(&pk, "timeout_hours", c->opt.timeout_hours);
    axl_pack_kv_uint(&pk, "trials", c->n_trials);
    axl_pack_kv_int(&pk, "pid", getpid());
    rv = axl_journal_add(&c->journal, "experiment.started", c->exp->name, -1, AXL_REC_NONE, sb.data,
                         sb.size, eb);
    msgpack_sbuffer_destroy(&sb);
    if (rv != 0)
        return rv;

    if (!c->resumed && c->exp->status_quo != NULL && c->max_trials != 0) {
        uint32_t sq;
        if ((rv = axl_trial_create(c, c->exp->status_quo, AXL_STEP_MANUAL, "Manual", &sq)) != 0)
            return axl_fail(eb, rv, "cannot create the status quo trial");
        AXL_INFO(SRC, "Trial %u is the status quo; it is deployed first.", sq);
    }
    if (c->resumed) {
        /* Trials that may have reached the runner are asked about, never re-sent;
         * trials attached by hand (never deployed) are no runner's business. */
        axl_runner_job *jobs = calloc(c->n_trials + 1, sizeof(*jobs));
        int n = 0;
        if (jobs == NULL)
            return axl_fail(eb, AXL_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < c->n_trials; i++) {
            axl_trial *t = &c->trials[i];
            if ((t->status == AXL_TRIAL_STAGED || t->status == AXL_TRIAL_RUNNING) &&
                t->deploy_count > 0)
                jobs[n++] = (axl_runner_job){t->index, t->x, t->job_id};
            if (t->status == AXL_TRIAL_RUNNING)
                axl_sched_arm_ttl(c, t);
        }
        uint32_t candidates = axl_trials_count(c, AXL_MASK(AXL_TRIAL_CANDIDATE));
        AXL_INFO(SRC,
                 "Resuming %s: %u trials stored, %d to reconcile with the runner, %u "
                 "candidates to deploy first.",
                 c->exp->name, c->n_trials, n, candidates);
        if (c->paused)
            AXL_WARN(SRC,
                     "%s is paused: no new trial is deployed until `axle unpause %s`; running "
                     "trials go on.",
                     c->exp->name, c->exp->name);
        rv = n > 0 ? c->runner.ops->reconcile(&c->runner, jobs, n) : 0;
        free(jobs);
        if (rv != 0)
            return axl_fail(eb, rv, "reconciling running trials failed");
        uv_timer_start(&c->settle, settle_cb, 0, 0);
    } else {
        c->settled = true;
    }
    if (c->opt.control) {
        char addr[AXL_STREAM_ADDR_MAX];
        if (c->opt.control_addr == NULL &&
            axl_control_default_addr(c->store_dir, addr, sizeof(addr)) != 0)
            return axl_fail(eb, AXL_ETOOBIG,
                            "the store path is too long for an ipc:// control "
                            "socket");
        if ((rv = axl_control_open(c, c->opt.control_addr ? c->opt.control_addr : addr, eb)) != 0)
            return rv;
    }
    if ((rv = axl_feedback_open(c)) != 0)
        return axl_fail(eb, rv, "out of memory");
    if (c->opt.handle_signals) {
        uv_signal_start(&c->sigint, signal_cb, SIGINT);
        uv_signal_start(&c->sigterm, signal_cb, SIGTERM);
    }
    c->started = true;
    if (c->opt.timeout_hours == 0) {
        axl_sched_request_stop(c, AXL_EXIT_TIMEOUT,
                               "the campaign timeout of 0 hours left no time to run trials");
    } else if (c->opt.timeout_hours > 0) {
        uv_timer_start(&c->timeout, timeout_cb, (uint64_t)(c->opt.timeout_hours * 3600e3), 0);
    }
    uv_check_start(&c->turn, axl_sched_turn);
    axl_sched_wake(c);
    return 0;
}

void axl_campaign_get_result(const axl_campaign *c, axl_campaign_result *r)
{
    memset(r, 0, sizeof(*r));
    r->exit_status = c->exit_status;
    snprintf(r->reason, sizeof(r->reason), "%s", c->reason);
    r->n_trials = c->n_trials;
    r->n_completed = axl_trials_count(c, AXL_MASK(AXL_TRIAL_COMPLETED));
    r->n_failed = axl_trials_count(c, AXL_MASK(AXL_TRIAL_FAILED));
    r->n_abandoned = axl_trials_count(c, AXL_MASK(AXL_TRIAL_ABANDONED));
    r->n_running = axl_trials_count(c, AXL_PENDING_MASK);
    r->has_best = c->has_best;
    r->best_trial = c->best_trial;
    r->best_value = c->best_value;
    snprintf(r->metric, sizeof(r->metric), "%s", c->exp->metric);
    if (c->has_best) {
        size_t len = 0;
        const axl_trial *t = &c->trials[c->best_trial];
        for (size_t i = 0; i < c->exp->space.n_params && len + 64 < sizeof(r->best_params); i++) {
            char v[64];
            axl_experiment_format_value(c->exp, i, t->x[i], v, sizeof(v));
            len += (size_t)snprintf(r->best_params + len, sizeof(r->best_params) - len, "%s%s=%s",
                                    i ? ", " : "", c->exp->info[i].name, v);
        }
    }
    if (c->model_best.has_model) {
        const axl_trial *t = &c->trials[c->model_best.model_trial];
        r->has_model_best = true;
        r->model_best_trial = c->model_best.model_trial;
        r->model_best_mean = c->model_best.model_mean;
        r->model_best_sd = c->model_best.model_sd;
        r->model_best_observed = c->model_best.model_observed;
        size_t len = 0;
        for (size_t i = 0; i < c->exp->space.n_params && len + 64 < sizeof(r->model_best_params);
             i++) {
            char v[64];
            axl_experiment_format_value(c->exp, i, t->x[i], v, sizeof(v));
            len += (size_t)snprintf(r->model_best_params + len, sizeof(r->model_best_params) - len,
                                    "%s%s=%s", i ? ", " : "", c->exp->info[i].name, v);
        }
    }
    r->events = c->journal.events;
    r->commits = c->journal.commits;
    r->deploy_calls = c->runner.deploy_calls;
}

void axl_campaign_free(axl_campaign *c)
{
    if (c == NULL)
        return;
    axl_control_close(c);
    axl_feedback_close(c);
    axl_stream_close(c->journal.stream);
    axl_journal_free(&c->journal);
    if (c->tls_applied)
        axl_net_set_defaults(&c->net_saved);
    axl_store_check_free(c);
    axl_trial_free_all(c);
    free(c->to_deploy);
    free(c->done_completed);
    free(c->done_failed);
    axl_experiment_free(c->exp);
    free(c);
}

/* Frees a campaign whose handles were initialised but that never ran to its end. */
void axl_campaign_close_unstarted(uv_loop_t *loop, axl_campaign *c)
{
    if (!c->stop_committed) {
        c->stopping = true;
        c->stop_committed = true;
        c->pending_closes++;
        if (c->runner_open) {
            c->runner_open = false;
            c->runner.ops->close(&c->runner, NULL);
        }
        uv_close((uv_handle_t *)&c->turn, NULL);
        uv_close((uv_handle_t *)&c->wake, NULL);
        uv_close((uv_handle_t *)&c->timeout, NULL);
        uv_close((uv_handle_t *)&c->settle, NULL);
        if (c->opt.handle_signals) {
            uv_close((uv_handle_t *)&c->sigint, NULL);
            uv_close((uv_handle_t *)&c->sigterm, NULL);
        }
        uv_run(loop, UV_RUN_DEFAULT);
    }
}

/* A runner's init on a throwaway loop, closed at once: its part of the file checked with
 * nothing created (store_dir "." only has to resolve). Not the lab runner, whose init
 * makes its folders. */
static void check_closed(axl_runner *r)
{
    (void)r;
}

static int check_runner(const axl_experiment *e, axl_errbuf *eb)
{
    if (e->runner_kind == AXL_RUNNER_LAB) {
#ifdef AXL_HAVE_LAB_RUNNER
        /* the whole lab section, parsed as the runner will (no worker is started) */
        lab_config cfg;
        int rv = lab_config_parse(e, &cfg, eb);
        if (rv == 0)
            lab_config_free(&cfg);
        return rv;
#else
        return 0;
#endif
    }
    const axl_runner_ops *ops = axl_runner_ops_for(e->runner_kind);
    uv_loop_t loop;
    if (ops == NULL || uv_loop_init(&loop) != 0)
        return 0; /* reported (or not) where the campaign is created */
    axl_runner r = {.ops = ops, .store_dir = "."};
    int rv = ops->init(&r, &loop, e, eb);
    if (rv == 0)
        ops->close(&r, check_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rv;
}

int axl_engine_check_file(const char *experiment_path, axl_errbuf *eb)
{
    axl_experiment *e = NULL;
    int rv = axl_experiment_load(experiment_path, &e, eb);
    if (rv != 0)
        return rv;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    memset(e->campaign_id, '0', 32);
    e->campaign_id[32] = '\0';
    rv = experiment_record(e, &sb, eb);
    if (rv == 0 && sb.size > AXL_PROTO_MAX_MSG - 4096)
        rv = axl_fail(eb, AXL_ETOOBIG, "the experiment file does not fit an event (%zu bytes)",
                      sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (rv == 0)
        rv = check_runner(e, eb);
    if (rv != 0 && rv != AXL_ENOMEM) { /* named after the file, like the parser's errors */
        char tmp[sizeof(eb->msg)];
        memcpy(tmp, eb->msg, sizeof(tmp));
        rv = axl_fail(eb, AXL_ECONFIG, "%s: %.*s", experiment_path, 400, tmp);
    }
    axl_experiment_free(e);
    return rv;
}

int axl_engine_run(const char *experiment_path, const char *resume_name, const char *store_dir,
                   bool nosync, const axl_campaign_options *opt, axl_campaign_result *result,
                   axl_errbuf *eb)
{
    uv_loop_t loop;
    axl_store *store = NULL;
    axl_experiment *e = NULL;
    axl_campaign *c = NULL;
    int rv;

    memset(result, 0, sizeof(*result));
    result->exit_status = AXL_EXIT_ERROR;
    if (experiment_path != NULL && (rv = axl_experiment_load(experiment_path, &e, eb)) != 0)
        return rv;
    /* resume never creates a store: a typo or a lost data.mdb must not start afresh */
    axl_store_options so = {.flags = (nosync ? AXL_STORE_NOSYNC : 0) |
                                     (experiment_path == NULL ? AXL_STORE_NOCREATE : 0),
                            .group = opt->group};
    if ((rv = axl_store_open(store_dir, &so, &store, eb)) != 0) {
        axl_experiment_free(e);
        return rv;
    }
    if ((rv = uv_loop_init(&loop)) != 0) {
        axl_experiment_free(e);
        axl_store_close(store);
        return axl_fail(eb, AXL_EIO, "event loop: %s", uv_strerror(rv));
    }
    if (e != NULL)
        rv = axl_campaign_new(&loop, e, store, opt, &c, eb);
    else
        rv = axl_campaign_resume(&loop, resume_name, store, opt, &c, eb);
    if (rv == 0 && (rv = axl_campaign_start(c, eb)) != 0)
        axl_campaign_close_unstarted(&loop, c);
    if (rv == 0) {
        char status[300];
        snprintf(status, sizeof(status), "READY=1\nSTATUS=running %s (%u trials stored)",
                 c->exp->name, c->n_trials);
        axl_notify(status);
        uv_run(&loop, UV_RUN_DEFAULT);
        axl_campaign_get_result(c, result);
        snprintf(status, sizeof(status), "STOPPING=1\nSTATUS=%s: %.200s",
                 axl_exit_status_name(result->exit_status), result->reason);
        axl_notify(status);
    }
    axl_campaign_free(c);
    uv_run(&loop, UV_RUN_DEFAULT); /* close callbacks of anything freed above */
    if (uv_loop_close(&loop) != 0)
        AXL_DEBUG(SRC, "event loop closed with handles still open");
    /* The campaign's sockets close on detached threads (hw/worker/nng_bridge.h); the
     * listeners unlink their ipc paths when closed. Waiting here (bounded: never on
     * libnng 1.5.2's close deadlock) lets a resume in this process bind them again. */
    if (!axl_bridge_drain(2.0))
        AXL_WARN(SRC, "a socket of this campaign is still closing after 2 s; going on");
    axl_store_close(store);
    return rv;
}
