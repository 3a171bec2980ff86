#!/usr/bin/env python3
"""Side-by-side speed: BoTorch (peer_bo.py's BotorchPeer, Ax's defaults) and axle's model
(`bench_model speed-data`) on the same data, interleaved, one thread each.

  side_by_side.py [--bench build/bench/model/bench_model] [--rounds 3] [--out FILE]

For every (d, n) of the shared table (d in {4, 6}, n in {20, 50, 100, 200, 500}) the data
is peer_bo.py's timing data (numpy default_rng(1000*d + n), Hartmann-like y, minimized).
Each round times one BoTorch generation (a fit from scratch + LogEI, as Ax does every
generation), then axle's cold, warm and refit-cycle generations on the same file; the
order alternates between rounds so that a change of load hits both. Medians per cell,
wall and CPU time of the process (BoTorch) / the generating thread (axle).
Needs the BoTorch environment of ../shared/peers/README.md (PYTHONPATH) and
OMP_NUM_THREADS=1; axle runs with OPENBLAS_NUM_THREADS=1.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peer_bo  # noqa: E402


def axle_once(bench, d, n, X, y, reps):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write(f"{d} {n}\n")
        for xi, yi in zip(X, y):
            fh.write(" ".join(f"{v:.17g}" for v in xi) + f" {yi:.17g}\n")
        path = fh.name
    try:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        out = subprocess.run([bench, "speed-data", path, "--reps", str(reps)], env=env,
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    return json.loads(out)


def botorch_once(peer, X, y, seed):
    c0, t0 = time.process_time(), time.perf_counter()
    peer.generate(X, y, seed)
    return time.perf_counter() - t0, time.process_time() - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", default="build/bench/model/bench_model")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--axle-reps", type=int, default=3, help="axle repetitions per round")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "side_by_side.json"))
    ap.add_argument("--cells", default="4x20,4x50,4x100,4x200,4x500,6x20,6x50,6x100,6x200,6x500")
    args = ap.parse_args()
    if not os.access(args.bench, os.X_OK):
        ap.error(f"{args.bench}: not an executable (build with `make build`)")
    peer_bo.set_threads()
    peer = peer_bo.make_peer("botorch")
    peer_bo.warmup(peer)
    result = {"versions": peer.versions(), "env": peer_bo.env_info(), "rounds": args.rounds,
              "cells": []}
    print(f"{'d':>2} {'n':>4} | {'BoTorch s':>9} {'cpu s':>7} | {'axle cold ms':>12} "
          f"{'warm':>7} {'cycle':>7} (cpu: cold/warm/cycle) | x cold warm cycle (cpu: cold warm cycle)",
          flush=True)
    for cell in args.cells.split(","):
        d, n = (int(v) for v in cell.split("x"))
        X = np.random.default_rng(1000 * d + n).random((n, d))
        y = np.asarray(peer_bo.hartmann_like(d)(X), dtype=float)
        bo, ax = [], []
        for r in range(args.rounds):
            if r % 2 == 0:
                bo.append(botorch_once(peer, X, y, r))
                ax.append(axle_once(args.bench, d, n, X, y, args.axle_reps))
            else:
                ax.append(axle_once(args.bench, d, n, X, y, args.axle_reps))
                bo.append(botorch_once(peer, X, y, r))
        med = lambda v: float(np.median(v))  # noqa: E731
        row = {
            "d": d, "n": n,
            "botorch_s": med([b[0] for b in bo]), "botorch_cpu_s": med([b[1] for b in bo]),
            **{k: med([a[k] for a in ax]) for k in ("cold_ms", "warm_ms", "cycle_ms",
                                                      "cold_cpu_ms", "warm_cpu_ms",
                                                      "cycle_cpu_ms")},
            "every": ax[0]["every"], "raw_botorch": bo, "raw_axle": ax,
        }
        result["cells"].append(row)
        bs, bc = row["botorch_s"] * 1e3, row["botorch_cpu_s"] * 1e3
        print(f"{d:>2} {n:>4} | {row['botorch_s']:9.3f} {row['botorch_cpu_s']:7.3f} | "
              f"{row['cold_ms']:12.1f} {row['warm_ms']:7.1f} {row['cycle_ms']:7.1f} "
              f"({row['cold_cpu_ms']:.1f}/{row['warm_cpu_ms']:.1f}/{row['cycle_cpu_ms']:.1f}) | "
              f"{bs / row['cold_ms']:6.0f} {bs / row['warm_ms']:4.0f} {bs / row['cycle_ms']:5.0f} "
              f"({bc / row['cold_cpu_ms']:.0f} {bc / row['warm_cpu_ms']:.0f} "
              f"{bc / row['cycle_cpu_ms']:.0f})",
              flush=True)
        peer_bo.write_json(args.out, result)


if __name__ == "__main__":
    main()
