#!/usr/bin/env bash
# bench/lab/pareto_demo_seeds.sh [BUILD] [SEEDS]: the Pareto demo
# (examples/antisolvent_pl_pareto.json on the simulated line) with SEEDS (5) different
# line and Sobol seeds; prints each run's wall time and the hypervolume of its front as a
# share of the film model's true front (`axle lab pareto`), then the medians.
set -euo pipefail
BUILD=${1:-build}
SEEDS=${2:-5}
cd "$(dirname "$0")/../.."
axle="$PWD/$BUILD/engine/axle"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
walls=()
fracs=()
for s in $(seq 1 "$SEEDS"); do
	python3 - "$s" "$tmp/e$s.json" <<'PY'
import json, sys
s, out = int(sys.argv[1]), sys.argv[2]
e = json.load(open("examples/antisolvent_pl_pareto.json"))
e["lab"]["simulate"]["seed"] = s
e["generation_strategy"]["steps"][0]["seed"] = 1000 + s
json.dump(e, open(out, "w"))
PY
	mkdir -p "$tmp/s$s"
	t0=$(date +%s%N)
	"$axle" run "$tmp/e$s.json" --store "$tmp/s$s" --no-progress --log-level warn >/dev/null
	t1=$(date +%s%N)
	frac=$("$axle" lab pareto antisolvent_pl_pareto --store "$tmp/s$s" | tail -1 | sed 's/.*= //; s/ %//')
	wall=$(((t1 - t0) / 1000000))
	echo "seed $s: wall $wall ms, hypervolume $frac % of the true front's (load $(cut -d' ' -f1 /proc/loadavg))"
	walls+=("$wall")
	fracs+=("$frac")
done
python3 -c "
import statistics, sys
w = [float(x) for x in sys.argv[1].split()]; f = [float(x) for x in sys.argv[2].split()]
print(f'median: wall {statistics.median(w) / 1000:.1f} s, hypervolume {statistics.median(f):.1f} % of the true front')
" "${walls[*]}" "${fracs[*]}"
