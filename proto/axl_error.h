/*
 * axl_error.h - the one error table of axle.
 *
 * Every public function that can fail returns an int: 0 on success or a negative
 * AXL_E... code from this table. A function that returns an error never calls its
 * callback. Human detail goes to an error buffer the caller passes (axl_errbuf).
 * This header is dependency-free so that every module, the pure math included,
 * can use the codes.
 */
#ifndef AXL_ERROR_H
#define AXL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* XX(name, value, message) */
#define AXL_ERRNO_MAP(XX)                                                                          \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(ETOOBIG, -3, "message or value too large")                                                  \
    XX(EPROTO, -4, "malformed message")                                                            \
    XX(ETYPE, -5, "field has the wrong type")                                                      \
    XX(EMISSING, -6, "required field missing")                                                     \
    XX(ERANGE, -7, "value out of range")                                                           \
    XX(EDEPTH, -8, "nesting too deep")                                                             \
    XX(EVERSION, -9, "unsupported format version")                                                 \
    XX(EIO, -10, "input/output error")                                                             \
    XX(ENOENT, -11, "not found")                                                                   \
    XX(EEXIST, -12, "already exists")                                                              \
    XX(EBUSY, -13, "resource busy or locked")                                                      \
    XX(ENOSPC, -14, "no space left")                                                               \
    XX(ECORRUPT, -15, "data is corrupt or not axle's")                                             \
    XX(EACCES, -16, "permission denied")                                                           \
    XX(ESTATE, -17, "not allowed in the current state")                                            \
    XX(ETIMEDOUT, -18, "timed out")                                                                \
    XX(ECLOSED, -19, "closed")                                                                     \
    XX(ECONFIG, -20, "invalid configuration")                                                      \
    XX(ENOTSUP, -21, "not supported")                                                              \
    XX(EAGAIN, -22, "resource temporarily unavailable")                                            \
    XX(ENUMERIC, -23, "numerical failure")                                                         \
    XX(EEXHAUSTED, -24, "resource exhausted")                                                      \
    XX(ECANCELED, -25, "canceled")

typedef enum {
    AXL_OK = 0,
#define AXL_ERR_ENUM(name, value, msg) AXL_##name = (value),
    AXL_ERRNO_MAP(AXL_ERR_ENUM)
#undef AXL_ERR_ENUM
} axl_errno_t;

/* Returns a static string describing code; never NULL, also for unknown codes. */
const char *axl_strerror(int code);

/* Returns the symbolic name of code ("AXL_EINVAL"); never NULL. */
const char *axl_err_name(int code);

/*
 * The inverse of axl_err_name: name[0..len) ("AXL_EINVAL", not NUL-terminated) to its
 * code. Returns 0 for "AXL_OK" and for names this build does not know.
 */
int axl_err_from_name(const char *name, size_t len);

/*
 * A caller-owned buffer for the human side of an error: functions that fail write one
 * line into it (when it is not NULL) and return the code.
 */
typedef struct axl_errbuf {
    char msg[256];
} axl_errbuf;

/* Formats into eb (if not NULL) and returns code, so that `return axl_fail(eb, c, ...)`. */
int axl_fail(axl_errbuf *eb, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
