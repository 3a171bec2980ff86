/*
 * test_storage_corrupt: 100 copies of a store, each with random bytes of data.mdb changed
 * (deterministic seed). Every copy must either be reported damaged by axl_store_verify (the
 * check behind `axle verify`; its LMDB walk runs in a child, so this process must survive
 * every copy), or read back exactly the original events and records. A copy that verify
 * calls intact but reads back differently (a silent change) fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/storage/testlib.h"

#define COPIES 100

/* FNV digest of everything a reader can get from the store: the log and every record. */
typedef struct digest {
    uint64_t h;
} digest;

static int dig_trial(void *ud, uint32_t index, const void *data, size_t len)
{
    digest *d = ud;
    d->h = tl_fnv(d->h, &index, sizeof(index));
    d->h = tl_fnv(d->h, data, len);
    return 0;
}

/* 0 and *out, or the error the reads gave. */
static int store_digest(const char *dir, uint64_t *out)
{
    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    axl_store *s = NULL;
    axl_store_iter *it = NULL;
    digest d = {TL_FNV0};
    char **names = NULL;
    size_t n = 0;
    int rv;

    if ((rv = axl_store_open(dir, &ro, &s, NULL)) != 0)
        return rv;
    if ((rv = axl_store_iter_open(s, 1, 0, &it, NULL)) != 0)
        goto out;
    for (;;) {
        uint64_t seq;
        const void *p;
        size_t len;
        rv = axl_store_iter_next(it, &seq, &p, &len, NULL);
        if (rv != 0)
            break;
        d.h = tl_fnv(d.h, &seq, sizeof(seq));
        d.h = tl_fnv(d.h, p, len);
    }
    axl_store_iter_close(it);
    if (rv != AXL_ENOENT)
        goto out;
    if ((rv = axl_store_experiments(s, &names, &n, NULL)) != 0)
        goto out;
    for (size_t i = 0; i < n && rv == 0; i++) {
        static const axl_rec_kind kinds[] = {AXL_REC_EXPERIMENT, AXL_REC_GENERATOR,
                                             AXL_REC_LABWARE};
        d.h = tl_fnv(d.h, names[i], strlen(names[i]) + 1);
        for (size_t k = 0; k < 3 && rv == 0; k++) {
            void *rec;
            size_t len;
            rv = axl_store_get_record(s, kinds[k], names[i], 0, &rec, &len, NULL);
            if (rv == AXL_ENOENT) {
                rv = 0;
                d.h = tl_fnv(d.h, "-", 1);
                continue;
            }
            if (rv == 0) {
                d.h = tl_fnv(d.h, rec, len);
                free(rec);
            }
        }
        if (rv == 0)
            rv = axl_store_scan_trials(s, names[i], dig_trial, &d, NULL);
    }
    free(names);
out:
    axl_store_close(s);
    *out = d.h;
    return rv;
}

/*
 * The digest read in a child process: 0 equal, 1 differs, 2 a read error, or the signal
 * that killed the child (+100).
 */
static int digest_in_child(const char *dir, uint64_t want)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: a crash must show as one */
        signal(SIGBUS, SIG_DFL);
        uint64_t h;
        int rv = store_digest(dir, &h);
        _exit(rv != 0 ? 2 : h == want ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        return 100 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
        assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    assert_int_equal(fclose(b), 0);
}

static void build_store(const char *dir)
{
    axl_store_options o = {AXL_STORE_NOSYNC | AXL_STORE_NOPREALLOC, 0, 0, NULL};
    axl_store *s = NULL;
    axl_store_batch *b;
    tl_model m;
    assert_int_equal(axl_store_open(dir, &o, &s, NULL), 0);
    assert_int_equal(tl_model_init(&m, 5, false, NULL), 0);
    assert_int_equal(axl_store_batch_new(&b), 0);
    for (int i = 0; i < 120; i++) {
        axl_store_batch_clear(b);
        tl_model_batch(&m, b, 1 + (int)(i % 9));
        assert_int_equal(axl_store_commit(s, b, NULL, NULL), 0);
    }
    axl_store_batch_free(b);
    tl_model_free(&m);
    axl_store_close(s);
}

static void test_random_corruption(void **state)
{
    (void)state;
    char root[256], orig[512], copy[512], p[600], q[600];
    uint64_t rng = 20261207, want;
    int copies = COPIES;
    /* for exploring by hand: other seeds, more copies */
    if (getenv("AXL_CORRUPT_SEED") != NULL)
        rng = strtoull(getenv("AXL_CORRUPT_SEED"), NULL, 10);
    if (getenv("AXL_CORRUPT_COPIES") != NULL)
        copies = atoi(getenv("AXL_CORRUPT_COPIES"));
    int detected = 0, unchanged = 0, silent = 0, crashed = 0;

    assert_int_equal(tl_mkdtemp(root), 0);
    tl_path(orig, root, "orig");
    assert_int_equal(mkdir(orig, 0700), 0);
    build_store(orig);
    assert_int_equal(store_digest(orig, &want), 0);
    axl_store_verify_report rep;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_store_verify(orig, 0, 60, &rep, &eb), 0);
    assert_true(rep.events > 500);
    struct stat st;
    assert_int_equal(stat(tl_path(p, orig, "data.mdb"), &st), 0);
    size_t size = (size_t)st.st_size;

    for (int c = 0; c < copies; c++) {
        char name[32];
        snprintf(name, sizeof(name), "c%d", c);
        tl_path(copy, root, name);
        assert_int_equal(mkdir(copy, 0700), 0);
        copy_file(tl_path(p, orig, "data.mdb"), tl_path(q, copy, "data.mdb"));
        int fd = open(q, O_RDWR);
        assert_true(fd >= 0);
        int flips = 1 + (int)tl_below(&rng, 4);
        for (int i = 0; i < flips; i++) {
            off_t off = (off_t)(tl_rand(&rng) % size);
            uint8_t byte;
            assert_int_equal(pread(fd, &byte, 1, off), 1);
            byte ^= (uint8_t)(1 + tl_below(&rng, 255));
            assert_int_equal(pwrite(fd, &byte, 1, off), 1);
        }
        close(fd);

        axl_errbuf ceb = {{0}};
        int rv = axl_store_verify(copy, 0, 60, &rep, &ceb);
        if (rv != 0) {
            detected++;
            if (rv != AXL_ECORRUPT && rv != AXL_EVERSION)
                fprintf(stderr, "copy %d: verify %s: %s\n", c, axl_strerror(rv), ceb.msg);
        } else {
            int r = digest_in_child(copy, want);
            if (r == 0)
                unchanged++;
            else if (r >= 100) {
                crashed++;
                fprintf(stderr, "copy %d: verify said intact, a reader died (signal %d)\n", c,
                        r - 100);
            } else {
                silent++;
                fprintf(stderr, "copy %d: verify said intact, the reads %s\n", c,
                        r == 1 ? "DIFFER" : "failed");
            }
        }
        tl_rmtree(copy);
    }
    fprintf(stderr, "%d copies: %d reported damaged, %d unchanged, %d silent, %d crashed\n", copies,
            detected, unchanged, silent, crashed);
    tl_rmtree(root);
    assert_int_equal(silent, 0);
    assert_int_equal(crashed, 0);
    assert_int_equal(detected + unchanged, copies);
    /* the flips do land in live pages */
    assert_true(detected >= copies / 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
