"""``chainopt calibrate`` and the cost options of ``chainopt plan``."""

import json
import os

import pytest

from chainopt import timemodel as tm
from chainopt.cli import main
from chainopt.timemodel import DEFAULT_MODEL, TimeModel, calibrate, store
from tests.helpers import cli_error

from .truth import TRUTH


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Calibrations land in a temporary cache, never the user's."""
    monkeypatch.setenv(store.ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(store.ENV_MODEL, raising=False)


def one_line_error(capsys, argv, fragment):
    assert fragment in cli_error(capsys, *argv)


def test_quick_calibration_is_cached_for_this_machine(capsys):
    assert main(["calibrate", "--quick", "--budget", "2"]) == 0
    out = capsys.readouterr().out
    assert "Time model (calibrated (quick))" in out and "Fit (" in out and "Machine: " in out
    assert "s of the 2 s budget (measuring" in out
    path = tm.cache_path()
    assert path.exists() and f"saved: {path}" in out
    model = tm.load_model()
    assert model.source == str(path)
    assert model.fingerprint == tm.fingerprint()
    data = json.loads(path.read_text())
    assert set(data["kernels"]) == {"gemm", "syrk", "gemv", "dot", "outer", "scale", "diag"}
    assert set(data["quality"]["kernels"]) == set(data["kernels"])
    assert data["quality"]["load"]["cores"] == os.cpu_count()
    assert main(["calibrate", "--show"]) == 0
    shown = capsys.readouterr().out
    assert str(path) in shown and "calibration: " in shown


def fake_calibration(contended: bool, score: float):
    """What calibrate() returns, without measuring (the CLI's decisions are tested)."""
    def run(quick=False, budget=None, seed=0, progress=None, started=None):
        load = calibrate.MachineLoad(0.1, 2.5 if contended else 0.3,
                                     0.6 if contended else 0.0, 0.0, 2)
        quality = {"contended": contended, "score": score, "summary": "synthetic"}
        model = TimeModel(TRUTH, "calibrated", tm.fingerprint(), quality=quality)
        verdicts = {"gemm": "fitted, poor", "dot": "default"}
        return calibrate.Calibration(model, [], load, (1.0, 0.5), verdicts)
    return run


def test_a_contended_calibration_keeps_a_better_earlier_one(capsys, monkeypatch):
    earlier = TimeModel(DEFAULT_MODEL.kernels, "calibrated", tm.fingerprint(),
                        quality={"contended": False, "score": 0.08})
    path = tm.save_model(earlier)
    monkeypatch.setattr(calibrate, "calibrate", fake_calibration(True, 0.05))
    assert main(["calibrate"]) == 0
    out = capsys.readouterr().out
    assert "Machine: contended" in out and "not saved: the machine was contended" in out
    assert "earlier calibration was made on a quiet machine" in out and "--force" in out
    assert "warning: gemm is predicted poorly" in out and "note: for dot the default" in out
    assert tm.read_model(path).kernels == DEFAULT_MODEL.kernels
    assert main(["calibrate", "--force"]) == 0
    assert f"saved: {path}" in capsys.readouterr().out
    assert tm.read_model(path).kernels["gemm"] == TRUTH["gemm"]


def test_a_quiet_calibration_replaces_the_earlier_one(capsys, monkeypatch):
    path = tm.save_model(TimeModel(DEFAULT_MODEL.kernels, "calibrated", tm.fingerprint(),
                                   quality={"contended": False, "score": 0.01}))
    monkeypatch.setattr(calibrate, "calibrate", fake_calibration(False, 0.2))
    assert main(["calibrate"]) == 0
    assert f"saved: {path}" in capsys.readouterr().out


def test_calibration_to_a_file_and_planning_with_it(tmp_path, capsys, monkeypatch):
    target = tmp_path / "model.json"
    assert main(["calibrate", "--quick", "--budget", "1", "--output", str(target)]) == 0
    assert target.exists() and not tm.cache_path().exists()
    capsys.readouterr()
    monkeypatch.setenv(store.ENV_MODEL, str(target))
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
    (["calibrate", "--budget", "nan"], "between 0 and 600 seconds; got nan"),
    (["calibrate", "--budget", "soon"], "invalid float value"),
    (["calibrate", "--budget", "1e-9"], "too short to measure any shape"),
    (["plan", "3x4", "4x5", "--cost", "speed"], "minimize must be one of"),
    (["plan", "10x100", "100x5", "5x50", "--memory-limit", "40"],
     "smallest achievable largest intermediate is 50 elements"),
    (["plan", "3x4", "--memory-limit", "-1"], "must be a non-negative integer"),
])
def test_bad_options_are_one_line_errors(capsys, argv, fragment):
    one_line_error(capsys, argv, fragment)


@pytest.mark.parametrize("where", ["directory", "proc", "cache under a file"])
def test_unwritable_outputs_fail_before_measuring_and_leave_nothing(tmp_path, capsys,
                                                                   monkeypatch, where):
    (tmp_path / "file").write_text("not a directory")
    argv = {"directory": ["--output", str(tmp_path)],
            "proc": ["--output", "/proc/chainopt.json"], "cache under a file": []}[where]
    if where == "cache under a file":
        monkeypatch.setenv(store.ENV_CACHE_DIR, str(tmp_path / "file" / "cache"))
    monkeypatch.setattr(calibrate, "calibrate", lambda **_: pytest.fail("measured"))
    before = sorted(os.listdir(tmp_path))
    one_line_error(capsys, ["calibrate", *argv], "cannot write the time model to")
    assert sorted(os.listdir(tmp_path)) == before


def test_a_broken_model_file_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setenv(store.ENV_MODEL, str(broken))
    one_line_error(capsys, ["plan", "3x4", "4x5", "--cost", "time"], "cannot read the time model")
    monkeypatch.setenv(store.ENV_MODEL, "/dev/zero")
    one_line_error(capsys, ["plan", "3x4", "4x5", "--cost", "time"], "not a regular file")


def test_a_damaged_cache_warns_in_one_line_and_plans_with_the_default(capsys):
    path = tm.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 2, "kernels": []}')
    assert main(["plan", "1536x16", "16x1", "1x1024", "--cost", "time", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["time_model"] == "default"
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainopt: warning: ignored this machine's")
    assert str(path) in lines[0] and "chainopt calibrate" in lines[0]
