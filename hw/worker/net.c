/* net.c - listen and dial with axle's access rules (axl_net.h). */
#include "hw/worker/axl_net.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/supplemental/tls/tls.h>

#include "proto/axl_log.h"

#define SRC "net"

static axl_net_opts defaults;

void axl_net_set_defaults(const axl_net_opts *o)
{
    defaults = *o;
}

const axl_net_opts *axl_net_defaults(void)
{
    return &defaults;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

bool axl_net_is_tls(const char *url)
{
    return url != NULL && has_prefix(url, "tls+tcp");
}

static bool is_plain_tcp(const char *url)
{
    return has_prefix(url, "tcp://") || has_prefix(url, "tcp4://") || has_prefix(url, "tcp6://") ||
           has_prefix(url, "ws://");
}

/* The host part of scheme://host:port (copied into out), "" for none. */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    out[0] = '\0';
    if (p == NULL)
        return;
    p += 3;
    const char *end;
    if (*p == '[') {
        end = strchr(p, ']');
        if (end == NULL)
            return;
        p++;
    } else {
        end = strrchr(p, ':');
        if (end == NULL)
            end = p + strlen(p);
    }
    size_t n = (size_t)(end - p);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static bool host_is_loopback(const char *h)
{
    return has_prefix(h, "127.") || strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0;
}

/* Reads a whole (small) PEM file into a NUL-terminated malloc'd string. */
static char *read_pem(const char *path, axl_errbuf *eb, int *rv)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (f == NULL) {
        *rv = axl_fail(eb, AXL_EINVAL, "TLS: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (1 << 20) ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        *rv = axl_fail(eb, AXL_EINVAL, "TLS: cannot read %s (at most 1 MiB of PEM)", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A TLS configuration with our certificate, the CA, and peer verification required. */
static int tls_config(const axl_net_opts *o, bool server, const char *url, nng_tls_config **out,
                      axl_errbuf *eb)
{
    nng_tls_config *cfg = NULL;
    char *cert = NULL, *key = NULL, host[256];
    int nrv, rv = 0;

    *out = NULL;
    if (o == NULL || o->tls_cert == NULL || o->tls_key == NULL || o->tls_ca == NULL)
        return axl_fail(eb, AXL_EINVAL,
                        "%s needs TLS configured: --tls-cert, --tls-key and --tls-ca (mutual "
                        "authentication)",
                        url);
    if ((nrv = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)))
        return axl_fail(eb, AXL_EIO, "TLS: %s (is nng built with a TLS engine? %s)",
                        nng_strerror(nrv), nng_tls_engine_name());
    if ((cert = read_pem(o->tls_cert, eb, &rv)) == NULL ||
        (key = read_pem(o->tls_key, eb, &rv)) == NULL)
        goto fail;
    if ((nrv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
        rv = axl_fail(eb, AXL_EINVAL, "TLS: certificate %s / key %s: %s", o->tls_cert, o->tls_key,
                      nng_strerror(nrv));
        goto fail;
    }
    if ((nrv = nng_tls_config_ca_file(cfg, o->tls_ca)) != 0) {
        rv = axl_fail(eb, AXL_EINVAL, "TLS: CA file %s: %s", o->tls_ca, nng_strerror(nrv));
        goto fail;
    }
    if ((nrv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
        (nrv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_3)) != 0) {
        rv = axl_fail(eb, AXL_EIO, "TLS: %s", nng_strerror(nrv));
        goto fail;
    }
    url_host(url, host, sizeof(host));
    if (!server && host[0] != '\0' && (nrv = nng_tls_config_server_name(cfg, host)) != 0) {
        rv = axl_fail(eb, AXL_EIO, "TLS: server name %s: %s", host, nng_strerror(nrv));
        goto fail;
    }
    free(cert);
    free(key);
    *out = cfg;
    return 0;
fail:
    free(cert);
    free(key);
    if (cfg != NULL)
        nng_tls_config_free(cfg);
    return rv;
}

/* Refuses what the rules refuse; warns about what they allow with a risk. */
static int check_url(const char *url, const axl_net_opts *o, bool listen, const char *what,
                     axl_errbuf *eb)
{
    char host[256];
    if (url == NULL || url[0] == '\0')
        return axl_fail(eb, AXL_EINVAL, "%s: empty address", what);
    if (is_plain_tcp(url)) {
        if (o == NULL || !o->insecure)
            return axl_fail(eb, AXL_EINVAL,
                            "%s %s: plain tcp is refused (no authentication, no encryption); use "
                            "tls+tcp:// with --tls-cert/--tls-key/--tls-ca, or --insecure",
                            what, url);
        static bool warned_dial;
        if (listen || !warned_dial)
            AXL_WARN(SRC,
                     "%s %s: INSECURE plain tcp (--insecure): no authentication, no "
                     "encryption",
                     what, url);
        warned_dial |= !listen;
    } else if (!axl_net_is_tls(url) && !has_prefix(url, "ipc://") &&
               !has_prefix(url, "inproc://") && !has_prefix(url, "abstract://")) {
        return axl_fail(eb, AXL_EINVAL, "%s %s: unsupported transport (ipc://, tls+tcp://)", what,
                        url);
    }
    if (listen && (is_plain_tcp(url) || axl_net_is_tls(url))) {
        url_host(url, host, sizeof(host));
        if (!host_is_loopback(host))
            AXL_WARN(SRC, "%s listens on %s, a non-loopback address: reachable from the network",
                     what, url);
    }
    return 0;
}

static void tls_free(nng_tls_config *c)
{
    if (c != NULL) /* libnng 1.5.2's nng_tls_config_free(NULL) faults */
        nng_tls_config_free(c);
}

static int nng_code(int nrv)
{
    switch (nrv) {
    case NNG_EADDRINUSE:
        return AXL_EBUSY;
    case NNG_EPERM:
        return AXL_EACCES;
    case NNG_ECONNREFUSED:
    case NNG_ENOENT:
        return AXL_ECLOSED;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
        return AXL_EINVAL;
    default:
        return AXL_EIO;
    }
}

int axl_net_listen(nng_socket s, const char *url, const axl_net_opts *o, const char *what,
                   axl_errbuf *eb)
{
    nng_listener l;
    nng_tls_config *tls = NULL;
    gid_t gid = (gid_t)-1;
    int nrv, rv;

    if (o == NULL)
        o = &defaults;
    if ((rv = check_url(url, o, true, what, eb)) != 0)
        return rv;
    bool ipc = has_prefix(url, "ipc://");
    if (ipc && o->group != NULL) {
        struct group *g = getgrnam(o->group);
        if (g == NULL)
            return axl_fail(eb, AXL_EINVAL, "%s: no group '%s'", what, o->group);
        gid = g->gr_gid;
    }
    if (axl_net_is_tls(url) && (rv = tls_config(o, true, url, &tls, eb)) != 0)
        return rv;
    if ((nrv = nng_listener_create(&l, s, url)) != 0)
        goto nfail;
    if (ipc &&
        (nrv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, gid != (gid_t)-1 ? 0660 : 0600)))
        goto nfail_l;
    if (tls != NULL && (nrv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls)) != 0)
        goto nfail_l;
    /* nng binds, then chmods: a umask of 0177 for that instant closes the window in which
     * a permissive umask would leave the fresh socket file open to everyone, and the file
     * is born 0600 (a reader who sees it before nng's chmod sees its final mode). */
    mode_t old = ipc ? umask(0177) : 0;
    nrv = nng_listener_start(l, 0);
    if (ipc)
        umask(old);
    if (nrv != 0)
        goto nfail_l;
    if (gid != (gid_t)-1 && chown(url + 6, (uid_t)-1, gid) != 0) {
        int e = errno;
        nng_listener_close(l);
        tls_free(tls);
        return axl_fail(eb, AXL_EACCES, "%s %s: cannot give the socket to group %s: %s", what, url,
                        o->group, strerror(e));
    }
    tls_free(tls); /* the listener holds its own reference */
    return 0;
nfail_l:
    nng_listener_close(l);
nfail:
    tls_free(tls);
    return axl_fail(eb, nng_code(nrv), "%s %s: %s", what, url, nng_strerror(nrv));
}

int axl_net_dial(nng_socket s, const char *url, const axl_net_opts *o, int flags, const char *what,
                 axl_errbuf *eb)
{
    nng_dialer d;
    nng_tls_config *tls = NULL;
    int nrv, rv;

    if (o == NULL)
        o = &defaults;
    if ((rv = check_url(url, o, false, what, eb)) != 0)
        return rv;
    if (axl_net_is_tls(url) && (rv = tls_config(o, false, url, &tls, eb)) != 0)
        return rv;
    if ((nrv = nng_dialer_create(&d, s, url)) != 0) {
        tls_free(tls);
        return axl_fail(eb, nng_code(nrv), "%s %s: %s", what, url, nng_strerror(nrv));
    }
    if (tls != NULL && (nrv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls)) != 0) {
        nng_dialer_close(d);
        tls_free(tls);
        return axl_fail(eb, AXL_EIO, "%s %s: %s", what, url, nng_strerror(nrv));
    }
    tls_free(tls);
    if ((nrv = nng_dialer_start(d, flags)) != 0) {
        nng_dialer_close(d);
        return axl_fail(eb, nng_code(nrv), "%s %s: %s", what, url, nng_strerror(nrv));
    }
    return 0;
}
