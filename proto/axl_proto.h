/*
 * axl_proto.h - axle's one format for the wire, the event log and the event stream.
 *
 * Everything is a msgpack map with short string keys and a version field "v".
 * proto/README.md is the normative description; this header is the C side of it.
 *
 * Decoding is strict and never trusts its input:
 *   1. the size is checked against the limit before anything is read;
 *   2. axl_mp_validate() walks the bytes once, checking well-formedness, nesting depth,
 *      string and container sizes against the remaining input, so that no later step
 *      can be tricked into a large allocation;
 *   3. typed decoders read the fields they know, ignore unknown keys (forward
 *      compatibility) and report a missing or mistyped field as a typed error whose
 *      message names the field (e.g. "task.params.rpm: expected a number").
 *
 * Ownership: decoded structures either borrow from the input buffer (documented per
 * function: the buffer must outlive them) or own an arena freed by their _free().
 */
#ifndef AXL_PROTO_H
#define AXL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto/axl_error.h"

#define AXL_PROTO_VERSION 1

/* Limits enforced on every decoded message or event. */
#define AXL_PROTO_MAX_MSG (1u << 20) /* bytes in one message or event */
#define AXL_PROTO_MAX_DEPTH 16       /* nested maps/arrays, top level = 1 */
#define AXL_PROTO_MAX_STR 4096       /* bytes in one string or binary */
#define AXL_PROTO_MAX_ITEMS 65536    /* entries in one array or map */
#define AXL_PROTO_MAX_NAME 128       /* bytes in a name: experiment, param, metric */
#define AXL_PROTO_MAX_TYPE 64        /* bytes in an event type */
#define AXL_PROTO_MAX_PARAMS 256     /* parameters in one trial */
#define AXL_PROTO_MAX_METRICS 64     /* metrics in one trial */

/* ---- Low level: validation and raw slicing (proto/msgpack_scan.c) ---------------- */

/*
 * Checks that buf[0..len) holds exactly one msgpack object within the limits above.
 * Returns 0, AXL_ETOOBIG (len over AXL_PROTO_MAX_MSG, or a string over
 * AXL_PROTO_MAX_STR, or a map or array over AXL_PROTO_MAX_ITEMS), AXL_EDEPTH or AXL_EPROTO
 * (malformed, truncated, trailing bytes, a map key that is not a string, an extension type, or a
 * str that is not valid UTF-8 -- msgpack's str is UTF-8, and Python refuses it otherwise).
 */
int axl_mp_validate(const void *buf, size_t len, axl_errbuf *eb);

/* Whether s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points > 10FFFF). */
bool axl_utf8_valid(const void *s, size_t n);

/*
 * Finds key in the top-level map of an already validated buffer and returns the raw
 * bytes of its value (borrowed from buf). AXL_ENOENT when absent, AXL_ETYPE when the
 * top level is not a map.
 */
int axl_mp_find_raw(const void *buf, size_t len, const char *key, const void **val,
                    size_t *val_len);

/*
 * Reads a raw msgpack value in place (p from axl_mp_find_raw or a validated buffer;
 * len the bytes available). axl_mp_raw_str: a str of any width, *s borrowed from p, not
 * NUL-terminated. axl_mp_raw_uint: a non-negative integer of any width. Both return
 * false when the value is of another kind or is truncated.
 */
bool axl_mp_raw_str(const void *p, size_t len, const char **s, size_t *n);
bool axl_mp_raw_uint(const void *p, size_t len, uint64_t *v);

/*
 * Validates the first msgpack object in buf[0..len) (same limits and checks as
 * axl_mp_validate) and returns its length in *obj_len; bytes after it are allowed.
 * For walking a sequence of objects, e.g. the events of a replay reply.
 */
int axl_mp_next(const void *buf, size_t len, size_t *obj_len, axl_errbuf *eb);

/* ---- Reading a decoded msgpack_object (proto/decode.c) --------------------------- */

/*
 * A decoded message: validated, then unpacked with msgpack-c. `root` borrows strings
 * from the input buffer, which must outlive the axl_msg. Free with axl_msg_free().
 */
typedef struct axl_msg {
    msgpack_unpacked up;
    msgpack_object root;
} axl_msg;

/* Validates and unpacks. On error nothing needs freeing. */
int axl_msg_parse(axl_msg *m, const void *buf, size_t len, axl_errbuf *eb);
void axl_msg_free(axl_msg *m);

/*
 * Returns the value of key in map (the first, if the key repeats), or NULL when absent
 * (or when map is not a map).
 */
const msgpack_object *axl_obj_get(const msgpack_object *map, const char *key);

/*
 * Like axl_obj_get, but a key that appears more than once is AXL_EPROTO (Python's msgpack
 * keeps the last, msgpack-c walks to the first: a repeated key would let two readers see
 * two different messages). *out is NULL when absent. Returns 0 or AXL_EPROTO.
 */
int axl_obj_get_once(const msgpack_object *map, const char *where, const char *key,
                     const msgpack_object **out, axl_errbuf *eb);

/*
 * Typed field readers. `where` names the enclosing object for messages ("task").
 * A missing field (absent or nil) is AXL_EMISSING when required, else leaves *out
 * untouched and returns 0. A repeated key is AXL_EPROTO. A wrong type is AXL_ETYPE; a
 * value outside [lo, hi] is AXL_ERANGE (a negative integer read as unsigned included).
 * Strings are returned borrowed (pointer + length, not NUL-terminated); one holding a
 * NUL byte is AXL_EINVAL.
 */
int axl_obj_uint(const msgpack_object *map, const char *where, const char *key, bool required,
                 uint64_t lo, uint64_t hi, uint64_t *out, axl_errbuf *eb);
int axl_obj_int(const msgpack_object *map, const char *where, const char *key, bool required,
                int64_t lo, int64_t hi, int64_t *out, axl_errbuf *eb);
int axl_obj_num(const msgpack_object *map, const char *where, const char *key, bool required,
                double lo, double hi, double *out, axl_errbuf *eb);
int axl_obj_bool(const msgpack_object *map, const char *where, const char *key, bool required,
                 bool *out, axl_errbuf *eb);
int axl_obj_str(const msgpack_object *map, const char *where, const char *key, bool required,
                size_t max_len, const char **out, size_t *out_len, axl_errbuf *eb);
/* A number (int or float) as double; NaN stays NaN. */
bool axl_obj_as_double(const msgpack_object *o, double *out);

/* ---- Writing (proto/encode.c) ----------------------------------------------------- */

/* Packs a NUL-terminated string as msgpack str. */
int axl_pack_cstr(msgpack_packer *pk, const char *s);
/* Packs key then NUL-terminated string value; NULL value packs nil. */
int axl_pack_kv_str(msgpack_packer *pk, const char *key, const char *val);
int axl_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t val);
int axl_pack_kv_int(msgpack_packer *pk, const char *key, int64_t val);
int axl_pack_kv_num(msgpack_packer *pk, const char *key, double val);
int axl_pack_kv_bool(msgpack_packer *pk, const char *key, bool val);

/* ---- Event envelope (proto/event.c) ---------------------------------------------- */

/*
 * Which materialized record an event's body replaces. Event sourcing in one rule: an
 * event with rec != NONE carries the entity's complete new record as its body, so
 * folding the log (last body wins per entity) rebuilds the store byte for byte.
 * Encoded as "rec": "trial" | "experiment" | "generator" | "labware"; absent = none.
 */
typedef enum {
    AXL_REC_NONE = 0,
    AXL_REC_TRIAL = 1,      /* key: experiment + trial index */
    AXL_REC_EXPERIMENT = 2, /* key: experiment */
    AXL_REC_GENERATOR = 3,  /* key: experiment */
    AXL_REC_LABWARE = 4,    /* key: experiment */
    AXL_REC_COUNT
} axl_rec_kind;

const char *axl_rec_kind_name(axl_rec_kind k);

/*
 * {v, seq, time, type, experiment, trial?, rec?, body}: the unit of the event log, the
 * live stream and replay. body is itself a msgpack map, carried as raw bytes so that it
 * is stored, streamed and replayed byte for byte.
 */
typedef struct axl_event {
    uint64_t seq;     /* dense, strictly increasing from 1 within a store */
    double time;      /* Unix time, seconds */
    const char *type; /* e.g. "trial.completed"; borrowed */
    size_t type_len;
    const char *experiment; /* borrowed; may be empty for store-level events */
    size_t experiment_len;
    int64_t trial;    /* trial index, or -1 for none */
    axl_rec_kind rec; /* record the body replaces, AXL_REC_NONE for none */
    const void *body; /* raw msgpack map; borrowed; NULL/0 = empty map */
    size_t body_len;
} axl_event;

/*
 * Appends the encoded event to out. body, when given, must be one msgpack map (it is
 * validated). Returns 0, AXL_EINVAL (bad field) or AXL_ENOMEM.
 */
int axl_event_encode(const axl_event *ev, msgpack_sbuffer *out, axl_errbuf *eb);

/*
 * Decodes and validates an event. Every pointer in *ev borrows from buf.
 */
int axl_event_decode(const void *buf, size_t len, axl_event *ev, axl_errbuf *eb);

/* ---- Trial record (proto/trial.c) ------------------------------------------------- */

/* Ax's trial statuses and their order of life. */
#define AXL_TRIAL_STATUS_MAP(XX)                                                                   \
    XX(CANDIDATE, "CANDIDATE")                                                                     \
    XX(STAGED, "STAGED")                                                                           \
    XX(RUNNING, "RUNNING")                                                                         \
    XX(COMPLETED, "COMPLETED")                                                                     \
    XX(FAILED, "FAILED")                                                                           \
    XX(EARLY_STOPPED, "EARLY_STOPPED")                                                             \
    XX(ABANDONED, "ABANDONED")

typedef enum {
#define AXL_TS_ENUM(name, str) AXL_TRIAL_##name,
    AXL_TRIAL_STATUS_MAP(AXL_TS_ENUM)
#undef AXL_TS_ENUM
        AXL_TRIAL_STATUS_COUNT
} axl_trial_status;

const char *axl_trial_status_name(axl_trial_status s);
/* Parses a status name (length-delimited); returns 0 or AXL_EINVAL. */
int axl_trial_status_parse(const char *s, size_t len, axl_trial_status *out);
bool axl_trial_status_is_terminal(axl_trial_status s);
/* Whether Ax allows from -> to (any non-terminal may become ABANDONED). */
bool axl_trial_transition_ok(axl_trial_status from, axl_trial_status to);

typedef enum {
    AXL_VALUE_NUM = 0, /* float64 */
    AXL_VALUE_INT = 1,
    AXL_VALUE_STR = 2,
    AXL_VALUE_BOOL = 3,
} axl_value_kind;

typedef struct axl_value {
    axl_value_kind kind;
    double num;
    int64_t i;
    const char *str; /* NUL-terminated; owned as stated by the containing struct */
    bool b;
} axl_value;

typedef struct axl_param_value {
    const char *name;
    axl_value value;
} axl_param_value;

typedef struct axl_metric_value {
    const char *name;
    double mean;
    double sem; /* NaN = unknown (the GP infers noise) */
} axl_metric_value;

/*
 * A trial's materialized record, also the body of every trial.* event.
 * For encoding, the caller owns every pointer. A decoded record owns an arena that
 * holds all its strings and arrays: free it with axl_trial_rec_free().
 */
typedef struct axl_trial_rec {
    const char *experiment;
    uint32_t index;
    axl_trial_status status;
    const char *gen_method; /* "Sobol", "GP-LogEI", "Manual" */
    uint32_t step;          /* generation step that made it */
    double created;         /* Unix seconds */
    double updated;         /* time of the last status change */
    double deployed;        /* 0 until deployed */
    uint32_t deploy_count;  /* times handed to a runner (idempotency audits) */
    const char *job_id;     /* runner's id (run metadata); NULL when none */
    const char *reason;     /* failure or abandonment reason; NULL when none */
    uint32_t n_params;
    axl_param_value *params;
    uint32_t n_metrics;
    axl_metric_value *metrics;
    void *arena_; /* owned by decoded records only */
} axl_trial_rec;

int axl_trial_rec_encode(const axl_trial_rec *t, msgpack_sbuffer *out, axl_errbuf *eb);
/* Decodes into *t (zeroed first). On error nothing needs freeing. */
int axl_trial_rec_decode(const void *buf, size_t len, axl_trial_rec *t, axl_errbuf *eb);
void axl_trial_rec_free(axl_trial_rec *t);

#endif
