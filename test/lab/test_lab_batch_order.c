/*
 * test_lab_batch_order.c - the order a batch of samples goes onto the line
 * (engine/lab/batch_order.h): a pure function of a timeline, the batch's chains and a
 * budget. Every check re-scores the returned order itself on the timeline.
 */
#include "lab_test.h"

#include "engine/lab/batch_order.h"
#include "proto/axl_util.h"

#include <math.h>

static axl_chain seed_chain(double volume, double anneal)
{
    axl_recipe r;
    axl_chain c;
    axl_errbuf eb = {{0}};
    axl_recipe_seed(volume, 80, -20, anneal, &r);
    assert_int_equal(axl_chain_from_recipe(&r, &c, &eb), 0);
    return c;
}

static uint32_t char_index(const axl_chain *c)
{
    uint32_t k = c->n - 1;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->task[i].kind == AXL_TASK_CHARACTERIZE)
            k = i;
    return k;
}

/* The batch's last task end when placed in ord on tl (then removed again). */
static double last_end(axl_timeline *tl, const uint32_t *ids, const axl_chain *c, const int *ord,
                       int n, double release)
{
    axl_tl_slot sl[AXL_CHAIN_MAX];
    double last = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(axl_tl_place(tl, ids[ord[i]], &c[ord[i]], release, sl, NULL), 0);
        last = fmax(last, sl[c[ord[i]].n - 1].end);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(axl_tl_remove(tl, ids[ord[i]]), 0);
    return last;
}

static void assert_permutation(const int *ord, int n)
{
    int seen[64] = {0};
    for (int i = 0; i < n; i++) {
        assert_true(ord[i] >= 0 && ord[i] < n);
        assert_int_equal(seen[ord[i]]++, 0);
    }
}

#define N 12

static void make_batch(uint32_t *ids, axl_chain *c, uint32_t *chars, int n, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        ids[i] = 100 + (uint32_t)i;
        /* Long anneals first: the arrival order holds the characterization line up. */
        double anneal = i < n / 2 ? lab_uniform(&seed, 2400, 3600) : lab_uniform(&seed, 60, 300);
        c[i] = seed_chain(lab_uniform(&seed, 50, 200), anneal);
        chars[i] = char_index(&c[i]);
    }
}

static void test_order_beats_arrival_and_leaves_the_timeline_as_it_was(void **state)
{
    (void)state;
    axl_timeline *tl;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_tl_new(NULL, &tl, &eb), 0);
    /* Two samples already in flight. */
    axl_chain busy = seed_chain(100, 1800);
    assert_int_equal(axl_tl_place(tl, 1, &busy, 0, NULL, &eb), 0);
    assert_int_equal(axl_tl_place(tl, 2, &busy, 0, NULL, &eb), 0);
    const axl_tl_slot *before;
    axl_tl_slot kept[AXL_CHAIN_MAX];
    assert_int_equal(axl_tl_get(tl, 2, NULL, &before), 0);
    memcpy(kept, before, busy.n * sizeof(kept[0]));

    uint32_t ids[N], chars[N];
    axl_chain c[N];
    int ord[N], arrival[N];
    make_batch(ids, c, chars, N, 42);
    for (int i = 0; i < N; i++)
        arrival[i] = i;
    lab_order_stats st;
    /* A budget far above what the search needs: it stops when no move helps, so the
     * result does not depend on the machine's speed. */
    double t0 = axl_now();
    lab_batch_order(tl, ids, c, chars, N, 10, 30, ord, &st);
    assert_true(axl_now() - t0 < 30);
    assert_permutation(ord, N);
    assert_true(st.evals > N);
    /* Its own scores are what the timeline says. */
    double a = last_end(tl, ids, c, arrival, N, 10), b = last_end(tl, ids, c, ord, N, 10);
    assert_near(st.arrival.last, a, 1e-6);
    assert_near(st.best.last, b, 1e-6);
    /* Long anneals first in arrival order: the chosen order ends the batch earlier, and
     * no earlier than the greedy start alone (no budget). */
    assert_true(b < a - 60);
    int greedy[N];
    lab_batch_order(tl, ids, c, chars, N, 10, 0, greedy, NULL);
    assert_true(b <= last_end(tl, ids, c, greedy, N, 10) + 1e-6);
    /* The timeline is as it was: the two samples in flight, at their times. */
    assert_int_equal(axl_tl_count(tl), 2);
    assert_int_equal(axl_tl_get(tl, 2, NULL, &before), 0);
    assert_memory_equal(before, kept, busy.n * sizeof(kept[0]));
    axl_tl_free(tl);
}

static void test_no_budget_is_the_greedy_order_and_deterministic(void **state)
{
    (void)state;
    axl_timeline *tl;
    assert_int_equal(axl_tl_new(NULL, &tl, NULL), 0);
    uint32_t ids[N], chars[N];
    axl_chain c[N];
    int o1[N], o2[N], arrival[N];
    make_batch(ids, c, chars, N, 7);
    for (int i = 0; i < N; i++)
        arrival[i] = i;
    lab_order_stats s1, s2;
    lab_batch_order(tl, ids, c, chars, N, 0, 0, o1, &s1);
    lab_batch_order(tl, ids, c, chars, N, 0, 0, o2, &s2);
    assert_permutation(o1, N);
    assert_memory_equal(o1, o2, sizeof(o1));
    /* Greedy and the two whole-order scores only: no improvement moves were tried. */
    assert_true(s1.evals == 2);
    assert_true(s1.best.last <= s1.arrival.last + 1e-6);
    assert_near(s1.best.last, last_end(tl, ids, c, o1, N, 0), 1e-6);
    assert_near(s1.arrival.last, last_end(tl, ids, c, arrival, N, 0), 1e-6);
    assert_int_equal(axl_tl_count(tl), 0);
    axl_tl_free(tl);
}

static void test_one_sample_and_none(void **state)
{
    (void)state;
    axl_timeline *tl;
    assert_int_equal(axl_tl_new(NULL, &tl, NULL), 0);
    uint32_t id = 5, ch;
    axl_chain c = seed_chain(100, 600);
    ch = char_index(&c);
    int ord[1] = {-1};
    lab_batch_order(tl, &id, &c, &ch, 1, 0, 1, ord, NULL);
    assert_int_equal(ord[0], 0);
    lab_batch_order(tl, NULL, NULL, NULL, 0, 0, 1, ord, NULL); /* nothing to order */
    assert_int_equal(axl_tl_count(tl), 0);
    axl_tl_free(tl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_beats_arrival_and_leaves_the_timeline_as_it_was),
        cmocka_unit_test(test_no_budget_is_the_greedy_order_and_deterministic),
        cmocka_unit_test(test_one_sample_and_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
