/*
 * test_storage_crash: a child process (storage_child crash) commits random batches with
 * full sync and reports every commit that returned; this test SIGKILLs it at random
 * moments, 60 times, and after each kill reopens the store and checks that
 *   - every reported commit is there, byte for byte (FNV of its encoded events);
 *   - no partial batch is visible (the log is a sequence of complete batches);
 *   - folding the log gives exactly the stored records (axl_store_verify_fold);
 *   - seqs are dense, and continue across the restart without a gap;
 *   - the writer lock died with the child (the reopen as writer succeeds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test/storage/testlib.h"

#define ROUNDS 60
#define MAX_DELAY_MS 30

typedef struct commit_rec {
    uint64_t first, last, hash;
} commit_rec;

typedef struct commits {
    commit_rec *v;
    size_t n, cap;
} commits;

static void push(commits *c, commit_rec r)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->v = realloc(c->v, c->cap * sizeof(*c->v));
        assert_non_null(c->v);
    }
    c->v[c->n++] = r;
}

/* Every reported commit [from, c->n) must be in the store with the same bytes. */
static void check_reported(axl_store *s, const commits *c, size_t from)
{
    for (size_t i = from; i < c->n; i++) {
        axl_store_iter *it;
        axl_errbuf eb;
        uint64_t seq, h = TL_FNV0, count = 0;
        const void *d;
        size_t len;
        assert_int_equal(axl_store_iter_open(s, c->v[i].first, c->v[i].last, &it, &eb), 0);
        while (axl_store_iter_next(it, &seq, &d, &len, NULL) == 0) {
            h = tl_fnv(h, d, len);
            count++;
        }
        axl_store_iter_close(it);
        if (count != c->v[i].last - c->v[i].first + 1 || h != c->v[i].hash)
            fail_msg("reported commit %llu..%llu is lost or changed (%llu events found)",
                     (unsigned long long)c->v[i].first, (unsigned long long)c->v[i].last,
                     (unsigned long long)count);
    }
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - 1000 * (long)(ms / 1000)) * 1e6)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void test_crash_sigkill(void **state)
{
    (void)state;
    char dir[256], seedarg[32];
    uint64_t rng = 0xa11e;
    commits all = {0};
    uint64_t last_seq = 0;
    int kills = 0, rounds_with_commits = 0;

    assert_int_equal(tl_mkdtemp(dir), 0);
    for (int round = 0; round < ROUNDS; round++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        snprintf(seedarg, sizeof(seedarg), "%d", 1000 + round);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            dup2(pfd[1], 1);
            execl(STORAGE_CHILD, STORAGE_CHILD, "crash", dir, seedarg, (char *)NULL);
            _exit(127);
        }
        close(pfd[1]);
        /*
         * A random moment: one round in five from the spawn (start-up, open, resume and
         * the first commits), the others some time after the first reported commit, so
         * that a slow, shared machine still gets its kills deep in the commit loop.
         */
        size_t cap = 1 << 16, n = 0;
        char *out = malloc(cap);
        assert_non_null(out);
        out[0] = '\0';
        if (round % 5 == 0) {
            sleep_ms((double)tl_below(&rng, 1000) / 100.0);
        } else {
            struct pollfd pf = {pfd[0], POLLIN, 0};
            while (strchr(out, '\n') == NULL && poll(&pf, 1, 10000) > 0) {
                ssize_t r = read(pfd[0], out + n, cap - 1 - n);
                if (r <= 0)
                    break;
                n += (size_t)r;
                out[n] = '\0';
            }
            sleep_ms((double)tl_below(&rng, MAX_DELAY_MS * 100) / 100.0);
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);

        /* collect the rest of what the child reported before it died */
        ssize_t r;
        while ((r = read(pfd[0], out + n, cap - 1 - n)) > 0) {
            n += (size_t)r;
            if (n + 1 >= cap) {
                cap *= 2;
                out = realloc(out, cap);
                assert_non_null(out);
            }
        }
        out[n] = '\0';
        close(pfd[0]);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("round %d: the child ended by itself (0x%x): %s", round, status, out);
        kills++;
        size_t from = all.n;
        for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            commit_rec c;
            unsigned long long a, b, h;
            if (line[0] == 'E')
                fail_msg("round %d: child error: %s", round, line);
            if (sscanf(line, "C %llu %llu %llx", &a, &b, &h) != 3)
                continue; /* cannot happen: lines are written whole */
            c = (commit_rec){a, b, h};
            push(&all, c);
        }
        free(out);
        if (all.n > from) {
            rounds_with_commits++;
            /* the restart continued the log exactly where the last check left it */
            if (all.v[from].first != last_seq + 1)
                fail_msg("round %d: first commit got seq %llu, the log ended at %llu", round,
                         (unsigned long long)all.v[from].first, (unsigned long long)last_seq);
        }

        /* reopen as the next writer would, and check everything */
        axl_store *s = NULL;
        axl_errbuf eb;
        int rv = axl_store_open(dir, NULL, &s, &eb);
        if (rv != 0)
            fail_msg("round %d: reopen after SIGKILL: %s: %s", round, axl_err_name(rv), eb.msg);
        check_reported(s, &all, from);
        long batches = tl_check_batches(s);
        assert_true(batches >= 0);
        axl_store_fold_report rep;
        rv = axl_store_verify_fold(s, &rep, &eb);
        if (rv != 0)
            fail_msg("round %d: fold differs from the records: %s", round, eb.msg);
        uint64_t now;
        assert_int_equal(axl_store_last_seq(s, &now, NULL), 0);
        assert_int_equal(rep.events, now);
        assert_true(now >= last_seq);
        if (all.n > 0)
            assert_true(now >= all.v[all.n - 1].last);
        last_seq = now;
        axl_store_close(s);
    }

    /* at the end, every commit ever reported is still there */
    axl_store *s = NULL;
    assert_int_equal(axl_store_open(dir, NULL, &s, NULL), 0);
    check_reported(s, &all, 0);
    axl_store_close(s);
    print_message("%d kills, %zu reported commits in %d rounds, %llu events\n", kills, all.n,
                  rounds_with_commits, (unsigned long long)last_seq);
    assert_true(kills >= 50);
    assert_true(rounds_with_commits >= ROUNDS * 4 / 5 - 2);
    assert_true(all.n >= 60);
    free(all.v);
    tl_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
