/* keys.c - the unknown-key check of axl_json.h. */
#include "proto/json/axl_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int axl_json_check_keys(const json_t *obj, const char *path, const char *const *known, int code,
                        axl_errbuf *eb)
{
    const char *key;
    json_t *val;
    if (!json_is_object(obj))
        return 0;
    if (path == NULL)
        path = "";
    json_object_foreach((json_t *)obj, key, val)
    {
        bool ok = false;
        for (const char *const *k = known; *k != NULL && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (ok)
            continue;
        char list[256] = "";
        size_t len = 0;
        for (const char *const *k = known; *k != NULL && len < sizeof(list); k++)
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k == known ? "" : ", ",
                                    *k);
        return axl_fail(eb, code, "%s%s%s: unknown key (known: %s)", path, *path ? "." : "", key,
                        list);
    }
    return 0;
}
