/*
 * command_run.h - the run folder of one command trial: the files that let a command
 * outlive the engine that started it and be collected by the next one.
 *
 *   STORE/runs/EXPERIMENT/TRIAL/ATTEMPT/
 *     stdout, stderr   the command's output (files, not pipes: nothing is lost when the
 *                      engine dies, and a grandchild holding them open delays nothing)
 *     pid              "PID STARTTIME START DEADLINE": written by the engine, durably,
 *                      after the spawn and BEFORE the command may start
 *     exit             written by the wrapper, atomically (exit.tmp, then rename): the
 *                      command's status, or "norun" when the wrapper never got the go
 *
 * The wrapper (/bin/sh, see command_run.c) is spawned in its own session and waits on a
 * pipe for "go" before it runs the command. The engine writes the pid file, then "go".
 * So a command runs only once its pid file is on disk, and a wrapper whose engine died
 * before the go reads EOF, writes "norun" and never runs it. On resume the latest
 * attempt of a trial says exactly what happened (command_run_inspect).
 */
#ifndef AXL_COMMAND_RUN_H
#define AXL_COMMAND_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AXL_RUN_PATH_MAX 1024

/* What the pid file holds. */
typedef struct axl_run_pid {
    int pid;                      /* the wrapper: session leader, process group id */
    unsigned long long starttime; /* /proc/PID/stat field 22: tells a reused pid apart */
    double start;                 /* wall clock when the command was released */
    double deadline;              /* start + timeout_s; 0 = none */
} axl_run_pid;

typedef enum {
    AXL_RUN_NONE,     /* no attempt folder: never spawned */
    AXL_RUN_NORUN,    /* the command never ran and never will (no go, or "norun") */
    AXL_RUN_FINISHED, /* exit holds the command's status */
    AXL_RUN_STARTED,  /* released (pid file), no exit status yet: alive, or killed */
} axl_run_state;

/* The folder of trial's attempt into out (absolute when base is). 0 or AXL_ETOOBIG. */
int axl_run_dir(const char *base, const char *experiment, uint32_t trial, unsigned attempt,
                char *out, size_t size);

/* The highest attempt number present for trial (0 when none). */
unsigned axl_run_latest_attempt(const char *base, const char *experiment, uint32_t trial);

/* Reads dir's state; with STARTED *pid is filled, with FINISHED *status (0..255). */
axl_run_state axl_run_inspect(const char *dir, axl_run_pid *pid, int *status);

/* Writes the pid file atomically and durably (tmp, fsync, rename, fsync dir). 0 or errno. */
int axl_run_write_pid(const char *dir, const axl_run_pid *pid);

/* /proc/PID/stat's starttime, or 0 when the process does not exist. */
unsigned long long axl_run_proc_starttime(int pid);

/*
 * A pidfd for pid if that process is the one recorded (same starttime), else -1 with
 * *gone set when it is dead or another process; -1 with *gone false when pidfds are not
 * supported (then liveness comes from axl_run_proc_starttime).
 */
int axl_run_open_pidfd(const axl_run_pid *pid, bool *gone);

/*
 * Reads up to max bytes of dir/stdout into a malloc'd NUL-terminated buffer (*out, the
 * caller frees; NULL when the file is empty or missing); *too_big when there was more.
 * The last tail_max bytes of dir/stderr go into tail (NUL-terminated, one trailing
 * newline dropped).
 */
void axl_run_read_output(const char *dir, size_t max, char **out, size_t *len, bool *too_big,
                         char *tail, size_t tail_max);

/* The shell program of the wrapper: sh -c SCRIPT axle-run DIR ARGV... */
extern const char axl_run_wrapper_script[];

#endif
