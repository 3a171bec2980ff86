/*
 * generation.c - asks the model for new trials without ever blocking the loop.
 *
 * The loop thread copies what the model needs (observations, pending points, step,
 * state) into a job; GP-LogEI runs on libuv's thread pool, Sobol inline (it costs
 * microseconds, a thread hop would cost more). The after-callback turns candidates into
 * CANDIDATE trials; the next decision stages them.
 *
 * A fit made stale by data that arrived meanwhile is used, not redone: every trial that
 * completed in the meantime was in the snapshot as a pending point, so the candidate
 * already keeps away from it, and redoing the fit would leave the line idle for no
 * better suggestion. The next generation sees the new data.
 */
#include "engine/campaign.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/generation_moo.h"
#include "engine/status_quo.h"
#include "proto/axl_log.h"

#define SRC "Scheduler"

typedef struct axl_gen_job {
    axl_campaign *c;
    uint32_t step_index;
    axl_gen_step step;
    axl_model_state state;
    axl_model_input in;
    axl_model_output out;
    double *X, *y, *sem, *Xp, *cand;
    axl_gen_moo *moo; /* several outcomes (generation_moo.c), else NULL */
    int rv;
    axl_errbuf eb;
} axl_gen_job;

static void job_free(axl_gen_job *j)
{
    if (j == NULL)
        return;
    free(j->X);
    free(j->y);
    free(j->sem);
    free(j->Xp);
    free(j->cand);
    axl_gen_moo_free(j->moo);
    free(j);
}

/* An observed arm (a finite objective) or a pending one (CANDIDATE, STAGED, RUNNING):
 * what a new trial must not repeat. */
static bool is_known(const axl_trial *t)
{
    return (t->status == AXL_TRIAL_COMPLETED && t->has_objective && isfinite(t->y)) ||
           (AXL_PENDING_MASK & AXL_MASK(t->status));
}

static int accept_known(void *ctx, uint32_t id)
{
    const axl_campaign *c = ctx;
    return id < c->n_trials && is_known(&c->trials[id]);
}

/* De-duplication for inline (Sobol) generations from the campaign's point index:
 * O(1) per point instead of a copy and a scan of the whole history. */
static int seen_known(void *ctx, const double *x)
{
    const axl_campaign *c = ctx;
    return axl_point_index_find(c->points, x, accept_known, ctx);
}

/*
 * Copies observations and pending points: the thread pool sees only this snapshot.
 * A Sobol step runs inline on the loop thread and needs no data, only de-duplication:
 * with the campaign's point index it gets none (the cost of a Sobol generation does
 * not grow with the history).
 */
static axl_gen_job *snapshot(axl_campaign *c, uint32_t step_index, size_t k)
{
    size_t np = c->exp->space.n_params;
    axl_gen_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    bool inline_sobol =
        c->exp->strategy.steps[step_index].model == AXL_GEN_SOBOL && c->points != NULL;
    size_t n_obs = 0, n_pend = 0;
    for (uint32_t i = 0; i < c->n_trials && !inline_sobol; i++) {
        const axl_trial *t = &c->trials[i];
        if (t->status == AXL_TRIAL_COMPLETED && t->has_objective && isfinite(t->y))
            n_obs++;
        else if (AXL_PENDING_MASK & AXL_MASK(t->status))
            n_pend++;
    }
    j->X = malloc((n_obs ? n_obs : 1) * np * sizeof(double));
    j->y = malloc((n_obs ? n_obs : 1) * sizeof(double));
    j->sem = malloc((n_obs ? n_obs : 1) * sizeof(double));
    j->Xp = malloc((n_pend ? n_pend : 1) * np * sizeof(double));
    j->cand = malloc(k * np * sizeof(double));
    if (!j->X || !j->y || !j->sem || !j->Xp || !j->cand) {
        job_free(j);
        return NULL;
    }
    size_t o = 0, p = 0;
    bool any_sem = false;
    for (uint32_t i = 0; i < c->n_trials && !inline_sobol; i++) {
        const axl_trial *t = &c->trials[i];
        if (t->status == AXL_TRIAL_COMPLETED && t->has_objective && isfinite(t->y)) {
            memcpy(j->X + o * np, t->x, np * sizeof(double));
            j->y[o] = t->y;
            j->sem[o] = t->sem;
            any_sem = any_sem || isfinite(t->sem);
            o++;
        } else if (AXL_PENDING_MASK & AXL_MASK(t->status)) {
            memcpy(j->Xp + p * np, t->x, np * sizeof(double));
            p++;
        }
    }
    j->c = c;
    j->step_index = step_index;
    j->step = c->exp->strategy.steps[step_index];
    j->state = c->gen_state;
    j->in = (axl_model_input){
        .space = &c->exp->space,
        .maximize = !c->exp->minimize,
        .n_obs = n_obs,
        .X = j->X,
        .y = j->y,
        .sem = any_sem ? j->sem : NULL,
        .n_pending = n_pend,
        .X_pending = j->Xp,
        .k = k,
        .step = &j->step,
        .state = &j->state,
        .opts = NULL,
        .seen = inline_sobol ? seen_known : NULL,
        .seen_ctx = inline_sobol ? c : NULL,
    };
    j->out.X = j->cand;
    if (axl_gen_moo_wanted(c->exp) &&
        (j->moo = axl_gen_moo_snapshot(c, &j->step, &j->state, k, j->cand)) == NULL) {
        job_free(j);
        return NULL;
    }
    return j;
}

static void run_job(axl_gen_job *j)
{
    j->rv = j->moo ? axl_gen_moo_run(j->moo, &j->out, &j->eb)
                   : axl_model_generate(&j->in, &j->out, &j->eb);
}

int axl_gen_record(const axl_model_state *st, const char *method, double fit_ms, double acq_ms,
                   double acq_value, msgpack_sbuffer *out)
{
    uint8_t bytes[AXL_MODEL_STATE_BYTES];
    size_t len = 0;
    if (axl_model_state_encode(st, bytes, sizeof(bytes), &len) != 0)
        return AXL_EINVAL;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 8) || axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) ||
        axl_pack_kv_str(&pk, "method", method) || axl_pack_kv_uint(&pk, "step", st->step) ||
        axl_pack_kv_uint(&pk, "sobol_index", st->sobol_index) ||
        axl_pack_kv_num(&pk, "fit_ms", fit_ms) || axl_pack_kv_num(&pk, "acq_ms", acq_ms) ||
        axl_pack_cstr(&pk, "acq_value") ||
        (isfinite(acq_value) ? msgpack_pack_double(&pk, acq_value) : msgpack_pack_nil(&pk)) ||
        axl_pack_cstr(&pk, "state") || msgpack_pack_bin(&pk, len) ||
        msgpack_pack_bin_body(&pk, bytes, len))
        return AXL_ENOMEM;
    return 0;
}

int axl_gen_record_decode(const void *data, size_t len, axl_model_state *st)
{
    axl_msg m;
    int rv;
    if ((rv = axl_msg_parse(&m, data, len, NULL)) != 0)
        return rv;
    const msgpack_object *s = axl_obj_get(&m.root, "state");
    if (s == NULL || s->type != MSGPACK_OBJECT_BIN)
        rv = AXL_ECORRUPT;
    else
        rv = axl_model_state_decode(st, (const uint8_t *)s->via.bin.ptr, s->via.bin.size);
    axl_msg_free(&m);
    return rv;
}

/* Loop thread: candidates become CANDIDATE trials, the state is stored with them. */
static void finish_job(axl_campaign *c, axl_gen_job *j)
{
    size_t np = c->exp->space.n_params;
    if (j->rv != 0) {
        if (j->rv == AXL_EEXHAUSTED)
            AXL_WARN(SRC, "The search space has no new point left: %s", j->eb.msg);
        else
            AXL_ERROR(SRC, "Generation failed: %s (%s)", j->eb.msg, axl_strerror(j->rv));
        /* Reported to the scheduler, whose next decide step stops the campaign: a broken
         * model must not spin, retrying on every turn. */
        c->gen_error = j->rv;
        return;
    }
    for (size_t i = 0; i < j->out.n; i++) {
        uint32_t index;
        if (axl_trial_create(c, j->out.X + i * np, j->step_index, j->out.method, &index) != 0) {
            AXL_ERROR(SRC, "out of memory creating a trial");
            return;
        }
    }
    c->gen_state = j->out.state;
    if (j->moo)
        c->moo_state = j->moo->out.mstate;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    axl_errbuf eb = {{0}};
    /* The first candidate's log acquisition value (LogEI, log EHVI, ...); none for Sobol. */
    double acq_value = strcmp(j->out.method, "Sobol") == 0 ? NAN
                       : j->moo                            ? j->moo->out.best_acq
                                                           : j->out.diag.best_logei;
    if (axl_gen_record(&c->gen_state, j->out.method, j->out.diag.fit_ms, j->out.diag.acq_ms,
                       acq_value, &sb) != 0 ||
        axl_journal_add(&c->journal, "generation.finished", c->exp->name, -1, AXL_REC_GENERATOR,
                        sb.data, sb.size, &eb) != 0)
        AXL_ERROR(SRC, "cannot record the generator state: %s", eb.msg);
    msgpack_sbuffer_destroy(&sb);
    if (j->out.diag.n_hyper > 0)
        AXL_DEBUG(SRC,
                  "%s: %zu candidates from %zu observations, fit %.1f ms (%d evaluations, %d "
                  "starts: %s), acquisition %.1f ms",
                  j->out.method, j->out.n, j->in.n_obs, j->out.diag.fit_ms, j->out.diag.fit_evals,
                  j->out.diag.fit_starts, j->in.state->hyper_dims != 0 ? "warm" : "cold",
                  j->out.diag.acq_ms);
}

static void work_cb(uv_work_t *req)
{
    run_job(req->data);
}

static void after_work_cb(uv_work_t *req, int status)
{
    axl_gen_job *j = req->data;
    axl_campaign *c = j->c;
    c->generating = false;
    if (status == 0 && !c->stopping)
        finish_job(c, j);
    job_free(j);
    axl_sched_wake(c);
}

int axl_gen_start(axl_campaign *c, size_t k)
{
    const axl_gen_strategy *gs = &c->exp->strategy;
    axl_gs_counts counts[AXL_GS_MAX_STEPS];
    memset(counts, 0, sizeof(counts));
    /* from the per-step counts trial_state.c keeps: O(1), not a pass over the trials */
    for (uint32_t s = 0; s < gs->n_steps && s < AXL_GS_MAX_STEPS; s++) {
        const uint32_t *n = c->n_step_status[s];
        axl_gs_counts *ct = &counts[s];
        for (int st = 0; st < AXL_TRIAL_STATUS_COUNT; st++)
            if (st != AXL_TRIAL_FAILED && st != AXL_TRIAL_ABANDONED)
                ct->generated += n[st];
        ct->completed = n[AXL_TRIAL_COMPLETED] + n[AXL_TRIAL_EARLY_STOPPED];
        /* Staged and candidate trials will run: counting them keeps parallelism honest. */
        ct->running = n[AXL_TRIAL_CANDIDATE] + n[AXL_TRIAL_STAGED] + n[AXL_TRIAL_RUNNING];
    }
    axl_gs_verdict verdict;
    size_t k_now = 0;
    if (axl_gs_decide(gs, counts, k, &c->gen_state, &verdict, &k_now) != 0)
        return AXL_EINVAL;
    if (verdict == AXL_GS_EXHAUSTED)
        return AXL_EEXHAUSTED;
    if (verdict != AXL_GS_READY) {
        if (c->blocked_logged != (int)verdict) {
            c->blocked_logged = (int)verdict;
            AXL_INFO(SRC, "Generated all trials that can be generated currently. %s",
                     verdict == AXL_GS_MAX_PARALLELISM
                         ? "Max parallelism currently reached."
                         : "Model requires more data to generate more trials.");
        }
        return AXL_EAGAIN;
    }
    uint32_t step_index = c->gen_state.step;
    if (gs->steps[step_index].model != AXL_GEN_SOBOL && axl_gen_moo_wanted(c->exp)) {
        /* relative outcome constraints: the status quo's metrics first (status_quo.h) */
        axl_errbuf eb = {{0}};
        int rv = axl_sq_gen_check(c, &eb);
        if (rv == AXL_EMISSING) {
            AXL_ERROR(SRC, "%s.", eb.msg);
            axl_sched_request_stop(c, AXL_EXIT_ERROR, eb.msg);
        }
        if (rv != 0)
            return rv;
    }
    c->blocked_logged = -1;
    axl_gen_job *j = snapshot(c, step_index, k_now);
    if (j == NULL) {
        AXL_ERROR(SRC, "out of memory preparing a generation");
        return AXL_ENOMEM;
    }
    if (gs->steps[step_index].model == AXL_GEN_SOBOL) {
        run_job(j);
        finish_job(c, j);
        job_free(j);
        return 0;
    }
    c->gen_work.data = j;
    int err = uv_queue_work(c->loop, &c->gen_work, work_cb, after_work_cb);
    if (err != 0) {
        job_free(j);
        AXL_ERROR(SRC, "cannot queue the model fit: %s", uv_strerror(err));
        return AXL_EIO;
    }
    c->generating = true;
    return 0;
}

void axl_gen_cancel(axl_campaign *c)
{
    /* A fit that has not started is dropped; one that runs finishes and is discarded
     * by after_work_cb (the campaign is stopping). */
    if (c->generating)
        uv_cancel((uv_req_t *)&c->gen_work);
}
