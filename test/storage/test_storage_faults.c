/*
 * test_storage_faults: bad conditions, each a clear error with nothing committed lost —
 * missing or read-only directories, foreign and corrupt files, newer schemas, a second
 * writer, a full disk (map cap and a small tmpfs), events too large.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/storage/testlib.h"

typedef struct fixture {
    char dir[256];
    char mnt[512]; /* a mount point to unmount in teardown, or "" */
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
    if (f->mnt[0])
        umount2(f->mnt, MNT_DETACH);
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
#define EB (&eb_)

/* Expects open to fail with code and a message containing needle. */
static void expect_open(const char *dir, unsigned flags, int code, const char *needle)
{
    axl_store_options opt = {flags, 0, 0, NULL};
    axl_store *s = (axl_store *)1;
    axl_errbuf eb = {{0}};
    int rv = axl_store_open(dir, &opt, &s, &eb);
    if (rv == 0)
        axl_store_close(s);
    if (rv != code || (needle != NULL && strstr(eb.msg, needle) == NULL))
        fail_msg("open %s (flags 0x%x): %s '%s', expected %s '%s'", dir, flags, axl_err_name(rv),
                 eb.msg, axl_err_name(code), needle ? needle : "");
    assert_null(s);
}

/* A store with n batches of the random model; returns the last seq. */
static uint64_t make_store(const char *dir, int batches, uint64_t seed)
{
    axl_store_options opt = {AXL_STORE_NOSYNC, 0, 0, NULL};
    axl_store *s = NULL;
    axl_store_batch *b;
    tl_model m;
    uint64_t last;

    OK(axl_store_open(dir, &opt, &s, EB));
    assert_int_equal(axl_store_batch_new(&b), 0);
    assert_int_equal(tl_model_init(&m, seed, false, NULL), 0);
    for (int i = 0; i < batches; i++) {
        axl_store_batch_clear(b);
        tl_model_batch(&m, b, 1 + (int)tl_below(&m.rng, 8));
        OK(axl_store_commit(s, b, NULL, EB));
    }
    OK(axl_store_last_seq(s, &last, EB));
    axl_store_close(s);
    axl_store_batch_free(b);
    tl_model_free(&m);
    return last;
}

/* Opens, checks the whole log (batches complete when batches) and the fold; last seq. */
static uint64_t check_store_b(const char *dir, unsigned flags, bool batches)
{
    axl_store_options opt = {flags, 0, 0, NULL};
    axl_store *s = NULL;
    uint64_t last;
    OK(axl_store_open(dir, &opt, &s, EB));
    if (batches)
        assert_true(tl_check_batches(s) >= 0);
    OK(axl_store_verify_fold(s, NULL, EB));
    OK(axl_store_last_seq(s, &last, EB));
    axl_store_close(s);
    return last;
}

static uint64_t check_store(const char *dir, unsigned flags)
{
    return check_store_b(dir, flags, true);
}

/* ---- directories ---- */

static void test_missing_directory(void **state)
{
    fixture *f = *state;
    char p[512];
    tl_path(p, f->dir, "nope");
    expect_open(p, 0, AXL_ENOENT, "does not exist");
    expect_open(p, AXL_STORE_RDONLY, AXL_ENOENT, "does not exist");
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0); /* and it was not created */
}

static void test_file_where_directory_expected(void **state)
{
    fixture *f = *state;
    char p[512], q[600];
    tl_path(p, f->dir, "file");
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("not a directory\n", fp);
    fclose(fp);
    expect_open(p, 0, AXL_EINVAL, "not a directory");
    expect_open(p, AXL_STORE_RDONLY, AXL_EINVAL, "not a directory");
    snprintf(q, sizeof(q), "%s/sub", p); /* a path through a file */
    expect_open(q, 0, AXL_EINVAL, NULL);
}

/* Runs open in a child with uid/gid nobody; returns the child's open result. */
static int open_as_nobody(const char *dir, unsigned flags)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        int rv = -1000;
        if (setgid(65534) == 0 && setuid(65534) == 0) {
            axl_store_options opt = {flags, 0, 0, NULL};
            axl_store *s = NULL;
            rv = axl_store_open(dir, &opt, &s, NULL);
            axl_store_close(s);
        }
        if (write(pfd[1], &rv, sizeof(rv)) != sizeof(rv))
            _exit(2);
        _exit(0);
    }
    close(pfd[1]);
    int rv = -2000, status;
    assert_int_equal(read(pfd[0], &rv, sizeof(rv)), sizeof(rv));
    close(pfd[0]);
    waitpid(pid, &status, 0);
    return rv;
}

static void test_read_only_directory_permissions(void **state)
{
    fixture *f = *state;
    char p[512];
    tl_path(p, f->dir, "store");
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(chmod(f->dir, 0755), 0); /* let the unprivileged child through */
    if (geteuid() != 0) {
        /* not root: the permission bits apply to us directly */
        assert_int_equal(chmod(p, 0555), 0);
        expect_open(p, 0, AXL_EACCES, "cannot write");
        assert_int_equal(chmod(p, 0755), 0);
        return;
    }
    /* root ignores permission bits: test as the owner "nobody", who has them */
    assert_int_equal(chown(p, 65534, 65534), 0);
    assert_int_equal(chmod(p, 0555), 0);
    assert_int_equal(open_as_nobody(p, 0), AXL_EACCES);
    /* the control: with write permission the same child creates the store */
    assert_int_equal(chmod(p, 0755), 0);
    assert_int_equal(open_as_nobody(p, 0), 0);
    /* an existing store whose files are read-only to the owner */
    char data[600];
    snprintf(data, sizeof(data), "%s/data.mdb", p);
    assert_int_equal(chmod(data, 0444), 0);
    assert_int_equal(open_as_nobody(p, 0), AXL_EACCES);
}

static void test_read_only_mount(void **state)
{
    fixture *f = *state;
    char src[512], mnt[512];
    tl_path(src, f->dir, "store");
    tl_path(mnt, f->dir, "ro");
    assert_int_equal(mkdir(src, 0755), 0);
    assert_int_equal(mkdir(mnt, 0755), 0);
    uint64_t last = make_store(src, 40, 5);
    if (mount(src, mnt, "none", MS_BIND, NULL) != 0) {
        print_message("skipped: cannot bind-mount (%s)\n", strerror(errno));
        skip();
    }
    snprintf(f->mnt, sizeof(f->mnt), "%s", mnt);
    if (mount("none", mnt, "none", MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) {
        print_message("skipped: cannot remount read-only (%s)\n", strerror(errno));
        skip();
    }
    /* a writer is refused clearly ... */
    expect_open(mnt, 0, AXL_EACCES, "Read-only file system");
    /* ... while replay of an archived store on read-only media works */
    assert_int_equal(check_store(mnt, AXL_STORE_RDONLY), last);
    assert_int_equal(umount2(mnt, 0), 0);
    f->mnt[0] = '\0';
    /* nothing was lost, and the store is writable again where it is writable */
    assert_int_equal(check_store(src, 0), last);
}

/* ---- foreign and corrupt files ---- */

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static void raw_lmdb(const char *dir, const char *db, const char *key, const void *val, size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
    MDB_val k = {strlen(key), (void *)key}, v = {vlen, (void *)val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void sub(char *out, const fixture *f, const char *name)
{
    tl_path(out, f->dir, name);
    assert_int_equal(mkdir(out, 0755), 0);
}

static void both_modes(const char *dir, int code, const char *needle)
{
    expect_open(dir, 0, code, needle);
    expect_open(dir, AXL_STORE_RDONLY, code, needle);
}

static void test_foreign_and_corrupt_files(void **state)
{
    fixture *f = *state;
    char d[512], p[600];
    uint8_t junk[16384];
    uint64_t rng = 3;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)tl_rand(&rng);

    /* random bytes */
    sub(d, f, "random");
    write_file(tl_path(p, d, "data.mdb"), junk, sizeof(junk));
    both_modes(d, AXL_ECORRUPT, "not an LMDB file");
    /* a short text file */
    sub(d, f, "short");
    write_file(tl_path(p, d, "data.mdb"), "hello\n", 6);
    both_modes(d, AXL_ECORRUPT, "not an LMDB file");
    /* an empty data.mdb (a crash at creation, a failed copy) is never made a new store */
    sub(d, f, "empty");
    write_file(tl_path(p, d, "data.mdb"), "", 0);
    both_modes(d, AXL_ECORRUPT, "is empty (0 bytes)");
    struct stat est;
    assert_int_equal(stat(p, &est), 0);
    assert_int_equal(est.st_size, 0);
    /*
     * ... unless the creation marker says a writer died while creating it (nothing can have
     * been recorded): readers and NOCREATE find no store, a creating writer starts over.
     */
    char m[700];
    sub(d, f, "interrupted");
    write_file(tl_path(p, d, "data.mdb"), junk, 100); /* a half-written first page */
    write_file(tl_path(m, d, "creating"), "", 0);
    expect_open(d, AXL_STORE_RDONLY, AXL_ENOENT, "creation was interrupted");
    expect_open(d, AXL_STORE_NOCREATE, AXL_ENOENT, "creation was interrupted");
    {
        axl_store *s = NULL;
        axl_errbuf eb;
        assert_int_equal(axl_store_open(d, NULL, &s, &eb), 0);
        assert_int_equal(stat(m, &est), -1); /* the marker is gone once the store exists */
        axl_store_close(s);
        assert_int_equal(
            axl_store_open(d, &(axl_store_options){.flags = AXL_STORE_RDONLY}, &s, &eb), 0);
        axl_store_close(s);
    }
    /* data.mdb is a directory */
    sub(d, f, "dirdata");
    assert_int_equal(mkdir(tl_path(p, d, "data.mdb"), 0755), 0);
    both_modes(d, AXL_ECORRUPT, "not a regular file");
    /* somebody else's LMDB environment */
    sub(d, f, "foreign");
    raw_lmdb(d, "stuff", "k", "v", 1);
    both_modes(d, AXL_ECORRUPT, "not an axle store");
    /* ... with a plain key "meta" */
    sub(d, f, "foreign2");
    raw_lmdb(d, NULL, "meta", "v", 1);
    both_modes(d, AXL_ECORRUPT, "not an axle store");
    /* an axle store whose format mark was changed */
    sub(d, f, "format");
    make_store(d, 3, 1);
    raw_lmdb(d, "meta", "format", "other.store", 11);
    both_modes(d, AXL_ECORRUPT, "not an axle store");
    /* a truncated file: the last commit's pages are gone */
    sub(d, f, "trunc");
    make_store(d, 300, 2);
    struct stat st;
    assert_int_equal(stat(tl_path(p, d, "data.mdb"), &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
    both_modes(d, AXL_ECORRUPT, "truncated");
}

static void test_schema_versions(void **state)
{
    fixture *f = *state;
    char d[512];
    uint8_t v2[4] = {0, 0, 0, AXL_STORE_SCHEMA + 1}, v0[4] = {0, 0, 0, 0};

    sub(d, f, "newer");
    make_store(d, 3, 1);
    raw_lmdb(d, "meta", "schema", v2, 4);
    both_modes(d, AXL_EVERSION, "newer than this axle supports");
    sub(d, f, "older");
    make_store(d, 3, 1);
    raw_lmdb(d, "meta", "schema", v0, 4);
    both_modes(d, AXL_EVERSION, "unknown");
    sub(d, f, "missing");
    make_store(d, 3, 1);
    raw_lmdb(d, "meta", "schema", "x", 1);
    both_modes(d, AXL_ECORRUPT, "schema version is missing");
}

/* ---- a second writer ---- */

/* Runs storage_child with args, returns its first output line. */
static void run_child(char *out, size_t cap, const char *a1, const char *a2, const char *a3)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        execl(STORAGE_CHILD, STORAGE_CHILD, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(pfd[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(pfd[0]);
    int status;
    waitpid(pid, &status, 0);
}

static void test_second_writer(void **state)
{
    fixture *f = *state;
    char out[512], pidstr[32];
    axl_store *s = NULL, *s2 = NULL;
    axl_errbuf eb;

    OK(axl_store_open(f->dir, NULL, &s, EB));
    /* the same process again: refused, for writers and readers alike */
    assert_int_equal(axl_store_open(f->dir, NULL, &s2, &eb), AXL_EBUSY);
    assert_non_null(strstr(eb.msg, "already open in this process"));
    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    assert_int_equal(axl_store_open(f->dir, &ro, &s2, &eb), AXL_EBUSY);
    /* another process: a second writer is refused and told who holds the store */
    run_child(out, sizeof(out), "open", f->dir, NULL);
    snprintf(pidstr, sizeof(pidstr), "(pid %ld)", (long)getpid());
    if (strncmp(out, "AXL_EBUSY", 9) != 0 || strstr(out, pidstr) == NULL ||
        strstr(out, "another writer") == NULL)
        fail_msg("second writer got: %s", out);
    /* ... while a reader in another process is welcome */
    run_child(out, sizeof(out), "open", f->dir, "ro");
    assert_int_equal(strncmp(out, "AXL_OK", 6), 0);
    axl_store_close(s);
    /* once the writer is gone, the other process may write */
    run_child(out, sizeof(out), "open", f->dir, NULL);
    assert_int_equal(strncmp(out, "AXL_OK", 6), 0);

    /* the other way round: a child holds it, we are refused; its death frees the store */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        execl(STORAGE_CHILD, STORAGE_CHILD, "hold", f->dir, "10000", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[64] = {0};
    assert_true(read(pfd[0], line, sizeof(line) - 1) > 0);
    assert_int_equal(strncmp(line, "open", 4), 0);
    assert_int_equal(axl_store_open(f->dir, NULL, &s, &eb), AXL_EBUSY);
    snprintf(pidstr, sizeof(pidstr), "(pid %ld)", (long)pid);
    assert_non_null(strstr(eb.msg, pidstr));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(pfd[0]);
    OK(axl_store_open(f->dir, NULL, &s, EB));
    axl_store_close(s);
}

/*
 * The engine spawns trial processes (the command runner) while it holds the store: they
 * must not inherit the writer lock, or a dead engine's children would keep the store
 * locked.
 */
static void test_spawned_children_do_not_hold_the_lock(void **state)
{
    fixture *f = *state;
    axl_store *s = NULL;
    char out[512];

    OK(axl_store_open(f->dir, NULL, &s, EB));
    /*
     * The question is what an exec'd child holds, so wait for the exec: the pipe's write
     * end is close-on-exec, so the read below returns 0 exactly when the child has
     * exec'd (or died), never while it still runs the forked copy of this process.
     */
    int sync[2];
    assert_int_equal(pipe2(sync, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "10", (char *)NULL);
        _exit(127);
    }
    close(sync[1]);
    char byte;
    ssize_t got;
    while ((got = read(sync[0], &byte, 1)) < 0 && errno == EINTR)
        ;
    assert_int_equal(got, 0);
    close(sync[0]);
    axl_store_close(s); /* the engine is gone; its child lives on */
    run_child(out, sizeof(out), "open", f->dir, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (strncmp(out, "AXL_OK", 6) != 0)
        fail_msg("a spawned child kept the store locked: %s", out);
}

/* ---- a full disk ---- */

/*
 * Commits model batches until a commit fails; checks that the failure is AXL_ENOSPC with
 * nothing of the failed batch visible and the batch still uncommitted. Returns the number
 * of committed batches; *fail_b keeps the failed batch for a retry.
 */
static long fill_until_full(axl_store *s, axl_store_batch *b, tl_model *m, int max_batches,
                            const char *needle)
{
    axl_errbuf eb;
    uint64_t before, after;
    for (long i = 0; i < max_batches; i++) {
        axl_store_batch_clear(b);
        tl_model_batch(m, b, 16);
        OK(axl_store_last_seq(s, &before, EB));
        int rv = axl_store_commit(s, b, NULL, &eb);
        if (rv == 0)
            continue;
        if (rv != AXL_ENOSPC || (needle != NULL && strstr(eb.msg, needle) == NULL))
            fail_msg("commit %ld: %s '%s', expected AXL_ENOSPC '%s'", i, axl_err_name(rv), eb.msg,
                     needle ? needle : "");
        OK(axl_store_last_seq(s, &after, EB));
        assert_int_equal(after, before); /* nothing of the batch */
        const void *d;
        size_t n;
        assert_int_equal(axl_store_batch_event(b, 0, NULL, &d, &n), AXL_ESTATE);
        return i;
    }
    fail_msg("the store never filled up in %d batches", max_batches);
    return -1;
}

static void test_disk_full_map_limit(void **state)
{
    fixture *f = *state;
    axl_store_options opt = {0, 128 << 10, 1 << 20, NULL}; /* full sync, map 128 KiB .. 1 MiB */
    axl_store *s = NULL;
    axl_store_batch *b;
    tl_model m;

    OK(axl_store_open(f->dir, &opt, &s, EB));
    assert_int_equal(axl_store_batch_new(&b), 0);
    assert_int_equal(tl_model_init(&m, 11, false, NULL), 0);
    long committed = fill_until_full(s, b, &m, 10000, "map_max");
    assert_true(committed > 10);
    axl_store_info info;
    OK(axl_store_info_get(s, &info, EB));
    assert_true(info.map_grows >= 2);
    assert_true(info.map_size <= (1 << 20));
    /* reads still work; the log is whole */
    assert_int_equal(tl_check_batches(s), committed);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_close(s);

    /* after a restart with room to grow, the same batch, grown by one more batch,
     * commits (a batch outlives handles and failed commits) */
    size_t n0 = axl_store_batch_count(b);
    size_t n1 = tl_model_batch(&m, b, 3);
    OK(axl_store_open(f->dir, NULL, &s, EB));
    assert_int_equal(tl_check_batches(s), committed);
    uint64_t last, first;
    OK(axl_store_last_seq(s, &last, EB));
    OK(axl_store_commit(s, b, &first, EB));
    assert_int_equal(first, last + 1);
    assert_int_equal(axl_store_batch_count(b), n0 + n1);
    for (size_t i = 0; i < n0 + n1; i++) {
        const void *d;
        size_t len;
        uint64_t seq;
        axl_event ev;
        assert_int_equal(axl_store_batch_event(b, i, &seq, &d, &len), 0);
        OK(axl_event_decode(d, len, &ev, EB));
        assert_int_equal(ev.seq, first + i);
    }
    assert_int_equal(tl_check_batches(s), committed + 2);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_close(s);
    axl_store_batch_free(b);
    tl_model_free(&m);
}

static void test_disk_full_tmpfs(void **state)
{
    fixture *f = *state;
    char mnt[512];
    axl_store *s = NULL;
    axl_store_batch *b;
    tl_model m;

    tl_path(mnt, f->dir, "tmpfs");
    assert_int_equal(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        print_message("skipped: cannot mount a tmpfs (%s); the map-limit test covers "
                      "ENOSPC\n",
                      strerror(errno));
        skip();
    }
    snprintf(f->mnt, sizeof(f->mnt), "%s", mnt);
    OK(axl_store_open(mnt, NULL, &s, EB)); /* full sync; the 64 MiB map exceeds the disk */
    assert_int_equal(axl_store_batch_new(&b), 0);
    assert_int_equal(tl_model_init(&m, 12, false, NULL), 0);
    long committed = fill_until_full(s, b, &m, 10000, "no space left on the device");
    assert_true(committed > 10);
    /* the handle is still good for reading, and the log is whole */
    assert_int_equal(tl_check_batches(s), committed);
    OK(axl_store_verify_fold(s, NULL, EB));
    /* room again (the disk grows): the same handle commits the same batch */
    assert_int_equal(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=8m"), 0);
    OK(axl_store_commit(s, b, NULL, EB));
    axl_store_close(s);
    /* and a reopen sees every batch */
    s = NULL;
    OK(axl_store_open(mnt, NULL, &s, EB));
    assert_int_equal(tl_check_batches(s), committed + 1);
    OK(axl_store_verify_fold(s, NULL, EB));
    axl_store_close(s);
    axl_store_batch_free(b);
    tl_model_free(&m);
}

/* ---- events too large ---- */

static void big_body(msgpack_sbuffer *sb, size_t entries, size_t each)
{
    msgpack_packer pk;
    char *blob = malloc(each);
    assert_non_null(blob);
    memset(blob, 'x', each);
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (uint32_t)entries);
    for (size_t i = 0; i < entries; i++) {
        char k[24]; /* "k" and any size_t: -O0 builds check the bound */
        snprintf(k, sizeof(k), "k%zu", i);
        axl_pack_cstr(&pk, k);
        msgpack_pack_bin(&pk, each);
        msgpack_pack_bin_body(&pk, blob, each);
    }
    free(blob);
}

static void test_event_too_large(void **state)
{
    fixture *f = *state;
    axl_store *s = NULL;
    axl_store_batch *b;
    msgpack_sbuffer sb;
    axl_errbuf eb;

    msgpack_sbuffer_init(&sb);
    uint64_t last = make_store(f->dir, 20, 8);
    OK(axl_store_open(f->dir, NULL, &s, EB));
    assert_int_equal(axl_store_batch_new(&b), 0);
    axl_event ev = {.type = "generation.finished",
                    .type_len = 19,
                    .experiment = "exp",
                    .experiment_len = 3,
                    .trial = -1,
                    .rec = AXL_REC_GENERATOR};

    /* one string over the 4 KiB limit */
    big_body(&sb, 1, 5000);
    ev.body = sb.data;
    ev.body_len = sb.size;
    assert_int_equal(axl_store_batch_add(b, &ev, &eb), AXL_ETOOBIG);
    /* a body over 1 MiB */
    big_body(&sb, 300, 4000);
    ev.body = sb.data;
    ev.body_len = sb.size;
    assert_int_equal(axl_store_batch_add(b, &ev, &eb), AXL_ETOOBIG);
    /* a body just under 1 MiB whose envelope takes the event over it */
    big_body(&sb, 261, 4000);
    size_t pad = AXL_PROTO_MAX_MSG - sb.size - 50;
    assert_true(pad < 4000);
    msgpack_sbuffer_clear(&sb);
    {
        msgpack_packer pk;
        char *blob = calloc(1, 4000);
        assert_non_null(blob);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 262);
        for (int i = 0; i < 261; i++) {
            char k[16];
            snprintf(k, sizeof(k), "k%d", i);
            axl_pack_cstr(&pk, k);
            msgpack_pack_bin(&pk, 4000);
            msgpack_pack_bin_body(&pk, blob, 4000);
        }
        axl_pack_cstr(&pk, "pad");
        msgpack_pack_bin(&pk, pad);
        msgpack_pack_bin_body(&pk, blob, pad);
        free(blob);
    }
    assert_true(sb.size <= AXL_PROTO_MAX_MSG);
    ev.body = sb.data;
    ev.body_len = sb.size;
    assert_int_equal(axl_store_batch_add(b, &ev, &eb), AXL_ETOOBIG);
    assert_true(strlen(eb.msg) > 0);
    assert_int_equal(axl_store_batch_count(b), 0);

    /* a large event within the limits is fine (LMDB overflow pages) */
    big_body(&sb, 200, 4000);
    ev.body = sb.data;
    ev.body_len = sb.size;
    OK(axl_store_batch_add(b, &ev, EB));
    tl_add(b, "task.started", "exp", -1, AXL_REC_NONE, NULL, 0);
    OK(axl_store_commit(s, b, NULL, EB));
    void *p;
    size_t n;
    OK(axl_store_get_record(s, AXL_REC_GENERATOR, "exp", 0, &p, &n, EB));
    assert_int_equal(n, sb.size);
    assert_memory_equal(p, sb.data, n);
    free(p);
    axl_store_close(s);
    /* nothing committed before was lost */
    assert_int_equal(check_store_b(f->dir, 0, false), last + 2);
    axl_store_batch_free(b);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_where_directory_expected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_directory_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_mount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_and_corrupt_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawned_children_do_not_hold_the_lock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_map_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_tmpfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_too_large, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
