/*
 * axl_link.h - the engine's end of one worker connection: an nng PAIR1 socket that
 * *dials* the worker's address (nng re-dials by itself after any break, every 10-200 ms),
 * decodes what arrives on the loop thread, and keeps a heartbeat timer.
 *
 * The heartbeat timer is a deadline, not a poll: it is re-armed by every message from
 * the worker (heartbeats arrive every heartbeat_ms) and fires only when the worker has
 * been silent for timeout_ms (before the first hello: connect_timeout_ms). Then the
 * link is *lost* (on_lost); it is *up* again on the next hello (a new connection: a
 * restarted worker, or the same one after a network break) or on any message from the
 * same connection (a worker that was only stalled). The owner reconciles at every up:
 * typically a `status` query, whose `status_reply` says which task ids the worker holds
 * or remembers.
 *
 * A message that does not decode, or that a worker must not send (task, cancel, status),
 * is answered with `error`; an `error` is never answered. A hello with another role
 * than expected leaves the link down (a wrong address) and is logged.
 *
 * Threads: loop thread only (nng's threads are bridged, hw/worker/nng_bridge.h). Callbacks run
 * on the loop thread, never from inside axl_link_open / axl_link_send / axl_link_close.
 */
#ifndef AXL_LINK_H
#define AXL_LINK_H

#include <stdbool.h>

#include <uv.h>

#include "proto/axl_error.h"
#include "proto/axl_wire.h"

typedef struct axl_link axl_link;

typedef struct axl_link_cbs {
    void *data; /* the owner's; axl_link_data() returns it */
    /* The worker is up: h is its hello on a new connection, or NULL when a silent
     * worker spoke again on the same connection. Borrowed for the call. */
    void (*on_up)(axl_link *l, const axl_wire_hello *h);
    /* Every other message (heartbeats included). Borrowed for the call. */
    void (*on_msg)(axl_link *l, const axl_wire_msg *m);
    /* No message for the timeout: the worker is lost until it is up again. */
    void (*on_lost)(axl_link *l, double silent_ms);
} axl_link_cbs;

typedef struct axl_link_opts {
    const char *addr;            /* ipc://PATH or tcp://HOST:PORT (copied) */
    axl_worker_role role;        /* the role its hello must carry */
    unsigned timeout_ms;         /* silence that makes a connected worker lost */
    unsigned connect_timeout_ms; /* the same before the first hello (a process starting) */
} axl_link_opts;

/* Opens the socket and starts dialing. *out is freed by axl_link_close.
 * Returns 0, AXL_EINVAL (bad address or options), AXL_ENOMEM, AXL_EIO. */
int axl_link_open(uv_loop_t *loop, const axl_link_opts *o, const axl_link_cbs *cbs, axl_link **out,
                  axl_errbuf *eb);

/* Encodes and queues m for the worker (never blocks; nng buffers while the connection
 * is down). Returns 0 or the encoder's / AXL_EAGAIN / AXL_ECLOSED. */
int axl_link_send(axl_link *l, const axl_wire_msg *m, axl_errbuf *eb);

/* hello seen on the current connection and not lost since. */
bool axl_link_up(const axl_link *l);
axl_worker_role axl_link_role(const axl_link *l);
const char *axl_link_addr(const axl_link *l);
/* The worker id of the last hello ("" before one). */
const char *axl_link_worker(const axl_link *l);
void *axl_link_data(const axl_link *l);
/* Messages received and heartbeats whose seq skipped (lost heartbeats), for tests. */
uint64_t axl_link_received(const axl_link *l);

/* What the link refused (each with a log line, and an `error` reply to the worker):
 *  - wrong_role: a hello or heartbeat of another role than the link's; a second hello of
 *    another role on a connection already up makes the worker lost (on_lost: the owner's
 *    lost-worker policy), and the connection is not heard again (refused_msgs);
 *  - oversize: messages over AXL_PROTO_MAX_MSG (AXL_ETOOBIG; messages over the transport's
 *    cap, twice that, cannot be read: nng drops the connection);
 *  - undecodable: any other message that does not decode. */
typedef struct axl_link_counts {
    uint64_t wrong_role, oversize, undecodable, refused_msgs;
} axl_link_counts;
void axl_link_get_counts(const axl_link *l, axl_link_counts *out);

/* Closes the socket and the timer; no callback after it returns; close_cb(data) once the
 * memory is freed (may be NULL). */
void axl_link_close(axl_link *l, void (*close_cb)(void *data), void *data);

#endif
