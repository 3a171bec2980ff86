/*
 * test_stream.c - the replay service's request rules (proto/README.md §14): a version
 * check, AXL_ENOTSUP for another type, from > to refused, an oversize request answered
 * with AXL_ETOOBIG — through the decoder and through a live service on ipc://. The count
 * of live events dropped for a stalled subscriber, exact against what it received. And a
 * stalled `axle subscribe` (SIGSTOP, or its stdout not read) while a real campaign runs
 * and ends: it still prints every event once and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "engine/stream.h"
#include "engine_testlib.h"

/* Packs {v, type, from, to} (v < 0: absent) into sb. */
static void req(msgpack_sbuffer *sb, int v, const char *type, uint64_t from, uint64_t to)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (v >= 0) + 3);
    if (v >= 0) {
        msgpack_pack_str_with_body(&pk, "v", 1);
        msgpack_pack_int(&pk, v);
    }
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, type, strlen(type));
    msgpack_pack_str_with_body(&pk, "from", 4);
    msgpack_pack_uint64(&pk, from);
    msgpack_pack_str_with_body(&pk, "to", 2);
    msgpack_pack_uint64(&pk, to);
}

static void test_decode_rules(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    uint64_t from, to, max;
    axl_errbuf eb;
    msgpack_sbuffer_init(&sb);
    req(&sb, 1, "replay", 3, 9);
    assert_int_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb), 0);
    assert_int_equal(from, 3);
    assert_int_equal(to, 9);
    req(&sb, 2, "replay", 1, 0);
    assert_int_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb),
                     AXL_EVERSION);
    req(&sb, -1, "replay", 1, 0);
    assert_int_not_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb), 0);
    req(&sb, 1, "snapshot", 1, 0);
    assert_int_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb),
                     AXL_ENOTSUP);
    req(&sb, 1, "replay", 9, 3);
    assert_int_equal(axl_replay_request_decode(sb.data, sb.size, &from, &to, &max, &eb),
                     AXL_ERANGE);
    char *big = calloc(1, 2u << 20);
    assert_int_equal(axl_replay_request_decode(big, 2u << 20, &from, &to, &max, &eb), AXL_ETOOBIG);
    free(big);
    msgpack_sbuffer_destroy(&sb);
}

/* Sends buf to the live service; returns the reply's "code" (or "" for a non-error). */
static void ask(const char *url, const void *buf, size_t len, char *code, size_t cap)
{
    nng_socket s;
    void *rb;
    size_t rn;
    assert_int_equal(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
    assert_int_equal(nng_dial(s, url, NULL, 0), 0);
    assert_int_equal(nng_send(s, (void *)buf, len, 0), 0);
    assert_int_equal(nng_recv(s, &rb, &rn, NNG_FLAG_ALLOC), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, rb, rn, NULL), MSGPACK_UNPACK_SUCCESS);
    code[0] = '\0';
    msgpack_object_map *m = &u.data.via.map;
    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.via.str.size == 4 && memcmp(m->ptr[i].key.via.str.ptr, "code", 4) == 0)
            snprintf(code, cap, "%.*s", (int)m->ptr[i].val.via.str.size, m->ptr[i].val.via.str.ptr);
    msgpack_unpacked_destroy(&u);
    nng_free(rb, rn);
    nng_close(s);
}

static void test_live_service_errors(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    axl_store *st = NULL;
    assert_int_equal(axl_store_open(dir, NULL, &st, NULL), 0);
    char pub[600], rep[600], code[64];
    snprintf(pub, sizeof(pub), "ipc://%s/e.pub", dir);
    snprintf(rep, sizeof(rep), "ipc://%s/r.rep", dir);
    axl_stream *s = NULL;
    assert_int_equal(axl_stream_open(pub, rep, st, &s, NULL), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    req(&sb, 1, "replay", 1, 0);
    ask(rep, sb.data, sb.size, code, sizeof(code));
    assert_string_equal(code, "");
    req(&sb, 7, "replay", 1, 0);
    ask(rep, sb.data, sb.size, code, sizeof(code));
    assert_string_equal(code, "AXL_EVERSION");
    req(&sb, 1, "nonsense", 1, 0);
    ask(rep, sb.data, sb.size, code, sizeof(code));
    assert_string_equal(code, "AXL_ENOTSUP");
    req(&sb, 1, "replay", 5, 2);
    ask(rep, sb.data, sb.size, code, sizeof(code));
    assert_string_equal(code, "AXL_ERANGE");
    char *big = calloc(1, 2u << 20);
    ask(rep, big, 2u << 20, code, sizeof(code));
    assert_string_equal(code, "AXL_ETOOBIG");
    free(big);
    msgpack_sbuffer_destroy(&sb);
    axl_stream_close(s);
    axl_store_close(st);
    et_rmtree(dir);
    free(dir);
}

/* ---- dropped live events ---------------------------------------------------------------- */

#define DROP_EVENTS 3000
#define DROP_SIZE 4096

/* The subscriber child: a SUB with a queue larger than anything in flight (so that every
 * loss is the publisher's), ready on `ready`, stopped until SIGCONT, then reads until the
 * stream is gone and a second passes; writes how many it got (in order) to `ready`. */
/* net.core.wmem_default: a socket's send buffer, bytes (1 MiB when unknown). */
static long wmem_default(void)
{
    long wmem = 1L << 20;
    FILE *f = fopen("/proc/sys/net/core/wmem_default", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &wmem) != 1)
            wmem = 1L << 20;
        fclose(f);
    }
    return wmem;
}

static _Noreturn void drop_child(const char *url, int ready)
{
    nng_socket sub;
    if (nng_sub0_open(&sub) != 0 || nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0) != 0 ||
        nng_socket_set_int(sub, NNG_OPT_RECVBUF, 8192) != 0 ||
        nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 1000) != 0 || nng_dial(sub, url, NULL, 0) != 0)
        _exit(2);
    if (write(ready, "r", 1) != 1)
        _exit(2);
    raise(SIGSTOP);
    uint32_t got = 0, last = 0;
    for (;;) {
        void *buf;
        size_t len;
        if (nng_recv(sub, &buf, &len, NNG_FLAG_ALLOC) != 0)
            break;
        uint32_t i;
        memcpy(&i, buf, sizeof(i));
        nng_free(buf, len);
        if (len != DROP_SIZE || (got > 0 && i <= last))
            _exit(3); /* out of order or torn */
        last = i;
        got++;
    }
    _exit(write(ready, &got, sizeof(got)) == sizeof(got) ? 0 : 2);
}

static void test_drops_counted(void **state)
{
    (void)state;
    char *dir = et_mkdtemp();
    axl_store *st = NULL;
    assert_int_equal(axl_store_open(dir, NULL, &st, NULL), 0);
    char pub[600], rep[600];
    snprintf(pub, sizeof(pub), "ipc://%s/e.pub", dir);
    snprintf(rep, sizeof(rep), "ipc://%s/r.rep", dir);
    axl_stream *s = NULL;
    assert_int_equal(axl_stream_open(pub, rep, st, &s, NULL), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char fd[16];
    snprintf(fd, sizeof(fd), "%d", fds[1]);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* nng is not fork-safe: the child is this program again */
        close(fds[0]);
        execl("/proc/self/exe", "test_stream", "--drop-child", pub, fd, (char *)NULL);
        _exit(127);
    }
    char r;
    assert_int_equal(read(fds[0], &r, 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    /* The child's dial returned; the stream's callback for its pipe runs on nng's thread. */
    axl_stream_stats ss = {0};
    for (int i = 0; i < 5000 && ss.subscribers == 0; i++) {
        axl_stream_stats_get(s, &ss);
        if (ss.subscribers == 0)
            nng_msleep(1);
    }
    assert_int_equal(ss.subscribers, 1);

    char *ev = calloc(1, DROP_SIZE);
    for (uint32_t i = 0; i < DROP_EVENTS; i++) {
        memcpy(ev, &i, sizeof(i));
        axl_stream_publish(s, ev, DROP_SIZE);
    }
    free(ev);
    axl_stream_stats_get(s, &ss);
    assert_int_equal(ss.published, DROP_EVENTS);
    /* A stopped reader holds at most its socket's send buffer (net.core.wmem_default: the
     * kernel charges each message more than its size) and the stream's queue. */
    long wmem = wmem_default();
    long held = (AXL_STREAM_SENDBUF + 1) + wmem / DROP_SIZE + 16;
    if (held < DROP_EVENTS)
        assert_true(ss.dropped >= (uint64_t)(DROP_EVENTS - held));
    else
        print_message("wmem_default %ld holds every event: no lower bound checked\n", wmem);
    assert_true(ss.dropped < DROP_EVENTS);

    kill(pid, SIGCONT);
    axl_stream_stats fin;
    axl_stream_finish(s, &fin);
    axl_stream_close(s);
    uint32_t got = 0;
    assert_int_equal(read(fds[0], &got, sizeof(got)), (ssize_t)sizeof(got));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Exact: every event was either received or counted as dropped. */
    assert_true(fin.dropped >= ss.dropped);
    assert_int_equal(got + fin.dropped, DROP_EVENTS);
    assert_true(got > 0);
    close(fds[0]);
    close(fds[1]);
    axl_store_close(st);
    et_rmtree(dir);
    free(dir);
}

/* ---- a stalled `axle subscribe` --------------------------------------------------------- */

static pid_t spawn(const char *const *argv, int out_fd, const char *err_path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        int err = err_path != NULL ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : null;
        dup2(null, 0);
        dup2(out_fd >= 0 ? out_fd : null, 1);
        dup2(err, 2);
        execv(AXLE_BIN, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Reads one line (without its newline) from fd into buf; false at EOF. Byte by byte: the
 * rest of the pipe stays unread. */
static bool read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    char c;
    ssize_t r;
    while ((r = read(fd, &c, 1)) == 1 && c != '\n')
        if (n + 1 < cap)
            buf[n++] = c;
    buf[n] = '\0';
    return r == 1 || n > 0;
}

static const char stall_exp[] =
    "{\"name\": \"stall\", \"search_space\": {\"parameters\": ["
    "{\"name\": \"x1\", \"type\": \"range\", \"value_type\": \"float\", \"bounds\": [-5, 10]},"
    "{\"name\": \"x2\", \"type\": \"range\", \"value_type\": \"float\", \"bounds\": [0, 15]}]},"
    "\"objective\": {\"metric\": \"branin\", \"minimize\": true},"
    "\"generation_strategy\": {\"steps\": [{\"model\": \"sobol\", \"num_trials\": -1}]},"
    "\"scheduler\": {\"max_pending_trials\": 1, \"total_trials\": 300},"
    "\"runner\": {\"type\": \"function\", \"function\": \"branin\", \"duration_s\": 0,"
    " \"seed\": 3, \"outcomes\": \"H\"}}";

/* experiment.stopped's stream.dropped, from the store. */
static uint64_t stopped_dropped(const char *store)
{
    axl_store *st = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    assert_int_equal(axl_store_open(store, &so, &st, NULL), 0);
    uint64_t last = 0, dropped = UINT64_MAX;
    assert_int_equal(axl_store_last_seq(st, &last, NULL), 0);
    axl_store_iter *it = NULL;
    assert_int_equal(axl_store_iter_open(st, last, last, &it, NULL), 0);
    uint64_t seq;
    const void *data;
    size_t len;
    assert_int_equal(axl_store_iter_next(it, &seq, &data, &len, NULL), 0);
    axl_event ev;
    assert_int_equal(axl_event_decode(data, len, &ev, NULL), 0);
    assert_int_equal(ev.type_len, 18);
    assert_memory_equal(ev.type, "experiment.stopped", 18);
    axl_msg body;
    assert_int_equal(axl_msg_parse(&body, ev.body, ev.body_len, NULL), 0);
    const msgpack_object *stream = axl_obj_get(&body.root, "stream");
    assert_non_null(stream);
    assert_int_equal(axl_obj_uint(stream, "stream", "dropped", true, 0, UINT64_MAX, &dropped, NULL),
                     0);
    axl_msg_free(&body);
    axl_store_iter_close(it);
    axl_store_close(st);
    return dropped;
}

/*
 * `axle subscribe --until-stopped` follows a campaign whose first trial hangs; once it has
 * printed that trial running, it is stalled (SIGSTOP, or its stdout left unread) while the
 * trial is completed by hand and the campaign runs 299 more trials (~1,500 events, far
 * more than its socket and the stream's queue hold) and ends. Released, it must print
 * every event 1..last exactly once, in order, and exit 0: the lost live events and the
 * tail come from the store, since the replay service ended with the campaign.
 */
static void stalled_subscriber(bool sigstop)
{
    char *dir = et_mkdtemp();
    char *exp = et_write_file(dir, "stall.json", stall_exp);
    char store[600], run_log[600], sock[700];
    snprintf(store, sizeof(store), "%s/s", dir);
    snprintf(run_log, sizeof(run_log), "%s/run.log", dir);
    const char *run_argv[] = {"axle",     "run",           exp, "--store", store,
                              "--nosync", "--no-progress", NULL};
    pid_t run = spawn(run_argv, -1, run_log);
    /* `axle subscribe` needs the campaign's sockets: wait for the files (no event tells). */
    snprintf(sock, sizeof(sock), "%s/replay.rep", store);
    struct stat sb;
    for (int i = 0; i < 2000 && stat(sock, &sb) != 0; i++)
        nng_msleep(5);
    assert_int_equal(stat(sock, &sb), 0);

    int out[2];
    assert_int_equal(pipe(out), 0);
    const char *sub_argv[] = {"axle", "subscribe", "--until-stopped", "--store", store, NULL};
    pid_t sub = spawn(sub_argv, out[1], NULL);
    close(out[1]);
    char line[4096];
    uint64_t expect = 1;
    bool running = false;
    while (!running && read_line(out[0], line, sizeof(line))) {
        unsigned long long seq = 0;
        assert_int_equal(sscanf(line, "%llu", &seq), 1);
        assert_int_equal(seq, expect++);
        running = strstr(line, " trial.running ") != NULL;
    }
    assert_true(running); /* trial 0 runs, and hangs */
    if (sigstop) {
        int status;
        kill(sub, SIGSTOP);
        assert_int_equal(waitpid(sub, &status, WUNTRACED), sub);
    }
    const char *done_argv[] = {"axle",     "trial",    "stall",   "complete", "0",
                               "--result", "branin=1", "--store", store,      NULL};
    assert_int_equal(wait_exit(spawn(done_argv, -1, NULL)), 0);
    assert_int_equal(wait_exit(run), 0);
    if (sigstop)
        kill(sub, SIGCONT);

    bool stopped = false;
    while (read_line(out[0], line, sizeof(line))) {
        unsigned long long seq = 0;
        assert_false(stopped); /* nothing after experiment.stopped */
        assert_int_equal(sscanf(line, "%llu", &seq), 1);
        assert_int_equal(seq, expect++); /* every seq once, in order */
        stopped = strstr(line, " experiment.stopped ") != NULL;
    }
    assert_int_equal(wait_exit(sub), 0);
    assert_true(stopped);
    close(out[0]);

    axl_store *st = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    uint64_t last = 0;
    assert_int_equal(axl_store_open(store, &so, &st, NULL), 0);
    assert_int_equal(axl_store_last_seq(st, &last, NULL), 0);
    axl_store_close(st);
    assert_int_equal(expect - 1, last);
    assert_true(last > 1400);
    uint64_t dropped = stopped_dropped(store);
    /* ~1,500 events of ~500 bytes outlast a 208 KiB socket buffer and the stream's queue of
     * 256; a machine with far larger buffers may hold them all. */
    if (sigstop && wmem_default() <= (256L << 10)) {
        /* The engine saw the stalled subscriber lose events: counted, and said. */
        assert_true(dropped > 0);
        FILE *f = fopen(run_log, "r");
        assert_non_null(f);
        bool warned = false;
        while (fgets(line, sizeof(line), f) != NULL)
            warned = warned || strstr(line, "dropped for slow subscribers") != NULL;
        fclose(f);
        assert_true(warned);
    }
    free(exp);
    et_rmtree(dir);
    free(dir);
}

static void test_stalled_subscriber_sigstop(void **state)
{
    (void)state;
    stalled_subscriber(true);
}

static void test_stalled_subscriber_unread(void **state)
{
    (void)state;
    stalled_subscriber(false);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--drop-child") == 0)
        drop_child(argv[2], atoi(argv[3]));
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_rules),
        cmocka_unit_test(test_live_service_errors),
        cmocka_unit_test(test_drops_counted),
        cmocka_unit_test(test_stalled_subscriber_sigstop),
        cmocka_unit_test(test_stalled_subscriber_unread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
