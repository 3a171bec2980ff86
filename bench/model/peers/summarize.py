#!/usr/bin/env python3
"""bench/model/peers/summarize.py - the BoTorch suite runs (results/bo_botorch_*.json)
as bench/model/peers/botorch_suite.tsv, which bench_model's suite mode reads: per
problem the seeds run and the quartiles of the final simple regret (numpy's linear
percentiles, as axl_bench_quantile), with the versions used in the header."""
import glob
import json
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, ".."))
import suite  # noqa: E402

rows, versions = [], set()
for name in suite.SUITE:
    path = os.path.join(here, "results", f"bo_botorch_{name}.json")
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    fin = np.maximum([run["regret"][-1] for run in r["runs"]], 1e-9)
    if len(fin) == 0:
        continue
    versions.add(", ".join(f"{k} {v}" for k, v in sorted(r["versions"].items())))
    q1, med, q3 = np.percentile(fin, [25, 50, 75])
    rows.append(f"{name}\t{len(fin)}\t{q1:.6g}\t{med:.6g}\t{q3:.6g}")
with open(os.path.join(here, "botorch_suite.tsv"), "w") as fh:
    fh.write("# BoTorch (bench/model/peers/peer_bo.py --peer botorch, Ax's defaults) on\n")
    fh.write("# bench/model/suite.py: final simple regret (floored at 1e-9) over seeds\n")
    for v in sorted(versions):
        fh.write(f"# versions: {v}\n")
    fh.write("# problem\tseeds\tq1\tmedian\tq3\n")
    fh.write("\n".join(rows) + "\n")
print("\n".join(rows))
