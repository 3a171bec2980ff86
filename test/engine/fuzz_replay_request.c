/*
 * fuzz_replay_request: axl_replay_request_decode (engine/stream.c) on arbitrary bytes, as
 * the replay service receives them from a socket. Besides crashes, leaks and undefined
 * behaviour it aborts when the decoder breaks its contract (engine/stream.h): an error is a
 * negative code with a message; an accepted request has v 1 and type "replay" and
 * from <= to unless to is 0 (to the end). Run it with scripts/fuzz.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what)
{
    fprintf(stderr, "fuzz_replay_request: invariant broken: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    axl_errbuf eb = {{0}};
    uint64_t from = 7, to = 7, max = 7;
    int rv = axl_replay_request_decode(data, size, &from, &to, &max, &eb);
    if (rv > 0)
        broken("a positive return");
    if (rv < 0) {
        if (eb.msg[0] == '\0' || axl_err_name(rv) == NULL)
            broken("an error without a message or a name");
        if (size > AXL_REPLAY_MAX_REQUEST && rv != AXL_ETOOBIG)
            broken("an oversized request not refused as too big");
        return 0;
    }
    if (size > AXL_REPLAY_MAX_REQUEST)
        broken("an oversized request accepted");
    if (to != 0 && from > to)
        broken("an accepted request with from after to");
    return 0;
}
