/*
 * worker_journal.c - the worker's task journal (axl_worker.h): one msgpack record per
 * change, appended with one write(2); reloaded at start; compacted to one record per
 * task (temporary file + rename) once it holds 8x the table.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/worker/worker_internal.h"
#include "proto/axl_log.h"
#include "proto/axl_util.h"

#define SRC "Worker"

static int pack_record(const wtask *t, bool with_params, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    bool params = with_params && t->params != NULL;
    bool result = t->state == AXL_TASK_FINISHED && t->result != NULL;
    bool failed = t->state == AXL_TASK_FAILED;
    size_t n = 6 + t->has_start_at + params + result + 2 * failed;
    int bad = msgpack_pack_map(&pk, n) || axl_pack_kv_str(&pk, "id", t->id) ||
              axl_pack_kv_str(&pk, "st", axl_task_state_name(t->state)) ||
              axl_pack_kv_str(&pk, "exp", t->experiment) ||
              axl_pack_kv_uint(&pk, "trial", t->trial) ||
              axl_pack_kv_uint(&pk, "index", t->index) || axl_pack_kv_str(&pk, "kind", t->kind);
    if (!bad && t->has_start_at)
        bad = axl_pack_kv_num(&pk, "start_at", t->start_at);
    if (!bad && params)
        bad = axl_pack_cstr(&pk, "params") || msgpack_sbuffer_write(sb, t->params, t->params_len);
    if (!bad && result)
        bad = axl_pack_cstr(&pk, "result") || msgpack_sbuffer_write(sb, t->result, t->result_len);
    if (!bad && failed)
        bad = axl_pack_kv_str(&pk, "reason", t->reason != NULL ? t->reason : "") ||
              axl_pack_kv_bool(&pk, "retryable", t->retryable);
    return bad ? AXL_ENOMEM : 0;
}

static void compact(worker *w);

/* Appends the task's new state. One write(2): a killed process leaves whole records, or
 * a truncated last one that the reader drops. */
void axl_wk_journal(worker *w, const wtask *t)
{
    if (w->journal_fd < 0)
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (pack_record(t, t->state == AXL_TASK_ACCEPTED, &sb) == 0) {
        ssize_t n = write(w->journal_fd, sb.data, sb.size);
        if (n != (ssize_t)sb.size)
            AXL_ERROR(SRC, "%s: journal write failed: %s", w->id,
                      n < 0 ? strerror(errno) : "short write");
        w->journal_records++;
    }
    msgpack_sbuffer_destroy(&sb);
    if (w->journal_records > 8 * AXL_WORKER_MAX_TASKS)
        compact(w);
}

/* Copies the msgpack value o as raw bytes (re-packed) after checking the raw-map rules. */
static int copy_raw(const msgpack_object *o, void **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rv = msgpack_pack_object(&pk, *o) != 0 ? AXL_ENOMEM : 0;
    if (rv == 0)
        rv = axl_wire_raw_check(sb.data, sb.size, "journal", NULL);
    if (rv == 0) {
        *out = sb.data; /* the sbuffer's malloc'd block is ours now */
        *len = sb.size;
        return 0;
    }
    msgpack_sbuffer_destroy(&sb);
    return rv;
}

/* One journal record into the table; a record that does not read is skipped. */
static void apply_record(worker *w, const msgpack_object *r)
{
    const char *id, *st, *exp, *kind, *reason = NULL;
    size_t id_len, st_len, exp_len, kind_len, reason_len = 0;
    uint64_t trial, index;
    axl_task_state state;
    double start_at = NAN;
    bool retryable = false;
    if (r->type != MSGPACK_OBJECT_MAP ||
        axl_obj_str(r, "journal", "id", true, AXL_WIRE_MAX_ID, &id, &id_len, NULL) ||
        axl_obj_str(r, "journal", "st", true, 16, &st, &st_len, NULL) ||
        axl_obj_str(r, "journal", "exp", true, AXL_PROTO_MAX_NAME, &exp, &exp_len, NULL) ||
        axl_obj_str(r, "journal", "kind", true, AXL_WIRE_MAX_KIND, &kind, &kind_len, NULL) ||
        axl_obj_uint(r, "journal", "trial", true, 0, UINT32_MAX, &trial, NULL) ||
        axl_obj_uint(r, "journal", "index", true, 0, UINT32_MAX, &index, NULL) ||
        axl_obj_num(r, "journal", "start_at", false, 0, AXL_WIRE_MAX_TIME, &start_at, NULL) ||
        axl_obj_str(r, "journal", "reason", false, AXL_WIRE_MAX_TEXT, &reason, &reason_len, NULL) ||
        axl_obj_bool(r, "journal", "retryable", false, &retryable, NULL) ||
        axl_task_state_parse(st, st_len, &state) || id_len == 0)
        return;
    wtask *t = axl_wk_find(w, id, id_len);
    if (t == NULL && (t = axl_wk_task_new(w, id, id_len)) == NULL)
        return;
    t->state = state;
    memcpy(t->experiment, exp, exp_len);
    t->experiment[exp_len] = '\0';
    memcpy(t->kind, kind, kind_len);
    t->kind[kind_len] = '\0';
    t->trial = (uint32_t)trial;
    t->index = (uint32_t)index;
    if (!isnan(start_at)) {
        t->has_start_at = true;
        t->start_at = start_at;
    }
    const msgpack_object *p = axl_obj_get(r, "params"), *res = axl_obj_get(r, "result");
    if (p != NULL && p->type == MSGPACK_OBJECT_MAP) {
        free(t->params);
        t->params = NULL;
        if (copy_raw(p, &t->params, &t->params_len) != 0)
            t->params = NULL;
    }
    if (res != NULL && res->type == MSGPACK_OBJECT_MAP) {
        free(t->result);
        t->result = NULL;
        if (copy_raw(res, &t->result, &t->result_len) != 0)
            t->result = NULL;
    }
    if (state == AXL_TASK_FAILED) {
        char buf[AXL_WIRE_MAX_TEXT + 1];
        memcpy(buf, reason != NULL ? reason : "", reason_len);
        buf[reason_len] = '\0';
        axl_wk_set_reason(t, buf, retryable);
    }
}

/* Rewrites the journal as one record per task in the table (temporary file + rename). */
static void compact(worker *w)
{
    char tmp[700];
    snprintf(tmp, sizeof(tmp), "%s.tmp", w->journal_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        AXL_ERROR(SRC, "%s: cannot compact the journal: %s", w->id, strerror(errno));
        return;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    bool ok = true;
    for (size_t i = 0; i < w->ntasks && ok; i++) {
        const wtask *t = w->tasks[i];
        ok =
            pack_record(t, t->state == AXL_TASK_ACCEPTED || t->state == AXL_TASK_RUNNING, &sb) == 0;
    }
    ok = ok && write(fd, sb.data, sb.size) == (ssize_t)sb.size && fsync(fd) == 0;
    msgpack_sbuffer_destroy(&sb);
    close(fd);
    if (!ok || rename(tmp, w->journal_path) != 0) {
        AXL_ERROR(SRC, "%s: cannot compact the journal: %s", w->id, strerror(errno));
        unlink(tmp);
        return;
    }
    if (w->journal_fd >= 0)
        close(w->journal_fd);
    w->journal_fd = open(w->journal_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    w->journal_records = w->ntasks;
}

int axl_wk_journal_open(worker *w, axl_errbuf *eb)
{
    char dir[480];
    w->journal_fd = -1;
    if (w->cfg.data_dir == NULL)
        return 0;
    if (snprintf(dir, sizeof(dir), "%s/workers", w->data_dir) >= (int)sizeof(dir))
        return axl_fail(eb, AXL_EINVAL, "%s: data directory path too long", w->data_dir);
    int err = axl_mkdir_p(dir, 0755);
    if (err != 0)
        return axl_fail(eb, AXL_EIO, "%s: %s", dir, strerror(err));
    snprintf(w->journal_path, sizeof(w->journal_path), "%s/%s.journal", dir, w->id);
    int fd = open(w->journal_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        char *buf = NULL;
        size_t len = 0;
        if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= JOURNAL_MAX_FILE &&
            (buf = malloc((size_t)st.st_size)) != NULL) {
            ssize_t n = read(fd, buf, (size_t)st.st_size);
            len = n > 0 ? (size_t)n : 0;
        }
        close(fd);
        size_t off = 0, records = 0;
        while (off < len) {
            size_t obj_len;
            axl_msg m;
            /* A torn last record (the process died mid-write) ends the journal. */
            if (axl_mp_next(buf + off, len - off, &obj_len, NULL) != 0)
                break;
            if (axl_msg_parse(&m, buf + off, obj_len, NULL) == 0) {
                apply_record(w, &m.root);
                axl_msg_free(&m);
            }
            off += obj_len;
            records++;
        }
        free(buf);
        AXL_INFO(SRC, "%s: journal %s: %zu records, %zu tasks remembered", w->id, w->journal_path,
                 records, w->ntasks);
    }
    compact(w);
    if (w->journal_fd < 0)
        return axl_fail(eb, AXL_EIO, "%s: %s", w->journal_path, strerror(errno));
    return 0;
}
