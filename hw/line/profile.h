/*
 * profile.h - INTERNAL to hw/ (not installed, not API): a step function of time giving
 * how many holders a resource has, and for hotplates the temperature they hold it at.
 * The timeline keeps one per resource.
 *
 * Breakpoints t[0] < t[1] < ... < t[n-1]; segment i is [t[i], t[i+1]) with level lvl[i]
 * and temperature temp[i] (NaN when the level is 0 or temperatures do not matter).
 * Before t[0] and from t[n-1] on the level is 0. Adjacent segments always differ, so a
 * profile of k intervals has at most 2k breakpoints.
 */
#ifndef AXL_HW_PROFILE_H
#define AXL_HW_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct axl_profile {
    double *t;
    int32_t *lvl;
    double *temp;
    size_t n;
    size_t cap;
} axl_profile;

void axl_profile_init(axl_profile *p);
void axl_profile_free(axl_profile *p);

/* Makes room for `more` further breakpoints so that the next adds cannot fail.
 * Returns 0 or AXL_ENOMEM. */
int axl_profile_reserve(axl_profile *p, size_t more);

/*
 * Adds delta (+1 to take, -1 to give back) to the level on [a, b), a < b. With delta > 0
 * and temp not NaN, the segments take that temperature. Needs 2 free breakpoints
 * (axl_profile_reserve) or returns AXL_ENOMEM without changing anything.
 */
int axl_profile_add(axl_profile *p, double a, double b, int delta, double temp);

/*
 * Is [a, b) unusable for one more holder? Blocked when the level reaches cap somewhere in
 * [a, b), or - when temp is not NaN - when a holder at another temperature is present
 * within retemper seconds of [a, b). On a block, *at is the earliest blocked time in
 * the range and *until the earliest time a new [a', b') with a' >= until could avoid that
 * block (the end of the saturated run, or the end of the other temperature + retemper).
 */
bool axl_profile_blocked(const axl_profile *p, double a, double b, int32_t cap, double temp,
                         double retemper, double *at, double *until);

/*
 * Start of the idle stretch (level 0) that contains x: the end of the last use before x,
 * -INFINITY when the resource was never used before x, x itself when in use at x.
 */
double axl_profile_idle_since(const axl_profile *p, double x);

/* Level at time x. */
int32_t axl_profile_level(const axl_profile *p, double x);

#endif
