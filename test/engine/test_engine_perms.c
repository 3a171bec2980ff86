/*
 * test_engine_perms.c - who may touch a campaign: under umask 000, `axle run` and `axle
 * worker` make their socket files 0600, the store directory 0700 and its files 0600; a
 * second uid (nobody, in a forked child) can neither read the stream nor open the store
 * nor drive the worker. With --group the same files are 0660/0770 and the group's, and a
 * member of the group gets in (which also shows that the uid switch itself works).
 * Needs root (to become nobody); skipped otherwise.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pubsub0/sub.h>

#include "engine/stream.h"
#include "hw/worker/axl_net.h"
#include "engine_testlib.h"
#include "storage/axl_store.h"
#include "test/common/spawn.h"

#ifndef AXLE_BIN
#error "AXLE_BIN must name the axle binary"
#endif

static pid_t children[4];

static pid_t spawn(const char *const argv[])
{
    pid_t pid = axl_test_spawn(AXLE_BIN, argv, NULL, AXL_TEST_INHERIT, false);
    assert_true(pid >= 0);
    for (size_t i = 0; i < 4; i++)
        if (children[i] == 0) {
            children[i] = pid;
            break;
        }
    return pid;
}

/* A failed assertion must not leave an engine or worker running. */
static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++)
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    return 0;
}

static int count_event(void *ud, uint64_t seq, const void *data, size_t len)
{
    (void)seq;
    (void)data;
    (void)len;
    (*(int *)ud)++;
    return 1; /* one is enough */
}

/* Waits (bounded) until the replay service at rep answers root; the engine is then up. */
static void wait_replay_up(const char *rep, pid_t engine)
{
    for (int i = 0; i < 300; i++) {
        int n = 0;
        uint64_t next;
        if (axl_replay_fetch(rep, 1, 0, 200, count_event, &n, &next, NULL) == 0 && n > 0)
            return;
        assert_int_equal(waitpid(engine, NULL, WNOHANG), 0); /* still running */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("the replay service at %s never answered", rep);
}

static void wait_file(const char *path)
{
    struct stat st;
    for (int i = 0; i < 500 && stat(path, &st) != 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(stat(path, &st), 0);
}

static const char *et_path(char *out, const char *dir, const char *name)
{
    snprintf(out, 800, "%s/%s", dir, name);
    return out;
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 0777;
}

/*
 * The probe, run as nobody in a fresh process (nng is not fork-safe, so the child execs
 * this binary with --probe): bit 0 = replay answered, bit 1 = the store opened, bit 2 =
 * the worker accepted a connection, bit 3 = the live stream connected. "-" skips one.
 */
static int probe(const char *rep, const char *pub, const char *store, const char *worker)
{
    int got = 0;
    if (strcmp(rep, "-") != 0) {
        int n = 0;
        uint64_t next;
        if (axl_replay_fetch(rep, 1, 0, 500, count_event, &n, &next, NULL) == 0 && n > 0)
            got |= 1;
    }
    if (strcmp(store, "-") != 0) {
        axl_store *s = NULL;
        axl_store_options ro = {AXL_STORE_RDONLY, 0, 0, NULL};
        if (axl_store_open(store, &ro, &s, NULL) == 0) {
            got |= 2;
            axl_store_close(s);
        }
    }
    if (strcmp(worker, "-") != 0) {
        nng_socket p;
        if (nng_pair1_open(&p) == 0 && nng_dial(p, worker, NULL, 0) == 0)
            got |= 4;
        nng_close(p);
    }
    if (strcmp(pub, "-") != 0) {
        nng_socket sub;
        if (nng_sub0_open(&sub) == 0 && nng_dial(sub, pub, NULL, 0) == 0)
            got |= 8;
        nng_close(sub);
    }
    return got;
}

static int as_nobody(const char *rep, const char *pub, const char *store, const char *worker)
{
    const char *argv[] = {
        "test_engine_perms",   "--probe", rep ? rep : "-", pub ? pub : "-", store ? store : "-",
        worker ? worker : "-", NULL};
    struct passwd *pw = getpwnam("nobody"); /* here: the child makes only signal-safe calls */
    uid_t uid = pw != NULL ? pw->pw_uid : 0;
    gid_t gid = pw != NULL ? pw->pw_gid : 0;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (pw == NULL || setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(100);
        execv("/proc/self/exe", (char *const *)argv);
        _exit(101);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_true(WEXITSTATUS(st) < 100);
    return WEXITSTATUS(st);
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    for (size_t i = 0; i < 4; i++)
        if (children[i] == pid)
            children[i] = 0;
}

static void test_umask000_second_uid(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    mode_t old = umask(0);
    char *dir = et_mkdtemp();
    assert_int_equal(chmod(dir, 0777), 0); /* the socket files are the only barrier */
    char *exp = et_write_file(
        dir, "perm.json",
        "{\"name\": \"perm\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"scheduler\": {\"total_trials\": 100000, \"max_pending_trials\": 1},"
        "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": 0.2}}");
    assert_int_equal(chmod(exp, 0644), 0);
    char store[600], pub[700], rep[700], gstore[600], gpub[700], grep_[700], wsock[700], p[800];
    snprintf(store, sizeof(store), "%s/store", dir);
    snprintf(pub, sizeof(pub), "ipc://%s/events.pub", dir);
    snprintf(rep, sizeof(rep), "ipc://%s/replay.rep", dir);
    snprintf(gstore, sizeof(gstore), "%s/gstore", dir);
    snprintf(gpub, sizeof(gpub), "ipc://%s/g.pub", dir);
    snprintf(grep_, sizeof(grep_), "ipc://%s/g.rep", dir);
    snprintf(wsock, sizeof(wsock), "ipc://%s/worker.sock", dir);

    /* owner only */
    const char *run[] = {"axle", "run",      exp, "--store",       store, "--pub",
                         pub,    "--replay", rep, "--no-progress", NULL};
    pid_t eng = spawn(run);
    wait_replay_up(rep, eng);
    assert_int_equal(mode_of(pub + 6), 0600);
    assert_int_equal(mode_of(rep + 6), 0600);
    assert_int_equal(mode_of(store), 0700);
    assert_int_equal(mode_of(et_path(p, store, "data.mdb")), 0600);
    assert_int_equal(mode_of(et_path(p, store, "lock.mdb")), 0600);
    assert_int_equal(mode_of(et_path(p, store, "axle.lock")), 0600);
    const char *wrk[] = {"axle", "worker", "--role", "gripper", "--listen", wsock, NULL};
    pid_t w = spawn(wrk);
    wait_file(wsock + 6);
    assert_int_equal(mode_of(wsock + 6), 0600);
    assert_int_equal(as_nobody(rep, pub, store, wsock), 0); /* refused everywhere */
    stop(w);
    stop(eng);

    /* shared with a group: nobody's own group nogroup, so nobody gets in */
    const char *grun[] = {"axle",     "run", exp,       "--store", gstore,          "--pub", gpub,
                          "--replay", grep_, "--group", "nogroup", "--no-progress", NULL};
    eng = spawn(grun);
    wait_replay_up(grep_, eng);
    struct group *g = getgrnam("nogroup");
    assert_non_null(g);
    struct stat st;
    assert_int_equal(stat(gstore, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0770);
    assert_int_equal(st.st_gid, g->gr_gid);
    assert_int_equal(stat(gpub + 6, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_int_equal(st.st_gid, g->gr_gid);
    assert_int_equal(mode_of(grep_ + 6), 0660);
    assert_int_equal(mode_of(et_path(p, gstore, "data.mdb")), 0660);
    assert_int_equal(as_nobody(grep_, gpub, gstore, NULL), 1 | 2 | 8);
    stop(eng);

    umask(old);
    free(exp);
    et_rmtree(dir);
    free(dir);
}

/* --tls-probe URL CERT KEY CA: 0 when the worker at URL says hello over TLS, else 1. */
static int tls_probe(const char *url, const char *cert, const char *key, const char *ca)
{
    axl_net_opts o = {NULL, cert, key, ca, false};
    nng_socket p;
    void *buf;
    size_t n;
    if (nng_pair1_open(&p) != 0)
        return 2;
    nng_socket_set_ms(p, NNG_OPT_RECVTIMEO, 3000);
    int got = axl_net_dial(p, url, &o, 0, "probe", NULL) == 0 &&
              nng_recv(p, &buf, &n, NNG_FLAG_ALLOC) == 0;
    if (got)
        nng_free(buf, n);
    nng_close(p);
    return got ? 0 : 1;
}

static int run_tls_probe(const char *url, const char *dir, const char *cert, const char *key,
                         const char *ca)
{
    char c[700], k[700], a[700];
    snprintf(c, sizeof(c), "%s/%s", dir, cert);
    snprintf(k, sizeof(k), "%s/%s", dir, key);
    snprintf(a, sizeof(a), "%s/%s", dir, ca);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *argv[] = {"test_engine_perms", "--tls-probe", url, c, k, a, NULL};
        execv("/proc/self/exe", (char *const *)argv);
        _exit(101);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int run_wait(const char *const argv[], double seconds)
{
    pid_t pid = spawn(argv);
    for (int i = 0; i < (int)(seconds * 50); i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            for (size_t j = 0; j < 4; j++)
                if (children[j] == pid)
                    children[j] = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("%s %s did not finish within %g s", argv[0], argv[1], seconds);
    return -1;
}

/*
 * Certificates made with openssl: a CA, a server and a client certificate it signed (for
 * IP 127.0.0.1), and a rogue CA with a certificate of the same name. A worker and the
 * event stream over tls+tcp:// on loopback admit the CA's certificates and refuse the
 * rogue one; plain tcp:// is refused without --insecure.
 */
static void test_tls_worker_and_subscriber(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "(cd %s && printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1,DNS:localhost\\n' > "
             "san.ext && "
             "G='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
             "openssl req -x509 $G -keyout ca.key -out ca.pem -days 2 -subj /CN=axl-ca && "
             "openssl req -x509 $G -keyout rca.key -out rca.pem -days 2 -subj /CN=axl-ca && "
             "for n in srv cli rogue; do ca=ca; [ $n = rogue ] && ca=rca; "
             "openssl req $G -keyout $n.key -out $n.csr -subj /CN=127.0.0.1 && "
             "openssl x509 -req -in $n.csr -CA $ca.pem -CAkey $ca.key -CAcreateserial "
             "-out $n.pem -days 2 -extfile san.ext || exit 1; done) >/dev/null 2>&1",
             dir);
    assert_int_equal(system(cmd), 0);
    char srv[700], key[700], ca[700], cli[700], ckey[700], rogue[700], rkey[700], exp[700];
    snprintf(srv, sizeof(srv), "%s/srv.pem", dir);
    snprintf(key, sizeof(key), "%s/srv.key", dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(cli, sizeof(cli), "%s/cli.pem", dir);
    snprintf(ckey, sizeof(ckey), "%s/cli.key", dir);
    snprintf(rogue, sizeof(rogue), "%s/rogue.pem", dir);
    snprintf(rkey, sizeof(rkey), "%s/rogue.key", dir);
    int port = 20000 + (int)(getpid() % 20000);
    char wurl[64], purl[64], rurl[64], plain[64];
    snprintf(wurl, sizeof(wurl), "tls+tcp://127.0.0.1:%d", port);
    snprintf(purl, sizeof(purl), "tls+tcp://127.0.0.1:%d", port + 1);
    snprintf(rurl, sizeof(rurl), "tls+tcp://127.0.0.1:%d", port + 2);
    snprintf(plain, sizeof(plain), "tcp://127.0.0.1:%d", port + 3);

    /* plain tcp: refused, unless --insecure */
    const char *wplain[] = {"axle", "worker", "--role", "gripper", "--listen", plain, NULL};
    assert_int_equal(run_wait(wplain, 10), 2);
    const char *wins[] = {"axle",     "worker", "--role",     "gripper",
                          "--listen", plain,    "--insecure", "--exit-when-alone",
                          "0.2",      NULL};
    assert_int_equal(run_wait(wins, 10), 0);

    /* a worker over TLS */
    const char *w[] = {"axle", "worker",    "--role", "gripper",  "--listen", wurl, "--tls-cert",
                       srv,    "--tls-key", key,      "--tls-ca", ca,         NULL};
    pid_t wp = spawn(w);
    int ok = 1;
    for (int i = 0; i < 100 && ok != 0; i++) /* until it listens */
        ok = run_tls_probe(wurl, dir, "cli.pem", "cli.key", "ca.pem");
    assert_int_equal(ok, 0);
    assert_int_equal(run_tls_probe(wurl, dir, "rogue.pem", "rogue.key", "ca.pem"), 1);
    assert_int_equal(run_tls_probe(wurl, dir, "rogue.pem", "rogue.key", "rca.pem"), 1);
    stop(wp);

    /* the event stream and replay over TLS, and a subscriber */
    char *path = et_write_file(
        dir, "tls.json",
        "{\"name\": \"tls\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"scheduler\": {\"total_trials\": 100000, \"max_pending_trials\": 1},"
        "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": "
        "0.1}}");
    snprintf(exp, sizeof(exp), "%s/store", dir);
    const char *run[] = {"axle", "run",      path, "--store",       exp, "--pub",
                         purl,   "--replay", rurl, "--tls-cert",    srv, "--tls-key",
                         key,    "--tls-ca", ca,   "--no-progress", NULL};
    pid_t eng = spawn(run);
    const char *sub[] = {"axle",      "subscribe", "--pub",    purl,         "--replay",
                         rurl,        "--count",   "5",        "--tls-cert", cli,
                         "--tls-key", ckey,        "--tls-ca", ca,           NULL};
    int rc = 1;
    for (int i = 0; i < 50 && rc != 0; i++) /* until the engine listens */
        rc = run_wait(sub, 30);
    assert_int_equal(rc, 0);
    const char *bad[] = {"axle",      "subscribe", "--pub",    purl,         "--replay",
                         rurl,        "--count",   "5",        "--tls-cert", rogue,
                         "--tls-key", rkey,        "--tls-ca", ca,           NULL};
    assert_int_not_equal(run_wait(bad, 30), 0);
    stop(eng);

    /* The same from the experiment file's tls section (paths relative to the file), with
     * no --tls-* option: the stream admits the CA's client and refuses the rogue one. */
    char *path2 = et_write_file(
        dir, "tls2.json",
        "{\"name\": \"tls2\", \"search_space\": {\"parameters\": ["
        "{\"name\": \"x1\", \"type\": \"range\", \"bounds\": [-5, 10]},"
        "{\"name\": \"x2\", \"type\": \"range\", \"bounds\": [0, 15]}]},"
        "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
        "\"scheduler\": {\"total_trials\": 100000, \"max_pending_trials\": 1},"
        "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": 0.1},"
        "\"tls\": {\"cert\": \"srv.pem\", \"key\": \"./srv.key\", \"ca\": \"ca.pem\"}}");
    char purl2[64], rurl2[64], store2[700];
    snprintf(purl2, sizeof(purl2), "tls+tcp://127.0.0.1:%d", port + 4);
    snprintf(rurl2, sizeof(rurl2), "tls+tcp://127.0.0.1:%d", port + 5);
    snprintf(store2, sizeof(store2), "%s/store2", dir);
    const char *run2[] = {"axle", "run",      path2, "--store",       store2, "--pub",
                          purl2,  "--replay", rurl2, "--no-progress", NULL};
    eng = spawn(run2);
    const char *sub2[] = {"axle",      "subscribe", "--pub",    purl2,        "--replay",
                          rurl2,       "--count",   "5",        "--tls-cert", cli,
                          "--tls-key", ckey,        "--tls-ca", ca,           NULL};
    rc = 1;
    for (int i = 0; i < 50 && rc != 0; i++) /* until the engine listens */
        rc = run_wait(sub2, 30);
    assert_int_equal(rc, 0);
    const char *bad2[] = {"axle",      "subscribe", "--pub",    purl2,        "--replay",
                          rurl2,       "--count",   "5",        "--tls-cert", rogue,
                          "--tls-key", rkey,        "--tls-ca", ca,           NULL};
    assert_int_not_equal(run_wait(bad2, 30), 0);
    stop(eng);
    free(path2);
    free(path);
    et_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--probe") == 0)
        return probe(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 6 && strcmp(argv[1], "--tls-probe") == 0)
        return tls_probe(argv[2], argv[3], argv[4], argv[5]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_umask000_second_uid, teardown),
        cmocka_unit_test_teardown(test_tls_worker_and_subscriber, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
