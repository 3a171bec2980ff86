#!/usr/bin/env python3
"""Values of bench/model/suite.py's functions at three points per problem, printed as the
C table test/model/test_suite.c checks bench/model/suite_fn.c against:
    python3 bench/model/peers/suite_values.py"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import suite  # noqa: E402

FRACS = (0.13, 0.5, 0.77)
for name, (fn, params, _opt, _b, _sd, _k) in suite.SUITE.items():
    for r, fr in enumerate(FRACS):
        x = []
        for j, p in enumerate(params):
            u = (fr + 0.171 * j) % 1.0
            if p[0] == "choice":
                x.append(float((r + j) % p[1]))
            else:
                v = p[1] + u * (p[2] - p[1])
                x.append(float(round(v)) if p[0] == "int" else v)
        xs = ", ".join(repr(v) for v in x)
        print(f'    {{"{name}", {{{xs}}}, {fn(x)!r}}},')
