/* The event envelope {v, seq, time, type, experiment, trial?, body}. */
#include "proto/axl_proto.h"

#include <math.h>
#include <string.h>

static bool type_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > AXL_PROTO_MAX_TYPE)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_'))
            return false;
    }
    return true;
}

static const char *const rec_names[AXL_REC_COUNT] = {"none", "trial", "experiment", "generator",
                                                     "labware"};

const char *axl_rec_kind_name(axl_rec_kind k)
{
    return (unsigned)k < AXL_REC_COUNT ? rec_names[k] : "unknown";
}

static bool is_map_byte(uint8_t b)
{
    return (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
}

int axl_event_encode(const axl_event *ev, msgpack_sbuffer *out, axl_errbuf *eb)
{
    size_t start = out->size;
    int rv;
    if (ev->type == NULL || !type_name_ok(ev->type, ev->type_len))
        return axl_fail(eb, AXL_EINVAL, "event.type: must be 1-%d of [a-z0-9._]",
                        AXL_PROTO_MAX_TYPE);
    if (ev->experiment_len > AXL_PROTO_MAX_NAME || (ev->experiment == NULL && ev->experiment_len))
        return axl_fail(eb, AXL_EINVAL, "event.experiment: longer than %d bytes",
                        AXL_PROTO_MAX_NAME);
    if (ev->seq == 0)
        return axl_fail(eb, AXL_EINVAL, "event.seq: must be at least 1");
    if (!(ev->time >= 0 && ev->time <= 1e12))
        return axl_fail(eb, AXL_EINVAL, "event.time: must be finite, in [0, 1e12]");
    if (ev->trial > (int64_t)UINT32_MAX)
        return axl_fail(eb, AXL_EINVAL, "event.trial: above 2^32-1");
    if ((unsigned)ev->rec >= AXL_REC_COUNT)
        return axl_fail(eb, AXL_EINVAL, "event.rec: unknown record kind %d", (int)ev->rec);
    if (ev->rec == AXL_REC_TRIAL && ev->trial < 0)
        return axl_fail(eb, AXL_EINVAL, "event.trial: a trial record needs a trial index");
    if (ev->body != NULL) {
        if ((rv = axl_mp_validate(ev->body, ev->body_len, eb)) != 0)
            return rv;
        if (!is_map_byte(*(const uint8_t *)ev->body))
            return axl_fail(eb, AXL_EINVAL, "event.body: must be a map");
    }

    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    bool has_trial = ev->trial >= 0;
    bool has_rec = ev->rec != AXL_REC_NONE;
    const char *experiment = ev->experiment != NULL ? ev->experiment : "";
    int bad = msgpack_pack_map(&pk, 6 + has_trial + has_rec) ||
              axl_pack_kv_uint(&pk, "v", AXL_PROTO_VERSION) ||
              axl_pack_kv_uint(&pk, "seq", ev->seq) || axl_pack_kv_num(&pk, "time", ev->time) ||
              axl_pack_cstr(&pk, "type") || msgpack_pack_str(&pk, ev->type_len) ||
              msgpack_pack_str_body(&pk, ev->type, ev->type_len) ||
              axl_pack_cstr(&pk, "experiment") || msgpack_pack_str(&pk, ev->experiment_len) ||
              msgpack_pack_str_body(&pk, experiment, ev->experiment_len);
    bad = bad || (has_trial && axl_pack_kv_uint(&pk, "trial", (uint64_t)ev->trial));
    bad = bad || (has_rec && axl_pack_kv_str(&pk, "rec", rec_names[ev->rec]));
    bad = bad || axl_pack_cstr(&pk, "body");
    bad = bad || (ev->body != NULL ? msgpack_sbuffer_write(out, ev->body, ev->body_len)
                                   : msgpack_pack_map(&pk, 0));
    if (bad) {
        out->size = start;
        return axl_fail(eb, AXL_ENOMEM, "out of memory encoding an event");
    }
    /* Never write what the decoder refuses (size, UTF-8, ...): it is the one rule book. */
    axl_event check;
    if ((rv = axl_event_decode(out->data + start, out->size - start, &check, eb)) != 0) {
        out->size = start;
        return rv;
    }
    return 0;
}

int axl_event_decode(const void *buf, size_t len, axl_event *ev, axl_errbuf *eb)
{
    axl_msg m;
    uint64_t v = 0, trial = 0;
    int rv;

    memset(ev, 0, sizeof(*ev));
    ev->trial = -1;
    if ((rv = axl_msg_parse(&m, buf, len, eb)) != 0)
        return rv;
    const msgpack_object *root = &m.root;
    if (root->type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "event: expected a map");
        goto out;
    }
    if ((rv = axl_obj_uint(root, "event", "v", true, 0, UINT64_MAX, &v, eb)) != 0)
        goto out;
    if (v != AXL_PROTO_VERSION) {
        rv = axl_fail(eb, AXL_EVERSION, "event.v: version %llu is not supported (this is %d)",
                      (unsigned long long)v, AXL_PROTO_VERSION);
        goto out;
    }
    if ((rv = axl_obj_uint(root, "event", "seq", true, 1, UINT64_MAX, &ev->seq, eb)) != 0 ||
        (rv = axl_obj_num(root, "event", "time", true, 0, 1e12, &ev->time, eb)) != 0 ||
        (rv = axl_obj_str(root, "event", "type", true, AXL_PROTO_MAX_TYPE, &ev->type, &ev->type_len,
                          eb)) != 0 ||
        (rv = axl_obj_str(root, "event", "experiment", true, AXL_PROTO_MAX_NAME, &ev->experiment,
                          &ev->experiment_len, eb)) != 0 ||
        (rv = axl_obj_uint(root, "event", "trial", false, 0, UINT32_MAX, &trial, eb)) != 0)
        goto out;
    if (!type_name_ok(ev->type, ev->type_len)) {
        rv = axl_fail(eb, AXL_EINVAL, "event.type: must be 1-%d of [a-z0-9._]", AXL_PROTO_MAX_TYPE);
        goto out;
    }
    const msgpack_object *t = axl_obj_get(root, "trial"); /* known once: read above */
    if (t != NULL && t->type != MSGPACK_OBJECT_NIL)
        ev->trial = (int64_t)trial;
    const char *rec = NULL;
    size_t rec_len = 0;
    if ((rv = axl_obj_str(root, "event", "rec", false, 16, &rec, &rec_len, eb)) != 0)
        goto out;
    if (rec != NULL) {
        int k;
        for (k = 1; k < AXL_REC_COUNT; k++)
            if (strlen(rec_names[k]) == rec_len && memcmp(rec_names[k], rec, rec_len) == 0)
                break;
        if (k == AXL_REC_COUNT) {
            rv = axl_fail(eb, AXL_ERANGE, "event.rec: unknown record kind '%.*s'", (int)rec_len,
                          rec);
            goto out;
        }
        ev->rec = (axl_rec_kind)k;
        if (ev->rec == AXL_REC_TRIAL && ev->trial < 0) {
            rv = axl_fail(eb, AXL_EMISSING, "event.trial: a trial record needs a trial index");
            goto out;
        }
    }
    const msgpack_object *body;
    if ((rv = axl_obj_get_once(root, "event", "body", &body, eb)) != 0)
        goto out;
    if (body == NULL || body->type == MSGPACK_OBJECT_NIL) {
        rv = axl_fail(eb, AXL_EMISSING, "event.body: required field missing");
        goto out;
    }
    if (body->type != MSGPACK_OBJECT_MAP) {
        rv = axl_fail(eb, AXL_ETYPE, "event.body: expected a map");
        goto out;
    }
    rv = axl_mp_find_raw(buf, len, "body", &ev->body, &ev->body_len);
out:
    axl_msg_free(&m);
    return rv;
}
