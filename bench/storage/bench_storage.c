/*
 * bench_storage - the store's figures, one JSON row each (bench/run storage).
 *
 *   storage.commit_sync_per_s          full sync, one trial change per commit
 *   storage.group64_sync_events_per_s  full sync, 64 trial changes per commit
 *   storage.nosync_events_per_s        AXL_STORE_NOSYNC, one trial change per commit
 *   storage.replay_events_per_s        zero-copy iteration of the 100k-trial log
 *   storage.replay_decode_events_per_s the same, decoding every event (extra row)
 *   storage.load_100k_trials_s         axl_store_load of 100k seed-like trials
 *   storage.bytes_per_trial            data.mdb size / trials after a realistic life
 *
 * The store lives in $AXL_BENCH_DIR or $TMPDIR or /tmp (a real disk here: /tmp is
 * ext4, so fsync costs what it costs in the lab). Progress goes to stderr.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/axl_bench.h"
#include "storage/axl_store.h"

#define EXP "perovskite_pl_seed"
#define N_TRIALS_DEFAULT 100000
#define PARALLEL 4 /* trials in flight, as on the lab line */

/* $AXL_BENCH_TRIALS overrides the count for quick tuning runs (the row keeps its name). */
static uint32_t N_TRIALS = N_TRIALS_DEFAULT;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rv, const axl_errbuf *eb)
{
    fprintf(stderr, "bench_storage: %s: %s: %s\n", what, axl_err_name(rv), eb->msg);
    exit(1);
}

#define CHECK(what, expr)                                                                          \
    do {                                                                                           \
        int rv_ = (expr);                                                                          \
        if (rv_ != 0)                                                                              \
            die(what, rv_, &eb);                                                                   \
    } while (0)

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static void fresh_dir(char *out, const char *base, const char *name)
{
    snprintf(out, 512, "%s/%s", base, name);
    nftw(out, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(out, 0755) != 0) {
        perror(out);
        exit(1);
    }
}

/* A seed-like trial record: 4 float params, one metric once completed. */
static void trial_body(msgpack_sbuffer *sb, uint32_t i, axl_trial_status st, double t)
{
    axl_param_value params[4] = {
        {"antisolvent_volume", {.kind = AXL_VALUE_NUM, .num = 5.0 + (i % 97) * 0.3117}},
        {"antisolvent_rate", {.kind = AXL_VALUE_NUM, .num = 10.0 + (i % 89) * 0.4231}},
        {"antisolvent_timing", {.kind = AXL_VALUE_NUM, .num = -5.0 + (i % 83) * 0.1713}},
        {"anneal_duration", {.kind = AXL_VALUE_NUM, .num = 300.0 + (i % 79) * 17.31}},
    };
    axl_metric_value pl = {"pl_intensity", 10000.0 + (i % 1013) * 3.7, 120.5};
    char job[40];
    snprintf(job, sizeof(job), EXP "/%u", i);
    axl_trial_rec r = {
        .experiment = EXP,
        .index = i,
        .status = st,
        .gen_method = i < 8 ? "Sobol" : "GP-LogEI",
        .step = i < 8 ? 0 : 1,
        .created = t,
        .updated = t + (st == AXL_TRIAL_CANDIDATE ? 0
                        : st == AXL_TRIAL_RUNNING ? 2
                                                  : 1800),
        .deployed = st == AXL_TRIAL_CANDIDATE ? 0 : t + 2,
        .deploy_count = st == AXL_TRIAL_CANDIDATE ? 0 : 1,
        .job_id = st == AXL_TRIAL_CANDIDATE ? NULL : job,
        .n_params = 4,
        .params = params,
        .n_metrics = st == AXL_TRIAL_COMPLETED ? 1 : 0,
        .metrics = &pl,
    };
    msgpack_sbuffer_clear(sb);
    if (axl_trial_rec_encode(&r, sb, NULL) != 0)
        exit(1);
}

/* The generator state after generating trial i: step, Sobol index, 32 bytes of RNG. */
static void generator_body(msgpack_sbuffer *sb, uint32_t i)
{
    msgpack_packer pk;
    uint8_t rng[32];
    for (int k = 0; k < 32; k++)
        rng[k] = (uint8_t)(i * 31 + k * 7);
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    axl_pack_kv_uint(&pk, "step", i < 8 ? 0 : 1);
    axl_pack_kv_uint(&pk, "sobol_index", i < 8 ? i + 1 : 8);
    axl_pack_kv_uint(&pk, "generated", i + 1);
    axl_pack_cstr(&pk, "rng");
    msgpack_pack_bin(&pk, 32);
    msgpack_pack_bin_body(&pk, rng, 32);
}

static void add(axl_store_batch *b, const char *type, int64_t trial, axl_rec_kind rec,
                const msgpack_sbuffer *body, double t)
{
    axl_errbuf eb;
    axl_event ev = {.time = t,
                    .type = type,
                    .type_len = strlen(type),
                    .experiment = EXP,
                    .experiment_len = strlen(EXP),
                    .trial = trial,
                    .rec = rec,
                    .body = body->data,
                    .body_len = body->size};
    CHECK("batch add", axl_store_batch_add(b, &ev, &eb));
}

static const char *const status_type[] = {"trial.created", "trial.staged", "trial.running",
                                          "trial.completed"};

/*
 * The disk's own price of durability, for context: p50 of pwrite(4 KiB, in place) +
 * fdatasync on a preallocated file in dir. An LMDB commit needs two such flushes.
 */
static double fdatasync_p50_ms(const char *dir)
{
    char path[600];
    static char page[4096];
    double lat[200];
    snprintf(path, sizeof(path), "%s/fsync.probe", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    for (int i = 0; i < 64; i++)
        if (pwrite(fd, page, sizeof(page), (off_t)i * 4096) != (ssize_t)sizeof(page))
            break;
    if (fsync(fd) != 0) {
        close(fd);
        return -1;
    }
    for (int i = 0; i < 200; i++) {
        double t = axl_bench_now();
        page[0] = (char)i;
        if (pwrite(fd, page, sizeof(page), (off_t)(i % 64) * 4096) != (ssize_t)sizeof(page) ||
            fdatasync(fd) != 0)
            break;
        lat[i] = axl_bench_now() - t;
    }
    close(fd);
    unlink(path);
    return axl_bench_quantile(lat, 200, 0.5) * 1e3;
}

/*
 * Commits trial changes, `per` per commit, for about `seconds`; returns events per second
 * of time spent inside axl_store_batch_add + axl_store_commit (encoding the trial record
 * itself is the engine's work and is not counted). Change j moves trial j/3 through its
 * life: created (CANDIDATE), running, completed (with the metric).
 */
static double commit_rate(const char *dir, unsigned flags, int per, double seconds, int max_commits)
{
    static const axl_trial_status life[3] = {AXL_TRIAL_CANDIDATE, AXL_TRIAL_RUNNING,
                                             AXL_TRIAL_COMPLETED};
    axl_store_options opt = {flags, 0, 0, NULL};
    axl_store *s;
    axl_store_batch *b;
    axl_errbuf eb;
    msgpack_sbuffer sb;
    uint64_t change = 0;
    long events = 0, commits = 0;
    double in_store = 0, add_time = 0;

    msgpack_sbuffer_init(&sb);
    CHECK("open", axl_store_open(dir, &opt, &s, &eb));
    CHECK("batch", axl_store_batch_new(&b));
    size_t lat_cap = 1 << 16;
    double *lat = malloc(lat_cap * sizeof(double));
    if (lat == NULL)
        exit(1);
    double cpu0 = cpu_now(), cpu_body = 0;
    double t0 = axl_bench_now(), now = t0;
    while ((now - t0 < seconds || commits < 20) && commits < max_commits) {
        axl_store_batch_clear(b);
        for (int k = 0; k < per; k++, change++) {
            uint32_t trial = (uint32_t)(change / 3);
            axl_trial_status st = life[change % 3];
            double b0 = cpu_now();
            trial_body(&sb, trial, st, 1.8e9 + trial);
            cpu_body += cpu_now() - b0;
            double a0 = axl_bench_now();
            add(b, status_type[st], trial, AXL_REC_TRIAL, &sb, 1.8e9 + trial);
            add_time += axl_bench_now() - a0;
        }
        double c0 = axl_bench_now();
        CHECK("commit", axl_store_commit(s, b, NULL, &eb));
        events += per;
        now = axl_bench_now();
        in_store += now - c0;
        if ((size_t)commits < lat_cap)
            lat[commits] = now - c0;
        commits++;
    }
    in_store += add_time;
    double cpu = cpu_now() - cpu0 - cpu_body; /* the store's CPU, without the records */
    double rate = (double)events / in_store;
    size_t nl = (size_t)commits < lat_cap ? (size_t)commits : lat_cap;
    double p50 = axl_bench_quantile(lat, nl, 0.5), p99 = axl_bench_quantile(lat, nl, 0.99);
    fprintf(stderr,
            "  %d/commit %s: %ld commits, %ld events; %.2f s in the store (add %.1f us/event, "
            "CPU %.1f us/event); commit p50 %.3f ms, p99 %.3f ms\n",
            per,
            flags & AXL_STORE_NOSYNC       ? "nosync"
            : flags & AXL_STORE_NOPREALLOC ? "sync, no prealloc"
                                           : "sync",
            commits, events, in_store, add_time / (double)events * 1e6, cpu / (double)events * 1e6,
            p50 * 1e3, p99 * 1e3);
    free(lat);
    axl_store_batch_free(b);
    axl_store_close(s);
    msgpack_sbuffer_destroy(&sb);
    return rate;
}

/*
 * Lives of N_TRIALS trials as the engine writes them, PARALLEL in flight:
 *   commit 1: generation.finished (generator record) + trial.created (CANDIDATE)
 *   commit 2: trial.running       commit 3: trial.completed (with the metric)
 * = 4 events and 3 commits per trial, plus the experiment record once.
 */
static void build_seed_store(const char *dir)
{
    axl_store_options opt = {AXL_STORE_NOSYNC, 0, 0, NULL}; /* the layout does not depend on it */
    axl_store *s;
    axl_store_batch *b;
    axl_errbuf eb;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    CHECK("open", axl_store_open(dir, &opt, &s, &eb));
    CHECK("batch", axl_store_batch_new(&b));
    /* the experiment record: search space, objective, strategy, options (engine's map) */
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    axl_pack_kv_str(&pk, "name", EXP);
    axl_pack_kv_str(&pk, "objective", "pl_intensity");
    axl_pack_cstr(&pk, "parameters");
    msgpack_pack_array(&pk, 4);
    const char *names[] = {"antisolvent_volume", "antisolvent_rate", "antisolvent_timing",
                           "anneal_duration"};
    for (int k = 0; k < 4; k++) {
        msgpack_pack_map(&pk, 3);
        axl_pack_kv_str(&pk, "name", names[k]);
        axl_pack_kv_str(&pk, "type", "range");
        axl_pack_cstr(&pk, "bounds");
        msgpack_pack_array(&pk, 2);
        msgpack_pack_double(&pk, 0);
        msgpack_pack_double(&pk, 100);
    }
    axl_pack_kv_uint(&pk, "total_trials", N_TRIALS);
    add(b, "experiment.started", -1, AXL_REC_EXPERIMENT, &sb, 1.8e9);
    CHECK("commit", axl_store_commit(s, b, NULL, &eb));

    /* stage k of trial i happens at step i + k: PARALLEL trials overlap */
    for (uint32_t step = 0; step < N_TRIALS + PARALLEL; step++) {
        for (int k = 0; k < 3; k++) {
            int64_t i = (int64_t)step - (k == 0 ? 0 : k == 1 ? 1 : PARALLEL);
            if (i < 0 || i >= N_TRIALS)
                continue;
            double t = 1.8e9 + (double)i * 600;
            axl_store_batch_clear(b);
            if (k == 0) {
                generator_body(&sb, (uint32_t)i);
                add(b, "generation.finished", -1, AXL_REC_GENERATOR, &sb, t);
            }
            axl_trial_status st = k == 0   ? AXL_TRIAL_CANDIDATE
                                  : k == 1 ? AXL_TRIAL_RUNNING
                                           : AXL_TRIAL_COMPLETED;
            trial_body(&sb, (uint32_t)i, st, t);
            add(b, status_type[st], i, AXL_REC_TRIAL, &sb, t + k);
            CHECK("commit", axl_store_commit(s, b, NULL, &eb));
        }
        if (step % 20000 == 0)
            fprintf(stderr, "  building: %u trials\n", step);
    }
    axl_store_batch_free(b);
    axl_store_close(s);
    msgpack_sbuffer_destroy(&sb);
}

int main(int argc, char **argv)
{
    /* bench_storage [quick|seed]: only the commit rates, or only the seed store (tuning) */
    bool quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    bool seed_only = argc > 1 && strcmp(argv[1], "seed") == 0;
    const char *base = getenv("AXL_BENCH_DIR");
    if (base == NULL || !base[0])
        base = getenv("TMPDIR");
    if (base == NULL || !base[0])
        base = "/tmp";
    char root[512], dir[512];
    snprintf(root, sizeof(root), "%s/axl-bench-storage-%ld", base, (long)getpid());
    if (mkdir(root, 0755) != 0) {
        perror(root);
        return 1;
    }
    axl_errbuf eb;

    fprintf(stderr, "bench_storage: in %s\n", root);
    if (seed_only)
        goto seed;
    fresh_dir(dir, root, "probe");
    double fs = fdatasync_p50_ms(dir);
    fprintf(stderr, "  this disk: pwrite 4 KiB + fdatasync p50 %.3f ms\n", fs);
    axl_bench_row("storage.disk_fdatasync_p50_ms", fs, "ms");
    fresh_dir(dir, root, "sync1");
    axl_bench_row("storage.commit_sync_per_s", commit_rate(dir, 0, 1, 2.0, 1000000), "commits/s");
    fresh_dir(dir, root, "group64");
    axl_bench_row("storage.group64_sync_events_per_s", commit_rate(dir, 0, 64, 2.0, 1000000),
                  "events/s");
    fresh_dir(dir, root, "nosync");
    axl_bench_row("storage.nosync_events_per_s",
                  commit_rate(dir, AXL_STORE_NOSYNC, 1, 2.0, 1000000), "events/s");

    if (quick) {
        /* for the README: what preallocation buys, and the CPU floor of a group commit */
        fresh_dir(dir, root, "sync1noprealloc");
        commit_rate(dir, AXL_STORE_NOPREALLOC, 1, 1.0, 1000000);
        fresh_dir(dir, root, "group64noprealloc");
        commit_rate(dir, AXL_STORE_NOPREALLOC, 64, 1.0, 1000000);
        fresh_dir(dir, root, "group64nosync");
        commit_rate(dir, AXL_STORE_NOSYNC, 64, 1.0, 1000000);
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
    }
seed:;
    const char *nt = getenv("AXL_BENCH_TRIALS");
    if (nt != NULL && atoi(nt) > 0)
        N_TRIALS = (uint32_t)atoi(nt);
    fresh_dir(dir, root, "seed");
    double t0 = axl_bench_now();
    build_seed_store(dir);
    fprintf(stderr, "  built %u trials in %.1f s\n", N_TRIALS, axl_bench_now() - t0);

    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    axl_store *s;
    CHECK("open", axl_store_open(dir, &ro, &s, &eb));
    axl_store_info info;
    CHECK("info", axl_store_info_get(s, &info, &eb));

    /* replay: the whole log, best of 3 (warm page cache, as for a live subscriber) */
    double best = 1e30, best_dec = 1e30;
    uint64_t n = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (int decode = 0; decode < 2; decode++) {
            axl_store_iter *it;
            uint64_t seq, sum = 0;
            const void *d;
            size_t len;
            n = 0;
            double a = axl_bench_now();
            CHECK("iter", axl_store_iter_open(s, 1, 0, &it, &eb));
            while (axl_store_iter_next(it, &seq, &d, &len, &eb) == 0) {
                if (decode) {
                    axl_event ev;
                    CHECK("decode", axl_event_decode(d, len, &ev, &eb));
                    sum += ev.body_len;
                } else {
                    sum += ((const uint8_t *)d)[len - 1]; /* touch the bytes */
                }
                n++;
            }
            axl_store_iter_close(it);
            double dt = axl_bench_now() - a;
            if (decode)
                best_dec = dt < best_dec ? dt : best_dec;
            else
                best = dt < best ? dt : best;
            if (sum == 42)
                fprintf(stderr, " ");
        }
    }
    fprintf(stderr, "  replay: %llu events in %.3f s (decoding: %.3f s)\n", (unsigned long long)n,
            best, best_dec);
    axl_bench_row("storage.replay_events_per_s", (double)n / best, "events/s");
    axl_bench_row("storage.replay_decode_events_per_s", (double)n / best_dec, "events/s");

    double best_load = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        axl_store_experiment *x;
        double a = axl_bench_now();
        CHECK("load", axl_store_load(s, EXP, &x, &eb));
        double dt = axl_bench_now() - a;
        if (x->n_trials != N_TRIALS) {
            fprintf(stderr, "bench_storage: loaded %zu trials\n", x->n_trials);
            return 1;
        }
        axl_store_experiment_free(x);
        best_load = dt < best_load ? dt : best_load;
    }
    axl_bench_row("storage.load_100k_trials_s", best_load, "s");

    /* trials by status is a scan reading each record's status in place */
    uint32_t *idx;
    size_t n_idx;
    double a = axl_bench_now();
    CHECK("by status", axl_store_trials_by_status(s, EXP, AXL_STORE_STATUS_BIT(AXL_TRIAL_COMPLETED),
                                                  &idx, &n_idx, &eb));
    fprintf(stderr, "  trials by status: %zu of %u in %.1f ms\n", n_idx, N_TRIALS,
            (axl_bench_now() - a) * 1e3);
    free(idx);

    fprintf(stderr, "  seed store: %llu events, data.mdb %llu bytes\n",
            (unsigned long long)info.n_events, (unsigned long long)info.file_bytes);
    axl_bench_row("storage.bytes_per_trial", (double)info.file_bytes / (double)N_TRIALS, "bytes");
    axl_store_close(s);

    if (getenv("AXL_BENCH_KEEP") == NULL)
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    else
        fprintf(stderr, "  kept %s\n", root);
    return 0;
}
