/*
 * dev_test.h - helpers for test/devices (header-only, static): an `axle emulate` child
 * on a pty in a temp dir (its `ready` / `plugged` lines read from a pipe with a
 * deadline), its command log, and a libuv loop that runs one device operation to its
 * callback with a guard timer (a driver that never answers fails the test, never hangs).
 */
#ifndef AXL_DEV_TEST_H
#define AXL_DEV_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "hw/devices/axl_devices.h"

#ifndef AXLE_BIN
#error "AXLE_BIN must name the axle binary"
#endif

static pid_t emu_children[16]; /* killed by emu_teardown even when a test fails */

typedef struct emu_child {
    pid_t pid;
    int out; /* its stdout */
    char dir[256];
    char path[300]; /* the pty symlink */
    char log[300];
} emu_child;

/* Reads one line from the child's stdout within ms; returns false on timeout / EOF. */
static inline bool emu_line(emu_child *c, char *buf, size_t n, int ms)
{
    size_t k = 0;
    while (k + 1 < n) {
        struct pollfd p = {c->out, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0)
            return false;
        char ch;
        if (read(c->out, &ch, 1) != 1)
            return false;
        if (ch == '\n')
            break;
        buf[k++] = ch;
    }
    buf[k] = '\0';
    return true;
}

/* `axle emulate DEVICE --pty DIR/DEVICE --speed SPEED --log DIR/DEVICE.log --quiet
 * extra...` (NULL-terminated); waits for `ready`. */
static inline void emu_start(emu_child *c, const char *device, const char *speed, ...)
{
    memset(c, 0, sizeof(*c));
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(c->dir, sizeof(c->dir), "%s/axl_dev_XXXXXX", base);
    assert_non_null(mkdtemp(c->dir));
    snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, device);
    snprintf(c->log, sizeof(c->log), "%s/%s.log", c->dir, device);
    const char *argv[40] = {AXLE_BIN,  "emulate", device,  "--pty", c->path,
                            "--speed", speed,     "--log", c->log,  "--quiet"};
    if (strncmp(speed, "ws://", 5) == 0) { /* the OT-2: `speed` is its URL */
        argv[3] = "--listen";
        argv[4] = speed;
        argv[6] = "1000";
        snprintf(c->path, sizeof(c->path), "%s", speed);
    }
    int argc = 10;
    va_list ap;
    va_start(ap, speed);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 38)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(AXLE_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    c->out = fds[0];
    for (int i = 0; i < 16; i++)
        if (emu_children[i] == 0) {
            emu_children[i] = c->pid;
            break;
        }
    char line[512];
    assert_true(emu_line(c, line, sizeof(line), 10000));
    assert_true(strncmp(line, "ready ", 6) == 0);
}

static inline int emu_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 16; i++)
        if (emu_children[i] > 0) {
            kill(emu_children[i], SIGKILL);
            waitpid(emu_children[i], NULL, 0);
            emu_children[i] = 0;
        }
    return 0;
}

static inline void emu_stop(emu_child *c)
{
    for (int i = 0; i < 16; i++)
        if (emu_children[i] == c->pid)
            emu_children[i] = 0;
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        int st;
        waitpid(c->pid, &st, 0);
        c->pid = 0;
    }
    if (c->out > 0)
        close(c->out);
    c->out = 0;
    unlink(c->log);
    if (strncmp(c->path, "ws://", 5) != 0)
        unlink(c->path);
    rmdir(c->dir);
}

/* The command log as one string (caller frees). */
static inline char *emu_log(const emu_child *c)
{
    FILE *f = fopen(c->log, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* How many log lines equal line exactly. */
static inline int emu_log_count(const emu_child *c, const char *line)
{
    char *log = emu_log(c);
    int n = 0;
    size_t len = strlen(line);
    for (char *p = log; *p;) {
        char *nl = strchr(p, '\n');
        size_t k = nl ? (size_t)(nl - p) : strlen(p);
        if (k == len && memcmp(p, line, len) == 0)
            n++;
        p += k + (nl ? 1 : 0);
    }
    free(log);
    return n;
}

/* ---- one operation on a loop ---- */

typedef struct op_result {
    bool done;
    int status;
    char why[AXL_XCH_WHY_MAX];
    uv_loop_t *loop;
} op_result;

static inline void op_cb(void *arg, int status, const char *why)
{
    op_result *r = arg;
    assert_false(r->done); /* exactly once */
    r->done = true;
    r->status = status;
    snprintf(r->why, sizeof(r->why), "%s", why);
    uv_stop(r->loop);
}

static inline void guard_fire(uv_timer_t *t)
{
    (void)t;
    fail_msg("a device operation never called back");
}

/* Runs the loop until r is done; fails the test after guard_ms. */
static inline void op_wait(uv_loop_t *loop, op_result *r, unsigned guard_ms)
{
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, guard_fire, guard_ms, 0);
    while (!r->done)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Closes everything left on loop and the loop. */
static inline void loop_drain(uv_loop_t *loop)
{
    while (uv_run(loop, UV_RUN_NOWAIT) != 0)
        ;
    assert_int_equal(uv_loop_close(loop), 0);
}

#define OP(lp, r, call)                                                                            \
    do {                                                                                           \
        memset(&(r), 0, sizeof(r));                                                                \
        (r).loop = (lp);                                                                           \
        assert_non_null(call);                                                                     \
        op_wait((lp), &(r), 15000);                                                                \
    } while (0)

#endif
