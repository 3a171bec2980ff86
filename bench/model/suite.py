"""The public benchmark suite of engine/model (bench/model/suite.py).

Standard test functions of the BO / global-optimization literature (definitions as in
Surjanovic & Bingham's Virtual Library of Simulation Experiments, minimization), with the
budgets and noise used by `bench/run model` (axle, bench/model/suite.c) and by the BoTorch
runs stored in bench/model/peers/ (bench/model/peers/peer_bo.py reads this file through
PEER_PROBLEMS). The same functions in C: bench/model/suite_fn.c; the values at a few points
are cross-checked in test/model (bench/model/peers/suite_values.py prints them).

Each problem: parameters (per-coordinate boxes; "int" and "choice" parameters in the two
mixed spaces: an int takes the integer values of [lower, upper], a choice the index of one
of its unordered values), the known optimum, the budget (10*d to 20*d evaluations),
n_init = max(5, 2d) scrambled-Sobol points, 20 seeds, and a Gaussian noise sd (0 = exact).
Functions take one point as a list (choice parameters as the index, as float).
Simple regret = min over the evaluated points of the EXACT function - optimum (the noise
only affects what the optimizer sees).
"""

import math

PI = math.pi


def sixhump_camel(x):
    a, b = x[0], x[1]
    return (4 - 2.1 * a * a + a ** 4 / 3) * a * a + a * b + (-4 + 4 * b * b) * b * b


def goldstein_price(x):
    a, b = x[0], x[1]
    t1 = 1 + (a + b + 1) ** 2 * (19 - 14 * a + 3 * a * a - 14 * b + 6 * a * b + 3 * b * b)
    t2 = 30 + (2 * a - 3 * b) ** 2 * (18 - 32 * a + 12 * a * a + 48 * b - 36 * a * b + 27 * b * b)
    return t1 * t2


def beale(x):
    a, b = x[0], x[1]
    return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b * b) ** 2 + (2.625 - a + a * b ** 3) ** 2


def drop_wave(x):
    r2 = x[0] ** 2 + x[1] ** 2
    return -(1 + math.cos(12 * math.sqrt(r2))) / (0.5 * r2 + 2)


def easom(x):
    a, b = x[0], x[1]
    return -math.cos(a) * math.cos(b) * math.exp(-((a - PI) ** 2 + (b - PI) ** 2))


def branin(x):
    a, b = x[0], x[1]
    bb = 5.1 / (4 * PI * PI)
    c = 5 / PI
    t = 1 / (8 * PI)
    return (b - bb * a * a + c * a - 6) ** 2 + 10 * (1 - t) * math.cos(a) + 10


H3_A = [[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]]
H3_P = [[0.3689, 0.1170, 0.2673], [0.4699, 0.4387, 0.7470],
        [0.1091, 0.8732, 0.5547], [0.03815, 0.5743, 0.8828]]
H_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann3(x):
    f = 0.0
    for i in range(4):
        s = sum(H3_A[i][j] * (x[j] - H3_P[i][j]) ** 2 for j in range(3))
        f -= H_ALPHA[i] * math.exp(-s)
    return f


H6_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
H6_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    f = 0.0
    for i in range(4):
        s = sum(H6_A[i][j] * (x[j] - H6_P[i][j] * 1e-4) ** 2 for j in range(6))
        f -= H_ALPHA[i] * math.exp(-s)
    return f


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (x[i] - 1) ** 2 for i in range(len(x) - 1))


def levy(x):
    w = [1 + (v - 1) / 4 for v in x]
    d = len(x)
    f = math.sin(PI * w[0]) ** 2
    for i in range(d - 1):
        f += (w[i] - 1) ** 2 * (1 + 10 * math.sin(PI * w[i] + 1) ** 2)
    f += (w[d - 1] - 1) ** 2 * (1 + math.sin(2 * PI * w[d - 1]) ** 2)
    return f


def ackley(x):
    d = len(x)
    s1 = sum(v * v for v in x) / d
    s2 = sum(math.cos(2 * PI * v) for v in x) / d
    return -20 * math.exp(-0.2 * math.sqrt(s1)) - math.exp(s2) + 20 + math.e


def styblinski_tang(x):
    return 0.5 * sum(v ** 4 - 16 * v * v + 5 * v for v in x)


SHEKEL_C = [0.1, 0.2, 0.2, 0.4, 0.4, 0.6, 0.3, 0.7, 0.5, 0.5]
SHEKEL_A = [[4, 4, 4, 4], [1, 1, 1, 1], [8, 8, 8, 8], [6, 6, 6, 6], [3, 7, 3, 7],
            [2, 9, 2, 9], [5, 5, 3, 3], [8, 1, 8, 1], [6, 2, 6, 2], [7, 3.6, 7, 3.6]]


def shekel10(x):
    f = 0.0
    for i in range(10):
        s = sum((x[j] - SHEKEL_A[i][j]) ** 2 for j in range(4))
        f -= 1.0 / (s + SHEKEL_C[i])
    return f


def schwefel(x):
    return 418.9828872724338 * len(x) - sum(v * math.sin(math.sqrt(abs(v))) for v in x)


# Mixed spaces. mixed_st4: Styblinski-Tang in 4-d with x3, x4 integers in [-5, 5]
# (optimum at x = (-2.903534, -2.903534, -3, -3)).
def mixed_st4(x):
    return styblinski_tang(x)


# mixed_h6: Hartmann6 where x5 = 0.31165162 + 0.05 (k - 6) for an int k in [0, 19] and x6
# is one of the unordered choices MIXED_H6_X6 (index c); its optimum is reachable
# (k = 6, c = 2), so the optimum is Hartmann6's.
MIXED_H6_X6 = [0.1, 0.4, 0.65730054, 0.9]


def mixed_h6(x):
    z = list(x[:4]) + [0.31165162 + 0.05 * (x[4] - 6), MIXED_H6_X6[int(round(x[5]))]]
    return hartmann6(z)


ST_MIN1 = -39.16616570377142  # one coordinate of Styblinski-Tang at -2.903534
H6_MIN = -3.32236801141551


def _f(lo, hi):
    return ("float", lo, hi)


def _box(d, lo, hi):
    return [_f(lo, hi)] * d


# name: (function, parameters, optimum, budget, noise sd, kind). Budgets are 10 d (the
# BoTorch runs of 20 seeds cost about half a CPU-second per generation here, so the
# suite leans to d = 2-4 to fit its CPU time).
SUITE = {
    "sixhump_camel": (sixhump_camel, [_f(-3, 3), _f(-2, 2)], -1.0316284534898774, 20, 0.0, "valley"),
    "goldstein_price": (goldstein_price, _box(2, -2, 2), 3.0, 20, 0.0, "steep ridges"),
    "beale": (beale, _box(2, -4.5, 4.5), 0.0, 20, 0.0, "plate with steep ridges"),
    "drop_wave": (drop_wave, _box(2, -5.12, 5.12), -1.0, 20, 0.0, "multimodal"),
    "easom": (easom, _box(2, -10, 10), -1.0, 20, 0.0, "needle"),
    "branin_noisy": (branin, [_f(-5, 10), _f(0, 15)], 0.397887357729738, 20, 2.0, "noisy valley"),
    "hartmann3": (hartmann3, _box(3, 0, 1), -3.8627821478207554, 30, 0.0, "multimodal"),
    "rosenbrock3": (rosenbrock, _box(3, -5, 10), 0.0, 30, 0.0, "valley"),
    "ackley3": (ackley, _box(3, -32.768, 32.768), 0.0, 30, 0.0, "multimodal wide box"),
    "schwefel3": (schwefel, _box(3, -500, 500), 0.0, 30, 0.0, "deceptive wide box"),
    "levy4": (levy, _box(4, -10, 10), 0.0, 40, 0.0, "multimodal"),
    "styblinski_tang4": (styblinski_tang, _box(4, -5, 5), 4 * ST_MIN1, 40, 0.0, "deceptive wells"),
    "shekel10": (shekel10, _box(4, 0, 10), -10.536409816692046, 40, 0.0, "needles"),
    "mixed_st4": (mixed_st4, [_f(-5, 5), _f(-5, 5), ("int", -5, 5), ("int", -5, 5)],
                  2 * ST_MIN1 - 78.0, 40, 0.0, "mixed int"),
    "hartmann6_noisy": (hartmann6, _box(6, 0, 1), H6_MIN, 60, 0.05, "noisy multimodal"),
    "mixed_h6": (mixed_h6, _box(4, 0, 1) + [("int", 0, 19), ("choice", len(MIXED_H6_X6))],
                 H6_MIN, 60, 0.0, "mixed int + choice"),
}

# What peer_bo.py's PEER_PROBLEMS interface reads (the extended copy in
# bench/model/peers/ also reads SUITE for per-coordinate boxes, ints, choices and noise).
DOMAINS = {}
BUDGETS = {}
for _n, (_fn, _ps, _opt, _b, _sd, _k) in SUITE.items():
    if all(p[0] == "float" and p[1:] == _ps[0][1:] for p in _ps) and _sd == 0:
        DOMAINS[_n] = (_fn, len(_ps), _ps[0][1], _ps[0][2], _opt)
        BUDGETS[_n] = _b
