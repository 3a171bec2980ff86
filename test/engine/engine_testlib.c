#include "engine_testlib.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *et_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/axl-engine-XXXXXX", base != NULL ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d != NULL ? strdup(d) : NULL;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void et_rmtree(const char *dir)
{
    if (dir != NULL)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *et_write_file(const char *dir, const char *name, const char *text)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        free(path);
        return NULL;
    }
    fputs(text, f);
    fclose(f);
    return path;
}

static void on_deploy(void *data, uint32_t trial)
{
    et_trace *t = data;
    if (t->deploys < 256)
        t->deploy_order[t->deploys] = trial;
    t->deploys++;
    t->in_flight++;
    if (t->in_flight > t->max_in_flight)
        t->max_in_flight = t->in_flight;
}

static void on_report(void *data, uint32_t trial, axl_trial_status status)
{
    et_trace *t = data;
    (void)trial;
    t->reports++;
    if (axl_trial_status_is_terminal(status) && t->in_flight > 0)
        t->in_flight--;
}

/* OpenBLAS (engine/model links it): axle's main() keeps it to one thread. */
void openblas_set_num_threads(int num_threads);

void et_options(axl_campaign_options *opt, et_trace *trace, bool stream)
{
    /* As axle's main() does: one BLAS thread. With OpenBLAS's own threads, a BLAS call
     * on a pool thread while the command runner forks hangs: OpenBLAS's fork handler
     * shuts its threads down under the running call, whose caller then spins forever in
     * exec_blas_async (seen in test_moo_engine). */
    openblas_set_num_threads(1);
    axl_campaign_options_default(opt);
    opt->stream = stream;
    opt->handle_signals = false;
    if (trace != NULL) {
        memset(trace, 0, sizeof(*trace));
        opt->hooks.data = trace;
        opt->hooks.on_deploy = on_deploy;
        opt->hooks.on_report = on_report;
    }
}

int et_run(axl_campaign_options *opt, axl_campaign_result *res, char **store_dir,
           const char *json_fmt, ...)
{
    char json[8192];
    va_list ap;
    va_start(ap, json_fmt);
    vsnprintf(json, sizeof(json), json_fmt, ap);
    va_end(ap);
    char *dir = et_mkdtemp();
    char *path = et_write_file(dir, "experiment.json", json);
    axl_errbuf eb = {{0}};
    int rv = axl_engine_run(path, NULL, dir, true, opt, res, &eb);
    if (rv != 0)
        fprintf(stderr, "et_run: %s\n", eb.msg);
    free(path);
    if (store_dir != NULL) {
        *store_dir = dir;
    } else {
        et_rmtree(dir);
        free(dir);
    }
    return rv;
}
