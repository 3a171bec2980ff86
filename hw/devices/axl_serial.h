/*
 * axl_serial.h - a serial device on the worker's libuv loop: the port opened raw with
 * termios (baud, 7E1 / 8N1, no echo, non-blocking) and watched with uv_poll (no blocking
 * read, no sleep-polling), incoming bytes cut into lines, and a queue of exchanges - one
 * command written, its reply lines matched, a uv timer for the reply, retries where the
 * device's protocol allows them. Every device driver in hw/devices/ is built on it.
 *
 * Contract (libuv style):
 *  - All calls on the loop thread; callbacks on it too, never from inside the call that
 *    queued the work (a failure to reopen the port is reported from a timer).
 *  - A port that goes away (hang-up, EIO, read of 0 on a pty, write error) fails the
 *    current and every queued exchange with "disconnected: <why>"; the next exchange
 *    queued reopens the path (a device plugged back in - by path, or the same USB
 *    vendor/product/serial found again).
 *  - axl_sdev_close: no callback after it returns; the memory is freed when the handles
 *    are closed.
 */
#ifndef AXL_SERIAL_H
#define AXL_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proto/axl_error.h"

#define AXL_SERIAL_LINE_MAX 1024 /* longer lines are cut and delivered in pieces */
#define AXL_XCH_TX_MAX 512       /* bytes of one command */
#define AXL_XCH_WHY_MAX 240      /* bytes of a failure reason */

typedef struct axl_serial_opts {
    const char *path; /* /dev/ttyACM0, a pty, "usb:VID:PID[:SERIAL]" (= the ids below), or
                         NULL when found by the ids below */
    const char *usb_vid, *usb_pid, *usb_serial; /* hex "1eaf", "0004", or NULL */
    int baud;                                   /* 9600, 115200, ... */
    int data_bits;                              /* 7 or 8 */
    char parity;                                /* 'N', 'E', 'O' */
    int stop_bits;                              /* 1 or 2 */
    const char *name;                           /* the device's name in messages ("gantry") */
} axl_serial_opts;

/* What a matcher makes of one reply line. */
typedef enum {
    AXL_XCH_IGNORE, /* not for this exchange (e.g. Marlin's "echo:busy: processing") */
    AXL_XCH_MORE,   /* consumed, keep waiting */
    AXL_XCH_DONE,   /* the exchange succeeded */
    AXL_XCH_RETRY,  /* a bad reply the protocol allows to re-ask for (checksum) */
    AXL_XCH_FAIL,   /* the device refused: the reason is in why */
} axl_xch_verdict;

typedef struct axl_sdev axl_sdev;
typedef struct axl_xch axl_xch;

/* line[0..len) without its terminator (NUL-terminated too); why: AXL_XCH_WHY_MAX bytes. */
typedef axl_xch_verdict (*axl_xch_match)(axl_xch *x, const char *line, size_t len, char *why);
/* status 0, AXL_ETIMEDOUT, AXL_EIO (disconnected), AXL_EPROTO (refused / bad reply) or
 * AXL_ECANCELED (device closed); why is the reason, with the device's own words. */
typedef void (*axl_xch_done)(axl_xch *x, int status, const char *why);

/* One command and its reply. Allocated by axl_sdev_xch (zeroed); owned by the sdev until
 * its done callback returns, then freed. */
struct axl_xch {
    char tx[AXL_XCH_TX_MAX];
    size_t tx_len;
    unsigned timeout_ms; /* 0: done as soon as written (commands without a reply) */
    int retries;         /* re-sends allowed after a timeout or a RETRY verdict */
    bool flush_first;    /* drop stray input before writing (gripper's `l`) */
    axl_xch_match match;
    axl_xch_done done;
    void *ctx;      /* the caller's */
    double num[4];  /* scratch for parsers */
    char note[160]; /* scratch for parsers: e.g. an error line kept until its `ok` */
    int attempts;   /* sends so far */
    axl_xch *next;
};

/*
 * Creates the device (not yet opened: the first exchange opens it). Strings in o are
 * copied. Returns 0, AXL_EINVAL (bad baud/format/path) or AXL_ENOMEM.
 */
int axl_sdev_new(axl_sdev **out, uv_loop_t *loop, const axl_serial_opts *o, axl_errbuf *eb);

/* A new exchange (zeroed) to fill and queue; NULL when out of memory. */
axl_xch *axl_sdev_xch(axl_sdev *s);

/* Formats x->tx. Returns 0 or AXL_ETOOBIG. */
int axl_xch_printf(axl_xch *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Queues x (ownership passes to s); it runs after those queued before it. Its done
 * callback always fires, later, exactly once (unless s is closed first). */
void axl_sdev_queue(axl_sdev *s, axl_xch *x);

/* Fails every queued exchange and the current one (AXL_ECANCELED, `why`): a task
 * cancelled mid-sequence. */
void axl_sdev_abort(axl_sdev *s, const char *why);

/* Removes the queued (not yet sent) exchanges whose ctx is ctx, without callbacks: the
 * rest of a sequence after one of its steps failed. */
int axl_sdev_drop(axl_sdev *s, const void *ctx); /* returns how many */

/* Whether the port is open now. */
bool axl_sdev_is_open(const axl_sdev *s);

/* The path opened last ("" if never). */
const char *axl_sdev_path(const axl_sdev *s);

/* Closes; no callback after it returns (operations still queued are freed). */
void axl_sdev_close(axl_sdev *s);

/* Opens path raw (termios) and non-blocking; returns the fd or a negative AXL_E code. */
int axl_serial_open_fd(const char *path, int baud, int data_bits, char parity, int stop_bits,
                       axl_errbuf *eb);

/* Finds /dev/<tty> of the USB device with these ids under /sys/class/tty (vid, pid hex,
 * serial may be NULL). Returns 0 (path in out), AXL_ENOENT. */
int axl_serial_find_usb(const char *vid, const char *pid, const char *serial, char *out,
                        size_t out_len, axl_errbuf *eb);

/*
 * A device operation: a sequence of exchanges that succeeds when all of them have, and
 * fails at the first failure (the rest are dropped unsent). on_xch runs after each
 * successful exchange (its parsed values in x->num) and may queue more exchanges or fail
 * the operation. cb fires exactly once, from the loop, never from inside axl_sop_* calls
 * made by the caller outside a callback.
 */
typedef void (*axl_dev_cb)(void *arg, int status, const char *why);
typedef struct axl_sop axl_sop;
struct axl_sop {
    axl_sdev *s;
    axl_dev_cb cb;
    void *arg;
    void (*on_xch)(axl_sop *op, axl_xch *x);
    void *user;  /* the device's */
    double v[8]; /* the device's scratch (targets, results) */
    int pending;
    int hold; /* > 0: not over when nothing is pending (a device's timer is running) */
    bool sealed, in_cb, over;
    int fail_status;
    char fail_why[AXL_XCH_WHY_MAX];
};

/* A new operation on s; NULL when out of memory. */
axl_sop *axl_sop_new(axl_sdev *s, axl_dev_cb cb, void *arg);

/* Queues one exchange of op: fmt is the command, m its matcher (NULL with timeout 0: no
 * reply). Returns the exchange (to set num / flush_first before the loop runs) or NULL
 * (out of memory, or the command does not fit: the operation fails). */
axl_xch *axl_sop_send(axl_sop *op, axl_xch_match m, unsigned timeout_ms, int retries,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* No more exchanges except from on_xch: the operation ends when the queued ones are done. */
void axl_sop_seal(axl_sop *op);

/* Fails op (from on_xch, or from a device's own timer). */
void axl_sop_fail(axl_sop *op, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Holds op open while nothing is queued (a wait between two polls); releasing the last
 * hold from a timer with nothing pending ends op (success, or its recorded failure). */
void axl_sop_hold(axl_sop *op, bool on);

/* Ends op at once with no callback (the task was cancelled). */
void axl_sop_cancel(axl_sop *op);

/* Timeout of a reply the device gives after `device_ms` of its own time at compression
 * `speed` (>= 1): device_ms / speed, but never under floor_ms. */
unsigned axl_dev_ms(double device_ms, double speed, unsigned floor_ms);

#endif
