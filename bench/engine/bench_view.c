/*
 * bench_view.c - the view's rows of `bench/run engine`: view.first_paint_ms (a
 * 1,000-trial campaign's page in headless Chromium, navigation start to the trial table
 * drawn with every trial, median of 5 loads), view.event_to_screen_ms_p50 (an event's
 * commit time to its row in the page's DOM at the next animation frame, live campaign)
 * and view.report_bytes_1k (`axle report` of the 1,000-trial campaign).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/axl_bench.h"
#include "engine/view/view.h"
#include "test/view/cdp.h"

void axl_bench_view(void);

static int run_axle(const char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen("/dev/null", "w", stdout);
        (void)f;
        execv(AXLE_BIN, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static pid_t start_axle(const char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen("/dev/null", "w", stdout);
        (void)f;
        execv(AXLE_BIN, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void experiment(const char *file, const char *name, int n, double d, int cap)
{
    FILE *f = fopen(file, "w");
    if (f == NULL)
        return;
    fprintf(
        f,
        "{\"name\": \"%s\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"value_type\": \"float\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"value_type\": \"float\", \"bounds\": [0, 15]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1, "
        "\"max_parallelism\": %d}]},"
        "\"scheduler\": {\"max_pending_trials\": %d, \"total_trials\": %d},"
        "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": %g, "
        "\"capacity\": %d}}\n",
        name, cap, cap, n, d, cap);
    fclose(f);
}

static double wait_num(axl_cdp *c, const char *cond, const char *value)
{
    char expr[1200];
    snprintf(expr, sizeof(expr),
             "new Promise(function (ok) { var f = function () { if (!axle.frame && "
             "!axle.chartTimer && (%s)) { "
             "removeEventListener('axle:render', f); ok(%s); } }; "
             "addEventListener('axle:render', f); f(); })",
             cond, value);
    return axl_cdp_eval_num(c, expr, 60000);
}

void axl_bench_view(void)
{
    if (axl_cdp_browser() == NULL) {
        fprintf(stderr, "bench_engine: no Chromium: view rows skipped\n");
        return;
    }
    const char *tmp = getenv("AXL_BENCH_DIR") ? getenv("AXL_BENCH_DIR")
                      : getenv("TMPDIR")      ? getenv("TMPDIR")
                                              : "/tmp";
    char root[512], file[600], store[600], html[600], url[128];
    snprintf(root, sizeof(root), "%s/axl-bench-view-XXXXXX", tmp);
    if (mkdtemp(root) == NULL)
        return;
    snprintf(file, sizeof(file), "%s/k.json", root);
    snprintf(store, sizeof(store), "%s/k", root);
    snprintf(html, sizeof(html), "%s/k.html", root);
    fprintf(stderr, "bench_engine: view: a 1,000-trial campaign ...\n");
    experiment(file, "view1k", 1000, 0.0, 10);
    const char *run[] = {"axle",     "run",           file,          "--store", store,
                         "--nosync", "--no-progress", "--log-level", "error",   NULL};
    if (run_axle(run) != 0) {
        fprintf(stderr, "bench_engine: view: the campaign failed\n");
        return;
    }
    axl_errbuf eb = {{0}};
    size_t bytes = 0;
    if (axl_view_report_write(store, "view1k", html, &bytes, &eb) == 0)
        axl_bench_row("view.report_bytes_1k", (double)bytes, "bytes");
    else
        fprintf(stderr, "bench_engine: view: report: %s\n", eb.msg);

    axl_cdp c;
    if (axl_cdp_start(&c, 1280, 900) != 0) {
        fprintf(stderr, "bench_engine: view: cannot start Chromium\n");
        return;
    }
    axl_view_server *v = NULL;
    axl_view_options o = {.store_dir = store, .http = "127.0.0.1:0"};
    if (axl_view_server_open(&o, &v, &eb) != 0) {
        fprintf(stderr, "bench_engine: view: %s\n", eb.msg);
        axl_cdp_stop(&c);
        return;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", axl_view_server_port(v));
    double fp[6];
    int nfp = 0;
    for (int i = 0; i < 6; i++) { /* the first load warms the browser's caches: dropped */
        if (axl_cdp_open(&c, url, 30000) != 0)
            break;
        double t = wait_num(&c, "axle.paint.some(function (p) { return p[1] >= 1000; })",
                            "axle.paint.filter(function (p) { return p[1] >= 1000; })[0][0]");
        if (i > 0 && t == t)
            fp[nfp++] = t;
        json_t *d = NULL;
        if (axl_cdp_eval(&c,
                         "JSON.stringify({open: axle.openAt, msgs: axle.msgs, parse: axle.parseMs, "
                         "paint: axle.paint, nav: performance.getEntriesByType('navigation')[0]"
                         ".responseEnd})",
                         5000, &d) == 0 &&
            getenv("AXL_BENCH_VERBOSE") != NULL)
            fprintf(stderr, "first paint %.1f ms: %s\n", t, json_string_value(d));
        json_decref(d);
    }
    axl_view_server_close(v);
    if (nfp > 0)
        axl_bench_row("view.first_paint_ms", axl_bench_quantile(fp, (size_t)nfp, 0.5), "ms");

    /* Live: 400 trials of 20 ms, four at a time (~2 s); latencies of live events only. */
    fprintf(stderr, "bench_engine: view: event to screen, live campaign ...\n");
    snprintf(file, sizeof(file), "%s/live.json", root);
    snprintf(store, sizeof(store), "%s/live", root);
    experiment(file, "viewlive", 400, 0.02, 4);
    const char *live[] = {"axle",          "run",         file,    "--store", store,
                          "--no-progress", "--log-level", "error", NULL};
    pid_t pid = start_axle(live);
    const char *sub[] = {"axle", "subscribe", "--store", store, "--count", "5", NULL};
    int rc = 1;
    for (int i = 0; i < 200 && rc != 0; i++)
        if ((rc = run_axle(sub)) != 0)
            usleep(20000); /* the campaign is still creating its store */
    o.store_dir = store;
    if (rc == 0 && axl_view_server_open(&o, &v, &eb) == 0) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/", axl_view_server_port(v));
        if (axl_cdp_open(&c, url, 30000) == 0) {
            wait_num(&c,
                     "/^stopped/.test((document.getElementById('exp-state') || {}).textContent)",
                     "1");
            double n = axl_cdp_eval_num(&c, "axle.lat.length", 5000);
            double p50 = axl_cdp_eval_num(
                &c,
                "(function () { var l = axle.lat.slice().sort(function (a, b) { return a - b; });"
                " return 1000 * l[l.length >> 1]; })()",
                5000);
            fprintf(stderr, "bench_engine: view: %g live events measured\n", n);
            double arrive =
                axl_cdp_eval_num(&c,
                                 "(function () { var l = axle.arrive.slice().sort(function (a, b) "
                                 "{ return a - b; });"
                                 " return 1000 * l[l.length >> 1]; })()",
                                 5000);
            fprintf(stderr, "bench_engine: view: p50 event time -> message in the page %.1f ms\n",
                    arrive);
            if (n > 0)
                axl_bench_row("view.event_to_screen_ms_p50", p50, "ms");
        }
        axl_view_server_close(v);
    }
    int st;
    waitpid(pid, &st, 0);
    axl_cdp_stop(&c);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_engine: view: could not remove %s\n", root);
}
