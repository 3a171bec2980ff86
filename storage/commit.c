/* The one write path: events and the records they carry, in one LMDB write transaction. */
#include "storage/store_int.h"

#include <errno.h>
#include <sys/statvfs.h>

static const uint8_t empty_map = 0x80;

/* Puts val[0..len) sealed (storage/store_int.h) under k, written once into LMDB's page. */
static int put_sealed(MDB_txn *txn, MDB_dbi dbi, const MDB_val *k, const void *val, size_t len,
                      unsigned flags)
{
    MDB_val v = {len + STORE_SUM_LEN, NULL};
    int rc = mdb_put(txn, dbi, (MDB_val *)k, &v, flags | MDB_RESERVE);
    if (rc != 0)
        return rc;
    memcpy(v.mv_data, val, len);
    axl_store__seal(k, v.mv_data, len);
    return 0;
}

int axl_store__apply(axl_store *s, MDB_txn *txn, uint64_t seq, const void *enc, size_t enc_len,
                     axl_rec_kind rec, const char *exp, size_t exp_len, int64_t trial,
                     const void *body, size_t body_len)
{
    uint8_t kseq[8], key[STORE_MAX_KEY];
    MDB_val k;
    int rc;

    /* The log: MDB_APPEND keeps pages full and refuses a seq that is not above the last. */
    axl_store__be64(kseq, seq);
    k = (MDB_val){8, kseq};
    if ((rc = put_sealed(txn, s->dbi[DB_EVENTS], &k, enc, enc_len, MDB_APPEND)) != 0)
        return rc;
    if (rec == AXL_REC_NONE)
        return 0;

    /* The record the event carries: its body, byte for byte. */
    if (body == NULL || body_len == 0) {
        body = &empty_map;
        body_len = 1;
    }
    if (rec == AXL_REC_TRIAL)
        k = (MDB_val){axl_store__trial_key(key, exp, exp_len, (uint32_t)trial), key};
    else
        k = (MDB_val){exp_len, (void *)exp};
    return put_sealed(txn, s->dbi[axl_store__rec_db(rec)], &k, body, body_len, 0);
}

/* A short write (LMDB reports EIO) on a full disk is a full disk: say so. */
static bool disk_nearly_full(const char *dir, size_t need)
{
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return false;
    return (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)need + (1u << 20);
}

int axl_store_commit(axl_store *s, axl_store_batch *b, uint64_t *first_seq, axl_errbuf *eb)
{
    MDB_txn *txn = NULL;
    int rc, rv;

    if (s->flags & AXL_STORE_RDONLY)
        return axl_fail(eb, AXL_ESTATE, "commit: the store is open read-only");
    if (b->committed)
        return axl_fail(eb, AXL_ESTATE, "commit: the batch was committed already");
    if (first_seq != NULL)
        *first_seq = s->next_seq;
    if (b->n == 0)
        return 0;
    if ((rv = axl_store__batch_encode(b, s->next_seq, eb)) != 0)
        return rv;

    for (;;) {
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
            return axl_store__mdb_fail(eb, rc, "begin a write transaction");
        for (size_t i = 0; i < b->n && rc == 0; i++) {
            const store_item *it = &b->items[i];
            const char *enc = b->enc.data + it->enc_off;
            rc = axl_store__apply(s, txn, s->next_seq + i, enc, it->enc_len, it->rec,
                                  enc + it->exp_off - it->shift, it->exp_len, it->trial,
                                  enc + it->body_off - it->shift, it->body_len);
        }
        if (rc == 0)
            rc = mdb_txn_commit(txn); /* frees txn, also on error */
        else
            mdb_txn_abort(txn);
        txn = NULL;
        if (rc != MDB_MAP_FULL)
            break;
        if ((rv = axl_store__grow(s, eb)) != 0)
            return rv;
    }
    if (rc == MDB_KEYEXIST)
        return axl_fail(eb, AXL_ESTATE,
                        "commit: the log already holds seq %llu; was the store written by "
                        "another handle?",
                        (unsigned long long)s->next_seq);
    if (rc == EIO && disk_nearly_full(s->dir, b->enc.size * 2))
        rc = ENOSPC;
    if (rc == ENOSPC)
        return axl_fail(eb, AXL_ENOSPC,
                        "commit of %zu events: no space left on the device holding %s; "
                        "nothing of the batch was written",
                        b->n, s->dir);
    if (rc != 0)
        return axl_store__mdb_fail(eb, rc, "commit");
    b->first_seq = s->next_seq;
    b->committed = true;
    s->next_seq += b->n;
    axl_store__prealloc(s); /* for the next commits; cheap unless the slack ran low */
    if (++s->commits % 4096 == 0) {
        int dead = 0; /* free the reader slots of crashed readers, so pages get reused */
        mdb_reader_check(s->env, &dead);
    }
    return 0;
}
