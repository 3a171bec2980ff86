/*
 * axl_log.h - one small logger: levels, human lines or JSON lines, to stderr.
 *
 * Human lines keep the shape Ax users know:
 *   [INFO 11-28 23:31:02] Scheduler: Running trials [0]...
 * JSON lines: {"time":"2026-11-28T23:31:02.123Z","level":"info","src":"Scheduler","msg":"..."}
 * The logger is not thread-safe by design: only the loop thread logs, except for
 * whole-line writes from other threads, which stdio keeps intact.
 */
#ifndef AXL_LOG_H
#define AXL_LOG_H

#include <stdio.h>

typedef enum {
    AXL_LOG_DEBUG = 0,
    AXL_LOG_INFO = 1,
    AXL_LOG_WARN = 2,
    AXL_LOG_ERROR = 3,
    AXL_LOG_OFF = 4,
} axl_log_level;

typedef enum { AXL_LOG_HUMAN = 0, AXL_LOG_JSON = 1 } axl_log_format;

void axl_log_set_level(axl_log_level level);
axl_log_level axl_log_get_level(void);
void axl_log_set_format(axl_log_format format);
/* Redirects output (default stderr). The stream is borrowed, not closed. */
void axl_log_set_stream(FILE *stream);
/* Parses "debug", "info", "warn", "error", "off"; returns 0 or AXL_EINVAL. */
int axl_log_parse_level(const char *name, axl_log_level *out);

void axl_log(axl_log_level level, const char *src, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define AXL_DEBUG(src, ...) axl_log(AXL_LOG_DEBUG, src, __VA_ARGS__)
#define AXL_INFO(src, ...) axl_log(AXL_LOG_INFO, src, __VA_ARGS__)
#define AXL_WARN(src, ...) axl_log(AXL_LOG_WARN, src, __VA_ARGS__)
#define AXL_ERROR(src, ...) axl_log(AXL_LOG_ERROR, src, __VA_ARGS__)

#endif
