/*
 * axl_store.h - axle's event-sourced store: one LMDB environment holding the event log
 * and the materialized records it describes.
 *
 * storage/README.md describes the databases, keys and durability; this header is the API.
 *
 * The model in one paragraph. Every change is an event (proto/axl_proto.h axl_event).
 * An event whose `rec` is not AXL_REC_NONE carries the complete new record of one
 * entity (a trial, or an experiment's experiment/generator/labware record) as its body.
 * axl_store_commit() appends a batch of events to the log under dense sequence numbers
 * AND replaces each named record by its event's body, in one LMDB write transaction,
 * and returns only when that transaction is durable (unless the store was opened with
 * AXL_STORE_NOSYNC). Folding the log, last body wins, rebuilds every record byte for
 * byte; axl_store_verify_fold() checks exactly that.
 *
 * Processes and threads.
 *   - One writer per store, system-wide: a writer open takes an exclusive, non-blocking
 *     flock on <dir>/axle.lock; a second writer (another engine, or the same process
 *     twice) gets AXL_EBUSY. The lock dies with the process, so a crashed engine never
 *     leaves a stale lock behind.
 *   - Any number of AXL_STORE_RDONLY opens in other processes may read while the
 *     writer appends (LMDB MVCC: a reader sees the last commit made before its read
 *     began). Read-only opens never take the writer lock.
 *   - At most one handle per store per process (LMDB forbids opening one environment
 *     twice in a process); a second open in the same process is refused (AXL_EBUSY).
 *     Share the handle instead: every read function is safe on any thread, also
 *     while the writer thread commits on the same handle.
 *   - The write functions (axl_store_commit, axl_store_sync) must be called from one
 *     thread at a time (the engine's loop thread). Batches are not shared between threads.
 *   - Do not use a handle in a child after fork(); open a new one there.
 *
 * Errors: every function that can fail returns 0 or a negative AXL_E... code
 * (proto/axl_error.h) and writes one human line into eb when eb is not NULL.
 */
#ifndef AXL_STORE_H
#define AXL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/axl_error.h"
#include "proto/axl_proto.h"

/* The on-disk schema this code reads and writes (meta database, key "schema"). */
/* 2: every value carries a checksum (storage/README.md); 1 (none) is upgraded on a writer
 * open and refused by a read-only one. */
#define AXL_STORE_SCHEMA 2

/* Defaults for axl_store_options. */
#define AXL_STORE_DEFAULT_MAP_SIZE ((size_t)64 << 20) /* initial LMDB map, bytes */

/* ---- Open and close (storage/store.c) -------------------------------------------- */

/* Flags for axl_store_options.flags. */
#define AXL_STORE_RDONLY 0x01u /* read-only: no writer lock; the store must exist */
/*
 * Durability. The default is full durability: commit returns after fdatasync of the
 * data pages and a synchronous write of the meta page. NOSYNC skips both: a process
 * crash still loses nothing (the page cache survives it), but an OS crash or power loss
 * may lose the last commits. NOMETASYNC skips only the meta sync: power loss may undo the
 * last commit, never more, and never corrupts. Both are for users who ask for them
 * (benchmarks, simulations); axl_store_sync() flushes on demand.
 */
#define AXL_STORE_NOSYNC 0x02u
#define AXL_STORE_NOMETASYNC 0x04u
#define AXL_STORE_NOCREATE 0x08u /* writer: refuse (AXL_ENOENT) when no store exists yet */
/*
 * A full-sync writer keeps data.mdb written with zeros a few MiB ahead of its last page
 * (trimmed at close), so that a commit's fdatasync flushes data only, not file-size and
 * block metadata (ext4 here: 0.17 instead of 0.44 ms for 4 KiB). NOPREALLOC turns that
 * off (copy-on-write file systems gain nothing from it).
 */
#define AXL_STORE_NOPREALLOC 0x10u

typedef struct axl_store_options {
    unsigned flags;    /* AXL_STORE_... bits; 0 = writer, full sync, create if absent */
    size_t map_size;   /* initial map size in bytes; 0 = AXL_STORE_DEFAULT_MAP_SIZE. An
                          existing store keeps its larger recorded size. */
    size_t map_max;    /* the map never grows beyond this (commit then fails with
                          AXL_ENOSPC); 0 = no limit but the disk */
    const char *group; /* writer: the store's files are 0660 and belong to this group;
                          NULL = 0600, owner only (whatever the umask) */
} axl_store_options;

typedef struct axl_store axl_store;

/*
 * Opens the store in directory dir, which must exist (it is never created: a typo must
 * not start a fresh campaign somewhere else). A writer open creates the store files
 * (data.mdb, lock.mdb, axle.lock) when the directory holds none, unless
 * AXL_STORE_NOCREATE. opt may be NULL for the defaults.
 *
 * A writer makes data.mdb, lock.mdb and axle.lock mode 0600 (0660 and the group's with
 * opt.group), also when they exist already with wider modes, whatever the umask; it
 * never changes the directory's mode (`axle run` creates it 0700).
 *
 * On success *out owns the handle; free it with axl_store_close(). On error *out is
 * NULL and nothing needs freeing. Errors:
 *   AXL_ENOENT   dir missing; or no store in it (RDONLY, NOCREATE)
 *   AXL_EINVAL   dir is not a directory; bad options
 *   AXL_EACCES   the directory or its files cannot be written (permissions, read-only
 *                file system) or read
 *   AXL_EBUSY    another writer holds the store; or this process has it open already
 *   AXL_ECORRUPT not an LMDB file, not an axle store, or a truncated file
 *   AXL_EVERSION schema (or LMDB format) unknown or newer than this build
 *   AXL_EIO, AXL_ENOMEM, AXL_ENOSPC
 */
int axl_store_open(const char *dir, const axl_store_options *opt, axl_store **out, axl_errbuf *eb);

/*
 * Closes the handle (NULL is a no-op). A writer flushes first when it was opened with
 * NOSYNC/NOMETASYNC, then releases the writer lock. Every iterator of the handle must be
 * closed before; batches are independent of the handle and stay valid.
 */
void axl_store_close(axl_store *s);

/* Forces everything committed so far to disk (a no-op cost with full sync). Writer only. */
int axl_store_sync(axl_store *s, axl_errbuf *eb);

typedef struct axl_store_info {
    const char *dir;     /* borrowed from the handle, valid until axl_store_close() */
    uint32_t schema;     /* schema version found in the store */
    unsigned flags;      /* flags the handle was opened with */
    uint64_t last_seq;   /* seq of the last event in the log, 0 when empty */
    uint64_t n_events;   /* events in the log */
    uint64_t file_bytes; /* size of data.mdb */
    size_t map_size;     /* current LMDB map size */
    uint64_t map_grows;  /* times this handle grew the map after MDB_MAP_FULL */
} axl_store_info;

int axl_store_info_get(axl_store *s, axl_store_info *out, axl_errbuf *eb);

/* ---- Writing: batches and commit (storage/batch.c, storage/commit.c) ------------- */

/*
 * A batch collects the events of one loop iteration (group commit). It lives in memory
 * only until axl_store_commit(), which writes all of it in one LMDB write transaction.
 * The batch owns copies of everything added to it; it is independent of any store
 * handle and may be reused after axl_store_batch_clear().
 */
typedef struct axl_store_batch axl_store_batch;

/* *out owns a new empty batch; free it with axl_store_batch_free(). AXL_ENOMEM. */
int axl_store_batch_new(axl_store_batch **out);
void axl_store_batch_free(axl_store_batch *b); /* NULL is a no-op */
/* Empties the batch (committed or not) for reuse; keeps its memory. */
void axl_store_batch_clear(axl_store_batch *b);
size_t axl_store_batch_count(const axl_store_batch *b);

/*
 * Validates ev and adds a copy of it to the batch. ev->seq is ignored (the store assigns
 * seqs at commit); ev->time == 0 means "now". Every pointer in ev is borrowed for the
 * call only. Checks, each failing without changing the batch:
 *   - the envelope as axl_event_encode() checks it (type, names, body is a map ...);
 *   - the encoded event fits AXL_PROTO_MAX_MSG (else AXL_ETOOBIG);
 *   - rec != NONE: a non-empty experiment name without NUL bytes (AXL_EINVAL);
 *   - rec == TRIAL: the body is a trial record of the event's experiment and trial with
 *     a known status — the fields the store keys and indexes by, read in place
 *     (AXL_EINVAL). The rest of the record is axl_trial_rec_encode()'s contract (it
 *     refuses to write what its decoder refuses); a full decode here would double the
 *     cost of a commit.
 * AXL_ESTATE when the batch was committed and not cleared since.
 */
int axl_store_batch_add(axl_store_batch *b, const axl_event *ev, axl_errbuf *eb);

/*
 * Commits the batch in one LMDB write transaction: the events get the seqs
 * last_seq + 1 ... last_seq + n in the order they were added (*first_seq, when not NULL,
 * receives the first), and each record event replaces its record. Returns after the
 * transaction is durable (see AXL_STORE_NOSYNC). All or nothing: on any error no event
 * and no record of the batch is visible, now or after a crash, and the batch stays
 * uncommitted so the caller may retry it.
 *
 * When the LMDB map is full the transaction is aborted, the map doubled (up to
 * opt.map_max) and the batch retried. Errors:
 *   AXL_ENOSPC   the disk, or map_max, has no room for the batch
 *   AXL_EBUSY    the map must grow but read iterators of this handle stayed open
 *                (a resize has to wait for them) for more than 5 s
 *   AXL_ETOOBIG  the batch is larger than one LMDB transaction can hold
 *   AXL_ESTATE   read-only handle, or the batch was committed already
 *   AXL_EIO      an I/O error; after it the handle may refuse further work (reopen)
 * An empty batch commits nothing and returns 0 (*first_seq = last_seq + 1).
 */
int axl_store_commit(axl_store *s, axl_store_batch *b, uint64_t *first_seq, axl_errbuf *eb);

/*
 * The encoded event i (0-based, in add order) of a committed batch, exactly as stored
 * and as replay returns it, for publishing. *data is owned by the batch and valid until
 * the batch is cleared or freed. AXL_ESTATE before commit, AXL_ERANGE for a bad i.
 */
int axl_store_batch_event(const axl_store_batch *b, size_t i, uint64_t *seq, const void **data,
                          size_t *len);

/* ---- Reading (storage/read.c) ----------------------------------------------------- */
/*
 * Every read runs in its own short LMDB read transaction and so sees one consistent
 * commit; on a read-only handle it sees the writer's latest durable-or-not commit.
 */

/* The seq of the last event in the log; 0 for an empty log. */
int axl_store_last_seq(axl_store *s, uint64_t *out, axl_errbuf *eb);

/*
 * Names of all experiments that have an experiment record, in byte order. *names is one
 * malloc'd block (the array and the strings it points to): free(*names) releases all.
 * *n may be 0 (then *names is NULL).
 */
int axl_store_experiments(axl_store *s, char ***names, size_t *n, axl_errbuf *eb);

/*
 * A copy of one record: kind TRIAL uses (experiment, trial), the others ignore trial.
 * *data is malloc'd, owned by the caller (free()). AXL_ENOENT when there is none.
 */
int axl_store_get_record(axl_store *s, axl_rec_kind kind, const char *experiment, uint32_t trial,
                         void **data, size_t *len, axl_errbuf *eb);

/*
 * Calls fn for every trial record of experiment in index order, zero-copy: data points
 * into the LMDB map and is valid only during the call. fn returns 0 to go on, anything
 * else to stop (axl_store_scan_trials then returns that value). fn must not call back
 * into the store.
 */
typedef int (*axl_store_trial_fn)(void *ud, uint32_t index, const void *data, size_t len);
int axl_store_scan_trials(axl_store *s, const char *experiment, axl_store_trial_fn fn, void *ud,
                          axl_errbuf *eb);

/*
 * Trials of experiment whose status is in status_mask (bit 1u << axl_trial_status),
 * ascending: a scan of its trial records reading each status in place (~0.2 us a trial;
 * no index to write on every commit). *indices is malloc'd, owned by the caller (free());
 * NULL when *n is 0.
 */
#define AXL_STORE_STATUS_BIT(st) (1u << (unsigned)(st))
int axl_store_trials_by_status(axl_store *s, const char *experiment, unsigned status_mask,
                               uint32_t **indices, size_t *n, axl_errbuf *eb);

/*
 * Everything needed to resume an experiment, read in one transaction (one commit's view).
 * Owned by the caller, freed with axl_store_experiment_free(); every pointer inside
 * lives as long as the struct.
 */
typedef struct axl_store_experiment {
    char *name;
    uint64_t last_seq; /* seq of the last event in the log at load time */
    void *experiment;  /* experiment record bytes (msgpack map, engine-defined) */
    size_t experiment_len;
    void *generator; /* generator record; NULL/0 when none was written */
    size_t generator_len;
    void *labware; /* labware record; NULL/0 when none was written */
    size_t labware_len;
    axl_trial_rec *trials; /* decoded trial records, by ascending index */
    size_t n_trials;
} axl_store_experiment;

/*
 * Loads experiment. AXL_ENOENT when it has no experiment record. A record that does not
 * decode is AXL_ECORRUPT naming the trial (this cannot happen to records written by
 * axl_store_commit, which validates them).
 */
int axl_store_load(axl_store *s, const char *experiment, axl_store_experiment **out,
                   axl_errbuf *eb);
void axl_store_experiment_free(axl_store_experiment *e); /* NULL is a no-op */

/*
 * Event iterator over seqs [from, to] of the log (from 0 is read as 1; to 0 means "up to
 * the last event when the iterator was opened"). The iterator holds one read
 * transaction, a snapshot: events committed after it was opened are not seen (open a
 * new iterator from last + 1 to follow). Keep iterators short-lived — read a chunk (a
 * few thousand events), close, continue from the next seq: a snapshot keeps the pages it
 * sees from being reused, so the file grows while it is open; and a map resize by this
 * handle waits for it (see axl_store_commit, AXL_EBUSY). *out owns the
 * iterator; close it with axl_store_iter_close() before axl_store_close(). An iterator
 * may move between threads but is used by one at a time.
 */
typedef struct axl_store_iter axl_store_iter;
int axl_store_iter_open(axl_store *s, uint64_t from, uint64_t to, axl_store_iter **out,
                        axl_errbuf *eb);
/*
 * The next event: its seq and its encoded bytes (axl_event_decode() reads them), zero
 * copy: *data points into the LMDB map, read-only, valid until the next
 * axl_store_iter_next() or axl_store_iter_close() on this iterator. Returns 0, or
 * AXL_ENOENT past the end, or AXL_ECORRUPT if the log's keys are malformed.
 */
int axl_store_iter_next(axl_store_iter *it, uint64_t *seq, const void **data, size_t *len,
                        axl_errbuf *eb);
void axl_store_iter_close(axl_store_iter *it); /* NULL is a no-op */

/* ---- Fold (storage/fold.c) --------------------------------------------------------- */

typedef struct axl_store_fold_report {
    uint64_t events;     /* events read from the log */
    uint64_t rec_events; /* of which carried a record */
    uint64_t records;    /* records compared (all databases) */
    uint64_t mismatches; /* records that differ, are missing or have no event */
} axl_store_fold_report;

/*
 * Folds the whole log in one read transaction and compares the result with the stored
 * records: every record must equal, byte for byte, the body of the last event that
 * names it, and every record must have such an event; the log's seqs must be dense from
 * 1 and equal to each event's own seq field, and every event must decode. rep may be NULL. Returns
 * 0 when all holds, AXL_ECORRUPT (eb names the first difference) when not, or another error.
 */
int axl_store_verify_fold(axl_store *s, axl_store_fold_report *rep, axl_errbuf *eb);

/*
 * Rebuilds a store from the log of s alone: creates a new store in the existing
 * directory dst_dir (which must hold no store yet), copies every event with its seq and
 * folds the records into it, then syncs. Recovery from damaged records, compaction,
 * and a check that the log is self-sufficient. s may be a read-only handle.
 */
int axl_store_rebuild(axl_store *s, const char *dst_dir, axl_errbuf *eb);

/* ---- Whole-store check (storage/verify.c) ---------------------------------------- */

typedef struct axl_store_verify_report {
    uint32_t schema;
    uint32_t page_size;
    uint64_t txnid;        /* LMDB transaction of the last commit */
    uint64_t file_bytes;   /* size of data.mdb */
    uint64_t pages;        /* pages of the store's databases */
    uint64_t events;       /* events in the log */
    uint64_t records;      /* records (all record databases) */
    uint64_t checksums;    /* values whose checksum was verified */
    uint64_t fold_records; /* records compared with the folded log */
} axl_store_verify_report;

/* axl_store_verify flags: open as a writer first (NOCREATE), which upgrades schema 1. */
#define AXL_STORE_VERIFY_UPGRADE 0x01u

/*
 * Checks the whole store in dir: LMDB's two meta pages (read with pread, never mapped),
 * then, in a forked child process, every database walked (key order and shape, entry
 * counts, every value's checksum), then the fold (axl_store_verify_fold). A damaged page
 * that crashes LMDB, or a walk that does not end within timeout_s (0: none), crashes only
 * the child and is reported. Never creates or changes a store (except the schema upgrade
 * with AXL_STORE_VERIFY_UPGRADE). The caller must not hold the store open, and should be
 * single-threaded (it forks). Returns 0 when all holds; AXL_ECORRUPT naming the first
 * damage (eb); AXL_ENOENT no store; AXL_EVERSION; AXL_EIO.
 */
int axl_store_verify(const char *dir, unsigned flags, unsigned timeout_s,
                     axl_store_verify_report *rep, axl_errbuf *eb);

#endif
