#include "proto/axl_log.h"
#include "proto/axl_error.h"
#include "proto/axl_proto.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static axl_log_level log_level = AXL_LOG_INFO;
static axl_log_format log_format = AXL_LOG_HUMAN;
static FILE *log_stream;

static const char *const level_upper[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
static const char *const level_lower[] = {"debug", "info", "warn", "error"};

void axl_log_set_level(axl_log_level level)
{
    log_level = level;
}

axl_log_level axl_log_get_level(void)
{
    return log_level;
}

void axl_log_set_format(axl_log_format format)
{
    log_format = format;
}

void axl_log_set_stream(FILE *stream)
{
    log_stream = stream;
}

int axl_log_parse_level(const char *name, axl_log_level *out)
{
    if (name == NULL)
        return AXL_EINVAL;
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (axl_log_level)i;
            return 0;
        }
    }
    return AXL_EINVAL;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not valid UTF-8. */
static size_t utf8_seq(const unsigned char *p)
{
    size_t n = *p < 0xc0 ? 0 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : *p < 0xf8 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
    return n != 0 && axl_utf8_valid(p, n) ? n : 0;
}

/* Writes s as the inside of a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void put_json_string(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80) {
            size_t n = utf8_seq(p);
            if (n == 0) {
                fputs("\\ufffd", f);
            } else {
                fwrite(p, 1, n, f);
                p += n - 1;
            }
            continue;
        }
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
}

void axl_log(axl_log_level level, const char *src, const char *fmt, ...)
{
    if (level < log_level || level >= AXL_LOG_OFF)
        return;
    FILE *f = log_stream != NULL ? log_stream : stderr;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    char stamp[40];
    if (log_format == AXL_LOG_JSON) {
        gmtime_r(&tv.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        /* One fprintf per line would interleave less, but the line is built in pieces
         * only on the loop thread; other threads log whole lines through the human path. */
        flockfile(f);
        fprintf(f, "{\"time\":\"%s.%03dZ\",\"level\":\"%s\",\"src\":\"", stamp,
                (int)(tv.tv_usec / 1000), level_lower[level]);
        put_json_string(f, src != NULL ? src : "");
        fputs("\",\"msg\":\"", f);
        put_json_string(f, msg);
        fputs("\"}\n", f);
        funlockfile(f);
    } else {
        localtime_r(&tv.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%m-%d %H:%M:%S", &tm);
        fprintf(f, "[%s %s] %s%s%s\n", level_upper[level], stamp, src != NULL ? src : "",
                src != NULL ? ": " : "", msg);
    }
    fflush(f);
}
