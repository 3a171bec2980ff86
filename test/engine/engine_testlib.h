/* engine_testlib.h - temp dirs, experiment files and in-process campaigns for engine tests. */
#ifndef AXL_ENGINE_TESTLIB_H
#define AXL_ENGINE_TESTLIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/axl_engine.h"

/* A fresh directory under $TMPDIR (or /tmp); removed by et_rmtree. */
char *et_mkdtemp(void);
void et_rmtree(const char *dir);
/* Writes text to dir/name and returns the malloc'd path. */
char *et_write_file(const char *dir, const char *name, const char *text);

/* Records what a campaign did, through its hooks. */
typedef struct et_trace {
    uint32_t deploys;
    uint32_t deploy_order[256];
    uint32_t in_flight, max_in_flight;
    uint32_t reports;
} et_trace;

/* Fills opt with hooks that record into trace (stream off unless stream is true). */
void et_options(axl_campaign_options *opt, et_trace *trace, bool stream);

/*
 * Runs the experiment in json (printf-style) to its end in a new store dir (returned in
 * *store_dir when not NULL, else removed). Returns axl_engine_run's code.
 */
int et_run(axl_campaign_options *opt, axl_campaign_result *res, char **store_dir,
           const char *json_fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
