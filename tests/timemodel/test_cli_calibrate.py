"""``chainopt calibrate`` and the cost options of ``chainopt plan``."""

import json

import pytest

from chainopt.cli import main
from chainopt.timemodel import model as tm
from tests.helpers import cli_error


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Calibrations land in a temporary cache, never the user's."""
    monkeypatch.setenv(tm.ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(tm.ENV_MODEL, raising=False)


def one_line_error(capsys, argv, fragment):
    assert fragment in cli_error(capsys, *argv)


def test_quick_calibration_is_cached_for_this_machine(capsys):
    assert main(["calibrate", "--quick", "--budget", "2"]) == 0
    out = capsys.readouterr().out
    assert "Time model (calibrated (quick))" in out and "Fit (" in out
    path = tm.cache_path()
    assert path.exists() and f"saved: {path}" in out
    model = tm.load_model()
    assert model.source == str(path)
    assert model.fingerprint == tm.fingerprint()
    data = json.loads(path.read_text())
    assert set(data["kernels"]) == {"gemm", "syrk", "gemv", "dot", "outer", "scale", "diag"}
    assert main(["calibrate", "--show"]) == 0
    assert str(path) in capsys.readouterr().out


def test_calibration_to_a_file_and_planning_with_it(tmp_path, capsys, monkeypatch):
    target = tmp_path / "model.json"
    assert main(["calibrate", "--quick", "--budget", "1", "--output", str(target)]) == 0
    assert target.exists() and not tm.cache_path().exists()
    capsys.readouterr()
    monkeypatch.setenv(tm.ENV_MODEL, str(target))
    assert main(["plan", "1x500", "500x500", "500x500", "--cost", "time", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["minimized"] == "time" and plan["time_model"] == str(target)
    # A one-second model is rough: check the plan is its optimum, not which order.
    assert plan["predicted_time"] == pytest.approx(
        sum(step["predicted_time"] for step in plan["steps"]))
    assert plan["predicted_time"] <= min(plan["left_to_right_time"],
                                         plan["right_to_left_time"]) * (1 + 1e-12)


def test_plan_minimises_memory_or_respects_a_limit(capsys):
    chain = ["10x100", "100x5", "5x50"]
    assert main(["plan", *chain, "--cost", "memory"]) == 0
    out = capsys.readouterr().out
    assert "Optimised for: memory (largest intermediate 50 elements)" in out
    assert main(["plan", *chain, "--memory-limit", "60", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["memory_limit"] == 60


@pytest.mark.parametrize("argv, fragment", [
    (["calibrate", "--budget", "0"], "between 0 and 600 seconds; got 0.0"),
    (["calibrate", "--budget", "soon"], "invalid float value"),
    (["plan", "3x4", "4x5", "--cost", "speed"], "minimize must be one of"),
    (["plan", "10x100", "100x5", "5x50", "--memory-limit", "40"],
     "smallest achievable largest intermediate is 50 elements"),
    (["plan", "3x4", "--memory-limit", "-1"], "must be a non-negative integer"),
])
def test_bad_options_are_one_line_errors(capsys, argv, fragment):
    one_line_error(capsys, argv, fragment)


def test_a_broken_model_file_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setenv(tm.ENV_MODEL, str(broken))
    one_line_error(capsys, ["plan", "3x4", "4x5", "--cost", "time"], "cannot read the time model")
