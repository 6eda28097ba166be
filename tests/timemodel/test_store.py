"""Model files and the cache: round trips, validation, which model applies."""

import json
import os
import warnings

import pytest

from chainopt import ChainError, ChainTypeError, plan_chain
from chainopt import timemodel as tm
from chainopt.kernels import KERNELS
from chainopt.timemodel import DEFAULT_MODEL, TimeModel, store

from .truth import TRUE_MODEL, TRUTH


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never read or write the user's real cache or model."""
    monkeypatch.setenv(store.ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(store.ENV_MODEL, raising=False)


def test_model_round_trips_through_json(tmp_path):
    path = tm.save_model(TRUE_MODEL, tmp_path / "model.json")
    again = tm.read_model(path)
    for kernel in KERNELS:
        assert again.kernels[kernel] == TRUTH[kernel]
    assert again.fingerprint == {"cpu": "synthetic"} and again.first_touch == 4e-11
    assert json.loads(path.read_text())["format"] == 2
    assert tm.model_from_dict(TRUE_MODEL.to_dict()).kernels == TRUE_MODEL.kernels
    assert sorted(os.listdir(tmp_path)) == ["model.json"]  # no temporary file left


def test_a_format_1_file_still_reads(tmp_path):
    data = TRUE_MODEL.to_dict()
    for key in ("first_touch", "fresh_from", "quality"):
        del data[key]
    for params in data["kernels"].values():
        del params["overlap"]
    data["format"] = 1
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = tm.read_model(tmp_path / "old.json")
    assert old.first_touch == 0 and old.kernels["dot"] == TRUTH["dot"]


def _damaged(edit):
    data = TRUE_MODEL.to_dict()
    edit(data)
    return data


def _set(kernel, field, value):
    return lambda data: data["kernels"][kernel].__setitem__(field, value)


DAMAGE = [
    (_set("gemm", "per_madd", float("nan")), "kernels.gemm.per_madd must be a finite"),
    (_set("gemv", "per_byte_read", -2.0), "kernels.gemv.per_byte_read must be a finite non-neg"),
    (_set("dot", "overhead", float("inf")), "got inf"),
    (_set("outer", "per_byte_written", "fast"), "kernels.outer.per_byte_written must be a fin"),
    (_set("syrk", "ramp", True), "kernels.syrk.ramp must be a finite"),
    (_set("gemm", "overhead", 10**400), "kernels.gemm.overhead must be a finite"),
    (_set("gemm", "pads", [1.0]), "kernels.gemm.pads must be a list of 3 numbers"),
    (_set("gemv", "pads", "1, 2"), "kernels.gemv.pads must be a list of 2 numbers"),
    (_set("gemm", "thin", [1.0] * 5), "kernels.gemm.thin must be a list of 0 or 7 or 14"),
    (_set("gemm", "thin", [1.0] * 13 + [0.0]), "kernels.gemm.thin[13] must be a finite pos"),
    (_set("dot", "thin", [1.0]), "kernels.dot.thin must be a list of 0 numbers"),
    (_set("diag", "speed", 1.0), "kernels.diag has unknown fields ['speed']"),
    (lambda data: data["kernels"].pop("scale"), "missing ['scale']"),
    (lambda data: data["kernels"].__setitem__("fft", {}), "unknown ['fft']"),
    (lambda data: data["kernels"].__setitem__("dot", [1, 2]), "kernels.dot must be an object"),
    (lambda data: data.__setitem__("first_touch", -1), "first_touch must be a finite"),
    (lambda data: data.__setitem__("fingerprint", "here"), "fingerprint must be an object"),
    (lambda data: data.__setitem__("format", 9), "format must be 1 or 2; got 9"),
]


@pytest.mark.parametrize("edit, fragment", DAMAGE)
def test_every_bad_field_is_named_with_the_fix(tmp_path, edit, fragment):
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(_damaged(edit)))  # NaN and Infinity as Python writes them
    with pytest.raises(ChainError) as error:
        tm.read_model(path)
    message = str(error.value)
    assert fragment in message and str(path) in message and "chainopt calibrate" in message


@pytest.mark.parametrize("content, fragment", [
    (b"[1, 2]", "got list"), (b'"model"', "got str"), (b"{}", "got no 'kernels' object"),
    (b"{not json", "not JSON"), (b"\xff\xfe{}", "not JSON"),
])
def test_files_that_are_not_models(tmp_path, content, fragment):
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(ChainError, match=fragment):
        tm.read_model(path)


def test_devices_directories_and_huge_files_are_refused_at_once(tmp_path):
    with pytest.raises(ChainError, match="'/dev/zero' is not a regular file"):
        tm.read_model("/dev/zero")
    with pytest.raises(ChainError, match="cannot read the time model"):
        tm.read_model(tmp_path)
    with pytest.raises(ChainError, match="cannot read the time model"):
        tm.read_model(tmp_path / "missing.json")
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (store.MAX_FILE_BYTES + 1))
    with pytest.raises(ChainError, match="larger than 1048576 bytes"):
        tm.read_model(huge)
    with pytest.raises(ChainTypeError, match="time_model must be a TimeModel"):
        tm.load_model(3)
    with pytest.raises(ChainError, match="needs every kernel"):
        TimeModel({"gemm": TRUTH["gemm"]})


def test_a_damaged_cache_is_ignored_with_a_warning_naming_the_fix():
    path = tm.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"kernels": {"gemm": {"per_madd": NaN}}}')
    with pytest.warns(store.CacheWarning, match="damaged time-model cache.*chainopt calibrate"):
        assert tm.load_model() is DEFAULT_MODEL
    with pytest.warns(store.CacheWarning):
        plan = plan_chain([(1536, 16), (16, 1), (1, 1024)], minimize="time")
    assert plan.time_model is DEFAULT_MODEL


def test_an_explicit_damaged_file_is_an_error(tmp_path, monkeypatch):
    path = tmp_path / "named.json"
    path.write_text(json.dumps(_damaged(_set("gemm", "per_madd", -1))))
    monkeypatch.setenv(store.ENV_MODEL, str(path))
    with pytest.raises(ChainError, match="named.json.*per_madd"):
        tm.load_model()
    monkeypatch.setenv(store.ENV_MODEL, "/dev/zero")
    with pytest.raises(ChainError, match="not a regular file"):
        plan_chain([(3, 4), (4, 5)], minimize="time")


@pytest.mark.parametrize("where", ["directory", "proc", "under a file"])
def test_unwritable_targets_are_clear_errors_and_leave_nothing(tmp_path, where):
    target = {"directory": tmp_path, "proc": "/proc/chainopt-model.json",
              "under a file": tmp_path / "file" / "model.json"}[where]
    (tmp_path / "file").write_text("a file, not a directory")
    before = sorted(os.listdir(tmp_path))
    for call in (tm.check_writable, lambda path: tm.save_model(TRUE_MODEL, path)):
        with pytest.raises(ChainError, match="cannot write the time model to"):
            call(target)
    assert sorted(os.listdir(tmp_path)) == before


def test_cache_is_keyed_by_the_fingerprint(monkeypatch):
    here = tm.fingerprint()
    model = TimeModel(TRUTH, "calibrated", here)
    path = tm.save_model(model)
    assert path.parent == tm.cache_dir() and path == tm.cache_path(here)
    assert tm.cached_model().kernels["gemm"] == TRUTH["gemm"]
    assert tm.load_model().kernels["gemm"] == TRUTH["gemm"]
    # Another thread count (or CPU, or BLAS): the calibration no longer applies.
    elsewhere = {**here, "blas": [{**lib, "threads": 64} for lib in here["blas"]]}
    monkeypatch.setattr(store, "fingerprint", lambda: elsewhere)
    assert tm.cache_path() != path
    assert tm.cached_model() is None
    assert tm.load_model() is DEFAULT_MODEL


def test_a_cache_file_from_another_machine_is_ignored():
    here = tm.fingerprint()
    stale = TimeModel(TRUTH, "calibrated", {**here, "cpu": "another CPU"})
    tm.save_model(stale, tm.cache_path(here))  # right file name, wrong content
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not damaged: no warning
        assert tm.cached_model() is None
    assert tm.load_model() is DEFAULT_MODEL


def test_which_model_applies(tmp_path, monkeypatch):
    assert tm.load_model() is DEFAULT_MODEL  # an empty cache
    path = tm.save_model(TRUE_MODEL, tmp_path / "elsewhere.json")
    assert tm.load_model(path).kernels["gemm"] == TRUTH["gemm"]
    assert tm.load_model(str(path)).source == str(path)
    monkeypatch.setenv(store.ENV_MODEL, str(path))
    assert tm.load_model().kernels["gemm"] == TRUTH["gemm"]
    assert tm.load_model(DEFAULT_MODEL) is DEFAULT_MODEL


def test_planning_by_multiplications_loads_neither_the_cache_nor_scipy():
    import subprocess
    import sys

    heavy = ("chainopt.timemodel.store", "chainopt.timemodel.fit", "scipy", "json",
             "platformdirs", "threadpoolctl")
    code = ("import sys, chainopt; chainopt.plan_chain([(3, 4), (4, 5), (5, 2)]{}); "
            f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))")
    loaded = [subprocess.run([sys.executable, "-c", code.format(extra)], capture_output=True,
                             text=True, check=True).stdout.strip()
              for extra in ("", ", minimize='time'")]
    assert loaded[0] == "[]"
    assert "chainopt.timemodel.store" in loaded[1]  # the check can see a module load
