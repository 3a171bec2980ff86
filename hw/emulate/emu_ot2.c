/* emu_ot2.c - the OT-2 liquid handler's WebSocket: not written yet. */
#include "hw/emulate/axl_emulate.h"
int axl_emu_ot2_run(const axl_emu_opts *o, axl_errbuf *eb)
{
    (void)o;
    return axl_fail(eb, AXL_ENOTSUP, "the OT-2 emulator is not built yet (issue 14)");
}
