/*
 * storage_child - the other process of the storage tests.
 *
 *   storage_child crash <dir> <seed>
 *       Writer with full sync, forever: resumes the random model from the store, commits
 *       random batches and, after each commit returned, writes one line to stdout:
 *       "C <first_seq> <last_seq> <fnv64 of the batch's encoded events>\n". The test
 *       SIGKILLs it at a random moment.
 *   storage_child follow <dir> <n>
 *       Read-only, like `axle replay`: follows the log from seq 1 while another process
 *       appends, checking density and decoding every event, until it has seen n events;
 *       prints "ready <seq>" once it has caught up the first time, and at the end
 *       "seen <events> rounds <snapshots that brought new events>". Exit 0 or 1.
 *   storage_child hold <dir> <ms>
 *       Opens the store as writer, prints "open", holds it for ms, closes. Exit 0 or the
 *       negated error code.
 *   storage_child open <dir> [ro]
 *       Tries one open (writer, or read-only with "ro"), prints "<AXL_CODE> <message>",
 *       exits 0.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test/storage/testlib.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* one write per line: a line is whole or absent when the process dies */
    if (n > 0 && write(1, line, (size_t)n) != n)
        _exit(3);
}

static int crash(const char *dir, uint64_t seed)
{
    axl_store *s = NULL;
    axl_store_batch *b;
    axl_errbuf eb;
    tl_model m;
    int rv;

    if ((rv = axl_store_open(dir, NULL, &s, &eb)) != 0) {
        say("E open %s\n", eb.msg);
        return 2;
    }
    if (tl_model_init(&m, seed, false, s) != 0 || axl_store_batch_new(&b) != 0) {
        say("E model\n");
        return 2;
    }
    for (;;) {
        uint64_t first;
        axl_store_batch_clear(b);
        size_t n = tl_model_batch(&m, b, 1 + (int)tl_below(&m.rng, 12));
        if ((rv = axl_store_commit(s, b, &first, &eb)) != 0) {
            say("E commit %s\n", eb.msg);
            return 2;
        }
        uint64_t h = TL_FNV0;
        for (size_t i = 0; i < n; i++) {
            const void *d;
            size_t len;
            axl_store_batch_event(b, i, NULL, &d, &len);
            h = tl_fnv(h, d, len);
        }
        say("C %llu %llu %016llx\n", (unsigned long long)first, (unsigned long long)(first + n - 1),
            (unsigned long long)h);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int follow(const char *dir, uint64_t target)
{
    axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
    axl_store *s = NULL;
    axl_errbuf eb;
    uint64_t next = 1, rounds = 0;
    double t0 = now_s();
    int rv;

    while ((rv = axl_store_open(dir, &ro, &s, &eb)) != 0) {
        if (now_s() - t0 > 20) {
            say("open: %s\n", eb.msg);
            return 1;
        }
        usleep(1000);
    }
    while (next <= target) {
        axl_store_iter *it;
        uint64_t seq;
        const void *d;
        size_t len;
        bool got = false;
        if (now_s() - t0 > 20) {
            say("timeout at seq %llu\n", (unsigned long long)next);
            return 1;
        }
        if ((rv = axl_store_iter_open(s, next, 0, &it, &eb)) != 0) {
            say("iter: %s\n", eb.msg);
            return 1;
        }
        while ((rv = axl_store_iter_next(it, &seq, &d, &len, &eb)) == 0) {
            axl_event ev;
            if (seq != next || axl_event_decode(d, len, &ev, &eb) != 0 || ev.seq != seq) {
                say("bad event at %llu (expected %llu): %s\n", (unsigned long long)seq,
                    (unsigned long long)next, eb.msg);
                return 1;
            }
            next++;
            got = true;
        }
        axl_store_iter_close(it);
        if (rv != AXL_ENOENT) {
            say("next: %s\n", eb.msg);
            return 1;
        }
        if (got && rounds++ == 0)
            say("ready %llu\n", (unsigned long long)(next - 1)); /* caught up once */
        if (!got)
            usleep(500);
    }
    axl_store_close(s);
    say("seen %llu rounds %llu\n", (unsigned long long)(next - 1), (unsigned long long)rounds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "crash") == 0)
        return crash(argv[2], strtoull(argv[3], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "follow") == 0)
        return follow(argv[2], strtoull(argv[3], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "hold") == 0) {
        axl_store *s = NULL;
        axl_errbuf eb;
        int rv = axl_store_open(argv[2], NULL, &s, &eb);
        if (rv != 0) {
            say("%s %s\n", axl_err_name(rv), eb.msg);
            return -rv;
        }
        say("open\n");
        usleep((useconds_t)atoi(argv[3]) * 1000);
        axl_store_close(s);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "open") == 0) {
        axl_store_options opt = {0, 0, 0, NULL};
        if (argc >= 4 && strcmp(argv[3], "ro") == 0)
            opt.flags = AXL_STORE_RDONLY;
        axl_store *s = NULL;
        axl_errbuf eb = {{0}};
        int rv = axl_store_open(argv[2], &opt, &s, &eb);
        say("%s %s\n", axl_err_name(rv), rv ? eb.msg : "");
        axl_store_close(s);
        return 0;
    }
    fprintf(stderr, "usage: storage_child crash|follow|hold|open ...\n");
    return 2;
}
