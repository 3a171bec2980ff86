/*
 * proto_interop: the C side of the interop test (interop.py) and the corpus tool.
 *   proto_interop write DIR         c_<type>.mp for every message, c_event_<i>.mp,
 *                                   c_trial.mp: the samples of samples.c
 *   proto_interop read DIR          decodes py_<type>.mp, py_event_<i>.mp, py_trial.mp
 *                                   written by Python and checks every field against the
 *                                   samples; bad_<AXL_E...>_<name>.mp must be refused
 *                                   with that code
 *   proto_interop corpus DIR        writes the fuzz seed corpus (valid inputs of every kind)
 *   proto_interop check-corpus DIR  every file is accepted by a decoder, invariants hold
 * Exit status 0 when everything matched.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/axl_proto.h"
#include "proto/axl_wire.h"
#include "test/proto/invariants.h"
#include "test/proto/mpj.h"
#include "test/proto/samples.h"

static int failures;

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
    return 0;
}

/* Reads a whole file into an exactly sized malloc'd buffer; NULL when absent. */
static void *read_file(const char *dir, const char *name, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    void *p = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

static void report(bool ok, const char *name, const char *detail)
{
    printf("%s %s%s%s\n", ok ? "ok      " : "MISMATCH", name, detail ? ": " : "",
           detail ? detail : "");
    failures += !ok;
}

static void cmd_write(const char *dir)
{
    char name[64];
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++) {
        axl_wire_msg m = sample_msg((axl_wire_type)t);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        axl_errbuf eb;
        if (axl_wire_encode(&m, &sb, &eb) != 0) {
            fprintf(stderr, "encode %s: %s\n", axl_wire_type_name(m.type), eb.msg);
            exit(2);
        }
        snprintf(name, sizeof(name), "c_%s.mp", axl_wire_type_name(m.type));
        write_file(dir, name, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    for (int i = 0; i < N_SAMPLE_EVENTS; i++) {
        axl_event ev = sample_event(i);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        if (axl_event_encode(&ev, &sb, NULL) != 0)
            exit(2);
        snprintf(name, sizeof(name), "c_event_%d.mp", i);
        write_file(dir, name, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    axl_trial_rec t = sample_trial();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (axl_trial_rec_encode(&t, &sb, NULL) != 0)
        exit(2);
    write_file(dir, "c_trial.mp", sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void cmd_read(const char *dir)
{
    char name[300], why[64];
    axl_errbuf eb;
    size_t n;
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++) {
        axl_wire_msg want = sample_msg((axl_wire_type)t), got;
        snprintf(name, sizeof(name), "py_%s.mp", axl_wire_type_name(want.type));
        void *p = read_file(dir, name, &n);
        if (p == NULL) {
            report(false, name, "missing");
            continue;
        }
        if (axl_wire_decode(p, n, &got, &eb) != 0) {
            report(false, name, eb.msg);
        } else {
            bool ok = wire_msg_eq(&want, &got, why, sizeof(why));
            if (ok && want.type == AXL_WIRE_ERROR)
                ok = axl_str_eq(got.error.code_name, "AXL_EMISSING");
            report(ok, name, ok ? NULL : why);
            axl_wire_free(&got);
        }
        free(p);
    }
    for (int i = 0; i < N_SAMPLE_EVENTS; i++) {
        axl_event want = sample_event(i), got;
        snprintf(name, sizeof(name), "py_event_%d.mp", i);
        void *p = read_file(dir, name, &n);
        if (p == NULL) {
            report(false, name, "missing");
            continue;
        }
        if (axl_event_decode(p, n, &got, &eb) != 0) {
            report(false, name, eb.msg);
        } else {
            bool ok = event_eq(&want, &got, why, sizeof(why));
            report(ok, name, ok ? NULL : why);
        }
        free(p);
    }
    axl_trial_rec want = sample_trial(), got;
    void *p = read_file(dir, "py_trial.mp", &n);
    if (p == NULL) {
        report(false, "py_trial.mp", "missing");
    } else if (axl_trial_rec_decode(p, n, &got, &eb) != 0) {
        report(false, "py_trial.mp", eb.msg);
    } else {
        bool ok = trial_eq(&want, &got, why, sizeof(why));
        report(ok, "py_trial.mp", ok ? NULL : why);
        axl_trial_rec_free(&got);
    }
    free(p);

    /* bad_<CODE>_<what>.mp: Python's deliberately broken messages, each with its code. */
    DIR *d = opendir(dir);
    struct dirent *e;
    int bad = 0;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "bad_", 4) != 0)
            continue;
        bad++;
        const char *code = e->d_name + 4, *end = strchr(code, '-');
        if (end == NULL) {
            report(false, e->d_name, "name is not bad_<CODE>-<what>.mp");
            continue;
        }
        int want_code = axl_err_from_name(code, (size_t)(end - code));
        void *q = read_file(dir, e->d_name, &n);
        axl_wire_msg m;
        int rv = axl_wire_decode(q, n, &m, &eb);
        if (rv == 0)
            axl_wire_free(&m);
        char detail[400];
        snprintf(detail, sizeof(detail), "got %s (%s)", axl_err_name(rv), rv ? eb.msg : "");
        report(rv == want_code && want_code != 0, e->d_name, rv == want_code ? eb.msg : detail);
        free(q);
    }
    if (d != NULL)
        closedir(d);
    if (bad == 0)
        report(false, "bad_*.mp", "none found");
}

static void cmd_corpus(const char *dir)
{
    char name[64];
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++) {
        axl_wire_msg m = sample_msg((axl_wire_type)t);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        if (axl_wire_encode(&m, &sb, NULL) != 0)
            exit(2);
        snprintf(name, sizeof(name), "wire_%s", axl_wire_type_name(m.type));
        write_file(dir, name, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    /* variants: optional fields absent, empty arrays, a small error reply */
    static const char *const variants[][2] = {
        {"wire_task_min", "{v:1, type:'task', id:'e/0/0', experiment:'e', trial:0, index:0,"
                          " kind:'rest', params:{}}"},
        {"wire_status_all", "{v:1, type:'status'}"},
        {"wire_progress_min", "{v:1, type:'progress', id:'e/1/0', fraction:1}"},
        {"wire_hello_empty", "{v:1, type:'hello', worker:'w', role:'storage', capacity:1024,"
                             " time:0, inflight:[]}"},
        {"wire_finished_nested", "{v:1, type:'finished', id:'e/1/2', time:1.5, result:{a:{b:{c:"
                                 "{d:[1, 2.5f, -3]}}}, s:'x', t:true}}"},
        {"wire_unknown_keys", "{future:{x:[1, nil]}, v:1, type:'ack', id:'e/1/0',"
                              " state:'unknown', z:b'\\x00'}"},
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        msgpack_sbuffer *sb = J("%s", variants[i][1]);
        write_file(dir, variants[i][0], sb->data, sb->size);
        mpj_free(sb);
    }
    for (int i = 0; i < N_SAMPLE_EVENTS; i++) {
        axl_event ev = sample_event(i);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        if (axl_event_encode(&ev, &sb, NULL) != 0)
            exit(2);
        snprintf(name, sizeof(name), "event_%d", i);
        write_file(dir, name, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    axl_trial_rec t = sample_trial();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (axl_trial_rec_encode(&t, &sb, NULL) != 0)
        exit(2);
    write_file(dir, "trial", sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void cmd_check_corpus(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    if (d == NULL) {
        perror(dir);
        exit(2);
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t n;
        void *p = read_file(dir, e->d_name, &n);
        unsigned acc = 0;
        const char *bad = proto_check_all(p, n, &acc);
        files++;
        report(bad == NULL && (acc & ~1u) != 0, e->d_name,
               bad != NULL   ? bad
               : (acc & ~1u) ? NULL
                             : "accepted by no decoder");
        free(p);
    }
    closedir(d);
    if (files == 0)
        report(false, dir, "empty corpus");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: proto_interop write|read|corpus|check-corpus DIR\n");
        return 2;
    }
    samples_init();
    if (strcmp(argv[1], "write") == 0)
        cmd_write(argv[2]);
    else if (strcmp(argv[1], "read") == 0)
        cmd_read(argv[2]);
    else if (strcmp(argv[1], "corpus") == 0)
        cmd_corpus(argv[2]);
    else if (strcmp(argv[1], "check-corpus") == 0)
        cmd_check_corpus(argv[2]);
    else {
        fprintf(stderr, "proto_interop: unknown command %s\n", argv[1]);
        samples_fini();
        return 2;
    }
    samples_fini();
    return failures == 0 ? 0 : 1;
}
