"""Testing helpers: Jacobians checked against central finite differences.

Like autograd's ``check_grads``, these ship with the package so that users
can check their own networks (and stages) the way the test suite does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .chains import MODES, _check_network, jacobian
from .layers import Network

__all__ = ["check_jacobian", "numerical_jacobian", "relative_error"]


def numerical_jacobian(func: Callable[[np.ndarray], ArrayLike], x: ArrayLike,
                       step: float = 1e-5) -> np.ndarray:
    """Central finite differences, one column per input, ``O(step²)`` accurate.

    The step for input ``j`` is ``step · max(1, |x_j|)``.

    Examples
    --------
    >>> numerical_jacobian(lambda v: v ** 2, np.array([1.0, 3.0])).round(6)
    array([[2., 0.],
           [0., 6.]])
    """
    x = np.asarray(x, dtype=float)
    columns = []
    for j in range(x.size):
        h = step * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        columns.append((np.asarray(func(up)) - np.asarray(func(down))) / (2 * h))
    return np.stack(columns, axis=-1)


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """``‖value − reference‖ / ‖reference‖`` in the Frobenius norm (0/0 is 0)."""
    scale = np.linalg.norm(reference)
    difference = np.linalg.norm(np.asarray(value) - reference)
    return float(difference / scale) if scale else float(difference)


def check_jacobian(net: Network, x: ArrayLike, *, step: float = 1e-5, rtol: float = 1e-6) -> float:
    """Check every mode against central finite differences; return the worst error.

    Raises
    ------
    AssertionError
        If a mode's relative error (Frobenius norm) exceeds ``rtol``; the
        message names the mode. Like autograd's ``check_grads``, this is a
        testing helper.

    Examples
    --------
    >>> import chainopt
    >>> net = chainopt.mlp([4, 6, 3], activation="sigmoid", loss="softmax_cross_entropy")
    >>> check_jacobian(net, np.linspace(-1, 1, 4)) < 1e-6
    True
    """
    net = _check_network(net)
    reference = numerical_jacobian(net, net.check_input(x), step)
    worst = 0.0
    for mode in MODES:
        error = relative_error(jacobian(net, x, mode), reference)
        if not error <= rtol:
            raise AssertionError(
                f"mode {mode!r}: relative error {error:.3g} against central differences "
                f"exceeds {rtol:.3g}")
        worst = max(worst, error)
    return worst
