"""Fitting the time model to measured seconds (robust least squares on log time).

:func:`fit_kernel` fits one kernel's parameters with
:func:`scipy.optimize.least_squares`, from several starting points, within
an optional deadline; :func:`fit_model` fits every kernel of a calibration;
:func:`kernel_errors` says how well a model predicts measurements.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..errors import ChainError
from ..kernels import KERNELS, inner_dimension
from .model import (
    DEFAULT_MODEL,
    FRESH_FROM,
    PADS,
    SCALARS,
    THIN_FACTORS,
    KernelTime,
    TimeModel,
    runs_as_gemm,
)

__all__ = ["MIN_POINTS", "fit_kernel", "fit_model", "kernel_errors"]

#: Which of :data:`chainopt.timemodel.model.SCALARS` (overhead, per_madd,
#: per_byte_read, per_byte_written, cache_bytes, beyond_cache, ramp,
#: ramp_work, overlap, write_cache_bytes, write_beyond_cache, read_norm,
#: left_read, row_vector, small_write) each kernel fits; the others stay at 0
#: (only a GEMM combines its compute and read terms in a fitted norm and has
#: a small-matrix path, only a GEMV tells x @ A from A @ x). (A SYRK's or an
#: outer product's reads never dominate beyond the cache, so only their
#: written bytes have a knee.)
FITTED = {
    "gemm": (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1),
    "syrk": (1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0),
    "gemv": (1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0),
    "outer": (1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0),
    "scale": (1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "dot": (1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "diag": (1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
}

#: Bounds of the fitted parameters (fitting units, see
#: :meth:`KernelTime.as_vector`; pads from 0 to 1000): no more than 2,000
#: GFLOP/s or 2 TB/s, a knee between 50 kB and 512 MB, at most 30× slower
#: beyond it, a small-problem slowdown of at most 20×, an overlap norm from
#: 1 (a sum) to 9 (nearly a maximum), a read norm from 1 to 9, a left
#: operand's byte at most 10 times a right one's, x @ A from 1 to 3 times
#: the time of A @ x, the small path's writes at most 10× slower.
#: Physically plausible parameters, where the data would let a term run off
#: to an extreme.
_LOW = np.array([0.0, 1.0, 0.5, 0.5, 0.05, 0.0, 0.0, 0.01, 0.0, 0.05, 0.0, 1.0, 0.0, 0.0,
                 0.0])
_HIGH = np.array([1e4, 1e5, 1e5, 1e5, 512.0, 30.0, 20.0, 1e4, 8.0, 512.0, 30.0, 9.0, 9.0, 2.0,
                  9.0])

#: Bounds of the thin factors: from 10× faster to 10× slower than the rest.
_THIN_BOUNDS = (0.1, 10.0)

#: Starting points of the fit, as factors on the default parameters
#: (overhead, per multiply-add, per byte read, per byte written, cache
#: bytes, beyond-cache factor, ramp, ramp work, overlap, the written bytes'
#: knee and factor, pads), each tried with every (knee in MB, ramp work in
#: millions) of :data:`_KNEE_STARTS` (both knees start at the same place).
_STARTS = [np.array(factors, dtype=float) for factors in (
    (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
    (1, 0.3, 3, 3, 1, 0.3, 3, 1, 3, 1, 0.3, 0.7, 0.3, 0.3, 0.3, 0.2, 0.2, 0.2),
    (1, 3, 0.3, 0.3, 1, 3, 0.3, 1, 0.3, 1, 3, 1.5, 3, 3, 3, 3, 3, 3),
    (0.3, 1, 1, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),
)]
_KNEE_STARTS = ((0.5, 1.0), (2.0, 10.0), (8.0, 100.0), (32.0, 10.0))

#: Where an overlap starts when the starting kernel has none (a 2-norm).
_OVERLAP_START = 1.0

#: Where the norm of the compute and read terms starts when the starting
#: kernel takes their maximum (a 2-norm).
_READ_NORM_START = 2.0

#: Where the left operand's extra weight starts when the starting kernel has none.
_LEFT_READ_START = 0.5

#: Where a GEMV's row-vector factor starts when the starting kernel has none.
_ROW_VECTOR_START = 0.2

#: Where the small path's write factor starts when the starting kernel has none.
_SMALL_WRITE_START = 0.5

#: Function evaluations per start (each also costs a finite-difference Jacobian:
#: one evaluation per parameter, 47 for a GEMM).
_MAX_NFEV = 120

#: A fit whose cost per measurement is below this is exact (noise-free data):
#: the remaining starting points cannot improve on it.
_EXACT = 1e-20

#: Fewest measurements of a kernel for :func:`fit_model` to fit it.
MIN_POINTS = 8


class _OutOfTime(Exception):
    """The fit's deadline passed (caught in :func:`fit_kernel`)."""


def fit_kernel(kernel: str, m, k, n, seconds, start: KernelTime | None = None,
               extra=0.0, deadline: float | None = None, starts: int | None = None
               ) -> KernelTime:
    """Fit one kernel's parameters to measured seconds.

    Minimises the robust (soft L1, scale 0.1) sum of squared log-time errors
    with :func:`scipy.optimize.least_squares`, every parameter within
    physically plausible bounds, so a few disturbed timings (a descheduled
    BLAS thread) do not pull the fit. The problem is not convex (the max
    and the cache knee), so it starts from several points and keeps the
    best fit. Noise-free timings generated by a model are recovered exactly.

    Parameters
    ----------
    kernel : str
        One of :data:`chainopt.kernels.KERNELS`; :data:`FITTED` and
        :data:`chainopt.timemodel.model.PADS` say which parameters it has.
    m, k, n, seconds : array_like
        Shapes ``(m×k)·(k×n)`` and their measured seconds.
    start : KernelTime, optional
        Where the search starts (default: :data:`DEFAULT_MODEL`'s kernel).
    extra : array_like
        Known seconds in each measurement outside the kernel's parameters
        (the first touch of a fresh result), added to every prediction.
    deadline : float, optional
        A :func:`time.perf_counter` value: no fit runs past it; the best
        parameters seen so far are returned.
    starts : int, optional
        Try only the first ``starts`` starting points (default: all 16).

    Examples
    --------
    >>> truth = KernelTime(2e-6, per_byte_read=5e-11, per_byte_written=1e-10)
    >>> m = np.array([10, 100, 1000, 2000, 50]); n = m[::-1]
    >>> fitted = fit_kernel("dot", 1, m, 1, truth.predict("dot", 1, m, 1))
    >>> round(fitted.overhead * 1e6, 6), round(1e-9 / fitted.per_byte_read, 6)
    (2.0, 20.0)
    """
    m, k, n, seconds, extra = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (m, k, n, seconds, extra)))
    if not np.all(seconds > 0):
        raise ChainError("measured times must be positive")
    pads, thin = PADS[kernel], THIN_FACTORS[kernel]
    free = np.array(FITTED[kernel] + (1,) * (pads + thin), dtype=bool)
    x0 = np.where(free, _start_vector(kernel, start or DEFAULT_MODEL.kernels[kernel]), 0.0)
    target = np.log(seconds)
    best: dict = {"cost": np.inf, "x": None}

    def residuals(x_free):
        if deadline is not None and time.perf_counter() > deadline and best["x"] is not None:
            raise _OutOfTime
        x = x0.copy()
        x[free] = x_free
        model = KernelTime.from_vector(x, pads)
        r = np.log(model.predict(kernel, m, k, n) + extra) - target
        cost = float(np.sum(np.sqrt(1 + (r / 0.1) ** 2) - 1))  # soft L1, as least_squares'
        if cost < best["cost"]:
            best.update(cost=cost, x=x_free.copy())
        return r

    _search(residuals, x0, free, kernel, starts, lambda: best["cost"] < _EXACT * len(m))
    x = x0.copy()
    x[free] = best["x"]
    return KernelTime.from_vector(x, pads)


# Every thin size 2-16 is fitted on its own, per side. (Until 2026-12-01 the
# sizes from 9 on shared one factor, when the grid drew two or three shapes of
# each; with about a dozen, fitting each on its own predicted 239 held-out
# GEMMs of another generator better: |error| p90 24.6% against 27.4%, for thin
# sizes 9-16 24.6% against 27.7%. BLAS's register blocks make 12 and 16 unlike
# 9-11.)


def _bounds(kernel: str, free) -> tuple[np.ndarray, np.ndarray]:
    pads, thin = PADS[kernel], THIN_FACTORS[kernel]
    return tuple(np.concatenate([b, np.full(pads, e), np.full(thin, t)])[free]
                 for b, e, t in ((_LOW, 0.0, _THIN_BOUNDS[0]), (_HIGH, 1e3, _THIN_BOUNDS[1])))


def _search(residuals, x0, free, kernel: str, starts: int | None, exact) -> None:
    """Run least squares from each starting point until one fits ``exact()``ly or time is out."""
    from scipy.optimize import least_squares

    low, high = _bounds(kernel, free)
    pads, thin = PADS[kernel], THIN_FACTORS[kernel]
    knees = _KNEE_STARTS if free[4] or free[9] else [(None, None)]
    points = list(itertools.product(_STARTS, knees))[:starts]
    for factors, (cache, ramp_work) in points:
        factors = np.concatenate([factors[: len(SCALARS) + pads], np.ones(thin)])
        guess = np.maximum(x0 * factors, 1e-3)
        if cache is not None:
            guess[4] = guess[9] = cache
        if free[7]:
            guess[7] = ramp_work
        if free[8] and x0[8] == 0:
            guess[8] = _OVERLAP_START * factors[8]
        if free[11] and x0[11] == 0:
            guess[11] = _READ_NORM_START * factors[11]
        if free[12] and x0[12] == 0:
            guess[12] = _LEFT_READ_START * factors[12]
        if free[13] and x0[13] == 0:
            guess[13] = _ROW_VECTOR_START * factors[13]
        if free[14] and x0[14] == 0:
            guess[14] = _SMALL_WRITE_START * factors[14]
        if free[10] and x0[10] == 0:  # a start without a write knee: the read knee's
            guess[10] = max(x0[5], 1.0) * factors[10]
        guess = np.clip(guess[free], low, high)
        try:
            least_squares(residuals, guess, bounds=(low, high), loss="soft_l1", f_scale=0.1,
                          x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=_MAX_NFEV)
        except _OutOfTime:
            return
        if exact():
            return


def _start_vector(kernel: str, start: KernelTime) -> np.ndarray:
    """``start`` in fitting units, with the kernel's pads and thin factors (1 if absent)."""
    pads, thin = PADS[kernel], THIN_FACTORS[kernel]
    base = start.as_vector()[:len(SCALARS)]
    padding = np.resize(np.asarray(start.pads, dtype=float), pads) if start.pads else np.ones(pads)
    factors = np.asarray(start.thin, dtype=float) if len(start.thin) == thin else np.ones(thin)
    return np.concatenate([base, padding, factors])


def _rows_by_kernel(measurements: Iterable) -> dict[str, np.ndarray]:
    rows: dict[str, list] = {kernel: [] for kernel in KERNELS}
    for row in measurements:
        kernel, m, k, n, seconds = tuple(row)[:5]
        if kernel not in rows:
            raise ChainError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
        if runs_as_gemm(kernel, m, n):  # run, so fitted, as a GEMM
            kernel, k = "gemm", 1
        if kernel == "gemm":  # at the k it ran with
            k = inner_dimension(m, k, n)
        rows[kernel].append((m, k, n, seconds))
    return {kernel: np.array(data, dtype=float).reshape(-1, 4) for kernel, data in rows.items()}


def fit_model(measurements: Iterable, source: str = "calibrated",
              machine: dict | None = None, first_touch: float = 0.0,
              fresh_from: float = FRESH_FROM, deadline: float | None = None,
              starts: int | None = None, start: TimeModel | None = None) -> TimeModel:
    """Fit every kernel to measurements of ``(kernel, m, k, n, seconds, ...)``.

    Kernels with fewer than :data:`MIN_POINTS` measurements keep
    :data:`DEFAULT_MODEL`'s parameters. ``first_touch`` and ``fresh_from``
    (measured apart) are the model's, and are taken out of each measurement
    of a fresh result before its kernel is fitted. The model records the
    fingerprint of this machine unless ``machine`` is given. With a
    ``deadline`` (a :func:`time.perf_counter` value) the kernels share the
    time left in proportion to their measurements, and each returns its
    best parameters so far when its share runs out. Each kernel's search
    starts from ``start``'s parameters (default :data:`DEFAULT_MODEL`; a
    previous calibration of the machine is a good start).
    """
    from threadpoolctl import threadpool_limits

    if machine is None:  # before the limit below: the fingerprint records the threads
        from .store import fingerprint

        machine = fingerprint()
    with threadpool_limits(1):  # small SVDs: a second BLAS thread only waits on a busy core
        return _fit_all(_rows_by_kernel(measurements), source, machine, first_touch,
                        fresh_from, deadline, starts, start or DEFAULT_MODEL)


def _fit_all(rows, source, machine, first_touch, fresh_from, deadline, starts,
             start: TimeModel) -> TimeModel:
    shell = TimeModel(DEFAULT_MODEL.kernels, source, first_touch=first_touch,
                      fresh_from=fresh_from)
    kernels = dict(DEFAULT_MODEL.kernels)
    fitted = [kernel for kernel in KERNELS if len(rows[kernel]) >= MIN_POINTS]
    remaining = sum(len(rows[kernel]) for kernel in fitted)
    for kernel in fitted:
        m, k, n, seconds = rows[kernel].T
        share = None
        if deadline is not None:
            left = max(deadline - time.perf_counter(), 0.0)
            share = time.perf_counter() + left * len(m) / remaining
        remaining -= len(m)
        kernels[kernel] = fit_kernel(kernel, m, k, n, seconds, start.kernels[kernel],
                                     shell.fresh_time(kernel, m, n), share, starts)
    return TimeModel(kernels, source, machine, first_touch, fresh_from)


def kernel_errors(model: TimeModel, measurements: Sequence
                  ) -> Mapping[str, tuple[int, float, float]]:
    """Per kernel: (shapes, median, 90th percentile) of ``|predicted / measured - 1|``.

    >>> rows = [("dot", 1, k, 1, DEFAULT_MODEL.step_time(1, k, 1)) for k in (5, 50, 500)]
    >>> kernel_errors(DEFAULT_MODEL, rows)["dot"]
    (3, 0.0, 0.0)
    """
    errors = {}
    for kernel, data in _rows_by_kernel(measurements).items():
        if len(data):
            m, k, n, seconds = data.T
            error = np.abs(model.kernel_time(kernel, m, k, n) / seconds - 1)
            errors[kernel] = (len(data), float(np.median(error)), float(np.quantile(error, 0.9)))
    return errors
