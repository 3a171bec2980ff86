/* spectrum.c - PL spectra in PASCAL's CSV layout: parse, read, write, counts/s. */
#include "hw/line/axl_pl.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELD_MAX 64 /* longest number we accept, characters */

int axl_spectrum_alloc(axl_spectrum *s, size_t npix, size_t ndwell)
{
    if (s == NULL || npix == 0 || ndwell == 0 || npix > AXL_SPECTRUM_MAX_PIXELS ||
        ndwell > AXL_SPECTRUM_MAX_DWELLS)
        return AXL_EINVAL;
    memset(s, 0, sizeof(*s));
    s->wl = calloc(npix, sizeof(double));
    s->dwell_ms = calloc(ndwell, sizeof(double));
    s->counts = calloc(npix * ndwell, sizeof(double));
    if (s->wl == NULL || s->dwell_ms == NULL || s->counts == NULL) {
        axl_spectrum_free(s);
        return AXL_ENOMEM;
    }
    s->npix = npix;
    s->ndwell = ndwell;
    return 0;
}

void axl_spectrum_free(axl_spectrum *s)
{
    if (s == NULL)
        return;
    free(s->wl);
    free(s->dwell_ms);
    free(s->counts);
    memset(s, 0, sizeof(*s));
}

/* --- parsing -------------------------------------------------------------------------------- */

typedef struct line {
    const char *p; /* not NUL-terminated */
    size_t len;
} line;

/* Next line of text[*pos..len) without its "\n" / "\r\n"; false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, line *out)
{
    if (*pos >= len)
        return false;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t l = nl != NULL ? (size_t)(nl - start) : len - *pos;
    *pos += l + (nl != NULL);
    if (l > 0 && start[l - 1] == '\r')
        l--;
    out->p = start;
    out->len = l;
    return true;
}

static bool blank(const line *l)
{
    for (size_t i = 0; i < l->len; i++)
        if (l->p[i] != ' ' && l->p[i] != '\t')
            return false;
    return true;
}

/* Splits off the next comma-separated field into buf (NUL-terminated, trimmed). */
static bool next_field(line *l, char *buf, size_t cap, bool *more)
{
    const char *comma = memchr(l->p, ',', l->len);
    size_t n = comma != NULL ? (size_t)(comma - l->p) : l->len;
    const char *f = l->p;
    *more = comma != NULL;
    l->p += n + (comma != NULL);
    l->len -= n + (comma != NULL);
    while (n > 0 && (*f == ' ' || *f == '\t' || *f == '"'))
        f++, n--;
    while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\t' || f[n - 1] == '"'))
        n--;
    if (n >= cap)
        return false;
    memcpy(buf, f, n);
    buf[n] = '\0';
    return true;
}

/* A number; "nan" (any case) and an empty field are NaN; false when not a number. */
static bool parse_num(const char *s, double *out)
{
    if (s[0] == '\0') {
        *out = NAN;
        return true;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return false;
    *out = v;
    return true;
}

int axl_spectrum_parse_csv(const char *text, size_t len, const char *name, axl_spectrum *out,
                           axl_errbuf *eb)
{
    const char *nm = name != NULL ? name : "spectrum";
    axl_spectrum s = {0};
    char buf[FIELD_MAX];
    bool more;
    line l;
    size_t pos = 0, lineno = 1;
    int rc;
    if (text == NULL || out == NULL)
        return axl_fail(eb, AXL_EINVAL, "%s: NULL argument", nm);
    if (len > AXL_SPECTRUM_MAX_FILE)
        return axl_fail(eb, AXL_ETOOBIG, "%s: %zu bytes, at most %u", nm, len,
                        AXL_SPECTRUM_MAX_FILE);

    /* Row 1: label, then dwell times. */
    if (!next_line(text, len, &pos, &l) || blank(&l))
        return axl_fail(eb, AXL_EPROTO, "%s:1: no dwell-time row", nm);
    double dwell[AXL_SPECTRUM_MAX_DWELLS];
    size_t ndwell = 0;
    next_field(&l, buf, sizeof(buf), &more); /* the label, whatever it is */
    while (more) {
        if (ndwell >= AXL_SPECTRUM_MAX_DWELLS)
            return axl_fail(eb, AXL_ETOOBIG, "%s:1: more than %d dwell times", nm,
                            AXL_SPECTRUM_MAX_DWELLS);
        if (!next_field(&l, buf, sizeof(buf), &more) || !parse_num(buf, &dwell[ndwell]) ||
            !isfinite(dwell[ndwell]) || dwell[ndwell] <= 0)
            return axl_fail(eb, AXL_EPROTO, "%s:1: column %zu: dwell '%s' is not a positive number",
                            nm, ndwell + 2, buf);
        ndwell++;
    }
    if (ndwell == 0)
        return axl_fail(eb, AXL_EPROTO, "%s:1: no dwell times after the label", nm);

    /* Row 2: a header we do not need. */
    if (!next_line(text, len, &pos, &l))
        return axl_fail(eb, AXL_EPROTO, "%s:2: missing header row", nm);
    lineno = 2;

    /* Count data rows to allocate once. */
    size_t npix = 0, scan = pos;
    while (next_line(text, len, &scan, &l))
        npix += !blank(&l);
    if (npix == 0)
        return axl_fail(eb, AXL_EPROTO, "%s: no data rows", nm);
    if (npix > AXL_SPECTRUM_MAX_PIXELS)
        return axl_fail(eb, AXL_ETOOBIG, "%s: %zu pixels, at most %d", nm, npix,
                        AXL_SPECTRUM_MAX_PIXELS);
    if ((rc = axl_spectrum_alloc(&s, npix, ndwell)))
        return axl_fail(eb, rc, "%s: cannot allocate %zu x %zu values", nm, npix, ndwell);
    memcpy(s.dwell_ms, dwell, ndwell * sizeof(double));

    size_t i = 0;
    while (next_line(text, len, &pos, &l)) {
        lineno++;
        if (blank(&l))
            continue;
        double v;
        if (!next_field(&l, buf, sizeof(buf), &more) || !parse_num(buf, &v) || !isfinite(v) ||
            v <= 0 || v > 1e5) {
            rc = axl_fail(eb, AXL_EPROTO, "%s:%zu: wavelength '%s' is not a number in (0, 1e5] nm",
                          nm, lineno, buf);
            goto fail;
        }
        s.wl[i] = v;
        for (size_t d = 0; d < ndwell; d++) {
            if (!more) {
                rc = axl_fail(eb, AXL_EPROTO, "%s:%zu: %zu values, expected %zu", nm, lineno, d,
                              ndwell);
                goto fail;
            }
            if (!next_field(&l, buf, sizeof(buf), &more) || !parse_num(buf, &v)) {
                rc = axl_fail(eb, AXL_EPROTO, "%s:%zu: column %zu: '%s' is not a number", nm,
                              lineno, d + 2, buf);
                goto fail;
            }
            /* +-inf can only mean a broken pixel: treat it like a saturated one. */
            s.counts[i * ndwell + d] = isfinite(v) ? v : NAN;
        }
        if (more) {
            rc = axl_fail(eb, AXL_EPROTO, "%s:%zu: more than %zu values", nm, lineno, ndwell);
            goto fail;
        }
        i++;
    }
    *out = s;
    return 0;
fail:
    axl_spectrum_free(&s);
    return rc;
}

int axl_spectrum_read_csv(const char *path, axl_spectrum *out, axl_errbuf *eb)
{
    int rc;
    char *buf = NULL;
    FILE *f = path != NULL ? fopen(path, "rb") : NULL;
    if (f == NULL)
        return axl_fail(eb, AXL_EIO, "%s: %s", path != NULL ? path : "(null)", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = axl_fail(eb, AXL_EIO, "%s: not a regular file", path);
        goto fail;
    }
    if ((unsigned long long)st.st_size > AXL_SPECTRUM_MAX_FILE) {
        rc = axl_fail(eb, AXL_ETOOBIG, "%s: %lld bytes, at most %u", path, (long long)st.st_size,
                      AXL_SPECTRUM_MAX_FILE);
        goto fail;
    }
    size_t len = (size_t)st.st_size;
    buf = malloc(len + 1);
    if (buf == NULL) {
        rc = axl_fail(eb, AXL_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (fread(buf, 1, len, f) != len) {
        rc = axl_fail(eb, AXL_EIO, "%s: short read", path);
        goto fail;
    }
    rc = axl_spectrum_parse_csv(buf, len, path, out, eb);
fail:
    free(buf);
    fclose(f);
    return rc;
}

int axl_spectrum_write_csv(const char *path, const axl_spectrum *s, axl_errbuf *eb)
{
    if (path == NULL || s == NULL || s->npix == 0 || s->ndwell == 0 || s->wl == NULL ||
        s->dwell_ms == NULL || s->counts == NULL)
        return axl_fail(eb, AXL_EINVAL, "spectrum: nothing to write");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL)
        return axl_fail(eb, AXL_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return axl_fail(eb, AXL_EIO, "%s: cannot create a temporary file: %s", path, strerror(e));
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        goto io_fail;
    }
    fprintf(f, "dwelltime_ms");
    for (size_t d = 0; d < s->ndwell; d++)
        fprintf(f, ",%.10g", s->dwell_ms[d]);
    fprintf(f, "\nwavelength_nm");
    for (size_t d = 0; d < s->ndwell; d++)
        fprintf(f, ",counts");
    fputc('\n', f);
    for (size_t i = 0; i < s->npix; i++) {
        fprintf(f, "%.6f", s->wl[i]);
        for (size_t d = 0; d < s->ndwell; d++) {
            double v = s->counts[i * s->ndwell + d];
            if (isfinite(v) && v < AXL_SPECTRUM_SATURATION)
                fprintf(f, ",%.10g", v);
            else
                fprintf(f, ",nan");
        }
        fputc('\n', f);
    }
    /* Durable before visible: the file is the sample's record. */
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)) {
        fclose(f);
        goto io_fail;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        goto io_fail;
    free(tmp);
    return 0;
io_fail : {
    int e = errno;
    unlink(tmp);
    free(tmp);
    return axl_fail(eb, AXL_EIO, "%s: write failed: %s", path, strerror(e));
}
}

int axl_spectrum_cps(const axl_spectrum *s, double *cps, size_t *dwell, axl_errbuf *eb)
{
    if (s == NULL || cps == NULL || s->npix == 0 || s->ndwell == 0 || s->counts == NULL)
        return axl_fail(eb, AXL_EINVAL, "spectrum: empty");
    ptrdiff_t best = -1;
    size_t saturated_cols = 0;
    for (size_t d = 0; d < s->ndwell; d++) {
        bool ok = isfinite(s->dwell_ms[d]) && s->dwell_ms[d] > 0;
        for (size_t i = 0; ok && i < s->npix; i++) {
            double v = s->counts[i * s->ndwell + d];
            ok = isfinite(v) && v < AXL_SPECTRUM_SATURATION;
        }
        if (!ok) {
            saturated_cols++;
            continue;
        }
        if (best < 0 || s->dwell_ms[d] > s->dwell_ms[best])
            best = (ptrdiff_t)d;
    }
    if (best < 0)
        return axl_fail(eb, AXL_ERANGE,
                        "spectrum: every dwell time (%zu) has saturated or missing pixels",
                        saturated_cols);
    for (size_t i = 0; i < s->npix; i++)
        cps[i] = 1000.0 * s->counts[i * s->ndwell + (size_t)best] / s->dwell_ms[best];
    if (dwell != NULL)
        *dwell = (size_t)best;
    return 0;
}
