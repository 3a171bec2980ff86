/*
 * axl_ot2.h - the OT-2 liquid handler's client (HARDWARE.md §7): JSON over a WebSocket,
 * `{"task": {"task", "taskid", "nist_time", "args", "kwargs"}}`, answered
 * `{"acknowledged": taskid}` and later `{"completed": {taskid: time, ...}}` (cumulative).
 *
 * nng 1.5.2's ws:// stream dialer does the WebSocket (Debian's libnng is built with it:
 * RFC 6455 handshake and framing, text frames with NNG_OPT_WS_SEND_TEXT / RECV_TEXT), so
 * no hand-written WebSocket is needed. Its callbacks run on nng's threads and only wake
 * the loop (uv_async); everything else happens on the loop thread.
 *
 * The client connects on the first task and again after a disconnect (PASCAL opens one
 * connection per spin coat; reconnecting on demand covers both). A task fails (callback
 * with the reason) when it is not acknowledged within 2 s, not completed within 3x its
 * expected time / speed (floor 2 s), when the OT-2 answers `{"error": ...}`, or when the
 * connection drops while it is pending. Callbacks fire on the loop, never from inside
 * axl_ot2_submit.
 */
#ifndef AXL_OT2_H
#define AXL_OT2_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "hw/devices/axl_serial.h"

typedef struct axl_ot2 axl_ot2;

/* url: ws://HOST:PORT (PASCAL's port is 8764). Returns 0, AXL_EINVAL, AXL_ENOMEM, AXL_EIO. */
int axl_ot2_new(axl_ot2 **out, uv_loop_t *loop, const char *url, double speed, axl_errbuf *eb);

/* Submits task `task` (kwargs borrowed, may be NULL) to start start_in_s device seconds
 * from now (nist_time = now + start_in_s / speed) and to take about expect_s device
 * seconds. cb(arg, status, why) once it is completed or has failed. Returns 0 or an error
 * (then no callback). */
int axl_ot2_submit(axl_ot2 *o, const char *task, json_t *kwargs, double start_in_s, double expect_s,
                   axl_dev_cb cb, void *arg, axl_errbuf *eb);

/* Whether a connection is up now. */
bool axl_ot2_connected(const axl_ot2 *o);

/* Closes: no callback after it returns; memory freed on the loop's next turn. */
void axl_ot2_close(axl_ot2 *o);

#endif
