"""Calibration: time every kernel over a grid of shapes and fit the time model.

``chainopt calibrate`` runs :func:`calibrate`: it measures each kernel of
:mod:`chainopt.kernels` exactly as :meth:`chainopt.Plan.execute` runs it
(fresh result arrays included) on float64 operands, over a grid of shapes
from 1 to 2000 (half of the GEMMs thin: one dimension from 2 to 8), in
random order so that drift hits every kernel alike, three passes over the
grid, and stops at a time budget (:data:`FULL_BUDGET`; about 30 s here, and
the whole command under 60 s). It then fits
:class:`chainopt.timemodel.TimeModel` to each shape's fastest median and
caches it for this machine (:func:`chainopt.timemodel.save_model`).

Timing follows the project's rules (``MEASURING.md``): one warm-up call,
then repeats until both a minimum count and a minimum total time are
reached, ``time.perf_counter_ns``, the median kept with its minimum and
maximum. Keeping the fastest of the passes' medians (and the robust fit)
guards against bursts of other processes on a shared machine; a quiet
machine still gives the best model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from ..errors import ChainError
from ..kernels import KERNELS, Diagonal, execute
from .model import TimeModel, fit_model

__all__ = ["Measurement", "calibrate", "calibration_grid", "fit_quality", "measure", "time_kernel"]

#: Seconds of measuring in a full calibration; with the fit (a few seconds)
#: the whole of ``chainopt calibrate`` stays under a minute.
FULL_BUDGET = 45.0

#: Budget of ``--quick`` (tests and CI).
QUICK_BUDGET = 3.0

#: Largest multiply-adds of one timed GEMM/SYRK in the full grid (~40-80 ms here).
MAX_WORK = 4.0e9

#: Dimensions the grid draws from: geometric steps of about √2 from 1 to 2000.
#: (Stopping short of 2048 keeps every float64 result under glibc's 32 MiB
#: mmap threshold, the regime of chains with dimensions up to about 2000.)
_SIZES = np.unique(np.round(np.geomspace(1, 2000, 23)).astype(int))


class Measurement(NamedTuple):
    """The median time of one kernel on one shape ``(m×k)·(k×n)``."""

    kernel: str
    m: int
    k: int
    n: int
    seconds: float
    low: float
    high: float
    repeats: int


def _pick(rng, sizes, low=1, high=2048):
    sizes = sizes[(sizes >= low) & (sizes <= high)]
    return int(rng.choice(sizes))


def _thin_gemm(rng, sizes) -> tuple[int, int, int]:
    """A GEMM with one dimension from 2 to 8 and the other two large.

    Chains are full of these (a matrix times a few columns), and they are
    where BLAS is least efficient: packing the large operand costs more
    than the arithmetic. Every size from 2 to 8 is drawn (the time model
    has a factor for each, :data:`chainopt.timemodel.THIN`).
    """
    dims = [int(rng.integers(2, 9)), _pick(rng, sizes, 64), _pick(rng, sizes, 64)]
    where = int(rng.integers(3))
    dims[0], dims[where] = dims[where], dims[0]
    return tuple(dims)


def _shape_for(kernel: str, rng, sizes, max_work: float) -> tuple[int, int, int]:
    """One random shape on which ``kernel`` runs (half of the GEMMs thin)."""
    while True:
        a, b, c = (_pick(rng, sizes, 2) for _ in range(3))
        if kernel == "gemm" and rng.random() < 1 / 2:
            a, b, c = _thin_gemm(rng, sizes)
        shape = {
            "gemm": (a, b, c),
            "syrk": (a, b, a),
            "gemv": (a, b, 1) if rng.random() < 0.5 else (1, b, c),
            "dot": (1, b, 1),
            "outer": (a, 1, c),
            "scale": (a, a, c) if rng.random() < 0.5 else (a, c, c),
            "diag": (a, a, a),
        }[kernel]
        m, k, n = shape
        if m * k * n <= max_work or kernel not in ("gemm", "syrk"):
            return shape


#: Shapes per kernel in the full grid (the quick grid takes a quarter, at least 10).
GRID_COUNTS = {"gemm": 360, "syrk": 160, "gemv": 160, "dot": 40, "outer": 120,
               "scale": 80, "diag": 40}


def calibration_grid(quick: bool = False, seed: int = 0) -> list[tuple[str, int, int, int]]:
    """The shapes to time: ``(kernel, m, k, n)`` in random (interleaved) order.

    The quick grid keeps every dimension at most 96 and takes a sixteenth
    of the shapes (at least 10 per kernel); the full grid reaches 2000 with
    GEMM and SYRK work capped at :data:`MAX_WORK` multiply-adds.

    Examples
    --------
    >>> grid = calibration_grid(quick=True)
    >>> sorted({kernel for kernel, *_ in grid}) == sorted(KERNELS)
    True
    >>> max(max(shape) for _, *shape in grid) <= 96
    True
    """
    rng = np.random.default_rng(seed)
    sizes = _SIZES[_SIZES <= 96] if quick else _SIZES
    grid = []
    for kernel in KERNELS:
        count = max(10, GRID_COUNTS[kernel] // 16) if quick else GRID_COUNTS[kernel]
        grid += [(kernel, *_shape_for(kernel, rng, sizes, MAX_WORK)) for _ in range(count)]
    order = rng.permutation(len(grid))
    return [grid[i] for i in order]


def _operands(kernel: str, m: int, k: int, n: int, rng):
    """Operands as a plan's execution would see them."""
    if kernel == "diag":
        return Diagonal(rng.standard_normal(m)), Diagonal(rng.standard_normal(m))
    if kernel == "scale":
        if m == k:
            return Diagonal(rng.standard_normal(m)), rng.standard_normal((m, n))
        return rng.standard_normal((m, k)), Diagonal(rng.standard_normal(k))
    if kernel == "syrk":
        # XXᵀ with X C-contiguous, or YᵀY with Y C-contiguous: both views.
        if rng.random() < 0.5:
            x = rng.standard_normal((m, k))
            return x, x.T
        y = rng.standard_normal((k, m))
        return y.T, y
    return rng.standard_normal((m, k)), rng.standard_normal((k, n))


def time_kernel(kernel: str, a, b, min_repeats: int = 3, max_repeats: int = 25,
                min_seconds: float = 0.02) -> tuple[float, float, float, int]:
    """Median, minimum and maximum seconds of ``execute(kernel, a, b)``.

    One warm-up call, then repeats until ``min_repeats`` and ``min_seconds``
    are both reached (or ``max_repeats``).
    """
    execute(kernel, a, b)
    times: list[int] = []
    total = 0
    while len(times) < max_repeats and (len(times) < min_repeats or total < min_seconds * 1e9):
        start = time.perf_counter_ns()
        execute(kernel, a, b)
        elapsed = time.perf_counter_ns() - start
        times.append(elapsed)
        total += elapsed
    seconds = np.array(times) * 1e-9
    return float(np.median(seconds)), float(seconds.min()), float(seconds.max()), len(times)


def _measure_pass(grid, seed: int, deadline: float, progress, done: int, total: int,
                  repeats) -> list[Measurement | None]:
    results: list[Measurement | None] = []
    for index, (kernel, m, k, n) in enumerate(grid):
        if time.perf_counter() > deadline:
            results.append(None)
            continue
        a, b = _operands(kernel, m, k, n, np.random.default_rng([seed, index]))
        results.append(Measurement(kernel, m, k, n, *time_kernel(kernel, a, b, **repeats)))
        del a, b
        done += 1
        if progress is not None:
            progress(done, total)
    return results


def measure(grid: Sequence[tuple[str, int, int, int]], budget: float = FULL_BUDGET,
            seed: int = 0, progress: Callable[[int, int], None] | None = None,
            passes: int = 3, **repeats) -> list[Measurement]:
    """Time every ``(kernel, m, k, n)`` of ``grid`` until ``budget`` seconds pass.

    The grid is timed ``passes`` times, a pass after the other, and each
    shape keeps its fastest median: a burst of interference from other
    processes (a descheduled BLAS thread costs milliseconds) rarely hits a
    shape in every pass. ``progress(done, total)`` is called after each
    timing; ``repeats`` go to :func:`time_kernel`.
    """
    deadline = time.perf_counter() + budget
    best: list[Measurement | None] = [None] * len(grid)
    for number in range(passes):
        found = _measure_pass(grid, seed, deadline, progress, number * len(grid),
                              passes * len(grid), repeats)
        best = [new if old is None or (new is not None and new.seconds < old.seconds)
                else old for old, new in zip(best, found)]
    return [result for result in best if result is not None]


def calibrate(quick: bool = False, budget: float | None = None, seed: int = 0,
              progress: Callable[[int, int], None] | None = None
              ) -> tuple[TimeModel, list[Measurement]]:
    """Measure the kernels on this machine and fit a :class:`TimeModel`.

    Parameters
    ----------
    quick : bool
        A small grid (dimensions up to 96) with few repeats: seconds, for
        tests; the fitted model is only as good as that.
    budget : float, optional
        Seconds of measuring at most (default :data:`FULL_BUDGET`, or
        :data:`QUICK_BUDGET` when ``quick``); must be positive and at most 600.
    seed : int
        Seed of the grid and of the operands.

    Returns
    -------
    model : TimeModel
        Fitted to the medians; kernels with too few measurements keep the
        default model's parameters.
    measurements : list of Measurement
    """
    if budget is None:
        budget = QUICK_BUDGET if quick else FULL_BUDGET
    if not 0 < budget <= 600:
        raise ChainError(f"the calibration budget must be between 0 and 600 seconds; got {budget}")
    grid = calibration_grid(quick, seed)
    repeats = {"min_repeats": 2, "max_repeats": 5, "min_seconds": 0.002} if quick else {}
    measurements = measure(grid, budget, seed, progress, **repeats)
    model = fit_model(measurements, source="calibrated" + (" (quick)" if quick else ""))
    return model, measurements


def fit_quality(model: TimeModel, measurements: Sequence[Measurement]) -> str:
    """How well ``model`` predicts the measurements: median and 90th-percentile error.

    Errors are ratios predicted/measured, reported as percentages away from 1.
    """
    if not measurements:
        return "Fit: no measurements"
    lines = ["Fit (|predicted / measured − 1|, median and 90th percentile):"]
    for kernel in KERNELS:
        rows = [r for r in measurements if r.kernel == kernel]
        if not rows:
            continue
        m, k, n, seconds = (np.array([getattr(r, f) for r in rows], dtype=float)
                            for f in ("m", "k", "n", "seconds"))
        error = np.abs(model.kernels[kernel].predict(kernel, m, k, n) / seconds - 1)
        lines.append(f"  {kernel}: {len(rows)} shapes, {100 * np.median(error):.0f}% and "
                     f"{100 * np.quantile(error, 0.9):.0f}%")
    return "\n".join(lines)
