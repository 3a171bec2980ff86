#!/usr/bin/env python3
"""compare_runs.py AXLE_RUNS.tsv [--results DIR] - axle's suite runs against BoTorch's,
problem by problem, with how sure each verdict is.

AXLE_RUNS.tsv is what `bench_model suite --runs FILE` writes ("problem seed regret" per
run); BoTorch's runs are results/bo_botorch_PROBLEM.json. Per problem: both medians and
quartiles, the median ratio axle/BoTorch with a 90% bootstrap interval (10,000
resamples of each side's seeds), and the two-sided Mann-Whitney U p-value. A median
"loss" whose interval includes 1 is within the seed noise of 20 runs.
"""
import argparse
import collections
import json
import os

import numpy as np
from scipy.stats import mannwhitneyu

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--boot", type=int, default=10000)
    args = ap.parse_args()
    axle = collections.OrderedDict()
    for line in open(args.runs):
        p, _, r = line.split()
        axle.setdefault(p, []).append(max(float(r), 1e-9))
    rng = np.random.default_rng(1)
    print(f"{'problem':18s} {'axle q1/med/q3':>30s} {'BoTorch q1/med/q3':>30s} "
          f"{'ratio':>6s} {'90% interval':>15s} {'MW p':>6s}")
    wins = sure_losses = 0
    for p, a in axle.items():
        path = os.path.join(args.results, f"bo_botorch_{p}.json")
        if not os.path.exists(path):
            print(f"{p:18s} (no BoTorch runs)")
            continue
        b = np.maximum([run["regret"][-1] for run in json.load(open(path))["runs"]], 1e-9)
        a = np.asarray(a)
        qa, qb = np.percentile(a, [25, 50, 75]), np.percentile(b, [25, 50, 75])
        ratio = qa[1] / qb[1]
        boots = np.median(rng.choice(a, (args.boot, len(a))), axis=1) / np.median(
            rng.choice(b, (args.boot, len(b))), axis=1)
        lo, hi = np.percentile(boots, [5, 95])
        pval = mannwhitneyu(a, b, alternative="two-sided").pvalue
        wins += ratio <= 1
        sure_losses += lo > 1
        fmt = lambda q: "/".join(f"{v:.3g}" for v in q)  # noqa: E731
        print(f"{p:18s} {fmt(qa):>30s} {fmt(qb):>30s} {ratio:6.3g} "
              f"[{lo:5.3g}, {hi:5.3g}] {pval:6.3f}")
    print(f"median wins {wins} of {len(axle)}; losses whose 90% interval excludes 1: {sure_losses}")


if __name__ == "__main__":
    main()
