/* cmd_view.c - `axle serve` (the live page) and `axle report` (one HTML file). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/cli.h"
#include "engine/view/view.h"

static const char serve_usage[] =
    "usage: axle serve [--store DIR] [--http HOST:PORT] [--wait-for-store]\n"
    "\n"
    "Serves a read-only web view of every campaign in the store at http://HOST:PORT/\n"
    "(default 127.0.0.1:8080; port 0 picks a free one): the trial table, the optimization\n"
    "trace, one panel per parameter, the model's diagnostics and, for lab campaigns, the\n"
    "line's Gantt chart, labware and PL spectra. Live while a campaign runs: the page\n"
    "follows the event log over a WebSocket. Loopback addresses only. Ctrl-C stops.\n"
    "--wait-for-store serves before a campaign has created the store (axle run --http).\n";

int axl_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'}, {"http", required_argument, NULL, 'H'},
        {"pub", required_argument, NULL, 'p'},   {"wait-for-store", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    axl_view_options o = {.store_dir = AXL_DEFAULT_STORE, .http = "127.0.0.1:8080"};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            o.store_dir = optarg;
            break;
        case 'H':
            o.http = optarg;
            break;
        case 'p':
            o.pub_addr = optarg;
            break;
        case 'w':
            o.wait_for_store = true;
            break;
        case 'h':
            fputs(serve_usage, stdout);
            return AXL_EXIT_CODE_OK;
        default:
            fputs(serve_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (optind != argc) {
        fputs(serve_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    axl_errbuf eb = {{0}};
    char host[256];
    unsigned port;
    int rv = axl_view_check_addr(o.http, host, sizeof(host), &port, &eb);
    if (rv != 0) {
        fprintf(stderr, "axle serve: %s\n", eb.msg);
        return AXL_EXIT_CODE_USAGE;
    }
    /* Signals go to this thread only (sigwait), never to nng's threads. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    axl_view_server *v = NULL;
    if ((rv = axl_view_server_open(&o, &v, &eb)) != 0) {
        fprintf(stderr, "axle serve: %s\n", eb.msg);
        return AXL_EXIT_CODE_ERROR;
    }
    bool v6 = strchr(host, ':') != NULL;
    printf(v6 ? "axle serve: http://[%s]:%u/ (store %s; Ctrl-C stops)\n"
              : "axle serve: http://%s:%u/ (store %s; Ctrl-C stops)\n",
           host, axl_view_server_port(v), o.store_dir);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    /* A clean close, but never a hung exit: libnng 1.5.2 can deadlock closing a socket
     * (hw/README.md, "nng notes"); the process ends either way. */
    alarm(3);
    /* The campaign may have just ended (axle run --http stops this child then): its last
     * events reach every page first. */
    axl_view_server_drain(v, 1.5);
    axl_view_server_close(v);
    return AXL_EXIT_CODE_OK;
}

static const char report_usage[] =
    "usage: axle report NAME [--store DIR] [-o FILE]\n"
    "\n"
    "Writes one self-contained HTML file (default NAME.html) with the campaign's plots:\n"
    "data, script and style inline, so it opens from disk with no network.\n";

int axl_cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *store = AXL_DEFAULT_STORE, *out = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            store = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            fputs(report_usage, stdout);
            return AXL_EXIT_CODE_OK;
        default:
            fputs(report_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fputs(report_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    const char *name = argv[optind];
    char def[300];
    if (out == NULL) {
        snprintf(def, sizeof(def), "%s.html", name);
        out = def;
    }
    axl_errbuf eb = {{0}};
    size_t bytes = 0;
    int rv = axl_view_report_write(store, name, out, &bytes, &eb);
    if (rv != 0) {
        fprintf(stderr, "axle report: %s\n", eb.msg);
        return rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    printf("axle report: %s (%zu bytes)\n", out, bytes);
    return AXL_EXIT_CODE_OK;
}

int axl_view_child_start(const char *store_dir, const char *http, const char *pub_addr, int *pid,
                         axl_errbuf *eb)
{
    char host[256];
    unsigned port;
    *pid = -1;
    int rv = axl_view_check_addr(http, host, sizeof(host), &port, eb);
    if (rv != 0)
        return rv;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0)
        return axl_fail(eb, AXL_EIO, "cannot start the web view: fork failed");
    if (child == 0) {
        /* The view ends with the campaign, however the campaign ends. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(0);
        const char *argv[10] = {"axle",   "serve", "--store",         store_dir,
                                "--http", http,    "--wait-for-store"};
        int n = 7;
        if (pub_addr != NULL) {
            argv[n++] = "--pub";
            argv[n++] = pub_addr;
        }
        argv[n] = NULL;
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    *pid = child;
    return 0;
}

void axl_view_child_stop(int pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    /* It closes within its own 3 s alarm; past 4 s it is killed. */
    for (int i = 0; i < 400; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
