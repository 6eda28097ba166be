"""Random straight-line programs for the computational-graph tests.

A program is a list of steps ``(op, a, b)``: step k applies ``op`` to two
earlier values chosen by the fractions ``a`` and ``b``. The same program runs
traced (with chainopt.graph's functions) and plain (with :mod:`math`), so the
plain run is an independent reference for values and finite differences.
"""

import math

from hypothesis import strategies as st

from chainopt import graph


def _plain_sigmoid(a):
    return 1.0 / (1.0 + math.exp(-a))


# op: (traced version, plain version); "maximum" is the one non-smooth op.
STEPS = {
    "add": (lambda a, b, g: a + b, lambda a, b: a + b),
    "sub": (lambda a, b, g: a - b, lambda a, b: a - b),
    "mul": (lambda a, b, g: a * b, lambda a, b: a * b),
    "div": (lambda a, b, g: a / (1 + b * b), lambda a, b: a / (1 + b * b)),
    "rdiv": (lambda a, b, g: 2.5 / (1.5 + g.sin(a)), lambda a, b: 2.5 / (1.5 + math.sin(a))),
    "square": (lambda a, b, g: a**2, lambda a, b: a**2),
    "cube": (lambda a, b, g: 0.1 * a**3 - b, lambda a, b: 0.1 * a**3 - b),
    "neg": (lambda a, b, g: -a, lambda a, b: -a),
    "sin": (lambda a, b, g: g.sin(a), lambda a, b: math.sin(a)),
    "cos": (lambda a, b, g: g.cos(a) * b, lambda a, b: math.cos(a) * b),
    "tanh": (lambda a, b, g: g.tanh(a), lambda a, b: math.tanh(a)),
    "sigmoid": (lambda a, b, g: g.sigmoid(a - b), lambda a, b: _plain_sigmoid(a - b)),
    "exp": (lambda a, b, g: g.exp(-a * a), lambda a, b: math.exp(-a * a)),
    "log": (lambda a, b, g: g.log(1 + a * a), lambda a, b: math.log(1 + a * a)),
    "pow": (lambda a, b, g: (1 + a * a) ** g.tanh(b), lambda a, b: (1 + a * a) ** math.tanh(b)),
    "rpow": (lambda a, b, g: 2 ** g.sin(a), lambda a, b: 2 ** math.sin(a)),
    "maximum": (lambda a, b, g: g.maximum(a, b), lambda a, b: max(a, b)),
}
SMOOTH = sorted(set(STEPS) - {"maximum"})


def run(program, inputs, outputs, traced):
    """Run ``program`` on ``inputs``; return the values at the ``outputs`` fractions."""
    values = list(inputs)
    for op, a, b in program:
        x, y = values[int(a * len(values))], values[int(b * len(values))]
        values.append(STEPS[op][0](x, y, graph) if traced else STEPS[op][1](x, y))
    picked = [values[len(values) - 1 - int(f * min(len(program), 4))] for f in outputs]
    return tuple(picked) if len(picked) > 1 else picked[0]


def function(program, outputs):
    """The program as a traceable function of len(inputs) scalars."""
    return lambda *xs: run(program, xs, outputs, traced=True)


def plain(program, outputs):
    return lambda *xs: run(program, xs, outputs, traced=False)


fraction = st.floats(0, 1, exclude_max=True)


def programs(ops=None, min_size=1, max_size=12):
    """Hypothesis strategy: (program, inputs, output fractions)."""
    ops = ops or sorted(STEPS)
    step = st.tuples(st.sampled_from(ops), fraction, fraction)
    return st.tuples(st.lists(step, min_size=min_size, max_size=max_size),
                     st.lists(st.floats(-2, 2), min_size=1, max_size=4),
                     st.lists(fraction, min_size=1, max_size=3))


def central_differences(f, point, h=1e-6):
    """The Jacobian of plain ``f`` at ``point`` by central differences (outputs × inputs)."""
    import numpy as np

    point = np.asarray(point, dtype=float)
    columns = []
    for i in range(len(point)):
        step = h * max(1.0, abs(point[i]))
        up, down = point.copy(), point.copy()
        up[i] += step
        down[i] -= step
        columns.append((np.atleast_1d(f(*up)) - np.atleast_1d(f(*down))) / (2 * step))
    return np.column_stack(columns)
