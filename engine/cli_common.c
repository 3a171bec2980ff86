/* cli_common.c - argument helpers shared by the axle commands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/axl_engine.h"
#include "engine/cli.h"
#include "engine/status_quo.h"
#include "hw/worker/axl_net.h"
#include "proto/axl_log.h"

bool axl_cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "help") == 0;
}

bool axl_cli_parse_u64(const char *cmd, const char *opt, const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0') {
        fprintf(stderr, "%s: %s needs a non-negative integer, not '%s'\n", cmd, opt, s);
        return false;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        fprintf(stderr, "%s: %s needs a non-negative integer, not '%s'\n", cmd, opt, s);
        return false;
    }
    *out = v;
    return true;
}

bool axl_cli_parse_double(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || end == s || !isfinite(v)) {
        fprintf(stderr, "%s: %s needs a number, not '%s'\n", cmd, opt, s);
        return false;
    }
    *out = v;
    return true;
}

void axl_cli_setup_logging(bool json, const char *level)
{
    axl_log_level lv = AXL_LOG_INFO;
    if (level != NULL && axl_log_parse_level(level, &lv) != 0)
        fprintf(stderr, "axle: unknown log level '%s', using info\n", level);
    axl_log_set_level(lv);
    axl_log_set_format(json ? AXL_LOG_JSON : AXL_LOG_HUMAN);
}

bool axl_cli_net_option(int ch, const char *arg, axl_net_opts *o)
{
    switch (ch - AXL_CLI_NET_BASE) {
    case 0:
        o->group = arg;
        return true;
    case 1:
        o->tls_cert = arg;
        return true;
    case 2:
        o->tls_key = arg;
        return true;
    case 3:
        o->tls_ca = arg;
        return true;
    case 4:
        o->insecure = true;
        return true;
    default:
        return false;
    }
}

void axl_cli_net_apply(const axl_net_opts *o)
{
    axl_net_set_defaults(o);
    if (o->insecure)
        AXL_WARN("cli", "--insecure: plain tcp:// addresses are allowed (no authentication, "
                        "no encryption)");
}

int axl_cli_load_experiment(const char *cmd, const char *store, const char *name,
                            axl_store_experiment **se, axl_experiment **e)
{
    axl_errbuf eb = {{0}};
    axl_store *s = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};

    *se = NULL;
    *e = NULL;
    int rv = axl_store_open(store, &so, &s, &eb);
    if (rv == 0 && (rv = axl_store_load(s, name, se, &eb)) == 0)
        rv = axl_experiment_from_store(s, name, e, &eb);
    if (rv == 0)
        axl_sq_of_records(*e, *se); /* relative outcome constraints' bounds */
    if (s != NULL)
        axl_store_close(s);
    if (rv == 0)
        return 0;
    fprintf(stderr, "axle %s: %s\n", cmd, eb.msg);
    axl_store_experiment_free(*se);
    *se = NULL;
    return rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
}
