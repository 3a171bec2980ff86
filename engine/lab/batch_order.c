/* batch_order.c - the order a batch goes onto the line (batch_order.h). Pure. */
#include "engine/lab/batch_order.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/axl_util.h"

typedef struct search {
    axl_timeline *tl;
    const uint32_t *ids;
    const axl_chain *chains;
    int n;
    double release;
    int evals;
} search;

static bool better(lab_order_score a, lab_order_score b)
{
    return a.last < b.last - 1e-6 || (fabs(a.last - b.last) <= 1e-6 && a.sum < b.sum - 1e-6);
}

/* Places the batch in order ord at the release; scores it; removes it again. */
static lab_order_score try_order(search *w, const int *ord)
{
    lab_order_score sc = {0, 0};
    axl_tl_slot sl[AXL_CHAIN_MAX];
    int placed = 0;
    for (; placed < w->n; placed++) {
        int k = ord[placed];
        if (axl_tl_place(w->tl, w->ids[k], &w->chains[k], w->release, sl, NULL) != 0) {
            sc.last = INFINITY;
            break;
        }
        double end = sl[w->chains[k].n - 1].end;
        sc.last = fmax(sc.last, end);
        sc.sum += end;
    }
    for (int i = 0; i < placed; i++)
        axl_tl_remove(w->tl, w->ids[ord[i]]);
    w->evals++;
    return sc;
}

/* Greedy: next, the sample whose characterization would end first. */
static void greedy(search *w, const uint32_t *chars, int *ord)
{
    int n = w->n, step = 0;
    bool *used = calloc((size_t)n, sizeof(bool));
    axl_tl_slot sl[AXL_CHAIN_MAX];
    if (used == NULL) {
        for (int i = 0; i < n; i++)
            ord[i] = i;
        return;
    }
    for (; step < n; step++) {
        int best = -1;
        double best_end = INFINITY;
        for (int c = 0; c < n; c++) {
            if (used[c] || axl_tl_place(w->tl, w->ids[c], &w->chains[c], w->release, sl, NULL) != 0)
                continue;
            double e = sl[chars[c]].end;
            axl_tl_remove(w->tl, w->ids[c]);
            if (e < best_end) {
                best = c;
                best_end = e;
            }
        }
        if (best < 0)
            break;
        used[best] = true;
        ord[step] = best;
        axl_tl_place(w->tl, w->ids[best], &w->chains[best], w->release, NULL, NULL);
    }
    for (int i = 0; i < step; i++)
        axl_tl_remove(w->tl, w->ids[ord[i]]);
    for (int c = 0; c < n && step < n; c++)
        if (!used[c])
            ord[step++] = c; /* what does not place keeps its arrival rank */
    free(used);
}

void lab_batch_order(axl_timeline *tl, const uint32_t *ids, const axl_chain *chains,
                     const uint32_t *chars, int n, double release, double budget_s, int *ord,
                     lab_order_stats *st)
{
    search w = {tl, ids, chains, n, release, 0};
    lab_order_stats local;
    double t0 = axl_now();
    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < n; i++)
        ord[i] = i;
    int *t = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    int *arrival = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (n < 1 || t == NULL || arrival == NULL)
        goto out;
    greedy(&w, chars, ord);
    for (int i = 0; i < n; i++)
        arrival[i] = i;
    st->arrival = try_order(&w, arrival);
    st->best = try_order(&w, ord);
    if (better(st->arrival, st->best)) {
        memcpy(ord, arrival, (size_t)n * sizeof(int));
        st->best = st->arrival;
    }
    /* Adjacent swaps, then single moves, while they help and the budget lasts. */
    for (int kind = 0; kind < 2; kind++) {
        bool improved = true;
        while (improved && axl_now() - t0 < budget_s) {
            improved = false;
            for (int i = 0; i < n && axl_now() - t0 < budget_s; i++) {
                int j0 = kind == 0 ? i + 1 : 0, j1 = kind == 0 ? i + 2 : n;
                for (int j = j0; j < j1 && j < n; j++) {
                    if (i == j)
                        continue;
                    memcpy(t, ord, (size_t)n * sizeof(int));
                    int x = t[i];
                    if (kind == 0) {
                        t[i] = t[j];
                        t[j] = x;
                    } else if (i < j) {
                        memmove(&t[i], &t[i + 1], (size_t)(j - i) * sizeof(int));
                        t[j] = x;
                    } else {
                        memmove(&t[j + 1], &t[j], (size_t)(i - j) * sizeof(int));
                        t[j] = x;
                    }
                    lab_order_score sc = try_order(&w, t);
                    if (better(sc, st->best)) {
                        st->best = sc;
                        memcpy(ord, t, (size_t)n * sizeof(int));
                        improved = true;
                    }
                }
            }
        }
    }
out:
    free(t);
    free(arrival);
    st->evals = w.evals;
    st->ms = (axl_now() - t0) * 1e3;
}
