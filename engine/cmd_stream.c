/*
 * cmd_stream.c - `axle replay` (the log, read-only, also during a campaign) and
 * `axle subscribe` (catch up by replay, then follow the live stream, de-duplicated by
 * seq, re-asking on a gap: at-least-once delivery over a lossy PUB socket, exactly once
 * on the screen).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "engine/cli.h"
#include "hw/worker/axl_net.h"
#include "hw/worker/nng_bridge.h"
#include "engine/json_msgpack.h"
#include "engine/stream.h"
#include "storage/axl_store.h"

/* Prints one encoded event: a JSON line, or a human line. Returns 0 or an AXL code. */
static int print_event(const void *data, size_t len, bool json)
{
    axl_event ev;
    axl_msg body;
    axl_errbuf eb = {{0}};
    int rv = axl_event_decode(data, len, &ev, &eb);
    if (rv != 0) {
        fprintf(stderr, "axle: skipping an undecodable event: %s\n", eb.msg);
        return rv;
    }
    json_t *jbody = NULL;
    if (!json && ev.body != NULL && axl_msg_parse(&body, ev.body, ev.body_len, NULL) == 0) {
        jbody = axl_msgpack_to_json(&body.root);
        axl_msg_free(&body);
    }
    if (jbody == NULL)
        jbody = json_object();
    if (json) {
        /* The whole event as stored: every envelope key in its order (v, seq, time, type,
         * experiment, trial, rec, body, and any a newer writer added), bin as hex. */
        axl_msg whole;
        json_t *o = NULL;
        if (axl_msg_parse(&whole, data, len, NULL) == 0) {
            o = axl_msgpack_to_json(&whole.root);
            axl_msg_free(&whole);
        }
        char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        char stamp[32];
        time_t secs = (time_t)ev.time;
        struct tm tm;
        localtime_r(&secs, &tm);
        strftime(stamp, sizeof(stamp), "%m-%d %H:%M:%S", &tm);
        char trial[32] = "";
        if (ev.trial >= 0)
            snprintf(trial, sizeof(trial), " trial %lld", (long long)ev.trial);
        /* A trial record is long; the status and metrics say what changed. */
        json_t *shown = jbody;
        json_t *brief = NULL;
        if (ev.rec == AXL_REC_TRIAL) {
            brief = json_object();
            json_object_set(brief, "status", json_object_get(jbody, "status"));
            json_object_set(brief, "params", json_object_get(jbody, "params"));
            if (json_object_size(json_object_get(jbody, "metrics")) > 0)
                json_object_set(brief, "metrics", json_object_get(jbody, "metrics"));
            if (!json_is_null(json_object_get(jbody, "reason")) &&
                json_object_get(jbody, "reason") != NULL)
                json_object_set(brief, "reason", json_object_get(jbody, "reason"));
            shown = brief;
        } else if (ev.rec == AXL_REC_GENERATOR) {
            brief = json_deep_copy(jbody);
            json_object_del(brief, "state"); /* the model's binary state says nothing here */
            json_object_del(brief, "v");
            shown = brief;
        } else if (ev.rec == AXL_REC_EXPERIMENT) {
            brief = json_object();
            json_object_set(brief, "name", json_object_get(jbody, "name"));
            shown = brief;
        }
        char *s = json_dumps(shown, JSON_COMPACT | JSON_REAL_PRECISION(8));
        printf("%8llu [%s] %.*s %.*s%s %s\n", (unsigned long long)ev.seq, stamp, (int)ev.type_len,
               ev.type, (int)ev.experiment_len, ev.experiment, trial, s != NULL ? s : "{}");
        free(s);
        json_decref(brief);
    }
    json_decref(jbody);
    fflush(stdout);
    return 0;
}

static const char replay_usage[] =
    "usage: axle replay [--from N] [--to M] [--json] [--store DIR]\n"
    "\n"
    "Prints the event log from seq N to M (default: all). Read-only: it may run while a\n"
    "campaign writes to the store. --json prints one JSON object per event, the whole event\n"
    "as the live stream carries it: {v, seq, time, type, experiment, trial?, rec?, body}\n"
    "(binary values as hex strings).\n";

int axl_cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},       {"store", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *store = AXL_DEFAULT_STORE;
    unsigned long long from = 1, to = 0;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (!axl_cli_parse_u64("axle replay", "--from", optarg, &from))
                return AXL_EXIT_CODE_USAGE;
            break;
        case 't':
            if (!axl_cli_parse_u64("axle replay", "--to", optarg, &to))
                return AXL_EXIT_CODE_USAGE;
            break;
        case 'j':
            json = true;
            break;
        case 's':
            store = optarg;
            break;
        case 'h':
            fputs(replay_usage, stdout);
            return 0;
        default:
            fputs(replay_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (optind != argc) {
        fputs(replay_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    axl_store *s = NULL;
    axl_store_iter *it = NULL;
    axl_errbuf eb = {{0}};
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    int rv = axl_store_open(store, &so, &s, &eb);
    if (rv != 0) {
        fprintf(stderr, "axle replay: %s\n", eb.msg);
        return rv == AXL_ENOENT ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    rv = axl_store_iter_open(s, from, to, &it, &eb);
    while (rv == 0) {
        uint64_t seq;
        const void *data;
        size_t len;
        rv = axl_store_iter_next(it, &seq, &data, &len, &eb);
        if (rv == 0)
            print_event(data, len, json);
    }
    axl_store_iter_close(it);
    axl_store_close(s);
    if (rv != AXL_ENOENT) {
        fprintf(stderr, "axle replay: %s\n", eb.msg);
        return AXL_EXIT_CODE_ERROR;
    }
    return 0;
}

static const char subscribe_usage[] =
    "usage: axle subscribe [--from N] [--json] [--count N] [--until-stopped]\n"
    "                      [--store DIR | --pub ADDR --replay ADDR]\n"
    "\n"
    "Follows a running campaign: replays its events from seq N (default 1), then follows the\n"
    "live stream. Every event is printed once, in seq order; a gap in the live stream is\n"
    "filled by asking the replay service again. Stops after --count events, after the\n"
    "experiment.stopped event with --until-stopped, or on SIGINT.\n"
    "\n"
    "  --tls-cert F, --tls-key F, --tls-ca F   TLS for tls+tcp:// addresses (mutual)\n"
    "  --insecure           allow plain tcp:// (no authentication, no encryption)\n";

typedef struct sub_state {
    uint64_t next;
    uint64_t printed;
    uint64_t count;
    bool json;
    bool until_stopped;
    bool saw_stop;
} sub_state;

static bool sub_done(const sub_state *st)
{
    return (st->count > 0 && st->printed >= st->count) || (st->until_stopped && st->saw_stop);
}

static int emit(void *ud, uint64_t seq, const void *data, size_t len)
{
    sub_state *st = ud;
    if (seq < st->next || sub_done(st))
        return sub_done(st);
    axl_event ev;
    if (axl_event_decode(data, len, &ev, NULL) == 0 && ev.type_len == 18 &&
        memcmp(ev.type, "experiment.stopped", 18) == 0)
        st->saw_stop = true;
    print_event(data, len, st->json);
    st->next = seq + 1;
    st->printed++;
    return sub_done(st);
}

/* Prints the events [st->next, to] (to 0: all there are): from the replay service, or
 * from the store (read-only) when the service is gone — the campaign has ended — and the
 * store is known. */
static int catch_up(const char *rep, const char *store_dir, sub_state *st, uint64_t to,
                    int timeout_ms, axl_errbuf *eb)
{
    uint64_t next = st->next;
    int rv = axl_replay_fetch(rep, st->next, to, timeout_ms, emit, st, &next, eb);
    if (rv == 0 || store_dir == NULL || sub_done(st))
        return rv;
    axl_store *s = NULL;
    axl_store_iter *it = NULL;
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    rv = axl_store_open(store_dir, &so, &s, eb);
    if (rv == 0)
        rv = axl_store_iter_open(s, st->next, to, &it, eb);
    while (rv == 0 && !sub_done(st)) {
        uint64_t seq;
        const void *data;
        size_t len;
        rv = axl_store_iter_next(it, &seq, &data, &len, eb);
        if (rv == 0)
            emit(st, seq, data, len);
    }
    axl_store_iter_close(it);
    axl_store_close(s);
    return rv == AXL_ENOENT ? 0 : rv;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

int axl_cmd_subscribe(int argc, char **argv)
{
    static const struct option longopts[] = {{"from", required_argument, NULL, 'f'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"count", required_argument, NULL, 'c'},
                                             {"until-stopped", no_argument, NULL, 'u'},
                                             {"store", required_argument, NULL, 's'},
                                             {"pub", required_argument, NULL, 'p'},
                                             {"replay", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             AXL_CLI_NET_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    const char *store = AXL_DEFAULT_STORE, *pub = NULL, *rep = NULL;
    axl_net_opts net = {0};
    unsigned long long from = 1, count = 0;
    sub_state st = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (!axl_cli_parse_u64("axle subscribe", "--from", optarg, &from))
                return AXL_EXIT_CODE_USAGE;
            break;
        case 'c':
            if (!axl_cli_parse_u64("axle subscribe", "--count", optarg, &count))
                return AXL_EXIT_CODE_USAGE;
            break;
        case 'j':
            st.json = true;
            break;
        case 'u':
            st.until_stopped = true;
            break;
        case 's':
            store = optarg;
            break;
        case 'p':
            pub = optarg;
            break;
        case 'r':
            rep = optarg;
            break;
        case 'h':
            fputs(subscribe_usage, stdout);
            return 0;
        default:
            if (axl_cli_net_option(ch, optarg, &net) && net.group == NULL)
                break;
            fputs(subscribe_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    axl_cli_net_apply(&net);
    if (optind != argc || (pub == NULL) != (rep == NULL)) {
        fputs(subscribe_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    char pub_buf[AXL_STREAM_ADDR_MAX], rep_buf[AXL_STREAM_ADDR_MAX];
    const char *store_dir = pub == NULL ? store : NULL; /* the log to fall back on */
    if (pub == NULL) {
        if (axl_stream_default_addrs(store, pub_buf, rep_buf, sizeof(pub_buf)) != 0) {
            fprintf(stderr, "axle subscribe: store path too long for ipc://; give --pub and "
                            "--replay\n");
            return AXL_EXIT_CODE_USAGE;
        }
        pub = pub_buf;
        rep = rep_buf;
    }
    st.next = from == 0 ? 1 : from;
    st.count = count;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);

    nng_socket sub;
    int nrv = nng_sub0_open(&sub);
    if (nrv == 0)
        nrv = nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    if (nrv != 0) {
        fprintf(stderr, "axle subscribe: %s\n", nng_strerror(nrv));
        return AXL_EXIT_CODE_ERROR;
    }
    nng_socket_set_size(sub, NNG_OPT_RECVMAXSZ, AXL_PROTO_MAX_MSG);
    nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 200);
    /* Connected before the first replay: whatever is published from now on arrives
     * live, and everything before it comes from the replay. */
    axl_errbuf eb = {{0}};
    if ((nrv = axl_net_dial(sub, pub, NULL, 0, "event stream", &eb)) != 0) {
        if (nrv == AXL_ECLOSED)
            fprintf(stderr,
                    "axle subscribe: no campaign is streaming at %s (%s); `axle replay` "
                    "reads a stopped one\n",
                    pub, eb.msg);
        else
            fprintf(stderr, "axle subscribe: %s\n", eb.msg);
        nng_close(sub);
        return AXL_EXIT_CODE_ERROR;
    }
    int rv = catch_up(rep, store_dir, &st, 0, 5000, &eb);
    if (rv != 0) {
        fprintf(stderr, "axle subscribe: %s\n", eb.msg);
        nng_close(sub);
        return AXL_EXIT_CODE_ERROR;
    }
    unsigned idle = 0;
    while (!interrupted && !sub_done(&st)) {
        void *buf = NULL;
        size_t len = 0;
        nrv = nng_recv(sub, &buf, &len, NNG_FLAG_ALLOC);
        if (nrv == NNG_ETIMEDOUT) {
            /* A lost *last* event leaves no later seq to reveal the gap: after a second
             * of silence, ask for the tail — from the replay service, or from the store
             * itself once the campaign (and its service) has gone. */
            if (++idle % 5 == 0 && catch_up(rep, store_dir, &st, 0, 2000, &eb) != 0) {
                fprintf(stderr, "axle subscribe: %s\n", eb.msg);
                rv = AXL_EIO;
                break;
            }
            continue;
        }
        idle = 0;
        if (nrv != 0) {
            fprintf(stderr, "axle subscribe: %s\n", nng_strerror(nrv));
            rv = AXL_EIO;
            break;
        }
        axl_event ev;
        if (axl_event_decode(buf, len, &ev, NULL) == 0 && ev.seq >= st.next) {
            if (ev.seq > st.next) {
                /* A gap: live events were lost; the replay service has them (or, once
                 * the campaign has ended, its store). */
                rv = catch_up(rep, store_dir, &st, ev.seq - 1, 5000, &eb);
                if (rv != 0) {
                    fprintf(stderr, "axle subscribe: %s\n", eb.msg);
                    nng_free(buf, len);
                    break;
                }
            }
            if (ev.seq == st.next)
                emit(&st, ev.seq, buf, len);
        }
        nng_free(buf, len);
    }
    /* Off this thread (libnng 1.5.2 can deadlock closing a SUB whose publisher still
     * talks; hw/worker/nng_bridge.h); main() waits for it, bounded. */
    axl_bridge_close_socket(sub);
    return rv != 0 ? AXL_EXIT_CODE_ERROR : (interrupted ? AXL_EXIT_CODE_INTERRUPTED : 0);
}
