/*
 * bench_proto: how fast proto/ decodes and encodes what the engine handles most.
 *   proto.decode_per_s        a typical `task` message (spin-coat recipe params),
 *                             axl_wire_decode: validation + unpack + every field rule
 *   proto.encode_per_s        the same message, axl_wire_encode (includes its
 *                             self-check: the encoder decodes what it wrote)
 *   proto.event_decode_per_s  a trial.completed event whose body is the trial record,
 *                             axl_event_decode
 * Each figure is the median of 7 runs of about 0.2 s. JSON lines on stdout, notes on
 * stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axl_bench.h"
#include "proto/axl_proto.h"
#include "proto/axl_wire.h"

#define RUNS 7
#define RUN_SECONDS 0.2

static volatile size_t sink;

/* A spin-coat task as hw/ would send it: steps, drops, anneal, a few scalars. */
static void pack_params(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    axl_pack_kv_str(&pk, "recipe", "MAPbI3-antisolvent");
    axl_pack_cstr(&pk, "rpm");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint32(&pk, 1000);
    msgpack_pack_uint32(&pk, 6000);
    axl_pack_cstr(&pk, "duration_s");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_double(&pk, 10.0);
    msgpack_pack_double(&pk, 30.0);
    axl_pack_cstr(&pk, "drop");
    msgpack_pack_map(&pk, 5);
    axl_pack_kv_str(&pk, "solution", "MAPbI3 1.2M DMF:DMSO 4:1");
    axl_pack_kv_num(&pk, "volume_ul", 50.0);
    axl_pack_kv_num(&pk, "time_s", 12.5);
    axl_pack_kv_num(&pk, "rate_ul_s", 100.0);
    axl_pack_kv_bool(&pk, "touch_tip", true);
    axl_pack_cstr(&pk, "antisolvent");
    msgpack_pack_map(&pk, 3);
    axl_pack_kv_str(&pk, "solution", "chlorobenzene");
    axl_pack_kv_num(&pk, "volume_ul", 100.0);
    axl_pack_kv_num(&pk, "time_s", 55.25);
    axl_pack_kv_num(&pk, "anneal_c", 100.0);
}

typedef size_t (*op_fn)(void *ctx);

/* Median over RUNS of operations per second. */
static double rate(const char *what, op_fn fn, void *ctx)
{
    double r[RUNS];
    for (int k = 0; k < RUNS; k++) {
        size_t n = 0;
        double t0 = axl_bench_now(), t;
        do {
            for (int i = 0; i < 256; i++)
                sink += fn(ctx);
            n += 256;
            t = axl_bench_now() - t0;
        } while (t < RUN_SECONDS);
        r[k] = (double)n / t;
    }
    double med = axl_bench_quantile(r, RUNS, 0.5);
    fprintf(stderr, "bench_proto: %-22s median %.3g/s (min %.3g, max %.3g)\n", what, med, r[0],
            r[RUNS - 1]);
    return med;
}

typedef struct ctx {
    const char *buf;
    size_t len;
    axl_wire_msg msg;
    msgpack_sbuffer out;
} ctx;

static size_t op_decode(void *p)
{
    ctx *c = p;
    axl_wire_msg m;
    if (axl_wire_decode(c->buf, c->len, &m, NULL) != 0)
        abort();
    size_t n = m.task.id.len;
    axl_wire_free(&m);
    return n;
}

static size_t op_encode(void *p)
{
    ctx *c = p;
    msgpack_sbuffer_clear(&c->out);
    if (axl_wire_encode(&c->msg, &c->out, NULL) != 0)
        abort();
    return c->out.size;
}

static size_t op_event_decode(void *p)
{
    ctx *c = p;
    axl_event ev;
    if (axl_event_decode(c->buf, c->len, &ev, NULL) != 0)
        abort();
    return ev.body_len;
}

int main(void)
{
    axl_errbuf eb;
    msgpack_sbuffer params, task, trial, event;
    msgpack_sbuffer_init(&params);
    msgpack_sbuffer_init(&task);
    msgpack_sbuffer_init(&trial);
    msgpack_sbuffer_init(&event);
    pack_params(&params);

    char id[AXL_WIRE_MAX_ID + 1];
    axl_str exp = AXL_STR_LIT("pvk-antisolvent-screen");
    if (axl_wire_task_id(id, sizeof(id), exp, 42, 1, &eb) != 0)
        abort();
    axl_wire_msg m = {.type = AXL_WIRE_TASK};
    m.task =
        (axl_wire_task){axl_str_c(id),           exp,  42,           1,
                        AXL_STR_LIT("spincoat"), true, 1700000100.5, {params.data, params.size}};
    if (axl_wire_encode(&m, &task, &eb) != 0) {
        fprintf(stderr, "bench_proto: %s\n", eb.msg);
        return 1;
    }

    axl_param_value pv[] = {
        {"antisolvent_timing", {.kind = AXL_VALUE_NUM, .num = 5.25}},
        {"spin_rpm", {.kind = AXL_VALUE_INT, .i = 3000}},
        {"anneal_temperature", {.kind = AXL_VALUE_NUM, .num = 100.0}},
        {"solvent_ratio", {.kind = AXL_VALUE_NUM, .num = 0.8}},
    };
    axl_metric_value mv[] = {{"pl_intensity", 1234.5, 12.5}, {"fwhm_ev", 0.09, 0.005}};
    axl_trial_rec t = {.experiment = "pvk-antisolvent-screen",
                       .index = 42,
                       .status = AXL_TRIAL_COMPLETED,
                       .gen_method = "GP-LogEI",
                       .step = 1,
                       .created = 1700000000.0,
                       .updated = 1700000300.5,
                       .deployed = 1700000001.0,
                       .deploy_count = 1,
                       .job_id = "lab-42",
                       .n_params = 4,
                       .params = pv,
                       .n_metrics = 2,
                       .metrics = mv};
    if (axl_trial_rec_encode(&t, &trial, &eb) != 0)
        abort();
    axl_event ev = {.seq = 1234,
                    .time = 1700000300.5,
                    .type = "trial.completed",
                    .type_len = 15,
                    .experiment = t.experiment,
                    .experiment_len = strlen(t.experiment),
                    .trial = 42,
                    .rec = AXL_REC_TRIAL,
                    .body = trial.data,
                    .body_len = trial.size};
    if (axl_event_encode(&ev, &event, &eb) != 0)
        abort();
    fprintf(stderr, "bench_proto: task message %zu bytes, event %zu bytes\n", task.size,
            event.size);

    ctx c = {.buf = task.data, .len = task.size, .msg = m};
    msgpack_sbuffer_init(&c.out);
    axl_bench_row("proto.decode_per_s", rate("task decode", op_decode, &c), "msg/s");
    axl_bench_row("proto.encode_per_s", rate("task encode", op_encode, &c), "msg/s");
    ctx e = {.buf = event.data, .len = event.size};
    axl_bench_row("proto.event_decode_per_s", rate("event decode", op_event_decode, &e), "event/s");

    msgpack_sbuffer_destroy(&c.out);
    msgpack_sbuffer_destroy(&params);
    msgpack_sbuffer_destroy(&task);
    msgpack_sbuffer_destroy(&trial);
    msgpack_sbuffer_destroy(&event);
    return 0;
}
