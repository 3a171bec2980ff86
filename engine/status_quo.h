/*
 * status_quo.h - relative outcome constraints at run time: their bounds come from the
 * status quo trial's observed metrics (engine/config_objectives.h says how).
 *
 * What axle does until the status quo is observed (Ax raises DataRequiredError from its
 * Derelativize transform, and its Scheduler waits for more data):
 *  - Sobol steps run as usual (they use no outcome);
 *  - a GP step waits while the status quo trial is pending (CANDIDATE, STAGED,
 *    RUNNING), like Ax; if it ended without the metrics (FAILED, ABANDONED, or
 *    completed without them) and no completed trial at the status quo's point has them,
 *    the campaign stops with an error saying so (Ax would wait forever); a measurement
 *    attached at that point (`axle attach`) and `axle resume` continue it;
 *  - reports (best, Pareto set) do not apply a relative constraint whose bound is
 *    unknown; once it is known the best trial is re-scored.
 */
#ifndef AXL_STATUS_QUO_H
#define AXL_STATUS_QUO_H

#include "engine/campaign.h"
#include "storage/axl_store.h"

/* Loop thread: called with every trial that completed or was loaded completed; resolves
 * the relative bounds when t is at the status quo's point. */
void axl_sq_observe(axl_campaign *c, const axl_trial *t);

/*
 * Loop thread, before a GP generation: 0 when it may run (no relative constraint, or
 * bounds known), AXL_EAGAIN while the status quo is pending (logged once),
 * AXL_EMISSING when it can no longer be observed (eb says what to do).
 */
int axl_sq_gen_check(axl_campaign *c, axl_errbuf *eb);

/* Offline (status, best, export): resolves e's relative bounds from the stored trials. */
void axl_sq_of_records(axl_experiment *e, const axl_store_experiment *se);

#endif
