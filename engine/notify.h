/* notify.h - sd_notify over $NOTIFY_SOCKET, no library (engine/notify.c). */
#ifndef AXL_NOTIFY_H
#define AXL_NOTIFY_H

/* Reads $NOTIFY_SOCKET once and removes it from the environment (children must not
 * inherit it). Call before any thread or child process exists. */
void axl_notify_init(void);

/* Sends state ("READY=1", "STOPPING=1\nSTATUS=...") when a socket was named; 0 or -errno. */
int axl_notify(const char *state);

#endif
