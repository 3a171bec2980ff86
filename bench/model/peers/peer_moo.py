#!/usr/bin/env python3
"""BoTorch yardstick for several objectives and outcome constraints (issue 12).

Problems (all on the unit cube, the same scrambled-Sobol start as peer_bo.py:
torch.quasirandom.SobolEngine(d, scramble=True, seed=seed), n_init = max(5, 2d)):

  branincurrin  BraninCurrin (Belakaria et al. 2019; botorch.test_functions.multi_objective),
                d 2, 2 objectives minimized, reference point (18, 6), budget 30.
  dtlz2         DTLZ2 (Deb et al. 2005), d 6, 2 objectives minimized, reference point
                (1.1, 1.1), budget 60. True hypervolume 1.1^2 - pi/4.
  hartmann6c    Constrained Hartmann6 (Letham et al. 2019, "Constrained Bayesian
                optimization with noisy experiments", Bayesian Analysis; BoTorch's
                ConstrainedHartmann): minimize Hartmann6 subject to ||x||_2 <= 1 (modelled
                as the outcome ||x||_2 - 1 <= 0) on [0, 1]^6, budget 50. Optimum
                -3.32237 (the unconstrained minimizer has norm 0.946).
  gramacy       Gramacy et al. 2016 ("Modeling an augmented Lagrangian for blackbox
                constrained optimization", Technometrics) toy problem: minimize x1 + x2
                subject to 1.5 - x1 - 2 x2 - 0.5 sin(2 pi (x1^2 - 2 x2)) <= 0 and
                x1^2 + x2^2 - 1.5 <= 0 on [0, 1]^2, budget 40. Optimum 0.5998.

Peers (Ax's defaults):
  multi-objective: ModelListGP of SingleTaskGP (Matern-5/2 ARD, BoTorch's priors,
      Standardize), each fitted by fit_gpytorch_mll; qLogNoisyExpectedHypervolumeImprovement
      with the problem's reference point as objective thresholds, X_baseline = all
      observations, prune_baseline=True, cache_root=True, 128 quasi-MC samples
      (SobolQMCNormalSampler); optimize_acqf q=1, 20 restarts, 1024 raw samples.
  constrained: the same ModelListGP (objective + each constraint), analytic
      LogConstrainedExpectedImprovement(best_f = best feasible observation, or the
      worst observation while none is feasible), same optimize_acqf settings.

Scores:
  multi-objective: hypervolume regret = true front's hypervolume - hypervolume of the
      observations (against the reference point), after the last evaluation.
      BraninCurrin's true hypervolume is computed here from a dense 2001^2 grid refined
      along the front (BoTorch's 59.3601 is an NSGA-II approximation).
  constrained: simple regret = best feasible observed value - the constrained optimum;
      a run with no feasible observation scores the largest f over the box minus the
      optimum.

Modes: --mode bo (one JSON per problem, resumable), --mode timing (one qLogNEHVI
generation at d 6, n 100 on DTLZ2 data, cold = Ax's fit from scratch, warm = started
from the previous fit's hyper-parameters), --mode summary.
"""

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def branin01(x):
    x0 = 15.0 * x[..., 0] - 5.0
    x1 = 15.0 * x[..., 1]
    b = 5.1 / (4.0 * math.pi ** 2)
    c = 5.0 / math.pi
    t = 1.0 / (8.0 * math.pi)
    return (x1 - b * x0 ** 2 + c * x0 - 6.0) ** 2 + 10.0 * (1.0 - t) * np.cos(x0) + 10.0


def currin(x):
    x0, x1 = x[..., 0], x[..., 1]
    with np.errstate(divide="ignore"):
        f1 = 1.0 - np.exp(-1.0 / (2.0 * np.maximum(x1, 1e-300)))
    num = 2300 * x0 ** 3 + 1900 * x0 ** 2 + 2092 * x0 + 60
    den = 100 * x0 ** 3 + 500 * x0 ** 2 + 4 * x0 + 20
    return f1 * num / den


def branincurrin(x):
    x = np.asarray(x, dtype=float)
    return np.stack([branin01(x), currin(x)], axis=-1)


def dtlz2(x, m=2):
    x = np.asarray(x, dtype=float)
    g = np.sum((x[..., m - 1:] - 0.5) ** 2, axis=-1)
    f0 = (1 + g) * np.cos(x[..., 0] * math.pi / 2)
    f1 = (1 + g) * np.sin(x[..., 0] * math.pi / 2)
    return np.stack([f0, f1], axis=-1)


H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
H6_A = np.array([[10.0, 3.0, 17.0, 3.5, 1.7, 8.0], [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
                 [3.0, 3.5, 1.7, 10.0, 17.0, 8.0], [17.0, 8.0, 0.05, 10.0, 0.1, 14.0]])
H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]],
                       dtype=float)
HARTMANN6_MIN = -3.32236801141551


def hartmann6c(u):
    u = np.asarray(u, dtype=float)
    inner = np.sum(H6_A * (u[..., None, :] - H6_P) ** 2, axis=-1)
    f = -np.sum(H6_ALPHA * np.exp(-inner), axis=-1)
    c = np.sqrt(np.sum(u ** 2, axis=-1)) - 1.0
    return f, np.stack([c], axis=-1)


def gramacy(u):
    u = np.asarray(u, dtype=float)
    x1, x2 = u[..., 0], u[..., 1]
    f = x1 + x2
    c1 = 1.5 - x1 - 2 * x2 - 0.5 * np.sin(2 * math.pi * (x1 ** 2 - 2 * x2))
    c2 = x1 ** 2 + x2 ** 2 - 1.5
    return f, np.stack([c1, c2], axis=-1)


def hv2(Y, ref):
    """Hypervolume of a 2-objective minimization set against ref."""
    Y = np.asarray(Y, dtype=float).reshape(-1, 2)
    Y = Y[np.all(Y < ref, axis=1)]
    if len(Y) == 0:
        return 0.0
    Y = Y[np.lexsort((Y[:, 1], Y[:, 0]))]
    hv, best1 = 0.0, ref[1]
    for y0, y1 in Y:
        if y1 < best1:
            hv += (ref[0] - y0) * (best1 - y1)
            best1 = y1
    return hv


def true_hv_branincurrin(ref=(18.0, 6.0)):
    n = 2001
    g = np.linspace(0.0, 1.0, n)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    X[:, 1] = np.maximum(X[:, 1], 1e-9)
    Y = branincurrin(X)
    return hv2(Y, np.array(ref))


def constrained_optimum(fn, n=1501):
    from scipy.optimize import minimize

    g = np.linspace(0.0, 1.0, n)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    f, c = fn(X)
    fmax = float(f.max())
    feas = np.all(c <= 0, axis=1)
    idx = np.argsort(np.where(feas, f, np.inf))[:20]
    best = float(f[idx[0]])
    cons = [{"type": "ineq", "fun": (lambda u, j=j: -fn(u)[1][j])} for j in range(c.shape[1])]
    for i in idx:
        r = minimize(lambda u: float(fn(u)[0]), X[i], method="SLSQP",
                     bounds=[(0, 1), (0, 1)], constraints=cons, options={"ftol": 1e-14})
        if r.success and np.all(fn(r.x)[1] <= 1e-10):
            best = min(best, float(r.fun))
    return best, fmax


PROBLEMS = {
    "branincurrin": dict(kind="moo", d=2, budget=30, f=branincurrin, ref=[18.0, 6.0]),
    "dtlz2": dict(kind="moo", d=6, budget=60, f=dtlz2, ref=[1.1, 1.1],
                  max_hv=1.1 ** 2 - math.pi / 4),
    "hartmann6c": dict(kind="con", d=6, budget=50, f=hartmann6c, optimum=HARTMANN6_MIN),
    "gramacy": dict(kind="con", d=2, budget=40, f=gramacy),
}


def n_init_for(d):
    return max(5, 2 * d)


def sobol_init(d, n, seed):
    import torch

    eng = torch.quasirandom.SobolEngine(dimension=d, scramble=True, seed=seed)
    return eng.draw(n, dtype=torch.double).numpy()


def versions():
    import botorch
    import gpytorch
    import linear_operator
    import torch

    return {"botorch": botorch.__version__, "gpytorch": gpytorch.__version__,
            "linear_operator": linear_operator.__version__, "torch": torch.__version__,
            "torch_num_threads": torch.get_num_threads()}


def env_info():
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "loadavg": os.getloadavg()}


def fit_list(train_X, Ys, states=None):
    """One SingleTaskGP per column (Ax's ModelListGP), each fitted independently."""
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    models = []
    for j in range(Ys.shape[1]):
        m = SingleTaskGP(train_X, Ys[:, j:j + 1], outcome_transform=Standardize(m=1))
        if states is not None:
            m.load_state_dict(states[j], strict=False)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(m.likelihood, m))
        models.append(m)
    return ModelListGP(*models)


def gen_moo(X, Y, ref, seed, states=None):
    """X (n,d) unit cube, Y (n,m) minimized. Returns x_next, info."""
    import torch
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler

    torch.manual_seed(seed)
    t0 = time.perf_counter()
    tX = torch.as_tensor(X, dtype=torch.double)
    tY = -torch.as_tensor(Y, dtype=torch.double)  # BoTorch maximizes
    model = fit_list(tX, tY, states)
    t1 = time.perf_counter()
    acq = qLogNoisyExpectedHypervolumeImprovement(
        model=model, ref_point=(-torch.as_tensor(ref, dtype=torch.double)).tolist(),
        X_baseline=tX, prune_baseline=True, cache_root=True,
        sampler=SobolQMCNormalSampler(sample_shape=torch.Size([128]), seed=seed))
    d = X.shape[1]
    bounds = torch.stack([torch.zeros(d, dtype=torch.double), torch.ones(d, dtype=torch.double)])
    cand, val = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=20, raw_samples=1024,
                              options={"batch_limit": 5, "maxiter": 200}, sequential=True)
    t2 = time.perf_counter()
    info = {"fit_s": t1 - t0, "acq_s": t2 - t1, "gen_s": t2 - t0, "acq_value": float(val)}
    return np.clip(cand.detach().squeeze(0).numpy(), 0, 1), info, model


def gen_con(X, f, C, seed):
    import torch
    from botorch.acquisition.analytic import LogConstrainedExpectedImprovement
    from botorch.optim import optimize_acqf

    torch.manual_seed(seed)
    t0 = time.perf_counter()
    tX = torch.as_tensor(X, dtype=torch.double)
    Ys = np.column_stack([-np.asarray(f)] + [C[:, j] for j in range(C.shape[1])])
    model = fit_list(tX, torch.as_tensor(Ys, dtype=torch.double))
    t1 = time.perf_counter()
    feas = np.all(C <= 0, axis=1)
    best_f = float(np.max(-np.asarray(f)[feas])) if feas.any() else float(np.min(-np.asarray(f)))
    acq = LogConstrainedExpectedImprovement(
        model, best_f=best_f, objective_index=0,
        constraints={j + 1: (None, 0.0) for j in range(C.shape[1])})
    d = X.shape[1]
    bounds = torch.stack([torch.zeros(d, dtype=torch.double), torch.ones(d, dtype=torch.double)])
    cand, val = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=20, raw_samples=1024)
    t2 = time.perf_counter()
    info = {"fit_s": t1 - t0, "acq_s": t2 - t1, "gen_s": t2 - t0, "acq_value": float(val)}
    return np.clip(cand.detach().squeeze(0).numpy(), 0, 1), info


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(tmp, path)


def run_bo(problem, seeds, out):
    warnings.filterwarnings("ignore")
    p = PROBLEMS[problem]
    d, budget, fn = p["d"], p["budget"], p["f"]
    n_init = n_init_for(d)
    res = {"peer": "botorch", "problem": problem, "kind": p["kind"], "d": d, "budget": budget,
           "n_init": n_init, "versions": versions(), "env": env_info(), "runs": []}
    if p["kind"] == "moo":
        res["ref_point"] = p["ref"]
        # BraninCurrin: BoTorch's NSGA-II figure (59.3601) is above a 2001^2 grid's
        # (59.2798), so it is the better estimate of the true front's hypervolume.
        res["true_hv"] = p.get("max_hv") or max(59.36011874867746, true_hv_branincurrin(p["ref"]))
        res["acquisition"] = "qLogNEHVI (128 QMC samples), ModelListGP, optimize_acqf 20/1024"
    else:
        if "optimum" in p:
            U = sobol_init(d, 2 ** 16, 0)
            res["optimum"], res["f_max"] = p["optimum"], float(fn(U)[0].max())
        else:
            res["optimum"], res["f_max"] = constrained_optimum(fn)
        res["acquisition"] = "LogConstrainedExpectedImprovement, ModelListGP, optimize_acqf 20/1024"
    if os.path.exists(out):
        old = json.load(open(out))
        if old.get("budget") == budget:
            res["runs"] = old["runs"]
    done = {r["seed"] for r in res["runs"]}
    for seed in seeds:
        if seed in done:
            continue
        t_run = time.perf_counter()
        X = sobol_init(d, n_init, seed)
        gens = []
        while len(X) < budget:
            if p["kind"] == "moo":
                Y = fn(X)
                x, info, _ = gen_moo(X, Y, p["ref"], seed * 100003 + len(X))
            else:
                f, C = fn(X)
                x, info = gen_con(X, f, C, seed * 100003 + len(X))
            info["n_train"] = len(X)
            gens.append(info)
            X = np.vstack([X, x[None, :]])
        run = {"seed": seed, "x": X.tolist(), "gen_s": [g["gen_s"] for g in gens],
               "gen_info": gens, "run_wall_s": time.perf_counter() - t_run}
        if p["kind"] == "moo":
            Y = fn(X)
            hv = [hv2(Y[:k], np.array(p["ref"])) for k in range(1, budget + 1)]
            run["y"] = Y.tolist()
            run["hv"] = hv
            run["hv_regret"] = [res["true_hv"] - h for h in hv]
            final = run["hv_regret"][-1]
        else:
            f, C = fn(X)
            feas = np.all(C <= 0, axis=1)
            best = [float(np.min(f[:k][feas[:k]])) if feas[:k].any() else res["f_max"]
                    for k in range(1, budget + 1)]
            run["f"] = f.tolist()
            run["c"] = C.tolist()
            run["regret"] = [b - res["optimum"] for b in best]
            final = run["regret"][-1]
        res["runs"].append(run)
        res["runs"].sort(key=lambda r: r["seed"])
        res["env"] = env_info()
        write_json(out, res)
        print(f"[{problem}] seed {seed}: final {final:.4g} median gen "
              f"{np.median(run['gen_s']):.2f}s wall {run['run_wall_s']:.0f}s", flush=True)


def run_timing(out, repeats=3):
    warnings.filterwarnings("ignore")
    d, n = 6, 100
    rng = np.random.default_rng(1000 * d + n)
    X = rng.random((n, d))
    Y = dtlz2(X)
    rows = []
    # cold: Ax's default (fit from scratch); warm: load the previous fit's state
    _, _, model = gen_moo(X, Y, [1.1, 1.1], 0)
    states = [m.state_dict() for m in model.models]
    for mode in ("cold", "warm"):
        ts = []
        for r in range(repeats):
            _, info, _ = gen_moo(X, Y, [1.1, 1.1], r + 1, states if mode == "warm" else None)
            ts.append(info)
            print(f"[timing {mode}] gen {info['gen_s']:.2f}s (fit {info['fit_s']:.2f}, "
                  f"acq {info['acq_s']:.2f})", flush=True)
        rows.append({"mode": mode, "d": d, "n": n, "gen_s": [t["gen_s"] for t in ts],
                     "fit_s": [t["fit_s"] for t in ts], "acq_s": [t["acq_s"] for t in ts],
                     "median_gen_s": float(np.median([t["gen_s"] for t in ts]))})
    write_json(out, {"peer": "botorch", "mode": "timing", "acquisition": "qLogNEHVI",
                     "data": "numpy default_rng(6100).random((100, 6)), y = DTLZ2 (2 objectives)",
                     "versions": versions(), "env": env_info(), "rows": rows})


def summarize(rdir):
    lines = ["# BoTorch peer, several objectives and constraints", "",
             "| problem | seeds | budget | score | median | Q1 | Q3 | median gen s |",
             "|---|---|---|---|---|---|---|---|"]
    for name in PROBLEMS:
        path = os.path.join(rdir, f"moo_botorch_{name}.json")
        if not os.path.exists(path):
            continue
        r = json.load(open(path))
        key = "hv_regret" if r["kind"] == "moo" else "regret"
        fin = np.array([run[key][-1] for run in r["runs"]])
        g = np.concatenate([run["gen_s"] for run in r["runs"]])
        lines.append(f"| {name} | {len(fin)} | {r['budget']} | {key} | {np.median(fin):.4g} | "
                     f"{np.percentile(fin, 25):.4g} | {np.percentile(fin, 75):.4g} | "
                     f"{np.median(g):.2f} |")
    path = os.path.join(rdir, "moo_timing_botorch.json")
    if os.path.exists(path):
        t = json.load(open(path))
        for row in t["rows"]:
            lines.append("")
            lines.append(f"qLogNEHVI generation d {row['d']} n {row['n']} ({row['mode']}): "
                         f"median {row['median_gen_s']:.2f} s of {row['gen_s']}")
    text = "\n".join(lines) + "\n"
    open(os.path.join(rdir, "SUMMARY_moo.md"), "w").write(text)
    print(text)


def parse_seeds(s):
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["bo", "timing", "summary", "truth"], default="bo")
    ap.add_argument("--problem", choices=sorted(PROBLEMS), default="branincurrin")
    ap.add_argument("--seeds", default="0-19")
    ap.add_argument("--results-dir", default=RESULTS)
    ap.add_argument("--repeats", type=int, default=3, help="timing: generations per mode")
    a = ap.parse_args()
    os.makedirs(a.results_dir, exist_ok=True)
    if a.mode == "summary":
        summarize(a.results_dir)
    elif a.mode == "truth":
        print("branincurrin true hv", true_hv_branincurrin())
        for name in ("gramacy",):
            print(name, "optimum, f max", constrained_optimum(PROBLEMS[name]["f"]))
    elif a.mode == "timing":
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
        run_timing(os.path.join(a.results_dir, "moo_timing_botorch.json"), a.repeats)
    else:
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
        run_bo(a.problem, parse_seeds(a.seeds),
               os.path.join(a.results_dir, f"moo_botorch_{a.problem}.json"))


if __name__ == "__main__":
    main()
