#!/usr/bin/env bash
# Runs the BoTorch peer seed by seed, round-robin over the four problems, so that every
# problem has the same number of finished seeds whenever it is stopped (results resume).
# OMP_NUM_THREADS=1 PYTHONPATH=/work/peers-env/path nice -n 15 bench/model/peers/run_peer_moo.sh
set -u
cd "$(dirname "$0")"
for s in $(seq "${FIRST:-0}" "${LAST:-19}"); do
	for p in gramacy branincurrin hartmann6c dtlz2; do
		/usr/bin/python3 peer_moo.py --problem "$p" --seeds "$s" || exit 1
	done
done
