/*
 * emu_ot2.c - the OT-2 liquid handler's listener (HARDWARE.md §7) on a local WebSocket
 * (nng's ws:// stream listener, text frames): `{"task": {"task", "taskid", "nist_time",
 * "args", "kwargs"}}` is answered `{"acknowledged": taskid}` at once; the tasks run one
 * after another in FIFO order, each not before its nist_time, for PASCAL's duration of
 * that step / speed; then the connection that sent it gets `{"completed": {taskid:
 * nist_time, ...}}` - cumulative, every task done so far. `{"status": 0}` is answered
 * with the same `completed` map; `{"complete": 0}` ends the connection.
 *
 * Threads, not a libuv loop: one per connection (blocking receives) and one executor.
 * Faults count incoming messages: noreply (no acknowledgement, the task is dropped),
 * busy (`{"error": "busy"}`), garble (a reply that is not JSON), disconnect (the
 * connection is closed), slow (the acknowledgement ARG ms late).
 */
#include "hw/emulate/axl_emulate.h"

#include <jansson.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TASKS 4096

typedef struct conn conn;

typedef struct task {
    char id[64];
    char name[48];
    double nist_time, duration_s;
    conn *c;
} task;

struct conn {
    nng_stream *s;
    pthread_mutex_t send_mu;
    int refs; /* the reader thread + queued tasks */
    bool closed;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task queue[MAX_TASKS];
    size_t head, n;
    json_t *completed; /* taskid -> unix time */
    double speed;
    long msg_no;
    char faults[16][64];
    int n_faults;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool fault(long n, const char *kind, double *arg)
{
    for (int i = 0; i < G.n_faults; i++) {
        char k[16];
        long at;
        bool onward;
        double a;
        if (axl_emu_fault_parse(G.faults[i], k, sizeof(k), &at, &onward, &a, NULL) == 0 &&
            strcmp(k, kind) == 0 && (n == at || (onward && n > at))) {
            if (arg != NULL)
                *arg = a;
            return true;
        }
    }
    return false;
}

static void conn_unref(conn *c)
{
    pthread_mutex_lock(&G.mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&G.mu);
    if (last) {
        nng_stream_free(c->s);
        pthread_mutex_destroy(&c->send_mu);
        free(c);
    }
}

static void send_text(conn *c, const char *text)
{
    pthread_mutex_lock(&c->send_mu);
    if (!c->closed) {
        nng_aio *aio;
        if (nng_aio_alloc(&aio, NULL, NULL) == 0) {
            nng_iov iov = {(void *)text, strlen(text)};
            nng_aio_set_iov(aio, 1, &iov);
            nng_stream_send(c->s, aio);
            nng_aio_wait(aio);
            nng_aio_free(aio);
        }
    }
    pthread_mutex_unlock(&c->send_mu);
}

static void send_json(conn *c, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s != NULL)
        send_text(c, s);
    free(s);
}

/* PASCAL's step durations (frgpascal's liquid handler model, hw/README.md) */
static double task_seconds(const char *name, json_t *kw)
{
    if (strcmp(name, "aspirate_for_spincoating") == 0) {
        double v = json_number_value(json_object_get(kw, "volume"));
        double s = 10 + v / 100 + 2;
        json_t *pm = json_object_get(kw, "pre_mix");
        if (json_is_array(pm) && json_array_size(pm) == 2)
            s += json_number_value(json_array_get(pm, 0)) *
                 (0.0209 * json_number_value(json_array_get(pm, 1)) + 0.5132);
        s += json_is_true(json_object_get(kw, "touch_tip")) ? 1.5 : 0;
        s += json_is_true(json_object_get(kw, "slow_retract")) ? 3 : 0;
        s += json_is_true(json_object_get(kw, "air_gap")) ? 2.5 : 0;
        return s;
    }
    bool slow = json_is_true(json_object_get(kw, "slow_travel"));
    if (strcmp(name, "stage_for_dispense") == 0)
        return slow ? 4 : 2;
    if (strcmp(name, "dispense_onto_chuck") == 0)
        return slow ? 1 : 0.8;
    return 5; /* cleanup, clear_chuck, mix */
}

static void *executor(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&G.mu);
    for (;;) {
        while (G.n == 0)
            pthread_cond_wait(&G.cv, &G.mu);
        task t = G.queue[G.head];
        G.head = (G.head + 1) % MAX_TASKS;
        G.n--;
        pthread_mutex_unlock(&G.mu);
        double start = unix_now();
        if (t.nist_time > start)
            nng_msleep((nng_duration)((t.nist_time - start) * 1000));
        nng_msleep((nng_duration)(t.duration_s * 1000 / G.speed));
        pthread_mutex_lock(&G.mu);
        json_object_set_new(G.completed, t.id, json_real(unix_now()));
        json_t *msg = json_pack("{s:O}", "completed", G.completed);
        pthread_mutex_unlock(&G.mu);
        send_json(t.c, msg);
        json_decref(msg);
        conn_unref(t.c);
        pthread_mutex_lock(&G.mu);
    }
    return NULL;
}

/* One message from a client. Returns false to close the connection. */
static bool handle(conn *c, json_t *m)
{
    pthread_mutex_lock(&G.mu);
    long n = ++G.msg_no;
    pthread_mutex_unlock(&G.mu);
    double arg = NAN;
    if (fault(n, "disconnect", NULL))
        return false;
    if (fault(n, "garble", NULL)) {
        send_text(c, "{\"acknow#$%");
        return true;
    }
    if (fault(n, "busy", NULL)) {
        send_text(c, "{\"error\":\"busy\"}");
        return true;
    }
    if (fault(n, "noreply", NULL))
        return true;
    if (fault(n, "slow", &arg))
        nng_msleep((nng_duration)(isnan(arg) ? 3000 : arg));
    json_t *t = json_object_get(m, "task");
    if (json_is_object(t)) {
        const char *id = json_string_value(json_object_get(t, "taskid"));
        const char *name = json_string_value(json_object_get(t, "task"));
        if (id == NULL || name == NULL || strlen(id) >= 64 || strlen(name) >= 48) {
            send_text(c, "{\"error\":\"a task needs task and taskid\"}");
            return true;
        }
        task q = {.nist_time = json_number_value(json_object_get(t, "nist_time")), .c = c};
        snprintf(q.id, sizeof(q.id), "%s", id);
        snprintf(q.name, sizeof(q.name), "%s", name);
        q.duration_s = task_seconds(name, json_object_get(t, "kwargs"));
        json_t *ack = json_pack("{s:s}", "acknowledged", id);
        send_json(c, ack);
        json_decref(ack);
        pthread_mutex_lock(&G.mu);
        if (G.n < MAX_TASKS) {
            c->refs++;
            G.queue[(G.head + G.n) % MAX_TASKS] = q;
            G.n++;
            pthread_cond_signal(&G.cv);
        }
        pthread_mutex_unlock(&G.mu);
        return true;
    }
    if (json_object_get(m, "status") != NULL) {
        pthread_mutex_lock(&G.mu);
        json_t *msg = json_pack("{s:O}", "completed", G.completed);
        pthread_mutex_unlock(&G.mu);
        send_json(c, msg);
        json_decref(msg);
        return true;
    }
    if (json_object_get(m, "complete") != NULL)
        return false;
    send_text(c, "{\"error\":\"unknown message\"}");
    return true;
}

static void *reader(void *arg)
{
    conn *c = arg;
    char *buf = malloc(1 << 16);
    size_t len = 0;
    nng_aio *aio = NULL;
    if (buf == NULL || nng_aio_alloc(&aio, NULL, NULL) != 0)
        goto done;
    for (;;) {
        if (len == 1 << 16)
            len = 0; /* a runaway message: dropped */
        nng_iov iov = {buf + len, (1 << 16) - len};
        nng_aio_set_iov(aio, 1, &iov);
        nng_stream_recv(c->s, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            break;
        len += nng_aio_count(aio);
        /* messages are JSON objects back to back */
        for (;;) {
            size_t skip = 0;
            while (skip < len && buf[skip] != '{')
                skip++;
            if (skip == len) {
                len = 0;
                break;
            }
            json_error_t err;
            json_t *m = json_loadb(buf + skip, len - skip, JSON_DISABLE_EOF_CHECK, &err);
            if (m == NULL) {
                memmove(buf, buf + skip, len - skip); /* incomplete: wait for more */
                len -= skip;
                break;
            }
            size_t used = skip + (size_t)err.position;
            memmove(buf, buf + used, len - used);
            len -= used;
            bool keep = handle(c, m);
            json_decref(m);
            if (!keep)
                goto done;
        }
    }
done:
    pthread_mutex_lock(&c->send_mu);
    c->closed = true;
    nng_stream_close(c->s);
    pthread_mutex_unlock(&c->send_mu);
    nng_aio_free(aio);
    free(buf);
    conn_unref(c);
    return NULL;
}

int axl_emu_ot2_run(const axl_emu_opts *o, axl_errbuf *eb)
{
    const char *url = o->listen != NULL ? o->listen : "ws://127.0.0.1:8764";
    if (strncmp(url, "ws://", 5) != 0)
        return axl_fail(eb, AXL_EINVAL, "emulate ot2: --listen must be ws://HOST:PORT");
    if (!(o->speed >= 1) || !isfinite(o->speed))
        return axl_fail(eb, AXL_EINVAL, "--speed must be >= 1");
    G.speed = o->speed;
    for (int i = 0; i < o->n_faults && i < 16; i++) {
        char k[16];
        long at;
        bool onward;
        double a;
        int rv = axl_emu_fault_parse(o->faults[i], k, sizeof(k), &at, &onward, &a, eb);
        if (rv != 0)
            return rv;
        snprintf(G.faults[G.n_faults++], sizeof(G.faults[0]), "%s", o->faults[i]);
    }
    G.completed = json_object();
    nng_stream_listener *l;
    int rv = nng_stream_listener_alloc(&l, url);
    if (rv == 0) {
        nng_stream_listener_set_bool(l, NNG_OPT_WS_RECV_TEXT, true);
        nng_stream_listener_set_bool(l, NNG_OPT_WS_SEND_TEXT, true);
        rv = nng_stream_listener_listen(l);
    }
    if (rv != 0)
        return axl_fail(eb, AXL_EIO, "emulate ot2: cannot listen on %s: %s", url, nng_strerror(rv));
    pthread_t ex;
    pthread_create(&ex, NULL, executor, NULL);
    pthread_detach(ex);
    printf("ready %s\n", url);
    fflush(stdout);
    nng_aio *aio;
    if (nng_aio_alloc(&aio, NULL, NULL) != 0)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    for (;;) { /* until SIGTERM ends the process */
        nng_stream_listener_accept(l, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            break;
        conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            nng_stream_free(nng_aio_get_output(aio, 0));
            continue;
        }
        c->s = nng_aio_get_output(aio, 0);
        c->refs = 1;
        pthread_mutex_init(&c->send_mu, NULL);
        pthread_t th;
        if (pthread_create(&th, NULL, reader, c) != 0) {
            nng_stream_free(c->s);
            free(c);
            continue;
        }
        pthread_detach(th);
    }
    nng_aio_free(aio);
    nng_stream_listener_free(l);
    return 0;
}
