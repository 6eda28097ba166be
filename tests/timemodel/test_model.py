"""The time model's prediction: kernels, overlap, first touch, thin tables."""

import dataclasses
import math

import numpy as np
import pytest

from chainopt.kernels import KERNELS, PAD_OUTER_FROM
from chainopt.timemodel import DEFAULT_MODEL, FRESH_FROM, THIN, KernelTime, TimeModel
from chainopt.timemodel.model import SMALL_WORK

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
    untouched = TimeModel(TRUE_MODEL.kernels)
    side = int(np.sqrt(FRESH_FROM / 8))  # a square result of exactly FRESH_FROM bytes
    for kernel, (m, k, n) in [("gemm", (side, 16, side)), ("outer", (side, 1, side)),
                              ("scale", (side, side, side))]:
        below, at = (model.kernel_time(kernel, m - d, k, n) -
                     untouched.kernel_time(kernel, m - d, k, n) for d in (1, 0))
        assert below == 0 and at == pytest.approx(5e-11 * FRESH_FROM, rel=1e-9)
    diagonal = model.predict(side, side, side, left_diagonal=True, right_diagonal=True)
    assert diagonal == model.kernels["diag"].predict("diag", side, side, side)  # a small result
    assert "first touch of a fresh result (from 32 MiB)" in model.describe()


def test_large_outer_products_are_predicted_as_the_gemm_they_run_as():
    model = TimeModel(TRUE_MODEL.kernels, first_touch=5e-11)
    side = np.sqrt(PAD_OUTER_FROM[0])
    m = np.array([2.0, side - 1, side, 3000, 9000])
    n = np.array([PAD_OUTER_FROM[0] / 2 - 1, side - 1, side, 3000, 9000])
    padded = m * n >= PAD_OUTER_FROM[0]
    assert padded.tolist() == [False, False, True, True, True]
    found = model.kernel_time("outer", m, 1, n)
    expected = np.where(padded, model.kernel_time("gemm", m, 2, n),
                        model.kernels["outer"].predict("outer", m, 1, n)
                        + model.fresh_time("outer", m, n))
    np.testing.assert_allclose(found, expected, rtol=1e-12)
    assert model.step_time(3000, 1, 3000) == pytest.approx(model.step_time(3000, 2, 3000))


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


def formula(params, kernel, m, k, n):
    """The module's formula, term by term, on broadcast arrays (the reference)."""
    m, k, n = np.broadcast_arrays(*(np.asarray(d, dtype=float) for d in (m, k, n)))
    pads, zero = params.pads, np.zeros(m.shape)
    work = {"gemm": lambda: (m + pads[0]) * (k + pads[1]) * (n + pads[2]),
            "syrk": lambda: 0.5 * (m + pads[0]) ** 2 * (k + pads[1])}.get(kernel, lambda: zero)()
    read = {"gemm": m * k + k * n, "syrk": m * k, "outer": m + n, "dot": 2 * k,
            "scale": 2 * m * n + k, "diag": 3 * m}.get(kernel)
    if kernel == "gemv":
        read = (np.maximum(m, n) + pads[0]) * (k + pads[1])
    written = {"gemm": m * n, "outer": m * n, "syrk": m * m}.get(kernel, zero)

    def effective(b, knee, beyond):
        return b + beyond * np.maximum(b - knee, 0)

    compute = params.per_madd * work
    if params.ramp:
        compute = compute * (1 + params.ramp * params.ramp_work / (work + params.ramp_work))
    memory = params.per_byte_read * effective(8 * read, params.cache_bytes, params.beyond_cache)
    if params.read_norm:  # a GEMM's operands each against the cache, the left one weighted
        weight = np.where(np.minimum(m, n) <= THIN[-1], 1.0, 1 + params.left_read)
        memory = params.per_byte_read * (
            weight * effective(8 * m * k, params.cache_bytes, params.beyond_cache)
            + effective(8 * k * n, params.cache_bytes, params.beyond_cache))
        body = (compute ** params.read_norm + memory ** params.read_norm) ** (1 / params.read_norm)
    else:
        body = np.maximum(compute, memory)
    if kernel == "gemv":  # x @ A against A @ x
        body = body * np.where(m == 1, 1 + params.row_vector, 1.0)
    smaller = np.minimum(m, n).astype(int)
    side = len(THIN)
    for size, rows_factor, columns_factor in zip(THIN, params.thin[:side], params.thin[side:]):
        body = np.where(smaller == size, body * np.where(m <= n, rows_factor, columns_factor),
                        body)
    writing = params.per_byte_written * effective(8 * written, params.write_cache_bytes,
                                                  params.write_beyond_cache)
    if kernel == "gemm":  # BLAS's one-thread small-matrix path
        writing = writing * np.where(m * k * n <= SMALL_WORK, 1 + params.small_write, 1.0)
    q = 1 + params.overlap
    return params.overhead + (body ** q + writing ** q) ** (1 / q)


@pytest.mark.parametrize("model", [DEFAULT_MODEL, TRUE_MODEL], ids=["default", "truth"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_predict_follows_the_formula_on_planner_blocks(model, kernel, rng):
    # The DP passes a column of m and n against a block of k; the prediction
    # forms row factors first and skips the memory term on rows it provably
    # cannot win, which must change nothing beyond rounding.
    params = model.kernels[kernel]
    for low, high in [(1, 12), (1, 3000), (40, 100_000)]:
        m, n = (rng.integers(low, high, (50, 1)) for _ in range(2))
        k = rng.integers(low, high, (50, 30))
        expected = formula(params, kernel, m, k, n)
        np.testing.assert_allclose(params.predict(kernel, m, k, n), expected, rtol=1e-12)
        np.testing.assert_allclose(params.predict(kernel, m.ravel(), k[:, 0], n.ravel()),
                                   expected[:, 0], rtol=1e-12)
        assert params.predict(kernel, 7, k[:3], 9).shape == (3, 30)


def test_predict_without_the_shortcut_keeps_the_formula(rng):
    # A negative pad voids the bound behind the shortcut: the plain formula runs.
    params = dataclasses.replace(TRUE_MODEL.kernels["gemm"], pads=(-1.0, 2.0, 3.0))
    m, n, k = rng.integers(2, 500, (20, 1)), rng.integers(2, 500, (20, 1)), rng.integers(
        2, 500, (20, 9))
    np.testing.assert_allclose(params.predict("gemm", m, k, n),
                               formula(params, "gemm", m, k, n), rtol=1e-12)


def test_a_row_vector_times_a_matrix_reads_at_its_own_rate():
    # BLAS runs x @ A (a sum of scaled rows) and A @ x (dot products) apart.
    gemv = TRUE_MODEL.kernels["gemv"]
    assert gemv.predict("gemv", 1, 500, 800) > 1.2 * gemv.predict("gemv", 800, 500, 1)
    plain = dataclasses.replace(gemv, row_vector=0.0)
    assert plain.predict("gemv", 1, 500, 800) == plain.predict("gemv", 800, 500, 1)
    assert "x @ A takes 1.3× the time of A @ x" in gemv.describe("gemv")


@pytest.mark.parametrize("threads", [1, 2])
def test_products_are_predicted_at_the_k_they_run_with(monkeypatch, threads):
    from chainopt import kernels

    monkeypatch.setattr(kernels, "padding_threads", lambda: threads)
    gemm = TRUE_MODEL.kernels["gemm"]
    for kernel, (m, k, n), padded in [("gemm", (2726, 3, 120), 4), ("outer", (2048, 1, 192), 3),
                                      ("outer", (300, 1, 200), 2), ("gemm", (512, 2, 512), 2)]:
        runs = padded if threads > 1 else max(k, 2)
        assert kernels.inner_dimension(m, k, n) == runs
        expected = gemm.predict("gemm", m, runs, n)
        assert TRUE_MODEL.kernel_time(kernel, m, k, n) == pytest.approx(expected, rel=1e-12)
        column = TRUE_MODEL.kernel_time(kernel, np.array([[m], [7]]), np.full((2, 3), k),
                                        np.array([[n], [9]]))
        assert column[0] == pytest.approx(np.full(3, expected), rel=1e-12)


def test_a_thin_gemms_operands_are_read_alike():
    # The left operand's extra weight holds for full GEMMs, not for thin ones.
    gemm = TRUE_MODEL.kernels["gemm"]
    assert gemm.left_read > 0.5
    def read(m, k, n):
        return gemm._memory("gemm", m, k, n)
    assert read(3, 4000, 500) == pytest.approx(read(500, 4000, 3), rel=1e-12)
    assert read(500, 4000, 20) > 1.3 * read(20, 4000, 500)


def test_a_gemm_on_the_small_path_writes_at_its_own_rate():
    # OpenBLAS runs m·k·n <= SMALL_WORK on one thread: a large result then writes slowly.
    gemm = TRUE_MODEL.kernels["gemm"]
    plain = dataclasses.replace(gemm, small_write=0.0)
    small, threaded = (2726, 3, 120), (2726, 4, 120)
    assert math.prod(small) <= SMALL_WORK < math.prod(threaded)
    assert gemm.predict("gemm", *small) > 1.3 * plain.predict("gemm", *small)
    assert gemm.predict("gemm", *threaded) == plain.predict("gemm", *threaded)
    assert gemm.predict("gemm", *small) > gemm.predict("gemm", *threaded)
    assert "writes 1.8× slower on the small path (≤ 1M multiply-adds)" in gemm.describe("gemm")
    slope, offset = gemm.gemm_ceiling(2726.0, 120.0)
    assert slope * (3 + gemm.pads[1]) + offset >= gemm.predict("gemm", *small)


def test_a_gemm_overlaps_reading_with_the_arithmetic_in_part():
    gemm = TRUE_MODEL.kernels["gemm"]
    maximum = dataclasses.replace(gemm, read_norm=0.0, left_read=0.0)
    shape = (2000, 2000, 40)  # a 32 MB left operand streamed once for 40 columns
    assert gemm.predict("gemm", *shape) > maximum.predict("gemm", *shape)
    # the left operand, packed and streamed, costs more than the right one
    assert gemm.predict("gemm", 40, 2000, 2000) < gemm.predict("gemm", 2000, 2000, 40)
    assert maximum.predict("gemm", 40, 2000, 2000) == maximum.predict("gemm", 2000, 2000, 40)
    assert "reads overlap the arithmetic as a 1.8-norm" in gemm.describe("gemm")
