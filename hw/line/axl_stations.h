/*
 * axl_stations.h - PASCAL's stations and its gripper move table.
 *
 * A sample is always at one station: it starts and ends in its storage-tray slot, and
 * the gantry gripper carries it between stations. The gripper itself is a resource
 * (one move at a time) but not a place, so it is not in this enum.
 * Numbers are PASCAL's own (see /work/shared/PASCAL.md, "Gripper moves").
 */
#ifndef AXL_STATIONS_H
#define AXL_STATIONS_H

#include <stdbool.h>

typedef enum {
    AXL_STATION_STORAGE = 0,          /* sample tray, 45 slots per tray */
    AXL_STATION_SPINCOATER = 1,       /* spin coater + liquid handler, capacity 1 */
    AXL_STATION_HOTPLATE = 2,         /* up to 3 plates of 30 slots */
    AXL_STATION_CHARACTERIZATION = 3, /* characterization line, capacity 1 */
} axl_station;

#define AXL_STATION_COUNT 4

/* Our short name ("storage", "spincoater", "hotplate", "characterization"); never NULL. */
const char *axl_station_name(axl_station s);

/*
 * Parses a station name: our short names, and PASCAL's worker names as they appear in
 * its netlists ("Tray1", "SpincoaterLiquidhandler", "Hotplate1".."Hotplate3",
 * "Characterization"). Returns 0 or AXL_EINVAL.
 */
int axl_station_parse(const char *name, axl_station *out);

/*
 * Seconds the gripper needs to carry a sample from one station to another, from
 * PASCAL's move table. Returns a negative value when from == to (no such move) or a
 * station is out of range.
 */
double axl_station_move_s(axl_station from, axl_station to);

/* True when s is one of the four stations. */
bool axl_station_valid(int s);

#endif
