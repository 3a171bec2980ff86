/*
 * axl_wire.h - the engine <-> worker messages (proto/README.md, "Worker messages").
 *
 * One message is one msgpack map {v: 1, type: "<name>", ...} in one nng message. The
 * C side is a tagged union, axl_wire_msg: `type` says which member is set.
 *
 *   axl_wire_msg m;
 *   if ((rv = axl_wire_decode(buf, len, &m, &eb)) != 0)
 *       reply with axl_wire_encode_error(rv, eb.msg, &sb)...;
 *   else { switch (m.type) { case AXL_WIRE_TASK: ... m.task.id ... } axl_wire_free(&m); }
 *
 * Memory:
 *   - Decoded: every string (axl_str) and raw map (axl_raw) BORROWS from the input
 *     buffer, which must outlive the message. The id arrays (hello.inflight, status.ids,
 *     status_reply.tasks) are OWNED by the message: call axl_wire_free() after every
 *     successful decode (it is also safe on a zeroed or failed message). Strings are not
 *     NUL-terminated.
 *   - Encoded: the caller owns everything it passes; axl_wire_encode() copies what it
 *     needs into the sbuffer and keeps no pointer.
 *
 * Threads: every function here is reentrant and keeps no global state, so nng callback
 * threads may decode while the loop thread encodes.
 *
 * Validation is the same both ways: axl_wire_encode() refuses (and leaves the sbuffer as
 * it was) any message that axl_wire_decode() would refuse, with the same code. Codes:
 *   AXL_ETOOBIG   message over AXL_PROTO_MAX_MSG (checked before any byte is read), or a
 *                 string, array or raw map over its limit below
 *   AXL_EPROTO    not msgpack, truncated, trailing bytes, invalid UTF-8, a known key twice
 *   AXL_EDEPTH    nesting over AXL_PROTO_MAX_DEPTH, or a raw map over AXL_WIRE_MAX_RAW_DEPTH
 *   AXL_EVERSION  "v" is not AXL_PROTO_VERSION
 *   AXL_ENOTSUP   "type" is a well-formed name this build does not know (a newer peer)
 *   AXL_EMISSING  a required key is absent or nil
 *   AXL_ETYPE     a value of the wrong msgpack type (the message itself not a map included)
 *   AXL_ERANGE    a number outside its range, or a string outside its set of names (role,
 *                 state, ...)
 *   AXL_EINVAL    a string that breaks its rule (empty id, control byte, NUL, bad charset,
 *                 task id not derived from experiment/trial/index, repeated task id)
 *   AXL_ENOMEM    out of memory
 * The error buffer names the field: "task.params.spin.rpm: not a finite number".
 */
#ifndef AXL_WIRE_H
#define AXL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "proto/axl_error.h"
#include "proto/axl_proto.h"

/* ---- Limits (on top of the generic ones of axl_proto.h) ---------------------------- */

#define AXL_WIRE_MAX_ID 128          /* bytes in a task id or worker id */
#define AXL_WIRE_MAX_KIND 64         /* bytes in a task kind */
#define AXL_WIRE_MAX_TEXT 1024       /* bytes in reason, note, error msg */
#define AXL_WIRE_MAX_IDS 1024        /* entries in inflight, status.ids, status_reply.tasks */
#define AXL_WIRE_MAX_CAPACITY 1024   /* hello.capacity is 1..this */
#define AXL_WIRE_MAX_RAW_DEPTH 8     /* nesting in params/result, the map itself = 1 */
#define AXL_WIRE_MAX_RAW_KEYS 1024   /* keys in params/result, nested maps included */
#define AXL_WIRE_MAX_RAW_ARRAY 16384 /* numbers in one params/result array */
#define AXL_WIRE_MAX_TIME 1e12       /* times are Unix seconds in [0, this] */

/* ---- Names ------------------------------------------------------------------------ */

/* XX(ENUM, "wire name") */
#define AXL_WIRE_TYPE_MAP(XX)                                                                      \
    XX(HELLO, "hello")                                                                             \
    XX(TASK, "task")                                                                               \
    XX(CANCEL, "cancel")                                                                           \
    XX(ACK, "ack")                                                                                 \
    XX(STARTED, "started")                                                                         \
    XX(PROGRESS, "progress")                                                                       \
    XX(FINISHED, "finished")                                                                       \
    XX(FAILED, "failed")                                                                           \
    XX(HEARTBEAT, "heartbeat")                                                                     \
    XX(STATUS, "status")                                                                           \
    XX(STATUS_REPLY, "status_reply")                                                               \
    XX(ERROR, "error")

typedef enum {
#define AXL_WT_ENUM(name, str) AXL_WIRE_##name,
    AXL_WIRE_TYPE_MAP(AXL_WT_ENUM)
#undef AXL_WT_ENUM
        AXL_WIRE_TYPE_COUNT
} axl_wire_type;

#define AXL_WORKER_ROLE_MAP(XX)                                                                    \
    XX(SPINCOATER, "spincoater")                                                                   \
    XX(HOTPLATE, "hotplate")                                                                       \
    XX(GRIPPER, "gripper")                                                                         \
    XX(CHARACTERIZATION, "characterization")                                                       \
    XX(STORAGE, "storage")

typedef enum {
#define AXL_WR_ENUM(name, str) AXL_ROLE_##name,
    AXL_WORKER_ROLE_MAP(AXL_WR_ENUM)
#undef AXL_WR_ENUM
        AXL_ROLE_COUNT
} axl_worker_role;

/* A task's state as its worker reports it (ack, status_reply). */
#define AXL_TASK_STATE_MAP(XX)                                                                     \
    XX(ACCEPTED, "accepted")                                                                       \
    XX(RUNNING, "running")                                                                         \
    XX(FINISHED, "finished")                                                                       \
    XX(FAILED, "failed")                                                                           \
    XX(UNKNOWN, "unknown")

typedef enum {
#define AXL_TSK_ENUM(name, str) AXL_TASK_##name,
    AXL_TASK_STATE_MAP(AXL_TSK_ENUM)
#undef AXL_TSK_ENUM
        AXL_TASK_STATE_COUNT
} axl_task_state;

/* Wire names; never NULL ("?" for a value out of range). */
const char *axl_wire_type_name(axl_wire_type t);
const char *axl_worker_role_name(axl_worker_role r);
const char *axl_task_state_name(axl_task_state s);
/* Parse a wire name (length-delimited, exact, case-sensitive); 0 or AXL_ERANGE. */
int axl_wire_type_parse(const char *s, size_t len, axl_wire_type *out);
int axl_worker_role_parse(const char *s, size_t len, axl_worker_role *out);
int axl_task_state_parse(const char *s, size_t len, axl_task_state *out);

/* ---- Values ----------------------------------------------------------------------- */

/* A string slice, not NUL-terminated. For optional strings, ptr == NULL means absent. */
typedef struct axl_str {
    const char *ptr;
    size_t len;
} axl_str;

/* An axl_str of a string literal, or of a NUL-terminated string (NULL gives absent). */
#define AXL_STR_LIT(s) ((axl_str){(s), sizeof(s) - 1})
static inline axl_str axl_str_c(const char *s)
{
    return (axl_str){s, s != NULL ? strlen(s) : 0};
}
static inline bool axl_str_eq(axl_str a, const char *b)
{
    return a.ptr != NULL && b != NULL && strlen(b) == a.len && memcmp(a.ptr, b, a.len) == 0;
}

/*
 * One raw msgpack map, carried byte for byte (task.params, finished.result) so that it
 * can be forwarded or stored unchanged. Read it with axl_msg_parse() and the axl_obj_
 * readers of axl_proto.h. For encoding, ptr == NULL means the empty map {}.
 *
 * Rules (axl_wire_raw_check): a map whose keys are 1..AXL_PROTO_MAX_NAME bytes without
 * NUL, unique within their map, at most AXL_WIRE_MAX_RAW_KEYS in all; whose values are
 * a finite number (int or float), a string without NUL, a bool, an array of at most
 * AXL_WIRE_MAX_RAW_ARRAY finite numbers, or such a map; nesting (maps and arrays) at most
 * AXL_WIRE_MAX_RAW_DEPTH with the map itself at 1. No nil, bin or ext.
 */
typedef struct axl_raw {
    const void *ptr;
    size_t len;
} axl_raw;

/* ---- Messages --------------------------------------------------------------------- */
/* Field rules are in proto/README.md; "id" below is a task id (axl_wire_task_id).     */

/* worker -> engine, once per connection. */
typedef struct axl_wire_hello {
    axl_str worker; /* worker id: 1..AXL_WIRE_MAX_ID bytes, no control bytes */
    axl_worker_role role;
    uint32_t capacity;       /* 1..AXL_WIRE_MAX_CAPACITY tasks at once */
    double time;             /* Unix seconds, the worker's clock */
    uint32_t n_inflight;     /* 0..AXL_WIRE_MAX_IDS */
    const axl_str *inflight; /* task ids the worker holds, distinct; owned when decoded */
} axl_wire_hello;

/* engine -> worker. */
typedef struct axl_wire_task {
    axl_str id;         /* must equal "<experiment>[/<campaign>]/<trial>/<index>" */
    axl_str experiment; /* 1..AXL_PROTO_MAX_NAME bytes, no control bytes */
    uint32_t trial;
    uint32_t index; /* the task's index in the trial's task chain */
    axl_str kind;   /* 1..AXL_WIRE_MAX_KIND bytes of [a-z0-9_.-]: "spincoat", "anneal" */
    bool has_start_at;
    double start_at; /* Unix seconds; when to start (absent = now) */
    axl_raw params;  /* the task's parameters (axl_raw rules) */
} axl_wire_task;

/* engine -> worker. */
typedef struct axl_wire_cancel {
    axl_str id;
    axl_str reason; /* 0..AXL_WIRE_MAX_TEXT bytes */
} axl_wire_cancel;

/* worker -> engine: reply to task and cancel. */
typedef struct axl_wire_ack {
    axl_str id;
    axl_task_state state; /* accepted, or the task's current state when it is known */
} axl_wire_ack;

typedef struct axl_wire_started {
    axl_str id;
    double time;
} axl_wire_started;

typedef struct axl_wire_progress {
    axl_str id;
    double fraction; /* [0, 1] */
    axl_str note;    /* optional, 0..AXL_WIRE_MAX_TEXT bytes; ptr NULL = absent */
} axl_wire_progress;

typedef struct axl_wire_finished {
    axl_str id;
    double time;
    axl_raw result; /* measured values, file paths (axl_raw rules) */
} axl_wire_finished;

typedef struct axl_wire_failed {
    axl_str id;
    double time;
    axl_str reason; /* 0..AXL_WIRE_MAX_TEXT bytes */
    bool retryable; /* whether running the task again may succeed */
} axl_wire_failed;

/* worker -> engine, periodically. */
typedef struct axl_wire_heartbeat {
    axl_str worker;
    axl_worker_role role;
    uint64_t seq; /* increases by one per heartbeat of a connection */
    double time;
    uint32_t inflight; /* tasks held: 0..AXL_WIRE_MAX_IDS */
} axl_wire_heartbeat;

/* engine -> worker: which state are these tasks in? */
typedef struct axl_wire_status {
    bool has_ids;       /* false: all tasks the worker holds or remembers */
    uint32_t n_ids;     /* 0..AXL_WIRE_MAX_IDS */
    const axl_str *ids; /* distinct; owned when decoded */
} axl_wire_status;

typedef struct axl_wire_task_state {
    axl_str id;
    axl_task_state state;
} axl_wire_task_state;

/* worker -> engine. A task the worker never saw is reported as "unknown". */
typedef struct axl_wire_status_reply {
    uint32_t n_tasks;                 /* 0..AXL_WIRE_MAX_IDS */
    const axl_wire_task_state *tasks; /* distinct ids; owned when decoded */
} axl_wire_status_reply;

/* Either way: the reply to a message that could not be decoded or acted on. */
typedef struct axl_wire_error {
    int code;          /* an AXL_E code; decoded from a name this build does not know:
                          AXL_EPROTO, with code_name holding the name as sent */
    axl_str code_name; /* decoded only ("AXL_EMISSING"); ignored by the encoder */
    axl_str msg;       /* 0..AXL_WIRE_MAX_TEXT bytes for humans */
} axl_wire_error;

typedef struct axl_wire_msg {
    axl_wire_type type;
    union {
        axl_wire_hello hello;
        axl_wire_task task;
        axl_wire_cancel cancel;
        axl_wire_ack ack;
        axl_wire_started started;
        axl_wire_progress progress;
        axl_wire_finished finished;
        axl_wire_failed failed;
        axl_wire_heartbeat heartbeat;
        axl_wire_status status;
        axl_wire_status_reply status_reply;
        axl_wire_error error;
    };
    void *owned_; /* the id array of a decoded message; freed by axl_wire_free() */
} axl_wire_msg;

/* ---- Encode / decode -------------------------------------------------------------- */

/*
 * Decodes and validates one message. buf must outlive *msg (strings and raw maps borrow
 * from it). On success call axl_wire_free(msg); on error *msg is zeroed and owns nothing.
 * Unknown keys are ignored, at the top level and in status_reply entries.
 */
int axl_wire_decode(const void *buf, size_t len, axl_wire_msg *msg, axl_errbuf *eb);

/*
 * Appends the encoded message to out: keys in the order of proto/README.md, optional
 * fields only when present. Returns 0 or the code axl_wire_decode() would return for the
 * result (then out is left as it was); AXL_EINVAL for what no wire form has (an enum out
 * of range, a NULL pointer with a length).
 */
int axl_wire_encode(const axl_wire_msg *msg, msgpack_sbuffer *out, axl_errbuf *eb);

/* Frees what a decoded message owns and zeroes it; safe to call twice. */
void axl_wire_free(axl_wire_msg *msg);

/*
 * Appends an "error" message {code: axl_err_name(code), msg} -- the reply to a message
 * that failed with code. msg may be NULL (then axl_strerror(code)); it is cut to
 * AXL_WIRE_MAX_TEXT bytes at a UTF-8 boundary. code must be an AXL_E code. Returns 0,
 * AXL_EINVAL or AXL_ENOMEM.
 */
int axl_wire_encode_error(int code, const char *msg, msgpack_sbuffer *out, axl_errbuf *eb);

/*
 * Task ids. A campaign's tasks carry its campaign id (AXL_WIRE_CAMPAIGN_LEN lowercase hex
 * digits, 128 random bits made when the experiment was created):
 *     "<experiment>/<campaign>/<trial>/<index>"
 * so that the same experiment run into two stores on the same workers never shares a task.
 * Ids without the campaign part, "<experiment>/<trial>/<index>", are those of stores made
 * before campaign ids. Writes the id with its NUL into buf[0..cap); campaign NULL or ""
 * writes the short form. Returns 0, AXL_EINVAL (experiment empty or with a control byte,
 * campaign not 32 hex digits) or AXL_ETOOBIG (id over AXL_WIRE_MAX_ID bytes, or cap too
 * small; cap = AXL_WIRE_MAX_ID + 1 is enough).
 */
#define AXL_WIRE_CAMPAIGN_LEN 32
int axl_wire_campaign_task_id(char *buf, size_t cap, axl_str experiment, const char *campaign,
                              uint32_t trial, uint32_t index, axl_errbuf *eb);

/* The parts of a task id of experiment `experiment` (the builder's inverse). */
typedef struct axl_wire_task_ref {
    axl_str campaign; /* points into the id; empty for the short form */
    uint32_t trial, index;
} axl_wire_task_ref;

/* Parses id as a task id of `experiment`. Returns 0 or AXL_EINVAL (another experiment's,
 * or not a task id: a bad number, a leading zero, a campaign part that is not 32 hex). */
int axl_wire_task_id_parse(axl_str id, axl_str experiment, axl_wire_task_ref *out);

/* Whether p[0..n) is a campaign id: AXL_WIRE_CAMPAIGN_LEN lowercase hex digits. */
bool axl_wire_campaign_check(const char *p, size_t n);

/* The short form, "<experiment>/<trial>/<index>" (axl_wire_campaign_task_id with none). */
int axl_wire_task_id(char *buf, size_t cap, axl_str experiment, uint32_t trial, uint32_t index,
                     axl_errbuf *eb);

/*
 * Checks that raw[0..len) is one msgpack map following the axl_raw rules; `where` names
 * it in errors ("task.params"). Returns 0 or a code as listed at the top.
 */
int axl_wire_raw_check(const void *raw, size_t len, const char *where, axl_errbuf *eb);

#endif
