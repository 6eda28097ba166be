"""The measured rules a compiled Jacobian program follows, and the BLAS thread count.

:class:`~chainopt.jacobians.accumulation.Program` decides from sizes (and,
for two rules, the BLAS thread count) how each product runs. Every
threshold here was measured on this project's machine (Intel Xeon, 2 cores,
OpenBLAS 0.3.31 SkylakeX kernels; ``chainopt experiment jacobian`` and
README "Jacobians"): on other hardware they are good guesses, not optima.
The hand-written references of the ``jacobian`` experiment follow the same
rules, so chainopt is compared with the same calls.
"""

from __future__ import annotations

from ..kernels import blas_threads

__all__ = ["BLOCKED_FROM", "FUSE_FROM", "ROW_BLOCKED_FROM", "THIN_INNER", "TRANSPOSE_FROM",
           "blas_threads", "final_blocks", "pad_rows"]

#: A tall thin product ``(m×k)·(k×n)``, ``n < m``, runs transposed when its
#: left operand has at least this many elements (1 MiB of float64): at
#: 1000×1000 · 1000×10 OpenBLAS takes 0.66 ms for the transpose against
#: 0.90 ms on one thread, but up to 300×300 · 300×10 the transpose is 25-40%
#: slower (the operand stays in L2 and the plain kernel wins).
TRANSPOSE_FROM = 2**17


def pad_rows(rows: int, work: int, threads: int = 2) -> int:
    """The rows to run a thin GEMM of ``rows`` rows on, the rest zero padding.

    OpenBLAS (0.3.31, SkylakeX kernels) at two threads runs a thin product
    ``(m×k)·(k×n)`` with 9 to 15 rows faster on the next multiple of 4:
    ``10×1000 · 1000×1000`` took 438 µs, the same on 12 rows 360 µs; at one
    thread 606 against 628 µs, so one thread pads nothing. Only products of
    at least :data:`TRANSPOSE_FROM` elements of ``k·n`` (``work``) are padded.

    Examples
    --------
    >>> pad_rows(10, 1000 * 1000), pad_rows(12, 1000 * 1000), pad_rows(10, 100 * 100)
    (12, 12, 10)
    >>> pad_rows(10, 1000 * 1000, threads=1)
    10
    """
    if threads > 1 and 8 < rows < 16 and rows % 4 and work >= TRANSPOSE_FROM:
        return rows + 4 - rows % 4
    return rows


#: The final product ``(m×k)·(k×n)`` with ``k ≤ THIN_INNER`` and at least
#: :data:`BLOCKED_FROM` elements (2 MiB, this machine's L2 per core) runs in
#: blocks (:func:`final_blocks`).
THIN_INNER, BLOCKED_FROM, ROW_BLOCKED_FROM = 16, 2**18, 2**21


def final_blocks(rows: int, inner: int, cols: int, threads: int) -> tuple[str, int] | None:
    """How to split a large final product of a small inner dimension, if at all.

    Such a product (the hourglass's ``1000×10 · 10×1000``) only writes its
    result, and OpenBLAS writes it twice (zeroing it for ``beta = 0``, then
    accumulating). Measured on the whole Jacobian (README "Jacobians"):

    - at one thread, blocks of rows of about 2 MiB (L2), so the result stays
      in cache between the two passes, for results of at least
      :data:`ROW_BLOCKED_FROM` elements: 2000-2000-4-2000-2000 in 11.4 ms
      against 13.1 ms (128 rows). At width 1000 the gain was within the
      noise for a new result and a loss of up to 20% into a caller's ``out``;
    - at two or more threads, one block of columns per thread (rounded up to
      64): 1.61 ms against 1.70 ms on the hourglass 1000-1000-10-1000-1000,
      6.4 against 7.0 ms on the bottleneck at 2000. Row blocks lose there.

    Returns
    -------
    ("rows", size), ("cols", size) or None
        Blocks of ``size`` rows or columns of the result, or one product.

    Examples
    --------
    >>> final_blocks(1000, 10, 1000, threads=1), final_blocks(1000, 10, 1000, threads=2)
    (None, ('cols', 512))
    >>> final_blocks(2000, 4, 2000, threads=1), final_blocks(2000, 4, 2000, threads=2)
    (('rows', 128), ('cols', 1024))
    >>> final_blocks(1000, 100, 1000, threads=1) is None   # a real GEMM: one call
    True
    """
    if inner > THIN_INNER or rows * cols < BLOCKED_FROM:
        return None
    if threads > 1:
        size = -(-cols // threads)
        size = -(-size // 64) * 64
        return ("cols", size) if size < cols else None
    size = max(128, BLOCKED_FROM // cols // 64 * 64)
    return ("rows", size) if rows * cols >= ROW_BLOCKED_FROM and size < rows else None


#: ``fuse="auto"`` folds ``W_j a_{j−1}`` into the step on ``W_j`` from this
#: many elements of ``W_j`` (1 MiB of float64). Below, the fused step's copy
#: and view cost more than reading a cached ``W_j`` twice (10-100-100-100:
#: 24.2 µs fused against 21.7 µs unfused; 10-1000-1000-1000: 1.87 ms against
#: 2.03 ms, ``chainopt experiment jacobian``).
FUSE_FROM = 2**17
