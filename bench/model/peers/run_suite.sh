#!/usr/bin/env bash
# bench/model/peers/run_suite.sh [PEER] - BoTorch (default) on every problem of
# bench/model/suite.py, 20 seeds, one process at a time, niced, one thread; results in
# bench/model/peers/results/bo_PEER_PROBLEM.json (a re-run keeps finished seeds).
# A few seeds of every problem at a time (0-2, 3-4, 5-9, 10-14, 15-19), so that every problem
# has as many seeds as the CPU time allowed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peer=${1:-botorch}
export OMP_NUM_THREADS=1 PEER_PROBLEMS="$here/../suite.py"
export PYTHONPATH=${PEERS_PATH:-/work/peers-env/path}
probs=$(/usr/bin/python3 -c "import sys; sys.path.insert(0, '$here/..'); import suite; print(' '.join(suite.SUITE))")
for seeds in 0-2 3-4 5-9 10-14 15-19; do
	for p in $probs; do
		nice -n 15 /usr/bin/python3 "$here/peer_bo.py" --peer "$peer" --problem "$p" \
			--seeds "$seeds" --results-dir "$here/results"
	done
done
