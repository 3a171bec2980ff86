/*
 * batch_order.h - the order in which a batch of samples goes onto the line: a pure
 * function (a timeline, the batch's chains and a time budget in; an order out). No loop,
 * no I/O; the lab runner calls it on libuv's thread pool on a scratch timeline.
 *
 * Samples deployed together (a Sobol batch of the seed campaign, 36 samples of a
 * throughput run) are placed in an order chosen for the line: on the seed recipe the
 * characterization line is the bottleneck, and placed in arrival order the samples with
 * long anneals hold it up (36 Halton-spread samples: 0.85 of the makespan bound). The order
 * is built greedily (next: the sample whose characterization would end first), then
 * improved by adjacent swaps and by moving single samples, until no move helps or the
 * budget is spent; every candidate order is scored by placing it on the timeline and
 * removing it again (tens of microseconds a sample). An order is better when the batch's
 * last task ends earlier, then when the sum of its samples' ends is smaller.
 */
#ifndef AXL_ENGINE_LAB_BATCH_ORDER_H
#define AXL_ENGINE_LAB_BATCH_ORDER_H

#include <stdint.h>

#include "hw/line/axl_chain.h"
#include "hw/line/axl_timeline.h"

typedef struct lab_order_score {
    double last, sum; /* the batch's last task end, and the sum of its samples' ends */
} lab_order_score;

typedef struct lab_order_stats {
    lab_order_score arrival, best; /* in arrival order, and in the order chosen */
    int evals;                     /* orders scored */
    double ms;                     /* wall time spent */
} lab_order_stats;

/*
 * Chooses the order of n samples (ids[i], chains[i], chars[i] = the index of chain i's
 * characterization) released at `release` (line time) onto tl, which holds the samples
 * already in flight; budget_s bounds the improvement phase (wall seconds, 0 = greedy
 * only). Writes a permutation of 0..n-1 to ord[0..n) (arrival order when memory runs
 * out); fills *st when not NULL. tl is used as scratch and is as it was on return; ids
 * must not be on it. Never fails.
 */
void lab_batch_order(axl_timeline *tl, const uint32_t *ids, const axl_chain *chains,
                     const uint32_t *chars, int n, double release, double budget_s, int *ord,
                     lab_order_stats *st);

#endif
