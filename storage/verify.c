/*
 * verify.c - the whole-store check behind `axle verify`: LMDB's meta pages read with
 * pread (no map), then, in a forked child so that a damaged page cannot crash the caller,
 * every database walked (key order and shape, entry counts, every checksum) and the fold
 * compared with the records.
 */
#include "storage/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- LMDB's two meta pages, read from the file (layout of LMDB 0.9, mdb.c) ---- */

#define META_MAGIC 0xBEEFC0DEu
#define META_OFF_MAGIC 16 /* page header (16 bytes), then MDB_meta.mm_magic */
#define META_OFF_VERSION 20
#define META_OFF_PSIZE 40 /* mm_dbs[FREE_DBI].md_pad holds the page size */
#define META_OFF_LAST_PG 136
#define META_OFF_TXNID 144

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/*
 * LMDB writes the meta page of transaction t to page t & 1, so after any commit the two
 * pages hold consecutive txnids, the even one on page 0. A damaged txnid (which would make
 * LMDB silently pick the older snapshot) or magic breaks that. Reads with pread only.
 */
static int check_metas(const char *path, uint64_t file_size, axl_store_verify_report *rep,
                       axl_errbuf *eb)
{
    uint8_t head[META_OFF_TXNID + 8];
    uint64_t txnid[2], last_pg[2];
    uint32_t psize = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return axl_fail(eb, errno == ENOENT ? AXL_ENOENT : AXL_EIO, "%s: %s", path,
                        strerror(errno));
    for (int i = 0; i < 2; i++) {
        off_t off = i == 0 ? 0 : (off_t)psize;
        if (pread(fd, head, sizeof(head), off) != (ssize_t)sizeof(head)) {
            close(fd);
            return axl_fail(eb, AXL_ECORRUPT, "%s: LMDB meta page %d cannot be read (truncated)",
                            path, i);
        }
        if (le32(head + META_OFF_MAGIC) != META_MAGIC || le32(head + META_OFF_VERSION) != 1) {
            close(fd);
            return axl_fail(eb, AXL_ECORRUPT, "%s: LMDB meta page %d is damaged (magic/version)",
                            path, i);
        }
        uint32_t ps = le32(head + META_OFF_PSIZE);
        if (i == 0) {
            psize = ps;
            if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) {
                close(fd);
                return axl_fail(eb, AXL_ECORRUPT, "%s: LMDB meta page 0 gives page size %u", path,
                                ps);
            }
        } else if (ps != psize) {
            close(fd);
            return axl_fail(eb, AXL_ECORRUPT, "%s: the LMDB meta pages disagree on the page size",
                            path);
        }
        txnid[i] = le64(head + META_OFF_TXNID);
        last_pg[i] = le64(head + META_OFF_LAST_PG);
    }
    close(fd);
    if ((txnid[0] & 1) != 0 || (txnid[1] & 1) != 1 ||
        (txnid[0] > txnid[1] ? txnid[0] - txnid[1] : txnid[1] - txnid[0]) != 1)
        return axl_fail(eb, AXL_ECORRUPT,
                        "%s: the LMDB meta pages hold transactions %llu and %llu (a damaged "
                        "meta page: consecutive ids, the even one first, expected)",
                        path, (unsigned long long)txnid[0], (unsigned long long)txnid[1]);
    int cur = txnid[0] > txnid[1] ? 0 : 1;
    if ((last_pg[cur] + 1) * psize > file_size)
        return axl_fail(
            eb, AXL_ECORRUPT, "%s is truncated: %llu bytes, but its last commit needs %llu", path,
            (unsigned long long)file_size, (unsigned long long)((last_pg[cur] + 1) * psize));
    rep->txnid = txnid[cur];
    rep->page_size = psize;
    return 0;
}

/* ---- the walk (child) ---- */

static int key_cmp(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int c = memcmp(a->mv_data, b->mv_data, n);
    return c != 0 ? c : (a->mv_size > b->mv_size) - (a->mv_size < b->mv_size);
}

/* A key of db has the shape this store writes. */
static bool key_shape_ok(int db, const MDB_val *k)
{
    const char *p = k->mv_data;
    switch (db) {
    case DB_EVENTS:
        return k->mv_size == 8;
    case DB_TRIALS:
        return k->mv_size > 5 && axl_store__name_ok(p, k->mv_size - 5) && p[k->mv_size - 5] == '\0';
    case DB_META:
        return true;
    default:
        return axl_store__name_ok(p, k->mv_size);
    }
}

static int walk_db(axl_store *s, MDB_txn *txn, int db, axl_store_verify_report *rep, axl_errbuf *eb)
{
    const char *name = axl_store__db_names[db];
    MDB_cursor *cur;
    MDB_stat st;
    MDB_val k, v, prev = {0, NULL};
    uint8_t prevbuf[STORE_MAX_KEY + 8];
    uint64_t n = 0;
    int rc, rv = 0;

    if ((rc = mdb_stat(txn, s->dbi[db], &st)) != 0 ||
        (rc = mdb_cursor_open(txn, s->dbi[db], &cur)) != 0)
        return axl_store__mdb_fail(eb, rc, name);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        n++;
        if (k.mv_size > STORE_MAX_KEY + 8 || !key_shape_ok(db, &k)) {
            rv = axl_fail(eb, AXL_ECORRUPT, "database %s: entry %llu has a malformed key", name,
                          (unsigned long long)n);
            break;
        }
        if (prev.mv_data != NULL && key_cmp(&prev, &k) >= 0) {
            rv = axl_fail(eb, AXL_ECORRUPT, "database %s: entry %llu is out of key order", name,
                          (unsigned long long)n);
            break;
        }
        if (db == DB_EVENTS && axl_store__get_be64(k.mv_data) != n) {
            rv =
                axl_fail(eb, AXL_ECORRUPT, "log: seq %llu where %llu was expected (gap)",
                         (unsigned long long)axl_store__get_be64(k.mv_data), (unsigned long long)n);
            break;
        }
        if (db != DB_META) {
            if (!axl_store__unseal(s, &k, &v)) {
                rv = axl_store__bad_sum(eb, db, &k);
                break;
            }
            rep->checksums++;
        }
        memcpy(prevbuf, k.mv_data, k.mv_size);
        prev = (MDB_val){k.mv_size, prevbuf};
    }
    mdb_cursor_close(cur);
    if (rv != 0)
        return rv;
    if (rc != MDB_NOTFOUND)
        return axl_fail(eb, AXL_ECORRUPT, "database %s: walk stopped at entry %llu: %s", name,
                        (unsigned long long)n + 1, mdb_strerror(rc));
    if (n != st.ms_entries)
        return axl_fail(eb, AXL_ECORRUPT,
                        "database %s: %llu entries found, but LMDB counts %llu (a damaged page)",
                        name, (unsigned long long)n, (unsigned long long)st.ms_entries);
    rep->pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    if (db == DB_EVENTS)
        rep->events = n;
    else if (db != DB_META)
        rep->records += n;
    return 0;
}

/* The main database names exactly the store's databases. */
static int walk_main(axl_store *s, MDB_txn *txn, axl_errbuf *eb)
{
    MDB_dbi main_dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, seen = 0;

    if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 ||
        (rc = mdb_cursor_open(txn, main_dbi, &cur)) != 0)
        return axl_store__mdb_fail(eb, rc, "main database");
    (void)s;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int found = -1;
        for (int i = 0; i < DB_COUNT; i++)
            if (k.mv_size == strlen(axl_store__db_names[i]) &&
                memcmp(k.mv_data, axl_store__db_names[i], k.mv_size) == 0)
                found = i;
        if (found < 0 || (seen & (1 << found))) {
            mdb_cursor_close(cur);
            return axl_fail(eb, AXL_ECORRUPT, "main database: an unknown or repeated entry");
        }
        seen |= 1 << found;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return axl_fail(eb, AXL_ECORRUPT, "main database: %s", mdb_strerror(rc));
    if (seen != (1 << DB_COUNT) - 1)
        return axl_fail(eb, AXL_ECORRUPT, "main database: a database of the store is missing");
    return 0;
}

static int walk_store(const char *dir, unsigned flags, axl_store_verify_report *rep, axl_errbuf *eb)
{
    axl_store_options so = {AXL_STORE_RDONLY, 0, 0, NULL};
    axl_store *s = NULL;
    MDB_txn *txn;
    int rv;

    if (flags & AXL_STORE_VERIFY_UPGRADE) {
        so.flags = AXL_STORE_NOCREATE | AXL_STORE_NOPREALLOC;
        if ((rv = axl_store_open(dir, &so, &s, eb)) != 0)
            return rv;
        axl_store_close(s); /* upgraded, or refused */
        so.flags = AXL_STORE_RDONLY;
    }
    if ((rv = axl_store_open(dir, &so, &s, eb)) != 0)
        return rv;
    rep->schema = s->schema;
    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0)
        goto out;
    rv = walk_main(s, txn, eb);
    for (int db = 0; db < DB_COUNT && rv == 0; db++)
        rv = walk_db(s, txn, db, rep, eb);
    axl_store__read_end(s, txn);
    if (rv == 0) {
        axl_store_fold_report fr;
        rv = axl_store_verify_fold(s, &fr, eb);
        rep->fold_records = fr.records;
    }
out:
    axl_store_close(s);
    return rv;
}

/* ---- the child ---- */

typedef struct child_msg {
    int rv;
    axl_store_verify_report rep;
    char msg[sizeof(((axl_errbuf *)0)->msg)];
} child_msg;

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

int axl_store_verify(const char *dir, unsigned flags, unsigned timeout_s,
                     axl_store_verify_report *rep, axl_errbuf *eb)
{
    char path[4096];
    struct stat st;
    child_msg m;
    int pfd[2], status, rv;

    memset(rep, 0, sizeof(*rep));
    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path))
        return axl_fail(eb, AXL_EINVAL, "store path too long: %s", dir);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return axl_fail(eb, AXL_ENOENT, "store directory %s does not exist", dir);
    if (stat(path, &st) != 0)
        return axl_fail(eb, AXL_ENOENT, "no axle store in %s (no data.mdb)", dir);
    if (!S_ISREG(st.st_mode))
        return axl_fail(eb, AXL_ECORRUPT, "%s is not a regular file", path);
    if (st.st_size == 0)
        return axl_fail(eb, AXL_ECORRUPT, "%s is empty (0 bytes)", path);
    rep->file_bytes = (uint64_t)st.st_size;
    if ((rv = check_metas(path, (uint64_t)st.st_size, rep, eb)) != 0)
        return rv;

    if (pipe2(pfd, O_CLOEXEC) != 0)
        return axl_fail(eb, AXL_EIO, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return axl_fail(eb, AXL_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* The child: anything LMDB meets in a damaged map stays in here. A loop in a
         * damaged tree ends with SIGALRM. */
        close(pfd[0]);
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGALRM};
        for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
            signal(fatal[i], SIG_DFL); /* the caller's handlers must not catch and go on */
        if (timeout_s > 0)
            alarm(timeout_s);
        memset(&m, 0, sizeof(m));
        axl_errbuf ceb = {{0}};
        m.rep = *rep;
        m.rv = walk_store(dir, flags, &m.rep, &ceb);
        memcpy(m.msg, ceb.msg, sizeof(m.msg));
        _exit(write_all(pfd[1], &m, sizeof(m)) ? 0 : 1);
    }
    close(pfd[1]);
    size_t got = 0;
    while (got < sizeof(m)) {
        ssize_t r = read(pfd[0], (char *)&m + got, sizeof(m) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGALRM)
            return axl_fail(eb, AXL_ECORRUPT,
                            "%s: walking LMDB's structure did not end within %u s (a damaged "
                            "page, or a store too large for the timeout)",
                            path, timeout_s);
        return axl_fail(eb, AXL_ECORRUPT,
                        "%s: walking LMDB's structure crashed the checker (signal %d, %s): a "
                        "damaged page",
                        path, sig, strsignal(sig));
    }
    if (got != sizeof(m) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return axl_fail(eb, AXL_EIO, "%s: the checker process failed (status %d)", path, status);
    *rep = m.rep;
    if (m.rv != 0)
        return axl_fail(eb, m.rv, "%s", m.msg);
    return 0;
}
