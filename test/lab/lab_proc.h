/*
 * lab_proc.h - helpers for the process tests of test/lab (header-only, static): `axle
 * worker` children, a raw PAIR1 client that plays the engine, recursive temp dirs.
 */
#ifndef AXL_LAB_PROC_H
#define AXL_LAB_PROC_H

#include "lab_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "hw/line/axl_chain.h"
#include "hw/line/axl_recipe.h"
#include "hw/line/axl_task.h"
#include "proto/axl_util.h"
#include "proto/axl_wire.h"
#include "test/common/spawn.h"

#ifndef AXLE_BIN
#error "AXLE_BIN must name the axle binary"
#endif

static inline double lp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void lp_sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6)};
    nanosleep(&ts, NULL);
}

/* Removes a directory tree (test temp dirs only). */
static inline void lp_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[1100];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(p, sizeof(p), "%.700s/%.255s", dir, e->d_name) >= (int)sizeof(p))
            continue;
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            lp_rmtree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Children spawned by the helpers, killed by lp_kill_all (a failed test's teardown). */
static pid_t lp_children[64];
static int lp_nchildren;

static inline void lp_track(pid_t pid)
{
    for (int i = 0; i < lp_nchildren; i++)
        if (lp_children[i] <= 0) {
            lp_children[i] = pid;
            return;
        }
    if (lp_nchildren < 64)
        lp_children[lp_nchildren++] = pid;
}

static inline void lp_untrack(pid_t pid)
{
    for (int i = 0; i < lp_nchildren; i++)
        if (lp_children[i] == pid)
            lp_children[i] = 0;
}

/* SIGKILL and reap every child still tracked; a cmocka teardown. */
static inline int lp_kill_all(void **state)
{
    (void)state;
    for (int i = 0; i < lp_nchildren; i++)
        if (lp_children[i] > 0) {
            kill(lp_children[i], SIGKILL);
            waitpid(lp_children[i], NULL, 0);
            lp_children[i] = 0;
        }
    return 0;
}

/*
 * fork + exec of path with argv, stdout (and stderr unless verbose) on /dev/null. The child
 * makes only async-signal-safe calls before exec: these helpers also run on an engine's
 * loop thread (a test's hook), where another thread may hold malloc's or stdio's lock at
 * the fork — a child calling freopen() then would wait for it forever, never exec'ing.
 */
static inline pid_t lp_spawn_quiet(const char *path, const char *const argv[])
{
    bool verbose = getenv("AXL_TEST_VERBOSE") != NULL;
    pid_t pid = axl_test_spawn(path, argv, NULL, verbose ? AXL_TEST_INHERIT : NULL, false);
    assert_true(pid >= 0);
    lp_track(pid);
    return pid;
}

/* fork/exec of `axle worker --role ROLE --listen ADDR ... extra` (NULL-terminated).
 * stderr goes to /dev/null unless AXL_TEST_VERBOSE is set. */
static inline pid_t lp_spawn_worker(const char *role, const char *addr, const char *data_dir,
                                    const char *const *extra)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = AXLE_BIN;
    argv[n++] = "worker";
    argv[n++] = "--role";
    argv[n++] = role;
    argv[n++] = "--listen";
    argv[n++] = addr;
    argv[n++] = "--heartbeat-ms";
    argv[n++] = "50";
    argv[n++] = "--exit-when-alone";
    argv[n++] = "30"; /* never outlives a crashed test for long */
    if (data_dir != NULL) {
        argv[n++] = "--data-dir";
        argv[n++] = data_dir;
    }
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return lp_spawn_quiet(AXLE_BIN, argv);
}

/* Waits at most seconds for pid; returns its wait status, or -1 (still running). */
static inline int lp_wait(pid_t pid, double seconds)
{
    double end = lp_now() + seconds;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            lp_untrack(pid);
            return st;
        }
        if (lp_now() > end)
            return -1;
        lp_sleep_ms(5);
    }
}

/* Stops a child for good (SIGTERM, then SIGKILL) and reaps it. */
static inline void lp_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    if (lp_wait(pid, 3) == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        lp_untrack(pid);
    }
}

/* ---- a raw client playing the engine -------------------------------------------------- */

typedef struct lp_client {
    nng_socket s;
} lp_client;

static inline void lp_connect(lp_client *c, const char *addr)
{
    assert_int_equal(nng_pair1_open(&c->s), 0);
    nng_socket_set_ms(c->s, NNG_OPT_RECVTIMEO, 3000);
    nng_socket_set_ms(c->s, NNG_OPT_RECONNMINT, 10);
    nng_socket_set_ms(c->s, NNG_OPT_RECONNMAXT, 50);
    nng_socket_set_int(c->s, NNG_OPT_SENDBUF, 64);
    assert_int_equal(nng_dial(c->s, addr, NULL, NNG_FLAG_NONBLOCK), 0);
}

static inline void lp_close(lp_client *c)
{
    nng_close(c->s);
}

static inline void lp_send_raw(lp_client *c, const void *buf, size_t len)
{
    assert_int_equal(nng_send(c->s, (void *)buf, len, 0), 0);
}

static inline void lp_send(lp_client *c, const axl_wire_msg *m)
{
    msgpack_sbuffer sb;
    axl_errbuf eb = {{0}};
    msgpack_sbuffer_init(&sb);
    int rv = axl_wire_encode(m, &sb, &eb);
    if (rv != 0)
        fail_msg("encode: %s", eb.msg);
    lp_send_raw(c, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* One received message, decoded; lp_msg_free releases it. */
typedef struct lp_msg {
    void *buf;
    size_t len;
    axl_wire_msg m;
} lp_msg;

static inline void lp_msg_free(lp_msg *m)
{
    axl_wire_free(&m->m);
    nng_free(m->buf, m->len);
    m->buf = NULL;
}

/* Next message other than a heartbeat or progress (counted in *beats when not NULL);
 * 0, or NNG_ETIMEDOUT. The message must decode. */
static inline int lp_recv(lp_client *c, lp_msg *out, int *beats)
{
    for (;;) {
        axl_errbuf eb = {{0}};
        int rv = nng_recv(c->s, &out->buf, &out->len, NNG_FLAG_ALLOC);
        if (rv != 0)
            return rv;
        if (axl_wire_decode(out->buf, out->len, &out->m, &eb) != 0)
            fail_msg("the worker sent a message that does not decode: %s", eb.msg);
        if (out->m.type != AXL_WIRE_HEARTBEAT && out->m.type != AXL_WIRE_PROGRESS)
            return 0;
        if (beats != NULL && out->m.type == AXL_WIRE_HEARTBEAT)
            (*beats)++;
        lp_msg_free(out);
    }
}

/* The next message must be of type t (heartbeats and progress skipped). */
static inline void lp_expect(lp_client *c, axl_wire_type t, lp_msg *out)
{
    int rv = lp_recv(c, out, NULL);
    if (rv != 0)
        fail_msg("waiting for %s: %s", axl_wire_type_name(t), nng_strerror(rv));
    if (out->m.type != t)
        fail_msg("expected %s, got %s", axl_wire_type_name(t), axl_wire_type_name(out->m.type));
}

/* ---- tasks of the seed recipe ----------------------------------------------------------- */

/* The chain index of the seed sample's task that a role runs. */
static inline uint32_t lp_seed_index(axl_worker_role role)
{
    switch (role) {
    case AXL_ROLE_GRIPPER:
        return 0; /* storage_to_spincoater */
    case AXL_ROLE_SPINCOATER:
        return 1;
    case AXL_ROLE_HOTPLATE:
        return 3;
    case AXL_ROLE_STORAGE:
        return 5; /* rest */
    default:
        return 7; /* characterize */
    }
}

/* The simulated world's film of a sample, as the simulated spin coater and hotplate leave
 * it (hw/worker/driver_sim.c): what a simulated characterization then measures. */
static inline void lp_sim_film(const char *data_dir, const char *exp, const char *sample,
                               double volume, double rate, double timing, double anneal)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/sim", data_dir, exp);
    assert_int_equal(axl_mkdir_p(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/%s/sim/%s.film", data_dir, exp, sample);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%.17g %.17g %.17g %.17g\n", volume, rate, timing, anneal);
    fclose(f);
}

/* Sends task `index` of the seed chain for trial (params from axl_task_spec_encode). */
static inline void lp_send_seed_task(lp_client *c, const char *exp, uint32_t trial, uint32_t index,
                                     double start_at)
{
    axl_recipe r;
    axl_chain ch;
    axl_task_spec spec;
    char id[AXL_WIRE_MAX_ID + 1], sample[32];
    axl_recipe_seed(96, 66, -13.75, 1980, &r);
    assert_int_equal(axl_chain_from_recipe(&r, &ch, NULL), 0);
    snprintf(sample, sizeof(sample), "sample%u", trial);
    axl_task_spec_from_chain(&ch, index, &r, sample, &spec);
    if (ch.task[index].kind == AXL_TASK_CHARACTERIZE) {
        spec.has_pl = true;
        spec.pl_wl_min = 650;
        spec.pl_wl_max = 1100;
        spec.pl_wl_guess = 730;
    }
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    assert_int_equal(axl_task_spec_encode(&spec, &params, NULL), 0);
    assert_int_equal(axl_wire_task_id(id, sizeof(id), axl_str_c(exp), trial, index, NULL), 0);
    axl_wire_msg m = {.type = AXL_WIRE_TASK};
    m.task.id = axl_str_c(id);
    m.task.experiment = axl_str_c(exp);
    m.task.trial = trial;
    m.task.index = index;
    m.task.kind = axl_str_c(axl_task_kind_name(ch.task[index].kind));
    m.task.params = (axl_raw){params.data, params.size};
    if (start_at > 0) {
        m.task.has_start_at = true;
        m.task.start_at = start_at;
    }
    lp_send(c, &m);
    msgpack_sbuffer_destroy(&params);
}

static inline double lp_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
