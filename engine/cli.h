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
int axl_cmd_worker(int argc, char **argv);  /* cmd_worker.c */
int axl_cmd_lab(int argc, char **argv);     /* cmd_worker.c */
int axl_cmd_emulate(int argc, char **argv); /* cmd_emulate.c */
int axl_cmd_verify(int argc, char **argv);  /* cmd_verify.c */
int axl_cmd_best(int argc, char **argv);    /* cmd_best.c */
int axl_cmd_trial(int argc, char **argv);   /* cmd_control.c */
int axl_cmd_pause(int argc, char **argv);
int axl_cmd_unpause(int argc, char **argv);
int axl_cmd_stop(int argc, char **argv);
int axl_cmd_attach(int argc, char **argv);
int axl_cmd_serve(int argc, char **argv);  /* view/cmd_view.c */
int axl_cmd_report(int argc, char **argv); /* view/cmd_view.c */

/* The model's and the raw best of stored trials, two lines with parameters (cmd_best.c). */
void axl_cli_print_best(FILE *f, const axl_experiment *e, const axl_store_experiment *se);

/*
 * Who may connect (hw/worker/axl_net.h): --group NAME, --tls-cert F, --tls-key F,
 * --tls-ca F, --insecure. AXL_CLI_NET_LONGOPTS goes into a getopt_long table; a
 * command passes every option code it does not know to axl_cli_net_option, which
 * returns true when it took it. axl_cli_net_apply makes them the process defaults.
 */
#define AXL_CLI_NET_BASE 1000
#define AXL_CLI_NET_LONGOPTS                                                                       \
    {"group", required_argument, NULL, AXL_CLI_NET_BASE + 0},                                      \
        {"tls-cert", required_argument, NULL, AXL_CLI_NET_BASE + 1},                               \
        {"tls-key", required_argument, NULL, AXL_CLI_NET_BASE + 2},                                \
        {"tls-ca", required_argument, NULL, AXL_CLI_NET_BASE + 3},                                 \
    {                                                                                              \
        "insecure", no_argument, NULL, AXL_CLI_NET_BASE + 4                                        \
    }
#define AXL_CLI_NET_USAGE                                                                          \
    "  --group NAME         share the store and socket files with this group (0660/0770;\n"        \
    "                       default owner only: 0600/0700)\n"                                      \
    "  --tls-cert F, --tls-key F, --tls-ca F\n"                                                    \
    "                       TLS for tls+tcp:// addresses: our certificate and key (PEM), and\n"    \
    "                       the CA every peer's certificate must chain to (mutual)\n"              \
    "  --insecure           allow plain tcp:// (no authentication, no encryption)\n"
struct axl_net_opts;
bool axl_cli_net_option(int ch, const char *arg, struct axl_net_opts *o);
void axl_cli_net_apply(const struct axl_net_opts *o);

/* Shared helpers (cli_common.c). */
bool axl_cli_is_help(const char *arg);
/* Parses a non-negative integer option value; prints an error and returns false. */
bool axl_cli_parse_u64(const char *cmd, const char *opt, const char *s, unsigned long long *out);
bool axl_cli_parse_double(const char *cmd, const char *opt, const char *s, double *out);
/* Applies --log-level/--log-json from the environment-independent options. */
void axl_cli_setup_logging(bool json, const char *level);
/*
 * Opens STORE read-only and loads NAME's stored record (*se) and its experiment (*e). On
 * failure prints "axle CMD: reason" and returns the exit code (usage when the store or
 * the experiment does not exist, else error), with *se and *e NULL. On success returns 0;
 * the caller frees *se with axl_store_experiment_free and *e with axl_experiment_free.
 */
int axl_cli_load_experiment(const char *cmd, const char *store, const char *name,
                            axl_store_experiment **se, axl_experiment **e);

#endif
