/*
 * spawn.h - fork + exec of a child with its output in files, for the tests.
 *
 * The child makes only async-signal-safe calls (open, dup2, execv, _exit) between fork and
 * exec. The tests fork from processes that have other threads (nng's, libuv's pool, an
 * engine's loop run in-process): a thread may hold malloc's or a FILE's lock at the fork,
 * and a child that called freopen() or printf() then would wait for that lock forever,
 * never exec'ing - a test that hangs once in a few hundred runs.
 */
#ifndef AXL_TEST_SPAWN_H
#define AXL_TEST_SPAWN_H

#include <fcntl.h>
#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

/* The err argument of axl_test_spawn: stderr where stdout goes, or left as it is. */
#define AXL_TEST_SAME_AS_OUT ((const char *)1)
#define AXL_TEST_INHERIT ((const char *)2)

/* Opens path (NULL: /dev/null) as fd target; false on failure. Child side only. */
static inline bool axl_test_redirect_(const char *path, int target, bool append)
{
    int flags = O_WRONLY | (path != NULL ? O_CREAT | (append ? O_APPEND : O_TRUNC) : 0);
    int fd = open(path != NULL ? path : "/dev/null", flags, 0644);
    if (fd < 0 || dup2(fd, target) < 0)
        return false;
    if (fd != target)
        close(fd);
    return true;
}

/*
 * Starts path with argv (NULL-terminated; argv[0] its name), stdout into out and stderr
 * into err (NULL: /dev/null; AXL_TEST_SAME_AS_OUT: where stdout goes; AXL_TEST_INHERIT:
 * the test's own), files truncated or,
 * with append, appended to. Returns the child's pid, -1 when fork failed; a child that
 * cannot redirect or exec exits 127.
 */
static inline pid_t axl_test_spawn(const char *path, const char *const argv[], const char *out,
                                   const char *err, bool append)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (!axl_test_redirect_(out, 1, append))
        _exit(127);
    if (err == AXL_TEST_SAME_AS_OUT ? dup2(1, 2) < 0
        : err == AXL_TEST_INHERIT   ? false
                                    : !axl_test_redirect_(err, 2, append))
        _exit(127);
    execv(path, (char *const *)argv);
    _exit(127);
}

#endif
