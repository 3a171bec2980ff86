/*
 * cmd_worker.c - `axle worker` (one lab worker process, hw/worker/axl_worker.h) and `axle lab`
 * (helpers around the simulated line: the film model's true optimum, and how close a
 * stored campaign came to it).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli.h"
#include "hw/worker/axl_net.h"
#include "engine/json_msgpack.h"
#include "engine/cmd_lab_pareto.h"
#include "hw/line/axl_film_model.h"
#include "hw/worker/axl_devcfg.h"
#include "hw/worker/axl_worker.h"
#include "proto/axl_log.h"
#include "storage/axl_store.h"

static const char worker_usage[] =
    "usage: axle worker --role ROLE --listen ADDR [options]\n"
    "\n"
    "Runs one worker of the lab line: it listens on ADDR, the engine dials in. ROLE is\n"
    "spincoater, hotplate, gripper, characterization or storage. The device is the\n"
    "simulated line (PASCAL's durations divided by --speed; the characterization\n"
    "worker writes PL spectra from the film model and fits them). Stops on SIGTERM.\n"
    "\n"
    "options:\n"
    "  --role ROLE          what the worker is (required)\n"
    "  --listen ADDR        ipc://PATH, or tcp://127.0.0.1:PORT for another host\n"
    "                       (plain TCP: no TLS; keep it on a trusted network)\n"
    "  --id ID              worker id in hello and journal name (default: ROLE)\n"
    "  --capacity N         tasks at once (default: 1; hotplate 90, storage 45)\n"
    "  --speed X            time compression (default 1 = real time; 1000 runs a 4-hour\n"
    "                       campaign in about 15 s)\n"
    "  --seed S             seed of simulated noise and failures (default 0)\n"
    "  --fail-rate P        probability that a task fails (default 0)\n"
    "  --crash-after N      SIGKILL itself half way through the (N+1)-th task\n"
    "  --hang-after N       stop responding at the (N+1)-th task\n"
    "  --data-dir DIR       task journal (DIR/workers/ID.journal) and data files\n"
    "                       (DIR/EXPERIMENT/PL/SAMPLE_pl.csv); default: no journal, data in .\n"
    "  --heartbeat-ms MS    heartbeat period (default 250)\n"
    "  --exit-when-alone S  after S seconds with no engine connected, exit once no task\n"
    "                       runs (default never)\n"
    "  --devices FILE       drive real devices: FILE holds the line's devices (the\n"
    "                       experiment's lab.line.devices object); a role it configures\n"
    "                       runs on them, any other on the simulated line\n"
    "  --pid-file PATH      removed at exit when it names this process (the engine's\n"
    "                       record of a worker it spawned)\n"
    "  --log-level LEVEL    debug, info, warn, error (default info)\n"
    "  --log-json           log as JSON lines\n" AXL_CLI_NET_USAGE
    "  -h, --help           this text\n";

static bool parse_long(const char *opt, const char *s, long *out)
{
    unsigned long long u;
    if (!axl_cli_parse_u64("axle worker", opt, s, &u) || u > 1000000000ull)
        return false;
    *out = (long)u;
    return true;
}

int axl_cmd_worker(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"role", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'L'},
        {"id", required_argument, NULL, 'i'},
        {"capacity", required_argument, NULL, 'c'},
        {"speed", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'},
        {"fail-rate", required_argument, NULL, 'f'},
        {"crash-after", required_argument, NULL, 'C'},
        {"hang-after", required_argument, NULL, 'H'},
        {"data-dir", required_argument, NULL, 'd'},
        {"heartbeat-ms", required_argument, NULL, 'b'},
        {"exit-when-alone", required_argument, NULL, 'a'},
        {"pid-file", required_argument, NULL, 'P'},
        {"devices", required_argument, NULL, 'D'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        AXL_CLI_NET_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "axle worker", *level = NULL, *devices_file = NULL;
    axl_line_devices devices;
    axl_net_opts net = {0};
    bool json = false, has_role = false;
    axl_worker_config cfg;
    axl_worker_config_default(&cfg);
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        unsigned long long u;
        long l;
        switch (ch) {
        case 'r':
            if (axl_worker_role_parse(optarg, strlen(optarg), &cfg.role) != 0) {
                fprintf(stderr,
                        "%s: --role must be spincoater, hotplate, gripper, "
                        "characterization or storage, not '%s'\n",
                        cmd, optarg);
                return AXL_EXIT_CODE_USAGE;
            }
            has_role = true;
            break;
        case 'L':
            cfg.listen = optarg;
            break;
        case 'i':
            cfg.id = optarg;
            break;
        case 'c':
            if (!axl_cli_parse_u64(cmd, "--capacity", optarg, &u) || u < 1 ||
                u > AXL_WIRE_MAX_CAPACITY) {
                fprintf(stderr, "%s: --capacity must be 1 to %d\n", cmd, AXL_WIRE_MAX_CAPACITY);
                return AXL_EXIT_CODE_USAGE;
            }
            cfg.capacity = (uint32_t)u;
            break;
        case 's':
            if (!axl_cli_parse_double(cmd, "--speed", optarg, &cfg.speed) || !(cfg.speed > 0) ||
                cfg.speed > 1e7) {
                fprintf(stderr, "%s: --speed must be above 0 (at most 1e7)\n", cmd);
                return AXL_EXIT_CODE_USAGE;
            }
            break;
        case 'S':
            if (!axl_cli_parse_u64(cmd, "--seed", optarg, &u))
                return AXL_EXIT_CODE_USAGE;
            cfg.seed = u;
            break;
        case 'f':
            if (!axl_cli_parse_double(cmd, "--fail-rate", optarg, &cfg.fail_rate) ||
                !(cfg.fail_rate >= 0 && cfg.fail_rate <= 1)) {
                fprintf(stderr, "%s: --fail-rate must be in [0, 1]\n", cmd);
                return AXL_EXIT_CODE_USAGE;
            }
            break;
        case 'C':
        case 'H':
            if (!parse_long(ch == 'C' ? "--crash-after" : "--hang-after", optarg, &l))
                return AXL_EXIT_CODE_USAGE;
            *(ch == 'C' ? &cfg.crash_after : &cfg.hang_after) = l;
            break;
        case 'd':
            cfg.data_dir = optarg;
            break;
        case 'b':
            if (!axl_cli_parse_u64(cmd, "--heartbeat-ms", optarg, &u) || u < 1 || u > 3600000) {
                fprintf(stderr, "%s: --heartbeat-ms must be 1 to 3600000\n", cmd);
                return AXL_EXIT_CODE_USAGE;
            }
            cfg.heartbeat_ms = (unsigned)u;
            break;
        case 'a':
            if (!axl_cli_parse_double(cmd, "--exit-when-alone", optarg, &cfg.exit_when_alone_s) ||
                cfg.exit_when_alone_s < 0)
                return AXL_EXIT_CODE_USAGE;
            break;
        case 'P':
            cfg.pid_file = optarg;
            break;
        case 'D':
            devices_file = optarg;
            break;
        case 'l':
            level = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(worker_usage, stdout);
            return AXL_EXIT_CODE_OK;
        default:
            if (axl_cli_net_option(ch, optarg, &net))
                break;
            fputs(worker_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (!has_role || cfg.listen == NULL || optind != argc) {
        fprintf(stderr, "%s: --role and --listen are required (see --help)\n", cmd);
        return AXL_EXIT_CODE_USAGE;
    }
    axl_cli_setup_logging(json, level);
    axl_cli_net_apply(&net);
    axl_errbuf eb = {{0}};
    if (devices_file != NULL) {
        int drv = axl_devcfg_load(devices_file, &devices, &eb);
        if (drv != 0) {
            fprintf(stderr, "%s: --devices %s: %s\n", cmd, devices_file, eb.msg);
            return AXL_EXIT_CODE_USAGE;
        }
        cfg.devices = &devices;
    }
    int rv = axl_worker_run(&cfg, &eb);
    if (rv != 0) {
        fprintf(stderr, "%s: %s\n", cmd, eb.msg[0] ? eb.msg : axl_strerror(rv));
        return rv == AXL_EINVAL ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    return AXL_EXIT_CODE_OK;
}

/* ---- axle lab ------------------------------------------------------------------------ */

static const char lab_usage[] =
    "usage: axle lab optimum\n"
    "       axle lab score NAME [--store DIR]\n"
    "       axle lab pareto NAME [--store DIR]\n"
    "\n"
    "The simulated line's film model knows the best recipe. `optimum` prints it and its\n"
    "PL intensity; `score` finds the stored campaign's best completed trial and prints its\n"
    "recipe, its measured intensity, the model's noise-free intensity at that recipe and\n"
    "that as a fraction of the optimum (the film model's four inputs are read from the\n"
    "parameters antisolvent_volume, antisolvent_rate, antisolvent_timing,\n"
    "anneal_duration). `pareto` (two objectives with thresholds) prints the campaign's\n"
    "Pareto front beside the film model's true one and both hypervolumes.\n";

static void print_inputs(const char *label, const axl_film_inputs *x, double intensity)
{
    printf("%s antisolvent_volume=%.4g antisolvent_rate=%.4g antisolvent_timing=%.4g "
           "anneal_duration=%.5g -> PL intensity %.6g counts/s\n",
           label, x->antisolvent_volume, x->antisolvent_rate, x->antisolvent_timing,
           x->anneal_duration, intensity);
}

static bool param_of(const axl_trial_rec *t, const char *name, double *out)
{
    for (uint32_t i = 0; i < t->n_params; i++) {
        const axl_value *v = &t->params[i].value;
        if (strcmp(t->params[i].name, name) != 0)
            continue;
        if (v->kind == AXL_VALUE_NUM)
            *out = v->num;
        else if (v->kind == AXL_VALUE_INT)
            *out = (double)v->i;
        else
            return false;
        return true;
    }
    return false;
}

/* The objective (metric, direction) from the stored experiment record. */
static int stored_objective(const axl_store_experiment *se, char *metric, size_t size,
                            bool *minimize)
{
    axl_msg m;
    if (axl_msg_parse(&m, se->experiment, se->experiment_len, NULL) != 0)
        return AXL_ECORRUPT;
    const msgpack_object *config = axl_obj_get(&m.root, "config");
    json_t *j = config != NULL ? axl_msgpack_to_json(config) : NULL;
    axl_msg_free(&m);
    json_t *obj = json_object_get(j, "objective");
    const char *name = json_string_value(json_object_get(obj, "metric"));
    int rv = name != NULL ? 0 : AXL_ECORRUPT;
    if (name != NULL) {
        snprintf(metric, size, "%s", name);
        *minimize = json_is_true(json_object_get(obj, "minimize"));
    }
    json_decref(j);
    return rv;
}

static int lab_score(const char *name, const char *store_dir)
{
    axl_store *s = NULL;
    axl_store_experiment *se = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    axl_errbuf eb = {{0}};
    char metric[AXL_PROTO_MAX_NAME + 1];
    bool minimize = false;
    int code = AXL_EXIT_CODE_ERROR;
    if (axl_store_open(store_dir, &so, &s, &eb) != 0 || axl_store_load(s, name, &se, &eb) != 0) {
        fprintf(stderr, "axle lab score: %s\n", eb.msg);
        goto out;
    }
    if (stored_objective(se, metric, sizeof(metric), &minimize) != 0) {
        fprintf(stderr, "axle lab score: the stored experiment has no objective\n");
        goto out;
    }
    const axl_trial_rec *best = NULL;
    double best_y = NAN;
    for (size_t i = 0; i < se->n_trials; i++) {
        const axl_trial_rec *t = &se->trials[i];
        if (t->status != AXL_TRIAL_COMPLETED)
            continue;
        for (uint32_t k = 0; k < t->n_metrics; k++)
            if (strcmp(t->metrics[k].name, metric) == 0 && isfinite(t->metrics[k].mean) &&
                (best == NULL ||
                 (minimize ? t->metrics[k].mean < best_y : t->metrics[k].mean > best_y))) {
                best = t;
                best_y = t->metrics[k].mean;
            }
    }
    if (best == NULL) {
        fprintf(stderr, "axle lab score: %s has no completed trial with %s\n", name, metric);
        goto out;
    }
    axl_film_model fm;
    axl_film_inputs x, opt;
    axl_film_model_default(&fm);
    double top = axl_film_optimum(&fm, &opt);
    if (!param_of(best, "antisolvent_volume", &x.antisolvent_volume) ||
        !param_of(best, "antisolvent_rate", &x.antisolvent_rate) ||
        !param_of(best, "antisolvent_timing", &x.antisolvent_timing) ||
        !param_of(best, "anneal_duration", &x.anneal_duration)) {
        fprintf(stderr, "axle lab score: trial %u lacks the film model's four parameters\n",
                best->index);
        goto out;
    }
    double truth = axl_film_intensity(&fm, &x);
    printf("best found:   trial %u, measured %s = %.6g\n", best->index, metric, best_y);
    print_inputs("  recipe:    ", &x, truth);
    print_inputs("true optimum:", &opt, top);
    printf("fraction of the optimum: %.4f (noise-free model at the best recipe / optimum)\n",
           truth / top);
    code = AXL_EXIT_CODE_OK;
out:
    axl_store_experiment_free(se);
    axl_store_close(s);
    return code;
}

int axl_cmd_lab(int argc, char **argv)
{
    if (argc < 2 || axl_cli_is_help(argv[1])) {
        fputs(lab_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_OK;
    }
    if (strcmp(argv[1], "optimum") == 0 && argc == 2) {
        axl_film_model fm;
        axl_film_inputs x;
        axl_film_model_default(&fm);
        double top = axl_film_optimum(&fm, &x);
        print_inputs("true optimum:", &x, top);
        return AXL_EXIT_CODE_OK;
    }
    if ((strcmp(argv[1], "score") == 0 || strcmp(argv[1], "pareto") == 0) && argc >= 3) {
        const char *store = AXL_DEFAULT_STORE;
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
                store = argv[++i];
            } else {
                fputs(lab_usage, stderr);
                return AXL_EXIT_CODE_USAGE;
            }
        }
        return strcmp(argv[1], "pareto") == 0 ? axl_lab_pareto(argv[2], store)
                                              : lab_score(argv[2], store);
    }
    fputs(lab_usage, stderr);
    return AXL_EXIT_CODE_USAGE;
}
