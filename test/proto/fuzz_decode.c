/*
 * fuzz_proto_decode: every proto/ decoder on the same input (axl_mp_validate,
 * axl_wire_decode, axl_event_decode, axl_trial_rec_decode, axl_wire_raw_check). Besides
 * crashes, leaks and undefined behaviour (ASan, UBSan, libFuzzer's leak check) it aborts
 * when an accepted input breaks an invariant of test/proto/invariants.c: out-of-buffer
 * borrowed pointers, values out of range, a re-encode that fails or does not round-trip.
 * Run it with scripts/fuzz BUILD_DIR SECONDS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/axl_wire.h"
#include "test/proto/invariants.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *bad = proto_check_all(data, size, NULL);
    if (bad != NULL) {
        fprintf(stderr, "fuzz_proto_decode: invariant broken: %s\n", bad);
        abort();
    }
    axl_errbuf eb;
    (void)axl_wire_raw_check(data, size, "fuzz", &eb);
    return 0;
}
