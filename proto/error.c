#include "proto/axl_error.h"

#include <stdio.h>
#include <string.h>

const char *axl_strerror(int code)
{
    switch (code) {
    case AXL_OK:
        return "success";
#define AXL_ERR_STR(name, value, msg)                                                              \
    case AXL_##name:                                                                               \
        return msg;
        AXL_ERRNO_MAP(AXL_ERR_STR)
#undef AXL_ERR_STR
    }
    return "unknown error";
}

const char *axl_err_name(int code)
{
    switch (code) {
    case AXL_OK:
        return "AXL_OK";
#define AXL_ERR_NAME(name, value, msg)                                                             \
    case AXL_##name:                                                                               \
        return "AXL_" #name;
        AXL_ERRNO_MAP(AXL_ERR_NAME)
#undef AXL_ERR_NAME
    }
    return "AXL_EUNKNOWN";
}

int axl_err_from_name(const char *name, size_t len)
{
    static const struct {
        const char *name;
        int code;
    } table[] = {
#define AXL_ERR_ROW(name, value, msg) {"AXL_" #name, AXL_##name},
        AXL_ERRNO_MAP(AXL_ERR_ROW)
#undef AXL_ERR_ROW
    };
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strlen(table[i].name) == len && memcmp(table[i].name, name, len) == 0)
            return table[i].code;
    return 0;
}

int axl_fail(axl_errbuf *eb, int code, const char *fmt, ...)
{
    if (eb != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
