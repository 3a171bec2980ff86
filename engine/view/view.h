/*
 * view.h - watching a campaign: the page's event feed (store -> JSON), the web server
 * behind `axle serve` (static page, WebSocket feed, the data folder's CSV files) and the
 * self-contained report of `axle report`. See engine/view/README.md.
 */
#ifndef AXL_VIEW_H
#define AXL_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/axl_error.h"
#include "storage/axl_store.h"

/* ---- A growable byte buffer (feed.c) --------------------------------------------- */
typedef struct axl_view_buf {
    char *data; /* owned; NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
} axl_view_buf;

int axl_view_buf_add(axl_view_buf *b, const void *p, size_t n); /* 0 or AXL_ENOMEM */
int axl_view_buf_str(axl_view_buf *b, const char *s);
void axl_view_buf_free(axl_view_buf *b); /* frees data, zeroes *b */

/* ---- The feed (feed.c) ------------------------------------------------------------ */

/*
 * Appends one encoded event (the log's bytes) to out as the page's JSON object
 * {seq, time, type, experiment, trial?, body}, without what a page never shows (the
 * generator's binary model state). Returns 0, AXL_EPROTO (undecodable), AXL_ENOMEM.
 */
int axl_view_event_json(const void *data, size_t len, axl_view_buf *out);

#define AXL_VIEW_NAME_MAX 128

/*
 * Reads the events from seq `from` on (a window of at most max_events seqs, about
 * max_bytes of JSON) with short-lived iterators, and appends the message the feed sends:
 *   {"from":F,"events":[...],"to":T,"last":L}
 * covering seqs F..T (L = the log's last seq when it was read). Within the window a
 * trial's events are coalesced: each carries the trial's whole record, so only the
 * trial's last one is sent; every other event is sent. *next receives T + 1 (from when
 * nothing was read). Returns 0, or a store error (eb says which).
 */
int axl_view_read_chunk(axl_store *s, uint64_t from, size_t max_events, size_t max_bytes,
                        axl_view_buf *out, uint64_t *next, axl_errbuf *eb);

/* ---- Web assets (generated from web/ at build time: assets.c) ---------------------- */
typedef struct axl_view_asset {
    const char *path; /* "/index.html", "/app.js", "/style.css" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} axl_view_asset;
extern const axl_view_asset axl_view_assets[];
extern const size_t axl_view_nassets;
const axl_view_asset *axl_view_asset_get(const char *path); /* NULL when unknown */

/* ---- The server (server.c) -------------------------------------------------------- */
typedef struct axl_view_server axl_view_server;

typedef struct axl_view_options {
    const char *store_dir; /* required */
    const char *http;      /* "HOST:PORT"; NULL = 127.0.0.1:8080; PORT 0 = any free port */
    const char *pub_addr;  /* campaign PUB stream; NULL = the store's default */
    bool wait_for_store;   /* no store yet is fine: it is opened once a campaign publishes */
} axl_view_options;

/*
 * Refuses an address that is not loopback (127.0.0.0/8, ::1, localhost): without TLS
 * and an access token the page is for this machine only. Returns 0, AXL_EINVAL
 * (malformed), AXL_EACCES (not loopback); eb says why.
 */
int axl_view_check_addr(const char *hostport, char *host, size_t hostsz, unsigned *port,
                        axl_errbuf *eb);

/*
 * Starts serving (nng's HTTP server and WebSocket listener on its own threads) and a
 * follower thread that wakes the feeds when the campaign commits events. *out owns it;
 * axl_view_server_close() stops everything. The store is opened read-only.
 */
int axl_view_server_open(const axl_view_options *opt, axl_view_server **out, axl_errbuf *eb);
unsigned axl_view_server_port(const axl_view_server *v); /* the bound port */
/* Sends every connected page the log up to its current end and waits until each send has
 * completed, at most timeout_s: a campaign that has just ended shows its end on every
 * page before the view closes. true when every page got everything. */
bool axl_view_server_drain(axl_view_server *v, double timeout_s);
void axl_view_server_close(axl_view_server *v); /* NULL is a no-op */

/*
 * Resolves a request path under /data/ to a file inside dir/data: canonical path (no
 * "..", no symlink leading out), a regular .csv file. out receives the real path.
 * Returns 0, AXL_EACCES (outside the data folder or not a .csv), AXL_ENOENT.
 */
int axl_view_data_path(const char *store_dir, const char *rel, char *out, size_t outsz,
                       axl_errbuf *eb);

/*
 * `axle run --http ADDR`: starts `axle serve --store DIR --http ADDR --wait-for-store` as
 * a child process of this one (its own reader of the store, ended with this process).
 * Returns 0 with *pid set, AXL_EINVAL/AXL_EACCES for a bad or non-loopback address,
 * AXL_EIO when it cannot start. axl_view_child_stop() ends and reaps it (pid <= 0: no-op).
 */
int axl_view_child_start(const char *store_dir, const char *http, const char *pub_addr, int *pid,
                         axl_errbuf *eb);
void axl_view_child_stop(int pid);

/* ---- The report (report.c) -------------------------------------------------------- */
/*
 * Writes one self-contained HTML file (page, script, style and data inline) for the
 * experiment `name` of the store at dir. Returns 0, AXL_ENOENT (no such experiment),
 * AXL_EIO, a store error; eb says which. *bytes receives the file's size (may be NULL).
 */
int axl_view_report_write(const char *store_dir, const char *name, const char *out_path,
                          size_t *bytes, axl_errbuf *eb);

/*
 * Appends the page as one HTML document (style and script inline; with data != NULL also
 * `window.AXLE_REPORT = data`, which must be JSON). The live page is served this way too:
 * one request instead of three before the feed can open. Returns 0, AXL_ENOMEM, AXL_EPROTO.
 */
int axl_view_page_inline(const char *data, size_t data_len, axl_view_buf *page);

#endif
