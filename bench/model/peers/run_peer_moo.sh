#!/usr/bin/env bash
# Runs the BoTorch peer (peer_moo.py) seed by seed, round-robin over the four problems,
# so that every problem has the same number of finished seeds whenever it is stopped
# (results resume). It runs from a copy in a temporary folder: a git checkout or rebase
# of the worktree must not pull the script from under a run of several hours.
#   OMP_NUM_THREADS=1 PYTHONPATH=/work/peers-env/path nice -n 15 \
#       bench/model/peers/run_peer_moo.sh [RESULTS_DIR]
# FIRST / LAST choose the seeds (0 / 19); PROBLEMS the problems and their order (default
# all four, cheapest first: PROBLEMS="gramacy hartmann6c" adds seeds to the constrained
# problems only).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/results}"
tmp="$(mktemp -d)"
cp "$here/peer_moo.py" "$tmp/"
mkdir -p "$out"
for s in $(seq "${FIRST:-0}" "${LAST:-19}"); do
	for p in ${PROBLEMS:-gramacy hartmann6c branincurrin dtlz2}; do
		/usr/bin/python3 "$tmp/peer_moo.py" --problem "$p" --seeds "$s" --results-dir "$out" || exit 1
	done
done
