"""Calibration: time every kernel over a grid of shapes and fit the time model.

``chainopt calibrate`` runs :func:`calibrate`: it measures each kernel of
:mod:`chainopt.kernels` exactly as :meth:`chainopt.Plan.execute` runs it
(fresh result arrays included) on float64 operands, over a grid of shapes
(:func:`calibration_grid`), in random order so that drift hits every
kernel alike, four passes over the grid; it measures the first touch of
fresh memory apart (:func:`measure_first_touch`), then fits
:class:`~chainopt.timemodel.TimeModel` to each shape's fastest median. The
whole of it, fit included, keeps to its budget (:data:`FULL_BUDGET`
seconds): measuring stops at :data:`MEASURE_SHARE` of it, and the fit gets
the rest as a deadline.

Timing follows the project's rules (``MEASURING.md``): one warm-up call,
then repeats until both a minimum count and a minimum total time are
reached, ``time.perf_counter_ns``, the median kept with its minimum and
maximum. Keeping the fastest of the passes' medians (and the robust fit)
guards against bursts of other processes on a shared machine; a quiet
machine still gives the best model, and :func:`calibrate` says how quiet
it was (:class:`MachineLoad`). Each kernel's fit is checked against the
measurements; where :data:`~chainopt.timemodel.DEFAULT_MODEL` predicts
them better, the default's parameters are kept, and a kernel whose error
stays large is reported as poor (:func:`judge`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import ChainError
from ..kernels import KERNELS, Diagonal, execute
from ..machine import OTHER_CORES_LIMIT, STEAL_LIMIT, Snapshot, measure_load, snapshot
from .fit import fit_model, kernel_errors
from .model import DEFAULT_MODEL, FRESH_FROM, TimeModel

__all__ = ["Calibration", "MachineLoad", "Measurement", "calibrate", "calibration_grid",
           "fit_quality", "judge", "measure", "measure_first_touch", "should_replace",
           "time_kernel"]

#: Seconds of a full calibration, measuring and fitting (``chainopt calibrate``).
FULL_BUDGET = 60.0

#: Budget of ``--quick`` (tests and CI).
QUICK_BUDGET = 3.0

#: The share of the budget spent measuring; the fit gets the rest.
MEASURE_SHARE = 0.75

#: Largest multiply-adds of one timed GEMM/SYRK in the full grid (~40-80 ms here).
MAX_WORK = 4.0e9

#: Dimensions the grid draws from: geometric steps of about √2 from 1 to
#: 3072, so that products of two large dimensions and a moderate one (a
#: 2400×2300 matrix times 100 columns: 44 MB streamed once while it
#: multiplies) are timed, not extrapolated.
#: (The large-output and large-GEMV families reach 8192.)
_SIZES = np.unique(np.round(np.geomspace(1, 3072, 25)).astype(int))

#: Results (or a GEMV's matrix) of the "large" families: 8 to 64 MB (128 MB).
LARGE_OUTPUT = (8e6, 64e6)
LARGE_GEMV = (8e6, 128e6)

#: Results of the small-path family (:func:`_small_path`): 1 to 4 MB.
SMALL_PATH_OUTPUT = (1e6, 4e6)

#: A kernel fits poorly when its median error exceeds the first of these,
#: or its 90th percentile the second.
POOR = (0.15, 0.5)


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


# -- the grid -------------------------------------------------------------------
def _pick(rng, sizes, low=1, high=4096):
    sizes = sizes[(sizes >= low) & (sizes <= high)]
    return int(rng.choice(sizes))


def _log_uniform(rng, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _thin_gemm(rng, sizes) -> tuple[int, int, int]:
    """A GEMM with one dimension from 2 to 16 and the other two large (a third
    of the time, a second one from 2 to 16 too).

    Chains are full of these (a matrix times a few columns), and they are
    where BLAS is least efficient: packing the large operand costs more
    than the arithmetic. Every size from 2 to 16 is drawn (the time model
    has a factor for each, :data:`chainopt.timemodel.THIN`).
    """
    second = int(rng.integers(2, 17)) if rng.random() < 1 / 3 else _pick(rng, sizes, 64)
    dims = [int(rng.integers(2, 17)), second, _pick(rng, sizes, 64)]
    where = int(rng.integers(3))
    dims[0], dims[where] = dims[where], dims[0]
    return tuple(dims)


def _two_sides(rng, nbytes: tuple[float, float], low: int = 256, high: int = 8192):
    """``(a, b)`` with ``8ab`` log-uniform in ``nbytes`` and each side in [low, high]."""
    elements = _log_uniform(rng, *nbytes) / 8
    a = _log_uniform(rng, max(low, elements / high), min(high, elements / low))
    return int(round(a)), int(round(elements / a))


def _large_gemv(kernel: str, rng) -> tuple[int, int, int]:
    """A GEMV on a large matrix (8-128 MB), as ``A @ x`` or ``x @ A``."""
    a, b = _two_sides(rng, LARGE_GEMV, 16)
    return (a, b, 1) if rng.random() < 0.5 else (1, a, b)


def _wide(kernel: str, rng) -> tuple[int, int, int]:
    """A product with a large result (8-64 MB) and an inner dimension of 1
    (an outer product) or 2 to 16 (a GEMM)."""
    m, n = _two_sides(rng, LARGE_OUTPUT)
    return m, (1 if kernel == "outer" else int(round(_log_uniform(rng, 2, 16)))), n


def _small_path(kernel: str, rng) -> tuple[int, int, int]:
    """A product with a result of 1 to 4 MB (:data:`SMALL_PATH_OUTPUT`) from an
    inner dimension of 2 to 8 (1 for an outer product, which runs padded).

    Its multiply-adds fall either side of
    :data:`chainopt.timemodel.model.SMALL_WORK`, where OpenBLAS switches from
    its one-thread small-matrix path to the threaded one: the same result
    takes up to 3× longer on the small path.
    """
    m, n = _two_sides(rng, SMALL_PATH_OUTPUT, 64, 4096)
    return m, (1 if kernel == "outer" else int(rng.integers(2, 9))), n


def _panel(kernel: str, rng) -> tuple[int, int, int]:
    """A GEMM of two large dimensions (512-3072) and a moderate one (17-400),
    in any of the three places, at most :data:`MAX_WORK` multiply-adds.

    A large matrix times a block of a few hundred columns (or the
    transpose) streams its large operand through the cache about once
    while it multiplies: the reading overlaps the arithmetic only in part.
    Chains are full of these, and a random triple of sizes rarely draws one.
    """
    while True:
        dims = [int(round(_log_uniform(rng, 512, 3072))) for _ in range(2)]
        dims.insert(int(rng.integers(3)), int(round(_log_uniform(rng, 17, 400))))
        if math.prod(dims) <= MAX_WORK:
            return dims[0], dims[1], dims[2]


def _dot_like(kernel: str, rng) -> tuple[int, int, int]:
    """A GEMM of two thin outer dimensions (2 to 16) and a long inner one
    (256 to 4096): a few rows times a few columns, as chains of vectors and
    thin factors make them. Its time is reading the operands rather than the
    padded arithmetic, and a random thin GEMM rarely draws one."""
    m, n = (int(rng.integers(2, 17)) for _ in range(2))
    return m, int(round(_log_uniform(rng, 256, 4096))), n


def _shape_for(kernel: str, rng, sizes, max_work: float) -> tuple[int, int, int]:
    """One random shape on which ``kernel`` runs (:data:`THIN_SHARE` of the GEMMs thin)."""
    while True:
        a, b, c = (_pick(rng, sizes, 2) for _ in range(3))
        if kernel == "gemm" and rng.random() < THIN_SHARE:
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


#: The share of the grid's GEMMs that are thin (:func:`_thin_gemm`): the
#: time model fits a factor per thin size and side (30 of them), each from
#: about 8 shapes.
THIN_SHARE = 2 / 3

#: Shapes per kernel in the full grid (the quick grid takes a sixteenth, at least 10).
GRID_COUNTS = {"gemm": 540, "syrk": 120, "gemv": 120, "dot": 30, "outer": 90,
               "scale": 60, "diag": 30}

#: The large families of the full grid (``--quick``: none): per kernel, each
#: family's shape function and its number of shapes.
LARGE_FAMILIES = {"gemm": ((_wide, 40), (_panel, 48), (_dot_like, 32), (_small_path, 32)),
                  "outer": ((_wide, 24), (_small_path, 12)), "gemv": ((_large_gemv, 24),)}


def calibration_grid(quick: bool = False, seed: int = 0) -> list[tuple[str, int, int, int]]:
    """The shapes to time: ``(kernel, m, k, n)`` in random (interleaved) order.

    The full grid draws dimensions from 1 to 3072 (:data:`GRID_COUNTS`
    shapes per kernel, two thirds of the GEMMs thin, GEMM and SYRK work capped at
    :data:`MAX_WORK` multiply-adds), plus the families of
    :data:`LARGE_FAMILIES`: GEMMs and outer products whose result has 8 to
    64 MB (:data:`LARGE_OUTPUT`) with an inner dimension of 2 to 16 (1 for
    the outer products), panels, dot-like GEMMs (two outer dimensions of 2
    to 16, an inner one of 256 to 4096), products either side of BLAS's
    small-matrix path (results of 1 to 4 MB, inner dimension 1 to 8), and
    GEMVs on matrices of 8 to 128 MB. The quick
    grid keeps every dimension at most 96 and takes a sixteenth of the
    shapes (at least 10 per kernel).

    Examples
    --------
    >>> grid = calibration_grid(quick=True)
    >>> sorted({kernel for kernel, *_ in grid}) == sorted(KERNELS)
    True
    >>> max(max(shape) for _, *shape in grid) <= 96
    True
    >>> large = [(kernel, k) for kernel, m, k, n in calibration_grid() if 8 * m * n >= 8e6]
    >>> sorted({k for kernel, k in large if kernel in ("gemm", "outer") and k <= 16})[:4]
    [1, 2, 3, 4]
    >>> panels = [s for kernel, *s in calibration_grid()
    ...           if kernel == "gemm" and sorted(s)[1] >= 512 and 17 <= min(s) <= 400]
    >>> len(panels) >= LARGE_FAMILIES["gemm"][1][1]
    True
    """
    rng = np.random.default_rng(seed)
    sizes = _SIZES[_SIZES <= 96] if quick else _SIZES
    grid = []
    for kernel in KERNELS:
        count = max(10, GRID_COUNTS[kernel] // 16) if quick else GRID_COUNTS[kernel]
        grid += [(kernel, *_shape_for(kernel, rng, sizes, MAX_WORK)) for _ in range(count)]
        if not quick:
            grid += [(kernel, *family(kernel, rng))
                     for family, count in LARGE_FAMILIES.get(kernel, ()) for _ in range(count)]
    order = rng.permutation(len(grid))
    return [grid[i] for i in order]


# -- timing ---------------------------------------------------------------------
def _array(rng, shape) -> np.ndarray:
    """Random operands; large ones filled cheaply (BLAS time does not depend on values)."""
    if math.prod(shape) > 1 << 20:
        return np.full(shape, 0.5)
    return rng.standard_normal(shape)


def _operands(kernel: str, m: int, k: int, n: int, rng):
    """Operands as a plan's execution would see them."""
    if kernel == "diag":
        return Diagonal(rng.standard_normal(m)), Diagonal(rng.standard_normal(m))
    if kernel == "scale":
        if m == k:
            return Diagonal(rng.standard_normal(m)), _array(rng, (m, n))
        return _array(rng, (m, k)), Diagonal(rng.standard_normal(k))
    if kernel == "syrk":
        # XXᵀ with X C-contiguous, or YᵀY with Y C-contiguous: both views.
        if rng.random() < 0.5:
            x = _array(rng, (m, k))
            return x, x.T
        y = _array(rng, (k, m))
        return y.T, y
    return _array(rng, (m, k)), _array(rng, (k, n))


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
            passes: int = 4, **repeats) -> list[Measurement]:
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


def _fill_fresh(nbytes: int) -> None:
    np.empty(nbytes // 8).fill(1.0)


def measure_first_touch(sizes: Sequence[float] = (40e6, 56e6, 72e6), repeats: int = 5
                        ) -> float:
    """Seconds per byte of first-touching freshly mapped memory, against reused memory.

    Fills a fresh array (of at least :data:`~chainopt.timemodel.model.FRESH_FROM`
    bytes, which glibc maps afresh every time) and a reused one of the same
    size, interleaved; the difference of their fastest times over the bytes
    (other processes only add time), the median over ``sizes``, is what a
    fresh result pays beyond writing it.

    >>> 0 <= measure_first_touch([40e6], repeats=2) < 1e-8
    True
    """
    slopes = []
    for nbytes in sizes:
        nbytes = max(int(nbytes), int(FRESH_FROM) + 4096)
        reused = np.empty(nbytes // 8)
        fresh_ns, reused_ns = [], []
        for _ in range(repeats + 1):  # the first round warms up
            start = time.perf_counter_ns()
            _fill_fresh(nbytes)
            middle = time.perf_counter_ns()
            reused.fill(1.0)
            fresh_ns.append(middle - start)
            reused_ns.append(time.perf_counter_ns() - middle)
        difference = min(fresh_ns[1:]) - min(reused_ns[1:])  # other work only adds time
        slopes.append(max(difference, 0.0) * 1e-9 / nbytes)
        del reused
    return float(np.median(slopes))


# -- how busy the machine was ---------------------------------------------------
class MachineLoad(NamedTuple):
    """How busy the machine was while a calibration measured.

    ``others`` is how many cores other processes kept busy on average
    (``/proc/stat``'s busy time minus this process's CPU time, over the wall
    time), ``steal`` the share the hypervisor gave to other machines,
    ``before`` and ``after`` the 1-minute load averages (NaN where unknown).
    Read with :mod:`chainopt.machine`, whose rule :attr:`contended` applies.
    """

    before: float
    after: float
    others: float
    steal: float
    cores: int

    @property
    def contended(self) -> bool:
        """Other processes held over half a core on average, or steal took over 5%.

        The load averages are recorded but do not decide: the 1-minute
        average lags (a benchmark that finished a moment ago still shows as
        a load of 2 to 4), and our own BLAS threads add to it; the busy time
        of ``/proc/stat`` minus this process's CPU time is what other
        processes actually took while the calibration measured.

        >>> MachineLoad(4.4, 3.8, 0.12, 0.0, 2).contended
        False
        >>> MachineLoad(0.5, 2.5, 1.2, 0.0, 2).contended
        True
        """
        return bool(self.others > OTHER_CORES_LIMIT or self.steal > STEAL_LIMIT)

    def describe(self) -> str:
        """One line: the figures and the verdict."""
        verdict = "contended" if self.contended else "quiet"
        return (f"Machine: {verdict} (load {self.before:.2f} before, {self.after:.2f} after; "
                f"other processes held {self.others:.2f} of {self.cores} cores, "
                f"steal {100 * self.steal:.1f}%)")


def _machine_load(start: Snapshot) -> MachineLoad:
    """The load between ``start`` and now, by the rule of :mod:`chainopt.machine`."""
    record = measure_load(start)
    before, after = (record[key][0] if record[key] else math.nan
                     for key in ("load_before", "load_after"))
    return MachineLoad(before, after, record["other_cores"] or 0.0,
                       (record["steal_percent"] or 0.0) / 100, record["cores"])


# -- calibrating ----------------------------------------------------------------
class Calibration(NamedTuple):
    """What :func:`calibrate` found: the model, its measurements, the machine's load,
    the seconds spent measuring and fitting, and each kernel's verdict (:func:`judge`)."""

    model: TimeModel
    measurements: list[Measurement]
    load: MachineLoad
    seconds: tuple[float, float]
    verdicts: Mapping[str, str]


def _check_budget(budget: float) -> None:
    if not (isinstance(budget, (int, float)) and 0 < budget <= 600):
        raise ChainError(f"the calibration budget must be between 0 and 600 seconds; got "
                         f"{budget}")


def calibrate(quick: bool = False, budget: float | None = None, seed: int = 0,
              progress: Callable[[int, int], None] | None = None,
              started: float | None = None) -> Calibration:
    """Measure the kernels on this machine and fit a :class:`TimeModel`.

    Parameters
    ----------
    quick : bool
        A small grid (dimensions up to 96) with few repeats: seconds, for
        tests; the fitted model is only as good as that.
    budget : float, optional
        Seconds of the whole calibration, fit included (default
        :data:`FULL_BUDGET`, or :data:`QUICK_BUDGET` when ``quick``); must
        be positive and at most 600.
    seed : int
        Seed of the grid and of the operands.
    progress : callable, optional
        Called as ``progress(done, total)`` after each timed shape.
    started : float, optional
        The :func:`time.perf_counter` at which the budget began (the CLI
        passes its own start; default: now).

    Returns
    -------
    Calibration
        The model (each kernel fitted, or the default's where that predicts
        the measurements better), the measurements, the machine's load,
        the seconds spent and each kernel's verdict.

    Raises
    ------
    ChainError
        If the budget is out of range, or too short to measure anything.
    """
    budget = (QUICK_BUDGET if quick else FULL_BUDGET) if budget is None else budget
    _check_budget(budget)
    start = time.perf_counter() if started is None else started
    machine = snapshot()
    deadline = start + budget
    first_touch = 0.0
    if budget >= 1:
        first_touch = measure_first_touch([40e6], 2) if quick else measure_first_touch()
    repeats: dict[str, Any] = (
        {"min_repeats": 2, "max_repeats": 5, "min_seconds": 0.002} if quick else {})
    measuring = max(start + MEASURE_SHARE * budget - time.perf_counter(), 0.0)
    measurements = measure(calibration_grid(quick, seed), measuring, seed, progress, **repeats)
    load = _machine_load(machine)
    if not measurements:
        raise ChainError(f"the calibration budget of {budget:g} s was too short to measure "
                         "any shape; give at least 1 second (--budget 1)")
    measured = time.perf_counter()
    model = fit_model(measurements, source="calibrated" + (" (quick)" if quick else ""),
                      first_touch=first_touch, deadline=deadline - 0.02 * budget,
                      start=_previous())
    model, verdicts = judge(model, measurements)
    fitted = time.perf_counter()
    quality = _quality(model, measurements, load, verdicts, (measured - start, fitted - measured))
    model = TimeModel(model.kernels, model.source, model.fingerprint, model.first_touch,
                      model.fresh_from, quality)
    return Calibration(model, measurements, load, (measured - start, fitted - measured),
                       verdicts)


def _previous() -> TimeModel | None:
    """This machine's earlier calibration, where the fit starts (None: the default)."""
    from .store import cached_model

    return cached_model()


def judge(model: TimeModel, measurements: Sequence[Measurement]
          ) -> tuple[TimeModel, dict[str, str]]:
    """Keep each fitted kernel only where it predicts the measurements better than
    the default's; say which kernels fit poorly (:data:`POOR`).

    Better means a smaller sum of the median and the 90th percentile of the
    errors: a planner's regret comes from the tail as much as from the
    typical step (a GEMV fit at 4.8% and 16.5% beats a default at 4.0% and
    19.4%).

    Returns the model, with the default's parameters where they won, and a
    verdict per measured kernel: ``"fitted"``, ``"fitted, poor"``,
    ``"default"`` or ``"default, poor"``.
    """
    fitted = kernel_errors(model, measurements)
    default = kernel_errors(TimeModel(DEFAULT_MODEL.kernels, first_touch=model.first_touch,
                                      fresh_from=model.fresh_from), measurements)
    kernels, verdicts = dict(model.kernels), {}
    for kernel, (_, median, p90) in fitted.items():
        if default[kernel][1] + default[kernel][2] < median + p90:
            kernels[kernel] = DEFAULT_MODEL.kernels[kernel]
            median, p90, verdicts[kernel] = default[kernel][1], default[kernel][2], "default"
        else:
            verdicts[kernel] = "fitted"
        if median > POOR[0] or p90 > POOR[1]:
            verdicts[kernel] += ", poor"
    return TimeModel(kernels, model.source, model.fingerprint, model.first_touch,
                     model.fresh_from), verdicts


def _quality(model: TimeModel, measurements, load: MachineLoad, verdicts, seconds
             ) -> dict[str, Any]:
    errors = kernel_errors(model, measurements)
    score = _score(errors)
    poor = sorted(kernel for kernel, verdict in verdicts.items() if "poor" in verdict)
    summary = (f"{'contended' if load.contended else 'quiet'} machine, median error "
               f"{100 * score:.0f}%" + (f", poor fit for {', '.join(poor)}" if poor else ""))
    return {
        "score": score, "contended": load.contended, "summary": summary,
        "load": {"before": load.before, "after": load.after, "others": load.others,
                 "steal": load.steal, "cores": load.cores},
        "kernels": {kernel: {"shapes": shapes, "median": median, "p90": p90,
                             "verdict": verdicts[kernel]}
                    for kernel, (shapes, median, p90) in errors.items()},
        "seconds": {"measuring": seconds[0], "fitting": seconds[1]},
    }


def _score(errors: Mapping[str, tuple[int, float, float]]) -> float:
    """The median error over all measurements (each kernel's median, weighted by shapes)."""
    total = sum(shapes for shapes, _, _ in errors.values())
    return sum(shapes * median for shapes, median, _ in errors.values()) / max(total, 1)


def should_replace(new: TimeModel, old: TimeModel | None) -> tuple[bool, str]:
    """Whether a new calibration may replace an earlier one without ``--force``.

    A calibration on a contended machine does not replace an earlier one
    made on a quiet machine, nor one whose fit was at least as good.

    >>> quiet = TimeModel(DEFAULT_MODEL.kernels, quality={"contended": False, "score": 0.1})
    >>> busy = TimeModel(DEFAULT_MODEL.kernels, quality={"contended": True, "score": 0.05})
    >>> should_replace(busy, quiet)[0], should_replace(quiet, busy)[0]
    (False, True)
    """
    new_quality, old_quality = new.quality or {}, (old.quality or {}) if old else {}
    if old is None or not new_quality.get("contended"):
        return True, ""
    old_score = old_quality.get("score", math.inf)
    if not old_quality.get("contended", False):
        return False, "the earlier calibration was made on a quiet machine"
    if old_score <= new_quality.get("score", math.inf):
        return False, (f"the earlier fit was at least as good (median error "
                       f"{100 * old_score:.0f}% against {100 * new_quality['score']:.0f}%)")
    return True, ""


def fit_quality(model: TimeModel, measurements: Sequence[Measurement],
                verdicts: Mapping[str, str] | None = None) -> str:
    """How well ``model`` predicts the measurements: median and 90th-percentile error.

    Errors are ratios predicted/measured, reported as percentages away from
    1; each kernel's verdict (:func:`judge`) follows when given.
    """
    if not measurements:
        return "Fit: no measurements"
    lines = ["Fit (|predicted / measured − 1|, median and 90th percentile):"]
    for kernel, (shapes, median, p90) in kernel_errors(model, measurements).items():
        verdict = f" ({verdicts[kernel]})" if verdicts and kernel in verdicts else ""
        lines.append(f"  {kernel}: {shapes} shapes, {100 * median:.0f}% and "
                     f"{100 * p90:.0f}%{verdict}")
    return "\n".join(lines)
