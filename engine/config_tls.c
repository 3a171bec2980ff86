/*
 * config_tls.c - the experiment file's "tls" section: the same three PEM files as
 * --tls-cert / --tls-key / --tls-ca (proto/README.md §13), for the tls+tcp:// addresses
 * the file names (lab workers) and those given on the command line.
 *
 *   "tls": {"cert": "certs/engine.pem", "key": "certs/engine.key", "ca": "certs/ca.pem"}
 *
 * Relative paths are relative to the experiment file. `axle run FILE` resolves them and
 * stores the absolute paths in the campaign's copy of the file, so that `axle resume` finds
 * them wherever it runs. The command-line options, when given, win over the section.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/config_tls.h"
#include "hw/worker/axl_net.h"
#include "proto/json/axl_json.h"

static const char *const tls_keys[] = {"cert", "key", "ca", NULL};

int axl_config_tls_parse(json_t *root, axl_experiment *e, axl_errbuf *eb)
{
    json_t *tls = json_object_get(root, "tls");
    if (tls == NULL)
        return 0;
    if (!json_is_object(tls))
        return axl_fail(eb, AXL_ECONFIG, "tls: must be an object {cert, key, ca}");
    int rv = axl_json_check_keys(tls, "tls", tls_keys, AXL_ECONFIG, eb);
    if (rv != 0)
        return rv;
    char **out[] = {&e->tls_cert, &e->tls_key, &e->tls_ca};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(tls, tls_keys[i]);
        const char *s = json_string_value(v);
        if (v == NULL)
            return axl_fail(eb, AXL_ECONFIG,
                            "tls.%s: required (give cert, key and ca together: both ends "
                            "authenticate)",
                            tls_keys[i]);
        if (s == NULL || s[0] == '\0' || strlen(s) >= PATH_MAX)
            return axl_fail(eb, AXL_ECONFIG, "tls.%s: must be a file path (a non-empty string)",
                            tls_keys[i]);
        if ((*out[i] = strdup(s)) == NULL)
            return AXL_ENOMEM;
    }
    return 0;
}

/* dir + "/" + rel, malloc'd (NULL: out of memory). */
static char *join(const char *dir, const char *rel)
{
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

int axl_config_tls_resolve(axl_experiment *e, const char *file, axl_errbuf *eb)
{
    if (e->tls_cert == NULL)
        return 0;
    /* The file's directory, absolute. */
    char *dir = NULL;
    const char *slash = strrchr(file, '/');
    char *fdir = slash == NULL ? strdup(".") : strndup(file, (size_t)(slash - file) + 1);
    if (fdir == NULL || (dir = realpath(fdir, NULL)) == NULL) {
        int err = errno;
        free(fdir);
        return axl_fail(eb, AXL_ECONFIG, "tls: the experiment file's directory: %s", strerror(err));
    }
    free(fdir);
    char **paths[] = {&e->tls_cert, &e->tls_key, &e->tls_ca};
    json_error_t jerr;
    json_t *root = json_loads(e->source, 0, &jerr);
    json_t *tls = json_object_get(root, "tls");
    int rv = root == NULL || tls == NULL ? AXL_ENOMEM : 0;
    for (int i = 0; i < 3 && rv == 0; i++) {
        if ((*paths[i])[0] != '/') {
            char *abs = join(dir, *paths[i]);
            if (abs == NULL) {
                rv = AXL_ENOMEM;
                break;
            }
            free(*paths[i]);
            *paths[i] = abs;
        }
        if (access(*paths[i], R_OK) != 0)
            rv = axl_fail(eb, AXL_ECONFIG, "tls.%s: cannot read %s: %s", tls_keys[i], *paths[i],
                          strerror(errno));
        else if (json_object_set_new(tls, tls_keys[i], json_string(*paths[i])) != 0)
            rv = AXL_ENOMEM;
    }
    /* The campaign's copy of the file carries the absolute paths (see the top). */
    char *src = rv == 0 ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
    if (rv == 0 && src == NULL)
        rv = AXL_ENOMEM;
    if (rv == 0) {
        free(e->source);
        e->source = src;
    }
    if (rv == AXL_ENOMEM)
        axl_fail(eb, rv, "out of memory reading the tls section");
    json_decref(root);
    free(dir);
    return rv;
}

bool axl_config_tls_apply(const axl_experiment *e, axl_net_opts *saved)
{
    const axl_net_opts *cur = axl_net_defaults();
    *saved = *cur;
    if (e->tls_cert == NULL || cur->tls_cert != NULL || cur->tls_key != NULL || cur->tls_ca != NULL)
        return false;
    axl_net_opts o = *cur;
    o.tls_cert = e->tls_cert;
    o.tls_key = e->tls_key;
    o.tls_ca = e->tls_ca;
    axl_net_set_defaults(&o);
    return true;
}
