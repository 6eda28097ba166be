"""Reports under OS errors, damaged files and load; the claims a headline may make."""

import dataclasses
import errno
import json
import os
import time

import pandas as pd
import pytest

from chainopt import machine as load
from chainopt.bench import claims, reports
from chainopt.bench.runner import (
    MAX_REPEATS,
    rebuild_reports,
    run_experiment,
    settings_for,
)
from chainopt.cli import main
from chainopt.errors import ChainError
from tests.bench.test_runner import Calls, quick, toy_experiment
from tests.helpers import cli_error


def _run(out, settings=None, **options):
    experiment = toy_experiment(Calls())
    return run_experiment(experiment, settings or quick(), out, progress=False, **options)


# -- OS errors ----------------------------------------------------------------
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_output_directory_is_a_report_error(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(reports.ReportError, match="cannot write .*toy.csv: Permission"):
            _run(out)
    finally:
        out.chmod(0o700)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EPERM, errno.EACCES, errno.ENOSPC])
def test_os_errors_of_any_kind_leave_the_old_file_and_no_temporary(tmp_path, monkeypatch, code):
    _run(tmp_path)
    before = (tmp_path / "toy.csv").read_bytes()
    real = os.fsync

    def failing(fd):  # the data went to the temporary file, then the disk said no
        real(fd)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(reports.ReportError, match=os.strerror(code)) as info:
        reports.write_csv(tmp_path, "toy", toy_experiment(Calls()).columns, [])
    fix = "free some space" if code == errno.ENOSPC else "choose a writable directory"
    assert fix in str(info.value)
    assert (tmp_path / "toy.csv").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_after_a_full_disk_the_csv_holds_only_whole_rows(tmp_path, monkeypatch):
    calls = Calls()
    experiment = toy_experiment(calls)
    real = reports._replace
    writes = []

    def disk_fills_on_the_third_write(path, write, binary):
        writes.append(path.name)
        if path.name == "toy.csv" and writes.count("toy.csv") == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, write, binary)

    monkeypatch.setattr(reports, "_replace", disk_fills_on_the_third_write)
    with pytest.raises(reports.ReportError, match="ENOSPC"):
        run_experiment(experiment, quick(), tmp_path, progress=False)
    header, rows = reports.read_csv(tmp_path / "toy.csv")
    assert header == [c.name for c in experiment.columns]
    assert len(rows) == 2 and all(None not in row and None not in row.values() for row in rows)
    assert (tmp_path / "toy.csv").read_bytes().endswith(b"\n")
    assert reports.read_meta(tmp_path, "toy")["status"] == "interrupted"


def test_the_cli_turns_a_full_disk_into_one_line(tmp_path, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reports, "_replace", full)
    assert main(["experiment", "gram", "--quick", "--out", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()  # stdout said what it started
    assert len(lines) == 1 and lines[0].startswith("chainopt: error: cannot write")
    assert "No space left on device (ENOSPC); free some space" in lines[0]


# -- damaged files ------------------------------------------------------------
def test_a_csv_with_invalid_utf8_is_one_line_for_report_and_resume(tmp_path, capsys):
    _run(tmp_path)
    (tmp_path / "toy.csv").write_bytes(b"n,label\n\xff\xfe,\x80\n")
    with pytest.raises(ChainError, match="not a readable UTF-8 CSV.*without --resume"):
        reports.load_frame(tmp_path, toy_experiment(Calls()))
    with pytest.raises(ChainError, match="not a readable UTF-8 CSV.*without --resume"):
        _run(tmp_path, resume=True)
    from chainopt.experiments import discover

    gram = discover()["gram"]
    (tmp_path / "gram.csv").write_bytes(b"\xff\xfe\x00garbage")
    line = cli_error(capsys, "report", "--out", str(tmp_path))
    assert "gram.csv is not a readable UTF-8 CSV" in line and "without --resume" in line
    line = cli_error(capsys, "experiment", "gram", "--quick", "--resume",
                          "--out", str(tmp_path))
    assert "gram.csv is not a readable UTF-8 CSV" in line
    assert gram.name == "gram"


@pytest.mark.parametrize("text", ["[1, 2]", '"a string"', "3", "null", "{", "\xff",
                                  '{"settings": [1], "environment": "x", "load": 5}',
                                  '{"settings": {"warmup": "x", "min_sample_s": null, '
                                  '"sizes": 7, "repeats": [1]}, "status": 3}'])
def test_a_json_of_any_shape_never_stops_a_report(tmp_path, text):
    _run(tmp_path)
    (tmp_path / "toy.json").write_text(text, encoding="utf-8", errors="surrogateescape")
    meta = reports.read_meta(tmp_path, "toy")
    assert isinstance(meta, dict)
    for key in ("settings", "environment", "load"):
        assert isinstance(meta.get(key, {}), dict)
    assert reports.write_report(toy_experiment(Calls()), tmp_path) == "8 rows measured."
    assert "## Method" in (tmp_path / "toy.md").read_text()


def test_a_damaged_report_of_another_experiment_does_not_stop_a_healthy_run(tmp_path):
    from chainopt.experiments import discover

    registry = dict(discover())
    (tmp_path / "gram.csv").write_bytes(b"\xff\xfe")
    (tmp_path / "orders.csv").write_text(",".join(c.name for c in registry["orders"].columns)
                                         + "\n" + "x," * 20 + "\n")
    (tmp_path / "orders.json").write_text("[]")
    (tmp_path / "planner.json").write_text('"string"')
    toy = toy_experiment(Calls())
    registry["toy"] = toy
    summary = run_experiment(toy, quick(), tmp_path, progress=False, registry=registry)
    assert summary.headline.endswith("8 rows measured.")
    index = (tmp_path / "README.md").read_text()
    assert "[toy](toy.md)" in index and index.count("Not readable") == 2


# -- settings -----------------------------------------------------------------
@pytest.mark.parametrize("argv, fragment", [
    (["experiment", "multidot", "--repeats", str(10**30)], "--repeats must be at most 1,000"),
    (["experiment", "multidot", "--repeats", "100000000"], "--repeats must be at most 1,000"),
    (["run", "--repeats", "1001"], "--repeats must be at most 1,000"),
    (["run", "--threads", "0"], "--threads: must be a positive integer"),
    (["experiment", "gram", "--threads", "100000"], "--threads must be at most 256"),
])
def test_counts_are_bounded(capsys, argv, fragment):
    assert fragment in cli_error(capsys, *argv)


def test_resume_refuses_mixed_repeats_and_threads(tmp_path):
    _run(tmp_path)
    for change in ({"repeats": 3}, {"threads": 1}):
        settings = dataclasses.replace(quick(), **change)
        option = next(iter(change))
        with pytest.raises(ChainError, match=f"measured with {option}="):
            _run(tmp_path, settings, resume=True)
    assert MAX_REPEATS == 1000


def test_threads_are_set_and_recorded(tmp_path):
    from threadpoolctl import threadpool_info

    before = [info["num_threads"] for info in threadpool_info()]
    toy = toy_experiment(Calls())
    _run(tmp_path, settings_for(toy, quick=True, threads=1))
    meta = reports.read_meta(tmp_path, "toy")
    assert meta["settings"]["threads"] == 1 and meta["environment"]["blas_threads"] == 1
    assert [info["num_threads"] for info in threadpool_info()] == before  # restored
    assert "--threads 1" in (tmp_path / "toy.md").read_text()


def test_off_a_terminal_each_case_prints_one_progress_line(tmp_path, capsys):
    run_experiment(toy_experiment(Calls()), quick(), tmp_path)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"toy: case {i}/4" for i in range(1, 5)]
    assert "n=2, label=n2" in lines[0]


# -- load and the headline ------------------------------------------------------
def test_a_child_process_counts_as_the_runs_own_cpu_not_as_other_jobs():
    """A Dask LocalCluster's workers are ours: their CPU must not read as contention."""
    import subprocess
    import sys

    before = load.snapshot()
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nend = time.process_time() + 1.5\n"
                              "while time.process_time() < end: pass\n"
                              "time.sleep(60)"])
    try:
        deadline = time.monotonic() + 30
        while load._live_descendants_cpu_s() < 1.2 and time.monotonic() < deadline:
            time.sleep(0.05)
        alive = load.own_cpu_s() - before.own_cpu_s
        assert alive >= 1.2  # the live child's CPU, read from /proc
    finally:
        child.kill()
        child.wait()
    assert load.own_cpu_s() - before.own_cpu_s >= 1.2  # and once reaped, from os.times


@pytest.mark.idle_tail  # the runner's real window (tests/bench/conftest.py)
def test_every_report_records_the_load(tmp_path):
    _run(tmp_path)
    record = reports.read_meta(tmp_path, "toy")["load"]
    assert set(record) >= {"cores", "load_before", "load_after", "steal_percent",
                           "other_cores", "own_cpu_s", "wall_s", "contended"}
    assert len(record["load_before"]) == 3 and record["cores"] == os.cpu_count()
    if record["other_cores"] is not None:  # /proc/stat: a short run sleeps out the window
        assert record["judged_over_s"] >= max(load.JUDGE_WINDOW_S, record["wall_s"])
    assert "## Machine load" in (tmp_path / "toy.md").read_text()


def test_a_contended_headline_says_so_first(tmp_path):
    _run(tmp_path)
    meta = reports.read_meta(tmp_path, "toy")
    meta["load"] = {"cores": 2, "other_cores": 1.4, "steal_percent": 0.0,
                    "load_before": [3.0, 2, 1], "load_after": [3.5, 2, 1]}
    (tmp_path / "toy.json").write_text(json.dumps(meta))
    text = reports.write_report(toy_experiment(Calls()), tmp_path)
    assert text.startswith("Measured under contention (other jobs held 1.4 of 2 cores")
    meta["load"] = {"cores": 2, "other_cores": 0.1, "steal_percent": 0.0}
    (tmp_path / "toy.json").write_text(json.dumps(meta))
    assert reports.write_report(toy_experiment(Calls()), tmp_path) == "8 rows measured."


@pytest.mark.parametrize("record, contended", [
    ({"cores": 2, "other_cores": 0.6}, True),
    ({"cores": 2, "other_cores": 0.4, "steal_percent": 1.0}, False),
    ({"cores": 2, "other_cores": 0.1, "steal_percent": 12.0}, True),
    ({"cores": 2, "other_cores": None, "load_before": [1.6, 0, 0], "load_after": [0, 0, 0]},
     True),
    ({"cores": 2, "other_cores": None, "load_before": [1.4, 0, 0], "load_after": [1.2, 0, 0]},
     False),
    ({"cores": 2}, False),
])
def test_contention_rules(record, contended):
    assert load.is_contended(record) is contended
    assert bool(load.contention_note(record)) is contended


def test_proc_stat_is_read_where_it_exists(tmp_path):
    stat_file = tmp_path / "stat"
    stat_file.write_text("cpu  100 0 50 800 50 0 0 25 0 0\ncpu0 1 2 3\n")
    busy, steal = load._proc_stat(str(stat_file))
    tick = os.sysconf("SC_CLK_TCK")
    assert (busy, steal) == (150 / tick, 25 / tick)
    stat_file.write_text("garbage")
    assert load._proc_stat(str(stat_file)) is None
    assert load._proc_stat(str(tmp_path / "missing")) is None


def _row(q1, median, q3):
    return {"time_q1_s": q1, "time_median_s": median, "time_q3_s": q3}


def test_a_difference_inside_the_noise_is_no_measurable_difference():
    # The case: the same bracketing "105% slower" inside overlapping quartiles.
    assert claims.difference(_row(1.0, 2.05, 3.0), _row(0.9, 1.0, 1.1)) == \
        "no measurable difference"
    assert claims.difference(_row(2.0, 2.05, 2.1), _row(0.9, 1.0, 1.1)) == "2× slower"
    assert claims.difference(_row(1.2, 1.25, 1.3), _row(0.9, 1.0, 1.1)) == "25% slower"
    frame = pd.DataFrame([_row(0.9, 1.0, 1.1)])
    assert claims.outcome(frame, _row(2.0, 2.1, 2.2)) == 1


def test_quick_runs_and_uncovered_ranges_give_no_target_verdict():
    frame = pd.DataFrame()
    frame.attrs["settings"] = {"quick": True}
    assert claims.target(frame, "faster at every n from 10 to 400", True) == ""
    frame.attrs["settings"] = {"quick": False}
    assert claims.target(frame, "x", True) == "target x: met"
    assert "not judged" in claims.target(frame, "x", True, covered=False)


def test_ratio_text_never_says_zero_times():
    assert claims.ratio_text(0.3) == "0.3×" and claims.ratio_text(0.004) == "0.004×"
    from chainopt.experiments import orders

    assert orders.ratio_text is claims.ratio_text


def test_rebuild_with_nothing_readable_is_one_error(tmp_path):
    from chainopt.experiments import discover

    (tmp_path / "gram.csv").write_text("not,the,columns\n")
    with pytest.raises(ChainError, match="gram.csv has columns"):
        rebuild_reports(discover(), tmp_path)
    assert main(["list"]) == 0


def _jacobian_frame(plan_mode, optimal, forward, reverse):
    rows = []
    for mode, (q1, median, q3) in (("forward", forward), ("reverse", reverse),
                                   ("optimal", optimal), ("optimal out=", optimal),
                                   ("hand-written", optimal)):
        rows.append({"profile": "tapering", "width": 100, "widths": "100-50-25-10",
                     "plan_mode": plan_mode, "threads": 1, "mode": mode,
                     "multiplications": 10, "bytes": 80, "time_q1_s": q1,
                     "time_median_s": median, "time_q3_s": q3, "time_cold_median_s": median})
    for mode, mults, size in (("gemm", 10**9, 0), ("copy", 0, 16 * 10**6)):
        rows.append({"profile": "ceiling", "width": 2000, "widths": "-", "plan_mode": "-",
                     "threads": 1, "mode": mode, "multiplications": mults, "bytes": size,
                     "time_q1_s": 0.01, "time_median_s": 0.01, "time_q3_s": 0.01,
                     "time_cold_median_s": 0.01})
    return pd.DataFrame(rows)


def test_jacobian_never_calls_the_same_bracketing_slower():
    from chainopt.experiments import jacobian

    # The case: the optimum is reverse mode's own bracketing, measured 105% slower.
    frame = _jacobian_frame("reverse", (2.0, 2.05, 2.1), (5.0, 5.0, 5.0), (0.9, 1.0, 1.1))
    text = jacobian.conclude(frame)
    assert "slower" not in text.split("The wrong mode")[0]
    assert "own bracketing" in text
    # A mixed optimum inside the noise of the faster mode: no measurable difference.
    frame = _jacobian_frame("mixed", (0.95, 1.05, 1.2), (5.0, 5.0, 5.0), (0.9, 1.0, 1.1))
    assert "not measurably different from the better mode" in jacobian.conclude(frame)
    frame = _jacobian_frame("mixed", (1.9, 2.0, 2.1), (5.0, 5.0, 5.0), (0.9, 1.0, 1.1))
    assert "2× slower than the better mode (target ≤ 10% slower: not met)" in \
        jacobian.conclude(frame)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM, errno.EROFS])
def test_a_directory_that_refuses_new_files_is_one_report_error(tmp_path, monkeypatch, capsys,
                                                                 code):
    # What mkstemp meets in a read-only (EACCES), immutable (chattr +i: EPERM) or
    # read-only-mounted (EROFS) directory, also when the tests run as root.
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(reports.ReportError, match=f"{os.strerror(code)}.*--out"):
        _run(tmp_path)
    assert main(["experiment", "gram", "--quick", "--out", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "choose a writable directory with --out" in lines[0]


# -- judging short runs by the run itself, not by the load average ----------------------------
def _snap(wall, busy, own, loadavg=(1.9, 2.0, 3.4)):
    """A fake reading of /proc/stat and the load average."""
    return load.Snapshot(wall, loadavg, busy, 0.0, own)


def test_a_short_quiet_run_after_a_busy_one_is_not_contended():
    # The reports/multidot.md case: a 0.66 s run, alone on the machine (busy time
    # = its own CPU), while the 1-minute load average still says 1.9 of 2 cores.
    record = load.load_record(_snap(0.0, 100.0, 5.0), _snap(0.66, 100.66, 5.66))
    assert record["other_cores"] == 0.0 and record["judged_over_s"] == 0.66
    assert record["contended"] is False and load.contention_note(record) == ""


def test_a_short_run_beside_a_busy_job_is_contended():
    record = load.load_record(_snap(0.0, 100.0, 5.0, (0.1, 0.1, 0.1)),
                              _snap(0.6, 101.2, 5.6, (0.1, 0.1, 0.1)))
    assert record["other_cores"] == 1.0 and record["contended"] is True
    assert load.contention_note(record).startswith(
        "Measured under contention (other jobs held 1 of")


def test_a_very_short_run_is_judged_over_an_idle_tail():
    # A 0.05 s run: measure_load sleeps out the window and reads /proc/stat again.
    readings = iter([_snap(0.05, 100.05, 5.05), _snap(0.5, 100.5, 5.06)])
    slept = []
    record = load.measure_load(_snap(0.0, 100.0, 5.0), now=lambda: next(readings),
                               sleep=slept.append)
    assert slept == [pytest.approx(load.JUDGE_WINDOW_S - 0.05)]
    assert record["wall_s"] == 0.05 and record["judged_over_s"] == 0.5
    assert record["other_cores"] == pytest.approx(0.88, abs=0.01)  # 0.44 s of others
    assert record["contended"] is True


def test_a_long_run_is_not_extended():
    slept = []
    record = load.measure_load(_snap(0.0, 100.0, 5.0), now=lambda: _snap(10.0, 110.0, 15.0),
                               sleep=slept.append)
    assert slept == [] and record["judged_over_s"] == 10.0 and record["contended"] is False


def test_a_reading_too_coarse_falls_back_to_the_load_average():
    record = {"cores": 2, "other_cores": 0.0, "other_cores_error": 0.8,
              "load_before": [1.9, 1, 1], "load_after": [1.8, 1, 1]}
    assert load.is_contended(record) is True
    record["load_before"] = record["load_after"] = [0.2, 0.1, 0.1]
    assert load.is_contended(record) is False


def test_without_proc_stat_the_load_average_decides():
    slept = []
    record = load.measure_load(load.Snapshot(0.0, (1.8, 1, 1), None, None, 1.0),
                               now=lambda: load.Snapshot(0.1, (1.8, 1, 1), None, None, 1.1),
                               sleep=slept.append)
    assert slept == [] and record["other_cores"] is None and record["contended"] is True


def test_reports_state_the_rule(tmp_path):
    _run(tmp_path)
    assert load.RULE in (tmp_path / "toy.md").read_text()
