/*
 * journal.c - persist, then publish: the events of one loop turn go into one store
 * batch, are committed in one durable transaction, and only then leave on the stream.
 */
#include "engine/campaign.h"

#include <string.h>

int axl_journal_init(axl_journal *j, axl_store *store, axl_stream *stream)
{
    memset(j, 0, sizeof(*j));
    j->store = store;
    j->stream = stream;
    msgpack_sbuffer_init(&j->scratch);
    return axl_store_batch_new(&j->batch);
}

void axl_journal_free(axl_journal *j)
{
    axl_store_batch_free(j->batch);
    msgpack_sbuffer_destroy(&j->scratch);
    j->batch = NULL;
}

int axl_journal_add(axl_journal *j, const char *type, const char *experiment, int64_t trial,
                    axl_rec_kind rec, const void *body, size_t body_len, axl_errbuf *eb)
{
    axl_event ev = {
        .time = axl_now(),
        .type = type,
        .type_len = strlen(type),
        .experiment = experiment,
        .experiment_len = strlen(experiment),
        .trial = trial,
        .rec = rec,
        .body = body,
        .body_len = body_len,
    };
    return axl_store_batch_add(j->batch, &ev, eb);
}

size_t axl_journal_pending(const axl_journal *j)
{
    return axl_store_batch_count(j->batch);
}

int axl_journal_commit(axl_journal *j, axl_errbuf *eb)
{
    size_t n = axl_store_batch_count(j->batch);
    uint64_t first;
    int rv;
    if (n == 0)
        return 0;
    if ((rv = axl_store_commit(j->store, j->batch, &first, eb)) != 0)
        return rv;
    j->commits++;
    j->events += n;
    for (size_t i = 0; j->stream != NULL && i < n; i++) {
        uint64_t seq;
        const void *data;
        size_t len;
        if (axl_store_batch_event(j->batch, i, &seq, &data, &len) == 0)
            axl_stream_publish(j->stream, data, len);
    }
    axl_store_batch_clear(j->batch);
    return 0;
}
