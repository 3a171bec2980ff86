/* test_storage: the store's API — write path, reads, iterators, fold, growth, replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/store_int.h"
#include "test/storage/testlib.h"

typedef struct fixture {
    char dir[256];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || tl_mkdtemp(f->dir) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tl_rmtree(f->dir);
    free(f);
    return 0;
}

#define OK(expr)                                                                                   \
    do {                                                                                           \
        axl_errbuf eb_ = {{0}};                                                                    \
        int rv_ = (expr);                                                                          \
        if (rv_ != 0)                                                                              \
            fail_msg("%s -> %s: %s", #expr, axl_err_name(rv_), eb_.msg);                           \
    } while (0)
/* OK() declares eb_ for the expression to use: pass &eb_ as the error buffer. */
#define EB (&eb_)

static axl_store *open_w(const char *dir)
{
    axl_store *s = NULL;
    OK(axl_store_open(dir, NULL, &s, EB));
    return s;
}

static void commit(axl_store *s, axl_store_batch *b, uint64_t *first)
{
    OK(axl_store_commit(s, b, first, EB));
}

static void trial_ev(axl_store_batch *b, msgpack_sbuffer *sb, const char *exp, uint32_t idx,
                     axl_trial_status st)
{
    msgpack_sbuffer_clear(sb);
    assert_int_equal(tl_trial_body(sb, exp, idx, st, 1.7e9 + idx, st >= AXL_TRIAL_RUNNING), 0);
    tl_add(b, "trial.changed", exp, idx, AXL_REC_TRIAL, sb->data, sb->size);
}

static const uint8_t exp_body[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa3, 'e', 'x', 'p'};
static const uint8_t gen_body[] = {0x81, 0xa4, 's', 't', 'e', 'p', 0x07};

/* ---- open ---- */

static void test_open_new_and_reopen(void **state)
{
    fixture *f = *state;
    axl_store *s = NULL;
    axl_store_info info;
    char p[512];
    struct stat st;

    /* read-only and NOCREATE opens of an empty directory find nothing and create nothing */
    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    axl_store_options nc = {AXL_STORE_NOCREATE, 0, 0, NULL};
    axl_errbuf eb;
    assert_int_equal(axl_store_open(f->dir, &ro, &s, &eb), AXL_ENOENT);
    assert_null(s);
    assert_non_null(strstr(eb.msg, "no axle store"));
    assert_int_equal(axl_store_open(f->dir, &nc, &s, &eb), AXL_ENOENT);
    assert_int_not_equal(stat(tl_path(p, f->dir, "data.mdb"), &st), 0);
    assert_int_not_equal(stat(tl_path(p, f->dir, "lock.mdb"), &st), 0);

    s = open_w(f->dir);
    OK(axl_store_info_get(s, &info, EB));
    assert_int_equal(info.schema, AXL_STORE_SCHEMA);
    assert_int_equal(info.last_seq, 0);
    assert_int_equal(info.n_events, 0);
    assert_true(info.map_size >= AXL_STORE_DEFAULT_MAP_SIZE);
    assert_string_equal(info.dir, f->dir);
    axl_store_close(s);

    s = NULL;
    OK(axl_store_open(f->dir, &nc, &s, EB));
    axl_store_close(s);
    OK(axl_store_open(f->dir, &ro, &s, EB));
    uint64_t last = 99;
    OK(axl_store_last_seq(s, &last, EB));
    assert_int_equal(last, 0);
    axl_store_close(s);

    axl_store_options bad = {0x100, 0, 0, NULL};
    assert_int_equal(axl_store_open(f->dir, &bad, &s, NULL), AXL_EINVAL);
}

/* ---- the write path ---- */

static void test_commit_and_read_back(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *b;
    msgpack_sbuffer sb;
    uint64_t first = 0;

    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_store_batch_new(&b), 0);
    tl_add(b, "experiment.started", "exp", -1, AXL_REC_EXPERIMENT, exp_body, sizeof(exp_body));
    trial_ev(b, &sb, "exp", 0, AXL_TRIAL_CANDIDATE);
    tl_add(b, "task.started", "exp", 0, AXL_REC_NONE, NULL, 0);
    tl_add(b, "generation.finished", "exp", -1, AXL_REC_GENERATOR, gen_body, sizeof(gen_body));
    assert_int_equal(axl_store_batch_count(b), 4);

    const void *d;
    size_t n;
    assert_int_equal(axl_store_batch_event(b, 0, NULL, &d, &n), AXL_ESTATE);
    commit(s, b, &first);
    assert_int_equal(first, 1);

    /* The batch hands back exactly what the log holds, for publishing. */
    axl_store_iter *it;
    OK(axl_store_iter_open(s, 0, 0, &it, EB));
    for (size_t i = 0; i < 4; i++) {
        uint64_t seq, bseq;
        const void *ld;
        size_t ln;
        OK(axl_store_iter_next(it, &seq, &ld, &ln, EB));
        assert_int_equal(axl_store_batch_event(b, i, &bseq, &d, &n), 0);
        assert_int_equal(seq, i + 1);
        assert_int_equal(bseq, seq);
        assert_int_equal(ln, n);
        assert_memory_equal(ld, d, n);
        axl_event ev;
        OK(axl_event_decode(ld, ln, &ev, EB));
        assert_int_equal(ev.seq, seq);
    }
    uint64_t seq;
    assert_int_equal(axl_store_iter_next(it, &seq, &d, &n, NULL), AXL_ENOENT);
    axl_store_iter_close(it);
    assert_int_equal(axl_store_batch_event(b, 4, NULL, &d, &n), AXL_ERANGE);

    /* records = bodies */
    void *p;
    OK(axl_store_get_record(s, AXL_REC_EXPERIMENT, "exp", 0, &p, &n, EB));
    assert_int_equal(n, sizeof(exp_body));
    assert_memory_equal(p, exp_body, n);
    free(p);
    OK(axl_store_get_record(s, AXL_REC_GENERATOR, "exp", 0, &p, &n, EB));
    assert_memory_equal(p, gen_body, sizeof(gen_body));
    free(p);
    OK(axl_store_get_record(s, AXL_REC_TRIAL, "exp", 0, &p, &n, EB));
    msgpack_sbuffer_clear(&sb);
    tl_trial_body(&sb, "exp", 0, AXL_TRIAL_CANDIDATE, 1.7e9, 0);
    assert_int_equal(n, sb.size);
    assert_memory_equal(p, sb.data, n);
    free(p);
    assert_int_equal(axl_store_get_record(s, AXL_REC_LABWARE, "exp", 0, &p, &n, NULL), AXL_ENOENT);
    assert_int_equal(axl_store_get_record(s, AXL_REC_TRIAL, "exp", 1, &p, &n, NULL), AXL_ENOENT);
    assert_int_equal(axl_store_get_record(s, AXL_REC_NONE, "exp", 0, &p, &n, NULL), AXL_EINVAL);

    /* a committed batch must be cleared before reuse; an empty batch commits nothing */
    assert_int_equal(axl_store_commit(s, b, NULL, NULL), AXL_ESTATE);
    assert_int_equal(axl_store_batch_add(b, &(axl_event){.type = "x", .type_len = 1}, NULL),
                     AXL_ESTATE);
    axl_store_batch_clear(b);
    commit(s, b, &first);
    assert_int_equal(first, 5);
    OK(axl_store_last_seq(s, &seq, EB));
    assert_int_equal(seq, 4);

    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
    axl_store_close(s);
}

static void test_seq_dense_across_restarts(void **state)
{
    fixture *f = *state;
    axl_store_batch *b;
    uint64_t first, expect = 1;

    assert_int_equal(axl_store_batch_new(&b), 0);
    for (int round = 0; round < 4; round++) {
        axl_store *s = open_w(f->dir);
        for (int k = 0; k < 3; k++) {
            axl_store_batch_clear(b);
            for (int i = 0; i <= k; i++)
                tl_add(b, "task.started", "exp", -1, AXL_REC_NONE, NULL, 0);
            commit(s, b, &first);
            assert_int_equal(first, expect);
            expect += (uint64_t)k + 1;
        }
        axl_store_close(s);
    }
    axl_store *s = open_w(f->dir);
    axl_store_iter *it;
    uint64_t seq, want = 1;
    const void *d;
    size_t n;
    OK(axl_store_iter_open(s, 0, 0, &it, EB));
    while (axl_store_iter_next(it, &seq, &d, &n, NULL) == 0)
        assert_int_equal(seq, want++);
    axl_store_iter_close(it);
    assert_int_equal(want, expect);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_info info;
    OK(axl_store_info_get(s, &info, EB));
    assert_int_equal(info.last_seq, expect - 1);
    assert_int_equal(info.n_events, expect - 1);
    axl_store_close(s);
    axl_store_batch_free(b);
}

/*
 * White box: commit splices each event's seq into its encoding instead of encoding it
 * again. The result must be byte for byte what axl_event_encode makes, whatever the
 * width of the seq (msgpack packs 1, 2, 3, 5 or 9 bytes).
 */
static void test_seq_splice_matches_encoder(void **state)
{
    (void)state;
    axl_store_batch *b;
    msgpack_sbuffer sb, want;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&want);
    assert_int_equal(axl_store_batch_new(&b), 0);
    trial_ev(b, &sb, "exp", 7, AXL_TRIAL_RUNNING);
    tl_add(b, "task.started", "exp", -1, AXL_REC_NONE, NULL, 0);
    tl_add(b, "labware.changed", "exp", 3, AXL_REC_LABWARE, gen_body, sizeof(gen_body));
    const uint64_t firsts[] = {1,     126,   127,           254,           255,
                               65534, 65535, 4294967294ull, 4294967295ull, UINT64_MAX - 3};
    for (size_t f = 0; f < sizeof(firsts) / sizeof(firsts[0]); f++) {
        OK(axl_store__batch_encode(b, firsts[f], EB));
        for (size_t i = 0; i < b->n; i++) {
            const store_item *it = &b->items[i];
            const char *got = b->enc.data + it->enc_off;
            axl_event ev;
            OK(axl_event_decode(got, it->enc_len, &ev, EB));
            assert_true(ev.seq == firsts[f] + i);
            msgpack_sbuffer_clear(&want);
            OK(axl_event_encode(&ev, &want, EB));
            assert_int_equal(want.size, it->enc_len);
            assert_memory_equal(want.data, got, want.size);
            /* and the record bytes the store writes are the event's body */
            assert_int_equal(it->body_len, ev.body_len);
            assert_memory_equal(got + it->body_off - it->shift, ev.body, ev.body_len);
            assert_int_equal(it->exp_len, ev.experiment_len);
            assert_memory_equal(got + it->exp_off - it->shift, ev.experiment, ev.experiment_len);
        }
    }
    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&want);
}

/* A batch built before another one commits still gets the right seqs. */
static void test_batches_interleaved(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *a, *b;
    uint64_t first;

    assert_int_equal(axl_store_batch_new(&a), 0);
    assert_int_equal(axl_store_batch_new(&b), 0);
    tl_add(a, "task.a", "exp", -1, AXL_REC_NONE, NULL, 0);
    tl_add(b, "task.b", "exp", -1, AXL_REC_NONE, NULL, 0);
    tl_add(b, "task.b", "exp", -1, AXL_REC_NONE, NULL, 0);
    commit(s, b, &first);
    assert_int_equal(first, 1);
    commit(s, a, &first);
    assert_int_equal(first, 3);
    const void *d;
    size_t n;
    axl_event ev;
    assert_int_equal(axl_store_batch_event(a, 0, NULL, &d, &n), 0);
    OK(axl_event_decode(d, n, &ev, EB));
    assert_int_equal(ev.seq, 3);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_batch_free(a);
    axl_store_batch_free(b);
    axl_store_close(s);
}

static void test_batch_validation(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *b;
    msgpack_sbuffer sb;
    axl_errbuf eb;

    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_store_batch_new(&b), 0);
    tl_add(b, "task.started", "exp", -1, AXL_REC_NONE, NULL, 0);

    /* a trial record whose index differs from the event's */
    tl_trial_body(&sb, "exp", 3, AXL_TRIAL_CANDIDATE, 1.7e9, 0);
    axl_event ev = {.type = "trial.created",
                    .type_len = 13,
                    .experiment = "exp",
                    .experiment_len = 3,
                    .trial = 4,
                    .rec = AXL_REC_TRIAL,
                    .body = sb.data,
                    .body_len = sb.size};
    assert_int_equal(axl_store_batch_add(b, &ev, &eb), AXL_EINVAL);
    assert_non_null(strstr(eb.msg, "not a trial record"));
    /* ... or whose experiment differs */
    ev.trial = 3;
    ev.experiment = "exp2";
    ev.experiment_len = 4;
    assert_int_equal(axl_store_batch_add(b, &ev, &eb), AXL_EINVAL);
    /* a trial event whose body is not a trial record */
    ev.experiment = "exp";
    ev.experiment_len = 3;
    ev.body = gen_body;
    ev.body_len = sizeof(gen_body);
    assert_true(axl_store_batch_add(b, &ev, &eb) < 0);
    /* a record without a usable name */
    axl_event ev2 = {.type = "labware.changed",
                     .type_len = 15,
                     .experiment = "",
                     .experiment_len = 0,
                     .trial = -1,
                     .rec = AXL_REC_LABWARE};
    assert_int_equal(axl_store_batch_add(b, &ev2, &eb), AXL_EINVAL);
    ev2.experiment = "a\0b";
    ev2.experiment_len = 3;
    assert_int_equal(axl_store_batch_add(b, &ev2, &eb), AXL_EINVAL);
    /* a body that is not a map, a bad type, a bad time */
    static const uint8_t not_map[] = {0x93, 1, 2, 3};
    axl_event ev3 = {.type = "task.x",
                     .type_len = 6,
                     .experiment = "exp",
                     .experiment_len = 3,
                     .trial = -1,
                     .body = not_map,
                     .body_len = sizeof(not_map)};
    assert_int_equal(axl_store_batch_add(b, &ev3, &eb), AXL_EINVAL);
    ev3.body = NULL;
    ev3.body_len = 0;
    ev3.type = "Task X";
    ev3.type_len = 6;
    assert_int_equal(axl_store_batch_add(b, &ev3, &eb), AXL_EINVAL);
    ev3.type = "task.x";
    ev3.time = -5;
    assert_int_equal(axl_store_batch_add(b, &ev3, &eb), AXL_EINVAL);
    ev3.time = 0;
    ev3.trial = (int64_t)UINT32_MAX + 1;
    assert_int_equal(axl_store_batch_add(b, &ev3, &eb), AXL_ERANGE);

    /* none of that reached the batch */
    assert_int_equal(axl_store_batch_count(b), 1);
    uint64_t first;
    commit(s, b, &first);
    uint64_t last;
    OK(axl_store_last_seq(s, &last, EB));
    assert_int_equal(last, 1);
    OK(axl_store_verify_fold(s, NULL, EB));

    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
    axl_store_close(s);
}

/* ---- reads ---- */

static void test_load_and_status(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *b;
    msgpack_sbuffer sb;

    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_store_batch_new(&b), 0);
    /* names that prefix each other must not leak into each other's queries */
    const char *names[] = {"exp", "exp2", "ex"};
    for (int e = 0; e < 3; e++) {
        tl_add(b, "experiment.started", names[e], -1, AXL_REC_EXPERIMENT, exp_body,
               sizeof(exp_body));
        for (uint32_t i = 0; i < (uint32_t)(10 + e); i++)
            trial_ev(b, &sb, names[e], i, AXL_TRIAL_CANDIDATE);
    }
    tl_add(b, "generation.finished", "exp", -1, AXL_REC_GENERATOR, gen_body, sizeof(gen_body));
    commit(s, b, NULL);
    axl_store_batch_clear(b);
    /* trial i of exp: i%4==1 running, i%4==2 completed, i%4==3 running then failed */
    for (uint32_t i = 0; i < 10; i++) {
        if (i % 4 == 0)
            continue;
        trial_ev(b, &sb, "exp", i, AXL_TRIAL_RUNNING);
        if (i % 4 == 2)
            trial_ev(b, &sb, "exp", i, AXL_TRIAL_COMPLETED);
        if (i % 4 == 3)
            trial_ev(b, &sb, "exp", i, AXL_TRIAL_FAILED);
    }
    /* trial 5 of exp2 runs */
    trial_ev(b, &sb, "exp2", 5, AXL_TRIAL_RUNNING);
    commit(s, b, NULL);

    uint32_t *idx;
    size_t n;
    OK(axl_store_trials_by_status(s, "exp", AXL_STORE_STATUS_BIT(AXL_TRIAL_RUNNING), &idx, &n, EB));
    assert_int_equal(n, 3);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 5);
    assert_int_equal(idx[2], 9);
    free(idx);
    OK(axl_store_trials_by_status(s, "exp",
                                  AXL_STORE_STATUS_BIT(AXL_TRIAL_CANDIDATE) |
                                      AXL_STORE_STATUS_BIT(AXL_TRIAL_FAILED),
                                  &idx, &n, EB));
    uint32_t want[] = {0, 3, 4, 7, 8};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(idx[i], want[i]);
    free(idx);
    OK(axl_store_trials_by_status(s, "exp2", AXL_STORE_STATUS_BIT(AXL_TRIAL_RUNNING), &idx, &n,
                                  EB));
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 5);
    free(idx);
    OK(axl_store_trials_by_status(s, "nope", ~0u, &idx, &n, EB));
    assert_int_equal(n, 0);
    assert_null(idx);

    axl_store_experiment *x;
    OK(axl_store_load(s, "exp", &x, EB));
    assert_string_equal(x->name, "exp");
    assert_int_equal(x->n_trials, 10);
    assert_int_equal(x->experiment_len, sizeof(exp_body));
    assert_memory_equal(x->experiment, exp_body, sizeof(exp_body));
    assert_int_equal(x->generator_len, sizeof(gen_body));
    assert_null(x->labware);
    uint64_t last;
    OK(axl_store_last_seq(s, &last, EB));
    assert_int_equal(x->last_seq, last);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(x->trials[i].index, i);
        assert_string_equal(x->trials[i].experiment, "exp");
        axl_trial_status st = i % 4 == 0   ? AXL_TRIAL_CANDIDATE
                              : i % 4 == 2 ? AXL_TRIAL_COMPLETED
                              : i % 4 == 3 ? AXL_TRIAL_FAILED
                                           : AXL_TRIAL_RUNNING;
        assert_int_equal(x->trials[i].status, st);
        assert_int_equal(x->trials[i].n_params, 4);
    }
    axl_store_experiment_free(x);
    OK(axl_store_load(s, "ex", &x, EB));
    assert_int_equal(x->n_trials, 12);
    assert_null(x->generator);
    axl_store_experiment_free(x);
    axl_errbuf eb;
    assert_int_equal(axl_store_load(s, "exp3", &x, &eb), AXL_ENOENT);
    assert_null(x);
    assert_non_null(strstr(eb.msg, "exp3"));
    assert_int_equal(axl_store_load(s, "", &x, NULL), AXL_EINVAL);

    char **names_out;
    OK(axl_store_experiments(s, &names_out, &n, EB));
    assert_int_equal(n, 3);
    assert_string_equal(names_out[0], "ex");
    assert_string_equal(names_out[1], "exp");
    assert_string_equal(names_out[2], "exp2");
    free(names_out);

    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
    axl_store_close(s);
}

typedef struct scan_ud {
    uint32_t seen;
    uint32_t stop_at;
} scan_ud;

static int scan_cb(void *ud, uint32_t index, const void *data, size_t len)
{
    scan_ud *u = ud;
    axl_trial_rec t;
    if (axl_trial_rec_decode(data, len, &t, NULL) != 0 || t.index != index)
        return -100;
    axl_trial_rec_free(&t);
    if (index != u->seen)
        return -101;
    u->seen++;
    return index == u->stop_at ? 42 : 0;
}

static void test_scan_trials(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *b;
    msgpack_sbuffer sb;

    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_store_batch_new(&b), 0);
    for (uint32_t i = 0; i < 300; i++)
        trial_ev(b, &sb, "exp", i, AXL_TRIAL_CANDIDATE);
    trial_ev(b, &sb, "exp2", 0, AXL_TRIAL_CANDIDATE);
    commit(s, b, NULL);
    scan_ud u = {0, UINT32_MAX};
    OK(axl_store_scan_trials(s, "exp", scan_cb, &u, EB));
    assert_int_equal(u.seen, 300); /* in index order (256 after 255: big-endian keys) */
    u = (scan_ud){0, 10};
    assert_int_equal(axl_store_scan_trials(s, "exp", scan_cb, &u, NULL), 42);
    assert_int_equal(u.seen, 11);
    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
    axl_store_close(s);
}

static void test_iterator_ranges(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *b;
    axl_store_iter *it;
    uint64_t seq;
    const void *d;
    size_t n;

    /* empty log */
    OK(axl_store_iter_open(s, 0, 0, &it, EB));
    assert_int_equal(axl_store_iter_next(it, &seq, &d, &n, NULL), AXL_ENOENT);
    axl_store_iter_close(it);

    assert_int_equal(axl_store_batch_new(&b), 0);
    for (int i = 0; i < 50; i++)
        tl_add(b, "task.started", "exp", i, AXL_REC_NONE, NULL, 0);
    commit(s, b, NULL);

    struct {
        uint64_t from, to, first, last;
    } cases[] = {
        {0, 0, 1, 50},      {10, 20, 10, 20}, {50, 0, 50, 50}, {51, 0, 0, 0},
        {45, 1000, 45, 50}, {20, 10, 0, 0},   {7, 7, 7, 7},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        OK(axl_store_iter_open(s, cases[c].from, cases[c].to, &it, EB));
        uint64_t expect = cases[c].first, count = 0;
        while (axl_store_iter_next(it, &seq, &d, &n, NULL) == 0) {
            assert_int_equal(seq, expect);
            expect++;
            count++;
        }
        assert_int_equal(count, cases[c].first ? cases[c].last - cases[c].first + 1 : 0);
        axl_store_iter_close(it);
    }

    /* an iterator is a snapshot: later commits are not in it */
    OK(axl_store_iter_open(s, 49, 0, &it, EB));
    axl_store_batch_clear(b);
    tl_add(b, "task.started", "exp", -1, AXL_REC_NONE, NULL, 0);
    commit(s, b, NULL);
    int count = 0;
    while (axl_store_iter_next(it, &seq, &d, &n, NULL) == 0)
        count++;
    assert_int_equal(count, 2);
    axl_store_iter_close(it);

    axl_store_batch_free(b);
    axl_store_close(s);
}

/* ---- fold ---- */

static void compare_stores(axl_store *a, axl_store *b, const tl_model *m)
{
    for (int i = 0; i < TL_MAX_EXPS; i++) {
        const tl_exp *e = &m->exps[i];
        for (axl_rec_kind k = AXL_REC_TRIAL; k < AXL_REC_COUNT; k++) {
            uint32_t n = k == AXL_REC_TRIAL ? e->n : 1;
            for (uint32_t t = 0; t < n; t++) {
                void *pa = NULL, *pb = NULL;
                size_t na = 0, nb = 0;
                int ra = axl_store_get_record(a, k, e->name, t, &pa, &na, NULL);
                int rb = axl_store_get_record(b, k, e->name, t, &pb, &nb, NULL);
                assert_int_equal(ra, rb);
                assert_int_equal(na, nb);
                if (ra == 0)
                    assert_memory_equal(pa, pb, na);
                free(pa);
                free(pb);
            }
        }
    }
}

static void test_fold_long_random(void **state)
{
    fixture *f = *state;
    axl_store_options opt = {AXL_STORE_NOSYNC, 0, 0,
                             NULL}; /* speed; durability is not tested here */
    axl_store *s = NULL;
    axl_store_batch *b;
    tl_model m;
    uint64_t rng = 20261128;
    size_t events = 0;

    assert_int_equal(tl_model_init(&m, 42, true, NULL), 0);
    assert_int_equal(axl_store_batch_new(&b), 0);
    OK(axl_store_open(f->dir, &opt, &s, EB));
    for (int i = 0; i < 3000; i++) {
        if (i == 1500) { /* a restart in the middle */
            axl_store_close(s);
            OK(axl_store_open(f->dir, &opt, &s, EB));
        }
        axl_store_batch_clear(b);
        events += tl_model_batch(&m, b, 1 + (int)tl_below(&rng, 16));
        commit(s, b, NULL);
    }
    axl_store_fold_report rep;
    OK(axl_store_verify_fold(s, &rep, EB));
    assert_int_equal(rep.events, events);
    assert_int_equal(rep.mismatches, 0);
    assert_true(rep.rec_events > events / 2);
    assert_true(rep.records > 1000);
    /* independently of the fold: the store holds what the model wrote last */
    assert_int_equal(tl_model_check(&m, s), 0);
    assert_int_equal(tl_check_batches(s), 3000);

    /* rebuilding from the log alone gives the same records, byte for byte */
    char dst[256];
    assert_int_equal(tl_mkdtemp(dst), 0);
    OK(axl_store_rebuild(s, dst, EB));
    axl_store *r = NULL;
    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    OK(axl_store_open(dst, &ro, &r, EB));
    axl_store_fold_report rep2;
    OK(axl_store_verify_fold(r, &rep2, EB));
    assert_int_equal(rep2.events, rep.events);
    assert_int_equal(rep2.records, rep.records);
    assert_int_equal(tl_model_check(&m, r), 0);
    compare_stores(s, r, &m);
    axl_store_close(r);
    axl_errbuf eb;
    assert_int_equal(axl_store_rebuild(s, dst, &eb), AXL_EEXIST);
    tl_rmtree(dst);

    axl_store_close(s);
    axl_store_batch_free(b);
    tl_model_free(&m);
}

/*
 * Raw LMDB surgery on a closed store, to prove that verify_fold can fail. sealed: the
 * value gets a valid checksum, computed here from the format storage/README.md documents
 * (payload, then big-endian XXH3_64bits_withSeed(payload, XXH3_64bits(key))), so that only
 * the fold can notice; unsealed: stored as given, which every read must refuse.
 */
static void tamper_as(const char *dir, const char *db, const void *key, size_t klen,
                      const void *val, size_t vlen, bool sealed)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t buf[4096];
    assert_true(vlen + 8 <= sizeof(buf));
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    if (val != NULL && sealed) {
        uint64_t h = XXH3_64bits_withSeed(val, vlen, XXH3_64bits(key, klen));
        memcpy(buf, val, vlen);
        for (int i = 7; i >= 0; i--, h >>= 8)
            buf[vlen + (size_t)i] = (uint8_t)h;
        v = (MDB_val){vlen + 8, buf};
    }
    if (val != NULL)
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    else
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void tamper(const char *dir, const char *db, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    tamper_as(dir, db, key, klen, val, vlen, true);
}

static void expect_fold_error(const char *dir, const char *needle)
{
    axl_store *s = NULL;
    axl_errbuf eb = {{0}};
    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    OK(axl_store_open(dir, &ro, &s, EB));
    assert_int_equal(axl_store_verify_fold(s, NULL, &eb), AXL_ECORRUPT);
    if (strstr(eb.msg, needle) == NULL)
        fail_msg("verify_fold said '%s', expected '%s'", eb.msg, needle);
    axl_store_close(s);
}

static void test_fold_detects_damage(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *b;
    msgpack_sbuffer sb;
    char copy[256];

    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_store_batch_new(&b), 0);
    tl_add(b, "experiment.started", "exp", -1, AXL_REC_EXPERIMENT, exp_body, sizeof(exp_body));
    for (uint32_t i = 0; i < 5; i++)
        trial_ev(b, &sb, "exp", i, AXL_TRIAL_CANDIDATE);
    trial_ev(b, &sb, "exp", 2, AXL_TRIAL_RUNNING);
    tl_add(b, "task.started", "exp", 2, AXL_REC_NONE, NULL, 0);
    commit(s, b, NULL);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_close(s);
    assert_int_equal(tl_mkdtemp(copy), 0);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp %s/data.mdb %s/data.mdb.orig", f->dir, copy);
    assert_int_equal(system(cmd), 0);
#define RESTORE()                                                                                  \
    do {                                                                                           \
        snprintf(cmd, sizeof(cmd), "cp %s/data.mdb.orig %s/data.mdb", copy, f->dir);               \
        assert_int_equal(system(cmd), 0);                                                          \
    } while (0)

    /* a record changed behind the log's back */
    uint8_t key[16] = {'e', 'x', 'p', 0, 0, 0, 0, 2};
    msgpack_sbuffer_clear(&sb);
    tl_trial_body(&sb, "exp", 2, AXL_TRIAL_RUNNING, 1.7e9 + 3, 1);
    tamper(f->dir, "trials", key, 8, sb.data, sb.size);
    expect_fold_error(f->dir, "trial 2: differs");
    RESTORE();
    /* a record no event wrote */
    key[7] = 9;
    tamper(f->dir, "trials", key, 8, sb.data, sb.size);
    expect_fold_error(f->dir, "trial 9: a record that no event wrote");
    RESTORE();
    /* a record lost */
    key[7] = 4;
    tamper(f->dir, "trials", key, 8, NULL, 0);
    expect_fold_error(f->dir, "the log has it");
    RESTORE();
    /* a hole in the log */
    uint8_t sk[8] = {0, 0, 0, 0, 0, 0, 0, 3};
    tamper(f->dir, "events", sk, 8, NULL, 0);
    expect_fold_error(f->dir, "gap");
    RESTORE();
    /* an event that does not decode */
    tamper(f->dir, "events", sk, 8, "\xc1", 1);
    expect_fold_error(f->dir, "does not decode");
    RESTORE();
    /* a record of another kind changed */
    tamper(f->dir, "experiments", "exp", 3, gen_body, sizeof(gen_body));
    expect_fold_error(f->dir, "experiments record of 'exp': differs");
    RESTORE();
    /* the original is intact */
    s = open_w(f->dir);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_close(s);

    tl_rmtree(copy);
    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
}

static void expect_read_error(axl_store *s, const char *needle, int got, const axl_errbuf *eb)
{
    (void)s;
    assert_int_equal(got, AXL_ECORRUPT);
    if (strstr(eb->msg, needle) == NULL)
        fail_msg("read said '%s', expected '%s'", eb->msg, needle);
}

/* A value whose bytes changed is refused by every read that meets it, naming where. */
static void test_checksums_every_read(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *b;
    msgpack_sbuffer sb;
    axl_errbuf eb = {{0}};

    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_store_batch_new(&b), 0);
    tl_add(b, "experiment.started", "exp", -1, AXL_REC_EXPERIMENT, exp_body, sizeof(exp_body));
    for (uint32_t i = 0; i < 4; i++)
        trial_ev(b, &sb, "exp", i, AXL_TRIAL_CANDIDATE);
    commit(s, b, NULL);
    axl_store_close(s);

    /* trial 2's record rewritten without a valid seal (one byte changed, as by a flip) */
    uint8_t key[16] = {'e', 'x', 'p', 0, 0, 0, 0, 2};
    msgpack_sbuffer_clear(&sb);
    tl_trial_body(&sb, "exp", 2, AXL_TRIAL_CANDIDATE, 1.7e9 + 3, 1);
    tamper_as(f->dir, "trials", key, 8, sb.data, sb.size, false);
    /* event 3 likewise */
    uint8_t sk[8] = {0, 0, 0, 0, 0, 0, 0, 3};
    tamper_as(f->dir, "events", sk, 8, "\x80\x80\x80\x80\x80\x80\x80\x80\x80", 9, false);

    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    OK(axl_store_open(f->dir, &ro, &s, EB));
    void *data;
    size_t len;
    expect_read_error(s, "trials record of 'exp' trial 2: checksum mismatch",
                      axl_store_get_record(s, AXL_REC_TRIAL, "exp", 2, &data, &len, &eb), &eb);
    OK(axl_store_get_record(s, AXL_REC_TRIAL, "exp", 1, &data, &len, EB));
    free(data);
    axl_store_experiment *x = NULL;
    expect_read_error(s, "trial 2: checksum", axl_store_load(s, "exp", &x, &eb), &eb);
    assert_null(x);
    uint32_t *idx = NULL;
    size_t n = 0;
    expect_read_error(s, "trial 2: checksum",
                      axl_store_trials_by_status(s, "exp", ~0u, &idx, &n, &eb), &eb);
    assert_null(idx);
    expect_read_error(s, "event seq 3: checksum", axl_store_verify_fold(s, NULL, &eb), &eb);
    axl_store_iter *it;
    OK(axl_store_iter_open(s, 1, 0, &it, EB));
    uint64_t seq;
    const void *d;
    OK(axl_store_iter_next(it, &seq, &d, &len, EB));
    OK(axl_store_iter_next(it, &seq, &d, &len, EB));
    assert_int_equal(seq, 2);
    expect_read_error(s, "event seq 3: checksum mismatch",
                      axl_store_iter_next(it, &seq, &d, &len, &eb), &eb);
    axl_store_iter_close(it);
    axl_store_close(s);

    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
}

/* Strips every seal and sets schema 1: the store as the previous axle wrote it. */
static void make_v1(const char *dir)
{
    static const char *const dbs[] = {"events", "experiments", "trials", "generators", "labware"};
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    for (size_t d = 0; d < 5; d++) {
        MDB_cursor *cur;
        MDB_val k, v;
        assert_int_equal(mdb_dbi_open(txn, dbs[d], 0, &dbi), 0);
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint8_t kb[600], vb[4096];
            assert_true(k.mv_size <= sizeof(kb) && v.mv_size <= sizeof(vb) && v.mv_size > 8);
            memcpy(kb, k.mv_data, k.mv_size);
            memcpy(vb, v.mv_data, v.mv_size - 8);
            MDB_val nk = {k.mv_size, kb}, nv = {v.mv_size - 8, vb};
            assert_int_equal(mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT), 0);
        }
        mdb_cursor_close(cur);
    }
    uint8_t one[4] = {0, 0, 0, 1};
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {6, "schema"}, v = {4, one};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A schema 1 store: refused read-only with a clear message, upgraded by a writer open. */
static void test_upgrade_schema1(void **state)
{
    fixture *f = *state;
    axl_store *s = open_w(f->dir);
    axl_store_batch *b;
    msgpack_sbuffer sb;
    axl_errbuf eb = {{0}};
    tl_model m;

    assert_int_equal(tl_model_init(&m, 11, true, NULL), 0);
    msgpack_sbuffer_init(&sb);
    assert_int_equal(axl_store_batch_new(&b), 0);
    for (int i = 0; i < 40; i++) {
        axl_store_batch_clear(b);
        tl_model_batch(&m, b, 8);
        commit(s, b, NULL);
    }
    axl_store_close(s);
    make_v1(f->dir);

    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    assert_int_equal(axl_store_open(f->dir, &ro, &s, &eb), AXL_EVERSION);
    assert_non_null(strstr(eb.msg, "schema 1 predates checksums"));
    assert_non_null(strstr(eb.msg, "axle verify --upgrade"));

    s = open_w(f->dir); /* upgrades */
    axl_store_info info;
    OK(axl_store_info_get(s, &info, EB));
    assert_int_equal(info.schema, AXL_STORE_SCHEMA);
    OK(axl_store_verify_fold(s, NULL, EB));
    assert_int_equal(tl_model_check(&m, s), 0);
    axl_store_close(s);
    OK(axl_store_open(f->dir, &ro, &s, EB));
    assert_int_equal(tl_model_check(&m, s), 0);
    assert_true(tl_check_batches(s) == 40);
    axl_store_close(s);

    /* a schema 1 store whose fold fails is not blessed with checksums */
    make_v1(f->dir);
    tamper_as(f->dir, "experiments", "exp", 3, gen_body, sizeof(gen_body), false);
    assert_int_equal(axl_store_open(f->dir, NULL, &s, &eb), AXL_ECORRUPT);
    assert_non_null(strstr(eb.msg, "not upgraded"));
    assert_non_null(strstr(eb.msg, "experiments record of 'exp'"));

    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
    tl_model_free(&m);
}

/* ---- map growth ---- */

static void test_map_grows(void **state)
{
    fixture *f = *state;
    axl_store_options opt = {AXL_STORE_NOSYNC, 64 << 10, 0, NULL}; /* a 64 KiB map to start */
    axl_store *s = NULL;
    axl_store_batch *b;
    msgpack_sbuffer sb;

    msgpack_sbuffer_init(&sb);
    OK(axl_store_open(f->dir, &opt, &s, EB));
    assert_int_equal(axl_store_batch_new(&b), 0);
    axl_store_info info;
    OK(axl_store_info_get(s, &info, EB));
    size_t start = info.map_size;
    for (uint32_t i = 0; i < 2000; i++) {
        axl_store_batch_clear(b);
        trial_ev(b, &sb, "exp", i, AXL_TRIAL_CANDIDATE);
        trial_ev(b, &sb, "exp", i, AXL_TRIAL_RUNNING);
        commit(s, b, NULL);
    }
    OK(axl_store_info_get(s, &info, EB));
    assert_true(info.map_grows >= 3);
    assert_true(info.map_size >= start * 8);
    assert_int_equal(info.last_seq, 4000);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_close(s);
    /* reopening keeps the grown size */
    s = open_w(f->dir);
    axl_store_info info2;
    OK(axl_store_info_get(s, &info2, EB));
    assert_true(info2.map_size >= info.map_size);
    axl_store_close(s);
    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
}

/* A read iterator open on another thread delays a resize; the resize then proceeds. */
#include <pthread.h>
typedef struct hold_ctx {
    axl_store *s;
    int ms;
} hold_ctx;

static void *hold_iter(void *arg)
{
    hold_ctx *h = arg;
    axl_store_iter *it;
    if (axl_store_iter_open(h->s, 1, 0, &it, NULL) != 0)
        return (void *)1;
    usleep((useconds_t)h->ms * 1000);
    axl_store_iter_close(it);
    return NULL;
}

static void test_map_grows_with_reader_thread(void **state)
{
    fixture *f = *state;
    axl_store_options opt = {AXL_STORE_NOSYNC, 64 << 10, 0, NULL};
    axl_store *s = NULL;
    axl_store_batch *b;
    msgpack_sbuffer sb;
    pthread_t th;

    msgpack_sbuffer_init(&sb);
    OK(axl_store_open(f->dir, &opt, &s, EB));
    assert_int_equal(axl_store_batch_new(&b), 0);
    hold_ctx h = {s, 200};
    assert_int_equal(pthread_create(&th, NULL, hold_iter, &h), 0);
    usleep(20000);
    for (uint32_t i = 0; i < 300; i++) {
        axl_store_batch_clear(b);
        trial_ev(b, &sb, "exp", i, AXL_TRIAL_CANDIDATE);
        commit(s, b, NULL);
    }
    void *ret;
    pthread_join(th, &ret);
    assert_null(ret);
    axl_store_info info;
    OK(axl_store_info_get(s, &info, EB));
    assert_true(info.map_grows >= 1);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_close(s);
    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- another process reads while this one writes ---- */

static void test_replay_from_other_process(void **state)
{
    fixture *f = *state;
    axl_store_options opt = {AXL_STORE_NOSYNC, 64 << 10, 0, NULL}; /* small: it grows meanwhile */
    axl_store *s = NULL;
    axl_store_batch *b;
    tl_model m;
    uint64_t rng = 7;
    int pfd[2];

    OK(axl_store_open(f->dir, &opt, &s, EB));
    assert_int_equal(axl_store_batch_new(&b), 0);
    assert_int_equal(tl_model_init(&m, 99, false, NULL), 0);
    /* some history before the reader starts */
    for (int i = 0; i < 50; i++) {
        axl_store_batch_clear(b);
        tl_model_batch(&m, b, 1 + (int)tl_below(&rng, 8));
        commit(s, b, NULL);
    }
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        if (dup2(pfd[1], 1) < 0)
            _exit(120);
        execl(STORAGE_CHILD, STORAGE_CHILD, "follow", f->dir, "1200", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    /* wait until the reader has caught up with the history, so that it must follow */
    char out[256] = {0};
    size_t got = 0;
    while (strchr(out, '\n') == NULL && got + 1 < sizeof(out)) {
        ssize_t r = read(pfd[0], out + got, sizeof(out) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (strncmp(out, "ready ", 6) != 0)
        fail_msg("reader child did not start: %s", out);
    /* append 1150 more batches while the reader follows, then wait for it */
    for (int i = 0; i < 1150; i++) {
        axl_store_batch_clear(b);
        tl_model_batch(&m, b, 1 + (int)tl_below(&rng, 8));
        commit(s, b, NULL);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    memset(out, 0, sizeof(out));
    ssize_t n = read(pfd[0], out, sizeof(out) - 1);
    close(pfd[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("reader child failed (status 0x%x): %s", status, n > 0 ? out : "");
    axl_store_info info;
    OK(axl_store_info_get(s, &info, EB));
    assert_true(info.map_grows >= 1);
    /* the child reports how many events it saw and that it saw the log grow */
    unsigned long long seen = 0, rounds = 0;
    assert_int_equal(sscanf(out, "seen %llu rounds %llu", &seen, &rounds), 2);
    assert_true(seen >= 1200);
    assert_true(rounds >= 2);
    axl_store_close(s);
    axl_store_batch_free(b);
    tl_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_new_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_dense_across_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_interleaved, setup, teardown),
        cmocka_unit_test(test_seq_splice_matches_encoder),
        cmocka_unit_test_setup_teardown(test_batch_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_trials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fold_long_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fold_detects_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksums_every_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_schema1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows_with_reader_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_from_other_process, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
