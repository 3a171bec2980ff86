/*
 * notify.c - systemd's sd_notify protocol without libsystemd: one datagram to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace). axle run/resume say READY=1 once the campaign has started (its control
 * socket and event stream listen) and STOPPING=1 when it stops, so that a Type=notify
 * unit (dist/axle@.service) knows both. Without $NOTIFY_SOCKET every call is a no-op.
 */
#include "engine/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static size_t notify_len; /* 0: no socket */

void axl_notify_init(void)
{
    const char *s = getenv("NOTIFY_SOCKET");
    size_t n = s != NULL ? strlen(s) : 0;
    notify_len = 0;
    if (n >= 2 && n < sizeof(notify_path) && (s[0] == '/' || s[0] == '@')) {
        memcpy(notify_path, s, n);
        notify_len = n;
    }
    /* The trial processes the command runner starts must not speak for the service. */
    unsetenv("NOTIFY_SOCKET");
}

int axl_notify(const char *state)
{
    if (notify_len == 0)
        return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, notify_path, notify_len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + notify_len);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    int err = w < 0 ? -errno : 0;
    close(fd);
    return err;
}
