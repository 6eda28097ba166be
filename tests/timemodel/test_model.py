"""The time model: exact recovery of known parameters, the cache, which model applies."""

import dataclasses
import json

import numpy as np
import pytest

from chainopt import ChainError, ChainTypeError
from chainopt.kernels import KERNELS
from chainopt.timemodel import DEFAULT_MODEL, KernelTime, TimeModel
from chainopt.timemodel import model as tm
from chainopt.timemodel.calibrate import Measurement, calibration_grid

#: Known parameters, chosen so that every term of each kernel matters on the
#: grid (the cache knees included).
TRUTH = {
    "gemm": KernelTime(1.5e-6, 1.2e-11, 3e-11, 1.5e-10, 2e6, 3.0, 0.8, 5e6, (6.0, 12.0, 4.0),
                       (0.9, 1.4, 1.0, 1.6, 1.5, 1.7, 1.1, 0.8, 1.3, 0.9, 1.8, 1.2, 1.6, 1.0)),
    "syrk": KernelTime(4e-6, 1.5e-11, 2e-10, 3e-10, 3e6, 2.0, 0.5, 2e7, (10.0, 6.0)),
    "gemv": KernelTime(1e-6, 0.0, 2e-11, 0.0, 2.5e6, 4.0, pads=(5.0, 7.0)),
    "outer": KernelTime(9e-7, 0.0, 2e-11, 1.2e-10, 1.5e6, 2.5),
    "scale": KernelTime(1.3e-6, 0.0, 4e-11, 0.0, 2e6, 3.0),
    "dot": KernelTime(7e-7, 0.0, 2e-11),
    "diag": KernelTime(6e-7, 0.0, 1e-11),
}
TRUE_MODEL = TimeModel(TRUTH, "truth", {"cpu": "synthetic"})


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never read or write the user's real cache or model."""
    monkeypatch.setenv(tm.ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(tm.ENV_MODEL, raising=False)


def synthetic_measurements(model, grid):
    return [Measurement(kernel, m, k, n, float(model.kernels[kernel].predict(kernel, m, k, n)),
                        0.0, 0.0, 1) for kernel, m, k, n in grid]


def test_fit_recovers_known_parameters_exactly():
    measurements = synthetic_measurements(TRUE_MODEL, calibration_grid(seed=3))
    fitted = tm.fit_model(measurements, machine={"cpu": "synthetic"})
    for kernel in KERNELS:
        np.testing.assert_allclose(fitted.kernels[kernel].as_vector(),
                                   TRUTH[kernel].as_vector(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kernel", ["gemm", "outer", "scale"])
def test_fit_recovers_from_fewer_shapes(rng, kernel):
    shapes = np.array([s for k, *s in calibration_grid(seed=5) if k == kernel], dtype=float)
    chosen = rng.permutation(len(shapes))[:60]
    if kernel == "gemm":  # each thin factor needs a shape of its size and side to be seen
        rows = [np.flatnonzero((shapes[:, 0] == d) & (shapes[:, 2] >= d))[0] for d in tm.THIN]
        columns = [np.flatnonzero((shapes[:, 2] == d) & (shapes[:, 0] > d))[0] for d in tm.THIN]
        chosen = np.union1d(chosen, rows + columns)
    m, k, n = shapes[chosen].T
    seconds = TRUTH[kernel].predict(kernel, m, k, n)
    fitted = tm.fit_kernel(kernel, m, k, n, seconds)
    np.testing.assert_allclose(fitted.as_vector(), TRUTH[kernel].as_vector(), rtol=1e-5)


def test_fit_shrugs_off_disturbed_timings(rng):
    shapes = np.array([s for k, *s in calibration_grid(seed=2) if k == "gemm"], dtype=float)
    m, k, n = shapes.T
    seconds = TRUTH["gemm"].predict("gemm", m, k, n)
    disturbed = seconds.copy()
    hit = rng.choice(len(seconds), size=len(seconds) // 20, replace=False)
    disturbed[hit] += 8e-3  # a descheduled BLAS thread
    fitted = tm.fit_kernel("gemm", m, k, n, disturbed)
    error = fitted.predict("gemm", m, k, n) / seconds - 1
    assert np.median(np.abs(error)) < 0.02


def test_fit_model_keeps_defaults_for_unmeasured_kernels():
    measurements = synthetic_measurements(TRUE_MODEL, [("dot", 1, k, 1) for k in range(2, 40)])
    fitted = tm.fit_model(measurements, machine={})
    assert fitted.kernels["gemm"] == DEFAULT_MODEL.kernels["gemm"]
    np.testing.assert_allclose(fitted.kernels["dot"].as_vector(), TRUTH["dot"].as_vector())
    with pytest.raises(ChainError, match="unknown kernel 'fft'"):
        tm.fit_model([("fft", 1, 2, 3, 1.0)])
    with pytest.raises(ChainError, match="positive"):
        tm.fit_kernel("dot", [1], [2], [1], [0.0])


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

    def effective(b):
        return b + params.beyond_cache * np.maximum(b - params.cache_bytes, 0)

    compute = params.per_madd * work
    if params.ramp:
        compute = compute * (1 + params.ramp * params.ramp_work / (work + params.ramp_work))
    body = np.maximum(compute, params.per_byte_read * effective(8 * read))
    if params.thin:
        thin = params.thin * (14 // len(params.thin))
        smaller = np.minimum(m, n).astype(int)
        for size, rows_factor, columns_factor in zip(tm.THIN, thin[:7], thin[7:]):
            body = np.where(smaller == size, body * np.where(m <= n, rows_factor,
                                                             columns_factor), body)
    return params.overhead + body + params.per_byte_written * effective(8 * written)


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
        np.testing.assert_allclose(params.predict(kernel, m, k, n), expected, rtol=1e-13)
        np.testing.assert_allclose(params.predict(kernel, m.ravel(), k[:, 0], n.ravel()),
                                   expected[:, 0], rtol=1e-13)
        assert params.predict(kernel, 7, k[:3], 9).shape == (3, 30)


def test_predict_without_the_shortcut_keeps_the_formula(rng):
    # A negative pad voids the bound behind the shortcut: the plain formula runs.
    params = dataclasses.replace(TRUTH["gemm"], pads=(-1.0, 2.0, 3.0))
    m, n, k = rng.integers(2, 500, (20, 1)), rng.integers(2, 500, (20, 1)), rng.integers(
        2, 500, (20, 9))
    np.testing.assert_allclose(params.predict("gemm", m, k, n),
                               formula(params, "gemm", m, k, n), rtol=1e-13)


def test_model_round_trips_through_json(tmp_path):
    path = tm.save_model(TRUE_MODEL, tmp_path / "model.json")
    again = tm.read_model(path)
    for kernel in KERNELS:
        assert again.kernels[kernel] == TRUTH[kernel]
    assert again.fingerprint == {"cpu": "synthetic"}
    assert json.loads(path.read_text())["format"] == 1


def test_bad_models_are_clear_errors(tmp_path):
    with pytest.raises(ChainError, match="cannot read the time model"):
        tm.read_model(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"kernels": {"gemm": {"speed": 1}}}')
    with pytest.raises(ChainError, match="not a chainopt time model"):
        tm.read_model(tmp_path / "bad.json")
    with pytest.raises(ChainError, match="needs every kernel"):
        TimeModel({"gemm": TRUTH["gemm"]})
    with pytest.raises(ChainTypeError, match="time_model must be a TimeModel"):
        tm.load_model(3)


def test_cache_is_keyed_by_the_fingerprint(monkeypatch):
    here = tm.fingerprint()
    model = TimeModel(TRUTH, "calibrated", here)
    path = tm.save_model(model)
    assert path.parent == tm.cache_dir() and path == tm.cache_path(here)
    assert tm.cached_model().kernels["gemm"] == TRUTH["gemm"]
    assert tm.load_model().kernels["gemm"] == TRUTH["gemm"]
    # Another thread count (or CPU, or BLAS): the calibration no longer applies.
    elsewhere = {**here, "blas": [{**lib, "threads": 64} for lib in here["blas"]]}
    monkeypatch.setattr(tm, "fingerprint", lambda: elsewhere)
    assert tm.cache_path() != path
    assert tm.cached_model() is None
    assert tm.load_model() is DEFAULT_MODEL


def test_a_cache_file_from_another_machine_is_ignored():
    here = tm.fingerprint()
    stale = TimeModel(TRUTH, "calibrated", {**here, "cpu": "another CPU"})
    tm.save_model(stale, tm.cache_path(here))  # right file name, wrong content
    assert tm.cached_model() is None
    assert tm.load_model() is DEFAULT_MODEL


def test_which_model_applies(tmp_path, monkeypatch):
    assert tm.load_model() is DEFAULT_MODEL  # an empty cache
    path = tm.save_model(TRUE_MODEL, tmp_path / "elsewhere.json")
    assert tm.load_model(path).kernels["gemm"] == TRUTH["gemm"]
    assert tm.load_model(str(path)).source == str(path)
    monkeypatch.setenv(tm.ENV_MODEL, str(path))
    assert tm.load_model().kernels["gemm"] == TRUTH["gemm"]
    assert tm.load_model(DEFAULT_MODEL) is DEFAULT_MODEL


def test_default_model_is_sane():
    sizes = np.array([2, 8, 64, 512, 2000])
    for kernel in KERNELS:
        params = DEFAULT_MODEL.kernels[kernel]
        times = params.predict(kernel, sizes, sizes, sizes)
        assert np.all(times > 0) and np.all(np.diff(times) > 0), kernel
        assert params.describe(kernel).startswith(f"{kernel}: overhead")
    assert "Time model (default)" in DEFAULT_MODEL.describe()


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
