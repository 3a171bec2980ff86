/*
 * scheduler.c - the Ax Scheduler's decisions, made once per loop turn.
 *
 * A turn (the uv_check handle, after the loop has run every callback that was ready):
 *   1. decide: stop conditions, which CANDIDATE trials to stage, whether to generate;
 *   2. commit this turn's events in one transaction (group commit), then publish them;
 *   3. act: deploy what was staged.
 * Runner reports, TTL timers, the campaign timeout and finished model fits only change
 * state and wake the loop; they never act. Nothing polls: the loop sleeps until a
 * worker, a child process, a timer or the thread pool has something to say.
 */
#include "engine/campaign.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/best.h"
#include "engine/pareto_report.h"
#include "proto/axl_log.h"

#define SRC "Scheduler"

static void wake_cb(uv_idle_t *h)
{
    (void)h; /* only here to make the loop's poll return at once */
}

void axl_sched_wake(axl_campaign *c)
{
    if (!c->wake_active && !c->stop_committed) {
        uv_idle_start(&c->wake, wake_cb);
        c->wake_active = true;
    }
}

void axl_format_trial_list(const uint32_t *idx, uint32_t n, char *buf, size_t size)
{
    bool contiguous = n > 2;
    for (uint32_t i = 1; i < n && contiguous; i++)
        contiguous = idx[i] == idx[i - 1] + 1;
    if (contiguous) {
        snprintf(buf, size, "%u - %u", idx[0], idx[n - 1]);
        return;
    }
    size_t len = 0;
    len += (size_t)snprintf(buf, size, "[");
    for (uint32_t i = 0; i < n && len + 16 < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%u", i ? ", " : "", idx[i]);
    if (len + 16 >= size && n > 0)
        len += (size_t)snprintf(buf + len, size - len, ", ...");
    snprintf(buf + len, size - len, "]");
}

/* ---- TTL: a RUNNING trial that outlives ttl_seconds_for_trials is FAILED ---------- */

static void sync_ttl(axl_campaign *c, axl_trial *t);

static void ttl_closed(uv_handle_t *h)
{
    axl_ttl_timer *t = h->data;
    axl_campaign *c = t->campaign;
    free(t);
    if (--c->pending_closes == 0 && c->stop_committed)
        c->closed = true;
}

void axl_sched_disarm_ttl(axl_trial *t)
{
    if (t->ttl == NULL)
        return;
    t->ttl->campaign->pending_closes++;
    uv_timer_stop(&t->ttl->timer);
    uv_close((uv_handle_t *)&t->ttl->timer, ttl_closed);
    t->ttl = NULL;
}

static void ttl_fire(uv_timer_t *h)
{
    axl_ttl_timer *tt = h->data;
    axl_campaign *c = tt->campaign;
    axl_trial *t = &c->trials[tt->index];
    char reason[128];
    snprintf(reason, sizeof(reason), "exceeded ttl_seconds_for_trials (%g s)",
             c->exp->options.ttl_seconds_for_trials);
    if (t->status != AXL_TRIAL_RUNNING)
        return;
    AXL_WARN(SRC, "Trial %u %s; marking it FAILED.", t->index, reason);
    if (c->runner_open)
        c->runner.ops->cancel(&c->runner, t->index, reason);
    axl_trial_fail(c, t->index, AXL_TRIAL_FAILED, reason);
    sync_ttl(c, t);
    axl_sched_wake(c);
}

void axl_sched_arm_ttl(axl_campaign *c, axl_trial *t)
{
    double ttl = c->exp->options.ttl_seconds_for_trials;
    if (ttl <= 0 || t->ttl != NULL || c->stopping)
        return;
    axl_ttl_timer *tt = malloc(sizeof(*tt));
    if (tt == NULL) {
        AXL_ERROR(SRC, "out of memory arming the TTL of trial %u", t->index);
        return;
    }
    tt->campaign = c;
    tt->index = t->index;
    uv_timer_init(c->loop, &tt->timer);
    tt->timer.data = tt;
    /* A resumed trial has already used part of its life. */
    double left = ttl - (axl_now() - t->deployed);
    uv_timer_start(&tt->timer, ttl_fire, left > 0 ? (uint64_t)(left * 1000.0) : 0, 0);
    t->ttl = tt;
}

/* The TTL timer follows the status: armed while RUNNING, gone otherwise. Called by the
 * scheduler after every transition it causes (trial_state.c knows nothing of timers). */
static void sync_ttl(axl_campaign *c, axl_trial *t)
{
    if (t->status == AXL_TRIAL_RUNNING)
        axl_sched_arm_ttl(c, t);
    else
        axl_sched_disarm_ttl(t);
}

/* ---- Reports from the runner -------------------------------------------------------- */

void axl_sched_on_report(axl_runner *r, const axl_runner_report *rep)
{
    axl_campaign *c = r->data;
    if (c->stop_committed || rep->trial >= c->n_trials)
        return;
    axl_trial *t = &c->trials[rep->trial];
    if (c->opt.hooks.on_report != NULL)
        c->opt.hooks.on_report(c->opt.hooks.data, rep->trial, rep->status);
    if (axl_trial_status_is_terminal(t->status)) {
        AXL_DEBUG(SRC, "Ignoring %s for trial %u, already %s.", axl_trial_status_name(rep->status),
                  t->index, axl_trial_status_name(t->status));
        return;
    }
    switch (rep->status) {
    case AXL_TRIAL_RUNNING:
        axl_trial_mark_running(c, t->index, rep->job_id);
        break;
    case AXL_TRIAL_COMPLETED:
        if (t->status != AXL_TRIAL_RUNNING)
            axl_trial_mark_running(c, t->index, rep->job_id);
        axl_trial_complete(c, t->index, rep->metrics, rep->n_metrics);
        break;
    case AXL_TRIAL_FAILED:
    case AXL_TRIAL_ABANDONED:
    case AXL_TRIAL_EARLY_STOPPED:
        axl_trial_fail(c, t->index, rep->status, rep->reason);
        break;
    default:
        AXL_WARN(SRC, "runner reported %s for trial %u; ignored",
                 axl_trial_status_name(rep->status), t->index);
        return;
    }
    sync_ttl(c, t);
    axl_sched_wake(c);
}

void axl_sched_on_runner_event(axl_runner *r, const char *type, int64_t trial, axl_rec_kind rec,
                               const void *body, size_t body_len)
{
    axl_campaign *c = r->data;
    axl_errbuf eb = {{0}};
    if (c->stop_committed)
        return;
    if (rec == AXL_REC_TRIAL || rec == AXL_REC_EXPERIMENT || rec == AXL_REC_GENERATOR) {
        AXL_WARN(SRC, "runner event %s: runners may not write %s records", type,
                 axl_rec_kind_name(rec));
        return;
    }
    if (axl_journal_add(&c->journal, type, c->exp->name, trial, rec, body, body_len, &eb) != 0)
        AXL_WARN(SRC, "runner event %s not recorded: %s", type, eb.msg);
    axl_sched_wake(c);
}

/* ---- Stopping ------------------------------------------------------------------------ */

void axl_sched_request_stop(axl_campaign *c, axl_exit_status why, const char *reason)
{
    if (c->stopping)
        return;
    c->stopping = true;
    c->exit_status = why;
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    axl_gen_cancel(c);
    axl_sched_wake(c);
}

/* Ax's FailureRateExceededError, checked after every terminal report. */
static bool failure_rate_exceeded(axl_campaign *c)
{
    const axl_sched_options *o = &c->exp->options;
    if (c->bad_this_run < (uint32_t)o->min_failed_trials_for_failure_rate_check ||
        c->ran_this_run == 0)
        return false;
    double rate = (double)c->bad_this_run / (double)c->ran_this_run;
    if (rate <= o->tolerated_trial_failure_rate)
        return false;
    char reason[256];
    snprintf(reason, sizeof(reason),
             "Failure rate exceeds the tolerated trial failure rate of %g (%u of %u trials "
             "deployed by this run failed or were abandoned).",
             o->tolerated_trial_failure_rate, c->bad_this_run, c->ran_this_run);
    AXL_ERROR(SRC, "%s", reason);
    axl_sched_request_stop(c, AXL_EXIT_FAILURE_RATE, reason);
    return true;
}

static void record_stop(axl_campaign *c)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint32_t done = axl_trials_count(c, AXL_MASK(AXL_TRIAL_COMPLETED));
    uint32_t failed = axl_trials_count(c, AXL_MASK(AXL_TRIAL_FAILED));
    uint32_t abandoned = axl_trials_count(c, AXL_MASK(AXL_TRIAL_ABANDONED));
    uint32_t running = axl_trials_count(c, AXL_PENDING_MASK);
    axl_best best;
    axl_best_of_campaign(c, &best, NULL);
    c->model_best = best;
    bool pareto = axl_pareto_wanted(c->exp);
    bool runner_stats = c->runner_open && c->runner.ops->stop_stats != NULL;
    bool stream = c->journal.stream != NULL;
    int n = 7 + (c->has_best ? 2 : 0) + (best.has_model ? 4 : 0) + (pareto ? 1 : 0) +
            (runner_stats ? 1 : 0) + (stream ? 1 : 0);
    msgpack_pack_map(&pk, (size_t)n);
    axl_pack_kv_str(&pk, "exit_status", axl_exit_status_name(c->exit_status));
    axl_pack_kv_str(&pk, "reason", c->reason);
    axl_pack_kv_uint(&pk, "trials", c->n_trials);
    axl_pack_kv_uint(&pk, "completed", done);
    axl_pack_kv_uint(&pk, "failed", failed);
    axl_pack_kv_uint(&pk, "abandoned", abandoned);
    axl_pack_kv_uint(&pk, "pending", running);
    if (c->has_best) {
        axl_pack_kv_uint(&pk, "best_trial", c->best_trial);
        axl_pack_kv_num(&pk, "best_value", c->best_value);
    }
    if (best.has_model) {
        axl_pack_kv_uint(&pk, "model_best_trial", best.model_trial);
        axl_pack_kv_num(&pk, "model_best_mean", best.model_mean);
        axl_pack_kv_num(&pk, "model_best_sd", best.model_sd);
        axl_pack_kv_num(&pk, "model_best_observed", best.model_observed);
    }
    if (pareto) { /* several objectives: the front and its hypervolume */
        axl_pack_cstr(&pk, "pareto");
        if (axl_pareto_pack(&pk, c) != 0)
            msgpack_pack_nil(&pk);
    }
    if (runner_stats) {
        axl_pack_cstr(&pk, "runner");
        c->runner.ops->stop_stats(&c->runner, &pk);
    }
    if (stream) { /* the live stream's counters (engine/stream.h) */
        axl_stream_stats ss;
        axl_stream_stats_get(c->journal.stream, &ss);
        if (ss.dropped > 0)
            AXL_WARN(SRC, "event stream: %llu live events dropped for slow subscribers so far",
                     (unsigned long long)ss.dropped);
        axl_pack_cstr(&pk, "stream");
        msgpack_pack_map(&pk, 3);
        axl_pack_kv_uint(&pk, "published", ss.published);
        axl_pack_kv_uint(&pk, "subscribers", ss.subscribers);
        axl_pack_kv_uint(&pk, "dropped", ss.dropped);
    }
    axl_errbuf eb = {{0}};
    if (axl_journal_add(&c->journal, "experiment.stopped", c->exp->name, -1, AXL_REC_NONE, sb.data,
                        sb.size, &eb) != 0)
        AXL_ERROR(SRC, "cannot record experiment.stopped: %s", eb.msg);
    msgpack_sbuffer_destroy(&sb);
}

static void handle_closed(uv_handle_t *h)
{
    axl_campaign *c = h->data;
    if (--c->pending_closes == 0)
        c->closed = true;
}

static void runner_closed(axl_runner *r)
{
    axl_campaign *c = r->data;
    if (--c->pending_closes == 0)
        c->closed = true;
}

static void shutdown_handles(axl_campaign *c)
{
    c->pending_closes++; /* held until every close below is issued */
    for (uint32_t i = 0; i < c->n_trials; i++)
        axl_sched_disarm_ttl(&c->trials[i]);
    if (c->runner_open) {
        c->runner_open = false;
        c->pending_closes++;
        /* A stop detaches (started work runs on for resume); the end stops the workers. */
        c->runner.stop_workers =
            c->opt.stop_workers ||
            ((c->exit_status == AXL_EXIT_COMPLETED || c->exit_status == AXL_EXIT_EXHAUSTED) &&
             axl_trials_count(c, AXL_PENDING_MASK) == 0);
        c->runner.ops->close(&c->runner, runner_closed);
    }
    uv_handle_t *hs[] = {(uv_handle_t *)&c->turn,    (uv_handle_t *)&c->wake,
                         (uv_handle_t *)&c->timeout, (uv_handle_t *)&c->settle,
                         (uv_handle_t *)&c->sigint,  (uv_handle_t *)&c->sigterm};
    bool has_signals = c->opt.handle_signals;
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        if (i >= 4 && !has_signals)
            continue;
        c->pending_closes++;
        uv_close(hs[i], handle_closed);
    }
    c->wake_active = false;
    if (--c->pending_closes == 0)
        c->closed = true;
}

/* ---- Deciding ------------------------------------------------------------------------ */

static int runner_capacity(axl_campaign *c)
{
    return c->runner_open ? c->runner.ops->capacity(&c->runner) : 0;
}

/* Stages CANDIDATE trials, oldest first, into at most slots free places. */
static long stage_candidates(axl_campaign *c, long slots)
{
    for (uint32_t i = c->first_candidate; i < c->n_trials && slots > 0; i++) {
        if (c->trials[i].status == AXL_TRIAL_CANDIDATE && axl_trial_stage(c, i) == 0)
            slots--;
    }
    /* Trials before the first CANDIDATE never become CANDIDATE again. */
    while (c->first_candidate < c->n_trials &&
           c->trials[c->first_candidate].status != AXL_TRIAL_CANDIDATE)
        c->first_candidate++;
    return slots;
}

static void decide(axl_campaign *c)
{
    const axl_sched_options *o = &c->exp->options;
    if (c->gen_error != 0) {
        bool exhausted = c->gen_error == AXL_EEXHAUSTED;
        axl_sched_request_stop(c, exhausted ? AXL_EXIT_EXHAUSTED : AXL_EXIT_ERROR,
                               exhausted ? "the search space is exhausted"
                                         : "the model failed to generate");
        return;
    }
    if (failure_rate_exceeded(c))
        return;
    /* Paused (or stopping --wait): nothing is staged or generated, but a campaign whose
     * trials are all in still ends below. */
    bool hold = axl_control_hold(c);
    if (c->stopping || (!hold && axl_gss_check(c)))
        return;

    uint32_t in_flight =
        axl_trials_count(c, AXL_MASK(AXL_TRIAL_STAGED) | AXL_MASK(AXL_TRIAL_RUNNING));
    int cap = runner_capacity(c);
    /* Trials being deployed this turn are not yet counted by the runner. */
    if (cap >= 0)
        cap = cap > (int)c->n_to_deploy ? cap - (int)c->n_to_deploy : 0;
    long slots = (long)o->max_pending_trials - (long)in_flight;
    if (cap >= 0 && cap < slots)
        slots = cap;

    /* CANDIDATE trials first: made by a generation, or left by a crash. */
    if (!hold)
        slots = stage_candidates(c, slots);

    uint32_t pending = axl_trials_count(c, AXL_PENDING_MASK);
    if (c->max_trials >= 0 && c->n_trials >= (uint32_t)c->max_trials) {
        /* Without waiting (Ax's wait_for_running_trials false) the run ends once every
         * trial runs (none STAGED) and what a resume's reconcile found is collected; the
         * trials still running are collected by the next resume. */
        bool handed_over = c->n_to_deploy == 0 && c->settled &&
                           axl_trials_count(c, AXL_MASK(AXL_TRIAL_STAGED)) == 0;
        bool runner_busy = c->runner_open && c->runner.ops->busy != NULL &&
                           c->runner.ops->busy(&c->runner) > 0; /* e.g. a last move */
        bool held_back = hold && axl_trials_count(c, AXL_MASK(AXL_TRIAL_CANDIDATE)) > 0;
        if (!held_back &&
            ((pending == 0 && !runner_busy) || (!o->wait_for_running_trials && handed_over))) {
            char reason[128];
            snprintf(reason, sizeof(reason), "reached the total of %d trials", c->max_trials);
            axl_sched_request_stop(c, AXL_EXIT_COMPLETED, reason);
        } else if (!c->done_submitting_logged) {
            c->done_submitting_due = true; /* said after this turn's deploys, as Ax does */
        }
        return;
    }
    if (hold || c->generating)
        return;
    long want = (long)o->max_pending_trials - (long)pending;
    if (cap >= 0 && cap < want)
        want = cap;
    if (c->max_trials >= 0 && (long)c->max_trials - (long)c->n_trials < want)
        want = (long)c->max_trials - (long)c->n_trials;
    if (want <= 0)
        return;
    int rv = axl_gen_start(c, (size_t)want);
    /* Sobol ran inline: stage its trials now, so that they share this turn's commit. */
    if (rv == 0 && !c->generating)
        stage_candidates(c, slots);
    if (rv == AXL_EEXHAUSTED && pending == 0)
        axl_sched_request_stop(c, AXL_EXIT_EXHAUSTED,
                               "the generation strategy has no more trials to generate");
}

/* ---- Acting (after the commit) --------------------------------------------------------- */

static void deploy_group(axl_campaign *c, const uint32_t *idx, int n)
{
    axl_runner_job jobs[64];
    axl_errbuf eb = {{0}};
    char list[256];
    for (int i = 0; i < n; i++)
        jobs[i] = (axl_runner_job){idx[i], c->trials[idx[i]].x, NULL};
    axl_format_trial_list(idx, (uint32_t)n, list, sizeof(list));
    if (n == 1)
        snprintf(list, sizeof(list), "[%u]", idx[0]);
    AXL_INFO(SRC, "Running trials %s...", list);
    c->runner.deploy_calls++;
    int rv = c->runner.ops->deploy(&c->runner, jobs, n, &eb);
    if (rv != 0) {
        AXL_ERROR(SRC, "Deploying trials %s failed: %s", list, eb.msg);
        for (int i = 0; i < n; i++) {
            axl_trial_fail(c, idx[i], AXL_TRIAL_FAILED, eb.msg);
            sync_ttl(c, &c->trials[idx[i]]);
        }
        axl_sched_wake(c);
        return;
    }
    for (int i = 0; c->opt.hooks.on_deploy != NULL && i < n; i++)
        c->opt.hooks.on_deploy(c->opt.hooks.data, idx[i]);
}

static void act(axl_campaign *c)
{
    uint32_t n = c->n_to_deploy;
    c->n_to_deploy = 0;
    if (!c->runner_open || c->stopping)
        return; /* staged but not handed over: resume deploys them (STAGED → reconcile) */
    if (c->exp->options.run_trials_in_batches) {
        for (uint32_t i = 0; i < n; i += 64)
            deploy_group(c, c->to_deploy + i, (int)(n - i < 64 ? n - i : 64));
    } else {
        for (uint32_t i = 0; i < n; i++)
            deploy_group(c, &c->to_deploy[i], 1);
    }
}

static void log_retrieved(axl_campaign *c)
{
    char list[256];
    if (c->n_done_completed > 0) {
        axl_format_trial_list(c->done_completed, c->n_done_completed, list, sizeof(list));
        AXL_INFO(SRC, "Retrieved COMPLETED trials: %s.", list);
        AXL_INFO(SRC, "Fetching data for trials: %s.", list);
        c->n_done_completed = 0;
    }
    if (c->n_done_failed > 0) {
        axl_format_trial_list(c->done_failed, c->n_done_failed, list, sizeof(list));
        AXL_INFO(SRC, "Retrieved FAILED trials: %s.", list);
        c->n_done_failed = 0;
    }
}

void axl_sched_turn(uv_check_t *h)
{
    axl_campaign *c = h->data;
    axl_errbuf eb = {{0}};
    bool changed = false;
    if (c->closed || c->stop_committed || !c->started)
        return;
    for (int round = 0; round < 64; round++) {
        if (!c->stopping)
            decide(c);
        bool stopping_now = c->stopping;
        if (stopping_now)
            record_stop(c);
        if (axl_journal_pending(&c->journal) == 0 && c->n_to_deploy == 0)
            break;
        changed = true;
        log_retrieved(c);
        int rv = axl_journal_commit(&c->journal, &eb);
        if (rv != 0) {
            /* Nothing of this turn is durable, so nothing of it may be acted on. */
            AXL_ERROR(SRC, "cannot commit to the store, stopping: %s", eb.msg);
            axl_control_committed(c, rv, eb.msg);
            c->n_to_deploy = 0;
            if (!c->stopping) {
                c->stopping = true;
                c->exit_status = AXL_EXIT_ERROR;
                snprintf(c->reason, sizeof(c->reason), "store commit failed: %.200s", eb.msg);
            }
            c->stop_committed = true;
            break;
        }
        axl_store_check_turn(c); /* debug builds and tests: memory == fold of the log */
        axl_control_committed(c, 0, NULL);
        act(c);
        if (c->done_submitting_due && !c->done_submitting_logged) {
            c->done_submitting_logged = true;
            AXL_INFO(SRC, "Done submitting trials, waiting for remaining %u running trials...",
                     axl_trials_count(c, AXL_PENDING_MASK));
        }
        if (stopping_now) {
            c->stop_committed = true;
            break;
        }
    }
    if (changed)
        axl_feedback_turn(c, c->stop_committed); /* progress line, waiting messages */
    if (c->stop_committed) {
        if (axl_exit_status_code(c->exit_status) == 0)
            AXL_INFO(SRC, "Campaign %s stopped: %s.", c->exp->name, c->reason);
        else
            AXL_WARN(SRC, "Campaign %s stopped (%s): %s", c->exp->name,
                     axl_exit_status_name(c->exit_status), c->reason);
        shutdown_handles(c);
        return;
    }
    if (c->wake_active && axl_journal_pending(&c->journal) == 0 && c->n_to_deploy == 0) {
        uv_idle_stop(&c->wake);
        c->wake_active = false;
    }
}
