"""Kernels: which BLAS-level routine runs one pairwise product, and running it.

A step ``(m×k)·(k×n)`` is not always a general matrix multiply. The kernel
that actually runs decides its speed, so chainopt names it from the shapes,
the factors' kinds and the Gram pairs, costs it (:mod:`chainopt.timemodel`)
and executes it with that kernel (:func:`execute`):

========== ===================================== ===========================
kernel     when                                  executed by
========== ===================================== ===========================
``diag``   both operands diagonal                elementwise product of the
                                                 diagonals
``scale``  one operand diagonal                  row / column scaling
``outer``  inner dimension ``k == 1``            a GEMM with ``k`` padded to
                                                 2 or more
                                                 (:func:`outer_product`)
``dot``    ``m == n == 1``                       :func:`numpy.dot` (DOT)
``gemv``   ``m == 1`` or ``n == 1``              :func:`numpy.dot` (GEMV)
``syrk``   a Gram pair ``X·Xᵀ`` (either side)    :func:`numpy.dot` when it
                                                 sees the shared buffer, else
                                                 ``scipy.linalg.blas.?syrk``
``gemm``   everything else                       :func:`numpy.matmul` (GEMM;
                                                 :func:`numpy.dot` when small;
                                                 ``k`` padded onto the
                                                 threaded path when that is
                                                 faster)
========== ===================================== ===========================

Three of these choices are measured, not NumPy's defaults (OpenBLAS 0.3.31,
2 threads; ``chainopt experiment multidot`` times the whole chains):

- :func:`numpy.dot` runs a GEMM with a small inner dimension and a large
  result up to 3.3× slower than :func:`numpy.matmul` does (1500×4 · 4×300:
  314 µs against 94 µs), though both call BLAS; on products of a few
  entries it is 0.3 µs faster. So a GEMM whose result has
  :data:`MATMUL_FROM` entries or more and an inner dimension of at most
  :data:`MATMUL_K` runs by :func:`numpy.matmul`.
- :func:`numpy.dot` runs an outer product (``k = 1``) 1.5 to 3.5 times
  slower than BLAS runs the same product with ``k = 2`` from about
  128 × 128 results on (float64 256×256: 41 µs against 18 µs; 1067×758:
  752 µs against 217 µs), so an outer product of :data:`PAD_OUTER_FROM`
  entries or more is run as a GEMM with a zero column and row appended
  (or more, below). The result is exactly BLAS's (``a·b + 0·0``).
- OpenBLAS runs a GEMM of at most :data:`SMALL_WORK` multiply-adds on a
  one-thread "small-matrix" path. A float64 product with ``k`` of 1 to 3
  and a large oblong result therefore runs with ``k`` padded just past
  that bound, onto the threaded path, 1.8 to 2.6 times faster
  (:func:`inner_dimension`, :data:`THREADED_FROM`).

The rules are tried top to bottom. NumPy already dispatches GEMV and DOT
for 2-D operands with a unit dimension, and SYRK for ``A.T @ A`` and
``A @ A.T`` when both operands are views of one C- or F-contiguous buffer;
this module calls SciPy's BLAS only where NumPy would run a general
multiply although the product is a Gram product: a Gram pair given as two
separate (but equal) arrays, or as views of a non-contiguous array.

A Gram pair is two neighbouring factors ``i`` and ``i + 1`` where the right
one is the (plain, not conjugate) transpose of the left one. It is found in
arrays (:func:`gram_pairs`: a transposed view sharing memory) or declared
with shapes (:func:`check_gram`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from .errors import ChainError, ChainTypeError
from .validation import check_out, format_shape

__all__ = [
    "KERNELS",
    "check_gram",
    "classify",
    "classify_many",
    "kernel_conditions",
    "execute",
    "run_kernel",
    "gram_pairs",
    "gram_product",
    "is_gram_step",
    "is_transposed_view",
    "outer_product",
    "dense_product",
    "inner_dimension",
    "blas_threads",
    "padding_threads",
    "Diagonal",
]

#: Kernel names, in the order :func:`classify` tries them.
KERNELS = ("diag", "scale", "outer", "dot", "gemv", "syrk", "gemm")

#: A GEMM whose result has this many entries or more, and whose inner
#: dimension is at most :data:`MATMUL_K`, runs by :func:`numpy.matmul`.
MATMUL_FROM = 2048

#: The largest inner dimension run by :func:`numpy.matmul` (beyond, the two
#: functions are within a few percent of each other: 64×64×64 in 7.5 µs).
MATMUL_K = 63

#: Outer products of this many entries or more (real, complex) pad ``k`` to 2,
#: or further (:func:`inner_dimension`); below, :func:`numpy.dot`'s ``k = 1``
#: is faster (64×64 in 1.3 µs against 2.7).
PAD_OUTER_FROM = (16384, 65536)

#: GEMMs of at most this many multiply-adds (``m·k·n``) run on OpenBLAS's
#: small-matrix path where it has one (its x86-64 AVX-512 kernels,
#: ``GEMM_SMALL_MATRIX_PERMIT``): on one thread, without packing.
SMALL_WORK = 1.0e6

#: A float64 product with an inner dimension of 1 to 3 and a result of this
#: many entries or more (2 MB), which the small path would run, runs with
#: ``k`` padded (with zeros) past :data:`SMALL_WORK` onto the threaded path
#: when BLAS has that path and more than one thread (:func:`padding_threads`),
#: unless its result is nearly square (:data:`THREADED_ASPECT`) or very thin
#: (:data:`THREADED_SIDE`). Measured,
#: float64, 2 threads: 2048×1·1×192 took 160 µs as ``k = 2`` and 73 µs as
#: ``k = 3``; 2726×3·3×120 117 µs and 64 µs as ``k = 4``; 1024×2·2×256 88
#: and 48 µs; eight such shapes were 1.8-2.6× faster. A square result ran
#: slower threaded (512×512: 86 against 156 µs; 600×600: 108 against 161),
#: and so did results with a side of 32 or less (21299×2·2×16: 111 against
#: 255 µs; a side of 64: 0.78-1.16×; of 96 or more: 0.61-0.89×). At one
#: thread padding only adds work (2000×2·2×250: 233 against 324 µs), and
#: float32 gained on some shapes and lost up to 3× on others: neither is
#: padded.
THREADED_FROM = 1 << 18

#: The longer side of a result over the shorter from which :data:`THREADED_FROM` applies.
THREADED_ASPECT = 2.0

#: The shorter side of a result from which :data:`THREADED_FROM` applies.
THREADED_SIDE = 96

#: The most :func:`inner_dimension` adds to ``k``, a bound for the planner: a
#: padded product has ``m·n ≥`` :data:`THREADED_FROM` and ``k ≥ 1``, so it
#: runs with at most ``SMALL_WORK // THREADED_FROM + 1`` (4).
MAX_PADDING = int(SMALL_WORK // THREADED_FROM)

#: dtypes for which SciPy has a ``?syrk`` (plain transpose, not Hermitian),
#: the BLAS types.
_SYRK_PREFIX = {np.dtype(np.float32): "s", np.dtype(np.float64): "d",
                np.dtype(np.complex64): "c", np.dtype(np.complex128): "z"}


def classify(m: int, k: int, n: int, left_diagonal: bool = False,
             right_diagonal: bool = False, gram: bool = False) -> str:
    """The kernel of an ``(m×k)·(k×n)`` product.

    Parameters
    ----------
    m, k, n : int
        Rows of the left operand, the inner dimension, columns of the right.
    left_diagonal, right_diagonal : bool
        Whether each operand is diagonal.
    gram : bool
        Whether the operands are a Gram pair (the right is the left's
        transpose).

    Returns
    -------
    str
        One of :data:`KERNELS`.

    Examples
    --------
    >>> classify(500, 500, 500)
    'gemm'
    >>> classify(500, 500, 1), classify(1, 500, 500), classify(1, 500, 1)
    ('gemv', 'gemv', 'dot')
    >>> classify(500, 1, 500), classify(500, 40, 500, gram=True)
    ('outer', 'syrk')
    >>> classify(4, 4, 9, left_diagonal=True)
    'scale'
    """
    if left_diagonal or right_diagonal:
        return "diag" if left_diagonal and right_diagonal else "scale"
    if k == 1:
        return "outer"
    if m == 1 or n == 1:
        return "dot" if m == n else "gemv"
    return "syrk" if gram else "gemm"


def classify_many(m, k, n, left_diagonal=False, right_diagonal=False, gram=False):
    """:func:`classify` for arrays: kernel codes (indices into :data:`KERNELS`).

    All arguments broadcast against each other; the planner's DP calls this
    on whole blocks of (start, split) pairs at once.

    Examples
    --------
    >>> codes = classify_many(np.array([9, 1, 9]), 9, np.array([9, 9, 1]))
    >>> [KERNELS[c] for c in codes]
    ['gemm', 'gemv', 'gemv']
    """
    conditions = kernel_conditions(m, k, n, left_diagonal, right_diagonal, gram)
    return np.select(conditions, np.arange(len(conditions)), default=len(KERNELS) - 1)


def kernel_conditions(m, k, n, left_diagonal=False, right_diagonal=False, gram=False):
    """When each kernel but the last applies, in :data:`KERNELS` order.

    The first condition that holds picks the kernel (:func:`classify_many`);
    where none holds, the last kernel (GEMM) runs. Each condition keeps its
    own shape, so a caller can see cheaply that none holds anywhere.
    """
    m, k, n = np.asarray(m), np.asarray(k), np.asarray(n)
    left, right = np.asarray(left_diagonal), np.asarray(right_diagonal)
    return [
        left & right,
        left | right,
        k == 1,
        (m == 1) & (n == 1),
        (m == 1) | (n == 1),
        np.asarray(gram),
    ]


# -- Gram pairs -----------------------------------------------------------------
def _data_pointer(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def is_transposed_view(left, right) -> bool:
    """True when ``right`` is ``left.T`` as a view of the same memory.

    The test is exact: same dtype, same first element, transposed shape and
    swapped strides (what NumPy's own SYRK dispatch checks).

    Examples
    --------
    >>> A = np.ones((5, 3))
    >>> is_transposed_view(A, A.T), is_transposed_view(A.T, A)
    (True, True)
    >>> is_transposed_view(A, A.T.copy())
    False
    """
    if not (isinstance(left, np.ndarray) and isinstance(right, np.ndarray)):
        return False
    if left.ndim != 2 or right.ndim != 2 or left.dtype != right.dtype:
        return False
    if not (left.shape == right.shape[::-1] and left.strides == right.strides[::-1]
            and left.strides[0] != left.strides[1] and left.size > 1):
        return False
    # A view of the other with the whole extent and swapped strides starts where
    # it does (the common case, A and A.T, costs no pointer lookup).
    return right.base is left or left.base is right or _data_pointer(left) == _data_pointer(right)


def gram_pairs(arrays: Sequence, kinds: Sequence[str] | None = None) -> tuple[int, ...]:
    """Positions ``i`` where factor ``i + 1`` is a transposed view of factor ``i``.

    Diagonal factors are never Gram pairs (their product is a ``diag`` step
    anyway).

    Examples
    --------
    >>> A = np.ones((6, 3))
    >>> gram_pairs([A.T, A, np.ones((3, 2))])
    (0,)
    >>> gram_pairs([A, A.T.copy()])
    ()
    """
    kinds = kinds or ("dense",) * len(arrays)
    return tuple(
        i for i in range(len(arrays) - 1)
        if kinds[i] == kinds[i + 1] == "dense" and is_transposed_view(arrays[i], arrays[i + 1])
    )


def is_gram_step(left_id: int, right_id: int, n: int, gram) -> bool:
    """Whether a step multiplies exactly the two factors of a Gram pair.

    ``left_id`` and ``right_id`` are operand ids (factors are ``0 .. n-1``,
    results are ``n`` and up); ``gram`` holds the pairs' left positions.

    Examples
    --------
    >>> is_gram_step(2, 3, 5, {2}), is_gram_step(2, 5, 5, {2})
    (True, False)
    """
    return left_id < n and right_id == left_id + 1 and left_id in gram


def _gram_position(pair: object, index: int) -> int:
    if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ChainTypeError(
            f"gram[{index}] must be a pair of neighbouring factor positions such as "
            f"(0, 1); got {pair!r}"
        )
    first, second = pair
    for value in pair:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ChainTypeError(
                f"gram[{index}] must hold two integer factor positions; got {pair!r}"
            )
    if second != first + 1:
        raise ChainError(
            f"gram[{index}] = {tuple(pair)!r} must name two neighbouring factors "
            f"(i, i + 1), e.g. ({first}, {first + 1})"
        )
    return int(first)


def check_gram(gram: Sequence | None, shapes: Sequence[tuple[int, int]],
               kinds: Sequence[str]) -> tuple[int, ...]:
    """Validate declared Gram pairs; return their left positions, sorted.

    Parameters
    ----------
    gram : sequence of (int, int) pairs, or None
        Pairs ``(i, i + 1)`` of neighbouring factors where factor ``i + 1``
        is the transpose of factor ``i`` (``XᵀX`` or ``XXᵀ``).
    shapes : sequence of (int, int)
        The validated shapes of the chain.
    kinds : sequence of str
        The factors' kinds; both factors of a pair must be dense.

    Raises
    ------
    ChainTypeError
        If ``gram`` is not a sequence of pairs of integers.
    ChainError
        For a pair that is not adjacent, out of range, of non-transposed
        shapes or with a diagonal factor.

    Examples
    --------
    >>> check_gram([(0, 1)], [(5, 3), (3, 5), (5, 2)], ["dense"] * 3)
    (0,)
    >>> check_gram([(1, 2)], [(5, 3), (3, 5), (5, 2)], ["dense"] * 3)
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: gram pair (1, 2): factor 2 (5×2) is not the \
transpose of factor 1 (3×5); a Gram pair X·Xᵀ needs shapes a×b and b×a
    """
    if gram is None:
        return ()
    if isinstance(gram, (str, bytes)) or not isinstance(gram, Sequence):
        raise ChainTypeError(
            f"gram must be a sequence of (i, i + 1) pairs; got {type(gram).__name__} {gram!r}"
        )
    positions = set()
    n = len(shapes)
    for index, pair in enumerate(gram):
        i = _gram_position(pair, index)
        if not 0 <= i < n - 1:
            raise ChainError(
                f"gram pair {(i, i + 1)!r} is out of range for a chain of {n} factors; "
                f"positions run from 0 to {n - 1}"
            )
        if shapes[i + 1] != shapes[i][::-1]:
            raise ChainError(
                f"gram pair {(i, i + 1)!r}: factor {i + 1} ({format_shape(shapes[i + 1])}) "
                f"is not the transpose of factor {i} ({format_shape(shapes[i])}); a Gram "
                f"pair X·Xᵀ needs shapes a×b and b×a"
            )
        if kinds[i] != "dense" or kinds[i + 1] != "dense":
            raise ChainError(
                f"gram pair {(i, i + 1)!r}: both factors must be dense; got "
                f"{kinds[i]!r} and {kinds[i + 1]!r}"
            )
        positions.add(i)
    return tuple(sorted(positions))


# -- execution ------------------------------------------------------------------
class Diagonal:
    """A diagonal factor held as its diagonal ``d`` during execution."""

    __slots__ = ("d",)

    def __init__(self, d: np.ndarray):
        self.d = d

    def dense(self) -> np.ndarray:
        """The full square matrix."""
        return np.diag(self.d)


def _numpy_runs_syrk(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether :func:`numpy.dot` will see ``a·b`` as a SYRK (see cblasfuncs.c)."""
    return (
        a.dtype in _SYRK_PREFIX
        and is_transposed_view(a, b)
        and (a.flags.c_contiguous != b.flags.c_contiguous)
        and (a.flags.c_contiguous or a.flags.f_contiguous)
    )


def _blas_syrk(x: np.ndarray) -> np.ndarray:
    """``x @ x.T`` by SciPy's ``?syrk``, symmetric to the last bit."""
    from scipy.linalg import blas

    routine = getattr(blas, _SYRK_PREFIX[x.dtype] + "syrk")
    if x.flags.f_contiguous:
        upper = routine(1.0, x, trans=0, lower=0)
    else:  # x C-contiguous: x.T is the same buffer in Fortran order
        upper = routine(1.0, np.ascontiguousarray(x).T, trans=1, lower=0)
    upper = np.triu(upper)
    result = upper + np.triu(upper, 1).T
    return result


def gram_product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for a Gram pair (``b`` is ``a.T``), by a SYRK where BLAS has one.

    NumPy runs SYRK itself when ``b`` is a transposed view of a contiguous
    ``a``; otherwise, for float32/float64/complex64/complex128, SciPy's
    ``?syrk`` computes the product from ``a`` alone, after checking that
    ``b`` really equals ``a.T`` (if it does not, or for any other dtype,
    this is a plain :func:`numpy.dot`, so the result is always ``a @ b``).

    Examples
    --------
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> gram_product(X, X.T.copy())
    array([[ 1.,  3.,  5.],
           [ 3., 13., 23.],
           [ 5., 23., 41.]])
    """
    if _numpy_runs_syrk(a, b) or not _blas_pair(a, b):
        return np.dot(a, b, out=out)
    if not (is_transposed_view(a, b) or np.array_equal(a, b.T, equal_nan=True)):
        return np.dot(a, b, out=out)
    result = _blas_syrk(a)
    if out is None:
        return result
    out[...] = result
    return out


def _plain(a, b) -> bool:
    """Two plain ndarrays: a subclass such as np.matrix keeps np.dot's result type."""
    return type(a) is np.ndarray and type(b) is np.ndarray


def _blas_pair(a: np.ndarray, b: np.ndarray) -> bool:
    """Two arrays of one dtype that BLAS has (:data:`_SYRK_PREFIX`)."""
    return a.dtype == b.dtype and a.dtype in _SYRK_PREFIX


def blas_threads() -> int:
    """NumPy's BLAS thread count now (threadpoolctl; 1 if it finds no BLAS), in about 0.5 µs."""
    controller = _blas_controller()
    return 1 if controller is None else int(controller.get_num_threads())


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    found = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    numpys = [lib for lib in found if "numpy" in lib.filepath]   # not SciPy's own OpenBLAS
    return (numpys or found or [None])[0]


#: OpenBLAS's core types with a small-matrix GEMM path (its x86-64 AVX-512
#: kernels); on any other BLAS or core the threaded-path padding is off.
SMALL_PATH_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})


def padding_threads() -> int:
    """The BLAS threads the threaded-path padding counts on: :func:`blas_threads`
    where the BLAS has a small-matrix path (:data:`SMALL_PATH_CORES`), else 1.

    >>> padding_threads() >= 1
    True
    """
    return blas_threads() if _has_small_path() else 1


@functools.cache
def _has_small_path() -> bool:
    controller = _blas_controller()
    return (controller is not None and controller.internal_api == "openblas"
            and str(getattr(controller, "architecture", "")).lower() in SMALL_PATH_CORES)


def inner_dimension(m, k, n, threads: int | None = None):
    """The inner dimension a float64 ``(m×k)·(k×n)`` GEMM or outer product runs with.

    ``k`` itself, except where the product would run on BLAS's one-thread
    small path although its result is large, oblong and not thin
    (:data:`THREADED_FROM`) and BLAS has ``threads`` (default:
    :func:`padding_threads`, as now) more than one: there the smallest
    ``k`` beyond :data:`SMALL_WORK` multiply-adds. An outer product
    (``k = 1``) runs with at least 2 from :data:`PAD_OUTER_FROM` entries
    on, and with 1 below. Arrays broadcast
    (the time model predicts the product at this ``k``).

    >>> [inner_dimension(*s, threads=2) for s in [(2048, 1, 192), (2726, 3, 120), (512, 1, 512)]]
    [3, 4, 2]
    >>> [inner_dimension(*s, threads=2) for s in [(100, 1, 100), (100, 1, 300), (2048, 5, 192)]]
    [1, 2, 5]
    >>> inner_dimension(2048, 1, 192, threads=1)
    2
    """
    threads = padding_threads() if threads is None else threads
    if all(isinstance(d, int) for d in (m, k, n)):  # a step being run: no array overhead
        return _runs_with(m, k, n, threads)
    m, k, n = (np.asarray(d, dtype=float) for d in (m, k, n))
    entries = m * n
    padded = np.where(k == 1, np.where(entries >= PAD_OUTER_FROM[0], 2.0, 1.0), k)
    if threads <= 1:
        return padded
    crossing = np.floor(SMALL_WORK / np.maximum(entries, 1.0)) + 1
    smaller = np.minimum(m, n)
    threaded = ((entries >= THREADED_FROM) & (k >= 1) & (m * k * n <= SMALL_WORK)
                & (smaller >= THREADED_SIDE) & (np.maximum(m, n) >= THREADED_ASPECT * smaller))
    runs = np.where(threaded, np.maximum(crossing, padded), padded)
    return int(runs) if runs.ndim == 0 else runs


def _runs_with(m: int, k: int, n: int, threads: int) -> int:
    """:func:`inner_dimension` of one shape, in plain integers (microseconds matter)."""
    entries, smaller = m * n, min(m, n)
    plain = (2 if entries >= PAD_OUTER_FROM[0] else 1) if k == 1 else k
    if (threads > 1 and entries >= THREADED_FROM and k >= 1 and m * k * n <= SMALL_WORK
            and smaller >= THREADED_SIDE and max(m, n) >= THREADED_ASPECT * smaller):
        return max(int(SMALL_WORK // entries) + 1, plain)
    return plain


def _padded(a: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``a`` with zero columns and ``b`` with zero rows appended, to inner dimension ``k``."""
    m, inner, n = a.shape[0], a.shape[1], b.shape[1]
    left = np.zeros((m, k), dtype=a.dtype)
    left[:, :inner] = a
    right = np.zeros((k, n), dtype=b.dtype)
    right[:inner] = b
    return left, right


def _gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """A GEMM by :func:`numpy.matmul` when its result is large and ``k`` small, with
    ``k`` padded onto BLAS's threaded path where that is faster (see the module)."""
    (m, k), n = a.shape, b.shape[1]
    if m * n >= MATMUL_FROM and k <= MATMUL_K and _plain(a, b):
        if m * n >= THREADED_FROM and k <= MAX_PADDING and a.dtype == b.dtype == np.float64:
            runs = _runs_with(m, k, n, padding_threads())
            if runs > k:
                return np.matmul(*_padded(a, b, runs), out=out)
        return np.matmul(a, b, out=out)
    return np.dot(a, b, out=out)


def outer_product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for ``a`` of shape ``m×1`` and ``b`` of ``1×n``.

    A large product of two arrays of one BLAS dtype runs as a GEMM with
    ``k = 2`` (``a`` and ``b`` with a zero column and row appended), which
    BLAS runs far faster than ``k = 1`` (see the module), or with the ``k``
    of :func:`inner_dimension` for float64; every entry is ``a[i]·b[j]``
    plus products ``0·0``, as BLAS computes it for ``k = 1``. Anything else
    is :func:`numpy.dot`.

    Examples
    --------
    >>> a, b = np.arange(1.0, 81.0)[:, None], np.arange(1.0, 61.0)[None, :]
    >>> bool(np.array_equal(outer_product(a, b), np.dot(a, b)))
    True
    """
    m, n = a.shape[0], b.shape[1]
    if not (_plain(a, b) and _blas_pair(a, b)) or m * n < PAD_OUTER_FROM[a.dtype.kind == "c"]:
        return np.dot(a, b, out=out)
    runs = 2
    if m * n >= THREADED_FROM and a.dtype == np.float64:
        runs = _runs_with(m, 1, n, padding_threads())
    return np.matmul(*_padded(a, b, runs), out=out)


def dense_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for two 2-D arrays, run as :func:`execute` would run its kernel.

    For callers that skip classifying (:func:`chainopt.multi_dot`'s
    three-array path): an outer product by :func:`outer_product`, anything
    else by :func:`numpy.matmul` or :func:`numpy.dot` as a GEMM would be.

    >>> dense_product(np.ones((80, 1)), np.ones((1, 60))).sum()
    np.float64(4800.0)
    """
    return outer_product(a, b) if a.shape[1] == 1 else _gemm(a, b, None)


def _shape_and_dtype(operand) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(operand, Diagonal):
        return (len(operand.d), len(operand.d)), operand.d.dtype
    return operand.shape, operand.dtype


def execute(kernel: str, a, b, out: np.ndarray | None = None):
    """Run one step with its kernel; ``out`` as for :func:`numpy.dot`.

    ``a`` and ``b`` are 2-D arrays or :class:`Diagonal` operands. Every
    kernel returns what ``a @ b`` returns (a :class:`Diagonal` for ``diag``).

    Examples
    --------
    >>> A = np.arange(6.0).reshape(2, 3)
    >>> execute("scale", Diagonal(np.array([1.0, 2.0])), A)
    array([[ 0.,  1.,  2.],
           [ 6.,  8., 10.]])
    >>> execute("gemm", A, A.T)
    array([[ 5., 14.],
           [14., 50.]])

    ``out`` is never cast (:func:`chainopt.validation.check_out`):

    >>> execute("gemm", A, A.T, out=np.empty((2, 2), dtype=np.float32))
    Traceback (most recent call last):
    ...
    chainopt.errors.PlanMismatchError: out has dtype float32 but the product is float64; \
out is never cast: pass out=np.empty((2, 2), dtype=np.float64)
    """
    if out is not None and kernel != "diag":
        (left, left_dtype), (right, right_dtype) = _shape_and_dtype(a), _shape_and_dtype(b)
        out = check_out(out, (left[0], right[1]), np.result_type(left_dtype, right_dtype))
    return run_kernel(kernel, a, b, out)


def run_kernel(kernel: str, a, b, out: np.ndarray | None = None):
    """:func:`execute` without checking ``out``: for a caller that has checked it
    (:meth:`chainopt.Plan.execute` checks its ``out`` once, for the last step).

    >>> run_kernel("dot", np.ones((1, 3)), np.ones((3, 1)))
    array([[3.]])
    """
    if kernel == "diag":
        return Diagonal(a.d * b.d)
    if kernel == "scale":
        if isinstance(a, Diagonal):
            return np.multiply(a.d[:, None], b, out=out)
        return np.multiply(a, b.d[None, :], out=out)
    if kernel == "syrk":
        return gram_product(a, b, out)
    if kernel == "gemm":
        return _gemm(a, b, out)
    if kernel == "outer":
        return outer_product(a, b, out)
    return np.dot(a, b, out=out)
