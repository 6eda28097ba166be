"""Elementwise rules against high-precision references."""

import numpy as np
import pytest

from chainopt.elementwise import sech_squared, tanh_with_derivative

mpmath = pytest.importorskip("mpmath")


def exact_sech_squared(z):
    return np.array([float(mpmath.sech(mpmath.mpf(float(v))) ** 2) for v in z])


def test_tanh_with_derivative_is_accurate_everywhere():
    z = np.concatenate([np.linspace(-40, 40, 4001), [4.0, 4.1, 4.2, -4.15, 360.0, -800.0]])
    value, derivative = np.empty_like(z), np.empty_like(z)
    tanh_with_derivative(z, value, derivative)
    assert np.array_equal(value, np.tanh(z))
    exact = exact_sech_squared(z)
    tiny = exact < np.finfo(float).tiny          # underflows to 0 or a subnormal
    relative = np.abs(derivative - exact)[~tiny] / exact[~tiny]
    assert relative.max() < 4.4e-13               # the bound the docstring proves
    assert np.all(np.abs(derivative[tiny] - exact[tiny]) < 1e-300)
    np.testing.assert_allclose(derivative, sech_squared(z), rtol=4.4e-13, atol=1e-300)


def test_the_cheap_formula_alone_would_cancel():
    z = np.array([19.0, 25.0])
    t = np.tanh(z)
    assert np.all(1.0 - t * t < 0.5 * exact_sech_squared(z))   # 1 − t² loses everything
    value, derivative = np.empty(2), np.empty(2)
    tanh_with_derivative(z, value, derivative)
    np.testing.assert_allclose(derivative, exact_sech_squared(z), rtol=1e-14)
