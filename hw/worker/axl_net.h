/*
 * axl_net.h - the one place where axle's nng sockets listen and dial: who may connect.
 *
 * Used by the engine's event stream and replay service (engine/stream.c), `axle
 * subscribe`, the workers and the engine's worker links. Rules (proto/README.md,
 * "Security"):
 *   - ipc:// socket files are created 0600 whatever the umask (0660 and the group's
 *     ownership with `group`), so another local user can neither read the stream nor
 *     drive a worker;
 *   - plain tcp:// is refused unless `insecure` (then a warning at start): a remote peer
 *     must come over tls+tcp:// with mutual certificate authentication (tls_cert/tls_key
 *     are ours, tls_ca signs the peers'; a peer without a valid certificate is refused);
 *   - listening on a non-loopback address logs a warning.
 */
#ifndef AXL_NET_H
#define AXL_NET_H

#include <stdbool.h>

#include <nng/nng.h>

#include "proto/axl_error.h"

typedef struct axl_net_opts {
    const char *group;    /* ipc sockets shared with this group (0660); NULL: owner only */
    const char *tls_cert; /* PEM file: our certificate (chain) */
    const char *tls_key;  /* PEM file: its private key */
    const char *tls_ca;   /* PEM file: the CA(s) our peers' certificates must chain to */
    bool insecure;        /* allow plain tcp:// (no authentication, no encryption) */
} axl_net_opts;

/*
 * The process's defaults, used wherever o is NULL below: set once by the command line
 * (axle run/resume/subscribe/worker: --group, --tls-cert, --tls-key, --tls-ca,
 * --insecure) before any thread starts. The strings are borrowed (argv). Initially all
 * NULL/false: owner-only sockets, no TLS, plain tcp refused.
 */
void axl_net_set_defaults(const axl_net_opts *o);
const axl_net_opts *axl_net_defaults(void);

/* A URL's scheme is tcp (plain), tls+tcp, ipc, or something else. */
bool axl_net_is_tls(const char *url);

/*
 * Listens on url with the rules above (o NULL: the process defaults).
 * what names the service in messages ("event stream"). Returns 0, AXL_EINVAL (refused:
 * plain tcp, TLS incomplete, unknown group or scheme; eb says why), AXL_EBUSY (address in
 * use), AXL_EACCES, AXL_EIO.
 */
int axl_net_listen(nng_socket s, const char *url, const axl_net_opts *o, const char *what,
                   axl_errbuf *eb);

/*
 * Dials url with the same rules (TLS: the server's certificate is checked against tls_ca
 * and ours presented). flags as nng_dial (NNG_FLAG_NONBLOCK). Returns 0 or as above
 * (AXL_ECLOSED when nobody listens, AXL_EACCES when refused).
 */
int axl_net_dial(nng_socket s, const char *url, const axl_net_opts *o, int flags, const char *what,
                 axl_errbuf *eb);

#endif
