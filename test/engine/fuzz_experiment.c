/*
 * fuzz_experiment: axl_experiment_parse (engine/config.c) on arbitrary bytes as an
 * experiment file's text, as `axle run FILE` reads it. No file is created. An accepted
 * experiment is checked for the invariants callers rely on (its source is a copy of the
 * input; every parameter has a name and an index that finds it), formatted, and freed;
 * a refused one must leave *out NULL and a message. Crashes, leaks and undefined behaviour
 * are caught by ASan, UBSan and libFuzzer's leak check. Run it with scripts/fuzz.
 * AXL_FUZZ_VERBOSE=1 prints why each input was refused (to check the seeds).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/experiment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what)
{
    fprintf(stderr, "fuzz_experiment: invariant broken: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    axl_errbuf eb = {{0}};
    axl_experiment *e = (axl_experiment *)(uintptr_t)1;
    int rv = axl_experiment_parse((const char *)data, size, &e, &eb);
    if (rv != 0) {
        if (rv > 0 || e != NULL)
            broken("a refused file left an experiment or a positive code");
        if (eb.msg[0] == '\0')
            broken("a refused file without a message");
        if (getenv("AXL_FUZZ_VERBOSE") != NULL)
            fprintf(stderr, "fuzz_experiment: refused: %s\n", eb.msg);
        return 0;
    }
    if (e == NULL)
        broken("an accepted file without an experiment");
    if (e->source == NULL || memcmp(e->source, data, size) != 0 || e->source[size] != '\0')
        broken("source is not a copy of the input");
    for (size_t i = 0; i < e->space.n_params; i++) {
        char buf[128];
        double x = -1;
        if (e->info[i].name == NULL || axl_experiment_param_index(e, e->info[i].name) != (int)i)
            broken("a parameter its own name does not find");
        axl_experiment_format_value(e, i, 0, buf, sizeof(buf));
        if (memchr(buf, '\0', sizeof(buf)) == NULL)
            broken("format_value left the buffer unterminated");
        axl_value v = axl_experiment_value_at(e, i, 0);
        if (axl_experiment_coord_of(e, i, &v, &x) != 0)
            broken("a parameter's own value has no coordinate");
    }
    axl_experiment_free(e);
    return 0;
}
