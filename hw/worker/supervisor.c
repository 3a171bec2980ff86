/* supervisor.c - one supervised process: spawn, record, adopt, watch (axl_supervisor.h). */
#include "hw/worker/axl_supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "proto/axl_util.h"

#define MAX_ARGS 48

struct axl_sup_proc {
    uv_loop_t *loop;
    char *argv[MAX_ARGS];
    int argc;
    char *pidfile;
    char *sig;
    axl_sup_gone_cb on_gone;
    void *data;
    uv_process_t proc; /* our child */
    bool child;        /* proc initialised and not yet closed */
    int pid;           /* running pid (child or adopted), 0 = none */
    int pidfd;         /* adopted: pidfd polled for its exit */
    uv_poll_t poll;
    bool polling;
    uv_timer_t timer; /* the restart delay, or the SIGKILL after a stop's grace */
    bool stopping;    /* axl_sup_stop: the end is wanted, the pid file goes with it */
    bool closing;     /* axl_sup_close: no more callbacks */
    int handles;      /* handles not yet closed */
    void (*close_cb)(void *data);
    void *close_data;
};

unsigned long long axl_sup_start_time(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ..." - comm may hold spaces and parentheses: after the last ')'
     * come fields 3, 4, ...; the start time is field 22. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    p++;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return 0;
        if (field == 22)
            return strtoull(p, NULL, 10);
        while (*p != ' ' && *p != '\0')
            p++;
    }
    return 0;
}

static void handle_closed(uv_handle_t *h)
{
    axl_sup_proc *p = h->data;
    if (--p->handles > 0 || !p->closing)
        return;
    void (*cb)(void *) = p->close_cb;
    void *data = p->close_data;
    for (int i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->pidfile);
    free(p->sig);
    free(p);
    if (cb != NULL)
        cb(data);
}

int axl_sup_new(uv_loop_t *loop, const axl_sup_opts *o, axl_sup_proc **out, axl_errbuf *eb)
{
    *out = NULL;
    if (o->argv == NULL || o->argv[0] == NULL || o->pidfile == NULL || o->on_gone == NULL)
        return axl_fail(eb, AXL_EINVAL, "supervisor: argv, pidfile and on_gone are required");
    axl_sup_proc *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    p->loop = loop;
    p->on_gone = o->on_gone;
    p->data = o->data;
    p->pidfd = -1;
    bool bad = (p->pidfile = axl_xstrdup(o->pidfile)) == NULL ||
               (p->sig = axl_xstrdup(o->signature != NULL ? o->signature : "")) == NULL;
    for (int i = 0; !bad && o->argv[i] != NULL; i++) {
        if (i >= MAX_ARGS - 9) { /* room for extra arguments and the NULL */
            bad = true;
            break;
        }
        bad = (p->argv[i] = axl_xstrdup(o->argv[i])) == NULL;
        p->argc = i + 1;
    }
    if (bad) {
        for (int i = 0; i < p->argc; i++)
            free(p->argv[i]);
        free(p->pidfile);
        free(p->sig);
        free(p);
        return axl_fail(eb, AXL_ENOMEM, "supervisor: out of memory or too many arguments");
    }
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->handles = 1;
    *out = p;
    return 0;
}

void *axl_sup_data(const axl_sup_proc *p)
{
    return p->data;
}

int axl_sup_pid(const axl_sup_proc *p)
{
    return p->pid;
}

void axl_sup_kill(axl_sup_proc *p, int sig)
{
    if (p->pid <= 0)
        return;
    if (p->child)
        uv_process_kill(&p->proc, sig);
    else
        kill(p->pid, sig);
}

static void write_pidfile(axl_sup_proc *p)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", p->pidfile);
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return;
    fprintf(f, "%d %llu\n%s\n", p->pid, axl_sup_start_time(p->pid), p->sig);
    if (fclose(f) != 0 || rename(tmp, p->pidfile) != 0)
        unlink(tmp);
}

/* The process is gone (child exit, or an adopted one's pidfd readable). */
static void gone(axl_sup_proc *p, const char *how)
{
    p->pid = 0;
    if (p->stopping) {
        unlink(p->pidfile);
        uv_timer_stop(&p->timer);
    }
    if (!p->closing)
        p->on_gone(p, how);
}

static void child_exit(uv_process_t *h, int64_t status, int sig)
{
    axl_sup_proc *p = h->data;
    char how[64];
    if (sig != 0)
        snprintf(how, sizeof(how), "was killed by signal %d", sig);
    else
        snprintf(how, sizeof(how), "exited with status %lld", (long long)status);
    p->child = false;
    uv_close((uv_handle_t *)&p->proc, handle_closed);
    gone(p, how);
}

static void pidfd_cb(uv_poll_t *h, int status, int events)
{
    axl_sup_proc *p = h->data;
    (void)status;
    (void)events;
    uv_poll_stop(&p->poll);
    p->polling = false;
    uv_close((uv_handle_t *)&p->poll, handle_closed);
    close(p->pidfd);
    p->pidfd = -1;
    gone(p, "(adopted from an earlier supervisor) ended");
}

int axl_sup_spawn(axl_sup_proc *p, const char *const *extra, axl_errbuf *eb)
{
    char *argv[MAX_ARGS];
    int n = 0;
    for (int i = 0; i < p->argc; i++)
        argv[n++] = p->argv[i];
    for (int i = 0; extra != NULL && extra[i] != NULL && n < MAX_ARGS - 1; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = UV_INHERIT_FD, .data.fd = 1},
                                     {.flags = UV_INHERIT_FD, .data.fd = 2}};
    /* Its own session: a Ctrl-C meant for the supervisor's process does not reach it. */
    uv_process_options_t o = {.exit_cb = child_exit,
                              .file = argv[0],
                              .args = argv,
                              .stdio_count = 3,
                              .stdio = stdio,
                              .flags = UV_PROCESS_DETACHED};
    p->proc.data = p;
    int err = uv_spawn(p->loop, &p->proc, &o);
    p->handles++; /* the process handle must be closed, spawned or not */
    if (err != 0) {
        uv_close((uv_handle_t *)&p->proc, handle_closed);
        return axl_fail(eb, AXL_EIO, "cannot start %s: %s", argv[0], uv_strerror(err));
    }
    p->child = true;
    p->pid = p->proc.pid;
    write_pidfile(p);
    return 0;
}

static void timer_cb(uv_timer_t *h)
{
    axl_sup_proc *p = h->data;
    if (p->pid > 0) { /* a stop's grace is over */
        axl_sup_kill(p, SIGKILL);
        return;
    }
    if (p->closing || p->stopping)
        return;
    if (axl_sup_spawn(p, NULL, NULL) != 0)
        uv_timer_start(&p->timer, timer_cb, 500, 0);
}

void axl_sup_restart(axl_sup_proc *p, unsigned delay_ms)
{
    if (!p->closing && !p->stopping)
        uv_timer_start(&p->timer, timer_cb, delay_ms, 0);
}

void axl_sup_stop(axl_sup_proc *p, unsigned grace_ms)
{
    p->stopping = true;
    if (p->pid <= 0) {
        unlink(p->pidfile);
        uv_timer_stop(&p->timer);
        return;
    }
    axl_sup_kill(p, SIGTERM);
    uv_timer_start(&p->timer, timer_cb, grace_ms, 0);
}

bool axl_sup_adopt(axl_sup_proc *p)
{
    FILE *f = fopen(p->pidfile, "re");
    char line[96], sig[4096] = "";
    int pid = 0;
    unsigned long long start = 0;
    if (f == NULL)
        return false;
    if (fgets(line, sizeof(line), f) == NULL || sscanf(line, "%d %llu", &pid, &start) != 2)
        pid = 0;
    if (fgets(sig, sizeof(sig), f) != NULL)
        sig[strcspn(sig, "\n")] = '\0';
    fclose(f);
    /* The recorded process, not another that got its pid: same start time. */
    if (pid <= 1 || start == 0 || kill(pid, 0) != 0 || axl_sup_start_time(pid) != start)
        return false;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (strcmp(sig, p->sig) != 0 || pidfd < 0) {
        kill(pid, SIGKILL);
        /* Start-up only: wait, bounded, until its resources (a bound socket) are free. */
        for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (pidfd >= 0)
            close(pidfd);
        return false;
    }
    p->pid = pid;
    p->pidfd = pidfd;
    uv_poll_init(p->loop, &p->poll, pidfd);
    p->poll.data = p;
    p->polling = true;
    p->handles++;
    uv_poll_start(&p->poll, UV_READABLE, pidfd_cb);
    return true;
}

void axl_sup_close(axl_sup_proc *p, void (*close_cb)(void *data), void *data)
{
    if (p->closing)
        return;
    p->closing = true;
    p->close_cb = close_cb;
    p->close_data = data;
    if (p->pid <= 0)
        unlink(p->pidfile);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, handle_closed);
    if (p->child) {
        p->child = false;
        uv_close((uv_handle_t *)&p->proc, handle_closed);
    }
    if (p->polling) {
        p->polling = false;
        uv_poll_stop(&p->poll);
        uv_close((uv_handle_t *)&p->poll, handle_closed);
        close(p->pidfd);
        p->pidfd = -1;
    }
}
