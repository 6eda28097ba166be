"""Fitting: exact recovery of known parameters, robustness, deadlines, which kernel wins."""

import time

import numpy as np
import pytest

from chainopt import ChainError
from chainopt.kernels import KERNELS
from chainopt.timemodel import DEFAULT_MODEL, THIN, TimeModel, fit_kernel, fit_model
from chainopt.timemodel.calibrate import Measurement, calibration_grid, judge
from chainopt.timemodel.fit import _rows_by_kernel, kernel_errors

from .truth import TRUE_MODEL, TRUTH


def test_padded_products_are_fitted_at_the_k_they_run_with():
    grid = [("outer", 2, 1, 9), ("outer", 200, 1, 200), ("gemm", 5, 7, 9),
            ("outer", 2048, 1, 192), ("gemm", 2726, 3, 120)]  # the last two: threaded
    rows = _rows_by_kernel(synthetic_measurements(TRUE_MODEL, grid))
    assert rows["outer"][:, :3].tolist() == [[2, 1, 9]]
    assert rows["gemm"][:, :3].tolist() == [[200, 2, 200], [5, 7, 9], [2048, 3, 192],
                                            [2726, 4, 120]]


def synthetic_measurements(model, grid):
    return [Measurement(kernel, m, k, n, float(model.kernel_time(kernel, m, k, n)), 0.0, 0.0, 1)
            for kernel, m, k, n in grid]


def small_grid(seed: int, per_kernel: int = 80):
    """A sample of the full grid: each kernel's first shapes, every thin size and side,
    and the large-output shapes (where the first touch and the overlap show)."""
    grid = calibration_grid(seed=seed)
    chosen = []
    for kernel in KERNELS:
        shapes = [s for s in grid if s[0] == kernel]
        chosen += shapes[:per_kernel]
        if kernel == "gemm":
            for d in THIN:
                chosen.append(next(s for s in shapes if s[1] == d and s[3] >= d))
                chosen.append(next(s for s in shapes if s[3] == d and s[1] > d))
        chosen += [s for s in shapes if s[1] * s[3] * 8 >= 8e6][:6]
    return list(dict.fromkeys(chosen))


@pytest.fixture
def outer_unpadded(monkeypatch):
    """Every outer product predicted (and fitted) by the outer kernel's own formula."""
    monkeypatch.setattr("chainopt.timemodel.model.PAD_OUTER_FROM", (np.inf, np.inf))


@pytest.mark.parametrize("kernel", KERNELS)
def test_fit_recovers_known_parameters_exactly(kernel, outer_unpadded):
    rows = [r for r in synthetic_measurements(TRUE_MODEL, small_grid(3)) if r.kernel == kernel]
    m, k, n, seconds = (np.array([getattr(r, f) for r in rows], dtype=float)
                        for f in ("m", "k", "n", "seconds"))
    fitted = fit_kernel(kernel, m, k, n, seconds, extra=TRUE_MODEL.fresh_time(kernel, m, n),
                        )
    np.testing.assert_allclose(fitted.as_vector(), TRUTH[kernel].as_vector(),
                               rtol=1e-5, atol=1e-8)


def test_fit_model_takes_out_the_first_touch_and_keeps_defaults_for_unmeasured_kernels(
        outer_unpadded):
    sides = (2, 9, 40, 300, 1100, 2048, 3000, 4100)
    grid = [("outer", m, 1, n) for m in sides for n in sides]
    measurements = synthetic_measurements(TRUE_MODEL, grid)
    fitted = fit_model(measurements, machine={}, first_touch=TRUE_MODEL.first_touch)
    assert fitted.kernels["gemm"] == DEFAULT_MODEL.kernels["gemm"]
    np.testing.assert_allclose(fitted.kernels["outer"].as_vector(),
                               TRUTH["outer"].as_vector(), rtol=1e-5)
    assert fitted.first_touch == TRUE_MODEL.first_touch
    with pytest.raises(ChainError, match="unknown kernel 'fft'"):
        fit_model([("fft", 1, 2, 3, 1.0)])
    with pytest.raises(ChainError, match="positive"):
        fit_kernel("dot", [1], [2], [1], [0.0])


def test_fit_shrugs_off_disturbed_timings(rng):
    shapes = np.array([s for k, *s in small_grid(2) if k == "gemm"], dtype=float)
    m, k, n = shapes.T
    seconds = TRUTH["gemm"].predict("gemm", m, k, n)
    disturbed = seconds.copy()
    hit = rng.choice(len(seconds), size=len(seconds) // 20, replace=False)
    disturbed[hit] += 8e-3  # a descheduled BLAS thread
    fitted = fit_kernel("gemm", m, k, n, disturbed)
    error = fitted.predict("gemm", m, k, n) / seconds - 1
    assert np.median(np.abs(error)) < 0.02


def test_a_passed_deadline_returns_the_first_evaluated_parameters():
    m = np.array([10.0, 100, 1000, 2000, 50])
    seconds = TRUTH["dot"].predict("dot", 1, m, 1)
    fitted = fit_kernel("dot", 1, m, 1, seconds, start=TRUTH["dot"],
                        deadline=time.perf_counter() - 1)
    assert fitted == TRUTH["dot"]  # the first start is the given one, unchanged


def test_judge_keeps_the_default_where_it_predicts_better():
    grid = [("dot", 1, k, 1) for k in range(2, 200, 9)] + [("diag", m, m, m) for m in (3, 9, 40)]
    measurements = synthetic_measurements(DEFAULT_MODEL, grid)
    model, verdicts = judge(TRUE_MODEL, measurements)
    assert verdicts == {"dot": "default", "diag": "default"}
    assert model.kernels["dot"] == DEFAULT_MODEL.kernels["dot"]
    assert model.kernels["gemm"] == TRUE_MODEL.kernels["gemm"]  # not measured: left alone
    slow = [r._replace(seconds=r.seconds * 3) for r in measurements]
    assert judge(TRUE_MODEL, slow)[1]["dot"].endswith(", poor")


def test_kernel_errors_count_every_measurement():
    measurements = synthetic_measurements(TRUE_MODEL, small_grid(4, 5))
    errors = kernel_errors(TRUE_MODEL, measurements)
    assert sum(shapes for shapes, _, _ in errors.values()) == len(measurements)
    assert all(median == pytest.approx(0, abs=1e-12) for _, median, _ in errors.values())
    assert kernel_errors(TimeModel(TRUTH), []) == {}


@pytest.mark.parametrize("fitted, default, verdict", [
    ((0.048, 0.165), (0.040, 0.194), "fitted"),   # a worse median, a better tail: kept
    ((0.030, 0.300), (0.040, 0.100), "default"),  # a better median, a far worse tail
    ((0.050, 0.100), (0.040, 0.090), "default"),  # worse at both
])
def test_judge_weighs_the_tail_of_the_errors_as_well_as_the_median(monkeypatch, fitted,
                                                                   default, verdict):
    errors = iter([{"gemv": (40, *fitted)}, {"gemv": (40, *default)}])
    monkeypatch.setattr("chainopt.timemodel.calibrate.kernel_errors",
                        lambda model, measurements: next(errors))
    model, verdicts = judge(TRUE_MODEL, [])
    assert verdicts == {"gemv": verdict}
    expected = TRUE_MODEL if verdict == "fitted" else DEFAULT_MODEL
    assert model.kernels["gemv"] == expected.kernels["gemv"]
