/*
 * One sample of every message, event and trial record, shared by the tests, the
 * interop helper, the corpus writer and (as text) the validation-rule tables. The
 * Python side of the interop test states the same values independently.
 */
#ifndef AXL_TEST_SAMPLES_H
#define AXL_TEST_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/axl_proto.h"
#include "proto/axl_wire.h"

/* Builds the raw maps the samples point into; samples_fini() frees them. */
void samples_init(void);
void samples_fini(void);

/* The full sample of type t (every optional field set). Borrowed static data. */
axl_wire_msg sample_msg(axl_wire_type t);

/* Field-by-field equality; on a difference writes the field's name into why. */
bool wire_msg_eq(const axl_wire_msg *a, const axl_wire_msg *b, char *why, size_t cap);
/* Semantic equality of two raw msgpack values (both must be valid). */
bool raw_eq(axl_raw a, axl_raw b);

#define N_SAMPLE_EVENTS 3
/* Event i of the samples: 0 has trial+rec (body = the sample trial), 1 none, 2 stopped. */
axl_event sample_event(int i);
bool event_eq(const axl_event *a, const axl_event *b, char *why, size_t cap);

/* The sample trial record (caller-owned pointers into static data). */
axl_trial_rec sample_trial(void);
bool trial_eq(const axl_trial_rec *a, const axl_trial_rec *b, char *why, size_t cap);

/* ---- Text form (mpj) of the wire samples, field by field ------------------------- */

typedef struct sample_field {
    const char *key;
    const char *text; /* the value in mpj syntax */
    char cls;         /* u unsigned, n number, s string, b bool, a array, m map */
    bool required;
} sample_field;

/* The fields of type t after v and type; *n gets the count. */
const sample_field *sample_fields(axl_wire_type t, size_t *n);

/*
 * mpj text of the sample of type t with field `key` replaced by `text` (NULL: removed;
 * a key not in the sample is appended). key NULL: the sample as it is. malloc'd.
 */
char *sample_text(axl_wire_type t, const char *key, const char *text);

#endif
