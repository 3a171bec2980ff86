/*
 * cmd_emulate.c - `axle emulate DEVICE`: one of PASCAL's devices, emulated byte for byte
 * on a pseudo-terminal (or, for the OT-2, a local WebSocket), for drivers and demos
 * without a robot (hw/emulate/axl_emulate.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "engine/cli.h"
#include "hw/emulate/axl_emulate.h"

static const char emulate_usage[] =
    "usage: axle emulate DEVICE (--pty PATH | --listen ADDR) [options]\n"
    "\n"
    "Emulates one of PASCAL's devices: gantry, axis (the characterization axis), gripper,\n"
    "odrive (the spin coater's motor), relay (the Numato relay box), hotplate (one PID\n"
    "controller on Modbus ASCII), shutter, slider (Elliptec filter sliders) on a\n"
    "pseudo-terminal whose slave is symlinked at PATH; ot2 (the liquid handler) on a\n"
    "WebSocket at ADDR (ws://127.0.0.1:8764). Prints `ready PATH|ADDR` when it can be\n"
    "opened. Stops on SIGTERM / SIGINT.\n"
    "\n"
    "options:\n"
    "  --pty PATH        where the serial device appears\n"
    "  --listen ADDR     the OT-2's WebSocket address (ws://127.0.0.1:PORT)\n"
    "  --speed X         time compression: device delays are divided by X (default 1)\n"
    "  --fault SPEC      KIND@N[+][:ARG], repeatable: the N-th command (and with +, every\n"
    "                    later one) meets KIND: noreply, garble, truncate, badsum, busy,\n"
    "                    slow (ARG ms late, default 3000), disconnect (back after ARG ms,\n"
    "                    default 200)\n"
    "  --opt STRING      device options: gantry `X,Y,Z` / axis `X` frame (mm), hotplate\n"
    "                    start temperature\n"
    "  --log FILE        write every command received to FILE (C-escaped, one a line)\n"
    "  --quiet           no notes on stderr\n"
    "  -h, --help        this text\n";

int axl_cmd_emulate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pty", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'L'},
        {"speed", required_argument, NULL, 's'},
        {"fault", required_argument, NULL, 'f'},
        {"opt", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"log", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "axle emulate";
    axl_emu_opts o;
    memset(&o, 0, sizeof(o));
    o.speed = 1;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            o.pty_path = optarg;
            break;
        case 'L':
            o.listen = optarg;
            break;
        case 's':
            if (!axl_cli_parse_double(cmd, "--speed", optarg, &o.speed))
                return AXL_EXIT_CODE_USAGE;
            break;
        case 'f':
            if (o.n_faults == 16) {
                fprintf(stderr, "%s: at most 16 --fault options\n", cmd);
                return AXL_EXIT_CODE_USAGE;
            }
            o.faults[o.n_faults++] = optarg;
            break;
        case 'o':
            o.opt = optarg;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'g':
            o.log_path = optarg;
            break;
        case 'h':
            fputs(emulate_usage, stdout);
            return AXL_EXIT_CODE_OK;
        default:
            fputs(emulate_usage, stderr);
            return AXL_EXIT_CODE_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(emulate_usage, stderr);
        return AXL_EXIT_CODE_USAGE;
    }
    o.device = argv[optind];
    axl_errbuf eb = {{0}};
    int rv = axl_emu_run(&o, &eb);
    if (rv != 0) {
        fprintf(stderr, "%s: %s\n", cmd, eb.msg);
        return rv == AXL_EINVAL ? AXL_EXIT_CODE_USAGE : AXL_EXIT_CODE_ERROR;
    }
    return AXL_EXIT_CODE_OK;
}
