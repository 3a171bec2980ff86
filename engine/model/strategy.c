/* strategy.c - generation strategy rules (Ax semantics) and the persistent state. */
#include <math.h>
#include <string.h>

#include "engine/model/model_internal.h"

int axl_gs_auto(const axl_space *s, uint64_t seed, axl_gen_strategy *out)
{
    size_t i, d = 0;
    int init;

    if (s == NULL || out == NULL || axl_space_check(s, NULL) != 0)
        return AXL_EINVAL;
    for (i = 0; i < s->n_params; i++)
        d += s->params[i].type != AXL_PARAM_FIXED;
    init = (int)(2 * d) > 5 ? (int)(2 * d) : 5;
    memset(out, 0, sizeof(*out));
    out->n_steps = 2;
    out->steps[0] = (axl_gen_step){.model = AXL_GEN_SOBOL,
                                   .num_trials = init,
                                   .min_trials_observed = (init + 1) / 2,
                                   .max_parallelism = -1,
                                   .enforce_num_trials = 1,
                                   .seed = seed};
    out->steps[1] = (axl_gen_step){.model = AXL_GEN_GP_LOGEI,
                                   .num_trials = -1,
                                   .min_trials_observed = 0,
                                   .max_parallelism = 3,
                                   .enforce_num_trials = 1,
                                   .seed = seed};
    return 0;
}

int axl_gs_check(const axl_gen_strategy *gs, axl_errbuf *eb)
{
    size_t i;
    if (gs == NULL || gs->n_steps == 0 || gs->n_steps > AXL_GS_MAX_STEPS)
        return axl__fail(eb, AXL_EINVAL, "generation_strategy: 1..%d steps needed",
                         AXL_GS_MAX_STEPS);
    for (i = 0; i < gs->n_steps; i++) {
        const axl_gen_step *st = &gs->steps[i];
        if (st->model != AXL_GEN_SOBOL && st->model != AXL_GEN_GP_LOGEI)
            return axl__fail(eb, AXL_EINVAL, "generation_strategy.steps[%zu].model: unknown", i);
        if (st->num_trials == 0 || st->num_trials < -1)
            return axl__fail(eb, AXL_EINVAL,
                             "generation_strategy.steps[%zu].num_trials: %d (>= 1 or -1)", i,
                             st->num_trials);
        if (st->num_trials == -1 && i + 1 < gs->n_steps)
            return axl__fail(eb, AXL_EINVAL,
                             "generation_strategy.steps[%zu].num_trials: only the last step may "
                             "be unlimited",
                             i);
        if (st->min_trials_observed < 0 ||
            (st->num_trials > 0 && st->min_trials_observed > st->num_trials))
            return axl__fail(eb, AXL_EINVAL,
                             "generation_strategy.steps[%zu].min_trials_observed: %d", i,
                             st->min_trials_observed);
        if (st->max_parallelism == 0 || st->max_parallelism < -1)
            return axl__fail(eb, AXL_EINVAL,
                             "generation_strategy.steps[%zu].max_parallelism: %d (>= 1 or -1)", i,
                             st->max_parallelism);
    }
    return 0;
}

int axl_gs_decide(const axl_gen_strategy *gs, const axl_gs_counts *counts, size_t k_wanted,
                  axl_model_state *st, axl_gs_verdict *verdict, size_t *k_now)
{
    size_t step;

    if (gs == NULL || counts == NULL || st == NULL || verdict == NULL || k_now == NULL ||
        k_wanted == 0 || axl_gs_check(gs, NULL) != 0)
        return AXL_EINVAL;
    *k_now = 0;
    step = st->step;
    if (step >= gs->n_steps) {
        *verdict = AXL_GS_EXHAUSTED;
        return 0;
    }
    for (;;) {
        const axl_gen_step *s = &gs->steps[step];
        const axl_gs_counts *c = &counts[step];
        int last = step + 1 == gs->n_steps;
        int gen_done = s->num_trials >= 0 && c->generated >= s->num_trials;
        int obs_done = c->completed >= s->min_trials_observed;
        size_t k = k_wanted;

        if (c->generated < 0 || c->completed < 0 || c->running < 0)
            return AXL_EINVAL;
        if (gen_done && obs_done) {
            if (last) {
                *verdict = AXL_GS_EXHAUSTED;
                break;
            }
            step++;
            continue;
        }
        if (gen_done && s->enforce_num_trials) {
            /* the last step will never generate again: waiting for its data is moot */
            *verdict = last ? AXL_GS_EXHAUSTED : AXL_GS_NEEDS_DATA;
            break;
        }
        /* (gen_done && !enforce: Ax keeps generating from this step until its
         * min_trials_observed arrive) */
        if (s->max_parallelism > 0 && c->running >= s->max_parallelism) {
            *verdict = AXL_GS_MAX_PARALLELISM;
            break;
        }
        if (!gen_done && s->num_trials >= 0 && (long)k > s->num_trials - c->generated)
            k = (size_t)(s->num_trials - c->generated);
        if (s->max_parallelism > 0 && (long)k > s->max_parallelism - c->running)
            k = (size_t)(s->max_parallelism - c->running);
        *k_now = k;
        *verdict = AXL_GS_READY;
        break;
    }
    st->step = (uint32_t)step;
    return 0;
}

const char *axl_gs_verdict_name(axl_gs_verdict v)
{
    switch (v) {
    case AXL_GS_READY:
        return "ready";
    case AXL_GS_NEEDS_DATA:
        return "needs more data";
    case AXL_GS_MAX_PARALLELISM:
        return "max parallelism reached";
    case AXL_GS_EXHAUSTED:
        return "strategy exhausted";
    }
    return "unknown";
}

void axl_model_state_init(axl_model_state *st, uint64_t seed)
{
    memset(st, 0, sizeof(*st));
    st->version = AXL_MODEL_STATE_VERSION;
    st->seed = seed;
}

static void put32(uint8_t *p, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    int i;
    for (i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int axl_model_state_encode(const axl_model_state *st, uint8_t *buf, size_t cap, size_t *len)
{
    size_t i, o = 0;
    if (st == NULL || buf == NULL || cap < AXL_MODEL_STATE_BYTES)
        return AXL_EINVAL;
    put32(buf + o, AXL_MODEL_STATE_VERSION), o += 4;
    put32(buf + o, st->step), o += 4;
    put64(buf + o, st->seed), o += 8;
    put64(buf + o, st->sobol_index), o += 8;
    put64(buf + o, st->n_gen), o += 8;
    put32(buf + o, st->hyper_dims), o += 4;
    put32(buf + o, st->n_hyper), o += 4;
    for (i = 0; i < AXL_MODEL_MAX_HYPER; i++) {
        uint64_t bits;
        double v = i < st->n_hyper ? st->hyper[i] : 0.0;
        memcpy(&bits, &v, 8); /* IEEE-754 binary64, stored little-endian */
        put64(buf + o, bits), o += 8;
    }
    put32(buf + o, st->outcome_tf), o += 4;
    put32(buf + o, st->n_hyper_log), o += 4;
    for (i = 0; i < AXL_MODEL_MAX_HYPER; i++) {
        uint64_t bits;
        double v = i < st->n_hyper_log ? st->hyper_log[i] : 0.0;
        memcpy(&bits, &v, 8);
        put64(buf + o, bits), o += 8;
    }
    put32(buf + o, st->n_hyper_gap), o += 4;
    for (i = 0; i < AXL_MODEL_MAX_HYPER; i++) {
        uint64_t bits;
        double v = i < st->n_hyper_gap ? st->hyper_gap[i] : 0.0;
        memcpy(&bits, &v, 8);
        put64(buf + o, bits), o += 8;
    }
    put32(buf + o, st->n_obs_prev), o += 4;
    put32(buf + o, st->n_preq), o += 4;
    for (i = 0; i < 3; i++) {
        uint64_t bits;
        memcpy(&bits, &st->preq[i], 8);
        put64(buf + o, bits), o += 8;
    }
    if (len)
        *len = o;
    return 0;
}

int axl_model_state_decode(axl_model_state *st, const uint8_t *buf, size_t len)
{
    axl_model_state t;
    size_t i, o = 0;
    uint32_t ver;
    if (st == NULL || buf == NULL)
        return AXL_EINVAL;
    if (len < 4)
        return AXL_ECORRUPT;
    ver = get32(buf);
    if (ver < 1 || ver > AXL_MODEL_STATE_VERSION)
        return AXL_EVERSION;
    if (len != (ver == 1   ? AXL_MODEL_STATE_BYTES_V1
                : ver == 2 ? AXL_MODEL_STATE_BYTES_V2
                           : AXL_MODEL_STATE_BYTES))
        return AXL_ECORRUPT;
    memset(&t, 0, sizeof(t));
    t.version = get32(buf + o), o += 4;
    t.step = get32(buf + o), o += 4;
    t.seed = get64(buf + o), o += 8;
    t.sobol_index = get64(buf + o), o += 8;
    t.n_gen = get64(buf + o), o += 8;
    t.hyper_dims = get32(buf + o), o += 4;
    t.n_hyper = get32(buf + o), o += 4;
    if (t.hyper_dims > AXL_MODEL_MAX_DIMS || t.n_hyper > AXL_MODEL_MAX_HYPER ||
        (t.n_hyper != 0 && t.n_hyper != t.hyper_dims + 3))
        return AXL_ECORRUPT;
    for (i = 0; i < AXL_MODEL_MAX_HYPER; i++) {
        uint64_t bits = get64(buf + o);
        double v;
        o += 8;
        memcpy(&v, &bits, 8);
        if (i < t.n_hyper && !isfinite(v))
            return AXL_ECORRUPT;
        t.hyper[i] = i < t.n_hyper ? v : 0.0;
    }
    t.outcome_tf = get32(buf + o), o += 4;
    t.n_hyper_log = get32(buf + o), o += 4;
    if ((t.outcome_tf != AXL_OUTCOME_STANDARDIZE && t.outcome_tf != AXL_OUTCOME_LOG &&
         t.outcome_tf != AXL_OUTCOME_GAPLOG) ||
        t.n_hyper_log > AXL_MODEL_MAX_HYPER ||
        (t.n_hyper_log != 0 && t.n_hyper_log != t.hyper_dims + 3))
        return AXL_ECORRUPT;
    for (i = 0; i < AXL_MODEL_MAX_HYPER; i++) {
        uint64_t bits = get64(buf + o);
        double v;
        o += 8;
        memcpy(&v, &bits, 8);
        if (i < t.n_hyper_log && !isfinite(v))
            return AXL_ECORRUPT;
        t.hyper_log[i] = i < t.n_hyper_log ? v : 0.0;
    }
    if (ver >= 2) {
        t.n_hyper_gap = get32(buf + o), o += 4;
        if (t.n_hyper_gap > AXL_MODEL_MAX_HYPER ||
            (t.n_hyper_gap != 0 && t.n_hyper_gap != t.hyper_dims + 3))
            return AXL_ECORRUPT;
        for (i = 0; i < AXL_MODEL_MAX_HYPER; i++) {
            uint64_t bits = get64(buf + o);
            double v;
            o += 8;
            memcpy(&v, &bits, 8);
            if (i < t.n_hyper_gap && !isfinite(v))
                return AXL_ECORRUPT;
            t.hyper_gap[i] = i < t.n_hyper_gap ? v : 0.0;
        }
    }
    if (ver >= 3) {
        /* an older state starts its prequential scores from zero (n_obs_prev 0: the
         * next GP generation scores nothing, the one after scores what arrived) */
        t.n_obs_prev = get32(buf + o), o += 4;
        t.n_preq = get32(buf + o), o += 4;
        for (i = 0; i < 3; i++) {
            uint64_t bits = get64(buf + o);
            o += 8;
            memcpy(&t.preq[i], &bits, 8);
            if (!isfinite(t.preq[i]))
                return AXL_ECORRUPT;
        }
    }
    t.version = AXL_MODEL_STATE_VERSION; /* an older state continues as the current one */
    *st = t;
    return 0;
}
