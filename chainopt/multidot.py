"""A drop-in for :func:`numpy.linalg.multi_dot` that reuses its plans."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dispatch import foreign_library, is_foreign
from .errors import ChainError
from .kernels import MATMUL_FROM, dense_product
from .plan import Plan, plan_chain
from .validation import NUMERIC_KINDS, as_numeric_array, check_sequence, known_shape

__all__ = ["multi_dot"]

#: Plans kept for repeated shape sequences.
PLAN_CACHE_SIZE = 512


@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def _cached_plan(shapes: tuple[tuple[int, ...], ...]) -> Plan:
    return plan_chain(shapes)


def multi_dot(arrays: Sequence, *, out: np.ndarray | None = None) -> Any:
    """Compute the product of two or more arrays in the cheapest order.

    Think of it as ``functools.reduce(np.dot, arrays)``, computed in the
    order chosen by :func:`chainopt.plan_chain`. It is a drop-in for
    :func:`numpy.linalg.multi_dot`: the same results, the same 1-D end
    semantics (a 1-D first array is a row vector, a 1-D last array a column
    vector), the same return shapes, zero-size dimensions, and a
    :class:`numpy.linalg.LinAlgError` where NumPy raises one. Plans are
    cached by the sequence of shapes, so repeated calls on same-shaped
    chains only multiply; two or three NumPy arrays are multiplied directly,
    as NumPy does. Arrays of another library (Dask, JAX, PyTorch, CuPy,
    array-api-strict, scipy.sparse) are multiplied by that library's ``@``
    in the planned order and never converted (see :meth:`Plan.execute`).

    Parameters
    ----------
    arrays : sequence of array_like
        At least two arrays; all but the first and last must be 2-D.
    out : ndarray, optional
        As for :func:`numpy.linalg.multi_dot`: the 2-D result, C-contiguous
        and of the dtype ``dot`` would return. NumPy arrays only.

    Returns
    -------
    ndarray or the arrays' own array type
        The product (1-D or 0-D when the ends are vectors).

    Raises
    ------
    ChainError
        Fewer than two arrays, or arrays that cannot be chained (the message
        names the position and both shapes).
    NotMatrixError
        (also a :class:`numpy.linalg.LinAlgError`) for an inner array that
        is not 2-D, or an end that is neither 1-D nor 2-D.
    ChainTypeError
        For arrays of two libraries that cannot be multiplied together (the
        message names both types), or ``out=`` with foreign arrays.

    See Also
    --------
    chainopt.plan_chain : plan once, explain, execute many times.

    Examples
    --------
    >>> import numpy as np
    >>> from chainopt import multi_dot
    >>> A, B, C = np.ones((10, 100)), np.ones((100, 5)), np.ones((5, 50))
    >>> multi_dot([A, B, C]).shape
    (10, 50)
    >>> float(multi_dot([np.ones(3), np.eye(3), np.ones(3)]))
    3.0
    """
    if type(arrays) is not list and type(arrays) is not tuple:
        arrays = check_sequence(arrays, "multi_dot's arrays")
    n = len(arrays)
    if out is not None:
        pass  # the general path checks out= and says what would fit
    elif (n == 2 and type(arrays[0]) is np.ndarray and type(arrays[1]) is np.ndarray
            and arrays[0].dtype.kind in NUMERIC_KINDS and arrays[1].dtype.kind in NUMERIC_KINDS):
        try:  # NumPy's multi_dot is np.dot for two arrays; so is this (no check
            # for a thin product could be cheap enough to never lose to NumPy's)
            return np.dot(arrays[0], arrays[1])
        except ValueError:
            pass  # the general path explains what does not match
    elif n == 3:
        result = _three(arrays)
        if result is not None:
            return result
    if n < 2:
        raise ChainError(f"multi_dot needs at least two arrays; got {n}")
    shapes = []
    for a in arrays:
        if not isinstance(a, np.ndarray):
            break
        shapes.append(a.shape)
    else:  # all NumPy arrays: the fast path
        return _cached_plan(tuple(shapes)).execute(*arrays, out=out)
    if foreign_library(arrays) is None:
        arrays = [as_numeric_array(a, f"array {i}") for i, a in enumerate(arrays)]
        shapes = [a.shape for a in arrays]
    else:
        arrays = [a if is_foreign(a) else np.asanyarray(a) for a in arrays]
        shapes = [known_shape(a, i) for i, a in enumerate(arrays)]
    return _cached_plan(tuple(shapes)).execute(*arrays, out=out)


def _product(a: np.ndarray, b: np.ndarray, entries: int) -> np.ndarray:
    """``np.dot`` for a small result (the least overhead), else the kernels' choice."""
    return np.dot(a, b) if entries < MATMUL_FROM else dense_product(a, b)


def _three(arrays: Sequence):
    """Three NumPy arrays multiplied directly, as numpy.linalg.multi_dot does.

    Planning three factors is one comparison (NumPy's ``_multi_dot_three``),
    cheaper than looking up a cached plan; the order is the DP's (ties go to
    ``A(BC)``). 1-D ends are promoted and the result reshaped as by a plan.
    Returns None for anything else
    (other types, ``ndim``, mismatched shapes), which the general path
    checks and explains.
    """
    a, b, c = arrays
    if not (type(a) is np.ndarray and type(b) is np.ndarray and type(c) is np.ndarray):
        return None
    if not (a.dtype.kind in NUMERIC_KINDS and b.dtype.kind in NUMERIC_KINDS
            and c.dtype.kind in NUMERIC_KINDS):
        return None  # the general path refuses what is not numbers
    first, last = a.ndim == 1, c.ndim == 1
    if b.ndim != 2 or not (first or a.ndim == 2) or not (last or c.ndim == 2):
        return None
    if first or last:
        a = a.reshape(1, -1) if first else a
        c = c.reshape(-1, 1) if last else c
    (m, k), (p, n) = a.shape, c.shape
    if k != b.shape[0] or b.shape[1] != p:
        return None
    if m * p * (k + n) < k * n * (m + p):  # cost((AB)C) < cost(A(BC))
        result = _product(_product(a, b, m * p), c, m * n)
    else:
        result = _product(a, _product(b, c, k * n), m * n)
    if first and last:
        return result[0, 0]
    return result.ravel() if first or last else result
