"""``planner``: how long planning takes, chainopt against the others, across n.

For each chain length n in ``--sizes``, one random chain (dimensions drawn
uniformly from 10 to 1000) is planned, interleaved, by

- ``chainopt.plan_chain`` (``method="dp"``): validation, the exact DP and
  the :class:`~chainopt.Plan`, what a user calls;
- ``chainopt planners.dp``: the exact DP kernel alone, from the dims;
- ``chainopt planners.approx``: Chin's O(n) heuristic;
- ``numpy``: NumPy's own planner for :func:`numpy.linalg.multi_dot`,
  ``numpy.linalg._linalg._multi_dot_matrix_chain_order``, an O(n³)
  Python loop (given objects with a ``.shape``), up to n = 400;
- ``opt_einsum dp`` (exact, up to n = 60) and ``opt_einsum greedy``, from
  the chain as an einsum ``ab,bc,cd->ad`` with ``contract_path(...,
  shapes=True)``, when opt_einsum is installed;
- ``cotengra optimal`` (exact, up to n = 60) and ``cotengra greedy``, with
  ``array_contract_path(..., cache=False)``, when cotengra is installed.

The einsum planners get their inputs in their own format, built before
timing. Every planner's answer is converted to a bracketing and costed
with chainopt's exact cost model.

Columns of ``planner.csv`` (one row per n and planner, plus the runner's
timing columns):

- ``n`` (int): number of factors.
- ``planner`` (str): one of the names above.
- ``exact`` (bool): whether the planner promises the optimum.
- ``cost`` (int): scalar multiplications of the order it found.
"""

from __future__ import annotations

import importlib.util
import types

from chainopt import plan_chain
from chainopt.bench.claims import outcome, target
from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant
from chainopt.costs import steps_cost
from chainopt.planners import _steps_from_split, approx, dp

from ._common import ratio_text

#: Longest chain NumPy's planner runs (O(n³) in Python: n = 1000 takes a minute).
NUMPY_LIMIT = 400

#: Longest chain the exact einsum planners run (they search subsets).
EINSUM_EXACT_LIMIT = 60

CHAINOPT = "chainopt plan_chain"
KERNEL = "chainopt planners.dp"
NUMPY = "numpy"


def numpy_planner():
    """NumPy's private planner, or None if this NumPy has moved it."""
    for module in ("numpy.linalg._linalg", "numpy.linalg.linalg"):
        try:
            found = importlib.import_module(module)
        except ImportError:
            continue
        if hasattr(found, "_multi_dot_matrix_chain_order"):
            return found._multi_dot_matrix_chain_order
    return None


def split_to_steps(split, n: int) -> list[tuple[int, int]]:
    """Steps from CLRS's split table ``s[i, j] = k`` (NumPy's planner's output).

    >>> import numpy as np
    >>> split_to_steps(np.array([[0, 0, 1], [0, 0, 1], [0, 0, 0]]), 3)
    [(0, 1), (3, 2)]
    """
    # chainopt's own table holds the split's offset from the start, by length.
    offsets = [[int(split[i, i + span]) - i for span in range(n - i)] for i in range(n)]
    return _steps_from_split(offsets, n)


def path_to_steps(path, n: int) -> list[tuple[int, int]]:
    """Steps from an einsum contraction path (pop two operands, append the result).

    >>> path_to_steps([(1, 2), (0, 1)], 3)
    [(1, 2), (0, 3)]
    """
    operands = [(i, i, i) for i in range(n)]  # (id, first factor, last factor)
    steps: list[tuple[int, int]] = []
    for pair in path:
        if len(pair) != 2:
            raise ValueError(f"expected pairwise contractions; got {pair!r}")
        a, b = sorted(pair)
        second, first = operands.pop(b), operands.pop(a)
        left, right = sorted([first, second], key=lambda op: op[1])
        if left[2] + 1 != right[1]:
            raise ValueError(f"contraction {pair!r} joins factors that are not adjacent")
        steps.append((left[0], right[0]))
        operands.append((n + len(steps) - 1, left[1], right[2]))
    return steps


def _cost(shapes, steps) -> int:
    return steps_cost(shapes, ["dense"] * len(shapes), steps)


def _chainopt_variants(dims, shapes):
    n = len(shapes)
    return [
        (CHAINOPT, True, lambda: plan_chain(shapes, method="dp"), lambda plan: plan.cost),
        (KERNEL, True, lambda: dp(dims),
         lambda found: _cost(shapes, found[1])),
        ("chainopt planners.approx", False, lambda: approx(dims),
         lambda found: _cost(shapes, found[1])),
    ] + ([] if n > NUMPY_LIMIT or numpy_planner() is None else [_numpy_variant(shapes)])


def _numpy_variant(shapes):
    planner, n = numpy_planner(), len(shapes)
    objects = [types.SimpleNamespace(shape=shape) for shape in shapes]
    return (NUMPY, True, lambda: planner(objects),
            lambda split: _cost(shapes, split_to_steps(split, n)))


def _einsum_variants(shapes):
    n = len(shapes)
    variants = []
    if importlib.util.find_spec("opt_einsum") is not None:
        import opt_einsum

        symbols = [opt_einsum.get_symbol(i) for i in range(n + 1)]
        equation = ",".join(symbols[i] + symbols[i + 1] for i in range(n))
        equation += f"->{symbols[0]}{symbols[n]}"
        for method in (["dp"] if n <= EINSUM_EXACT_LIMIT else []) + ["greedy"]:
            variants.append((
                f"opt_einsum {method}", method == "dp",
                lambda m=method: opt_einsum.contract_path(equation, *shapes, shapes=True,
                                                          optimize=m)[0],
                lambda path: _cost(shapes, path_to_steps(path, n))))
    if importlib.util.find_spec("cotengra") is not None:
        import cotengra

        inputs, output = [(i, i + 1) for i in range(n)], (0, n)
        for method in (["optimal"] if n <= EINSUM_EXACT_LIMIT else []) + ["greedy"]:
            variants.append((
                f"cotengra {method}", method == "optimal",
                lambda m=method: cotengra.array_contract_path(
                    inputs, output, shapes=shapes, optimize=m, cache=False),
                lambda path: _cost(shapes, path_to_steps(path, n))))
    return variants


def _variants(settings: Settings, n: int) -> list[Variant]:
    dims = [int(d) for d in settings.rng(n).integers(10, 1001, n + 1)]
    shapes = [(dims[i], dims[i + 1]) for i in range(n)]
    found = _chainopt_variants(dims, shapes) + _einsum_variants(shapes)
    return [Variant(lambda result, name=name, exact=exact, cost=cost: {
                        "planner": name, "exact": exact, "cost": cost(result)}, run)
            for name, exact, run, cost in found]


def cases(settings: Settings):
    for n in settings.sizes:
        yield Case({"n": n}, lambda n=n: _variants(settings, n), compare=False)


# -- analysis -----------------------------------------------------------------
def _times(frame):
    return frame.pivot_table(index="n", columns="planner", values="time_median_s",
                             aggfunc="first")


def summarize(frame):
    times = _times(frame)
    table = (1e3 * times).add_suffix(" ms")
    if NUMPY in times and CHAINOPT in times:
        table["numpy / chainopt"] = times[NUMPY] / times[CHAINOPT]
    if NUMPY in times and KERNEL in times:
        table["numpy / planners.dp"] = times[NUMPY] / times[KERNEL]
    optimum = frame[frame["exact"]].groupby("n")["cost"].min()
    costs = frame.pivot_table(index="n", columns="planner", values="cost", aggfunc="first")
    for name in costs.columns:
        if not frame.loc[frame["planner"] == name, "exact"].all():
            table[f"{name} cost / optimum"] = costs[name] / optimum
    return table.reset_index()


def _target_sentence(times, frame) -> str:
    """The targets: faster than NumPy for n in 10..400, ≥ 20× at 400."""
    if NUMPY not in times or CHAINOPT not in times:
        return ""
    ratio = (times[NUMPY] / times[CHAINOPT]).dropna()
    span = ratio[(ratio.index >= 10) & (ratio.index <= 400)]
    if not len(span):
        return ""
    rows = frame.set_index(["planner", "n"])
    faster = sum(outcome(rows.loc[(CHAINOPT, n)], rows.loc[(NUMPY, n)]) > 0 for n in span.index)
    every = target(frame, "faster at every n from 10 to 400", faster == len(span),
                   covered=bool(span.index.min() == 10 and span.index.max() == 400))
    at_400 = target(frame, "≥ 20× at n = 400", bool(span.get(400, 0) >= 20),
                    covered=400 in span.index)
    verdicts = "; ".join(v for v in (every, at_400) if v)
    text = (f"chainopt's plan_chain was measurably faster than NumPy's planner at {faster} of "
            f"{len(span)} sizes from n = {span.index.min()} to {span.index.max()} "
            f"(NumPy's time over chainopt's: {ratio_text(span.iloc[0])} at "
            f"n = {span.index[0]}, {ratio_text(span.iloc[-1])} at n = {span.index[-1]}"
            f"{'; ' + verdicts if verdicts else ''}")
    return text + ")."


def conclude(frame) -> str:
    times = _times(frame)
    parts = [_target_sentence(times, frame)]
    if CHAINOPT in times:
        largest = times[CHAINOPT].dropna().index.max()
        seconds = times.loc[largest, CHAINOPT]
        verdict = target(frame, "< 1 s", seconds < 1) if largest == 1000 else ""
        verdict = f" ({verdict})" if verdict else ""
        parts.append(f"The largest chain, n = {largest}, planned in {seconds:.3g} s with "
                     f"plan_chain{verdict}.")
    exact = frame[frame["exact"]]
    agree = exact.groupby("n")["cost"].nunique().eq(1).all()
    parts.append("All exact planners found the same optimal cost at every n." if agree else
                 "The exact planners disagree on the optimal cost at some n (a bug).")
    return " ".join(part for part in parts if part)


def plot(frame, figure) -> None:
    ax = figure.subplots()
    for name, group in frame.groupby("planner"):
        group = group.sort_values("n")
        ax.loglog(group["n"], group["time_median_s"], "o-" if group["exact"].all() else "x--",
                  label=name + ("" if group["exact"].all() else " (heuristic)"))
    ax.axhline(1.0, color="gray", linestyle=":", linewidth=1)
    ax.set(xlabel="chain length n", ylabel="median planning time (s)",
           title="Planning time of a random chain")
    ax.legend(fontsize="small")


EXPERIMENT = Experiment(
    name="planner",
    title="planner: planning time, chainopt against NumPy and the einsum planners",
    summary="planning time across n: chainopt vs NumPy's multi_dot planner "
            "(and opt_einsum / cotengra when installed)",
    case_columns=(Column("n", "int", "number of factors"),),
    variant_columns=(
        Column("planner", "str", "who planned: chainopt plan_chain / planners.dp / "
               "planners.approx, numpy, opt_einsum dp/greedy, cotengra optimal/greedy"),
        Column("exact", "bool", "the planner promises the optimum"),
        Column("cost", "int", "scalar multiplications of the order it found"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 400, 1000),
    quick_sizes=(5, 10, 20, 40),
    sizes_help="chain lengths n",
    size_range=(2, 3000),
    repeats=3,
    notes=(
        f"NumPy's planner runs up to n = {NUMPY_LIMIT} and the exact einsum planners up to "
        f"n = {EINSUM_EXACT_LIMIT} (beyond, each takes minutes). One random chain per n, "
        "dimensions uniform in 10…1000, the same chain for every planner. Times are medians "
        "in milliseconds; `numpy / chainopt` is NumPy's time over plan_chain's (the targets "
        "ask for > 1 at every n from 10 to 400, ≥ 20 at n = 400, and n = 1000 in under "
        "1 s), `numpy / planners.dp` over the bare DP kernel's (no validation, no Plan); "
        "`cost / optimum` columns show how far the heuristics land from the optimum."
    ),
)
