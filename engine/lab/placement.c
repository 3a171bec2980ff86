/*
 * placement.c - samples deployed in the same loop turn are placed on the timeline
 * together, in the order lab_batch_order (batch_order.h) chooses. The search runs on
 * libuv's thread pool on its own scratch timeline (a copy of the samples in flight and of
 * the batch's chains), so the loop thread never waits for it; the batch is placed on the
 * real timeline, in the chosen order, when it returns.
 */
#include <stdio.h>
#include <stdlib.h>

#include "engine/lab/batch_order.h"
#include "engine/lab/lab.h"
#include "proto/axl_log.h"

typedef struct plan_work {
    uv_work_t req;
    lab_runner *lr;
    axl_timeline *tl; /* scratch: owned by the work */
    int n;
    uint32_t *ids;     /* n trial ids */
    axl_chain *chains; /* n copies */
    uint32_t *chars;   /* index of each chain's characterization */
    double release;
    double budget_s;
    int *ord; /* the result: order of the batch */
    lab_order_stats st;
} plan_work;

static void plan_run(uv_work_t *req)
{
    plan_work *w = req->data;
    lab_batch_order(w->tl, w->ids, w->chains, w->chars, w->n, w->release, w->budget_s, w->ord,
                    &w->st);
}

static void plan_free(plan_work *w)
{
    axl_tl_free(w->tl);
    free(w->ids);
    free(w->chains);
    free(w->chars);
    free(w->ord);
    free(w);
}

/* Places the batch's samples (those still waiting) on the real timeline in w's order. */
static void place_in_order(lab_runner *lr, const uint32_t *ids, const int *ord, int n)
{
    double release = lab_line_now(lr);
    for (int i = 0; i < n; i++) {
        sample *s = lab_find_sample(lr, ids[ord[i]]);
        axl_errbuf why = {{0}};
        if (s == NULL || s->state != SAMPLE_UNPLACED)
            continue; /* canceled meanwhile */
        sample_ev_placed(s);
        if (axl_tl_place(lr->tl, s->trial, &s->chain, release, s->plan, &why) != 0) {
            AXL_WARN(LAB_SRC, "trial %u not placed: %s", s->trial, why.msg);
            sample_ev_reported(s);
            lab_queue_report(lr, s->trial, AXL_TRIAL_FAILED, why.msg);
            lab_sample_remove(lr, s, true);
            continue;
        }
        s->placed = true;
        AXL_INFO(LAB_SRC,
                 "trial %u -> %s in tray slot %s, %u tasks planned %.0f-%.0f s (line time)",
                 s->trial, s->name, s->res.slot_name, s->chain.n, s->plan[0].start,
                 s->plan[s->chain.n - 1].end);
        lab_dispatch(lr, s);
    }
    lab_arm_notify(lr);
}

static void plan_done(uv_work_t *req, int status)
{
    plan_work *w = req->data;
    lab_runner *lr = w->lr;
    lr->planning = false;
    lr->pending--;
    if (lr->closing || status != 0) {
        plan_free(w);
        lab_finish_if_closed(lr);
        return;
    }
    AXL_INFO(LAB_SRC,
             "a batch of %d samples placed in the order that ends it at %.0f s (arrival "
             "order: %.0f s); %d orders tried in %.0f ms",
             w->n, w->st.best.last - w->release, w->st.arrival.last - w->release, w->st.evals,
             w->st.ms);
    place_in_order(lr, w->ids, w->ord, w->n);
    plan_free(w);
    uv_timer_start(&lr->place, lab_place_cb, 0, 0); /* samples deployed meanwhile */
}

static int cmp_trial(const void *a, const void *b)
{
    const sample *x = *(sample *const *)a, *y = *(sample *const *)b;
    return (x->trial > y->trial) - (x->trial < y->trial);
}

/* A scratch copy of the real timeline (the samples in flight, at their planned times). */
static axl_timeline *scratch_timeline(lab_runner *lr)
{
    axl_timeline *tl;
    if (axl_tl_new(&lr->cfg.line, &tl, NULL) != 0)
        return NULL;
    for (size_t i = 0; i < axl_tl_count(lr->tl); i++) {
        uint64_t id = axl_tl_id(lr->tl, i);
        const axl_chain *c;
        const axl_tl_slot *sl;
        double start[AXL_CHAIN_MAX];
        if (axl_tl_get(lr->tl, id, &c, &sl) != 0)
            continue;
        for (uint32_t k = 0; k < c->n; k++)
            start[k] = sl[k].start;
        if (axl_tl_insert(tl, id, c, start, NULL, NULL) != 0) {
            axl_tl_free(tl);
            return NULL;
        }
    }
    return tl;
}

void lab_place_cb(uv_timer_t *h)
{
    lab_runner *lr = h->data;
    sample *b[AXL_WIRE_MAX_IDS];
    uint32_t ids[AXL_WIRE_MAX_IDS];
    int ord[AXL_WIRE_MAX_IDS], n = 0;
    if (lr->closing || lr->planning)
        return; /* a search is running: its completion comes back here */
    for (sample *s = lr->samples; s != NULL && n < AXL_WIRE_MAX_IDS; s = s->next)
        if (s->state == SAMPLE_UNPLACED)
            b[n++] = s;
    if (n == 0)
        return;
    qsort(b, (size_t)n, sizeof(b[0]), cmp_trial);
    for (int i = 0; i < n; i++) {
        ids[i] = b[i]->trial;
        ord[i] = i;
    }
    plan_work *w = n > 1 ? calloc(1, sizeof(*w)) : NULL;
    if (w != NULL) {
        w->lr = lr;
        w->n = n;
        w->ids = malloc((size_t)n * sizeof(uint32_t));
        w->chains = malloc((size_t)n * sizeof(axl_chain));
        w->chars = malloc((size_t)n * sizeof(uint32_t));
        w->ord = malloc((size_t)n * sizeof(int));
        w->tl = scratch_timeline(lr);
        w->release = lab_line_now(lr);
        w->budget_s = lr->cfg.plan_budget_ms / 1e3;
        w->req.data = w;
        if (w->ids == NULL || w->chains == NULL || w->chars == NULL || w->ord == NULL ||
            w->tl == NULL) {
            plan_free(w);
            w = NULL;
        }
    }
    if (w == NULL) { /* one sample, or no memory for a search: arrival order */
        place_in_order(lr, ids, ord, n);
        return;
    }
    for (int i = 0; i < n; i++) {
        w->ids[i] = b[i]->trial;
        w->chains[i] = b[i]->chain;
        w->chars[i] = b[i]->char_index < b[i]->chain.n ? b[i]->char_index : b[i]->chain.n - 1;
    }
    if (uv_queue_work(lr->loop, &w->req, plan_run, plan_done) != 0) {
        place_in_order(lr, ids, ord, n);
        plan_free(w);
        return;
    }
    lr->planning = true;
    lr->pending++; /* close waits for the search */
}
