"""A drop-in for :func:`numpy.linalg.multi_dot` that reuses its plans."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from .errors import ChainError
from .plan import Plan, plan_chain
from .validation import as_numeric_array, check_sequence

__all__ = ["multi_dot"]

#: Plans kept for repeated shape sequences.
PLAN_CACHE_SIZE = 512


@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def _cached_plan(shapes: tuple[tuple[int, ...], ...]) -> Plan:
    return plan_chain(shapes)


def multi_dot(arrays: Sequence, *, out: np.ndarray | None = None) -> np.ndarray:
    """Compute the product of two or more arrays in the cheapest order.

    Think of it as ``functools.reduce(np.dot, arrays)``, computed in the
    order chosen by :func:`chainopt.plan_chain`. It is a drop-in for
    :func:`numpy.linalg.multi_dot`: the same results, the same 1-D end
    semantics (a 1-D first array is a row vector, a 1-D last array a column
    vector) and the same return shapes. Plans are cached by the sequence of
    shapes, so repeated calls on same-shaped chains only multiply.

    Parameters
    ----------
    arrays : sequence of array_like
        At least two arrays; all but the first and last must be 2-D.
    out : ndarray, optional
        As for :func:`numpy.linalg.multi_dot`: the 2-D result, C-contiguous
        and of the dtype ``dot`` would return.

    Returns
    -------
    ndarray
        The product (1-D or 0-D when the ends are vectors).

    Raises
    ------
    ChainError
        Fewer than two arrays, or arrays that cannot be chained (the message
        names the position and both shapes).

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
    arrays = check_sequence(arrays, "multi_dot's arrays")
    if len(arrays) < 2:
        raise ChainError(f"multi_dot needs at least two arrays; got {len(arrays)}")
    arrays = [as_numeric_array(a, f"array {i}") for i, a in enumerate(arrays)]
    shapes = tuple(a.shape for a in arrays)
    return _cached_plan(shapes).execute(*arrays, out=out)
