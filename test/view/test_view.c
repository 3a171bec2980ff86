/*
 * test_view.c - `axle serve` and `axle report` in a real browser: headless Chromium over
 * the DevTools protocol opens the live page while `axle run` (a child process) runs a
 * campaign, and the report file from disk; assertions are on the rendered DOM and the
 * page's folded state, compared with the store. Screenshots go to build/test-artifacts/.
 * Where no Chromium is installed the browser tests skip and say so.
 */
#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/view/view.h"
#include "proto/axl_proto.h"
#include "test/view/cdp.h"
#include "test/common/spawn.h"

/* Headless Chromium on a loaded 2-core CI machine can lag many seconds behind a render. */
#define WAIT_MS 40000

static char tmp_root[256];

static void path(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void path(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static pid_t spawn(const char *log, const char *const argv[])
{
    return axl_test_spawn(AXLE_BIN, argv, log, AXL_TEST_SAME_AS_OUT, false);
}

/* A child that has not exited after 60 s is killed and reported: a hang fails its
 * assertion with a name instead of running into ctest's timeout. */
static int wait_exit(pid_t pid)
{
    int st = 0;
    for (int i = 0; i < 6000; i++) {
        pid_t got = waitpid(pid, &st, WNOHANG);
        if (got == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (got < 0)
            return -1;
        usleep(10000);
    }
    fprintf(stderr, "child %d has not exited in 60 s: killed\n", (int)pid);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -2;
}

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* A function-runner campaign: n trials of Branin, Sobol only (fast), d seconds each. */
/* outcomes: the function runner's script (C complete, F fail, H hang), or NULL. */
static void function_experiment_scripted(const char *file, const char *name, int n, double d,
                                         int cap, const char *outcomes)
{
    char text[1400], script[200] = "";
    if (outcomes != NULL)
        snprintf(script, sizeof(script), ", \"outcomes\": \"%s\"", outcomes);
    snprintf(text, sizeof(text),
             "{\"name\": \"%s\",\n"
             " \"search_space\": {\"parameters\": [\n"
             "   {\"name\": \"x1\", \"type\": \"range\", \"value_type\": \"float\", \"bounds\": "
             "[-5, 10]},\n"
             "   {\"name\": \"x2\", \"type\": \"range\", \"value_type\": \"float\", \"bounds\": "
             "[0, 15]}]},\n"
             " \"objective\": {\"metric\": \"branin\", \"minimize\": true},\n"
             " \"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1, "
             "\"max_parallelism\": %d, \"seed\": 7}]},\n"
             " \"scheduler\": {\"max_pending_trials\": %d, \"total_trials\": %d},\n"
             " \"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": "
             "%g, \"capacity\": %d, \"seed\": 3%s}}\n",
             name, cap, cap, n, d, cap, script);
    write_file(file, text);
}

static void function_experiment(const char *file, const char *name, int n, double d, int cap)
{
    function_experiment_scripted(file, name, n, d, cap, NULL);
}

/* Runs `axle run FILE --store DIR` to its end; returns its exit code. */
static int run_campaign(const char *file, const char *store)
{
    char log[512];
    path(log, sizeof(log), "%s.log", store);
    const char *argv[] = {"axle",          "run",         file,   "--store",  store,
                          "--no-progress", "--log-level", "warn", "--nosync", NULL};
    return wait_exit(spawn(log, argv));
}

/* What the store says: events, the last seq, trials, the stopped event's best. */
typedef struct truth {
    uint64_t last;
    int trials;
    double best;
    int task_finished;
    int completed_events;
    char pareto[256]; /* the stopped event's pareto.trials, "1,5,7" */
} truth;

/* Read through `axle replay --json` (another process: this one may hold the store open
 * for its server, and a process opens a store once). */
static truth read_truth(const char *store, const char *name)
{
    truth t = {.best = NAN};
    char out[400];
    path(out, sizeof(out), "%s.replay", store);
    const char *argv[] = {"axle", "replay", "--store", store, "--json", NULL};
    assert_int_equal(wait_exit(spawn(out, argv)), 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    static char line[1 << 20];
    static unsigned char seen[100000];
    memset(seen, 0, sizeof(seen));
    while (fgets(line, sizeof(line), f) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        t.last = (uint64_t)json_integer_value(json_object_get(j, "seq"));
        const char *type = json_string_value(json_object_get(j, "type"));
        const char *exp = json_string_value(json_object_get(j, "experiment"));
        if (exp != NULL && strcmp(exp, name) == 0) {
            json_t *tr = json_object_get(j, "trial");
            if (strncmp(type, "trial.", 6) == 0 && json_integer_value(tr) < 100000 &&
                !seen[json_integer_value(tr)]++)
                t.trials++;
            if (strcmp(type, "task.finished") == 0)
                t.task_finished++;
            if (strcmp(type, "trial.completed") == 0)
                t.completed_events++;
            if (strcmp(type, "experiment.stopped") == 0) {
                json_t *body = json_object_get(j, "body"), *pt;
                t.best = json_number_value(json_object_get(body, "best_value"));
                size_t k;
                json_array_foreach(json_object_get(json_object_get(body, "pareto"), "trials"), k,
                                   pt)
                {
                    size_t at = strlen(t.pareto);
                    snprintf(t.pareto + at, sizeof(t.pareto) - at, "%s%lld", k > 0 ? "," : "",
                             (long long)json_integer_value(pt));
                }
            }
        }
        json_decref(j);
    }
    fclose(f);
    return t;
}

static bool skip_without_browser(void)
{
    if (axl_cdp_browser() != NULL)
        return false;
    fprintf(stderr, "[  SKIP    ] no Chromium installed (Debian package `chromium`; "
                    "scripts/bootstrap installs it): browser tests skipped\n");
    return true;
}

static void artifact(axl_cdp *c, const char *name)
{
    char p[600];
    mkdir(AXL_ARTIFACTS, 0755);
    path(p, sizeof(p), "%s/%s", AXL_ARTIFACTS, name);
    assert_int_equal(axl_cdp_screenshot(c, p), 0);
    fprintf(stderr, "screenshot: %s\n", p);
}

/* A promise that resolves with `value` at the first render where `cond` holds (never
 * while a render is pending: what the page has received is then also drawn). */
static double wait_page(axl_cdp *c, const char *cond, const char *value)
{
    char expr[1500];
    snprintf(expr, sizeof(expr),
             "new Promise(function (ok) { var f = function () { if (!axle.frame && "
             "!axle.chartTimer && (%s)) { "
             "removeEventListener('axle:render', f); ok(%s); } }; "
             "addEventListener('axle:render', f); f(); })",
             cond, value);
    double x = axl_cdp_eval_num(c, expr, WAIT_MS);
    if (x != x) {
        json_t *st = NULL;
        axl_cdp_eval(c,
                     "JSON.stringify({applied: axle.applied, next: axle.next, last: axle.last, "
                     "gaps: axle.gaps, dups: axle.dups, connects: axle.connects, "
                     "ws: axle.ws && axle.ws.readyState, url: location.href})",
                     5000, &st);
        fprintf(stderr, "page state: %s\n", json_string_value(st) ? json_string_value(st) : "?");
        json_decref(st);
    }
    return x;
}

static double num(axl_cdp *c, const char *expr)
{
    return axl_cdp_eval_num(c, expr, 5000);
}

/* ---- No browser needed ------------------------------------------------------------ */

static void test_loopback_only(void **state)
{
    (void)state;
    char host[64];
    unsigned port;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_view_check_addr("127.0.0.1:8080", host, sizeof(host), &port, &eb), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(axl_view_check_addr("[::1]:0", host, sizeof(host), &port, &eb), 0);
    assert_int_equal(axl_view_check_addr("localhost:9", host, sizeof(host), &port, &eb), 0);
    assert_int_equal(axl_view_check_addr("127.3.4.5:1", host, sizeof(host), &port, &eb), 0);
    assert_int_equal(axl_view_check_addr("0.0.0.0:8080", host, sizeof(host), &port, &eb),
                     AXL_EACCES);
    assert_non_null(strstr(eb.msg, "loopback"));
    assert_int_equal(axl_view_check_addr("192.168.1.4:80", host, sizeof(host), &port, &eb),
                     AXL_EACCES);
    assert_int_equal(axl_view_check_addr("[::]:80", host, sizeof(host), &port, &eb), AXL_EACCES);
    assert_int_equal(axl_view_check_addr("example.org:80", host, sizeof(host), &port, &eb),
                     AXL_EINVAL);
    assert_int_equal(axl_view_check_addr("127.0.0.1", host, sizeof(host), &port, &eb), AXL_EINVAL);
    assert_int_equal(axl_view_check_addr("127.0.0.1:70000", host, sizeof(host), &port, &eb),
                     AXL_EINVAL);
    /* The server refuses too, before it opens anything. */
    axl_view_server *v = NULL;
    axl_view_options o = {.store_dir = tmp_root, .http = "0.0.0.0:0"};
    assert_int_equal(axl_view_server_open(&o, &v, &eb), AXL_EACCES);
    assert_null(v);
}

/* GET path with extra header lines; reads to EOF, or until `until` was read (5 s at
 * most); returns the status. */
static int http_req(unsigned port, const char *p, const char *headers, const char *until,
                    char *body, size_t bodysz);

/* GET path on the server; returns the HTTP status. */
static int http_get(unsigned port, const char *p, char *body, size_t bodysz)
{
    return http_req(port, p, "Host: 127.0.0.1\r\n", NULL, body, bodysz);
}

static int http_req(unsigned port, const char *p, const char *headers, const char *until,
                    char *body, size_t bodysz)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[1024];
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n%sConnection: close\r\n\r\n", p, headers);
    assert_int_equal(write(fd, req, (size_t)n), n);
    static char resp[1 << 16];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(resp) - 1 && (r = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0) {
        got += (size_t)r;
        resp[got] = '\0';
        if (until != NULL && memmem(resp, got, until, strlen(until)) != NULL)
            break;
    }
    resp[got] = '\0';
    close(fd);
    int status = 0;
    sscanf(resp, "HTTP/1.1 %d", &status);
    const char *b = strstr(resp, "\r\n\r\n");
    if (body != NULL)
        snprintf(body, bodysz, "%s", b != NULL ? b + 4 : "");
    return status;
}

static void test_data_folder_only(void **state)
{
    (void)state;
    char store[300], p[600], q[600];
    path(store, sizeof(store), "%s/datastore", tmp_root);
    path(p, sizeof(p), "%s/exp.json", tmp_root);
    function_experiment(p, "paths", 3, 0.0, 1);
    assert_int_equal(run_campaign(p, store), 0);
    /* A data folder: a spectrum, a journal, a link out, a directory link out. */
    path(p, sizeof(p), "%s/data", store);
    mkdir(p, 0755);
    path(p, sizeof(p), "%s/data/paths", store);
    mkdir(p, 0755);
    path(p, sizeof(p), "%s/data/paths/s0_pl.csv", store);
    write_file(p, "dwelltime_ms,1000\nwavelength_nm,counts\n700,5\n");
    path(p, sizeof(p), "%s/data/paths/journal.log", store);
    write_file(p, "not served\n");
    path(p, sizeof(p), "%s/secret.csv", tmp_root);
    write_file(p, "secret\n");
    path(q, sizeof(q), "%s/data/paths/link.csv", store);
    assert_int_equal(symlink(p, q), 0);
    path(q, sizeof(q), "%s/data/up", store);
    assert_int_equal(symlink(tmp_root, q), 0);

    axl_errbuf eb = {{0}};
    char real[4096];
    assert_int_equal(axl_view_data_path(store, "paths/s0_pl.csv", real, sizeof(real), &eb), 0);
    assert_int_equal(axl_view_data_path(store, "paths/link.csv", real, sizeof(real), &eb),
                     AXL_EACCES);
    assert_int_equal(axl_view_data_path(store, "up/secret.csv", real, sizeof(real), &eb),
                     AXL_EACCES);
    assert_int_equal(axl_view_data_path(store, "../secret.csv", real, sizeof(real), &eb),
                     AXL_EACCES);
    assert_int_equal(axl_view_data_path(store, "paths/../../data.mdb", real, sizeof(real), &eb),
                     AXL_EACCES);
    assert_int_equal(axl_view_data_path(store, "/etc/passwd", real, sizeof(real), &eb), AXL_EACCES);
    assert_int_equal(axl_view_data_path(store, "paths/journal.log", real, sizeof(real), &eb),
                     AXL_EACCES);
    assert_int_equal(axl_view_data_path(store, "paths/none.csv", real, sizeof(real), &eb),
                     AXL_ENOENT);

    axl_view_server *v = NULL;
    axl_view_options o = {.store_dir = store, .http = "127.0.0.1:0"};
    assert_int_equal(axl_view_server_open(&o, &v, &eb), 0);
    unsigned port = axl_view_server_port(v);
    assert_true(port > 0);
    char body[512];
    assert_int_equal(http_get(port, "/data/paths/s0_pl.csv", body, sizeof(body)), 200);
    assert_non_null(strstr(body, "700,5"));
    assert_int_equal(http_get(port, "/data/paths/link.csv", body, sizeof(body)), 403);
    assert_null(strstr(body, "secret"));
    assert_int_equal(http_get(port, "/data/up/secret.csv", NULL, 0), 403);
    assert_int_equal(http_get(port, "/data/../data.mdb", NULL, 0), 403);
    assert_int_equal(http_get(port, "/data/%2e%2e/secret.csv", NULL, 0), 403);
    assert_int_equal(http_get(port, "/data/paths/%2e%2e/%2e%2e/data.mdb", NULL, 0), 403);
    assert_int_equal(http_get(port, "/data/paths/journal.log", NULL, 0), 403);
    assert_int_equal(http_get(port, "/data/paths/s0_pl.csv%00.csv", NULL, 0), 403);
    assert_int_equal(http_get(port, "/data/paths/none.csv", NULL, 0), 404);
    assert_int_equal(http_get(port, "/data.mdb", NULL, 0), 404);
    assert_int_equal(http_get(port, "/", body, sizeof(body)), 200);
    assert_non_null(strstr(body, "<title>axle</title>"));
    /* Another site's name for this address (DNS rebinding) gets no file. */
    assert_int_equal(
        http_req(port, "/data/paths/s0_pl.csv", "Host: evil.example\r\n", NULL, NULL, 0), 403);
    /* The feed answers this machine's pages, not another site's (its Origin). */
    char hdr[400];
    const char *ws = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: "
                     "13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    snprintf(hdr, sizeof(hdr), "Host: 127.0.0.1:%u\r\nOrigin: http://127.0.0.1:%u\r\n%s", port,
             port, ws);
    static char resp[8192];
    assert_int_equal(http_req(port, "/feed?from=1", hdr, "\"last\"", resp, sizeof(resp)), 101);
    assert_non_null(strstr(resp, "\"events\""));
    snprintf(hdr, sizeof(hdr), "Host: 127.0.0.1:%u\r\nOrigin: http://evil.example\r\n%s", port, ws);
    resp[0] = '\0';
    http_req(port, "/feed?from=1", hdr, NULL, resp, sizeof(resp));
    assert_null(strstr(resp, "\"events\""));
    snprintf(hdr, sizeof(hdr), "Host: evil.example:%u\r\n%s", port, ws);
    resp[0] = '\0';
    http_req(port, "/feed?from=1", hdr, NULL, resp, sizeof(resp));
    assert_null(strstr(resp, "\"events\""));
    axl_view_server_close(v);
}

/* ---- In the browser --------------------------------------------------------------- */

static void check_page_against_store(axl_cdp *c, const truth *t)
{
    /* Every seq covered, in order, never a gap seen (a trial's superseded records may
     * be coalesced, so applied <= last). */
    assert_true((uint64_t)num(c, "axle.applied") <= t->last);
    assert_true(num(c, "axle.applied") > 0);
    assert_int_equal((uint64_t)num(c, "axle.next - 1"), t->last);
    assert_int_equal((int)num(c, "axle.gaps"), 0);
    assert_int_equal((int)num(c, "axle.types['trial.completed'] || 0"), t->completed_events);
    /* Trial rows = trials in the store; the best shown = the stopped event's. */
    assert_int_equal((int)num(c, "document.querySelectorAll('#trials tbody tr').length"),
                     t->trials);
    double best = num(c, "+document.getElementById('best').dataset.value");
    assert_true(fabs(best - t->best) <= 1e-12 * fmax(1.0, fabs(t->best)));
}

static void test_live_page(void **state)
{
    (void)state;
    if (skip_without_browser()) {
        skip();
        return;
    }
    char store[300], file[300], log[320];
    path(store, sizeof(store), "%s/live", tmp_root);
    path(file, sizeof(file), "%s/live.json", tmp_root);
    path(log, sizeof(log), "%s/live.log", tmp_root);
    function_experiment(file, "live", 80, 0.2, 4); /* about 4 s */
    axl_cdp c;
    assert_int_equal(axl_cdp_start(&c, 1280, 1800), 0); /* the browser first: it is slow */
    const char *argv[] = {"axle",          "run",         file,   "--store",  store,
                          "--no-progress", "--log-level", "warn", "--nosync", NULL};
    pid_t run = spawn(log, argv);
    /* The page connects late: after the campaign has committed at least 25 events
     * (`axle subscribe` returns once it has seen them; it refuses until the stream is up). */
    char sublog[320];
    path(sublog, sizeof(sublog), "%s/sub.log", tmp_root);
    const char *sub[] = {"axle", "subscribe", "--store", store, "--count", "25", NULL};
    int rc = 1;
    for (int i = 0; i < 200 && rc != 0; i++) {
        rc = wait_exit(spawn(sublog, sub));
        if (rc != 0)
            usleep(20000); /* the campaign is still creating its store */
    }
    assert_int_equal(rc, 0);

    axl_errbuf eb = {{0}};
    axl_view_server *v = NULL;
    axl_view_options o = {.store_dir = store, .http = "127.0.0.1:0"};
    assert_int_equal(axl_view_server_open(&o, &v, &eb), 0);
    char url[128];
    path(url, sizeof(url), "http://127.0.0.1:%u/", axl_view_server_port(v));
    assert_int_equal(axl_cdp_open(&c, url, WAIT_MS), 0);
    /* Caught up on what was there, then a dropped connection while the campaign runs. */
    assert_true(wait_page(&c, "axle.applied >= 25", "axle.applied") >= 25);
    double stopped_already = num(&c, "axle.types['experiment.stopped'] || 0");
    assert_int_equal((int)num(&c, "axle.drop(), axle.connects"), 1);
    assert_true(wait_page(&c, "axle.connects >= 2 && axle.ws && axle.ws.readyState === 1",
                          "axle.connects") >= 2);
    /* The campaign ends; the page shows its end. */
    assert_int_equal(wait_exit(run), 0);
    truth t = read_truth(store, "live");
    char cond[200];
    snprintf(cond, sizeof(cond), "axle.next - 1 >= %llu", (unsigned long long)t.last);
    assert_true(wait_page(&c, cond, "axle.next - 1") >= (double)t.last);
    assert_true(
        wait_page(&c, "/^stopped/.test((document.getElementById('exp-state') || {}).textContent)",
                  "1") == 1);
    check_page_against_store(&c, &t);
    fprintf(stderr,
            "live: %llu events, %d trials, %g duplicates skipped, campaign stopped before "
            "the drop: %s\n",
            (unsigned long long)t.last, t.trials, num(&c, "axle.dups"),
            stopped_already > 0 ? "yes" : "no");
    artifact(&c, "view_live.png");

    /* A page that connects after the end gets the same picture. */
    assert_int_equal(axl_cdp_open(&c, url, WAIT_MS), 0);
    assert_true(wait_page(&c, cond, "axle.next - 1") >= (double)t.last);
    check_page_against_store(&c, &t);
    assert_int_equal((int)num(&c, "axle.connects"), 1);
    axl_cdp_stop(&c);
    axl_view_server_close(v);
}

/* A free loopback port (bound, read, released: nothing else on this machine races for it
 * in a test's few milliseconds). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* `axle run --http ADDR`: the view comes up with the campaign and ends with it. */
static void test_run_http(void **state)
{
    (void)state;
    char store[300], file[300], log[320], addr[64], url[128];
    path(store, sizeof(store), "%s/runhttp", tmp_root);
    path(file, sizeof(file), "%s/runhttp.json", tmp_root);
    path(log, sizeof(log), "%s/runhttp.log", tmp_root);
    const char *bad[] = {"axle", "run", file, "--store", store, "--http", "0.0.0.0:8080", NULL};
    /* The last trial hangs until the test completes it by hand: the campaign (and so its
     * view) lives until the page is open, however slow the machine. */
    function_experiment_scripted(file, "runhttp", 12, 0.05, 3, "CCCCCCCCCCCH");
    assert_int_equal(wait_exit(spawn(log, bad)), 2); /* not loopback: refused, nothing run */
    if (skip_without_browser()) {
        skip();
        return;
    }
    axl_cdp c;
    assert_int_equal(axl_cdp_start(&c, 1280, 1200), 0);
    unsigned port = free_port();
    path(addr, sizeof(addr), "127.0.0.1:%u", port);
    path(url, sizeof(url), "http://%s/", addr);
    const char *argv[] = {"axle", "run",           file,          "--store", store, "--http",
                          addr,   "--no-progress", "--log-level", "warn",    NULL};
    pid_t run = spawn(log, argv);
    /* The view is up once the campaign streams (it starts first; the page retries). */
    const char *sub[] = {"axle", "subscribe", "--store", store, "--count", "5", NULL};
    char sublog[320];
    path(sublog, sizeof(sublog), "%s/runhttp.sub", tmp_root);
    int rc = 1;
    for (int i = 0; i < 200 && rc != 0; i++)
        if ((rc = wait_exit(spawn(sublog, sub))) != 0)
            usleep(20000); /* the campaign is still creating its store */
    assert_int_equal(rc, 0);
    int opened = -1;
    for (int i = 0; i < 50 && opened != 0; i++)
        if ((opened = axl_cdp_open(&c, url, WAIT_MS)) != 0 ||
            num(&c, "typeof axle === 'object' ? 1 : 0") != 1) {
            opened = -1;
            usleep(50000); /* the server child is still starting */
        }
    assert_int_equal(opened, 0);
    /* The hung trial (the twelfth deployed: trial 11) completed through the control
     * socket; refused until it runs. The campaign then ends, and its end reaches the page
     * before the view goes (the view drains its pages when the campaign stops it). */
    const char *done[] = {"axle",     "trial",      "runhttp", "complete", "11",
                          "--result", "branin=5.5", "--store", store,      NULL};
    rc = 1;
    for (int i = 0; i < 400 && rc != 0; i++)
        if ((rc = wait_exit(spawn(sublog, done))) != 0)
            usleep(50000); /* trial 11 is not deployed yet */
    assert_int_equal(rc, 0);
    assert_true(
        wait_page(&c, "/^stopped/.test((document.getElementById('exp-state') || {}).textContent)",
                  "1") == 1);
    assert_int_equal(wait_exit(run), 0);
    truth t = read_truth(store, "runhttp");
    check_page_against_store(&c, &t);
    axl_cdp_stop(&c);
    /* The view ended with the campaign: nothing listens there any more. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    close(fd);
}

static void test_report_file(void **state)
{
    (void)state;
    char store[300], file[300], html[320];
    path(store, sizeof(store), "%s/rep", tmp_root);
    path(file, sizeof(file), "%s/rep.json", tmp_root);
    path(html, sizeof(html), "%s/report.html", tmp_root);
    function_experiment(file, "rep", 24, 0.0, 4);
    assert_int_equal(run_campaign(file, store), 0);
    axl_errbuf eb = {{0}};
    size_t bytes = 0;
    assert_int_equal(axl_view_report_write(store, "nope", html, &bytes, &eb), AXL_ENOENT);
    /* Through the CLI, as users run it. */
    char log[320];
    path(log, sizeof(log), "%s/report.log", tmp_root);
    const char *argv[] = {"axle", "report", "rep", "--store", store, "-o", html, NULL};
    assert_int_equal(wait_exit(spawn(log, argv)), 0);
    /* Self-contained: nothing is fetched from anywhere. */
    FILE *f = fopen(html, "r");
    assert_non_null(f);
    static char text[4 << 20];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_null(strstr(text, "src=\""));
    assert_null(strstr(text, "href=\""));
    assert_null(strstr(text, "http://"));
    assert_null(strstr(text, "https://"));
    if (skip_without_browser()) {
        skip();
        return;
    }
    truth t = read_truth(store, "rep");
    axl_cdp c;
    assert_int_equal(axl_cdp_start(&c, 1280, 1800), 0);
    char url[400];
    path(url, sizeof(url), "file://%s", html);
    assert_int_equal(axl_cdp_open(&c, url, WAIT_MS), 0);
    assert_true(wait_page(&c, "document.querySelectorAll('#trials tbody tr').length > 0", "1") ==
                1);
    assert_int_equal((int)num(&c, "document.querySelectorAll('#trials tbody tr').length"),
                     t.trials);
    double best = num(&c, "+document.getElementById('best').dataset.value");
    assert_true(fabs(best - t.best) <= 1e-12 * fmax(1.0, fabs(t.best)));
    /* Sortable: by the objective, ascending puts the best (minimized) first. */
    num(&c, "document.querySelector('th[data-k=\"m:branin\"]').click(), 0");
    num(&c, "document.querySelector('th[data-k=\"m:branin\"]').click(), 0");
    assert_true(wait_page(&c, "document.querySelector('th.asc[data-k=\"m:branin\"]')", "1") == 1);
    assert_int_equal((int)num(&c, "+document.querySelector('#trials tbody tr').dataset.i"),
                     (int)num(&c, "+document.getElementById('best').dataset.trial"));
    artifact(&c, "view_report.png");
    axl_cdp_stop(&c);
}

/* A small two-objective campaign on the simulated line: the Gantt chart has a bar per
 * finished task, live (connected after the end) and in the report; the Pareto front drawn
 * is the engine's (the experiment.stopped event's pareto.trials). */
static void test_lab_gantt(void **state)
{
    (void)state;
    if (skip_without_browser()) {
        skip();
        return;
    }
    char store[300], file[300], html[320];
    path(store, sizeof(store), "%s/lab", tmp_root);
    path(file, sizeof(file), "%s/lab.json", tmp_root);
    path(html, sizeof(html), "%s/lab.html", tmp_root);
    json_t *x = json_load_file(AXL_EXAMPLES "/antisolvent_pl_pareto.json", 0, NULL);
    assert_non_null(x);
    json_object_set_new(x, "name", json_string("labview"));
    json_object_set_new(json_object_get(x, "scheduler"), "total_trials", json_integer(5));
    json_object_set_new(x, "generation_strategy",
                        json_pack("{s:[{s:s,s:i,s:i}]}", "steps", "model", "sobol", "num_trials",
                                  -1, "max_parallelism", 4));
    json_object_set_new(json_object_get(json_object_get(x, "lab"), "simulate"), "speed",
                        json_integer(4000));
    assert_int_equal(json_dump_file(x, file, 0), 0);
    json_decref(x);
    assert_int_equal(run_campaign(file, store), 0);
    truth t = read_truth(store, "labview");
    assert_true(t.task_finished > 0);

    axl_errbuf eb = {{0}};
    axl_view_server *v = NULL;
    axl_view_options o = {.store_dir = store, .http = "127.0.0.1:0"};
    assert_int_equal(axl_view_server_open(&o, &v, &eb), 0);
    char url[400], cond[200];
    path(url, sizeof(url), "http://127.0.0.1:%u/", axl_view_server_port(v));
    axl_cdp c;
    assert_int_equal(axl_cdp_start(&c, 1280, 2200), 0);
    assert_int_equal(axl_cdp_open(&c, url, WAIT_MS), 0);
    snprintf(cond, sizeof(cond), "axle.next - 1 >= %llu", (unsigned long long)t.last);
    assert_true(wait_page(&c, cond, "1") == 1);
    check_page_against_store(&c, &t);
    assert_int_equal((int)num(&c, "document.querySelectorAll('#gantt rect.bar.done').length"),
                     t.task_finished);
    json_t *front = NULL;
    assert_int_equal(
        axl_cdp_eval(&c, "document.getElementById('pareto-card').dataset.trials", 5000, &front), 0);
    assert_string_equal(json_string_value(front), t.pareto);
    fprintf(stderr, "lab: Pareto front: trials %s\n", t.pareto);
    json_decref(front);
    assert_int_equal((int)num(&c, "document.getElementById('pareto-card').hidden ? 0 : 1"), 1);
    /* Its spectrum arrived from the data folder and was drawn with its fit. */
    assert_true(wait_page(&c, "document.getElementById('fitinfo').textContent.length > 0", "1") ==
                1);
    artifact(&c, "view_lab.png");
    axl_view_server_close(v);

    assert_int_equal(axl_view_report_write(store, "labview", html, NULL, &eb), 0);
    path(url, sizeof(url), "file://%s", html);
    assert_int_equal(axl_cdp_open(&c, url, WAIT_MS), 0);
    assert_true(wait_page(&c, "document.querySelectorAll('#gantt rect').length > 0", "1") == 1);
    assert_int_equal((int)num(&c, "document.querySelectorAll('#gantt rect.bar.done').length"),
                     t.task_finished);
    assert_int_equal((int)num(&c, "Object.keys(AXLE_REPORT.spectra).length"), t.trials);
    artifact(&c, "view_lab_report.png");
    axl_cdp_stop(&c);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/axl-view-XXXXXX");
    return mkdtemp(tmp_root) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("AXL_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("AXL_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_only), cmocka_unit_test(test_data_folder_only),
        cmocka_unit_test(test_live_page),     cmocka_unit_test(test_report_file),
        cmocka_unit_test(test_lab_gantt),     cmocka_unit_test(test_run_http),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
