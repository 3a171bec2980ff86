/*
 * control_client.c - one control request, wherever the campaign is: through the control
 * socket of the engine that runs it, or, when none runs, straight into the stopped store
 * under the writer lock. Both paths make the change with axl_control_apply(), so a trial
 * attached, completed, failed or abandoned by hand is the same record either way.
 */
#include "engine/campaign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "engine/json_msgpack.h"
#include "hw/worker/nng_bridge.h"

int axl_experiment_from_store(axl_store *s, const char *name, axl_experiment **out, axl_errbuf *eb)
{
    void *rec = NULL;
    size_t len = 0;
    axl_msg m;
    int rv;
    *out = NULL;
    if ((rv = axl_store_get_record(s, AXL_REC_EXPERIMENT, name, 0, &rec, &len, eb)) != 0) {
        if (rv == AXL_ENOENT)
            axl_fail(eb, rv, "no experiment '%s' in this store", name);
        return rv;
    }
    if ((rv = axl_msg_parse(&m, rec, len, eb)) != 0) {
        free(rec);
        return rv;
    }
    const msgpack_object *config = axl_obj_get(&m.root, "config");
    json_t *j = config != NULL ? axl_msgpack_to_json(config) : NULL;
    axl_msg_free(&m);
    free(rec);
    if (j == NULL)
        return axl_fail(eb, AXL_ECORRUPT, "the stored experiment record has no config");
    char *text = json_dumps(j, 0);
    json_decref(j);
    if (text == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    rv = axl_experiment_parse(text, strlen(text), out, eb);
    free(text);
    return rv;
}

static int call_socket(const char *addr, const void *req, size_t len, int timeout_ms,
                       msgpack_sbuffer *reply, bool *connected, axl_errbuf *eb)
{
    nng_socket s;
    int nrv;
    *connected = false;
    if ((nrv = nng_req0_open(&s)) != 0)
        return axl_fail(eb, AXL_EIO, "control socket: %s", nng_strerror(nrv));
    /* One send: a resent request must never make a change twice. REQ also resends when
     * its pipe is lost (the engine died after the change, before the reply) as soon as a
     * new pipe is up - a restarted engine (systemd) would get it again - so the dialer
     * does not reconnect within the wait either: the client reports no reply instead. */
    nng_duration never = (nng_duration)timeout_ms * 4 + 60000;
    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, never);
    nng_socket_set_ms(s, NNG_OPT_RECONNMINT, never);
    nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, never);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
    nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, AXL_PROTO_MAX_MSG);
    if ((nrv = nng_dial(s, addr, NULL, 0)) != 0) {
        nng_close(s);
        return 0; /* nobody listens: no campaign runs here */
    }
    *connected = true;
    void *buf = NULL;
    size_t n = 0;
    int rv = 0;
    if ((nrv = nng_send(s, (void *)req, len, 0)) != 0)
        rv = axl_fail(eb, AXL_EIO, "control socket %s: send: %s", addr, nng_strerror(nrv));
    else if ((nrv = nng_recv(s, &buf, &n, NNG_FLAG_ALLOC)) != 0)
        rv = axl_fail(eb, nrv == NNG_ETIMEDOUT ? AXL_ETIMEDOUT : AXL_EIO,
                      "no reply from the running campaign (%s); the change may or may not have "
                      "been made: check `axle status`",
                      nng_strerror(nrv));
    else if (msgpack_sbuffer_write(reply, buf, n) != 0)
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
    if (buf != NULL)
        nng_free(buf, n);
    axl_bridge_close_socket(s); /* never waits on libnng 1.5.2's close deadlock */
    return rv;
}

static int experiment_of(const void *req, size_t len, char *name, size_t size, axl_errbuf *eb)
{
    axl_msg m;
    const char *s = NULL;
    size_t n = 0;
    int rv = axl_msg_parse(&m, req, len, eb);
    if (rv != 0)
        return rv;
    rv = axl_obj_str(&m.root, "control", "experiment", true, AXL_PROTO_MAX_NAME, &s, &n, eb);
    if (rv == 0)
        snprintf(name, size, "%.*s", (int)n, s);
    axl_msg_free(&m);
    return rv;
}

static int apply_offline(const char *store_dir, const void *req, size_t len, msgpack_sbuffer *reply,
                         axl_errbuf *eb)
{
    char name[AXL_PROTO_MAX_NAME + 1];
    axl_store *store = NULL;
    axl_campaign *c = NULL;
    uv_loop_t loop;
    int rv;
    if ((rv = experiment_of(req, len, name, sizeof(name), eb)) != 0)
        return rv;
    axl_store_options so = {.flags = AXL_STORE_NOCREATE};
    if ((rv = axl_store_open(store_dir, &so, &store, eb)) != 0) {
        if (rv == AXL_EBUSY)
            axl_fail(eb, rv,
                     "a campaign holds the store %s but its control socket does not answer "
                     "(an older axle, or --no-control)",
                     store_dir);
        return rv;
    }
    if ((rv = uv_loop_init(&loop)) != 0) {
        axl_store_close(store);
        return axl_fail(eb, AXL_EIO, "event loop: %s", uv_strerror(rv));
    }
    axl_campaign_options opt;
    axl_campaign_options_default(&opt);
    opt.offline = true;
    rv = axl_campaign_resume(&loop, name, store, &opt, &c, eb);
    if (rv == 0) {
        axl_errbuf aeb = {{0}};
        int arv = axl_control_apply(c, req, len, reply, NULL, &aeb);
        if (arv != 0)
            rv = axl_control_error_reply(reply, arv, aeb.msg);
        else if ((rv = axl_journal_commit(&c->journal, eb)) != 0)
            msgpack_sbuffer_clear(reply);
        axl_campaign_close_unstarted(&loop, c);
        axl_campaign_free(c);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    axl_store_close(store);
    return rv;
}

int axl_control_call(const char *store_dir, const char *addr, const void *req, size_t len,
                     int timeout_ms, msgpack_sbuffer *reply, bool *running, axl_errbuf *eb)
{
    char def[AXL_STREAM_ADDR_MAX];
    if (addr == NULL) {
        if (axl_control_default_addr(store_dir, def, sizeof(def)) != 0)
            return axl_fail(eb, AXL_ETOOBIG, "the store path is too long for an ipc:// socket");
        addr = def;
    }
    int rv = call_socket(addr, req, len, timeout_ms, reply, running, eb);
    if (rv != 0 || *running)
        return rv;
    return apply_offline(store_dir, req, len, reply, eb);
}
