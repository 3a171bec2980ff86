/* cli.h - the `axle` command line: one function per subcommand. */
#ifndef AXL_CLI_H
#define AXL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/experiment.h"
#include "storage/axl_store.h"

/* Exit codes of every axle command (documented in `axle --help`). */
enum {
    AXL_EXIT_CODE_OK = 0,
    AXL_EXIT_CODE_ERROR = 1, /* runtime error: store, sockets, runner */
    AXL_EXIT_CODE_USAGE = 2, /* bad arguments or a bad experiment file */
    /* 3-5: a stopped campaign, from AXL_EXIT_MAP (axl_exit_status_code) */
    AXL_EXIT_CODE_INTERRUPTED = 5, /* also `axle subscribe` ended by SIGINT */
};

#define AXL_DEFAULT_STORE "axle-store"

int axl_cmd_run(int argc, char **argv);
int axl_cmd_resume(int argc, char **argv);
int axl_cmd_status(int argc, char **argv);
int axl_cmd_export(int argc, char **argv);
int axl_cmd_replay(int argc, char **argv);
int axl_cmd_subscribe(int argc, char **argv);
int axl_cmd_worker(int argc, char **argv); /* cmd_worker.c */
int axl_cmd_lab(int argc, char **argv);    /* cmd_worker.c */
int axl_cmd_verify(int argc, char **argv); /* cmd_verify.c */
int axl_cmd_best(int argc, char **argv);   /* cmd_best.c */
int axl_cmd_trial(int argc, char **argv);  /* cmd_control.c */
int axl_cmd_pause(int argc, char **argv);
int axl_cmd_unpause(int argc, char **argv);
int axl_cmd_stop(int argc, char **argv);
int axl_cmd_attach(int argc, char **argv);
int axl_cmd_serve(int argc, char **argv);  /* view/cmd_view.c */
int axl_cmd_report(int argc, char **argv); /* view/cmd_view.c */

/* The model's and the raw best of stored trials, two lines with parameters (cmd_best.c). */
void axl_cli_print_best(FILE *f, const axl_experiment *e, const axl_store_experiment *se);

/* Shared helpers (cli_common.c). */
bool axl_cli_is_help(const char *arg);
/* Parses a non-negative integer option value; prints an error and returns false. */
bool axl_cli_parse_u64(const char *cmd, const char *opt, const char *s, unsigned long long *out);
bool axl_cli_parse_double(const char *cmd, const char *opt, const char *s, double *out);
/* Applies --log-level/--log-json from the environment-independent options. */
void axl_cli_setup_logging(bool json, const char *level);

#endif
