/*
 * mpj - msgpack from a compact, JSON-like text, for tests:
 *   J("{v:1, type:'ack', id:'e/1/0', state:'running', n:[1, -2, 2.5, 1.5f], x:nil}")
 * Maps take bare or quoted keys; strings are '...' with \' \\ \n \t \0 \xNN escapes
 * (\xNN is a raw byte, so invalid UTF-8 can be written); b'...' is bin; numbers with a
 * '.', 'e', nan or inf are float64, with a trailing f float32, else integers; true,
 * false, nil; hex'c3 c2' inserts raw bytes as they are (for hand-made encodings).
 * The text is a printf format first. A syntax error aborts: it is a bug in the test.
 */
#ifndef AXL_TEST_MPJ_H
#define AXL_TEST_MPJ_H

#include <msgpack.h>

/* A new sbuffer holding the packed value; free with mpj_free(). */
msgpack_sbuffer *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mpj_free(msgpack_sbuffer *sb);
/* Appends the packed value of text (not a format) to sb. */
void mpj_append(msgpack_sbuffer *sb, const char *text);

#endif
