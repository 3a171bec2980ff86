/* cmd_run.c - `axle run FILE` and `axle resume NAME`. */
#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/axl_engine.h"
#include "engine/cli.h"
#include "engine/notify.h"
#include "engine/view/view.h"
#include "hw/worker/axl_net.h"
#include "proto/axl_log.h"

static const char run_usage[] =
    "usage: axle run FILE [options]\n"
    "       axle resume NAME [options]\n"
    "\n"
    "Runs a campaign until it reaches its total of trials, its timeout, its failure-rate\n"
    "limit or an interrupt. Every change is committed to the store before it is acted on,\n"
    "so a campaign stopped in any way continues with `axle resume NAME`.\n"
    "\n"
    "options:\n"
    "  --store DIR          the store directory (default ./" AXL_DEFAULT_STORE "; `run`\n"
    "                       creates it)\n"
    "  --max-trials N       total trials of the experiment, failed ones included\n"
    "                       (default: scheduler.total_trials of the file)\n"
    "  --timeout-hours H    stop after H hours (0 runs nothing)\n"
    "  --nosync             do not fsync commits (faster; power loss may lose the last)\n"
    "  --no-stream          no event stream and replay service\n"
    "  --pub ADDR           event stream address (default ipc://STORE/events.pub)\n"
    "  --replay ADDR        replay service address (default ipc://STORE/replay.rep)\n"
    "  --http HOST:PORT     also serve the live web view there (axle serve; loopback)\n"
    "  --progress           one live progress line instead of log lines (default on a\n"
    "                       terminal)\n"
    "  --no-progress        log lines even on a terminal\n"
    "  --stop-workers       on a stop (interrupt, timeout, failure rate) also stop the lab\n"
    "                       workers this run spawned; by default they finish the tasks they\n"
    "                       started and `axle resume` adopts them\n"
    "  --log-level LEVEL    debug, info, warn, error (default info)\n"
    "  --log-json           log as JSON lines\n" AXL_CLI_NET_USAGE
    "  -h, --help           this text\n";

/* A new store directory is 0700 (0770 and the group's with --group), whatever the umask;
 * an existing one keeps its mode (the store's files are 0600/0660 in any case). */
static int ensure_dir(const char *dir, const char *group)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    mode_t mode = group != NULL ? 0770 : 0700;
    if (mkdir(dir, mode) != 0 || chmod(dir, mode) != 0)
        return errno;
    if (group != NULL) {
        struct group *g = getgrnam(group);
        if (g == NULL)
            return EINVAL;
        if (chown(dir, (uid_t)-1, g->gr_gid) != 0)
            return errno;
    }
    return 0;
}

static int run_common(int argc, char **argv, bool resume)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"max-trials", required_argument, NULL, 'm'},
        {"timeout-hours", required_argument, NULL, 't'},
        {"nosync", no_argument, NULL, 'n'},
        {"no-stream", no_argument, NULL, 'N'},
        {"pub", required_argument, NULL, 'p'},
        {"replay", required_argument, NULL, 'r'},
        {"http", required_argument, NULL, 'H'},
        {"progress", no_argument, NULL, 'P'},
        {"no-progress", no_argument, NULL, 'Q'},
        {"stop-workers", no_argument, NULL, 'W'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        AXL_CLI_NET_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = resume ? "axle resume" : "axle run";
    axl_net_opts net = {0};
    const char *store = AXL_DEFAULT_STORE, *level = NULL, *http = NULL;
    bool nosync = false, json = false;
    int progress = -1;
    axl_campaign_options opt;
    axl_campaign_options_default(&opt);
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        unsigned long long u;
        switch (ch) {
        case 's':
            store = optarg;
            break;
        case 'm':
            if (!axl_cli_parse_u64(cmd, "--max-trials", optarg, &u) || u > 10000000) {
                fprintf(stderr, "%s: --max-trials must be 0 to 10000000\n", cmd);
                return AXL_EXIT_CODE_USAGE;
            }
            opt.max_trials = (int)u;
            break;
        case 't':
            if (!axl_cli_parse_double(cmd, "--timeout-hours", optarg, &opt.timeout_hours) ||
                opt.timeout_hours < 0)
                return AXL_EXIT_CODE_USAGE;
            break;
        case 'n':
            nosync = true;
            break;
        case 'N':
            opt.stream = false;
            break;
        case 'p':
            opt.pub_addr = optarg;
            break;
        case 'r':
            opt.replay_addr = optarg;
            break;
        case 'H':
            http = optarg;
            break;
        case 'P':
            progress = 1;
            break;
        case 'Q':
            progress = 0;
            break;
        case 'W':
            opt.stop_workers = true;
            break;
        case 'l':
            level = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return AXL_EXIT_CODE_OK;
        default:
            if (axl_cli_net_option(ch, optarg, &net))
                break;
            fputs(run_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "%s: expected one %s (see --help)\n", cmd,
                resume ? "experiment NAME" : "experiment FILE");
        return AXL_EXIT_CODE_USAGE;
    }
    const char *target = argv[optind];
    if (progress < 0)
        progress = isatty(STDERR_FILENO) && !json;
    opt.progress = progress;
    axl_cli_setup_logging(json, level != NULL ? level : (progress ? "warn" : "info"));
    if (net.group != NULL && getgrnam(net.group) == NULL) {
        fprintf(stderr, "%s: --group: no group '%s'\n", cmd, net.group);
        return AXL_EXIT_CODE_USAGE;
    }
    axl_cli_net_apply(&net);
    opt.group = net.group;
    axl_errbuf eb = {{0}};
    if (!resume) {
        /* the whole file first: nothing is created for a bad one */
        int rv = axl_engine_check_file(target, &eb);
        if (rv != 0) {
            fprintf(stderr, "%s: %s\n", cmd, eb.msg[0] ? eb.msg : axl_strerror(rv));
            return rv == AXL_ECONFIG || rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE
                                                         : AXL_EXIT_CODE_ERROR;
        }
        int err = ensure_dir(store, net.group);
        if (err != 0) {
            fprintf(stderr, "%s: cannot use store directory %s: %s\n", cmd, store, strerror(err));
            return AXL_EXIT_CODE_ERROR;
        }
    }

    axl_notify_init();
    axl_campaign_result res;
    int view = -1; /* `axle serve` as a child process (engine/view) */
    if (http != NULL && axl_view_child_start(store, http, opt.pub_addr, &view, &eb) != 0) {
        fprintf(stderr, "%s: --http: %s\n", cmd, eb.msg);
        return AXL_EXIT_CODE_USAGE;
    }
    int rv = axl_engine_run(resume ? NULL : target, resume ? target : NULL, store, nosync, &opt,
                            &res, &eb);
    axl_view_child_stop(view);
    if (rv != 0) {
        fprintf(stderr, "%s: %s\n", cmd, eb.msg[0] ? eb.msg : axl_strerror(rv));
        return rv == AXL_ECONFIG || rv == AXL_EEXIST || rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE
                                                                         : AXL_EXIT_CODE_ERROR;
    }
    printf("%s: %s (%s): %u trials, %u completed, %u failed, %u abandoned, %u still pending\n",
           target, axl_exit_status_name(res.exit_status), res.reason, res.n_trials, res.n_completed,
           res.n_failed, res.n_abandoned, res.n_running);
    if (res.has_model_best)
        printf("model best: trial %u, %s = %.6g ± %.3g (observed %.6g) at %s\n",
               res.model_best_trial, res.metric, res.model_best_mean, res.model_best_sd,
               res.model_best_observed, res.model_best_params);
    if (res.has_best)
        printf("%s: trial %u, %s = %.6g at %s\n", res.has_model_best ? "raw best" : "best",
               res.best_trial, res.metric, res.best_value, res.best_params);
    return axl_exit_status_code(res.exit_status);
}

int axl_cmd_run(int argc, char **argv)
{
    return run_common(argc, argv, false);
}

int axl_cmd_resume(int argc, char **argv)
{
    return run_common(argc, argv, true);
}
