/* Open and close, the schema check in meta, the writer lock, the map and its growth. */
#include "storage/store_int.h"
#include "proto/axl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const axl_store__db_names[DB_COUNT] = {
    "meta", "events", "experiments", "trials", "generators", "labware",
};

#define GATE_WAIT_S 5

/* ---- errors ---- */

int axl_store__mdb_fail(axl_errbuf *eb, int rc, const char *what)
{
    int code;
    switch (rc) {
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
        code = AXL_ENOSPC;
        break;
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INCOMPATIBLE:
        code = AXL_ECORRUPT;
        break;
    case MDB_VERSION_MISMATCH:
        code = AXL_EVERSION;
        break;
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
    case MDB_BAD_VALSIZE:
        code = AXL_ETOOBIG;
        break;
    case MDB_READERS_FULL:
    case MDB_DBS_FULL:
    case MDB_TLS_FULL:
        code = AXL_EEXHAUSTED;
        break;
    case MDB_MAP_RESIZED:
        code = AXL_EAGAIN;
        break;
    case MDB_NOTFOUND:
    case ENOENT:
        code = AXL_ENOENT;
        break;
    case MDB_KEYEXIST:
        code = AXL_EEXIST;
        break;
    case ENOMEM:
        code = AXL_ENOMEM;
        break;
    case EACCES:
    case EPERM:
    case EROFS:
        code = AXL_EACCES;
        break;
    case EAGAIN:
    case EBUSY:
        code = AXL_EBUSY;
        break;
    case EINVAL:
        code = AXL_EINVAL;
        break;
    default: /* EIO, MDB_PANIC, MDB_BAD_TXN, MDB_BAD_RSLOT, ... */
        code = AXL_EIO;
        break;
    }
    return axl_fail(eb, code, "%s: %s", what, mdb_strerror(rc));
}

int axl_store__bad_sum(axl_errbuf *eb, int db, const MDB_val *k)
{
    const uint8_t *kp = k->mv_data;
    if (db == DB_EVENTS) {
        if (k->mv_size != 8)
            return axl_fail(eb, AXL_ECORRUPT, "log: an event under a key of %zu bytes", k->mv_size);
        return axl_fail(eb, AXL_ECORRUPT,
                        "event seq %llu: checksum mismatch (its stored bytes changed)",
                        (unsigned long long)axl_store__get_be64(kp));
    }
    size_t n = strnlen((const char *)kp, k->mv_size);
    char trial[24] = "";
    if (db == DB_TRIALS && k->mv_size == n + 5)
        snprintf(trial, sizeof(trial), " trial %u", axl_store__get_be32(kp + n + 1));
    return axl_fail(eb, AXL_ECORRUPT,
                    "%s record of '%.*s'%s: checksum mismatch (its stored bytes changed)",
                    axl_store__db_names[db], (int)(n > 128 ? 128 : n), (const char *)kp, trial);
}

/* ---- the one-handle-per-process registry ---- */

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static axl_store *registry_head;

static axl_store *registry_find(dev_t dev, ino_t ino)
{
    for (axl_store *p = registry_head; p != NULL; p = p->next_open)
        if (p->dev == dev && p->ino == ino)
            return p;
    return NULL;
}

static void registry_remove(axl_store *s)
{
    pthread_mutex_lock(&registry_mu);
    for (axl_store **pp = &registry_head; *pp != NULL; pp = &(*pp)->next_open) {
        if (*pp == s) {
            *pp = s->next_open;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
}

/* ---- the reader gate ---- */

static void gate_deadline(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += GATE_WAIT_S;
}

/*
 * Takes the gate exclusively: waits (bounded) until no read txn of this process is
 * open, and keeps new ones out until gate_release(). AXL_EBUSY on timeout.
 */
static int gate_exclusive(axl_store *s, axl_errbuf *eb)
{
    struct timespec dl;
    int rc = 0;

    gate_deadline(&dl);
    pthread_mutex_lock(&s->gate_mu);
    while (s->gate_resizing && rc == 0)
        rc = pthread_cond_timedwait(&s->gate_cv, &s->gate_mu, &dl);
    if (rc == 0) {
        s->gate_resizing = 1;
        while (s->gate_readers > 0 && rc == 0)
            rc = pthread_cond_timedwait(&s->gate_cv, &s->gate_mu, &dl);
        if (rc != 0) {
            s->gate_resizing = 0;
            pthread_cond_broadcast(&s->gate_cv);
        }
    }
    int readers = s->gate_readers;
    pthread_mutex_unlock(&s->gate_mu);
    if (rc != 0)
        return axl_fail(eb, AXL_EBUSY,
                        "the store's map must be resized but %d read transaction(s) of this "
                        "process stayed open for %d s; close iterators and retry",
                        readers, GATE_WAIT_S);
    return 0;
}

static void gate_release(axl_store *s)
{
    pthread_mutex_lock(&s->gate_mu);
    s->gate_resizing = 0;
    pthread_cond_broadcast(&s->gate_cv);
    pthread_mutex_unlock(&s->gate_mu);
}

static void gate_leave(axl_store *s)
{
    pthread_mutex_lock(&s->gate_mu);
    if (--s->gate_readers == 0)
        pthread_cond_broadcast(&s->gate_cv);
    pthread_mutex_unlock(&s->gate_mu);
}

int axl_store__read_begin(axl_store *s, MDB_txn **txn, axl_errbuf *eb)
{
    for (int attempt = 0;; attempt++) {
        pthread_mutex_lock(&s->gate_mu);
        while (s->gate_resizing)
            pthread_cond_wait(&s->gate_cv, &s->gate_mu);
        s->gate_readers++;
        pthread_mutex_unlock(&s->gate_mu);

        int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return 0;
        gate_leave(s);
        if (rc != MDB_MAP_RESIZED || attempt >= 3)
            return axl_store__mdb_fail(eb, rc, "begin read transaction");
        /* The writer (another process) grew the map beyond ours: adopt its size. */
        int arc = gate_exclusive(s, eb);
        if (arc != 0)
            return arc;
        rc = mdb_env_set_mapsize(s->env, 0);
        gate_release(s);
        if (rc != 0)
            return axl_store__mdb_fail(eb, rc, "adopt the grown map size");
    }
}

void axl_store__read_end(axl_store *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    gate_leave(s);
}

int axl_store__grow(axl_store *s, axl_errbuf *eb)
{
    MDB_envinfo info;
    int rc;

    if ((rc = mdb_env_info(s->env, &info)) != 0)
        return axl_store__mdb_fail(eb, rc, "read the map size");
    size_t cur = info.me_mapsize;
    size_t want = cur > SIZE_MAX / 2 ? SIZE_MAX : cur * 2;
    if (s->map_max != 0 && want > s->map_max)
        want = s->map_max;
    if (want <= cur)
        return axl_fail(eb, AXL_ENOSPC,
                        "no space left: the store's map reached its limit of %zu bytes "
                        "(map_max); nothing of this batch was written",
                        cur);
    if ((rc = gate_exclusive(s, eb)) != 0)
        return rc;
    rc = mdb_env_set_mapsize(s->env, want);
    pthread_mutex_lock(&s->gate_mu);
    if (rc == 0)
        s->map_grows++; /* read by axl_store_info_get on any thread */
    pthread_mutex_unlock(&s->gate_mu);
    gate_release(s);
    if (rc != 0)
        return axl_store__mdb_fail(eb, rc, "grow the map");
    return 0;
}

/* ---- open ---- */

static int path_join(char *out, size_t cap, const char *dir, const char *file, axl_errbuf *eb)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap)
        return axl_fail(eb, AXL_EINVAL, "store path too long: %s", dir);
    return 0;
}

static int errno_code(int e)
{
    switch (e) {
    case ENOENT:
        return AXL_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return AXL_EACCES;
    case ENOSPC:
    case EDQUOT:
        return AXL_ENOSPC;
    case ENOMEM:
        return AXL_ENOMEM;
    case ENOTDIR:
        return AXL_EINVAL;
    default:
        return AXL_EIO;
    }
}

/* The writer lock: <dir>/axle.lock, flock'd exclusively, holding the writer's pid. */
static int take_writer_lock(axl_store *s, axl_errbuf *eb)
{
    char path[4096];
    int rv;

    if ((rv = path_join(path, sizeof(path), s->dir, "axle.lock", eb)) != 0)
        return rv;
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        int e = errno;
        return axl_fail(eb, errno_code(e), "cannot write to store directory %s: %s", s->dir,
                        strerror(e));
    }
    for (int waited_ms = 0; flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0;) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char buf[32] = {0};
            ssize_t n = pread(s->lock_fd, buf, sizeof(buf) - 1, 0);
            long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
            /*
             * The writer that recorded its pid is dead, yet the lock is held: by a child it
             * forked that has not exec'd yet (the lock is close-on-exec, so it goes at the
             * exec). A writer killed in the middle of spawning a command leaves exactly
             * that for a moment; wait for it, up to 5 s.
             */
            if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH && waited_ms < 5000) {
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
                waited_ms += 5;
                continue;
            }
            return axl_fail(eb, AXL_EBUSY,
                            "store %s is in use by another writer (pid %ld); two engines on "
                            "one store are refused",
                            s->dir, pid);
        }
        return axl_fail(eb, errno_code(e), "lock %s: %s", path, strerror(e));
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, buf, (size_t)n, 0) != n) {
        int e = errno;
        return axl_fail(eb, errno_code(e), "write %s: %s", path, strerror(e));
    }
    return 0;
}

static int put_meta(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* Creates the databases of a new store and writes its meta, in the open write txn. */
static int init_new(axl_store *s, MDB_txn *txn, axl_errbuf *eb)
{
    int rc;
    for (int i = 0; i < DB_COUNT; i++)
        if ((rc = mdb_dbi_open(txn, axl_store__db_names[i], MDB_CREATE, &s->dbi[i])) != 0)
            return axl_store__mdb_fail(eb, rc, "create the store's databases");
    uint8_t ver[4];
    axl_store__be32(ver, AXL_STORE_SCHEMA);
    if ((rc = put_meta(txn, s->dbi[DB_META], "format", STORE_FORMAT, strlen(STORE_FORMAT))) ||
        (rc = put_meta(txn, s->dbi[DB_META], "schema", ver, 4)))
        return axl_store__mdb_fail(eb, rc, "write the store's meta");
    s->schema = AXL_STORE_SCHEMA;
    return 0;
}

/* Reads and checks meta, then opens the other databases, in the open txn. */
static int check_existing(axl_store *s, MDB_txn *txn, axl_errbuf *eb)
{
    MDB_val k, v;
    int rc;

    k = (MDB_val){6, "format"};
    rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND || (rc == 0 && (v.mv_size != strlen(STORE_FORMAT) ||
                                           memcmp(v.mv_data, STORE_FORMAT, v.mv_size) != 0)))
        return axl_fail(eb, AXL_ECORRUPT, "%s: not an axle store (meta has no format '%s')", s->dir,
                        STORE_FORMAT);
    if (rc != 0)
        return axl_store__mdb_fail(eb, rc, "read the store's meta");
    k = (MDB_val){6, "schema"};
    rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != 4))
        return axl_fail(eb, AXL_ECORRUPT, "%s: the store's schema version is missing", s->dir);
    if (rc != 0)
        return axl_store__mdb_fail(eb, rc, "read the store's schema version");
    s->schema = axl_store__get_be32(v.mv_data);
    if (s->schema > AXL_STORE_SCHEMA)
        return axl_fail(eb, AXL_EVERSION,
                        "%s: store schema version %u is newer than this axle supports (%u); "
                        "use a newer axle",
                        s->dir, s->schema, AXL_STORE_SCHEMA);
    if (s->schema == 1 && (s->flags & AXL_STORE_RDONLY))
        return axl_fail(eb, AXL_EVERSION,
                        "%s: store schema 1 predates checksums and must be upgraded before it "
                        "is read; run `axle verify --upgrade --store %s` (or `axle resume`) once",
                        s->dir, s->dir);
    if (s->schema != AXL_STORE_SCHEMA && s->schema != 1)
        return axl_fail(eb, AXL_EVERSION,
                        "%s: store schema version %u is unknown (this axle reads %u)", s->dir,
                        s->schema, AXL_STORE_SCHEMA);
    for (int i = 1; i < DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, axl_store__db_names[i], 0, &s->dbi[i]);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
            return axl_fail(eb, AXL_ECORRUPT, "%s: the store's database '%s' is missing", s->dir,
                            axl_store__db_names[i]);
        if (rc != 0)
            return axl_store__mdb_fail(eb, rc, "open the store's databases");
    }
    return 0;
}

/* Opens or creates the schema in one txn; commits it so that the dbi handles persist. */
static int open_schema(axl_store *s, axl_errbuf *eb)
{
    bool rdonly = s->flags & AXL_STORE_RDONLY;
    MDB_txn *txn = NULL;
    MDB_dbi main_dbi;
    MDB_stat st;
    int rc, rv;

    if ((rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn)) != 0)
        return axl_store__mdb_fail(eb, rc, "begin the opening transaction");
    rc = mdb_dbi_open(txn, "meta", 0, &s->dbi[DB_META]);
    if (rc == MDB_NOTFOUND) {
        if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 ||
            (rc = mdb_stat(txn, main_dbi, &st)) != 0) {
            rv = axl_store__mdb_fail(eb, rc, "read the store's main database");
            goto fail;
        }
        if (st.ms_entries != 0) {
            rv = axl_fail(eb, AXL_ECORRUPT,
                          "%s holds an LMDB environment that is not an axle store (no meta)",
                          s->dir);
            goto fail;
        }
        if (rdonly) {
            rv = axl_fail(eb, AXL_ENOENT, "no axle store in %s (the environment is empty)", s->dir);
            goto fail;
        }
        if ((rv = init_new(s, txn, eb)) != 0)
            goto fail;
    } else if (rc == MDB_INCOMPATIBLE) {
        rv = axl_fail(eb, AXL_ECORRUPT, "%s: not an axle store ('meta' is not a database)", s->dir);
        goto fail;
    } else if (rc != 0) {
        rv = axl_store__mdb_fail(eb, rc, "open the store's meta");
        goto fail;
    } else if ((rv = check_existing(s, txn, eb)) != 0) {
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        rv = axl_store__mdb_fail(eb, rc, "commit the opening transaction");
        goto fail;
    }
    return 0;

fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    return rv;
}

/*
 * A writer's files: 0600 (0660 + group), whatever the umask and whatever an older axle
 * left (0644). A file this user does not own (a shared store written by a colleague) is
 * left as it is.
 */
static int restrict_files(axl_store *s, axl_errbuf *eb)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "axle.lock"};
    char path[4096];
    int rv;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct stat st;
        if ((rv = path_join(path, sizeof(path), s->dir, files[i], eb)) != 0)
            return rv;
        if (stat(path, &st) != 0 || st.st_uid != geteuid())
            continue;
        if (s->gid != (gid_t)-1 && st.st_gid != s->gid && chown(path, (uid_t)-1, s->gid) != 0)
            return axl_fail(eb, AXL_EACCES, "cannot give %s to the group: %s", path,
                            strerror(errno));
        if ((st.st_mode & 0777) != s->file_mode && chmod(path, s->file_mode) != 0)
            return axl_fail(eb, AXL_EACCES, "chmod %s: %s", path, strerror(errno));
    }
    return 0;
}

/* The file must hold every page the last commit refers to (else mmap reads would fault). */
static int check_size(axl_store *s, const char *data_path, axl_errbuf *eb)
{
    MDB_envinfo info;
    MDB_stat st;
    struct stat fst;
    int rc;

    if ((rc = mdb_env_info(s->env, &info)) != 0 || (rc = mdb_env_stat(s->env, &st)) != 0)
        return axl_store__mdb_fail(eb, rc, "read the environment info");
    if (stat(data_path, &fst) != 0)
        return axl_fail(eb, errno_code(errno), "stat %s: %s", data_path, strerror(errno));
    uint64_t need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if ((uint64_t)fst.st_size < need)
        return axl_fail(eb, AXL_ECORRUPT,
                        "%s is truncated: %lld bytes, but its last commit needs %llu", data_path,
                        (long long)fst.st_size, (unsigned long long)need);
    return 0;
}

/*
 * A new store's files must survive a power loss too: LMDB syncs their contents, not the
 * directory entries that name them.
 */
static int sync_dir(axl_store *s, axl_errbuf *eb)
{
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return axl_fail(eb, errno_code(e), "sync store directory %s: %s", s->dir, strerror(e));
    }
    close(fd);
    return 0;
}

static int read_last_seq(axl_store *s, MDB_txn *txn, uint64_t *out, axl_errbuf *eb)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi[DB_EVENTS], &cur)) != 0)
        return axl_store__mdb_fail(eb, rc, "open an events cursor");
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc != 0)
        return axl_store__mdb_fail(eb, rc, "read the last event");
    if (k.mv_size != 8)
        return axl_fail(eb, AXL_ECORRUPT, "events: a key of %zu bytes (expected 8)", k.mv_size);
    *out = axl_store__get_be64(k.mv_data);
    return 0;
}

/* Seals every value of db in txn (schema 1 -> 2). */
static int seal_db(axl_store *s, MDB_txn *txn, int db, axl_errbuf *eb)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi[db], &cur)) != 0)
        return axl_store__mdb_fail(eb, rc, "open a cursor for the upgrade");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t need = k.mv_size + v.mv_size + STORE_SUM_LEN;
        if (need > cap) {
            uint8_t *p = realloc(buf, need);
            if (p == NULL) {
                rc = ENOMEM;
                break;
            }
            buf = p;
            cap = need;
        }
        /* key and value point into the page the put rewrites: copy both first */
        memcpy(buf, k.mv_data, k.mv_size);
        memcpy(buf + k.mv_size, v.mv_data, v.mv_size);
        MDB_val nk = {k.mv_size, buf}, nv = {v.mv_size + STORE_SUM_LEN, buf + k.mv_size};
        axl_store__seal(&nk, nv.mv_data, v.mv_size);
        if ((rc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    free(buf);
    if (rc != MDB_NOTFOUND)
        return rc == MDB_MAP_FULL ? AXL_ENOSPC : axl_store__mdb_fail(eb, rc, "upgrade the store");
    return 0;
}

/*
 * Schema 1 (no checksums) -> 2, for a writer: the fold check first (checksums must not
 * bless records the log does not back), then every value sealed and the schema bumped in
 * one write transaction. A crash in between leaves schema 1, upgraded at the next open.
 */
static int upgrade_v1(axl_store *s, axl_errbuf *eb)
{
    axl_errbuf tmp = {{0}};
    MDB_txn *txn;
    int rc, rv;

    if ((rv = axl_store_verify_fold(s, NULL, &tmp)) != 0)
        return axl_fail(eb, rv == AXL_ECORRUPT ? AXL_ECORRUPT : rv,
                        "%s: schema 1 store not upgraded to checksums: %s", s->dir, tmp.msg);
    for (;;) {
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
            return axl_store__mdb_fail(eb, rc, "begin the upgrade");
        static const int dbs[] = {DB_EVENTS, DB_EXPERIMENTS, DB_TRIALS, DB_GENERATORS, DB_LABWARE};
        uint8_t ver[4];
        rv = 0;
        for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]) && rv == 0; i++)
            rv = seal_db(s, txn, dbs[i], eb);
        axl_store__be32(ver, AXL_STORE_SCHEMA);
        if (rv == 0 && (rc = put_meta(txn, s->dbi[DB_META], "schema", ver, 4)) != 0)
            rv = rc == MDB_MAP_FULL ? AXL_ENOSPC : axl_store__mdb_fail(eb, rc, "upgrade meta");
        if (rv != 0) {
            mdb_txn_abort(txn);
            if (rv == AXL_ENOSPC && (rv = axl_store__grow(s, eb)) == 0)
                continue;
            return rv;
        }
        if ((rc = mdb_txn_commit(txn)) == MDB_MAP_FULL) {
            if ((rv = axl_store__grow(s, eb)) != 0)
                return rv;
            continue;
        }
        if (rc != 0)
            return axl_store__mdb_fail(eb, rc, "commit the upgrade");
        break;
    }
    s->schema = AXL_STORE_SCHEMA;
    AXL_INFO("storage", "%s: upgraded the store from schema 1 to %u (checksums)", s->dir,
             AXL_STORE_SCHEMA);
    return 0;
}

/*
 * Creating a store is not atomic: LMDB makes data.mdb, then writes its meta pages, then
 * the schema is committed. A writer killed in between leaves an empty or half-written
 * data.mdb that holds nothing (no experiment is recorded before the open returns). A
 * marker file written before creation and removed once the first commit is durable tells
 * that case apart from a store that was damaged later, which is never re-created.
 */
#define CREATING_MARKER "creating"

static int creation_marker(axl_store *s, bool set, axl_errbuf *eb)
{
    char path[4096];
    int rv;

    if ((rv = path_join(path, sizeof(path), s->dir, CREATING_MARKER, eb)) != 0)
        return rv;
    if (set) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || fsync(fd) != 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return axl_fail(eb, errno_code(e), "write %s: %s", path, strerror(e));
        }
        close(fd);
    } else if (unlink(path) != 0 && errno != ENOENT) {
        int e = errno;
        return axl_fail(eb, errno_code(e), "remove %s: %s", path, strerror(e));
    }
    return sync_dir(s, eb);
}

static bool creation_interrupted(const char *dir)
{
    char path[4096];
    struct stat st;
    return snprintf(path, sizeof(path), "%s/%s", dir, CREATING_MARKER) < (int)sizeof(path) &&
           stat(path, &st) == 0;
}

/* Under the writer lock: drop what an interrupted creation left, so it starts over. */
static int discard_interrupted_creation(axl_store *s, axl_errbuf *eb)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[4096];
    int rv;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if ((rv = path_join(path, sizeof(path), s->dir, files[i], eb)) != 0)
            return rv;
        if (unlink(path) != 0 && errno != ENOENT) {
            int e = errno;
            return axl_fail(eb, errno_code(e), "remove %s: %s", path, strerror(e));
        }
    }
    AXL_WARN("storage",
             "%s: the creation of this store was interrupted before its first "
             "commit; creating it anew",
             s->dir);
    return 0;
}

int axl_store_open(const char *dir, const axl_store_options *opt, axl_store **out, axl_errbuf *eb)
{
    static const axl_store_options defaults = {0, 0, 0, NULL};
    const unsigned known = AXL_STORE_RDONLY | AXL_STORE_NOSYNC | AXL_STORE_NOMETASYNC |
                           AXL_STORE_NOCREATE | AXL_STORE_NOPREALLOC;
    char data_path[4096];
    struct stat st;
    axl_store *s = NULL;
    bool registered = false;
    int rc, rv;

    *out = NULL;
    if (opt == NULL)
        opt = &defaults;
    if (dir == NULL || dir[0] == '\0')
        return axl_fail(eb, AXL_EINVAL, "store directory: empty path");
    if (opt->flags & ~known)
        return axl_fail(eb, AXL_EINVAL, "store options: unknown flags 0x%x", opt->flags & ~known);
    if ((rv = path_join(data_path, sizeof(data_path), dir, "data.mdb", eb)) != 0)
        return rv;
    if (stat(dir, &st) != 0) {
        int e = errno;
        if (e == ENOENT)
            return axl_fail(eb, AXL_ENOENT, "store directory %s does not exist", dir);
        return axl_fail(eb, errno_code(e), "store directory %s: %s", dir, strerror(e));
    }
    if (!S_ISDIR(st.st_mode))
        return axl_fail(eb, AXL_EINVAL, "store directory %s is not a directory", dir);

    if ((s = calloc(1, sizeof(*s))) == NULL || (s->dir = strdup(dir)) == NULL) {
        free(s);
        return axl_fail(eb, AXL_ENOMEM, "out of memory opening a store");
    }
    s->lock_fd = -1;
    s->flags = opt->flags;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->map_max = opt->map_max & ~(size_t)4095;
    s->file_mode = 0600;
    s->gid = (gid_t)-1;
    if (opt->group != NULL) {
        struct group *g = getgrnam(opt->group);
        if (g == NULL) {
            free(s->dir);
            free(s);
            return axl_fail(eb, AXL_EINVAL, "store: no group '%s'", opt->group);
        }
        s->gid = g->gr_gid;
        s->file_mode = 0660;
    }
    pthread_mutex_init(&s->gate_mu, NULL);
    pthread_cond_init(&s->gate_cv, NULL);
    bool rdonly = s->flags & AXL_STORE_RDONLY;

    pthread_mutex_lock(&registry_mu);
    if (registry_find(s->dev, s->ino) != NULL) {
        pthread_mutex_unlock(&registry_mu);
        rv = axl_fail(eb, AXL_EBUSY,
                      "store %s is already open in this process; share that handle (LMDB "
                      "allows one per process)",
                      dir);
        goto fail;
    }
    s->next_open = registry_head;
    registry_head = s;
    registered = true;
    pthread_mutex_unlock(&registry_mu);

    bool exists = stat(data_path, &st) == 0;
    bool may_create = !rdonly && !(s->flags & AXL_STORE_NOCREATE);
    if (creation_interrupted(dir)) {
        if (!may_create) {
            rv = axl_fail(eb, AXL_ENOENT,
                          "no axle store in %s (its creation was interrupted before anything "
                          "was recorded; 'axle run' creates it anew)",
                          dir);
            goto fail;
        }
        if ((rv = take_writer_lock(s, eb)) != 0)
            goto fail;
        if (creation_interrupted(dir)) {
            if ((rv = discard_interrupted_creation(s, eb)) != 0)
                goto fail;
            exists = false;
        } else {
            exists = stat(data_path, &st) == 0; /* another writer finished it meanwhile */
        }
    }
    if (exists && !S_ISREG(st.st_mode)) {
        rv = axl_fail(eb, AXL_ECORRUPT, "%s is not a regular file", data_path);
        goto fail;
    }
    if (exists && st.st_size == 0) {
        rv = axl_fail(eb, AXL_ECORRUPT,
                      "%s is empty (0 bytes): not a store, and not turned into one; remove it "
                      "to start a new store here",
                      data_path);
        goto fail;
    }
    if (!exists && (rdonly || (s->flags & AXL_STORE_NOCREATE))) {
        rv = axl_fail(eb, AXL_ENOENT, "no axle store in %s (no data.mdb)", dir);
        goto fail;
    }
    if (!rdonly && s->lock_fd < 0 && (rv = take_writer_lock(s, eb)) != 0)
        goto fail;
    if (!exists && !rdonly && (rv = creation_marker(s, true, eb)) != 0)
        goto fail;

    if ((rc = mdb_env_create(&s->env)) != 0 || (rc = mdb_env_set_maxdbs(s->env, DB_COUNT)) != 0) {
        rv = axl_store__mdb_fail(eb, rc, "create the LMDB environment");
        goto fail;
    }
    size_t want = opt->map_size != 0 ? opt->map_size : AXL_STORE_DEFAULT_MAP_SIZE;
    if (s->map_max != 0 && want > s->map_max)
        want = s->map_max;
    /* A new store starts with the requested map; an existing one keeps its recorded size. */
    if (!exists && !rdonly && (rc = mdb_env_set_mapsize(s->env, want)) != 0) {
        rv = axl_store__mdb_fail(eb, rc, "set the map size");
        goto fail;
    }
    unsigned mflags = MDB_NOTLS;
    if (rdonly)
        mflags |= MDB_RDONLY;
    if (s->flags & AXL_STORE_NOSYNC)
        mflags |= MDB_NOSYNC;
    if (s->flags & AXL_STORE_NOMETASYNC)
        mflags |= MDB_NOMETASYNC;
    if ((rc = mdb_env_open(s->env, dir, mflags, s->file_mode)) != 0) {
        if (rc == MDB_INVALID)
            rv = axl_fail(eb, AXL_ECORRUPT, "%s is not an LMDB file (foreign or corrupt)",
                          data_path);
        else if (rc == MDB_VERSION_MISMATCH)
            rv = axl_fail(eb, AXL_EVERSION, "%s was written by an incompatible LMDB version",
                          data_path);
        else {
            char what[4200];
            snprintf(what, sizeof(what), "open store %s", dir);
            rv = axl_store__mdb_fail(eb, rc, what);
        }
        goto fail;
    }
    if ((rv = check_size(s, data_path, eb)) != 0)
        goto fail;
    if (!rdonly && (rv = restrict_files(s, eb)) != 0)
        goto fail;
    if (!rdonly) {
        MDB_envinfo info;
        if ((rc = mdb_env_info(s->env, &info)) != 0 ||
            (want > info.me_mapsize && (rc = mdb_env_set_mapsize(s->env, want)) != 0)) {
            rv = axl_store__mdb_fail(eb, rc, "set the map size");
            goto fail;
        }
        int dead = 0;
        mdb_reader_check(s->env, &dead); /* slots of crashed readers */
    }
    /* A new store's first commit may need more than a tiny map_max leaves: grow. */
    for (;;) {
        rv = open_schema(s, eb);
        if (rv != AXL_ENOSPC || rdonly)
            break;
        if ((rv = axl_store__grow(s, eb)) != 0)
            goto fail;
    }
    if (rv != 0)
        goto fail;
    /* The first commit is durable (open_schema syncs): the store exists from here on. */
    if (!rdonly && !exists) {
        if ((rc = mdb_env_sync(s->env, 1)) != 0) {
            rv = axl_store__mdb_fail(eb, rc, "sync the new store");
            goto fail;
        }
        if ((rv = creation_marker(s, false, eb)) != 0)
            goto fail;
    }
    if (!rdonly && s->schema == 1 && (rv = upgrade_v1(s, eb)) != 0)
        goto fail;
    if (!rdonly) {
        MDB_txn *txn;
        uint64_t last = 0;
        if ((rv = axl_store__read_begin(s, &txn, eb)) != 0)
            goto fail;
        rv = read_last_seq(s, txn, &last, eb);
        axl_store__read_end(s, txn);
        if (rv != 0)
            goto fail;
        s->next_seq = last + 1;
        axl_store__prealloc(s);
    }
    *out = s;
    return 0;

fail:
    if (s->env != NULL)
        mdb_env_close(s->env);
    if (registered)
        registry_remove(s);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_cond_destroy(&s->gate_cv);
    pthread_mutex_destroy(&s->gate_mu);
    free(s->dir);
    free(s);
    return rv;
}

void axl_store_close(axl_store *s)
{
    if (s == NULL)
        return;
    if (!(s->flags & AXL_STORE_RDONLY) && (s->flags & (AXL_STORE_NOSYNC | AXL_STORE_NOMETASYNC)))
        mdb_env_sync(s->env, 1);
    axl_store__prealloc_trim(s);
    mdb_env_close(s->env);
    registry_remove(s);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the writer lock */
    pthread_cond_destroy(&s->gate_cv);
    pthread_mutex_destroy(&s->gate_mu);
    free(s->dir);
    free(s);
}

int axl_store_sync(axl_store *s, axl_errbuf *eb)
{
    if (s->flags & AXL_STORE_RDONLY)
        return axl_fail(eb, AXL_ESTATE, "sync: the store is open read-only");
    int rc = mdb_env_sync(s->env, 1);
    return rc != 0 ? axl_store__mdb_fail(eb, rc, "sync the store") : 0;
}

int axl_store_info_get(axl_store *s, axl_store_info *out, axl_errbuf *eb)
{
    MDB_envinfo info;
    MDB_stat st;
    MDB_txn *txn;
    struct stat fst;
    char path[4096];
    int rc, rv;

    memset(out, 0, sizeof(*out));
    out->dir = s->dir;
    out->schema = s->schema;
    out->flags = s->flags;
    pthread_mutex_lock(&s->gate_mu);
    out->map_grows = s->map_grows;
    pthread_mutex_unlock(&s->gate_mu);
    if ((rv = path_join(path, sizeof(path), s->dir, "data.mdb", eb)) != 0)
        return rv;
    if (stat(path, &fst) != 0)
        return axl_fail(eb, errno_code(errno), "stat %s: %s", path, strerror(errno));
    out->file_bytes = (uint64_t)fst.st_size;
    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0)
        return rv;
    if ((rc = mdb_stat(txn, s->dbi[DB_EVENTS], &st)) != 0)
        rv = axl_store__mdb_fail(eb, rc, "read the log's size");
    else {
        out->n_events = st.ms_entries;
        rv = read_last_seq(s, txn, &out->last_seq, eb);
    }
    axl_store__read_end(s, txn);
    if (rv == 0 && (rc = mdb_env_info(s->env, &info)) != 0)
        rv = axl_store__mdb_fail(eb, rc, "read the map size");
    if (rv == 0)
        out->map_size = info.me_mapsize;
    return rv;
}

int axl_store_last_seq(axl_store *s, uint64_t *out, axl_errbuf *eb)
{
    MDB_txn *txn;
    int rv;

    *out = 0;
    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0)
        return rv;
    rv = read_last_seq(s, txn, out, eb);
    axl_store__read_end(s, txn);
    return rv;
}
