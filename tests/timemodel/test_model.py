"""The time model's prediction: kernels, overlap, first touch, thin tables."""

import dataclasses

import numpy as np
import pytest

from chainopt.kernels import KERNELS
from chainopt.timemodel import DEFAULT_MODEL, FRESH_FROM, KernelTime, TimeModel

from .truth import TRUE_MODEL


def test_predict_is_vectorised_and_kernel_aware():
    m = np.array([500, 500, 1, 500, 500])
    n = np.array([500, 1, 1, 500, 500])
    gram = np.array([False, False, False, True, False])
    left_diagonal = np.array([False, False, False, False, True])
    times = DEFAULT_MODEL.predict(m, 500, n, left_diagonal, False, gram)
    singles = [DEFAULT_MODEL.step_time(int(a), 500, int(b), bool(d), False, bool(g))
               for a, b, d, g in zip(m, n, left_diagonal, gram)]
    np.testing.assert_allclose(times, singles)
    gemm, gemv, dot, syrk, scale = times
    assert dot < gemv < gemm and scale < gemm and syrk < gemm


def test_default_model_is_sane():
    sizes = np.array([2, 8, 64, 512, 2000])
    for kernel in KERNELS:
        params = DEFAULT_MODEL.kernels[kernel]
        times = params.predict(kernel, sizes, sizes, sizes)
        assert np.all(times > 0) and np.all(np.diff(times) > 0), kernel
        assert params.describe(kernel).startswith(f"{kernel}: overhead")
    assert "Time model (default)" in DEFAULT_MODEL.describe()


def test_writing_overlaps_the_body_as_a_norm():
    plain = KernelTime(0.0, 1e-11, per_byte_written=1e-10, pads=(0.0, 0.0, 0.0))
    body = plain.predict("gemm", 300, 40, 500) - 8 * 300 * 500 * 1e-10
    writing = 8 * 300 * 500 * 1e-10
    for overlap, expected in [(0.0, body + writing), (1.0, np.hypot(body, writing)),
                              (50.0, max(body, writing))]:
        kernel = dataclasses.replace(plain, overlap=overlap)
        np.testing.assert_allclose(kernel.predict("gemm", 300, 40, 500), expected, rtol=2e-2)
    assert "writes overlap as a 2-norm" in dataclasses.replace(plain, overlap=1.0).describe("gemm")


def test_first_touch_is_paid_by_results_from_fresh_from_on():
    model = TimeModel(TRUE_MODEL.kernels, first_touch=5e-11)
    side = int(np.sqrt(FRESH_FROM / 8))  # a square result of exactly FRESH_FROM bytes
    for kernel, (m, k, n) in [("gemm", (side, 16, side)), ("outer", (side, 1, side)),
                              ("scale", (side, side, side))]:
        below, at = (model.kernel_time(kernel, m - d, k, n) -
                     model.kernels[kernel].predict(kernel, m - d, k, n) for d in (1, 0))
        assert below == 0 and at == pytest.approx(5e-11 * FRESH_FROM, rel=1e-9)
    diagonal = model.predict(side, side, side, left_diagonal=True, right_diagonal=True)
    assert diagonal == model.kernels["diag"].predict("diag", side, side, side)  # a small result
    assert "first touch of a fresh result (from 32 MiB)" in model.describe()


def test_thin_factors_scale_products_by_their_smaller_outer_dimension():
    plain = KernelTime(0.0, 1e-11, pads=(0.0, 0.0, 0.0))
    rows, columns = (1.0, 2.0, 0.5, 1.0, 1.0, 1.0, 3.0), (4.0, 5.0, 6.0, 1.0, 1.0, 1.0, 7.0)
    table = dataclasses.replace(plain, thin=rows + columns)
    m = np.array([3, 4, 3, 8, 9, 1, 500, 700, 4])
    n = np.array([500, 500, 2, 700, 700, 500, 3, 8, 4])
    ratio = table.predict("gemm", m, 400, n) / plain.predict("gemm", m, 400, n)
    # few rows (m <= n) read the first table, few columns (n < m) the second
    np.testing.assert_allclose(ratio, [2.0, 0.5, 4.0, 3.0, 1.0, 1.0, 5.0, 7.0, 0.5])
    assert "thin rows 2: 1×, 3: 2×, 4: 0.5×" in table.describe("gemm")
    assert "thin columns 2: 4×, 3: 5×" in table.describe("gemm")


def test_vectors_round_trip():
    for kernel, params in TRUE_MODEL.kernels.items():
        pads = len(params.pads)
        again = KernelTime.from_vector(params.as_vector(), pads)
        np.testing.assert_allclose(again.as_vector(), params.as_vector(), rtol=1e-15)
        assert (again.pads, again.overlap) == (params.pads, params.overlap), kernel
