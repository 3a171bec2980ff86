/*
 * report.c - `axle report`: one HTML file holding the page, its script and style and the
 * campaign's data, for a lab notebook or an email. The data is the feed's events of one
 * experiment, made smaller without changing what the page draws: a trial's events all
 * carry its whole record, so only the last one of each trial is kept, and only the last
 * labware state; the lab's PL spectra go in as counts per second at the dwell the fit
 * used, at most SPECTRUM_POINTS points each.
 */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/view/view.h"
#include "hw/line/axl_pl.h"
#include "proto/axl_proto.h"

#define SPECTRUM_POINTS 256

typedef struct kept {
    char *json; /* NULL once a later event replaced it */
} kept;

typedef struct report {
    kept *ev;
    size_t n, cap;
    long long *trial_at; /* index of a trial's last event in ev, -1 none */
    size_t ntrials;
    long long labware_at;
} report;

static int keep(report *r, const char *json, size_t len, size_t *at)
{
    if (r->n == r->cap) {
        size_t cap = r->cap == 0 ? 1024 : r->cap * 2;
        kept *e = realloc(r->ev, cap * sizeof(*e));
        if (e == NULL)
            return AXL_ENOMEM;
        r->ev = e;
        r->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return AXL_ENOMEM;
    memcpy(copy, json, len);
    copy[len] = '\0';
    r->ev[r->n].json = copy;
    *at = r->n++;
    return 0;
}

static void drop(report *r, long long at)
{
    if (at >= 0) {
        free(r->ev[at].json);
        r->ev[at].json = NULL;
    }
}

static int trial_slot(report *r, int64_t trial)
{
    if (trial < 0 || trial > (int64_t)10000000)
        return AXL_ERANGE;
    if ((size_t)trial >= r->ntrials) {
        size_t n = r->ntrials == 0 ? 256 : r->ntrials;
        while (n <= (size_t)trial)
            n *= 2;
        long long *t = realloc(r->trial_at, n * sizeof(*t));
        if (t == NULL)
            return AXL_ENOMEM;
        for (size_t i = r->ntrials; i < n; i++)
            t[i] = -1;
        r->trial_at = t;
        r->ntrials = n;
    }
    return 0;
}

/* Appends ,"TRIAL":{"dwell_ms":D,"wl":[...],"cps":[...]} for one spectrum file. */
static void add_spectrum(const char *store_dir, const char *experiment, json_t *ev,
                         axl_view_buf *out, bool *first)
{
    json_t *res = json_object_get(json_object_get(ev, "body"), "result");
    const char *path = json_string_value(json_object_get(res, "spectrum"));
    json_int_t trial = json_integer_value(json_object_get(ev, "trial"));
    if (path == NULL)
        return;
    /* The engine wrote <store>/data/<experiment>/...; find it under this store. */
    char marker[300], real[PATH_MAX];
    snprintf(marker, sizeof(marker), "data/%s/", experiment);
    const char *at = strstr(path, marker);
    if (at == NULL || axl_view_data_path(store_dir, at + 5, real, sizeof(real), NULL) != 0)
        return;
    axl_spectrum sp;
    if (axl_spectrum_read_csv(real, &sp, NULL) != 0)
        return;
    double *cps = malloc(sp.npix * sizeof(double));
    size_t dwell = 0;
    if (cps != NULL && axl_spectrum_cps(&sp, cps, &dwell, NULL) == 0) {
        size_t step =
            sp.npix > SPECTRUM_POINTS ? (sp.npix + SPECTRUM_POINTS - 1) / SPECTRUM_POINTS : 1;
        char num[64];
        snprintf(num, sizeof(num), "%s\"%lld\":{\"dwell_ms\":%.6g,\"wl\":[", *first ? "" : ",",
                 (long long)trial, sp.dwell_ms[dwell]);
        axl_view_buf_str(out, num);
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < sp.npix; i += step) {
                double x = pass == 0 ? sp.wl[i] : cps[i];
                snprintf(num, sizeof(num), "%s%.6g", i == 0 ? "" : ",", isfinite(x) ? x : 0.0);
                axl_view_buf_str(out, num);
            }
            axl_view_buf_str(out, pass == 0 ? "],\"cps\":[" : "]}");
        }
        *first = false;
    }
    free(cps);
    axl_spectrum_free(&sp);
}

/* Every "</" becomes "<\/" so that no data can close the <script> it lives in. */
static int add_script_safe(axl_view_buf *out, const char *s, size_t n)
{
    size_t from = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '<' && s[i + 1] == '/') {
            if (axl_view_buf_add(out, s + from, i + 1 - from) != 0 ||
                axl_view_buf_add(out, "\\", 1) != 0)
                return AXL_ENOMEM;
            from = i + 1;
        }
    }
    return axl_view_buf_add(out, s + from, n - from);
}

static int build_data(const char *store_dir, const char *name, axl_view_buf *data, axl_errbuf *eb)
{
    report r = {.labware_at = -1};
    axl_store *s = NULL;
    axl_store_iter *it = NULL;
    axl_view_buf one = {0}, spectra = {0};
    bool found = false, first_spec = true;
    size_t nlen = strlen(name);
    axl_store_options so = {.flags = AXL_STORE_RDONLY};
    int rv = axl_store_open(store_dir, &so, &s, eb);
    if (rv == 0)
        rv = axl_store_iter_open(s, 1, 0, &it, eb);
    while (rv == 0) {
        uint64_t seq;
        const void *bytes;
        size_t len;
        axl_event ev;
        rv = axl_store_iter_next(it, &seq, &bytes, &len, eb);
        if (rv != 0)
            break;
        if (axl_event_decode(bytes, len, &ev, NULL) != 0 || ev.experiment_len != nlen ||
            memcmp(ev.experiment, name, nlen) != 0)
            continue;
        found = true;
        one.len = 0;
        if ((rv = axl_view_event_json(bytes, len, &one)) != 0)
            break;
        size_t at;
        if ((rv = keep(&r, one.data, one.len, &at)) != 0)
            break;
        if (ev.rec == AXL_REC_TRIAL) {
            if ((rv = trial_slot(&r, ev.trial)) != 0)
                break;
            drop(&r, r.trial_at[ev.trial]);
            r.trial_at[ev.trial] = (long long)at;
        } else if (ev.rec == AXL_REC_LABWARE) {
            drop(&r, r.labware_at);
            r.labware_at = (long long)at;
        } else if (ev.type_len == 13 && memcmp(ev.type, "task.finished", 13) == 0) {
            json_t *j = json_loadb(one.data, one.len, 0, NULL);
            if (j != NULL)
                add_spectrum(store_dir, name, j, &spectra, &first_spec);
            json_decref(j);
        }
    }
    axl_store_iter_close(it);
    axl_store_close(s);
    if (rv == AXL_ENOENT)
        rv = 0;
    if (rv == 0 && !found)
        rv =
            axl_fail(eb, AXL_ENOENT, "no experiment '%s' in %s (see axle status)", name, store_dir);
    if (rv == 0) {
        rv = axl_view_buf_str(data, "{\"experiment\":");
        json_t *jn = json_string(name);
        char *sn = jn != NULL ? json_dumps(jn, JSON_ENCODE_ANY) : NULL;
        if (rv == 0 && sn != NULL)
            rv = add_script_safe(data, sn, strlen(sn));
        free(sn);
        json_decref(jn);
        if (rv == 0)
            rv = axl_view_buf_str(data, ",\"events\":[");
        bool first = true;
        for (size_t i = 0; rv == 0 && i < r.n; i++) {
            if (r.ev[i].json == NULL)
                continue;
            if (!first)
                rv = axl_view_buf_add(data, ",\n", 2);
            if (rv == 0)
                rv = add_script_safe(data, r.ev[i].json, strlen(r.ev[i].json));
            first = false;
        }
        if (rv == 0)
            rv = axl_view_buf_str(data, "],\"spectra\":{");
        if (rv == 0 && spectra.len > 0)
            rv = add_script_safe(data, spectra.data, spectra.len);
        if (rv == 0)
            rv = axl_view_buf_str(data, "}}");
        if (rv == AXL_ENOMEM)
            axl_fail(eb, rv, "out of memory");
    }
    for (size_t i = 0; i < r.n; i++)
        free(r.ev[i].json);
    free(r.ev);
    free(r.trial_at);
    axl_view_buf_free(&one);
    axl_view_buf_free(&spectra);
    return rv;
}

/* Replaces the first `marker` of tpl (from *pos on) with repl, copying what precedes it. */
static int splice(axl_view_buf *out, const char *tpl, size_t *pos, const char *marker,
                  const void *repl, size_t repl_len)
{
    const char *m = strstr(tpl + *pos, marker);
    if (m == NULL)
        return AXL_EPROTO;
    size_t upto = (size_t)(m - tpl);
    if (axl_view_buf_add(out, tpl + *pos, upto - *pos) != 0 ||
        axl_view_buf_add(out, repl, repl_len) != 0)
        return AXL_ENOMEM;
    *pos = upto + strlen(marker);
    return 0;
}

int axl_view_page_inline(const char *data, size_t data_len, axl_view_buf *page)
{
    const axl_view_asset *html = axl_view_asset_get("/index.html");
    const axl_view_asset *js = axl_view_asset_get("/app.js");
    const axl_view_asset *css = axl_view_asset_get("/style.css");
    if (html == NULL || js == NULL || css == NULL)
        return AXL_EPROTO;
    axl_view_buf part = {0};
    const char *tpl = (const char *)html->data;
    size_t pos = 0;
    /* The page's references become inline style, (data and) script. */
    int rv = axl_view_buf_str(&part, "<style>\n");
    if (rv == 0)
        rv = axl_view_buf_add(&part, css->data, css->len);
    if (rv == 0)
        rv = axl_view_buf_str(&part, "</style>");
    if (rv == 0)
        rv = splice(page, tpl, &pos, "<link rel=\"stylesheet\" href=\"style.css\">", part.data,
                    part.len);
    part.len = 0;
    if (rv == 0 && data != NULL) {
        rv = axl_view_buf_str(&part, "<script>window.AXLE_REPORT = ");
        if (rv == 0)
            rv = axl_view_buf_add(&part, data, data_len);
        if (rv == 0)
            rv = axl_view_buf_str(&part, ";</script>\n");
    }
    if (rv == 0)
        rv = axl_view_buf_str(&part, "<script>\n");
    if (rv == 0)
        rv = add_script_safe(&part, (const char *)js->data, js->len);
    if (rv == 0)
        rv = axl_view_buf_str(&part, "</script>");
    if (rv == 0)
        rv = splice(page, tpl, &pos, "<script src=\"app.js\"></script>", part.data, part.len);
    if (rv == 0)
        rv = axl_view_buf_add(page, tpl + pos, html->len - pos);
    axl_view_buf_free(&part);
    return rv;
}

int axl_view_report_write(const char *store_dir, const char *name, const char *out_path,
                          size_t *bytes, axl_errbuf *eb)
{
    axl_view_buf data = {0}, page = {0};
    int rv = build_data(store_dir, name, &data, eb);
    if (rv != 0)
        goto fail;
    if ((rv = axl_view_page_inline(data.data, data.len, &page)) != 0) {
        rv = axl_fail(eb, rv, rv == AXL_ENOMEM ? "out of memory" : "page template is malformed");
        goto fail;
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", out_path) >= (int)sizeof(tmp)) {
        rv = axl_fail(eb, AXL_EINVAL, "output path too long");
        goto fail;
    }
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL && fwrite(page.data, 1, page.len, f) == page.len;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, out_path) != 0) {
        rv = axl_fail(eb, AXL_EIO, "cannot write %s", out_path);
        remove(tmp);
        goto fail;
    }
    if (bytes != NULL)
        *bytes = page.len;
fail:
    axl_view_buf_free(&data);
    axl_view_buf_free(&page);
    return rv;
}
