/* config_tls.h - the experiment file's "tls" section (engine/config_tls.c). */
#ifndef AXL_CONFIG_TLS_H
#define AXL_CONFIG_TLS_H

#include <jansson.h>
#include <stdbool.h>

#include "engine/experiment.h"

struct axl_net_opts;

/* Reads root's "tls" (absent: nothing) into e->tls_cert/key/ca (owned by e, freed by
 * axl_experiment_free). AXL_ECONFIG naming the JSON path ("tls.key: required ..."). */
int axl_config_tls_parse(json_t *root, axl_experiment *e, axl_errbuf *eb);

/* For a file read from disk: makes relative paths absolute against the file's directory,
 * checks that each file is readable (AXL_ECONFIG "tls.cert: cannot read PATH: reason"), and
 * rewrites e->source with the absolute paths. No section: 0. */
int axl_config_tls_resolve(axl_experiment *e, const char *file, axl_errbuf *eb);

/* Makes e's TLS files the process's defaults (hw/worker/axl_net.h) unless the command line
 * gave any; *saved receives the defaults before, to restore with axl_net_set_defaults once
 * e is freed (the strings are borrowed from e). True when it changed them. */
bool axl_config_tls_apply(const axl_experiment *e, struct axl_net_opts *saved);

#endif
