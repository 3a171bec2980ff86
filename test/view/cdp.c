/* cdp.c - see cdp.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test/view/cdp.h"

const char *axl_cdp_browser(void)
{
    static const char *cands[] = {"/usr/lib/chromium/chromium", "/usr/bin/chromium",
                                  "/usr/bin/chromium-browser", "/usr/bin/google-chrome"};
    const char *env = getenv("AXL_CHROMIUM");
    if (env != NULL && access(env, X_OK) == 0)
        return env;
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads one NUL-terminated message (parsed) before the deadline; NULL on timeout/EOF. */
static json_t *read_msg(axl_cdp *c, double deadline)
{
    for (;;) {
        char *nul = c->rlen > 0 ? memchr(c->rbuf, '\0', c->rlen) : NULL;
        if (nul != NULL) {
            size_t n = (size_t)(nul - c->rbuf);
            json_t *j = json_loadb(c->rbuf, n, 0, NULL);
            memmove(c->rbuf, nul + 1, c->rlen - n - 1);
            c->rlen -= n + 1;
            if (j != NULL)
                return j;
            continue;
        }
        double left = deadline - now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {.fd = c->from_fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        if (c->rcap - c->rlen < 65536) {
            size_t cap = c->rcap == 0 ? 1 << 20 : c->rcap * 2;
            char *b = realloc(c->rbuf, cap);
            if (b == NULL)
                return NULL;
            c->rbuf = b;
            c->rcap = cap;
        }
        ssize_t got = read(c->from_fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (got <= 0)
            return NULL;
        c->rlen += (size_t)got;
    }
}

static int send_cmd(axl_cdp *c, bool browser, const char *method, json_t *params, int *id)
{
    json_t *m = json_object();
    *id = ++c->next_id;
    json_object_set_new(m, "id", json_integer(*id));
    json_object_set_new(m, "method", json_string(method));
    json_object_set_new(m, "params", params != NULL ? params : json_object());
    if (!browser && c->session[0] != '\0')
        json_object_set_new(m, "sessionId", json_string(c->session));
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (s == NULL)
        return -1;
    size_t n = strlen(s) + 1, off = 0; /* the NUL ends the message */
    while (off < n) {
        ssize_t w = write(c->to_fd, s + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            free(s);
            return -1;
        }
        off += (size_t)w;
    }
    free(s);
    return 0;
}

int axl_cdp_call(axl_cdp *c, bool browser, const char *method, json_t *params, int timeout_ms,
                 json_t **result)
{
    int id;
    if (result != NULL)
        *result = NULL;
    if (send_cmd(c, browser, method, params, &id) != 0)
        return -1;
    double deadline = now_ms() + timeout_ms;
    for (;;) {
        json_t *m = read_msg(c, deadline);
        if (m == NULL) {
            fprintf(stderr, "cdp: %s: no reply in %d ms\n", method, timeout_ms);
            return -1;
        }
        if (json_integer_value(json_object_get(m, "id")) != id) {
            json_decref(m);
            continue;
        }
        json_t *err = json_object_get(m, "error");
        if (err != NULL) {
            char *s = json_dumps(err, JSON_COMPACT);
            fprintf(stderr, "cdp: %s: %s\n", method, s != NULL ? s : "?");
            free(s);
            json_decref(m);
            return -1;
        }
        if (result != NULL) {
            *result = json_object_get(m, "result");
            json_incref(*result);
        }
        json_decref(m);
        return 0;
    }
}

int axl_cdp_start(axl_cdp *c, int width, int height)
{
    memset(c, 0, sizeof(*c));
    c->to_fd = c->from_fd = -1;
    const char *bin = axl_cdp_browser();
    if (bin == NULL)
        return -1;
    snprintf(c->profile, sizeof(c->profile), "/tmp/axl-cdp-XXXXXX");
    if (mkdtemp(c->profile) == NULL)
        return -1;
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(from, O_CLOEXEC) != 0) {
        close(to[0]);
        close(to[1]);
        return -1;
    }
    char prof[300], size[64];
    snprintf(prof, sizeof(prof), "--user-data-dir=%s", c->profile);
    snprintf(size, sizeof(size), "--window-size=%d,%d", width, height);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0); /* its helpers (renderer, zygote) go with it */
        /* The browser reads commands from fd 3 and writes replies to fd 4. */
        int r = dup(to[0]), w = dup(from[1]);
        if (r < 0 || w < 0 || dup2(r, 3) < 0 || dup2(w, 4) < 0)
            _exit(127);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0 && getenv("AXL_CDP_VERBOSE") == NULL) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execl(bin, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
              "--disable-background-networking", "--disable-dev-shm-usage",
              "--remote-debugging-pipe", prof, size, "about:blank", (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    c->to_fd = to[1];
    c->from_fd = from[0];
    if (pid < 0) {
        axl_cdp_stop(c);
        return -1;
    }
    c->pid = pid;
    json_t *res = NULL;
    json_t *p = json_pack("{s:s}", "url", "about:blank");
    if (axl_cdp_call(c, true, "Target.createTarget", p, 20000, &res) != 0)
        goto fail;
    const char *target = json_string_value(json_object_get(res, "targetId"));
    json_t *ap = json_pack("{s:s,s:b}", "targetId", target != NULL ? target : "", "flatten", 1);
    json_decref(res);
    if (axl_cdp_call(c, true, "Target.attachToTarget", ap, 10000, &res) != 0)
        goto fail;
    snprintf(c->session, sizeof(c->session), "%s",
             json_string_value(json_object_get(res, "sessionId")) != NULL
                 ? json_string_value(json_object_get(res, "sessionId"))
                 : "");
    json_decref(res);
    if (axl_cdp_call(c, false, "Page.enable", NULL, 10000, NULL) != 0)
        goto fail;
    json_t *mp = json_pack("{s:i,s:i,s:f,s:b}", "width", width, "height", height,
                           "deviceScaleFactor", 1.0, "mobile", 0);
    if (axl_cdp_call(c, false, "Emulation.setDeviceMetricsOverride", mp, 10000, NULL) != 0)
        goto fail;
    return 0;
fail:
    axl_cdp_stop(c);
    return -1;
}

int axl_cdp_open(axl_cdp *c, const char *url, int timeout_ms)
{
    json_t *p = json_pack("{s:s}", "url", url);
    if (axl_cdp_call(c, false, "Page.navigate", p, timeout_ms, NULL) != 0)
        return -1;
    /* Page.loadEventFired arrives as an event of the session. */
    double deadline = now_ms() + timeout_ms;
    for (;;) {
        json_t *m = read_msg(c, deadline);
        if (m == NULL)
            return -1;
        const char *method = json_string_value(json_object_get(m, "method"));
        bool loaded = method != NULL && strcmp(method, "Page.loadEventFired") == 0;
        json_decref(m);
        if (loaded)
            return 0;
    }
}

int axl_cdp_eval(axl_cdp *c, const char *expr, int timeout_ms, json_t **value)
{
    json_t *p =
        json_pack("{s:s,s:b,s:b}", "expression", expr, "awaitPromise", 1, "returnByValue", 1);
    json_t *res = NULL;
    *value = NULL;
    if (axl_cdp_call(c, false, "Runtime.evaluate", p, timeout_ms, &res) != 0)
        return -1;
    json_t *exc = json_object_get(res, "exceptionDetails");
    if (exc != NULL) {
        char *s = json_dumps(exc, JSON_COMPACT);
        fprintf(stderr, "cdp: evaluating %.200s: %.600s\n", expr, s != NULL ? s : "?");
        free(s);
        json_decref(res);
        return -1;
    }
    *value = json_object_get(json_object_get(res, "result"), "value");
    json_incref(*value);
    json_decref(res);
    return 0;
}

double axl_cdp_eval_num(axl_cdp *c, const char *expr, int timeout_ms)
{
    json_t *v = NULL;
    double x = NAN;
    if (axl_cdp_eval(c, expr, timeout_ms, &v) == 0 && json_is_number(v))
        x = json_number_value(v);
    json_decref(v);
    return x;
}

static int b64(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

int axl_cdp_screenshot(axl_cdp *c, const char *path)
{
    json_t *p = json_pack("{s:s,s:b}", "format", "png", "captureBeyondViewport", 1);
    json_t *res = NULL;
    if (axl_cdp_call(c, false, "Page.captureScreenshot", p, 30000, &res) != 0)
        return -1;
    const char *data = json_string_value(json_object_get(res, "data"));
    size_t n = data != NULL ? strlen(data) : 0;
    unsigned char *out = malloc(n / 4 * 3 + 3);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; out != NULL && i < n; i++) {
        int v = b64((unsigned char)data[i]);
        if (v < 0)
            continue;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    int rv = -1;
    FILE *f = out != NULL && o > 0 ? fopen(path, "wb") : NULL;
    if (f != NULL) {
        rv = fwrite(out, 1, o, f) == o ? 0 : -1;
        if (fclose(f) != 0)
            rv = -1;
    }
    free(out);
    json_decref(res);
    return rv;
}

void axl_cdp_stop(axl_cdp *c)
{
    if (c->pid > 0) {
        int id;
        send_cmd(c, true, "Browser.close", NULL, &id);
        /* Give it a moment to exit cleanly, then make sure. */
        for (int i = 0; i < 50; i++) {
            if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
                c->pid = 0;
                break;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (c->pid > 0) {
            kill(-c->pid, SIGKILL);
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
        }
    }
    if (c->to_fd >= 0)
        close(c->to_fd);
    if (c->from_fd >= 0)
        close(c->from_fd);
    free(c->rbuf);
    if (c->profile[0] != '\0') {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->profile);
        if (system(cmd) != 0) {
            /* a leftover profile in /tmp is harmless */
        }
    }
    memset(c, 0, sizeof(*c));
    c->to_fd = c->from_fd = -1;
}
