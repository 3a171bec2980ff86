/*
 * test_cli.c - every `axle` command as users type it: the real binary, its output and its
 * exit code, for the paths people hit (help, bad arguments, missing stores, wrong names,
 * each output format) on a store made by a real campaign. One table, one row per command
 * line; `@` in a row stands for the test's directory.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine_testlib.h"
#include "test/common/spawn.h"

#ifndef AXLE_BIN
#error "AXLE_BIN must name the axle binary"
#endif

static char *dir;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

/* Replaces every '@' of s with the test directory. */
static char *expand(const char *s)
{
    size_t n = strlen(s) + 1, d = strlen(dir);
    for (const char *p = s; *p; p++)
        n += *p == '@' ? d : 0;
    char *out = malloc(n), *o = out;
    for (const char *p = s; *p; p++) {
        if (*p == '@') {
            memcpy(o, dir, d);
            o += d;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* Runs `axle` with args split at '|'; returns its exit code, *out and *err its output. */
static int run(const char *args, char **out, char **err)
{
    char *line = expand(args);
    const char *argv[40] = {"axle"};
    int n = 1;
    for (char *tok = strtok(line, "|"); tok != NULL && n < 39; tok = strtok(NULL, "|"))
        argv[n++] = tok;
    argv[n] = NULL;
    char o[600], e[600];
    snprintf(o, sizeof(o), "%s/cli.out", dir);
    snprintf(e, sizeof(e), "%s/cli.err", dir);
    pid_t pid = axl_test_spawn(AXLE_BIN, argv, o, e, false);
    assert_true(pid >= 0);
    int status = 0, rc = -1;
    for (int i = 0; i < 6000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    *out = slurp(o);
    *err = slurp(e);
    free(line);
    return rc;
}

typedef struct row {
    const char *args; /* '|'-separated, '@' = the test directory */
    int rc;
    const char *out; /* a substring of stdout, or NULL */
    const char *err; /* a substring of stderr, or NULL */
} row;

static void check_rows(const row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *out, *err;
        int rc = run(rows[i].args, &out, &err);
        char *want_out = rows[i].out ? expand(rows[i].out) : NULL;
        char *want_err = rows[i].err ? expand(rows[i].err) : NULL;
        if (rc != rows[i].rc || (want_out && !strstr(out, want_out)) ||
            (want_err && !strstr(err, want_err))) {
            print_error("axle %s\n  exit %d (want %d)\n  stdout: %.600s\n  stderr: %.600s\n",
                        rows[i].args, rc, rows[i].rc, out, err);
            fail();
        }
        free(want_out);
        free(want_err);
        free(out);
        free(err);
    }
}

static const char branin[] =
    "{\"name\": \"%s\", \"search_space\": {\"parameters\": ["
    "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
    "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]},"
    "{\"name\": \"n\", \"type\": \"range\", \"value_type\": \"int\", \"bounds\": [1, 9]},"
    "{\"name\": \"ok\", \"type\": \"choice\", \"values\": [true, false]},"
    "{\"name\": \"t\", \"type\": \"fixed\", \"value\": 100}]},"
    "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
    "\"scheduler\": {\"total_trials\": %d, \"max_pending_trials\": 1},"
    "\"runner\": {\"type\": \"command\", \"argv\": [\"%s/eval.sh\", \"{x1}\", \"{trial}\"]}}";

static int setup(void **state)
{
    (void)state;
    dir = et_mkdtemp();
    char json[2048], sh[600];
    /* Trial 2 fails; the others report x1 as the objective. */
    free(et_write_file(dir, "eval.sh",
                       "#!/bin/sh\n[ \"$2\" = 2 ] && { echo broken >&2; exit 3; }\n"
                       "echo \"{\\\"branin\\\": $1}\"\n"));
    snprintf(sh, sizeof(sh), "%s/eval.sh", dir);
    chmod(sh, 0755);
    snprintf(json, sizeof(json), branin, "done", 7, dir);
    free(et_write_file(dir, "done.json", json));
    snprintf(json, sizeof(json), branin, "other", 3, dir);
    free(et_write_file(dir, "other.json", json));
    free(et_write_file(dir, "broken.json", "{\"name\": \"broken\""));
    free(et_write_file(dir, "not_a_dir", "x"));
    char garbage[600];
    snprintf(garbage, sizeof(garbage), "%s/garbage", dir);
    assert_int_equal(mkdir(garbage, 0755), 0);
    free(et_write_file(garbage, "data.mdb", "this is not an LMDB file, not even close to one"));
    char store[600];
    snprintf(store, sizeof(store), "%s/store", dir);
    assert_int_equal(mkdir(store, 0755), 0);
    /* The film model's inputs, for `axle lab score`. */
    free(et_write_file(dir, "pl.sh", "#!/bin/sh\necho \"{\\\"pl\\\": $1}\"\n"));
    snprintf(sh, sizeof(sh), "%s/pl.sh", dir);
    chmod(sh, 0755);
    snprintf(json, sizeof(json),
             "{\"name\": \"film\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"antisolvent_volume\", \"type\": \"range\", \"bounds\": [20, 200]},"
             "{\"name\": \"antisolvent_rate\", \"type\": \"range\", \"bounds\": [5, 100]},"
             "{\"name\": \"antisolvent_timing\", \"type\": \"range\", \"bounds\": [0, 30]},"
             "{\"name\": \"anneal_duration\", \"type\": \"range\", \"bounds\": [60, 3600]}]},"
             "\"objective\": {\"metric\": \"pl\", \"minimize\": false},"
             "\"scheduler\": {\"total_trials\": 3},"
             "\"runner\": {\"type\": \"command\", \"argv\": [\"%s\", \"{antisolvent_rate}\"]}}",
             sh);
    free(et_write_file(dir, "film.json", json));
    free(et_write_file(dir, "two.sh",
                       "#!/bin/sh\necho \"{\\\"redplspec_intensity\\\": $1, "
                       "\\\"pl_fwhm_ev\\\": 0.1}\"\n"));
    snprintf(sh, sizeof(sh), "%s/two.sh", dir);
    chmod(sh, 0755);
    snprintf(json, sizeof(json),
             "{\"name\": \"pareto\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"antisolvent_volume\", \"type\": \"range\", \"bounds\": [30, 150]},"
             "{\"name\": \"antisolvent_rate\", \"type\": \"range\", \"bounds\": [30, 150]},"
             "{\"name\": \"antisolvent_timing\", \"type\": \"range\", \"bounds\": [-30, -5]},"
             "{\"name\": \"anneal_duration\", \"type\": \"range\", \"bounds\": [900, 3600]}]},"
             "\"objectives\": [{\"metric\": \"redplspec_intensity\", \"minimize\": false, "
             "\"threshold\": 20}, {\"metric\": \"pl_fwhm_ev\", \"minimize\": true, "
             "\"threshold\": 0.2}],"
             "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1}]},"
             "\"scheduler\": {\"total_trials\": 4},"
             "\"runner\": {\"type\": \"command\", \"argv\": [\"%s\", \"{antisolvent_rate}\"]}}",
             sh);
    free(et_write_file(dir, "pareto.json", json));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    et_rmtree(dir);
    free(dir);
    return 0;
}

static void test_run_and_resume(void **state)
{
    (void)state;
    static const row rows[] = {
        {"--help", 0, "usage: axle COMMAND", NULL},
        {"", 2, NULL, "usage: axle COMMAND"},
        {"--version", 0, "axle ", NULL},
        {"frobnicate", 2, NULL, "unknown command 'frobnicate'"},
        {"run|--help", 0, "usage: axle run FILE", NULL},
        {"run", 2, NULL, "expected one experiment FILE"},
        {"run|--bogus|@/done.json", 2, NULL, "usage: axle run"},
        {"run|@/done.json|--max-trials|x", 2, NULL, "--max-trials"},
        {"run|@/done.json|--timeout-hours|-1", 2, NULL, NULL},
        {"run|@/missing.json|--store|@/store", 2, NULL, "missing.json"},
        {"run|@/broken.json|--store|@/store", 2, NULL, "broken.json"},
        {"run|@/done.json|--store|@/not_a_dir", 1, NULL, "cannot use store directory"},
        {"run|@/done.json|--store|@/store|--no-progress|--log-level|warn", 0,
         "done.json: completed (reached the total of 7 trials): 7 trials, 6 completed, 1 "
         "failed",
         NULL},
        {"run|@/done.json|--store|@/store", 2, NULL, "already exists"},
        {"run|@/other.json|--store|@/store|--nosync|--no-stream|--log-json|--max-trials|0", 0,
         "other.json: completed (reached the total of 0 trials)", "\"level\":\"info\""},
        {"resume|other|--store|@/store|--timeout-hours|0|--no-progress", 4, "other: timeout", NULL},
        {"resume|other|--store|@/store|--progress|--max-trials|2", 0, "2 trials", "other: 2/2"},
        {"resume|nosuch|--store|@/store", 2, NULL, "nosuch"},
        {"resume|other|--store|@/nostore", 2, NULL, NULL},
        {"resume|other|--store|@/store|--pub|ipc://@/p.pub|--replay|ipc://@/r.rep|--max-trials|"
         "3|--log-level|nonsense",
         0, "3 trials", "unknown log level"},
    };
    check_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_inspect_and_export(void **state)
{
    (void)state;
    static const row rows[] = {
        {"status|--help", 0, "usage: axle status", NULL},
        {"status|--store|@/store", 0, "done ", NULL},
        {"status|done|--store|@/store", 0, "best (raw):   trial ", NULL},
        {"status|done|--store|@/store", 0, "last event: #", NULL},
        {"status|done|--store|@/store", 0, "FAILED", NULL},
        {"status|nosuch|--store|@/store", 2, NULL, "nosuch"},
        {"status|--store|@/nostore", 2, NULL, NULL},
        {"status|a|b|--store|@/store", 2, NULL, "usage"},
        {"status|--bogus", 2, NULL, "usage"},
        {"export|--help", 0, "usage: axle export", NULL},
        {"export|--store|@/store", 2, NULL, "usage"},
        {"export|--bogus|done", 2, NULL, "usage"},
        {"export|nosuch|--store|@/store", 2, NULL, "nosuch"},
        {"export|done|--store|@/nostore", 2, NULL, NULL},
        {"export|done|--store|@/store", 0,
         "trial_index,arm_name,trial_status,reason,generation_method,x1,x2,n,ok,t,branin\n0,0_0,"
         "COMPLETED,,Sobol,",
         NULL},
        {"export|done|--csv|--sem|--store|@/store", 0, ",t,branin,branin_sem\n", NULL},
        {"export|done|--json|--store|@/store", 0, "\"trial_status\": \"FAILED\"", NULL},
        {"export|done|--json|--store|@/store", 0, "\"ok\": ", NULL},
        {"export|done|--json|--store|@/store", 0, "\"t\": 100", NULL},
        {"best|--help", 0, "usage: axle best", NULL},
        {"best|--bogus", 2, NULL, "usage"},
        {"best|done|--store|@/store", 0, "best (model): trial ", NULL},
        {"best|done|--json|--store|@/store", 0, "\"model\": {\"trial\": ", NULL},
        {"best|done|--store|@/nostore", 2, NULL, NULL},
        {"replay|--help", 0, "usage: axle replay", NULL},
        {"replay|--store|@/store|--from|2|--to|3", 0, "experiment.started done", NULL},
        {"replay|--store|@/store|--json|--to|1", 0, "{\"v\":1,\"seq\":1,\"time\":", NULL},
        {"replay|--store|@/store|--from|x", 2, NULL, "--from"},
        {"replay|--store|@/store|--to|x", 2, NULL, "--to"},
        {"replay|--store|@/store|extra", 2, NULL, "usage"},
        {"replay|--bogus", 2, NULL, "usage"},
        {"replay|--store|@/nostore", 2, NULL, NULL},
        {"verify|--help", 0, "usage: axle verify", NULL},
        {"verify|--store|@/store", 0, "intact", NULL},
        {"verify|--upgrade|--timeout|60|--store|@/store", 0, "intact", NULL},
        {"verify|--timeout|x", 2, NULL, "usage: axle verify"},
        {"verify|--bogus", 2, NULL, "usage: axle verify"},
        {"verify|extra", 2, NULL, "usage: axle verify"},
        {"verify|--store|@/nostore", 2, NULL, NULL},
        {"verify|--store|@/garbage", 1, NULL, NULL},
    };
    check_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_control_commands(void **state)
{
    (void)state;
    static const row rows[] = {
        {"trial|--help", 0, "usage: axle trial NAME attach", NULL},
        {"trial|done", 2, NULL, "usage: axle trial"},
        {"trial|--bogus", 2, NULL, "usage: axle trial"},
        {"trial|done|frob|--store|@/store", 2, NULL, "unknown action 'frob'"},
        {"trial|done|attach|--store|@/store", 2, NULL, "attach takes --param"},
        {"trial|done|attach|--param|x1|--store|@/store", 2, NULL, "--param needs NAME=VALUE"},
        {"trial|done|attach|--param|x1=1|--result|b=x|--store|@/store", 2, NULL,
         "--result needs METRIC=MEAN"},
        {"trial|done|attach|--param|x1=1|--result|b=1±-1|--store|@/store", 2, NULL,
         "--result needs"},
        {"trial|done|complete|0|--store|@/store", 2, NULL, "complete takes N --result"},
        {"trial|done|fail|x|--store|@/store", 2, NULL, NULL},
        {"trial|done|fail|1|--result|branin=1|--store|@/store", 2, NULL, "fail and abandon"},
        {"trial|done|attach|--param|x1=1|--param|x2=2|--param|n=3|--param|ok=true|--store|@/"
         "store",
         0, "trial 7 RUNNING (the stopped store)", NULL},
        {"trial|done|attach|--param|x1=1|--param|x2=2|--param|n=2.5|--param|ok=true|--store|@/"
         "store",
         2, NULL, "n = 2.5 is not an integer"},
        {"trial|done|attach|--param|x1=1|--param|x2=2|--param|n=3|--param|ok=maybe|--store|@/"
         "store",
         2, NULL, "'maybe' is not a value of parameter 'ok'"},
        {"trial|done|attach|--param|x1=1|--param|x2=2|--param|n=3|--param|ok=true|--param|t=5|"
         "--store|@/store",
         2, NULL, "t is fixed at another value"},
        {"trial|done|attach|--param|x1=1|--param|x2=2|--param|n=3|--param|ok=false|--param|z=1|"
         "--store|@/store",
         2, NULL, "unknown parameter 'z'"},
        {"trial|done|attach|--param|x1=1|--param|x1=2|--store|@/store", 2, NULL, "given twice"},
        {"trial|done|complete|7|--result|branin=2.5+-0.5|--result|extra=1|--store|@/store", 0,
         "trial 7 COMPLETED (the stopped store)", NULL},
        {"trial|done|abandon|7|--store|@/store", 1, NULL, "already COMPLETED"},
        {"trial|done|complete|99|--result|branin=1|--store|@/store", 2, NULL, "has no trial 99"},
        {"trial|done|attach|--param|x1=1|--param|x2=2|--param|n=3|--param|ok=true|--result|"
         "branin=1|--result|branin=2|--store|@/store",
         1, NULL, "given twice"},
        {"trial|done|abandon|0|--store|@/nostore", 2, NULL, NULL},
        {"pause|--help", 0, "usage: axle pause", NULL},
        {"pause", 2, NULL, "usage: axle pause"},
        {"pause|--wait|done", 2, NULL, "usage: axle pause"},
        {"pause|done|--store|@/store", 0, "done: paused; `axle resume` starts it paused", NULL},
        {"pause|nosuch|--store|@/store", 2, NULL, "nosuch"},
        {"unpause|done|--store|@/store", 0, "done: unpaused; `axle resume` deploys at once", NULL},
        {"stop|--help", 0, "usage: axle stop", NULL},
        {"stop|--bogus", 2, NULL, "usage: axle stop"},
        {"stop|done|--wait|--reason|why|--store|@/store", 0, "done: not running", NULL},
        {"stop|nosuch|--store|@/store", 2, NULL, "nosuch"},
        {"attach|--help", 0, "usage: axle attach", NULL},
        {"attach|--bogus", 2, NULL, "usage: axle attach"},
        {"attach|done", 2, NULL, "usage: axle attach"},
        {"attach|done|@/missing.csv|--store|@/store", 2, NULL, "missing.csv"},
        {"attach|done|@/not_a_dir|--store|@/store", 2, NULL,
         "no column for the objective metric 'branin'"},
        {"attach|done|@/empty.csv|--store|@/store", 2, NULL, "is empty"},
        {"attach|done|@/short.csv|--store|@/store", 2, NULL, "short.csv:2: 2 fields"},
        {"attach|done|@/quoted.csv|--store|@/store", 2, NULL, "a malformed header"},
        {"attach|done|@/good.csv|--store|@/store", 0,
         "attached 2 trials to done (the stopped store); 1 rows skipped", NULL},
    };
    free(et_write_file(dir, "empty.csv", ""));
    free(et_write_file(dir, "short.csv", "x1,x2,n,ok,branin\n1,2\n"));
    free(et_write_file(dir, "quoted.csv", "\"x1,x2\n"));
    free(et_write_file(dir, "good.csv",
                       "x1,x2,n,ok,t,branin,branin_sem,trial_status\n"
                       "1.5,2.5,3,true,100,4.25,0.5,COMPLETED\n"
                       "\r\n"
                       "1.5,2.5,3,false,100,,,FAILED\n"
                       "-1,\"14\",9,False,100,7,,\n"));
    check_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_worker_and_lab(void **state)
{
    (void)state;
    static const row rows[] = {
        {"worker|--help", 0, "usage: axle worker", NULL},
        {"worker", 2, NULL, "--role and --listen are required"},
        {"worker|--bogus", 2, NULL, "usage: axle worker"},
        {"worker|--role|cook|--listen|ipc://@/w", 2, NULL, "--role must be"},
        {"worker|--role|hotplate|--listen|ipc://@/w|--capacity|0", 2, NULL, "--capacity"},
        {"worker|--role|hotplate|--listen|ipc://@/w|--speed|0", 2, NULL, "--speed"},
        {"worker|--role|hotplate|--listen|ipc://@/w|--seed|x", 2, NULL, "--seed"},
        {"worker|--role|hotplate|--listen|ipc://@/w|--fail-rate|2", 2, NULL, "--fail-rate"},
        {"worker|--role|hotplate|--listen|ipc://@/w|--crash-after|x", 2, NULL, NULL},
        {"worker|--role|hotplate|--listen|ipc://@/w|--hang-after|x", 2, NULL, NULL},
        {"worker|--role|hotplate|--listen|ipc://@/w|--heartbeat-ms|0", 2, NULL, "--heartbeat-ms"},
        {"worker|--role|hotplate|--listen|ipc://@/w|--exit-when-alone|-1", 2, NULL, NULL},
        {"worker|--role|hotplate|--listen|bogus://x|--exit-when-alone|0.05", 2, NULL,
         "unsupported transport"},
        {"worker|--role|hotplate|--listen|ipc://@/w.ipc|--id|hp1|--capacity|4|--speed|100|"
         "--seed|3|--fail-rate|0|--crash-after|5|--hang-after|5|--data-dir|@|--heartbeat-ms|50|"
         "--exit-when-alone|0.05|--log-level|warn|--log-json",
         0, NULL, NULL},
        {"emulate|--help", 0, "usage: axle emulate DEVICE", NULL},
        {"emulate", 2, NULL, "usage: axle emulate"},
        {"emulate|--bogus|gantry", 2, NULL, "usage: axle emulate"},
        {"emulate|gantry|--speed|fast", 2, NULL, "--speed"},
        {"emulate|toaster|--quiet|--opt|1|--listen|ws://127.0.0.1:1|--pty|@/pty", 2, NULL,
         "unknown device 'toaster'"},
        {"emulate|gantry|--pty|@/pty|--speed|0.5", 2, NULL, "--speed must be >= 1"},
        {"emulate|gantry|--pty|@/pty|--log|@/no/such/dir/emu.log", 1, NULL, "cannot open"},
        {"emulate|gantry|--fault|noreply@1|--fault|noreply@1|--fault|noreply@1|--fault|noreply@1|--"
         "fault|noreply@1|--fault|noreply@1|--fault|noreply@1|--fault|noreply@1|--fault|noreply@1|-"
         "-fault|noreply@1|--fault|noreply@1|--fault|noreply@1|--fault|noreply@1|--fault|noreply@1|"
         "--fault|noreply@1|--fault|noreply@1|--fault|noreply@1",
         2, NULL, "at most 16 --fault options"},
        {"lab|--help", 0, "usage: axle lab optimum", NULL},
        {"lab", 2, NULL, "usage: axle lab"},
        {"lab|optimum", 0, "PL intensity", NULL},
        {"lab|frob", 2, NULL, NULL},
        {"lab|score", 2, NULL, NULL},
        {"lab|score|done|--store|@/store", 1, NULL, NULL},
        {"lab|score|nosuch|--store|@/store", 1, NULL, "no experiment nosuch"},
        {"run|@/film.json|--store|@/store|--no-progress", 0, "3 completed", NULL},
        {"lab|score|film|--store|@/store", 0, "of the optimum", NULL},
        {"lab|pareto|nosuch|--store|@/store", 1, NULL, "nosuch"},
        {"lab|pareto|film|--store|@/store", 2, NULL, "needs 2 objectives with thresholds"},
        {"run|@/pareto.json|--store|@/store|--no-progress", 0, "4 completed", NULL},
        {"lab|pareto|pareto|--store|@/store", 0, NULL, NULL},
    };
    check_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_subscribe(void **state)
{
    (void)state;
    static const row rows[] = {
        {"subscribe|--help", 0, "usage: axle subscribe", NULL},
        {"subscribe|--bogus", 2, NULL, "usage"},
        {"subscribe|extra", 2, NULL, "usage"},
        {"subscribe|--pub|ipc://@/x", 2, NULL, NULL},
        {"subscribe|--from|x", 2, NULL, "--from"},
        {"subscribe|--count|x", 2, NULL, "--count"},
        {"subscribe|--store|@/store|--count|2", 1, NULL, "no campaign is streaming"},
    };
    check_rows(rows, sizeof(rows) / sizeof(rows[0]));

    /* A campaign whose trials wait for a hand: subscribe catches up, then follows. */
    char json[1024], *out, *err;
    snprintf(json, sizeof(json),
             "{\"name\": \"hang\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
             "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
             "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
             "\"scheduler\": {\"max_pending_trials\": 2},"
             "\"runner\": {\"type\": \"function\", \"function\": \"branin\", "
             "\"outcomes\": \"HHHHHHHH\"}}");
    free(et_write_file(dir, "hang.json", json));
    char live[600];
    snprintf(live, sizeof(live), "%s/live", dir);
    assert_int_equal(mkdir(live, 0755), 0);
    const char *argv[] = {"axle", "run", NULL, "--store", live, "--no-progress", NULL};
    char path[600];
    snprintf(path, sizeof(path), "%s/hang.json", dir);
    argv[2] = path;
    pid_t pid = axl_test_spawn(AXLE_BIN, argv, NULL, NULL, false);
    assert_true(pid >= 0);
    int rc = 1, status;
    for (int i = 0; i < 2000 && rc != 0; i++) { /* the control socket answers once it runs */
        rc = run("pause|hang|--store|@/live", &out, &err);
        free(out);
        free(err);
    }
    assert_int_equal(rc, 0);
    static const row live_rows[] = {
        {"unpause|hang|--store|@/live", 0, "hang: deploying again", NULL},
        {"subscribe|--store|@/live|--count|3|--json", 0, "\"seq\":3", NULL},
        {"subscribe|--store|@/live|--from|2|--count|1", 0, NULL, NULL},
        {"subscribe|--pub|ipc://@/live/events.pub|--replay|ipc://@/live/replay.rep|--count|1", 0,
         NULL, NULL},
    };
    check_rows(live_rows, sizeof(live_rows) / sizeof(live_rows[0]));

    /* Followers: one until the stop (through a quiet spell), one until SIGINT. */
    char follow[600], quit[600];
    snprintf(follow, sizeof(follow), "%s/follow.out", dir);
    snprintf(quit, sizeof(quit), "%s/quit.out", dir);
    const char *a1[] = {"axle", "subscribe", "--store", live, "--until-stopped", "--json", NULL};
    pid_t f1 = axl_test_spawn(AXLE_BIN, a1, follow, AXL_TEST_INHERIT, false);
    const char *a2[] = {"axle", "subscribe", "--store", live, NULL};
    pid_t f2 = axl_test_spawn(AXLE_BIN, a2, quit, AXL_TEST_INHERIT, false);
    assert_true(f1 > 0 && f2 > 0);
    for (int i = 0; i < 2000; i++) { /* both have caught up with the log */
        char *a = slurp(follow), *b = slurp(quit);
        bool ready =
            strstr(a, "experiment.unpaused") != NULL && strstr(b, "experiment.unpaused") != NULL;
        free(a);
        free(b);
        if (ready)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    static const row stop_rows[] = {
        {"stop|hang|--store|@/live", 0, "hang: stopped", NULL},
        {"subscribe|--store|@/live|--count|1", 1, NULL, "no campaign is streaming"},
    };
    check_rows(stop_rows, sizeof(stop_rows) / sizeof(stop_rows[0]));
    /* After a quiet spell the second follower asks for the tail: the replay service has
     * gone with the campaign, so it reads the store (not needed for the result). */
    struct timespec quiet = {1, 300 * 1000 * 1000};
    nanosleep(&quiet, NULL);
    kill(f2, SIGINT);
    assert_int_equal(waitpid(f2, &status, 0), f2);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 5);
    char *quitted = slurp(quit);
    assert_non_null(strstr(quitted, "experiment.stopped"));
    free(quitted);
    assert_int_equal(waitpid(f1, &status, 0), f1);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *followed = slurp(follow);
    assert_non_null(strstr(followed, "\"type\":\"experiment.stopped\""));
    free(followed);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Ax's order constraint "x1 <= x2" (and "x2 >= 2*x1 - 3"): every trial keeps it. */
static void test_order_constraint(void **state)
{
    (void)state;
    char json[1024], *out, *err;
    snprintf(json, sizeof(json),
             "{\"name\": \"order\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [0, 10]},"
             "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 10]}],"
             "\"parameter_constraints\": [\"x1 <= x2\", \"x2 >= 2 * x1 - 3\"]},"
             "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
             "\"scheduler\": {\"total_trials\": 12},"
             "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}");
    free(et_write_file(dir, "order.json", json));
    assert_int_equal(run("run|@/order.json|--store|@/store|--no-progress", &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(run("export|order|--store|@/store", &out, &err), 0);
    int n = 0;
    for (char *line = strchr(out, '\n'); line != NULL && line[1]; line = strchr(line + 1, '\n')) {
        unsigned idx;
        double x1, x2;
        assert_int_equal(sscanf(line + 1, "%u,%*[^,],COMPLETED,,%*[^,],%lf,%lf", &idx, &x1, &x2),
                         3);
        assert_true(x1 <= x2 + 1e-9);
        assert_true(x2 >= 2 * x1 - 3 - 1e-9);
        n++;
    }
    assert_int_equal(n, 12);
    free(out);
    free(err);
    snprintf(json, sizeof(json),
             "{\"name\": \"bad\", \"search_space\": {\"parameters\": ["
             "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [0, 10]},"
             "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 10]}],"
             "\"parameter_constraints\": [\"x1 <= y\"]},"
             "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
             "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}");
    free(et_write_file(dir, "bad_order.json", json));
    assert_int_equal(run("run|@/bad_order.json|--store|@/store", &out, &err), 2);
    assert_non_null(strstr(err, "unknown parameter 'y'"));
    free(out);
    free(err);
    /* Constraints no point satisfies: refused before anything runs, exit 2, no store.
     * One alone (the exact check over the bounds), then two that only clash together
     * (the sampled check). */
    static const char *const infeasible[][2] = {
        {"\"x1 + x2 <= -1\"", "the left side of 'x1 + x2 <= -1' is at least 0"},
        {"\"x1 + x2 <= 1\", \"x1 + x2 >= 5\"", "together they leave no room"},
    };
    for (size_t i = 0; i < 2; i++) {
        snprintf(json, sizeof(json),
                 "{\"name\": \"infeasible\", \"search_space\": {\"parameters\": ["
                 "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [0, 10]},"
                 "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 10]}],"
                 "\"parameter_constraints\": [%s]},"
                 "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
                 "\"runner\": {\"type\": \"function\", \"function\": \"branin\"}}",
                 infeasible[i][0]);
        free(et_write_file(dir, "infeasible.json", json));
        assert_int_equal(run("run|@/infeasible.json|--store|@/infeasible_store", &out, &err), 2);
        assert_non_null(strstr(err, "no point satisfies the parameter constraints"));
        assert_non_null(strstr(err, infeasible[i][1]));
        free(out);
        free(err);
        char path[700];
        struct stat st;
        snprintf(path, sizeof(path), "%s/infeasible_store", dir);
        assert_int_not_equal(stat(path, &st), 0);
    }
}

/* A bad file - its runner section, a 5 KB choice value, a 1 MB description - exits 2
 * and leaves no store directory behind: the whole file is checked before anything is
 * created. */
static void test_bad_file_creates_nothing(void **state)
{
    (void)state;
    static const char head[] =
        "{\"name\": \"edge\", \"description\": \"%s\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]},"
        "{\"name\": \"c\", \"type\": \"choice\", \"values\": [\"%s\", \"b\"]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"runner\": %s}";
    static const char fn[] = "{\"type\": \"function\", \"function\": \"branin\"}";
    size_t big = (1u << 20) + 16;
    char *desc = malloc(big + 1), *val = malloc(5001), *json = malloc(big + 1024);
    memset(desc, 'd', big);
    desc[big] = '\0';
    memset(val, 'v', 5000);
    val[5000] = '\0';
    const struct {
        const char *desc, *val, *runner, *err;
    } cases[] = {
        {"ok", "a", "{\"type\": \"function\", \"function\": \"nosuch\"}", "runner.function"},
        {"ok", "a", "{\"type\": \"command\", \"argv\": []}", "runner.argv"},
        {"ok", "a", "{\"type\": \"command\", \"argv\": [\"x\"], \"bogus\": 1}", "bogus"},
        {"ok", val, fn, "does not fit"},
        {desc, "a", fn, "does not fit"},
        /* a bad lab section is found before anything is created, as is a bad tls one */
        {"ok", "a", "{\"type\": \"lab\"}, \"lab\": {\"labware\": {}}", "edge.json: lab.recipe"},
        {"ok", "a", "{\"type\": \"lab\"}, \"lab\": {\"recipe\": {}, \"labware\": {}}",
         "edge.json: lab.recipe"},
        {"ok", "a",
         "{\"type\": \"function\", \"function\": \"branin\"}, \"tls\": {\"cert\": \"a\"}",
         "edge.json: tls.key: required"},
        {"ok", "a",
         "{\"type\": \"function\", \"function\": \"branin\"}, \"tls\": {\"cert\": \"no.pem\", "
         "\"key\": \"no.key\", \"ca\": \"ca.pem\"}",
         "tls.cert: cannot read "},
        {"ok", "a", "{\"type\": \"function\", \"function\": \"branin\"}, \"tls\": [1]",
         "tls: must be an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(json, big + 1024, head, cases[i].desc, cases[i].val, cases[i].runner);
        free(et_write_file(dir, "edge.json", json));
        char *out, *err, path[700];
        int rc = run("run|@/edge.json|--store|@/edge_store|--no-progress", &out, &err);
        if (rc != 2 || strstr(err, cases[i].err) == NULL) {
            print_error("case %zu: exit %d, stderr %.300s\n", i, rc, err);
            fail();
        }
        snprintf(path, sizeof(path), "%s/edge_store", dir);
        struct stat st;
        assert_int_not_equal(stat(path, &st), 0);
        free(out);
        free(err);
    }
    /* The same file with a good runner does create its store. */
    snprintf(json, big + 1024, head, "ok", "a", fn);
    free(et_write_file(dir, "edge.json", json));
    char *out, *err;
    assert_int_equal(
        run("run|@/edge.json|--store|@/edge_store|--no-progress|--max-trials|2", &out, &err), 0);
    free(out);
    free(err);
    free(desc);
    free(val);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_and_resume),
        cmocka_unit_test(test_inspect_and_export),
        cmocka_unit_test(test_control_commands),
        cmocka_unit_test(test_worker_and_lab),
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_order_constraint),
        cmocka_unit_test(test_bad_file_creates_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
