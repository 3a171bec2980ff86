/*
 * nng_bridge.h - one nng socket handed to a libuv loop (hw/worker's links and workers), and
 * the one place where axle closes nng sockets (the engine's event stream too).
 *
 * nng calls back on its own threads; axle's rule is that only the loop thread touches
 * state. The bridge keeps a receive aio armed on the socket and watches its pipes; each
 * message and each connect/disconnect is queued under a mutex and the loop is woken
 * with uv_async_send. The loop thread then gets the events, in order, through `cb`.
 * Nothing else crosses threads.
 *
 * Sending is a non-blocking nng_sendmsg from the loop thread (nng sockets are
 * thread-safe); the socket's send buffer absorbs bursts.
 *
 * Close order (axl_bridge_close): mark closing under the mutex (no nng thread calls
 * uv_async_send after that) and close the async handle; a detached thread stops the
 * receive aio and closes the socket (nng runs every pipe callback before nng_close
 * returns). The loop thread never waits on nng_close: libnng 1.5.2 can deadlock there
 * (see nng_bridge.c). The bridge is freed when both are done.
 */
#ifndef AXL_HW_NNG_BRIDGE_H
#define AXL_HW_NNG_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <uv.h>

#include "proto/axl_error.h"

typedef enum {
    AXL_BRIDGE_MSG = 0,      /* a message: buf/len valid for the callback only */
    AXL_BRIDGE_CONNECTED,    /* a peer's pipe was added */
    AXL_BRIDGE_DISCONNECTED, /* a peer's pipe was removed */
} axl_bridge_event;

/*
 * pipe: the nng pipe id (one connection) the event or message belongs to. nng runs pipe
 * callbacks and receive callbacks on different threads, so a connection's first message
 * may arrive before its CONNECTED event, and an old connection's DISCONNECTED after a new
 * one's traffic: state kept per connection must be keyed by this id, not by order.
 */
typedef void (*axl_bridge_cb)(void *data, axl_bridge_event ev, uint32_t pipe, const void *buf,
                              size_t len);

typedef struct axl_bridge axl_bridge;

/*
 * Takes over `sock` (already opened and configured; listened or dialed after this call,
 * so that no pipe event is missed) and starts receiving. cb runs on the loop thread.
 * On error the socket is closed. *out is freed by axl_bridge_close.
 * Returns 0, AXL_ENOMEM or AXL_EIO.
 */
int axl_bridge_open(uv_loop_t *loop, nng_socket sock, axl_bridge_cb cb, void *data,
                    axl_bridge **out, axl_errbuf *eb);

/* The socket, for nng_listen / nng_dial / options. Valid until axl_bridge_close. */
nng_socket axl_bridge_socket(const axl_bridge *b);

/*
 * Queues buf[0..len) (copied) for sending, never blocking. Returns 0, AXL_EAGAIN (send
 * buffer full), AXL_ECLOSED or AXL_ENOMEM.
 */
int axl_bridge_send(axl_bridge *b, const void *buf, size_t len);

/*
 * Stops everything (no callback after it returns); close_cb(close_data) (may be NULL)
 * once libuv has closed the handle. The socket is closed on a detached thread. Loop
 * thread only.
 */
void axl_bridge_close(axl_bridge *b, void (*close_cb)(void *close_data), void *close_data);

/*
 * Closes a socket that was never bridged (the engine's PUB / REP stream sockets) on a
 * detached thread, like axl_bridge_close: the libnng 1.5.2 close deadlock never blocks the
 * caller. A thread blocked in a receive on sock gets NNG_ECLOSED. axl_bridge_drain waits
 * for it too.
 */
void axl_bridge_close_socket(nng_socket sock);

/* Waits up to timeout_s for every socket being closed (any bridge of the process) to be
 * closed; true when none is left. For a process about to exit (listener sockets unlink
 * their ipc path on close). */
bool axl_bridge_drain(double timeout_s);

#endif
