/* Helpers of the storage tests: temp dirs, event builders, the random campaign model. */
#include "test/storage/testlib.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- files ---- */

int tl_mkdtemp(char *out)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, 256, "%s/axl-store-XXXXXX", base != NULL && base[0] ? base : "/tmp");
    return mkdtemp(out) != NULL ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

void tl_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tl_path(char *out, const char *dir, const char *name)
{
    snprintf(out, 512, "%s/%s", dir, name);
    return out;
}

uint64_t tl_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* ---- events ---- */

int tl_trial_body(msgpack_sbuffer *out, const char *exp, uint32_t index, axl_trial_status status,
                  double when, uint32_t deploys)
{
    axl_param_value params[4] = {
        {"antisolvent_volume", {.kind = AXL_VALUE_NUM, .num = 5 + index % 7}},
        {"antisolvent_rate", {.kind = AXL_VALUE_NUM, .num = 10.0 + 0.25 * (index % 13)}},
        {"antisolvent_timing", {.kind = AXL_VALUE_NUM, .num = 3.5 + 0.125 * (index % 17)}},
        {"anneal_duration", {.kind = AXL_VALUE_NUM, .num = 600 + index % 900}},
    };
    axl_metric_value metric = {"pl_intensity", 1000.0 + index * 0.5, 12.5};
    char job[32];
    snprintf(job, sizeof(job), "job-%u", index);
    double t = when;
    axl_trial_rec rec = {
        .experiment = exp,
        .index = index,
        .status = status,
        .gen_method = index < 8 ? "Sobol" : "GP-LogEI",
        .step = index < 8 ? 0 : 1,
        .created = t - 1,
        .updated = t,
        .deployed = status >= AXL_TRIAL_RUNNING ? t : 0,
        .deploy_count = deploys,
        .job_id = status >= AXL_TRIAL_RUNNING ? job : NULL,
        .reason = status == AXL_TRIAL_FAILED ? "spincoater jammed" : NULL,
        .n_params = 4,
        .params = params,
        .n_metrics = status == AXL_TRIAL_COMPLETED ? 1 : 0,
        .metrics = &metric,
    };
    return axl_trial_rec_encode(&rec, out, NULL);
}

void tl_add(axl_store_batch *b, const char *type, const char *exp, int64_t trial, axl_rec_kind rec,
            const void *body, size_t body_len)
{
    axl_errbuf eb = {{0}};
    axl_event ev = {
        .time = 1.7e9,
        .type = type,
        .type_len = strlen(type),
        .experiment = exp,
        .experiment_len = exp != NULL ? strlen(exp) : 0,
        .trial = trial,
        .rec = rec,
        .body = body,
        .body_len = body_len,
    };
    int rv = axl_store_batch_add(b, &ev, &eb);
    if (rv != 0) {
        fprintf(stderr, "tl_add %s: %s: %s\n", type, axl_err_name(rv), eb.msg);
        abort();
    }
}

/* ---- the model ---- */

static void blob_set(tl_blob *bl, const void *p, size_t n)
{
    free(bl->p);
    bl->p = malloc(n ? n : 1);
    if (bl->p == NULL)
        abort();
    memcpy(bl->p, p, n);
    bl->n = n;
}

static void blob_free(tl_blob *bl)
{
    free(bl->p);
    bl->p = NULL;
    bl->n = 0;
}

static tl_trial *new_trial(tl_exp *e)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->trials = realloc(e->trials, e->cap * sizeof(*e->trials));
        if (e->trials == NULL)
            abort();
    }
    tl_trial *t = &e->trials[e->n++];
    memset(t, 0, sizeof(*t));
    return t;
}

static uint64_t map_uint(const void *p, size_t n, const char *key)
{
    axl_msg m;
    uint64_t v = 0;
    if (p == NULL || axl_msg_parse(&m, p, n, NULL) != 0)
        return 0;
    axl_obj_uint(&m.root, "rec", key, false, 0, UINT64_MAX, &v, NULL);
    axl_msg_free(&m);
    return v;
}

int tl_model_init(tl_model *m, uint64_t seed, bool keep_bodies, axl_store *s)
{
    static const char *names[TL_MAX_EXPS] = {"exp", "exp2", "e"};
    memset(m, 0, sizeof(*m));
    m->rng = seed;
    m->keep_bodies = keep_bodies;
    msgpack_sbuffer_init(&m->buf);
    for (int i = 0; i < TL_MAX_EXPS; i++)
        snprintf(m->exps[i].name, sizeof(m->exps[i].name), "%s", names[i]);
    if (s == NULL)
        return 0;
    for (int i = 0; i < TL_MAX_EXPS; i++) {
        tl_exp *e = &m->exps[i];
        axl_store_experiment *x;
        axl_errbuf eb;
        int rv = axl_store_load(s, e->name, &x, &eb);
        if (rv == AXL_ENOENT)
            continue;
        if (rv != 0) {
            fprintf(stderr, "tl_model_init: load %s: %s\n", e->name, eb.msg);
            return rv;
        }
        e->started = true;
        e->gen_step = (uint32_t)map_uint(x->generator, x->generator_len, "step");
        e->tips = (uint32_t)map_uint(x->labware, x->labware_len, "tips_used");
        for (size_t k = 0; k < x->n_trials; k++) {
            if (x->trials[k].index != e->n) {
                fprintf(stderr, "tl_model_init: %s: trial %u where %u was expected\n", e->name,
                        x->trials[k].index, e->n);
                axl_store_experiment_free(x);
                return AXL_ECORRUPT;
            }
            tl_trial *t = new_trial(e);
            t->status = x->trials[k].status;
            t->deploys = x->trials[k].deploy_count;
            t->created = x->trials[k].created;
        }
        axl_store_experiment_free(x);
    }
    return 0;
}

void tl_model_free(tl_model *m)
{
    for (int i = 0; i < TL_MAX_EXPS; i++) {
        tl_exp *e = &m->exps[i];
        for (uint32_t k = 0; k < e->n; k++)
            blob_free(&e->trials[k].last);
        free(e->trials);
        blob_free(&e->exp_rec);
        blob_free(&e->gen_rec);
        blob_free(&e->lab_rec);
    }
    msgpack_sbuffer_destroy(&m->buf);
}

static void pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    axl_pack_kv_str(pk, k, v);
}

static void add_rec(tl_model *m, axl_store_batch *b, const char *type, tl_exp *e, int64_t trial,
                    axl_rec_kind rec, tl_blob *keep)
{
    tl_add(b, type, e->name, trial, rec, m->buf.data, m->buf.size);
    if (m->keep_bodies && keep != NULL)
        blob_set(keep, m->buf.data, m->buf.size);
}

static void trial_event(tl_model *m, axl_store_batch *b, tl_exp *e, uint32_t idx,
                        axl_trial_status to)
{
    static const char *types[AXL_TRIAL_STATUS_COUNT] = {
        "trial.created", "trial.staged",        "trial.running",  "trial.completed",
        "trial.failed",  "trial.early_stopped", "trial.abandoned"};
    tl_trial *t = &e->trials[idx];
    if (to == AXL_TRIAL_RUNNING)
        t->deploys++;
    t->status = to;
    msgpack_sbuffer_clear(&m->buf);
    if (tl_trial_body(&m->buf, e->name, idx, to, 1.7e9 + idx, t->deploys) != 0)
        abort();
    add_rec(m, b, types[to], e, idx, AXL_REC_TRIAL, &t->last);
}

static void change(tl_model *m, axl_store_batch *b)
{
    tl_exp *e = &m->exps[tl_below(&m->rng, TL_MAX_EXPS)];
    msgpack_packer pk;
    msgpack_sbuffer_clear(&m->buf);
    msgpack_packer_init(&pk, &m->buf, msgpack_sbuffer_write);
    uint32_t r = tl_below(&m->rng, 100);

    if (!e->started || r < 4) {
        msgpack_pack_map(&pk, 4);
        pack_kv_str(&pk, "name", e->name);
        axl_pack_kv_uint(&pk, "rev", tl_rand(&m->rng) % 1000);
        pack_kv_str(&pk, "objective", "pl_intensity");
        axl_pack_cstr(&pk, "parameters");
        msgpack_pack_array(&pk, 4);
        axl_pack_cstr(&pk, "antisolvent_volume");
        axl_pack_cstr(&pk, "antisolvent_rate");
        axl_pack_cstr(&pk, "antisolvent_timing");
        axl_pack_cstr(&pk, "anneal_duration");
        add_rec(m, b, e->started ? "experiment.updated" : "experiment.started", e, -1,
                AXL_REC_EXPERIMENT, &e->exp_rec);
        e->started = true;
        return;
    }
    if (r < 40 || e->n == 0) {
        tl_trial *t = new_trial(e);
        t->created = 1.7e9 + e->n;
        trial_event(m, b, e, e->n - 1, AXL_TRIAL_CANDIDATE);
        return;
    }
    if (r < 75) {
        /* a random live trial, looked for from a random start */
        uint32_t start = tl_below(&m->rng, e->n);
        for (uint32_t k = 0; k < e->n; k++) {
            uint32_t idx = (start + k) % e->n;
            axl_trial_status st = e->trials[idx].status;
            if (axl_trial_status_is_terminal(st))
                continue;
            static const axl_trial_status from_cand[] = {AXL_TRIAL_STAGED, AXL_TRIAL_RUNNING,
                                                         AXL_TRIAL_RUNNING, AXL_TRIAL_FAILED,
                                                         AXL_TRIAL_ABANDONED};
            static const axl_trial_status from_staged[] = {AXL_TRIAL_RUNNING, AXL_TRIAL_ABANDONED};
            static const axl_trial_status from_running[] = {
                AXL_TRIAL_COMPLETED, AXL_TRIAL_COMPLETED,     AXL_TRIAL_COMPLETED,
                AXL_TRIAL_FAILED,    AXL_TRIAL_EARLY_STOPPED, AXL_TRIAL_ABANDONED};
            axl_trial_status to = st == AXL_TRIAL_CANDIDATE ? from_cand[tl_below(&m->rng, 5)]
                                  : st == AXL_TRIAL_STAGED  ? from_staged[tl_below(&m->rng, 2)]
                                                            : from_running[tl_below(&m->rng, 6)];
            trial_event(m, b, e, idx, to);
            return;
        }
        /* none alive: fall through to a generator update */
    }
    if (r < 87) {
        uint8_t state[16];
        for (int i = 0; i < 16; i++)
            state[i] = (uint8_t)tl_rand(&m->rng);
        e->gen_step++;
        msgpack_sbuffer_clear(&m->buf);
        msgpack_pack_map(&pk, 3);
        axl_pack_kv_uint(&pk, "step", e->gen_step);
        axl_pack_kv_uint(&pk, "sobol_index", e->n);
        axl_pack_cstr(&pk, "rng");
        msgpack_pack_bin(&pk, 16);
        msgpack_pack_bin_body(&pk, state, 16);
        add_rec(m, b, "generation.finished", e, -1, AXL_REC_GENERATOR, &e->gen_rec);
        return;
    }
    if (r < 94) {
        e->tips += 1 + tl_below(&m->rng, 3);
        msgpack_pack_map(&pk, 2);
        axl_pack_kv_uint(&pk, "tips_used", e->tips);
        axl_pack_kv_uint(&pk, "tray_free", 48 - e->tips % 48);
        add_rec(m, b, "labware.changed", e, -1, AXL_REC_LABWARE, &e->lab_rec);
        return;
    }
    msgpack_pack_map(&pk, 1);
    axl_pack_kv_uint(&pk, "task", tl_rand(&m->rng) % 100000);
    tl_add(b, "task.started", e->name, e->n ? (int64_t)tl_below(&m->rng, e->n) : -1, AXL_REC_NONE,
           m->buf.data, m->buf.size);
}

size_t tl_model_batch(tl_model *m, axl_store_batch *b, int n)
{
    size_t before = axl_store_batch_count(b);
    for (int i = 0; i < n; i++)
        change(m, b);
    size_t count = axl_store_batch_count(b) - before + 1;
    msgpack_packer pk;
    msgpack_sbuffer_clear(&m->buf);
    msgpack_packer_init(&pk, &m->buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    axl_pack_kv_uint(&pk, "batch", ++m->batches);
    axl_pack_kv_uint(&pk, "n", count);
    tl_add(b, "batch.end", NULL, -1, AXL_REC_NONE, m->buf.data, m->buf.size);
    return count;
}

static int check_rec(axl_store *s, axl_rec_kind kind, const char *exp, uint32_t trial,
                     const tl_blob *want)
{
    void *p;
    size_t n;
    axl_errbuf eb;
    int rv = axl_store_get_record(s, kind, exp, trial, &p, &n, &eb);
    if (want->p == NULL) {
        if (rv == AXL_ENOENT)
            return 0;
        if (rv == 0)
            free(p);
        fprintf(stderr, "check: %s %s/%u: expected none, got %s\n", axl_rec_kind_name(kind), exp,
                trial, axl_err_name(rv));
        return -1;
    }
    if (rv != 0) {
        fprintf(stderr, "check: %s %s/%u: %s\n", axl_rec_kind_name(kind), exp, trial, eb.msg);
        return -1;
    }
    int same = n == want->n && memcmp(p, want->p, n) == 0;
    free(p);
    if (!same) {
        fprintf(stderr, "check: %s %s/%u differs from the model\n", axl_rec_kind_name(kind), exp,
                trial);
        return -1;
    }
    return 0;
}

int tl_model_check(const tl_model *m, axl_store *s)
{
    for (int i = 0; i < TL_MAX_EXPS; i++) {
        const tl_exp *e = &m->exps[i];
        if (check_rec(s, AXL_REC_EXPERIMENT, e->name, 0, &e->exp_rec) ||
            check_rec(s, AXL_REC_GENERATOR, e->name, 0, &e->gen_rec) ||
            check_rec(s, AXL_REC_LABWARE, e->name, 0, &e->lab_rec))
            return -1;
        for (uint32_t k = 0; k < e->n; k++)
            if (check_rec(s, AXL_REC_TRIAL, e->name, k, &e->trials[k].last))
                return -1;
        /* trials by status against the model */
        for (int st = 0; st < AXL_TRIAL_STATUS_COUNT; st++) {
            uint32_t *idx;
            size_t n, want = 0, j = 0;
            if (axl_store_trials_by_status(s, e->name, AXL_STORE_STATUS_BIT(st), &idx, &n, NULL) !=
                0)
                return -1;
            for (uint32_t k = 0; k < e->n; k++) {
                if ((int)e->trials[k].status != st)
                    continue;
                want++;
                if (j >= n || idx[j] != k) {
                    fprintf(stderr, "check: %s status %s: trial %u missing\n", e->name,
                            axl_trial_status_name(st), k);
                    free(idx);
                    return -1;
                }
                j++;
            }
            free(idx);
            if (n != want) {
                fprintf(stderr, "check: %s status %s: %zu trials, model has %zu\n", e->name,
                        axl_trial_status_name(st), n, want);
                return -1;
            }
        }
    }
    return 0;
}

long tl_check_batches(axl_store *s)
{
    axl_store_iter *it;
    axl_errbuf eb;
    uint64_t seq, expect = 1, since = 0;
    const void *data;
    size_t len;
    long batches = 0;
    int rv;

    if (axl_store_iter_open(s, 1, 0, &it, &eb) != 0) {
        fprintf(stderr, "check_batches: %s\n", eb.msg);
        return -1;
    }
    while ((rv = axl_store_iter_next(it, &seq, &data, &len, &eb)) == 0) {
        axl_event ev;
        if (seq != expect) {
            fprintf(stderr, "check_batches: seq %llu, expected %llu\n", (unsigned long long)seq,
                    (unsigned long long)expect);
            goto bad;
        }
        expect++;
        since++;
        if (axl_event_decode(data, len, &ev, &eb) != 0 || ev.seq != seq) {
            fprintf(stderr, "check_batches: event %llu: %s\n", (unsigned long long)seq, eb.msg);
            goto bad;
        }
        if (ev.type_len == 9 && memcmp(ev.type, "batch.end", 9) == 0) {
            uint64_t n = map_uint(ev.body, ev.body_len, "n");
            if (n != since) {
                fprintf(stderr, "check_batches: batch ending at %llu has %llu events, says %llu\n",
                        (unsigned long long)seq, (unsigned long long)since, (unsigned long long)n);
                goto bad;
            }
            since = 0;
            batches++;
        }
    }
    axl_store_iter_close(it);
    if (rv != AXL_ENOENT || since != 0) {
        fprintf(stderr, "check_batches: %llu events after the last complete batch (%s)\n",
                (unsigned long long)since, axl_err_name(rv));
        return -1;
    }
    return batches;
bad:
    axl_store_iter_close(it);
    return -1;
}
