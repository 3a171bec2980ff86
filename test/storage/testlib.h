/*
 * testlib.h - helpers shared by the storage tests and their child process: temporary
 * directories, event builders, and a random model of a campaign that produces valid
 * changes (new trials, status transitions, generator/labware/experiment updates, plain
 * events) and remembers the last record it wrote for every entity.
 */
#ifndef AXL_STORAGE_TESTLIB_H
#define AXL_STORAGE_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/axl_store.h"

/* ---- files ---- */

/* Creates a fresh directory under $TMPDIR or /tmp; out holds >= 256 bytes. 0 or -1. */
int tl_mkdtemp(char *out);
/* Removes path and everything below it (no error if missing). */
void tl_rmtree(const char *path);
/* "<dir>/<name>" into out (>= 512 bytes). */
const char *tl_path(char *out, const char *dir, const char *name);

/* ---- rng ---- */

static inline uint64_t tl_rand(uint64_t *s)
{
    /* splitmix64: deterministic, good enough for tests */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint32_t tl_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(tl_rand(s) % n);
}

/* ---- events ---- */

/* Encodes a seed-like trial record (4 params, 1 metric once completed) into out. */
int tl_trial_body(msgpack_sbuffer *out, const char *exp, uint32_t index, axl_trial_status status,
                  double t, uint32_t deploys);

/* Adds one event to b; body may be NULL (empty map). Aborts the test program on error. */
void tl_add(axl_store_batch *b, const char *type, const char *exp, int64_t trial, axl_rec_kind rec,
            const void *body, size_t body_len);

/* FNV-1a 64 over bytes, chained from h (start with TL_FNV0). */
#define TL_FNV0 0xcbf29ce484222325ull
uint64_t tl_fnv(uint64_t h, const void *p, size_t n);

/* ---- the random campaign model ---- */

typedef struct tl_blob {
    void *p;
    size_t n;
} tl_blob;

typedef struct tl_trial {
    axl_trial_status status;
    uint32_t deploys;
    double created;
    tl_blob last; /* last body written (when the model keeps bodies) */
} tl_trial;

typedef struct tl_exp {
    char name[32];
    bool started; /* has an experiment record */
    tl_trial *trials;
    uint32_t n, cap;
    uint32_t gen_step;
    uint32_t tips;
    tl_blob exp_rec, gen_rec, lab_rec;
} tl_exp;

#define TL_MAX_EXPS 3

typedef struct tl_model {
    uint64_t rng;
    bool keep_bodies;
    tl_exp exps[TL_MAX_EXPS];
    uint64_t batches; /* batch markers written so far */
    msgpack_sbuffer buf;
} tl_model;

/*
 * Starts a model over the names "exp", "exp2", "e" (prefixes of each other on purpose).
 * When s is not NULL, the model resumes from the store's state (axl_store_load).
 */
int tl_model_init(tl_model *m, uint64_t seed, bool keep_bodies, axl_store *s);
void tl_model_free(tl_model *m);

/*
 * Adds n random changes to b, then one "batch.end" event whose body is
 * {"batch": id, "n": events in this batch including itself}. Returns the events added.
 */
size_t tl_model_batch(tl_model *m, axl_store_batch *b, int n);

/* Compares every record the model remembers with the store's; 0 or a message on stderr. */
int tl_model_check(const tl_model *m, axl_store *s);

/*
 * Walks the whole log and checks that it is a sequence of complete batches (every
 * batch.end counts the events since the previous one, the log ends with one) and that
 * seqs are dense. Returns the number of batches, or -1 (message on stderr).
 */
long tl_check_batches(axl_store *s);

#endif
