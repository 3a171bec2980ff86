/*
 * The invariants every decoder must keep, whatever its input, checked by the robustness
 * tests and by the fuzz target: what a decoder accepts lies within the input, within the
 * limits, re-encodes, decodes again to the same value and re-encodes to the same bytes;
 * what axl_mp_validate accepts, msgpack-c unpacks exactly.
 */
#ifndef AXL_TEST_INVARIANTS_H
#define AXL_TEST_INVARIANTS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Runs axl_mp_next, axl_mp_validate, axl_wire_decode, axl_event_decode and axl_trial_rec_decode on
 * buf. Returns NULL when every invariant holds, else a static description of the broken
 * one. *accepted (if not NULL) gets a bit per decoder that accepted: 1 validate, 2 wire,
 * 4 event, 8 trial.
 */
const char *proto_check_all(const uint8_t *buf, size_t len, unsigned *accepted);

#endif
