"""Elementwise functions with derivatives accurate in both tails.

Shared by the NumPy layers (:mod:`chainopt.jacobians.layers`) and the traced
scalars (:mod:`chainopt.graph.tracing`): each works on a float or an array
and never overflows, since it only ever exponentiates ``-|z|``.

Examples
--------
>>> float(sigmoid(0.0)), float(sigmoid_derivative(0.0)), float(sech_squared(0.0))
(0.5, 0.25, 1.0)
>>> float(sigmoid(-800.0)), float(sech_squared(800.0))
(0.0, 0.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sech_squared", "sigmoid", "sigmoid_derivative"]


def sigmoid(z: Any) -> Any:
    """``1 / (1 + exp(-z))``, without overflow for very negative ``z``."""
    e = np.exp(-np.abs(z))
    return np.where(np.asarray(z) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(z: Any) -> Any:
    """``sigmoid(z) · sigmoid(-z) = e / (1 + e)²`` with ``e = exp(-|z|)``."""
    e = np.exp(-np.abs(z))
    return e / (1.0 + e) ** 2


def sech_squared(z: Any) -> Any:
    """``1 − tanh(z)²``, accurate where ``1 − y²`` would cancel."""
    e = np.exp(-2.0 * np.abs(z))
    return 4.0 * e / (1.0 + e) ** 2
