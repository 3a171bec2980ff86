/*
 * stream.h - the event stream: every committed event goes out on an nng PUB socket, and
 * a replay service (nng REP) answers "events from seq N" from the store, so that a
 * subscriber can catch up and then follow live with no gap and no duplicate.
 *
 * Replay request  {v: 1, type: "replay", from: N, to: M (0 = latest), max: K}
 * Replay reply    {v: 1, type: "replay_reply", last_seq: L, more: bool, events: [event...]}
 * The events are the log's bytes, embedded as maps. proto/README.md documents both.
 *
 * Default addresses derive from the store directory, so that `axle subscribe --store
 * DIR` finds a running campaign with no configuration:
 *   ipc://DIR/events.pub   ipc://DIR/replay.rep
 * Remote access is opt-in (tcp:// addresses given explicitly).
 */
#ifndef AXL_STREAM_H
#define AXL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "proto/axl_error.h"
#include "storage/axl_store.h"

#define AXL_STREAM_ADDR_MAX 512
#define AXL_REPLAY_MAX_EVENTS 4096 /* per reply */
#define AXL_REPLAY_MAX_BYTES (AXL_PROTO_MAX_MSG - 4096)

#define AXL_REPLAY_MAX_REQUEST 4096 /* bytes; larger requests get AXL_ETOOBIG */

typedef struct axl_stream axl_stream;

/*
 * Decodes a replay request (proto/README.md "Replay"): {v: 1, type: "replay", from?, to?,
 * max?}. Errors, each the reply's code: AXL_ETOOBIG (more than AXL_REPLAY_MAX_REQUEST
 * bytes), AXL_EPROTO/AXL_ETYPE (not a msgpack map), AXL_EMISSING or AXL_EVERSION (v absent
 * or not 1), AXL_ENOTSUP (another type), AXL_ERANGE (from > to, to != 0). buf is borrowed.
 */
int axl_replay_request_decode(const void *buf, size_t len, uint64_t *from, uint64_t *to,
                              uint64_t *max, axl_errbuf *eb);

/* Writes the default addresses for a store directory into pub/replay (ipc://). */
int axl_stream_default_addrs(const char *store_dir, char *pub, char *replay, size_t size);

/*
 * Binds the PUB socket at pub_addr and starts the replay service at replay_addr, which
 * reads from store (borrowed: must outlive the stream; reads are thread-safe).
 * *out owns the stream; axl_stream_close() stops both.
 */
int axl_stream_open(const char *pub_addr, const char *replay_addr, axl_store *store,
                    axl_stream **out, axl_errbuf *eb);

/* Per-subscriber queue of the PUB socket (nng's NNG_OPT_SENDBUF, default 16): events
 * beyond it are dropped for a subscriber that does not read. */
#define AXL_STREAM_SENDBUF 256
/* At close, how long the stream waits for subscribers to be sent the end of the log: at
 * most AXL_STREAM_DRAIN_MS, and no longer than AXL_STREAM_STALL_MS without progress. */
#define AXL_STREAM_DRAIN_MS 2000
#define AXL_STREAM_STALL_MS 250

/*
 * Publishes one encoded event (non-blocking; a slow subscriber loses live events and
 * recovers them by replay). Called on the loop thread.
 */
void axl_stream_publish(axl_stream *s, const void *data, size_t len);

typedef struct axl_stream_stats {
    uint64_t published;   /* events published since the stream opened */
    uint64_t subscribers; /* subscriber connections since then */
    uint64_t dropped;     /* live events dropped for slow subscribers so far (at least) */
} axl_stream_stats;

/* The counters now (experiment.stopped's "stream"); dropped counts an event once per
 * subscriber that lost it. Reads nng's statistics: not for every event. */
void axl_stream_stats_get(axl_stream *s, axl_stream_stats *st);

/*
 * The end of publishing: waits (bounded, see AXL_STREAM_DRAIN_MS) until every connected
 * subscriber has been sent every event, then counts as dropped whatever was not sent, and
 * fills *st (may be NULL) with the final counters. Nothing may be published after it.
 * axl_stream_close calls it; a second call changes nothing.
 */
void axl_stream_finish(axl_stream *s, axl_stream_stats *st);

/* axl_stream_finish, a warning with the count of dropped events if any, then both sockets
 * stop. NULL is a no-op. */
void axl_stream_close(axl_stream *s);

/*
 * Client side (axle subscribe, tests): asks the replay service for events [from, to]
 * and calls fn for each, in seq order; *next_seq receives the seq after the last one
 * seen. timeout_ms bounds each request. fn returns non-zero to stop.
 */
typedef int (*axl_replay_fn)(void *ud, uint64_t seq, const void *data, size_t len);
int axl_replay_fetch(const char *replay_addr, uint64_t from, uint64_t to, int timeout_ms,
                     axl_replay_fn fn, void *ud, uint64_t *next_seq, axl_errbuf *eb);

#endif
