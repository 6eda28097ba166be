"""``threads``: what 1 and 2 BLAS threads give per kernel class, quiet and beside a busy process.

For each kernel class a Jacobian step runs (float64, ``np.matmul`` into a
reused ``out``), and each size in ``--sizes`` (n):

- ``gemm`` n×n · n×n;
- ``thin`` 10×n · n×n (a few rows through a big weight: reverse steps);
- ``tall`` n×n · n×10 (a big weight times a few columns: forward steps);
- ``gemv`` n×n · n (the forward pass);
- ``outer`` n×10 · 10×n (the hourglass's last step, an n×n result);
- ``scale`` diag(d) · n×n (an activation's Jacobian times a dense block).

Every case runs twice: ``quiet``, and ``busy`` beside a second process that
we start ourselves, pinned to one core, multiplying 300×300 matrices with
one BLAS thread (:class:`experiments._threads.BusyNeighbour`). Within a
case the 1- and 2-thread calls are interleaved. The experiment is not part
of ``chainopt run`` (it loads the machine on purpose).

Columns of ``threads.csv``:

- ``kernel`` (str): the kernel class, as above.
- ``n`` (int): the size.
- ``load`` (str): ``quiet`` or ``busy``.
- ``threads`` (int): BLAS threads of the call timed.
- ``flops`` (int): floating-point operations of one call.
"""

from __future__ import annotations

import numpy as np

from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant

from ._common import ratio_text
from ._threads import BusyNeighbour, at_threads, thread_counts

K = 10

#: name -> (left shape, right shape) from n; None for the scaling's diagonal.
KERNELS = {
    "gemm": lambda n: ((n, n), (n, n)),
    "thin": lambda n: ((K, n), (n, n)),
    "tall": lambda n: ((n, n), (n, K)),
    "gemv": lambda n: ((n, n), (n,)),
    "outer": lambda n: ((n, K), (K, n)),
    "scale": lambda n: ((n,), (n, n)),
}

_NEIGHBOUR = BusyNeighbour()


def _flops(kernel: str, n: int) -> int:
    left, right = KERNELS[kernel](n)
    if kernel == "scale":
        return n * n
    cols = right[1] if len(right) == 2 else 1
    return 2 * left[0] * left[1] * cols


def _call(kernel: str, n: int, rng: np.random.Generator):
    left, right = (rng.standard_normal(s) for s in KERNELS[kernel](n))
    if kernel == "scale":
        out = np.empty(right.shape)
        return lambda: np.multiply(left[:, None], right, out=out)
    out = np.empty(np.matmul(left, right).shape)
    return lambda: np.matmul(left, right, out=out)


def _variants(settings: Settings, kernel: str, n: int, load: str) -> list[Variant]:
    if load == "busy":
        _NEIGHBOUR.start()
    else:
        _NEIGHBOUR.stop()
    run = _call(kernel, n, settings.rng(list(KERNELS).index(kernel), n))
    return [Variant({"threads": t, "flops": _flops(kernel, n)}, at_threads(run, t))
            for t in thread_counts()]


def cases(settings: Settings):
    for load in ("quiet", "busy"):
        for kernel in KERNELS:
            for n in settings.sizes:
                yield Case({"kernel": kernel, "n": n, "load": load},
                           lambda k=kernel, n=n, load=load: _variants(settings, k, n, load))


def per_kernel(frame):
    """One row per kernel, size and load: GFLOP/s at each thread count and their ratio."""
    wide = frame.pivot_table(index=["kernel", "n", "load"], columns="threads",
                             values="time_median_s", aggfunc="first")
    flops = frame.groupby(["kernel", "n", "load"])["flops"].first()
    out = wide.index.to_frame(index=False)
    for t in wide.columns:
        out[f"{t} thread µs"] = 1e6 * wide[t].to_numpy()
        out[f"{t} thread GFLOP/s"] = (flops / wide[t]).to_numpy() / 1e9
    if len(wide.columns) > 1:
        one, many = wide.columns[0], wide.columns[-1]
        out[f"speed-up {many} threads"] = (wide[one] / wide[many]).to_numpy()
    order = {k: i for i, k in enumerate(KERNELS)}
    out["_k"] = out["kernel"].map(order)
    out = out.sort_values(["load", "_k", "n"], ascending=[False, True, True], kind="stable")
    return out.drop(columns="_k").reset_index(drop=True)


def summarize(frame):
    return per_kernel(frame)


def conclude(frame) -> str:
    table = per_kernel(frame)
    column = [c for c in table.columns if c.startswith("speed-up")]
    if not column:
        return "Only one BLAS thread is available; nothing to compare."
    speedup = column[0]
    parts = []
    for load, group in table.groupby("load", sort=False):
        best = group.loc[group[speedup].idxmax()]
        worst = group.loc[group[speedup].idxmin()]
        slower = group[group[speedup] < 1]
        parts.append(
            f"{load}: 2 threads gave from {ratio_text(worst[speedup])} ({worst['kernel']} "
            f"n={worst['n']}) to {ratio_text(best[speedup])} ({best['kernel']} n={best['n']}) "
            f"the speed of 1; slower with 2 threads in {len(slower)} of {len(group)} cases"
            + (f" ({', '.join(f'{r.kernel} n={r.n}' for r in slower.itertuples())})"
               if len(slower) else ""))
    return "; ".join(parts) + "."


def plot(frame, figure) -> None:
    table = per_kernel(frame)
    column = [c for c in table.columns if c.startswith("speed-up")]
    axes = figure.subplots()
    if not column:
        return
    for load, group in table.groupby("load", sort=False):
        labels = [f"{r.kernel}\nn={r.n}" for r in group.itertuples()]
        axes.plot(labels, group[column[0]], marker="o", label=load)
    axes.axhline(1.0, color="gray", linewidth=0.8)
    axes.set(ylabel="time at 1 thread / time at 2 threads",
             title="What a second BLAS thread gives, per kernel class")
    axes.tick_params(axis="x", labelsize=6)
    axes.legend()


EXPERIMENT = Experiment(
    name="threads",
    title="threads: 1 and 2 BLAS threads per kernel class, quiet and beside a busy process",
    summary="GEMM, thin and tall GEMM, GEMV, outer product and scaling at 1 and 2 BLAS "
            "threads, on a quiet machine and beside a busy process we start",
    case_columns=(
        Column("kernel", "str", "gemm, thin, tall, gemv, outer or scale"),
        Column("n", "int", "the size n"),
        Column("load", "str", "quiet, or busy beside our own busy process on one core"),
    ),
    variant_columns=(
        Column("threads", "int", "BLAS threads of the call"),
        Column("flops", "int", "floating-point operations of one call"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(100, 300, 1000, 2000),
    quick_sizes=(40,),
    sizes_help="sizes n of the kernels",
    size_range=(8, 4000),
    repeats=15,
    notes=(
        "Each case interleaves the 1- and 2-thread calls (threadpoolctl switches the count "
        "around each call, about 1 µs). `busy` cases run beside a child process pinned to "
        "one core that multiplies 300×300 matrices in a loop with one BLAS thread, started "
        "before the case's warm-up and stopped after the last busy case. Other processes "
        "on the machine are not controlled: record the load average with the run."),
    in_suite=False,
)
