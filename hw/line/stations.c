/* stations.c - PASCAL's station names and gripper move table. */
#include "hw/line/axl_stations.h"
#include "proto/axl_error.h"

#include <string.h>
#include <strings.h>

static const char *const station_names[AXL_STATION_COUNT] = {
    "storage",
    "spincoater",
    "hotplate",
    "characterization",
};

/*
 * move_s[from][to], seconds: PASCAL's table, copied as is. It is not symmetric (moves
 * off the spin coater take longer than moves onto it), so never look it up backwards.
 */
static const double move_s[AXL_STATION_COUNT][AXL_STATION_COUNT] = {
    /*                storage spincoater hotplate characterization */
    /* storage */ {-1, 16, 8, 8},
    /* spincoater */ {19, -1, 22, 23},
    /* hotplate */ {8, 16, -1, 9},
    /* characterization */ {8, 18, 9, -1},
};

bool axl_station_valid(int s)
{
    return s >= 0 && s < AXL_STATION_COUNT;
}

const char *axl_station_name(axl_station s)
{
    return axl_station_valid((int)s) ? station_names[s] : "unknown";
}

int axl_station_parse(const char *name, axl_station *out)
{
    if (name == NULL || out == NULL)
        return AXL_EINVAL;
    for (int i = 0; i < AXL_STATION_COUNT; i++) {
        if (strcmp(name, station_names[i]) == 0) {
            *out = (axl_station)i;
            return 0;
        }
    }
    /* PASCAL's worker names: trays and hotplates are numbered. */
    if (strncasecmp(name, "Tray", 4) == 0) {
        *out = AXL_STATION_STORAGE;
        return 0;
    }
    if (strncasecmp(name, "Hotplate", 8) == 0) {
        *out = AXL_STATION_HOTPLATE;
        return 0;
    }
    if (strcasecmp(name, "SpincoaterLiquidhandler") == 0 || strcasecmp(name, "Spincoater") == 0) {
        *out = AXL_STATION_SPINCOATER;
        return 0;
    }
    if (strcasecmp(name, "Characterization") == 0) {
        *out = AXL_STATION_CHARACTERIZATION;
        return 0;
    }
    return AXL_EINVAL;
}

double axl_station_move_s(axl_station from, axl_station to)
{
    if (!axl_station_valid((int)from) || !axl_station_valid((int)to))
        return -1;
    return move_s[from][to];
}
