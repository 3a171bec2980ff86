/*
 * Hostile input: truncation at every byte, oversize, nesting, huge announced lengths,
 * random bytes, random messages and random mutations of valid ones. Every decoder must
 * refuse cleanly or accept something that keeps every invariant (invariants.c).
 */
#include "test/proto/tp.h"

#include <stdlib.h>

#include "test/proto/invariants.h"

/* Every sample encoded: 12 messages, 3 events, 1 trial record. */
typedef struct enc_sample {
    msgpack_sbuffer *sb;
    int kind; /* 0 wire, 1 event, 2 trial */
} enc_sample;

#define N_ENC (AXL_WIRE_TYPE_COUNT + N_SAMPLE_EVENTS + 1)

static void encode_samples(enc_sample *out)
{
    int k = 0;
    for (int t = 0; t < AXL_WIRE_TYPE_COUNT; t++, k++) {
        axl_wire_msg m = sample_msg((axl_wire_type)t);
        out[k].sb = msgpack_sbuffer_new();
        out[k].kind = 0;
        assert_int_equal(axl_wire_encode(&m, out[k].sb, NULL), 0);
    }
    for (int i = 0; i < N_SAMPLE_EVENTS; i++, k++) {
        axl_event ev = sample_event(i);
        out[k].sb = msgpack_sbuffer_new();
        out[k].kind = 1;
        assert_int_equal(axl_event_encode(&ev, out[k].sb, NULL), 0);
    }
    axl_trial_rec t = sample_trial();
    out[k].sb = msgpack_sbuffer_new();
    out[k].kind = 2;
    assert_int_equal(axl_trial_rec_encode(&t, out[k].sb, NULL), 0);
}

static void free_samples(enc_sample *s)
{
    for (int k = 0; k < N_ENC; k++)
        msgpack_sbuffer_free(s[k].sb);
}

static void check(const uint8_t *buf, size_t len, unsigned *acc)
{
    const char *bad = proto_check_all(buf, len, acc);
    if (bad != NULL)
        fail_msg("invariant broken on %zu bytes: %s", len, bad);
}

/* The decoder matching a sample's kind must accept it whole and refuse every prefix. */
static void t_truncated_everywhere(void **state)
{
    (void)state;
    enc_sample s[N_ENC];
    encode_samples(s);
    for (int k = 0; k < N_ENC; k++) {
        size_t len = s[k].sb->size;
        unsigned acc = 0;
        check((const uint8_t *)s[k].sb->data, len, &acc);
        assert_true(acc & (2u << s[k].kind));
        for (size_t cut = 0; cut < len; cut++) {
            /* a copy of exactly `cut` bytes, so ASan sees any read past the end */
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, s[k].sb->data, cut);
            check(p, cut, &acc);
            assert_int_equal(acc, 0);
            axl_wire_msg m;
            axl_event ev;
            axl_trial_rec t;
            assert_int_equal(axl_wire_decode(p, cut, &m, NULL), AXL_EPROTO);
            assert_int_equal(axl_event_decode(p, cut, &ev, NULL), AXL_EPROTO);
            assert_int_equal(axl_trial_rec_decode(p, cut, &t, NULL), AXL_EPROTO);
            free(p);
        }
    }
    free_samples(s);
}

/* A message of exactly AXL_PROTO_MAX_MSG bytes passes; one byte more is refused unread. */
static void t_size_limit(void **state)
{
    (void)state;
    axl_wire_msg m = sample_msg(AXL_WIRE_ACK);
    msgpack_sbuffer *base = msgpack_sbuffer_new();
    assert_int_equal(axl_wire_encode(&m, base, NULL), 0);
    /* base is a fixmap of 4: rebuild it with a 5th key "pad" holding bin32 blobs. */
    uint8_t *big = malloc(AXL_PROTO_MAX_MSG + 1);
    size_t n = 0;
    big[n++] = 0x85;
    memcpy(big + n, base->data + 1, base->size - 1);
    n += base->size - 1;
    static const uint8_t pad_key[] = {0xa3, 'p', 'a', 'd'};
    memcpy(big + n, pad_key, sizeof(pad_key));
    n += sizeof(pad_key);
    /* array16 of k bins of at most AXL_PROTO_MAX_STR bytes filling up to the limit */
    size_t left = AXL_PROTO_MAX_MSG - n - 3;
    uint32_t k = (uint32_t)((left + AXL_PROTO_MAX_STR + 2) / (AXL_PROTO_MAX_STR + 3));
    big[n++] = 0xdc;
    big[n++] = (uint8_t)(k >> 8);
    big[n++] = (uint8_t)k;
    for (uint32_t i = 0; i < k; i++) {
        size_t rest = AXL_PROTO_MAX_MSG - n - (k - i - 1) * 3; /* each later bin >= 3 bytes */
        size_t body = rest - 3 > AXL_PROTO_MAX_STR ? AXL_PROTO_MAX_STR : rest - 3;
        big[n++] = 0xc5;
        big[n++] = (uint8_t)(body >> 8);
        big[n++] = (uint8_t)body;
        memset(big + n, 0xab, body);
        n += body;
    }
    assert_int_equal(n, AXL_PROTO_MAX_MSG);
    axl_wire_msg d;
    axl_errbuf eb;
    if (axl_wire_decode(big, n, &d, &eb) != 0)
        fail_msg("max-size message refused: %s", eb.msg);
    assert_true(axl_str_eq(d.ack.id, "pvk-screen/12/3"));
    axl_wire_free(&d);
    /* One byte over: refused by size alone, whatever the bytes. */
    big[n] = 0xc0;
    assert_int_equal(axl_mp_validate(big, n + 1, &eb), AXL_ETOOBIG);
    assert_int_equal(axl_wire_decode(big, n + 1, &d, &eb), AXL_ETOOBIG);
    assert_non_null(strstr(eb.msg, "exceeds"));
    axl_event ev;
    axl_trial_rec t;
    assert_int_equal(axl_event_decode(big, n + 1, &ev, NULL), AXL_ETOOBIG);
    assert_int_equal(axl_trial_rec_decode(big, n + 1, &t, NULL), AXL_ETOOBIG);
    /* The size is checked before a single byte is read: a huge length over a tiny
     * buffer is refused without touching it (ASan would catch a read). */
    uint8_t tiny = 0x80;
    assert_int_equal(axl_wire_decode(&tiny, (size_t)AXL_PROTO_MAX_MSG * 4096, &d, NULL),
                     AXL_ETOOBIG);
    assert_int_equal(axl_mp_validate(&tiny, SIZE_MAX, NULL), AXL_ETOOBIG);
    free(big);
    msgpack_sbuffer_free(base);
}

/* n nested arrays [[[...]]] around a 1 as the value of an unknown key in an ack. */
static msgpack_sbuffer *ack_with_nesting(int arrays)
{
    msgpack_sbuffer *sb = J("{v:1, type:'ack', id:'e/1/0', state:'running'}");
    sb->data[0] = (char)0x85; /* one more key */
    mpj_append(sb, "'deep'");
    for (int i = 0; i < arrays; i++)
        msgpack_sbuffer_write(sb, "\x91", 1);
    msgpack_sbuffer_write(sb, "\x01", 1);
    return sb;
}

static void t_nesting(void **state)
{
    (void)state;
    axl_errbuf eb;
    axl_wire_msg m;
    /* The top-level map is level 1: 15 arrays inside make 16 levels, the limit. */
    msgpack_sbuffer *sb = ack_with_nesting(AXL_PROTO_MAX_DEPTH - 1);
    assert_int_equal(axl_wire_decode(sb->data, sb->size, &m, &eb), 0);
    axl_wire_free(&m);
    mpj_free(sb);
    sb = ack_with_nesting(AXL_PROTO_MAX_DEPTH);
    assert_int_equal(axl_wire_decode(sb->data, sb->size, &m, &eb), AXL_EDEPTH);
    assert_int_equal(axl_mp_validate(sb->data, sb->size, NULL), AXL_EDEPTH);
    mpj_free(sb);
    /* Far too deep: refused without recursion, whatever the depth. */
    sb = ack_with_nesting(200000);
    assert_int_equal(axl_wire_decode(sb->data, sb->size, &m, &eb), AXL_EDEPTH);
    mpj_free(sb);
    /* The same with maps, and empty containers count as a level too. */
    msgpack_sbuffer *deep = msgpack_sbuffer_new();
    for (int i = 0; i < AXL_PROTO_MAX_DEPTH; i++)
        msgpack_sbuffer_write(deep, "\x81\xa1k", 3);
    msgpack_sbuffer_write(deep, "\x80", 1);
    assert_int_equal(axl_mp_validate(deep->data, deep->size, &eb), AXL_EDEPTH);
    msgpack_sbuffer_clear(deep);
    for (int i = 0; i < AXL_PROTO_MAX_DEPTH - 1; i++)
        msgpack_sbuffer_write(deep, "\x81\xa1k", 3);
    msgpack_sbuffer_write(deep, "\x80", 1);
    assert_int_equal(axl_mp_validate(deep->data, deep->size, &eb), 0);
    msgpack_sbuffer_free(deep);
    /* An event body may nest to the limit as well (event = 1, body = 2). */
    axl_event ev;
    msgpack_sbuffer *e = J("{v:1, seq:1, time:1, type:'x', experiment:'e'}");
    e->data[0] = (char)0x86;
    mpj_append(e, "'body'");
    msgpack_sbuffer_write(e, "\x81\xa1k", 3);
    for (int i = 0; i < AXL_PROTO_MAX_DEPTH - 2; i++)
        msgpack_sbuffer_write(e, "\x91", 1);
    msgpack_sbuffer_write(e, "\x01", 1);
    assert_int_equal(axl_event_decode(e->data, e->size, &ev, &eb), 0);
    mpj_free(e);
}

/* Lengths and counts announced far beyond the bytes present must not be believed. */
static void t_huge_announced_lengths(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int code;
    } cases[] = {
        {"db ff ff ff ff 61 62 63", AXL_ETOOBIG}, /* str32 of 4 GiB */
        {"c6 ff ff ff ff 00", AXL_ETOOBIG},       /* bin32 of 4 GiB */
        {"dd ff ff ff ff c0", AXL_ETOOBIG},       /* array32 of 4G items */
        {"df ff ff ff ff a1 61 c0", AXL_ETOOBIG}, /* map32 of 4G pairs */
        {"dd 00 01 00 00 c0 c0", AXL_EPROTO}, /* array32 of 65536: fits the limit, not the bytes */
        {"dc ff ff c0 c0 c0", AXL_EPROTO},    /* array16 of 65535 with 3 items */
        {"de 80 00 a1 61 c0", AXL_EPROTO},    /* map16 of 32768 pairs with 1 */
        {"da 10 00 61 62", AXL_EPROTO},       /* str16 of 4096 with 2 bytes */
        {"d9 05 61", AXL_EPROTO},             /* str8 of 5 with 1 byte */
        {"c5 ff ff 00", AXL_ETOOBIG},         /* bin16 of 65535 */
        {"c7 ff 01 00", AXL_EPROTO},          /* ext8: not axle's */
        {"c9 ff ff ff ff 01", AXL_EPROTO},    /* ext32 of 4 GiB */
        {"cb 00 00", AXL_EPROTO},             /* float64 cut short */
        {"c1", AXL_EPROTO},                   /* never used */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "hex'%s'", cases[i].hex);
        msgpack_sbuffer *raw = J("%s", text);
        axl_errbuf eb;
        axl_wire_msg m;
        axl_event ev;
        axl_trial_rec t;
        /* the validator, which runs before msgpack-c allocates anything, refuses it */
        assert_int_equal(axl_mp_validate(raw->data, raw->size, &eb), cases[i].code);
        assert_int_equal(axl_wire_decode(raw->data, raw->size, &m, &eb), cases[i].code);
        assert_int_equal(axl_event_decode(raw->data, raw->size, &ev, &eb), cases[i].code);
        assert_int_equal(axl_trial_rec_decode(raw->data, raw->size, &t, &eb), cases[i].code);
        /* the same bytes as a field value inside a valid message */
        char *s = sample_text(AXL_WIRE_TASK, "params", text);
        msgpack_sbuffer *in = J("%s", s);
        assert_int_equal(axl_mp_validate(in->data, in->size, NULL), cases[i].code);
        assert_int_equal(axl_wire_decode(in->data, in->size, &m, &eb), cases[i].code);
        free(s);
        mpj_free(in);
        mpj_free(raw);
    }
    /* In a map key position, and as the announced size of a status id array. */
    msgpack_sbuffer *k = J("{v:1, type:'status', ids:hex'dd 00 00 04 00'}");
    assert_int_equal(axl_wire_decode(k->data, k->size, &(axl_wire_msg){0}, NULL), AXL_EPROTO);
    mpj_free(k);
}

static void t_random_bytes(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    uint8_t buf[512];
    unsigned total = 0;
    for (int i = 0; i < 20000; i++) {
        size_t len = tp_rand(&seed) % sizeof(buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)tp_rand(&seed);
        /* half the inputs start like a message: a map */
        if (len > 0 && (i & 1))
            buf[0] = (uint8_t)(0x80 | (tp_rand(&seed) & 0x0f));
        unsigned acc = 0;
        check(buf, len, &acc);
        total += acc != 0;
    }
    print_message("random bytes: %u of 20000 were valid msgpack\n", total);
}

/*
 * Random messages near the valid ones: each sample's fields kept, dropped, or replaced by
 * a value from a pool of the protocol's own values, plus unknown keys. Many pass; all must
 * keep every invariant.
 */
static const char *const vals[] = {"1",
                                   "0",
                                   "2",
                                   "-1",
                                   "12",
                                   "3",
                                   "1024",
                                   "1025",
                                   "0.5",
                                   "1.5",
                                   "nan",
                                   "1700000000.5",
                                   "'pvk-screen/12/3'",
                                   "'pvk-screen'",
                                   "'spincoat'",
                                   "'running'",
                                   "'unknown'",
                                   "'hotplate'",
                                   "'spincoater'",
                                   "'AXL_EPROTO'",
                                   "'RUNNING'",
                                   "'trial'",
                                   "'task'",
                                   "'hello'",
                                   "'ack'",
                                   "'status_reply'",
                                   "'finished'",
                                   "'error'",
                                   "'trial.completed'",
                                   "''",
                                   "'x\\ny'",
                                   "true",
                                   "false",
                                   "nil",
                                   "[]",
                                   "['a/1/0', 'b/1/0']",
                                   "['a', 'a']",
                                   "[{id:'a', state:'failed'}]",
                                   "{}",
                                   "{rpm:3000, s:[1,2]}",
                                   "{m:[1, nil]}",
                                   "{x:{y:{z:1}}}",
                                   "b'bin'",
                                   "[1, 2.5]",
                                   "18446744073709551615",
                                   "-9223372036854775808",
                                   "1e12",
                                   "4294967295",
                                   "4294967296",
                                   "'COMPLETED'",
                                   "'GP-LogEI'",
                                   "{a:[1, 'x']}",
                                   "{p:1.5f, q:'s', r:false}"};
#define N_VALS (sizeof(vals) / sizeof(vals[0]))

static const sample_field ev_fields[] = {
    {"seq", "7", 'u', true},
    {"time", "1700000300.5", 'n', true},
    {"type", "'trial.completed'", 's', true},
    {"experiment", "'pvk-screen'", 's', true},
    {"trial", "12", 'u', false},
    {"rec", "'trial'", 's', false},
    {"body", "{a:1}", 'm', true},
};
static const sample_field tr_fields[] = {
    {"experiment", "'pvk-screen'", 's', true},
    {"index", "12", 'u', true},
    {"status", "'COMPLETED'", 's', true},
    {"gen", "'Sobol'", 's', false},
    {"step", "0", 'u', false},
    {"created", "1700000000.0", 'n', true},
    {"updated", "1700000001.5", 'n', false},
    {"deployed", "0", 'n', false},
    {"deploys", "1", 'u', false},
    {"job", "'lab-1'", 's', false},
    {"reason", "nil", 's', false},
    {"params", "{x:0.5, n:3, s:'DMF', b:true}", 'm', true},
    {"metrics", "{pl:[1.5, nil], f:[0.1, 0.01]}", 'm', false},
};

static void random_text(uint64_t *seed, char *text, size_t cap, const char *head,
                        const sample_field *f, size_t nf)
{
    size_t n = (size_t)snprintf(text, cap, "{%s", head);
    for (size_t i = 0; i < nf && n < cap; i++) {
        unsigned r = (unsigned)(tp_rand(seed) % 100);
        if (r < 6)
            continue; /* dropped */
        const char *v = r < 16 ? vals[tp_rand(seed) % N_VALS] : f[i].text;
        n += (size_t)snprintf(text + n, cap - n, ", '%s':%s", f[i].key, v);
        if (tp_rand(seed) % 100 < 5 && n < cap) /* an unknown key */
            n += (size_t)snprintf(text + n, cap - n, ", 'x%u':%s", (unsigned)i,
                                  vals[tp_rand(seed) % N_VALS]);
    }
    if (n < cap)
        snprintf(text + n, cap - n, "}");
}

static void t_random_messages(void **state)
{
    (void)state;
    uint64_t seed = 42;
    unsigned accepted[4] = {0};
    char *text = malloc(16384);
    for (int i = 0; i < 30000; i++) {
        int kind = (int)(tp_rand(&seed) % 3);
        if (kind == 0) {
            axl_wire_type t = (axl_wire_type)(tp_rand(&seed) % AXL_WIRE_TYPE_COUNT);
            size_t nf;
            const sample_field *f = sample_fields(t, &nf);
            char head[64];
            snprintf(head, sizeof(head), "v:1, type:'%s'", axl_wire_type_name(t));
            random_text(&seed, text, 16384, head, f, nf);
        } else if (kind == 1) {
            random_text(&seed, text, 16384, "v:1", ev_fields,
                        sizeof(ev_fields) / sizeof(ev_fields[0]));
        } else {
            random_text(&seed, text, 16384, "v:1", tr_fields,
                        sizeof(tr_fields) / sizeof(tr_fields[0]));
        }
        msgpack_sbuffer *sb = J("%s", text);
        unsigned acc = 0;
        check((const uint8_t *)sb->data, sb->size, &acc);
        for (int b = 0; b < 4; b++)
            accepted[b] += (acc >> b) & 1;
        mpj_free(sb);
    }
    free(text);
    print_message("random messages: %u valid msgpack, %u wire, %u event, %u trial accepted\n",
                  accepted[0], accepted[1], accepted[2], accepted[3]);
    /* the invariants were exercised on plenty of accepted input of every kind */
    assert_true(accepted[1] > 1000 && accepted[2] > 1000 && accepted[3] > 1000);
}

static void t_random_mutations(void **state)
{
    (void)state;
    enc_sample s[N_ENC];
    encode_samples(s);
    uint64_t seed = 7;
    unsigned still_ok = 0;
    uint8_t *buf = malloc(8192);
    for (int k = 0; k < N_ENC; k++) {
        for (int i = 0; i < 2500; i++) {
            size_t len = s[k].sb->size;
            memcpy(buf, s[k].sb->data, len);
            int edits = 1 + (int)(tp_rand(&seed) % 4);
            for (int e = 0; e < edits && len > 0; e++) {
                size_t at = tp_rand(&seed) % len;
                switch (tp_rand(&seed) % 7) {
                case 0: /* flip a bit */
                    buf[at] ^= (uint8_t)(1u << (tp_rand(&seed) % 8));
                    break;
                case 1: /* set an interesting byte */
                {
                    static const uint8_t b[] = {0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xcc, 0xd9,
                                                0xdc, 0xdd, 0xde, 0xdf, 0xff, 0x9f, 0x8f};
                    buf[at] = b[tp_rand(&seed) % sizeof(b)];
                    break;
                }
                case 2: /* random byte */
                    buf[at] = (uint8_t)tp_rand(&seed);
                    break;
                case 3: /* delete a run */
                {
                    size_t run = 1 + tp_rand(&seed) % 8;
                    if (at + run > len)
                        run = len - at;
                    memmove(buf + at, buf + at + run, len - at - run);
                    len -= run;
                    break;
                }
                case 4: /* insert random bytes */
                {
                    size_t run = 1 + tp_rand(&seed) % 8;
                    if (len + run > 8192)
                        break;
                    memmove(buf + at + run, buf + at, len - at);
                    for (size_t j = 0; j < run; j++)
                        buf[at + j] = (uint8_t)tp_rand(&seed);
                    len += run;
                    break;
                }
                case 5: /* duplicate a chunk */
                {
                    size_t run = 1 + tp_rand(&seed) % 16;
                    if (at + run > len || len + run > 8192)
                        break;
                    memmove(buf + at + run, buf + at, len - at);
                    len += run;
                    break;
                }
                default: /* truncate */
                    len = at;
                }
            }
            uint8_t *exact = malloc(len ? len : 1); /* exact size: ASan sees overreads */
            memcpy(exact, buf, len);
            unsigned acc = 0;
            check(exact, len, &acc);
            still_ok += (acc & ~1u) != 0;
            free(exact);
        }
    }
    print_message("mutations: %u of %d still decoded (and kept every invariant)\n", still_ok,
                  N_ENC * 2500);
    free(buf);
    free_samples(s);
}

const struct CMUnitTest robust_tests[] = {
    cmocka_unit_test(t_truncated_everywhere),
    cmocka_unit_test(t_size_limit),
    cmocka_unit_test(t_nesting),
    cmocka_unit_test(t_huge_announced_lengths),
    cmocka_unit_test(t_random_bytes),
    cmocka_unit_test(t_random_messages),
    cmocka_unit_test(t_random_mutations),
};
const size_t n_robust_tests = sizeof(robust_tests) / sizeof(robust_tests[0]);
