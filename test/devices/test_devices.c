/*
 * test_devices.c - each driver of hw/devices against its emulator over a real pty: the
 * happy path byte for byte (HARDWARE.md's frames), each fault to its documented outcome
 * (a retry where the protocol allows one, else a failure with the device's words) and
 * never a hang, and a device unplugged mid-operation and plugged back.
 */
#include "dev_test.h"

#include <math.h>

#include "hw/devices/axl_ot2.h"

#define FAST "1000"

/* ---- gantry / axis ---------------------------------------------------------------------- */

static void gantry_open(axl_marlin *m, uv_loop_t *loop, const emu_child *c, double speed)
{
    axl_serial_opts so;
    axl_marlin_serial(&so, c->path, "gantry");
    axl_marlin_cfg cfg;
    axl_marlin_cfg_gantry(&cfg);
    cfg.speed = speed;
    cfg.reply_ms = 1000;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_marlin_init(m, loop, &so, &cfg, &eb), 0);
}

static void test_gantry_happy_path(void **state)
{
    (void)state;
    emu_child c;
    emu_start(&c, "gantry", FAST, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_marlin m;
    gantry_open(&m, &loop, &c, 1000);
    op_result r;
    OP(&loop, r, axl_marlin_setup(&m, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_marlin_home(&m, op_cb, &r));
    if (r.status != 0)
        fprintf(stderr, "home: %s\n", r.why);
    assert_int_equal(r.status, 0);
    assert_true(m.pos[0] == 567 && m.pos[1] == 282 && m.pos[2] == 166);
    const double t[3] = {214.4, 73.3, 77};
    OP(&loop, r, axl_marlin_move(&m, t, true, op_cb, &r));
    assert_int_equal(r.status, 0);
    assert_true(fabs(m.pos[0] - 214.4) < 1e-9 && fabs(m.pos[2] - 77) < 1e-9);
    /* no M400: the echo comes as soon as the move is planned (PASCAL's legs before the last) */
    const double t2[3] = {214.4, 73.3, 60};
    OP(&loop, r, axl_marlin_move(&m, t2, false, op_cb, &r));
    assert_int_equal(r.status, 0);
    axl_marlin_close(&m);
    loop_drain(&loop);
    char *log = emu_log(&c);
    assert_string_equal(log, "M114\\n\n"
                             "M501\\n\n"
                             "G90\\n\n"
                             "M906 X800 Y800 Z800 E1\\n\n"
                             "M84 S0\\n\n"
                             "M203 X20000 Y20000 Z20.00\\n\n"
                             "G0 F20000.0\\n\n"
                             "G28 X Y Z\\n\n"
                             "M114\\n\n"
                             "G0 X214.4 Y73.3 Z77 F20000.0\\n\n"
                             "M400\\n\n"
                             "M118 E1 FinishedMoving\\n\n"
                             "M114\\n\n"
                             "G0 X214.4 Y73.3 Z60 F20000.0\\n\n"
                             "M118 E1 FinishedMoving\\n\n"
                             "M114\\n\n");
    free(log);
    emu_stop(&c);
}

static void test_gantry_frame(void **state)
{
    (void)state;
    emu_child c;
    emu_start(&c, "gantry", FAST, "--opt", "300,282,166", NULL); /* a smaller machine */
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_marlin m;
    gantry_open(&m, &loop, &c, 1000);
    op_result r;
    const double outside[3] = {600, 10, 10};
    OP(&loop, r, axl_marlin_move(&m, outside, true, op_cb, &r)); /* the driver's frame */
    assert_int_equal(r.status, AXL_ERANGE);
    assert_non_null(strstr(r.why, "X600 is outside the frame 0-567"));
    const double beyond[3] = {400, 10, 10}; /* inside ours, outside the emulator's */
    OP(&loop, r, axl_marlin_move(&m, beyond, true, op_cb, &r));
    assert_int_equal(r.status, AXL_EPROTO);
    assert_non_null(strstr(r.why, "Error:Move out of frame: X400.00"));
    axl_marlin_close(&m);
    loop_drain(&loop);
    assert_int_equal(emu_log_count(&c, "G0 X600 Y10 Z10 F20000.0\\n"), 0); /* never sent */
    emu_stop(&c);
}

static void test_gantry_faults(void **state)
{
    (void)state;
    emu_child c;
    /* 1 G0 ok, 2 M400, 3 M118 swallowed | 4 G0, 5 M400, 6 M118, 7 M114 garbled, 8 M114
     * | 9 G0 busy | 10 G0, 11 M118 truncated */
    emu_start(&c, "gantry", FAST, "--fault", "noreply@3", "--fault", "garble@7", "--fault",
              "busy@9", "--fault", "truncate@11", NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_marlin m;
    gantry_open(&m, &loop, &c, 1000);
    op_result r;
    const double a[3] = {300, 100, 50}, b[3] = {310, 100, 50};
    OP(&loop, r, axl_marlin_move(&m, a, true, op_cb, &r));
    assert_int_equal(r.status, AXL_ETIMEDOUT);
    assert_non_null(strstr(r.why, "no reply to `M118 E1 FinishedMoving`"));
    OP(&loop, r, axl_marlin_move(&m, a, true, op_cb, &r)); /* garbled M114: asked again */
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_marlin_move(&m, b, true, op_cb, &r));
    assert_int_equal(r.status, AXL_EPROTO);
    assert_non_null(strstr(r.why, "Printer halted"));
    OP(&loop, r, axl_marlin_move(&m, b, false, op_cb, &r));
    assert_int_equal(r.status, AXL_ETIMEDOUT); /* cut line, no ok: not retried */
    axl_marlin_close(&m);
    loop_drain(&loop);
    assert_int_equal(emu_log_count(&c, "M114\\n"), 2);
    emu_stop(&c);
}

static void test_gantry_unplug(void **state)
{
    (void)state;
    emu_child c;
    emu_start(&c, "gantry", FAST, "--fault", "disconnect@2:100", NULL); /* at the M400 */
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_marlin m;
    gantry_open(&m, &loop, &c, 1000);
    op_result r;
    const double a[3] = {300, 100, 50};
    OP(&loop, r, axl_marlin_move(&m, a, true, op_cb, &r));
    assert_int_equal(r.status, AXL_EIO);
    assert_non_null(strstr(r.why, "disconnected"));
    char line[400];
    assert_true(emu_line(&c, line, sizeof(line), 10000)); /* plugged back in */
    assert_true(strncmp(line, "plugged ", 8) == 0);
    OP(&loop, r, axl_marlin_move(&m, a, true, op_cb, &r)); /* reopened by path */
    assert_int_equal(r.status, 0);
    axl_marlin_close(&m);
    loop_drain(&loop);
    emu_stop(&c);
}

static void test_axis(void **state)
{
    (void)state;
    emu_child c;
    emu_start(&c, "axis", FAST, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_serial_opts so;
    axl_marlin_serial(&so, c.path, "axis");
    axl_marlin_cfg cfg;
    axl_marlin_cfg_axis(&cfg);
    cfg.speed = 1000;
    cfg.reply_ms = 1000;
    axl_marlin m;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_marlin_init(&m, &loop, &so, &cfg, &eb), 0);
    op_result r;
    OP(&loop, r, axl_marlin_setup(&m, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_marlin_home(&m, op_cb, &r));
    assert_int_equal(r.status, 0);
    const double pl[3] = {289.5, 0, 0};
    OP(&loop, r, axl_marlin_move(&m, pl, true, op_cb, &r));
    assert_int_equal(r.status, 0);
    assert_true(fabs(m.pos[0] - 289.5) < 1e-9);
    axl_marlin_close(&m);
    loop_drain(&loop);
    char *log = emu_log(&c);
    assert_string_equal(log, "M114\\n\nM501\\n\nG90\\n\nG28 X\\n\nM114\\n\nG0 X289.5\\n\nM400\\n\n"
                             "M118 E1 FinishedMoving\\n\nM114\\n\n");
    free(log);
    emu_stop(&c);
}

/* ---- gripper ------------------------------------------------------------------------------ */

static void test_gripper(void **state)
{
    (void)state;
    emu_child c;
    /* 1 S830 50 swallowed then re-sent (2), 3 l, 4 S523 50, 5 l, 6 S0 50 busy */
    emu_start(&c, "gripper", FAST, "--fault", "noreply@1", "--fault", "busy@6", NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_gripper g;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_gripper_init(&g, &loop, c.path, 1000, &eb), 0);
    assert_int_equal(axl_gripper_pwm(12.7), 830);
    assert_int_equal(axl_gripper_pwm(8), 523);
    op_result r;
    OP(&loop, r, axl_gripper_set(&g, axl_gripper_pwm(12.7), AXL_GRIPPER_RATE_FAST, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_gripper_read_load(&g, op_cb, &r));
    assert_int_equal(r.status, 0);
    assert_true(g.load > AXL_GRIPPER_LOADED); /* open: springs loaded, nothing gripped */
    OP(&loop, r, axl_gripper_set(&g, axl_gripper_pwm(8), AXL_GRIPPER_RATE_FAST, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_gripper_read_load(&g, op_cb, &r));
    assert_true(r.status == 0 && g.load < AXL_GRIPPER_LOADED); /* a film between the jaws */
    OP(&loop, r, axl_gripper_set(&g, 0, AXL_GRIPPER_RATE_FAST, op_cb, &r));
    assert_int_equal(r.status, AXL_EPROTO);
    assert_non_null(strstr(r.why, "gripper answered `busy`"));
    axl_gripper_close(&g);
    loop_drain(&loop);
    char *log = emu_log(&c);
    assert_string_equal(log, "S830 50\\n\nS830 50\\n\nl\\n\nS523 50\\n\nl\\n\nS0 50\\n\n");
    free(log);
    emu_stop(&c);
}

/* ---- ODrive ------------------------------------------------------------------------------- */

static void test_odrive(void **state)
{
    (void)state;
    emu_child c;
    emu_start(&c, "odrive", FAST, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_odrive o;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_odrive_init(&o, &loop, c.path, 1000, &eb), 0);
    op_result r;
    OP(&loop, r, axl_odrive_calibrate(&o, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_odrive_lock(&o, op_cb, &r));
    assert_int_equal(r.status, 0);
    assert_true(fabs(o.last - 0.5) <= 0.05);
    OP(&loop, r, axl_odrive_set_rpm(&o, 2000, 1000, op_cb, &r));
    assert_int_equal(r.status, 0);
    assert_int_equal((int)o.last, 33); /* int(2000 / 60) */
    OP(&loop, r, axl_odrive_set_rpm(&o, 100, 1000, op_cb, &r));
    assert_int_equal(r.status, AXL_ERANGE);
    OP(&loop, r, axl_odrive_stop(&o, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_odrive_idle(&o, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_odrive_read(&o, "axis0.no_such_thing", op_cb, &r));
    assert_int_equal(r.status, AXL_EPROTO);
    assert_non_null(strstr(r.why, "invalid property"));
    axl_odrive_close(&o);
    loop_drain(&loop);
    assert_int_equal(emu_log_count(&c, "w axis0.requested_state 3\\n"), 1);
    assert_int_equal(emu_log_count(&c, "w axis0.controller.config.vel_ramp_rate 16\\n"), 2);
    assert_int_equal(emu_log_count(&c, "w axis0.controller.input_vel 33\\n"), 1);
    assert_int_equal(emu_log_count(&c, "w axis0.controller.input_pos 0.5\\n"), 1);
    assert_true(emu_log_count(&c, "r axis0.encoder.vel_estimate\\n") >= 1);
    emu_stop(&c);
}

static void test_odrive_garbled(void **state)
{
    (void)state;
    emu_child c;
    emu_start(&c, "odrive", FAST, "--fault", "garble@2", "--fault", "busy@4", NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_odrive o;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_odrive_init(&o, &loop, c.path, 1000, &eb), 0);
    op_result r;
    OP(&loop, r, axl_odrive_idle(&o, op_cb, &r)); /* 1 w, 2 r garbled, 3 r again */
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_odrive_read(&o, "axis0.current_state", op_cb, &r)); /* 4: busy */
    assert_int_equal(r.status, AXL_EPROTO);
    axl_odrive_close(&o);
    loop_drain(&loop);
    assert_int_equal(emu_log_count(&c, "r axis0.current_state\\n"), 3);
    emu_stop(&c);
}

/* ---- relay box ---------------------------------------------------------------------------- */

static void test_relay(void **state)
{
    (void)state;
    emu_child c;
    emu_start(&c, "relay", FAST, "--fault", "noreply@4", NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_relay rl;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_relay_init(&rl, &loop, c.path, &eb), 0);
    rl.speed = 1000;
    assert_int_equal(axl_relay_channel(AXL_RELAY_VACUUM), '8');
    assert_int_equal(axl_relay_channel(4), 'C');
    assert_int_equal(axl_relay_channel(8), '0');
    op_result r;
    OP(&loop, r, axl_relay_set(&rl, AXL_RELAY_VACUUM, true, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_relay_set(&rl, AXL_RELAY_VACUUM, false, op_cb, &r)); /* read-back lost once */
    assert_int_equal(r.status, 0);
    axl_relay_close(&rl);
    loop_drain(&loop);
    char *log = emu_log(&c);
    assert_string_equal(log, "relay on 8\\n\\r\nrelay read 8\\r\nrelay off 8\\n\\r\n"
                             "relay read 8\\r\nrelay read 8\\r\n");
    free(log);
    emu_stop(&c);
}

/* ---- hotplate ----------------------------------------------------------------------------- */

static void test_modbus_frames(void **state)
{
    (void)state;
    char f[32];
    axl_modbus_frame(f, sizeof(f), 1, 3, 0x1000, 1);
    assert_string_equal(f, ":010310000001EB\r\n");
    axl_modbus_frame(f, sizeof(f), 1, 3, 0x1001, 1);
    assert_string_equal(f, ":010310010001EA\r\n");
    axl_modbus_frame(f, sizeof(f), 1, 6, 0x1001, 1000);
    assert_string_equal(f, ":0106100103E8FD\r\n");
    axl_modbus_frame(f, sizeof(f), 1, 6, 0x101C, 4);
    assert_string_equal(f, ":0106101C0004C9\r\n");
    axl_modbus_frame(f, sizeof(f), 1, 5, 0x0813, 0xFF00);
    assert_string_equal(f, ":01050813FF00E0\r\n");
    /* 23.2 deg C: the byte sum is 0x100; PASCAL writes "100", the standard LRC is 00 */
    axl_modbus_frame(f, sizeof(f), 1, 6, 0x1001, 232);
    assert_string_equal(f, ":0106100100E800\r\n");
    unsigned char b[32];
    char why[128];
    assert_int_equal(axl_modbus_parse(":010302041A DC", 14, b, sizeof(b), why, sizeof(why)),
                     AXL_EPROTO);
    assert_int_equal(axl_modbus_parse(":010302041ADC", 13, b, sizeof(b), why, sizeof(why)), 5);
    assert_int_equal(axl_modbus_parse(":010302041ADD", 13, b, sizeof(b), why, sizeof(why)),
                     AXL_ECORRUPT);
    assert_int_equal(axl_modbus_parse("#:010302041ADC", 14, b, sizeof(b), why, sizeof(why)), 5);
}

static void test_hotplate(void **state)
{
    (void)state;
    emu_child c;
    /* 1 temp, 2 pid auto, 3 setpoint 100, 4 setpoint read, 5 setpoint 23.2, 6 badsum -> 7,
     * 8 busy -> 9 busy -> 10 busy (3 tries), 11 swallowed -> 12 */
    emu_start(&c, "hotplate", FAST, "--fault", "badsum@6", "--fault", "busy@8", "--fault", "busy@9",
              "--fault", "busy@10", "--fault", "noreply@11", NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_serial_opts so;
    axl_hotplate_serial(&so, c.path);
    assert_true(so.baud == 9600 && so.data_bits == 7 && so.parity == 'E' && so.stop_bits == 1);
    axl_hotplate h;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_hotplate_init(&h, &loop, &so, &eb), 0);
    h.speed = 1000;
    op_result r;
    OP(&loop, r, axl_hotplate_read_temp(&h, op_cb, &r));
    assert_int_equal(r.status, 0);
    assert_true(fabs(h.temperature - 23.0) < 1e-9);
    OP(&loop, r, axl_hotplate_pid_auto(&h, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_hotplate_write_setpoint(&h, 100.0, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_hotplate_read_setpoint(&h, op_cb, &r));
    assert_true(r.status == 0 && fabs(h.setpoint - 100) < 1e-9);
    OP(&loop, r, axl_hotplate_write_setpoint(&h, 23.2, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_hotplate_read_temp(&h, op_cb, &r)); /* bad LRC, then good */
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_hotplate_read_temp(&h, op_cb, &r)); /* busy three times */
    assert_int_equal(r.status, AXL_EPROTO);
    assert_non_null(strstr(r.why, "exception 6 (slave device busy)"));
    OP(&loop, r, axl_hotplate_read_temp(&h, op_cb, &r)); /* lost once, then answered */
    assert_int_equal(r.status, 0);
    axl_hotplate_close(&h);
    loop_drain(&loop);
    assert_int_equal(emu_log_count(&c, ":010310000001EB\\r\\n"), 8);
    assert_int_equal(emu_log_count(&c, ":0106101C0004C9\\r\\n"), 1);
    assert_int_equal(emu_log_count(&c, ":0106100103E8FD\\r\\n"), 1);
    assert_int_equal(emu_log_count(&c, ":010310010001EA\\r\\n"), 1);
    assert_int_equal(emu_log_count(&c, ":0106100100E800\\r\\n"), 1);
    emu_stop(&c);
}

static void test_hotplate_unplug(void **state)
{
    (void)state;
    emu_child c;
    emu_start(&c, "hotplate", FAST, "--fault", "disconnect@1:50", NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_serial_opts so;
    axl_hotplate_serial(&so, c.path);
    axl_hotplate h;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_hotplate_init(&h, &loop, &so, &eb), 0);
    h.speed = 1000;
    op_result r;
    OP(&loop, r, axl_hotplate_read_temp(&h, op_cb, &r));
    assert_int_equal(r.status, AXL_EIO);
    assert_non_null(strstr(r.why, "hotplate disconnected"));
    char line[400];
    assert_true(emu_line(&c, line, sizeof(line), 10000));
    OP(&loop, r, axl_hotplate_read_temp(&h, op_cb, &r));
    assert_int_equal(r.status, 0);
    axl_hotplate_close(&h);
    loop_drain(&loop);
    emu_stop(&c);
}

/* ---- shutter and sliders ------------------------------------------------------------------ */

static void test_shutter_slider(void **state)
{
    (void)state;
    emu_child cs, cl;
    emu_start(&cs, "shutter", FAST, "--fault", "busy@3", NULL);
    emu_start(&cl, "slider", FAST, "--fault", "busy@3", "--fault", "noreply@4", NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_shutter sh;
    axl_slider sl;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_shutter_init(&sh, &loop, cs.path, &eb), 0);
    sh.speed = 1000;
    assert_int_equal(axl_slider_init(&sl, &loop, cl.path, 1000, &eb), 0);
    op_result r;
    OP(&loop, r, axl_shutter_set(&sh, true, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_shutter_set(&sh, false, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_shutter_set(&sh, true, op_cb, &r));
    assert_int_equal(r.status, AXL_EPROTO);
    assert_non_null(strstr(r.why, "shutter answered `err`"));
    OP(&loop, r, axl_slider_move(&sl, 2, true, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_slider_move(&sl, 0, false, op_cb, &r));
    assert_int_equal(r.status, 0);
    OP(&loop, r, axl_slider_move(&sl, 2, false, op_cb, &r));
    assert_int_equal(r.status, AXL_EPROTO);
    assert_non_null(strstr(r.why, "2GS09"));
    assert_non_null(strstr(r.why, "busy"));
    OP(&loop, r, axl_slider_move(&sl, 2, false, op_cb, &r)); /* a jog is never re-sent */
    assert_int_equal(r.status, AXL_ETIMEDOUT);
    axl_shutter_close(&sh);
    axl_slider_close(&sl);
    loop_drain(&loop);
    char *log = emu_log(&cs);
    assert_string_equal(log, "u\nd\nu\n");
    free(log);
    log = emu_log(&cl);
    assert_string_equal(log, "2fw\n0bw\n2bw\n2bw\n");
    free(log);
    emu_stop(&cs);
    emu_stop(&cl);
}

/* ---- OT-2 liquid handler (WebSocket) ------------------------------------------------------ */

static void test_ot2(void **state)
{
    (void)state;
    emu_child c;
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d", 20000 + (int)(getpid() % 20000));
    /* messages: 1-3 run, 4 busy, 5 swallowed, 6 the connection dropped, 7 runs */
    emu_start(&c, "ot2", url, "--fault", "busy@4", "--fault", "noreply@5", "--fault",
              "disconnect@6", NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_ot2 *o;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_ot2_new(&o, &loop, url, 1000, &eb), 0);
    op_result r1, r2, r3;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    memset(&r3, 0, sizeof(r3));
    r1.loop = r2.loop = r3.loop = &loop;
    json_t *asp = json_pack("{s:s,s:s,s:f,s:s,s:b,s:b,s:b,s:[i,i],s:b}", "tray", "Tray1", "well",
                            "A1", "volume", 20.0, "pipette", "perovskite", "slow_retract", 1,
                            "air_gap", 1, "touch_tip", 1, "pre_mix", 3, 50, "reuse_tip", 0);
    json_t *stage = json_pack("{s:s,s:b}", "pipette", "perovskite", "slow_travel", 0);
    json_t *disp = json_pack("{s:s,s:f,s:f,s:b}", "pipette", "perovskite", "rate", 80.0, "height",
                             2.0, "slow_travel", 0);
    /* three at once: FIFO on the OT-2, each acknowledged then completed */
    assert_int_equal(axl_ot2_submit(o, "aspirate_for_spincoating", asp, 0, 20, op_cb, &r1, &eb), 0);
    assert_int_equal(axl_ot2_submit(o, "stage_for_dispense", stage, 0, 2, op_cb, &r2, &eb), 0);
    assert_int_equal(axl_ot2_submit(o, "dispense_onto_chuck", disp, 0, 1, op_cb, &r3, &eb), 0);
    op_wait(&loop, &r3, 15000);
    r1.loop = r2.loop = &loop;
    assert_true(r1.done && r2.done && r3.done);
    assert_int_equal(r1.status, 0);
    assert_int_equal(r2.status, 0);
    assert_int_equal(r3.status, 0);
    op_result r;
    memset(&r, 0, sizeof(r));
    r.loop = &loop;
    assert_int_equal(axl_ot2_submit(o, "cleanup", NULL, 0, 5, op_cb, &r, &eb), 0);
    op_wait(&loop, &r, 15000);
    assert_int_equal(r.status, AXL_EPROTO);
    assert_non_null(strstr(r.why, "error `busy`"));
    memset(&r, 0, sizeof(r));
    r.loop = &loop;
    assert_int_equal(axl_ot2_submit(o, "cleanup", NULL, 0, 5, op_cb, &r, &eb), 0);
    op_wait(&loop, &r, 15000);
    assert_int_equal(r.status, AXL_ETIMEDOUT);
    assert_non_null(strstr(r.why, "no acknowledgement for cleanup"));
    memset(&r, 0, sizeof(r));
    r.loop = &loop;
    assert_int_equal(axl_ot2_submit(o, "clear_chuck", NULL, 0, 5, op_cb, &r, &eb), 0);
    op_wait(&loop, &r, 15000);
    assert_int_equal(r.status, AXL_EIO);
    assert_non_null(strstr(r.why, "disconnected"));
    memset(&r, 0, sizeof(r));
    r.loop = &loop;
    assert_int_equal(axl_ot2_submit(o, "clear_chuck", NULL, 0, 5, op_cb, &r, &eb), 0);
    op_wait(&loop, &r, 15000); /* connected again on demand */
    if (r.status != 0)
        fprintf(stderr, "reconnect: %s\n", r.why);
    assert_int_equal(r.status, 0);
    json_decref(asp);
    json_decref(stage);
    json_decref(disp);
    axl_ot2_close(o);
    loop_drain(&loop);
    emu_stop(&c);
}

/* A device that is not there: a failure with the reason, from the loop. */
static void test_absent_device(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_gripper g;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_gripper_init(&g, &loop, "/nonexistent/ttyUSB9", 1000, &eb), 0);
    op_result r;
    OP(&loop, r, axl_gripper_set(&g, 100, 7, op_cb, &r));
    assert_int_equal(r.status, AXL_EIO);
    assert_non_null(strstr(r.why, "gripper not connected: cannot open /nonexistent/ttyUSB9"));
    axl_gripper_close(&g);
    loop_drain(&loop);
}

/* The OT-2's `completed` map is cumulative: after 300 tasks one message is ~12 KiB, and
 * every task still completes (a 4 KiB receive lost them after ~100). */
static void test_ot2_long_run(void **state)
{
    (void)state;
    emu_child c;
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d", 20000 + (int)((getpid() + 7) % 20000));
    emu_start(&c, "ot2", url, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    axl_ot2 *o;
    axl_errbuf eb = {{0}};
    assert_int_equal(axl_ot2_new(&o, &loop, url, 1000, &eb), 0);
    json_t *stage = json_pack("{s:s,s:b}", "pipette", "perovskite", "slow_travel", 0);
    for (int i = 0; i < 300; i++) {
        op_result r;
        memset(&r, 0, sizeof(r));
        r.loop = &loop;
        assert_int_equal(axl_ot2_submit(o, "stage_for_dispense", stage, 0, 2, op_cb, &r, &eb), 0);
        op_wait(&loop, &r, 15000);
        if (r.status != 0)
            fail_msg("task %d: %s", i, r.why);
    }
    json_decref(stage);
    axl_ot2_close(o);
    loop_drain(&loop);
    emu_stop(&c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_modbus_frames, emu_teardown),
        cmocka_unit_test_teardown(test_absent_device, emu_teardown),
        cmocka_unit_test_teardown(test_gantry_happy_path, emu_teardown),
        cmocka_unit_test_teardown(test_gantry_frame, emu_teardown),
        cmocka_unit_test_teardown(test_gantry_faults, emu_teardown),
        cmocka_unit_test_teardown(test_gantry_unplug, emu_teardown),
        cmocka_unit_test_teardown(test_axis, emu_teardown),
        cmocka_unit_test_teardown(test_gripper, emu_teardown),
        cmocka_unit_test_teardown(test_odrive, emu_teardown),
        cmocka_unit_test_teardown(test_odrive_garbled, emu_teardown),
        cmocka_unit_test_teardown(test_relay, emu_teardown),
        cmocka_unit_test_teardown(test_hotplate, emu_teardown),
        cmocka_unit_test_teardown(test_hotplate_unplug, emu_teardown),
        cmocka_unit_test_teardown(test_shutter_slider, emu_teardown),
        cmocka_unit_test_teardown(test_ot2, emu_teardown),
        cmocka_unit_test_teardown(test_ot2_long_run, emu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
