"""``multidot``: chainopt.multi_dot against numpy.linalg.multi_dot, same arrays.

The target: a chain of ten 4×4 matrices is not slower with
:func:`chainopt.multi_dot` than with NumPy's own ``multi_dot``: NumPy plans
on every call with a pure-Python O(n³) loop, chainopt reuses a cached plan
for a repeated sequence of shapes. Each case is a chain of ``n`` random
``d×d`` matrices (``--sizes`` are the chain lengths; ``d`` is 4 and 64);
the variants are the two functions and ``functools.reduce(np.matmul)``.

Columns of ``multidot.csv`` (one row per case and variant, plus the
runner's timing columns):

- ``n`` (int): number of matrices; ``d`` (int): their size.
- ``function`` (str): ``chainopt.multi_dot``, ``numpy.linalg.multi_dot`` or
  ``reduce(np.matmul)``.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

import chainopt
from chainopt.bench.claims import outcome, target
from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant

from ._common import ratio_text

DIMS = (4, 64)
FUNCTIONS = {
    "chainopt.multi_dot": chainopt.multi_dot,
    "numpy.linalg.multi_dot": np.linalg.multi_dot,
    "reduce(np.matmul)": lambda arrays: functools.reduce(np.matmul, arrays),
}


def _variants(settings: Settings, n: int, d: int) -> list[Variant]:
    rng = settings.rng(n, d)
    arrays = [rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(n)]
    return [Variant({"function": name}, lambda f=f: f(arrays)) for name, f in FUNCTIONS.items()]


def cases(settings: Settings):
    for n, d in itertools.product(settings.sizes, DIMS):
        yield Case({"n": n, "d": d}, lambda n=n, d=d: _variants(settings, n, d))


def summarize(frame):
    wide = frame.pivot_table(index=["n", "d"], columns="function", values="time_median_s",
                             aggfunc="first") * 1e6
    wide.columns = [f"{name} µs" for name in wide.columns]
    wide["numpy / chainopt"] = (wide["numpy.linalg.multi_dot µs"]
                                / wide["chainopt.multi_dot µs"])
    return wide.reset_index()


def conclude(frame) -> str:
    table = summarize(frame)
    ratio = table["numpy / chainopt"]
    ten = table[(table["n"] == 10) & (table["d"] == 4)]
    signs = _outcomes(frame)
    verdict = ""
    if len(ten):
        ours = ten["chainopt.multi_dot µs"].iloc[0]
        theirs = ten["numpy.linalg.multi_dot µs"].iloc[0]
        sign = signs.get((10, 4), 0)
        judged = target(frame, "not slower", sign >= 0)
        verdict = (f" For ten 4×4 matrices chainopt took {ours:.1f} µs against NumPy's"
                   f" {theirs:.1f} µs{f' ({judged})' if judged else ''}.")
    counts = [list(signs.values()).count(s) for s in (1, -1, 0)]
    return (f"chainopt.multi_dot was measurably faster than numpy.linalg.multi_dot in "
            f"{counts[0]} of {len(ratio)} cases, slower in {counts[1]}, with no measurable "
            f"difference in {counts[2]} (NumPy's time over chainopt's: "
            f"{ratio_text(ratio.min())} to {ratio_text(ratio.max())}).{verdict}")


def _outcomes(frame) -> dict:
    """Per (n, d): +1 chainopt measurably faster, -1 slower, 0 within the noise."""
    signs = {}
    for key, group in frame.groupby(["n", "d"]):
        ours = group[group["function"] == "chainopt.multi_dot"]
        theirs = group[group["function"] == "numpy.linalg.multi_dot"]
        if len(ours) and len(theirs):
            signs[key] = outcome(ours, theirs)
    return signs


def plot(frame, figure) -> None:
    axes = figure.subplots()
    for (function, d), group in frame.groupby(["function", "d"]):
        axes.loglog(group["n"], group["time_median_s"], "o-", label=f"{function}, {d}×{d}")
    axes.set(xlabel="matrices in the chain", ylabel="median time per call (s)",
             title="multi_dot: plan reuse against planning on every call")
    axes.legend(fontsize="small")


EXPERIMENT = Experiment(
    name="multidot",
    title="multidot: chainopt.multi_dot against numpy.linalg.multi_dot",
    summary="multi_dot on chains of small matrices: chainopt (cached plans) vs NumPy",
    case_columns=(Column("n", "int", "number of matrices"),
                  Column("d", "int", "each matrix is d×d")),
    variant_columns=(Column("function", "str", "chainopt.multi_dot, numpy.linalg.multi_dot "
                            "or reduce(np.matmul)"),),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(3, 5, 10, 20, 50),
    quick_sizes=(3, 10),
    sizes_help="chain lengths n (each with d = 4 and 64)",
    size_range=(2, 500),
    repeats=7,
    notes=("The same arrays for every function; chainopt's plan for a shape sequence is "
           "made once and cached, as happens when a program calls multi_dot repeatedly. "
           "Times in the table are medians in microseconds."),
)
