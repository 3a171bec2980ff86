/*
 * test_line.c - the worker roles on real device drivers: `line.devices` parsing with JSON
 * paths, the instrument plugin ABI (the simulated spectrometer loaded and read; a plugin
 * of another ABI version refused), and whole campaigns on emulated devices - `axle run`
 * with its spawned workers driving `axle emulate` children (nine ptys and the OT-2's
 * WebSocket) at 1000x: every trial completed, the devices' own bytes in their logs, PL
 * spectra from the plugin on disk; and a device fault mid-campaign (the gantry refusing
 * one command) failing exactly one trial with the gantry's words, the others completing.
 */
#include "test/devices/dev_test.h"

#include <jansson.h>
#include <math.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "hw/line/axl_pl.h"
#include "hw/worker/axl_devcfg.h"
#include "hw/line/axl_chain.h"
#include "hw/line/axl_recipe.h"
#include "hw/worker/axl_driver.h"
#include "hw/worker/axl_instr_host.h"
#include "test/common/spawn.h"

#ifndef AXL_SOURCE_DIR
#error "AXL_SOURCE_DIR must name the source tree"
#endif

/* ---- line.devices ------------------------------------------------------------------------- */

static int parse_text(const char *text, axl_line_devices *d, axl_errbuf *eb)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    int rv = axl_devcfg_parse(j, "lab.line.devices", d, eb);
    json_decref(j);
    return rv;
}

static void expect_error(const char *text, const char *msg)
{
    axl_line_devices d;
    axl_errbuf eb = {{0}};
    assert_int_equal(parse_text(text, &d, &eb), AXL_ECONFIG);
    if (strstr(eb.msg, msg) == NULL)
        fail_msg("expected '%s' in '%s'", msg, eb.msg);
}

static void test_config(void **state)
{
    (void)state;
    axl_line_devices d;
    axl_errbuf eb = {{0}};
    assert_int_equal(
        parse_text(
            "{\"gripper\": {\"gantry\": {\"port\": \"usb:1eaf:0004:GANTRY1\"},"
            " \"gripper\": {\"port\": \"/dev/ttyUSB0\"},"
            " \"stations\": {\"storage\": {\"origin\": [250, 200, 20], \"pitch\": [15, 15],"
            " \"rows\": 9, \"columns\": 5}}},"
            " \"hotplate\": {\"plates\": [{\"port\": \"usb:0403:6001:HP1\", \"setpoint\": 100}]}}",
            &d, &eb),
        0);
    assert_true(d.gripper.on);
    assert_true(d.hotplate.on);
    assert_false(d.spincoater.on);
    assert_false(d.characterization.on);
    assert_string_equal(d.gripper.gantry.vid, "1eaf");
    assert_string_equal(d.gripper.gantry.serial, "GANTRY1");
    assert_string_equal(d.gripper.gantry.path, "usb:1eaf:0004:GANTRY1");
    assert_true(d.hotplate.plate[0].setpoint == 100);
    double p[3];
    assert_int_equal(axl_slot_grid_pos(&d.gripper.tray, "B3", p), 0);
    assert_true(p[0] == 280 && p[1] == 185 && p[2] == 20);
    assert_int_equal(axl_slot_grid_pos(&d.gripper.tray, "J1", p), AXL_EINVAL);

    expect_error("{\"gripper\": {\"gantry\": {}}}",
                 "lab.line.devices.gripper.gantry.port: required");
    expect_error(
        "{\"gripper\": {\"gantry\": {\"port\": \"ttyACM0\"}, \"gripper\": {\"port\": \"/x\"}}}",
        "lab.line.devices.gripper.gantry.port: must be an absolute tty path");
    expect_error(
        "{\"gripper\": {\"gantry\": {\"port\": \"usb:1eaf:04\"}, \"gripper\": {\"port\": \"/x\"}}}",
        "gantry.port: must be");
    expect_error("{\"gripper\": {\"gantry\": {\"port\": \"/a\"}, \"gripper\": {\"port\": \"/b\"},"
                 " \"stations\": {\"spincoater\": [600, 7.4, 58.3]}}}",
                 "lab.line.devices.gripper.stations.spincoater: (600, 7.4, 58.3) is outside the "
                 "gantry's frame");
    expect_error("{\"gripper\": {\"gantry\": {\"port\": \"/a\"}, \"gripper\": {\"port\": \"/b\"},"
                 " \"stations\": {\"hotplates\": [{\"rows\": 40}]}}}",
                 "lab.line.devices.gripper.stations.hotplates[0].rows: must be a whole number");
    expect_error("{\"hotplate\": {\"plates\": [{\"port\": \"/a\", \"setpoint\": 500}]}}",
                 "lab.line.devices.hotplate.plates[0].setpoint: must be a number in [30, 200]");
    expect_error("{\"hotplate\": {\"plates\": []}}", "lab.line.devices.hotplate.plates: must be");
    expect_error("{\"spincoater\": {\"odrive\": {\"port\": \"/a\"}, \"relay\": {\"port\": \"/b\"},"
                 " \"ot2\": {\"url\": \"http://x\"}}}",
                 "lab.line.devices.spincoater.ot2.url: must be a ws://");
    expect_error("{\"characterization\": {\"axis\": {\"port\": \"/a\"}}}",
                 "lab.line.devices.characterization.instrument: required");
    expect_error("{\"storage\": {}}", "storage");
    expect_error("{\"hotplate\": {\"plates\": [{\"port\": \"/a\", \"speed\": 1}]}}", "speed");
}

/* `axle worker --devices FILE`: a bad file is refused with its path; a characterization
 * worker whose plugin speaks another ABI does not start, and says why. */
static void test_worker_devices(void **state)
{
    (void)state;
    char dir[] = "/tmp/axl_wdev_XXXXXX", file[128], cmd[1024], out[2048];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/devices.json", dir);
    struct {
        const char *role, *json, *expect;
        int status;
    } cases[] = {
        {"hotplate", "{\"hotplate\": {\"plates\": [{\"port\": \"/dev/ttyX\", \"setpoint\": 900}]}}",
         "devices.hotplate.plates[0].setpoint: must be a number in [30, 200]", 2},
        {"characterization",
         "{\"characterization\": {\"axis\": {\"port\": \"/dev/ttyX\"}, \"instrument\": "
         "{\"plugin\": \"" AXL_BAD_PLUGIN "\"}}}",
         "ABI version 99, this axle speaks version 1", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        fputs(cases[i].json, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd),
                 "%s worker --role %s --listen ipc://%s/w.ipc --devices %s --log-level error 2>&1",
                 AXLE_BIN, cases[i].role, dir, file);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        int st = pclose(p);
        if (strstr(out, cases[i].expect) == NULL)
            fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].expect, out);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), cases[i].status);
    }
    unlink(file);
    rmdir(dir);
}

/* ---- the plugin ABI ------------------------------------------------------------------------ */

static void test_plugin(void **state)
{
    (void)state;
    char dir[] = "/tmp/axl_plugin_XXXXXX";
    assert_non_null(mkdtemp(dir));
    axl_instr_host host = {AXL_INSTR_ABI_VERSION, "", dir, 1000, 7};
    axl_instr *in = NULL;
    axl_errbuf eb = {{0}};

    /* Another ABI version: refused, naming both versions. */
    assert_int_equal(axl_instr_load(AXL_BAD_PLUGIN, &host, &in, &eb), AXL_EPROTO);
    assert_null(in);
    assert_non_null(strstr(eb.msg, "ABI version 99, this axle speaks version 1"));
    /* Not a plugin at all, and no file. */
    assert_int_equal(axl_instr_load("/nonexistent/x.so", &host, &in, &eb), AXL_ENOENT);
    /* A config it does not understand: its open's reason. */
    host.config = "gain=3";
    assert_int_equal(axl_instr_load(AXL_SIM_PLUGIN, &host, &in, &eb), AXL_EIO);
    assert_non_null(strstr(eb.msg, "open failed: config 'gain=3' not understood"));
    host.config = "";

    assert_int_equal(axl_instr_load(AXL_SIM_PLUGIN, &host, &in, &eb), 0);
    assert_string_equal(axl_instr_ops_of(in)->name, "sim-spectrometer");
    axl_instr_spectrum_req req = {0, 1, 0, "exp", "sample3"};
    double ex[3] = {1000, 5000, 20000};
    axl_spectrum sp;
    /* No film under it yet: the plugin's reason. */
    assert_int_equal(axl_instr_spectra(in, &req, ex, 3, &sp, &eb), AXL_EIO);
    assert_non_null(strstr(eb.msg, "no film under the spectrometer"));
    /* The sample's process record, as the spin coater and hotplate roles write it. */
    char path[256];
    snprintf(path, sizeof(path), "%s/exp", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/exp/sim", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/exp/sim/sample3.film", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "96 66 -13.75 1980\n"); /* the film model's optimum */
    fclose(f);
    assert_int_equal(axl_instr_spectra(in, &req, ex, 3, &sp, &eb), 0);
    assert_int_equal(sp.npix, 1024);
    assert_int_equal(sp.ndwell, 3);
    assert_true(sp.dwell_ms[2] == 20000);
    /* Bright: the 20 s column saturates (NaN in the file's convention); the fit of the
     * written spectrum finds the optimum's ~10,000 counts/s. */
    size_t nan20 = 0;
    for (size_t i = 0; i < sp.npix; i++)
        nan20 += isnan(sp.counts[i * 3 + 2]);
    assert_true(nan20 > 0);
    snprintf(path, sizeof(path), "%s/s.csv", dir);
    assert_int_equal(axl_spectrum_write_csv(path, &sp, &eb), 0);
    axl_spectrum_free(&sp);
    axl_pl_opts po;
    axl_pl_opts_default(&po);
    axl_pl_result r;
    assert_int_equal(axl_pl_analyze_file(path, &po, &r, &eb), 0);
    assert_true(r.intensity > 8000 && r.intensity < 12000);
    axl_instr_unload(in);
    unlink(path);
    snprintf(path, sizeof(path), "%s/exp/sim/sample3.film", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/exp/sim", dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/exp", dir);
    rmdir(path);
    rmdir(dir);
}

/* ---- campaigns on emulated devices ---------------------------------------------------------- */

enum {
    E_GANTRY,
    E_GRIPPER,
    E_ODRIVE,
    E_VACUUM,
    E_HOTPLATE,
    E_AXIS,
    E_SHUTTER,
    E_SLIDER,
    E_LIGHTS,
    E_OT2,
    E_N
};

typedef struct line {
    emu_child e[E_N];
    char dir[256], exp[300], store[300], out[300];
} line;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* Emulators for every device (gantry_fault: extra --fault for the gantry, hotplate_fault
 * for the hotplate - which then starts at 100 C -, or NULL), and the seed campaign with
 * lab.line.devices pointing at them, `trials` trials at 1000x. */
static void line_up_hot(line *l, const char *gantry_fault, const char *hotplate_fault, int trials)
{
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d", free_port());
    if (gantry_fault != NULL)
        emu_start(&l->e[E_GANTRY], "gantry", "1000", "--fault", gantry_fault, NULL);
    else
        emu_start(&l->e[E_GANTRY], "gantry", "1000", NULL);
    emu_start(&l->e[E_GRIPPER], "gripper", "1000", NULL);
    emu_start(&l->e[E_ODRIVE], "odrive", "1000", NULL);
    emu_start(&l->e[E_VACUUM], "relay", "1000", NULL);
    if (hotplate_fault != NULL)
        emu_start(&l->e[E_HOTPLATE], "hotplate", "1000", "--opt", "100", "--fault", hotplate_fault,
                  NULL);
    else
        emu_start(&l->e[E_HOTPLATE], "hotplate", "1000", NULL);
    emu_start(&l->e[E_AXIS], "axis", "1000", NULL);
    emu_start(&l->e[E_SHUTTER], "shutter", "1000", NULL);
    emu_start(&l->e[E_SLIDER], "slider", "1000", NULL);
    emu_start(&l->e[E_LIGHTS], "relay", "1000", NULL);
    emu_start(&l->e[E_OT2], "ot2", url, NULL);

    snprintf(l->dir, sizeof(l->dir), "/tmp/axl_line_XXXXXX");
    assert_non_null(mkdtemp(l->dir));
    snprintf(l->exp, sizeof(l->exp), "%s/experiment.json", l->dir);
    snprintf(l->store, sizeof(l->store), "%s/store", l->dir);
    snprintf(l->out, sizeof(l->out), "%s/run.out", l->dir);
    json_error_t je;
    json_t *e = json_load_file(AXL_SOURCE_DIR "/examples/antisolvent_pl.json", 0, &je);
    assert_non_null(e);
    json_object_set_new(json_object_get(e, "scheduler"), "total_trials", json_integer(trials));
    json_t *lab = json_object_get(e, "lab");
    json_object_set_new(json_object_get(lab, "simulate"), "speed", json_real(1000));
    json_t *dev = json_pack(
        "{s:{s:{s:s}, s:{s:s, s:i}, s:{s:s}}, s:{s:[{s:s, s:f}]}, s:{s:{s:s}, s:{s:s}},"
        " s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
        "spincoater", "odrive", "port", l->e[E_ODRIVE].path, "relay", "port", l->e[E_VACUUM].path,
        "vacuum", 15, "ot2", "url", url, "hotplate", "plates", "port", l->e[E_HOTPLATE].path,
        "setpoint", 100.0, "gripper", "gantry", "port", l->e[E_GANTRY].path, "gripper", "port",
        l->e[E_GRIPPER].path, "characterization", "axis", "port", l->e[E_AXIS].path, "shutter",
        "port", l->e[E_SHUTTER].path, "slider", "port", l->e[E_SLIDER].path, "relay", "port",
        l->e[E_LIGHTS].path, "instrument", "plugin", AXL_SIM_PLUGIN);
    assert_non_null(dev);
    json_object_set_new(json_object_get(lab, "line"), "devices", dev);
    assert_int_equal(json_dump_file(e, l->exp, JSON_INDENT(1)), 0);
    json_decref(e);
}

static void line_up(line *l, const char *gantry_fault, int trials)
{
    line_up_hot(l, gantry_fault, NULL, trials);
}

/* `axle run` to its end (guard: 90 s); returns its exit status, its stdout in l->out. */
static int line_run(line *l)
{
    const char *argv[] = {AXLE_BIN,        "run",         l->exp, "--store", l->store,
                          "--no-progress", "--log-level", "warn", NULL};
    pid_t pid = axl_test_spawn(AXLE_BIN, argv, l->out, AXL_TEST_INHERIT, false);
    assert_true(pid >= 0);
    for (int i = 0; i < 900; i++) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL); /* a guard on a child process, not a sync */
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("axle run did not end within 90 s");
    return -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void line_down(line *l)
{
    for (int i = 0; i < E_N; i++)
        emu_stop(&l->e[i]);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", l->dir);
    assert_int_equal(system(cmd), 0);
}

static int log_has(const emu_child *c, const char *needle)
{
    char *log = emu_log(c);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(log);
    return n;
}

static void test_campaign(void **state)
{
    (void)state;
    line l;
    line_up(&l, NULL, 4);
    assert_int_equal(line_run(&l), 0);
    char *out = slurp(l.out);
    if (strstr(out, "4 trials, 4 completed, 0 failed") == NULL)
        fail_msg("axle run said: %s", out);
    free(out);
    /* The devices were driven, in their own bytes. */
    assert_int_equal(emu_log_count(&l.e[E_GANTRY], "G28 X Y Z\\n"), 1); /* homed once */
    assert_true(emu_log_count(&l.e[E_GANTRY], "M400\\n") >= 4 * 9 * 3);
    assert_true(log_has(&l.e[E_GANTRY], "G0 X1.5 Y7.4 Z58.3") >= 4);     /* the chuck */
    assert_true(log_has(&l.e[E_GANTRY], "G0 X564.8 Y243.1 Z63.6") >= 8); /* transfer point */
    assert_true(emu_log_count(&l.e[E_GRIPPER], "S523 50\\n") >= 4 * 5);  /* grips */
    assert_true(emu_log_count(&l.e[E_GRIPPER], "S830 7\\n") >= 4 * 5);   /* slow releases */
    assert_int_equal(emu_log_count(&l.e[E_ODRIVE], "w axis0.requested_state 3\\n"), 1);
    assert_true(emu_log_count(&l.e[E_ODRIVE], "w axis0.controller.input_vel 50\\n") >= 4);
    assert_int_equal(emu_log_count(&l.e[E_VACUUM], "relay on 8\\n\\r"), 4);
    assert_int_equal(emu_log_count(&l.e[E_VACUUM], "relay off 8\\n\\r"), 4);
    assert_int_equal(emu_log_count(&l.e[E_HOTPLATE], ":0106101C0004C9\\r\\n"), 1);
    assert_true(emu_log_count(&l.e[E_HOTPLATE], ":0106100103E8FD\\r\\n") >= 1);
    assert_true(emu_log_count(&l.e[E_HOTPLATE], ":010310000001EB\\r\\n") >= 8);
    assert_int_equal(emu_log_count(&l.e[E_AXIS], "G28 X\\n"), 1);
    assert_true(emu_log_count(&l.e[E_AXIS], "G0 X287\\n") >= 4); /* PL_635nm, Transmission */
    assert_int_equal(emu_log_count(&l.e[E_SLIDER], "2fw"), 4);
    assert_int_equal(emu_log_count(&l.e[E_LIGHTS], "relay on 4\\n\\r"), 4); /* red laser */
    /* The spectra came from the plugin, in PASCAL's layout. */
    char path[512];
    for (int t = 0; t < 4; t++) {
        snprintf(path, sizeof(path), "%s/data/antisolvent_pl/PL/sample%d_pl.csv", l.store, t);
        assert_int_equal(access(path, R_OK), 0);
    }
    line_down(&l);
}

static void test_campaign_gantry_fault(void **state)
{
    (void)state;
    line l;
    /* The 40th command the gantry gets (a few moves in) is refused: `Error:...` */
    line_up(&l, "busy@40", 3);
    assert_int_equal(line_run(&l), 0);
    char *out = slurp(l.out);
    if (strstr(out, "3 trials, 2 completed, 1 failed") == NULL)
        fail_msg("axle run said: %s", out);
    free(out);
    char cmd[600], buf[600] = "";
    snprintf(cmd, sizeof(cmd),
             "%s replay --store %s --json | grep -c 'Marlin refused.*Error:Printer halted'",
             AXLE_BIN, l.store);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(buf, sizeof(buf), p));
    pclose(p);
    assert_true(atoi(buf) >= 1);
    line_down(&l);
}

/* The hotplate unplugged mid-campaign (its pty closed on the 6th command, back 30 ms
 * later): the anneal whose exchange was in flight fails with the device's disconnection,
 * never a hang; a later exchange reopens the plugged-back device and a later anneal
 * completes. */
static void test_campaign_hotplate_unplug(void **state)
{
    (void)state;
    line l;
    line_up_hot(&l, NULL, "disconnect@6:30", 3);
    assert_int_equal(line_run(&l), 0);
    char cmd[600], buf[4096];
    snprintf(cmd, sizeof(cmd), "%s replay --store %s --json", AXLE_BIN, l.store);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    double failed_at = -1, last_anneal_done = -1;
    int n_failed = 0;
    while (fgets(buf, sizeof(buf), p) != NULL) {
        json_t *e = json_loads(buf, 0, NULL);
        if (e == NULL)
            continue;
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *b = json_object_get(e, "body");
        const char *task = json_string_value(json_object_get(b, "task"));
        double t = json_number_value(json_object_get(b, "time"));
        if (type != NULL && strcmp(type, "task.failed") == 0) {
            const char *why = json_string_value(json_object_get(b, "reason"));
            assert_non_null(why);
            if (strstr(why, "hotplate 1 disconnected") == NULL)
                fail_msg("unexpected failure: %s", why);
            failed_at = failed_at < 0 ? t : failed_at;
            n_failed++;
        }
        if (type != NULL && strcmp(type, "task.finished") == 0 && task != NULL &&
            strcmp(task, "anneal") == 0)
            last_anneal_done = t;
        json_decref(e);
    }
    pclose(p);
    assert_true(n_failed >= 1 && n_failed <= 2);
    assert_true(failed_at > 0);
    assert_true(last_anneal_done > failed_at); /* plugged back: a later anneal ran */
    line_down(&l);
}

/* ---- the ops table directly: cancel and close mid-task ----------------------------------------
 */

typedef struct drv_obs {
    uv_loop_t *loop;
    int progress, finished, failed, closed;
    char why[256];
} drv_obs;

static void o_progress(axl_driver *d, axl_drv_task *t, double f, const char *note)
{
    (void)t;
    (void)f;
    (void)note;
    drv_obs *o = d->data;
    o->progress++;
    uv_stop(o->loop);
}

static void o_finished(axl_driver *d, axl_drv_task *t, const void *r, size_t len)
{
    (void)t;
    (void)r;
    (void)len;
    drv_obs *o = d->data;
    o->finished++;
    uv_stop(o->loop);
}

static void o_failed(axl_driver *d, axl_drv_task *t, const char *why, bool retryable)
{
    (void)t;
    (void)retryable;
    drv_obs *o = d->data;
    o->failed++;
    snprintf(o->why, sizeof(o->why), "%s", why);
    uv_stop(o->loop);
}

static void o_closed(axl_driver *d)
{
    drv_obs *o = d->data;
    o->closed++;
}

static void o_guard(uv_timer_t *h)
{
    (void)h;
    fail_msg("the driver never reported");
}

/* Runs the loop until *counter reaches n (guard 15 s). */
static void run_until(uv_loop_t *loop, const int *counter, int n)
{
    uv_timer_t g;
    uv_timer_init(loop, &g);
    uv_timer_start(&g, o_guard, 15000, 0);
    while (*counter < n)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&g);
    uv_close((uv_handle_t *)&g, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* g is on this stack: its close must finish here */
}

/* Waits (with the loop running) until the emulator has logged line n times (guard 10 s):
 * the effect of a background operation, seen from the other process. */
static void run_until_logged(uv_loop_t *loop, const emu_child *c, const char *line, int n)
{
    for (int i = 0; i < 1000 && emu_log_count(c, line) < n; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(emu_log_count(c, line), n);
}

static void spincoat_task(axl_drv_task *t, const char *id)
{
    axl_recipe r;
    axl_chain c;
    axl_errbuf eb = {{0}};
    axl_recipe_seed(100, 66, -13.75, 1980, &r);
    assert_int_equal(axl_chain_from_recipe(&r, &c, &eb), 0);
    uint32_t k = 0;
    while (k < c.n && c.task[k].kind != AXL_TASK_SPINCOAT)
        k++;
    assert_true(k < c.n);
    memset(t, 0, sizeof(*t));
    t->id = id;
    t->experiment = "e";
    t->index = k;
    axl_task_spec_from_chain(&c, k, &r, "sample0", &t->spec);
}

/* A spin coat cancelled while the chuck spins: no callback after cancel, the motor
 * stopped and the vacuum let go in the background; another closed mid-task: no callback,
 * close_cb once, nothing leaked. */
static void test_driver_cancel_close(void **state)
{
    (void)state;
    emu_child od, vac, ot2;
    char url[64], text[1200];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d", free_port());
    emu_start(&od, "odrive", "1000", NULL);
    emu_start(&vac, "relay", "1000", NULL);
    emu_start(&ot2, "ot2", url, NULL);
    snprintf(text, sizeof(text),
             "{\"spincoater\": {\"odrive\": {\"port\": \"%s\"}, \"relay\": {\"port\": \"%s\"},"
             " \"ot2\": {\"url\": \"%s\"}}}",
             od.path, vac.path, url);
    axl_line_devices devs;
    axl_errbuf eb = {{0}};
    assert_int_equal(parse_text(text, &devs, &eb), 0);
    char dir[] = "/tmp/axl_drv_XXXXXX";
    assert_non_null(mkdtemp(dir));

    uv_loop_t loop;
    uv_loop_init(&loop);
    drv_obs o = {.loop = &loop};
    axl_driver d = {.ops = &axl_driver_dev_ops,
                    .data = &o,
                    .progress = o_progress,
                    .finished = o_finished,
                    .failed = o_failed};
    axl_driver_opts opts = {AXL_ROLE_SPINCOATER, 1000, 0, 0, dir, &devs};
    assert_int_equal(d.ops->init(&d, &loop, &opts, &eb), 0);

    axl_drv_task t1, t2;
    spincoat_task(&t1, "e/0/1");
    assert_int_equal(d.ops->start_task(&d, &t1, &eb), 0);
    run_until(&loop, &o.progress, 1); /* "spinning" */
    assert_int_equal(o.finished + o.failed, 0);
    assert_int_equal(d.ops->cancel(&d, &t1), 0);
    run_until_logged(&loop, &vac, "relay off 8\\n\\r", 1);
    run_until_logged(&loop, &od, "w axis0.controller.input_vel 0\\n", 1);
    assert_int_equal(o.finished + o.failed, 0); /* never after cancel */

    spincoat_task(&t2, "e/0/2");
    assert_int_equal(d.ops->start_task(&d, &t2, &eb), 0);
    run_until(&loop, &o.progress, 2);
    d.ops->close(&d, o_closed);
    run_until(&loop, &o.closed, 1);
    loop_drain(&loop);
    assert_int_equal(o.finished + o.failed, 0);
    assert_int_equal(o.closed, 1);
    emu_stop(&od);
    emu_stop(&vac);
    emu_stop(&ot2);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_plugin),
        cmocka_unit_test(test_worker_devices),
        cmocka_unit_test_teardown(test_campaign, emu_teardown),
        cmocka_unit_test_teardown(test_campaign_gantry_fault, emu_teardown),
        cmocka_unit_test_teardown(test_campaign_hotplate_unplug, emu_teardown),
        cmocka_unit_test_teardown(test_driver_cancel_close, emu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
