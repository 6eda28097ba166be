"""Reports: atomic CSVs, dtypes, Markdown with the environment, plots, index."""

import csv
import os
import re
import stat

import numpy as np
import pytest

from chainopt.bench import reports
from chainopt.bench.runner import run_experiment
from chainopt.errors import ChainError
from tests.bench.test_runner import Calls, quick, toy_experiment

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def measured(tmp_path):
    """A directory with the toy experiment measured into it."""
    experiment = toy_experiment(Calls())
    run_experiment(experiment, quick(sizes=(2, 3)), tmp_path, progress=False)
    return tmp_path, experiment


def test_csv_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    columns = toy_experiment(Calls()).columns
    row = {c.name: "1" for c in columns}
    reports.write_csv(tmp_path, "toy", columns, [row])
    before = (tmp_path / "toy.csv").read_bytes()

    def broken(self, rows):
        self.writerow(row)  # part of the output, then a crash
        raise OSError("disk full")

    monkeypatch.setattr(csv.DictWriter, "writerows", broken)
    with pytest.raises(reports.ReportError, match="cannot write .*toy.csv: disk full"):
        reports.write_csv(tmp_path, "toy", columns, [row, row, row])
    assert (tmp_path / "toy.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.csv"]  # no temp file left


def test_files_get_the_usual_permissions(measured):
    out, _ = measured
    mask = os.umask(0)
    os.umask(mask)
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path.name


def test_load_frame_gives_the_declared_dtypes(measured):
    out, experiment = measured
    frame = reports.load_frame(out, experiment)
    expected = {"int": np.int64, "float": np.float64}
    for column in experiment.columns:
        if column.dtype in expected:
            assert frame[column.name].dtype == expected[column.dtype], column.name
        else:
            assert frame[column.name].map(type).eq(str).all(), column.name
    assert len(frame) == 4


def test_load_frame_rejects_a_foreign_csv(tmp_path):
    (tmp_path / "toy.csv").write_text("x,y\n1,2\n")
    with pytest.raises(ChainError, match="has columns x, y; toy writes n, label"):
        reports.load_frame(tmp_path, toy_experiment(Calls()))


def test_markdown_has_headline_table_method_environment_and_columns(measured):
    out, experiment = measured
    text = (out / "toy.md").read_text()
    assert re.match(r"# toy\n\n(Measured under contention \(.*\): the times are not "
                    r"reliable\. )?4 rows measured\.\n", text)
    assert "![toy](toy.png)" in text
    assert "|   n | how    |" in text  # the pandas-rendered table
    env = reports.read_meta(out, "toy")["environment"]
    for key in ("numpy", "scipy", "blas_architecture", "blas_threads", "cpu", "date"):
        assert f"| {key} | {env[key]} |" in text
    assert "| `time_median_s` | float | median time per call, seconds |" in text
    assert "chainopt experiment toy --sizes 2,3 --repeats 2 --seed 0" in text


def test_plot_is_a_png(measured):
    out, _ = measured
    assert (out / "toy.png").read_bytes().startswith(PNG_MAGIC)


def test_index_links_every_report(measured):
    out, experiment = measured
    reports.write_index(out, {"toy": experiment, "absent": experiment})
    text = (out / "README.md").read_text()
    assert "[toy](toy.md)" in text and "[csv](toy.csv)" in text and "[plot](toy.png)" in text
    assert "4 rows measured." in text
    assert "absent" not in text  # no CSV, no line


def test_rebuild_regenerates_markdown_and_plots_from_csv(measured):
    out, experiment = measured
    for name in ("toy.md", "toy.png", "README.md"):
        (out / name).unlink()
    assert reports.rebuild(out, {"toy": experiment}) == ["toy"]
    for name in ("toy.md", "toy.png", "README.md"):
        assert (out / name).exists()


def test_rebuild_without_meta_says_the_environment_is_missing(measured):
    out, experiment = measured
    (out / "toy.json").unlink()
    reports.rebuild(out, {"toy": experiment})
    assert "Not recorded" in (out / "toy.md").read_text()


def test_rebuild_of_an_empty_directory(tmp_path):
    assert reports.rebuild(tmp_path, {"toy": toy_experiment(Calls())}) == []


def test_environment_table_escapes_pipes():
    assert "| a | x/y |" in reports.environment_table({"a": "x|y"})
