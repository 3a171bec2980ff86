/* cmd_lab_pareto.h - `axle lab pareto NAME [--store DIR]` (engine/cmd_lab_pareto.c). */
#ifndef AXL_CMD_LAB_PARETO_H
#define AXL_CMD_LAB_PARETO_H

/* Prints the campaign's front, the film model's true front and both hypervolumes.
 * Returns an AXL_EXIT_CODE_*. */
int axl_lab_pareto(const char *name, const char *store_dir);

#endif
