/* bad_abi_plugin.c - an instrument plugin built against a future ABI (version 99): the
 * host must refuse it with a clear error (test_line). */
#include <stddef.h>

#include "hw/worker/axl_instrument.h"

static int never_open(const axl_instr_host *host, void **inst, char *err, size_t err_len)
{
    (void)host;
    (void)inst;
    (void)err;
    (void)err_len;
    return -1;
}

static void never_close(void *inst)
{
    (void)inst;
}

static const axl_instr_ops OPS = {
    .abi_version = 99, .name = "future", .open = never_open, .close = never_close};

__attribute__((visibility("default"))) const axl_instr_ops *axl_instrument_entry(void)
{
    return &OPS;
}
