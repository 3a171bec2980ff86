/* Fold: the log alone rebuilds the records; verify that, or rebuild a store from it. */
#include "storage/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* One record event of the log, borrowed from the read txn's map. */
typedef struct fold_ent {
    const char *exp;
    const void *body;
    size_t body_len;
    uint64_t seq;
    uint32_t trial;
    uint16_t exp_len;
    uint8_t kind; /* axl_rec_kind */
} fold_ent;

typedef struct ent_vec {
    fold_ent *v;
    size_t n, cap;
} ent_vec;

static int vec_push(ent_vec *a, const fold_ent *e)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        fold_ent *p = realloc(a->v, cap * sizeof(*p));
        if (p == NULL)
            return AXL_ENOMEM;
        a->v = p;
        a->cap = cap;
    }
    a->v[a->n++] = *e;
    return 0;
}

/*
 * Orders like the LMDB keys the entries stand for (memcmp, then length): names compare
 * bytewise with a prefix first, which is also the order of "name 0x00 ..." keys because
 * names hold no NUL; then the trial index, and the seq.
 */
static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return c;
    return (an > bn) - (an < bn);
}

static int ent_cmp(const void *pa, const void *pb)
{
    const fold_ent *a = pa, *b = pb;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    int c = name_cmp(a->exp, a->exp_len, b->exp, b->exp_len);
    if (c != 0)
        return c;
    if (a->trial != b->trial)
        return a->trial < b->trial ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

static bool same_entity(const fold_ent *a, const fold_ent *b)
{
    return a->kind == b->kind && a->trial == b->trial && a->exp_len == b->exp_len &&
           memcmp(a->exp, b->exp, a->exp_len) == 0;
}

static size_t ent_key(const fold_ent *e, uint8_t *buf)
{
    if (e->kind == AXL_REC_TRIAL)
        return axl_store__trial_key(buf, e->exp, e->exp_len, e->trial);
    memcpy(buf, e->exp, e->exp_len);
    return e->exp_len;
}

static int key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    return name_cmp(a, an, b, bn);
}

typedef struct verify {
    axl_store_fold_report rep;
    axl_errbuf *eb;
    bool noted; /* the first mismatch is in eb */
} verify;

/* Counts a difference; the first one goes to eb as "<db> <name>[ trial i]: <reason>". */
static void mismatch(verify *vf, const char *db, const void *key, size_t key_len,
                     const char *reason)
{
    vf->rep.mismatches++;
    if (vf->noted)
        return;
    vf->noted = true;
    size_t n = strnlen(key, key_len); /* the name part of the key */
    char trial[24] = "";
    if (key_len == n + 5)
        snprintf(trial, sizeof(trial), " trial %u",
                 axl_store__get_be32((const uint8_t *)key + n + 1));
    axl_fail(vf->eb, AXL_ECORRUPT, "%s record of '%.*s'%s: %s", db, (int)n, (const char *)key,
             trial, reason);
}

/* Reads the log: dense seqs, decodable events, the record events into ents. */
static int fold_log(axl_store *s, MDB_txn *txn, ent_vec *ents, verify *vf)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t expect = 1;
    int rc, rv = 0;

    if ((rc = mdb_cursor_open(txn, s->dbi[DB_EVENTS], &cur)) != 0)
        return axl_store__mdb_fail(vf->eb, rc, "open an events cursor");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), expect++) {
        axl_event ev;
        axl_errbuf tmp;
        if (k.mv_size != 8) {
            rv = axl_fail(vf->eb, AXL_ECORRUPT, "log: a key of %zu bytes after seq %llu", k.mv_size,
                          (unsigned long long)(expect - 1));
            break;
        }
        uint64_t seq = axl_store__get_be64(k.mv_data);
        if (seq != expect) {
            rv = axl_fail(vf->eb, AXL_ECORRUPT, "log: seq %llu where %llu was expected (gap)",
                          (unsigned long long)seq, (unsigned long long)expect);
            break;
        }
        if (!axl_store__unseal(s, &k, &v)) {
            rv = axl_store__bad_sum(vf->eb, DB_EVENTS, &k);
            break;
        }
        if (axl_event_decode(v.mv_data, v.mv_size, &ev, &tmp) != 0) {
            rv = axl_fail(vf->eb, AXL_ECORRUPT, "log: event %llu does not decode: %s",
                          (unsigned long long)seq, tmp.msg);
            break;
        }
        if (ev.seq != seq) {
            rv = axl_fail(vf->eb, AXL_ECORRUPT, "log: the event under key %llu says seq %llu",
                          (unsigned long long)seq, (unsigned long long)ev.seq);
            break;
        }
        vf->rep.events++;
        if (ev.rec == AXL_REC_NONE)
            continue;
        if (!axl_store__name_ok(ev.experiment, ev.experiment_len)) {
            rv = axl_fail(vf->eb, AXL_ECORRUPT, "log: event %llu has a record but a bad name",
                          (unsigned long long)seq);
            break;
        }
        vf->rep.rec_events++;
        fold_ent e = {ev.experiment,
                      ev.body,
                      ev.body_len,
                      seq,
                      ev.rec == AXL_REC_TRIAL ? (uint32_t)ev.trial : 0,
                      (uint16_t)ev.experiment_len,
                      (uint8_t)ev.rec};
        if (vec_push(ents, &e) != 0) {
            rv = axl_fail(vf->eb, AXL_ENOMEM, "out of memory folding the log");
            break;
        }
    }
    mdb_cursor_close(cur);
    if (rv == 0 && rc != MDB_NOTFOUND)
        rv = axl_store__mdb_fail(vf->eb, rc, "read the log");
    return rv;
}

/*
 * Compares one record database with the folded entries of its kind, ents[0..n) sorted,
 * keeping the last entry of each entity.
 */
static int compare_db(axl_store *s, MDB_txn *txn, int db, const fold_ent *ents, size_t n,
                      verify *vf)
{
    const char *what = axl_store__db_names[db];
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t kb[STORE_MAX_KEY];
    size_t i = 0;
    int rc, rv = 0;

    if ((rc = mdb_cursor_open(txn, s->dbi[db], &cur)) != 0)
        return axl_store__mdb_fail(vf->eb, rc, "open a records cursor");
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (;;) {
        while (i + 1 < n && same_entity(&ents[i], &ents[i + 1]))
            i++; /* last body wins */
        bool have_rec = rc == 0, have_ent = i < n;
        if (!have_rec && !have_ent)
            break;
        size_t kl = have_ent ? ent_key(&ents[i], kb) : 0;
        int c = !have_rec ? 1 : !have_ent ? -1 : key_cmp(k.mv_data, k.mv_size, kb, kl);
        if (c < 0) {
            mismatch(vf, what, k.mv_data, k.mv_size, "a record that no event wrote");
            vf->rep.records++;
        } else if (c > 0) {
            mismatch(vf, what, kb, kl, "the log has it, the store does not");
            i++;
            continue;
        } else if (!axl_store__unseal(s, &k, &v)) {
            vf->rep.records++;
            mismatch(vf, what, k.mv_data, k.mv_size,
                     "checksum mismatch (its stored bytes changed)");
            i++;
        } else {
            vf->rep.records++;
            if (v.mv_size != ents[i].body_len || memcmp(v.mv_data, ents[i].body, v.mv_size) != 0)
                mismatch(vf, what, k.mv_data, k.mv_size,
                         "differs from the body of the log's last event for it");
            i++;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
        rv = axl_store__mdb_fail(vf->eb, rc, "read the records");
    mdb_cursor_close(cur);
    return rv;
}

int axl_store_verify_fold(axl_store *s, axl_store_fold_report *rep, axl_errbuf *eb)
{
    static const int dbs[] = {DB_TRIALS, DB_EXPERIMENTS, DB_GENERATORS, DB_LABWARE};
    ent_vec ents = {0};
    verify vf = {{0}, eb, false};
    MDB_txn *txn;
    int rv;

    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0)
        return rv;
    if ((rv = fold_log(s, txn, &ents, &vf)) != 0)
        goto out;
    if (ents.n > 1)
        qsort(ents.v, ents.n, sizeof(*ents.v), ent_cmp);
    for (size_t d = 0; d < sizeof(dbs) / sizeof(dbs[0]) && rv == 0; d++) {
        /* The entries of this database's kind form one run of the sorted array. */
        size_t lo = 0, hi;
        axl_rec_kind kind = dbs[d] == DB_TRIALS        ? AXL_REC_TRIAL
                            : dbs[d] == DB_EXPERIMENTS ? AXL_REC_EXPERIMENT
                            : dbs[d] == DB_GENERATORS  ? AXL_REC_GENERATOR
                                                       : AXL_REC_LABWARE;
        while (lo < ents.n && ents.v[lo].kind < kind)
            lo++;
        for (hi = lo; hi < ents.n && ents.v[hi].kind == kind; hi++)
            ;
        rv = compare_db(s, txn, dbs[d], hi > lo ? ents.v + lo : NULL, hi - lo, &vf);
    }
    if (rv == 0 && vf.rep.mismatches > 0)
        rv = AXL_ECORRUPT; /* eb holds the first one */
out:
    axl_store__read_end(s, txn);
    free(ents.v);
    if (rep != NULL)
        *rep = vf.rep;
    return rv;
}

/* ---- rebuild ---- */

#define REBUILD_CHUNK 4096

/* Applies the events [from, to] of the source cursor to dst in one write txn. */
static int rebuild_chunk(axl_store *s, axl_store *dst, MDB_cursor *src, uint64_t from, uint64_t to,
                         uint64_t *done, axl_errbuf *eb)
{
    uint8_t kb[8];
    MDB_val k = {8, kb}, v;
    MDB_txn *txn;
    uint64_t seq = from;
    int rc;

    axl_store__be64(kb, from);
    if ((rc = mdb_txn_begin(dst->env, NULL, 0, &txn)) != 0)
        return axl_store__mdb_fail(eb, rc, "begin a write transaction");
    for (rc = mdb_cursor_get(src, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(src, &k, &v, MDB_NEXT), seq++) {
        axl_event ev;
        axl_trial_status st;
        axl_errbuf tmp;
        if (k.mv_size != 8 || axl_store__get_be64(k.mv_data) != seq) {
            mdb_txn_abort(txn);
            return axl_fail(eb, AXL_ECORRUPT, "rebuild: the source log is not dense at %llu",
                            (unsigned long long)seq);
        }
        if (seq > to || seq >= from + REBUILD_CHUNK)
            break;
        if (!axl_store__unseal(s, &k, &v)) {
            mdb_txn_abort(txn);
            return axl_store__bad_sum(eb, DB_EVENTS, &k);
        }
        if (axl_event_decode(v.mv_data, v.mv_size, &ev, &tmp) != 0 ||
            (ev.rec == AXL_REC_TRIAL && axl_store__trial_status(ev.body, ev.body_len, &st)) ||
            (ev.rec != AXL_REC_NONE && !axl_store__name_ok(ev.experiment, ev.experiment_len))) {
            mdb_txn_abort(txn);
            return axl_fail(eb, AXL_ECORRUPT, "rebuild: event %llu is damaged",
                            (unsigned long long)seq);
        }
        rc = axl_store__apply(dst, txn, seq, v.mv_data, v.mv_size, ev.rec, ev.experiment,
                              ev.experiment_len, ev.trial, ev.body, ev.body_len);
        if (rc != 0)
            break;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_MAP_FULL ? AXL_EAGAIN : axl_store__mdb_fail(eb, rc, "rebuild");
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return rc == MDB_MAP_FULL ? AXL_EAGAIN : axl_store__mdb_fail(eb, rc, "rebuild commit");
    *done = seq - 1;
    return 0;
}

int axl_store_rebuild(axl_store *s, const char *dst_dir, axl_errbuf *eb)
{
    const axl_store_options dopt = {AXL_STORE_NOSYNC, 0, 0, NULL};
    axl_store *dst = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    char path[4096];
    struct stat st;
    int rc, rv;

    if (snprintf(path, sizeof(path), "%s/data.mdb", dst_dir) >= (int)sizeof(path))
        return axl_fail(eb, AXL_EINVAL, "rebuild: path too long");
    if (stat(path, &st) == 0)
        return axl_fail(eb, AXL_EEXIST, "rebuild: %s already holds a store", dst_dir);
    if ((rv = axl_store_open(dst_dir, &dopt, &dst, eb)) != 0)
        return rv;
    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0) {
        txn = NULL;
        goto out;
    }
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_EVENTS], &cur)) != 0) {
        rv = axl_store__mdb_fail(eb, rc, "open an events cursor");
        goto out;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    uint64_t last = rc == 0 && k.mv_size == 8 ? axl_store__get_be64(k.mv_data) : 0;
    for (uint64_t from = 1; from <= last;) {
        uint64_t done = 0;
        rv = rebuild_chunk(s, dst, cur, from, last, &done, eb);
        if (rv == AXL_EAGAIN) { /* map full: grow, redo the chunk */
            if ((rv = axl_store__grow(dst, eb)) != 0)
                goto out;
            continue;
        }
        if (rv != 0)
            goto out;
        from = done + 1;
    }
    dst->next_seq = last + 1;
    rv = axl_store_sync(dst, eb);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        axl_store__read_end(s, txn);
    axl_store_close(dst);
    return rv;
}
