"""The time model: predicted seconds of each kernel, fitted on the machine.

Counting multiplications treats every product alike, but a matrix times a
vector runs at a twentieth of the speed of a large GEMM, a GEMM with a
dimension of 2 to 8 spends its time packing its large operand rather than
multiplying, a product with an inner dimension of 1 is bound by writing its
result, and ``AᵀA`` runs as a SYRK at about half the work. The time model
predicts the seconds of one step from its kernel (:mod:`chainopt.kernels`)
and its shape ``(m×k)·(k×n)``::

    t = overhead + max(work · per_madd · (1 + ramp · W0 / (work + W0)),
                       read · per_byte_read)
                 + written · per_byte_written

``work`` counts multiply-adds on *padded* dimensions, ``(m + a)(k + b)(n + c)``
for a GEMM: a pad is the size below which a dimension stops filling the
BLAS kernel's registers and cache blocks, so the rate of thin products
falls as ``rate · m / (m + a)``. The ramp lets the rate rise with the size
of the problem, from ``rate / (1 + ramp)`` for small products to ``rate``
for products well beyond ``W0`` multiply-adds (``ramp_work``): BLAS runs
small products on one thread and large ones on all. ``read`` and ``written`` are bytes, and
bytes beyond the cache cost more: ``B`` bytes count as
``B + beyond_cache · max(B - cache_bytes, 0)``, a knee that the fit places
near the L2 cache. The written bytes are outside the max: a fresh result
pays its page faults and its first write whatever the arithmetic does.
A GEMM whose smaller outer dimension ``min(m, n)`` is from 2 to 8 runs
BLAS's edge-case kernels, whose speed depends on that size modulo the
register block rather than smoothly (3 columns slower than 4, 5-7 slower
than 8), so the max term is multiplied by a fitted factor per size, one table for
few rows and one for few columns (``thin``, see :data:`THIN`).
Per kernel (``r = max(m, n)`` for a GEMV, all sizes in float64 elements):

=========  ======================  ====================  ===========
kernel     work (multiply-adds)    read                  written
=========  ======================  ====================  ===========
``gemm``   ``(m+a)(k+b)(n+c)``     ``mk + kn``           ``mn``
``syrk``   ``(m+a)²(k+b) / 2``     ``mk``                ``m²``
``gemv``   --                      ``(r+a)(k+b)``        --
``outer``  --                      ``m + n``             ``mn``
``dot``    --                      ``2k``                --
``scale``  --                      ``2mn + k``           --
``diag``   --                      ``3m``                --
=========  ======================  ====================  ===========

A GEMV, a DOT, an outer product and diagonal scaling are bound by memory:
they have no work term, and the last four read and write in a fixed
proportion, so one bandwidth covers their traffic. (A GEMV's traffic is its
matrix, padded like a GEMM's work.) Every parameter is per kernel, at most
nine for a GEMM, all non-negative, fitted by :func:`fit_model` (robust
least squares on log time with :func:`scipy.optimize.least_squares`, from
several starting points) to the timings of ``chainopt calibrate``
(:mod:`chainopt.timemodel.calibrate`).

Models live as JSON in the user's cache directory, one file per machine
fingerprint (CPU model, BLAS vendor, architecture, version and threads, see
:func:`fingerprint`); a changed fingerprint finds no file and falls back to
:data:`DEFAULT_MODEL`. :func:`load_model` resolves which model applies.

Predictions assume float64 operands, the dtype the model is calibrated on;
float32 and complex products scale their times roughly alike across
kernels, so the chosen order rarely changes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..costs import walk_steps
from ..errors import ChainError, ChainTypeError
from ..kernels import KERNELS, is_gram_step, kernel_conditions

__all__ = [
    "DEFAULT_MODEL",
    "ENV_CACHE_DIR",
    "ENV_MODEL",
    "KernelTime",
    "TimeModel",
    "cache_dir",
    "cache_path",
    "fingerprint",
    "fit_kernel",
    "fit_model",
    "load_model",
    "save_model",
]

#: Environment variable naming a model file to use instead of the cache.
ENV_MODEL = "CHAINOPT_TIME_MODEL"

#: Environment variable overriding the cache directory (tests use it).
ENV_CACHE_DIR = "CHAINOPT_CACHE_DIR"

#: Bytes per element the model is calibrated on (float64).
ITEMSIZE = 8

#: How many pads each kernel's work (or GEMV's traffic) has.
PADS = {"gemm": 3, "syrk": 2, "gemv": 2, "dot": 0, "outer": 0, "scale": 0, "diag": 0}

#: The thin sizes a GEMM's table covers: a product whose smaller outer
#: dimension ``min(m, n)`` is one of these takes its own factor, one table
#: for few rows (``m <= n``) and one for few columns (``n < m``): BLAS's
#: register tiles are not square, so the two sides differ.
THIN = tuple(range(2, 9))

#: How many thin factors each kernel fits (only a GEMM has tables: rows, then columns).
THIN_FACTORS = {kernel: 2 * len(THIN) if kernel == "gemm" else 0 for kernel in PADS}

#: Which of (overhead, per_madd, per_byte_read, per_byte_written,
#: cache_bytes, beyond_cache, ramp, ramp_work) each kernel fits; the others
#: stay at 0.
FITTED = {
    "gemm": (1, 1, 1, 1, 1, 1, 1, 1),
    "syrk": (1, 1, 1, 1, 1, 1, 1, 1),
    "gemv": (1, 0, 1, 0, 1, 1, 0, 0),
    "outer": (1, 0, 1, 1, 1, 1, 0, 0),
    "scale": (1, 0, 1, 0, 1, 1, 0, 0),
    "dot": (1, 0, 1, 0, 0, 0, 0, 0),
    "diag": (1, 0, 1, 0, 0, 0, 0, 0),
}


def _work(kernel: str, m, k, n, pads):
    """Padded multiply-adds of a GEMM or a SYRK, as (factor of m and n) · (k + pad)."""
    factor = k + pads[1] if pads[1] else k
    if kernel == "gemm":
        return (m + pads[0]) * (n + pads[2]), factor
    return 0.5 * (m + pads[0]) ** 2, factor


def _read(kernel: str, m, k, n, pads):
    """Bytes read by ``kernel`` (factors of m and n alone multiplied first: in
    the planner's DP they are one per row)."""
    if kernel == "gemm":
        return (ITEMSIZE * (m + n)) * k
    if kernel == "syrk":
        return (ITEMSIZE * m) * k
    if kernel == "gemv":
        return (ITEMSIZE * (np.maximum(m, n) + pads[0])) * (k + pads[1])
    if kernel == "outer":
        return ITEMSIZE * (m + n)
    return ITEMSIZE * {"dot": 2 * k, "scale": 2 * m * n + k, "diag": 3 * m}[kernel]


def _written(kernel: str, m, n):
    """Bytes written by ``kernel`` (0 for those whose traffic is all in the read term)."""
    if kernel in ("gemm", "outer"):
        return ITEMSIZE * m * n
    return ITEMSIZE * m * m if kernel == "syrk" else 0.0


def _row_subset(mask, values):
    """Row indices where a column ``mask`` (one entry per row of the 2-D
    ``values``) holds, or None when ``mask`` is not such a column."""
    if values.ndim != 2 or mask.shape != (values.shape[0], 1) or values.shape[1] == 1:
        return None
    return np.flatnonzero(mask[:, 0])


@dataclasses.dataclass(frozen=True)
class KernelTime:
    """Fitted parameters of one kernel (seconds per unit, see the module).

    Attributes
    ----------
    overhead : float
        Seconds per call, whatever the size (Python, dispatch, threads).
    per_madd : float
        Seconds per padded multiply-add (1 / rate); 0 for memory-bound kernels.
    per_byte_read, per_byte_written : float
        Seconds per byte read and written within the cache (1 / bandwidth).
    cache_bytes : float
        Where the knee is: bytes beyond this many cost more.
    beyond_cache : float
        How much more: a byte beyond the knee costs ``1 + beyond_cache`` bytes.
    ramp, ramp_work : float
        Small products run ``1 + ramp`` times slower per multiply-add than
        products well beyond ``ramp_work`` multiply-adds.
    pads : tuple of float
        The padding of each dimension of the work term (see the module).
    thin : tuple of float
        For a GEMM, one factor per size in :data:`THIN` for few rows
        (``m <= n``), then one per size for few columns (``n < m``): a
        product whose smaller outer dimension is that size takes that many
        times the time of the compute-or-memory term. BLAS runs such
        products on edge-case kernels whose speed depends on the size
        modulo the register block, not smoothly (here a 695×290 matrix times
        3 columns took 56 µs, times 4 columns 41 µs). Empty: no table.
    """

    overhead: float
    per_madd: float = 0.0
    per_byte_read: float = 0.0
    per_byte_written: float = 0.0
    cache_bytes: float = 0.0
    beyond_cache: float = 0.0
    ramp: float = 0.0
    ramp_work: float = 0.0
    pads: tuple[float, ...] = ()
    thin: tuple[float, ...] = ()

    def _effective(self, nbytes):
        return nbytes + self.beyond_cache * np.maximum(nbytes - self.cache_bytes, 0.0)

    def predict(self, kernel: str, m, k, n) -> np.ndarray:
        """Seconds of ``kernel`` on ``(m×k)·(k×n)`` (arrays broadcast).

        Factors of ``m`` and ``n`` alone are formed first, at their own
        shape: the planner passes a column of ``m`` and ``n`` (one per row)
        against a block of ``k``.
        """
        m, k, n = (np.asarray(d, dtype=float) for d in (m, k, n))
        body = self._body(kernel, m, k, n)
        times = body + (self.overhead + self._effective(_written(kernel, m, n))
                        * self.per_byte_written)
        shape = np.broadcast_shapes(m.shape, k.shape, n.shape)
        return times if times.shape == shape else np.broadcast_to(times, shape).copy()

    def _body(self, kernel: str, m, k, n):
        """The max term, times the thin factor."""
        thin = self._thin_factor(m, n) if self.thin else 1.0
        if kernel not in ("gemm", "syrk") or not self.per_madd:  # no compute term
            return np.maximum(self._memory(kernel, m, k, n), 0.0) * thin
        scale, factor = _work(kernel, m, k, n, self.pads)
        if not self._foldable():
            compute = self._compute(self.per_madd * scale, factor, self.per_madd)
            return np.maximum(compute, self._memory(kernel, m, k, n)) * thin
        compute = self._compute(self.per_madd * scale * thin, factor, self.per_madd * thin)
        slow = ~self._compute_bound(kernel, m, n)
        if not slow.any():
            return compute
        rows = _row_subset(slow, compute)
        if rows is None:
            return np.maximum(compute, self._memory(kernel, m, k, n) * thin)
        pick = [x[rows] if x.ndim == 2 and x.shape[0] > 1 else x for x in (m, k, n)]
        thin_rows = thin[rows] if isinstance(thin, np.ndarray) and thin.ndim == 2 else thin
        compute[rows] = np.maximum(compute[rows], self._memory(kernel, *pick) * thin_rows)
        return compute

    def _compute(self, scale, factor, per_madd):
        """``per_madd · work · (1 + ramp · W0 / (work + W0))`` with ``work`` =
        ``scale · factor / per_madd`` (the constant folded into the row factor)."""
        compute = np.multiply(scale, factor)
        if self.ramp and compute.ndim:  # in place: a block's temporaries are large
            ramp_work = per_madd * self.ramp_work
            ramp = np.add(compute, ramp_work)
            np.divide(self.ramp * ramp_work, ramp, out=ramp)
            ramp += 1
            compute *= ramp
        elif self.ramp:
            ramp_work = per_madd * self.ramp_work
            compute = compute * (1 + self.ramp * ramp_work / (compute + ramp_work))
        return compute

    def _memory(self, kernel: str, m, k, n):
        return self._effective(_read(kernel, m, k, n, self.pads)) * self.per_byte_read

    def _foldable(self) -> bool:
        """Whether the thin factor may enter the max and :meth:`_compute_bound`
        holds: every parameter non-negative, every thin factor positive (as
        the fit gives them)."""
        params = (self.per_madd, self.per_byte_read, self.beyond_cache, self.ramp,
                  self.ramp_work, self.cache_bytes, *self.pads)
        return min(params) >= 0 and min(self.thin, default=1.0) > 0

    def _compute_bound(self, kernel: str, m, n):
        """Where the compute term is at least the memory term whatever ``k``.

        With non-negative parameters, compute ≥ per_madd · (m+a)(n+c) · k and
        memory ≤ per_byte_read · (1 + beyond_cache) · 8k(m + n) for a GEMM
        (``(m+a)²/2`` and ``8km`` for a SYRK).
        """
        scale, _ = _work(kernel, m, 0.0, n, self.pads)
        traffic = ITEMSIZE * (m + n if kernel == "gemm" else m)
        return self.per_madd * scale >= self.per_byte_read * (1 + self.beyond_cache) * traffic

    def _thin_factor(self, m, n):
        thin = self.thin * (2 * len(THIN) // len(self.thin))  # one table: both sides
        table = np.concatenate([[1.0], thin])  # index 0: not thin
        smaller = np.minimum(m, n)
        index = smaller - THIN[0] + 1 + np.where(m <= n, 0, len(THIN))
        index = np.where((smaller >= THIN[0]) & (smaller <= THIN[-1]), index, 0)
        return table[index.astype(int)]

    def as_vector(self) -> np.ndarray:
        """Parameters in fitting units: µs, ps/madd, ps/byte, ps/byte, MB, 1, 1,
        millions of multiply-adds, pads, thin factors."""
        return np.array([self.overhead * 1e6, self.per_madd * 1e12,
                         self.per_byte_read * 1e12, self.per_byte_written * 1e12,
                         self.cache_bytes * 1e-6, self.beyond_cache, self.ramp,
                         self.ramp_work * 1e-6, *self.pads, *self.thin])

    @classmethod
    def from_vector(cls, x, pads: int | None = None) -> KernelTime:
        """Inverse of :meth:`as_vector`; ``pads`` of the values after the
        eighth are pads, the rest thin factors (default: all pads)."""
        x = [float(v) for v in x]
        pads = len(x) - 8 if pads is None else pads
        return cls(x[0] * 1e-6, x[1] * 1e-12, x[2] * 1e-12, x[3] * 1e-12, x[4] * 1e6, x[5],
                   x[6], x[7] * 1e6, tuple(x[8:8 + pads]), tuple(x[8 + pads:]))

    def describe(self, kernel: str) -> str:
        """One line with the rates as people quote them.

        Examples
        --------
        >>> params = KernelTime(2e-6, 1e-11, 5e-11, 1e-10, 2e6, 3.0, 1.0, 1e7, (8, 8, 8))
        >>> print(params.describe("gemm"))
        gemm: overhead 2 µs, 200 GFLOP/s, 100 when small (≪ 10M multiply-adds), \
read 20 GB/s, write 10 GB/s, 4× slower beyond 2 MB, pads 8, 8, 8
        """
        parts = [f"{kernel}: overhead {self.overhead * 1e6:.3g} µs"]
        if self.per_madd > 1e-16:  # below: a term the fit found negligible
            parts.append(f"{2e-9 / self.per_madd:.3g} GFLOP/s")
            if self.ramp > 1e-3:
                parts.append(f"{2e-9 / self.per_madd / (1 + self.ramp):.3g} when small "
                             f"(≪ {self.ramp_work / 1e6:.3g}M multiply-adds)")
        for label, value in (("read", self.per_byte_read), ("write", self.per_byte_written)):
            if value > 1e-15:
                parts.append(f"{label} {1e-9 / value:.3g} GB/s")
        if self.beyond_cache > 1e-3:
            parts.append(f"{1 + self.beyond_cache:.3g}× slower beyond "
                         f"{self.cache_bytes / 1e6:.3g} MB")
        if self.pads:
            parts.append("pads " + ", ".join(f"{p:.3g}" for p in self.pads))
        for side, factors in (("rows", self.thin[:len(THIN)]), ("columns", self.thin[len(THIN):])):
            if factors:
                parts.append(f"thin {side} " + ", ".join(f"{d}: {f:.2g}×"
                                                          for d, f in zip(THIN, factors)))
        return ", ".join(parts)


@dataclasses.dataclass(frozen=True, eq=False)
class TimeModel:
    """Predicted seconds of every kernel; see the module for the formula.

    Attributes
    ----------
    kernels : mapping of str to KernelTime
        One entry per name in :data:`chainopt.kernels.KERNELS`.
    source : str
        Where the parameters come from: ``"default"``, ``"calibrated"``, a path.
    fingerprint : dict or None
        The machine the model was calibrated on (:func:`fingerprint`).
    """

    kernels: Mapping[str, KernelTime]
    source: str = "custom"
    fingerprint: dict | None = None

    def __post_init__(self):
        missing = [k for k in KERNELS if k not in self.kernels]
        if missing:
            raise ChainError(f"a time model needs every kernel; {missing} missing")

    def predict(self, m, k, n, left_diagonal=False, right_diagonal=False, gram=False):
        """Seconds of ``(m×k)·(k×n)`` products, vectorised over arrays.

        Examples
        --------
        >>> gemm, gemv = DEFAULT_MODEL.predict([500, 500], 500, [500, 1])
        >>> bool(gemm > 10 * gemv)
        True
        """
        m, k, n = (np.asarray(d, dtype=float) for d in (m, k, n))
        conditions = kernel_conditions(m, k, n, left_diagonal, right_diagonal, gram)
        if not any(c.any() for c in conditions):  # a GEMM everywhere: no broadcasting
            return self.kernels[KERNELS[-1]].predict(KERNELS[-1], m, k, n)
        m, k, n = np.broadcast_arrays(m, k, n)
        codes = np.select(conditions, np.arange(len(conditions)), default=len(KERNELS) - 1)
        codes = np.broadcast_to(codes, m.shape)
        counts = np.bincount(codes.ravel(), minlength=len(KERNELS))
        for code in np.flatnonzero(counts == codes.size):  # one kernel everywhere
            return self.kernels[KERNELS[code]].predict(KERNELS[code], m, k, n)
        times = np.empty(m.shape)
        for code in np.flatnonzero(counts):
            where = codes == code
            kernel = KERNELS[code]
            times[where] = self.kernels[kernel].predict(kernel, m[where], k[where], n[where])
        return times

    def step_time(self, m: int, k: int, n: int, left_diagonal: bool = False,
                  right_diagonal: bool = False, gram: bool = False) -> float:
        """Seconds of one ``(m×k)·(k×n)`` product.

        Examples
        --------
        >>> syrk = DEFAULT_MODEL.step_time(800, 1000, 800, gram=True)
        >>> gemm = DEFAULT_MODEL.step_time(800, 1000, 800)
        >>> bool(syrk < 0.75 * gemm)
        True
        """
        return float(self.predict(m, k, n, left_diagonal, right_diagonal, gram))

    def order_times(self, shapes: Sequence[tuple[int, int]], kinds: Sequence[str],
                    steps: Sequence[tuple[int, int]], gram: Iterable[int] = ()) -> list[float]:
        """Predicted seconds of every step of a bracketing.

        ``steps`` are operand-id pairs (:mod:`chainopt.trees`); ``gram`` the
        positions ``i`` of Gram pairs ``(i, i + 1)``, which run as a SYRK
        when a step multiplies exactly those two factors.

        Examples
        --------
        >>> times = DEFAULT_MODEL.order_times([(1, 9), (9, 9)], ["dense"] * 2, [(0, 1)])
        >>> len(times), times[0] > 0
        (1, True)
        """
        n, pairs = len(shapes), frozenset(gram)
        return [
            self.step_time(left.rows, left.cols, right.cols, left.diagonal, right.diagonal,
                           is_gram_step(left_id, right_id, n, pairs))
            for (left_id, right_id), (left, right, _, _) in zip(
                steps, walk_steps(shapes, kinds, steps))
        ]

    def describe(self) -> str:
        """The parameters, one kernel a line."""
        lines = [f"Time model ({self.source}):"]
        lines += ["  " + self.kernels[k].describe(k) for k in KERNELS]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (seconds per unit), source and fingerprint."""
        return {
            "format": 1,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "kernels": {k: dataclasses.asdict(self.kernels[k]) for k in KERNELS},
        }

    @classmethod
    def from_dict(cls, data: Mapping, source: str | None = None) -> TimeModel:
        """Inverse of :meth:`to_dict`; a clear ChainError for a bad file."""
        try:
            kernels = {
                name: KernelTime(**{**params, "pads": tuple(params.get("pads", ())),
                                    "thin": tuple(params.get("thin", ()))})
                for name, params in data["kernels"].items()
            }
            return cls(kernels, source or data.get("source", "file"), data.get("fingerprint"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ChainError(
                f"not a chainopt time model ({exc!r}); recreate it with 'chainopt calibrate'"
            ) from None


#: The model used when this machine has no calibration: a ``chainopt
#: calibrate`` fit on the development machine (2-core AMD EPYC with a 32 MiB
#: L3, OpenBLAS 0.3.31 with its SkylakeX kernel and 2 threads, NumPy 2.4,
#: 2026-11-22), rounded to two digits. It reads: a large GEMM at 100 GFLOP/s
#: and a small one at 62, thin GEMMs with 2-8 rows or columns at the
#: per-size factors of ``thin`` (3 columns slower than 4), GEMV and DOT
#: streaming about 100 GB/s from cache, a product with an inner dimension of
#: 1 writing about 35 GB/s, about 0.7 µs per call; the project's
#: MEASURING.md quotes 95-190 GFLOP/s for a large GEMM and about 5 GFLOP/s
#: (21 GB/s) for a GEMV from memory on these machines.
DEFAULT_MODEL = TimeModel(
    kernels={
        "gemm": KernelTime(7.6e-7, 2.0e-11, 4.3e-11, 2.0e-11, 8.5e5, 0.73, 0.62, 2.8e6,
                           (2.3, 0.0, 4.4),
                           (0.30, 0.45, 0.43, 0.57, 0.63, 0.65, 0.79,     # few rows
                            0.31, 0.59, 0.46, 0.73, 0.77, 0.85, 0.69)),   # few columns
        "syrk": KernelTime(1.8e-6, 2.4e-11, 1.6e-10, 1.0e-10, 1.7e7, 1.4, 2.0, 1.5e6,
                           (6.6, 0.012)),
        "gemv": KernelTime(7.2e-7, 0.0, 9.4e-12, 0.0, 3.9e5, 0.36, pads=(6.7, 9.5)),
        "outer": KernelTime(7.7e-7, 0.0, 3.6e-11, 2.9e-11, 5.0e5, 0.25),
        "scale": KernelTime(1.4e-6, 0.0, 2.5e-11, 0.0, 1.4e7, 1.6),
        "dot": KernelTime(6.6e-7, 0.0, 1.1e-11),
        "diag": KernelTime(6.3e-7, 0.0, 1.5e-11),
    },
    source="default",
)


# -- fitting -------------------------------------------------------------------
def fit_kernel(kernel: str, m, k, n, seconds, start: KernelTime | None = None) -> KernelTime:
    """Fit one kernel's parameters to measured seconds.

    Minimises the robust (soft L1, scale 0.1) sum of squared log-time errors
    with :func:`scipy.optimize.least_squares`, every parameter bounded below
    by 0, so a few disturbed timings (a descheduled BLAS thread) do not pull
    the fit. The problem is not convex (the max and the cache knee), so it
    starts from several points and keeps the best fit. Noise-free timings
    generated by a model are recovered exactly.

    Parameters
    ----------
    kernel : str
        One of :data:`chainopt.kernels.KERNELS`; :data:`FITTED` and
        :data:`PADS` say which parameters it has.
    m, k, n, seconds : array_like
        Shapes ``(m×k)·(k×n)`` and their measured seconds.
    start : KernelTime, optional
        Where the search starts (default: :data:`DEFAULT_MODEL`'s kernel).

    Examples
    --------
    >>> truth = KernelTime(2e-6, per_byte_read=5e-11, per_byte_written=1e-10)
    >>> m = np.array([10, 100, 1000, 2000, 50]); n = m[::-1]
    >>> fitted = fit_kernel("dot", 1, m, 1, truth.predict("dot", 1, m, 1))
    >>> round(fitted.overhead * 1e6, 6), round(1e-9 / fitted.per_byte_read, 6)
    (2.0, 20.0)
    """
    from scipy.optimize import least_squares

    m, k, n, seconds = (np.asarray(v, dtype=float) for v in (m, k, n, seconds))
    m, k, n, seconds = np.broadcast_arrays(m, k, n, seconds)
    if np.any(seconds <= 0):
        raise ChainError("measured times must be positive")
    x0 = _start_vector(kernel, start or DEFAULT_MODEL.kernels[kernel])
    pads, thin = PADS[kernel], THIN_FACTORS[kernel]
    free = np.array(FITTED[kernel] + (1,) * (pads + thin), dtype=bool)
    x0 = np.where(free, x0, 0.0)

    def residuals(x_free):
        x = x0.copy()
        x[free] = x_free
        model = KernelTime.from_vector(x, pads)
        return np.log(model.predict(kernel, m, k, n)) - np.log(seconds)

    low, high = (np.concatenate([b, np.full(pads, e), np.full(thin, t)])[free]
                 for b, e, t in ((_LOW, 0.0, _THIN_BOUNDS[0]), (_HIGH, 1e3, _THIN_BOUNDS[1])))
    best = None
    knees = _KNEE_STARTS if free[4] else [(None, None)]
    for factors, (cache, ramp_work) in itertools.product(_STARTS, knees):
        factors = np.concatenate([factors[: 8 + pads], np.ones(thin)])
        guess = np.maximum(x0 * factors, 1e-3)
        if cache is not None:
            guess[4] = cache
        if free[7]:
            guess[7] = ramp_work
        guess = np.clip(guess[free], low, high)
        fit = least_squares(residuals, guess, bounds=(low, high), loss="soft_l1",
                            f_scale=0.1, x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12,
                            max_nfev=300)
        if best is None or fit.cost < best.cost:
            best = fit
    x = x0.copy()
    x[free] = best.x
    return KernelTime.from_vector(x, pads)


def _start_vector(kernel: str, start: KernelTime) -> np.ndarray:
    """``start`` in fitting units, with the kernel's pads and thin factors (1 if absent)."""
    pads, thin = PADS[kernel], THIN_FACTORS[kernel]
    base = start.as_vector()[:8]
    padding = np.resize(np.asarray(start.pads, dtype=float), pads) if start.pads else np.ones(pads)
    factors = np.asarray(start.thin, dtype=float) if len(start.thin) == thin else np.ones(thin)
    return np.concatenate([base, padding, factors])


#: Bounds of the fitted parameters (fitting units, see
#: :meth:`KernelTime.as_vector`; pads from 0 to 1000): no more than 2,000
#: GFLOP/s or 2 TB/s, a knee between 50 kB and 512 MB, at most 30× slower
#: beyond it, a small-problem slowdown of at most 20×. Physically plausible
#: parameters, where the data would let a term run off to an extreme.
_LOW = np.array([0.0, 1.0, 0.5, 0.5, 0.05, 0.0, 0.0, 0.01])
_HIGH = np.array([1e4, 1e5, 1e5, 1e5, 512.0, 30.0, 20.0, 1e4])

#: Bounds of the thin factors: from 10× faster to 10× slower than the rest.
_THIN_BOUNDS = (0.1, 10.0)

#: Starting points of the fit, as factors on the default parameters
#: (overhead, per multiply-add, per byte read, per byte written, cache
#: bytes, beyond-cache factor, ramp, ramp work, pads), each tried with every
#: (knee in MB, ramp work in millions) of :data:`_KNEE_STARTS`.
_STARTS = [np.array(factors, dtype=float) for factors in (
    (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
    (1, 0.3, 3, 3, 1, 0.3, 3, 1, 0.2, 0.2, 0.2),
    (1, 3, 0.3, 0.3, 1, 3, 0.3, 1, 3, 3, 3),
    (0.3, 1, 1, 10, 1, 1, 1, 1, 0, 0, 0),
)]
_KNEE_STARTS = ((0.5, 1.0), (2.0, 10.0), (8.0, 100.0), (32.0, 10.0))


#: Fewest measurements of a kernel for :func:`fit_model` to fit it.
MIN_POINTS = 8


def fit_model(measurements: Iterable, source: str = "calibrated",
              machine: dict | None = None) -> TimeModel:
    """Fit every kernel to measurements of ``(kernel, m, k, n, seconds, ...)``.

    Kernels with fewer than :data:`MIN_POINTS` measurements keep
    :data:`DEFAULT_MODEL`'s parameters. The model records the fingerprint of
    this machine unless ``machine`` is given.
    """
    rows: dict[str, list] = {kernel: [] for kernel in KERNELS}
    for row in measurements:
        kernel, m, k, n, seconds = tuple(row)[:5]
        if kernel not in rows:
            raise ChainError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
        rows[kernel].append((m, k, n, seconds))
    kernels = dict(DEFAULT_MODEL.kernels)
    for kernel, data in rows.items():
        if len(data) >= MIN_POINTS:
            kernels[kernel] = fit_kernel(kernel, *np.array(data, dtype=float).T)
    return TimeModel(kernels, source, fingerprint() if machine is None else machine)


# -- the machine, the cache, and which model applies ----------------------------
def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def _blas_controller():
    import scipy.linalg.blas  # noqa: F401  (load SciPy's BLAS too: a stable list)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def fingerprint() -> dict[str, Any]:
    """What a calibration depends on: CPU model, BLAS libraries and threads.

    Examples
    --------
    >>> sorted(fingerprint())
    ['blas', 'cpu', 'machine']
    """
    blas = sorted(
        (
            {
                "vendor": lib.internal_api,
                "architecture": getattr(lib, "architecture", None),
                "version": lib.version,
                "threads": lib.num_threads,
            }
            for lib in _blas_controller().lib_controllers
            if lib.user_api == "blas"
        ),
        key=lambda entry: json.dumps(entry, sort_keys=True),
    )
    return {"cpu": cpu_model(), "machine": platform.machine(), "blas": blas}


def _fingerprint_key(print_: Mapping) -> str:
    text = json.dumps(print_, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    """``$CHAINOPT_CACHE_DIR``, else ``platformdirs.user_cache_dir("chainopt")``."""
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("chainopt"))


def cache_path(print_: Mapping | None = None) -> Path:
    """The cache file of a fingerprint (default: this machine's)."""
    key = _fingerprint_key(fingerprint() if print_ is None else print_)
    return cache_dir() / f"timemodel-{key}.json"


def save_model(model: TimeModel, path: str | os.PathLike | None = None) -> Path:
    """Write ``model`` as JSON (atomically); default: this machine's cache file."""
    target = Path(path) if path is not None else cache_path(model.fingerprint)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(model.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target


def read_model(path: str | os.PathLike) -> TimeModel:
    """A model from a JSON file, whatever machine it was made on."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ChainError(f"cannot read the time model {str(path)!r}: {exc}") from None
    return TimeModel.from_dict(data, source=str(path))


def cached_model() -> TimeModel | None:
    """This machine's calibrated model, or None if there is none (or it is stale).

    A file whose recorded fingerprint differs from the machine's (another
    CPU, BLAS or thread count) is ignored.
    """
    current = fingerprint()
    path = cache_path(current)
    if not path.exists():
        return None
    model = read_model(path)
    return model if model.fingerprint == current else None


def load_model(model: TimeModel | str | os.PathLike | None = None) -> TimeModel:
    """The time model that applies, in order of precedence.

    1. ``model`` itself, or the JSON file it names;
    2. the file named by ``$CHAINOPT_TIME_MODEL``;
    3. this machine's cached calibration (``chainopt calibrate``);
    4. :data:`DEFAULT_MODEL`.

    Examples
    --------
    >>> load_model(DEFAULT_MODEL) is DEFAULT_MODEL
    True
    """
    if isinstance(model, TimeModel):
        return model
    if model is not None:
        if not isinstance(model, (str, os.PathLike)):
            raise ChainTypeError(
                f"time_model must be a TimeModel or the path of a JSON model; got "
                f"{type(model).__name__}"
            )
        return read_model(model)
    if os.environ.get(ENV_MODEL):
        return read_model(os.environ[ENV_MODEL])
    return cached_model() or DEFAULT_MODEL
