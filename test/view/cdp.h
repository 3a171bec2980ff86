/*
 * cdp.h - a headless Chromium driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: commands on the child's fd 3, replies on its fd 4, each a
 * JSON text ended by NUL). Enough for the view's tests and bench: open a page, evaluate
 * JavaScript (awaiting promises), take a screenshot.
 */
#ifndef AXL_TEST_CDP_H
#define AXL_TEST_CDP_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

typedef struct axl_cdp {
    pid_t pid;
    int to_fd;   /* we write commands */
    int from_fd; /* we read replies and events */
    char *rbuf;
    size_t rlen, rcap;
    int next_id;
    char session[128];
    char profile[256];
} axl_cdp;

/* The browser's path, or NULL when none is installed (tests then skip). */
const char *axl_cdp_browser(void);

/* Starts the browser with a fresh profile and attaches to one blank page. 0 or -1. */
int axl_cdp_start(axl_cdp *c, int width, int height);

/* Sends method(params) (params stolen; NULL = {}) to the page's session, or to the
 * browser when browser is true, and waits up to timeout_ms for its reply. *result (may
 * be NULL) receives the "result" object (caller decrefs). 0 or -1 (error text on stderr). */
int axl_cdp_call(axl_cdp *c, bool browser, const char *method, json_t *params, int timeout_ms,
                 json_t **result);

/* Navigates and waits for the load event. */
int axl_cdp_open(axl_cdp *c, const char *url, int timeout_ms);

/* Evaluates expr in the page, awaiting a promise; *value gets its JSON value. */
int axl_cdp_eval(axl_cdp *c, const char *expr, int timeout_ms, json_t **value);

/* Evaluates expr and returns it as a number (NaN on failure). */
double axl_cdp_eval_num(axl_cdp *c, const char *expr, int timeout_ms);

/* Writes a PNG of the full page to path. */
int axl_cdp_screenshot(axl_cdp *c, const char *path);

void axl_cdp_stop(axl_cdp *c);

#endif
