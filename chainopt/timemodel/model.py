"""The time model's prediction: seconds of each kernel from its shape.

Counting multiplications treats every product alike, but a matrix times a
vector runs at a twentieth of the speed of a large GEMM, a GEMM with a
dimension of 2 to 8 spends its time packing its large operand rather than
multiplying, a product with an inner dimension of 1 is bound by writing its
result, and ``AᵀA`` runs as a SYRK at about half the work. The time model
predicts the seconds of one step from its kernel (:mod:`chainopt.kernels`)
and its shape ``(m×k)·(k×n)``::

    body = thin · ‖work · per_madd · (1 + ramp · W0 / (work + W0)),
                   read · per_byte_read‖_p
    t = overhead + (body^q + (written · per_byte_written · small)^q)^(1/q)
                 + first_touch · result bytes     (if result bytes ≥ fresh_from)

``work`` counts multiply-adds on *padded* dimensions, ``(m + a)(k + b)(n + c)``
for a GEMM: a pad is the size below which a dimension stops filling the
BLAS kernel's registers and cache blocks, so the rate of thin products
falls as ``rate · m / (m + a)``. The ramp lets the rate rise with the size
of the problem, from ``rate / (1 + ramp)`` for small products to ``rate``
for products well beyond ``W0`` multiply-adds (``ramp_work``): BLAS runs
small products on one thread and large ones on all. The compute and read
terms combine as a ``p``-norm, ``p = read_norm``: BLAS streams a large
operand through the cache while it multiplies, but only in part at the
same time (a 2400×2300 matrix times 100 columns took the sum of its
arithmetic and of reading the matrix once, a square product only its
arithmetic); ``read_norm = 0`` (models from before it) takes their
maximum. With a ``read_norm``, each operand of a GEMM meets the cache on
its own (``read`` is ``(1 + left_read) · eff(8mk) + eff(8kn)``, ``eff`` the
knee below): an operand that fits stays in the cache whatever the other's
size, and the left operand, which BLAS packs as the panel it streams once
for a row-major product, costs ``1 + left_read`` times a byte of the
right one, unless the product is thin (``min(m, n) ≤ 16``, the sizes of
:data:`THIN`): then both cost alike. (Measured: 192×512·512×3 ran in 18
µs and 3×192·192×512 in 24; a fit with the left weight on thin products
too predicted 21 and 17, and on chains of five earlier regret runs it
picked orders with a mean regret of 1.6% against 1.45% without, its
picks faster than the multiplication count's in 20 of 27 chains against
26 of 32.) ``read`` and
``written`` are bytes, and bytes beyond the cache cost more: ``B`` bytes
count as ``B + beyond_cache · max(B - cache_bytes, 0)``, a knee that the
fit places near the cache. Writing the result overlaps the arithmetic by
the exponent ``q = 1 + overlap``: ``overlap = 0`` adds the two (a product
with an inner dimension of 1 writes its result after nothing else), a
large ``overlap`` takes their maximum (a GEMM with an inner dimension of 16
writes a 12 MB result while it multiplies). A GEMM whose smaller outer
dimension ``min(m, n)`` is from 2 to 16 runs BLAS's edge-case kernels, whose
speed depends on that size modulo the register block rather than smoothly
(3 columns slower than 4, 5-7 slower than 8), so the body is multiplied by
a fitted factor per size (``thin``, see :data:`THIN`), one table for few
rows and one for few columns. A GEMM of at most :data:`SMALL_WORK`
multiply-adds runs on OpenBLAS's one-thread small-matrix path, where the
result is written ``small = 1 + small_write`` times as slowly (``small = 1``
elsewhere): a result of a few MB written by that one thread took up to
2.6× the time of the threaded path (2726×3·3×120: 117 µs; 2726×4·4×120,
threaded: 64 µs), and the fit leaves ``small_write`` near 0 on a BLAS
without such a path. (A large, oblong float64 result runs padded onto the
threaded path when BLAS has threads, :func:`chainopt.kernels.inner_dimension`,
and is predicted at the ``k`` it runs with, at the BLAS thread count of the
moment of the prediction.)

A result that the memory allocator maps fresh from the operating system
pays for the first touch of its pages (the kernel zeroes each page on its
first write): ``first_touch`` seconds per byte, for results of at least
``fresh_from`` bytes. glibc's malloc maps every block from 32 MiB on
afresh (its largest mmap threshold) and hands smaller blocks back from the
freed heap, so in a loop that plans and runs chains a 12 MB result reuses
warm memory while a 40 MB one is fresh on every call. These two belong to
the machine, not to a kernel, and are measured apart by ``chainopt
calibrate`` (:func:`chainopt.timemodel.calibrate.measure_first_touch`).

Per kernel (``r = max(m, n)`` for a GEMV, all sizes in float64 elements):

=========  ======================  ====================  ===========
kernel     work (multiply-adds)    read                  written
=========  ======================  ====================  ===========
``gemm``   ``(m+a)(k+b)(n+c)``     ``mk + kn``           ``mn``
``syrk``   ``(m+a)²(k+b) / 2``     ``mk``                ``m²``
``gemv``   --                      ``(r+a)(k+b)``        --
``outer``  --                      ``m + n``             ``mn``
           (from :data:`~chainopt.kernels.PAD_OUTER_FROM` entries: a
           ``gemm`` with ``k`` of 2 or more, as it runs)
``dot``    --                      ``2k``                --
``scale``  --                      ``2mn + k``           --
``diag``   --                      ``3m``                --
=========  ======================  ====================  ===========

A GEMV, a DOT, an outer product and diagonal scaling are bound by memory:
they have no work term, and the last four read and write in a fixed
proportion, so one bandwidth covers their traffic. (A GEMV's traffic is its
matrix, padded like a GEMM's work.) The parameters are fitted per kernel by
:func:`chainopt.timemodel.fit.fit_model`.

Predictions assume float64 operands, the dtype the model is calibrated on;
float32 and complex products scale their times roughly alike across
kernels, so the chosen order rarely changes. (They are never padded onto
the threaded path, though the model predicts them as if they were.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..costs import walk_steps
from ..errors import ChainError
from ..kernels import (
    KERNELS,
    MAX_PADDING,
    PAD_OUTER_FROM,
    SMALL_WORK,
    THREADED_FROM,
    inner_dimension,
    is_gram_step,
    kernel_conditions,
)

__all__ = ["DEFAULT_MODEL", "FRESH_FROM", "ITEMSIZE", "KernelTime", "PADS", "SMALL_WORK",
           "THIN", "TimeModel"]

#: Bytes per element the model is calibrated on (float64).
ITEMSIZE = 8

#: Results from this many bytes on are mapped fresh by glibc's malloc on
#: every allocation (``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit systems).
FRESH_FROM = float(32 * 2**20)

#: How many pads each kernel's work (or GEMV's traffic) has.
PADS = {"gemm": 3, "syrk": 2, "gemv": 2, "dot": 0, "outer": 0, "scale": 0, "diag": 0}

#: The thin sizes a GEMM's table covers: a product whose smaller outer
#: dimension ``min(m, n)`` is one of these takes its own factor, one table
#: for few rows (``m <= n``) and one for few columns (``n < m``): BLAS's
#: register tiles are not square, so the two sides differ. (Up to 16: the
#: factors of 2 to 8 sit at 0.3-0.8, and a product of 9 to 16 columns is no
#: more a plain GEMM than one of 8.)
THIN = tuple(range(2, 17))

#: Sizes per side of the tables of format-1 files (2 to 8); :func:`full_thin`
#: extends them with factors of 1.
OLD_THIN = 7

#: How many thin factors each kernel fits (only a GEMM has tables: rows, then columns).
THIN_FACTORS = {kernel: 2 * len(THIN) if kernel == "gemm" else 0 for kernel in PADS}

#: The scalar parameters of a kernel, in the order of :meth:`KernelTime.as_vector`.
SCALARS = ("overhead", "per_madd", "per_byte_read", "per_byte_written", "cache_bytes",
           "beyond_cache", "ramp", "ramp_work", "overlap", "write_cache_bytes",
           "write_beyond_cache", "read_norm", "left_read", "row_vector",
           "small_write")


def _work(kernel: str, m, k, n, pads):
    """Padded multiply-adds of a GEMM or a SYRK, as (factor of m and n) · (k + pad)."""
    factor = k + pads[1] if pads[1] else k
    if kernel == "gemm":
        return (m + pads[0]) * (n + pads[2]), factor
    return 0.5 * (m + pads[0]) ** 2, factor


def _read(kernel: str, m, k, n, pads, left: float = 1.0):
    """Bytes read by ``kernel`` (factors of m and n alone multiplied first: in
    the planner's DP they are one per row); a GEMM's left operand counts
    ``left`` times its bytes."""
    if kernel == "gemm":
        return (ITEMSIZE * (left * m + n)) * k
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


def _q_norm(a, b, q: float):
    """``(a**q + b**q) ** (1/q)`` for non-negative arrays, as ``s · (1 + r**q)**(1/q)``
    with ``s = max(a, b)`` and ``r = min(a, b) / s`` (no underflow, two
    transcendental passes, in place: a planner's blocks are large)."""
    scale, ratio = np.maximum(a, b), np.minimum(a, b)
    if not scale.ndim:
        return scale * (1.0 + (ratio / max(scale, 1e-300)) ** q) ** (1 / q)
    np.maximum(scale, 1e-300, out=scale)
    np.divide(ratio, scale, out=ratio)
    np.power(ratio, q, out=ratio)
    np.log1p(ratio, out=ratio)
    ratio *= 1 / q
    np.exp(ratio, out=ratio)
    ratio *= scale
    return ratio


def _row_subset(mask, values):
    """Row indices where a column ``mask`` (one entry per row of the 2-D
    ``values``) holds, or None when ``mask`` is not such a column."""
    if values.ndim != 2 or mask.shape != (values.shape[0], 1) or values.shape[1] == 1:
        return None
    return np.flatnonzero(mask[:, 0])


def runs_as_gemm(kernel: str, m, n) -> np.ndarray:
    """Where an outer product runs as a GEMM with ``k`` of 2 or more (see
    :func:`chainopt.kernels.outer_product`), which the model predicts as one.

    >>> runs_as_gemm("outer", [4, 1000], 1000).tolist(), bool(runs_as_gemm("gemm", 9e3, 9e3))
    ([False, True], False)
    """
    m, n = np.asarray(m, dtype=float), np.asarray(n, dtype=float)
    return (m * n >= PAD_OUTER_FROM[0]) & (kernel == "outer")


def result_bytes(kernel: str, m, n) -> np.ndarray:
    """Bytes of a step's result (a diagonal result holds its diagonal only).

    >>> float(result_bytes("gemm", 1536, 1024)) / 2**20
    12.0
    """
    m, n = np.asarray(m, dtype=float), np.asarray(n, dtype=float)
    return ITEMSIZE * (m if kernel == "diag" else m * n)


def full_thin(thin: Sequence[float]) -> tuple[float, ...]:
    """A thin table as both sides of every size in :data:`THIN`.

    ``thin`` holds one side (used for both) or two, of :data:`THIN`'s sizes
    or of the 2 to 8 of format-1 files (sizes beyond then take 1); empty
    stays empty.

    >>> len(full_thin([0.5] * 7)), full_thin([0.5] * 7)[6:8], full_thin(())
    (30, (0.5, 1.0), ())
    """
    thin = tuple(float(f) for f in thin)
    if not thin:
        return ()
    per_side = len(thin) if len(thin) in (OLD_THIN, len(THIN)) else len(thin) // 2
    sides = [thin[:per_side], thin[per_side:] or thin[:per_side]]
    return tuple(f for side in sides for f in side + (1.0,) * (len(THIN) - per_side))


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
    overlap : float
        How far writing the result overlaps the rest: the two combine as a
        ``1 + overlap`` norm (0: their sum; large: their maximum).
    write_cache_bytes, write_beyond_cache : float
        The knee of the written bytes, as ``cache_bytes`` and
        ``beyond_cache`` are the read bytes' (a result streams out of the
        cache on its own terms).
    read_norm : float
        The norm in which a GEMM's compute and read terms combine (1: their
        sum; 0: their maximum, as models from before it had).
    left_read : float
        With a ``read_norm``, a byte of a GEMM's left operand costs
        ``1 + left_read`` bytes of the right one (a thin GEMM's: 1).
    row_vector : float
        A GEMV of a row vector times a matrix (``x @ A``, ``m = 1``) reads
        ``1 + row_vector`` times as slowly as a matrix times a column
        (``A @ x``): for a C-ordered matrix BLAS runs the first as a sum of
        scaled rows and the second as dot products.
    small_write : float
        A GEMM on BLAS's small-matrix path (at most :data:`SMALL_WORK`
        multiply-adds: one thread) writes its result ``1 + small_write``
        times as slowly.
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
    overlap: float = 0.0
    write_cache_bytes: float = 0.0
    write_beyond_cache: float = 0.0
    read_norm: float = 0.0
    left_read: float = 0.0
    row_vector: float = 0.0
    small_write: float = 0.0

    def _effective(self, nbytes, write: bool = False):
        knee, beyond = ((self.write_cache_bytes, self.write_beyond_cache) if write
                        else (self.cache_bytes, self.beyond_cache))
        return nbytes + beyond * np.maximum(nbytes - knee, 0.0)

    def predict(self, kernel: str, m, k, n) -> np.ndarray:
        """Seconds of ``kernel`` on ``(m×k)·(k×n)`` (arrays broadcast), first touch aside.

        Factors of ``m`` and ``n`` alone are formed first, at their own
        shape: the planner passes a column of ``m`` and ``n`` (one per row)
        against a block of ``k``.

        >>> float(KernelTime(1e-6, per_byte_written=1e-10).predict("outer", 100, 1, 100))
        9e-06
        """
        m, k, n = (np.asarray(d, dtype=float) for d in (m, k, n))
        body = self._body(kernel, m, k, n)
        writing = self._effective(_written(kernel, m, n), write=True) * self.per_byte_written
        if self.small_write and kernel == "gemm":  # one thread writes the result
            writing = writing * np.where(m * k * n <= SMALL_WORK, 1.0 + self.small_write, 1.0)
        body = _q_norm(body, writing, 1.0 + self.overlap) if self.overlap else body + writing
        times = body + self.overhead
        shape = np.broadcast_shapes(m.shape, k.shape, n.shape)
        return times if times.shape == shape else np.broadcast_to(times, shape).copy()

    def _body(self, kernel: str, m, k, n):
        """The max term, times the thin factor."""
        thin: Any = self._thin_factor(m, n) if self.thin else 1.0
        if kernel not in ("gemm", "syrk") or not self.per_madd:  # no compute term
            return np.maximum(self._memory(kernel, m, k, n), 0.0) * thin
        scale, factor = _work(kernel, m, k, n, self.pads)
        if self.read_norm:  # reading overlaps the arithmetic only in part
            compute = self._compute(self.per_madd * scale, factor, self.per_madd)
            return _q_norm(compute, self._memory(kernel, m, k, n), self.read_norm) * thin
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
        if kernel == "gemm" and self.read_norm:  # each operand against the cache
            left, right = (ITEMSIZE * m) * k, (ITEMSIZE * n) * k
            weight: Any = 1.0 + self.left_read
            if self.left_read:  # a thin product's operands cost alike
                weight = np.where(np.minimum(m, n) <= THIN[-1], 1.0, weight)
            read = weight * self._effective(left) + self._effective(right)
            return read * self.per_byte_read
        read = _read(kernel, m, k, n, self.pads, 1.0 + self.left_read)
        if kernel == "gemv" and self.row_vector:  # x @ A rather than A @ x
            return self._effective(read) * self.per_byte_read * np.where(
                m == 1, 1.0 + self.row_vector, 1.0)
        return self._effective(read) * self.per_byte_read

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
        left = max(1.0, 1.0 + self.left_read)  # the larger of a thin and a full weight
        traffic = ITEMSIZE * (left * m + n if kernel == "gemm" else m)
        return self.per_madd * scale >= self.per_byte_read * (1 + self.beyond_cache) * traffic

    def __post_init__(self):
        object.__setattr__(self, "thin", full_thin(self.thin))

    def _thin_factor(self, m, n):
        smaller = np.minimum(m, n)
        if np.ndim(smaller) and not ((smaller >= THIN[0]) & (smaller <= THIN[-1])).any():
            return np.ones(smaller.shape)  # no thin product (most of a planner's rows)
        table = np.concatenate([[1.0], self.thin])  # index 0: not thin
        index = smaller - THIN[0] + 1 + np.where(m <= n, 0, len(THIN))
        index = np.where((smaller >= THIN[0]) & (smaller <= THIN[-1]), index, 0)
        return table[index.astype(int)]

    def gemm_floor(self, m, n):
        """``(slope, floor)`` with ``predict("gemm", m, k, n) ≥ slope · k + floor``
        for every ``k ≥ 0``: the multiply-adds at the full rate, plus the
        overhead (the ramp, the memory term and writing only add). None for a
        model with negative parameters (or thin factors not positive, or a
        write overlap below 0), where this and :meth:`gemm_ceiling` may fail.

        >>> gemm = DEFAULT_MODEL.kernels["gemm"]
        >>> slope, floor = gemm.gemm_floor(300.0, 200.0)
        >>> bool(slope * 50 + floor <= gemm.predict("gemm", 300, 50, 200))
        True
        """
        if not (self._foldable() and min(self.overhead, self.overlap, self.per_byte_written,
                                         self.write_cache_bytes, self.write_beyond_cache,
                                         self.read_norm, 1.0 + self.left_read,
                                         self.small_write) >= 0):
            return None
        thin: Any = self._thin_factor(np.asarray(m), np.asarray(n)) if self.thin else 1.0
        scale, _ = _work("gemm", m, 0.0, n, self.pads)
        slope = self.per_madd * scale * thin
        pad = self.pads[1] if len(self.pads) > 1 else 0.0
        return slope, slope * pad + self.overhead

    def gemm_ceiling(self, m, n):
        """``(slope, offset)`` with ``predict("gemm", m, k, n) ≤ slope · (k + pad) + offset``
        (``pad`` the pad of ``k``) for every ``k ≥ 0``, on a model that has a
        :meth:`gemm_floor`: the ramp at its largest, the memory term without
        its knee, the write-overlap norm at most the sum, every write at the
        small path's rate. With a ``read_norm``
        ``p`` the compute and read terms combine as a p-norm, at most their
        sum for ``p ≥ 1`` and ``2**(1/p − 1)`` times it below.

        >>> gemm = DEFAULT_MODEL.kernels["gemm"]
        >>> slope, offset = gemm.gemm_ceiling(300.0, 200.0)
        >>> bool(slope * 50 + offset >= gemm.predict("gemm", 300, 50, 200))
        True
        """
        m, n = np.asarray(m), np.asarray(n)
        thin: Any = self._thin_factor(m, n) if self.thin else 1.0
        scale, _ = _work("gemm", m, 0.0, n, self.pads)
        compute = (1 + self.ramp) * self.per_madd * scale
        memory = self.per_byte_read * (1 + self.beyond_cache) * (
            ITEMSIZE * (max(1.0, 1.0 + self.left_read) * m + n))
        if self.read_norm:
            body = (compute + memory) * max(1.0, 2.0 ** (1.0 / self.read_norm - 1.0))
        else:
            body = np.maximum(compute, memory)
        writing = self._effective(_written("gemm", m, n), write=True) * self.per_byte_written
        return thin * body, writing * (1.0 + self.small_write) + self.overhead

    def as_vector(self) -> np.ndarray:
        """Parameters in fitting units: µs, ps/madd, ps/byte, ps/byte, MB, 1, 1,
        millions of multiply-adds, 1, MB, 1, 1, 1, 1, 1, then the pads and the
        thin factors."""
        return np.array([self.overhead * 1e6, self.per_madd * 1e12,
                         self.per_byte_read * 1e12, self.per_byte_written * 1e12,
                         self.cache_bytes * 1e-6, self.beyond_cache, self.ramp,
                         self.ramp_work * 1e-6, self.overlap, self.write_cache_bytes * 1e-6,
                         self.write_beyond_cache, self.read_norm, self.left_read,
                         self.row_vector, self.small_write, *self.pads, *self.thin])

    @classmethod
    def from_vector(cls, x, pads: int | None = None) -> KernelTime:
        """Inverse of :meth:`as_vector`; ``pads`` of the values after the
        fifteenth are pads, the rest thin factors (default: all pads)."""
        x = [float(v) for v in x]
        base = len(SCALARS)
        pads = len(x) - base if pads is None else pads
        return cls(x[0] * 1e-6, x[1] * 1e-12, x[2] * 1e-12, x[3] * 1e-12, x[4] * 1e6, x[5],
                   x[6], x[7] * 1e6, tuple(x[base:base + pads]), tuple(x[base + pads:]), x[8],
                   x[9] * 1e6, x[10], x[11], x[12], x[13], x[14])

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
        if self.write_beyond_cache > 1e-3:
            parts.append(f"writes {1 + self.write_beyond_cache:.3g}× slower beyond "
                         f"{self.write_cache_bytes / 1e6:.3g} MB")
        if self.overlap > 1e-3:
            parts.append(f"writes overlap as a {1 + self.overlap:.2g}-norm")
        if self.read_norm:
            parts.append(f"reads overlap the arithmetic as a {self.read_norm:.2g}-norm")
        if self.left_read > 1e-3:
            parts.append(f"a left operand's byte costs {1 + self.left_read:.2g}×")
        if abs(self.row_vector) > 1e-3:
            parts.append(f"x @ A takes {1 + self.row_vector:.2g}× the time of A @ x")
        if self.small_write > 1e-3:
            parts.append(f"writes {1 + self.small_write:.2g}× slower on the small path "
                         f"(≤ {SMALL_WORK / 1e6:.3g}M multiply-adds)")
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
        The machine the model was calibrated on
        (:func:`chainopt.timemodel.store.fingerprint`).
    first_touch : float
        Seconds per byte of a result mapped fresh (its pages' first touch).
    fresh_from : float
        Results of at least this many bytes are fresh (:data:`FRESH_FROM`).
    quality : dict or None
        How the calibration went (fit errors, contention), as ``chainopt
        calibrate`` recorded it; None for a model not fitted to measurements.
    """

    kernels: Mapping[str, KernelTime]
    source: str = "custom"
    fingerprint: dict | None = None
    first_touch: float = 0.0
    fresh_from: float = FRESH_FROM
    quality: dict | None = None

    def __post_init__(self):
        missing = [k for k in KERNELS if k not in self.kernels]
        if missing:
            raise ChainError(f"a time model needs every kernel; {missing} missing")

    def kernel_time(self, kernel: str, m, k, n) -> np.ndarray:
        """Seconds of ``kernel`` on ``(m×k)·(k×n)``, first touch included.

        >>> fresh = DEFAULT_MODEL.kernel_time("gemm", 2048, 16, 4096)
        >>> bool(fresh > DEFAULT_MODEL.kernels["gemm"].predict("gemm", 2048, 16, 4096))
        True
        """
        padded = runs_as_gemm(kernel, m, n)
        if (kernel == "gemm" and np.size(k) and np.min(k) <= MAX_PADDING
                and np.max(np.multiply(m, n), initial=0) >= THREADED_FROM):
            k = inner_dimension(m, k, n)  # as the kernel runs it, at this BLAS thread count
        times = self.kernels[kernel].predict(kernel, m, k, n)
        if padded.any():
            as_gemm = self.kernels["gemm"].predict("gemm", m, inner_dimension(m, 1, n), n)
            times = np.where(padded, as_gemm, times)
        fresh = self.fresh_time(kernel, m, n)  # of m and n alone: a column in the planner
        return times + fresh if self.first_touch and fresh.any() else times

    def gemm_ceiling(self, m, n):
        """``(slope, offset)`` with ``kernel_time("gemm", m, k, n) ≤ slope · k + offset``
        for every ``k ≥ 1``, first touch aside (see :meth:`KernelTime.gemm_ceiling`;
        ``k`` as the kernel may run it, up to :data:`~chainopt.kernels.MAX_PADDING`
        larger).

        >>> slope, offset = DEFAULT_MODEL.gemm_ceiling(2726.0, 120.0)
        >>> bool(slope * 3 + offset >= DEFAULT_MODEL.kernel_time("gemm", 2726, 3, 120))
        True
        """
        gemm = self.kernels["gemm"]
        slope, offset = gemm.gemm_ceiling(m, n)
        pad = (gemm.pads[1] if len(gemm.pads) > 1 else 0.0) + MAX_PADDING
        return slope, offset + slope * pad

    def fresh_time(self, kernel: str, m, n) -> np.ndarray:
        """Seconds of first-touching the result, if it is large enough to be fresh."""
        nbytes = result_bytes(kernel, m, n)
        return np.where(nbytes >= self.fresh_from, self.first_touch * nbytes, 0.0)

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
            return self.kernel_time(KERNELS[-1], m, k, n)
        m, k, n = np.broadcast_arrays(m, k, n)
        codes = np.select(conditions, np.arange(len(conditions)), default=len(KERNELS) - 1)
        codes = np.broadcast_to(codes, m.shape)
        counts = np.bincount(codes.ravel(), minlength=len(KERNELS))
        for code in np.flatnonzero(counts == codes.size):  # one kernel everywhere
            return self.kernel_time(KERNELS[code], m, k, n)
        times = np.empty(m.shape)
        for code in np.flatnonzero(counts):
            where = codes == code
            times[where] = self.kernel_time(KERNELS[code], m[where], k[where], n[where])
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
        """The parameters, one kernel a line, then first touch and the fit's quality."""
        lines = [f"Time model ({self.source}):"]
        lines += ["  " + self.kernels[k].describe(k) for k in KERNELS]
        if self.first_touch:
            lines.append(f"  first touch of a fresh result (from {self.fresh_from / 2**20:.3g} "
                         f"MiB): {1e-9 / self.first_touch:.3g} GB/s")
        if self.quality and self.quality.get("summary"):
            lines.append(f"  calibration: {self.quality['summary']}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (seconds per unit), source, fingerprint and quality.

        :func:`chainopt.timemodel.model_from_dict` is the inverse (it validates
        every field, so it lives with the files in :mod:`chainopt.timemodel.store`).
        """
        return {
            "format": 2,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "first_touch": self.first_touch,
            "fresh_from": self.fresh_from,
            "quality": self.quality,
            "kernels": {k: dataclasses.asdict(self.kernels[k]) for k in KERNELS},
        }



#: The model used when this machine has no calibration: a ``chainopt
#: calibrate`` fit on the development machine (2-core Intel Xeon with 2 MB
#: of L2 per core, OpenBLAS 0.3.31 with its SkylakeX kernel and 2 threads,
#: NumPy 2.4, 2026-12-01 10:21 UTC, quiet: other jobs held 0.01 of the 2
#: cores; fit errors 3-10% median, 6-34% at the 90th percentile), rounded
#: to two digits. It reads: a large GEMM at 180 GFLOP/s and a small one at
#: 76, thin GEMMs with 2-16 rows or columns at the per-size factors of
#: ``thin``, writes of a GEMM's result at 28 GB/s up to 0.6 MB and 12 GB/s
#: beyond, overlapping the arithmetic as a 1.7-norm; GEMV streaming about 90
#: GB/s from cache and 55 beyond 1 MB; an outer product writing 27 GB/s and
#: 12 beyond 0.4 MB; a fresh result of 32 MiB or more paying 18 GB/s for the
#: first touch of its pages; about 0.5 µs per call. The project's
#: MEASURING.md quotes 95-190 GFLOP/s for a large GEMM and about 21 GB/s for
#: a GEMV from memory on these machines.
DEFAULT_MODEL = TimeModel(
    kernels={
        "gemm": KernelTime(5.0e-7, 1.1e-11, 2.7e-11, 3.6e-11, 1.0e6, 1.3, 1.3, 2.8e7,
                           (2.8, 0.0, 2.4),
                           (0.55, 0.68, 0.64, 0.80, 0.93, 0.96, 0.80,          # few rows, 2-8
                            0.88, 0.88, 0.88, 0.88, 0.88, 0.88, 0.88, 0.88,    # 9-16
                            0.48, 0.80, 0.71, 1.0, 0.99, 1.0, 0.82,            # few columns
                            1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2),
                           overlap=0.68, write_cache_bytes=6.0e5, write_beyond_cache=1.3),
        "syrk": KernelTime(1.3e-6, 1.4e-11, 4.8e-11, 1.6e-11, ramp=2.7, ramp_work=4.3e6,
                           pads=(7.1, 30.0), overlap=0.29, write_cache_bytes=4.6e5,
                           write_beyond_cache=7.7),
        "gemv": KernelTime(5.0e-7, 0.0, 1.1e-11, 0.0, 1.0e6, 0.66, pads=(1.9, 4.7)),
        "outer": KernelTime(5.0e-7, 0.0, 1.3e-11, 3.7e-11, write_cache_bytes=4.1e5,
                            write_beyond_cache=1.2),
        "scale": KernelTime(8.6e-7, 0.0, 3.4e-11, 0.0, 1.4e6, 0.47),
        "dot": KernelTime(4.5e-7, 0.0, 7.1e-12),
        "diag": KernelTime(4.2e-7, 0.0, 1.3e-11),
    },
    source="default",
    first_touch=5.6e-11,
)
