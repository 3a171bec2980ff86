/* Read paths: experiments, records, trials by status, resume loads and event cursors. */
#include "storage/store_int.h"

#include <stdlib.h>

static int name_arg(const char *experiment, size_t *len, axl_errbuf *eb)
{
    *len = experiment != NULL ? strlen(experiment) : 0;
    if (!axl_store__name_ok(experiment, *len))
        return axl_fail(eb, AXL_EINVAL, "experiment name: must be 1-%d bytes", STORE_MAX_NAME);
    return 0;
}

int axl_store_experiments(axl_store *s, char ***names, size_t *n, axl_errbuf *eb)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t count = 0, bytes = 0;
    char **arr = NULL;
    int rc, rv;

    *names = NULL;
    *n = 0;
    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0)
        return rv;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_EXPERIMENTS], &cur)) != 0) {
        rv = axl_store__mdb_fail(eb, rc, "open an experiments cursor");
        goto out;
    }
    /* Two passes in one snapshot: size the block, then fill it. */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        count++;
        bytes += k.mv_size + 1;
    }
    if (rc != MDB_NOTFOUND) {
        rv = axl_store__mdb_fail(eb, rc, "read the experiments");
        goto out;
    }
    if (count == 0)
        goto out;
    if ((arr = malloc(count * sizeof(char *) + bytes)) == NULL) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory listing %zu experiments", count);
        goto out;
    }
    char *p = (char *)(arr + count);
    size_t i = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && i < count;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), i++) {
        arr[i] = p;
        memcpy(p, k.mv_data, k.mv_size);
        p[k.mv_size] = '\0';
        p += k.mv_size + 1;
    }
    *names = arr;
    *n = count;
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    axl_store__read_end(s, txn);
    return rv;
}

static void *copy_val(const MDB_val *v)
{
    void *p = malloc(v->mv_size ? v->mv_size : 1);
    if (p != NULL)
        memcpy(p, v->mv_data, v->mv_size);
    return p;
}

/*
 * Looks up a record in txn and checks its seal: 0 with *v set (the payload), MDB_NOTFOUND,
 * AXL_ECORRUPT (a bad checksum, named in eb), or another LMDB code.
 */
static int get_rec(axl_store *s, MDB_txn *txn, axl_rec_kind kind, const char *exp, size_t exp_len,
                   uint32_t trial, MDB_val *v, axl_errbuf *eb)
{
    uint8_t key[STORE_MAX_KEY];
    MDB_val k = {exp_len, (void *)exp};
    int db = axl_store__rec_db(kind);
    if (kind == AXL_REC_TRIAL)
        k = (MDB_val){axl_store__trial_key(key, exp, exp_len, trial), key};
    int rc = mdb_get(txn, s->dbi[db], &k, v);
    if (rc == 0 && !axl_store__unseal(s, &k, v))
        return axl_store__bad_sum(eb, db, &k);
    return rc;
}

int axl_store_get_record(axl_store *s, axl_rec_kind kind, const char *experiment, uint32_t trial,
                         void **data, size_t *len, axl_errbuf *eb)
{
    MDB_txn *txn;
    MDB_val v;
    size_t exp_len;
    int rc, rv;

    *data = NULL;
    *len = 0;
    if (axl_store__rec_db(kind) < 0)
        return axl_fail(eb, AXL_EINVAL, "record kind %d has no records", (int)kind);
    if ((rv = name_arg(experiment, &exp_len, eb)) != 0)
        return rv;
    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0)
        return rv;
    rc = get_rec(s, txn, kind, experiment, exp_len, trial, &v, eb);
    if (rc == AXL_ECORRUPT)
        rv = rc;
    else if (rc == MDB_NOTFOUND)
        rv = kind == AXL_REC_TRIAL
                 ? axl_fail(eb, AXL_ENOENT, "no trial %u in experiment %s", trial, experiment)
                 : axl_fail(eb, AXL_ENOENT, "no %s record for experiment %s",
                            axl_rec_kind_name(kind), experiment);
    else if (rc != 0)
        rv = axl_store__mdb_fail(eb, rc, "read a record");
    else if ((*data = copy_val(&v)) == NULL)
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory copying a record");
    else
        *len = v.mv_size;
    axl_store__read_end(s, txn);
    return rv;
}

/*
 * Walks the keys of db that start with prefix[0..plen) and are plen + tail bytes long,
 * in order, calling fn; within the caller's txn. fn's non-zero return stops the walk and
 * is returned.
 */
typedef int (*walk_fn)(void *ud, const MDB_val *k, const MDB_val *v);

static int walk_prefix(axl_store *s, MDB_txn *txn, int db, const uint8_t *prefix, size_t plen,
                       size_t tail, walk_fn fn, void *ud, axl_errbuf *eb)
{
    MDB_dbi dbi = s->dbi[db];
    MDB_cursor *cur;
    MDB_val k = {plen, (void *)prefix}, v;
    int rc, rv = 0;

    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return axl_store__mdb_fail(eb, rc, "open a cursor");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (k.mv_size != plen + tail)
            continue; /* cannot happen for keys this store wrote */
        if (!axl_store__unseal(s, &k, &v)) {
            rv = axl_store__bad_sum(eb, db, &k);
            break;
        }
        if ((rv = fn(ud, &k, &v)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
        rv = axl_store__mdb_fail(eb, rc, "walk a database");
    return rv;
}

typedef struct scan_ctx {
    size_t plen;
    axl_store_trial_fn fn;
    void *ud;
} scan_ctx;

static int scan_one(void *ud, const MDB_val *k, const MDB_val *v)
{
    scan_ctx *c = ud;
    uint32_t index = axl_store__get_be32((const uint8_t *)k->mv_data + c->plen);
    return c->fn(c->ud, index, v->mv_data, v->mv_size);
}

int axl_store_scan_trials(axl_store *s, const char *experiment, axl_store_trial_fn fn, void *ud,
                          axl_errbuf *eb)
{
    uint8_t prefix[STORE_MAX_KEY];
    MDB_txn *txn;
    size_t exp_len;
    int rv;

    if ((rv = name_arg(experiment, &exp_len, eb)) != 0)
        return rv;
    memcpy(prefix, experiment, exp_len);
    prefix[exp_len] = 0;
    scan_ctx c = {exp_len + 1, fn, ud};
    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0)
        return rv;
    rv = walk_prefix(s, txn, DB_TRIALS, prefix, exp_len + 1, 4, scan_one, &c, eb);
    axl_store__read_end(s, txn);
    return rv;
}

typedef struct status_scan {
    unsigned mask;
    uint32_t *v;
    size_t n, cap;
    int rv;
} status_scan;

static int collect_status(void *ud, uint32_t index, const void *data, size_t len)
{
    status_scan *c = ud;
    axl_trial_status st;
    if (axl_store__trial_status(data, len, &st) != 0)
        return c->rv = AXL_ECORRUPT;
    if (!(c->mask & AXL_STORE_STATUS_BIT(st)))
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        uint32_t *p = realloc(c->v, cap * sizeof(*p));
        if (p == NULL)
            return c->rv = AXL_ENOMEM;
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = index;
    return 0;
}

/*
 * A scan of the experiment's trial records reading each one's status in place (about
 * 0.2 us a trial): no index to keep in step, and two pages fewer to write per commit.
 */
int axl_store_trials_by_status(axl_store *s, const char *experiment, unsigned status_mask,
                               uint32_t **indices, size_t *n, axl_errbuf *eb)
{
    status_scan c = {status_mask, NULL, 0, 0, 0};
    int rv;

    *indices = NULL;
    *n = 0;
    rv = axl_store_scan_trials(s, experiment, collect_status, &c, eb);
    if (rv != 0 && c.rv != 0)
        rv = c.rv == AXL_ENOMEM
                 ? axl_fail(eb, AXL_ENOMEM, "out of memory listing trials by status")
                 : axl_fail(eb, AXL_ECORRUPT, "experiment %s: a trial record without a status",
                            experiment);
    if (rv != 0) {
        free(c.v);
        return rv;
    }
    *indices = c.v;
    *n = c.n;
    return 0;
}

/* ---- load ---- */

typedef struct load_ctx {
    axl_store_experiment *e;
    size_t cap;
    int rv;
    axl_errbuf *eb;
} load_ctx;

static int load_trial(void *ud, uint32_t index, const void *data, size_t len)
{
    load_ctx *c = ud;
    axl_store_experiment *e = c->e;
    axl_errbuf tmp;
    if (e->n_trials == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        axl_trial_rec *t = realloc(e->trials, cap * sizeof(*t));
        if (t == NULL)
            return axl_fail(c->eb, AXL_ENOMEM, "out of memory loading trials");
        e->trials = t;
        c->cap = cap;
    }
    int rv = axl_trial_rec_decode(data, len, &e->trials[e->n_trials], &tmp);
    if (rv == AXL_ENOMEM)
        return axl_fail(c->eb, rv, "out of memory loading trials");
    if (rv != 0)
        return axl_fail(c->eb, AXL_ECORRUPT, "experiment %s, trial %u: %s", e->name, index,
                        tmp.msg);
    e->n_trials++;
    return 0;
}

void axl_store_experiment_free(axl_store_experiment *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_trials; i++)
        axl_trial_rec_free(&e->trials[i]);
    free(e->trials);
    free(e->experiment);
    free(e->generator);
    free(e->labware);
    free(e->name);
    free(e);
}

/* Copies an optional record: absent is fine (NULL/0). */
static int load_opt(axl_store *s, MDB_txn *txn, axl_rec_kind kind, const char *exp, size_t exp_len,
                    void **data, size_t *len, axl_errbuf *eb)
{
    MDB_val v;
    int rc = get_rec(s, txn, kind, exp, exp_len, 0, &v, eb);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == AXL_ECORRUPT)
        return rc;
    if (rc != 0)
        return axl_store__mdb_fail(eb, rc, "read a record");
    if ((*data = copy_val(&v)) == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory copying a record");
    *len = v.mv_size;
    return 0;
}

int axl_store_load(axl_store *s, const char *experiment, axl_store_experiment **out, axl_errbuf *eb)
{
    uint8_t prefix[STORE_MAX_KEY];
    axl_store_experiment *e = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t exp_len;
    int rc, rv;

    *out = NULL;
    if ((rv = name_arg(experiment, &exp_len, eb)) != 0)
        return rv;
    if ((e = calloc(1, sizeof(*e))) == NULL || (e->name = strdup(experiment)) == NULL) {
        free(e);
        return axl_fail(eb, AXL_ENOMEM, "out of memory loading an experiment");
    }
    if ((rv = axl_store__read_begin(s, &txn, eb)) != 0) {
        txn = NULL;
        goto fail;
    }
    rc = get_rec(s, txn, AXL_REC_EXPERIMENT, experiment, exp_len, 0, &v, eb);
    if (rc == AXL_ECORRUPT) {
        rv = rc;
        goto fail;
    }
    if (rc == MDB_NOTFOUND) {
        rv = axl_fail(eb, AXL_ENOENT, "no experiment %s in the store", experiment);
        goto fail;
    }
    if (rc != 0) {
        rv = axl_store__mdb_fail(eb, rc, "read the experiment record");
        goto fail;
    }
    if ((e->experiment = copy_val(&v)) == NULL) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory loading an experiment");
        goto fail;
    }
    e->experiment_len = v.mv_size;
    if ((rv = load_opt(s, txn, AXL_REC_GENERATOR, experiment, exp_len, &e->generator,
                       &e->generator_len, eb)) != 0 ||
        (rv = load_opt(s, txn, AXL_REC_LABWARE, experiment, exp_len, &e->labware, &e->labware_len,
                       eb)) != 0)
        goto fail;

    memcpy(prefix, experiment, exp_len);
    prefix[exp_len] = 0;
    load_ctx c = {e, 0, 0, eb};
    scan_ctx sc = {exp_len + 1, load_trial, &c};
    if ((rv = walk_prefix(s, txn, DB_TRIALS, prefix, exp_len + 1, 4, scan_one, &sc, eb)))
        goto fail;

    if ((rc = mdb_cursor_open(txn, s->dbi[DB_EVENTS], &cur)) != 0 ||
        ((rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) != 0 && rc != MDB_NOTFOUND)) {
        rv = axl_store__mdb_fail(eb, rc, "read the last event");
        goto fail;
    }
    e->last_seq = rc == 0 && k.mv_size == 8 ? axl_store__get_be64(k.mv_data) : 0;
    mdb_cursor_close(cur);
    axl_store__read_end(s, txn);
    *out = e;
    return 0;

fail:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        axl_store__read_end(s, txn);
    axl_store_experiment_free(e);
    return rv;
}

/* ---- the event iterator ---- */

struct axl_store_iter {
    axl_store *s;
    MDB_txn *txn;
    MDB_cursor *cur;
    uint64_t next; /* the smallest seq still to return */
    uint64_t to;
    bool started;
    bool done;
};

int axl_store_iter_open(axl_store *s, uint64_t from, uint64_t to, axl_store_iter **out,
                        axl_errbuf *eb)
{
    axl_store_iter *it;
    MDB_val k, v;
    int rc, rv;

    *out = NULL;
    if ((it = calloc(1, sizeof(*it))) == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory opening an iterator");
    it->s = s;
    it->next = from ? from : 1;
    it->to = to;
    if ((rv = axl_store__read_begin(s, &it->txn, eb)) != 0) {
        free(it);
        return rv;
    }
    if ((rc = mdb_cursor_open(it->txn, s->dbi[DB_EVENTS], &it->cur)) != 0) {
        axl_store__read_end(s, it->txn);
        free(it);
        return axl_store__mdb_fail(eb, rc, "open an events cursor");
    }
    if (it->to == 0) {
        rc = mdb_cursor_get(it->cur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == 8)
            it->to = axl_store__get_be64(k.mv_data);
        else
            it->done = true; /* empty log */
    }
    if (it->next > it->to)
        it->done = true;
    *out = it;
    return 0;
}

int axl_store_iter_next(axl_store_iter *it, uint64_t *seq, const void **data, size_t *len,
                        axl_errbuf *eb)
{
    uint8_t kb[8];
    MDB_val k, v;
    int rc;

    if (it->done)
        return AXL_ENOENT;
    if (!it->started) {
        axl_store__be64(kb, it->next);
        k = (MDB_val){8, kb};
        rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
        it->started = true;
    } else {
        rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) {
        it->done = true;
        return AXL_ENOENT;
    }
    if (rc != 0)
        return axl_store__mdb_fail(eb, rc, "read the log");
    if (k.mv_size != 8)
        return axl_fail(eb, AXL_ECORRUPT, "events: a key of %zu bytes (expected 8)", k.mv_size);
    uint64_t sq = axl_store__get_be64(k.mv_data);
    if (sq > it->to) {
        it->done = true;
        return AXL_ENOENT;
    }
    if (!axl_store__unseal(it->s, &k, &v))
        return axl_store__bad_sum(eb, DB_EVENTS, &k);
    it->next = sq + 1;
    *seq = sq;
    *data = v.mv_data;
    *len = v.mv_size;
    return 0;
}

void axl_store_iter_close(axl_store_iter *it)
{
    if (it == NULL)
        return;
    mdb_cursor_close(it->cur);
    axl_store__read_end(it->s, it->txn);
    free(it);
}
