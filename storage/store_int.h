/*
 * store_int.h - what the files of storage/ share and nobody else sees.
 * Cross-file internal names carry the axl_store__ prefix (double underscore).
 */
#ifndef AXL_STORE_INT_H
#define AXL_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <xxhash.h>
#if defined(__x86_64__)
/* libxxhash's runtime dispatch: XXH3 with AVX2 (or AVX-512) when the CPU has it, SSE2
 * otherwise; the same hash values. The plain entry points are SSE2 only, which made the
 * seal check ~70 ns slower per 400-byte event (storage/README.md, "What it costs"). */
#include <xxh_x86dispatch.h>
#endif

#include "storage/axl_store.h"

/* The named databases of the environment (storage/README.md). */
enum {
    DB_META = 0,    /* "schema" -> u32 BE, "format" -> "axle.store" */
    DB_EVENTS,      /* u64 BE seq -> encoded event (proto) */
    DB_EXPERIMENTS, /* name -> experiment record */
    DB_TRIALS,      /* name 0x00 u32 BE index -> trial record */
    DB_GENERATORS,  /* name -> generator record */
    DB_LABWARE,     /* name -> labware record */
    DB_COUNT
};

extern const char *const axl_store__db_names[DB_COUNT];

#define STORE_FORMAT "axle.store"
#define STORE_MAX_NAME AXL_PROTO_MAX_NAME
/* name + 0x00 + u32 index */
#define STORE_MAX_KEY (STORE_MAX_NAME + 5)

struct axl_store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    char *dir;
    unsigned flags;
    uint32_t schema;
    int lock_fd;      /* writer lock (flock) on <dir>/axle.lock, -1 for readers */
    mode_t file_mode; /* 0600, or 0660 with a group */
    gid_t gid;        /* the group of a shared store, (gid_t)-1 for none */
    dev_t dev;        /* identity of dir, for the one-handle-per-process registry */
    ino_t ino;
    struct axl_store *next_open; /* registry link */

    /* Writer state, touched by the writer thread only. */
    uint64_t next_seq; /* seq the next committed event gets */
    size_t map_max;
    uint64_t map_grows;
    uint64_t commits;           /* successful commits by this handle */
    uint64_t prealloc_end;      /* data.mdb is written (zeros) up to here */
    uint64_t prealloc_retry_at; /* after a failed preallocation: retry once data is here */

    /*
     * The reader gate: LMDB's mdb_env_set_mapsize() must not run while any transaction
     * of this process is open. Readers register here for the life of their read txn;
     * a resize (writer growth, or a reader adopting a size grown by another process)
     * waits for them to leave and keeps new ones out meanwhile.
     */
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    int gate_readers;
    int gate_resizing;
};

/* ---- store.c ---- */

/* Maps an LMDB (or errno) code to an AXL code and writes "<what>: <mdb_strerror>". */
int axl_store__mdb_fail(axl_errbuf *eb, int rc, const char *what);

/* Begins a read txn through the gate (adopting a map grown by another process). */
int axl_store__read_begin(axl_store *s, MDB_txn **txn, axl_errbuf *eb);
/* Ends a read txn begun by axl_store__read_begin (aborts it: reads never commit). */
void axl_store__read_end(axl_store *s, MDB_txn *txn);

/* Grows the map (writer, no txn open in the calling thread) to at least twice its size. */
int axl_store__grow(axl_store *s, axl_errbuf *eb);

/* ---- prealloc.c ---- */

/* Writer, between txns: keeps data.mdb written ahead of LMDB's last page (best effort). */
void axl_store__prealloc(axl_store *s);
/* Writer, at close: gives the slack back. */
void axl_store__prealloc_trim(axl_store *s);

/* ---- batch.c ---- */

/*
 * One event of a batch. axl_store_batch_add() encodes it once, with the placeholder seq
 * UINT64_MAX (the widest msgpack uint, so that size checks hold for any real seq), into
 * b->pre; commit splices the real seq in (axl_store__batch_encode), which costs a copy
 * instead of a second validation of the body.
 */
typedef struct store_item {
    axl_rec_kind rec;
    int64_t trial;
    size_t pre_off, pre_len; /* the provisional encoding in b->pre */
    size_t seq_off;          /* offset of the seq value (9 bytes) in it */
    size_t body_off;         /* offset of the body (the record bytes) in it ... */
    size_t body_len;         /* ... and its length (1 for an empty map) */
    size_t exp_off, exp_len; /* the experiment name inside the encoding */
    size_t enc_off, enc_len; /* the final encoding in b->enc, after encode ... */
    size_t shift;            /* ... where body and name sit this much earlier */
} store_item;

struct axl_store_batch {
    store_item *items;
    size_t n, cap;
    msgpack_sbuffer pre; /* provisional encodings (placeholder seq) */
    msgpack_sbuffer enc; /* final encodings, with the seqs of the commit */
    uint64_t enc_first;  /* first seq b->enc was made for, 0 = none */
    uint64_t first_seq;  /* valid when committed */
    bool committed;
};

/* Makes b->enc: every event with seqs first_seq, first_seq + 1, ... (no-op if done). */
int axl_store__batch_encode(axl_store_batch *b, uint64_t first_seq, axl_errbuf *eb);

/* ---- commit.c ---- */

/*
 * The one write path, shared by commit and rebuild: appends the encoded event under seq
 * and, for a record event, replaces the record by body.
 * LMDB codes are returned raw (MDB_MAP_FULL must reach the caller's retry loop).
 */
int axl_store__apply(axl_store *s, MDB_txn *txn, uint64_t seq, const void *enc, size_t enc_len,
                     axl_rec_kind rec, const char *exp, size_t exp_len, int64_t trial,
                     const void *body, size_t body_len);

/* ---- checksums (storage/README.md section 1, "Checksums") ---- */

/*
 * Every value of the events and record databases is sealed: the payload followed by 8
 * bytes, big-endian XXH3_64bits_withSeed(payload, XXH3_64bits(key)). The key is part of
 * the sum, so a value that moved to another key (a damaged branch or leaf page) is caught
 * as surely as a changed byte. Schema 1 stores (before checksums) have no seal.
 */
#define STORE_SUM_LEN 8

static inline uint64_t axl_store__sum(const void *key, size_t klen, const void *val, size_t vlen)
{
    return XXH3_64bits_withSeed(val, vlen, XXH3_64bits(key, klen));
}

/* Writes the seal of (key, val[0..vlen)) at val + vlen (the caller reserved 8 bytes). */
static inline void axl_store__seal(const MDB_val *k, void *val, size_t vlen)
{
    uint64_t h = axl_store__sum(k->mv_data, k->mv_size, val, vlen);
    uint8_t *o = (uint8_t *)val + vlen;
    for (int i = 7; i >= 0; i--, h >>= 8)
        o[i] = (uint8_t)h;
}

/*
 * Checks the seal of the value v read under key k and strips it (v->mv_size shrinks by
 * 8). false when it does not match (the caller reports AXL_ECORRUPT naming k). A schema 1
 * store (no seals; only ever read during its upgrade) passes unchanged.
 */
static inline bool axl_store__unseal(const axl_store *s, const MDB_val *k, MDB_val *v)
{
    if (s->schema < 2)
        return true;
    if (v->mv_size < STORE_SUM_LEN)
        return false;
    size_t n = v->mv_size - STORE_SUM_LEN;
    const uint8_t *p = (const uint8_t *)v->mv_data + n;
    uint64_t want = 0;
    for (int i = 0; i < 8; i++)
        want = want << 8 | p[i];
    if (axl_store__sum(k->mv_data, k->mv_size, v->mv_data, n) != want)
        return false;
    v->mv_size = n;
    return true;
}

/*
 * AXL_ECORRUPT naming where: "event seq N: ..." for the log, "<db> record of 'name'[ trial
 * i]: ..." for a record (db is a DB_ index).
 */
int axl_store__bad_sum(axl_errbuf *eb, int db, const MDB_val *k);

/* ---- keys and small helpers ---- */

static inline void axl_store__be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static inline uint64_t axl_store__get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

static inline void axl_store__be32(uint8_t out[4], uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static inline uint32_t axl_store__get_be32(const uint8_t in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

/* name 0x00 u32 BE index; returns the key length. buf holds STORE_MAX_KEY bytes. */
static inline size_t axl_store__trial_key(uint8_t *buf, const char *exp, size_t exp_len,
                                          uint32_t index)
{
    memcpy(buf, exp, exp_len);
    buf[exp_len] = 0;
    axl_store__be32(buf + exp_len + 1, index);
    return exp_len + 5;
}

/* The record database of a record kind. */
static inline int axl_store__rec_db(axl_rec_kind k)
{
    switch (k) {
    case AXL_REC_TRIAL:
        return DB_TRIALS;
    case AXL_REC_EXPERIMENT:
        return DB_EXPERIMENTS;
    case AXL_REC_GENERATOR:
        return DB_GENERATORS;
    case AXL_REC_LABWARE:
        return DB_LABWARE;
    default:
        return -1;
    }
}

/* The "status" of an encoded trial record, read without a full decode. */
int axl_store__trial_status(const void *rec, size_t len, axl_trial_status *out);

/* A name is usable as a key: 1..STORE_MAX_NAME bytes, no NUL. */
static inline bool axl_store__name_ok(const char *s, size_t n)
{
    return s != NULL && n > 0 && n <= STORE_MAX_NAME && memchr(s, 0, n) == NULL;
}

#endif
