/*
 * command_run.c - the files of a command trial's run folder (command_run.h).
 */
#include "engine/command_run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proto/axl_error.h"

/*
 * $1 is the run folder, the rest the command. The wrapper reads one line from stdin (a
 * pipe whose only writer is the engine that spawned it): "go" releases the command; EOF
 * (that engine died before it recorded the pid) means it must never run. The command
 * gets /dev/null as stdin; its status is written atomically (exit.tmp, then rename) so
 * that a reader sees either no status or the whole one. A status above 128 is a signal
 * (the shell's 128 + N).
 */
const char axl_run_wrapper_script[] =
    "d=$1; shift\n"
    "IFS= read -r go || go=\n"
    "if [ \"$go\" != go ]; then\n"
    "  printf 'norun\\n' >\"$d/exit.tmp\" && mv -f \"$d/exit.tmp\" \"$d/exit\"\n"
    "  exit 0\n"
    "fi\n"
    "\"$@\" </dev/null\n"
    "st=$?\n"
    "printf '%s\\n' \"$st\" >\"$d/exit.tmp\" && mv -f \"$d/exit.tmp\" \"$d/exit\"\n"
    "exit \"$st\"\n";

int axl_run_dir(const char *base, const char *experiment, uint32_t trial, unsigned attempt,
                char *out, size_t size)
{
    int n = attempt > 0 ? snprintf(out, size, "%s/runs/%s/%u/%u", base, experiment, trial, attempt)
                        : snprintf(out, size, "%s/runs/%s/%u", base, experiment, trial);
    return n > 0 && (size_t)n < size ? 0 : AXL_ETOOBIG;
}

unsigned axl_run_latest_attempt(const char *base, const char *experiment, uint32_t trial)
{
    char dir[AXL_RUN_PATH_MAX];
    unsigned best = 0;
    if (axl_run_dir(base, experiment, trial, 0, dir, sizeof(dir)) != 0)
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        unsigned long v = strtoul(de->d_name, &end, 10);
        if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && *end == '\0' && v > best && v < 1000000)
            best = (unsigned)v;
    }
    closedir(d);
    return best;
}

/* Reads a small file into buf (NUL-terminated); -1 when missing. */
static ssize_t read_small(const char *dir, const char *name, char *buf, size_t size)
{
    char path[AXL_RUN_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

axl_run_state axl_run_inspect(const char *dir, axl_run_pid *pid, int *status)
{
    char buf[128];
    struct stat st;
    if (stat(dir, &st) != 0)
        return AXL_RUN_NONE;
    if (read_small(dir, "exit", buf, sizeof(buf)) >= 0) {
        int v;
        if (strncmp(buf, "norun", 5) == 0)
            return AXL_RUN_NORUN;
        if (sscanf(buf, "%d", &v) == 1 && v >= 0 && v <= 255) {
            *status = v;
            return AXL_RUN_FINISHED;
        }
    }
    memset(pid, 0, sizeof(*pid));
    if (read_small(dir, "pid", buf, sizeof(buf)) >= 0 &&
        sscanf(buf, "%d %llu %lf %lf", &pid->pid, &pid->starttime, &pid->start, &pid->deadline) ==
            4 &&
        pid->pid > 1)
        return AXL_RUN_STARTED;
    /* Folder but no pid file: the engine died before it released the command. */
    return AXL_RUN_NORUN;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rv = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return rv;
}

int axl_run_write_pid(const char *dir, const axl_run_pid *pid)
{
    char tmp[AXL_RUN_PATH_MAX + 16], path[AXL_RUN_PATH_MAX + 16], line[128];
    snprintf(tmp, sizeof(tmp), "%s/pid.tmp", dir);
    snprintf(path, sizeof(path), "%s/pid", dir);
    int n = snprintf(line, sizeof(line), "%d %llu %.6f %.6f\n", pid->pid, pid->starttime,
                     pid->start, pid->deadline);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    int rv = 0;
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
        rv = errno != 0 ? errno : EIO;
    close(fd);
    if (rv == 0 && rename(tmp, path) != 0)
        rv = errno;
    if (rv == 0)
        rv = fsync_dir(dir);
    return rv;
}

unsigned long long axl_run_proc_starttime(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    p++;
    /* Fields 3 (state) to 21, then 22: starttime. */
    for (int field = 3; field < 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    return p != NULL ? strtoull(p + 1, NULL, 10) : 0;
}

int axl_run_open_pidfd(const axl_run_pid *pid, bool *gone)
{
    *gone = false;
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid->pid, 0);
    if (fd < 0 && errno != ENOSYS) {
        *gone = true; /* ESRCH: no such process */
        return -1;
    }
    if (fd >= 0) {
        /* The pidfd names whichever process had the pid: make sure it is ours. */
        if (axl_run_proc_starttime(pid->pid) != pid->starttime) {
            close(fd);
            *gone = true;
            return -1;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    }
#endif
    if (axl_run_proc_starttime(pid->pid) != pid->starttime)
        *gone = true;
    return -1;
}

void axl_run_read_output(const char *dir, size_t max, char **out, size_t *len, bool *too_big,
                         char *tail, size_t tail_max)
{
    char path[AXL_RUN_PATH_MAX + 16];
    *out = NULL;
    *len = 0;
    *too_big = false;
    tail[0] = '\0';
    snprintf(path, sizeof(path), "%s/stdout", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
        size_t want = (size_t)st.st_size > max ? max : (size_t)st.st_size;
        *too_big = (size_t)st.st_size > max;
        char *buf = malloc(want + 1);
        ssize_t n = buf != NULL ? pread(fd, buf, want, 0) : -1;
        if (n > 0) {
            buf[n] = '\0';
            *out = buf;
            *len = (size_t)n;
        } else {
            free(buf);
        }
    }
    if (fd >= 0)
        close(fd);
    snprintf(path, sizeof(path), "%s/stderr", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
        size_t want = (size_t)st.st_size > tail_max - 1 ? tail_max - 1 : (size_t)st.st_size;
        ssize_t n = pread(fd, tail, want, st.st_size - (off_t)want);
        tail[n > 0 ? n : 0] = '\0';
        if (n > 0 && tail[n - 1] == '\n')
            tail[n - 1] = '\0';
    }
    if (fd >= 0)
        close(fd);
}
