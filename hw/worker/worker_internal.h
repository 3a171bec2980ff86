/*
 * worker_internal.h - INTERNAL to hw/worker/: the worker's task table and state, shared by
 * worker.c (the process: connection, tasks, driver) and worker_journal.c (the journal).
 * Loop thread only.
 */
#ifndef AXL_HW_WORKER_INTERNAL_H
#define AXL_HW_WORKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "hw/worker/axl_worker.h"
#include "hw/worker/nng_bridge.h"

#define JOURNAL_MAX_FILE (64u << 20)

typedef struct wtask {
    char id[AXL_WIRE_MAX_ID + 1];
    char experiment[AXL_PROTO_MAX_NAME + 1];
    uint32_t trial, index;
    char kind[AXL_WIRE_MAX_KIND + 1];
    axl_task_state state;
    bool has_start_at;
    double start_at;
    void *params; /* owned raw map */
    size_t params_len;
    void *result; /* owned raw map, when finished */
    size_t result_len;
    char *reason; /* owned, when failed */
    bool retryable;
    uint64_t seq;      /* table order: the oldest finished task is forgotten first */
    double due;        /* when it may start (start_at, or its arrival): the start order */
    uv_timer_t *timer; /* waiting for start_at */
    bool queued;       /* ready, waiting for a free place */
    bool running;      /* the driver has it */
    axl_drv_task drv;
    struct worker *w;
} wtask;

typedef struct worker {
    axl_worker_config cfg;
    char id[AXL_WIRE_MAX_ID + 1];
    char data_dir[460];
    uint32_t capacity;
    uv_loop_t loop;
    axl_bridge *bridge;
    uv_timer_t heartbeat, alone;
    uv_signal_t sigterm, sigint;
    axl_driver driver;
    bool driver_open;
    wtask *tasks[AXL_WORKER_MAX_TASKS];
    size_t ntasks;
    uint64_t next_seq;
    uint32_t running;
    long started_count;
    bool connected;
    uint32_t pipe; /* the engine's connection (nng pipe id) */
    uint64_t hb_seq;
    int journal_fd;
    char journal_path[640];
    size_t journal_records;
    bool alone_due; /* no engine for exit_when_alone_s: exit once no task runs */
    bool stopping;
    int pending_closes;
} worker;

/* The task table (worker.c). find: NULL when unknown; task_new: NULL when the table is
 * full of tasks in flight or out of memory. */
wtask *axl_wk_find(worker *w, const char *id, size_t len);
wtask *axl_wk_task_new(worker *w, const char *id, size_t id_len);
void axl_wk_set_reason(wtask *t, const char *reason, bool retryable);

/* The journal (worker_journal.c): opens <data_dir>/workers/<id>.journal (no journal
 * without a data_dir) and reloads the table from it; appends a task's new state. */
int axl_wk_journal_open(worker *w, axl_errbuf *eb);
void axl_wk_journal(worker *w, const wtask *t);

#endif
