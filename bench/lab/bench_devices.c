/*
 * bench_devices.c - the real device drivers against `axle emulate` (bench_lab.c's rows
 * lab.driver_roundtrip_ms_p50 / _p99 and lab.emulated_vs_sim_throughput).
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "bench/axl_bench.h"
#include "bench/lab/bench_lab.h"
#include "hw/devices/axl_devices.h"

#define MAX_EMU 12

static pid_t emus[MAX_EMU];
static int n_emus;
static char emu_dir[256];

/* `axle emulate DEVICE --pty DIR/NAME --speed SPEED` (or --listen URL), waits for ready. */
static void emu(const char *device, const char *name, const char *speed, const char *url,
                char *path, size_t path_len)
{
    if (url != NULL)
        snprintf(path, path_len, "%s", url);
    else
        snprintf(path, path_len, "%s/%s", emu_dir, name);
    int fds[2];
    if (pipe(fds) != 0 || n_emus == MAX_EMU)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(AXLE_BIN, AXLE_BIN, "emulate", device, url != NULL ? "--listen" : "--pty", path,
              "--speed", speed, "--quiet", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    emus[n_emus++] = pid;
    char line[512];
    size_t k = 0;
    while (k + 1 < sizeof(line)) {
        struct pollfd p = {fds[0], POLLIN, 0};
        char ch;
        if (poll(&p, 1, 10000) <= 0 || read(fds[0], &ch, 1) != 1)
            break;
        if (ch == '\n')
            break;
        line[k++] = ch;
    }
    line[k] = '\0';
    close(fds[0]);
    if (strncmp(line, "ready ", 6) != 0) {
        fprintf(stderr, "bench_lab: the %s emulator did not start\n", device);
        exit(1);
    }
}

static void emus_stop(void)
{
    for (int i = 0; i < n_emus; i++) {
        kill(emus[i], SIGTERM);
        waitpid(emus[i], NULL, 0);
    }
    n_emus = 0;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", emu_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_lab: cannot remove %s\n", emu_dir);
}

static void emu_dir_make(void)
{
    const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    snprintf(emu_dir, sizeof(emu_dir), "%s/axl-bench-dev-XXXXXX", base);
    if (mkdtemp(emu_dir) == NULL)
        exit(1);
}

/* ---- one gantry command ------------------------------------------------------------------ */

typedef struct rt {
    uv_loop_t *loop;
    int done, status;
    char why[AXL_XCH_WHY_MAX];
} rt;

static axl_xch_verdict match_ok(axl_xch *x, const char *line, size_t len, char *why)
{
    (void)x;
    (void)why;
    if (len == 2 && memcmp(line, "ok", 2) == 0)
        return AXL_XCH_DONE;
    return strncmp(line, "X:", 2) == 0 ? AXL_XCH_MORE : AXL_XCH_IGNORE;
}

static void rt_cb(void *arg, int status, const char *why)
{
    rt *r = arg;
    r->done = 1;
    r->status = status;
    snprintf(r->why, sizeof(r->why), "%s", why);
    uv_stop(r->loop);
}

double bench_driver_roundtrip(double *p99)
{
    enum { N = 2000 };
    static double ms[N];
    char path[300];
    emu_dir_make();
    emu("gantry", "gantry", "1000000", NULL, path, sizeof(path));
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_serial_opts so;
    axl_marlin_serial(&so, path, "gantry");
    axl_sdev *s;
    axl_errbuf eb = {{0}};
    if (axl_sdev_new(&s, &loop, &so, &eb) != 0) {
        fprintf(stderr, "bench_lab: %s\n", eb.msg);
        exit(1);
    }
    int n = 0;
    for (int i = 0; i < N + 50; i++) {
        rt r = {.loop = &loop};
        axl_sop *op = axl_sop_new(s, rt_cb, &r);
        double t0 = axl_bench_now();
        if (op == NULL || axl_sop_send(op, match_ok, 2000, 0, "M114\n") == NULL)
            exit(1);
        axl_sop_seal(op);
        while (!r.done)
            uv_run(&loop, UV_RUN_ONCE);
        double dt = (axl_bench_now() - t0) * 1e3;
        if (r.status != 0) {
            fprintf(stderr, "bench_lab: M114 failed: %s\n", r.why);
            exit(1);
        }
        if (i >= 50) /* the first ones open the port and warm up */
            ms[n++] = dt;
    }
    axl_sdev_close(s);
    while (uv_run(&loop, UV_RUN_NOWAIT) != 0)
        ;
    uv_loop_close(&loop);
    emus_stop();
    *p99 = axl_bench_quantile(ms, (size_t)n, 0.99);
    double p50 = axl_bench_quantile(ms, (size_t)n, 0.5);
    fprintf(stderr,
            "  driver: M114 -> report + ok through a pty, %d round trips: p50 %.3f ms, "
            "p99 %.3f ms, max %.3f ms\n",
            n, p50, *p99, ms[n - 1]);
    return p50;
}

/* ---- a campaign on emulated devices vs the simulated line ---------------------------------- */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        exit(1);
    close(s);
    return ntohs(a.sin_port);
}

static double samples_per_h(const line_run *r, double speed, int n)
{
    double makespan = (r->last_end - r->first_start) * speed;
    if (r->res.n_completed != (uint32_t)n)
        fprintf(stderr, "  warning: %u of %d samples completed\n", r->res.n_completed, n);
    return r->res.n_completed / (makespan / 3600);
}

static json_t *twelve(const char *name, double speed)
{
    json_t *steps = json_pack("[{s:s,s:i,s:i,s:i}]", "model", "sobol", "num_trials", -1,
                              "max_parallelism", 12, "seed", 4242);
    return seed_experiment(name, 12, steps, speed, 11, 12);
}

double bench_emulated_vs_sim(void)
{
    const int n = 12;
    double speed = getenv("AXL_BENCH_EMU_SPEED") ? atof(getenv("AXL_BENCH_EMU_SPEED")) : 100;
    char sp[32];
    snprintf(sp, sizeof(sp), "%g", speed);

    fprintf(stderr, "  simulated line: 12 seed samples at %gx ...\n", speed);
    line_run sim;
    json_t *exp = twelve("sim12", speed);
    run_line(exp, "sim12", &sim);
    json_decref(exp);
    double sim_h = samples_per_h(&sim, speed, n);

    fprintf(stderr, "  emulated devices: the same 12 samples at %gx ...\n", speed);
    emu_dir_make();
    char p[10][300], url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d", free_port());
    emu("gantry", "gantry", sp, NULL, p[0], sizeof(p[0]));
    emu("gripper", "gripper", sp, NULL, p[1], sizeof(p[1]));
    emu("odrive", "odrive", sp, NULL, p[2], sizeof(p[2]));
    emu("relay", "vacuum", sp, NULL, p[3], sizeof(p[3]));
    emu("hotplate", "hotplate", sp, NULL, p[4], sizeof(p[4]));
    emu("axis", "axis", sp, NULL, p[5], sizeof(p[5]));
    emu("shutter", "shutter", sp, NULL, p[6], sizeof(p[6]));
    emu("slider", "slider", sp, NULL, p[7], sizeof(p[7]));
    emu("relay", "lights", sp, NULL, p[8], sizeof(p[8]));
    emu("ot2", "ot2", sp, url, p[9], sizeof(p[9]));
    exp = twelve("emu12", speed);
    json_t *dev = json_pack(
        "{s:{s:{s:s}, s:{s:s}, s:{s:s}}, s:{s:[{s:s, s:f}]}, s:{s:{s:s}, s:{s:s}},"
        " s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
        "spincoater", "odrive", "port", p[2], "relay", "port", p[3], "ot2", "url", url, "hotplate",
        "plates", "port", p[4], "setpoint", 100.0, "gripper", "gantry", "port", p[0], "gripper",
        "port", p[1], "characterization", "axis", "port", p[5], "shutter", "port", p[6], "slider",
        "port", p[7], "relay", "port", p[8], "instrument", "plugin", AXL_SIM_PLUGIN);
    json_object_set_new(json_object_get(json_object_get(exp, "lab"), "line"), "devices", dev);
    line_run emu_run;
    run_line(exp, "emu12", &emu_run);
    json_decref(exp);
    emus_stop();
    double emu_h = samples_per_h(&emu_run, speed, n);
    fprintf(stderr,
            "  12 samples at %gx: simulated line %.2f samples/h (%.0f s of line time, %.1f s "
            "wall), emulated devices %.2f samples/h (%.0f s, %.1f s wall)\n",
            speed, sim_h, (sim.last_end - sim.first_start) * speed, sim.wall_s, emu_h,
            (emu_run.last_end - emu_run.first_start) * speed, emu_run.wall_s);
    return emu_h / sim_h;
}
