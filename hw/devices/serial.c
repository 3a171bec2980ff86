/*
 * serial.c - a serial device on a libuv loop: termios raw, uv_poll, lines, a queue of
 * exchanges with reply timers and retries, reopen after an unplug (axl_serial.h).
 */
#include "hw/devices/axl_serial.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define OUT_MAX 4096

struct axl_sdev {
    uv_loop_t *loop;
    char path[PATH_MAX];
    char usb_vid[8], usb_pid[8], usb_serial[64];
    char name[32];
    int baud, data_bits, stop_bits;
    char parity;
    int fd;           /* -1 when closed */
    uv_poll_t *poll;  /* NULL when closed */
    uv_timer_t timer; /* the current exchange's reply deadline */
    uv_timer_t kick;  /* runs the queue from the loop, never from a caller */
    char line[AXL_SERIAL_LINE_MAX + 1];
    size_t line_len;
    char out[OUT_MAX];
    size_t out_len;
    axl_xch *cur;
    axl_xch *head, *tail;
    int handles; /* open uv handles, for close */
    bool closing;
};

static void pump(axl_sdev *s);
static void port_down(axl_sdev *s, const char *why);

static speed_t baud_const(int baud)
{
    switch (baud) {
    case 1200:
        return B1200;
    case 2400:
        return B2400;
    case 4800:
        return B4800;
    case 9600:
        return B9600;
    case 19200:
        return B19200;
    case 38400:
        return B38400;
    case 57600:
        return B57600;
    case 115200:
        return B115200;
    case 230400:
        return B230400;
    default:
        return 0;
    }
}

int axl_serial_open_fd(const char *path, int baud, int data_bits, char parity, int stop_bits,
                       axl_errbuf *eb)
{
    speed_t sp = baud_const(baud);
    if (sp == 0)
        return axl_fail(eb, AXL_EINVAL, "unsupported baud rate %d", baud);
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return axl_fail(eb, AXL_EIO, "cannot open %s: %s", path, strerror(errno));
    struct termios tio;
    if (!isatty(fd) || tcgetattr(fd, &tio) != 0) {
        close(fd);
        return axl_fail(eb, AXL_EINVAL, "%s is not a serial port", path);
    }
    cfmakeraw(&tio); /* no echo, no line editing, no CR/LF translation */
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    tio.c_cflag |= (data_bits == 7 ? CS7 : CS8) | CLOCAL | CREAD;
    if (parity == 'E' || parity == 'O')
        tio.c_cflag |= PARENB | (parity == 'O' ? PARODD : 0);
    if (stop_bits == 2)
        tio.c_cflag |= CSTOPB;
    /* MIN 1: a non-blocking read with nothing there is EAGAIN, and 0 means hang-up */
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    cfsetispeed(&tio, sp);
    cfsetospeed(&tio, sp);
    if (tcsetattr(fd, TCSANOW, &tio) != 0) {
        int e = errno;
        close(fd);
        return axl_fail(eb, AXL_EIO, "cannot configure %s: %s", path, strerror(e));
    }
    tcflush(fd, TCIOFLUSH);
    return fd;
}

static int read_small(const char *dir, const char *file, char *out, size_t n)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return -1;
    size_t k = fread(out, 1, n - 1, f);
    fclose(f);
    out[k] = '\0';
    while (k > 0 && (out[k - 1] == '\n' || out[k - 1] == ' '))
        out[--k] = '\0';
    return 0;
}

int axl_serial_find_usb(const char *vid, const char *pid, const char *serial, char *out,
                        size_t out_len, axl_errbuf *eb)
{
    DIR *d = opendir("/sys/class/tty");
    if (d == NULL)
        return axl_fail(eb, AXL_ENOENT, "no /sys/class/tty");
    struct dirent *e;
    int rv = AXL_ENOENT;
    while (rv != 0 && (e = readdir(d)) != NULL) {
        char link[PATH_MAX], real[PATH_MAX];
        if (e->d_name[0] == '.' ||
            snprintf(link, sizeof(link), "/sys/class/tty/%s/device", e->d_name) >=
                (int)sizeof(link) ||
            realpath(link, real) == NULL)
            continue;
        /* Walk up from the interface to the USB device that has idVendor. */
        for (int up = 0; up < 4; up++) {
            char v[16], p[16], sn[128] = "";
            if (read_small(real, "idVendor", v, sizeof(v)) == 0 &&
                read_small(real, "idProduct", p, sizeof(p)) == 0) {
                read_small(real, "serial", sn, sizeof(sn));
                if (strcasecmp(v, vid) == 0 && strcasecmp(p, pid) == 0 &&
                    (serial == NULL || strcmp(sn, serial) == 0)) {
                    snprintf(out, out_len, "/dev/%s", e->d_name);
                    rv = 0;
                }
                break;
            }
            char *slash = strrchr(real, '/');
            if (slash == NULL || slash == real)
                break;
            *slash = '\0';
        }
    }
    closedir(d);
    if (rv != 0)
        return axl_fail(eb, AXL_ENOENT, "no USB serial device %s:%s%s%s", vid, pid,
                        serial ? " serial " : "", serial ? serial : "");
    return 0;
}

static void handle_closed(uv_handle_t *h)
{
    axl_sdev *s = h->data;
    if ((void *)h == (void *)s->poll)
        s->poll = NULL;
    if (h->type == UV_POLL)
        free(h);
    if (--s->handles == 0 && s->closing)
        free(s);
}

int axl_sdev_new(axl_sdev **out, uv_loop_t *loop, const axl_serial_opts *o, axl_errbuf *eb)
{
    if (baud_const(o->baud) == 0)
        return axl_fail(eb, AXL_EINVAL, "unsupported baud rate %d", o->baud);
    if ((o->data_bits != 7 && o->data_bits != 8) ||
        (o->parity != 'N' && o->parity != 'E' && o->parity != 'O') ||
        (o->stop_bits != 1 && o->stop_bits != 2))
        return axl_fail(eb, AXL_EINVAL, "serial format must be 7|8 data bits, N|E|O, 1|2 stop");
    if ((o->path == NULL || o->path[0] == '\0') && (o->usb_vid == NULL || o->usb_pid == NULL))
        return axl_fail(eb, AXL_EINVAL, "a serial device needs a path or USB vendor and product");
    axl_serial_opts byid;
    if (o->path != NULL && strncmp(o->path, "usb:", 4) == 0) {
        /* "usb:VID:PID[:SERIAL]": found under /sys/class/tty at every (re)open */
        char vid[8] = "", pid[8] = "", ser[64] = "";
        if (sscanf(o->path, "usb:%4[0-9a-fA-F]:%4[0-9a-fA-F]:%63s", vid, pid, ser) < 2 ||
            strlen(vid) != 4 || strlen(pid) != 4)
            return axl_fail(eb, AXL_EINVAL, "'%s' is not usb:VID:PID[:SERIAL]", o->path);
        byid = *o;
        byid.path = NULL;
        byid.usb_vid = vid;
        byid.usb_pid = pid;
        byid.usb_serial = ser[0] ? ser : NULL;
        axl_sdev *s = NULL;
        int rv = axl_sdev_new(&s, loop, &byid, eb);
        *out = s;
        return rv;
    }
    axl_sdev *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    if (o->path != NULL &&
        snprintf(s->path, sizeof(s->path), "%s", o->path) >= (int)sizeof(s->path)) {
        free(s);
        return axl_fail(eb, AXL_EINVAL, "serial path too long");
    }
    snprintf(s->usb_vid, sizeof(s->usb_vid), "%s", o->usb_vid ? o->usb_vid : "");
    snprintf(s->usb_pid, sizeof(s->usb_pid), "%s", o->usb_pid ? o->usb_pid : "");
    snprintf(s->usb_serial, sizeof(s->usb_serial), "%s", o->usb_serial ? o->usb_serial : "");
    snprintf(s->name, sizeof(s->name), "%s", o->name ? o->name : "device");
    s->loop = loop;
    s->baud = o->baud;
    s->data_bits = o->data_bits;
    s->parity = o->parity;
    s->stop_bits = o->stop_bits;
    s->fd = -1;
    uv_timer_init(loop, &s->timer);
    uv_timer_init(loop, &s->kick);
    s->timer.data = s->kick.data = s;
    s->handles = 2;
    *out = s;
    return 0;
}

axl_xch *axl_sdev_xch(axl_sdev *s)
{
    (void)s;
    return calloc(1, sizeof(axl_xch));
}

int axl_xch_printf(axl_xch *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(x->tx, sizeof(x->tx), fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof(x->tx))
        return AXL_ETOOBIG;
    x->tx_len = (size_t)n;
    return 0;
}

bool axl_sdev_is_open(const axl_sdev *s)
{
    return s->fd >= 0;
}

const char *axl_sdev_path(const axl_sdev *s)
{
    return s->path;
}

static void kick_cb(uv_timer_t *t)
{
    pump(t->data);
}

static void kick(axl_sdev *s)
{
    if (!s->closing)
        uv_timer_start(&s->kick, kick_cb, 0, 0);
}

void axl_sdev_queue(axl_sdev *s, axl_xch *x)
{
    x->next = NULL;
    if (s->tail != NULL)
        s->tail->next = x;
    else
        s->head = x;
    s->tail = x;
    kick(s);
}

/* Ends x with status (s->cur == x, or x popped); frees it. Returns false when the
 * callback closed the device (s must not be touched). */
static bool finish(axl_sdev *s, axl_xch *x, int status, const char *why)
{
    if (s->cur == x) {
        s->cur = NULL;
        uv_timer_stop(&s->timer);
    }
    if (x->done != NULL)
        x->done(x, status, why != NULL ? why : "");
    free(x);
    return !s->closing;
}

static void fail_all(axl_sdev *s, int status, const char *why)
{
    int n = 0; /* bounded: what callbacks queue meanwhile is not failed here */
    for (axl_xch *x = s->head; x != NULL; x = x->next)
        n++;
    if (s->cur != NULL && !finish(s, s->cur, status, why))
        return;
    /* One at a time from the head: a failed operation drops its own later exchanges. */
    while (n-- > 0 && s->head != NULL) {
        axl_xch *x = s->head;
        s->head = x->next;
        if (s->head == NULL)
            s->tail = NULL;
        x->next = NULL;
        if (!finish(s, x, status, why))
            return;
    }
}

void axl_sdev_abort(axl_sdev *s, const char *why)
{
    fail_all(s, AXL_ECANCELED, why);
}

int axl_sdev_drop(axl_sdev *s, const void *ctx)
{
    int n = 0;
    axl_xch **pp = &s->head;
    s->tail = NULL;
    while (*pp != NULL) {
        axl_xch *x = *pp;
        if (x->ctx == ctx) {
            *pp = x->next;
            free(x);
            n++;
            continue;
        }
        s->tail = x;
        pp = &x->next;
    }
    return n;
}

static void flush_out(axl_sdev *s)
{
    while (s->out_len > 0 && s->fd >= 0) {
        ssize_t n = write(s->fd, s->out, s->out_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            char why[128];
            snprintf(why, sizeof(why), "write failed: %.80s", strerror(errno));
            port_down(s, why);
            return;
        }
        memmove(s->out, s->out + n, s->out_len - (size_t)n);
        s->out_len -= (size_t)n;
    }
}

static void on_line(axl_sdev *s)
{
    s->line[s->line_len] = '\0';
    axl_xch *x = s->cur;
    size_t len = s->line_len;
    s->line_len = 0;
    if (len == 0 || x == NULL || x->match == NULL)
        return; /* an empty line, or nothing asked: dropped */
    char why[AXL_XCH_WHY_MAX] = "";
    switch (x->match(x, s->line, len, why)) {
    case AXL_XCH_IGNORE:
    case AXL_XCH_MORE:
        return;
    case AXL_XCH_DONE:
        finish(s, x, 0, NULL);
        break;
    case AXL_XCH_FAIL:
        finish(s, x, AXL_EPROTO, why);
        break;
    case AXL_XCH_RETRY:
        if (x->attempts <= x->retries) {
            s->cur = NULL;
            uv_timer_stop(&s->timer);
            x->next = s->head; /* again, first */
            s->head = x;
            if (s->tail == NULL)
                s->tail = x;
        } else {
            finish(s, x, AXL_EPROTO, why);
        }
        break;
    }
    kick(s);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    axl_sdev *s = h->data;
    if (s->fd < 0)
        return;
    if (status < 0) {
        port_down(s, uv_strerror(status));
        return;
    }
    if (events & UV_WRITABLE) {
        flush_out(s);
        if (s->fd < 0)
            return;
        if (s->out_len == 0)
            uv_poll_start(s->poll, UV_READABLE | UV_DISCONNECT, on_poll);
    }
    if (events & (UV_READABLE | UV_DISCONNECT)) {
        char buf[512];
        for (;;) {
            ssize_t n = read(s->fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n <= 0) {
                port_down(s, n == 0 ? "the device hung up" : strerror(errno));
                return;
            }
            for (ssize_t i = 0; i < n; i++) {
                char c = buf[i];
                if (c == '\n' || c == '\r') {
                    on_line(s);
                    if (s->closing || s->fd < 0)
                        return;
                    continue;
                }
                if (s->line_len == AXL_SERIAL_LINE_MAX) {
                    on_line(s);
                    if (s->closing || s->fd < 0)
                        return;
                }
                s->line[s->line_len++] = c;
            }
        }
    }
}

static void port_down(axl_sdev *s, const char *why)
{
    if (s->fd >= 0) {
        uv_poll_stop(s->poll);
        uv_close((uv_handle_t *)s->poll, handle_closed);
        close(s->fd);
        s->fd = -1;
    }
    s->out_len = 0;
    s->line_len = 0;
    char msg[AXL_XCH_WHY_MAX];
    snprintf(msg, sizeof(msg), "%s disconnected (%.60s): %.120s", s->name, s->path, why);
    fail_all(s, AXL_EIO, msg);
}

static int port_open(axl_sdev *s, axl_errbuf *eb)
{
    if (s->usb_vid[0] != '\0') {
        int rv =
            axl_serial_find_usb(s->usb_vid, s->usb_pid, s->usb_serial[0] ? s->usb_serial : NULL,
                                s->path, sizeof(s->path), eb);
        if (rv != 0)
            return rv;
    }
    int fd = axl_serial_open_fd(s->path, s->baud, s->data_bits, s->parity, s->stop_bits, eb);
    if (fd < 0)
        return fd;
    s->poll = calloc(1, sizeof(uv_poll_t));
    if (s->poll == NULL) {
        close(fd);
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    }
    if (uv_poll_init(s->loop, s->poll, fd) != 0) {
        free(s->poll);
        s->poll = NULL;
        close(fd);
        return axl_fail(eb, AXL_EIO, "cannot watch %s", s->path);
    }
    s->poll->data = s;
    s->handles++;
    s->fd = fd;
    uv_poll_start(s->poll, UV_READABLE | UV_DISCONNECT, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    axl_sdev *s = t->data;
    axl_xch *x = s->cur;
    if (x == NULL)
        return;
    if (x->attempts <= x->retries) {
        s->cur = NULL; /* send again */
        x->next = s->head;
        s->head = x;
        if (s->tail == NULL)
            s->tail = x;
        pump(s);
        return;
    }
    char why[AXL_XCH_WHY_MAX];
    size_t n = x->tx_len;
    while (n > 0 && (x->tx[n - 1] == '\n' || x->tx[n - 1] == '\r'))
        n--;
    snprintf(why, sizeof(why), "%s: no reply to `%.*s` within %u ms (%d tries)", s->name,
             (int)(n > 80 ? 80 : n), x->tx, x->timeout_ms, x->attempts);
    finish(s, x, AXL_ETIMEDOUT, why);
    kick(s);
}

static void pump(axl_sdev *s)
{
    while (!s->closing && s->cur == NULL && s->head != NULL) {
        axl_xch *x = s->head;
        s->head = x->next;
        if (s->head == NULL)
            s->tail = NULL;
        x->next = NULL;
        if (s->fd < 0) {
            axl_errbuf eb = {{0}};
            if (port_open(s, &eb) != 0) {
                char why[AXL_XCH_WHY_MAX];
                snprintf(why, sizeof(why), "%.20s not connected: %.200s", s->name, eb.msg);
                if (!finish(s, x, AXL_EIO, why))
                    return;
                continue;
            }
        }
        if (x->flush_first || x->attempts > 0) { /* stray input, a cut line: junk now */
            tcflush(s->fd, TCIFLUSH);
            s->line_len = 0;
        }
        if (s->out_len + x->tx_len > sizeof(s->out)) {
            if (!finish(s, x, AXL_EBUSY, "output buffer full"))
                return;
            continue;
        }
        memcpy(s->out + s->out_len, x->tx, x->tx_len);
        s->out_len += x->tx_len;
        x->attempts++;
        flush_out(s);
        if (s->fd < 0) { /* the write found it unplugged: x was not current, fail it */
            if (!finish(s, x, AXL_EIO, "disconnected while writing"))
                return;
            continue;
        }
        if (s->out_len > 0)
            uv_poll_start(s->poll, UV_READABLE | UV_WRITABLE | UV_DISCONNECT, on_poll);
        if (x->timeout_ms == 0) {
            if (!finish(s, x, 0, NULL))
                return;
            continue;
        }
        s->cur = x;
        uv_timer_start(&s->timer, on_timeout, x->timeout_ms, 0);
    }
}

static void sop_xdone(axl_xch *x, int status, const char *why);

/* An exchange dropped by close: no callback, but an operation it belongs to is freed
 * with its last exchange. */
static void release_xch(axl_xch *x)
{
    if (x != NULL && x->done == sop_xdone) {
        axl_sop *op = x->ctx;
        op->cb = NULL;
        op->over = true;
        if (--op->pending <= 0)
            free(op);
    }
    free(x);
}

void axl_sdev_close(axl_sdev *s)
{
    if (s == NULL)
        return;
    /* No callback after close: drop the queue silently. */
    axl_xch *x = s->head;
    while (x != NULL) {
        axl_xch *n = x->next;
        release_xch(x);
        x = n;
    }
    release_xch(s->cur);
    s->head = s->tail = s->cur = NULL;
    s->closing = true;
    if (s->fd >= 0) {
        uv_poll_stop(s->poll);
        uv_close((uv_handle_t *)s->poll, handle_closed);
        close(s->fd);
        s->fd = -1;
    }
    uv_close((uv_handle_t *)&s->timer, handle_closed);
    uv_close((uv_handle_t *)&s->kick, handle_closed);
}

/* ---- operations: sequences of exchanges -------------------------------------------------- */

unsigned axl_dev_ms(double device_ms, double speed, unsigned floor_ms)
{
    double ms = device_ms / (speed >= 1 ? speed : 1);
    if (!(ms >= floor_ms))
        ms = floor_ms;
    if (ms > 3.6e6)
        ms = 3.6e6;
    return (unsigned)ms;
}

axl_sop *axl_sop_new(axl_sdev *s, axl_dev_cb cb, void *arg)
{
    axl_sop *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return NULL;
    op->s = s;
    op->cb = cb;
    op->arg = arg;
    return op;
}

static void sop_end(axl_sop *op)
{
    int st = op->fail_status;
    char why[AXL_XCH_WHY_MAX];
    snprintf(why, sizeof(why), "%s", op->fail_why);
    axl_sdev_drop(op->s, op);
    axl_dev_cb cb = op->cb;
    void *arg = op->arg;
    free(op);
    if (cb != NULL)
        cb(arg, st, why);
}

static void sop_xdone(axl_xch *x, int status, const char *why)
{
    axl_sop *op = x->ctx;
    op->pending--;
    if (op->over) { /* cancelled: freed with its last exchange */
        if (op->pending <= 0)
            free(op);
        return;
    }
    if (status != 0 && op->fail_status == 0) {
        op->fail_status = status;
        snprintf(op->fail_why, sizeof(op->fail_why), "%s", why);
    } else if (status == 0 && op->on_xch != NULL) {
        op->in_cb = true;
        op->on_xch(op, x);
        op->in_cb = false;
    }
    if (op->fail_status != 0 || (op->sealed && op->pending == 0 && op->hold == 0)) {
        op->over = true;
        axl_sdev_drop(op->s, op); /* pending counts only what is left in flight */
        sop_end(op);
    }
}

static axl_xch *sop_queue(axl_sop *op, axl_xch_match m, unsigned timeout_ms, int retries)
{
    axl_xch *x = axl_sdev_xch(op->s);
    if (x == NULL)
        return NULL;
    x->match = m;
    x->timeout_ms = timeout_ms;
    x->retries = retries;
    x->done = sop_xdone;
    x->ctx = op;
    return x;
}

axl_xch *axl_sop_send(axl_sop *op, axl_xch_match m, unsigned timeout_ms, int retries,
                      const char *fmt, ...)
{
    axl_xch *x = sop_queue(op, m, timeout_ms, retries);
    if (x != NULL) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(x->tx, sizeof(x->tx), fmt, ap);
        va_end(ap);
        if (n < 0 || n >= (int)sizeof(x->tx)) {
            free(x);
            x = NULL;
        } else {
            x->tx_len = (size_t)n;
        }
    }
    if (x == NULL) {
        axl_sop_fail(op, AXL_ENOMEM, "command does not fit or out of memory");
        /* an empty exchange carries the failure out through the loop */
        axl_xch *e = sop_queue(op, NULL, 0, 0);
        if (e != NULL) {
            op->pending++;
            axl_sdev_queue(op->s, e);
        }
        return NULL;
    }
    op->pending++;
    axl_sdev_queue(op->s, x);
    return x;
}

void axl_sop_seal(axl_sop *op)
{
    op->sealed = true;
    if (op->pending == 0 &&
        op->hold == 0) { /* nothing to send: finish through the loop all the same */
        axl_xch *e = sop_queue(op, NULL, 0, 0);
        if (e != NULL) {
            op->pending++;
            axl_sdev_queue(op->s, e);
        }
    }
}

void axl_sop_fail(axl_sop *op, int status, const char *fmt, ...)
{
    if (op->over || op->fail_status != 0)
        return;
    op->fail_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->fail_why, sizeof(op->fail_why), fmt, ap);
    va_end(ap);
    if (!op->in_cb && op->pending == 0 && op->sealed) { /* from a device's timer */
        op->over = true;
        sop_end(op);
    }
}

void axl_sop_hold(axl_sop *op, bool on)
{
    op->hold += on ? 1 : -1;
    if (!on && !op->in_cb && op->hold == 0 && op->pending == 0 && op->sealed) {
        op->over = true;
        sop_end(op);
    }
}

void axl_sop_cancel(axl_sop *op)
{
    op->cb = NULL;
    op->pending -= axl_sdev_drop(op->s, op);
    if (op->pending <= 0) {
        free(op);
        return;
    }
    op->over = true;
    /* the exchange in flight still points at op: it frees op when it ends */
}
