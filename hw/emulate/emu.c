/*
 * emu.c - the emulator core (axl_emulate.h): a pseudo-terminal symlinked where the
 * driver looks, commands cut by the device model, replies queued in order with the
 * device's delays / speed, faults applied per command, unplug and plug back.
 */
#include "hw/emulate/axl_emulate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define IN_MAX 4096
#define OUT_MAX 65536

typedef struct fault {
    char kind[16];
    long n;
    bool onward;
    double arg;
} fault;

typedef struct out_item {
    double due; /* loop ms */
    size_t len;
    struct out_item *next;
    char bytes[];
} out_item;

struct axl_emu {
    uv_loop_t loop;
    const axl_emu_model *m;
    void *state;
    double speed;
    char path[PATH_MAX];
    int master, slave; /* -1 when unplugged */
    uv_poll_t *poll;
    uv_timer_t out_timer, plug_timer;
    uv_signal_t sigterm, sigint;
    char in[IN_MAX];
    size_t in_len;
    out_item *out_head, *out_tail;
    double last_due;
    uint64_t start_ms;
    fault faults[16];
    int n_faults;
    long cmd_no; /* commands seen */
    bool quiet;
    FILE *log; /* every command received, C-escaped, one a line */
};

int axl_emu_fault_parse(const char *spec, char *kind, size_t kind_len, long *n, bool *onward,
                        double *arg, axl_errbuf *eb)
{
    const char *at = strchr(spec, '@');
    if (at == NULL || (size_t)(at - spec) >= kind_len || at == spec)
        return axl_fail(eb, AXL_EINVAL, "--fault %s: expected KIND@N[+][:ARG]", spec);
    memcpy(kind, spec, (size_t)(at - spec));
    kind[at - spec] = '\0';
    static const char *kinds[] = {"noreply", "garble", "truncate",  "badsum",
                                  "busy",    "slow",   "disconnect"};
    bool known = false;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        known |= strcmp(kind, kinds[i]) == 0;
    if (!known)
        return axl_fail(eb, AXL_EINVAL, "--fault %s: unknown kind '%s'", spec, kind);
    char *end;
    *n = strtol(at + 1, &end, 10);
    if (end == at + 1 || *n < 1)
        return axl_fail(eb, AXL_EINVAL, "--fault %s: N must be a command number >= 1", spec);
    *onward = *end == '+';
    if (*onward)
        end++;
    *arg = NAN;
    if (*end == ':') {
        char *e2;
        *arg = strtod(end + 1, &e2);
        if (e2 == end + 1 || *e2 != '\0' || !(*arg >= 0))
            return axl_fail(eb, AXL_EINVAL, "--fault %s: ARG must be a number >= 0", spec);
    } else if (*end != '\0') {
        return axl_fail(eb, AXL_EINVAL, "--fault %s: expected KIND@N[+][:ARG]", spec);
    }
    return 0;
}

static const fault *fault_now(const axl_emu *e, const char *kind)
{
    for (int i = 0; i < e->n_faults; i++) {
        const fault *f = &e->faults[i];
        if (strcmp(f->kind, kind) == 0 && (e->cmd_no == f->n || (f->onward && e->cmd_no > f->n)))
            return f;
    }
    return NULL;
}

bool axl_emu_fault(axl_emu *e, const char *kind)
{
    return fault_now(e, kind) != NULL;
}

double axl_emu_now(axl_emu *e)
{
    return (double)(uv_now(&e->loop) - e->start_ms) * e->speed;
}

void *axl_emu_state(axl_emu *e)
{
    return e->state;
}

void axl_emu_set_state(axl_emu *e, void *st)
{
    e->state = st;
}

static void out_fire(uv_timer_t *t);

static void out_arm(axl_emu *e)
{
    if (e->out_head == NULL)
        return;
    double now = (double)uv_now(&e->loop);
    /* whole milliseconds, rounded up: a 0 ms timer restarted from its own callback would
     * run again in the same pass of the loop, before the loop's clock moves */
    double wait = ceil(e->out_head->due - now);
    uv_timer_start(&e->out_timer, out_fire, wait > 0 ? (uint64_t)wait : 0, 0);
}

static void out_fire(uv_timer_t *t)
{
    axl_emu *e = t->data;
    double now = (double)uv_now(&e->loop);
    while (e->out_head != NULL && e->out_head->due <= now) {
        out_item *it = e->out_head;
        e->out_head = it->next;
        if (e->out_head == NULL)
            e->out_tail = NULL;
        if (e->master >= 0) {
            size_t off = 0;
            while (off < it->len) { /* a pty takes a reply of this size at once */
                ssize_t n = write(e->master, it->bytes + off, it->len - off);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                off += (size_t)n;
            }
        }
        free(it);
    }
    out_arm(e);
}

void axl_emu_reply(axl_emu *e, double delay_ms, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    if (fault_now(e, "noreply"))
        return;
    const fault *f;
    if (fault_now(e, "garble") || (fault_now(e, "badsum") && strcmp(e->m->name, "hotplate") != 0)) {
        /* replace the middle third of the first line; keep its terminator */
        size_t first = strcspn(buf, "\r\n");
        for (size_t i = first / 3; i < 2 * first / 3 + 1 && i < first; i++)
            buf[i] = (char)('#' + (i % 3));
    }
    if (fault_now(e, "truncate")) {
        size_t first = strcspn(buf, "\r\n");
        len = first / 2;
    }
    double wall = delay_ms / e->speed;
    if ((f = fault_now(e, "slow")) != NULL)
        wall += isnan(f->arg) ? 3000 : f->arg;
    double due = (double)uv_now(&e->loop) + wall;
    if (due < e->last_due)
        due = e->last_due;
    e->last_due = due;
    out_item *it = malloc(sizeof(*it) + len);
    if (it == NULL)
        return;
    it->due = due;
    it->len = len;
    it->next = NULL;
    memcpy(it->bytes, buf, len);
    if (e->out_tail != NULL)
        e->out_tail->next = it;
    else
        e->out_head = it;
    e->out_tail = it;
    if (e->out_head == it)
        out_arm(e);
}

static void poll_closed(uv_handle_t *h)
{
    free(h);
}

static void unplug(axl_emu *e)
{
    if (e->master < 0)
        return;
    uv_poll_stop(e->poll);
    uv_close((uv_handle_t *)e->poll, poll_closed);
    e->poll = NULL;
    close(e->master);
    close(e->slave);
    e->master = e->slave = -1;
    e->in_len = 0;
    /* replies in flight die with the cable */
    while (e->out_head != NULL) {
        out_item *n = e->out_head->next;
        free(e->out_head);
        e->out_head = n;
    }
    e->out_tail = NULL;
    e->last_due = 0;
    uv_timer_stop(&e->out_timer);
}

static void log_cmd(FILE *f, const char *cmd, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)cmd[i];
        if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\\')
            fputs("\\\\", f);
        else if (c < 32 || c > 126)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('\n', f);
    fflush(f);
}

static int plug(axl_emu *e, axl_errbuf *eb);
static void plug_cb(uv_timer_t *t);

static void on_poll(uv_poll_t *h, int status, int events)
{
    axl_emu *e = h->data;
    (void)events;
    if (status < 0 || e->master < 0)
        return;
    for (;;) {
        if (e->in_len == IN_MAX) /* a runaway command: dropped */
            e->in_len = 0;
        ssize_t n = read(e->master, e->in + e->in_len, IN_MAX - e->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EAGAIN; EIO cannot happen while we hold the slave */
        e->in_len += (size_t)n;
        size_t k;
        while (e->master >= 0 && e->in_len > 0 && (k = e->m->frame(e, e->in, e->in_len)) > 0) {
            char cmd[IN_MAX + 1];
            memcpy(cmd, e->in, k);
            cmd[k] = '\0';
            memmove(e->in, e->in + k, e->in_len - k);
            e->in_len -= k;
            e->cmd_no++;
            if (e->log != NULL)
                log_cmd(e->log, cmd, k);
            const fault *f = fault_now(e, "disconnect");
            if (f != NULL) {
                if (!e->quiet)
                    fprintf(stderr, "emulate %s: unplugged at command %ld\n", e->m->name,
                            e->cmd_no);
                unplug(e);
                uv_timer_start(&e->plug_timer, plug_cb, (uint64_t)(isnan(f->arg) ? 200 : f->arg),
                               0);
                return;
            }
            e->m->command(e, cmd, k);
        }
    }
}

static void plug_cb(uv_timer_t *t)
{
    axl_emu *e = t->data;
    axl_errbuf eb = {{0}};
    if (plug(e, &eb) != 0)
        fprintf(stderr, "emulate %s: cannot plug back in: %s\n", e->m->name, eb.msg);
    else {
        printf("plugged %s\n", e->path); /* a test or a supervisor can wait for this */
        fflush(stdout);
    }
}

static int plug(axl_emu *e, axl_errbuf *eb)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) {
        if (m >= 0)
            close(m);
        return axl_fail(eb, AXL_EIO, "cannot make a pseudo-terminal: %s", strerror(errno));
    }
    char name[128];
    if (ptsname_r(m, name, sizeof(name)) != 0) {
        close(m);
        return axl_fail(eb, AXL_EIO, "ptsname: %s", strerror(errno));
    }
    /* Hold the slave open ourselves: the master never sees a hang-up while a driver closes
     * and reopens, and the line is raw before the driver configures it. */
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios tio;
    if (s < 0 || tcgetattr(s, &tio) != 0) {
        close(m);
        if (s >= 0)
            close(s);
        return axl_fail(eb, AXL_EIO, "cannot open %s: %s", name, strerror(errno));
    }
    cfmakeraw(&tio);
    tcsetattr(s, TCSANOW, &tio);
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    /* Move the symlink atomically: a driver sees the old pty or the new one. */
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.new", e->path);
    unlink(tmp);
    if (symlink(name, tmp) != 0 || rename(tmp, e->path) != 0) {
        int err = errno;
        close(m);
        close(s);
        return axl_fail(eb, AXL_EIO, "cannot link %s: %s", e->path, strerror(err));
    }
    e->poll = calloc(1, sizeof(uv_poll_t));
    if (e->poll == NULL) {
        close(m);
        close(s);
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    }
    uv_poll_init(&e->loop, e->poll, m);
    e->poll->data = e;
    e->master = m;
    e->slave = s;
    uv_poll_start(e->poll, UV_READABLE, on_poll);
    return 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    axl_emu *e = s->data;
    unplug(e);
    uv_stop(&e->loop);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_POLL ? poll_closed : NULL);
}

int axl_emu_run(const axl_emu_opts *o, axl_errbuf *eb)
{
    if (o->device != NULL && strcmp(o->device, "ot2") == 0)
        return axl_emu_ot2_run(o, eb);
    const axl_emu_model *m = o->device ? axl_emu_model_find(o->device) : NULL;
    if (m == NULL)
        return axl_fail(eb, AXL_EINVAL,
                        "unknown device '%s' (gantry, axis, gripper, odrive, relay, hotplate, "
                        "shutter, slider, ot2)",
                        o->device ? o->device : "");
    if (o->pty_path == NULL || strlen(o->pty_path) >= PATH_MAX - 8)
        return axl_fail(eb, AXL_EINVAL, "emulate %s needs --pty PATH", m->name);
    if (!(o->speed >= 1) || !isfinite(o->speed))
        return axl_fail(eb, AXL_EINVAL, "--speed must be >= 1");
    axl_emu *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    int rv = 0;
    e->m = m;
    e->speed = o->speed;
    e->quiet = o->quiet;
    e->master = e->slave = -1;
    snprintf(e->path, sizeof(e->path), "%s", o->pty_path);
    if (o->log_path != NULL && (e->log = fopen(o->log_path, "w")) == NULL) {
        rv = axl_fail(eb, AXL_EIO, "cannot open %s", o->log_path);
        goto fail;
    }
    for (int i = 0; i < o->n_faults && i < 16; i++) {
        fault *f = &e->faults[e->n_faults];
        if ((rv = axl_emu_fault_parse(o->faults[i], f->kind, sizeof(f->kind), &f->n, &f->onward,
                                      &f->arg, eb)) != 0)
            goto fail;
        e->n_faults++;
    }
    uv_loop_init(&e->loop);
    e->start_ms = uv_now(&e->loop);
    uv_timer_init(&e->loop, &e->out_timer);
    uv_timer_init(&e->loop, &e->plug_timer);
    e->out_timer.data = e->plug_timer.data = e;
    uv_signal_init(&e->loop, &e->sigterm);
    uv_signal_init(&e->loop, &e->sigint);
    e->sigterm.data = e->sigint.data = e;
    uv_signal_start(&e->sigterm, on_signal, SIGTERM);
    uv_signal_start(&e->sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    if (m->init != NULL && (rv = m->init(e, o->opt)) != 0) {
        axl_fail(eb, rv, "emulate %s: bad --opt '%s'", m->name, o->opt ? o->opt : "");
        goto fail_loop;
    }
    if ((rv = plug(e, eb)) != 0)
        goto fail_model;
    printf("ready %s\n", e->path);
    fflush(stdout);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    unlink(e->path);
fail_model:
    if (m->fini != NULL)
        m->fini(e);
fail_loop:
    unplug(e);
    while (e->out_head != NULL) {
        out_item *n = e->out_head->next;
        free(e->out_head);
        e->out_head = n;
    }
    uv_walk(&e->loop, close_walk, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
fail:
    if (e->log != NULL)
        fclose(e->log);
    free(e);
    return rv;
}

const axl_emu_model *axl_emu_model_find(const char *name)
{
    const axl_emu_model *all[] = {&axl_emu_gantry,  &axl_emu_axis,  &axl_emu_gripper,
                                  &axl_emu_odrive,  &axl_emu_relay, &axl_emu_hotplate,
                                  &axl_emu_shutter, &axl_emu_slider};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
