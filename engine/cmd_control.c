/*
 * cmd_control.c - humans in the loop: `axle trial NAME attach|complete|fail|abandon`,
 * `axle pause|unpause NAME`, `axle stop NAME [--wait]` and `axle attach NAME FILE.csv`.
 * Each sends one control request (proto/README.md §12) to the running campaign, or makes
 * the same change in the stopped store (engine/control_client.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "engine/axl_engine.h"
#include "engine/cli.h"

#define TIMEOUT_MS 30000

static const char trial_usage[] =
    "usage: axle trial NAME attach --param NAME=VALUE... [--result METRIC=MEAN[±SEM]...]\n"
    "       axle trial NAME complete N --result METRIC=MEAN[±SEM]...\n"
    "       axle trial NAME fail N [--reason TEXT]\n"
    "       axle trial NAME abandon N [--reason TEXT]\n"
    "  options: --store DIR (default ./" AXL_DEFAULT_STORE ")\n"
    "\n"
    "Changes one trial of experiment NAME by hand, on the running campaign (through its\n"
    "control socket) or on the stopped store. attach adds a manual trial: RUNNING until\n"
    "completed, or COMPLETED at once with --result; it counts as data for the model.\n"
    "complete, fail and abandon end trial N; the runner stops it (the command runner kills\n"
    "its process). SEM may follow the mean as ±SEM or +-SEM.\n"
    "Exit: 0 done, 1 refused in the trial's state or no reply, 2 bad arguments.\n";

static const char pause_usage[] =
    "usage: axle pause NAME [--store DIR]\n"
    "       axle unpause NAME [--store DIR]\n"
    "\n"
    "pause: the campaign deploys no new trial until unpaused; running trials go on.\n"
    "unpause: it deploys again. Sent to the running campaign through its control socket;\n"
    "on a stopped store the change is recorded there (the writer lock), and `axle resume\n"
    "NAME` then starts paused (it collects the running trials, deploys nothing) until\n"
    "`axle unpause NAME` reaches it. A campaign paused and then killed resumes paused.\n"
    "Pausing a paused campaign (or unpausing a running one) changes nothing. A paused\n"
    "campaign that has reached its total of trials still ends when the last ones are in.\n"
    "Exit: 0 done, 1 no reply or the store cannot be changed, 2 bad arguments.\n";

static const char stop_usage[] =
    "usage: axle stop NAME [--wait] [--reason TEXT] [--store DIR]\n"
    "\n"
    "Stops the running campaign gracefully and returns once its engine has exited. Without\n"
    "--wait running trials are left running (`axle resume NAME` collects them); with\n"
    "--wait no new trial is deployed and the campaign stops once the running ones finish\n"
    "(Ax's wait_for_running_trials).\n";

static const char attach_usage[] =
    "usage: axle attach NAME FILE.csv [--store DIR]\n"
    "\n"
    "Records prior data as manual COMPLETED trials: a CSV in `axle export`'s layout (a\n"
    "column per parameter, a column per metric, optional METRIC_sem columns; trial_index,\n"
    "arm_name, trial_status, reason and generation_method are optional; rows whose\n"
    "trial_status is not COMPLETED are skipped). Every row is checked against the search\n"
    "space first: if any is refused (with its line number), nothing is attached.\n";

/* ---- Building requests ------------------------------------------------------------- */

typedef struct req {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} req;

static void req_begin(req *r, const char *type, const char *name, size_t extra)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&r->pk, 3 + extra);
    axl_pack_kv_uint(&r->pk, "v", AXL_PROTO_VERSION);
    axl_pack_kv_str(&r->pk, "type", type);
    axl_pack_kv_str(&r->pk, "experiment", name);
}

/* A value as typed: true/false, an integer, a number, else a string. */
static void pack_typed(msgpack_packer *pk, const char *s)
{
    char *end;
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0) {
        msgpack_pack_true(pk);
        return;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0) {
        msgpack_pack_false(pk);
        return;
    }
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*s != '\0' && *end == '\0' && errno == 0) {
        msgpack_pack_int64(pk, i);
        return;
    }
    double d = strtod(s, &end);
    if (*s != '\0' && *end == '\0' && isfinite(d)) {
        msgpack_pack_double(pk, d);
        return;
    }
    axl_pack_cstr(pk, s);
}

/* METRIC=MEAN[±SEM | +-SEM] into name (NUL-cut in place), mean, sem (NaN = none). */
static bool parse_metric(char *arg, const char **name, double *mean, double *sem)
{
    char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return false;
    *eq = '\0';
    *name = arg;
    char *v = eq + 1, *sep = strstr(v, "\xc2\xb1");
    size_t skip = 2;
    if (sep == NULL) {
        sep = strstr(v, "+-");
        skip = 2;
    }
    *sem = NAN;
    if (sep != NULL) {
        *sep = '\0';
        char *end;
        *sem = strtod(sep + skip, &end);
        if (end == sep + skip || *end != '\0' || !isfinite(*sem) || *sem < 0)
            return false;
    }
    char *end;
    *mean = strtod(v, &end);
    return end != v && *end == '\0' && isfinite(*mean);
}

static void pack_result(msgpack_packer *pk, char **metrics, size_t n)
{
    axl_pack_cstr(pk, "result");
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        double mean, sem;
        parse_metric(metrics[i], &name, &mean, &sem); /* checked before */
        axl_pack_cstr(pk, name);
        msgpack_pack_array(pk, 2);
        msgpack_pack_double(pk, mean);
        if (isnan(sem))
            msgpack_pack_nil(pk);
        else
            msgpack_pack_double(pk, sem);
    }
}

/* ---- Sending and printing ------------------------------------------------------------ */

static int exit_for(int code)
{
    switch (code) {
    case AXL_EINVAL:
    case AXL_ERANGE:
    case AXL_EMISSING:
    case AXL_ETYPE:
    case AXL_ENOENT:
    case AXL_ENOTSUP:
        return AXL_EXIT_CODE_USAGE;
    default:
        return AXL_EXIT_CODE_ERROR;
    }
}

/*
 * Sends r (freed here). On an ok reply fills *trial/status when present and returns 0;
 * otherwise prints the error and returns the exit code.
 */
static int send_req(const char *cmd, const char *store, req *r, long *trial, char *status,
                    size_t status_size, bool *running, bool quiet_errors)
{
    msgpack_sbuffer reply;
    axl_errbuf eb = {{0}};
    bool was_running = false;
    msgpack_sbuffer_init(&reply);
    int rv = axl_control_call(store, NULL, r->sb.data, r->sb.size, TIMEOUT_MS, &reply, &was_running,
                              &eb);
    msgpack_sbuffer_destroy(&r->sb);
    if (running != NULL)
        *running = was_running;
    if (rv != 0) {
        fprintf(stderr, "%s: %s\n", cmd, eb.msg[0] ? eb.msg : axl_strerror(rv));
        msgpack_sbuffer_destroy(&reply);
        return rv == AXL_ENOENT || rv == AXL_EINVAL ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    axl_msg m;
    int code = AXL_EXIT_CODE_ERROR;
    if (axl_msg_parse(&m, reply.data, reply.size, &eb) != 0) {
        fprintf(stderr, "%s: a malformed reply: %s\n", cmd, eb.msg);
        msgpack_sbuffer_destroy(&reply);
        return AXL_EXIT_CODE_ERROR;
    }
    const char *type = NULL, *s = NULL;
    size_t type_len = 0, n = 0;
    axl_obj_str(&m.root, "reply", "type", true, 32, &type, &type_len, NULL);
    if (type != NULL && type_len == 2 && memcmp(type, "ok", 2) == 0) {
        uint64_t t = 0;
        if (trial != NULL &&
            axl_obj_uint(&m.root, "reply", "trial", false, 0, UINT32_MAX, &t, NULL) == 0 &&
            axl_obj_get(&m.root, "trial") != NULL)
            *trial = (long)t;
        if (status != NULL &&
            axl_obj_str(&m.root, "reply", "status", false, 32, &s, &n, NULL) == 0 && s != NULL)
            snprintf(status, status_size, "%.*s", (int)n, s);
        code = 0;
    } else {
        const char *c = NULL, *msg = NULL;
        size_t cl = 0, ml = 0;
        axl_obj_str(&m.root, "reply", "code", false, 64, &c, &cl, NULL);
        axl_obj_str(&m.root, "reply", "msg", false, 1024, &msg, &ml, NULL);
        int err = c != NULL ? axl_err_from_name(c, cl) : AXL_EPROTO;
        if (!quiet_errors)
            fprintf(stderr, "%s: %.*s\n", cmd, (int)ml, msg != NULL ? msg : "refused");
        code = exit_for(err);
    }
    axl_msg_free(&m);
    msgpack_sbuffer_destroy(&reply);
    return code;
}

static const char *where(bool running)
{
    return running ? "the running campaign" : "the stopped store";
}

/* ---- axle trial ---------------------------------------------------------------------- */

int axl_cmd_trial(int argc, char **argv)
{
    axl_cli_setup_logging(false, "warn");
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},  {"param", required_argument, NULL, 'p'},
        {"result", required_argument, NULL, 'r'}, {"reason", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *cmd = "axle trial", *store = AXL_DEFAULT_STORE, *reason = NULL;
    char *params[AXL_MODEL_MAX_PARAMS], *metrics[AXL_PROTO_MAX_METRICS];
    size_t n_params = 0, n_metrics = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            store = optarg;
            break;
        case 'p':
            if (n_params == AXL_MODEL_MAX_PARAMS || strchr(optarg, '=') == NULL ||
                optarg[0] == '=') {
                fprintf(stderr, "%s: --param needs NAME=VALUE, not '%s'\n", cmd, optarg);
                return AXL_EXIT_CODE_USAGE;
            }
            params[n_params++] = optarg;
            break;
        case 'r': {
            const char *nm;
            double mean, sem;
            char copy[512];
            snprintf(copy, sizeof(copy), "%s", optarg);
            if (n_metrics == AXL_PROTO_MAX_METRICS || !parse_metric(copy, &nm, &mean, &sem)) {
                fprintf(stderr, "%s: --result needs METRIC=MEAN or METRIC=MEAN±SEM, not '%s'\n",
                        cmd, optarg);
                return AXL_EXIT_CODE_USAGE;
            }
            metrics[n_metrics++] = optarg;
            break;
        }
        case 'R':
            reason = optarg;
            break;
        case 'h':
            fputs(trial_usage, stdout);
            return AXL_EXIT_CODE_OK;
        default:
            fputs(trial_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (argc - optind < 2) {
        fputs(trial_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    const char *name = argv[optind], *op = argv[optind + 1];
    req r;
    bool attach = strcmp(op, "attach") == 0;
    if (attach) {
        if (argc - optind != 2 || n_params == 0 || reason != NULL) {
            fprintf(stderr, "%s: attach takes --param NAME=VALUE... [--result ...]\n", cmd);
            return AXL_EXIT_CODE_USAGE;
        }
        req_begin(&r, "trial.attach", name, 1 + (n_metrics > 0));
        axl_pack_cstr(&r.pk, "params");
        msgpack_pack_map(&r.pk, n_params);
        for (size_t i = 0; i < n_params; i++) {
            char *eq = strchr(params[i], '=');
            msgpack_pack_str(&r.pk, (size_t)(eq - params[i]));
            msgpack_pack_str_body(&r.pk, params[i], (size_t)(eq - params[i]));
            pack_typed(&r.pk, eq + 1);
        }
        if (n_metrics > 0)
            pack_result(&r.pk, metrics, n_metrics);
    } else if (strcmp(op, "complete") == 0 || strcmp(op, "fail") == 0 ||
               strcmp(op, "abandon") == 0) {
        unsigned long long idx;
        bool complete = op[0] == 'c';
        if (argc - optind != 3 || !axl_cli_parse_u64(cmd, "N", argv[optind + 2], &idx) ||
            idx > UINT32_MAX || n_params > 0 || (complete && (n_metrics == 0 || reason)) ||
            (!complete && n_metrics > 0)) {
            fprintf(stderr, "%s: %s\n", cmd,
                    complete ? "complete takes N --result METRIC=MEAN[±SEM]..."
                             : "fail and abandon take N [--reason TEXT]");
            return AXL_EXIT_CODE_USAGE;
        }
        char type[32];
        snprintf(type, sizeof(type), "trial.%s", op);
        req_begin(&r, type, name, 1 + (complete || reason != NULL));
        axl_pack_kv_uint(&r.pk, "trial", idx);
        if (complete)
            pack_result(&r.pk, metrics, n_metrics);
        else if (reason != NULL)
            axl_pack_kv_str(&r.pk, "reason", reason);
    } else {
        fprintf(stderr, "%s: unknown action '%s' (attach, complete, fail, abandon)\n", cmd, op);
        return AXL_EXIT_CODE_USAGE;
    }
    long trial = -1;
    char status[32] = "";
    bool running = false;
    int rv = send_req(cmd, store, &r, &trial, status, sizeof(status), &running, false);
    if (rv == 0)
        printf("trial %ld %s (%s)\n", trial, status, where(running));
    return rv;
}

/* ---- axle pause / unpause / stop ----------------------------------------------------- */

static int simple_args(int argc, char **argv, const char *usage, const char **store,
                       const char **name, bool *wait, const char **reason)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"wait", no_argument, NULL, 'w'},
                                             {"reason", required_argument, NULL, 'R'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            *store = optarg;
            break;
        case 'w':
        case 'R':
            if (wait == NULL)
                goto bad;
            if (ch == 'w')
                *wait = true;
            else
                *reason = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            goto bad;
        }
    }
    if (argc - optind != 1)
        goto bad;
    *name = argv[optind];
    return 0;
bad:
    fputs(usage, stderr);
    return AXL_EXIT_CODE_USAGE;
}

static int pause_common(int argc, char **argv, bool pause)
{
    axl_cli_setup_logging(false, "warn");
    const char *store = AXL_DEFAULT_STORE, *name = NULL;
    const char *cmd = pause ? "axle pause" : "axle unpause";
    int rv = simple_args(argc, argv, pause_usage, &store, &name, NULL, NULL);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    req r;
    bool running = false;
    req_begin(&r, pause ? "pause" : "unpause", name, 0);
    if ((rv = send_req(cmd, store, &r, NULL, NULL, 0, &running, false)) != 0)
        return rv;
    if (running)
        printf("%s: %s\n", name,
               pause ? "paused (running trials go on; `axle unpause` deploys again)"
                     : "deploying again");
    else
        printf("%s: %s (the stopped store)\n", name,
               pause ? "paused; `axle resume` starts it paused, `axle unpause` deploys again"
                     : "unpaused; `axle resume` deploys at once");
    return 0;
}

int axl_cmd_pause(int argc, char **argv)
{
    return pause_common(argc, argv, true);
}

int axl_cmd_unpause(int argc, char **argv)
{
    return pause_common(argc, argv, false);
}

/* Blocks until the engine that holds the store's writer lock has exited. */
static void wait_for_exit(const char *store)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/axle.lock", store);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (flock(fd, LOCK_SH) != 0 && errno == EINTR)
        ;
    close(fd);
}

int axl_cmd_stop(int argc, char **argv)
{
    axl_cli_setup_logging(false, "warn");
    const char *store = AXL_DEFAULT_STORE, *name = NULL, *reason = NULL;
    bool wait = false, running = false;
    int rv = simple_args(argc, argv, stop_usage, &store, &name, &wait, &reason);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    req r;
    req_begin(&r, "stop", name, 1 + (reason != NULL));
    axl_pack_kv_bool(&r.pk, "wait", wait);
    if (reason != NULL)
        axl_pack_kv_str(&r.pk, "reason", reason);
    rv = send_req("axle stop", store, &r, NULL, NULL, 0, &running, true);
    if (rv != 0 && !running && rv != AXL_EXIT_CODE_USAGE) {
        printf("%s: not running\n", name);
        return 0;
    }
    if (rv != 0) {
        fprintf(stderr, "axle stop: %s was not stopped\n", name);
        return rv;
    }
    if (wait)
        printf("%s: stopping once the running trials finish...\n", name);
    fflush(stdout);
    wait_for_exit(store);
    printf("%s: stopped\n", name);
    return 0;
}

/* ---- axle attach NAME FILE.csv -------------------------------------------------------- */

#define MAX_COLS (AXL_MODEL_MAX_PARAMS + 2 * AXL_PROTO_MAX_METRICS + 8)

/* Splits one CSV record (RFC 4180 quotes) of line in place; returns the field count or -1. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max)
            return -1;
        char *out = p;
        fields[n++] = out;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            if (*p != ',' && *p != '\0')
                return -1;
        } else {
            while (*p != ',' && *p != '\0')
                *out++ = *p++;
        }
        if (*p == '\0') {
            *out = '\0';
            return n;
        }
        *out = '\0';
        p++;
    }
}

enum { COL_IGNORE, COL_STATUS, COL_PARAM, COL_METRIC, COL_SEM };

int axl_cmd_attach(int argc, char **argv)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *cmd = "axle attach", *store = AXL_DEFAULT_STORE;
    int ch;
    axl_cli_setup_logging(false, "warn");
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (ch == 's') {
            store = optarg;
        } else if (ch == 'h') {
            fputs(attach_usage, stdout);
            return 0;
        } else {
            fputs(attach_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (argc - optind != 2) {
        fputs(attach_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    const char *name = argv[optind], *path = argv[optind + 1];
    axl_errbuf eb = {{0}};
    axl_store *s = NULL;
    axl_experiment *e = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    int rv = axl_store_open(store, &so, &s, &eb);
    if (rv == 0) {
        rv = axl_experiment_from_store(s, name, &e, &eb);
        axl_store_close(s);
    }
    if (rv != 0) {
        fprintf(stderr, "%s: %s\n", cmd, eb.msg);
        return rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", cmd, path, strerror(errno));
        axl_experiment_free(e);
        return AXL_EXIT_CODE_USAGE;
    }
    /* Reads every row first; nothing is sent unless all of them are good. */
    char *line = NULL, *header = NULL;
    size_t cap = 0;
    ssize_t len;
    char *fields[MAX_COLS], *hfields[MAX_COLS];
    int kind[MAX_COLS], ref[MAX_COLS], n_cols = -1, bad = 0, lineno = 0;
    char **rows = NULL;
    int *row_line = NULL;
    size_t n_rows = 0, skipped = 0;
    rv = AXL_EXIT_CODE_USAGE;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n_cols < 0) {
            header = strdup(line);
            n_cols = header != NULL ? csv_split(header, hfields, MAX_COLS) : -1;
            if (n_cols < 0) {
                fprintf(stderr, "%s:%d: a malformed header\n", path, lineno);
                goto out;
            }
            for (int c = 0; c < n_cols; c++) {
                const char *h = hfields[c];
                size_t hl = strlen(h);
                kind[c] = COL_METRIC;
                ref[c] = -1;
                if (strcmp(h, "trial_status") == 0)
                    kind[c] = COL_STATUS;
                else if (strcmp(h, "trial_index") == 0 || strcmp(h, "arm_name") == 0 ||
                         strcmp(h, "reason") == 0 || strcmp(h, "generation_method") == 0)
                    kind[c] = COL_IGNORE;
                else if ((ref[c] = axl_experiment_param_index(e, h)) >= 0)
                    kind[c] = COL_PARAM;
                else if (hl > 4 && strcmp(h + hl - 4, "_sem") == 0)
                    kind[c] = COL_SEM;
            }
            for (int c = 0; c < n_cols; c++) {
                if (kind[c] != COL_SEM)
                    continue;
                size_t hl = strlen(hfields[c]) - 4;
                for (int q = 0; q < n_cols; q++)
                    if (kind[q] == COL_METRIC && strlen(hfields[q]) == hl &&
                        strncmp(hfields[q], hfields[c], hl) == 0)
                        ref[c] = q;
                if (ref[c] < 0)
                    kind[c] = COL_METRIC; /* a metric whose name ends in _sem */
            }
            int obj = -1;
            for (int c = 0; c < n_cols; c++)
                if (kind[c] == COL_METRIC && strcmp(hfields[c], e->metric) == 0)
                    obj = c;
            if (obj < 0) {
                fprintf(stderr, "%s:%d: no column for the objective metric '%s'\n", path, lineno,
                        e->metric);
                goto out;
            }
            continue;
        }
        char *copy = strdup(line);
        int n = copy != NULL ? csv_split(copy, fields, MAX_COLS) : -1;
        if (n != n_cols) {
            fprintf(stderr, "%s:%d: %d fields, the header has %d\n", path, lineno, n, n_cols);
            free(copy);
            bad++;
            continue;
        }
        bool completed = true, row_bad = false;
        axl_param_value pv[AXL_MODEL_MAX_PARAMS];
        size_t np = 0;
        bool has_obj = false;
        for (int c = 0; c < n_cols; c++) {
            if (kind[c] == COL_STATUS && fields[c][0] != '\0' &&
                strcmp(fields[c], "COMPLETED") != 0)
                completed = false;
            if (kind[c] == COL_PARAM && fields[c][0] != '\0') {
                axl_value v = {.kind = AXL_VALUE_STR, .str = fields[c]};
                char *end;
                double d = strtod(fields[c], &end);
                if (*end == '\0' && end != fields[c]) {
                    v.kind = AXL_VALUE_NUM;
                    v.num = d;
                } else if (strcmp(fields[c], "true") == 0 || strcmp(fields[c], "True") == 0 ||
                           strcmp(fields[c], "false") == 0 || strcmp(fields[c], "False") == 0) {
                    v.kind = AXL_VALUE_BOOL;
                    v.b = fields[c][0] == 't' || fields[c][0] == 'T';
                }
                pv[np++] = (axl_param_value){hfields[c], v};
            }
            if (kind[c] == COL_METRIC || kind[c] == COL_SEM) {
                char *end;
                double d = strtod(fields[c], &end);
                if (fields[c][0] != '\0' && (*end != '\0' || !isfinite(d))) {
                    fprintf(stderr, "%s:%d: %s: '%s' is not a number\n", path, lineno, hfields[c],
                            fields[c]);
                    row_bad = true;
                    break;
                }
                has_obj = has_obj || (kind[c] == COL_METRIC && fields[c][0] != '\0' &&
                                      strcmp(hfields[c], e->metric) == 0);
            }
        }
        if (row_bad) {
            bad++;
            free(copy);
            continue;
        }
        if (!completed) {
            skipped++;
            free(copy);
            continue;
        }
        double x[AXL_MODEL_MAX_PARAMS];
        char at[64];
        snprintf(at, sizeof(at), "%s:%d", path, lineno);
        axl_errbuf peb = {{0}};
        if (axl_experiment_point(e, pv, np, at, x, &peb) != 0) {
            fprintf(stderr, "%s\n", peb.msg);
            bad++;
        } else if (!has_obj) {
            fprintf(stderr, "%s: no value for the objective metric '%s'\n", at, e->metric);
            bad++;
        } else {
            char **nr = realloc(rows, (n_rows + 1) * sizeof(*rows));
            int *nl = realloc(row_line, (n_rows + 1) * sizeof(*row_line));
            if (nr != NULL)
                rows = nr;
            if (nl != NULL)
                row_line = nl;
            if (nr == NULL || nl == NULL) {
                fprintf(stderr, "%s: out of memory\n", cmd);
                free(copy);
                rv = AXL_EXIT_CODE_ERROR;
                goto out;
            }
            rows[n_rows] = strdup(line);
            row_line[n_rows++] = lineno;
        }
        free(copy);
    }
    if (n_cols < 0) {
        fprintf(stderr, "%s: %s is empty\n", cmd, path);
        goto out;
    }
    if (bad > 0) {
        fprintf(stderr, "%s: %d rows refused; nothing attached\n", cmd, bad);
        goto out;
    }
    /* Every row is good: one request per row, in file order. */
    size_t attached = 0;
    bool running = false;
    for (size_t k = 0; k < n_rows; k++) {
        csv_split(rows[k], fields, MAX_COLS);
        size_t np = 0, nm = 0;
        for (int c = 0; c < n_cols; c++) {
            np += kind[c] == COL_PARAM && fields[c][0] != '\0';
            nm += kind[c] == COL_METRIC && fields[c][0] != '\0';
        }
        req r;
        req_begin(&r, "trial.attach", name, 2);
        axl_pack_cstr(&r.pk, "params");
        msgpack_pack_map(&r.pk, np);
        for (int c = 0; c < n_cols; c++) {
            if (kind[c] != COL_PARAM || fields[c][0] == '\0')
                continue;
            axl_pack_cstr(&r.pk, hfields[c]);
            const axl_param *p = &e->params[ref[c]];
            if (p->type == AXL_PARAM_FLOAT || p->type == AXL_PARAM_INT)
                msgpack_pack_double(&r.pk, strtod(fields[c], NULL));
            else
                pack_typed(&r.pk, fields[c]);
        }
        axl_pack_cstr(&r.pk, "result");
        msgpack_pack_map(&r.pk, nm);
        for (int c = 0; c < n_cols; c++) {
            if (kind[c] != COL_METRIC || fields[c][0] == '\0')
                continue;
            axl_pack_cstr(&r.pk, hfields[c]);
            msgpack_pack_array(&r.pk, 2);
            msgpack_pack_double(&r.pk, strtod(fields[c], NULL));
            int sem = -1;
            for (int q = 0; q < n_cols; q++)
                if (kind[q] == COL_SEM && ref[q] == c && fields[q][0] != '\0')
                    sem = q;
            if (sem >= 0)
                msgpack_pack_double(&r.pk, strtod(fields[sem], NULL));
            else
                msgpack_pack_nil(&r.pk);
        }
        char where_[64];
        snprintf(where_, sizeof(where_), "%s (%s:%d)", cmd, path, row_line[k]);
        if ((rv = send_req(where_, store, &r, NULL, NULL, 0, &running, false)) != 0) {
            fprintf(stderr, "%s: %zu of %zu rows attached before the refusal\n", cmd, attached,
                    n_rows);
            goto out;
        }
        attached++;
    }
    printf("attached %zu trials to %s (%s)", attached, name, where(running));
    if (skipped > 0)
        printf("; %zu rows skipped (not COMPLETED)", skipped);
    putchar('\n');
    rv = 0;
out:
    for (size_t k = 0; k < n_rows; k++)
        free(rows[k]);
    free(rows);
    free(row_line);
    free(line);
    free(header);
    fclose(f);
    axl_experiment_free(e);
    return rv;
}
