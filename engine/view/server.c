/*
 * server.c - `axle serve`: nng's HTTP server gives the page (embedded in the binary),
 * the data folder's CSV files (read-only, nothing outside it) and, on the same port, a
 * WebSocket feed (nng's stream listener): the page asks for events from seq N in the
 * URL (/feed?from=N), the server sends them from the store in chunks and then keeps
 * sending as the campaign commits more. A follower thread listens to the campaign's PUB
 * stream only to learn *that* something was committed; what is sent is always read back
 * from the store, in seq order from where the connection is, so a feed has no gap and no
 * duplicate whatever the PUB socket drops. Loopback only (see axl_view_check_addr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/supplemental/http/http.h>

#include "engine/stream.h"
#include "hw/worker/nng_bridge.h"
#include "engine/view/view.h"

#define FEED_MAX_EVENTS 20000      /* seqs a chunk may cover */
#define FEED_MAX_BYTES (1u << 20)  /* a chunk stops growing past this much JSON */
#define FEED_MAX_FRAME (16u << 20) /* > FEED_MAX_BYTES + one event's JSON */
#define DATA_MAX_FILE (32u << 20)
#define FOLLOW_WAKE_MS 500 /* recv timeout: shutdown check; every 2nd: tail check */

typedef struct conn {
    struct conn *next_conn;
    axl_view_server *v;
    nng_stream *s;
    nng_aio *send_aio;
    nng_aio *recv_aio;
    char rbuf[256];
    axl_view_buf buf;
    uint64_t next; /* the next seq this page has not been sent */
    bool sending;  /* a chunk is in flight (only its owner touches buf) */
    bool receiving;
    bool closed;
} conn;

struct axl_view_server {
    char store_dir[PATH_MAX];
    axl_store *store;
    nng_url *url;
    nng_http_server *http;
    nng_http_handler *handlers[8];
    size_t nhandlers;
    nng_stream_listener *ws;
    nng_aio *accept_aio;
    nng_socket sub;
    bool sub_open;
    pthread_t follower;
    bool follower_started;
    atomic_bool stopping;
    atomic_bool draining; /* set by axl_view_server_drain: nothing is freed any more */
    pthread_mutex_t mu;   /* conns, last */
    conn *conns;
    uint64_t last;
    unsigned port;
    bool wait_for_store;
    axl_view_buf page; /* the inlined page served at "/" */
};

/* ---- Addresses -------------------------------------------------------------------- */

int axl_view_check_addr(const char *hostport, char *host, size_t hostsz, unsigned *port,
                        axl_errbuf *eb)
{
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL || colon == hostport || colon[1] == '\0')
        return axl_fail(eb, AXL_EINVAL, "'%s': expected HOST:PORT (e.g. 127.0.0.1:8080)", hostport);
    size_t hl = (size_t)(colon - hostport);
    const char *h = hostport;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl + 1 > hostsz)
        return axl_fail(eb, AXL_EINVAL, "'%s': host too long", hostport);
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || p > 65535)
        return axl_fail(eb, AXL_EINVAL, "'%s': bad port", hostport);
    *port = (unsigned)p;
    struct in_addr a4;
    struct in6_addr a6;
    bool loop = strcmp(host, "localhost") == 0;
    if (!loop && inet_pton(AF_INET, host, &a4) == 1)
        loop = (ntohl(a4.s_addr) >> 24) == 127;
    else if (!loop && inet_pton(AF_INET6, host, &a6) == 1)
        loop = IN6_IS_ADDR_LOOPBACK(&a6);
    else if (!loop)
        return axl_fail(eb, AXL_EINVAL, "'%s': host must be an IP address or localhost", host);
    if (!loop)
        return axl_fail(eb, AXL_EACCES,
                        "refusing %s: not a loopback address; the view has no TLS or access "
                        "token yet, so it serves this machine only (use ssh -L to look from "
                        "elsewhere)",
                        hostport);
    return 0;
}

/* ---- The data folder -------------------------------------------------------------- */

int axl_view_data_path(const char *store_dir, const char *rel, char *out, size_t outsz,
                       axl_errbuf *eb)
{
    char base[PATH_MAX], joined[PATH_MAX * 2], real[PATH_MAX];
    if (rel[0] == '\0' || rel[0] == '/')
        return axl_fail(eb, AXL_EACCES, "not a file of the data folder");
    /* No ".." component at all: what is outside is never even looked up. */
    for (const char *p = rel; *p != '\0';) {
        const char *e = strchr(p, '/');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        if ((n == 2 && p[0] == '.' && p[1] == '.') || n == 0)
            return axl_fail(eb, AXL_EACCES, "'%s': outside the data folder", rel);
        p += n + (e != NULL);
    }
    snprintf(joined, sizeof(joined), "%s/data", store_dir);
    if (realpath(joined, base) == NULL)
        return axl_fail(eb, AXL_ENOENT, "the store has no data folder");
    if (snprintf(joined, sizeof(joined), "%s/%s", base, rel) >= (int)sizeof(joined))
        return axl_fail(eb, AXL_EACCES, "path too long");
    if (realpath(joined, real) == NULL)
        return axl_fail(eb, AXL_ENOENT, "'%s': no such file", rel);
    size_t bl = strlen(base);
    if (strncmp(real, base, bl) != 0 || real[bl] != '/')
        return axl_fail(eb, AXL_EACCES, "'%s': leads outside the data folder", rel);
    struct stat st;
    size_t rl = strlen(real);
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode))
        return axl_fail(eb, AXL_ENOENT, "'%s': not a regular file", rel);
    if (rl < 4 || strcasecmp(real + rl - 4, ".csv") != 0)
        return axl_fail(eb, AXL_EACCES, "'%s': only the data folder's .csv files are served", rel);
    if (rl + 1 > outsz)
        return axl_fail(eb, AXL_EACCES, "path too long");
    memcpy(out, real, rl + 1);
    return 0;
}

/* A Host header (or an Origin's authority) that names this machine: a loopback literal or
 * localhost. A page of another site that resolves its own name to 127.0.0.1 (DNS
 * rebinding) sends its own name and is refused. */
static bool loopback_authority(const char *a)
{
    char hp[300], host[256];
    unsigned port;
    if (a == NULL || strlen(a) >= sizeof(hp) - 4)
        return false;
    const char *close = strrchr(a, ']');
    const char *colon = strrchr(a, ':');
    bool has_port = colon != NULL && (close == NULL || colon > close);
    snprintf(hp, sizeof(hp), has_port ? "%s" : "%s:80", a);
    return axl_view_check_addr(hp, host, sizeof(host), &port, NULL) == 0;
}

/* The feed is read by this machine's pages only: a browser's WebSocket carries the
 * Origin of the page that opened it (no Origin: not a browser). */
static bool origin_allowed(const char *origin)
{
    if (origin == NULL)
        return true;
    if (strncmp(origin, "http://", 7) == 0)
        return loopback_authority(origin + 7);
    if (strncmp(origin, "https://", 8) == 0)
        return loopback_authority(origin + 8);
    return false;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src (up to '?' or '#') into dst; false on a bad escape or a NUL. */
static bool url_decode(const char *src, char *dst, size_t dstsz)
{
    size_t o = 0;
    for (const char *p = src; *p != '\0' && *p != '?' && *p != '#'; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            c = hi * 16 + lo;
            p += 2;
        }
        if (o + 1 >= dstsz)
            return false;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return true;
}

static void reply(nng_aio *aio, uint16_t status, const char *type, const void *data, size_t len)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, status);
    nng_http_res_set_header(res, "Content-Type", type);
    nng_http_res_set_header(res, "Cache-Control", "no-store");
    nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff");
    if (nng_http_res_copy_data(res, data, len) != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void data_handler(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    axl_view_server *v = nng_http_handler_get_data(h);
    const char *uri = nng_http_req_get_uri(req);
    char rel[PATH_MAX], real[PATH_MAX];
    axl_errbuf eb = {{0}};
    if (!loopback_authority(nng_http_req_get_header(req, "Host"))) {
        reply(aio, 403, "text/plain", "forbidden host\n", 15);
        return;
    }
    if (strncmp(uri, "/data/", 6) != 0 || !url_decode(uri + 6, rel, sizeof(rel))) {
        reply(aio, 403, "text/plain", "forbidden\n", 10);
        return;
    }
    int rv = axl_view_data_path(v->store_dir, rel, real, sizeof(real), &eb);
    if (rv != 0) {
        char msg[300];
        int n = snprintf(msg, sizeof(msg), "%s\n", eb.msg);
        reply(aio, rv == AXL_ENOENT ? 404 : 403, "text/plain", msg, (size_t)n);
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    char *body = NULL;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > DATA_MAX_FILE ||
        (body = malloc((size_t)st.st_size + 1)) == NULL) {
        if (fd >= 0)
            close(fd);
        reply(aio, 500, "text/plain", "cannot read the file\n", 21);
        return;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, body + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    reply(aio, 200, "text/csv; charset=utf-8", body, got);
    free(body);
}

/* ---- The feed --------------------------------------------------------------------- */

static void pump(conn *c);
static axl_store *store_get(axl_view_server *v);

static void conn_close_locked(conn *c)
{
    if (!c->closed) {
        c->closed = true;
        nng_stream_close(c->s); /* aborts what is in flight; callbacks see the error */
    }
}

static void send_cb(void *arg)
{
    conn *c = arg;
    int rv = nng_aio_result(c->send_aio);
    pthread_mutex_lock(&c->v->mu);
    c->sending = false;
    c->buf.len = 0;
    if (rv != 0 || atomic_load(&c->v->stopping))
        conn_close_locked(c);
    pthread_mutex_unlock(&c->v->mu);
    if (rv == 0)
        pump(c);
}

static void recv_cb(void *arg)
{
    conn *c = arg;
    int rv = nng_aio_result(c->recv_aio);
    pthread_mutex_lock(&c->v->mu);
    if (rv != 0 || c->closed) {
        /* The page went away (or the server stops): that is the end of this feed. */
        c->receiving = false;
        conn_close_locked(c);
        pthread_mutex_unlock(&c->v->mu);
        return;
    }
    pthread_mutex_unlock(&c->v->mu);
    /* The page never needs to talk; whatever it says is read and ignored. */
    nng_iov iov = {.iov_buf = c->rbuf, .iov_len = sizeof(c->rbuf)};
    nng_aio_set_iov(c->recv_aio, 1, &iov);
    nng_stream_recv(c->s, c->recv_aio);
}

/* Sends the next chunk when none is in flight and the page is behind. */
static void pump(conn *c)
{
    axl_view_server *v = c->v;
    pthread_mutex_lock(&v->mu);
    if (c->closed || c->sending || c->next > v->last) {
        pthread_mutex_unlock(&v->mu);
        return;
    }
    c->sending = true;
    pthread_mutex_unlock(&v->mu);

    axl_errbuf eb = {{0}};
    uint64_t next = c->next;
    c->buf.len = 0;
    int rv = axl_view_read_chunk(store_get(v), c->next, FEED_MAX_EVENTS, FEED_MAX_BYTES, &c->buf,
                                 &next, &eb);
    pthread_mutex_lock(&v->mu);
    if (rv != 0 || next == c->next) {
        if (rv != 0)
            fprintf(stderr, "axle serve: reading the log: %s\n", eb.msg);
        c->sending = false;
        pthread_mutex_unlock(&v->mu);
        return;
    }
    c->next = next;
    pthread_mutex_unlock(&v->mu);
    nng_iov iov = {.iov_buf = c->buf.data, .iov_len = c->buf.len};
    nng_aio_set_iov(c->send_aio, 1, &iov);
    nng_stream_send(c->s, c->send_aio);
}

static uint64_t parse_from(const char *uri)
{
    const char *q = uri != NULL ? strstr(uri, "from=") : NULL;
    if (q == NULL)
        return 1;
    unsigned long long n = strtoull(q + 5, NULL, 10);
    return n == 0 ? 1 : (uint64_t)n;
}

/* The store, opened now if it did not exist when the server started (wait_for_store). */
static axl_store *store_get(axl_view_server *v)
{
    pthread_mutex_lock(&v->mu);
    if (v->store == NULL && v->wait_for_store) {
        axl_store_options so = {.flags = AXL_STORE_RDONLY};
        if (axl_store_open(v->store_dir, &so, &v->store, NULL) != 0)
            v->store = NULL;
    }
    axl_store *s = v->store;
    pthread_mutex_unlock(&v->mu);
    return s;
}

static void refresh_last(axl_view_server *v)
{
    uint64_t last = 0;
    axl_store *s = store_get(v);
    if (s == NULL || axl_store_last_seq(s, &last, NULL) != 0)
        return;
    pthread_mutex_lock(&v->mu);
    if (last > v->last)
        v->last = last;
    pthread_mutex_unlock(&v->mu);
}

static void accept_cb(void *arg)
{
    axl_view_server *v = arg;
    if (nng_aio_result(v->accept_aio) != 0)
        return; /* closed */
    nng_stream *s = nng_aio_get_output(v->accept_aio, 0);
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL || nng_aio_alloc(&c->send_aio, send_cb, c) != 0 ||
        nng_aio_alloc(&c->recv_aio, recv_cb, c) != 0) {
        if (c != NULL) {
            nng_aio_free(c->send_aio);
            free(c);
        }
        nng_stream_free(s);
        goto again;
    }
    c->v = v;
    c->s = s;
    char *origin = NULL, *host = NULL;
    nng_stream_get_string(s, NNG_OPT_WS_REQUEST_HEADER "Origin", &origin);
    nng_stream_get_string(s, NNG_OPT_WS_REQUEST_HEADER "Host", &host);
    bool allowed = origin_allowed(origin) && loopback_authority(host);
    nng_strfree(origin);
    nng_strfree(host);
    if (!allowed) {
        /* Another site's page (or a rebound name): no data for it. */
        nng_aio_free(c->send_aio);
        nng_aio_free(c->recv_aio);
        free(c);
        nng_stream_close(s);
        nng_stream_free(s);
        goto again;
    }
    char *uri = NULL;
    nng_stream_get_string(s, NNG_OPT_WS_REQUEST_URI, &uri);
    c->next = parse_from(uri);
    nng_strfree(uri);
    nng_stream_set_bool(s, NNG_OPT_WS_SEND_TEXT, true); /* JSON: text frames */
    nng_stream_set_bool(s, NNG_OPT_WS_RECV_TEXT, true);
    refresh_last(v);
    pthread_mutex_lock(&v->mu);
    c->next_conn = v->conns;
    v->conns = c;
    c->receiving = true;
    pthread_mutex_unlock(&v->mu);
    nng_iov iov = {.iov_buf = c->rbuf, .iov_len = sizeof(c->rbuf)};
    nng_aio_set_iov(c->recv_aio, 1, &iov);
    nng_stream_recv(c->s, c->recv_aio);
    pump(c);
again:
    if (!atomic_load(&v->stopping))
        nng_stream_listener_accept(v->ws, v->accept_aio);
}

static void conn_free(conn *c)
{
    nng_aio_stop(c->send_aio);
    nng_aio_stop(c->recv_aio);
    nng_aio_free(c->send_aio);
    nng_aio_free(c->recv_aio);
    nng_stream_free(c->s);
    axl_view_buf_free(&c->buf);
    free(c);
}

/* Frees the closed connections (outside every nng callback: aio_stop waits for them). */
static void reap(axl_view_server *v, bool all)
{
    if (!all && atomic_load(&v->draining))
        return; /* the draining thread walks the list unlocked (pump_all) */
    conn *dead = NULL;
    pthread_mutex_lock(&v->mu);
    for (conn **pp = &v->conns; *pp != NULL;) {
        conn *c = *pp;
        if (all)
            conn_close_locked(c);
        if (c->closed && !c->sending && !c->receiving) {
            *pp = c->next_conn;
            c->next_conn = dead;
            dead = c;
        } else {
            pp = &c->next_conn;
        }
    }
    pthread_mutex_unlock(&v->mu);
    while (dead != NULL) {
        conn *c = dead;
        dead = c->next_conn;
        conn_free(c);
    }
}

static void pump_all(axl_view_server *v)
{
    /* Only this thread frees connections, so the list may be walked unlocked for
     * the pumps (new ones are pushed at the head, under the lock). */
    pthread_mutex_lock(&v->mu);
    conn *head = v->conns;
    pthread_mutex_unlock(&v->mu);
    for (conn *c = head; c != NULL; c = c->next_conn)
        pump(c);
}

static void *follow(void *arg)
{
    axl_view_server *v = arg;
    unsigned quiet = 0;
    while (!atomic_load(&v->stopping)) {
        void *buf = NULL;
        size_t len = 0;
        int rv = v->sub_open ? nng_recv(v->sub, &buf, &len, NNG_FLAG_ALLOC) : NNG_ETIMEDOUT;
        if (rv == 0)
            nng_free(buf, len);
        else if (rv != NNG_ETIMEDOUT)
            break;
        /* A commit was published: read the log's end. After a second without one, look
         * anyway (a lost last event leaves no later one to reveal it). */
        if (rv == 0 || ++quiet % 2 == 0) {
            quiet = 0;
            uint64_t before;
            pthread_mutex_lock(&v->mu);
            before = v->last;
            pthread_mutex_unlock(&v->mu);
            refresh_last(v);
            if (v->last != before)
                pump_all(v);
        }
        reap(v, false);
    }
    return NULL;
}

/* ---- Open and close --------------------------------------------------------------- */

static int add_handler(axl_view_server *v, nng_http_handler *h, axl_errbuf *eb)
{
    int rv = nng_http_server_add_handler(v->http, h);
    if (rv != 0) {
        nng_http_handler_free(h);
        return axl_fail(eb, AXL_EIO, "http handler: %s", nng_strerror(rv));
    }
    v->handlers[v->nhandlers++] = h;
    return 0;
}

int axl_view_server_open(const axl_view_options *opt, axl_view_server **out, axl_errbuf *eb)
{
    *out = NULL;
    char host[256], url[400];
    unsigned port;
    const char *addr = opt->http != NULL ? opt->http : "127.0.0.1:8080";
    int rv = axl_view_check_addr(addr, host, sizeof(host), &port, eb);
    if (rv != 0)
        return rv;
    if (strlen(opt->store_dir) >= PATH_MAX)
        return axl_fail(eb, AXL_EINVAL, "store path too long");
    axl_view_server *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return axl_fail(eb, AXL_ENOMEM, "out of memory");
    pthread_mutex_init(&v->mu, NULL);
    strcpy(v->store_dir, opt->store_dir);
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    v->wait_for_store = opt->wait_for_store;
    if ((rv = axl_store_open(opt->store_dir, &so, &v->store, eb)) != 0 &&
        !(rv == AXL_ENOENT && opt->wait_for_store))
        goto fail;
    rv = 0;
    bool v6 = strchr(host, ':') != NULL;
    snprintf(url, sizeof(url), v6 ? "http://[%s]:%u" : "http://%s:%u", host, port);
    int nrv = nng_url_parse(&v->url, url);
    if (nrv == 0)
        nrv = nng_http_server_hold(&v->http, v->url);
    if (nrv != 0) {
        rv = axl_fail(eb, AXL_EIO, "http server %s: %s", url, nng_strerror(nrv));
        goto fail;
    }
    /* "/" is the whole page in one document; the separate files stay for tools. */
    if (axl_view_page_inline(NULL, 0, &v->page) != 0) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i <= axl_view_nassets; i++) {
        const axl_view_asset *a = i < axl_view_nassets ? &axl_view_assets[i] : NULL;
        nng_http_handler *h;
        if (a != NULL)
            nrv = nng_http_handler_alloc_static(&h, a->path, a->data, a->len, a->type);
        else
            nrv = nng_http_handler_alloc_static(&h, "/", v->page.data, v->page.len,
                                                "text/html; charset=utf-8");
        if (nrv != 0) {
            rv = axl_fail(eb, AXL_ENOMEM, "http handler: %s", nng_strerror(nrv));
            goto fail;
        }
        if ((rv = add_handler(v, h, eb)) != 0)
            goto fail;
    }
    nng_http_handler *dh;
    if ((nrv = nng_http_handler_alloc(&dh, "/data", data_handler)) != 0 ||
        (nrv = nng_http_handler_set_tree(dh)) != 0 ||
        (nrv = nng_http_handler_set_data(dh, v, NULL)) != 0) {
        rv = axl_fail(eb, AXL_ENOMEM, "http handler: %s", nng_strerror(nrv));
        goto fail;
    }
    if ((rv = add_handler(v, dh, eb)) != 0)
        goto fail;
    /* The feed on the same server (nng shares one HTTP server per host:port). */
    snprintf(url, sizeof(url), v6 ? "ws://[%s]:%u/feed" : "ws://%s:%u/feed", host, port);
    /* One chunk = one WebSocket message = one frame: nng's stream mode sends each
     * fragment of a larger one as a message of its own, which a page cannot parse. */
    if ((nrv = nng_stream_listener_alloc(&v->ws, url)) != 0 ||
        (nrv = nng_stream_listener_set_size(v->ws, NNG_OPT_WS_SENDMAXFRAME, FEED_MAX_FRAME)) != 0 ||
        (nrv = nng_stream_listener_listen(v->ws)) != 0 ||
        (nrv = nng_http_server_start(v->http)) != 0) {
        rv = axl_fail(eb, AXL_EIO, "cannot serve on %s: %s", addr, nng_strerror(nrv));
        goto fail;
    }
    nng_sockaddr sa;
    if (nng_http_server_get_addr(v->http, &sa) == 0)
        v->port = ntohs(sa.s_family == NNG_AF_INET6 ? sa.s_in6.sa_port : sa.s_in.sa_port);
    refresh_last(v);
    /* The campaign's PUB stream wakes the feeds (none running yet: the dial retries). */
    char pub[AXL_STREAM_ADDR_MAX], rep[AXL_STREAM_ADDR_MAX];
    const char *pub_addr = opt->pub_addr;
    if (pub_addr == NULL && axl_stream_default_addrs(opt->store_dir, pub, rep, sizeof(pub)) == 0)
        pub_addr = pub;
    if (pub_addr != NULL && nng_sub0_open(&v->sub) == 0) {
        v->sub_open = true;
        nng_socket_set(v->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
        nng_socket_set_size(v->sub, NNG_OPT_RECVMAXSZ, AXL_PROTO_MAX_MSG);
        nng_socket_set_ms(v->sub, NNG_OPT_RECVTIMEO, FOLLOW_WAKE_MS);
        nng_socket_set_ms(v->sub, NNG_OPT_RECONNMINT, 100);
        nng_socket_set_ms(v->sub, NNG_OPT_RECONNMAXT, 1000);
        nng_dial(v->sub, pub_addr, NULL, NNG_FLAG_NONBLOCK);
    }
    if ((nrv = nng_aio_alloc(&v->accept_aio, accept_cb, v)) != 0) {
        rv = axl_fail(eb, AXL_ENOMEM, "out of memory");
        goto fail;
    }
    if (pthread_create(&v->follower, NULL, follow, v) != 0) {
        rv = axl_fail(eb, AXL_ENOMEM, "cannot start the follower thread");
        goto fail;
    }
    v->follower_started = true;
    nng_stream_listener_accept(v->ws, v->accept_aio);
    *out = v;
    return 0;
fail:
    axl_view_server_close(v);
    return rv;
}

bool axl_view_server_drain(axl_view_server *v, double timeout_s)
{
    atomic_store(&v->draining, true);
    refresh_last(v);
    pump_all(v);
    /* Only at close, bounded: nng gives no "all sent" event across connections. */
    for (double waited = 0; waited < timeout_s; waited += 0.01) {
        bool done = true;
        pthread_mutex_lock(&v->mu);
        for (conn *c = v->conns; c != NULL; c = c->next_conn)
            if (!c->closed && (c->sending || c->next <= v->last))
                done = false;
        pthread_mutex_unlock(&v->mu);
        if (done)
            return true;
        pump_all(v); /* a chunk finished: the next one */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

unsigned axl_view_server_port(const axl_view_server *v)
{
    return v->port;
}

void axl_view_server_close(axl_view_server *v)
{
    if (v == NULL)
        return;
    atomic_store(&v->stopping, true);
    if (v->follower_started)
        pthread_join(v->follower, NULL);
    if (v->accept_aio != NULL)
        nng_aio_stop(v->accept_aio);
    if (v->ws != NULL)
        nng_stream_listener_close(v->ws);
    /* Every stream closed, then aio_stop waits for the callbacks in flight; after
     * that nothing refers to a connection. */
    pthread_mutex_lock(&v->mu);
    for (conn *c = v->conns; c != NULL; c = c->next_conn)
        conn_close_locked(c);
    conn *all = v->conns;
    v->conns = NULL;
    pthread_mutex_unlock(&v->mu);
    while (all != NULL) {
        conn *c = all;
        all = c->next_conn;
        conn_free(c);
    }
    nng_stream_listener_free(v->ws);
    if (v->http != NULL) {
        nng_http_server_stop(v->http);
        nng_http_server_release(v->http); /* frees the handlers registered with it */
    }
    nng_aio_free(v->accept_aio);
    if (v->sub_open)
        axl_bridge_close_socket(v->sub); /* the campaign may still publish: off thread */
    nng_url_free(v->url);
    axl_store_close(v->store);
    axl_view_buf_free(&v->page);
    pthread_mutex_destroy(&v->mu);
    free(v);
}
