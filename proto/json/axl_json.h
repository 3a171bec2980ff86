/*
 * axl_json.h - checks shared by every reader of a JSON configuration (engine/config.c,
 * the runners, hw's recipes, labware and line files). Library axl_json (jansson + proto).
 */
#ifndef AXL_JSON_H
#define AXL_JSON_H

#include <jansson.h>

#include "proto/axl_error.h"

/*
 * Fails with code when obj has a key that is not in known (NULL-terminated):
 *   "<path>.<key>: unknown key (known: a, b, c)"   ("<key>: ..." when path is "" or NULL)
 * A typo must not silently fall back to a default. obj not an object: 0 (the caller
 * checks types). Borrows everything.
 */
int axl_json_check_keys(const json_t *obj, const char *path, const char *const *known, int code,
                        axl_errbuf *eb);

#endif
