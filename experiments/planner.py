"""``planner``: how long planning takes, chainopt against the others, across n.

For each chain length n in ``--sizes``, one random chain (dimensions drawn
uniformly from 10 to 1000; case ``random``) is planned, interleaved, by

- ``chainopt plan_chain`` (``method="dp"``): validation, the exact DP and
  the :class:`~chainopt.Plan`, what a user calls (up to n = 1000);
- ``chainopt plan_chain auto``: the default method, exact at every n (the
  DP below ``HU_SHING_FROM`` factors, Hu–Shing from there on);
- ``chainopt planners.dp``: the exact DP kernel alone, from the dims (up to
  n = 1000: O(n³) time, O(n²) memory);
- ``chainopt hu-shing``: Hu and Shing's exact O(n log n) planner alone;
- ``chainopt planners.approx``: Chin's O(n) heuristic (up to n = 10⁵);
- ``numpy``: NumPy's own planner for :func:`numpy.linalg.multi_dot`,
  ``numpy.linalg._linalg._multi_dot_matrix_chain_order``, an O(n³)
  Python loop (given objects with a ``.shape``), up to n = 400;
- ``opt_einsum dp`` (exact, up to n = 60) and ``opt_einsum greedy`` (up to
  n = 1000), from the chain as an einsum ``ab,bc,cd->ad`` with
  ``contract_path(..., shapes=True)``, when opt_einsum is installed;
- ``cotengra optimal`` (exact, up to n = 60) and ``cotengra greedy`` (up to
  n = 1000), with ``array_contract_path(..., cache=False)``, when cotengra
  is installed.

A full run (sizes up to 1000 or more, not ``--quick``) also measures the
DP's own targets, each a case of its own: ``huge dims`` (dimensions near
10⁹, beyond int64 sums: ``plan_chain`` with ``method="dp"`` at n = 1000 and
2000, and the default method at 2000), ``objectives`` (``minimize="time"``
and ``"memory"`` against the multiplications DP at n = 1000 and 2000) and
``matrix-free`` (:func:`chainopt.plan_matrix_free` on 500 layers). A quick
run measures the same cases at n = 12, for their code paths only.

The einsum planners get their inputs in their own format, built before
timing. Every planner's answer is converted to a bracketing and costed
with chainopt's exact cost model. The peak memory of chainopt's planners
is measured with :mod:`tracemalloc` on their first (untimed) warm-up call.

Columns of ``planner.csv`` (one row per case and planner, plus the
runner's timing columns):

- ``case`` (str): ``random``, ``huge dims``, ``objectives`` or ``matrix-free``.
- ``n`` (int): number of factors (layers for ``matrix-free``).
- ``planner`` (str): one of the names above.
- ``exact`` (bool): whether the planner promises the optimum of what it minimises.
- ``cost`` (str): scalar multiplications of the order it found, an exact
  integer written out (huge dims go beyond int64; for ``matrix-free``, the
  schedule's cost).
- ``peak_mib`` (float): tracemalloc's peak of one call, MiB (NaN where not
  measured: NumPy's and the einsum planners', and beyond n = 10⁴ every
  planner's but Hu–Shing's, since tracing slows a call about tenfold).
"""

from __future__ import annotations

import importlib.util
import math
import tracemalloc
import types

import numpy as np

from chainopt import plan_chain, plan_matrix_free
from chainopt.bench.claims import outcome, target
from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant
from chainopt.costs import steps_cost
from chainopt.hushing import hu_shing
from chainopt.planners import _steps_from_split, approx, dp

from ._common import ratio_text

#: Longest chain NumPy's planner runs (O(n³) in Python: n = 1000 takes a minute).
NUMPY_LIMIT = 400

#: Longest chain the exact einsum planners run (they search subsets).
EINSUM_EXACT_LIMIT = 60

#: Longest chain the greedy einsum planners and the DP run here (the DP is
#: O(n²) in memory: n = 10⁴ would need gigabytes).
DP_LIMIT = 1000

#: Longest chain Chin's approximation runs here (15 s a call at 10⁶ factors).
APPROX_LIMIT = 100_000

#: Beyond this n only Hu–Shing's memory is traced (tracemalloc slows a
#: Python-heavy call about tenfold: 48 s for Hu–Shing at n = 10⁶).
TRACE_ALL_LIMIT = 10_000

CHAINOPT = "chainopt plan_chain"
AUTO = "chainopt plan_chain auto"
KERNEL = "chainopt planners.dp"
HU_SHING = "chainopt hu-shing"
NUMPY = "numpy"
RANDOM = "random"


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


class _Traced:
    """A call whose first run is traced by tracemalloc (the untimed warm-up)."""

    def __init__(self, run):
        self.run, self.peak_mib = run, math.nan

    def __call__(self):
        if not math.isnan(self.peak_mib) or tracemalloc.is_tracing():
            return self.run()
        tracemalloc.start()
        try:
            return self.run()
        finally:
            self.peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()


def _chainopt_variants(dims, shapes):
    n = len(shapes)
    found = [
        (AUTO, True, lambda: plan_chain(shapes), lambda plan: plan.cost),
        (HU_SHING, True, lambda: hu_shing(dims), lambda found: _cost(shapes, found[1])),
    ]
    if n <= APPROX_LIMIT:
        found.append(("chainopt planners.approx", False, lambda: approx(dims),
                      lambda found: _cost(shapes, found[1])))
    if n <= DP_LIMIT:
        found[:0] = [
            (CHAINOPT, True, lambda: plan_chain(shapes, method="dp"), lambda plan: plan.cost),
            (KERNEL, True, lambda: dp(dims), lambda found: _cost(shapes, found[1])),
        ]
    traced = [(name, exact, _Traced(run) if n <= TRACE_ALL_LIMIT or name == HU_SHING else run,
               cost) for name, exact, run, cost in found]
    return traced + (
        [] if n > NUMPY_LIMIT or numpy_planner() is None else [_numpy_variant(shapes)])


def _numpy_variant(shapes):
    planner, n = numpy_planner(), len(shapes)
    objects = [types.SimpleNamespace(shape=shape) for shape in shapes]
    return (NUMPY, True, lambda: planner(objects),
            lambda split: _cost(shapes, split_to_steps(split, n)))


def _einsum_variants(shapes):
    n = len(shapes)
    variants = []
    if n > DP_LIMIT:
        return variants
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


def _as_variants(found) -> list[Variant]:
    """Variants from (name, exact, run, cost of the result) tuples."""
    return [Variant(lambda result, name=name, exact=exact, cost=cost, run=run: {
                        "planner": name, "exact": exact, "cost": cost(result),
                        "peak_mib": getattr(run, "peak_mib", math.nan)}, run)
            for name, exact, run, cost in found]


def _variants(settings: Settings, n: int) -> list[Variant]:
    dims = [int(d) for d in settings.rng(n).integers(10, 1001, n + 1)]
    shapes = [(dims[i], dims[i + 1]) for i in range(n)]
    return _as_variants(_chainopt_variants(dims, shapes) + _einsum_variants(shapes))


def _repeats(settings: Settings, n: int) -> int | None:
    """Fewer samples where one call takes seconds (10⁵ and 10⁶ factors)."""
    return 1 if n >= 500_000 else min(settings.repeats, 3) if n >= 50_000 else None


# -- the DP's own targets ---------------------------------------------------------
#: (case, n, what the target says), in full runs; quick runs use n = 12.
TARGETS = (("huge dims", 1000), ("huge dims", 2000), ("objectives", 1000),
           ("objectives", 2000), ("matrix-free", 500))
QUICK_TARGET_N = 12


def _huge_dims_variants(settings: Settings, n: int) -> list[Variant]:
    dims = [int(d) for d in settings.rng(n, 9).integers(10**9 - 1000, 10**9 + 1000, n + 1)]
    shapes = [(dims[i], dims[i + 1]) for i in range(n)]
    found = [(CHAINOPT, True, lambda: plan_chain(shapes, method="dp"), lambda p: p.cost),
             (AUTO, True, lambda: plan_chain(shapes), lambda p: p.cost)]
    if n <= DP_LIMIT:
        found.append((HU_SHING, True, lambda: hu_shing(dims),
                      lambda found: _cost(shapes, found[1])))
    return _as_variants([(name, exact, _Traced(run), cost) for name, exact, run, cost in found])


def _objective_variants(settings: Settings, n: int) -> list[Variant]:
    dims = [int(d) for d in settings.rng(n, 8).integers(10, 1001, n + 1)]
    shapes = [(dims[i], dims[i + 1]) for i in range(n)]
    found = [(f"{CHAINOPT} minimize={m}", True,
              lambda m=m: plan_chain(shapes, method="dp", minimize=m), lambda p: p.cost)
             for m in ("multiplications", "time", "memory")]
    return _as_variants([(name, exact, _Traced(run), cost) for name, exact, run, cost in found])


def _matrix_free_variants(settings: Settings, layers: int) -> list[Variant]:
    rng = settings.rng(layers, 7)
    widths = [int(w) for w in rng.integers(10, 1001, layers + 1)]
    nnz = [widths[i] * widths[i + 1] for i in range(layers)]
    tangents = [int(t) for t in rng.integers(1, 3, layers) * nnz]
    run = _Traced(lambda: plan_matrix_free(widths, tangents, nnz))
    return _as_variants([("chainopt plan_matrix_free", True, run, lambda p: p.cost)])


def _target_cases(settings: Settings):
    builders = {"huge dims": _huge_dims_variants, "objectives": _objective_variants,
                "matrix-free": _matrix_free_variants}
    targets = TARGETS if not settings.quick else (
        ("huge dims", QUICK_TARGET_N), ("objectives", QUICK_TARGET_N),
        ("matrix-free", QUICK_TARGET_N))
    for case, n in targets:
        yield Case({"case": case, "n": n}, lambda b=builders[case], n=n: b(settings, n),
                   compare=False, repeats=1 if n >= 2000 else min(settings.repeats, 3))


def cases(settings: Settings):
    for n in settings.sizes:
        yield Case({"case": RANDOM, "n": n}, lambda n=n: _variants(settings, n), compare=False,
                   repeats=_repeats(settings, n))
    if settings.quick or max(settings.sizes) >= DP_LIMIT:
        yield from _target_cases(settings)


# -- analysis -----------------------------------------------------------------
def _random(frame):
    return frame[frame["case"] == RANDOM]


def _times(frame):
    return _random(frame).pivot_table(index="n", columns="planner", values="time_median_s",
                                      aggfunc="first")


def summarize(frame):
    times = _times(frame)
    table = (1e3 * times).add_suffix(" ms")
    if NUMPY in times and CHAINOPT in times:
        table["numpy / chainopt"] = times[NUMPY] / times[CHAINOPT]
    if NUMPY in times and KERNEL in times:
        table["numpy / planners.dp"] = times[NUMPY] / times[KERNEL]
    if KERNEL in times and HU_SHING in times:
        table["planners.dp / hu-shing"] = times[KERNEL] / times[HU_SHING]
    memory = _random(frame).pivot_table(index="n", columns="planner", values="peak_mib",
                                        aggfunc="first")
    for name in (HU_SHING, KERNEL):
        if name in memory:
            table[f"{name} peak MiB"] = memory[name]
    random = _random(frame).assign(cost=lambda f: f["cost"].map(int).astype(float))
    optimum = random[random["exact"]].groupby("n")["cost"].min()
    costs = random.pivot_table(index="n", columns="planner", values="cost", aggfunc="first")
    for name in costs.columns:
        if not random.loc[random["planner"] == name, "exact"].all():
            table[f"{name} cost / optimum"] = costs[name] / optimum
    return table.reset_index()


def growth_exponent(n, values) -> float:
    """The slope of log(values) against log(n), by least squares.

    >>> round(growth_exponent([10, 100, 1000], [2.0, 20.0, 200.0]), 6)
    1.0
    """
    return float(np.polyfit(np.log(np.asarray(n, float)), np.log(np.asarray(values, float)),
                            1)[0])


def _growth_sentence(frame) -> str:
    rows = _random(frame)
    rows = rows[(rows["planner"] == HU_SHING) & (rows["n"] >= 1000)].sort_values("n")
    if len(rows) < 2:
        return ""
    n = rows["n"].to_numpy()
    text = (f"Hu–Shing's planning time grows as n^{growth_exponent(n, rows['time_median_s']):.2f}"
            f" and its peak memory as n^{growth_exponent(n, rows['peak_mib']):.2f} "
            f"(least squares on log–log over n = {n[0]:,} … {n[-1]:,}; n log n gives "
            f"about 1.1 over this range)")
    verdicts = []
    for size, limit in ((10**5, 5), (10**6, 60)):
        found = rows[rows["n"] == size]
        if len(found):
            seconds = float(found["time_median_s"].iloc[0])
            verdict = target(frame, f"≤ {limit} s", seconds <= limit)
            verdicts.append(f"n = {size:,} exact in {seconds:.3g} s"
                            + (f" ({verdict})" if verdict else ""))
    return text + ("; " + ", ".join(verdicts) if verdicts else "") + "."


def _crossover_sentence(times, frame) -> str:
    """From which n on Hu–Shing is measurably faster than the DP kernel at every n."""
    if KERNEL not in times or HU_SHING not in times:
        return ""
    rows = _random(frame).set_index(["planner", "n"])
    sizes = [n for n in times.index if not (np.isnan(times.loc[n, KERNEL])
                                           or np.isnan(times.loc[n, HU_SHING]))]
    wins = {n: outcome(rows.loc[(HU_SHING, n)], rows.loc[(KERNEL, n)]) > 0 for n in sizes}
    losses = [n for n in sizes if not wins[n]]
    later = [n for n in sizes if n > max(losses, default=0)]
    if not later:
        return "Hu–Shing was not measurably faster than the DP kernel at the largest n."
    start, ratio = later[0], times[KERNEL] / times[HU_SHING]
    text = (f"Hu–Shing is measurably faster than the DP kernel (interquartile ranges apart) "
            f"at every measured n from {start} on ({ratio_text(ratio.loc[start])} at "
            f"n = {start}, {ratio_text(ratio.loc[sizes[-1]])} at n = {sizes[-1]}")
    verdict = target(frame, "faster from some n ≤ 1000", start <= 1000,
                     covered=sizes[-1] >= 1000)
    return text + (f"; {verdict}" if verdict else "") + ")."


def _target_sentence(times, frame) -> str:
    """The targets: faster than NumPy for n in 10..400, ≥ 20× at 400."""
    if NUMPY not in times or CHAINOPT not in times:
        return ""
    ratio = (times[NUMPY] / times[CHAINOPT]).dropna()
    span = ratio[(ratio.index >= 10) & (ratio.index <= 400)]
    if not len(span):
        return ""
    rows = _random(frame).set_index(["planner", "n"])
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


def _seconds(frame, case: str, n: int, planner: str) -> float | None:
    found = frame[(frame["case"] == case) & (frame["n"] == n) & (frame["planner"] == planner)]
    return float(found["time_median_s"].iloc[0]) if len(found) else None


def _dp_targets_sentence(frame) -> str:
    """The DP's own targets (another issue), stated only at their sizes."""
    parts = []
    checks = [("huge dims", 1000, CHAINOPT, 1.0,
               "plan_chain(method='dp'), n = 1000, dims near 1e9"),
              ("huge dims", 2000, AUTO, 10.0, "the default method, n = 2000, dims near 1e9"),
              ("huge dims", 2000, CHAINOPT, 10.0, "method='dp' there"),
              ("matrix-free", 500, "chainopt plan_matrix_free", 2.0,
               "plan_matrix_free, 500 layers")]
    for case, n, planner, limit, what in checks:
        seconds = _seconds(frame, case, n, planner)
        if seconds is not None:
            verdict = target(frame, f"≤ {limit:g} s", seconds <= limit)
            parts.append(f"{what}: {seconds:.3g} s" + (f" ({verdict})" if verdict else ""))
    for n in (1000, 2000):
        base = _seconds(frame, "objectives", n, f"{CHAINOPT} minimize=multiplications")
        for objective in ("time", "memory"):
            other = _seconds(frame, "objectives", n, f"{CHAINOPT} minimize={objective}")
            if base and other is not None:
                verdict = target(frame, "within 3×", other <= 3 * base)
                parts.append(f"minimize='{objective}' at n = {n}: {other / base:.2f}× the "
                             f"multiplications DP" + (f" ({verdict})" if verdict else ""))
    return ("DP targets: " + "; ".join(parts) + ".") if parts else ""


def _agreement_sentence(frame) -> str:
    chains = frame[frame["case"].isin([RANDOM, "huge dims"])]
    exact = chains[chains["exact"]]
    agree = exact.groupby(["case", "n"])["cost"].nunique().eq(1).all()
    return ("All exact planners found the same optimal cost at every n." if agree else
            "The exact planners disagree on the optimal cost at some n (a bug).")


def conclude(frame) -> str:
    times = _times(frame)
    parts = [_growth_sentence(frame), _crossover_sentence(times, frame),
             _target_sentence(times, frame)]
    if CHAINOPT in times:
        largest = times[CHAINOPT].dropna().index.max()
        seconds = times.loc[largest, CHAINOPT]
        verdict = target(frame, "< 1 s", seconds < 1) if largest == 1000 else ""
        verdict = f" ({verdict})" if verdict else ""
        parts.append(f"The largest chain the DP planned, n = {largest}, took {seconds:.3g} s "
                     f"with plan_chain(method='dp'){verdict}.")
    parts += [_agreement_sentence(frame), _dp_targets_sentence(frame)]
    return " ".join(part for part in parts if part)


def plot(frame, figure) -> None:
    ax = figure.subplots()
    for name, group in _random(frame).groupby("planner"):
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
    summary="planning time and memory across n, up to 10⁶ factors: chainopt's DP and "
            "Hu–Shing vs NumPy's multi_dot planner (and opt_einsum / cotengra when installed)",
    case_columns=(Column("case", "str", "random (dims 10..1000), huge dims (near 1e9), "
                         "objectives or matrix-free"),
                  Column("n", "int", "number of factors (layers for matrix-free)")),
    variant_columns=(
        Column("planner", "str", "who planned: chainopt plan_chain / plan_chain auto / "
               "planners.dp / hu-shing / planners.approx, numpy, opt_einsum dp/greedy, "
               "cotengra optimal/greedy"),
        Column("exact", "bool", "the planner promises the optimum of what it minimises"),
        Column("cost", "str", "scalar multiplications of the order it found (an exact "
               "integer; beyond int64 for huge dims)"),
        Column("peak_mib", "float", "tracemalloc peak of one call, MiB (NaN: not measured)"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(4, 6, 8, 10, 12, 15, 20, 30, 50, 75, 100, 150, 200, 300, 400, 1000, 10_000,
           100_000, 1_000_000),
    quick_sizes=(5, 10, 20, 40),
    sizes_help="chain lengths n",
    size_range=(2, 1_000_000),
    repeats=3,
    notes=(
        f"NumPy's planner runs up to n = {NUMPY_LIMIT}, the exact einsum planners up to "
        f"n = {EINSUM_EXACT_LIMIT}, the DP and the greedy einsum planners up to "
        f"n = {DP_LIMIT}, Chin's approximation up to n = {APPROX_LIMIT:,}; Hu–Shing and "
        "plan_chain's default run at every n (at 10⁵ factors with 3 samples, at 10⁶ with "
        "one). One random chain per n, "
        "dimensions uniform in 10…1000, the same chain for every planner. Times are medians "
        "in milliseconds; `numpy / chainopt` is NumPy's time over plan_chain's (issue 2 "
        "asks for > 1 at every n from 10 to 400, ≥ 20 at n = 400, and n = 1000 in under "
        "1 s), `numpy / planners.dp` over the bare DP kernel's (no validation, no Plan), "
        "`planners.dp / hu-shing` the DP kernel's over Hu–Shing's (issue 14: Hu–Shing "
        "faster from some n ≤ 1000, 10⁵ factors in ≤ 5 s, 10⁶ in ≤ 60 s); peak MiB is "
        "tracemalloc's peak of one call (Python allocations and NumPy arrays); "
        "`cost / optimum` columns show how far the heuristics land from the optimum. "
        "The DP's own targets (huge dims, objectives, matrix-free) are rows of their "
        "own cases in planner.csv and are stated in the headline."
    ),
)
