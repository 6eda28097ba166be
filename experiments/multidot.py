"""``multidot``: chainopt.multi_dot against numpy.linalg.multi_dot, same arrays.

Issues 2 and 12 ask that :func:`chainopt.multi_dot` is never slower than
NumPy's own ``multi_dot``, at any chain length: NumPy plans on every call
with a pure-Python O(n³) loop (and special-cases two and three factors),
chainopt reuses a cached plan for a repeated sequence of shapes and
multiplies two or three NumPy arrays directly. Each case is a chain of
``n`` random ``d×d`` matrices (``--sizes`` are the chain lengths; ``d`` is 4
and 64), and, when 3 is among the sizes, NumPy's own example of a
three-factor chain, 1000×10 · 10×1000 · 1000×1; the variants are the two
functions and ``functools.reduce(np.matmul)``.

Columns of ``multidot.csv`` (one row per case and variant, plus the
runner's timing columns):

- ``n`` (int): number of matrices; ``chain`` (str): ``d×d`` for ``n``
  square matrices of size d, else the shapes.
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
#: Chains beyond the square ones: (n, name, shapes).
#: Chains whose optimal order ends in a kernel that NumPy's own dispatch runs
#: slowly (chainopt.kernels): an outer product, and a GEMM with k = 4.
OTHER_CHAINS = (
    (3, "1000×10·10×1000·1000×1", ((1000, 10), (10, 1000), (1000, 1))),
    (3, "1500×20·20×1·1×1500", ((1500, 20), (20, 1), (1, 1500))),
    (3, "1500×64·64×4·4×300", ((1500, 64), (64, 4), (4, 300))),
)
FUNCTIONS = {
    "chainopt.multi_dot": chainopt.multi_dot,
    "numpy.linalg.multi_dot": np.linalg.multi_dot,
    "reduce(np.matmul)": lambda arrays: functools.reduce(np.matmul, arrays),
}


def _variants(settings: Settings, n: int, shapes) -> list[Variant]:
    rng = settings.rng(n, *(d for shape in shapes for d in shape))
    arrays = [rng.standard_normal(shape) / np.sqrt(shape[0]) for shape in shapes]
    return [Variant({"function": label}, lambda f=f: f(arrays))
            for label, f in FUNCTIONS.items()]


def cases(settings: Settings):
    for n, d in itertools.product(settings.sizes, DIMS):
        shapes = ((d, d),) * n
        yield Case({"n": n, "chain": f"{d}×{d}"},
                   functools.partial(_variants, settings, n, shapes))
    for n, name, shapes in OTHER_CHAINS:
        if n in settings.sizes:
            yield Case({"n": n, "chain": name},
                       functools.partial(_variants, settings, n, shapes))


def summarize(frame):
    wide = frame.pivot_table(index=["n", "chain"], columns="function", values="time_median_s",
                             aggfunc="first", sort=False) * 1e6
    wide.columns = [f"{name} µs" for name in wide.columns]
    wide["numpy / chainopt"] = (wide["numpy.linalg.multi_dot µs"]
                                / wide["chainopt.multi_dot µs"])
    return wide.reset_index()


def _case_text(table, n: int, chain: str, label: str) -> str:
    row = table[(table["n"] == n) & (table["chain"] == chain)]
    if not len(row):
        return ""
    ours, theirs = row["chainopt.multi_dot µs"].iloc[0], row["numpy.linalg.multi_dot µs"].iloc[0]
    return f" {label}: {ours:.1f} µs against NumPy's {theirs:.1f} µs."


def conclude(frame) -> str:
    table = summarize(frame)
    ratio = table["numpy / chainopt"]
    signs = _outcomes(frame)
    counts = [list(signs.values()).count(s) for s in (1, -1, 0)]
    slower = [f"n={n} {chain}" for (n, chain), sign in signs.items() if sign < 0]
    judged = target(frame, "never slower", not slower)
    verdict = f" ({judged})" if judged else ""
    return (f"chainopt.multi_dot was measurably faster than numpy.linalg.multi_dot in "
            f"{counts[0]} of {len(ratio)} cases, slower in {counts[1]}"
            f"{' (' + ', '.join(slower) + ')' if slower else ''}, with no measurable "
            f"difference in {counts[2]}{verdict}; NumPy's time over chainopt's: "
            f"{ratio_text(ratio.min())} to {ratio_text(ratio.max())}."
            + _case_text(table, 3, "4×4", "Three 4×4 matrices")
            + "".join(_case_text(table, 3, name, name) for _, name, _ in OTHER_CHAINS)
            + _case_text(table, 10, "4×4", "Ten 4×4 matrices"))


def _outcomes(frame) -> dict:
    """Per (n, chain): +1 chainopt measurably faster, -1 slower, 0 within the noise."""
    signs = {}
    for key, group in frame.groupby(["n", "chain"], sort=False):
        ours = group[group["function"] == "chainopt.multi_dot"]
        theirs = group[group["function"] == "numpy.linalg.multi_dot"]
        if len(ours) and len(theirs):
            signs[key] = outcome(ours, theirs)
    return signs


def plot(frame, figure) -> None:
    axes = figure.subplots()
    for (function, chain), group in frame.groupby(["function", "chain"]):
        axes.loglog(group["n"], group["time_median_s"], "o-", label=f"{function}, {chain}")
    axes.set(xlabel="matrices in the chain", ylabel="median time per call (s)",
             title="multi_dot: plan reuse against planning on every call")
    axes.legend(fontsize="small")


EXPERIMENT = Experiment(
    name="multidot",
    title="multidot: chainopt.multi_dot against numpy.linalg.multi_dot",
    summary="multi_dot on chains of small matrices: chainopt (cached plans) vs NumPy",
    case_columns=(Column("n", "int", "number of matrices"),
                  Column("chain", "str", "d×d for n square matrices of size d, else the "
                         "shapes")),
    variant_columns=(Column("function", "str", "chainopt.multi_dot, numpy.linalg.multi_dot "
                            "or reduce(np.matmul)"),),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(2, 3, 5, 10, 20, 50),
    quick_sizes=(2, 3, 10),
    sizes_help="chain lengths n (each with d = 4 and 64; n = 3 also 1000×10·10×1000·1000×1)",
    size_range=(2, 500),
    repeats=7,
    notes=("The same arrays for every function; chainopt's plan for a shape sequence is "
           "made once and cached, as happens when a program calls multi_dot repeatedly. "
           "Times in the table are medians in microseconds."),
)
