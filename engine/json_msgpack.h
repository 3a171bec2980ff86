/* json_msgpack.h - JSON values to msgpack and back (experiment records, axle replay --json). */
#ifndef AXL_JSON_MSGPACK_H
#define AXL_JSON_MSGPACK_H

#include <stdlib.h>

#include <jansson.h>
#include <msgpack.h>

#include "proto/axl_proto.h"

/* Packs j; AXL_EDEPTH or AXL_ETOOBIG when it would break proto's limits. */
int axl_json_to_msgpack(json_t *j, msgpack_packer *pk);

/* A new JSON value for o (caller owns it: json_decref), NULL on out of memory. */
json_t *axl_msgpack_to_json(const msgpack_object *o);

#endif
